//! Cache benchmark over a generated collection of 1,000 artifacts (`cargo bench --bench cache`).
//!
//! Prints, as a Markdown table: artifact detail on a cache hit vs a miss (target: a hit at least
//! 10x faster than a source read), a list page of 50, a full refresh, and the cache's size on
//! disk (target: under 10 MB for 1,000 artifacts). Requests go through the production route tree
//! in process, so the figures include routing, the handler, SQLite and JSON, but not TCP.

use std::path::Path;
use std::time::{Duration, Instant};

use poem::{Endpoint, Request};
use sea_orm::{ConnectionTrait, Statement};
use skillmeat_server::config::Settings;
use skillmeat_server::startup::{build_routes, build_state};

const ARTIFACTS: usize = 1_000;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// 600 skills (SKILL.md plus three files), 250 commands, 150 agents, all in the manifest.
fn generate(collection: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    let mut manifest = String::from("[collection]\nname = \"default\"\nversion = \"1.0.0\"\n");
    let body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(20);
    for i in 0..ARTIFACTS {
        let (kind, name, path) = match i % 20 {
            0..=11 => (
                "skill",
                format!("skill-{i:04}"),
                format!("skills/skill-{i:04}"),
            ),
            12..=16 => (
                "command",
                format!("command-{i:04}"),
                format!("commands/command-{i:04}.md"),
            ),
            _ => (
                "agent",
                format!("agent-{i:04}"),
                format!("agents/agent-{i:04}.md"),
            ),
        };
        let front = format!(
            "---\nname: {name}\ndescription: Generated {kind} number {i} for the benchmark\n\
             tags: [bench, group-{}]\ntools: Read, Grep, Bash\nauthor: bench\nversion: 1.0.{i}\n---\n\n# {name}\n\n{body}\n",
            i % 10
        );
        if kind == "skill" {
            let root = collection.join(&path);
            write(&root.join("SKILL.md"), &front);
            write(&root.join("references/guide.md"), &body);
            write(&root.join("scripts/run.py"), "print('hello')\n");
            write(&root.join("README.md"), &body);
        } else {
            write(&collection.join(&path), &front);
        }
        manifest.push_str(&format!(
            "\n[[artifacts]]\nname = \"{name}\"\ntype = \"{kind}\"\npath = \"{path}\"\norigin = \"local\"\nadded = \"2026-11-26T00:00:00\"\n"
        ));
        ids.push(format!("{kind}:{name}"));
    }
    write(&collection.join("collection.toml"), &manifest);
    ids
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[idx]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

async fn get(
    routes: &impl Endpoint,
    uri: &str,
) -> (Duration, poem::http::StatusCode, Option<String>) {
    let started = Instant::now();
    let resp = routes
        .get_response(Request::builder().uri(uri.parse().unwrap()).finish())
        .await;
    let status = resp.status();
    let cache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let _ = resp.into_body().into_vec().await.unwrap();
    (started.elapsed(), status, cache)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join(".skillmeat");
    let ids = generate(&home.join("collections/default"));
    let db_file = dir.path().join("artifact_cache.db");
    let mut settings = Settings {
        data_home: home.display().to_string(),
        ..Settings::default()
    };
    settings.database.url = format!("sqlite://{}", db_file.display());
    let state = build_state(settings).await.unwrap();
    let routes = build_routes(state.clone());

    let started = Instant::now();
    let report = state.cache.sync_all(false).await.unwrap();
    let cold_refresh = started.elapsed();
    assert_eq!(report.listed as usize, ARTIFACTS);
    let started = Instant::now();
    let report = state.cache.sync_all(false).await.unwrap();
    let warm_refresh = started.elapsed();
    assert_eq!(report.unchanged as usize, ARTIFACTS);

    // Hits: every artifact read several times from a warm cache.
    let mut hits = Vec::new();
    for round in 0..3 {
        for id in ids.iter().skip(round).step_by(2) {
            let (t, status, cache) = get(&routes, &format!("/api/v1/artifacts/{id}")).await;
            assert!(status.is_success() && cache.as_deref() == Some("hit"));
            hits.push(t);
        }
    }

    // Misses: drop each entry, then read it (the handler reads and hashes the source).
    let mut misses = Vec::new();
    for id in ids.iter().step_by(5) {
        state.cache.invalidate(id).await.unwrap();
        let (t, status, cache) = get(&routes, &format!("/api/v1/artifacts/{id}")).await;
        assert!(status.is_success() && cache.as_deref() == Some("miss"));
        misses.push(t);
    }

    // List pages of 50: the first page, a deep page, and filtered pages.
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let uri = match &cursor {
            Some(c) => format!("/api/v1/artifacts?limit=50&after={c}"),
            None => "/api/v1/artifacts?limit=50".to_string(),
        };
        let started = Instant::now();
        let resp = routes
            .get_response(Request::builder().uri(uri.parse().unwrap()).finish())
            .await;
        let body: serde_json::Value =
            serde_json::from_slice(&resp.into_body().into_vec().await.unwrap()).unwrap();
        pages.push(started.elapsed());
        cursor = body["page_info"]["end_cursor"].as_str().map(String::from);
    }
    let mut filtered = Vec::new();
    for q in [
        "type=skill",
        "tags=group-3",
        "search=number%2042",
        "sort=updated&order=desc",
        "tools=grep&type=agent",
    ] {
        for _ in 0..20 {
            filtered.push(
                get(&routes, &format!("/api/v1/artifacts?limit=50&{q}"))
                    .await
                    .0,
            );
        }
    }

    let db = &state.db;
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "PRAGMA wal_checkpoint(TRUNCATE)",
    ))
    .await
    .unwrap();
    let status = state.cache.status().await.unwrap();
    let file_size = std::fs::metadata(&db_file).unwrap().len();

    let hit_p50 = percentile(&mut hits, 0.5);
    let miss_p50 = percentile(&mut misses, 0.5);
    println!("\n| figure ({ARTIFACTS} artifacts) | p50 | p95 | target |");
    println!("|---|---|---|---|");
    println!(
        "| detail, cache hit ({} reads) | {} | {} | 10x faster than a miss |",
        hits.len(),
        ms(hit_p50),
        ms(percentile(&mut hits, 0.95))
    );
    println!(
        "| detail, cache miss: source read + store ({} reads) | {} | {} | |",
        misses.len(),
        ms(miss_p50),
        ms(percentile(&mut misses, 0.95))
    );
    println!(
        "| list page of 50, cursor walk ({} pages) | {} | {} | |",
        pages.len(),
        ms(percentile(&mut pages, 0.5)),
        ms(percentile(&mut pages, 0.95))
    );
    println!(
        "| list page of 50, filtered or sorted ({} pages) | {} | {} | |",
        filtered.len(),
        ms(percentile(&mut filtered, 0.5)),
        ms(percentile(&mut filtered, 0.95))
    );
    println!(
        "| full refresh, cold cache (reads and hashes all) | {} | | |",
        ms(cold_refresh)
    );
    println!(
        "| full refresh, nothing changed (stat only) | {} | | |",
        ms(warm_refresh)
    );
    println!(
        "\nhit vs miss: {:.1}x faster (target: at least 10x)",
        miss_p50.as_secs_f64() / hit_p50.as_secs_f64()
    );
    println!(
        "cache size on disk: {:.2} MB database file ({:.2} MB of cached JSON in {} entries; target: under 10 MB)",
        file_size as f64 / 1e6,
        status.bytes as f64 / 1e6,
        status.entries
    );
}
