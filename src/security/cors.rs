//! CORS for the origins in `server.cors_origins`, and for nothing else. A request from this
//! server's own origin skips it: browsers send `Origin` on their own pages' POSTs too, and
//! poem's `Cors` refuses any origin it was not given, which would break our own pages.

use std::sync::Arc;

use poem::http::{Method, header};
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, IntoResponse, Middleware, Request, Response};

use super::guard::{is_own_origin, request_host};

/// `inner` with CORS for `origins` (none: no CORS headers at all).
pub fn with_cors<E>(inner: E, origins: Vec<String>) -> poem::endpoint::BoxEndpoint<'static>
where
    E: Endpoint + 'static,
{
    if origins.is_empty() {
        return inner.map_to_response().boxed();
    }
    let plain = Arc::new(inner);
    let cors = Cors::new()
        .allow_origins(origins)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            "authorization",
            "x-api-key",
            "content-type",
            "last-event-id",
        ])
        .expose_headers(["x-cache"])
        .transform(plain.clone())
        .map_to_response()
        .boxed();
    CorsForOthers { plain, cors }.boxed()
}

struct CorsForOthers<E> {
    plain: Arc<E>,
    cors: poem::endpoint::BoxEndpoint<'static>,
}

impl<E: Endpoint> Endpoint for CorsForOthers<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        // Our own pages: no `Origin`, our origin, or the browser saying so (a form posted from
        // a no-referrer page carries `Origin: null`).
        let same_origin = req
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"same-origin"));
        let own = same_origin
            || req
                .headers()
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|o| is_own_origin(&o.to_ascii_lowercase(), request_host(&req)));
        if own {
            self.plain.call(req).await.map(IntoResponse::into_response)
        } else {
            self.cors.call(req).await
        }
    }
}
