//! The checks every request passes before routing.
//!
//! - **Host** (DNS rebinding): a page on another site can make its own name resolve to
//!   127.0.0.1, but the browser still sends that name as `Host`. So `Host` must be one of this
//!   server's names: `localhost`, `127.0.0.1`, `[::1]` (any port), the listen address, the
//!   host of `server.public_url` and `server.allowed_hosts`. On a non-loopback listen address
//!   with no `allowed_hosts`, any host passes (the API key guards that setup).
//! - **Cross-site writes**: a POST, PUT, PATCH or DELETE is refused when the browser says it
//!   comes from another site (`Sec-Fetch-Site: cross-site` or `same-site`), or, from a client
//!   that does not say, when its `Origin` is neither this server's own (`null` never is); an
//!   origin in `server.cors_origins` always passes. Clients that send neither header (curl,
//!   scripts, SkillMeat's CLI) pass.

use std::net::SocketAddr;

use poem::Request;
use poem::http::header;

use super::auth::is_read;
use crate::config::{Settings, parse_host_port};
use crate::error::ApiError;

/// Names a loopback server always answers to.
const LOOPBACK_NAMES: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// The host and cross-site checks, built once from the settings.
#[derive(Debug, Clone)]
pub struct RequestGuard {
    /// Any host passes (non-loopback listen address, no `allowed_hosts`).
    any_host: bool,
    /// Allowed names, lower case, each with its port when only that port is allowed.
    hosts: Vec<(String, Option<u16>)>,
    /// Origins allowed to write besides the server's own: `server.cors_origins` and the public URL's.
    trusted_origins: Vec<String>,
}

impl RequestGuard {
    /// The guard for these settings.
    pub fn from_settings(settings: &Settings) -> Self {
        let listen: Option<SocketAddr> = settings.listen_addr().ok();
        let loopback = listen.is_none_or(|a| a.ip().is_loopback());
        let mut hosts: Vec<(String, Option<u16>)> = LOOPBACK_NAMES
            .iter()
            .map(|n| (n.to_string(), None))
            .collect();
        if let Some(addr) = listen.filter(|a| !a.ip().is_unspecified()) {
            let ip = match addr {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            };
            hosts.push((ip, None));
        }
        let public = settings.public_origin();
        if let Some(origin) = &public
            && let Some((_, authority)) = origin.split_once("://")
            && let Some((host, _)) = parse_host_port(authority)
        {
            hosts.push((host, None));
        }
        hosts.extend(
            settings
                .server
                .allowed_hosts
                .iter()
                .filter_map(|h| parse_host_port(h)),
        );
        let trusted_origins = settings
            .server
            .cors_origins
            .iter()
            .map(|o| o.trim().to_ascii_lowercase())
            .chain(public)
            .collect();
        Self {
            any_host: !loopback && settings.server.allowed_hosts.is_empty(),
            hosts,
            trusted_origins,
        }
    }

    /// Whether the guard lets any `Host` through (start-up warns about it).
    pub fn accepts_any_host(&self) -> bool {
        self.any_host
    }

    /// Whether `host` (a `Host` header's value) names this server.
    pub fn allows_host(&self, host: &str) -> bool {
        if self.any_host {
            return true;
        }
        let Some((name, port)) = parse_host_port(host) else {
            return false;
        };
        self.hosts
            .iter()
            .any(|(n, p)| *n == name && (p.is_none() || *p == port))
    }

    /// Runs both checks; `Err` is the 403 to answer with.
    pub fn check(&self, req: &Request) -> Result<(), ApiError> {
        let host = request_host(req);
        if !self.any_host && !host.is_some_and(|h| self.allows_host(h)) {
            return Err(ApiError::forbidden(
                "host_not_allowed",
                format!(
                    "This server does not answer to the host '{}'; add it to server.allowed_hosts \
                     (SKILLMEAT_SERVER__ALLOWED_HOSTS) if it is one of its names",
                    crate::source::printable(host.unwrap_or(""))
                ),
            ));
        }
        if is_read(req.method()) {
            return Ok(());
        }
        self.check_write(req, host)
    }

    fn check_write(&self, req: &Request, host: Option<&str>) -> Result<(), ApiError> {
        let headers = req.headers();
        let origin = headers
            .get(header::ORIGIN)
            .map(|v| v.to_str().unwrap_or("null").trim().to_ascii_lowercase());
        if let Some(origin) = &origin
            && self.trusted_origins.iter().any(|t| t == origin)
        {
            return Ok(());
        }
        // A browser's own word comes first (as in Go's CrossOriginProtection): pages sent with
        // `Referrer-Policy: no-referrer` post forms with `Origin: null`, yet say `same-origin`.
        let site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_ascii_lowercase());
        let refused = match site.as_deref() {
            Some("same-origin" | "none") => false,
            Some("cross-site" | "same-site") => true,
            _ => origin.as_deref().is_some_and(|o| !is_own_origin(o, host)),
        };
        if refused {
            return Err(ApiError::forbidden(
                "cross_site_request",
                "Writes from another site's page are refused; call the API from this server's \
                 own pages, a non-browser client, or an origin listed in server.cors_origins",
            ));
        }
        Ok(())
    }
}

/// The request's `Host` header, or the URI's authority (HTTP/2).
pub(crate) fn request_host(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

/// Whether `origin` (`scheme://host[:port]`, lower case) is the one the request's `Host`
/// names. `null` (sandboxed frames, some redirects) never is.
pub(crate) fn is_own_origin(origin: &str, host: Option<&str>) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    (scheme == "http" || scheme == "https")
        && host.is_some_and(|h| h.trim().eq_ignore_ascii_case(authority))
}
