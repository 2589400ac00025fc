//! Issuing and revoking bearer tokens (admin).

use actix_web::{HttpResponse, delete, post, web};

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::openapi::Problem;
use super::views::{IssuedTokenView, NewTokenBody, RevokedTokenView};
use crate::db;
use crate::db::tokens::IssuedToken;
use crate::domain::TokenId;
use crate::domain::access::require_admin;
use crate::domain::dates::{format_micros, now_micros, parse_instant};
use crate::domain::tokens::TokenRequest;
use crate::error::ApiError;

impl From<IssuedToken> for IssuedTokenView {
    fn from(t: IssuedToken) -> Self {
        IssuedTokenView {
            id: t.id.into_string(),
            token: t.token,
            role: t.role,
            office: t.office_id,
            city: t.city,
            expires_at: t.expires_at.map(format_micros),
            log_index: t.log_index,
        }
    }
}

/// Issue a token (admin). The secret appears in this response only.
#[utoipa::path(
    tag = "tokens",
    security(("bearer" = [])),
    request_body = NewTokenBody,
    responses(
        (status = 201, body = IssuedTokenView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/admin/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewTokenBody>,
) -> Result<HttpResponse, ApiError> {
    require_admin(caller.principal()?)?;
    let b = json_body(body)?;
    let expires_at = b
        .expires_at
        .as_deref()
        .map(|t| parse_instant("expires_at", t))
        .transpose()?;
    let request = TokenRequest::validate(b.role, b.office, expires_at, now_micros())?;
    let issued = state
        .write(move |tx| db::tokens::issue(tx, request))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(IssuedTokenView::from(issued)))
}

/// Revoke a token (admin).
#[utoipa::path(
    tag = "tokens",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, body = RevokedTokenView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)
    )
)]
#[delete("/admin/tokens/{id}")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(caller.principal()?)?;
    let target = TokenId::from_path(&id)?;
    let id = id.into_inner();
    let log_index = state
        .write(move |tx| db::tokens::revoke(tx, &target))
        .await?;
    Ok(HttpResponse::Ok().json(RevokedTokenView {
        id,
        revoked: true,
        log_index,
    }))
}
