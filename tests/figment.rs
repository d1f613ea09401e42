//! figment: a TOML (or YAML) file layered with `APP_` environment variables, resolved in both
//! modes; failures name the file or the variable's key, as figment records them; no secret,
//! resolved or literal, shows in an error or a `Debug`.
//!
//! Every test runs in figment's `Jail` (a temporary directory and environment, one test at a
//! time), so no two tests change the process environment at once.

// figment's own API returns its 208-byte `figment::Error` (`Jail::expect_with`'s closures,
// `figment.extract()`): not a choice of these tests.
#![allow(clippy::result_large_err)]

use figment::providers::{Env, Format, Toml};
use figment::{Figment, Jail};
use secret_ref::{ErrorKind, ResolveSecrets, Resolver};
use serde_saphyr::figment::Yaml;

#[path = "common/layered_app.rs"]
mod layered_app;
use layered_app::*;

fn layered(file: &str) -> Figment {
    Figment::new()
        .merge(Toml::file(file))
        .merge(Env::prefixed("APP_").split("__"))
}

/// `APP_TOML` as the jail's `app.toml`, layered with `env`, set in the jail's environment.
fn app_toml_with_env(jail: &mut Jail, env: &[(&str, &str)]) -> figment::Result<Figment> {
    jail.create_file("app.toml", APP_TOML)?;
    for (name, value) in env {
        jail.set_env(name, value);
    }
    Ok(layered("app.toml"))
}

/// Resolution after deserialization, its errors given the origins figment recorded.
fn resolve_after(
    app: &mut App,
    figment: &Figment,
    resolver: &Resolver,
) -> Result<(), secret_ref::Error> {
    app.resolve_secrets(resolver)
        .map_err(|err| err.with_origins(secret_ref::figment::origins(figment)))
}

/// Both modes' errors, when the vault lacks some secrets: during deserialization, and after.
fn errors_of(figment: &Figment, resolver: &Resolver) -> figment::Result<[secret_ref::Error; 2]> {
    let during = secret_ref::figment::extract::<App>(figment, resolver).unwrap_err();
    let mut app: App = figment.extract()?;
    let after = resolve_after(&mut app, figment, resolver).unwrap_err();
    Ok([during, after])
}

#[test]
fn file_and_environment_resolve_in_both_modes() {
    Jail::expect_with(|jail| {
        let figment = app_toml_with_env(
            jail,
            &[
                ("APP_DATABASE__HOST", "db.example"),
                ("APP_API_KEY", "{vault://env/api-key}"),
            ],
        )?;
        let resolver = all_secrets();

        // During deserialization, in one call.
        let app: App = secret_ref::figment::extract(&figment, &resolver).unwrap();
        check_resolved(&app);

        // During deserialization, with `Resolver::scope` and figment's own `extract`.
        let app: App = resolver.scope(|| figment.extract()).unwrap();
        check_resolved(&app);

        // After deserialization.
        let mut app: App = figment.extract()?;
        assert!(app.database.password.try_expose_secret().is_err());
        app.resolve_secrets(&resolver).unwrap();
        check_resolved(&app);
        Ok(())
    });
}

#[test]
fn a_failing_reference_from_the_file_names_the_file_and_the_array_path() {
    Jail::expect_with(|jail| {
        let figment = app_toml_with_env(jail, &[("APP_API_KEY", "{vault://env/api-key}")])?;
        // PG_PASSWORD and REPLICA_1 are missing.
        let resolver = resolver(&[("REPLICA_0", REPLICA_0), ("API_KEY", API)]);

        for err in &errors_of(&figment, &resolver)? {
            let failures = assert_fails_at(err, &["database.password", "replicas[1].password"]);
            assert_eq!(failures[0].origin(), Some("TOML file app.toml"));
            assert_eq!(failures[0].kind(), ErrorKind::NotFound);
            assert_eq!(failures[0].reference(), Some("{vault://env/pg-password}"));
            assert_eq!(failures[1].origin(), Some("TOML file app.toml"));
            assert!(
                err.to_string()
                    .contains("replicas[1].password (TOML file app.toml): {vault://env/replica-1}"),
                "{err}"
            );
        }
        Ok(())
    });
}

#[test]
fn a_failing_reference_from_the_environment_names_its_key() {
    Jail::expect_with(|jail| {
        let figment = app_toml_with_env(
            jail,
            &[
                ("APP_API_KEY", "{vault://env/api-key-unset}"),
                ("APP_DATABASE__PASSWORD", "{vault://env/pg-unset}"),
            ],
        )?;
        let resolver = all_secrets();

        for err in &errors_of(&figment, &resolver)? {
            let failures = assert_fails_at(err, &["database.password", "api_key"]);
            // figment's `Env` records its prefix and writes the key as the nested path in
            // capitals; the variable was APP_DATABASE__PASSWORD.
            assert_eq!(
                failures[0].origin(),
                Some("key DATABASE.PASSWORD in `APP_` environment variable(s)")
            );
            assert_eq!(
                failures[1].origin(),
                Some("key API_KEY in `APP_` environment variable(s)")
            );
        }
        Ok(())
    });
}

#[test]
fn figment_errors_keep_path_and_origin_and_lose_the_value() {
    Jail::expect_with(|jail| {
        let figment = app_toml_with_env(
            jail,
            &[
                ("APP_API_KEY", "{vault://env/api-key}"),
                // A literal secret put where a number goes.
                ("APP_DATABASE__PORT", LITERAL),
            ],
        )?;
        let resolver = all_secrets();

        // figment's own message quotes the value: this is what the conversion is for.
        let raw = figment.extract::<App>().unwrap_err();
        assert!(raw.to_string().contains(LITERAL));

        let one_call = secret_ref::figment::extract::<App>(&figment, &resolver).unwrap_err();
        let scoped = resolver.scope(|| figment.extract::<App>()).unwrap_err();
        let converted = secret_ref::Error::from(raw);
        for err in [&one_call, &scoped, &converted] {
            assert_error_clean(err);
            let failure = &err.failures()[0];
            assert_eq!(failure.kind(), ErrorKind::Deserialize);
            assert_eq!(failure.path(), Some("database.port"));
            assert_eq!(
                failure.origin(),
                Some("key DATABASE.PORT in `APP_` environment variable(s)")
            );
            assert_eq!(
                failure.message(),
                "invalid type: found a string, expected u16"
            );
        }
        Ok(())
    });
}

#[test]
fn a_literal_secret_of_the_wrong_type_is_not_quoted() {
    Jail::expect_with(|jail| {
        jail.create_file("pool.toml", &format!("size = \"{LITERAL}\"\ntoken = \"x\""))?;
        let figment = Figment::new().merge(Toml::file("pool.toml"));
        let err = secret_ref::figment::extract::<Pool>(&figment, &all_secrets()).unwrap_err();
        assert_error_clean(&err);
        assert_eq!(err.failures()[0].path(), Some("size"));
        assert_eq!(err.failures()[0].origin(), Some("TOML file pool.toml"));
        assert!(
            err.failures()[0].message().contains("expected u32"),
            "{err}"
        );

        // A table where the secret text goes.
        jail.create_file(
            "pool.toml",
            &format!("size = 1\ntoken = {{ t = \"{LITERAL}\" }}"),
        )?;
        let figment = Figment::new().merge(Toml::file("pool.toml"));
        let err = secret_ref::figment::extract::<Pool>(&figment, &all_secrets()).unwrap_err();
        assert_error_clean(&err);
        assert_eq!(err.failures()[0].path(), Some("token"));
        Ok(())
    });
}

#[test]
fn a_file_that_does_not_parse_is_named_without_its_lines() {
    Jail::expect_with(|jail| {
        // An unclosed string: toml's message shows the line under a `|` gutter.
        jail.create_file("app.toml", &format!("[database]\npassword = \"{LITERAL}\n"))?;
        let figment = layered("app.toml");
        let raw = figment.extract::<App>().unwrap_err();
        assert!(raw.to_string().contains(LITERAL), "{raw}");

        let err = secret_ref::figment::extract::<App>(&figment, &all_secrets()).unwrap_err();
        assert_error_clean(&err);
        assert_eq!(err.failures()[0].origin(), Some("TOML file app.toml"));
        assert!(err.failures()[0].message().contains("line 2"), "{err}");
        Ok(())
    });
}

#[test]
fn yaml_with_serde_saphyr_layers_and_names_its_file() {
    Jail::expect_with(|jail| {
        jail.create_file("app.yaml", APP_YAML)?;
        jail.set_env("APP_DATABASE__HOST", "db.example");
        jail.set_env("APP_API_KEY", "{vault://env/api-key}");
        let figment = Figment::new()
            .merge(Yaml::file("app.yaml"))
            .merge(Env::prefixed("APP_").split("__"));

        let app: App = secret_ref::figment::extract(&figment, &all_secrets()).unwrap();
        check_resolved(&app);

        let resolver = resolver(&[
            ("PG_PASSWORD", PG),
            ("REPLICA_0", REPLICA_0),
            ("API_KEY", API),
        ]);
        let mut app: App = figment.extract()?;
        let err = resolve_after(&mut app, &figment, &resolver).unwrap_err();
        let failures = assert_fails_at(&err, &["replicas[1].password"]);
        assert_eq!(failures[0].origin(), Some("YAML file app.yaml"));

        // A YAML syntax error on a line with a literal secret.
        jail.create_file(
            "app.yaml",
            &format!("database:\n  password: \"{LITERAL}\n  port: [\n"),
        )?;
        let figment = Figment::new().merge(Yaml::file("app.yaml"));
        let err = secret_ref::figment::extract::<App>(&figment, &all_secrets()).unwrap_err();
        assert_error_clean(&err);
        assert_eq!(err.failures()[0].origin(), Some("YAML file app.yaml"));
        Ok(())
    });
}
