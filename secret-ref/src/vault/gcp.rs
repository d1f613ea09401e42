//! The `gcp` vault: Google Cloud Secret Manager, as Kong's `gcp` backend.
//!
//! `{vault://gcp/db-creds/password}` reads the latest version of the secret `db-creds` in the
//! configured project and picks the `password` field of its JSON; `#3` reads version 3. The
//! payload is base64-decoded (it travels as base64) and its `dataCrc32c` checked when the
//! answer has one; with `base64_decode`, the secret's own text is base64-decoded once more
//! (for secrets stored base64-encoded, Kong 3.11's option).
//!
//! | Setting (kong.conf) | Option | Class | Default | Meaning |
//! |---|---|---|---|---|
//! | `vault_gcp_project_id` | `project_id` | selector | `GCP_PROJECT_ID` | required; the project (id or number) |
//! | `vault_gcp_base64_decode` | `base64_decode` | selector | `off` | the secret's text is base64: decode it |
//! | `vault_gcp_endpoint_url` | `endpoint_url` | destination | `https://secretmanager.googleapis.com` | only scheme, host and port are used (not in Kong) |
//! | `vault_gcp_ca_cert` | `ca_cert` | trust | | a PEM file of CAs to trust (else the bundled Mozilla roots) |
//! | `vault_gcp_ssl_verify` | `ssl_verify` | trust | `on` | |
//! | `vault_gcp_connect_timeout` | `connect_timeout` | tuning | `5` | seconds |
//! | `vault_gcp_read_timeout` | `read_timeout` | tuning | `10` | seconds |
//!
//! A reference may choose the project and `base64_decode` (`?project_id=other`); where the
//! access token goes and how TLS is checked come from settings only (see
//! [`OptionClass`](super::OptionClass)). An `http://` endpoint or `ssl_verify = off` is
//! reported once as insecure.
//!
//! # Credentials
//!
//! Never from a reference, nor from an option: from the environment, in this order (the
//! first as Kong, the others as Google's libraries):
//!
//! 1. `GCP_SERVICE_ACCOUNT`: a service-account key, as JSON text;
//! 2. `GOOGLE_APPLICATION_CREDENTIALS`: the path of a service-account key file (read as every
//!    file a vault reads: a regular file, within the resolver's `max_file_size`);
//! 3. the metadata server (GCE, GKE Workload Identity, Cloud Run), at `GCE_METADATA_HOST`
//!    (else `GCE_METADATA_ROOT`, else `metadata.google.internal`), as Google's libraries find it.
//!
//! A key signs an RS256 JWT (with `ring`) that is exchanged for an access token at the key's
//! `token_uri` (OAuth 2.0 JWT bearer grant, RFC 7523; `aud` is the `token_uri`, as Go's
//! `oauth2/google`). The `token_uri` is where a credential goes, so it comes only from the
//! key, that is from the environment, never from a reference; it must be `https`, or
//! `http` to a loopback address. Access tokens are kept, per credential source and among
//! the most recently used, until shortly before they expire, on the vault's
//! [`crate::clock::Clock`]; a `401` drops the token, and the read is retried once with
//! a new one. Tokens, keys and assertions never appear in errors or `Debug` output, and are
//! wiped from memory when dropped (what `ring` keeps while signing is beyond reach).
//!
//! ```no_run
//! use secret_ref::Resolver;
//!
//! // GCP_SERVICE_ACCOUNT (or GOOGLE_APPLICATION_CREDENTIALS, or the metadata server) gives
//! // the identity; the project comes from the settings or GCP_PROJECT_ID.
//! let resolver = Resolver::builder().configure("gcp", "project_id", "my-project").build()?;
//! let password = resolver.get("{vault://gcp/db-creds/password}")?;
//! # Ok::<(), secret_ref::Error>(())
//! ```

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use super::{Request, Vault, VaultConfig, VaultOption, file};
use crate::cache::{Bounded, lock};
use crate::clock::{Clock, SystemClock};
use crate::digest::{Digest, DigestWriter};
use crate::error::{ErrorKind, VaultError};
use crate::http::{self, Agents, encode_segment};

/// Kong's settings, each with what it decides: a reference may choose the project (which
/// secret) and how its text is read (`base64_decode`: the same secret, decoded), and the
/// timeouts; never where the token goes or how TLS is checked.
const OPTIONS: &[VaultOption] = &[
    VaultOption::selector("project_id"),
    VaultOption::selector("base64_decode"),
    VaultOption::destination("endpoint_url"),
    VaultOption::trust("ca_cert"),
    VaultOption::trust("ssl_verify"),
    VaultOption::tuning("connect_timeout"),
    VaultOption::tuning("read_timeout"),
];

const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Google's JWT assertions live at most an hour.
const ASSERTION_LIFETIME: u64 = 3600;

/// Secret Manager's checksum, CRC32C (Castagnoli).
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The Google Cloud Secret Manager backend; registered as `gcp` with the `gcp` feature.
///
/// ```no_run
/// use std::sync::Arc;
/// use secret_ref::Resolver;
/// use secret_ref::clock::ManualClock;
/// use secret_ref::vault::gcp::GcpVault;
///
/// // Credentials from given variables instead of the process environment (tests,
/// // embedding), with token expiry on a clock the caller moves.
/// let key = std::fs::read_to_string("service-account.json").unwrap();
/// let clock = Arc::new(ManualClock::new());
/// let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", key)]).clock(clock.clone());
/// let resolver = Resolver::builder()
///     .vault("gcp", vault)
///     .configure("gcp", "project_id", "my-project")
///     .clock(clock)
///     .build()?;
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub struct GcpVault {
    agents: Agents,
    env: Env,
    clock: Arc<dyn Clock>,
    /// Access tokens by a keyed digest of their credential source (which may be a key's
    /// text: the cache key must not hold it); the most recently used are kept.
    tokens: Bounded<Digest, Arc<TokenSlot>>,
}

impl Default for GcpVault {
    fn default() -> Self {
        GcpVault {
            agents: Agents::default(),
            env: Env::Process,
            clock: Arc::new(SystemClock),
            tokens: Bounded::default(),
        }
    }
}

impl std::fmt::Debug for GcpVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcpVault").finish_non_exhaustive()
    }
}

impl GcpVault {
    /// The backend; credentials and `GCP_PROJECT_ID` come from the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// The backend reading only the given variables (`GCP_SERVICE_ACCOUNT`,
    /// `GOOGLE_APPLICATION_CREDENTIALS`, `GCE_METADATA_HOST`, `GCE_METADATA_ROOT`,
    /// `GCP_PROJECT_ID`), never the process environment. Values are kept in zeroizing
    /// storage.
    ///
    /// ```
    /// use secret_ref::vault::gcp::GcpVault;
    ///
    /// let vault = GcpVault::with_env([("GCE_METADATA_HOST", "127.0.0.1:8080")]);
    /// assert_eq!(format!("{vault:?}"), "GcpVault { .. }");
    /// ```
    pub fn with_env<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.into(), Zeroizing::new(v.into())))
            .collect();
        GcpVault {
            env: Env::Fixed(vars),
            ..Self::default()
        }
    }

    /// The clock that token lifetimes are measured on ([`SystemClock`] by default): give
    /// the resolver's [`ManualClock`](crate::clock::ManualClock) to test expiry without
    /// sleeping.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use secret_ref::Resolver;
    /// use secret_ref::clock::ManualClock;
    /// use secret_ref::vault::gcp::GcpVault;
    ///
    /// let clock = Arc::new(ManualClock::new());
    /// let resolver = Resolver::builder()
    ///     .vault("gcp", GcpVault::new().clock(clock.clone()))
    ///     .clock(clock)
    ///     .build()?;
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

/// Where the backend reads its environment.
enum Env {
    Process,
    Fixed(Vec<(String, Zeroizing<String>)>),
}

impl Env {
    /// A variable's value, unset when empty.
    fn get(&self, name: &str) -> Option<Zeroizing<String>> {
        let value = match self {
            Env::Process => std::env::var(name).ok().map(Zeroizing::new),
            Env::Fixed(vars) => vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
        };
        value.filter(|v| !v.is_empty())
    }
}

struct TokenSlot {
    /// One renewal at a time per credential source: concurrent fetches wait for it.
    current: Mutex<Option<Token>>,
}

struct Token {
    value: Zeroizing<String>,
    renew_at: Instant,
}

/// Where access tokens come from.
enum Source {
    /// A service-account key's JSON text, and which variable gave it.
    Key(Zeroizing<String>, &'static str),
    /// A service-account key file.
    KeyFile(Zeroizing<String>),
    /// The metadata server at this `host[:port]`, and whether it was configured.
    Metadata(String, bool),
}

impl Source {
    fn digest(&self) -> Digest {
        let mut key = DigestWriter::new();
        match self {
            Source::Key(json, _) => key.part(b"key").part(json.as_bytes()),
            Source::KeyFile(path) => key.part(b"file").part(path.as_bytes()),
            Source::Metadata(host, _) => key.part(b"metadata").part(host.as_bytes()),
        };
        key.finish()
    }
}

fn get<'a>(config: &'a VaultConfig, name: &str) -> Option<&'a str> {
    config.get(name).filter(|v| !v.is_empty())
}

/// A project id (`my-project`, `example.com:my-project`) or number: it goes into the URL's
/// path, so nothing else.
fn check_project(project: &str) -> Result<(), VaultError> {
    let valid = !project.is_empty()
        && project.len() <= 100
        && project.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b':')
        });
    if valid {
        Ok(())
    } else {
        Err(VaultError::invalid_config(format!(
            "project_id `{project}` is not a GCP project id or number"
        )))
    }
}

/// A secret id, as Secret Manager allows them: letters, digits, `-` and `_`, at most 255.
fn check_secret(secret: &str) -> Result<(), VaultError> {
    let valid = !secret.is_empty()
        && secret.len() <= 255
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if valid {
        Ok(())
    } else {
        Err(VaultError::invalid_config(format!(
            "`{secret}` is not a Secret Manager secret id (letters, digits, `-` and `_`, at \
             most 255)"
        )))
    }
}

/// `scheme://host[:port]` of `endpoint_url`: only these are used, as Kong does for aws.
fn endpoint(config: &VaultConfig) -> Result<String, VaultError> {
    let Some(url) = get(config, "endpoint_url") else {
        return Ok(DEFAULT_ENDPOINT.to_owned());
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(VaultError::invalid_config(format!(
            "endpoint_url `{url}` has no scheme (http:// or https://)"
        )));
    };
    if !matches!(scheme, "http" | "https") {
        return Err(VaultError::invalid_config(format!(
            "endpoint_url `{url}` is neither http nor https"
        )));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(VaultError::invalid_config(format!(
            "endpoint_url `{url}` has no host (or has user information)"
        )));
    }
    Ok(format!("{scheme}://{authority}"))
}

impl Vault for GcpVault {
    fn options(&self) -> &'static [VaultOption] {
        OPTIONS
    }

    fn check_config(&self, config: &VaultConfig) -> Result<(), VaultError> {
        if let Some(project) = get(config, "project_id") {
            check_project(project)?;
        }
        endpoint(config)?;
        config.flag("base64_decode")?;
        http::Settings::from_config(config).map(drop)
    }

    fn insecure_settings(&self, config: &VaultConfig) -> Vec<&'static str> {
        let mut risks = Vec::new();
        if get(config, "endpoint_url").is_some_and(|u| u.starts_with("http://")) {
            risks.push(
                "the GCP access token is sent over plain http (endpoint_url is http://): \
                 anyone on the network path can read and reuse it; use https",
            );
        }
        if config.flag("ssl_verify").ok().flatten() == Some(false) {
            risks.push(
                "TLS certificates are not verified (ssl_verify = off): anyone on the network \
                 path can pose as Google and receive the access token; set ca_cert instead",
            );
        }
        risks
    }

    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        let config = request.config();
        let project = match get(config, "project_id") {
            Some(p) => p.to_owned(),
            None => self
                .env
                .get("GCP_PROJECT_ID")
                .map(|p| p.to_string())
                .ok_or_else(|| {
                    VaultError::invalid_config(
                        "gcp secret manager requires project_id: set `project_id` (kong.conf: \
                         vault_gcp_project_id) or GCP_PROJECT_ID",
                    )
                })?,
        };
        check_project(&project)?;
        let secret = request.resource();
        check_secret(secret)?;
        let version = match request.version() {
            None => "latest".to_owned(),
            Some(0) => {
                return Err(VaultError::not_found(format!(
                    "secret `{secret}` has no version 0 (versions start at 1)"
                )));
            }
            Some(v) => v.to_string(),
        };
        let decode_twice = config.flag("base64_decode")?.unwrap_or(false);
        let mut url = endpoint(config)?;
        url.push_str("/v1/projects/");
        encode_segment(&project, &mut url);
        url.push_str("/secrets/");
        encode_segment(secret, &mut url);
        url.push_str("/versions/");
        url.push_str(&version);
        url.push_str(":access");
        let agent = self
            .agents
            .get(&http::Settings::from_config(config)?, request)?;
        let what = format!("secret `{secret}` (project `{project}`, version {version})");

        let mut stale: Option<Zeroizing<String>> = None;
        loop {
            let token = self.token(&agent, request, stale.as_deref().map(String::as_str))?;
            let mut authorization = Zeroizing::new(String::with_capacity(token.len() + 7));
            authorization.push_str("Bearer ");
            authorization.push_str(&token);
            let headers = [
                ("Accept", "application/json"),
                ("Authorization", authorization.as_str()),
            ];
            let response = http::send(&agent, "GET", &url, &headers, None)?;
            match response.status {
                200 => {
                    let text = payload(&response.body, &what)?;
                    return if decode_twice {
                        base64_text(&text, &what)
                    } else {
                        Ok(text)
                    };
                }
                // The token expired or was revoked before its time: a new one, once.
                401 if stale.is_none() => stale = Some(token),
                status => return Err(api_error(status, &response.body, &what)),
            }
        }
    }
}

impl GcpVault {
    /// The credential source the environment names.
    fn source(&self) -> Source {
        if let Some(json) = self.env.get("GCP_SERVICE_ACCOUNT") {
            return Source::Key(json, "GCP_SERVICE_ACCOUNT");
        }
        if let Some(path) = self.env.get("GOOGLE_APPLICATION_CREDENTIALS") {
            return Source::KeyFile(path);
        }
        match self
            .env
            .get("GCE_METADATA_HOST")
            .or_else(|| self.env.get("GCE_METADATA_ROOT"))
        {
            Some(host) => Source::Metadata(host.to_string(), true),
            None => Source::Metadata(DEFAULT_METADATA_HOST.to_owned(), false),
        }
    }

    /// An access token: the kept one, unless it is due for renewal or is `stale` (refused
    /// by the API), in which case a new one.
    fn token(
        &self,
        agent: &ureq::Agent,
        request: &Request<'_>,
        stale: Option<&str>,
    ) -> Result<Zeroizing<String>, VaultError> {
        let source = self.source();
        let key = source.digest();
        let slot = match self.tokens.get(&key) {
            Some(slot) => slot,
            None => self.tokens.insert(
                key,
                Arc::new(TokenSlot {
                    current: Mutex::new(None),
                }),
                request.cache_capacity(),
            ),
        };
        let mut current = lock(&slot.current);
        if let Some(token) = &*current {
            let refused = stale.is_some_and(|s| s == token.value.as_str());
            if !refused && self.clock.now() < token.renew_at {
                return Ok(token.value.clone());
            }
        }
        *current = None;
        let granted = match &source {
            Source::Key(json, var) => {
                let key = ServiceAccount::parse(json.as_bytes(), var)?;
                exchange(agent, &key)?
            }
            Source::KeyFile(path) => {
                let bytes =
                    file::read(Path::new(path.as_str()), request.max_file_size()).map_err(|e| {
                        VaultError::invalid_config(format!(
                            "cannot read GOOGLE_APPLICATION_CREDENTIALS: {e}"
                        ))
                        .with_source(e)
                    })?;
                let key = ServiceAccount::parse(&bytes, "GOOGLE_APPLICATION_CREDENTIALS")?;
                exchange(agent, &key)?
            }
            Source::Metadata(host, configured) => metadata_token(agent, host, *configured)?,
        };
        let now = self.clock.now();
        let token = Token {
            value: granted.access_token,
            renew_at: super::token_renewal(now, granted.expires_in).unwrap_or(now),
        };
        let value = token.value.clone();
        *current = Some(token);
        Ok(value)
    }
}

/// What a token endpoint or the metadata server grants.
struct Granted {
    access_token: Zeroizing<String>,
    expires_in: Duration,
}

/// The parts of a service-account key this backend uses.
struct ServiceAccount {
    client_email: String,
    private_key_id: Option<String>,
    /// The DER of the private key (PKCS#8, or PKCS#1), wiped when dropped.
    der: Zeroizing<Vec<u8>>,
    pkcs8: bool,
    token_uri: String,
}

impl ServiceAccount {
    /// Reads a key's JSON, from the variable or file `what`. The private key is taken as raw
    /// JSON and unescaped into a wiped buffer (serde would leave copies in its scratch
    /// space), and its PEM decoded by hand for the same reason.
    fn parse(json: &[u8], what: &str) -> Result<ServiceAccount, VaultError> {
        #[derive(Deserialize)]
        struct KeyFile<'a> {
            #[serde(rename = "type")]
            kind: Option<String>,
            client_email: Option<String>,
            private_key_id: Option<String>,
            #[serde(borrow)]
            private_key: Option<&'a RawValue>,
            token_uri: Option<String>,
            universe_domain: Option<String>,
        }
        let bad = |why: &str| VaultError::invalid_config(format!("{what}: {why}"));
        let key: KeyFile<'_> = serde_json::from_slice(json).map_err(|e| {
            bad(&format!(
                "not a service-account key: {}",
                crate::convert::json_error(&e)
            ))
        })?;
        match key.kind.as_deref() {
            Some("service_account") => {}
            Some(other) => {
                return Err(bad(&format!(
                    "credentials of type `{other}` are not supported (only `service_account` \
                     keys; or use the metadata server)"
                )));
            }
            None => return Err(bad("not a service-account key (no `type`)")),
        }
        if let Some(universe) = key.universe_domain.as_deref()
            && universe != "googleapis.com"
        {
            return Err(bad(&format!(
                "universe_domain `{universe}` is not supported (only googleapis.com)"
            )));
        }
        let client_email = key
            .client_email
            .filter(|e| !e.is_empty())
            .ok_or_else(|| bad("the key has no `client_email`"))?;
        let pem = key
            .private_key
            .and_then(|raw| json_string(raw.get()))
            .ok_or_else(|| bad("the key has no `private_key` string"))?;
        let (der, pkcs8) = pem_der(&pem).map_err(|why| bad(&format!("private_key {why}")))?;
        let token_uri = key
            .token_uri
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
        check_token_uri(&token_uri).map_err(|why| bad(&why))?;
        Ok(ServiceAccount {
            client_email,
            private_key_id: key.private_key_id.filter(|k| !k.is_empty()),
            der,
            pkcs8,
            token_uri,
        })
    }

    /// A signed JWT assertion for the token endpoint (RFC 7523 §2.1), wiped when dropped:
    /// for an hour, it is as good as the key.
    fn assertion(&self) -> Result<Zeroizing<String>, VaultError> {
        use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
        let rejected = |e: ring::error::KeyRejected| {
            VaultError::invalid_config(format!(
                "the service-account key {} is not a usable RSA key: {e}",
                self.client_email
            ))
        };
        let pair = if self.pkcs8 {
            RsaKeyPair::from_pkcs8(&self.der).map_err(rejected)?
        } else {
            RsaKeyPair::from_der(&self.der).map_err(rejected)?
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.private_key_id {
            header["kid"] = kid.as_str().into();
        }
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": CLOUD_PLATFORM,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        let (header, claims) = (header.to_string(), claims.to_string());
        let modulus = pair.public().modulus_len();
        // Sized for the whole assertion, so that it is never copied by growing.
        let encoded = |n: usize| base64::encoded_len(n, false).unwrap_or(0);
        let mut jwt = Zeroizing::new(String::with_capacity(
            encoded(header.len()) + encoded(claims.len()) + encoded(modulus) + 2,
        ));
        URL_SAFE_NO_PAD.encode_string(&header, &mut jwt);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut jwt);
        let mut signature = Zeroizing::new(vec![0u8; modulus]);
        pair.sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            jwt.as_bytes(),
            &mut signature,
        )
        .map_err(|_| VaultError::invalid_config("cannot sign the JWT assertion"))?;
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&*signature, &mut jwt);
        Ok(jwt)
    }
}

/// The token endpoint is where a signed assertion (a credential, for an hour) goes: `https`,
/// or `http` only to this machine (a local emulator).
fn check_token_uri(uri: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("token_uri `{uri}` {why}"));
    let Some((scheme, rest)) = uri.split_once("://") else {
        return bad("is not a URL");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || uri.contains(char::is_whitespace) {
        return bad("has no host, or has user information or spaces");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((ip, port)) => (ip, port.strip_prefix(':')),
            None => return bad("has a bad IPv6 address"),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return bad("has a bad port");
    }
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match scheme {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => bad(
            "must be https (or http to a loopback address): the signed assertion sent there \
             is a credential",
        ),
    }
}

/// The value of a JSON string literal (`raw`, quotes included), unescaped into a buffer
/// that is wiped when dropped and never grows (an unescaped string is never longer). `None`
/// for anything but a string, or for a `\u` escape beyond ASCII (a PEM key is ASCII).
fn json_string(raw: &str) -> Option<Zeroizing<Vec<u8>>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(inner.len()));
    let mut i = 0;
    while i < inner.len() {
        let b = inner[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let escaped = *inner.get(i)?;
        i += 1;
        out.push(match escaped {
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'b' => 8,
            b'f' => 12,
            b'"' | b'\\' | b'/' => escaped,
            b'u' => {
                let hex = std::str::from_utf8(inner.get(i..i + 4)?).ok()?;
                i += 4;
                u8::try_from(u16::from_str_radix(hex, 16).ok()?)
                    .ok()
                    .filter(u8::is_ascii)?
            }
            _ => return None,
        });
    }
    Some(out)
}

/// The DER inside a PEM private key, and whether it is PKCS#8 (`PRIVATE KEY`, what Google
/// issues) rather than PKCS#1 (`RSA PRIVATE KEY`). Decoded into buffers sized beforehand and
/// wiped when dropped.
fn pem_der(pem: &[u8]) -> Result<(Zeroizing<Vec<u8>>, bool), &'static str> {
    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }
    let (begin, end, pkcs8) = if find(pem, b"-----BEGIN PRIVATE KEY-----").is_some() {
        (
            &b"-----BEGIN PRIVATE KEY-----"[..],
            &b"-----END PRIVATE KEY-----"[..],
            true,
        )
    } else if find(pem, b"-----BEGIN RSA PRIVATE KEY-----").is_some() {
        (
            &b"-----BEGIN RSA PRIVATE KEY-----"[..],
            &b"-----END RSA PRIVATE KEY-----"[..],
            false,
        )
    } else {
        return Err("is not a PEM private key");
    };
    let start = find(pem, begin)
        .map(|s| s + begin.len())
        .unwrap_or_default();
    let stop = find(&pem[start..], end).ok_or("has no PEM end line")? + start;
    let body = &pem[start..stop];
    let mut text = Zeroizing::new(Vec::with_capacity(body.len()));
    text.extend(body.iter().copied().filter(|b| !b.is_ascii_whitespace()));
    let mut der = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(text.len())]);
    let n = STANDARD
        .decode_slice(&*text, &mut der)
        .map_err(|_| "is not valid PEM (bad base64)")?;
    der.truncate(n);
    Ok((der, pkcs8))
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// A token answer (token endpoint or metadata server); the token moved into wiped storage.
fn granted(body: &[u8], what: &str) -> Result<Granted, VaultError> {
    let answer: TokenAnswer = serde_json::from_slice(body).map_err(|e| {
        VaultError::bad_response(format!(
            "{what} answered {}",
            crate::convert::json_error(&e)
        ))
    })?;
    let access_token = answer
        .access_token
        .map(Zeroizing::new)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| VaultError::bad_response(format!("{what} answered no access_token")))?;
    if access_token.contains(|c: char| c.is_ascii_control() || !c.is_ascii()) {
        return Err(VaultError::bad_response(format!(
            "{what} answered an access_token that cannot be sent in a header"
        )));
    }
    Ok(Granted {
        access_token,
        // No lifetime: used for this request only.
        expires_in: Duration::from_secs(answer.expires_in.unwrap_or(0)),
    })
}

/// The OAuth 2.0 JWT bearer grant at the key's `token_uri`.
fn exchange(agent: &ureq::Agent, key: &ServiceAccount) -> Result<Granted, VaultError> {
    const GRANT: &str =
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
    let assertion = key.assertion()?;
    // base64url and `.` need no form encoding; the body is sized once, so never copied.
    let mut body = Zeroizing::new(Vec::with_capacity(GRANT.len() + assertion.len()));
    body.extend_from_slice(GRANT.as_bytes());
    body.extend_from_slice(assertion.as_bytes());
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Accept", "application/json"),
    ];
    let what = format!("the token endpoint {}", key.token_uri);
    let response = http::send(agent, "POST", &key.token_uri, &headers, Some(&body))
        .map_err(|e| VaultError::new(e.kind(), format!("{what}: {}", e.message())))?;
    if response.status == 200 {
        return granted(&response.body, &what);
    }
    #[derive(Deserialize)]
    struct OAuthError {
        error: Option<String>,
        error_description: Option<String>,
    }
    let detail = serde_json::from_slice::<OAuthError>(&response.body)
        .ok()
        .map(|e| {
            [e.error, e.error_description]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ")
        })
        .filter(|d| !d.is_empty());
    let kind = match response.status {
        400 | 401 | 403 => ErrorKind::PermissionDenied,
        429 | 500..=599 => ErrorKind::Unreachable,
        _ => ErrorKind::BadResponse,
    };
    let message = match detail {
        Some(d) => format!(
            "{what} refused the key of {} (HTTP {}): {d}",
            key.client_email, response.status
        ),
        None => format!(
            "{what} refused the key of {} (HTTP {})",
            key.client_email, response.status
        ),
    };
    Err(VaultError::new(kind, message))
}

/// A token from the metadata server (GCE, Workload Identity).
fn metadata_token(
    agent: &ureq::Agent,
    host: &str,
    configured: bool,
) -> Result<Granted, VaultError> {
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    {
        return Err(VaultError::invalid_config(format!(
            "GCE_METADATA_HOST `{host}` is not a host[:port]"
        )));
    }
    let url = format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token");
    let what = format!("the metadata server at {host}");
    let headers = [
        ("Metadata-Flavor", "Google"),
        ("Accept", "application/json"),
    ];
    let response = match http::send(agent, "GET", &url, &headers, None) {
        Ok(r) => r,
        // Nothing configured and no metadata server: this is not GCP, and no credentials
        // were given.
        Err(e) if !configured && e.kind() == ErrorKind::Unreachable => {
            return Err(VaultError::permission_denied(format!(
                "no GCP credentials: set GCP_SERVICE_ACCOUNT or GOOGLE_APPLICATION_CREDENTIALS, \
                 or run where the metadata server answers ({})",
                e.message()
            )));
        }
        Err(e) => {
            return Err(VaultError::new(
                e.kind(),
                format!("{what}: {}", e.message()),
            ));
        }
    };
    match response.status {
        200 => granted(&response.body, &what),
        403 | 404 => Err(VaultError::permission_denied(format!(
            "{what} gave no token (HTTP {}): no service account is attached",
            response.status
        ))),
        status @ (429 | 500..=599) => {
            Err(VaultError::unreachable(format!("{what}: HTTP {status}")))
        }
        status => Err(VaultError::bad_response(format!("{what}: HTTP {status}"))),
    }
}

/// The secret's text from an `AccessSecretVersion` answer: `payload.data` base64-decoded,
/// checked against `payload.dataCrc32c` when present, and UTF-8.
fn payload(body: &[u8], what: &str) -> Result<Zeroizing<String>, VaultError> {
    #[derive(Deserialize)]
    struct Access<'a> {
        #[serde(borrow)]
        payload: Option<Payload<'a>>,
    }
    #[derive(Deserialize)]
    struct Payload<'a> {
        // Borrowed from the (wiped) body where it has no escapes, which base64 never has.
        #[serde(borrow)]
        data: Option<Cow<'a, str>>,
        #[serde(rename = "dataCrc32c")]
        crc: Option<serde_json::Value>,
    }
    let access: Access<'_> = serde_json::from_slice(body).map_err(|e| {
        VaultError::bad_response(format!(
            "the answer for {what} is not what Secret Manager sends: {}",
            crate::convert::json_error(&e)
        ))
    })?;
    let payload = access
        .payload
        .ok_or_else(|| VaultError::bad_response(format!("the answer for {what} has no payload")))?;
    let data = payload.data.unwrap_or(Cow::Borrowed(""));
    let decoded = decode(data.as_bytes(), &STANDARD);
    if let Cow::Owned(copy) = data {
        drop(Zeroizing::new(copy));
    }
    let decoded = decoded
        .ok_or_else(|| VaultError::bad_response(format!("the payload of {what} is not base64")))?;
    if let Some(crc) = payload.crc {
        // proto3 JSON writes int64 as a string; a number is accepted too.
        let expected = match &crc {
            serde_json::Value::String(s) => s.parse::<u64>().ok(),
            serde_json::Value::Number(n) => n.as_u64(),
            _ => None,
        };
        let Some(expected) = expected else {
            return Err(VaultError::bad_response(format!(
                "the dataCrc32c of {what} is not a number"
            )));
        };
        if expected != u64::from(CRC32C.checksum(&decoded)) {
            return Err(VaultError::bad_response(format!(
                "the payload of {what} fails its CRC32C check (dataCrc32c): it was corrupted \
                 on the way"
            )));
        }
    }
    utf8(decoded, what)
}

/// Base64 (standard alphabet) into a buffer sized beforehand and wiped when dropped.
fn decode(text: &[u8], engine: &base64::engine::GeneralPurpose) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(text.len())]);
    let n = engine.decode_slice(text, &mut out).ok()?;
    out.truncate(n);
    Some(out)
}

/// Bytes as text, moved (not copied) into a string; the bytes are wiped if they are not
/// UTF-8.
fn utf8(mut bytes: Zeroizing<Vec<u8>>, what: &str) -> Result<Zeroizing<String>, VaultError> {
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err(VaultError::bad_response(format!(
                "{what} is not UTF-8 text (binary secrets cannot be read)"
            )))
        }
    }
}

/// `base64_decode`: the shared rule (`vault::decode`), as for hcv, aws and azure.
fn base64_text(text: &str, what: &str) -> Result<Zeroizing<String>, VaultError> {
    super::decode::decode_base64_text(text, what)
}

/// A Google API error: the kind from the HTTP status and Google's `status`, with Google's
/// message, which names the resource and never quotes the secret.
fn api_error(status: u16, body: &[u8], what: &str) -> VaultError {
    #[derive(Deserialize)]
    struct Answer {
        error: Option<GoogleError>,
    }
    #[derive(Deserialize)]
    struct GoogleError {
        message: Option<String>,
        status: Option<String>,
    }
    let error = serde_json::from_slice::<Answer>(body)
        .ok()
        .and_then(|a| a.error);
    let (message, code) = match error {
        Some(e) => (e.message.unwrap_or_default(), e.status),
        None => (String::new(), None),
    };
    let kind = match (status, code.as_deref()) {
        (404, _) | (_, Some("NOT_FOUND")) => ErrorKind::NotFound,
        // A disabled or destroyed version: there, but not readable; as hcv's deleted ones.
        (_, Some("FAILED_PRECONDITION")) => ErrorKind::NotFound,
        (401 | 403, _) | (_, Some("PERMISSION_DENIED" | "UNAUTHENTICATED")) => {
            ErrorKind::PermissionDenied
        }
        (429 | 500..=599, _) => ErrorKind::Unreachable,
        _ => ErrorKind::BadResponse,
    };
    let code = code.unwrap_or_else(|| format!("HTTP {status}"));
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if message.is_empty() {
        VaultError::new(kind, format!("{what}: {code}"))
    } else {
        VaultError::new(kind, format!("{what}: {code}: {message}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_castagnoli() {
        assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn payloads() {
        let ok = br#"{"name":"projects/1/secrets/s/versions/2","payload":{"data":"djM=","dataCrc32c":"71583778"}}"#;
        assert_eq!(&*payload(ok, "s").unwrap(), "v3");
        let no_crc = br#"{"payload":{"data":"djM="}}"#;
        assert_eq!(&*payload(no_crc, "s").unwrap(), "v3");
        let number = br#"{"payload":{"data":"djM=","dataCrc32c":71583778}}"#;
        assert_eq!(&*payload(number, "s").unwrap(), "v3");
        let corrupt = br#"{"payload":{"data":"djM=","dataCrc32c":"1"}}"#;
        let err = payload(corrupt, "s").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadResponse);
        assert!(err.to_string().contains("CRC32C"), "{err}");
        assert!(!err.to_string().contains("v3"));
        let binary = br#"{"payload":{"data":"//79"}}"#;
        assert_eq!(
            payload(binary, "s").unwrap_err().kind(),
            ErrorKind::BadResponse
        );
        let err = payload(br#"{"payload": c4n4ry"#, "s").unwrap_err();
        assert!(!err.to_string().contains("c4n4ry"));
        // An escaped `/` (allowed in JSON) still decodes.
        let escaped = br#"{"payload":{"data":"Lz8\/"}}"#;
        assert_eq!(&*payload(escaped, "s").unwrap(), "/??");
    }

    #[test]
    fn base64_decode_option() {
        assert_eq!(&*base64_text(" aGVsbG8=\n", "s").unwrap(), "hello");
        assert_eq!(&*base64_text("aGVsbG8", "s").unwrap(), "hello");
        assert!(base64_text("not base64!", "s").is_err());
    }

    #[test]
    fn api_errors() {
        let e = api_error(
            404,
            br#"{"error":{"code":404,"message":"Secret [projects/1/secrets/x] not found or has no versions.","status":"NOT_FOUND"}}"#,
            "secret `x`",
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "secret `x`: NOT_FOUND: Secret [projects/1/secrets/x] not found or has no versions."
        );
        let e = api_error(
            400,
            br#"{"error":{"code":400,"message":"Secret Version [v] is in DISABLED state.","status":"FAILED_PRECONDITION"}}"#,
            "x",
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(api_error(403, b"", "x").kind(), ErrorKind::PermissionDenied);
        assert_eq!(
            api_error(503, b"<html>", "x").kind(),
            ErrorKind::Unreachable
        );
        assert_eq!(
            api_error(400, b"<html>", "x").kind(),
            ErrorKind::BadResponse
        );
    }

    #[test]
    fn names_and_uris() {
        for ok in ["my-project", "example.com:my-project", "123456789012"] {
            assert!(check_project(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "../x", "P", "a?b", "a%2Fb"] {
            assert!(check_project(bad).is_err(), "{bad}");
        }
        assert!(check_secret("db_creds-2").is_ok());
        for bad in ["", "a/b", "a.b", "a b", &"x".repeat(256)] {
            assert!(check_secret(bad).is_err(), "{bad}");
        }
        for ok in [
            "https://oauth2.googleapis.com/token",
            "http://127.0.0.1:8080/token",
            "http://localhost/token",
            "http://[::1]:9/token",
        ] {
            assert!(check_token_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://oauth2.example/token",
            "http://10.0.0.1/token",
            "ftp://127.0.0.1/x",
            "token",
            "https://user@host/x",
        ] {
            assert!(check_token_uri(bad).is_err(), "{bad}");
        }
        let c: VaultConfig = [("endpoint_url", "http://127.0.0.1:5000/x?y")]
            .into_iter()
            .collect();
        assert_eq!(endpoint(&c).unwrap(), "http://127.0.0.1:5000");
        assert_eq!(endpoint(&VaultConfig::new()).unwrap(), DEFAULT_ENDPOINT);
    }

    #[test]
    fn json_strings_and_pem() {
        let raw = r#""-----BEGIN PRIVATE KEY-----\nAAEC\u0041w==\n-----END PRIVATE KEY-----\n""#;
        let pem = json_string(raw).unwrap();
        assert_eq!(
            &*pem,
            b"-----BEGIN PRIVATE KEY-----\nAAECAw==\n-----END PRIVATE KEY-----\n"
        );
        let (der, pkcs8) = pem_der(&pem).unwrap();
        assert_eq!((&der[..], pkcs8), (&[0u8, 1, 2, 3][..], true));
        assert!(json_string("42").is_none());
        assert!(json_string(r#""\u00e9""#).is_none());
        assert!(pem_der(b"no key here").is_err());
    }

    #[test]
    fn keys_are_checked_without_quoting_them() {
        let canary = "c4n4ry-private-key";
        for json in [
            format!(r#"{{"type":"authorized_user","refresh_token":"{canary}"}}"#),
            format!(
                r#"{{"type":"service_account","client_email":"a@b","private_key":"{canary}"}}"#
            ),
            format!(r#"{{"type":"service_account","private_key": {canary}"#),
            format!(
                r#"{{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\n{canary}\n-----END PRIVATE KEY-----\n"}}"#
            ),
        ] {
            let err = match ServiceAccount::parse(json.as_bytes(), "GCP_SERVICE_ACCOUNT") {
                Ok(_) => panic!("accepted: {json}"),
                Err(e) => e,
            };
            assert_eq!(err.kind(), ErrorKind::InvalidConfig);
            assert!(!format!("{err} {err:?}").contains(canary), "{err}");
        }
    }
}
