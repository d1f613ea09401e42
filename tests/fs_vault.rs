//! The `fs` vault against a real directory tree.
#![cfg(feature = "fs")]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use secret_ref::kong_conf::Loader;
use secret_ref::vault::file;
use secret_ref::{ErrorKind, ResolveSecrets, Resolver, Secret};
use serde::Deserialize;

struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tree(name: &str) -> Tree {
    let root = std::env::temp_dir().join(format!("secret-ref-fs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let secrets = root.join("secrets");
    std::fs::create_dir_all(secrets.join("db")).unwrap();
    std::fs::write(secrets.join("pg-password"), "opensesame\n").unwrap();
    std::fs::write(secrets.join("crlf"), "windows\r\n").unwrap();
    std::fs::write(secrets.join("two-newlines"), "kept\n\n").unwrap();
    std::fs::write(
        secrets.join("db").join("creds"),
        r#"{"user":"app","password":"s3cret","port":5432}"#,
    )
    .unwrap();
    std::fs::write(secrets.join("binary"), b"\xff\xfe c4n4ry").unwrap();
    std::fs::write(root.join("outside"), "c4n4ry-outside").unwrap();
    std::os::unix::fs::symlink(root.join("outside"), secrets.join("escape")).unwrap();
    std::os::unix::fs::symlink(secrets.join("pg-password"), secrets.join("alias")).unwrap();
    // A directory outside, and a link to it from inside.
    std::fs::create_dir(root.join("elsewhere")).unwrap();
    std::fs::write(root.join("elsewhere").join("file"), "c4n4ry-elsewhere").unwrap();
    std::os::unix::fs::symlink("../elsewhere", secrets.join("outdir")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", secrets.join("zero")).unwrap();
    Tree(root)
}

fn resolver(t: &Tree) -> Resolver {
    Resolver::builder()
        .configure("fs", "prefix", t.0.join("secrets").to_str().unwrap())
        .build()
        .unwrap()
}

#[test]
fn reads_files_under_the_prefix() {
    let t = tree("read");
    let r = resolver(&t);
    let get = |reference: &str| r.get(reference).map(|s| s.expose_secret().clone());
    assert_eq!(get("{vault://fs/pg-password}").unwrap(), "opensesame");
    assert_eq!(get("{vault://fs/crlf}").unwrap(), "windows");
    assert_eq!(get("{vault://fs/two-newlines}").unwrap(), "kept\n");
    assert_eq!(
        get("{vault://fs/db/creds/}").unwrap(),
        r#"{"user":"app","password":"s3cret","port":5432}"#
    );
    assert_eq!(get("{vault://fs/db/creds/password}").unwrap(), "s3cret");
    assert_eq!(
        get("{vault://fs/alias}").unwrap(),
        "opensesame",
        "a link inside is fine"
    );

    #[derive(Deserialize, ResolveSecrets)]
    struct Db {
        user: Secret<String>,
        port: Secret<u16>,
    }
    let mut db: Db = serde_json::from_str(
        r#"{"user": "{vault://fs/db/creds/user}", "port": "{vault://fs/db/creds/port}"}"#,
    )
    .unwrap();
    db.resolve_secrets(&r).unwrap();
    assert_eq!(
        (db.user.expose_secret().as_str(), *db.port.expose_secret()),
        ("app", 5432)
    );
}

#[test]
fn refuses_to_leave_the_prefix() {
    let t = tree("escape");
    let r = resolver(&t);
    for reference in [
        "{vault://fs/escape}",
        "{vault://fs/outdir/file}",
        "{vault://fs/../x}",
        "{vault://fs/../outside/}",
        "{vault://fs/db/../../outside/}",
        "{vault://fs/%2Fetc%2Fpasswd}",
    ] {
        let err = r.get(reference).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::PermissionDenied,
            "{reference}: {err}"
        );
        assert!(!err.to_string().contains("c4n4ry"));
        assert!(!format!("{err:#?}").contains("c4n4ry"));
    }
    let err = r.get("{vault://fs/escape}").unwrap_err();
    assert!(err.to_string().contains("leads outside"), "{err}");
}

#[test]
fn failures() {
    let t = tree("fail");
    let r = resolver(&t);
    let kind = |reference: &str| r.get(reference).unwrap_err().kind();
    assert_eq!(kind("{vault://fs/missing}"), ErrorKind::NotFound);
    assert_eq!(kind("{vault://fs/db/}"), ErrorKind::NotFound);
    assert_eq!(kind("{vault://fs/pg-password#2}"), ErrorKind::NotFound);
    let err = r.get("{vault://fs/binary}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadResponse);
    assert_no_canary(&err);
    let err = Resolver::new().get("{vault://fs/pg-password}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(err.to_string().contains("vault_fs_prefix"));
    // The directory is the settings' choice, never a reference's.
    let err = Resolver::new()
        .get("{vault://fs/pg-password?prefix=/nonexistent/dir}")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OptionNotAllowed);
}

#[test]
fn configured_from_kong_conf() {
    let t = tree("conf");
    #[derive(Deserialize, ResolveSecrets)]
    struct App {
        pg_password: Secret<String>,
    }
    let conf = Loader::new()
        .text(
            "kong.conf",
            &format!(
                "pg_password = {{vault://fs/pg-password}}\nvault_fs_prefix = {}",
                t.0.join("secrets").display()
            ),
        )
        .load()
        .unwrap();
    let app: App = conf.extract().unwrap();
    assert_eq!(app.pg_password.expose_secret(), "opensesame");
}

/// The error says nothing of the file's contents, in `Display` or either `Debug`.
fn assert_no_canary(err: &dyn std::fmt::Debug) {
    let shown = format!("{err:?} {err:#?}");
    assert!(!shown.contains("c4n4ry"), "{shown}");
}

fn assert_no_canary_shown(err: &secret_ref::Error) {
    assert!(!err.to_string().contains("c4n4ry"), "{err}");
    assert_no_canary(err);
}

/// Runs `f` on a thread and returns its result and how long it took; a regression that
/// blocks (a FIFO opened for reading waits for a writer) fails after 5 s instead of hanging
/// the suite.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        let out = f();
        let _ = tx.send((out, start.elapsed()));
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("still blocked after 5 s")
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// `{vault://fs/...}` resolved on a thread, within one second.
fn resolve_fast(r: Resolver, reference: &'static str) -> Result<String, secret_ref::Error> {
    let (result, took) = bounded(move || r.get(reference).map(|s| s.expose_secret().clone()));
    assert!(took < Duration::from_secs(1), "{reference} took {took:?}");
    result
}

#[test]
fn fifos_are_refused_within_a_second() {
    let t = tree("fifo");
    mkfifo(&t.0.join("secrets").join("fifo"));
    let err = resolve_fast(resolver(&t), "{vault://fs/fifo}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert!(err.to_string().contains("is a FIFO"), "{err}");
}

#[test]
fn devices_are_refused_within_a_second() {
    let t = tree("device");
    // A link inside the prefix to a device is a link that leads outside.
    let err = resolve_fast(resolver(&t), "{vault://fs/zero}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    // Named directly, a device is refused for what it is.
    let (result, took) = bounded(|| file::read(Path::new("/dev/zero"), 1024 * 1024).map(drop));
    assert!(took < Duration::from_secs(1), "{took:?}");
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn files_larger_than_the_limit_are_refused_not_truncated() {
    let t = tree("size");
    let secrets = t.0.join("secrets");
    let limit = secret_ref::vault::DEFAULT_MAX_FILE_SIZE as usize;
    let canary = |n: usize| "c4n4ry-".repeat(n / 7 + 1)[..n].to_owned();
    std::fs::write(secrets.join("exact"), canary(limit)).unwrap();
    std::fs::write(secrets.join("over"), canary(limit + 1)).unwrap();
    let r = resolver(&t);
    assert_eq!(
        resolve_fast(r.clone(), "{vault://fs/exact}").unwrap().len(),
        limit
    );
    let err = resolve_fast(r, "{vault://fs/over}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(
        err.to_string()
            .contains("is larger than the 1048576-byte limit (ResolverBuilder::max_file_size)"),
        "{err}"
    );
    assert_no_canary_shown(&err);
}

#[test]
fn the_resolver_limit_is_honoured() {
    let t = tree("limit");
    let secrets = t.0.join("secrets");
    std::fs::write(
        secrets.join("hundred"),
        &"c4n4ry-".repeat(20).as_bytes()[..100],
    )
    .unwrap();
    let limited = |bytes: u64| {
        Resolver::builder()
            .configure("fs", "prefix", secrets.to_str().unwrap())
            .max_file_size(bytes)
            .build()
            .unwrap()
    };
    assert_eq!(
        resolve_fast(limited(100), "{vault://fs/hundred}")
            .unwrap()
            .len(),
        100
    );
    let err = resolve_fast(limited(99), "{vault://fs/hundred}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(err.to_string().contains("99-byte limit"), "{err}");
    assert_no_canary_shown(&err);
}

#[test]
fn kubernetes_secret_volumes_resolve() {
    let t = tree("kube");
    let secrets = t.0.join("secrets");
    // As the kubelet writes a secret volume: the files in a timestamped directory, `..data`
    // pointing at it, and each name a link through `..data`.
    std::fs::create_dir(secrets.join("..2024_01_01_00_00_00.1")).unwrap();
    std::fs::write(secrets.join("..2024_01_01_00_00_00.1/pw"), "kube-pw\n").unwrap();
    std::os::unix::fs::symlink("..2024_01_01_00_00_00.1", secrets.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/pw", secrets.join("pw")).unwrap();
    let r = resolver(&t);
    assert_eq!(r.get("{vault://fs/pw}").unwrap().expose_secret(), "kube-pw");
}

#[cfg(feature = "hcv")]
mod hcv {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    use secret_ref::Vault;
    use secret_ref::vault::hcv::HcvVault;
    use secret_ref::vault::{Request, VaultConfig};

    use super::*;

    /// A port on 127.0.0.1 that nobody listens on.
    pub(super) fn closed_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Fetches through `HcvVault::fetch` (Kubernetes or AppRole auth reads the token file
    /// before any request), on a thread, within one second.
    fn fetch(
        settings: &[(&'static str, String)],
        max: u64,
    ) -> Result<String, secret_ref::VaultError> {
        let port = closed_port().to_string();
        let mut config: VaultConfig = settings.iter().cloned().collect();
        config.set("host", "127.0.0.1");
        config.set("port", port);
        config.set("connect_timeout", "0.5");
        let (result, took) = bounded(move || {
            HcvVault::new()
                .fetch(&Request::new("app/db", None, &config).with_max_file_size(max))
                .map(|s| s.to_string())
        });
        assert!(took < Duration::from_secs(1), "{settings:?} took {took:?}");
        result
    }

    fn kube(file: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("auth_method", "kubernetes".into()),
            ("kube_role", "app".into()),
            ("kube_api_token_file", file.to_str().unwrap().into()),
        ]
    }

    fn approle(file: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("auth_method", "approle".into()),
            ("approle_role_id", "role".into()),
            ("approle_secret_id_file", file.to_str().unwrap().into()),
        ]
    }

    #[test]
    fn token_files_must_be_small_regular_files() {
        let t = tree("hcv-token");
        let dir = t.0.join("secrets");
        mkfifo(&dir.join("fifo"));
        std::fs::write(dir.join("big"), "c4n4ry-".repeat(20)).unwrap();
        std::fs::write(dir.join("binary"), b"\xff\xfe c4n4ry").unwrap();
        let zero = Path::new("/dev/zero");
        for settings in [kube as fn(&Path) -> _, approle] {
            for (file, max, what) in [
                (dir.join("fifo"), 1024, "is a FIFO"),
                (zero.to_owned(), 1024, "not a regular file"),
                (dir.join("big"), 100, "larger than the 100-byte limit"),
                (dir.join("binary"), 1024, "not UTF-8"),
                (dir.join("missing"), 1024, "no file"),
            ] {
                let s = settings(&file);
                let err = fetch(&s, max).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{s:?}: {err}");
                let shown = err.to_string();
                assert!(shown.contains(what), "{shown}");
                assert!(shown.contains(file.to_str().unwrap()), "{shown}");
                assert!(shown.contains("_file"), "names the setting: {shown}");
                assert_no_canary(&err);
                assert!(!shown.contains("c4n4ry"), "{shown}");
            }
        }
    }

    /// A stand-in for Vault on 127.0.0.1: answers a Kubernetes login and a KV v1 read, and
    /// hands over each request's first line and body.
    fn fake_vault() -> (u16, mpsc::Receiver<(String, Vec<u8>)>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let answer = if first.starts_with("POST /v1/auth/kubernetes/login") {
                    r#"{"auth":{"client_token":"tok","lease_duration":0}}"#
                } else {
                    r#"{"data":{"password":"pw"}}"#
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                if tx.send((first, body)).is_err() {
                    return;
                }
            }
        });
        (port, rx)
    }

    /// The service account token is read through Kubernetes' links (as at its default
    /// path), and sent with its surrounding whitespace trimmed.
    #[test]
    fn kubernetes_token_through_links_is_trimmed() {
        let t = tree("hcv-kube");
        let dir = t.0.join("serviceaccount");
        std::fs::create_dir_all(dir.join("..2024_01_01_00_00_00.1")).unwrap();
        std::fs::write(
            dir.join("..2024_01_01_00_00_00.1/token"),
            " \n the-jwt \r\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("..2024_01_01_00_00_00.1", dir.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/token", dir.join("token")).unwrap();
        let (port, requests) = fake_vault();
        let r = Resolver::builder()
            .configure("hcv", "host", "127.0.0.1")
            .configure("hcv", "port", port.to_string())
            .configure("hcv", "auth_method", "kubernetes")
            .configure("hcv", "kube_role", "app")
            .configure(
                "hcv",
                "kube_api_token_file",
                dir.join("token").to_str().unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(
            r.get("{vault://hcv/app/db/password}")
                .unwrap()
                .expose_secret(),
            "pw"
        );
        let (first, body) = requests.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            first.starts_with("POST /v1/auth/kubernetes/login"),
            "{first}"
        );
        let login: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(login["jwt"], "the-jwt");
        assert_eq!(login["role"], "app");
    }

    #[test]
    fn ca_cert_must_be_a_small_regular_file() {
        let t = tree("hcv-ca");
        let fifo = t.0.join("secrets").join("ca.pem");
        mkfifo(&fifo);
        for ca in [Path::new("/dev/zero"), &fifo] {
            let r = Resolver::builder()
                .configure("hcv", "protocol", "https")
                .configure("hcv", "host", "127.0.0.1")
                .configure("hcv", "port", closed_port().to_string())
                .configure("hcv", "token", "t")
                .configure("hcv", "ca_cert", ca.to_str().unwrap())
                .build()
                .unwrap();
            let err = resolve_fast(r, "{vault://hcv/app/db/password}").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
            assert!(err.to_string().contains("ca_cert"), "{err}");
            assert!(err.to_string().contains(ca.to_str().unwrap()), "{err}");
        }
    }
}

#[cfg(feature = "aws")]
#[test]
fn aws_ca_cert_dev_zero_fails_within_a_second() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = Resolver::builder()
        .configure("aws", "region", "us-east-1")
        .configure("aws", "endpoint_url", format!("https://127.0.0.1:{port}"))
        .configure("aws", "ca_cert", "/dev/zero")
        .build()
        .unwrap();
    let err = resolve_fast(r, "{vault://aws/app-db}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert!(
        err.to_string()
            .contains("cannot read ca_cert: /dev/zero is a character device"),
        "{err}"
    );
}
