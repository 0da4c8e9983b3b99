//! API-key authentication: off when no key is configured (the default, loopback only). With a
//! key, every route except the open ones needs `Authorization: Bearer <key>`, `X-API-Key:
//! <key>`, or the cookie of a server-side session opened at `/login`. A read-only key (or its
//! session) may only read: any other method is 403 `read_only_key`. Keys are compared in
//! constant time and never logged.

use std::sync::Arc;

use poem::http::{Method, StatusCode, header};
use poem::web::Redirect;
use poem::web::cookie::CookieJar;
use poem::{Endpoint, FromRequest, IntoResponse, Request, RequestBody, Response};

use super::{SessionCookie, SessionStore};
use crate::error::ApiError;

/// Routes reachable without the key: liveness (for load balancers and process supervisors),
/// signing in and out, and the sign-in page's stylesheet.
const OPEN_PATHS: &[&str] = &["/health", "/login", "/logout", "/ui/app.css"];

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Read and write.
    #[default]
    Full,
    /// Only read (`GET`, `HEAD`, `OPTIONS`).
    ReadOnly,
}

/// Who is asking, as the pages need to know it: put into every request by [`RequireKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Viewer {
    /// What the request may do.
    pub access: Access,
    /// Whether it came through a browser session (the page then offers "Sign out").
    pub signed_in: bool,
}

impl Viewer {
    /// Whether write controls are to be shown.
    pub fn may_write(&self) -> bool {
        self.access == Access::Full
    }
}

impl<'a> FromRequest<'a> for Viewer {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(req
            .extensions()
            .get::<Viewer>()
            .copied()
            .unwrap_or_default())
    }
}

/// Wraps the route tree: checks the key or the session, refuses writes to read-only access,
/// and tells the handlers who is asking ([`Viewer`]).
pub struct RequireKey<E> {
    inner: E,
    sessions: SessionStore,
    cookie: Arc<SessionCookie>,
}

impl<E: Endpoint> RequireKey<E> {
    /// `inner`, guarded by the keys of `sessions`.
    pub fn new(inner: E, sessions: SessionStore, cookie: SessionCookie) -> Self {
        Self {
            inner,
            sessions,
            cookie: Arc::new(cookie),
        }
    }

    async fn viewer(&self, req: &Request) -> poem::Result<Viewer> {
        let keys = self.sessions.keys();
        if !keys.enabled() {
            return Ok(Viewer::default());
        }
        let headers = req.headers();
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
        if let Some(presented) = bearer.or(api_key) {
            if let Some(access) = keys.access_of(presented) {
                return Ok(Viewer {
                    access,
                    signed_in: false,
                });
            }
        } else if let Some(id) = session_id(req, self.cookie.name) {
            match self.sessions.resolve(&id).await {
                Ok(Some(access)) => {
                    return Ok(Viewer {
                        access,
                        signed_in: true,
                    });
                }
                Ok(None) => {}
                Err(e) => return Err(ApiError::from(e).into()),
            }
        }
        if OPEN_PATHS.contains(&req.uri().path()) {
            return Ok(Viewer {
                access: Access::ReadOnly,
                signed_in: false,
            });
        }
        Err(refusal(req))
    }
}

impl<E: Endpoint> Endpoint for RequireKey<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let viewer = self.viewer(&req).await?;
        let open = OPEN_PATHS.contains(&req.uri().path());
        if viewer.access == Access::ReadOnly && !open && !is_read(req.method()) {
            return Err(ApiError::forbidden(
                "read_only_key",
                "This key (or its session) may only read; writes need the server's API key",
            )
            .into());
        }
        req.extensions_mut().insert(viewer);
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// A method that changes nothing.
pub fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The session cookie's value, if the request carries one.
pub fn session_id(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.parse::<CookieJar>().ok())
        .find_map(|jar| jar.get(name))
        .map(|c| c.value_str().to_string())
}

/// A browser asking for a page is sent to the sign-in page; anything else gets 401.
fn refusal(req: &Request) -> poem::Error {
    if wants_page(req) {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let next = percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC);
        return poem::Error::from_response(
            Redirect::see_other(format!("/login?next={next}")).into_response(),
        );
    }
    poem::Error::from_string(
        "a valid API key is required (Authorization: Bearer <key> or X-API-Key)",
        StatusCode::UNAUTHORIZED,
    )
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
