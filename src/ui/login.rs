//! Signing a browser in when the server has an API key: `/login` asks for the key once, opens a
//! server-side session and sets a cookie holding only its random id (HttpOnly,
//! SameSite=Strict); `POST /logout` ends the session on the server. Pages, fragments, the
//! script's API calls and the live events then carry the cookie, since a browser cannot add a
//! header to a page load or an EventSource.

use std::net::{IpAddr, Ipv6Addr};

use maud::{DOCTYPE, Markup, html};
use poem::http::{StatusCode, header};
use poem::web::{Data, Form, Query, Redirect};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;

use crate::error::ApiError;
use crate::security::SessionCookie;
use crate::security::auth::session_id;
use crate::security::sessions::SessionError;
use crate::security::sign_in_limit::retry_after_secs;
use crate::state::AppState;

/// Where to go after signing in.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    key: String,
    #[serde(default)]
    next: String,
}

/// A local path to return to; anything else (another site, `//host`, control characters that
/// cannot go into a `Location` header) becomes `/`.
fn local_path(next: &str) -> &str {
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control)
    {
        next
    } else {
        "/"
    }
}

fn page(next: &str, problem: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · SkillMeat" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/ui/app.css";
            }
            body {
                header.topbar { span.brand { "SkillMeat" } }
                main #main {
                    h1 { "Sign in" }
                    p { "This server needs its API key. Ask whoever runs it, or see "
                        code { "auth.api_key" } " in its configuration." }
                    @if let Some(problem) = problem {
                        p.detail role="alert" { (problem) }
                    }
                    form.toolbar method="post" action="/login" {
                        input type="hidden" name="next" value=(local_path(next));
                        label for="api-key" { "API key" }
                        input #api-key type="password" name="key" required autocomplete="current-password";
                        button.primary type="submit" { "Sign in" }
                    }
                }
            }
        }
    }
}

/// The sign-in page.
#[handler]
pub async fn sign_in_page(
    Data(state): Data<&AppState>,
    Query(query): Query<LoginQuery>,
) -> Response {
    if !state.sessions.keys().enabled() {
        // Nothing to sign in to.
        return Redirect::see_other(local_path(&query.next)).into_response();
    }
    page(&query.next, None).into_response()
}

/// The address failed sign-ins are counted against (all in-process requests share one).
fn client_ip(req: &Request) -> IpAddr {
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
}

/// 429 with `Retry-After`, as a page.
fn too_many(next: &str, wait: std::time::Duration) -> Response {
    let secs = retry_after_secs(wait);
    page(
        next,
        Some(&format!(
            "Too many failed sign-ins from this address; try again in {secs} seconds."
        )),
    )
    .with_status(StatusCode::TOO_MANY_REQUESTS)
    .with_header(header::RETRY_AFTER, secs.to_string())
    .into_response()
}

/// Checks the key; on success opens a server-side session, sets its cookie and goes back to
/// the page asked for. Failed attempts are limited per client address.
#[handler]
pub async fn sign_in(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<LoginForm>,
) -> Response {
    let keys = state.sessions.keys();
    if !keys.enabled() {
        return Redirect::see_other(local_path(&form.next)).into_response();
    }
    let ip = client_ip(req);
    if let Some(wait) = state.sign_in_limiter.blocked_for(ip) {
        return too_many(&form.next, wait);
    }
    if keys.access_of(&form.key).is_none() {
        tracing::warn!(client = %ip, "browser sign-in with a wrong API key");
        if let Some(wait) = state.sign_in_limiter.record_failure(ip) {
            return too_many(&form.next, wait);
        }
        return page(
            &form.next,
            Some("That is not one of the server's API keys."),
        )
        .with_status(StatusCode::UNAUTHORIZED)
        .into_response();
    }
    let id = match state.sessions.open(&form.key).await {
        Ok(id) => id,
        Err(SessionError::Db(e)) => return ApiError::from(e).into_response(),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let cookie = SessionCookie::from_settings(&state.settings);
    Redirect::see_other(local_path(&form.next))
        .with_header(header::SET_COOKIE, cookie.set(&id))
        .into_response()
}

/// Ends the session on the server (every instance) and removes its cookie.
#[handler]
pub async fn sign_out(req: &Request, Data(state): Data<&AppState>) -> Response {
    let cookie = SessionCookie::from_settings(&state.settings);
    if let Some(id) = session_id(req, cookie.name)
        && let Err(e) = state.sessions.close(&id).await
    {
        return ApiError::from(e).into_response();
    }
    Redirect::see_other("/login")
        .with_header(header::SET_COOKIE, cookie.clear())
        .into_response()
}
