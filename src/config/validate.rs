//! Checks of a configuration: unknown keys (an error in a file, a warning in the environment),
//! each whole-number key's range from its definition, and the rules that span keys. Every
//! message names the key, its environment variable and what is allowed.

use figment::{Figment, Provider};

use super::keys::{self, KEYS, Rule, env_name};
use super::{ConfigError, Settings, redact_url};

/// Environment variables that start with the prefix but are not settings.
pub(super) const NON_SETTING_ENV: &[&str] = &["CONFIG", "TEST_DATABASE_URL"];

/// A problem with `key`, as the one line shown to the user.
pub(super) fn err(key: &str, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("{key} ({}): {problem}", env_name(key)))
}

/// Dotted keys of every leaf value in `dict` (a table's keys under `prefix`).
fn leaves(dict: &figment::value::Dict, prefix: &str, out: &mut Vec<String>) {
    for (name, value) in dict {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            figment::value::Value::Dict(_, inner) if keys::find(&key).is_none() => {
                leaves(inner, &key, out)
            }
            _ => out.push(key),
        }
    }
}

/// An unknown key in a configuration file stops start-up, naming the key and the closest
/// known one; an unknown `SKILLMEAT_*` variable is only warned about (SkillMeat's own
/// variables share the prefix).
pub(super) fn check_unknown_keys(figment: &Figment) -> Result<(), ConfigError> {
    let Ok(data) = figment.data() else {
        return Ok(());
    };
    let mut found = Vec::new();
    for dict in data.values() {
        leaves(dict, "", &mut found);
    }
    for key in found {
        if keys::find(&key).is_some() {
            continue;
        }
        let hint = keys::closest(&key)
            .map(|k| format!("; did you mean {k}?"))
            .unwrap_or_default();
        let from_env = figment
            .find_metadata(&key)
            .is_some_and(|m| m.name.to_lowercase().contains("environment"));
        if from_env {
            tracing::warn!(
                variable = %env_name(&key),
                "not a skillmeat-server setting; ignored{hint}"
            );
        } else {
            let source = figment
                .find_metadata(&key)
                .and_then(|m| m.source.as_ref().map(|s| format!(" in {s}")))
                .unwrap_or_default();
            return Err(ConfigError(format!(
                "{key}{source}: not a setting{hint} (config/default.toml lists every key)"
            )));
        }
    }
    Ok(())
}

/// A figment extraction error as one line naming the key and what it allows.
pub(super) fn describe_figment_error(err: figment::Error) -> ConfigError {
    let key = if err.path.is_empty() {
        "configuration".to_string()
    } else {
        err.path.join(".")
    };
    let source = err
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(src) => format!(" (from {src})"),
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    let allowed = keys::find(&key)
        .map(|d| format!("; allowed: {}", d.rule.describe()))
        .unwrap_or_default();
    ConfigError(format!(
        "{key} ({}): {}{source}{allowed}",
        env_name(&key),
        err.kind
    ))
}

impl Settings {
    /// Checks values that serde's types cannot express: each whole number's range (from its
    /// definition), then the rules of single keys and those that span keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_ranges()?;
        let addr = self.listen_addr()?;
        if self.data_home.trim().is_empty() {
            return Err(err(
                "data_home",
                "must not be empty; the default is ~/.skillmeat",
            ));
        }
        for (key, url) in [
            ("database.url", &self.database.url),
            ("jobs.url", &self.jobs.url),
        ] {
            if !url.is_empty() {
                super::database_kind(url).map_err(|allowed| {
                    err(
                        key,
                        format!("'{}' has an unknown scheme; {allowed}", redact_url(url)),
                    )
                })?;
            }
        }
        if let Some(bad) =
            self.server.cors_origins.iter().find(|o| {
                !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/')
            })
        {
            return Err(err(
                "server.cors_origins",
                format!(
                    "'{bad}' is not an origin; expected scheme://host[:port] without a path, \
                     such as https://app.example.com"
                ),
            ));
        }
        self.check_git_sources()?;
        if !addr.ip().is_loopback() && self.auth.api_key.trim().is_empty() {
            return Err(err(
                "listen",
                format!(
                    "{addr} is not a loopback address; set auth.api_key \
                     (SKILLMEAT_AUTH__API_KEY) before exposing the server, or listen on 127.0.0.1"
                ),
            ));
        }
        self.validate_security()
    }

    /// Each `sources.git` entry names a URL git can fetch and a usable collection name, once.
    fn check_git_sources(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::HashSet::new();
        for source in &self.sources.git {
            crate::git::remote_url(&source.url).map_err(|e| err("sources.git", e))?;
            if !source.name.is_empty() {
                crate::source::validate_name(&source.name).map_err(|e| {
                    err("sources.git", e.replace("artifact name", "collection name"))
                })?;
            }
            let name = crate::source::git::collection_name(source);
            if !names.insert(name.clone()) {
                return Err(err(
                    "sources.git",
                    format!(
                        "two repositories are served as the collection '{name}'; give one a name"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every whole-number key within the range its definition gives.
    fn check_ranges(&self) -> Result<(), ConfigError> {
        let values = serde_json::to_value(self).unwrap_or_default();
        for def in KEYS {
            let Rule::Whole { min, max, .. } = def.rule else {
                continue;
            };
            let value = def
                .key
                .split('.')
                .try_fold(&values, |v, part| v.get(part))
                .and_then(|v| v.as_u64());
            if let Some(value) = value
                && !(min..=max).contains(&value)
            {
                return Err(err(
                    def.key,
                    format!("{value} is out of range; allowed: {}", def.rule.describe()),
                ));
            }
        }
        Ok(())
    }
}
