//! Webhook endpoints and the outbox (docs/notifications.md): messages are written with the log
//! entry of their event, in its transaction; the delivery worker claims due ones with a lease,
//! so a crash mid-delivery only delays a message, and a message is marked delivered only after
//! its endpoint answered 2xx (at least once; a repeat carries the same `webhook-id`).

use diesel::prelude::*;
use serde_json::{Value, json};

use super::schema::{outbox_messages, webhook_attempts, webhook_endpoints};
use super::{DbConn, DbError, WriteTx};
use crate::domain::dates::format_micros;
use crate::domain::webhooks::{Attempt, Endpoint, EventType, Message, MessageState, WebhookSecret};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints)]
#[diesel(treat_none_as_null = true)]
struct EndpointRow {
    id: String,
    city: String,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<i64>,
    event_types: String,
    enabled: bool,
    disabled_reason: Option<String>,
    created_by: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = DbError;

    fn try_from(r: EndpointRow) -> Result<Endpoint, DbError> {
        let corrupt = |what: &str| DbError::corrupt(format!("{what} of webhook {}", r.id));
        let names: Vec<String> =
            serde_json::from_str(&r.event_types).map_err(|_| corrupt("event types"))?;
        let event_types = names
            .iter()
            .map(|n| EventType::parse(n).ok_or_else(|| corrupt("event type")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Endpoint {
            secret: WebhookSecret::parse(&r.secret).ok_or_else(|| corrupt("secret"))?,
            previous_secret: match &r.previous_secret {
                Some(s) => Some(WebhookSecret::parse(s).ok_or_else(|| corrupt("secret"))?),
                None => None,
            },
            previous_secret_until: r.previous_secret_until,
            event_types,
            id: r.id,
            city: r.city,
            url: r.url,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn event_types_json(types: &[EventType]) -> String {
    serde_json::to_string(&types.iter().map(|t| t.as_str()).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

/// Stores a new endpoint.
pub fn insert_endpoint(
    conn: &mut DbConn,
    e: &Endpoint,
    created_by: Option<String>,
) -> Result<(), DbError> {
    let row = EndpointRow {
        id: e.id.clone(),
        city: e.city.clone(),
        url: e.url.clone(),
        secret: e.secret.to_text(),
        previous_secret: None,
        previous_secret_until: None,
        event_types: event_types_json(&e.event_types),
        enabled: e.enabled,
        disabled_reason: None,
        created_by,
        created_at: e.created_at,
        updated_at: e.updated_at,
    };
    diesel::insert_into(webhook_endpoints::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

pub fn get_endpoint(conn: &mut DbConn, id: &str) -> Result<Option<Endpoint>, DbError> {
    let row: Option<EndpointRow> = webhook_endpoints::table
        .filter(webhook_endpoints::id.eq(id))
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()?;
    row.map(Endpoint::try_from).transpose()
}

/// A city's endpoints, oldest first.
pub fn list_endpoints(conn: &mut DbConn, city: &str) -> Result<Vec<Endpoint>, DbError> {
    let rows: Vec<EndpointRow> = webhook_endpoints::table
        .filter(webhook_endpoints::city.eq(city))
        .order((
            webhook_endpoints::created_at.asc(),
            webhook_endpoints::id.asc(),
        ))
        .select(EndpointRow::as_select())
        .load(conn)?;
    rows.into_iter().map(Endpoint::try_from).collect()
}

/// Replaces the secret; the old one keeps signing until `previous_until`.
pub fn rotate_secret(
    conn: &mut DbConn,
    e: &Endpoint,
    new: &WebhookSecret,
    previous_until: i64,
    now: i64,
) -> Result<(), DbError> {
    diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(&e.id)))
        .set((
            webhook_endpoints::secret.eq(new.to_text()),
            webhook_endpoints::previous_secret.eq(Some(e.secret.to_text())),
            webhook_endpoints::previous_secret_until.eq(Some(previous_until)),
            webhook_endpoints::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Enables or disables an endpoint (with why, when disabled). A disabled endpoint gets no new
/// messages and its pending ones wait.
pub fn set_enabled(
    conn: &mut DbConn,
    id: &str,
    enabled: bool,
    reason: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(id)))
        .set((
            webhook_endpoints::enabled.eq(enabled),
            webhook_endpoints::disabled_reason.eq(if enabled { None } else { reason }),
            webhook_endpoints::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// What an event says, before it is addressed to endpoints.
pub struct Event {
    pub event_type: EventType,
    /// The cities whose offices hear about it (the MOU's or partnership's two cities).
    pub cities: Vec<String>,
    pub data: Value,
}

/// Writes one message per enabled endpoint of the event's cities that subscribes to its type,
/// and one e-mail per signatory it concerns who has a contact address, in the write's
/// transaction, for the entry at `log_index`.
pub fn emit(tx: &mut WriteTx<'_>, event: Event, log_index: i64) -> Result<usize, DbError> {
    // The signatories it concerns hear of it by e-mail, from the same transaction.
    let signers = super::mail::recipients(tx.conn, event.event_type, &event.data)?;
    let (contacts, endpoints) = audience(tx.conn, &signers, &event.cities)?;
    super::mail::write(tx, event.event_type, &event.data, log_index, &contacts)?;
    let wanted: Vec<String> = endpoints
        .into_iter()
        .filter(|(_, event_types)| {
            serde_json::from_str::<Vec<String>>(event_types)
                .is_ok_and(|types| types.iter().any(|t| t == event.event_type.as_str()))
        })
        .map(|(id, _)| id)
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let payload = json!({
        "type": event.event_type.as_str(),
        "timestamp": format_micros(tx.now),
        "data": event.data,
    })
    .to_string();
    let rows: Vec<_> = wanted
        .iter()
        .map(|endpoint| {
            (
                outbox_messages::id.eq(format!("msg_{}", uuid::Uuid::now_v7().simple())),
                outbox_messages::endpoint_id.eq(endpoint),
                outbox_messages::event_type.eq(event.event_type.as_str()),
                outbox_messages::payload.eq(&payload),
                outbox_messages::log_index.eq(log_index),
                outbox_messages::state.eq(MessageState::Pending.as_str()),
                outbox_messages::attempts.eq(0),
                outbox_messages::next_attempt_at.eq(tx.now),
                outbox_messages::created_at.eq(tx.now),
            )
        })
        .collect();
    per_backend!(&mut *tx.conn, |c| diesel::insert_into(
        outbox_messages::table
    )
    .values(&rows)
    .execute(c))?;
    Ok(wanted.len())
}

/// An event's e-mail contacts (signer, address) and enabled webhook endpoints (id, event
/// types JSON).
type Audience = (Vec<(String, String)>, Vec<(String, String)>);

/// Whom an event reaches, read in one statement since every logged event asks (a signature
/// twice): the contacts of `signers` and the enabled endpoints of `cities`.
fn audience(conn: &mut DbConn, signers: &[String], cities: &[String]) -> Result<Audience, DbError> {
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;

    use super::schema::signer_contacts;
    // The first column tells the two kinds of row apart: true for a contact.
    let contacts = signer_contacts::table
        .filter(signer_contacts::signer.eq_any(signers))
        .select((
            sql::<Bool>("1 = 1"),
            signer_contacts::signer,
            signer_contacts::email,
        ));
    let endpoints = webhook_endpoints::table
        .filter(webhook_endpoints::city.eq_any(cities))
        .filter(webhook_endpoints::enabled.eq(true))
        .select((
            sql::<Bool>("1 = 0"),
            webhook_endpoints::id,
            webhook_endpoints::event_types,
        ));
    let rows: Vec<(bool, String, String)> =
        per_backend!(conn, |c| contacts.union_all(endpoints).load(c))?;
    let (contacts, endpoints): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(c, ..)| *c);
    Ok((
        contacts.into_iter().map(|(_, a, b)| (a, b)).collect(),
        endpoints.into_iter().map(|(_, a, b)| (a, b)).collect(),
    ))
}

type MessageRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    i32,
    i64,
    Option<i32>,
    Option<String>,
    i64,
    Option<i64>,
);

fn message(r: MessageRow) -> Result<Message, DbError> {
    Ok(Message {
        state: MessageState::parse(&r.5)
            .ok_or_else(|| DbError::corrupt(format!("state of message {}", r.0)))?,
        id: r.0,
        endpoint_id: r.1,
        event_type: r.2,
        payload: r.3,
        log_index: r.4,
        attempts: r.6,
        next_attempt_at: r.7,
        last_status: r.8,
        last_error: r.9,
        created_at: r.10,
        delivered_at: r.11,
    })
}

macro_rules! message_columns {
    () => {
        (
            outbox_messages::id,
            outbox_messages::endpoint_id,
            outbox_messages::event_type,
            outbox_messages::payload,
            outbox_messages::log_index,
            outbox_messages::state,
            outbox_messages::attempts,
            outbox_messages::next_attempt_at,
            outbox_messages::last_status,
            outbox_messages::last_error,
            outbox_messages::created_at,
            outbox_messages::delivered_at,
        )
    };
}

/// Claims up to `limit` due messages of enabled endpoints for one round of delivery: their
/// next attempt moves to `now + lease`, so another worker (or this one after a crash) takes
/// them again only once the lease has run out.
pub fn claim_due(
    conn: &mut DbConn,
    now: i64,
    lease: i64,
    limit: i64,
) -> Result<Vec<(Message, Endpoint)>, DbError> {
    let rows: Vec<(MessageRow, EndpointRow)> = outbox_messages::table
        .inner_join(webhook_endpoints::table)
        .filter(outbox_messages::state.eq(MessageState::Pending.as_str()))
        .filter(outbox_messages::next_attempt_at.le(now))
        .filter(webhook_endpoints::enabled.eq(true))
        .order(outbox_messages::next_attempt_at.asc())
        .limit(limit)
        .select((message_columns!(), EndpointRow::as_select()))
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (m, e) in rows {
        let m = message(m)?;
        diesel::update(outbox_messages::table.filter(outbox_messages::id.eq(&m.id)))
            .set(outbox_messages::next_attempt_at.eq(now + lease))
            .execute(conn)?;
        out.push((m, Endpoint::try_from(e)?));
    }
    Ok(out)
}

/// What one attempt came to.
pub struct Outcome {
    pub status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// `Delivered`, `Failed` (no more attempts), or `Pending` with the next attempt's time.
    pub state: MessageState,
    pub next_attempt_at: i64,
}

/// Records an attempt and the message's new state.
pub fn record_attempt(conn: &mut DbConn, m: &Message, at: i64, o: &Outcome) -> Result<(), DbError> {
    let number: Option<i32> = webhook_attempts::table
        .filter(webhook_attempts::message_id.eq(&m.id))
        .select(diesel::dsl::max(webhook_attempts::attempt))
        .first(conn)?;
    diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::message_id.eq(&m.id),
            webhook_attempts::attempt.eq(number.unwrap_or(0) + 1),
            webhook_attempts::attempted_at.eq(at),
            webhook_attempts::status.eq(o.status),
            webhook_attempts::error.eq(&o.error),
            webhook_attempts::duration_ms.eq(o.duration_ms),
        ))
        .execute(conn)?;
    diesel::update(outbox_messages::table.filter(outbox_messages::id.eq(&m.id)))
        .set((
            outbox_messages::attempts.eq(m.attempts + 1),
            outbox_messages::state.eq(o.state.as_str()),
            outbox_messages::next_attempt_at.eq(o.next_attempt_at),
            outbox_messages::last_status.eq(o.status),
            outbox_messages::last_error.eq(&o.error),
            outbox_messages::delivered_at.eq(if o.state == MessageState::Delivered {
                Some(at)
            } else {
                None
            }),
        ))
        .execute(conn)?;
    Ok(())
}

/// An endpoint answered 410 Gone: it is disabled, and its pending messages fail.
pub fn gone(conn: &mut DbConn, endpoint: &str, now: i64) -> Result<(), DbError> {
    set_enabled(
        conn,
        endpoint,
        false,
        Some("the endpoint answered 410 Gone"),
        now,
    )?;
    diesel::update(
        outbox_messages::table
            .filter(outbox_messages::endpoint_id.eq(endpoint))
            .filter(outbox_messages::state.eq(MessageState::Pending.as_str())),
    )
    .set((
        outbox_messages::state.eq(MessageState::Failed.as_str()),
        outbox_messages::last_error.eq("endpoint disabled: 410 Gone"),
    ))
    .execute(conn)?;
    Ok(())
}

/// An endpoint's messages, newest first, after the message `before` (for paging).
pub fn messages(
    conn: &mut DbConn,
    endpoint: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Message>, DbError> {
    // Ids are time-ordered (UUIDv7), so "before this id" is "older than this message".
    let before = before.unwrap_or("msg_~");
    let rows: Vec<MessageRow> = outbox_messages::table
        .filter(outbox_messages::endpoint_id.eq(endpoint))
        .filter(outbox_messages::id.lt(before))
        .order(outbox_messages::id.desc())
        .limit(limit)
        .select(message_columns!())
        .load(conn)?;
    rows.into_iter().map(message).collect()
}

pub fn get_message(
    conn: &mut DbConn,
    endpoint: &str,
    id: &str,
) -> Result<Option<Message>, DbError> {
    let row: Option<MessageRow> = outbox_messages::table
        .filter(outbox_messages::endpoint_id.eq(endpoint))
        .filter(outbox_messages::id.eq(id))
        .select(message_columns!())
        .first(conn)
        .optional()?;
    row.map(message).transpose()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
struct AttemptRow {
    attempt: i32,
    attempted_at: i64,
    status: Option<i32>,
    error: Option<String>,
    duration_ms: i64,
}

/// The attempts of message `id`, first first.
pub fn attempts(conn: &mut DbConn, id: &str) -> Result<Vec<Attempt>, DbError> {
    let rows: Vec<AttemptRow> = webhook_attempts::table
        .filter(webhook_attempts::message_id.eq(id))
        .order(webhook_attempts::attempt.asc())
        .select(AttemptRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Attempt {
            attempt: r.attempt,
            attempted_at: r.attempted_at,
            status: r.status,
            error: r.error,
            duration_ms: r.duration_ms,
        })
        .collect())
}

/// Sends a message again: pending, due now, with a fresh retry schedule.
pub fn resend(conn: &mut DbConn, id: &str, now: i64) -> Result<(), DbError> {
    diesel::update(outbox_messages::table.filter(outbox_messages::id.eq(id)))
        .set((
            outbox_messages::state.eq(MessageState::Pending.as_str()),
            outbox_messages::attempts.eq(0),
            outbox_messages::next_attempt_at.eq(now),
            outbox_messages::delivered_at.eq(None::<i64>),
        ))
        .execute(conn)?;
    Ok(())
}
