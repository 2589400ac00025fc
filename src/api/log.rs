//! Read access to the log entries.

use actix_web::{HttpResponse, get, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::AppState;
use super::views::LogEntryView;
use crate::db;
use crate::domain::dates::format_micros;
use crate::error::ApiError;

/// One log entry: its exact bytes and leaf hash.
#[utoipa::path(
    tag = "log",
    params(("index" = i64, Path, description = "0-based entry index")),
    responses((status = 200, body = LogEntryView), (status = 404, body = crate::api::openapi::Problem))
)]
#[get("/log/entries/{index}")]
pub async fn entry(
    state: web::Data<AppState>,
    index: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let index = index.into_inner();
    let row = state.read(move |c| db::log::entry(c, index)).await?;
    let row = row.ok_or_else(|| {
        ApiError::not_found("entry_not_found", format!("the log has no entry {index}"))
    })?;
    Ok(HttpResponse::Ok().json(LogEntryView {
        index: row.idx,
        leaf_hash: hex::encode(&row.leaf_hash),
        kind: row.kind,
        entry: STANDARD.encode(&row.entry),
        logged_at: format_micros(row.logged_at),
    }))
}
