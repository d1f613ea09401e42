//! Any text: the reference parser never panics, and what it accepts round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_ref::{Reference, is_reference};

fuzz_target!(|text: &str| {
    match Reference::parse(text) {
        Ok(r) => {
            assert!(is_reference(text));
            assert_eq!(r.to_string(), text);
            let again: Reference = r.to_string().parse().expect("a printed reference parses");
            assert_eq!(again.vault(), r.vault());
            assert_eq!(again.resource(), r.resource());
            assert_eq!(again.key(), r.key());
            assert_eq!(again.version(), r.version());
            assert!(!r.vault().is_empty() && !r.resource().is_empty());
            let _ = (r.options().count(), r.redacted().to_string(), format!("{r:?}"));
        }
        Err(e) => {
            // Text that is not a reference is never quoted: it may be a secret.
            if !is_reference(text) {
                assert!(e.reference().is_none());
            }
            let _ = e.to_string();
        }
    }
});
