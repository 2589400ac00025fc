//! Evidence bundles: an executed MOU's bundle verifies offline with the `amity` binary, and each
//! kind of tampering makes it fail, naming the check that found it.

use std::process::Command;

use amity::log::note::{Checkpoint, NoteSigner, sign_checkpoint};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use serde_json::Value;

use crate::both_backends;
use crate::signing::{ORIGIN, Signatory, create_mou, enroll, parse, sign_mou, upload};
use crate::support::World;

const BIN: &str = env!("CARGO_BIN_EXE_amity");

/// Runs `amity verify` on `bundle`; returns (exit success, stdout, stderr).
fn verify(dir: &std::path::Path, bundle: &Value, extra: &[&str]) -> (bool, String, String) {
    let path = dir.join("bundle.json");
    std::fs::write(&path, serde_json::to_vec_pretty(bundle).unwrap()).unwrap();
    let out = Command::new(BIN)
        .arg("verify")
        .arg(&path)
        .args(extra)
        .env_remove("RUST_LOG")
        .output()
        .expect("amity runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts that `bundle` fails and that the report has `FAIL  <check> [<subject>]`.
fn assert_fails(dir: &std::path::Path, bundle: &Value, extra: &[&str], check: &str, what: &str) {
    let (ok, out, err) = verify(dir, bundle, extra);
    assert!(!ok, "{what}: verified anyway\n{out}");
    assert!(out.contains("verdict: FAIL"), "{what}: {out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("FAIL  {check}"))),
        "{what}: no failing {check}\n{out}"
    );
}

fn b64_edit(value: &mut Value, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = STANDARD.decode(value.as_str().unwrap()).unwrap();
    edit(&mut bytes);
    *value = Value::String(STANDARD.encode(bytes));
}

both_backends!(
    executed_mou_bundle_verifies_offline_and_tampering_fails,
    |srv| {
        let w = World::build(&srv);
        let mut houston = Signatory::new(41, "mayor@us-hou", &w.a);
        let mut shanghai = Signatory::new(42, "mayor@cn-sha", &w.b);
        enroll(&srv, &w.admin, &mut houston);
        enroll(&srv, &w.admin, &mut shanghai);
        let mou = create_mou(&srv, &w.a, &w.partnership);
        assert_eq!(upload(&srv, &w.a, &mou, b"Version one").status, 201);
        assert_eq!(sign_mou(&srv, &houston, &mou).status, 201);
        assert_eq!(upload(&srv, &w.b, &mou, b"Version two").status, 201);
        assert_eq!(sign_mou(&srv, &shanghai, &mou).status, 201);
        let r = sign_mou(&srv, &houston, &mou);
        assert_eq!(r.json()["state"], "executed", "{}", r.text());

        srv.get("/api/v1/mous/no-such-mou/bundle")
            .assert_problem(404, "mou_not_found");
        let r = srv.get(&format!("/api/v1/mous/{mou}/bundle"));
        assert_eq!(r.status, 200, "{}", r.text());
        let bundle = r.json();
        assert_eq!(bundle["format"], "amity-evidence-bundle/v1");
        assert_eq!(bundle["signatures"].as_array().unwrap().len(), 3);
        assert_eq!(bundle["versions"].as_array().unwrap().len(), 2);
        // mou.created, 2 versions, 3 signatures, and each key's registration and approval.
        assert_eq!(bundle["entries"].as_array().unwrap().len(), 10);
        let vkey = srv.get("/api/v1/log/key").json()["vkey"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(bundle["registry"]["vkey"], vkey.as_str());

        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("mou.txt");
        std::fs::write(&doc, b"Version two").unwrap();
        let doc = doc.to_str().unwrap();
        let wrong = dir.path().join("v1.txt");
        std::fs::write(&wrong, b"Version one").unwrap();
        let trusted = ["--document", doc, "--registry-key", vkey.as_str()];

        let (ok, out, err) = verify(dir.path(), &bundle, &trusted);
        assert!(ok, "{out}{err}");
        assert!(out.contains("verdict: PASS"), "{out}");
        // The verifier crate's own tests check this bundle with the standalone binary; the
        // fixture is refreshed on request, like the README screenshot.
        if let Some(fixtures) = std::env::var_os("AMITY_UPDATE_VERIFY_FIXTURE") {
            let fixtures = std::path::Path::new(&fixtures);
            std::fs::create_dir_all(fixtures).unwrap();
            let pretty = serde_json::to_vec_pretty(&bundle).unwrap();
            std::fs::write(fixtures.join("executed-mou.bundle.json"), pretty).unwrap();
            std::fs::write(fixtures.join("registry.vkey"), format!("{vkey}\n")).unwrap();
            std::fs::write(fixtures.join("executed-mou.txt"), b"Version two").unwrap();
        }
        assert!(!out.contains("WARNING"), "{out}");
        assert!(!out.contains("FAIL"), "{out}");
        assert!(out.contains("PASS  document"), "{out}");

        // Without a trusted key it still passes, but says whose key it was.
        let (ok, out, _) = verify(dir.path(), &bundle, &["--document", doc]);
        assert!(ok, "{out}");
        assert!(out.contains("WARNING: checked against the registry key carried in the bundle"));

        let mut b = bundle.clone();
        b64_edit(&mut b["signatures"][0]["statement"], |s| {
            let at = s.len() / 2;
            s[at] ^= 0x01;
        });
        assert_fails(
            dir.path(),
            &b,
            &trusted,
            "signature_valid [signature seq 1]",
            "flipped statement byte",
        );

        // A statement re-signed by the key's holder but claiming another signer: the
        // signature is good, the key is not that signer's, and the log vouches for other bytes.
        let mut b = bundle.clone();
        let bytes = STANDARD
            .decode(b["signatures"][0]["statement"].as_str().unwrap())
            .unwrap();
        let mut forged = parse(&bytes);
        forged.signer = "deputy@us-hou".into();
        let forged = forged.to_bytes().unwrap();
        b["signatures"][0]["statement"] = Value::String(STANDARD.encode(&forged));
        b["signatures"][0]["signature"] = Value::String(houston.sign(&forged));
        assert_fails(
            dir.path(),
            &b,
            &trusted,
            "key_bound [signature seq 1]",
            "another signer",
        );
        assert_fails(
            dir.path(),
            &b,
            &trusted,
            "statement_logged [signature seq 1]",
            "another signer",
        );

        let mut b = bundle.clone();
        b["signatures"][0]["signature"] = b["signatures"][1]["signature"].clone();
        assert_fails(
            dir.path(),
            &b,
            &trusted,
            "signature_valid [signature seq 1]",
            "swapped signature",
        );

        let mut b = bundle.clone();
        let created = b["mou"]["log_index"].as_i64().unwrap();
        let entry = b["entries"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|e| e["index"] == created)
            .unwrap();
        b64_edit(&mut entry["entry"], |e| {
            let text = String::from_utf8(e.clone()).unwrap();
            *e = text.replace("Friendship", "Friendsh1p").into_bytes();
        });
        assert_fails(
            dir.path(),
            &b,
            &trusted,
            &format!("entry_included [entry {created}]"),
            "edited entry",
        );

        let mut b = bundle.clone();
        let hash = b["entries"][0]["proof"][0].as_str().unwrap().to_string();
        let flipped = if hash.starts_with('0') { "1" } else { "0" };
        b["entries"][0]["proof"][0] = Value::String(format!("{flipped}{}", &hash[1..]));
        assert_fails(
            dir.path(),
            &b,
            &trusted,
            "entry_included",
            "flipped proof hash",
        );

        // The checkpoint checked under a key that is not the one that signed it...
        let other = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[9; 32])).unwrap();
        let other_vkey = other.verifier().to_vkey();
        assert_fails(
            dir.path(),
            &bundle,
            &["--document", doc, "--registry-key", &other_vkey],
            "checkpoint_signature",
            "another registry key",
        );
        // ...and a checkpoint re-signed by another key, checked under the registry's.
        let mut b = bundle.clone();
        let note = b["checkpoint"].as_str().unwrap();
        let text = &note[..note.rfind("\n\n").unwrap() + 1];
        let cp = Checkpoint::parse_text(text).unwrap();
        b["checkpoint"] = Value::String(sign_checkpoint(&cp, &[&other]).unwrap());
        assert_fails(
            dir.path(),
            &b,
            &trusted,
            "checkpoint_signature",
            "checkpoint by another key",
        );

        assert_fails(
            dir.path(),
            &bundle,
            &[
                "--document",
                wrong.to_str().unwrap(),
                "--registry-key",
                &vkey,
            ],
            "document",
            "wrong document",
        );

        let mut b = bundle.clone();
        b["signatures"].as_array_mut().unwrap().remove(1);
        assert_fails(
            dir.path(),
            &b,
            &trusted,
            "chain_link [signature seq 3]",
            "chain gap",
        );

        // Strict parsing: an unknown field is no bundle at all.
        let mut b = bundle.clone();
        b["extra"] = Value::Bool(true);
        let (ok, _, err) = verify(dir.path(), &b, &trusted);
        assert!(!ok && err.contains("not an evidence bundle"), "{err}");
    }
);

#[test]
fn verify_takes_exactly_one_form() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["verify"],
        vec!["verify", "b.json", "--statement", "s.json"],
        vec!["verify", "--statement", "s", "--signature", "g"],
        vec![
            "verify",
            "--statement",
            "s",
            "--signature",
            "g",
            "--key",
            "k",
            "--document",
            "d",
        ],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("give either a bundle"), "{args:?}: {err}");
    }
}

both_backends!(key_events_decide_validity_at_log_time, |srv| {
    let w = World::build(&srv);
    let mut houston = Signatory::new(51, "mayor@us-hou", &w.a);
    let mut shanghai = Signatory::new(52, "mayor@cn-sha", &w.b);
    enroll(&srv, &w.admin, &mut houston);
    enroll(&srv, &w.admin, &mut shanghai);
    let mou = create_mou(&srv, &w.a, &w.partnership);
    assert_eq!(upload(&srv, &w.a, &mou, b"The text").status, 201);
    assert_eq!(sign_mou(&srv, &houston, &mou).status, 201);
    assert_eq!(sign_mou(&srv, &shanghai, &mou).status, 201);
    let dir = tempfile::tempdir().unwrap();
    let vkey = srv.get("/api/v1/log/key").json()["vkey"]
        .as_str()
        .unwrap()
        .to_string();
    let trusted = ["--registry-key", vkey.as_str()];

    // Retiring a key from now on leaves its earlier signature valid; the bundle carries the
    // retirement and still passes.
    let r = srv.post(
        &format!("/api/v1/keys/{}/retire", shanghai.key_id),
        Some(&w.b),
        &serde_json::json!({"reason": "term ended"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let bundle = srv.get(&format!("/api/v1/mous/{mou}/bundle")).json();
    let key = bundle["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["signer"] == "mayor@cn-sha")
        .unwrap()
        .clone();
    assert_eq!(key["events"].as_array().unwrap().len(), 3, "{key}");
    let (ok, out, _) = verify(dir.path(), &bundle, &trusted);
    assert!(ok, "{out}");
    // The key summary is a claim: calling the retirement an approval is caught.
    let mut b = bundle.clone();
    let at = b["keys"]
        .as_array()
        .unwrap()
        .iter()
        .position(|k| k["signer"] == "mayor@cn-sha")
        .unwrap();
    b["keys"][at]["events"][2]["kind"] = Value::String("approved".into());
    assert_fails(
        dir.path(),
        &b,
        &trusted,
        "key_logged",
        "mislabelled key event",
    );

    // A revocation with an unknown compromise time voids every signature by the key.
    let r = srv.post(
        &format!("/api/v1/keys/{}/revoke", houston.key_id),
        Some(&w.admin),
        &serde_json::json!({"reason": "laptop stolen"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // The key was active when the signature was logged, so `key_active` holds, but the
    // signature is void: it no longer counts, and the registry has reopened the MOU.
    let bundle = srv.get(&format!("/api/v1/mous/{mou}/bundle")).json();
    assert_eq!(bundle["mou"]["state"], "open");
    assert_fails(
        dir.path(),
        &bundle,
        &trusted,
        "required_signers",
        "revoked key",
    );
    let (_, out, _) = verify(dir.path(), &bundle, &trusted);
    assert!(
        out.lines()
            .any(|l| l.starts_with("PASS  key_active [signature seq 1]")
                && l.contains("void: the key was revoked")),
        "{out}"
    );
    assert!(out.contains("PASS  state_consistent"), "{out}");

    // A checkpoint older than an entry the bundle rests on cannot prove it: the read says so
    // (and the handler takes a fresh checkpoint) instead of handing out a bad proof.
    let db = amity::db::Db::open(&srv.db.url, 1).unwrap();
    let mou = amity::domain::MouId::parse(&mou).unwrap();
    let registry = amity::bundle::RegistryInfo {
        origin: ORIGIN.into(),
        vkey: String::new(),
        ssh: String::new(),
    };
    let stale = amity::db::checkpoints::CheckpointRow {
        size: 3,
        root: vec![0; 32],
        note: String::new(),
        created_at: 0,
    };
    let read =
        db.read(|c| amity::db::bundle::read(c, &db.node_cache(), &mou, &stale, registry.clone()));
    assert!(read.unwrap().is_none());
    let fresh = amity::db::checkpoints::CheckpointRow {
        size: srv.log_size(),
        ..stale
    };
    let read = db.read(|c| amity::db::bundle::read(c, &db.node_cache(), &mou, &fresh, registry));
    assert_eq!(read.unwrap().unwrap().signatures.len(), 2);
});
