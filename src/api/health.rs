//! Liveness and readiness.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::state::AppState;

/// Health endpoints.
pub struct HealthApi {
    /// Shared state.
    pub state: AppState,
}

/// Liveness answer.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Liveness {
    /// Always `ok` while the process serves requests.
    pub status: String,
    /// Server version.
    pub version: String,
}

/// Readiness answer.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// `ok`, or `unreachable`.
    pub database: String,
    /// The job queue: `ok`, or `unreachable`.
    pub queue: String,
    /// The file watcher: `ok`, `starting`, `off` (`watch.enabled = false`), or `degraded: ...`
    /// (some changes are left to the scheduled refresh; readiness is not affected).
    pub watcher: String,
}

/// Readiness outcomes.
#[derive(ApiResponse)]
pub enum ReadinessResponse {
    /// The database and the job queue answer.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// The database or the job queue does not answer.
    #[oai(status = 503)]
    Unavailable(Json<Readiness>),
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness: the process is up
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> Json<Liveness> {
        Json(Liveness {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    /// Readiness: the database and the job queue are reachable
    #[oai(path = "/health/ready", method = "get", operation_id = "health_ready")]
    async fn ready(&self) -> ReadinessResponse {
        // A database that went away must not hold the probe up for the pool's whole wait.
        let limit = std::time::Duration::from_secs(3);
        let database = match tokio::time::timeout(limit, crate::db::ping(&self.state.db)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err("no answer within 3 s".to_string()),
        };
        let queue = match tokio::time::timeout(limit, self.state.jobs.store().ping()).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err("no answer within 3 s".to_string()),
        };
        if let Err(e) = &database {
            tracing::warn!(error = %e, "readiness check failed: database");
        }
        if let Err(e) = &queue {
            tracing::warn!(error = %e, "readiness check failed: job queue");
        }
        let word = |ok: bool| if ok { "ok" } else { "unreachable" }.to_string();
        let body = Readiness {
            status: if database.is_ok() && queue.is_ok() {
                "ready"
            } else {
                "unavailable"
            }
            .into(),
            database: word(database.is_ok()),
            queue: word(queue.is_ok()),
            watcher: self.state.watch_status.describe(),
        };
        if database.is_ok() && queue.is_ok() {
            ReadinessResponse::Ready(Json(body))
        } else {
            ReadinessResponse::Unavailable(Json(body))
        }
    }
}
