//! Checks shared by every free-text field: length limits and no control characters, so that
//! nothing stored can break a page, a CSV report or a terminal.

use super::DomainError;
use crate::domain::ErrorCode;

/// Limits in characters (not bytes), chosen so that a log entry stays far below 64 KiB.
pub const NAME_MAX: usize = 200;
pub const REASON_MAX: usize = 4000;
pub const SHORT_MAX: usize = 200;

/// Formats a count for reading: 24,705.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A required single-line text: trimmed, non-empty, at most `max` characters.
///
/// Length and characters are checked before trimming, so that the rule is the one the OpenAPI
/// document states (`domain::schemas`): a value's white space counts towards its limit.
pub fn required_line(field: &'static str, value: &str, max: usize) -> Result<String, DomainError> {
    check(field, value, max, false)?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::new(
            ErrorCode::MissingField,
            format!("`{field}` must not be empty"),
        ));
    }
    Ok(trimmed.to_string())
}

/// An optional single-line text; an empty or blank value counts as absent.
pub fn optional_line(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, DomainError> {
    optional(field, value, max, false)
}

/// An optional multi-line text (reasons, outcomes): newlines and tabs are allowed.
pub fn optional_paragraph(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, DomainError> {
    optional(field, value, max, true)
}

fn optional(
    field: &'static str,
    value: Option<&str>,
    max: usize,
    multiline: bool,
) -> Result<Option<String>, DomainError> {
    let Some(value) = value else {
        return Ok(None);
    };
    check(field, value, max, multiline)?;
    match value.trim() {
        "" => Ok(None),
        v => Ok(Some(v.to_string())),
    }
}

fn check(field: &'static str, value: &str, max: usize, multiline: bool) -> Result<(), DomainError> {
    let len = value.chars().count();
    if len > max {
        return Err(DomainError::new(
            ErrorCode::FieldTooLong,
            format!("`{field}` has {len} characters; the limit is {max}"),
        ));
    }
    let bad = value
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r')));
    if bad {
        return Err(DomainError::new(
            ErrorCode::InvalidCharacters,
            format!("`{field}` contains control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_control_characters() {
        assert_eq!(required_line("name", "  Houston ", 10).unwrap(), "Houston");
        assert_eq!(
            required_line("name", "   ", 10).unwrap_err().code,
            "missing_field"
        );
        assert_eq!(
            required_line("name", &"x".repeat(11), 10).unwrap_err().code,
            "field_too_long"
        );
        // Characters, not bytes: ten two-byte characters fit a limit of ten.
        assert!(required_line("name", &"é".repeat(10), 10).is_ok());
        assert_eq!(
            required_line("name", "a\u{7}b", 10).unwrap_err().code,
            "invalid_characters"
        );
        assert_eq!(optional_line("x", Some(""), 5).unwrap(), None);
        assert!(optional_paragraph("x", Some("a\nb"), 5).unwrap().is_some());
        assert!(optional_line("x", Some("a\nb"), 5).is_err());
    }
}
