//! An artifact's details in the drawer of the collections page: metadata, files, groups (with
//! the group switches of the chosen collection) and deployments.

use maud::html;
use poem::web::{Data, Query};
use poem::{IntoResponse, Response, handler};

use super::artifact_forms::drawer_controls;
use super::{error_response, project_name};
use crate::deploy::{DeploymentFilter, DeploymentSort};
use crate::error::ApiError;
use crate::state::AppState;

/// An artifact's details for the drawer: metadata, files, groups and deployments.
#[handler]
pub async fn drawer_fragment(
    Data(state): Data<&AppState>,
    poem::web::Path(raw): poem::web::Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let collection = pairs
        .iter()
        .find(|(k, _)| k == "collection")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let result = async {
        let id = crate::api::artifacts::parse_id(&raw)?;
        let Some(found) = state.cache.get_or_fill(&id).await? else {
            return Err(ApiError::not_found(format!("Artifact '{id}' not found")));
        };
        let groups = state
            .collections
            .groups_of_artifact(&id.to_string())
            .await?;
        let filter = DeploymentFilter {
            artifact_id: Some(id.to_string()),
            ..Default::default()
        };
        let deployments = state
            .deployments
            .list(&filter, DeploymentSort::Project, false, 50, None)
            .await?;
        let in_collection = if collection.is_empty() {
            Vec::new()
        } else {
            let all = state
                .collections
                .list_groups(&collection, None, None)
                .await?;
            let mine = state
                .collections
                .list_groups(&collection, None, Some(&id.to_string()))
                .await?;
            all.into_iter()
                .map(|g| {
                    let member = mine.iter().any(|m| m.group.id == g.group.id);
                    (g.group.id, g.group.name, member)
                })
                .collect()
        };
        let upstream = state
            .authoring
            .upstream_status(&found.artifact.item)
            .await?;
        let writable = state.authoring.writable(&found.artifact.item);
        Ok((
            found.artifact,
            groups,
            deployments.items,
            in_collection,
            upstream,
            writable,
        ))
    };
    let (a, groups, deployments, in_collection, upstream, writable) = match result.await {
        Ok(parts) => parts,
        Err(e) => return error_response(e),
    };
    let m = &a.metadata;
    html! {
        section.detail aria-labelledby="drawer-title"
            data-drawer-url=(format!("/ui/artifacts/{}?collection={}", super::encode(&a.item.artifact_id), super::encode(&collection))) {
            div.toolbar {
                span class=(format!("badge {}", a.item.artifact_type.as_str())) { (a.item.artifact_type.as_str()) }
                h2 #drawer-title { (a.item.name) }
                span.spacer {}
                button type="button" data-close-drawer
                    aria-label="Close the details" { "Close" }
            }
            p { (m.description.as_deref().unwrap_or("No description")) }
            dl.facts {
                dt { "Id" } dd { code { (a.item.artifact_id) } }
                dt { "Collection" } dd { (a.item.collections.join(", ")) }
                dt { "Path" } dd { (a.item.path) }
                @if let Some(v) = &m.version { dt { "Version" } dd { (v) } }
                @if let Some(v) = &m.author { dt { "Author" } dd { (v) } }
                @if !m.tags.is_empty() { dt { "Tags" } dd { (m.tags.join(", ")) } }
                @if !m.tools.is_empty() { dt { "Tools" } dd { (m.tools.join(", ")) } }
                dt { "Content hash" } dd { code { (a.content_hash) } }
            }
            (drawer_controls(&a, writable, upstream.as_ref()))
            @if !in_collection.is_empty() {
                fieldset {
                    legend { "Groups in this collection" }
                    @for (gid, name, member) in &in_collection {
                        label.chip {
                            input type="checkbox" data-group-toggle=(gid) data-artifact=(a.item.artifact_id)
                                checked[*member];
                            (name)
                        }
                        " "
                    }
                }
            }
            h3 { "Groups" }
            @if groups.is_empty() { p.muted { "In no group." } } @else {
                ul { @for (collection, group) in &groups { li { (group) span.muted { " in " (collection) } } } }
            }
            h3 { "Deployments" }
            div #drawer-diff aria-live="polite" {}
            @if deployments.is_empty() { p.muted { "Not deployed." } } @else {
                ul { @for d in &deployments {
                    li {
                        strong { (project_name(&d.project_path)) } " (" (d.profile) ") "
                        span class=(format!("badge status {}", d.status)) { (d.status) } " "
                        button.linklike type="button" hx-get=(format!("/ui/deployments/{}/diff", super::encode(&d.id)))
                            hx-target="#drawer-diff" aria-label=(format!("Diff in {}", d.project_path)) { "Diff" }
                        span.path.muted { (d.project_path) }
                    }
                } }
            }
        }
    }
    .into_response()
}
