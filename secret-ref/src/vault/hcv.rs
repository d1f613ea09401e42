//! The `hcv` vault: HashiCorp Vault and OpenBao, KV version 1 and 2, as Kong's `hcv` backend.
//!
//! `{vault://hcv/app/db/password}` reads the secret `app/db` from the configured mount and
//! picks its `password` field; `#2` reads version 2 (KV v2 only). The secret's data object is
//! the text a key is applied to, as in Kong.
//!
//! | Setting (kong.conf) | Option | Class | Default | Meaning |
//! |---|---|---|---|---|
//! | `vault_hcv_protocol` | `protocol` | destination | `http` | `http` or `https` |
//! | `vault_hcv_host` | `host` | destination | `127.0.0.1` | |
//! | `vault_hcv_port` | `port` | destination | `8200` | |
//! | `vault_hcv_mount` | `mount` | selector | `secret` | the KV mount (one leading/trailing `/` trimmed) |
//! | `vault_hcv_kv` | `kv` | selector | `v1` | `v1` or `v2` |
//! | `vault_hcv_namespace` | `namespace` | selector | | sent as `X-Vault-Namespace` |
//! | `vault_hcv_auth_method` | `auth_method` | identity | `token` | `token`, `approle` or `kubernetes` |
//! | `vault_hcv_token` | `token` | credential | | for `token` |
//! | `vault_hcv_approle_role_id` | `approle_role_id` | credential | | for `approle` |
//! | `vault_hcv_approle_secret_id` | `approle_secret_id` | credential | | for `approle` |
//! | `vault_hcv_approle_secret_id_file` | `approle_secret_id_file` | file | | read instead of `approle_secret_id` |
//! | `vault_hcv_approle_auth_path` | `approle_auth_path` | identity | `approle` | |
//! | `vault_hcv_approle_response_wrapping` | `approle_response_wrapping` | identity | `off` | the secret id is a wrapping token to unwrap first |
//! | `vault_hcv_kube_role` | `kube_role` | identity | | for `kubernetes` |
//! | `vault_hcv_kube_api_token_file` | `kube_api_token_file` | file | `/run/secrets/kubernetes.io/serviceaccount/token` | the service account token |
//! | `vault_hcv_kube_auth_path` | `kube_auth_path` | identity | `kubernetes` | |
//! | `vault_hcv_ca_cert` | `ca_cert` | trust | | a PEM file of CAs to trust for `https` (else the bundled Mozilla roots) |
//! | `vault_hcv_ssl_verify` | `ssl_verify` | trust | `on` | TLS verification |
//! | `vault_hcv_connect_timeout` | `connect_timeout` | tuning | `5` | seconds |
//! | `vault_hcv_read_timeout` | `read_timeout` | tuning | `10` | seconds |
//! | `vault_hcv_base64_decode` | `base64_decode` | selector | `off` | each string field of the secret is base64-decoded (Kong 3.11+) |
//!
//! A reference may set the selectors and the timeouts (`?mount=kv&namespace=team1`); the other
//! options come from settings only (see [`super::OptionClass`]). The mount may
//! not be Vault's own API (`auth/`, `sys/`, `identity/`, `cubbyhole/`); mounts, paths and
//! login paths are encoded segment by segment, and `.`, `..`, empty segments, `?` and `#` are
//! refused. A plain-`http` server or `ssl_verify = off` is reported once as insecure.
//!
//! Logins (AppRole, Kubernetes) are done once and their token is kept until its lease ends;
//! a `403` with such a token logs in again and retries once. Tokens and secret ids never
//! appear in errors or `Debug` output.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use super::decode::{BASE64_DECODE, base64_wanted, decode_base64_text};
use super::{OptionClass, Request, Vault, VaultConfig, VaultOption, file};
use crate::cache::Bounded;
use crate::digest::{Digest, DigestWriter};
use crate::error::{ErrorKind, VaultError};
use crate::http::{self, Agents, encode_segment};

/// The HashiCorp Vault / OpenBao backend; registered as `hcv` with the `hcv` feature.
#[derive(Default)]
pub struct HcvVault {
    agents: Agents,
    /// Tokens from logins, by a keyed digest of the settings that produced them (which
    /// include a secret id: the key must not hold it); the most recently used are kept.
    tokens: Bounded<Digest, Arc<Login>>,
}

struct Login {
    token: Zeroizing<String>,
    until: Option<Instant>,
}

impl std::fmt::Debug for HcvVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HcvVault").finish_non_exhaustive()
    }
}

impl HcvVault {
    /// The backend; everything else comes from its options.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Kong's settings, each with what it decides: a reference may set the selectors (which
/// secret: `mount`, `kv`, `namespace`) and the timeouts, never where the token goes, how the
/// resolver logs in, which files it reads or how TLS is checked.
const OPTIONS: &[VaultOption] = &[
    VaultOption::destination("protocol"),
    VaultOption::destination("host"),
    VaultOption::destination("port"),
    VaultOption::selector("mount"),
    VaultOption::selector("kv"),
    VaultOption::credential("token"),
    VaultOption::selector("namespace"),
    VaultOption::identity("auth_method"),
    VaultOption::identity("kube_role"),
    VaultOption::file("kube_api_token_file"),
    VaultOption::identity("kube_auth_path"),
    // AppRole's role id is half of the login, and Vault's docs ask to treat it as a secret.
    VaultOption::credential("approle_role_id"),
    VaultOption::credential("approle_secret_id"),
    VaultOption::file("approle_secret_id_file"),
    VaultOption::identity("approle_auth_path"),
    VaultOption::identity("approle_response_wrapping"),
    VaultOption::trust("ca_cert"),
    VaultOption::trust("ssl_verify"),
    VaultOption::tuning("connect_timeout"),
    VaultOption::tuning("read_timeout"),
    BASE64_DECODE,
];

/// Vault's own API, which no KV mount can be: a mount here would turn the read of a secret
/// into a call of that API with the resolver's token (`auth/token/lookup-self` answers with
/// the token itself).
const RESERVED_MOUNTS: &[&str] = &["auth", "sys", "identity", "cubbyhole"];

/// How long a login is trusted at most, whatever lease Vault announces: a hostile or broken
/// answer (`lease_duration` = 2⁶⁴ − 1) cannot overflow the clock or pin a token forever.
const MAX_LEASE: Duration = Duration::from_secs(32 * 24 * 3600);

#[derive(Clone, Copy, PartialEq)]
enum Kv {
    V1,
    V2,
}

#[derive(Clone, Copy, PartialEq)]
enum Auth {
    Token,
    AppRole,
    Kubernetes,
}

/// The settings of one request, read from the configuration.
struct Settings<'a> {
    base: String,
    /// The mount, percent-encoded segment by segment.
    mount: String,
    kv: Kv,
    namespace: Option<&'a str>,
    auth: Auth,
    config: &'a VaultConfig,
}

fn get<'a>(config: &'a VaultConfig, name: &str) -> Option<&'a str> {
    config.get(name).filter(|v| !v.is_empty())
}

impl<'a> Settings<'a> {
    fn read(config: &'a VaultConfig) -> Result<Self, VaultError> {
        let protocol = get(config, "protocol").unwrap_or("http");
        if !matches!(protocol, "http" | "https") {
            return Err(VaultError::invalid_config(format!(
                "protocol `{protocol}` is neither http nor https"
            )));
        }
        let host = get(config, "host").unwrap_or("127.0.0.1");
        // A host name or an IP address, nothing that could end the authority early.
        if !host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        }) {
            return Err(VaultError::invalid_config(format!(
                "host `{host}` is not a host name or an IP address"
            )));
        }
        let port = get(config, "port").unwrap_or("8200");
        if port.parse::<u16>().is_err() {
            return Err(VaultError::invalid_config(format!(
                "port `{port}` is not a port number"
            )));
        }
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let mount = get(config, "mount").unwrap_or("secret");
        let mount = mount.strip_prefix('/').unwrap_or(mount);
        let mount = mount.strip_suffix('/').unwrap_or(mount);
        let first = mount.split('/').next().unwrap_or_default();
        if RESERVED_MOUNTS
            .iter()
            .any(|r| first.eq_ignore_ascii_case(r))
        {
            return Err(VaultError::invalid_config(format!(
                "mount `{mount}` is Vault's own `{first}/` API, not a KV secrets engine"
            )));
        }
        let mount = encode_segments(mount, "mount")?;
        let kv = match get(config, "kv").unwrap_or("v1") {
            "v1" => Kv::V1,
            "v2" => Kv::V2,
            other => {
                return Err(VaultError::invalid_config(format!(
                    "kv `{other}` is neither v1 nor v2"
                )));
            }
        };
        let auth = match get(config, "auth_method").unwrap_or("token") {
            "token" => Auth::Token,
            "approle" => Auth::AppRole,
            "kubernetes" => Auth::Kubernetes,
            other => {
                return Err(VaultError::invalid_config(format!(
                    "auth_method `{other}` is not one of token, approle, kubernetes"
                )));
            }
        };
        config.flag("approle_response_wrapping")?;
        base64_wanted(config)?;
        Ok(Settings {
            base: format!("{protocol}://{host}:{port}"),
            mount,
            kv,
            namespace: get(config, "namespace"),
            auth,
            config,
        })
    }

    fn headers<'h>(&'h self, token: Option<&'h str>) -> Vec<(&'h str, &'h str)> {
        let mut headers = vec![("Accept", "application/json")];
        if let Some(token) = token {
            headers.push(("X-Vault-Token", token));
        }
        if let Some(ns) = self.namespace {
            headers.push(("X-Vault-Namespace", ns));
        }
        headers
    }

    /// What identifies a login: everything that changes which token it gives, digested
    /// with a key of this process's, so that the cache holds no secret id.
    fn login_key(&self) -> Digest {
        let c = self.config;
        // The options that say how to log in are those of `OPTIONS` classed identity,
        // credential or file: the one list, so that a new auth option cannot be forgotten.
        let mut key = DigestWriter::new();
        key.part(self.base.as_bytes())
            .part(self.namespace.unwrap_or("").as_bytes());
        for option in OPTIONS.iter().filter(|o| {
            matches!(
                o.class(),
                OptionClass::Identity | OptionClass::Credential | OptionClass::File
            )
        }) {
            key.part(c.get(option.name()).unwrap_or("").as_bytes());
        }
        key.finish()
    }
}

impl Vault for HcvVault {
    fn options(&self) -> &'static [VaultOption] {
        OPTIONS
    }

    fn insecure_settings(&self, config: &VaultConfig) -> Vec<&'static str> {
        let mut risks = Vec::new();
        match get(config, "protocol").unwrap_or("http") {
            "http" => risks.push(
                "the Vault token is sent over plain http (protocol = http): anyone on the \
                 network path can read it; set protocol = https",
            ),
            _ if config.flag("ssl_verify").ok().flatten() == Some(false) => risks.push(
                "TLS certificates are not verified (ssl_verify = off): anyone on the network \
                 path can pose as Vault and receive the token; set ca_cert instead",
            ),
            _ => {}
        }
        risks
    }

    fn check_config(&self, config: &VaultConfig) -> Result<(), VaultError> {
        Settings::read(config)?;
        http::Settings::from_config(config).map(drop)
    }

    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        let settings = Settings::read(request.config())?;
        let agent = self
            .agents
            .get(&http::Settings::from_config(request.config())?, request)?;
        let path = encode_segments(request.resource(), "secret path")?;
        let url = match (settings.kv, request.version()) {
            (Kv::V1, None | Some(1)) => format!("{}/v1/{}/{path}", settings.base, settings.mount),
            (Kv::V1, Some(v)) => {
                return Err(VaultError::not_found(format!(
                    "the mount `{}` is KV v1, which has no versions (#{v}); set kv = v2",
                    settings.mount
                )));
            }
            (Kv::V2, None) => format!("{}/v1/{}/data/{path}", settings.base, settings.mount),
            (Kv::V2, Some(v)) => format!(
                "{}/v1/{}/data/{path}?version={v}",
                settings.base, settings.mount
            ),
        };

        let mut relogged = false;
        loop {
            let token = self.token(&settings, &agent, relogged, request)?;
            let response = http::send(&agent, "GET", &url, &settings.headers(Some(&token)), None)?;
            match response.status {
                200 => {
                    let data = data(&response.body, settings.kv, request.resource())?;
                    return if base64_wanted(settings.config)? {
                        decode_fields(&data, request.resource())
                    } else {
                        Ok(data)
                    };
                }
                404 if settings.kv == Kv::V2 => {
                    return Err(missing(&response.body, request.resource()));
                }
                // A login token may have expired or been revoked: log in once more.
                403 if settings.auth != Auth::Token && !relogged => relogged = true,
                status => {
                    return Err(status_error(
                        status,
                        &response.body,
                        &format!("secret `{}`", request.resource()),
                    ));
                }
            }
        }
    }
}

impl HcvVault {
    /// The token to send: the configured one, or one from a (cached) login, which reads its
    /// token files within the request's `max_file_size`.
    fn token(
        &self,
        settings: &Settings<'_>,
        agent: &ureq::Agent,
        fresh: bool,
        request: &Request<'_>,
    ) -> Result<Zeroizing<String>, VaultError> {
        let (max_file_size, capacity) = (request.max_file_size(), request.cache_capacity());
        if settings.auth == Auth::Token {
            return match get(settings.config, "token") {
                Some(t) => Ok(Zeroizing::new(t.to_owned())),
                None => Err(VaultError::invalid_config(
                    "no token: set `token` (kong.conf: vault_hcv_token), or another auth_method",
                )),
            };
        }
        let key = settings.login_key();
        if let Some(login) = self.tokens.get(&key)
            && !fresh
            && login.until.is_none_or(|t| Instant::now() < t)
        {
            return Ok(login.token.clone());
        }
        let login = match settings.auth {
            Auth::AppRole => approle(settings, agent, max_file_size)?,
            Auth::Kubernetes => kubernetes(settings, agent, max_file_size)?,
            Auth::Token => unreachable!("handled above"),
        };
        let token = login.token.clone();
        self.tokens.put(key, Arc::new(login), capacity);
        Ok(token)
    }
}

#[derive(Deserialize)]
struct LoginAnswer {
    auth: Option<LoginAuth>,
}

#[derive(Deserialize)]
struct LoginAuth {
    client_token: String,
    #[serde(default)]
    lease_duration: u64,
}

fn login(
    settings: &Settings<'_>,
    agent: &ureq::Agent,
    path: &str,
    body: &[u8],
    what: &str,
) -> Result<Login, VaultError> {
    let url = format!(
        "{}/v1/auth/{}/login",
        settings.base,
        encode_segments(path.trim_matches('/'), "auth path")?
    );
    let mut headers = settings.headers(None);
    headers.push(("Content-Type", "application/json"));
    let response = http::send(agent, "POST", &url, &headers, Some(body))?;
    if response.status != 200 {
        return Err(status_error(
            response.status,
            &response.body,
            &format!("{what} login"),
        ));
    }
    let answer: LoginAnswer = serde_json::from_slice(&response.body).map_err(|e| {
        VaultError::bad_response(format!(
            "{what} login answered {}",
            crate::convert::json_error(&e)
        ))
    })?;
    let Some(auth) = answer.auth else {
        return Err(VaultError::bad_response(format!(
            "{what} login answered no token"
        )));
    };
    // Log in again a little before the lease ends. The lease is the vault's word: bounded,
    // and added without overflow.
    let until = (auth.lease_duration > 0).then(|| {
        let lease = Duration::from_secs(auth.lease_duration).min(MAX_LEASE);
        Instant::now().checked_add(lease.mul_f64(0.9))
    });
    Ok(Login {
        token: Zeroizing::new(auth.client_token),
        until: until.flatten(),
    })
}

/// A credential file named by the setting `what`: a regular file of at most `max_size`
/// bytes (so a FIFO or `/dev/zero` fails at once), UTF-8, surrounding whitespace trimmed.
/// Every failure is the setting's: [`ErrorKind::InvalidConfig`], naming the path.
fn read_file(path: &str, what: &str, max_size: u64) -> Result<Zeroizing<String>, VaultError> {
    let mut bytes = file::read(Path::new(path), max_size).map_err(|e| {
        VaultError::invalid_config(format!("cannot read {what}: {e}")).with_source(e)
    })?;
    // Moved, not copied, into a string: the one buffer is wiped however this ends.
    let mut text = match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Zeroizing::new(text),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            return Err(VaultError::invalid_config(format!(
                "cannot read {what}: {path} is not UTF-8 text"
            )));
        }
    };
    // Trimmed in place (no reallocation, so no unwiped copy).
    let end = text.trim_end().len();
    text.truncate(end);
    let start = text.len() - text.trim_start().len();
    text.drain(..start);
    Ok(text)
}

fn approle(
    settings: &Settings<'_>,
    agent: &ureq::Agent,
    max_file_size: u64,
) -> Result<Login, VaultError> {
    let c = settings.config;
    let role_id = get(c, "approle_role_id").ok_or_else(|| {
        VaultError::invalid_config(
            "approle needs `approle_role_id` (kong.conf: vault_hcv_approle_role_id)",
        )
    })?;
    let mut secret_id = match (
        get(c, "approle_secret_id"),
        get(c, "approle_secret_id_file"),
    ) {
        (Some(s), _) => Zeroizing::new(s.to_owned()),
        (None, Some(file)) => read_file(file, "approle_secret_id_file", max_file_size)?,
        (None, None) => {
            return Err(VaultError::invalid_config(
                "approle needs `approle_secret_id` or `approle_secret_id_file`",
            ));
        }
    };
    if c.flag("approle_response_wrapping")?.unwrap_or(false) {
        secret_id = unwrap_secret_id(settings, agent, &secret_id)?;
    }
    let body = json_body(&[("role_id", role_id), ("secret_id", &secret_id)]);
    let path = get(c, "approle_auth_path").unwrap_or("approle");
    login(settings, agent, path, &body, "approle")
}

/// With response wrapping, the configured secret id is a single-use wrapping token.
fn unwrap_secret_id(
    settings: &Settings<'_>,
    agent: &ureq::Agent,
    wrapping: &str,
) -> Result<Zeroizing<String>, VaultError> {
    #[derive(Deserialize)]
    struct Unwrapped {
        data: Option<UnwrappedData>,
    }
    #[derive(Deserialize)]
    struct UnwrappedData {
        secret_id: String,
    }
    let url = format!("{}/v1/sys/wrapping/unwrap", settings.base);
    let response = http::send(
        agent,
        "POST",
        &url,
        &settings.headers(Some(wrapping)),
        Some(b"{}"),
    )?;
    if response.status != 200 {
        return Err(status_error(
            response.status,
            &response.body,
            "unwrapping the approle secret id",
        ));
    }
    let answer: Unwrapped = serde_json::from_slice(&response.body).map_err(|e| {
        VaultError::bad_response(format!(
            "unwrap answered {}",
            crate::convert::json_error(&e)
        ))
    })?;
    answer
        .data
        .map(|d| Zeroizing::new(d.secret_id))
        .ok_or_else(|| VaultError::bad_response("unwrap answered no secret_id"))
}

/// A login body, `{"name":"value",...}`, written into a buffer sized for the worst case (every
/// character escaped as `\uXXXX`), so that the credentials in it are not copied by growing,
/// and wiped when dropped. (`json!` would copy each value into a `String` freed unwiped.)
fn json_body(fields: &[(&str, &str)]) -> Zeroizing<Vec<u8>> {
    let worst: usize = fields
        .iter()
        .map(|(k, v)| 6 * (k.len() + v.len()) + 6)
        .sum();
    let mut body = Zeroizing::new(Vec::with_capacity(worst + 2));
    body.push(b'{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        // Writing a `&str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *body, name);
        body.push(b':');
        let _ = serde_json::to_writer(&mut *body, value);
    }
    body.push(b'}');
    body
}

const KUBE_TOKEN_FILE: &str = "/run/secrets/kubernetes.io/serviceaccount/token";

fn kubernetes(
    settings: &Settings<'_>,
    agent: &ureq::Agent,
    max_file_size: u64,
) -> Result<Login, VaultError> {
    let c = settings.config;
    let role = get(c, "kube_role").ok_or_else(|| {
        VaultError::invalid_config(
            "kubernetes auth needs `kube_role` (kong.conf: vault_hcv_kube_role)",
        )
    })?;
    let file = get(c, "kube_api_token_file").unwrap_or(KUBE_TOKEN_FILE);
    let jwt = read_file(file, "kube_api_token_file", max_file_size)?;
    let body = json_body(&[("jwt", &jwt), ("role", role)]);
    let path = get(c, "kube_auth_path").unwrap_or("kubernetes");
    login(settings, agent, path, &body, "kubernetes")
}

/// A Vault path (a mount, a secret's path) for a URL: each `/`-separated segment
/// percent-encoded on its own, so that `%2F`, `?` or `#` in a name cannot change the request.
/// Empty, `.` and `..` segments are refused, as are `?` and `#`, which Vault's paths never
/// hold and whose only use here would be to cut the URL.
fn encode_segments(path: &str, what: &str) -> Result<String, VaultError> {
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        let problem = match segment {
            "" => Some("an empty segment"),
            "." | ".." => Some("a `.` or `..` segment"),
            s if s.contains(['?', '#']) => Some("`?` or `#`"),
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(VaultError::invalid_config(format!(
                "the {what} `{path}` has {problem}"
            )));
        }
        if i > 0 {
            out.push('/');
        }
        encode_segment(segment, &mut out);
    }
    Ok(out)
}

#[derive(Deserialize)]
struct V1<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct V2<'a> {
    #[serde(borrow)]
    data: Option<V1<'a>>,
}

/// The secret's data object, as JSON text.
fn data(body: &[u8], kv: Kv, resource: &str) -> Result<Zeroizing<String>, VaultError> {
    let bad = |e: serde_json::Error| {
        VaultError::bad_response(format!(
            "the answer for secret `{resource}` is not what Vault sends: {}",
            crate::convert::json_error(&e)
        ))
    };
    let raw = match kv {
        Kv::V1 => serde_json::from_slice::<V1<'_>>(body).map_err(bad)?.data,
        Kv::V2 => serde_json::from_slice::<V2<'_>>(body)
            .map_err(bad)?
            .data
            .and_then(|d| d.data),
    };
    match raw.map(|r| r.get().trim()) {
        Some(text) if text.starts_with('{') => Ok(Zeroizing::new(text.to_owned())),
        Some("null") | None => Err(VaultError::not_found(format!(
            "secret `{resource}` has no data (deleted or destroyed version)"
        ))),
        Some(_) => Err(VaultError::bad_response(format!(
            "the data of secret `{resource}` is not a JSON object"
        ))),
    }
}

/// `base64_decode` for a KV secret: the data object with each string field decoded (numbers,
/// booleans, objects, lists and `null` kept as they are), so that `/key` reads a decoded value.
/// The object is rewritten field by field into a buffer sized for the worst case, so that the
/// decoded values are not copied by growing; failures name the field, never its value.
fn decode_fields(object: &str, resource: &str) -> Result<Zeroizing<String>, VaultError> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    use std::borrow::Cow;

    struct Fields;
    impl<'de> Visitor<'de> for Fields {
        type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut fields = Vec::new();
            while let Some(name) = map.next_key::<Cow<'de, str>>()? {
                fields.push((name, map.next_value::<&'de RawValue>()?));
            }
            Ok(fields)
        }
    }
    let fields = serde_json::Deserializer::from_str(object)
        .deserialize_map(Fields)
        .map_err(|e| {
            VaultError::bad_response(format!(
                "secret `{resource}` is not a JSON object: {}",
                crate::convert::json_error(&e)
            ))
        })?;
    // A decoded value is shorter than its text; escaped, each byte takes at most 6.
    let mut out = Zeroizing::new(Vec::with_capacity(6 * object.len() + 2));
    out.push(b'{');
    for (i, (name, raw)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, name);
        out.push(b':');
        let text = raw.get().trim();
        if text.starts_with('"') {
            let value = serde_json::from_str::<String>(text)
                .map(Zeroizing::new)
                .map_err(|e| VaultError::bad_response(crate::convert::json_error(&e).0))?;
            let decoded =
                decode_base64_text(&value, &format!("field `{name}` of secret `{resource}`"))?;
            let _ = serde_json::to_writer(&mut *out, decoded.as_str());
        } else {
            out.extend_from_slice(text.as_bytes());
        }
    }
    out.push(b'}');
    // JSON written from `&str`s is UTF-8: this moves the buffer.
    String::from_utf8(std::mem::take(&mut *out))
        .map(Zeroizing::new)
        .map_err(|e| {
            drop(Zeroizing::new(e.into_bytes()));
            VaultError::bad_response(format!("secret `{resource}` could not be re-encoded"))
        })
}

/// KV v2 answers 404 both for a missing secret and for a deleted or destroyed version; the
/// metadata in the body tells them apart.
fn missing(body: &[u8], resource: &str) -> VaultError {
    #[derive(Deserialize)]
    struct Answer {
        data: Option<Data>,
    }
    #[derive(Deserialize)]
    struct Data {
        metadata: Option<Metadata>,
    }
    #[derive(Deserialize)]
    struct Metadata {
        #[serde(default)]
        deletion_time: String,
        #[serde(default)]
        destroyed: bool,
        version: Option<u64>,
    }
    let metadata = serde_json::from_slice::<Answer>(body)
        .ok()
        .and_then(|a| a.data)
        .and_then(|d| d.metadata);
    match metadata {
        Some(m) if m.destroyed || !m.deletion_time.is_empty() => VaultError::not_found(format!(
            "version {} of secret `{resource}` is {} (deleted or destroyed versions cannot be read)",
            m.version.map_or_else(|| "?".to_owned(), |v| v.to_string()),
            if m.destroyed { "destroyed" } else { "deleted" },
        )),
        _ => VaultError::not_found(format!("secret `{resource}` not found")),
    }
}

/// An error status, with Vault's own explanation (its `errors` never quote secrets).
fn status_error(status: u16, body: &[u8], what: &str) -> VaultError {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<String>,
    }
    let detail = serde_json::from_slice::<Errors>(body)
        .ok()
        .map(|e| {
            e.errors
                .iter()
                .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|d| !d.is_empty());
    let kind = match status {
        404 => ErrorKind::NotFound,
        401 | 403 => ErrorKind::PermissionDenied,
        // Sealed, standby or starting: the vault is there but cannot answer.
        503 => ErrorKind::Unreachable,
        _ => ErrorKind::BadResponse,
    };
    let message = match (kind, detail) {
        (ErrorKind::NotFound, None) => format!("{what} not found"),
        (_, Some(d)) => format!("{what}: HTTP {status}: {d}"),
        (_, None) => format!("{what}: HTTP {status}"),
    };
    VaultError::new(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_objects() {
        let v2 = br#"{"data":{"data":{"password":"p","n":1},"metadata":{"version":1}}}"#;
        assert_eq!(
            &*data(v2, Kv::V2, "x").unwrap(),
            r#"{"password":"p","n":1}"#
        );
        let v1 = br#"{"lease_duration":1,"data":{"user":"u"}}"#;
        assert_eq!(&*data(v1, Kv::V1, "x").unwrap(), r#"{"user":"u"}"#);
        let deleted = br#"{"data":{"data":null,"metadata":{"version":1}}}"#;
        assert_eq!(
            data(deleted, Kv::V2, "x").unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let err = data(br#"{"data": c4n4ry"#, Kv::V1, "x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadResponse);
        assert!(!err.to_string().contains("c4n4ry"));
    }

    #[test]
    fn base64_fields() {
        let object = r#"{"cert":"aGVsbG8=","n":1,"b":true,"o":{"x":"eQ=="},"u":"w6k\n"}"#;
        let decoded = decode_fields(object, "s").unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&decoded).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"cert":"hello","n":1,"b":true,"o":{"x":"eQ=="},"u":"é"})
        );
        let e = decode_fields(r#"{"ok":"aGk=","bad":"c4n4ry!"}"#, "s").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadResponse);
        assert!(
            e.to_string()
                .starts_with("field `bad` of secret `s` is not base64"),
            "{e}"
        );
        assert!(!format!("{e:?}").contains("c4n4ry"));
    }

    #[test]
    fn login_bodies_are_json() {
        let body = json_body(&[("role_id", "r"), ("secret_id", "q\"\\\u{1}é")]);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"role_id": "r", "secret_id": "q\"\\\u{1}é"})
        );
        assert!(body.capacity() >= body.len());
    }

    #[test]
    fn status_errors() {
        let e = status_error(404, br#"{"errors":[]}"#, "secret `a`");
        assert_eq!(
            (e.kind(), e.to_string().as_str()),
            (ErrorKind::NotFound, "secret `a` not found")
        );
        let e = status_error(
            403,
            b"{\"errors\":[\"1 error occurred:\\n\\t* permission denied\\n\\n\"]}",
            "secret `a`",
        );
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert_eq!(
            e.to_string(),
            "secret `a`: HTTP 403: 1 error occurred: * permission denied"
        );
        assert_eq!(status_error(503, b"", "x").kind(), ErrorKind::Unreachable);
        assert_eq!(
            status_error(500, b"<html>", "x").kind(),
            ErrorKind::BadResponse
        );
    }

    #[test]
    fn settings_are_checked() {
        let vault = HcvVault::new();
        for (k, v) in [
            ("protocol", "ftp"),
            ("port", "http"),
            ("kv", "v3"),
            ("auth_method", "ldap"),
            ("ssl_verify", "maybe"),
        ] {
            let config: VaultConfig = [(k, v)].into_iter().collect();
            assert_eq!(
                vault.check_config(&config).unwrap_err().kind(),
                ErrorKind::InvalidConfig,
                "{k}"
            );
        }
        let ok: VaultConfig = [("mount", "/kv/"), ("kv", "v2")].into_iter().collect();
        assert!(vault.check_config(&ok).is_ok());
        assert_eq!(Settings::read(&ok).unwrap().mount, "kv");
    }
}
