//! `Live<T>`: a secret that always shows the current value of its reference, so that a
//! long-running service sees a rotated password without reloading its configuration.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwapOption, Guard};
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
/// Reading it is an atomic load of the current value: no lock, and never a fetch, which the
/// rotation does on its own thread. A value read stays valid (and unchanged) while the guard
/// is held, even if the secret rotates meanwhile. Clones share the same live value.
///
/// Everything else is as for `Secret<T>`: `Debug` never shows the value, there is no
/// `Display`, serializing writes the reference, values are zeroized when the last reader
/// drops them.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use secret_ref::vault::{Request, Vault};
/// use secret_ref::{Live, Resolver, ResolveSecrets, VaultError};
/// use serde::Deserialize;
/// use zeroize::Zeroizing;
///
/// /// A vault whose secret the example rotates by hand.
/// struct Rotating(Arc<Mutex<String>>);
///
/// impl Vault for Rotating {
///     fn options(&self) -> &'static [&'static str] { &[] }
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
/// assert_eq!(*config.db_password.expose_secret(), "first");
///
/// *current.lock().unwrap() = String::from("second");
/// resolver.refresh_all();   // what the rotation thread does on its schedule
/// assert_eq!(*config.db_password.expose_secret(), "second");
/// assert!(changes.try_recv().is_ok());
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub struct Live<T> {
    inner: Arc<Shared<T>>,
}

struct Shared<T> {
    value: ArcSwapOption<Held<T>>,
    /// The reference as written; `None` for a literal.
    raw: Option<Box<str>>,
    parsed: OnceBox<Option<Reference>>,
    subscribers: Mutex<Vec<Sender<()>>>,
    version: AtomicU64,
    /// A digest of the text the value came from: a secret shares its vault secret with
    /// others (`db/user`, `db/password`), and only a change of its own part is a change.
    digest: AtomicU64,
    wipe: fn(&mut T),
}

fn digest(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// A value, zeroized when the last reader lets go of it.
struct Held<T> {
    value: T,
    wipe: fn(&mut T),
}

impl<T> Drop for Held<T> {
    fn drop(&mut self) {
        (self.wipe)(&mut self.value);
    }
}

/// A read of a [`Live`] secret's value, as it was when read.
pub struct LiveGuard<T> {
    guard: Guard<Option<Arc<Held<T>>>>,
}

impl<T> std::ops::Deref for LiveGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self
            .guard
            .as_ref()
            .expect("a guard is only made for a value")
            .value
    }
}

impl<T> fmt::Debug for LiveGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LiveGuard([REDACTED])")
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
        Live {
            inner: Arc::new(Shared {
                value: ArcSwapOption::new(value.map(|value| Arc::new(Held { value, wipe }))),
                raw,
                parsed: OnceBox::new(),
                subscribers: Mutex::new(Vec::new()),
                version: AtomicU64::new(0),
                digest: AtomicU64::new(0),
                wipe,
            }),
        }
    }
}

impl<T> Live<T> {
    /// The current value. Panics (with the reference, never a value) if the secret was never
    /// resolved; see [`try_expose_secret`](Live::try_expose_secret).
    #[track_caller]
    pub fn expose_secret(&self) -> LiveGuard<T> {
        match self.try_expose_secret() {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// The current value, or an [`ErrorKind::Unresolved`](crate::ErrorKind::Unresolved) error.
    pub fn try_expose_secret(&self) -> Result<LiveGuard<T>, Error> {
        let guard = self.inner.value.load();
        if guard.is_some() {
            Ok(LiveGuard { guard })
        } else {
            Err(crate::secret::unresolved(
                self.reference_str().unwrap_or(""),
            ))
        }
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
        self.inner.value.load().is_some()
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
        if self.value.load().is_some() && self.digest.load(Ordering::Acquire) == new {
            return Ok(false);
        }
        let value = convert::from_text::<T>(text)?;
        self.digest.store(new, Ordering::Release);
        let had = self
            .value
            .swap(Some(Arc::new(Held {
                value,
                wipe: self.wipe,
            })))
            .is_some();
        if had {
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
