//! A service resolves its configuration once and runs for months: hooks that misbehave,
//! stopping the rotation while a fetch hangs, many start/stop cycles, and readers that must
//! never see half a rotation.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secret_ref::clock::ManualClock;
use secret_ref::vault::{Request, Vault, VaultOption};
use secret_ref::zeroize::Zeroizing;
use secret_ref::{ErrorKind, Live, ResolveSecrets, Resolver, VaultError};
use serde::Deserialize;

/// Where a hanging fetch says it started, and waits to go on.
type Hang = Option<(Sender<()>, Receiver<()>)>;

/// A vault whose answer the test sets, and which can be made to hang.
#[derive(Clone, Default)]
struct Switch {
    value: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
    /// While set, a fetch reports on the channel and waits for a message to go on.
    hang: Arc<Mutex<Hang>>,
}

impl Switch {
    fn set(&self, v: &str) {
        *self.value.lock().unwrap() = v.to_owned();
    }
}

impl Vault for Switch {
    fn options(&self) -> &'static [VaultOption] {
        &[]
    }

    fn fetch(&self, _: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if let Some((started, go)) = &*self.hang.lock().unwrap() {
            let _ = started.send(());
            let _ = go.recv();
        }
        Ok(Zeroizing::new(self.value.lock().unwrap().clone()))
    }
}

#[derive(Deserialize, ResolveSecrets)]
struct Db {
    user: Live<String>,
    port: Live<u16>,
}

const DB: &str = r#"{"user": "{vault://switch/db/user}", "port": "{vault://switch/db/port}"}"#;

fn pair(n: u32) -> String {
    format!(r#"{{"user":"user-{n}","port":{}}}"#, 1000 + n % 60000)
}

/// Runs `f` on a thread and fails the test if it does not return within `limit`: a
/// deadlock fails instead of hanging the suite.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).expect("deadlock: no answer in time")
}

#[test]
fn a_reader_never_sees_the_new_password_with_the_old_port() {
    let vault = Switch::default();
    vault.set(&pair(0));
    let resolver = Resolver::builder()
        .vault("switch", vault.clone())
        .configure("switch", "ttl", "60")
        .build()
        .unwrap();
    let db: Arc<Db> = Arc::new(resolver.scope(|| serde_json::from_str(DB)).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (db, done) = (db.clone(), done.clone());
        std::thread::spawn(move || {
            let (mut reads, mut mixed, mut seen) = (0u64, 0u64, std::collections::BTreeSet::new());
            let mut check = |user: &str, port: u16| {
                let n: u32 = user.trim_start_matches("user-").parse().unwrap();
                if 1000 + n % 60000 != u32::from(port) {
                    mixed += 1;
                }
                seen.insert(n);
            };
            while !done.load(Ordering::Acquire) {
                // Both orders: user first, then port first.
                {
                    let user = db.user.expose_secret();
                    let port = db.port.expose_secret();
                    check(&user, *port);
                }
                {
                    let port = db.port.expose_secret();
                    let user = db.user.expose_secret();
                    check(&user, *port);
                }
                reads += 2;
            }
            (reads, mixed, seen.len())
        })
    };
    for n in 1..=10_000 {
        vault.set(&pair(n));
        let report = resolver.refresh_all();
        assert_eq!(report.changed, 1);
    }
    done.store(true, Ordering::Release);
    let (reads, mixed, versions) = reader.join().unwrap();
    println!("{reads} reads over 10,000 rotations saw {versions} versions, {mixed} mixed pairs");
    assert_eq!(mixed, 0, "a reader saw the fields of two versions together");
    assert!(
        versions > 1,
        "the reader saw rotations happen ({versions} versions)"
    );
    assert_eq!(*db.port.expose_secret(), 1000 + 10_000);
}

#[test]
fn hooks_run_outside_locks_and_may_call_the_resolver() {
    let vault = Switch::default();
    vault.set(&pair(0));
    let slot: Arc<Mutex<Option<Resolver>>> = Arc::new(Mutex::new(None));
    let calls = Arc::new(AtomicUsize::new(0));
    let resolver = {
        let (slot, calls) = (slot.clone(), calls.clone());
        Resolver::builder()
            .vault("switch", vault.clone())
            .configure("switch", "ttl", "60")
            .on_change(move |_| {
                // Inside the hook: resolve a configuration with live secrets, read one
                // secret, and refresh: none of it may deadlock on the rotation's locks.
                let resolver = slot.lock().unwrap().clone().unwrap();
                let mut db: Db = resolver.scope(|| serde_json::from_str(DB)).unwrap();
                resolver.get("{vault://switch/db/user}").unwrap();
                resolver.refresh(&mut db).unwrap();
                calls.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap()
    };
    *slot.lock().unwrap() = Some(resolver.clone());
    let db: Db = resolver.scope(|| serde_json::from_str(DB)).unwrap();
    vault.set(&pair(1));
    let report = within(Duration::from_secs(20), move || resolver.refresh_all());
    assert_eq!(report.changed, 1);
    assert!(calls.load(Ordering::SeqCst) >= 2, "user and port changed");
    assert_eq!(*db.user.expose_secret(), "user-1");
}

#[test]
fn a_panicking_hook_is_reported_and_rotation_goes_on() {
    let vault = Switch::default();
    vault.set(&pair(0));
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let seen = warnings.clone();
    let resolver = Resolver::builder()
        .vault("switch", vault.clone())
        .configure("switch", "ttl", "60")
        .on_change(|_| panic!("a hook with a bug"))
        .on_warning(move |f| {
            seen.lock()
                .unwrap()
                .push((f.kind(), f.message().to_owned()))
        })
        .build()
        .unwrap();
    let db: Db = resolver.scope(|| serde_json::from_str(DB)).unwrap();
    let user_changes = db.user.subscribe();
    // Silence the default panic message of the hook's panics.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for n in 1..=3 {
        vault.set(&pair(n));
        assert_eq!(resolver.refresh_all().changed, 1);
    }
    std::panic::set_hook(hook);
    // Every change still reached the live secrets and their subscribers.
    assert_eq!(*db.user.expose_secret(), "user-3");
    assert_eq!(db.user.version(), 3);
    assert_eq!(user_changes.try_iter().count(), 3);
    let warnings = warnings.lock().unwrap();
    assert_eq!(
        warnings.len(),
        6,
        "two live secrets, three changes: {warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .all(|(k, m)| *k == ErrorKind::Other && m.contains("on_change"))
    );
    // A rotation thread survives it too.
    let rotation = resolver.start_rotation(Duration::from_millis(5));
    assert!(rotation.is_running());
    rotation.stop();
}

#[test]
fn stopping_returns_promptly_while_a_fetch_hangs() {
    let vault = Switch::default();
    vault.set("v1");
    let clock = Arc::new(ManualClock::new());
    let resolver = Resolver::builder()
        .vault("switch", vault.clone())
        .configure("switch", "ttl", "1")
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut password: Live<String> = Live::from_reference("{vault://switch/p}".parse().unwrap());
    resolver.resolve(&mut password).unwrap();
    // Due for rotation, and the vault will hang.
    clock.advance(Duration::from_secs(2));
    let (started_tx, started_rx) = channel();
    let (go_tx, go_rx) = channel();
    *vault.hang.lock().unwrap() = Some((started_tx, go_rx));
    let rotation = resolver.start_rotation(Duration::from_millis(1));
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the rotation fetches");
    let stopping = Instant::now();
    drop(rotation);
    let took = stopping.elapsed();
    assert!(took < Duration::from_secs(1), "stopping took {took:?}");
    // The hung fetch goes on; once it returns, the thread ends.
    go_tx.send(()).unwrap();
    *vault.hang.lock().unwrap() = None;
    wait_for_no_rotation_threads();
}

/// The rotation threads of this process, by name (`/proc` shows 15 characters).
fn rotation_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0; // not Linux: nothing to count
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "secret-ref-rota")
        .count()
}

/// Threads end soon after they are told; this waits for it (bounded).
fn wait_for_no_rotation_threads() {
    let deadline = Instant::now() + Duration::from_secs(10);
    while rotation_threads() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} rotation threads left",
            rotation_threads()
        );
        std::thread::yield_now();
    }
}

#[test]
fn two_hundred_start_stop_cycles_leave_no_threads() {
    let vault = Switch::default();
    vault.set("v");
    let resolver = Resolver::builder()
        .vault("switch", vault.clone())
        .configure("switch", "ttl", "0.001")
        .build()
        .unwrap();
    resolver.get("{vault://switch/p}").unwrap();
    for i in 0..200 {
        let rotation = resolver.start_rotation(Duration::from_micros(100 + i));
        if i % 2 == 0 {
            // Some stop at once, some after a few passes.
            std::thread::yield_now();
        }
        rotation.stop();
    }
    // Dropping the resolver ends a thread whose handle was dropped too.
    let rotation = resolver.start_rotation(Duration::from_millis(1));
    drop(resolver);
    drop(rotation);
    wait_for_no_rotation_threads();
}

#[test]
fn guards_held_across_rotations_stay_valid_and_consistent() {
    let vault = Switch::default();
    vault.set(&pair(0));
    let resolver = Resolver::builder()
        .vault("switch", vault.clone())
        .configure("switch", "ttl", "60")
        .build()
        .unwrap();
    let db: Arc<Db> = Arc::new(resolver.scope(|| serde_json::from_str(DB)).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    // Readers that hold guards across rotations, in every order, and drop them in every
    // order: each value read must be whole (a freed value would not parse) and the pairs
    // read together must belong together.
    let readers: Vec<_> = (0..6)
        .map(|t| {
            let (db, done) = (db.clone(), done.clone());
            std::thread::spawn(move || {
                let mut checks = 0u64;
                let whole = |user: &str, port: u16| {
                    let n: u32 = user.trim_start_matches("user-").parse().expect("whole");
                    assert_eq!(1000 + n % 60000, u32::from(port), "a mixed pair");
                };
                while !done.load(Ordering::Acquire) {
                    match t % 3 {
                        0 => {
                            let u = db.user.expose_secret();
                            std::thread::yield_now();
                            let p = db.port.expose_secret();
                            drop(u);
                            std::thread::yield_now();
                            let u2 = db.user.expose_secret();
                            whole(&u2, *p);
                        }
                        1 => {
                            let p = db.port.expose_secret();
                            let guards: Vec<_> = (0..12).map(|_| db.user.expose_secret()).collect();
                            for u in &guards {
                                whole(u, *p);
                            }
                            drop(p);
                            std::thread::yield_now();
                            drop(guards);
                        }
                        _ => {
                            let u = db.user.expose_secret();
                            let user = u.clone();
                            drop(u);
                            let p = db.port.expose_secret();
                            let _ = (user, *p);
                        }
                    }
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    for n in 1..=20_000 {
        vault.set(&pair(n));
        resolver.refresh_all();
    }
    done.store(true, Ordering::Release);
    let checks: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(checks > 0);
    assert_eq!(*db.user.expose_secret(), "user-20000");
}
