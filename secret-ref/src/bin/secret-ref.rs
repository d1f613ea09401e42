//! `secret-ref`: check and use vault references from a shell, as Kong's `kong vault get`.
//!
//! ```text
//! secret-ref get <reference> [-c kong.conf]     print one secret's value
//! secret-ref check <file> [-c kong.conf]        list a file's references and whether they resolve
//! secret-ref run [-c kong.conf] -- <command>    run a command with references in its environment resolved
//! ```
//!
//! Vault settings come from the configuration file (`vault_env_prefix = SECRETS_`, ...) and
//! from `KONG_VAULT_*` variables. Without `-c`, `/etc/kong/kong.conf` then `/etc/kong.conf`
//! are read if they exist, as Kong does. Errors are printed as `Error: <message>` on
//! standard error, with exit code 1; no output ever contains a secret, except `get`'s value
//! on standard output.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};
use secret_ref::kong_conf::{self, KongConf, Loader};
use secret_ref::{Error, ErrorKind, Redacted, ReferenceProblem, Resolver, is_reference};

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
             KONG_VAULT_ENV_PREFIX=SECRETS_ secret-ref get env/test   # reads SECRETS_TEST",
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
        .subcommand(
            Command::new("check")
                .about("List every reference of a kong.conf or JSON file and whether it resolves")
                .arg(
                    Arg::new("file")
                        .value_name("FILE")
                        .required(true)
                        .value_parser(clap::value_parser!(PathBuf))
                        .help("a kong.conf file, or a JSON file (*.json)"),
                )
                .arg(conf_arg())
                .after_help("Values are never printed. The exit code is 1 if any reference fails."),
        )
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
        Err(e) => return clap_error(e),
    };
    let result = match matches.subcommand() {
        Some(("get", m)) => get(m),
        Some(("check", m)) => check(m),
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

fn clap_error(e: clap::Error) -> ExitCode {
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
            ExitCode::FAILURE
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

/// A reference found in a file, with where it is.
struct Found {
    path: String,
    origin: Option<String>,
    reference: String,
}

fn check(m: &ArgMatches) -> Result<ExitCode, String> {
    let file = m.get_one::<PathBuf>("file").expect("required");
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let json =
        file.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with(['{', '[']);
    let mut found = Vec::new();
    let conf = if json {
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not valid JSON: {e}", file.display()))?;
        collect_json(&value, &mut String::new(), &mut found);
        load_conf(m, None)?
    } else {
        let name = file.display().to_string();
        let own = Loader::new()
            .text(&name, &text)
            .load()
            .map_err(|e| e.to_string())?;
        for entry in own.entries() {
            collect_conf(
                entry.key(),
                entry.value(),
                &entry.origin().to_string(),
                &mut found,
            );
        }
        // The file's own vault settings apply, under `-c` and over the defaults.
        load_conf(m, Some(file))?
    };
    let resolver = resolver(&conf)?;

    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for f in &found {
        let place = match &f.origin {
            Some(origin) => format!("{} ({origin})", f.path),
            None => f.path.clone(),
        };
        // Through the scrubber, parsed or not: a malformed reference may hold a token.
        let shown = Redacted::new(&f.reference).to_string();
        match resolver.get(&f.reference) {
            Ok(_) => {
                let _ = writeln!(out, "ok      {place}  {shown}");
            }
            Err(e) => {
                failed += 1;
                let failure = &e.failures()[0];
                let _ = writeln!(out, "FAILED  {place}  {shown}: {}", failure.message());
            }
        }
    }
    let _ = writeln!(
        out,
        "{} reference{}, {failed} failed",
        found.len(),
        if found.len() == 1 { "" } else { "s" }
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A kong.conf value is a reference when the whole value is one, and a list of references
/// when its comma-separated items are (Kong resolves each element of an array setting).
/// The list reading comes first: `{vault://a}, {vault://b}` also passes Kong's cheap
/// `is_reference` test as a whole.
fn collect_conf(key: &str, value: &str, origin: &str, found: &mut Vec<Found>) {
    let items: Vec<&str> = kong_conf::value::list(value).collect();
    if items.len() > 1 && items.iter().any(|i| meant_as_reference(i)) {
        for (i, item) in items.iter().enumerate() {
            if meant_as_reference(item) {
                found.push(Found {
                    path: format!("{key}[{i}]"),
                    origin: Some(origin.to_owned()),
                    reference: (*item).to_owned(),
                });
            }
        }
    } else if meant_as_reference(value) {
        found.push(Found {
            path: key.to_owned(),
            origin: Some(origin.to_owned()),
            reference: value.to_owned(),
        });
    }
}

fn collect_json(value: &serde_json::Value, path: &mut String, found: &mut Vec<Found>) {
    match value {
        serde_json::Value::String(s) if meant_as_reference(s) => found.push(Found {
            path: if path.is_empty() {
                "$".into()
            } else {
                path.clone()
            },
            origin: None,
            reference: s.clone(),
        }),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                collect_json(item, path, found);
                path.truncate(len);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                collect_json(v, path, found);
                path.truncate(len);
            }
        }
        _ => {}
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
