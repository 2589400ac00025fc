//! Named groups of cities for briefings (docs/engagement.md#city-groups).

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::openapi::Problem;
use super::pagination::{Page, decode_cursor, limit};
use crate::app;
use crate::db;
use crate::db::groups::GroupRow;
use crate::domain::ErrorCode;
use crate::domain::access::require_group_keeper;
use crate::domain::dates::format_micros;
use crate::domain::schemas as S;
use crate::error::ApiError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    /// One line, at most 200 characters; no two groups named alike (ignoring case).
    #[schema(value_type = S::OrganisationName, example = "Gulf of Mexico ports")]
    pub name: String,
    /// 2 to 50 city codes, each once.
    #[schema(value_type = S::GroupCities, example = json!(["mx-veracruz", "us-hou"]))]
    pub cities: Vec<String>,
    /// The association token (its id) that is to keep the group. An admin may name any live
    /// association token, handing the group to it; an association may name only itself (it
    /// keeps the groups it saves in any case). Omitted: the group keeps its keeper.
    #[serde(default)]
    #[schema(nullable = false, max_length = 64)]
    pub keeper: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    /// City codes, ascending.
    pub cities: Vec<String>,
    /// How many times the group was saved: 1 when created, one more each redefinition.
    pub seq: i32,
    pub updated_at: String,
    /// The log entry of its latest save.
    pub log_index: i64,
    /// The association token that keeps it; `null` when the administrators keep it.
    pub keeper: Option<String>,
    /// Its briefing (`&format=html|csv|pdf`, `&from=`, `&to=` as for any group).
    pub briefing: String,
}

impl From<GroupRow> for GroupView {
    fn from(r: GroupRow) -> Self {
        GroupView {
            briefing: format!("/api/v1/briefings?group={}", r.id),
            cities: r.city_codes(),
            id: r.id,
            name: r.name,
            seq: r.seq,
            updated_at: format_micros(r.updated_at),
            log_index: r.log_index,
            keeper: r.keeper,
        }
    }
}

/// Create a named group of cities (an admin, or an association, which then keeps it). Logged
/// as `city_group.saved`.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    request_body = GroupBody,
    responses(
        (status = 201, body = GroupView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "another group has this name"),
        (status = 422, body = Problem, description = "a bad name or city list, an unknown city, or a `keeper` that is no live association token")
    )
)]
#[post("/city-groups")]
pub async fn create_group(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_group_keeper(principal.as_ref(), None)?;
    let b = json_body(body)?;
    let (name, cities) = app::groups::validate(&b.name, &b.cities)?;
    let keeper = b.keeper;
    let row = state
        .write(move |tx| {
            app::groups::save(
                tx,
                principal.as_ref(),
                None,
                &name,
                &cities,
                keeper.as_deref(),
            )
        })
        .await?;
    let view = GroupView::from(row);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/city-groups/{}", view.id)))
        .json(view))
}

/// Redefine a group: its name and cities, saved whole (an admin, or the association that keeps
/// it). Logged as `city_group.saved` with the next `seq`; the log keeps every earlier
/// definition.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Group id")),
    request_body = GroupBody,
    responses(
        (status = 200, body = GroupView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "another group has this name"),
        (status = 422, body = Problem, description = "a bad name or city list, an unknown city, or a `keeper` that is no live association token")
    )
)]
#[put("/city-groups/{id}")]
pub async fn save_group(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    // Admins and associations go on; whether this association keeps the group is known once
    // the group is read.
    require_group_keeper(principal.as_ref(), None)?;
    let b = json_body(body)?;
    let (name, cities) = app::groups::validate(&b.name, &b.cities)?;
    let id = id.into_inner();
    let keeper = b.keeper;
    let row = state
        .write(move |tx| {
            app::groups::save(
                tx,
                principal.as_ref(),
                Some(&id),
                &name,
                &cities,
                keeper.as_deref(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(GroupView::from(row)))
}

/// One group (public).
#[utoipa::path(
    tag = "reports",
    params(("id" = String, Path, description = "Group id")),
    responses((status = 200, body = GroupView), (status = 404, body = Problem))
)]
#[get("/city-groups/{id}")]
pub async fn get_group(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = state.read(move |c| db::groups::require(c, &id)).await?;
    Ok(HttpResponse::Ok().json(GroupView::from(row)))
}

/// The named groups, by name (public).
#[utoipa::path(
    tag = "reports",
    operation_id = "list_groups",
    params(super::pagination::PageQuery),
    responses((status = 200, body = Page<GroupView>), (status = 400, body = Problem))
)]
#[get("/city-groups")]
pub async fn list_groups(
    state: web::Data<AppState>,
    query: Result<web::Query<super::pagination::PageQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let q = query
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
        .into_inner();
    let limit = limit(q.limit)?;
    let after = decode_cursor(q.cursor.as_deref())?;
    let rows = state
        .read(move |c| db::groups::list(c, after.as_deref(), limit))
        .await?;
    let page = Page::from_rows(rows, limit, |r| r.name_key.clone(), GroupView::from);
    Ok(HttpResponse::Ok().json(page))
}
