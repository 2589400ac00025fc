//! Signature requests (docs/signing-workflow.md): sending a round, declining, cancelling, and
//! the expiry of rounds whose deadline passed. Each step logs its entry and moves the stored
//! requests and the MOU in the same transaction.

use crate::crypto::signing_link::LinkKey;
use crate::db::{self, Db, DbError, WriteTx};
use crate::domain::access::{require_office, require_party_office};
use crate::domain::cities::CityCode;
use crate::domain::entries::{
    EntryBody, LogEntry, LoggedRequest, MouRequestDeclined, MouSignaturesRequested,
};
use crate::domain::ids::{MouId, RequestId};
use crate::domain::mous::{Mou, MouState};
use crate::domain::requests::{
    CancelCause, DeclineSubmission, ReminderPlan, RequestState, RequestedSigner, SignatureRequest,
    check_covers_requirements, check_decline, next_reminder, validate_reminders, validate_round,
};
use crate::domain::tokens::Principal;
use crate::domain::webhooks::EventType;
use crate::domain::{DomainError, ErrorCode};
use serde_json::json;

/// A round as an office asks for it, validated for shape.
#[derive(Debug, Clone)]
pub struct NewRound {
    pub deadline: i64,
    pub requests: Vec<RequestedSigner>,
    pub reminders: ReminderPlan,
}

/// What sending a round did.
#[derive(Debug, Clone)]
pub struct RoundSent {
    pub round: i32,
    pub requests: Vec<SignatureRequest>,
    pub log_index: i64,
    pub mou: Mou,
}

fn draft(mou: &Mou) -> DbError {
    DomainError::new(
        ErrorCode::MouDraft,
        format!(
            "MOU `{}` has no document version yet; upload one before asking for signatures",
            mou.id
        ),
    )
    .into()
}

/// An office of a party city asks named signatories to sign the current version. Pending
/// requests of an earlier round are cancelled first (cause `new_round`); a declined or expired
/// MOU is open again.
pub fn send_round(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    id: &MouId,
    round: NewRound,
    links: &LinkKey,
) -> Result<RoundSent, DbError> {
    require_office(principal)?;
    let (mou, p) = db::mous::require_with_partnership(tx.conn, id)?;
    let city = require_party_office(principal, &p.parties())?.clone();
    mou.check_not_withdrawn()?;
    if mou.current_version == 0 {
        return Err(draft(&mou));
    }
    validate_round(&round.requests, round.deadline, tx.now, p.parties())?;
    validate_reminders(&round.reminders)?;
    let signed = db::mous::signers_of(tx.conn, id, mou.current_version)?;
    for r in &round.requests {
        if signed.iter().any(|s| s.signer == r.signer) {
            return Err(DomainError::new(
                ErrorCode::AlreadySigned,
                format!(
                    "`{}` already signed version {}; ask only those who have not",
                    r.signer, mou.current_version
                ),
            )
            .into());
        }
        let keys = db::keys::list(tx.conn, r.city.as_str(), Some(&r.signer))?;
        let now = tx.now;
        let usable = keys.iter().any(|k| {
            k.role == r.role
                && k.revoked_at.is_none()
                && k.retire_effective_at.is_none_or(|t| t > now)
        });
        // A signatory without a key yet may still be asked when the office keeps their
        // address: the request e-mail brings the signing link, where they create one
        // (docs/browser-signing.md). Anyone else is most likely a mistyped handle.
        if !usable && !db::mail::has_contact(tx.conn, &r.signer)? {
            return Err(DomainError::new(
                ErrorCode::SignerNotRegistered,
                format!(
                    "`{}` has no registered key for the role `{}` and no contact address to send the signing link to; register their key (`amity keys register`) or their address (`POST /api/v1/cities/{{code}}/contacts/{{signer}}`) first",
                    r.signer, r.role
                ),
            )
            .into());
        }
    }
    check_covers_requirements(&mou.required, &signed, &round.requests)?;
    let version = db::mous::current_version(tx.conn, &mou)?
        .ok_or_else(|| DbError::corrupt("MOU with a version but no document hash"))?;
    let doc = version.sha256;
    let token = principal.map(|p| p.token_id.to_string());
    db::requests::cancel_pending(
        tx,
        id.as_str(),
        CancelCause::NewRound,
        Some(&city),
        None,
        token.clone(),
    )?;
    let number = db::requests::latest_round_number(tx.conn, id.as_str())? + 1;
    let mut requests: Vec<SignatureRequest> = round
        .requests
        .iter()
        .map(|r| SignatureRequest {
            id: RequestId::generate().into_string(),
            mou_id: id.to_string(),
            round: number,
            version: mou.current_version,
            signer: r.signer.clone(),
            signer_city: r.city.to_string(),
            role: r.role.clone(),
            group: r.group,
            deadline: round.deadline,
            state: RequestState::Pending,
            requested_by_city: city.to_string(),
            requested_by: token.clone(),
            requested_at: tx.now,
            log_index: 0,
            answered_at: None,
            answer_log_index: None,
            signature_seq: None,
            decline_reason: None,
            decline_statement: None,
            decline_signature: None,
            reminders: round.reminders,
            reminders_sent: 0,
            next_reminder_at: next_reminder(&round.reminders, tx.now, round.deadline, 0, tx.now),
        })
        .collect();
    requests.sort_by(|a, b| (a.group, &a.signer).cmp(&(b.group, &b.signer)));
    let entry = LogEntry::new(
        tx.now,
        EntryBody::MouSignaturesRequested(MouSignaturesRequested {
            mou: id.to_string(),
            round: i64::from(number),
            version: i64::from(mou.current_version),
            doc_sha256: hex::encode(doc),
            deadline: crate::domain::dates::format_micros(round.deadline),
            requests: requests
                .iter()
                .map(|r| LoggedRequest {
                    request: r.id.clone(),
                    signer: r.signer.clone(),
                    role: r.role.clone(),
                    group: i64::from(r.group),
                })
                .collect(),
            city: city.to_string(),
            by: token,
        }),
    )?;
    let log_index = tx.append(&entry)?;
    for r in &mut requests {
        r.log_index = log_index;
    }
    db::requests::insert(tx.conn, &requests)?;
    // Each request's signing link (docs/browser-signing.md), valid until the deadline; the
    // request e-mail carries it, computed again from the request id when it is sent.
    for r in &requests {
        db::signing_links::insert(
            tx.conn,
            &links.stored_hash(&r.id),
            &r.id,
            id.as_str(),
            tx.now,
            round.deadline,
        )?;
    }
    db::webhooks::emit(
        tx,
        db::webhooks::Event {
            event_type: EventType::SignatureRequestSent,
            cities: db::mous::party_codes(&p),
            data: json!({
                "mou": id.as_str(),
                "title": mou.title,
                "partnership": p.id.as_str(),
                "round": number,
                "version": mou.current_version,
                "doc_sha256": hex::encode(doc),
                "documents": version.documents_json(),
                "deadline": crate::domain::dates::format_micros(round.deadline),
                "requested_by_city": city.as_str(),
                "requests": requests.iter().map(|r| json!({
                    "id": r.id, "signer": r.signer, "role": r.role, "group": r.group,
                })).collect::<Vec<_>>(),
                "log_index": log_index,
            }),
        },
        log_index,
    )?;
    if matches!(mou.state, MouState::Declined | MouState::Expired) {
        db::mous::set_state(tx, id, MouState::Open)?;
    }
    Ok(RoundSent {
        round: number,
        requests,
        log_index,
        mou: db::mous::require(tx.conn, id)?,
    })
}

/// What a decline did.
#[derive(Debug, Clone)]
pub struct Declined {
    pub request: SignatureRequest,
    pub log_index: i64,
    pub mou: Mou,
}

/// A requested signatory declines, in a decline statement signed with their registered key,
/// submitted by the office of their city. Unless the MOU is already executed, the round ends:
/// the MOU is `declined` and the round's other pending requests are cancelled.
pub fn decline(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    id: &MouId,
    request_id: &str,
    sub: DeclineSubmission,
    registry: &str,
) -> Result<Declined, DbError> {
    let office_city = require_office(principal)?.city.clone();
    let token = principal.map(|p| p.token_id.to_string());
    decline_as(tx, &office_city, token, id, request_id, sub, registry)
}

/// A decline submitted for the city `office_city`: by its office (`token` names the office's
/// token) or through the request's signing link (`token` is none).
pub(crate) fn decline_as(
    tx: &mut WriteTx<'_>,
    office_city: &CityCode,
    token: Option<String>,
    id: &MouId,
    request_id: &str,
    sub: DeclineSubmission,
    registry: &str,
) -> Result<Declined, DbError> {
    let (mou, p) = db::mous::require_with_partnership(tx.conn, id)?;
    mou.check_not_withdrawn()?;
    let request = db::requests::require(tx.conn, id.as_str(), request_id)?;
    if request.signer_city != office_city.as_str() {
        return Err(DomainError::new(
            ErrorCode::SignerNotOfYourCity,
            format!(
                "the signer `{}` belongs to `{}`; only that city's office may submit the decline",
                request.signer, request.signer_city
            ),
        )
        .into());
    }
    let doc = db::mous::version_commitment(tx.conn, id, request.version)?
        .ok_or_else(|| DbError::corrupt("request for a version without a document"))?;
    let key = db::keys::by_fingerprint(tx.conn, &sub.statement.signer_key)?;
    check_decline(&sub, &request, &doc, key.as_ref(), registry, tx.now)?;
    let key = key.ok_or_else(|| DbError::corrupt("accepted decline without key"))?;
    let statement_text = String::from_utf8(sub.bytes.clone())
        .map_err(|_| DbError::corrupt("decline statement is not UTF-8 after parsing"))?;
    let entry = LogEntry::new(
        tx.now,
        EntryBody::MouRequestDeclined(MouRequestDeclined {
            mou: id.to_string(),
            round: i64::from(request.round),
            request: request.id.clone(),
            version: i64::from(request.version),
            signer: request.signer.clone(),
            role: request.role.clone(),
            key: key.id.to_string(),
            key_fingerprint: key.fingerprint.clone(),
            reason: sub.statement.reason.clone(),
            statement: statement_text,
            signature: sub.armored.clone(),
            by: token.clone(),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    db::keys::emit_used(
        tx,
        &key,
        db::keys::KeyUse::Decline,
        id.as_str(),
        &mou.title,
        request.version,
        token.is_none(),
        log_index,
    )?;
    db::requests::mark_declined(
        tx.conn,
        &request.id,
        &sub.statement.reason,
        &sub.bytes,
        &sub.armored,
        tx.now,
        log_index,
    )?;
    db::webhooks::emit(
        tx,
        db::webhooks::Event {
            event_type: EventType::SignatureRequestDeclined,
            cities: db::mous::party_codes(&p),
            data: json!({
                "mou": id.as_str(),
                "title": mou.title,
                "request": request.id,
                "signer": request.signer,
                "role": request.role,
                "version": request.version,
                "reason": sub.statement.reason,
                "log_index": log_index,
            }),
        },
        log_index,
    )?;
    if mou.state != MouState::Executed {
        db::requests::cancel_pending(tx, id.as_str(), CancelCause::Declined, None, None, token)?;
        db::mous::set_state(tx, id, MouState::Declined)?;
    }
    let request = db::requests::require(tx.conn, id.as_str(), request_id)?;
    Ok(Declined {
        request,
        log_index,
        mou: db::mous::require(tx.conn, id)?,
    })
}

/// An office of a party city cancels the pending requests of the MOU's current round, with a
/// reason. The MOU's state does not change.
pub fn cancel(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    id: &MouId,
    reason: String,
) -> Result<(i64, Vec<String>), DbError> {
    require_office(principal)?;
    let (mou, p) = db::mous::require_with_partnership(tx.conn, id)?;
    let city = require_party_office(principal, &p.parties())?.clone();
    mou.check_not_withdrawn()?;
    let token = principal.map(|p| p.token_id.to_string());
    db::requests::cancel_pending(
        tx,
        id.as_str(),
        CancelCause::Office,
        Some(&city),
        Some(reason),
        token,
    )?
    .ok_or_else(|| {
        DomainError::new(
            ErrorCode::NoPendingRequests,
            format!("MOU `{id}` has no pending signature request"),
        )
        .into()
    })
}

/// Logs the expiry of every round whose deadline has passed, one write per round; returns how
/// many rounds expired. Safe to run on several servers at once: each write re-reads the round
/// under the log-head lock and does nothing when another was first.
pub fn expire_due(db: &Db) -> Result<usize, DbError> {
    let now = db.now();
    let due = db.read(|c| db::requests::due_rounds(c, now))?;
    let mut expired = 0;
    for (mou, round) in due {
        if db
            .write(|tx| db::requests::expire_round(tx, &mou, round))?
            .is_some()
        {
            expired += 1;
        }
    }
    Ok(expired)
}

/// Sends every reminder that is due, one write per request; returns how many were sent.
/// Like the expiry, safe on several servers at once.
pub fn remind_due(db: &Db) -> Result<usize, DbError> {
    let now = db.now();
    let due = db.read(|c| db::requests::due_reminders(c, now))?;
    let mut sent = 0;
    for (mou, id) in due {
        if db.write(|tx| db::requests::remind(tx, &mou, &id))? {
            sent += 1;
        }
    }
    Ok(sent)
}
