//! Near misses: text that looks like a reference but is not one is an error naming its
//! field, in a `Secret<T>`, a `Live<T>`, a plain field and kong.conf, in both resolution
//! modes; it never becomes a literal password. Ordinary passwords stay literals.

use secret_ref::kong_conf::{KongConf, Loader};
use secret_ref::vault::env::EnvVault;
use secret_ref::{ErrorKind, Live, ReferenceProblem, ResolveSecrets, Resolver, Secret};
use serde::Deserialize;

/// Texts that must be refused, and what is wrong with each (in words of the message).
const NEAR_MISSES: &[(&str, &str)] = &[
    ("{vault:/env/c4n4ry}", "followed by `//`"),
    ("{vault:env/c4n4ry}", "followed by `//`"),
    ("{vault://env/c4n4ry", "no closing `}`"),
    ("vault://env/c4n4ry", "no opening `{`"),
    ("vault://env/c4n4ry}", "no opening `{`"),
    ("{VAULT://env/c4n4ry}", "lower case"),
    ("{Vault://env/c4n4ry}", "lower case"),
    ("VAULT://env/c4n4ry", "no opening `{`"),
    (" {vault://env/c4n4ry} ", "whitespace"),
    ("{vault://env/c4n4ry}\n", "whitespace"),
    ("Bearer {vault://env/c4n4ry}", "inside other text"),
    ("c4n4ry{VAULT:/env/x}", "inside other text"),
];

/// Texts that are passwords, not references.
const LITERALS: &[&str] = &[
    "hunter2",
    "{vaultish}",
    "p@ss{vault}",
    "{vault}",
    "vault",
    "my vault:/ notes",
    "vault:/x",
    "{vault",
    "",
];

fn resolver() -> Resolver {
    Resolver::builder()
        .vault("env", EnvVault::from_vars([("C4N4RY", "from-env")]))
        .build()
        .unwrap()
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Config {
    secret: Secret<String>,
    live: Live<String>,
    plain: String,
    list: Vec<Secret<String>>,
}

fn json(text: &str) -> String {
    serde_json::json!({"secret": text, "live": text, "plain": text, "list": ["ok", text]})
        .to_string()
}

fn check_failures(text: &str, why: &str, err: &secret_ref::Error) {
    let mut found: Vec<_> = err
        .failures()
        .iter()
        .map(|f| (f.path().unwrap(), f.kind()))
        .collect();
    found.sort_by_key(|(path, _)| *path);
    assert_eq!(
        found,
        [
            ("list[1]", ErrorKind::InvalidReference),
            ("live", ErrorKind::InvalidReference),
            ("plain", ErrorKind::ReferenceInPlainField),
            ("secret", ErrorKind::InvalidReference),
        ],
        "{text:?}: {err}"
    );
    for f in err.failures().iter().filter(|f| f.path() != Some("plain")) {
        assert!(f.message().contains("looks like a vault reference"), "{f}");
        assert!(f.message().contains(why), "{text:?}: {f}");
    }
    // The text may be a password with a typo in it: it is never quoted.
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("c4n4ry"), "{shown}");
}

#[test]
fn after_deserialization() {
    for (text, why) in NEAR_MISSES {
        let mut config: Config = serde_json::from_str(&json(text)).unwrap();
        let secrets = format!("{:?} {:?} {:?}", config.secret, config.live, config.list);
        assert!(!secrets.contains("c4n4ry"), "{secrets}");
        let err = config.resolve_secrets(&resolver()).unwrap_err();
        check_failures(text, why, &err);
    }
}

#[test]
fn during_deserialization() {
    for (text, why) in NEAR_MISSES {
        let err = resolver()
            .scope(|| serde_json::from_str::<Config>(&json(text)))
            .unwrap_err();
        check_failures(text, why, &err);
    }
}

#[test]
fn ordinary_passwords_stay_literals() {
    for text in LITERALS {
        let mut config: Config = serde_json::from_str(&json(text)).unwrap();
        config.resolve_secrets(&resolver()).unwrap();
        assert_eq!(config.secret.expose_secret(), text);
        assert_eq!(*config.live.expose_secret(), **text);
        assert_eq!(config.plain, *text);
        let config: Config = resolver()
            .scope(|| serde_json::from_str(&json(text)))
            .unwrap();
        assert_eq!(config.secret.expose_secret(), text);
    }
    // And a real reference still resolves.
    let mut config: Config = serde_json::from_str(
        r#"{"secret": "{vault://env/c4n4ry}", "live": "x", "plain": "y", "list": []}"#,
    )
    .unwrap();
    config.resolve_secrets(&resolver()).unwrap();
    assert_eq!(config.secret.expose_secret(), "from-env");
}

#[test]
fn the_reference_parser_names_the_near_miss() {
    for (text, _) in NEAR_MISSES {
        let err = secret_ref::Reference::parse(text).unwrap_err();
        assert!(
            matches!(err.problem(), ReferenceProblem::NearMiss(_)),
            "{text:?}: {err}"
        );
        assert_eq!(err.reference(), None);
        assert!(!err.to_string().contains("c4n4ry"), "{err}");
    }
    for text in LITERALS {
        let err = secret_ref::Reference::parse(text).unwrap_err();
        assert_eq!(err.problem(), &ReferenceProblem::NotAReference, "{text:?}");
    }
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Pg {
    pg_password: Secret<String>,
}

#[test]
fn kong_conf_values() {
    // An unescaped `#` cuts a reference short: refused at load, with the fix.
    let err = KongConf::parse("pg_host = x\npg_password = {vault://env/c4n4ry#2}\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 2"), "{text}");
    assert!(text.contains("`pg_password`"), "{text}");
    assert!(text.contains("\\#"), "{text}");
    assert!(!text.contains("c4n4ry"), "{text}");
    // The same, escaped, is a reference with a version.
    let conf = KongConf::parse("pg_password = {vault://env/c4n4ry\\#2}").unwrap();
    assert_eq!(conf.get("pg_password"), Some("{vault://env/c4n4ry#2}"));
    // A comment after a complete reference is fine.
    let conf = KongConf::parse("pg_password = {vault://env/c4n4ry} # the password").unwrap();
    assert_eq!(conf.get("pg_password"), Some("{vault://env/c4n4ry}"));

    // Other near misses, from the file or from the environment, name the key and origin.
    for (text, why) in NEAR_MISSES {
        if text.contains('\n') || text.trim() != *text {
            continue; // kong.conf trims values; trailing text is no near miss there
        }
        let conf = Loader::new()
            .text("kong.conf", "pg_password = literal")
            .env_vars([("KONG_PG_PASSWORD", *text)])
            .env_prefix("KONG_")
            .load()
            .unwrap();
        let err = conf.extract_with::<Pg>(&resolver()).unwrap_err();
        let f = &err.failures()[0];
        assert_eq!(f.path(), Some("pg_password"), "{text:?}: {err}");
        assert_eq!(f.origin(), Some("env KONG_PG_PASSWORD"), "{err}");
        assert!(f.message().contains(why), "{text:?}: {f}");
        assert!(!err.to_string().contains("c4n4ry"), "{err}");
    }
}
