//! Security headers on every response: no MIME sniffing, no referrer, no framing (so no page
//! of ours can be overlaid to trick a click on "Update anyway"), and a Content-Security-Policy
//! that allows only this server's own scripts, styles and connections, with no inline script.

use poem::Response;
use poem::http::HeaderValue;

/// The policy of every page and response, Swagger UI at `/docs` included (its bundle,
/// stylesheet and start-up script are files of their own, and its icons `data:` images like
/// ours): our own files only, no inline script or style, no plugins, no `<base>`, forms post
/// only here, never inside a frame.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the headers to `resp` (a header a handler set already is kept).
pub fn add_security_headers(resp: &mut Response) {
    use poem::http::header;
    let headers = resp.headers_mut();
    // Typed names: no parsing of a header name per response.
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CSP),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}
