//! Kong's vault reference grammar.
//!
//! A reference stands where a secret would: `{vault://<vault>/<resource>[/<key>][/][?<options>][#<version>]}`.
//! Parsing follows Kong's `kong.vault.parse_reference` step by step (see the crate docs for the
//! few places where this crate is deliberately stricter, because Kong there loses data).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::redact::{Redacted, scrub};

/// Tells whether `s` is a vault reference, as cheaply as Kong's `is_reference`.
///
/// It checks only that `s` starts with `{vault://` (case-sensitive) and ends with `}`. A string
/// that passes may still be malformed: [`Reference::parse`] says how. Surrounding whitespace
/// makes it a plain string, as in Kong.
///
/// ```
/// use secret_ref::is_reference;
///
/// assert!(is_reference("{vault://env/pg-password}"));
/// assert!(is_reference("{vault://;/xx-x}")); // passes the cheap check, fails parsing
/// assert!(!is_reference(" {vault://env/pg-password}"));
/// assert!(!is_reference("hunter2"));
/// ```
#[inline]
pub fn is_reference(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > PREFIX.len() && b.starts_with(PREFIX.as_bytes()) && b[b.len() - 1] == b'}'
}

pub(crate) const PREFIX: &str = "{vault://";

/// A parsed vault reference such as `{vault://env/pg-creds/password?prefix=APP_#2}`.
///
/// `Display` writes the reference back exactly as it was written, so parsing and printing
/// round-trip. A reference is not a secret, but its query options may carry credentials
/// (`?token=...`): use [`Reference::redacted`] in logs; `Debug` is redacted already.
///
/// ```
/// use secret_ref::Reference;
///
/// let r: Reference = "{vault://env/cert/key?prefix=SSL_#1}".parse()?;
/// assert_eq!(r.vault(), "env");
/// assert_eq!(r.resource(), "cert");
/// assert_eq!(r.key(), Some("key"));
/// assert_eq!(r.config("prefix"), Some("SSL_"));
/// assert_eq!(r.version(), Some(1));
/// assert_eq!(r.to_string(), "{vault://env/cert/key?prefix=SSL_#1}");
/// # Ok::<(), secret_ref::ReferenceError>(())
/// ```
#[derive(Clone)]
pub struct Reference {
    raw: Box<str>,
    parts: RefParts,
}

/// A reference parsed in place, borrowing its text: what the resolver works with, so that
/// resolving allocates nothing for the reference itself.
#[derive(Clone)]
pub(crate) struct RefView<'a> {
    raw: &'a str,
    parts: RefParts,
}

impl<'a> RefView<'a> {
    pub(crate) fn parse(raw: &'a str) -> Result<Self, ReferenceError> {
        if !is_reference(raw) {
            return Err(match near_miss(raw) {
                Some(kind) => ReferenceError::unquoted(ReferenceProblem::NearMiss(kind)),
                None => ReferenceError::unquoted(ReferenceProblem::NotAReference),
            });
        }
        match parse_parts(raw) {
            Ok(parts) => Ok(RefView { raw, parts }),
            Err(problem) => Err(ReferenceError::new(raw, problem)),
        }
    }

    pub(crate) fn as_str(&self) -> &'a str {
        self.raw
    }

    pub(crate) fn vault(&self) -> &str {
        self.parts.vault.get(self.raw)
    }

    pub(crate) fn resource(&self) -> &str {
        self.parts.resource.get(self.raw)
    }

    pub(crate) fn key(&self) -> Option<&str> {
        self.parts.key.as_ref().map(|k| k.get(self.raw))
    }

    pub(crate) fn version(&self) -> Option<u32> {
        self.parts.version
    }

    pub(crate) fn options(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.parts.config.iter().map(|(k, v)| (&**k, &**v))
    }

    /// A view over `raw` from parts parsed from that same text before: the resolver keeps
    /// the parts, not the borrow, while it fetches.
    pub(crate) fn from_parts(raw: &'a str, parts: RefParts) -> Self {
        RefView { raw, parts }
    }

    pub(crate) fn into_parts(self) -> RefParts {
        self.parts
    }

    pub(crate) fn into_owned(self) -> Reference {
        Reference {
            raw: self.raw.into(),
            parts: self.parts,
        }
    }
}

/// A part of a reference: a span of the original text in the common case (nothing to
/// decode), so that parsing allocates nothing beyond the text itself.
#[derive(Clone)]
enum Piece {
    Span(u32, u32),
    Owned(Box<str>),
}

impl Piece {
    fn get<'a>(&'a self, raw: &'a str) -> &'a str {
        match self {
            Piece::Span(start, end) => &raw[*start as usize..*end as usize],
            Piece::Owned(s) => s,
        }
    }
}

/// Two references are equal when they are written the same way.
impl PartialEq for Reference {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Reference {}

impl std::hash::Hash for Reference {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl Reference {
    /// Parses a reference, following Kong's grammar.
    ///
    /// Errors quote the reference (with credential-like options scrubbed) and say what is
    /// wrong. A string that is not a reference at all is not quoted, since it may be a literal
    /// secret.
    ///
    /// ```
    /// use secret_ref::Reference;
    ///
    /// let err = Reference::parse("{vault://env}").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid reference {vault://env}: no secret path after the vault name \
    ///      (expected {vault://<vault>/<secret>})"
    /// );
    /// ```
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        RefView::parse(s).map(RefView::into_owned)
    }

    /// The vault: a backend name such as `env`, or the prefix of a named vault.
    pub fn vault(&self) -> &str {
        self.parts.vault.get(&self.raw)
    }

    /// The secret's id, percent-decoded once (`%2F` gives a `/` inside the id; `+` stays `+`).
    pub fn resource(&self) -> &str {
        self.parts.resource.get(&self.raw)
    }

    /// The last path segment when the path has two or more: the field to read from a JSON
    /// secret. A trailing `/` means "no key": `{vault://env/a/b/}` reads the whole `a/b`.
    pub fn key(&self) -> Option<&str> {
        self.parts.key.as_ref().map(|k| k.get(&self.raw))
    }

    /// The version after `#`, if any (`#2` reads the previous value in most backends).
    pub fn version(&self) -> Option<u32> {
        self.parts.version
    }

    /// A query option, such as `prefix` in `?prefix=SSL_`. A bare `?flag` reads as `"true"`.
    pub fn config(&self, name: &str) -> Option<&str> {
        self.parts
            .config
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    }

    /// All query options, in the order they were written.
    pub fn options(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.parts.config.iter().map(|(k, v)| (&**k, &**v))
    }

    /// The text, without a copy.
    pub(crate) fn into_raw(self) -> Box<str> {
        self.raw
    }

    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The reference with the values of query options that may be credentials (`token`,
    /// `secret_id`, a misspelt or unknown option: every option but those a backend declared
    /// as something else) replaced by `***`, for logs and error messages.
    ///
    /// ```
    /// use secret_ref::Reference;
    ///
    /// let r = Reference::parse("{vault://env/db/password?token=s.abc&prefix=APP_}")?;
    /// assert_eq!(r.redacted().to_string(), "{vault://env/db/password?token=***&prefix=APP_}");
    /// # Ok::<(), secret_ref::ReferenceError>(())
    /// ```
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted::new(&self.raw)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({})", self.redacted())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// How a text that looks like a reference misses the grammar; see [`Reference::parse`], which reports one as [`ReferenceProblem::NearMiss`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NearMiss {
    /// `vault://env/x` or `vault://env/x}`: no opening brace.
    MissingOpeningBrace,
    /// `{vault:/env/x}` or `{vault:env/x}`: the scheme is not followed by `//`.
    MissingSlashes,
    /// `{VAULT://env/x}`: Kong's prefix is lower-case.
    Uppercase,
    /// `{vault://env/x`: no closing brace (in kong.conf, often an unescaped `#` cut it).
    MissingClosingBrace,
    /// ` {vault://env/x} `: whitespace around an otherwise valid reference.
    Whitespace,
    /// `Bearer {vault://env/token}`: a reference inside other text, which nothing resolves.
    Embedded,
}

impl fmt::Display for NearMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NearMiss::MissingOpeningBrace => "it has no opening `{`",
            NearMiss::MissingSlashes => "`{vault:` must be followed by `//`",
            NearMiss::Uppercase => "`{vault://` must be written in lower case",
            NearMiss::MissingClosingBrace => "it has no closing `}`",
            NearMiss::Whitespace => "it has whitespace around it",
            NearMiss::Embedded => {
                "it sits inside other text, and a reference must be the whole value"
            }
        })
    }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Tells whether a text that is not a reference looks like one that was meant: it starts
/// with `{vault:` or `vault://` (ASCII case-insensitive, after surrounding whitespace), or
/// holds `{vault:/` inside. Such a text is never taken as a literal: a typo in a reference
/// must not become the password. Ordinary passwords (`hunter2`, `{vaultish}`,
/// `p@ss{vault}`) are not near misses.
pub(crate) fn near_miss(text: &str) -> Option<NearMiss> {
    if is_reference(text) {
        return None;
    }
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if starts_with_ignore_case(t, "{vault:") || starts_with_ignore_case(t, "vault://") {
        return Some(if !t.starts_with('{') {
            NearMiss::MissingOpeningBrace
        } else if !starts_with_ignore_case(t, PREFIX) {
            NearMiss::MissingSlashes
        } else if !t.starts_with(PREFIX) {
            NearMiss::Uppercase
        } else if !t.ends_with('}') {
            NearMiss::MissingClosingBrace
        } else {
            NearMiss::Whitespace
        });
    }
    let b = text.as_bytes();
    let needle = b"{vault:/";
    (b.len() >= needle.len()
        && b.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle)))
    .then_some(NearMiss::Embedded)
}

/// Why a reference did not parse, with the reference it came from (credentials scrubbed).
///
/// ```
/// use secret_ref::{Reference, ReferenceProblem};
///
/// let err = Reference::parse("{vault://env/test#latest}").unwrap_err();
/// assert_eq!(err.problem(), &ReferenceProblem::InvalidVersion);
/// assert_eq!(err.reference(), Some("{vault://env/test#latest}"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceError {
    reference: Option<Box<str>>,
    problem: ReferenceProblem,
}

/// What is wrong with a reference; see [`ReferenceError`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceProblem {
    /// The text does not start with `{vault://` and end with `}`.
    NotAReference,
    /// Nothing names the vault: `{vault:///x}`.
    MissingVault,
    /// No `/` follows the vault name: `{vault://env}`.
    MissingPath,
    /// The path is a lone `/`: `{vault://env/}`.
    EmptyPath,
    /// The path holds only slashes: `{vault://env/////}`.
    InvalidPath,
    /// The text after `#` is not a whole number.
    InvalidVersion,
    /// The vault name has characters other than letters, digits, `-`, `_` and `.`.
    /// Kong would silently drop a `user@` or `:port` part; this crate refuses them.
    InvalidVaultName,
    /// A `;` in the path or the query. Kong silently drops everything after it in the path;
    /// this crate refuses it so that a secret named `a;b` is not read as `a`, and so that
    /// `?prefix=a;token=x` cannot pass one option off as another's value.
    Semicolon,
    /// Percent-decoding produced bytes that are not UTF-8.
    InvalidUtf8,
    /// A query option without a name (`?=x`).
    EmptyOptionName,
    /// A query option given twice (Kong turns it into a list that no vault accepts).
    DuplicateOption(String),
    /// The text looks like a reference but is not one (`{vault:/env/x}`, `{VAULT://env/x}`,
    /// `{vault://env/x` ...). Kong would take it as a literal; this crate refuses it, so
    /// that a typo never becomes the password. The text is not quoted.
    NearMiss(NearMiss),
}

impl ReferenceError {
    /// An error that does not quote the text: it is not a reference, so it may be a secret.
    fn unquoted(problem: ReferenceProblem) -> Self {
        ReferenceError {
            reference: None,
            problem,
        }
    }

    fn new(raw: &str, problem: ReferenceProblem) -> Self {
        ReferenceError {
            reference: Some(scrub(raw).into()),
            problem,
        }
    }

    /// What is wrong.
    pub fn problem(&self) -> &ReferenceProblem {
        &self.problem
    }

    /// The reference (credential options scrubbed); `None` when the text was not a
    /// reference at all (not even a near miss quotes it), because then it may be a secret.
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }
}

impl fmt::Display for ReferenceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReferenceProblem::NotAReference => {
                f.write_str("not a vault reference (expected {vault://<vault>/<secret>})")
            }
            ReferenceProblem::MissingVault => {
                f.write_str("no vault name after `vault://` (expected {vault://<vault>/<secret>})")
            }
            ReferenceProblem::MissingPath => f.write_str(
                "no secret path after the vault name (expected {vault://<vault>/<secret>})",
            ),
            ReferenceProblem::EmptyPath => f.write_str("the secret path is empty"),
            ReferenceProblem::InvalidPath => {
                f.write_str("the secret path has no name in it, only slashes")
            }
            ReferenceProblem::InvalidVersion => {
                f.write_str("the version after `#` must be a whole number, such as #2")
            }
            ReferenceProblem::InvalidVaultName => f.write_str(
                "the vault name may only hold letters, digits, `-`, `_` and `.` \
                 (it is a backend such as `env` or a vault prefix, not a URL host)",
            ),
            ReferenceProblem::Semicolon => {
                f.write_str("`;` is not allowed in a reference; percent-encode it as %3B")
            }
            ReferenceProblem::InvalidUtf8 => {
                f.write_str("percent-encoded bytes in the path are not valid UTF-8")
            }
            ReferenceProblem::EmptyOptionName => f.write_str("a query option has no name"),
            ReferenceProblem::DuplicateOption(name) => {
                write!(f, "the query option `{name}` is given more than once")
            }
            ReferenceProblem::NearMiss(how) => write!(
                f,
                "this looks like a vault reference but is not one: {how}; write \
                 {{vault://<vault>/<secret>}} (the text is not shown, since it may be a secret)"
            ),
        }
    }
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reference {
            Some(r) => write!(f, "invalid reference {r}: {}", self.problem),
            None => fmt::Display::fmt(&self.problem, f),
        }
    }
}

impl std::error::Error for ReferenceError {}

#[derive(Clone)]
pub(crate) struct RefParts {
    vault: Piece,
    resource: Piece,
    key: Option<Piece>,
    version: Option<u32>,
    config: Vec<(Box<str>, Box<str>)>,
}

fn span(raw: &str, part: &str) -> Piece {
    let start = part.as_ptr() as usize - raw.as_ptr() as usize;
    Piece::Span(start as u32, (start + part.len()) as u32)
}

fn parse_parts(raw: &str) -> Result<RefParts, ReferenceProblem> {
    use ReferenceProblem as P;
    if raw.len() > u32::MAX as usize {
        return Err(P::InvalidPath);
    }
    // LuaSocket's `url.parse` order: the fragment goes first (so in `#1?x=y` all of `1?x=y`
    // is the fragment), then the authority up to the next `/`, then the query from the first
    // `?`, then params from the first `;`. What is left is the path.
    let inner = &raw[PREFIX.len()..raw.len() - 1];
    let (rest, fragment) = match find_byte(inner, b'#') {
        Some(i) => (&inner[..i], Some(&inner[i + 1..])),
        None => (inner, None),
    };
    let (authority, after) = match find_byte(rest, b'/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };

    // One pass over the path: where it ends (`?` or `;`), and what the segment rules need.
    let bytes = after.as_bytes();
    let mut end = bytes.len();
    let mut semicolon = false;
    let mut percent = false;
    let mut double_slash = false;
    let mut last_slash = None;
    let mut first_name = None;
    let mut last_name = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'?' | b';' => {
                end = i;
                semicolon = b == b';';
                break;
            }
            b'/' => {
                if last_slash == Some(i.wrapping_sub(1)) && first_name.is_some() {
                    double_slash = true;
                }
                last_slash = Some(i);
            }
            _ => {
                percent |= b == b'%';
                first_name.get_or_insert(i);
                last_name = i + 1;
            }
        }
    }
    let path = &after[..end];
    let query = match (semicolon, find_byte(&after[end..], b'?')) {
        (_, Some(q)) => Some(&after[end + q + 1..]),
        (_, None) => None,
    };

    let host = if authority.bytes().all(is_vault_name_byte) {
        authority
    } else {
        host_of(authority)
    };
    if host.is_empty() {
        return Err(P::MissingVault);
    }
    if path.is_empty() {
        return Err(P::MissingPath);
    }
    if path.len() == 1 {
        return Err(P::EmptyPath);
    }
    let version = match fragment {
        None => None,
        Some(f) => Some(parse_version(f).ok_or(P::InvalidVersion)?),
    };
    // `parse_path` drops empty segments: what matters is between the first and last name.
    let Some(first_name) = first_name else {
        return Err(P::InvalidPath);
    };
    // Kong's checks come first so that its test vectors get its answers; these are the
    // inputs Kong accepts but silently truncates.
    if host.len() != authority.len() || !host.bytes().all(is_vault_name_byte) {
        return Err(P::InvalidVaultName);
    }
    if semicolon || query.is_some_and(|q| q.contains(';')) {
        return Err(P::Semicolon);
    }

    let core = &after[first_name..last_name];
    let is_directory = path.ends_with('/');
    let (resource, key) = if !percent && !double_slash {
        // Nothing to decode and no empty segments: the parts are spans of the text.
        match last_slash.filter(|&i| i > first_name && i < last_name) {
            Some(i) if !is_directory => (
                span(raw, &after[first_name..i]),
                Some(span(raw, &after[i + 1..last_name])),
            ),
            _ => (span(raw, core), None),
        }
    } else {
        let mut segments = Vec::new();
        for part in core.split('/').filter(|p| !p.is_empty()) {
            segments.push(decode_segment(part).ok_or(P::InvalidUtf8)?);
        }
        let key = if segments.len() > 1 && !is_directory {
            segments.pop().map(|k| Piece::Owned(k.into()))
        } else {
            None
        };
        (Piece::Owned(segments.join("/").into()), key)
    };

    let mut config: Vec<(Box<str>, Box<str>)> = Vec::new();
    // Past a few options, duplicates are found through a set, so that a hostile reference
    // with thousands of options costs linear time, not quadratic.
    let mut seen: Option<hashbrown::HashSet<Box<str>>> = None;
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.split_once('=') {
                Some((k, v)) => (decode_query(k), decode_query(v)),
                None => (decode_query(pair), Some(Cow::Borrowed("true"))),
            };
            let (Some(k), Some(v)) = (k, v) else {
                return Err(P::InvalidUtf8);
            };
            if k.is_empty() {
                return Err(P::EmptyOptionName);
            }
            let duplicate = match &mut seen {
                Some(set) => !set.insert(Box::from(&*k)),
                None => {
                    let dup = config.iter().any(|(name, _)| **name == *k);
                    if !dup && config.len() == 8 {
                        seen = Some(
                            config
                                .iter()
                                .map(|(n, _)| n.clone())
                                .chain([Box::from(&*k)])
                                .collect(),
                        );
                    }
                    dup
                }
            };
            if duplicate {
                return Err(P::DuplicateOption(k.into_owned()));
            }
            config.push((k.into(), v.into()));
        }
    }

    Ok(RefParts {
        vault: span(raw, host),
        resource,
        key,
        version,
        config,
    })
}

/// The first `b` in `s`. The strings here are short, where a plain loop beats `memchr`'s
/// setup.
fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

fn is_vault_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// LuaSocket's host: the authority without `userinfo@`, without a `:port` suffix and with
/// IPv6 brackets unwrapped.
fn host_of(authority: &str) -> &str {
    let mut host = match authority.find('@') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    if let Some(i) = host.rfind(':')
        && !host[i + 1..].contains(']')
    {
        host = &host[..i];
    }
    if host.len() > 2 && host.starts_with('[') && host.ends_with(']') {
        host = &host[1..host.len() - 1];
    }
    host
}

/// Lua's `tonumber(s, 10)` accepts surrounding whitespace; versions are whole numbers.
fn parse_version(s: &str) -> Option<u32> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `%XX` decoding; an invalid escape is kept as written, as LuaSocket and nginx do.
fn percent_decode(s: &str, plus_is_space: bool) -> Option<Cow<'_, str>> {
    if !s.bytes().any(|b| b == b'%' || (plus_is_space && b == b'+')) {
        return Some(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// Path segments are decoded once and `+` stays `+` (Kong decodes twice, which turns `+`
/// into a space and makes an AWS secret named `a+b` unreachable).
fn decode_segment(s: &str) -> Option<Cow<'_, str>> {
    percent_decode(s, false)
}

/// Query keys and values decode as `ngx.decode_args` does: `%XX` and `+` as a space.
pub(crate) fn decode_query(s: &str) -> Option<Cow<'_, str>> {
    percent_decode(s, true)
}

#[cfg(test)]
mod tests;
