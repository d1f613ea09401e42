//! The `ResolveSecrets` trait: how a configuration type shows the resolver where its secrets
//! are, and which secret paths it has (known at compile time).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::{self, Write as _};
use std::hash::BuildHasher;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::Resolver;
use crate::error::{Error, ErrorKind, Failure};
use crate::live::{Live, LiveSink};
use crate::reference::{is_reference, near_miss};
use crate::secret::Secret;
use crate::secret_value::SecretValue;
use crate::slot::SecretSlot;

/// A type whose secrets can be resolved in one call, with every failure reported with its
/// field path. Derive it with `#[derive(ResolveSecrets)]`.
///
/// The trait is derive-only: the walk the derive generates (and `SHAPE`, which
/// [`secret_paths`] reads) goes through hidden items that are not a stable API, so write no
/// `impl ResolveSecrets` by hand. A type of your own that holds no secret opts out once, at the
/// type, with `#[derive(ResolveSecrets)] #[secret(plain)]`; the std and serde_json types below
/// already have their impls.
///
/// The derive walks every field: `Secret<T>` fields resolve; `Option`, `Box`, `Vec`, arrays,
/// `VecDeque`, `LinkedList` and the values of `HashMap` and `BTreeMap` are walked into;
/// nested types that derive `ResolveSecrets` are walked into. Plain types need no attribute:
/// numbers, `bool`, `char`, strings, `Duration`, `PathBuf`, IP and socket addresses,
/// `NonZero*`, `serde_json::Value`, and `HashSet`/`BTreeSet` of these. A reference in their
/// text is reported (it would otherwise be used as a literal password): in a `String`, a
/// path, a set's element, or any string inside a `serde_json::Value`. Mark a field
/// `#[secret(skip)]` to leave it alone. `#[serde(rename)]`, `#[serde(rename_all)]` and
/// `#[serde(flatten)]` are honoured in field paths, so a path names the key written in the
/// file.
///
/// Field attributes:
/// - `#[secret(skip)]`: not walked (its type need not implement `ResolveSecrets`).
/// - `#[secret(reference_only)]`: a literal value here is an error, so a password can only
///   come from a vault.
///
/// Container attributes:
/// - `#[secret(plain)]`: the type holds no secret. Its fields are not walked (their types
///   need no `ResolveSecrets`, and text in them is not checked), and it can be an element of
///   a set. Mark a type of your own once, here, instead of each field that holds it.
/// - `#[secret(bound = "T: MyTrait")]` replaces the inferred where-clause.
///
/// ```
/// use std::collections::HashSet;
/// use secret_ref::{ResolveSecrets, Secret, secret_paths};
///
/// #[derive(PartialEq, Eq, Hash, ResolveSecrets)]
/// #[secret(plain)]
/// enum Level { Debug, Info }
///
/// #[derive(ResolveSecrets)]
/// struct Service {
///     level: Level,
///     levels: HashSet<Level>,
///     extra: serde_json::Value,
///     token: Secret<String>,
/// }
///
/// assert_eq!(secret_paths::<Service>(), ["token"]);
/// ```
///
/// ```
/// use std::collections::HashMap;
/// use secret_ref::{ErrorKind, Resolver, ResolveSecrets, Secret, secret_paths};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, ResolveSecrets)]
/// struct Replica {
///     host: String,
///     #[secret(reference_only)]
///     password: Secret<String>,
/// }
///
/// #[derive(Deserialize, ResolveSecrets)]
/// struct Config {
///     replicas: Vec<Replica>,
///     tokens: HashMap<String, Secret<String>>,
///     #[secret(skip)]
///     banner: String,
/// }
///
/// assert_eq!(secret_paths::<Config>(), ["replicas[].password", "tokens.*"]);
///
/// let mut config: Config = serde_json::from_str(r#"{
///     "replicas": [
///         {"host": "a", "password": "{vault://env/doc-replica-a}"},
///         {"host": "b", "password": "literal"}
///     ],
///     "tokens": {"ci": "{vault://env}"},
///     "banner": "{vault://not-resolved/just-text}"
/// }"#)?;
/// # let resolver = secret_ref::Resolver::builder().vault("env", secret_ref::vault::env::EnvVault::from_vars([("DOC_REPLICA_A", "pw")])).build()?;
/// let err = config.resolve_secrets(&resolver).unwrap_err();
/// let failures: Vec<_> = err.failures().iter().map(|f| (f.path().unwrap(), f.kind())).collect();
/// assert_eq!(failures, [
///     ("replicas[1].password", ErrorKind::LiteralNotAllowed),
///     ("tokens.ci", ErrorKind::InvalidReference),
/// ]);
/// // What could be resolved was resolved.
/// assert_eq!(config.replicas[0].password.expose_secret(), "pw");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `ResolveSecrets`",
    label = "this field's type has no `ResolveSecrets` impl",
    note = "add `#[derive(ResolveSecrets)]` to `{Self}` (with `#[secret(plain)]` if it holds no secret), or mark the field `#[secret(skip)]`"
)]
pub trait ResolveSecrets {
    /// The static description of where this type keeps its secrets; see [`secret_paths`].
    const SHAPE: Shape;

    /// Resolves every unresolved secret in `self`, reporting all failures at once. Secrets
    /// that resolve are filled in even when others fail.
    fn resolve_secrets(&mut self, resolver: &Resolver) -> Result<(), Error> {
        resolver.resolve(self)
    }

    /// [`resolve_secrets`](Self::resolve_secrets) for async code: the future never blocks
    /// the executor that polls it. References are collected when it is first polled, fetched
    /// on the resolver's own threads, and applied to `self` when it completes; no async
    /// runtime is required. See [`Resolving`](crate::Resolving).
    ///
    /// Use it wherever a blocking call would stall other tasks: in a request handler, or at
    /// start-up on a `current_thread` runtime. The blocking `resolve_secrets` is for plain
    /// threads (and `spawn_blocking`); [`Resolver::scope`], which resolves during
    /// deserialization, is blocking too.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Wake, Waker};
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl Wake for Unpark { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
    /// #     let mut f = std::pin::pin!(f);
    /// #     let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    /// #     loop {
    /// #         if let Poll::Ready(out) = f.as_mut().poll(&mut Context::from_waker(&waker)) { return out }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// use secret_ref::{ErrorKind, Resolver, ResolveSecrets, Secret};
    /// use secret_ref::vault::env::EnvVault;
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize, ResolveSecrets)]
    /// struct Pg { user: String, password: Secret<String>, port: Secret<u16> }
    ///
    /// let resolver = Resolver::builder()
    ///     .vault("env", EnvVault::from_vars([("PG_PASSWORD", "pw"), ("PG_PORT", "not a port")]))
    ///     .build()?;
    /// let mut pg: Pg = serde_json::from_str(
    ///     r#"{"user": "app", "password": "{vault://env/pg-password}", "port": "{vault://env/pg-port}"}"#,
    /// )?;
    /// // In an async fn: `pg.resolve_secrets_async(&resolver).await`.
    /// let err = block_on(pg.resolve_secrets_async(&resolver)).unwrap_err();
    /// assert_eq!(err.failures()[0].path(), Some("port"));
    /// assert_eq!(err.kind(), ErrorKind::Conversion);
    /// // What resolved is filled in, as with `resolve_secrets`.
    /// assert_eq!(pg.password.expose_secret(), "pw");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn resolve_secrets_async<'a>(&'a mut self, resolver: &Resolver) -> crate::Resolving<'a, Self> {
        resolver.resolve_async(self)
    }

    /// Shows the resolver each secret and plain string in `self`, with its path. Generated
    /// by the derive; call [`Walker`] methods for each field.
    #[doc(hidden)]
    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>);

    /// [`Self::SHAPE`] as a `'static` reference, for building shapes of containers.
    #[doc(hidden)]
    fn shape() -> &'static Shape
    where
        Self: Sized,
    {
        &Self::SHAPE
    }
}

/// Where a type keeps its secrets, known at compile time. Nested types are reached through
/// functions so that recursive types have a finite description.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Shape {
    /// Holds no secret.
    Plain,
    /// A `Secret<T>`.
    Secret,
    /// `Option<T>` or `Box<T>`: the same path as its content.
    Optional(fn() -> &'static Shape),
    /// `Vec<T>`, arrays, `VecDeque<T>`: paths gain `[]`.
    List(fn() -> &'static Shape),
    /// Map values: paths gain `.*`.
    Map(fn() -> &'static Shape),
    /// A struct's fields.
    Struct(&'static [Field]),
    /// An enum: the fields of all its variants (variants do not appear in paths).
    Enum(&'static [&'static [Field]]),
}

/// A field in a [`Shape::Struct`] or [`Shape::Enum`].
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// The key as written in the configuration (after `#[serde(rename)]`): `[i]` for a tuple
    /// field; empty for a flattened field or a newtype's field.
    pub name: &'static str,
    /// The field's shape.
    pub shape: fn() -> &'static Shape,
}

/// The paths of every secret a type can hold, such as `pg.password` or `replicas[].password`
/// (`[]` stands for any index, `*` for any map key).
///
/// ```
/// use secret_ref::{ResolveSecrets, Secret, secret_paths};
///
/// #[derive(ResolveSecrets)]
/// struct Pg { user: String, password: Secret<String> }
///
/// // `#[serde(rename_all)]` is honoured: paths name the keys written in the file.
/// #[derive(ResolveSecrets)]
/// #[serde(rename_all = "UPPERCASE")]
/// struct Config { pg: Pg, api_token: Option<Secret<String>> }
///
/// assert_eq!(secret_paths::<Config>(), ["PG.password", "API_TOKEN"]);
/// ```
pub fn secret_paths<T: ResolveSecrets>() -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = Vec::new();
    collect_paths(T::shape(), &mut String::new(), &mut stack, &mut out);
    out
}

fn collect_paths(
    shape: &'static Shape,
    prefix: &mut String,
    stack: &mut Vec<*const Shape>,
    out: &mut Vec<String>,
) {
    // A recursive type would describe infinitely many paths: stop at the first repeat.
    let ptr = shape as *const Shape;
    if stack.contains(&ptr) || stack.len() > 64 {
        return;
    }
    stack.push(ptr);
    let len = prefix.len();
    match shape {
        Shape::Plain => {}
        Shape::Secret => {
            if !out.contains(prefix) {
                out.push(prefix.clone());
            }
        }
        Shape::Optional(inner) => collect_paths(inner(), prefix, stack, out),
        Shape::List(inner) => {
            prefix.push_str("[]");
            collect_paths(inner(), prefix, stack, out);
        }
        Shape::Map(inner) => {
            push_name(prefix, "*");
            collect_paths(inner(), prefix, stack, out);
        }
        Shape::Struct(fields) => collect_fields(fields, prefix, stack, out),
        Shape::Enum(variants) => {
            for fields in *variants {
                collect_fields(fields, prefix, stack, out);
            }
        }
    }
    prefix.truncate(len);
    stack.pop();
}

fn collect_fields(
    fields: &'static [Field],
    prefix: &mut String,
    stack: &mut Vec<*const Shape>,
    out: &mut Vec<String>,
) {
    let len = prefix.len();
    for field in fields {
        push_name(prefix, field.name);
        collect_paths((field.shape)(), prefix, stack, out);
        prefix.truncate(len);
    }
}

fn push_name(prefix: &mut String, name: &str) {
    if name.is_empty() {
        return;
    }
    if !prefix.is_empty() && !name.starts_with('[') {
        prefix.push('.');
    }
    prefix.push_str(name);
}

/// One step of a field path.
#[derive(Clone, Debug)]
enum Segment {
    Field(&'static str),
    Index(u32),
    /// An index into [`Walker::keys`], so that the common segments stay small.
    Key(u32),
}

/// A step of a path, stored once and shared by every path below it.
struct PathNode {
    parent: Option<u32>,
    segment: Segment,
}

/// Where a [`Walker`] was before entering a field.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Mark(Option<u32>);

/// Collects the secrets of a value together with their field paths. Generated code calls
/// its methods; users never need to.
#[doc(hidden)]
pub struct Walker<'a> {
    nodes: Vec<PathNode>,
    keys: Vec<String>,
    current: Option<u32>,
    reference_only: bool,
    pub(crate) slots: Vec<FoundSecret<'a>>,
    pub(crate) failures: Vec<Failure>,
}

/// A secret the walker found, with where it is.
pub(crate) struct FoundSecret<'a> {
    pub(crate) path: Option<u32>,
    pub(crate) secret: &'a mut dyn SecretSlot,
    /// For a live secret that holds a reference: what the rotation updates.
    pub(crate) live: Option<Arc<dyn LiveSink>>,
    pub(crate) reference_only: bool,
}

impl<'a> Walker<'a> {
    pub(crate) fn new() -> Self {
        Walker {
            nodes: Vec::new(),
            keys: Vec::new(),
            current: None,
            reference_only: false,
            slots: Vec::new(),
            failures: Vec::new(),
        }
    }

    fn enter<T: ResolveSecrets + ?Sized>(&mut self, segment: Segment, value: &'a mut T) {
        let mark = self.push(segment);
        value.visit_secrets(self);
        self.leave(mark);
    }

    /// Enters a named field; returns where to go back to with [`Walker::leave`]. The derive
    /// uses this pair around `<FieldType as ResolveSecrets>::visit_secrets`, so that a field
    /// type without the trait is reported once, at the field.
    pub fn enter_field(&mut self, name: &'static str) -> Mark {
        self.push(Segment::Field(name))
    }

    /// Enters a tuple field or list element; see [`Walker::enter_field`].
    pub fn enter_index(&mut self, index: usize) -> Mark {
        self.push(Segment::Index(index as u32))
    }

    /// Goes back to where [`Walker::enter_field`] or [`Walker::enter_index`] was called.
    pub fn leave(&mut self, mark: Mark) {
        self.current = mark.0;
    }

    fn push(&mut self, segment: Segment) -> Mark {
        let saved = self.current;
        self.nodes.push(PathNode {
            parent: saved,
            segment,
        });
        self.current = Some((self.nodes.len() - 1) as u32);
        Mark(saved)
    }

    /// A named field.
    pub fn field<T: ResolveSecrets + ?Sized>(&mut self, name: &'static str, value: &'a mut T) {
        self.enter(Segment::Field(name), value);
    }

    /// Makes room for `n` more elements.
    pub fn reserve(&mut self, n: usize) {
        self.nodes.reserve(n);
        self.slots.reserve(n);
    }

    /// Turns the `#[secret(reference_only)]` rule on or off for what is visited next;
    /// returns the previous setting, to restore after the field.
    pub fn set_reference_only(&mut self, on: bool) -> bool {
        std::mem::replace(&mut self.reference_only, on)
    }

    /// A `#[serde(flatten)]` field: its fields appear at this level.
    pub fn flatten<T: ResolveSecrets + ?Sized>(&mut self, value: &'a mut T) {
        value.visit_secrets(self);
    }

    /// A list element.
    pub fn index<T: ResolveSecrets + ?Sized>(&mut self, index: usize, value: &'a mut T) {
        self.enter(Segment::Index(index as u32), value);
    }

    /// A map value.
    pub fn key<T: ResolveSecrets + ?Sized>(&mut self, key: &dyn fmt::Display, value: &'a mut T) {
        self.keys.push(key.to_string());
        self.enter(Segment::Key((self.keys.len() - 1) as u32), value);
    }

    /// A secret.
    pub(crate) fn secret(&mut self, secret: &'a mut dyn SecretSlot) {
        self.found(secret, None);
    }

    /// A live secret, with the handle the rotation updates it through.
    pub(crate) fn live(&mut self, secret: &'a mut dyn SecretSlot, sink: Arc<dyn LiveSink>) {
        self.found(secret, Some(sink));
    }

    fn found(&mut self, secret: &'a mut dyn SecretSlot, live: Option<Arc<dyn LiveSink>>) {
        self.slots.push(FoundSecret {
            path: self.current,
            secret,
            live,
            reference_only: self.reference_only,
        });
    }

    /// A plain string: a reference here (or text that looks like one) would silently be
    /// used as a literal, so it is an error.
    pub fn plain_str(&mut self, value: &str) {
        let reference = is_reference(value);
        if !reference && near_miss(value).is_none() {
            return;
        }
        let what = if reference {
            "holds a vault reference"
        } else {
            "holds text that looks like a vault reference (not shown: it may be a secret)"
        };
        let mut failure = Failure::new(
            ErrorKind::ReferenceInPlainField,
            format!(
                "this field {what} but is not a `Secret`, so the text would be used as a \
                 literal; declare it `Secret<String>`, or mark it `#[secret(skip)]` if the \
                 text is meant literally"
            ),
        );
        if reference {
            failure = failure.with_reference(value);
        }
        let path = self.path_of(self.current);
        self.failures.push(failure.with_path(path));
    }

    /// The path of a node as users write it: `replicas[1].password`, `tokens.ci`,
    /// `tokens["a b"]`.
    pub(crate) fn path_of(&self, node: Option<u32>) -> String {
        let mut chain = Vec::new();
        let mut at = node;
        while let Some(i) = at {
            let n = &self.nodes[i as usize];
            chain.push(&n.segment);
            at = n.parent;
        }
        let mut out = String::new();
        for segment in chain.into_iter().rev() {
            match segment {
                Segment::Field(name) => push_name(&mut out, name),
                Segment::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
                Segment::Key(k) => {
                    let k = &self.keys[*k as usize];
                    let plain = !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
                    if plain {
                        push_name(&mut out, k);
                    } else {
                        let _ = write!(out, "[{k:?}]");
                    }
                }
            }
        }
        out
    }
}

impl<T: SecretValue + DeserializeOwned> ResolveSecrets for Secret<T> {
    const SHAPE: Shape = Shape::Secret;

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        walker.secret(self);
    }
}

impl<T: SecretValue + DeserializeOwned + Send + Sync + 'static> ResolveSecrets for Live<T> {
    const SHAPE: Shape = Shape::Secret;

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        match self.reference_str() {
            Some(_) => {
                let sink = self.sink();
                walker.live(self, sink);
            }
            None => walker.secret(self),
        }
    }
}

// Numbers, addresses, durations and the other plain types without text: `plain.rs`.

impl ResolveSecrets for String {
    const SHAPE: Shape = Shape::Plain;

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        walker.plain_str(self);
    }
}

impl ResolveSecrets for Box<str> {
    const SHAPE: Shape = Shape::Plain;

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        walker.plain_str(self);
    }
}

impl ResolveSecrets for std::path::PathBuf {
    const SHAPE: Shape = Shape::Plain;

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        if let Some(s) = self.to_str() {
            walker.plain_str(s);
        }
    }
}

impl<T: ResolveSecrets> ResolveSecrets for Option<T> {
    const SHAPE: Shape = Shape::Optional(T::shape);

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        if let Some(v) = self {
            v.visit_secrets(walker);
        }
    }
}

impl<T: ResolveSecrets> ResolveSecrets for Box<T> {
    const SHAPE: Shape = Shape::Optional(T::shape);

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        (**self).visit_secrets(walker);
    }
}

impl<T: ResolveSecrets> ResolveSecrets for Vec<T> {
    const SHAPE: Shape = Shape::List(T::shape);

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        walker.reserve(self.len());
        for (i, v) in self.iter_mut().enumerate() {
            walker.index(i, v);
        }
    }
}

impl<T: ResolveSecrets> ResolveSecrets for VecDeque<T> {
    const SHAPE: Shape = Shape::List(T::shape);

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        for (i, v) in self.iter_mut().enumerate() {
            walker.index(i, v);
        }
    }
}

impl<T: ResolveSecrets, const N: usize> ResolveSecrets for [T; N] {
    const SHAPE: Shape = Shape::List(T::shape);

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        for (i, v) in self.iter_mut().enumerate() {
            walker.index(i, v);
        }
    }
}

impl<K: fmt::Display, V: ResolveSecrets, S: BuildHasher> ResolveSecrets for HashMap<K, V, S> {
    const SHAPE: Shape = Shape::Map(V::shape);

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        // Visit in key order so that failures are reported in a stable order.
        let mut entries: Vec<(&K, &'a mut V)> = self.iter_mut().collect();
        entries.sort_by_cached_key(|(k, _)| k.to_string());
        for (k, v) in entries {
            walker.key(k, v);
        }
    }
}

impl<K: fmt::Display, V: ResolveSecrets> ResolveSecrets for BTreeMap<K, V> {
    const SHAPE: Shape = Shape::Map(V::shape);

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        for (k, v) in self.iter_mut() {
            walker.key(k, v);
        }
    }
}

macro_rules! tuple {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: ResolveSecrets),+> ResolveSecrets for ($($name,)+) {
            const SHAPE: Shape = Shape::Struct(&[$(Field { name: concat!("[", stringify!($idx), "]"), shape: $name::shape }),+]);
            fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
                $(walker.index($idx, &mut self.$idx);)+
            }
        }
    };
}
tuple!(A 0);
tuple!(A 0, B 1);
tuple!(A 0, B 1, C 2);
tuple!(A 0, B 1, C 2, D 3);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_as_users_read_them() {
        let mut w = Walker::new();
        w.nodes.push(PathNode {
            parent: None,
            segment: Segment::Field("replicas"),
        });
        w.nodes.push(PathNode {
            parent: Some(0),
            segment: Segment::Index(1),
        });
        w.nodes.push(PathNode {
            parent: Some(1),
            segment: Segment::Field("password"),
        });
        w.keys = vec!["a b".into(), "ci".into()];
        w.nodes.push(PathNode {
            parent: Some(0),
            segment: Segment::Key(0),
        });
        w.nodes.push(PathNode {
            parent: None,
            segment: Segment::Key(1),
        });
        assert_eq!(w.path_of(Some(2)), "replicas[1].password");
        assert_eq!(w.path_of(Some(3)), "replicas[\"a b\"]");
        assert_eq!(w.path_of(Some(4)), "ci");
        assert_eq!(w.path_of(None), "");
    }
}
