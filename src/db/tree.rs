//! The Merkle tree's stored nodes: the database side of `log::merkle`.

use diesel::prelude::*;

use super::node_cache::NodeCache;
use super::schema::{log_entries, log_nodes};
use super::{DbConn, DbError};
use crate::log::merkle::{self, Hash, MerkleError, NodeSource};

/// Reads stored complete-subtree hashes through a connection (inside or outside a write),
/// through `cache` when given. Give a cache only with a read connection: a node read inside a
/// write may be one the write stored and a rollback removes (`node_cache.rs`).
pub struct DbNodes<'a> {
    pub conn: &'a mut DbConn,
    pub cache: Option<&'a NodeCache>,
}

impl NodeSource for DbNodes<'_> {
    type Error = DbError;

    fn node(&mut self, level: u8, index: u64) -> Result<Hash, DbError> {
        if let Some(hash) = self.cache.and_then(|c| c.get(level, index)) {
            return Ok(hash);
        }
        let idx = i64::try_from(index).map_err(|_| DbError::corrupt("node index beyond i64"))?;
        let bytes: Option<Vec<u8>> = per_backend!(&mut *self.conn, |c| log_nodes::table
            .filter(log_nodes::level.eq(i32::from(level)))
            .filter(log_nodes::idx.eq(idx))
            .select(log_nodes::hash)
            .first(c)
            .optional())?;
        let bytes = bytes.ok_or_else(|| {
            DbError::corrupt(format!("Merkle node ({level}, {index}) is missing"))
        })?;
        let hash = merkle::hash_from_slice(&bytes).map_err(|_| {
            DbError::corrupt(format!("Merkle node ({level}, {index}) is not 32 bytes"))
        })?;
        if let Some(cache) = self.cache {
            cache.insert(level, index, hash);
        }
        Ok(hash)
    }
}

/// Storage failures pass through; anything else means the stored tree is inconsistent
/// (arguments are checked by callers before they get here).
pub fn merkle_error(e: MerkleError<DbError>) -> DbError {
    match e {
        MerkleError::Source(db) => db,
        other => DbError::corrupt(format!("Merkle tree: {other}")),
    }
}

/// The root of the tree of `size` entries. `cache`: only with a read connection (`DbNodes`).
pub fn root(conn: &mut DbConn, cache: Option<&NodeCache>, size: u64) -> Result<Hash, DbError> {
    merkle::root(size, &mut DbNodes { conn, cache }).map_err(merkle_error)
}

/// The leaf hash of entry `index`: the tree's level-0 node, stored with the entry and never
/// changed after, so a read can take it from `cache` instead of reading the entry's row.
pub fn leaf(conn: &mut DbConn, cache: Option<&NodeCache>, index: u64) -> Result<Hash, DbError> {
    DbNodes { conn, cache }.node(0, index)
}

/// RFC 9162 inclusion proof. `cache`: only with a read connection (`DbNodes`).
pub fn inclusion_proof(
    conn: &mut DbConn,
    cache: Option<&NodeCache>,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, DbError> {
    merkle::inclusion_proof(index, size, &mut DbNodes { conn, cache }).map_err(merkle_error)
}

/// RFC 9162 consistency proof. `cache`: only with a read connection (`DbNodes`).
pub fn consistency_proof(
    conn: &mut DbConn,
    cache: Option<&NodeCache>,
    from: u64,
    to: u64,
) -> Result<Vec<Hash>, DbError> {
    merkle::consistency_proof(from, to, &mut DbNodes { conn, cache }).map_err(merkle_error)
}

/// The index of the entry with this leaf hash.
pub fn index_of_leaf(conn: &mut DbConn, leaf: &Hash) -> Result<Option<i64>, DbError> {
    Ok(log_entries::table
        .filter(log_entries::leaf_hash.eq(leaf.to_vec()))
        .select(log_entries::idx)
        .first(conn)
        .optional()?)
}

/// Proves that the stored entry at `index` (hashed from its bytes, not from the stored leaf
/// hash) is in the tree of `size` entries with root `root`. `Ok(Err(why))` when it is not.
pub fn entry_in_tree(
    conn: &mut DbConn,
    index: i64,
    size: i64,
    root: &[u8],
) -> Result<Result<(), String>, DbError> {
    if index < 0 || index >= size {
        return Ok(Err(format!(
            "entry {index} is beyond the checkpoint of size {size}"
        )));
    }
    let Some(row) = super::log::entry(conn, index)? else {
        return Ok(Err(format!("entry {index} is missing from the log")));
    };
    let Ok(root) = merkle::hash_from_slice(root) else {
        return Ok(Err("the checkpoint root is not 32 bytes".into()));
    };
    let leaf = merkle::leaf_hash(&row.entry);
    let proof = inclusion_proof(conn, None, index as u64, size as u64)?;
    Ok(
        merkle::verify_inclusion(&leaf, index as u64, size as u64, &proof, &root)
            .map_err(|e| format!("entry {index} does not prove into the signed checkpoint: {e}")),
    )
}
