//! API-key authentication: off when no key is configured (the default, loopback only); with a
//! key, every route except `/health` needs `Authorization: Bearer <key>` or `X-API-Key: <key>`,
//! compared in constant time. The key is never logged.

use poem::http::StatusCode;
use poem::{Endpoint, Request};
use subtle::ConstantTimeEq;

/// Routes reachable without the key: liveness, for load balancers and process supervisors.
const OPEN_PATHS: &[&str] = &["/health"];

/// Checks a request against the configured key; `Ok` lets it through.
pub fn check(req: &Request, key: &str) -> poem::Result<()> {
    if key.is_empty() || OPEN_PATHS.contains(&req.uri().path()) {
        return Ok(());
    }
    let headers = req.headers();
    let bearer = headers
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let presented = bearer.or(api_key).unwrap_or("");
    if bool::from(presented.as_bytes().ct_eq(key.as_bytes())) {
        Ok(())
    } else {
        Err(poem::Error::from_string(
            "a valid API key is required (Authorization: Bearer <key> or X-API-Key)",
            StatusCode::UNAUTHORIZED,
        ))
    }
}

/// Wraps an endpoint with [`check`].
pub fn require_key<E: Endpoint>(ep: E, key: String) -> impl Endpoint<Output = E::Output> {
    poem::EndpointExt::before(ep, move |req: Request| {
        let outcome = check(&req, &key);
        async move { outcome.map(|()| req) }
    })
}
