//! Log entries: what each write says about itself in the transparency log.
//!
//! An entry is RFC 8785 canonical JSON: object keys sorted by UTF-16 code units, no
//! whitespace, strings escaped minimally. Entries hold only strings, integers, booleans, arrays
//! and objects (coordinates are integer microdegrees), so the number rules of RFC 8785 never
//! come into play and canonical output is exact.

use serde_json::{Map, Value, json};

use super::DomainError;
use super::dates::format_micros;

/// The most an entry may weigh; larger writes are refused before anything is stored.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

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

/// Serializes a JSON value as RFC 8785 canonical JSON. Non-integer numbers are refused: the
/// registry never logs them, and refusing keeps the output exact.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, DomainError> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out)?;
    Ok(out)
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), DomainError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(DomainError::invalid(
                    "non_integer_in_entry",
                    "log entries hold integers only",
                ));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        // serde_json escapes exactly what RFC 8785 requires: quote, backslash, and control
        // characters (\b \t \n \f \r short forms, the rest as lower-case \u00xx).
        Value::String(s) => out.extend_from_slice(
            serde_json::to_string(s)
                .map_err(|e| DomainError::invalid("invalid_entry", e.to_string()))?
                .as_bytes(),
        ),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            // RFC 8785 sorts by UTF-16 code units, which differs from byte order only for
            // characters outside the Basic Multilingual Plane.
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(&Value::String(key.clone()), out)?;
                out.push(b':');
                write_canonical(&map[key], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Entry builders, one per kind of write, so the field names stay consistent.
pub mod kinds {
    pub const CITY_CREATED: &str = "city.created";
    pub const OFFICE_CREATED: &str = "office.created";
    pub const TOKEN_ISSUED: &str = "token.issued";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    pub const PARTNERSHIP_REGISTERED: &str = "partnership.registered";
    pub const PARTNERSHIP_STATUS_CHANGED: &str = "partnership.status_changed";
    pub const ACTIVITY_RECORDED: &str = "activity.recorded";
    pub const ACTIVITY_EVIDENCE_ADDED: &str = "activity.evidence_added";
    pub const MOU_CREATED: &str = "mou.created";
    pub const MOU_VERSION_UPLOADED: &str = "mou.version_uploaded";
    pub const MOU_SIGNATURE_ADDED: &str = "mou.signature_added";
    pub const MOU_WITHDRAWN: &str = "mou.withdrawn";
    pub const KEY_REGISTERED: &str = "key.registered";
    pub const KEY_APPROVED: &str = "key.approved";
    pub const KEY_RETIRED: &str = "key.retired";
    pub const KEY_REVOKED: &str = "key.revoked";
}

/// Lower-case hex, the form hashes take inside entries.
pub fn hex_digest(bytes: &[u8]) -> Value {
    json!(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_matches_rfc8785_oracle() {
        let samples = [
            json!({"b": 1, "a": [true, null, "x\u{1}y\"\\/é"], "é": {"z": -5, "A": "\u{7f}"}}),
            json!({"a\nb": "line\r\n\t\u{8}\u{c}", "\u{e9}t\u{e9}": 2}),
            json!([]),
            json!({}),
            json!({"n": i64::MIN, "m": u64::MAX}),
        ];
        for v in samples {
            let ours = canonical_json(&v).unwrap();
            let oracle = serde_jcs::to_vec(&v).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(oracle).unwrap()
            );
        }
    }

    /// RFC 8785 section 3.2.3: keys sort by UTF-16 code units, so the emoji (a surrogate pair
    /// starting 0xD83D) comes before U+FB33. (serde_jcs sorts by code point and gets this
    /// one wrong, which is why it is not the oracle here.)
    #[test]
    fn rfc8785_sorting_example() {
        let input = json!({
            "\u{20ac}": "Euro Sign",
            "\r": "Carriage Return",
            "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\u{1f600}": "Emoji: Grinning Face",
            "\u{80}": "Control",
            "\u{f6}": "Latin Small Letter O With Diaeresis"
        });
        let out = String::from_utf8(canonical_json(&input).unwrap()).unwrap();
        let values: Vec<&str> = out.split('"').skip(3).step_by(4).collect();
        assert_eq!(
            values,
            [
                "Carriage Return",
                "One",
                "Control",
                "Latin Small Letter O With Diaeresis",
                "Euro Sign",
                "Emoji: Grinning Face",
                "Hebrew Letter Dalet With Dagesh"
            ]
        );
    }

    #[test]
    fn floats_are_refused() {
        assert!(canonical_json(&json!({"x": 1.5})).is_err());
    }

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
