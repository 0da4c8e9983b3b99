//! Every setting, defined once: its dotted key, default (as TOML), allowed values and the doc
//! line `config/default.toml` carries. The built-in defaults, the range checks, the messages
//! that name a key's environment variable and what it allows, the default file itself and the
//! unknown-key check all come from [`KEYS`].

/// Longest accepted duration in seconds (ten years).
pub const MAX_SECS: u64 = 315_360_000;
/// Longest accepted age in days (a hundred years).
pub const MAX_DAYS: u64 = 36_500;
/// Largest accepted byte count (1 TiB).
pub const MAX_BYTES: u64 = 1 << 40;

/// What a setting accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Text (further checks, where any, are the key's own).
    Text,
    /// `true` or `false`.
    Switch,
    /// A list of strings.
    List,
    /// A list of tables (`sources.git`).
    Tables,
    /// A whole number from `min` to `max` of `unit`.
    Whole {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
        /// What it counts.
        unit: &'static str,
    },
}

impl Rule {
    /// What is allowed, for messages.
    pub fn describe(&self) -> String {
        match self {
            Rule::Text => "text".into(),
            Rule::Switch => "true or false".into(),
            Rule::List => "a list of strings, e.g. [\"a\", \"b\"]".into(),
            Rule::Tables => {
                "a list of tables, e.g. [{ url = \"https://...\", ref = \"main\" }]".into()
            }
            Rule::Whole { min, max, unit } => format!("a whole number of {unit}, {min} to {max}"),
        }
    }
}

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    /// Dotted key: `cache.ttl_secs`.
    pub key: &'static str,
    /// The default, as a TOML value.
    pub default: &'static str,
    /// What it accepts.
    pub rule: Rule,
    /// Its line in `config/default.toml`.
    pub doc: &'static str,
}

impl KeyDef {
    /// Its environment variable: `cache.ttl_secs` -> `SKILLMEAT_CACHE__TTL_SECS`.
    pub fn env(&self) -> String {
        env_name(self.key)
    }
}

/// The environment variable of a dotted key.
pub fn env_name(key: &str) -> String {
    format!("SKILLMEAT_{}", key.replace('.', "__").to_uppercase())
}

/// The definition of `key`.
pub fn find(key: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.key == key)
}

/// The default of a list setting (`deploy.search_roots`), parsed from its TOML literal.
pub fn default_list(key: &str) -> Vec<String> {
    find(key)
        .and_then(|k| toml::from_str::<toml::Table>(&format!("v = {}", k.default)).ok())
        .and_then(|t| t.get("v").cloned())
        .and_then(|v| v.try_into::<Vec<String>>().ok())
        .unwrap_or_default()
}

/// The known key closest to an unknown one, when one is close enough to be a likely typo.
pub fn closest(unknown: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|k| (strsim::levenshtein(unknown, k.key), k.key))
        .filter(|(distance, key)| *distance <= 3.max(key.len() / 3))
        .min()
        .map(|(_, key)| key)
}

/// Every setting, in the order of `config/default.toml`.
pub const KEYS: &[KeyDef] = &[
    KeyDef {
        key: "data_home",
        default: "\"~/.skillmeat\"",
        rule: Rule::Text,
        doc: "SkillMeat's data home; its collections/ folder is served (SKILLMEAT_DATA_HOME). \"~\" is expanded.",
    },
    KeyDef {
        key: "listen",
        default: "\"127.0.0.1:8080\"",
        rule: Rule::Text,
        doc: "Address the HTTP server listens on (SKILLMEAT_LISTEN); a non-loopback address needs auth.api_key.",
    },
    KeyDef {
        key: "database.url",
        default: "\"\"",
        rule: Rule::Text,
        doc: "sqlite://<path> or postgres://user@host/db; empty means sqlite://<data_home>/cache/artifact_cache.db (SKILLMEAT_DATABASE__URL).",
    },
    KeyDef {
        key: "jobs.url",
        default: "\"\"",
        rule: Rule::Text,
        doc: "Job queue storage; empty means sqlite://<data_home>/cache/jobs.db, or the database url on PostgreSQL (schema apalis) (SKILLMEAT_JOBS__URL).",
    },
    KeyDef {
        key: "jobs.max_attempts",
        default: "3",
        rule: Rule::Whole {
            min: 1,
            max: 20,
            unit: "attempts",
        },
        doc: "Attempts per job run before it is recorded as failed, 1 to 20 (SKILLMEAT_JOBS__MAX_ATTEMPTS).",
    },
    KeyDef {
        key: "jobs.retry_backoff_ms",
        default: "1000",
        rule: Rule::Whole {
            min: 0,
            max: 60_000,
            unit: "milliseconds",
        },
        doc: "Milliseconds before the first retry; doubles per attempt (with jitter) up to 60 s (SKILLMEAT_JOBS__RETRY_BACKOFF_MS; at most 60000).",
    },
    KeyDef {
        key: "jobs.retention_days",
        default: "7",
        rule: Rule::Whole {
            min: 0,
            max: MAX_DAYS,
            unit: "days",
        },
        doc: "Days finished job records and finished queue entries are kept before the purge drops them; 0 keeps them forever (SKILLMEAT_JOBS__RETENTION_DAYS; at most 36500).",
    },
    KeyDef {
        key: "jobs.purge_interval_secs",
        default: "3600",
        rule: Rule::Whole {
            min: 0,
            max: MAX_SECS,
            unit: "seconds",
        },
        doc: "Seconds between scheduled purges; 0 disables the schedule (SKILLMEAT_JOBS__PURGE_INTERVAL_SECS).",
    },
    KeyDef {
        key: "jobs.heartbeat_secs",
        default: "10",
        rule: Rule::Whole {
            min: 1,
            max: MAX_SECS,
            unit: "seconds",
        },
        doc: "Seconds between worker and job heartbeats; the jobs of a worker silent for two (a killed server) are re-queued, a running job silent for six is recorded as abandoned (SKILLMEAT_JOBS__HEARTBEAT_SECS; at least 1).",
    },
    KeyDef {
        key: "jobs.poll_interval_ms",
        default: "500",
        rule: Rule::Whole {
            min: 1,
            max: 60_000,
            unit: "milliseconds",
        },
        doc: "Milliseconds between an idle worker's looks for new jobs (SKILLMEAT_JOBS__POLL_INTERVAL_MS; 1 to 60000).",
    },
    KeyDef {
        key: "jobs.run_timeout_secs",
        default: "1800",
        rule: Rule::Whole {
            min: 1,
            max: MAX_SECS,
            unit: "seconds",
        },
        doc: "Longest one job attempt may run, in seconds; a job still queued after this long is recorded as abandoned (SKILLMEAT_JOBS__RUN_TIMEOUT_SECS; at least 1).",
    },
    KeyDef {
        key: "cache.ttl_secs",
        default: "300",
        rule: Rule::Whole {
            min: 1,
            max: MAX_SECS,
            unit: "seconds",
        },
        doc: "Seconds a cached artifact is served before a detail read re-validates it against the source (SKILLMEAT_CACHE__TTL_SECS; 1 to 315360000).",
    },
    KeyDef {
        key: "cache.refresh_interval_secs",
        default: "300",
        rule: Rule::Whole {
            min: 0,
            max: MAX_SECS,
            unit: "seconds",
        },
        doc: "Seconds between scheduled refreshes of the cache from the sources, aligned to the clock; 0 disables the schedule (SKILLMEAT_CACHE__REFRESH_INTERVAL_SECS).",
    },
    KeyDef {
        key: "cache.purge_after_days",
        default: "7",
        rule: Rule::Whole {
            min: 0,
            max: MAX_DAYS,
            unit: "days",
        },
        doc: "Days after which a cache entry neither read nor confirmed by a refresh is purged; 0 never purges (SKILLMEAT_CACHE__PURGE_AFTER_DAYS; at most 36500).",
    },
    KeyDef {
        key: "server.body_limit_bytes",
        default: "1048576",
        rule: Rule::Whole {
            min: 1024,
            max: MAX_BYTES,
            unit: "bytes",
        },
        doc: "Largest accepted request body in bytes; larger ones get 413 (SKILLMEAT_SERVER__BODY_LIMIT_BYTES; at least 1024).",
    },
    KeyDef {
        key: "server.shutdown_grace_secs",
        default: "10",
        rule: Rule::Whole {
            min: 0,
            max: MAX_SECS,
            unit: "seconds",
        },
        doc: "Seconds in-flight requests and running jobs get to finish after SIGINT/SIGTERM (SKILLMEAT_SERVER__SHUTDOWN_GRACE_SECS).",
    },
    KeyDef {
        key: "server.idle_timeout_secs",
        default: "30",
        rule: Rule::Whole {
            min: 1,
            max: 3600,
            unit: "seconds",
        },
        doc: "Seconds a connection may stay silent (a slow or stalled request, an idle keep-alive) before it is closed, 1 to 3600 (SKILLMEAT_SERVER__IDLE_TIMEOUT_SECS).",
    },
    KeyDef {
        key: "server.cors_origins",
        default: "[]",
        rule: Rule::List,
        doc: "Origins whose web pages may call the API from a browser (CORS), e.g. [\"https://app.example.com\"]; empty keeps CORS off (SKILLMEAT_SERVER__CORS_ORIGINS='[\"https://app.example.com\"]').",
    },
    KeyDef {
        key: "server.allowed_hosts",
        default: "[]",
        rule: Rule::List,
        doc: "Host names (host or host:port) requests may name besides localhost, 127.0.0.1, [::1], the listen address and public_url's host; others get 403 (DNS-rebinding protection). Empty on a non-loopback listen accepts any host (SKILLMEAT_SERVER__ALLOWED_HOSTS='[\"skillmeat.example.com\"]').",
    },
    KeyDef {
        key: "server.public_url",
        default: "\"\"",
        rule: Rule::Text,
        doc: "The URL browsers use when it is not the listen address, e.g. \"https://skillmeat.example.com\" behind a proxy; https makes the session cookie Secure (SKILLMEAT_SERVER__PUBLIC_URL).",
    },
    KeyDef {
        key: "server.max_event_streams",
        default: "64",
        rule: Rule::Whole {
            min: 1,
            max: 10_000,
            unit: "streams",
        },
        doc: "Most live event streams (/api/v1/events) open at once, 1 to 10000; one more gets 429 (SKILLMEAT_SERVER__MAX_EVENT_STREAMS).",
    },
    KeyDef {
        key: "deploy.search_roots",
        default: "[\"~/projects\", \"~/dev\", \"~/workspace\", \"~/src\"]",
        rule: Rule::List,
        doc: "Folders searched for projects that have SkillMeat deployment records (.claude/.skillmeat-deployed.toml ...), as SkillMeat searches; missing ones are skipped, and the dashboard can add more. Each inside allowed_roots (SKILLMEAT_DEPLOY__SEARCH_ROOTS='[\"~/projects\"]'; [] searches nothing).",
    },
    KeyDef {
        key: "deploy.search_depth",
        default: "3",
        rule: Rule::Whole {
            min: 0,
            max: 10,
            unit: "levels",
        },
        doc: "How many folder levels below each search root are searched, 0 to 10 (SKILLMEAT_DEPLOY__SEARCH_DEPTH).",
    },
    KeyDef {
        key: "deploy.allowed_roots",
        default: "[\"~\"]",
        rule: Rule::List,
        doc: "Projects must lie strictly inside one of these folders; the roots themselves, / and system folders are refused (SKILLMEAT_DEPLOY__ALLOWED_ROOTS='[\"~\", \"/srv/projects\"]').",
    },
    KeyDef {
        key: "watch.enabled",
        default: "true",
        rule: Rule::Switch,
        doc: "Watch the collections and the projects' profile folders and refresh what changed within a second; the schedule stays as the safety net (SKILLMEAT_WATCH__ENABLED).",
    },
    KeyDef {
        key: "watch.debounce_ms",
        default: "300",
        rule: Rule::Whole {
            min: 10,
            max: 60_000,
            unit: "milliseconds",
        },
        doc: "Milliseconds a burst of file changes is collected (until quiet this long, at most twice this) before its refresh jobs are queued, 10 to 60000 (SKILLMEAT_WATCH__DEBOUNCE_MS).",
    },
    KeyDef {
        key: "auth.api_key",
        default: "\"\"",
        rule: Rule::Text,
        doc: "API key, at least 32 characters (skillmeat-server gen-key prints one); when set, every route but /health and /login needs it (Authorization: Bearer <key>, X-API-Key, or the cookie a browser gets at /login); required before listening on a non-loopback address (SKILLMEAT_AUTH__API_KEY).",
    },
    KeyDef {
        key: "auth.api_key_file",
        default: "\"\"",
        rule: Rule::Text,
        doc: "A file whose first line is the API key, instead of api_key (for secrets mounted as files); ~ is expanded (SKILLMEAT_AUTH__API_KEY_FILE).",
    },
    KeyDef {
        key: "auth.read_only_keys",
        default: "[]",
        rule: Rule::List,
        doc: "Keys (32 characters or more) that may only read: GET works, writes get 403 and the pages hide write controls; needs api_key (SKILLMEAT_AUTH__READ_ONLY_KEYS='[\"<key>\"]').",
    },
    KeyDef {
        key: "auth.session_ttl_secs",
        default: "604800",
        rule: Rule::Whole {
            min: 60,
            max: MAX_SECS,
            unit: "seconds",
        },
        doc: "Seconds a browser session lives after its last use, 60 or more (SKILLMEAT_AUTH__SESSION_TTL_SECS).",
    },
    KeyDef {
        key: "artifacts.max_files",
        default: "2000",
        rule: Rule::Whole {
            min: 1,
            max: 1_000_000,
            unit: "files",
        },
        doc: "Most files one imported or created artifact may hold, 1 to 1000000; more is refused with 413 (SKILLMEAT_ARTIFACTS__MAX_FILES).",
    },
    KeyDef {
        key: "artifacts.max_total_bytes",
        default: "52428800",
        rule: Rule::Whole {
            min: 1,
            max: MAX_BYTES,
            unit: "bytes",
        },
        doc: "Most bytes one imported or created artifact may hold, all files together (default 50 MiB); more is refused with 413 (SKILLMEAT_ARTIFACTS__MAX_TOTAL_BYTES).",
    },
    KeyDef {
        key: "artifacts.git_timeout_secs",
        default: "60",
        rule: Rule::Whole {
            min: 1,
            max: 3600,
            unit: "seconds",
        },
        doc: "Longest a git fetch or ref check may take (connect, each read, and the whole transfer), 1 to 3600 (SKILLMEAT_ARTIFACTS__GIT_TIMEOUT_SECS).",
    },
    KeyDef {
        key: "trash.keep_days",
        default: "30",
        rule: Rule::Whole {
            min: 0,
            max: MAX_DAYS,
            unit: "days",
        },
        doc: "Days a deleted artifact stays in <data_home>/trash (restorable) before the purge job removes it; 0 removes it at the next purge (SKILLMEAT_TRASH__KEEP_DAYS).",
    },
    KeyDef {
        key: "upstream.check_interval_secs",
        default: "86400",
        rule: Rule::Whole {
            min: 0,
            max: MAX_SECS,
            unit: "seconds",
        },
        doc: "Seconds between scheduled checks of artifacts' git upstreams for new commits (daily by default); 0 disables the schedule (SKILLMEAT_UPSTREAM__CHECK_INTERVAL_SECS).",
    },
    KeyDef {
        key: "sources.git",
        default: "[]",
        rule: Rule::Tables,
        doc: "Git repositories served read-only as collections of their own, without copying: [{ url = \"https://...\", ref = \"main\", path = \"\", name = \"team\" }]; ref defaults to HEAD, path (a folder in the repository laid out like a collection) to its top, name to the repository's name (SKILLMEAT_SOURCES__GIT='[{url=\"file:///srv/skills.git\"}]').",
    },
    KeyDef {
        key: "ui.script_file",
        default: "\"\"",
        rule: Rule::Text,
        doc: "Serve the pages' script from this file instead of the one built in, e.g. an instrumented copy whose coverage the browser tests measure; empty: built in (SKILLMEAT_UI__SCRIPT_FILE).",
    },
];

/// `config/default.toml` as the keys define it: a header, then each section's keys with their
/// doc lines and defaults.
pub fn default_toml() -> String {
    let mut out = String::from(HEADER);
    let mut section = "";
    for def in KEYS {
        let (this, name) = def.key.rsplit_once('.').unwrap_or(("", def.key));
        if this != section {
            out.push_str(&format!("\n[{this}]\n"));
            section = this;
        }
        out.push_str(&format!("# {}\n{name} = {}\n", def.doc, def.default));
    }
    out
}

/// The defaults as one TOML document (what [`super::Settings::default`] deserialises).
pub fn defaults_document() -> String {
    default_toml()
}

const HEADER: &str = "# skillmeat-server configuration: every setting with its default.
# Layers, later wins: built-in defaults < this file < the file named by --config or
# SKILLMEAT_CONFIG < environment variables SKILLMEAT_<KEY> (nested keys joined by \"__\",
# e.g. SKILLMEAT_CACHE__TTL_SECS). A bad value or an unknown key stops start-up with exit
# status 2. This file is generated from the server's key definitions (src/config/keys.rs).

";
