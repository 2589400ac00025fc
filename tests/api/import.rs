//! Bulk import of the real data set over HTTP, on both backends.

use serde_json::json;

use crate::both_backends;
use crate::support::TestServer;

fn csv() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/twin_cities.csv")).unwrap()
}

fn import(srv: &TestServer, token: &str, query: &str, body: Vec<u8>) -> crate::support::Reply {
    srv.send(
        "POST",
        &format!("/api/v1/admin/import{query}"),
        Some(token),
        Some(("text/csv", body)),
    )
}

both_backends!(imports_the_real_data_set, |srv| {
    let admin = srv.admin();
    let before = srv.log_size();

    // A dry run reports the plan and writes nothing.
    let r = import(&srv, &admin, "?dry_run=true", csv());
    assert_eq!(r.status, 200, "{}", r.text());
    let dry = r.json();
    assert_eq!(
        (dry["cities"].as_u64(), dry["partnerships"].as_u64()),
        (Some(17_117), Some(24_704))
    );
    assert_eq!(srv.log_size(), before);
    assert_eq!(srv.get("/api/v1/cities?limit=1").json()["items"], json!([]));

    let r = import(&srv, &admin, "", csv());
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(report["rows"], 25_917);
    assert_eq!(report["cities"], 17_117);
    assert_eq!(report["partnerships"], 24_704);
    assert_eq!(
        report["rejects_by_reason"],
        json!({"duplicate": 1082, "empty_country": 5, "same_city": 3, "unknown_country": 123})
    );
    assert_eq!(report["rejected"], 1213);
    // Every refused row is named by its line: Kosovo is on line 8 of the file.
    assert_eq!(
        report["rejects"][0],
        json!({
            "line": 8, "reason": "unknown_country", "detail": "\"Kosovo\" is not an ISO 3166-1 country"
        })
    );
    // One log entry per created record, contiguous after the earlier ones.
    assert_eq!(srv.log_size(), before + 17_117 + 24_704);
    assert_eq!(srv.entry(before)["type"], "city.created");
    assert_eq!(srv.entry(before + 17_117)["type"], "partnership.registered");
    assert_eq!(srv.entry(before + 17_117)["source"], "imported");

    // Real records: a city with its coordinates, an active imported partnership with history.
    let berat = srv.get("/api/v1/cities/al-berat").json();
    assert_eq!(
        (berat["name"].as_str(), berat["country"].as_str()),
        (Some("Berat"), Some("AL"))
    );
    assert_eq!(berat["lat"], 40.7022);
    let list = srv.get("/api/v1/partnerships?city=al-berat").json();
    let p = &list["items"][0];
    assert_eq!(
        (p["status"].as_str(), p["source"].as_str()),
        (Some("active"), Some("imported"))
    );
    let h = srv
        .get(&format!(
            "/api/v1/partnerships/{}/history",
            p["id"].as_str().unwrap()
        ))
        .json();
    assert_eq!(h["events"][0]["to"], "active");
    let slaskie = srv.get("/api/v1/cities?q=siemianowice").json();
    assert_eq!(slaskie["items"][0]["name"], "Siemianowice Śląskie");

    // The imported log still proves out: the checkpoint covers every entry.
    let r = srv.get(&format!(
        "/api/v1/log/proof/inclusion?index={}",
        srv.log_size() - 1
    ));
    assert_eq!(r.status, 200, "{}", r.text());

    // Running it again adds nothing.
    let again = import(&srv, &admin, "", csv()).json();
    assert_eq!(
        (again["cities"].as_u64(), again["partnerships"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(srv.log_size(), before + 17_117 + 24_704);
});

both_backends!(import_refusals, |srv| {
    let admin = srv.admin();
    let office = {
        srv.city(&admin, "us-hou", "Houston");
        srv.office(&admin, "us-hou")
    };
    let before = srv.log_size();
    import(&srv, &office, "", csv()).assert_problem(403, "admin_required");
    srv.send(
        "POST",
        "/api/v1/admin/import",
        None,
        Some(("text/csv", csv())),
    )
    .assert_problem(401, "authentication_required");
    import(&srv, &admin, "", b"a,b,c\n1,2,3\n".to_vec()).assert_problem(422, "invalid_csv");
    import(&srv, &admin, "?dry_run=maybe", csv()).assert_problem(400, "invalid_query");
    assert_eq!(srv.log_size(), before);
    // Rows that are not valid CSV become refused rows, not a failed import.
    let body = "city1,country1,lat1,lng1,city2,country2,lat2,lng2\n\
                Berat,Albania,40.7,19.9,Fermo,Italy,43.1,13.7\n\
                only,three,fields\n"
        .as_bytes()
        .to_vec();
    let r = import(&srv, &admin, "", body).json();
    assert_eq!(r["partnerships"], 1);
    assert_eq!(
        r["rejects"],
        json!([{"line": 3, "reason": "malformed_row", "detail": "expected 8 fields, found 3"}])
    );
});
