//! Audit events: every fetch, cache hit, rotation, resurrection and failure is a `tracing`
//! event with the documented fields, and none carries a value.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use secret_ref::vault::VaultOption;
use secret_ref::vault::env::EnvVault;
use secret_ref::vault::memory::MemoryVault;
use secret_ref::{ResolveSecrets, Resolver, Secret, VaultError};
use serde::Deserialize;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[derive(Clone, Debug)]
struct Seen {
    target: String,
    level: tracing::Level,
    fields: BTreeMap<String, String>,
}

/// Keeps every event, from every thread (the rotation has its own).
struct Capture(Arc<Mutex<Vec<Seen>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Id::from_u64(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Seen {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
        });
    }
}

fn events() -> Arc<Mutex<Vec<Seen>>> {
    static EVENTS: OnceLock<Arc<Mutex<Vec<Seen>>>> = OnceLock::new();
    EVENTS
        .get_or_init(|| {
            let events = Arc::new(Mutex::new(Vec::new()));
            tracing::subscriber::set_global_default(Capture(events.clone())).unwrap();
            events
        })
        .clone()
}

/// The audit events about one vault (each test uses a vault name of its own).
fn about(vault: &str) -> Vec<Seen> {
    events()
        .lock()
        .unwrap()
        .iter()
        .filter(|e| {
            e.target == "secret_ref::audit"
                && e.fields.get("vault").map(String::as_str) == Some(vault)
        })
        .cloned()
        .collect()
}

#[derive(Deserialize, ResolveSecrets)]
struct Config {
    local: Secret<String>,
    unset: Secret<String>,
    missing: Secret<String>,
    remote_user: Secret<String>,
    remote_password: Secret<String>,
}

#[test]
fn every_fetch_hit_rotation_resurrection_and_failure_is_an_event() {
    events();
    let remote = MemoryVault::new();
    remote.set("db", r#"{"user":"c4n4ry-user","password":"c4n4ry-pw"}"#);
    let clock = Arc::new(secret_ref::clock::ManualClock::new());
    let resolver = Resolver::builder()
        .clock(clock.clone())
        .vault(
            "audited-env",
            EnvVault::from_vars([("LOCAL", "c4n4ry-local")]),
        )
        .vault("audited", remote.clone())
        .configure("audited", "ttl", "0.1")
        .configure("audited", "resurrect_ttl", "60")
        .build()
        .unwrap();
    let mut config: Config = serde_json::from_str(
        r#"{"local": "{vault://audited-env/local}", "unset": "{vault://audited-env/unset}", "missing": "{vault://audited-env/missing?x_token=t0ps3cret}",
            "remote_user": "{vault://audited/db/user}", "remote_password": "{vault://audited/db/password}"}"#,
    )
    .unwrap();
    assert!(config.resolve_secrets(&resolver).is_err());

    let env_events = about("audited-env");
    let fetches: Vec<_> = env_events
        .iter()
        .filter(|e| e.fields["event"] == "fetch")
        .collect();
    assert_eq!(fetches.len(), 2);
    assert_eq!(fetches[0].fields["path"], "local");
    assert_eq!(fetches[0].fields["outcome"], "ok");
    assert_eq!(fetches[0].level, tracing::Level::INFO);
    assert!(fetches[0].fields["duration_ms"].parse::<f64>().is_ok());
    assert_eq!(fetches[1].fields["outcome"], "not_found");
    let failures: Vec<_> = env_events
        .iter()
        .filter(|e| e.fields["event"] == "failure")
        .collect();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0].fields["path"], "unset");
    assert_eq!(failures[0].fields["outcome"], "not_found");
    // An unknown option fails before any fetch; its credential-like value is scrubbed.
    assert_eq!(failures[1].fields["path"], "missing");
    assert_eq!(failures[1].fields["outcome"], "invalid_config");
    assert_eq!(
        failures[1].fields["reference"],
        "{vault://audited-env/missing?x_token=***}"
    );
    assert_eq!(failures[1].level, tracing::Level::WARN);

    // Two references to one remote secret: one fetch, then a cache hit.
    let remote_events = about("audited");
    let kinds: Vec<_> = remote_events
        .iter()
        .map(|e| e.fields["event"].as_str())
        .collect();
    assert_eq!(kinds, ["fetch", "cache_hit"]);
    assert_eq!(remote_events[0].fields["path"], "remote_user");
    assert_eq!(remote_events[1].fields["path"], "remote_password");

    // Rotation, then a resurrection when the vault fails.
    clock.advance(std::time::Duration::from_millis(150));
    remote.set("db", r#"{"user":"c4n4ry-2","password":"c4n4ry-3"}"#);
    assert_eq!(resolver.rotate().changed, 1);
    clock.advance(std::time::Duration::from_millis(150));
    remote.fail_all(VaultError::unreachable("connection refused"));
    assert_eq!(resolver.rotate().resurrected, 1);
    let remote_events = about("audited");
    let rotations: Vec<_> = remote_events
        .iter()
        .filter(|e| e.fields["event"] == "rotation")
        .collect();
    assert_eq!(rotations.len(), 2);
    assert_eq!(rotations[0].fields["outcome"], "changed");
    assert_eq!(rotations[0].fields["reference"], "{vault://audited/db}");
    assert_eq!(rotations[1].fields["outcome"], "unreachable");
    let resurrection = remote_events
        .iter()
        .find(|e| e.fields["event"] == "resurrection")
        .unwrap();
    assert_eq!(resurrection.level, tracing::Level::WARN);
    assert!(resurrection.fields["message"].contains("serving the previous value"));

    // No event carries a value or a credential.
    for e in events().lock().unwrap().iter() {
        for v in e.fields.values() {
            assert!(
                !v.contains("c4n4ry") && !v.contains("t0ps3cret"),
                "an event leaked: {v}"
            );
        }
    }
}

/// A vault whose only options are a credential with a name no generic list would catch, and
/// a selector; it is down.
fn sigil() -> MemoryVault {
    const OPTIONS: &[VaultOption] = &[
        VaultOption::credential("sigil"),
        VaultOption::selector("flavour"),
    ];
    let vault = MemoryVault::new().with_options(OPTIONS);
    vault.fail_all(VaultError::unreachable("connection refused"));
    vault
}

#[test]
fn credentials_are_scrubbed_from_events_whatever_their_spelling() {
    events();
    let resolver = Resolver::builder()
        .vault("scrubbed", MemoryVault::new())
        .vault("sigil-vault", sigil())
        .allow_in_references(secret_ref::vault::OptionClass::ALL)
        .build()
        .unwrap();
    // Percent-encoded names reach the vault as `token`; their values stay hidden. A fetch
    // event and a failure event are written for each.
    for reference in [
        "{vault://scrubbed/a?t%6Fken=c4n4ry-1}",
        "{vault://scrubbed/b?api-key=c4n4ry-2}",
        "{vault://scrubbed/c?x%2Dapi%2Dkey=c4n4ry-3}",
        "{vault://sigil-vault/d?sigil=c4n4ry-4}",
        "{vault://sigil-vault/e?flavour=plain&SIGIL=c4n4ry-5}",
    ] {
        assert!(resolver.get(reference).is_err());
    }
    let seen: Vec<_> = about("scrubbed")
        .into_iter()
        .chain(about("sigil-vault"))
        .collect();
    let kinds: Vec<_> = seen.iter().map(|e| e.fields["event"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "failure").count(),
        5,
        "{kinds:?}"
    );
    let references: Vec<_> = seen
        .iter()
        .filter(|e| e.fields["event"] == "failure")
        .map(|e| e.fields["reference"].as_str())
        .collect();
    assert_eq!(
        references,
        [
            "{vault://scrubbed/a?t%6Fken=***}",
            "{vault://scrubbed/b?api-key=***}",
            "{vault://scrubbed/c?x%2Dapi%2Dkey=***}",
            "{vault://sigil-vault/d?sigil=***}",
            "{vault://sigil-vault/e?flavour=plain&SIGIL=***}",
        ]
    );
    for e in &seen {
        for v in e.fields.values() {
            assert!(!v.contains("c4n4ry"), "an event leaked: {v}");
        }
    }
}

/// The async API emits the events the blocking call emits, in the same order: fetches
/// (local and remote), cache hits and failures, each with its path.
#[test]
fn the_async_api_emits_the_same_events() {
    events();
    let run = |suffix: &str, asynchronous: bool| -> Vec<Vec<String>> {
        let env = format!("parity-env-{suffix}");
        let remote_name = format!("parity-{suffix}");
        let remote = MemoryVault::new();
        remote.set("db", r#"{"user":"c4n4ry-user","password":"c4n4ry-pw"}"#);
        let resolver = Resolver::builder()
            .vault(&env, EnvVault::from_vars([("LOCAL", "c4n4ry-local")]))
            .vault(&remote_name, remote)
            .build()
            .unwrap();
        let text = r#"{"local": "{vault://E/local}", "unset": "{vault://E/unset}", "missing": "{vault://E/missing?x_token=t0ps3cret}",
            "remote_user": "{vault://R/db/user}", "remote_password": "{vault://R/db/password}"}"#
            .replace("E/", &format!("{env}/"))
            .replace("R/", &format!("{remote_name}/"));
        let mut config: Config = serde_json::from_str(&text).unwrap();
        let result = if asynchronous {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(config.resolve_secrets_async(&resolver))
        } else {
            config.resolve_secrets(&resolver)
        };
        assert_eq!(result.unwrap_err().failures().len(), 2);
        let mut seen = about(&env);
        seen.extend(about(&remote_name));
        seen.iter()
            .map(|e| {
                ["event", "path", "outcome", "reference"]
                    .iter()
                    .map(|f| {
                        e.fields
                            .get(*f)
                            .map(|v| v.replace(suffix, ""))
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect()
    };
    let blocking = run("sync", false);
    let nonblocking = run("async", true);
    assert_eq!(blocking.len(), 6, "{blocking:?}");
    assert_eq!(nonblocking, blocking);
}
