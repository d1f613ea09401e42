//! Rotation, live secrets, refresh and retry, against an in-process vault the tests control
//! (the same against OpenBao and moto is in hcv.rs and aws.rs).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use secret_ref::clock::ManualClock;
use secret_ref::vault::memory::MemoryVault;
use secret_ref::{ErrorKind, Live, ResolveSecrets, Resolver, Secret, VaultError};
use serde::Deserialize;

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Service {
    password: Live<String>,
    user: Live<String>,
    port: Live<u16>,
    fixed: Live<String>,
}

const SERVICE: &str = r#"{
    "password": "{vault://switch/db/password}",
    "user": "{vault://switch/db/user}",
    "port": "{vault://switch/db/port}",
    "fixed": "literal"
}"#;

fn json(user: &str, password: &str, port: u16) -> String {
    format!(r#"{{"user":"{user}","password":"{password}","port":{port}}}"#)
}

fn builder(vault: &MemoryVault, ttl: &str) -> secret_ref::ResolverBuilder {
    Resolver::builder()
        .vault("switch", vault.clone())
        .configure("switch", "ttl", ttl)
}

#[test]
fn the_rotation_thread_keeps_live_secrets_current() {
    let vault = MemoryVault::new();
    vault.set("db", json("app", "v1", 5432));
    let changes = Arc::new(Mutex::new(Vec::new()));
    let seen = changes.clone();
    let clock = Arc::new(ManualClock::new());
    let resolver = builder(&vault, "0.2")
        .clock(clock.clone())
        .on_change(move |c| seen.lock().unwrap().push(c.reference().to_owned()))
        .build()
        .unwrap();
    let service: Service = resolver.scope(|| serde_json::from_str(SERVICE)).unwrap();
    assert_eq!(vault.fetches(), 1, "three references, one secret");
    assert_eq!(*service.password.expose_secret(), "v1");
    assert_eq!(*service.fixed.expose_secret(), "literal");
    let password_changes = service.password.subscribe();

    let rotation = resolver.start_rotation(Duration::from_millis(1));
    vault.set("db", json("app", "v2", 6543));
    // The ttl runs out: the thread's next pass fetches the new value.
    clock.advance(Duration::from_millis(200));
    password_changes
        .recv_timeout(Duration::from_secs(5))
        .expect("the password rotates within ttl + one interval");
    assert_eq!(*service.password.expose_secret(), "v2");
    assert_eq!(*service.port.expose_secret(), 6543);
    assert_eq!(*service.user.expose_secret(), "app");
    assert_eq!(service.password.version(), 1);
    // One change per live secret whose own value changed (the user did not), through the
    // resolver-wide hook.
    let mut seen = changes.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        ["{vault://switch/db/password}", "{vault://switch/db/port}"]
    );
    assert_eq!(service.user.version(), 0);
    rotation.stop();
}

#[test]
fn a_read_stays_valid_while_the_value_rotates() {
    let vault = MemoryVault::new();
    vault.set("db", json("app", "v1", 1));
    let resolver = builder(&vault, "60").build().unwrap();
    let service: Service = resolver.scope(|| serde_json::from_str(SERVICE)).unwrap();
    let before = service.password.expose_secret();
    vault.set("db", json("app", "v2", 1));
    let report = resolver.refresh_all();
    assert_eq!((report.checked, report.fetched, report.changed), (1, 1, 1));
    // The value read before is still there, unchanged; while that read lives, reads of the
    // same vault secret on this thread come from the same version.
    assert_eq!(before, "v1");
    assert_eq!(*service.password.expose_secret(), "v1");
    drop(before);
    // A new read sees the new value.
    assert_eq!(*service.password.expose_secret(), "v2");
    // Clones share the live value.
    let clone = service.password.clone();
    assert_eq!(*clone.expose_secret(), "v2");
}

#[test]
fn rotation_follows_kongs_ttl_rules() {
    let vault = MemoryVault::new();
    vault.set("p", "v1");
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let seen = warnings.clone();
    let clock = Arc::new(ManualClock::new());
    let resolver = builder(&vault, "0.2")
        .configure("switch", "resurrect_ttl", "0.5")
        .configure("switch", "neg_ttl", "0.2")
        .clock(clock.clone())
        .on_warning(move |f| seen.lock().unwrap().push(f.to_string()))
        .build()
        .unwrap();
    let mut password: Live<String> = Live::from_reference("{vault://switch/p}".parse().unwrap());
    resolver.resolve(&mut password).unwrap();
    let ms = |n| clock.advance(Duration::from_millis(n));

    // Within the ttl, nothing is due.
    ms(199);
    assert_eq!(resolver.rotate().fetched, 0);
    // Past it: fetched again; unchanged.
    ms(1);
    let report = resolver.rotate();
    assert_eq!((report.fetched, report.changed), (1, 0));

    // The vault goes down: the previous value is served (resurrect_ttl), with a warning.
    ms(200);
    vault.fail_all(VaultError::unreachable("connection refused"));
    let report = resolver.rotate();
    assert_eq!(report.resurrected, 1);
    assert_eq!(*password.expose_secret(), "v1");
    assert!(warnings.lock().unwrap()[0].contains("serving the previous value"));
    assert_eq!(
        resolver.get("{vault://switch/p}").unwrap().expose_secret(),
        "v1",
        "readers get the previous value too"
    );

    // Past ttl + resurrect_ttl: the failure stands for readers; the live secret keeps its
    // last value (it cannot become unresolved).
    ms(500);
    let report = resolver.rotate();
    assert_eq!(report.failed, 1);
    assert_eq!(
        resolver.get("{vault://switch/p}").unwrap_err().kind(),
        ErrorKind::Unreachable
    );
    assert_eq!(*password.expose_secret(), "v1");

    // A failure is asked again after neg_ttl, doubled for each failure in a row (here the
    // second: 0.4 s, ± 10%), not before; then the vault is back.
    let before = vault.fetches();
    ms(350);
    assert_eq!(resolver.rotate().fetched, 0, "within the backoff");
    vault.recover_all();
    vault.set("p", "v2");
    ms(100);
    let report = resolver.rotate();
    assert_eq!((report.fetched, report.changed), (1, 1));
    assert_eq!(vault.fetches(), before + 1);
    assert_eq!(*password.expose_secret(), "v2");
}

#[test]
fn failures_without_neg_ttl_are_not_fetched_by_the_rotation() {
    let vault = MemoryVault::new();
    let clock = Arc::new(ManualClock::new());
    let resolver = builder(&vault, "1").clock(clock.clone()).build().unwrap();
    // 50 references that fail, without a neg_ttl.
    for i in 0..50 {
        assert!(resolver.get(&format!("{{vault://switch/s{i}}}")).is_err());
    }
    assert_eq!(vault.fetches(), 50);
    for _ in 0..3 {
        clock.advance(Duration::from_secs(10));
        assert_eq!(resolver.rotate().fetched, 0);
    }
    assert_eq!(vault.fetches(), 50, "3 passes, no extra fetch");
    // A caller asking is another matter.
    assert!(resolver.get("{vault://switch/s0}").is_err());
    assert_eq!(vault.fetches(), 51);
}

#[test]
fn secrets_without_a_ttl_are_never_rotated() {
    let vault = MemoryVault::new();
    vault.set("p", "v1");
    let resolver = Resolver::builder()
        .vault("switch", vault.clone())
        .build()
        .unwrap();
    let mut password: Live<String> = Live::from_reference("{vault://switch/p}".parse().unwrap());
    resolver.resolve(&mut password).unwrap();
    vault.set("p", "v2");
    assert_eq!(resolver.rotate().fetched, 0);
    assert_eq!(*password.expose_secret(), "v1");
    // Unless asked.
    assert_eq!(resolver.refresh_all().changed, 1);
    assert_eq!(*password.expose_secret(), "v2");
}

#[test]
fn a_rotated_value_that_does_not_fit_keeps_the_old_one() {
    let vault = MemoryVault::new();
    vault.set("port", "5432");
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let seen = warnings.clone();
    let resolver = builder(&vault, "60")
        .on_warning(move |f| seen.lock().unwrap().push(f.to_string()))
        .build()
        .unwrap();
    let mut port: Live<u16> = Live::from_reference("{vault://switch/port}".parse().unwrap());
    resolver.resolve(&mut port).unwrap();
    vault.set("port", "c4n4ry-not-a-port");
    resolver.refresh_all();
    assert_eq!(*port.expose_secret(), 5432);
    let warnings = warnings.lock().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("the new value does not fit"),
        "{}",
        warnings[0]
    );
    assert!(!warnings[0].contains("c4n4ry"));
}

#[test]
fn the_rotation_thread_stops_with_its_resolver_or_when_told() {
    let resolver = Resolver::new();
    let rotation = resolver.start_rotation(Duration::from_millis(1));
    assert!(rotation.is_running());
    drop(resolver);
    // The thread notices at its next pass; this waits for it, bounded.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rotation.is_running() && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(
        !rotation.is_running(),
        "the thread ends once the resolver is dropped"
    );

    // Stopping waits for the thread, however long its interval.
    let resolver = Resolver::new();
    let started = std::time::Instant::now();
    resolver.start_rotation(Duration::from_secs(3600)).stop();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn dropped_live_secrets_are_forgotten() {
    let vault = MemoryVault::new();
    vault.set("p", "v1");
    let resolver = builder(&vault, "60").build().unwrap();
    let mut a: Live<String> = Live::from_reference("{vault://switch/p}".parse().unwrap());
    resolver.resolve(&mut a).unwrap();
    // Resolving again does not follow the secret twice.
    resolver.refresh(&mut a).unwrap();
    let changes = a.subscribe();
    drop(a);
    vault.set("p", "v2");
    let report = resolver.refresh_all();
    assert_eq!(report.changed, 1);
    assert!(changes.try_recv().is_err(), "nobody left to tell");
}

#[test]
fn refresh_and_retry_fetch_again_bypassing_the_cache() {
    let vault = MemoryVault::new();
    vault.set("db", json("app", "old", 1));
    let resolver = builder(&vault, "3600").build().unwrap();

    #[derive(Deserialize, ResolveSecrets)]
    struct Db {
        user: Secret<String>,
        password: Secret<String>,
    }
    let mut db: Db = serde_json::from_str(
        r#"{"user": "{vault://switch/db/user}", "password": "{vault://switch/db/password}"}"#,
    )
    .unwrap();
    db.resolve_secrets(&resolver).unwrap();
    vault.set("db", json("app", "new", 1));
    // Within the ttl, resolving gives the cached value...
    let mut cached: Db = serde_json::from_str(
        r#"{"user": "{vault://switch/db/user}", "password": "{vault://switch/db/password}"}"#,
    )
    .unwrap();
    cached.resolve_secrets(&resolver).unwrap();
    assert_eq!(cached.password.expose_secret(), "old");

    // ...and `retry` refreshes once the database refuses it, then tries again.
    let fetches = vault.fetches();
    let mut attempts = Vec::new();
    let connected = resolver.retry(&mut db, |db| {
        attempts.push(db.password.expose_secret().clone());
        if db.password.expose_secret() == "new" {
            Ok(())
        } else {
            Err("password authentication failed")
        }
    });
    assert_eq!(connected, Ok(()));
    assert_eq!(attempts, ["old", "new"]);
    assert_eq!(vault.fetches(), fetches + 1, "both references, one request");

    // When it keeps failing, `f` runs twice and its error comes back.
    let mut calls = 0;
    let result: Result<(), &str> = resolver.retry(&mut db, |_| {
        calls += 1;
        Err("still refused")
    });
    assert_eq!((result, calls), (Err("still refused"), 2));
}

#[test]
fn live_secrets_never_show_their_value() {
    let vault = MemoryVault::new();
    vault.set("p", "c4n4ry-live");
    let resolver = builder(&vault, "60").build().unwrap();
    let mut live: Live<String> =
        serde_json::from_str(r#""{vault://switch/p?x_token=abc}""#).unwrap();
    assert_eq!(format!("{live:?}"), "Live({vault://switch/p?x_token=***})");
    // `x_token` is not an option of this vault: an error, scrubbed.
    let err = resolver.resolve(&mut live).unwrap_err();
    assert!(!err.to_string().contains("abc"));

    let mut live: Live<String> = serde_json::from_str(r#""{vault://switch/p}""#).unwrap();
    resolver.resolve(&mut live).unwrap();
    assert_eq!(format!("{live:?}"), "Live([REDACTED])");
    assert_eq!(
        serde_json::to_string(&live).unwrap(),
        r#""{vault://switch/p}""#
    );
    assert!(serde_json::to_string(&Live::new(String::from("c4n4ry"))).is_err());
    let unresolved: Live<String> = serde_json::from_str(r#""{vault://switch/q}""#).unwrap();
    assert_eq!(
        unresolved.try_expose_secret().unwrap_err().kind(),
        ErrorKind::Unresolved
    );
}
