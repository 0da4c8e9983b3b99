//! The filesystem source with the configured git sources beside it, as one source: each git
//! repository is a collection of its own; an id held by several collections is listed once,
//! from the filesystem first, with every collection that holds it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::git::GitSource;
use super::{ArtifactId, ArtifactSource, SourceArtifact, SourceError, SourceItem};

/// One source over several.
pub struct CompositeSource {
    primary: Arc<dyn ArtifactSource>,
    git: Vec<GitSource>,
}

impl CompositeSource {
    /// `primary` (the data home's collections) and `git` repositories.
    pub fn new(primary: Arc<dyn ArtifactSource>, git: Vec<GitSource>) -> Self {
        Self { primary, git }
    }

    /// The source an item comes from: a git source (its items' fingerprints are git object
    /// ids) by its collection, else the primary, even when a folder has a git source's name.
    fn owner(&self, item: &SourceItem) -> &dyn ArtifactSource {
        let from_git = item.fingerprint.starts_with(super::git::FINGERPRINT_PREFIX);
        match self
            .git
            .iter()
            .find(|g| from_git && g.collection() == item.collection)
        {
            Some(g) => g,
            None => self.primary.as_ref(),
        }
    }
}

/// Adds `more` to `items`: a new id is appended, a known one gains the collection.
fn merge(items: &mut Vec<SourceItem>, more: Vec<SourceItem>) {
    for item in more {
        match items.iter_mut().find(|i| i.artifact_id == item.artifact_id) {
            Some(known) => {
                if !known.collections.contains(&item.collection) {
                    known.collections.push(item.collection);
                }
            }
            None => items.push(item),
        }
    }
}

#[async_trait::async_trait]
impl ArtifactSource for CompositeSource {
    fn kind(&self) -> &'static str {
        self.primary.kind()
    }

    async fn collections(&self) -> Result<Vec<String>, SourceError> {
        let mut names = self.primary.collections().await?;
        for g in &self.git {
            if !names.iter().any(|n| n == g.collection()) {
                names.push(g.collection().to_string());
            }
        }
        Ok(names)
    }

    async fn list(&self) -> Result<Vec<SourceItem>, SourceError> {
        let mut items = self.primary.list().await?;
        for g in &self.git {
            match g.list().await {
                Ok(more) => merge(&mut items, more),
                // A repository never fetched is reported and skipped: the others still serve.
                Err(e) => {
                    tracing::warn!(collection = g.collection(), error = %e, "git source unavailable")
                }
            }
        }
        Ok(items)
    }

    async fn locate(&self, id: &ArtifactId) -> Result<Option<SourceItem>, SourceError> {
        let mut found: Vec<SourceItem> = self.primary.locate(id).await?.into_iter().collect();
        for g in &self.git {
            if let Ok(Some(item)) = g.locate(id).await {
                merge(&mut found, vec![item]);
            }
        }
        Ok(found.into_iter().next())
    }

    async fn read(&self, item: &SourceItem) -> Result<Option<SourceArtifact>, SourceError> {
        self.owner(item).read(item).await
    }

    async fn read_file(
        &self,
        item: &SourceItem,
        relative_path: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        self.owner(item)
            .read_file(item, relative_path, max_bytes)
            .await
    }

    async fn copy_file(
        &self,
        item: &SourceItem,
        relative_path: &str,
        dest: &Path,
    ) -> Result<(), SourceError> {
        self.owner(item).copy_file(item, relative_path, dest).await
    }

    async fn replace_content(
        &self,
        item: &SourceItem,
        from: &Path,
        expected_hash: &str,
    ) -> Result<Vec<PathBuf>, SourceError> {
        self.owner(item)
            .replace_content(item, from, expected_hash)
            .await
    }
}
