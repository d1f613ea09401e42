//! `secret-ref get` against the fake Conjur of `.ci/servers.sh`, configured by kong.conf's
//! `vault_conjur_*` keys alone (run with `--include-ignored` once the servers are up).

use std::process::{Command, Output};

fn require(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{var} is not set: source .ci/servers.sh; install_servers; start_servers"),
    }
}

fn cli(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_secret-ref"));
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.args(args).output().unwrap()
}

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
    let url = require("SECRET_REF_TEST_CONJUR_TLS_URL");
    let plain = require("SECRET_REF_TEST_CONJUR_URL");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let (login, api_key) = (
        format!("host/BotApp/cli-{nanos}"),
        format!("c4n4ry-cli-{nanos}"),
    );
    let id = format!("BotApp/cli-{}-{nanos}", std::process::id());
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
    let dir = std::env::temp_dir().join(format!("secret-ref-conjur-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("kong.conf");
    std::fs::write(
        &conf,
        format!(
            "vault_conjur_endpoint_url = {url}\nvault_conjur_auth_method = api_key\n\
             vault_conjur_account = {}\nvault_conjur_login = {login}\n\
             vault_conjur_api_key = {api_key}\nvault_conjur_ca_cert = {}\n",
            require("SECRET_REF_TEST_CONJUR_ACCOUNT"),
            require("SECRET_REF_TEST_CONJUR_CACERT"),
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let encoded = id.replace('/', "%2F");
    let get = |reference: String| {
        let out = cli(&["get", &reference, "-c", conf]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("c4n4ry"), "{stderr}");
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            stderr,
        )
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
