//! Keys and browser sessions through real HTTP: server-side sessions that expire, slide,
//! survive nothing they should not (sign-out, a changed key) and are shared by instances on
//! one PostgreSQL; rate-limited sign-in; read-only keys; the key length rule and `gen-key`.

use sea_orm::{ConnectionTrait, Database};

use crate::helpers::{Backend, PgDatabase};
use crate::live::{LiveServer, backends, client};
use crate::security::{KEY, READ_ONLY_KEY};

/// Signs in with `key`; returns the response's status and its `Set-Cookie` values.
async fn sign_in(server: &LiveServer, key: &str) -> (u16, Vec<String>, reqwest::header::HeaderMap) {
    let r = client()
        .post(server.url("/login"))
        .form(&[("key", key), ("next", "/jobs")])
        .send()
        .await
        .unwrap();
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (r.status().as_u16(), cookies, r.headers().clone())
}

/// The `name=value` pair of a session cookie.
async fn session(server: &LiveServer, key: &str) -> String {
    let (status, cookies, _) = sign_in(server, key).await;
    assert_eq!(status, 303, "{cookies:?}");
    cookies
        .iter()
        .find(|c| c.contains("skillmeat_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// The page at `path` as the browser holding `cookie` gets it.
async fn page_with_cookie(server: &LiveServer, cookie: &str, path: &str) -> String {
    client()
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The rows `sql` selects from `db`.
async fn rows(db: &sea_orm::DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
}

async fn status_with_cookie(server: &LiveServer, cookie: &str, path: &str) -> u16 {
    client()
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn sign_out(server: &LiveServer, cookie: &str) -> reqwest::Response {
    client()
        .post(server.url("/logout"))
        .header("cookie", cookie)
        .header("origin", server.base.clone())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_session_is_random_server_side_and_ends_at_sign_out() {
    for backend in backends() {
        let server = LiveServer::on(backend, |s| s.auth.api_key = KEY.into()).await;
        let (status, cookies, headers) = sign_in(&server, KEY).await;
        assert_eq!(status, 303);
        assert_eq!(headers["location"], "/jobs");
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        let set = &cookies[0];
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=604800"] {
            assert!(set.contains(attribute), "{set}");
        }
        assert!(!set.contains("Secure"), "plain HTTP: {set}");
        let cookie = set.split(';').next().unwrap().to_string();
        let id = cookie.strip_prefix("skillmeat_session=").unwrap();
        assert_eq!(id.len(), 64, "256 bits in hex: {id}");
        assert!(!set.contains(KEY));
        // Each sign-in is a new session; the database keeps only a digest of the id.
        let other = session(&server, KEY).await;
        assert_ne!(other, cookie);
        let db = Database::connect(&server.database_url).await.unwrap();
        let sessions = rows(&db, "SELECT id, key_fingerprint FROM sessions").await;
        assert_eq!(sessions.len(), 2);
        for row in &sessions {
            let stored: String = row.try_get("", "id").unwrap();
            let fingerprint: String = row.try_get("", "key_fingerprint").unwrap();
            assert_ne!(stored, id);
            assert!(!fingerprint.contains(KEY));
        }
        // The cookie opens pages, fragments and the API; forged ones open nothing.
        for path in [
            "/",
            "/jobs",
            "/ui/app.js",
            "/api/v1/cache/status",
            "/ui/jobs/runs",
        ] {
            assert_eq!(
                status_with_cookie(&server, &cookie, path).await,
                200,
                "{path}"
            );
        }
        let forged = format!("skillmeat_session={}", "0".repeat(64));
        assert_eq!(
            status_with_cookie(&server, &forged, "/api/v1/cache/status").await,
            401
        );
        // The page offers "Sign out" to a signed-in browser.
        let page = page_with_cookie(&server, &cookie, "/jobs").await;
        assert!(page.contains("id=\"sign-out\""), "{page}");
        // Signing out ends the session on the server: the old cookie no longer works.
        let out = sign_out(&server, &cookie).await;
        assert_eq!(out.status(), 303);
        let cleared = out.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        assert_eq!(
            status_with_cookie(&server, &cookie, "/api/v1/cache/status").await,
            401
        );
        let page = client()
            .get(server.url("/jobs"))
            .header("cookie", &cookie)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 303);
        assert_eq!(page.headers()["location"], "/login?next=%2Fjobs");
        // The other browser's session is untouched.
        assert_eq!(
            status_with_cookie(&server, &other, "/api/v1/cache/status").await,
            200
        );
        db.close().await.unwrap();
    }
}

#[tokio::test]
async fn sessions_expire_slide_on_use_and_end_when_the_key_changes() {
    for backend in backends() {
        let pg = match backend {
            Backend::Postgres => Some(std::sync::Arc::new(PgDatabase::create().await)),
            Backend::Sqlite => None,
        };
        let dir = tempfile::tempdir().unwrap();
        let sqlite_url = format!("sqlite://{}", dir.path().join("shared.db").display());
        let url = pg.as_ref().map(|p| p.url.clone()).unwrap_or(sqlite_url);
        let start = |key: &'static str| {
            let url = url.clone();
            async move {
                LiveServer::start_configured(
                    |home| {
                        crate::helpers::copy_tree(
                            &crate::helpers::fixture_dir().join("home/.skillmeat"),
                            home,
                        )
                    },
                    move |s| {
                        s.database.url = url;
                        s.auth.api_key = key.into();
                    },
                )
                .await
            }
        };
        let server = start(KEY).await;
        let cookie = session(&server, KEY).await;
        let db = Database::connect(&url).await.unwrap();
        let exec = |sql: String| {
            let db = &db;
            async move {
                db.execute_unprepared(&sql).await.unwrap();
            }
        };
        // Used after a while: the expiry moves forward.
        let past = (chrono::Utc::now() - chrono::TimeDelta::minutes(5)).to_rfc3339();
        let soon = (chrono::Utc::now() + chrono::TimeDelta::minutes(1)).to_rfc3339();
        exec(format!(
            "UPDATE sessions SET last_used_at = '{past}', expires_at = '{soon}'"
        ))
        .await;
        assert_eq!(
            status_with_cookie(&server, &cookie, "/api/v1/cache/status").await,
            200
        );
        let row = rows(&db, "SELECT expires_at FROM sessions").await.remove(0);
        let expires: chrono::DateTime<chrono::Utc> = row.try_get("", "expires_at").unwrap();
        assert!(
            expires > chrono::Utc::now() + chrono::TimeDelta::days(6),
            "slid to a week from now: {expires}"
        );
        // Expired: refused and removed.
        exec(format!("UPDATE sessions SET expires_at = '{past}'")).await;
        assert_eq!(
            status_with_cookie(&server, &cookie, "/api/v1/cache/status").await,
            401
        );
        drop(server);
        // A new key: sessions of the old one no longer open anything.
        let old_key_server = start(KEY).await;
        let cookie = session(&old_key_server, KEY).await;
        drop(old_key_server);
        let new_key = "a-brand-new-key-for-tests-0123456789abcdef";
        let server = start(new_key).await;
        assert_eq!(
            status_with_cookie(&server, &cookie, "/api/v1/cache/status").await,
            401
        );
        let left = rows(&db, "SELECT id FROM sessions").await;
        assert!(
            left.is_empty(),
            "the old key's sessions are deleted at start-up"
        );
        db.close().await.unwrap();
    }
}

#[tokio::test]
async fn instances_on_one_postgresql_share_sessions_and_sign_outs() {
    if !crate::helpers::postgres_available("instances share sessions") {
        return;
    }
    let pg = std::sync::Arc::new(PgDatabase::create().await);
    let a = LiveServer::sharing(&pg, |s| s.auth.api_key = KEY.into()).await;
    let b = LiveServer::sharing(&pg, |s| s.auth.api_key = KEY.into()).await;
    let cookie = session(&a, KEY).await;
    assert_eq!(
        status_with_cookie(&b, &cookie, "/api/v1/cache/status").await,
        200
    );
    assert_eq!(sign_out(&b, &cookie).await.status(), 303);
    assert_eq!(
        status_with_cookie(&a, &cookie, "/api/v1/cache/status").await,
        401
    );
}

#[tokio::test]
async fn with_an_https_public_url_the_cookie_is_secure_and_host_prefixed() {
    let server = LiveServer::on(Backend::Sqlite, |s| {
        s.auth.api_key = KEY.into();
        s.server.public_url = "https://skillmeat.example.com".into();
    })
    .await;
    let (status, cookies, _) = sign_in(&server, KEY).await;
    assert_eq!(status, 303);
    let set = &cookies[0];
    assert!(set.starts_with("__Host-skillmeat_session="), "{set}");
    assert!(set.contains("; Secure") && set.contains("Path=/"), "{set}");
    assert!(!set.contains("Domain"), "{set}");
    let cookie = set.split(';').next().unwrap();
    assert_eq!(
        status_with_cookie(&server, cookie, "/api/v1/cache/status").await,
        200
    );
    // The public URL's host is one of the server's names, and its origin may write.
    let r = client()
        .post(server.url("/api/v1/cache/purge"))
        .header("host", "skillmeat.example.com")
        .header("origin", "https://skillmeat.example.com")
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_address() {
    let server = LiveServer::on(Backend::Sqlite, |s| s.auth.api_key = KEY.into()).await;
    for i in 0..10 {
        let (status, cookies, _) = sign_in(&server, "not-the-key-0123456789abcdef-0123456").await;
        assert_eq!(status, 401, "attempt {i}");
        assert!(cookies.is_empty());
    }
    let (status, _, headers) = sign_in(&server, "not-the-key-0123456789abcdef-0123456").await;
    assert_eq!(status, 429);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // While limited, even the right key is refused: the limit would be no use otherwise.
    let (status, cookies, headers) = sign_in(&server, KEY).await;
    assert_eq!(status, 429);
    assert!(cookies.is_empty());
    assert!(headers.contains_key("retry-after"));
    // The API key in a header is not a sign-in and still works.
    let r = client()
        .get(server.url("/api/v1/cache/status"))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_read_only_key_reads_but_never_writes() {
    for backend in backends() {
        let server = LiveServer::on(backend, |s| {
            s.auth.api_key = KEY.into();
            s.auth.read_only_keys = vec![READ_ONLY_KEY.into()];
        })
        .await;
        let c = client();
        let get = c
            .get(server.url("/api/v1/artifacts"))
            .header("x-api-key", READ_ONLY_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 200);
        for (method, path) in [
            (reqwest::Method::POST, "/api/v1/cache/clear"),
            (reqwest::Method::POST, "/api/v1/user-collections"),
            (reqwest::Method::DELETE, "/api/v1/user-collections/default"),
        ] {
            let r = c
                .request(method, server.url(path))
                .header("authorization", format!("Bearer {READ_ONLY_KEY}"))
                .json(&serde_json::json!({"name": "x"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{path}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["code"], "read_only_key");
        }
        // Its browser session reads, is refused writes, and its pages hide write controls.
        let cookie = session(&server, READ_ONLY_KEY).await;
        assert_eq!(
            status_with_cookie(&server, &cookie, "/api/v1/cache/status").await,
            200
        );
        let write = c
            .post(server.url("/api/v1/cache/refresh"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(write.status(), 403);
        let page = page_with_cookie(&server, &cookie, "/").await;
        assert!(page.contains("<body class=\"read-only\""), "{page}");
        assert!(page.contains("Read-only"));
        // It can still sign out.
        assert_eq!(sign_out(&server, &cookie).await.status(), 303);
        assert_eq!(
            status_with_cookie(&server, &cookie, "/api/v1/cache/status").await,
            401
        );
        // The full key's session writes, and its pages are not marked.
        let full = session(&server, KEY).await;
        let page = page_with_cookie(&server, &full, "/").await;
        assert!(!page.contains("read-only"));
    }
}

#[test]
// figment::Error is what Jail closures return; its size is not ours to change.
#[allow(clippy::result_large_err)]
fn a_short_key_stops_start_up_with_a_hint_and_gen_key_makes_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
            .current_dir(dir.path())
            .env("SKILLMEAT_DATA_HOME", dir.path())
            .env("SKILLMEAT_LISTEN", "127.0.0.1:0")
            .envs(envs.iter().copied())
            .args(args)
            .output()
            .unwrap()
    };
    for envs in [
        vec![("SKILLMEAT_AUTH__API_KEY", "short-key")],
        vec![
            ("SKILLMEAT_AUTH__API_KEY", KEY),
            ("SKILLMEAT_AUTH__READ_ONLY_KEYS", "[\"tiny\"]"),
        ],
    ] {
        let out = run(&envs, &[]);
        assert_eq!(out.status.code(), Some(2), "{envs:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("at least 32") && err.contains("gen-key"),
            "{err}"
        );
        assert!(!err.contains("short-key") && !err.contains("tiny"), "{err}");
    }
    let first = run(&[], &["gen-key"]);
    assert!(first.status.success());
    let key = String::from_utf8(first.stdout).unwrap().trim().to_string();
    assert_eq!(key.len(), 64, "{key}");
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
    let second = String::from_utf8(run(&[], &["gen-key"]).stdout).unwrap();
    assert_ne!(key, second.trim());
    // gen-key needs no valid configuration: it is how one gets a key in the first place.
    let out = run(&[("SKILLMEAT_AUTH__API_KEY", "short")], &["gen-key"]);
    assert!(out.status.success());
    // The made key is accepted.
    figment::Jail::expect_with(|jail| {
        jail.set_env("SKILLMEAT_AUTH__API_KEY", &key);
        let default = jail.directory().join("default.toml");
        let settings = skillmeat_server::config::Settings::from_figment(
            skillmeat_server::config::Settings::figment(&default, None),
        );
        assert!(settings.is_ok());
        Ok(())
    });
}
