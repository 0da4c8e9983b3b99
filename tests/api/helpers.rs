//! `TestApp`: the production routes over a fresh database and a fresh copy of the SkillMeat
//! fixture data home, per test. SQLite always; PostgreSQL too when `SKILLMEAT_TEST_DATABASE_URL`
//! is set (a new database per test, dropped afterwards).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderMap, StatusCode};
use poem::test::TestClient;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use skillmeat_server::config::Settings;
use std::sync::Arc;

use skillmeat_server::source::{ArtifactSource, FilesystemSource};
use skillmeat_server::startup::{build_routes, build_state, build_state_with_source};
use skillmeat_server::state::AppState;
use tempfile::TempDir;

/// Calls `check` every 25 ms until it gives a value, for `within` at most; then fails naming
/// `what` and the last thing `check` saw. The one way the tests wait for something.
pub async fn poll<T, F, Fut>(what: &str, within: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    poll_every(Duration::from_millis(25), what, within, check).await
}

/// [`poll`], looking every `every` (for moments that do not last long).
pub async fn poll_every<T, F, Fut>(every: Duration, what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "{what} did not happen within {within:?}; last seen: {seen}"
            ),
        }
        tokio::time::sleep(every).await;
    }
}

/// The fixture written by SkillMeat itself.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/skillmeat-sample")
}

/// The home made by SkillMeat 0.74 itself, with its database (collections and groups).
pub fn fixture_074_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/skillmeat-0.74-home")
}

/// Copies a tree, making every copy writable (the fixture is read-only).
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk fixture");
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

/// Which database a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's temp dir.
    Sqlite,
    /// A fresh database on the PostgreSQL of `SKILLMEAT_TEST_DATABASE_URL`.
    Postgres,
}

/// A running app (in process, no port) with its own data home and database.
pub struct TestApp {
    /// The production route tree.
    pub client: TestClient<BoxEndpoint<'static>>,
    /// The state behind it.
    pub state: AppState,
    /// `<tmp>/home/.skillmeat`, a writable copy of the fixture.
    pub data_home: PathBuf,
    /// The backend.
    pub backend: Backend,
    _pg: Option<PgDatabase>,
    /// Owns every temp file; dropped last.
    _dir: TempDir,
}

/// A test run's SQLite/PG settings over a data home.
pub fn test_settings(data_home: &Path, database_url: String) -> Settings {
    let mut settings = Settings {
        data_home: data_home.display().to_string(),
        listen: "127.0.0.1:0".into(),
        ..Settings::default()
    };
    settings.database.url = database_url;
    // Jobs run only where a test starts them; then quickly and without a schedule.
    settings.cache.refresh_interval_secs = 0;
    settings.jobs.purge_interval_secs = 0;
    settings.jobs.retry_backoff_ms = 20;
    settings.jobs.heartbeat_secs = 1;
    settings.jobs.poll_interval_ms = 50;
    settings.watch.debounce_ms = 100;
    // Test projects live in temp dirs, outside the default root (the home folder), and no
    // test searches the real home's ~/projects.
    settings.deploy.allowed_roots = vec![temp_root().display().to_string()];
    settings.deploy.search_roots = Vec::new();
    // `scripts/js-coverage` has the servers serve an instrumented page script (`ui.script_file`)
    // to measure its coverage; a variable of its own, so no other test's settings see it.
    if let Ok(file) = std::env::var("JS_COVERAGE_SCRIPT") {
        settings.ui.script_file = file;
    }
    settings
}

/// The system's temp folder, resolved through links: the root test projects lie inside.
pub fn temp_root() -> PathBuf {
    std::env::temp_dir()
        .canonicalize()
        .unwrap_or_else(|_| std::env::temp_dir())
}

/// A client of the production routes that sends `Host: localhost`, as every real client does.
pub fn test_client(routes: BoxEndpoint<'static>) -> TestClient<BoxEndpoint<'static>> {
    TestClient::new(routes).default_header("host", "localhost:8080")
}

/// Keeps a test's file watcher running; stops it when dropped.
pub struct WatcherRunning {
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for WatcherRunning {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Keeps a test's job runner running; stops it when dropped.
pub struct JobsRunning {
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for JobsRunning {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl TestApp {
    /// SQLite over a copy of the fixture.
    pub async fn spawn() -> TestApp {
        Self::spawn_on(Backend::Sqlite).await
    }

    /// SQLite, plus PostgreSQL when configured.
    pub async fn all_backends() -> Vec<TestApp> {
        let mut apps = vec![Self::spawn_on(Backend::Sqlite).await];
        if pg_base_url().is_some() {
            apps.push(Self::spawn_on(Backend::Postgres).await);
        }
        apps
    }

    /// One backend over a copy of the fixture.
    pub async fn spawn_on(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// One backend, with a chance to adjust settings.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_full(backend, adjust, |source| source).await
    }

    /// SQLite with the filesystem source wrapped (fault injection).
    pub async fn spawn_with_source(
        wrap: impl FnOnce(Arc<dyn ArtifactSource>) -> Arc<dyn ArtifactSource>,
    ) -> TestApp {
        Self::spawn_full(Backend::Sqlite, |_| {}, wrap).await
    }

    /// One backend over a copy of the SkillMeat 0.74 home: its data home, and its projects in
    /// `<tmp>/home/projects`, which is the one search root (as `~/projects` is by default).
    pub async fn spawn_074(backend: Backend) -> TestApp {
        Self::spawn_074_with(backend, |_| {}).await
    }

    /// [`TestApp::spawn_074`] with a chance to adjust settings.
    pub async fn spawn_074_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_from(
            &fixture_074_dir(),
            backend,
            |settings| {
                let projects = Path::new(&settings.data_home)
                    .parent()
                    .unwrap()
                    .join("projects");
                settings.deploy.search_roots = vec![projects.display().to_string()];
                adjust(settings)
            },
            |source| source,
        )
        .await
    }

    async fn spawn_full(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
        wrap: impl FnOnce(Arc<dyn ArtifactSource>) -> Arc<dyn ArtifactSource>,
    ) -> TestApp {
        Self::spawn_from(&fixture_dir(), backend, adjust, wrap).await
    }

    async fn spawn_from(
        fixture: &Path,
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
        wrap: impl FnOnce(Arc<dyn ArtifactSource>) -> Arc<dyn ArtifactSource>,
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let data_home = dir.path().join("home/.skillmeat");
        copy_tree(&fixture.join("home/.skillmeat"), &data_home);
        if fixture.join("projects").is_dir() && fixture != fixture_dir() {
            copy_tree(&fixture.join("projects"), &dir.path().join("home/projects"));
        }
        let (url, pg) = match backend {
            Backend::Sqlite => (
                format!(
                    "sqlite://{}",
                    dir.path().join("db/artifact_cache.db").display()
                ),
                None,
            ),
            Backend::Postgres => {
                let pg = PgDatabase::create().await;
                (pg.url.clone(), Some(pg))
            }
        };
        let mut settings = test_settings(&data_home, url);
        adjust(&mut settings);
        let source = wrap(Arc::new(FilesystemSource::new(settings.data_home_path())));
        let state = build_state_with_source(settings.clone(), source)
            .await
            .expect("build state");
        let client = test_client(build_routes(state.clone()));
        TestApp {
            client,
            state,
            data_home,
            backend,
            _pg: pg,
            _dir: dir,
        }
    }

    /// Another instance of this app: same settings, same database and data home, its own
    /// state (memory tier, event bus, ...), as a second server process would have.
    pub async fn second_instance(&self) -> TestApp {
        let state = build_state((*self.state.settings).clone())
            .await
            .expect("build state");
        TestApp {
            client: test_client(build_routes(state.clone())),
            state,
            data_home: self.data_home.clone(),
            backend: self.backend,
            _pg: None,
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A second app with a new, empty database over the same data home (a lost database).
    pub async fn spawn_over(other: &TestApp) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}",
            dir.path().join("db/artifact_cache.db").display()
        );
        let settings = test_settings(&other.data_home, url);
        let state = build_state(settings).await.expect("build state");
        let client = test_client(build_routes(state.clone()));
        TestApp {
            client,
            state,
            data_home: other.data_home.clone(),
            backend: Backend::Sqlite,
            _pg: None,
            _dir: dir,
        }
    }

    /// A writable copy of the fixture's demo project, in this app's temp dir.
    pub fn demo_project(&self) -> PathBuf {
        let target = self._dir.path().join("projects/demo-project");
        if !target.exists() {
            copy_tree(&fixture_dir().join("projects/demo-project"), &target);
        }
        target.canonicalize().unwrap()
    }

    /// An empty project folder in this app's temp dir.
    pub fn empty_project(&self, name: &str) -> PathBuf {
        let target = self._dir.path().join("projects").join(name);
        std::fs::create_dir_all(&target).unwrap();
        target.canonicalize().unwrap()
    }

    /// The default collection's folder.
    pub fn collection_dir(&self, name: &str) -> PathBuf {
        self.data_home.join("collections").join(name)
    }

    /// GET and parse JSON.
    pub async fn get(&self, path: &str) -> Reply {
        Reply::from(self.client.get(path).send().await).await
    }

    /// POST an empty body.
    pub async fn post(&self, path: &str) -> Reply {
        Reply::from(self.client.post(path).send().await).await
    }

    /// POST a JSON body.
    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> Reply {
        Reply::from(self.client.post(path).body_json(&body).send().await).await
    }

    /// PUT a JSON body.
    pub async fn put_json(&self, path: &str, body: serde_json::Value) -> Reply {
        Reply::from(self.client.put(path).body_json(&body).send().await).await
    }

    /// Deploys `artifact_id` into the folder `project` (201 expected) and returns the
    /// deployment's id.
    pub async fn deploy_to(&self, artifact_id: &str, project: &Path) -> String {
        let r = self
            .post_json(
                "/api/v1/deployments",
                serde_json::json!({"artifact_id": artifact_id, "project_path": project}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Creates a collection and returns its id.
    pub async fn create_collection(&self, name: &str) -> String {
        let r = self
            .post_json(
                "/api/v1/user-collections",
                serde_json::json!({"name": name}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Creates a group and returns its id.
    pub async fn create_group(&self, collection_id: &str, name: &str) -> String {
        let r = self
            .post_json(
                "/api/v1/groups",
                serde_json::json!({"collection_id": collection_id, "name": name}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Reply {
        Reply::from(self.client.delete(path).send().await).await
    }

    /// Starts the job runner as the server does (workers plus the start-up warm) and returns
    /// once the warm has finished.
    pub async fn start_jobs(&self) -> JobsRunning {
        let running = self.start_jobs_nowait();
        self.wait_for_warm().await;
        running
    }

    /// Starts the job runner without waiting for anything.
    pub fn start_jobs_nowait(&self) -> JobsRunning {
        let (stop, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(self.state.jobs.clone().run(rx));
        JobsRunning { stop }
    }

    /// Waits (60 s at most) until the newest warm has succeeded.
    pub async fn wait_for_warm(&self) {
        let warm = poll("the start-up warm", Duration::from_secs(60), || async {
            let r = self.get("/api/v1/jobs?kind=warm").await;
            finished(&r.body["items"][0]).ok_or(r.text)
        })
        .await;
        assert_eq!(warm["status"], "succeeded", "warm: {warm}");
    }

    /// Starts the file watcher as the server does and returns once it watches.
    pub async fn start_watcher(&self) -> WatcherRunning {
        let (stop, rx) = tokio::sync::watch::channel(false);
        skillmeat_server::startup::start_watcher(&self.state, rx).expect("watch.enabled");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.state.watch_status.describe() != "ok" {
            assert!(
                std::time::Instant::now() < deadline,
                "the watcher did not start: {}",
                self.state.watch_status.describe()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        WatcherRunning { stop }
    }

    /// Polls `GET path` until `done` holds for the reply (30 s at most); returns that reply.
    pub async fn eventually(&self, path: &str, done: impl Fn(&Reply) -> bool) -> Reply {
        poll(path, Duration::from_secs(30), || async {
            let r = self.get(path).await;
            if done(&r) {
                Ok(r)
            } else {
                Err(format!("{} {}", r.status, r.text))
            }
        })
        .await
    }

    /// Waits until job `id` finishes (60 s at most) and returns it.
    pub async fn wait_job(&self, id: i64) -> Value {
        poll(&format!("job {id}"), Duration::from_secs(60), || async {
            let r = self.get(&format!("/api/v1/jobs/{id}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            finished(&r.body).ok_or(r.text)
        })
        .await
    }

    /// Runs the refresh job over everything in this task, as the schedule runs it: the cache,
    /// then the default collection and the deployment statuses.
    pub async fn refresh_everything(&self, force: bool) -> jobs::RunReport {
        use skillmeat_server::jobs::refresh;
        refresh::refresh(
            refresh::RefreshJob {
                scope: skillmeat_server::scope::Scope::All,
                force,
            },
            self.state.job_services(),
        )
        .await
        .expect("the refresh runs")
    }

    /// `POST /api/v1/cache/refresh` with `body`; asserts 202 and returns the job's id.
    pub async fn refresh_now(&self, body: Value) -> i64 {
        let r = self.post_json("/api/v1/cache/refresh", body).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        r.body["job"]["id"].as_i64().unwrap()
    }

    /// The `source_reads` counter.
    pub fn source_reads(&self) -> u64 {
        self.state.cache.metrics().source_reads.get()
    }

    /// Every item of the artifact list, following cursors.
    pub async fn list_all(&self, query: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/artifacts?limit=7&{query}");
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let r = self.get(&path).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
            items.extend(r.body["items"].as_array().unwrap().iter().cloned());
            if !r.body["page_info"]["has_next_page"].as_bool().unwrap() {
                return items;
            }
            after = r.body["page_info"]["end_cursor"].as_str().map(String::from);
        }
    }
}

/// A response, read.
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// Body as text.
    pub text: String,
}

impl Reply {
    async fn from(resp: poem::test::TestResponse) -> Reply {
        let status = resp.0.status();
        let headers = resp.0.headers().clone();
        let text = resp.0.into_body().into_string().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// Asserts the shared error shape and code.
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "body: {}",
            self.text
        );
        assert_eq!(
            self.body.as_object().unwrap().len(),
            2,
            "body: {}",
            self.text
        );
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `SKILLMEAT_TEST_DATABASE_URL`, when set.
pub fn pg_base_url() -> Option<String> {
    std::env::var("SKILLMEAT_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Whether a PostgreSQL-only case can run. Without `SKILLMEAT_TEST_DATABASE_URL` it says so
/// and is skipped, except under CI (`CI=true`), where a missing database fails it.
pub fn postgres_available(what: &str) -> bool {
    if pg_base_url().is_some() {
        return true;
    }
    let message =
        format!("POSTGRESQL CASE SKIPPED ({what}): SKILLMEAT_TEST_DATABASE_URL is not set");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("\n*** {message} ***\n");
    false
}

/// A database created for one test on the test PostgreSQL, dropped when the test ends.
pub struct PgDatabase {
    /// Its URL.
    pub url: String,
    name: String,
    admin_url: String,
}

static PG_COUNTER: AtomicU64 = AtomicU64::new(0);

impl PgDatabase {
    /// Creates an empty database.
    pub async fn create() -> PgDatabase {
        let admin_url = pg_base_url().expect("SKILLMEAT_TEST_DATABASE_URL");
        let name = format!(
            "skillmeat_test_{}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_micros(),
            PG_COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let admin = Database::connect(&admin_url)
            .await
            .expect("connect to test PostgreSQL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b.to_string(), format!("?{q}")),
            None => (admin_url.clone(), String::new()),
        };
        let (server, _) = base.rsplit_once('/').expect("database url has a path");
        PgDatabase {
            url: format!("{server}/{name}{query}"),
            name,
            admin_url,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime; use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

/// Reads the fixture's expected table (`type name hash description`), unescaping descriptions.
pub fn expected_rows(file: &str) -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(fixture_dir().join(file)).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (
                cols[0].to_string(),
                cols[1].to_string(),
                cols[2].to_string(),
                unescape(cols.get(3).copied().unwrap_or("")),
            )
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Waits (60 s at most) until the server writing `log` says where it listens (it binds the
/// port it was given, 0 for one of its own choosing); returns the port.
pub async fn listening_port(log: &Path) -> u16 {
    poll("the server listening", Duration::from_secs(60), || async {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        text.lines()
            .find(|l| l.contains("skillmeat-server listening"))
            .and_then(|l| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix("address="))
            })
            .and_then(|a| a.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok())
            .ok_or(text)
    })
    .await
}

/// A job record that has finished (succeeded or failed), else `None`.
pub fn finished(job: &Value) -> Option<Value> {
    (job["status"] == "succeeded" || job["status"] == "failed" || job["status"] == "cancelled")
        .then(|| job.clone())
}

/// The environment of a server process over `home` with its SQLite database at `db`, no
/// schedule and no watcher (a test drives everything itself).
pub fn quiet_server_env(home: &Path, db: &Path) -> Vec<(String, String)> {
    [
        ("SKILLMEAT_DATA_HOME", home.display().to_string()),
        (
            "SKILLMEAT_DATABASE__URL",
            format!("sqlite://{}", db.display()),
        ),
        ("SKILLMEAT_CACHE__REFRESH_INTERVAL_SECS", "0".into()),
        ("SKILLMEAT_WATCH__ENABLED", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The server binary, started with `env`, killed when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Its port.
    pub port: u16,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    _log_dir: TempDir,
}

impl ServerProcess {
    /// Starts it on a port it picks (or the `SKILLMEAT_LISTEN` in `env`) and waits until it
    /// listens.
    pub async fn start(env: &[(String, String)]) -> ServerProcess {
        let log_dir = tempfile::tempdir().unwrap();
        let log_path = log_dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
            .arg("serve")
            .env("SKILLMEAT_LISTEN", "127.0.0.1:0")
            .env(
                "SKILLMEAT_DEPLOY__ALLOWED_ROOTS",
                format!("[\"{}\"]", temp_root().display()),
            )
            .env("NO_COLOR", "1")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the server binary");
        let port = listening_port(&log_path).await;
        ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            log: log_path,
            _log_dir: log_dir,
        }
    }

    /// GET `path` as JSON.
    pub async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POST `body` to `path`; the status and the JSON answer (null when there is none).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls a job until it finished.
    pub async fn wait_job(&self, id: i64, within: Duration) -> Value {
        poll(&format!("job {id}"), within, || async {
            let job = self.get(&format!("/api/v1/jobs/{id}")).await;
            finished(&job).ok_or(job.to_string())
        })
        .await
    }

    /// What it has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no cleanup.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A data home with `count` generated skills of about `size` bytes each.
pub fn generated_home(root: &Path, count: usize, size: usize) -> PathBuf {
    let home = root.join(".skillmeat");
    let skills = home.join("collections/default/skills");
    let filler = "lorem ipsum dolor sit amet ".repeat(size / 27 + 1);
    for i in 0..count {
        let dir = skills.join(format!("gen-{i:05}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("SKILL.md"),
            format!(
                "---\ndescription: Generated {i}\n---\n{}\n",
                &filler[..size]
            ),
        )
        .unwrap();
    }
    home
}
