//! `Live<T>`: a secret that always shows the current value of its reference, so that a
//! long-running service sees a rotated password without reloading its configuration.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use once_cell::race::OnceBox;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use crate::convert::{self, ConvertError};
use crate::error::Error;
use crate::reference::{Redacted, Reference};
use crate::secret::{Secret, SecretSlot};

/// A secret whose value follows its vault: resolved like a [`Secret<T>`], then kept current
/// by the resolver's rotation ([`Resolver::start_rotation`](crate::Resolver::start_rotation)),
/// and by [`Resolver::refresh`](crate::Resolver::refresh).
///
/// Reading it is one atomic load: no lock, no reference count, and never a fetch, which the
/// rotation does on its own thread. A value read stays valid, and unchanged, for as long as
/// it is borrowed, even if the secret rotates meanwhile: values that rotate out are kept
/// (unchanged) until the `Live` is dropped, and zeroized then. A long-running service thus
/// keeps one copy of each value the secret had, which is what makes reads free; dropping the
/// `Live` (when reloading the configuration, say) releases them. Clones share the same live
/// value.
///
/// Everything else is as for `Secret<T>`: `Debug` never shows the value, there is no
/// `Display`, serializing writes the reference, values are zeroized when dropped.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use secret_ref::vault::{Request, Vault, VaultOption};
/// use secret_ref::{Live, Resolver, ResolveSecrets, VaultError};
/// use serde::Deserialize;
/// use zeroize::Zeroizing;
///
/// /// A vault whose secret the example rotates by hand.
/// struct Rotating(Arc<Mutex<String>>);
///
/// impl Vault for Rotating {
///     fn options(&self) -> &'static [VaultOption] { &[] }
///     fn fetch(&self, _: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
///         Ok(Zeroizing::new(self.0.lock().unwrap().clone()))
///     }
/// }
///
/// #[derive(Deserialize, ResolveSecrets)]
/// struct Config { db_password: Live<String> }
///
/// let current = Arc::new(Mutex::new(String::from("first")));
/// let resolver = Resolver::builder().vault("rotating", Rotating(current.clone())).build()?;
/// let config: Config = resolver.scope(|| {
///     serde_json::from_str(r#"{"db_password": "{vault://rotating/db}"}"#)
/// })?;
/// let changes = config.db_password.subscribe();
/// assert_eq!(config.db_password.expose_secret(), "first");
///
/// *current.lock().unwrap() = String::from("second");
/// resolver.refresh_all();   // what the rotation thread does on its schedule
/// assert_eq!(config.db_password.expose_secret(), "second");
/// assert!(changes.try_recv().is_ok());
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub struct Live<T> {
    inner: Arc<Shared<T>>,
}

struct Shared<T> {
    /// The current value; null until resolved. Owned: a `Box<Held<T>>` made into a pointer.
    current: AtomicPtr<Held<T>>,
    /// Values that rotated out. Readers may still hold references into them for as long as
    /// they borrow the `Live`, so they are only freed (and zeroized) with it.
    retired: Mutex<Vec<Box<Held<T>>>>,
    /// The reference as written; `None` for a literal.
    raw: Option<Box<str>>,
    parsed: OnceBox<Option<Reference>>,
    subscribers: Mutex<Vec<Sender<()>>>,
    version: AtomicU64,
    /// A digest of the text the value came from: a secret shares its vault secret with
    /// others (`db/user`, `db/password`), and only a change of its own part is a change.
    digest: AtomicU64,
    wipe: fn(&mut T),
    /// `AtomicPtr` is `Send` and `Sync` whatever it points to; this makes `Shared<T>` only as
    /// shareable as `T` is.
    _owns: PhantomData<Box<Held<T>>>,
}

fn digest(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// A value, zeroized when dropped.
struct Held<T> {
    value: T,
    wipe: fn(&mut T),
}

impl<T> Drop for Held<T> {
    fn drop(&mut self) {
        (self.wipe)(&mut self.value);
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        if !current.is_null() {
            // SAFETY: `current` came from `Box::into_raw` and is owned here; no reader is
            // left, since readers borrow a `Live`, which holds this `Shared`.
            drop(unsafe { Box::from_raw(current) });
        }
        // The retired values drop (and zeroize) with their vector.
    }
}

impl<T: Zeroize> Live<T> {
    /// A literal value, which never changes.
    pub fn new(value: T) -> Self {
        Self::from_parts(Some(value), None)
    }

    /// An unresolved secret that will follow `reference`.
    pub fn from_reference(reference: Reference) -> Self {
        let live = Self::from_parts(None, Some(reference.as_str().into()));
        let _ = live.inner.parsed.set(Box::new(Some(reference)));
        live
    }

    fn from_parts(value: Option<T>, raw: Option<Box<str>>) -> Self {
        let wipe = T::zeroize;
        let current = value.map_or(std::ptr::null_mut(), |value| {
            Box::into_raw(Box::new(Held { value, wipe }))
        });
        Live {
            inner: Arc::new(Shared {
                current: AtomicPtr::new(current),
                retired: Mutex::new(Vec::new()),
                raw,
                parsed: OnceBox::new(),
                subscribers: Mutex::new(Vec::new()),
                version: AtomicU64::new(0),
                digest: AtomicU64::new(0),
                wipe,
                _owns: PhantomData,
            }),
        }
    }
}

impl<T> Live<T> {
    /// The current value. Panics (with the reference, never a value) if the secret was never
    /// resolved; see [`try_expose_secret`](Live::try_expose_secret).
    #[track_caller]
    #[inline]
    pub fn expose_secret(&self) -> &T {
        match self.try_expose_secret() {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// The current value, or an [`ErrorKind::Unresolved`](crate::ErrorKind::Unresolved) error.
    #[inline]
    pub fn try_expose_secret(&self) -> Result<&T, Error> {
        let current = self.inner.current.load(Ordering::Acquire);
        if current.is_null() {
            return Err(crate::secret::unresolved(
                self.reference_str().unwrap_or(""),
            ));
        }
        // SAFETY: a non-null `current` points to a `Held<T>` that stays allocated and
        // unchanged until `Shared` drops (rotated-out values move to `retired`), and `Shared`
        // outlives this borrow of `self`. Acquire pairs with the store's release.
        Ok(unsafe { &(*current).value })
    }

    /// A channel that receives `()` each time the value changes. Changes sent while nobody
    /// receives are kept until read; drop the receiver to unsubscribe.
    pub fn subscribe(&self) -> Receiver<()> {
        let (tx, rx) = channel();
        self.inner
            .subscribers
            .lock()
            .expect("subscribers lock")
            .push(tx);
        rx
    }

    /// How many times the value changed since it was first resolved.
    pub fn version(&self) -> u64 {
        self.inner.version.load(Ordering::Acquire)
    }

    /// The reference this secret follows; `None` for a literal or a malformed reference.
    pub fn reference(&self) -> Option<&Reference> {
        let raw = self.inner.raw.as_deref()?;
        self.inner
            .parsed
            .get_or_init(|| Box::new(Reference::parse(raw).ok()))
            .as_ref()
    }

    /// The reference exactly as written.
    pub fn reference_str(&self) -> Option<&str> {
        self.inner.raw.as_deref()
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

/// What the resolver's rotation holds of a live secret (weakly): a way to give it new text.
pub(crate) trait LiveSink: Send + Sync {
    /// Converts the text, stores it as the current value and tells the subscribers. Returns
    /// whether the value changed (the same text again changes nothing).
    fn update(&self, text: Zeroizing<String>) -> Result<bool, ConvertError>;
}

impl<T: DeserializeOwned + Send + Sync> LiveSink for Shared<T> {
    fn update(&self, text: Zeroizing<String>) -> Result<bool, ConvertError> {
        let new = digest(&text);
        if !self.current.load(Ordering::Acquire).is_null()
            && self.digest.load(Ordering::Acquire) == new
        {
            return Ok(false);
        }
        let value = convert::from_text::<T>(text)?;
        self.digest.store(new, Ordering::Release);
        let fresh = Box::into_raw(Box::new(Held {
            value,
            wipe: self.wipe,
        }));
        let previous = self.current.swap(fresh, Ordering::AcqRel);
        let had = !previous.is_null();
        if had {
            // SAFETY: `previous` came from `Box::into_raw` and was just unpublished; readers
            // that loaded it keep valid references, because it is kept rather than freed.
            let previous = unsafe { Box::from_raw(previous) };
            self.retired.lock().expect("retired lock").push(previous);
            self.version.fetch_add(1, Ordering::AcqRel);
            // Dead receivers are dropped here, which is how unsubscribing works.
            self.subscribers
                .lock()
                .expect("subscribers lock")
                .retain(|tx| tx.send(()).is_ok());
        }
        Ok(true)
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
        self.inner.update(text).map(drop)
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn live(&self) -> Option<Arc<dyn LiveSink>> {
        self.reference_str().map(|_| self.sink())
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
            (false, Some(raw)) => write!(f, "Live({})", Redacted(raw)),
            _ => f.write_str("Live([REDACTED])"),
        }
    }
}

impl<T> Serialize for Live<T> {
    /// Writes the reference back; a literal refuses, as `Secret<T>` does.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.inner.raw {
            Some(raw) => serializer.serialize_str(raw),
            None => Err(serde::ser::Error::custom(
                "refusing to serialize a literal secret",
            )),
        }
    }
}

impl<'de, T: Zeroize + DeserializeOwned + Send + Sync + 'static> Deserialize<'de> for Live<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (value, raw) = crate::secret::deserialize_parts::<T, D>(deserializer)?;
        let mut live = Live::from_parts(value, raw);
        if !live.is_resolved() && crate::resolver::in_scope() {
            crate::resolver::resolve_in_scope(&mut live);
        }
        Ok(live)
    }
}

impl<T: Zeroize + DeserializeOwned> From<Secret<T>> for Live<T> {
    fn from(secret: Secret<T>) -> Self {
        let (value, raw) = secret.into_parts();
        Live::from_parts(value, raw)
    }
}
