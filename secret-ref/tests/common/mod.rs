//! What the tests of the `secret-ref` command share: running it as a process with an
//! environment of the test's own, reading what it printed, checking that no canary reached it,
//! and the servers of `.ci/servers.sh` for the tests that need them.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// What every canary of these tests starts with: a value a reference resolves to, a literal of
/// a file, a token in a reference, a key.
pub const CANARY: &str = "c4n4ry";

/// The command with only the given environment (and `PATH`): nothing of the test runner's own
/// environment (a token, a region, a prefix) reaches it.
pub fn cli(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_secret-ref"));
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(env.iter().copied()).args(args);
    command.output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Neither standard output nor standard error holds a [`CANARY`].
#[track_caller]
pub fn assert_no_canary(out: &Output) {
    for text in [stdout(out), stderr(out)] {
        assert!(!text.contains(CANARY), "{text}");
    }
}

/// Writes `name` in a directory of this test binary's own; returns its path.
pub fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "secret-ref-{}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A variable exported by `.ci/servers.sh`'s `start_servers`. The tests that call this are
/// `#[ignore = "needs .ci/servers.sh"]`: run (with `--include-ignored`) without the servers,
/// they fail here rather than pass without testing anything.
pub fn server(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: this test needs the servers of .ci/servers.sh \
             (`source .ci/servers.sh; install_servers; start_servers`)"
        ),
    }
}

/// A name no other test, or earlier run against the same servers, uses.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("cli-{name}-{}-{nanos}", std::process::id())
}
