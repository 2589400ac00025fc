//! The briefing of a group of cities (issue: results of engagement, item 5, in part): a
//! summary per city and each city's briefing, as Markdown, HTML and CSV, built from one state
//! of the log whose signed checkpoint it quotes. Both backends.

use serde_json::{Value, json};

use crate::log_checks::{open, verifier};
use crate::on_both_backends;
use crate::support::{Backend, TestServer, World, status_body};

fn the_briefing_of_three_cities(backend: Backend) {
    let srv = TestServer::start(backend);
    let w = World::build(&srv);
    // Houston and Shanghai, confirmed then curtailed with a reason; Houston and Berlin,
    // confirmed, with an activity.
    let r = srv.post(
        &format!("/api/v1/partnerships/{}/confirm", w.partnership),
        Some(&w.b),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = srv.post(
        &format!("/api/v1/partnerships/{}/status", w.partnership),
        Some(&w.a),
        &status_body("curtailed", Some("Consulates closed in July 2020")),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let berlin = srv.propose(&w.a, "us-hou", "de-ber");
    let r = srv.post(
        &format!("/api/v1/partnerships/{berlin}/confirm"),
        Some(&w.c),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let day = (chrono::Utc::now() - chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let r = srv.post(
        &format!("/api/v1/partnerships/{berlin}/activities"),
        Some(&w.c),
        &json!({"kind": "virtual_meeting", "mode": "virtual", "start_date": day,
                "participants": 40, "outcome": "A youth orchestra exchange agreed"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // What it produced and promised: 40 students exchanged (with the minutes as evidence), a
    // promise kept on time and one still open past its due date.
    let meeting = r.json()["id"].as_str().unwrap().to_string();
    let r = srv.send(
        "POST",
        &format!("/api/v1/activities/{meeting}/evidence?filename=minutes.txt"),
        Some(&w.c),
        Some(("text/plain", b"Minutes of the orchestra call".to_vec())),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = srv.post(
        &format!("/api/v1/partnerships/{berlin}/activities/{meeting}/outcomes"),
        Some(&w.c),
        &json!({"indicator": "exchange_participants", "achieved_on": day, "count": 1200,
                "exchange_group": "students", "description": "Two youth orchestras toured",
                "evidence": [1]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let commit = |text: &str, due: &str| {
        let r = srv.post(
            &format!("/api/v1/partnerships/{berlin}/activities/{meeting}/commitments"),
            Some(&w.a),
            &json!({"text": text, "due_date": due}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_string()
    };
    let kept = commit("A joint concert in Houston", &day);
    commit("A return visit to Berlin", &day);
    let r = srv.post(
        &format!("/api/v1/partnerships/{berlin}/commitments/{kept}/resolution"),
        Some(&w.c),
        &json!({"result": "kept", "resolved_on": day}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let key = verifier(&srv);
    // From 2022: the curtailment took effect on 2022-03-01 (`status_body`).
    let group = "/api/v1/briefings?cities=us-hou,cn-sha,de-ber&from=2022-01-01";

    // Markdown: the checkpoint it quotes verifies and is the log as it stands.
    let r = srv.get(group);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/markdown")
    );
    let text = r.text();
    assert!(
        text.starts_with("# Briefing: 3 cities, 2022-01-01 to "),
        "{text}"
    );
    let note = text
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the checkpoint block");
    let seen = open(note, &key);
    assert_eq!(
        seen.size,
        srv.log_size() as u64,
        "built from the log as it is"
    );
    assert!(text.contains(&format!("at size {}", seen.size)));
    for needle in [
        "| us-hou | Houston | US | 2 | 1 | 1 | 0 |",
        "| cn-sha | Shanghai | CN | 1 | 0 | 1 | 0 |",
        "| de-ber | Berlin | DE | 1 | 1 | 0 | 0 |",
        "## Briefing: Houston (US)",
        "## Briefing: Berlin (DE)",
        "Consulates closed in July 2020",
        "A youth orchestra exchange agreed",
        "## Outcomes in the period (1)",
        ": 1,200 students: Two youth orchestras toured (1 evidence document)",
        "## Commitments (2)",
        "A joint concert in Houston: kept on time",
        "### Engagement by year",
        "## Dormant ties (0): active, no activity for 3 years",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }

    // HTML: a summary table, one section per city (a page each in print), the checkpoint.
    let html = srv.get(&format!("{group}&format=html")).text();
    assert_eq!(html.matches("<section class=\"city\">").count(), 3);
    assert!(html.contains("id=\"summary\""));
    assert!(
        html.contains(&format!("amity.localhost\n{}\n", seen.size)),
        "the checkpoint"
    );
    assert!(!html.contains("<script"));
    assert!(
        html.contains("<td>A joint concert in Houston</td><td>kept on time</td>"),
        "{html}"
    );

    // PDF: typeset on the server; the summary on its first page, then a page (or more) per
    // city, with the same checkpoint note the Markdown quotes (which verified above).
    let r = srv.get(&format!("{group}&format=pdf"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    let pdf = lopdf::Document::load_mem(&r.body).expect("a PDF lopdf reads");
    let pages = pdf.get_pages();
    assert!(pages.len() >= 4, "{} pages", pages.len());
    let page_text = |n: u32| pdf.extract_text(&[n]).expect("text of a page");
    let first = page_text(1);
    assert!(
        first.contains("Briefing: 3 cities, 2022-01-01 to"),
        "{first}"
    );
    assert!(first.contains(&format!("at size {}", seen.size)), "{first}");
    for line in note.lines().take(3) {
        assert!(
            first.contains(line),
            "note line {line:?} not on page 1:\n{first}"
        );
    }
    let all: String = (1..=pages.len() as u32).map(page_text).collect();
    for needle in [
        "Briefing: Houston (US)",
        "Briefing: Berlin (DE)",
        "Consulates closed in July 2020",
        "Two youth orchestras toured",
        "A joint concert in Houston: kept on time",
    ] {
        assert!(all.contains(needle), "{needle} not in the PDF:\n{all}");
    }
    assert!(
        page_text(2).starts_with("Briefing: Houston") || page_text(2).contains("Briefing: Houston"),
        "the first city begins page 2"
    );
    if std::env::var_os("AMITY_UPDATE_README_SCREENSHOT").is_some() {
        // The README's picture of the first page, rendered by poppler's pdftoppm.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("briefing.pdf");
        std::fs::write(&file, &r.body).unwrap();
        let out = std::process::Command::new("pdftoppm")
            .args(["-png", "-r", "64", "-f", "1", "-l", "1", "-singlefile"])
            .arg(&file)
            .arg(dir.path().join("page"))
            .status()
            .expect("pdftoppm (poppler-utils) runs");
        assert!(out.success());
        std::fs::copy(
            dir.path().join("page.png"),
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/docs/screenshot-group-briefing.png"
            ),
        )
        .unwrap();
    }

    // CSV: every row names its city; the checkpoint row names the size and root.
    let csv = srv.get(&format!("{group}&format=csv")).text();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("city,section,date,partner,status,kind,detail")
    );
    assert_eq!(
        lines.next(),
        Some(format!(",checkpoint,,,,{},{}", seen.size, hex::encode(seen.root)).as_str())
    );
    for line in lines {
        assert!(
            ["us-hou,", "cn-sha,", "de-ber,"]
                .iter()
                .any(|c| line.starts_with(c)),
            "{line}"
        );
    }
    assert!(csv.contains("de-ber,achievement,"), "{csv}");
    assert!(
        csv.contains(",outcome,") && csv.contains("exchange_participants,\"1,200 students"),
        "{csv}"
    );
    assert!(csv.contains("A return visit to Berlin"), "{csv}");

    // A country as the group: its cities with partnerships.
    let r = srv.get("/api/v1/briefings?country=US");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text()
            .starts_with("# Briefing: the 1 cities of US with partnerships"),
        "{}",
        r.text()
    );
    // A UN M49 region or subregion: the cities of its countries with partnerships.
    let r = srv.get("/api/v1/briefings?region=eastern-asia");
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(
        text.starts_with("# Briefing: the 1 cities of Eastern Asia with partnerships"),
        "{text}"
    );
    assert!(text.contains("## Briefing: Shanghai (CN)"), "{text}");
    let text = srv.get("/api/v1/briefings?region=europe").text();
    assert!(
        text.contains("## Briefing: Berlin (DE)") && !text.contains("## Briefing: Houston"),
        "{text}"
    );

    // Refusals, each changing nothing.
    let size = srv.log_size();
    let too_many = format!(
        "cities={}",
        (0..51)
            .map(|i| format!("us-c{i:02}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    for (query, status, code) in [
        (too_many.as_str(), 400, "invalid_query"),
        ("cities=us-hou", 400, "invalid_query"),
        ("cities=us-hou,us-hou", 400, "invalid_query"),
        ("cities=us-hou,zz-nowhere", 404, "city_not_found"),
        ("cities=us-hou,cn-sha&country=US", 400, "invalid_query"),
        ("", 400, "invalid_query"),
        ("country=ZZ", 422, "unknown_country"),
        ("country=FR", 400, "invalid_query"),
        ("region=mars", 422, "unknown_world_region"),
        ("region=Europe", 422, "unknown_world_region"),
        ("region=oceania", 400, "invalid_query"),
        ("region=europe&country=DE", 400, "invalid_query"),
        ("cities=us-hou,cn-sha&format=docx", 400, "invalid_format"),
        (
            "cities=us-hou,cn-sha&from=2022-01-01&to=2021-01-01",
            422,
            "invalid_period",
        ),
    ] {
        srv.get(&format!("/api/v1/briefings?{query}"))
            .assert_problem(status, code);
    }
    assert_eq!(srv.log_size(), size);
}

on_both_backends!(the_briefing_of_three_cities);

/// Named groups: kept by an admin, each save logged with its `seq`, briefed by id, replayed
/// by `amity audit`. (Associations keep groups too: the next test.)
fn named_groups_are_kept_by_an_admin(backend: Backend) {
    let srv = TestServer::start(backend);
    let w = World::build(&srv);
    let body = json!({"name": "Gulf and Yangtze", "cities": ["us-hou", "cn-sha"]});
    let before = srv.log_size();
    srv.post("/api/v1/city-groups", None, &body)
        .assert_problem(401, "authentication_required");
    srv.post("/api/v1/city-groups", Some(&w.a), &body)
        .assert_problem(403, "not_group_keeper");
    let cities = |n: usize| (0..n).map(|i| format!("us-c{i:02}")).collect::<Vec<_>>();
    for (bad, status, code) in [
        (
            json!({"name": "One", "cities": ["us-hou"]}),
            422,
            "invalid_city_group",
        ),
        (
            json!({"name": "Many", "cities": cities(51)}),
            422,
            "invalid_city_group",
        ),
        (
            json!({"name": "Twice", "cities": ["us-hou", "us-hou"]}),
            422,
            "invalid_city_group",
        ),
        (
            json!({"name": " ", "cities": ["us-hou", "cn-sha"]}),
            422,
            "invalid_city_group",
        ),
        (
            json!({"name": "Nowhere", "cities": ["us-hou", "zz-nowhere"]}),
            422,
            "unknown_city",
        ),
        (
            json!({"name": "Bad", "cities": ["Houston", "cn-sha"]}),
            422,
            "invalid_city_code",
        ),
    ] {
        srv.post("/api/v1/city-groups", Some(&w.admin), &bad)
            .assert_problem(status, code);
    }
    assert_eq!(srv.log_size(), before, "refusals log nothing");

    let r = srv.post("/api/v1/city-groups", Some(&w.admin), &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let group = r.json();
    assert_eq!(group["cities"], json!(["cn-sha", "us-hou"]), "sorted");
    assert_eq!(group["seq"], 1);
    assert_eq!(
        group["keeper"],
        Value::Null,
        "an admin's group: the administrators keep it"
    );
    let id = group["id"].as_str().unwrap().to_string();
    let entry = srv.entry(group["log_index"].as_i64().unwrap());
    assert_eq!(
        (&entry["type"], &entry["seq"], &entry["cities"]),
        (
            &json!("city_group.saved"),
            &json!(1),
            &json!(["cn-sha", "us-hou"])
        )
    );
    srv.post(
        "/api/v1/city-groups",
        Some(&w.admin),
        &json!({"name": "GULF AND YANGTZE", "cities": ["us-hou", "de-ber"]}),
    )
    .assert_problem(409, "city_group_name_taken");

    // Redefined: Berlin joins; the log keeps both saves.
    let put = |token: &str, body: &Value| {
        srv.send(
            "PUT",
            &format!("/api/v1/city-groups/{id}"),
            Some(token),
            Some(("application/json", body.to_string().into_bytes())),
        )
    };
    let three =
        json!({"name": "Gulf, Yangtze and Spree", "cities": ["us-hou", "cn-sha", "de-ber"]});
    put(&w.b, &three).assert_problem(403, "not_group_keeper");
    let r = put(&w.admin, &three);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (&r.json()["seq"], &r.json()["cities"][0]),
        (&json!(2), &json!("cn-sha"))
    );
    srv.send(
        "PUT",
        "/api/v1/city-groups/0190a5f0-0000-7000-8000-000000000000",
        Some(&w.admin),
        Some(("application/json", three.to_string().into_bytes())),
    )
    .assert_problem(404, "city_group_not_found");
    assert_eq!(
        srv.get(&format!("/api/v1/city-groups/{id}")).json()["name"],
        "Gulf, Yangtze and Spree"
    );
    let r = srv.post(
        "/api/v1/city-groups",
        Some(&w.admin),
        &json!({"name": "Atlantic", "cities": ["us-hou", "de-ber"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let page = srv.get("/api/v1/city-groups?limit=1").json();
    assert_eq!(page["items"][0]["name"], "Atlantic", "by name");
    let rest = srv
        .get(&format!(
            "/api/v1/city-groups?limit=1&cursor={}",
            page["next_cursor"].as_str().unwrap()
        ))
        .json();
    assert_eq!(rest["items"][0]["id"], json!(id));

    // Its briefing, by id.
    let r = srv.get(&format!("/api/v1/briefings?group={id}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(
        text.starts_with("# Briefing: Gulf, Yangtze and Spree, "),
        "{text}"
    );
    for city in [
        "## Briefing: Houston (US)",
        "## Briefing: Shanghai (CN)",
        "## Briefing: Berlin (DE)",
    ] {
        assert!(text.contains(city), "{city}");
    }
    srv.get("/api/v1/briefings?group=nope")
        .assert_problem(404, "city_group_not_found");
    srv.get(&format!("/api/v1/briefings?group={id}&country=US"))
        .assert_problem(400, "invalid_query");

    // The results metrics of the group: the partnerships of its cities only.
    let berlin_tie = srv.propose(&w.c, "de-ber", "us-hou");
    let r = srv.post(
        &format!("/api/v1/partnerships/{berlin_tie}/activities"),
        Some(&w.c),
        &json!({"kind": "exchange", "mode": "virtual", "start_date": "2022-02-02"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let atlantic = srv.get("/api/v1/city-groups?limit=1").json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let of_group = |group: &str| {
        srv.get(&format!("/api/v1/metrics/results?group={group}"))
            .json()["overall"]["activities"]
            .clone()
    };
    assert_eq!(
        of_group(&atlantic),
        json!(1),
        "Houston and Berlin's one activity"
    );
    srv.get("/api/v1/metrics/results?group=nope")
        .assert_problem(404, "city_group_not_found");
    srv.get(&format!(
        "/api/v1/metrics/results?group={atlantic}&city=us-hou"
    ))
    .assert_problem(400, "invalid_query");

    let state = tempfile::tempdir().unwrap();
    let (passed, text) = crate::audit::audit(&srv, &state.path().join("audit.json"));
    assert!(passed, "the groups replay clean:\n{text}");
}

on_both_backends!(named_groups_are_kept_by_an_admin);

/// An association keeps the groups it creates: nobody but it and the admins redefine them, an
/// admin hands a group to another association token, and the association's token can do
/// nothing else. The audit replays every save with rule `group_keeper`.
fn associations_keep_their_groups(backend: Backend) {
    let srv = TestServer::start(backend);
    let w = World::build(&srv);
    let issue = |role: &str| {
        let r = srv.post(
            "/api/v1/admin/tokens",
            Some(&w.admin),
            &json!({"role": role}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let j = r.json();
        (
            j["id"].as_str().unwrap().to_string(),
            j["token"].as_str().unwrap().to_string(),
        )
    };
    let (first_id, first) = issue("association");
    let (second_id, second) = issue("association");
    let (auditor_id, _) = issue("auditor");
    srv.post(
        "/api/v1/admin/tokens",
        Some(&w.admin),
        &json!({"role": "association", "office": "o"}),
    )
    .assert_problem(422, "office_not_allowed");

    let body = json!({"name": "Ports of the Gulf", "cities": ["us-hou", "cn-sha"]});
    // An association names nobody but itself as keeper.
    srv.post(
        "/api/v1/city-groups",
        Some(&first),
        &json!({"name": "Ports", "cities": ["us-hou", "cn-sha"], "keeper": second_id}),
    )
    .assert_problem(403, "not_group_keeper");
    let r = srv.post("/api/v1/city-groups", Some(&first), &body);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["keeper"], json!(first_id));
    let id = r.json()["id"].as_str().unwrap().to_string();
    let entry = srv.entry(r.json()["log_index"].as_i64().unwrap());
    assert_eq!(
        (&entry["keeper"], &entry["by"]),
        (&json!(first_id), &json!(first_id))
    );

    let put = |token: &str, body: Value| {
        srv.send(
            "PUT",
            &format!("/api/v1/city-groups/{id}"),
            Some(token),
            Some(("application/json", body.to_string().into_bytes())),
        )
    };
    let three = |name: &str| json!({"name": name, "cities": ["us-hou", "cn-sha", "de-ber"]});
    let size = srv.log_size();
    put(&second, three("Taken over")).assert_problem(403, "not_group_keeper");
    put(&w.a, three("By an office")).assert_problem(403, "not_group_keeper");
    for keeper in ["nope", auditor_id.as_str()] {
        let mut body = three("Bad keeper");
        body["keeper"] = json!(keeper);
        put(&w.admin, body).assert_problem(422, "invalid_group_keeper");
    }
    assert_eq!(srv.log_size(), size, "refusals log nothing");

    // Its keeper redefines it; an admin redefines it and it stays the association's.
    let r = put(&first, three("Gulf, Yangtze and Spree"));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = put(&w.admin, three("Gulf, Yangtze and the Spree"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (&r.json()["seq"], &r.json()["keeper"]),
        (&json!(3), &json!(first_id))
    );

    // Handed to the second token (the association rotated its token, say).
    let mut handover = three("Gulf, Yangtze and the Spree");
    handover["keeper"] = json!(second_id);
    let r = put(&w.admin, handover);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["keeper"], json!(second_id));
    put(&first, three("Old keeper")).assert_problem(403, "not_group_keeper");
    let r = put(&second, three("New keeper"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        srv.get(&format!("/api/v1/city-groups/{id}")).json()["name"],
        "New keeper"
    );

    // An association token keeps groups and does nothing else.
    srv.post(
        "/api/v1/admin/cities",
        Some(&first),
        &json!({"code": "fr-par", "name": "Paris"}),
    )
    .assert_problem(403, "admin_required");
    srv.post(
        "/api/v1/partnerships",
        Some(&first),
        &json!({"city_a": "us-hou", "city_b": "de-ber", "kind": "sister_city"}),
    )
    .assert_problem(403, "office_required");

    let state = tempfile::tempdir().unwrap();
    let (passed, text) = crate::audit::audit(&srv, &state.path().join("audit.json"));
    assert!(passed, "the keepers replay clean:\n{text}");
}

on_both_backends!(associations_keep_their_groups);
