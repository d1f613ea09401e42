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
