//! Vault backends: the [`Vault`] trait every backend implements, and the backends that ship
//! with this crate, each in its own module (and, for remote ones, behind its own feature).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::error::{ErrorKind, VaultError};

#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod aws;
#[cfg(feature = "azure")]
#[cfg_attr(docsrs, doc(cfg(feature = "azure")))]
pub mod azure;
#[cfg(feature = "conjur")]
#[cfg_attr(docsrs, doc(cfg(feature = "conjur")))]
pub mod conjur;
#[cfg(any(feature = "hcv", feature = "aws", feature = "azure", feature = "gcp"))]
mod decode;
pub mod env;
#[cfg(any(
    feature = "fs",
    feature = "hcv",
    feature = "aws",
    feature = "azure",
    feature = "conjur",
    feature = "gcp"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "fs",
        feature = "hcv",
        feature = "aws",
        feature = "azure",
        feature = "conjur",
        feature = "gcp"
    )))
)]
pub mod file;
#[cfg(feature = "fs")]
#[cfg_attr(docsrs, doc(cfg(feature = "fs")))]
pub mod fs;
#[cfg(feature = "gcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "gcp")))]
pub mod gcp;
#[cfg(feature = "hcv")]
#[cfg_attr(docsrs, doc(cfg(feature = "hcv")))]
pub mod hcv;
pub mod memory;

/// Options that every vault takes, as in Kong (the resolver handles them, not the backend):
/// `ttl`, `neg_ttl` and `resurrect_ttl`, in seconds, at most [`MAX_TTL`].
pub const COMMON_OPTIONS: &[VaultOption] = &[
    VaultOption::tuning("ttl"),
    VaultOption::tuning("neg_ttl"),
    VaultOption::tuning("resurrect_ttl"),
];

/// The options of every backend compiled in, and the common ones.
pub(crate) fn bundled_options() -> impl Iterator<Item = &'static [VaultOption]> {
    let bundled: [Option<&'static [VaultOption]>; 8] = [
        Some(COMMON_OPTIONS),
        Some(env::EnvVault::new().options()),
        #[cfg(feature = "fs")]
        Some(fs::FsVault::new().options()),
        #[cfg(not(feature = "fs"))]
        None,
        #[cfg(feature = "hcv")]
        Some(hcv::HcvVault::new().options()),
        #[cfg(not(feature = "hcv"))]
        None,
        #[cfg(feature = "aws")]
        Some(aws::AwsVault::new().options()),
        #[cfg(not(feature = "aws"))]
        None,
        #[cfg(feature = "azure")]
        Some(azure::AzureVault::new().options()),
        #[cfg(not(feature = "azure"))]
        None,
        #[cfg(feature = "conjur")]
        Some(conjur::ConjurVault::new().options()),
        #[cfg(not(feature = "conjur"))]
        None,
        #[cfg(feature = "gcp")]
        Some(gcp::GcpVault::new().options()),
        #[cfg(not(feature = "gcp"))]
        None,
    ];
    bundled.into_iter().flatten()
}

/// The backends this crate ships besides `env`, each with the cargo feature that compiles
/// it in, and whether this build has it. A new backend adds its line.
const FEATURES: &[(&str, &str, bool)] = &[
    ("fs", "fs", cfg!(feature = "fs")),
    ("hcv", "hcv", cfg!(feature = "hcv")),
    ("aws", "aws", cfg!(feature = "aws")),
    ("azure", "azure", cfg!(feature = "azure")),
    ("conjur", "conjur", cfg!(feature = "conjur")),
    ("gcp", "gcp", cfg!(feature = "gcp")),
];

/// The cargo feature of secret-ref that would compile in the backend `vault`, when this
/// build was made without it: `Some("hcv")` for `hcv` in a build without the `hcv` feature.
/// `None` for a backend that is compiled in, and for a name secret-ref has no backend for.
/// Errors about an unknown vault name the feature with it, so that
/// `could not find vault hcv` says how to get it.
///
/// ```
/// use secret_ref::vault::missing_feature;
///
/// assert_eq!(missing_feature("hcv"), if cfg!(feature = "hcv") { None } else { Some("hcv") });
/// assert_eq!(missing_feature("env"), None);
/// assert_eq!(missing_feature("my-vault"), None);
/// ```
pub fn missing_feature(vault: &str) -> Option<&'static str> {
    FEATURES
        .iter()
        .find(|(name, _, built)| *name == vault && !built)
        .map(|(_, feature, _)| *feature)
}

/// The backends this build was made without, each with its feature.
pub(crate) fn left_out() -> impl Iterator<Item = (&'static str, &'static str)> {
    FEATURES
        .iter()
        .filter(|(_, _, built)| !built)
        .map(|(name, feature, _)| (*name, *feature))
}

/// For messages about an unknown vault: ` (built without the cargo feature `hcv` of
/// secret-ref)` when [`missing_feature`] knows the name, else nothing.
pub(crate) fn not_built(vault: &str) -> String {
    match missing_feature(vault) {
        Some(feature) => format!(" (built without the cargo feature `{feature}` of secret-ref)"),
        None => String::new(),
    }
}

/// The longest cache duration (`ttl`, `neg_ttl`, `resurrect_ttl`) and rotation interval:
/// 10⁸ seconds (about three years), Kong's own stand-in for "forever".
pub const MAX_TTL: Duration = Duration::from_secs(100_000_000);

/// The longest network timeout (`connect_timeout`, `read_timeout`): five minutes. A longer
/// one would let one unanswered request pin a resolution or a rotation thread.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// What an option decides, which says where it may be set: the security model.
///
/// A reference is data: it sits in a configuration file, a JSON document or an environment
/// variable, often written by someone with less power than the process that resolves it. So
/// a reference may choose *which secret* ([`Selector`](OptionClass::Selector) options, plus
/// the resource, key and version) and how long to cache it
/// ([`Tuning`](OptionClass::Tuning), within bounds), but never *where credentials go, whose
/// identity is used, which local files are read, or how TLS is checked*: those come only
/// from the resolver's settings (kong.conf `vault_<vault>_<option>`, `KONG_VAULT_*`,
/// [`ResolverBuilder::configure`](crate::ResolverBuilder::configure), a named vault). The
/// resolver enforces this for every backend, including yours, from the class each option
/// declares; [`ResolverBuilder::allow_in_references`](crate::ResolverBuilder::allow_in_references)
/// opts into Kong's permissive behaviour.
///
/// ```
/// use secret_ref::vault::OptionClass;
///
/// assert!(OptionClass::Selector.allowed_in_references());
/// assert!(!OptionClass::Destination.allowed_in_references());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OptionClass {
    /// Which secret: a mount, a namespace, a region, a prefix. References may set it.
    Selector,
    /// Where requests, and the credentials on them, go: protocol, host, port, endpoint URLs.
    Destination,
    /// A credential: a token, a secret id, a key. Its value is scrubbed from every message.
    Credential,
    /// Whose identity the resolver takes and how it logs in: the auth method, a role, a login
    /// path, a role to assume. Not secret, but it decides which credential is used where.
    Identity,
    /// How TLS is checked: a CA file, certificate verification.
    Trust,
    /// A local file or directory the backend reads (a token file, the `fs` vault's directory).
    File,
    /// How the resolver behaves: cache durations, timeouts; bounded. References may set it.
    Tuning,
}

impl OptionClass {
    /// Every class, for [`ResolverBuilder::allow_in_references`](crate::ResolverBuilder::allow_in_references)
    /// when a deployment needs Kong's behaviour (any option in a reference).
    pub const ALL: [OptionClass; 7] = [
        OptionClass::Selector,
        OptionClass::Destination,
        OptionClass::Credential,
        OptionClass::Identity,
        OptionClass::Trust,
        OptionClass::File,
        OptionClass::Tuning,
    ];

    /// Whether a reference may set options of this class unless the resolver opts in to
    /// more: only selectors and tuning.
    pub fn allowed_in_references(self) -> bool {
        matches!(self, OptionClass::Selector | OptionClass::Tuning)
    }

    /// A stable lower-case name (`selector`, `destination`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            OptionClass::Selector => "selector",
            OptionClass::Destination => "destination",
            OptionClass::Credential => "credential",
            OptionClass::Identity => "identity",
            OptionClass::Trust => "trust",
            OptionClass::File => "file",
            OptionClass::Tuning => "tuning",
        }
    }

    /// What options of this class decide, for error messages.
    pub(crate) fn decides(self) -> &'static str {
        match self {
            OptionClass::Selector => "which secret is read",
            OptionClass::Destination => "where requests and their credentials are sent",
            OptionClass::Credential => "a credential",
            OptionClass::Identity => "which identity the resolver logs in with",
            OptionClass::Trust => "how TLS is checked",
            OptionClass::File => "which local file is read",
            OptionClass::Tuning => "how the resolver caches and waits",
        }
    }

    pub(crate) fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for OptionClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An option a backend takes, with its [`OptionClass`].
///
/// ```
/// use secret_ref::vault::{OptionClass, VaultOption};
///
/// const OPTIONS: &[VaultOption] = &[
///     VaultOption::selector("mount"),
///     VaultOption::destination("host"),
///     VaultOption::credential("token"),
/// ];
/// assert_eq!(OPTIONS[2].class(), OptionClass::Credential);
/// assert_eq!(OPTIONS[2].name(), "token");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VaultOption {
    name: &'static str,
    class: OptionClass,
}

impl VaultOption {
    /// An option of any class.
    pub const fn new(name: &'static str, class: OptionClass) -> Self {
        VaultOption { name, class }
    }

    /// [`OptionClass::Selector`].
    pub const fn selector(name: &'static str) -> Self {
        Self::new(name, OptionClass::Selector)
    }

    /// [`OptionClass::Destination`].
    pub const fn destination(name: &'static str) -> Self {
        Self::new(name, OptionClass::Destination)
    }

    /// [`OptionClass::Credential`].
    pub const fn credential(name: &'static str) -> Self {
        Self::new(name, OptionClass::Credential)
    }

    /// [`OptionClass::Identity`].
    pub const fn identity(name: &'static str) -> Self {
        Self::new(name, OptionClass::Identity)
    }

    /// [`OptionClass::Trust`].
    pub const fn trust(name: &'static str) -> Self {
        Self::new(name, OptionClass::Trust)
    }

    /// [`OptionClass::File`].
    pub const fn file(name: &'static str) -> Self {
        Self::new(name, OptionClass::File)
    }

    /// [`OptionClass::Tuning`].
    pub const fn tuning(name: &'static str) -> Self {
        Self::new(name, OptionClass::Tuning)
    }

    /// The option's name, as written in settings and queries.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// What the option decides.
    pub const fn class(&self) -> OptionClass {
        self.class
    }
}

/// A secret store that turns a resource (and optional version) into the secret's text.
///
/// A backend is registered under a name (see
/// [`ResolverBuilder::vault`](crate::ResolverBuilder::vault)); references then reach it with
/// `{vault://<name>/<resource>}`. The resolver does the rest: configuration merging, the JSON
/// key after the resource, caching, conversion into the field's type and error reporting.
///
/// ```
/// use secret_ref::vault::{Request, Vault, VaultOption};
/// use secret_ref::{Resolver, VaultError};
/// use zeroize::Zeroizing;
///
/// /// A vault that serves fixed values, handy in tests.
/// struct Fixed;
///
/// impl Vault for Fixed {
///     fn options(&self) -> &'static [VaultOption] {
///         // `suffix` picks a secret, so references may set it.
///         const OPTIONS: &[VaultOption] = &[VaultOption::selector("suffix")];
///         OPTIONS
///     }
///
///     fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
///         match request.resource() {
///             "db" => {
///                 let suffix = request.config().get("suffix").unwrap_or("");
///                 Ok(Zeroizing::new(format!(r#"{{"user":"app{suffix}","password":"pw"}}"#)))
///             }
///             other => Err(VaultError::not_found(format!("no secret named `{other}`"))),
///         }
///     }
/// }
///
/// let resolver = Resolver::builder().vault("fixed", Fixed).build()?;
/// let user = resolver.get("{vault://fixed/db/user?suffix=-2}")?;
/// assert_eq!(user.expose_secret(), "app-2");
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub trait Vault: Send + Sync + 'static {
    /// The configuration options this backend reads (besides [`COMMON_OPTIONS`]), each with
    /// its [`OptionClass`]. Any other option, in the resolver's settings or in a reference's
    /// query, is an error; a reference may set only the classes the resolver allows
    /// ([`OptionClass::allowed_in_references`]); [`Credential`](OptionClass::Credential)
    /// values are scrubbed from every message.
    fn options(&self) -> &'static [VaultOption];

    /// Settings that work but weaken security, as messages: a token sent over plain `http`,
    /// TLS verification turned off. The resolver reports each once per vault, through
    /// [`ResolverBuilder::on_warning`](crate::ResolverBuilder::on_warning) and an audit
    /// event, the first time the vault is used with such a configuration. The default
    /// reports nothing.
    fn insecure_settings(&self, config: &VaultConfig) -> Vec<&'static str> {
        let _ = config;
        Vec::new()
    }

    /// Checks a configuration before use: at registration for the base settings, and for
    /// each reference whose query overrides them. The default accepts everything.
    fn check_config(&self, config: &VaultConfig) -> Result<(), VaultError> {
        let _ = config;
        Ok(())
    }

    /// Fetches the whole secret named by `request.resource()` (the key after it, if any, is
    /// applied by the resolver). Errors must not contain secret values or credentials.
    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError>;

    /// Whether fetches leave the process. Remote results are cached per resolver and fetched
    /// concurrently; a local backend (such as `env`, which reads a snapshot) is asked
    /// directly, since a cache in front of it would only cost.
    fn is_remote(&self) -> bool {
        true
    }
}

/// One fetch, as the resolver hands it to a backend.
#[derive(Debug)]
pub struct Request<'a> {
    pub(crate) resource: &'a str,
    pub(crate) version: Option<u32>,
    pub(crate) config: &'a VaultConfig,
    pub(crate) max_file_size: u64,
    pub(crate) cache_capacity: usize,
}

/// The largest file a backend reads by default (a secret, a CA bundle, a token file): 1 MiB.
/// Secrets are small; a larger file is a mistake or an attack (`/dev/zero`).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1024 * 1024;

impl<'a> Request<'a> {
    /// A request, for calling a backend directly (in tests, for instance).
    pub fn new(resource: &'a str, version: Option<u32>, config: &'a VaultConfig) -> Self {
        Request {
            resource,
            version,
            config,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            cache_capacity: crate::cache::DEFAULT_CAPACITY,
        }
    }

    /// The same request with another bound for what the backend keeps between fetches (see
    /// [`ResolverBuilder::cache_capacity`](crate::ResolverBuilder::cache_capacity)).
    pub fn with_cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries.max(1);
        self
    }

    /// How many entries the backend may keep in each of its caches (logins, connections,
    /// credential providers); past it, the least recently used go.
    pub fn cache_capacity(&self) -> usize {
        self.cache_capacity
    }

    /// The same request with another file size limit (see
    /// [`ResolverBuilder::max_file_size`](crate::ResolverBuilder::max_file_size)).
    pub fn with_max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// The largest file the backend may read for this request, in bytes: files larger than
    /// this are refused, not truncated.
    pub fn max_file_size(&self) -> u64 {
        self.max_file_size
    }

    /// The secret's id, percent-decoded.
    pub fn resource(&self) -> &'a str {
        self.resource
    }

    /// The version from `#N`, if any.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// The effective configuration: the vault's settings overridden by the query options.
    pub fn config(&self) -> &'a VaultConfig {
        self.config
    }
}

/// A vault's configuration: option names to values, as written in settings and queries.
///
/// Values may be credentials, so they are held in zeroizing storage: every copy the crate
/// makes is wiped when it is dropped. `Debug` scrubs credential options (`token`,
/// `secret_id`, ...). There is no `Hash`: caches key configurations by a keyed digest, never
/// by their text.
///
/// ```
/// use secret_ref::vault::VaultConfig;
///
/// let config: VaultConfig = [("prefix", "APP_"), ("token", "s.abc")].into_iter().collect();
/// assert_eq!(config.get("prefix"), Some("APP_"));
/// assert_eq!(format!("{config:?}"), r#"{"prefix": "APP_", "token": "***"}"#);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct VaultConfig {
    entries: BTreeMap<Box<str>, Zeroizing<String>>,
}

impl VaultConfig {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// An option's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.get(name).map(|v| v.as_str())
    }

    /// Sets an option. A `String` value is moved in, not copied.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries
            .insert(name.into().into_boxed_str(), Zeroizing::new(value.into()));
    }

    /// Removes an option, handing its value back in zeroizing storage.
    pub fn remove(&mut self, name: &str) -> Option<Zeroizing<String>> {
        self.entries.remove(name)
    }

    /// All options, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (&**k, v.as_str()))
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reads an option as a duration in seconds (`ttl`, `read_timeout`, ...): a decimal
    /// number from 0 to `max`. Negative numbers, NaN, infinities and anything above `max`
    /// are [`InvalidConfig`](crate::ErrorKind::InvalidConfig) errors, never a panic. Unset
    /// or empty is `None`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use secret_ref::vault::{MAX_TTL, VaultConfig};
    ///
    /// let config: VaultConfig = [("ttl", "1.5"), ("neg_ttl", "1e300")].into_iter().collect();
    /// assert_eq!(config.duration("ttl", MAX_TTL)?, Some(Duration::from_millis(1500)));
    /// assert!(config.duration("neg_ttl", MAX_TTL).is_err());
    /// assert_eq!(config.duration("resurrect_ttl", MAX_TTL)?, None);
    /// # Ok::<(), secret_ref::VaultError>(())
    /// ```
    pub fn duration(&self, name: &str, max: Duration) -> Result<Option<Duration>, VaultError> {
        match self.get(name).map(crate::kong_conf::value::trim) {
            None | Some("") => Ok(None),
            Some(text) => parse_seconds(text, max)
                .map(Some)
                .map_err(|why| VaultError::invalid_config(format!("option `{name}` {why}"))),
        }
    }

    /// Reads an option as a boolean: `on`/`off`/`true`/`false`, by kong.conf's rules
    /// ([`kong_conf::value::parse_bool`](crate::kong_conf::value::parse_bool)). Anything
    /// else is an [`InvalidConfig`](crate::ErrorKind::InvalidConfig) error (where Kong would
    /// read `false`), so that a typo cannot turn TLS verification off. Unset or empty is
    /// `None`.
    ///
    /// ```
    /// use secret_ref::vault::VaultConfig;
    ///
    /// let config: VaultConfig = [("ssl_verify", "off"), ("tls", "yes")].into_iter().collect();
    /// assert_eq!(config.flag("ssl_verify")?, Some(false));
    /// assert!(config.flag("tls").is_err());
    /// assert_eq!(config.flag("approle_response_wrapping")?, None);
    /// # Ok::<(), secret_ref::VaultError>(())
    /// ```
    pub fn flag(&self, name: &str) -> Result<Option<bool>, VaultError> {
        use crate::kong_conf::value;
        match self.get(name).map(value::trim) {
            None | Some("") => Ok(None),
            Some(text) => value::parse_bool(text).map(Some).ok_or_else(|| {
                VaultError::invalid_config(format!("option `{name}` must be {}", value::BOOLEANS))
            }),
        }
    }
}

/// The one parser of durations written as seconds (vault options, kong.conf's
/// `vault_rotation_interval`): checked before conversion, so no text can panic.
pub(crate) fn parse_seconds(text: &str, max: Duration) -> Result<Duration, String> {
    let seconds = crate::kong_conf::value::trim(text)
        .parse::<f64>()
        .map_err(|_| "must be a number of seconds".to_owned())?;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err("must be a number of seconds, from 0 up".to_owned());
    }
    if seconds > max.as_secs_f64() {
        return Err(format!("must be at most {} seconds", max.as_secs()));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| "must be a number of seconds".to_owned())
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for VaultConfig {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut config = VaultConfig::new();
        for (k, v) in iter {
            config.set(k, v);
        }
        config
    }
}

impl fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| {
                let shown = if crate::redact::is_sensitive_option(k) {
                    "***"
                } else {
                    v.as_str()
                };
                (k, shown)
            }))
            .finish()
    }
}

// The one place options are looked up and validated: the resolver (settings and references),
// kong.conf and the CLI all call these.

/// An option of a backend, by name, with its class.
pub(crate) fn find_option(vault: &dyn Vault, name: &str) -> Option<VaultOption> {
    vault
        .options()
        .iter()
        .chain(COMMON_OPTIONS)
        .find(|o| o.name() == name)
        .copied()
}

pub(crate) fn accepts(vault: &dyn Vault, option: &str) -> bool {
    find_option(vault, option).is_some()
}

/// Kong's kong.conf key for a vault's option: `vault_<vault>_<option>`, `-` written `_`.
pub(crate) fn setting_key(vault: &str, option: &str) -> String {
    format!("vault_{}_{}", vault.replace('-', "_"), option)
}

/// An option a reference may not set, with where to set it instead.
pub(crate) fn not_in_references(
    vault: &str,
    backend: &str,
    named: bool,
    option: VaultOption,
) -> VaultError {
    let name = option.name();
    let key = setting_key(vault, name);
    let instead = if named {
        format!("in the named vault `{vault}` (kong.conf: `{key}`)")
    } else {
        format!(
            "in the resolver's settings: kong.conf `{key}`, the environment variable `KONG_{}`, \
             or ResolverBuilder::configure(\"{backend}\", \"{name}\", ..)",
            key.to_ascii_uppercase()
        )
    };
    VaultError::new(
        ErrorKind::OptionNotAllowed,
        format!(
            "option `{name}` cannot be set in a reference: it decides {} ({} option), which \
             only the resolver's settings may choose; set it {instead}",
            option.class().decides(),
            option.class()
        ),
    )
}

pub(crate) fn unknown_option(backend: &str, vault: &dyn Vault, option: &str) -> VaultError {
    let mut known: Vec<&str> = vault.options().iter().map(|o| o.name()).collect();
    known.extend(COMMON_OPTIONS.iter().map(|o| o.name()));
    VaultError::invalid_config(format!(
        "unknown option `{option}` for vault `{backend}` (it takes: {})",
        known.join(", ")
    ))
}

/// When to renew an access token granted for `lifetime` at `now`: shortly before it expires,
/// by a tenth of its lifetime and at most 5 minutes, so that a short-lived token is still
/// used. A lifetime past 24 hours counts as 24 hours: a hostile or broken answer
/// (`expires_in` = 2⁶⁴ − 1) can neither overflow the clock nor pin a token forever. `None`
/// when the instant cannot be represented. Shared by the backends that log in with tokens.
#[cfg(any(feature = "gcp", feature = "azure"))]
pub(crate) fn token_renewal(
    now: std::time::Instant,
    lifetime: Duration,
) -> Option<std::time::Instant> {
    const REFRESH_BEFORE: Duration = Duration::from_secs(300);
    const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
    let lifetime = lifetime.min(MAX_TOKEN_LIFETIME);
    now.checked_add(lifetime - (lifetime / 10).min(REFRESH_BEFORE))
}
