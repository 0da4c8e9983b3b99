//! Every collection task the user guide promises, done in the browser: rename and delete a
//! collection, remove members, edit a group's name, description, colour, icon and tags (checked
//! as the API checks them), copy a group to another collection; times read "… ago" with the
//! exact time on hover. On both databases.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::poll;
use crate::live::{LiveServer, backends};

/// Sets a form field's value (replacing what is there).
async fn fill(b: &Browser, css: &str, value: &str) {
    let field = b.c().find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Polls `path` until `check` accepts its JSON.
async fn api_until(
    server: &LiveServer,
    what: &str,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    poll(what, Duration::from_secs(20), || async {
        let body = server.api(path).await;
        if check(&body) {
            Ok(body)
        } else {
            Err(body.to_string())
        }
    })
    .await
}

#[tokio::test]
async fn every_collection_task_of_the_guide_is_done_in_the_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    for backend in backends() {
        let server = LiveServer::on(backend, |_| {}).await;
        server.wait_for_warm().await;
        let work = server
            .post("/api/v1/user-collections", json!({"name": "Work"}))
            .await;
        let work_id = work["id"].as_str().unwrap().to_string();
        server
            .post(
                &format!("/api/v1/user-collections/{work_id}/artifacts"),
                json!({"artifact_ids": ["skill:bom-skill", "skill:crlf-skill", "command:review-pr"]}),
            )
            .await;
        let group = server
            .post(
                "/api/v1/groups",
                json!({"collection_id": work_id, "name": "Review"}),
            )
            .await;
        let group_id = group["id"].as_str().unwrap().to_string();
        server
            .post(
                &format!("/api/v1/groups/{group_id}/artifacts"),
                json!({"artifact_ids": ["skill:bom-skill"]}),
            )
            .await;
        let b = &browser;
        b.goto(&server.url(&format!("/?collection={work_id}")))
            .await;

        // Edit the group: every field, as the API normalises them.
        b.click_css(&format!(
            "li[data-group-id='{group_id}'] .group-edit summary"
        ))
        .await;
        let form = format!("form[data-group-edit='{group_id}']");
        fill(b, &format!("{form} input[name=name]"), "Code review").await;
        fill(
            b,
            &format!("{form} input[name=description]"),
            "checks before merging",
        )
        .await;
        fill(b, &format!("{form} input[name=color]"), "#22C55E").await;
        fill(b, &format!("{form} input[name=icon]"), "search").await;
        fill(b, &format!("{form} input[name=tags]"), "Code-Review, lint").await;
        b.screenshot("group-edit").await;
        b.click_css(&format!("{form} button[type=submit]")).await;
        let saved = api_until(
            &server,
            "the group saved",
            &format!("/api/v1/groups/{group_id}"),
            |g| g["name"] == "Code review",
        )
        .await;
        assert_eq!(saved["color"], "#22c55e", "{saved}");
        assert_eq!(saved["icon"], "search", "{saved}");
        assert_eq!(saved["description"], "checks before merging", "{saved}");
        assert_eq!(saved["tags"], json!(["code-review", "lint"]), "{saved}");

        // What the browser can check, it does before sending; the rest the server refuses.
        b.until(
            "the panel re-rendered",
            "return !!document.querySelector(\"li[data-group-name='Code review']\");",
        )
        .await;
        b.click_css(&format!(
            "li[data-group-id='{group_id}'] .group-edit summary"
        ))
        .await;
        fill(b, &format!("{form} input[name=tags]"), "bad tag!").await;
        let valid = b
            .js(&format!(
                "return document.querySelector(\"{form}\").checkValidity();"
            ))
            .await;
        assert_eq!(
            valid,
            json!(false),
            "a tag with a space and '!' passes the form"
        );
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        fill(b, &format!("{form} input[name=tags]"), &many.join(",")).await;
        b.click_css(&format!("{form} button[type=submit]")).await;
        b.until(
            "the server's refusal shown",
            "return [...document.querySelectorAll('#toasts .toast.error')].some(t => t.textContent.includes('at most 20 tags'));",
        )
        .await;
        // The refused request is the only console error (the log is read, and so emptied).
        if b.reads_console() {
            let errors = b.console_errors().await;
            assert!(
                errors.len() == 1 && errors[0].contains(&group_id) && errors[0].contains("422"),
                "{errors:#?}"
            );
        }

        // Copy the group into the default collection.
        b.c()
            .find(Locator::Css(&format!(
                "form[data-group-copy='{group_id}'] select"
            )))
            .await
            .unwrap()
            .select_by_value("default")
            .await
            .unwrap();
        b.click_css(&format!(
            "form[data-group-copy='{group_id}'] button[type=submit]"
        ))
        .await;
        let copies = api_until(
            &server,
            "the copy",
            "/api/v1/groups?collection_id=default",
            |g| {
                g["groups"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|g| g["name"] == "Code review (Copy)"))
            },
        )
        .await;
        let copy = copies["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == "Code review (Copy)")
            .unwrap();
        assert_eq!(copy["color"], "#22c55e", "{copy}");

        // Remove a member from its card, after the confirmation.
        b.goto(&server.url(&format!("/?collection={work_id}")))
            .await;
        b.click_css("button[aria-label='Remove crlf-skill from this collection']")
            .await;
        let question = b.c().get_alert_text().await.unwrap();
        assert!(question.contains("stay in the sources"), "{question}");
        b.c().accept_alert().await.unwrap();
        api_until(
            &server,
            "crlf-skill removed",
            &format!("/api/v1/user-collections/{work_id}/artifacts"),
            |m| {
                m["items"].as_array().is_some_and(|a| {
                    a.len() == 2 && !a.iter().any(|x| x["id"] == "skill:crlf-skill")
                })
            },
        )
        .await;
        b.until(
            "its card gone",
            "return !document.querySelector(\"[data-remove-member='skill:crlf-skill']\");",
        )
        .await;

        // Rename the collection.
        b.click_css("#collection-settings summary").await;
        fill(b, "#collection-name", "Work, renamed").await;
        b.click_css("#collection-form button[type=submit]").await;
        api_until(
            &server,
            "the new name",
            &format!("/api/v1/user-collections/{work_id}"),
            |c| c["name"] == "Work, renamed",
        )
        .await;
        b.until(
            "the switcher shows it",
            "return document.querySelector('#collection option:checked').textContent.startsWith('Work, renamed');",
        )
        .await;
        let violations = b.accessibility_violations().await;
        assert!(violations.is_empty(), "{violations:#?}");

        // Delete it: the confirmation says what is kept.
        b.click_css("#collection-settings summary").await;
        b.click_css("#delete-collection").await;
        let question = b.c().get_alert_text().await.unwrap();
        assert!(
            question.contains("1 groups and 2 memberships"),
            "{question}"
        );
        assert!(question.contains("are kept"), "{question}");
        b.c().accept_alert().await.unwrap();
        b.until(
            "back on all collections",
            "return location.search === '' && !!document.getElementById('items');",
        )
        .await;
        let gone = reqwest::get(server.url(&format!("/api/v1/user-collections/{work_id}")))
            .await
            .unwrap();
        assert_eq!(gone.status(), 404);
        let kept = server.api("/api/v1/artifacts/skill:crlf-skill").await;
        assert_eq!(kept["id"], "skill:crlf-skill", "{kept}");

        // Times are relative, with the exact time on hover.
        b.goto(&server.url("/jobs")).await;
        let time = b
            .js("const t = document.querySelector('time[data-relative]');
                 return [t.textContent, t.title];")
            .await;
        let (text, title) = (time[0].as_str().unwrap(), time[1].as_str().unwrap());
        // Past runs read "… ago", a schedule's next run "in …".
        assert!(
            text == "just now" || text.ends_with(" ago") || text.starts_with("in "),
            "{text}"
        );
        assert!(
            title.ends_with(" UTC") && title.starts_with("20"),
            "{title}"
        );
        b.leave().await;
    }
    browser.finish().await;
}

#[tokio::test]
async fn projects_are_found_registered_and_updated_from_the_deployment_dashboard() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = LiveServer::start().await;
    server.wait_for_warm().await;
    let b = &browser;
    // A folder holding a project with SkillMeat's records, added as a search folder.
    let more = server.folder("more-projects");
    crate::helpers::copy_tree(&crate::helpers::fixture_074_dir().join("projects"), &more);
    b.goto(&server.url("/deployments")).await;
    b.click_css("#project-sources summary").await;
    fill(b, "#add-root-path", &more.display().to_string()).await;
    b.click_css("#add-root-form button[type=submit]").await;
    b.until(
        "the project found",
        "return [...document.querySelectorAll('#toasts .toast')].some(t => t.textContent.includes('1 new project found'));",
    )
    .await;
    b.until(
        "its deployments listed",
        "return document.querySelectorAll('#deployments tr[data-deployment]').length === 3;",
    )
    .await;
    // The panel reloads as it was (open), listing the folder; stop searching there.
    b.until(
        "the folder listed in the open panel",
        "const panel = document.getElementById('project-sources');
         return panel.open && panel.querySelectorAll('[data-remove-root]').length === 1;",
    )
    .await;
    b.click_css("[data-remove-root]").await;
    let question = b.c().get_alert_text().await.unwrap();
    assert!(question.contains("Projects found there stay"), "{question}");
    b.c().accept_alert().await.unwrap();
    api_until(&server, "the root removed", "/api/v1/search-roots", |r| {
        r["items"].as_array().is_some_and(|a| a.is_empty())
    })
    .await;

    // A single project, registered, once the panel shows the folder gone (still open).
    b.until(
        "the folder gone from the open panel",
        "const panel = document.getElementById('project-sources');
         return panel.open && panel.querySelectorAll('[data-remove-root]').length === 0;",
    )
    .await;
    let single = server.folder("single-app");
    fill(b, "#register-project-path", &single.display().to_string()).await;
    b.click_css("#register-project-form button[type=submit]")
        .await;
    b.until(
        "registered",
        "return [...document.querySelectorAll('#toasts .toast')].some(t => t.textContent.includes('Registered single-app (0 deployments)'));",
    )
    .await;

    // Update: a project copy edited locally is only overwritten when asked again.
    let deployed = server
        .post(
            "/api/v1/deployments",
            json!({"artifact_id": "command:review-pr", "project_path": single.display().to_string()}),
        )
        .await;
    let id = deployed["id"].as_str().unwrap().to_string();
    let file = single.join(".claude/commands/review-pr.md");
    std::fs::write(&file, "edited here\n").unwrap();
    b.goto(&server.url("/deployments")).await;
    // The diff shows the local edit as + lines and fits a phone's width.
    b.c().set_window_size(375, 800).await.unwrap();
    b.click_css("button[aria-label^='Diff of command:review-pr']")
        .await;
    b.until(
        "the diff",
        "const add = [...document.querySelectorAll('#deployment-diff pre.diff .add')].map(l => l.textContent);
         return add.includes('+edited here\\n');",
    )
    .await;
    let overflow = b
        .js("const p = document.querySelector('#deployment-diff pre.diff');
             return document.documentElement.scrollWidth - document.documentElement.clientWidth + (p.scrollWidth - p.clientWidth);")
        .await;
    assert_eq!(overflow, json!(0), "the diff scrolls sideways at 375 px");
    let violations = b.accessibility_violations().await;
    assert!(violations.is_empty(), "{violations:#?}");
    b.c().set_window_size(1280, 900).await.unwrap();
    b.click_css("[data-close-diff]").await;
    b.click_css(&format!("button[data-update-deployment='{id}']"))
        .await;
    b.until(
        "the offer to update anyway",
        "return [...document.querySelectorAll('#toasts .toast.error button')].some(b => b.textContent === 'Update anyway');",
    )
    .await;
    b.js("[...document.querySelectorAll('#toasts .toast.error button')].find(b => b.textContent === 'Update anyway').click(); return true;")
        .await;
    b.until(
        "updated",
        "return [...document.querySelectorAll('#toasts .toast')].some(t => t.textContent.includes('Updated to the latest version'));",
    )
    .await;
    assert_ne!(std::fs::read_to_string(&file).unwrap(), "edited here\n");

    // On the job dashboard: cancel everything matching a filter, after the count.
    b.goto(&server.url("/jobs?status=succeeded")).await;
    b.c()
        .find(Locator::Css("#status"))
        .await
        .unwrap()
        .select_by_value("succeeded")
        .await
        .unwrap();
    b.click_css("button[data-job-batch='cancel'][data-scope='filter']")
        .await;
    let question = b.c().get_alert_text().await.unwrap();
    assert!(question.starts_with("Cancel "), "{question}");
    b.c().accept_alert().await.unwrap();
    b.until(
        "nothing cancelled: they had finished",
        "return [...document.querySelectorAll('#toasts .toast')].some(t => t.textContent.startsWith('Cancelled: 0, left alone: '));",
    )
    .await;
    if b.reads_console() {
        // The refused update (409) is the one expected error.
        let errors = b.console_errors().await;
        assert!(errors.iter().all(|e| e.contains("409")), "{errors:#?}");
    }
    browser.finish().await;
}
