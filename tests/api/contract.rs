//! The OpenAPI document as a contract: a snapshot of it is kept in the repository, so that
//! every change to what goes over the wire shows in review, and the rules the document states
//! beside its schemas (`src/api/rules.rs`) name operations that exist and refusals those
//! operations document.
//!
//! After an intended change: `AMITY_UPDATE_SNAPSHOTS=1 cargo test --test api contract`.

use amity::api::rules::RULES;
use serde_json::Value;

use crate::support::{Backend, TestServer};

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/api/snapshots/openapi.json"
);

#[test]
fn the_served_document_matches_its_snapshot() {
    let srv = TestServer::start(Backend::Sqlite);
    let doc = srv.get("/api/v1/openapi.json").json();
    let served = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("AMITY_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &served).expect("snapshot written");
        return;
    }
    let kept = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    if kept != served {
        let (line, (old, new)) = kept
            .lines()
            .zip(served.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((
                kept.lines().count().min(served.lines().count()),
                ("<end>", "<end>"),
            ));
        panic!(
            "the OpenAPI document changed (first difference at line {}):\n  snapshot: {old}\n  served:   {new}\n\
             Review the change; if it is intended, run \
             `AMITY_UPDATE_SNAPSHOTS=1 cargo test --test api contract` and commit \
             tests/api/snapshots/openapi.json.",
            line + 1
        );
    }
}

/// Whether operation `op` of the OpenAPI document states a rule refusing with `code`.
fn states(op: &Value, code: &str) -> bool {
    op["x-amity-rules"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| {
            r["codes"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c == code))
        })
}

#[test]
fn every_stated_rule_names_a_served_operation_and_a_documented_refusal() {
    let srv = TestServer::start(Backend::Sqlite);
    let doc = srv.get("/api/v1/openapi.json").json();
    let operations: Vec<&Value> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .collect();
    for rule in RULES {
        let op = operations
            .iter()
            .find(|op| op["operationId"] == rule.operation)
            .unwrap_or_else(|| panic!("no operation `{}` is served", rule.operation));
        for code in rule.codes {
            let status = code.http_status().to_string();
            let response = &op["responses"][&status];
            assert!(
                !response.is_null(),
                "`{}` refuses with {code} ({status}) but documents no {status}",
                rule.operation
            );
            let stated = states(op, code.as_str());
            assert!(stated, "`{}` does not state {code}", rule.operation);
            let enumerated =
                doc["components"]["schemas"][format!("Problem{status}")]["allOf"][1]["properties"]
                    ["code"]["enum"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|c| c == code.as_str()));
            assert!(enumerated, "Problem{status} does not list {code}");
        }
    }
}

/// A list that takes a `cursor` refuses a forged one with `invalid_cursor`, so its operation
/// must state that rule (schemathesis finds an unstated one; this finds it sooner).
#[test]
fn every_paged_list_states_its_cursor_rule() {
    let srv = TestServer::start(Backend::Sqlite);
    let doc = srv.get("/api/v1/openapi.json").json();
    let mut paged = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let takes_cursor = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "cursor" && p["in"] == "query");
            if !takes_cursor {
                continue;
            }
            paged += 1;
            let stated = states(op, "invalid_cursor");
            assert!(
                stated,
                "`{}` takes a cursor but does not state invalid_cursor",
                op["operationId"]
            );
        }
    }
    assert!(paged >= 10, "{paged} paged lists");
}
