//! The web UI in a real headless Chromium (Debian's chromium and chromium-driver), driving the
//! real server on a port over a temp data home. Without a browser these tests say so loudly and
//! pass; under CI (`CI=true`) a missing browser fails them. `.ci/run` installs the browser and
//! axe-core (the accessibility audit, injected into each page).

use std::time::{Duration, Instant};

use fantoccini::Locator;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{copy_tree, fixture_dir};

/// The real server on a free port, with its job runner.
use crate::live::LiveServer as UiServer;

/// Records the refresh button's states and the toasts into `window.__seen`.
const OBSERVE: &str = "
    window.__seen = { busy: false, disabled: false, spinning: false, toasts: [] };
    const button = document.getElementById('refresh-button');
    new MutationObserver(() => {
        if (button.disabled) window.__seen.disabled = true;
        if (button.getAttribute('aria-busy') === 'true') window.__seen.busy = true;
        if (button.classList.contains('spinning')) window.__seen.spinning = true;
    }).observe(button, { attributes: true });
    new MutationObserver(() => {
        for (const t of document.querySelectorAll('#toasts .toast'))
            if (!window.__seen.toasts.includes(t.textContent)) window.__seen.toasts.push(t.textContent);
    }).observe(document.getElementById('toasts'), { childList: true, subtree: true });
    return true;";

#[tokio::test]
async fn the_collections_page_refreshes_with_the_button_and_ctrl_r() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = UiServer::start().await;
    let b = &browser;
    b.goto(&format!("{}/", server.base)).await;
    b.until(
        "the cards",
        "return document.querySelectorAll('#items .card').length === 16;",
    )
    .await;
    b.until(
        "\"Last updated\"",
        "return /^Last updated (just now|\\d+ minutes? ago)$/.test(document.getElementById('last-updated').textContent);",
    )
    .await;

    // A file changed on disk; the refresh button picks it up.
    std::fs::write(
        server
            .data_home
            .join("collections/default/skills/bom-skill/SKILL.md"),
        "---\ndescription: Picked up by the refresh button\n---\n",
    )
    .unwrap();
    b.js(OBSERVE).await;
    b.click_css("#refresh-button").await;
    b.until(
        "the toast",
        "return window.__seen.toasts.includes('Collections refreshed');",
    )
    .await;
    let seen = b.js("return window.__seen;").await;
    assert_eq!(seen["disabled"], true, "disabled while refreshing: {seen}");
    assert_eq!(seen["busy"], true, "aria-busy while refreshing: {seen}");
    assert_eq!(seen["spinning"], true, "spinner while refreshing: {seen}");
    b.until(
        "the button enabled again",
        "return !document.getElementById('refresh-button').disabled;",
    )
    .await;
    b.until(
        "the reloaded card",
        "return document.getElementById('items').textContent.includes('Picked up by the refresh button');",
    )
    .await;
    b.until(
        "\"Last updated just now\"",
        "return document.getElementById('last-updated').textContent === 'Last updated just now';",
    )
    .await;
    let jobs = server.api("/api/v1/jobs?kind=refresh").await;
    assert_eq!(jobs["items"][0]["trigger"], "manual", "{jobs}");
    b.screenshot("collections").await;

    // Ctrl+R refreshes the collections, not the browser page. WebDriver's key actions never
    // trigger the browser's own reload, so what proves the page keeps it is that the page's
    // handler cancelled the key's default action (seen by a listener that runs after it).
    b.js("window.__notReloaded = true; window.addEventListener('keydown', e => { if (e.ctrlKey && e.key.toLowerCase() === 'r') window.__ctrlRCancelled = e.defaultPrevented; }); return true;").await;
    b.js(OBSERVE).await;
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down {
            value: Key::Control.into(),
        })
        .then(KeyAction::Down { value: 'r' })
        .then(KeyAction::Up { value: 'r' })
        .then(KeyAction::Up {
            value: Key::Control.into(),
        });
    b.c().perform_actions(keys).await.unwrap();
    b.until(
        "the toast after Ctrl+R",
        "return window.__seen.toasts.includes('Collections refreshed');",
    )
    .await;
    assert_eq!(
        b.js("return window.__ctrlRCancelled === true && window.__notReloaded === true;")
            .await,
        json!(true),
        "Ctrl+R's default (a reload) was cancelled by the page"
    );

    // Search narrows the grid on the server.
    let search = b
        .c()
        .find(Locator::Css("input[name=search]"))
        .await
        .unwrap();
    search.send_keys("crlf").await.unwrap();
    b.until(
        "the filtered grid",
        "return document.querySelectorAll('#items .card').length === 1;",
    )
    .await;

    let violations = b.accessibility_violations().await;
    assert!(violations.is_empty(), "{violations:#?}");
    b.fits_a_phone(&format!("{}/", server.base)).await;
    // The console check sees errors (so its "none" means something): one written on purpose.
    assert!(
        b.console_errors().await.is_empty(),
        "the page logged errors"
    );
    if b.reads_console() {
        b.js("console.error('harness probe'); return true;").await;
        assert!(
            b.console_errors()
                .await
                .iter()
                .any(|m| m.contains("harness probe"))
        );
    }
    browser.finish().await;
}

#[tokio::test]
async fn the_job_dashboard_shows_runs_from_the_ui_and_retries_a_failed_one() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = UiServer::start().await;
    let b = &browser;
    b.goto(&format!("{}/jobs", server.base)).await;
    b.until(
        "the warm's row",
        "return !!document.querySelector('#runs tr[data-job]');",
    )
    .await;

    // "Refresh now" queues a run; the table shows it finish without a reload.
    b.click_css("#refresh-now").await;
    b.until(
        "the manual run, succeeded",
        "return [...document.querySelectorAll('#runs tr[data-job]')].some(r =>
             r.textContent.includes('manual') && r.textContent.includes('succeeded'));",
    )
    .await;

    // A failing refresh: retried, then shown as failed with a Retry button.
    let collections = server.data_home.join("collections");
    let aside = server.data_home.join("collections-aside");
    std::fs::rename(&collections, &aside).unwrap();
    std::fs::write(&collections, "not a folder").unwrap();
    b.click_css("#refresh-now").await;
    b.until(
        "the failed run",
        "return !!document.querySelector('#runs [data-retry-job]');",
    )
    .await;
    let failed_id = b
        .js("return document.querySelector('#runs [data-retry-job]').dataset.retryJob;")
        .await;
    b.click_css(&format!(
        "button[aria-label='Details of job {}']",
        failed_id.as_str().unwrap()
    ))
    .await;
    b.until(
        "the run's error",
        "return document.getElementById('job-detail').textContent.includes('collections');",
    )
    .await;
    b.screenshot("jobs").await;

    std::fs::remove_file(&collections).unwrap();
    std::fs::rename(&aside, &collections).unwrap();
    b.click_css("#runs [data-retry-job]").await;
    // The page queues the retry in the background: wait for it to be on record.
    let failed: i64 = failed_id.as_str().unwrap().parse().unwrap();
    let retried_id =
        crate::helpers::poll("the retry on record", Duration::from_secs(20), || async {
            let newest = server.api("/api/v1/jobs?kind=refresh&limit=1").await;
            if newest["items"][0]["retry_of"] == failed {
                Ok(newest["items"][0]["id"].as_i64().unwrap())
            } else {
                Err(newest.to_string())
            }
        })
        .await;
    b.until(
        "the retry, succeeded",
        &format!(
            "return !!document.querySelector('#runs tr[data-job=\"{retried_id}\"]') &&
                    document.querySelector('#runs tr[data-job=\"{retried_id}\"]').textContent.includes('succeeded');"
        ),
    )
    .await;
    // The per-kind figures follow.
    b.until(
        "the refresh figures",
        "return document.getElementById('job-stats').textContent.includes('67%');",
    )
    .await;

    let violations = b.accessibility_violations().await;
    assert!(violations.is_empty(), "{violations:#?}");
    b.fits_a_phone(&format!("{}/jobs", server.base)).await;
    browser.finish().await;
}

#[tokio::test]
async fn the_deployment_dashboard_filters_undeploys_and_deploys() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = UiServer::start().await;
    let project = server.folder("projects/demo");
    let http = reqwest::Client::new();
    for artifact in ["skill:bom-skill", "command:review-pr"] {
        let r = http
            .post(format!("{}/api/v1/deployments", server.base))
            .json(&json!({"artifact_id": artifact, "project_path": project}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let b = &browser;
    b.goto(&format!("{}/deployments", server.base)).await;
    b.until(
        "two deployments",
        "return document.querySelectorAll('#deployments tr[data-deployment]').length === 2;",
    )
    .await;
    b.until(
        "the status counts",
        "return document.getElementById('dep-summary').textContent.includes('synced 2');",
    )
    .await;

    // Filters narrow on the server.
    b.c()
        .find(Locator::Css("#dep-type"))
        .await
        .unwrap()
        .select_by_value("command")
        .await
        .unwrap();
    b.until(
        "the command only",
        "const rows = document.querySelectorAll('#deployments tr[data-deployment]');
         return rows.length === 1 && rows[0].textContent.includes('review-pr')
           && rows[0].textContent.includes('demo');",
    )
    .await;
    b.c()
        .find(Locator::Css("#dep-view"))
        .await
        .unwrap()
        .select_by_value("project")
        .await
        .unwrap();
    b.until(
        "the by-project heading",
        "return !!document.querySelector('#deployments tr.group');",
    )
    .await;
    b.c()
        .find(Locator::Css("#dep-type"))
        .await
        .unwrap()
        .select_by_value("")
        .await
        .unwrap();
    b.until(
        "both again",
        "return document.querySelectorAll('#deployments tr[data-deployment]').length === 2;",
    )
    .await;

    // Undeploy, after the confirmation.
    b.click_css("button[aria-label^='Undeploy skill:bom-skill']")
        .await;
    b.c().accept_alert().await.expect("a confirmation");
    b.until(
        "the undeployed row gone",
        "return document.querySelectorAll('#deployments tr[data-deployment]').length === 1;",
    )
    .await;
    assert!(
        !project.join(".claude/skills/bom-skill").exists(),
        "files removed"
    );
    b.until(
        "the counts",
        "return document.getElementById('dep-summary').textContent.includes('synced 1');",
    )
    .await;

    // Deploy from the form: the artifact found by typing part of its name, the project
    // picked from the known ones.
    b.click_css("#deploy-details summary").await;
    b.c()
        .find(Locator::Id("deploy-artifact"))
        .await
        .unwrap()
        .send_keys("crlf")
        .await
        .unwrap();
    b.until(
        "the suggestion",
        "return [...document.querySelectorAll('#artifact-options option')].map((o) => o.value)
           .join() === 'skill:crlf-skill';",
    )
    .await;
    b.js("document.getElementById('deploy-artifact').value = 'skill:crlf-skill'; return true;")
        .await;
    // A folder outside the allowed roots is refused before anything is sent.
    b.c()
        .find(Locator::Css("#deploy-project-id"))
        .await
        .unwrap()
        .select_by_value("")
        .await
        .unwrap();
    b.c()
        .find(Locator::Id("deploy-project"))
        .await
        .unwrap()
        .send_keys("/etc")
        .await
        .unwrap();
    b.click_css("#deploy-form button[type=submit]").await;
    b.until(
        "the folder refused",
        "const c = document.getElementById('folder-check');
         return c && c.dataset.ok === 'false' && c.textContent.includes('allowed_roots');",
    )
    .await;
    let project_id = b
        .js("return document.querySelector('#deploy-project-id option').value;")
        .await;
    b.c()
        .find(Locator::Css("#deploy-project-id"))
        .await
        .unwrap()
        .select_by_value(project_id.as_str().unwrap())
        .await
        .unwrap();
    b.click_css("#deploy-form button[type=submit]").await;
    b.until(
        "the new deployment",
        "return document.getElementById('deployments').textContent.includes('crlf-skill');",
    )
    .await;
    assert!(project.join(".claude/skills/crlf-skill/SKILL.md").exists());
    b.screenshot("deployments").await;

    let violations = b.accessibility_violations().await;
    assert!(violations.is_empty(), "{violations:#?}");
    b.fits_a_phone(&format!("{}/deployments", server.base))
        .await;
    for width in [1280, 375] {
        b.tables_fit(&format!("{}/deployments", server.base), width)
            .await;
    }
    browser.finish().await;
}

#[tokio::test]
async fn the_collections_page_switches_collections_and_views_and_shows_details() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = UiServer::start().await;
    // Warm the cache (the default collection adopts every artifact), then group three skills.
    server.api("/api/v1/artifacts?limit=1").await;
    let group = server
        .post(
            "/api/v1/groups",
            json!({"collection_id": "default", "name": "Favourites"}),
        )
        .await;
    let group_id = group["id"].as_str().unwrap().to_string();
    let other = server
        .post(
            "/api/v1/groups",
            json!({"collection_id": "default", "name": "Reviewed"}),
        )
        .await;
    let third = server
        .post(
            "/api/v1/groups",
            json!({"collection_id": "default", "name": "Imported"}),
        )
        .await;
    for g in [
        &group_id,
        other["id"].as_str().unwrap(),
        third["id"].as_str().unwrap(),
    ] {
        server
            .post(
                &format!("/api/v1/groups/{g}/artifacts"),
                json!({"artifact_ids": ["skill:bom-skill"]}),
            )
            .await;
    }
    let b = &browser;
    b.goto(&format!("{}/", server.base)).await;
    b.c()
        .find(Locator::Css("#collection"))
        .await
        .unwrap()
        .select_by_value("default")
        .await
        .unwrap();
    b.until(
        "the default collection with its group tags",
        "return location.search.includes('collection=default') &&
                document.getElementById('items').textContent.includes('Favourites') &&
                document.getElementById('items').textContent.includes('+1 more');",
    )
    .await;

    // Grouped view, remembered across a reload.
    b.c()
        .find(Locator::Css("#view"))
        .await
        .unwrap()
        .select_by_value("grouped")
        .await
        .unwrap();
    b.until(
        "the group sections",
        "return [...document.querySelectorAll('.group-section h2')].some(h => h.textContent.startsWith('Favourites'))
            && [...document.querySelectorAll('.group-section h2')].some(h => h.textContent.startsWith('Not in a group'));",
    )
    .await;
    b.c().refresh().await.unwrap();
    b.until(
        "the grouped view after a reload",
        "return document.getElementById('view').value === 'grouped' && !!document.querySelector('.group-section');",
    )
    .await;

    // The drawer: metadata, files, groups, deployments.
    b.c()
        .find(Locator::XPath("//button[normalize-space()='bom-skill']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.until(
        "the drawer",
        "const d = document.getElementById('drawer').textContent;
         return d.includes('skill:bom-skill') && d.includes('SKILL.md') && d.includes('Favourites') && d.includes('Not deployed');",
    )
    .await;
    b.screenshot("collection-grouped").await;

    // Add a collection: it is created and shown.
    b.click_css("#add-collection summary").await;
    b.c()
        .find(Locator::Id("new-collection-name"))
        .await
        .unwrap()
        .send_keys("Writing")
        .await
        .unwrap();
    b.click_css("#add-collection-form button[type=submit]")
        .await;
    b.until(
        "the new collection selected",
        "const s = document.getElementById('collection');
         return s.options[s.selectedIndex].textContent.startsWith('Writing');",
    )
    .await;
    let violations = b.accessibility_violations().await;
    assert!(violations.is_empty(), "{violations:#?}");
    browser.finish().await;
}

#[tokio::test]
async fn groups_are_managed_and_artifacts_moved_and_copied_from_the_collections_page() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = UiServer::start().await;
    server.api("/api/v1/artifacts?limit=1").await;
    let target = server
        .post("/api/v1/user-collections", json!({"name": "Target"}))
        .await;
    let target_id = target["id"].as_str().unwrap().to_string();
    let b = &browser;
    b.goto(&format!("{}/?collection=default", server.base))
        .await;
    let group_names = "return [...document.querySelectorAll('#group-list li')].map(li => li.dataset.groupName).join(',');";

    // Create two groups.
    for name in ["Alpha", "Beta"] {
        let input = b.c().find(Locator::Id("new-group-name")).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(name).await.unwrap();
        b.click_css("#new-group-form button[type=submit]").await;
        b.until(
            &format!("group {name}"),
            &format!("return document.querySelector('#group-list li[data-group-name=\"{name}\"]') !== null;"),
        )
        .await;
    }
    assert_eq!(b.js(group_names).await, json!("Alpha,Beta"));

    // Reorder with the keyboard: focus "Move Beta up" and press Enter.
    let up = b
        .c()
        .find(Locator::Css("button[aria-label='Move Beta up']"))
        .await
        .unwrap();
    up.send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    b.until(
        "Beta first",
        &format!("{} ", group_names.replace("return ", "return ("))
            .replace(".join(',');", ".join(',')) === 'Beta,Alpha';"),
    )
    .await;
    // The list moves at once; the new order is saved in the background.
    crate::helpers::poll("the new order saved", Duration::from_secs(20), || async {
        let groups = server.api("/api/v1/groups?collection_id=default").await;
        let order: Vec<&str> = groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        if order == ["Beta", "Alpha"] {
            Ok(())
        } else {
            Err(groups.to_string())
        }
    })
    .await;

    // The same with the mouse: drag Alpha by its grip onto Beta.
    b.drag(
        "#group-list li[data-group-name='Alpha'] [data-drag-handle]",
        "#group-list li[data-group-name='Beta']",
    )
    .await;
    b.until(
        "Alpha first again, saved and re-rendered",
        "return [...document.querySelectorAll('#group-list li')].map(li => li.dataset.groupName).join(',') === 'Alpha,Beta'
            && document.querySelector(\"button[aria-label='Move Alpha up']\").disabled;",
    )
    .await;
    let saved = server.api("/api/v1/groups?collection_id=default").await;
    assert_eq!(saved["groups"][0]["name"], "Alpha", "{saved}");

    // Rename Alpha (a prompt), delete Beta (a confirmation that says artifacts remain).
    b.click_css("button[aria-label='Rename Alpha']").await;
    b.c().send_alert_text("Gamma").await.unwrap();
    b.c().accept_alert().await.unwrap();
    b.until(
        "Gamma",
        "return document.querySelector('#group-list li[data-group-name=\"Gamma\"]') !== null;",
    )
    .await;
    b.click_css("button[aria-label='Delete Beta']").await;
    let question = b.c().get_alert_text().await.unwrap();
    assert!(
        question.contains("Artifacts remain in collection"),
        "{question}"
    );
    b.c().accept_alert().await.unwrap();
    b.until(
        "Beta gone",
        &format!("{} ", group_names.replace("return ", "return ("))
            .replace(".join(',');", ".join(',')) === 'Gamma';"),
    )
    .await;

    // An artifact's groups, as checkboxes in its details.
    b.c()
        .find(Locator::XPath("//button[normalize-space()='bom-skill']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.c()
        .wait()
        .for_element(Locator::Css("#drawer input[data-group-toggle]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.until(
        "the tag on the card",
        "return [...document.querySelectorAll('#items .card')].some(c => c.textContent.includes('bom-skill') && c.textContent.includes('Gamma'));",
    )
    .await;

    // Reorder inside a group, from the keyboard, in the grouped view.
    let gamma = server.api("/api/v1/groups?collection_id=default").await["groups"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    server
        .post(
            &format!("/api/v1/groups/{gamma}/artifacts"),
            json!({"artifact_ids": ["skill:crlf-skill"]}),
        )
        .await;
    b.c()
        .find(Locator::Css("#view"))
        .await
        .unwrap()
        .select_by_value("grouped")
        .await
        .unwrap();
    let later = b
        .c()
        .wait()
        .for_element(Locator::Css(
            "button[aria-label='Move crlf-skill earlier in Gamma']",
        ))
        .await
        .unwrap();
    later
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    b.until(
        "crlf-skill first in Gamma",
        "const s = document.querySelector('section[data-group] .card');
         return !!s && s.textContent.includes('crlf-skill');",
    )
    .await;
    let detail = server.api(&format!("/api/v1/groups/{gamma}")).await;
    assert_eq!(
        detail["artifacts"][0]["artifact_id"], "skill:crlf-skill",
        "{detail}"
    );
    // And with the mouse: drag bom-skill by its grip onto crlf-skill, back to the front.
    b.drag(
        "section[data-group] [data-member='skill:bom-skill'] [data-drag-handle]",
        "section[data-group] [data-member='skill:crlf-skill']",
    )
    .await;
    b.until(
        "bom-skill first in Gamma, re-rendered",
        "const s = document.querySelector('section[data-group] .card');
         return !!s && s.textContent.includes('bom-skill') && !s.classList.contains('dragging')
             && s.querySelector(\"[data-member-move='earlier']\").disabled;",
    )
    .await;
    let detail = server.api(&format!("/api/v1/groups/{gamma}")).await;
    assert_eq!(
        detail["artifacts"][0]["artifact_id"], "skill:bom-skill",
        "{detail}"
    );
    b.c()
        .find(Locator::Css("#view"))
        .await
        .unwrap()
        .select_by_value("grid")
        .await
        .unwrap();
    b.until(
        "the grid again",
        "return !document.querySelector('section[data-group]') && !!document.querySelector(\"input[data-select='skill:nested-tree']\");",
    )
    .await;

    // Copy two artifacts, then move one, to the other collection.
    for id in ["skill:bom-skill", "skill:crlf-skill"] {
        b.click_css(&format!("input[data-select='{id}']")).await;
    }
    b.until("the bulk bar", "return !document.getElementById('bulk-bar').hidden && document.getElementById('bulk-count').textContent === '2 selected';")
        .await;
    b.click_css("#bulk-bar [data-bulk=copy]").await;
    b.until(
        "the selection cleared and the bar out of sight",
        "const bar = document.getElementById('bulk-bar');
         return bar.hidden && getComputedStyle(bar).display === 'none';",
    )
    .await;
    let copied = server
        .api(&format!("/api/v1/user-collections/{target_id}/artifacts"))
        .await;
    assert_eq!(copied["page_info"]["total_count"], 2, "{copied}");
    b.click_css("input[data-select='skill:nested-tree']").await;
    b.click_css("#bulk-bar [data-bulk=move]").await;
    b.until(
        "the moved card gone",
        "return !document.querySelector(\"input[data-select='skill:nested-tree']\");",
    )
    .await;
    let moved = server
        .api(&format!("/api/v1/user-collections/{target_id}/artifacts"))
        .await;
    assert_eq!(moved["page_info"]["total_count"], 3, "{moved}");

    let violations = b.accessibility_violations().await;
    assert!(violations.is_empty(), "{violations:#?}");
    b.fits_a_phone(&format!("{}/?collection=default", server.base))
        .await;
    browser.finish().await;
}

#[tokio::test]
async fn pages_answer_bad_input_with_a_readable_error_and_fragments_with_the_api_error() {
    let app = crate::helpers::TestApp::spawn().await;
    let page = app.get("/?collection=no-such-collection").await;
    assert_eq!(page.status, poem::http::StatusCode::NOT_FOUND);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "a page, not JSON"
    );
    assert!(page.text.contains("not found"), "{}", page.text);
    assert!(page.text.contains("Back to all collections"));

    app.get("/ui/artifacts/skill:..%2F..%2Fetc")
        .await
        .assert_error(poem::http::StatusCode::BAD_REQUEST, "bad_request");
    app.get("/ui/collections/no-such-collection/groups")
        .await
        .assert_error(poem::http::StatusCode::NOT_FOUND, "not_found");
    let bad_id = app.get("/ui/jobs/runs/not-a-number").await;
    assert_eq!(bad_id.status, poem::http::StatusCode::BAD_REQUEST);
    app.get("/ui/jobs/runs/987654")
        .await
        .assert_error(poem::http::StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_pages_stay_usable_with_1000_artifacts_and_10000_deployments() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = UiServer::start_with(|data_home| {
        skillmeat_server::synthetic::write_collection(&data_home.join("collections/default"), 1000)
            .unwrap();
    })
    .await;
    // The start-up warm first (it recomputes deployment statuses), then the rows.
    server.wait_for_warm().await;
    let db = sea_orm::Database::connect(&server.database_url)
        .await
        .unwrap();
    skillmeat_server::synthetic::insert_deployments(&db, 100, 100)
        .await
        .unwrap();
    let b = &browser;
    let count = "return document.getElementById('result-count')?.textContent ?? '';";
    let cards = "return document.querySelectorAll('#items .card').length;";

    // The collections page answers at once with the first page; "Load more" appends the next.
    let started = Instant::now();
    b.goto(&format!("{}/", server.base)).await;
    let first_paint = started.elapsed();
    assert_eq!(b.js(count).await, json!("1000 artifacts"));
    assert_eq!(b.js(cards).await, json!(60));
    assert!(
        first_paint < Duration::from_secs(5),
        "the collections page took {first_paint:?}"
    );
    b.click_css(".load-more").await;
    b.until(
        "120 cards",
        "return document.querySelectorAll('#items .card').length === 120;",
    )
    .await;

    // Type chips and search filter on the server; "Clear all" brings everything back.
    b.click_css("input[name=type][value=command]").await;
    b.until(
        "only the commands",
        "return document.getElementById('result-count')?.textContent === '250 artifacts';",
    )
    .await;
    b.c()
        .find(Locator::Css("input[name=search]"))
        .await
        .unwrap()
        .send_keys("command-001")
        .await
        .unwrap();
    b.until(
        "five commands",
        "return document.getElementById('result-count')?.textContent === '5 artifacts';",
    )
    .await;
    b.click_css("#clear-filters").await;
    b.until(
        "every artifact again",
        "return document.getElementById('result-count')?.textContent === '1000 artifacts'
            && document.querySelector('input[name=search]').value === ''
            && !document.querySelector('input[name=type]:checked');",
    )
    .await;
    assert_eq!(b.js(cards).await, json!(60));

    // The deployment dashboard over 10,000 rows: counts, one page of rows, then the next.
    let started = Instant::now();
    b.goto(&format!("{}/deployments", server.base)).await;
    let first_paint = started.elapsed();
    assert!(
        first_paint < Duration::from_secs(5),
        "the deployment dashboard took {first_paint:?}"
    );
    let rows = "return document.querySelectorAll('#deployments tr[data-deployment]').length;";
    assert_eq!(
        b.js("return document.getElementById('dep-count').textContent;")
            .await,
        json!("10000 deployments")
    );
    assert!(
        b.js("return document.getElementById('dep-summary').textContent;")
            .await
            .as_str()
            .unwrap()
            .contains("10000 deployments")
    );
    assert_eq!(b.js(rows).await, json!(100));
    b.click_css("#deployments .load-more").await;
    b.until(
        "200 rows",
        "return document.querySelectorAll('#deployments tr[data-deployment]').length === 200;",
    )
    .await;
    let ids: Vec<String> = serde_json::from_value(
        b.js("return [...document.querySelectorAll('#deployments tr[data-deployment]')].map(r => r.dataset.deployment);")
            .await,
    )
    .unwrap();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 200, "the second page repeats rows");

    // A status filter, and the by-project view, whose headings do not repeat across pages.
    let conflicts = server
        .api("/api/v1/deployments?status=conflict&limit=1")
        .await["page_info"]["total_count"]
        .clone();
    b.c()
        .find(Locator::Css("#dep-status"))
        .await
        .unwrap()
        .select_by_value("conflict")
        .await
        .unwrap();
    b.until(
        "the conflicts",
        &format!(
            "return document.getElementById('dep-count')?.textContent === '{conflicts} deployments'
                && [...document.querySelectorAll('#deployments tr[data-deployment] .status')].every(s => s.textContent === 'conflict');"
        ),
    )
    .await;
    b.c()
        .find(Locator::Css("#dep-view"))
        .await
        .unwrap()
        .select_by_value("project")
        .await
        .unwrap();
    b.until(
        "project headings",
        "return document.querySelectorAll('#deployments tr.group').length > 1;",
    )
    .await;
    b.click_css("#deployments .load-more").await;
    b.until(
        "the next page of the project view",
        "return document.querySelectorAll('#deployments tr[data-deployment]').length > 100;",
    )
    .await;
    let headings: Vec<String> = serde_json::from_value(
        b.js("return [...document.querySelectorAll('#deployments tr.group')].map(r => r.textContent);")
            .await,
    )
    .unwrap();
    let distinct: std::collections::HashSet<&String> = headings.iter().collect();
    assert_eq!(
        distinct.len(),
        headings.len(),
        "a heading repeats: {headings:?}"
    );

    let violations = b.accessibility_violations().await;
    assert!(violations.is_empty(), "{violations:#?}");
    browser.finish().await;
}

#[tokio::test]
async fn with_an_api_key_the_browser_signs_in_once_and_uses_every_page() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = UiServer::start_configured(
        |data_home| copy_tree(&fixture_dir().join("home/.skillmeat"), data_home),
        |settings| settings.auth.api_key = "browser-key-for-tests-0123456789abcdef".into(),
    )
    .await;
    let b = &browser;
    b.goto(&format!("{}/jobs", server.base)).await;
    b.until(
        "the sign-in page",
        "return location.pathname === '/login' && !!document.getElementById('api-key');",
    )
    .await;
    let violations = b.accessibility_violations().await;
    assert!(violations.is_empty(), "{violations:#?}");
    b.screenshot("sign-in").await;
    let field = b.c().find(Locator::Id("api-key")).await.unwrap();
    field.send_keys("wrong").await.unwrap();
    b.click_css("form button[type=submit]").await;
    b.until(
        "the refusal",
        "return document.body.textContent.includes(\"not one of the server's API keys\");",
    )
    .await;
    // The wrong key's 401 is logged by the browser; that one is expected.
    b.console_errors().await;
    let field = b.c().find(Locator::Id("api-key")).await.unwrap();
    field
        .send_keys("browser-key-for-tests-0123456789abcdef")
        .await
        .unwrap();
    b.click_css("form button[type=submit]").await;
    // Back on the page asked for, with its fragments, API calls and live events working.
    b.until(
        "the job dashboard",
        "return location.pathname === '/jobs' && !!document.getElementById('refresh-now') && !!document.getElementById('sign-out');",
    )
    .await;
    b.click_css("#refresh-now").await;
    b.until(
        "a manual run listed",
        "return [...document.querySelectorAll('tr')].some(r => r.textContent.includes('manual') && r.textContent.includes('succeeded'));",
    )
    .await;
    b.goto(&format!("{}/", server.base)).await;
    b.until(
        "the collections page",
        "return !!document.querySelector('#items .card');",
    )
    .await;
    b.click_css("#sign-out button").await;
    b.until("signed out", "return location.pathname === '/login';")
        .await;
    browser.finish().await;
}
