//! Client-side checks of the transparency log, as an outside verifier makes them: signed
//! checkpoints, consistency between any two of them, and the full entry list replayed into a
//! Merkle tree. Shared by the crash harness and the two-server test.

#![allow(dead_code)]

use std::collections::BTreeMap;

use amity::log::merkle::{self, MemoryTree};
use amity::log::note::{NoteVerifier, open_checkpoint};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::signing::ORIGIN;
use crate::support::Http;

/// A checkpoint as it was handed out: the note, and what it says once verified.
#[derive(Debug, Clone)]
pub struct Seen {
    pub size: u64,
    pub root: merkle::Hash,
    pub note: String,
}

/// The registry key a server publishes, as a note verifier.
pub fn verifier(srv: &impl Http) -> NoteVerifier {
    let r = srv.get("/api/v1/log/key");
    assert_eq!(r.status, 200, "{}", r.text());
    NoteVerifier::from_vkey(r.json()["vkey"].as_str().expect("vkey")).expect("vkey parses")
}

/// Opens a checkpoint note under the registry key; panics with the note if it does not verify.
pub fn open(note: &str, v: &NoteVerifier) -> Seen {
    let (cp, sigs) = open_checkpoint(note, ORIGIN, std::slice::from_ref(v))
        .unwrap_or_else(|e| panic!("checkpoint does not verify: {e}\n{note}"));
    assert_eq!(sigs.len(), 1, "one registry signature expected");
    Seen {
        size: cp.size,
        root: cp.root,
        note: note.to_string(),
    }
}

/// Fetches the current checkpoint (which signs one if the log grew) and verifies it.
pub fn checkpoint(srv: &impl Http, v: &NoteVerifier) -> Seen {
    let r = srv.get("/api/v1/log/checkpoint");
    assert_eq!(r.status, 200, "{}", r.text());
    open(&r.text(), v)
}

fn hash(v: &Value) -> merkle::Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(v.as_str().expect("hex hash"), &mut out).expect("32-byte hex hash");
    out
}

/// Asks `srv` for a consistency proof from `old` to `new` and checks it with the project's
/// verifier against the roots the two signed checkpoints state (not the roots the server
/// reports, which are only compared).
pub fn assert_consistent(srv: &impl Http, old: &Seen, new: &Seen) {
    assert!(
        old.size <= new.size,
        "checkpoint {} is newer than {}: the log shrank",
        old.size,
        new.size
    );
    if old.size == new.size {
        assert_eq!(
            old.root, new.root,
            "two signed checkpoints of size {} with different roots: a fork",
            old.size
        );
        return;
    }
    if old.size == 0 {
        return;
    }
    let r = srv.get(&format!(
        "/api/v1/log/proof/consistency?from={}&to={}",
        old.size, new.size
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(hash(&body["from_root"]), old.root, "old root differs");
    assert_eq!(hash(&body["to_root"]), new.root, "new root differs");
    let proof: Vec<merkle::Hash> = body["proof"]
        .as_array()
        .expect("proof")
        .iter()
        .map(hash)
        .collect();
    merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &proof).unwrap_or_else(
        |e| {
            panic!(
                "checkpoint {} is not consistent with {}: {e}",
                old.size, new.size
            )
        },
    );
}

/// Keeps one checkpoint per size, failing on two different roots for one size (a fork).
pub fn distinct_by_size(seen: &[Seen]) -> Vec<Seen> {
    let mut by_size: BTreeMap<u64, Seen> = BTreeMap::new();
    for s in seen {
        if let Some(prev) = by_size.get(&s.size) {
            assert_eq!(
                prev.root, s.root,
                "two signed checkpoints of size {} with different roots: a fork\n{}\n{}",
                s.size, prev.note, s.note
            );
        } else {
            by_size.insert(s.size, s.clone());
        }
    }
    by_size.into_values().collect()
}

/// Every entry of the log, in order, as parsed JSON; asserts the indices are exactly
/// 0..n-1, each once, and that the tree rebuilt from the entries has the root of `at`
/// (which must be a checkpoint of the same size).
pub fn all_entries(srv: &impl Http, at: &Seen) -> Vec<Value> {
    let mut tree = MemoryTree::new();
    let mut out = Vec::new();
    let mut next = Some(0i64);
    while let Some(start) = next {
        let r = srv.get(&format!("/api/v1/log/entries?start={start}&limit=1000"));
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json();
        for e in page["entries"].as_array().expect("entries") {
            assert_eq!(
                e["index"].as_i64(),
                Some(out.len() as i64),
                "log indices are not contiguous"
            );
            let bytes = STANDARD
                .decode(e["entry"].as_str().expect("entry"))
                .expect("base64 entry");
            tree.push(&bytes).expect("tree grows");
            out.push(serde_json::from_slice(&bytes).expect("entry is JSON"));
        }
        next = page["next"].as_i64();
    }
    // Writes may land between the checkpoint and the listing: the checkpoint covers a prefix.
    assert!(
        out.len() as u64 >= at.size,
        "the log ({} entries) is shorter than its checkpoint ({})",
        out.len(),
        at.size
    );
    let root = merkle::root(at.size, &mut &tree).expect("root of the rebuilt tree");
    assert_eq!(
        root, at.root,
        "the entries do not hash to the checkpoint's root"
    );
    out
}
