//! E-mail to signatories (docs/notifications.md): their contact addresses, kept by the offices
//! and never logged, and the e-mail outbox. An event addressed to signatories writes one row
//! per signatory with a contact, in the transaction of the event's log entry; the worker
//! renders and sends it (`notify::mail`).

use diesel::prelude::*;
use serde_json::Value;

use super::schema::{outbox_emails, signature_requests, signer_contacts};
use super::{DbConn, DbError, WriteTx};
use crate::domain::ids::MouId;
use crate::domain::requests::RequestState;
use crate::domain::webhooks::{EventType, MessageState};

/// A signatory's contact address.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = signer_contacts)]
pub struct Contact {
    pub signer: String,
    pub city: String,
    pub email: String,
    pub updated_by: Option<String>,
    pub updated_at: i64,
}

/// Sets (or replaces) a signatory's address.
pub fn set_contact(conn: &mut DbConn, c: &Contact) -> Result<(), DbError> {
    let exists = signer_contacts::table
        .filter(signer_contacts::signer.eq(&c.signer))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        diesel::update(signer_contacts::table.filter(signer_contacts::signer.eq(&c.signer)))
            .set((
                signer_contacts::email.eq(&c.email),
                signer_contacts::updated_by.eq(&c.updated_by),
                signer_contacts::updated_at.eq(c.updated_at),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(signer_contacts::table)
            .values((
                signer_contacts::signer.eq(&c.signer),
                signer_contacts::city.eq(&c.city),
                signer_contacts::email.eq(&c.email),
                signer_contacts::updated_by.eq(&c.updated_by),
                signer_contacts::updated_at.eq(c.updated_at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Whether the offices keep an address for `signer`.
pub fn has_contact(conn: &mut DbConn, signer: &str) -> Result<bool, DbError> {
    let n: i64 = signer_contacts::table
        .filter(signer_contacts::signer.eq(signer))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// A city's signatory contacts, by signer.
pub fn contacts(conn: &mut DbConn, city: &str) -> Result<Vec<Contact>, DbError> {
    Ok(signer_contacts::table
        .filter(signer_contacts::city.eq(city))
        .order(signer_contacts::signer.asc())
        .select(Contact::as_select())
        .load(conn)?)
}

/// The signatories an event is for: those asked in a round that was sent or expired, the one
/// reminded, the others asked in a round one of them declined, and those who signed an
/// executed version.
pub(super) fn recipients(
    conn: &mut DbConn,
    event: EventType,
    data: &Value,
) -> Result<Vec<String>, DbError> {
    let text = |key: &str| data.get(key).and_then(Value::as_str).unwrap_or_default();
    let mut signers: Vec<String> = match event {
        EventType::SignatureRequestSent => data["requests"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| r["signer"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        EventType::SignatureRequestExpired => {
            let ids: Vec<String> = data["requests"]
                .as_array()
                .map(|ids| {
                    ids.iter()
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            signature_requests::table
                .filter(signature_requests::id.eq_any(&ids))
                .select(signature_requests::signer)
                .load(conn)?
        }
        EventType::SignatureRequestDeclined => super::requests::latest_round(conn, text("mou"))?
            .into_iter()
            .filter(|r| r.state != RequestState::Declined)
            .map(|r| r.signer)
            .collect(),
        EventType::MouExecuted => {
            let mou = MouId::from_db(text("mou").to_string());
            let version = data["version"].as_i64().and_then(|v| i32::try_from(v).ok());
            match version {
                Some(v) => super::mous::signers_of(conn, &mou, v)?
                    .into_iter()
                    .map(|s| s.signer)
                    .collect(),
                None => Vec::new(),
            }
        }
        // A key-use notice goes to the signer the key is registered to.
        EventType::SignatureRequestReminder | EventType::KeyUsed => {
            vec![text("signer").to_string()]
        }
        EventType::SignatureRequestSigned | EventType::PartnershipStatusChanged => Vec::new(),
    };
    signers.sort();
    signers.dedup();
    Ok(signers)
}

/// Writes one e-mail per contact in `found` (signer, address) for the entry at `log_index`,
/// in one statement.
pub(super) fn write(
    tx: &mut WriteTx<'_>,
    event: EventType,
    data: &Value,
    log_index: i64,
    found: &[(String, String)],
) -> Result<usize, DbError> {
    if found.is_empty() {
        return Ok(0);
    }
    let data = data.to_string();
    let rows: Vec<_> = found
        .iter()
        .map(|(signer, email)| {
            (
                outbox_emails::id.eq(format!("mail_{}", uuid::Uuid::now_v7().simple())),
                outbox_emails::signer.eq(signer),
                outbox_emails::recipient.eq(email),
                outbox_emails::event_type.eq(event.as_str()),
                outbox_emails::data.eq(&data),
                outbox_emails::log_index.eq(log_index),
                outbox_emails::state.eq(MessageState::Pending.as_str()),
                outbox_emails::attempts.eq(0),
                outbox_emails::next_attempt_at.eq(tx.now),
                outbox_emails::created_at.eq(tx.now),
            )
        })
        .collect();
    per_backend!(&mut *tx.conn, |c| diesel::insert_into(outbox_emails::table)
        .values(&rows)
        .execute(c))?;
    Ok(found.len())
}

/// An e-mail waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = outbox_emails)]
pub struct Email {
    pub id: String,
    pub signer: String,
    pub recipient: String,
    pub event_type: String,
    pub data: String,
    pub log_index: i64,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// Claims up to `limit` due e-mails under a lease (see `webhooks::claim_due`).
pub fn claim_due(
    conn: &mut DbConn,
    now: i64,
    lease: i64,
    limit: i64,
) -> Result<Vec<Email>, DbError> {
    let due: Vec<Email> = outbox_emails::table
        .filter(outbox_emails::state.eq(MessageState::Pending.as_str()))
        .filter(outbox_emails::next_attempt_at.le(now))
        .order(outbox_emails::next_attempt_at.asc())
        .limit(limit)
        .select(Email::as_select())
        .load(conn)?;
    for e in &due {
        diesel::update(outbox_emails::table.filter(outbox_emails::id.eq(&e.id)))
            .set(outbox_emails::next_attempt_at.eq(now + lease))
            .execute(conn)?;
    }
    Ok(due)
}

/// Records the outcome of one attempt.
pub fn record(
    conn: &mut DbConn,
    e: &Email,
    state: MessageState,
    next_attempt_at: i64,
    error: Option<String>,
    at: i64,
) -> Result<(), DbError> {
    diesel::update(outbox_emails::table.filter(outbox_emails::id.eq(&e.id)))
        .set((
            outbox_emails::state.eq(state.as_str()),
            outbox_emails::attempts.eq(e.attempts + 1),
            outbox_emails::next_attempt_at.eq(next_attempt_at),
            outbox_emails::last_error.eq(error),
            outbox_emails::delivered_at.eq((state == MessageState::Delivered).then_some(at)),
        ))
        .execute(conn)?;
    Ok(())
}
