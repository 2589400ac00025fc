//! The API reference page (`/api/docs`, src/web/reference.rs): drawn from the served OpenAPI
//! document, it has an anchor for every operation and lists every error code, keeps the site's
//! Content-Security-Policy with no script or inline style, and renders any JSON without
//! panicking.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::support::{Backend, TestServer};

/// The site's policy, as `src/web/layout.rs` sets it on every page.
const SITE_CSP: &str =
    "default-src 'self'; img-src 'self'; style-src 'self'; frame-ancestors 'none'";

fn operation_ids(doc: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            ids.push(op["operationId"].as_str().unwrap().to_string());
        }
    }
    ids
}

/// The codes of `Problem.code`, through a `$ref` if the document names the enum apart.
fn error_codes(doc: &Value) -> Vec<String> {
    let schemas = &doc["components"]["schemas"];
    let mut code = &schemas["Problem"]["properties"]["code"];
    if let Some(r) = code["$ref"].as_str() {
        code = &schemas[r.trim_start_matches("#/components/schemas/")];
    }
    code["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

/// The operations each response links to.
fn link_targets(doc: &Value) -> Vec<String> {
    let mut targets = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for response in op["responses"].as_object().unwrap().values() {
                for link in response["links"]
                    .as_object()
                    .into_iter()
                    .flat_map(Map::values)
                {
                    targets.push(link["operationId"].as_str().unwrap().to_string());
                }
            }
        }
    }
    targets
}

#[test]
fn reference_has_every_operation_and_error_code_under_the_site_policy() {
    let srv = TestServer::start(Backend::Sqlite);
    let doc = srv.get("/api/v1/openapi.json").json();
    let r = srv.get("/api/docs");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(r.header("content-security-policy"), Some(SITE_CSP));
    let home = srv.get("/");
    assert_eq!(
        home.header("content-security-policy"),
        r.header("content-security-policy"),
        "the reference keeps the site's policy"
    );
    assert!(home.text().contains(r#"<a href="/api/docs">API</a>"#));

    let page = r.text();
    let lower = page.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "no script on the page");
    assert!(!lower.contains("style=\""), "no inline style on the page");
    assert!(!lower.contains("<style"), "no style element on the page");
    assert!(page.contains(r#"href="/api/v1/openapi.json""#));
    assert!(page.contains(r#"href="/assets/amity.css""#));

    let ids = operation_ids(&doc);
    assert!(ids.len() > 40, "{ids:?}");
    for id in &ids {
        assert!(
            page.contains(&format!(r#"id="{id}""#)),
            "no anchor for {id}"
        );
    }
    let codes = error_codes(&doc);
    assert!(codes.len() > 50, "{codes:?}");
    for code in &codes {
        assert!(
            page.contains(&format!(r#"id="error-{code}""#)),
            "no row for error code {code}"
        );
    }
    let targets = link_targets(&doc);
    assert!(!targets.is_empty());
    for target in &targets {
        assert!(
            page.contains(&format!(r##"href="#{target}""##)),
            "no link to {target}"
        );
    }
    // A request body is drawn as its fields, and a status's problem names its codes.
    assert!(page.contains(r#"<code class="name">cities</code>"#));
    assert!(page.contains("city_not_found"));
}

/// Documents of every wrong shape: missing and mistyped fields, references to nowhere, out of
/// the document and in cycles, a schema that fans out at every level, and deep nesting.
fn hostile_documents() -> Vec<Value> {
    let cyclic = json!({
        "A": {"$ref": "#/components/schemas/B"},
        "B": {"$ref": "#/components/schemas/A"},
        "Self": {"type": "object", "required": ["me"], "properties": {
            "me": {"$ref": "#/components/schemas/Self"},
            "list": {"type": "array", "items": {"$ref": "#/components/schemas/Self"}},
            "either": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Self"}]},
        }},
        "Merge": {"allOf": [{"$ref": "#/components/schemas/Merge"}, {"$ref": "#/components/schemas/A"}]},
        "Any": {"anyOf": [{"$ref": "#/components/schemas/Any"}, {"oneOf": [{"$ref": "#/components/schemas/Any"}]}]},
    });
    let odd_op = json!({
        "operationId": "<script>alert(1)</script>",
        "tags": "not a list",
        "security": [1, {"bearer": 3}, {}],
        "parameters": [7, {"name": 5, "in": ["query"], "schema": {"type": 9, "enum": "x", "minLength": "ten"}}, {"$ref": "#/nowhere"}],
        "requestBody": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Self"}, "examples": {"e": {"$ref": "#/components/schemas/A"}}},
            "text/plain": {"schema": {"$ref": "https://evil.example/schema.json"}, "example": {"deep": [1, {"x": null}]}},
            "odd": "not an object",
        }},
        "responses": {
            "200": {"description": 5, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Merge"}}},
                    "headers": {"X": 1, "Y": {"schema": {"$ref": "#"}}},
                    "links": {"L": {"operationId": ["a"]}, "M": {"operationRef": "#/paths/~1a/get"}, "N": 4}},
            "default": {"$ref": "#/components/schemas/A"},
            "500": [],
        },
    });
    vec![
        Value::Null,
        json!(42),
        json!("a string"),
        json!([1, 2, 3]),
        json!({}),
        json!({"paths": 5, "components": "x", "info": [], "tags": {"a": 1}}),
        json!({"paths": {"/a": 7, "/b": {"get": 7, "parameters": "no"}}}),
        json!({"paths": {"/a": {"$ref": "#/paths/~1a"}}}),
        json!({"info": {"title": "<b>t</b>", "description": "`odd ``"},
               "paths": {"/a": {"post": odd_op, "parameters": [{"name": "x", "in": "query"}]}},
               "components": {"schemas": cyclic, "securitySchemes": {"bearer": {"type": 5}}}}),
        json!({"components": {"schemas": {"Problem": {"$ref": "#/components/schemas/Problem"}, "ErrorCode": {"enum": [1, null, "ok"]}}}}),
        fan_out(),
        deep(500),
    ]
}

/// Six schemas, each with 60 fields that all refer to the next, and the last to the first:
/// expanded naively, 60^6 fields.
fn fan_out() -> Value {
    let mut schemas = Map::new();
    for i in 0..6 {
        let next = format!("#/components/schemas/S{}", (i + 1) % 6);
        let fields: Map<String, Value> = (0..60)
            .map(|f| (format!("f{f}"), json!({"$ref": next})))
            .collect();
        schemas.insert(
            format!("S{i}"),
            json!({"type": "object", "properties": fields, "allOf": [{"$ref": next}], "oneOf": [{"$ref": next}, {"$ref": next}]}),
        );
    }
    json!({
        "paths": {"/x": {"post": {"operationId": "x", "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}}}}}},
        "components": {"schemas": schemas},
    })
}

/// A request body schema nested `levels` objects deep.
fn deep(levels: usize) -> Value {
    let mut schema = json!({"type": "string"});
    for level in 0..levels {
        schema = if level % 2 == 0 {
            json!({"type": "object", "properties": {"inner": schema}})
        } else {
            json!({"type": "array", "items": {"oneOf": [schema]}})
        };
    }
    json!({"paths": {"/deep": {"put": {"operationId": "deep", "requestBody": {"content": {"application/json": {"schema": schema}}}}}}})
}

#[test]
fn reference_renders_hostile_documents_without_panicking() {
    for doc in hostile_documents() {
        let started = Instant::now();
        let page = amity::web::reference::render(&doc);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "rendering took {:?}",
            started.elapsed()
        );
        assert!(page.len() < 64 << 20, "page of {} bytes", page.len());
        assert!(
            !page.contains("<script") && !page.contains("<b>"),
            "unescaped"
        );
    }
    let escaped = amity::web::reference::render(&hostile_documents()[8]);
    assert!(
        escaped.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{escaped}"
    );
}
