//! Reading kong.conf text into entries, line by line, as Kong does: Penlight's
//! `config.read` (comments, continuation lines, `key = value`) followed by Kong's own
//! trailing-comment stripping and `\#` unescaping.

use zeroize::Zeroizing;

use super::value::{is_space, trim};
use crate::error::{ErrorKind, Failure};

/// One `key = value` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) key: String,
    /// Wiped when dropped, also when a later line fails and the lines are dropped.
    pub(crate) value: Zeroizing<String>,
    /// The physical line number (1-based) where the logical line starts.
    pub(crate) number: usize,
}

/// Parses kong.conf text. Every line that is neither blank, a comment nor `key = value`
/// is reported, by line number and without its content (which may hold a password).
pub(crate) fn parse(name: &str, text: &str) -> Result<Vec<Line>, Vec<Failure>> {
    let mut lines = Vec::new();
    let mut failures = Vec::new();
    // The parts of a line continued with `\`, joined once its last part is seen: a value
    // may be a password, so no buffer holding it grows (growing frees the old one unwiped).
    let mut pending: Vec<&str> = Vec::new();
    let mut continued = false;
    let mut pending_start = 0;

    for (index, physical) in text.lines().enumerate() {
        let number = index + 1;
        // Penlight skips blank lines and lines starting with `#` or `;`, even in the middle
        // of a continued line.
        let start = physical.trim_start_matches(is_space);
        if start.is_empty() || start.starts_with(['#', ';']) {
            continue;
        }
        // A `\` at the end (before optional whitespace) continues the line.
        let end = physical.trim_end_matches(is_space);
        if let Some(before) = end.strip_suffix('\\') {
            if !continued {
                pending_start = number;
                continued = true;
            }
            pending.push(before);
            continue;
        }
        let joined;
        let (logical, line_number) = if continued {
            let length = pending.iter().map(|p| p.len()).sum::<usize>() + physical.len();
            let mut all = Zeroizing::new(String::with_capacity(length));
            pending.drain(..).for_each(|p| all.push_str(p));
            all.push_str(physical);
            continued = false;
            joined = all;
            (joined.as_str(), pending_start)
        } else {
            (physical, number)
        };
        match split(logical) {
            Ok(line) => lines.push(Line {
                number: line_number,
                ..line
            }),
            Err(problem) => failures.push(
                Failure::new(ErrorKind::Syntax, problem)
                    .with_origin(format!("{name} line {line_number}")),
            ),
        }
    }
    if continued {
        failures.push(
            Failure::new(
                ErrorKind::Syntax,
                "the file ends inside a line continued with `\\`",
            )
            .with_origin(format!("{name} line {pending_start}")),
        );
    }
    if failures.is_empty() {
        Ok(lines)
    } else {
        Err(failures)
    }
}

/// `key = value`: Penlight's `%s*=%s*` split at the first `=`, names made into identifiers,
/// then Kong's comment stripping on the value.
fn split(line: &str) -> Result<Line, String> {
    let line = line.trim_start_matches(is_space);
    if line.starts_with('[') {
        return Err("`[section]` headers are not part of kong.conf; write `key = value`".into());
    }
    let Some(eq) = line.find('=') else {
        return Err("expected `key = value` (or a `#` comment)".into());
    };
    let key = trim(&line[..eq]);
    if key.is_empty() {
        return Err("the line has no key before `=`".into());
    }
    let raw = trim(&line[eq + 1..]);
    let value = Zeroizing::new(strip_comment(raw));
    if cut_reference(raw, &value) {
        return Err(format!(
            "the value of `{}` looks like a vault reference cut short by `#`, which starts a \
             comment in kong.conf: write `\\#` for a version, as in \
             {{vault://env/pg-password\\#2}}",
            normalize_key(key)
        ));
    }
    Ok(Line {
        key: normalize_key(key),
        value,
        number: 0,
    })
}

/// `pg_password = {vault://env/x#2}`: the unescaped `#` starts a comment, so Kong reads the
/// literal `{vault://env/x`. That is never what was meant, and as a literal it would become
/// the password; it is refused instead, with the fix.
fn cut_reference(raw: &str, value: &str) -> bool {
    value.len() < raw.len()
        && raw.ends_with('}')
        && !value.ends_with('}')
        && crate::reference::near_miss(value).is_some()
}

/// Penlight's `variabilize`: every character that is not an ASCII letter or digit becomes
/// `_`, so `pg-password` and `pg_password` are the same key.
pub(crate) fn normalize_key(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Kong's `\s*(?<!\\)#.*$` removal followed by `\#` → `#`.
pub(crate) fn strip_comment(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut end = value.len();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1] != b'\\') {
            end = i;
            break;
        }
    }
    let kept = value[..end].trim_end_matches(is_space);
    // Built at its final capacity: the value may be a password, and a growing buffer frees
    // its old allocation unwiped.
    let mut out = String::with_capacity(kept.len());
    let mut rest = kept;
    while let Some(i) = rest.find("\\#") {
        out.push_str(&rest[..i]);
        out.push('#');
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> (String, String) {
        let lines = parse("t", text).unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        (lines[0].key.clone(), lines[0].value.to_string())
    }

    #[test]
    fn kong_rules() {
        assert_eq!(
            one("pg_host = 127.0.0.1"),
            ("pg_host".into(), "127.0.0.1".into())
        );
        assert_eq!(
            one("pg_password = test\\#123  # c"),
            ("pg_password".into(), "test#123".into())
        );
        assert_eq!(
            one("pg_port = {vault://env/pg-port\\#2}"),
            ("pg_port".into(), "{vault://env/pg-port#2}".into())
        );
        assert_eq!(one("  a=b=c  "), ("a".into(), "b=c".into()));
        assert_eq!(one("a =   "), ("a".into(), "".into()));
        assert_eq!(one("a = # only a comment"), ("a".into(), "".into()));
        assert_eq!(one("pg-password = x"), ("pg_password".into(), "x".into()));
        assert_eq!(one("a = \\\\# kept"), ("a".into(), "\\# kept".into()));
        assert_eq!(one("a = x\t#\tc"), ("a".into(), "x".into()));
    }

    #[test]
    fn comments_blank_lines_and_continuations() {
        let text = "# comment\n   ; also a comment\n\n  \t\nproxy_listen = 0.0.0.0:8000, \\\n  # skipped inside\n 0.0.0.0:8443 ssl\nb = 2\n";
        let lines = parse("t", text).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].key, "proxy_listen");
        assert_eq!(*lines[0].value, "0.0.0.0:8000,  0.0.0.0:8443 ssl");
        assert_eq!(lines[0].number, 5);
        assert_eq!(lines[1].number, 8);
    }

    #[test]
    fn bad_lines_are_reported_by_number_without_content() {
        let err = parse(
            "kong.conf",
            "a = 1\nhunter2-canary\n[section]\n= x\nb = 2 \\",
        )
        .unwrap_err();
        let got: Vec<_> = err.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            got,
            [
                "kong.conf line 2: expected `key = value` (or a `#` comment)",
                "kong.conf line 3: `[section]` headers are not part of kong.conf; write `key = value`",
                "kong.conf line 4: the line has no key before `=`",
                "kong.conf line 5: the file ends inside a line continued with `\\`",
            ]
        );
        assert!(got.iter().all(|m| !m.contains("hunter2")));
    }
}
