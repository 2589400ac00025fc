//! Signing through a link (docs/browser-signing.md): what a requested signatory may do with
//! the capability URL of their signature request, and nothing more. The link names one
//! request; every step here re-checks it (issued here, not used, not expired, request still
//! pending) and keeps to that request's signer, role, MOU and version. The signatory's private
//! key never reaches these functions: they take public keys, statements and SSHSIGs, checked
//! by the same parsers and acceptance rules as submissions by an office.

use crate::crypto::signing_link::{token_hash, well_formed};
use crate::db::signing_links::LinkRow;
use crate::db::{self, DbConn, DbError, WriteTx};
use crate::domain::cities::CityCode;
use crate::domain::ids::MouId;
use crate::domain::keys::{Registration, SignatoryKey};
use crate::domain::mous::{Mou, Version};
use crate::domain::partnerships::Partnership;
use crate::domain::requests::{
    RequestState, SignatureRequest, decline_statement_for, parse_decline, validate_decline_reason,
};
use crate::domain::signatures::{parse_submission, statement_for};
use crate::domain::{DomainError, ErrorCode};

/// A link that works, and the request it is bound to.
#[derive(Debug, Clone)]
pub struct OpenLink {
    pub link: LinkRow,
    pub request: SignatureRequest,
}

fn refused(code: ErrorCode, message: impl Into<String>) -> DbError {
    DomainError::new(code, message).into()
}

/// The link behind `token`, if it may still be used at `now`. Refusals, most final first:
/// never issued (404), used (410), the request answered or cancelled another way (410),
/// past its deadline (410).
pub fn resolve(conn: &mut DbConn, token: &str, now: i64) -> Result<OpenLink, DbError> {
    let unknown = || {
        refused(
            ErrorCode::SigningLinkNotFound,
            "this signing link is not valid: it may be cut short or mistyped; open the link from the e-mail again, or ask your office for a new one",
        )
    };
    if !well_formed(token) {
        return Err(unknown());
    }
    let link = db::signing_links::find(conn, &token_hash(token))?.ok_or_else(unknown)?;
    let request = db::requests::require(conn, &link.mou_id, &link.request_id)?;
    if link.used_at.is_some() {
        return Err(refused(
            ErrorCode::SigningLinkUsed,
            format!(
                "this signing link was used: the request is {}; a link works once",
                request.state.as_str()
            ),
        ));
    }
    if request.state != RequestState::Pending {
        return Err(refused(
            ErrorCode::SigningLinkClosed,
            format!(
                "this signing link no longer works: the request is {}",
                request.state.as_str()
            ),
        ));
    }
    if now >= link.expires_at.min(request.deadline) {
        return Err(refused(
            ErrorCode::SigningLinkExpired,
            "this signing link has expired with its request's deadline; ask the office for a new round",
        ));
    }
    Ok(OpenLink { link, request })
}

/// What the signing page shows.
#[derive(Debug, Clone)]
pub struct SigningContext {
    pub open: OpenLink,
    pub mou: Mou,
    pub partnership: Partnership,
    pub version: Version,
    /// The signer's registered keys for the request's role, every status.
    pub keys: Vec<SignatoryKey>,
    /// Signers of earlier groups of the round who have not signed yet.
    pub waiting_for: Vec<String>,
    /// The names of the signer's city and of the partner city, by code.
    pub city_names: Vec<(String, String)>,
}

/// Everything the page needs about the link's request, in one read.
pub fn context(conn: &mut DbConn, token: &str, now: i64) -> Result<SigningContext, DbError> {
    let open = resolve(conn, token, now)?;
    let id = MouId::from_db(open.request.mou_id.clone());
    let (mou, partnership) = db::mous::require_with_partnership(conn, &id)?;
    let version = db::mous::version(conn, &id, open.request.version)?
        .ok_or_else(|| DbError::corrupt("a request for a version that does not exist"))?;
    let keys = db::keys::list(conn, &open.request.signer_city, Some(&open.request.signer))?
        .into_iter()
        .filter(|k| k.role == open.request.role)
        .collect();
    let waiting_for = db::requests::latest_round(conn, id.as_str())?
        .into_iter()
        .filter(|r| r.group < open.request.group && r.state == RequestState::Pending)
        .map(|r| r.signer)
        .collect();
    let mut city_names = Vec::new();
    for code in partnership.parties() {
        if let Some(record) = db::cities::get(conn, code.as_str())? {
            city_names.push((code.to_string(), record.city.name.clone()));
        }
    }
    Ok(SigningContext {
        open,
        mou,
        partnership,
        version,
        keys,
        waiting_for,
        city_names,
    })
}

/// The signer's key with this fingerprint, usable for the request now.
fn signers_key(
    conn: &mut DbConn,
    request: &SignatureRequest,
    fingerprint: &str,
    now: i64,
) -> Result<SignatoryKey, DbError> {
    let key = db::keys::by_fingerprint(conn, fingerprint)?.ok_or_else(|| {
        refused(
            ErrorCode::UnknownKey,
            format!("no registered key has the fingerprint {fingerprint}; register it first"),
        )
    })?;
    if key.signer != request.signer {
        return Err(refused(
            ErrorCode::SigningLinkMismatch,
            format!(
                "the key {fingerprint} belongs to `{}`, and this link is for `{}`",
                key.signer, request.signer
            ),
        ));
    }
    if key.role != request.role {
        return Err(refused(
            ErrorCode::RoleMismatch,
            format!(
                "the key {fingerprint} is registered for the role `{}`; the request is for `{}`",
                key.role, request.role
            ),
        ));
    }
    key.check_can_sign(now)?;
    Ok(key)
}

fn utc_seconds(micros: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The exact statement bytes the signatory signs with the key `fingerprint`: a signature at
/// the chain head, or, with a reason, a decline of the request.
pub fn statement(
    conn: &mut DbConn,
    token: &str,
    now: i64,
    fingerprint: &str,
    decline_reason: Option<&str>,
    registry: &str,
) -> Result<Vec<u8>, DbError> {
    let open = resolve(conn, token, now)?;
    let request = &open.request;
    let key = signers_key(conn, request, fingerprint, now)?;
    let id = MouId::from_db(request.mou_id.clone());
    let mou = db::mous::require(conn, &id)?;
    let documents = db::mous::version_commitment(conn, &id, request.version)?
        .ok_or_else(|| DbError::corrupt("a request for a version without a document"))?;
    let bytes = match decline_reason {
        Some(reason) => {
            validate_decline_reason(reason)?;
            decline_statement_for(
                request,
                &documents,
                &key,
                reason,
                registry,
                &utc_seconds(now),
            )
            .to_bytes()
        }
        None => statement_for(
            &mou,
            &documents,
            &key,
            &request.role,
            registry,
            &utc_seconds(now),
        )
        .to_bytes(),
    };
    bytes.map_err(|e| crate::domain::keys::statement_error(e).into())
}

/// A key-registration challenge for the link's signer's city.
pub fn challenge(conn: &mut DbConn, token: &str, now: i64) -> Result<(String, i64), DbError> {
    let open = resolve(conn, token, now)?;
    let city = signer_city(&open.request)?;
    db::keys::issue_challenge(conn, &city, None, now)
}

/// The city of the link's signer, as a code.
pub fn signer_city(request: &SignatureRequest) -> Result<CityCode, DbError> {
    CityCode::parse(&request.signer_city)
        .map_err(|_| DbError::corrupt("a stored request names an invalid city code"))
}

/// Registers the signatory's key (its proof already verified for the link's signer, role
/// and city), pending an admin's approval unless the registry auto-approves.
pub fn register_key(
    tx: &mut WriteTx<'_>,
    token: &str,
    registration: Registration,
    auto_approve: bool,
) -> Result<SignatoryKey, DbError> {
    let open = resolve(tx.conn, token, tx.now)?;
    if registration.signer != open.request.signer
        || registration.role != open.request.role
        || registration.city.as_str() != open.request.signer_city
    {
        return Err(refused(
            ErrorCode::SigningLinkMismatch,
            format!(
                "this link registers keys for `{}` as {} only",
                open.request.signer, open.request.role
            ),
        ));
    }
    db::keys::register(tx, registration, auto_approve, None)
}

/// What an answer through the link did.
#[derive(Debug, Clone)]
pub struct Answered {
    pub action: &'static str,
    pub log_index: i64,
    pub mou: Mou,
    /// The chain position of a signature.
    pub seq: Option<i64>,
}

/// Submits the signatory's signature or decline (told apart by the statement's `action`),
/// checked by the same code as an office's submission, and marks the link used in the same
/// transaction. A statement for another signer, MOU or request is refused.
pub fn answer(
    tx: &mut WriteTx<'_>,
    token: &str,
    statement_b64: &str,
    signature: &str,
    registry: &str,
) -> Result<Answered, DbError> {
    let open = resolve(tx.conn, token, tx.now)?;
    let request = &open.request;
    let id = MouId::from_db(request.mou_id.clone());
    let city = signer_city(request)?;
    let mismatch = |what: &str| {
        refused(
            ErrorCode::SigningLinkMismatch,
            format!(
                "the statement is for {what}; this link is for `{}` on version {} of MOU `{}`",
                request.signer, request.version, request.mou_id
            ),
        )
    };
    let answered = match statement_action(statement_b64) {
        Some(Action::Decline) => {
            let sub = parse_decline(
                statement_b64,
                signature,
                registry,
                &request.mou_id,
                &request.id,
            )?;
            if sub.statement.signer != request.signer {
                return Err(mismatch(&format!("`{}`", sub.statement.signer)));
            }
            let done =
                super::requests::decline_as(tx, &city, None, &id, &request.id, sub, registry)?;
            Answered {
                action: "decline",
                log_index: done.log_index,
                mou: done.mou,
                seq: None,
            }
        }
        _ => {
            let sub = parse_submission(statement_b64, signature, registry, &request.mou_id)
                .map_err(|e| {
                    if e.code == ErrorCode::StatementMouMismatch {
                        mismatch("another MOU")
                    } else {
                        e.into()
                    }
                })?;
            if sub.statement.signer != request.signer {
                return Err(mismatch(&format!("`{}`", sub.statement.signer)));
            }
            if sub.statement.mou_version != u64::try_from(request.version).unwrap_or(0) {
                return Err(mismatch(&format!("version {}", sub.statement.mou_version)));
            }
            let accepted = db::mous::add_signature(tx, &id, sub, &city, registry, None)?;
            Answered {
                action: "sign",
                log_index: accepted.log_index,
                mou: accepted.mou,
                seq: Some(accepted.seq),
            }
        }
    };
    db::signing_links::mark_used(tx.conn, &open.link.link_sha256, tx.now)?;
    Ok(answered)
}

enum Action {
    Decline,
}

/// Whether the statement declares itself a decline; anything else is parsed as a signature,
/// whose strict parser then says what is wrong with it.
fn statement_action(statement_b64: &str) -> Option<Action> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(statement_b64.trim())
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    (value.get("action")? == "decline").then_some(Action::Decline)
}

/// Document `position` of the request's version, for the signatory to read before signing.
pub fn document(
    conn: &mut DbConn,
    token: &str,
    now: i64,
    position: i32,
) -> Result<Option<db::mous::StoredDocument>, DbError> {
    let open = resolve(conn, token, now)?;
    let id = MouId::from_db(open.request.mou_id.clone());
    db::mous::document(conn, &id, open.request.version, position)
}
