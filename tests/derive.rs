//! `#[derive(ResolveSecrets)]` on every shape of type the issue lists, resolved against a
//! fixed environment so that tests do not touch the process's.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::num::{NonZeroI32, NonZeroU8};
use std::path::PathBuf;
use std::time::Duration;

use secret_ref::vault::env::EnvVault;
use secret_ref::{ErrorKind, ResolveSecrets, Resolver, Secret, secret_paths};
use serde::Deserialize;

fn resolver() -> Resolver {
    Resolver::builder()
        .vault(
            "env",
            EnvVault::from_vars([
                ("PG_PASSWORD", "pg-pw"),
                ("PG_PORT", "5432"),
                ("REPLICA_A", "ra"),
                ("REPLICA_B", "rb"),
                ("TOKEN_CI", "tci"),
                ("TOKEN_DEPLOY", "tdeploy"),
                ("CREDS", r#"{"user":"app","password":"s3cret","port":6543}"#),
                ("FLAG", "on"),
            ]),
        )
        .build()
        .unwrap()
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Replica {
    host: String,
    password: Secret<String>,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Config {
    pg_password: Secret<String>,
    pg_port: Secret<u16>,
    replicas: Vec<Replica>,
    primary: Box<Replica>,
    standby: Option<Replica>,
    tokens: HashMap<String, Secret<String>>,
    sorted_tokens: BTreeMap<String, Secret<String>>,
    maybe: Option<Secret<String>>,
    ssl: Secret<bool>,
    user: Secret<String>,
    #[secret(skip)]
    #[allow(dead_code)]
    opaque: Opaque,
    timeout_ms: u64,
}

/// A type without `ResolveSecrets`: only allowed behind `#[secret(skip)]`.
#[derive(Debug, Deserialize)]
struct Opaque {
    #[allow(dead_code)]
    note: String,
}

const CONFIG: &str = r#"{
    "pg_password": "{vault://env/pg-password}",
    "pg_port": "{vault://env/pg-port}",
    "replicas": [
        {"host": "a", "password": "{vault://env/replica-a}"},
        {"host": "b", "password": "{vault://env/replica-b}"}
    ],
    "primary": {"host": "p", "password": "literal-primary"},
    "standby": null,
    "tokens": {"ci": "{vault://env/token-ci}", "deploy": "{vault://env/token-deploy}"},
    "sorted_tokens": {"x": "{vault://env/token-ci}"},
    "maybe": "{vault://env/creds/password}",
    "ssl": "{vault://env/flag}",
    "user": "{vault://env/creds/user}",
    "opaque": {"note": "{vault://not/resolved}"},
    "timeout_ms": 1000
}"#;

#[test]
fn resolves_every_shape() {
    let mut config: Config = serde_json::from_str(CONFIG).unwrap();
    config.resolve_secrets(&resolver()).unwrap();
    assert_eq!(config.pg_password.expose_secret(), "pg-pw");
    assert_eq!(*config.pg_port.expose_secret(), 5432);
    assert_eq!(config.replicas[0].password.expose_secret(), "ra");
    assert_eq!(config.replicas[1].password.expose_secret(), "rb");
    assert_eq!(config.primary.password.expose_secret(), "literal-primary");
    assert!(config.primary.password.is_literal());
    assert_eq!(config.tokens["ci"].expose_secret(), "tci");
    assert_eq!(config.tokens["deploy"].expose_secret(), "tdeploy");
    assert_eq!(config.sorted_tokens["x"].expose_secret(), "tci");
    assert_eq!(config.maybe.as_ref().unwrap().expose_secret(), "s3cret");
    assert!(*config.ssl.expose_secret());
    assert_eq!(config.user.expose_secret(), "app");
    assert_eq!(config.timeout_ms, 1000);
}

#[test]
fn secret_paths_are_known_at_compile_time() {
    assert_eq!(
        secret_paths::<Config>(),
        [
            "pg_password",
            "pg_port",
            "replicas[].password",
            "primary.password",
            "standby.password",
            "tokens.*",
            "sorted_tokens.*",
            "maybe",
            "ssl",
            "user",
        ]
    );
    // The shape is a constant: usable without any value at hand.
    const SHAPE: secret_ref::shape::Shape = <Config as ResolveSecrets>::SHAPE;
    assert!(matches!(SHAPE, secret_ref::shape::Shape::Struct(fields) if fields.len() == 11));
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Tuple(
    String,
    Secret<String>,
    #[secret(skip)]
    #[allow(dead_code)]
    Opaque,
);

#[test]
fn tuple_structs() {
    let mut t: Tuple =
        serde_json::from_str(r#"["h", "{vault://env/pg-password}", {"note": ""}]"#).unwrap();
    t.resolve_secrets(&resolver()).unwrap();
    assert_eq!(t.1.expose_secret(), "pg-pw");
    assert_eq!(secret_paths::<Tuple>(), ["[1]"]);
}

#[derive(Debug, Deserialize, ResolveSecrets)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Auth {
    Password {
        user: String,
        password: Secret<String>,
    },
    Token(TokenAuth),
    None,
    #[secret(skip)]
    #[allow(dead_code)]
    Legacy {
        blob: Opaque,
    },
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct TokenAuth {
    token: Secret<String>,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct WithAuth {
    auth: Vec<Auth>,
}

#[test]
fn enums() {
    let mut w: WithAuth = serde_json::from_str(
        r#"{"auth": [
            {"kind": "password", "user": "u", "password": "{vault://env/pg-password}"},
            {"kind": "token", "token": "{vault://env/token-ci}"},
            {"kind": "none"}
        ]}"#,
    )
    .unwrap();
    w.resolve_secrets(&resolver()).unwrap();
    match &w.auth[0] {
        Auth::Password { password, .. } => assert_eq!(password.expose_secret(), "pg-pw"),
        other => panic!("{other:?}"),
    }
    match &w.auth[1] {
        Auth::Token(t) => assert_eq!(t.token.expose_secret(), "tci"),
        other => panic!("{other:?}"),
    }
    // Variants are not part of paths; their fields are.
    assert_eq!(
        secret_paths::<WithAuth>(),
        ["auth[].password", "auth[].token"]
    );
}

#[derive(Debug, Deserialize, ResolveSecrets)]
enum Pair {
    Both(Secret<String>, Secret<String>),
}

#[test]
fn tuple_variants_name_positions() {
    let mut p: Pair =
        serde_json::from_str(r#"{"Both": ["{vault://env/pg-password}", "{vault://env}"]}"#)
            .unwrap();
    let err = p.resolve_secrets(&resolver()).unwrap_err();
    assert_eq!(err.failures()[0].path(), Some("[1]"));
    let Pair::Both(a, _) = &p;
    assert_eq!(a.expose_secret(), "pg-pw");
}

#[derive(Debug, Deserialize, ResolveSecrets)]
// serde bounds type parameters by `Deserialize`; `Secret<U>` needs `U: Zeroize`, declared on
// the type since `Secret` itself requires it.
#[serde(bound(deserialize = "T: Deserialize<'de>, U: serde::de::DeserializeOwned"))]
struct Generic<T, U: secret_ref::zeroize::Zeroize> {
    inner: T,
    list: Vec<U>,
    secret: Secret<U>,
    #[secret(skip)]
    #[serde(skip)]
    _unused: std::marker::PhantomData<fn() -> U>,
}

#[test]
fn generic_types() {
    let mut g: Generic<Replica, u16> = serde_json::from_str(
        r#"{"inner": {"host": "h", "password": "{vault://env/replica-a}"},
            "list": [1, 2], "secret": "{vault://env/pg-port}"}"#,
    )
    .unwrap();
    g.resolve_secrets(&resolver()).unwrap();
    assert_eq!(g.inner.password.expose_secret(), "ra");
    assert_eq!(*g.secret.expose_secret(), 5432);
    assert_eq!(
        secret_paths::<Generic<Replica, u16>>(),
        ["inner.password", "secret"]
    );
    assert_eq!(
        secret_paths::<Generic<Secret<String>, String>>(),
        ["inner", "secret"]
    );
}

#[derive(Debug, Deserialize, ResolveSecrets)]
#[serde(rename_all = "kebab-case")]
struct Renamed {
    pg_password: Secret<String>,
    #[serde(rename = "API-TOKEN")]
    api_token: Secret<String>,
    #[serde(flatten)]
    extra: Extra,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Extra {
    extra_secret: Secret<String>,
}

#[test]
fn paths_follow_serde_names() {
    assert_eq!(
        secret_paths::<Renamed>(),
        ["pg-password", "API-TOKEN", "extra_secret"]
    );
    let mut r: Renamed = serde_json::from_str(
        r#"{"pg-password": "{vault://env/nope-1}", "API-TOKEN": "{vault://env/nope-2}",
            "extra_secret": "{vault://env/nope-3}"}"#,
    )
    .unwrap();
    let err = r.resolve_secrets(&resolver()).unwrap_err();
    let paths: Vec<_> = err.failures().iter().map(|f| f.path().unwrap()).collect();
    assert_eq!(paths, ["pg-password", "API-TOKEN", "extra_secret"]);
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Tree {
    name: String,
    secret: Option<Secret<String>>,
    children: Vec<Tree>,
}

#[test]
fn recursive_types() {
    let mut t: Tree = serde_json::from_str(
        r#"{"name": "root", "secret": null, "children": [
            {"name": "a", "secret": "{vault://env/replica-a}", "children": [
                {"name": "b", "secret": "{vault://env/missing}", "children": []}
            ]}
        ]}"#,
    )
    .unwrap();
    let err = t.resolve_secrets(&resolver()).unwrap_err();
    assert_eq!(
        err.failures()[0].path(),
        Some("children[0].children[0].secret")
    );
    assert_eq!(t.children[0].secret.as_ref().unwrap().expose_secret(), "ra");
    // A recursive type has infinitely many paths; the list stops at the first repeat.
    assert_eq!(secret_paths::<Tree>(), ["secret"]);
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Plain {
    password: String,
    list: Vec<String>,
    #[secret(skip)]
    #[allow(dead_code)]
    template: String,
}

#[test]
fn a_reference_in_a_plain_string_is_reported() {
    let mut p: Plain = serde_json::from_str(
        r#"{"password": "{vault://env/pg-password}", "list": ["ok", "{vault://env/x?token=abc}"],
            "template": "{vault://env/kept-as-text}"}"#,
    )
    .unwrap();
    let err = p.resolve_secrets(&resolver()).unwrap_err();
    let got: Vec<_> = err
        .failures()
        .iter()
        .map(|f| (f.path().unwrap(), f.kind(), f.reference().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "password",
                ErrorKind::ReferenceInPlainField,
                "{vault://env/pg-password}"
            ),
            (
                "list[1]",
                ErrorKind::ReferenceInPlainField,
                "{vault://env/x?token=***}"
            ),
        ]
    );
    assert!(err.to_string().contains("declare it `Secret<String>`"));
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Newtype(#[secret(reference_only)] Secret<String>);

#[test]
fn reference_only_on_a_newtype() {
    let mut n: Newtype = serde_json::from_str(r#""literal""#).unwrap();
    let err = n.resolve_secrets(&resolver()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LiteralNotAllowed);
    assert_eq!(err.failures()[0].path(), None);
    assert_eq!(secret_paths::<Newtype>(), [""]);
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Policy {
    #[secret(reference_only)]
    password: Secret<String>,
    #[secret(reference_only)]
    replicas: Vec<Replica>,
}

#[test]
fn reference_only_refuses_literals_everywhere_below() {
    let mut p: Policy = serde_json::from_str(
        r#"{"password": "hunter2", "replicas": [{"host": "a", "password": "also-literal"}]}"#,
    )
    .unwrap();
    let err = p.resolve_secrets(&resolver()).unwrap_err();
    let got: Vec<_> = err
        .failures()
        .iter()
        .map(|f| (f.path().unwrap(), f.kind()))
        .collect();
    assert_eq!(
        got,
        [
            ("password", ErrorKind::LiteralNotAllowed),
            ("replicas[0].password", ErrorKind::LiteralNotAllowed)
        ]
    );
    assert!(!err.to_string().contains("hunter2"));
}

mod renamed_crate {
    // `#[secret(crate = "...")]` for code that reaches secret-ref through a re-export.
    pub mod reexport {
        pub use secret_ref as sr;
    }

    #[derive(secret_ref::ResolveSecrets)]
    #[secret(crate = "reexport::sr")]
    pub struct Via {
        pub s: reexport::sr::Secret<String>,
    }

    #[test]
    fn crate_path() {
        assert_eq!(reexport::sr::secret_paths::<Via>(), ["s"]);
    }
}

#[derive(ResolveSecrets)]
#[secret(bound = "T: secret_ref::ResolveSecrets")]
struct Bounded<T> {
    inner: T,
}

#[test]
fn explicit_bound() {
    assert_eq!(secret_paths::<Bounded<Secret<String>>>(), ["inner"]);
}

#[derive(ResolveSecrets)]
struct Unit;

#[derive(ResolveSecrets)]
enum Empty {}

#[test]
fn empty_types() {
    assert!(secret_paths::<Unit>().is_empty());
    assert!(secret_paths::<Empty>().is_empty());
    Unit.resolve_secrets(&resolver()).unwrap();
}

/// A user's own plain type: marked once, at the type, and then usable in any field (and in
/// sets) without an attribute. Its fields need no `ResolveSecrets`.
#[derive(Debug, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord, ResolveSecrets)]
#[secret(plain)]
#[serde(rename_all = "lowercase")]
enum LogLevel {
    Debug,
    Info,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
#[secret(plain)]
struct Limits<T> {
    // No `ResolveSecrets` for `Opaque`, no bound on `T`: a plain type is not walked.
    #[allow(dead_code)]
    note: Opaque,
    rate: T,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Service {
    password: Secret<String>,
    extra: serde_json::Value,
    hosts: HashSet<String>,
    ports: BTreeSet<u16>,
    levels: HashSet<LogLevel>,
    level: LogLevel,
    limits: Limits<u32>,
    timeout: Duration,
    root: PathBuf,
    listen: SocketAddr,
    peer: SocketAddrV4,
    ip: IpAddr,
    workers: NonZeroU8,
    offset: NonZeroI32,
    aliases: Box<[String]>,
    labels: serde_json::Map<String, serde_json::Value>,
}

const SERVICE: &str = r#"{
    "password": "{vault://env/pg-password}",
    "extra": {"headers": {"accept": "json"}, "hosts": ["a", "b"], "retries": 3, "on": true},
    "hosts": ["db1", "db2"],
    "ports": [5432, 6432],
    "levels": ["debug", "info"],
    "level": "info",
    "limits": {"note": {"note": "{vault://env/not-walked}"}, "rate": 10},
    "timeout": {"secs": 5, "nanos": 0},
    "root": "/srv/app",
    "listen": "127.0.0.1:8080",
    "peer": "127.0.0.1:9090",
    "ip": "::1",
    "workers": 4,
    "offset": -1,
    "aliases": ["svc"],
    "labels": {"team": "core"}
}"#;

#[test]
fn plain_types_need_no_attribute() {
    let mut service: Service = serde_json::from_str(SERVICE).unwrap();
    service.resolve_secrets(&resolver()).unwrap();
    assert_eq!(service.password.expose_secret(), "pg-pw");
    assert_eq!(service.level, LogLevel::Info);
    assert_eq!(service.limits.rate, 10);
    assert_eq!(service.workers.get(), 4);
    assert_eq!(secret_paths::<Service>(), ["password"]);
    assert!(matches!(
        <LogLevel as ResolveSecrets>::SHAPE,
        secret_ref::shape::Shape::Plain
    ));
    assert!(secret_paths::<Limits<Secret<String>>>().is_empty());
}

#[test]
fn a_reference_in_plain_text_is_still_reported() {
    let mut service: Service = serde_json::from_str(SERVICE).unwrap();
    service.extra = serde_json::json!({
        "headers": {"authorization": "{vault://env/api-token}", "accept": "json"},
        "hosts": ["a", "{vault:/env/near-miss}"],
        "nested": [[{"deep": "{vault://env/deep}"}]],
    });
    service.hosts = ["db1", "{vault://env/host-b}", "{vault://env/host-a}"]
        .map(String::from)
        .into();
    service.root = PathBuf::from("{vault://env/root}");
    service.aliases = vec![String::from("{vault://env/alias}")].into_boxed_slice();
    service
        .labels
        .insert("team".into(), "{vault://env/team}".into());
    let err = service.resolve_secrets(&resolver()).unwrap_err();
    let got: Vec<_> = err
        .failures()
        .iter()
        .map(|f| (f.path().unwrap(), f.reference()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "extra.headers.authorization",
                Some("{vault://env/api-token}")
            ),
            // A near miss is reported without its text, which may be a password.
            ("extra.hosts[1]", None),
            ("extra.nested[0][0].deep", Some("{vault://env/deep}")),
            // A set has no positions: the set's path, in the order of the text.
            ("hosts", Some("{vault://env/host-a}")),
            ("hosts", Some("{vault://env/host-b}")),
            ("root", Some("{vault://env/root}")),
            ("aliases[0]", Some("{vault://env/alias}")),
            ("labels.team", Some("{vault://env/team}")),
        ]
    );
    assert!(
        err.failures()
            .iter()
            .all(|f| f.kind() == ErrorKind::ReferenceInPlainField)
    );
    // What could be resolved was.
    assert_eq!(service.password.expose_secret(), "pg-pw");
}

/// A plain union: nothing in it is walked, so the derive need not know which field is live.
#[derive(ResolveSecrets)]
#[secret(plain)]
#[allow(dead_code)]
union Bits {
    int: u32,
    float: f32,
}

#[test]
fn a_plain_union() {
    assert!(secret_paths::<Bits>().is_empty());
    Bits { int: 1 }.resolve_secrets(&resolver()).unwrap();
}
