//! Messages of configuration formats with the values taken out, for
//! [`Error::from_format`](crate::Error::from_format); and what the bridges to layered
//! configuration crates (`figment`, `config_rs`) share besides: a field path read back into
//! its steps.
//!
//! serde_json, toml, figment, config-rs and the parsers under them quote what they failed on:
//! `invalid type: string "hunter2"`, `unknown variant `hunter2``, or the line of the file
//! under a `|` gutter. In a configuration that line or value may be a literal password (typed
//! into the wrong field), so failures keep the kind of value and the position, and never the
//! value (as `kong_conf` does for its own errors).

#[cfg(any(feature = "figment", feature = "config"))]
use std::borrow::Cow;

/// One step of a field path as [`ResolveSecrets`](crate::ResolveSecrets) writes it.
#[cfg(any(feature = "figment", feature = "config"))]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    /// `.name`, or `["a b"]` for a key that is not a plain name.
    Key(Cow<'a, str>),
    /// `[3]`.
    Index(usize),
}

/// The steps of `replicas[1].password` or `tokens["a b"]`, as far as the path reads as
/// written by the walker; a caller that looks a path up falls back to the steps it has, the
/// nearest parent, so a path it cannot read costs precision, never a wrong answer.
#[cfg(any(feature = "figment", feature = "config"))]
pub(crate) fn steps(path: &str) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            if let Some(quoted) = inner.strip_prefix('"') {
                let Some((key, after)) = unquote(quoted) else {
                    break;
                };
                let Some(after) = after.strip_prefix(']') else {
                    break;
                };
                steps.push(Step::Key(Cow::Owned(key)));
                rest = after;
            } else {
                let Some(end) = inner.find(']') else { break };
                let Ok(index) = inner[..end].parse() else {
                    break;
                };
                steps.push(Step::Index(index));
                rest = &inner[end + 1..];
            }
        } else {
            let name = rest.strip_prefix('.').unwrap_or(rest);
            let end = name.find(['.', '[']).unwrap_or(name.len());
            if end == 0 {
                break;
            }
            steps.push(Step::Key(Cow::Borrowed(&name[..end])));
            rest = &name[end..];
        }
    }
    steps
}

/// Reads a string written with `{:?}` up to its closing quote: the text and what follows.
fn unquote(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                'u' => {
                    let (start, open) = chars.next()?;
                    if open != '{' {
                        return None;
                    }
                    let len = s[start + 1..].find('}')?;
                    let hex = &s[start + 1..start + 1 + len];
                    out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                    for _ in 0..=hex.chars().count() {
                        chars.next();
                    }
                }
                other => out.push(other),
            },
            other => out.push(other),
        }
    }
    None
}

/// Writes a path of keys as the walker would (`replicas[1].password`), from a configuration
/// crate's list of keys, in which an array index is a key of digits.
#[cfg(feature = "figment")]
pub(crate) fn path_of<S: AsRef<str>>(keys: &[S]) -> String {
    let mut out = String::new();
    for key in keys {
        let key = key.as_ref();
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(key);
            out.push(']');
        } else if !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        } else {
            out.push_str(&format!("[{key:?}]"));
        }
    }
    out
}

/// A message of a configuration crate or parser with the values it quotes taken out, on one
/// line: the excerpt of the file under a `|` gutter (toml's) goes, and the value in serde's
/// `invalid type: string "...", expected ...` (`invalid value:` too) becomes its kind (`a
/// string`).
pub(crate) fn without_values(message: &str) -> String {
    // One line, as a failure is shown on one line.
    let lines: Vec<&str> = message
        .lines()
        .filter(|line| !is_excerpt(line))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let mut out = lines.join(": ");
    // serde's `unknown variant `<text>`, expected ...`: the text read is taken out whole,
    // up to the last closing backtick of the clause, as it may hold backticks itself.
    let prefix = "unknown variant `";
    let mut from = 0;
    while let Some(at) = out[from..].find(prefix) {
        let start = from + at + prefix.len() - 1;
        let line_end = out[start..].find('\n').map_or(out.len(), |n| start + n);
        let end = [", expected", ", there are no variants"]
            .iter()
            .filter_map(|tail| out[start..line_end].rfind(&format!("`{tail}")))
            .max()
            .map_or(line_end, |n| start + n + 1);
        out.replace_range(start - 1..end, "");
        from = start - 1;
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        let mut from = 0;
        while let Some(at) = out[from..].find(prefix) {
            let start = from + at + prefix.len();
            let end = start + quoted_value_len(&out[start..]);
            let kind = kind_of(&out[start..end]).to_owned();
            out.replace_range(start..end, &kind);
            from = start + kind.len();
        }
    }
    out
}

/// A line of a source excerpt: `  |`, `3 | password = "...`, `  |   ^^^`.
fn is_excerpt(line: &str) -> bool {
    line.trim_start()
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start()
        .starts_with('|')
}

/// The length of the value description at the start of `s` (serde's `Unexpected`): a quoted
/// string is read to its closing quote, since it may contain `, expected`; anything else ends
/// at `, expected` or at the end of the line.
fn quoted_value_len(s: &str) -> usize {
    if let Some(quoted) = s.strip_prefix("string \"") {
        if let Some((_, after)) = unquote(quoted) {
            return s.len() - after.len();
        }
        // No closing quote: the message was cut; take all of it rather than quote a part.
        return s.find('\n').unwrap_or(s.len());
    }
    let line = s.find('\n').unwrap_or(s.len());
    s[..line].find(", expected").unwrap_or(line)
}

/// The kind of value that serde (or config-rs, or figment) described, without the value: a
/// description with no quote, backtick or digit holds no value (`map`, `a string`) and stays.
fn kind_of(described: &str) -> &str {
    let holds_value =
        described.contains(['"', '`', '\'']) || described.contains(|c: char| c.is_ascii_digit());
    if !holds_value && !described.starts_with("bool ") {
        described
    } else if described.starts_with("string") {
        "a string"
    } else if described.contains("integer") || described.contains(" int") {
        "an integer"
    } else if described.starts_with("floating point") || described.starts_with("float") {
        "a floating-point number"
    } else if described.starts_with("bool") {
        "a boolean"
    } else if described.starts_with("char") {
        "a character"
    } else {
        "a value"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(any(feature = "figment", feature = "config"))]
    fn paths_read_back_into_steps() {
        assert_eq!(
            steps("replicas[1].password"),
            [
                Step::Key("replicas".into()),
                Step::Index(1),
                Step::Key("password".into())
            ]
        );
        assert_eq!(
            steps(r#"tokens["a \"b\".c"].x"#),
            [
                Step::Key("tokens".into()),
                Step::Key("a \"b\".c".into()),
                Step::Key("x".into())
            ]
        );
        assert_eq!(
            steps(r#"k["\u{e9}\n"]"#),
            [Step::Key("k".into()), Step::Key("\u{e9}\n".into())]
        );
        // What does not read stops the steps: the caller uses the parent.
        assert_eq!(steps("a[x].b"), [Step::Key("a".into())]);
        assert_eq!(steps(r#"a["open"#), [Step::Key("a".into())]);
        assert_eq!(steps("a..b"), [Step::Key("a".into())]);
        assert_eq!(steps(""), []);
    }

    #[test]
    #[cfg(feature = "figment")]
    fn keys_are_written_as_the_walker_writes_them() {
        assert_eq!(
            path_of(&["replicas", "1", "password"]),
            "replicas[1].password"
        );
        assert_eq!(path_of(&["tokens", "a b"]), r#"tokens["a b"]"#);
        let keys = ["tokens", "a \"b\".c", "x"];
        assert_eq!(steps(&path_of(&keys)).len(), 3);
    }

    #[test]
    fn quoted_values_and_excerpts_are_taken_out() {
        assert_eq!(
            without_values(r#"invalid type: string "hun, expected \"ter2", expected u16"#),
            "invalid type: a string, expected u16"
        );
        assert_eq!(
            without_values("invalid value: integer `4242`, expected a port for key `p`"),
            "invalid value: an integer, expected a port for key `p`"
        );
        assert_eq!(
            without_values("invalid type: 64-bit integer `77`, expected a map"),
            "invalid type: an integer, expected a map"
        );
        assert_eq!(
            without_values("invalid type: map, expected a string"),
            "invalid type: map, expected a string"
        );
        // Already a kind (the messages of `Secret<T>`): kept.
        assert_eq!(
            without_values("invalid secret: invalid value: a string, expected u16"),
            "invalid secret: invalid value: a string, expected u16"
        );
        assert_eq!(
            without_values("invalid type: bool true, expected a map"),
            "invalid type: a boolean, expected a map"
        );
        assert_eq!(
            without_values("invalid type: string \"cut short"),
            "invalid type: a string"
        );
        assert_eq!(
            without_values(
                "unknown variant `hun`, expected ter2`, expected one of `a`, `b` at line 1 column 9"
            ),
            "unknown variant, expected one of `a`, `b` at line 1 column 9"
        );
        assert_eq!(
            without_values("unknown variant `hunter2`, there are no variants"),
            "unknown variant, there are no variants"
        );
        assert_eq!(
            without_values("unknown variant `hunter2"),
            "unknown variant"
        );
        let toml = "TOML parse error at line 1, column 12\n  |\n1 | password = \"hunter2\n  |            ^\ninvalid basic string\n";
        assert_eq!(
            without_values(toml),
            "TOML parse error at line 1, column 12: invalid basic string"
        );
    }
}
