//! `/metrics` in Prometheus text format (outside the OpenAPI spec: it is not JSON).

use poem::web::Data;
use poem::{IntoResponse, Response, handler};

use crate::error::ApiError;
use crate::state::AppState;

/// Renders the cache counters; entry and byte gauges are read from the table at scrape time.
#[handler]
pub async fn metrics(Data(state): Data<&AppState>) -> Response {
    match state.cache.status().await {
        Ok(status) => {
            let m = state.cache.metrics();
            m.entries.set(status.entries as i64);
            m.bytes.set(status.bytes as i64);
            m.render()
                .with_content_type("text/plain; version=0.0.4; charset=utf-8")
                .into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}
