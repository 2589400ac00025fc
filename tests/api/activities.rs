//! Engagement activities and metrics over HTTP.

use serde_json::json;

use crate::both_backends;
use crate::support::World;

both_backends!(activities_and_engagement_metrics, |srv| {
    let w = World::build(&srv);
    let path = format!("/api/v1/partnerships/{}/activities", w.partnership);
    let before = srv.log_size();
    // Who may record, then what.
    srv.post(&path, None, &json!({}))
        .assert_problem(401, "authentication_required");
    srv.post(&path, Some(&w.auditor), &json!({}))
        .assert_problem(403, "office_required");
    let body = json!({"kind": "delegation", "mode": "in_person", "start_date": "2019-05-14"});
    srv.post(&path, Some(&w.c), &body)
        .assert_problem(403, "not_a_party");
    srv.post("/api/v1/partnerships/nope/activities", Some(&w.a), &body)
        .assert_problem(404, "partnership_not_found");
    srv.post(
        &path,
        Some(&w.a),
        &json!({"kind": "party", "mode": "in_person", "start_date": "2019-05-14"}),
    )
    .assert_problem(422, "invalid_body");
    srv.post(&path, Some(&w.a), &json!({"kind": "aid", "mode": "virtual", "start_date": "2020-05-14", "end_date": "2020-05-01"}))
        .assert_problem(422, "invalid_date");
    srv.post(
        &path,
        Some(&w.a),
        &json!({"kind": "aid", "mode": "virtual", "start_date": "2020-05-14", "participants": -3}),
    )
    .assert_problem(422, "invalid_participants");
    assert_eq!(srv.log_size(), before, "refusals record nothing");

    let records = [
        ("delegation", "in_person", "2019-05-14", Some(12), &w.a),
        ("virtual_meeting", "virtual", "2020-04-02", Some(30), &w.b),
        ("virtual_meeting", "virtual", "2020-11-20", None, &w.a),
        ("cultural_event", "hybrid", "2021-09-01", Some(400), &w.b),
    ];
    for (kind, mode, start, participants, office) in records {
        let r = srv.post(
            &path,
            Some(office),
            &json!({"kind": kind, "mode": mode, "start_date": start, "participants": participants,
                    "outcome": "Agreed a youth orchestra exchange"}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let entry = srv.entry(r.json()["log_index"].as_i64().unwrap());
        assert_eq!(
            (entry["type"].as_str(), entry["mode"].as_str()),
            (Some("activity.recorded"), Some(mode))
        );
    }
    let page = srv.get(&format!("{path}?limit=3")).json();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["items"][0]["start_date"], "2021-09-01", "newest first");
    let rest = srv
        .get(&format!(
            "{path}?limit=3&cursor={}",
            page["next_cursor"].as_str().unwrap()
        ))
        .json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);

    let m = srv.get("/api/v1/metrics/engagement").json();
    assert_eq!(m["overall"]["total"], 4);
    assert_eq!(m["overall"]["participants"], 442);
    assert_eq!(m["overall"]["remote_share"], 0.75);
    assert_eq!(m["by_year"]["2020"]["virtual"], 2);
    assert_eq!(m["by_year"]["2019"]["remote_share"], 0.0);
    assert_eq!(m["by_city"]["us-hou"]["total"], 4);
    assert_eq!(m["by_partnership"][w.partnership.as_str()]["hybrid"], 1);
    let berlin = srv.get("/api/v1/metrics/engagement?city=de-ber").json();
    assert_eq!(berlin["overall"]["total"], 0);
    let y2020 = srv
        .get("/api/v1/metrics/engagement?city=us-hou&year=2020")
        .json();
    assert_eq!(y2020["overall"]["total"], 2);
    srv.get("/api/v1/metrics/engagement?year=20")
        .assert_problem(400, "invalid_query");
    srv.get("/api/v1/metrics/engagement?city=Houston")
        .assert_problem(422, "invalid_city_code");
});

both_backends!(evidence_documents_of_an_activity, |srv| {
    let w = World::build(&srv);
    let r = srv.post(
        &format!("/api/v1/partnerships/{}/activities", w.partnership),
        Some(&w.a),
        &json!({"kind": "delegation", "mode": "in_person", "start_date": "2019-05-14"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let activity = r.json()["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/activities/{activity}/evidence");
    let programme = b"Delegation programme: 14-17 May 2019\n".to_vec();
    let send = |token: Option<&str>, query: &str, media: &str, bytes: &[u8]| {
        srv.send(
            "POST",
            &format!("{path}{query}"),
            token,
            Some((media, bytes.to_vec())),
        )
    };

    let before = srv.log_size();
    send(None, "", "text/plain", &programme).assert_problem(401, "authentication_required");
    send(Some(&w.auditor), "", "text/plain", &programme).assert_problem(403, "office_required");
    send(Some(&w.c), "", "text/plain", &programme).assert_problem(403, "not_a_party");
    srv.send(
        "POST",
        "/api/v1/activities/no-such-activity/evidence",
        Some(&w.a),
        Some(("text/plain", programme.clone())),
    )
    .assert_problem(404, "activity_not_found");
    send(Some(&w.a), "", "text/plain", b"").assert_problem(422, "empty_document");
    send(
        Some(&w.a),
        "?filename=../../etc/passwd",
        "text/plain",
        &programme,
    )
    .assert_problem(422, "invalid_filename");
    assert_eq!(srv.log_size(), before, "refusals record nothing");

    // The partner city's office attaches the programme; the other office a photo report.
    let r = send(
        Some(&w.b),
        "?filename=programme.txt",
        "text/plain; charset=utf-8",
        &programme,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let first = r.json();
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&programme))
    };
    assert_eq!(first["seq"], 1);
    assert_eq!(first["sha256"], digest.as_str());
    assert_eq!(first["size"], programme.len());
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/activities/{activity}/evidence/1").as_str())
    );
    let entry = srv.entry(first["log_index"].as_i64().unwrap());
    assert_eq!(entry["type"], "activity.evidence_added");
    assert_eq!(entry["sha256"], digest.as_str());
    assert_eq!(entry["partnership"], w.partnership.as_str());
    send(Some(&w.a), "", "text/plain", &programme).assert_problem(409, "duplicate_evidence");
    let photos = vec![0x89u8, b'P', b'N', b'G', 1, 2, 3];
    let r = send(Some(&w.a), "?filename=photos.png", "image/png", &photos);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(srv.log_size(), before + 2);

    // The list is public; the bytes are for the parties, auditors and admins.
    let list = srv.get(&path).json();
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert_eq!(list[1]["filename"], "photos.png");
    assert_eq!(list[1]["media_type"], "image/png");
    let doc = format!("{path}/1");
    srv.get(&doc).assert_problem(401, "authentication_required");
    srv.get_as(&doc, &w.c).assert_problem(403, "not_a_party");
    let r = srv.get_as(&doc, &w.auditor);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, programme);
    assert_eq!(
        r.header("etag"),
        Some(format!("\"sha256:{digest}\"").as_str())
    );
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    srv.get_as(&format!("{path}/3"), &w.a)
        .assert_problem(404, "evidence_not_found");

    // The partnership page lists them, and the audit replays and re-hashes them.
    let page = srv.get(&format!("/partnerships/{}", w.partnership)).text();
    assert!(
        page.contains("programme.txt") && page.contains(&digest[..12]),
        "{page}"
    );
    let state = tempfile::tempdir().unwrap();
    let (ok, out) = crate::audit::audit_with(
        &srv,
        &state.path().join("state.json"),
        &["--token", &w.auditor],
    );
    assert!(
        ok && out.contains("2 documents hash to what the log recorded"),
        "{out}"
    );

    // Bytes rewritten in the database are caught by the audit.
    // The bytes are in chunks (docs/architecture.md, "Document storage"), append-only by
    // trigger as the evidence rows are: an attacker drops the triggers first.
    srv.unlock_documents();
    srv.db
        .exec(&srv.rewrite_document_sql(
            "SELECT blob_id FROM activity_evidence WHERE seq = 1",
            b"A different programme\n",
        ))
        .unwrap();
    let (ok, out) = crate::audit::audit_with(
        &srv,
        &state.path().join("state.json"),
        &["--token", &w.auditor],
    );
    assert!(
        !ok && out.contains(&format!("activity {activity} evidence 1")),
        "{out}"
    );
});
