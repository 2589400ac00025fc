//! Outcomes and commitments over HTTP: each refusal with its code and nothing logged, the
//! follow-through of commitments, the overdue lists, and `amity audit` replaying it all and
//! finding a commitment resolved by an office of a third city (docs/engagement.md).

use serde_json::{Value, json};

use crate::audit::audit;
use crate::both_backends;
use crate::signing::create_mou;
use crate::support::{Backend, TestServer, World};

/// Records an activity and returns its id.
pub fn activity(srv: &TestServer, office: &str, partnership: &str, start: &str) -> String {
    let r = srv.post(
        &format!("/api/v1/partnerships/{partnership}/activities"),
        Some(office),
        &json!({"kind": "exchange", "mode": "hybrid", "start_date": start, "participants": 40}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

fn outcome_path(partnership: &str, activity: &str) -> String {
    format!("/api/v1/partnerships/{partnership}/activities/{activity}/outcomes")
}

fn created(r: crate::support::Reply) -> Value {
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

both_backends!(outcomes_are_typed_linked_and_logged, |srv| {
    let w = World::build(&srv);
    let p = w.partnership.clone();
    let first = activity(&srv, &w.a, &p, "2021-03-01");
    let later = activity(&srv, &w.b, &p, "2021-05-01");
    let mou = create_mou(&srv, &w.a, &p);
    let r = srv.send(
        "POST",
        &format!("/api/v1/activities/{first}/evidence?filename=list.txt"),
        Some(&w.a),
        Some(("text/plain", b"Participants: 20 students\n".to_vec())),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Another partnership of Houston (with Berlin), its own activity and MOU.
    let other = srv.propose(&w.a, "us-hou", "de-ber");
    let elsewhere = activity(&srv, &w.a, &other, "2021-03-01");
    let other_mou = create_mou(&srv, &w.a, &other);

    let path = outcome_path(&p, &first);
    let exchange = json!({"indicator": "exchange_participants", "achieved_on": "2021-06-15",
                          "count": 20, "exchange_group": "students", "evidence": [1]});
    let before = srv.log_size();
    srv.post(&path, None, &exchange)
        .assert_problem(401, "authentication_required");
    srv.post(&path, Some(&w.auditor), &exchange)
        .assert_problem(403, "office_required");
    srv.post(&path, Some(&w.c), &exchange)
        .assert_problem(403, "not_a_party");
    srv.post(&outcome_path(&p, &elsewhere), Some(&w.a), &exchange)
        .assert_problem(404, "activity_not_found");
    let with = |changes: Value| {
        let mut body = exchange.clone();
        body.as_object_mut()
            .unwrap()
            .extend(changes.as_object().cloned().unwrap());
        body
    };
    for (body, status, code) in [
        (
            with(json!({"indicator": "weather"})),
            422,
            "invalid_indicator",
        ),
        (
            with(json!({"exchange_group": null})),
            422,
            "invalid_outcome",
        ),
        (
            with(json!({"exchange_group": "tourists"})),
            422,
            "invalid_outcome",
        ),
        (
            with(json!({"count": 100_001})),
            422,
            "invalid_outcome_count",
        ),
        (with(json!({"count": 0})), 422, "invalid_outcome_count"),
        (with(json!({"mou": mou})), 422, "invalid_outcome"),
        (with(json!({"evidence": [2]})), 422, "invalid_outcome_link"),
        (with(json!({"evidence": [1, 1]})), 422, "invalid_outcome"),
        (
            with(json!({"achieved_on": "2021-02-28"})),
            422,
            "invalid_date",
        ),
        (
            with(json!({"achieved_on": "2999-01-01"})),
            422,
            "invalid_date",
        ),
        (
            json!({"indicator": "agreement_signed", "achieved_on": "2021-06-15", "mou": other_mou}),
            422,
            "invalid_outcome_link",
        ),
        (
            json!({"indicator": "follow_up_activity", "achieved_on": "2021-06-15", "follow_up": elsewhere}),
            422,
            "invalid_outcome_link",
        ),
        (
            json!({"indicator": "follow_up_activity", "achieved_on": "2021-06-15", "follow_up": first}),
            422,
            "invalid_outcome_link",
        ),
        (
            json!({"indicator": "business_deals", "achieved_on": "2021-06-15", "count": 2, "value": "10", "currency": "EUX"}),
            422,
            "invalid_currency",
        ),
        (
            json!({"indicator": "business_deals", "achieved_on": "2021-06-15", "count": 2, "value": "10", "currency": "XAU"}),
            422,
            "invalid_currency",
        ),
        (
            json!({"indicator": "business_deals", "achieved_on": "2021-06-15", "count": 2, "value": "10.5", "currency": "JPY"}),
            422,
            "invalid_amount",
        ),
        (
            json!({"indicator": "business_deals", "achieved_on": "2021-06-15", "count": 2, "value": "10"}),
            422,
            "invalid_outcome",
        ),
        (
            json!({"indicator": "other", "achieved_on": "2021-06-15"}),
            422,
            "invalid_outcome",
        ),
        (
            json!({"indicator": "people_reached", "achieved_on": "2021-06-15", "count": 5, "extra": 1}),
            422,
            "unknown_field",
        ),
    ] {
        srv.post(&path, Some(&w.a), &body)
            .assert_problem(status, code);
    }
    assert_eq!(srv.log_size(), before, "refusals log nothing");

    // Absent optional members may also be sent as null, as the schema allows.
    created(srv.post(
        &path,
        Some(&w.a),
        &json!({"indicator": "people_reached", "achieved_on": "2021-06-01", "count": 50.0,
                "evidence": null, "mou": null, "currency": null, "value": null}),
    ));
    // A JSON Schema integer may be written 1.0.
    srv.post(&path, Some(&w.a), &with(json!({"evidence": [1.5]})))
        .assert_problem(422, "invalid_body");
    let students = created(srv.post(&path, Some(&w.b), &with(json!({"evidence": [1.0]}))));
    assert_eq!(students["city"], "cn-sha");
    assert_eq!(students["evidence"], json!([1]));
    let entry = srv.entry(students["log_index"].as_i64().unwrap());
    assert_eq!(entry["type"], "activity.outcome_recorded");
    assert_eq!(
        (
            &entry["indicator"],
            &entry["count"],
            &entry["exchange_group"],
            &entry["evidence"]
        ),
        (
            &json!("exchange_participants"),
            &json!(20),
            &json!("students"),
            &json!([1])
        )
    );
    let deal = created(srv.post(
        &path,
        Some(&w.a),
        &json!({"indicator": "business_deals", "achieved_on": "2021-09-01", "count": 2,
                "value": "1250000.50", "currency": "EUR", "mou": "", "description": "Two supply contracts"}),
    ));
    assert_eq!(
        (&deal["value"], &deal["currency"], &deal["mou"]),
        (&json!("1250000.50"), &json!("EUR"), &Value::Null)
    );
    created(srv.post(
        &path,
        Some(&w.a),
        &json!({"indicator": "agreement_signed", "achieved_on": "2021-10-01", "mou": mou}),
    ));
    created(srv.post(
        &path,
        Some(&w.a),
        &json!({"indicator": "follow_up_activity", "achieved_on": "2021-05-01", "follow_up": later}),
    ));

    let page = srv
        .get(&format!("/api/v1/partnerships/{p}/outcomes?limit=3"))
        .json();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        page["items"][0]["indicator"], "follow_up_activity",
        "newest first"
    );
    let rest = srv
        .get(&format!(
            "/api/v1/partnerships/{p}/outcomes?limit=3&cursor={}",
            page["next_cursor"].as_str().unwrap()
        ))
        .json();
    assert_eq!(rest["items"][0]["id"], students["id"]);
    assert!(rest.get("next_cursor").is_none());
    let of_later = srv
        .get(&format!(
            "/api/v1/partnerships/{p}/outcomes?activity={later}"
        ))
        .json();
    assert_eq!(of_later["items"], json!([]));
    srv.get(&format!("/api/v1/partnerships/{other}/outcomes?cursor=zz"))
        .assert_problem(400, "invalid_cursor");
    srv.get("/api/v1/partnerships/nope/outcomes")
        .assert_problem(404, "partnership_not_found");
});

both_backends!(commitments_are_followed_through_once, |srv| {
    let w = World::build(&srv);
    let p = w.partnership.clone();
    let first = activity(&srv, &w.a, &p, "2021-03-01");
    let later = activity(&srv, &w.b, &p, "2021-05-01");
    let other = srv.propose(&w.a, "us-hou", "de-ber");
    let elsewhere = activity(&srv, &w.a, &other, "2021-03-01");
    let path = format!("/api/v1/partnerships/{p}/activities/{first}/commitments");
    let before = srv.log_size();
    let students =
        json!({"text": "Exchange of 20 students by June 2021", "due_date": "2021-06-30"});
    srv.post(&path, Some(&w.c), &students)
        .assert_problem(403, "not_a_party");
    srv.post(
        &path,
        Some(&w.a),
        &json!({"text": "Early", "due_date": "2021-02-01"}),
    )
    .assert_problem(422, "invalid_date");
    srv.post(
        &path,
        Some(&w.a),
        &json!({"text": " ", "due_date": "2021-06-30"}),
    )
    .assert_problem(422, "missing_field");
    srv.post(
        &path,
        Some(&w.a),
        &json!({"text": "x".repeat(501), "due_date": "2021-06-30"}),
    )
    .assert_problem(422, "field_too_long");
    assert_eq!(srv.log_size(), before);

    let kept = created(srv.post(&path, Some(&w.a), &students));
    assert_eq!(
        (&kept["state"], &kept["kept_on_time"]),
        (&json!("overdue"), &Value::Null)
    );
    let late = created(srv.post(
        &path,
        Some(&w.b),
        &json!({"text": "Joint exhibition in both cities", "due_date": "2021-04-30"}),
    ));
    let lapsed = created(srv.post(
        &path,
        Some(&w.b),
        &json!({"text": "Open a trade desk", "due_date": "2021-12-31"}),
    ));
    let future = created(srv.post(
        &path,
        Some(&w.a),
        &json!({"text": "Sister-school network of 10 schools", "due_date": "2099-01-01"}),
    ));
    assert_eq!(future["state"], "open");
    let entry = srv.entry(kept["log_index"].as_i64().unwrap());
    assert_eq!(
        (&entry["type"], &entry["due_date"], &entry["city"]),
        (
            &json!("activity.commitment_made"),
            &json!("2021-06-30"),
            &json!("us-hou")
        )
    );
    let overdue = srv.get("/api/v1/cities/cn-sha/overdue-commitments").json();
    let ids: Vec<&str> = overdue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let expected = [&late, &kept, &lapsed].map(|c| c["id"].as_str().unwrap());
    assert_eq!(
        ids, expected,
        "oldest due first, the open future one left out"
    );

    // Marking it: who, what, once.
    let resolve = |id: &Value| {
        format!(
            "/api/v1/partnerships/{p}/commitments/{}/resolution",
            id.as_str().unwrap()
        )
    };
    let kept_body =
        json!({"result": "kept", "resolved_on": "2021-06-20", "kept_by_activity": later});
    let before = srv.log_size();
    srv.post(&resolve(&kept["id"]), Some(&w.c), &kept_body)
        .assert_problem(403, "not_a_party");
    srv.post(
        &resolve(&json!("0190a5f0-0000-7000-8000-000000000000")),
        Some(&w.a),
        &kept_body,
    )
    .assert_problem(404, "commitment_not_found");
    srv.post(
        &format!(
            "/api/v1/partnerships/{other}/commitments/{}/resolution",
            kept["id"].as_str().unwrap()
        ),
        Some(&w.a),
        &kept_body,
    )
    .assert_problem(404, "commitment_not_found");
    for (body, code) in [
        (
            json!({"result": "not_kept", "resolved_on": "2021-06-20", "kept_by_activity": later}),
            "invalid_resolution",
        ),
        (
            json!({"result": "done", "resolved_on": "2021-06-20"}),
            "invalid_resolution",
        ),
        (
            json!({"result": "kept", "resolved_on": "2021-06-20", "kept_by_activity": elsewhere}),
            "invalid_outcome_link",
        ),
        (
            json!({"result": "kept", "resolved_on": "2021-06-20", "kept_by_outcome": elsewhere}),
            "invalid_outcome_link",
        ),
        (
            json!({"result": "kept", "resolved_on": "2999-06-20"}),
            "invalid_date",
        ),
        (
            json!({"result": "kept", "resolved_on": "2021-01-20"}),
            "invalid_date",
        ),
    ] {
        srv.post(&resolve(&kept["id"]), Some(&w.a), &body)
            .assert_problem(422, code);
    }
    assert_eq!(srv.log_size(), before, "refusals log nothing");

    let done = created(srv.post(&resolve(&kept["id"]), Some(&w.b), &kept_body));
    assert_eq!(
        (
            &done["state"],
            &done["kept_on_time"],
            &done["resolution"]["city"]
        ),
        (&json!("kept"), &json!(true), &json!("cn-sha"))
    );
    srv.post(
        &resolve(&kept["id"]),
        Some(&w.a),
        &json!({"result": "not_kept", "resolved_on": "2021-07-01"}),
    )
    .assert_problem(409, "commitment_already_resolved");
    let late_done = created(srv.post(
        &resolve(&late["id"]),
        Some(&w.a),
        &json!({"result": "kept", "resolved_on": "2021-05-15", "note": "Opened two weeks late"}),
    ));
    assert_eq!(late_done["kept_on_time"], false, "kept after its due date");
    let entry = srv.entry(late_done["resolution"]["log_index"].as_i64().unwrap());
    assert_eq!(
        (&entry["type"], &entry["result"], &entry["note"]),
        (
            &json!("activity.commitment_resolved"),
            &json!("kept"),
            &json!("Opened two weeks late")
        )
    );

    let list = |state: &str| {
        srv.get(&format!(
            "/api/v1/partnerships/{p}/commitments?state={state}"
        ))
        .json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["text"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(list("overdue"), ["Open a trade desk"]);
    assert_eq!(
        list("open"),
        ["Open a trade desk", "Sister-school network of 10 schools"]
    );
    assert_eq!(list("resolved").len(), 2);
    assert_eq!(list("all").len(), 4);
    let page = srv
        .get(&format!("/api/v1/partnerships/{p}/commitments?limit=3"))
        .json();
    let next = srv
        .get(&format!(
            "/api/v1/partnerships/{p}/commitments?limit=3&cursor={}",
            page["next_cursor"].as_str().unwrap()
        ))
        .json();
    assert_eq!(next["items"][0]["id"], future["id"]);
    srv.get(&format!("/api/v1/partnerships/{p}/commitments?state=late"))
        .assert_problem(400, "invalid_query");
    srv.get("/api/v1/cities/xx-nowhere/overdue-commitments")
        .assert_problem(404, "city_not_found");
});

/// An honest registry with outcomes and commitments audits clean; a commitment an office of a
/// third city marked kept (the server fooled by a rewritten `offices` row, so its own check
/// let it through) is found by `amity audit` from the log alone, rule `party_office`.
fn audit_replays_follow_through(backend: Backend) {
    let srv = TestServer::start(backend);
    let w = World::build(&srv);
    let p = w.partnership.clone();
    let first = activity(&srv, &w.a, &p, "2021-03-01");
    let outcome = created(srv.post(
        &outcome_path(&p, &first),
        Some(&w.a),
        &json!({"indicator": "people_reached", "achieved_on": "2021-03-02", "count": 1500}),
    ));
    let path = format!("/api/v1/partnerships/{p}/activities/{first}/commitments");
    let honest = created(srv.post(
        &path,
        Some(&w.a),
        &json!({"text": "A joint concert", "due_date": "2021-09-01"}),
    ));
    let forged = created(srv.post(
        &path,
        Some(&w.b),
        &json!({"text": "A youth camp", "due_date": "2021-09-01"}),
    ));
    created(srv.post(
        &format!("/api/v1/partnerships/{p}/commitments/{}/resolution", honest["id"].as_str().unwrap()),
        Some(&w.b),
        &json!({"result": "partly_kept", "resolved_on": "2021-08-01", "kept_by_outcome": outcome["id"]}),
    ));
    let state = tempfile::tempdir().unwrap();
    let (passed, text) = audit(&srv, &state.path().join("audit.json"));
    assert!(passed, "an honest registry audits clean:\n{text}");
    assert!(text.contains("registry rules hold"), "{text}");

    // Berlin's office is made Houston's in the table the server reads, so the server's own
    // party check passes; the log still knows the token as Berlin's.
    srv.db
        .exec("UPDATE offices SET city = 'us-hou' WHERE city = 'de-ber'")
        .unwrap();
    let r = srv.post(
        &format!(
            "/api/v1/partnerships/{p}/commitments/{}/resolution",
            forged["id"].as_str().unwrap()
        ),
        Some(&w.c),
        &json!({"result": "kept", "resolved_on": "2021-08-15"}),
    );
    assert_eq!(r.status, 201, "the fooled server accepts it: {}", r.text());
    let (passed, text) = audit(&srv, &state.path().join("audit.json"));
    assert!(!passed, "the audit must fail:\n{text}");
    assert!(text.contains("party_office"), "{text}");
    assert!(text.contains("belongs to an office of `de-ber`"), "{text}");
}

crate::on_both_backends!(audit_replays_follow_through);

both_backends!(offices_record_and_mark_from_the_partnership_page, |srv| {
    use crate::browser_forms::Browser;
    let w = World::build(&srv);
    let p = w.partnership.clone();
    let first = activity(&srv, &w.a, &p, "2021-03-01");
    let later = activity(&srv, &w.b, &p, "2021-05-01");
    let page_path = format!("/partnerships/{p}");
    assert!(
        !srv.get(&page_path).text().contains("Record an outcome"),
        "no form for visitors"
    );

    let houston = Browser::sign_in(&srv, &w.a);
    let page = houston.get(&srv, &page_path).text();
    for form in ["Record an outcome", "Record a commitment"] {
        assert!(page.contains(form), "{form}: {page}");
    }
    assert!(!page.contains("Mark a commitment"), "nothing to mark yet");
    let before = srv.log_size();
    let r = houston.post(
        &srv,
        &format!("/partnerships/{p}/outcomes"),
        &[
            ("csrf", &houston.csrf),
            ("activity", &first),
            ("indicator", "business_deals"),
            ("achieved_on", "2021-09-01"),
            ("count", "2"),
            ("exchange_group", ""),
            ("value", "1250000.50"),
            ("currency", "EUR"),
            ("mou", ""),
            ("follow_up", ""),
            ("description", "Two supply contracts"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    // A refusal from a form is the page of its problem, and logs nothing.
    let size = srv.log_size();
    let r = houston.post(
        &srv,
        &format!("/partnerships/{p}/outcomes"),
        &[
            ("csrf", &houston.csrf),
            ("activity", &first),
            ("indicator", "business_deals"),
            ("achieved_on", "2021-09-01"),
            ("count", "2"),
            ("value", "10.5"),
            ("currency", "JPY"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("more decimals than its currency"),
        "{}",
        r.text()
    );
    assert_eq!(srv.log_size(), size);
    for (text, due) in [
        ("Exchange of 20 students", "2021-06-30"),
        ("Open a trade desk", "2099-01-01"),
    ] {
        let r = houston.post(
            &srv,
            &format!("/partnerships/{p}/commitments"),
            &[
                ("csrf", &houston.csrf),
                ("activity", &first),
                ("text", text),
                ("due_date", due),
            ],
        );
        assert_eq!(r.status, 303, "{}", r.text());
    }
    let page = houston.get(&srv, &page_path).text();
    assert!(
        page.contains("1,250,000.50 EUR") || page.contains("worth 1250000.50 EUR"),
        "{page}"
    );
    assert!(page.contains("Commitments (2, 1 overdue)"), "{page}");
    assert!(
        page.contains(r#"<td class="overdue">overdue</td>"#),
        "{page}"
    );
    let city = srv.get("/cities/cn-sha").text();
    assert!(
        city.contains("Overdue commitments (1)") && city.contains("Exchange of 20 students"),
        "{city}"
    );

    // Shanghai's office marks it kept by its own later activity.
    let shanghai = Browser::sign_in(&srv, &w.b);
    let commitments = srv
        .get(&format!(
            "/api/v1/partnerships/{p}/commitments?state=overdue"
        ))
        .json();
    let id = commitments["items"][0]["id"].as_str().unwrap().to_string();
    let r = shanghai.post(
        &srv,
        &format!("/partnerships/{p}/resolutions"),
        &[
            ("csrf", &shanghai.csrf),
            ("commitment", &id),
            ("result", "kept"),
            ("resolved_on", "2021-06-20"),
            ("kept_by_activity", &later),
            ("note", ""),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        srv.log_size(),
        before + 4,
        "one outcome, two commitments, one resolution"
    );
    let page = srv.get(&page_path).text();
    assert!(page.contains("Commitments (2)"), "{page}");
    assert!(
        page.contains("2021-06-20 by cn-sha, on time: 2021-05-01 · exchange"),
        "{page}"
    );
    assert!(
        srv.get("/cities/cn-sha")
            .text()
            .contains("Overdue commitments (none)")
            || srv
                .get("/cities/cn-sha")
                .text()
                .contains("Overdue commitments (0)")
    );

    // Berlin's office, not a party, is refused by the form as by the API.
    let berlin = Browser::sign_in(&srv, &w.c);
    let r = berlin.post(
        &srv,
        &format!("/partnerships/{p}/commitments"),
        &[
            ("csrf", &berlin.csrf),
            ("activity", &first),
            ("text", "x"),
            ("due_date", "2021-06-30"),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(srv.log_size(), before + 4);
});

both_backends!(results_metrics_match_a_hand_checked_fixture, |srv| {
    // Five activities on two partnerships of Houston (P with Shanghai, Q with Berlin):
    //   A1 P in_person delegation 2021-03-01, 10 people: people_reached on 03-11 (day 10),
    //      a EUR 1000.50 deal on 04-10; c1 due 06-30 kept 06-20 (on time), c2 due 04-30 kept
    //      05-15 (late)
    //   A2 P virtual meeting 2021-05-01, 30 people: joint_projects on 05-05 (day 4); c3 due
    //      2021-12-31 still open (overdue, so due), c4 due 2099-01-01 (not due yet)
    //   A3 P virtual meeting 2022-02-01, 20 people: media_reach on 02-21 (day 20), a EUR 2000
    //      deal and a JPY 5000 deal on 03-01; c5 due 2022-06-30 not kept
    //   A4 Q hybrid cultural event 2022-06-01, no count: exchange_participants on 06-02 (day 1);
    //      c6 due 2022-09-01 partly kept 08-01
    //   A5 Q virtual exchange 2023-01-10, 5 people: nothing came of it
    let w = World::build(&srv);
    let p = w.partnership.clone();
    let q = srv.propose(&w.a, "us-hou", "de-ber");
    let act = |partnership: &str, kind: &str, mode: &str, start: &str, n: Option<i64>| {
        created(srv.post(
            &format!("/api/v1/partnerships/{partnership}/activities"),
            Some(&w.a),
            &json!({"kind": kind, "mode": mode, "start_date": start, "participants": n}),
        ))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let outcome = |partnership: &str, activity: &str, body: Value| {
        created(srv.post(&outcome_path(partnership, activity), Some(&w.a), &body));
    };
    let commit = |partnership: &str, activity: &str, due: &str| {
        created(srv.post(
            &format!("/api/v1/partnerships/{partnership}/activities/{activity}/commitments"),
            Some(&w.a),
            &json!({"text": format!("due {due}"), "due_date": due}),
        ))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let resolve = |partnership: &str, commitment: &str, result: &str, on: &str| {
        created(srv.post(
            &format!("/api/v1/partnerships/{partnership}/commitments/{commitment}/resolution"),
            Some(&w.a),
            &json!({"result": result, "resolved_on": on}),
        ));
    };
    let a1 = act(&p, "delegation", "in_person", "2021-03-01", Some(10));
    outcome(
        &p,
        &a1,
        json!({"indicator": "people_reached", "achieved_on": "2021-03-11", "count": 300}),
    );
    outcome(
        &p,
        &a1,
        json!({"indicator": "business_deals", "achieved_on": "2021-04-10", "count": 1, "value": "1000.50", "currency": "EUR"}),
    );
    let c1 = commit(&p, &a1, "2021-06-30");
    resolve(&p, &c1, "kept", "2021-06-20");
    let c2 = commit(&p, &a1, "2021-04-30");
    resolve(&p, &c2, "kept", "2021-05-15");
    let a2 = act(&p, "virtual_meeting", "virtual", "2021-05-01", Some(30));
    outcome(
        &p,
        &a2,
        json!({"indicator": "joint_projects", "achieved_on": "2021-05-05", "count": 2}),
    );
    commit(&p, &a2, "2021-12-31");
    commit(&p, &a2, "2099-01-01");
    let a3 = act(&p, "virtual_meeting", "virtual", "2022-02-01", Some(20));
    outcome(
        &p,
        &a3,
        json!({"indicator": "media_reach", "achieved_on": "2022-02-21", "count": 50000}),
    );
    outcome(
        &p,
        &a3,
        json!({"indicator": "business_deals", "achieved_on": "2022-03-01", "count": 1, "value": "2000", "currency": "EUR"}),
    );
    outcome(
        &p,
        &a3,
        json!({"indicator": "business_deals", "achieved_on": "2022-03-01", "count": 1, "value": "5000", "currency": "JPY"}),
    );
    let c5 = commit(&p, &a3, "2022-06-30");
    resolve(&p, &c5, "not_kept", "2022-07-01");
    let a4 = act(&q, "cultural_event", "hybrid", "2022-06-01", None);
    outcome(
        &q,
        &a4,
        json!({"indicator": "exchange_participants", "achieved_on": "2022-06-02", "count": 12, "exchange_group": "artists"}),
    );
    let c6 = commit(&q, &a4, "2022-09-01");
    resolve(&q, &c6, "partly_kept", "2022-08-01");
    act(&q, "exchange", "virtual", "2023-01-10", Some(5));

    let r = srv.get("/api/v1/metrics/results").json();
    assert_eq!(r["min_sample"], 5);
    let all = &r["overall"];
    // 5 activities; 10 + 30 + 20 + 5 participants; 2 + 1 + 3 + 1 + 0 outcomes.
    assert_eq!(
        (&all["activities"], &all["participants"], &all["outcomes"]),
        (&json!(5), &json!(65), &json!(7))
    );
    // 7 outcomes over 5 activities; A1-A4 have one, A5 none.
    assert_eq!(
        all["outcomes_per_activity"],
        json!({"numerator": 7, "denominator": 5, "value": 1.4, "small_sample": false})
    );
    assert_eq!(
        all["activities_with_outcome"],
        json!({"numerator": 4, "denominator": 5, "value": 0.8, "small_sample": false})
    );
    // Due: c1, c2, c5, c6 (resolved) and c3 (open, past due); c4 is not due. Kept fully by
    // the due date: c1 only (c2 late, c5 not kept, c6 partly).
    assert_eq!(all["commitments"], 6);
    assert_eq!(
        all["commitments_kept_on_time"],
        json!({"numerator": 1, "denominator": 5, "value": 0.2, "small_sample": false})
    );
    // First outcomes after 10, 4, 20 and 1 days: four cases, too few for a median.
    assert_eq!(
        all["days_to_first_outcome"],
        json!({"cases": 4, "median": null, "small_sample": true})
    );
    // EUR 1000.50 + 2000, and JPY 5000 on their own: never added across currencies.
    assert_eq!(
        all["declared_value"],
        json!({"EUR": "3000.50", "JPY": "5000"})
    );
    // The US, China and Germany.
    assert_eq!(
        (&all["countries_reached"], &all["small_sample"]),
        (&json!(3), &json!(false))
    );

    // Virtual: A2, A3, A5, three activities, four outcomes: a rate over three is withheld.
    let virtual_ = &r["by_mode"]["virtual"];
    assert_eq!(
        (
            &virtual_["activities"],
            &virtual_["outcomes"],
            &virtual_["small_sample"]
        ),
        (&json!(3), &json!(4), &json!(true))
    );
    assert_eq!(
        virtual_["outcomes_per_activity"],
        json!({"numerator": 4, "denominator": 3, "value": null, "small_sample": true})
    );
    // Houston takes part in all five and reaches China and Germany; Shanghai in A1-A3 and
    // reaches the US.
    assert_eq!(
        (
            &r["by_city"]["us-hou"]["activities"],
            &r["by_city"]["us-hou"]["countries_reached"]
        ),
        (&json!(5), &json!(2))
    );
    assert_eq!(
        (
            &r["by_city"]["cn-sha"]["activities"],
            &r["by_city"]["cn-sha"]["countries_reached"]
        ),
        (&json!(3), &json!(1))
    );
    // 2021: A1 and A2, 40 participants, c1-c4 of which c1, c2, c3 are due and c1 kept on time.
    let y2021 = &r["by_year"]["2021"];
    assert_eq!(
        (
            &y2021["participants"],
            &y2021["commitments_kept_on_time"]["numerator"],
            &y2021["commitments_kept_on_time"]["denominator"]
        ),
        (&json!(40), &json!(1), &json!(3))
    );
    // Q: A4 and A5, its one commitment due and partly kept: 0 of 1, withheld.
    assert_eq!(
        r["by_partnership"][q.as_str()]["commitments_kept_on_time"],
        json!({"numerator": 0, "denominator": 1, "value": null, "small_sample": true})
    );
    assert_eq!(
        r["by_kind"]["virtual_meeting"]["declared_value"],
        json!({"EUR": "2000.00", "JPY": "5000"})
    );

    // Filters: Berlin sees only Q's two activities; 2022 only A3 and A4.
    let berlin = srv.get("/api/v1/metrics/results?city=de-ber").json();
    assert_eq!(berlin["overall"]["activities"], 2);
    let y2022 = srv.get("/api/v1/metrics/results?year=2022").json();
    assert_eq!(
        (
            &y2022["overall"]["activities"],
            &y2022["overall"]["outcomes"]
        ),
        (&json!(2), &json!(4))
    );
    srv.get("/api/v1/metrics/results?year=22")
        .assert_problem(400, "invalid_query");
});

both_backends!(activities_name_the_organisations_that_took_part, |srv| {
    use crate::browser_forms::Browser;
    let w = World::build(&srv);
    let p = w.partnership.clone();
    let path = format!("/api/v1/partnerships/{p}/activities");
    let body = |organisations: Value| {
        json!({"kind": "trade_mission", "mode": "in_person", "start_date": "2021-03-01",
               "participants": 25, "organisations": organisations})
    };
    let before = srv.log_size();
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"name": format!("Firm {i}"), "sector": "business"}))
        .collect();
    for organisations in [
        json!([{"name": "Rice University", "sector": "college"}]),
        json!([{"name": "Shell", "sector": "business"}, {"name": "SHELL", "sector": "business"}]),
        json!([{"name": " ", "sector": "ngo"}]),
        json!([{"name": "x".repeat(201), "sector": "ngo"}]),
        Value::Array(many),
    ] {
        srv.post(&path, Some(&w.a), &body(organisations.clone()))
            .assert_problem(422, "invalid_organisation");
    }
    srv.post(
        &path,
        Some(&w.a),
        &body(json!([{"name": "Shell", "sector": "business", "size": 3}])),
    )
    .assert_problem(422, "unknown_field");
    assert_eq!(srv.log_size(), before, "refusals log nothing");

    let r = created(srv.post(
        &path,
        Some(&w.a),
        &body(
            json!([{"name": " Greater Houston Partnership ", "sector": "chamber_of_commerce"},
                     {"name": "Rice University", "sector": "university"}]),
        ),
    ));
    let named = json!([{"name": "Greater Houston Partnership", "sector": "chamber_of_commerce"},
                       {"name": "Rice University", "sector": "university"}]);
    assert_eq!(r["organisations"], named, "trimmed, in order");
    let entry = srv.entry(r["log_index"].as_i64().unwrap());
    assert_eq!(entry["organisations"], named);
    let listed = srv.get(&path).json();
    assert_eq!(listed["items"][0]["organisations"], named);
    let mission = r["id"].as_str().unwrap().to_string();
    created(srv.post(
        &outcome_path(&p, &mission),
        Some(&w.a),
        &json!({"indicator": "business_deals", "achieved_on": "2021-04-01", "count": 3}),
    ));
    // An activity without organisations counts in no sector.
    activity(&srv, &w.b, &p, "2021-05-01");
    let results = srv.get("/api/v1/metrics/results").json();
    let sectors: Vec<&String> = results["by_sector"].as_object().unwrap().keys().collect();
    assert_eq!(sectors, ["chamber_of_commerce", "university"]);
    assert_eq!(
        (
            &results["by_sector"]["university"]["activities"],
            &results["by_sector"]["university"]["outcomes"]
        ),
        (&json!(1), &json!(1))
    );
    assert_eq!(results["overall"]["activities"], 2);

    // The page shows them, and the form records them.
    let page = srv.get(&format!("/partnerships/{p}")).text();
    assert!(
        page.contains("Rice University</span> (university)"),
        "{page}"
    );
    let houston = Browser::sign_in(&srv, &w.a);
    let form = |organisations: &str| {
        houston.post(
            &srv,
            &format!("/partnerships/{p}/activities"),
            &[
                ("csrf", &houston.csrf),
                ("kind", "exchange"),
                ("mode", "hybrid"),
                ("start_date", "2022-01-10"),
                ("participants", ""),
                ("outcome", ""),
                ("organisations", organisations),
            ],
        )
    };
    assert_eq!(form("Houston Dynamo").status, 422, "no sector");
    let r = form("sports_club: Houston Dynamo\r\n\r\nschool: Bellaire High School\r\n");
    assert_eq!(r.status, 303, "{}", r.text());
    let listed = srv.get(&path).json();
    assert_eq!(
        listed["items"][0]["organisations"],
        json!([{"name": "Houston Dynamo", "sector": "sports_club"},
               {"name": "Bellaire High School", "sector": "school"}])
    );
});

both_backends!(
    cost_per_participant_is_per_currency_and_never_converted,
    |srv| {
        let w = World::build(&srv);
        let path = format!("/api/v1/partnerships/{}/activities", w.partnership);
        let body = |participants: Option<i64>, cost: Option<&str>, currency: Option<&str>| {
            json!({"kind": "exchange", "mode": "in_person", "start_date": "2022-05-01",
               "participants": participants, "cost": cost, "cost_currency": currency})
        };
        let before = srv.log_size();
        for (cost, currency, code) in [
            (Some("100"), None, "invalid_currency"),
            (None, Some("EUR"), "invalid_amount"),
            (Some("10.5"), Some("JPY"), "invalid_amount"),
            (Some("0"), Some("EUR"), "invalid_amount"),
            (Some("100"), Some("XAU"), "invalid_currency"),
        ] {
            srv.post(&path, Some(&w.a), &body(Some(10), cost, currency))
                .assert_problem(422, code);
        }
        assert_eq!(srv.log_size(), before, "refusals log nothing");
        // Five activities in euros with a head count: 1000.00 + 500.50 + 300 + 0.01 + 1200 =
        // 3000.51 EUR for 10 + 20 + 30 + 40 + 50 = 150 participants: 20.0034 EUR each, 20.00
        // rounded down to the cent. A sixth in euros has no head count and is left out of both; one
        // in yen is a sample of one, so its rate is withheld.
        for (people, cost, currency) in [
            (Some(10), "1000.00", "EUR"),
            (Some(20), "500.50", "EUR"),
            (Some(30), "300", "EUR"),
            (Some(40), "0.01", "EUR"),
            (Some(50), "1200", "EUR"),
            (None, "999", "EUR"),
            (Some(5), "3000", "JPY"),
        ] {
            let r = created(srv.post(&path, Some(&w.a), &body(people, Some(cost), Some(currency))));
            assert_eq!(
                (&r["cost"], &r["cost_currency"]),
                (&json!(cost), &json!(currency))
            );
            let entry = srv.entry(r["log_index"].as_i64().unwrap());
            assert_eq!(
                (&entry["cost"], &entry["cost_currency"]),
                (&json!(cost), &json!(currency))
            );
        }
        let costs = &srv.get("/api/v1/metrics/results").json()["overall"]["cost_per_participant"];
        assert_eq!(
            costs["EUR"],
            json!({"activities": 5, "total": "3000.51", "participants": 150, "value": "20.00", "small_sample": false})
        );
        assert_eq!(
            costs["JPY"],
            json!({"activities": 1, "total": "3000", "participants": 5, "value": null, "small_sample": true})
        );
    }
);
