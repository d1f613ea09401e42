//! The application both config-crate tests read, `figment.rs` and `config_rs.rs`: its types, a
//! TOML and a YAML file of references, the canaries its vault holds, and the checks that a
//! resolved `App` is right and that an error shows none of the canaries.
//!
//! Included by those two files alone (`#[path = "common/layered_app.rs"] mod layered_app;`),
//! not by `common/mod.rs`, which every test binary compiles: the other tests need neither
//! `ResolveSecrets` types nor these canaries. What differs between the two crates (how a file
//! and the environment are layered, what each records as a value's origin) stays in their
//! files.

use secret_ref::vault::env::EnvVault;
use secret_ref::{Failure, ResolveSecrets, Resolver, Secret};
use serde::Deserialize;

#[derive(Debug, Deserialize, ResolveSecrets)]
pub struct Database {
    pub host: String,
    pub port: u16,
    pub password: Secret<String>,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
pub struct Replica {
    pub host: String,
    pub password: Secret<String>,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
pub struct App {
    pub database: Database,
    pub replicas: Vec<Replica>,
    pub api_key: Secret<String>,
}

/// Secrets typed as something other than text, to put a literal where it does not parse.
#[derive(Debug, Deserialize, ResolveSecrets)]
pub struct Pool {
    pub size: Secret<u32>,
    pub token: Secret<String>,
}

pub const PG: &str = "canary-pg-7d1f";
pub const REPLICA_0: &str = "canary-r0-2b9e";
pub const REPLICA_1: &str = "canary-r1-c04a";
pub const API: &str = "canary-api-55e0";
/// A secret written in the configuration itself, not behind a reference.
pub const LITERAL: &str = "canary-literal-9a3c";
const CANARIES: [&str; 5] = [PG, REPLICA_0, REPLICA_1, API, LITERAL];

/// `App` without its `api_key`, which the tests set in the environment.
pub const APP_TOML: &str = r#"
[database]
host = "db.internal"
port = 5432
password = "{vault://env/pg-password}"

[[replicas]]
host = "r0.internal"
password = "{vault://env/replica-0}"

[[replicas]]
host = "r1.internal"
password = "{vault://env/replica-1}"
"#;

/// [`APP_TOML`] in YAML.
pub const APP_YAML: &str = r#"
database:
  host: db.internal
  port: 5432
  password: "{vault://env/pg-password}"
replicas:
  - host: r0.internal
    password: "{vault://env/replica-0}"
  - host: r1.internal
    password: "{vault://env/replica-1}"
"#;

/// A resolver whose `env` vault holds the given secrets (not the process environment).
pub fn resolver(secrets: &[(&str, &str)]) -> Resolver {
    Resolver::builder()
        .vault("env", EnvVault::from_vars(secrets.iter().copied()))
        .build()
        .unwrap()
}

/// A resolver holding every secret `App`'s references name.
pub fn all_secrets() -> Resolver {
    resolver(&[
        ("PG_PASSWORD", PG),
        ("REPLICA_0", REPLICA_0),
        ("REPLICA_1", REPLICA_1),
        ("API_KEY", API),
    ])
}

#[track_caller]
pub fn assert_no_canary(text: &str) {
    for canary in CANARIES {
        assert!(!text.contains(canary), "{canary} leaked into: {text}");
    }
}

/// Every way an error is shown: `Display`, `Debug`, each failure and its chain of causes.
#[track_caller]
pub fn assert_error_clean(err: &secret_ref::Error) {
    assert_no_canary(&err.to_string());
    assert_no_canary(&format!("{err:?}"));
    assert_no_canary(&format!("{err:#?}"));
    for failure in err {
        assert_no_canary(&format!("{failure} {failure:?}"));
        let mut source = std::error::Error::source(failure);
        while let Some(cause) = source {
            assert_no_canary(&format!("{cause} {cause:?}"));
            source = cause.source();
        }
    }
}

/// `err` shows no canary and fails at exactly `paths`, in that order; returns its failures.
#[track_caller]
pub fn assert_fails_at<'e>(err: &'e secret_ref::Error, paths: &[&str]) -> &'e [Failure] {
    assert_error_clean(err);
    let failures = err.failures();
    let got: Vec<Option<&str>> = failures.iter().map(Failure::path).collect();
    let want: Vec<Option<&str>> = paths.iter().copied().map(Some).collect();
    assert_eq!(got, want, "{err}");
    failures
}

/// `App` as the files and `APP_DATABASE__HOST=db.example`, `APP_API_KEY=<reference>` give it,
/// every reference resolved; and its `Debug` shows no secret.
#[track_caller]
pub fn check_resolved(app: &App) {
    assert_eq!(app.database.host, "db.example"); // the environment over the file
    assert_eq!(app.database.port, 5432);
    assert_eq!(app.database.password.expose_secret(), PG);
    assert_eq!(app.replicas[0].host, "r0.internal");
    assert_eq!(app.replicas[1].host, "r1.internal");
    assert_eq!(app.replicas[0].password.expose_secret(), REPLICA_0);
    assert_eq!(app.replicas[1].password.expose_secret(), REPLICA_1);
    assert_eq!(app.api_key.expose_secret(), API);
    assert_no_canary(&format!("{app:?} {app:#?}"));
}
