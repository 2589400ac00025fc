//! The append-only log table and its one-row head.

use diesel::prelude::*;

use super::schema::{log_entries, log_head};
use super::{DbConn, DbError};

/// Takes the write lock on the log head and returns the current size. The UPDATE comes first
/// in every write transaction: on PostgreSQL it locks the head row until commit, on SQLite it
/// takes the database write lock, so appends are serialized by the database itself.
pub fn lock_head(conn: &mut DbConn) -> Result<i64, DbError> {
    per_backend!(conn, |c| diesel::update(
        log_head::table.filter(log_head::id.eq(1))
    )
    .set(log_head::size.eq(log_head::size))
    .execute(c))?;
    size(conn)
}

pub fn store_head(conn: &mut DbConn, size: i64) -> Result<(), DbError> {
    per_backend!(conn, |c| diesel::update(
        log_head::table.filter(log_head::id.eq(1))
    )
    .set(log_head::size.eq(size))
    .execute(c))?;
    Ok(())
}

/// The committed log size.
pub fn size(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(per_backend!(conn, |c| log_head::table
        .filter(log_head::id.eq(1))
        .select(log_head::size)
        .first(c))?)
}

/// One stored entry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = log_entries)]
pub struct EntryRow {
    pub idx: i64,
    pub leaf_hash: Vec<u8>,
    pub entry: Vec<u8>,
    pub kind: String,
    pub logged_at: i64,
}

pub fn entry(conn: &mut DbConn, index: i64) -> Result<Option<EntryRow>, DbError> {
    Ok(per_backend!(conn, |c| log_entries::table
        .filter(log_entries::idx.eq(index))
        .select(EntryRow::as_select())
        .first(c)
        .optional())?)
}

/// Entries `[start, start + limit)` in index order.
pub fn entries(conn: &mut DbConn, start: i64, limit: i64) -> Result<Vec<EntryRow>, DbError> {
    Ok(log_entries::table
        .filter(log_entries::idx.ge(start))
        .order(log_entries::idx.asc())
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// Rows per multi-row INSERT: well under the bind-parameter limits of both backends.
pub const BATCH_ROWS: usize = 1000;
