//! The live secrets that follow one vault secret, updated together.
//!
//! `{vault://hcv/db/password}` and `{vault://hcv/db/port}` read one vault secret. When it
//! rotates, both change in one *publication*: the group's version goes up by one, each
//! member whose part changed gets a value tagged with that version, and only then is the
//! version published. A reader that holds a guard on one member and reads another gets the
//! other's value *at the version it already holds* (see `Live::try_expose_secret`), so it
//! never sees the new password with the old port.
//!
//! Values that rotate out are kept in the group until no reader can need them: neither
//! protected by a hazard pointer, nor of a version a reader's guard may pin. Conversions run
//! before the group's lock is taken, under `catch_unwind`; the lock is only held to swap
//! pointers and to free what nobody reads.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use zeroize::Zeroizing;

use super::hazard;
use crate::cache::{Text, lock};
use crate::error::{ErrorKind, Failure};

/// Which vault secret a value came from (`group`, 0 for none) and the group version from
/// which it is the member's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub(crate) struct Tag {
    pub(crate) group: u64,
    pub(crate) from: u64,
}

/// The start of every value's allocation, whatever its type, so that the group can read it.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) tag: Tag,
    /// The value this one replaced (null for a first value), set before it is published
    /// and never changed: a reader pinned at an older version walks back along it. The
    /// values it walks through are kept while the version is pinned (see `reclaim`).
    pub(crate) older: AtomicPtr<()>,
    /// While the publication that made this value current is in progress: readers that pin
    /// no version yet use `older` instead, and may protect it only while this is set. Cleared
    /// before the publication frees anything.
    pub(crate) bridging: AtomicBool,
}

impl Header {
    /// # Safety
    /// `ptr` must point to a live value's allocation (which starts with a `Header`).
    pub(crate) unsafe fn of<'a>(ptr: *mut ()) -> &'a Header {
        unsafe { &*ptr.cast::<Header>() }
    }
}

/// A value's allocation, type-erased: the owner frees it (wiping the value) when dropped.
pub(crate) struct ErasedNode {
    pub(crate) ptr: *mut (),
    pub(crate) drop: unsafe fn(*mut ()),
}

// SAFETY: an `ErasedNode` owns a `Box<Node<T>>` with `T: Send + Sync` (required by every
// `LiveSink` that makes one); it is only moved between threads and dropped once.
unsafe impl Send for ErasedNode {}
unsafe impl Sync for ErasedNode {}

impl Drop for ErasedNode {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `Box::into_raw` of the type `drop` was made for, and is
        // dropped exactly once, here.
        unsafe { (self.drop)(self.ptr) }
    }
}

/// A converted value, not yet published.
pub(crate) struct Prepared {
    pub(crate) node: ErasedNode,
    pub(crate) digest: u64,
}

/// What the group needs of a live secret, whatever its type.
pub(crate) trait LiveSink: Send + Sync {
    /// Identifies the live secret (and its clones).
    fn id(&self) -> usize;
    /// Converts new text into a value, unless it is the text the current value came from
    /// (and `force` is false). Runs the field's `Deserialize`: called outside every lock.
    fn prepare(
        &self,
        text: Zeroizing<String>,
        force: bool,
    ) -> Result<Option<Prepared>, crate::convert::ConvertError>;
    /// Makes a prepared value current, tagged; with `bridge`, readers may reach the value it
    /// replaces through it until the publication completes, and readers pinned at an older
    /// version walk back through it. Returns the replaced value and the new one's address.
    fn publish(
        &self,
        prepared: Prepared,
        tag: Tag,
        bridge: bool,
    ) -> (Option<(ErasedNode, Tag)>, *mut ());
    /// The current value's address and tag.
    fn current(&self) -> Option<(usize, Tag)>;
    /// The group it follows, if any.
    fn group(&self) -> Option<u64>;
    /// Joins a group (once), after its first value of the group is published; whether it
    /// is now in this one.
    fn join(&self, group: &Arc<Group>) -> bool;
    /// Tells the subscribers that the value changed. Called outside every lock.
    fn notify(&self);
}

/// A live secret in a group: how to reach it, and what to pick of the vault secret.
pub(crate) struct Member {
    pub(crate) sink: Weak<dyn LiveSink>,
    pub(crate) key: Option<Box<str>>,
    /// The reference, scrubbed, for hooks and events.
    pub(crate) reference: Box<str>,
    pub(crate) vault: Box<str>,
}

struct Retired {
    node: ErasedNode,
    tag: Tag,
    /// The version from which another value replaced it.
    until: u64,
}

struct State {
    version: u64,
    /// The vault secret's whole text at `version`.
    text: Option<Text>,
    /// The cache's sequence number of that text: a publication of an older fetch, late
    /// after a newer one, is dropped.
    applied: u64,
    members: Vec<(usize, Member)>,
    /// Bumped when members join, so that a publication prepared for fewer members retries.
    generation: u64,
}

/// The live secrets following one vault secret. Readers take none of its locks.
pub(crate) struct Group {
    pub(crate) id: u64,
    published: AtomicU64,
    /// Held by writers (publications, joins) for the whole of their work.
    state: Mutex<State>,
    retired: Mutex<Vec<Retired>>,
}

/// A member whose value changed in a publication.
pub(crate) struct Changed {
    pub(crate) sink: Arc<dyn LiveSink>,
    pub(crate) reference: Box<str>,
    pub(crate) vault: Box<str>,
}

/// What a publication did, to report once the lock is released.
#[derive(Default)]
pub(crate) struct Publication {
    /// Members whose value changed: `on_change` and their subscribers are told.
    pub(crate) changed: Vec<Changed>,
    /// Members whose new text could not be converted: they keep their value.
    pub(crate) failed: Vec<Failure>,
}

impl Group {
    pub(crate) fn new() -> Arc<Group> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Arc::new(Group {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            published: AtomicU64::new(0),
            state: Mutex::new(State {
                version: 0,
                text: None,
                applied: 0,
                members: Vec::new(),
                generation: 0,
            }),
            retired: Mutex::new(Vec::new()),
        })
    }

    /// The last version whose values are all in place.
    pub(crate) fn published(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    /// How many live secrets follow this vault secret; dead ones are forgotten.
    pub(crate) fn prune(&self) -> usize {
        let mut st = lock(&self.state);
        st.members.retain(|(_, m)| m.sink.strong_count() > 0);
        st.members.len()
    }

    /// Adds a live secret that was just resolved from `whole` (the vault secret's text) and
    /// gives it its first value of the group, consistent with the group's version: if the
    /// group already follows a newer text, that one is used. `Ok(false)`: the live secret
    /// follows another vault secret already, and was left alone.
    pub(crate) fn join(
        self: &Arc<Self>,
        sink: &Arc<dyn LiveSink>,
        member: Member,
        whole: &Text,
    ) -> Result<bool, PrepareError> {
        let id = sink.id();
        match sink.group() {
            Some(g) if g != self.id => return Ok(false),
            Some(_) => {
                // Resolved again: already a member, with a value of the group.
                let st = lock(&self.state);
                if st.members.iter().any(|(m, _)| *m == id) {
                    return Ok(true);
                }
            }
            None => {}
        }
        loop {
            let (version, text) = {
                let st = lock(&self.state);
                (st.version, st.text.clone().unwrap_or_else(|| whole.clone()))
            };
            // Always a new value, even for the same text: every value a member of the group
            // reads must be tagged with the group.
            let prepared = prepare(&**sink, member.key.as_deref(), &text, true)?;
            let mut st = lock(&self.state);
            let same_text = st.text.as_ref().is_none_or(|t| Arc::ptr_eq(t, &text));
            if st.version != version || !same_text {
                continue;
            }
            if let Some(prepared) = prepared {
                // A first value joins an existing version: nothing is in progress for
                // readers to bridge, nor older in the group to walk back to.
                let (old, _) = sink.publish(
                    prepared,
                    Tag {
                        group: self.id,
                        from: version,
                    },
                    false,
                );
                if let Some((old, tag)) = old {
                    lock(&self.retired).push(Retired {
                        node: old,
                        tag,
                        until: version,
                    });
                }
            }
            // Only now does the secret read through the group.
            if !sink.join(self) {
                return Ok(false);
            }
            if st.text.is_none() {
                st.text = Some(text);
            }
            if !st.members.iter().any(|(m, _)| *m == id) {
                st.members.push((id, member));
                st.generation += 1;
            }
            self.reclaim(&mut st);
            return Ok(true);
        }
    }

    /// Gives every member its part of a new text, as one publication. `seq` orders the
    /// texts as the cache stored them: an older one arriving late is ignored.
    pub(crate) fn publish(&self, text: &Text, seq: u64) -> Publication {
        loop {
            let (version, generation, members) = {
                let mut st = lock(&self.state);
                if seq < st.applied {
                    return Publication::default();
                }
                st.members.retain(|(_, m)| m.sink.strong_count() > 0);
                let members: Vec<_> = st
                    .members
                    .iter()
                    .filter_map(|(_, m)| {
                        Some((
                            m.sink.upgrade()?,
                            m.key.clone(),
                            m.reference.clone(),
                            m.vault.clone(),
                        ))
                    })
                    .collect();
                (st.version, st.generation, members)
            };
            // Conversions (the fields' `Deserialize`) run here, with no lock held.
            let mut ready = Vec::new();
            let mut failed = Vec::new();
            for (sink, key, reference, vault) in members {
                match prepare(&*sink, key.as_deref(), text, false) {
                    Ok(Some(prepared)) => ready.push((sink, prepared, reference, vault)),
                    Ok(None) => {}
                    Err(e) => failed.push(
                        e.into_failure()
                            .with_reference(&reference)
                            .with_vault(&vault),
                    ),
                }
            }
            let mut st = lock(&self.state);
            if st.version != version || st.generation != generation {
                // Another publication, or a new member, came first: prepare again.
                continue;
            }
            if seq < st.applied {
                return Publication::default();
            }
            st.applied = seq;
            let next = version + 1;
            let mut changed = Vec::with_capacity(ready.len());
            let mut published = Vec::with_capacity(ready.len());
            for (sink, prepared, reference, vault) in ready {
                let (old, new) = sink.publish(
                    prepared,
                    Tag {
                        group: self.id,
                        from: next,
                    },
                    true,
                );
                published.push(new);
                if let Some((old, tag)) = old {
                    lock(&self.retired).push(Retired {
                        node: old,
                        tag,
                        until: next,
                    });
                }
                changed.push(Changed {
                    sink,
                    reference,
                    vault,
                });
            }
            if !changed.is_empty() {
                st.version = next;
                self.published.store(next, Ordering::Release);
            }
            // The publication is complete: readers no longer need the bridges to the values
            // it replaced, which may now be freed.
            for new in published {
                // SAFETY: `new` is current, and freed only under this lock.
                unsafe { Header::of(new) }
                    .bridging
                    .store(false, Ordering::Release);
            }
            st.text = Some(text.clone());
            self.reclaim(&mut st);
            return Publication { changed, failed };
        }
    }

    /// Frees the retired values no reader can need: not protected by a hazard pointer, and
    /// not of a version a protected value of this group may pin (a reader holding a value
    /// from version `f` may pin any version from `f` on).
    /// Frees what nobody reads any more, outside a publication: the rotation calls it at
    /// each pass, so that a value held by a guard during the last rotation of a secret that
    /// no longer rotates is not kept for ever.
    pub(crate) fn collect(&self) {
        let mut st = lock(&self.state);
        self.reclaim(&mut st);
    }

    fn reclaim(&self, st: &mut State) {
        if lock(&self.retired).is_empty() {
            return;
        }
        let Some(protected) = hazard::protected_pointers() else {
            return;
        };
        let held = |ptr: usize| protected.binary_search(&ptr).is_ok();
        let mut pinned_from: Option<u64> = None;
        let mut pin = |tag: Tag| {
            if tag.group == self.id {
                pinned_from = Some(pinned_from.map_or(tag.from, |f| f.min(tag.from)));
            }
        };
        for (_, member) in &st.members {
            if let Some((ptr, tag)) = member.sink.upgrade().and_then(|s| s.current())
                && held(ptr)
            {
                pin(tag);
            }
        }
        let mut retired = lock(&self.retired);
        for r in retired.iter() {
            if held(r.node.ptr as usize) {
                pin(r.tag);
            }
        }
        // Freed (and wiped) outside the lock, which readers take.
        let (keep, free): (Vec<_>, Vec<_>) = std::mem::take(&mut *retired)
            .into_iter()
            .partition(|r| held(r.node.ptr as usize) || pinned_from.is_some_and(|f| r.until > f));
        *retired = keep;
        drop(retired);
        // Wiping runs the values' `Zeroize`: a panic there must not take the rotation down.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(free)));
    }

    /// How many rotated-out values the group still keeps (for tests of reclamation).
    #[cfg(test)]
    pub(crate) fn retired_len(&self) -> usize {
        lock(&self.retired).len()
    }
}

/// Why a member's part of a text could not become its value.
pub(crate) enum PrepareError {
    /// The key is not in the secret, or the secret is not JSON.
    Key(crate::error::VaultError),
    /// The text does not convert into the field's type.
    Convert(crate::convert::ConvertError),
    /// The field's `Deserialize` panicked.
    Panicked,
}

impl PrepareError {
    /// As a failure of a rotation (the live secret keeps its value).
    fn into_failure(self) -> Failure {
        match self {
            PrepareError::Key(e) => Failure::from_vault(e),
            PrepareError::Convert(e) => Failure::new(
                ErrorKind::Conversion,
                format!("the new value does not fit: {e}"),
            ),
            PrepareError::Panicked => Failure::new(
                ErrorKind::Conversion,
                "converting the new value panicked; the previous value is kept",
            ),
        }
    }
}

/// Picks a member's part of the vault secret and converts it, catching a panicking
/// `Deserialize`.
fn prepare(
    sink: &dyn LiveSink,
    key: Option<&str>,
    text: &Text,
    force: bool,
) -> Result<Option<Prepared>, PrepareError> {
    let picked = match key {
        Some(k) => crate::json_key::select(text, k).map_err(PrepareError::Key)?,
        None => Zeroizing::new(String::clone(text)),
    };
    match catch_unwind(AssertUnwindSafe(|| sink.prepare(picked, force))) {
        Ok(Ok(prepared)) => Ok(prepared),
        Ok(Err(e)) => Err(PrepareError::Convert(e)),
        Err(_) => Err(PrepareError::Panicked),
    }
}
