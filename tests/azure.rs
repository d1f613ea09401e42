//! The `azure` vault against the fake Azure Key Vault of `.ci/fake_azure.py`, which
//! Microsoft's own clients read first (`official_client_azure_*`), so that the fake is known
//! to answer as Azure does before the backend is tested against it.
//!
//! Every test needs the servers of `.ci/servers.sh` (CI runs these with `--ignored`) and fails
//! without them. Each test registers its own app or uses secret names of its own.
#![cfg(feature = "azure")]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{call, unique};
use secret_ref::clock::ManualClock;
use secret_ref::kong_conf::Loader;
use secret_ref::vault::azure::AzureVault;
use secret_ref::{ErrorKind, ResolveSecrets, Resolver, Secret};
use serde::Deserialize;
use serde_json::{Value, json};

/// A server variable; the tests fail without it.
fn var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => {
            panic!("{name} is not set: run `source .ci/servers.sh; install_servers; start_servers`")
        }
    }
}

/// The fake of `.ci/fake_azure.py`, as `start_servers` exported it.
struct Azure {
    vault_url: String,
    authority: String,
    tenant: String,
    client_id: String,
    client_secret: String,
    cacert: String,
    local: String,
}

impl Azure {
    fn new() -> Azure {
        Azure {
            vault_url: var("SECRET_REF_TEST_AZURE_VAULT_URL"),
            authority: var("SECRET_REF_TEST_AZURE_AUTHORITY"),
            tenant: var("SECRET_REF_TEST_AZURE_TENANT_ID"),
            client_id: var("SECRET_REF_TEST_AZURE_CLIENT_ID"),
            client_secret: var("SECRET_REF_TEST_AZURE_CLIENT_SECRET"),
            cacert: var("SECRET_REF_TEST_AZURE_CACERT"),
            local: var("SECRET_REF_TEST_AZURE_LOCAL_URL"),
        }
    }

    fn admin(&self, path: &str, body: Value) -> Value {
        let (status, answer) = call(
            "POST",
            &format!("{}/_fake/{path}", self.local),
            &[],
            Some(body),
        );
        assert!(status < 300, "{path}: {status} {answer}");
        answer
    }

    /// Adds a version of a secret; returns its version id.
    fn seed(&self, name: &str, value: &str) -> String {
        let answer = self.admin(&format!("secrets/{name}"), json!({"value": value}));
        answer["id"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    }

    /// An app registration of the test's own; returns its client id.
    fn app(&self, secret: &str, expires_in: Option<u64>) -> String {
        let client_id = uuid_like();
        self.admin(
            "apps",
            json!({"client_id": client_id, "client_secret": secret, "expires_in": expires_in}),
        );
        client_id
    }

    /// The requests the fake recorded, filtered (`kind=token&client_id=...`).
    fn requests(&self, filter: &str) -> Vec<Value> {
        let (status, answer) = call(
            "GET",
            &format!("{}/_fake/requests?{filter}", self.local),
            &[],
            None,
        );
        assert_eq!(status, 200, "{answer}");
        answer.as_array().unwrap().clone()
    }

    fn count(&self, filter: &str) -> usize {
        self.requests(filter).len()
    }

    /// kong.conf settings that reach the fake (the client secret comes from the environment).
    fn settings(&self, client_id: &str) -> String {
        format!(
            "vault_azure_vault_uri = {}\nvault_azure_tenant_id = {}\nvault_azure_client_id = {client_id}\n\
             vault_azure_ca_cert = {}\n",
            self.vault_url, self.tenant, self.cacert
        )
    }

    /// The vault, with the environment it would read: the client secret and the authority.
    fn vault(&self, secret: &str) -> AzureVault {
        AzureVault::with_env([
            ("AZURE_CLIENT_SECRET", secret),
            ("AZURE_AUTHORITY_HOST", self.authority.as_str()),
        ])
    }

    fn resolver(&self) -> Resolver {
        resolver(
            &self.settings(&self.client_id),
            self.vault(&self.client_secret),
        )
    }
}

/// A client id no other test uses.
fn uuid_like() -> String {
    let n = unique("app");
    let digits: String = n.chars().filter(char::is_ascii_digit).collect();
    format!("{:0>32}", &digits[digits.len().saturating_sub(32)..])
}

fn resolver(settings: &str, vault: AzureVault) -> Resolver {
    resolver_on(settings, vault, Arc::new(ManualClock::new()))
}

fn resolver_on(settings: &str, vault: AzureVault, clock: Arc<ManualClock>) -> Resolver {
    let conf = Loader::new().text("kong.conf", settings).load().unwrap();
    conf.apply_to(
        Resolver::builder()
            .vault("azure", vault.with_clock(clock.clone()))
            .clock(clock),
    )
    .unwrap()
    .build()
    .unwrap()
}

fn get(r: &Resolver, reference: &str) -> Result<String, secret_ref::Error> {
    r.get(reference).map(|s| s.expose_secret().clone())
}

/// Runs `.ci/official_clients/azure.py` with the virtualenv's Python; returns its JSON.
fn official_client(args: &[&str], env: &[(&str, &str)]) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../.ci/official_clients/azure.py"
    );
    let mut command = Command::new(var("SECRET_REF_TEST_PYTHON"));
    command.arg(script).args(args);
    for proxy in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(proxy);
    }
    for mi in [
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    ] {
        command.env_remove(mi);
    }
    command.envs(env.iter().copied());
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "official client {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Microsoft's clients (azure-keyvault-secrets with azure-identity's ClientSecretCredential)
/// read from the fake: the challenge handshake, OpenID discovery, the token request, Get
/// Secret (current and by version), SecretNotFound, and Set Secret.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn official_client_azure_reads_the_fake_with_client_secret_credential() {
    let az = Azure::new();
    let name = unique("official");
    let v1 = az.seed(&name, "first");
    let v2 = az.seed(&name, "second");

    let out = official_client(&["client-secret", &name], &[]);
    assert_eq!(out["value"], "second");
    assert_eq!(out["version"], v2.as_str());
    assert_eq!(out["name"], name.as_str());
    assert_eq!(out["again"], "second");
    assert_eq!(out["missing"], "SecretNotFound");
    assert_eq!(out["written"], "written-by-the-official-client");

    let out = official_client(&["client-secret", &name, &v1], &[]);
    assert_eq!(out["value"], "first");
    assert_eq!(out["version"], v1.as_str());

    // The handshake as the fake saw it: a read without a token answered 401 (the challenge),
    // then the token, then the read with it.
    let reads = az.requests(&format!("kind=secret&name={name}"));
    assert_eq!(reads[0]["status"], 401, "{reads:?}");
    assert!(reads[0]["client_id"].is_null());
    assert!(reads.iter().any(|r| r["status"] == 200));
}

/// The same client with ManagedIdentityCredential: App Service's IDENTITY_ENDPOINT, and IMDS
/// moved with AZURE_POD_IDENTITY_AUTHORITY_HOST, both on the fake's loopback listener.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn official_client_azure_reads_the_fake_with_managed_identity() {
    let az = Azure::new();
    let name = unique("official-mi");
    az.seed(&name, "for-the-machine");
    let endpoint = var("SECRET_REF_TEST_AZURE_IDENTITY_ENDPOINT");
    let header = var("SECRET_REF_TEST_AZURE_IDENTITY_HEADER");
    let out = official_client(
        &["managed-identity", &name],
        &[
            ("IDENTITY_ENDPOINT", &endpoint),
            ("IDENTITY_HEADER", &header),
        ],
    );
    assert_eq!(out["value"], "for-the-machine");
    assert_eq!(out["missing"], "SecretNotFound");
    let out = official_client(
        &["managed-identity", &name],
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &az.local)],
    );
    assert_eq!(out["value"], "for-the-machine");
    let system = var("SECRET_REF_TEST_AZURE_SYSTEM_IDENTITY");
    let reads = az.requests(&format!("kind=secret&name={name}&client_id={system}"));
    assert!(reads.len() >= 4, "{reads:?}");
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_reads_the_current_version_and_picks_keys() {
    let az = Azure::new();
    let name = unique("db");
    az.seed(&name, r#"{"user":"u1","password":"p1"}"#);
    az.seed(&name, r#"{"user":"u2","password":"p2\nline","port":5432}"#);
    let r = az.resolver();
    assert_eq!(
        get(&r, &format!("{{vault://azure/{name}/password}}")).unwrap(),
        "p2\nline"
    );
    let whole: Value =
        serde_json::from_str(&get(&r, &format!("{{vault://azure/{name}}}")).unwrap()).unwrap();
    assert_eq!(whole["user"], "u2");

    #[derive(Deserialize, ResolveSecrets)]
    struct Pg {
        port: Secret<u16>,
        user: Secret<String>,
    }
    let mut pg: Pg = serde_json::from_value(json!({
        "port": format!("{{vault://azure/{name}/port}}"),
        "user": format!("{{vault://azure/{name}/user}}"),
    }))
    .unwrap();
    pg.resolve_secrets(&r).unwrap();
    assert_eq!(
        (*pg.port.expose_secret(), pg.user.expose_secret().as_str()),
        (5432, "u2")
    );
    let err = get(&r, &format!("{{vault://azure/{name}/nope}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyNotFound);
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_versions_are_named_by_id_not_by_number() {
    let az = Azure::new();
    let name = unique("versions");
    let v1 = az.seed(&name, r#"{"password":"old"}"#);
    az.seed(&name, r#"{"password":"new"}"#);
    let r = az.resolver();
    assert_eq!(
        get(
            &r,
            &format!("{{vault://azure/{name}/password?version={v1}}}")
        )
        .unwrap(),
        "old"
    );
    assert_eq!(
        get(&r, &format!("{{vault://azure/{name}/password}}")).unwrap(),
        "new"
    );
    // Kong's numeric version cannot name a Key Vault version.
    let err = get(&r, &format!("{{vault://azure/{name}/password#1}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("?version=<id>"), "{err}");
    // Not an id: refused before anything is sent.
    let err = get(&r, &format!("{{vault://azure/{name}?version=..%2Fx}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    // A well-formed id the secret does not have.
    let err = get(
        &r,
        &format!("{{vault://azure/{name}?version=00000000000000000000000000000000}}"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("SecretNotFound"), "{err}");
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_not_found_disabled_and_bad_names() {
    let az = Azure::new();
    let r = az.resolver();
    let missing = unique("missing");
    let err = get(&r, &format!("{{vault://azure/{missing}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string()
            .contains(&format!("secret `{missing}`: HTTP 404 SecretNotFound")),
        "{err}"
    );
    let disabled = unique("disabled");
    az.admin(
        &format!("secrets/{disabled}"),
        json!({"value": "x", "enabled": false}),
    );
    let err = get(&r, &format!("{{vault://azure/{disabled}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("SecretDisabled"), "{err}");
    // A name Key Vault cannot have would change the request's path: refused.
    for name in ["a_b", "..%2Fkeys%2Fk", "a%3Fb"] {
        let err = get(&r, &format!("{{vault://azure/{name}}}")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidReference, "{name}");
    }
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_permission_denied_and_refused_credentials_never_leak() {
    let az = Azure::new();
    let canary = "c4n4ry-azure-client-secret";
    let client_id = az.app(canary, None);
    let name = unique("denied");
    az.seed(&name, "guarded");
    az.admin("deny", json!({"client_id": client_id, "secret": name}));
    let r = resolver(&az.settings(&client_id), az.vault(canary));
    let err = get(&r, &format!("{{vault://azure/{name}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(
        err.to_string()
            .contains("HTTP 403 Forbidden (AccessDenied)"),
        "{err}"
    );
    // Other secrets stay readable for this identity.
    let other = unique("allowed");
    az.seed(&other, "open");
    assert_eq!(
        get(&r, &format!("{{vault://azure/{other}}}")).unwrap(),
        "open"
    );

    // A wrong client secret: Entra ID refuses it, and the message says so without it.
    let wrong = "c4n4ry-wrong-secret-value";
    let r = resolver(&az.settings(&client_id), az.vault(wrong));
    let err = get(&r, &format!("{{vault://azure/{other}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("invalid_client"), "{err}");
    assert!(err.to_string().contains("AADSTS7000215"), "{err}");
    for shown in [err.to_string(), format!("{err:?}"), format!("{r:?}")] {
        assert!(!shown.contains("c4n4ry"), "{shown}");
        assert!(!shown.contains("eyJ"), "a token shows: {shown}");
    }
    // An unknown client.
    let r = resolver(&az.settings("no-such-client"), az.vault(canary));
    let err = get(&r, &format!("{{vault://azure/{other}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("unauthorized_client"), "{err}");
}

/// Options that decide where the token goes, whose it is, or how TLS is checked come from
/// settings only; the resolver refuses them in a reference before the vault is asked.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_references_choose_the_secret_never_the_vault_or_identity() {
    let az = Azure::new();
    let r = az.resolver();
    let name = unique("not-asked");
    for (option, value) in [
        ("vault_uri", "https%3A%2F%2F127.0.0.1%3A9"),
        ("client_id", "someone-else"),
        ("tenant_id", "other-tenant"),
        ("credentials_prefix", "OTHER"),
        ("managed_identity", "on"),
        ("ca_cert", "%2Fetc%2Fpasswd"),
        ("ssl_verify", "off"),
    ] {
        let err = get(&r, &format!("{{vault://azure/{name}?{option}={value}}}")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OptionNotAllowed, "{option}");
        assert!(
            err.to_string().contains(&format!("vault_azure_{option}")),
            "{err}"
        );
    }
    assert_eq!(az.count(&format!("name={name}")), 0);
    // Selectors and tuning are the reference's to choose.
    az.seed(&name, "chosen");
    assert_eq!(
        get(
            &r,
            &format!("{{vault://azure/{name}?type=secrets&location=westeurope&read_timeout=5}}")
        )
        .unwrap(),
        "chosen"
    );
}

/// Token lifetimes, judged by the resolver's clock: a token is reused until shortly before it
/// expires, then renewed; one that Key Vault refuses early (401) is renewed once, at once.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_tokens_are_reused_then_renewed_before_expiry_and_on_401() {
    let az = Azure::new();
    let secret = "expiry-test-secret";
    let client_id = az.app(secret, Some(60));
    let names: Vec<String> = (0..4).map(|i| unique(&format!("expiry{i}"))).collect();
    for n in &names {
        az.seed(n, n);
    }
    let clock = Arc::new(ManualClock::new());
    let r = resolver_on(&az.settings(&client_id), az.vault(secret), clock.clone());
    let read = |i: usize| get(&r, &format!("{{vault://azure/{}}}", names[i])).unwrap();

    assert_eq!(read(0), names[0]);
    assert_eq!(read(1), names[1]);
    assert_eq!(az.count(&format!("kind=token&client_id={client_id}")), 1);
    // 55 s into a 60 s token: past nine tenths of its life, so renewed before the read.
    clock.advance(Duration::from_secs(55));
    assert_eq!(read(2), names[2]);
    assert_eq!(az.count(&format!("kind=token&client_id={client_id}")), 2);
    // Key Vault refuses the token early (revoked): one 401, a new token, the read again.
    let expired = az.admin("expire-tokens", json!({"client_id": client_id}));
    assert!(expired["expired"].as_u64().unwrap() >= 1, "{expired}");
    assert_eq!(read(3), names[3]);
    assert_eq!(az.count(&format!("kind=token&client_id={client_id}")), 3);
    let reads = az.requests(&format!("kind=secret&name={}", names[3]));
    let statuses: Vec<&Value> = reads.iter().map(|r| &r["status"]).collect();
    assert_eq!(statuses, [&json!(401), &json!(200)]);
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_unreachable_vault_and_authority() {
    let az = Azure::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = format!(
        "vault_azure_vault_uri = https://127.0.0.1:{closed}\nvault_azure_tenant_id = {}\n\
         vault_azure_client_id = {}\nvault_azure_ca_cert = {}\nvault_azure_connect_timeout = 2\n",
        az.tenant, az.client_id, az.cacert
    );
    let r = resolver(&settings, az.vault(&az.client_secret));
    let err = get(&r, "{vault://azure/x}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{closed}")),
        "{err}"
    );

    let vault = AzureVault::with_env([
        ("AZURE_CLIENT_SECRET", az.client_secret.as_str()),
        (
            "AZURE_AUTHORITY_HOST",
            &format!("https://127.0.0.1:{closed}"),
        ),
    ]);
    let r = resolver(&az.settings(&az.client_id), vault);
    let err = get(&r, "{vault://azure/x}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(!format!("{err:?}").contains(&az.client_secret));
}

/// The cache, proved by the fake's record: 100 references over 10 secrets cost 10 reads (and
/// one token).
#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_one_hundred_references_over_ten_secrets_cost_ten_reads() {
    let az = Azure::new();
    let secret = "count-test-secret";
    let client_id = az.app(secret, None);
    let p = unique("count");
    for i in 0..10 {
        az.seed(
            &format!("{p}-{i}"),
            &json!({"a": format!("a{i}"), "b": format!("b{i}")}).to_string(),
        );
    }
    let r = resolver(&az.settings(&client_id), az.vault(secret));
    let references: Vec<String> = (0..100)
        .map(|n| {
            format!(
                "{{vault://azure/{p}-{}/{}}}",
                n % 10,
                if n % 2 == 0 { "a" } else { "b" }
            )
        })
        .collect();
    let mut secrets: Vec<Secret<String>> = serde_json::from_value(json!(references)).unwrap();
    secrets.resolve_secrets(&r).unwrap();
    assert_eq!(secrets[15].expose_secret(), "b5");
    let reads: usize = (0..10)
        .map(|i| az.count(&format!("kind=secret&name={p}-{i}")))
        .sum();
    assert_eq!(reads, 10);
    assert_eq!(az.count(&format!("kind=token&client_id={client_id}")), 1);
}

/// Managed identity: App Service's endpoint is used when its variables are set; the metadata
/// service only with `managed_identity = on` (here moved to the fake's loopback listener, as
/// Azure's SDKs move it); `client_id` picks a user-assigned identity.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_managed_identity_from_app_service_and_imds() {
    let az = Azure::new();
    let name = unique("mi");
    az.seed(&name, "machine-secret");
    let endpoint = var("SECRET_REF_TEST_AZURE_IDENTITY_ENDPOINT");
    let header = var("SECRET_REF_TEST_AZURE_IDENTITY_HEADER");
    let system = var("SECRET_REF_TEST_AZURE_SYSTEM_IDENTITY");
    let base = format!(
        "vault_azure_vault_uri = {}\nvault_azure_ca_cert = {}\n",
        az.vault_url, az.cacert
    );
    let reference = format!("{{vault://azure/{name}}}");

    let app_service = AzureVault::with_env([
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", header.as_str()),
    ]);
    let r = resolver(&base, app_service);
    assert_eq!(get(&r, &reference).unwrap(), "machine-secret");

    // Without the opt-in, the metadata service is not asked: a configuration error.
    let imds_env = [("AZURE_POD_IDENTITY_AUTHORITY_HOST", az.local.as_str())];
    let r = resolver(&base, AzureVault::with_env(imds_env));
    let err = get(&r, &reference).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(err.to_string().contains("managed_identity = on"), "{err}");

    let on = format!("{base}vault_azure_managed_identity = on\n");
    let r = resolver(&on, AzureVault::with_env(imds_env));
    assert_eq!(get(&r, &reference).unwrap(), "machine-secret");
    let reads = az.requests(&format!(
        "kind=secret&name={name}&client_id={system}&status=200"
    ));
    assert_eq!(reads.len(), 2, "{reads:?}");

    // A user-assigned identity, by client id.
    let user_assigned = uuid_like();
    az.admin("apps", json!({"client_id": user_assigned, "managed": true}));
    let r = resolver(
        &format!("{on}vault_azure_client_id = {user_assigned}\n"),
        AzureVault::with_env(imds_env),
    );
    assert_eq!(get(&r, &reference).unwrap(), "machine-secret");
    assert_eq!(
        az.count(&format!(
            "kind=secret&name={name}&client_id={user_assigned}"
        )),
        1
    );
    // An identity the machine does not have.
    let r = resolver(
        &format!("{on}vault_azure_client_id = not-attached\n"),
        AzureVault::with_env(imds_env),
    );
    let err = get(&r, &reference).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("Identity not found"), "{err}");
    // A wrong App Service header: refused, and not shown.
    let r = resolver(
        &base,
        AzureVault::with_env([
            ("IDENTITY_ENDPOINT", endpoint.as_str()),
            ("IDENTITY_HEADER", "c4n4ry-identity-header"),
        ]),
    );
    let err = get(&r, &reference).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(!format!("{err}{err:?}").contains("c4n4ry"), "{err:?}");
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_base64_decode() {
    let az = Azure::new();
    let name = unique("b64");
    // {"key":"from-base64"}
    az.seed(&name, "eyJrZXkiOiJmcm9tLWJhc2U2NCJ9");
    let r = az.resolver();
    assert_eq!(
        get(
            &r,
            &format!("{{vault://azure/{name}/key?base64_decode=on}}")
        )
        .unwrap(),
        "from-base64"
    );
    assert_eq!(
        get(&r, &format!("{{vault://azure/{name}}}")).unwrap(),
        "eyJrZXkiOiJmcm9tLWJhc2U2NCJ9"
    );
    let raw = unique("b64-raw");
    az.seed(&raw, "not base64 at all");
    let err = get(&r, &format!("{{vault://azure/{raw}?base64_decode=on}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadResponse);
    assert!(!err.to_string().contains("not base64 at all"), "{err}");
    // kong.conf turns it on for every reference.
    let r = resolver(
        &format!(
            "{}vault_azure_base64_decode = on\n",
            az.settings(&az.client_id)
        ),
        az.vault(&az.client_secret),
    );
    assert_eq!(
        get(&r, &format!("{{vault://azure/{name}/key}}")).unwrap(),
        "from-base64"
    );
}
