//! Outcomes of activities and commitments with their follow-through (docs/engagement.md).

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::openapi::Problem;
use super::pagination::{Page, decode_cursor, limit};
use crate::app;
use crate::db;
use crate::db::outcomes::{CommitmentFilter, CommitmentState, OutcomeRow};
use crate::domain::access::require_office;
use crate::domain::dates::format_micros;
use crate::domain::outcomes::{NewCommitment, NewOutcome, OutcomeInput, Resolution};
use crate::domain::schemas as S;
use crate::domain::{ErrorCode, PartnershipId};
use crate::error::ApiError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOutcomeBody {
    #[schema(value_type = S::OutcomeIndicator, example = "exchange_participants")]
    pub indicator: String,
    /// YYYY-MM-DD: not before the activity began, not in the future.
    #[schema(value_type = S::Date, example = "2021-06-15")]
    pub achieved_on: String,
    /// How many: people reached, participants, deals, projects, audience. Bounds per
    /// indicator are in docs/engagement.md.
    #[schema(value_type = Option<S::OutcomeCount>, example = 20)]
    #[serde(default, deserialize_with = "crate::api::json_numbers::opt_i64")]
    pub count: Option<i64>,
    /// `exchange_participants` only: who took part.
    #[schema(value_type = Option<S::ExchangeGroupName>, example = "students")]
    pub exchange_group: Option<String>,
    /// `business_deals` only: the declared value, with `currency`.
    #[schema(value_type = Option<S::Amount>)]
    pub value: Option<String>,
    #[schema(value_type = Option<S::CurrencyCode>)]
    pub currency: Option<String>,
    /// `agreement_signed` only: the MOU of the same partnership.
    #[schema(value_type = Option<S::IdOrEmpty>)]
    pub mou: Option<String>,
    /// `follow_up_activity` only: the later activity of the same partnership.
    #[schema(value_type = Option<S::IdOrEmpty>)]
    pub follow_up: Option<String>,
    /// Required for `other`.
    #[schema(value_type = Option<S::ResultText>, example = "20 students spent a term in Shanghai")]
    pub description: Option<String>,
    /// Numbers of the activity's evidence documents that show the result.
    #[schema(value_type = Option<S::EvidenceNumbers>)]
    #[serde(default, deserialize_with = "crate::api::json_numbers::opt_i64_list")]
    pub evidence: Option<Vec<i64>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutcomeView {
    pub id: String,
    pub activity: String,
    pub partnership: String,
    pub indicator: String,
    pub achieved_on: String,
    pub count: Option<i64>,
    pub exchange_group: Option<String>,
    pub value: Option<String>,
    pub currency: Option<String>,
    pub mou: Option<String>,
    pub follow_up: Option<String>,
    pub description: Option<String>,
    pub evidence: Vec<i64>,
    /// The city whose office recorded it.
    pub city: String,
    pub recorded_at: String,
    pub log_index: i64,
}

impl From<OutcomeRow> for OutcomeView {
    fn from(r: OutcomeRow) -> Self {
        OutcomeView {
            evidence: r.evidence_numbers(),
            id: r.id,
            activity: r.activity_id,
            partnership: r.partnership_id,
            indicator: r.indicator,
            achieved_on: r.achieved_on,
            count: r.count,
            exchange_group: r.exchange_group,
            value: r.value,
            currency: r.currency,
            mou: r.mou_id,
            follow_up: r.follow_up_id,
            description: r.description,
            city: r.city,
            recorded_at: format_micros(r.created_at),
            log_index: r.log_index,
        }
    }
}

fn paths(
    path: web::Path<(String, String)>,
) -> Result<(PartnershipId, String), crate::domain::DomainError> {
    let (id, other) = path.into_inner();
    Ok((PartnershipId::from_path(&id)?, other))
}

/// Record an outcome of an activity (office of either city of the partnership). Logged as
/// `activity.outcome_recorded`.
#[utoipa::path(
    tag = "activities",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Partnership id"),
        ("activity" = String, Path, description = "Activity id"),
    ),
    request_body = NewOutcomeBody,
    responses(
        (status = 201, body = OutcomeView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/partnerships/{id}/activities/{activity}/outcomes")]
pub async fn record_outcome(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody<NewOutcomeBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let b = json_body(body)?;
    let outcome = NewOutcome::validate(&OutcomeInput {
        indicator: &b.indicator,
        achieved_on: &b.achieved_on,
        count: b.count,
        exchange_group: b.exchange_group.as_deref(),
        value: b.value.as_deref(),
        currency: b.currency.as_deref(),
        mou: b.mou.as_deref(),
        follow_up: b.follow_up.as_deref(),
        description: b.description.as_deref(),
        evidence: b.evidence.as_deref().unwrap_or_default(),
    })?;
    let (partnership, activity) = paths(path)?;
    let row = state
        .write(move |tx| {
            app::activities::record_outcome(
                tx,
                principal.as_ref(),
                &partnership,
                &activity,
                outcome,
            )
        })
        .await?;
    let view = OutcomeView::from(row);
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!(
                "/api/v1/partnerships/{}/outcomes?activity={}",
                view.partnership, view.activity
            ),
        ))
        .json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutcomeQuery {
    /// Only the outcomes of this activity.
    #[param(value_type = Option<S::Id>, inline)]
    pub activity: Option<String>,
    /// Page size, 1-500 (default 50).
    #[param(value_type = Option<S::PageLimit>, inline)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(value_type = Option<S::Cursor>, inline)]
    pub cursor: Option<String>,
}

/// A partnership's outcomes, newest first (public, like its activities).
#[utoipa::path(
    tag = "activities",
    params(("id" = String, Path, description = "Partnership id"), OutcomeQuery),
    responses((status = 200, body = Page<OutcomeView>), (status = 400, body = Problem), (status = 404, body = Problem))
)]
#[get("/partnerships/{id}/outcomes")]
pub async fn list_outcomes(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Result<web::Query<OutcomeQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let q = query
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
        .into_inner();
    let limit = limit(q.limit)?;
    let after = decode_cursor(q.cursor.as_deref())?;
    let id = PartnershipId::from_path(&id)?;
    let rows = state
        .read(move |c| {
            if db::partnerships::get(c, &id)?.is_none() {
                return Err(PartnershipId::not_found(id.as_str()).into());
            }
            db::outcomes::list_outcomes(
                c,
                id.as_str(),
                q.activity.as_deref(),
                after.as_deref(),
                limit,
            )
        })
        .await?;
    let page = Page::from_rows(rows, limit, |r| r.id.clone(), OutcomeView::from);
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommitmentBody {
    /// What was promised, in one line.
    #[schema(value_type = S::CommitmentText)]
    pub text: String,
    /// YYYY-MM-DD, not before the activity began.
    #[schema(value_type = S::Date, example = "2021-06-30")]
    pub due_date: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResolutionView {
    /// `kept`, `partly_kept` or `not_kept`.
    pub result: String,
    pub resolved_on: String,
    pub kept_by_activity: Option<String>,
    pub kept_by_outcome: Option<String>,
    pub note: Option<String>,
    /// The city whose office resolved it.
    pub city: String,
    pub resolved_at: String,
    pub log_index: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CommitmentView {
    pub id: String,
    pub activity: String,
    pub partnership: String,
    pub text: String,
    pub due_date: String,
    /// The city whose office recorded it.
    pub city: String,
    pub recorded_at: String,
    pub log_index: i64,
    /// `open`, `overdue` (open past its due date), `kept`, `partly_kept` or `not_kept`.
    pub state: String,
    /// Kept by its due date; null while open, false when kept late or not (fully) kept.
    pub kept_on_time: Option<bool>,
    pub resolution: Option<ResolutionView>,
}

impl CommitmentView {
    pub fn new(s: CommitmentState, today: chrono::NaiveDate) -> CommitmentView {
        let state = s.state(today);
        let kept_on_time = s.kept_on_time();
        let c = s.commitment;
        CommitmentView {
            id: c.id,
            activity: c.activity_id,
            partnership: c.partnership_id,
            text: c.text,
            due_date: c.due_date,
            city: c.city,
            recorded_at: format_micros(c.created_at),
            log_index: c.log_index,
            state,
            kept_on_time,
            resolution: s.resolution.map(|r| ResolutionView {
                result: r.result,
                resolved_on: r.resolved_on,
                kept_by_activity: r.kept_by_activity,
                kept_by_outcome: r.kept_by_outcome,
                note: r.note,
                city: r.city,
                resolved_at: format_micros(r.created_at),
                log_index: r.log_index,
            }),
        }
    }
}

/// Record a commitment an activity made, with its due date (office of either city of the
/// partnership). Logged as `activity.commitment_made`.
#[utoipa::path(
    tag = "activities",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Partnership id"),
        ("activity" = String, Path, description = "Activity id"),
    ),
    request_body = NewCommitmentBody,
    responses(
        (status = 201, body = CommitmentView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/partnerships/{id}/activities/{activity}/commitments")]
pub async fn make_commitment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody<NewCommitmentBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let b = json_body(body)?;
    let commitment = NewCommitment::validate(&b.text, &b.due_date)?;
    let (partnership, activity) = paths(path)?;
    let row = state
        .write(move |tx| {
            app::activities::make_commitment(
                tx,
                principal.as_ref(),
                &partnership,
                &activity,
                commitment,
            )
        })
        .await?;
    let view = CommitmentView::new(
        CommitmentState {
            commitment: row,
            resolution: None,
        },
        state.today(),
    );
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/partnerships/{}/commitments", view.partnership),
        ))
        .json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionBody {
    #[schema(value_type = S::CommitmentResultName, example = "kept")]
    pub result: String,
    /// YYYY-MM-DD: when it was kept (or found not kept); not before the activity began, not
    /// in the future.
    #[schema(value_type = S::Date, example = "2021-06-20")]
    pub resolved_on: String,
    /// The activity of the same partnership that kept it (`kept` or `partly_kept` only).
    #[schema(value_type = Option<S::IdOrEmpty>)]
    pub kept_by_activity: Option<String>,
    /// The outcome of the same partnership that kept it (`kept` or `partly_kept` only).
    #[schema(value_type = Option<S::IdOrEmpty>)]
    pub kept_by_outcome: Option<String>,
    #[schema(value_type = Option<S::ResultText>)]
    pub note: Option<String>,
}

/// Mark a commitment kept, partly kept or not kept, once (office of either city of the
/// partnership). Logged as `activity.commitment_resolved`.
#[utoipa::path(
    tag = "activities",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Partnership id"),
        ("commitment" = String, Path, description = "Commitment id"),
    ),
    request_body = ResolutionBody,
    responses(
        (status = 201, body = CommitmentView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the commitment is already resolved"),
        (status = 422, body = Problem)
    )
)]
#[post("/partnerships/{id}/commitments/{commitment}/resolution")]
pub async fn resolve_commitment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody<ResolutionBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let b = json_body(body)?;
    let resolution = Resolution::validate(
        &b.result,
        &b.resolved_on,
        b.kept_by_activity.as_deref(),
        b.kept_by_outcome.as_deref(),
        b.note.as_deref(),
    )?;
    let (partnership, commitment) = paths(path)?;
    let resolved = state
        .write(move |tx| {
            app::activities::resolve_commitment(
                tx,
                principal.as_ref(),
                &partnership,
                &commitment,
                resolution,
            )
        })
        .await?;
    let view = CommitmentView::new(resolved, state.today());
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/partnerships/{}/commitments", view.partnership),
        ))
        .json(view))
}

/// Which commitments a list shows.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommitmentStateFilter {
    All,
    Open,
    Overdue,
    Resolved,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommitmentQuery {
    /// `all` (default), `open`, `overdue` or `resolved`.
    #[param(inline)]
    pub state: Option<CommitmentStateFilter>,
    /// Page size, 1-500 (default 50).
    #[param(value_type = Option<S::PageLimit>, inline)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(value_type = Option<S::Cursor>, inline)]
    pub cursor: Option<String>,
}

/// A page of commitments by due date; the cursor is `due_date|id` of the last one.
fn commitment_page(
    rows: Vec<CommitmentState>,
    limit: i64,
    today: chrono::NaiveDate,
) -> Page<CommitmentView> {
    Page::from_rows(
        rows,
        limit,
        |s| format!("{}|{}", s.commitment.due_date, s.commitment.id),
        |s| CommitmentView::new(s, today),
    )
}

fn commitment_cursor(cursor: Option<&str>) -> Result<Option<(String, String)>, ApiError> {
    match decode_cursor(cursor)? {
        None => Ok(None),
        Some(key) => key
            .split_once('|')
            .map(|(due, id)| Some((due.to_string(), id.to_string())))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidCursor,
                    "`cursor` is not one this server issued",
                )
            }),
    }
}

/// A partnership's commitments with their follow-through, by due date (public).
#[utoipa::path(
    tag = "activities",
    operation_id = "list_commitments",
    params(("id" = String, Path, description = "Partnership id"), CommitmentQuery),
    responses((status = 200, body = Page<CommitmentView>), (status = 400, body = Problem), (status = 404, body = Problem))
)]
#[get("/partnerships/{id}/commitments")]
pub async fn list_commitments(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Result<web::Query<CommitmentQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let q = query
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
        .into_inner();
    let limit = limit(q.limit)?;
    let after = commitment_cursor(q.cursor.as_deref())?;
    let today = state.today();
    let filter = match q.state.unwrap_or(CommitmentStateFilter::All) {
        CommitmentStateFilter::All => CommitmentFilter::All,
        CommitmentStateFilter::Open => CommitmentFilter::Open,
        CommitmentStateFilter::Overdue => CommitmentFilter::Overdue(today),
        CommitmentStateFilter::Resolved => CommitmentFilter::Resolved,
    };
    let id = PartnershipId::from_path(&id)?;
    let rows = state
        .read(move |c| {
            if db::partnerships::get(c, &id)?.is_none() {
                return Err(PartnershipId::not_found(id.as_str()).into());
            }
            let after = after.as_ref().map(|(d, i)| (d.as_str(), i.as_str()));
            db::outcomes::list_commitments(c, &[id.to_string()], filter, after, limit)
        })
        .await?;
    Ok(HttpResponse::Ok().json(commitment_page(rows, limit, today)))
}

/// A city's overdue commitments: open past their due date, on any of its partnerships,
/// oldest due first (public).
#[utoipa::path(
    tag = "cities",
    operation_id = "overdue_commitments",
    params(("code" = String, Path, description = "City code"), super::pagination::PageQuery),
    responses((status = 200, body = Page<CommitmentView>), (status = 400, body = Problem), (status = 404, body = Problem))
)]
#[get("/cities/{code}/overdue-commitments")]
pub async fn overdue_commitments(
    state: web::Data<AppState>,
    code: web::Path<String>,
    query: Result<web::Query<super::pagination::PageQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let city = super::keys::city_code(&code)?;
    let q = query
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
        .into_inner();
    let limit = limit(q.limit)?;
    let after = commitment_cursor(q.cursor.as_deref())?;
    let today = state.today();
    let rows = state
        .read(move |c| {
            db::cities::require_in_path(c, &city)?;
            let ids = db::outcomes::partnerships_of_city(c, city.as_str())?;
            let after = after.as_ref().map(|(d, i)| (d.as_str(), i.as_str()));
            db::outcomes::list_commitments(c, &ids, CommitmentFilter::Overdue(today), after, limit)
        })
        .await?;
    Ok(HttpResponse::Ok().json(commitment_page(rows, limit, today)))
}
