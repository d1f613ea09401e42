//! Safe reclamation of live values: hazard pointers with asymmetric fences.
//!
//! A reader publishes the pointer it is about to use in a slot of its own thread, then checks
//! that the pointer is still current; a writer that unpublished a pointer frees it only once
//! no slot holds it. This is the classic scheme (Michael, 2004) with one twist from folly and
//! liburcu: the reader's fence between "publish" and "check" is a compiler fence only, and the
//! writer, before it looks at the slots, runs `membarrier(PRIVATE_EXPEDITED)`, which makes
//! every thread of the process execute a full fence. Readers (every request) thus pay a
//! thread-local store and two loads; writers (the rotation, rarely) pay a system call. Where
//! `membarrier` is unavailable, readers and writers use real fences instead.
//!
//! Why it is correct: with full fences on both sides, the reader's "store slot; fence; load
//! current" and the writer's "store current; fence; load slots" form the store-buffering
//! pattern, where at least one side sees the other's store. Either the reader sees the new
//! current (and retries), or the writer sees the slot (and keeps the value). `membarrier`
//! gives the reader's compiler fence the strength of a full fence at the moment it matters.
//!
//! Each slot also carries, privately to its thread, the vault secret ("group") its value
//! came from and the version the reader pinned, so that other fields of the same secret read
//! while the guard lives come from the same version (see `group.rs`).

use std::cell::Cell;
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicU64, Ordering, compiler_fence, fence,
};
use std::sync::{Mutex, PoisonError};

/// Guards one thread can hold at once without the (slower, locked) overflow list.
pub(crate) const SLOTS: usize = 8;

/// One thread's published pointers, read by writers on any thread. Leaked on purpose and
/// recycled: a thread that exits hands its slots to the next thread that starts.
pub(crate) struct Hazards {
    slots: [AtomicPtr<()>; SLOTS],
    owned: AtomicBool,
    /// Bumped after a protection is handed over from one slot to another without
    /// validation (`protect_known`), before the old one is released: a writer that scanned
    /// these slots while it changed scans them again, so that it cannot miss both.
    handoffs: AtomicU64,
}

/// Every thread's slots, ever: bounded by the most threads that ever read at once.
static REGISTRY: Mutex<Vec<&'static Hazards>> = Mutex::new(Vec::new());

/// Guards past a thread's slots (or read while its thread-local storage is being torn
/// down), under a lock, which fences on both sides. They pin no version: the consistency
/// of several fields of one secret holds for guards in a thread's own slots.
static OVERFLOW: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This thread's view of its slots: which are in use, and what each pins.
struct Local {
    hazards: &'static Hazards,
    used: Cell<u16>,
    /// Per slot: (group id, pinned version); group 0 pins nothing.
    pins: [Cell<(u64, u64)>; SLOTS],
}

impl Local {
    fn new() -> Self {
        let hazards = {
            let mut registry = lock(&REGISTRY);
            let free = registry.iter().copied().find(|h| {
                h.owned
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            });
            match free {
                Some(h) => h,
                None => {
                    let h: &'static Hazards = Box::leak(Box::new(Hazards {
                        slots: [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS],
                        owned: AtomicBool::new(true),
                        handoffs: AtomicU64::new(0),
                    }));
                    registry.push(h);
                    h
                }
            }
        };
        Local {
            hazards,
            used: Cell::new(0),
            pins: [const { Cell::new((0, 0)) }; SLOTS],
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // A guard may outlive this storage (held by another thread-local whose destructor
        // runs later): its protection moves to the overflow list, which its release then
        // finds, before the slots are handed to the next thread.
        let used = self.used.get();
        let mut overflow = lock(&OVERFLOW);
        for (i, slot) in self.hazards.slots.iter().enumerate() {
            if used & (1 << i) != 0 {
                overflow.push(slot.load(Ordering::Relaxed) as usize);
            }
        }
        drop(overflow);
        for slot in &self.hazards.slots {
            slot.store(std::ptr::null_mut(), Ordering::Release);
        }
        self.hazards.owned.store(false, Ordering::Release);
    }
}

thread_local! {
    static LOCAL: Local = Local::new();
}

const UNKNOWN: u8 = 0;
const ASYMMETRIC: u8 = 1;
const SYMMETRIC: u8 = 2;
static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether readers may use the light fence: decided once, by registering for
/// `membarrier(PRIVATE_EXPEDITED)`.
#[inline]
fn mode() -> u8 {
    match MODE.load(Ordering::Acquire) {
        UNKNOWN => decide(),
        mode => mode,
    }
}

#[cold]
fn decide() -> u8 {
    let mode = if register_membarrier() {
        ASYMMETRIC
    } else {
        SYMMETRIC
    };
    // The first decision stands: a later, transient failure must not switch modes.
    match MODE.compare_exchange(UNKNOWN, mode, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => mode,
        Err(decided) => decided,
    }
}

/// Decides the fence mode ahead of the first read, so that no read pays the system call.
pub(crate) fn init() {
    mode();
}

/// Whether readers use the light fence (for tests).
#[cfg(test)]
pub(crate) fn asymmetric() -> bool {
    mode() == ASYMMETRIC
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn register_membarrier() -> bool {
    use rustix::thread::{MembarrierCommand, membarrier};
    membarrier(MembarrierCommand::RegisterPrivateExpedited).is_ok()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn register_membarrier() -> bool {
    false
}

/// The reader's fence between publishing a protection and checking that it still holds.
#[inline]
pub(crate) fn reader_fence() {
    fence_for(mode());
}

#[inline]
fn fence_for(mode: u8) {
    if mode == ASYMMETRIC {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The writer's side: after it returns `true`, every reader's slot store that preceded its
/// own validation load is visible. `false`: the heavy fence failed; nothing may be freed.
fn writer_fence() -> bool {
    match mode() {
        ASYMMETRIC => heavy_fence(),
        _ => {
            fence(Ordering::SeqCst);
            true
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn heavy_fence() -> bool {
    use rustix::thread::{MembarrierCommand, membarrier};
    fence(Ordering::SeqCst);
    membarrier(MembarrierCommand::PrivateExpedited).is_ok()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn heavy_fence() -> bool {
    false
}

/// A protected pointer: it stays valid until [`release`] is called with this slot.
pub(crate) struct Protected<N> {
    pub(crate) node: *mut N,
    pub(crate) slot: Slot,
}

/// Where a protection lives: a slot of this thread, or the overflow list.
#[derive(Clone, Copy)]
pub(crate) enum Slot {
    Local(u8),
    Overflow,
}

/// The version that another guard of this thread pins for `group`, if any.
#[inline]
pub(crate) fn pinned(group: u64) -> Option<u64> {
    if group == 0 {
        return None;
    }
    LOCAL
        .try_with(|local| {
            // Only the slots in use, lowest first.
            let mut used = local.used.get();
            while used != 0 {
                let i = used.trailing_zeros() as usize;
                let (g, v) = local.pins[i].get();
                if g == group {
                    return Some(v);
                }
                used &= used - 1;
            }
            None
        })
        .ok()
        .flatten()
}

/// Protects the current value of `current`: publishes it in a slot and checks it is still
/// current. `None` if there is no value.
#[inline(always)]
pub(crate) fn protect<N>(current: &AtomicPtr<N>) -> Option<Protected<N>> {
    let mode = mode();
    let local = LOCAL.try_with(|local| {
        let used = local.used.get();
        let free = (!used).trailing_zeros() as usize;
        if free >= SLOTS {
            return None;
        }
        let slot = &local.hazards.slots[free];
        loop {
            let p = current.load(Ordering::Acquire);
            if p.is_null() {
                slot.store(std::ptr::null_mut(), Ordering::Release);
                return Some(None);
            }
            slot.store(p.cast(), Ordering::Relaxed);
            fence_for(mode);
            if current.load(Ordering::Acquire) == p {
                // The slot's pin was reset when it was last released.
                local.used.set(used | (1 << free));
                return Some(Some(Protected {
                    node: p,
                    slot: Slot::Local(free as u8),
                }));
            }
        }
    });
    match local {
        Ok(Some(protected)) => protected,
        // Out of slots, or the thread is exiting: the overflow list, under its lock.
        _ => loop {
            let p = current.load(Ordering::Acquire);
            if p.is_null() {
                return None;
            }
            lock(&OVERFLOW).push(p as usize);
            if current.load(Ordering::Acquire) == p {
                return Some(Protected {
                    node: p,
                    slot: Slot::Overflow,
                });
            }
            remove_overflow(p as usize);
        },
    }
}

/// Protects a pointer already kept alive by another protection of this thread (a version
/// pinned by a guard of the same group, or a bridge checked after this returns): no
/// validation here. The handover is announced, so that a writer scanning meanwhile cannot
/// miss both this protection and the one it replaces (see `protected_pointers`).
pub(crate) fn protect_known<N>(node: *mut N) -> Protected<N> {
    let local = LOCAL.try_with(|local| {
        let used = local.used.get();
        let free = (!used).trailing_zeros() as usize;
        if free >= SLOTS {
            return None;
        }
        local.hazards.slots[free].store(node.cast(), Ordering::Release);
        local.hazards.handoffs.fetch_add(1, Ordering::AcqRel);
        local.used.set(used | (1 << free));
        Some(Slot::Local(free as u8))
    });
    let slot = match local {
        Ok(Some(slot)) => slot,
        _ => {
            lock(&OVERFLOW).push(node as usize);
            Slot::Overflow
        }
    };
    Protected { node, slot }
}

/// Records which group and version a protection pins (thread-private; overflow guards pin
/// nothing).
#[inline]
pub(crate) fn set_pin<N>(protected: &Protected<N>, group: u64, version: u64) {
    if let Slot::Local(i) = protected.slot {
        let _ = LOCAL.try_with(|local| local.pins[i as usize].set((group, version)));
    }
}

/// Ends a protection.
#[inline]
pub(crate) fn release(node: *mut (), slot: Slot) {
    match slot {
        Slot::Local(i) => {
            let released = LOCAL.try_with(|local| {
                local.hazards.slots[i as usize].store(std::ptr::null_mut(), Ordering::Release);
                local.used.set(local.used.get() & !(1 << i));
                local.pins[i as usize].set((0, 0));
            });
            // The thread's storage is gone: the protection moved to the overflow list.
            if released.is_err() {
                remove_overflow(node as usize);
            }
        }
        Slot::Overflow => remove_overflow(node as usize),
    }
}

fn remove_overflow(p: usize) {
    let mut overflow = lock(&OVERFLOW);
    if let Some(i) = overflow.iter().rposition(|q| *q == p) {
        overflow.swap_remove(i);
    }
}

/// Every pointer protected right now, after the writer's fence; `None` if the fence failed
/// (then nothing may be freed). Sorted, for binary search.
pub(crate) fn protected_pointers() -> Option<Vec<usize>> {
    if !writer_fence() {
        return None;
    }
    let mut all: Vec<usize> = Vec::new();
    for hazards in lock(&REGISTRY).iter() {
        // A handover during the scan could hide both its protections from it: scan again.
        loop {
            let before = hazards.handoffs.load(Ordering::Acquire);
            let start = all.len();
            for slot in &hazards.slots {
                let p = slot.load(Ordering::Acquire);
                if !p.is_null() {
                    all.push(p as usize);
                }
            }
            if hazards.handoffs.load(Ordering::Acquire) == before {
                break;
            }
            all.truncate(start);
        }
    }
    all.extend(lock(&OVERFLOW).iter().copied());
    all.sort_unstable();
    all.dedup();
    Some(all)
}
