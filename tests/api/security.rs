//! Safe by default (docs/security.md): the host check, the cross-site write guard, the security
//! headers, project roots, server-side sessions, sign-in limits, key rules and read-only keys,
//! each through real HTTP against the real server.

use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::ServerProcess;
use crate::live::{LiveServer, backends, client};

/// The key the tests configure (32 characters or more, as the server requires).
pub const KEY: &str = "s3cret-key-for-tests-0123456789abcdef";
/// A read-only key.
pub const READ_ONLY_KEY: &str = "read-only-key-for-tests-0123456789abcd";

/// A reply read into status, headers and JSON.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

async fn read(resp: reqwest::Response) -> Answer {
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

impl Answer {
    fn error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    read(req.send().await.unwrap()).await
}

// ----- host check -------------------------------------------------------------------------

#[tokio::test]
async fn a_request_naming_another_host_is_refused_before_routing() {
    let server = LiveServer::start().await;
    let c = client();
    for path in [
        "/api/v1/artifacts",
        "/health",
        "/",
        "/no/such/route",
        "/docs",
    ] {
        let r = send(c.get(server.url(path)).header("host", "evil.example:8080")).await;
        r.error(StatusCode::FORBIDDEN, "host_not_allowed");
        assert!(r.text.contains("server.allowed_hosts"), "{}", r.text);
    }
    // A rebinding page's write is refused the same way.
    let r = send(
        c.post(server.url("/api/v1/cache/clear"))
            .header("host", "evil.example")
            .header("content-type", "text/plain"),
    )
    .await;
    r.error(StatusCode::FORBIDDEN, "host_not_allowed");
    // The server's own names pass, with any port.
    for host in [
        format!("localhost:{}", server.port),
        format!("127.0.0.1:{}", server.port),
        "[::1]:8080".to_string(),
        "LOCALHOST".to_string(),
    ] {
        let r = send(c.get(server.url("/api/v1/artifacts")).header("host", &host)).await;
        assert_eq!(r.status, StatusCode::OK, "{host}: {}", r.text);
    }
    for host in ["localhost.evil.example", "127.0.0.1.nip.io", "[::2]"] {
        let r = send(c.get(server.url("/health")).header("host", host)).await;
        r.error(StatusCode::FORBIDDEN, "host_not_allowed");
    }
}

#[tokio::test]
async fn allowed_hosts_adds_names_with_or_without_a_port() {
    let server = LiveServer::start_configured(
        |home| {
            crate::helpers::copy_tree(&crate::helpers::fixture_dir().join("home/.skillmeat"), home)
        },
        |s| {
            s.server.allowed_hosts = vec!["skillmeat.test".into(), "team.test:9000".into()];
        },
    )
    .await;
    let c = client();
    let status = |host: &'static str| {
        let req = c.get(server.url("/health")).header("host", host);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("skillmeat.test").await, 200);
    assert_eq!(status("SkillMeat.Test:1234").await, 200);
    assert_eq!(status("team.test:9000").await, 200);
    assert_eq!(status("team.test:9001").await, 403);
    assert_eq!(status("skillmeat.test.evil.example").await, 403);
    assert_eq!(status("localhost:1").await, 200);
}

// ----- cross-site writes ------------------------------------------------------------------

#[tokio::test]
async fn writes_from_another_site_are_refused_and_change_nothing() {
    let server = LiveServer::start_configured(
        |home| {
            crate::helpers::copy_tree(&crate::helpers::fixture_dir().join("home/.skillmeat"), home)
        },
        |s| s.server.cors_origins = vec!["https://app.example.com".into()],
    )
    .await;
    let c = client();
    // The cache is full once the start-up warm is done, so a clear would show.
    server.wait_for_warm().await;
    let entries = || async {
        (
            server.api("/api/v1/cache/status").await["entries"].clone(),
            server.api("/api/v1/user-collections").await["page_info"]["total_count"].clone(),
        )
    };
    let before = entries().await;
    assert_ne!(before.0, 0);
    let own = server.base.clone();
    let refused: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "text/plain from another origin",
            vec![("origin", "https://evil.example".into())],
        ),
        ("cross-site", vec![("sec-fetch-site", "cross-site".into())]),
        ("same-site", vec![("sec-fetch-site", "same-site".into())]),
        ("null origin", vec![("origin", "null".into())]),
        (
            "own origin but cross-site",
            vec![
                ("origin", own.clone()),
                ("sec-fetch-site", "cross-site".into()),
            ],
        ),
        (
            "another port",
            vec![("origin", "http://127.0.0.1:1".into())],
        ),
    ];
    for (what, headers) in &refused {
        for (method, path) in [
            (reqwest::Method::POST, "/api/v1/cache/clear"),
            (reqwest::Method::POST, "/api/v1/cache/purge"),
            (reqwest::Method::POST, "/api/v1/user-collections"),
            (reqwest::Method::DELETE, "/api/v1/user-collections/default"),
            (reqwest::Method::PUT, "/api/v1/user-collections/default"),
            (reqwest::Method::PATCH, "/api/v1/groups/x"),
            (reqwest::Method::POST, "/login"),
            (reqwest::Method::POST, "/logout"),
        ] {
            let mut req = c
                .request(method.clone(), server.url(path))
                .header("content-type", "text/plain");
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            send(req)
                .await
                .error(StatusCode::FORBIDDEN, "cross_site_request");
        }
        assert_eq!(entries().await, before, "{what}: nothing was cleared");
    }
    // A link followed from another site is a read, and is answered.
    let r = send(
        c.get(server.url("/jobs"))
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "navigate"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // Our own pages, a configured origin, and clients that send neither header may write.
    let allowed: Vec<Vec<(&str, String)>> = vec![
        vec![
            ("origin", own.clone()),
            ("sec-fetch-site", "same-origin".into()),
        ],
        // A form posted from a page sent with `Referrer-Policy: no-referrer`.
        vec![
            ("origin", "null".into()),
            ("sec-fetch-site", "same-origin".into()),
        ],
        vec![("origin", own.clone())],
        vec![("sec-fetch-site", "none".into())],
        vec![
            ("origin", "https://app.example.com".into()),
            ("sec-fetch-site", "cross-site".into()),
        ],
        vec![],
    ];
    for headers in allowed {
        let mut req = c.post(server.url("/api/v1/cache/purge"));
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        let r = send(req).await;
        assert!(r.status.is_success(), "{headers:?}: {}", r.text);
    }
}

#[tokio::test]
async fn the_skillmeat_cli_style_of_request_still_works() {
    // httpx as SkillMeat's CLI sends it: Host localhost:<port>, JSON, no Origin, no Sec-Fetch-*.
    let server = LiveServer::start().await;
    let c = client();
    let host = format!("localhost:{}", server.port);
    let created = send(
        c.post(server.url("/api/v1/user-collections"))
            .header("host", &host)
            .header("user-agent", "python-httpx/0.28.1")
            .json(&json!({"name": "cli-made"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    let group = send(
        c.post(server.url("/api/v1/groups"))
            .header("host", &host)
            .json(&json!({"collection_id": id, "name": "g"})),
    )
    .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.text);
    let gone = send(
        c.delete(server.url(&format!("/api/v1/user-collections/{id}")))
            .header("host", &host),
    )
    .await;
    assert!(gone.status.is_success(), "{}", gone.text);
}

// ----- security headers -------------------------------------------------------------------

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = LiveServer::start().await;
    let c = client();
    for (path, host) in [
        ("/", None),
        ("/jobs", None),
        ("/api/v1/artifacts", None),
        ("/no/such/route", None),
        ("/ui/app.js", None),
        ("/openapi.json", None),
        ("/docs", None),
        ("/docs/swagger-ui-bundle.js", None),
        ("/health", Some("evil.example")),
    ] {
        let mut req = c.get(server.url(path));
        if let Some(h) = host {
            req = req.header("host", h);
        }
        let r = send(req).await;
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(r.header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(r.header("x-frame-options"), "DENY", "{path}");
        let csp = r.header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
    }
    // Swagger UI's page runs no inline script: its bundle and start-up script are files.
    let docs = send(c.get(server.url("/docs"))).await.text;
    assert!(docs.contains("/docs/swagger-ui-bundle.js") && docs.contains("/docs/init.js"));
    assert!(!docs.contains("<script>"), "{docs}");
    let init = send(c.get(server.url("/docs/init.js"))).await;
    assert!(init.text.contains("/openapi.json"));
    assert!(init.header("content-type").starts_with("text/javascript"));
}

// ----- project roots ----------------------------------------------------------------------

async fn register(c: &reqwest::Client, server: &LiveServer, path: &str) -> Answer {
    send(
        c.post(server.url("/api/v1/projects"))
            .json(&json!({"path": path})),
    )
    .await
}

#[tokio::test]
async fn projects_must_lie_strictly_inside_the_allowed_roots() {
    for backend in backends() {
        let server = LiveServer::on(backend, |_| {}).await;
        let c = client();
        let root = crate::helpers::temp_root();
        let home = home::home_dir().unwrap();
        for path in [
            "/".to_string(),
            "/etc".to_string(),
            "/etc/ssh".to_string(),
            "/usr/lib".to_string(),
            root.display().to_string(),
            "/definitely/not/there".to_string(),
            "/etc/not-there-either".to_string(),
        ] {
            let r = register(&c, &server, &path).await;
            r.error(StatusCode::FORBIDDEN, "project_outside_roots");
        }
        // The home folder is outside unless a root contains it; its own root never counts.
        if !home.starts_with(&root) {
            register(&c, &server, &home.display().to_string())
                .await
                .error(StatusCode::FORBIDDEN, "project_outside_roots");
        }
        // Outside answers the same whether the path exists or not.
        let a = register(&c, &server, "/etc").await;
        let b = register(&c, &server, "/etc-nope").await;
        assert_eq!(
            a.body["detail"].as_str().unwrap().replace("/etc", "X"),
            b.body["detail"].as_str().unwrap().replace("/etc-nope", "X")
        );
        // A link inside a root that points outside is outside.
        let inside = server.folder("projects");
        let link = inside.join("sneaky");
        std::os::unix::fs::symlink("/etc", &link).unwrap();
        register(&c, &server, &link.display().to_string())
            .await
            .error(StatusCode::FORBIDDEN, "project_outside_roots");
        // Inside: a missing folder is a plain bad request; a real one registers.
        register(&c, &server, &inside.join("missing").display().to_string())
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        let ok = register(
            &c,
            &server,
            &server.folder("projects/real").display().to_string(),
        )
        .await;
        assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
        // A deploy into a path outside writes nothing and registers nothing.
        let r = send(c.post(server.url("/api/v1/deployments")).json(&json!({
            "artifact_id": "skill:nested-tree",
            "project_path": "/etc",
            "overwrite": true
        })))
        .await;
        r.error(StatusCode::FORBIDDEN, "project_outside_roots");
        assert!(!std::path::Path::new("/etc/.claude/skills/nested-tree").exists());
        let projects = server.api("/api/v1/projects").await;
        assert_eq!(projects["page_info"]["total_count"], 1, "{projects}");
    }
}

#[tokio::test]
async fn a_stored_project_outside_the_roots_is_never_touched() {
    use sea_orm::{ActiveModelTrait, Set};
    for backend in backends() {
        let server = LiveServer::on(backend, |_| {}).await;
        let c = client();
        // A row an older version stored for a folder now outside the roots.
        let db = sea_orm::Database::connect(&server.database_url)
            .await
            .unwrap();
        entity::projects::ActiveModel {
            id: Set("0123456789abcdef0123456789abcdef".into()),
            path: Set("/etc".into()),
            name: Set("etc".into()),
            registered: Set(true),
            created_at: Set(chrono::Utc::now()),
            last_scanned_at: Set(None),
        }
        .insert(&db)
        .await
        .unwrap();
        db.close().await.unwrap();
        let r = send(c.post(server.url("/api/v1/deployments")).json(&json!({
            "artifact_id": "skill:nested-tree",
            "project_id": "0123456789abcdef0123456789abcdef",
            "overwrite": true
        })))
        .await;
        r.error(StatusCode::FORBIDDEN, "project_outside_roots");
        assert!(!std::path::Path::new("/etc/.claude").exists());
        // The refresh does not read it either.
        let job = send(c.post(server.url("/api/v1/cache/refresh")).json(&json!({}))).await;
        assert_eq!(job.status, StatusCode::ACCEPTED, "{}", job.text);
        let run = server
            .wait_job(job.body["job"]["id"].as_i64().unwrap())
            .await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let project = server
            .api("/api/v1/projects/0123456789abcdef0123456789abcdef")
            .await;
        assert!(project["last_scanned_at"].is_null(), "{project}");
    }
}

#[test]
fn search_roots_outside_the_allowed_roots_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
        .current_dir(dir.path())
        .env("SKILLMEAT_DATA_HOME", dir.path())
        .env("SKILLMEAT_DEPLOY__ALLOWED_ROOTS", "[\"~/projects\"]")
        .env("SKILLMEAT_DEPLOY__SEARCH_ROOTS", "[\"/srv\"]")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("deploy.search_roots") && err.contains("/srv"),
        "{err}"
    );
}

/// The binary over a copy of the fixture, with `env`.
async fn start_binary(dir: &std::path::Path, env: &[(&str, &str)]) -> ServerProcess {
    let home = dir.join(".skillmeat");
    crate::helpers::copy_tree(
        &crate::helpers::fixture_dir().join("home/.skillmeat"),
        &home,
    );
    let mut all = vec![
        (
            "SKILLMEAT_DATA_HOME".to_string(),
            home.display().to_string(),
        ),
        ("SKILLMEAT_WATCH__ENABLED".to_string(), "false".to_string()),
    ];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ServerProcess::start(&all).await
}

#[tokio::test]
async fn a_non_loopback_listen_without_allowed_hosts_answers_any_host_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_binary(
        dir.path(),
        &[
            ("SKILLMEAT_LISTEN", "0.0.0.0:0"),
            ("SKILLMEAT_AUTH__API_KEY", KEY),
        ],
    )
    .await;
    let port = server.port;
    let c = client();
    let url = format!("http://127.0.0.1:{port}/api/v1/cache/status");
    let keyed = c
        .get(&url)
        .header("host", "skillmeat.team.example:8443")
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), 200);
    let anonymous = c
        .get(&url)
        .header("host", "skillmeat.team.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous.status(),
        401,
        "the key guards a non-loopback server"
    );
    let text = server.log_text();
    assert!(
        text.contains("WARN") && text.contains("server.allowed_hosts"),
        "{text}"
    );
    drop(server);

    // With names listed, only they (and the loopback names) are answered.
    let dir = tempfile::tempdir().unwrap();
    let server = start_binary(
        dir.path(),
        &[
            ("SKILLMEAT_LISTEN", "0.0.0.0:0"),
            ("SKILLMEAT_AUTH__API_KEY", KEY),
            (
                "SKILLMEAT_SERVER__ALLOWED_HOSTS",
                "[\"skillmeat.team.example\"]",
            ),
        ],
    )
    .await;
    let port = server.port;
    let url = format!("http://127.0.0.1:{port}/api/v1/cache/status");
    for (host, status) in [
        ("skillmeat.team.example", 200),
        ("localhost", 200),
        ("evil.example", 403),
    ] {
        let r = c
            .get(&url)
            .header("host", host)
            .header("x-api-key", KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{host}");
    }
    let text = server.log_text();
    assert!(!text.contains("server.allowed_hosts"), "no warning: {text}");
}
