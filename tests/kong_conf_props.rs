//! Properties: any map of keys and values, and any typed configuration, written as kong.conf
//! reads back the same, and what cannot be written is refused rather than written wrong.

use std::collections::BTreeMap;

use proptest::prelude::*;
use secret_ref::kong_conf;
use serde::{Deserialize, Serialize};

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

/// A typed configuration: booleans, numbers, optional values and lists.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Typed {
    pg_ssl: bool,
    pg_port: u16,
    ratio: f64,
    pg_schema: Option<String>,
    proxy_listen: Vec<String>,
    ports: Vec<u32>,
}

/// A list item kong.conf can hold: no `,`, not empty, no whitespace at either end.
fn item() -> impl Strategy<Value = String> {
    "[#\\=; a-z0-9{}/:?&é]{1,12}".prop_filter("an item", |v| {
        writable(v) && !v.starts_with(' ') && !v.ends_with(' ') && !v.contains(',')
    })
}

fn typed() -> impl Strategy<Value = Typed> {
    (
        any::<bool>(),
        any::<u16>(),
        any::<f64>().prop_filter("a number", |f| f.is_finite()),
        // `NONE` or an empty text reads back as unset, so a value that is set is neither.
        prop::option::of(writable_value().prop_filter("set", |v| !v.is_empty() && v != "NONE")),
        prop::collection::vec(item(), 0..5).prop_filter("a list", |l| l != &["NONE"]),
        prop::collection::vec(any::<u32>(), 0..5),
    )
        .prop_map(
            |(pg_ssl, pg_port, ratio, pg_schema, proxy_listen, ports)| Typed {
                pg_ssl,
                pg_port,
                ratio,
                pg_schema,
                proxy_listen,
                ports,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn typed_settings_read_back_the_same(value in typed()) {
        let text = kong_conf::to_string(&value).unwrap();
        let back: Typed = kong_conf::from_str(&text).unwrap();
        prop_assert_eq!(back, value);
    }

    #[test]
    fn writable_maps_read_back_the_same(map in prop::collection::btree_map(key(), writable_value(), 0..20)) {
        let text = kong_conf::to_string(&map).unwrap();
        let back: BTreeMap<String, String> = kong_conf::from_str(&text).unwrap();
        prop_assert_eq!(back, map);
    }

    #[test]
    fn any_map_reads_back_or_is_refused(map in prop::collection::btree_map(key(), any_value(), 0..20)) {
        match kong_conf::to_string(&map) {
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
