//! Side by side with the machine's floor: a hello-world poem server (this bench binary started
//! again with `--serve-floor`) and the release server over a generated home of the shape of a
//! real one (1,075 artifacts, 5 collections), both driven by `wrk` in one run, so the ratios
//! hold on any machine. Requests/s at 8 connections, latency at 1 and 8, resident memory,
//! each against its target; a missed target is printed as missed.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use skillmeat_server::synthetic;

use super::{REPORT, ReleaseServer};

/// Artifacts in the generated home (as many as the SkillMeat-made home that set the targets).
const ARTIFACTS: usize = 1_075;

/// The argument that makes this binary the hello-world server.
pub const SERVE_FLOOR: &str = "--serve-floor";

/// Serves `GET /` with "hello" on `port` until killed: the floor every endpoint is measured
/// against (poem's routing and HTTP handling, nothing else).
pub async fn serve_floor(port: &str) {
    use poem::{Route, Server, get, handler, listener::TcpListener};
    #[handler]
    fn hello() -> &'static str {
        "hello"
    }
    Server::new(TcpListener::bind(format!("127.0.0.1:{port}")))
        .run(Route::new().at("/", get(hello)))
        .await
        .expect("the floor server");
}

/// One `wrk` run: requests/s and the mean latency.
struct Wrk {
    requests_per_sec: f64,
    latency: Duration,
}

/// Runs `wrk` against `url` with `connections` for `seconds`.
fn wrk(url: &str, connections: usize, seconds: u64) -> Wrk {
    let threads = connections.min(2).to_string();
    let out = Command::new("wrk")
        .args([
            "-t",
            &threads,
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{seconds}s"),
            url,
        ])
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("Non-2xx"),
        "{url} answered errors under load:\n{text}"
    );
    let requests_per_sec = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"));
    let latency = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Latency"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(parse_duration)
        .unwrap_or_else(|| panic!("no latency in wrk's output:\n{text}"));
    Wrk {
        requests_per_sec,
        latency,
    }
}

/// `203.00us`, `1.20ms`, `1.01s` as wrk prints them.
fn parse_duration(v: &str) -> Option<Duration> {
    let (number, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = number.parse().ok()?;
    let secs = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

/// Resident memory of process `pid` in MB.
fn resident_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Floor(Child);

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

/// The side-by-side part; `false` when `wrk` is not installed (nothing measured).
pub async fn side_by_side(dir: &Path) -> bool {
    if Command::new("wrk").arg("--version").output().is_err() {
        say!("`wrk` is not installed (Debian: `apt-get install wrk`); nothing was measured.");
        return false;
    }
    let port = free_port();
    let floor = Floor(
        Command::new(std::env::current_exe().unwrap())
            .args([SERVE_FLOOR, &port.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .expect("start the floor server"),
    );
    let floor_url = format!("http://127.0.0.1:{port}/");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(&floor_url).send().await.is_err() {
        assert!(Instant::now() < deadline, "the floor server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let home = dir.join("floor-home/.skillmeat");
    let ids = synthetic::write_collection(&home.join("collections/default"), ARTIFACTS).unwrap();
    let database_url = format!("sqlite://{}", dir.join("floor-cache.db").display());
    let started = Instant::now();
    let server = ReleaseServer::start(&home, &database_url, &[]).await;
    let warm = started.elapsed();
    let base = server.base.clone();
    for c in 0..4 {
        let made: serde_json::Value = client
            .post(format!("{base}/api/v1/user-collections"))
            .json(&serde_json::json!({ "name": format!("Collection {c}") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let members: Vec<&String> = ids.iter().skip(c).step_by(5).collect();
        let r = client
            .post(format!(
                "{base}/api/v1/user-collections/{}/artifacts",
                made["id"].as_str().unwrap()
            ))
            .json(&serde_json::json!({ "artifact_ids": members }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    // "After serving the home": every artifact listed and read once.
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/artifacts?limit=500");
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page: serde_json::Value = client.get(url).send().await.unwrap().json().await.unwrap();
        after = page["page_info"]["end_cursor"].as_str().map(String::from);
        if page["page_info"]["has_next_page"] != true {
            break;
        }
    }
    for id in &ids {
        let r = client
            .get(format!("{base}/api/v1/artifacts/{id}"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let memory = resident_mb(server.pid());

    let floor_one = wrk(&floor_url, 1, 3);
    let endpoints = [
        (
            "`GET /api/v1/artifacts/{id}` (cache hit)",
            format!("/api/v1/artifacts/{}", ids[ids.len() / 2]),
            25.0,
        ),
        (
            "`GET /api/v1/artifacts?limit=20`",
            "/api/v1/artifacts?limit=20".to_string(),
            10.0,
        ),
        (
            "`GET /api/v1/user-collections` (5 collections)",
            "/api/v1/user-collections".to_string(),
            10.0,
        ),
        (
            "`GET /api/v1/user-collections/default/artifacts?limit=20`",
            "/api/v1/user-collections/default/artifacts?limit=20".to_string(),
            10.0,
        ),
        ("`/health`", "/health".to_string(), 60.0),
    ];
    let mut missed = 0;
    let mut floor_runs: Vec<Wrk> = Vec::new();
    let mut rows = Vec::new();
    for (label, path, target) in endpoints {
        let url = format!("{base}{path}");
        let _ = wrk(&url, 8, 1);
        // The floor right before: its share is of what the machine did just then.
        let floor_now = wrk(&floor_url, 8, 5);
        let eight = wrk(&url, 8, 5);
        let one = wrk(&url, 1, 3);
        let share = 100.0 * eight.requests_per_sec / floor_now.requests_per_sec;
        floor_runs.push(floor_now);
        let met = share >= target;
        missed += usize::from(!met);
        rows.push(format!(
            "| {label} | {:.0} | {share:.1}% | at least {target:.0}%: {} | {:.0} us | {:.0} us |",
            eight.requests_per_sec,
            verdict(met),
            one.latency.as_secs_f64() * 1e6,
            eight.latency.as_secs_f64() * 1e6
        ));
    }
    let per_sec: Vec<f64> = floor_runs.iter().map(|r| r.requests_per_sec).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let latencies: Vec<f64> = floor_runs
        .iter()
        .map(|r| r.latency.as_secs_f64() * 1e6)
        .collect();
    say!(
        "| endpoint | requests/s (8 conn.) | share of the floor | target | latency, 1 conn. | latency, 8 conn. |"
    );
    say!("|---|---|---|---|---|---|");
    say!(
        "| hello-world poem (the floor; mean of {} runs, {:.0} to {:.0}) | {:.0} | 100% | | {:.0} us | {:.0} us |",
        per_sec.len(),
        per_sec.iter().copied().fold(f64::INFINITY, f64::min),
        per_sec.iter().copied().fold(0.0, f64::max),
        mean(&per_sec),
        floor_one.latency.as_secs_f64() * 1e6,
        mean(&latencies)
    );
    for row in rows {
        say!("{row}");
    }
    let memory_met = memory < 50.0;
    missed += usize::from(!memory_met);
    say!(
        "\nResident memory after listing and reading all {ARTIFACTS} artifacts: {memory:.1} MB \
         (target under 50 MB: {}). Start-up to a warm cache: {:.2} s.",
        verdict(memory_met),
        warm.as_secs_f64()
    );
    say!("\n{missed} of 6 side-by-side targets missed.");
    drop(floor);
    server.stop();
    true
}
