//! Audit events: every fetch, cache hit, rotation, resurrection and failure is a structured
//! [`tracing`] event, so that who read which secret, when, and how it went can be logged,
//! counted and alerted on. No event carries a value.
//!
//! All events have the target `secret_ref::audit` and these fields:
//!
//! | Field | Meaning |
//! |---|---|
//! | `event` | `fetch`, `cache_hit`, `rotation`, `resurrection`, `failure`, `insecure` or `hook_panic` |
//! | `vault` | the vault name in the reference (`env`, `hcv`, a named vault) |
//! | `reference` | the reference, with credential-like options (`?token=`) scrubbed |
//! | `path` | the field path (`replicas[1].password`), when the secret belongs to a field |
//! | `outcome` | `ok`, `changed` or `unchanged` (rotation), or the error kind (`not_found`, `unreachable`, ...; see [`ErrorKind::as_str`](crate::ErrorKind::as_str)) |
//! | `duration_ms` | how long the vault took (`fetch`, `rotation`) |
//!
//! | Event | Level | When |
//! |---|---|---|
//! | `fetch` | `INFO` | a vault was asked (for a reference, or for the first of several that share a secret) |
//! | `cache_hit` | `DEBUG` | a reference was served without asking the vault |
//! | `rotation` | `INFO` | the rotation (or a refresh) asked a vault again for a cached secret |
//! | `resurrection` | `WARN` | a vault failed and the previous value was served instead (`resurrect_ttl`) |
//! | `failure` | `WARN` | a reference could not be resolved; `message` says why |
//! | `hook_panic` | `WARN` | a user's `on_change` or `on_warning` hook panicked (field `hook`); the rotation went on |
//! | `insecure` | `WARN` | a vault is used with a setting that weakens security (a token over plain `http`, `ssl_verify = off`): once per vault and setting; `message` says which |
//!
//! Rotation events name the secret by vault, resource and version, since several
//! references may share it: `reference` is then written `{vault://<vault>/<resource>#<version>}`.
//!
//! With `tracing-subscriber`'s `fmt()` subscriber, for example, a fetch is logged as
//!
//! ```text
//! INFO secret_ref::audit: fetch event="fetch" vault="hcv" reference="{vault://hcv/pg/password}" path="pg.password" outcome="ok" duration_ms=3.2
//! ```

use std::time::Duration;

use tracing::{Level, event};

use crate::error::Failure;
use crate::redact::Redacted;
use crate::reference::RefView;

const TARGET: &str = "secret_ref::audit";

/// Whether anyone listens: when not, the resolver does not even read the clock.
pub(crate) fn enabled() -> bool {
    tracing::enabled!(target: TARGET, Level::INFO)
        || tracing::enabled!(target: TARGET, Level::DEBUG)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn fetch(r: &RefView<'_>, path: Option<&str>, outcome: &str, duration: Duration) {
    event!(
        target: TARGET,
        Level::INFO,
        event = "fetch",
        vault = r.vault(),
        reference = %Redacted::new(r.as_str()),
        path,
        outcome,
        duration_ms = ms(duration),
        "fetch"
    );
}

pub(crate) fn cache_hit(r: &RefView<'_>, path: Option<&str>, outcome: &str) {
    event!(
        target: TARGET,
        Level::DEBUG,
        event = "cache_hit",
        vault = r.vault(),
        reference = %Redacted::new(r.as_str()),
        path,
        outcome,
        "cache_hit"
    );
}

pub(crate) fn rotation(vault: &str, reference: &str, outcome: &str, duration: Duration) {
    event!(
        target: TARGET,
        Level::INFO,
        event = "rotation",
        vault,
        reference,
        outcome,
        duration_ms = ms(duration),
        "rotation"
    );
}

pub(crate) fn resurrected(f: &Failure) {
    event!(
        target: TARGET,
        Level::WARN,
        event = "resurrection",
        vault = f.vault(),
        reference = f.reference(),
        path = f.path(),
        outcome = f.kind().as_str(),
        message = f.message(),
        "resurrection"
    );
}

/// A user's hook (`on_change`, `on_warning`) panicked; the rotation went on.
pub(crate) fn hook_panicked(hook: &str, reference: Option<&str>) {
    event!(
        target: TARGET,
        Level::WARN,
        event = "hook_panic",
        hook,
        reference,
        outcome = "panicked",
        "hook_panic"
    );
}

/// A vault used with a setting that weakens security; once per vault and setting.
pub(crate) fn insecure(f: &Failure) {
    event!(
        target: TARGET,
        Level::WARN,
        event = "insecure",
        vault = f.vault(),
        outcome = f.kind().as_str(),
        message = f.message(),
        "insecure"
    );
}

pub(crate) fn failure(f: &Failure) {
    event!(
        target: TARGET,
        Level::WARN,
        event = "failure",
        vault = f.vault(),
        reference = f.reference(),
        path = f.path(),
        outcome = f.kind().as_str(),
        message = f.message(),
        "failure"
    );
}
