//! The async API: a resolution whose vault requests run on the resolver's own threads, so
//! that an async executor is never blocked, without depending on any async runtime.
//!
//! A resolution runs in three steps. When the future is first polled, the references of the
//! value are collected (no I/O). The resolver's pool then fetches each distinct secret, local
//! or remote, exactly as [`Resolver::resolve`] would, into a memo. When the pool is done, it
//! wakes the future, whose next poll applies the memo to the value: parsing, conversion and
//! field paths are the synchronous resolution's own code, reading the memo instead of the
//! vaults.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::{Memo, Resolver};
use crate::cache::lock;
use crate::error::{Error, ErrorKind, Failure};
use crate::reference::Reference;
use crate::resolve::{ResolveSecrets, Walker};
use crate::secret::Secret;
use zeroize::Zeroizing;

/// The future of [`ResolveSecrets::resolve_secrets_async`] and [`Resolver::resolve_async`]:
/// resolves every unresolved secret of a value without blocking the executor that polls it.
///
/// It needs no particular async runtime: vault requests run on the resolver's own threads,
/// which wake the future when they are done. Dropping the future before it completes
/// abandons the resolution: requests already sent finish in the background (and fill the
/// cache), and the value is left as it was.
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
/// use secret_ref::{Resolver, ResolveSecrets, Secret};
/// use secret_ref::vault::memory::MemoryVault;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, ResolveSecrets)]
/// struct Config { password: Secret<String> }
///
/// let vault: MemoryVault = [("db", "pw")].into_iter().collect();
/// let resolver = Resolver::builder().vault("v", vault).build()?;
/// let mut config: Config = serde_json::from_str(r#"{"password": "{vault://v/db}"}"#)?;
///
/// // In an async fn: `config.resolve_secrets_async(&resolver).await?;`
/// block_on(config.resolve_secrets_async(&resolver))?;
/// assert_eq!(config.password.expose_secret(), "pw");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a future does nothing unless awaited"]
pub struct Resolving<'a, T: ?Sized> {
    value: &'a mut T,
    resolver: Resolver,
    step: Step,
}

enum Step {
    /// Not polled yet.
    Start,
    /// The pool is fetching.
    Fetching(Arc<Task>),
    Done,
}

/// What the future and the pool's thread share.
struct Task {
    state: Mutex<TaskState>,
}

#[derive(Default)]
struct TaskState {
    outcome: Option<std::thread::Result<Memo>>,
    waker: Option<Waker>,
    /// The future was dropped: a job not started yet is skipped.
    abandoned: bool,
}

impl<T: ?Sized> std::fmt::Debug for Resolving<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let step = match self.step {
            Step::Start => "start",
            Step::Fetching(_) => "fetching",
            Step::Done => "done",
        };
        f.debug_struct("Resolving")
            .field("step", &step)
            .finish_non_exhaustive()
    }
}

impl<T: ResolveSecrets + ?Sized> Future for Resolving<'_, T> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let task = match &this.step {
            Step::Done => panic!("`Resolving` polled after it completed"),
            Step::Fetching(task) => task.clone(),
            Step::Start => {
                let references = references(this.value);
                if references.is_empty() {
                    // Nothing to fetch: what is left (literals where only references are
                    // allowed, ...) is reported without any vault.
                    this.step = Step::Done;
                    return Poll::Ready(this.resolver.resolve_with(
                        this.value,
                        &mut Memo::default(),
                        false,
                    ));
                }
                let task = Arc::new(Task {
                    state: Mutex::new(TaskState {
                        waker: Some(cx.waker().clone()),
                        ..TaskState::default()
                    }),
                });
                let job = {
                    let task = task.clone();
                    let resolver = this.resolver.clone();
                    Box::new(move || {
                        if lock(&task.state).abandoned {
                            return;
                        }
                        // A panicking hook must not leave the future waiting forever: the
                        // panic is handed to it, and resumed where it is awaited, as the
                        // synchronous resolution would have panicked in its caller.
                        let outcome =
                            catch_unwind(AssertUnwindSafe(|| resolver.prefetch(&references)));
                        drop(resolver);
                        let waker = {
                            let mut state = lock(&task.state);
                            state.outcome = Some(outcome);
                            state.waker.take()
                        };
                        if let Some(waker) = waker {
                            waker.wake();
                        }
                    })
                };
                if this.resolver.inner.pool.submit(job).is_err() {
                    this.step = Step::Done;
                    return Poll::Ready(Err(Error::from_failures(vec![Failure::new(
                        ErrorKind::Other,
                        "could not start a thread to fetch the secrets",
                    )])));
                }
                this.step = Step::Fetching(task);
                return Poll::Pending;
            }
        };
        let mut state = lock(&task.state);
        match state.outcome.take() {
            None => {
                match &state.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => state.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Some(outcome) => {
                drop(state);
                this.step = Step::Done;
                match outcome {
                    Ok(mut memo) => {
                        Poll::Ready(this.resolver.resolve_with(this.value, &mut memo, false))
                    }
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        }
    }
}

impl<T: ?Sized> Drop for Resolving<'_, T> {
    fn drop(&mut self) {
        if let Step::Fetching(task) = &self.step {
            let mut state = lock(&task.state);
            state.abandoned = true;
            state.waker = None;
        }
    }
}

/// The references of `value` that a resolution would fetch: those of unresolved secrets.
/// Copied into wiped storage: a malformed one may be a mistyped password.
fn references<T: ResolveSecrets + ?Sized>(value: &mut T) -> Vec<Zeroizing<String>> {
    let mut walker = Walker::new();
    value.visit_secrets(&mut walker);
    walker
        .slots
        .iter()
        .filter(|slot| !slot.secret.has_value())
        .filter_map(|slot| slot.secret.reference_str())
        .map(|raw| Zeroizing::new(raw.to_owned()))
        .collect()
}

impl Resolver {
    /// Resolves every unresolved secret in `value` as [`Resolver::resolve`] does, without
    /// blocking the async executor: vault requests run on the resolver's own threads. See
    /// [`Resolving`].
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
    /// use secret_ref::{Resolver, Secret};
    /// use secret_ref::vault::memory::MemoryVault;
    ///
    /// let vault: MemoryVault = [("a", "1"), ("b", "2")].into_iter().collect();
    /// let resolver = Resolver::builder().vault("v", vault).build()?;
    /// let mut tokens: Vec<Secret<u8>> =
    ///     vec![Secret::from_reference("{vault://v/a}".parse()?), Secret::from_reference("{vault://v/b}".parse()?)];
    /// block_on(resolver.resolve_async(&mut tokens))?;
    /// assert_eq!(*tokens[1].expose_secret(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve_async<'a, T: ResolveSecrets + ?Sized>(
        &self,
        value: &'a mut T,
    ) -> Resolving<'a, T> {
        Resolving {
            value,
            resolver: self.clone(),
            step: Step::Start,
        }
    }

    /// Resolves one reference to its text, as [`Resolver::get`] does, without blocking the
    /// async executor: the vault request runs on the resolver's own threads.
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
    /// use secret_ref::Resolver;
    /// use secret_ref::vault::memory::MemoryVault;
    ///
    /// let vault: MemoryVault = [("api-token", "t0k3n")].into_iter().collect();
    /// let resolver = Resolver::builder().vault("mem", vault).build()?;
    /// // In an async fn: `resolver.get_async("{vault://mem/api-token}").await?`
    /// let token = block_on(resolver.get_async("{vault://mem/api-token}"))?;
    /// assert_eq!(token.expose_secret(), "t0k3n");
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub async fn get_async(&self, reference: &str) -> Result<Secret<String>, Error> {
        let mut secret = Secret::from_reference(Reference::parse(reference)?);
        self.resolve_async(&mut secret).await?;
        Ok(secret)
    }
}
