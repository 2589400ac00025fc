//! Signature requests as stored (docs/signing-workflow.md): one row per signatory asked, its
//! state moved on only together with the log entry that records the move.

use diesel::prelude::*;

use super::schema::signature_requests;
use super::{DbConn, DbError, WriteTx};
use crate::domain::cities::CityCode;
use crate::domain::dates::format_micros;
use crate::domain::entries::{EntryBody, LogEntry, MouRequestsCancelled, MouRequestsExpired};
use crate::domain::ids::MouId;
use crate::domain::mous::MouState;
use crate::domain::requests::{
    CancelCause, ReminderPlan, RequestState, SignatureRequest, next_reminder,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signature_requests)]
#[diesel(treat_none_as_null = true)]
pub struct RequestRow {
    pub id: String,
    pub mou_id: String,
    pub round: i32,
    pub version: i32,
    pub signer: String,
    pub signer_city: String,
    pub role: String,
    pub sequence_group: i32,
    pub deadline: i64,
    pub state: String,
    pub requested_by_city: String,
    pub requested_by: Option<String>,
    pub requested_at: i64,
    pub log_index: i64,
    pub answered_at: Option<i64>,
    pub answer_log_index: Option<i64>,
    pub signature_seq: Option<i64>,
    pub decline_reason: Option<String>,
    pub decline_statement: Option<Vec<u8>>,
    pub decline_signature: Option<String>,
    pub remind_before_days: i32,
    pub remind_every_days: i32,
    pub remind_max: i32,
    pub reminders_sent: i32,
    pub next_reminder_at: Option<i64>,
}

impl TryFrom<RequestRow> for SignatureRequest {
    type Error = DbError;

    fn try_from(r: RequestRow) -> Result<Self, DbError> {
        Ok(SignatureRequest {
            state: RequestState::parse(&r.state)
                .ok_or_else(|| DbError::corrupt(format!("request state {:?}", r.state)))?,
            id: r.id,
            mou_id: r.mou_id,
            round: r.round,
            version: r.version,
            signer: r.signer,
            signer_city: r.signer_city,
            role: r.role,
            group: r.sequence_group,
            deadline: r.deadline,
            requested_by_city: r.requested_by_city,
            requested_by: r.requested_by,
            requested_at: r.requested_at,
            log_index: r.log_index,
            answered_at: r.answered_at,
            answer_log_index: r.answer_log_index,
            signature_seq: r.signature_seq,
            decline_reason: r.decline_reason,
            decline_statement: r.decline_statement,
            decline_signature: r.decline_signature,
            reminders: ReminderPlan {
                before_days: r.remind_before_days,
                every_days: r.remind_every_days,
                max: r.remind_max,
            },
            reminders_sent: r.reminders_sent,
            next_reminder_at: r.next_reminder_at,
        })
    }
}

impl From<&SignatureRequest> for RequestRow {
    fn from(r: &SignatureRequest) -> RequestRow {
        RequestRow {
            id: r.id.clone(),
            mou_id: r.mou_id.clone(),
            round: r.round,
            version: r.version,
            signer: r.signer.clone(),
            signer_city: r.signer_city.clone(),
            role: r.role.clone(),
            sequence_group: r.group,
            deadline: r.deadline,
            state: r.state.as_str().into(),
            requested_by_city: r.requested_by_city.clone(),
            requested_by: r.requested_by.clone(),
            requested_at: r.requested_at,
            log_index: r.log_index,
            answered_at: r.answered_at,
            answer_log_index: r.answer_log_index,
            signature_seq: r.signature_seq,
            decline_reason: r.decline_reason.clone(),
            decline_statement: r.decline_statement.clone(),
            decline_signature: r.decline_signature.clone(),
            remind_before_days: r.reminders.before_days,
            remind_every_days: r.reminders.every_days,
            remind_max: r.reminders.max,
            reminders_sent: r.reminders_sent,
            next_reminder_at: r.next_reminder_at,
        }
    }
}

fn convert(rows: Vec<RequestRow>) -> Result<Vec<SignatureRequest>, DbError> {
    rows.into_iter().map(SignatureRequest::try_from).collect()
}

/// Every request of MOU `mou`, by round, group and signer.
pub fn list(conn: &mut DbConn, mou: &str) -> Result<Vec<SignatureRequest>, DbError> {
    let rows: Vec<RequestRow> = signature_requests::table
        .filter(signature_requests::mou_id.eq(mou))
        .order((
            signature_requests::round.asc(),
            signature_requests::sequence_group.asc(),
            signature_requests::signer.asc(),
        ))
        .select(RequestRow::as_select())
        .load(conn)?;
    convert(rows)
}

/// The number of MOU `mou`'s latest round; 0 before its first.
pub fn latest_round_number(conn: &mut DbConn, mou: &str) -> Result<i32, DbError> {
    let round: Option<i32> = signature_requests::table
        .filter(signature_requests::mou_id.eq(mou))
        .select(diesel::dsl::max(signature_requests::round))
        .first(conn)?;
    Ok(round.unwrap_or(0))
}

/// The requests of MOU `mou`'s latest round (empty before its first), in one statement: every
/// signature asks for it on the serial writer, so the round's number is a subquery rather than a
/// round trip of its own.
pub fn latest_round(conn: &mut DbConn, mou: &str) -> Result<Vec<SignatureRequest>, DbError> {
    let newer = diesel::alias!(signature_requests as newer);
    let latest = newer
        .filter(newer.field(signature_requests::mou_id).eq(mou))
        .select(diesel::dsl::max(newer.field(signature_requests::round)))
        .single_value();
    let rows: Vec<RequestRow> = signature_requests::table
        .filter(signature_requests::mou_id.eq(mou))
        .filter(signature_requests::round.nullable().eq(latest))
        .order((
            signature_requests::sequence_group.asc(),
            signature_requests::signer.asc(),
        ))
        .select(RequestRow::as_select())
        .load(conn)?;
    convert(rows)
}

/// One request of MOU `mou`.
pub fn get(conn: &mut DbConn, mou: &str, id: &str) -> Result<Option<SignatureRequest>, DbError> {
    let row: Option<RequestRow> = signature_requests::table
        .filter(signature_requests::mou_id.eq(mou))
        .filter(signature_requests::id.eq(id))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?;
    row.map(SignatureRequest::try_from).transpose()
}

/// One request of MOU `mou`, or the 404 problem of an unknown request.
pub fn require(conn: &mut DbConn, mou: &str, id: &str) -> Result<SignatureRequest, DbError> {
    get(conn, mou, id)?.ok_or_else(|| crate::domain::ids::RequestId::not_found(id).into())
}

/// Stores a new round's requests.
pub fn insert(conn: &mut DbConn, requests: &[SignatureRequest]) -> Result<(), DbError> {
    let rows: Vec<RequestRow> = requests.iter().map(RequestRow::from).collect();
    per_backend!(conn, |c| diesel::insert_into(signature_requests::table)
        .values(&rows)
        .execute(c))?;
    Ok(())
}

/// Moves pending requests `ids` to `state`, answered at `at` by the entry at `log_index`.
pub fn end(
    conn: &mut DbConn,
    ids: &[String],
    state: RequestState,
    at: i64,
    log_index: i64,
) -> Result<(), DbError> {
    diesel::update(
        signature_requests::table
            .filter(signature_requests::id.eq_any(ids))
            .filter(signature_requests::state.eq(RequestState::Pending.as_str())),
    )
    .set((
        signature_requests::state.eq(state.as_str()),
        signature_requests::answered_at.eq(Some(at)),
        signature_requests::answer_log_index.eq(Some(log_index)),
    ))
    .execute(conn)?;
    Ok(())
}

/// Marks request `id` signed by the chain's signature `seq`.
pub fn mark_signed(
    conn: &mut DbConn,
    id: &str,
    seq: i64,
    at: i64,
    log_index: i64,
) -> Result<(), DbError> {
    diesel::update(signature_requests::table.filter(signature_requests::id.eq(id)))
        .set((
            signature_requests::state.eq(RequestState::Signed.as_str()),
            signature_requests::answered_at.eq(Some(at)),
            signature_requests::answer_log_index.eq(Some(log_index)),
            signature_requests::signature_seq.eq(Some(seq)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks request `id` declined, with the signed statement.
pub fn mark_declined(
    conn: &mut DbConn,
    id: &str,
    reason: &str,
    statement: &[u8],
    signature: &str,
    at: i64,
    log_index: i64,
) -> Result<(), DbError> {
    diesel::update(signature_requests::table.filter(signature_requests::id.eq(id)))
        .set((
            signature_requests::state.eq(RequestState::Declined.as_str()),
            signature_requests::answered_at.eq(Some(at)),
            signature_requests::answer_log_index.eq(Some(log_index)),
            signature_requests::decline_reason.eq(Some(reason)),
            signature_requests::decline_statement.eq(Some(statement)),
            signature_requests::decline_signature.eq(Some(signature)),
        ))
        .execute(conn)?;
    Ok(())
}

/// (MOU, round) of every round with a pending request whose deadline is at or before `now`.
pub fn due_rounds(conn: &mut DbConn, now: i64) -> Result<Vec<(String, i32)>, DbError> {
    Ok(signature_requests::table
        .filter(signature_requests::state.eq(RequestState::Pending.as_str()))
        .filter(signature_requests::deadline.le(now))
        .select((signature_requests::mou_id, signature_requests::round))
        .distinct()
        .order((
            signature_requests::mou_id.asc(),
            signature_requests::round.asc(),
        ))
        .load(conn)?)
}

/// The pending requests of MOU `mou`'s round `round`.
pub fn pending_in_round(
    conn: &mut DbConn,
    mou: &str,
    round: i32,
) -> Result<Vec<SignatureRequest>, DbError> {
    let rows: Vec<RequestRow> = signature_requests::table
        .filter(signature_requests::mou_id.eq(mou))
        .filter(signature_requests::round.eq(round))
        .filter(signature_requests::state.eq(RequestState::Pending.as_str()))
        .order(signature_requests::signer.asc())
        .select(RequestRow::as_select())
        .load(conn)?;
    convert(rows)
}

/// Cancels every pending request of MOU `mou`'s latest round, with `cause`, logging one
/// `mou.requests_cancelled` entry; nothing when none is pending. Returns the entry's index.
pub fn cancel_pending(
    tx: &mut WriteTx<'_>,
    mou: &str,
    cause: CancelCause,
    city: Option<&CityCode>,
    reason: Option<String>,
    token: Option<String>,
) -> Result<Option<(i64, Vec<String>)>, DbError> {
    // Upload and withdrawal call this on every MOU: one statement when nothing is pending.
    let latest = latest_round(tx.conn, mou)?;
    let Some(round) = latest.first().map(|r| r.round) else {
        return Ok(None);
    };
    let ids: Vec<String> = latest
        .into_iter()
        .filter(|r| r.state == RequestState::Pending)
        .map(|r| r.id)
        .collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let entry = LogEntry::new(
        tx.now,
        EntryBody::MouRequestsCancelled(MouRequestsCancelled {
            mou: mou.to_string(),
            round: i64::from(round),
            requests: ids.clone(),
            cause: cause.as_str().into(),
            city: city.map(CityCode::to_string),
            reason,
            by: token,
        }),
    )?;
    let log_index = tx.append(&entry)?;
    end(tx.conn, &ids, RequestState::Cancelled, tx.now, log_index)?;
    Ok(Some((log_index, ids)))
}

/// Logs the expiry of round `round` of MOU `mou` (its pending requests, at its deadline) and
/// moves the MOU to `expired`. Nothing when no request is pending any more or the deadline
/// has not passed (another server's sweep may have been first).
pub fn expire_round(tx: &mut WriteTx<'_>, mou: &str, round: i32) -> Result<Option<i64>, DbError> {
    let pending = pending_in_round(tx.conn, mou, round)?;
    let Some(deadline) = pending.iter().map(|r| r.deadline).max() else {
        return Ok(None);
    };
    if deadline > tx.now {
        return Ok(None);
    }
    let ids: Vec<String> = pending.into_iter().map(|r| r.id).collect();
    let entry = LogEntry::new(
        tx.now,
        EntryBody::MouRequestsExpired(MouRequestsExpired {
            mou: mou.to_string(),
            round: i64::from(round),
            requests: ids.clone(),
            deadline: format_micros(deadline),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    end(tx.conn, &ids, RequestState::Expired, tx.now, log_index)?;
    let (m, p) = super::mous::require_with_partnership(tx.conn, &MouId::from_db(mou.to_string()))?;
    super::webhooks::emit(
        tx,
        super::webhooks::Event {
            event_type: crate::domain::webhooks::EventType::SignatureRequestExpired,
            cities: super::mous::party_codes(&p),
            data: serde_json::json!({
                "mou": mou,
                "title": m.title,
                "round": round,
                "requests": ids,
                "deadline": format_micros(deadline),
                "log_index": log_index,
            }),
        },
        log_index,
    )?;
    // Requests left over once the MOU executed were not needed any more: their expiry is
    // recorded, and the MOU stays executed.
    let id = MouId::from_db(mou.to_string());
    if super::mous::require(tx.conn, &id)?.state != MouState::Executed {
        super::mous::set_state(tx, &id, MouState::Expired)?;
    }
    Ok(Some(log_index))
}

/// Pending requests whose next reminder is due at `now`.
pub fn due_reminders(conn: &mut DbConn, now: i64) -> Result<Vec<(String, String)>, DbError> {
    Ok(signature_requests::table
        .filter(signature_requests::state.eq(RequestState::Pending.as_str()))
        .filter(signature_requests::next_reminder_at.le(now))
        .select((signature_requests::mou_id, signature_requests::id))
        .order(signature_requests::next_reminder_at.asc())
        .load(conn)?)
}

/// Sends the due reminder of request `id` of MOU `mou` (an outbox event for the signatory's
/// e-mail and the offices' webhooks; not a log entry) and schedules the next. Nothing when
/// the request was answered, or the reminder sent, meanwhile.
pub fn remind(tx: &mut WriteTx<'_>, mou: &str, id: &str) -> Result<bool, DbError> {
    let Some(r) = get(tx.conn, mou, id)? else {
        return Ok(false);
    };
    let due = r.state == RequestState::Pending && r.next_reminder_at.is_some_and(|t| t <= tx.now);
    if !due {
        return Ok(false);
    }
    let (m, p) = super::mous::require_with_partnership(tx.conn, &MouId::from_db(mou.to_string()))?;
    let sent = r.reminders_sent + 1;
    super::webhooks::emit(
        tx,
        super::webhooks::Event {
            event_type: crate::domain::webhooks::EventType::SignatureRequestReminder,
            cities: super::mous::party_codes(&p),
            data: serde_json::json!({
                "mou": mou,
                "title": m.title,
                "request": r.id,
                "signer": r.signer,
                "role": r.role,
                "group": r.group,
                "version": r.version,
                "deadline": format_micros(r.deadline),
                "reminder": sent,
                "log_index": r.log_index,
            }),
        },
        r.log_index,
    )?;
    let next = next_reminder(&r.reminders, r.requested_at, r.deadline, sent, tx.now);
    diesel::update(signature_requests::table.filter(signature_requests::id.eq(id)))
        .set((
            signature_requests::reminders_sent.eq(sent),
            signature_requests::next_reminder_at.eq(next),
        ))
        .execute(tx.conn)?;
    Ok(true)
}
