//! Runs the examples as the README does, as separate processes with their own environment.

mod common;

use common::example;

#[test]
fn postgres_example_prints_the_redacted_config() {
    let out = example("postgres")
        .env("MY_SECRET_POSTGRES_PASSWORD", "opensesame")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#"pg_password: Secret({vault://env/my-secret-postgres-password})"#));
    assert!(stdout.contains("pg_password: Secret([REDACTED])"));
    assert!(stdout.contains("pg_password is resolved: 10 characters"));
    assert!(!stdout.contains("opensesame"));
}

#[test]
fn postgres_example_names_what_is_missing() {
    let out = example("postgres").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "pg_password: {vault://env/my-secret-postgres-password} (vault `env`): \
             environment variable MY_SECRET_POSTGRES_PASSWORD is not set"
        ),
        "{stderr}"
    );
}

#[test]
fn kong_conf_example_reads_the_file_then_kong_pg_password() {
    let out = example("kong_conf")
        .env("MY_SECRET_POSTGRES_PASSWORD", "opensesame")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("from kong.conf:\nPgConfig {"));
    assert!(stdout.contains("pg_password from env KONG_PG_PASSWORD:"));
    assert_eq!(stdout.matches("pg_password: Secret([REDACTED])").count(), 2);
    assert!(!stdout.contains("opensesame"));

    // With the variable set by the caller, to another reference.
    let out = example("kong_conf")
        .env("MY_SECRET_POSTGRES_PASSWORD", "opensesame")
        .env("KONG_PG_PASSWORD", "{vault://env/other}")
        .env("OTHER", "twelve-chars")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("is not set: using"));
    assert!(stdout.contains("resolved (12 characters)"));
}

#[test]
fn rotation_example_sees_every_rotation() {
    let out = example("rotation").output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for version in 1..=3 {
        assert!(
            stdout.contains(&format!("with password version {version} ")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("done: the password rotated 3 times"));
    assert!(!stdout.contains("pw-generation"), "a value was printed");
}

/// The variables the `figment` and `config_rs` examples read: secrets for the `env` vault
/// (canaries, which must never be printed) and a host over the file's.
#[cfg(any(feature = "figment", feature = "config"))]
const LAYERED_ENV: [(&str, &str); 4] = [
    ("DB_PASSWORD", "canary-db-31f7"),
    ("REPLICA_PASSWORD", "canary-replica-8c2d"),
    ("API_KEY", "canary-api-e640"),
    ("APP_DATABASE__HOST", "db.example"),
];

/// Runs a layered-configuration example: it resolves with every secret set; it names the file
/// when `DB_PASSWORD` is missing and `origin_of_env` when `APP_API_KEY` is a bad reference.
#[cfg(any(feature = "figment", feature = "config"))]
fn check_layered_example(name: &str, file: &str, origin_of_env: &str) {
    let out = example(name).envs(LAYERED_ENV).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("host: \"db.example\""), "{stdout}");
    assert_eq!(stdout.matches("Secret([REDACTED])").count(), 3, "{stdout}");
    assert!(stdout.contains("password: Secret({vault://env/db-password})"));
    assert!(stdout.contains("database db.example:5432, password of 14 characters"));
    for (_, value) in &LAYERED_ENV[..3] {
        assert!(!stdout.contains(value) && !stderr.contains(value));
    }

    let out = example(name)
        .envs(
            LAYERED_ENV
                .iter()
                .filter(|(k, _)| *k != "DB_PASSWORD")
                .copied(),
        )
        .env("APP_API_KEY", "{vault://env/nope}")
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "api_key ({origin_of_env}): {{vault://env/nope}} (vault `env`): environment variable NOPE is not set"
        )),
        "{stderr}"
    );
    // The file's path, relative to the working directory (`tests/`).
    assert!(
        stderr.contains(&format!(
            "database.password ({file}): {{vault://env/db-password}} (vault `env`): environment variable DB_PASSWORD is not set"
        )),
        "{stderr}"
    );
    for (_, value) in &LAYERED_ENV[..3] {
        assert!(!stderr.contains(value));
    }
}

#[cfg(feature = "figment")]
#[test]
fn figment_example_layers_the_file_and_app_variables() {
    check_layered_example(
        "figment",
        "TOML file ../examples/app.toml",
        "key API_KEY in `APP_` environment variable(s)",
    );
}

#[cfg(feature = "config")]
#[test]
fn config_rs_example_layers_the_file_and_app_variables() {
    check_layered_example("config_rs", "../examples/app.yaml", "the environment");
}
