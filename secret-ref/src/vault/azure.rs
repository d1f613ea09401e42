//! The `azure` vault: Azure Key Vault secrets, as Kong's `azure` backend.
//!
//! `{vault://azure/db-creds/password}` reads the secret `db-creds` (its current version) from
//! the vault at `vault_uri` and picks the `password` field of its JSON value. Key Vault names
//! versions with 32 hexadecimal characters, which Kong's numeric `#N` cannot write, so a
//! version is chosen with the `version` option: `{vault://azure/db-creds/password?version=
//! 5fd4b5ca8e0c4c2e9a3d24f0c7a1b6e2}`; `#N` is an error (see "Differs from Kong" below).
//!
//! | Setting (kong.conf) | Option | Class | Default | Meaning |
//! |---|---|---|---|---|
//! | `vault_azure_vault_uri` | `vault_uri` | destination | `AZURE_VAULT_URI` | required; `https://<name>.vault.azure.net`, scheme, host and port only |
//! | `vault_azure_tenant_id` | `tenant_id` | identity | `<prefix>_TENANT_ID` | the Entra ID tenant of the app registration |
//! | `vault_azure_client_id` | `client_id` | identity | `<prefix>_CLIENT_ID` | the app registration; with managed identity, a user-assigned identity |
//! | `vault_azure_credentials_prefix` | `credentials_prefix` | identity | `AZURE` | the client secret is read from env `<prefix>_CLIENT_SECRET` only |
//! | `vault_azure_managed_identity` | `managed_identity` | identity | unset | `on`: use the machine's managed identity; `off`: never; unset: see below |
//! | `vault_azure_location` | `location` | selector | | accepted for Kong's sake; not used by the API |
//! | `vault_azure_type` | `type` | selector | `secrets` | only `secrets`, as Kong |
//! | `vault_azure_version` | `version` | selector | current | a version id (32 hexadecimal characters) |
//! | `vault_azure_base64_decode` | `base64_decode` | selector | `off` | the value is base64: decode it (Kong 3.11+) |
//! | `vault_azure_ca_cert` | `ca_cert` | trust | | a PEM file of CAs to trust (else the bundled Mozilla roots) |
//! | `vault_azure_ssl_verify` | `ssl_verify` | trust | `on` | |
//! | `vault_azure_connect_timeout` | `connect_timeout` | tuning | `5` | seconds |
//! | `vault_azure_read_timeout` | `read_timeout` | tuning | `10` | seconds |
//!
//! A reference may choose the version, `base64_decode`, `type`, `location` and the timeouts;
//! the vault, the tenant, the client and where its secret is read from come from settings
//! only, since they decide where a token goes and whose it is (see
//! [`OptionClass`](super::OptionClass)). An `http://` vault or `ssl_verify = off` is reported
//! once as insecure.
//!
//! **Credentials**, in this order:
//! 1. Client credentials, when env `<prefix>_CLIENT_SECRET` is set (and `managed_identity` is
//!    not `on`): `POST {authority}/{tenant_id}/oauth2/v2.0/token` with `client_id`, the secret
//!    and the scope `https://vault.azure.net/.default` (the vault's cloud: `vault.azure.cn`,
//!    `vault.usgovcloudapi.net` and `vault.microsoftazure.de` vaults get their own). The
//!    authority is env `AZURE_AUTHORITY_HOST` (https only), as Azure's SDKs, else
//!    `https://login.microsoftonline.com`.
//! 2. Managed identity, when `managed_identity = on`, or when it is unset and the platform
//!    says so: App Service (and Functions, Container Apps) sets `IDENTITY_ENDPOINT` and
//!    `IDENTITY_HEADER`, which are asked with `api-version=2019-08-01`. Otherwise (only with
//!    `managed_identity = on`) the instance metadata service (IMDS,
//!    `GET /metadata/identity/oauth2/token?api-version=2018-02-01` with `Metadata: true`) at
//!    `AZURE_POD_IDENTITY_AUTHORITY_HOST`, as Azure's SDKs, else `http://169.254.169.254`.
//!    `client_id` picks a user-assigned identity.
//!
//! Nothing else: with no client secret, no `managed_identity = on` and no App Service
//! variables, a fetch fails with a configuration error instead of probing the metadata
//! address, so that a missing secret never sends requests to a link-local address.
//!
//! Tokens are kept, per identity, until shortly before they expire (a tenth of their
//! lifetime, five minutes at most), and renewed once when Key Vault answers `401` (revoked or
//! expired early). One token request per identity runs at a time; the others wait for it.
//! Tokens and client secrets never appear in errors or `Debug` output, and are wiped from
//! memory when dropped.
//!
//! **Differs from Kong**: `#N` cannot name a Key Vault version (Kong sends `/secrets/<name>/N`,
//! which no secret has), so it is an error and `?version=<id>` names one; Kong falls through
//! to the instance metadata service whenever client credentials are missing, where this
//! backend needs `managed_identity = on` or the App Service variables; `<prefix>_TENANT_ID` and
//! `<prefix>_CLIENT_ID` are read with the configured prefix only (Kong also tries the `AZURE_`
//! ones); `api-version=7.4` (Kong: 7.1).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use super::{Request, Vault, VaultConfig, VaultOption};
use crate::cache::{Bounded, lock};
use crate::clock::{Clock, SystemClock};
use crate::digest::{Digest, DigestWriter};
use crate::error::{ErrorKind, VaultError};
use crate::http::{self, Agents, encode_segment};

/// Kong's settings and ours, each with what it decides: a reference may choose which version
/// of which kind of object is read and how it is decoded, never where the token goes, whose
/// identity is used, or how TLS is checked.
const OPTIONS: &[VaultOption] = &[
    VaultOption::destination("vault_uri"),
    VaultOption::identity("tenant_id"),
    VaultOption::identity("client_id"),
    VaultOption::identity("credentials_prefix"),
    VaultOption::identity("managed_identity"),
    VaultOption::selector("location"),
    VaultOption::selector("type"),
    VaultOption::selector("version"),
    VaultOption::selector("base64_decode"),
    VaultOption::trust("ca_cert"),
    VaultOption::trust("ssl_verify"),
    VaultOption::tuning("connect_timeout"),
    VaultOption::tuning("read_timeout"),
];

/// The Key Vault REST API version of every read.
const API_VERSION: &str = "7.4";
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
const DEFAULT_IMDS: &str = "http://169.254.169.254";
const DEFAULT_PREFIX: &str = "AZURE";
/// Vault host suffixes of the clouds other than the public one, with their token audience.
const CLOUDS: &[(&str, &str)] = &[
    (".vault.azure.cn", "https://vault.azure.cn"),
    (
        ".vault.usgovcloudapi.net",
        "https://vault.usgovcloudapi.net",
    ),
    (
        ".vault.microsoftazure.de",
        "https://vault.microsoftazure.de",
    ),
];
const PUBLIC_CLOUD: &str = "https://vault.azure.net";

/// The Azure Key Vault backend; registered as `azure` with the `azure` feature.
///
/// ```
/// use secret_ref::{ErrorKind, Resolver};
/// use secret_ref::vault::azure::AzureVault;
///
/// // The environment it reads (client secret, AZURE_AUTHORITY_HOST, managed identity
/// // variables), given instead of the process's.
/// let vault = AzureVault::with_env([("AZURE_CLIENT_SECRET", "from-a-secret-store")]);
/// let resolver = Resolver::builder()
///     .vault("azure", vault)
///     .configure("azure", "vault_uri", "https://my-vault.vault.azure.net")
///     .configure("azure", "tenant_id", "contoso.onmicrosoft.com")
///     .configure("azure", "client_id", "0d7c9a1e-2b3f-4c5d-8e6f-7a8b9c0d1e2f")
///     .build()?;
/// // Key Vault versions are hex ids, which `#N` cannot name: `?version=<id>` does.
/// let err = resolver.get("{vault://azure/db-creds/password#2}").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// assert!(err.to_string().contains("?version="));
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub struct AzureVault {
    agents: Agents,
    env: Env,
    clock: Arc<dyn Clock>,
    /// Tokens by a keyed digest of the identity that obtained them (which includes the
    /// client secret: the key must not hold it); the most recently used are kept.
    tokens: Bounded<Digest, Arc<Mutex<Option<Token>>>>,
}

/// Where the backend reads environment variables: the process's, or a given set.
enum Env {
    Process,
    Fixed(BTreeMap<String, Zeroizing<String>>),
}

impl Env {
    fn var(&self, name: &str) -> Option<Zeroizing<String>> {
        let value = match self {
            Env::Process => std::env::var(name).ok().map(Zeroizing::new),
            Env::Fixed(vars) => vars.get(name).cloned(),
        };
        value.filter(|v| !v.is_empty())
    }
}

struct Token {
    value: Zeroizing<String>,
    /// When to get a new one (`None`: the answer gave no lifetime, so it is not reused).
    renew_at: Option<Instant>,
}

impl std::fmt::Debug for AzureVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureVault").finish_non_exhaustive()
    }
}

impl Default for AzureVault {
    fn default() -> Self {
        AzureVault {
            agents: Agents::default(),
            env: Env::Process,
            clock: Arc::new(SystemClock),
            tokens: Bounded::default(),
        }
    }
}

impl AzureVault {
    /// The backend, reading the process's environment; everything else comes from its
    /// options.
    pub fn new() -> Self {
        Self::default()
    }

    /// The backend reading the given variables instead of the process's environment (the
    /// client secret `<prefix>_CLIENT_SECRET`, `<prefix>_TENANT_ID`, `<prefix>_CLIENT_ID`,
    /// `AZURE_VAULT_URI`, `AZURE_AUTHORITY_HOST`, `IDENTITY_ENDPOINT`, `IDENTITY_HEADER`,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST`). The values are kept in memory that is wiped
    /// when the vault is dropped.
    ///
    /// ```
    /// use secret_ref::vault::azure::AzureVault;
    ///
    /// let vault = AzureVault::with_env([("AZURE_CLIENT_SECRET", "s3cr3t")]);
    /// assert_eq!(format!("{vault:?}"), "AzureVault { .. }");
    /// ```
    pub fn with_env<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.into(), Zeroizing::new(v.into())))
            .collect();
        AzureVault {
            env: Env::Fixed(vars),
            ..Self::default()
        }
    }

    /// The same backend, judging token lifetimes by `clock` (give it the resolver's
    /// [`ManualClock`](crate::clock::ManualClock) to test renewal without waiting).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use secret_ref::clock::ManualClock;
    /// use secret_ref::vault::azure::AzureVault;
    ///
    /// let clock = Arc::new(ManualClock::new());
    /// let vault = AzureVault::new().with_clock(clock.clone());
    /// # let _ = vault;
    /// ```
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

fn get<'a>(config: &'a VaultConfig, name: &str) -> Option<&'a str> {
    config.get(name).filter(|v| !v.is_empty())
}

/// How the backend gets its token.
enum Auth {
    Client {
        /// `https://host[:port]`
        authority: String,
        tenant: String,
        client_id: String,
        secret: Zeroizing<String>,
    },
    AppService {
        endpoint: String,
        header: Zeroizing<String>,
        client_id: Option<String>,
    },
    Imds {
        host: String,
        client_id: Option<String>,
    },
}

/// The settings of one fetch.
struct Settings {
    /// `scheme://host[:port]`
    vault: String,
    /// The token audience: the vault's cloud.
    resource: &'static str,
    auth: Auth,
}

impl Settings {
    fn read(config: &VaultConfig, env: &Env) -> Result<Settings, VaultError> {
        let uri = match get(config, "vault_uri") {
            Some(uri) => Zeroizing::new(uri.to_owned()),
            None => env.var("AZURE_VAULT_URI").ok_or_else(|| {
                VaultError::invalid_config(
                    "azure vault uri is required: set `vault_uri` (kong.conf: \
                     vault_azure_vault_uri) or AZURE_VAULT_URI",
                )
            })?,
        };
        let (vault, host) = vault_uri(&uri)?;
        let resource = CLOUDS
            .iter()
            .find(|(suffix, _)| host.to_ascii_lowercase().ends_with(suffix))
            .map_or(PUBLIC_CLOUD, |(_, r)| r);
        check_selectors(config)?;
        let prefix = prefix(config)?;
        let client_id = get(config, "client_id").map(str::to_owned).or_else(|| {
            env.var(&format!("{prefix}_CLIENT_ID"))
                .map(|v| v.to_string())
        });
        let managed = config.flag("managed_identity")?;
        let secret = env.var(&format!("{prefix}_CLIENT_SECRET"));
        let no_credentials = || {
            VaultError::invalid_config(format!(
                "no Azure credentials: set {prefix}_CLIENT_SECRET (with `tenant_id` and \
                 `client_id`), or `managed_identity = on` (kong.conf: \
                 vault_azure_managed_identity) on a machine with a managed identity"
            ))
        };
        let auth = match secret {
            Some(secret) if managed != Some(true) => {
                let tenant = get(config, "tenant_id")
                    .map(str::to_owned)
                    .or_else(|| {
                        env.var(&format!("{prefix}_TENANT_ID"))
                            .map(|v| v.to_string())
                    })
                    .ok_or_else(|| {
                        VaultError::invalid_config(format!(
                            "{prefix}_CLIENT_SECRET is set but no tenant: set `tenant_id` \
                             (kong.conf: vault_azure_tenant_id) or {prefix}_TENANT_ID"
                        ))
                    })?;
                check_tenant(&tenant)?;
                let client_id = client_id.ok_or_else(|| {
                    VaultError::invalid_config(format!(
                        "{prefix}_CLIENT_SECRET is set but no client: set `client_id` \
                         (kong.conf: vault_azure_client_id) or {prefix}_CLIENT_ID"
                    ))
                })?;
                let authority = match env.var("AZURE_AUTHORITY_HOST") {
                    Some(a) => authority(&a)?,
                    None => DEFAULT_AUTHORITY.to_owned(),
                };
                Auth::Client {
                    authority,
                    tenant,
                    client_id,
                    secret,
                }
            }
            _ if managed == Some(false) => return Err(no_credentials()),
            _ => match (env.var("IDENTITY_ENDPOINT"), env.var("IDENTITY_HEADER")) {
                // The platform (App Service, Functions, Container Apps) says it has one.
                (Some(endpoint), Some(header)) => Auth::AppService {
                    endpoint: http_url(&endpoint, "IDENTITY_ENDPOINT")?,
                    header,
                    client_id,
                },
                // The metadata service only when asked: a machine without one would send
                // each fetch to a link-local address.
                _ if managed == Some(true) => Auth::Imds {
                    host: match env.var("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
                        Some(h) => http_url(&h, "AZURE_POD_IDENTITY_AUTHORITY_HOST")?
                            .trim_end_matches('/')
                            .to_owned(),
                        None => DEFAULT_IMDS.to_owned(),
                    },
                    client_id,
                },
                _ => return Err(no_credentials()),
            },
        };
        Ok(Settings {
            vault,
            resource,
            auth,
        })
    }

    /// What identifies a token: everything that changes which token a request gives,
    /// digested with a key of this process's, so that the cache holds no secret.
    fn token_key(&self) -> Digest {
        let mut key = DigestWriter::new();
        key.part(self.resource.as_bytes());
        match &self.auth {
            Auth::Client {
                authority,
                tenant,
                client_id,
                secret,
            } => key
                .part(b"client")
                .part(authority.as_bytes())
                .part(tenant.as_bytes())
                .part(client_id.as_bytes())
                .part(secret.as_bytes()),
            Auth::AppService {
                endpoint,
                header,
                client_id,
            } => key
                .part(b"app-service")
                .part(endpoint.as_bytes())
                .part(header.as_bytes())
                .part(client_id.as_deref().unwrap_or("").as_bytes()),
            Auth::Imds { host, client_id } => key
                .part(b"imds")
                .part(host.as_bytes())
                .part(client_id.as_deref().unwrap_or("").as_bytes()),
        };
        key.finish()
    }
}

/// `scheme://authority` of a vault URI, and its host. Key Vault URIs have no path.
fn vault_uri(uri: &str) -> Result<(String, String), VaultError> {
    let bad = |why: &str| VaultError::invalid_config(format!("vault_uri `{uri}` {why}"));
    let (scheme, rest) = uri
        .split_once("://")
        .ok_or_else(|| bad("has no scheme (https://)"))?;
    if !matches!(scheme, "http" | "https") {
        return Err(bad("is neither https nor http"));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if !matches!(path, "" | "/") {
        return Err(bad(
            "has a path: a vault URI is https://<name>.vault.azure.net",
        ));
    }
    if authority.is_empty()
        || !authority.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        })
    {
        return Err(bad("has no host, or a host that is not a host name"));
    }
    // `[v6]:port`, `[v6]`, `host:port` or `host`.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, rest)) => (h, Some(rest.strip_prefix(':').unwrap_or(rest))),
            None => return Err(bad("has an unclosed `[`")),
        },
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if host.is_empty() || port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Err(bad("has no host, or a port that is not a number"));
    }
    Ok((format!("{scheme}://{authority}"), host.to_owned()))
}

/// `AZURE_AUTHORITY_HOST`, as Azure's SDKs read it: `https://` is added when no scheme is
/// given, and anything but https is refused (the client secret goes there).
fn authority(value: &str) -> Result<String, VaultError> {
    let value = value.trim().trim_end_matches('/');
    let full = if value.contains("://") {
        value.to_owned()
    } else {
        format!("https://{value}")
    };
    let rest = full.strip_prefix("https://").ok_or_else(|| {
        VaultError::invalid_config(format!(
            "AZURE_AUTHORITY_HOST `{value}` is not https: the client secret is sent there"
        ))
    })?;
    if rest.is_empty()
        || !rest.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        })
    {
        return Err(VaultError::invalid_config(format!(
            "AZURE_AUTHORITY_HOST `{value}` is not a host name"
        )));
    }
    Ok(full)
}

/// A managed identity endpoint from the environment: an http(s) URL without spaces.
fn http_url(value: &str, what: &str) -> Result<String, VaultError> {
    let value = value.trim();
    let ok = (value.starts_with("http://") || value.starts_with("https://"))
        && value.len() > "https://".len()
        && !value
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b'#');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(VaultError::invalid_config(format!(
            "{what} is not an http(s) URL"
        )))
    }
}

/// Tenant ids as Azure's SDKs accept them (a GUID or a domain): they go into a URL's path.
fn check_tenant(tenant: &str) -> Result<(), VaultError> {
    if !tenant.is_empty()
        && tenant.len() <= 256
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
    {
        Ok(())
    } else {
        Err(VaultError::invalid_config(format!(
            "tenant_id `{tenant}` is not a tenant id (letters, digits, `-` and `.`)"
        )))
    }
}

/// `credentials_prefix`: the start of an environment variable's name.
fn prefix(config: &VaultConfig) -> Result<&str, VaultError> {
    let prefix = get(config, "credentials_prefix").unwrap_or(DEFAULT_PREFIX);
    let valid = prefix.len() <= 128
        && prefix
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(prefix)
    } else {
        Err(VaultError::invalid_config(
            "credentials_prefix must be letters, digits and `_` (an environment variable's \
             start, such as AZURE)",
        ))
    }
}

/// The options a reference may set, checked before anything is sent.
fn check_selectors(config: &VaultConfig) -> Result<(), VaultError> {
    if let Some(kind) = get(config, "type")
        && kind != "secrets"
    {
        return Err(VaultError::invalid_config(format!(
            "type `{kind}` is not supported: only `secrets`, as Kong"
        )));
    }
    if let Some(version) = get(config, "version") {
        check_version(version)?;
    }
    config.flag("base64_decode")?;
    Ok(())
}

/// Key Vault version ids: 32 hexadecimal characters.
fn check_version(version: &str) -> Result<(), VaultError> {
    if version.len() == 32 && version.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(VaultError::invalid_config(format!(
            "version `{version}` is not a Key Vault version id (32 hexadecimal characters)"
        )))
    }
}

/// Key Vault secret names: 1 to 127 letters, digits and dashes. Anything else could not be
/// a secret, and would change the request's path.
fn check_name(name: &str) -> Result<(), VaultError> {
    if !name.is_empty()
        && name.len() <= 127
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        Ok(())
    } else {
        Err(VaultError::new(
            ErrorKind::InvalidReference,
            format!(
                "`{name}` is not a Key Vault secret name (1 to 127 letters, digits and dashes)"
            ),
        ))
    }
}

impl Vault for AzureVault {
    fn options(&self) -> &'static [VaultOption] {
        OPTIONS
    }

    fn check_config(&self, config: &VaultConfig) -> Result<(), VaultError> {
        if let Some(uri) = get(config, "vault_uri") {
            vault_uri(uri)?;
        }
        if let Some(tenant) = get(config, "tenant_id") {
            check_tenant(tenant)?;
        }
        prefix(config)?;
        config.flag("managed_identity")?;
        check_selectors(config)?;
        http::Settings::from_config(config).map(drop)
    }

    fn insecure_settings(&self, config: &VaultConfig) -> Vec<&'static str> {
        let mut risks = Vec::new();
        let uri = get(config, "vault_uri")
            .map(|u| Zeroizing::new(u.to_owned()))
            .or_else(|| self.env.var("AZURE_VAULT_URI"));
        if uri.is_some_and(|u| u.starts_with("http://")) {
            risks.push(
                "the Key Vault token is sent over plain http (vault_uri is http://): anyone on \
                 the network path can read it; use https",
            );
        }
        if config.flag("ssl_verify").ok().flatten() == Some(false) {
            risks.push(
                "TLS certificates are not verified (ssl_verify = off): anyone on the network \
                 path can pose as Key Vault or Entra ID and receive the token or the client \
                 secret; set ca_cert instead",
            );
        }
        risks
    }

    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        let config = request.config();
        let name = request.resource();
        if let Some(n) = request.version() {
            return Err(VaultError::not_found(format!(
                "Key Vault versions are 32-character hexadecimal ids, which `#{n}` cannot \
                 name: choose one with ?version=<id> (kong.conf: vault_azure_version)"
            )));
        }
        check_name(name)?;
        let settings = Settings::read(config, &self.env)?;
        let agent = self
            .agents
            .get(&http::Settings::from_config(config)?, request)?;
        let url = match get(config, "version") {
            Some(v) => format!(
                "{}/secrets/{name}/{v}?api-version={API_VERSION}",
                settings.vault
            ),
            None => format!(
                "{}/secrets/{name}?api-version={API_VERSION}",
                settings.vault
            ),
        };
        let what = match get(config, "version") {
            Some(v) => format!("secret `{name}` version {v}"),
            None => format!("secret `{name}`"),
        };
        let slot = self.slot(&settings, request.cache_capacity());
        let mut refused: Option<Zeroizing<String>> = None;
        loop {
            let token = self.token(&slot, &settings, &agent, refused.as_deref())?;
            let mut bearer = Zeroizing::new(String::with_capacity(7 + token.len()));
            bearer.push_str("Bearer ");
            bearer.push_str(&token);
            let headers = [
                ("Accept", "application/json"),
                ("Authorization", bearer.as_str()),
            ];
            let response = http::send(&agent, "GET", &url, &headers, None)?;
            match response.status {
                200 => {
                    let value = secret_value(&response.body, &what)?;
                    return if config.flag("base64_decode")?.unwrap_or(false) {
                        decode_base64(&value, &what)
                    } else {
                        Ok(value)
                    };
                }
                // A token revoked or expired early: get a new one, once.
                401 if refused.is_none() => refused = Some(token),
                status => {
                    return Err(vault_error(status, &response.body, &what, &[&token]));
                }
            }
        }
    }
}

impl AzureVault {
    fn slot(&self, settings: &Settings, capacity: usize) -> Arc<Mutex<Option<Token>>> {
        let key = settings.token_key();
        match self.tokens.get(&key) {
            Some(slot) => slot,
            None => self
                .tokens
                .insert(key, Arc::new(Mutex::new(None)), capacity),
        }
    }

    /// The token for the settings' identity: the kept one while it is fresh (and is not the
    /// one Key Vault just `refused`), else a new one. The slot's lock is held while asking, so
    /// one request per identity runs at a time and the others then share its answer (also
    /// after a refusal: a fetch refused with the token another one has already replaced
    /// takes the replacement).
    fn token(
        &self,
        slot: &Mutex<Option<Token>>,
        settings: &Settings,
        agent: &ureq::Agent,
        refused: Option<&String>,
    ) -> Result<Zeroizing<String>, VaultError> {
        let mut current = lock(slot);
        let now = self.clock.now();
        if let Some(token) = &*current
            && token.renew_at.is_some_and(|at| now < at)
            && refused.is_none_or(|r| *r != *token.value)
        {
            return Ok(token.value.clone());
        }
        let (value, lifetime) = match &settings.auth {
            Auth::Client {
                authority,
                tenant,
                client_id,
                secret,
            } => client_token(
                agent,
                authority,
                tenant,
                client_id,
                secret,
                settings.resource,
            )?,
            Auth::AppService {
                endpoint,
                header,
                client_id,
            } => {
                let url = managed_url(
                    endpoint,
                    "2019-08-01",
                    settings.resource,
                    client_id.as_deref(),
                );
                let headers = [
                    ("Accept", "application/json"),
                    ("X-IDENTITY-HEADER", header.as_str()),
                ];
                managed_token(
                    agent,
                    &url,
                    &headers,
                    "App Service identity endpoint",
                    header,
                )?
            }
            Auth::Imds { host, client_id } => {
                let url = managed_url(
                    &format!("{host}/metadata/identity/oauth2/token"),
                    "2018-02-01",
                    settings.resource,
                    client_id.as_deref(),
                );
                let headers = [("Accept", "application/json"), ("Metadata", "true")];
                managed_token(agent, &url, &headers, "instance metadata service", "")?
            }
        };
        // Renewed shortly before it expires, as the clock the resolver runs on counts.
        let renew_at = lifetime
            .filter(|l| !l.is_zero())
            .and_then(|l| super::token_renewal(now, l));
        *current = Some(Token {
            value: value.clone(),
            renew_at,
        });
        Ok(value)
    }
}

/// `endpoint?api-version=..&resource=..[&client_id=..]`.
fn managed_url(endpoint: &str, version: &str, resource: &str, client_id: Option<&str>) -> String {
    let mut url = String::from(endpoint);
    url.push(if endpoint.contains('?') { '&' } else { '?' });
    url.push_str("api-version=");
    url.push_str(version);
    url.push_str("&resource=");
    encode_segment(resource, &mut url);
    if let Some(id) = client_id {
        url.push_str("&client_id=");
        encode_segment(id, &mut url);
    }
    url
}

/// The client credentials grant. The form is written into a buffer sized for the worst
/// case (every byte percent-encoded), so the secret in it is not copied by growing, and
/// wiped when dropped.
fn client_token(
    agent: &ureq::Agent,
    authority: &str,
    tenant: &str,
    client_id: &str,
    secret: &str,
    resource: &str,
) -> Result<(Zeroizing<String>, Option<Duration>), VaultError> {
    let fields = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", &format!("{resource}/.default")),
    ];
    let worst: usize = fields.iter().map(|(k, v)| k.len() + 3 * v.len() + 2).sum();
    let mut form = Zeroizing::new(String::with_capacity(worst));
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            form.push('&');
        }
        form.push_str(name);
        form.push('=');
        encode_segment(value, &mut form);
    }
    let url = format!("{authority}/{tenant}/oauth2/v2.0/token");
    let headers = [
        ("Accept", "application/json"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let response = http::send(agent, "POST", &url, &headers, Some(form.as_bytes()))?;
    let what = format!("token request to {authority} for client `{client_id}`");
    if response.status != 200 {
        return Err(token_error(response.status, &response.body, &what, secret));
    }
    token_answer(&response.body, &what)
}

fn managed_token(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, &str)],
    what: &str,
    header: &str,
) -> Result<(Zeroizing<String>, Option<Duration>), VaultError> {
    let what = format!("managed identity token from the {what}");
    let response = http::send(agent, "GET", url, headers, None)?;
    if response.status != 200 {
        return Err(token_error(response.status, &response.body, &what, header));
    }
    token_answer(&response.body, &what)
}

/// A token answer: `access_token`, and its lifetime from `expires_in` (Entra ID: a number;
/// IMDS: a number in a string) or `expires_on` (App Service: seconds since the epoch, in a
/// string).
fn token_answer(
    body: &[u8],
    what: &str,
) -> Result<(Zeroizing<String>, Option<Duration>), VaultError> {
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        access_token: Option<&'a RawValue>,
        #[serde(borrow, default)]
        expires_in: Option<&'a RawValue>,
        #[serde(borrow, default)]
        expires_on: Option<&'a RawValue>,
    }
    let answer: Answer<'_> = serde_json::from_slice(body).map_err(|e| {
        VaultError::bad_response(format!(
            "{what} answered {}",
            crate::convert::json_error(&e)
        ))
    })?;
    let token = answer
        .access_token
        .and_then(json_string)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| VaultError::bad_response(format!("{what} answered no access_token")))?;
    let seconds = |raw: &RawValue| -> Option<u64> {
        let text = raw.get().trim();
        text.trim_matches('"').parse::<u64>().ok()
    };
    let lifetime = match (answer.expires_in, answer.expires_on) {
        (Some(raw), _) => seconds(raw).map(Duration::from_secs),
        (None, Some(raw)) => seconds(raw).map(|on| {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            Duration::from_secs(on.saturating_sub(now))
        }),
        (None, None) => None,
    };
    Ok((token, lifetime))
}

/// A JSON string's text, unescaped into memory that is wiped when dropped (serde would leave
/// the unescaped copy of a value with escapes, such as a PEM's `\n`, in a buffer freed
/// unwiped). `None` for anything but a string. The unescaped text is never longer than the
/// escaped one, so the buffer never grows.
fn json_string(raw: &RawValue) -> Option<Zeroizing<String>> {
    let text = raw.get().trim();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = Zeroizing::new(String::with_capacity(inner.len()));
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let unescaped = match chars.next()? {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hex = |chars: &mut std::str::Chars<'_>| -> Option<u32> {
                    let digits: String = chars.by_ref().take(4).collect();
                    (digits.len() == 4)
                        .then(|| u32::from_str_radix(&digits, 16).ok())
                        .flatten()
                };
                let first = hex(&mut chars)?;
                if (0xD800..0xDC00).contains(&first) {
                    // A surrogate pair: `\uD83D\uDE00`.
                    if chars.next()? != '\\' || chars.next()? != 'u' {
                        return None;
                    }
                    let second = hex(&mut chars)?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return None;
                    }
                    char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))?
                } else {
                    char::from_u32(first)?
                }
            }
            _ => return None,
        };
        out.push(unescaped);
    }
    Some(out)
}

/// The `value` of a secret bundle.
fn secret_value(body: &[u8], what: &str) -> Result<Zeroizing<String>, VaultError> {
    #[derive(Deserialize)]
    struct Bundle<'a> {
        #[serde(borrow)]
        value: Option<&'a RawValue>,
    }
    let bundle: Bundle<'_> = serde_json::from_slice(body).map_err(|e| {
        VaultError::bad_response(format!(
            "the answer for {what} is not what Key Vault sends: {}",
            crate::convert::json_error(&e)
        ))
    })?;
    match bundle.value {
        None => Err(VaultError::not_found(format!("{what} has no value"))),
        Some(raw) => json_string(raw).ok_or_else(|| {
            VaultError::bad_response(format!("the value of {what} is not a JSON string"))
        }),
    }
}

/// `base64_decode = on`: the shared rule (`vault::decode`), as for hcv and aws.
fn decode_base64(value: &str, what: &str) -> Result<Zeroizing<String>, VaultError> {
    super::decode::decode_base64_text(value, &format!("the value of {what}"))
}

/// One line of a server's explanation, without anything in `hidden` (a server that echoes a
/// credential back must not put it in an error), at most 300 characters.
fn explain(text: &str, hidden: &[&str]) -> String {
    let mut line = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for h in hidden.iter().filter(|h| h.len() >= 4) {
        line = line.replace(h, "***");
    }
    if line.chars().count() > 300 {
        line = line.chars().take(300).collect::<String>() + "…";
    }
    line
}

/// An Entra ID or managed identity error (`{"error", "error_description"}`, or App Service's
/// `{"statusCode", "message"}`). Refused credentials are [`ErrorKind::PermissionDenied`].
fn token_error(status: u16, body: &[u8], what: &str, hidden: &str) -> VaultError {
    #[derive(Deserialize)]
    struct Answer {
        error: Option<String>,
        error_description: Option<String>,
        message: Option<String>,
    }
    let answer = serde_json::from_slice::<Answer>(body).ok();
    let detail = answer
        .map(|a| {
            [a.error, a.error_description.or(a.message)]
                .into_iter()
                .flatten()
                .map(|t| explain(&t, &[hidden]))
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(": ")
        })
        .filter(|d| !d.is_empty());
    let kind = match status {
        400 | 401 | 403 => ErrorKind::PermissionDenied,
        429 | 500..=599 => ErrorKind::Unreachable,
        _ => ErrorKind::BadResponse,
    };
    match detail {
        Some(d) => VaultError::new(kind, format!("{what}: HTTP {status}: {d}")),
        None => VaultError::new(kind, format!("{what}: HTTP {status}")),
    }
}

/// A Key Vault error, `{"error": {"code", "message", "innererror": {"code"}}}`.
fn vault_error(status: u16, body: &[u8], what: &str, hidden: &[&str]) -> VaultError {
    #[derive(Deserialize)]
    struct Answer {
        error: Option<Detail>,
    }
    #[derive(Deserialize)]
    struct Detail {
        code: Option<String>,
        message: Option<String>,
        innererror: Option<Inner>,
    }
    #[derive(Deserialize)]
    struct Inner {
        code: Option<String>,
    }
    let error = serde_json::from_slice::<Answer>(body)
        .ok()
        .and_then(|a| a.error);
    let code = error.as_ref().and_then(|e| {
        let inner = e.innererror.as_ref().and_then(|i| i.code.as_deref());
        match (e.code.as_deref(), inner) {
            (Some(c), Some(i)) => Some(format!("{c} ({i})")),
            (Some(c), None) => Some(c.to_owned()),
            (None, i) => i.map(str::to_owned),
        }
    });
    let message = error
        .and_then(|e| e.message)
        .map(|m| explain(&m, hidden))
        .filter(|m| !m.is_empty());
    let kind = match status {
        404 => ErrorKind::NotFound,
        401 | 403 => ErrorKind::PermissionDenied,
        429 | 500..=599 => ErrorKind::Unreachable,
        _ => ErrorKind::BadResponse,
    };
    let code = code.map(|c| explain(&c, hidden));
    let text = match (code, message) {
        (Some(c), Some(m)) => format!("{what}: HTTP {status} {c}: {m}"),
        (Some(c), None) => format!("{what}: HTTP {status} {c}"),
        (None, Some(m)) => format!("{what}: HTTP {status}: {m}"),
        (None, None) => format!("{what}: HTTP {status}"),
    };
    VaultError::new(kind, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn json_strings_unescape_without_growing() {
        let cases = [
            (r#""plain""#, "plain"),
            (r#""a\"b\\c\/d""#, "a\"b\\c/d"),
            (
                r#""-----BEGIN-----\nMIIB\r\n\t\b\f""#,
                "-----BEGIN-----\nMIIB\r\n\t\u{8}\u{c}",
            ),
            (r#""\u00e9\u4e2d\ud83d\ude00""#, "é中😀"),
        ];
        for (json, text) in cases {
            let out = json_string(&raw(json)).unwrap();
            assert_eq!(&*out, text);
            assert_eq!(out.capacity(), json.len() - 2, "{json}");
            let via_serde: String = serde_json::from_str(json).unwrap();
            assert_eq!(out.as_str(), via_serde);
        }
        assert!(json_string(&raw("null")).is_none());
        assert!(json_string(&raw("12")).is_none());
        assert!(json_string(&raw(r#"{"a":1}"#)).is_none());
    }

    #[test]
    fn vault_uris() {
        assert_eq!(
            vault_uri("https://kv.vault.azure.net/").unwrap(),
            (
                "https://kv.vault.azure.net".to_owned(),
                "kv.vault.azure.net".to_owned()
            )
        );
        assert_eq!(
            vault_uri("https://127.0.0.1:8443").unwrap().0,
            "https://127.0.0.1:8443"
        );
        assert_eq!(vault_uri("https://[::1]:8443").unwrap().1, "::1");
        assert_eq!(vault_uri("http://[::1]").unwrap().1, "::1");
        for bad in [
            "kv.vault.azure.net",
            "ftp://kv",
            "https://",
            "https://kv/secrets",
            "https://user@kv",
            "https://kv?x",
            "https://kv:port",
            "https://kv:1:2",
            "https://[::1",
            "https://[::1]x",
            "https://:443",
        ] {
            assert_eq!(
                vault_uri(bad).unwrap_err().kind(),
                ErrorKind::InvalidConfig,
                "{bad}"
            );
        }
    }

    #[test]
    fn clouds_and_authorities() {
        let config: VaultConfig = [("vault_uri", "https://kv.vault.azure.cn")]
            .into_iter()
            .collect();
        let env = Env::Fixed(
            [
                ("AZURE_CLIENT_SECRET", "s"),
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_AUTHORITY_HOST", "login.chinacloudapi.cn/"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Zeroizing::new(v.to_owned())))
            .collect(),
        );
        let s = Settings::read(&config, &env).unwrap();
        assert_eq!(s.resource, "https://vault.azure.cn");
        match s.auth {
            Auth::Client { authority, .. } => {
                assert_eq!(authority, "https://login.chinacloudapi.cn")
            }
            _ => panic!("client credentials expected"),
        }
        assert!(authority("http://login.example").is_err());
        assert!(authority("https://a/b").is_err());
    }

    #[test]
    fn managed_identity_only_when_asked_or_announced() {
        let uri: VaultConfig = [("vault_uri", "https://kv.vault.azure.net")]
            .into_iter()
            .collect();
        let env = |vars: &[(&str, &str)]| {
            Env::Fixed(
                vars.iter()
                    .map(|(k, v)| (k.to_string(), Zeroizing::new(v.to_string())))
                    .collect(),
            )
        };
        // Nothing configured: an error, no metadata probe.
        let err = Settings::read(&uri, &env(&[])).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig);
        assert!(err.to_string().contains("managed_identity = on"), "{err}");
        // App Service announces itself.
        let app = env(&[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token"),
            ("IDENTITY_HEADER", "h"),
        ]);
        assert!(matches!(
            Settings::read(&uri, &app).unwrap().auth,
            Auth::AppService { .. }
        ));
        // ... unless turned off.
        let mut off = uri.clone();
        off.set("managed_identity", "off");
        assert!(Settings::read(&off, &app).is_err());
        // IMDS only when asked, at the default address or the SDKs' override.
        let mut on = uri.clone();
        on.set("managed_identity", "on");
        match Settings::read(&on, &env(&[])).unwrap().auth {
            Auth::Imds { host, .. } => assert_eq!(host, "http://169.254.169.254"),
            _ => panic!("imds expected"),
        }
        let moved = env(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9/")]);
        match Settings::read(&on, &moved).unwrap().auth {
            Auth::Imds { host, .. } => assert_eq!(host, "http://127.0.0.1:9"),
            _ => panic!("imds expected"),
        }
        // A client secret without its tenant is an error, not a fall-through.
        let err = Settings::read(&uri, &env(&[("AZURE_CLIENT_SECRET", "s")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("no tenant"), "{err}");
        assert!(!format!("{err:?}").contains("\"s\""));
    }

    #[test]
    fn token_answers() {
        let (t, l) = token_answer(br#"{"access_token":"a.b.c","expires_in":3599}"#, "x").unwrap();
        assert_eq!((t.as_str(), l), ("a.b.c", Some(Duration::from_secs(3599))));
        let (_, l) = token_answer(br#"{"access_token":"a","expires_in":"86399"}"#, "x").unwrap();
        assert_eq!(l, Some(Duration::from_secs(86399)));
        let (_, l) = token_answer(br#"{"access_token":"a","expires_on":"1"}"#, "x").unwrap();
        assert_eq!(l, Some(Duration::ZERO));
        let (_, l) = token_answer(br#"{"access_token":"a","expires_in":-5}"#, "x").unwrap();
        assert_eq!(l, None);
        let (_, l) = token_answer(br#"{"access_token":"a","expires_in":1e400}"#, "x").unwrap();
        assert_eq!(l, None);
        assert_eq!(
            token_answer(br#"{"expires_in":1}"#, "x")
                .unwrap_err()
                .kind(),
            ErrorKind::BadResponse
        );
    }

    #[test]
    fn errors_are_classified_and_scrubbed() {
        let e = vault_error(
            404,
            br#"{"error":{"code":"SecretNotFound","message":"A secret with (name/id) db was not found in this key vault."}}"#,
            "secret `db`",
            &[],
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "secret `db`: HTTP 404 SecretNotFound: A secret with (name/id) db was not found in this key vault."
        );
        let e = vault_error(
            403,
            br#"{"error":{"code":"Forbidden","message":"no c4n4ry-token","innererror":{"code":"AccessDenied"}}}"#,
            "secret `db`",
            &["c4n4ry-token"],
        );
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert_eq!(
            e.to_string(),
            "secret `db`: HTTP 403 Forbidden (AccessDenied): no ***"
        );
        assert_eq!(
            vault_error(503, b"<html>", "x", &[]).kind(),
            ErrorKind::Unreachable
        );
        let e = token_error(
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret c4n4ry-secret.\r\nTrace ID: 1"}"#,
            "token request",
            "c4n4ry-secret",
        );
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert_eq!(
            e.to_string(),
            "token request: HTTP 401: invalid_client: AADSTS7000215: Invalid client secret ***."
        );
    }

    #[test]
    fn base64_values() {
        assert_eq!(&*decode_base64("aGVsbG8=", "x").unwrap(), "hello");
        assert_eq!(&*decode_base64("aGVsbG8\n", "x").unwrap(), "hello");
        assert_eq!(
            decode_base64("not base64!", "x").unwrap_err().kind(),
            ErrorKind::BadResponse
        );
        assert_eq!(
            decode_base64("//79", "x").unwrap_err().kind(),
            ErrorKind::BadResponse
        );
    }

    #[test]
    fn names_versions_and_options() {
        assert!(check_name("db-creds-2").is_ok());
        for bad in ["", "a/b", "a_b", "..", "a?b", &"x".repeat(128)] {
            assert_eq!(
                check_name(bad).unwrap_err().kind(),
                ErrorKind::InvalidReference
            );
        }
        assert!(check_version("5fd4b5ca8e0c4c2e9a3d24f0c7a1b6e2").is_ok());
        assert!(check_version("2").is_err());
        assert!(check_version("../../keys/x/00000000000000000000").is_err());
        let vault = AzureVault::new();
        for (k, v) in [
            ("type", "keys"),
            ("credentials_prefix", "A-B"),
            ("tenant_id", "a/b"),
            ("managed_identity", "maybe"),
            ("base64_decode", "yes"),
            ("vault_uri", "https://kv/x"),
        ] {
            let config: VaultConfig = [(k, v)].into_iter().collect();
            assert_eq!(
                vault.check_config(&config).unwrap_err().kind(),
                ErrorKind::InvalidConfig,
                "{k}"
            );
        }
        assert!(vault.check_config(&VaultConfig::new()).is_ok());
    }
}
