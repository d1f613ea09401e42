//! Property: any map of keys and values written as kong.conf reads back the same, and what
//! cannot be written is refused rather than written wrong.

use std::collections::BTreeMap;

use proptest::prelude::*;
use secret_ref::kong_conf;

fn key() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_]{1,16}"
}

/// Values rich in what kong.conf treats specially: `#`, `\`, `=`, `;`, whitespace, braces.
fn any_value() -> impl Strategy<Value = String> {
    "[#\\\\=; \t\u{0b}\n\ra-z0-9{}/:?&é]{0,30}"
}

/// Values kong.conf can hold: no line break, no whitespace at either end, no `\` at the end.
fn writable_value() -> impl Strategy<Value = String> {
    "[#\\\\=; \ta-z0-9{}/:?&é]{0,30}".prop_filter("writable", |v| writable(v))
}

fn writable(v: &str) -> bool {
    let lua_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r');
    !v.contains(['\n', '\r'])
        && !v.starts_with(lua_space)
        && !v.ends_with(lua_space)
        && !v.ends_with('\\')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn writable_maps_read_back_the_same(map in prop::collection::btree_map(key(), writable_value(), 0..20)) {
        let text = kong_conf::to_string(map.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        let back: BTreeMap<String, String> = kong_conf::from_str(&text).unwrap();
        prop_assert_eq!(back, map);
    }

    #[test]
    fn any_map_reads_back_or_is_refused(map in prop::collection::btree_map(key(), any_value(), 0..20)) {
        match kong_conf::to_string(map.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            Ok(text) => {
                prop_assert!(map.values().all(|v| writable(v)));
                let back: BTreeMap<String, String> = kong_conf::from_str(&text).unwrap();
                prop_assert_eq!(back, map);
            }
            Err(err) => {
                let refused: Vec<&str> = err.failures().iter().map(|f| f.path().unwrap()).collect();
                for (k, v) in &map {
                    prop_assert_eq!(refused.contains(&k.as_str()), !writable(v));
                }
            }
        }
    }
}
