//! Dates and times as the registry speaks them: calendar dates `YYYY-MM-DD`, established dates
//! with a precision (`2019`, `2019-05`, `2019-05-14`), and instants as Unix microseconds that
//! are shown as RFC 3339 UTC.

use crate::domain::ErrorCode;
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};

use super::DomainError;

/// Parses a strict `YYYY-MM-DD` date (zero-padded, a real calendar day).
pub fn parse_date(field: &'static str, value: &str) -> Result<NaiveDate, DomainError> {
    let bad = || {
        DomainError::new(
            ErrorCode::InvalidDate,
            format!("`{field}` must be a date as YYYY-MM-DD, got {value:?}"),
        )
    };
    let b = value.as_bytes();
    let shape_ok = b.len() == 10
        && b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err(bad());
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| bad())
}

/// How precisely an establishment date is known.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Year,
    Month,
    Day,
}

/// A date known to the year, month or day. Stored as the text given and as its first day, so
/// that `since=` filters compare plain dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstablishedDate {
    pub text: String,
    pub precision: Precision,
    pub first_day: NaiveDate,
}

impl EstablishedDate {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let bad = || {
            DomainError::new(
                ErrorCode::InvalidDate,
                format!("`established` must be YYYY, YYYY-MM or YYYY-MM-DD, got {value:?}"),
            )
        };
        let (precision, full) = match value.len() {
            4 => (Precision::Year, format!("{value}-01-01")),
            7 => (Precision::Month, format!("{value}-01")),
            10 => (Precision::Day, value.to_string()),
            _ => return Err(bad()),
        };
        let first_day = parse_date("established", &full).map_err(|_| bad())?;
        if first_day.year() < 1000 {
            return Err(bad());
        }
        Ok(EstablishedDate {
            text: value.to_string(),
            precision,
            first_day,
        })
    }
}

/// Formats a calendar date as `YYYY-MM-DD`.
pub fn format_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Current time as Unix microseconds.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// The time a registry's writes assert and its deadlines are judged by: the system clock, or
/// the system clock moved forward by an offset that tests set (deadlines and expiry are about
/// days, which no test can wait for). Only ever moved forward, so log times stay ordered.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Option<std::sync::Arc<std::sync::atomic::AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// The system clock plus `offset` microseconds, read at every call.
    pub fn shifted(offset: std::sync::Arc<std::sync::atomic::AtomicI64>) -> Clock {
        Clock {
            offset: Some(offset),
        }
    }

    /// Now, in Unix microseconds.
    pub fn now(&self) -> i64 {
        let shift = self
            .offset
            .as_ref()
            .map_or(0, |o| o.load(std::sync::atomic::Ordering::SeqCst));
        now_micros().saturating_add(shift)
    }
}

/// Unix microseconds as RFC 3339 UTC with microseconds, e.g. `2026-11-28T14:50:00.123456Z`.
pub fn format_micros(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses an instant given as RFC 3339 or as a plain date (midnight UTC).
pub fn parse_instant(field: &'static str, value: &str) -> Result<i64, DomainError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc).timestamp_micros());
    }
    let date = parse_date(field, value).map_err(|_| {
        DomainError::new(
            ErrorCode::InvalidDate,
            format!("`{field}` must be an RFC 3339 time or a YYYY-MM-DD date, got {value:?}"),
        )
    })?;
    Ok(date
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_micros())
        .unwrap_or_default())
}

/// Today's date in UTC.
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_dates() {
        assert!(parse_date("d", "2019-05-14").is_ok());
        for bad in [
            "2019-5-14",
            "2019-02-30",
            "20190514",
            "2019-05-14 ",
            "abcd-ef-gh",
            "",
        ] {
            assert_eq!(
                parse_date("d", bad).unwrap_err().code,
                "invalid_date",
                "{bad}"
            );
        }
    }

    #[test]
    fn established_precision() {
        let y = EstablishedDate::parse("2019").unwrap();
        assert_eq!(
            (y.precision, format_date(y.first_day)),
            (Precision::Year, "2019-01-01".into())
        );
        let m = EstablishedDate::parse("2019-05").unwrap();
        assert_eq!(
            (m.precision, format_date(m.first_day)),
            (Precision::Month, "2019-05-01".into())
        );
        let d = EstablishedDate::parse("2019-05-14").unwrap();
        assert_eq!(d.precision, Precision::Day);
        for bad in ["19", "2019-13", "2019-5", "0999", "2019-05-32", "year"] {
            assert!(EstablishedDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn instants_round_trip() {
        let t = parse_instant("t", "2026-11-28T14:50:00.123456Z").unwrap();
        assert_eq!(format_micros(t), "2026-11-28T14:50:00.123456Z");
        assert_eq!(
            format_micros(parse_instant("t", "2026-01-02").unwrap()),
            "2026-01-02T00:00:00.000000Z"
        );
        assert!(parse_instant("t", "tomorrow").is_err());
    }
}
