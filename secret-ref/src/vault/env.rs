//! The `env` vault: secrets from environment variables, as Kong's `env` backend reads them.
//!
//! `{vault://env/pg-password}` reads `PG_PASSWORD`: the optional `prefix` is put in front,
//! `-` becomes `_`, and the name is upper-cased (ASCII only, as Lua's `upper`). `#2` reads
//! `PG_PASSWORD_PREVIOUS`, the value before a rotation. An empty variable is a valid empty
//! secret; a missing one is [`ErrorKind::NotFound`](crate::ErrorKind::NotFound).
//!
//! The environment is read once, when the first `env` reference of a resolver is resolved,
//! like Kong's snapshot at start. Besides matching Kong, this is what makes it fast: reading
//! a variable with `std::env::var` scans the whole environment each time.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use hashbrown::{DefaultHashBuilder, HashTable};

use zeroize::Zeroizing;

use super::{Request, Vault, VaultConfig, VaultOption};
use crate::error::VaultError;

/// The environment-variable vault. [`Resolver::new`](crate::Resolver::new) registers it as
/// `env`.
///
/// ```
/// use secret_ref::Resolver;
/// use secret_ref::vault::env::EnvVault;
///
/// // A fixed environment, for tests that should not touch the process's.
/// let env = EnvVault::from_vars([("SECRETS_PG_PASSWORD", "opensesame")]);
/// let resolver = Resolver::builder()
///     .vault("env", env)
///     .configure("env", "prefix", "secrets-")
///     .build()?;
/// assert_eq!(resolver.get("{vault://env/pg-password}")?.expose_secret(), "opensesame");
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub struct EnvVault {
    source: VarSource,
    snapshot: OnceLock<Snapshot>,
}

enum VarSource {
    Process,
    Fixed(Vec<(String, Zeroizing<String>)>),
}

/// The environment at one moment, indexed. All names and values sit back to back in one
/// buffer (zeroized on drop), and the table holds their positions, so taking a snapshot of
/// 10,000 variables costs a few allocations and a hash per variable, not two allocations
/// per variable as `std::env::vars` would.
struct Snapshot {
    buf: Zeroizing<Vec<u8>>,
    table: HashTable<Var>,
    hasher: DefaultHashBuilder,
}

/// A variable in [`Snapshot::buf`]: its name is `start..value`, its value `value..end`.
struct Var {
    start: u32,
    value: u32,
    end: u32,
}

impl Snapshot {
    /// `count` and `bytes` size the table and buffer up front, so that neither is copied
    /// while growing.
    fn build(count: usize, bytes: usize, each: impl FnOnce(&mut dyn FnMut(&[u8], &[u8]))) -> Self {
        let mut snapshot = Snapshot {
            buf: Zeroizing::new(Vec::with_capacity(bytes)),
            table: HashTable::with_capacity(count),
            hasher: DefaultHashBuilder::default(),
        };
        each(&mut |name, value| snapshot.insert(name, value));
        snapshot
    }

    fn insert(&mut self, name: &[u8], value: &[u8]) {
        if self.buf.len() + name.len() + value.len() > u32::MAX as usize {
            return;
        }
        let hash = self.hasher.hash_one(name);
        let Snapshot { buf, table, hasher } = self;
        // As getenv, the first of duplicate names wins.
        if table.find(hash, |e| name_of(buf, e) == name).is_some() {
            return;
        }
        let start = buf.len() as u32;
        buf.extend_from_slice(name);
        let value_start = buf.len() as u32;
        buf.extend_from_slice(value);
        table.insert_unique(
            hash,
            Var {
                start,
                value: value_start,
                end: buf.len() as u32,
            },
            |e| hasher.hash_one(name_of(buf, e)),
        );
    }

    fn get(&self, name: &[u8]) -> Option<&[u8]> {
        let hash = self.hasher.hash_one(name);
        self.table
            .find(hash, |e| name_of(&self.buf, e) == name)
            .map(|e| &self.buf[e.value as usize..e.end as usize])
    }
}

fn name_of<'a>(buf: &'a [u8], e: &Var) -> &'a [u8] {
    &buf[e.start as usize..e.value as usize]
}

/// The process environment, copied by std under its environment lock, so that a
/// `set_var` in another thread cannot race with the copy. The values are wiped as soon as
/// they are in the snapshot.
fn process_snapshot() -> Snapshot {
    let vars: Vec<(std::ffi::OsString, std::ffi::OsString)> = std::env::vars_os().collect();
    let bytes = vars.iter().map(|(k, v)| k.len() + v.len()).sum();
    let snapshot = Snapshot::build(vars.len(), bytes, |f| {
        for (name, value) in &vars {
            f(name.as_encoded_bytes(), value.as_encoded_bytes());
        }
    });
    for (_, value) in vars {
        zeroize::Zeroize::zeroize(&mut value.into_encoded_bytes());
    }
    snapshot
}

impl EnvVault {
    /// Reads the process environment (once, on first use).
    pub fn new() -> Self {
        EnvVault {
            source: VarSource::Process,
            snapshot: OnceLock::new(),
        }
    }

    /// Reads the given variables instead of the process environment.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        EnvVault {
            source: VarSource::Fixed(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), Zeroizing::new(v.into())))
                    .collect(),
            ),
            snapshot: OnceLock::new(),
        }
    }

    fn snapshot(&self) -> &Snapshot {
        self.snapshot.get_or_init(|| match &self.source {
            VarSource::Process => process_snapshot(),
            VarSource::Fixed(vars) => Snapshot::build(vars.len(), 0, |f| {
                for (k, v) in vars {
                    f(k.as_bytes(), v.as_bytes());
                }
            }),
        })
    }
}

impl Default for EnvVault {
    fn default() -> Self {
        Self::new()
    }
}

/// The variable a resource names: `prefix + resource`, `-` to `_`, upper-cased, and
/// `_PREVIOUS` for version 2.
///
/// ```
/// use secret_ref::vault::env::variable_name;
///
/// assert_eq!(variable_name("", "my-secret-postgres-password", None), "MY_SECRET_POSTGRES_PASSWORD");
/// assert_eq!(variable_name("secrets-again-", "test-too", Some(2)), "SECRETS_AGAIN_TEST_TOO_PREVIOUS");
/// ```
pub fn variable_name(prefix: &str, resource: &str, version: Option<u32>) -> String {
    let mut name = Vec::new();
    push_variable_name(&mut name, prefix, resource, version);
    String::from_utf8(name).expect("ASCII changes keep UTF-8 valid")
}

fn push_variable_name(out: &mut Vec<u8>, prefix: &str, resource: &str, version: Option<u32>) {
    let start = out.len();
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(resource.as_bytes());
    // In place, over a slice: a loop the compiler can vectorize.
    for b in &mut out[start..] {
        *b = if *b == b'-' {
            b'_'
        } else {
            b.to_ascii_uppercase()
        };
    }
    if version == Some(2) {
        out.extend_from_slice(b"_PREVIOUS");
    }
}

thread_local! {
    /// Scratch space for variable names, so that a lookup allocates nothing.
    static NAME: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Kong's pattern for the prefix: `^[%a_-][%a%d_-]*$`.
fn valid_prefix(prefix: &str) -> bool {
    let mut bytes = prefix.bytes();
    match bytes.next() {
        None => true,
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b'-' => {
            bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }
        Some(_) => false,
    }
}

impl Vault for EnvVault {
    fn options(&self) -> &'static [VaultOption] {
        // Kong lets a reference pick the prefix; it names a variable, like the resource.
        const OPTIONS: &[VaultOption] = &[VaultOption::selector("prefix")];
        OPTIONS
    }

    fn check_config(&self, config: &VaultConfig) -> Result<(), VaultError> {
        match config.get("prefix") {
            Some(p) if !valid_prefix(p) => Err(VaultError::invalid_config(format!(
                "prefix `{p}` is not valid: it must start with a letter, `_` or `-`, \
                 followed by letters, digits, `_` or `-`"
            ))),
            _ => Ok(()),
        }
    }

    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        let version = request.version();
        if let Some(v @ 3..) = version {
            return Err(VaultError::not_found(format!(
                "the env vault keeps only the current (#1) and previous (#2) values, not #{v}"
            )));
        }
        let prefix = request.config().get("prefix").unwrap_or("");
        let found = NAME.with(|name| {
            let mut name = name.borrow_mut();
            name.clear();
            push_variable_name(&mut name, prefix, request.resource(), version);
            match self.snapshot().get(&name) {
                Some(value) => match std::str::from_utf8(value) {
                    Ok(text) => Ok(Zeroizing::new(text.to_owned())),
                    Err(_) => Err(("is not valid Unicode", name.clone())),
                },
                None => Err(("is not set", name.clone())),
            }
        });
        found.map_err(|(problem, name)| {
            let name = String::from_utf8_lossy(&name);
            let message = format!("environment variable {name} {problem}");
            if problem == "is not set" {
                VaultError::not_found(message)
            } else {
                VaultError::bad_response(message)
            }
        })
    }

    fn is_remote(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(
        env: &EnvVault,
        prefix: Option<&str>,
        resource: &str,
        version: Option<u32>,
    ) -> Result<String, VaultError> {
        let mut config = VaultConfig::new();
        if let Some(p) = prefix {
            config.set("prefix", p);
        }
        env.check_config(&config)?;
        env.fetch(&Request::new(resource, version, &config))
            .map(|v| v.to_string())
    }

    #[test]
    fn kong_vectors() {
        let env = EnvVault::from_vars([
            ("TEST_SECRETS", "test_value"),
            ("TEST", ""),
            ("TEST_ENV", "test"),
            ("SECRETS_AGAIN_TEST_TOO", "again"),
            ("PG_PORT", "5000"),
            ("PG_PORT_PREVIOUS", "4000"),
        ]);
        assert_eq!(get(&env, None, "test_secrets", None).unwrap(), "test_value");
        assert_eq!(get(&env, None, "test", None).unwrap(), "");
        assert_eq!(get(&env, None, "test_env", None).unwrap(), "test");
        assert_eq!(get(&env, Some("test_"), "env", None).unwrap(), "test");
        assert_eq!(get(&env, Some("test-"), "env", None).unwrap(), "test");
        assert_eq!(
            get(&env, Some("SECRETS-AGAIN-"), "test-too", None).unwrap(),
            "again"
        );
        assert_eq!(get(&env, None, "pg-port", Some(0)).unwrap(), "5000");
        assert_eq!(get(&env, None, "pg-port", Some(1)).unwrap(), "5000");
        assert_eq!(get(&env, None, "pg-port", Some(2)).unwrap(), "4000");
        let missing = get(&env, None, "test_env_na", None).unwrap_err();
        assert_eq!(missing.kind(), crate::ErrorKind::NotFound);
        assert_eq!(
            missing.to_string(),
            "environment variable TEST_ENV_NA is not set"
        );
        assert!(get(&env, None, "pg-port", Some(3)).is_err());
    }

    #[test]
    fn prefix_validation() {
        let env = EnvVault::from_vars([("A", "")]);
        for ok in ["", "SECRETS_", "_x", "-x-", "a1"] {
            let config: VaultConfig = [("prefix", ok)].into_iter().collect();
            assert!(env.check_config(&config).is_ok(), "{ok}");
        }
        for bad in ["1A", "A.B", "A B", "$"] {
            assert_eq!(
                get(&env, Some(bad), "a", None).unwrap_err().kind(),
                crate::ErrorKind::InvalidConfig,
                "{bad}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            variable_name("", "my-secret-postgres-password", None),
            "MY_SECRET_POSTGRES_PASSWORD"
        );
        assert_eq!(variable_name("ssl_", "cert", Some(2)), "SSL_CERT_PREVIOUS");
        // Lua's `upper` is ASCII-only.
        assert_eq!(variable_name("", "é-x", None), "é_X");
    }
}
