//! OpenAPI links (`src/api/links.rs`): every operation that takes an id is reachable by a
//! link, every link names real operations, parameters and response fields, and a client
//! following the links over HTTP from an empty registry to a signed MOU gets 200 every time.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::signing::{Signatory, enroll, register, sign_mou, upload};
use crate::support::{Backend, Reply, TestServer, status_body};

/// One operation of the document: method, path template, the operation object.
type Operations = BTreeMap<String, (String, String, Value)>;

fn operations(doc: &Value) -> Operations {
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap().to_string();
            ops.insert(id, (method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

fn params_in<'a>(op: &'a Value, place: &str) -> Vec<&'a Value> {
    op["parameters"]
        .as_array()
        .map(|ps| ps.iter().filter(|p| p["in"] == place).collect())
        .unwrap_or_default()
}

/// The schema at `schema`, with `$ref`s and single-branch `allOf`/`oneOf` wrappers resolved.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return resolve(doc, &doc["components"]["schemas"][name]);
    }
    for wrapper in ["allOf", "oneOf"] {
        if let Some(parts) = schema[wrapper].as_array()
            && let Some(first) = parts
                .iter()
                .find(|p| !p["$ref"].is_null() || p["type"] == "object")
        {
            return resolve(doc, first);
        }
    }
    schema
}

/// Whether the JSON pointer names a field the response schema declares.
fn schema_has(doc: &Value, schema: &Value, pointer: &str) -> bool {
    let mut at = resolve(doc, schema);
    for token in pointer.split('/').skip(1) {
        at = if token.bytes().all(|b| b.is_ascii_digit()) {
            match at.get("items") {
                Some(items) => resolve(doc, items),
                None => return false,
            }
        } else {
            match at["properties"].get(token) {
                Some(field) => resolve(doc, field),
                None => return false,
            }
        };
    }
    true
}

#[test]
fn every_operation_with_an_id_is_the_target_of_a_sound_link() {
    let srv = TestServer::start(Backend::Sqlite);
    let doc = srv.get("/api/v1/openapi.json").json();
    let ops = operations(&doc);
    let mut targets = BTreeSet::new();
    let mut links = 0;
    for (from, (_, _, op)) in &ops {
        for (status, response) in op["responses"].as_object().unwrap() {
            let Some(these) = response["links"].as_object() else {
                continue;
            };
            let schema = &response["content"]["application/json"]["schema"];
            for (name, link) in these {
                links += 1;
                let to = link["operationId"].as_str().unwrap();
                let (_, _, target) = ops
                    .get(to)
                    .unwrap_or_else(|| panic!("{from} {status} {name}: no operation {to}"));
                let given: BTreeMap<&str, &str> = link["parameters"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                    .collect();
                for p in params_in(target, "path") {
                    let p = p["name"].as_str().unwrap();
                    assert!(given.contains_key(p), "{from} {name}: {to} needs {p}");
                }
                let target_params: BTreeSet<&str> = target["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                for (param, expression) in given {
                    assert!(
                        target_params.contains(param),
                        "{from} {name}: {to} has no parameter {param}"
                    );
                    if let Some(own) = expression.strip_prefix("$request.path.") {
                        assert!(
                            params_in(op, "path").iter().any(|p| p["name"] == own),
                            "{from} {name}: {expression} is not a path parameter of {from}"
                        );
                    } else if let Some(pointer) = expression.strip_prefix("$response.body#") {
                        assert!(
                            schema_has(&doc, schema, pointer),
                            "{from} {status} {name}: the response has no {pointer}"
                        );
                    } else {
                        panic!("{from} {name}: unexpected expression {expression}");
                    }
                }
                targets.insert(to.to_string());
            }
        }
    }
    let unreachable: Vec<&String> = ops
        .iter()
        .filter(|(id, (_, _, op))| !params_in(op, "path").is_empty() && !targets.contains(*id))
        .map(|(id, _)| id)
        .collect();
    assert!(
        unreachable.is_empty(),
        "no link reaches {unreachable:?} ({links} links)"
    );
}

/// Follows the links of responses over HTTP and records which operations it reached.
struct Walk<'a> {
    srv: &'a TestServer,
    ops: Operations,
    token: String,
    followed: BTreeSet<String>,
    /// GET operations linked to that need query parameters no link gives (a client fills
    /// them in: `signer` and `key` of a signing statement, say).
    need_input: BTreeSet<String>,
    /// What the walk fills in for them, by operation: a query string.
    input: BTreeMap<&'static str, String>,
}

impl Walk<'_> {
    /// Checks `reply` is the `status` response of `from`, then requests every GET operation
    /// its links point to, with the parameters the links give: each must answer 200.
    fn follow(&mut self, from: &str, status: u16, path: &[(&str, &str)], reply: &Reply) {
        assert_eq!(reply.status, status, "{from}: {}", reply.text());
        let body = reply.json();
        let (_, _, op) = &self.ops[from];
        let links = op["responses"][status.to_string()]["links"]
            .as_object()
            .unwrap_or_else(|| panic!("{from} {status} has no links"))
            .clone();
        for (name, link) in links {
            let to = link["operationId"].as_str().unwrap();
            let (method, template, target) = self.ops[to].clone();
            let mut url = template.clone();
            let mut query = Vec::new();
            for (param, expression) in link["parameters"].as_object().unwrap() {
                let expression = expression.as_str().unwrap();
                let value = evaluate(expression, path, &body)
                    .unwrap_or_else(|| panic!("{from} {name}: {expression} is empty in {body}"));
                if url.contains(&format!("{{{param}}}")) {
                    url = url.replace(&format!("{{{param}}}"), &value);
                } else {
                    query.push(format!("{param}={value}"));
                }
            }
            if let Some(input) = self.input.get(to) {
                query.push(input.clone());
            }
            let needs_more = params_in(&target, "query").iter().any(|p| {
                p["required"] == true
                    && !query
                        .iter()
                        .any(|q| q.starts_with(&format!("{}=", p["name"].as_str().unwrap())))
            });
            if method != "get" {
                continue;
            }
            if needs_more {
                self.need_input.insert(to.to_string());
                continue;
            }
            if !query.is_empty() {
                url = format!("{url}?{}", query.join("&"));
            }
            let r = self.srv.get_as(&url, &self.token);
            assert_eq!(r.status, 200, "{from} -> {name}: GET {url}: {}", r.text());
            self.followed.insert(to.to_string());
        }
    }
}

/// A link's runtime expression, from the request's path parameters or the response body.
fn evaluate(expression: &str, path: &[(&str, &str)], body: &Value) -> Option<String> {
    if let Some(name) = expression.strip_prefix("$request.path.") {
        return path
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string());
    }
    match body.pointer(expression.strip_prefix("$response.body#")?)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn links_lead_to_what_they_promise(backend: Backend) {
    let srv = TestServer::start(backend);
    let admin = srv.admin();
    let doc = srv.get("/api/v1/openapi.json").json();
    let mut walk = Walk {
        srv: &srv,
        ops: operations(&doc),
        token: admin.clone(),
        followed: BTreeSet::new(),
        need_input: BTreeSet::new(),
        input: BTreeMap::new(),
    };

    // Cities and offices.
    let body =
        json!({"code": "us-hou", "name": "Houston", "country": "US", "lat": 29.76, "lon": -95.37});
    let created_city = srv.post("/api/v1/admin/cities", Some(&admin), &body);
    srv.city(&admin, "cn-sha", "Shanghai");
    walk.follow("list_cities", 200, &[], &srv.get("/api/v1/cities"));
    let body = json!({"city": "us-hou", "name": "International Affairs of Houston"});
    let r = srv.post("/api/v1/admin/offices", Some(&admin), &body);
    walk.follow("create_office", 201, &[], &r);
    let office = r.json()["id"].as_str().unwrap().to_string();
    let r = srv.post(
        "/api/v1/admin/tokens",
        Some(&admin),
        &json!({"role": "office", "office": office}),
    );
    walk.follow("create_token", 201, &[], &r);
    let houston = r.json()["token"].as_str().unwrap().to_string();
    // The city's links include its key-registration challenge, which only its office may
    // fetch: followed with the office's token.
    walk.token = houston.clone();
    walk.follow("create_city", 201, &[], &created_city);
    // Houston's webhook endpoint, read by its office.
    let body = json!({"url": "https://hooks.example.org/amity", "event_types": ["mou.executed"]});
    let r = srv.post("/api/v1/cities/us-hou/webhooks", Some(&houston), &body);
    walk.follow("register_webhook", 201, &[("code", "us-hou")], &r);
    let r = srv.get_as("/api/v1/cities/us-hou/webhooks", &houston);
    walk.follow("list_webhooks", 200, &[("code", "us-hou")], &r);
    walk.token = admin.clone();
    let shanghai = srv.office(&admin, "cn-sha");
    // A named group of the two cities.
    let body = json!({"name": "Houston and Shanghai", "cities": ["us-hou", "cn-sha"]});
    let r = srv.post("/api/v1/city-groups", Some(&admin), &body);
    walk.follow("create_group", 201, &[], &r);
    walk.follow("list_groups", 200, &[], &srv.get("/api/v1/city-groups"));

    // A partnership, confirmed.
    let body = json!({"cities": ["us-hou", "cn-sha"], "kind": "sister", "established": "1979"});
    let r = srv.post("/api/v1/partnerships", Some(&houston), &body);
    walk.follow("create_partnership", 201, &[], &r);
    let partnership = r.json()["id"].as_str().unwrap().to_string();
    let r = srv.post(
        &format!("/api/v1/partnerships/{partnership}/confirm"),
        Some(&shanghai),
        &json!({}),
    );
    walk.follow("confirm", 200, &[("id", &partnership)], &r);
    walk.follow(
        "list_partnerships",
        200,
        &[],
        &srv.get("/api/v1/partnerships"),
    );

    // An activity with evidence.
    let activities = format!("/api/v1/partnerships/{partnership}/activities");
    let body = json!({"kind": "delegation", "mode": "virtual", "start_date": "2021-05-14"});
    let r = srv.post(&activities, Some(&houston), &body);
    walk.follow("record", 201, &[("id", &partnership)], &r);
    let activity = r.json()["id"].as_str().unwrap().to_string();
    let r = srv.send(
        "POST",
        &format!("/api/v1/activities/{activity}/evidence?filename=minutes.txt"),
        Some(&houston),
        Some(("text/plain; charset=utf-8", b"Minutes of the call".to_vec())),
    );
    walk.follow("add_evidence", 201, &[("id", &activity)], &r);
    let r = srv.get(&activities);
    walk.follow("list_activities", 200, &[("id", &partnership)], &r);
    let r = srv.get_as(&format!("/api/v1/activities/{activity}/evidence"), &admin);
    walk.follow("list_evidence", 200, &[("id", &activity)], &r);

    // Signatory keys.
    let mut mayor = Signatory::new(61, "mayor@us-hou", &houston);
    let r = register(&srv, &mayor);
    walk.follow("register", 201, &[("code", "us-hou")], &r);
    mayor.key_id = r.json()["id"].as_str().unwrap().to_string();
    let approve = srv.post(
        &format!("/api/v1/keys/{}/approve", mayor.key_id),
        Some(&admin),
        &json!({}),
    );
    assert_eq!(approve.status, 200, "{}", approve.text());
    let mut other = Signatory::new(62, "mayor@cn-sha", &shanghai);
    enroll(&srv, &admin, &mut other);
    let r = srv.get("/api/v1/cities/us-hou/keys");
    walk.follow("list_keys", 200, &[("code", "us-hou")], &r);
    // A signing statement is asked for one signer or key, which no link can know.
    walk.input
        .insert("signing_statement", "signer=mayor%40us-hou".to_string());

    // An MOU: a version, both signatures, executed.
    let body =
        json!({"partnership": partnership, "title": "Memorandum of Understanding on Friendship"});
    let r = srv.post("/api/v1/mous", Some(&houston), &body);
    walk.follow("create_mou", 201, &[], &r);
    let mou = r.json()["id"].as_str().unwrap().to_string();
    let r = upload(
        &srv,
        &houston,
        &mou,
        b"The cities agree to exchange students.",
    );
    walk.follow("upload", 201, &[("id", &mou)], &r);
    // Both mayors asked at once; a decline statement needs the signatory's reason.
    walk.input.insert(
        "decline_statement",
        "reason=Not%20yet%20approved".to_string(),
    );
    let deadline = chrono::Utc::now() + chrono::Duration::days(10);
    let body = json!({"deadline": deadline.to_rfc3339(), "requests": [
        {"signer": "mayor@us-hou"}, {"signer": "mayor@cn-sha"}
    ]});
    let r = srv.post(
        &format!("/api/v1/mous/{mou}/signature-requests"),
        Some(&houston),
        &body,
    );
    walk.follow("send_signature_requests", 201, &[("id", &mou)], &r);
    // Shanghai's mayor (the first request) gets a signing link from their office; its page
    // asks for a statement with the key the signatory holds.
    let request = r.json()["requests"][0]["id"].as_str().unwrap().to_string();
    let r = srv.post(
        &format!("/api/v1/mous/{mou}/signature-requests/{request}/signing-link"),
        Some(&shanghai),
        &json!({}),
    );
    walk.follow(
        "signing_link",
        200,
        &[("id", &mou), ("request", &request)],
        &r,
    );
    let token = r.json()["token"].as_str().unwrap().to_string();
    walk.input.insert(
        "signing_link_statement",
        format!(
            "key={}",
            url::form_urlencoded::byte_serialize(other.fingerprint().as_bytes())
                .collect::<String>()
        ),
    );
    let r = srv.get(&format!("/api/v1/signing/{token}"));
    walk.follow("open_signing_link", 200, &[("token", &token)], &r);
    walk.follow(
        "submit",
        201,
        &[("id", &mou)],
        &sign_mou(&srv, &mayor, &mou),
    );
    walk.follow(
        "submit",
        201,
        &[("id", &mou)],
        &sign_mou(&srv, &other, &mou),
    );
    walk.follow("list_mous", 200, &[], &srv.get("/api/v1/mous"));

    // A second MOU, withdrawn; then a status change.
    let body = json!({"partnership": partnership, "title": "Protocol on Culture"});
    let second = srv.post("/api/v1/mous", Some(&houston), &body).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = srv.post(
        &format!("/api/v1/mous/{second}/withdraw"),
        Some(&houston),
        &json!({"reason": "Merged into the friendship MOU"}),
    );
    walk.follow("withdraw", 200, &[("id", &second)], &r);
    let r = srv.post(
        &format!("/api/v1/partnerships/{partnership}/status"),
        Some(&shanghai),
        &status_body("curtailed", Some("Consulate closures")),
    );
    walk.follow("change_status", 201, &[("id", &partnership)], &r);
    walk.follow("entries", 200, &[], &srv.get("/api/v1/log/entries"));

    // Every GET operation a link points to was reached by following one.
    let linked_gets: BTreeSet<String> = walk
        .ops
        .values()
        .flat_map(|(_, _, op)| {
            op["responses"]
                .as_object()
                .into_iter()
                .flat_map(|r| r.values())
                .filter_map(|r| r["links"].as_object())
                .flat_map(|l| l.values())
                .filter_map(|l| l["operationId"].as_str())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|to| walk.ops[to].0 == "get")
        .collect();
    let missed: Vec<&String> = linked_gets
        .difference(&walk.followed)
        .filter(|to| !walk.need_input.contains(*to))
        .collect();
    assert!(missed.is_empty(), "never followed a link to {missed:?}");
}

crate::on_both_backends!(links_lead_to_what_they_promise);
