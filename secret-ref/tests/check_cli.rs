//! `secret-ref check` on JSON, TOML, YAML and kong.conf files: paths and lines, `--format`,
//! files it refuses, `--output json`, exit codes; and no value, resolved or literal, in any
//! output. The env vault only: no server is needed.

use serde_json::Value;

mod common;
use common::{assert_no_canary, cli, stderr, stdout};

/// In the environment, as the value a reference resolves to. Every literal in the files, and
/// the token in a reference, start with `common::CANARY` too.
const RESOLVED: &str = "c4n4ry-resolved";

/// [`common::temp_file`], as the text the command is given and prints.
fn temp_file(name: &str, text: &str) -> String {
    common::temp_file(name, text).to_str().unwrap().to_owned()
}

const ENV: &[(&str, &str)] = &[("PG_PASSWORD", RESOLVED)];

/// `check` of a file where some references fail: exit code 1, nothing on standard error, no
/// canary anywhere. Returns the report's lines.
#[track_caller]
fn report_of_failing(file: &str) -> Vec<String> {
    let out = cli(ENV, &["check", file]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_no_canary(&out);
    assert_eq!(stderr(&out), "");
    stdout(&out).lines().map(str::to_owned).collect()
}

/// The report's first rows for the TOML and the YAML file of `check_reads_*_with_paths_and_lines`,
/// which hold the same references, at these `lines` of `file`: `database.password` resolved,
/// `replicas[0].password` not found, `replicas[1].password` with a token to scrub, its
/// `ports[1]` resolved, and a near miss at `nested.deeper.key.inline`.
fn same_rows(file: &str, lines: [u32; 5]) -> Vec<String> {
    let [password, replica_0, replica_1, ports, near_miss] = lines;
    vec![
        format!("ok      database.password ({file} line {password})  {{vault://env/pg-password}}"),
        format!(
            "FAILED  replicas[0].password ({file} line {replica_0})  {{vault://env/missing}}: \
             environment variable MISSING is not set"
        ),
        format!(
            "FAILED  replicas[1].password ({file} line {replica_1})  \
             {{vault://env/pg-password?token=***}}: unknown option `token` for vault `env` \
             (it takes: prefix, ttl, neg_ttl, resurrect_ttl)"
        ),
        format!("ok      replicas[1].ports[1] ({file} line {ports})  {{vault://env/pg-password}}"),
        format!(
            "FAILED  nested.deeper.key.inline ({file} line {near_miss})  [REDACTED]: this looks \
             like a vault reference but is not one: `{{vault:` must be followed by `//`; write \
             {{vault://<vault>/<secret>}} (the text is not shown, since it may be a secret)"
        ),
    ]
}

#[test]
fn check_reads_toml_with_paths_and_lines() {
    let file = temp_file(
        "app.toml",
        "# app\n\
         title = \"c4n4ry-literal-title\"\n\
         [database]\n\
         host = \"db.internal\"\n\
         password = \"{vault://env/pg-password}\"\n\
         user = \"c4n4ry-literal-user\"\n\
         \n\
         [[replicas]]\n\
         password = \"{vault://env/missing}\"\n\
         \n\
         [[replicas]]\n\
         password = \"{vault://env/pg-password?token=c4n4ry-token}\"\n\
         ports = [5432, \"{vault://env/pg-password}\"]\n\
         \n\
         [nested.deeper]\n\
         key = { inline = \"{vault:/env/c4n4ry-near}\" }\n",
    );
    // In the file's order, although the parser sorts keys.
    let mut want = same_rows(&file, [5, 9, 12, 13, 16]);
    want.push("5 references, 3 failed".to_owned());
    assert_eq!(report_of_failing(&file), want);

    // Every reference resolves: exit code 0.
    let file = temp_file(
        "ok.toml",
        "[a]\nb = [{ c = \"{vault://env/pg-password}\" }]\nd = 1\n",
    );
    let out = cli(ENV, &["check", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "ok      a.b[0].c ({file} line 2)  {{vault://env/pg-password}}\n1 reference, 0 failed\n"
        )
    );
    assert_no_canary(&out);
}

#[test]
fn check_reads_yaml_with_paths_and_lines() {
    let file = temp_file(
        "app.yaml",
        "# app\n\
         title: c4n4ry-literal-title\n\
         database:\n\
        \x20 host: db.internal\n\
        \x20 password: \"{vault://env/pg-password}\"\n\
        \x20 user: 'c4n4ry-literal-user'\n\
         replicas:\n\
        \x20 - password: '{vault://env/missing}'\n\
        \x20 - password: \"{vault://env/pg-password?token=c4n4ry-token}\"\n\
        \x20   ports: [5432, \"{vault://env/pg-password}\"]\n\
         nested:\n\
        \x20 deeper:\n\
        \x20   key: {inline: \"{vault:/env/c4n4ry-near}\"}\n\
         unquoted: {vault://env/pg-password?token=c4n4ry-token}\n\
         8080: &pw \"{vault://env/pg-password}\"\n\
         again: *pw\n\
         ---\n\
         second: \"{vault://env/missing}\"\n",
    );
    let mut want = same_rows(&file, [5, 8, 9, 10, 13]);
    want.extend([
        // Unquoted, YAML reads a mapping: reported, never passed over as a non-string.
        format!(
            "FAILED  unquoted ({file} line 14)  {{vault://env/pg-password?token=***}}: YAML \
                 reads an unquoted {{...}} as a mapping, not as this reference: put it in \
                 quotes, as in password: \"{{vault://env/pg-password}}\""
        ),
        // A key that is a number, and an alias (at the place it is used).
        format!("ok      8080 ({file} line 15)  {{vault://env/pg-password}}"),
        format!("ok      again ({file} line 16)  {{vault://env/pg-password}}"),
        // Every document of the stream.
        format!(
            "FAILED  second ({file} line 18)  {{vault://env/missing}}: environment variable \
                 MISSING is not set"
        ),
        "9 references, 5 failed".to_owned(),
    ]);
    assert_eq!(report_of_failing(&file), want);

    // `.yml` too; an empty YAML file has no reference, and that is no error.
    let file = temp_file("empty.yml", "");
    let out = cli(ENV, &["check", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "0 references, 0 failed\n");
}

/// The same configuration in each format, with `--output json`: a resolved reference, one
/// not found, one naming a vault that does not exist (with a token to scrub), literals.
fn same_config() -> Vec<(&'static str, String, [Option<u64>; 3])> {
    vec![
        (
            "json",
            temp_file(
                "same.json",
                r#"{"db": {"password": "{vault://env/pg-password}", "user": "c4n4ry-literal"},
                   "replicas": [{"password": "{vault://env/missing}", "port": 5432}],
                   "api": {"key": "{vault://nope/k?token=c4n4ry-token}"}}"#,
            ),
            [None, None, None],
        ),
        (
            "toml",
            temp_file(
                "same.toml",
                "[db]\n\
                 password = \"{vault://env/pg-password}\"\n\
                 user = \"c4n4ry-literal\"\n\
                 [[replicas]]\n\
                 password = \"{vault://env/missing}\"\n\
                 port = 5432\n\
                 [api]\n\
                 key = \"{vault://nope/k?token=c4n4ry-token}\"\n",
            ),
            [Some(2), Some(5), Some(8)],
        ),
        (
            "yaml",
            temp_file(
                "same.yaml",
                "db:\n\
                \x20 password: \"{vault://env/pg-password}\"\n\
                \x20 user: c4n4ry-literal\n\
                 replicas:\n\
                \x20 - password: \"{vault://env/missing}\"\n\
                \x20   port: 5432\n\
                 api:\n\
                \x20 key: \"{vault://nope/k?token=c4n4ry-token}\"\n",
            ),
            [Some(2), Some(5), Some(8)],
        ),
    ]
}

#[test]
fn check_output_json_has_every_field_and_no_value() {
    for (format, file, lines) in same_config() {
        let out = cli(ENV, &["check", &file, "--output", "json"]);
        assert_eq!(out.status.code(), Some(1), "{format}: {}", stderr(&out));
        assert_no_canary(&out);
        assert_eq!(stderr(&out), "", "{format}");
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(report["file"], file.as_str(), "{format}");
        assert_eq!(report["format"], format);
        let origin = |line: Option<u64>| match line {
            Some(line) => format!("{file} line {line}"),
            None => file.clone(),
        };
        let expected = [
            serde_json::json!({
                "path": "db.password",
                "origin": origin(lines[0]),
                "line": lines[0],
                "reference": "{vault://env/pg-password}",
                "vault": "env",
                "outcome": "resolved",
                "kind": null,
                "message": null,
            }),
            serde_json::json!({
                "path": "replicas[0].password",
                "origin": origin(lines[1]),
                "line": lines[1],
                "reference": "{vault://env/missing}",
                "vault": "env",
                "outcome": "failed",
                "kind": "not_found",
                "message": "environment variable MISSING is not set",
            }),
            serde_json::json!({
                "path": "api.key",
                "origin": origin(lines[2]),
                "line": lines[2],
                "reference": "{vault://nope/k?token=***}",
                "vault": "nope",
                "outcome": "failed",
                "kind": "unknown_vault",
                "message": report["references"][2]["message"],
            }),
        ];
        let references = report["references"].as_array().unwrap();
        // serde_json sorts its maps' keys; the report keeps them in reading order.
        let text = stdout(&out);
        let order: Vec<usize> = [
            "\"path\"",
            "\"origin\"",
            "\"line\"",
            "\"reference\"",
            "\"vault\"",
            "\"outcome\"",
            "\"kind\"",
            "\"message\"",
        ]
        .iter()
        .map(|k| text.find(k).unwrap())
        .collect();
        assert!(order.is_sorted(), "{text}");
        // In the file's order, in every format.
        assert_eq!(references.len(), 3, "{format}: {text}");
        for (got, want) in references.iter().zip(&expected) {
            assert_eq!(got, want, "{format}");
        }
        assert!(
            references[2]["message"]
                .as_str()
                .unwrap()
                .contains("could not find vault `nope`"),
            "{text}"
        );
        assert_eq!(
            report["summary"],
            serde_json::json!({"references": 3, "resolved": 1, "failed": 2})
        );
        // And the text report of the same file.
        let out = cli(ENV, &["check", &file]);
        assert_eq!(out.status.code(), Some(1));
        assert_no_canary(&out);
        assert!(stdout(&out).ends_with("3 references, 2 failed\n"));
    }

    // kong.conf, with its lines and its comma-separated lists.
    let file = temp_file(
        "same.conf",
        "pg_user = c4n4ry-literal\n\
         pg_password = {vault://env/pg-password}\n\
         ssl_cert = {vault://env/cert-a}, {vault://nope/b?token=c4n4ry-token}\n",
    );
    let out = cli(
        &[("PG_PASSWORD", RESOLVED), ("CERT_A", RESOLVED)],
        &["check", &file, "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_no_canary(&out);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["format"], "conf");
    let rows: Vec<(String, String, u64, String, String)> = report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_owned(),
                r["origin"].as_str().unwrap().to_owned(),
                r["line"].as_u64().unwrap(),
                r["reference"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let row = |path: &str, line: u64, reference: &str, outcome: &str| {
        (
            path.to_owned(),
            format!("{file} line {line}"),
            line,
            reference.to_owned(),
            outcome.to_owned(),
        )
    };
    assert_eq!(
        rows,
        [
            row("pg_password", 2, "{vault://env/pg-password}", "resolved"),
            row("ssl_cert[0]", 3, "{vault://env/cert-a}", "resolved"),
            row("ssl_cert[1]", 3, "{vault://nope/b?token=***}", "failed"),
        ]
    );
    assert_eq!(
        report["summary"],
        serde_json::json!({"references": 3, "resolved": 2, "failed": 1})
    );

    // Every reference resolves: exit code 0 in JSON too.
    let file = temp_file("fine.json", r#"{"a": ["{vault://env/pg-password}"]}"#);
    let out = cli(ENV, &["check", &file, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["references"][0]["path"], "a[0]");
    assert_eq!(report["references"][0]["outcome"], "resolved");
    assert_eq!(report["summary"]["failed"], 0);
    assert_no_canary(&out);
}

#[test]
fn check_format_overrides_the_extension() {
    let toml = "[db]\npassword = \"{vault://env/pg-password}\"\n";
    let file = temp_file("settings.txt", toml);
    let out = cli(ENV, &["check", "--format", "toml", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "ok      db.password ({file} line 2)  {{vault://env/pg-password}}\n1 reference, 0 failed\n"
        )
    );

    // The flag wins over the extension: TOML named .json is read as TOML with `-f toml`...
    let file = temp_file("really-toml.json", toml);
    let out = cli(ENV, &["check", "-f", "toml", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // ...and refused as JSON without it.
    let out = cli(ENV, &["check", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("as JSON"), "{}", stderr(&out));

    // `yml` is `yaml`; JSON is YAML too, and then lines are known.
    let file = temp_file("flow.json", "{\"a\":\n  \"{vault://env/pg-password}\"}\n");
    let out = cli(ENV, &["check", "--format", "yml", &file, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["format"], "yaml");
    assert_eq!(report["references"][0]["line"], 2);

    // kong.conf by name, whatever follows (`kong.conf.default`), and by `--format conf`.
    let conf = "pg_password = {vault://env/pg-password}\n";
    for (name, args) in [
        ("kong.conf.default", &[][..]),
        ("vault-settings", &["--format", "conf"][..]),
    ] {
        let file = temp_file(name, conf);
        let mut all = vec!["check", file.as_str()];
        all.extend(args);
        let out = cli(ENV, &all);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert!(
            stdout(&out).starts_with("ok      pg_password ("),
            "{}",
            stdout(&out)
        );
    }
}

#[test]
fn check_refuses_a_file_of_unknown_format() {
    for name in ["config", "app.ini", "app.json5"] {
        let file = temp_file(name, r#"{"a": "{vault://env/pg-password}"}"#);
        let out = cli(ENV, &["check", &file]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert_eq!(stdout(&out), "", "{name}");
        assert_eq!(
            stderr(&out),
            format!(
                "Error: cannot tell the format of {file} from its name: name it *.json, \
                 *.toml, *.yaml, *.yml or *.conf, or give --format json|toml|yaml|conf\n"
            )
        );
    }
    // An unknown `--format` is clap's usage error, exit code 2 under `check`.
    let file = temp_file("x.json", "{}");
    let out = cli(ENV, &["check", "--format", "xml", &file]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("Error: invalid value 'xml' for '--format <FORMAT>'"),
        "{err}"
    );
    assert!(err.contains("json, toml, yaml, yml, conf"), "{err}");
}

/// A file that does not parse is refused (exit code 2, nothing on standard output) with the
/// parser's reason and position, never with the line it is on, even though parsers quote it:
/// every bad line below holds a canary.
#[test]
fn check_refuses_unparsable_files_without_quoting_them() {
    let cases = [
        (
            "bad.json",
            "{\"a\": \"{vault://env/x}\",\n \"b\": c4n4ry-password}\n",
            "JSON: line 2, column 7: expected value",
        ),
        (
            "bad2.json",
            "{\"password\": \"c4n4ry-password\" \"x\": 1}",
            "JSON: line 1, column 32: expected `,` or `}`",
        ),
        (
            "empty.json",
            "",
            "JSON: line 1, column 1: EOF while parsing a value",
        ),
        (
            "bad.toml",
            "[db]\npassword = c4n4ry-password\n",
            "TOML: line 2, column 12: string values must be quoted, expected literal string",
        ),
        (
            "bad2.toml",
            "[db]\npassword = \"c4n4ry-password\ngood = 1\n",
            "TOML: line 2, column 28: invalid basic string",
        ),
        (
            "dup.toml",
            "password = \"x\"\npassword = \"c4n4ry-password\"\n",
            "TOML: line 2, column 1: duplicate key",
        ),
        (
            "bad.yaml",
            "db:\n  password: \"{vault://env/x}\"\n   user: c4n4ry-password\n",
            "YAML: line 3, column 4: while parsing a block mapping, did not find expected key",
        ),
        (
            "bad2.yaml",
            "password: \"c4n4ry-pass\\qword\"\n",
            "YAML: line 1, column 11: while parsing a quoted scalar, found unknown escape character",
        ),
        (
            "dup.yaml",
            "c4n4ry-key: 1\nc4n4ry-key: c4n4ry-password\n",
            "YAML: line 2, column 1: duplicate mapping key `...` is not allowed here",
        ),
        (
            "bad.conf",
            "[section]\npg_password = c4n4ry-password\n",
            "kong.conf: ",
        ),
    ];
    for (name, text, message) in cases {
        let file = temp_file(name, text);
        for output in ["text", "json"] {
            let out = cli(ENV, &["check", &file, "--output", output]);
            assert_eq!(out.status.code(), Some(2), "{name}: {}", stdout(&out));
            assert_no_canary(&out);
            let err = stderr(&out);
            assert!(
                err.starts_with(&format!("Error: cannot parse {file} as {message}")),
                "{name}: {err}"
            );
            if output == "text" {
                assert_eq!(stdout(&out), "", "{name}");
            } else {
                // The same error as a document, and no report.
                let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
                assert_eq!(doc["file"], file.as_str(), "{name}");
                assert_eq!(
                    format!("Error: {}\n", doc["error"].as_str().unwrap()),
                    err,
                    "{name}"
                );
                assert!(doc.get("references").is_none(), "{name}");
            }
        }
    }
    // A file that is not text, and one that is not there.
    let file = temp_file("binary.yaml", "a: \u{0}");
    std::fs::write(&file, b"password: \xff\xfe c4n4ry\n").unwrap();
    let out = cli(ENV, &["check", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!("Error: cannot read {file}: it is not UTF-8 text\n")
    );
    let out = cli(ENV, &["check", "/nonexistent/app.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("Error: cannot read /nonexistent/app.toml"));
}

#[test]
fn check_usage_errors_exit_with_2_and_get_keeps_kongs_1() {
    for args in [
        &["check"][..],
        &["check", "a.json", "--output", "yaml"],
        &["check", "a.json", "--nope"],
    ] {
        let out = cli(&[], args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).starts_with("Error: "), "{args:?}");
        assert_eq!(stdout(&out), "");
    }
    let out = cli(&[], &["get", "--nope"]);
    assert_eq!(out.status.code(), Some(1));

    // Vault settings that cannot be used: nothing is checked.
    let file = temp_file("settings-ok.json", r#"{"a": "{vault://env/x}"}"#);
    let conf = temp_file("broken.conf", "vault_env_prefx = APP_\n");
    let out = cli(&[], &["check", &file, "-c", &conf]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("vault_env_prefx"), "{}", stderr(&out));

    // The help says what each code means.
    let out = cli(&[], &["check", "--help"]);
    let help = stdout(&out);
    for line in [
        "Exit codes:",
        "  0  every reference resolves",
        "  1  at least one reference fails",
        "  2  nothing was checked",
    ] {
        assert!(help.contains(line), "{help}");
    }
}

/// `-c kong.conf` gives the vault settings whatever the checked file's format.
#[test]
fn check_takes_vault_settings_from_kong_conf_for_every_format() {
    let conf = temp_file("vaults.conf", "vault_env_prefix = APP_\n");
    let env = [("APP_PG_PASSWORD", RESOLVED)];
    for (name, text) in [
        (
            "v.json",
            r#"{"pg": {"password": "{vault://env/pg-password}"}}"#,
        ),
        ("v.toml", "[pg]\npassword = \"{vault://env/pg-password}\"\n"),
        ("v.yaml", "pg:\n  password: \"{vault://env/pg-password}\"\n"),
        ("v.conf", "pg_password = {vault://env/pg-password}\n"),
    ] {
        let file = temp_file(name, text);
        let out = cli(&env, &["check", &file, "-c", &conf]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stdout(&out));
        assert_no_canary(&out);
        // Without the settings, the variable is not found.
        let out = cli(&env, &["check", &file]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(stdout(&out).contains("PG_PASSWORD is not set"), "{name}");
    }
}
