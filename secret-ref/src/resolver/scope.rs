//! `Resolver::scope`: resolving around a deserialization, with any serde format.

use super::{Memo, Resolver};
use crate::error::Error;
use crate::resolve::ResolveSecrets;

impl Resolver {
    /// Runs `f`, a deserialization with any serde format, and resolves every secret of what
    /// it returns; the format's error and the secrets' failures come back as one [`Error`],
    /// each failure with its field path.
    ///
    /// Secrets are resolved *after* `f` returns, by walking the value as
    /// [`ResolveSecrets::resolve_secrets`] does: so `#[secret(skip)]` is honoured, every failure
    /// has its path, and all the remote secrets are fetched together (each once, several at a
    /// time). When the format fails there is no value: nothing is fetched, and the error is the
    /// format's.
    ///
    /// ```
    /// use secret_ref::{Resolver, ResolveSecrets, Secret};
    /// use secret_ref::vault::env::EnvVault;
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize, ResolveSecrets)]
    /// struct Config {
    ///     pg_password: Secret<String>,
    ///     pg_port: Secret<u16>,
    /// }
    ///
    /// let resolver = Resolver::builder()
    ///     .vault("env", EnvVault::from_vars([("PW", "opensesame"), ("PORT", "5432")]))
    ///     .build()?;
    /// let config: Config = resolver.scope(|| {
    ///     serde_json::from_str(r#"{
    ///         "pg_password": "{vault://env/pw}",
    ///         "pg_port": "{vault://env/port}"
    ///     }"#)
    /// })?;
    /// assert_eq!(config.pg_password.expose_secret(), "opensesame");
    /// assert_eq!(*config.pg_port.expose_secret(), 5432);
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn scope<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, Error>
    where
        T: ResolveSecrets,
        E: std::error::Error + Send + Sync + 'static,
    {
        let mut value = f().map_err(Error::from_format)?;
        self.resolve_with(&mut value, &mut Memo::default(), false)?;
        Ok(value)
    }
}
