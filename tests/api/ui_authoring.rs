//! Adding and managing artifacts in the browser: "Add artifact" from a folder, from a git
//! repository and new from a template; a text file edited in the details panel, a stale save
//! showing what changed; an upstream's new commit seen and pulled with Update; a delete undone
//! from the trash.

use serde_json::json;

use crate::authoring::{file_url, git, skills_repo};
use crate::browser::Browser;
use crate::live::LiveServer;

async fn fill(b: &Browser, css: &str, text: &str) {
    b.js(&format!(
        "const el = document.querySelector({}); el.value = {}; return true;",
        json!(css),
        json!(text)
    ))
    .await;
}

async fn open_drawer(b: &Browser, name: &str) {
    b.until(
        &format!("{name} listed"),
        &format!(
            "return [...document.querySelectorAll('#items h2 button')].some(x => x.textContent === {});",
            json!(name)
        ),
    )
    .await;
    b.js(&format!(
        "[...document.querySelectorAll('#items h2 button')].find(x => x.textContent === {}).click(); return true;",
        json!(name)
    ))
    .await;
    b.until(
        "the details",
        &format!(
            "const h = document.querySelector('#drawer-title'); return !!h && h.textContent === {};",
            json!(name)
        ),
    )
    .await;
}

#[tokio::test]
async fn artifacts_are_added_edited_updated_and_deleted_from_the_collections_page() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = LiveServer::start().await;
    server.wait_for_warm().await;
    let b = &browser;
    let src = server.folder("sources/canvas");
    std::fs::write(
        src.join("SKILL.md"),
        "---\ndescription: Draws\n---\none\ntwo\n",
    )
    .unwrap();
    let repo = skills_repo(&server.folder("git"));

    b.goto(&server.url("/")).await;
    b.click_css("#add-artifact summary").await;
    // From a folder.
    fill(b, "#add-path", src.to_str().unwrap()).await;
    b.screenshot("add-artifact").await;
    b.click_css("#add-artifact-form button[type=submit]").await;
    b.toast("added from a folder", "Added skill:canvas").await;
    // From a git repository.
    b.click_css("#add-artifact-form input[value=git]").await;
    fill(b, "#add-url", &file_url(&repo)).await;
    fill(b, "#add-repo-path", "skills/painter").await;
    b.click_css("#add-artifact-form button[type=submit]").await;
    b.toast("added from git", "Added skill:painter").await;
    // New from a template.
    b.click_css("#add-artifact-form input[value=new]").await;
    b.js("document.querySelector('#add-type').value = 'command'; return true;")
        .await;
    fill(b, "#add-name", "hello").await;
    fill(b, "#add-description", "Says hello").await;
    b.click_css("#add-artifact-form button[type=submit]").await;
    b.toast("created", "Added command:hello").await;
    let hello = server
        .data_home
        .join("collections/default/commands/hello.md");
    assert!(
        std::fs::read_to_string(&hello)
            .unwrap()
            .contains("description: Says hello")
    );
    let violations = b.accessibility_violations().await;
    assert!(violations.is_empty(), "{violations:#?}");

    // Edit a file; then a stale save shows what changed and keeps the text.
    open_drawer(b, "canvas").await;
    b.click_css("[data-edit-file='SKILL.md']").await;
    b.until(
        "the editor",
        "return !!document.querySelector('#file-editor textarea');",
    )
    .await;
    fill(
        b,
        "#file-editor textarea",
        "---\ndescription: Draws well\n---\none\ntwo\n",
    )
    .await;
    b.screenshot("edit-file").await;
    b.click_css("#file-editor button[type=submit]").await;
    b.toast("saved", "Saved SKILL.md").await;
    let skill_md = server
        .data_home
        .join("collections/default/skills/canvas/SKILL.md");
    assert!(
        std::fs::read_to_string(&skill_md)
            .unwrap()
            .contains("Draws well")
    );
    b.until(
        "the drawer reloaded",
        "return !document.querySelector('#file-editor');",
    )
    .await;
    b.click_css("[data-edit-file='SKILL.md']").await;
    b.until(
        "the editor",
        "return !!document.querySelector('#file-editor textarea');",
    )
    .await;
    std::fs::write(
        &skill_md,
        "---\ndescription: Draws well\n---\none\nTWO, changed elsewhere\n",
    )
    .unwrap();
    fill(b, "#file-editor textarea", "mine\n").await;
    b.click_css("#file-editor button[type=submit]").await;
    b.until(
        "the stale save's changes",
        "const s = document.querySelector('#file-editor .stale pre'); return !!s && s.textContent.includes('+ TWO, changed elsewhere');",
    )
    .await;
    b.screenshot("stale-save").await;
    assert!(
        std::fs::read_to_string(&skill_md)
            .unwrap()
            .contains("TWO, changed elsewhere")
    );
    // The first save's toast may still show: only a new one counts.
    b.js("document.querySelectorAll('#toasts .toast').forEach(t => t.remove()); return true;")
        .await;
    b.js("[...document.querySelectorAll('#file-editor .stale button')].find(x => x.textContent === 'Save mine over it').click(); return true;").await;
    b.toast("saved over", "Saved SKILL.md").await;
    assert_eq!(std::fs::read_to_string(&skill_md).unwrap(), "mine\n");

    // The upstream moved on: Check shows the badge, Update pulls it.
    std::fs::write(
        repo.join("skills/painter/SKILL.md"),
        "---\ndescription: Paints better\n---\n",
    )
    .unwrap();
    git(&repo, &["commit", "-qam", "two"]);
    open_drawer(b, "painter").await;
    b.click_css("[data-upstream='check']").await;
    b.toast("checked", "An update is available").await;
    b.until("the badge", "return [...document.querySelectorAll('#drawer .badge')].some(x => x.textContent === 'update available');").await;
    b.screenshot("update-available").await;
    b.click_css("[data-upstream='update']").await;
    b.toast("updated", "Updated skill:painter").await;
    let painter = server
        .data_home
        .join("collections/default/skills/painter/SKILL.md");
    assert!(
        std::fs::read_to_string(&painter)
            .unwrap()
            .contains("Paints better")
    );

    // Delete, then undo from the toast.
    open_drawer(b, "canvas").await;
    b.click_css("[data-delete-artifact='skill:canvas']").await;
    let question = b.c().get_alert_text().await.unwrap();
    assert!(question.contains("trash"), "{question}");
    b.c().accept_alert().await.unwrap();
    b.toast("deleted", "Deleted canvas").await;
    assert!(!skill_md.exists());
    b.js("[...document.querySelectorAll('#toasts .toast button')].find(x => x.textContent === 'Undo').click(); return true;").await;
    b.toast("restored", "Restored canvas").await;
    assert_eq!(std::fs::read_to_string(&skill_md).unwrap(), "mine\n");
    if b.reads_console() {
        // The stale save (412) is the one expected error.
        let errors = b.console_errors().await;
        assert!(errors.iter().all(|e| e.contains("412")), "{errors:#?}");
    }
    b.leave().await;
    browser.finish().await;
}
