//! The real SkillMeat CLI (0.74.0 from PyPI, installed by `scripts/skillmeat-cli` into
//! `target/tools/skillmeat-venv`) and this server, as a real process, on one temp home: what the
//! CLI adds and deploys is served with its hash and `synced`; what the server deploys and groups
//! the CLI reads (`sync-check`, `group list`, `group show`); the CLI's `sync-pull` leaves the
//! cache and the statuses right at once; concurrent deploys by both lose no record.
//!
//! Without the CLI the test is skipped, except under CI, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use skillmeat_server::source::hash::content_hash;

use crate::helpers::{ServerProcess, poll, temp_root};

/// The CLI version the suite pins (also in `scripts/skillmeat-cli`).
pub const CLI_VERSION: &str = "0.74.0";

/// The installed CLI: `SKILLMEAT_CLI`, or the one `scripts/skillmeat-cli` installs.
fn cli() -> Option<PathBuf> {
    let path = std::env::var_os("SKILLMEAT_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/skillmeat-venv/bin/skillmeat")
        });
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "SkillMeat's CLI is not installed at {}: run `bash scripts/skillmeat-cli`",
        path.display()
    );
    eprintln!("skipped: SkillMeat's CLI is not installed (bash scripts/skillmeat-cli)");
    None
}

/// The CLI run with `home` as its home; returns stdout, panicking with both outputs on failure.
struct Cli {
    bin: PathBuf,
    home: PathBuf,
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("HOME", &self.home)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "200")
            .env_remove("SKILLMEAT_API_URL")
            .current_dir(&self.home);
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("run the SkillMeat CLI");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "skillmeat {args:?} failed: {}\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Points the CLI's API calls at `base`.
    fn use_server(&self, base: &str) {
        let config = self.home.join(".skillmeat/config.toml");
        let mut text = std::fs::read_to_string(&config).unwrap_or_default();
        text.push_str(&format!("\n[api]\nbase_url = \"{base}\"\n"));
        std::fs::write(config, text).unwrap();
    }
}

fn skill(dir: &Path, name: &str, description: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(
        path.join("SKILL.md"),
        format!("---\ndescription: {description}\n---\nBody of {name}.\n"),
    )
    .unwrap();
    path
}

fn lock_hash(collection: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(collection.join("collection.lock")).unwrap();
    let lock: toml::Value = toml::from_str(&text).unwrap();
    lock["lock"]["entries"][key]["content_hash"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn deployment_of(server: &ServerProcess, artifact: &str, project: &Path) -> Value {
    let list = server
        .get(&format!(
            "/api/v1/deployments?artifact_id={artifact}&limit=100"
        ))
        .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["project_path"] == project.display().to_string())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no deployment of {artifact} in {}: {list}",
                project.display()
            )
        })
}

#[tokio::test]
async fn the_skillmeat_cli_and_this_server_work_on_one_home() {
    let Some(bin) = cli() else {
        return;
    };
    let tmp = tempfile::tempdir_in(temp_root()).unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let home = root.join("home");
    let projects = root.join("projects");
    let sources = root.join("sources");
    std::fs::create_dir_all(&home).unwrap();
    for p in ["app", "app2", "app3"] {
        std::fs::create_dir_all(projects.join(p)).unwrap();
    }
    let (app, app2, app3) = (
        projects.join("app"),
        projects.join("app2"),
        projects.join("app3"),
    );
    let cli = Cli {
        bin,
        home: home.clone(),
    };
    let data = home.join(".skillmeat");
    let collection = data.join("collections/default");

    let version = cli.run(&["--version"]);
    assert!(
        version.contains(CLI_VERSION),
        "the suite pins {CLI_VERSION}: {version}"
    );
    // The CLI makes the collection, adds a local skill and deploys it.
    cli.run(&["init", "--name", "default", "--no-input"]);
    for (name, text) in [
        ("cli-skill", "Added by the CLI"),
        ("other-skill", "Another"),
    ] {
        let src = skill(&sources, name, text);
        cli.run(&["add", "skill", src.to_str().unwrap(), "--yes"]);
    }
    cli.run(&["deploy", "cli-skill", "--project", app.to_str().unwrap()]);

    // This server starts on that home and serves both as the CLI left them.
    let env: Vec<(String, String)> = [
        ("SKILLMEAT_DATA_HOME", data.display().to_string()),
        (
            "SKILLMEAT_DATABASE__URL",
            format!("sqlite://{}", root.join("server/cache.db").display()),
        ),
        (
            "SKILLMEAT_DEPLOY__SEARCH_ROOTS",
            format!("[\"{}\"]", projects.display()),
        ),
        ("SKILLMEAT_WATCH__DEBOUNCE_MS", "100".into()),
        ("SKILLMEAT_JOBS__POLL_INTERVAL_MS", "50".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let server = ServerProcess::start(&env).await;
    cli.use_server(&server.base);
    let warm = server.get("/api/v1/jobs?kind=warm").await;
    let warm = server
        .wait_job(
            warm["items"][0]["id"].as_i64().unwrap(),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(warm["status"], "succeeded", "{warm}");
    let artifact = server.get("/api/v1/artifacts/skill:cli-skill").await;
    assert_eq!(
        artifact["content_hash"].as_str(),
        Some(lock_hash(&collection, "cli-skill::skill").as_str()),
        "{artifact}"
    );
    let made_by_cli = deployment_of(&server, "skill:cli-skill", &app).await;
    assert_eq!(made_by_cli["status"], "synced", "{made_by_cli}");

    // The server deploys and groups; the CLI reads both.
    let (status, deployed) = server
        .post(
            "/api/v1/deployments",
            json!({"artifact_id": "skill:cli-skill", "project_path": app2}),
        )
        .await;
    assert_eq!(status, 201, "{deployed}");
    let (status, group) = server.post("/api/v1/groups", json!({"collection_id": "default", "name": "Made by the server", "description": "Grouped over HTTP"}))
    .await;
    assert_eq!(status, 201, "{group}");
    let group_id = group["id"].as_str().unwrap().to_string();
    let (status, _) = server
        .post(
            &format!("/api/v1/groups/{group_id}/artifacts"),
            json!({"artifact_ids": ["skill:cli-skill"]}),
        )
        .await;
    assert!(status == 200 || status == 201, "{status}");
    // sync-check lists the collection's artifacts not deployed there as "added" (and exits 1
    // for them); the one this server deployed must not drift.
    let out = cli
        .command(&["sync-check", app2.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let check: Value = serde_json::from_slice(&out.stdout).expect("sync-check prints JSON");
    let drifting: Vec<&Value> = check["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == "cli-skill")
        .collect();
    assert!(drifting.is_empty(), "{check}");
    let listed = cli.run(&["group", "list", "--collection", "default"]);
    assert!(listed.contains("Made by the server"), "{listed}");
    let shown = cli.run(&["group", "show", &group_id]);
    assert!(
        shown.contains("Made by the server") && shown.contains("cli-skill"),
        "{shown}"
    );

    // A local edit pulled by the CLI: the server's cache and statuses follow at once (the CLI
    // waits for its refresh-cache call).
    let copy = app.join(".claude/skills/cli-skill");
    std::fs::write(
        copy.join("SKILL.md"),
        "---\ndescription: Edited in app\n---\nBetter.\n",
    )
    .unwrap();
    let edited = content_hash(&copy).unwrap();
    cli.run(&[
        "sync-pull",
        app.to_str().unwrap(),
        "--strategy",
        "overwrite",
        "--no-interactive",
    ]);
    assert_eq!(
        content_hash(&collection.join("skills/cli-skill")).unwrap(),
        edited
    );
    // It asked this server to refresh (POST /api/v1/user-collections/refresh-cache) and waited.
    let refreshes = server.get("/api/v1/jobs?kind=refresh&limit=100").await;
    assert!(
        refreshes["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["trigger"] == "manual" && j["scope"] == "all" && j["status"] == "succeeded"),
        "{refreshes}"
    );
    let artifact = server.get("/api/v1/artifacts/skill:cli-skill").await;
    assert_eq!(
        artifact["content_hash"].as_str(),
        Some(edited.as_str()),
        "{artifact}"
    );
    assert_eq!(
        deployment_of(&server, "skill:cli-skill", &app).await["status"],
        "synced"
    );
    assert_eq!(
        deployment_of(&server, "skill:cli-skill", &app2).await["status"],
        "outdated"
    );

    // Both deploy into one project at the same moment: both are recorded.
    let cli_deploy = {
        let mut c = cli.command(&["deploy", "other-skill", "--project", app3.to_str().unwrap()]);
        tokio::task::spawn_blocking(move || c.output().unwrap())
    };
    let server_deploy = server.post(
        "/api/v1/deployments",
        json!({"artifact_id": "skill:cli-skill", "project_path": app3}),
    );
    let (cli_out, (status, body)) = tokio::join!(cli_deploy, server_deploy);
    let cli_out = cli_out.unwrap();
    assert!(
        cli_out.status.success(),
        "{}",
        String::from_utf8_lossy(&cli_out.stderr)
    );
    assert_eq!(status, 201, "{body}");
    let record = app3.join(".claude/.skillmeat-deployed.toml");
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(
        text.contains("\"other-skill\"") && text.contains("\"cli-skill\""),
        "{text}"
    );
    // And the server sees both (the watcher rescans the project).
    poll(
        "both deployments listed",
        Duration::from_secs(20),
        || async {
            let listed = server
                .get(&format!("/api/v1/deployments?project={}", app3.display()))
                .await;
            if listed["page_info"]["total_count"] == 2 {
                Ok(())
            } else {
                Err(listed.to_string())
            }
        },
    )
    .await;
    // The CLI's lock files are neither artifacts nor project changes.
    let artifacts = server.get("/api/v1/artifacts?limit=100").await;
    assert_eq!(artifacts["page_info"]["total_count"], 2, "{artifacts}");
    drop(server);
}

#[tokio::test]
async fn what_the_server_imports_and_creates_the_cli_lists_and_deploys() {
    let Some(bin) = cli() else {
        return;
    };
    let tmp = tempfile::tempdir_in(temp_root()).unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let home = root.join("home");
    let app = root.join("projects/app");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&app).unwrap();
    let cli = Cli {
        bin,
        home: home.clone(),
    };
    cli.run(&["init", "--name", "default", "--no-input"]);
    let data = home.join(".skillmeat");
    let env: Vec<(String, String)> = [
        ("SKILLMEAT_DATA_HOME", data.display().to_string()),
        (
            "SKILLMEAT_DATABASE__URL",
            format!("sqlite://{}", root.join("server/cache.db").display()),
        ),
        ("SKILLMEAT_DEPLOY__SEARCH_ROOTS", "[]".into()),
        (
            "SKILLMEAT_DEPLOY__ALLOWED_ROOTS",
            format!("[\"{}\"]", root.display()),
        ),
        ("SKILLMEAT_JOBS__POLL_INTERVAL_MS", "50".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let server = ServerProcess::start(&env).await;
    cli.use_server(&server.base);

    let folder = skill(
        &root.join("sources"),
        "from-folder",
        "Imported from a folder",
    );
    let (status, body) = server
        .post(
            "/api/v1/artifacts/import",
            json!({"source": "path", "path": folder}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let repo = crate::authoring::skills_repo(&root);
    let (status, body) = server
        .post(
            "/api/v1/artifacts/import",
            json!({"source": "git", "url": crate::authoring::file_url(&repo), "path": "skills/painter"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .post(
            "/api/v1/artifacts",
            json!({"type": "command", "name": "made-here", "files": {"made-here.md": "---\ndescription: Made by the server\n---\nDo it.\n"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // The CLI reads the collection the server wrote into, and deploys from it.
    let listed = cli.run(&["list"]);
    for name in ["from-folder", "painter", "made-here"] {
        assert!(
            listed.contains(name),
            "{name} not listed by the CLI: {listed}"
        );
    }
    let collection = data.join("collections/default");
    assert_eq!(
        lock_hash(&collection, "painter::skill"),
        content_hash(&collection.join("skills/painter")).unwrap()
    );
    cli.run(&["deploy", "painter", "--project", app.to_str().unwrap()]);
    assert!(app.join(".claude/skills/painter/scripts/run.sh").is_file());
    cli.run(&["deploy", "made-here", "--project", app.to_str().unwrap()]);
    assert!(app.join(".claude/commands/made-here.md").is_file());
    drop(server);
}
