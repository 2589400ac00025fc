//! The event log: one entry per write, in order, in the same transaction; append-only tables.

use serde_json::json;

use crate::both_backends;
use crate::support::{Backend, World, status_body};

both_backends!(every_write_appends_exactly_one_entry, |srv| {
    let admin = srv.admin();
    // The host-issued admin token is entry 0.
    assert_eq!(srv.log_size(), 1);
    assert_eq!(srv.entry(0)["type"], "token.issued");

    let mut expected_kinds = vec!["token.issued".to_string()];
    let mut step = |kind: &str, reply: crate::support::Reply| {
        assert!(
            reply.status == 200 || reply.status == 201,
            "{}",
            reply.text()
        );
        let index = reply.json()["log_index"]
            .as_i64()
            .expect("log_index in write response");
        assert_eq!(
            index as usize,
            expected_kinds.len(),
            "{kind}: entries must be contiguous"
        );
        expected_kinds.push(kind.to_string());
        assert_eq!(srv.log_size() as usize, expected_kinds.len());
        let entry = srv.entry(index);
        assert_eq!(entry["type"], kind);
        entry
    };

    let e = step(
        "city.created",
        srv.post(
            "/api/v1/admin/cities",
            Some(&admin),
            &json!({"code": "us-hou", "name": "Houston", "country": "US", "lat": 29.76, "lon": -95.37}),
        ),
    );
    assert_eq!(e["city"], "us-hou");
    assert_eq!(e["lat_e6"], 29_760_000);
    assert!(
        e.get("region").is_none(),
        "absent fields are left out, not null"
    );
    step(
        "city.created",
        srv.post(
            "/api/v1/admin/cities",
            Some(&admin),
            &json!({"code": "cn-sha", "name": "Shanghai", "country": "CN"}),
        ),
    );
    let office = step(
        "office.created",
        srv.post(
            "/api/v1/admin/offices",
            Some(&admin),
            &json!({"city": "us-hou", "name": "IA"}),
        ),
    );
    let office_b = step(
        "office.created",
        srv.post(
            "/api/v1/admin/offices",
            Some(&admin),
            &json!({"city": "cn-sha", "name": "FAO"}),
        ),
    );
    let token_reply = srv.post(
        "/api/v1/admin/tokens",
        Some(&admin),
        &json!({"role": "office", "office": office["office"]}),
    );
    let a = token_reply.json()["token"].as_str().unwrap().to_string();
    let e = step("token.issued", token_reply);
    assert_eq!(e["role"], "office");
    assert!(!e.to_string().contains(&a), "the secret must not be logged");
    let b_reply = srv.post(
        "/api/v1/admin/tokens",
        Some(&admin),
        &json!({"role": "office", "office": office_b["office"]}),
    );
    let b = b_reply.json()["token"].as_str().unwrap().to_string();
    step("token.issued", b_reply);
    let e = step(
        "partnership.registered",
        srv.post(
            "/api/v1/partnerships",
            Some(&a),
            &json!({"cities": ["us-hou", "cn-sha"], "kind": "sister"}),
        ),
    );
    let id = e["partnership"].as_str().unwrap().to_string();
    assert_eq!(e["cities"], json!(["cn-sha", "us-hou"]));
    let e = step(
        "partnership.status_changed",
        srv.post(
            &format!("/api/v1/partnerships/{id}/confirm"),
            Some(&b),
            &json!({}),
        ),
    );
    assert_eq!(
        (e["from"].as_str(), e["to"].as_str()),
        (Some("proposed"), Some("active"))
    );
    let mut body = status_body("curtailed", Some("Consulates closed"));
    body["decision_document_sha256"] = json!("cd".repeat(32));
    let e = step(
        "partnership.status_changed",
        srv.post(
            &format!("/api/v1/partnerships/{id}/status"),
            Some(&a),
            &body,
        ),
    );
    assert_eq!(e["reason"], "Consulates closed");
    assert_eq!(e["initiating_city"], "us-hou");
    assert_eq!(e["decision_document_sha256"], "cd".repeat(32));
    let victim = srv.post(
        "/api/v1/admin/tokens",
        Some(&admin),
        &json!({"role": "auditor"}),
    );
    let victim_id = victim.json()["id"].as_str().unwrap().to_string();
    step("token.issued", victim);
    step(
        "token.revoked",
        srv.send(
            "DELETE",
            &format!("/api/v1/admin/tokens/{victim_id}"),
            Some(&admin),
            None,
        ),
    );

    // Entries are canonical JSON: re-serializing sorted and compact gives the same bytes.
    use base64::Engine;
    for index in 0..srv.log_size() {
        let r = srv.get(&format!("/api/v1/log/entries/{index}")).json();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(r["entry"].as_str().unwrap())
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            serde_jcs::to_vec(&value).unwrap(),
            bytes,
            "entry {index} is not canonical"
        );
        let mut leaf = vec![0u8];
        leaf.extend_from_slice(&bytes);
        assert_eq!(r["leaf_hash"], hex_sha256(&leaf));
    }
    srv.get("/api/v1/log/entries/999")
        .assert_problem(404, "entry_not_found");
});

fn hex_sha256(bytes: &[u8]) -> String {
    amity::crypto::sha256(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

both_backends!(append_only_tables_refuse_update_and_delete, |srv| {
    let w = World::build(&srv);
    let _ = w;
    for sql in [
        "UPDATE log_entries SET kind = 'x' WHERE idx = 0",
        "DELETE FROM log_entries WHERE idx = 0",
        "UPDATE status_events SET reason = 'rewritten'",
        "DELETE FROM status_events",
    ] {
        let err = srv.db.exec(sql).expect_err(sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    if srv.backend() == Backend::Postgres {
        let err = srv.db.exec("TRUNCATE log_entries").expect_err("truncate");
        assert!(err.contains("append-only"), "{err}");
    }
    assert_eq!(srv.entry(0)["type"], "token.issued");
});

both_backends!(concurrent_writes_keep_the_log_contiguous, |srv| {
    let w = World::build(&srv);
    let start = srv.log_size();
    std::thread::scope(|s| {
        for t in 0..4 {
            let srv = &srv;
            let admin = w.admin.clone();
            s.spawn(move || {
                for i in 0..5 {
                    let r = srv.post(
                        "/api/v1/admin/cities",
                        Some(&admin),
                        &json!({"code": format!("fr-c{t}{i}"), "name": "Parallel", "country": "FR"}),
                    );
                    assert_eq!(r.status, 201, "{}", r.text());
                }
            });
        }
    });
    assert_eq!(srv.log_size(), start + 20);
    let mut cities = std::collections::BTreeSet::new();
    for index in start..start + 20 {
        let e = srv.entry(index);
        assert_eq!(e["type"], "city.created");
        cities.insert(e["city"].as_str().unwrap().to_string());
    }
    assert_eq!(cities.len(), 20);
});
