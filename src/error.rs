//! The one error type of the API and the one place errors become HTTP responses.
//!
//! Expected outcomes of an operation are variants of its own response enum; everything else is an
//! [`ApiError`], returned with `?`. Poem's own errors (route misses, parse failures, body limits)
//! are rendered into the same [`ErrorBody`] by [`render_poem_error`], so a client meets one shape.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

/// The JSON body of every error response.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `not_found`.
    pub code: String,
    /// Human-readable explanation.
    pub detail: String,
    /// With `merge_conflict` only: the files both sides changed in ways that do not combine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<Vec<ConflictFile>>,
}

/// A file a merge could not combine, with where and how each side changed it.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ConflictFile {
    /// Path inside the artifact.
    pub path: String,
    /// Why, e.g. "both changed the same lines" or "deleted in the project, changed in the
    /// collection".
    pub reason: String,
    /// The overlapping changes (empty for binary files and deletions).
    pub hunks: Vec<ConflictHunk>,
}

/// One overlapping change.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ConflictHunk {
    /// Line in the project copy where it starts (1-based).
    pub line: u64,
    /// The project copy's lines ("ours").
    pub ours: String,
    /// The lines both started from (the deployment's base).
    pub base: String,
    /// The collection's lines ("theirs").
    pub theirs: String,
}

impl ErrorBody {
    fn new(code: &str, detail: impl Into<String>) -> Json<ErrorBody> {
        Json(ErrorBody {
            code: code.to_string(),
            detail: detail.into(),
            conflicts: None,
        })
    }
}

/// Errors every operation may return.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed (bad id, bad cursor, bad parameter).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// An API key is configured and the request did not carry it (code `unauthorized`).
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// Refused: a foreign `Host` (`host_not_allowed`), a write from another site
    /// (`cross_site_request`), a write with a read-only key (`read_only_key`), or a project
    /// outside `deploy.allowed_roots` (`project_outside_roots`), or an import from a path outside
    /// them (`path_outside_roots`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// The thing asked for does not exist.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with the current state.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The request body is larger than the configured limit.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not JSON, or has no `Content-Type: application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The request is well-formed but its values are not acceptable.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Too many requests of this kind (sign-in failures, open event streams); retry later.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>),
    /// Something failed on the server; the cause is in the server log.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A backing service (the database) is unreachable or read-only; retry later.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
    /// The disk the database or the files are written to is full; nothing was changed.
    #[oai(status = 507)]
    InsufficientStorage(Json<ErrorBody>),
}

impl ApiError {
    /// The HTTP status and the body this error is sent with.
    pub fn parts(&self) -> (StatusCode, &ErrorBody) {
        match self {
            Self::BadRequest(b) => (StatusCode::BAD_REQUEST, &b.0),
            Self::Unauthorized(b) => (StatusCode::UNAUTHORIZED, &b.0),
            Self::Forbidden(b) => (StatusCode::FORBIDDEN, &b.0),
            Self::NotFound(b) => (StatusCode::NOT_FOUND, &b.0),
            Self::Conflict(b) => (StatusCode::CONFLICT, &b.0),
            Self::PayloadTooLarge(b) => (StatusCode::PAYLOAD_TOO_LARGE, &b.0),
            Self::UnsupportedMediaType(b) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, &b.0),
            Self::Unprocessable(b) => (StatusCode::UNPROCESSABLE_ENTITY, &b.0),
            Self::TooManyRequests(b) => (StatusCode::TOO_MANY_REQUESTS, &b.0),
            Self::Internal(b) => (StatusCode::INTERNAL_SERVER_ERROR, &b.0),
            Self::Unavailable(b) => (StatusCode::SERVICE_UNAVAILABLE, &b.0),
            Self::InsufficientStorage(b) => (StatusCode::INSUFFICIENT_STORAGE, &b.0),
        }
    }

    /// 400 with a message.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(ErrorBody::new("bad_request", detail))
    }

    /// 409 `merge_conflict` with the files that did not combine.
    pub fn merge_conflict(detail: impl Into<String>, conflicts: Vec<ConflictFile>) -> Self {
        Self::Conflict(Json(ErrorBody {
            code: "merge_conflict".into(),
            detail: detail.into(),
            conflicts: Some(conflicts),
        }))
    }

    /// 404 with a message.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound(ErrorBody::new("not_found", detail))
    }

    /// 403 with a stable code naming why.
    pub fn forbidden(code: &str, detail: impl Into<String>) -> Self {
        Self::Forbidden(ErrorBody::new(code, detail))
    }

    /// 429 with a message.
    pub fn too_many_requests(detail: impl Into<String>) -> Self {
        Self::TooManyRequests(ErrorBody::new("too_many_requests", detail))
    }

    /// 409 with a message.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict(ErrorBody::new("conflict", detail))
    }

    /// 422 with a message.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::Unprocessable(ErrorBody::new("validation_failed", detail))
    }

    /// 500; logs the cause once, here, and tells the client nothing about it.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(cause), "request failed");
        Self::Internal(ErrorBody::new(
            "internal_error",
            "Internal server error; the cause is in the server log",
        ))
    }

    /// 507 when a disk is full; logged once.
    pub fn storage_full(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(cause), "disk full");
        Self::InsufficientStorage(ErrorBody::new(
            "insufficient_storage",
            "The disk is full, so nothing was changed; free some space and retry",
        ))
    }

    /// 503 when the database is read-only; logged once.
    pub fn read_only(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(cause), "database is read-only");
        Self::Unavailable(ErrorBody::new(
            "service_unavailable",
            "The database is read-only, so nothing was changed; the cause is in the server log",
        ))
    }

    /// 503 when the database or the job queue cannot be reached; logged once.
    pub fn unavailable(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(cause), "backing service unavailable");
        Self::Unavailable(ErrorBody::new(
            "service_unavailable",
            "The database or the job queue is unreachable; retry shortly",
        ))
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::{DbErr, RuntimeErr};
        match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::unavailable(&err),
            DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e))
                if connection_lost(e) =>
            {
                Self::unavailable(&err)
            }
            DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => {
                match storage_problem(e) {
                    Some(StorageProblem::Full) => Self::storage_full(&err),
                    Some(StorageProblem::ReadOnly) => Self::read_only(&err),
                    None => Self::internal(&err),
                }
            }
            _ => Self::internal(&err),
        }
    }
}

/// Why the database could not store a change, when the disk is to blame.
enum StorageProblem {
    Full,
    ReadOnly,
}

/// SQLite's SQLITE_FULL (13) and SQLITE_READONLY (8), with their extended codes; PostgreSQL's
/// disk_full (53100) and read_only_sql_transaction (25006).
fn storage_problem(err: &sea_orm::sqlx::Error) -> Option<StorageProblem> {
    let sea_orm::sqlx::Error::Database(db) = err else {
        return None;
    };
    let code = db.code()?;
    match code.as_ref() {
        "53100" => return Some(StorageProblem::Full),
        "25006" => return Some(StorageProblem::ReadOnly),
        _ => {}
    }
    match code.parse::<i64>().ok()? & 0xff {
        13 => Some(StorageProblem::Full),
        8 => Some(StorageProblem::ReadOnly),
        _ => None,
    }
}

/// The database went away under a query (a dropped connection, a server shutting down), as
/// opposed to a query that is wrong: the first is 503 and worth a retry, the second 500.
fn connection_lost(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as E;
    match err {
        E::Io(_)
        | E::Tls(_)
        | E::Protocol(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed => true,
        // PostgreSQL's connection exceptions (08...) and operator intervention (57P...).
        E::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl From<crate::collections::OrgError> for ApiError {
    fn from(err: crate::collections::OrgError) -> Self {
        use crate::collections::OrgError;
        match err {
            OrgError::NotFound(d) => Self::not_found(d),
            OrgError::Conflict(d) => Self::conflict(d),
            // SkillMeat's acceptance checks answer a duplicate group name with 400.
            OrgError::DuplicateGroupName(d) => {
                Self::BadRequest(ErrorBody::new("duplicate_name", d))
            }
            OrgError::BadRequest(d) => Self::bad_request(d),
            OrgError::Invalid(d) => Self::unprocessable(d),
            OrgError::Db(e) => e.into(),
            OrgError::Cache(e) => e.into(),
        }
    }
}

impl From<crate::import::ImportError> for ApiError {
    fn from(err: crate::import::ImportError) -> Self {
        use crate::import::ImportError;
        use crate::import::skillmeat_db::ReadError;
        match err {
            ImportError::Read(ReadError::Missing(_)) => Self::NotFound(ErrorBody::new(
                "skillmeat_not_found",
                format!(
                    "{}; set SKILLMEAT_DATA_HOME to the SkillMeat home (~/.skillmeat) that holds it",
                    err
                ),
            )),
            ImportError::Read(ReadError::NotSkillMeat(..)) => Self::unprocessable(err.to_string()),
            ImportError::Read(ReadError::Io(..)) => Self::internal(&err),
            ImportError::Org(e) => e.into(),
            ImportError::Db(e) => e.into(),
        }
    }
}

impl From<crate::deploy::DeployError> for ApiError {
    fn from(err: crate::deploy::DeployError) -> Self {
        use crate::deploy::DeployError;
        match err {
            DeployError::NotFound(d) => Self::not_found(d),
            DeployError::OutsideRoots(d) => Self::forbidden("project_outside_roots", d),
            DeployError::Conflict(d) => Self::conflict(d),
            DeployError::BadRequest(d) => Self::bad_request(d),
            DeployError::Db(e) => e.into(),
            DeployError::Cache(e) => e.into(),
            DeployError::Source(e) => e.into(),
            DeployError::Io { ref source, .. }
                if source.kind() == std::io::ErrorKind::StorageFull =>
            {
                Self::storage_full(&err)
            }
            other => Self::internal(&other),
        }
    }
}

impl From<crate::authoring::AuthoringError> for ApiError {
    fn from(err: crate::authoring::AuthoringError) -> Self {
        use crate::authoring::AuthoringError as E;
        match err {
            E::BadRequest(d) => Self::bad_request(d),
            E::Invalid(d) => Self::unprocessable(d),
            E::NotFound(d) => Self::not_found(d),
            E::Conflict(d) => Self::conflict(d),
            E::TooLarge(d) => Self::PayloadTooLarge(ErrorBody::new("payload_too_large", d)),
            E::OutsideRoots(d) => Self::forbidden("path_outside_roots", d),
            // Operations that expect these answer them with their own statuses (412, 428,
            // 502); elsewhere they are a conflict and an unavailable backing service.
            E::Stale { .. } | E::TagRequired => Self::conflict(err.to_string()),
            E::Git(d) => Self::Unavailable(ErrorBody::new("git_error", d)),
            E::Cache(e) => e.into(),
            E::Deploy(e) => e.into(),
            E::Db(e) => e.into(),
            E::Io { ref source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
                Self::storage_full(&err)
            }
            other => Self::internal(&other),
        }
    }
}

impl From<jobs::JobError> for ApiError {
    fn from(err: jobs::JobError) -> Self {
        use jobs::JobError;
        match err {
            JobError::NotFound(_) => Self::not_found(err.to_string()),
            JobError::NotRetryable { .. } | JobError::NotCancellable { .. } => {
                Self::conflict(err.to_string())
            }
            JobError::NotScheduled(_) => Self::not_found(err.to_string()),
            JobError::BadSchedule(_) => Self::unprocessable(err.to_string()),
            JobError::Db(e) => e.into(),
            JobError::Queue(e) => Self::unavailable(&e),
        }
    }
}

impl From<crate::source::SourceError> for ApiError {
    fn from(err: crate::source::SourceError) -> Self {
        use crate::source::SourceError;
        match err {
            SourceError::ReadOnly(_) | SourceError::Changed(_) => Self::conflict(err.to_string()),
            other => Self::internal(&other),
        }
    }
}

impl From<crate::cache::listing::ListError> for ApiError {
    fn from(err: crate::cache::listing::ListError) -> Self {
        use crate::cache::listing::ListError;
        match err {
            ListError::BadCursor(_) => Self::bad_request(err.to_string()),
            ListError::Db(db) => db.into(),
        }
    }
}

impl From<crate::cache::CacheError> for ApiError {
    fn from(err: crate::cache::CacheError) -> Self {
        match err {
            crate::cache::CacheError::Db(db) => db.into(),
            other => Self::internal(&other),
        }
    }
}

pub use jobs::runner::error_chain;

/// Renders any error that reached the top of the route tree in the shared [`ErrorBody`] shape.
/// Responses built by [`ApiError`] pass through unchanged.
pub async fn render_poem_error(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => ("not_found", "No such route".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", err.to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "The request body is larger than the server accepts".to_string(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", err.to_string()),
        StatusCode::UNAUTHORIZED => ("unauthorized", err.to_string()),
        StatusCode::FORBIDDEN => ("forbidden", err.to_string()),
        StatusCode::TOO_MANY_REQUESTS => ("too_many_requests", err.to_string()),
        s if s.is_server_error() => {
            tracing::error!(error = %err, status = %s, "request failed");
            (
                "internal_error",
                "Internal server error; the cause is in the server log".into(),
            )
        }
        StatusCode::UNPROCESSABLE_ENTITY => ("validation_failed", err.to_string()),
        _ => ("bad_request", err.to_string()),
    };
    let body = ErrorBody {
        code: code.to_string(),
        detail,
        conflicts: None,
    };
    let json = serde_json::to_string(&body).unwrap_or_default();
    (status, json)
        .with_content_type("application/json; charset=utf-8")
        .into_response()
}
