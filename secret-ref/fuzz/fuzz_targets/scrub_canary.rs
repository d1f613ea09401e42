//! A credential placed in a credential option of a random reference never shows in any
//! error's `Display` or `Debug`, nor in `Reference`'s `Debug`, `redacted()` or `Redacted`.
//!
//! The input is structured (derived `Arbitrary`): a vault name, a resource path, an optional
//! key and `#version`, options around one *canary option*, and an optional malformation. The
//! canary option's name is always credential-like as the documentation defines it (checked
//! below by an independent oracle, so a leak is never excused by the name), and its value
//! holds the canary `Q7C4N4RYZ`, possibly percent-encoded and surrounded by junk (`#`, `?`,
//! `}`, `;`, `%`, `=`, never `&`).
//!
//! No other generated text contains the byte `7`, and `7` is only ever written by this file
//! inside the canary (and the values the test vaults return): so the canary can only reach
//! an output through the canary option, however the rest is percent-decoded or upper-cased.
//!
//! Outputs checked, for two resolvers (the default, and one that lets references set every
//! option class): `Reference::parse` (`Debug`, `redacted()`, or the error's `Display` and
//! `Debug`), `Resolver::get` (the error's `Display`, `Debug`, `{:#?}`, its source chain and
//! every failure's `Display`, `Debug`, `reference()` and `message()`; on success the
//! secret's `Debug`), and `Redacted::new(text)`.
//!
//! It found two leaks, both fixed and still generated:
//!
//! - a raw `;` or `?` between the credential word and the `=` (`?token;x=..`, `?token?=..`):
//!   the parser read one option named `token;x`, the scrubber two names; names now run to
//!   the `=` in the scrubber too;
//! - the canary option joined to the option before it by `;` (`?prefix=a;token=..`): the
//!   parser read it as part of `prefix`'s value, which the `env` vault quoted in its error;
//!   a `;` in a query is now refused, as in a path.
#![no_main]

use std::cell::Cell;
use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use secret_ref::vault::env::EnvVault;
use secret_ref::vault::{OptionClass, Request, Vault, VaultOption};
use secret_ref::zeroize::Zeroizing;
use secret_ref::{ErrorKind, Redacted, Reference, Resolver, VaultError};

/// The credential. Nothing else generated holds a `7`.
const CANARY: &str = "Q7C4N4RYZ";
/// Inside every value the test vaults return: a secret value must not show in errors either.
const VALUE_MARK: &str = "V7L4U3X";

/// Words that make an option name a credential (the crate's documented list).
const GENERIC: &[&str] = &[
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
    "roleid",
];

/// The canary vault's credential options: names the generic list does not cover.
const DECLARED: &[&str] = &["zebra", "sigil", "mango-pin"];

const CANARY_OPTIONS: &[VaultOption] = &[
    VaultOption::credential("zebra"),
    VaultOption::credential("sigil"),
    VaultOption::credential("mango-pin"),
    VaultOption::selector("flavour"),
    VaultOption::destination("host"),
];

thread_local! {
    /// What the canary vault answers in this run.
    static ANSWER: Cell<Answer> = const { Cell::new(Answer::NotFound) };
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Answer {
    NotFound,
    PermissionDenied,
    Unreachable,
    BadResponse,
    InvalidConfig,
    /// `{"user":"app","password":"<mark>"}`
    Object,
    /// The mark as plain text (not JSON).
    Plain,
    /// A truncated JSON object.
    Truncated,
    /// `{"password":null}`
    Null,
}

/// A test vault with credential options of its own names.
struct CanaryVault;

impl Vault for CanaryVault {
    fn options(&self) -> &'static [VaultOption] {
        CANARY_OPTIONS
    }

    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        // Messages name the resource, as a backend's do (never an option's value).
        let what = format!("secret `{}`", request.resource());
        let text = match ANSWER.with(Cell::get) {
            Answer::NotFound => return Err(VaultError::not_found(format!("{what} not found"))),
            Answer::PermissionDenied => {
                return Err(VaultError::permission_denied(format!("{what}: denied")));
            }
            Answer::Unreachable => return Err(VaultError::unreachable("connection refused")),
            Answer::BadResponse => {
                return Err(VaultError::bad_response(format!("{what}: status 500")));
            }
            Answer::InvalidConfig => {
                return Err(VaultError::new(ErrorKind::InvalidConfig, "flavour unknown"));
            }
            Answer::Object => format!(r#"{{"user":"app","password":"{VALUE_MARK}"}}"#),
            Answer::Plain => VALUE_MARK.to_owned(),
            Answer::Truncated => format!(r#"{{"user":"app","password":"{VALUE_MARK}"#),
            Answer::Null => r#"{"password":null}"#.to_owned(),
        };
        Ok(Zeroizing::new(text))
    }

    fn is_remote(&self) -> bool {
        false
    }
}

/// The default resolver and a permissive one (every option class allowed in references).
/// Built before anything is parsed: building registers the declared credential names.
fn resolvers() -> &'static [Resolver; 2] {
    static RESOLVERS: OnceLock<[Resolver; 2]> = OnceLock::new();
    RESOLVERS.get_or_init(|| {
        let build = |permissive: bool| {
            let env = EnvVault::from_vars([
                (
                    "DB",
                    format!(r#"{{"user":"app","password":"{VALUE_MARK}"}}"#),
                ),
                ("DB_PREVIOUS", format!(r#"{{"password":"{VALUE_MARK}"#)),
                ("PG_PASSWORD", VALUE_MARK.to_owned()),
                (
                    "APP_DB",
                    format!(r#"{{"password":null,"x":"{VALUE_MARK}"}}"#),
                ),
                ("CERT", "not json".to_owned()),
            ]);
            let mut builder = Resolver::builder()
                .vault("env", env)
                .vault("canary", CanaryVault)
                .concurrency(1);
            if permissive {
                builder = builder.allow_in_references(OptionClass::ALL);
            }
            builder.build().expect("the test resolvers are valid")
        };
        [build(false), build(true)]
    })
}

// ---------------------------------------------------------------------------------------
// The input.

#[derive(Arbitrary, Debug)]
struct Input {
    vault: VaultPick,
    segments: Vec<Segment>,
    key: Option<Segment>,
    trailing_slash: bool,
    version: Option<Version>,
    before: Vec<Opt>,
    canary: CanaryOpt,
    after: Vec<Opt>,
    malformation: Option<Malformation>,
    answer: Answer,
}

#[derive(Arbitrary, Debug)]
enum VaultPick {
    Canary,
    Env,
    Unknown,
    /// `Canary`: a case that names no vault.
    CanaryCased,
}

#[derive(Arbitrary, Debug)]
enum Segment {
    Word(u8),
    PercentSlash,
    DotDot,
    Unicode(u8),
    Empty,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Version {
    Number(u16),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Opt {
    name: OptName,
    /// `None`: a bare flag (`?name`).
    value: Option<OptValue>,
}

#[derive(Arbitrary, Debug)]
enum OptName {
    Known(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum OptValue {
    Number(u32),
    Word(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct CanaryOpt {
    name: CanaryName,
    /// How the option is introduced (when it is not the first, or is moved by a
    /// malformation).
    delimiter: Delimiter,
    /// The value: the canary and junk around it.
    value: Vec<ValuePart>,
    /// Which characters of the canary are percent-encoded (bit per character).
    canary_encoding: u16,
    lower_hex: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Delimiter {
    Ampersand,
    Semicolon,
}

#[derive(Arbitrary, Debug)]
enum CanaryName {
    /// A generic credential word, dressed up.
    Generic {
        word: u8,
        prefix: Affix,
        suffix: Affix,
        spelling: Spelling,
    },
    /// A name the canary vault declared as a credential (matched whole).
    Declared { which: u8, spelling: Spelling },
    /// A generic word, then a raw `;` or `?`, then more, then `=`: the parser reads
    /// `token;x` as one option name.
    Split {
        word: u8,
        question: bool,
        tail: Affix,
        spelling: Spelling,
    },
}

/// How a name is written: case, separators, encoding.
#[derive(Arbitrary, Debug)]
struct Spelling {
    /// Bit `i`: character `i` upper-case.
    upper: u64,
    /// Separators inserted at (position, kind).
    separators: Vec<(u8, Separator)>,
    /// Bit `i`: character `i` (after separators) percent-encoded.
    encoded: u64,
    lower_hex: bool,
    /// How a space is written when it is not percent-encoded: `+` or as is.
    plus: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Separator {
    Dash,
    Underscore,
    Dot,
    Space,
}

#[derive(Arbitrary, Debug)]
enum Affix {
    None,
    Fixed(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum ValuePart {
    Canary,
    Junk(String),
    Hash,
    Question,
    Brace,
    Semicolon,
    Percent,
    Equals,
    Plus,
    EncodedAmpersand,
    Slash,
    Version,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Malformation {
    DropClosingBrace,
    UppercaseScheme,
    SingleSlash,
    NoOpeningBrace,
    Whitespace,
    Embedded,
    DuplicateCanary,
    /// `{vault://env?token=..}`, and with `keep_path`, `{vault://env?token=../path}`.
    QueryInVaultName {
        keep_path: bool,
    },
    /// `{vault://env/path#2?token=..}`
    QueryAfterHash {
        with_version: bool,
    },
    /// `{vault://env/pa;th?token=..}`
    SemicolonInPath,
}

// ---------------------------------------------------------------------------------------
// Building the text.

const SEGMENT_WORDS: &[&str] = &["db", "pg-password", "cert", "a b", "DB", "app", "x+y"];
const UNICODE: &[&str] = &["ключ", "秘密", "🔑", "é", "\u{212A}ey", "İ", "\u{0}"];
const OPTION_NAMES: &[&str] = &[
    "prefix",
    "flavour",
    "ttl",
    "neg_ttl",
    "resurrect_ttl",
    "host",
    "mount",
    "zebra",
    "token",
];
const OPTION_WORDS: &[&str] = &["APP_", "kv", "1.5", "-1", "1e300", "http://x", "a b", ""];
const AFFIXES: &[&str] = &[
    "x-", "api_", "client.", "my", "_id", "-file", "s", "2", "X_", "_", "Approle_", "vault-",
];

/// Junk for anything but the canary's value: no `7` (see the module docs).
fn junk(s: &str) -> String {
    s.chars().filter(|&c| c != '7').take(24).collect()
}

/// Junk inside a name: no `7`, no delimiter or escape that would change where the name ends
/// or how it decodes (`=`, `&`, `?`, `;`, `#`, `%`, `+`).
fn name_junk(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '7' | '=' | '&' | '?' | ';' | '#' | '%' | '+'))
        .take(8)
        .collect()
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[i as usize % list.len()]
}

fn number(n: u64) -> String {
    n.to_string().replace('7', "8")
}

fn percent(out: &mut String, c: char, lower: bool) {
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn affix(a: &Affix) -> String {
    match a {
        Affix::None => String::new(),
        Affix::Fixed(i) => pick(AFFIXES, *i).to_owned(),
        Affix::Raw(s) => name_junk(s),
    }
}

/// Writes a name's characters with the spelling's case, separators and encoding.
fn spell(core: &str, prefix: &str, suffix: &str, s: &Spelling) -> String {
    let mut chars: Vec<char> = core
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i < 64 && s.upper >> i & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    // Separators go inside the word (after the case is set), at most a few.
    for &(at, sep) in s.separators.iter().take(4) {
        let at = at as usize % (chars.len() + 1);
        let c = match sep {
            Separator::Dash => '-',
            Separator::Underscore => '_',
            Separator::Dot => '.',
            Separator::Space => ' ',
        };
        chars.insert(at, c);
    }
    let whole: Vec<char> = prefix.chars().chain(chars).chain(suffix.chars()).collect();
    let mut out = String::new();
    for (i, c) in whole.into_iter().enumerate() {
        if i < 64 && s.encoded >> i & 1 == 1 {
            percent(&mut out, c, s.lower_hex);
        } else if c == ' ' && s.plus {
            out.push('+');
        } else {
            out.push(c);
        }
    }
    out
}

impl CanaryName {
    /// The name as written in the reference (up to its `=`).
    fn write(&self) -> String {
        match self {
            CanaryName::Generic {
                word,
                prefix,
                suffix,
                spelling,
            } => spell(
                pick(GENERIC, *word),
                &affix(prefix),
                &affix(suffix),
                spelling,
            ),
            CanaryName::Declared { which, spelling } => {
                // Declared names are matched whole: no affixes. Their own `-` may go.
                let name = pick(DECLARED, *which);
                let core: String = if spelling.upper & 1 << 63 != 0 {
                    name.replace('-', "")
                } else {
                    name.to_owned()
                };
                spell(&core, "", "", spelling)
            }
            CanaryName::Split {
                word,
                question,
                tail,
                spelling,
            } => {
                let head = spell(pick(GENERIC, *word), "", "", spelling);
                let delim = if *question { '?' } else { ';' };
                format!("{head}{delim}{}", affix(tail))
            }
        }
    }
}

/// The canary as written (encoded per the mask) and the value around it.
fn write_value(c: &CanaryOpt) -> (String, String) {
    let mut canary = String::new();
    for (i, ch) in CANARY.chars().enumerate() {
        if c.canary_encoding >> i & 1 == 1 {
            percent(&mut canary, ch, c.lower_hex);
        } else {
            canary.push(ch);
        }
    }
    let mut value = String::new();
    let mut has_canary = false;
    for part in c.value.iter().take(8) {
        match part {
            ValuePart::Canary => {
                value.push_str(&canary);
                has_canary = true;
            }
            // A value ends at the first raw `&`: the junk has none.
            ValuePart::Junk(s) => value.extend(s.chars().filter(|&c| c != '&').take(16)),
            ValuePart::Hash => value.push('#'),
            ValuePart::Question => value.push('?'),
            ValuePart::Brace => value.push('}'),
            ValuePart::Semicolon => value.push(';'),
            ValuePart::Percent => value.push('%'),
            ValuePart::Equals => value.push('='),
            ValuePart::Plus => value.push('+'),
            ValuePart::EncodedAmpersand => value.push_str("%26"),
            ValuePart::Slash => value.push('/'),
            ValuePart::Version => value.push_str("#2"),
        }
    }
    if !has_canary {
        value.insert_str(0, &canary);
    }
    (canary, value)
}

fn write_segment(s: &Segment) -> String {
    match s {
        Segment::Word(i) => pick(SEGMENT_WORDS, *i).to_owned(),
        Segment::PercentSlash => "%2F".to_owned(),
        Segment::DotDot => "..".to_owned(),
        Segment::Unicode(i) => pick(UNICODE, *i).to_owned(),
        Segment::Empty => String::new(),
        Segment::Raw(s) => junk(s),
    }
}

fn write_opt(o: &Opt) -> String {
    let mut s = match &o.name {
        OptName::Known(i) => pick(OPTION_NAMES, *i).to_owned(),
        OptName::Raw(s) => junk(s),
    };
    if let Some(v) = &o.value {
        s.push('=');
        match v {
            OptValue::Number(n) => s.push_str(&number(u64::from(*n))),
            OptValue::Word(i) => s.push_str(pick(OPTION_WORDS, *i)),
            OptValue::Raw(r) => s.push_str(&junk(r)),
        }
    }
    s
}

/// What the generator produced.
struct Built {
    text: String,
    /// The canary option's name as written.
    name: String,
    /// The canary as written in the value.
    canary_written: String,
}

impl Input {
    fn build(&self) -> Built {
        let name = self.canary.name.write();
        let (canary_written, value) = write_value(&self.canary);
        let canary_opt = format!("{name}={value}");
        let canary_delim = match self.canary.delimiter {
            Delimiter::Ampersand => '&',
            Delimiter::Semicolon => ';',
        };

        // The options: `?a=1&b=2` with the canary among them.
        let mut query = String::new();
        let mut first = true;
        for o in self.before.iter().take(4) {
            query.push(if first { '?' } else { '&' });
            query.push_str(&write_opt(o));
            first = false;
        }
        query.push(if first { '?' } else { canary_delim });
        query.push_str(&canary_opt);
        if matches!(self.malformation, Some(Malformation::DuplicateCanary)) {
            query.push('&');
            query.push_str(&canary_opt);
        }
        for o in self.after.iter().take(4) {
            query.push('&');
            query.push_str(&write_opt(o));
        }

        let mut path = String::new();
        for (i, seg) in self.segments.iter().take(4).enumerate() {
            path.push('/');
            path.push_str(&write_segment(seg));
            if i == 0 && matches!(self.malformation, Some(Malformation::SemicolonInPath)) {
                path.push_str(";x");
            }
        }
        if path.is_empty() {
            path.push_str("/db");
        }
        if let Some(k) = &self.key {
            path.push('/');
            path.push_str(&write_segment(k));
        }
        if self.trailing_slash {
            path.push('/');
        }
        let version = self.version.as_ref().map(|v| match v {
            Version::Number(n) => number(u64::from(*n)),
            Version::Raw(s) => junk(s),
        });

        let vault = match self.vault {
            VaultPick::Canary => "canary",
            VaultPick::Env => "env",
            VaultPick::Unknown => "nope",
            VaultPick::CanaryCased => "Canary",
        };
        let scheme = match self.malformation {
            Some(Malformation::UppercaseScheme) => "{VAULT://",
            Some(Malformation::SingleSlash) => "{vault:/",
            Some(Malformation::NoOpeningBrace) => "vault://",
            _ => "{vault://",
        };
        let mut text = String::from(scheme);
        text.push_str(vault);
        match self.malformation {
            Some(Malformation::QueryInVaultName { keep_path }) => {
                text.push_str(&query);
                if keep_path {
                    text.push_str(&path);
                }
            }
            Some(Malformation::QueryAfterHash { with_version }) => {
                text.push_str(&path);
                text.push('#');
                if with_version {
                    text.push_str(version.as_deref().unwrap_or("2"));
                }
                text.push_str(&query);
            }
            _ => {
                text.push_str(&path);
                text.push_str(&query);
                if let Some(v) = &version {
                    text.push('#');
                    text.push_str(v);
                }
            }
        }
        if !matches!(self.malformation, Some(Malformation::DropClosingBrace)) {
            text.push('}');
        }
        match self.malformation {
            Some(Malformation::Whitespace) => text = format!(" {text}\n"),
            Some(Malformation::Embedded) => text = format!("Bearer {text}"),
            _ => {}
        }
        Built {
            text,
            name,
            canary_written,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The oracle: the documented rule, written independently of the crate.

/// Query decoding: `%XX` (invalid escapes kept) and `+` as a space. `None`: not UTF-8.
fn decode_query(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether an option named `raw` (as written, up to its `=`) is a credential by the
/// documented rule.
fn credential_like(raw: &str) -> bool {
    let Some(name) = decode_query(raw) else {
        return true;
    };
    let n = normalized(&name);
    GENERIC.iter().any(|w| n.contains(w)) || DECLARED.iter().any(|d| normalized(d) == n)
}

// ---------------------------------------------------------------------------------------

struct Checker<'a> {
    text: &'a str,
    name: &'a str,
    needles: Vec<String>,
}

impl Checker<'_> {
    fn check(&self, what: &str, out: &str) {
        let lower = out.to_lowercase();
        for needle in &self.needles {
            assert!(
                !lower.contains(needle.as_str()),
                "LEAK in {what}: {out:?}\n  reference: {:?}\n  canary option name: {:?}",
                self.text,
                self.name,
            );
        }
    }

    fn check_error_chain(&self, what: &str, mut e: Option<&(dyn std::error::Error + 'static)>) {
        let mut depth = 0;
        while let Some(err) = e {
            self.check(what, &err.to_string());
            e = err.source();
            depth += 1;
            if depth > 8 {
                break;
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let resolvers = resolvers();
    let built = input.build();
    let text = built.text.as_str();
    // The generator's invariant: the canary option's name is a credential's.
    assert!(
        credential_like(&built.name),
        "generator bug: {:?} is not a credential name",
        built.name
    );
    let mut needles = vec![CANARY.to_lowercase(), VALUE_MARK.to_lowercase()];
    if built.canary_written != CANARY {
        needles.push(built.canary_written.to_lowercase());
    }
    let checker = Checker {
        text,
        name: &built.name,
        needles,
    };
    let check = |what: &str, out: &str| checker.check(what, out);

    match Reference::parse(text) {
        Ok(r) => {
            check("Reference Debug", &format!("{r:?}"));
            check("Reference::redacted Display", &r.redacted().to_string());
            check("Reference::redacted Debug", &format!("{:?}", r.redacted()));
        }
        Err(e) => {
            check("ReferenceError Display", &e.to_string());
            check("ReferenceError Debug", &format!("{e:?}"));
            check("ReferenceError::reference", e.reference().unwrap_or(""));
        }
    }

    ANSWER.with(|a| a.set(input.answer));
    for (i, resolver) in resolvers.iter().enumerate() {
        let which = if i == 0 { "default" } else { "permissive" };
        match resolver.get(text) {
            Ok(secret) => check(which, &format!("{secret:?}")),
            Err(err) => {
                check(which, &err.to_string());
                check(which, &format!("{err:?}"));
                check(which, &format!("{err:#?}"));
                checker.check_error_chain(which, Some(&err));
                for f in err.failures() {
                    check(which, &f.to_string());
                    check(which, &format!("{f:?}"));
                    check(which, &format!("{f:#?}"));
                    check(which, f.reference().unwrap_or(""));
                    check(which, f.message());
                    check(which, f.vault().unwrap_or(""));
                    checker.check_error_chain(which, Some(f));
                }
            }
        }
        resolver.clear_cache();
    }

    check("Redacted Display", &Redacted::new(text).to_string());
    check("Redacted Debug", &format!("{:?}", Redacted::new(text)));
});
