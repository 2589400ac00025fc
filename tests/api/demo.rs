//! The demo registry's engagement sample (`amity::demo`, docs/using.md#the-demo-registry):
//! seeded (the same sample on SQLite and PostgreSQL, and on every run), labelled as a sample
//! in every outcome, recorded for the busiest cities, and visible where it is meant to be: the
//! engagement figures and the dormant ties.

use diesel::prelude::*;

use amity::db::schema::{activities, partnerships};
use amity::demo::{CITIES, LABEL, record_sample};

use crate::on_both_backends;
use crate::support::{Backend, TestServer};

/// The sample as recorded: (recording city, other city, start, kind, mode, participants,
/// outcome), in a stable order (ids are random per registry; cities and dates are not).
type Row = (
    String,
    String,
    String,
    String,
    String,
    Option<i32>,
    Option<String>,
);

/// An activity as stored: its recording city, both cities of its partnership, start, kind,
/// mode, participants and outcome.
type Stored = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i32>,
    Option<String>,
);

fn demo_registry(backend: Backend) -> (TestServer, Vec<Row>, Vec<String>, String) {
    let srv = TestServer::start(backend);
    let admin = srv.admin();
    srv.import_data_set(&admin);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    let sample = record_sample(&srv.state.db, today).expect("the sample is recorded");
    assert_eq!(sample.cities.len(), CITIES);
    let mut rows: Vec<Row> = srv
        .state
        .db
        .read(|c| {
            let rows: Vec<Stored> = activities::table
                .inner_join(partnerships::table)
                .select((
                    activities::city,
                    partnerships::city_a,
                    partnerships::city_b,
                    activities::start_date,
                    activities::kind,
                    activities::mode,
                    activities::participants,
                    activities::outcome,
                ))
                .load(c)?;
            Ok(rows
                .into_iter()
                .map(|(city, a, b, start, kind, mode, n, outcome)| {
                    let other = if a == city { b } else { a };
                    (city, other, start, kind, mode, n, outcome)
                })
                .collect())
        })
        .expect("activities");
    rows.sort();
    assert_eq!(rows.len(), sample.activities);
    (srv, rows, sample.cities, sample.group)
}

fn the_demo_sample_is_seeded_labelled_and_shown(backend: Backend) {
    let (srv, rows, cities, group) = demo_registry(backend);
    assert!(rows.len() > 50, "{} activities", rows.len());
    for row in &rows {
        assert!(
            cities.contains(&row.0),
            "recorded by a sample city: {row:?}"
        );
        let outcome = row.6.as_deref().unwrap_or_default();
        assert!(outcome.starts_with(LABEL), "labelled: {outcome}");
        assert!(row.2.as_str() >= "2016-01-01" && row.2.as_str() <= "2026-12-06");
    }
    // Virtual engagement appears from 2020 on, as it did.
    assert!(
        rows.iter()
            .any(|r| r.4 == "virtual" && r.2.as_str() >= "2020")
    );
    // Seeded: a second registry (on SQLite) gets the very same sample.
    let (_, again, cities_again, _) = demo_registry(Backend::Sqlite);
    assert_eq!(cities, cities_again);
    assert_eq!(rows, again, "the same seed, the same sample");

    // Outcomes and commitments, labelled too, some kept, some overdue; the whole registry
    // audits clean, the operator's host writes included.
    let sample = srv.state.db.read(|c| {
        use amity::db::schema::{activity_outcomes, commitments};
        let descriptions: Vec<Option<String>> = activity_outcomes::table
            .select(activity_outcomes::description)
            .load(c)?;
        let texts: Vec<String> = commitments::table.select(commitments::text).load(c)?;
        Ok((descriptions, texts))
    });
    let (descriptions, texts) = sample.expect("outcomes and commitments");
    assert!(
        descriptions.len() > 20 && texts.len() > 10,
        "{} outcomes, {} commitments",
        descriptions.len(),
        texts.len()
    );
    assert!(
        descriptions
            .iter()
            .all(|d| d.as_deref().is_some_and(|d| d.starts_with(LABEL)))
    );
    assert!(texts.iter().all(|t| t.starts_with(LABEL)));
    let overdue = srv
        .get(&format!(
            "/api/v1/cities/{}/overdue-commitments?limit=500",
            cities[0]
        ))
        .json();
    assert!(
        overdue["items"]
            .as_array()
            .is_some_and(|items| items.iter().all(|c| c["state"] == "overdue"))
    );
    // The sample cities as a named group, labelled, on the briefings page, and briefed.
    let saved = srv.get(&format!("/api/v1/city-groups/{group}")).json();
    assert!(saved["name"].as_str().is_some_and(|n| n.starts_with(LABEL)));
    let mut members = cities.clone();
    members.sort();
    assert_eq!(saved["cities"], serde_json::json!(members));
    let page = srv.get("/briefings").text();
    assert!(
        page.contains(&format!("group={group}&amp;format=pdf")),
        "{page}"
    );
    let briefing = srv.get(&format!("/api/v1/briefings?group={group}&format=csv"));
    assert_eq!(briefing.status, 200, "{}", briefing.text());
    let state = tempfile::tempdir().unwrap();
    let (passed, text) = crate::audit::audit(&srv, &state.path().join("audit.json"));
    assert!(passed, "the demo registry audits clean:\n{text}");

    // The busiest city's engagement counts them, and its dormant ties are fewer than its
    // active ties: the sample gave some of them a sign of life.
    let city = &cities[0];
    let of_city = rows.iter().filter(|r| &r.0 == city || &r.1 == city).count();
    let engagement = srv.get(&format!("/api/v1/metrics/engagement?city={city}"));
    assert_eq!(engagement.status, 200, "{}", engagement.text());
    assert_eq!(
        engagement.json()["overall"]["total"].as_u64(),
        Some(of_city as u64),
        "{}",
        engagement.text()
    );
    let dormant = srv
        .get(&format!("/api/v1/cities/{city}/dormant-partnerships"))
        .json();
    assert!(dormant["count"].as_u64() > Some(0));
    assert!(
        dormant["items"]
            .as_array()
            .is_some_and(|items| items.iter().all(|t| t["last_activity"].is_null()
                || t["last_activity"].as_str() < Some("2023-12-06"))),
        "{dormant:#}"
    );
}

on_both_backends!(the_demo_sample_is_seeded_labelled_and_shown);
