//! Log entries: what each write says about itself in the transparency log.
//!
//! An entry is RFC 8785 canonical JSON (`amity_verify::jcs`); the kinds and their fields are
//! specified in docs/formats/log-entries.md.

use serde_json::{Map, Value, json};

use super::DomainError;
use super::dates::format_micros;

pub use amity_verify::entries::{MAX_ENTRY_BYTES, kinds};

/// A log entry before it is appended: its type and its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub kind: &'static str,
    pub bytes: Vec<u8>,
}

impl LogEntry {
    /// Builds an entry of `kind` at `time` (microseconds) from the subject fields.
    /// `None` values are left out rather than written as null.
    pub fn new(kind: &'static str, time: i64, fields: Value) -> Result<Self, DomainError> {
        let mut object = Map::new();
        object.insert("type".into(), Value::String(kind.into()));
        object.insert("time".into(), Value::String(format_micros(time)));
        if let Value::Object(extra) = fields {
            for (k, v) in extra {
                if !v.is_null() {
                    object.insert(k, v);
                }
            }
        }
        let bytes = canonical_json(&Value::Object(object))?;
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(DomainError::invalid(
                "entry_too_large",
                format!(
                    "this write would make a log entry of {} bytes; the limit is {MAX_ENTRY_BYTES}",
                    bytes.len()
                ),
            ));
        }
        Ok(LogEntry { kind, bytes })
    }
}

/// Serializes a JSON value as RFC 8785 canonical JSON (the verifier crate's writer, so the
/// server writes exactly the bytes an auditor's replay re-derives).
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, DomainError> {
    amity_verify::jcs::canonical_json(value)
        .map_err(|e| DomainError::invalid(e.code(), e.to_string()))
}

/// Lower-case hex, the form hashes take inside entries.
pub fn hex_digest(bytes: &[u8]) -> Value {
    json!(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_has_type_time_and_no_nulls() {
        let e = LogEntry::new(
            kinds::CITY_CREATED,
            0,
            json!({"city": "us-hou", "region": null}),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(e.bytes).unwrap(),
            r#"{"city":"us-hou","time":"1970-01-01T00:00:00.000000Z","type":"city.created"}"#
        );
        let big = LogEntry::new(kinds::CITY_CREATED, 0, json!({"x": "a".repeat(70_000)}));
        assert_eq!(big.unwrap_err().code, "entry_too_large");
    }
}
