//! Webhook endpoints over HTTP (docs/notifications.md): an office of the city (or an admin)
//! registers its endpoints, reads them with every message and attempt, rotates secrets,
//! disables, re-enables and sends a message again.

use crate::domain::ids::WebhookId;
use crate::domain::schemas as S;
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::keys::city_code;
use super::openapi::Problem;
use super::pagination::{Page, decode_cursor, limit};
use crate::app::webhooks as use_case;
use crate::db;
use crate::domain::dates::format_micros;
use crate::domain::webhooks::{
    Attempt, Endpoint, EventType, Message, MessageState, parse_endpoint_url, parse_event_types,
};
use crate::error::ApiError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    /// Where to POST: an absolute `https://` (or `http://`) URL. Loopback, private and
    /// link-local hosts are refused unless the operator allows them.
    #[schema(value_type = S::WebhookUrl)]
    pub url: String,
    /// The events to receive, at least one.
    #[schema(min_items = 1)]
    pub event_types: Vec<EventType>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub city: String,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    /// Why it is disabled (by its office, or after a 410 Gone).
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation still signs, if it does.
    pub previous_secret_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> EndpointView {
        EndpointView {
            id: e.id,
            city: e.city,
            url: e.url,
            event_types: e.event_types,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            previous_secret_until: e.previous_secret_until.map(format_micros),
            created_at: format_micros(e.created_at),
            updated_at: format_micros(e.updated_at),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointWithSecretView {
    pub endpoint: EndpointView,
    /// `whsec_` and base64: the key of every `webhook-signature`. Shown here only; keep it.
    pub secret: String,
}

impl From<Endpoint> for EndpointWithSecretView {
    fn from(e: Endpoint) -> EndpointWithSecretView {
        EndpointWithSecretView {
            secret: e.secret.to_text(),
            endpoint: e.into(),
        }
    }
}

/// Register a webhook endpoint for the city (its office, or an admin). Messages are signed
/// per Standard Webhooks with the secret in the answer, which is shown only once.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "register_webhook",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "City code")),
    request_body = EndpointBody,
    responses(
        (status = 201, body = EndpointWithSecretView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/cities/{code}/webhooks")]
pub async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: JsonBody<EndpointBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let city = city_code(&code)?;
    crate::domain::access::require_city_office_or_admin(principal.as_ref(), &city)?;
    let b = json_body(body)?;
    let names: Vec<String> = b
        .event_types
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    let types = parse_event_types(&names)?;
    let url = parse_endpoint_url(&b.url, state.settings.webhook_allow_internal)?.url;
    let now = state.db.now();
    let endpoint = state
        .db_side_write(move |c| use_case::register(c, principal.as_ref(), &city, url, types, now))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/webhooks/{}", endpoint.id),
        ))
        .json(EndpointWithSecretView::from(endpoint)))
}

/// The city's webhook endpoints (its office, or an admin), without secrets.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "list_webhooks",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "City code")),
    responses(
        (status = 200, body = Vec<EndpointView>),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/cities/{code}/webhooks")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let city = city_code(&code)?;
    crate::domain::access::require_city_office_or_admin(principal.as_ref(), &city)?;
    let endpoints = state
        .read(move |c| {
            db::cities::require_in_path(c, &city)?;
            db::webhooks::list_endpoints(c, city.as_str())
        })
        .await?;
    let views: Vec<EndpointView> = endpoints.into_iter().map(EndpointView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// One webhook endpoint (its city's office, or an admin).
#[utoipa::path(
    tag = "webhooks",
    operation_id = "get_webhook",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook endpoint id")),
    responses(
        (status = 200, body = EndpointView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/webhooks/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    // Who may ask at all, before the path, query or body is read.
    crate::domain::access::require_office_or_admin(principal.as_ref())?;
    let id = WebhookId::from_path(&id)?.into_string();
    let e = state
        .read(move |c| use_case::require_endpoint(c, principal.as_ref(), &id))
        .await?;
    Ok(HttpResponse::Ok().json(EndpointView::from(e)))
}

/// A new secret for the endpoint. For a day both the new and the previous secret sign every
/// message (two `v1,` signatures in `webhook-signature`), so the receiver can switch.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "rotate_webhook_secret",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook endpoint id")),
    responses(
        (status = 200, body = EndpointWithSecretView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[post("/webhooks/{id}/rotate-secret")]
pub async fn rotate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    // Who may ask at all, before the path, query or body is read.
    crate::domain::access::require_office_or_admin(principal.as_ref())?;
    let id = WebhookId::from_path(&id)?.into_string();
    let now = state.db.now();
    let e = state
        .db_side_write(move |c| use_case::rotate(c, principal.as_ref(), &id, now))
        .await?;
    Ok(HttpResponse::Ok().json(EndpointWithSecretView::from(e)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnabledBody {
    /// False stops deliveries (pending messages wait); true resumes them.
    pub enabled: bool,
}

/// Disable or re-enable the endpoint.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "set_webhook_enabled",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook endpoint id")),
    request_body = EnabledBody,
    responses(
        (status = 200, body = EndpointView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/webhooks/{id}/enabled")]
pub async fn set_enabled(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<EnabledBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    // Who may ask at all, before the path, query or body is read.
    crate::domain::access::require_office_or_admin(principal.as_ref())?;
    let id = WebhookId::from_path(&id)?.into_string();
    let enabled = json_body(body)?.enabled;
    let now = state.db.now();
    let e = state
        .db_side_write(move |c| use_case::set_enabled(c, principal.as_ref(), &id, enabled, now))
        .await?;
    Ok(HttpResponse::Ok().json(EndpointView::from(e)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i32,
    pub attempted_at: String,
    /// The endpoint's HTTP status; absent when no answer came.
    pub status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> AttemptView {
        AttemptView {
            attempt: a.attempt,
            attempted_at: format_micros(a.attempted_at),
            status: a.status,
            error: a.error,
            duration_ms: a.duration_ms,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    /// The `webhook-id` header: the same on every attempt.
    pub id: String,
    pub event_type: String,
    /// The exact body sent.
    pub payload: String,
    /// The log entry of the event.
    pub log_index: i64,
    pub state: MessageState,
    /// Attempts since the message was (re-)sent.
    pub attempts: i32,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
    /// Every attempt, first first.
    pub history: Vec<AttemptView>,
}

impl MessageView {
    fn new(m: Message, history: Vec<Attempt>) -> MessageView {
        MessageView {
            next_attempt_at: (m.state == MessageState::Pending)
                .then(|| format_micros(m.next_attempt_at)),
            id: m.id,
            event_type: m.event_type,
            payload: m.payload,
            log_index: m.log_index,
            state: m.state,
            attempts: m.attempts,
            created_at: format_micros(m.created_at),
            delivered_at: m.delivered_at.map(format_micros),
            history: history.into_iter().map(AttemptView::from).collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessageListQuery {
    /// Page size, 1-500 (default 50).
    #[param(value_type = Option<S::PageLimit>, inline)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(value_type = Option<S::Cursor>, inline)]
    pub cursor: Option<String>,
}

/// The endpoint's messages, newest first, each with every delivery attempt (its city's office,
/// or an admin).
#[utoipa::path(
    tag = "webhooks",
    operation_id = "list_webhook_messages",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook endpoint id"), MessageListQuery),
    responses(
        (status = 200, body = Page<MessageView>),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    )
)]
#[get("/webhooks/{id}/messages")]
pub async fn messages(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<MessageListQuery>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    // Who may ask at all, before the path, query or body is read.
    crate::domain::access::require_office_or_admin(principal.as_ref())?;
    let id = WebhookId::from_path(&id)?.into_string();
    let q = query.into_inner();
    let limit = limit(q.limit)?;
    let before = decode_cursor(q.cursor.as_deref())?;
    let rows = state
        .read(move |c| {
            use_case::require_endpoint(c, principal.as_ref(), &id)?;
            let messages = db::webhooks::messages(c, &id, before.as_deref(), limit + 1)?;
            messages
                .into_iter()
                .map(|m| {
                    let history = db::webhooks::attempts(c, &m.id)?;
                    Ok((m, history))
                })
                .collect::<Result<Vec<_>, db::DbError>>()
        })
        .await?;
    let page = Page::from_rows(
        rows,
        limit,
        |(m, _)| m.id.clone(),
        |(m, h)| MessageView::new(m, h),
    );
    Ok(HttpResponse::Ok().json(page))
}

/// Send a message again now, with a fresh retry schedule (its city's office, or an admin).
#[utoipa::path(
    tag = "webhooks",
    operation_id = "resend_webhook_message",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Webhook endpoint id"),
        ("message" = String, Path, description = "Message id (`webhook-id`)")
    ),
    responses(
        (status = 200, body = MessageView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[post("/webhooks/{id}/messages/{message}/resend")]
pub async fn resend(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    // Who may ask at all, before the path, query or body is read.
    crate::domain::access::require_office_or_admin(principal.as_ref())?;
    let (id, message) = path.into_inner();
    let id = WebhookId::from_path(&id)?.into_string();
    let now = state.db.now();
    let (m, history) = state
        .db_side_write(move |c| {
            let m = use_case::resend(c, principal.as_ref(), &id, &message, now)?;
            let history = db::webhooks::attempts(c, &m.id)?;
            Ok((m, history))
        })
        .await?;
    Ok(HttpResponse::Ok().json(MessageView::new(m, history)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    /// Where the signatory receives signing requests and outcomes.
    #[schema(value_type = S::Email)]
    pub email: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContactView {
    pub signer: String,
    pub city: String,
    pub email: String,
    pub updated_at: String,
}

impl From<db::mail::Contact> for ContactView {
    fn from(c: db::mail::Contact) -> ContactView {
        ContactView {
            signer: c.signer,
            city: c.city,
            email: c.email,
            updated_at: format_micros(c.updated_at),
        }
    }
}

/// Set a signatory's e-mail address (the office of the signatory's city, or an admin):
/// signing requests, declines, expiries and executions of the MOUs they are asked to sign
/// reach them there. Never in the public log.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "set_contact",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "City code"),
        ("signer" = String, Path, description = "Signatory, `<handle>@<city code>` of this city")
    ),
    request_body = ContactBody,
    responses(
        (status = 200, body = ContactView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/cities/{code}/contacts/{signer}")]
pub async fn set_contact(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody<ContactBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let (code, signer) = path.into_inner();
    let city = city_code(&code)?;
    crate::domain::access::require_city_office_or_admin(principal.as_ref(), &city)?;
    let email = crate::domain::webhooks::validate_email(&json_body(body)?.email)?;
    let now = state.db.now();
    let contact = state
        .db_side_write(move |c| {
            use_case::set_contact(c, principal.as_ref(), &city, &signer, email, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ContactView::from(contact)))
}

/// The city's signatory contacts (its office, or an admin).
#[utoipa::path(
    tag = "webhooks",
    operation_id = "list_contacts",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "City code")),
    responses(
        (status = 200, body = Vec<ContactView>),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/cities/{code}/contacts")]
pub async fn contacts(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let city = city_code(&code)?;
    crate::domain::access::require_city_office_or_admin(principal.as_ref(), &city)?;
    let found = state
        .read(move |c| {
            db::cities::require_in_path(c, &city)?;
            db::mail::contacts(c, city.as_str())
        })
        .await?;
    let views: Vec<ContactView> = found.into_iter().map(ContactView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}
