//! Signing MOUs over HTTP: the full lifecycle to an executed MOU and an active partnership,
//! every refusal of the acceptance algorithm, racing signers, and the audit report.

use std::sync::{Arc, Barrier};

use ed25519_dalek::SigningKey;
use serde_json::json;

use crate::both_backends;
use crate::signing::{
    Signatory, audit, create_mou, enroll, failures, parse, register, sign_mou, statement, submit,
    upload,
};
use crate::support::World;

both_backends!(full_lifecycle_and_audit, |srv| {
    let w = World::build(&srv);
    let mut houston = Signatory::new(11, "mayor@us-hou", &w.a);
    let mut shanghai = Signatory::new(12, "mayor@cn-sha", &w.b);
    enroll(&srv, &w.admin, &mut houston);
    enroll(&srv, &w.admin, &mut shanghai);
    let mou = create_mou(&srv, &w.a, &w.partnership);
    assert_eq!(upload(&srv, &w.a, &mou, b"Version one").status, 201);

    // One signature on v1: seq 1 from the genesis head.
    let st = statement(&srv, &houston, &mou);
    let parsed = parse(&st);
    assert_eq!((parsed.seq, parsed.mou_version), (1, 1));
    assert_eq!(parsed.prev, "0".repeat(64));
    assert_eq!(parsed.signer_key, houston.fingerprint());
    let r = submit(&srv, &w.a, &mou, &st, &houston.sign(&st));
    assert_eq!(r.status, 201, "{}", r.text());
    let first = r.json();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["state"], "open");
    let entry = srv.entry(first["log_index"].as_i64().unwrap());
    assert_eq!(entry["type"], "mou.signature_added");
    assert_eq!(entry["statement_sha256"], first["statement_sha256"]);
    assert_eq!(entry["key_fingerprint"], houston.fingerprint());

    // v2 supersedes v1: both sign v2 and the MOU is executed, the partnership active.
    assert_eq!(upload(&srv, &w.b, &mou, b"Version two").status, 201);
    let r = sign_mou(&srv, &shanghai, &mou);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["state"], "open", "v1's signature no longer counts");
    let second = r.json()["statement_sha256"].as_str().unwrap().to_string();
    let st = statement(&srv, &houston, &mou);
    assert_eq!((parse(&st).seq, parse(&st).mou_version), (3, 2));
    assert_eq!(parse(&st).prev, second);
    let r = submit(&srv, &w.a, &mou, &st, &houston.sign(&st));
    assert_eq!(r.status, 201, "{}", r.text());
    let done = r.json();
    assert_eq!(done["seq"], 3);
    assert_eq!(done["state"], "executed");
    assert!(done["partnership_activated"].is_i64());
    let p = srv
        .get(&format!("/api/v1/partnerships/{}", w.partnership))
        .json();
    assert_eq!(p["status"], "active");
    let h = srv
        .get(&format!("/api/v1/partnerships/{}/history", w.partnership))
        .json();
    let last = h["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["to"].as_str(), last["reason"].as_str()),
        (Some("active"), Some("MOU executed"))
    );

    // The chain is public and links each statement to the one before.
    let chain = srv.get(&format!("/api/v1/mous/{mou}/chain")).json();
    let links = chain["signatures"].as_array().unwrap();
    assert_eq!(links.len(), 3);
    assert_eq!(chain["head"]["seq"], 3);
    assert_eq!(chain["head"]["hash"], done["statement_sha256"]);
    assert_eq!(links[1]["version"], 2);

    // The audit passes every check...
    let report = audit(&srv, &mou);
    assert_eq!(
        failures(&report),
        Vec::<(String, String)>::new(),
        "{report}"
    );
    assert_eq!(report["verdict"], "pass");
    assert!(report["checks"].as_array().unwrap().len() >= 20);

    // ...and names the failing one after a document byte is changed in the database.
    // Documents are stored in chunks (docs/architecture.md, "Document storage"); this one
    // has a single chunk.
    srv.unlock_documents();
    let tamper = srv.rewrite_document_sql(
        &format!("SELECT blob_id FROM mou_versions WHERE mou_id = '{mou}' AND version = 2"),
        b"Version twO",
    );
    assert_eq!(srv.db.exec(&tamper), Ok(1));
    let report = audit(&srv, &mou);
    assert_eq!(report["verdict"], "fail");
    let failed = failures(&report);
    assert!(
        failed.contains(&("document_hash".into(), "version 2".into())),
        "{failed:?}"
    );
    // The signatures are on the logged hash, which the changed bytes no longer match: only
    // the stored document is named.
    assert_eq!(failed, vec![("document_hash".into(), "version 2".into())]);
});

both_backends!(refusals_store_nothing, |srv| {
    let w = World::build(&srv);
    let mut houston = Signatory::new(21, "mayor@us-hou", &w.a);
    let mut shanghai = Signatory::new(22, "mayor@cn-sha", &w.b);
    let mut berlin = Signatory::new(23, "mayor@de-ber", &w.c);
    enroll(&srv, &w.admin, &mut houston);
    enroll(&srv, &w.admin, &mut shanghai);
    enroll(&srv, &w.admin, &mut berlin);
    let mut pending = Signatory::new(24, "deputy@us-hou", &w.a);
    assert_eq!(register(&srv, &pending).status, 201);
    pending.key_id = "pending".into();
    let mou = create_mou(&srv, &w.a, &w.partnership);
    assert_eq!(upload(&srv, &w.a, &mou, b"v1 text").status, 201);
    let good = statement(&srv, &houston, &mou);
    let base = parse(&good);
    let size = srv.log_size();

    let resign = |edit: &dyn Fn(&mut amity::crypto::statement::MouSignatureStatement)| {
        let mut s = base.clone();
        edit(&mut s);
        serde_json::to_vec(&s).unwrap()
    };
    let check = |bytes: &[u8], sig: &str, office: &str, status: u16, code: &str| {
        submit(&srv, office, &mou, bytes, sig).assert_problem(status, code);
        assert_eq!(srv.log_size(), size, "{code} changed the log");
    };
    let sig = houston.sign(&good);

    // Authentication and role come first.
    submit(&srv, &w.auditor, &mou, &good, &sig).assert_problem(403, "office_required");
    // Signature by another key than the statement names.
    let other = SigningKey::from_bytes(&[99; 32]);
    let by_other = amity::crypto::sshsig::sign(
        &other,
        &amity::crypto::statement::mou_signature_namespace("amity.localhost"),
        &good,
    )
    .unwrap();
    check(&good, &by_other, &w.a, 422, "wrong_key");
    // Wrong namespace.
    let wrong_ns =
        amity::crypto::sshsig::sign(&houston.key, "amity-key-v1@amity.localhost", &good).unwrap();
    check(&good, &wrong_ns, &w.a, 422, "wrong_namespace");
    // Statement edited after signing.
    let edited = resign(&|s| s.signed_at = "2020-01-01T00:00:00Z".into());
    check(&edited, &sig, &w.a, 422, "signature_invalid");
    // Extra whitespace, reordered keys, unknown and duplicate keys.
    let text = String::from_utf8(good.clone()).unwrap();
    let spaced = text.replacen(',', ", ", 1);
    check(
        spaced.as_bytes(),
        &houston.sign(spaced.as_bytes()),
        &w.a,
        422,
        "statement_not_canonical",
    );
    let reordered =
        text.replacen("{\"action\":\"sign\",", "{", 1)
            .replacen('}', ",\"action\":\"sign\"}", 1);
    check(
        reordered.as_bytes(),
        &houston.sign(reordered.as_bytes()),
        &w.a,
        422,
        "keys_out_of_order",
    );
    let unknown = text.replacen('}', ",\"zzz\":\"x\"}", 1);
    check(
        unknown.as_bytes(),
        &houston.sign(unknown.as_bytes()),
        &w.a,
        422,
        "unknown_key",
    );
    let dup = text.replacen(
        "{\"action\":\"sign\",",
        "{\"action\":\"sign\",\"action\":\"sign\",",
        1,
    );
    check(
        dup.as_bytes(),
        &houston.sign(dup.as_bytes()),
        &w.a,
        422,
        "duplicate_key",
    );
    // Wrong document hash.
    let wrong_doc = resign(&|s| s.doc_sha256 = Some("ab".repeat(32)));
    check(
        &wrong_doc,
        &houston.sign(&wrong_doc),
        &w.a,
        422,
        "doc_sha256_mismatch",
    );
    // A signer of a city that is not a party, submitted by its own office.
    let mut bst = base.clone();
    bst.signer = berlin.signer.clone();
    bst.signer_city = "de-ber".into();
    bst.signer_key = berlin.fingerprint();
    let bbytes = serde_json::to_vec(&bst).unwrap();
    check(&bbytes, &berlin.sign(&bbytes), &w.c, 403, "not_a_party");
    // A signer of the party city submitted by the other party's office.
    check(&good, &sig, &w.b, 403, "signer_not_of_your_city");
    // A pending key.
    let pst = resign(&|s| {
        s.signer = pending.signer.clone();
        s.signer_key = pending.fingerprint();
    });
    check(&pst, &pending.sign(&pst), &w.a, 409, "key_not_active");
    // Stale prev and a position already taken are the same 409, with the head.
    let stale = resign(&|s| s.prev = "cd".repeat(32));
    let body = submit(&srv, &w.a, &mou, &stale, &houston.sign(&stale))
        .assert_problem(409, "stale_chain_head");
    assert_eq!(body["head"], json!({"seq": 0, "hash": "0".repeat(64)}));
    assert_eq!(srv.log_size(), size);

    // The good one is accepted; replaying it is refused.
    assert_eq!(submit(&srv, &w.a, &mou, &good, &sig).status, 201);
    let size = srv.log_size();
    submit(&srv, &w.a, &mou, &good, &sig).assert_problem(409, "duplicate_signature");
    assert_eq!(srv.log_size(), size);
    // The same signer again, on a fresh statement at the new head: refused, the MOU not
    // executed by a second signature of one person.
    let again = statement(&srv, &houston, &mou);
    submit(&srv, &w.a, &mou, &again, &houston.sign(&again)).assert_problem(409, "already_signed");
    assert_eq!(srv.log_size(), size);

    // A superseded version.
    let before_v2 = statement(&srv, &shanghai, &mou);
    assert_eq!(upload(&srv, &w.b, &mou, b"v2 text").status, 201);
    let size = srv.log_size();
    submit(&srv, &w.b, &mou, &before_v2, &shanghai.sign(&before_v2))
        .assert_problem(409, "superseded_version");
    assert_eq!(srv.log_size(), size);

    // Retired before now, and revoked.
    let r = srv.post(
        &format!("/api/v1/keys/{}/retire", shanghai.key_id),
        Some(&w.b),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let st = {
        let mut s = parse(&statement(&srv, &houston, &mou));
        s.signer = shanghai.signer.clone();
        s.signer_city = "cn-sha".into();
        s.signer_key = shanghai.fingerprint();
        serde_json::to_vec(&s).unwrap()
    };
    let size = srv.log_size();
    submit(&srv, &w.b, &mou, &st, &shanghai.sign(&st)).assert_problem(409, "key_not_active");
    let r = srv.post(
        &format!("/api/v1/keys/{}/revoke", houston.key_id),
        Some(&w.a),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let size2 = srv.log_size();
    assert_eq!(size2, size + 1);
    let st = statement_raw(&srv, &w.a, &mou, &houston);
    submit(&srv, &w.a, &mou, &st, &houston.sign(&st)).assert_problem(409, "key_not_active");
    assert_eq!(srv.log_size(), size2);
    // An unknown compromise time voids the earlier signature too: the audit says so. The key
    // was active when the signature was logged, so `key_active` holds, but the signature no
    // longer counts.
    let report = audit(&srv, &mou);
    let key_active = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "key_active" && c["subject"] == "signature seq 1")
        .cloned()
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        key_active["detail"]
            .as_str()
            .unwrap()
            .contains("void: the key was revoked at entry"),
        "{key_active}"
    );
});

/// A statement at the current head for a key the server would not offer (revoked).
fn statement_raw(
    srv: &crate::support::TestServer,
    office: &str,
    mou: &str,
    s: &Signatory,
) -> Vec<u8> {
    let m = srv.get(&format!("/api/v1/mous/{mou}")).json();
    let v = m["versions"].as_array().unwrap().last().unwrap().clone();
    let st = amity::crypto::statement::MouSignatureStatement {
        action: "sign".into(),
        doc_sha256: Some(v["sha256"].as_str().unwrap().into()),
        documents: None,
        mou_id: mou.into(),
        mou_version: v["version"].as_u64().unwrap(),
        prev: m["head"]["hash"].as_str().unwrap().into(),
        registry: "amity.localhost".into(),
        role: s.role.clone(),
        seq: m["head"]["seq"].as_u64().unwrap() + 1,
        signed_at: "2026-11-28T12:00:00Z".into(),
        signer: s.signer.clone(),
        signer_city: s.city.clone(),
        signer_key: s.fingerprint(),
        r#type: "amity.localhost/schemas/mou-signature/v1".into(),
    };
    let _ = office;
    st.to_bytes().unwrap()
}

both_backends!(racing_signers, |srv| {
    let w = World::build(&srv);
    let mut houston = Signatory::new(31, "mayor@us-hou", &w.a);
    let mut shanghai = Signatory::new(32, "mayor@cn-sha", &w.b);
    enroll(&srv, &w.admin, &mut houston);
    enroll(&srv, &w.admin, &mut shanghai);
    let mou = create_mou(&srv, &w.a, &w.partnership);
    assert_eq!(upload(&srv, &w.a, &mou, b"the text").status, 201);
    // Both fetch the statement at the same head and sign it.
    let sts = [
        statement(&srv, &houston, &mou),
        statement(&srv, &shanghai, &mou),
    ];
    assert_eq!(parse(&sts[0]).seq, parse(&sts[1]).seq);
    let sigs = [houston.sign(&sts[0]), shanghai.sign(&sts[1])];
    let offices = [w.a.clone(), w.b.clone()];
    let srv = Arc::new(srv);
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let (srv, barrier) = (srv.clone(), barrier.clone());
            let (office, st, sig, mou) = (
                offices[i].clone(),
                sts[i].clone(),
                sigs[i].clone(),
                mou.clone(),
            );
            std::thread::spawn(move || {
                barrier.wait();
                submit(&srv, &office, &mou, &st, &sig)
            })
        })
        .collect();
    let replies: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [201, 409],
        "{:?}",
        replies.iter().map(|r| r.text()).collect::<Vec<_>>()
    );
    let loser = replies.iter().position(|r| r.status == 409).unwrap();
    let body = replies[loser].assert_problem(409, "stale_chain_head");
    assert_eq!(body["head"]["seq"], 1);
    // The loser re-fetches, re-signs and succeeds; the chain holds and the MOU is executed.
    let signer = if loser == 0 { &houston } else { &shanghai };
    let r = sign_mou(&srv, signer, &mou);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["seq"], 2);
    assert_eq!(r.json()["state"], "executed");
    let report = audit(&srv, &mou);
    assert_eq!(report["verdict"], "pass", "{report}");
});

// The migration that drops the table-wide index on statement hashes rebuilds the SQLite table:
// undone and redone on a registry with an executed MOU, it keeps every signature, the audit
// passes, a replay is still refused and the table is still append-only.
both_backends!(signature_table_rebuild_keeps_chain_and_guards, |srv| {
    use amity::db::{DbConn, migrations};
    use diesel_migrations::MigrationHarness;

    let w = World::build(&srv);
    let mut houston = Signatory::new(31, "mayor@us-hou", &w.a);
    let mut shanghai = Signatory::new(32, "mayor@cn-sha", &w.b);
    enroll(&srv, &w.admin, &mut houston);
    enroll(&srv, &w.admin, &mut shanghai);
    let mou = create_mou(&srv, &w.a, &w.partnership);
    assert_eq!(upload(&srv, &w.a, &mou, b"Rebuilt").status, 201);
    let first = statement(&srv, &houston, &mou);
    let first_sig = houston.sign(&first);
    assert_eq!(submit(&srv, &w.a, &mou, &first, &first_sig).status, 201);
    assert_eq!(sign_mou(&srv, &shanghai, &mou).status, 201);
    let chain_before = srv.get(&format!("/api/v1/mous/{mou}/chain")).json();

    let db = amity::db::Db::open(&srv.db.url, 1).expect("open the test database");
    let mut conn = db.conn().expect("a connection");
    // Undo every migration down to and including the rebuild, then run them all again.
    const REBUILD: &str = "20261129120000";
    let mut reverted = Vec::new();
    while !reverted
        .last()
        .is_some_and(|v: &String| v.starts_with(REBUILD))
    {
        let last = match &mut *conn {
            DbConn::Sqlite(c) => c.revert_last_migration(migrations::SQLITE),
            DbConn::Pg(c) => c.revert_last_migration(migrations::POSTGRES),
        }
        .map(|v| v.to_string().replace('-', ""))
        .expect("revert a migration");
        assert!(
            last.as_str() >= REBUILD,
            "reverted {last} without meeting the rebuild ({REBUILD}): {reverted:?}"
        );
        reverted.push(last);
    }
    let reapplied = match &mut *conn {
        DbConn::Sqlite(c) => c
            .run_pending_migrations(migrations::SQLITE)
            .map(|v| v.len()),
        DbConn::Pg(c) => c
            .run_pending_migrations(migrations::POSTGRES)
            .map(|v| v.len()),
    };
    assert_eq!(reapplied.ok(), Some(reverted.len()), "{reverted:?}");
    drop(conn);
    drop(db);

    assert_eq!(
        srv.get(&format!("/api/v1/mous/{mou}/chain")).json(),
        chain_before
    );
    let report = audit(&srv, &mou);
    assert_eq!(report["verdict"], "pass", "{report}");
    let size = srv.log_size();
    submit(&srv, &w.a, &mou, &first, &first_sig).assert_problem(409, "duplicate_signature");
    assert_eq!(srv.log_size(), size);
    for sql in [
        "UPDATE mou_signatures SET role = 'mayor'",
        "DELETE FROM mou_signatures",
    ] {
        let refused = srv.db.exec(sql).expect_err(sql);
        assert!(refused.contains("append-only"), "{sql}: {refused}");
    }
});

both_backends!(every_signature_in_pages, |srv| {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let w = World::build(&srv);
    let mut houston = Signatory::new(61, "mayor@us-hou", &w.a);
    let mut shanghai = Signatory::new(62, "mayor@cn-sha", &w.b);
    enroll(&srv, &w.admin, &mut houston);
    enroll(&srv, &w.admin, &mut shanghai);
    let first = create_mou(&srv, &w.a, &w.partnership);
    let second = create_mou(&srv, &w.b, &w.partnership);
    let unsigned = create_mou(&srv, &w.a, &w.partnership);
    for mou in [&first, &second, &unsigned] {
        assert_eq!(upload(&srv, &w.a, mou, b"Terms").status, 201);
    }
    // Interleaved, so the list's MOU-by-MOU order is not the order of writing.
    for (s, mou) in [
        (&houston, &second),
        (&houston, &first),
        (&shanghai, &second),
    ] {
        let r = sign_mou(&srv, s, mou);
        assert_eq!(r.status, 201, "{}", r.text());
    }

    // Every chain, MOU by MOU in id order, is what the list serves, whatever the page size.
    let mut mous = vec![first.clone(), second.clone()];
    mous.sort();
    let mut expected = Vec::new();
    for mou in &mous {
        let chain = srv.get(&format!("/api/v1/mous/{mou}/chain")).json();
        for link in chain["signatures"].as_array().unwrap() {
            let mut item = link.clone();
            item.as_object_mut()
                .unwrap()
                .insert("mou".into(), json!(mou));
            expected.push(item);
        }
    }
    assert_eq!(expected.len(), 3);
    for limit in [1, 2, 3, 5000] {
        let mut served = Vec::new();
        let mut path = format!("/api/v1/signatures?limit={limit}");
        let mut pages = 0;
        loop {
            let r = srv.get(&path);
            assert_eq!(r.status, 200, "{}", r.text());
            let page = r.json();
            pages += 1;
            served.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/signatures?limit={limit}&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(served, expected, "limit {limit}");
        assert_eq!(pages, 3usize.div_ceil(limit), "limit {limit}");
    }
    let all = srv.get("/api/v1/signatures").json();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    assert!(all.get("next_cursor").is_none());

    // Refusals name their problem; a cursor must be one the server issued.
    let forged = |key: &str| URL_SAFE_NO_PAD.encode(format!("v1:{key}"));
    for (query, code) in [
        ("limit=0".to_string(), "invalid_limit"),
        ("limit=5001".to_string(), "invalid_limit"),
        ("cursor=!!".to_string(), "invalid_cursor"),
        (
            format!("cursor={}", forged("no-position")),
            "invalid_cursor",
        ),
        (format!("cursor={}", forged("-1:mou")), "invalid_cursor"),
        (format!("cursor={}", forged("1:")), "invalid_cursor"),
    ] {
        let r = srv.get(&format!("/api/v1/signatures?{query}"));
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        assert_eq!(r.json()["code"], code, "{query}");
    }
    let r = srv.get("/api/v1/signatures?after=x");
    assert!(matches!(r.status, 400 | 422), "{}", r.text());
});
