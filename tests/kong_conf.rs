//! The kong.conf reader against Kong's own files, layering, vault settings, and errors.

use std::collections::{BTreeMap, HashMap};

use secret_ref::kong_conf::{self, KongConf, Loader};
use secret_ref::{ErrorKind, ResolveSecrets, Resolver, Secret};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("data/kong_defaults.conf");
const SAMPLE: &str = include_str!("data/kong.conf.default");

#[test]
fn kong_defaults_reads_back_line_by_line() {
    let map: BTreeMap<String, String> = kong_conf::from_str(DEFAULTS).unwrap();
    let mut expected = BTreeMap::new();
    for line in DEFAULTS.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line.split_once('=').unwrap();
        expected.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    assert_eq!(map.len(), 205);
    assert_eq!(map, expected);
}

#[test]
fn the_commented_sample_parses_and_its_settings_uncommented_too() {
    // Every setting in kong.conf.default is commented out.
    let conf = KongConf::parse(SAMPLE).unwrap();
    assert_eq!(conf.entries().count(), 0);

    // Uncommenting them (`#key = value  # explanation`) gives Kong's sample values, with
    // the explanations stripped as trailing comments.
    let uncommented: String = SAMPLE
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest)
                if rest.starts_with(|c: char| c.is_ascii_lowercase()) && rest.contains(" =") =>
            {
                rest
            }
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let conf = KongConf::parse(&uncommented).unwrap();
    // 178 settings, plus three `pluginserver_XXX_*` templates.
    assert_eq!(conf.entries().count(), 181);
    assert_eq!(
        conf.get("pluginserver_XXX_socket"),
        Some("<prefix>/<XXX>.socket")
    );
    assert_eq!(conf.get("vaults"), Some("bundled"));
    assert_eq!(conf.get("pg_port"), Some("5432"));
    assert_eq!(conf.get("vault_env_prefix"), Some(""));
    assert_eq!(
        conf.get("proxy_listen"),
        Some(
            "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384"
        )
    );
    for entry in conf.entries() {
        assert!(
            !entry.value().contains('#'),
            "{} kept a comment",
            entry.key()
        );
    }
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct KongSubset {
    prefix: String,
    vaults: Vec<String>,
    plugins: Vec<String>,
    anonymous_reports: bool,
    proxy_listen: Vec<String>,
    admin_listen: Vec<String>,
    stream_listen: Vec<String>,
    headers: Vec<String>,
    trusted_ips: Vec<String>,
    pg_host: String,
    pg_port: u16,
    pg_database: String,
    pg_schema: Option<String>,
    pg_timeout: u64,
    pg_user: String,
    pg_password: Option<Secret<String>>,
    pg_ssl: bool,
    pg_ssl_verify: bool,
    pg_max_concurrent_queries: u32,
    pg_ro_host: Option<String>,
    pg_ro_port: Option<u16>,
    pg_ro_ssl: Option<bool>,
    lua_ssl_verify_depth: u8,
    request_debug_token: Option<String>,
}

#[test]
fn a_typed_subset_reads_kongs_defaults() {
    let kong: KongSubset = kong_conf::from_str(DEFAULTS).unwrap();
    assert_eq!(kong.prefix, "/usr/local/kong/");
    assert_eq!(kong.vaults, ["bundled"]);
    assert_eq!(kong.plugins, ["bundled"]);
    assert!(kong.anonymous_reports);
    assert_eq!(
        kong.proxy_listen,
        [
            "0.0.0.0:8000 reuseport backlog=16384",
            "0.0.0.0:8443 http2 ssl reuseport backlog=16384"
        ]
    );
    assert_eq!(kong.admin_listen.len(), 2);
    assert_eq!(kong.stream_listen, ["off"]);
    assert_eq!(
        kong.headers,
        ["server_tokens", "latency_tokens", "x-kong-request-id"]
    );
    assert!(kong.trusted_ips.is_empty(), "NONE is an empty list");
    assert_eq!(
        (
            kong.pg_host.as_str(),
            kong.pg_port,
            kong.pg_database.as_str()
        ),
        ("127.0.0.1", 5432, "kong")
    );
    assert_eq!(kong.pg_schema, None);
    assert_eq!(kong.pg_timeout, 5000);
    assert_eq!(kong.pg_user, "kong");
    assert!(kong.pg_password.is_none());
    assert!(!kong.pg_ssl && !kong.pg_ssl_verify);
    assert_eq!(kong.pg_max_concurrent_queries, 0);
    assert_eq!(
        (kong.pg_ro_host, kong.pg_ro_port, kong.pg_ro_ssl),
        (None, None, None)
    );
    assert_eq!(kong.lua_ssl_verify_depth, 1);
    assert_eq!(kong.request_debug_token, None, "an empty value is unset");
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct PgConfig {
    pg_host: String,
    pg_port: u16,
    pg_user: String,
    pg_password: Secret<String>,
    pg_ssl: bool,
}

fn seed_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("MY_SECRET_POSTGRES_PASSWORD", "opensesame"),
        ("OTHER_PASSWORD", "from-another-variable"),
    ]
}

#[test]
fn the_seed_from_the_file_then_from_kong_pg_password() {
    let file = "pg_password = {vault://env/my-secret-postgres-password}\npg_ssl = on";
    let conf = Loader::new()
        .defaults(DEFAULTS)
        .text("kong.conf", file)
        .env_prefix("KONG_")
        .env_vars(seed_env())
        .load()
        .unwrap();
    let pg: PgConfig = conf.extract().unwrap();
    assert_eq!(pg.pg_password.expose_secret(), "opensesame");
    assert!(pg.pg_ssl);
    assert_eq!(pg.pg_host, "127.0.0.1");

    // The same reference from KONG_PG_PASSWORD, over a file that has none.
    let mut env = seed_env();
    env.push((
        "KONG_PG_PASSWORD",
        "{vault://env/my-secret-postgres-password}",
    ));
    let conf = Loader::new()
        .defaults(DEFAULTS)
        .env_prefix("KONG_")
        .env_vars(env)
        .load()
        .unwrap();
    assert_eq!(
        conf.entry("pg_password").unwrap().origin().to_string(),
        "env KONG_PG_PASSWORD"
    );
    let pg: PgConfig = conf.extract().unwrap();
    assert_eq!(pg.pg_password.expose_secret(), "opensesame");
}

#[test]
fn layers_defaults_file_environment() {
    let conf = Loader::new()
        .defaults(
            "pg_host = 127.0.0.1\npg_port = 5432\npg_user = kong\npg_password = NONE\npg_ssl = off",
        )
        .text(
            "kong.conf",
            "pg_port = 6432 # ours\npg_password = {vault://env/other-password}",
        )
        .text("override.conf", "pg_ssl = on")
        .env_prefix("APP_")
        .env_vars([
            ("APP_PG_USER", "app # not a comment"),
            ("OTHER_PASSWORD", "from-another-variable"),
            ("KONG_PG_USER", "ignored: another prefix"),
        ])
        .load()
        .unwrap();
    let pg: PgConfig = conf.extract().unwrap();
    assert_eq!(pg.pg_host, "127.0.0.1");
    assert_eq!(pg.pg_port, 6432);
    assert_eq!(pg.pg_user, "app # not a comment");
    assert!(pg.pg_ssl);
    assert_eq!(pg.pg_password.expose_secret(), "from-another-variable");
    let origins: Vec<String> = conf
        .entries()
        .map(|e| format!("{}={}", e.key(), e.origin()))
        .collect();
    assert_eq!(
        origins,
        [
            "pg_host=defaults line 1",
            "pg_port=kong.conf line 1",
            "pg_user=env APP_PG_USER",
            "pg_password=kong.conf line 2",
            "pg_ssl=override.conf line 1",
        ]
    );
}

#[test]
fn environment_reaches_fields_no_file_has() {
    let conf = Loader::new()
        .text("kong.conf", "pg_host = db")
        .env_prefix("APP_")
        .env_vars([
            ("APP_PG_PORT", "5433"),
            ("APP_PG_USER", "u"),
            ("APP_PG_PASSWORD", "literal"),
            ("APP_PG_SSL", "true"),
            ("APP_UNRELATED", "x"),
        ])
        .load()
        .unwrap();
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        pg_host: String,
        pg_port: u16,
        pg_user: String,
        pg_password: Secret<String>,
        pg_ssl: bool,
    }
    let strict: Strict = conf.extract_unresolved().unwrap();
    assert_eq!(strict.pg_port, 5433);
    // A map sees file keys only (and vault settings), as Kong sees only keys it knows.
    let map: HashMap<String, String> = conf.extract_unresolved().unwrap();
    assert_eq!(map.len(), 1);
}

#[test]
fn both_resolution_modes_through_every_layer() {
    let resolver = Resolver::builder()
        .vault(
            "env",
            secret_ref::vault::env::EnvVault::from_vars(seed_env()),
        )
        .build()
        .unwrap();
    let conf = Loader::new()
        .defaults("pg_host = h\npg_port = 1\npg_user = u\npg_ssl = off")
        .text(
            "kong.conf",
            "pg_password = {vault://env/my-secret-postgres-password}",
        )
        .load()
        .unwrap();
    // During deserialization...
    let pg: PgConfig = resolver.scope(|| conf.extract_unresolved()).unwrap();
    assert_eq!(pg.pg_password.expose_secret(), "opensesame");
    // ...or after it.
    let mut pg: PgConfig = conf.extract_unresolved().unwrap();
    assert!(!pg.pg_password.is_resolved());
    pg.resolve_secrets(&resolver).unwrap();
    assert_eq!(pg.pg_password.expose_secret(), "opensesame");
    // And with kong_conf::from_str inside a scope.
    let pg: PgConfig = resolver
        .scope(|| {
            kong_conf::from_str(
                "pg_host=h\npg_port=1\npg_user=u\npg_ssl=on\npg_password={vault://env/other-password}",
            )
        })
        .unwrap();
    assert_eq!(pg.pg_password.expose_secret(), "from-another-variable");
}

#[test]
fn lists_of_references() {
    #[derive(Debug, Deserialize, ResolveSecrets)]
    struct Certs {
        ssl_cert: Vec<Secret<String>>,
    }
    let conf = Loader::new()
        .text(
            "kong.conf",
            "ssl_cert = {vault://env/a}, {vault://env/b}, {vault://env/missing}",
        )
        .env_vars([("A", "pem-a"), ("B", "pem-b")])
        .load()
        .unwrap();
    let err = conf.extract::<Certs>().unwrap_err();
    assert_eq!(err.failures().len(), 1);
    let failure = &err.failures()[0];
    assert_eq!(failure.path(), Some("ssl_cert[2]"));
    assert_eq!(failure.origin(), Some("kong.conf line 1"));
    assert_eq!(
        failure.to_string(),
        "ssl_cert[2] (kong.conf line 1): {vault://env/missing} (vault `env`): \
         environment variable MISSING is not set"
    );
}

#[test]
fn errors_name_the_line_and_key_and_never_the_value() {
    // Every bad line at once.
    let err = KongConf::parse("a = 1\nc4n4ry-one\nb = 2\n[c4n4ry-two]\n").unwrap_err();
    assert_eq!(err.failures().len(), 2);
    assert_eq!(err.failures()[0].kind(), ErrorKind::Syntax);
    assert_eq!(err.failures()[0].origin(), Some("kong.conf line 2"));
    assert_eq!(err.failures()[1].origin(), Some("kong.conf line 4"));
    assert!(!err.to_string().contains("c4n4ry"));

    // A value that does not fit its field.
    let err = kong_conf::from_str::<PgConfig>(
        "pg_host = h\npg_port = c4n4ry\npg_user = u\npg_password = x\npg_ssl = on",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pg_port (kong.conf line 2): invalid value (text), expected u16"
    );
    let err = kong_conf::from_str::<PgConfig>(
        "pg_host = h\npg_port = 1\npg_user = u\npg_password = x\npg_ssl = c4n4ry",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pg_ssl (kong.conf line 5): invalid value (text), expected on, off, true or false"
    );
    let err =
        kong_conf::from_str::<PgConfig>("pg_host = h\npg_port = 1\npg_password = x\npg_ssl = on")
            .unwrap_err();
    assert_eq!(err.to_string(), "missing field `pg_user`");

    // A resolved secret that does not fit.
    #[derive(Debug, Deserialize, ResolveSecrets)]
    struct Port {
        pg_port: Secret<u16>,
    }
    let conf = Loader::new()
        .text("kong.conf", "pg_port = {vault://env/pg-port}")
        .env_vars([("PG_PORT", "c4n4ry")])
        .load()
        .unwrap();
    let err = conf.extract::<Port>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "pg_port (kong.conf line 1): {vault://env/pg-port} (vault `env`): the secret does not \
         fit `u16`: invalid value: a string, expected u16"
    );
    // A literal secret that does not fit.
    let err = kong_conf::from_str::<Port>("pg_port = c4n4ry").unwrap_err();
    assert!(!err.to_string().contains("c4n4ry"), "{err}");
    assert_eq!(err.failures()[0].path(), Some("pg_port"));

    // Files that cannot be read are reported with the bad lines of the others.
    let err = Loader::new()
        .file("/nonexistent/kong.conf")
        .text("other.conf", "oops")
        .load()
        .unwrap_err();
    assert_eq!(err.failures().len(), 2);
    assert!(
        err.failures()[0]
            .message()
            .starts_with("cannot read /nonexistent/kong.conf")
    );
}

#[test]
fn vault_settings_like_kong() {
    #[derive(Deserialize, ResolveSecrets)]
    struct One {
        value: Secret<String>,
    }
    let load = |file: &str, env: &[(&str, &str)]| -> Result<String, secret_ref::Error> {
        let conf = Loader::new()
            .text("kong.conf", file)
            .env_prefix("KONG_")
            .env_vars(env.iter().copied())
            .load()?;
        conf.extract::<One>()
            .map(|o| o.value.expose_secret().clone())
    };
    let env = [
        ("SECRETS_TEST", "testvalue-with-config"),
        ("SECRETS_AGAIN_TEST_TOO", "testvalue-with-config-again"),
        ("TEST", "plain"),
    ];
    // vault_env_prefix in the file, and KONG_VAULT_ENV_PREFIX over it.
    assert_eq!(
        load(
            "value = {vault://env/test}\nvault_env_prefix = SECRETS_",
            &env
        )
        .unwrap(),
        "testvalue-with-config"
    );
    let mut with_var = env.to_vec();
    with_var.push(("KONG_VAULT_ENV_PREFIX", "SECRETS-AGAIN-"));
    assert_eq!(
        load(
            "value = {vault://env/test-too}\nvault_env_prefix = SECRETS_",
            &with_var
        )
        .unwrap(),
        "testvalue-with-config-again"
    );
    // The reference's own options win over the settings.
    assert_eq!(
        load(
            "value = {vault://env/test?prefix=}\nvault_env_prefix = SECRETS_",
            &env
        )
        .unwrap(),
        "plain"
    );
    // Named vaults (Kong's entities) declared in the file.
    assert_eq!(
        load(
            "value = {vault://test-env/test}\nvault_prefixes = test-env:env\nvault_test_env_prefix = SECRETS_",
            &env
        )
        .unwrap(),
        "testvalue-with-config"
    );
    // `vaults` selects what is loaded.
    let err = load("value = {vault://env/test}\nvaults = off", &env).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownVault);
    assert_eq!(
        load("value = {vault://env/test}\nvaults = env", &env).unwrap(),
        "plain"
    );
    let err = load("value = {vault://env/test}\nvaults = env, nope", &env).unwrap_err();
    assert_eq!(err.failures()[0].path(), Some("vaults"));
    assert_eq!(err.failures()[0].origin(), Some("kong.conf line 2"));
    // Unknown settings are reported where they are written.
    let err = load(
        "value = {vault://env/test}\nvault_env_prefx = X\nvault_nope_token = c4n4ry",
        &env,
    )
    .unwrap_err();
    let got: Vec<_> = err
        .failures()
        .iter()
        .map(|f| (f.path().unwrap(), f.origin().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("vault_env_prefx", "kong.conf line 2"),
            ("vault_nope_token", "kong.conf line 3")
        ]
    );
    assert!(!err.to_string().contains("c4n4ry"));
    // A struct never sees vault settings, so `deny_unknown_fields` keeps working.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        value: String,
    }
    let conf = KongConf::parse("value = x\nvaults = bundled\nvault_env_prefix = A_").unwrap();
    conf.extract_unresolved::<Strict>().unwrap();
}

#[test]
fn continuation_lines_and_escapes() {
    let conf = KongConf::parse(
        "admin_listen = 127.0.0.1:8001, \\\n    127.0.0.1:8444 ssl\npg_port = {vault://env/pg-port\\#0}  # Kong's own example\n",
    )
    .unwrap();
    assert_eq!(
        conf.get("admin_listen"),
        Some("127.0.0.1:8001,     127.0.0.1:8444 ssl")
    );
    assert_eq!(conf.get("pg_port"), Some("{vault://env/pg-port#0}"));
    let r = secret_ref::Reference::parse(conf.get("pg_port").unwrap()).unwrap();
    assert_eq!(r.version(), Some(0));
}

#[test]
fn debug_output_hides_values() {
    let conf =
        KongConf::parse("pg_password = c4n4ry\npg_user = {vault://env/u?token=c4n4ry}").unwrap();
    let debug = format!("{conf:?}");
    assert!(!debug.contains("c4n4ry"), "{debug}");
    assert!(debug.contains("{vault://env/u?token=***}"));
}

/// Kong strips every value, an environment override's too (`conf_loader`'s `parse_value`),
/// so a reference or a number with a stray space or newline from a `.env` file still works.
/// Nothing else of the variable changes: `#` is not a comment there.
#[test]
fn environment_values_are_trimmed_as_kong_does() {
    let conf = Loader::new()
        .defaults("pg_host = h\npg_ssl = off")
        .env_prefix("KONG_")
        .env_vars([
            (
                "KONG_PG_PASSWORD",
                " {vault://env/my-secret-postgres-password}\n",
            ),
            ("KONG_PG_PORT", "\t5433 "),
            ("KONG_PG_USER", "\x0b app #1 \r\n"),
            ("MY_SECRET_POSTGRES_PASSWORD", " opensesame "),
        ])
        .load()
        .unwrap();
    assert_eq!(
        conf.get("pg_password"),
        Some("{vault://env/my-secret-postgres-password}")
    );
    let pg: PgConfig = conf.extract().unwrap();
    assert_eq!(pg.pg_port, 5433);
    assert_eq!(pg.pg_user, "app #1");
    // The secret's own text is the vault's answer, as it is.
    assert_eq!(pg.pg_password.expose_secret(), " opensesame ");
}

/// Whitespace is Lua's `%s` (ASCII), as in Kong's `strip`: a non-breaking space is part of
/// the value, so `\u{a0}on` is not a boolean and `\u{a0}` is not "unset".
#[test]
fn whitespace_is_asciis_as_in_kong() {
    #[derive(Debug, Deserialize)]
    struct Flags {
        pg_ssl: Option<bool>,
    }
    let flags: Flags = kong_conf::from_str("pg_ssl = \x0bon\x0c").unwrap();
    assert_eq!(flags.pg_ssl, Some(true));
    let err = kong_conf::from_str::<Flags>("pg_ssl = \u{a0}on").unwrap_err();
    assert_eq!(
        err.to_string(),
        "pg_ssl (kong.conf line 1): invalid value (text), expected on, off, true or false"
    );

    #[derive(Debug, Deserialize)]
    struct Schema {
        pg_schema: Option<String>,
        trusted_ips: Vec<String>,
    }
    let s: Schema = kong_conf::from_str("pg_schema = \u{a0}\ntrusted_ips = a,\u{a0},b").unwrap();
    assert_eq!(s.pg_schema.as_deref(), Some("\u{a0}"));
    assert_eq!(s.trusted_ips, ["a", "\u{a0}", "b"]);
    let s: Schema = kong_conf::from_str("pg_schema = NONE\ntrusted_ips = \x0c, a ,\x0b").unwrap();
    assert_eq!(s.pg_schema, None);
    assert_eq!(s.trusted_ips, ["a"]);
}
