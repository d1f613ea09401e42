//! `secret-ref`: check and use vault references from a shell, as Kong's `kong vault get`.
//!
//! ```text
//! secret-ref get <reference> [-c kong.conf]     print one secret's value
//! secret-ref check <file> [-c kong.conf] [--format json|toml|yaml|conf] [--output text|json]
//!                                               list a file's references and whether they resolve
//! secret-ref run [-c kong.conf] -- <command>    run a command with references in its environment resolved
//! ```
//!
//! Vault settings come from the configuration file (`vault_env_prefix = SECRETS_`, ...) and
//! from `KONG_VAULT_*` variables. Without `-c`, `/etc/kong/kong.conf` then `/etc/kong.conf`
//! are read if they exist, as Kong does. Errors are printed as `Error: <message>` on
//! standard error; no output ever contains a secret, except `get`'s value on standard output.
//!
//! `check` reads JSON, TOML, YAML and kong.conf, by the file's extension or `--format`, and
//! reports every reference with its path, line, vault and outcome, as text or (`--output
//! json`) as one JSON document. A file it cannot parse is refused, never reported as having
//! no references (with `--output json`, the reason is a document too: `{"file", "error"}`).
//!
//! Exit codes:
//!
//! | command | 0 | 1 | 2 |
//! |---|---|---|---|
//! | `check` | every reference resolves (or there is none) | at least one reference fails | nothing was checked: usage error, file unreadable or not parsable in its format, unusable vault settings |
//! | `get` | the value is printed | any error, usage errors included (as Kong) | |
//! | `run` | the command's own exit code | a reference fails (the command is not run), the command cannot start, or a usage error | |

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};
use secret_ref::kong_conf::{self, KongConf, Loader, Origin};
use secret_ref::{Error, ErrorKind, ReferenceProblem, Resolver, is_reference};

// Beside this file, in a directory of its own: a file directly in `src/bin/` would be a binary.
#[path = "secret-ref/check.rs"]
mod check;
#[path = "secret-ref/formats.rs"]
mod formats;

use formats::Found;

/// Kong's default configuration files, read when `-c` is not given.
const DEFAULT_PATHS: &[&str] = &["/etc/kong/kong.conf", "/etc/kong.conf"];

fn conf_arg() -> Arg {
    Arg::new("conf")
        .short('c')
        .long("conf")
        .value_name("FILE")
        .value_parser(clap::value_parser!(PathBuf))
        .help("kong.conf with vault settings (default: /etc/kong/kong.conf, /etc/kong.conf)")
}

/// Kong's default prefix, where a running node keeps `.kong_env`.
const DEFAULT_PREFIX: &str = "/usr/local/kong";

fn prefix_arg() -> Arg {
    Arg::new("prefix")
        .short('p')
        .long("prefix")
        .value_name("DIR")
        .value_parser(clap::value_parser!(PathBuf))
        .help(
            "a running Kong node's prefix: its .kong_env (the configuration the node runs with) \
             is read instead of the file, as `kong vault get -p` does (default: the \
             configuration's `prefix`, else /usr/local/kong)",
        )
}

fn cli() -> Command {
    Command::new("secret-ref")
        .about("Resolve Kong-style vault references ({vault://env/pg-password}) from a shell")
        .version(env!("CARGO_PKG_VERSION"))
        .after_help(
            "Vault settings come from the configuration file and from KONG_VAULT_* variables:\n  \
             KONG_VAULT_ENV_PREFIX=SECRETS_ secret-ref get env/test   # reads SECRETS_TEST\n\n\
             Exit codes: get and run exit with 1 on any error (run otherwise with the \
             command's own code); check exits with 0 (every reference resolves), 1 (a \
             reference fails) or 2 (nothing was checked); see `secret-ref check --help`.",
        )
        .subcommand(
            Command::new("get")
                .about("Print the value of one reference on standard output")
                .arg(
                    Arg::new("reference")
                        .value_name("REFERENCE")
                        .required(true)
                        .help("{vault://env/name}, or just env/name"),
                )
                .arg(conf_arg())
                .arg(prefix_arg())
                .after_help("Example:\n  TEST=hello secret-ref get env/test"),
        )
        .subcommand(check::command())
        .subcommand(
            Command::new("run")
                .about(
                    "Run a command with every environment variable that holds a reference resolved",
                )
                .arg(conf_arg())
                .arg(
                    Arg::new("command")
                        .value_name("COMMAND")
                        .required(true)
                        .num_args(1..)
                        .trailing_var_arg(true)
                        .allow_hyphen_values(true)
                        .value_parser(clap::value_parser!(OsString))
                        .action(ArgAction::Append)
                        .help("the command and its arguments, after `--`"),
                )
                .after_help(
                    "Example:\n  PGPASSWORD='{vault://env/pg-password}' secret-ref run -- psql\n\n\
                     A variable is resolved when its whole value is a reference. If any fails, \
                     all failures are printed and the command does not run. The command's exit \
                     code is passed through.",
                ),
        )
}

fn main() -> ExitCode {
    let matches = match cli().try_get_matches() {
        Ok(m) => m,
        Err(e) => return clap_error(e, check::is_check(std::env::args_os())),
    };
    let result = match matches.subcommand() {
        Some(("get", m)) => get(m),
        Some(("check", m)) => return check::check(m),
        Some(("run", m)) => run(m),
        _ => {
            // As Kong: no command prints the usage on standard error and fails.
            let _ = writeln!(std::io::stderr(), "{}", cli().render_help());
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "Error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Kong's message for `kong vault get` without a reference, kept for scripts that match it.
const GET_NEEDS_REFERENCE: &str =
    "the 'get' command needs a <reference> argument\n  secret-ref get <reference>";

/// `check`: a usage error exits with 2, as clap's own, so that a CI step tells it from a
/// reference that fails (1). `get` and `run` keep Kong's 1 for every error.
fn clap_error(e: clap::Error, check: bool) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind as K};
    match e.kind() {
        K::DisplayHelp | K::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        // `<REFERENCE>` is the only required argument of that name (`get`'s).
        K::MissingRequiredArgument
            if matches!(
                e.get(ContextKind::InvalidArg),
                Some(ContextValue::Strings(args)) if args.iter().any(|a| a == "<REFERENCE>")
            ) =>
        {
            let _ = writeln!(std::io::stderr(), "Error: {GET_NEEDS_REFERENCE}");
            ExitCode::FAILURE
        }
        _ => {
            let text = e.to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text).trim_end();
            let _ = writeln!(std::io::stderr(), "Error: {text}");
            if check {
                ExitCode::from(check::CANNOT_CHECK)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The configuration vault settings come from: `-c`, else Kong's default paths; with
/// `KONG_` variables on top (`KONG_VAULT_ENV_PREFIX`, ...).
fn load_conf(m: &ArgMatches, extra: Option<&Path>) -> Result<KongConf, String> {
    let mut loader = Loader::new();
    match m.get_one::<PathBuf>("conf") {
        Some(path) => loader = loader.file(path),
        None => {
            if let Some(path) = DEFAULT_PATHS.iter().map(Path::new).find(|p| p.exists()) {
                loader = loader.file(path);
            }
        }
    }
    if let Some(path) = extra {
        loader = loader.file(path);
    }
    let conf = loader
        .env_prefix("KONG_")
        .load()
        .map_err(|e| e.to_string())?;
    // As Kong's `vault get`: a running node's `<prefix>/.kong_env` holds the configuration
    // it runs with, and wins over the file (only `get` takes `-p`).
    if let Ok(Some(prefix)) = m.try_get_one::<PathBuf>("prefix").map(|p| p.cloned()) {
        return node_conf(&prefix, true).unwrap_or(Ok(conf));
    }
    if m.try_get_one::<PathBuf>("prefix").is_ok() {
        let prefix = conf.get("prefix").unwrap_or(DEFAULT_PREFIX).to_owned();
        return node_conf(Path::new(&prefix), false).unwrap_or(Ok(conf));
    }
    Ok(conf)
}

/// The configuration of a node running under `prefix`, from its `.kong_env`; `None` when it
/// has none (no node runs there). `explicit`: the prefix was given with `-p`, so a missing
/// directory is worth saying.
fn node_conf(prefix: &Path, explicit: bool) -> Option<Result<KongConf, String>> {
    let kong_env = prefix.join(".kong_env");
    if !kong_env.is_file() {
        if explicit && !prefix.is_dir() {
            return Some(Err(format!(
                "prefix directory {} does not exist",
                prefix.display()
            )));
        }
        return None;
    }
    Some(
        Loader::new()
            .file(&kong_env)
            .env_prefix("KONG_")
            .load()
            .map_err(|e| e.to_string()),
    )
}

fn resolver(conf: &KongConf) -> Result<Resolver, String> {
    conf.resolver().map_err(|e| e.to_string())
}

/// Kong's wording, so that scripts written for `kong vault get` read the same errors.
fn kong_message(err: &Error) -> String {
    let failure = &err.failures()[0];
    match failure.kind() {
        ErrorKind::UnknownVault => {
            let vault = failure.vault().unwrap_or_default();
            match secret_ref::vault::missing_feature(vault) {
                Some(feature) => format!(
                    "could not find vault ({vault}): secret-ref was built without its cargo \
                     feature `{feature}`"
                ),
                None => format!("could not find vault ({vault})"),
            }
        }
        ErrorKind::InvalidReference | ErrorKind::OptionNotAllowed => failure.to_string(),
        _ => format!(
            "could not get value from external vault ({})",
            failure.message()
        ),
    }
}

fn get(m: &ArgMatches) -> Result<ExitCode, String> {
    let Some(arg) = m.get_one::<String>("reference") else {
        // Required, so clap stops first; kept so that no input can panic here.
        return Err(GET_NEEDS_REFERENCE.into());
    };
    // As Kong: `env/name` means `{vault://env/name}`.
    let reference = if is_reference(arg) {
        arg.clone()
    } else {
        format!("{{vault://{arg}}}")
    };
    let conf = load_conf(m, None)?;
    let resolver = resolver(&conf)?;
    let secret = resolver.get(&reference).map_err(|e| kong_message(&e))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", secret.expose_secret()).map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// A reference, or text that looks like a reference that was meant (`{vault:/env/x}`),
/// which is then reported as a failure rather than passed on as a literal.
fn meant_as_reference(text: &str) -> bool {
    is_reference(text)
        || matches!(
            secret_ref::Reference::parse(text).map_err(|e| e.problem().clone()),
            Err(ReferenceProblem::NearMiss(_))
        )
}

/// A kong.conf value is a reference when the whole value is one, and a list of references
/// when its comma-separated items are (Kong resolves each element of an array setting).
/// The list reading comes first: `{vault://a}, {vault://b}` also passes Kong's cheap
/// `is_reference` test as a whole.
fn collect_conf(key: &str, value: &str, origin: &Origin, found: &mut Vec<Found>) {
    let line = match origin {
        Origin::Line { line, .. } => Some(*line),
        _ => None,
    };
    let items: Vec<&str> = kong_conf::value::list(value).collect();
    if items.len() > 1 && items.iter().any(|i| meant_as_reference(i)) {
        for (i, item) in items.iter().enumerate() {
            if meant_as_reference(item) {
                found.push(Found {
                    path: format!("{key}[{i}]"),
                    line,
                    reference: (*item).to_owned(),
                    problem: None,
                });
            }
        }
    } else if meant_as_reference(value) {
        found.push(Found {
            path: key.to_owned(),
            line,
            reference: value.to_owned(),
            problem: None,
        });
    }
}

fn run(m: &ArgMatches) -> Result<ExitCode, String> {
    let mut command: Vec<OsString> = m
        .get_many::<OsString>("command")
        .expect("required")
        .cloned()
        .collect();
    let program = command.remove(0);
    let conf = load_conf(m, None)?;
    let resolver = resolver(&conf)?;

    let mut resolved = Vec::new();
    let mut failures: Option<Error> = None;
    for (name, value) in std::env::vars_os() {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            continue;
        };
        if !meant_as_reference(value) {
            continue;
        }
        match resolver.get(value) {
            Ok(secret) => resolved.push((name.to_owned(), secret)),
            Err(e) => {
                let e = e.within(name);
                match &mut failures {
                    Some(all) => all.extend(e),
                    None => failures = Some(e),
                }
            }
        }
    }
    if let Some(err) = failures {
        return Err(format!("{err}\nthe command was not run"));
    }

    let mut child = std::process::Command::new(&program);
    child.args(&command);
    for (name, secret) in &resolved {
        child.env(name, secret.expose_secret());
    }
    exec(child, &program)
}

#[cfg(unix)]
fn exec(mut child: std::process::Command, program: &OsString) -> Result<ExitCode, String> {
    use std::os::unix::process::CommandExt;
    // Replacing this process passes the exit code, signals and terminal through unchanged,
    // and leaves no copy of the resolved values in a parent process.
    let err = child.exec();
    Err(format!("cannot run {}: {err}", program.to_string_lossy()))
}

#[cfg(not(unix))]
fn exec(mut child: std::process::Command, program: &OsString) -> Result<ExitCode, String> {
    let status = child
        .status()
        .map_err(|e| format!("cannot run {}: {e}", program.to_string_lossy()))?;
    Ok(ExitCode::from(status.code().unwrap_or(1) as u8))
}
