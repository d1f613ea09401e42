//! `ResolveSecrets` for the plain types a configuration holds besides its secrets: JSON
//! values, sets, addresses, paths, and the like, so that a field of such a type needs no
//! attribute. A plain type holds no `Secret`, but its text is still looked at: a reference
//! written where a plain string is read would otherwise become a literal password, so it is
//! reported with its field path, as for a `String` field.
//!
//! [`Plain`] marks the types that can be elements of a set (a set hands out no mutable access,
//! so nothing in it could be resolved); `#[derive(ResolveSecrets)]` with `#[secret(plain)]`
//! implements it for a user's own type.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet, LinkedList};
use std::ffi::OsString;
use std::hash::{BuildHasher, Hash};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use crate::resolve::{ResolveSecrets, Shape, Walker};

/// A type that holds no secret and can be an element of a set that `ResolveSecrets` walks:
/// its text, if it has any, is checked for references. Implemented for strings, numbers,
/// addresses, paths and durations, and by `#[derive(ResolveSecrets)]` with
/// `#[secret(plain)]`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an element of a set in a `ResolveSecrets` type",
    label = "a set gives no mutable access to its elements, so they must be plain",
    note = "mark `{Self}` `#[secret(plain)]` if it holds no secret, use a `Vec` if it does, or mark the field `#[secret(skip)]`"
)]
pub trait Plain {
    /// The value's text, when it is text (so that a reference in it is reported).
    fn plain_text(&self) -> Option<&str> {
        None
    }
}

// The one list of plain types without text: each holds no secret and has nothing to check.
macro_rules! plain_without_text {
    ($($t:ty),* $(,)?) => {$(
        impl Plain for $t {}

        impl ResolveSecrets for $t {
            const SHAPE: Shape = Shape::Plain;
            fn visit_secrets<'a>(&'a mut self, _: &mut Walker<'a>) {}
        }
    )*};
}

plain_without_text!(
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    (),
    std::time::Duration,
    std::net::IpAddr,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr,
    std::net::SocketAddr,
    std::net::SocketAddrV4,
    std::net::SocketAddrV6,
    std::num::NonZeroU8,
    std::num::NonZeroU16,
    std::num::NonZeroU32,
    std::num::NonZeroU64,
    std::num::NonZeroU128,
    std::num::NonZeroUsize,
    std::num::NonZeroI8,
    std::num::NonZeroI16,
    std::num::NonZeroI32,
    std::num::NonZeroI64,
    std::num::NonZeroI128,
    std::num::NonZeroIsize,
);

macro_rules! plain_text {
    ($($t:ty),* $(,)?) => {$(
        impl Plain for $t {
            fn plain_text(&self) -> Option<&str> {
                Some(self)
            }
        }
    )*};
}

plain_text!(String, Box<str>, Arc<str>, Rc<str>, Cow<'static, str>);

impl Plain for PathBuf {
    fn plain_text(&self) -> Option<&str> {
        self.to_str()
    }
}

impl Plain for OsString {
    fn plain_text(&self) -> Option<&str> {
        self.to_str()
    }
}

macro_rules! resolve_plain_text {
    ($($t:ty),* $(,)?) => {$(
        impl ResolveSecrets for $t {
            const SHAPE: Shape = Shape::Plain;
            fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
                if let Some(text) = Plain::plain_text(self) {
                    walker.plain_str(text);
                }
            }
        }
    )*};
}

resolve_plain_text!(Arc<str>, Rc<str>, Cow<'static, str>, OsString);

/// Reports the references among a set's elements, at the set's path (an element has no
/// position a user wrote: a set's order is its own), in the order of their text so that a
/// `HashSet` reports the same way each run.
fn visit_set<'s, T: Plain + 's>(walker: &mut Walker<'_>, elements: impl Iterator<Item = &'s T>) {
    let mut texts: Vec<&str> = elements.filter_map(Plain::plain_text).collect();
    texts.sort_unstable();
    for text in texts {
        walker.plain_str(text);
    }
}

impl<T: Plain + Eq + Hash, S: BuildHasher> ResolveSecrets for HashSet<T, S> {
    const SHAPE: Shape = Shape::Plain;

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        visit_set(walker, self.iter());
    }
}

impl<T: Plain + Ord> ResolveSecrets for BTreeSet<T> {
    const SHAPE: Shape = Shape::Plain;

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        visit_set(walker, self.iter());
    }
}

impl<T: ResolveSecrets> ResolveSecrets for LinkedList<T> {
    const SHAPE: Shape = Shape::List(T::shape);

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        for (i, v) in self.iter_mut().enumerate() {
            walker.index(i, v);
        }
    }
}

impl<T: ResolveSecrets> ResolveSecrets for Box<[T]> {
    const SHAPE: Shape = Shape::List(T::shape);

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        walker.reserve(self.len());
        for (i, v) in self.iter_mut().enumerate() {
            walker.index(i, v);
        }
    }
}

/// Free-form JSON (an `extra` or `labels` section): every string in it is checked, with its
/// path inside the value (`extra.headers.authorization`, `extra.hosts[2]`).
impl ResolveSecrets for serde_json::Value {
    const SHAPE: Shape = Shape::Plain;

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        match self {
            serde_json::Value::String(text) => walker.plain_str(text),
            serde_json::Value::Array(items) => items.visit_secrets(walker),
            serde_json::Value::Object(map) => map.visit_secrets(walker),
            serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
            }
        }
    }
}

impl ResolveSecrets for serde_json::Map<String, serde_json::Value> {
    const SHAPE: Shape = Shape::Plain;

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        // A `Map` iterates in key order, or in insertion order with `preserve_order`: stable
        // either way.
        for (key, value) in self.iter_mut() {
            walker.key(key, value);
        }
    }
}
