//! Database URLs: which engine a URL names, the SQLite URL of a file, and URLs with their
//! passwords hidden for messages and logs.

use std::path::Path;

use super::DatabaseKind;

/// The SQLite URL of a file path.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Which engine a URL names, or the allowed schemes.
pub fn database_kind(url: &str) -> Result<DatabaseKind, &'static str> {
    if url.starts_with("sqlite:") {
        Ok(DatabaseKind::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(DatabaseKind::Postgres)
    } else {
        Err("allowed: sqlite://<path> or postgres://user@host/db")
    }
}

/// Query parameters whose values are secrets in database URLs (libpq and sqlx spellings).
const SECRET_QUERY_KEYS: &[&str] = &["password", "passwd", "pass", "sslpassword", "pwd"];

/// A URL with any password replaced (in the user part and in the query string), safe for
/// messages and logs.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        // Not a URL we can read: show only its scheme, which never holds a secret.
        return match raw.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://(unreadable, hidden)"),
            None => "(hidden)".into(),
        };
    };
    let mut changed = false;
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
        changed = true;
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                if SECRET_QUERY_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                    changed = true;
                    (k.into_owned(), "***".to_string())
                } else {
                    (k.into_owned(), v.into_owned())
                }
            })
            .collect();
        if changed {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    if changed {
        url.to_string()
    } else {
        raw.to_string()
    }
}
