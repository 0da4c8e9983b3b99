//! The security headers and sessions as a browser meets them: no page (Swagger UI included)
//! breaks its Content-Security-Policy, no page can be framed, and a read-only key's session
//! sees no write controls.

use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{copy_tree, fixture_dir};
use crate::live::LiveServer;
use crate::security::{KEY, READ_ONLY_KEY};

/// Collects the page's CSP violations into `window.__csp` (reported as they happen).
const WATCH_CSP: &str = "
    window.__csp = window.__csp || [];
    document.addEventListener('securitypolicyviolation',
        e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
    return true;";

#[tokio::test]
async fn no_page_breaks_its_content_security_policy_and_none_can_be_framed() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = LiveServer::start().await;
    let b = &browser;
    for (path, ready) in [
        ("/", "return !!document.querySelector('#items .card');"),
        (
            "/?view=grouped&collection=default",
            "return !!document.getElementById('items');",
        ),
        (
            "/deployments",
            "return !!document.getElementById('deployments');",
        ),
        ("/jobs", "return !!document.getElementById('runs');"),
        (
            "/docs",
            "return !!document.querySelector('#ui .opblock-tag') && document.querySelectorAll('.opblock').length > 10;",
        ),
    ] {
        b.goto(&server.url(path)).await;
        b.js(WATCH_CSP).await;
        b.until(path, ready).await;
        // Interact a little, so scripts that run later are covered too.
        if path == "/" {
            b.click_css("#items .card h2 button").await;
            b.until(
                "the details",
                "return !!document.getElementById('drawer-title');",
            )
            .await;
            b.click_css("[data-close-drawer]").await;
            b.until("closed", "return !document.getElementById('drawer-title');")
                .await;
        }
        if path == "/docs" {
            b.click_css("#ui .opblock-summary").await;
            b.until(
                "an operation opened",
                "return !!document.querySelector('.opblock-body');",
            )
            .await;
        }
        let violations = b.js("return window.__csp;").await;
        assert_eq!(violations, json!([]), "{path}");
    }
    // The collection switcher works without an inline handler.
    b.goto(&server.url("/")).await;
    b.until(
        "the switcher",
        "return !!document.getElementById('collection');",
    )
    .await;
    b.js("const s = document.getElementById('collection'); s.value = 'default'; s.dispatchEvent(new Event('change')); return true;")
        .await;
    b.until(
        "the default collection shown",
        "return location.search.includes('collection=default');",
    )
    .await;
    // No page can be framed, not even by a page of the same server (click-jacking needs a
    // frame): the frame's document is never our page.
    b.goto(&server.url("/jobs")).await;
    b.until("the jobs page", "return !!document.getElementById('runs');")
        .await;
    b.js("const f = document.createElement('iframe'); f.id = 'f'; f.src = '/deployments'; document.body.appendChild(f); return true;")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let framed = b
        .js("try { const d = document.getElementById('f').contentDocument; return d && d.body ? d.body.textContent : ''; } catch (e) { return ''; }")
        .await;
    assert!(
        !framed.as_str().unwrap_or("").contains("Deployments"),
        "the page was shown in a frame: {framed}"
    );
    // Chrome reports the refused frame on the console; that message is expected.
    let errors = b.console_errors().await;
    assert!(
        errors.iter().all(|e| e.contains("frame-ancestors")
            || e.contains("X-Frame-Options")
            || e.contains("Refused to display")),
        "{errors:#?}"
    );
    browser.finish().await;
}

#[tokio::test]
async fn a_read_only_session_sees_no_write_controls() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = LiveServer::start_configured(
        |home| copy_tree(&fixture_dir().join("home/.skillmeat"), home),
        |s| {
            s.auth.api_key = KEY.into();
            s.auth.read_only_keys = vec![READ_ONLY_KEY.into()];
        },
    )
    .await;
    let b = &browser;
    b.goto(&server.url("/login?next=%2F")).await;
    b.js(&format!(
        "document.getElementById('api-key').value = '{READ_ONLY_KEY}'; return true;"
    ))
    .await;
    b.click_css("form button[type=submit]").await;
    b.until(
        "the collections page",
        "return location.pathname === '/' && !!document.querySelector('#items .card');",
    )
    .await;
    let hidden = |css: &str| {
        format!(
            "const e = document.querySelector('{css}'); return !e || getComputedStyle(e).display === 'none';"
        )
    };
    for css in ["#refresh-button", "#add-collection-form"] {
        b.until(css, &hidden(css)).await;
    }
    b.until(
        "Read-only shown",
        "return document.body.textContent.includes('Read-only');",
    )
    .await;
    b.goto(&server.url("/deployments")).await;
    b.until("the deploy form hidden", &hidden("#deploy-details"))
        .await;
    b.goto(&server.url("/jobs")).await;
    b.until("Refresh now hidden", &hidden("#refresh-now")).await;
    // Ctrl+R is the browser's again, not a refresh the key may not start.
    b.click_css("#sign-out button").await;
    b.until("signed out", "return location.pathname === '/login';")
        .await;
    browser.finish().await;
}
