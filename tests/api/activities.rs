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
