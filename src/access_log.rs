//! One log line per request (`request` span, `response` or `error` event at `info`), as poem's
//! `Tracing` middleware writes them, but with no work at all when `info` is filtered out for
//! this target: the client address and the span's fields are only formatted for a log that is
//! written.

use std::time::Instant;

use poem::web::RealIp;
use poem::{Endpoint, FromRequest, IntoResponse, Middleware, Request, Response};
use tracing::Instrument;

/// The middleware.
pub struct AccessLog;

impl<E: Endpoint> Middleware<E> for AccessLog {
    type Output = AccessLogEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AccessLogEndpoint { inner }
    }
}

/// [`AccessLog`] around an endpoint.
pub struct AccessLogEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for AccessLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if !tracing::enabled!(tracing::Level::INFO) {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let remote_addr = RealIp::from_request_without_body(&req)
            .await
            .ok()
            .and_then(|ip| ip.0)
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| req.remote_addr().to_string());
        let span = tracing::info_span!(
            "request",
            remote_addr = %remote_addr,
            version = ?req.version(),
            method = %req.method(),
            uri = %req.original_uri(),
        );
        async move {
            let started = Instant::now();
            let result = self.inner.call(req).await;
            let duration = started.elapsed();
            match result {
                Ok(resp) => {
                    let resp = resp.into_response();
                    tracing::info!(status = %resp.status(), duration = ?duration, "response");
                    Ok(resp)
                }
                Err(err) => {
                    tracing::info!(
                        status = %err.status(),
                        error = %err,
                        duration = ?duration,
                        "error"
                    );
                    Err(err)
                }
            }
        }
        .instrument(span)
        .await
    }
}
