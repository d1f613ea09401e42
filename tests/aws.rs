//! The `aws` vault against moto's Secrets Manager, configured the way Kong is:
//! `vault_aws_*` settings, and the same options in a reference's query. (The AWS credential
//! chain itself is tested through the CLI, as a process with an environment of its own.)
#![cfg(feature = "aws")]

mod common;

use std::sync::Arc;

use common::{Moto, unique};
use secret_ref::clock::ManualClock;
use secret_ref::kong_conf::Loader;
use secret_ref::vault::aws::{AwsVault, Credentials};
use secret_ref::{ErrorKind, ResolveSecrets, Resolver, Secret};
use serde::Deserialize;
use serde_json::json;

/// moto accepts any credentials, as long as the request is signed.
fn vault() -> AwsVault {
    AwsVault::with_credentials(Credentials::new(
        "AKIDTEST",
        "c4n4ry-secret-key",
        None,
        None,
        "test",
    ))
}

fn resolver(settings: &str) -> Resolver {
    resolver_on(settings, Arc::new(ManualClock::new()))
}

/// A resolver whose cache reads the given clock.
fn resolver_on(settings: &str, clock: Arc<ManualClock>) -> Resolver {
    let conf = Loader::new().text("kong.conf", settings).load().unwrap();
    conf.apply_to(Resolver::builder().vault("aws", vault()).clock(clock))
        .unwrap()
        .build()
        .unwrap()
}

fn get(r: &Resolver, reference: &str) -> Result<String, secret_ref::Error> {
    r.get(reference).map(|s| s.expose_secret().clone())
}

fn create(moto: &Moto, name: &str, versions: &[serde_json::Value]) {
    let (status, body) = moto.call(
        "CreateSecret",
        json!({"Name": name, "SecretString": versions[0].to_string()}),
    );
    assert_eq!(status, 200, "{body}");
    for v in &versions[1..] {
        let (status, body) = moto.call(
            "PutSecretValue",
            json!({"SecretId": name, "SecretString": v.to_string()}),
        );
        assert_eq!(status, 200, "{body}");
    }
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn current_previous_keys_and_errors() {
    let moto = Moto::new();
    let name = unique("db");
    create(
        &moto,
        &name,
        &[
            json!({"user": "u1", "password": "p1"}),
            json!({"user": "u2", "password": "p2", "port": 5432}),
        ],
    );
    let r = resolver(&moto.settings());
    assert_eq!(
        get(&r, &format!("{{vault://aws/{name}/password}}")).unwrap(),
        "p2"
    );
    assert_eq!(
        get(&r, &format!("{{vault://aws/{name}/password#1}}")).unwrap(),
        "p2"
    );
    assert_eq!(
        get(&r, &format!("{{vault://aws/{name}/password#2}}")).unwrap(),
        "p1"
    );
    let whole: serde_json::Value =
        serde_json::from_str(&get(&r, &format!("{{vault://aws/{name}/}}")).unwrap()).unwrap();
    assert_eq!(whole["user"], "u2");

    #[derive(Deserialize, ResolveSecrets)]
    struct Pg {
        port: Secret<u16>,
        old_user: Secret<String>,
    }
    let mut pg: Pg = serde_json::from_value(json!({
        "port": format!("{{vault://aws/{name}/port}}"),
        "old_user": format!("{{vault://aws/{name}/user#2}}"),
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

    let err = get(&r, &format!("{{vault://aws/{name}/password#3}}")).unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid version for aws secret manager"),
        "{err}"
    );
    let err = get(&r, &format!("{{vault://aws/{name}-missing/}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string().contains("ResourceNotFoundException"),
        "{err}"
    );
    assert!(!format!("{err:?}").contains("c4n4ry"));
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn names_with_slashes_and_plus_signs() {
    let moto = Moto::new();
    // `%2F` puts a `/` inside the name (Kong's documented escape); `+` stays `+`.
    let name = format!("/{}/a+b", unique("path"));
    create(&moto, &name, &[json!({"k": "v"})]);
    let r = resolver(&moto.settings());
    let encoded = name.replace('/', "%2F");
    assert_eq!(
        get(&r, &format!("{{vault://aws/{encoded}/k}}")).unwrap(),
        "v"
    );
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn binary_secrets() {
    let moto = Moto::new();
    let name = unique("bin");
    let (status, body) = moto.call(
        "CreateSecret",
        json!({"Name": name, "SecretBinary": "eyJrZXkiOiJmcm9tLWJpbmFyeSJ9"}),
    );
    assert_eq!(status, 200, "{body}");
    let r = resolver(&moto.settings());
    assert_eq!(
        get(&r, &format!("{{vault://aws/{name}/key}}")).unwrap(),
        "from-binary"
    );

    let name = unique("bin-raw");
    let (status, _) = moto.call(
        "CreateSecret",
        json!({"Name": name, "SecretBinary": "//79"}),
    );
    assert_eq!(status, 200);
    let err = get(&r, &format!("{{vault://aws/{name}}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadResponse);
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn regions_as_query_options_and_the_endpoint_from_settings_only() {
    let moto = Moto::new();
    let name = unique("region");
    let (status, body) = moto.call_in(
        "eu-west-1",
        "CreateSecret",
        json!({"Name": name, "SecretString": "in-eu"}),
    );
    assert_eq!(status, 200, "{body}");
    let r = resolver(&format!("vault_aws_endpoint_url = {}", moto.url));
    // The region picks the secret: a reference may choose it.
    let reference = format!("{{vault://aws/{name}?region=eu-west-1}}");
    assert_eq!(get(&r, &reference).unwrap(), "in-eu");
    // Secrets are per region.
    let reference = format!("{{vault://aws/{name}?region=us-east-1}}");
    assert_eq!(get(&r, &reference).unwrap_err().kind(), ErrorKind::NotFound);
    // A region is a region name: it goes into the endpoint's host name.
    for region in ["evil.example/", "eu-west-1.evil.example", "EU-WEST-1", "x"] {
        let err = get(&r, &format!("{{vault://aws/{name}?region={region}}}")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{region}");
    }
    // Where signed requests go is the settings' choice.
    let err = get(
        &r,
        &format!(
            "{{vault://aws/{name}?region=eu-west-1&endpoint_url={}}}",
            moto.url
        ),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OptionNotAllowed);
    assert!(err.to_string().contains("vault_aws_endpoint_url"), "{err}");
    let err = Loader::new()
        .text("kong.conf", "vault_aws_endpoint_url = ftp://x")
        .load()
        .unwrap()
        .apply_to(Resolver::builder().vault("aws", vault()))
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(err.failures()[0].kind(), ErrorKind::InvalidConfig);
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn assume_role_through_sts() {
    let moto = Moto::new();
    let name = unique("assumed");
    create(&moto, &name, &[json!({"password": "via-assumed-role"})]);
    let r = resolver(&format!(
        "{}vault_aws_assume_role_arn = arn:aws:iam::123456789012:role/secret-reader\n\
         vault_aws_role_session_name = secret-ref-test\nvault_aws_sts_endpoint_url = {}",
        moto.settings(),
        moto.url
    ));
    assert_eq!(
        get(&r, &format!("{{vault://aws/{name}/password}}")).unwrap(),
        "via-assumed-role"
    );
}

#[test]
fn unreachable_endpoints() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = resolver(&format!(
        "vault_aws_region = us-east-1\nvault_aws_endpoint_url = http://127.0.0.1:{closed}"
    ));
    let err = get(&r, "{vault://aws/x}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(!err.to_string().contains("c4n4ry"));
}

/// The cache, proved by moto's request log: 100 references over 10 secrets cost 10 calls.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn one_hundred_references_over_ten_secrets_cost_ten_calls() {
    let moto = Moto::new();
    let p = unique("cache");
    for i in 0..10 {
        create(
            &moto,
            &format!("{p}-{i}"),
            &[json!({"a": format!("a{i}"), "b": format!("b{i}")})],
        );
    }
    let r = resolver(&moto.settings());
    let references: Vec<String> = (0..100)
        .map(|n| {
            format!(
                "{{vault://aws/{p}-{}/{}}}",
                n % 10,
                if n % 2 == 0 { "a" } else { "b" }
            )
        })
        .collect();
    let mut secrets: Vec<Secret<String>> = serde_json::from_value(json!(references)).unwrap();
    secrets.resolve_secrets(&r).unwrap();
    assert_eq!(secrets[15].expose_secret(), "b5");
    let calls: usize = (0..10).map(|i| moto.gets(&format!("{p}-{i}"))).sum();
    assert_eq!(calls, 10);
}

/// Rotation against moto: `PutSecretValue` makes a new `AWSCURRENT`, which reaches a `Live`
/// secret at the first rotation pass after its `ttl`; `retry` picks it up at once.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn live_secrets_and_retry_follow_put_secret_value() {
    let moto = Moto::new();
    let name = unique("live");
    create(&moto, &name, &[json!({"password": "v1"})]);
    let clock = Arc::new(ManualClock::new());
    let r = resolver_on(
        &format!("{}vault_aws_ttl = 1", moto.settings()),
        clock.clone(),
    );

    #[derive(Deserialize, ResolveSecrets)]
    struct Service {
        live: secret_ref::Live<String>,
        once: Secret<String>,
    }
    let reference = format!("{{vault://aws/{name}/password}}");
    let mut service: Service = r
        .scope(|| serde_json::from_value(json!({"live": reference, "once": reference})))
        .unwrap();
    let changes = service.live.subscribe();
    let rotation = r.start_rotation(std::time::Duration::from_millis(10));
    let (status, body) = moto.call(
        "PutSecretValue",
        json!({"SecretId": name, "SecretString": json!({"password": "v2"}).to_string()}),
    );
    assert_eq!(status, 200, "{body}");
    // The next rotation pass after the ttl brings it.
    clock.advance(std::time::Duration::from_secs(1));
    changes
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the new AWSCURRENT arrives");
    assert_eq!(*service.live.expose_secret(), "v2");
    rotation.stop();

    // The plain secret kept its value; retry refreshes it when it is refused.
    assert_eq!(service.once.expose_secret(), "v1");
    let result = r.retry(&mut service, |s| {
        if s.once.expose_secret() == "v2" {
            Ok(())
        } else {
            Err("refused")
        }
    });
    assert_eq!(result, Ok(()));
}

/// A moto of the test's own that stops: resurrection within `resurrect_ttl`, then expiry.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn rotation_resurrects_then_expires_when_moto_stops() {
    let (mut server, own) = common::own_moto();
    create(&own, "db", &[json!({"password": "v1"})]);
    let clock = Arc::new(ManualClock::new());
    let r = resolver_on(
        &format!(
            "{}vault_aws_ttl = 0.5\nvault_aws_resurrect_ttl = 2\nvault_aws_connect_timeout = 0.5",
            own.settings()
        ),
        clock.clone(),
    );
    let mut live: secret_ref::Live<String> =
        secret_ref::Live::from_reference("{vault://aws/db/password}".parse().unwrap());
    r.resolve(&mut live).unwrap();

    server.kill().unwrap();
    server.wait().unwrap();
    clock.advance(std::time::Duration::from_millis(600));
    let report = r.rotate();
    assert_eq!(report.resurrected, 1, "{report:?}");
    assert_eq!(get(&r, "{vault://aws/db/password}").unwrap(), "v1");

    clock.advance(std::time::Duration::from_millis(2200));
    assert_eq!(r.rotate().failed, 1);
    assert_eq!(
        get(&r, "{vault://aws/db/password}").unwrap_err().kind(),
        ErrorKind::Unreachable
    );
    assert_eq!(*live.expose_secret(), "v1");
}

/// Kong 3.11's `base64_decode` (kong.conf `vault_aws_base64_decode`): the secret is decoded
/// first, then `/key` reads the decoded JSON, as a Kong vault's `get` returns the value the
/// key is then read from; text that is not base64 is an error that never shows it.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn base64_decode_decodes_the_secret_before_the_key_is_read() {
    let moto = Moto::new();
    let name = unique("b64");
    // base64 of {"user":"u1","password":"pässword"}
    let (status, body) = moto.call(
        "CreateSecret",
        json!({"Name": name, "SecretString": "eyJ1c2VyIjoidTEiLCJwYXNzd29yZCI6InDDpHNzd29yZCJ9"}),
    );
    assert_eq!(status, 200, "{body}");
    let plain = unique("b64-plain");
    create(&moto, &plain, &[json!({"password": "c4n4ry-plain"})]);
    let r = resolver(&format!(
        "{}vault_aws_base64_decode = on\n",
        moto.settings()
    ));
    assert_eq!(
        get(&r, &format!("{{vault://aws/{name}/password}}")).unwrap(),
        "pässword"
    );
    assert_eq!(
        get(&r, &format!("{{vault://aws/{name}}}")).unwrap(),
        r#"{"user":"u1","password":"pässword"}"#
    );
    let err = get(&r, &format!("{{vault://aws/{plain}/password}}")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadResponse, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("secret `{plain}` is not base64")),
        "{err}"
    );
    assert!(!format!("{err:?}").contains("c4n4ry"));
    // A reference may choose it for itself.
    let off = resolver(&moto.settings());
    assert_eq!(
        get(
            &off,
            &format!("{{vault://aws/{name}/password?base64_decode=true}}")
        )
        .unwrap(),
        "pässword"
    );
    assert_eq!(
        get(&off, &format!("{{vault://aws/{plain}/password}}")).unwrap(),
        "c4n4ry-plain"
    );
}
