//! Partnerships: proposal, confirmation, the status machine, lists and history over HTTP.

use serde_json::json;

use crate::both_backends;
use crate::support::{World, status_body};

both_backends!(lifecycle_with_history, |srv| {
    let w = World::build(&srv);
    let id = &w.partnership;
    let p = srv.get(&format!("/api/v1/partnerships/{id}")).json();
    assert_eq!(p["status"], "proposed");
    assert_eq!(p["cities"], json!(["cn-sha", "us-hou"]));
    assert_eq!(p["countries"], json!(["CN", "US"]));
    assert_eq!(p["established"], "1979");
    assert_eq!(p["established_precision"], "year");
    assert_eq!(p["proposed_by"], "us-hou");
    assert_eq!(p["source"], "registered");

    // The proposer cannot confirm its own proposal; the partner can.
    let confirm = format!("/api/v1/partnerships/{id}/confirm");
    srv.post(&confirm, Some(&w.a), &json!({}))
        .assert_problem(409, "awaiting_partner");
    let r = srv.send("POST", &confirm, Some(&w.b), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "active");
    srv.post(&confirm, Some(&w.b), &json!({}))
        .assert_problem(409, "invalid_transition");

    // Curtail with a full record, resume, cut off.
    let status = format!("/api/v1/partnerships/{id}/status");
    let mut curtail = status_body("curtailed", Some("Consulate closures; exchanges suspended"));
    curtail["resumption_condition"] = json!("Reopening of both consulates");
    curtail["decision_document_sha256"] = json!("ab".repeat(32));
    let r = srv.post(&status, Some(&w.b), &curtail);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["status"], "curtailed");
    assert_eq!(r.json()["event"]["initiating_city"], "cn-sha");
    let mut resume = status_body("active", None);
    resume["reason_category"] = json!("mutual");
    assert_eq!(srv.post(&status, Some(&w.a), &resume).status, 201);
    let r = srv.post(
        &status,
        Some(&w.a),
        &status_body("cut_off", Some("Council vote")),
    );
    assert_eq!(r.status, 201);

    // cut_off is final, and the refusal names what is allowed.
    let body = srv
        .post(&status, Some(&w.a), &resume)
        .assert_problem(409, "invalid_transition");
    assert_eq!(body["allowed"], json!([]));
    assert!(body["detail"].as_str().unwrap().contains("new partnership"));

    let h = srv
        .get(&format!("/api/v1/partnerships/{id}/history"))
        .json();
    let events = h["events"].as_array().unwrap();
    let path: Vec<(String, String)> = events
        .iter()
        .map(|e| (e["from"].to_string(), e["to"].to_string()))
        .collect();
    assert_eq!(
        path,
        [
            ("null", "\"proposed\""),
            ("\"proposed\"", "\"active\""),
            ("\"active\"", "\"curtailed\""),
            ("\"curtailed\"", "\"active\""),
            ("\"active\"", "\"cut_off\""),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let curtailed = &events[2];
    assert_eq!(curtailed["seq"], 3);
    assert_eq!(
        curtailed["reason"],
        "Consulate closures; exchanges suspended"
    );
    assert_eq!(curtailed["reason_category"], "political");
    assert_eq!(curtailed["deciding_body"], "City Council");
    assert_eq!(curtailed["effective_date"], "2022-03-01");
    assert_eq!(curtailed["decided_date"], "2022-02-28");
    assert_eq!(
        curtailed["resumption_condition"],
        "Reopening of both consulates"
    );
    assert_eq!(curtailed["decision_document_sha256"], "ab".repeat(32));
    assert!(curtailed["recorded_by"].is_string());

    // Re-establishing creates a new partnership linked to the old one.
    let r = srv.post(
        "/api/v1/partnerships",
        Some(&w.b),
        &json!({"cities": ["us-hou", "cn-sha"], "kind": "sister"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["supersedes"], id.as_str());
});

both_backends!(state_machine_through_the_api, |srv| {
    let w = World::build(&srv);
    let status = format!("/api/v1/partnerships/{}/status", w.partnership);
    // From proposed only cut_off is reachable through this endpoint.
    for to in ["proposed", "active", "curtailed"] {
        let reason = Some("a reason");
        let before = srv.log_size();
        srv.post(&status, Some(&w.a), &status_body(to, reason))
            .assert_problem(409, "invalid_transition");
        assert_eq!(srv.log_size(), before);
    }
    let body = srv
        .post(&status, Some(&w.a), &status_body("active", None))
        .assert_problem(409, "invalid_transition");
    assert!(body["detail"].as_str().unwrap().contains("confirms"));
    assert_eq!(body["allowed"], json!(["cut_off"]));
    // Abandoning a proposal is allowed.
    let r = srv.post(
        &status,
        Some(&w.b),
        &status_body("cut_off", Some("Abandoned")),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    srv.post(
        &format!("/api/v1/partnerships/{}/confirm", w.partnership),
        Some(&w.b),
        &json!({}),
    )
    .assert_problem(409, "invalid_transition");
});

both_backends!(duplicates_in_either_order, |srv| {
    let w = World::build(&srv);
    let before = srv.log_size();
    for cities in [["us-hou", "cn-sha"], ["cn-sha", "us-hou"]] {
        let r = srv.post(
            "/api/v1/partnerships",
            Some(&w.b),
            &json!({"cities": cities, "kind": "sister"}),
        );
        let body = r.assert_problem(409, "duplicate_partnership");
        assert_eq!(body["existing"], w.partnership.as_str());
    }
    assert_eq!(srv.log_size(), before);
    // Another kind between the same cities is a different partnership.
    let r = srv.post(
        "/api/v1/partnerships",
        Some(&w.b),
        &json!({"cities": ["us-hou", "cn-sha"], "kind": "cooperation"}),
    );
    assert_eq!(r.status, 201);
});

both_backends!(list_filters_and_pages, |srv| {
    let w = World::build(&srv);
    srv.city(&w.admin, "us-sfo", "San Francisco");
    srv.city(&w.admin, "jp-osa", "Osaka");
    let sfo = srv.office(&w.admin, "us-sfo");
    let ids: Vec<String> = [
        ("us-sfo", "jp-osa", "sister", "1957"),
        ("us-sfo", "cn-sha", "friendship", "1980-01-15"),
        ("us-sfo", "de-ber", "cooperation", "2019-05"),
    ]
    .iter()
    .map(|(a, b, kind, est)| {
        let r = srv.post(
            "/api/v1/partnerships",
            Some(&sfo),
            &json!({"cities": [a, b], "kind": kind, "established": est}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_string()
    })
    .collect();
    srv.post(
        &format!("/api/v1/partnerships/{}/confirm", ids[1]),
        Some(&w.b),
        &json!({}),
    );
    let count = |q: &str| {
        let r = srv.get(&format!("/api/v1/partnerships{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        r.json()["items"].as_array().unwrap().len()
    };
    assert_eq!(count(""), 4);
    assert_eq!(count("?city=us-sfo"), 3);
    assert_eq!(count("?city=cn-sha"), 2);
    assert_eq!(count("?country=JP"), 1);
    assert_eq!(count("?country=US"), 4);
    assert_eq!(count("?status=active"), 1);
    assert_eq!(count("?status=proposed"), 3);
    assert_eq!(count("?kind=sister"), 2);
    assert_eq!(count("?since=1979-01-01"), 3);
    assert_eq!(count("?since=2000-01-01"), 1);
    assert_eq!(count("?city=us-sfo&kind=friendship&status=active"), 1);
    srv.get("/api/v1/partnerships?status=frozen")
        .assert_problem(400, "invalid_query");
    srv.get("/api/v1/partnerships?since=1979")
        .assert_problem(422, "invalid_date");
    srv.get("/api/v1/partnerships?city=Houston")
        .assert_problem(422, "invalid_city_code");
    srv.get("/api/v1/partnerships?limit=501")
        .assert_problem(400, "invalid_limit");

    // Pages of one walk all four in order and end without a cursor.
    let mut walked = Vec::new();
    let mut next = Some("/api/v1/partnerships?limit=1".to_string());
    while let Some(path) = next {
        let page = srv.get(&path).json();
        walked.push(page["items"][0]["id"].as_str().unwrap().to_string());
        next = page["next_cursor"]
            .as_str()
            .map(|c| format!("/api/v1/partnerships?limit=1&cursor={c}"));
    }
    assert_eq!(walked.len(), 4);
    assert_eq!(&walked[1..], &ids[..]);

    srv.get("/api/v1/partnerships/nope")
        .assert_problem(404, "partnership_not_found");
    srv.get("/api/v1/partnerships/nope/history")
        .assert_problem(404, "partnership_not_found");
});
