//! One rule, three verifiers: a registry operator who bypasses a write-time check must be
//! caught by the server's audit report, by `amity audit` (log replay) and by `amity verify`
//! (the offline bundle) alike, each naming the rule (docs/audit-rules.md).

use std::process::Command;

use crate::both_backends;
use crate::signing::{Signatory, create_mou, enroll, failures, sign_mou, upload};
use crate::support::{TestServer, World};

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
        text.contains("signature 1: key_bound: the statement claims deputy@us-hou"),
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
        text.contains("signature 1: key_bound: the statement claims deputy@us-hou"),
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
        text.contains("signature 2: chain_link: expected seq 2 with prev"),
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
