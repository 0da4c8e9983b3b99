//! Imports from a folder, new artifacts from request text, and the shared checks of what is
//! written: a usable name, a type, the shape the type is stored in, and valid front matter.

use std::collections::BTreeMap;
use std::path::{Component, PathBuf};

use super::files::{self, FileSet};
use super::infer::{self, collection_path, is_single_file};
use super::write::{self, Placed};
use super::{AuthoringError, AuthoringService, blocking};
use crate::source::lockfile::LockUpstream;
use crate::source::manifest_edit::NewEntry;
use crate::source::{ArtifactId, ArtifactType, frontmatter, printable, validate_name};

/// An import from a folder or file on the server's machine.
#[derive(Debug, Clone)]
pub struct PathImport {
    /// Absolute path (`~` expanded).
    pub path: String,
    /// Collection folder to write into.
    pub collection: String,
    /// Type; inferred when absent.
    pub artifact_type: Option<ArtifactType>,
    /// Name; from the path when absent.
    pub name: Option<String>,
    /// Replace an artifact of the same id in the collection.
    pub overwrite: bool,
}

/// An import from a git repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitImport {
    /// https, ssh or file URL.
    pub url: String,
    /// Branch, tag or commit.
    pub git_ref: String,
    /// Folder or file inside the repository (empty: the whole repository).
    pub path: String,
    /// Collection folder to write into.
    pub collection: String,
    /// Type; inferred when absent.
    pub artifact_type: Option<ArtifactType>,
    /// Name; from the path when absent.
    pub name: Option<String>,
    /// Replace an artifact of the same id in the collection.
    pub overwrite: bool,
}

/// A new artifact from text.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// Type.
    pub artifact_type: ArtifactType,
    /// Name.
    pub name: String,
    /// Collection folder to write into.
    pub collection: String,
    /// Relative path to text.
    pub files: BTreeMap<String, String>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    /// `type:name`.
    pub artifact_id: ArtifactId,
    /// The collection written into.
    pub collection: String,
    /// Path inside the collection.
    pub path: String,
    /// SkillMeat's content hash.
    pub content_hash: String,
    /// The commit, for git imports.
    pub resolved_sha: Option<String>,
}

/// Where content came from, for the manifest and the lock.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    pub upstream: Option<String>,
    pub version_spec: Option<String>,
    pub resolved_sha: Option<String>,
    pub upstream_path: Option<String>,
    /// Written from request text: its front matter is held to the stricter rules.
    pub created: bool,
}

impl AuthoringService {
    /// Imports a folder (a skill, hook or MCP server) or a `.md` file (a command or agent).
    pub async fn import_path(&self, req: PathImport) -> Result<Written, AuthoringError> {
        if let Some(name) = &req.name {
            validate_name(name).map_err(AuthoringError::BadRequest)?;
        }
        self.collection_dir(&req.collection)?;
        let source = self.importable_path(&req.path)?;
        let limits = self.inner.limits;
        let probe = source.clone();
        let (set, inferred, is_dir) = blocking(move || {
            let is_dir = probe.is_dir();
            let inferred = infer::infer_type(&probe, is_dir, |n| probe.join(n).is_file());
            Ok((files::read_source(&probe, limits)?, inferred, is_dir))
        })
        .await?;
        let artifact_type = req.artifact_type.or(inferred).ok_or_else(|| {
            AuthoringError::BadRequest(format!(
                "cannot tell what {} is (no SKILL.md, not in a skills/, commands/ or agents/ \
                 folder); give \"type\"",
                source.display()
            ))
        })?;
        let name = match req.name {
            Some(n) => n,
            None => infer::name_from_path(&source, is_dir).unwrap_or_default(),
        };
        self.write_new(
            &req.collection,
            artifact_type,
            &name,
            set,
            Origin::default(),
            req.overwrite,
        )
        .await
    }

    /// Creates an artifact from the request's files, its front matter checked.
    pub async fn create(&self, req: CreateRequest) -> Result<Written, AuthoringError> {
        if req.files.is_empty() {
            return Err(AuthoringError::BadRequest("files must not be empty".into()));
        }
        let single = is_single_file(req.artifact_type);
        let mut given = req.files;
        if single {
            if given.len() != 1 {
                return Err(AuthoringError::BadRequest(format!(
                    "a {} is one Markdown file; send exactly one file",
                    req.artifact_type
                )));
            }
            // Stored as <name>.md whatever the request called it.
            let text = given.pop_first().map(|(_, t)| t).unwrap_or_default();
            given = BTreeMap::from([(format!("{}.md", req.name), text)]);
        }
        let set = files::from_request(given, single, self.inner.limits)?;
        self.write_new(
            &req.collection,
            req.artifact_type,
            &req.name,
            set,
            Origin {
                created: true,
                ..Default::default()
            },
            false,
        )
        .await
    }

    /// Checks `set` as an artifact of `artifact_type` named `name` and writes it.
    pub(crate) async fn write_new(
        &self,
        collection: &str,
        artifact_type: ArtifactType,
        name: &str,
        set: FileSet,
        origin: Origin,
        overwrite: bool,
    ) -> Result<Written, AuthoringError> {
        validate_name(name).map_err(AuthoringError::BadRequest)?;
        let dir = self.collection_dir(collection)?;
        if !dir.is_dir()
            && self
                .inner
                .cache
                .source()
                .collections()
                .await
                .map_err(crate::cache::CacheError::from)?
                .iter()
                .any(|c| c == collection)
        {
            return Err(AuthoringError::Conflict(format!(
                "collection '{collection}' is a read-only source; import into a collection folder"
            )));
        }
        let set = shaped(artifact_type, name, set)?;
        let parsed = check_document(artifact_type, &set, origin.created)?;
        let github = origin
            .upstream
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .is_some_and(|u| u.host_str() == Some("github.com"));
        let entry = NewEntry {
            name: name.to_string(),
            artifact_type: artifact_type.as_str().to_string(),
            path: collection_path(artifact_type, name, set.single_file),
            origin: if github { "github" } else { "local" }.into(),
            upstream: origin.upstream.clone(),
            version_spec: origin.version_spec.clone(),
            resolved_sha: origin.resolved_sha.clone(),
            upstream_path: origin.upstream_path.clone(),
            description: parsed.metadata.description.clone(),
            frontmatter: (!parsed.frontmatter.is_empty()).then_some(parsed.frontmatter),
        };
        let lock_upstream = match (&origin.upstream, &origin.resolved_sha) {
            (Some(url), Some(sha)) => Some(LockUpstream {
                url: url.clone(),
                resolved_sha: sha.clone(),
            }),
            _ => None,
        };
        let _guard = self.inner.collections.manifest_lock.lock().await;
        let name_owned = collection.to_string();
        let entry_for_write = entry.clone();
        let Placed {
            content_hash,
            paths,
        } = blocking(move || {
            write::place(
                &dir,
                &name_owned,
                &set,
                &entry_for_write,
                overwrite,
                lock_upstream.as_ref(),
            )
        })
        .await?;
        drop(_guard);
        let id = ArtifactId {
            artifact_type,
            name: name.to_string(),
        };
        self.written(&id, &paths).await?;
        Ok(Written {
            artifact_id: id,
            collection: collection.to_string(),
            path: entry.path,
            content_hash,
            resolved_sha: origin.resolved_sha,
        })
    }

    /// An absolute path without `..`, inside `deploy.allowed_roots` as written and resolved.
    pub(crate) fn importable_path(&self, raw: &str) -> Result<PathBuf, AuthoringError> {
        let expanded = crate::config::expand_home(raw.trim());
        if raw.contains('\0') || !expanded.is_absolute() {
            return Err(AuthoringError::BadRequest(format!(
                "path '{}' must be absolute",
                printable(raw)
            )));
        }
        if expanded.components().any(|c| c == Component::ParentDir) {
            return Err(AuthoringError::BadRequest(format!(
                "path '{}' must not contain '..'",
                printable(raw)
            )));
        }
        let outside = || {
            AuthoringError::OutsideRoots(format!(
                "path '{}' is not inside deploy.allowed_roots; imports are read only from there",
                printable(raw)
            ))
        };
        if !self.inner.roots.contains(&expanded) {
            return Err(outside());
        }
        let resolved = expanded.canonicalize().map_err(|_| {
            AuthoringError::NotFound(format!("path '{}' does not exist", printable(raw)))
        })?;
        if !self.inner.roots.contains(&resolved) {
            return Err(outside());
        }
        Ok(expanded)
    }
}

/// The files in the shape their type is stored in: commands and agents one `.md` file (a
/// folder holding exactly one is accepted), the other types folders.
fn shaped(t: ArtifactType, name: &str, set: FileSet) -> Result<FileSet, AuthoringError> {
    if is_single_file(t) {
        let mut files = set.files;
        if files.len() != 1 {
            return Err(AuthoringError::BadRequest(format!(
                "a {t} is one Markdown file; this holds {} files",
                files.len()
            )));
        }
        let (path, bytes) = files.pop_first().unwrap_or_default();
        if !path.ends_with(".md") {
            return Err(AuthoringError::BadRequest(format!(
                "a {t} is a Markdown file; '{path}' is not .md"
            )));
        }
        return Ok(FileSet {
            files: BTreeMap::from([(format!("{name}.md"), bytes)]),
            single_file: true,
        });
    }
    if set.single_file {
        return Err(AuthoringError::BadRequest(format!(
            "a {t} is a folder; give the folder, not one file"
        )));
    }
    Ok(set)
}

/// The main document's front matter must parse; a skill needs `SKILL.md`, and a created one
/// a description too.
fn check_document(
    t: ArtifactType,
    set: &FileSet,
    created: bool,
) -> Result<frontmatter::ParsedDocument, AuthoringError> {
    let main = if set.single_file {
        set.files.values().next()
    } else {
        let names: &[&str] = match t {
            ArtifactType::Skill => &["SKILL.md", "skill.md"],
            ArtifactType::Command => &["COMMAND.md", "command.md"],
            ArtifactType::Agent => &["AGENT.md", "agent.md"],
            ArtifactType::Hook => &["HOOK.md", "hook.md", "README.md"],
            ArtifactType::Mcp => &["MCP.md", "mcp.md", "README.md"],
        };
        names.iter().find_map(|n| set.files.get(*n))
    };
    let Some(main) = main else {
        if t == ArtifactType::Skill {
            return Err(AuthoringError::Invalid(
                "a skill needs a SKILL.md at its top".into(),
            ));
        }
        return Ok(Default::default());
    };
    let parsed = frontmatter::parse_document(main);
    if created && let Some(e) = &parsed.frontmatter_error {
        return Err(AuthoringError::Invalid(format!(
            "the front matter is not valid YAML: {e}"
        )));
    }
    if created
        && t == ArtifactType::Skill
        && parsed
            .frontmatter
            .get("description")
            .and_then(|d| d.as_str())
            .is_none_or(|d| d.trim().is_empty())
    {
        return Err(AuthoringError::Invalid(
            "SKILL.md's front matter needs a description (---\\ndescription: ...\\n---)".into(),
        ));
    }
    Ok(parsed)
}
