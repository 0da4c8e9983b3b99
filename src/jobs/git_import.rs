//! An import from a git repository, run as a job because a fetch may take long: its payload is
//! the request, stored as the run's scope in URL query form (`collection=...&url=...`), and the
//! fetch's progress shows in the run's details while it runs.

use ::jobs::{BoxError, Payload, RunReport};
use serde_json::json;

use super::JobServices;
use crate::authoring::GitImport;
use crate::source::ArtifactType;

/// Payload of a git import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitImportJob(pub GitImport);

impl GitImportJob {
    /// The kind's name.
    pub const KIND_NAME: &'static str = "git_import";
}

impl Payload for GitImportJob {
    const KIND: &'static str = Self::KIND_NAME;

    fn scope(&self) -> String {
        let r = &self.0;
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("collection", &r.collection)
            .append_pair("url", &r.url)
            .append_pair("ref", &r.git_ref)
            .append_pair("path", &r.path);
        if let Some(t) = r.artifact_type {
            q.append_pair("type", t.as_str());
        }
        if let Some(n) = &r.name {
            q.append_pair("name", n);
        }
        if r.overwrite {
            q.append_pair("overwrite", "true");
        }
        q.finish()
    }

    fn from_run(scope: &str, _force: bool) -> Result<Self, BoxError> {
        let mut req = GitImport {
            url: String::new(),
            git_ref: String::new(),
            path: String::new(),
            collection: String::new(),
            artifact_type: None,
            name: None,
            overwrite: false,
        };
        for (k, v) in url::form_urlencoded::parse(scope.as_bytes()) {
            match &*k {
                "collection" => req.collection = v.into_owned(),
                "url" => req.url = v.into_owned(),
                "ref" => req.git_ref = v.into_owned(),
                "path" => req.path = v.into_owned(),
                "type" => req.artifact_type = Some(v.parse::<ArtifactType>()?),
                "name" => req.name = Some(v.into_owned()),
                "overwrite" => req.overwrite = v == "true",
                other => return Err(format!("unknown git import field '{other}'").into()),
            }
        }
        if req.url.is_empty() || req.collection.is_empty() {
            return Err(format!("'{scope}' is not a git import").into());
        }
        Ok(Self(req))
    }
}

/// Fetches and writes the artifact; the run's details name what was imported.
pub async fn git_import(job: GitImportJob, services: JobServices) -> Result<RunReport, BoxError> {
    let written = services.authoring.import_git(job.0).await.map_err(|e| {
        // The message starts with the error's code, so a waiting request answers as if it
        // had done the import itself; bad input is not retried.
        let message: ::jobs::BoxError = e.job_message().into();
        if e.is_permanent() {
            Box::new(::jobs::Permanent(message)) as ::jobs::BoxError
        } else {
            message
        }
    })?;
    Ok(RunReport {
        checked: 1,
        added: 1,
        details: json!({
            "artifact_id": written.artifact_id.to_string(),
            "collection": written.collection,
            "path": written.path,
            "content_hash": written.content_hash,
            "resolved_sha": written.resolved_sha,
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_round_trips_through_the_scope() {
        let job = GitImportJob(GitImport {
            url: "file:///tmp/a b&c".into(),
            git_ref: "main".into(),
            path: "skills/x".into(),
            collection: "default".into(),
            artifact_type: Some(ArtifactType::Skill),
            name: Some("x".into()),
            overwrite: true,
        });
        assert_eq!(GitImportJob::from_run(&job.scope(), false).unwrap(), job);
        assert!(GitImportJob::from_run("all", false).is_err());
    }
}
