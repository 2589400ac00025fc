//! Engagement activities and the metrics rolled up from them.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::openapi::Problem;
use super::pagination::{Page, decode_cursor, limit};
use crate::db;
use crate::db::activities::ActivityRow;
use crate::domain::access::{require_office, require_party_office};
use crate::domain::activities::{ActivityKind, Engagement, Mode, NewActivity};
use crate::domain::cities::CityCode;
use crate::domain::dates::format_micros;
use crate::error::ApiError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivityBody {
    pub kind: ActivityKind,
    pub mode: Mode,
    /// YYYY-MM-DD, not in the future.
    pub start_date: String,
    /// YYYY-MM-DD, not before `start_date`.
    pub end_date: Option<String>,
    pub participants: Option<i64>,
    /// What came of it, e.g. an agreement signed or a programme launched.
    pub outcome: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActivityView {
    pub id: String,
    pub partnership: String,
    pub kind: String,
    pub mode: String,
    pub start_date: String,
    pub end_date: Option<String>,
    pub participants: Option<i32>,
    pub outcome: Option<String>,
    /// The city whose office recorded it.
    pub city: String,
    pub recorded_at: String,
    pub log_index: i64,
}

impl From<ActivityRow> for ActivityView {
    fn from(r: ActivityRow) -> Self {
        ActivityView {
            id: r.id,
            partnership: r.partnership_id,
            kind: r.kind,
            mode: r.mode,
            start_date: r.start_date,
            end_date: r.end_date,
            participants: r.participants,
            outcome: r.outcome,
            city: r.city,
            recorded_at: format_micros(r.created_at),
            log_index: r.log_index,
        }
    }
}

/// Record an engagement activity (office of either city of the partnership).
#[utoipa::path(
    tag = "activities",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Partnership id")),
    request_body = NewActivityBody,
    responses(
        (status = 201, body = ActivityView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/partnerships/{id}/activities")]
pub async fn record(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<NewActivityBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let b = json_body(body)?;
    let activity = NewActivity::validate(
        b.kind,
        b.mode,
        &b.start_date,
        b.end_date.as_deref(),
        b.participants,
        b.outcome.as_deref(),
    )?;
    let id = id.into_inner();
    let token = principal.as_ref().map(|p| p.token_id.clone());
    let row = state
        .write(move |tx| {
            db::activities::record(tx, &id, activity, token.as_deref(), |p| {
                require_party_office(principal.as_ref(), &p.parties()).cloned()
            })
        })
        .await?;
    let view = ActivityView::from(row);
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/partnerships/{}/activities", view.partnership),
        ))
        .json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    /// Page size, 1-500 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A partnership's activities, newest first.
#[utoipa::path(
    tag = "activities",
    params(("id" = String, Path, description = "Partnership id"), ActivityQuery),
    responses((status = 200, body = Page<ActivityView>), (status = 404, body = Problem))
)]
#[get("/partnerships/{id}/activities")]
pub async fn list(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ActivityQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit(query.limit)?;
    let after = decode_cursor(query.cursor.as_deref())?;
    let id = id.into_inner();
    let rows = state
        .read(move |c| {
            if db::partnerships::get(c, &id)?.is_none() {
                return Err(crate::domain::DomainError::not_found(
                    "partnership_not_found",
                    format!("no partnership `{id}`"),
                )
                .into());
            }
            db::activities::list(c, &id, after.as_deref(), limit)
        })
        .await?;
    let page = Page::from_rows(rows, limit, |r| r.id.clone(), ActivityView::from);
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EngagementQuery {
    /// Only partnerships of this city.
    pub city: Option<String>,
    /// Only activities that started in this year.
    pub year: Option<i32>,
}

/// Activities rolled up by mode, year, partnership and city, with the share of virtual and
/// hybrid engagement.
#[utoipa::path(
    tag = "activities",
    params(EngagementQuery),
    responses((status = 200, body = Engagement), (status = 400, body = Problem), (status = 422, body = Problem))
)]
#[get("/metrics/engagement")]
pub async fn engagement(
    state: web::Data<AppState>,
    query: web::Query<EngagementQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let city = q.city.as_deref().map(CityCode::parse).transpose()?;
    if q.year.is_some_and(|y| !(1000..=9999).contains(&y)) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`year` must have four digits",
        ));
    }
    let facts = state
        .read(move |c| db::activities::facts(c, city.as_ref().map(|c| c.as_str()), q.year))
        .await?;
    Ok(HttpResponse::Ok().json(Engagement::roll_up(&facts)))
}
