//! The `gcp` vault against `.ci/fake_gcp.py` (Secret Manager, the OAuth2 token endpoint and
//! the metadata server), configured the way Kong is: `vault_gcp_*` settings and the same
//! options in a reference's query; and the proof that the fake is faithful, by Google's own
//! client reading from it. (The process environment's credentials are tested through the
//! CLI, in `secret-ref/tests/gcp_cli.rs`.)
//!
//! Every test needs the servers of `.ci/servers.sh`; they are ignored in a plain
//! `cargo test` and fail, rather than skip, when the servers' variables are missing.
#![cfg(feature = "gcp")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{call, unique};
use secret_ref::clock::ManualClock;
use secret_ref::kong_conf::Loader;
use secret_ref::vault::gcp::GcpVault;
use secret_ref::{ErrorKind, ResolveSecrets, Resolver, Secret};
use serde::Deserialize;
use serde_json::{Value, json};

/// A variable `.ci/servers.sh` exports: a test that needs it fails without it.
fn var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => {
            panic!("{name} is not set: run `source .ci/servers.sh; install_servers; start_servers`")
        }
    }
}

/// The fake, administered through its side door.
struct Fake {
    url: String,
    project: String,
}

const READER: &str = "reader@secret-ref-test.iam.gserviceaccount.com";

impl Fake {
    fn new() -> Fake {
        Fake {
            url: var("SECRET_REF_TEST_GCP_URL"),
            project: var("SECRET_REF_TEST_GCP_PROJECT"),
        }
    }

    fn admin(&self, path: &str, body: Value) -> Value {
        let (status, answer) = call("POST", &format!("{}{path}", self.url), &[], Some(body));
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    /// Creates (or replaces) a secret with these versions (`latest` is the last).
    fn secret(&self, name: &str, versions: Value) {
        self.secret_in(&self.project, name, versions, &[]);
    }

    fn secret_in(&self, project: &str, name: &str, versions: Value, deny: &[&str]) {
        self.admin(
            "/_fake/secrets",
            json!({"project": project, "secret": name, "versions": versions, "deny": deny}),
        );
    }

    /// A new identity with the reader's key, for a test's own token counts and expiry.
    fn identity(&self, tag: &str, token_lifetime: u64) -> (String, String) {
        let email = format!("{}@secret-ref-test.iam.gserviceaccount.com", unique(tag));
        self.admin(
            "/_fake/service-accounts",
            json!({"client_email": email, "same_key_as": READER, "token_lifetime": token_lifetime}),
        );
        (
            email.clone(),
            key_json(&var("SECRET_REF_TEST_GCP_KEY_FILE"), &email),
        )
    }

    fn log(&self, query: &str) -> Vec<Value> {
        let (status, log) = call(
            "GET",
            &format!("{}/_fake/requests{query}", self.url),
            &[],
            None,
        );
        assert_eq!(status, 200);
        log.as_array().unwrap().clone()
    }

    /// Reads of a secret the fake answered (any status).
    fn reads(&self, secret: &str) -> Vec<Value> {
        self.log(&format!("?secret={secret}"))
    }

    /// Token grants (token endpoint or metadata server) to an identity.
    fn grants(&self, email: &str) -> usize {
        self.log("")
            .iter()
            .filter(|e| e["kind"] != "access" && e["identity"] == email && e["status"] == 200)
            .count()
    }

    fn settings(&self) -> String {
        format!(
            "vault_gcp_project_id = {}\nvault_gcp_endpoint_url = {}\n",
            self.project, self.url
        )
    }
}

/// A key file's JSON with another `client_email` (and optionally other fields).
fn key_json(path: &str, email: &str) -> String {
    let mut key: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    key["client_email"] = email.into();
    key.to_string()
}

fn reader_key() -> String {
    std::fs::read_to_string(var("SECRET_REF_TEST_GCP_KEY_FILE")).unwrap()
}

fn resolver(vault: GcpVault, settings: &str, clock: Arc<ManualClock>) -> Resolver {
    let conf = Loader::new().text("kong.conf", settings).load().unwrap();
    conf.apply_to(Resolver::builder().vault("gcp", vault).clock(clock))
        .unwrap()
        .build()
        .unwrap()
}

/// A resolver with the reader's key (GCP_SERVICE_ACCOUNT), on the fake.
fn reader(fake: &Fake) -> Resolver {
    let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", reader_key())]);
    resolver(vault, &fake.settings(), Arc::new(ManualClock::new()))
}

fn get(r: &Resolver, reference: &str) -> Result<String, secret_ref::Error> {
    r.get(reference).map(|s| s.expose_secret().clone())
}

/// Google's own client (google-cloud-secret-manager over REST, google-auth) reads from the
/// fake: with a self-signed JWT, through the JWT-bearer exchange at `token_uri`, renewing
/// an expired token on 401, with the metadata server; and maps its errors as Google's.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn gcp_official_client_reads_from_the_fake() {
    let fake = Fake::new();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../.ci/official_clients/gcp.py"
    );
    let out = std::process::Command::new(var("SECRET_REF_TEST_PYTHON"))
        .arg(script)
        .args([&fake.url, &fake.project])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(stdout.trim()).unwrap();
    let run = r["secret"]
        .as_str()
        .unwrap()
        .trim_start_matches("official-");
    let latest: Value = serde_json::from_str(r["latest"].as_str().unwrap()).unwrap();
    assert_eq!(latest, json!({"password": format!("p-{run}")}));
    assert!(
        r["latest_name"].as_str().unwrap().ends_with("/versions/2"),
        "{r}"
    );
    assert_eq!(r["latest_crc_ok"], true);
    assert_eq!(r["v1"], format!("first-{run}"));
    assert_eq!(r["v1_crc_ok"], true);
    assert_eq!(r["first_token_is_exchanged"], true);
    assert_eq!(r["renewed"], format!("p-{run}"));
    assert_eq!(r["token_changed"], true);
    assert_eq!(r["metadata"], format!("first-{run}"));
    assert_eq!(r["missing"], "NotFound");
    assert!(
        r["missing_message"]
            .as_str()
            .unwrap()
            .contains("not found or has no versions")
    );
    assert_eq!(r["denied"], "Forbidden");
    assert!(
        r["denied_message"]
            .as_str()
            .unwrap()
            .contains("secretmanager.versions.access")
    );

    // What the fake saw: the self-signed JWT, two exchanges, the 401 on the expired token.
    let secret = r["secret"].as_str().unwrap();
    let email = r["email"].as_str().unwrap();
    let reads = fake.reads(secret);
    let seen = |auth: &str, status: u64| {
        reads
            .iter()
            .filter(|e| e["auth"] == auth && e["status"] == status)
            .count()
    };
    assert_eq!(seen("jwt", 200), 1, "{reads:?}");
    assert_eq!(seen("expired", 401), 1, "{reads:?}");
    assert_eq!(seen("token", 200), 3, "{reads:?}");
    assert_eq!(fake.grants(email), 2);
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn gcp_versions_keys_and_not_found() {
    let fake = Fake::new();
    let name = unique("db");
    fake.secret(
        &name,
        json!([
            {"data": json!({"user": "u1", "password": "p1"}).to_string()},
            {"data": json!({"user": "u2", "password": "p2", "port": 5432}).to_string()},
            {"data": "gone", "state": "DISABLED"},
        ]),
    );
    let r = reader(&fake);
    // `latest` is the newest version, which is disabled: not readable, as in Secret Manager.
    let err = get(&r, &format!("{{vault://gcp/{name}/password}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("is in DISABLED state"), "{err}");
    assert_eq!(
        get(&r, &format!("{{vault://gcp/{name}/password#2}}")).unwrap(),
        "p2"
    );
    assert_eq!(
        get(&r, &format!("{{vault://gcp/{name}/password#1}}")).unwrap(),
        "p1"
    );
    let whole: Value =
        serde_json::from_str(&get(&r, &format!("{{vault://gcp/{name}#1}}")).unwrap()).unwrap();
    assert_eq!(whole["user"], "u1");

    #[derive(Deserialize, ResolveSecrets)]
    struct Pg {
        port: Secret<u16>,
        old_user: Secret<String>,
    }
    let mut pg: Pg = serde_json::from_value(json!({
        "port": format!("{{vault://gcp/{name}/port#2}}"),
        "old_user": format!("{{vault://gcp/{name}/user#1}}"),
    }))
    .unwrap();
    pg.resolve_secrets(&r).unwrap();
    assert_eq!(
        (
            *pg.port.expose_secret(),
            pg.old_user.expose_secret().as_str()
        ),
        (5432, "u1")
    );

    // The newest enabled one becomes `latest` again.
    let fresh = unique("fresh");
    fake.secret(&fresh, json!([{"data": "one"}, {"data": "two"}]));
    assert_eq!(get(&r, &format!("{{vault://gcp/{fresh}}}")).unwrap(), "two");

    for (reference, needle) in [
        (format!("{{vault://gcp/{name}#9}}"), "Secret Version ["),
        (format!("{{vault://gcp/{name}#0}}"), "no version 0"),
        (
            format!("{{vault://gcp/{name}-missing}}"),
            "not found or has no versions",
        ),
    ] {
        let err = get(&r, &reference).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{reference}: {err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
    // A secret id is a secret id: nothing that changes the request's path.
    for bad in ["a%2Fb", "a.b", "..", "a%3Fb"] {
        let err = get(&r, &format!("{{vault://gcp/{bad}}}")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{bad}: {err}");
    }
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn gcp_project_from_the_reference_and_endpoint_from_settings_only() {
    let fake = Fake::new();
    let name = unique("other-project");
    fake.secret_in("other-project", &name, json!([{"data": "elsewhere"}]), &[]);
    let r = reader(&fake);
    // The project picks the secret: a reference may choose it.
    assert_eq!(
        get(
            &r,
            &format!("{{vault://gcp/{name}?project_id=other-project}}")
        )
        .unwrap(),
        "elsewhere"
    );
    assert_eq!(
        get(&r, &format!("{{vault://gcp/{name}}}"))
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    for bad in ["a%2Fb", "Other", "x%3Fy"] {
        let err = get(&r, &format!("{{vault://gcp/{name}?project_id={bad}}}")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{bad}: {err}");
    }
    // Where the token goes is the settings' choice.
    let err = get(
        &r,
        &format!("{{vault://gcp/{name}?endpoint_url=http://127.0.0.1:1}}"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OptionNotAllowed);
    assert!(err.to_string().contains("vault_gcp_endpoint_url"), "{err}");

    // Without a project anywhere: Kong's message.
    let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", reader_key())]);
    let settings = format!("vault_gcp_endpoint_url = {}", fake.url);
    let r = resolver(vault, &settings, Arc::new(ManualClock::new()));
    let err = get(&r, &format!("{{vault://gcp/{name}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(err.to_string().contains("requires project_id"), "{err}");
    // GCP_PROJECT_ID, as Kong.
    let vault = GcpVault::with_env([
        ("GCP_SERVICE_ACCOUNT", reader_key()),
        ("GCP_PROJECT_ID", "other-project".to_owned()),
    ]);
    let r = resolver(vault, &settings, Arc::new(ManualClock::new()));
    assert_eq!(
        get(&r, &format!("{{vault://gcp/{name}}}")).unwrap(),
        "elsewhere"
    );
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn gcp_permission_denied() {
    let fake = Fake::new();
    let open = unique("open");
    let closed = unique("closed");
    fake.secret(&open, json!([{"data": "for-everyone"}]));
    fake.secret_in(
        &fake.project,
        &closed,
        json!([{"data": "not-for-reader"}]),
        &[READER],
    );
    let r = reader(&fake);
    assert_eq!(
        get(&r, &format!("{{vault://gcp/{open}}}")).unwrap(),
        "for-everyone"
    );
    let err = get(&r, &format!("{{vault://gcp/{closed}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(
        err.to_string()
            .contains("Permission 'secretmanager.versions.access' denied"),
        "{err}"
    );
    assert!(!err.to_string().contains("not-for-reader"));

    // An identity denied everything, from a key file (GOOGLE_APPLICATION_CREDENTIALS).
    let vault = GcpVault::with_env([(
        "GOOGLE_APPLICATION_CREDENTIALS",
        var("SECRET_REF_TEST_GCP_DENIED_KEY_FILE"),
    )]);
    let r = resolver(vault, &fake.settings(), Arc::new(ManualClock::new()));
    let err = get(&r, &format!("{{vault://gcp/{open}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let denied: Vec<Value> = fake.reads(&open);
    assert!(
        denied.iter().any(|e| e["status"] == 403
            && e["identity"] == "denied@secret-ref-test.iam.gserviceaccount.com"),
        "{denied:?}"
    );

    // A key the token endpoint does not know: refused at the exchange.
    let vault = GcpVault::with_env([(
        "GCP_SERVICE_ACCOUNT",
        key_json(
            &var("SECRET_REF_TEST_GCP_KEY_FILE"),
            "nobody@secret-ref-test.iam.gserviceaccount.com",
        ),
    )]);
    let r = resolver(vault, &fake.settings(), Arc::new(ManualClock::new()));
    let err = get(&r, &format!("{{vault://gcp/{open}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
}

/// Tokens are kept until shortly before they expire (on the vault's clock), renewed then,
/// and renewed at once when the API refuses one that expired early (401).
#[test]
#[ignore = "needs .ci/servers.sh"]
fn gcp_token_expiry_and_renewal() {
    let fake = Fake::new();
    let (email, key) = fake.identity("expiry", 600);
    let names: Vec<String> = (0..4).map(|i| unique(&format!("tok{i}"))).collect();
    for (i, name) in names.iter().enumerate() {
        fake.secret(name, json!([{"data": format!("v{i}")}]));
    }
    let clock = Arc::new(ManualClock::new());
    let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", key)]).clock(clock.clone());
    let r = resolver(vault, &fake.settings(), clock.clone());
    let read = |i: usize| get(&r, &format!("{{vault://gcp/{}}}", names[i])).unwrap();

    assert_eq!(read(0), "v0");
    assert_eq!(read(1), "v1");
    assert_eq!(fake.grants(&email), 1, "one token for two reads");

    // 600 s tokens are renewed a minute (a tenth) before they expire.
    clock.advance(Duration::from_secs(530));
    assert_eq!(read(2), "v2");
    assert_eq!(fake.grants(&email), 1);
    clock.advance(Duration::from_secs(15));
    // Another reference to the same secret, so that the resolver asks the vault again.
    assert_eq!(
        get(&r, &format!("{{vault://gcp/{}#1}}", names[2])).unwrap(),
        "v2"
    );
    assert_eq!(fake.grants(&email), 2, "renewed before expiry");

    // Expired early on the server: the 401 renews it, and the read goes through.
    fake.admin("/_fake/expire-tokens", json!({"client_email": email}));
    assert_eq!(read(3), "v3");
    assert_eq!(fake.grants(&email), 3);
    let reads = fake.reads(&names[3]);
    let statuses: Vec<(&Value, &Value)> =
        reads.iter().map(|e| (&e["status"], &e["auth"])).collect();
    assert_eq!(
        statuses,
        [
            (&json!(401), &json!("expired")),
            (&json!(200), &json!("token"))
        ]
    );
}

/// A token from the metadata server (GCE_METADATA_HOST, as Google's libraries), and a key
/// from a file (GOOGLE_APPLICATION_CREDENTIALS).
#[test]
#[ignore = "needs .ci/servers.sh"]
fn gcp_metadata_server_and_key_file() {
    let fake = Fake::new();
    let name = unique("meta");
    fake.secret(&name, json!([{"data": "from-metadata"}]));
    let metadata_email = var("SECRET_REF_TEST_GCP_METADATA_EMAIL");
    let vault = GcpVault::with_env([(
        "GCE_METADATA_HOST",
        var("SECRET_REF_TEST_GCP_METADATA_HOST"),
    )]);
    let r = resolver(vault, &fake.settings(), Arc::new(ManualClock::new()));
    assert_eq!(
        get(&r, &format!("{{vault://gcp/{name}}}")).unwrap(),
        "from-metadata"
    );
    let reads = fake.reads(&name);
    assert_eq!(reads[0]["identity"], metadata_email.as_str(), "{reads:?}");

    let name = unique("file");
    fake.secret(&name, json!([{"data": "from-file"}]));
    let vault = GcpVault::with_env([
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            var("SECRET_REF_TEST_GCP_KEY_FILE"),
        ),
        // Ignored: a key comes first.
        (
            "GCE_METADATA_HOST",
            var("SECRET_REF_TEST_GCP_METADATA_HOST"),
        ),
    ]);
    let r = resolver(vault, &fake.settings(), Arc::new(ManualClock::new()));
    assert_eq!(
        get(&r, &format!("{{vault://gcp/{name}}}")).unwrap(),
        "from-file"
    );
    assert_eq!(fake.reads(&name)[0]["identity"], READER);

    // A key file that is not a key: the setting's error, without its text.
    let dir = std::env::temp_dir().join(unique("gcp-key"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("key.json");
    std::fs::write(
        &path,
        r#"{"type":"authorized_user","refresh_token":"c4n4ry-refresh"}"#,
    )
    .unwrap();
    let vault = GcpVault::with_env([("GOOGLE_APPLICATION_CREDENTIALS", path.to_str().unwrap())]);
    let r = resolver(vault, &fake.settings(), Arc::new(ManualClock::new()));
    let err = get(&r, &format!("{{vault://gcp/{name}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert!(err.to_string().contains("authorized_user"), "{err}");
    assert!(!format!("{err} {err:?}").contains("c4n4ry"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn gcp_unreachable() {
    let fake = Fake::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = unique("unreachable");
    fake.secret(&name, json!([{"data": "x"}]));
    let reference = format!("{{vault://gcp/{name}}}");
    // The API.
    let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", reader_key())]);
    let settings = format!(
        "vault_gcp_project_id = {}\nvault_gcp_endpoint_url = http://127.0.0.1:{closed}\n\
         vault_gcp_connect_timeout = 2",
        fake.project
    );
    let r = resolver(vault, &settings, Arc::new(ManualClock::new()));
    assert_eq!(
        get(&r, &reference).unwrap_err().kind(),
        ErrorKind::Unreachable
    );
    // The token endpoint (the key's token_uri).
    let mut key: Value = serde_json::from_str(&reader_key()).unwrap();
    key["token_uri"] = format!("http://127.0.0.1:{closed}/token").into();
    let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", key.to_string())]);
    let r = resolver(vault, &fake.settings(), Arc::new(ManualClock::new()));
    let err = get(&r, &reference).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    // A metadata server that was configured but does not answer.
    let vault = GcpVault::with_env([("GCE_METADATA_HOST", format!("127.0.0.1:{closed}"))]);
    let r = resolver(vault, &fake.settings(), Arc::new(ManualClock::new()));
    assert_eq!(
        get(&r, &reference).unwrap_err().kind(),
        ErrorKind::Unreachable
    );
    // A token_uri elsewhere over plain http is refused before anything is sent.
    key["token_uri"] = "http://oauth2.example/token".into();
    let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", key.to_string())]);
    let r = resolver(vault, &fake.settings(), Arc::new(ManualClock::new()));
    let err = get(&r, &reference).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert!(err.to_string().contains("must be https"), "{err}");
}

/// No secret value, private key, assertion or access token in any error or `Debug` output.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn gcp_errors_are_scrubbed() {
    let fake = Fake::new();
    let canary = "c4n4ry-secret-value";
    let corrupt = unique("corrupt");
    let plain = unique("plain");
    fake.secret(&corrupt, json!([{"data": canary, "crc32c": 12345}]));
    fake.secret(&plain, json!([{"data": format!("{canary}-not-json")}]));
    let private_key: Value = serde_json::from_str(&reader_key()).unwrap();
    let pem = private_key["private_key"].as_str().unwrap().to_owned();
    let key_lines: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let check = |err: &secret_ref::Error| {
        let text = format!("{err} {err:?}");
        assert!(!text.contains(canary), "{text}");
        assert!(!text.contains("ya29."), "{text}");
        assert!(!text.contains("eyJ"), "a JWT: {text}");
        for line in &key_lines {
            assert!(!text.contains(&line[..20]), "{text}");
        }
    };

    let r = reader(&fake);
    let err = get(&r, &format!("{{vault://gcp/{corrupt}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadResponse);
    assert!(err.to_string().contains("CRC32C"), "{err}");
    check(&err);
    let err = get(&r, &format!("{{vault://gcp/{plain}/key}}")).unwrap_err();
    check(&err);
    // A key refused by the token endpoint, an expired token refused twice, a denial.
    let (email, key) = fake.identity("scrub", 600);
    let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", key.replace(&email, "x@y.z"))]);
    let r = resolver(vault, &fake.settings(), Arc::new(ManualClock::new()));
    let err = get(&r, &format!("{{vault://gcp/{plain}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    check(&err);
    let closed = unique("closed");
    fake.secret_in(&fake.project, &closed, json!([{"data": canary}]), &[&email]);
    let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", key)]);
    let r = resolver(vault, &fake.settings(), Arc::new(ManualClock::new()));
    let err = get(&r, &format!("{{vault://gcp/{closed}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    check(&err);
    // The vault itself shows nothing.
    let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", reader_key())]);
    assert_eq!(format!("{vault:?}"), "GcpVault { .. }");
}

/// The cache, proved by the fake's request log: 100 references over 10 secrets cost 10
/// reads (and one token).
#[test]
#[ignore = "needs .ci/servers.sh"]
fn gcp_one_hundred_references_over_ten_secrets_cost_ten_reads() {
    let fake = Fake::new();
    let (email, key) = fake.identity("cache", 3600);
    let p = unique("cache");
    for i in 0..10 {
        fake.secret(
            &format!("{p}-{i}"),
            json!([{"data": json!({"a": format!("a{i}"), "b": format!("b{i}")}).to_string()}]),
        );
    }
    let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", key)]);
    let r = resolver(vault, &fake.settings(), Arc::new(ManualClock::new()));
    let references: Vec<String> = (0..100)
        .map(|n| {
            format!(
                "{{vault://gcp/{p}-{}/{}}}",
                n % 10,
                if n % 2 == 0 { "a" } else { "b" }
            )
        })
        .collect();
    let mut secrets: Vec<Secret<String>> = serde_json::from_value(json!(references)).unwrap();
    secrets.resolve_secrets(&r).unwrap();
    assert_eq!(secrets[15].expose_secret(), "b5");
    let reads: usize = (0..10).map(|i| fake.reads(&format!("{p}-{i}")).len()).sum();
    assert_eq!(reads, 10);
    assert_eq!(fake.grants(&email), 1);
}

/// `base64_decode` (Kong 3.11): the secret's own text is base64, in settings or a query.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn gcp_base64_decode() {
    let fake = Fake::new();
    let name = unique("b64");
    let encoded = "eyJwYXNzd29yZCI6ImRlY29kZWQifQ=="; // {"password":"decoded"}
    fake.secret(&name, json!([{"data": encoded}]));
    let r = reader(&fake);
    assert_eq!(
        get(&r, &format!("{{vault://gcp/{name}}}")).unwrap(),
        encoded
    );
    assert_eq!(
        get(
            &r,
            &format!("{{vault://gcp/{name}/password?base64_decode=on}}")
        )
        .unwrap(),
        "decoded"
    );
    let vault = GcpVault::with_env([("GCP_SERVICE_ACCOUNT", reader_key())]);
    let settings = format!("{}vault_gcp_base64_decode = on\n", fake.settings());
    let r = resolver(vault, &settings, Arc::new(ManualClock::new()));
    assert_eq!(
        get(&r, &format!("{{vault://gcp/{name}/password}}")).unwrap(),
        "decoded"
    );
    let raw = unique("raw");
    fake.secret(&raw, json!([{"data": "not base64!"}]));
    let err = get(&r, &format!("{{vault://gcp/{raw}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadResponse);
    assert!(!err.to_string().contains("not base64!"), "{err}");
    // Binary payloads (not UTF-8) cannot be a string secret.
    let bin = unique("bin");
    fake.secret(&bin, json!([{"data_b64": "//79"}]));
    assert_eq!(
        get(&r, &format!("{{vault://gcp/{bin}?base64_decode=off}}"))
            .unwrap_err()
            .kind(),
        ErrorKind::BadResponse
    );
}
