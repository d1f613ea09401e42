//! Reading one key of a JSON secret: `{vault://env/pg-creds/password}` reads the `password`
//! field of the JSON object in `PG_CREDS`.
//!
//! The object is scanned, not built: the other fields are skipped without being copied, so
//! the only copy of secret material made here is the selected value itself. Errors are
//! written from positions and names, never from the text.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use crate::convert::json_error;
use crate::error::{ErrorKind, VaultError};

/// The value of `key` in the JSON object `text`. A string gives its contents; a number,
/// boolean, object or list gives its JSON text (so `Secret<u16>` can read `{"port": 5432}`,
/// where Kong would fail); `null` and a missing key are errors.
pub(crate) fn select(text: &str, key: &str) -> Result<Zeroizing<String>, VaultError> {
    if !text.trim_start().starts_with('{') {
        return Err(VaultError::new(
            ErrorKind::InvalidJson,
            format!("the secret is not a JSON object, so its key `{key}` cannot be read"),
        ));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let found = de
        .deserialize_map(Find { key })
        .and_then(|found| de.end().map(|()| found))
        .map_err(|e| {
            VaultError::new(
                ErrorKind::InvalidJson,
                format!("could not read key `{key}`: {}", json_error(&e)),
            )
        })?;
    let Some(raw) = found else {
        return Err(VaultError::new(
            ErrorKind::KeyNotFound,
            format!("key `{key}` not found in the JSON secret"),
        ));
    };
    let raw = raw.get().trim();
    if raw.starts_with('"') {
        // Valid JSON already: this only unescapes.
        serde_json::from_str::<String>(raw)
            .map(Zeroizing::new)
            .map_err(|e| VaultError::new(ErrorKind::InvalidJson, json_error(&e).0))
    } else if raw == "null" {
        Err(VaultError::new(
            ErrorKind::KeyNotFound,
            format!("key `{key}` is null in the JSON secret"),
        ))
    } else {
        Ok(Zeroizing::new(raw.to_owned()))
    }
}

struct Find<'k> {
    key: &'k str,
}

impl<'de> Visitor<'de> for Find<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(is_key) = map.next_key_seed(IsKey(self.key))? {
            if is_key {
                // The last of duplicate keys wins, as in serde_json's own maps.
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Compares a key with the wanted one without allocating for keys without escapes.
struct IsKey<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for IsKey<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for IsKey<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(text: &str, key: &str) -> Result<String, VaultError> {
        select(text, key).map(|v| v.to_string())
    }

    #[test]
    fn selects() {
        let creds = r#"{"username":"user", "password":"pass"}"#;
        assert_eq!(sel(creds, "username").unwrap(), "user");
        assert_eq!(sel(creds, "password").unwrap(), "pass");
        assert_eq!(sel(r#"{"port": 5432}"#, "port").unwrap(), "5432");
        assert_eq!(sel(r#"{"on": true}"#, "on").unwrap(), "true");
        assert_eq!(sel(r#"{"o": {"a": 1}}"#, "o").unwrap(), r#"{"a": 1}"#);
        assert_eq!(sel(r#"{"e": "a\"b\u0041"}"#, "e").unwrap(), "a\"bA");
        assert_eq!(sel(r#"{"k\u0065y": "v"}"#, "key").unwrap(), "v");
        assert_eq!(sel(r#"{"k": "1", "k": "2"}"#, "k").unwrap(), "2");
    }

    #[test]
    fn failures_never_quote_the_secret() {
        const CANARY: &str = "c4n4ry-json";
        let cases = [
            (
                format!(r#"{{"password":"{CANARY}"}}"#),
                "username",
                ErrorKind::KeyNotFound,
            ),
            (
                format!(r#"{{"password":null, "x":"{CANARY}"}}"#),
                "password",
                ErrorKind::KeyNotFound,
            ),
            (CANARY.to_string(), "password", ErrorKind::InvalidJson),
            (
                format!(r#"["{CANARY}"]"#),
                "password",
                ErrorKind::InvalidJson,
            ),
            (
                format!(r#"{{"password":"{CANARY}""#),
                "password",
                ErrorKind::InvalidJson,
            ),
            (
                format!(r#"{{"password":{CANARY}}}"#),
                "password",
                ErrorKind::InvalidJson,
            ),
            (
                format!(r#"{{"password":"x"}} {CANARY}"#),
                "password",
                ErrorKind::InvalidJson,
            ),
            (
                format!(r#"{{"password":"{CANARY}\q"}}"#),
                "password",
                ErrorKind::InvalidJson,
            ),
        ];
        for (text, key, kind) in cases {
            let err = select(&text, key).unwrap_err();
            assert_eq!(err.kind(), kind, "{err}");
            assert!(!err.to_string().contains(CANARY), "leaked: {err}");
            assert!(!format!("{err:?}").contains(CANARY), "leaked: {err:?}");
        }
    }
}
