//! Every benchmark of the server in one command, `cargo bench`, on generated data. It prints
//! Markdown and, on a full run, writes the same text to docs/benchmarks.md with the date and
//! the machine. `cargo bench -- <part>...` (cache, deployments, jobs, watch, http, load, floor) runs only
//! those parts and leaves the file alone.
//!
//! - cache: 1,000 artifacts; detail on a hit vs a miss (target: a hit at least 10x faster),
//!   list pages of 50, full refreshes, and the size on disk (under 10 MB); in process.
//! - deployments: 10,000 deployments in 100 projects; summary and filtered list pages (each
//!   under 5 ms); in process.
//! - jobs: 10,000 artifacts; a full warm (under 10 s), refreshes with nothing changed (under
//!   1 s) and 1% changed (under 2 s), and the HTTP p99 of cached reads during a forced refresh
//!   (within 2x of idle).
//! - watch: 10,000 artifacts; file write to API (p95 under 1 s) and idle CPU (under 1%).
//! - http: the release binary on 127.0.0.1 under a bounded load (4 s per endpoint, 16
//!   connections): requests/s, p50 and p99 of five read endpoints.
//! - load: mixed reads and writes for 60 s on SQLite and on PostgreSQL while refreshes run:
//!   zero 5xx, zero "database is locked", p99 of reads and writes.
//! - floor: the release binary side by side with a hello-world poem server, both driven by
//!   `wrk`: each hot read's share of the floor's requests/s, latencies at 1 and 8 connections,
//!   resident memory, each against its target (see `floor.rs`).

use std::path::Path;
use std::time::{Duration, Instant};

use poem::{Endpoint, Request};
use sea_orm::{ConnectionTrait, Statement};
use skillmeat_server::config::Settings;
use skillmeat_server::startup::{build_routes, build_state};
use skillmeat_server::synthetic;

const ARTIFACTS: usize = 1_000;

/// Everything said so far, for docs/benchmarks.md.
static REPORT: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// Prints a line and keeps it for the report.
macro_rules! say {
    ($($arg:tt)*) => {{
        let line = format!($($arg)*);
        println!("{line}");
        let mut report = REPORT.lock().unwrap_or_else(|p| p.into_inner());
        report.push_str(&line);
        report.push('\n');
    }};
}

#[path = "server/floor.rs"]
mod floor;

const CACHE_NOTES: &str = "A collection of 1,000 artifacts (600 skills with four files each, 250 \
commands, 150 agents, all in `collection.toml`) in a fresh SQLite cache, plus 20 larger skills \
(40 files, about 1 MB each) to show how the gap between a hit and a miss grows with size. \
Requests go through the production route tree in process: routing, handler, SQLite and JSON, \
not TCP. A hit is answered from the memory tier (the finished JSON kept while the database's \
data version is unchanged, one shared probe of that version) or, read for the first time since \
a change, from the table (the entry, its deployment counts and upstream: three SQLite round \
trips, a parse and a serialisation); a miss locates, lists, hashes and stores the artifact, with \
the parsed `collection.toml` kept by modification time, so on small artifacts a miss and a \
table hit are closer than on large ones.";

const DEPLOYMENT_NOTES: &str = "10,000 deployment rows in 100 projects (what the refresh \
stores) in a fresh SQLite database, through the production route tree in process. The summary \
is memoised until a deployment row changes (a version token in `cache_meta`, so every instance \
sees the change); the first row measures the recomputation after a change.";

const JOB_NOTES: &str = "10,000 skills (a `SKILL.md` and one reference file each) in a fresh \
SQLite cache: the work of the warm and refresh jobs (cache, then deployment statuses), then a \
real server on a port for cached reads while a forced refresh (every artifact re-hashed, the \
worst case) runs as a job. The refresh reads on a low-priority runtime (nice 10) and writes 20 \
rows per statement so cached reads keep their latency. The client shares the machine's CPUs \
with the server.";

const WATCH_NOTES: &str = "10,000 skills watched with the default debounce (300 ms), a real \
server on a port with its job runner: 20 single-file edits, each timed from the write until \
`GET /api/v1/artifacts/{id}` shows it; then 20 s with nothing changing, measuring the whole \
server process's CPU (job workers polling, the watcher's reconcile every 2 s).";

const LOAD_NOTES: &str = "The release binary on 127.0.0.1 over 1,000 generated artifacts, \
first on SQLite, then on PostgreSQL (a fresh database on the machine's server): 16 connections \
for `BENCH_LOAD_SECS` (60) seconds each, 70% reads (artifact detail, filtered list, collections, \
groups, deployment summary) and 30% writes (each connection creates a group in its own \
collection, adds two members, reorders them and deletes the group), while the schedule refreshes \
every 5 s and a forced refresh of everything is asked for every 10 s. Every answer is checked: \
the run fails on any 5xx or any body saying \"database is locked\".";

const HTTP_NOTES: &str = "The release build of `skillmeat-server` started as its own process \
on 127.0.0.1 over 1,000 generated artifacts, 5 groups and 10,000 deployments (SQLite), with \
its job runner and watcher running. A Rust load generator (reqwest, 16 connections kept \
alive) sends requests for 4 s per endpoint after a 1 s warm-up; every answer must be 200. \
Client and server share the machine's CPUs, so requests/s is a floor.";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[idx]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// A GET of `uri` as a local client sends it (the request guard wants a `Host` it answers to).
fn local_request(uri: &str) -> Request {
    Request::builder()
        .uri(uri.parse().unwrap())
        .header("host", "localhost")
        .finish()
}

async fn get(
    routes: &impl Endpoint,
    uri: &str,
) -> (Duration, poem::http::StatusCode, Option<String>) {
    let started = Instant::now();
    let resp = routes.get_response(local_request(uri)).await;
    let status = resp.status();
    let cache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let _ = resp.into_body().into_vec().await.unwrap();
    (started.elapsed(), status, cache)
}

fn row(label: String, samples: &mut [Duration], target: &str) {
    let p50 = percentile(samples, 0.5);
    let p95 = percentile(samples, 0.95);
    say!(
        "| {label} ({} runs) | {} | {} | {target} |",
        samples.len(),
        ms(p50),
        ms(p95)
    );
}

/// 10,000 deployment rows in 100 projects, inserted directly (what the refresh would store).
async fn deployment_dashboard(dir: &Path) {
    const PROJECTS: usize = 100;
    const PER_PROJECT: usize = 100;
    let mut settings = Settings {
        data_home: dir.join("empty-home").display().to_string(),
        ..Settings::default()
    };
    settings.database.url = format!("sqlite://{}", dir.join("deployments.db").display());
    let state = build_state(settings).await.unwrap();
    let routes = build_routes(state.clone());
    synthetic::insert_deployments(&state.db, PROJECTS, PER_PROJECT)
        .await
        .unwrap();
    let db = &state.db;
    db.execute_raw(Statement::from_string(db.get_database_backend(), "ANALYZE"))
        .await
        .unwrap();

    say!(
        "\n| figure ({} deployments in {PROJECTS} projects) | p50 | p95 | target |",
        PROJECTS * PER_PROJECT
    );
    say!("|---|---|---|---|");
    // The summary is memoised until the deployment rows change; measure a recomputation too.
    let mut cold = Vec::new();
    for i in 0..50 {
        // What every write to the deployment rows does.
        state
            .cache
            .set_meta(
                skillmeat_server::deploy::META_DEPLOYMENTS_VERSION,
                &format!("bench-{i}"),
            )
            .await
            .unwrap();
        let (t, status, _) = get(&routes, "/api/v1/deployments/summary").await;
        assert!(status.is_success());
        cold.push(t);
    }
    row(
        "summary, recomputed after a change".to_string(),
        &mut cold,
        "under 5 ms",
    );
    let queries = [
        (
            "summary, unchanged since the last request",
            "/api/v1/deployments/summary".to_string(),
        ),
        (
            "list page of 50, no filter",
            "/api/v1/deployments?limit=50".to_string(),
        ),
        (
            "list page of 50, status=modified,conflict",
            "/api/v1/deployments?limit=50&status=modified,conflict".to_string(),
        ),
        (
            "list page of 50, one project",
            format!("/api/v1/deployments?limit=50&project={:032x}", 42),
        ),
        (
            "list page of 50, type=skill, newest first",
            "/api/v1/deployments?limit=50&type=skill&sort=deployed_at&order=desc".to_string(),
        ),
        (
            "list page of 50, search=artifact-04",
            "/api/v1/deployments?limit=50&search=artifact-04".to_string(),
        ),
    ];
    for (label, uri) in queries {
        let mut samples = Vec::new();
        for _ in 0..200 {
            let (t, status, _) = get(&routes, &uri).await;
            assert!(status.is_success(), "{uri}");
            samples.push(t);
        }
        row(label.to_string(), &mut samples, "under 5 ms");
    }
}

#[tokio::main]
async fn main() {
    // This binary is also the hello-world server the side-by-side part measures against.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == floor::SERVE_FLOOR) {
        floor::serve_floor(&args[i + 1]).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // `cargo bench -- <part>` runs only the parts named; a full run also writes the report.
    let parts = [
        "cache",
        "deployments",
        "jobs",
        "watch",
        "http",
        "load",
        "floor",
    ];
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| parts.contains(&a.as_str()))
        .collect();
    let runs = |part: &str| chosen.is_empty() || chosen.iter().any(|c| c == part);
    if runs("cache") {
        say!("\n## Artifact cache\n\n{}", CACHE_NOTES);
        artifact_cache(dir.path()).await;
    }
    if runs("deployments") {
        say!("\n## Deployment dashboard\n\n{}", DEPLOYMENT_NOTES);
        deployment_dashboard(dir.path()).await;
    }
    if runs("jobs") {
        say!("\n## Job runner\n\n{}", JOB_NOTES);
        job_runner(dir.path()).await;
    }
    if runs("watch") {
        say!("\n## File watcher\n\n{}", WATCH_NOTES);
        file_watcher(dir.path()).await;
    }
    if runs("load") {
        say!("\n## Mixed load with refreshes running\n\n{}", LOAD_NOTES);
        mixed_load(dir.path()).await;
    }
    if runs("http") {
        say!("\n## HTTP load on the release binary\n\n{}", HTTP_NOTES);
        http_load(dir.path()).await;
    }
    if runs("floor") {
        let start = REPORT.lock().unwrap_or_else(|p| p.into_inner()).len();
        say!("\n{FLOOR_HEADING}\n\n{}", FLOOR_NOTES);
        let measured = floor::side_by_side(dir.path()).await;
        // Run alone, it still replaces its own section of docs/benchmarks.md.
        if measured && chosen == ["floor"] {
            let section = REPORT.lock().unwrap_or_else(|p| p.into_inner())[start..].to_string();
            replace_section(FLOOR_HEADING, &section);
        }
    }
    if chosen.is_empty() {
        write_report();
    } else {
        println!(
            "\n(only {chosen:?} ran, so docs/benchmarks.md was not rewritten; `floor` alone \
             replaces its own section)"
        );
    }
}

/// The cache over 1,000 generated artifacts: hit vs miss, list pages, refreshes, size.
async fn artifact_cache(dir: &Path) {
    let home = dir.join(".skillmeat");
    let ids = synthetic::write_collection(&home.join("collections/default"), ARTIFACTS).unwrap();
    let db_file = dir.join("artifact_cache.db");
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

    // Hits: every artifact read from a warm cache (from the table), then again (from memory).
    let mut table_hits = Vec::new();
    let mut hits = Vec::new();
    for times in [&mut table_hits, &mut hits] {
        for id in &ids {
            let (t, status, cache) = get(&routes, &format!("/api/v1/artifacts/{id}")).await;
            assert!(
                status.is_success() && cache.as_deref() == Some("hit"),
                "{id}: {status} {cache:?}"
            );
            times.push(t);
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
        let resp = routes.get_response(local_request(&uri)).await;
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

    // The same comparison on larger skills (40 files, about 1 MB each), where a source read has
    // more to hash: how the gap grows with artifact size.
    let large = home.join("collections/default/skills");
    let mut large_ids = Vec::new();
    for i in 0..20 {
        let root = large.join(format!("large-{i:02}"));
        write(
            &root.join("SKILL.md"),
            &format!("---\ndescription: Large skill {i}\n---\n"),
        );
        for f in 0..39 {
            write(
                &root.join(format!("references/part-{f:02}.md")),
                &"x".repeat(26_000),
            );
        }
        large_ids.push(format!("skill:large-{i:02}"));
    }
    let mut large_misses = Vec::new();
    let mut large_hits = Vec::new();
    for id in &large_ids {
        let (t, _, cache) = get(&routes, &format!("/api/v1/artifacts/{id}")).await;
        assert_eq!(cache.as_deref(), Some("miss"));
        large_misses.push(t);
        for _ in 0..5 {
            let (t, _, cache) = get(&routes, &format!("/api/v1/artifacts/{id}")).await;
            assert_eq!(cache.as_deref(), Some("hit"));
            large_hits.push(t);
        }
    }

    let hit_p50 = percentile(&mut hits, 0.5);
    let table_hit_p50 = percentile(&mut table_hits, 0.5);
    let miss_p50 = percentile(&mut misses, 0.5);
    say!("\n| figure ({ARTIFACTS} artifacts) | p50 | p95 | target |");
    say!("|---|---|---|---|");
    say!(
        "| detail, cache hit from memory ({} reads) | {} | {} | 10x faster than a miss |",
        hits.len(),
        ms(hit_p50),
        ms(percentile(&mut hits, 0.95))
    );
    say!(
        "| detail, cache hit from the table, first read since a change ({} reads) | {} | {} | |",
        table_hits.len(),
        ms(table_hit_p50),
        ms(percentile(&mut table_hits, 0.95))
    );
    say!(
        "| detail, cache miss: source read + store ({} reads) | {} | {} | |",
        misses.len(),
        ms(miss_p50),
        ms(percentile(&mut misses, 0.95))
    );
    say!(
        "| list page of 50, cursor walk ({} pages) | {} | {} | |",
        pages.len(),
        ms(percentile(&mut pages, 0.5)),
        ms(percentile(&mut pages, 0.95))
    );
    say!(
        "| list page of 50, filtered or sorted ({} pages) | {} | {} | |",
        filtered.len(),
        ms(percentile(&mut filtered, 0.5)),
        ms(percentile(&mut filtered, 0.95))
    );
    say!(
        "| full refresh, cold cache (reads and hashes all) | {} | | |",
        ms(cold_refresh)
    );
    say!(
        "| full refresh, nothing changed (stat only) | {} | | |",
        ms(warm_refresh)
    );
    let large_hit = percentile(&mut large_hits, 0.5);
    let large_miss = percentile(&mut large_misses, 0.5);
    say!(
        "| detail of a 1 MB, 40-file skill, cache hit ({} reads) | {} | {} | |",
        large_hits.len(),
        ms(large_hit),
        ms(percentile(&mut large_hits, 0.95))
    );
    say!(
        "| detail of a 1 MB, 40-file skill, cache miss ({} reads) | {} | {} | |",
        large_misses.len(),
        ms(large_miss),
        ms(percentile(&mut large_misses, 0.95))
    );
    let ratio = miss_p50.as_secs_f64() / hit_p50.as_secs_f64();
    say!(
        "\nhit vs miss: {ratio:.1}x faster on the generated collection ({:.1}x for a first read from the table), {:.1}x on 1 MB skills (target: at least 10x{})",
        miss_p50.as_secs_f64() / table_hit_p50.as_secs_f64(),
        large_miss.as_secs_f64() / large_hit.as_secs_f64(),
        if ratio >= 10.0 { "" } else { ": **missed**" }
    );
    say!(
        "cache size on disk: {:.2} MB database file ({:.2} MB of cached JSON in {} entries; target: under 10 MB)",
        file_size as f64 / 1e6,
        status.bytes as f64 / 1e6,
        status.entries
    );
}

/// CPU time (user + system) this process has used.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct it is given and reads nothing else.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The file watcher over 10,000 artifacts, with the default debounce: the time from a file
/// write to the API showing it, and the server's CPU use while nothing changes.
async fn file_watcher(dir: &Path) {
    const SKILLS: usize = 10_000;
    let home = dir.join("watch-home/.skillmeat");
    synthetic::write_skills(&home.join("collections/default"), SKILLS).unwrap();
    let mut settings = Settings {
        data_home: home.display().to_string(),
        listen: "127.0.0.1:0".into(),
        ..Settings::default()
    };
    settings.database.url = format!("sqlite://{}", dir.join("watch-cache.db").display());
    settings.cache.refresh_interval_secs = 0;
    settings.jobs.purge_interval_secs = 0;
    let app = skillmeat_server::startup::Application::build(settings)
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let resp = client.get(format!("{base}{path}")).send().await.unwrap();
            let json: serde_json::Value = resp.json().await.unwrap_or_default();
            json
        }
    };
    // The start-up warm fills the cache first.
    loop {
        let status = get("/api/v1/cache/status".into()).await;
        if status["refreshing"] == false && status["entries"] == SKILLS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut latencies = Vec::new();
    for round in 0..20 {
        let i = (round * 487) % SKILLS;
        let file = home.join(format!("collections/default/skills/skill-{i:05}/SKILL.md"));
        let wanted = format!("Edited {round}");
        let started = Instant::now();
        std::fs::write(&file, format!("---\ndescription: {wanted}\n---\n")).unwrap();
        loop {
            let a = get(format!("/api/v1/artifacts/skill:skill-{i:05}")).await;
            if a["metadata"]["description"] == wanted.as_str() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "edit {round} never showed"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(started.elapsed());
    }
    // Idle: nothing changes; the watcher, the job workers' polls and the server wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_for = Duration::from_secs(20);
    let cpu_before = cpu_time();
    tokio::time::sleep(idle_for).await;
    let idle_cpu = (cpu_time() - cpu_before).as_secs_f64() / idle_for.as_secs_f64() * 100.0;
    let ready = get("/health/ready".into()).await;
    let _ = stop_tx.send(());
    let _ = server.await;

    say!("\n| figure (file watcher, {SKILLS} artifacts, debounce 300 ms) | p50 | p95 | target |");
    say!("|---|---|---|---|");
    row(
        "file write to the API showing it".into(),
        &mut latencies,
        "p95 under 1 s",
    );
    say!(
        "\nserver process CPU while idle (watcher, job workers, HTTP server; {} s): {idle_cpu:.2}% of one core (target: under 1%); watcher: {}",
        idle_for.as_secs(),
        ready["watcher"]
    );
}

/// The job runner's work over 10,000 artifacts: a full warm of a cold cache, refreshes with
/// nothing changed, with every TTL expired, and with 1% changed, then the HTTP p99 of cached
/// reads while a forced refresh runs, against idle.
async fn job_runner(dir: &Path) {
    use skillmeat_server::jobs::{refresh, warm};
    use skillmeat_server::scope::Scope;
    const SKILLS: usize = 10_000;
    let home = dir.join("jobs-home/.skillmeat");
    synthetic::write_skills(&home.join("collections/default"), SKILLS).unwrap();
    let mut settings = Settings {
        data_home: home.display().to_string(),
        listen: "127.0.0.1:0".into(),
        ..Settings::default()
    };
    settings.database.url = format!("sqlite://{}", dir.join("jobs-cache.db").display());
    settings.cache.refresh_interval_secs = 0;
    settings.jobs.purge_interval_secs = 0;
    settings.jobs.poll_interval_ms = 20;
    let state = build_state(settings.clone()).await.unwrap();
    let services = state.job_services();
    let refresh_all = |force: bool| {
        refresh::refresh(
            refresh::RefreshJob {
                scope: Scope::All,
                force,
            },
            services.clone(),
        )
    };

    let started = Instant::now();
    let warm = warm::warm(warm::WarmJob, services.clone()).await.unwrap();
    let warm_time = started.elapsed();
    assert_eq!(warm.added as usize, SKILLS);

    let mut unchanged = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let r = refresh_all(false).await.unwrap();
        unchanged.push(started.elapsed());
        assert_eq!((r.refreshed, r.added, r.removed), (0, 0, 0));
    }

    let db = &state.db;
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "UPDATE cached_artifacts SET expires_at = '2000-01-01 00:00:00+00:00'",
    ))
    .await
    .unwrap();
    let started = Instant::now();
    let r = refresh_all(false).await.unwrap();
    let all_expired = started.elapsed();
    assert_eq!(r.refreshed, 0);

    let mut changed = Vec::new();
    for round in 0..3 {
        for i in (round..SKILLS).step_by(100) {
            let file = home.join(format!("collections/default/skills/skill-{i:05}/SKILL.md"));
            let mut text = std::fs::read_to_string(&file).unwrap();
            text.push_str(&format!("edit {round}\n"));
            std::fs::write(&file, text).unwrap();
        }
        let started = Instant::now();
        let r = refresh_all(false).await.unwrap();
        changed.push(started.elapsed());
        assert_eq!(r.refreshed as usize, SKILLS / 100);
    }

    // Real HTTP: the server binary's code path, on a port, with its job runner.
    let app = skillmeat_server::startup::Application::build(settings)
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::new();
    let job_status = |id: i64| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let job: serde_json::Value = client
                .get(format!("{base}/api/v1/jobs/{id}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            job
        }
    };
    // Let the start-up warm (nothing to do) finish first.
    loop {
        let status: serde_json::Value = client
            .get(format!("{base}/api/v1/cache/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["refreshing"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let read = |i: usize| {
        let client = client.clone();
        let url = format!(
            "{base}/api/v1/artifacts/skill:skill-{:05}",
            (i * 7919) % SKILLS
        );
        async move {
            let started = Instant::now();
            let resp = client.get(url).send().await.unwrap();
            assert!(resp.status().is_success());
            let _ = resp.bytes().await.unwrap();
            started.elapsed()
        }
    };
    let mut idle = Vec::new();
    for i in 0..2000 {
        idle.push(read(i).await);
    }
    let accepted: serde_json::Value = client
        .post(format!("{base}/api/v1/cache/refresh"))
        .json(&serde_json::json!({"force": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = accepted["job"]["id"].as_i64().unwrap();
    while job_status(id).await["status"] == "queued" {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut busy = Vec::new();
    let mut i = 0;
    loop {
        busy.push(read(i).await);
        i += 1;
        if i % 50 == 0 {
            let status = job_status(id).await["status"].clone();
            if status == "succeeded" || status == "failed" {
                break;
            }
        }
    }
    let job = job_status(id).await;
    let _ = stop_tx.send(());
    let _ = server.await;

    say!("\n| figure ({SKILLS} artifacts) | p50 | p95 | target |");
    say!("|---|---|---|---|");
    say!(
        "| full warm, cold cache (reads and hashes all) | {} | | under 10 s |",
        ms(warm_time)
    );
    row(
        "refresh, nothing changed".into(),
        &mut unchanged,
        "under 1 s",
    );
    say!(
        "| refresh, nothing changed, every TTL expired | {} | | under 1 s |",
        ms(all_expired)
    );
    row("refresh, 1% changed".into(), &mut changed, "under 2 s");
    let idle_p99 = percentile(&mut idle, 0.99);
    let busy_p99 = percentile(&mut busy, 0.99);
    say!(
        "| HTTP cached read, idle ({} reads): p50 / p99 | {} | {} (p99) | |",
        idle.len(),
        ms(percentile(&mut idle, 0.5)),
        ms(idle_p99)
    );
    say!(
        "| HTTP cached read during a forced refresh ({} reads): p50 / p99 | {} | {} (p99) | p99 within 2x of idle |",
        busy.len(),
        ms(percentile(&mut busy, 0.5)),
        ms(busy_p99)
    );
    say!(
        "\nforced refresh ran {} ms ({}); p99 during it / idle p99 = {:.2}x (target: at most 2x)",
        job["duration_ms"],
        job["status"],
        busy_p99.as_secs_f64() / idle_p99.as_secs_f64()
    );
}

/// One line about this machine: CPU model and count, memory, kernel, compiler.
const FLOOR_HEADING: &str = "## Side by side with a hello-world server";

const FLOOR_NOTES: &str = "A hello-world poem server (this bench binary started again with \
`--serve-floor`: routing and HTTP, nothing else) and the release build of `skillmeat-server` \
over 1,075 generated artifacts in 5 collections (SQLite, job runner and watcher running), both \
on 127.0.0.1 and both driven by `wrk` (2 threads) in the same run: 8 connections for 5 s per \
endpoint after a 1 s warm-up for requests/s, 1 connection for 3 s for the latency at rest. \
Each endpoint's run follows a run of the floor, and its share is of that floor run, so the \
shares hold on any machine and a drift in the machine's speed during the run cancels out (the \
floor's row gives the mean and range of those runs); `wrk` shares the CPUs with the server. \
`cargo bench -- floor` runs this part alone and rewrites only this section.";

/// Replaces the section under `heading` in docs/benchmarks.md (up to the next `## `) with
/// `section`, or appends it.
fn replace_section(heading: &str, section: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let section = section.trim_start_matches('\n');
    let new = match text.find(heading) {
        Some(start) => {
            let rest = &text[start + heading.len()..];
            let end = rest
                .find("\n## ")
                .map(|i| start + heading.len() + i + 1)
                .unwrap_or(text.len());
            format!("{}{section}\n{}", &text[..start], &text[end..])
        }
        None => format!("{}\n{section}", text.trim_end()),
    };
    std::fs::write(&path, new).unwrap();
    println!("\nrewrote the side-by-side section of {}", path.display());
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_default();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{cpus} x {model}, {memory_gib:.0} GiB RAM, Linux {kernel}, {rustc}, bench (release) profile, SQLite in WAL mode on local disk"
    )
}

/// Writes docs/benchmarks.md: what was measured, when, where, and every figure printed.
fn write_report() {
    let report = REPORT.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let text = format!(
        "---\ntitle: Benchmarks\ndescription: Every benchmark of the server, its figures and \
         targets, with the machine and date they were taken on.\n---\n\n# Benchmarks\n\n\
         Written by `cargo bench` (`benches/server.rs`) from what it measured; do not edit by \
         hand. It generates its data (1,000 and 10,000 artifacts, 10,000 deployments). \
         `cargo bench -- cache deployments jobs watch http load floor` names parts to run alone (a partial \
         run leaves this file as it is). Figures are wall-clock; p50/p95/p99 over the runs shown. \
         Runs on a shared machine vary by about 20%.\n\n\
         Taken {} on {}.\n{report}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine()
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    std::fs::write(&path, text).unwrap();
    println!("\nwrote {}", path.display());
}

/// The release binary as its own process on a free loopback port.
struct ReleaseServer {
    child: std::process::Child,
    base: String,
}

impl ReleaseServer {
    /// Starts it over `home` and `database_url` with `env` added, and waits until its
    /// start-up warm finished.
    async fn start(home: &Path, database_url: &str, env: &[(&str, &str)]) -> ReleaseServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
            .arg("serve")
            .env("SKILLMEAT_DATA_HOME", home)
            .env("SKILLMEAT_LISTEN", format!("127.0.0.1:{port}"))
            .env("SKILLMEAT_DATABASE__URL", database_url)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the release binary");
        let server = ReleaseServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = client
                .get(format!("{}/api/v1/cache/status", server.base))
                .send()
                .await
                && let Ok(status) = r.json::<serde_json::Value>().await
                && status["last_refresh_at"].is_string()
                && status["refreshing"] == serde_json::json!(false)
            {
                return server;
            }
            assert!(Instant::now() < deadline, "the server did not warm up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its process id.
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, as in production, and waits for it to exit.
    fn stop(mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// The release binary under load on 127.0.0.1: requests/s, p50 and p99 per endpoint.
async fn http_load(dir: &Path) {
    const CONNECTIONS: usize = 16;
    const WARM_UP: Duration = Duration::from_secs(1);
    const RUN: Duration = Duration::from_secs(4);
    let home = dir.join("http-home/.skillmeat");
    let ids = synthetic::write_collection(&home.join("collections/default"), ARTIFACTS).unwrap();
    let db_file = dir.join("http-cache.db");
    let database_url = format!("sqlite://{}", db_file.display());
    let server = ReleaseServer::start(&home, &database_url, &[]).await;
    let (base, client) = (server.base.clone(), reqwest::Client::new());
    let db = sea_orm::Database::connect(&database_url).await.unwrap();
    synthetic::insert_deployments(&db, 100, 100).await.unwrap();
    for g in 0..5 {
        let group: serde_json::Value = client
            .post(format!("{base}/api/v1/groups"))
            .json(&serde_json::json!({"collection_id": "default", "name": format!("Group {g}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let members: Vec<&String> = ids.iter().skip(g).step_by(50).collect();
        let r = client
            .post(format!(
                "{base}/api/v1/groups/{}/artifacts",
                group["id"].as_str().unwrap()
            ))
            .json(&serde_json::json!({ "artifact_ids": members }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    say!("| endpoint | requests/s | p50 | p99 | errors |");
    say!("|---|---|---|---|---|");
    let detail_paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/api/v1/artifacts/{id}"))
        .collect();
    let endpoints: Vec<(&str, Vec<String>)> = vec![
        ("artifact detail, cache hit", detail_paths),
        (
            "artifact list page of 50",
            vec!["/api/v1/artifacts?limit=50".into()],
        ),
        ("collections list", vec!["/api/v1/user-collections".into()]),
        (
            "groups list",
            vec!["/api/v1/groups?collection_id=default".into()],
        ),
        (
            "deployment summary",
            vec!["/api/v1/deployments/summary".into()],
        ),
    ];
    for (label, paths) in endpoints {
        let paths = std::sync::Arc::new(paths);
        let run = |measure: bool| {
            let mut workers = Vec::new();
            for worker in 0..CONNECTIONS {
                let client = client.clone();
                let paths = paths.clone();
                let base = base.clone();
                workers.push(tokio::spawn(async move {
                    let length = if measure { RUN } else { WARM_UP };
                    let until = Instant::now() + length;
                    let mut samples = Vec::new();
                    let mut errors = 0usize;
                    let mut i = worker;
                    while Instant::now() < until {
                        let path = &paths[i % paths.len()];
                        i += CONNECTIONS;
                        let started = Instant::now();
                        match client.get(format!("{base}{path}")).send().await {
                            Ok(r) if r.status().is_success() => {
                                let _ = r.bytes().await;
                                samples.push(started.elapsed());
                            }
                            _ => errors += 1,
                        }
                    }
                    (samples, errors)
                }));
            }
            workers
        };
        for w in run(false) {
            w.await.unwrap();
        }
        let mut samples = Vec::new();
        let mut errors = 0;
        for w in run(true) {
            let (s, e) = w.await.unwrap();
            samples.extend(s);
            errors += e;
        }
        let rate = samples.len() as f64 / RUN.as_secs_f64();
        say!(
            "| {label} | {rate:.0} | {} | {} | {errors} |",
            ms(percentile(&mut samples, 0.5)),
            ms(percentile(&mut samples, 0.99))
        );
        assert_eq!(errors, 0, "{label}: {errors} requests failed");
    }
    server.stop();
}

/// Mixed reads and writes against the release binary for `BENCH_LOAD_SECS` (60) per backend,
/// while scheduled and forced refreshes run: counts of 5xx and "database is locked", p50/p99.
async fn mixed_load(dir: &Path) {
    let seconds: u64 = std::env::var("BENCH_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    say!(
        "| backend | requests | requests/s | reads p50 | reads p99 | writes p50 | writes p99 | 5xx | database is locked | refreshes during the run |"
    );
    say!("|---|---|---|---|---|---|---|---|---|---|");
    let sqlite = format!("sqlite://{}", dir.join("load-cache.db").display());
    mixed_load_on(dir, "SQLite", sqlite, seconds).await;
    let admin = std::env::var("SKILLMEAT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("skillmeat_bench_{}", std::process::id());
    match sea_orm::Database::connect(&admin).await {
        Ok(db) => {
            db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .unwrap();
            let (server, _) = admin.rsplit_once('/').unwrap();
            mixed_load_on(dir, "PostgreSQL", format!("{server}/{name}"), seconds).await;
            let _ = db
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
        Err(e) => say!("| PostgreSQL | not run: {e} | | | | | | | | |"),
    }
}

/// Failed answers of a load run.
#[derive(Default)]
struct Tally {
    /// 5xx answers and requests that got no answer.
    server_errors: usize,
    /// Bodies that say "database is locked".
    locked: usize,
}

impl Tally {
    fn check(&mut self, status: reqwest::StatusCode, body: &str) {
        if status.is_server_error() {
            self.server_errors += 1;
        }
        if body.contains("database is locked") {
            self.locked += 1;
        }
    }
}

async fn mixed_load_on(dir: &Path, backend: &str, database_url: String, seconds: u64) {
    const CONNECTIONS: usize = 16;
    let home = dir.join(format!("load-home-{backend}/.skillmeat"));
    let ids = synthetic::write_collection(&home.join("collections/default"), ARTIFACTS).unwrap();
    let server = ReleaseServer::start(
        &home,
        &database_url,
        &[("SKILLMEAT_CACHE__REFRESH_INTERVAL_SECS", "5")],
    )
    .await;
    let (base, client) = (server.base.clone(), reqwest::Client::new());
    let ids = std::sync::Arc::new(ids);
    let until = Instant::now() + Duration::from_secs(seconds);
    // A forced refresh of everything every 10 s, on top of the 5 s schedule.
    let forcer = {
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(async move {
            while Instant::now() < until {
                let _ = client
                    .post(format!("{base}/api/v1/cache/refresh"))
                    .json(&serde_json::json!({"force": true}))
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        })
    };
    let mut workers = Vec::new();
    for worker in 0..CONNECTIONS {
        let (client, base, ids) = (client.clone(), base.clone(), ids.clone());
        workers.push(tokio::spawn(async move {
            let mut reads = Vec::new();
            let mut writes = Vec::new();
            let mut tally = Tally::default();
            // Each worker organises its own collection: groups created, filled, reordered, deleted.
            let collection: serde_json::Value = client
                .post(format!("{base}/api/v1/user-collections"))
                .json(&serde_json::json!({"name": format!("load-{worker}")}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let collection = collection["id"].as_str().unwrap_or_default().to_string();
            let mut i = worker;
            while Instant::now() < until {
                i += 1;
                let started = Instant::now();
                if i % 10 < 7 {
                    let path = match i % 5 {
                        0 => format!("/api/v1/artifacts/{}", ids[i * 7 % ids.len()]),
                        1 => "/api/v1/artifacts?limit=50&type=skill".to_string(),
                        2 => "/api/v1/user-collections".to_string(),
                        3 => format!("/api/v1/groups?collection_id={collection}"),
                        _ => "/api/v1/deployments/summary".to_string(),
                    };
                    if let Ok(r) = client.get(format!("{base}{path}")).send().await {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        tally.check(status, &body);
                        reads.push(started.elapsed());
                    } else {
                        tally.server_errors += 1;
                    }
                } else {
                    let group = client
                        .post(format!("{base}/api/v1/groups"))
                        .json(&serde_json::json!({"collection_id": collection, "name": format!("g{i}")}))
                        .send()
                        .await;
                    let Ok(group) = group else {
                        tally.server_errors += 1;
                        continue;
                    };
                    let status = group.status();
                    let body = group.text().await.unwrap_or_default();
                    tally.check(status, &body);
                    writes.push(started.elapsed());
                    let id = serde_json::from_str::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|g| g["id"].as_str().map(String::from));
                    if let Some(id) = id {
                        let members = [&ids[i % ids.len()], &ids[(i + 1) % ids.len()]];
                        for request in [
                            client
                                .post(format!("{base}/api/v1/groups/{id}/artifacts"))
                                .json(&serde_json::json!({"artifact_ids": members})),
                            client
                                .put(format!("{base}/api/v1/groups/{id}/artifacts/order"))
                                .json(&serde_json::json!({"artifact_ids": [members[1], members[0]]})),
                            client.delete(format!("{base}/api/v1/groups/{id}")),
                        ] {
                            let started = Instant::now();
                            match request.send().await {
                                Ok(r) => {
                                    let status = r.status();
                                    let body = r.text().await.unwrap_or_default();
                                    tally.check(status, &body);
                                    writes.push(started.elapsed());
                                }
                                Err(_) => tally.server_errors += 1,
                            }
                        }
                    }
                }
            }
            (reads, writes, tally.server_errors, tally.locked)
        }));
    }
    let (mut reads, mut writes, mut server_errors, mut locked) = (Vec::new(), Vec::new(), 0, 0);
    for w in workers {
        let (r, wr, e, l) = w.await.unwrap();
        reads.extend(r);
        writes.extend(wr);
        server_errors += e;
        locked += l;
    }
    forcer.await.unwrap();
    let runs: serde_json::Value = client
        .get(format!("{base}/api/v1/jobs?kind=refresh&limit=500"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refreshes = runs["items"].as_array().map(|a| a.len()).unwrap_or(0);
    let total = reads.len() + writes.len();
    say!(
        "| {backend} | {total} | {:.0} | {} | {} | {} | {} | {server_errors} | {locked} | {refreshes} |",
        total as f64 / seconds as f64,
        ms(percentile(&mut reads, 0.5)),
        ms(percentile(&mut reads, 0.99)),
        ms(percentile(&mut writes, 0.5)),
        ms(percentile(&mut writes, 0.99)),
    );
    server.stop();
    assert_eq!(server_errors, 0, "{backend}: server errors under load");
    assert_eq!(locked, 0, "{backend}: 'database is locked' under load");
}
