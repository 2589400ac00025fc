//! Signing links (docs/browser-signing.md): the SHA-256 of each request's link token, when it
//! expires and when it was used. The token itself is computed, never stored
//! (`crypto::signing_link`).

use diesel::prelude::*;

use super::schema::signing_links;
use super::{DbConn, DbError};

/// A stored link.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = signing_links)]
pub struct LinkRow {
    pub link_sha256: String,
    pub request_id: String,
    pub mou_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Stores the link of a new request.
pub fn insert(
    conn: &mut DbConn,
    link_sha256: &str,
    request_id: &str,
    mou_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    diesel::insert_into(signing_links::table)
        .values((
            signing_links::link_sha256.eq(link_sha256),
            signing_links::request_id.eq(request_id),
            signing_links::mou_id.eq(mou_id),
            signing_links::created_at.eq(now),
            signing_links::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The link whose token hashes to `link_sha256`, if one was issued.
pub fn find(conn: &mut DbConn, link_sha256: &str) -> Result<Option<LinkRow>, DbError> {
    Ok(signing_links::table
        .filter(signing_links::link_sha256.eq(link_sha256))
        .select(LinkRow::as_select())
        .first(conn)
        .optional()?)
}

/// Marks the link used, in the transaction of the answer it carried.
pub fn mark_used(conn: &mut DbConn, link_sha256: &str, now: i64) -> Result<(), DbError> {
    diesel::update(signing_links::table.filter(signing_links::link_sha256.eq(link_sha256)))
        .set(signing_links::used_at.eq(Some(now)))
        .execute(conn)?;
    Ok(())
}
