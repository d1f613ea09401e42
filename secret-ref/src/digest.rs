//! Keyed digests, for cache and login keys that involve credentials.
//!
//! A cache keyed by a configuration's text would keep a copy of every token in it, in the
//! key of every entry, for as long as the entry lives. A keyed digest identifies the same
//! configurations without holding them: the key is random per process and never leaves
//! memory, so the digest says nothing about the token, and with 128 bits two different
//! configurations never share an entry by accident (nor by a reference author's design, since
//! they cannot compute digests without the key).

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;

/// Two independently keyed SipHash instances (std's `RandomState`), for 128 bits.
fn keys() -> &'static (RandomState, RandomState) {
    static KEYS: OnceLock<(RandomState, RandomState)> = OnceLock::new();
    KEYS.get_or_init(|| (RandomState::new(), RandomState::new()))
}

/// A 128-bit keyed digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Digest([u64; 2]);

impl Digest {
    /// The first 64 bits, where 64 are enough (telling a changed text from an unchanged one).
    pub(crate) fn first(self) -> u64 {
        self.0[0]
    }
}

/// Builds a [`Digest`] from parts; each part is length-prefixed, so `("ab", "c")` and
/// `("a", "bc")` differ.
pub(crate) struct DigestWriter {
    a: std::hash::DefaultHasher,
    b: std::hash::DefaultHasher,
}

impl DigestWriter {
    pub(crate) fn new() -> Self {
        let (a, b) = keys();
        DigestWriter {
            a: a.build_hasher(),
            b: b.build_hasher(),
        }
    }

    pub(crate) fn part(&mut self, bytes: &[u8]) -> &mut Self {
        for h in [&mut self.a, &mut self.b] {
            h.write_usize(bytes.len());
            h.write(bytes);
        }
        self
    }

    pub(crate) fn finish(&self) -> Digest {
        Digest([self.a.finish(), self.b.finish()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_delimited_and_keyed() {
        let d = |parts: &[&str]| {
            let mut w = DigestWriter::new();
            for p in parts {
                w.part(p.as_bytes());
            }
            w.finish()
        };
        assert_eq!(d(&["a", "bc"]), d(&["a", "bc"]));
        assert_ne!(d(&["a", "bc"]), d(&["ab", "c"]));
        assert_ne!(d(&["a"]), d(&["a", ""]));
        // Keyed: the digest is not SipHash with the zero key.
        let mut plain = std::hash::DefaultHasher::new();
        plain.write_usize(1);
        plain.write(b"a");
        assert_ne!(d(&["a"]).0[0], plain.finish());
    }
}
