//! Cities and offices.

use crate::domain::ErrorCode;
use crate::domain::schemas as S;
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::openapi::Problem;
use super::pagination::{Page, decode_cursor, limit};
use super::views::{
    CityDetail, CityView, CreatedCityView, NewCityBody, NewOfficeBody, OfficeSummary, OfficeView,
};
use crate::db;
use crate::domain::access::require_admin;
use crate::domain::cities::{City, CityInput, parse_country};
use crate::domain::names;
use crate::domain::offices::NewOffice;
use crate::error::ApiError;

/// Register a city (admin).
#[utoipa::path(
    tag = "cities",
    security(("bearer" = [])),
    request_body = NewCityBody,
    responses(
        (status = 201, body = CreatedCityView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/admin/cities")]
pub async fn create_city(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewCityBody>,
) -> Result<HttpResponse, ApiError> {
    require_admin(caller.principal()?)?;
    let b = json_body(body)?;
    let city = City::validate(CityInput {
        code: b.code,
        name: b.name,
        country: b.country,
        region: b.region,
        wikidata: b.wikidata,
        geonames_id: b.geonames_id,
        unlocode: b.unlocode,
        lat: b.lat,
        lon: b.lon,
    })?;
    let country = city.country.clone();
    let others = state
        .read(move |c| db::cities::names_in_country(c, &country))
        .await?;
    let warnings = names::warnings(
        &city.name,
        others
            .iter()
            .filter(|(code, _)| code.as_str() != city.code.as_str())
            .map(|(code, name)| (code.as_str(), name.as_str())),
    );
    let record = state.write(move |tx| db::cities::create(tx, city)).await?;
    let view = CityView::from(record);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/cities/{}", view.code)))
        .json(CreatedCityView {
            city: view,
            warnings,
        }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CityQuery {
    /// ISO 3166-1 alpha-2 country.
    #[param(value_type = Option<S::CountryCode>, inline)]
    pub country: Option<String>,
    /// Name prefix, any case.
    pub q: Option<String>,
    /// Page size, 1-500 (default 50).
    #[param(value_type = Option<S::PageLimit>, inline)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(value_type = Option<S::Cursor>, inline)]
    pub cursor: Option<String>,
}

/// List and search cities.
#[utoipa::path(
    tag = "cities",
    params(CityQuery),
    responses((status = 200, body = Page<CityView>), (status = 400, body = Problem), (status = 422, body = Problem))
)]
#[get("/cities")]
pub async fn list_cities(
    state: web::Data<AppState>,
    query: web::Query<CityQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = limit(q.limit)?;
    let country = q.country.as_deref().map(parse_country).transpose()?;
    if q.q.as_ref().is_some_and(|s| s.chars().count() > 200) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "`q` is longer than 200 characters",
        ));
    }
    let filter = db::cities::CityFilter {
        country,
        q: q.q
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().to_string()),
        after: decode_cursor(q.cursor.as_deref())?,
        limit,
    };
    let rows = state.read(move |c| db::cities::list(c, &filter)).await?;
    let page = Page::from_rows(rows, limit, |r| r.city.code.to_string(), CityView::from);
    Ok(HttpResponse::Ok().json(page))
}

/// A city with its offices.
#[utoipa::path(
    tag = "cities",
    params(("code" = String, Path, description = "City code, e.g. `us-hou`")),
    responses((status = 200, body = CityDetail), (status = 404, body = Problem))
)]
#[get("/cities/{code}")]
pub async fn get_city(
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let lookup = code.clone();
    let found = state
        .read(move |c| {
            let city = db::cities::get(c, &lookup)?;
            let offices = match &city {
                Some(_) => db::cities::offices_of(c, &lookup)?,
                None => Vec::new(),
            };
            Ok(city.map(|city| (city, offices)))
        })
        .await?;
    let (city, offices) =
        found.ok_or_else(|| ApiError::new(ErrorCode::CityNotFound, format!("no city `{code}`")))?;
    Ok(HttpResponse::Ok().json(CityDetail {
        city: CityView::from(city),
        offices: offices
            .into_iter()
            .map(|(id, name)| OfficeSummary { id, name })
            .collect(),
    }))
}

/// Create a city's office (admin).
#[utoipa::path(
    tag = "cities",
    security(("bearer" = [])),
    request_body = NewOfficeBody,
    responses(
        (status = 201, body = OfficeView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/admin/offices")]
pub async fn create_office(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewOfficeBody>,
) -> Result<HttpResponse, ApiError> {
    require_admin(caller.principal()?)?;
    let b = json_body(body)?;
    let office = NewOffice::validate(&b.city, &b.name)?;
    let row = state
        .write(move |tx| db::offices::create(tx, office))
        .await?;
    Ok(HttpResponse::Created().json(OfficeView::from(row)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DormantQuery {
    /// Years without a recorded activity that make an active partnership dormant; default
    /// the registry's `AMITY_DORMANT_YEARS` (3).
    #[param(minimum = 1, maximum = 100)]
    pub years: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DormantTieView {
    pub partnership: String,
    pub partner: String,
    pub partner_name: String,
    /// As recorded: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub established: Option<String>,
    /// Start date of the latest recorded activity; null when none is recorded.
    pub last_activity: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DormantView {
    pub city: String,
    pub years: u32,
    /// Ties whose latest sign of life (activity, else establishment) is before this day are
    /// dormant.
    pub cutoff: String,
    pub count: usize,
    /// Ties never active first, then the longest silent.
    pub items: Vec<DormantTieView>,
}

/// A city's dormant partnerships: active on paper, no activity recorded for `years` years
/// (counted from the latest activity, or from the establishment when none is recorded). Public.
#[utoipa::path(
    tag = "cities",
    operation_id = "dormant_partnerships",
    params(("code" = String, Path, description = "City code"), DormantQuery),
    responses((status = 200, body = DormantView), (status = 400, body = Problem), (status = 404, body = Problem))
)]
#[get("/cities/{code}/dormant-partnerships")]
pub async fn dormant_partnerships(
    state: web::Data<AppState>,
    code: web::Path<String>,
    query: Result<web::Query<DormantQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let city = super::keys::city_code(&code)?;
    let q = query
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
        .into_inner();
    let years = q.years.unwrap_or(state.settings.dormant_years);
    if !(1..=100).contains(&years) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "`years` is a whole number from 1 to 100",
        ));
    }
    let cutoff = crate::domain::activities::dormant_cutoff(state.today(), years);
    let c2 = cutoff.clone();
    let ties = state
        .read(move |c| {
            db::cities::require_in_path(c, &city)?;
            db::pages::dormant_ties(c, city.as_str(), &c2)
        })
        .await?;
    Ok(HttpResponse::Ok().json(DormantView {
        city: code.into_inner(),
        years,
        cutoff,
        count: ties.len(),
        items: ties
            .into_iter()
            .map(|t| DormantTieView {
                partnership: t.partnership,
                partner: t.partner,
                partner_name: t.partner_name,
                established: t.established,
                last_activity: t.last_activity,
            })
            .collect(),
    }))
}
