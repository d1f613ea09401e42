//! The `conjur` vault against `.ci/fake_conjur.py`, configured the way Kong is
//! (`vault_conjur_*` settings), and the fake itself read with CyberArk's own Python SDK.
//!
//! Every test here needs `.ci/servers.sh` (`source .ci/servers.sh; install_servers;
//! start_servers`); they are ignored by a plain `cargo test` and fail, rather than skip, when
//! run without the servers
//! (`cargo test -p secret-ref-tests --features conjur --test conjur -- --include-ignored`).
#![cfg(feature = "conjur")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{call, unique};
use secret_ref::clock::ManualClock;
use secret_ref::kong_conf::Loader;
use secret_ref::vault::conjur::ConjurVault;
use secret_ref::{ErrorKind, ResolveSecrets, Resolver, Secret};
use serde::Deserialize;
use serde_json::{Value, json};

/// A server variable, which must be set.
fn require(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: run `source .ci/servers.sh; install_servers; start_servers` \
             (or `source target/ci-servers/env`) first"
        ),
    }
}

/// The fake Conjur, administered through its test-only `/_fake/` API.
struct Conjur {
    url: String,
    account: String,
}

impl Conjur {
    fn new() -> Conjur {
        Conjur {
            url: require("SECRET_REF_TEST_CONJUR_URL"),
            account: require("SECRET_REF_TEST_CONJUR_ACCOUNT"),
        }
    }

    fn admin(&self, path: &str, body: Value) -> Value {
        let (status, answer) = call(
            "POST",
            &format!("{}/_fake/{path}", self.url),
            &[],
            Some(body),
        );
        assert!((200..300).contains(&status), "{path}: {status} {answer}");
        answer
    }

    /// A login of the test's own, whose API key is a canary: no output may ever show it.
    fn identity(&self, name: &str, deny: &[&str]) -> (String, String) {
        let login = format!("host/BotApp/{}", unique(name));
        let api_key = format!("c4n4ry-{}", unique("key"));
        self.admin(
            "identities",
            json!({"login": login, "api_key": api_key, "deny": deny}),
        );
        (login, api_key)
    }

    /// A variable with these versions (oldest first); returns its id.
    fn variable(&self, name: &str, versions: &[&str]) -> String {
        let id = format!("BotApp/{}", unique(name));
        for v in versions {
            self.admin("variables", json!({"id": id, "value": v}));
        }
        id
    }

    /// The requests the fake answered, of one route, for one variable or login.
    fn requests(&self, route: &str, filter: &str) -> Vec<Value> {
        let (status, rows) = call(
            "GET",
            &format!("{}/_fake/requests?{filter}", self.url),
            &[],
            None,
        );
        assert_eq!(status, 200);
        rows.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["route"] == route)
            .cloned()
            .collect()
    }

    fn reads(&self, id: &str) -> Vec<Value> {
        self.requests("secret", &format!("id={}", encode(id)))
    }

    fn authentications(&self, login: &str) -> usize {
        self.requests("authenticate", &format!("login={}", encode(login)))
            .len()
    }

    /// kong.conf settings that reach this server as `login`.
    fn settings(&self, login: &str, api_key: &str) -> String {
        format!(
            "vault_conjur_endpoint_url = {}\nvault_conjur_account = {}\n\
             vault_conjur_login = {login}\nvault_conjur_api_key = {api_key}\n\
             vault_conjur_auth_method = api_key\n",
            self.url, self.account
        )
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `{vault://conjur/<id, its / written %2F>[/key][#N]}`
fn reference(id: &str, rest: &str) -> String {
    format!("{{vault://conjur/{}{rest}}}", id.replace('/', "%2F"))
}

fn resolver_on(settings: &str, clock: Arc<ManualClock>) -> Resolver {
    let conf = Loader::new().text("kong.conf", settings).load().unwrap();
    conf.apply_to(
        Resolver::builder()
            .vault("conjur", ConjurVault::with_clock(clock.clone()))
            .clock(clock),
    )
    .unwrap()
    .build()
    .unwrap()
}

fn resolver(settings: &str) -> Resolver {
    resolver_on(settings, Arc::new(ManualClock::new()))
}

fn get(r: &Resolver, reference: &str) -> Result<String, secret_ref::Error> {
    r.get(reference).map(|s| s.expose_secret().clone())
}

/// The faithfulness proof: CyberArk's own SDK (`conjur-api`) logs in, authenticates and reads
/// from the fake over https, checking its certificate against the test CA.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn conjur_official_client_reads_the_fake_over_tls() {
    let conjur = Conjur::new();
    let id = conjur.variable("official", &["first", "second, ünïcode"]);
    let output = std::process::Command::new(require("SECRET_REF_TEST_PYTHON"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.ci/official_clients/conjur.py"
        ))
        .args([
            require("SECRET_REF_TEST_CONJUR_TLS_URL"),
            conjur.account.clone(),
            require("SECRET_REF_TEST_CONJUR_LOGIN"),
            require("SECRET_REF_TEST_CONJUR_CACERT"),
            "--".into(),
            id.clone(),
            format!("{id}#1"),
        ])
        .env(
            "CONJUR_AUTHN_PASSWORD",
            require("SECRET_REF_TEST_CONJUR_PASSWORD"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["values"], json!(["second, ünïcode", "first"]));
    assert_eq!(
        answer["whoami"]["username"],
        require("SECRET_REF_TEST_CONJUR_LOGIN")
    );
    assert_eq!(answer["whoami"]["account"], conjur.account);
    // The SDK took the documented path: Basic-auth login, then authenticate, then the reads.
    let reads = conjur.reads(&id);
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert_eq!(
        (reads[0]["status"].as_u64(), reads[1]["version"].as_str()),
        (Some(200), Some("1"))
    );

    // Its view of a missing variable: 404, as this backend's tests expect.
    let missing = std::process::Command::new(require("SECRET_REF_TEST_PYTHON"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.ci/official_clients/conjur.py"
        ))
        .args([
            require("SECRET_REF_TEST_CONJUR_URL"),
            conjur.account.clone(),
            require("SECRET_REF_TEST_CONJUR_LOGIN"),
            "--".into(),
            format!("{id}-missing"),
        ])
        .env(
            "CONJUR_AUTHN_PASSWORD",
            require("SECRET_REF_TEST_CONJUR_PASSWORD"),
        )
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(3));
    let answer: Value = serde_json::from_slice(&missing.stdout).unwrap();
    assert_eq!(answer["error"], 404);
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn conjur_reads_values_keys_and_versions() {
    let conjur = Conjur::new();
    let (login, api_key) = conjur.identity("reader", &[]);
    let id = conjur.variable(
        "db",
        &[
            r#"{"user":"u1","password":"p1"}"#,
            r#"{"user":"u2","password":"p2","port":5432}"#,
        ],
    );
    let plain = conjur.variable("plain", &["just text"]);
    let r = resolver(&conjur.settings(&login, &api_key));
    assert_eq!(get(&r, &reference(&plain, "")).unwrap(), "just text");
    assert_eq!(get(&r, &reference(&id, "/password")).unwrap(), "p2");
    assert_eq!(get(&r, &reference(&id, "/password#1")).unwrap(), "p1");
    assert_eq!(get(&r, &reference(&id, "/user#2")).unwrap(), "u2");

    #[derive(Deserialize, ResolveSecrets)]
    struct Pg {
        port: Secret<u16>,
        old_user: Secret<String>,
    }
    let mut pg: Pg = serde_json::from_value(json!({
        "port": reference(&id, "/port"),
        "old_user": reference(&id, "/user#1"),
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
    // On the wire: the id as one segment, the version as `?version=N`.
    let reads = conjur.reads(&id);
    let seen: Vec<Option<String>> = reads
        .iter()
        .map(|r| r["version"].as_str().map(str::to_owned))
        .collect();
    assert!(
        seen.contains(&None) && seen.contains(&Some("1".into())),
        "{seen:?}"
    );
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn conjur_not_found_and_permission_denied() {
    let conjur = Conjur::new();
    let forbidden = conjur.variable("forbidden", &["top secret"]);
    let (login, api_key) = conjur.identity("denied", &[&forbidden]);
    let id = conjur.variable("one-version", &["v1"]);
    let r = resolver(&conjur.settings(&login, &api_key));

    let err = get(&r, &reference(&format!("{id}-missing"), "")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("not found"), "{err}");
    let err = get(&r, &reference(&id, "#7")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("CONJ00076E"), "{err}");

    let err = get(&r, &reference(&forbidden, "")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("may not read"), "{err}");
    assert_eq!(conjur.reads(&forbidden)[0]["status"], 403);

    // A wrong API key: refused at authentication, and the key shown nowhere.
    let wrong = resolver(&conjur.settings(&login, "c4n4ry-wrong-key"));
    let err = get(&wrong, &reference(&id, "")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("check login and api_key"), "{err}");
    for text in [err.to_string(), format!("{err:?}"), format!("{wrong:?}")] {
        assert!(!text.contains("c4n4ry"), "{text}");
    }
}

/// The token is reused for its lifetime (on the resolver's clock, no sleeping), renewed when
/// it runs out, and renewed at once when Conjur refuses it (401), with one retry.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn conjur_token_reused_then_renewed_on_expiry_and_on_401() {
    let conjur = Conjur::new();
    let (login, api_key) = conjur.identity("tokens", &[]);
    let ids: Vec<String> = (0..4)
        .map(|i| conjur.variable(&format!("t{i}"), &[&format!("value-{i}")]))
        .collect();
    let clock = Arc::new(ManualClock::new());
    let r = resolver_on(&conjur.settings(&login, &api_key), clock.clone());

    assert_eq!(get(&r, &reference(&ids[0], "")).unwrap(), "value-0");
    assert_eq!(get(&r, &reference(&ids[1], "")).unwrap(), "value-1");
    assert_eq!(
        conjur.authentications(&login),
        1,
        "one token for both reads"
    );

    // Conjur's tokens last 8 minutes: past 90 % of that, a new one is fetched first.
    clock.advance(Duration::from_secs(7 * 60 + 13));
    assert_eq!(get(&r, &reference(&ids[2], "")).unwrap(), "value-2");
    assert_eq!(conjur.authentications(&login), 2);

    // Revoked on the server (as after a key rotation or a restart): 401, renew, retry.
    conjur.admin("revoke", json!({"login": login}));
    assert_eq!(get(&r, &reference(&ids[3], "")).unwrap(), "value-3");
    assert_eq!(conjur.authentications(&login), 3);
    let statuses: Vec<u64> = conjur
        .reads(&ids[3])
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [401, 200]);
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn conjur_unreachable_endpoint() {
    let conjur = Conjur::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = conjur
        .settings("host/BotApp/x", "c4n4ry-key")
        .replace(&conjur.url, &format!("http://127.0.0.1:{closed}"));
    let r = resolver(&settings);
    let err = get(&r, "{vault://conjur/BotApp%2Fx}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(!format!("{err:?}").contains("c4n4ry"));
}

/// Credentials never show: not in errors, not in `Debug`, not when a reference tries to set
/// them (which it may not: only the timeouts are a reference's to choose).
#[test]
#[ignore = "needs .ci/servers.sh"]
fn conjur_errors_are_scrubbed_and_references_choose_no_credentials() {
    let conjur = Conjur::new();
    let (login, api_key) = conjur.identity("scrub", &[]);
    let id = conjur.variable("scrub", &["v"]);
    let r = resolver(&conjur.settings(&login, &api_key));
    assert_eq!(get(&r, &reference(&id, "?read_timeout=3")).unwrap(), "v");
    for (option, value) in [
        ("api_key", "c4n4ry-in-reference"),
        ("endpoint_url", "http://127.0.0.1:9"),
        ("login", "admin"),
        ("account", "other"),
        ("ssl_verify", "off"),
    ] {
        let err = get(&r, &reference(&id, &format!("?{option}={value}"))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OptionNotAllowed, "{option}: {err}");
        assert!(
            err.to_string().contains(&format!("vault_conjur_{option}")),
            "{err}"
        );
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains("c4n4ry"), "{text}");
            assert!(!text.contains(&api_key), "{text}");
        }
    }
    assert!(!format!("{r:?}").contains(&api_key));
}

/// The cache, proved by the fake's request log: 100 references over 10 variables cost 10
/// reads and one authentication.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn conjur_one_hundred_references_over_ten_variables_cost_ten_reads() {
    let conjur = Conjur::new();
    let (login, api_key) = conjur.identity("cache", &[]);
    let ids: Vec<String> = (0..10)
        .map(|i| {
            conjur.variable(
                &format!("c{i}"),
                &[&json!({"a": format!("a{i}"), "b": format!("b{i}")}).to_string()],
            )
        })
        .collect();
    let r = resolver(&conjur.settings(&login, &api_key));
    let references: Vec<String> = (0..100)
        .map(|n| reference(&ids[n % 10], if n % 2 == 0 { "/a" } else { "/b" }))
        .collect();
    let mut secrets: Vec<Secret<String>> = serde_json::from_value(json!(references)).unwrap();
    secrets.resolve_secrets(&r).unwrap();
    assert_eq!(secrets[15].expose_secret(), "b5");
    let reads: usize = ids.iter().map(|id| conjur.reads(id).len()).sum();
    assert_eq!(reads, 10);
    assert_eq!(conjur.authentications(&login), 1);
}

/// Over https, Conjur's certificate is checked: against `ca_cert`, or else the bundled roots,
/// which do not know the test CA.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn conjur_over_tls_checks_the_certificate() {
    let conjur = Conjur::new();
    let (login, api_key) = conjur.identity("tls", &[]);
    let id = conjur.variable("tls", &["over tls"]);
    let tls = require("SECRET_REF_TEST_CONJUR_TLS_URL");
    let settings = conjur.settings(&login, &api_key).replace(&conjur.url, &tls);
    let with_ca = format!(
        "{settings}vault_conjur_ca_cert = {}\n",
        require("SECRET_REF_TEST_CONJUR_CACERT")
    );
    assert_eq!(
        get(&resolver(&with_ca), &reference(&id, "")).unwrap(),
        "over tls"
    );
    let err = get(&resolver(&settings), &reference(&id, "")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(!format!("{err:?}").contains("c4n4ry"));
}
