//! The `conjur` vault: CyberArk Conjur (Secrets Manager), as Kong's `conjur` backend (3.11+).
//!
//! `{vault://conjur/BotApp%2FsecretVar}` reads the variable `BotApp/secretVar` (a policy path's
//! `/` is written `%2F`, as in Kong's documentation); `{vault://conjur/BotApp%2Fdb/password}`
//! picks the `password` field of a JSON value; `#N` reads version N of the variable.
//!
//! | Setting (kong.conf) | Option | Class | Default | Meaning |
//! |---|---|---|---|---|
//! | `vault_conjur_endpoint_url` | `endpoint_url` | destination | | required; `https://conjur.example.com` (a path, such as Secrets Manager SaaS's `/api`, is kept) |
//! | `vault_conjur_auth_method` | `auth_method` | identity | `api_key` | only `api_key`, as in Kong |
//! | `vault_conjur_account` | `account` | identity | | required; the organization account |
//! | `vault_conjur_login` | `login` | identity | | required; `host/BotApp/app` or `Dave@BotApp` |
//! | `vault_conjur_api_key` | `api_key` | credential | | required; the login's API key |
//! | `vault_conjur_ca_cert` | `ca_cert` | trust | | a PEM file of CAs to trust (Conjur's own CA, typically); not in Kong, which uses `lua_ssl_trusted_certificate` |
//! | `vault_conjur_ssl_verify` | `ssl_verify` | trust | `on` | not in Kong |
//! | `vault_conjur_connect_timeout` | `connect_timeout` | tuning | `5` | seconds; not in Kong |
//! | `vault_conjur_read_timeout` | `read_timeout` | tuning | `10` | seconds; not in Kong |
//!
//! No Kong setting chooses which secret is read (the account is part of the identity: an
//! access token is issued for `account:kind:login` and reads that account's variables only),
//! so a reference may set only the timeouts; everything else comes from settings (see
//! [`OptionClass`](super::OptionClass)). An `http://` endpoint or `ssl_verify = off` is
//! reported once as insecure.
//!
//! The calls are Conjur's REST API: `POST {endpoint}/authn/{account}/{login}/authenticate`
//! with the API key as the body and `Accept-Encoding: base64`, which answers the access token
//! already base64-encoded, then `GET {endpoint}/secrets/{account}/variable/{id}[?version=N]`
//! with `Authorization: Token token="<base64 token>"`; the account, the login and the
//! variable id are each percent-encoded as one path segment. The token is kept, per
//! endpoint, account, login and API key, for 90 % of the lifetime its own claims give
//! (`exp - iat`; Conjur's default is 8 minutes, at most an hour is believed), measured on the
//! vault's [`Clock`]; a `401` renews it once and retries. Kong's own Conjur code is not
//! public: the calls follow Conjur's API reference and CyberArk's clients.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{Request, Vault, VaultConfig, VaultOption};
use crate::cache::{Bounded, lock};
use crate::clock::{Clock, SystemClock};
use crate::digest::{Digest, DigestWriter};
use crate::error::{ErrorKind, VaultError};
use crate::http::{self, Agents, encode_segment};

/// Kong's settings and the HTTP ones every remote vault takes, each with what it decides.
const OPTIONS: &[VaultOption] = &[
    VaultOption::destination("endpoint_url"),
    VaultOption::identity("auth_method"),
    // The account is half of the identity (`account:host:BotApp/app`): a token of one account
    // reads nothing in another, and the API key would be offered to another account's login.
    VaultOption::identity("account"),
    VaultOption::identity("login"),
    VaultOption::credential("api_key"),
    VaultOption::trust("ca_cert"),
    VaultOption::trust("ssl_verify"),
    VaultOption::tuning("connect_timeout"),
    VaultOption::tuning("read_timeout"),
];

/// An access token's lifetime when its claims do not say (Conjur's fixed default).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(8 * 60);

/// The longest lifetime believed, whatever the token claims: a broken or hostile answer
/// cannot pin a token for long.
const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// The CyberArk Conjur backend; registered as `conjur` with the `conjur` feature.
///
/// ```
/// use std::sync::Arc;
/// use secret_ref::Resolver;
/// use secret_ref::clock::ManualClock;
/// use secret_ref::vault::conjur::ConjurVault;
///
/// // Token lifetimes measured on the same clock as the resolver's cache (handy in tests).
/// let clock = Arc::new(ManualClock::new());
/// let resolver = Resolver::builder()
///     .vault("conjur", ConjurVault::with_clock(clock.clone()))
///     .clock(clock)
///     .configure("conjur", "endpoint_url", "https://conjur.example.com")
///     .configure("conjur", "account", "myorg")
///     .configure("conjur", "login", "host/BotApp/app")
///     .configure("conjur", "api_key", "1wgv7h2pw1vta2a7dnzk370ger03nnakkq33sex2a1jmbbnz3h8cvhe")
///     .build()?;
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub struct ConjurVault {
    agents: Agents,
    /// Access tokens by a keyed digest of what obtained them (which includes the API key: the
    /// key must not hold it); the most recently used are kept. One authentication at a time
    /// per slot: concurrent fetches wait for it and share its token.
    tokens: Bounded<Digest, Arc<Mutex<Option<Arc<Token>>>>>,
    clock: Arc<dyn Clock>,
}

/// An access token, as sent: the base64 of Conjur's JSON token.
struct Token {
    base64: Zeroizing<String>,
    until: Instant,
}

impl Default for ConjurVault {
    fn default() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }
}

impl std::fmt::Debug for ConjurVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConjurVault").finish_non_exhaustive()
    }
}

impl ConjurVault {
    /// The backend; everything else comes from its options.
    pub fn new() -> Self {
        Self::default()
    }

    /// The backend, measuring token lifetimes on `clock` (give it the resolver's
    /// [`ManualClock`](crate::clock::ManualClock) in tests).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        ConjurVault {
            agents: Agents::default(),
            tokens: Bounded::default(),
            clock,
        }
    }
}

fn get<'a>(config: &'a VaultConfig, name: &str) -> Option<&'a str> {
    config.get(name).filter(|v| !v.is_empty())
}

fn required<'a>(config: &'a VaultConfig, name: &str) -> Result<&'a str, VaultError> {
    get(config, name).ok_or_else(|| {
        VaultError::invalid_config(format!(
            "conjur needs `{name}` (kong.conf: vault_conjur_{name})"
        ))
    })
}

/// The settings of one request.
struct Settings<'a> {
    /// `scheme://authority[/path]`, without a trailing `/`.
    base: String,
    account: &'a str,
    login: &'a str,
    api_key: &'a str,
}

impl<'a> Settings<'a> {
    fn read(config: &'a VaultConfig) -> Result<Self, VaultError> {
        let url = required(config, "endpoint_url")?;
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
        let authority = rest.split('/').next().unwrap_or_default();
        // A host name or an IP address with an optional port: no user info (`user@`), which
        // would put credentials of the URL's own into every request.
        let host_ok = !authority.is_empty()
            && authority.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
            });
        if !host_ok || rest.contains(['?', '#']) {
            return Err(VaultError::invalid_config(format!(
                "endpoint_url `{url}` is not `http[s]://host[:port][/path]`"
            )));
        }
        match get(config, "auth_method").unwrap_or("api_key") {
            "api_key" => {}
            other => {
                return Err(VaultError::invalid_config(format!(
                    "auth_method `{other}` is not supported (Kong's conjur vault takes only \
                     api_key)"
                )));
            }
        }
        Ok(Settings {
            base: format!("{scheme}://{}", rest.trim_end_matches('/')),
            account: required(config, "account")?,
            login: required(config, "login")?,
            api_key: required(config, "api_key")?,
        })
    }

    /// What identifies a token: everything that changes which token authentication gives,
    /// digested with a key of this process's, so that the cache holds no API key.
    fn token_key(&self) -> Digest {
        let mut key = DigestWriter::new();
        key.part(self.base.as_bytes())
            .part(self.account.as_bytes())
            .part(self.login.as_bytes())
            .part(self.api_key.as_bytes());
        key.finish()
    }

    fn url(&self, parts: &[&str], suffix: &str) -> String {
        let mut url = self.base.clone();
        for part in parts {
            url.push('/');
            encode_segment(part, &mut url);
        }
        url.push_str(suffix);
        url
    }
}

impl Vault for ConjurVault {
    fn options(&self) -> &'static [VaultOption] {
        OPTIONS
    }

    fn insecure_settings(&self, config: &VaultConfig) -> Vec<&'static str> {
        let mut risks = Vec::new();
        if get(config, "endpoint_url").is_some_and(|u| u.starts_with("http://")) {
            risks.push(
                "the Conjur API key and access tokens are sent over plain http (endpoint_url \
                 is http://): anyone on the network path can read them; use https",
            );
        }
        if config.flag("ssl_verify").ok().flatten() == Some(false) {
            risks.push(
                "TLS certificates are not verified (ssl_verify = off): anyone on the network \
                 path can pose as Conjur and receive the API key; set ca_cert instead",
            );
        }
        risks
    }

    fn check_config(&self, config: &VaultConfig) -> Result<(), VaultError> {
        // Only what is set is checked here: the required settings may come from a named
        // vault's own configuration, and a missing one is reported when a secret is read.
        if get(config, "endpoint_url").is_some() || get(config, "auth_method").is_some() {
            let mut probe = config.clone();
            for name in ["account", "login", "api_key"] {
                if get(config, name).is_none() {
                    probe.set(name, "x");
                }
            }
            if get(config, "endpoint_url").is_none() {
                probe.set("endpoint_url", "https://x");
            }
            Settings::read(&probe)?;
        }
        http::Settings::from_config(config).map(drop)
    }

    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        let settings = Settings::read(request.config())?;
        let agent = self
            .agents
            .get(&http::Settings::from_config(request.config())?, request)?;
        let id = request.resource();
        let suffix = request
            .version()
            .map_or_else(String::new, |v| format!("?version={v}"));
        let url = settings.url(&["secrets", settings.account, "variable", id], &suffix);

        let mut refused: Option<Arc<Token>> = None;
        loop {
            let token = self.token(
                &settings,
                &agent,
                refused.as_ref(),
                request.cache_capacity(),
            )?;
            let mut authorization = Zeroizing::new(String::with_capacity(token.base64.len() + 16));
            authorization.push_str("Token token=\"");
            authorization.push_str(&token.base64);
            authorization.push('"');
            let headers = [("Authorization", authorization.as_str()), ("Accept", "*/*")];
            let response = http::send(&agent, "GET", &url, &headers, None)?;
            match response.status {
                200 => return text(response.body, id),
                // Expired or revoked: authenticate once more.
                401 if refused.is_none() => refused = Some(token),
                status => return Err(status_error(status, &response.body, &settings, id)),
            }
        }
    }
}

impl ConjurVault {
    /// A token for these settings: the cached one while it lasts, else a new one. `refused`
    /// is a token Conjur just refused: it is replaced, unless another fetch already did.
    fn token(
        &self,
        settings: &Settings<'_>,
        agent: &ureq::Agent,
        refused: Option<&Arc<Token>>,
        capacity: usize,
    ) -> Result<Arc<Token>, VaultError> {
        let key = settings.token_key();
        let slot = match self.tokens.get(&key) {
            Some(slot) => slot,
            None => self.tokens.insert(key, Arc::default(), capacity),
        };
        let mut current = lock(&slot);
        if let Some(token) = &*current
            && refused.is_none_or(|r| !Arc::ptr_eq(r, token))
            && self.clock.now() < token.until
        {
            return Ok(token.clone());
        }
        let token = Arc::new(self.authenticate(settings, agent)?);
        *current = Some(token.clone());
        Ok(token)
    }

    fn authenticate(
        &self,
        settings: &Settings<'_>,
        agent: &ureq::Agent,
    ) -> Result<Token, VaultError> {
        let url = settings.url(
            &["authn", settings.account, settings.login],
            "/authenticate",
        );
        let headers = [
            ("Accept-Encoding", "base64"),
            ("Content-Type", "text/plain"),
        ];
        let started = self.clock.now();
        let response = http::send(
            agent,
            "POST",
            &url,
            &headers,
            Some(settings.api_key.as_bytes()),
        )?;
        if response.status != 200 {
            return Err(status_error(
                response.status,
                &response.body,
                settings,
                "", // not a variable: the login
            ));
        }
        let base64 = token_text(response.body)?;
        let lifetime = lifetime(&base64).unwrap_or(DEFAULT_LIFETIME);
        // Renewed a little before it ends; the lifetime is the server's word, bounded, and
        // added without overflow.
        let until = started
            .checked_add(lifetime.min(MAX_LIFETIME).mul_f64(0.9))
            .unwrap_or(started);
        Ok(Token { base64, until })
    }
}

/// The token as sent: Conjur answers `Accept-Encoding: base64` with the base64 text (and
/// `Content-Encoding: base64`); a server that ignores the header answers the JSON token,
/// which is encoded here. The body is moved, never copied unwiped.
fn token_text(mut body: Zeroizing<Vec<u8>>) -> Result<Zeroizing<String>, VaultError> {
    let trimmed = body.trim_ascii();
    let bad = || VaultError::bad_response("authentication answered no Conjur access token");
    if trimmed.first() == Some(&b'{') {
        let mut out = Zeroizing::new(String::with_capacity(trimmed.len().div_ceil(3) * 4));
        base64::engine::general_purpose::STANDARD.encode_string(trimmed, &mut out);
        return Ok(out);
    }
    if trimmed.is_empty()
        || !trimmed
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return Err(bad());
    }
    let (start, len) = (
        trimmed.as_ptr() as usize - body.as_ptr() as usize,
        trimmed.len(),
    );
    body.truncate(start + len);
    body.drain(..start);
    // ASCII, checked above: this cannot fail, and moves the buffer.
    String::from_utf8(std::mem::take(&mut *body))
        .map(Zeroizing::new)
        .map_err(|e| {
            drop(Zeroizing::new(e.into_bytes()));
            bad()
        })
}

/// The lifetime a token's own claims give (`exp - iat`), if they say: differences of the
/// server's times, so the clocks of the two machines need not agree.
fn lifetime(base64: &str) -> Option<Duration> {
    #[derive(Deserialize)]
    struct Jwt {
        payload: String,
    }
    #[derive(Deserialize)]
    struct Claims {
        iat: Option<u64>,
        exp: Option<u64>,
    }
    let json = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(base64)
            .ok()?,
    );
    let jwt: Jwt = serde_json::from_slice(&json).ok()?;
    // Slosilo writes base64url, with or without padding.
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let claims = lenient.decode(jwt.payload.trim()).ok()?;
    let claims: Claims = serde_json::from_slice(&claims).ok()?;
    let (iat, exp) = (claims.iat?, claims.exp?);
    exp.checked_sub(iat).map(Duration::from_secs)
}

/// A variable's value: its bytes, which must be UTF-8 text; moved, never copied.
fn text(mut body: Zeroizing<Vec<u8>>, id: &str) -> Result<Zeroizing<String>, VaultError> {
    String::from_utf8(std::mem::take(&mut *body))
        .map(Zeroizing::new)
        .map_err(|e| {
            drop(Zeroizing::new(e.into_bytes()));
            VaultError::bad_response(format!(
                "the value of variable `{id}` is not UTF-8 text (secret-ref holds secrets as text)"
            ))
        })
}

/// An error status, with Conjur's explanation when it gives one (its messages name ids,
/// never values). `id` is empty for the authentication itself.
fn status_error(status: u16, body: &[u8], settings: &Settings<'_>, id: &str) -> VaultError {
    #[derive(Deserialize)]
    struct Answer {
        error: Option<Detail>,
    }
    #[derive(Deserialize)]
    struct Detail {
        message: Option<String>,
    }
    let detail = serde_json::from_slice::<Answer>(body)
        .ok()
        .and_then(|a| a.error)
        .and_then(|e| e.message)
        .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|m| !m.is_empty());
    let (account, login) = (settings.account, settings.login);
    let (kind, what) = match (status, id.is_empty()) {
        (401, true) => (
            ErrorKind::PermissionDenied,
            format!(
                "authentication as `{login}` in account `{account}` refused (HTTP 401): check \
                 login and api_key"
            ),
        ),
        (401, false) => (
            ErrorKind::PermissionDenied,
            format!("variable `{id}`: the access token of `{login}` was refused twice (HTTP 401)"),
        ),
        (403, _) => (
            ErrorKind::PermissionDenied,
            if id.is_empty() {
                format!("authentication as `{login}` is forbidden (HTTP 403)")
            } else {
                format!("`{login}` may not read variable `{id}` (HTTP 403)")
            },
        ),
        (404, false) => (
            ErrorKind::NotFound,
            format!("variable `{id}` not found in account `{account}`"),
        ),
        (404, true) => (
            ErrorKind::InvalidConfig,
            format!(
                "no Conjur authenticator at this endpoint_url for account `{account}` (HTTP 404)"
            ),
        ),
        (502..=504, _) => (
            ErrorKind::Unreachable,
            format!("Conjur is unavailable (HTTP {status})"),
        ),
        _ => (
            ErrorKind::BadResponse,
            if id.is_empty() {
                format!("authentication as `{login}` answered HTTP {status}")
            } else {
                format!("variable `{id}` answered HTTP {status}")
            },
        ),
    };
    match detail {
        Some(d) => VaultError::new(kind, format!("{what}: {d}")),
        None => VaultError::new(kind, what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> VaultConfig {
        let mut c: VaultConfig = [
            ("endpoint_url", "https://conjur.example.com/api/"),
            ("account", "myorg"),
            ("login", "host/BotApp/app"),
            ("api_key", "k"),
        ]
        .into_iter()
        .collect();
        for (k, v) in pairs {
            c.set(*k, *v);
        }
        c
    }

    #[test]
    fn urls_encode_each_segment() {
        let c = config(&[]);
        let s = Settings::read(&c).unwrap();
        assert_eq!(
            s.url(&["authn", s.account, s.login], "/authenticate"),
            "https://conjur.example.com/api/authn/myorg/host%2FBotApp%2Fapp/authenticate"
        );
        assert_eq!(
            s.url(
                &["secrets", "myorg", "variable", "BotApp/secret Var?#"],
                "?version=2"
            ),
            "https://conjur.example.com/api/secrets/myorg/variable/BotApp%2Fsecret%20Var%3F%23?version=2"
        );
    }

    #[test]
    fn settings_are_checked() {
        let vault = ConjurVault::new();
        for (k, v) in [
            ("endpoint_url", "ftp://x"),
            ("endpoint_url", "conjur.example.com"),
            ("endpoint_url", "https://user:pw@conjur.example.com"),
            ("endpoint_url", "https://conjur.example.com/?x"),
            ("auth_method", "jwt"),
            ("ssl_verify", "maybe"),
        ] {
            let e = vault.check_config(&config(&[(k, v)])).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{k}={v}");
        }
        // Missing settings may come later (a named vault's own); reading reports them.
        let partial: VaultConfig = [("endpoint_url", "https://c")].into_iter().collect();
        assert!(vault.check_config(&partial).is_ok());
        let e = Settings::read(&partial).err().unwrap();
        assert!(e.to_string().contains("vault_conjur_account"), "{e}");
    }

    #[test]
    fn tokens_and_lifetimes() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let url = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let json = format!(
            r#"{{"protected":"x","payload":"{}","signature":"c4n4ry"}}"#,
            url(r#"{"sub":"a","iat":1000,"exp":1480}"#)
        );
        let sent = b64(&json);
        assert_eq!(lifetime(&sent), Some(Duration::from_secs(480)));
        // Already base64 (with a trailing newline) or JSON: the same token goes out.
        let body = Zeroizing::new(format!("{sent}\n").into_bytes());
        assert_eq!(&*token_text(body).unwrap(), &sent);
        let body = Zeroizing::new(json.clone().into_bytes());
        assert_eq!(&*token_text(body).unwrap(), &sent);
        let e = token_text(Zeroizing::new(b"<html>c4n4ry".to_vec()))
            .err()
            .unwrap();
        assert!(!e.to_string().contains("c4n4ry"));
        // No claims: Conjur's default applies.
        assert_eq!(lifetime(&b64(r#"{"payload":"e30"}"#)), None);
    }

    #[test]
    fn statuses() {
        let c = config(&[]);
        let s = Settings::read(&c).unwrap();
        let e = status_error(
            404,
            br#"{"error":{"code":"not_found","message":"CONJ00076E Variable myorg:variable:a is empty or not found."}}"#,
            &s,
            "a",
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("CONJ00076E"), "{e}");
        assert_eq!(
            status_error(403, b"", &s, "a").kind(),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            status_error(401, b"", &s, "").kind(),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            status_error(503, b"", &s, "a").kind(),
            ErrorKind::Unreachable
        );
        assert_eq!(
            status_error(500, b"<html>", &s, "a").kind(),
            ErrorKind::BadResponse
        );
    }
}
