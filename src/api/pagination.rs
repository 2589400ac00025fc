//! `limit` and opaque `cursor` for every list.

use crate::domain::ErrorCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = crate::domain::schemas::PAGE_LIMIT_MAX;
/// Bulk lists (every signature of the registry, read by `amity audit`) take larger pages:
/// their rows are small and fixed, and a page per request is what the audit waits on.
pub const BULK_DEFAULT_LIMIT: i64 = 1000;
pub const BULK_MAX_LIMIT: i64 = crate::domain::schemas::BULK_PAGE_LIMIT_MAX;

/// Checks `limit` (1 to 500, default 50).
pub fn limit(value: Option<i64>) -> Result<i64, ApiError> {
    limit_within(value, DEFAULT_LIMIT, MAX_LIMIT)
}

/// Checks the `limit` of a bulk list (1 to 5000, default 1000).
pub fn bulk_limit(value: Option<i64>) -> Result<i64, ApiError> {
    limit_within(value, BULK_DEFAULT_LIMIT, BULK_MAX_LIMIT)
}

fn limit_within(value: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::new(
            ErrorCode::InvalidLimit,
            format!("`limit` must be between 1 and {max}, got {n}"),
        )),
    }
}

/// The cursor is the sort key of the last item returned, wrapped so clients treat it as opaque.
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{key}"))
}

pub fn decode_cursor(cursor: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidCursor,
            "`cursor` is not one this server issued",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    match text.strip_prefix("v1:") {
        Some(key) if !key.is_empty() => Ok(Some(key.to_string())),
        _ => Err(bad()),
    }
}

/// The query of a list that takes nothing but its page.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1-500 (default 50).
    #[param(value_type = Option<crate::domain::schemas::PageLimit>, inline)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(value_type = Option<crate::domain::schemas::Cursor>, inline)]
    pub cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says that more follow.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        limit: i64,
        key: impl Fn(&R) -> String,
        view: impl Fn(R) -> T,
    ) -> Page<T> {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(&key(r)))
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = encode_cursor("us-hou");
        assert_eq!(decode_cursor(Some(&c)).unwrap().as_deref(), Some("us-hou"));
        assert!(decode_cursor(Some("not base64!")).is_err());
        assert!(decode_cursor(Some(&URL_SAFE_NO_PAD.encode("x"))).is_err());
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(501)).is_err());
        assert_eq!(limit(None).unwrap(), 50);
        assert!(bulk_limit(Some(5000)).is_ok());
        assert!(bulk_limit(Some(5001)).is_err());
        assert_eq!(bulk_limit(None).unwrap(), 1000);
    }
}
