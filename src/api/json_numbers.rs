//! Integers as JSON Schema counts them. The document says `"type": "integer"`, and JSON
//! Schema takes any number with a zero fractional part as one (`36047638.0` is an integer),
//! while serde refuses a float where it reads an `i64`. These readers take such numbers, so
//! the server accepts what the document allows; a fraction is still refused.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// The integer a JSON number stands for, if it has no fractional part and fits an `i64`.
fn integral(n: &serde_json::Number) -> Option<i64> {
    // 2^63 as f64: the first float past `i64::MAX` (which itself has no exact f64). The bounds
    // are open at both ends: an integer just below `i64::MIN`, written out, rounds to -2^63 as a
    // float and must not be taken for `i64::MIN`.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f > -LIMIT && *f < LIMIT)
            .map(|f| f as i64)
    })
}

fn not_integer<E: serde::de::Error>(n: &serde_json::Number) -> E {
    E::custom(format!("invalid type: {n} is not an integer"))
}

/// An optional integer member (`null` and absent are `None`).
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<serde_json::Number>::deserialize(d)?
        .map(|n| integral(&n).ok_or_else(|| not_integer(&n)))
        .transpose()
}

/// A required non-negative integer member that fits a `u32`.
/// An optional list of whole numbers, each written as an integer or an integral float.
pub fn opt_i64_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<i64>>, D::Error> {
    Option::<Vec<serde_json::Number>>::deserialize(d)?
        .map(|list| {
            list.iter()
                .map(|n| integral(n).ok_or_else(|| not_integer(n)))
                .collect()
        })
        .transpose()
}

pub fn u32_integral<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    let i = integral(&n).ok_or_else(|| not_integer(&n))?;
    u32::try_from(i).map_err(|_| D::Error::custom(format!("{n} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "opt_i64")]
        n: Option<i64>,
    }

    fn read(json: &str) -> Option<Option<i64>> {
        serde_json::from_str::<Probe>(json).ok().map(|p| p.n)
    }

    #[test]
    fn integral_floats_are_integers_and_fractions_are_not() {
        assert_eq!(read(r#"{"n": 5}"#), Some(Some(5)));
        assert_eq!(read(r#"{"n": 5.0}"#), Some(Some(5)));
        assert_eq!(read(r#"{"n": -3e2}"#), Some(Some(-300)));
        assert_eq!(read(r#"{"n": null}"#), Some(None));
        assert_eq!(read("{}"), Some(None));
        assert_eq!(read(r#"{"n": 5.5}"#), None);
        assert_eq!(read(r#"{"n": 1e300}"#), None);
        assert_eq!(read(r#"{"n": -9223372036854775809}"#), None);
        assert_eq!(read(r#"{"n": 9223372036854775808}"#), None);
        assert_eq!(read(r#"{"n": "5"}"#), None);
    }
}
