//! The reference grammar's tests: Kong's own vectors first, then ours.

use super::*;

fn ok(s: &str) -> Reference {
    Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn problem(s: &str) -> ReferenceProblem {
    Reference::parse(s).expect_err(s).problem
}

// Kong's spec/01-unit/23-vaults_spec.lua, `is_reference`.
#[test]
fn is_reference_vectors() {
    for s in [
        "{vault://x/x}",
        "{vault://x/xx}",
        "{vault://xx/xx-x}",
        "{vault://xxx/xx-x}",
        "{vault://;/xx-x}",
    ] {
        assert!(is_reference(s), "{s}");
    }
    for s in [
        "vault:/xx-x}",
        "{vault:/xx-x",
        "vault:/xx-x",
        "{valut:/xx-x}",
        "{vault:/xx-x}",
    ] {
        assert!(!is_reference(s), "{s}");
    }
}

#[test]
fn is_reference_edges() {
    assert!(is_reference("{vault://}"));
    assert!(is_reference("{vault://a b/c d}"));
    assert!(!is_reference("{VAULT://env/x}"));
    assert!(!is_reference("{vault://env/x} "));
    assert!(!is_reference(""));
    assert!(!is_reference("{vault://"));
}

// Kong's spec/01-unit/23-vaults_spec.lua, `parse_reference`.
#[test]
fn parse_vectors() {
    let r = ok("{vault://env/test}");
    assert_eq!(
        (r.vault(), r.resource(), r.key(), r.version()),
        ("env", "test", None, None)
    );
    assert_eq!(r.options().len(), 0);

    assert_eq!(problem("{vault://env}"), ReferenceProblem::MissingPath);
    assert_eq!(problem("{vault://env/}"), ReferenceProblem::EmptyPath);
    assert_eq!(problem("{vault://env/////}"), ReferenceProblem::InvalidPath);

    let r = ok("{vault://env/test-secret/test-key}");
    assert_eq!((r.resource(), r.key()), ("test-secret", Some("test-key")));

    let r = ok("{vault://env/test%3Asecret/test%3Akey}");
    assert_eq!((r.resource(), r.key()), ("test:secret", Some("test:key")));

    let r = ok("{vault://env//////test-secret//////test-key}");
    assert_eq!((r.resource(), r.key()), ("test-secret", Some("test-key")));

    let r = ok("{vault://env/test-secret/test-key/}");
    assert_eq!((r.resource(), r.key()), ("test-secret/test-key", None));

    let r = ok("{vault://env//////test-secret//////test-key//////}");
    assert_eq!((r.resource(), r.key()), ("test-secret/test-key", None));

    let r = ok("{vault://env/test?opt1=val1}");
    assert_eq!((r.resource(), r.config("opt1")), ("test", Some("val1")));
    assert_eq!(r.options().len(), 1);

    let r = ok("{vault://env/test?opt1=val1&opt2=val2}");
    assert_eq!(
        r.options().collect::<Vec<_>>(),
        [("opt1", "val1"), ("opt2", "val2")]
    );

    let r = ok("{vault://env/test#1}");
    assert_eq!((r.resource(), r.version()), ("test", Some(1)));

    let r = ok("{vault://env/cert/key?prefix=SSL_#1}");
    assert_eq!(
        (
            r.vault(),
            r.resource(),
            r.key(),
            r.config("prefix"),
            r.version()
        ),
        ("env", "cert", Some("key"), Some("SSL_"), Some(1))
    );
}

#[test]
fn kong_error_cases() {
    // `{vault://env?x=1}`: the whole `env?x=1` is the authority, so there is no path.
    assert_eq!(problem("{vault://env?x=1}"), ReferenceProblem::MissingPath);
    assert_eq!(problem("{vault:///x}"), ReferenceProblem::MissingVault);
    assert_eq!(problem("{vault://}"), ReferenceProblem::MissingVault);
    assert_eq!(
        problem("{vault://env/x#}"),
        ReferenceProblem::InvalidVersion
    );
    assert_eq!(
        problem("{vault://env/x#1.5}"),
        ReferenceProblem::InvalidVersion
    );
    assert_eq!(
        problem("{vault://env/x#-1}"),
        ReferenceProblem::InvalidVersion
    );
    // The fragment is cut first, so options after `#` belong to the version.
    assert_eq!(
        problem("{vault://env/x#1?prefix=a}"),
        ReferenceProblem::InvalidVersion
    );
    assert_eq!(problem("not a reference"), ReferenceProblem::NotAReference);
}

#[test]
fn stricter_than_kong() {
    assert_eq!(problem("{vault://env/a;b}"), ReferenceProblem::Semicolon);
    assert_eq!(
        problem("{vault://u@env/a}"),
        ReferenceProblem::InvalidVaultName
    );
    assert_eq!(
        problem("{vault://env:80/a}"),
        ReferenceProblem::InvalidVaultName
    );
    assert_eq!(
        problem("{vault://;/xx-x}"),
        ReferenceProblem::InvalidVaultName
    );
    assert_eq!(
        problem("{vault://env/a?x=1&x=2}"),
        ReferenceProblem::DuplicateOption("x".into())
    );
    assert_eq!(
        problem("{vault://env/a?=1}"),
        ReferenceProblem::EmptyOptionName
    );
    assert_eq!(problem("{vault://env/%FF}"), ReferenceProblem::InvalidUtf8);
}

#[test]
fn decoding() {
    // Kong's documented `%2F` escape for a `/` inside a resource.
    let r = ok("{vault://aws/%2Fsecret/key}");
    assert_eq!((r.resource(), r.key()), ("/secret", Some("key")));
    let r = ok("{vault://aws/secret/path/%2Faaa/key}");
    assert_eq!((r.resource(), r.key()), ("secret/path//aaa", Some("key")));
    // Decoded once: `+` stays `+`, `%252B` is `%2B`.
    assert_eq!(ok("{vault://aws/a+b}").resource(), "a+b");
    assert_eq!(ok("{vault://aws/a%252Bb}").resource(), "a%2Bb");
    // Invalid escapes are kept.
    assert_eq!(ok("{vault://aws/100%/x%zz}").resource(), "100%");
    assert_eq!(ok("{vault://aws/100%/x%zz}").key(), Some("x%zz"));
    // Query options decode `+` as a space, as ngx.decode_args does.
    let r = ok("{vault://env/a?prefix=a+b%41&flag}");
    assert_eq!(r.config("prefix"), Some("a bA"));
    assert_eq!(r.config("flag"), Some("true"));
    assert_eq!(r.config("missing"), None);
    // An empty query gives no options.
    assert_eq!(ok("{vault://env/a?}").options().len(), 0);
    // Inner whitespace is allowed and kept.
    assert_eq!(ok("{vault://env/a b}").resource(), "a b");
    // Version whitespace, as Lua's tonumber.
    assert_eq!(ok("{vault://env/a# 2 }").version(), Some(2));
}

#[test]
fn round_trip() {
    for s in [
        "{vault://env/test}",
        "{vault://env/cert/key?prefix=SSL_#1}",
        "{vault://aws/%2Fsecret/key}",
        "{vault://env//////test-secret//////test-key//////}",
    ] {
        let r: Reference = s.parse().unwrap();
        assert_eq!(r.to_string(), s);
        assert_eq!(r.to_string().parse::<Reference>().unwrap(), r);
    }
}

#[test]
fn scrubbing() {
    assert_eq!(
        scrub("{vault://hcv/a?token=s.123&prefix=kv&approle_secret_id=xyz#2}"),
        // The last credential runs to the closing brace: a `#` may be part of it.
        "{vault://hcv/a?token=***&prefix=kv&approle_secret_id=***}"
    );
    assert_eq!(scrub("{vault://env/a}"), "{vault://env/a}");
    // Malformed references are scrubbed too.
    assert_eq!(
        scrub("{vault://hcv#x?token=abc}"),
        "{vault://hcv#x?token=***}"
    );
    let err = Reference::parse("{vault://hcv?token=s.leak}").unwrap_err();
    assert!(!err.to_string().contains("s.leak"), "{err}");
    let r = ok("{vault://hcv/a/b?TOKEN=s.leak}");
    assert!(!format!("{r:?}").contains("s.leak"));
}

#[test]
fn not_a_reference_is_not_quoted() {
    let err = Reference::parse("hunter2-canary").unwrap_err();
    assert!(!err.to_string().contains("hunter2"));
    assert_eq!(err.reference(), None);
}
