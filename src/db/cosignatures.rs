//! Witness cosignatures on signed checkpoints (docs/witnessing.md): stored once verified, served
//! appended to the checkpoint note, and read back to learn what each witness cosigned last.

use diesel::prelude::*;

use super::schema::checkpoint_cosignatures as cs;
use super::{DbConn, DbError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cs)]
pub struct CosignatureRow {
    pub size: i64,
    /// The cosigner's key name.
    pub witness: String,
    pub key_id: i64,
    /// The signature line, final newline included.
    pub line: String,
    /// Seconds, from inside the cosignature.
    pub cosigned_at: i64,
    /// Microseconds, when the registry stored it.
    pub received_at: i64,
}

/// Stores a verified cosignature; a second one by the same key for the same size is kept out
/// (the first stays: rows are append-only and either verifies).
pub fn insert(conn: &mut DbConn, row: &CosignatureRow) -> Result<bool, DbError> {
    let exists = cs::table
        .filter(cs::size.eq(row.size))
        .filter(cs::witness.eq(&row.witness))
        .filter(cs::key_id.eq(row.key_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok(false);
    }
    diesel::insert_into(cs::table).values(row).execute(conn)?;
    Ok(true)
}

/// Every cosignature on the checkpoint of `size`, in a stable order (by witness name).
pub fn at_size(conn: &mut DbConn, size: i64) -> Result<Vec<CosignatureRow>, DbError> {
    Ok(cs::table
        .filter(cs::size.eq(size))
        .order((cs::witness.asc(), cs::key_id.asc()))
        .select(CosignatureRow::as_select())
        .load(conn)?)
}

/// Every cosignature on checkpoints of `min_size` or more, largest size first: what
/// `?witnessed=1` searches for a quorum.
pub fn from_size(conn: &mut DbConn, min_size: i64) -> Result<Vec<CosignatureRow>, DbError> {
    Ok(cs::table
        .filter(cs::size.ge(min_size))
        .order((cs::size.desc(), cs::witness.asc(), cs::key_id.asc()))
        .select(CosignatureRow::as_select())
        .load(conn)?)
}

/// The latest cosignature by one witness key: the size it cosigned last, as far as this
/// registry knows (a 409 from the witness corrects it).
pub fn latest_by(
    conn: &mut DbConn,
    witness: &str,
    key_id: u32,
) -> Result<Option<CosignatureRow>, DbError> {
    Ok(cs::table
        .filter(cs::witness.eq(witness))
        .filter(cs::key_id.eq(i64::from(key_id)))
        .order(cs::size.desc())
        .select(CosignatureRow::as_select())
        .first(conn)
        .optional()?)
}

/// The note a C2SP client expects: the registry's signed checkpoint followed by the
/// witnesses' cosignature lines.
pub fn cosigned_note(note: &str, rows: &[CosignatureRow]) -> String {
    let mut out = String::with_capacity(note.len() + rows.len() * 128);
    out.push_str(note);
    for r in rows {
        out.push_str(&r.line);
    }
    out
}
