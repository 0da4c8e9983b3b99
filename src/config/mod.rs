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

mod security;

pub use security::{MIN_KEY_CHARS, generate_key, parse_host_port};

/// Longest accepted TTL or job timeout, in seconds (ten years).
const MAX_SECS: u64 = 315_360_000;
/// Longest accepted purge age or retention, in days.
const MAX_DAYS: u64 = 36_500;

/// Environment variables that start with the prefix but are not settings.
const NON_SETTING_ENV: &[&str] = &["CONFIG", "TEST_DATABASE_URL"];

/// The whole configuration of the server. Unknown keys are ignored, so SkillMeat's own
/// `SKILLMEAT_*` variables (API key switches, tokens) in the same shell do not stop start-up.
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
}

/// `[watch]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WatchSettings {
    /// Watch the collections and the projects' profile folders for changes.
    pub enabled: bool,
    /// Milliseconds a burst of changes is collected before its refresh jobs are queued.
    pub debounce_ms: u64,
}

impl Default for WatchSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            debounce_ms: 300,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
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

impl Default for JobsSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_attempts: 3,
            retry_backoff_ms: 1000,
            retention_days: 7,
            purge_interval_secs: 3600,
            heartbeat_secs: 10,
            poll_interval_ms: 500,
            run_timeout_secs: 1800,
        }
    }
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

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            api_key: String::new(),
            api_key_file: String::new(),
            read_only_keys: Vec::new(),
            session_ttl_secs: 7 * 86_400,
        }
    }
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
    fn default() -> Self {
        Self {
            data_home: "~/.skillmeat".into(),
            listen: "127.0.0.1:8080".into(),
            database: DatabaseSettings::default(),
            jobs: JobsSettings::default(),
            cache: CacheSettings {
                ttl_secs: 300,
                refresh_interval_secs: 300,
                purge_after_days: 7,
            },
            server: ServerSettings {
                body_limit_bytes: 1024 * 1024,
                shutdown_grace_secs: 10,
                idle_timeout_secs: 30,
                cors_origins: Vec::new(),
                allowed_hosts: Vec::new(),
                public_url: String::new(),
                max_event_streams: 64,
            },
            deploy: DeploySettings {
                search_roots: Vec::new(),
                search_depth: 3,
                allowed_roots: vec!["~".into()],
            },
            auth: AuthSettings::default(),
            watch: WatchSettings::default(),
        }
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
                    !NON_SETTING_ENV
                        .iter()
                        .any(|n| k.as_str().eq_ignore_ascii_case(n))
                })
                .split("__"),
        )
    }

    /// Extracts and validates settings from a figment, reading `auth.api_key_file`.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let mut settings: Settings = figment.extract().map_err(describe_figment_error)?;
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

    /// Checks values that serde's types cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let addr = self.listen_addr()?;
        if self.data_home.trim().is_empty() {
            return Err(ConfigError(
                "data_home (SKILLMEAT_DATA_HOME): must not be empty; the default is ~/.skillmeat"
                    .into(),
            ));
        }
        if !self.database.url.is_empty() {
            database_kind(&self.database.url).map_err(|allowed| {
                ConfigError(format!(
                    "database.url (SKILLMEAT_DATABASE__URL): '{}' has an unknown scheme; {allowed}",
                    redact_url(&self.database.url)
                ))
            })?;
        }
        if !self.jobs.url.is_empty() {
            database_kind(&self.jobs.url).map_err(|allowed| {
                ConfigError(format!(
                    "jobs.url (SKILLMEAT_JOBS__URL): '{}' has an unknown scheme; {allowed}",
                    redact_url(&self.jobs.url)
                ))
            })?;
        }
        if self.cache.ttl_secs == 0 {
            return Err(ConfigError(
                "cache.ttl_secs (SKILLMEAT_CACHE__TTL_SECS): must be at least 1 second".into(),
            ));
        }
        let jobs = &self.jobs;
        if !(1..=20).contains(&jobs.max_attempts) {
            return Err(ConfigError(
                "jobs.max_attempts (SKILLMEAT_JOBS__MAX_ATTEMPTS): must be 1 to 20".into(),
            ));
        }
        if jobs.heartbeat_secs == 0 || jobs.poll_interval_ms == 0 || jobs.run_timeout_secs == 0 {
            return Err(ConfigError(
                "jobs.heartbeat_secs, jobs.poll_interval_ms and jobs.run_timeout_secs \
                 (SKILLMEAT_JOBS__...): must be at least 1"
                    .into(),
            ));
        }
        for (key, value) in [
            ("cache.ttl_secs", self.cache.ttl_secs),
            (
                "cache.refresh_interval_secs",
                self.cache.refresh_interval_secs,
            ),
            ("jobs.purge_interval_secs", jobs.purge_interval_secs),
            ("jobs.heartbeat_secs", jobs.heartbeat_secs),
            ("jobs.run_timeout_secs", jobs.run_timeout_secs),
            (
                "server.shutdown_grace_secs",
                self.server.shutdown_grace_secs,
            ),
        ] {
            if value > MAX_SECS {
                return Err(ConfigError(format!(
                    "{key} ({}): at most {MAX_SECS} seconds (ten years)",
                    env_name(key)
                )));
            }
        }
        if !(10..=60_000).contains(&self.watch.debounce_ms) {
            return Err(ConfigError(
                "watch.debounce_ms (SKILLMEAT_WATCH__DEBOUNCE_MS): must be 10 to 60000".into(),
            ));
        }
        if jobs.retry_backoff_ms > 60_000 || jobs.poll_interval_ms > 60_000 {
            return Err(ConfigError(
                "jobs.retry_backoff_ms and jobs.poll_interval_ms (SKILLMEAT_JOBS__RETRY_BACKOFF_MS, \
                 SKILLMEAT_JOBS__POLL_INTERVAL_MS): at most 60000 (one minute)"
                    .into(),
            ));
        }
        if self.cache.purge_after_days > MAX_DAYS || jobs.retention_days > MAX_DAYS {
            return Err(ConfigError(format!(
                "cache.purge_after_days and jobs.retention_days (SKILLMEAT_CACHE__PURGE_AFTER_DAYS, \
                 SKILLMEAT_JOBS__RETENTION_DAYS): at most {MAX_DAYS}; 0 keeps entries forever"
            )));
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(ConfigError(
                "server.body_limit_bytes (SKILLMEAT_SERVER__BODY_LIMIT_BYTES): must be at least 1024"
                    .into(),
            ));
        }
        if !(1..=3600).contains(&self.server.idle_timeout_secs) {
            return Err(ConfigError(
                "server.idle_timeout_secs (SKILLMEAT_SERVER__IDLE_TIMEOUT_SECS): must be 1 to 3600"
                    .into(),
            ));
        }
        if let Some(bad) =
            self.server.cors_origins.iter().find(|o| {
                !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/')
            })
        {
            return Err(ConfigError(format!(
                "server.cors_origins (SKILLMEAT_SERVER__CORS_ORIGINS): '{bad}' is not an origin; expected scheme://host[:port] without a path, such as https://app.example.com"
            )));
        }
        if self.deploy.search_depth > 10 {
            return Err(ConfigError(
                "deploy.search_depth (SKILLMEAT_DEPLOY__SEARCH_DEPTH): must be 0 to 10".into(),
            ));
        }
        if !addr.ip().is_loopback() && self.auth.api_key.trim().is_empty() {
            return Err(ConfigError(format!(
                "listen (SKILLMEAT_LISTEN): {addr} is not a loopback address; set auth.api_key \
                 (SKILLMEAT_AUTH__API_KEY) before exposing the server, or listen on 127.0.0.1"
            )));
        }
        self.validate_security()
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
        }
    }

    /// How often the refresh is scheduled (`None`: never).
    pub fn refresh_every(&self) -> Option<Duration> {
        (self.cache.refresh_interval_secs > 0)
            .then(|| Duration::from_secs(self.cache.refresh_interval_secs))
    }

    /// How often the purge is scheduled (`None`: never).
    pub fn purge_every(&self) -> Option<Duration> {
        (self.jobs.purge_interval_secs > 0)
            .then(|| Duration::from_secs(self.jobs.purge_interval_secs))
    }

    /// What the purge job keeps (0 days: everything).
    pub fn purge_settings(&self) -> crate::jobs::purge::PurgeSettings {
        let days = |d: u64| (d > 0).then(|| Duration::from_secs(d.saturating_mul(86_400)));
        crate::jobs::purge::PurgeSettings {
            cache_after: days(self.cache.purge_after_days),
            retention: days(self.jobs.retention_days),
        }
    }

    /// Which engine the database URL names.
    pub fn database_kind(&self) -> DatabaseKind {
        database_kind(&self.database_url()).unwrap_or(DatabaseKind::Sqlite)
    }
}

/// The environment variable of a dotted key: `cache.ttl_secs` -> `SKILLMEAT_CACHE__TTL_SECS`.
pub(crate) fn env_name(key: &str) -> String {
    format!("SKILLMEAT_{}", key.replace('.', "__").to_uppercase())
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

/// The SQLite URL of a file path.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Which engine a URL names, or the allowed schemes.
pub fn database_kind(url: &str) -> Result<DatabaseKind, &'static str> {
    if url.starts_with("sqlite:") {
        Ok(DatabaseKind::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(DatabaseKind::Postgres)
    } else {
        Err("allowed: sqlite://<path> or postgres://user@host/db")
    }
}

/// Query parameters whose values are secrets in database URLs (libpq and sqlx spellings).
const SECRET_QUERY_KEYS: &[&str] = &["password", "passwd", "pass", "sslpassword", "pwd"];

/// A URL with any password replaced (in the user part and in the query string), safe for
/// messages and logs.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        // Not a URL we can read: show only its scheme, which never holds a secret.
        return match raw.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://(unreadable, hidden)"),
            None => "(hidden)".into(),
        };
    };
    let mut changed = false;
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
        changed = true;
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                if SECRET_QUERY_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                    changed = true;
                    (k.into_owned(), "***".to_string())
                } else {
                    (k.into_owned(), v.into_owned())
                }
            })
            .collect();
        if changed {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    if changed {
        url.to_string()
    } else {
        raw.to_string()
    }
}

fn describe_figment_error(err: figment::Error) -> ConfigError {
    let key = if err.path.is_empty() {
        "configuration".to_string()
    } else {
        err.path.join(".")
    };
    let env_name = env_name(&err.path.join("."));
    let source = err
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(src) => format!(" (from {src})"),
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    let allowed = allowed_for(&key);
    ConfigError(format!("{key} ({env_name}): {}{source}{allowed}", err.kind))
}

fn allowed_for(key: &str) -> &'static str {
    match key {
        "cache.ttl_secs" => "; allowed: a whole number of seconds, 1 or more",
        "cache.refresh_interval_secs" => {
            "; allowed: a whole number of seconds, 0 or more (0: no schedule)"
        }
        "cache.purge_after_days" => "; allowed: a whole number of days, 0 or more (0: never purge)",
        "server.body_limit_bytes" => "; allowed: a whole number of bytes",
        "server.shutdown_grace_secs" => "; allowed: a whole number of seconds",
        "deploy.search_roots" => "; allowed: a list of folders, e.g. [\"~/projects\"]",
        "deploy.search_depth" => "; allowed: a whole number from 0 to 10",
        "jobs.max_attempts" => "; allowed: a whole number from 1 to 20",
        "watch.enabled" => "; allowed: true or false",
        "watch.debounce_ms" => "; allowed: a whole number of milliseconds, 10 to 60000",
        "jobs.retry_backoff_ms" | "jobs.poll_interval_ms" => {
            "; allowed: a whole number of milliseconds"
        }
        "jobs.retention_days" => "; allowed: a whole number of days (0: keep forever)",
        "jobs.purge_interval_secs" => {
            "; allowed: a whole number of seconds, 0 or more (0: no schedule)"
        }
        "jobs.heartbeat_secs" | "jobs.run_timeout_secs" => {
            "; allowed: a whole number of seconds, 1 or more"
        }
        "server.allowed_hosts" => {
            "; allowed: a list of host names, e.g. [\"skillmeat.example.com\"]"
        }
        "server.cors_origins" => "; allowed: a list of origins, e.g. [\"https://app.example.com\"]",
        "server.public_url" => "; allowed: a URL such as \"https://skillmeat.example.com\"",
        "server.max_event_streams" => "; allowed: a whole number from 1 to 10000",
        "deploy.allowed_roots" => "; allowed: a list of folders, e.g. [\"~\", \"/srv/projects\"]",
        "auth.read_only_keys" => "; allowed: a list of keys of 32 characters or more",
        "auth.session_ttl_secs" => "; allowed: a whole number of seconds, 60 or more",
        _ => "",
    }
}
