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
pub struct Liveness {
    /// Always `ok` while the process serves requests.
    pub status: String,
    /// Server version.
    pub version: String,
}

/// Readiness answer.
#[derive(Debug, Object)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// `ok`, or what failed.
    pub database: String,
}

/// Readiness outcomes.
#[derive(ApiResponse)]
pub enum ReadinessResponse {
    /// The database answers.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// The database does not answer.
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

    /// Readiness: the database is reachable
    #[oai(path = "/health/ready", method = "get", operation_id = "health_ready")]
    async fn ready(&self) -> ReadinessResponse {
        match crate::db::ping(&self.state.db).await {
            Ok(()) => ReadinessResponse::Ready(Json(Readiness {
                status: "ready".into(),
                database: "ok".into(),
            })),
            Err(e) => {
                tracing::warn!(error = %e, "readiness check failed");
                ReadinessResponse::Unavailable(Json(Readiness {
                    status: "unavailable".into(),
                    database: "unreachable".into(),
                }))
            }
        }
    }
}
