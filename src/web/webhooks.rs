//! The office's webhooks page (docs/notifications.md): its city's endpoints with their latest
//! messages and attempts, and forms to register an endpoint (its secret shown once, on the
//! answer page), pause or resume one, and send a message again. Each form calls the same use
//! case as the API (`app::webhooks`).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use maud::html;
use serde::Deserialize;

use super::layout::{error_page, layout, with_cookie};
use super::session;
use crate::api::AppState;
use crate::api::keys::city_code;
use crate::app::webhooks as use_case;
use crate::db;
use crate::domain::cities::CityCode;
use crate::domain::tokens::Principal;
use crate::domain::webhooks::{EventType, parse_endpoint_url, parse_event_types};
use crate::error::ApiError;

/// The signed-in office or admin that may manage `city`'s endpoints.
async fn manager(
    state: &AppState,
    req: &HttpRequest,
    city: &CityCode,
) -> Result<Principal, ApiError> {
    let who = session::principal(state, req).await;
    crate::domain::access::require_city_office_or_admin(who.as_ref(), city)?;
    who.ok_or_else(ApiError::internal)
}

#[get("/cities/{code}/webhooks")]
pub(super) async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
) -> HttpResponse {
    let city = match city_code(&code) {
        Ok(c) => c,
        Err(e) => return error_page(e),
    };
    if let Err(e) = manager(&state, &req, &city).await {
        return error_page(e);
    }
    let (csrf, new_cookie) = session::csrf_token(&req);
    let key = city.clone();
    let found = state
        .read(move |c| {
            db::cities::require_in_path(c, &key)?;
            let endpoints = db::webhooks::list_endpoints(c, key.as_str())?;
            let mut out = Vec::new();
            for e in endpoints {
                let messages = db::webhooks::messages(c, &e.id, None, 10)?;
                out.push((e, messages));
            }
            Ok(out)
        })
        .await;
    let endpoints = match found {
        Ok(e) => e,
        Err(e) => return error_page(e),
    };
    let res = layout(
        "Webhooks",
        html! {
            h1 { "Webhooks of " (city) }
            p { "Each event is POSTed to the endpoints that subscribe to it, signed per Standard Webhooks (" a href="/api/docs" { "API" } ")." }
            @for (e, messages) in &endpoints {
                h2 { (e.url) }
                p {
                    @if e.enabled { "Enabled" } @else { "Disabled: " (e.disabled_reason.as_deref().unwrap_or("")) }
                    " · events: " (e.event_types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", "))
                }
                form method="post" action={ "/webhooks/" (e.id) "/enabled" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="enabled" value=(if e.enabled { "false" } else { "true" });
                    button type="submit" { @if e.enabled { "Pause" } @else { "Resume" } }
                }
                table {
                    tr { th { "message" } th { "event" } th { "state" } th { "attempts" } th { "last" } th { "" } }
                    @for m in messages {
                        tr {
                            td { code { (m.id) } } td { (m.event_type) } td { (m.state.as_str()) } td { (m.attempts) }
                            td { (m.last_status.map(|s| s.to_string()).or(m.last_error.clone()).unwrap_or_default()) }
                            td {
                                form method="post" action={ "/webhooks/" (e.id) "/messages/" (m.id) "/resend" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" { "Send again" }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Register an endpoint" }
            form method="post" action={ "/cities/" (city) "/webhooks" } {
                input type="hidden" name="csrf" value=(csrf);
                p { label { "URL " input type="url" name="url" required maxlength="2000" placeholder="https://hooks.example.org/amity"; } }
                @for t in EventType::ALL {
                    p { label { input type="checkbox" name="event" value=(t.as_str()) checked; " " (t.as_str()) } }
                }
                p { button type="submit" { "Register" } }
            }
        },
    );
    with_cookie(res, new_cookie)
}

/// Form fields as pairs, so the repeated `event` checkboxes all arrive.
fn fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

#[post("/cities/{code}/webhooks")]
pub(super) async fn register_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let f = fields(&body);
    if let Err(e) = session::check_csrf(&req, field(&f, "csrf")) {
        return error_page(e);
    }
    let city = match city_code(&code) {
        Ok(c) => c,
        Err(e) => return error_page(e),
    };
    let principal = match manager(&state, &req, &city).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let names: Vec<String> = f
        .iter()
        .filter(|(k, _)| k == "event")
        .map(|(_, v)| v.clone())
        .collect();
    let checked = parse_event_types(&names).and_then(|types| {
        parse_endpoint_url(field(&f, "url"), state.settings.webhook_allow_internal)
            .map(|u| (types, u.url))
    });
    let (types, url) = match checked {
        Ok(x) => x,
        Err(e) => return error_page(e.into()),
    };
    let now = state.db.now();
    let key = city.clone();
    let made = state
        .db_side_write(move |c| use_case::register(c, Some(&principal), &key, url, types, now))
        .await;
    match made {
        Ok(e) => layout(
            "Webhook registered",
            html! {
                h1 { "Webhook registered" }
                p { "Messages to " code { (e.url) } " are signed with this secret. It is shown only now: store it with the receiver." }
                p { code id="secret" { (e.secret.to_text()) } }
                p { a href={ "/cities/" (city) "/webhooks" } { "Back to the webhooks" } }
            },
        ),
        Err(e) => error_page(e),
    }
}

#[derive(Debug, Deserialize)]
struct EnabledForm {
    #[serde(default)]
    csrf: String,
    enabled: String,
}

#[post("/webhooks/{id}/enabled")]
pub(super) async fn enabled_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<EnabledForm>,
) -> HttpResponse {
    let f = form.into_inner();
    if let Err(e) = session::check_csrf(&req, &f.csrf) {
        return error_page(e);
    }
    let who = session::principal(&state, &req).await;
    let (id, now, enabled) = (id.into_inner(), state.db.now(), f.enabled == "true");
    let done = state
        .db_side_write(move |c| use_case::set_enabled(c, who.as_ref(), &id, enabled, now))
        .await;
    match done {
        Ok(e) => session::see_other(&format!("/cities/{}/webhooks", e.city)),
        Err(e) => error_page(e),
    }
}

#[derive(Debug, Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

#[post("/webhooks/{id}/messages/{message}/resend")]
pub(super) async fn resend_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    if let Err(e) = session::check_csrf(&req, &form.csrf) {
        return error_page(e);
    }
    let who = session::principal(&state, &req).await;
    let (id, message) = path.into_inner();
    let now = state.db.now();
    let done = state
        .db_side_write(move |c| {
            use_case::resend(c, who.as_ref(), &id, &message, now)?;
            use_case::require_endpoint(c, who.as_ref(), &id)
        })
        .await;
    match done {
        Ok(e) => session::see_other(&format!("/cities/{}/webhooks", e.city)),
        Err(e) => error_page(e),
    }
}
