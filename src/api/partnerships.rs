//! Partnerships: proposal, confirmation, status changes, lists and history.

use crate::domain::schemas as S;
use crate::domain::{ErrorCode, PartnershipId};
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::openapi::Problem;
use super::pagination::{Page, decode_cursor, limit};
use super::views::{
    HistoryView, NewPartnershipBody, PartnershipView, StatusChangeBody, StatusChangeView,
    StatusEventView,
};
use crate::app;
use crate::db;
use crate::db::partnerships::PartnershipFilter;
use crate::domain::access::require_office;
use crate::domain::cities::{CityCode, parse_country};

use crate::domain::dates::{format_date, parse_date};
use crate::domain::partnerships::{Kind, Proposal, Status, StatusChange, StatusChangeInput};
use crate::error::ApiError;

/// Propose a partnership (office of one of the two cities). It starts `proposed` and becomes
/// `active` when the partner city's office confirms it.
#[utoipa::path(
    operation_id = "create_partnership",
    tag = "partnerships",
    security(("bearer" = [])),
    request_body = NewPartnershipBody,
    responses(
        (status = 201, body = PartnershipView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/partnerships")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewPartnershipBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?;
    require_office(principal)?;
    let b = json_body(body)?;
    let proposal = Proposal::validate(&b.cities, b.kind, b.established.as_deref())?;
    let principal = principal.cloned();
    let created = state
        .write(move |tx| app::partnerships::propose(tx, principal.as_ref(), proposal))
        .await?;
    let view = PartnershipView::from(created);
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/partnerships/{}", view.id),
        ))
        .json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PartnershipQuery {
    /// City code: partnerships where this city is either party.
    #[param(value_type = Option<S::CityCodeText>, inline)]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2: partnerships with a city of this country.
    #[param(value_type = Option<S::CountryCode>, inline)]
    pub country: Option<String>,
    pub status: Option<Status>,
    pub kind: Option<Kind>,
    /// YYYY-MM-DD: established on or after this date.
    #[param(value_type = Option<S::Date>, inline)]
    pub since: Option<String>,
    /// Page size, 1-500 (default 50).
    #[param(value_type = Option<S::PageLimit>, inline)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(value_type = Option<S::Cursor>, inline)]
    pub cursor: Option<String>,
}

/// List partnerships with filters, in registration order.
#[utoipa::path(
    operation_id = "list_partnerships",
    tag = "partnerships",
    params(PartnershipQuery),
    responses((status = 200, body = Page<PartnershipView>), (status = 400, body = Problem), (status = 422, body = Problem))
)]
#[get("/partnerships")]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<PartnershipQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = limit(q.limit)?;
    let filter = PartnershipFilter {
        city: q
            .city
            .as_deref()
            .map(|c| CityCode::parse(c).map(|c| c.to_string()))
            .transpose()?,
        country: q.country.as_deref().map(parse_country).transpose()?,
        status: q.status,
        kind: q.kind,
        since: q
            .since
            .as_deref()
            .map(|s| parse_date("since", s).map(format_date))
            .transpose()?,
        after: decode_cursor(q.cursor.as_deref())?,
        limit,
    };
    // City, status and date filters walk an index in id order and stop after the page (see
    // `db::partnerships::list`); a country or kind filter (no index), or a date with a status
    // (the planner prefers the status index), may scan, so those go to the blocking pool.
    let may_scan = filter.country.is_some()
        || filter.kind.is_some()
        || (filter.since.is_some() && filter.status.is_some());
    let query = move |c: &mut db::DbConn| db::partnerships::list(c, &filter);
    let rows = if may_scan {
        state.read(query).await?
    } else {
        state.read_short(query).await?
    };
    let page = Page::from_rows(rows, limit, |p| p.id.to_string(), PartnershipView::from);
    Ok(HttpResponse::Ok().json(page))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::PartnershipNotFound,
        format!("no partnership `{id}`"),
    )
}

/// One partnership.
#[utoipa::path(
    operation_id = "get_partnership",
    tag = "partnerships",
    params(("id" = String, Path, description = "Partnership id")),
    responses((status = 200, body = PartnershipView), (status = 404, body = Problem))
)]
#[get("/partnerships/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = PartnershipId::from_path(&id)?;
    let key = id.clone();
    let found = state
        .read_short(move |c| db::partnerships::get(c, &key))
        .await?;
    let p = found.ok_or_else(|| not_found(id.as_str()))?;
    Ok(HttpResponse::Ok().json(PartnershipView::from(p)))
}

/// The full status history, oldest first.
#[utoipa::path(
    tag = "partnerships",
    params(("id" = String, Path, description = "Partnership id")),
    responses((status = 200, body = HistoryView), (status = 404, body = Problem))
)]
#[get("/partnerships/{id}/history")]
pub async fn history(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = PartnershipId::from_path(&id)?;
    let key = id.clone();
    let events = state
        .read(move |c| db::partnerships::history(c, &key))
        .await?;
    Ok(HttpResponse::Ok().json(HistoryView {
        partnership: id.into_string(),
        events: events.into_iter().map(StatusEventView::from).collect(),
    }))
}

/// Empty confirmation body: `{}` or nothing.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {}

/// Confirm a proposed partnership (office of the partner city): it becomes `active`.
#[utoipa::path(
    tag = "partnerships",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Partnership id")),
    request_body(content = ConfirmBody, description = "`{}`; may be omitted"),
    responses(
        (status = 200, body = StatusChangeView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem, description = "a body other than `{}`")
    )
)]
#[post("/partnerships/{id}/confirm")]
pub async fn confirm(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    // Refuse anonymous callers and non-offices before looking at the body or the database.
    require_office(principal.as_ref())?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        serde_json::from_slice::<ConfirmBody>(&body).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidBody,
                format!("the body must be `{{}}` or empty: {e}"),
            )
        })?;
    }
    let id = PartnershipId::from_path(&id)?;
    let (partnership, event) = state
        .write(move |tx| app::partnerships::confirm(tx, principal.as_ref(), &id))
        .await?;
    Ok(HttpResponse::Ok().json(change_view(partnership, event)))
}

fn change_view(
    partnership: crate::domain::partnerships::Partnership,
    event: crate::domain::partnerships::StatusEvent,
) -> StatusChangeView {
    let log_index = event.log_index;
    let status = partnership.status;
    StatusChangeView {
        partnership: PartnershipView::from(partnership),
        event: StatusEventView::from(event),
        status,
        log_index,
    }
}

/// Record a status change with its reason (office of either city).
#[utoipa::path(
    tag = "partnerships",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Partnership id")),
    request_body = StatusChangeBody,
    responses(
        (status = 201, body = StatusChangeView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "transition not allowed from the current status"),
        (status = 422, body = Problem)
    )
)]
#[post("/partnerships/{id}/status")]
pub async fn change_status(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<StatusChangeBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let b = json_body(body)?;
    let change = StatusChange::validate(StatusChangeInput {
        status: Some(b.status),
        effective_date: b.effective_date,
        decided_date: b.decided_date,
        deciding_body: b.deciding_body,
        reason_category: Some(b.reason_category),
        reason: b.reason,
        resumption_condition: b.resumption_condition,
        decision_document_sha256: b.decision_document_sha256,
    })?;
    let id = PartnershipId::from_path(&id)?;
    let (partnership, event) = state
        .write(move |tx| app::partnerships::change_status(tx, principal.as_ref(), &id, change))
        .await?;
    Ok(HttpResponse::Created().json(change_view(partnership, event)))
}
