//! Cursors for cursor-paged lists: the one codec every list uses. A cursor is URL-safe base64
//! of a small JSON value (the last row's sort key and id), opaque to clients; anything that
//! does not decode to the expected shape is not a cursor this server issued.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The cursor for `position`.
pub fn encode<T: Serialize>(position: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default())
}

/// The position in `raw`, or `None` when it is not a cursor of this shape (a bad request).
pub fn decode<T: DeserializeOwned>(raw: &str) -> Option<T> {
    URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

/// What a bad cursor is called in error messages.
pub const NOT_A_CURSOR: &str = "not a cursor issued by this server";

/// The message of a bad request with a bad cursor.
pub fn bad_cursor() -> String {
    format!("Invalid cursor: {NOT_A_CURSOR}")
}

/// A cursor over a (sort key, id) pair, the position most lists page by.
pub fn encode_pair(key: &str, id: &str) -> String {
    encode(&(key, id))
}

/// Decodes [`encode_pair`]; `None` is a bad request ([`bad_cursor`]).
pub fn decode_pair(raw: &str) -> Option<(String, String)> {
    decode(raw)
}
