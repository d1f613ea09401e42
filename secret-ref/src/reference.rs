//! Kong's vault reference grammar.
//!
//! A reference stands where a secret would: `{vault://<vault>/<resource>[/<key>][/][?<options>][#<version>]}`.
//! Parsing follows Kong's `kong.vault.parse_reference` step by step (see the crate docs for the
//! few places where this crate is deliberately stricter, because Kong there loses data).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

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

const PREFIX: &str = "{vault://";

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
    parts: Parts,
}

/// A reference parsed in place, borrowing its text: what the resolver works with, so that
/// resolving allocates nothing for the reference itself.
#[derive(Clone)]
pub(crate) struct RefView<'a> {
    raw: &'a str,
    parts: Parts,
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
enum Text {
    Span(u32, u32),
    Owned(Box<str>),
}

impl Text {
    fn get<'a>(&'a self, raw: &'a str) -> &'a str {
        match self {
            Text::Span(start, end) => &raw[*start as usize..*end as usize],
            Text::Owned(s) => s,
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
        Redacted(&self.raw)
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

/// A reference text with credential option values scrubbed; see [`Reference::redacted`].
///
/// It works on any text, parsed or not, so that a malformed reference is shown as safely as
/// a valid one. A text that is not a reference at all (it fails [`is_reference`]) is shown as
/// `[REDACTED]`: it may be a password.
///
/// ```
/// use secret_ref::Redacted;
///
/// // Names are decoded before they are matched, and a credential's value runs to the next
/// // `&` (or the end), `#` included.
/// assert_eq!(
///     Redacted::new("{vault://env/db?t%6Fken=s.abc#def&prefix=APP_}").to_string(),
///     "{vault://env/db?t%6Fken=***&prefix=APP_}"
/// );
/// assert_eq!(Redacted::new("{vault:/env/almost}").to_string(), "[REDACTED]");
/// ```
#[derive(Clone, Copy)]
pub struct Redacted<'a>(pub(crate) &'a str);

impl<'a> Redacted<'a> {
    /// The text, to be displayed scrubbed.
    pub fn new(text: &'a str) -> Self {
        Redacted(text)
    }
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&scrub(self.0))
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Words that make an option name a credential, matched inside the name once it is
/// percent-decoded, lower-cased and stripped of `-`, `_`, `.` and spaces (so `api-key`,
/// `API_KEY`, `x.api.key` and `ApiKey` all match `apikey`). Matching by substring covers
/// Kong's `approle_secret_id` and any backend's `client_secret` without a list per backend;
/// scrubbing a harmless option (`auth_method`) only costs a less helpful message.
const SENSITIVE: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "key",
    "jwt",
    "bearer",
    "auth",
    "session",
    "credential",
    "cred",
    "private",
    "signature",
    "cookie",
    // AppRole's role id: half of the login.
    "roleid",
];

/// Options whose values may be shown: those a backend declared with a class other than
/// [`Credential`](crate::vault::OptionClass::Credential) (the bundled backends' from the
/// start, a custom backend's once a resolver with it is built), unless a backend also
/// declared the name a credential or it matches [`SENSITIVE`]. Every other value is hidden:
/// a misspelt credential (`?tokn=`) or an option no backend knows is scrubbed too. The lists
/// only grow to the number of distinct option names compiled into the program.
struct Declared {
    plain: Vec<&'static str>,
    credentials: Vec<&'static str>,
}

static DECLARED: std::sync::RwLock<Declared> = std::sync::RwLock::new(Declared {
    plain: Vec::new(),
    credentials: Vec::new(),
});

/// Remembers a backend's options, so that every scrubber (errors, `Debug`, audit events,
/// the command line) knows which values it may show.
pub(crate) fn declare_options(options: &'static [crate::vault::VaultOption]) {
    use crate::vault::OptionClass;
    let fresh = |known: &Vec<&'static str>, class_is_credential: bool| -> Vec<&'static str> {
        options
            .iter()
            .filter(|o| (o.class() == OptionClass::Credential) == class_is_credential)
            .map(|o| o.name())
            .filter(|n| !known.contains(n))
            .collect()
    };
    {
        let declared = DECLARED.read().unwrap_or_else(|e| e.into_inner());
        if fresh(&declared.plain, false).is_empty() && fresh(&declared.credentials, true).is_empty()
        {
            return;
        }
    }
    let mut declared = DECLARED.write().unwrap_or_else(|e| e.into_inner());
    let plain = fresh(&declared.plain, false);
    let credentials = fresh(&declared.credentials, true);
    declared.plain.extend(plain);
    declared.credentials.extend(credentials);
}

/// The bundled backends' options are known from the start, so that a reference parsed before
/// any resolver is built shows its selectors.
fn declare_bundled() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for options in crate::vault::bundled_options() {
            declare_options(options);
        }
    });
}

/// An option name (already decoded) as the scrubber compares it: lower-cased, without
/// separators.
fn normalize_name(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

fn generic_sensitive(normalized: &str) -> bool {
    SENSITIVE.iter().any(|s| normalized.contains(s))
}

/// Whether an option's value must be hidden, by its (decoded) name: unless a backend
/// declared it as something other than a credential, it is.
pub(crate) fn is_sensitive_option(name: &str) -> bool {
    if generic_sensitive(&normalize_name(name)) {
        return true;
    }
    declare_bundled();
    let declared = DECLARED.read().unwrap_or_else(|e| e.into_inner());
    declared.credentials.contains(&name) || !declared.plain.contains(&name)
}

/// Whether a name as written in a reference (still percent-encoded) is a credential's. A
/// name that does not decode is treated as one, since nobody can tell.
fn is_sensitive_raw_name(raw: &str) -> bool {
    match decode_query(raw) {
        Some(name) => is_sensitive_option(&name),
        None => true,
    }
}

/// Replaces the values of options that may be credentials (`token=`, `t%6Fken=`,
/// `x-api-key=`, a misspelt `tokn=`: every option but those a backend declared plain) with
/// `***`, and a `user:password@` before the vault name with `***@`. A text that is not a
/// reference is replaced as a whole, since it may be a literal password.
///
/// This works on text, not on a parsed reference, because it must also protect references
/// that failed to parse. Names start after `?`, `&`, `;` or `#`, since a malformed reference
/// may put options after any of them, and run to the `=` (so `token;x=` is one name, as the
/// parser reads it); a value runs to the next `&` or to the closing brace, so a `#`, `?` or
/// `}` inside a token is hidden with the rest of it.
pub(crate) fn scrub(raw: &str) -> Cow<'_, str> {
    if !is_reference(raw) {
        return Cow::Borrowed("[REDACTED]");
    }
    let body_end = raw.len() - 1;
    let bytes = raw.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    // `{vault://user:password@env/x}`: whatever precedes an `@` in the vault name.
    let authority_end = raw[PREFIX.len()..body_end]
        .find(['/', '?', '#'])
        .map_or(body_end, |i| i + PREFIX.len());
    if let Some(at) = raw[PREFIX.len()..authority_end].rfind('@') {
        out.push_str(PREFIX);
        out.push_str("***");
        copied = PREFIX.len() + at;
    }
    // Options may sit anywhere after the vault name's start in a malformed reference
    // (`{vault://hcv?token=x/y}`), so they are looked for from there.
    let from = copied.max(PREFIX.len());
    let Some(first) = raw[from..body_end]
        .find(['?', '&', ';', '#'])
        .map(|i| i + from)
    else {
        return finish(raw, out, copied);
    };
    let mut i = first;
    while i < body_end {
        if matches!(bytes[i], b'?' | b'&' | b';' | b'#') {
            let name_start = i + 1;
            let name_len = raw[name_start..body_end]
                .find(['=', '&'])
                .unwrap_or(body_end - name_start);
            let name_end = name_start + name_len;
            if bytes.get(name_end) == Some(&b'=')
                && is_sensitive_raw_name(&raw[name_start..name_end])
            {
                let value_start = name_end + 1;
                let value_end = raw[value_start..body_end]
                    .find('&')
                    .map_or(body_end, |n| value_start + n);
                out.push_str(&raw[copied..value_start]);
                out.push_str("***");
                copied = value_end;
                i = value_end;
                continue;
            }
        }
        i += 1;
    }
    finish(raw, out, copied)
}

fn finish(raw: &str, mut out: String, copied: usize) -> Cow<'_, str> {
    if copied == 0 {
        return Cow::Borrowed(raw);
    }
    out.push_str(&raw[copied..]);
    Cow::Owned(out)
}

/// How a text that looks like a reference misses the grammar; see [`near_miss`].
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
struct Parts {
    vault: Text,
    resource: Text,
    key: Option<Text>,
    version: Option<u32>,
    config: Vec<(Box<str>, Box<str>)>,
}

fn span(raw: &str, part: &str) -> Text {
    let start = part.as_ptr() as usize - raw.as_ptr() as usize;
    Text::Span(start as u32, (start + part.len()) as u32)
}

fn parse_parts(raw: &str) -> Result<Parts, ReferenceProblem> {
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
            segments.pop().map(|k| Text::Owned(k.into()))
        } else {
            None
        };
        (Text::Owned(segments.join("/").into()), key)
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

    Ok(Parts {
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
fn decode_query(s: &str) -> Option<Cow<'_, str>> {
    percent_decode(s, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn problem(s: &str) -> ReferenceProblem {
        Reference::parse(s).expect_err(s).problem
    }

    // Kong's spec/01-unit/23-vaults_spec.lua, `is_reference`.
    #[test]
    fn is_reference_vectors() {
        for s in [
            "{vault://x/x}",
            "{vault://x/xx}",
            "{vault://xx/xx-x}",
            "{vault://xxx/xx-x}",
            "{vault://;/xx-x}",
        ] {
            assert!(is_reference(s), "{s}");
        }
        for s in [
            "vault:/xx-x}",
            "{vault:/xx-x",
            "vault:/xx-x",
            "{valut:/xx-x}",
            "{vault:/xx-x}",
        ] {
            assert!(!is_reference(s), "{s}");
        }
    }

    #[test]
    fn is_reference_edges() {
        assert!(is_reference("{vault://}"));
        assert!(is_reference("{vault://a b/c d}"));
        assert!(!is_reference("{VAULT://env/x}"));
        assert!(!is_reference("{vault://env/x} "));
        assert!(!is_reference(""));
        assert!(!is_reference("{vault://"));
    }

    // Kong's spec/01-unit/23-vaults_spec.lua, `parse_reference`.
    #[test]
    fn parse_vectors() {
        let r = ok("{vault://env/test}");
        assert_eq!(
            (r.vault(), r.resource(), r.key(), r.version()),
            ("env", "test", None, None)
        );
        assert_eq!(r.options().len(), 0);

        assert_eq!(problem("{vault://env}"), ReferenceProblem::MissingPath);
        assert_eq!(problem("{vault://env/}"), ReferenceProblem::EmptyPath);
        assert_eq!(problem("{vault://env/////}"), ReferenceProblem::InvalidPath);

        let r = ok("{vault://env/test-secret/test-key}");
        assert_eq!((r.resource(), r.key()), ("test-secret", Some("test-key")));

        let r = ok("{vault://env/test%3Asecret/test%3Akey}");
        assert_eq!((r.resource(), r.key()), ("test:secret", Some("test:key")));

        let r = ok("{vault://env//////test-secret//////test-key}");
        assert_eq!((r.resource(), r.key()), ("test-secret", Some("test-key")));

        let r = ok("{vault://env/test-secret/test-key/}");
        assert_eq!((r.resource(), r.key()), ("test-secret/test-key", None));

        let r = ok("{vault://env//////test-secret//////test-key//////}");
        assert_eq!((r.resource(), r.key()), ("test-secret/test-key", None));

        let r = ok("{vault://env/test?opt1=val1}");
        assert_eq!((r.resource(), r.config("opt1")), ("test", Some("val1")));
        assert_eq!(r.options().len(), 1);

        let r = ok("{vault://env/test?opt1=val1&opt2=val2}");
        assert_eq!(
            r.options().collect::<Vec<_>>(),
            [("opt1", "val1"), ("opt2", "val2")]
        );

        let r = ok("{vault://env/test#1}");
        assert_eq!((r.resource(), r.version()), ("test", Some(1)));

        let r = ok("{vault://env/cert/key?prefix=SSL_#1}");
        assert_eq!(
            (
                r.vault(),
                r.resource(),
                r.key(),
                r.config("prefix"),
                r.version()
            ),
            ("env", "cert", Some("key"), Some("SSL_"), Some(1))
        );
    }

    #[test]
    fn kong_error_cases() {
        // `{vault://env?x=1}`: the whole `env?x=1` is the authority, so there is no path.
        assert_eq!(problem("{vault://env?x=1}"), ReferenceProblem::MissingPath);
        assert_eq!(problem("{vault:///x}"), ReferenceProblem::MissingVault);
        assert_eq!(problem("{vault://}"), ReferenceProblem::MissingVault);
        assert_eq!(
            problem("{vault://env/x#}"),
            ReferenceProblem::InvalidVersion
        );
        assert_eq!(
            problem("{vault://env/x#1.5}"),
            ReferenceProblem::InvalidVersion
        );
        assert_eq!(
            problem("{vault://env/x#-1}"),
            ReferenceProblem::InvalidVersion
        );
        // The fragment is cut first, so options after `#` belong to the version.
        assert_eq!(
            problem("{vault://env/x#1?prefix=a}"),
            ReferenceProblem::InvalidVersion
        );
        assert_eq!(problem("not a reference"), ReferenceProblem::NotAReference);
    }

    #[test]
    fn stricter_than_kong() {
        assert_eq!(problem("{vault://env/a;b}"), ReferenceProblem::Semicolon);
        assert_eq!(
            problem("{vault://u@env/a}"),
            ReferenceProblem::InvalidVaultName
        );
        assert_eq!(
            problem("{vault://env:80/a}"),
            ReferenceProblem::InvalidVaultName
        );
        assert_eq!(
            problem("{vault://;/xx-x}"),
            ReferenceProblem::InvalidVaultName
        );
        assert_eq!(
            problem("{vault://env/a?x=1&x=2}"),
            ReferenceProblem::DuplicateOption("x".into())
        );
        assert_eq!(
            problem("{vault://env/a?=1}"),
            ReferenceProblem::EmptyOptionName
        );
        assert_eq!(problem("{vault://env/%FF}"), ReferenceProblem::InvalidUtf8);
    }

    #[test]
    fn decoding() {
        // Kong's documented `%2F` escape for a `/` inside a resource.
        let r = ok("{vault://aws/%2Fsecret/key}");
        assert_eq!((r.resource(), r.key()), ("/secret", Some("key")));
        let r = ok("{vault://aws/secret/path/%2Faaa/key}");
        assert_eq!((r.resource(), r.key()), ("secret/path//aaa", Some("key")));
        // Decoded once: `+` stays `+`, `%252B` is `%2B`.
        assert_eq!(ok("{vault://aws/a+b}").resource(), "a+b");
        assert_eq!(ok("{vault://aws/a%252Bb}").resource(), "a%2Bb");
        // Invalid escapes are kept.
        assert_eq!(ok("{vault://aws/100%/x%zz}").resource(), "100%");
        assert_eq!(ok("{vault://aws/100%/x%zz}").key(), Some("x%zz"));
        // Query options decode `+` as a space, as ngx.decode_args does.
        let r = ok("{vault://env/a?prefix=a+b%41&flag}");
        assert_eq!(r.config("prefix"), Some("a bA"));
        assert_eq!(r.config("flag"), Some("true"));
        assert_eq!(r.config("missing"), None);
        // An empty query gives no options.
        assert_eq!(ok("{vault://env/a?}").options().len(), 0);
        // Inner whitespace is allowed and kept.
        assert_eq!(ok("{vault://env/a b}").resource(), "a b");
        // Version whitespace, as Lua's tonumber.
        assert_eq!(ok("{vault://env/a# 2 }").version(), Some(2));
    }

    #[test]
    fn round_trip() {
        for s in [
            "{vault://env/test}",
            "{vault://env/cert/key?prefix=SSL_#1}",
            "{vault://aws/%2Fsecret/key}",
            "{vault://env//////test-secret//////test-key//////}",
        ] {
            let r: Reference = s.parse().unwrap();
            assert_eq!(r.to_string(), s);
            assert_eq!(r.to_string().parse::<Reference>().unwrap(), r);
        }
    }

    #[test]
    fn scrubbing() {
        assert_eq!(
            scrub("{vault://hcv/a?token=s.123&prefix=kv&approle_secret_id=xyz#2}"),
            // The last credential runs to the closing brace: a `#` may be part of it.
            "{vault://hcv/a?token=***&prefix=kv&approle_secret_id=***}"
        );
        assert_eq!(scrub("{vault://env/a}"), "{vault://env/a}");
        // Malformed references are scrubbed too.
        assert_eq!(
            scrub("{vault://hcv#x?token=abc}"),
            "{vault://hcv#x?token=***}"
        );
        let err = Reference::parse("{vault://hcv?token=s.leak}").unwrap_err();
        assert!(!err.to_string().contains("s.leak"), "{err}");
        let r = ok("{vault://hcv/a/b?TOKEN=s.leak}");
        assert!(!format!("{r:?}").contains("s.leak"));
    }

    #[test]
    fn not_a_reference_is_not_quoted() {
        let err = Reference::parse("hunter2-canary").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert_eq!(err.reference(), None);
    }
}
