//! config-rs (the `config` crate): a TOML or YAML file layered with `APP_` environment
//! variables, resolved in both modes; failures name the file, or `the environment` (what
//! config-rs records for a variable); no secret, resolved or literal, shows in an error or a
//! `Debug`.
//!
//! The environment is given to `Environment::source`, never set in the process, and each test
//! writes files of its own name, so the tests run in parallel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use config::{Config, ConfigError, Environment, File};
use secret_ref::{ErrorKind, ResolveSecrets, Resolver};

#[path = "common/layered_app.rs"]
mod layered_app;
use layered_app::*;

/// Writes `name` (unique per test) under the tests' temporary directory.
fn file(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("config_rs-{name}"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The file, then the given variables as `APP_DATABASE__HOST` and so on.
fn layered(path: &Path, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::builder()
        .add_source(File::from(path))
        .add_source(
            Environment::with_prefix("APP")
                .prefix_separator("_")
                .separator("__")
                .source(Some(env)),
        )
        .build()
}

/// The file `name` written with `text`, layered with `env`.
fn layered_file(name: &str, text: &str, env: &[(&str, &str)]) -> Config {
    layered(&file(name, text), env).unwrap()
}

fn resolves_in_both_modes(name: &str, text: &str) {
    let config = layered_file(
        name,
        text,
        &[
            ("APP_DATABASE__HOST", "db.example"),
            ("APP_API_KEY", "{vault://env/api-key}"),
        ],
    );
    let resolver = all_secrets();

    // During deserialization, in one call.
    let app: App = secret_ref::config_rs::extract(&config, &resolver).unwrap();
    check_resolved(&app);

    // During deserialization, with `Resolver::scope` and config-rs's own `try_deserialize`.
    let app: App = resolver.scope(|| config.clone().try_deserialize()).unwrap();
    check_resolved(&app);

    // After deserialization.
    let mut app: App = config.clone().try_deserialize().unwrap();
    assert!(app.api_key.try_expose_secret().is_err());
    app.resolve_secrets(&resolver).unwrap();
    check_resolved(&app);
}

#[test]
fn toml_file_and_environment_resolve_in_both_modes() {
    resolves_in_both_modes("both-modes.toml", APP_TOML);
}

#[test]
fn yaml_file_and_environment_resolve_in_both_modes() {
    resolves_in_both_modes("both-modes.yaml", APP_YAML);
}

/// Both modes' errors, when the vault lacks some secrets.
fn errors_of(config: &Config, resolver: &Resolver) -> [secret_ref::Error; 2] {
    let during = secret_ref::config_rs::extract::<App>(config, resolver).unwrap_err();
    let mut app: App = config.clone().try_deserialize().unwrap();
    let after = app
        .resolve_secrets(resolver)
        .map_err(|err| err.with_origins(secret_ref::config_rs::origins(config)))
        .unwrap_err();
    [during, after]
}

fn failing_reference_names_the_file(name: &str, text: &str) {
    let config = layered_file(name, text, &[("APP_API_KEY", "{vault://env/api-key}")]);
    // PG_PASSWORD and REPLICA_1 are missing.
    let resolver = resolver(&[("REPLICA_0", REPLICA_0), ("API_KEY", API)]);
    for err in &errors_of(&config, &resolver) {
        let failures = assert_fails_at(err, &["database.password", "replicas[1].password"]);
        assert_eq!(failures[0].kind(), ErrorKind::NotFound);
        assert_eq!(failures[1].reference(), Some("{vault://env/replica-1}"));
        for failure in failures {
            // config-rs writes the path relative to the working directory.
            let origin = failure.origin().unwrap();
            assert!(origin.ends_with(&format!("config_rs-{name}")), "{origin}");
        }
    }
}

#[test]
fn a_failing_reference_from_a_toml_file_names_the_file_and_the_array_path() {
    failing_reference_names_the_file("failing.toml", APP_TOML);
}

#[test]
fn a_failing_reference_from_a_yaml_file_names_the_file_and_the_array_path() {
    failing_reference_names_the_file("failing.yaml", APP_YAML);
}

#[test]
fn a_failing_reference_from_the_environment_names_the_environment() {
    let config = layered_file(
        "from-env.toml",
        APP_TOML,
        &[
            ("APP_API_KEY", "{vault://env/api-key-unset}"),
            ("APP_DATABASE__PASSWORD", "{vault://env/pg-unset}"),
        ],
    );
    for err in &errors_of(&config, &all_secrets()) {
        let failures = assert_fails_at(err, &["database.password", "api_key"]);
        // What config-rs records for every variable: not its name.
        assert_eq!(failures[0].origin(), Some("the environment"));
        assert_eq!(failures[1].origin(), Some("the environment"));
        assert!(
            err.to_string()
                .contains("api_key (the environment): {vault://env/api-key-unset}"),
            "{err}"
        );
    }
}

#[test]
fn config_errors_keep_path_and_origin_and_lose_the_value() {
    let config = layered_file(
        "wrong-type.toml",
        APP_TOML,
        &[
            ("APP_API_KEY", "{vault://env/api-key}"),
            // A literal secret put where a number goes.
            ("APP_DATABASE__PORT", LITERAL),
        ],
    );
    let resolver = all_secrets();

    // config-rs's own message quotes the value: this is what the conversion is for.
    let raw = config.clone().try_deserialize::<App>().unwrap_err();
    assert!(raw.to_string().contains(LITERAL), "{raw}");

    let one_call = secret_ref::config_rs::extract::<App>(&config, &resolver).unwrap_err();
    let scoped = resolver
        .scope(|| config.clone().try_deserialize::<App>())
        .unwrap_err();
    let converted = secret_ref::Error::from(raw);
    for err in [&one_call, &scoped, &converted] {
        assert_error_clean(err);
        let failure = &err.failures()[0];
        assert_eq!(failure.kind(), ErrorKind::Deserialize);
        assert_eq!(failure.path(), Some("database.port"));
        assert_eq!(failure.origin(), Some("the environment"));
        assert!(
            failure
                .message()
                .starts_with("invalid type: a string, expected"),
            "{err}"
        );
    }
}

#[test]
fn a_literal_secret_of_the_wrong_type_is_not_quoted() {
    let path = file("pool.yaml", &format!("size: \"{LITERAL}\"\ntoken: x\n"));
    let config = layered(&path, &[]).unwrap();
    let err = secret_ref::config_rs::extract::<Pool>(&config, &all_secrets()).unwrap_err();
    assert_error_clean(&err);
    assert_eq!(err.failures()[0].path(), Some("size"));
    assert!(
        err.failures()[0].message().contains("expected u32"),
        "{err}"
    );

    let config = layered(&path, &[("APP_TOKEN__T", LITERAL)]).unwrap();
    let err = secret_ref::config_rs::extract::<Pool>(&config, &all_secrets()).unwrap_err();
    assert_error_clean(&err);
}

#[test]
fn a_file_that_does_not_parse_is_named_without_its_lines() {
    for (name, text) in [
        (
            "broken.toml",
            format!("[database]\npassword = \"{LITERAL}\n"),
        ),
        (
            "broken.yaml",
            format!("database:\n  password: \"{LITERAL}\n  port: [\n"),
        ),
    ] {
        let path = file(name, &text);
        let raw = layered(&path, &[]).unwrap_err();
        let err = secret_ref::Error::from(raw);
        assert_error_clean(&err);
        let origin = err.failures()[0].origin().unwrap();
        assert!(origin.ends_with(&format!("config_rs-{name}")), "{err}");
        assert!(err.failures()[0].message().contains("line"), "{err}");
    }
}
