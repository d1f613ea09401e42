//! Resolution: after deserialization and during it, dedup of fetches, named vaults, options,
//! conversions, and errors that report every failure with its path.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use secret_ref::vault::env::EnvVault;
use secret_ref::vault::memory::MemoryVault;
use secret_ref::vault::{Request, Vault, VaultOption};
use secret_ref::zeroize::{self, Zeroizing};
use secret_ref::{ErrorKind, ResolveSecrets, Resolver, Secret, VaultError};
use serde::Deserialize;

/// A remote vault that counts its fetches, with a selector so that distinct configurations
/// can be told apart.
fn remote(secrets: &[(&str, &str)]) -> MemoryVault {
    const OPTIONS: &[VaultOption] = &[VaultOption::selector("region")];
    let vault = MemoryVault::new().with_options(OPTIONS);
    for (resource, value) in secrets {
        vault.set(*resource, *value);
    }
    vault
}

fn env(vars: &[(&str, &str)]) -> EnvVault {
    EnvVault::from_vars(vars.iter().copied())
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Pg {
    user: Secret<String>,
    password: Secret<String>,
    port: Secret<u16>,
}

#[test]
fn identical_fetches_happen_once() {
    let vault = remote(&[
        ("pg", r#"{"user":"old","password":"old-pw","port":5431}"#),
        ("pg", r#"{"user":"app","password":"pw","port":5432}"#),
    ]);
    let resolver = Resolver::builder()
        .vault("remote", vault.clone())
        .build()
        .unwrap();
    let mut pgs: Vec<Pg> = serde_json::from_str(
        r#"[
        {"user": "{vault://remote/pg/user}", "password": "{vault://remote/pg/password}",
         "port": "{vault://remote/pg/port}"},
        {"user": "{vault://remote/pg/user#1}", "password": "{vault://remote/pg/password#1}",
         "port": "{vault://remote/pg/port#1}"}
    ]"#,
    )
    .unwrap();
    pgs.resolve_secrets(&resolver).unwrap();
    // Two versions of one secret: two fetches for six references.
    assert_eq!(vault.fetches(), 2);
    assert_eq!(pgs[0].user.expose_secret(), "app");
    assert_eq!(pgs[0].password.expose_secret(), "pw");
    assert_eq!(*pgs[0].port.expose_secret(), 5432);
    assert_eq!(pgs[1].password.expose_secret(), "old-pw");
    assert_eq!(*pgs[1].port.expose_secret(), 5431);

    // The resolver keeps what it fetched: resolving again costs nothing.
    let mut again: Pg = serde_json::from_str(
        r#"{"user": "{vault://remote/pg/user}", "password": "{vault://remote/pg/password}",
            "port": "{vault://remote/pg/port}"}"#,
    )
    .unwrap();
    again.resolve_secrets(&resolver).unwrap();
    resolver.get("{vault://remote/pg/user}").unwrap();
    assert_eq!(vault.fetches(), 2);

    // A different configuration is a different fetch.
    resolver.get("{vault://remote/pg/user?region=eu}").unwrap();
    assert_eq!(vault.fetches(), 3);
}

#[test]
fn failures_are_fetched_once_too() {
    let vault = remote(&[]);
    let resolver = Resolver::builder()
        .vault("remote", vault.clone())
        .build()
        .unwrap();
    let mut pg: Pg = serde_json::from_str(
        r#"{"user": "{vault://remote/pg/user}", "password": "{vault://remote/pg/password}",
            "port": "{vault://remote/pg/port}"}"#,
    )
    .unwrap();
    let err = pg.resolve_secrets(&resolver).unwrap_err();
    assert_eq!(err.failures().len(), 3);
    assert_eq!(vault.fetches(), 1);
    for (failure, path) in err.failures().iter().zip(["user", "password", "port"]) {
        assert_eq!(failure.kind(), ErrorKind::NotFound);
        assert_eq!(failure.path(), Some(path));
        assert_eq!(failure.vault(), Some("remote"));
        assert_eq!(failure.message(), "no secret named `pg`");
    }
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Service {
    name: String,
    pg: Pg,
    replicas: Vec<Replica>,
    api_token: Secret<String>,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Replica {
    host: String,
    password: Secret<String>,
}

#[test]
fn every_failure_at_once_with_path_reference_vault_and_cause() {
    let resolver = Resolver::builder()
        .vault(
            "env",
            env(&[
                ("PG", r#"{"user":"app","port":"not-a-port"}"#),
                ("NOT_JSON", "plain"),
            ]),
        )
        .build()
        .unwrap();
    let mut service: Service = serde_json::from_str(
        r#"{
        "name": "api",
        "pg": {"user": "{vault://env/pg/user}", "password": "{vault://env/pg/password}",
               "port": "{vault://env/pg/port}"},
        "replicas": [
            {"host": "a", "password": "{vault://env/not-json/password}"},
            {"host": "b", "password": "{vault://env/replica-b?prefx=***}"},
            {"host": "c", "password": "{vault://env/x#latest}"}
        ],
        "api_token": "{vault://nope/api?token=s.root}"
    }"#,
    )
    .unwrap();
    let err = service.resolve_secrets(&resolver).unwrap_err();
    let got: Vec<_> = err
        .failures()
        .iter()
        .map(|f| {
            (
                f.path().unwrap(),
                f.kind(),
                f.reference().unwrap(),
                f.vault(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "pg.password",
                ErrorKind::KeyNotFound,
                "{vault://env/pg/password}",
                Some("env")
            ),
            (
                "pg.port",
                ErrorKind::Conversion,
                "{vault://env/pg/port}",
                Some("env")
            ),
            (
                "replicas[0].password",
                ErrorKind::InvalidJson,
                "{vault://env/not-json/password}",
                Some("env")
            ),
            (
                "replicas[1].password",
                ErrorKind::InvalidConfig,
                "{vault://env/replica-b?prefx=***}",
                Some("env")
            ),
            (
                "replicas[2].password",
                ErrorKind::InvalidReference,
                "{vault://env/x#latest}",
                None
            ),
            (
                "api_token",
                ErrorKind::UnknownVault,
                "{vault://nope/api?token=***}",
                Some("nope")
            ),
        ]
    );
    let text = err.to_string();
    assert!(text.starts_with("6 secrets could not be resolved:\n  pg.password: "));
    assert!(text.contains(
        "unknown option `prefx` for vault `env` (it takes: prefix, ttl, neg_ttl, resurrect_ttl)"
    ));
    assert!(text.contains("the secret does not fit `u16`"));
    assert!(!text.contains("s.root"));
    // What could be resolved, was.
    assert_eq!(service.pg.user.expose_secret(), "app");
    assert!(!service.pg.password.is_resolved());
}

#[test]
fn scope_resolves_during_deserialization_with_any_format() {
    #[derive(Debug, Deserialize, ResolveSecrets)]
    struct Config {
        pg: Pg,
        replicas: Vec<Replica>,
    }
    let vault = remote(&[("pg", r#"{"user":"app","password":"pw","port":5432}"#)]);
    let resolver = Resolver::builder()
        .vault("remote", vault.clone())
        .vault("env", env(&[("REPLICA_A", "ra")]))
        .build()
        .unwrap();

    let config: Config = resolver
        .scope(|| {
            serde_json::from_str(
                r#"{
            "pg": {"user": "{vault://remote/pg/user}", "password": "{vault://remote/pg/password}",
                   "port": 5432},
            "replicas": [{"host": "a", "password": "{vault://env/replica-a}"}]
        }"#,
            )
        })
        .unwrap();
    assert_eq!(config.pg.user.expose_secret(), "app");
    assert_eq!(config.pg.password.expose_secret(), "pw");
    assert!(config.pg.port.is_literal());
    assert_eq!(config.replicas[0].password.expose_secret(), "ra");
    assert_eq!(vault.fetches(), 1);

    // Outside the scope, nothing resolves during deserialization.
    let later: Replica =
        serde_json::from_str(r#"{"host": "a", "password": "{vault://env/replica-a}"}"#).unwrap();
    assert!(!later.password.is_resolved());

    // Another format: serde's own value deserializers (the same path as TOML or YAML take).
    use serde::de::IntoDeserializer;
    let map: HashMap<String, String> = [
        ("host".to_string(), "a".to_string()),
        (
            "password".to_string(),
            "{vault://env/replica-a}".to_string(),
        ),
    ]
    .into();
    let replica: Replica = resolver
        .scope(|| {
            Replica::deserialize(
                IntoDeserializer::<serde::de::value::Error>::into_deserializer(map),
            )
        })
        .unwrap();
    assert_eq!(replica.password.expose_secret(), "ra");
}

#[test]
fn scope_reports_failures_with_paths_and_format_errors() {
    #[derive(Debug, Deserialize, ResolveSecrets)]
    struct Config {
        replicas: Vec<Replica>,
    }
    let resolver = Resolver::builder()
        .vault("env", env(&[("A", "a")]))
        .build()
        .unwrap();
    let err = resolver
        .scope(|| {
            serde_json::from_str::<Config>(
                r#"{"replicas": [{"host": "a", "password": "{vault://env/a}"},
                                 {"host": "b", "password": "{vault://env/b}"}]}"#,
            )
        })
        .unwrap_err();
    assert_eq!(err.failures().len(), 1);
    assert_eq!(err.failures()[0].path(), Some("replicas[1].password"));
    assert_eq!(err.failures()[0].kind(), ErrorKind::NotFound);

    // When the format fails there is no configuration to resolve: the format's error alone,
    // and no vault is asked for a secret that would be thrown away.
    let err = resolver
        .scope(|| {
            serde_json::from_str::<Config>(
                r#"{"replicas": [{"host": "b", "password": "{vault://env/b}"}, oops]}"#,
            )
        })
        .unwrap_err();
    let kinds: Vec<_> = err.failures().iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, [ErrorKind::Deserialize]);
    assert!(err.failures()[0].message().contains("line 1"));
    assert!(
        err.failures()
            .iter()
            .all(|f| f.path().is_none() && f.reference().is_none())
    );
}

/// Found by trying it: `scope` resolved skipped fields, because it resolved while
/// deserializing, where no attribute of the derive is known.
#[test]
fn scope_honours_skip() {
    #[derive(Debug, Deserialize, ResolveSecrets)]
    struct Config {
        password: Secret<String>,
        #[secret(skip)]
        template: Option<Secret<String>>,
    }
    let vault = env(&[("PW", "pw")]);
    let resolver = Resolver::builder().vault("env", vault).build().unwrap();
    let config: Config = resolver
        .scope(|| {
            serde_json::from_str(
                r#"{"password": "{vault://env/pw}", "template": "{vault://env/not-set}"}"#,
            )
        })
        .unwrap();
    assert_eq!(config.password.expose_secret(), "pw");
    let template = config.template.as_ref().unwrap();
    assert!(!template.is_resolved());
    assert_eq!(template.reference_str(), Some("{vault://env/not-set}"));
}

/// figment and config-rs type `APP_PG_PASSWORD=123456` as a number: a `Secret<String>` keeps
/// its text, as a `String` field would.
#[test]
fn secret_string_keeps_numbers_and_booleans_as_text() {
    #[derive(Deserialize)]
    struct Config {
        password: Secret<String>,
        flag: Secret<String>,
        ratio: Secret<String>,
        port: Secret<u16>,
    }
    let config: Config =
        serde_json::from_str(r#"{"password": 123456, "flag": true, "ratio": 1.5, "port": 5432}"#)
            .unwrap();
    assert_eq!(config.password.expose_secret(), "123456");
    assert_eq!(config.flag.expose_secret(), "true");
    assert_eq!(config.ratio.expose_secret(), "1.5");
    assert_eq!(*config.port.expose_secret(), 5432);
    // A number that does not fit is still refused, without its value.
    let err = serde_json::from_str::<Secret<u8>>("987654").err().unwrap();
    assert!(!err.to_string().contains("987654"), "{err}");
}

#[test]
fn named_vaults_and_settings() {
    let resolver = Resolver::builder()
        .vault(
            "env",
            env(&[
                ("SECRETS_TEST", "with-config"),
                ("SECRETS_AGAIN_TEST_TOO", "again"),
                ("TEST", "plain"),
            ]),
        )
        .configure("env", "prefix", "SECRETS_")
        .named_vault("test-env", "env", [("prefix", "SECRETS-AGAIN-")])
        .named_vault("raw-env", "env", Vec::<(String, String)>::new())
        .build()
        .unwrap();
    // Kong's CLI vectors: KONG_VAULT_ENV_PREFIX=SECRETS_ and an entity with its own prefix.
    assert_eq!(
        resolver.get("{vault://env/test}").unwrap().expose_secret(),
        "with-config"
    );
    assert_eq!(
        resolver
            .get("{vault://test-env/test-too}")
            .unwrap()
            .expose_secret(),
        "again"
    );
    // A named vault does not inherit the backend's settings.
    assert_eq!(
        resolver
            .get("{vault://raw-env/test}")
            .unwrap()
            .expose_secret(),
        "plain"
    );
    // Query options override settings, as in Kong.
    assert_eq!(
        resolver
            .get("{vault://env/test?prefix=}")
            .unwrap()
            .expose_secret(),
        "plain"
    );
    let err = resolver.get("{vault://nonexist/nonexist}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownVault);
    let text = err.to_string();
    assert!(
        text.starts_with(
            "{vault://nonexist/nonexist} (vault `nonexist`): could not find vault `nonexist` \
             (known vaults: "
        ),
        "{text}"
    );
    assert!(text.ends_with("raw-env, test-env)"), "{text}");
    let err = resolver.get("{vault://test-env/nonexist}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = resolver.get("{vault://env/test?prefix=1bad}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
}

#[test]
fn builder_reports_every_problem() {
    let err = Resolver::builder()
        .configure("env", "prefx", "X")
        .configure("aws-typo", "region", "x")
        .configure("env", "prefix", "1bad")
        .named_vault("Bad_Prefix", "env", [("prefix", "A")])
        .named_vault("env", "env", [("prefix", "A")])
        .named_vault("ok-name", "nope", [("prefix", "A")])
        .named_vault("ok-two", "env", [("token", "s.secret")])
        .build()
        .unwrap_err();
    let kinds: Vec<_> = err.failures().iter().map(|f| f.kind()).collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::InvalidConfig,
            ErrorKind::UnknownVault,
            ErrorKind::InvalidConfig,
            ErrorKind::InvalidConfig,
            ErrorKind::InvalidConfig,
            ErrorKind::UnknownVault,
            ErrorKind::InvalidConfig,
        ],
        "{err}"
    );
    assert!(!err.to_string().contains("s.secret"));
}

/// Which backends are compiled in follows the features of this test build; the message for
/// a left-out one names the feature in every place that reports an unknown vault.
#[test]
fn a_backend_left_out_of_the_build_names_its_cargo_feature() {
    use secret_ref::vault::missing_feature;
    for (vault, built) in [
        ("fs", cfg!(feature = "fs")),
        ("hcv", cfg!(feature = "hcv")),
        ("aws", cfg!(feature = "aws")),
    ] {
        assert_eq!(missing_feature(vault), (!built).then_some(vault), "{vault}");
        let got = Resolver::new().get(&format!("{{vault://{vault}/db}}"));
        if built {
            assert_ne!(got.map(|_| ()).unwrap_err().kind(), ErrorKind::UnknownVault);
            continue;
        }
        let note = format!("(built without the cargo feature `{vault}` of secret-ref)");
        let err = got.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownVault);
        assert_eq!(
            err.failures()[0].message(),
            format!("could not find vault `{vault}` {note}")
        );

        let err = Resolver::builder()
            .configure(vault, "ttl", "1")
            .named_vault("prod", vault, [("ttl", "1")])
            .build()
            .unwrap_err();
        let messages: Vec<_> = err.failures().iter().map(|f| f.message()).collect();
        assert_eq!(
            messages,
            [
                format!("cannot configure `ttl` of vault `{vault}`: no such vault {note}"),
                format!("vault prefix `prod` uses vault `{vault}`, which is not installed {note}"),
            ]
        );

        let clause = format!("secret-ref was built without its cargo feature `{vault}`");
        let err = secret_ref::kong_conf::KongConf::parse(&format!(
            "vaults = env, {vault}\nvault_{vault}_ttl = 5\n"
        ))
        .unwrap()
        .resolver()
        .unwrap_err();
        let messages: Vec<_> = err.failures().iter().map(|f| f.message()).collect();
        assert_eq!(messages.len(), 2, "{err}");
        // The list of what is available depends on the build.
        assert!(
            messages[0].starts_with(&format!(
                "vault `{vault}` is not available: {clause} (available: env"
            )),
            "{err}"
        );
        assert_eq!(
            messages[1],
            format!("this setting is for vault `{vault}`, which is not available: {clause}")
        );
    }
    // Not a backend of this crate: no feature to name.
    assert_eq!(missing_feature("env"), None);
    assert_eq!(missing_feature("nonexist"), None);
}

#[test]
fn conversions() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Creds {
        user: String,
        password: String,
    }

    impl zeroize::Zeroize for Creds {
        fn zeroize(&mut self) {
            self.user.zeroize();
            self.password.zeroize();
        }
    }

    #[derive(Debug, Deserialize, ResolveSecrets)]
    struct Config {
        port: Secret<u16>,
        ratio: Secret<f64>,
        enabled: Secret<bool>,
        creds: Secret<Creds>,
        hosts: Secret<Vec<String>>,
        maybe: Secret<Option<u32>>,
    }
    let resolver = Resolver::builder()
        .vault(
            "env",
            env(&[
                ("PORT", "5432"),
                ("RATIO", "0.5"),
                ("ENABLED", "off"),
                ("CREDS", r#"{"user":"u","password":"p"}"#),
                ("HOSTS", "a, b,,c"),
                ("EMPTY", ""),
            ]),
        )
        .build()
        .unwrap();
    let mut config: Config = serde_json::from_str(
        r#"{"port": "{vault://env/port}", "ratio": "{vault://env/ratio}",
            "enabled": "{vault://env/enabled}", "creds": "{vault://env/creds}",
            "hosts": "{vault://env/hosts}", "maybe": "{vault://env/empty}"}"#,
    )
    .unwrap();
    config.resolve_secrets(&resolver).unwrap();
    assert_eq!(*config.port.expose_secret(), 5432);
    assert_eq!(*config.ratio.expose_secret(), 0.5);
    assert!(!*config.enabled.expose_secret());
    assert_eq!(
        *config.creds.expose_secret(),
        Creds {
            user: "u".into(),
            password: "p".into()
        }
    );
    assert_eq!(*config.hosts.expose_secret(), ["a", "b", "c"]);
    assert_eq!(*config.maybe.expose_secret(), None);

    // Literals of any shape, too.
    let config: Config = serde_json::from_str(
        r#"{"port": 1, "ratio": 2, "enabled": true, "creds": {"user": "x", "password": "y"},
            "hosts": ["h"], "maybe": null}"#,
    )
    .unwrap();
    assert_eq!(*config.port.expose_secret(), 1);
    assert_eq!(*config.ratio.expose_secret(), 2.0);
    assert_eq!(config.creds.expose_secret().user, "x");
    assert_eq!(*config.maybe.expose_secret(), None);
}

#[test]
fn resolving_twice_only_touches_what_is_unresolved() {
    let vault = remote(&[("a", "1")]);
    let resolver = Resolver::builder()
        .vault("remote", vault.clone())
        .build()
        .unwrap();
    let mut s: Secret<String> = serde_json::from_str(r#""{vault://remote/a}""#).unwrap();
    s.resolve(&resolver).unwrap();
    s.resolve(&resolver).unwrap();
    assert_eq!(s.expose_secret(), "1");
    assert_eq!(vault.fetches(), 1);
}

#[test]
fn reading_an_unresolved_secret_is_an_error_not_a_wrong_value() {
    let s: Secret<String> = serde_json::from_str(r#""{vault://env/a?token=s.1}""#).unwrap();
    let err = s.try_expose_secret().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unresolved);
    assert_eq!(
        err.failures()[0].reference(),
        Some("{vault://env/a?token=***}")
    );
    let panic = std::panic::catch_unwind(|| s.expose_secret().len()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("read before it was resolved"), "{message}");
    assert!(!message.contains("s.1"));
}

#[test]
fn secrets_round_trip_through_serialize_as_references() {
    #[derive(serde::Serialize, Deserialize, ResolveSecrets)]
    struct Config {
        password: Secret<String>,
        port: Secret<u16>,
    }
    let text = r#"{"password":"{vault://env/pw}","port":"{vault://env/port#2}"}"#;
    let mut config: Config = serde_json::from_str(text).unwrap();
    let resolver = Resolver::builder()
        .vault("env", env(&[("PW", "opensesame"), ("PORT_PREVIOUS", "1")]))
        .build()
        .unwrap();
    config.resolve_secrets(&resolver).unwrap();
    // Resolved values are never written back.
    assert_eq!(serde_json::to_string(&config).unwrap(), text);
    // A literal refuses, unless the field opts in.
    let literal = Config {
        password: Secret::new("opensesame".into()),
        port: Secret::new(1),
    };
    let err = serde_json::to_string(&literal).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "refusing to serialize a literal secret (serialize with \
             `secret_ref::ser::serialize` to see which field); opt in per field with"
        ),
        "{err}"
    );
    assert!(!err.contains("opensesame"));
    // Through `ser::serialize`, the error names the field.
    let mut out = Vec::new();
    let err = secret_ref::ser::serialize(&literal, &mut serde_json::Serializer::new(&mut out))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("password: refusing to serialize a literal secret; opt in per field"),
        "{err}"
    );
    assert!(!err.contains("opensesame"));

    // Live secrets too, at any depth.
    #[derive(serde::Serialize)]
    struct Outer {
        inner: Vec<std::collections::BTreeMap<String, secret_ref::Live<String>>>,
    }
    let outer = Outer {
        inner: vec![
            [("a".to_owned(), secret_ref::Live::new("c4n4ry".to_owned()))]
                .into_iter()
                .collect(),
        ],
    };
    let mut out = Vec::new();
    let err = secret_ref::ser::serialize(&outer, &mut serde_json::Serializer::new(&mut out))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("inner[0].a: refusing to serialize a literal secret;"),
        "{err}"
    );
    assert!(!err.contains("c4n4ry"));
    // The hint comes back once `ser::serialize` has returned.
    assert!(
        serde_json::to_string(&outer)
            .unwrap_err()
            .to_string()
            .contains("to see which field")
    );
}

#[test]
fn get_applies_keys_and_versions() {
    let resolver = Resolver::builder()
        .vault(
            "env",
            env(&[
                ("CREDENTIALS", r#"{"username":"jane","password":"qwerty"}"#),
                (
                    "CREDENTIALS_PREVIOUS",
                    r#"{"username":"john","password":"secret"}"#,
                ),
            ]),
        )
        .build()
        .unwrap();
    let get = |r: &str| resolver.get(r).map(|s| s.expose_secret().clone());
    assert_eq!(get("{vault://env/credentials/username}").unwrap(), "jane");
    assert_eq!(
        get("{vault://env/credentials/password#2}").unwrap(),
        "secret"
    );
    let whole = get("{vault://env/credentials}").unwrap();
    assert!(whole.contains("qwerty"));
    assert_eq!(
        get("{vault://env/credentials/not-found}")
            .unwrap_err()
            .kind(),
        ErrorKind::KeyNotFound
    );
    assert_eq!(
        get("{vault://env/not-found}").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let secret = resolver.get("{vault://env/credentials/username}").unwrap();
    assert_eq!(
        secret.reference().unwrap().as_str(),
        "{vault://env/credentials/username}"
    );
}

/// A vault that records how many fetches run at once (and holds each until four do).
#[derive(Clone, Default)]
struct Slow {
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    fetches: Arc<AtomicUsize>,
}

impl Vault for Slow {
    fn options(&self) -> &'static [VaultOption] {
        &[]
    }

    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        // Hold the fetch until four run at once (the bound under test), so that the peak
        // does not depend on timing; a deadline keeps a regression from hanging the suite.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.peak.load(Ordering::SeqCst) < 4 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(Zeroizing::new(format!("value-of-{}", request.resource())))
    }
}

#[test]
fn distinct_remote_secrets_are_fetched_concurrently_within_a_bound() {
    let vault = Slow::default();
    let resolver = Resolver::builder()
        .vault("slow", vault.clone())
        .concurrency(4)
        .build()
        .unwrap();
    // 40 references to 20 distinct secrets.
    let json: Vec<String> = (0..40)
        .map(|i| format!("{{vault://slow/s{}}}", i % 20))
        .collect();
    let mut secrets: Vec<Secret<String>> =
        serde_json::from_value(serde_json::to_value(json).unwrap()).unwrap();
    secrets.resolve_secrets(&resolver).unwrap();
    assert_eq!(vault.fetches.load(Ordering::SeqCst), 20);
    assert_eq!(vault.peak.load(Ordering::SeqCst), 4);
    assert_eq!(secrets[25].expose_secret(), "value-of-s5");
}

#[test]
fn scope_fetches_a_failing_remote_secret_once() {
    let vault = remote(&[]);
    let resolver = Resolver::builder()
        .vault("remote", vault.clone())
        .build()
        .unwrap();
    let err = resolver
        .scope(|| {
            serde_json::from_str::<Pg>(
                r#"{"user": "{vault://remote/pg/user}", "password": "{vault://remote/pg/password}",
                    "port": "{vault://remote/pg/port}"}"#,
            )
        })
        .unwrap_err();
    assert_eq!(err.failures().len(), 3);
    assert_eq!(err.failures()[2].path(), Some("port"));
    assert_eq!(vault.fetches(), 1);
}

#[test]
fn ttls_refresh_resurrect_and_remember_failures() {
    let vault = MemoryVault::new();
    vault.set("db", "v1");
    let warnings = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = warnings.clone();
    // Time moves only when the test says so: no sleeping, no flakiness.
    let clock = Arc::new(secret_ref::clock::ManualClock::new());
    let resolver = Resolver::builder()
        .vault("switch", vault.clone())
        .configure("switch", "ttl", "0.3")
        .configure("switch", "resurrect_ttl", "1")
        .configure("switch", "neg_ttl", "0.3")
        .clock(clock.clone())
        .on_warning(move |f| seen.lock().unwrap().push(f.to_string()))
        .build()
        .unwrap();
    let get = || {
        resolver
            .get("{vault://switch/db}")
            .map(|s| s.expose_secret().clone())
    };
    let pause = |ms| clock.advance(std::time::Duration::from_millis(ms));

    assert_eq!(get().unwrap(), "v1");
    assert_eq!(get().unwrap(), "v1");
    assert_eq!(vault.fetches(), 1, "within ttl: cached");

    pause(350);
    vault.set("db", "v2");
    assert_eq!(get().unwrap(), "v2", "after ttl: fetched again");
    assert_eq!(vault.fetches(), 2);

    pause(350);
    vault.fail_all(VaultError::unreachable("connection refused"));
    assert_eq!(get().unwrap(), "v2", "the vault is down: resurrected");
    assert_eq!(warnings.lock().unwrap().len(), 1);
    assert!(warnings.lock().unwrap()[0].contains("connection refused; serving the previous value"));
    assert_eq!(get().unwrap(), "v2");
    assert_eq!(vault.fetches(), 3, "within neg_ttl: not asked again");

    pause(1100);
    let err = get().unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Unreachable,
        "past resurrect_ttl: the failure stands"
    );

    resolver.clear_cache();
    vault.recover_all();
    vault.set("db", "v3");
    assert_eq!(get().unwrap(), "v3");
}

#[test]
fn ttl_options_are_validated() {
    let err = Resolver::builder()
        .configure("env", "ttl", "soon")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    let err = Resolver::new()
        .get("{vault://env/x?neg_ttl=-1}")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
}
