//! Following an artifact's git upstream: the newest commit of its ref is checked (on demand and
//! by the scheduled `upstream` job) and stored; an update pulls that commit into the
//! collection, refused when the collection's copy was edited since the last pull unless forced.
//!
//! The upstream comes from the manifest entry: `upstream` (a repository URL, or SkillMeat's
//! `https://github.com/<owner>/<repo>/tree/<ref>/<path>`), `version_spec` (the ref) and
//! `[artifacts.metadata.extra] upstream_path`.

use chrono::{DateTime, Utc};
use entity::artifact_upstreams;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use super::{AuthoringError, AuthoringService, blocking, git};
use crate::source::manifest::ManifestEntry;
use crate::source::{ArtifactId, SourceItem};

/// Where an artifact's upstream is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSpec {
    /// Repository URL.
    pub url: String,
    /// Branch, tag or commit (`HEAD` when none was given).
    pub git_ref: String,
    /// Folder or file inside the repository.
    pub path: String,
}

impl UpstreamSpec {
    /// The upstream of a manifest entry, when it names one git can fetch.
    pub fn from_entry(entry: &ManifestEntry) -> Option<Self> {
        let raw = entry.upstream.as_deref()?.trim();
        let spec_ref = entry
            .version_spec
            .clone()
            .filter(|v| !v.is_empty() && v != "latest");
        if let Some(rest) = raw.strip_prefix("https://github.com/")
            && let Some((repo, tail)) = split_github(rest)
        {
            // SkillMeat's form: .../<owner>/<repo>/tree/<commit>/<path>, the ref followed in
            // `version_spec` ("latest": the default branch).
            let path = tail.split_once('/').map(|(_, p)| p).unwrap_or("");
            return Some(Self {
                url: format!("https://github.com/{repo}.git"),
                git_ref: spec_ref.unwrap_or_else(|| "HEAD".into()),
                path: entry
                    .upstream_path
                    .clone()
                    .unwrap_or_else(|| path.to_string()),
            });
        }
        let fetchable = ["https://", "http://", "ssh://", "git://", "file://", "git@"];
        if !fetchable.iter().any(|p| raw.starts_with(p)) {
            return None;
        }
        Some(Self {
            url: raw.to_string(),
            git_ref: spec_ref.unwrap_or_else(|| "HEAD".into()),
            path: entry.upstream_path.clone().unwrap_or_default(),
        })
    }
}

/// `<owner>/<repo>` and what follows `/tree/`.
fn split_github(rest: &str) -> Option<(String, &str)> {
    let mut parts = rest.splitn(4, '/');
    let (owner, repo, tree, tail) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (tree == "tree").then(|| (format!("{owner}/{}", repo.trim_end_matches(".git")), tail))
}

/// An artifact's upstream as shown in its detail.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamStatus {
    /// Repository URL.
    pub url: String,
    /// The ref followed.
    pub git_ref: String,
    /// The folder in the repository.
    pub path: String,
    /// The commit the collection's copy came from.
    pub resolved_sha: Option<String>,
    /// The commit the ref named at the last check.
    pub latest_sha: Option<String>,
    /// True when the last check found a newer commit than the copy's.
    pub update_available: bool,
    /// When it was last checked.
    pub checked_at: Option<DateTime<Utc>>,
    /// Why the last check failed.
    pub error: Option<String>,
}

impl AuthoringService {
    /// The upstream of `item` and what is known of it, when it has one.
    pub async fn upstream_status(
        &self,
        item: &SourceItem,
    ) -> Result<Option<UpstreamStatus>, AuthoringError> {
        let Some(entry) = &item.manifest else {
            return Ok(None);
        };
        let Some(spec) = UpstreamSpec::from_entry(entry) else {
            return Ok(None);
        };
        let row = artifact_upstreams::Entity::find_by_id((
            item.collection.clone(),
            item.artifact_id.clone(),
        ))
        .one(self.db())
        .await?;
        Ok(Some(status_of(spec, entry.resolved_sha.clone(), row)))
    }

    /// Asks the upstream for the newest commit of the ref and stores it.
    pub async fn check_upstream(&self, id: &ArtifactId) -> Result<UpstreamStatus, AuthoringError> {
        let at = self.locate_writable(id).await?;
        let (spec, entry) = upstream_of(id, &at.item)?;
        let timeout = self.inner.git_timeout;
        let (url, git_ref) = (spec.url.clone(), spec.git_ref.clone());
        let checked =
            blocking(move || git::resolve_ref(&url, &git_ref, timeout).map(|(sha, _)| sha)).await;
        let now = Utc::now();
        let (latest, error) = match &checked {
            Ok(sha) => (Some(sha.clone()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        self.store(&at.item, |row| {
            if latest.is_some() {
                row.latest_sha = Set(latest.clone());
            }
            row.checked_at = Set(Some(now));
            row.error = Set(error.clone());
        })
        .await?;
        checked?;
        let row = artifact_upstreams::Entity::find_by_id((
            at.item.collection.clone(),
            at.item.artifact_id.clone(),
        ))
        .one(self.db())
        .await?;
        Ok(status_of(spec, entry.resolved_sha, row))
    }

    /// Checks every artifact with an upstream; returns (checked, failed messages).
    pub async fn check_all_upstreams(&self) -> Result<(u64, Vec<String>), AuthoringError> {
        let items = self
            .inner
            .cache
            .source()
            .list()
            .await
            .map_err(crate::cache::CacheError::from)?;
        let cancel = ::jobs::current_cancel_flag();
        let (mut checked, mut failed) = (0, Vec::new());
        for item in items {
            if cancel.is_set() {
                break;
            }
            let has_upstream = item
                .manifest
                .as_ref()
                .and_then(UpstreamSpec::from_entry)
                .is_some();
            let Ok(id) = ArtifactId::parse(&item.artifact_id) else {
                continue;
            };
            if !has_upstream {
                continue;
            }
            checked += 1;
            if let Err(e) = self.check_upstream(&id).await {
                failed.push(format!("{id}: {e}"));
            }
        }
        Ok((checked, failed))
    }

    pub(super) fn db(&self) -> &sea_orm::DatabaseConnection {
        self.inner.cache.db()
    }

    async fn store(
        &self,
        item: &SourceItem,
        set: impl FnOnce(&mut artifact_upstreams::ActiveModel),
    ) -> Result<(), AuthoringError> {
        let key = SourceKey {
            collection: item.collection.clone(),
            artifact_id: item.artifact_id.clone(),
        };
        self.store_key(&key, set).await
    }

    /// Writes the upstream row of `key`, creating it when missing (only the columns `set`
    /// touches change).
    pub(super) async fn store_key(
        &self,
        key: &SourceKey,
        set: impl FnOnce(&mut artifact_upstreams::ActiveModel),
    ) -> Result<(), AuthoringError> {
        use artifact_upstreams::Column as C;
        let mut row = artifact_upstreams::ActiveModel {
            collection: Set(key.collection.clone()),
            artifact_id: Set(key.artifact_id.clone()),
            ..Default::default()
        };
        set(&mut row);
        let mut update = Vec::new();
        for (column, is_set) in [
            (C::LatestSha, row.latest_sha.is_set()),
            (C::CheckedAt, row.checked_at.is_set()),
            (C::Error, row.error.is_set()),
            (C::PulledHash, row.pulled_hash.is_set()),
        ] {
            if is_set {
                update.push(column);
            }
        }
        artifact_upstreams::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([C::Collection, C::ArtifactId])
                    .update_columns(update)
                    .to_owned(),
            )
            .exec_without_returning(self.db())
            .await?;
        Ok(())
    }
}

/// The key of an upstream row: a collection's copy of an artifact.
pub(super) struct SourceKey {
    pub(super) collection: String,
    pub(super) artifact_id: String,
}

pub(super) fn upstream_of(
    id: &ArtifactId,
    item: &SourceItem,
) -> Result<(UpstreamSpec, ManifestEntry), AuthoringError> {
    let entry = item.manifest.clone().ok_or_else(|| {
        AuthoringError::Conflict(format!(
            "{id} is not listed in collection.toml, so it has no upstream"
        ))
    })?;
    let spec = UpstreamSpec::from_entry(&entry)
        .ok_or_else(|| AuthoringError::Conflict(format!("{id} has no git upstream")))?;
    Ok((spec, entry))
}

fn status_of(
    spec: UpstreamSpec,
    resolved_sha: Option<String>,
    row: Option<artifact_upstreams::Model>,
) -> UpstreamStatus {
    let (latest_sha, checked_at, error) = row
        .map(|r| (r.latest_sha, r.checked_at, r.error))
        .unwrap_or_default();
    let update_available = matches!((&latest_sha, &resolved_sha), (Some(l), Some(r)) if l != r);
    UpstreamStatus {
        url: spec.url,
        git_ref: spec.git_ref,
        path: spec.path,
        resolved_sha,
        latest_sha,
        update_available,
        checked_at,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(upstream: &str, spec: Option<&str>) -> ManifestEntry {
        ManifestEntry {
            name: "x".into(),
            artifact_type: "skill".into(),
            path: "skills/x".into(),
            origin: Some("github".into()),
            added: None,
            upstream: Some(upstream.into()),
            version_spec: spec.map(String::from),
            resolved_sha: None,
            resolved_version: None,
            tags: vec![],
            upstream_path: None,
            entry_hash: String::new(),
        }
    }

    #[test]
    fn skillmeat_github_upstreams_and_plain_urls_are_understood() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let s = UpstreamSpec::from_entry(&entry(
            &format!("https://github.com/anthropics/skills/tree/{sha}/canvas-design"),
            Some("latest"),
        ))
        .unwrap();
        assert_eq!(s.url, "https://github.com/anthropics/skills.git");
        assert_eq!(s.git_ref, "HEAD");
        assert_eq!(s.path, "canvas-design");
        let s = UpstreamSpec::from_entry(&entry(
            &format!("https://github.com/anthropics/skills/tree/{sha}"),
            Some("v2"),
        ))
        .unwrap();
        assert_eq!((s.git_ref.as_str(), s.path.as_str()), ("v2", ""));
        let s = UpstreamSpec::from_entry(&entry("file:///tmp/repo", Some("v1"))).unwrap();
        assert_eq!((s.git_ref.as_str(), s.path.as_str()), ("v1", ""));
        assert!(UpstreamSpec::from_entry(&entry("anthropics/skills/x", None)).is_none());
    }
}
