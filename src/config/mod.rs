//! Settings, layered with figment: built-in defaults < `config/default.toml` < the file named by
//! `--config` / `SKILLMEAT_CONFIG` < `SKILLMEAT_*` environment variables (`__` nests).
//!
//! Every key is checked once here, so a bad value stops start-up with one line that names the key
//! and what is allowed, instead of failing somewhere later.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub mod keys;
mod security;
mod urls;
mod validate;

pub use keys::env_name;
pub use security::{MIN_KEY_CHARS, generate_key, parse_host_port};
pub use urls::{database_kind, redact_url, sqlite_url};

/// The whole configuration of the server. Every key is defined once in [`keys::KEYS`]; an
/// unknown key in a file stops start-up, an unknown `SKILLMEAT_*` variable is warned about (it
/// may be one of SkillMeat's own).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    /// SkillMeat's data home; its `collections/` folder is read.
    pub data_home: String,
    /// Address the HTTP server listens on.
    pub listen: String,
    /// The server's own database.
    pub database: DatabaseSettings,
    /// The job queue's storage.
    pub jobs: JobsSettings,
    /// The artifact cache.
    pub cache: CacheSettings,
    /// HTTP server limits.
    pub server: ServerSettings,
    /// Deployments into projects.
    pub deploy: DeploySettings,
    /// Authentication.
    pub auth: AuthSettings,
    /// The file watcher.
    pub watch: WatchSettings,
    /// The web UI.
    pub ui: UiSettings,
    /// Imported and created artifacts.
    pub artifacts: ArtifactSettings,
    /// Deleted artifacts.
    pub trash: TrashSettings,
    /// Git upstreams of artifacts.
    pub upstream: UpstreamSettings,
    /// Further artifact sources.
    pub sources: SourcesSettings,
}

/// `[artifacts]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArtifactSettings {
    /// Most files of one artifact.
    pub max_files: u64,
    /// Most bytes of one artifact.
    pub max_total_bytes: u64,
    /// Longest a git network step may take.
    pub git_timeout_secs: u64,
}

/// `[trash]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrashSettings {
    /// Days a deleted artifact is kept.
    pub keep_days: u64,
}

/// `[upstream]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UpstreamSettings {
    /// Seconds between scheduled upstream checks; 0: none.
    pub check_interval_secs: u64,
}

/// `[sources]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourcesSettings {
    /// Git repositories served read-only.
    pub git: Vec<GitSourceSettings>,
}

/// One `sources.git` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GitSourceSettings {
    /// Repository URL (https, ssh or file).
    pub url: String,
    /// Branch, tag or commit; HEAD when empty.
    #[serde(default, rename = "ref")]
    pub git_ref: String,
    /// The folder in the repository laid out like a collection; its top when empty.
    #[serde(default)]
    pub path: String,
    /// The collection's name; the repository's name when empty.
    #[serde(default)]
    pub name: String,
}

/// `[ui]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UiSettings {
    /// A file served as `/ui/app.js` instead of the built-in script; empty: built in.
    pub script_file: String,
}

/// `[watch]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WatchSettings {
    /// Watch the collections and the projects' profile folders for changes.
    pub enabled: bool,
    /// Milliseconds a burst of changes is collected before its refresh jobs are queued.
    pub debounce_ms: u64,
}

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseSettings {
    /// `sqlite://...` or `postgres://...`; empty means `sqlite://<data_home>/cache/artifact_cache.db`.
    pub url: String,
}

/// `[jobs]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobsSettings {
    /// Empty means `sqlite://<data_home>/cache/jobs.db`, or the database url with PostgreSQL.
    pub url: String,
    /// Attempts per job run before it is recorded as failed.
    pub max_attempts: u32,
    /// Milliseconds before the first retry; doubles per attempt, up to 60 s.
    pub retry_backoff_ms: u64,
    /// Days finished job records (and finished queue entries) are kept.
    pub retention_days: u64,
    /// Seconds between scheduled purges; 0 disables the schedule.
    pub purge_interval_secs: u64,
    /// Seconds between worker heartbeats; jobs of a worker silent for two are re-queued.
    pub heartbeat_secs: u64,
    /// Milliseconds between idle workers' looks for new jobs.
    pub poll_interval_ms: u64,
    /// Longest a job attempt may run, in seconds.
    pub run_timeout_secs: u64,
}

/// `[cache]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CacheSettings {
    /// Seconds a cached artifact is served before a read goes back to the source.
    pub ttl_secs: u64,
    /// Seconds between scheduled refreshes; 0 disables the schedule.
    pub refresh_interval_secs: u64,
    /// Days after which an entry nobody read is purged.
    pub purge_after_days: u64,
}

/// `[server]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerSettings {
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: u64,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Seconds a connection may stay silent (a request not yet complete, or an idle keep-alive)
    /// before it is closed; slow or stalled clients cannot hold connections open.
    pub idle_timeout_secs: u64,
    /// Origins (`https://app.example.com`) whose pages may call the API from a browser (CORS);
    /// empty turns CORS off, so browsers refuse cross-origin calls.
    pub cors_origins: Vec<String>,
    /// Host names (`host` or `host:port`) requests may address besides `localhost`,
    /// `127.0.0.1` and `[::1]`; empty on a non-loopback listen address accepts any host.
    pub allowed_hosts: Vec<String>,
    /// The address browsers use to reach the server (`https://skillmeat.example.com`), when it
    /// is not the listen address; `https` makes session cookies `Secure`.
    pub public_url: String,
    /// Most live event streams (`/api/v1/events`) open at once; more get 429.
    pub max_event_streams: u32,
}

/// `[deploy]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeploySettings {
    /// Folders searched for projects with `.skillmeat-deployed.toml` records (`~` expanded).
    pub search_roots: Vec<String>,
    /// How many folder levels below each root are searched.
    pub search_depth: u32,
    /// Folders projects must lie strictly inside (`~` expanded); nothing outside them is ever
    /// registered, deployed into or scanned.
    pub allowed_roots: Vec<String>,
}

/// `[auth]`
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct AuthSettings {
    /// API key; required before the server may listen on a non-loopback address.
    pub api_key: String,
    /// A file holding the API key (its first line), instead of `api_key`; `~` expanded.
    pub api_key_file: String,
    /// Keys that may only read (GET), for teammates who browse; need `api_key` too.
    pub read_only_keys: Vec<String>,
    /// Seconds a browser session lives after its last use.
    pub session_ttl_secs: u64,
}

// By hand, so that no debug print of the settings ever shows the key.
impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    "(none)"
                } else {
                    "(set, redacted)"
                },
            )
            .field("api_key_file", &self.api_key_file)
            .field(
                "read_only_keys",
                &format!("({} set, redacted)", self.read_only_keys.len()),
            )
            .field("session_ttl_secs", &self.session_ttl_secs)
            .finish()
    }
}

impl Default for Settings {
    /// The defaults of [`keys::KEYS`].
    fn default() -> Self {
        toml::from_str(&keys::default_toml())
            .unwrap_or_else(|e| panic!("the key definitions' defaults do not parse: {e}"))
    }
}

/// A configuration problem, rendered as the one line shown to the user.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// The database engines the server can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Settings {
    /// Loads the layered configuration. `explicit_file` is `--config`, which wins over
    /// `SKILLMEAT_CONFIG`; a file named either way must exist.
    pub fn load(explicit_file: Option<&Path>) -> Result<Self, ConfigError> {
        let env_file = std::env::var_os("SKILLMEAT_CONFIG").map(PathBuf::from);
        let file = explicit_file.map(Path::to_path_buf).or(env_file);
        if let Some(f) = &file
            && !f.is_file()
        {
            return Err(ConfigError(format!(
                "config file {} does not exist (named by --config or SKILLMEAT_CONFIG)",
                f.display()
            )));
        }
        Self::from_figment(Self::figment(
            Path::new("config/default.toml"),
            file.as_deref(),
        ))
    }

    /// The figment layers, separated out so tests can point them at their own files.
    pub fn figment(default_file: &Path, file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(default_file));
        if let Some(f) = file {
            figment = figment.merge(Toml::file(f));
        }
        figment.merge(
            Env::prefixed("SKILLMEAT_")
                .filter(|k| {
                    !validate::NON_SETTING_ENV
                        .iter()
                        .any(|n| k.as_str().eq_ignore_ascii_case(n))
                })
                .split("__"),
        )
    }

    /// Extracts and validates settings from a figment, reading `auth.api_key_file`.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        validate::check_unknown_keys(&figment)?;
        let mut settings: Settings = figment
            .extract()
            .map_err(validate::describe_figment_error)?;
        settings.read_api_key_file()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Puts the key from `auth.api_key_file` into `auth.api_key`.
    fn read_api_key_file(&mut self) -> Result<(), ConfigError> {
        let file = self.auth.api_key_file.trim();
        if file.is_empty() {
            return Ok(());
        }
        if !self.auth.api_key.trim().is_empty() {
            return Err(ConfigError(
                "auth.api_key and auth.api_key_file (SKILLMEAT_AUTH__API_KEY, SKILLMEAT_AUTH__API_KEY_FILE): set one of them, not both"
                    .into(),
            ));
        }
        let path = expand_home(file);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfigError(format!(
                "auth.api_key_file (SKILLMEAT_AUTH__API_KEY_FILE): cannot read {}: {e}",
                path.display()
            ))
        })?;
        security::warn_if_readable_by_others(&path);
        let key = text.lines().next().unwrap_or("").trim();
        if key.is_empty() {
            return Err(ConfigError(format!(
                "auth.api_key_file (SKILLMEAT_AUTH__API_KEY_FILE): {} is empty",
                path.display()
            )));
        }
        self.auth.api_key = key.to_string();
        Ok(())
    }

    /// The listen address, parsed.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError(format!(
                "listen (SKILLMEAT_LISTEN): '{}' is not an address; expected host:port with a port \
                 0-65535, such as 127.0.0.1:8080",
                self.listen
            ))
        })
    }

    /// The data home with `~` expanded.
    pub fn data_home_path(&self) -> PathBuf {
        expand_home(&self.data_home)
    }

    /// The database URL, derived from the data home when not set.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            sqlite_url(
                &self
                    .data_home_path()
                    .join("cache")
                    .join("artifact_cache.db"),
            )
        } else {
            self.database.url.clone()
        }
    }

    /// The job queue's URL: `jobs.url`, else the database URL with PostgreSQL, else
    /// `sqlite://<data_home>/cache/jobs.db` (apalis sets its own pragmas, so SQLite gets a file
    /// of its own).
    pub fn jobs_url(&self) -> String {
        if !self.jobs.url.is_empty() {
            self.jobs.url.clone()
        } else if self.database_kind() == DatabaseKind::Postgres {
            self.database_url()
        } else {
            sqlite_url(&self.data_home_path().join("cache").join("jobs.db"))
        }
    }

    /// The job runner's settings.
    pub fn runner_settings(&self) -> jobs::RunnerSettings {
        let secs = Duration::from_secs;
        jobs::RunnerSettings {
            max_attempts: self.jobs.max_attempts,
            retry_backoff: Duration::from_millis(self.jobs.retry_backoff_ms),
            retry_backoff_max: secs(60),
            heartbeat: secs(self.jobs.heartbeat_secs),
            poll_interval: Duration::from_millis(self.jobs.poll_interval_ms),
            run_timeout: secs(self.jobs.run_timeout_secs),
            shutdown_grace: secs(self.server.shutdown_grace_secs),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// How often the refresh is scheduled (`None`: never).
    pub fn refresh_every(&self) -> Option<Duration> {
        (self.cache.refresh_interval_secs > 0)
            .then(|| Duration::from_secs(self.cache.refresh_interval_secs))
    }

    /// How often upstreams are checked (`None`: never).
    pub fn upstream_every(&self) -> Option<Duration> {
        (self.upstream.check_interval_secs > 0)
            .then(|| Duration::from_secs(self.upstream.check_interval_secs))
    }

    /// What the authoring service needs.
    pub fn authoring(&self) -> crate::authoring::AuthoringSettings {
        crate::authoring::AuthoringSettings {
            limits: crate::authoring::Limits {
                max_files: self.artifacts.max_files as usize,
                max_total_bytes: self.artifacts.max_total_bytes,
            },
            git_timeout: Duration::from_secs(self.artifacts.git_timeout_secs),
            trash_keep_days: self.trash.keep_days,
            allowed_roots: self.allowed_roots(),
        }
    }

    /// How often the purge is scheduled (`None`: never).
    pub fn purge_every(&self) -> Option<Duration> {
        (self.jobs.purge_interval_secs > 0)
            .then(|| Duration::from_secs(self.jobs.purge_interval_secs))
    }

    /// Which engine the database URL names.
    pub fn database_kind(&self) -> DatabaseKind {
        database_kind(&self.database_url()).unwrap_or(DatabaseKind::Sqlite)
    }
}

/// Expands a leading `~` to the user's home folder.
pub fn expand_home(path: &str) -> PathBuf {
    if path == "~" {
        return home::home_dir().unwrap_or_else(|| PathBuf::from("."));
    }
    if let Some(rest) = path.strip_prefix("~/") {
        return home::home_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join(rest);
    }
    PathBuf::from(path)
}
