//! `secret-ref get` against the fake Conjur of `.ci/servers.sh`, configured by kong.conf's
//! `vault_conjur_*` keys alone (run with `--include-ignored` once the servers are up).

use std::process::Command;

mod common;
use common::{assert_no_canary, cli, server, stderr, stdout, temp_file, unique};

/// POSTs JSON to the fake's test-only API.
fn admin(url: &str, path: &str, body: &str) {
    let out = Command::new("curl")
        .args(["-sS", "-f", "--noproxy", "*", "-X", "POST", "-d", body])
        .arg(format!("{url}/_fake/{path}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{path}: {out:?}");
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn conjur_get_configured_by_kong_conf_alone() {
    let url = server("SECRET_REF_TEST_CONJUR_TLS_URL");
    let plain = server("SECRET_REF_TEST_CONJUR_URL");
    let (login, api_key) = (
        format!("host/BotApp/{}", unique("host")),
        format!("c4n4ry-{}", unique("key")),
    );
    let id = format!("BotApp/{}", unique("variable"));
    admin(
        &plain,
        "identities",
        &format!(r#"{{"login":"{login}","api_key":"{api_key}"}}"#),
    );
    for value in [r#"{\"password\":\"v1\"}"#, r#"{\"password\":\"v2\"}"#] {
        admin(
            &plain,
            "variables",
            &format!(r#"{{"id":"{id}","value":"{value}"}}"#),
        );
    }
    let conf = temp_file(
        "kong.conf",
        &format!(
            "vault_conjur_endpoint_url = {url}\nvault_conjur_auth_method = api_key\n\
             vault_conjur_account = {}\nvault_conjur_login = {login}\n\
             vault_conjur_api_key = {api_key}\nvault_conjur_ca_cert = {}\n",
            server("SECRET_REF_TEST_CONJUR_ACCOUNT"),
            server("SECRET_REF_TEST_CONJUR_CACERT"),
        ),
    );
    let conf = conf.to_str().unwrap();
    let encoded = id.replace('/', "%2F");
    let get = |reference: String| {
        let out = cli(&[], &["get", &reference, "-c", conf]);
        assert_no_canary(&out);
        (out.status.code(), stdout(&out), stderr(&out))
    };
    assert_eq!(get(format!("conjur/{encoded}/password")).1, "v2\n");
    assert_eq!(
        get(format!("{{vault://conjur/{encoded}/password#1}}")).1,
        "v1\n"
    );
    let (code, stdout, stderr) = get(format!("conjur/{encoded}-missing"));
    assert_eq!((code, stdout.as_str()), (Some(1), ""));
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
}
