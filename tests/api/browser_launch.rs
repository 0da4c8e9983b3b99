//! Starting the browser the UI tests drive: Debian's Chromium through chromedriver (the
//! default), or Firefox ESR through geckodriver with `SKILLMEAT_BROWSER=firefox`. `.ci/run`
//! runs the browser tests in both.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;

/// A browser the suite can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Chromium and chromedriver.
    Chromium,
    /// Firefox ESR and geckodriver.
    Firefox,
}

impl Engine {
    /// `SKILLMEAT_BROWSER` (`firefox` or `chromium`, the default).
    pub fn from_env() -> Engine {
        match std::env::var("SKILLMEAT_BROWSER").as_deref() {
            Ok("firefox") => Engine::Firefox,
            _ => Engine::Chromium,
        }
    }

    /// Its name in messages and folders.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
        }
    }

    /// The WebDriver server and the browser binary (each overridable by an environment
    /// variable).
    fn paths(self) -> (PathBuf, PathBuf) {
        let env_or = |var: &str, default: PathBuf| {
            std::env::var_os(var).map(PathBuf::from).unwrap_or(default)
        };
        match self {
            Engine::Chromium => (
                env_or("CHROMEDRIVER", "/usr/bin/chromedriver".into()),
                env_or("CHROMIUM", "/usr/bin/chromium".into()),
            ),
            Engine::Firefox => (
                // `cargo install geckodriver --root target/tools` puts it here (.ci/run does).
                env_or(
                    "GECKODRIVER",
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bin/geckodriver"),
                ),
                env_or("FIREFOX", "/usr/bin/firefox-esr".into()),
            ),
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Engine::Chromium => "install Debian's chromium and chromium-driver",
            Engine::Firefox => {
                "install Debian's firefox-esr, and geckodriver with `cargo install geckodriver --root target/tools`"
            }
        }
    }
}

/// Starts the driver and a headless browser session at 1280 x 900, or `None` (after saying
/// so) when they are not installed and this is not CI, where their absence fails the test.
pub async fn launch(engine: Engine) -> Option<(Client, Child)> {
    let (driver_path, binary) = engine.paths();
    if !driver_path.exists() || !binary.exists() {
        let message = format!(
            "BROWSER TESTS SKIPPED: {} or {} is missing; {} (bash .ci/run does) to run them",
            driver_path.display(),
            binary.display(),
            engine.install_hint()
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("\n*** {message} ***\n");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(&driver_path);
    match engine {
        Engine::Chromium => command.arg(format!("--port={port}")),
        Engine::Firefox => command.args(["--port", &port.to_string(), "--log", "fatal"]),
    };
    let driver = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the WebDriver server");
    let mut caps = serde_json::Map::new();
    match engine {
        Engine::Chromium => {
            caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
            caps.insert(
                "goog:chromeOptions".into(),
                json!({
                    "binary": binary,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1280,900"],
                }),
            );
        }
        Engine::Firefox => {
            caps.insert("browserName".into(), json!("firefox"));
            caps.insert(
                "moz:firefoxOptions".into(),
                json!({ "binary": binary, "args": ["-headless"] }),
            );
        }
    }
    // Two TLS backends are in the dependency tree; pick one for the WebDriver client (it only
    // talks plain HTTP to the driver, but the builder wants a provider).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = loop {
        let attempt = ClientBuilder::rustls()
            .expect("TLS roots")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match attempt {
            Ok(client) => break client,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "{} did not start: {e}",
                    engine.name()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    client
        .set_window_size(1280, 900)
        .await
        .expect("window size");
    Some((client, driver))
}
