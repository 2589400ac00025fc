//! `amity audit` against a live server: it passes on an honest registry, keeps state between
//! runs, and fails, naming what it found, on each way of rewriting the database directly.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::both_backends;
use crate::support::{Backend, TestServer, World, status_body};

const BIN: &str = env!("CARGO_BIN_EXE_amity");

/// Runs `amity audit`; returns (passed, stdout + stderr).
pub fn audit(srv: &TestServer, state: &Path) -> (bool, String) {
    audit_with(srv, state, &[])
}

pub fn audit_with(srv: &TestServer, state: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["audit", "--server", &srv.base, "--state"])
        .arg(state)
        .args(extra)
        .env_remove("AMITY_TOKEN")
        .output()
        .expect("amity audit runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A registry with history: partnerships confirmed, curtailed, cities and tokens.
fn populate(srv: &TestServer) -> World {
    let w = World::build(srv);
    let id = &w.partnership;
    srv.post(
        &format!("/api/v1/partnerships/{id}/confirm"),
        Some(&w.b),
        &json!({}),
    );
    srv.post(
        &format!("/api/v1/partnerships/{id}/status"),
        Some(&w.a),
        &status_body("curtailed", Some("Consulates closed")),
    );
    for i in 0..5 {
        srv.city(&w.admin, &format!("fr-t{i:02}"), "Town");
    }
    w
}

/// Audits once (passing, keeping the checkpoint), lets `tamper` rewrite the database, then
/// audits again and expects a failure that mentions `expect`.
fn detects(backend: Backend, what: &str, expect: &str, tamper: impl Fn(&TestServer)) {
    let srv = TestServer::start(backend);
    let w = populate(&srv);
    let state = srv.db.dir.path().join("audit-state.json");
    let (ok, text) = audit(&srv, &state);
    assert!(ok, "{what}: the honest registry must pass first:\n{text}");
    srv.drop_append_only_triggers();
    tamper(&srv);
    // A write after the tampering makes the server sign a new checkpoint if it can. (Some
    // rewrites leave the stored tree unable to take appends; that write then fails, and the
    // audit must still say what is wrong.)
    srv.post(
        "/api/v1/admin/cities",
        Some(&w.admin),
        &json!({"code": "fr-new", "name": "After", "country": "FR"}),
    );
    let (ok, text) = audit(&srv, &state);
    assert!(
        !ok,
        "{what}: the audit passed on a tampered registry:\n{text}"
    );
    assert!(
        text.contains(expect),
        "{what}: expected {expect:?} in:\n{text}"
    );
}

both_backends!(audit_passes_and_keeps_its_state, |srv| {
    populate(&srv);
    let state = srv.db.dir.path().join("state.json");
    let (ok, text) = audit(&srv, &state);
    assert!(ok, "{text}");
    assert!(text.contains("TRUSTED ON FIRST USE"), "{text}");
    assert!(text.contains("first run"), "{text}");
    assert!(text.contains("verdict: PASS"), "{text}");
    srv.city(&srv.admin(), "fr-par", "Paris");
    let (ok, text) = audit(&srv, &state);
    assert!(ok, "{text}");
    assert!(text.contains("kept from the previous audit"), "{text}");
    assert!(text.contains("proven"), "{text}");
});

/// Deletes entry 4 and renumbers the rest, so the log has no gap, and drops the checkpoints.
fn delete_entry_4_and_renumber(s: &TestServer) {
    let size = s.log_size();
    s.db.exec("DELETE FROM log_entries WHERE idx = 4").unwrap();
    s.db.exec("UPDATE log_entries SET idx = -idx WHERE idx > 4")
        .unwrap();
    s.db.exec("UPDATE log_entries SET idx = -idx - 1 WHERE idx < 0")
        .unwrap();
    s.db.exec(&format!("UPDATE log_head SET size = {}", size - 1))
        .unwrap();
    s.db.exec("DELETE FROM checkpoints").unwrap();
}

both_backends!(audit_detects_each_rewrite, |srv| {
    let backend = srv.backend();
    drop(srv);
    detects(
        backend,
        "one byte of an entry",
        "do not match its leaf hash",
        |s| {
            s.db.exec(&format!(
                "UPDATE log_entries SET entry = {} WHERE idx = 3",
                s.blob_sql(&hex::encode(
                    br#"{"city":"us-hou","name":"Houston","time":"x","type":"city.created"}"#
                ))
            ))
            .unwrap();
        },
    );
    detects(
        backend,
        "the last entry deleted",
        "forked or rewritten",
        |s| {
            let last = s.log_size() - 1;
            s.db.exec(&format!("DELETE FROM log_entries WHERE idx = {last}"))
                .unwrap();
            s.db.exec(&format!(
                "DELETE FROM log_nodes WHERE level = 0 AND idx = {last}"
            ))
            .unwrap();
            s.db.exec(&format!("UPDATE log_head SET size = {last}"))
                .unwrap();
            // A careful attacker also removes the checkpoints that mention the old size.
            s.db.exec(&format!(
                "DELETE FROM checkpoints WHERE size > {}",
                last - 1
            ))
            .unwrap();
        },
    );
    detects(
        backend,
        "an entry in the middle deleted and the rest renumbered",
        "the log shrank",
        delete_entry_4_and_renumber,
    );
    // The replay names the registry rule the renumbered log breaks: entry 4 created the
    // office the next token belongs to.
    detects(
        backend,
        "an entry in the middle deleted: the replay's rule",
        "FAIL  references: ",
        delete_entry_4_and_renumber,
    );
    detects(
        backend,
        "two entries swapped",
        "root recomputed from entries",
        |s| {
            s.db.exec("UPDATE log_entries SET idx = -1 WHERE idx = 5")
                .unwrap();
            s.db.exec("UPDATE log_entries SET idx = 5 WHERE idx = 6")
                .unwrap();
            s.db.exec("UPDATE log_entries SET idx = 6 WHERE idx = -1")
                .unwrap();
        },
    );
    detects(
        backend,
        "a status flipped in the table",
        "served as active but the log says curtailed",
        |s| {
            s.db.exec("UPDATE partnerships SET status = 'active' WHERE status = 'curtailed'")
                .unwrap();
        },
    );
});

both_backends!(audit_detects_a_fork, |srv| {
    // A second database signed with the same registry key: a split view.
    populate(&srv);
    let state = srv.db.dir.path().join("state.json");
    let (ok, text) = audit(&srv, &state);
    assert!(ok, "{text}");
    let keys = srv.db.dir.path().join("keys");
    let fork = TestServer::start_with_keys(srv.backend(), Some(&keys), |_| {});
    let admin = fork.admin();
    for i in 0..20 {
        fork.city(&admin, &format!("it-f{i:02}"), "Fork");
    }
    let (ok, text) = audit(&fork, &state);
    assert!(!ok, "{text}");
    assert!(text.contains("forked or rewritten"), "{text}");
});

/// A registry with an executed MOU: two keys enrolled, v1 uploaded, both signed.
pub fn signed_registry(srv: &TestServer) -> (World, String) {
    let w = World::build(srv);
    let mou = signed_registry_on(srv, &w);
    (w, mou)
}

/// An executed MOU signed by two enrolled signatories, in the world `w`.
pub fn signed_registry_on(srv: &TestServer, w: &World) -> String {
    use crate::signing::{Signatory, create_mou, enroll, sign_mou, upload};
    let mut hou = Signatory::new(7, "mayor@us-hou", &w.a);
    let mut sha = Signatory::new(8, "mayor@cn-sha", &w.b);
    enroll(srv, &w.admin, &mut hou);
    enroll(srv, &w.admin, &mut sha);
    let mou = create_mou(srv, &w.a, &w.partnership);
    assert_eq!(upload(srv, &w.a, &mou, b"We, the cities...").status, 201);
    for s in [&hou, &sha] {
        let r = sign_mou(srv, s, &mou);
        assert_eq!(r.status, 201, "{}", r.text());
    }
    mou
}

/// Rewrites the stored signature bytes of link 1 of `mou` directly in the database, as an
/// attacker with database access would (the append-only trigger dropped first).
fn replace_first_signature(srv: &TestServer, mou: &str, signature: &[u8]) {
    srv.db
        .exec(&format!(
            "DROP TRIGGER {}",
            match srv.backend() {
                Backend::Sqlite => "mou_signatures_no_update".to_string(),
                Backend::Postgres => "mou_signatures_append_only ON mou_signatures".to_string(),
            }
        ))
        .unwrap();
    let n = srv
        .db
        .exec(&format!(
            "UPDATE mou_signatures SET signature = {} WHERE mou_id = '{mou}' AND seq = 1",
            srv.blob_sql(&hex::encode(signature))
        ))
        .unwrap();
    assert_eq!(n, 1);
}

both_backends!(audit_reverifies_every_signature, |srv| {
    let (_w, mou) = signed_registry(&srv);
    let state = srv.db.dir.path().join("state.json");
    let (ok, text) = audit(&srv, &state);
    assert!(ok, "{text}");
    assert!(text.contains("2 signatures verified (strict"), "{text}");
    assert!(text.contains("PASS  signature_valid: 2 checked"), "{text}");

    // A stored signature replaced by a valid signature over other bytes: the log's statement
    // hash still matches, the signature does not.
    let other = crate::signing::Signatory::new(7, "mayor@us-hou", "");
    let forged = other.sign(b"something else entirely");
    replace_first_signature(&srv, &mou, forged.as_bytes());
    let (ok, text) = audit(&srv, &state);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "FAIL  signature_valid: 1 of 2 fail: MOU {mou} signature seq 1:"
        )),
        "{text}"
    );
});

both_backends!(mou_audit_proves_entries_into_the_checkpoint, |srv| {
    let (_w, mou) = signed_registry(&srv);
    let report = crate::signing::audit(&srv, &mou);
    assert_eq!(report["verdict"], "pass", "{report}");
    let included: Vec<&serde_json::Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == "entry_included")
        .collect();
    // The MOU's creation, its version, two signatures, and each signer key's entries.
    assert!(included.len() >= 6, "{report}");
    // Rewrite the first signature's log entry: its hash no longer proves into the checkpoint.
    let chain = srv.get(&format!("/api/v1/mous/{mou}/chain")).json();
    let index = chain["signatures"][0]["log_index"].as_i64().unwrap();
    srv.drop_append_only_triggers();
    srv.db
        .exec(&format!(
            "UPDATE log_entries SET entry = {} WHERE idx = {index}",
            srv.blob_sql(&hex::encode(b"{\"type\":\"forged\"}"))
        ))
        .unwrap();
    let report = crate::signing::audit(&srv, &mou);
    assert_eq!(report["verdict"], "fail");
    let failed = crate::signing::failures(&report);
    assert!(
        failed
            .iter()
            .any(|(check, subject)| check == "entry_included"
                && *subject == format!("entry {index}")),
        "{failed:?}"
    );
});

both_backends!(audit_detects_key_and_document_rewrites, |srv| {
    let (w, mou) = signed_registry(&srv);
    let state = srv.db.dir.path().join("state.json");
    let (ok, text) = audit_with(&srv, &state, &["--token", &w.auditor]);
    assert!(ok, "{text}");
    assert!(
        text.contains("1 documents hash to what the log recorded"),
        "{text}"
    );
    assert!(text.contains("2 keys agree with the log"), "{text}");

    // A revoked key flipped back to active in its table.
    let key = srv.get("/api/v1/cities/us-hou/keys").json();
    let id = key[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{key}"))
        .to_string();
    let r = srv.post(
        &format!("/api/v1/keys/{id}/revoke"),
        Some(&w.admin),
        &json!({"reason": "stolen"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // The compromise time is unknown, so Houston's signature is void and the executed MOU
    // lacks a required signer again: the registry reopens it, and the audit agrees.
    let served = srv.get(&format!("/api/v1/mous/{mou}")).json();
    assert_eq!(served["state"], "open", "{served}");
    let (ok, text) = audit_with(&srv, &state, &["--token", &w.auditor]);
    assert!(ok, "{text}");
    assert!(text.contains("1 signature(s) void"), "{text}");
    assert!(text.contains("PASS  state_consistent"), "{text}");
    srv.db
        .exec(&format!(
            "UPDATE signatory_keys SET status = 'active', revoked_at = NULL, compromised_since = NULL WHERE id = '{id}'"
        ))
        .unwrap();
    let (ok, text) = audit_with(&srv, &state, &["--token", &w.auditor]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("is served as active but the log says revoked"),
        "{text}"
    );

    // A document byte changed in the database: only visible with a token that may read it.
    srv.unlock_documents();
    srv.db
        .exec(&srv.rewrite_document_sql(
            &format!("SELECT blob_id FROM mou_versions WHERE mou_id = '{mou}'"),
            b"We, the cities!..",
        ))
        .unwrap();
    let (ok, text) = audit_with(&srv, &state, &["--token", &w.auditor]);
    assert!(!ok, "{text}");
    assert!(text.contains("version 1: the document hashes to"), "{text}");
});

both_backends!(every_kind_of_write_proves_into_the_next_checkpoint, |srv| {
    use amity::log::merkle;
    let (w, _mou) = signed_registry(&srv);
    srv.post(
        &format!("/api/v1/partnerships/{}/status", w.partnership),
        Some(&w.a),
        &status_body("curtailed", Some("r")),
    );
    let r = srv.post(
        &format!("/api/v1/partnerships/{}/activities", w.partnership),
        Some(&w.b),
        &json!({"kind": "exchange", "mode": "hybrid", "start_date": "2021-06-01"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let activity = r.json()["id"].as_str().unwrap().to_string();
    let r = srv.send(
        "POST",
        &format!("/api/v1/activities/{activity}/evidence?filename=minutes.txt"),
        Some(&w.b),
        Some(("text/plain", b"Minutes of the exchange".to_vec())),
    );
    assert_eq!(r.status, 201, "{}", r.text());
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
    let checkpoint = srv.get("/api/v1/log/checkpoint").text();
    let key = srv.get("/api/v1/log/key").json();
    let verifier =
        amity::log::note::NoteVerifier::from_vkey(key["vkey"].as_str().unwrap()).unwrap();
    let (cp, _) =
        amity::log::note::open_checkpoint(&checkpoint, "amity.localhost", &[verifier]).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for index in 0..cp.size {
        let p = srv
            .get(&format!(
                "/api/v1/log/proof/inclusion?index={index}&size={}",
                cp.size
            ))
            .json();
        let mut leaf = [0u8; 32];
        hex::decode_to_slice(p["leaf_hash"].as_str().unwrap(), &mut leaf).unwrap();
        let proof: Vec<merkle::Hash> = p["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(h.as_str().unwrap(), &mut out).unwrap();
                out
            })
            .collect();
        merkle::verify_inclusion(&leaf, index, cp.size, &proof, &cp.root).unwrap();
        kinds.insert(
            srv.entry(index as i64)["type"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for kind in [
        "city.created",
        "office.created",
        "token.issued",
        "partnership.registered",
        "partnership.status_changed",
        "key.registered",
        "key.approved",
        "mou.created",
        "mou.version_uploaded",
        "mou.signature_added",
        "activity.recorded",
        "activity.evidence_added",
        "token.revoked",
    ] {
        assert!(kinds.contains(kind), "{kind} missing from {kinds:?}");
    }
});

// The stored signature replaced by one whose R carries a torsion component (R = rB + T, T of
// order 2), made with the signer's own key over the right bytes: the cofactored equation
// holds for it and a batch with unlucky coefficients would pass it, `verify_strict` does not,
// and neither may the audit, which checks signatures in batches.
both_backends!(audit_names_a_signature_with_a_torsioned_r, |srv| {
    use amity::crypto::sshsig;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};

    let (_w, mou) = signed_registry(&srv);
    let state = srv.db.dir.path().join("state.json");
    let (ok, text) = audit(&srv, &state);
    assert!(ok, "{text}");

    let chain = srv.get(&format!("/api/v1/mous/{mou}/chain")).json();
    let link = &chain["signatures"][0];
    assert_eq!(link["seq"], 1);
    let statement = STANDARD
        .decode(link["statement"].as_str().expect("statement"))
        .expect("base64");
    let honest = sshsig::parse_armored(link["signature"].as_str().expect("signature"))
        .expect("a valid SSHSIG");
    let data = sshsig::signed_data(honest.namespace(), &statement);

    // Signatory 7's key (seed [7; 32], see signing.rs), expanded as Ed25519 does.
    let h = Sha512::digest([7u8; 32]);
    let mut low = [0u8; 32];
    low.copy_from_slice(&h[..32]);
    let a = Scalar::from_bytes_mod_order(curve25519_dalek::scalar::clamp_integer(low));
    let public = (a * B).compress();
    assert_eq!(public.as_bytes(), honest.public_key().as_bytes());
    // The point of order 2 (y = -1).
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    let t2 = CompressedEdwardsY(minus_one).decompress().expect("y = -1");
    let r = Scalar::from(123_456_789u64);
    let big_r = (r * B + t2).compress();
    let mut hasher = Sha512::new();
    hasher.update(big_r.as_bytes());
    hasher.update(public.as_bytes());
    hasher.update(&data);
    let k = Scalar::from_bytes_mod_order_wide(&hasher.finalize().into());
    let s = r + k * a;
    let signature = ed25519_dalek::Signature::from_components(*big_r.as_bytes(), s.to_bytes());
    let key = ed25519_dalek::VerifyingKey::from_bytes(public.as_bytes()).expect("key");
    assert!(key.verify_strict(&data, &signature).is_err());

    // The same SSHSIG with that signature in place of the honest one (its last 64 bytes).
    let mut blob = honest.to_blob();
    let at = blob.len() - 64;
    blob[at..].copy_from_slice(&signature.to_bytes());
    let armored = sshsig::parse_blob(&blob).expect("well-formed").to_armored();
    replace_first_signature(&srv, &mou, armored.as_bytes());
    let (ok, text) = audit(&srv, &state);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "FAIL  signature_valid: 1 of 2 fail: MOU {mou} signature seq 1:"
        )),
        "{text}"
    );
});
