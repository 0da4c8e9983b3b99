//! Pulling from git: an import from a repository (the `git_import` job's work), checked first
//! while the request waits, and an update of an artifact from its upstream, refused over edits
//! made since the last pull unless forced.

use chrono::Utc;
use entity::artifact_upstreams;
use sea_orm::ActiveValue::Set;
use sea_orm::EntityTrait;

use super::operations::Origin;
use super::upstream::{SourceKey, UpstreamSpec, upstream_of};
use super::{AuthoringError, AuthoringService, Written, blocking, git};
use crate::source::{ArtifactId, hash, lockfile};

impl AuthoringService {
    /// Checks an update can go ahead: the artifact has a git upstream and, unless `force`,
    /// its collection copy is as the last pull left it.
    pub async fn preflight_update(
        &self,
        id: &ArtifactId,
        force: bool,
    ) -> Result<(super::edit::Located, UpstreamSpec), AuthoringError> {
        let at = self.locate_writable(id).await?;
        let (spec, _) = upstream_of(id, &at.item)?;
        if force {
            return Ok((at, spec));
        }
        let row = artifact_upstreams::Entity::find_by_id((
            at.item.collection.clone(),
            at.item.artifact_id.clone(),
        ))
        .one(self.db())
        .await?;
        let root = at.root.clone();
        let current = blocking(move || {
            hash::content_hash(&root).map_err(|e| AuthoringError::Io {
                path: root,
                source: e,
            })
        })
        .await?;
        let pulled = row
            .and_then(|r| r.pulled_hash)
            .or_else(|| lockfile::content_hash_of(&at.dir, &id.name, id.artifact_type.as_str()));
        if pulled.as_deref() != Some(current.as_str()) {
            return Err(AuthoringError::Conflict(format!(
                "{id} was edited in collection '{}' since it was last pulled; updating would \
                 overwrite those edits (send ?force=true to replace them)",
                at.item.collection
            )));
        }
        Ok((at, spec))
    }

    /// Pulls the upstream's newest commit into the collection. Refused (409) when the copy
    /// was edited since the last pull, unless `force`.
    pub async fn update_from_upstream(
        &self,
        id: &ArtifactId,
        force: bool,
    ) -> Result<Written, AuthoringError> {
        let (at, spec) = self.preflight_update(id, force).await?;
        // The entry keeps its upstream as written (SkillMeat's own GitHub form stays as it is).
        let entry = at.item.manifest.clone();
        let recorded = entry.map(|e| Recorded {
            github_form: e
                .upstream
                .as_deref()
                .is_some_and(|u| u.starts_with("https://github.com/") && u.contains("/tree/")),
            upstream: e.upstream,
            version_spec: e.version_spec,
            upstream_path: e.upstream_path,
        });
        self.import_git_recorded(
            super::GitImport {
                url: spec.url,
                git_ref: spec.git_ref,
                path: spec.path,
                collection: at.item.collection.clone(),
                artifact_type: Some(id.artifact_type),
                name: Some(id.name.clone()),
                overwrite: true,
            },
            recorded,
        )
        .await
    }

    /// Checks a git import before it is queued: the URL, the names, and that the repository
    /// answers and has the ref (within `artifacts.git_timeout_secs`).
    pub async fn preflight_git(&self, req: &super::GitImport) -> Result<(), AuthoringError> {
        self.collection_dir(&req.collection)?;
        if let Some(name) = &req.name {
            crate::source::validate_name(name).map_err(AuthoringError::BadRequest)?;
        }
        // A repository on this machine is read only from inside deploy.allowed_roots, as a
        // folder import is.
        let url = crate::git::remote_url(&req.url)?;
        if let Some(local) = url
            .strip_prefix("file://")
            .or(url.starts_with('/').then_some(url.as_str()))
        {
            self.importable_path(local)?;
        }
        let timeout = self.inner.git_timeout;
        let git_ref = req.git_ref.clone();
        blocking(move || git::resolve_ref(&url, &git_ref, timeout).map(|_| ())).await
    }

    /// Imports from a git repository (the work of the `git_import` job).
    pub async fn import_git(&self, req: super::GitImport) -> Result<Written, AuthoringError> {
        self.import_git_recorded(req, None).await
    }

    /// [`Self::import_git`], recording the upstream as `recorded` says instead of as fetched
    /// (an update keeps the entry's own form).
    async fn import_git_recorded(
        &self,
        req: super::GitImport,
        recorded: Option<Recorded>,
    ) -> Result<Written, AuthoringError> {
        let limits = self.inner.limits;
        let timeout = self.inner.git_timeout;
        let progress = ::jobs::current_progress();
        let (url, git_ref, path) = (req.url.clone(), req.git_ref.clone(), req.path.clone());
        let fetched = blocking(move || {
            git::fetch(&url, &git_ref, &path, limits, timeout, |p| {
                progress.report(serde_json::json!({ "stage": "fetching", "objects": p }));
            })
        })
        .await?;
        let sub = std::path::Path::new(req.path.trim_matches('/'));
        let top = fetched.top_level.clone();
        let inferred =
            super::infer::infer_type(sub, fetched.is_dir, |n| top.iter().any(|t| t == n));
        let artifact_type = req.artifact_type.or(inferred).ok_or_else(|| {
            AuthoringError::BadRequest(format!(
                "cannot tell what '{}' is (no SKILL.md, not in a skills/, commands/ or agents/ \
                 folder); give \"type\"",
                req.path
            ))
        })?;
        let name = match req.name.clone() {
            Some(n) => n,
            None => super::infer::name_from_path(sub, fetched.is_dir)
                .filter(|n| !n.is_empty())
                .or_else(|| repo_name(&req.url))
                .unwrap_or_default(),
        };
        let written = self
            .write_new(
                &req.collection,
                artifact_type,
                &name,
                fetched.set,
                match recorded {
                    // SkillMeat's GitHub form names the commit: it moves to the new one.
                    Some(r) => Origin {
                        upstream: if r.github_form {
                            github_upstream(&req.url, &fetched.sha, &req.path).or(r.upstream)
                        } else {
                            r.upstream
                        },
                        version_spec: r.version_spec,
                        resolved_sha: Some(fetched.sha.clone()),
                        upstream_path: r.upstream_path,
                        created: false,
                    },
                    // On github.com, in SkillMeat's form, so its own `update` follows it too.
                    None => Origin {
                        upstream: Some(
                            github_upstream(&req.url, &fetched.sha, &req.path)
                                .unwrap_or_else(|| req.url.clone()),
                        ),
                        version_spec: Some(
                            if req.git_ref == "HEAD" && req.url.contains("github.com") {
                                "latest".to_string()
                            } else {
                                req.git_ref.clone()
                            },
                        ),
                        resolved_sha: Some(fetched.sha.clone()),
                        upstream_path: Some(req.path.trim_matches('/').to_string()),
                        created: false,
                    },
                },
                req.overwrite,
            )
            .await?;
        let hash = written.content_hash.clone();
        let sha = fetched.sha.clone();
        let item_key = SourceKey {
            collection: written.collection.clone(),
            artifact_id: written.artifact_id.to_string(),
        };
        self.store_key(&item_key, |row| {
            row.pulled_hash = Set(Some(hash.clone()));
            row.latest_sha = Set(Some(sha.clone()));
            row.checked_at = Set(Some(Utc::now()));
            row.error = Set(None);
        })
        .await?;
        Ok(written)
    }
}

/// How an entry records its upstream, kept across an update.
struct Recorded {
    /// SkillMeat's GitHub form, which names the commit (so it moves with each pull).
    github_form: bool,
    upstream: Option<String>,
    version_spec: Option<String>,
    upstream_path: Option<String>,
}

/// SkillMeat's upstream form of a GitHub repository's `path` at `sha`
/// (`https://github.com/<owner>/<repo>/tree/<sha>/<path>`), when `url` is one on github.com.
fn github_upstream(url: &str, sha: &str, path: &str) -> Option<String> {
    let rest = url.strip_prefix("https://github.com/")?;
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let (owner, repo) = rest.split_once('/')?;
    if repo.is_empty() || repo.contains('/') {
        return None;
    }
    let path = path.trim_matches('/');
    Some(if path.is_empty() {
        format!("https://github.com/{owner}/{repo}/tree/{sha}")
    } else {
        format!("https://github.com/{owner}/{repo}/tree/{sha}/{path}")
    })
}

/// The repository's name from its URL (`.../canvas.git` is `canvas`).
fn repo_name(url: &str) -> Option<String> {
    let last = url.trim_end_matches('/').rsplit(['/', ':']).next()?;
    let name = last.trim_end_matches(".git");
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_upstreams_are_written_in_skillmeats_form() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            github_upstream("https://github.com/me/skills.git", sha, "skills/x").as_deref(),
            Some(format!("https://github.com/me/skills/tree/{sha}/skills/x").as_str())
        );
        assert_eq!(
            github_upstream("https://gitlab.com/me/skills.git", sha, ""),
            None
        );
        assert_eq!(
            repo_name("git@host:me/canvas.git").as_deref(),
            Some("canvas")
        );
    }
}
