//! Adding and managing artifacts from the collections page: the "Add artifact" panel (from a
//! folder, from a git repository, new from a template) and the drawer's controls (edit a text
//! file, delete into the trash, check and pull a git upstream). The page script sends them to
//! the API.

use maud::{Markup, html};

use crate::authoring::upstream::UpstreamStatus;
use crate::source::{ArtifactType, SourceArtifact};

/// The "Add artifact" panel; `folders` are the collection folders it may write into.
pub fn add_artifact_panel(folders: &[String]) -> Markup {
    html! {
        details #add-artifact.detail {
            summary { "Add artifact" }
            form #add-artifact-form {
                fieldset.toolbar.bare {
                    legend { "From" }
                    label.chip { input type="radio" name="from" value="folder" checked; "A folder or file" }
                    label.chip { input type="radio" name="from" value="git"; "A git repository" }
                    label.chip { input type="radio" name="from" value="new"; "New from a template" }
                }
                div.toolbar data-from="folder" {
                    span.field {
                        label for="add-path" { "Folder or .md file on the server" }
                        input #add-path name="path" placeholder="/home/me/skills/canvas" size="40";
                    }
                }
                div.toolbar data-from="git" hidden {
                    span.field {
                        label for="add-url" { "Repository URL" }
                        input #add-url name="url" placeholder="https://github.com/me/skills.git" size="40";
                    }
                    span.field {
                        label for="add-ref" { "Branch, tag or commit" }
                        input #add-ref name="ref" placeholder="main";
                    }
                    span.field {
                        label for="add-repo-path" { "Folder in the repository" }
                        input #add-repo-path name="repo_path" placeholder="skills/canvas";
                    }
                }
                div.toolbar data-from="new" hidden {
                    span.field {
                        label for="add-description" { "Description" }
                        input #add-description name="description" placeholder="What it does and when to use it" size="40";
                    }
                }
                div.toolbar {
                    span.field {
                        label for="add-type" { "Type" }
                        select #add-type name="type" {
                            option value="" { "Infer (as SkillMeat does)" }
                            @for t in ArtifactType::ALL { option value=(t.as_str()) { (t.as_str()) } }
                        }
                    }
                    span.field {
                        label for="add-name" { "Name" }
                        input #add-name name="name" maxlength="255" placeholder="from the path";
                    }
                    span.field {
                        label for="add-collection" { "Collection folder" }
                        select #add-collection name="collection" {
                            @if folders.is_empty() { option value="default" { "default" } }
                            @for f in folders { option value=(f) { (f) } }
                        }
                    }
                    label.chip { input type="checkbox" name="overwrite"; "Replace one of the same name" }
                    button.primary type="submit" { "Add" }
                }
            }
        }
    }
}

/// Whether a file can be edited as text here (by its name).
fn editable(path: &str) -> bool {
    const TEXT: [&str; 12] = [
        "md", "txt", "json", "yaml", "yml", "toml", "py", "sh", "js", "ts", "html", "css",
    ];
    path.rsplit_once('.')
        .is_some_and(|(_, ext)| TEXT.contains(&ext.to_ascii_lowercase().as_str()))
}

/// The drawer's files with their Edit buttons (when `writable`), the editor's place, the
/// upstream's state with Check and Update, and Delete.
pub fn drawer_controls(
    a: &SourceArtifact,
    writable: bool,
    upstream: Option<&UpstreamStatus>,
) -> Markup {
    let id = &a.item.artifact_id;
    html! {
        h3 { "Files (" (a.files.len()) ")" }
        ul.files { @for f in &a.files {
            li {
                (f.path) " " span.muted { "(" (f.size) " bytes)" }
                @if writable && editable(&f.path) {
                    " "
                    button.linklike type="button" data-edit-file=(f.path) data-artifact=(id)
                        data-tag=(a.content_hash) aria-label=(format!("Edit {}", f.path)) { "Edit" }
                }
            }
        } }
        div #drawer-editor aria-live="polite" {}
        @if let Some(up) = upstream {
            h3 { "Upstream" }
            p {
                code { (up.url) } " at " code { (up.git_ref) }
                @if !up.path.is_empty() { " (" code { (up.path) } ")" }
                " "
                @if up.update_available {
                    span.badge.status.outdated { "update available" }
                } @else if up.checked_at.is_some() {
                    span.badge.status.synced { "up to date" }
                }
            }
            p.muted {
                "From commit " code { (short(up.resolved_sha.as_deref())) }
                @if let Some(at) = up.checked_at {
                    "; checked " (super::time(Some(at)))
                    @if let Some(latest) = &up.latest_sha { ", newest " code { (short(Some(latest))) } }
                }
                @if let Some(e) = &up.error { "; the last check failed: " (e) }
            }
            @if writable {
                div.toolbar {
                    button type="button" data-upstream="check" data-artifact=(id) { "Check for updates" }
                    @if up.update_available {
                        button.primary type="button" data-upstream="update" data-artifact=(id) { "Update" }
                    }
                }
            }
        }
        @if writable {
            div.toolbar.danger-zone {
                button type="button" data-delete-artifact=(id) data-name=(a.item.name)
                    data-collection=(a.item.collection) { "Delete artifact" }
            }
        } @else {
            p.muted { "From a read-only source: its files cannot be edited or deleted here." }
        }
    }
}

fn short(sha: Option<&str>) -> String {
    sha.map(|s| s.chars().take(12).collect())
        .unwrap_or_else(|| "unknown".into())
}
