//! Merkle tree nodes held in memory. A stored node is the hash of a complete subtree, written
//! once when the subtree completes and never changed, so a node read from the database can be
//! kept for as long as the process lives, and stays right when several servers share one
//! database. Only nodes read through a read connection are kept: a write transaction may read
//! a node it stored itself, which a rollback would take away again.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::log::merkle::Hash;

/// A bounded map of (level, index) to node hash, with its hit and miss counts for `/metrics`.
pub struct NodeCache {
    nodes: Option<quick_cache::sync::Cache<(u8, u64), Hash>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl NodeCache {
    /// A cache of at most `entries` nodes; 0 keeps none.
    pub fn new(entries: u64) -> NodeCache {
        let entries = usize::try_from(entries).unwrap_or(usize::MAX);
        NodeCache {
            nodes: (entries > 0).then(|| quick_cache::sync::Cache::new(entries)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The node, if it is held; counts a hit or a miss.
    pub fn get(&self, level: u8, index: u64) -> Option<Hash> {
        let found = self.nodes.as_ref()?.get(&(level, index));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps a node read from a committed tree.
    pub fn insert(&self, level: u8, index: u64, hash: Hash) {
        if let Some(nodes) = &self.nodes {
            nodes.insert((level, index), hash);
        }
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Nodes held now.
    pub fn len(&self) -> usize {
        self.nodes.as_ref().map_or(0, quick_cache::sync::Cache::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_it_was_given_and_counts() {
        let cache = NodeCache::new(4);
        assert_eq!(cache.get(0, 1), None);
        cache.insert(0, 1, [7; 32]);
        assert_eq!(cache.get(0, 1), Some([7; 32]));
        assert_eq!((cache.hits(), cache.misses()), (1, 1));
        let none = NodeCache::new(0);
        none.insert(0, 1, [7; 32]);
        assert_eq!(none.get(0, 1), None);
        assert!(none.is_empty());
    }
}
