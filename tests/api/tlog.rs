//! The transparency log over HTTP: checkpoints, the registry key, inclusion and consistency
//! proofs, checked with the pure verifiers and against a tree rebuilt from the entries.

use amity::log::merkle::{self, MemoryTree};
use amity::log::note::{NoteVerifier, open_checkpoint};
use base64::Engine;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestServer, World, status_body};

fn hashes(v: &Value) -> Vec<merkle::Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h.as_str().unwrap(), &mut out).unwrap();
            out
        })
        .collect()
}

fn hash(v: &Value) -> merkle::Hash {
    hashes(&json!([v]))[0]
}

fn verifier(srv: &TestServer) -> NoteVerifier {
    let key = srv.get("/api/v1/log/key").json();
    assert_eq!(key["name"], "amity.localhost");
    assert!(key["ssh"].as_str().unwrap().starts_with("ssh-ed25519 "));
    NoteVerifier::from_vkey(key["vkey"].as_str().unwrap()).unwrap()
}

/// Fetches and verifies the current checkpoint: (size, root).
fn checkpoint(srv: &TestServer, v: &NoteVerifier) -> (u64, merkle::Hash, String) {
    let r = srv.get("/api/v1/log/checkpoint");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let note = r.text();
    let (cp, sigs) = open_checkpoint(&note, "amity.localhost", std::slice::from_ref(v))
        .unwrap_or_else(|e| panic!("checkpoint does not verify: {e}\n{note}"));
    assert_eq!(sigs.len(), 1);
    (cp.size, cp.root, note)
}

/// Rebuilds the tree from every entry's bytes, as an auditor would.
fn rebuild(srv: &TestServer) -> MemoryTree {
    let mut tree = MemoryTree::new();
    let mut next = Some(0i64);
    while let Some(start) = next {
        let page = srv
            .get(&format!("/api/v1/log/entries?start={start}&limit=7"))
            .json();
        for e in page["entries"].as_array().unwrap() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(e["entry"].as_str().unwrap())
                .unwrap();
            tree.push(&bytes).unwrap();
        }
        next = page["next"].as_i64();
    }
    tree
}

both_backends!(checkpoints_and_proofs_cover_every_write, |srv| {
    let v = verifier(&srv);
    let (size0, root0, _) = checkpoint(&srv, &v);
    assert_eq!((size0, root0), (0, merkle::empty_root()));

    // Every kind of write this registry has so far.
    let w = World::build(&srv);
    let confirm = format!("/api/v1/partnerships/{}/confirm", w.partnership);
    assert_eq!(srv.post(&confirm, Some(&w.b), &json!({})).status, 200);
    let status = format!("/api/v1/partnerships/{}/status", w.partnership);
    assert_eq!(
        srv.post(&status, Some(&w.a), &status_body("curtailed", Some("r")))
            .status,
        201
    );
    let t = srv.post(
        "/api/v1/admin/tokens",
        Some(&w.admin),
        &json!({"role": "auditor"}),
    );
    let tid = t.json()["id"].as_str().unwrap().to_string();
    srv.send(
        "DELETE",
        &format!("/api/v1/admin/tokens/{tid}"),
        Some(&w.admin),
        None,
    );

    let (size1, root1, note1) = checkpoint(&srv, &v);
    assert_eq!(size1 as i64, srv.log_size());
    let tree = rebuild(&srv);
    assert_eq!(tree.size(), size1);
    assert_eq!(merkle::root(size1, &mut &tree).unwrap(), root1);
    // Asking again without new writes hands out the same note.
    assert_eq!(checkpoint(&srv, &v).2, note1);

    // Every entry's inclusion proof verifies against the checkpoint, by index and by hash.
    let mut kinds = std::collections::BTreeSet::new();
    for index in 0..size1 {
        let r = srv.get(&format!(
            "/api/v1/log/proof/inclusion?index={index}&size={size1}"
        ));
        assert_eq!(r.status, 200, "{}", r.text());
        let p = r.json();
        let leaf = hash(&p["leaf_hash"]);
        merkle::verify_inclusion(&leaf, index, size1, &hashes(&p["proof"]), &root1)
            .unwrap_or_else(|e| panic!("entry {index}: {e}"));
        let by_hash = srv
            .get(&format!(
                "/api/v1/log/proof/inclusion?hash={}",
                hex::encode(leaf)
            ))
            .json();
        assert_eq!(by_hash["index"], index);
        kinds.insert(
            srv.entry(index as i64)["type"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "city.created",
            "office.created",
            "partnership.registered",
            "partnership.status_changed",
            "token.issued",
            "token.revoked"
        ]
    );

    // More writes; the new checkpoint is consistent with the old one.
    srv.city(&w.admin, "fr-par", "Paris");
    srv.city(&w.admin, "fr-lyo", "Lyon");
    let (size2, root2, _) = checkpoint(&srv, &v);
    assert_eq!(size2, size1 + 2);
    let c = srv
        .get(&format!(
            "/api/v1/log/proof/consistency?from={size1}&to={size2}"
        ))
        .json();
    merkle::verify_consistency(size1, size2, &root1, &root2, &hashes(&c["proof"])).unwrap();
    assert_eq!(hash(&c["from_root"]), root1);
    // Every earlier size is consistent with the latest.
    let tree = rebuild(&srv);
    for from in 1..=size2 {
        let c = srv
            .get(&format!("/api/v1/log/proof/consistency?from={from}"))
            .json();
        let from_root = merkle::root(from, &mut &tree).unwrap();
        merkle::verify_consistency(from, size2, &from_root, &root2, &hashes(&c["proof"]))
            .unwrap_or_else(|e| panic!("{from} -> {size2}: {e}"));
    }
});

both_backends!(proof_requests_are_checked, |srv| {
    World::build(&srv);
    let size = srv.log_size();
    for (query, status, code) in [
        (format!("inclusion?index={size}"), 422, "index_out_of_range"),
        ("inclusion?index=-1".to_string(), 422, "index_out_of_range"),
        (
            format!("inclusion?index=0&size={}", size + 1),
            422,
            "invalid_size",
        ),
        (
            "inclusion?index=0&hash=00".to_string(),
            400,
            "invalid_query",
        ),
        ("inclusion".to_string(), 400, "invalid_query"),
        ("inclusion?hash=zz".to_string(), 422, "invalid_hash"),
        (
            format!("inclusion?hash={}", "00".repeat(32)),
            404,
            "entry_not_found",
        ),
        ("consistency?from=0".to_string(), 422, "invalid_size"),
        ("consistency?from=2&to=1".to_string(), 422, "invalid_size"),
        (
            format!("consistency?from=1&to={}", size + 1),
            422,
            "invalid_size",
        ),
        ("consistency?from=x".to_string(), 400, "invalid_query"),
    ] {
        srv.get(&format!("/api/v1/log/proof/{query}"))
            .assert_problem(status, code);
    }
    srv.get("/api/v1/log/entries?limit=0")
        .assert_problem(400, "invalid_query");
    srv.get("/api/v1/log/entries?start=-1")
        .assert_problem(400, "invalid_query");
    let page = srv.get(&format!("/api/v1/log/entries?start={size}")).json();
    assert_eq!(page, json!({"entries": []}));
    // Equal sizes: an empty proof.
    let c = srv
        .get(&format!(
            "/api/v1/log/proof/consistency?from={size}&to={size}"
        ))
        .json();
    assert_eq!(c["proof"], json!([]));
});

both_backends!(a_rewritten_tree_is_not_signed, |srv| {
    let v = verifier(&srv);
    World::build(&srv);
    let (size, _, _) = checkpoint(&srv, &v);
    assert!(size >= 8);
    // An attacker with database access rewrites the subtree over the first eight entries
    // (the 14-entry tree's root and every later one depend on it).
    let drop = match srv.backend() {
        crate::support::Backend::Sqlite => vec![
            "DROP TRIGGER log_nodes_no_update",
            "DROP TRIGGER log_entries_no_update",
        ],
        crate::support::Backend::Postgres => vec![
            "DROP TRIGGER log_nodes_append_only ON log_nodes",
            "DROP TRIGGER log_entries_append_only ON log_entries",
        ],
    };
    for sql in drop {
        srv.db.exec(sql).unwrap();
    }
    let forged = match srv.backend() {
        crate::support::Backend::Sqlite => format!("X'{}'", "11".repeat(32)),
        crate::support::Backend::Postgres => format!("'\\x{}'::bytea", "11".repeat(32)),
    };
    srv.db
        .exec(&format!(
            "UPDATE log_nodes SET hash = {forged} WHERE level = 3 AND idx = 0"
        ))
        .unwrap();
    srv.city(&srv.admin(), "fr-par", "Paris");
    // The next checkpoint would not extend the signed one: the server refuses to sign it.
    let r = srv.get("/api/v1/log/checkpoint");
    r.assert_problem(500, "internal_error");
    assert!(
        !r.text().contains("log_nodes"),
        "no internals in the response"
    );
});

/// The value of the metric line `name` (no labels) on `/metrics`.
fn metric(srv: &TestServer, name: &str) -> i64 {
    let text = srv.get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} not in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

both_backends!(proofs_read_stored_nodes_once, |srv| {
    // Enough entries for a tree of several levels, then every proof of one size twice: the
    // second round is answered from the node cache, with the same proofs, which still verify
    // against the tree rebuilt from the entries.
    let w = World::build(&srv);
    for i in 0..20 {
        srv.city(&w.admin, &format!("fr-n{i:02}"), "Town");
    }
    let size = srv.log_size() as u64;
    let tree = rebuild(&srv);
    let root = merkle::root(size, &mut &tree).unwrap();
    let proofs = |round: &str| -> Vec<Value> {
        (0..size)
            .map(|i| {
                let r = srv.get(&format!(
                    "/api/v1/log/proof/inclusion?index={i}&size={size}"
                ));
                assert_eq!(r.status, 200, "{round}: {}", r.text());
                r.json()
            })
            .collect()
    };
    let first = proofs("first");
    let (hits, misses) = (
        metric(&srv, "amity_node_cache_hits"),
        metric(&srv, "amity_node_cache_misses"),
    );
    assert!(misses > 0 && metric(&srv, "amity_node_cache_entries") > 0);
    let second = proofs("second");
    assert_eq!(first, second);
    assert_eq!(
        metric(&srv, "amity_node_cache_misses"),
        misses,
        "no new reads"
    );
    assert!(metric(&srv, "amity_node_cache_hits") > hits);
    for (i, p) in second.iter().enumerate() {
        let leaf = hash(&p["leaf_hash"]);
        merkle::verify_inclusion(&leaf, i as u64, size, &hashes(&p["proof"]), &root).unwrap();
    }
    // A consistency proof from a cached tree agrees with the rebuilt one as well.
    let c = srv
        .get(&format!("/api/v1/log/proof/consistency?from=3&to={size}"))
        .json();
    merkle::verify_consistency(
        3,
        size,
        &merkle::root(3, &mut &tree).unwrap(),
        &root,
        &hashes(&c["proof"]),
    )
    .unwrap();
});
