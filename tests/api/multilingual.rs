//! Multilingual MOUs (docs/formats/statements.md, form v2): a version of two documents, one
//! per language, signed by `ssh-keygen -Y sign` and by `amity sign`, checked by
//! `ssh-keygen -Y verify`, `amity verify` and `amity audit`; a byte changed in either
//! document fails the audit; and the upload's refusals.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::audit::audit_with;
use crate::both_backends;
use crate::interop::{amity_verify_statement, ok, p, run, ssh_keygen_sign, ssh_keygen_verify};
use amity::crypto::sshsig;
use amity::crypto::statement::{MouDeclineStatement, mou_decline_namespace};

use crate::signing::{ORIGIN, Signatory, create_mou, enroll, failures, submit};
use crate::support::{Reply, TestServer, World, multipart};

const BIN: &str = env!("CARGO_BIN_EXE_amity");

const ENGLISH: &[u8] = b"Memorandum of Understanding between Houston and Shanghai\n";
const CHINESE: &[u8] = "\u{4f11}\u{65af}\u{6566}\u{548c}\u{4e0a}\u{6d77}\u{53cb}\u{597d}\u{57ce}\u{5e02}\u{8c05}\u{89e3}\u{5907}\u{5fd8}\u{5f55}\n".as_bytes();

/// A file of an upload: its name and bytes.
type File<'a> = (&'a str, &'a [u8]);

/// Uploads `files` (name, bytes) as one version with `query` (e.g. `languages=en,zh-Hans`).
fn upload_version(
    srv: &TestServer,
    office: &str,
    mou: &str,
    query: &str,
    files: &[File<'_>],
) -> Reply {
    let parts: Vec<_> = files
        .iter()
        .map(|(name, bytes)| ("document", Some((*name, "text/plain")), *bytes))
        .collect();
    let (content_type, body) = multipart(&parts);
    srv.send(
        "POST",
        &format!("/api/v1/mous/{mou}/versions?{query}"),
        Some(office),
        Some((&content_type, body)),
    )
}

/// `amity keygen` a key for `signer` and register it with `amity keys register`; the admin
/// approves it. Returns the private key's path and the public key line.
fn cli_key(
    srv: &TestServer,
    w: &World,
    dir: &std::path::Path,
    signer: &str,
    office: &str,
) -> (std::path::PathBuf, String) {
    let (handle, city) = signer.split_once('@').unwrap();
    let key = dir.join(format!("{handle}-{city}"));
    ok(
        run(BIN, &["keygen", "-f", p(&key), "-C", signer], b""),
        "amity keygen",
    );
    let out = run(
        BIN,
        &[
            "keys",
            "register",
            "--key",
            p(&key),
            "--signer",
            signer,
            "--city",
            city,
            "--server",
            &srv.base,
            "--token",
            office,
        ],
        b"",
    );
    let registered: Value = serde_json::from_str(&ok(out, "amity keys register")).unwrap();
    let id = registered["id"].as_str().unwrap();
    let r = srv.post(
        &format!("/api/v1/keys/{id}/approve"),
        Some(&w.admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let public = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();
    (key, public.trim().to_string())
}

both_backends!(a_bilingual_mou_is_signed_verified_and_audited, |srv| {
    let w = World::build(&srv);
    let dir = tempfile::tempdir().unwrap();
    let (hou_key, hou_pub) = cli_key(&srv, &w, dir.path(), "mayor@us-hou", &w.a);
    let (sha_key, sha_pub) = cli_key(&srv, &w, dir.path(), "mayor@cn-sha", &w.b);

    let mou = create_mou(&srv, &w.a, &w.partnership);
    let r = upload_version(
        &srv,
        &w.a,
        &mou,
        "languages=en,zh-Hans",
        &[("mou-en.txt", ENGLISH), ("mou-zh.txt", CHINESE)],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let uploaded = r.json();
    let en_hash = hex::encode(amity::crypto::sha256(ENGLISH));
    let zh_hash = hex::encode(amity::crypto::sha256(CHINESE));
    assert_eq!(uploaded["sha256"], en_hash);
    assert_eq!(uploaded["language"], "en");
    assert_eq!(uploaded["documents"][1]["language"], "zh-Hans");
    assert_eq!(uploaded["documents"][1]["sha256"], zh_hash);
    assert_eq!(uploaded["documents"][1]["filename"], "mou-zh.txt");

    // Each document downloads on its own, with its hash as ETag.
    let zh = srv.get_as(&format!("/api/v1/mous/{mou}/versions/1/documents/2"), &w.b);
    assert_eq!(zh.status, 200);
    assert_eq!(zh.body, CHINESE);
    assert_eq!(zh.header("etag").unwrap(), format!("\"sha256:{zh_hash}\""));
    let r = srv.get_as(&format!("/api/v1/mous/{mou}/versions/1/documents/3"), &w.b);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["code"], "version_not_found");

    // The log entry names both documents with their languages.
    let entry_index = uploaded["log_index"].as_i64().unwrap();
    let entry = srv
        .get(&format!("/api/v1/log/entries/{entry_index}"))
        .json();
    let logged: Value =
        serde_json::from_slice(&STANDARD.decode(entry["entry"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(logged["language"], "en", "{entry}");
    assert_eq!(logged["additional_documents"][0]["language"], "zh-Hans");
    assert_eq!(logged["additional_documents"][0]["sha256"], zh_hash);

    // The statement offered is form v2: it commits to both documents.
    let offered = srv.get_as(
        &format!("/api/v1/mous/{mou}/signing-statement?signer=mayor@us-hou"),
        &w.a,
    );
    assert_eq!(offered.status, 200, "{}", offered.text());
    let text = offered.text();
    assert!(
        text.contains(&format!(
            r#""documents":["en:{en_hash}","zh-Hans:{zh_hash}"]"#
        )),
        "{text}"
    );
    assert!(
        text.ends_with(r#""type":"amity.localhost/schemas/mou-signature/v2"}"#),
        "{text}"
    );

    // Houston signs with plain ssh-keygen.
    let st_file = dir.path().join("statement.json");
    std::fs::write(&st_file, &offered.body).unwrap();
    let sig = ssh_keygen_sign(&hou_key, &st_file);
    let r = submit(&srv, &w.a, &mou, &offered.body, &sig);
    assert_eq!(r.status, 201, "{}", r.text());

    // Shanghai signs with `amity sign`, which wants every document of the version.
    let en_file = dir.path().join("mou-en.txt");
    let zh_file = dir.path().join("mou-zh.txt");
    std::fs::write(&en_file, ENGLISH).unwrap();
    std::fs::write(&zh_file, CHINESE).unwrap();
    let sign = |documents: &[&std::path::Path]| {
        let mut args = vec!["sign", "--key", p(&sha_key), "--mou", &mou];
        for d in documents {
            args.extend(["--document", p(d)]);
        }
        args.extend(["--server", &srv.base, "--token", &w.b]);
        run(BIN, &args, b"")
    };
    let out = sign(&[&en_file]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("refusing to sign"), "{said}");
    let accepted: Value =
        serde_json::from_str(&ok(sign(&[&zh_file, &en_file]), "amity sign")).unwrap();
    assert_eq!(accepted["state"], "executed", "{accepted}");

    // Both stored signatures pass `ssh-keygen -Y verify` and `amity verify`.
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(
        &allowed,
        format!("mayor@us-hou {hou_pub}\nmayor@cn-sha {sha_pub}\n"),
    )
    .unwrap();
    let chain = srv.get(&format!("/api/v1/mous/{mou}/chain")).json();
    for link in chain["signatures"].as_array().unwrap() {
        let statement = STANDARD
            .decode(link["statement"].as_str().unwrap())
            .unwrap();
        let seq = &link["seq"];
        let sig_file = dir.path().join(format!("sig{seq}"));
        let stmt_file = dir.path().join(format!("st{seq}"));
        std::fs::write(&sig_file, link["signature"].as_str().unwrap()).unwrap();
        std::fs::write(&stmt_file, &statement).unwrap();
        let signer = link["signer"].as_str().unwrap();
        ok(
            ssh_keygen_verify(&allowed, signer, &sig_file, &statement),
            "ssh-keygen -Y verify",
        );
        let key = if signer == "mayor@us-hou" {
            &hou_pub
        } else {
            &sha_pub
        };
        let said = ok(
            amity_verify_statement(&stmt_file, &sig_file, key),
            "amity verify --statement",
        );
        assert!(
            said.contains(&format!("documents en:{en_hash}, zh-Hans:{zh_hash}")),
            "{said}"
        );
    }

    // The bundle verifies offline, with the auditor's copies of both documents.
    let bundle = dir.path().join("bundle.json");
    let r = srv.get(&format!("/api/v1/mous/{mou}/bundle"));
    assert_eq!(r.status, 200);
    std::fs::write(&bundle, &r.body).unwrap();
    let said = ok(
        run(
            BIN,
            &[
                "verify",
                p(&bundle),
                "--document",
                p(&en_file),
                "--document",
                p(&zh_file),
            ],
            b"",
        ),
        "amity verify bundle",
    );
    assert!(said.contains("a document of the current version"), "{said}");
    let other = dir.path().join("other.txt");
    std::fs::write(&other, b"not the MOU").unwrap();
    let out = run(BIN, &["verify", p(&bundle), "--document", p(&other)], b"");
    assert!(!out.status.success(), "a foreign document must fail");

    // The audit passes; a byte changed in either document, directly in the database,
    // fails both the server's report and `amity audit`.
    let state = dir.path().join("audit-state.json");
    let token = ["--token", w.auditor.as_str()];
    let (passed, text) = audit_with(&srv, &state, &token);
    assert!(passed, "{text}");
    let report = srv.get(&format!("/api/v1/mous/{mou}/audit")).json();
    assert_eq!(report["verdict"], "pass", "{report}");
    let tampered = [
        ("mou_version_documents", "version 1 document 2", CHINESE),
        ("mou_versions", "version 1 document 1", ENGLISH),
    ];
    srv.unlock_documents();
    for (table, subject, original) in tampered {
        let mut edited = original.to_vec();
        edited[0] ^= 1;
        let set = |bytes: &[u8]| {
            let position = if table == "mou_versions" {
                String::new()
            } else {
                " AND position = 2".to_string()
            };
            srv.db
                .exec(&srv.rewrite_document_sql(
                    &format!("SELECT blob_id FROM {table} WHERE mou_id = '{mou}'{position}"),
                    bytes,
                ))
                .unwrap();
        };
        set(&edited);
        let report = srv.get(&format!("/api/v1/mous/{mou}/audit")).json();
        assert_eq!(
            failures(&report),
            vec![("document_hash".to_string(), subject.to_string())],
            "{report}"
        );
        let (passed, text) = audit_with(&srv, &state, &token);
        assert!(!passed, "{text}");
        assert!(
            text.contains(&format!("MOU {mou} {subject}: the document hashes to")),
            "{text}"
        );
        set(original);
        let (passed, text) = audit_with(&srv, &state, &token);
        assert!(passed, "{text}");
    }
});

both_backends!(a_multilingual_upload_names_each_language_once, |srv| {
    let w = World::build(&srv);
    let mou = create_mou(&srv, &w.a, &w.partnership);
    let two: &[File<'_>] = &[("en.txt", ENGLISH), ("zh.txt", CHINESE)];
    let nine: Vec<File<'_>> = (0..9).map(|_| ("x.txt", ENGLISH)).collect();
    let refusals: &[(&str, &[File<'_>], u16, &str)] = &[
        ("", two, 422, "invalid_language"),
        ("languages=en", two, 422, "invalid_language"),
        ("languages=en,zh,fr", two, 422, "invalid_language"),
        ("languages=en,EN", two, 422, "invalid_language"),
        ("languages=en,zh_Hans", two, 422, "invalid_language"),
        ("languages=en,", two, 422, "invalid_language"),
        // An empty list is a mistake too, even for one document (found by schemathesis).
        ("languages=", &two[..1], 422, "invalid_language"),
        ("languages=%20", &two[..1], 422, "invalid_language"),
        (
            "languages=en,zh&filename=mou.txt",
            two,
            422,
            "invalid_filename",
        ),
        ("languages=en,zh&lang=x", two, 400, "invalid_query"),
        ("", &nine, 422, "multiple_files"),
        (
            "languages=en,zh",
            &[("en.txt", ENGLISH), ("zh.txt", b"")],
            422,
            "empty_document",
        ),
    ];
    for (query, files, status, code) in refusals {
        let r = upload_version(&srv, &w.a, &mou, query, files);
        assert_eq!(r.status, *status, "{query}: {}", r.text());
        assert_eq!(r.json()["code"], *code, "{query}: {}", r.text());
    }
    let view = srv.get(&format!("/api/v1/mous/{mou}")).json();
    assert_eq!(view["current_version"], 0, "nothing was stored: {view}");

    // One document may carry a language, which the statement does not name (form v1).
    let r = upload_version(&srv, &w.a, &mou, "languages=en", &two[..1]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["documents"].as_array().unwrap().len(), 1);
    let mut mayor = Signatory::new(31, "mayor@us-hou", &w.a);
    enroll(&srv, &w.admin, &mut mayor);
    let offered = crate::signing::statement(&srv, &mayor, &mou);
    let offered = String::from_utf8(offered).unwrap();
    assert!(offered.contains(r#""doc_sha256":""#), "{offered}");

    // Two documents, then the same two again: identical, refused; in another language
    // order they are another version.
    let r = upload_version(&srv, &w.a, &mou, "languages=en,zh", two);
    assert_eq!(r.status, 201, "{}", r.text());
    let r = upload_version(&srv, &w.a, &mou, "languages=en,zh", two);
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["code"], "identical_version");
    let r = upload_version(&srv, &w.a, &mou, "languages=en-GB,zh", two);
    assert_eq!(r.status, 201, "{}", r.text());
    let view = srv.get(&format!("/api/v1/mous/{mou}")).json();
    assert_eq!(view["current_version"], 3, "{view}");
    assert_eq!(view["versions"][2]["documents"][0]["language"], "en-GB");

    // Asked to sign it, Shanghai's mayor declines with a form v2 decline, naming both texts;
    // the audit replays it.
    let mut shanghai = Signatory::new(32, "mayor@cn-sha", &w.b);
    enroll(&srv, &w.admin, &mut shanghai);
    let deadline = chrono::Utc::now() + chrono::Duration::days(7);
    let r = srv.post(
        &format!("/api/v1/mous/{mou}/signature-requests"),
        Some(&w.a),
        &json!({"deadline": deadline.to_rfc3339(), "requests": [
            {"signer": "mayor@us-hou"}, {"signer": "mayor@cn-sha"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let request = r.json()["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["signer"] == "mayor@cn-sha")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/mous/{mou}/signature-requests/{request}");
    let r = srv.get_as(
        &format!("{path}/decline-statement?reason=The%20Chinese%20text%20differs"),
        &w.b,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let statement = r.body;
    let parsed = MouDeclineStatement::parse_strict(&statement).unwrap();
    let en = hex::encode(amity::crypto::sha256(ENGLISH));
    let zh = hex::encode(amity::crypto::sha256(CHINESE));
    assert_eq!(
        parsed.documents,
        Some(vec![format!("en-GB:{en}"), format!("zh:{zh}")])
    );
    assert!(parsed.r#type.ends_with("/schemas/mou-decline/v2"));
    let signature =
        sshsig::sign(&shanghai.key, &mou_decline_namespace(ORIGIN), &statement).unwrap();
    let r = srv.post(
        &format!("{path}/decline"),
        Some(&w.b),
        &json!({"statement": STANDARD.encode(&statement), "signature": signature}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let dir = tempfile::tempdir().unwrap();
    let (passed, text) = audit_with(&srv, &dir.path().join("state.json"), &[]);
    assert!(passed, "{text}");
});
