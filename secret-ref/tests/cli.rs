//! The `secret-ref` command as a process: exit codes, standard output and standard error,
//! with Kong's own `kong vault get` vectors (spec §9) adapted to this tool's name.

use std::path::PathBuf;
use std::process::{Command, Output};

fn cli(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_secret-ref"));
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(env.iter().copied()).args(args);
    command.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("secret-ref-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn help_on_every_level() {
    for args in [
        &["--help"][..],
        &["get", "--help"],
        &["check", "--help"],
        &["run", "--help"],
    ] {
        let out = cli(&[], args);
        assert!(out.status.success(), "{args:?}");
        assert!(stdout(&out).contains("Usage: secret-ref"), "{args:?}");
    }
    // As Kong: no command prints the usage on standard error and fails.
    let out = cli(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("Usage: secret-ref"));
    let out = cli(&[], &["nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("Error: unrecognized subcommand 'nope'"));
}

#[test]
fn get_follows_kongs_vectors() {
    let out = cli(&[], &["get"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("Error: the 'get' command needs a <reference> argument"));

    let out = cli(&[], &["get", "none/foo"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "Error: could not find vault (none)\n");
    assert_eq!(stdout(&out), "");

    let out = cli(&[], &["get", "env/none"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("could not get value from external vault"));

    for reference in [
        "env/secrets_test",
        "env/secrets-test",
        "{vault://env/secrets-test}",
    ] {
        let out = cli(&[("SECRETS_TEST", "testvalue")], &["get", reference]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), "testvalue\n");
        assert_eq!(stderr(&out), "");
    }

    let out = cli(
        &[
            ("KONG_VAULT_ENV_PREFIX", "SECRETS_"),
            ("SECRETS_TEST", "testvalue-with-config"),
        ],
        &["get", "env/test"],
    );
    assert_eq!(stdout(&out), "testvalue-with-config\n");

    let out = cli(
        &[
            ("KONG_VAULT_ENV_PREFIX", "SECRETS-AGAIN-"),
            ("SECRETS_AGAIN_TEST_TOO", "testvalue-with-config-again"),
        ],
        &["get", "env/test-too"],
    );
    assert_eq!(stdout(&out), "testvalue-with-config-again\n");
}

#[test]
fn get_with_a_named_vault_from_the_configuration() {
    // Kong keeps vault entities in its database; here they are declared in kong.conf.
    let conf = temp_file(
        "named.conf",
        "vault_prefixes = test-env:env\nvault_test_env_prefix = SECRETS_\n",
    );
    let conf = conf.to_str().unwrap();
    let env = [("SECRETS_TEST", "testvalue")];
    let out = cli(&env, &["get", "test-env/test", "-c", conf]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "testvalue\n");

    let out = cli(&env, &["get", "test-env/nonexist", "-c", conf]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("could not get value from external vault"));

    let out = cli(&env, &["get", "nonexist/nonexist", "-c", conf]);
    assert_eq!(stderr(&out), "Error: could not find vault (nonexist)\n");

    let out = cli(&env, &["get", "env/test", "-c", "/nonexistent/kong.conf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("Error: cannot read /nonexistent/kong.conf"));

    let bad = temp_file("bad.conf", "vault_env_prefx = A\n");
    let out = cli(&env, &["get", "env/test", "-c", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("vault_env_prefx"), "{}", stderr(&out));
}

#[test]
fn check_lists_references_and_never_values() {
    let conf = temp_file(
        "check.conf",
        "pg_host = 127.0.0.1\n\
         pg_password = {vault://env/pg-password}\n\
         pg_user = {vault://env/pg-user?token=c4n4ry-token}\n\
         ssl_cert = {vault://env/cert-a}, {vault://env/cert-b}\n\
         vault_env_prefix = APP_\n",
    );
    let env = [
        ("APP_PG_PASSWORD", "c4n4ry-password"),
        ("APP_CERT_A", "c4n4ry-cert"),
        ("APP_CERT_B", "c4n4ry-cert"),
    ];
    let out = cli(&env, &["check", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(!text.contains("c4n4ry"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with("ok      pg_password ("));
    assert!(lines[0].ends_with("check.conf line 2)  {vault://env/pg-password}"));
    assert!(lines[1].starts_with("FAILED  pg_user"));
    assert!(lines[1].ends_with(
        "{vault://env/pg-user?token=***}: unknown option `token` for vault `env` (it takes: prefix, ttl, neg_ttl, resurrect_ttl)"
    ));
    assert!(lines[2].starts_with("ok      ssl_cert[0]"));
    assert!(lines[3].starts_with("ok      ssl_cert[1]"));
    assert_eq!(lines[4], "4 references, 1 failed");

    let json = temp_file(
        "check.json",
        r#"{"pg": {"password": "{vault://env/pg-password}"}, "replicas": [{"password": "{vault://env/missing}"}], "n": 1}"#,
    );
    let out = cli(
        &[("PG_PASSWORD", "c4n4ry")],
        &["check", json.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(!text.contains("c4n4ry"));
    assert_eq!(
        text,
        "ok      pg.password  {vault://env/pg-password}\n\
         FAILED  replicas[0].password  {vault://env/missing}: environment variable MISSING is not set\n\
         2 references, 1 failed\n"
    );

    let out = cli(
        &[("PG_PASSWORD", "x"), ("MISSING", "y")],
        &["check", json.to_str().unwrap()],
    );
    assert!(out.status.success());
    assert!(stdout(&out).ends_with("2 references, 0 failed\n"));

    let out = cli(&[], &["check", "/nonexistent.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("Error: cannot read /nonexistent.json"));
}

#[test]
fn run_resolves_the_environment_and_passes_the_exit_code() {
    let env = [
        ("PGPASSWORD", "{vault://env/pg-password}"),
        ("PG_PASSWORD", "opensesame"),
        ("PLAIN", "{not a reference"),
    ];
    let out = cli(
        &env,
        &[
            "run",
            "--",
            "sh",
            "-c",
            "echo \"$PGPASSWORD|$PLAIN\"; exit 7",
        ],
    );
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "opensesame|{not a reference\n");

    // Arguments after `--` that look like options belong to the command.
    let out = cli(&env, &["run", "--", "sh", "-c", "exit 0", "--help"]);
    assert!(out.status.success());

    // Every failure is reported and the command does not run.
    let out = cli(
        &[
            ("A", "{vault://env/missing-a}"),
            ("B", "{vault://nope/b?token=c4n4ry}"),
        ],
        &["run", "--", "sh", "-c", "echo ran"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.starts_with("Error: 2 secrets could not be resolved:"),
        "{err}"
    );
    assert!(err.contains(
        "  A: {vault://env/missing-a} (vault `env`): environment variable MISSING_A is not set"
    ));
    assert!(err.contains("  B: {vault://nope/b?token=***}"));
    assert!(err.ends_with("the command was not run\n"));
    assert!(!err.contains("c4n4ry"));

    let out = cli(&[], &["run", "--", "/nonexistent/program"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("Error: cannot run /nonexistent/program"));

    let out = cli(&[], &["run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("Error: "));
}
