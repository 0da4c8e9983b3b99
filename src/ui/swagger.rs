//! Swagger UI at `/docs`, served as separate files so its page needs no inline script or style
//! and runs under the same Content-Security-Policy as the rest: the page, the bundle and the
//! stylesheet poem-openapi ships (taken from its generated page), and a start-up script that
//! loads `/openapi.json`. Nothing is fetched from elsewhere (its validator badge is off).

use bytes::Bytes;
use maud::{DOCTYPE, html};
use poem::http::header;
use poem::{IntoResponse, Response, Route, get};

/// Starts Swagger UI on `#ui` with the server's spec.
const INIT_JS: &str = r##""use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#ui",
    deepLinking: true,
    filter: false,
    validatorUrl: null,
  });
});
"##;

/// The CSS and the JS bundle inside poem-openapi's generated page.
struct SwaggerAssets {
    css: Bytes,
    js: Bytes,
}

/// The text between `open` and the next `close` in `html`.
fn between<'a>(html: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = html.find(open)? + open.len();
    let len = html[start..].find(close)?;
    Some(&html[start..start + len])
}

impl SwaggerAssets {
    /// Takes the assets out of poem-openapi's page (its template inlines them in the head).
    fn from_generated_page(html: &str) -> Option<Self> {
        let css = between(html, "<style charset=\"UTF-8\">", "</style>")?;
        let js = between(html, "<script charset=\"UTF-8\">", "</script>")?;
        (!css.is_empty() && js.contains("SwaggerUIBundle")).then(|| Self {
            css: Bytes::copy_from_slice(css.as_bytes()),
            js: Bytes::copy_from_slice(js.as_bytes()),
        })
    }
}

fn asset(body: Bytes, content_type: &'static str) -> Response {
    body.with_content_type(content_type)
        .with_header(header::CACHE_CONTROL, "public, max-age=3600")
        .into_response()
}

/// The `/docs` routes, from poem-openapi's generated Swagger UI page.
pub fn routes(generated_page: &str) -> Route {
    let Some(assets) = SwaggerAssets::from_generated_page(generated_page) else {
        tracing::error!("the Swagger UI assets could not be found in poem-openapi's page");
        return Route::new().at(
            "/",
            get(poem::endpoint::make_sync(|_| {
                poem::web::Html(
                    html! { p { "Swagger UI is not available; the spec is at " a href="/openapi.json" { "/openapi.json" } "." } }
                        .into_string(),
                )
            })),
        );
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "API docs · SkillMeat" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/docs/swagger-ui.css";
                script src="/docs/swagger-ui-bundle.js" defer {}
                script src="/docs/init.js" defer {}
            }
            body { div #ui {} }
        }
    }
    .into_string();
    let SwaggerAssets { css, js } = assets;
    Route::new()
        .at(
            "/",
            get(poem::endpoint::make_sync(move |_| {
                poem::web::Html(page.clone())
            })),
        )
        .at(
            "/swagger-ui.css",
            get(poem::endpoint::make_sync(move |_| {
                asset(css.clone(), "text/css; charset=utf-8")
            })),
        )
        .at(
            "/swagger-ui-bundle.js",
            get(poem::endpoint::make_sync(move |_| {
                asset(js.clone(), "text/javascript; charset=utf-8")
            })),
        )
        .at(
            "/init.js",
            get(poem::endpoint::make_sync(|_| {
                asset(
                    Bytes::from_static(INIT_JS.as_bytes()),
                    "text/javascript; charset=utf-8",
                )
            })),
        )
}
