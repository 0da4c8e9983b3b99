//! API-key authentication: off when no key is configured (the default, loopback only); with a
//! key, every route except `/health` and the sign-in page needs `Authorization: Bearer <key>`,
//! `X-API-Key: <key>`, or the browser session cookie that signing in with the key sets. All are
//! compared in constant time. The key is never logged, and the cookie holds a digest of the
//! key, not the key.

use poem::http::{Method, StatusCode, header};
use poem::web::Redirect;
use poem::web::cookie::CookieJar;
use poem::{Endpoint, IntoResponse, Request};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Routes reachable without the key: liveness (for load balancers and process supervisors),
/// and the sign-in page with its stylesheet.
const OPEN_PATHS: &[&str] = &["/health", "/login", "/ui/app.css"];

/// The cookie a browser gets by signing in at `/login` (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "skillmeat_session";

/// The session cookie's value for `key`: a digest, so the cookie never carries the key, and
/// changing the key signs every browser out.
pub fn session_token(key: &str) -> String {
    hex::encode(Sha256::digest(format!(
        "skillmeat-server browser session\0{key}"
    )))
}

/// Whether `presented` is `key` (constant time).
pub fn key_matches(presented: &str, key: &str) -> bool {
    bool::from(presented.as_bytes().ct_eq(key.as_bytes()))
}

/// Checks a request against the configured key; `Ok` lets it through. A browser asking for a
/// page without the key is sent to the sign-in page; anything else gets 401.
pub fn check(req: &Request, key: &str) -> poem::Result<()> {
    if key.is_empty() || OPEN_PATHS.contains(&req.uri().path()) {
        return Ok(());
    }
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if let Some(presented) = bearer.or(api_key) {
        if key_matches(presented, key) {
            return Ok(());
        }
    } else if let Some(cookie) = session_cookie(req)
        && key_matches(&cookie, &session_token(key))
    {
        return Ok(());
    }
    if wants_page(req) {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let to = format!("/login?next={}", crate::ui::encode(next));
        return Err(poem::Error::from_response(
            Redirect::see_other(to).into_response(),
        ));
    }
    Err(poem::Error::from_string(
        "a valid API key is required (Authorization: Bearer <key> or X-API-Key)",
        StatusCode::UNAUTHORIZED,
    ))
}

/// The session cookie's value, if the request carries one.
fn session_cookie(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.parse::<CookieJar>().ok())
        .find_map(|jar| jar.get(SESSION_COOKIE))
        .map(|c| c.value_str().to_string())
}

/// A browser navigating to a page (not the API, the spec or the metrics).
fn wants_page(req: &Request) -> bool {
    let path = req.uri().path();
    let accepts_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    req.method() == Method::GET
        && accepts_html
        && !path.starts_with("/api/")
        && path != "/openapi.json"
        && path != "/metrics"
}

/// Wraps an endpoint with [`check`].
pub fn require_key<E: Endpoint>(ep: E, key: String) -> impl Endpoint<Output = E::Output> {
    poem::EndpointExt::before(ep, move |req: Request| {
        let outcome = check(&req, &key);
        async move { outcome.map(|()| req) }
    })
}
