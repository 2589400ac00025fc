//! The writer's side of log appends: the tree's frontier kept in memory, and the rows of a
//! transaction's appends inserted together just before it commits.
//!
//! Appending leaf `n` reads only nodes of the frontier of the tree of `n` leaves: the roots of
//! the perfect subtrees it is made of, one per set bit of `n` (docs/architecture.md, "A write,
//! and the group-commit writer"). The frontier after the append follows from the one before and
//! the nodes the append made, so a writer that keeps it needs no node reads at all. The entries
//! and nodes an append makes wait in `PendingAppends` and are inserted with multi-row inserts
//! when the transaction is about to commit: two statements per transaction instead of about
//! four per entry (an insert for the entry, one per node made, one read per left sibling),
//! which on PostgreSQL are loopback round trips on the one serial writer (PERFORMANCE.md,
//! issue 17 item 2).
//!
//! Nothing here can go stale: the frontier is trusted only for the log size it was made at,
//! handed back only after its transaction committed, and taken (not copied) by the next one, so
//! a rollback, a failed commit or another server appending to the same database makes the next
//! writer read it from the table again.

use std::sync::{Arc, Mutex};

use diesel::prelude::*;

use super::log::{self, BATCH_ROWS};
use super::schema::{log_entries, log_nodes};
use super::tree::DbNodes;
use super::{DbConn, DbError};
use crate::domain::entries::LogEntry;
use crate::log::merkle::{self, Hash, NodeSource};

/// The frontier of a tree of `size` leaves: `(level, hash)` of each perfect subtree the tree is
/// made of, lowest level first. The subtree at `level` is node `(level, (size >> level) - 1)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    roots: Vec<(u8, Hash)>,
}

/// A node asked of the frontier that is not on it: an append never asks for one, so this
/// means a bug, reported as corruption rather than a panic.
#[derive(Debug)]
pub struct NotOnFrontier {
    level: u8,
    index: u64,
}

impl std::fmt::Display for NotOnFrontier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "node ({}, {}) is not on the frontier",
            self.level, self.index
        )
    }
}

impl NodeSource for Frontier {
    type Error = NotOnFrontier;

    fn node(&mut self, level: u8, index: u64) -> Result<Hash, NotOnFrontier> {
        self.roots
            .iter()
            .find(|(l, _)| *l == level)
            .filter(|_| (self.size >> level).checked_sub(1) == Some(index))
            .map(|(_, hash)| *hash)
            .ok_or(NotOnFrontier { level, index })
    }
}

impl Frontier {
    /// Reads the frontier of the tree of `size` leaves: one node per set bit of `size`.
    pub fn read<S: NodeSource>(size: u64, source: &mut S) -> Result<Frontier, S::Error> {
        let mut roots = Vec::with_capacity(size.count_ones() as usize);
        for level in 0..64u8 {
            if (size >> level) & 1 == 1 {
                roots.push((level, source.node(level, (size >> level) - 1)?));
            }
        }
        Ok(Frontier { size, roots })
    }

    /// Appends `leaf`: returns the nodes it completes (exactly those of
    /// `merkle::nodes_to_store_on_append`) and moves the frontier on.
    pub fn append(&mut self, leaf: Hash) -> Result<Vec<merkle::StoredNode>, DbError> {
        let made = merkle::nodes_to_store_on_append(self.size, leaf, self)
            .map_err(|e| DbError::corrupt(format!("Merkle tree: {e}")))?;
        // `size` has `t` trailing ones and `size + 1` none there but a one at level `t`: the
        // subtrees below `t` merged into the top node made, which becomes the level-`t` root.
        let &(top_level, _, top) = made
            .last()
            .ok_or_else(|| DbError::corrupt("an append made no node"))?;
        self.roots.retain(|(level, _)| *level > top_level);
        self.roots.insert(0, (top_level, top));
        self.size += 1;
        Ok(made)
    }
}

#[derive(Insertable)]
#[diesel(table_name = log_entries)]
struct EntryRow {
    idx: i64,
    leaf_hash: Vec<u8>,
    entry: Vec<u8>,
    kind: &'static str,
    logged_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = log_nodes)]
struct NodeRow {
    level: i32,
    idx: i64,
    hash: Vec<u8>,
}

/// The appends of one transaction not yet inserted, and the frontier after them.
pub struct PendingAppends {
    frontier: Frontier,
    entries: Vec<EntryRow>,
    nodes: Vec<NodeRow>,
}

/// Where a write began, to drop its appends when it fails (`PendingAppends::rollback_to`).
pub struct Mark {
    frontier: Frontier,
    entries: usize,
    nodes: usize,
}

impl PendingAppends {
    /// The log size with the pending appends.
    pub fn size(&self) -> i64 {
        // A size beyond i64 cannot be reached: every append stores an i64 index first.
        i64::try_from(self.frontier.size).unwrap_or(i64::MAX)
    }

    /// Appends `entry` at the next index, which it returns.
    pub fn append(&mut self, entry: &LogEntry, now: i64) -> Result<i64, DbError> {
        let index = self.size();
        let leaf = merkle::leaf_hash(&entry.bytes);
        for (level, idx, hash) in self.frontier.append(leaf)? {
            self.nodes.push(NodeRow {
                level: i32::from(level),
                idx: i64::try_from(idx).map_err(|_| DbError::corrupt("node index beyond i64"))?,
                hash: hash.to_vec(),
            });
        }
        self.entries.push(EntryRow {
            idx: index,
            leaf_hash: leaf.to_vec(),
            entry: entry.bytes.clone(),
            kind: entry.kind,
            logged_at: now,
        });
        Ok(index)
    }

    pub fn mark(&self) -> Mark {
        Mark {
            frontier: self.frontier.clone(),
            entries: self.entries.len(),
            nodes: self.nodes.len(),
        }
    }

    /// Drops every append made since `mark`, as the write's savepoint rollback drops its rows.
    pub fn rollback_to(&mut self, mark: Mark) {
        self.frontier = mark.frontier;
        self.entries.truncate(mark.entries);
        self.nodes.truncate(mark.nodes);
    }

    /// Ends the transaction's appends, right before its commit: inserts the pending rows and
    /// stores the new log size in the head.
    pub fn finish(&mut self, conn: &mut DbConn) -> Result<(), DbError> {
        for chunk in self.entries.chunks(BATCH_ROWS) {
            per_backend!(&mut *conn, |c| diesel::insert_into(log_entries::table)
                .values(chunk)
                .execute(c))?;
        }
        for chunk in self.nodes.chunks(BATCH_ROWS) {
            per_backend!(&mut *conn, |c| diesel::insert_into(log_nodes::table)
                .values(chunk)
                .execute(c))?;
        }
        self.entries.clear();
        self.nodes.clear();
        log::store_head(conn, self.size())
    }
}

/// The frontier the last commit left, shared by the writers of one `Db` (the group writer
/// and `Db::write`).
#[derive(Clone, Default)]
pub struct SharedFrontier(Arc<Mutex<Option<Frontier>>>);

impl SharedFrontier {
    /// Starts a write transaction's appends: takes the log head (`log::lock_head`, the first
    /// statement of every write) and the frontier at its size, the kept one when it is of that
    /// size, else read from the table.
    pub fn begin(&self, conn: &mut DbConn) -> Result<PendingAppends, DbError> {
        let size = log::lock_head(conn)?;
        let size = u64::try_from(size).map_err(|_| DbError::corrupt("negative log size"))?;
        let kept = self.take().filter(|f| f.size == size);
        let frontier = match kept {
            Some(f) => f,
            None => Frontier::read(size, &mut DbNodes { conn, cache: None })?,
        };
        Ok(PendingAppends {
            frontier,
            entries: Vec::new(),
            nodes: Vec::new(),
        })
    }

    /// Keeps the frontier of a transaction that committed.
    pub fn committed(&self, pending: PendingAppends) {
        if let Ok(mut kept) = self.0.lock() {
            *kept = Some(pending.frontier);
        }
    }

    fn take(&self) -> Option<Frontier> {
        // A poisoned lock only means a writer panicked while holding it: read from the table.
        self.0.lock().ok().and_then(|mut kept| kept.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Every node of a tree, built by appending with `nodes_to_store_on_append`.
    #[derive(Default)]
    struct Memory(HashMap<(u8, u64), Hash>);

    impl NodeSource for Memory {
        type Error = String;
        fn node(&mut self, level: u8, index: u64) -> Result<Hash, String> {
            self.0
                .get(&(level, index))
                .copied()
                .ok_or_else(|| format!("no node ({level}, {index})"))
        }
    }

    fn leaf(i: u64) -> Hash {
        merkle::leaf_hash(&i.to_be_bytes())
    }

    #[test]
    fn appends_make_what_the_tree_stores_and_read_back_the_same_frontier() {
        let mut memory = Memory::default();
        let mut frontier = Frontier::read(0, &mut memory).expect("empty");
        for i in 0..600u64 {
            let expected = merkle::nodes_to_store_on_append(i, leaf(i), &mut memory).expect("tree");
            let made = frontier.append(leaf(i)).expect("frontier");
            assert_eq!(made, expected, "append {i}");
            for (level, index, hash) in made {
                memory.0.insert((level, index), hash);
            }
            assert_eq!(
                frontier,
                Frontier::read(i + 1, &mut memory).expect("read"),
                "frontier after {} leaves",
                i + 1
            );
        }
    }

    #[test]
    fn a_node_off_the_frontier_is_an_error() {
        let mut memory = Memory::default();
        let mut frontier = Frontier::read(0, &mut memory).expect("empty");
        for i in 0..5 {
            frontier.append(leaf(i)).expect("append");
        }
        // Size 5: roots (0, 4) and (2, 0).
        assert!(frontier.node(0, 4).is_ok());
        assert!(frontier.node(2, 0).is_ok());
        assert!(frontier.node(0, 3).is_err());
        assert!(frontier.node(1, 1).is_err());
    }
}
