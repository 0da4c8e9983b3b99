//! A JSON body serialised once and sent as stored bytes, documented as `T`.
//!
//! poem-openapi's `Json<T>` turns `T` into a `serde_json::Value` and that into bytes on every
//! response; the hot reads keep the finished bytes in memory ([`crate::memo`]) instead.

use std::marker::PhantomData;

use bytes::Bytes;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};

use crate::error::ApiError;
use crate::state::AppState;

/// JSON bytes of a `T`.
pub struct StoredJson<T> {
    body: Bytes,
    kind: PhantomData<fn() -> T>,
}

impl<T: ToJSON> StoredJson<T> {
    /// Serialises `value`.
    pub fn encode(value: &T) -> Result<Self, ApiError> {
        let json = value.to_json().unwrap_or(serde_json::Value::Null);
        let body = serde_json::to_vec(&json).map_err(|e| ApiError::internal(&e))?;
        Ok(Self::from_bytes(body.into()))
    }
}

impl<T> StoredJson<T> {
    /// Bytes serialised earlier from a `T`.
    pub fn from_bytes(body: Bytes) -> Self {
        Self {
            body,
            kind: PhantomData,
        }
    }

    /// The body (cheap: shared bytes).
    pub fn bytes(&self) -> Bytes {
        self.body.clone()
    }
}

/// What the body is sent as.
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

impl<T: Type> Payload for StoredJson<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T> IntoResponse for StoredJson<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(CONTENT_TYPE)
            .body(self.body)
    }
}

/// A list answer from the memory tier when the data is as it was when it was stored there;
/// otherwise built by `build`, stored, and sent. `key` names the operation and every
/// parameter that shapes the answer.
pub async fn memoised_list<T: ToJSON>(
    state: &AppState,
    key: String,
    build: impl Future<Output = Result<T, ApiError>>,
) -> Result<StoredJson<T>, ApiError> {
    let hot = &state.hot;
    let version = hot.version.current().await;
    if let Some(body) = version.as_ref().and_then(|v| hot.lists.get(&key, v)) {
        return Ok(StoredJson::from_bytes(body));
    }
    let json = StoredJson::encode(&build.await?)?;
    if let Some(version) = version {
        hot.lists
            .put(key, version, hot.version.latest().as_ref(), json.bytes());
    }
    Ok(json)
}
