//! `LiveServer`: the real server (`Application`, the same builder as the binary) on a free
//! port over a copy of the fixture, for tests that need real HTTP: browsers, headers, cookies,
//! client addresses. SQLite by default; PostgreSQL where a test asks for it.

use std::path::{Path, PathBuf};

use serde_json::Value;
use skillmeat_server::config::Settings;
use skillmeat_server::startup::Application;

use crate::helpers::{Backend, PgDatabase, copy_tree, finished, fixture_dir, poll, test_settings};

/// A running server; stopped when dropped.
pub struct LiveServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Its port.
    pub port: u16,
    /// `<tmp>/home/.skillmeat`.
    pub data_home: PathBuf,
    /// Its database.
    pub database_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _pg: Option<std::sync::Arc<PgDatabase>>,
    _dir: tempfile::TempDir,
}

impl LiveServer {
    /// Over a copy of the fixture, on SQLite.
    pub async fn start() -> LiveServer {
        LiveServer::start_with(|data_home| {
            copy_tree(&fixture_dir().join("home/.skillmeat"), data_home)
        })
        .await
    }

    /// A server over a data home that `populate` fills.
    pub async fn start_with(populate: impl FnOnce(&Path)) -> LiveServer {
        LiveServer::start_configured(populate, |_| {}).await
    }

    /// The same, with settings that `adjust` changes.
    pub async fn start_configured(
        populate: impl FnOnce(&Path),
        adjust: impl FnOnce(&mut Settings),
    ) -> LiveServer {
        let dir = tempfile::tempdir().unwrap();
        let data_home = dir.path().join("home/.skillmeat");
        populate(&data_home);
        let url = format!(
            "sqlite://{}",
            dir.path().join("db/artifact_cache.db").display()
        );
        LiveServer::launch(dir, data_home, url, None, adjust).await
    }

    /// Over a copy of the fixture on `backend` (a new PostgreSQL database for this server).
    pub async fn on(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> LiveServer {
        match backend {
            Backend::Sqlite => {
                LiveServer::start_configured(
                    |home| copy_tree(&fixture_dir().join("home/.skillmeat"), home),
                    adjust,
                )
                .await
            }
            Backend::Postgres => {
                let pg = std::sync::Arc::new(PgDatabase::create().await);
                LiveServer::sharing(&pg, adjust).await
            }
        }
    }

    /// A server over the PostgreSQL database `pg` (several may share one, as instances do).
    pub async fn sharing(
        pg: &std::sync::Arc<PgDatabase>,
        adjust: impl FnOnce(&mut Settings),
    ) -> LiveServer {
        let dir = tempfile::tempdir().unwrap();
        let data_home = dir.path().join("home/.skillmeat");
        copy_tree(&fixture_dir().join("home/.skillmeat"), &data_home);
        LiveServer::launch(dir, data_home, pg.url.clone(), Some(pg.clone()), adjust).await
    }

    async fn launch(
        dir: tempfile::TempDir,
        data_home: PathBuf,
        url: String,
        pg: Option<std::sync::Arc<PgDatabase>>,
        adjust: impl FnOnce(&mut Settings),
    ) -> LiveServer {
        let mut settings = test_settings(&data_home, url.clone());
        settings.watch.enabled = false;
        adjust(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("build the server");
        let port = app.local_addr().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        LiveServer {
            base: format!("http://127.0.0.1:{port}"),
            port,
            data_home,
            database_url: url,
            stop: Some(stop),
            _pg: pg,
            _dir: dir,
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path` and parse JSON.
    pub async fn api(&self, path: &str) -> Value {
        reqwest::get(self.url(path))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POST `body` to `path` (a success expected) and parse the JSON answer.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let r = reqwest::Client::new()
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// Waits (60 s at most) until the start-up warm has finished.
    pub async fn wait_for_warm(&self) {
        poll(
            "the start-up warm",
            std::time::Duration::from_secs(60),
            || async {
                let runs = self.api("/api/v1/jobs?kind=warm").await;
                finished(&runs["items"][0]).ok_or(runs.to_string())
            },
        )
        .await;
    }

    /// Waits (60 s at most) until job `id` finished; returns it.
    pub async fn wait_job(&self, id: i64) -> Value {
        poll(
            &format!("job {id}"),
            std::time::Duration::from_secs(60),
            || async {
                let job = self.api(&format!("/api/v1/jobs/{id}")).await;
                finished(&job).ok_or(job.to_string())
            },
        )
        .await
    }

    /// A folder inside this server's temp dir (inside the allowed project roots).
    pub fn folder(&self, name: &str) -> PathBuf {
        let path = self._dir.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        path.canonicalize().unwrap()
    }
}

/// An HTTP client that never follows redirects (tests read them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// SQLite, plus PostgreSQL when `SKILLMEAT_TEST_DATABASE_URL` is set.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if crate::helpers::pg_base_url().is_some() {
        all.push(Backend::Postgres);
    }
    all
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
