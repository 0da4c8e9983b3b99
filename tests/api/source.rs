//! The filesystem source against SkillMeat's own output and against files written here.

use poem::http::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, expected_rows};

#[tokio::test]
async fn fixture_hashes_and_descriptions_match_what_skillmeat_computed() {
    for app in TestApp::all_backends().await {
        for (file, collection) in [("expected.tsv", "default"), ("expected-work.tsv", "work")] {
            for (kind, name, hash, description) in expected_rows(file) {
                let r = app.get(&format!("/api/v1/artifacts/{kind}:{name}")).await;
                assert_eq!(r.status, StatusCode::OK, "{kind}:{name}: {}", r.text);
                assert_eq!(r.body["content_hash"], hash.as_str(), "{kind}:{name} hash");
                assert!(
                    r.body["collections"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|c| c == collection),
                    "{kind}:{name} in {collection}"
                );
                let got = r.body["description"].as_str().unwrap_or("");
                if name == "lowercase-manifest" {
                    // SkillMeat's bug: it accepts `skill.md` as a manifest but only reads
                    // `SKILL.md` for metadata, so it stored no description. We read it.
                    assert_eq!(description, "");
                    assert_eq!(
                        got,
                        "This description is never read because the manifest is named skill.md"
                    );
                } else {
                    assert_eq!(got, description, "{kind}:{name} description");
                }
            }
        }
    }
}

#[tokio::test]
async fn every_fixture_artifact_is_listed_once_across_both_collections() {
    let app = TestApp::spawn().await;
    let items = app.list_all("").await;
    let mut ids: Vec<String> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let expected: std::collections::BTreeSet<String> = expected_rows("expected.tsv")
        .into_iter()
        .chain(expected_rows("expected-work.tsv"))
        .map(|(t, n, _, _)| format!("{t}:{n}"))
        .collect();
    ids.sort();
    assert_eq!(ids, expected.into_iter().collect::<Vec<_>>());
    let review = items
        .iter()
        .find(|i| i["id"] == "command:review-pr")
        .unwrap();
    assert_eq!(review["collection"], "default");
    assert_eq!(
        review["collections"],
        serde_json::json!(["default", "work"])
    );
}

#[tokio::test]
async fn metadata_is_parsed_like_skillmeat_does() {
    let app = TestApp::spawn().await;
    let tools = app.get("/api/v1/artifacts/skill:allowed-tools").await.body;
    assert_eq!(
        tools["metadata"]["tools"],
        serde_json::json!(["Read", "Grep", "Bash", "WebFetch"])
    );
    assert_eq!(
        tools["metadata"]["unknown_tools"],
        serde_json::json!(["Bash(git status:*)"])
    );

    let malformed = app.get("/api/v1/artifacts/skill:malformed-yaml").await.body;
    assert!(malformed["frontmatter_error"].is_string());
    assert_eq!(malformed["metadata"]["extra"]["tags"], "[alpha, beta");
    assert_eq!(malformed["metadata"]["tags"], serde_json::json!([]));

    let nested = app.get("/api/v1/artifacts/skill:nested-tree").await.body;
    assert_eq!(nested["metadata"]["author"], "fixture-author");
    assert_eq!(nested["metadata"]["version"], "1.2.0");
    assert_eq!(
        nested["metadata"]["tags"],
        serde_json::json!(["fixture", "nesting"])
    );
    assert_eq!(nested["manifest"]["origin"], "local");
    assert_eq!(nested["file_count"], 8);

    let hint = app.get("/api/v1/artifacts/command:review-pr").await.body;
    assert_eq!(
        hint["metadata"]["extra"]["argument-hint"],
        serde_json::json!(["pr-number"])
    );
    let agent = app.get("/api/v1/artifacts/agent:code-reviewer").await.body;
    assert_eq!(agent["metadata"]["extra"]["model"], "sonnet");
}

/// The hash computed here from scratch: files in Python's component-wise sorted order, each
/// fed as relative path then bytes.
fn independent_tree_hash(files: &[(&str, &[u8])]) -> String {
    let mut h = Sha256::new();
    for (path, bytes) in files {
        h.update(path.as_bytes());
        h.update(bytes);
    }
    format!("{:x}", h.finalize())
}

#[tokio::test]
async fn a_tree_written_here_hashes_like_an_independent_computation() {
    let app = TestApp::spawn().await;
    let root = app.collection_dir("default").join("skills/hash-probe");
    // Listed in the order Python's sorted(rglob) visits them (component-wise, ordinal).
    let files: Vec<(&str, &[u8])> = vec![
        (".hidden", b"dot file"),
        ("SKILL.md", b"---\ndescription: probe\n---\n"),
        ("a/b.txt", b""),
        ("a-b/c.txt", b"dash folder"),
        ("bin/blob", &[0u8, 255, 10, 13]),
        ("z\u{e9}.md", "accent".as_bytes()),
    ];
    for (path, bytes) in &files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    std::fs::create_dir_all(root.join("empty-folder")).unwrap();
    let r = app.get("/api/v1/artifacts/skill:hash-probe").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["content_hash"], independent_tree_hash(&files));
    assert_eq!(
        r.body["in_manifest"], false,
        "found by the scan, not in collection.toml"
    );

    // A single-file command hashes as its bytes alone.
    let cmd = app.collection_dir("default").join("commands/probe-cmd.md");
    std::fs::write(&cmd, b"Just a body line\n").unwrap();
    let r = app.get("/api/v1/artifacts/command:probe-cmd").await;
    assert_eq!(
        r.body["content_hash"],
        format!("{:x}", Sha256::digest(b"Just a body line\n"))
    );
    assert_eq!(r.body["description"], "Just a body line");
}

#[tokio::test]
async fn parser_handles_bom_crlf_malformed_and_missing_front_matter_written_here() {
    let app = TestApp::spawn().await;
    let agents = app.collection_dir("default").join("agents");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bom-crlf",
            b"\xEF\xBB\xBF---\r\ndescription: With BOM and CRLF\r\ntools: [Read, write]\r\n---\r\nBody\r\n".to_vec(),
            "With BOM and CRLF",
        ),
        (
            "broken",
            b"---\ndescription: Colon: inside\nlist: [unclosed\n---\n".to_vec(),
            "Colon: inside",
        ),
        ("plain", b"# Heading\n\nFirst real line.\nSecond.\n".to_vec(), "First real line."),
        ("quoted", b"---\ndescription: 'single \"quoted\" text'\n---\n".to_vec(), "single \"quoted\" text"),
    ];
    for (name, bytes, _) in &cases {
        std::fs::write(agents.join(format!("{name}.md")), bytes).unwrap();
    }
    for (name, _, description) in &cases {
        let r = app.get(&format!("/api/v1/artifacts/agent:{name}")).await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.text);
        assert_eq!(r.body["description"], *description, "{name}");
    }
    let r = app.get("/api/v1/artifacts/agent:bom-crlf").await;
    assert_eq!(
        r.body["metadata"]["tools"],
        serde_json::json!(["Read", "Write"])
    );
    let r = app.get("/api/v1/artifacts/agent:broken").await;
    assert!(r.body["frontmatter_error"].is_string());
}

#[tokio::test]
async fn unsafe_manifest_entries_and_hidden_folders_are_ignored() {
    let app = TestApp::spawn().await;
    let dir = app.collection_dir("default");
    let mut manifest = std::fs::read_to_string(dir.join("collection.toml")).unwrap();
    manifest.push_str(
        "\n[[artifacts]]\nname = \"escape\"\ntype = \"skill\"\npath = \"../../outside\"\norigin = \"local\"\n\
         \n[[artifacts]]\nname = \"../evil\"\ntype = \"skill\"\npath = \"skills/x\"\norigin = \"local\"\n",
    );
    std::fs::write(dir.join("collection.toml"), manifest).unwrap();
    std::fs::create_dir_all(app.data_home.join("outside")).unwrap();
    std::fs::write(
        app.data_home.join("outside/SKILL.md"),
        "---\ndescription: x\n---\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("skills/.secret")).unwrap();
    std::fs::write(dir.join("skills/.secret/SKILL.md"), "x").unwrap();

    let ids: Vec<String> = app
        .list_all("")
        .await
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    for unsafe_id in [
        "skill:escape",
        "skill:../evil",
        "skill:.secret",
        "skill:evil",
    ] {
        assert!(
            !ids.iter().any(|i| i == unsafe_id),
            "{unsafe_id} in {ids:?}"
        );
    }
    assert_eq!(ids.len(), 16);
}

#[tokio::test]
async fn a_broken_manifest_still_serves_what_the_scan_finds() {
    let app = TestApp::spawn().await;
    std::fs::write(
        app.collection_dir("work").join("collection.toml"),
        "[[artifacts]\nnot toml",
    )
    .unwrap();
    let r = app.get("/api/v1/artifacts/skill:work-skill").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["in_manifest"], false);
    assert_eq!(
        r.body["description"],
        "Skill that only lives in the work collection"
    );
}

#[tokio::test]
async fn a_manifest_entry_whose_folder_has_another_name_is_served_once() {
    let app = TestApp::spawn().await;
    let dir = app.collection_dir("work");
    std::fs::rename(
        dir.join("skills/work-skill"),
        dir.join("skills/moved-folder"),
    )
    .unwrap();
    let manifest = std::fs::read_to_string(dir.join("collection.toml"))
        .unwrap()
        .replace(
            "path = \"skills/work-skill\"",
            "path = \"skills/moved-folder\"",
        );
    std::fs::write(dir.join("collection.toml"), manifest).unwrap();

    let r = app.get("/api/v1/artifacts/skill:work-skill").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["path"], "skills/moved-folder");
    assert_eq!(r.body["in_manifest"], true);
    app.get("/api/v1/artifacts/skill:moved-folder")
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let ids: Vec<String> = app
        .list_all("collection=work")
        .await
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec!["command:review-pr", "skill:work-skill"]);
}
