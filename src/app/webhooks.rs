//! Webhook endpoints (docs/notifications.md): an office registers, lists, rotates, disables and
//! re-enables its city's endpoints, reads their delivery attempts and sends a message again.
//! Endpoints are working configuration, not registry data: nothing here is logged, and secrets
//! are shown to the office once, when made.

use crate::db::{self, DbConn, DbError};
use crate::domain::access::require_city_office_or_admin;
use crate::domain::cities::CityCode;
use crate::domain::ids::WebhookId;
use crate::domain::tokens::Principal;
use crate::domain::webhooks::{
    Endpoint, EventType, Message, ROTATION_OVERLAP_MICROS, WebhookSecret,
};
use crate::domain::{DomainError, ErrorCode};

/// The endpoint `id`, for an office of its city or an admin.
pub fn require_endpoint(
    conn: &mut DbConn,
    principal: Option<&Principal>,
    id: &str,
) -> Result<Endpoint, DbError> {
    let e = db::webhooks::get_endpoint(conn, id)?
        .ok_or_else(|| DbError::from(WebhookId::not_found(id)))?;
    let city = CityCode::parse(&e.city).map_err(|e| DbError::corrupt(e.message))?;
    require_city_office_or_admin(principal, &city)?;
    Ok(e)
}

/// Registers an endpoint for `city`; returns it with its secret.
pub fn register(
    conn: &mut DbConn,
    principal: Option<&Principal>,
    city: &CityCode,
    url: String,
    event_types: Vec<EventType>,
    now: i64,
) -> Result<Endpoint, DbError> {
    require_city_office_or_admin(principal, city)?;
    db::cities::require_in_path(conn, city)?;
    let endpoint = Endpoint {
        id: WebhookId::generate().into_string(),
        city: city.to_string(),
        url,
        secret: WebhookSecret::generate(),
        previous_secret: None,
        previous_secret_until: None,
        event_types,
        enabled: true,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    db::webhooks::insert_endpoint(conn, &endpoint, principal.map(|p| p.token_id.to_string()))?;
    Ok(endpoint)
}

/// A new secret; the old one keeps signing for a day, so receivers can switch without losing
/// a message.
pub fn rotate(
    conn: &mut DbConn,
    principal: Option<&Principal>,
    id: &str,
    now: i64,
) -> Result<Endpoint, DbError> {
    let e = require_endpoint(conn, principal, id)?;
    let fresh = WebhookSecret::generate();
    db::webhooks::rotate_secret(conn, &e, &fresh, now + ROTATION_OVERLAP_MICROS, now)?;
    require_endpoint(conn, principal, id)
}

/// Enables or disables an endpoint.
pub fn set_enabled(
    conn: &mut DbConn,
    principal: Option<&Principal>,
    id: &str,
    enabled: bool,
    now: i64,
) -> Result<Endpoint, DbError> {
    require_endpoint(conn, principal, id)?;
    let reason = (!enabled).then_some("disabled by its office");
    db::webhooks::set_enabled(conn, id, enabled, reason, now)?;
    require_endpoint(conn, principal, id)
}

/// Sends message `message` of endpoint `id` again, now, with a fresh retry schedule.
pub fn resend(
    conn: &mut DbConn,
    principal: Option<&Principal>,
    id: &str,
    message: &str,
    now: i64,
) -> Result<Message, DbError> {
    require_endpoint(conn, principal, id)?;
    let missing = || -> DbError {
        DomainError::new(
            ErrorCode::MessageNotFound,
            format!("webhook endpoint `{id}` has no message `{message}`"),
        )
        .into()
    };
    db::webhooks::get_message(conn, id, message)?.ok_or_else(missing)?;
    db::webhooks::resend(conn, message, now)?;
    db::webhooks::get_message(conn, id, message)?.ok_or_else(missing)
}

/// Sets signatory `signer`'s contact address (an office of the signer's city, or an admin).
/// Kept out of the public log.
pub fn set_contact(
    conn: &mut DbConn,
    principal: Option<&Principal>,
    city: &CityCode,
    signer: &str,
    email: String,
    now: i64,
) -> Result<db::mail::Contact, DbError> {
    require_city_office_or_admin(principal, city)?;
    db::cities::require_in_path(conn, city)?;
    let of_city = crate::domain::requests::parse_signer(signer)?;
    if &of_city != city {
        return Err(DomainError::new(
            ErrorCode::SignerCityMismatch,
            format!("`{signer}` is not a signatory of `{city}`"),
        )
        .into());
    }
    let contact = db::mail::Contact {
        signer: signer.to_string(),
        city: city.to_string(),
        email,
        updated_by: principal.map(|p| p.token_id.to_string()),
        updated_at: now,
    };
    db::mail::set_contact(conn, &contact)?;
    Ok(contact)
}
