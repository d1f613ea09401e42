//! The async API (`resolve_secrets_async`, `Resolver::get_async`) in a tokio runtime: it never
//! blocks the executor, and it resolves exactly as the blocking API does.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secret_ref::clock::ManualClock;
use secret_ref::vault::env::EnvVault;
use secret_ref::vault::memory::MemoryVault;
use secret_ref::{ErrorKind, Live, ResolveSecrets, Resolver, Secret};
use serde::Deserialize;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

#[derive(Deserialize, ResolveSecrets)]
struct Db {
    user: String,
    password: Secret<String>,
}

/// A server on loopback that accepts connections and never answers; it lets them go when
/// dropped.
struct Silent {
    port: u16,
    held: Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = held.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                keep.lock().unwrap().push(conn);
            }
        });
        Silent { port, held }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.held.lock().unwrap().clear();
    }
}

/// An `hcv` vault at a silent server, with a 2 s `read_timeout`.
fn silent_hcv(port: u16) -> Resolver {
    secret_ref::kong_conf::Loader::new()
        .text(
            "kong.conf",
            &format!("vault_hcv_port = {port}\nvault_hcv_token = t\nvault_hcv_read_timeout = 2"),
        )
        .load()
        .unwrap()
        .resolver()
        .unwrap()
}

/// A silent server, an `hcv` resolver pointed at it and a configuration whose password is
/// to be fetched from it. The server lives as long as the first element.
fn silent_db() -> (Silent, Resolver, Db) {
    let silent = Silent::start();
    let resolver = silent_hcv(silent.port);
    let db = serde_json::from_str(r#"{"user": "app", "password": "{vault://hcv/pg/password}"}"#)
        .unwrap();
    (silent, resolver, db)
}

/// Runs a ticker task beside `work` on one thread, and returns `work`'s output, how long it
/// took and the longest gap between two ticks while it ran.
fn beside_a_ticker<F: std::future::Future>(work: F) -> (F::Output, Duration, Duration) {
    runtime().block_on(async {
        let ticks: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let seen = ticks.clone();
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(20));
            loop {
                every.tick().await;
                seen.lock().unwrap().push(Instant::now());
            }
        });
        // Let the ticker start before the work.
        tokio::task::yield_now().await;
        let started = Instant::now();
        let output = work.await;
        let ended = Instant::now();
        // One more tick after the work: a stalled ticker shows as a gap up to here.
        tokio::time::sleep(Duration::from_millis(30)).await;
        ticker.abort();
        let mut ticks = ticks.lock().unwrap().clone();
        ticks.retain(|t| *t >= started);
        let mut gaps = Vec::new();
        let mut last = started;
        for t in ticks
            .iter()
            .copied()
            .filter(|t| *t <= ended + Duration::from_millis(30))
        {
            gaps.push(t - last);
            last = t;
        }
        gaps.push(ended.saturating_duration_since(last));
        (output, ended - started, gaps.into_iter().max().unwrap())
    })
}

#[test]
fn a_vault_that_never_answers_does_not_stall_other_tasks() {
    let (_silent, resolver, mut db) = silent_db();

    let (result, took, longest_gap) = beside_a_ticker(db.resolve_secrets_async(&resolver));

    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert_eq!(err.failures()[0].path(), Some("password"));
    assert!(err.to_string().contains("timeout"), "{err}");
    // The read timeout ran its course, and the ticker went on throughout.
    assert!(took >= Duration::from_millis(1900), "took {took:?}");
    assert!(
        longest_gap < Duration::from_millis(500),
        "the executor stalled for {longest_gap:?} of {took:?}"
    );
    assert!(!db.password.is_resolved());
}

/// The measurement above can fail: the blocking call, on the same thread, stalls the ticker
/// for the whole read timeout.
#[test]
fn the_blocking_call_would_stall_them() {
    let (_silent, resolver, mut db) = silent_db();

    let (result, took, longest_gap) = beside_a_ticker(async { db.resolve_secrets(&resolver) });

    assert_eq!(result.unwrap_err().kind(), ErrorKind::Unreachable);
    assert!(took >= Duration::from_millis(1900), "took {took:?}");
    assert!(
        longest_gap >= Duration::from_millis(1900),
        "the ticker ran during a blocking call? longest gap {longest_gap:?}"
    );
}

#[test]
fn get_async_matches_get() {
    let vault: MemoryVault = [("token", "t0k3n-canary")].into_iter().collect();
    let resolver = Resolver::builder()
        .vault("mem", vault.clone())
        .vault("env", EnvVault::from_vars([("API_KEY", "k3y-canary")]))
        .build()
        .unwrap();
    runtime().block_on(async {
        let token = resolver.get_async("{vault://mem/token}").await.unwrap();
        assert_eq!(token.expose_secret(), "t0k3n-canary");
        let key = resolver.get_async("{vault://env/api-key}").await.unwrap();
        assert_eq!(key.expose_secret(), "k3y-canary");
        assert_eq!(format!("{key:?}"), "Secret([REDACTED])");

        for reference in [
            "{vault://mem/missing}",
            "{vault://env/missing-var}",
            "{vault://nowhere/x}",
            "{vault://mem/token/no-such-key}",
            "{vault://env",
        ] {
            let sync = resolver.get(reference).unwrap_err();
            let not = resolver.get_async(reference).await.unwrap_err();
            assert_eq!(not.to_string(), sync.to_string());
            assert_eq!(not.kind(), sync.kind());
            assert!(!not.to_string().contains("canary"), "{not}");
        }
    });
}

#[derive(Deserialize, ResolveSecrets)]
struct Service {
    db: Db,
    port: Secret<u16>,
    replicas: Vec<Db>,
    #[secret(reference_only)]
    api_key: Secret<String>,
}

const SERVICE: &str = r#"{
    "db": {"user": "app", "password": "{vault://mem/db/password}"},
    "port": "{vault://env/port}",
    "replicas": [
        {"user": "r0", "password": "{vault://mem/db/password}"},
        {"user": "r1", "password": "{vault://mem/missing}"},
        {"user": "r2", "password": "{vault://env/unset-var}"},
        {"user": "r3", "password": "{vault://nowhere/x}"}
    ],
    "api_key": "a-literal-canary"
}"#;

/// Every failure, with its path, in the blocking call's order and words; each distinct
/// secret is fetched once; what resolved is filled in.
#[test]
fn resolve_secrets_async_reports_what_resolve_secrets_reports() {
    let vault: MemoryVault = [("db", r#"{"password": "pw-canary"}"#)]
        .into_iter()
        .collect();
    let resolver = Resolver::builder()
        .vault("mem", vault.clone())
        .vault("env", EnvVault::from_vars([("PORT", "not-a-port-canary")]))
        .build()
        .unwrap();

    let mut sync: Service = serde_json::from_str(SERVICE).unwrap();
    let expected = sync.resolve_secrets(&resolver).unwrap_err().to_string();
    resolver.clear_cache();
    let before = vault.fetches();

    let mut service: Service = serde_json::from_str(SERVICE).unwrap();
    let err = runtime()
        .block_on(service.resolve_secrets_async(&resolver))
        .unwrap_err();
    assert_eq!(err.to_string(), expected);
    let paths: Vec<_> = err.failures().iter().map(|f| f.path().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "port",
            "replicas[1].password",
            "replicas[2].password",
            "replicas[3].password",
            "api_key"
        ]
    );
    assert!(!err.to_string().contains("canary"), "{err}");
    assert!(!format!("{err:?}").contains("canary"), "{err:?}");
    // `db` and `missing`: two fetches for three references.
    assert_eq!(vault.fetches() - before, 2);
    assert_eq!(service.db.password.expose_secret(), "pw-canary");
    assert_eq!(service.replicas[0].password.expose_secret(), "pw-canary");
}

/// The future is `Send`: it can be spawned on a multi-threaded runtime's workers.
#[test]
fn the_futures_are_send_and_spawnable() {
    fn send<T: Send>(t: T) -> T {
        t
    }
    let vault: MemoryVault = [("db", r#"{"password": "pw"}"#)].into_iter().collect();
    let resolver = Resolver::builder().vault("mem", vault).build().unwrap();
    let rt = runtime();
    let handle = rt.spawn(send(async move {
        let mut db: Db =
            serde_json::from_str(r#"{"user": "u", "password": "{vault://mem/db/password}"}"#)
                .unwrap();
        db.resolve_secrets_async(&resolver).await.unwrap();
        let token = send(resolver.get_async("{vault://mem/db/password}")).await;
        (
            db.password.expose_secret().clone(),
            token.unwrap().expose_secret().clone(),
        )
    }));
    assert_eq!(rt.block_on(handle).unwrap(), ("pw".into(), "pw".into()));
}

/// A future dropped before it completes leaves the value as it was; the resolver's threads
/// stop once the resolver is gone.
#[test]
fn an_abandoned_resolution_changes_nothing_and_threads_stop() {
    let (_silent, resolver, mut db) = silent_db();
    runtime().block_on(async {
        let pending = tokio::time::timeout(
            Duration::from_millis(100),
            db.resolve_secrets_async(&resolver),
        )
        .await;
        assert!(pending.is_err(), "it cannot finish before the read timeout");
    });
    assert!(!db.password.is_resolved());
    assert!(db.password.reference().is_some());

    #[cfg(target_os = "linux")]
    {
        assert!(resolver_threads() >= 1);
        drop(resolver);
        // The thread finishes the abandoned request (the 2 s read timeout), then stops.
        let deadline = Instant::now() + Duration::from_secs(10);
        while resolver_threads() > 0 {
            assert!(
                Instant::now() < deadline,
                "the resolver's threads did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Threads of this process named by the resolver's pool.
#[cfg(target_os = "linux")]
fn resolver_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|name| name.trim_end() == "secret-ref-pool")
        })
        .count()
}

/// A live secret resolved asynchronously follows its vault secret like one resolved with the
/// blocking call.
#[test]
fn live_secrets_resolved_async_rotate() {
    #[derive(Deserialize, ResolveSecrets)]
    struct Conn {
        password: Live<String>,
    }
    let vault = MemoryVault::new();
    vault.set("p", "v1");
    let clock = Arc::new(ManualClock::new());
    let resolver = Resolver::builder()
        .vault("switch", vault.clone())
        .configure("switch", "ttl", "1")
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut conn: Conn = serde_json::from_str(r#"{"password": "{vault://switch/p}"}"#).unwrap();
    runtime()
        .block_on(conn.resolve_secrets_async(&resolver))
        .unwrap();
    assert_eq!(*conn.password.expose_secret(), "v1");

    vault.set("p", "v2");
    clock.advance(Duration::from_secs(1));
    let report = resolver.rotate();
    assert_eq!((report.fetched, report.changed), (1, 1));
    assert_eq!(*conn.password.expose_secret(), "v2");
}

/// A vault that records the thread of each fetch.
struct Threads {
    remote: bool,
    seen: Arc<Mutex<Vec<std::thread::ThreadId>>>,
}

impl secret_ref::Vault for Threads {
    fn options(&self) -> &'static [secret_ref::vault::VaultOption] {
        &[]
    }

    fn fetch(
        &self,
        request: &secret_ref::vault::Request<'_>,
    ) -> Result<secret_ref::zeroize::Zeroizing<String>, secret_ref::VaultError> {
        self.seen.lock().unwrap().push(std::thread::current().id());
        Ok(secret_ref::zeroize::Zeroizing::new(format!(
            "value of {}",
            request.resource()
        )))
    }

    fn is_remote(&self) -> bool {
        self.remote
    }
}

/// No vault, local or remote, is asked on the thread that polls the future.
#[test]
fn no_vault_is_asked_on_the_executor_thread() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let resolver = Resolver::builder()
        .vault(
            "local",
            Threads {
                remote: false,
                seen: seen.clone(),
            },
        )
        .vault(
            "remote",
            Threads {
                remote: true,
                seen: seen.clone(),
            },
        )
        .build()
        .unwrap();
    let mut secrets: Vec<Secret<String>> = ["local/a", "local/b", "remote/a", "remote/b"]
        .iter()
        .map(|r| Secret::from_reference(format!("{{vault://{r}}}").parse().unwrap()))
        .collect();
    runtime()
        .block_on(resolver.resolve_async(&mut secrets))
        .unwrap();
    let values: Vec<_> = secrets.iter().map(|s| s.expose_secret().as_str()).collect();
    assert_eq!(
        values,
        ["value of a", "value of b", "value of a", "value of b"]
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4, "each distinct secret fetched once");
    let here = std::thread::current().id();
    assert!(
        seen.iter().all(|t| *t != here),
        "a vault was asked on the executor's thread"
    );
}
