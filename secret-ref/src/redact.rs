//! The redaction policy: which option values may be shown, and how any text that is or
//! looks like a reference is shown without its credentials. Every message, `Debug` output,
//! audit event and CLI line that quotes a reference goes through [`scrub`].

use std::borrow::Cow;
use std::fmt;

use crate::reference::{PREFIX, decode_query, is_reference};

/// A reference text with credential option values scrubbed; see [`Reference::redacted`](crate::Reference::redacted).
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
pub struct Redacted<'a>(&'a str);

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
