//! kong.conf's value rules, in one place: what Kong's `conf_loader` does to a value before a
//! setting uses it. The reader ([`from_str`](super::from_str), [`KongConf`](super::KongConf)'s
//! deserializer), the vault settings (`vaults`, `vault_prefixes`, `vault_*`), vault options
//! ([`VaultConfig::flag`](crate::vault::VaultConfig::flag)), secret texts converted into a
//! field's type, and the `secret-ref` command all read values through these functions, so
//! that `on`, `NONE` or `a, b,` mean the same thing everywhere.
//!
//! The rules, from Kong's `conf_loader` (`parse_value`, `overrides`) and Penlight:
//!
//! - whitespace at either end is stripped, and whitespace is Lua's `%s` (space, tab, line
//!   feed, vertical tab, form feed, carriage return), not Unicode's;
//! - a boolean is `on` or `true`, `off` or `false` (Kong reads anything else as `false`; here
//!   it is an error, so that a typo does not turn TLS verification off);
//! - a list is split on `,`, each item stripped, empty items dropped;
//! - an empty value, or `NONE` (the placeholder of Kong's defaults file), is unset: `None`
//!   for an `Option`, an empty list.
//!
//! Use them to read [`KongConf::get`](super::KongConf::get)'s raw values as a typed field
//! would:
//!
//! ```
//! use secret_ref::kong_conf::{KongConf, value};
//!
//! let conf = KongConf::parse("pg_ssl = on\nproxy_listen = 0.0.0.0:8000, 0.0.0.0:8443 ssl,\npg_schema = NONE")?;
//! assert_eq!(conf.get("pg_ssl").and_then(value::parse_bool), Some(true));
//! let listen: Vec<&str> = value::list(conf.get("proxy_listen").unwrap()).collect();
//! assert_eq!(listen, ["0.0.0.0:8000", "0.0.0.0:8443 ssl"]);
//! assert!(value::is_unset(conf.get("pg_schema").unwrap()));
//! # Ok::<(), secret_ref::Error>(())
//! ```

/// What [`parse_bool`] accepts, for error messages.
pub(crate) const BOOLEANS: &str = "on, off, true or false";

/// Lua's `%s`: ASCII whitespace including the vertical tab, which Rust's
/// `is_ascii_whitespace` leaves out, and nothing beyond ASCII (Kong strips bytes).
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Strips whitespace at either end, as Kong's `strip` does: Lua's `%s` only, so a
/// non-breaking space stays part of the value.
///
/// ```
/// use secret_ref::kong_conf::value;
///
/// assert_eq!(value::trim(" \t5432\x0b\r\n"), "5432");
/// assert_eq!(value::trim("\u{a0}5432"), "\u{a0}5432");
/// ```
pub fn trim(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// Whether a value means "unset": empty (after [`trim`]), or `NONE`, the placeholder Kong's
/// defaults file writes for settings without a default.
///
/// ```
/// use secret_ref::kong_conf::value;
///
/// assert!(value::is_unset(""));
/// assert!(value::is_unset("  NONE "));
/// assert!(!value::is_unset("none"));
/// assert!(!value::is_unset("off"));
/// ```
pub fn is_unset(text: &str) -> bool {
    matches!(trim(text), "" | "NONE")
}

/// A boolean: `on`/`true` or `off`/`false` (after [`trim`], case-sensitive, as Kong compares
/// them). Anything else is `None`, where Kong would read `false`.
///
/// ```
/// use secret_ref::kong_conf::value;
///
/// assert_eq!(value::parse_bool(" on"), Some(true));
/// assert_eq!(value::parse_bool("false"), Some(false));
/// assert_eq!(value::parse_bool("On"), None);
/// assert_eq!(value::parse_bool("yes"), None);
/// ```
pub fn parse_bool(text: &str) -> Option<bool> {
    match trim(text) {
        "on" | "true" => Some(true),
        "off" | "false" => Some(false),
        _ => None,
    }
}

/// A list setting's items: split on `,`, each item [`trim`]med, empty items dropped; an
/// unset value ([`is_unset`]) is the empty list. There is no escape for a `,` inside an item,
/// as in Kong.
///
/// ```
/// use secret_ref::kong_conf::value;
///
/// let items: Vec<&str> = value::list(" env, hcv ,, aws,").collect();
/// assert_eq!(items, ["env", "hcv", "aws"]);
/// assert_eq!(value::list("NONE").count(), 0);
/// assert_eq!(value::list("").count(), 0);
/// ```
pub fn list(text: &str) -> impl Iterator<Item = &str> {
    let text = if is_unset(text) { "" } else { text };
    items(text)
}

/// The list rule without the "unset" one, for a secret's text: a vault's answer `NONE` is a
/// value, not Kong's defaults-file placeholder.
pub(crate) fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(trim).filter(|item| !item.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_luas() {
        for c in [' ', '\t', '\n', '\x0b', '\x0c', '\r'] {
            assert!(is_space(c), "{c:?}");
        }
        for c in ['\u{a0}', '\u{85}', '\u{2003}', '\u{3000}', 'a', '_'] {
            assert!(!is_space(c), "{c:?}");
        }
        assert_eq!(trim("\x0b on \x0c"), "on");
        assert_eq!(trim("\u{2003}on"), "\u{2003}on");
    }

    #[test]
    fn booleans_unset_and_lists() {
        assert_eq!(parse_bool("\ttrue\r"), Some(true));
        assert_eq!(parse_bool("\u{a0}on"), None, "Kong's strip keeps U+00A0");
        assert_eq!(parse_bool(""), None);
        assert!(is_unset("\x0bNONE\x0c"));
        assert!(!is_unset("\u{a0}"));
        assert_eq!(list("a,b").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(list(" NONE ").count(), 0);
        assert_eq!(list("NONE, a").collect::<Vec<_>>(), ["NONE", "a"]);
        assert_eq!(items("NONE").collect::<Vec<_>>(), ["NONE"]);
        assert_eq!(list("\x0ba\x0b,\x0cb").collect::<Vec<_>>(), ["a", "b"]);
    }
}
