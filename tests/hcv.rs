//! The `hcv` vault against a real OpenBao (HashiCorp Vault's open-source fork), configured
//! the way Kong is: `vault_hcv_*` settings, and the same options in a reference's query.
#![cfg(feature = "hcv")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Bao, unique};
use secret_ref::clock::ManualClock;
use secret_ref::kong_conf::Loader;
use secret_ref::vault::OptionClass;
use secret_ref::{ErrorKind, ResolveSecrets, Resolver, Secret};
use serde::Deserialize;
use serde_json::json;

fn resolver(settings: &str) -> Resolver {
    Loader::new()
        .text("kong.conf", settings)
        .load()
        .unwrap()
        .resolver()
        .unwrap()
}

fn get(r: &Resolver, reference: &str) -> Result<String, secret_ref::Error> {
    r.get(reference).map(|s| s.expose_secret().clone())
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn kv2_versions_keys_and_errors() {
    let bao = Bao::plain();
    let p = unique("kv2");
    bao.write_kv2(&p, json!({"user": "u1", "password": "p1", "port": 5432}));
    bao.write_kv2(&p, json!({"user": "u2", "password": "p2", "port": 5433}));
    let r = resolver(&format!(
        "{}vault_hcv_token = {}",
        bao.settings("v2", "secret"),
        bao.token
    ));

    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/password}}")).unwrap(),
        "p2"
    );
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/password#1}}")).unwrap(),
        "p1"
    );
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/password#2}}")).unwrap(),
        "p2"
    );
    let whole: serde_json::Value =
        serde_json::from_str(&get(&r, &format!("{{vault://hcv/{p}/}}")).unwrap()).unwrap();
    assert_eq!(whole, json!({"user": "u2", "password": "p2", "port": 5433}));

    #[derive(Deserialize, ResolveSecrets)]
    struct Pg {
        user: Secret<String>,
        port: Secret<u16>,
    }
    let mut pg: Pg = serde_json::from_value(json!({
        "user": format!("{{vault://hcv/{p}/user#1}}"),
        "port": format!("{{vault://hcv/{p}/port}}"),
    }))
    .unwrap();
    pg.resolve_secrets(&r).unwrap();
    assert_eq!(
        (pg.user.expose_secret().as_str(), *pg.port.expose_secret()),
        ("u1", 5433)
    );

    let kind = |reference: String| get(&r, &reference).unwrap_err().kind();
    assert_eq!(
        kind(format!("{{vault://hcv/{p}/nope}}")),
        ErrorKind::KeyNotFound
    );
    assert_eq!(
        kind(format!("{{vault://hcv/{p}-missing/password}}")),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(format!("{{vault://hcv/{p}/password#9}}")),
        ErrorKind::NotFound
    );
    // A deleted version.
    let (status, _) = bao.api(
        "POST",
        &format!("secret/delete/{p}"),
        Some(json!({"versions": [1]})),
    );
    assert_eq!(status, 204);
    // The resolver keeps what it read (no ttl): forget it to ask again.
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/password#1}}")).unwrap(),
        "p1"
    );
    r.clear_cache();
    let err = get(&r, &format!("{{vault://hcv/{p}/password#1}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("deleted or destroyed"), "{err}");
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn references_choose_the_secret_and_only_an_opt_in_lets_them_choose_the_server() {
    let bao = Bao::plain();
    let p = unique("query");
    bao.write_kv2(&p, json!({"password": "from-query"}));
    let everything = format!(
        "{{vault://hcv/{p}/password?protocol={}&host={}&port={}&kv=v2&mount=/secret/&token={}}}",
        bao.protocol(),
        bao.host(),
        bao.port(),
        bao.token
    );
    // By default, a reference may not say where the token goes, nor carry one.
    let err = get(&Resolver::new(), &everything).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OptionNotAllowed);
    assert!(err.to_string().contains("vault_hcv_protocol"), "{err}");
    assert!(!err.to_string().contains(&bao.token), "{err}");

    // Selectors (kv, mount) may come from the reference, over the settings' server.
    let r = resolver(&format!(
        "vault_hcv_host = {}\nvault_hcv_port = {}\nvault_hcv_token = {}",
        bao.host(),
        bao.port(),
        bao.token
    ));
    assert_eq!(
        get(
            &r,
            &format!("{{vault://hcv/{p}/password?kv=v2&mount=/secret/}}")
        )
        .unwrap(),
        "from-query"
    );
    let err = get(&r, &format!("{{vault://hcv/{p}/password?kv=v9}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);

    // Kong's behaviour, opted into: every setting is also a query option.
    let kong = Resolver::builder()
        .allow_in_references(OptionClass::ALL)
        .build()
        .unwrap();
    assert_eq!(get(&kong, &everything).unwrap(), "from-query");
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn kv1() {
    let bao = Bao::plain();
    let p = unique("kv1");
    bao.write_kv1(&p, json!({"password": "v1-secret"}));
    // KV v1 is Kong's default.
    let r = resolver(&format!(
        "vault_hcv_host = {}\nvault_hcv_port = {}\nvault_hcv_mount = kv1\nvault_hcv_token = {}",
        bao.host(),
        bao.port(),
        bao.token
    ));
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/password}}")).unwrap(),
        "v1-secret"
    );
    let err = get(&r, &format!("{{vault://hcv/{p}/password#2}}")).unwrap_err();
    assert!(err.to_string().contains("has no versions"), "{err}");
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn namespaces() {
    let bao = Bao::plain();
    let ns = unique("ns");
    let (status, body) = bao.api("POST", &format!("sys/namespaces/{ns}"), Some(json!({})));
    assert_eq!(status, 200, "{body}");
    let (status, body) = bao.api_in(
        Some(&ns),
        "POST",
        "sys/mounts/secret",
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    );
    assert_eq!(status, 204, "{body}");
    let (status, body) = bao.api_in(
        Some(&ns),
        "POST",
        "secret/data/app",
        Some(json!({"data": {"password": "in-namespace"}})),
    );
    assert_eq!(status, 200, "{body}");
    let base = format!(
        "{}vault_hcv_token = {}\n",
        bao.settings("v2", "secret"),
        bao.token
    );
    let r = resolver(&format!("{base}vault_hcv_namespace = {ns}"));
    assert_eq!(
        get(&r, "{vault://hcv/app/password}").unwrap(),
        "in-namespace"
    );
    let r = resolver(&base);
    assert_eq!(
        get(&r, "{vault://hcv/app/password}").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn permission_denied_and_tokens_never_leak() {
    let bao = Bao::plain();
    let p = unique("denied");
    bao.write_kv2(&p, json!({"password": "x"}));
    const CANARY: &str = "s.c4n4ryT0ken";
    let conf = Loader::new()
        .text(
            "kong.conf",
            &format!("{}vault_hcv_token = {CANARY}", bao.settings("v2", "secret")),
        )
        .load()
        .unwrap();
    let r = conf.resolver().unwrap();
    let err = get(&r, &format!("{{vault://hcv/{p}/password}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    for text in [
        err.to_string(),
        format!("{err:?}"),
        format!("{err:#?}"),
        format!("{r:?}"),
        format!("{conf:?}"),
    ] {
        assert!(!text.contains("c4n4ry"), "leaked the token");
    }
    let err = get(&r, &format!("{{vault://hcv/{p}/password?token={CANARY}x}}")).unwrap_err();
    assert!(!err.to_string().contains("c4n4ry"));
    assert!(err.to_string().contains("token=***"));

    // A real token whose policy denies the path.
    let policy = bao.read_policy();
    let (status, body) = bao.api(
        "POST",
        "auth/token/create",
        Some(json!({"policies": [policy], "ttl": "10m"})),
    );
    assert_eq!(status, 200, "{body}");
    let token = body["auth"]["client_token"].as_str().unwrap();
    bao.write_kv2(&format!("forbidden/{p}"), json!({"password": "x"}));
    let r = resolver(&format!(
        "{}vault_hcv_token = {token}",
        bao.settings("v2", "secret")
    ));
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/password}}")).unwrap(),
        "x"
    );
    let err = get(&r, &format!("{{vault://hcv/forbidden/{p}/password}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(!err.to_string().contains(token));
}

fn approle(bao: &Bao) -> (String, String, String) {
    let policy = bao.read_policy();
    let role = unique("role");
    let (status, body) = bao.api(
        "POST",
        &format!("auth/approle/role/{role}"),
        Some(json!({"token_policies": [policy], "token_ttl": "1h"})),
    );
    assert_eq!(status, 204, "{body}");
    let (_, body) = bao.api("GET", &format!("auth/approle/role/{role}/role-id"), None);
    let role_id = body["data"]["role_id"].as_str().unwrap().to_owned();
    let (_, body) = bao.api("POST", &format!("auth/approle/role/{role}/secret-id"), None);
    let secret_id = body["data"]["secret_id"].as_str().unwrap().to_owned();
    (role, role_id, secret_id)
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn approle_logs_in_once() {
    let bao = Bao::plain();
    let p = unique("approle");
    for i in 0..3 {
        bao.write_kv2(&format!("{p}/{i}"), json!({"password": format!("p{i}")}));
    }
    let (role, role_id, secret_id) = approle(&bao);
    let logins = || bao.audited_op("auth/approle/login", "update");
    let before = logins();
    let r = resolver(&format!(
        "{}vault_hcv_auth_method = approle\nvault_hcv_approle_role_id = {role_id}\n\
         vault_hcv_approle_secret_id = {secret_id}",
        bao.settings("v2", "secret")
    ));
    for i in 0..3 {
        assert_eq!(
            get(&r, &format!("{{vault://hcv/{p}/{i}/password}}")).unwrap(),
            format!("p{i}")
        );
    }
    assert_eq!(logins() - before, 1, "one login for three secrets");

    // The secret id from a file.
    let file = std::env::temp_dir().join(unique("secret-id"));
    std::fs::write(&file, format!("{secret_id}\n")).unwrap();
    let r = resolver(&format!(
        "{}vault_hcv_auth_method = approle\nvault_hcv_approle_role_id = {role_id}\n\
         vault_hcv_approle_secret_id_file = {}",
        bao.settings("v2", "secret"),
        file.display()
    ));
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/0/password}}")).unwrap(),
        "p0"
    );
    std::fs::remove_file(&file).unwrap();

    // A response-wrapped secret id, unwrapped first.
    let url = format!("{}/v1/auth/approle/role/{role}/secret-id", bao.addr);
    let (status, body) = common::call(
        "POST",
        &url,
        &[("X-Vault-Token", &bao.token), ("X-Vault-Wrap-TTL", "120s")],
        None,
    );
    assert_eq!(status, 200, "{body}");
    let wrapping = body["wrap_info"]["token"].as_str().unwrap();
    let r = resolver(&format!(
        "{}vault_hcv_auth_method = approle\nvault_hcv_approle_role_id = {role_id}\n\
         vault_hcv_approle_secret_id = {wrapping}\nvault_hcv_approle_response_wrapping = on",
        bao.settings("v2", "secret")
    ));
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/1/password}}")).unwrap(),
        "p1"
    );

    // A wrong secret id.
    let r = resolver(&format!(
        "{}vault_hcv_auth_method = approle\nvault_hcv_approle_role_id = {role_id}\n\
         vault_hcv_approle_secret_id = c4n4ry-wrong",
        bao.settings("v2", "secret")
    ));
    let err = get(&r, &format!("{{vault://hcv/{p}/0/password}}")).unwrap_err();
    assert!(err.to_string().contains("approle login"), "{err}");
    assert!(!err.to_string().contains("c4n4ry"));
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn kubernetes_auth() {
    let bao = Bao::plain();
    let jwt = common::server("SECRET_REF_TEST_K8S_JWT");
    let p = unique("kube");
    bao.write_kv2(&p, json!({"password": "from-kubernetes"}));
    let policy = bao.read_policy();
    let role = unique("kube-role");
    let (status, body) = bao.api(
        "POST",
        &format!("auth/kubernetes/role/{role}"),
        Some(json!({
            "bound_service_account_names": ["secret-ref"],
            "bound_service_account_namespaces": ["default"],
            "token_policies": [policy],
            "token_ttl": "1h"
        })),
    );
    assert_eq!(status, 204, "{body}");
    let token_file = std::env::temp_dir().join(unique("sa-token"));
    std::fs::write(&token_file, &jwt).unwrap();
    let r = resolver(&format!(
        "{}vault_hcv_auth_method = kubernetes\nvault_hcv_kube_role = {role}\n\
         vault_hcv_kube_api_token_file = {}",
        bao.settings("v2", "secret"),
        token_file.display()
    ));
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/password}}")).unwrap(),
        "from-kubernetes"
    );
    std::fs::remove_file(&token_file).unwrap();
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn tls_with_a_custom_ca_and_verification_on_by_default() {
    let bao = Bao::tls();
    let ca = common::server("SECRET_REF_TEST_BAO_CACERT");
    let p = unique("tls");
    bao.write_kv2_tls(&p, &ca);
    let base = format!(
        "{}vault_hcv_token = {}\n",
        bao.settings("v2", "secret"),
        bao.token
    );
    let r = resolver(&format!("{base}vault_hcv_ca_cert = {ca}"));
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/password}}")).unwrap(),
        "over-tls"
    );
    // Without the CA, the certificate is refused.
    let err = get(&resolver(&base), &format!("{{vault://hcv/{p}/password}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(err.to_string().contains("certificate"), "{err}");
    // Unless verification is turned off.
    let r = resolver(&format!("{base}vault_hcv_ssl_verify = off"));
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/password}}")).unwrap(),
        "over-tls"
    );
}

trait TlsWrite {
    fn write_kv2_tls(&self, path: &str, ca: &str);
}

impl TlsWrite for Bao {
    /// Writes with curl, given the dev CA (the tests' own client trusts only public roots).
    fn write_kv2_tls(&self, path: &str, ca: &str) {
        let status = std::process::Command::new("curl")
            .args([
                "-sS",
                "--noproxy",
                "*",
                "--cacert",
                ca,
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .args(["-H", &format!("X-Vault-Token: {}", self.token)])
            .args(["-X", "POST", "-d", r#"{"data":{"password":"over-tls"}}"#])
            .arg(format!("{}/v1/secret/data/{path}", self.addr))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&status.stdout), "200");
    }
}

#[test]
fn unreachable_servers_and_timeouts() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = resolver(&format!("vault_hcv_port = {closed}\nvault_hcv_token = t"));
    let err = get(&r, "{vault://hcv/a/b}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{closed}")),
        "{err}"
    );

    // A server that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for conn in silent.incoming().flatten() {
            keep.lock().unwrap().push(conn);
        }
    });
    let r = resolver(&format!(
        "vault_hcv_port = {port}\nvault_hcv_token = t\nvault_hcv_read_timeout = 0.5"
    ));
    let err = get(&r, "{vault://hcv/a/b}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(err.to_string().contains("timeout"), "{err}");
}

/// The cache, proved by the server's audit log: 100 references over 10 secrets cost 10
/// requests, and resolving again within the ttl costs none.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn one_hundred_references_over_ten_secrets_cost_ten_requests() {
    let bao = Bao::plain();
    let p = unique("cache");
    for i in 0..10 {
        bao.write_kv2(
            &format!("{p}/s{i}"),
            json!({"a": format!("a{i}"), "b": format!("b{i}")}),
        );
    }
    let r = resolver(&format!(
        "{}vault_hcv_token = {}\nvault_hcv_ttl = 60",
        bao.settings("v2", "secret"),
        bao.token
    ));
    let references: Vec<String> = (0..100)
        .map(|n| {
            let (i, key) = (n % 10, if n % 2 == 0 { "a" } else { "b" });
            format!("{{vault://hcv/{p}/s{i}/{key}}}")
        })
        .collect();
    let mut secrets: Vec<Secret<String>> = serde_json::from_value(json!(references)).unwrap();
    secrets.resolve_secrets(&r).unwrap();
    assert_eq!(secrets[13].expose_secret(), "b3");
    let requests = || {
        (0..10)
            .map(|i| bao.audited(&format!("secret/data/{p}/s{i}")))
            .sum::<usize>()
    };
    assert_eq!(requests(), 10);
    let mut again: Vec<Secret<String>> = serde_json::from_value(json!(references)).unwrap();
    again.resolve_secrets(&r).unwrap();
    assert_eq!(requests(), 10, "within the ttl, from the cache");
}

/// A server of the test's own, stopped mid-run: `resurrect_ttl` keeps serving the last value,
/// with a warning, then the failure stands.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn resurrect_ttl_when_the_server_stops() {
    let (mut server, own) = common::own_bao();
    own.write_kv2("db", json!({"password": "before-the-outage"}));

    let warnings = Arc::new(Mutex::new(Vec::new()));
    let seen = warnings.clone();
    let clock = Arc::new(ManualClock::new());
    let r = Loader::new()
        .text(
            "kong.conf",
            &format!(
                "{}vault_hcv_token = root\nvault_hcv_ttl = 1\nvault_hcv_resurrect_ttl = 3\n\
                 vault_hcv_connect_timeout = 0.5",
                own.settings("v2", "secret")
            ),
        )
        .load()
        .unwrap()
        .apply_to(
            Resolver::builder()
                .clock(clock.clone())
                .on_warning(move |f| {
                    // The plain-http warning is not what this test is about.
                    if f.kind() != ErrorKind::Insecure {
                        seen.lock().unwrap().push(f.to_string())
                    }
                }),
        )
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        get(&r, "{vault://hcv/db/password}").unwrap(),
        "before-the-outage"
    );

    server.kill().unwrap();
    server.wait().unwrap();

    clock.advance(Duration::from_millis(1500));
    assert_eq!(
        get(&r, "{vault://hcv/db/password}").unwrap(),
        "before-the-outage"
    );
    let seen = warnings.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].contains("serving the previous value"),
        "{}",
        seen[0]
    );

    clock.advance(Duration::from_millis(3500));
    let err = get(&r, "{vault://hcv/db/password}").unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Unreachable,
        "past resurrect_ttl: {err}"
    );
}

/// Rotation against OpenBao: a new KV v2 version reaches a `Live` secret within one
/// rotation interval after its `ttl`.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn live_secret_follows_a_new_version() {
    let bao = Bao::plain();
    let p = unique("live");
    bao.write_kv2(&p, json!({"password": "v1"}));
    let conf = Loader::new()
        .text(
            "kong.conf",
            &format!(
                "{}vault_hcv_token = {}\nvault_hcv_ttl = 1\nvault_rotation_interval = 0.25",
                bao.settings("v2", "secret"),
                bao.token
            ),
        )
        .load()
        .unwrap();
    let clock = Arc::new(ManualClock::new());
    let resolver = conf
        .apply_to(Resolver::builder().clock(clock.clone()))
        .unwrap()
        .build()
        .unwrap();

    #[derive(Deserialize, ResolveSecrets)]
    struct Service {
        password: secret_ref::Live<String>,
    }
    let service: Service = resolver
        .scope(|| {
            serde_json::from_value(json!({"password": format!("{{vault://hcv/{p}/password}}")}))
        })
        .unwrap();
    let changes = service.password.subscribe();
    let rotation = resolver.start_rotation(conf.rotation_interval().unwrap());
    assert_eq!(*service.password.expose_secret(), "v1");

    bao.write_kv2(&p, json!({"password": "v2"}));
    // Within the ttl, the rotation thread leaves it alone...
    assert!(changes.recv_timeout(Duration::from_millis(600)).is_err());
    assert_eq!(*service.password.expose_secret(), "v1");
    // ...and once it runs out, the next pass brings the new version.
    clock.advance(Duration::from_secs(1));
    changes
        .recv_timeout(Duration::from_secs(10))
        .expect("the new version arrives");
    assert_eq!(*service.password.expose_secret(), "v2");
    rotation.stop();
}

/// Kong's `kong.vault.try` against OpenBao: the first attempt uses the cached password, the
/// database refuses it, the secret is read again and the second attempt uses the new one.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn retry_picks_up_a_rotated_password() {
    let bao = Bao::plain();
    let p = unique("try");
    bao.write_kv2(&p, json!({"password": "old"}));
    let r = resolver(&format!(
        "{}vault_hcv_token = {}\nvault_hcv_ttl = 3600",
        bao.settings("v2", "secret"),
        bao.token
    ));
    #[derive(Deserialize, ResolveSecrets)]
    struct Db {
        password: Secret<String>,
    }
    let mut db: Db = r
        .scope(|| {
            serde_json::from_value(json!({"password": format!("{{vault://hcv/{p}/password}}")}))
        })
        .unwrap();
    bao.write_kv2(&p, json!({"password": "new"}));
    let reads = bao.audited(&format!("secret/data/{p}"));
    let mut tried = Vec::new();
    let login = r.retry(&mut db, |db| {
        tried.push(db.password.expose_secret().clone());
        // The database, rotated by the vault, accepts only the new password.
        if db.password.expose_secret() == "new" {
            Ok("session")
        } else {
            Err("authentication failed")
        }
    });
    assert_eq!(login, Ok("session"));
    assert_eq!(tried, ["old", "new"]);
    assert_eq!(bao.audited(&format!("secret/data/{p}")), reads + 1);
}

/// Rotation against a server of the test's own that stops: the live secret keeps its value
/// within `resurrect_ttl` (with a warning), then the failure stands for new reads.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn rotation_resurrects_then_expires_when_the_server_stops() {
    let (mut server, own) = common::own_bao();
    own.write_kv2("db", json!({"password": "v1"}));
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let seen = warnings.clone();
    let clock = Arc::new(ManualClock::new());
    let r = Loader::new()
        .text(
            "kong.conf",
            &format!(
                "{}vault_hcv_token = root\nvault_hcv_ttl = 0.5\nvault_hcv_resurrect_ttl = 2",
                own.settings("v2", "secret")
            ),
        )
        .load()
        .unwrap()
        .apply_to(
            Resolver::builder()
                .clock(clock.clone())
                .on_warning(move |f| {
                    // The plain-http warning is not what this test is about.
                    if f.kind() != ErrorKind::Insecure {
                        seen.lock().unwrap().push(f.to_string())
                    }
                }),
        )
        .unwrap()
        .build()
        .unwrap();
    let mut live: secret_ref::Live<String> =
        secret_ref::Live::from_reference("{vault://hcv/db/password}".parse().unwrap());
    r.resolve(&mut live).unwrap();

    // A new version first, to see the rotation work.
    own.write_kv2("db", json!({"password": "v2"}));
    clock.advance(Duration::from_millis(600));
    assert_eq!(r.rotate().changed, 1);
    assert_eq!(*live.expose_secret(), "v2");

    server.kill().unwrap();
    server.wait().unwrap();
    clock.advance(Duration::from_millis(600));
    let report = r.rotate();
    assert_eq!(report.resurrected, 1, "{report:?}");
    assert_eq!(*live.expose_secret(), "v2");
    assert_eq!(get(&r, "{vault://hcv/db/password}").unwrap(), "v2");
    assert!(
        warnings
            .lock()
            .unwrap()
            .iter()
            .any(|w| w.contains("serving the previous value"))
    );

    clock.advance(Duration::from_millis(2200));
    let report = r.rotate();
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(
        get(&r, "{vault://hcv/db/password}").unwrap_err().kind(),
        ErrorKind::Unreachable
    );
    assert_eq!(
        *live.expose_secret(),
        "v2",
        "a live secret keeps its last value"
    );
}

/// Kong 3.11's `base64_decode` (kong.conf `vault_hcv_base64_decode`): each string field of
/// the KV secret is decoded, so `/key` reads a decoded value (a KV secret is an object, which
/// could never be base64 as a whole); a field that is not base64 is an error naming the field,
/// never the value; a reference may ask for it (a selector: how the chosen secret is read).
#[test]
#[ignore = "needs .ci/servers.sh"]
fn base64_decode_decodes_each_field_before_the_key_is_read() {
    let bao = Bao::plain();
    let p = unique("b64");
    // "-----BEGIN CERT-----\n" and "ünïcode", base64; a number stays a number.
    bao.write_kv2(
        &p,
        json!({"cert": "LS0tLS1CRUdJTiBDRVJULS0tLS0K", "name": "w7xuw69jb2Rl", "port": 5432}),
    );
    let bad = unique("b64-bad");
    bao.write_kv2(
        &bad,
        json!({"ok": "aGk=", "password": "c4n4ry-not-base64!"}),
    );
    let settings = format!(
        "{}vault_hcv_token = {}\n",
        bao.settings("v2", "secret"),
        bao.token
    );
    let r = resolver(&format!("{settings}vault_hcv_base64_decode = on\n"));
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/cert}}")).unwrap(),
        "-----BEGIN CERT-----\n"
    );
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/name}}")).unwrap(),
        "ünïcode"
    );
    assert_eq!(
        get(&r, &format!("{{vault://hcv/{p}/port}}")).unwrap(),
        "5432"
    );

    let err = get(&r, &format!("{{vault://hcv/{bad}/ok}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadResponse, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("field `password` of secret `{bad}` is not base64")),
        "{err}"
    );
    assert!(!format!("{err:?}").contains("c4n4ry"));

    // Off by default; a reference may turn it on (or off) for itself.
    let plain = resolver(&settings);
    assert_eq!(
        get(&plain, &format!("{{vault://hcv/{p}/name}}")).unwrap(),
        "w7xuw69jb2Rl"
    );
    assert_eq!(
        get(
            &plain,
            &format!("{{vault://hcv/{p}/name?base64_decode=true}}")
        )
        .unwrap(),
        "ünïcode"
    );
    assert_eq!(
        get(
            &r,
            &format!("{{vault://hcv/{bad}/password?base64_decode=off}}")
        )
        .unwrap(),
        "c4n4ry-not-base64!"
    );
    // Kong's spelling only: the documentation's `vault_hcv_decode_base64` is no key Kong reads.
    let err = Loader::new()
        .text(
            "kong.conf",
            &format!("{settings}vault_hcv_decode_base64 = on\n"),
        )
        .load()
        .unwrap()
        .resolver()
        .unwrap_err();
    assert_eq!(err.failures()[0].kind(), ErrorKind::InvalidConfig, "{err}");
}
