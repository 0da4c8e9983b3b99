//! Signing a browser in when the server has an API key: `/login` asks for the key once and
//! sets an HttpOnly, SameSite=Strict session cookie; `/logout` removes it. Pages, fragments,
//! the script's API calls and the live events then carry the cookie, since a browser cannot
//! add a header to a page load or an EventSource.

use maud::{DOCTYPE, Markup, html};
use poem::http::StatusCode;
use poem::web::cookie::{Cookie, SameSite};
use poem::web::{Data, Form, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;

use crate::auth::{SESSION_COOKIE, key_matches, session_token};
use crate::state::AppState;

/// A cookie the page script reads to show "Sign out"; it grants nothing.
const SIGNED_IN_COOKIE: &str = "skillmeat_signed_in";

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
    if state.settings.auth.api_key.trim().is_empty() {
        // Nothing to sign in to.
        return Redirect::see_other(local_path(&query.next)).into_response();
    }
    page(&query.next, None).into_response()
}

/// Checks the key; on success sets the session cookie and goes back to the page asked for.
#[handler]
pub async fn sign_in(Data(state): Data<&AppState>, Form(form): Form<LoginForm>) -> Response {
    let key = state.settings.auth.api_key.trim();
    if key.is_empty() {
        return Redirect::see_other(local_path(&form.next)).into_response();
    }
    if !key_matches(form.key.trim(), key) {
        tracing::warn!("browser sign-in with a wrong API key");
        return page(&form.next, Some("That is not the server's API key."))
            .with_status(StatusCode::UNAUTHORIZED)
            .into_response();
    }
    let mut session = Cookie::new_with_str(SESSION_COOKIE, session_token(key));
    session.set_http_only(true);
    session.set_same_site(SameSite::Strict);
    session.set_path("/");
    let mut marker = Cookie::new_with_str(SIGNED_IN_COOKIE, "1");
    marker.set_same_site(SameSite::Strict);
    marker.set_path("/");
    Redirect::see_other(local_path(&form.next))
        .with_header("set-cookie", session.to_string())
        .with_header("set-cookie", marker.to_string())
        .into_response()
}

/// Removes the session cookie.
#[handler]
pub async fn sign_out() -> Response {
    let mut response = Redirect::see_other("/login").into_response();
    for name in [SESSION_COOKIE, SIGNED_IN_COOKIE] {
        let mut gone = Cookie::new_with_str(name, "");
        gone.set_path("/");
        gone.make_removal();
        if let Ok(value) = gone.to_string().parse() {
            response.headers_mut().append("set-cookie", value);
        }
    }
    response
}
