//! Helpers for the tests that talk to real servers (started by `.ci/servers.sh`).
//!
//! Such a test is `#[ignore = "needs .ci/servers.sh"]`: a plain `cargo test` lists it as
//! ignored, and `.ci/run` runs it with `--include-ignored`. It asks for a server with
//! [`server`], which fails the test when the server's variable is missing, so a test run
//! without its server never passes without testing anything.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

/// The value of a variable exported by `.ci/servers.sh`'s `start_servers`.
///
/// Panics when it is not set: the test was asked for (`--include-ignored`) without its server.
pub fn server(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: this test needs the servers of .ci/servers.sh \
             (`source .ci/servers.sh; install_servers; start_servers`, then \
             `cargo test --workspace --all-features -- --include-ignored`)"
        ),
    }
}

/// A name no other test (or earlier run against the same servers) uses.
pub fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "test-{name}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Calls a JSON API; returns the status and the body (`null` when empty).
pub fn call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let text = body.map(|b| b.to_string()).unwrap_or_default();
    let mut response = agent()
        .run(request.body(text).unwrap())
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap();
    let value = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or(Value::String(body))
    };
    (status, value)
}

/// An OpenBao server, administered with its root token.
pub struct Bao {
    pub addr: String,
    pub token: String,
}

impl Bao {
    /// The plain (http) dev server of `.ci/servers.sh`.
    pub fn plain() -> Bao {
        Bao {
            addr: server("SECRET_REF_TEST_BAO_ADDR"),
            token: server("SECRET_REF_TEST_BAO_TOKEN"),
        }
    }

    /// The TLS dev server of `.ci/servers.sh`.
    pub fn tls() -> Bao {
        Bao {
            addr: server("SECRET_REF_TEST_BAO_TLS_ADDR"),
            token: server("SECRET_REF_TEST_BAO_TLS_TOKEN"),
        }
    }

    pub fn host(&self) -> &str {
        let rest = self.addr.split_once("://").unwrap().1;
        rest.rsplit_once(':').unwrap().0
    }

    pub fn port(&self) -> &str {
        self.addr.rsplit_once(':').unwrap().1
    }

    pub fn protocol(&self) -> &str {
        self.addr.split_once("://").unwrap().0
    }

    /// kong.conf settings that reach this server.
    pub fn settings(&self, kv: &str, mount: &str) -> String {
        format!(
            "vault_hcv_protocol = {}\nvault_hcv_host = {}\nvault_hcv_port = {}\n\
             vault_hcv_kv = {kv}\nvault_hcv_mount = {mount}\n",
            self.protocol(),
            self.host(),
            self.port()
        )
    }

    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_in(None, method, path, body)
    }

    pub fn api_in(
        &self,
        namespace: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}/v1/{path}", self.addr);
        let mut headers = vec![("X-Vault-Token", self.token.as_str())];
        if let Some(ns) = namespace {
            headers.push(("X-Vault-Namespace", ns));
        }
        call(method, &url, &headers, body)
    }

    /// Writes a version of a KV v2 secret under `secret/`; returns its version.
    pub fn write_kv2(&self, path: &str, data: Value) -> u64 {
        let (status, body) = self.api(
            "POST",
            &format!("secret/data/{path}"),
            Some(json!({"data": data})),
        );
        assert_eq!(status, 200, "{body}");
        body["data"]["version"].as_u64().unwrap()
    }

    pub fn write_kv1(&self, path: &str, data: Value) {
        let (status, body) = self.api("POST", &format!("kv1/{path}"), Some(data));
        assert_eq!(status, 204, "{body}");
    }

    /// A policy that reads `secret/`, `kv1/` and denies `secret/data/forbidden/*`.
    pub fn read_policy(&self) -> &'static str {
        let (status, body) = self.api(
            "PUT",
            "sys/policies/acl/secret-ref-read",
            Some(
                json!({"policy": "path \"secret/*\" { capabilities = [\"read\", \"list\"] }\n\
                path \"kv1/*\" { capabilities = [\"read\", \"list\"] }\n\
                path \"secret/data/forbidden/*\" { capabilities = [\"deny\"] }"}),
            ),
        );
        assert_eq!(status, 204, "{body}");
        "secret-ref-read"
    }

    /// How many reads the audit log holds for `path` (as Vault writes it, without /v1/).
    pub fn audited(&self, path: &str) -> usize {
        self.audited_op(path, "read")
    }

    /// How many requests of an operation (`read`, `update`, ...) the audit log holds.
    pub fn audited_op(&self, path: &str, operation: &str) -> usize {
        std::fs::read_to_string(server("SECRET_REF_TEST_AUDIT_LOG"))
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["type"] == "request" && v["request"]["path"] == path)
            .filter(|v| v["request"]["operation"] == operation)
            .count()
    }
}

/// A free port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A program of the test servers' virtualenv (installed by `.ci/servers.sh`). The manifest
/// directory is `tests/`, the package of these tests; `.ci/` is beside it.
fn venv_program(name: &str) -> std::path::PathBuf {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.ci/.venv/bin")
        .join(name);
    assert!(
        bin.exists(),
        "{} is not installed: run `source .ci/servers.sh; install_servers`",
        bin.display()
    );
    bin
}

/// Waits until `ready` holds, for up to 15 s.
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let up = (0..150).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        ready()
    });
    assert!(up, "{what} did not start");
}

/// An OpenBao dev server of the test's own, for tests that stop it; kill the child to stop it.
pub fn own_bao() -> (std::process::Child, Bao) {
    let port = free_port();
    let server = std::process::Command::new(venv_program("bao"))
        .args([
            "server",
            "-dev",
            "-dev-root-token-id=root",
            "-dev-no-store-token",
        ])
        .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let bao = Bao {
        addr: format!("http://127.0.0.1:{port}"),
        token: "root".into(),
    };
    wait_until("bao", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && call("GET", &format!("{}/v1/sys/health", bao.addr), &[], None).0 == 200
    });
    (server, bao)
}

/// A moto server of the test's own, for tests that stop it.
pub fn own_moto() -> (std::process::Child, Moto) {
    let port = free_port();
    let server = std::process::Command::new(venv_program("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("moto", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (
        server,
        Moto {
            url: format!("http://127.0.0.1:{port}"),
        },
    )
}

/// moto's Secrets Manager.
pub struct Moto {
    pub url: String,
}

impl Moto {
    /// The moto server of `.ci/servers.sh`.
    pub fn new() -> Moto {
        Moto {
            url: server("SECRET_REF_TEST_MOTO_URL"),
        }
    }

    pub fn call(&self, action: &str, body: Value) -> (u16, Value) {
        self.call_in("us-east-1", action, body)
    }

    pub fn call_in(&self, region: &str, action: &str, body: Value) -> (u16, Value) {
        let target = format!("secretsmanager.{action}");
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/{region}/secretsmanager/aws4_request"
        );
        call(
            "POST",
            &format!("{}/", self.url),
            &[
                ("X-Amz-Target", target.as_str()),
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Authorization", auth.as_str()),
            ],
            Some(body),
        )
    }

    /// kong.conf settings that reach this server.
    pub fn settings(&self) -> String {
        format!(
            "vault_aws_region = us-east-1\nvault_aws_endpoint_url = {}\n",
            self.url
        )
    }

    /// How many GetSecretValue calls moto saw for `name`.
    pub fn gets(&self, name: &str) -> usize {
        std::fs::read_to_string(server("SECRET_REF_TEST_MOTO_RECORDING"))
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["headers"]["X-Amz-Target"] == "secretsmanager.GetSecretValue")
            .filter(|v| {
                let body = v["body"].as_str().unwrap_or_default();
                let decoded = if v["body_encoded"] == true {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD
                        .decode(body)
                        .unwrap_or_default()
                } else {
                    body.as_bytes().to_vec()
                };
                serde_json::from_slice::<Value>(&decoded)
                    .map(|b| b["SecretId"] == name)
                    .unwrap_or(false)
            })
            .count()
    }
}

/// A global allocator that counts the bytes in use, for tests that measure what long runs
/// keep (declare it with `#[global_allocator]` in the test binary).
pub struct Counting;

static HEAP_BYTES: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

/// The bytes in use, as counted by [`Counting`].
pub fn heap() -> isize {
    HEAP_BYTES.load(std::sync::atomic::Ordering::SeqCst)
}

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        HEAP_BYTES.fetch_add(layout.size() as isize, std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        HEAP_BYTES.fetch_sub(layout.size() as isize, std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        HEAP_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            std::sync::atomic::Ordering::Relaxed,
        );
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

/// An example program of the root package, to run as its own process with an empty
/// environment. `cargo test --workspace` builds the examples next to the test binaries
/// (`target/<profile>/examples`); `cargo build --examples` does too.
pub fn example(name: &str) -> std::process::Command {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test --workspace` (with the example's \
         features), which builds the examples, or `cargo build --examples --all-features`",
        path.display()
    );
    let mut command = std::process::Command::new(path);
    command.env_clear();
    command
}
