//! Acting on drift in the browser: from a deployment's diff, push a local edit into the
//! collection, merge the collection's version (a conflict settled per file), and take the
//! collection's version; each after a confirmation that says what it overwrites.

use serde_json::json;

use crate::browser::Browser;
use crate::live::LiveServer;

const BASE: &str = "---\ndescription: Merge me\n---\none\ntwo\nthree\n";

async fn deploy(server: &LiveServer, project: &std::path::Path) -> String {
    let r = server
        .post(
            "/api/v1/deployments",
            json!({"artifact_id": "skill:merge-me", "project_path": project}),
        )
        .await;
    r["id"].as_str().expect("deployed").to_string()
}

/// Opens the deployment dashboard and the diff of the deployment in `project`.
async fn open_diff(b: &Browser, server: &LiveServer, project: &std::path::Path, shows: &str) {
    b.goto(&server.url("/deployments")).await;
    b.click_css(&format!(
        "button[aria-label='Diff of skill:merge-me in {}']",
        project.display()
    ))
    .await;
    b.until(
        "the diff",
        &format!(
            "return [...document.querySelectorAll('#deployment-diff pre.diff span')].some(l => l.textContent === {});",
            json!(shows)
        ),
    )
    .await;
}

#[tokio::test]
async fn drift_is_pushed_merged_and_taken_from_the_diff_view() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = LiveServer::start().await;
    server.wait_for_warm().await;
    let b = &browser;
    let skill = server.data_home.join("collections/default/skills/merge-me");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(skill.join("SKILL.md"), BASE).unwrap();
    let (a, c) = (server.folder("app-a"), server.folder("app-c"));
    deploy(&server, &a).await;
    deploy(&server, &c).await;
    let copy = |p: &std::path::Path| p.join(".claude/skills/merge-me/SKILL.md");

    // Push a local edit: the confirmation says the collection's version is overwritten.
    std::fs::write(copy(&a), BASE.replace("one\n", "one, pushed from a\n")).unwrap();
    open_diff(b, &server, &a, "+one, pushed from a\n").await;
    // Opening the diff rechecked the deployment: the dashboard's counts follow.
    b.until(
        "the summary updated",
        "return [...document.querySelectorAll('#dep-summary a')].some(a => a.textContent.trim() === 'modified 1');",
    )
    .await;
    b.screenshot("drift-diff").await;
    b.click_css("[data-drift-action='push']").await;
    let question = b.c().get_alert_text().await.unwrap();
    assert!(question.contains("version is overwritten"), "{question}");
    b.c().accept_alert().await.unwrap();
    b.toast(
        "pushed",
        "Pushed skill:merge-me in app-a into default; 1 other deployment is now outdated",
    )
    .await;
    assert!(
        std::fs::read_to_string(skill.join("SKILL.md"))
            .unwrap()
            .contains("one, pushed from a")
    );

    // Merge into a copy that changed the same line: the conflict is shown, nothing written.
    let edited_c = BASE.replace("one\n", "one, edited in c\n");
    std::fs::write(copy(&c), &edited_c).unwrap();
    open_diff(b, &server, &c, "+one, edited in c\n").await;
    b.click_css("[data-drift-action='merge']").await;
    let question = b.c().get_alert_text().await.unwrap();
    assert!(question.contains("edits are kept"), "{question}");
    b.c().accept_alert().await.unwrap();
    b.until(
        "the conflict",
        "const legend = document.querySelector('.merge-conflicts fieldset legend');
         return !!legend && legend.textContent.includes('SKILL.md');",
    )
    .await;
    b.screenshot("drift-conflict").await;
    assert_eq!(std::fs::read_to_string(copy(&c)).unwrap(), edited_c);
    let violations = b.accessibility_violations().await;
    assert!(violations.is_empty(), "{violations:#?}");
    // Settled with the collection's side.
    b.click_css(".merge-conflicts input[value='theirs']").await;
    b.js("[...document.querySelectorAll('.merge-conflicts button')].find(x => x.textContent === 'Merge with these choices').click(); return true;")
        .await;
    b.toast(
        "merged",
        "Merged the collection's version of skill:merge-me in app-c",
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(copy(&c)).unwrap(),
        std::fs::read_to_string(skill.join("SKILL.md")).unwrap()
    );

    // Take the collection's version over another local edit: the confirmation says it is lost.
    std::fs::write(copy(&a), "thrown away\n").unwrap();
    open_diff(b, &server, &a, "+thrown away\n").await;
    b.click_css("[data-drift-action='take']").await;
    let question = b.c().get_alert_text().await.unwrap();
    assert!(question.contains("edits are lost"), "{question}");
    b.c().accept_alert().await.unwrap();
    b.toast(
        "taken",
        "Took the collection's version of skill:merge-me in app-a",
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(copy(&a)).unwrap(),
        std::fs::read_to_string(skill.join("SKILL.md")).unwrap()
    );
    if b.reads_console() {
        // The refused merge (409) is the one expected error.
        let errors = b.console_errors().await;
        assert!(errors.iter().all(|e| e.contains("409")), "{errors:#?}");
    }
    browser.finish().await;
}
