//! The `aws` vault: AWS Secrets Manager, as Kong's `aws` backend.
//!
//! `{vault://aws/prod/db/password}` calls `GetSecretValue` for the secret `prod/db` and picks
//! the `password` field of its JSON. No version (or `#1`) reads the `AWSCURRENT` stage, `#2`
//! reads `AWSPREVIOUS`. A binary secret (`SecretBinary`) is returned as its bytes, which must
//! be UTF-8 text.
//!
//! | Setting (kong.conf) | Option | Class | Default | Meaning |
//! |---|---|---|---|---|
//! | `vault_aws_region` | `region` | selector | `AWS_REGION`, then `AWS_DEFAULT_REGION` | required; a region name such as `eu-west-1` |
//! | `vault_aws_endpoint_url` | `endpoint_url` | destination | `https://secretsmanager.<region>.amazonaws.com` | only scheme, host and port are used |
//! | `vault_aws_assume_role_arn` | `assume_role_arn` | identity | | assume this role (STS `AssumeRole`) with the chain's credentials |
//! | `vault_aws_role_session_name` | `role_session_name` | identity | `KongVault` | |
//! | `vault_aws_sts_endpoint_url` | `sts_endpoint_url` | destination | STS's | for `assume_role_arn` |
//! | `vault_aws_ca_cert` | `ca_cert` | trust | | a PEM file of CAs to trust (else the bundled Mozilla roots) |
//! | `vault_aws_ssl_verify` | `ssl_verify` | trust | `on` | |
//! | `vault_aws_connect_timeout` | `connect_timeout` | tuning | `5` | seconds |
//! | `vault_aws_read_timeout` | `read_timeout` | tuning | `10` | seconds |
//! | `vault_aws_base64_decode` | `base64_decode` | selector | `off` | the secret is base64-decoded, before `/key` (Kong 3.11+) |
//!
//! A reference may choose the region and the timeouts (`?region=eu-west-1`); where signed
//! requests go and which role is assumed come from settings only (see
//! [`OptionClass`](super::OptionClass)). An `http://` endpoint or `ssl_verify = off` is
//! reported once as insecure.
//!
//! Credentials come from the standard AWS chain, through AWS's own `aws-config`: the
//! environment (`AWS_ACCESS_KEY_ID`, ...), the shared profile files (`AWS_PROFILE`,
//! `role_arn`/`source_profile`, ...), web identity (`AWS_WEB_IDENTITY_TOKEN_FILE`), the
//! container credentials (ECS, EKS Pod Identity) and the instance metadata (IMDSv2). They are
//! kept until five minutes before they expire. The chain's own STS calls (a profile's
//! `role_arn`, web identity) follow AWS's `AWS_ENDPOINT_URL_STS`. Requests are signed with
//! AWS's `aws-sigv4`.
//! No async runtime is involved (see `runtime.rs`).

mod runtime;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::decode::{BASE64_DECODE, apply_base64_decode, base64_wanted};
use super::{Request, Vault, VaultConfig, VaultOption};
use crate::cache::{Bounded, lock};
use crate::error::{ErrorKind, VaultError};
use crate::http::{self, Agents};

/// Kong's settings, each with what it decides: a reference may choose the region (which
/// secret) and the timeouts, never where signed requests go, which role is assumed, or how
/// TLS is checked.
const OPTIONS: &[VaultOption] = &[
    VaultOption::selector("region"),
    VaultOption::destination("endpoint_url"),
    VaultOption::identity("assume_role_arn"),
    VaultOption::identity("role_session_name"),
    VaultOption::destination("sts_endpoint_url"),
    VaultOption::trust("ca_cert"),
    VaultOption::trust("ssl_verify"),
    VaultOption::tuning("connect_timeout"),
    VaultOption::tuning("read_timeout"),
    BASE64_DECODE,
];

/// Credentials are refreshed this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

pub use aws_credential_types::Credentials;
pub use aws_credential_types::provider::ProvideCredentials as ProvideAwsCredentials;

/// The AWS Secrets Manager backend; registered as `aws` with the `aws` feature.
///
/// ```no_run
/// use secret_ref::Resolver;
/// use secret_ref::vault::aws::{AwsVault, Credentials};
///
/// // Credentials of your own instead of the AWS chain (assume_role_arn still applies).
/// let vault = AwsVault::with_credentials(Credentials::new("AKID", "SECRET", None, None, "mine"));
/// let resolver = Resolver::builder()
///     .vault("aws", vault)
///     .configure("aws", "region", "eu-west-1")
///     .build()?;
/// let password = resolver.get("{vault://aws/prod/db/password}")?;
/// # Ok::<(), secret_ref::Error>(())
/// ```
#[derive(Default)]
pub struct AwsVault {
    agents: Agents,
    /// Where credentials come from, instead of the AWS chain.
    source: Option<SharedCredentialsProvider>,
    /// Credential providers and their last credentials, by the settings that shape them
    /// (the most recently used are kept).
    providers: Bounded<ProviderKey, Arc<Provider>>,
}

impl std::fmt::Debug for AwsVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsVault").finish_non_exhaustive()
    }
}

impl AwsVault {
    /// The backend; everything else comes from its options and the AWS environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// The backend with fixed credentials instead of the AWS chain.
    pub fn with_credentials(credentials: Credentials) -> Self {
        Self::with_credentials_provider(credentials)
    }

    /// The backend with a credentials provider of your own instead of the AWS chain.
    pub fn with_credentials_provider(provider: impl ProvideAwsCredentials + 'static) -> Self {
        AwsVault {
            source: Some(SharedCredentialsProvider::new(provider)),
            ..Self::default()
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct ProviderKey {
    region: String,
    assume_role_arn: Option<String>,
    role_session_name: Option<String>,
    sts_endpoint_url: Option<String>,
}

struct Provider {
    provider: SharedCredentialsProvider,
    current: Mutex<Option<Credentials>>,
}

fn get<'a>(config: &'a VaultConfig, name: &str) -> Option<&'a str> {
    config.get(name).filter(|v| !v.is_empty())
}

fn region(config: &VaultConfig) -> Result<String, VaultError> {
    let region = get(config, "region")
        .map(str::to_owned)
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
        .or_else(|| {
            std::env::var("AWS_DEFAULT_REGION")
                .ok()
                .filter(|r| !r.is_empty())
        })
        .ok_or_else(|| {
            VaultError::invalid_config(
                "aws secret manager requires a region: set `region` (kong.conf: \
                 vault_aws_region), AWS_REGION or AWS_DEFAULT_REGION",
            )
        })?;
    check_region(&region)?;
    Ok(region)
}

/// A region goes into the endpoint's host name (`secretsmanager.<region>.amazonaws.com`), so
/// it must be a region name (`eu-west-1`, `us-gov-east-1`, `cn-north-1`): lower-case words
/// joined by `-`, ending with a number. `evil.example/` would otherwise choose the host.
fn check_region(region: &str) -> Result<(), VaultError> {
    let parts: Vec<&str> = region.split('-').collect();
    let valid = region.len() <= 64
        && parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(VaultError::invalid_config(format!(
            "region `{region}` is not an AWS region name (such as eu-west-1)"
        )))
    }
}

/// Kong uses only the scheme, host and port of `endpoint_url`.
fn endpoint(config: &VaultConfig, region: &str) -> Result<String, VaultError> {
    let Some(url) = get(config, "endpoint_url") else {
        return Ok(format!("https://secretsmanager.{region}.amazonaws.com"));
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
    if authority.is_empty() {
        return Err(VaultError::invalid_config(format!(
            "endpoint_url `{url}` has no host"
        )));
    }
    Ok(format!("{scheme}://{authority}"))
}

fn stage(version: Option<u32>) -> Result<&'static str, VaultError> {
    match version {
        None | Some(1) => Ok("AWSCURRENT"),
        Some(2) => Ok("AWSPREVIOUS"),
        Some(v) => Err(VaultError::not_found(format!(
            "invalid version for aws secret manager: #{v} (#1 is AWSCURRENT, #2 AWSPREVIOUS)"
        ))),
    }
}

impl Vault for AwsVault {
    fn options(&self) -> &'static [VaultOption] {
        OPTIONS
    }

    fn check_config(&self, config: &VaultConfig) -> Result<(), VaultError> {
        base64_wanted(config)?;
        if let Some(region) = get(config, "region") {
            check_region(region)?;
        }
        if get(config, "endpoint_url").is_some() {
            endpoint(config, "us-east-1")?;
        }
        if let Some(url) = get(config, "sts_endpoint_url") {
            let sts: VaultConfig = [("endpoint_url", url)].into_iter().collect();
            endpoint(&sts, "us-east-1").map_err(|e| {
                VaultError::invalid_config(e.message().replacen(
                    "endpoint_url",
                    "sts_endpoint_url",
                    1,
                ))
            })?;
        }
        http::Settings::from_config(config).map(drop)
    }

    fn insecure_settings(&self, config: &VaultConfig) -> Vec<&'static str> {
        let mut risks = Vec::new();
        let plain = |name| get(config, name).is_some_and(|u| u.starts_with("http://"));
        if plain("endpoint_url") || plain("sts_endpoint_url") {
            risks.push(
                "signed AWS requests, with the session token, are sent over plain http \
                 (endpoint_url or sts_endpoint_url is http://): anyone on the network path \
                 can read and replay them; use https",
            );
        }
        if config.flag("ssl_verify").ok().flatten() == Some(false) {
            risks.push(
                "TLS certificates are not verified (ssl_verify = off): anyone on the network \
                 path can pose as AWS and receive signed requests; set ca_cert instead",
            );
        }
        risks
    }

    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        let config = request.config();
        let region = region(config)?;
        let stage = stage(request.version())?;
        let url = format!("{}/", endpoint(config, &region)?);
        let agent = self
            .agents
            .get(&http::Settings::from_config(config)?, request)?;
        let credentials = self.credentials(config, &region, request.cache_capacity())?;

        let body = serde_json::to_vec(&serde_json::json!({
            "SecretId": request.resource(),
            "VersionStage": stage,
        }))
        .expect("JSON of strings");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "secretsmanager.GetSecretValue"),
        ];
        let signed = sign(&credentials, &region, "POST", &url, &headers, &body)?;
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.extend(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let response = http::send(&agent, "POST", &url, &all, Some(&body))?;
        if response.status != 200 {
            return Err(service_error(
                response.status,
                &response.body,
                request.resource(),
            ));
        }
        let secret = secret_text(&response.body, request.resource())?;
        apply_base64_decode(config, secret, &format!("secret `{}`", request.resource()))
    }
}

impl AwsVault {
    fn credentials(
        &self,
        config: &VaultConfig,
        region: &str,
        capacity: usize,
    ) -> Result<Credentials, VaultError> {
        let key = ProviderKey {
            region: region.to_owned(),
            assume_role_arn: get(config, "assume_role_arn").map(str::to_owned),
            role_session_name: get(config, "role_session_name").map(str::to_owned),
            sts_endpoint_url: get(config, "sts_endpoint_url").map(str::to_owned),
        };
        let provider = match self.providers.get(&key) {
            Some(p) => p,
            None => {
                // Built without a lock held (it reads the AWS profile files).
                let p = Arc::new(Provider {
                    provider: provider(&key, self.source.clone()),
                    current: Mutex::new(None),
                });
                self.providers.insert(key, p, capacity)
            }
        };
        // One refresh at a time per provider: concurrent fetches wait for it.
        let mut current = lock(&provider.current);
        if let Some(c) = &*current {
            let fresh = c
                .expiry()
                .is_none_or(|t| SystemTime::now() + REFRESH_BEFORE < t);
            if fresh {
                return Ok(c.clone());
            }
        }
        let credentials =
            pollster::block_on(provider.provider.provide_credentials()).map_err(|e| {
                VaultError::permission_denied(format!("no AWS credentials: {}", chain(&e)))
            })?;
        *current = Some(credentials.clone());
        Ok(credentials)
    }
}

/// An error and its causes on one line, each said once (AWS errors repeat their source).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut at = Some(e);
    while let Some(err) = at {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        at = err.source();
    }
    parts.join(": ")
}

/// AWS's default chain (or the vault's own source), with `AssumeRole` on top of it if set,
/// through the blocking runtime.
fn provider(
    key: &ProviderKey,
    source: Option<SharedCredentialsProvider>,
) -> SharedCredentialsProvider {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(SharedHttpClient::new(runtime::UreqClient))
        .sleep_impl(SharedAsyncSleep::new(runtime::ThreadSleep))
        .region(Region::new(key.region.clone()));
    if let Some(url) = &key.sts_endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    if let Some(source) = &source {
        loader = loader.credentials_provider(source.clone());
    }
    let sdk: SdkConfig = pollster::block_on(loader.load());
    let chain = sdk
        .credentials_provider()
        .expect("the default loader always sets a credentials provider");
    match &key.assume_role_arn {
        None => chain,
        Some(arn) => {
            let session = key.role_session_name.as_deref().unwrap_or("KongVault");
            SharedCredentialsProvider::new(pollster::block_on(
                aws_config::sts::AssumeRoleProvider::builder(arn)
                    .session_name(session)
                    .region(Region::new(key.region.clone()))
                    .configure(&sdk)
                    .build(),
            ))
        }
    }
}

/// SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`) for a request.
fn sign(
    credentials: &Credentials,
    region: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<(String, String)>, VaultError> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;

    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("secretsmanager")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| VaultError::invalid_config(format!("cannot sign the request: {e}")))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| VaultError::invalid_config(format!("cannot sign the request: {e}")))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| VaultError::invalid_config(format!("cannot sign the request: {e}")))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Secret {
    secret_string: Option<String>,
    secret_binary: Option<String>,
}

fn secret_text(body: &[u8], resource: &str) -> Result<Zeroizing<String>, VaultError> {
    let secret: Secret = serde_json::from_slice(body).map_err(|e| {
        VaultError::bad_response(format!(
            "GetSecretValue for `{resource}` answered {}",
            crate::convert::json_error(&e)
        ))
    })?;
    // Both fields are moved into `Zeroizing` before anything can fail.
    let string = secret.secret_string.map(Zeroizing::new);
    let binary = secret.secret_binary.map(Zeroizing::new);
    match (string, binary) {
        (Some(text), _) => Ok(text),
        (None, Some(b64)) => {
            let bytes =
                Zeroizing::new(aws_smithy_types::base64::decode(b64.as_str()).map_err(|_| {
                    VaultError::bad_response(format!("SecretBinary of `{resource}` is not base64"))
                })?);
            match std::str::from_utf8(&bytes) {
                Ok(text) => Ok(Zeroizing::new(text.to_owned())),
                Err(_) => Err(VaultError::bad_response(format!(
                    "SecretBinary of `{resource}` is not UTF-8 text"
                ))),
            }
        }
        (None, None) => Err(VaultError::not_found(format!(
            "secret `{resource}` has neither SecretString nor SecretBinary"
        ))),
    }
}

/// An AWS error: the kind from `__type` (AWS answers 400 for most, moto 404 for some), with
/// AWS's message, which never quotes the secret.
fn service_error(status: u16, body: &[u8], resource: &str) -> VaultError {
    #[derive(Deserialize)]
    struct AwsError {
        #[serde(rename = "__type")]
        kind: Option<String>,
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    let parsed = serde_json::from_slice::<AwsError>(body).ok();
    let kind = parsed
        .as_ref()
        .and_then(|e| e.kind.as_deref())
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned());
    let message = parsed.and_then(|e| e.message).unwrap_or_default();
    let error_kind = match kind.as_deref() {
        Some("ResourceNotFoundException") => ErrorKind::NotFound,
        Some(
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "IncompleteSignature"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "MissingAuthenticationToken"
            | "DecryptionFailure",
        ) => ErrorKind::PermissionDenied,
        Some("InternalServiceError" | "ServiceUnavailable" | "ThrottlingException") => {
            ErrorKind::Unreachable
        }
        None if status == 403 => ErrorKind::PermissionDenied,
        None if status >= 500 => ErrorKind::Unreachable,
        _ => ErrorKind::BadResponse,
    };
    let what = kind.unwrap_or_else(|| format!("HTTP {status}"));
    let text = if message.is_empty() {
        format!("GetSecretValue for `{resource}`: {what}")
    } else {
        format!("GetSecretValue for `{resource}`: {what}: {message}")
    };
    VaultError::new(error_kind, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_endpoints_errors() {
        assert_eq!(stage(None).unwrap(), "AWSCURRENT");
        assert_eq!(stage(Some(1)).unwrap(), "AWSCURRENT");
        assert_eq!(stage(Some(2)).unwrap(), "AWSPREVIOUS");
        assert!(stage(Some(3)).is_err());
        let c: VaultConfig = [("endpoint_url", "http://127.0.0.1:5000/ignored?x")]
            .into_iter()
            .collect();
        assert_eq!(endpoint(&c, "eu-west-1").unwrap(), "http://127.0.0.1:5000");
        assert_eq!(
            endpoint(&VaultConfig::new(), "eu-west-1").unwrap(),
            "https://secretsmanager.eu-west-1.amazonaws.com"
        );
        let e = service_error(
            400,
            br#"{"__type":"com.amazonaws#ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}"#,
            "a",
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "GetSecretValue for `a`: ResourceNotFoundException: Secrets Manager can't find the specified secret."
        );
        assert_eq!(
            service_error(403, b"<html>", "a").kind(),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            service_error(500, b"<html>", "a").kind(),
            ErrorKind::Unreachable
        );
    }

    #[test]
    fn secret_payloads() {
        assert_eq!(&*secret_text(br#"{"SecretString":"s"}"#, "a").unwrap(), "s");
        assert_eq!(
            &*secret_text(br#"{"SecretBinary":"aGVsbG8="}"#, "a").unwrap(),
            "hello"
        );
        let e = secret_text(br#"{"SecretBinary":"//79"}"#, "a").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadResponse);
        assert_eq!(
            secret_text(b"{}", "a").unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }
}
