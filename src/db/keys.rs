//! Signatory keys, their append-only events, and the single-use registration challenges.

use crate::domain::ErrorCode;
use crate::domain::ids::{KeyId, TokenId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use rand::RngCore;

use super::error::is_unique_violation;
use super::schema::{key_challenges, key_events, signatory_keys};
use super::{DbConn, DbError, WriteTx};
use crate::crypto::keys::PublicKey;
use crate::domain::DomainError;
use crate::domain::cities::CityCode;
use crate::domain::entries::{EntryBody, KeyApproved, KeyEnded, KeyRegistered, LogEntry};
use crate::domain::keys::{
    CHALLENGE_LIFETIME_MICROS, KeyChange, KeyChangeKind, KeyStatus, Registration, SignatoryKey,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signatory_keys)]
pub struct KeyRow {
    pub id: String,
    pub fingerprint: String,
    pub public_key: Vec<u8>,
    pub city: String,
    pub signer: String,
    pub role: String,
    pub comment: Option<String>,
    pub status: String,
    pub registered_at: i64,
    pub approved_at: Option<i64>,
    pub retire_effective_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub compromised_since: Option<i64>,
    pub proof_statement: Vec<u8>,
    pub proof_signature: Vec<u8>,
    pub registered_by: Option<String>,
    pub log_index: i64,
}

impl TryFrom<KeyRow> for SignatoryKey {
    type Error = DbError;

    fn try_from(r: KeyRow) -> Result<Self, DbError> {
        let bytes: [u8; 32] = r
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| DbError::corrupt(format!("public key of {}", r.id)))?;
        let public_key = PublicKey::from_bytes(&bytes)
            .map_err(|e| DbError::corrupt(format!("public key of {}: {e}", r.id)))?;
        Ok(SignatoryKey {
            city: CityCode::parse(&r.city).map_err(|e| DbError::corrupt(e.message))?,
            id: KeyId::from_db(r.id),
            fingerprint: r.fingerprint,
            public_key,
            signer: r.signer,
            role: r.role,
            registered_at: r.registered_at,
            approved_at: r.approved_at,
            retire_effective_at: r.retire_effective_at,
            revoked_at: r.revoked_at,
            compromised_since: r.compromised_since,
            registered_by: r.registered_by,
            log_index: r.log_index,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = key_events)]
pub struct KeyEventRow {
    pub id: String,
    pub key_id: String,
    pub seq: i32,
    pub kind: String,
    pub effective_at: Option<i64>,
    pub compromised_since: Option<i64>,
    pub reason: Option<String>,
    pub recorded_by: Option<String>,
    pub recorded_at: i64,
    pub log_index: i64,
}

/// Issues a fresh challenge for `city` (256 random bits, base64url).
pub fn issue_challenge(
    conn: &mut DbConn,
    city: &CityCode,
    token_id: Option<TokenId>,
    now: i64,
) -> Result<(String, i64), DbError> {
    let token_id = token_id.map(TokenId::into_string);
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let challenge = URL_SAFE_NO_PAD.encode(bytes);
    let expires_at = now + CHALLENGE_LIFETIME_MICROS;
    // Expired challenges are of no use to anyone; sweeping them here keeps the table small.
    diesel::delete(key_challenges::table.filter(key_challenges::expires_at.lt(now)))
        .execute(conn)?;
    diesel::insert_into(key_challenges::table)
        .values((
            key_challenges::challenge.eq(&challenge),
            key_challenges::city.eq(city.as_str()),
            key_challenges::issued_by.eq(token_id),
            key_challenges::issued_at.eq(now),
            key_challenges::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok((challenge, expires_at))
}

/// Marks the challenge used, or refuses it. Runs inside the registration's transaction, so a
/// refused registration leaves the challenge usable.
fn consume_challenge(
    tx: &mut WriteTx<'_>,
    challenge: &str,
    city: &CityCode,
) -> Result<(), DbError> {
    let row: Option<(String, i64, Option<i64>)> = key_challenges::table
        .filter(key_challenges::challenge.eq(challenge))
        .select((
            key_challenges::city,
            key_challenges::expires_at,
            key_challenges::used_at,
        ))
        .first(tx.conn)
        .optional()?;
    let refuse = |code: ErrorCode, why: &str| -> DbError {
        DomainError::new(code, format!("{why}; fetch a new challenge and sign again")).into()
    };
    match row {
        None => {
            return Err(refuse(
                ErrorCode::UnknownChallenge,
                "this challenge was not issued here",
            ));
        }
        Some((c, _, _)) if c != city.as_str() => {
            return Err(refuse(
                ErrorCode::UnknownChallenge,
                "this challenge was issued for another city",
            ));
        }
        Some((_, _, Some(_))) => {
            return Err(refuse(
                ErrorCode::ChallengeUsed,
                "this challenge was already used",
            ));
        }
        Some((_, expires, None)) if expires <= tx.now => {
            return Err(refuse(
                ErrorCode::ChallengeExpired,
                "this challenge has expired",
            ));
        }
        Some(_) => {}
    }
    diesel::update(key_challenges::table.filter(key_challenges::challenge.eq(challenge)))
        .set(key_challenges::used_at.eq(Some(tx.now)))
        .execute(tx.conn)?;
    Ok(())
}

fn already_registered(fingerprint: &str) -> DbError {
    DomainError::new(
        ErrorCode::KeyAlreadyRegistered,
        format!("the key {fingerprint} is already registered; a key belongs to one signer only"),
    )
    .into()
}

/// Registers a key whose proof verified: consumes the challenge, refuses a key registered
/// before (to anyone), stores it pending (or active with auto-approval) with one log entry.
pub fn register(
    tx: &mut WriteTx<'_>,
    reg: Registration,
    auto_approve: bool,
    token_id: Option<TokenId>,
) -> Result<SignatoryKey, DbError> {
    let token_id = token_id.map(TokenId::into_string);
    consume_challenge(tx, &reg.challenge, &reg.city)?;
    let fingerprint = reg.public_key.fingerprint();
    let raw = reg.public_key.as_bytes().to_vec();
    let taken: i64 = signatory_keys::table
        .filter(
            signatory_keys::fingerprint
                .eq(&fingerprint)
                .or(signatory_keys::public_key.eq(&raw)),
        )
        .count()
        .get_result(tx.conn)?;
    if taken > 0 {
        return Err(already_registered(&fingerprint));
    }
    let id = KeyId::generate();
    let status = if auto_approve {
        KeyStatus::Active
    } else {
        KeyStatus::Pending
    };
    let entry = LogEntry::new(
        tx.now,
        EntryBody::KeyRegistered(KeyRegistered {
            key: id.to_string(),
            fingerprint: fingerprint.clone(),
            public_key: reg.public_key.to_openssh_line_without_comment(),
            city: reg.city.to_string(),
            signer: reg.signer.clone(),
            role: reg.role.clone(),
            status: status.as_str().to_string(),
            proof_sha256: hex::encode(crate::crypto::sha256(&reg.statement)),
            by: token_id.clone(),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    let row = KeyRow {
        id: id.to_string(),
        fingerprint: fingerprint.clone(),
        public_key: raw,
        city: reg.city.to_string(),
        signer: reg.signer,
        role: reg.role,
        comment: reg.public_key.comment().map(str::to_string),
        status: status.as_str().into(),
        registered_at: tx.now,
        approved_at: auto_approve.then_some(tx.now),
        retire_effective_at: None,
        revoked_at: None,
        compromised_since: None,
        proof_statement: reg.statement,
        proof_signature: reg.signature.into_bytes(),
        registered_by: token_id.clone(),
        log_index,
    };
    diesel::insert_into(signatory_keys::table)
        .values(&row)
        .execute(tx.conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                already_registered(&fingerprint)
            } else {
                DbError::from(e)
            }
        })?;
    insert_event(
        tx,
        &id,
        if auto_approve {
            "registered_approved"
        } else {
            "registered"
        },
        None,
        None,
        None,
        token_id,
        log_index,
    )?;
    SignatoryKey::try_from(row)
}

#[allow(clippy::too_many_arguments)]
fn insert_event(
    tx: &mut WriteTx<'_>,
    key_id: &KeyId,
    kind: &str,
    effective_at: Option<i64>,
    compromised_since: Option<i64>,
    reason: Option<String>,
    recorded_by: Option<String>,
    log_index: i64,
) -> Result<(), DbError> {
    let seq: Option<i32> = key_events::table
        .filter(key_events::key_id.eq(key_id.as_str()))
        .select(diesel::dsl::max(key_events::seq))
        .first(tx.conn)?;
    diesel::insert_into(key_events::table)
        .values(&KeyEventRow {
            id: uuid::Uuid::now_v7().to_string(),
            key_id: key_id.to_string(),
            seq: seq.unwrap_or(0) + 1,
            kind: kind.to_string(),
            effective_at,
            compromised_since,
            reason,
            recorded_by,
            recorded_at: tx.now,
            log_index,
        })
        .execute(tx.conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConn, id: &KeyId) -> Result<Option<SignatoryKey>, DbError> {
    signatory_keys::table
        .filter(signatory_keys::id.eq(id.as_str()))
        .select(KeyRow::as_select())
        .first(conn)
        .optional()?
        .map(SignatoryKey::try_from)
        .transpose()
}

pub fn require(conn: &mut DbConn, id: &KeyId) -> Result<SignatoryKey, DbError> {
    get(conn, id)?.ok_or_else(|| KeyId::not_found(id.as_str()).into())
}

pub fn by_fingerprint(
    conn: &mut DbConn,
    fingerprint: &str,
) -> Result<Option<SignatoryKey>, DbError> {
    per_backend!(conn, |c| signatory_keys::table
        .filter(signatory_keys::fingerprint.eq(fingerprint))
        .select(KeyRow::as_select())
        .first(c)
        .optional())?
    .map(SignatoryKey::try_from)
    .transpose()
}

/// Keys of several ids at once (for chains and audits).
pub fn by_ids(conn: &mut DbConn, ids: &[KeyId]) -> Result<Vec<SignatoryKey>, DbError> {
    let ids: Vec<&str> = ids.iter().map(KeyId::as_str).collect();
    per_backend!(conn, |c| signatory_keys::table
        .filter(signatory_keys::id.eq_any(&ids))
        .select(KeyRow::as_select())
        .load(c))?
    .into_iter()
    .map(SignatoryKey::try_from)
    .collect()
}

/// The keys that made `signatures`, each read once: a chain, a page of the signature list
/// and a bundle all name their keys this way.
pub fn of_signatures(
    conn: &mut DbConn,
    signatures: &[super::mous::SignatureRow],
) -> Result<Vec<SignatoryKey>, DbError> {
    let mut ids: Vec<KeyId> = signatures
        .iter()
        .map(|s| KeyId::from_db(s.key_id.clone()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    by_ids(conn, &ids)
}

/// Keys of a city, optionally of one signer, in registration order.
pub fn list(
    conn: &mut DbConn,
    city: &str,
    signer: Option<&str>,
) -> Result<Vec<SignatoryKey>, DbError> {
    let mut q = signatory_keys::table
        .filter(signatory_keys::city.eq(city))
        .select(KeyRow::as_select())
        .into_boxed();
    if let Some(s) = signer {
        q = q.filter(signatory_keys::signer.eq(s.to_string()));
    }
    q.order(signatory_keys::id.asc())
        .load(conn)?
        .into_iter()
        .map(SignatoryKey::try_from)
        .collect()
}

pub fn events(conn: &mut DbConn, key_id: &KeyId) -> Result<Vec<KeyEventRow>, DbError> {
    Ok(key_events::table
        .filter(key_events::key_id.eq(key_id.as_str()))
        .order(key_events::seq.asc())
        .select(KeyEventRow::as_select())
        .load(conn)?)
}

/// Approves a pending key (admin).
pub fn approve(
    tx: &mut WriteTx<'_>,
    id: &KeyId,
    token_id: Option<TokenId>,
) -> Result<(SignatoryKey, i64), DbError> {
    let token_id = token_id.map(TokenId::into_string);
    let key = require(tx.conn, id)?;
    key.check_approvable()?;
    let entry = LogEntry::new(
        tx.now,
        EntryBody::KeyApproved(KeyApproved {
            key: id.to_string(),
            fingerprint: key.fingerprint.clone(),
            by: token_id.clone(),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    diesel::update(signatory_keys::table.filter(signatory_keys::id.eq(id.as_str())))
        .set((
            signatory_keys::approved_at.eq(Some(tx.now)),
            signatory_keys::status.eq(KeyStatus::Active.as_str()),
        ))
        .execute(tx.conn)?;
    insert_event(
        tx,
        id,
        "approved",
        Some(tx.now),
        None,
        None,
        token_id,
        log_index,
    )?;
    Ok((require(tx.conn, id)?, log_index))
}

/// Retires or revokes a key. `authorize` sees the key first (its city decides who may act).
pub fn change(
    tx: &mut WriteTx<'_>,
    id: &KeyId,
    change: KeyChange,
    token_id: Option<TokenId>,
    authorize: impl FnOnce(&SignatoryKey) -> Result<(), DomainError>,
) -> Result<(SignatoryKey, i64), DbError> {
    let token_id = token_id.map(TokenId::into_string);
    let key = require(tx.conn, id)?;
    authorize(&key)?;
    change.check_applies_to(&key)?;
    let fmt = |t: Option<i64>| t.map(crate::domain::dates::format_micros);
    let ended = KeyEnded {
        key: id.to_string(),
        fingerprint: key.fingerprint.clone(),
        effective_at: fmt(change.effective_at),
        compromised_since: fmt(change.compromised_since),
        // Explicit, because an absent time means "every signature is void".
        compromise_time_known: (change.kind == KeyChangeKind::Revoke)
            .then_some(change.compromised_since.is_some()),
        reason: change.reason.clone(),
        by: token_id.clone(),
    };
    let (body, event, status) = match change.kind {
        KeyChangeKind::Retire => (EntryBody::KeyRetired(ended), "retired", KeyStatus::Retired),
        KeyChangeKind::Revoke => (EntryBody::KeyRevoked(ended), "revoked", KeyStatus::Revoked),
    };
    let entry = LogEntry::new(tx.now, body)?;
    let log_index = tx.append(&entry)?;
    let target = signatory_keys::table.filter(signatory_keys::id.eq(id.as_str()));
    match change.kind {
        KeyChangeKind::Retire => diesel::update(target)
            .set((
                signatory_keys::retire_effective_at.eq(change.effective_at),
                signatory_keys::status.eq(status.as_str()),
            ))
            .execute(tx.conn)?,
        KeyChangeKind::Revoke => diesel::update(target)
            .set((
                signatory_keys::revoked_at.eq(Some(tx.now)),
                signatory_keys::compromised_since.eq(change.compromised_since),
                signatory_keys::status.eq(status.as_str()),
            ))
            .execute(tx.conn)?,
    };
    insert_event(
        tx,
        id,
        event,
        change.effective_at,
        change.compromised_since,
        change.reason.clone(),
        token_id,
        log_index,
    )?;
    if change.kind == KeyChangeKind::Revoke {
        super::mous::reopen_after_revocation(tx, id)?;
    }
    Ok((require(tx.conn, id)?, log_index))
}

/// What a key was used for, in its key-use notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    Sign,
    Decline,
}

/// Queues the key-use notice (`key.used`, docs/notifications.md) of a signature or decline
/// made with `key`, in the transaction of its log entry: an e-mail to the key's signer and a
/// message to the webhooks of the key's city, so a signer learns at once if their key was
/// used without them. `via_link` says whether it came through the request's signing link.
#[allow(clippy::too_many_arguments)]
pub fn emit_used(
    tx: &mut WriteTx<'_>,
    key: &SignatoryKey,
    used_for: KeyUse,
    mou: &str,
    title: &str,
    version: i32,
    via_link: bool,
    log_index: i64,
) -> Result<(), DbError> {
    super::webhooks::emit(
        tx,
        super::webhooks::Event {
            event_type: crate::domain::webhooks::EventType::KeyUsed,
            cities: vec![key.city.to_string()],
            data: serde_json::json!({
                "signer": key.signer,
                "key": key.id.as_str(),
                "key_fingerprint": key.fingerprint,
                "action": match used_for { KeyUse::Sign => "sign", KeyUse::Decline => "decline" },
                "mou": mou,
                "title": title,
                "version": version,
                "submitted_through": if via_link { "signing_link" } else { "office" },
                "log_index": log_index,
            }),
        },
        log_index,
    )?;
    Ok(())
}
