//! The `env` vault against the real process environment. One test in its own binary, because
//! changing the environment is only sound while no other thread runs.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use secret_ref::{ErrorKind, Resolver};

#[test]
fn reads_a_snapshot_taken_once_per_resolver() {
    // SAFETY: this binary has a single test, so no other test thread reads the environment.
    unsafe {
        std::env::set_var("SECRET_REF_TEST_PW", "first");
        std::env::set_var("SECRET_REF_TEST_PW_PREVIOUS", "zeroth");
        std::env::set_var("SECRET_REF_TEST_EMPTY", "");
        std::env::set_var(
            "SECRET_REF_TEST_BINARY",
            OsString::from_vec(b"c4n4ry-\xff\xfe".to_vec()),
        );
        std::env::remove_var("SECRET_REF_TEST_UNSET");
    }
    let before = Resolver::new();
    let get = |r: &Resolver, reference: &str| r.get(reference).map(|s| s.expose_secret().clone());
    assert_eq!(
        get(&before, "{vault://env/secret-ref-test-pw}").unwrap(),
        "first"
    );
    assert_eq!(
        get(&before, "{vault://env/secret_ref_test_pw#2}").unwrap(),
        "zeroth"
    );
    assert_eq!(
        get(&before, "{vault://env/secret-ref-test-empty}").unwrap(),
        ""
    );
    let err = get(&before, "{vault://env/secret-ref-test-unset}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = get(&before, "{vault://env/secret-ref-test-binary}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadResponse);
    assert!(!err.to_string().contains("c4n4ry"));

    // SAFETY: as above.
    unsafe { std::env::set_var("SECRET_REF_TEST_PW", "second") };
    // The first resolver read the environment once, as Kong's snapshot at start...
    assert_eq!(
        get(&before, "{vault://env/secret-ref-test-pw}").unwrap(),
        "first"
    );
    // ...and a new resolver sees the change.
    let after = Resolver::new();
    assert_eq!(
        get(&after, "{vault://env/secret-ref-test-pw}").unwrap(),
        "second"
    );
    // A clone shares its resolver's snapshot.
    assert_eq!(
        get(&before.clone(), "{vault://env/secret-ref-test-pw}").unwrap(),
        "first"
    );
}
