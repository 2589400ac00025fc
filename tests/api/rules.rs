//! One rule, three verifiers: a registry operator who bypasses a write-time check must be
//! caught by the server's audit report, by `amity audit` (log replay) and by `amity verify`
//! (the offline bundle) alike, each naming the rule (docs/audit-rules.md).

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::both_backends;
use crate::signing::{Signatory, create_mou, enroll, failures, parse, register, sign_mou, upload};
use crate::support::{Backend, TestServer, World};

const BIN: &str = env!("CARGO_BIN_EXE_amity");

/// Sets the holder the key table records for `key`, as an operator with database access
/// would; the `key.registered` log entry keeps the holder the key was registered to.
fn set_key_holder(srv: &TestServer, key: &str, signer: &str) {
    let n = srv
        .db
        .exec(&format!(
            "UPDATE signatory_keys SET signer = '{signer}' WHERE id = '{key}'"
        ))
        .unwrap();
    assert_eq!(n, 1);
}

/// Houston's and Shanghai's mayors enrolled (key seeds `seed` and `seed + 1`) and an MOU
/// with one version for them to sign.
fn mou_to_sign(srv: &TestServer, seed: u8) -> (World, Signatory, Signatory, String) {
    let w = World::build(srv);
    let mut houston = Signatory::new(seed, "mayor@us-hou", &w.a);
    let mut shanghai = Signatory::new(seed + 1, "mayor@cn-sha", &w.b);
    enroll(srv, &w.admin, &mut houston);
    enroll(srv, &w.admin, &mut shanghai);
    let mou = create_mou(srv, &w.a, &w.partnership);
    assert_eq!(upload(srv, &w.a, &mou, b"We, the cities...").status, 201);
    (w, houston, shanghai, mou)
}

/// `amity verify` on the MOU's bundle, trusting the registry key; (passed, report).
fn verify_bundle(srv: &TestServer, mou: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.json");
    let bundle = srv.get(&format!("/api/v1/mous/{mou}/bundle"));
    assert_eq!(bundle.status, 200, "{}", bundle.text());
    std::fs::write(&path, &bundle.body).unwrap();
    let vkey = srv.get("/api/v1/log/key").json()["vkey"]
        .as_str()
        .unwrap()
        .to_string();
    let out = Command::new(BIN)
        .arg("verify")
        .arg(&path)
        .args(["--registry-key", &vkey])
        .env_remove("RUST_LOG")
        .output()
        .expect("amity runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

both_backends!(key_bound_is_named_by_all_three_verifiers, |srv| {
    let (w, houston, shanghai, mou) = mou_to_sign(&srv, 51);

    // The operator relabels the mayor's key as the deputy's for one signature: the server's
    // write-time check reads the key table, so it accepts a statement that claims the deputy,
    // signed with the mayor's key. The table is then put back, so it agrees with the log.
    set_key_holder(&srv, &houston.key_id, "deputy@us-hou");
    let mut impostor = Signatory::new(51, "deputy@us-hou", &w.a);
    impostor.key_id = houston.key_id.clone();
    let r = sign_mou(&srv, &impostor, &mou);
    assert_eq!(r.status, 201, "{}", r.text());
    set_key_holder(&srv, &houston.key_id, "mayor@us-hou");
    let r = sign_mou(&srv, &shanghai, &mou);
    assert_eq!(r.status, 201, "{}", r.text());

    // 1. The server's audit report.
    let report = crate::signing::audit(&srv, &mou);
    assert_eq!(report["verdict"], "fail", "{report}");
    let failed = failures(&report);
    assert!(
        failed
            .iter()
            .any(|(check, subject)| check == "key_bound" && subject == "signature seq 1"),
        "{failed:?}"
    );
    assert!(
        !failed
            .iter()
            .any(|(_, subject)| subject == "signature seq 2"),
        "the honest signature passes: {failed:?}"
    );

    // 2. `amity audit`, replaying the log.
    let state = srv.db.dir.path().join("state.json");
    let (ok, text) = crate::audit::audit(&srv, &state);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "MOU {mou} signature seq 1: the statement claims deputy@us-hou"
        )) && text.contains("FAIL  key_bound: "),
        "{text}"
    );

    // 2b. The standalone `amity-verify audit`, the same replay without the server crate.
    let standalone = std::path::Path::new(BIN).with_file_name("amity-verify");
    assert!(
        standalone.exists(),
        "{} is missing: run the tests from the workspace root (`cargo test`), which builds it",
        standalone.display()
    );
    let out = Command::new(&standalone)
        .args(["audit", "--server", srv.base.as_str()])
        .env_remove("AMITY_TOKEN")
        .env_remove("AMITY_REGISTRY_KEY")
        .output()
        .expect("amity-verify runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "MOU {mou} signature seq 1: the statement claims deputy@us-hou"
        )) && text.contains("FAIL  key_bound: "),
        "{text}"
    );
    assert!(text.contains("verdict: FAIL"), "{text}");

    // 3. `amity verify`, offline, from the bundle.
    let (ok, out) = verify_bundle(&srv, &mou);
    assert!(!ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("FAIL  key_bound [signature seq 1]")),
        "{out}"
    );
});

both_backends!(chain_link_is_named_by_all_three_verifiers, |srv| {
    let (_w, houston, shanghai, mou) = mou_to_sign(&srv, 53);
    let r = sign_mou(&srv, &houston, &mou);
    assert_eq!(r.status, 201, "{}", r.text());

    // The operator moves the chain head in the database: the server then offers, and accepts,
    // a second statement whose `prev` is not the hash of the first. The head it records after
    // that signature is the new statement's hash, so the stored head is consistent again.
    let n = srv
        .db
        .exec(&format!(
            "UPDATE mous SET head_hash = {} WHERE id = '{mou}'",
            srv.blob_sql(&"11".repeat(32))
        ))
        .unwrap();
    assert_eq!(n, 1);
    let r = sign_mou(&srv, &shanghai, &mou);
    assert_eq!(r.status, 201, "{}", r.text());

    let report = crate::signing::audit(&srv, &mou);
    let failed = failures(&report);
    assert!(
        failed
            .iter()
            .any(|(check, subject)| check == "chain_link" && subject == "signature seq 2"),
        "{failed:?}"
    );

    let state = srv.db.dir.path().join("state.json");
    let (ok, text) = crate::audit::audit(&srv, &state);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "FAIL  chain_link: 1 of 2 fail: MOU {mou} signature seq 2: expected seq 2 with prev"
        )),
        "{text}"
    );

    let (ok, out) = verify_bundle(&srv, &mou);
    assert!(!ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("FAIL  chain_link [signature seq 2]")),
        "{out}"
    );
});

/// Requires the server's report, `amity audit` and `amity verify` each to fail and to name
/// `rule` for `subject` (an MOU-level subject such as `signature seq 1`).
fn named_by_all_three(srv: &TestServer, mou: &str, rule: &str, subject: &str) {
    let report = crate::signing::audit(srv, mou);
    assert_eq!(report["verdict"], "fail", "{report}");
    let failed = failures(&report);
    assert!(
        failed.iter().any(|(c, s)| c == rule && s == subject),
        "the server report does not name {rule} [{subject}]: {failed:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = crate::audit::audit(srv, &dir.path().join("state.json"));
    assert!(!ok, "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("FAIL  {rule}: "))
                && l.contains(&format!("MOU {mou} {subject}: "))),
        "amity audit does not name {rule} [{subject}]:\n{text}"
    );

    let (ok, out) = verify_bundle(srv, mou);
    assert!(!ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("FAIL  {rule} [{subject}]"))),
        "amity verify does not name {rule} [{subject}]:\n{out}"
    );
}

/// Lets the operator rewrite stored signatures (their table is append-only).
fn unlock_signatures(srv: &TestServer) {
    let sql = match srv.backend() {
        Backend::Sqlite => "DROP TRIGGER mou_signatures_no_update",
        Backend::Postgres => "DROP TRIGGER mou_signatures_append_only ON mou_signatures",
    };
    srv.db.exec(sql).unwrap();
}

fn exec_one(srv: &TestServer, sql: &str) {
    assert_eq!(srv.db.exec(sql), Ok(1), "{sql}");
}

/// The stored statement of signature `seq`, as served.
fn served_statement(srv: &TestServer, mou: &str, seq: usize) -> Vec<u8> {
    let chain = srv.get(&format!("/api/v1/mous/{mou}/chain")).json();
    STANDARD
        .decode(chain["signatures"][seq - 1]["statement"].as_str().unwrap())
        .unwrap()
}

both_backends!(key_active_is_named_by_all_three_verifiers, |srv| {
    let (w, _houston, _shanghai, mou) = mou_to_sign(&srv, 55);
    // A deputy's key is registered but never approved. The operator marks it approved in the
    // key table for one signature, then puts the table back: the log never approved it.
    let mut deputy = Signatory::new(57, "deputy@us-hou", &w.a);
    let r = register(&srv, &deputy);
    assert_eq!(r.status, 201, "{}", r.text());
    deputy.key_id = r.json()["id"].as_str().unwrap().to_string();
    let key = deputy.key_id.clone();
    exec_one(
        &srv,
        &format!("UPDATE signatory_keys SET status = 'active', approved_at = 0 WHERE id = '{key}'"),
    );
    let r = sign_mou(&srv, &deputy, &mou);
    assert_eq!(r.status, 201, "{}", r.text());
    exec_one(
        &srv,
        &format!(
            "UPDATE signatory_keys SET status = 'pending', approved_at = NULL WHERE id = '{key}'"
        ),
    );
    named_by_all_three(&srv, &mou, "key_active", "signature seq 1");
});

both_backends!(statement_document_is_named_by_all_three_verifiers, |srv| {
    let (_w, houston, _shanghai, mou) = mou_to_sign(&srv, 59);
    // The operator swaps the version's recorded hash while the mayor signs, so the statement
    // commits to bytes the log never held, then puts the hash back.
    let real = srv.get(&format!("/api/v1/mous/{mou}")).json()["versions"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let other = hex::encode(amity::crypto::sha256(b"a text nobody uploaded"));
    let set_hash = |hash: &str| {
        exec_one(
            &srv,
            &format!(
                "UPDATE mou_versions SET sha256 = {} WHERE mou_id = '{mou}'",
                srv.blob_sql(hash)
            ),
        )
    };
    set_hash(&other);
    let r = sign_mou(&srv, &houston, &mou);
    assert_eq!(r.status, 201, "{}", r.text());
    set_hash(&real);
    named_by_all_three(&srv, &mou, "statement_document", "signature seq 1");
});

both_backends!(state_consistent_is_named_by_all_three_verifiers, |srv| {
    let (_w, houston, _shanghai, mou) = mou_to_sign(&srv, 61);
    // The operator drops Shanghai from the required signers while Houston signs, so one
    // signature executes the MOU, then restores them: the MOU stays executed.
    let required = srv.get(&format!("/api/v1/mous/{mou}")).json()["required_signers"].clone();
    assert_eq!(required.as_array().unwrap().len(), 2, "{required}");
    let houston_only = serde_json::json!([{"city": "us-hou", "role": "signatory", "count": 1}]);
    let set_required = |value: &serde_json::Value| {
        exec_one(
            &srv,
            &format!("UPDATE mous SET required_signers = '{value}' WHERE id = '{mou}'"),
        )
    };
    set_required(&houston_only);
    let r = sign_mou(&srv, &houston, &mou);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["state"], "executed", "{}", r.text());
    set_required(&required);
    named_by_all_three(&srv, &mou, "state_consistent", "mou");
});

both_backends!(version_logged_is_named_by_all_three_verifiers, |srv| {
    let (_w, _houston, _shanghai, mou) = mou_to_sign(&srv, 63);
    // The operator replaces the document, bytes and hash together: the stored version is
    // self-consistent, but not the one the log vouches for.
    let text = b"We, the cities, agree to nothing.";
    srv.unlock_documents();
    exec_one(
        &srv,
        &srv.rewrite_document_sql(
            &format!("SELECT blob_id FROM mou_versions WHERE mou_id = '{mou}'"),
            text,
        ),
    );
    exec_one(
        &srv,
        &format!(
            "UPDATE mou_versions SET sha256 = {}, size = {} WHERE mou_id = '{mou}'",
            srv.blob_sql(&hex::encode(amity::crypto::sha256(text))),
            text.len()
        ),
    );
    named_by_all_three(&srv, &mou, "version_logged", "version 1");
});

both_backends!(current_version_is_named_by_all_three_verifiers, |srv| {
    let (w, _houston, _shanghai, mou) = mou_to_sign(&srv, 65);
    assert_eq!(upload(&srv, &w.a, &mou, b"We, the cities, v2").status, 201);
    // The operator points the MOU back at its first version.
    exec_one(
        &srv,
        &format!("UPDATE mous SET current_version = 1 WHERE id = '{mou}'"),
    );
    named_by_all_three(&srv, &mou, "current_version", "mou");
});

both_backends!(statement_logged_is_named_by_all_three_verifiers, |srv| {
    let (_w, houston, _shanghai, mou) = mou_to_sign(&srv, 67);
    let r = sign_mou(&srv, &houston, &mou);
    assert_eq!(r.status, 201, "{}", r.text());
    // The operator replaces the stored statement with another one the mayor did sign (a
    // different time), validly signed: only the log's hash tells them apart.
    let mut other = parse(&served_statement(&srv, &mou, 1));
    other.signed_at = "2026-11-28T13:00:00Z".into();
    let bytes = serde_json::to_vec(&other).unwrap();
    unlock_signatures(&srv);
    exec_one(
        &srv,
        &format!(
            "UPDATE mou_signatures SET statement = {}, signature = {} WHERE mou_id = '{mou}' AND seq = 1",
            srv.blob_sql(&hex::encode(&bytes)),
            srv.blob_sql(&hex::encode(houston.sign(&bytes))),
        ),
    );
    named_by_all_three(&srv, &mou, "statement_logged", "signature seq 1");
});

both_backends!(signature_valid_is_named_by_all_three_verifiers, |srv| {
    let (_w, houston, _shanghai, mou) = mou_to_sign(&srv, 69);
    let r = sign_mou(&srv, &houston, &mou);
    assert_eq!(r.status, 201, "{}", r.text());
    // The operator replaces the signature with one by a key of their own over the same bytes.
    let statement = served_statement(&srv, &mou, 1);
    let operator = Signatory::new(71, "mayor@us-hou", "");
    unlock_signatures(&srv);
    exec_one(
        &srv,
        &format!(
            "UPDATE mou_signatures SET signature = {} WHERE mou_id = '{mou}' AND seq = 1",
            srv.blob_sql(&hex::encode(operator.sign(&statement))),
        ),
    );
    named_by_all_three(&srv, &mou, "signature_valid", "signature seq 1");
});

both_backends!(statement_canonical_is_named_by_all_three_verifiers, |srv| {
    let (_w, houston, _shanghai, mou) = mou_to_sign(&srv, 73);
    let r = sign_mou(&srv, &houston, &mou);
    assert_eq!(r.status, 201, "{}", r.text());
    // The operator stores the statement re-encoded (pretty-printed): the same fields, not the
    // canonical bytes that were signed.
    let statement = parse(&served_statement(&srv, &mou, 1));
    let pretty = serde_json::to_vec_pretty(&statement).unwrap();
    unlock_signatures(&srv);
    exec_one(
        &srv,
        &format!(
            "UPDATE mou_signatures SET statement = {} WHERE mou_id = '{mou}' AND seq = 1",
            srv.blob_sql(&hex::encode(&pretty)),
        ),
    );
    named_by_all_three(&srv, &mou, "statement_canonical", "signature seq 1");
});

both_backends!(key_logged_is_named_by_the_server_and_the_bundle, |srv| {
    let (_w, houston, _shanghai, mou) = mou_to_sign(&srv, 75);
    let r = sign_mou(&srv, &houston, &mou);
    assert_eq!(r.status, 201, "{}", r.text());
    // The operator relabels the key's role after the signature. Only the server report and the
    // bundle carry key summaries; `amity audit` reads keys from the log alone and compares
    // their served status (`served_state`).
    exec_one(
        &srv,
        &format!(
            "UPDATE signatory_keys SET role = 'observer' WHERE id = '{}'",
            houston.key_id
        ),
    );
    let subject = format!("key {}", houston.fingerprint());
    let failed = failures(&crate::signing::audit(&srv, &mou));
    assert!(
        failed
            .iter()
            .any(|(c, s)| c == "key_logged" && *s == subject),
        "{failed:?}"
    );
    let (ok, out) = verify_bundle(&srv, &mou);
    assert!(!ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("FAIL  key_logged [{subject}]"))),
        "{out}"
    );
});
