//! Acting on drift: push a project copy into the collection (its lock updated, the other
//! deployments outdated, no refresh for the server's own write), merge the collection's version
//! into a project copy (both sides kept, overlapping lines refused with their hunks, settled per
//! file), on both databases; a server killed mid-write leaves the old or the new content.

use std::path::{Path, PathBuf};
use std::time::Duration;

use poem::http::StatusCode;
use serde_json::{Value, json};

use skillmeat_server::source::hash::content_hash;

use crate::helpers::{Backend, ServerProcess, TestApp, temp_root};

const BASE: &str = "---\ndescription: Merge me\n---\none\ntwo\nthree\nfour\nfive\n";

/// A skill `merge-me` in the default collection with [`BASE`] as its SKILL.md.
async fn merge_me(app: &TestApp) -> PathBuf {
    let dir = app.collection_dir("default").join("skills/merge-me");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("SKILL.md"), BASE).unwrap();
    std::fs::write(dir.join("notes.md"), "notes\n").unwrap();
    app.state.cache.sync_all(false).await.unwrap();
    dir
}

fn lock_hash(app: &TestApp, key: &str) -> Option<String> {
    let text =
        std::fs::read_to_string(app.collection_dir("default").join("collection.lock")).ok()?;
    let lock: toml::Value = toml::from_str(&text).unwrap();
    lock["lock"]["entries"]
        .get(key)
        .and_then(|e| e["content_hash"].as_str())
        .map(String::from)
}

async fn status(app: &TestApp, id: &str) -> String {
    let r = app
        .get(&format!("/api/v1/deployments/{id}?recheck=true"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["status"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_push_writes_the_edit_into_the_collection_and_outdates_the_other_deployments() {
    for app in TestApp::all_backends().await {
        let _jobs = app.start_jobs().await;
        let _watch = app.start_watcher().await;
        let (here, there) = (app.empty_project("here"), app.empty_project("there"));
        let id = app.deploy_to("command:review-pr", &here).await;
        let other = app.deploy_to("command:review-pr", &there).await;
        let local = here.join(".claude/commands/review-pr.md");
        let edited = format!(
            "{}A line added in the project\n",
            std::fs::read_to_string(&local).unwrap()
        );
        std::fs::write(&local, &edited).unwrap();
        // The watcher has queued what the deploys and the edit call for (debounce 100 ms).
        tokio::time::sleep(Duration::from_millis(800)).await;
        let jobs_before = app.get("/api/v1/jobs?kind=refresh&limit=100").await.body["items"]
            .as_array()
            .unwrap()
            .len();

        let r = app.post(&format!("/api/v1/deployments/{id}/push")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["pushed"], true);
        assert_eq!(r.body["deployment"]["status"], "synced", "{}", r.text);
        assert_eq!(
            r.body["other_deployments"],
            json!([{"deployment_id": other, "project_id": r.body["other_deployments"][0]["project_id"], "status": "outdated"}]),
            "{}",
            r.text
        );
        let in_collection = app.collection_dir("default").join("commands/review-pr.md");
        assert_eq!(std::fs::read_to_string(&in_collection).unwrap(), edited);
        let new_hash = content_hash(&in_collection).unwrap();
        assert_eq!(
            lock_hash(&app, "review-pr::command"),
            Some(new_hash.clone())
        );
        // Served from the cache at once, and the record's base is the new content.
        let artifact = app.get("/api/v1/artifacts/command:review-pr").await;
        assert_eq!(artifact.body["content_hash"], new_hash.as_str());
        let record =
            std::fs::read_to_string(here.join(".claude/.skillmeat-deployed.toml")).unwrap();
        assert!(
            record.contains(&format!("merge_base_snapshot = \"{new_hash}\"")),
            "{record}"
        );
        assert_eq!(status(&app, &other).await, "outdated");
        assert_eq!(status(&app, &id).await, "synced");
        // The watcher saw the server's own write and queued nothing for it.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let jobs = app.get("/api/v1/jobs?kind=refresh&limit=100").await;
        assert_eq!(
            jobs.body["items"].as_array().unwrap().len(),
            jobs_before,
            "{}",
            jobs.text
        );

        // Pushing again: nothing to do.
        let again = app.post(&format!("/api/v1/deployments/{id}/push")).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.body["pushed"], false);

        // The collection moves on while the other copy is edited: pushing it would lose that.
        let other_copy = there.join(".claude/commands/review-pr.md");
        std::fs::write(&other_copy, "edited over there\n").unwrap();
        let refused = app.post(&format!("/api/v1/deployments/{other}/push")).await;
        refused.assert_error(StatusCode::CONFLICT, "conflict");
        assert!(refused.text.contains("merge"), "{}", refused.text);
        assert_eq!(std::fs::read_to_string(&in_collection).unwrap(), edited);
        app.post("/api/v1/deployments/nope/push")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn a_merge_keeps_both_sides_and_refuses_overlapping_lines() {
    for app in TestApp::all_backends().await {
        let collection = merge_me(&app).await;
        let project = app.empty_project("merging");
        let id = app.deploy_to("skill:merge-me", &project).await;
        let copy = project.join(".claude/skills/merge-me/SKILL.md");
        // Different lines: the project edits the first, the collection the last.
        std::fs::write(&copy, BASE.replace("one\n", "one, edited here\n")).unwrap();
        std::fs::write(
            collection.join("SKILL.md"),
            BASE.replace("five\n", "five, newer upstream\n"),
        )
        .unwrap();
        std::fs::write(collection.join("added.md"), "new upstream file\n").unwrap();
        app.state.cache.sync_all(false).await.unwrap();
        assert_eq!(status(&app, &id).await, "conflict");

        let r = app
            .post_json(&format!("/api/v1/deployments/{id}/merge"), json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let merged = std::fs::read_to_string(&copy).unwrap();
        assert!(
            merged.contains("one, edited here\n") && merged.contains("five, newer upstream\n"),
            "{merged}"
        );
        assert_eq!(
            std::fs::read_to_string(project.join(".claude/skills/merge-me/added.md")).unwrap(),
            "new upstream file\n"
        );
        let outcomes: Vec<(String, String)> = r.body["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().into(),
                    f["outcome"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            outcomes,
            vec![
                ("SKILL.md".into(), "merged".into()),
                ("added.md".into(), "taken".into()),
                ("notes.md".into(), "unchanged".into()),
            ]
        );
        // The base is now the collection's version: only the local edit remains.
        assert_eq!(r.body["deployment"]["status"], "modified", "{}", r.text);
        let d = app
            .get(&format!(
                "/api/v1/deployments/{id}/diff?against=base&context=0"
            ))
            .await;
        let changed: Vec<&Value> = d.body["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["change"] != "unchanged")
            .collect();
        assert_eq!(changed.len(), 1, "{}", d.text);
        assert!(
            changed[0]["unified"]
                .as_str()
                .unwrap()
                .contains("+one, edited here\n")
        );

        // The same line on both sides: 409 with the hunk, and the project copy untouched.
        let before = std::fs::read(&copy).unwrap();
        std::fs::write(&copy, merged.replace("three\n", "three, ours\n")).unwrap();
        let ours = std::fs::read(&copy).unwrap();
        std::fs::write(
            collection.join("SKILL.md"),
            BASE.replace("five\n", "five, newer upstream\n")
                .replace("three\n", "three, theirs\n"),
        )
        .unwrap();
        app.state.cache.sync_all(false).await.unwrap();
        let refused = app
            .post_json(&format!("/api/v1/deployments/{id}/merge"), json!({}))
            .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
        assert_eq!(refused.body["code"], "merge_conflict");
        assert!(
            refused.body["detail"]
                .as_str()
                .unwrap()
                .contains("SKILL.md")
        );
        assert_eq!(
            refused.body["conflicts"],
            json!([{
                "path": "SKILL.md",
                "reason": "both sides changed the same lines",
                "hunks": [{"line": 6, "ours": "three, ours\n", "base": "three\n", "theirs": "three, theirs\n"}]
            }]),
            "{}",
            refused.text
        );
        assert_eq!(std::fs::read(&copy).unwrap(), ours);
        assert_ne!(ours, before);

        // Settled per file: the collection's side.
        let bad = app
            .post_json(
                &format!("/api/v1/deployments/{id}/merge"),
                json!({"resolve": {"missing.md": "ours"}}),
            )
            .await;
        bad.assert_error(StatusCode::BAD_REQUEST, "bad_request");
        let settled = app
            .post_json(
                &format!("/api/v1/deployments/{id}/merge"),
                json!({"resolve": {"SKILL.md": "theirs"}}),
            )
            .await;
        assert_eq!(settled.status, StatusCode::OK, "{}", settled.text);
        assert_eq!(
            std::fs::read_to_string(&copy).unwrap(),
            std::fs::read_to_string(collection.join("SKILL.md")).unwrap()
        );
        assert_eq!(settled.body["deployment"]["status"], "synced");
    }
}

#[tokio::test]
async fn a_deployment_edited_before_this_server_saw_it_has_no_base_to_merge_from() {
    let app = TestApp::spawn_074(Backend::Sqlite).await;
    let copy = app
        .data_home
        .parent()
        .unwrap()
        .join("projects/shop/.claude/commands/lint-all.md");
    std::fs::write(&copy, "edited before the first scan\n").unwrap();
    let _jobs = app.start_jobs().await;
    let list = app
        .get("/api/v1/deployments?artifact_id=command:lint-all&limit=100")
        .await;
    let edited = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["project_path"]
                .as_str()
                .unwrap()
                .ends_with("/projects/shop")
        })
        .unwrap_or_else(|| panic!("{}", list.text));
    let id = edited["id"].as_str().unwrap();
    let r = app
        .post_json(&format!("/api/v1/deployments/{id}/merge"), json!({}))
        .await;
    r.assert_error(StatusCode::CONFLICT, "conflict");
    assert!(r.text.contains("No base content is kept"), "{}", r.text);
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        "edited before the first scan\n"
    );
}

/// A skill of `files` files under `home`'s default collection.
fn big_skill(home: &Path, files: usize) -> PathBuf {
    let dir = home.join("collections/default/skills/big");
    for i in 0..files {
        let f = dir.join(format!("part-{:02}/file-{i:05}.md", i % 20));
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(
            f,
            format!("line one of {i}\n{}\nlast line\n", "x".repeat(900)),
        )
        .unwrap();
    }
    std::fs::write(dir.join("SKILL.md"), "---\ndescription: Big\n---\nbody\n").unwrap();
    dir
}

/// Every file of `dir` with `edit` applied to its text.
fn edit_all(dir: &Path, edit: impl Fn(&str) -> String) {
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        if e.file_type().is_file() {
            let text = std::fs::read_to_string(e.path()).unwrap();
            std::fs::write(e.path(), edit(&text)).unwrap();
        }
    }
}

/// One push or merge against a fresh deployment of `skill:big`, the server killed after
/// `kill_after` (or left to finish when `None`). Returns the content before, the content a
/// completed write leaves, the content found after, and how long the request ran.
struct Round<'a> {
    dir: &'a Path,
    collection: &'a Path,
    env: &'a [(String, String)],
}

impl Round<'_> {
    async fn run(
        &self,
        n: usize,
        push: bool,
        kill_after: Option<Duration>,
    ) -> (String, String, String, Duration) {
        let http = reqwest::Client::new();
        let server = ServerProcess::start(self.env).await;
        let project = self.dir.join(format!("projects/p{n}"));
        std::fs::create_dir_all(&project).unwrap();
        let (_, deployed) = server
            .post(
                "/api/v1/deployments",
                json!({"artifact_id": "skill:big", "project_path": project}),
            )
            .await;
        let id = deployed["id"].as_str().expect("deployed").to_string();
        let copy = project.join(".claude/skills/big");
        let collection = self.collection.to_path_buf();
        // Push: the project's edit goes into the collection. Merge: the collection's edit
        // comes into the project, whose own edit is kept.
        let mark = format!("round {n}");
        edit_all(&copy, |t| {
            t.replacen("line one", &format!("line one, {mark}"), 1)
        });
        let upstream = |t: &str| t.replace("last line", &format!("last line, {mark}"));
        let target = if push {
            collection.clone()
        } else {
            copy.clone()
        };
        if !push {
            edit_all(&collection, upstream);
        }
        let old = content_hash(&target).unwrap();
        let expected = self.dir.join(format!("expected-{n}"));
        crate::helpers::copy_tree(&copy, &expected);
        if !push {
            edit_all(&expected, upstream);
        }
        let new = content_hash(&expected).unwrap();
        let action = if push { "push" } else { "merge" };
        let started = std::time::Instant::now();
        let request = http
            .post(format!("{}/api/v1/deployments/{id}/{action}", server.base))
            .json(&json!({}))
            .send();
        let elapsed = match kill_after {
            Some(after) => {
                let sent = tokio::spawn(request);
                tokio::time::sleep(after).await;
                server.kill();
                let _ = sent.await;
                after
            }
            None => {
                let r = request.await.unwrap();
                assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
                started.elapsed()
            }
        };
        let now = content_hash(&target).unwrap();
        if push {
            // Whatever happened, the collection holds one copy of the skill (a staging
            // leftover is hidden and swept; SkillMeat's lock file stays, as SkillMeat leaves it).
            let beside: Vec<String> = std::fs::read_dir(collection.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with(".skillmeat-tmp-") && !n.ends_with(".skillmeat-lock"))
                .collect();
            assert_eq!(beside, vec!["big".to_string()], "round {n}");
        } else if now != new {
            // The merge did not happen: the next round starts from the collection as pushed.
            edit_all(&collection, |t| {
                t.replace(&format!("last line, {mark}"), "last line")
            });
        }
        (old, new, now, elapsed)
    }
}

#[tokio::test]
async fn a_server_killed_mid_push_or_mid_merge_leaves_the_old_or_the_new_content() {
    let dir = tempfile::tempdir_in(temp_root()).unwrap();
    let home = dir.path().join(".skillmeat");
    let collection = big_skill(&home, 1500);
    let env = crate::helpers::quiet_server_env(&home, &dir.path().join("cache.db"));
    let round = Round {
        dir: dir.path(),
        collection: &collection,
        env: &env,
    };
    let mut n = 0;
    for push in [true, false] {
        // How long the whole request takes here, then kills spread over that time.
        let (_, new, now, full) = round.run(n, push, None).await;
        assert_eq!(now, new);
        n += 1;
        let mut completed = Vec::new();
        for tenth in [1u32, 3, 4, 5, 7, 11] {
            let (old, new, now, _) = round.run(n, push, Some(full * tenth / 10)).await;
            assert!(
                now == old || now == new,
                "round {n} (push: {push}, killed at {tenth}/10 of {full:?}): neither the old nor the new content"
            );
            completed.push(now == new);
            n += 1;
        }
        eprintln!("push: {push}, full request {full:?}, completed before the kill: {completed:?}");
    }
}

#[tokio::test]
async fn after_skillmeats_sync_pull_the_record_catches_up_and_the_next_edit_can_be_pushed() {
    for app in TestApp::all_backends().await {
        let project = app.empty_project("pulled");
        let id = app.deploy_to("command:review-pr", &project).await;
        let copy = project.join(".claude/commands/review-pr.md");
        let edited = format!(
            "{}Pulled by SkillMeat\n",
            std::fs::read_to_string(&copy).unwrap()
        );
        std::fs::write(&copy, &edited).unwrap();
        // What `skillmeat sync-pull` does: the copy goes into the collection, the record stays.
        let in_collection = app.collection_dir("default").join("commands/review-pr.md");
        std::fs::write(&in_collection, &edited).unwrap();
        app.state.cache.sync_all(false).await.unwrap();
        app.state.deployments.refresh_all().await.unwrap();
        assert_eq!(status(&app, &id).await, "synced");
        let record =
            std::fs::read_to_string(project.join(".claude/.skillmeat-deployed.toml")).unwrap();
        let now = content_hash(&copy).unwrap();
        assert!(
            record.contains(&format!("content_hash = \"{now}\"")),
            "{record}"
        );
        // A later edit is the project's own: modified, and it can be pushed.
        std::fs::write(&copy, format!("{edited}And more\n")).unwrap();
        assert_eq!(status(&app, &id).await, "modified");
        let pushed = app.post(&format!("/api/v1/deployments/{id}/push")).await;
        assert_eq!(pushed.status, StatusCode::OK, "{}", pushed.text);
        assert_eq!(
            std::fs::read_to_string(&in_collection).unwrap(),
            format!("{edited}And more\n")
        );
    }
}
