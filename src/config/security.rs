//! Checks of the security settings: key lengths, allowed hosts, the public URL, project roots.
//! Each problem stops start-up with one line naming the key, like every other setting.

use std::path::{Component, Path, PathBuf};

use super::validate::err;
use super::{ConfigError, Settings, expand_home};

/// Shortest accepted API key, in characters: a key is the only thing between a network and
/// the user's files, so it must be too long to guess.
pub const MIN_KEY_CHARS: usize = 32;

/// Bytes of randomness in a key made by `skillmeat-server gen-key` (256 bits).
const GENERATED_KEY_BYTES: usize = 32;

/// A new random API key: 256 bits from the operating system, as 64 hex characters.
pub fn generate_key() -> std::io::Result<String> {
    let mut bytes = [0u8; GENERATED_KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(hex::encode(bytes))
}

fn too_short(key: &str, len: usize) -> ConfigError {
    err(
        key,
        format!(
            "a key of {len} characters is too short; at least {MIN_KEY_CHARS} are required \
             (make one with `skillmeat-server gen-key`)"
        ),
    )
}

/// `host` or `host:port`, lower case, with an IPv6 address in brackets; `None` if malformed.
pub fn parse_host_port(raw: &str) -> Option<(String, Option<u16>)> {
    let raw = raw.trim().to_ascii_lowercase();
    let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        (format!("[{inner}]"), port)
    } else {
        match raw.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse().ok()?)),
            None => (raw.clone(), None),
        }
    };
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'));
    valid.then_some((host, port))
}

/// A folder path made absolute (`~` expanded) and free of `.` parts and trailing slashes;
/// `None` when it is relative or climbs with `..`.
pub(crate) fn normalized_folder(raw: &str) -> Option<PathBuf> {
    let expanded = expand_home(raw.trim());
    if !expanded.is_absolute() || raw.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for part in expanded.components() {
        match part {
            Component::ParentDir => return None,
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    Some(out)
}

impl Settings {
    /// The security settings' own checks, called by [`Settings::validate`].
    pub(super) fn validate_security(&self) -> Result<(), ConfigError> {
        let auth = &self.auth;
        let key = auth.api_key.trim();
        if !key.is_empty() && key.chars().count() < MIN_KEY_CHARS {
            return Err(too_short(
                if auth.api_key_file.trim().is_empty() {
                    "auth.api_key"
                } else {
                    "auth.api_key_file"
                },
                key.chars().count(),
            ));
        }
        if !auth.read_only_keys.is_empty() && key.is_empty() {
            return Err(err(
                "auth.read_only_keys",
                "read-only keys need auth.api_key too (the key that may write)",
            ));
        }
        for ro in &auth.read_only_keys {
            let ro = ro.trim();
            if ro.chars().count() < MIN_KEY_CHARS {
                return Err(too_short("auth.read_only_keys", ro.chars().count()));
            }
            if ro == key {
                return Err(err(
                    "auth.read_only_keys",
                    "a read-only key must differ from auth.api_key",
                ));
            }
        }
        if let Some(bad) = self
            .server
            .allowed_hosts
            .iter()
            .find(|h| parse_host_port(h).is_none())
        {
            return Err(err(
                "server.allowed_hosts",
                format!(
                    "'{bad}' is not a host name; expected host or host:port without a scheme, \
                     such as skillmeat.example.com"
                ),
            ));
        }
        if !self.server.public_url.trim().is_empty() && self.public_origin().is_none() {
            return Err(err(
                "server.public_url",
                format!(
                    "'{}' is not a URL; expected http(s)://host[:port], such as \
                     https://skillmeat.example.com",
                    self.server.public_url
                ),
            ));
        }
        self.validate_roots()
    }

    fn validate_roots(&self) -> Result<(), ConfigError> {
        if self.deploy.allowed_roots.is_empty() {
            return Err(err(
                "deploy.allowed_roots",
                "must name at least one folder; the default is [\"~\"]",
            ));
        }
        let mut roots = Vec::new();
        for raw in &self.deploy.allowed_roots {
            roots.push(normalized_folder(raw).ok_or_else(|| {
                err(
                    "deploy.allowed_roots",
                    format!("'{raw}' must be an absolute folder (or start with ~) without '..'"),
                )
            })?);
        }
        let defaults = super::keys::default_list("deploy.search_roots");
        for raw in &self.deploy.search_roots {
            let inside = normalized_folder(raw)
                .is_some_and(|p| roots.iter().any(|root| p.starts_with(root)));
            // The default roots (~/projects ...) are searched only where the allowed roots
            // reach; narrowing the allowed roots must not make the defaults an error.
            if !inside && !defaults.contains(raw) {
                return Err(err(
                    "deploy.search_roots",
                    format!(
                        "'{raw}' is not inside deploy.allowed_roots ({}); add its folder there \
                         or search somewhere inside them",
                        self.deploy.allowed_roots.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The search roots to search: expanded, inside the allowed roots (a default one outside
    /// them is left out).
    pub fn search_roots(&self) -> Vec<PathBuf> {
        let roots = self.allowed_roots();
        self.deploy
            .search_roots
            .iter()
            .filter_map(|r| normalized_folder(r))
            .filter(|p| roots.iter().any(|root| p.starts_with(root)))
            .collect()
    }

    /// The allowed project roots, expanded (validated by [`Settings::validate`]).
    pub fn allowed_roots(&self) -> Vec<PathBuf> {
        self.deploy
            .allowed_roots
            .iter()
            .filter_map(|r| normalized_folder(r))
            .collect()
    }

    /// `scheme://host[:port]` of `server.public_url`, lower case, when one is set and valid.
    pub fn public_origin(&self) -> Option<String> {
        let raw = self.server.public_url.trim().trim_end_matches('/');
        let uri: poem::http::Uri = raw.parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let authority = uri.authority()?;
        let has_path = !matches!(uri.path(), "" | "/") || uri.query().is_some();
        ((scheme == "http" || scheme == "https") && !has_path && !authority.as_str().contains('@'))
            .then(|| format!("{scheme}://{}", authority.as_str().to_ascii_lowercase()))
    }

    /// Whether browsers reach the server over HTTPS (so its cookies must be `Secure`).
    pub fn served_over_https(&self) -> bool {
        self.public_origin()
            .is_some_and(|o| o.starts_with("https://"))
    }
}

/// Warns when the key file can be read by the group or by others (Unix).
pub(super) fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                file = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "auth.api_key_file can be read by other users; make it private (chmod 600)"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
