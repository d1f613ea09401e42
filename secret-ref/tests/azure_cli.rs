//! `secret-ref get` against the fake Azure Key Vault of `.ci/fake_azure.py`, configured by
//! kong.conf's `vault_azure_*` keys alone, with the environment Kong reads: the client secret
//! from `<credentials_prefix>_CLIENT_SECRET` (Kong takes it from the environment only), the
//! authority from `AZURE_AUTHORITY_HOST`, managed identity from App Service's variables.
//! Needs the servers of `.ci/servers.sh` (CI runs these with `--ignored`); fails without them.
#![cfg(all(feature = "cli", feature = "azure"))]

use std::process::Command;

mod common;
use common::{cli, server, stderr, stdout, temp_file, unique};

/// Adds a version of a secret through the fake's admin API; returns its version id.
fn seed(name: &str, value: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--noproxy", "*", "-X", "POST"])
        .arg(format!(
            "{}/_fake/secrets/{name}",
            server("SECRET_REF_TEST_AZURE_LOCAL_URL")
        ))
        .arg("-d")
        .arg(serde_json::json!({ "value": value }).to_string())
        .output()
        .unwrap();
    assert!(out.status.success());
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    answer["id"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_cli_get_is_configured_by_kong_conf() {
    let name = unique("db");
    let v1 = seed(&name, r#"{"password":"azure-v1"}"#);
    seed(&name, r#"{"password":"azure-v2"}"#);
    // Kong's settings, and a prefix of our own for the client secret's variable.
    let conf = temp_file(
        "azure.conf",
        &format!(
            "vault_azure_vault_uri = {}\nvault_azure_tenant_id = {}\n\
             vault_azure_client_id = {}\nvault_azure_credentials_prefix = APP_AZ\n\
             vault_azure_ca_cert = {}\n",
            server("SECRET_REF_TEST_AZURE_VAULT_URL"),
            server("SECRET_REF_TEST_AZURE_TENANT_ID"),
            server("SECRET_REF_TEST_AZURE_CLIENT_ID"),
            server("SECRET_REF_TEST_AZURE_CACERT"),
        ),
    );
    let conf = conf.to_str().unwrap();
    let secret = server("SECRET_REF_TEST_AZURE_CLIENT_SECRET");
    let authority = server("SECRET_REF_TEST_AZURE_AUTHORITY");
    let env = [
        ("APP_AZ_CLIENT_SECRET", secret.as_str()),
        ("AZURE_AUTHORITY_HOST", authority.as_str()),
    ];
    let value = |reference: String| {
        let out = cli(&env, &["get", &reference, "-c", conf]);
        assert!(out.status.success(), "{reference}: {}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(value(format!("azure/{name}/password")), "azure-v2\n");
    assert_eq!(
        value(format!("{{vault://azure/{name}/password?version={v1}}}")),
        "azure-v1\n"
    );

    // The secret under Kong's default prefix is not read when another prefix is set.
    let out = cli(
        &[
            ("AZURE_CLIENT_SECRET", secret.as_str()),
            ("AZURE_AUTHORITY_HOST", authority.as_str()),
        ],
        &["get", &format!("azure/{name}/password"), "-c", conf],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("APP_AZ_CLIENT_SECRET"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(&secret));

    // A missing secret: Kong's words, and Key Vault's.
    let out = cli(&env, &["get", &format!("azure/{name}-gone"), "-c", conf]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("could not get value from external vault"),
        "{err}"
    );
    assert!(err.contains("SecretNotFound"), "{err}");
}

/// On App Service the platform's variables are the credentials: kong.conf names the vault.
#[test]
#[ignore = "needs .ci/servers.sh"]
fn azure_cli_get_with_app_service_managed_identity() {
    let name = unique("mi");
    seed(&name, "from-the-machine");
    let conf = temp_file(
        "azure-mi.conf",
        &format!(
            "vault_azure_vault_uri = {}\nvault_azure_ca_cert = {}\n",
            server("SECRET_REF_TEST_AZURE_VAULT_URL"),
            server("SECRET_REF_TEST_AZURE_CACERT"),
        ),
    );
    let conf = conf.to_str().unwrap();
    let endpoint = server("SECRET_REF_TEST_AZURE_IDENTITY_ENDPOINT");
    let header = server("SECRET_REF_TEST_AZURE_IDENTITY_HEADER");
    let out = cli(
        &[
            ("IDENTITY_ENDPOINT", endpoint.as_str()),
            ("IDENTITY_HEADER", header.as_str()),
        ],
        &["get", &format!("azure/{name}"), "-c", conf],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "from-the-machine\n");

    // Without them (and without managed_identity = on) nothing is asked.
    let out = cli(&[], &["get", &format!("azure/{name}"), "-c", conf]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no Azure credentials"),
        "{}",
        stderr(&out)
    );
}
