//! Watching: live secrets follow the cached secrets they were resolved from, changes reach
//! them as one publication per vault secret, and the user's hooks hear about it, outside
//! every lock and under `catch_unwind`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::fetch::vault_failure;
use super::{FetchKey, Resolver};
use crate::audit;
use crate::cache::{Text, lock};
use crate::error::{ErrorKind, Failure, VaultError};
use crate::live::{Group, LiveSink, Member, PrepareError};
use crate::reference::RefView;
use crate::rotation::Change;
use crate::slot::SecretSlot;

impl Resolver {
    /// Makes a live secret follow a cached secret (once, however often it resolves), and
    /// gives it its first value, consistent with the other live secrets of that secret.
    pub(super) fn follow(
        &self,
        key: &FetchKey,
        sink: &Arc<dyn LiveSink>,
        slot: &dyn SecretSlot,
        whole: &Text,
        r: &RefView<'_>,
    ) -> Result<(), Failure> {
        let group = {
            let mut groups = lock(&self.inner.groups);
            match groups.get(key) {
                Some(g) => g.clone(),
                None => {
                    // Pruned on insert: groups whose live secrets are all gone go, and their
                    // secrets may leave the cache again.
                    groups.retain(|k, g| {
                        // A group another thread holds (it is joining it) stays.
                        let alive = Arc::strong_count(g) > 1 || g.prune() > 0;
                        if !alive {
                            self.inner.cache.pin(k, false);
                        }
                        alive
                    });
                    let g = Group::new();
                    groups.insert(key.clone(), g.clone());
                    g
                }
            }
        };
        self.inner.cache.pin(key, true);
        let member = Member {
            sink: Arc::downgrade(sink),
            key: r.key().map(Box::from),
            reference: crate::redact::scrub(r.as_str()).into(),
            vault: r.vault().into(),
        };
        match group.join(sink, member, whole) {
            Ok(true) => Ok(()),
            // Already following another vault secret (resolved by another resolver): it keeps
            // following that one.
            Ok(false) if slot.has_value() => Ok(()),
            Ok(false) => Err(Failure::new(
                ErrorKind::InvalidConfig,
                "this live secret already follows another vault secret",
            )
            .with_reference(r.as_str())
            .with_vault(r.vault())),
            Err(PrepareError::Key(e)) => Err(vault_failure(e, r)),
            Err(PrepareError::Convert(e)) => Err(Failure::new(
                ErrorKind::Conversion,
                format!("the secret does not fit `{}`: {e}", slot.type_name()),
            )
            .with_reference(r.as_str())
            .with_vault(r.vault())),
            Err(PrepareError::Panicked) => Err(Failure::new(
                ErrorKind::Conversion,
                format!("converting the secret into `{}` panicked", slot.type_name()),
            )
            .with_reference(r.as_str())
            .with_vault(r.vault())),
        }
    }

    /// Gives the new text of a cached secret to the live secrets that follow it, as one
    /// publication; then, with no lock held, tells their subscribers and the hooks.
    pub(super) fn propagate(&self, key: &FetchKey, outcome: &crate::cache::Outcome, seq: u64) {
        let Ok(text) = &outcome.result else {
            return;
        };
        let Some(group) = lock(&self.inner.groups).get(key).cloned() else {
            return;
        };
        let publication = group.publish(text, seq);
        // The hook hears of every change of the publication before any subscriber wakes:
        // whoever is woken sees a resolver that is done with it.
        if let Some(hook) = &self.inner.on_change {
            for changed in &publication.changed {
                let change = Change {
                    reference: changed.reference.clone(),
                    vault: changed.vault.clone(),
                };
                self.run_hook("on_change", Some(&change.reference), || hook(&change));
            }
        }
        for changed in publication.changed {
            changed.sink.notify();
        }
        for failure in publication.failed {
            // The live secret keeps its previous value.
            audit::failure(&failure);
            self.warn(&failure);
        }
    }

    /// Reports a warning to the `on_warning` hook, if any, outside every lock.
    pub(crate) fn warn(&self, warning: &Failure) {
        if let Some(hook) = &self.inner.on_warning
            && catch_unwind(AssertUnwindSafe(|| hook(warning))).is_err()
        {
            // The warning hook itself panicked: only the audit event is left.
            audit::hook_panicked("on_warning", warning.reference());
        }
    }

    /// Runs a user's hook, catching a panic: it is reported (audit event and warning), and
    /// the rotation goes on.
    pub(super) fn run_hook(&self, name: &'static str, reference: Option<&str>, f: impl FnOnce()) {
        if catch_unwind(AssertUnwindSafe(f)).is_err() {
            audit::hook_panicked(name, reference);
            let mut warning = Failure::new(
                ErrorKind::Other,
                format!("the {name} hook panicked; rotation goes on"),
            );
            if let Some(r) = reference {
                warning = warning.with_reference(r);
            }
            self.warn(&warning);
        }
    }
}

fn served_previous(err: &VaultError) -> VaultError {
    VaultError::new(
        err.kind(),
        format!("{err}; serving the previous value (within resurrect_ttl)"),
    )
}

/// A resurrection seen by the rotation, which knows the secret but not the references.
pub(super) fn resurrection_for_key(err: &VaultError, label: &str, backend: &str) -> Failure {
    Failure::from_vault(served_previous(err))
        .with_reference(label)
        .with_vault(backend)
}

pub(super) fn resurrection(err: &VaultError, r: &RefView<'_>) -> Failure {
    vault_failure(served_previous(err), r)
}
