//! The `fs` vault (Kong 3.15): secrets from files under a directory, as Docker and
//! Kubernetes mount them (`/run/secrets/pg-password`).
//!
//! `{vault://fs/pg-password}` reads `<prefix>/pg-password`; `{vault://fs/db/creds/password}`
//! reads the `password` field of the JSON in `<prefix>/db/creds`. One trailing newline is
//! trimmed, since files written by `echo` or editors end with one.
//!
//! The file must stay inside the prefix directory: an absolute path, a `..` component, or a
//! symbolic link that leads outside is refused ([`ErrorKind::PermissionDenied`]). Links that
//! stay inside are followed, as Kubernetes secret volumes need (`pg-password ->
//! ..data/pg-password`, `..data -> ..2024_01_01_00_00_00.1`); on Linux the kernel keeps the
//! whole resolution inside the directory (`openat2` with `RESOLVE_BENEATH`).
//!
//! Only a regular file is read: a FIFO, socket or device is refused without waiting
//! ([`ErrorKind::InvalidConfig`]), a directory is [`ErrorKind::NotFound`]. A file larger
//! than [`ResolverBuilder::max_file_size`] (1 MiB by default) is refused, not truncated
//! ([`ErrorKind::InvalidConfig`]). See [`vault::file`](super::file) for the details.
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
//! [`ErrorKind::InvalidConfig`]: crate::ErrorKind::InvalidConfig
//! [`ErrorKind::NotFound`]: crate::ErrorKind::NotFound
//! [`ResolverBuilder::max_file_size`]: crate::ResolverBuilder::max_file_size

use std::path::Path;

use zeroize::Zeroizing;

use super::{Request, Vault, VaultConfig, VaultOption, file};
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
        let resource = request.resource();
        let mut bytes = file::read_beneath(Path::new(prefix), resource, request.max_file_size())?;
        // Trimmed in place: shortening keeps the one allocation, wiped when dropped.
        if bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        // The buffer is moved, not copied, into the string; if it is not UTF-8 it comes back
        // out of the error and is wiped.
        match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(text) => Ok(Zeroizing::new(text)),
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Err(VaultError::bad_response(format!(
                    "`{resource}` is not UTF-8 text"
                )))
            }
        }
    }

    fn is_remote(&self) -> bool {
        // Files are cheap to read; asking every time sees a remounted secret at once.
        false
    }
}
