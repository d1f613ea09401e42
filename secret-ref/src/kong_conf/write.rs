//! Writing settings as kong.conf text that reads back the same.

use std::fmt::Write as _;

use super::value::is_space;
use crate::error::{Error, ErrorKind, Failure};

/// Writes settings as kong.conf lines, escaping `#` as `\#`, so that reading the text gives
/// back the same keys and values.
///
/// A value kong.conf cannot hold is an error (naming the key, never quoting the value):
/// one with a line break, with whitespace at either end (values are trimmed), or ending
/// with `\` (which continues a line). Keys must be letters, digits and `_`.
///
/// ```
/// use std::collections::BTreeMap;
/// use secret_ref::kong_conf;
///
/// let settings = [("pg_port", "{vault://env/pg-port#2}"), ("motd", "we're #1")];
/// let text = kong_conf::to_string(settings)?;
/// assert_eq!(text, "pg_port = {vault://env/pg-port\\#2}\nmotd = we're \\#1\n");
/// let back: BTreeMap<String, String> = kong_conf::from_str(&text)?;
/// assert_eq!(back["pg_port"], "{vault://env/pg-port#2}");
/// assert_eq!(back["motd"], "we're #1");
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub fn to_string<'a>(
    settings: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<String, Error> {
    let mut out = String::new();
    let mut failures = Vec::new();
    for (key, value) in settings {
        let problem =
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                Some("a key must be letters, digits and `_`")
            } else if value.contains(['\n', '\r']) {
                Some("a value cannot hold a line break")
            } else if value.starts_with(is_space) || value.ends_with(is_space) {
                Some("a value cannot start or end with whitespace (kong.conf trims it)")
            } else if value.ends_with('\\') {
                Some("a value cannot end with `\\` (kong.conf reads it as a continued line)")
            } else {
                None
            };
        if let Some(problem) = problem {
            let mut failure = Failure::new(ErrorKind::InvalidConfig, problem);
            if !key.is_empty() {
                failure = failure.with_path(key);
            }
            failures.push(failure);
            continue;
        }
        let _ = writeln!(out, "{key} = {}", value.replace('#', "\\#"));
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err(Error::from_failures(failures))
    }
}
