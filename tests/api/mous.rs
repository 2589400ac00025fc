//! MOUs and their document versions over HTTP: creation, uploads, downloads, withdrawal.

use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::signing::{create_mou, upload};
use crate::support::{World, multipart};
use crate::{both_backends, both_backends_with};

both_backends!(versions_and_downloads, |srv| {
    let w = World::build(&srv);
    // Only an office of a party city may create one; the body comes after authentication.
    srv.post("/api/v1/mous", None, &json!({}))
        .assert_problem(401, "authentication_required");
    srv.post("/api/v1/mous", Some(&w.auditor), &json!({}))
        .assert_problem(403, "office_required");
    srv.post(
        "/api/v1/mous",
        Some(&w.c),
        &json!({"partnership": w.partnership, "title": "x"}),
    )
    .assert_problem(403, "not_a_party");
    srv.post(
        "/api/v1/mous",
        Some(&w.a),
        &json!({"partnership": w.partnership, "title": "x", "required_signers": [{"city": "de-ber", "role": "signatory", "count": 1}, {"city": "us-hou", "role": "signatory", "count": 1}]}),
    )
    .assert_problem(422, "signer_city_not_party");

    let id = create_mou(&srv, &w.a, &w.partnership);
    let m = srv.get(&format!("/api/v1/mous/{id}")).json();
    assert_eq!(m["state"], "draft");
    assert_eq!(m["current_version"], 0);
    assert_eq!(
        m["required_signers"],
        json!([{"city": "cn-sha", "role": "signatory", "count": 1}, {"city": "us-hou", "role": "signatory", "count": 1}])
    );
    assert_eq!(
        srv.entry(m["log_index"].as_i64().unwrap())["type"],
        "mou.created"
    );

    // Upload: non-parties refused before the body is read; the hash is the body's.
    let doc = b"Article 1. The cities of Houston and Shanghai agree...".to_vec();
    upload(&srv, &w.c, &id, &doc).assert_problem(403, "not_a_party");
    let r = upload(&srv, &w.a, &id, &doc);
    assert_eq!(r.status, 201, "{}", r.text());
    let v1 = r.json();
    let hex1 = hex::encode(Sha256::digest(&doc));
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["sha256"], hex1);
    assert_eq!(v1["size"], doc.len());
    assert_eq!(v1["state"], "open");
    let entry = srv.entry(v1["log_index"].as_i64().unwrap());
    assert_eq!(entry["type"], "mou.version_uploaded");
    assert_eq!(entry["sha256"], hex1);

    // Identical bytes: refused, nothing stored.
    let size = srv.log_size();
    upload(&srv, &w.b, &id, &doc).assert_problem(409, "identical_version");
    assert_eq!(srv.log_size(), size);
    srv.send(
        "POST",
        &format!("/api/v1/mous/{id}/versions?filename=a/b"),
        Some(&w.a),
        Some(("text/plain", b"other".to_vec())),
    )
    .assert_problem(422, "invalid_filename");
    srv.send(
        "POST",
        &format!("/api/v1/mous/{id}/versions"),
        Some(&w.a),
        Some(("text/plain", Vec::new())),
    )
    .assert_problem(422, "empty_document");
    assert_eq!(srv.log_size(), size);

    // Downloads: party offices, auditors, admins; exact bytes, type, ETag and digests.
    let path = format!("/api/v1/mous/{id}/versions/1/document");
    for token in [&w.a, &w.b, &w.auditor, &w.admin] {
        let d = srv.get_as(&path, token);
        assert_eq!(d.status, 200, "{}", d.text());
        assert_eq!(d.body, doc);
        assert_eq!(d.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(
            d.header("etag"),
            Some(format!("\"sha256:{hex1}\"").as_str())
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&doc));
        assert_eq!(
            d.header("content-digest"),
            Some(format!("sha-256=:{b64}:").as_str())
        );
        assert!(d.header("content-disposition").unwrap().contains("mou.txt"));
    }
    srv.get(&path)
        .assert_problem(401, "authentication_required");
    srv.get_as(&path, &w.c).assert_problem(403, "not_a_party");
    srv.get_as(&format!("/api/v1/mous/{id}/versions/9/document"), &w.a)
        .assert_problem(404, "version_not_found");
    srv.get_as("/api/v1/mous/none/versions/1/document", &w.a)
        .assert_problem(404, "mou_not_found");

    // Version 2 supersedes 1; both stay downloadable.
    let r = upload(&srv, &w.b, &id, b"Article 1, amended.");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["version"], 2);
    assert_eq!(srv.get_as(&path, &w.a).body, doc);
    let m = srv.get(&format!("/api/v1/mous/{id}")).json();
    assert_eq!(m["versions"].as_array().unwrap().len(), 2);
    assert_eq!(m["current_version"], 2);

    // Withdrawal: a party office with a reason; final.
    let withdraw = format!("/api/v1/mous/{id}/withdraw");
    srv.post(&withdraw, Some(&w.c), &json!({"reason": "x"}))
        .assert_problem(403, "not_a_party");
    srv.post(&withdraw, Some(&w.a), &json!({"reason": " "}))
        .assert_problem(422, "reason_required");
    let r = srv.post(
        &withdraw,
        Some(&w.a),
        &json!({"reason": "Council did not ratify"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["mou"]["state"], "withdrawn");
    let size = srv.log_size();
    srv.post(&withdraw, Some(&w.b), &json!({"reason": "again"}))
        .assert_problem(409, "mou_withdrawn");
    upload(&srv, &w.a, &id, b"v3").assert_problem(409, "mou_withdrawn");
    assert_eq!(srv.log_size(), size);
});

both_backends_with!(
    document_size_limit,
    |s| s.max_document_bytes = 1024,
    |srv| {
        let w = World::build(&srv);
        let id = create_mou(&srv, &w.a, &w.partnership);
        let size = srv.log_size();
        upload(&srv, &w.a, &id, &vec![b'x'; 1025]).assert_problem(413, "document_too_large");
        assert_eq!(srv.log_size(), size);
        let r = upload(&srv, &w.a, &id, &vec![b'x'; 1024]);
        assert_eq!(r.status, 201, "{}", r.text());
    }
);

/// SQLite: a large version reaches the database file through the background WAL checkpoint.
/// The writer's own automatic checkpoint is set far above one document, so if that thread
/// never ran, the bytes would stay in the WAL and the file would not grow.
#[test]
fn large_upload_is_checkpointed_into_the_database_file() {
    use crate::support::{Backend, TestServer};
    let srv = TestServer::start(Backend::Sqlite);
    let w = World::build(&srv);
    let id = create_mou(&srv, &w.a, &w.partnership);
    let file = srv.db.dir.path().join("amity.db");
    let len = || std::fs::metadata(&file).expect("database file").len();
    let before = len();
    let doc = vec![b'x'; 8 * 1024 * 1024];
    let r = upload(&srv, &w.a, &id, &doc);
    assert_eq!(r.status, 201, "{}", r.text());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // Not `before + doc`: the document may first fill pages a migration freed (a table
    // rebuild leaves some), but those are fewer than the whole file had before.
    while len() < doc.len() as u64 {
        assert!(
            std::time::Instant::now() < deadline,
            "the WAL was not checkpointed: database file {} bytes, was {before}",
            len()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let r = srv.get_as(&format!("/api/v1/mous/{id}/versions/1/document"), &w.a);
    assert_eq!(r.status, 200);
    assert!(r.body == doc, "the stored bytes differ");
}

both_backends!(multipart_upload_keeps_the_part_type_and_name, |srv| {
    let w = World::build(&srv);
    let id = create_mou(&srv, &w.a, &w.partnership);
    let path = format!("/api/v1/mous/{id}/versions");
    let doc: &[u8] = b"%PDF-1.7 The cities agree on exchanges of students and officials.";
    let send = |ct: String, body: Vec<u8>| srv.send("POST", &path, Some(&w.a), Some((&ct, body)));

    let before = srv.log_size();
    let (ct, body) = multipart(&[
        ("note", None, b"ignored"),
        ("a", Some(("one.pdf", "application/pdf")), doc),
        ("b", Some(("two.pdf", "application/pdf")), doc),
    ]);
    // Two documents are a multilingual version, which names their languages.
    send(ct, body).assert_problem(422, "invalid_language");
    // Both files were staged before the languages were checked; the refusal removed them.
    let staged = "DELETE FROM document_blobs WHERE staged_at IS NOT NULL";
    assert_eq!(
        srv.db.exec(staged),
        Ok(0),
        "a refused upload left chunks staged"
    );
    let parts: Vec<_> = (0..9)
        .map(|_| ("a", Some(("one.pdf", "application/pdf")), doc))
        .collect();
    let (ct, body) = multipart(&parts);
    send(ct, body).assert_problem(422, "multiple_files");
    let (ct, body) = multipart(&[("note", None, b"no file here")]);
    send(ct, body).assert_problem(422, "missing_file");
    send(
        "multipart/form-data; boundary=x".into(),
        b"garbage".to_vec(),
    )
    .assert_problem(400, "invalid_multipart");
    assert_eq!(srv.log_size(), before, "refused uploads log nothing");

    let (ct, body) = multipart(&[
        ("note", None, b"v1"),
        ("file", Some(("mou-v1.pdf", "application/pdf")), doc),
    ]);
    let r = send(ct, body);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["sha256"], hex::encode(Sha256::digest(doc)));
    let entry = srv.entry(r.json()["log_index"].as_i64().unwrap());
    assert_eq!(
        (entry["filename"].as_str(), entry["media_type"].as_str()),
        (Some("mou-v1.pdf"), Some("application/pdf"))
    );
    let d = srv.get_as(&format!("/api/v1/mous/{id}/versions/1/document"), &w.b);
    assert_eq!(d.status, 200);
    assert_eq!(d.body, doc);
    assert!(
        d.header("content-type")
            .unwrap()
            .starts_with("application/pdf")
    );
});

both_backends_with!(
    multipart_upload_over_the_limit,
    |s| s.max_document_bytes = 1024,
    |srv| {
        let w = World::build(&srv);
        let id = create_mou(&srv, &w.a, &w.partnership);
        let (ct, body) = multipart(&[(
            "file",
            Some(("big.bin", "application/octet-stream")),
            &vec![7u8; 4096],
        )]);
        let before = srv.log_size();
        srv.send(
            "POST",
            &format!("/api/v1/mous/{id}/versions"),
            Some(&w.a),
            Some((&ct, body)),
        )
        .assert_problem(413, "document_too_large");
        assert_eq!(srv.log_size(), before);
        let staged = "DELETE FROM document_blobs WHERE staged_at IS NOT NULL";
        assert_eq!(
            srv.db.exec(staged),
            Ok(0),
            "a refused upload left chunks staged"
        );
    }
);

both_backends!(every_mou_is_listed_page_by_page, |srv| {
    let w = World::build(&srv);
    let mut created: Vec<String> = (0..3)
        .map(|_| create_mou(&srv, &w.a, &w.partnership))
        .collect();
    assert_eq!(upload(&srv, &w.a, &created[1], b"Text").status, 201);
    created.sort();

    let first = srv.get("/api/v1/mous?limit=2");
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{first}");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = srv
        .get(&format!("/api/v1/mous?limit=2&cursor={cursor}"))
        .json();
    assert!(second.get("next_cursor").is_none(), "{second}");
    let listed: Vec<&str> = items
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, created, "every MOU once, in creation order");
    // Each item is the MOU as `GET /mous/{id}` serves it, versions included.
    let one = srv.get(&format!("/api/v1/mous/{}", created[1])).json();
    let listed_one = items
        .iter()
        .chain(second["items"].as_array().unwrap())
        .find(|m| m["id"] == one["id"])
        .unwrap();
    assert_eq!(*listed_one, one);
    assert_eq!(one["versions"].as_array().unwrap().len(), 1);

    srv.get("/api/v1/mous?limit=0")
        .assert_problem(400, "invalid_limit");
    srv.get("/api/v1/mous?cursor=nonsense")
        .assert_problem(400, "invalid_cursor");
    srv.get("/api/v1/mous?color=blue")
        .assert_problem(400, "invalid_query");
});

// A stored document's chunks are append-only in the database, as evidence rows are: no
// statement changes, adds to or removes the bytes of a logged document, nor stages its blob
// again (docs/architecture.md, "Document storage").
both_backends!(stored_documents_are_append_only, |srv| {
    let w = World::build(&srv);
    let id = create_mou(&srv, &w.a, &w.partnership);
    let doc = b"Article 1. Exchanges of students.".to_vec();
    let r = upload(&srv, &w.a, &id, &doc);
    assert_eq!(r.status, 201, "{}", r.text());
    let blob = format!("(SELECT blob_id FROM mou_versions WHERE mou_id = '{id}')");
    let extra = srv.blob_sql(&hex::encode(b"Article 2. And nothing else."));
    for (sql, refusal) in [
        (
            format!("UPDATE document_chunks SET data = {extra} WHERE blob_id = {blob}"),
            "append-only",
        ),
        (
            format!("DELETE FROM document_chunks WHERE blob_id = {blob}"),
            "append-only",
        ),
        (
            format!("INSERT INTO document_chunks (blob_id, seq, data) VALUES ({blob}, 1, {extra})"),
            "append-only",
        ),
        (
            format!("DELETE FROM document_blobs WHERE id = {blob}"),
            "cannot be removed",
        ),
        (
            format!("UPDATE document_blobs SET staged_at = 1 WHERE id = {blob}"),
            "can only be attached",
        ),
    ] {
        let err = srv.db.exec(&sql).expect_err(&sql);
        assert!(err.contains(refusal), "{sql}: {err}");
    }
    let d = srv.get_as(&format!("/api/v1/mous/{id}/versions/1/document"), &w.a);
    assert_eq!(d.status, 200);
    assert_eq!(d.body, doc);
});
