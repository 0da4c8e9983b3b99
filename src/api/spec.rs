//! The spec as `/openapi.json` serves it: poem-openapi's document with each response status
//! listed once, and, with a key, the key declared for Swagger UI's "Authorize".

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A JSON value in which a key repeated within one object keeps its first value (two objects
/// are merged, the first value of each of their keys kept). poem-openapi lists a status twice
/// when an operation's own response and [`crate::error::ApiError`] both document it (404): the
/// operation's own text is the one to keep; and a path twice when two resource APIs serve
/// methods of it: both are kept. Swagger UI refuses a document with repeated keys.
struct FirstWins(Value);

impl<'de> Deserialize<'de> for FirstWins {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(FirstWinsVisitor)
            .map(FirstWins)
    }
}

struct FirstWinsVisitor;

impl<'de> Visitor<'de> for FirstWinsVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(FirstWins(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some((key, FirstWins(v))) = map.next_entry::<String, FirstWins>()? {
            match (out.get_mut(&key), v) {
                (None, v) => {
                    out.insert(key, v);
                }
                // A path served by two resource APIs (GET in one, POST in another) is listed
                // once per API: its operations are merged, the first one of a method kept.
                (Some(Value::Object(first)), Value::Object(second)) => {
                    for (k, v) in second {
                        first.entry(k).or_insert(v);
                    }
                }
                (Some(_), _) => {}
            }
        }
        Ok(Value::Object(out))
    }
}

/// The spec to serve: each key once, and with `keyed` the API key declared (header
/// `X-API-Key` or `Authorization: Bearer`) and required by every operation but the health
/// check. The check itself is `security::auth`; this only describes it.
pub fn published(spec: &str, keyed: bool) -> String {
    let Ok(FirstWins(mut doc)) = serde_json::from_str::<FirstWins>(spec) else {
        return spec.to_string();
    };
    if keyed {
        declare_api_key(&mut doc);
    }
    serde_json::to_string(&doc).unwrap_or_else(|_| spec.to_string())
}

fn declare_api_key(doc: &mut Value) {
    doc["components"]["securitySchemes"] = serde_json::json!({
        "api_key": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "The server's API key (auth.api_key)."
        },
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The server's API key as a bearer token."
        }
    });
    let required = serde_json::json!([{ "api_key": [] }, { "bearer": [] }]);
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let open = path == "/health";
            if let Some(operations) = item.as_object_mut() {
                for operation in operations.values_mut() {
                    operation["security"] = if open {
                        serde_json::json!([])
                    } else {
                        required.clone()
                    };
                }
            }
        }
    }
}
