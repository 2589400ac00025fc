//! Health, metrics, the OpenAPI document and migrations.

use serde_json::json;

use crate::both_backends;
use crate::support::World;

both_backends!(health_and_metrics, |srv| {
    let h = srv.get("/healthz");
    assert_eq!(h.status, 200);
    let backend = match srv.backend() {
        crate::support::Backend::Sqlite => "sqlite",
        crate::support::Backend::Postgres => "postgres",
    };
    assert_eq!(
        h.json(),
        json!({"status": "ok", "database": backend, "log_size": 0})
    );
    World::build(&srv);
    srv.get("/api/v1/partnerships/none");
    let m = srv.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    let text = m.text();
    assert!(text.contains(
        "amity_http_requests_total{method=\"POST\",route=\"/api/v1/admin/cities\",status=\"201\"} 3"
    ), "{text}");
    assert!(text.contains(
        "amity_http_requests_total{method=\"GET\",route=\"/api/v1/partnerships/{id}\",status=\"404\"} 1"
    ), "{text}");
    assert!(
        text.contains("amity_http_request_duration_seconds_bucket"),
        "{text}"
    );
    let size = srv.log_size();
    assert!(text.contains(&format!("amity_log_size {size}")), "{text}");
});

both_backends!(openapi_lists_every_route, |srv| {
    let doc = srv.get("/api/v1/openapi.json");
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    // Every route the design names for this part of the API is documented...
    let expected = [
        ("get", "/healthz"),
        ("get", "/metrics"),
        ("get", "/api/v1/openapi.json"),
        ("post", "/api/v1/admin/cities"),
        ("get", "/api/v1/cities"),
        ("get", "/api/v1/cities/{code}"),
        ("get", "/api/v1/cities/{code}/dormant-partnerships"),
        ("get", "/api/v1/briefings"),
        ("post", "/api/v1/admin/offices"),
        ("post", "/api/v1/admin/tokens"),
        ("delete", "/api/v1/admin/tokens/{id}"),
        ("post", "/api/v1/partnerships"),
        ("get", "/api/v1/partnerships"),
        ("get", "/api/v1/partnerships/{id}"),
        ("get", "/api/v1/partnerships/{id}/history"),
        ("post", "/api/v1/partnerships/{id}/confirm"),
        ("post", "/api/v1/partnerships/{id}/status"),
        ("get", "/api/v1/log/entries/{index}"),
        ("get", "/api/v1/log/entries"),
        ("get", "/api/v1/log/checkpoint"),
        ("get", "/api/v1/log/key"),
        ("get", "/api/v1/log/proof/inclusion"),
        ("get", "/api/v1/log/proof/consistency"),
        ("post", "/api/v1/admin/import"),
        ("post", "/api/v1/partnerships/{id}/activities"),
        ("get", "/api/v1/partnerships/{id}/activities"),
        ("get", "/api/v1/metrics/engagement"),
        ("get", "/api/v1/metrics/results"),
        ("post", "/api/v1/activities/{id}/evidence"),
        ("get", "/api/v1/activities/{id}/evidence"),
        ("get", "/api/v1/activities/{id}/evidence/{n}"),
        (
            "post",
            "/api/v1/partnerships/{id}/activities/{activity}/outcomes",
        ),
        ("get", "/api/v1/partnerships/{id}/outcomes"),
        (
            "post",
            "/api/v1/partnerships/{id}/activities/{activity}/commitments",
        ),
        ("get", "/api/v1/partnerships/{id}/commitments"),
        (
            "post",
            "/api/v1/partnerships/{id}/commitments/{commitment}/resolution",
        ),
        ("get", "/api/v1/cities/{code}/overdue-commitments"),
        ("post", "/api/v1/city-groups"),
        ("get", "/api/v1/city-groups"),
        ("get", "/api/v1/city-groups/{id}"),
        ("put", "/api/v1/city-groups/{id}"),
        ("get", "/api/v1/cities/{code}/briefing"),
        ("get", "/api/v1/cities/{code}/keys/challenge"),
        ("post", "/api/v1/cities/{code}/keys"),
        ("get", "/api/v1/cities/{code}/keys"),
        ("get", "/api/v1/keys/{id}"),
        ("post", "/api/v1/keys/{id}/approve"),
        ("post", "/api/v1/keys/{id}/retire"),
        ("post", "/api/v1/keys/{id}/revoke"),
        ("post", "/api/v1/mous"),
        ("get", "/api/v1/mous"),
        ("get", "/api/v1/mous/{id}"),
        ("post", "/api/v1/mous/{id}/versions"),
        ("get", "/api/v1/mous/{id}/versions/{n}/document"),
        ("get", "/api/v1/mous/{id}/versions/{n}/documents/{p}"),
        ("post", "/api/v1/mous/{id}/withdraw"),
        ("get", "/api/v1/mous/{id}/signing-statement"),
        ("post", "/api/v1/mous/{id}/signatures"),
        ("get", "/api/v1/mous/{id}/chain"),
        ("get", "/api/v1/signatures"),
        ("get", "/api/v1/mous/{id}/audit"),
        ("get", "/api/v1/mous/{id}/bundle"),
        ("post", "/api/v1/mous/{id}/signature-requests"),
        ("get", "/api/v1/mous/{id}/signature-requests"),
        ("get", "/api/v1/mous/{id}/signature-requests/{request}"),
        (
            "get",
            "/api/v1/mous/{id}/signature-requests/{request}/decline-statement",
        ),
        (
            "post",
            "/api/v1/mous/{id}/signature-requests/{request}/decline",
        ),
        ("post", "/api/v1/mous/{id}/cancel-requests"),
        (
            "post",
            "/api/v1/mous/{id}/signature-requests/{request}/signing-link",
        ),
        ("get", "/api/v1/signing/{token}"),
        ("get", "/api/v1/signing/{token}/statement"),
        ("get", "/api/v1/signing/{token}/key-challenge"),
        ("post", "/api/v1/signing/{token}/keys"),
        ("post", "/api/v1/signing/{token}/answer"),
        ("get", "/api/v1/signing/{token}/documents/{p}"),
        ("post", "/api/v1/cities/{code}/webhooks"),
        ("get", "/api/v1/cities/{code}/webhooks"),
        ("get", "/api/v1/webhooks/{id}"),
        ("post", "/api/v1/webhooks/{id}/rotate-secret"),
        ("post", "/api/v1/webhooks/{id}/enabled"),
        ("get", "/api/v1/webhooks/{id}/messages"),
        ("post", "/api/v1/webhooks/{id}/messages/{message}/resend"),
        ("post", "/api/v1/cities/{code}/contacts/{signer}"),
        ("get", "/api/v1/cities/{code}/contacts"),
    ];
    for (method, path) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    // ...and every documented operation is served (it never answers "no such route").
    let mut operations = 0;
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            operations += 1;
            let concrete = path
                .replace("{code}", "us-hou")
                .replace("{id}", "some-id")
                .replace("{index}", "0")
                .replace("{n}", "1")
                .replace("{request}", "some-request")
                .replace("{message}", "msg_x")
                .replace("{signer}", "mayor@us-hou");
            let r = srv.send(&method.to_uppercase(), &concrete, None, None);
            let routed = !(r.status == 404 && r.text().contains("\"code\":\"not_found\""))
                && r.status != 405;
            assert!(
                routed,
                "{method} {path} is documented but not served: {}",
                r.text()
            );
            // Every operation documents its responses.
            assert!(
                item[method]["responses"]
                    .as_object()
                    .is_some_and(|m| !m.is_empty())
            );
        }
    }
    assert_eq!(
        operations,
        expected.len(),
        "undocumented extras or missing operations"
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
});

both_backends!(openapi_documents_errors_as_served, |srv| {
    let doc = srv.get("/api/v1/openapi.json").json();
    let problem = json!({"$ref": "#/components/schemas/Problem"});
    let mut problems = 0;
    // Every code of a per-status schema is answered with that status.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let Some(status) = name
            .strip_prefix("Problem")
            .and_then(|s| s.parse::<u16>().ok())
        else {
            continue;
        };
        let codes = schema["allOf"][1]["properties"]["code"]["enum"]
            .as_array()
            .unwrap();
        for code in codes {
            let code = code.as_str().unwrap();
            let known = amity::domain::ErrorCode::ALL
                .iter()
                .any(|c| c.as_str() == code && c.http_status() == status);
            assert!(
                known,
                "{name} lists `{code}`, which is not answered with {status}"
            );
        }
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            // Errors are served as problem+json, so that is what the document says.
            for (status, response) in responses {
                let content = &response["content"];
                if content["application/json"]["schema"] == problem {
                    panic!("{method} {path} {status}: Problem documented as application/json");
                }
                // Each status has its own problem schema, `Problem` narrowed to the codes
                // answered with that status.
                let per_status = json!({"$ref": format!("#/components/schemas/Problem{status}")});
                if content["application/problem+json"]["schema"] == per_status {
                    problems += 1;
                }
            }
            // What the framework refuses before a handler runs is documented too.
            let takes_input = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
            let has_body = op.get("requestBody").is_some();
            if takes_input || has_body {
                assert!(responses.contains_key("400"), "{method} {path}: no 400");
            }
            if has_body {
                for status in ["413", "415"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path}: no {status}"
                    );
                }
            }
        }
    }
    assert!(
        problems > 100,
        "only {problems} problem responses documented"
    );
    // The problem's `code` is the closed list of codes (docs/errors.md)...
    let codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap_or_else(|| {
            panic!(
                "Problem.code lists no codes: {}",
                doc["components"]["schemas"]["Problem"]
            )
        });
    for code in [
        "invalid_query",
        "write_queue_full",
        "writer_stopped",
        "office_required",
    ] {
        assert!(codes.contains(&json!(code)), "{code} not in {codes:?}");
    }
    // ...and every write through group commit documents its 503 with Retry-After.
    for (path, method) in [
        ("/api/v1/partnerships", "post"),
        ("/api/v1/mous/{id}/signatures", "post"),
        ("/api/v1/admin/tokens/{id}", "delete"),
    ] {
        let unavailable = &doc["paths"][path][method]["responses"]["503"];
        assert_eq!(
            unavailable["content"]["application/problem+json"]["schema"],
            json!({"$ref": "#/components/schemas/Problem503"}),
            "{method} {path}"
        );
        assert!(
            unavailable["headers"]["Retry-After"].is_object(),
            "{method} {path}: {unavailable}"
        );
    }
    // And a real error matches: a malformed query answers 400 problem+json where documented.
    let r = srv.get("/api/v1/log/entries?start=x");
    r.assert_problem(400, "invalid_query");
});

#[test]
fn both_migration_sets_list_the_same_versions() {
    use amity::db::{Backend, migrations};
    let sqlite = migrations::names(Backend::Sqlite).unwrap();
    let postgres = migrations::names(Backend::Postgres).unwrap();
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
}

/// Every parameter sits where the document says: a `Path` parameter is a `{name}` of its
/// template and every `{name}` has one, so `filename`, `signer` and `key` (query strings) can
/// no longer come out as path parameters; and operation ids are unique. CI also runs
/// openapi-spec-validator on the served document.
#[test]
fn openapi_parameters_are_where_they_are_sent() {
    let srv = crate::support::TestServer::start(crate::support::Backend::Sqlite);
    let doc = srv.get("/api/v1/openapi.json").json();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let template: std::collections::BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let mut in_path = std::collections::BTreeSet::new();
            for p in &params {
                let name = p["name"].as_str().unwrap();
                match p["in"].as_str().unwrap() {
                    "path" => {
                        assert!(
                            template.contains(name),
                            "{method} {path}: path parameter {name}"
                        );
                        assert_eq!(
                            p["required"], true,
                            "{method} {path}: {name} must be required"
                        );
                        in_path.insert(name);
                    }
                    "query" => assert!(!template.contains(name), "{method} {path}: {name}"),
                    other => panic!("{method} {path}: {name} in {other}"),
                }
                checked += 1;
            }
            assert_eq!(in_path, template, "{method} {path}: path parameters");
        }
    }
    assert!(checked > 40, "only {checked} parameters");
    // Operation ids name operations, so no two may share one (the validator refuses that too).
    let mut ids = std::collections::BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"]
                .as_str()
                .expect("every operation has an id");
            assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
        }
    }
    // The three that were wrong, by name.
    let query = |path: &str, method: &str, name: &str| {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == name && p["in"] == "query")
    };
    assert!(query("/api/v1/mous/{id}/versions", "post", "filename"));
    assert!(query(
        "/api/v1/activities/{id}/evidence",
        "post",
        "filename"
    ));
    assert!(query(
        "/api/v1/mous/{id}/signing-statement",
        "get",
        "signer"
    ));
    assert!(query("/api/v1/mous/{id}/signing-statement", "get", "key"));
}
