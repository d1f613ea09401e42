//! Any text: the kong.conf reader never panics, and what it reads can be written back and
//! read again to the same settings.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use secret_ref::kong_conf::{self, KongConf};

fuzz_target!(|text: &str| {
    let Ok(conf) = KongConf::parse(text) else {
        return;
    };
    let map: BTreeMap<String, String> = conf.extract_unresolved().expect("a parsed file is a map");
    for (k, v) in &map {
        assert!(!k.is_empty());
        assert!(!v.contains('\n'));
    }
    if let Ok(written) = kong_conf::to_string(&map) {
        let back: BTreeMap<String, String> =
            kong_conf::from_str(&written).expect("written text reads");
        assert_eq!(back, map);
    }
});
