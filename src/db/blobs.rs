//! Document bytes, stored in chunks (docs/architecture.md, "Document storage").
//!
//! A blob is one document's bytes as rows of at most `CHUNK_BYTES`, numbered from 0. An upload
//! stages its blob chunk by chunk as the bytes arrive, each chunk in a short transaction of its
//! own, so the server holds one or two chunks of a document at a time and never the whole; the
//! write that logs the upload attaches the blob in the same transaction as its log entry. A
//! download reads the chunks back one at a time. Blobs never change once attached: the audit
//! hashes them again and compares with the logged SHA-256.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::schema::{document_blobs, document_chunks};
use super::{DbConn, DbError};

/// The most bytes one chunk row holds: large enough that a 25 MiB document is 25 inserts,
/// small enough that a few uploads at once stay within a few MiB of memory.
pub const CHUNK_BYTES: usize = 1 << 20;

/// A staged blob no upload attached within this long was left behind (the client went away
/// mid-body, or the server stopped) and is removed by `remove_abandoned`. Far longer than any
/// upload within `AMITY_MAX_DOCUMENT_BYTES` takes, so a slow upload is never cut from under.
pub const ABANDONED_AFTER_MICROS: i64 = 24 * 60 * 60 * 1_000_000;

/// Starts a staged blob whose first chunk is `first`; returns its id. Like every function
/// here, it runs in the caller's transaction (`Db::staging_write`, `Db::side_write`), which
/// makes the blob and its first chunk one commit. Ids are random (63 bits), so concurrent
/// uploads on several servers never pick the same one and no backend's way of returning a
/// generated key is needed.
pub fn stage(conn: &mut DbConn, now: i64, first: &[u8]) -> Result<i64, DbError> {
    let id = loop {
        let id = (rand::random::<u64>() >> 1) as i64;
        if id != 0 {
            break id;
        }
    };
    diesel::insert_into(document_blobs::table)
        .values((
            document_blobs::id.eq(id),
            document_blobs::staged_at.eq(Some(now)),
        ))
        .execute(conn)?;
    if !first.is_empty() {
        put_chunk(conn, id, 0, first)?;
    }
    Ok(id)
}

/// Adds chunk `seq` to staged blob `id`.
pub fn put_chunk(conn: &mut DbConn, id: i64, seq: i32, data: &[u8]) -> Result<(), DbError> {
    per_backend!(conn, |c| diesel::insert_into(document_chunks::table)
        .values((
            document_chunks::blob_id.eq(id),
            document_chunks::seq.eq(seq),
            document_chunks::data.eq(data),
        ))
        .execute(c))?;
    Ok(())
}

/// Attaches staged blob `id` to the row being written in this transaction. A blob that is not
/// staged (already attached elsewhere, or removed as abandoned after a day) cannot be, and
/// the write fails: the upload must be sent again.
pub fn attach(conn: &mut DbConn, id: i64) -> Result<(), DbError> {
    let updated = diesel::update(
        document_blobs::table
            .filter(document_blobs::id.eq(id))
            .filter(document_blobs::staged_at.is_not_null()),
    )
    .set(document_blobs::staged_at.eq(None::<i64>))
    .execute(conn)?;
    if updated == 1 {
        Ok(())
    } else {
        Err(DbError::Aborted(format!(
            "staged document {id} is gone before it was stored (removed as abandoned)"
        )))
    }
}

/// Removes staged blob `id` and its chunks (an upload that failed); attached blobs are never
/// touched.
pub fn discard(conn: &mut DbConn, id: i64) -> Result<(), DbError> {
    let staged = document_blobs::table
        .filter(document_blobs::id.eq(id))
        .filter(document_blobs::staged_at.is_not_null());
    if diesel::select(diesel::dsl::exists(staged)).get_result::<bool>(conn)? {
        diesel::delete(document_chunks::table.filter(document_chunks::blob_id.eq(id)))
            .execute(conn)?;
        diesel::delete(document_blobs::table.filter(document_blobs::id.eq(id))).execute(conn)?;
    }
    Ok(())
}

/// Removes the blobs staged before `now - ABANDONED_AFTER_MICROS` and never attached;
/// returns how many.
pub fn remove_abandoned(conn: &mut DbConn, now: i64) -> Result<usize, DbError> {
    let cutoff = now.saturating_sub(ABANDONED_AFTER_MICROS);
    let ids: Vec<i64> = document_blobs::table
        .filter(document_blobs::staged_at.lt(cutoff))
        .select(document_blobs::id)
        .load(conn)?;
    for id in &ids {
        discard(conn, *id)?;
    }
    Ok(ids.len())
}

/// Chunk `seq` of blob `id`, if it has one.
pub fn chunk(conn: &mut DbConn, id: i64, seq: i32) -> Result<Option<Vec<u8>>, DbError> {
    Ok(per_backend!(conn, |c| document_chunks::table
        .filter(document_chunks::blob_id.eq(id))
        .filter(document_chunks::seq.eq(seq))
        .select(document_chunks::data)
        .first(c)
        .optional())?)
}

/// How many chunks a blob of `size` bytes has.
pub fn chunk_count(size: i64) -> i32 {
    let size = usize::try_from(size).unwrap_or(0);
    i32::try_from(size.div_ceil(CHUNK_BYTES)).unwrap_or(i32::MAX)
}

/// The SHA-256 of blob `id`'s bytes as stored now, read one chunk at a time (the audit's
/// check that no document changed since it was logged).
pub fn sha256(conn: &mut DbConn, id: i64) -> Result<[u8; 32], DbError> {
    let mut hasher = Sha256::new();
    let mut seq = 0;
    while let Some(data) = chunk(conn, id, seq)? {
        hasher.update(&data);
        seq += 1;
    }
    Ok(hasher.finalize().into())
}
