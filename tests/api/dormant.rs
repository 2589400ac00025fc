//! Dormant partnerships (issue: results of engagement, item 4): active on paper, no activity
//! recorded for N years, listed per city over the API and on the city page, and dashed on the
//! city's map. Both backends.

use serde_json::json;

use crate::both_backends;
use crate::support::{World, status_body};

both_backends!(dormant_ties_are_listed_and_dashed, |srv| {
    let w = World::build(&srv);
    // Houston and Shanghai since 1979, confirmed: active, and no activity ever recorded.
    let dormant = w.partnership.clone();
    let r = srv.post(
        &format!("/api/v1/partnerships/{dormant}/confirm"),
        Some(&w.b),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Houston and Berlin since 1987, active with an activity some 13 months ago: alive.
    let body = json!({"cities": ["us-hou", "de-ber"], "kind": "sister", "established": "1987"});
    let r = srv.post("/api/v1/partnerships", Some(&w.a), &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let alive = r.json()["id"].as_str().unwrap().to_string();
    let r = srv.post(
        &format!("/api/v1/partnerships/{alive}/confirm"),
        Some(&w.c),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let months_ago = (chrono::Utc::now() - chrono::Duration::days(400))
        .format("%Y-%m-%d")
        .to_string();
    let r = srv.post(
        &format!("/api/v1/partnerships/{alive}/activities"),
        Some(&w.a),
        &json!({"kind": "virtual_meeting", "mode": "virtual", "start_date": months_ago,
                "participants": 12}),
    );
    assert_eq!(r.status, 201, "{}", r.text());

    let r = srv.get("/api/v1/cities/us-hou/dormant-partnerships");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["years"], 3, "the registry's default");
    assert_eq!(v["count"], 1, "{v:#}");
    assert_eq!(v["items"][0]["partnership"], dormant.as_str());
    assert_eq!(v["items"][0]["partner"], "cn-sha");
    assert_eq!(v["items"][0]["partner_name"], "Shanghai");
    assert_eq!(v["items"][0]["last_activity"], json!(null));
    // With a horizon of one year, the one with the 13-month-old activity is dormant too.
    let v = srv
        .get("/api/v1/cities/us-hou/dormant-partnerships?years=1")
        .json();
    assert_eq!(v["count"], 2, "{v:#}");
    assert_eq!(v["items"][1]["last_activity"], months_ago.as_str());
    // A curtailed partnership is not dormant: its status says what happened.
    let r = srv.post(
        &format!("/api/v1/partnerships/{dormant}/status"),
        Some(&w.a),
        &status_body("curtailed", Some("Consulates closed")),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v = srv
        .get("/api/v1/cities/us-hou/dormant-partnerships?years=1")
        .json();
    assert_eq!(v["count"], 1, "{v:#}");
    assert_eq!(v["items"][0]["partnership"], alive.as_str());

    // Refusals.
    srv.get("/api/v1/cities/us-hou/dormant-partnerships?years=0")
        .assert_problem(400, "invalid_query");
    srv.get("/api/v1/cities/us-hou/dormant-partnerships?since=2020")
        .assert_problem(400, "invalid_query");
    srv.get("/api/v1/cities/zz-nowhere/dormant-partnerships")
        .assert_problem(404, "city_not_found");

    // The city page lists them, and the city's map dashes them.
    let page = srv.get("/cities/de-ber").text();
    assert!(page.contains("Dormant ties (0)"), "{page}");
    let r = srv.post(
        &format!("/api/v1/partnerships/{dormant}/status"),
        Some(&w.a),
        &status_body("active", Some("Consulates reopened")),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let page = srv.get("/cities/us-hou").text();
    assert!(page.contains("Dormant ties (1)"), "{page}");
    assert!(page.contains("none recorded"), "{page}");
    let map = srv.get("/cities/us-hou/map.svg").text();
    assert_eq!(map.matches("class=\"active dormant\"").count(), 1, "{map}");
    assert!(map.contains("dormant (no activity recorded lately)"));
});
