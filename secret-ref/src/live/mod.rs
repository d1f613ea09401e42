//! `Live<T>`: a secret that always shows the current value of its reference, so that a
//! long-running service sees a rotated password without reloading its configuration.

mod group;
mod hazard;

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use group::{ErasedNode, Header, Prepared, Tag};
pub(crate) use group::{Group, LiveSink, Member, PrepareError};

use crate::cache::lock;
use crate::convert::{self, ConvertError};
use crate::error::Error;
use crate::redact::Redacted;
use crate::reference::Reference;
use crate::secret::Secret;
use crate::secret_value::SecretValue;
use crate::slot::{self, Deserialized, RefText, SecretSlot};

/// A secret whose value follows its vault: resolved like a [`Secret<T>`], then kept current
/// by the resolver's rotation ([`Resolver::start_rotation`](crate::Resolver::start_rotation)),
/// and by [`Resolver::refresh`](crate::Resolver::refresh).
///
/// Reading it ([`expose_secret`](Live::expose_secret)) gives a guard, [`LiveRef`], that
/// derefs to the value: no lock, no reference count, never a fetch (the rotation fetches on
/// its own thread), and never a wait on the rotation. A value read stays valid, and
/// unchanged, for as long as its guard lives, even if the secret rotates meanwhile; a value
/// that rotated out is wiped and freed once its last guard is dropped (hazard pointers), so a
/// service that runs for months holds one value per secret, not one per rotation.
///
/// Live secrets that read the same vault secret (`{vault://hcv/db/user}` and
/// `{vault://hcv/db/port}`) change together: while a guard of one lives, the others read on
/// the same thread come from the same version, so a password and a port read together
/// always belong together. Clones share the same live value.
///
/// Everything else is as for `Secret<T>`: `Debug` never shows the value, there is no
/// `Display`, serializing writes the reference, values are zeroized when dropped.
///
/// ```
/// use secret_ref::vault::memory::MemoryVault;
/// use secret_ref::{Live, Resolver, ResolveSecrets};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, ResolveSecrets)]
/// struct Config { db_password: Live<String> }
///
/// let vault = MemoryVault::new();
/// vault.set("db", "first");
/// let resolver = Resolver::builder().vault("rotating", vault.clone()).build()?;
/// let config: Config = resolver.scope(|| {
///     serde_json::from_str(r#"{"db_password": "{vault://rotating/db}"}"#)
/// })?;
/// let changes = config.db_password.subscribe();
/// assert_eq!(config.db_password.expose_secret(), "first");
///
/// vault.set("db", "second");
/// resolver.refresh_all();   // what the rotation thread does on its schedule
/// assert_eq!(config.db_password.expose_secret(), "second");
/// assert!(changes.try_recv().is_ok());
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub struct Live<T> {
    inner: Arc<Shared<T>>,
}

/// A value in its own allocation, wiped when freed. The header comes first, at a fixed
/// offset, so that the group can read it whatever `T` is.
#[repr(C)]
struct Node<T> {
    header: Header,
    value: T,
    wipe: fn(&mut T),
}

impl<T> Node<T> {
    fn new(value: T, wipe: fn(&mut T)) -> Self {
        Node {
            header: Header {
                tag: Tag::default(),
                older: AtomicPtr::new(std::ptr::null_mut()),
                bridging: AtomicBool::new(false),
            },
            value,
            wipe,
        }
    }

    fn tag(&self) -> Tag {
        self.header.tag
    }
}

impl<T> Drop for Node<T> {
    fn drop(&mut self) {
        (self.wipe)(&mut self.value);
    }
}

/// Frees a `Node<T>` erased to `*mut ()`.
///
/// # Safety
/// `ptr` must come from `Box::<Node<T>>::into_raw` and be freed once.
unsafe fn drop_node<T>(ptr: *mut ()) {
    drop(unsafe { Box::from_raw(ptr.cast::<Node<T>>()) });
}

struct Shared<T> {
    /// The current value; null until resolved. Owned: a `Box<Node<T>>` made into a pointer.
    current: AtomicPtr<Node<T>>,
    /// The vault secret this live secret follows, once resolved through the cache.
    group: OnceLock<Arc<Group>>,
    /// Values replaced outside any group (a literal never is; a secret read without the
    /// cache may be, by `Resolver::refresh`), until no reader protects them.
    retired: Mutex<Vec<ErasedNode>>,
    /// The reference as written; `None` for a literal.
    raw: Option<RefText>,
    subscribers: Mutex<Vec<Sender<()>>>,
    version: AtomicU64,
    /// A keyed digest of the text the value came from: a secret shares its vault secret with
    /// others (`db/user`, `db/password`), and only a change of its own part is a change.
    digest: AtomicU64,
    wipe: fn(&mut T),
    /// `AtomicPtr` is `Send` and `Sync` whatever it points to; this makes `Shared<T>` only as
    /// shareable as `T` is.
    _owns: PhantomData<Box<Node<T>>>,
}

fn digest(text: &str) -> u64 {
    crate::digest::DigestWriter::new()
        .part(text.as_bytes())
        .finish()
        .first()
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        if !current.is_null() {
            // SAFETY: `current` came from `Box::into_raw` and is owned here; no reader is
            // left, since a guard borrows a `Live`, which holds this `Shared`.
            drop(unsafe { Box::from_raw(current) });
        }
        // Values retired outside a group drop (and are wiped) with their vector.
    }
}

impl<T: SecretValue> Live<T> {
    /// A literal value, which never changes.
    pub fn new(value: T) -> Self {
        Self::from_parts(Some(value), None)
    }

    /// An unresolved secret that will follow `reference`.
    pub fn from_reference(reference: Reference) -> Self {
        Self::from_parts(None, Some(RefText::new(reference.into_raw())))
    }

    fn from_parts(value: Option<T>, raw: Option<RefText>) -> Self {
        hazard::init();
        let wipe = T::zeroize;
        let current = value.map_or(std::ptr::null_mut(), |value| {
            Box::into_raw(Box::new(Node::new(value, wipe)))
        });
        Live {
            inner: Arc::new(Shared {
                current: AtomicPtr::new(current),
                group: OnceLock::new(),
                retired: Mutex::new(Vec::new()),
                raw,
                subscribers: Mutex::new(Vec::new()),
                version: AtomicU64::new(0),
                digest: AtomicU64::new(0),
                wipe,
                _owns: PhantomData,
            }),
        }
    }
}

/// A read of a [`Live`] secret: derefs to the value, which stays valid (and unchanged)
/// while the guard lives, even if the secret rotates meanwhile; the value that rotated out
/// is freed, and wiped, once its last guard is dropped.
///
/// While a guard lives, the other live secrets that read the *same vault secret*, read on
/// the same thread, come from the same version of it (up to 8 guards held at once): a
/// password and a port read together always belong together.
///
/// `Debug` never shows the value. A guard is not `Send`: drop it on the thread that made it.
/// Like a lock guard, it is meant to be short-lived: one leaked with `mem::forget` keeps its
/// value, and the values its version needs, for the rest of its thread's life.
pub struct LiveRef<'a, T> {
    node: *mut Node<T>,
    slot: hazard::Slot,
    _live: PhantomData<&'a Live<T>>,
}

impl<T> std::ops::Deref for LiveRef<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the node is protected (a hazard pointer of this thread, or a version pinned
        // by one) until the guard drops, and nobody mutates a published node.
        unsafe { &(*self.node).value }
    }
}

impl<T> Drop for LiveRef<'_, T> {
    #[inline]
    fn drop(&mut self) {
        hazard::release(self.node.cast(), self.slot);
    }
}

impl<'a, T> LiveRef<'a, T> {
    fn new(p: hazard::Protected<Node<T>>) -> Self {
        LiveRef {
            node: p.node,
            slot: p.slot,
            _live: PhantomData,
        }
    }
}

impl<T> fmt::Debug for LiveRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LiveRef([REDACTED])")
    }
}

impl<T: PartialEq> PartialEq<T> for LiveRef<'_, T> {
    fn eq(&self, other: &T) -> bool {
        **self == *other
    }
}

impl PartialEq<str> for LiveRef<'_, String> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for LiveRef<'_, String> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<T> Live<T> {
    /// The current value, as a guard that derefs to it. Panics (with the reference, never a
    /// value) if the secret was never resolved; see
    /// [`try_expose_secret`](Live::try_expose_secret).
    #[track_caller]
    #[inline]
    pub fn expose_secret(&self) -> LiveRef<'_, T> {
        match self.try_expose_secret() {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// The current value, or an [`ErrorKind::Unresolved`](crate::ErrorKind::Unresolved) error.
    #[inline]
    pub fn try_expose_secret(&self) -> Result<LiveRef<'_, T>, Error> {
        let shared = &*self.inner;
        let Some(group) = shared.group.get() else {
            // Not following a vault secret: no version to agree on.
            return match hazard::protect(&shared.current) {
                Some(p) => Ok(LiveRef::new(p)),
                None => Err(crate::slot::unresolved(self.reference_str().unwrap_or(""))),
            };
        };
        let protected = match hazard::pinned(group.id) {
            Some(v) => self.at_version(group, v),
            None => self.latest_complete(group),
        };
        match protected {
            Some((p, version)) => {
                // A guard pins only a version its own value covers: the group keeps what a
                // pin needs by the values that carry pins (see `Group::reclaim`).
                // SAFETY: protected.
                let tag = unsafe { (*p.node).tag() };
                if tag.group == group.id && tag.from <= version {
                    hazard::set_pin(&p, group.id, version);
                }
                Ok(LiveRef::new(p))
            }
            None => Err(crate::slot::unresolved(self.reference_str().unwrap_or(""))),
        }
    }

    /// The value at the last version whose publication is complete, and that version. A
    /// value from a publication in progress is bridged to the value it replaces, so that a
    /// reader never waits for a writer.
    #[inline]
    fn latest_complete(&self, g: &Group) -> Option<(hazard::Protected<Node<T>>, u64)> {
        loop {
            // Read before the value is protected: a value current after this read, and not
            // from a later publication, covers the version read.
            let published = g.published();
            let p = hazard::protect(&self.inner.current)?;
            // SAFETY: protected.
            let tag = unsafe { (*p.node).tag() };
            if tag.from <= published {
                return Some((p, published));
            }
            match self.bridge(p) {
                // It covers the versions from its own up to the one in progress, all of
                // them complete; the latest it covers that is known complete is pinned.
                Some(older) => {
                    // SAFETY: protected.
                    let from = unsafe { (*older.node).tag() }.from;
                    return Some((older, published.max(from)));
                }
                // The publication completed meanwhile: read again.
                None => continue,
            }
        }
    }

    /// Given a protected value from a publication in progress, the value it replaced,
    /// protected instead (`p` is released either way); `None` once that publication is
    /// complete (then the value it replaced may be gone).
    fn bridge(&self, p: hazard::Protected<Node<T>>) -> Option<hazard::Protected<Node<T>>> {
        // SAFETY: `p` is protected until released below.
        let header = unsafe { &(*p.node).header };
        let older = header.older.load(Ordering::Acquire);
        let q = if older.is_null() {
            None
        } else {
            // Protected, then checked: while the bridge is open, the publication has freed
            // nothing, and once it frees, it sees this protection.
            let q = hazard::protect_known(older.cast::<Node<T>>());
            hazard::reader_fence();
            if header.bridging.load(Ordering::Acquire) {
                Some(q)
            } else {
                hazard::release(q.node.cast(), q.slot);
                None
            }
        };
        hazard::release(p.node.cast(), p.slot);
        q
    }

    /// The value at group version `v`, which another guard of this thread pins: the current
    /// value, or an older one found by walking back from it. Lock-free: the values walked
    /// through are kept while `v` is pinned.
    #[cold]
    fn at_version(&self, _g: &Group, v: u64) -> Option<(hazard::Protected<Node<T>>, u64)> {
        let p = hazard::protect(&self.inner.current)?;
        let mut at = p.node;
        loop {
            // SAFETY: `at` is `p` (protected) or a value it replaced with `until > v`, which
            // the group keeps while `v` is pinned.
            let header = unsafe { &(*at).header };
            if header.tag.from <= v {
                break;
            }
            let older = header.older.load(Ordering::Acquire).cast::<Node<T>>();
            if older.is_null() {
                // A secret that joined after `v` has no value of `v`: its first one.
                break;
            }
            at = older;
        }
        if at == p.node {
            return Some((p, v));
        }
        // Protected in its own right, so that it outlives the pinning guard if need be.
        let q = hazard::protect_known(at);
        hazard::release(p.node.cast(), p.slot);
        Some((q, v))
    }

    /// A channel that receives `()` each time the value changes. Changes sent while nobody
    /// receives are kept until read; drop the receiver to unsubscribe.
    pub fn subscribe(&self) -> Receiver<()> {
        let (tx, rx) = channel();
        lock(&self.inner.subscribers).push(tx);
        rx
    }

    /// How many times the value changed since it was first resolved.
    pub fn version(&self) -> u64 {
        self.inner.version.load(Ordering::Acquire)
    }

    /// The reference this secret follows, parsed; `None` for a literal or a malformed
    /// reference.
    pub fn reference(&self) -> Option<Reference> {
        self.inner.raw.as_ref().and_then(RefText::reference)
    }

    /// The reference exactly as written.
    pub fn reference_str(&self) -> Option<&str> {
        self.inner.raw.as_ref().map(RefText::as_str)
    }

    /// Whether a value is available.
    pub fn is_resolved(&self) -> bool {
        !self.inner.current.load(Ordering::Acquire).is_null()
    }

    /// Whether the secret was written as a literal.
    pub fn is_literal(&self) -> bool {
        self.inner.raw.is_none()
    }

    /// The resolver's handle on this secret, to update it when its vault's value changes.
    pub(crate) fn sink(&self) -> Arc<dyn LiveSink>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        self.inner.clone()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> Shared<T> {
    /// Makes `prepared` current. Callers that replace a grouped value hold the group's
    /// writer lock, so `current` cannot change under them.
    fn swap(
        &self,
        prepared: Prepared,
        tag: Tag,
        bridge: bool,
    ) -> (Option<(ErasedNode, Tag)>, *mut ()) {
        let node = prepared.node.ptr.cast::<Node<T>>();
        // Ownership moves into `current`: the erased owner must not free it.
        std::mem::forget(prepared.node);
        let before = self.current.load(Ordering::Acquire);
        // The header is complete before the value is published, and never written after
        // (but for `bridging`, which the group clears under its lock).
        // SAFETY: `node` is a `Box<Node<T>>` nobody else sees yet.
        unsafe {
            (*node).header.tag = tag;
            if bridge {
                // The way back for pinned readers, and the bridge while the publication is
                // in progress.
                (*node).header.older.store(before.cast(), Ordering::Relaxed);
                (*node)
                    .header
                    .bridging
                    .store(!before.is_null(), Ordering::Relaxed);
            }
        }
        self.digest.store(prepared.digest, Ordering::Release);
        let previous = self.current.swap(node, Ordering::AcqRel);
        if previous.is_null() {
            return (None, node.cast());
        }
        self.version.fetch_add(1, Ordering::AcqRel);
        // SAFETY: `previous` was current, hence a live `Box<Node<T>>`; it is no longer
        // published, and is handed over as a whole.
        let old_tag = unsafe { (*previous).tag() };
        (
            Some((
                ErasedNode {
                    ptr: previous.cast(),
                    drop: drop_node::<T>,
                },
                old_tag,
            )),
            node.cast(),
        )
    }

    /// A value outside any group: swapped in, and what it replaced freed once unprotected.
    /// A secret that follows a group is only ever updated by its group (this returns
    /// `false`), so that every value it shows is of a version of the group.
    fn replace_alone(&self, prepared: Prepared) -> bool {
        // Held across the swap: two clones accepted at once replace one after the other.
        let mut retired = lock(&self.retired);
        if self.group.get().is_some() {
            return false;
        }
        // No group, no publication to bridge.
        let (old, _) = self.swap(prepared, Tag::default(), false);
        if let Some((old, _)) = old {
            retired.push(old);
        }
        if !retired.is_empty()
            && let Some(protected) = hazard::protected_pointers()
        {
            retired.retain(|n| protected.binary_search(&(n.ptr as usize)).is_ok());
        }
        true
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> LiveSink for Shared<T> {
    fn id(&self) -> usize {
        self as *const Self as *const () as usize
    }

    fn prepare(
        &self,
        text: Zeroizing<String>,
        force: bool,
    ) -> Result<Option<Prepared>, ConvertError> {
        let new = digest(&text);
        if !force
            && !self.current.load(Ordering::Acquire).is_null()
            && self.digest.load(Ordering::Acquire) == new
        {
            return Ok(None);
        }
        let value = convert::from_text::<T>(text)?;
        let node = Box::into_raw(Box::new(Node::new(value, self.wipe)));
        Ok(Some(Prepared {
            node: ErasedNode {
                ptr: node.cast(),
                drop: drop_node::<T>,
            },
            digest: new,
        }))
    }

    fn publish(
        &self,
        prepared: Prepared,
        tag: Tag,
        bridge: bool,
    ) -> (Option<(ErasedNode, Tag)>, *mut ()) {
        self.swap(prepared, tag, bridge)
    }

    fn current(&self) -> Option<(usize, Tag)> {
        let p = self.current.load(Ordering::Acquire);
        // SAFETY: called under the group's lock, which every replacement of a grouped
        // value takes: the current value cannot be freed meanwhile.
        (!p.is_null()).then(|| (p as usize, unsafe { (*p).tag() }))
    }

    fn group(&self) -> Option<u64> {
        self.group.get().map(|g| g.id)
    }

    fn join(&self, group: &Arc<Group>) -> bool {
        // Under the retired lock, so that no ungrouped replacement runs while it joins.
        let _serial = lock(&self.retired);
        let joined = self.group.get_or_init(|| group.clone());
        Arc::ptr_eq(joined, group)
    }

    fn notify(&self) {
        // Dead receivers are dropped here, which is how unsubscribing works.
        lock(&self.subscribers).retain(|tx| tx.send(()).is_ok());
    }
}

impl<T: Zeroize + DeserializeOwned + Send + Sync + 'static> SecretSlot for Live<T> {
    fn reference_str(&self) -> Option<&str> {
        Live::reference_str(self)
    }

    fn has_value(&self) -> bool {
        self.is_resolved()
    }

    fn accept(&mut self, text: Zeroizing<String>) -> Result<(), ConvertError> {
        // A secret in a group follows its group alone.
        if self.inner.group.get().is_some() {
            return Ok(());
        }
        if let Some(prepared) = self.inner.prepare(text, false)? {
            let had = self.is_resolved();
            if self.inner.replace_alone(prepared) && had {
                self.inner.notify();
            }
        }
        Ok(())
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

impl<T> Clone for Live<T> {
    /// Clones share the live value: this copies no secret.
    fn clone(&self) -> Self {
        Live {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_resolved(), &self.inner.raw) {
            (false, Some(raw)) => write!(f, "Live({})", Redacted::new(raw.as_str())),
            _ => f.write_str("Live([REDACTED])"),
        }
    }
}

impl<T> Serialize for Live<T> {
    /// Writes the reference back; a literal refuses, as `Secret<T>` does.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.inner.raw {
            Some(raw) => serializer.serialize_str(raw.as_str()),
            None => Err(crate::serialize::literal_refused()),
        }
    }
}

impl<'de, T: SecretValue + DeserializeOwned + Send + Sync + 'static> Deserialize<'de> for Live<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Deserialized { value, raw } = slot::deserialize::<T, D>(deserializer)?;
        Ok(Live::from_parts(value, raw))
    }
}

impl<T: SecretValue + DeserializeOwned> From<Secret<T>> for Live<T> {
    fn from(secret: Secret<T>) -> Self {
        let Deserialized { value, raw } = secret.into_parts();
        Live::from_parts(value, raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Text;

    fn live(value: &str) -> (Live<String>, Arc<dyn LiveSink>) {
        let live = Live::from_reference("{vault://v/db}".parse().unwrap());
        let sink = live.sink();
        let _ = value;
        (live, sink)
    }

    fn member(sink: &Arc<dyn LiveSink>, key: &str) -> Member {
        Member {
            sink: Arc::downgrade(sink),
            key: Some(key.into()),
            reference: "{vault://v/db}".into(),
            vault: "v".into(),
        }
    }

    fn text(user: &str, port: u16) -> Text {
        Arc::new(Zeroizing::new(format!(
            r#"{{"user":"{user}","port":{port}}}"#
        )))
    }

    #[test]
    fn the_fence_mode_is_decided_once() {
        // On Linux with `membarrier`, readers use the light fence; elsewhere a real one.
        // Either way the answer does not change.
        assert_eq!(hazard::asymmetric(), hazard::asymmetric());
    }

    #[test]
    fn rotated_out_values_are_freed_once_unread() {
        let group = Group::new();
        let (user, user_sink) = live("u");
        group
            .join(&user_sink, member(&user_sink, "user"), &text("u0", 1))
            .ok();
        assert_eq!(*user.expose_secret(), "u0");
        // A guard held across a publication keeps its value...
        let held = user.expose_secret();
        group.publish(&text("u1", 1), 1);
        assert_eq!(group.retired_len(), 1);
        assert_eq!(*held, "u0");
        drop(held);
        // ...which the next publication (or the rotation's pass) frees.
        group.collect();
        assert_eq!(group.retired_len(), 0);
        // Without guards, nothing is kept.
        for i in 2..100 {
            group.publish(&text(&format!("u{i}"), 1), i);
            assert_eq!(group.retired_len(), 0);
        }
        assert_eq!(*user.expose_secret(), "u99");
    }

    fn tag_of<T>(live: &Live<T>) -> Tag {
        let p = live.inner.current.load(Ordering::Acquire);
        unsafe { (*p).tag() }
    }

    #[test]
    fn a_member_that_joined_later_pins_nothing_it_does_not_cover() {
        let group = Group::new();
        let a: Live<String> = Live::from_reference("{vault://v/db/user}".parse().unwrap());
        let b: Live<u16> = Live::from_reference("{vault://v/db/port}".parse().unwrap());
        let (sa, sb) = (a.sink(), b.sink());
        group.join(&sa, member(&sa, "user"), &text("a0", 1)).ok();
        let g1 = a.expose_secret(); // pins version 0
        group.publish(&text("a1", 1), 1); // A changes: a0 retired
        group.join(&sb, member(&sb, "port"), &text("a1", 1)).ok(); // B's first value: 1
        let g2 = b.expose_secret();
        assert_eq!(*g2, 1, "B has no value of version 0: its first one");
        drop(g1);
        // Nothing pins version 0 any more (B's guard must not): a0 goes at the next reclaim,
        // and a read of A is the current value, not a walk into what was freed.
        group.collect();
        assert_eq!(group.retired_len(), 0);
        assert_eq!(*a.expose_secret(), "a1");
        drop(g2);
    }

    #[test]
    fn a_secret_first_read_outside_the_group_gets_a_value_of_the_group() {
        let group = Group::new();
        let mut x: Live<String> = Live::from_reference("{vault://v/db/user}".parse().unwrap());
        // Resolved first without the cache (no group), to the text the group will have.
        SecretSlot::accept(&mut x, Zeroizing::new("a".into())).unwrap();
        assert_eq!(tag_of(&x).group, 0);
        let sx = x.sink();
        group.join(&sx, member(&sx, "user"), &text("a", 1)).ok();
        assert_eq!(
            tag_of(&x).group,
            group.id,
            "joined with a value tagged by the group"
        );
        // From now on only the group updates it.
        SecretSlot::accept(&mut x, Zeroizing::new("other".into())).unwrap();
        assert_eq!(*x.expose_secret(), "a");
    }

    #[test]
    fn an_older_text_published_late_is_ignored() {
        let group = Group::new();
        let (user, us) = live("u");
        group.join(&us, member(&us, "user"), &text("u0", 1)).ok();
        group.publish(&text("u2", 1), 2);
        group.publish(&text("u1", 1), 1); // a refresh that finished later
        assert_eq!(*user.expose_secret(), "u2");
    }

    #[test]
    fn fields_of_one_secret_are_read_at_one_version() {
        let group = Group::new();
        let user: Live<String> = Live::from_reference("{vault://v/db/user}".parse().unwrap());
        let port: Live<u16> = Live::from_reference("{vault://v/db/port}".parse().unwrap());
        let (us, ps) = (user.sink(), port.sink());
        group.join(&us, member(&us, "user"), &text("a", 1)).ok();
        group.join(&ps, member(&ps, "port"), &text("a", 1)).ok();
        let u = user.expose_secret();
        group.publish(&text("b", 2), 1);
        // `u` pins version 0: the port read now is the one that goes with it.
        assert_eq!(*port.expose_secret(), 1);
        assert_eq!(*u, "a");
        drop(u);
        assert_eq!(*port.expose_secret(), 2);
        let p = port.expose_secret();
        group.publish(&text("c", 3), 2);
        assert_eq!(*user.expose_secret(), "b");
        drop(p);
        assert_eq!(*user.expose_secret(), "c");
    }
}
