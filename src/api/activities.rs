//! Engagement activities and the metrics rolled up from them.

use crate::domain::schemas as S;
use crate::domain::{ErrorCode, PartnershipId};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::openapi::{FileBytes, FileForm, Problem};
use super::pagination::{Page, decode_cursor, limit};
use crate::app;
use crate::db;
use crate::db::activities::{ActivityRow, EvidenceRow};
use crate::domain::access::{require_document_reader, require_office, require_party_office};
use crate::domain::activities::{ActivityKind, Engagement, Mode, NewActivity};
use crate::domain::cities::CityCode;
use crate::domain::dates::format_micros;
use crate::domain::results::ResultsReport;
use crate::error::ApiError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivityBody {
    pub kind: ActivityKind,
    pub mode: Mode,
    /// YYYY-MM-DD, not in the future.
    #[schema(value_type = S::Date, example = "2024-05-01")]
    pub start_date: String,
    /// YYYY-MM-DD, not before `start_date`.
    #[schema(value_type = Option<S::DateOrEmpty>, example = "2024-05-03")]
    pub end_date: Option<String>,
    #[schema(value_type = Option<S::Participants>, example = 24)]
    #[serde(default, deserialize_with = "crate::api::json_numbers::opt_i64")]
    pub participants: Option<i64>,
    /// What came of it, e.g. an agreement signed or a programme launched.
    #[schema(value_type = Option<S::Paragraph>, example = "Trade delegation; two supply agreements signed")]
    pub outcome: Option<String>,
    /// Organisations that took part besides the city offices: at most 20, each name once.
    #[schema(max_items = 20)]
    #[serde(default)]
    pub organisations: Vec<OrganisationBody>,
    /// What it cost, in plain digits (at most the currency's decimals), with `cost_currency`.
    #[schema(value_type = Option<S::Amount>, example = "12500")]
    pub cost: Option<String>,
    /// ISO 4217, with `cost`.
    #[schema(value_type = Option<S::CurrencyCode>, example = "USD")]
    pub cost_currency: Option<String>,
}

/// An organisation that took part in an activity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationBody {
    /// One line, at most 200 characters; not named twice in one activity (ignoring case).
    #[schema(value_type = S::OrganisationName, example = "Rice University")]
    pub name: String,
    #[schema(value_type = S::SectorName, example = "university")]
    pub sector: String,
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
    /// Organisations that took part besides the city offices, in the order recorded.
    pub organisations: Vec<OrganisationBody>,
    /// The declared cost, with its ISO 4217 currency.
    pub cost: Option<String>,
    pub cost_currency: Option<String>,
    pub recorded_at: String,
    pub log_index: i64,
}

impl ActivityView {
    /// The view of an activity with the organisations recorded for it.
    fn with_organisations(r: ActivityRow, organisations: Vec<(String, String)>) -> Self {
        let mut view = ActivityView::from(r);
        view.organisations = organisations
            .into_iter()
            .map(|(name, sector)| OrganisationBody { name, sector })
            .collect();
        view
    }
}

impl From<ActivityRow> for ActivityView {
    fn from(r: ActivityRow) -> Self {
        ActivityView {
            organisations: Vec::new(),
            cost: r.cost,
            cost_currency: r.cost_currency,
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
    let organisations: Vec<(&str, &str)> = b
        .organisations
        .iter()
        .map(|o| (o.name.as_str(), o.sector.as_str()))
        .collect();
    let activity = activity
        .with_organisations(&organisations)?
        .with_cost(b.cost.as_deref(), b.cost_currency.as_deref())?;
    let named: Vec<(String, String)> = activity
        .organisations
        .iter()
        .map(|(n, s)| (n.clone(), s.as_str().to_string()))
        .collect();
    let id = PartnershipId::from_path(&id)?;
    let row = state
        .write(move |tx| app::activities::record(tx, principal.as_ref(), &id, activity))
        .await?;
    let view = ActivityView::with_organisations(row, named);
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/partnerships/{}/activities", view.partnership),
        ))
        .json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// Page size, 1-500 (default 50).
    #[param(value_type = Option<S::PageLimit>, inline)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(value_type = Option<S::Cursor>, inline)]
    pub cursor: Option<String>,
}

/// A partnership's activities, newest first.
#[utoipa::path(
    operation_id = "list_activities",
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
    let id = PartnershipId::from_path(&id)?;
    let rows = state
        .read(move |c| {
            if db::partnerships::get(c, &id)?.is_none() {
                return Err(PartnershipId::not_found(id.as_str()).into());
            }
            let rows = db::activities::list(c, &id, after.as_deref(), limit)?;
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            Ok((rows, db::activities::organisations_of(c, &ids)?))
        })
        .await?;
    let (rows, organisations) = rows;
    let page = Page::from_rows(
        rows,
        limit,
        |r| r.id.clone(),
        |r| {
            let named = organisations.get(&r.id).cloned().unwrap_or_default();
            ActivityView::with_organisations(r, named)
        },
    );
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EngagementQuery {
    /// Only partnerships of this city.
    #[param(value_type = Option<S::CityCodeText>, inline)]
    pub city: Option<String>,
    /// Only activities that started in this year.
    #[param(value_type = Option<S::Year>, inline)]
    pub year: Option<i32>,
}

impl EngagementQuery {
    /// The city and year asked for, checked.
    fn filter(self) -> Result<(Option<CityCode>, Option<i32>), ApiError> {
        let city = self.city.as_deref().map(CityCode::parse).transpose()?;
        if self.year.is_some_and(|y| !(1000..=9999).contains(&y)) {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                "`year` must have four digits",
            ));
        }
        Ok((city, self.year))
    }
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
    let (city, year) = query.into_inner().filter()?;
    let facts = state
        .read(move |c| db::activities::facts(c, city.as_ref().map(|c| c.as_str()), year))
        .await?;
    Ok(HttpResponse::Ok().json(Engagement::roll_up(&facts)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// Only partnerships of this city.
    #[param(value_type = Option<S::CityCodeText>, inline)]
    pub city: Option<String>,
    /// Only partnerships of the cities of this named group (`/api/v1/city-groups`); not with
    /// `city`.
    #[param(value_type = Option<String>, max_length = 64)]
    pub group: Option<String>,
    /// Only activities that started in this year.
    #[param(value_type = Option<S::Year>, inline)]
    pub year: Option<i32>,
}

/// Engagement evaluated by its results, by mode, kind, year, partnership and city: outcomes
/// per activity, commitments kept on time, days to the first outcome, declared deal values per
/// currency and countries reached. Every rate has its numerator and denominator; rates over
/// fewer than `min_sample` cases are withheld (`small_sample`). docs/engagement.md#metrics
/// explains each figure.
#[utoipa::path(
    tag = "activities",
    params(ResultsQuery),
    responses((status = 200, body = ResultsReport), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem))
)]
#[get("/metrics/results")]
pub async fn results(
    state: web::Data<AppState>,
    query: web::Query<ResultsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let group = q.group;
    let (city, year) = EngagementQuery {
        city: q.city,
        year: q.year,
    }
    .filter()?;
    if group.is_some() && city.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "give `city` or `group`, not both",
        ));
    }
    let facts = state
        .read(move |c| {
            let cities = match (&group, &city) {
                (Some(id), _) => Some(db::groups::require(c, id)?.city_codes()),
                (None, Some(city)) => Some(vec![city.to_string()]),
                (None, None) => None,
            };
            db::outcomes::results(c, cities.as_deref(), year)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ResultsReport::roll_up(&facts, state.today())))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvidenceView {
    pub activity: String,
    /// 1, 2, ... per activity.
    pub seq: i32,
    /// Lower-case hex SHA-256 of the exact bytes.
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub filename: Option<String>,
    pub added_at: String,
    pub log_index: i64,
    /// Where the bytes are (offices of the party cities, auditors, admins).
    pub document: String,
}

impl From<EvidenceRow> for EvidenceView {
    fn from(r: EvidenceRow) -> Self {
        EvidenceView {
            document: format!("/api/v1/activities/{}/evidence/{}", r.activity_id, r.seq),
            activity: r.activity_id,
            seq: r.seq,
            sha256: hex::encode(&r.sha256),
            size: r.size,
            media_type: r.media_type,
            filename: r.filename,
            added_at: format_micros(r.added_at),
            log_index: r.log_index,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EvidenceQuery {
    /// File name shown in downloads (raw uploads; a multipart part carries its own).
    #[param(value_type = Option<S::Filename>, inline)]
    pub filename: Option<String>,
}

/// The activity and the partnership it belongs to, or 404.
async fn activity_with_parties(
    state: &AppState,
    id: String,
) -> Result<(ActivityRow, crate::domain::partnerships::Partnership), ApiError> {
    state
        .read(move |c| {
            let a = db::activities::get(c, &id)?.ok_or_else(|| {
                crate::domain::DomainError::new(
                    ErrorCode::ActivityNotFound,
                    format!("no activity `{id}`"),
                )
            })?;
            let partnership = PartnershipId::from_db(a.partnership_id.clone());
            let p = db::partnerships::get(c, &partnership)?.ok_or_else(|| {
                crate::db::DbError::corrupt("an activity's partnership is missing")
            })?;
            Ok((a, p))
        })
        .await
}

/// Attach an evidence document to an activity (office of either city of the partnership): the
/// raw body with its `Content-Type` (`?filename=` names it) or `multipart/form-data` with one
/// file part. Stored with its SHA-256 and logged.
#[utoipa::path(
    tag = "activities",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Activity id"), EvidenceQuery),
    request_body(
        description = "The document's exact bytes with their own media type (any media type; \
                       `application/octet-stream` when none is sent), or a `multipart/form-data` \
                       body with one file part. At most AMITY_MAX_DOCUMENT_BYTES bytes \
                       (26214400 by default); 413 `document_too_large` beyond.",
        content(
            (FileBytes = "application/pdf"),
            (FileBytes = "text/plain"),
            (FileBytes = "application/octet-stream"),
            (FileForm = "multipart/form-data"),
        )
    ),
    responses(
        (status = 201, body = EvidenceView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the same bytes are already evidence of this activity, or it has the most it may keep"),
        (status = 413, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/activities/{id}/evidence")]
pub async fn add_evidence(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let id = id.into_inner();
    // Who may attach is settled before a byte of the body is read.
    let (_, partnership) = activity_with_parties(&state, id.clone()).await?;
    require_party_office(principal.as_ref(), &partnership.parties())?;
    let query = web::Query::<EvidenceQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
        .into_inner();
    let received = super::documents::receive_document(
        &state.db,
        &req,
        payload,
        state.settings.max_document_bytes,
    )
    .await?;
    let staged = vec![received.blob];
    let store = async {
        let document = received.into_upload(query.filename.as_deref())?;
        state
            .write(move |tx| {
                app::activities::add_evidence(tx, principal.as_ref(), &id, document, None)
            })
            .await
    };
    let row = super::documents::or_discard(&state.db, staged, store).await?;
    let view = EvidenceView::from(row);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, view.document.clone()))
        .json(view))
}

/// An activity's evidence documents: hashes, sizes and names (public, like the activity).
#[utoipa::path(
    tag = "activities",
    params(("id" = String, Path, description = "Activity id")),
    responses((status = 200, body = Vec<EvidenceView>), (status = 404, body = Problem))
)]
#[get("/activities/{id}/evidence")]
pub async fn list_evidence(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    activity_with_parties(&state, id.clone()).await?;
    let rows = state
        .read(move |c| db::activities::evidence(c, &id))
        .await?;
    let views: Vec<EvidenceView> = rows.into_iter().map(EvidenceView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Download an evidence document's exact bytes (offices of the party cities, auditors,
/// admins). `ETag` is `"sha256:<hex>"`; `Content-Digest` carries the SHA-256.
#[utoipa::path(
    tag = "activities",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Activity id"), ("n" = i32, Path, description = "Evidence number")),
    responses(
        (status = 200, description = "The document bytes with their stored Content-Type", body = super::openapi::FileBytes, content_type = "*/*"),
        (status = 304, description = "If-None-Match matched"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/activities/{id}/evidence/{n}")]
pub async fn evidence_document(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let (id, n) = path.into_inner();
    let (_, partnership) = activity_with_parties(&state, id.clone()).await?;
    require_document_reader(principal.as_ref(), &partnership.parties())?;
    let found = state
        .read(move |c| db::activities::evidence_document(c, &id, n))
        .await?;
    let (meta, blob, first_chunk) = found.ok_or_else(|| {
        ApiError::new(
            ErrorCode::EvidenceNotFound,
            format!("this activity has no evidence {n}"),
        )
    })?;
    let sha256: [u8; 32] = meta
        .sha256
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::internal())?;
    let stored = super::documents::StoredBytes {
        blob,
        size: meta.size,
        first_chunk,
    };
    Ok(super::documents::document_response(
        &state.db,
        &req,
        &sha256,
        meta.media_type,
        meta.filename,
        stored,
    ))
}
