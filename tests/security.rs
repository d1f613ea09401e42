//! The security model: a configuration string gets only the secret it names.
//!
//! A reference may choose which secret (resource, key, version, selector options), never
//! where credentials go, which local files are read, or how TLS is checked. These tests put
//! a trap on a loopback port that a hostile reference names, and prove that no configured
//! token, secret id, AWS signature or file content reaches it (against OpenBao's and moto's
//! real settings), and that the trap does catch them once the resolver opts into Kong's
//! permissive behaviour, so the proof can fail.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Bao, Moto, unique};
use secret_ref::kong_conf::Loader;
use secret_ref::vault::OptionClass;
use secret_ref::vault::aws::{AwsVault, Credentials};
use secret_ref::{ErrorKind, Resolver};
use serde_json::json;

/// A port a hostile reference points at: it records everything sent to it and answers
/// every request with a JSON body that would pass for a secret in either backend.
struct Trap {
    port: u16,
    received: Arc<Mutex<Vec<u8>>>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Trap {
    fn new() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, connections, stop) =
                (received.clone(), connections.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    connections.fetch_add(1, Ordering::SeqCst);
                    let request = read_request(&mut stream);
                    received.lock().unwrap().extend_from_slice(&request);
                    let body = r#"{"data":{"data":{"password":"from-the-trap"},"password":"from-the-trap"},"SecretString":"from-the-trap","auth":{"client_token":"trap-token","lease_duration":60}}"#;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            })
        };
        Trap {
            port,
            received,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Headers, then as much body as `Content-Length` says (a client waits for the answer, so
/// reading to the end of the stream would wait forever).
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_ascii_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                break;
            }
        }
    }
    data
}

fn temp_file(name: &str, content: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(unique(name));
    std::fs::write(&path, content).unwrap();
    path
}

fn hcv_resolver(settings: &str, builder: secret_ref::ResolverBuilder) -> Resolver {
    Loader::new()
        .text("kong.conf", settings)
        .load()
        .unwrap()
        .apply_to(builder)
        .unwrap()
        .build()
        .unwrap()
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn no_hcv_credential_or_file_reaches_a_port_a_reference_chose() {
    let bao = Bao::plain();
    let p = unique("trap");
    bao.write_kv2(&p, json!({"password": "the-real-one"}));
    let trap = Trap::new();
    let port = trap.port;
    const SECRET_ID: &str = "c4n4ry-approle-secret-id";
    const FILE_CONTENT: &str = "c4n4ry-file-content";
    let file = temp_file("jwt", FILE_CONTENT);
    let file = file.display();
    // The operator's settings: OpenBao, its token, and approle credentials.
    let settings = format!(
        "{}vault_hcv_token = {}\nvault_hcv_approle_role_id = c4n4ry-role-id\n\
         vault_hcv_approle_secret_id = {SECRET_ID}\n",
        bao.settings("v2", "secret"),
        bao.token
    );
    let strict = hcv_resolver(&settings, Resolver::builder());
    assert_eq!(
        strict
            .get(&format!("{{vault://hcv/{p}/password}}"))
            .unwrap()
            .expose_secret(),
        "the-real-one"
    );

    let hostile = [
        (format!("?port={port}"), "port"),
        (format!("?host=127.0.0.1&port={port}"), "host"),
        (format!("?protocol=http&port={port}"), "protocol"),
        (
            format!("?auth_method=kubernetes&kube_role=r&kube_api_token_file={file}&port={port}"),
            "auth_method",
        ),
        (
            format!("?kube_api_token_file={file}&port={port}"),
            "kube_api_token_file",
        ),
        (
            format!("?auth_method=approle&approle_role_id=x&port={port}"),
            "auth_method",
        ),
        (format!("?token=s.mine&port={port}"), "token"),
        ("?ca_cert=/dev/zero".to_owned(), "ca_cert"),
        (
            format!("?protocol=https&ssl_verify=off&port={port}"),
            "protocol",
        ),
        (
            "?approle_secret_id_file=/etc/passwd".to_owned(),
            "approle_secret_id_file",
        ),
    ];
    for (query, option) in &hostile {
        let reference = format!("{{vault://hcv/{p}/password{query}}}");
        let err = strict.get(&reference).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::OptionNotAllowed,
            "{reference}: {err}"
        );
        let text = format!("{err} {err:?}");
        assert!(text.contains(&format!("option `{option}`")), "{text}");
        assert!(text.contains(&format!("vault_hcv_{option}")), "{text}");
        for secret in [bao.token.as_str(), SECRET_ID, FILE_CONTENT] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    assert_eq!(trap.connections(), 0, "{}", trap.received());

    // The control: with Kong's permissive behaviour, the same reference sends the token to
    // the trap, and the trap's answer comes back as the secret. The test above can fail.
    let kong = hcv_resolver(
        &settings,
        Resolver::builder().allow_in_references(OptionClass::ALL),
    );
    let stolen = kong
        .get(&format!("{{vault://hcv/{p}/password?port={port}}}"))
        .unwrap();
    assert_eq!(stolen.expose_secret(), "from-the-trap");
    assert!(trap.received().contains(&bao.token), "{}", trap.received());
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn no_aws_signature_reaches_an_endpoint_a_reference_chose() {
    let moto = Moto::new();
    let name = unique("trap");
    let (status, body) = moto.call(
        "CreateSecret",
        json!({"Name": name, "SecretString": "the-real-one"}),
    );
    assert_eq!(status, 200, "{body}");
    let trap = Trap::new();
    const KEY_ID: &str = "AKIAC4N4RYKEYID";
    const SESSION: &str = "c4n4ry-session-token";
    let vault = || {
        AwsVault::with_credentials(Credentials::new(
            KEY_ID,
            "c4n4ry-secret-access-key",
            Some(SESSION.into()),
            None,
            "test",
        ))
    };
    let conf = Loader::new()
        .text("kong.conf", &moto.settings())
        .load()
        .unwrap();
    let strict = conf
        .apply_to(Resolver::builder().vault("aws", vault()))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        strict
            .get(&format!("{{vault://aws/{name}}}"))
            .unwrap()
            .expose_secret(),
        "the-real-one"
    );

    let url = trap.url();
    let hostile = [
        (format!("?endpoint_url={url}"), ErrorKind::OptionNotAllowed),
        (
            format!("?sts_endpoint_url={url}&assume_role_arn=arn:aws:iam::123456789012:role/x"),
            ErrorKind::OptionNotAllowed,
        ),
        (
            "?assume_role_arn=arn:aws:iam::123456789012:role/admin".to_owned(),
            ErrorKind::OptionNotAllowed,
        ),
        ("?ssl_verify=off".to_owned(), ErrorKind::OptionNotAllowed),
        ("?ca_cert=/dev/zero".to_owned(), ErrorKind::OptionNotAllowed),
        // A region goes into the host name of AWS's endpoint: it must be a region name.
        ("?region=evil.example/".to_owned(), ErrorKind::InvalidConfig),
        (
            format!("?region=127.0.0.1:{}/", trap.port),
            ErrorKind::InvalidConfig,
        ),
    ];
    for (query, kind) in &hostile {
        let reference = format!("{{vault://aws/{name}{query}}}");
        let err = strict.get(&reference).unwrap_err();
        assert_eq!(err.kind(), *kind, "{reference}: {err}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains(KEY_ID) && !text.contains(SESSION), "{text}");
    }
    // A region from the settings is checked the same way.
    let err = Loader::new()
        .text("kong.conf", "vault_aws_region = evil.example/")
        .load()
        .unwrap()
        .apply_to(Resolver::builder().vault("aws", vault()))
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(err.failures()[0].kind(), ErrorKind::InvalidConfig);
    assert_eq!(trap.connections(), 0, "{}", trap.received());

    // The control: with Kong's behaviour the signed request, session token included, goes to
    // the trap.
    let kong = conf
        .apply_to(
            Resolver::builder()
                .vault("aws", vault())
                .allow_in_references(OptionClass::ALL),
        )
        .unwrap()
        .build()
        .unwrap();
    let stolen = kong
        .get(&format!("{{vault://aws/{name}?endpoint_url={url}}}"))
        .unwrap();
    assert_eq!(stolen.expose_secret(), "from-the-trap");
    let seen = trap.received();
    assert!(seen.contains(&format!("Credential={KEY_ID}/")), "{seen}");
    assert!(seen.contains(SESSION), "{seen}");
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn a_reference_cannot_turn_a_read_into_a_call_of_vaults_own_api() {
    let bao = Bao::plain();
    let r = hcv_resolver(
        &format!(
            "{}vault_hcv_token = {}\n",
            bao.settings("v1", "secret"),
            bao.token
        ),
        Resolver::builder(),
    );
    let lookups = || bao.audited("auth/token/lookup-self");
    let before = lookups();
    for reference in [
        // `auth/token/lookup-self` answers with the token itself.
        "{vault://hcv/lookup-self/id?mount=auth/token}",
        "{vault://hcv/x?mount=auth/token/lookup-self%23}",
        "{vault://hcv/x?mount=AUTH/token}",
        "{vault://hcv/x?mount=/sys/}",
        "{vault://hcv/x?mount=identity}",
        "{vault://hcv/x?mount=cubbyhole}",
        // Dot segments, encoded or not, in the mount or the path.
        "{vault://hcv/x?mount=secret/../auth/token}",
        "{vault://hcv/x?mount=secret%2F%2E%2E%2Fauth%2Ftoken}",
        "{vault://hcv/%2E%2E%2Fauth%2Ftoken%2Flookup-self/id}",
        "{vault://hcv/a%2F..%2F..%2Fauth%2Ftoken/lookup-self}",
        "{vault://hcv/a%3Fb/id}",
        "{vault://hcv/a%23b/id}",
    ] {
        let err = r.get(reference).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{reference}: {err}");
        assert!(!err.to_string().contains(&bao.token), "{err}");
    }
    assert_eq!(lookups(), before, "a hostile reference reached lookup-self");
}

#[test]
fn an_fs_reference_cannot_choose_the_directory() {
    let dir = std::env::temp_dir().join(unique("fs-prefix"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pw"), "fine").unwrap();
    let r = Resolver::builder()
        .configure("fs", "prefix", dir.to_str().unwrap())
        .build()
        .unwrap();
    assert_eq!(r.get("{vault://fs/pw}").unwrap().expose_secret(), "fine");
    for reference in [
        "{vault://fs/hostname?prefix=/etc}",
        "{vault://fs/environ?prefix=/proc/self}",
        "{vault://fs/zero?prefix=/dev}",
    ] {
        let err = r.get(reference).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OptionNotAllowed, "{reference}");
        assert!(err.to_string().contains("vault_fs_prefix"), "{err}");
    }
    for reference in [
        "{vault://fs/../../../etc/hostname}",
        "{vault://fs/%2Fetc%2Fhostname}",
    ] {
        let err = r.get(reference).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::PermissionDenied,
            "{reference}: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs .ci/servers.sh"]
fn insecure_settings_are_reported_once_per_vault() {
    let bao = Bao::plain();
    let p = unique("insecure");
    bao.write_kv2(&p, json!({"a": "1", "b": "2"}));
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let seen = warnings.clone();
    // A plain-http OpenBao, reached as `hcv` and as the named vault `other`.
    let r = hcv_resolver(
        &format!(
            "{}vault_hcv_token = {}\nvault_prefixes = other:hcv\n\
             vault_other_protocol = http\nvault_other_host = {}\nvault_other_port = {}\n\
             vault_other_kv = v2\nvault_other_token = {}\n",
            bao.settings("v2", "secret"),
            bao.token,
            bao.host(),
            bao.port(),
            bao.token
        ),
        Resolver::builder().on_warning(move |f| seen.lock().unwrap().push(f.clone())),
    );
    for _ in 0..3 {
        for vault in ["hcv", "other"] {
            for key in ["a", "b"] {
                r.get(&format!("{{vault://{vault}/{p}/{key}}}")).unwrap();
            }
        }
    }
    let seen = warnings.lock().unwrap().clone();
    let vaults: Vec<_> = seen.iter().map(|w| w.vault().unwrap().to_owned()).collect();
    assert_eq!(vaults, ["hcv", "other"], "{seen:?}");
    for w in &seen {
        assert_eq!(w.kind(), ErrorKind::Insecure);
        assert!(w.message().contains("plain http"), "{w}");
        assert!(!w.to_string().contains(&bao.token), "{w}");
    }

    // TLS without verification, against OpenBao's TLS listener.
    let tls = Bao::tls();
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let seen = warnings.clone();
    let r = hcv_resolver(
        &format!(
            "{}vault_hcv_token = {}\nvault_hcv_ssl_verify = off\n",
            tls.settings("v2", "secret"),
            tls.token
        ),
        Resolver::builder().on_warning(move |f| seen.lock().unwrap().push(f.clone())),
    );
    // No such secret: the answer (over TLS that was not verified) is "not found".
    let q = unique("insecure-tls");
    for _ in 0..2 {
        let err = r.get(&format!("{{vault://hcv/{q}/a}}")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    }
    let seen = warnings.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].message().contains("ssl_verify = off"),
        "{}",
        seen[0]
    );
}
