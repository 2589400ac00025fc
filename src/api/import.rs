//! Bulk import over HTTP (admin): the same CSV format and rules as `amity import`.

use crate::domain::ErrorCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Caller;
use super::documents::{InMemory, is_multipart, receive_multipart};
use super::openapi::{FileBytes, FileForm, Problem};
use crate::db;
use crate::domain::access::require_admin;
use crate::error::ApiError;

/// The largest CSV accepted over HTTP; the real data set is under 2 MiB.
pub const MAX_CSV_BYTES: usize = 32 * 1024 * 1024;

/// Refused rows listed in a response at most (the counts cover all of them).
pub const MAX_LISTED_REJECTS: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Plan and report only; write nothing.
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RejectView {
    pub line: u64,
    pub reason: String,
    pub detail: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportView {
    pub dry_run: bool,
    pub rows: u64,
    /// Cities created (or that a dry run would create).
    pub cities: usize,
    /// Partnerships created (or that a dry run would create).
    pub partnerships: usize,
    pub rejected: usize,
    pub rejects_by_reason: std::collections::BTreeMap<String, u64>,
    /// The first refused rows, with line numbers (the header is line 1).
    pub rejects: Vec<RejectView>,
    pub log_size: i64,
}

/// Import partnerships from CSV (`city1,country1,lat1,lng1,city2,country2,lat2,lng2`).
#[utoipa::path(
    tag = "import",
    security(("bearer" = [])),
    params(ImportQuery),
    request_body(
        description = "The CSV file (UTF-8, header `city1,country1,lat1,lng1,city2,country2,lat2,lng2`): \
                       the raw body as `text/csv` or `application/octet-stream`, or a \
                       `multipart/form-data` body with one file part. At most 33554432 bytes; \
                       413 `payload_too_large` beyond.",
        content(
            (FileBytes = "text/csv"),
            (FileBytes = "application/octet-stream"),
            (FileForm = "multipart/form-data"),
        )
    ),
    responses(
        (status = 200, body = ImportView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/admin/import")]
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ImportQuery>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(caller.principal()?)?;
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the CSV is larger than {MAX_CSV_BYTES} bytes"),
        )
    };
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_multipart);
    let body = if multipart {
        // The one file part, by the same reader as document uploads.
        receive_multipart(&InMemory, &req, payload, MAX_CSV_BYTES, |_| Ok(()))
            .await
            .map_err(|e| match e.code {
                ErrorCode::DocumentTooLarge => too_large(),
                _ => e,
            })?
            .blob
    } else {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::new(ErrorCode::UnreadableBody, e.to_string()))?;
            if body.len() + chunk.len() > MAX_CSV_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        body
    };
    let dry_run = query.dry_run.unwrap_or(false);
    let database = state.db.clone();
    let report =
        web::block(move || db::import::import_csv(&database, &body, dry_run, |_, _| {})).await??;
    let log_size = state.read(db::log::size).await?;
    let mut by_reason = std::collections::BTreeMap::new();
    for r in &report.rejects {
        *by_reason.entry(r.reason.as_str().to_string()).or_insert(0) += 1;
    }
    Ok(HttpResponse::Ok().json(ImportView {
        dry_run,
        rows: report.rows,
        cities: report.cities,
        partnerships: report.partnerships,
        rejected: report.rejects.len(),
        rejects_by_reason: by_reason,
        rejects: report
            .rejects
            .iter()
            .take(MAX_LISTED_REJECTS)
            .map(|r| RejectView {
                line: r.line,
                reason: r.reason.as_str().into(),
                detail: r.detail.clone(),
            })
            .collect(),
        log_size,
    }))
}
