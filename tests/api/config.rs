//! Configuration layering and validation (figment::Jail isolates env and files).

// figment::Error is what Jail closures return; its size is not ours to change.
#![allow(clippy::result_large_err)]

use std::path::Path;
use std::process::Command;

use skillmeat_server::config::Settings;

fn load(jail: &figment::Jail, file: Option<&str>) -> Result<Settings, String> {
    let default = jail.directory().join("default.toml");
    Settings::from_figment(Settings::figment(&default, file.map(Path::new)))
        .map_err(|e| e.to_string())
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    figment::Jail::expect_with(|jail| {
        let s = load(jail, None).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.cache.ttl_secs, 300);
        assert!(
            s.database_url()
                .ends_with(".skillmeat/cache/artifact_cache.db")
        );
        Ok(())
    });
}

#[test]
fn layers_default_file_then_config_file_then_env() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "default.toml",
            "listen = \"127.0.0.1:9000\"\n[cache]\nttl_secs = 10\nrefresh_interval_secs = 20\n",
        )?;
        jail.create_file("mine.toml", "[cache]\nttl_secs = 30\n")?;
        jail.set_env("SKILLMEAT_CACHE__REFRESH_INTERVAL_SECS", "0");
        jail.set_env("SKILLMEAT_DATA_HOME", "/srv/skillmeat");
        // SkillMeat's own variables in the same shell are not ours and must not stop start-up.
        jail.set_env("SKILLMEAT_API_KEY_ENABLED", "true");
        let s = load(jail, Some("mine.toml")).unwrap();
        assert_eq!(s.listen, "127.0.0.1:9000");
        assert_eq!(s.cache.ttl_secs, 30);
        assert_eq!(s.cache.refresh_interval_secs, 0);
        assert_eq!(s.data_home, "/srv/skillmeat");
        assert_eq!(
            s.database_url(),
            "sqlite:///srv/skillmeat/cache/artifact_cache.db"
        );
        Ok(())
    });
}

#[test]
fn negative_ttl_is_rejected_naming_the_key() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("SKILLMEAT_CACHE__TTL_SECS", "-5");
        let err = load(jail, None).unwrap_err();
        assert!(err.contains("cache.ttl_secs"), "{err}");
        assert!(err.contains("SKILLMEAT_CACHE__TTL_SECS"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
        Ok(())
    });
}

#[test]
fn unparsable_listen_port_is_rejected() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("SKILLMEAT_LISTEN", "127.0.0.1:99999");
        let err = load(jail, None).unwrap_err();
        assert!(err.contains("listen") && err.contains("host:port"), "{err}");
        Ok(())
    });
}

#[test]
fn git_sources_are_read_from_a_file_or_the_environment_and_checked() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "my.toml",
            "[[sources.git]]\nurl = \"https://example.com/team/skills.git\"\nref = \"main\"\n\n[[sources.git]]\nurl = \"file:///srv/more.git\"\nname = \"more\"\npath = \"library\"\n",
        )?;
        let s = load(jail, Some("my.toml")).unwrap();
        assert_eq!(s.sources.git.len(), 2);
        assert_eq!(s.sources.git[0].git_ref, "main");
        assert_eq!(s.sources.git[1].path, "library");
        jail.set_env("SKILLMEAT_SOURCES__GIT", "[{url=\"ftp://example.com/x\"}]");
        let err = load(jail, None).unwrap_err();
        assert!(
            err.contains("sources.git") && err.contains("ftp://"),
            "{err}"
        );
        jail.set_env(
            "SKILLMEAT_SOURCES__GIT",
            "[{url=\"https://a.example/skills.git\"}, {url=\"https://b.example/skills.git\"}]",
        );
        let err = load(jail, None).unwrap_err();
        assert!(err.contains("collection 'skills'"), "{err}");
        Ok(())
    });
}

#[test]
fn unknown_database_scheme_is_rejected() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("SKILLMEAT_DATABASE__URL", "mysql://root@localhost/db");
        let err = load(jail, None).unwrap_err();
        assert!(
            err.contains("database.url") && err.contains("sqlite://"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn non_loopback_listen_needs_an_api_key() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("SKILLMEAT_LISTEN", "0.0.0.0:8080");
        let err = load(jail, None).unwrap_err();
        assert!(err.contains("auth.api_key"), "{err}");
        jail.set_env(
            "SKILLMEAT_AUTH__API_KEY",
            "s3cret-key-for-tests-0123456789abcdef",
        );
        assert!(load(jail, None).is_ok());
        Ok(())
    });
}

#[test]
fn binary_exits_with_status_2_and_one_line_on_a_bad_value() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
        .current_dir(dir.path())
        .env("SKILLMEAT_CACHE__TTL_SECS", "-1")
        .env("SKILLMEAT_DATA_HOME", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cache.ttl_secs"), "{stderr}");
}

#[test]
fn binary_exits_2_when_the_named_config_file_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
        .current_dir(dir.path())
        .args(["--config", "nope.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}

#[test]
fn binary_prints_its_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn job_settings_layer_and_map_onto_the_runner() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("SKILLMEAT_DATA_HOME", "/srv/skillmeat");
        jail.set_env("SKILLMEAT_JOBS__MAX_ATTEMPTS", "5");
        jail.set_env("SKILLMEAT_JOBS__RETRY_BACKOFF_MS", "250");
        jail.set_env("SKILLMEAT_CACHE__PURGE_AFTER_DAYS", "0");
        jail.set_env("SKILLMEAT_JOBS__PURGE_INTERVAL_SECS", "0");
        let s = load(jail, None).unwrap();
        assert_eq!(s.jobs_url(), "sqlite:///srv/skillmeat/cache/jobs.db");
        let r = s.runner_settings();
        assert_eq!(r.max_attempts, 5);
        assert_eq!(r.retry_backoff, std::time::Duration::from_millis(250));
        assert_eq!(s.refresh_every(), Some(std::time::Duration::from_secs(300)));
        assert_eq!(s.purge_every(), None, "0 turns the purge schedule off");
        let purge = skillmeat_server::jobs::purge::PurgeSettings::from_settings(&s);
        assert_eq!(purge.cache_after, None, "0 days keeps cache entries");
        assert_eq!(
            purge.retention,
            Some(std::time::Duration::from_secs(7 * 86_400))
        );

        jail.set_env("SKILLMEAT_DATABASE__URL", "postgres://u@db/skillmeat");
        let s = load(jail, None).unwrap();
        assert_eq!(
            s.jobs_url(),
            "postgres://u@db/skillmeat",
            "the queue follows PostgreSQL"
        );
        Ok(())
    });
}

#[test]
fn out_of_range_job_settings_are_rejected_naming_the_key() {
    for (var, value, key) in [
        ("SKILLMEAT_JOBS__MAX_ATTEMPTS", "0", "jobs.max_attempts"),
        ("SKILLMEAT_JOBS__MAX_ATTEMPTS", "21", "jobs.max_attempts"),
        ("SKILLMEAT_JOBS__HEARTBEAT_SECS", "0", "jobs.heartbeat_secs"),
        (
            "SKILLMEAT_JOBS__RETENTION_DAYS",
            "100000",
            "jobs.retention_days",
        ),
        (
            "SKILLMEAT_CACHE__TTL_SECS",
            "999999999999",
            "cache.ttl_secs",
        ),
        ("SKILLMEAT_JOBS__URL", "redis://x", "jobs.url"),
        ("SKILLMEAT_WATCH__DEBOUNCE_MS", "0", "watch.debounce_ms"),
        ("SKILLMEAT_WATCH__ENABLED", "maybe", "watch.enabled"),
    ] {
        figment::Jail::expect_with(|jail| {
            jail.set_env(var, value);
            let err = load(jail, None).unwrap_err();
            assert!(err.contains(key), "{var}={value}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
            Ok(())
        });
    }
}

#[test]
fn the_api_key_can_come_from_a_file_and_never_shows_in_a_debug_print() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("key.txt", "from-a-file-for-tests-0123456789abcdef\n")?;
        let file = jail.directory().join("key.txt").display().to_string();
        jail.set_env("SKILLMEAT_AUTH__API_KEY_FILE", &file);
        jail.set_env("SKILLMEAT_LISTEN", "0.0.0.0:8080");
        let settings = load(jail, None).unwrap();
        assert_eq!(
            settings.auth.api_key,
            "from-a-file-for-tests-0123456789abcdef"
        );
        let printed = format!("{settings:?}");
        assert!(
            !printed.contains("from-a-file-for-tests-0123456789abcdef"),
            "{printed}"
        );
        assert!(printed.contains("redacted"), "{printed}");

        // Both at once, an empty file, a missing file: one line naming the key.
        jail.set_env("SKILLMEAT_AUTH__API_KEY", "inline");
        let err = load(jail, None).unwrap_err();
        assert!(err.contains("not both"), "{err}");
        jail.set_env("SKILLMEAT_AUTH__API_KEY", "");
        jail.create_file("empty.txt", "\n")?;
        let empty = jail.directory().join("empty.txt").display().to_string();
        jail.set_env("SKILLMEAT_AUTH__API_KEY_FILE", &empty);
        let err = load(jail, None).unwrap_err();
        assert!(
            err.contains("auth.api_key_file") && err.contains("empty"),
            "{err}"
        );
        jail.set_env("SKILLMEAT_AUTH__API_KEY_FILE", "/no/such/key");
        let err = load(jail, None).unwrap_err();
        assert!(err.contains("cannot read /no/such/key"), "{err}");
        Ok(())
    });
}

#[test]
fn cors_origins_and_the_idle_timeout_are_checked() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("SKILLMEAT_SERVER__CORS_ORIGINS", "[\"app.example.com\"]");
        let err = load(jail, None).unwrap_err();
        assert!(err.contains("server.cors_origins"), "{err}");
        jail.set_env(
            "SKILLMEAT_SERVER__CORS_ORIGINS",
            "[\"https://app.example.com\"]",
        );
        assert_eq!(
            load(jail, None).unwrap().server.cors_origins,
            ["https://app.example.com"]
        );
        jail.set_env("SKILLMEAT_SERVER__IDLE_TIMEOUT_SECS", "0");
        let err = load(jail, None).unwrap_err();
        assert!(err.contains("server.idle_timeout_secs"), "{err}");
        Ok(())
    });
}

#[test]
fn the_default_file_parses_to_exactly_the_built_in_defaults() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
    figment::Jail::expect_with(|_| {
        let loaded = Settings::from_figment(Settings::figment(&file, None)).unwrap();
        assert_eq!(loaded, Settings::default());
        // Every key is in the definitions, with a range check where it is a number.
        for def in skillmeat_server::config::keys::KEYS {
            assert!(!def.doc.is_empty(), "{} has no doc line", def.key);
        }
        Ok(())
    });
}

#[test]
fn a_misspelt_key_in_a_file_stops_start_up_naming_the_closest_key() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("mine.toml", "[cache]\nttl_sec = 30\n")?;
        let err = load(jail, Some("mine.toml")).unwrap_err();
        assert!(err.contains("cache.ttl_sec"), "{err}");
        assert!(err.contains("did you mean cache.ttl_secs"), "{err}");
        jail.create_file("other.toml", "listne = \"127.0.0.1:9\"\n")?;
        let err = load(jail, Some("other.toml")).unwrap_err();
        assert!(err.contains("did you mean listen"), "{err}");
        // A whole unknown section too.
        jail.create_file("third.toml", "[nonsense]\nvalue = 1\n")?;
        assert!(load(jail, Some("third.toml")).is_err());
        Ok(())
    });
    // The binary: exit 2, one line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[server]\nbody_limit = 5\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
        .current_dir(dir.path())
        .args(["--config", "bad.toml"])
        .env("SKILLMEAT_DATA_HOME", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("server.body_limit") && err.contains("server.body_limit_bytes"),
        "{err}"
    );
}

#[test]
fn an_unknown_skillmeat_variable_is_only_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
        .current_dir(dir.path())
        .args(["migrate", "status"])
        .env("SKILLMEAT_DATA_HOME", dir.path())
        .env("SKILLMEAT_CACHE__TTL_SEC", "30")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("SKILLMEAT_CACHE__TTL_SEC") && all.contains("cache.ttl_secs"),
        "{all}"
    );
}

#[test]
fn ranges_come_from_the_key_definitions() {
    figment::Jail::expect_with(|jail| {
        for def in skillmeat_server::config::keys::KEYS {
            let skillmeat_server::config::keys::Rule::Whole { max, .. } = def.rule else {
                continue;
            };
            jail.set_env(def.env(), (max as u128 + 1).to_string());
            let err = load(jail, None).unwrap_err();
            assert!(err.contains(def.key) && err.contains(&def.env()), "{err}");
            jail.set_env(def.env(), def.default);
        }
        Ok(())
    });
}
