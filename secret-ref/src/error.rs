//! Errors as data: every failure names its kind, field path, reference, vault and cause, and
//! one [`Error`] carries all the failures of a resolution so a user fixes them in one go.
//!
//! No message built here or by a backend may contain a secret value: messages are written
//! from names and positions only, and conversion errors go through a redacting
//! [`serde::de::Error`] (see `convert.rs`).

use std::fmt;
use std::sync::Arc;

use crate::redact::scrub;
use crate::reference::ReferenceError;

/// What kind of failure happened; stable across versions (new kinds may be added).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The reference is malformed.
    InvalidReference,
    /// No backend or named vault has the reference's vault name.
    UnknownVault,
    /// A vault option (from the resolver's settings or the reference's query) is invalid.
    InvalidConfig,
    /// A reference sets an option that only the resolver's settings may set: where
    /// credentials go, whose identity is used, which files are read, how TLS is checked (see
    /// [`OptionClass`](crate::vault::OptionClass)).
    OptionNotAllowed,
    /// A warning, not a failure: a vault is used with a setting that weakens security (a
    /// token over plain `http`, `ssl_verify = off`).
    Insecure,
    /// The vault has no such secret (or version).
    NotFound,
    /// The vault refused access.
    PermissionDenied,
    /// The vault could not be reached (connection refused, timeout, DNS).
    Unreachable,
    /// The vault answered something this crate cannot use.
    BadResponse,
    /// The secret is JSON but has no such key.
    KeyNotFound,
    /// A key was asked of a secret that is not a JSON object.
    InvalidJson,
    /// The secret's text does not fit the field's type.
    Conversion,
    /// A field marked `#[secret(reference_only)]` holds a literal.
    LiteralNotAllowed,
    /// A configuration file has a line that is not `key = value`, a comment or blank.
    Syntax,
    /// A plain (non-`Secret`) field holds a reference, which would otherwise be used as a
    /// literal password.
    ReferenceInPlainField,
    /// A secret was read before it was resolved.
    Unresolved,
    /// The configuration format failed to deserialize.
    Deserialize,
    /// Anything else a backend reports.
    Other,
}

impl ErrorKind {
    /// A stable `snake_case` name, for logs and metrics (`not_found`, `permission_denied`).
    ///
    /// ```
    /// assert_eq!(secret_ref::ErrorKind::PermissionDenied.as_str(), "permission_denied");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidReference => "invalid_reference",
            ErrorKind::UnknownVault => "unknown_vault",
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::OptionNotAllowed => "option_not_allowed",
            ErrorKind::Insecure => "insecure",
            ErrorKind::NotFound => "not_found",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::BadResponse => "bad_response",
            ErrorKind::KeyNotFound => "key_not_found",
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::Conversion => "conversion",
            ErrorKind::LiteralNotAllowed => "literal_not_allowed",
            ErrorKind::ReferenceInPlainField => "reference_in_plain_field",
            ErrorKind::Unresolved => "unresolved",
            ErrorKind::Syntax => "syntax",
            ErrorKind::Deserialize => "deserialize",
            ErrorKind::Other => "other",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ErrorKind::InvalidReference => "invalid reference",
            ErrorKind::UnknownVault => "unknown vault",
            ErrorKind::InvalidConfig => "invalid vault configuration",
            ErrorKind::OptionNotAllowed => "option not allowed in a reference",
            ErrorKind::Insecure => "insecure vault setting",
            ErrorKind::NotFound => "not found",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Unreachable => "vault unreachable",
            ErrorKind::BadResponse => "bad response from vault",
            ErrorKind::KeyNotFound => "key not found",
            ErrorKind::InvalidJson => "invalid JSON secret",
            ErrorKind::Conversion => "value does not fit the field",
            ErrorKind::LiteralNotAllowed => "literal not allowed",
            ErrorKind::ReferenceInPlainField => "reference in a plain field",
            ErrorKind::Unresolved => "unresolved secret",
            ErrorKind::Syntax => "syntax error",
            ErrorKind::Deserialize => "deserialization failed",
            ErrorKind::Other => "error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What a vault backend reports when it cannot produce a secret.
///
/// The message must never contain a secret value, nor a credential: it is shown to users and
/// written to logs. Build it from names, statuses and positions.
///
/// ```
/// use secret_ref::{ErrorKind, VaultError};
///
/// let e = VaultError::not_found("environment variable PG_PASSWORD is not set");
/// assert_eq!(e.kind(), ErrorKind::NotFound);
/// assert_eq!(e.to_string(), "environment variable PG_PASSWORD is not set");
/// ```
#[derive(Clone)]
pub struct VaultError {
    kind: ErrorKind,
    message: String,
    source: Option<Cause>,
}

impl VaultError {
    /// A failure of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        VaultError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// [`ErrorKind::PermissionDenied`].
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }

    /// [`ErrorKind::Unreachable`].
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unreachable, message)
    }

    /// [`ErrorKind::BadResponse`].
    pub fn bad_response(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadResponse, message)
    }

    /// [`ErrorKind::InvalidConfig`].
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfig, message)
    }

    /// Attaches the underlying error. Its `Display` must not contain secrets either.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .finish()
    }
}

impl std::error::Error for VaultError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// One failure: its kind, where it happened and why.
#[derive(Clone)]
pub struct Failure(Box<FailureInner>);

/// Boxed so that `Result<_, Failure>` stays small on the success path.
#[derive(Clone)]
struct FailureInner {
    kind: ErrorKind,
    path: Option<String>,
    origin: Option<String>,
    reference: Option<String>,
    vault: Option<String>,
    message: String,
    source: Option<Cause>,
}

impl Failure {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure(Box::new(FailureInner {
            kind,
            path: None,
            origin: None,
            reference: None,
            vault: None,
            message: message.into(),
            source: None,
        }))
    }

    pub(crate) fn from_vault(err: VaultError) -> Self {
        Failure(Box::new(FailureInner {
            kind: err.kind,
            path: None,
            origin: None,
            reference: None,
            vault: None,
            message: err.message,
            source: err.source,
        }))
    }

    pub(crate) fn from_reference(err: ReferenceError) -> Self {
        Failure(Box::new(FailureInner {
            kind: ErrorKind::InvalidReference,
            path: None,
            origin: None,
            reference: err.reference().map(str::to_owned),
            vault: None,
            message: err.problem().to_string(),
            source: Some(Arc::new(err)),
        }))
    }

    /// Sets the reference; the text is scrubbed of credential-like options here, once, so
    /// no caller can forget.
    pub(crate) fn with_reference(mut self, raw: &str) -> Self {
        self.0.reference = Some(scrub(raw).into_owned());
        self
    }

    pub(crate) fn with_vault(mut self, vault: &str) -> Self {
        self.0.vault = Some(vault.to_owned());
        self
    }

    pub(crate) fn with_path(mut self, path: impl Into<String>) -> Self {
        self.0.path = Some(path.into());
        self
    }

    pub(crate) fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.0.origin = Some(origin.into());
        self
    }

    pub(crate) fn with_source(mut self, source: Cause) -> Self {
        self.0.source = Some(source);
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The field path, such as `replicas[1].password`, when the failure belongs to a field.
    pub fn path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }

    /// Where the value came from, when known: `kong.conf line 12`, `env KONG_PG_PASSWORD`.
    pub fn origin(&self) -> Option<&str> {
        self.0.origin.as_deref()
    }

    /// The reference, with credential-like options scrubbed.
    pub fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }

    /// The vault name the reference used.
    pub fn vault(&self) -> Option<&str> {
        self.0.vault.as_deref()
    }

    /// The cause, in words; never a secret value.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.path, &self.0.origin) {
            (Some(path), Some(origin)) => write!(f, "{path} ({origin}): ")?,
            (Some(path), None) => write!(f, "{path}: ")?,
            (None, Some(origin)) => write!(f, "{origin}: ")?,
            (None, None) => {}
        }
        match (&self.0.reference, &self.0.vault, self.0.kind) {
            (Some(r), _, ErrorKind::InvalidReference) => write!(f, "invalid reference {r}: ")?,
            (Some(r), Some(v), _) => write!(f, "{r} (vault `{v}`): ")?,
            (Some(r), None, _) => write!(f, "{r}: ")?,
            (None, _, _) => {}
        }
        f.write_str(&self.0.message)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("kind", &self.0.kind)
            .field("path", &self.0.path)
            .field("origin", &self.0.origin)
            .field("reference", &self.0.reference)
            .field("vault", &self.0.vault)
            .field("message", &self.0.message)
            .finish()
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Everything that went wrong in one resolution: one or more [`Failure`]s.
///
/// `Display` prints one failure on one line, or a count followed by one line per failure:
///
/// ```text
/// 2 secrets could not be resolved:
///   pg.password: {vault://env/pg-password} (vault `env`): environment variable PG_PASSWORD is not set
///   replicas[1].password: invalid reference {vault://env}: no secret path after the vault name ...
/// ```
///
/// ```
/// use secret_ref::{ErrorKind, Resolver};
///
/// let err = Resolver::new().get("{vault://nope/x}").unwrap_err();
/// assert_eq!(err.failures()[0].kind(), ErrorKind::UnknownVault);
/// assert_eq!(err.failures()[0].vault(), Some("nope"));
/// ```
#[derive(Clone)]
pub struct Error {
    failures: Vec<Failure>,
}

impl Error {
    pub(crate) fn from_failures(failures: Vec<Failure>) -> Self {
        debug_assert!(!failures.is_empty());
        Error { failures }
    }

    pub(crate) fn single(failure: Failure) -> Self {
        Error {
            failures: vec![failure],
        }
    }

    /// Every failure, in the order the fields were visited.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// The kind of the first failure.
    pub fn kind(&self) -> ErrorKind {
        self.failures[0].kind()
    }

    /// Consumes the error into its failures.
    pub fn into_failures(self) -> Vec<Failure> {
        self.failures
    }

    /// Wraps an error of a configuration format (serde_json, toml, ...), as a
    /// [`Deserialize`](ErrorKind::Deserialize) failure. Its message is the format's, with the
    /// values it quotes taken out: `invalid type: string "hunter2", expected u16` becomes
    /// `invalid type: a string, expected u16`, `unknown variant `hunter2`` becomes `unknown
    /// variant`, and a quoted line of the file (toml's excerpt under a `|` gutter) goes. A
    /// password typed into the wrong field is still a password. The position stays; the
    /// format's error is not kept as the source, since its text quotes the value. An `Error`
    /// of this crate that went through the format (a `Secret<T>` failing inside
    /// [`Resolver::scope`](crate::Resolver::scope)) comes back as it was.
    ///
    /// ```
    /// use secret_ref::{Error, ErrorKind};
    ///
    /// let json = serde_json::from_str::<u16>(r#""hunter2""#).unwrap_err();
    /// assert!(json.to_string().contains("hunter2"));
    /// let err = Error::from_format(json);
    /// assert_eq!(err.kind(), ErrorKind::Deserialize);
    /// assert_eq!(err.to_string(), "invalid type: a string, expected u16 at line 1 column 9");
    /// ```
    ///
    /// With the `figment` or `config` feature, an error of figment or config-rs becomes one
    /// failure per error it chains, each with its field path and origin, and without the
    /// values those crates quote (`found string "hunter2"`): see the modules `figment` and
    /// `config_rs`.
    pub fn from_format(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
        let boxed = match boxed.downcast::<Error>() {
            Ok(ours) => return *ours,
            Err(other) => other,
        };
        #[cfg(feature = "figment")]
        let boxed = match boxed.downcast::<::figment::Error>() {
            Ok(figment) => return Error::from(*figment),
            Err(other) => other,
        };
        #[cfg(feature = "config")]
        let boxed = match boxed.downcast::<::config::ConfigError>() {
            Ok(config) => return Error::from(*config),
            Err(other) => other,
        };
        // Not kept as the source: its text is the one the value was just taken out of.
        Error::single(Failure::new(
            ErrorKind::Deserialize,
            crate::layered::without_values(&boxed.to_string()),
        ))
    }

    /// Fills in where each failed value came from: `origin_of` gets the field path of every
    /// failure that has a path but no origin yet (`database.password`, `replicas[1].password`)
    /// and returns its origin, such as the file or environment variable, when it knows it.
    /// Origins already set are kept.
    ///
    /// A configuration crate that records where values came from plugs in here:
    /// `secret_ref::figment::origins` and `secret_ref::config_rs::origins` (features `figment`
    /// and `config`) are such functions.
    ///
    /// ```
    /// use secret_ref::{ResolveSecrets, Resolver, Secret};
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize, ResolveSecrets)]
    /// struct Database { password: Secret<String> }
    ///
    /// #[derive(Deserialize, ResolveSecrets)]
    /// struct App { database: Database }
    ///
    /// let mut app: App =
    ///     serde_json::from_str(r#"{"database": {"password": "{vault://env/doc-origins-unset}"}}"#)?;
    /// let err = app
    ///     .resolve_secrets(&Resolver::new())
    ///     .unwrap_err()
    ///     .with_origins(|path| path.starts_with("database.").then(|| "app.json".to_owned()));
    /// assert_eq!(err.failures()[0].origin(), Some("app.json"));
    /// assert!(err.to_string().starts_with("database.password (app.json): "));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_origins(mut self, mut origin_of: impl FnMut(&str) -> Option<String>) -> Error {
        for failure in &mut self.failures {
            if failure.0.origin.is_some() {
                continue;
            }
            if let Some(path) = failure.0.path.as_deref() {
                failure.0.origin = origin_of(path);
            }
        }
        self
    }

    /// Adds another error's failures to this one, to report several operations together.
    ///
    /// ```
    /// use secret_ref::Resolver;
    ///
    /// let resolver = Resolver::new();
    /// let mut err = resolver.get("{vault://nope/a}").unwrap_err().within("A");
    /// err.extend(resolver.get("{vault://nope/b}").unwrap_err().within("B"));
    /// assert_eq!(err.failures().len(), 2);
    /// assert_eq!(err.failures()[1].path(), Some("B"));
    /// ```
    pub fn extend(&mut self, other: Error) {
        self.failures.extend(other.failures);
    }

    /// Places every failure under `path`: a failure at `password` becomes `path.password`,
    /// one without a path gets `path`. For reporting where a value came from, such as an
    /// environment variable's name.
    pub fn within(mut self, path: &str) -> Error {
        for failure in &mut self.failures {
            let full = match failure.path() {
                Some(inner) if inner.starts_with('[') => format!("{path}{inner}"),
                Some(inner) => format!("{path}.{inner}"),
                None => path.to_owned(),
            };
            failure.0.path = Some(full);
        }
        self
    }
}

impl From<VaultError> for Error {
    fn from(err: VaultError) -> Self {
        Error::single(Failure::from_vault(err))
    }
}

impl From<ReferenceError> for Error {
    fn from(err: ReferenceError) -> Self {
        Error::single(Failure::from_reference(err))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.failures.as_slice() {
            [one] => fmt::Display::fmt(one, f),
            many => {
                write!(f, "{} secrets could not be resolved:", many.len())?;
                for failure in many {
                    write!(f, "\n  {failure}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `?` on a `main` that returns `Result` prints `Debug`: make that readable.
        if f.alternate() {
            f.debug_struct("Error")
                .field("failures", &self.failures)
                .finish()
        } else {
            fmt::Display::fmt(self, f)
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.failures.as_slice() {
            [one] => one.source(),
            _ => None,
        }
    }
}

/// Each failure, in order.
///
/// ```
/// use secret_ref::Resolver;
///
/// let err = Resolver::new().get("{vault://nope/x}").unwrap_err();
/// for failure in &err {
///     assert_eq!(failure.vault(), Some("nope"));
/// }
/// assert_eq!(err.into_iter().count(), 1);
/// ```
impl IntoIterator for Error {
    type Item = Failure;
    type IntoIter = std::vec::IntoIter<Failure>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_failures().into_iter()
    }
}

/// Each failure, in order, by reference.
impl<'a> IntoIterator for &'a Error {
    type Item = &'a Failure;
    type IntoIter = std::slice::Iter<'a, Failure>;

    fn into_iter(self) -> Self::IntoIter {
        self.failures().iter()
    }
}
