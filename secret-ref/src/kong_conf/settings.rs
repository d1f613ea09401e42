//! Vault settings carried by a configuration: `vaults`, `vault_<vault>_<option>` and
//! `vault_prefixes`.

use super::value::{self, is_unset};
use super::{Entry, KongConf};
use crate::ResolverBuilder;
use crate::error::{Error, ErrorKind, Failure};
use crate::vault::VaultConfig;
use crate::vault::env::EnvVault;
use crate::vault::{accepts, unknown_option};

/// The key that declares named vaults: `vault_prefixes = ssl:env, aws-prod:aws`.
const PREFIXES: &str = "vault_prefixes";

/// Keys in Kong's `vault_` namespace that are not a vault's option.
const GLOBAL: &[&str] = &[PREFIXES, "vault_rotation_interval"];

/// Whether a key configures vaults rather than the application.
pub(crate) fn is_vault_setting(key: &str) -> bool {
    key == "vaults" || key.starts_with("vault_")
}

/// A key's form of a vault name: Kong writes `-` as `_`.
fn key_form(name: &str) -> String {
    name.replace('-', "_")
}

fn failure(entry: &Entry, message: String) -> Failure {
    Failure::new(ErrorKind::InvalidConfig, message)
        .with_path(entry.key())
        .with_origin(entry.origin().to_string())
}

pub(super) fn apply_to(
    conf: &KongConf,
    mut builder: ResolverBuilder,
) -> Result<ResolverBuilder, Error> {
    let mut failures = Vec::new();

    // A fixed environment given to the loader is also what the `env` vault reads.
    if let Some(vars) = conf.vault_env() {
        builder = builder.vault(
            "env",
            EnvVault::from_vars(vars.iter().map(|(k, v)| (k.clone(), v.to_string()))),
        );
    }

    // `vaults = bundled | off | a, b`
    if let Some(entry) = conf.entry("vaults").filter(|e| !is_unset(e.value())) {
        let wanted: Vec<&str> = value::list(entry.value()).collect();
        if wanted == ["off"] {
            let all: Vec<String> = builder.backends().map(|(n, _)| n.to_owned()).collect();
            for name in all {
                builder = builder.without_vault(&name);
            }
        } else if wanted != ["bundled"] {
            let known: Vec<String> = builder.backends().map(|(n, _)| n.to_owned()).collect();
            for name in &wanted {
                if *name != "bundled" && !known.iter().any(|k| k == name) {
                    failures.push(failure(
                        entry,
                        match crate::vault::missing_feature(name) {
                            Some(feature) => format!(
                                "vault `{name}` is not available: secret-ref was built without \
                                 its cargo feature `{feature}` (available: {})",
                                known.join(", ")
                            ),
                            None => format!(
                                "vault `{name}` is not available in this build (available: {})",
                                known.join(", ")
                            ),
                        },
                    ));
                }
            }
            if !wanted.contains(&"bundled") {
                for name in known.iter().filter(|k| !wanted.contains(&k.as_str())) {
                    builder = builder.without_vault(name);
                }
            }
        }
    }

    // `vault_prefixes = ssl:env, aws-prod:aws`
    let mut named: Vec<(String, String, VaultConfig)> = Vec::new();
    if let Some(entry) = conf.entry(PREFIXES) {
        for item in value::list(entry.value()) {
            match item
                .split_once(':')
                .map(|(p, b)| (value::trim(p), value::trim(b)))
            {
                Some((prefix, backend)) if !prefix.is_empty() && !backend.is_empty() => {
                    named.push((prefix.to_owned(), backend.to_owned(), VaultConfig::new()));
                }
                _ => failures.push(failure(
                    entry,
                    format!("`{item}` should be `<prefix>:<vault>`, such as `ssl:env`"),
                )),
            }
        }
    }

    // `vault_<vault>_<option>`: the vault is the longest known name that fits, so that a
    // named vault `aws-prod` wins over the backend `aws` for `vault_aws_prod_region`.
    let backends: Vec<(String, String)> = builder
        .backends()
        .map(|(n, _)| (key_form(n), n.to_owned()))
        .collect();
    for entry in conf.entries() {
        let Some(rest) = entry.key().strip_prefix("vault_") else {
            continue;
        };
        if GLOBAL.contains(&entry.key()) || is_unset(entry.value()) {
            continue;
        }
        let named_match = named
            .iter()
            .enumerate()
            .map(|(i, (p, _, _))| (key_form(p), i))
            .filter(|(k, _)| fits(rest, k))
            .max_by_key(|(k, _)| k.len());
        let backend_match = backends
            .iter()
            .filter(|(k, _)| fits(rest, k))
            .max_by_key(|(k, _)| k.len());
        match (named_match, backend_match) {
            (Some((k, i)), b) if b.is_none_or(|(bk, _)| k.len() > bk.len()) => {
                let option = &rest[k.len() + 1..];
                named[i].2.set(option, entry.value());
            }
            (_, Some((k, name))) => {
                let option = &rest[k.len() + 1..];
                let vault = builder
                    .backends()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .expect("listed above");
                if accepts(vault.as_ref(), option) {
                    builder = builder.configure(name, option, entry.value());
                } else {
                    failures.push(failure(
                        entry,
                        unknown_option(name, vault.as_ref(), option).to_string(),
                    ));
                }
            }
            _ => {
                let message = match left_out(rest) {
                    // A setting for a backend this build left out: say which feature brings it.
                    Some((vault, feature)) => format!(
                        "this setting is for vault `{vault}`, which is not available: secret-ref \
                         was built without its cargo feature `{feature}`"
                    ),
                    None => format!(
                        "no vault matches this setting (vaults: {}; named vaults are declared \
                         with `{PREFIXES}`)",
                        backends
                            .iter()
                            .map(|(_, n)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                failures.push(failure(entry, message));
            }
        }
    }

    for (prefix, backend, config) in named {
        builder = builder.named_vault(prefix, backend, config.iter());
    }
    if failures.is_empty() {
        Ok(builder)
    } else {
        Err(Error::from_failures(failures))
    }
}

pub(super) fn rotation_interval(conf: &KongConf) -> Result<std::time::Duration, Error> {
    let Some(entry) = conf
        .entry("vault_rotation_interval")
        .filter(|e| !is_unset(e.value()))
    else {
        return Ok(crate::resolver::DEFAULT_ROTATION_INTERVAL);
    };
    match crate::vault::parse_seconds(entry.value(), crate::vault::MAX_TTL) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(Error::single(failure(
            entry,
            "the rotation interval must be a positive number of seconds".into(),
        ))),
        Err(why) => Err(Error::single(failure(
            entry,
            format!("the rotation interval {why}"),
        ))),
    }
}

/// The backend left out of this build (and its feature) that a `vault_<vault>_<option>` key
/// (without its `vault_`) is for, if any.
fn left_out(rest: &str) -> Option<(&'static str, &'static str)> {
    crate::vault::left_out().find(|(vault, _)| fits(rest, &key_form(vault)))
}

fn fits(rest: &str, vault: &str) -> bool {
    rest.len() > vault.len() + 1 && rest.starts_with(vault) && rest.as_bytes()[vault.len()] == b'_'
}
