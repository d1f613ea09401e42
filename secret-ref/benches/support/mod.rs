//! What the server benchmarks share: writing secrets to OpenBao, and a TCP proxy in front of
//! it that can add latency and counts requests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The test OpenBao from `.ci/servers.sh`, filled with `count` secrets `<prefix>/s<i>` whose
/// password is `p<i>`: its `host:port` and token. `None` (after saying so) when it is not
/// running, so `cargo bench` without servers skips instead of failing.
pub fn bao_with_secrets(prefix: &str, count: usize) -> Option<(String, String)> {
    let Ok(addr) = std::env::var("SECRET_REF_TEST_BAO_ADDR") else {
        eprintln!(
            "skipping: SECRET_REF_TEST_BAO_ADDR is not set (source .ci/servers.sh; start_servers)"
        );
        return None;
    };
    let token = std::env::var("SECRET_REF_TEST_BAO_TOKEN").unwrap_or_else(|_| "root".into());
    let upstream = addr.trim_start_matches("http://").to_owned();
    for i in 0..count {
        write(
            &upstream,
            &token,
            &format!("{prefix}/s{i}"),
            &format!("p{i}"),
        );
    }
    Some((upstream, token))
}

/// Writes `{"password": <password>}` as a KV v2 secret at `secret/<path>`.
pub fn write(upstream: &str, token: &str, path: &str, password: &str) {
    let body = format!(r#"{{"data":{{"password":"{password}"}}}}"#);
    let mut s = TcpStream::connect(upstream).unwrap();
    write!(
        s,
        "POST /v1/secret/data/{path} HTTP/1.1\r\nHost: {upstream}\r\nX-Vault-Token: {token}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// A TCP proxy to `upstream` that holds every chunk a client sends for `delay` (one request,
/// one delay) and counts the `GET /v1/` requests going through. Returns its port.
pub fn proxy(upstream: String, delay: Duration, requests: Arc<AtomicUsize>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let server = TcpStream::connect(&upstream).unwrap();
            let (mut c_read, mut s_write) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            let requests = requests.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n @ 1..) = c_read.read(&mut buf) {
                    let chunk = &buf[..n];
                    let count = chunk.windows(8).filter(|w| *w == b"GET /v1/").count();
                    requests.fetch_add(count, Ordering::SeqCst);
                    if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                    if s_write.write_all(chunk).is_err() {
                        break;
                    }
                }
                let _ = s_write.shutdown(std::net::Shutdown::Write);
            });
            let (mut s_read, mut c_write) = (server, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s_read, &mut c_write);
                let _ = c_write.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}
