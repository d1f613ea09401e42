//! The `secret-ref` command with the `gcp` vault, as a process with an environment of its
//! own: configured only by kong.conf's `vault_gcp_*` keys, with credentials from each link
//! of the chain (`GCP_SERVICE_ACCOUNT`, `GOOGLE_APPLICATION_CREDENTIALS`, the metadata
//! server at `GCE_METADATA_HOST`), against `.ci/fake_gcp.py`.
//!
//! Needs the servers of `.ci/servers.sh`: ignored in a plain `cargo test`, and failing
//! rather than skipping when their variables are missing.

use std::path::PathBuf;

mod common;
use common::{assert_no_canary, cli, server, stderr, stdout, unique};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("secret-ref-gcp-{}", unique(name)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Seeds a secret in the fake (its admin side door); returns the secret's name.
fn seed(url: &str, project: &str, tag: &str, data: &str) -> String {
    let name = unique(tag);
    let body =
        serde_json::json!({"project": project, "secret": name, "versions": [{"data": data}]});
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let status = agent
        .post(format!("{url}/_fake/secrets"))
        .send(body.to_string())
        .unwrap()
        .status();
    assert_eq!(status, 200);
    name
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn gcp_cli_get_configured_by_kong_conf() {
    let url = server("SECRET_REF_TEST_GCP_URL");
    let project = server("SECRET_REF_TEST_GCP_PROJECT");
    let key_file = server("SECRET_REF_TEST_GCP_KEY_FILE");
    let metadata = server("SECRET_REF_TEST_GCP_METADATA_HOST");
    let key = std::fs::read_to_string(&key_file).unwrap();
    let name = seed(
        &url,
        &project,
        "cli",
        r#"{"user":"app","password":"from-gcp"}"#,
    );
    let dir = temp_dir("conf");
    let conf = dir.join("kong.conf");
    std::fs::write(
        &conf,
        format!("vault_gcp_project_id = {project}\nvault_gcp_endpoint_url = {url}\n"),
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let reference = format!("gcp/{name}/password");
    let run = |env: &[(&str, &str)]| cli(env, &["get", &reference, "-c", conf]);
    // Nothing falls through to Google's metadata server: it is moved to a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let nowhere = format!("127.0.0.1:{closed}");

    // Kong's variable: the key as JSON.
    let out = run(&[
        ("GCP_SERVICE_ACCOUNT", &key),
        ("GCE_METADATA_HOST", &nowhere),
    ]);
    assert_eq!(stdout(&out), "from-gcp\n", "{}", stderr(&out));
    // Google's: a key file.
    let out = run(&[
        ("GOOGLE_APPLICATION_CREDENTIALS", &key_file),
        ("GCE_METADATA_HOST", &nowhere),
    ]);
    assert_eq!(stdout(&out), "from-gcp\n", "{}", stderr(&out));
    // The metadata server (GCE, Workload Identity).
    let out = run(&[("GCE_METADATA_HOST", &metadata)]);
    assert_eq!(stdout(&out), "from-gcp\n", "{}", stderr(&out));
    // The whole secret, by a full reference with a version.
    let out = cli(
        &[
            ("GCP_SERVICE_ACCOUNT", &key),
            ("GCE_METADATA_HOST", &nowhere),
        ],
        &["get", &format!("{{vault://gcp/{name}#1}}"), "-c", conf],
    );
    assert_eq!(
        stdout(&out),
        "{\"user\":\"app\",\"password\":\"from-gcp\"}\n",
        "{}",
        stderr(&out)
    );

    // Nothing at all: a clear error, with no key in it.
    let out = run(&[("GCE_METADATA_HOST", &nowhere)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("metadata server"), "{}", stderr(&out));
    // A key that is not valid JSON: the variable is named, its text never shown.
    let broken = key.replace("\"type\"", "c4n4ry \"type\"");
    let out = run(&[
        ("GCP_SERVICE_ACCOUNT", &broken),
        ("GCE_METADATA_HOST", &nowhere),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("GCP_SERVICE_ACCOUNT"), "{err}");
    assert_no_canary(&out);
    assert!(!err.contains("PRIVATE KEY"), "{err}");
    // The project is kong.conf's: without it, Kong's message.
    let bare = dir.join("bare.conf");
    std::fs::write(&bare, format!("vault_gcp_endpoint_url = {url}\n")).unwrap();
    let out = cli(
        &[
            ("GCP_SERVICE_ACCOUNT", &key),
            ("GCE_METADATA_HOST", &nowhere),
        ],
        &["get", &reference, "-c", bare.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("requires project_id"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
