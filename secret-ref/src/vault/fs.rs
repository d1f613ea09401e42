//! The `fs` vault (Kong 3.15): secrets from files under a directory, as Docker and
//! Kubernetes mount them (`/run/secrets/pg-password`).
//!
//! `{vault://fs/pg-password}` reads `<prefix>/pg-password`; `{vault://fs/db/creds/password}`
//! reads the `password` field of the JSON in `<prefix>/db/creds`. One trailing newline is
//! trimmed, since files written by `echo` or editors end with one.
//!
//! The file must stay inside the prefix directory: an absolute path, a `..` component, or a
//! symbolic link that leads outside is refused ([`ErrorKind::PermissionDenied`]).
//!
//! | Setting (kong.conf) | Option | Meaning |
//! |---|---|---|
//! | `vault_fs_prefix` | `prefix` | the directory (required) |
//!
//! ```
//! use secret_ref::Resolver;
//!
//! let dir = std::env::temp_dir().join(format!("secret-ref-doc-fs-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(dir.join("pg-password"), "opensesame\n")?;
//!
//! let resolver = Resolver::builder()
//!     .configure("fs", "prefix", dir.to_str().unwrap())
//!     .build()?;
//! assert_eq!(resolver.get("{vault://fs/pg-password}")?.expose_secret(), "opensesame");
//! let escape = resolver.get("{vault://fs/../etc/passwd}").unwrap_err();
//! assert_eq!(escape.kind(), secret_ref::ErrorKind::PermissionDenied);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`ErrorKind::PermissionDenied`]: crate::ErrorKind::PermissionDenied

use std::io::ErrorKind as Io;
use std::path::{Component, Path};

use zeroize::Zeroizing;

use super::{Request, Vault, VaultConfig, VaultOption};
use crate::error::VaultError;

/// The file vault; registered as `fs` when the `fs` feature is on.
#[derive(Debug, Default)]
pub struct FsVault;

impl FsVault {
    /// The vault; its directory comes from the `prefix` option.
    pub fn new() -> Self {
        FsVault
    }
}

impl Vault for FsVault {
    fn options(&self) -> &'static [VaultOption] {
        // The directory decides which files are read: settings only, never a reference.
        const OPTIONS: &[VaultOption] = &[VaultOption::file("prefix")];
        OPTIONS
    }

    fn check_config(&self, config: &VaultConfig) -> Result<(), VaultError> {
        match config.get("prefix") {
            Some("") => Err(VaultError::invalid_config("`prefix` is empty")),
            _ => Ok(()),
        }
    }

    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        if let Some(v @ 2..) = request.version() {
            return Err(VaultError::not_found(format!(
                "the fs vault has no versions (#{v})"
            )));
        }
        let Some(prefix) = request.config().get("prefix") else {
            return Err(VaultError::invalid_config(
                "the fs vault needs a directory: set its `prefix` (kong.conf: vault_fs_prefix)",
            ));
        };
        let base = std::fs::canonicalize(prefix).map_err(|e| {
            VaultError::invalid_config(format!("prefix directory {prefix} cannot be used: {e}"))
        })?;
        let resource = request.resource();
        let relative = Path::new(resource);
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(VaultError::permission_denied(format!(
                "`{resource}` leaves the vault's directory (absolute paths and `..` are refused)"
            )));
        }
        let path = base.join(relative);
        // Following links, the file must still be inside the directory.
        let real = std::fs::canonicalize(&path).map_err(|e| io_error(e, resource))?;
        if !real.starts_with(&base) {
            return Err(VaultError::permission_denied(format!(
                "`{resource}` is a link that leads outside the vault's directory"
            )));
        }
        if real.is_dir() {
            return Err(VaultError::not_found(format!(
                "`{resource}` is a directory"
            )));
        }
        let bytes = Zeroizing::new(std::fs::read(&real).map_err(|e| io_error(e, resource))?);
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| VaultError::bad_response(format!("`{resource}` is not UTF-8 text")))?;
        let text = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(text);
        Ok(Zeroizing::new(text.to_owned()))
    }

    fn is_remote(&self) -> bool {
        // Files are cheap to read; asking every time sees a remounted secret at once.
        false
    }
}

fn io_error(e: std::io::Error, resource: &str) -> VaultError {
    match e.kind() {
        Io::NotFound => VaultError::not_found(format!("no file `{resource}`")),
        Io::PermissionDenied => {
            VaultError::permission_denied(format!("`{resource}` cannot be read: permission denied"))
        }
        _ => VaultError::bad_response(format!("`{resource}` cannot be read: {e}")).with_source(e),
    }
}
