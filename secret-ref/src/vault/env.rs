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

use std::collections::HashMap;
use std::sync::OnceLock;

use zeroize::Zeroizing;

use super::{Request, Vault, VaultConfig};
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
    source: Source,
    snapshot: OnceLock<HashMap<String, Value>>,
}

enum Source {
    Process,
    Fixed(Vec<(String, Zeroizing<String>)>),
}

enum Value {
    Text(Zeroizing<String>),
    NotUnicode,
}

impl EnvVault {
    /// Reads the process environment (once, on first use).
    pub fn new() -> Self {
        EnvVault {
            source: Source::Process,
            snapshot: OnceLock::new(),
        }
    }

    /// Reads the given variables instead of the process environment.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        EnvVault {
            source: Source::Fixed(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), Zeroizing::new(v.into())))
                    .collect(),
            ),
            snapshot: OnceLock::new(),
        }
    }

    fn snapshot(&self) -> &HashMap<String, Value> {
        self.snapshot.get_or_init(|| match &self.source {
            Source::Process => std::env::vars_os()
                .filter_map(|(k, v)| {
                    // A name that is not Unicode cannot be written in a reference.
                    let k = k.into_string().ok()?;
                    let v = match v.into_string() {
                        Ok(s) => Value::Text(Zeroizing::new(s)),
                        Err(os) => {
                            let mut bytes = os.into_encoded_bytes();
                            zeroize::Zeroize::zeroize(&mut bytes);
                            Value::NotUnicode
                        }
                    };
                    Some((k, v))
                })
                .collect(),
            Source::Fixed(vars) => vars
                .iter()
                .map(|(k, v)| (k.clone(), Value::Text(v.clone())))
                .collect(),
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
pub fn variable_name(prefix: &str, resource: &str, version: Option<u32>) -> String {
    let mut name = String::with_capacity(prefix.len() + resource.len() + 9);
    for c in prefix.chars().chain(resource.chars()) {
        name.push(if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        });
    }
    if version == Some(2) {
        name.push_str("_PREVIOUS");
    }
    name
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
    fn options(&self) -> &'static [&'static str] {
        &["prefix"]
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
        let name = variable_name(prefix, request.resource(), version);
        match self.snapshot().get(&name) {
            Some(Value::Text(v)) => Ok(v.clone()),
            Some(Value::NotUnicode) => Err(VaultError::bad_response(format!(
                "environment variable {name} is not valid Unicode"
            ))),
            None => Err(VaultError::not_found(format!(
                "environment variable {name} is not set"
            ))),
        }
    }

    fn is_remote(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(env: &EnvVault, prefix: Option<&str>, resource: &str, version: Option<u32>) -> Result<String, VaultError> {
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
        assert_eq!(get(&env, Some("SECRETS-AGAIN-"), "test-too", None).unwrap(), "again");
        assert_eq!(get(&env, None, "pg-port", Some(0)).unwrap(), "5000");
        assert_eq!(get(&env, None, "pg-port", Some(1)).unwrap(), "5000");
        assert_eq!(get(&env, None, "pg-port", Some(2)).unwrap(), "4000");
        let missing = get(&env, None, "test_env_na", None).unwrap_err();
        assert_eq!(missing.kind(), crate::ErrorKind::NotFound);
        assert_eq!(missing.to_string(), "environment variable TEST_ENV_NA is not set");
        assert!(get(&env, None, "pg-port", Some(3)).is_err());
    }

    #[test]
    fn prefix_validation() {
        let env = EnvVault::from_vars([("A", "")]);
        for ok in ["", "SECRETS_", "_x", "-x-", "a1"] {
            assert!(get(&env, Some(ok), "a", None).is_ok() || ok != "", "{ok}");
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
        assert_eq!(variable_name("", "my-secret-postgres-password", None), "MY_SECRET_POSTGRES_PASSWORD");
        assert_eq!(variable_name("ssl_", "cert", Some(2)), "SSL_CERT_PREVIOUS");
        // Lua's `upper` is ASCII-only.
        assert_eq!(variable_name("", "é-x", None), "é_X");
    }
}
