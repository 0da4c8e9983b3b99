//! What keeps a server on a developer's machine safe from the web pages its user visits, and a
//! shared server safe from its network: every request must name this server (`Host`), writes
//! from other sites are refused, every response carries anti-framing and content-security
//! headers, and with a key, access goes through the key or a server-side session.
//!
//! The request guard ([`guard::RequestGuard`]) and the headers ([`headers::add_security_headers`])
//! wrap the whole route tree in `startup::build_routes`; [`auth::RequireKey`] sits inside them.

pub mod auth;
pub mod cors;
pub mod guard;
pub mod headers;
pub mod keys;
pub mod sessions;
pub mod sign_in_limit;

pub use auth::{Access, RequireKey, Viewer};
pub use guard::RequestGuard;
pub use keys::Keys;
pub use sessions::{SessionCookie, SessionStore};
pub use sign_in_limit::SignInLimiter;
