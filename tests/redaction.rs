//! Secrets never leak: every place a value could show up is given a canary, and the canary
//! must not come out of `Debug`, `Display`, errors, panics or serialization.

use std::sync::atomic::{AtomicUsize, Ordering};

use secret_ref::vault::VaultConfig;
use secret_ref::vault::env::EnvVault;
use secret_ref::zeroize::{Zeroize, Zeroizing};
use secret_ref::{ResolveSecrets, Resolver, Secret};
use serde::Deserialize;

const CANARY: &str = "c4n4ry-7f3a";

fn assert_clean(what: &str, text: &str) {
    // Only the verdict is printed, never `text`, so a failing test cannot leak either.
    assert!(!text.contains(CANARY), "{what} leaked the canary");
    assert!(!text.contains("7f3a"), "{what} leaked part of the canary");
}

fn resolver() -> Resolver {
    Resolver::builder()
        .vault(
            "env",
            EnvVault::from_vars([
                ("PASSWORD", CANARY.to_string()),
                ("PORT", CANARY.to_string()),
                (
                    "JSON",
                    format!(r#"{{"user":"{CANARY}","port":"{CANARY}"}}"#),
                ),
                ("BROKEN_JSON", format!(r#"{{"user":"{CANARY}"#)),
                ("BAD_ESCAPE", format!(r#"{{"user":"{CANARY}\q"}}"#)),
                ("MODE", CANARY.to_string()),
            ]),
        )
        .build()
        .unwrap()
}

#[derive(Debug, Deserialize, PartialEq)]
enum Mode {
    Fast,
    Slow,
}

impl Zeroize for Mode {
    fn zeroize(&mut self) {
        *self = Mode::Fast;
    }
}

#[derive(Debug, Deserialize)]
struct Creds {
    user: String,
    port: u16,
}

impl Zeroize for Creds {
    fn zeroize(&mut self) {
        self.user.zeroize();
        self.port.zeroize();
    }
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Config {
    password: Secret<String>,
    port: Secret<u16>,
    creds: Secret<Creds>,
    broken: Secret<String>,
    escape: Secret<String>,
    mode: Secret<Mode>,
    whole: Secret<Creds>,
}

#[test]
fn resolved_values_that_fail_to_convert_or_parse_do_not_leak() {
    let mut config: Config = serde_json::from_str(
        r#"{
        "password": "{vault://env/password}",
        "port": "{vault://env/port}",
        "creds": "{vault://env/json/port}",
        "broken": "{vault://env/broken-json/user}",
        "escape": "{vault://env/bad-escape/user}",
        "mode": "{vault://env/mode}",
        "whole": "{vault://env/json}"
    }"#,
    )
    .unwrap();
    let err = config.resolve_secrets(&resolver()).unwrap_err();
    assert_eq!(err.failures().len(), 6);
    assert_clean("Display", &err.to_string());
    assert_clean("Debug", &format!("{err:?}"));
    assert_clean("alternate Debug", &format!("{err:#?}"));
    for failure in err.failures() {
        assert_clean("failure", &failure.to_string());
        let mut source = std::error::Error::source(failure);
        while let Some(s) = source {
            assert_clean("source", &s.to_string());
            source = s.source();
        }
    }
    // The one that resolved is hidden too.
    assert_eq!(config.password.expose_secret(), CANARY);
    assert_clean("Debug of the config", &format!("{config:?}"));
    assert_clean("pretty Debug of the config", &format!("{config:#?}"));
}

#[test]
fn literals_that_fail_to_parse_do_not_leak() {
    let cases = [
        format!(r#"{{"port": "{CANARY}"}}"#),
        format!(r#"{{"creds": {{"user": 1, "port": "{CANARY}"}}}}"#),
        format!(r#"{{"creds": "{CANARY}"}}"#),
        format!(r#"{{"mode": "{CANARY}"}}"#),
        format!(r#"{{"mode": {{"{CANARY}": 1}}}}"#),
        format!(r#"{{"password": ["{CANARY}"]}}"#),
        format!(r#"{{"password": {{"a": "{CANARY}"}}}}"#),
    ];
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Literal {
        port: Option<Secret<u16>>,
        creds: Option<Secret<Creds>>,
        mode: Option<Secret<Mode>>,
        password: Option<Secret<String>>,
    }
    for case in cases {
        let err = serde_json::from_str::<Literal>(&case).unwrap_err();
        assert_clean("serde_json error", &err.to_string());
        assert!(err.to_string().starts_with("invalid secret:"));
    }
}

#[test]
fn debug_shows_references_not_values() {
    let literal = Secret::new(CANARY.to_string());
    assert_eq!(format!("{literal:?}"), "Secret([REDACTED])");
    let resolved = resolver().get("{vault://env/password}").unwrap();
    assert_eq!(format!("{resolved:?}"), "Secret([REDACTED])");
    let unresolved: Secret<String> =
        serde_json::from_str(r#""{vault://hcv/a?token=c4n4ry-7f3a&mount=kv}""#).unwrap();
    assert_eq!(
        format!("{unresolved:?}"),
        "Secret({vault://hcv/a?token=***&mount=kv})"
    );
    let reference = unresolved.reference().unwrap();
    assert_clean("Reference Debug", &format!("{reference:?}"));
    assert_clean("Reference::redacted", &reference.redacted().to_string());
    let config: VaultConfig = [("token", CANARY)].into_iter().collect();
    assert_clean("VaultConfig Debug", &format!("{config:?}"));
    assert_clean("Resolver Debug", &format!("{:?}", resolver()));
}

#[test]
fn credentials_in_references_are_scrubbed_from_errors() {
    let err = resolver()
        .get("{vault://nope/x?token=c4n4ry-7f3a}")
        .unwrap_err();
    assert_clean("unknown vault", &err.to_string());
    let err = resolver()
        .get("{vault://env/x?approle_secret_id=c4n4ry-7f3a}")
        .unwrap_err();
    assert_clean("unknown option", &err.to_string());
    let err = resolver()
        .get("{vault://env?token=c4n4ry-7f3a}")
        .unwrap_err();
    assert_clean("malformed reference", &err.to_string());
    let err = secret_ref::Reference::parse(CANARY).unwrap_err();
    assert_clean("not a reference", &err.to_string());
}

#[test]
fn serializing_a_literal_refuses_without_quoting_it() {
    let err = serde_json::to_string(&Secret::new(CANARY.to_string()))
        .unwrap_err()
        .to_string();
    assert_clean("serialize", &err);
}

static WIPED: AtomicUsize = AtomicUsize::new(0);

struct Tracked(String);

impl Zeroize for Tracked {
    fn zeroize(&mut self) {
        self.0.zeroize();
        WIPED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn values_are_zeroized_on_drop_and_on_replacement() {
    drop(Secret::new(Tracked(CANARY.into())));
    assert_eq!(WIPED.load(Ordering::SeqCst), 1);
    // An unresolved secret has nothing to wipe.
    let unresolved: Secret<Tracked> =
        Secret::from_reference("{vault://env/password}".parse().unwrap());
    drop(unresolved);
    assert_eq!(WIPED.load(Ordering::SeqCst), 1);
    // The text a vault returned is held in `Zeroizing` until it becomes the value.
    let text = Zeroizing::new(CANARY.to_string());
    drop(text);
}

/// A literal password typed into the wrong plain field (a number, an enum) makes the format
/// fail; the format quotes it, our error does not, from `scope` or `Error::from_format`.
#[test]
fn format_errors_do_not_quote_the_value_they_failed_on() {
    #[derive(Debug, Deserialize, ResolveSecrets)]
    #[allow(dead_code)]
    struct Service {
        port: u16,
        #[secret(skip)]
        mode: Option<PlainMode>,
        password: Secret<String>,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    enum PlainMode {
        Fast,
        Slow,
    }
    let resolver = resolver();
    let json_port = format!(r#"{{"port": "{CANARY}", "password": "{{vault://env/password}}"}}"#);
    let json_mode =
        format!(r#"{{"port": 1, "mode": "{CANARY}", "password": "{{vault://env/password}}"}}"#);
    let yaml_port = format!("port: \"{CANARY}\"\npassword: \"{{vault://env/password}}\"\n");
    let yaml_mode = format!("port: 1\nmode: {CANARY}\npassword: \"{{vault://env/password}}\"\n");

    for (what, raw, ours) in [
        (
            "serde_json, a number",
            serde_json::from_str::<Service>(&json_port)
                .unwrap_err()
                .to_string(),
            resolver.scope(|| serde_json::from_str::<Service>(&json_port)),
        ),
        (
            "serde_json, an enum",
            serde_json::from_str::<Service>(&json_mode)
                .unwrap_err()
                .to_string(),
            resolver.scope(|| serde_json::from_str::<Service>(&json_mode)),
        ),
        (
            "YAML, a number",
            serde_saphyr::from_str::<Service>(&yaml_port)
                .unwrap_err()
                .to_string(),
            resolver.scope(|| serde_saphyr::from_str::<Service>(&yaml_port)),
        ),
        (
            "YAML, an enum",
            serde_saphyr::from_str::<Service>(&yaml_mode)
                .unwrap_err()
                .to_string(),
            resolver.scope(|| serde_saphyr::from_str::<Service>(&yaml_mode)),
        ),
    ] {
        // The formats' own errors do quote it: this is what is taken out.
        assert!(
            raw.contains(CANARY),
            "{what}: the format no longer quotes values"
        );
        let err = ours.unwrap_err();
        assert_eq!(err.kind(), secret_ref::ErrorKind::Deserialize, "{what}");
        assert_clean(what, &err.to_string());
        assert_clean(what, &format!("{err:?}"));
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            assert_clean(what, &s.to_string());
            source = s.source();
        }
    }
}
