//! No panic is reachable from the `gcp` vault's configuration, environment or answers: every
//! option with hostile values (in settings and in references, every class allowed), hostile
//! service-account keys, and hostile answers from a fake Secret Manager, token endpoint and
//! metadata server on loopback. Needs no server of `.ci/servers.sh`.
#![cfg(feature = "gcp")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use secret_ref::vault::gcp::GcpVault;
use secret_ref::vault::{COMMON_OPTIONS, OptionClass, Vault};
use secret_ref::{ErrorKind, Resolver};

fn no_panic(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        panic!("panicked: {what}");
    }
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hostile_values() -> Vec<String> {
    let mut values: Vec<String> = [
        "",
        " ",
        "0",
        "-1",
        "1e300",
        "NaN",
        "inf",
        "18446744073709551616",
        "on",
        "off",
        "maybe",
        "\0",
        "é",
        "..",
        "/",
        "%",
        "%2F",
        "#",
        "?",
        "&",
        "}",
        "{vault://env/x}",
        "a\r\nX-Injected: 1",
        "[::1]",
        "127.0.0.1",
        "http://",
        "ftp://x",
        "http://127.0.0.1:1",
        "https://127.0.0.1:1",
        "http://[::1]:1",
        "http://user@127.0.0.1:1",
        "a:b",
        "a.b",
        "example.com:p",
        "P",
        "-",
        "_",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    values.push("x".repeat(100_000));
    values
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

/// The vault, its tokens from a fake metadata server of this test's, so that each value
/// reaches the request it shapes (sent to a closed loopback port).
fn vault() -> GcpVault {
    static METADATA: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    let port = METADATA
        .get_or_init(|| fake(|_| (200, r#"{"access_token":"t","expires_in":3600}"#.into())));
    GcpVault::with_env([("GCE_METADATA_HOST", format!("127.0.0.1:{port}"))])
}

#[test]
fn every_gcp_option_with_hostile_values() {
    let loopback = format!("http://127.0.0.1:{}", closed_port());
    let mut swept = 0;
    for option in vault().options().iter().chain(COMMON_OPTIONS) {
        for value in hostile_values() {
            swept += 1;
            let what = format!("{}={value:.40?}", option.name());
            // A destination that is not a loopback literal is only checked, never used.
            let fetch = option.class() != OptionClass::Destination
                || value.starts_with("http://127.0.0.1")
                || value.starts_with("https://127.0.0.1")
                || value.starts_with("http://[::1]");
            no_panic(&what, || {
                let mut builder = Resolver::builder()
                    .vault("gcp", vault())
                    .configure("gcp", "project_id", "p")
                    .configure("gcp", "endpoint_url", loopback.as_str());
                builder = builder.configure("gcp", option.name(), value.as_str());
                if let Ok(resolver) = builder.build()
                    && fetch
                {
                    let _ = resolver.get("{vault://gcp/db/user}");
                    let _ = resolver.get("{vault://gcp/db#2}");
                }
            });
            no_panic(&format!("{what} (reference)"), || {
                let resolver = Resolver::builder()
                    .vault("gcp", vault())
                    .configure("gcp", "project_id", "p")
                    .configure("gcp", "endpoint_url", loopback.as_str())
                    .allow_in_references(OptionClass::ALL)
                    .build()
                    .unwrap();
                if fetch {
                    let _ = resolver.get(&format!(
                        "{{vault://gcp/db/user?{}={}}}",
                        option.name(),
                        encode(&value)
                    ));
                }
            });
        }
    }
    assert!(swept > 300, "{swept}");
}

#[test]
fn hostile_service_account_keys() {
    let port = closed_port();
    let pem = "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n";
    let keys = [
        String::new(),
        "{".into(),
        "null".into(),
        "[]".into(),
        r#"{"type":5}"#.into(),
        r#"{"type":"service_account"}"#.into(),
        r#"{"type":"service_account","client_email":"a@b","private_key":5}"#.into(),
        r#"{"type":"service_account","client_email":"a@b","private_key":"\ud800"}"#.into(),
        r#"{"type":"service_account","client_email":"a@b","private_key":"\u0000\\"}"#.into(),
        format!(r#"{{"type":"service_account","client_email":"a@b","private_key":"{pem}"}}"#),
        r#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN RSA PRIVATE KEY-----\n!!\n-----END RSA PRIVATE KEY-----"}"#.into(),
        r#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----"}"#.into(),
        format!(
            r#"{{"type":"service_account","client_email":"a@b","private_key":"{pem}","token_uri":"http://127.0.0.1:{port}/token"}}"#
        ),
        format!(
            r#"{{"type":"service_account","client_email":"a@b","private_key":"{pem}","token_uri":"http://[::1:{port}/token"}}"#
        ),
        format!(r#"{{"type":"service_account","client_email":"a@b","private_key":"{pem}","universe_domain":"x"}}"#),
        format!(r#"{{"type":"external_account","private_key":"{}"}}"#, "x".repeat(100_000)),
    ];
    for key in keys {
        no_panic(&format!("{key:.80}"), || {
            let resolver = Resolver::builder()
                .vault(
                    "gcp",
                    GcpVault::with_env([
                        ("GCP_SERVICE_ACCOUNT", key.clone()),
                        // An empty key is no key: the metadata server, refused on loopback.
                        ("GCE_METADATA_HOST", format!("127.0.0.1:{port}")),
                    ]),
                )
                .configure("gcp", "project_id", "p")
                .configure("gcp", "endpoint_url", format!("http://127.0.0.1:{port}"))
                .build()
                .unwrap();
            let err = resolver.get("{vault://gcp/db}").unwrap_err();
            let expected = if key.is_empty() {
                ErrorKind::Unreachable
            } else {
                ErrorKind::InvalidConfig
            };
            assert_eq!(err.kind(), expected, "{err}");
        });
    }
}

/// A fake that answers each request with the answer its path names.
fn fake(answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> u16 {
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
    port
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
        let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let (status, body) = answer(&path);
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(body.as_bytes());
        data.drain(..end + 4);
    }
}

#[test]
fn hostile_gcp_answers() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let api: Vec<(u16, String)> = vec![
        (200, String::new()),
        (200, "null".into()),
        (200, deep.clone()),
        (200, r#"{"payload":null}"#.into()),
        (200, r#"{"payload":{"data":5}}"#.into()),
        (200, r#"{"payload":{"data":"!!!"}}"#.into()),
        (200, r#"{"payload":{"data":"//79"}}"#.into()),
        (
            200,
            r#"{"payload":{"data":"YQ==","dataCrc32c":"-1"}}"#.into(),
        ),
        (
            200,
            r#"{"payload":{"data":"YQ==","dataCrc32c":1e999}}"#.into(),
        ),
        (
            200,
            r#"{"payload":{"data":"YQ==","dataCrc32c":"18446744073709551616"}}"#.into(),
        ),
        (200, r#"{"payload":{"data":"YQ==","dataCrc32c":[]}}"#.into()),
        (200, r#"{"payload":{"data":"\ud800"}}"#.into()),
        (401, r#"{"error":5}"#.into()),
        (403, r#"{"error":{"message":[],"status":7}}"#.into()),
        (404, deep),
        (400, r#"{"error":{"status":"FAILED_PRECONDITION"}}"#.into()),
        (500, "x".repeat(5 * 1024 * 1024)),
        (999, String::new()),
    ];
    let tokens: Vec<(u16, String)> = vec![
        (
            200,
            r#"{"access_token":"t","expires_in":18446744073709551615}"#.into(),
        ),
        (200, r#"{"access_token":"t","expires_in":-1}"#.into()),
        (200, r#"{"access_token":"t\r\nX: y","expires_in":5}"#.into()),
        (200, r#"{"access_token":"","expires_in":5}"#.into()),
        (200, r#"{"access_token":5}"#.into()),
        (200, r#"{"access_token":"t"}"#.into()),
        (200, "{".into()),
        (404, String::new()),
        (500, String::new()),
    ];
    let n_api = api.len();
    let api_port = fake(move |path| {
        let i = path
            .split("/secrets/s-")
            .nth(1)
            .and_then(|r| r.split('/').next()?.parse::<usize>().ok())
            .unwrap_or(0);
        api[i % api.len()].clone()
    });
    for (t, token) in tokens.into_iter().enumerate() {
        // A metadata server that always gives this token answer.
        let metadata = fake(move |_| token.clone());
        let resolver = Resolver::builder()
            .vault(
                "gcp",
                GcpVault::with_env([("GCE_METADATA_HOST", format!("127.0.0.1:{metadata}"))]),
            )
            .configure("gcp", "project_id", "p")
            .configure(
                "gcp",
                "endpoint_url",
                format!("http://127.0.0.1:{api_port}"),
            )
            .build()
            .unwrap();
        for i in 0..n_api {
            no_panic(&format!("token answer {t}, API answer {i}"), || {
                let _ = resolver.get(&format!("{{vault://gcp/s-{i}/user}}"));
                let _ = resolver.get(&format!("{{vault://gcp/s-{i}#2}}"));
            });
        }
    }
}
