//! The browser harness of the UI tests: a headless Chromium or Firefox ([`browser_launch`]),
//! with the helpers the tests share (waiting, clicking, dragging, the console log, axe-core audits,
//! screenshots). Without a browser a test says so loudly and passes; under CI (`CI=true`) a
//! missing browser fails it.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::{Client, Locator};

use crate::browser_launch::{Engine, launch};
use serde_json::{Value, json};

/// chromedriver and one browser session; both end when dropped.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    engine: Engine,
}

impl Browser {
    /// A headless browser ([`Engine::from_env`]), or None (after saying so) when it is not
    /// installed and this is not CI.
    pub async fn start() -> Option<Browser> {
        let engine = Engine::from_env();
        let (client, driver) = launch(engine).await?;
        Some(Browser {
            client: Some(client),
            driver,
            engine,
        })
    }

    /// True when [`Browser::console_errors`] can see the console (chromedriver's log; Firefox's
    /// driver offers none).
    pub fn reads_console(&self) -> bool {
        self.engine == Engine::Chromium
    }

    /// Opens `url`, first saving the page script's coverage counters of the page shown when
    /// the tests measure it (`scripts/js-coverage`).
    pub async fn goto(&self, url: &str) {
        self.save_js_coverage().await;
        self.c().goto(url).await.expect("open the page");
    }

    /// Leaves the page shown for a blank one, before its server stops: an open page would
    /// write the lost event stream into the console the next check reads.
    pub async fn leave(&self) {
        self.goto("about:blank").await;
    }

    /// Writes the coverage counters of the page shown, and of the pages of its origin that
    /// went away since (the instrumented script keeps them in localStorage), into
    /// `JS_COVERAGE_DIR`. Nothing without that variable.
    async fn save_js_coverage(&self) {
        let Some(dir) = std::env::var_os("JS_COVERAGE_DIR") else {
            return;
        };
        let saved = self
            .c()
            .execute(
                "const out = [];
                 if (window.__coverage__) out.push(JSON.stringify(window.__coverage__));
                 try {
                   for (const k of Object.keys(localStorage)) {
                     if (k.startsWith('__coverage__')) { out.push(localStorage.getItem(k)); localStorage.removeItem(k); }
                   }
                 } catch (e) {}
                 return out;",
                vec![],
            )
            .await;
        let Ok(Value::Array(dumps)) = saved else {
            return;
        };
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        for (i, dump) in dumps.iter().enumerate() {
            if let Some(json) = dump.as_str() {
                let name = format!(
                    "{}-{}-{stamp}-{i}.json",
                    self.engine.name(),
                    std::process::id()
                );
                std::fs::write(dir.join(name), json).unwrap();
            }
        }
    }

    pub fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Evaluates `script` (a function body) and returns its value.
    pub async fn js(&self, script: &str) -> Value {
        self.c().execute(script, vec![]).await.expect("script runs")
    }

    /// Waits until `script` returns true (20 s at most).
    pub async fn until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.js(script).await == json!(true) {
                return;
            }
            if Instant::now() >= deadline {
                let seen = self
                    .js("return location.href + ' | ' + (document.body ? document.body.innerText.slice(0, 400) : '');")
                    .await;
                panic!("timed out waiting for {what}; the page: {seen}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for a toast whose text starts with `starts`.
    pub async fn toast(&self, what: &str, starts: &str) {
        self.until(
            what,
            &format!(
                "return [...document.querySelectorAll('#toasts .toast')].some(t => t.textContent.startsWith({}));",
                serde_json::json!(starts)
            ),
        )
        .await;
    }

    /// Clicks the element `css` selects, finding it again when a re-render replaced it
    /// between finding and clicking (htmx swaps parts of the page as events arrive).
    pub async fn click_css(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let attempt = match self.c().find(Locator::Css(css)).await {
                Ok(element) => element.click().await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(()) => return,
                Err(e) => {
                    assert!(Instant::now() < deadline, "cannot click {css}: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Drags the element `from` selects onto the one `to` selects with the mouse (pointer
    /// down, moves, up), as a person reordering with a mouse does. Starts again when a
    /// re-render replaced either element midway.
    pub async fn drag(&self, from: &str, to: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.js(&format!(
                "document.querySelector({from:?})?.scrollIntoView({{block: 'center'}}); return true;"
            ))
            .await;
            let attempt = async {
                let source = self.c().find(Locator::Css(from)).await?;
                let target = self.c().find(Locator::Css(to)).await?;
                let mouse = MouseActions::new("mouse".into())
                    .then(PointerAction::MoveToElement {
                        element: source,
                        duration: None,
                        x: 0.0,
                        y: 0.0,
                    })
                    .then(PointerAction::Down {
                        button: MOUSE_BUTTON_LEFT,
                    })
                    .then(PointerAction::MoveToElement {
                        element: target,
                        duration: Some(Duration::from_millis(250)),
                        x: 0.0,
                        y: 0.0,
                    })
                    .then(PointerAction::MoveBy {
                        duration: Some(Duration::from_millis(50)),
                        x: 0.0,
                        y: 2.0,
                    })
                    .then(PointerAction::Up {
                        button: MOUSE_BUTTON_LEFT,
                    });
                self.c().perform_actions(mouse).await
            };
            match attempt.await {
                Ok(()) => return,
                Err(e) => {
                    // Let go of the button a failed sequence may have left pressed.
                    let _ = self.c().release_actions().await;
                    assert!(Instant::now() < deadline, "cannot drag {from}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Runs axe-core on the page; returns the serious and critical violations.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        let axe = axe_core_source();
        self.c()
            .execute(&axe, vec![])
            .await
            .expect("inject axe-core");
        let result = self
            .c()
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document).then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' +
                          v.nodes.map(n => n.target.join(' ')).join(', '))));",
                vec![],
            )
            .await
            .expect("axe runs");
        serde_json::from_value(result).unwrap()
    }

    /// No horizontal scrolling at a phone's width (375 px).
    pub async fn fits_a_phone(&self, url: &str) {
        self.c().set_window_size(375, 800).await.unwrap();
        self.goto(url).await;
        let overflow = self
            .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
            .await;
        assert_eq!(overflow, json!(0), "{url} scrolls sideways at 375 px");
        self.c().set_window_size(1280, 900).await.unwrap();
    }

    /// Asserts that at `width` px neither the page nor any table in it scrolls sideways (a
    /// table's wrapper would hide cut columns from [`Browser::fits_a_phone`]).
    pub async fn tables_fit(&self, url: &str, width: u32) {
        self.c().set_window_size(width, 900).await.unwrap();
        self.goto(url).await;
        let overflow = self
            .js("const page = document.documentElement.scrollWidth - document.documentElement.clientWidth;
                 const tables = [...document.querySelectorAll('.table-wrap')]
                   .map((w) => w.scrollWidth - w.clientWidth);
                 return [page, ...tables].filter((n) => n > 0);")
            .await;
        assert_eq!(overflow, json!([]), "{url} scrolls sideways at {width} px");
        self.c().set_window_size(1280, 900).await.unwrap();
    }

    /// Saves a screenshot under target/screenshots, and into docs/user-guide/img when
    /// SKILLMEAT_UPDATE_SCREENSHOTS is set.
    pub async fn screenshot(&self, name: &str) {
        let png = self.c().screenshot().await.expect("screenshot");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        // The guide's pictures come from Chromium; Firefox's go beside them in target/.
        if self.engine == Engine::Firefox {
            let dir = root.join("target/screenshots/firefox");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
            return;
        }
        let mut targets = vec![root.join("target/screenshots")];
        if std::env::var_os("SKILLMEAT_UPDATE_SCREENSHOTS").is_some() {
            targets.push(root.join("docs/user-guide/img"));
        }
        for dir in targets {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        }
    }
}

/// chromedriver's log endpoint (not part of the W3C protocol, so fantoccini has no method).
#[derive(Debug)]
pub struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (poem::http::Method, Option<String>) {
        (
            poem::http::Method::POST,
            Some(r#"{"type":"browser"}"#.into()),
        )
    }
}

impl Browser {
    /// Errors the pages wrote to the browser console since the last call (Chromium; always
    /// empty in Firefox, whose driver has no log).
    pub async fn console_errors(&self) -> Vec<String> {
        if !self.reads_console() {
            return Vec::new();
        }
        let entries = self.c().issue_cmd(BrowserLog).await.expect("browser log");
        entries
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Ends the session (closing Chromium), after checking the console stayed clean.
    pub async fn finish(mut self) {
        self.save_js_coverage().await;
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "console errors: {errors:#?}");
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that failed never reached `finish`; stopping the driver ends its browser.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// axe-core's script: `AXE_CORE_JS`, else the copy vendored with the tests.
pub fn axe_core_source() -> String {
    let path = std::env::var("AXE_CORE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vendor/axe-core/axe.min.js")
        });
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("axe-core not found at {} ({e})", path.display()))
}
