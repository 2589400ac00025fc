//! RFC 8785 canonical JSON, the byte form of every log entry (docs/formats/log-entries.md).
//!
//! Object keys sorted by UTF-16 code units, no whitespace, strings escaped minimally. Entries
//! hold only strings, integers, booleans, arrays and objects (coordinates are integer
//! microdegrees), so the number rules of RFC 8785 never come into play and the output is exact.

use serde_json::Value;

/// Why a value has no canonical form here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// Non-integer numbers are refused: the registry never logs them, and refusing keeps the
    /// output exact without RFC 8785's floating-point formatting.
    #[error("log entries hold integers only")]
    NonInteger,
}

impl CanonicalError {
    /// The stable problem code the registry reports for this error.
    pub fn code(&self) -> &'static str {
        match self {
            CanonicalError::NonInteger => "non_integer_in_entry",
        }
    }
}

/// Serializes a JSON value as RFC 8785 canonical JSON.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out)?;
    Ok(out)
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(CanonicalError::NonInteger);
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
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
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // RFC 8785 sorts by UTF-16 code units, which differs from byte order only for
            // characters outside the Basic Multilingual Plane.
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (key, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(member, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// A JSON string as RFC 8785 writes it: quote, backslash and control characters escaped
/// (`\b \t \n \f \r` in their short forms, the rest as lower-case `\u00xx`), everything else
/// as UTF-8.
fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_matches_rfc8785_oracle() {
        let samples = [
            json!({"b": 1, "a": [true, null, "x\u{1}y\"\\/é"], "é": {"z": -5, "A": "\u{7f}"}}),
            json!({"a\nb": "line\r\n\t\u{8}\u{c}\u{1f}", "\u{e9}t\u{e9}": 2}),
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
        assert_eq!(
            canonical_json(&json!({"x": 1.5})),
            Err(CanonicalError::NonInteger)
        );
    }
}
