#![cfg(all(feature = "fs", feature = "hcv", feature = "aws"))]
//! No panic is reachable from configuration text or from a vault's answer: every option of
//! every backend, hostile values, in settings and in references (with every option class
//! allowed, so that each value reaches the code that reads it), and hostile answers from a
//! fake Vault and a fake Secrets Manager on loopback.
//!
//! Traffic stays on loopback: destinations point at a closed loopback port, and a
//! destination value that could be a host name is only checked, not connected to.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use secret_ref::kong_conf::KongConf;
use secret_ref::vault::aws::{AwsVault, Credentials};
use secret_ref::vault::env::EnvVault;
use secret_ref::vault::fs::FsVault;
use secret_ref::vault::hcv::HcvVault;
use secret_ref::vault::{COMMON_OPTIONS, OptionClass, Vault, VaultOption};
use secret_ref::{Resolver, ResolverBuilder};

fn hostile_values() -> Vec<String> {
    let mut values: Vec<String> = [
        "",
        " ",
        "0",
        "-0",
        "-1",
        "0.0000001",
        "1e300",
        "-1e300",
        "1e-320",
        "1e20",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "Infinity",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999999999",
        "0x10",
        "1_000",
        "on",
        "off",
        "maybe",
        "true",
        "\0",
        "\u{feff}",
        "é",
        "..",
        "../..",
        "/",
        "//",
        ".",
        "/dev/zero",
        "/proc/self/environ",
        "/etc/passwd",
        "%",
        "%00",
        "#",
        "?",
        "&",
        "}",
        "{",
        "{vault://env/x}",
        "a\r\nX-Injected: 1",
        "[",
        "]",
        "::1",
        "[::1]",
        "127.0.0.1",
        "127.0.0.1:1",
        "http://",
        "https://",
        "ftp://x",
        "http://127.0.0.1:1",
        "https://127.0.0.1:1",
        "http://[::1]:1",
        "v1",
        "v2",
        "token",
        "approle",
        "kubernetes",
        "secret/../sys",
        "auth/token",
        "a//b",
        "-",
        "_",
        "us-east-1",
        "arn:aws:iam::123456789012:role/x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    values.push("x".repeat(100_000));
    values.push("9".repeat(400));
    values
}

/// A loopback port nothing listens on: connections are refused at once.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Destination values that name loopback without a name lookup.
fn is_loopback_literal(value: &str) -> bool {
    [
        "127.0.0.1",
        "[::1]",
        "::1",
        "http://127.0.0.1:1",
        "https://127.0.0.1:1",
        "http://[::1]:1",
        "http",
        "https",
    ]
    .contains(&value)
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

struct Backend {
    name: &'static str,
    make: fn(ResolverBuilder) -> ResolverBuilder,
    options: &'static [VaultOption],
    /// Settings that keep every request on loopback.
    base: Vec<(&'static str, String)>,
}

fn backends(dir: &std::path::Path) -> Vec<Backend> {
    let port = closed_port().to_string();
    let loopback = format!("http://127.0.0.1:{port}");
    vec![
        Backend {
            name: "env",
            make: |b| {
                b.vault(
                    "env",
                    EnvVault::from_vars([("DB_CREDS", r#"{"user":"u"}"#)]),
                )
            },
            options: EnvVault::new().options(),
            base: vec![],
        },
        Backend {
            name: "fs",
            make: |b| b.vault("fs", FsVault::new()),
            options: FsVault::new().options(),
            base: vec![("prefix", dir.display().to_string())],
        },
        Backend {
            name: "hcv",
            make: |b| b.vault("hcv", HcvVault::new()),
            options: HcvVault::new().options(),
            base: vec![
                ("host", "127.0.0.1".into()),
                ("port", port.clone()),
                ("token", "s.test".into()),
                ("approle_role_id", "r".into()),
                ("approle_secret_id", "s".into()),
                ("kube_role", "k".into()),
                ("kube_api_token_file", dir.join("jwt").display().to_string()),
            ],
        },
        Backend {
            name: "aws",
            make: |b| {
                b.vault(
                    "aws",
                    AwsVault::with_credentials(Credentials::new("AKID", "S", None, None, "t")),
                )
            },
            options: AwsVault::new().options(),
            base: vec![
                ("region", "us-east-1".into()),
                ("endpoint_url", loopback.clone()),
                ("sts_endpoint_url", loopback),
            ],
        },
    ]
}

/// Runs `f`, failing the test with what was being tried if it panics.
fn no_panic(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        panic!("panicked: {what}");
    }
}

#[test]
fn every_option_of_every_backend_with_hostile_values() {
    let dir = std::env::temp_dir().join(format!("secret-ref-hostile-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("db")).unwrap();
    std::fs::write(dir.join("db/creds"), r#"{"user":"u"}"#).unwrap();
    std::fs::write(dir.join("jwt"), "jwt").unwrap();
    let values = hostile_values();
    let backends = backends(&dir);
    let mut work = Vec::new();
    for backend in &backends {
        for option in backend.options.iter().chain(COMMON_OPTIONS) {
            for value in &values {
                work.push((backend, *option, value.as_str()));
            }
        }
    }
    // Several at a time: an unreachable STS makes AWS's own client retry with backoff.
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| {
                while let Some((backend, option, value)) =
                    work.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    sweep(backend, *option, value);
                }
            });
        }
    });
    // Every option was swept (a backend with no options would make this test vacuous).
    assert!(work.len() > 2000, "{}", work.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn sweep(backend: &Backend, option: VaultOption, value: &str) {
    // A destination other than a loopback literal could mean a name lookup: such values
    // are only checked (when the resolver is built), never connected to.
    let fetch = option.class() != OptionClass::Destination || is_loopback_literal(value);
    let what = format!("{} {}={value:.40?}", backend.name, option.name());
    let references = [
        format!("{{vault://{}/db/creds/user}}", backend.name),
        format!("{{vault://{}/db/creds#2}}", backend.name),
    ];
    // In the settings.
    no_panic(&what, || {
        let mut builder = (backend.make)(Resolver::builder());
        for (k, v) in &backend.base {
            if k != &option.name() {
                builder = builder.configure(backend.name, *k, v.as_str());
            }
        }
        builder = builder.configure(backend.name, option.name(), value);
        if let Ok(resolver) = builder.build()
            && fetch
        {
            for r in &references {
                let _ = resolver.get(r);
            }
            let _ = resolver.rotate();
        }
    });
    // In a reference, with every class allowed so that the value reaches its reader.
    no_panic(&format!("{what} (reference)"), || {
        let mut builder = (backend.make)(Resolver::builder()).allow_in_references(OptionClass::ALL);
        for (k, v) in &backend.base {
            builder = builder.configure(backend.name, *k, v.as_str());
        }
        let resolver = builder.build().unwrap();
        let reference = format!(
            "{{vault://{}/db/creds/user?{}={}}}",
            backend.name,
            option.name(),
            encode(value)
        );
        if fetch {
            let _ = resolver.get(&reference);
        }
        let _ = secret_ref::Reference::parse(&reference).map(|r| format!("{r:?}"));
    });
}

#[test]
fn kong_conf_durations_and_hostile_references() {
    for value in hostile_values() {
        no_panic(&format!("vault_rotation_interval = {value:.40?}"), || {
            if let Ok(conf) = KongConf::parse(&format!("vault_rotation_interval = {value}")) {
                let _ = conf.rotation_interval();
            }
        });
        no_panic(&format!("reference {value:.40?}"), || {
            let resolver = Resolver::new();
            for text in [
                format!("{{vault://env/{value}}}"),
                format!("{{vault://env/x#{value}}}"),
                format!("{{vault://{value}/x}}"),
                format!("{{vault://env/x?{value}}}"),
                value.clone(),
            ] {
                let _ = resolver.get(&text);
                let _ = secret_ref::Redacted::new(&text).to_string();
            }
        });
    }
}

/// A fake server that answers each request with the answer its path (or, for AWS, its
/// `SecretId`) names: hostile bodies, statuses and login leases.
struct Fake {
    port: u16,
}

impl Fake {
    fn start(answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let answer = answer.clone();
                std::thread::spawn(move || serve(stream, &*answer));
            }
        });
        Fake { port }
    }
}

fn serve(mut stream: TcpStream, answer: &dyn Fn(&str) -> (u16, String)) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).into_owned();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length = text[..end]
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(str::to_owned)
            })
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if data.len() < end + 4 + length {
            continue;
        }
        let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let body = &text[end + 4..];
        let key = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["SecretId"].as_str().map(str::to_owned))
            .unwrap_or(path);
        let (status, body) = answer(&key);
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(body.as_bytes());
        data.clear();
    }
}

fn hostile_bodies() -> Vec<(u16, String)> {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    vec![
        (200, String::new()),
        (200, "not json".into()),
        (200, "null".into()),
        (200, "{".into()),
        (200, deep.clone()),
        (200, format!(r#"{{"data":{deep}}}"#)),
        (200, r#"{"data":1}"#.into()),
        (200, r#"{"data":"text"}"#.into()),
        (200, r#"{"data":{"data":"text"}}"#.into()),
        (
            200,
            r#"{"data":{"data":null,"metadata":{"version":18446744073709551615}}}"#.into(),
        ),
        (200, r#"{"data":{"user":1e999}}"#.into()),
        (200, r#"{"data":{"user":"\ud800"}}"#.into()),
        (200, r#"{"SecretString":5}"#.into()),
        (200, r#"{"SecretBinary":"!!!"}"#.into()),
        (200, r#"{"SecretBinary":"//79"}"#.into()),
        (200, r#"{"SecretString":null,"SecretBinary":null}"#.into()),
        (
            404,
            r#"{"data":{"metadata":{"deletion_time":"x","version":-1}}}"#.into(),
        ),
        (403, r#"{"errors":[1,2]}"#.into()),
        (400, r#"{"__type":5,"Message":[]}"#.into()),
        (500, "x".repeat(5 * 1024 * 1024)),
        (999, String::new()),
    ]
}

#[test]
fn hostile_vault_answers() {
    let bodies = Arc::new(hostile_bodies());
    let n = bodies.len();
    let answers = bodies.clone();
    let fake = Fake::start(move |key| {
        if key.contains("/auth/") && key.ends_with("/login") {
            // A login whose lease would overflow the clock.
            return (
                200,
                r#"{"auth":{"client_token":"t","lease_duration":18446744073709551615}}"#.into(),
            );
        }
        let index = key
            .rsplit(['/', '-'])
            .find_map(|s| s.split('?').next()?.parse::<usize>().ok())
            .unwrap_or(0);
        answers[index % answers.len()].clone()
    });
    let url = format!("http://127.0.0.1:{}", fake.port);
    for auth in ["token", "approle"] {
        for kv in ["v1", "v2"] {
            let resolver = Resolver::builder()
                .configure("hcv", "port", fake.port.to_string())
                .configure("hcv", "token", "t")
                .configure("hcv", "auth_method", auth)
                .configure("hcv", "approle_role_id", "r")
                .configure("hcv", "approle_secret_id", "s")
                .configure("hcv", "kv", kv)
                .build()
                .unwrap();
            for i in 0..n {
                no_panic(&format!("hcv {auth} {kv} answer {i}"), || {
                    let _ = resolver.get(&format!("{{vault://hcv/s-{i}/user}}"));
                    let _ = resolver.get(&format!("{{vault://hcv/s-{i}#2}}"));
                });
            }
        }
    }
    let resolver = Resolver::builder()
        .vault(
            "aws",
            AwsVault::with_credentials(Credentials::new("AKID", "S", None, None, "t")),
        )
        .configure("aws", "region", "us-east-1")
        .configure("aws", "endpoint_url", url.as_str())
        .build()
        .unwrap();
    for i in 0..n {
        no_panic(&format!("aws answer {i}"), || {
            let _ = resolver.get(&format!("{{vault://aws/s-{i}/user}}"));
            let _ = resolver.get(&format!("{{vault://aws/s-{i}}}"));
        });
    }
}
