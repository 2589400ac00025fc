//! Tokens table: only SHA-256 hashes of tokens are stored.

use crate::domain::ErrorCode;
use crate::domain::ids::TokenId;
use diesel::prelude::*;
use subtle::ConstantTimeEq;

use super::schema::{offices, tokens};
use super::{DbConn, DbError, WriteTx, offices as office_repo};
use crate::crypto::{new_token, token_hash};
use crate::domain::DomainError;
use crate::domain::cities::CityCode;
use crate::domain::entries::{EntryBody, LogEntry, TokenIssued, TokenRevoked};
use crate::domain::tokens::{OfficeBinding, Role, TokenRecord, TokenRequest};

/// A freshly issued token: the only moment the secret exists outside the client.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub id: TokenId,
    pub token: String,
    pub role: Role,
    pub office_id: Option<String>,
    pub city: Option<String>,
    pub expires_at: Option<i64>,
    pub log_index: i64,
}

pub fn issue(tx: &mut WriteTx<'_>, request: TokenRequest) -> Result<IssuedToken, DbError> {
    let city = match &request.office_id {
        Some(office) => Some(office_repo::require(tx.conn, office)?.city),
        None => None,
    };
    let id = TokenId::generate();
    let token = new_token();
    let entry = LogEntry::new(
        tx.now,
        EntryBody::TokenIssued(TokenIssued {
            token: id.to_string(),
            role: request.role.as_str().to_string(),
            office: request.office_id.clone(),
            expires_at: request.expires_at.map(crate::domain::dates::format_micros),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    diesel::insert_into(tokens::table)
        .values((
            tokens::id.eq(id.as_str()),
            tokens::token_hash.eq(token_hash(&token).to_vec()),
            tokens::role.eq(request.role.as_str()),
            tokens::office_id.eq(&request.office_id),
            tokens::created_at.eq(tx.now),
            tokens::expires_at.eq(request.expires_at),
            tokens::log_index.eq(log_index),
        ))
        .execute(tx.conn)?;
    Ok(IssuedToken {
        id,
        token,
        role: request.role,
        office_id: request.office_id,
        city,
        expires_at: request.expires_at,
        log_index,
    })
}

/// A token with the city of its office, as one query returns them.
#[derive(Queryable)]
struct TokenLookupRow {
    id: String,
    token_hash: Vec<u8>,
    role: String,
    office_id: Option<String>,
    city: Option<String>,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// Looks a presented token up by its hash. The lookup reveals nothing about the secret (it
/// keys on a hash); the constant-time compare guards the final equality all the same.
pub fn find(conn: &mut DbConn, token: &str) -> Result<Option<TokenRecord>, DbError> {
    let hash = token_hash(token);
    let row: Option<TokenLookupRow> = per_backend!(conn, |c| tokens::table
        .left_join(offices::table)
        .filter(tokens::token_hash.eq(hash.to_vec()))
        .select((
            tokens::id,
            tokens::token_hash,
            tokens::role,
            tokens::office_id,
            offices::city.nullable(),
            tokens::expires_at,
            tokens::revoked_at,
        ))
        .first(c)
        .optional())?;
    let Some(TokenLookupRow {
        id,
        token_hash: stored,
        role,
        office_id,
        city,
        expires_at,
        revoked_at,
    }) = row
    else {
        return Ok(None);
    };
    if !bool::from(stored.as_slice().ct_eq(&hash)) {
        return Ok(None);
    }
    let role = Role::parse(&role).ok_or_else(|| DbError::corrupt(format!("token role {role}")))?;
    let office = match (office_id, city) {
        (Some(office_id), Some(city)) => Some(OfficeBinding {
            office_id,
            city: CityCode::parse(&city).map_err(|e| DbError::corrupt(e.message))?,
        }),
        _ => None,
    };
    Ok(Some(TokenRecord {
        id: TokenId::from_db(id),
        role,
        office,
        expires_at,
        revoked_at,
    }))
}

/// Whether token `id` was issued as an association's and is neither revoked nor expired at
/// `now`: the only tokens that may keep a city group.
pub fn is_live_association(conn: &mut DbConn, id: &str, now: i64) -> Result<bool, DbError> {
    let row: Option<(String, Option<i64>, Option<i64>)> = tokens::table
        .filter(tokens::id.eq(id))
        .select((tokens::role, tokens::expires_at, tokens::revoked_at))
        .first(conn)
        .optional()?;
    Ok(row.is_some_and(|(role, expires_at, revoked_at)| {
        role == Role::Association.as_str()
            && revoked_at.is_none()
            && expires_at.is_none_or(|t| t > now)
    }))
}

/// Revokes a token; revoking twice is a conflict, an unknown id is not found.
pub fn revoke(tx: &mut WriteTx<'_>, id: &TokenId) -> Result<i64, DbError> {
    let revoked: Option<Option<i64>> = tokens::table
        .filter(tokens::id.eq(id.as_str()))
        .select(tokens::revoked_at)
        .first(tx.conn)
        .optional()?;
    match revoked {
        None => {
            return Err(TokenId::not_found(id.as_str()).into());
        }
        Some(Some(_)) => {
            return Err(DomainError::new(
                ErrorCode::TokenAlreadyRevoked,
                format!("token `{id}` is already revoked"),
            )
            .into());
        }
        Some(None) => {}
    }
    let entry = LogEntry::new(
        tx.now,
        EntryBody::TokenRevoked(TokenRevoked {
            token: id.to_string(),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    diesel::update(tokens::table.filter(tokens::id.eq(id.as_str())))
        .set(tokens::revoked_at.eq(Some(tx.now)))
        .execute(tx.conn)?;
    Ok(log_index)
}
