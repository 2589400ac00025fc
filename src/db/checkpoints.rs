//! Signed checkpoints: one per tree size that anyone asked for, each checked consistent with
//! the previous one before it is signed, all kept.

use diesel::prelude::*;

use super::schema::checkpoints;
use super::{Db, DbConn, DbError, log, tree};
use crate::log::merkle;
use crate::log::note::{Checkpoint, NoteSigner, sign_checkpoint};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = checkpoints)]
pub struct CheckpointRow {
    pub size: i64,
    pub root: Vec<u8>,
    /// The signed note exactly as it was handed out.
    pub note: String,
    pub created_at: i64,
}

pub fn latest(conn: &mut DbConn) -> Result<Option<CheckpointRow>, DbError> {
    Ok(per_backend!(conn, |c| checkpoints::table
        .order(checkpoints::size.desc())
        .select(CheckpointRow::as_select())
        .first(c)
        .optional())?)
}

pub fn at_size(conn: &mut DbConn, size: i64) -> Result<Option<CheckpointRow>, DbError> {
    Ok(checkpoints::table
        .filter(checkpoints::size.eq(size))
        .select(CheckpointRow::as_select())
        .first(conn)
        .optional()?)
}

/// The latest signed checkpoint if it is for the current log size.
pub fn up_to_date(conn: &mut DbConn) -> Result<Option<CheckpointRow>, DbError> {
    let size = log::size(conn)?;
    Ok(latest(conn)?.filter(|l| l.size == size))
}

/// The checkpoint for the current log size, signing a new one if the log grew since the
/// last. Refuses to sign a tree that is not an extension of the last signed one: that would
/// mean the stored log was rewritten, and a signature would vouch for the rewrite.
pub fn current(db: &Db, signer: &NoteSigner) -> Result<CheckpointRow, DbError> {
    if let Some(last) = db.read(up_to_date)? {
        return Ok(last);
    }
    db.write(|tx| {
        let size = tx.size();
        if let Some(existing) = at_size(tx.conn, size)? {
            return Ok(existing);
        }
        let new_size = u64::try_from(size).map_err(|_| DbError::corrupt("negative log size"))?;
        let root = tree::root(tx.conn, None, new_size)?;
        if let Some(prev) = latest(tx.conn)? {
            check_extends(tx.conn, &prev, new_size, &root)?;
        }
        let checkpoint = Checkpoint {
            origin: signer.name().to_string(),
            size: new_size,
            root,
            extensions: Vec::new(),
        };
        let note = sign_checkpoint(&checkpoint, &[signer])
            .map_err(|e| DbError::corrupt(format!("cannot sign checkpoint: {e}")))?;
        let row = CheckpointRow {
            size,
            root: root.to_vec(),
            note,
            created_at: tx.now,
        };
        diesel::insert_into(checkpoints::table)
            .values(&row)
            .execute(tx.conn)?;
        Ok(row)
    })
}

fn check_extends(
    conn: &mut DbConn,
    prev: &CheckpointRow,
    new_size: u64,
    new_root: &merkle::Hash,
) -> Result<(), DbError> {
    let refuse = |why: String| {
        tracing::error!(prev_size = prev.size, new_size, %why, "refusing to sign a checkpoint");
        DbError::corrupt(format!(
            "refusing to sign: the log at size {new_size} does not extend checkpoint {}: {why}",
            prev.size
        ))
    };
    let prev_size = u64::try_from(prev.size).map_err(|_| refuse("negative size".into()))?;
    let prev_root =
        merkle::hash_from_slice(&prev.root).map_err(|e| refuse(format!("stored root: {e}")))?;
    if prev_size > new_size {
        return Err(refuse("the log shrank".into()));
    }
    if prev_size == 0 {
        return Ok(());
    }
    let proof = tree::consistency_proof(conn, None, prev_size, new_size)?;
    merkle::verify_consistency(prev_size, new_size, &prev_root, new_root, &proof)
        .map_err(|e| refuse(e.to_string()))
}
