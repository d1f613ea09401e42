//! `secret-ref check <file>`: every reference of a configuration file (JSON, TOML, YAML or
//! kong.conf), whether it resolves, as text or as one JSON document; never a value.
//!
//! Exit codes, for scripts and CI: [`ALL_RESOLVE`] (0), [`SOME_FAILED`] (1), [`CANNOT_CHECK`]
//! (2: a usage error, a file that cannot be read or parsed, unusable vault settings).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgMatches, Command};
use secret_ref::kong_conf::Loader;
use secret_ref::{Redacted, Reference};
use zeroize::Zeroizing;

use super::formats::{self, Found, ParseError};
use super::{collect_conf, conf_arg, load_conf, resolver};

/// Every reference resolves (or the file has none).
pub(crate) const ALL_RESOLVE: u8 = 0;
/// The file was read and at least one reference fails.
pub(crate) const SOME_FAILED: u8 = 1;
/// Nothing was checked: a usage error, a file that cannot be read or does not parse in its
/// format, vault settings that cannot be used. 2 is clap's own code for usage errors.
pub(crate) const CANNOT_CHECK: u8 = 2;

/// The exit codes as `--help` shows them (and the module doc of the binary, and the README).
const EXIT_CODES: &str = "\
Exit codes:
  0  every reference resolves (or the file has none)
  1  at least one reference fails (each is listed)
  2  nothing was checked: a usage error, a file that cannot be read or does not parse
     in its format, unusable vault settings (the reason is on standard error; with
     --output json, also on standard output as {\"file\": ..., \"error\": ...})";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Toml,
    Yaml,
    Conf,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Toml => "toml",
            Format::Yaml => "yaml",
            Format::Conf => "conf",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Toml => "TOML",
            Format::Yaml => "YAML",
            Format::Conf => "kong.conf",
        }
    }

    fn from_name(name: &str) -> Option<Format> {
        match name {
            "json" => Some(Format::Json),
            "toml" => Some(Format::Toml),
            "yaml" | "yml" => Some(Format::Yaml),
            "conf" => Some(Format::Conf),
            _ => None,
        }
    }

    /// By extension; Kong's own names (`kong.conf.default`, a node's `.kong_env`) are
    /// kong.conf whatever follows.
    fn of_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        Format::from_name(&extension.to_ascii_lowercase()).or_else(|| {
            (name == ".kong_env" || name.starts_with("kong.conf")).then_some(Format::Conf)
        })
    }
}

pub(crate) fn command() -> Command {
    Command::new("check")
        .about(
            "List every reference of a JSON, TOML, YAML or kong.conf file and whether it resolves",
        )
        .arg(
            Arg::new("file")
                .value_name("FILE")
                .required(true)
                .value_parser(clap::value_parser!(PathBuf))
                .help(
                    "the file to check; its format comes from its extension (.json, .toml, \
                     .yaml, .yml, .conf; kong.conf*, .kong_env) or from --format",
                ),
        )
        .arg(
            Arg::new("format")
                .short('f')
                .long("format")
                .value_name("FORMAT")
                .value_parser(PossibleValuesParser::new([
                    "json", "toml", "yaml", "yml", "conf",
                ]))
                .help("read FILE as this format, whatever its name"),
        )
        .arg(
            Arg::new("output")
                .short('o')
                .long("output")
                .value_name("OUTPUT")
                .value_parser(PossibleValuesParser::new(["text", "json"]))
                .default_value("text")
                .help(
                    "text: one line a reference and a summary; json: one JSON document with \
                     every reference's path, origin, vault and outcome",
                ),
        )
        .arg(conf_arg())
        .after_help(format!(
            "Values are never printed: references are shown with credential-like options \
             scrubbed, and text that only looks like a reference ({{vault:/env/x}}) as \
             [REDACTED], reported as a failure.\n\n\
             Examples:\n  \
             secret-ref check app.toml\n  \
             secret-ref check --format yaml config.in --output json\n  \
             secret-ref check -c /etc/kong/kong.conf app.yaml   # vault settings from kong.conf\n\n\
             {EXIT_CODES}"
        ))
}

/// Whether the command line names `check` (the only subcommand before which nothing but
/// `--help`/`--version` may stand), so that its usage errors exit with [`CANNOT_CHECK`].
pub(crate) fn is_check(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter()
        .skip(1)
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .is_some_and(|a| a == "check")
}

pub(crate) fn check(m: &ArgMatches) -> ExitCode {
    match checked(m) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "Error: {message}");
            // A pipeline reading the JSON report gets a document in this case too, so that
            // "could not check" is never mistaken for an empty report.
            if m.get_one::<String>("output").is_some_and(|o| o == "json") {
                let file = m
                    .get_one::<PathBuf>("file")
                    .map(|f| f.display().to_string());
                let doc = serde_json::json!({ "file": file, "error": message });
                let _ = writeln!(std::io::stdout(), "{doc}");
            }
            ExitCode::from(CANNOT_CHECK)
        }
    }
}

/// What became of one reference.
struct Outcome {
    found: Found,
    vault: Option<String>,
    /// `None`: resolved. Else the failure's kind (`not_found`, ...) and message.
    failure: Option<(&'static str, String)>,
}

fn checked(m: &ArgMatches) -> Result<u8, String> {
    let Some(file) = m.get_one::<PathBuf>("file") else {
        return Err("the 'check' command needs a <FILE> argument".into());
    };
    let text = read(file)?;
    let format = match m.get_one::<String>("format") {
        Some(name) => Format::from_name(name).ok_or_else(|| format!("unknown format {name}"))?,
        None => Format::of_path(file).ok_or_else(|| {
            format!(
                "cannot tell the format of {} from its name: name it *.json, *.toml, *.yaml, \
                 *.yml or *.conf, or give --format json|toml|yaml|conf",
                file.display()
            )
        })?,
    };
    let json_output = m.get_one::<String>("output").is_some_and(|o| o == "json");
    let shown = file.display().to_string();

    let not_parsed = |e: ParseError| {
        format!(
            "cannot parse {shown} as {}: {e}; nothing was checked",
            format.title()
        )
    };
    // A byte-order mark, as some editors write: not part of the document.
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (found, conf) = match format {
        Format::Json => (
            formats::json(body).map_err(not_parsed)?,
            load_conf(m, None)?,
        ),
        Format::Toml => (
            formats::toml(body).map_err(not_parsed)?,
            load_conf(m, None)?,
        ),
        Format::Yaml => (
            formats::yaml(body).map_err(not_parsed)?,
            load_conf(m, None)?,
        ),
        Format::Conf => {
            // The library's reader: its errors name the line, and never quote a value.
            let own = Loader::new()
                .text(&shown, &text)
                .load()
                .map_err(|e| format!("cannot parse {shown} as kong.conf: {e}"))?;
            let mut found = Vec::new();
            for entry in own.entries() {
                collect_conf(entry.key(), entry.value(), entry.origin(), &mut found);
            }
            // The file's own vault settings apply, under `-c` and over the defaults.
            (found, load_conf(m, Some(file))?)
        }
    };
    drop(text);
    let resolver = resolver(&conf)?;

    let outcomes: Vec<Outcome> = found
        .into_iter()
        .map(|found| {
            let parsed = Reference::parse(&found.reference).ok();
            let parsed_vault = parsed.map(|r| r.vault().to_owned());
            if let Some(problem) = found.problem {
                return Outcome {
                    found,
                    vault: parsed_vault,
                    failure: Some(("invalid_reference", problem.to_owned())),
                };
            }
            match resolver.get(&found.reference) {
                // The value is dropped (and wiped) here: only the fact that it resolved is kept.
                Ok(_) => Outcome {
                    found,
                    vault: parsed_vault,
                    failure: None,
                },
                Err(e) => {
                    let failure = &e.failures()[0];
                    Outcome {
                        vault: failure.vault().map(str::to_owned).or(parsed_vault),
                        failure: Some((failure.kind().as_str(), failure.message().to_owned())),
                        found,
                    }
                }
            }
        })
        .collect();
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();

    let mut out = std::io::stdout().lock();
    let written = if json_output {
        write_json(&mut out, &shown, format, &outcomes, failed)
    } else {
        write_text(&mut out, &shown, &outcomes, failed)
    };
    written.map_err(|e| format!("cannot write the report: {e}"))?;
    Ok(if failed == 0 {
        ALL_RESOLVE
    } else {
        SOME_FAILED
    })
}

/// The file's text, in memory that is wiped when dropped: it holds whatever literal
/// passwords the file has.
fn read(file: &Path) -> Result<Zeroizing<String>, String> {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", file.display());
    let mut handle = std::fs::File::open(file).map_err(cannot)?;
    let size = handle.metadata().map_err(cannot)?.len();
    // Room for the whole file up front, so that no growing buffer leaves copies behind.
    let mut text = Zeroizing::new(String::with_capacity(
        usize::try_from(size).unwrap_or(0).saturating_add(1),
    ));
    match handle.read_to_string(&mut text) {
        Ok(_) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(format!(
            "cannot read {}: it is not UTF-8 text",
            file.display()
        )),
        Err(e) => Err(cannot(e)),
    }
}

/// `file line 3` when the format tells the line; else the file.
fn origin(file: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{file} line {line}"),
        None => file.to_owned(),
    }
}

fn write_text(
    out: &mut impl Write,
    file: &str,
    outcomes: &[Outcome],
    failed: usize,
) -> std::io::Result<()> {
    for o in outcomes {
        // A line is worth showing; the file alone is the one being checked.
        let place = match o.found.line {
            Some(line) => format!("{} ({})", o.found.path, origin(file, Some(line))),
            None => o.found.path.clone(),
        };
        // Through the scrubber, parsed or not: a malformed reference may hold a token.
        let shown = Redacted::new(&o.found.reference);
        match &o.failure {
            None => writeln!(out, "ok      {place}  {shown}")?,
            Some((_, message)) => writeln!(out, "FAILED  {place}  {shown}: {message}")?,
        }
    }
    writeln!(
        out,
        "{} reference{}, {failed} failed",
        outcomes.len(),
        if outcomes.len() == 1 { "" } else { "s" }
    )
}

/// One reference of the JSON report, its fields in the order a reader wants them.
struct Row<'a> {
    file: &'a str,
    outcome: &'a Outcome,
}

impl serde::Serialize for Row<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let o = self.outcome;
        let (outcome, kind, message) = match &o.failure {
            None => ("resolved", None, None),
            Some((kind, message)) => ("failed", Some(*kind), Some(message.as_str())),
        };
        let mut row = s.serialize_struct("Reference", 8)?;
        row.serialize_field("path", &o.found.path)?;
        row.serialize_field("origin", &origin(self.file, o.found.line))?;
        row.serialize_field("line", &o.found.line)?;
        // Through the scrubber, as in the text report.
        row.serialize_field("reference", &Redacted::new(&o.found.reference).to_string())?;
        row.serialize_field("vault", &o.vault)?;
        row.serialize_field("outcome", outcome)?;
        row.serialize_field("kind", &kind)?;
        row.serialize_field("message", &message)?;
        row.end()
    }
}

/// The whole JSON report.
struct Report<'a> {
    file: &'a str,
    format: Format,
    outcomes: &'a [Outcome],
    failed: usize,
}

impl serde::Serialize for Report<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let rows: Vec<Row<'_>> = self
            .outcomes
            .iter()
            .map(|outcome| Row {
                file: self.file,
                outcome,
            })
            .collect();
        let total = self.outcomes.len();
        let mut report = s.serialize_struct("Report", 4)?;
        report.serialize_field("file", self.file)?;
        report.serialize_field("format", self.format.name())?;
        report.serialize_field("references", &rows)?;
        report.serialize_field("summary", &Summary(total, self.failed))?;
        report.end()
    }
}

/// References, of which failed.
struct Summary(usize, usize);

impl serde::Serialize for Summary {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut summary = s.serialize_struct("Summary", 3)?;
        summary.serialize_field("references", &self.0)?;
        summary.serialize_field("resolved", &(self.0 - self.1))?;
        summary.serialize_field("failed", &self.1)?;
        summary.end()
    }
}

fn write_json(
    out: &mut impl Write,
    file: &str,
    format: Format,
    outcomes: &[Outcome],
    failed: usize,
) -> std::io::Result<()> {
    let report = Report {
        file,
        format,
        outcomes,
        failed,
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)
}
