//! The `fs` vault against a real directory tree.
#![cfg(feature = "fs")]

use std::path::PathBuf;

use secret_ref::kong_conf::Loader;
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
    }
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
    assert!(!err.to_string().contains("c4n4ry"));
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
    let app: App = conf.load().unwrap();
    assert_eq!(app.pg_password.expose_secret(), "opensesame");
}
