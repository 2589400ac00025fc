//! Bad input: each refusal has its problem code, and nothing changes.

use serde_json::json;

use crate::both_backends;
use crate::support::{World, status_body};

both_backends!(refusals_change_nothing, |srv| {
    let w = World::build(&srv);
    let before = srv.log_size();
    let cities_before = srv.get("/api/v1/cities?limit=500").json()["items"]
        .as_array()
        .unwrap()
        .len();
    let city = |body: serde_json::Value| srv.post("/api/v1/admin/cities", Some(&w.admin), &body);

    city(json!({"code": "xx-abc", "name": "Atlantis", "country": "XX"}))
        .assert_problem(422, "unknown_country");
    city(json!({"code": "US-NYC", "name": "New York", "country": "US"}))
        .assert_problem(422, "invalid_city_code");
    city(json!({"code": "us nyc", "name": "New York", "country": "US"}))
        .assert_problem(422, "invalid_city_code");
    city(json!({"code": "us-nyc", "name": "x".repeat(10_000), "country": "US"}))
        .assert_problem(422, "field_too_long");
    city(json!({"code": "us-nyc", "name": "New York", "country": "US", "mayor": "x"}))
        .assert_problem(422, "unknown_field");
    city(json!({"code": "us-nyc", "name": "New York"})).assert_problem(422, "invalid_body");
    city(json!({"code": "us-nyc", "name": "New York", "country": "US", "lat": 100.0, "lon": 0.0}))
        .assert_problem(422, "invalid_coordinates");

    // Malformed JSON, wrong content type, an oversized body.
    let send = |ct: &str, body: Vec<u8>| {
        srv.send(
            "POST",
            "/api/v1/admin/cities",
            Some(&w.admin),
            Some((ct, body)),
        )
    };
    send("application/json", b"{\"code\": ".to_vec()).assert_problem(400, "malformed_json");
    send("application/json", b"{\"code\":\"us-nyc\",}".to_vec())
        .assert_problem(400, "malformed_json");
    send("text/plain", b"{}".to_vec()).assert_problem(415, "unsupported_media_type");
    let huge = format!(
        "{{\"code\":\"us-nyc\",\"name\":\"{}\",\"country\":\"US\"}}",
        "n".repeat(70 * 1024)
    );
    send("application/json", huge.into_bytes()).assert_problem(413, "payload_too_large");

    // Partnerships: a city with itself, a cut-off without a reason.
    srv.post(
        "/api/v1/partnerships",
        Some(&w.a),
        &json!({"cities": ["us-hou", "us-hou"], "kind": "sister"}),
    )
    .assert_problem(422, "same_city");
    srv.post(
        "/api/v1/partnerships",
        Some(&w.a),
        &json!({"cities": ["us-hou", "cn-sha"], "kind": "alliance"}),
    )
    .assert_problem(422, "invalid_body");
    srv.post(
        "/api/v1/partnerships",
        Some(&w.a),
        &json!({"cities": ["us-hou", "xx-nowhere"], "kind": "sister"}),
    )
    .assert_problem(422, "unknown_city");
    srv.post(
        "/api/v1/partnerships",
        Some(&w.a),
        &json!({"cities": ["us-hou", "cn-sha"], "kind": "friendship", "established": "1979-13"}),
    )
    .assert_problem(422, "invalid_date");
    let status = format!("/api/v1/partnerships/{}/status", w.partnership);
    srv.post(&status, Some(&w.a), &status_body("cut_off", None))
        .assert_problem(422, "reason_required");
    srv.post(&status, Some(&w.a), &status_body("cut_off", Some("   ")))
        .assert_problem(422, "reason_required");
    let mut bad_hash = status_body("cut_off", Some("r"));
    bad_hash["decision_document_sha256"] = json!("zz");
    srv.post(&status, Some(&w.a), &bad_hash)
        .assert_problem(422, "invalid_hash");
    let mut bad_date = status_body("cut_off", Some("r"));
    bad_date["effective_date"] = json!("01/03/2022");
    srv.post(&status, Some(&w.a), &bad_date)
        .assert_problem(422, "invalid_date");
    srv.post(
        "/api/v1/partnerships/unknown/status",
        Some(&w.a),
        &status_body("cut_off", Some("r")),
    )
    .assert_problem(404, "partnership_not_found");

    // Authorization header garbage.
    srv.send(
        "POST",
        "/api/v1/admin/cities",
        Some("not-a-token"),
        Some(("application/json", b"{}".to_vec())),
    )
    .assert_problem(401, "invalid_token");
    // Who is asking is settled before what was sent: anonymous with a broken body is a 401.
    srv.send(
        "POST",
        "/api/v1/partnerships",
        None,
        Some(("application/json", b"{".to_vec())),
    )
    .assert_problem(401, "authentication_required");
    srv.send(
        "POST",
        "/api/v1/admin/cities",
        Some(&w.a),
        Some(("text/plain", b"x".to_vec())),
    )
    .assert_problem(403, "admin_required");
    srv.send("POST", "/api/v1/admin/cities", Some("Basic abc"), None)
        .assert_problem(401, "invalid_token");

    // Paths, queries and methods.
    srv.get("/api/v1/log/entries/abc")
        .assert_problem(400, "invalid_path");
    srv.get("/api/v1/cities?limit=ten")
        .assert_problem(400, "invalid_query");
    srv.get("/api/v1/cities?colour=red")
        .assert_problem(400, "invalid_query");
    srv.get("/api/v1/nothing-here")
        .assert_problem(404, "not_found");
    let r = srv.send("PUT", "/api/v1/partnerships", Some(&w.a), None);
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, POST"));

    assert_eq!(srv.log_size(), before, "a refused request wrote to the log");
    let cities_after = srv.get("/api/v1/cities?limit=500").json()["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(cities_after, cities_before);
    let p = srv
        .get(&format!("/api/v1/partnerships/{}", w.partnership))
        .json();
    assert_eq!(p["status"], "proposed");
});

both_backends!(sql_looking_strings_are_stored_literally, |srv| {
    let admin = srv.admin();
    let name = "Robert'); DROP TABLE cities;-- \" OR 1=1";
    let r = srv.post(
        "/api/v1/admin/cities",
        Some(&admin),
        &json!({"code": "us-bob", "name": name, "country": "US"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(srv.get("/api/v1/cities/us-bob").json()["name"], name);
    let found = srv.get("/api/v1/cities?q=robert'%29").json();
    assert_eq!(found["items"][0]["code"], "us-bob");
    // A search pattern with LIKE wildcards matches only literally.
    assert_eq!(srv.get("/api/v1/cities?q=%25").json()["items"], json!([]));
    assert_eq!(srv.get("/api/v1/cities?q=_").json()["items"], json!([]));
});

both_backends!(errors_never_leak_internals, |srv| {
    let admin = srv.admin();
    // Drive a few failures and check no body mentions SQL or Rust internals.
    let bodies = [
        srv.post("/api/v1/admin/cities", Some(&admin), &json!({"code": 5})),
        srv.get("/api/v1/partnerships?cursor=djE6"),
        srv.get("/api/v1/partnerships?cursor=%FF%FE"),
        srv.get("/api/v1/log/entries/99999999999999999999"),
    ];
    for r in bodies {
        assert!(r.status >= 400 && r.status < 500, "{}", r.text());
        let text = r.text().to_lowercase();
        for leak in ["select ", "insert ", "diesel", "sqlite", "panicked", "src/"] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
    }
});

// An id in a path that is not of the registry's form (a lower-case UUID) names nothing: it is
// answered with the same 404 as a well-formed id that names nothing, detail included.
both_backends!(malformed_ids_in_paths_are_not_found, |srv| {
    let w = World::build(&srv);
    let unknown = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    for id in ["nope", "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", unknown] {
        for (path, code, detail) in [
            ("partnerships", "partnership_not_found", "partnership"),
            ("mous", "mou_not_found", "MOU"),
            ("keys", "key_not_found", "key"),
        ] {
            let body = srv
                .get(&format!("/api/v1/{path}/{id}"))
                .assert_problem(404, code);
            assert_eq!(body["detail"], format!("no {detail} `{id}`"));
        }
        srv.get(&format!("/api/v1/partnerships/{id}/history"))
            .assert_problem(404, "partnership_not_found");
        srv.get(&format!("/api/v1/mous/{id}/chain"))
            .assert_problem(404, "mou_not_found");
        let body = srv
            .send(
                "DELETE",
                &format!("/api/v1/admin/tokens/{id}"),
                Some(&w.admin),
                None,
            )
            .assert_problem(404, "token_not_found");
        assert_eq!(body["detail"], format!("no token `{id}`"));
    }
});
