//! Every hole the scrubber had, with a canary: credentials in references never show in an
//! error's `Display` or `Debug`, whatever their name's spelling or the characters in them.

use secret_ref::vault::env::EnvVault;
use secret_ref::vault::memory::MemoryVault;
use secret_ref::vault::{OptionClass, VaultOption};
use secret_ref::{Redacted, Reference, Resolver};

const CANARY: &str = "c4n4ry";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(CANARY), "{what} leaked: {text}");
}

fn resolver() -> Resolver {
    Resolver::builder()
        .vault(
            "env",
            EnvVault::from_vars([("JSON", r#"{"key": "c4n4ry-in-json"#)]),
        )
        .vault("custom", custom())
        .build()
        .unwrap()
}

/// A backend with a credential option whose name no generic list knows (and no secrets).
fn custom() -> MemoryVault {
    const OPTIONS: &[VaultOption] = &[VaultOption::credential("zebra")];
    MemoryVault::new().with_options(OPTIONS)
}

/// Resolves a reference (expecting a failure) and checks every rendering of the error.
fn check(reference: &str) -> String {
    for r in [
        resolver(),
        Resolver::builder()
            .allow_in_references(OptionClass::ALL)
            .build()
            .unwrap(),
    ] {
        let err = r.get(reference).unwrap_err();
        assert_clean(reference, &err.to_string());
        assert_clean(reference, &format!("{err:?}"));
        for f in err.failures() {
            assert_clean(reference, f.reference().unwrap_or_default());
            assert_clean(reference, &format!("{f:?}"));
        }
    }
    if let Ok(parsed) = Reference::parse(reference) {
        assert_clean(reference, &format!("{parsed:?}"));
        assert_clean(reference, &parsed.redacted().to_string());
    }
    let redacted = Redacted::new(reference).to_string();
    assert_clean(reference, &redacted);
    redacted
}

#[test]
fn names_are_decoded_before_they_are_matched() {
    assert_eq!(
        check("{vault://nope/x?t%6Fken=c4n4ry}"),
        "{vault://nope/x?t%6Fken=***}"
    );
    assert_eq!(
        check("{vault://nope/x?TOK%45N=c4n4ry}"),
        "{vault://nope/x?TOK%45N=***}"
    );
    assert_eq!(
        check("{vault://nope/x?to+ken=c4n4ry}"),
        "{vault://nope/x?to+ken=***}"
    );
    assert_eq!(
        check("{vault://env/x?t%6Fken=c4n4ry}"),
        "{vault://env/x?t%6Fken=***}"
    );
    // A name that does not decode is treated as a credential's.
    assert_eq!(
        check("{vault://nope/x?%FF=c4n4ry}"),
        "{vault://nope/x?%FF=***}"
    );
}

#[test]
fn the_generic_list_and_declared_credentials() {
    for name in [
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "key",
        "api-key",
        "api_key",
        "apikey",
        "ApiKey",
        "x-api-key",
        "access_key",
        "AccessKeyId",
        "secret_access_key",
        "jwt",
        "bearer",
        "auth",
        "authorization",
        "session",
        "session_token",
        "credential",
        "credentials",
        "client_secret",
        "private_key",
        "signature",
        "cookie",
    ] {
        let reference = format!("{{vault://nope/x?{name}={CANARY}&prefix=APP_}}");
        assert_eq!(
            check(&reference),
            format!("{{vault://nope/x?{name}=***&prefix=APP_}}")
        );
    }
    // A backend's own credential option, declared as such.
    assert_eq!(
        check("{vault://custom/x?zebra=c4n4ry}"),
        "{vault://custom/x?zebra=***}"
    );
    // Known once any resolver declared it, even for references to another vault.
    assert_eq!(
        check("{vault://nope/x?zebra=c4n4ry}"),
        "{vault://nope/x?zebra=***}"
    );
    // Declared options other than credentials stay readable.
    assert_eq!(
        Redacted::new("{vault://env/x?prefix=APP_&ttl=60}").to_string(),
        "{vault://env/x?prefix=APP_&ttl=60}"
    );
}

#[test]
fn options_no_backend_declared_are_hidden() {
    // A misspelt credential, or any option no backend knows.
    assert_eq!(
        check("{vault://env/x?tokn=c4n4ry}"),
        "{vault://env/x?tokn=***}"
    );
    assert_eq!(
        check("{vault://env/x?secert_id=c4n4ry}"),
        "{vault://env/x?secert_id=***}"
    );
    assert_eq!(
        check("{vault://custom/x?x-zebra=c4n4ry}"),
        "{vault://custom/x?x-zebra=***}"
    );
    assert_eq!(
        check("{vault://nope/x?opt1=c4n4ry}"),
        "{vault://nope/x?opt1=***}"
    );
}

#[test]
fn what_the_fuzzer_found() {
    // A name runs to its `=`, as the parser reads it: `token;x` is one name.
    assert_eq!(
        check("{vault://env/db?token;x=c4n4ry}"),
        "{vault://env/db?token;x=***}"
    );
    assert_eq!(
        check("{vault://env/db?token?=c4n4ry}"),
        "{vault://env/db?token?=***}"
    );
    assert_eq!(
        check("{vault://canary/db?%72%6F%6C%65%69%64?=c4n4ry}"),
        "{vault://canary/db?%72%6F%6C%65%69%64?=***}"
    );
    // `;` in a query is refused, so that no option can hide in another's value, which a
    // vault might quote (`prefix `a;token=..` is not valid`).
    let err = resolver()
        .get("{vault://env/db?prefix=a;token=c4n4ry}")
        .unwrap_err();
    assert_eq!(err.kind(), secret_ref::ErrorKind::InvalidReference);
    assert!(err.to_string().contains("`;` is not allowed"), "{err}");
    check("{vault://env/db?prefix=a;token=c4n4ry}");
    // A password before the vault name.
    assert_eq!(
        check("{vault://user:c4n4ry@env/db}"),
        "{vault://***@env/db}"
    );
    assert_eq!(
        check("{vault://c4n4ry@env/db?prefix=A}"),
        "{vault://***@env/db?prefix=A}"
    );
}

#[test]
fn a_credential_is_hidden_whole() {
    // `#` starts the version, but inside a token it is part of it.
    assert_eq!(
        check("{vault://hcv/x?token=c4n4ry#c4n4ry-tail}"),
        "{vault://hcv/x?token=***}"
    );
    assert_eq!(
        check("{vault://hcv/x?token=c4n4ry#2&mount=kv}"),
        "{vault://hcv/x?token=***&mount=kv}"
    );
    // `}` and `?` inside a token.
    assert_eq!(
        check("{vault://hcv/x?token=c4n4ry}c4n4ry}"),
        "{vault://hcv/x?token=***}"
    );
    assert_eq!(
        check("{vault://hcv/x?token=c4n4ry?c4n4ry}"),
        "{vault://hcv/x?token=***}"
    );
    // After `;` or `#`, where a malformed reference may put options.
    assert_eq!(
        check("{vault://hcv/x;token=c4n4ry}"),
        "{vault://hcv/x;token=***}"
    );
    assert_eq!(
        check("{vault://hcv/x#1?token=c4n4ry}"),
        "{vault://hcv/x#1?token=***}"
    );
    // In the vault name, where a malformed reference may put its query.
    assert_eq!(
        check("{vault://hcv?token=c4n4ry/x}"),
        "{vault://hcv?token=***}"
    );
    // Repeated.
    assert_eq!(
        check("{vault://hcv/x?token=c4n4ry&token=c4n4ry}"),
        "{vault://hcv/x?token=***&token=***}"
    );
}

#[test]
fn text_that_is_not_a_reference_is_not_shown() {
    assert_eq!(check("{vault:/env/x?token=c4n4ry}"), "[REDACTED]");
    assert_eq!(Redacted::new("c4n4ry").to_string(), "[REDACTED]");
}

#[test]
fn errors_about_a_secrets_text_give_no_position() {
    let err = resolver().get("{vault://env/json/key}").unwrap_err();
    let text = format!("{err} {err:?}");
    assert_clean("malformed JSON", &text);
    assert!(!text.contains("column") && !text.contains("line"), "{text}");
}
