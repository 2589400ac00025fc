//! The examples of the OpenAPI document (`src/api/examples.json`, served in the document's
//! `example` members) are real: they are the requests and replies of a walk through every
//! operation, Coventry and Volgograd's twinning from its registration to its suspension in
//! 2022. This test runs that walk, checks every reply it gets against the schema the document
//! gives it, and checks that the served examples cover every operation and match their
//! schemas too. `AMITY_WRITE_EXAMPLES=1 cargo test --test api examples` writes the file anew
//! from the walk (docs/api.md).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::signing::{Signatory, decline_request, enroll, register, sign_mou, statement, upload};
use crate::support::{Backend, Exchange, TestServer, status_body};

const EXAMPLES_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/examples.json");

/// The walk: every operation of the API, answered with success.
fn walk(srv: &TestServer) {
    let ok = |r: crate::support::Reply, status: u16| {
        assert_eq!(r.status, status, "{}", r.text());
        r
    };
    let admin = srv.admin();
    ok(srv.get("/healthz"), 200);
    ok(srv.get("/api/v1/openapi.json"), 200);
    let city = |body: Value| ok(srv.post("/api/v1/admin/cities", Some(&admin), &body), 201);
    city(
        json!({"code": "gb-cov", "name": "Coventry", "country": "GB", "region": "GB-COV",
        "wikidata": "Q58130", "geonames_id": 2652221, "unlocode": "GBCOV",
        "lat": 52.4068, "lon": -1.5197}),
    );
    city(
        json!({"code": "ru-vgg", "name": "Volgograd", "country": "RU", "wikidata": "Q914",
        "lat": 48.708, "lon": 44.5133}),
    );
    ok(srv.get("/api/v1/cities?country=GB&limit=10"), 200);
    ok(srv.get("/api/v1/cities/gb-cov"), 200);
    let office = |city: &str, name: &str| {
        let r = srv.post(
            "/api/v1/admin/offices",
            Some(&admin),
            &json!({"city": city, "name": name}),
        );
        let id = ok(r, 201).json()["id"].as_str().unwrap().to_string();
        let body = json!({"role": "office", "office": id, "expires_at": "2030-12-31"});
        let r = ok(srv.post("/api/v1/admin/tokens", Some(&admin), &body), 201);
        r.json()["token"].as_str().unwrap().to_string()
    };
    let coventry = office("gb-cov", "Coventry City Council, International Relations");
    let volgograd = office("ru-vgg", "Volgograd City Administration, Foreign Relations");
    let r = srv.post(
        "/api/v1/admin/tokens",
        Some(&admin),
        &json!({"role": "auditor"}),
    );
    let auditor_id = ok(r, 201).json()["id"].as_str().unwrap().to_string();
    ok(
        srv.send(
            "DELETE",
            &format!("/api/v1/admin/tokens/{auditor_id}"),
            Some(&admin),
            None,
        ),
        200,
    );

    // Coventry's office hears about its MOUs and partnerships at its own endpoint.
    let body = json!({"url": "https://hooks.coventry.example/amity",
        "event_types": ["signature_request.sent", "signature_request.declined", "mou.executed",
            "partnership.status_changed"]});
    let r = ok(
        srv.post("/api/v1/cities/gb-cov/webhooks", Some(&coventry), &body),
        201,
    );
    let hook = r.json()["endpoint"]["id"].as_str().unwrap().to_string();

    // The twinning: proposed by Coventry, confirmed by Volgograd.
    let body = json!({"cities": ["gb-cov", "ru-vgg"], "kind": "sister", "established": "1944"});
    let r = ok(
        srv.post("/api/v1/partnerships", Some(&coventry), &body),
        201,
    );
    let tie = r.json()["id"].as_str().unwrap().to_string();
    ok(
        srv.post(
            &format!("/api/v1/partnerships/{tie}/confirm"),
            Some(&volgograd),
            &json!({}),
        ),
        200,
    );
    ok(srv.get("/api/v1/partnerships?city=gb-cov"), 200);
    ok(srv.get(&format!("/api/v1/partnerships/{tie}")), 200);

    // A virtual meeting, with its minutes as evidence.
    let body = json!({"kind": "virtual_meeting", "mode": "virtual", "start_date": "2021-05-14",
        "participants": 40, "outcome": "Joint programme for the 80th anniversary of the twinning",
        "organisations": [{"name": "Coventry Cathedral", "sector": "cultural"},
                          {"name": "Coventry University", "sector": "university"}],
        "cost": "1800.00", "cost_currency": "GBP"});
    let r = ok(
        srv.post(
            &format!("/api/v1/partnerships/{tie}/activities"),
            Some(&coventry),
            &body,
        ),
        201,
    );
    let activity = r.json()["id"].as_str().unwrap().to_string();
    ok(
        srv.send(
            "POST",
            &format!("/api/v1/activities/{activity}/evidence?filename=minutes.txt"),
            Some(&coventry),
            Some((
                "text/plain; charset=utf-8",
                b"Minutes of the anniversary call, 14 May 2021".to_vec(),
            )),
        ),
        201,
    );
    ok(
        srv.get(&format!("/api/v1/partnerships/{tie}/activities")),
        200,
    );
    ok(
        srv.get_as(
            &format!("/api/v1/activities/{activity}/evidence"),
            &coventry,
        ),
        200,
    );
    ok(
        srv.get_as(
            &format!("/api/v1/activities/{activity}/evidence/1"),
            &coventry,
        ),
        200,
    );
    ok(srv.get("/api/v1/metrics/engagement?city=gb-cov"), 200);
    // What the meeting produced and promised, and how the promise ended.
    ok(
        srv.post(
            &format!("/api/v1/partnerships/{tie}/activities/{activity}/outcomes"),
            Some(&coventry),
            &json!({"indicator": "people_reached", "achieved_on": "2021-05-14", "count": 1200,
                    "description": "Anniversary concert streamed in both cities", "evidence": [1]}),
        ),
        201,
    );
    ok(
        srv.get(&format!("/api/v1/partnerships/{tie}/outcomes")),
        200,
    );
    let r = ok(
        srv.post(
            &format!("/api/v1/partnerships/{tie}/activities/{activity}/commitments"),
            Some(&coventry),
            &json!({"text": "Exchange of 12 school choirs by December 2021", "due_date": "2021-12-31"}),
        ),
        201,
    );
    let commitment = r.json()["id"].as_str().unwrap().to_string();
    ok(srv.get("/api/v1/cities/gb-cov/overdue-commitments"), 200);
    ok(
        srv.post(
            &format!("/api/v1/partnerships/{tie}/commitments/{commitment}/resolution"),
            Some(&coventry),
            &json!({"result": "not_kept", "resolved_on": "2022-03-01",
                    "note": "The exchange was called off when the twinning was suspended"}),
        ),
        201,
    );
    ok(
        srv.get(&format!("/api/v1/partnerships/{tie}/commitments")),
        200,
    );
    ok(srv.get("/api/v1/metrics/results?city=gb-cov"), 200);

    // The mayors' keys, registered with proof of possession and approved.
    let mut mayor_cov = Signatory::new(71, "mayor@gb-cov", &coventry);
    let mut mayor_vgg = Signatory::new(72, "mayor@ru-vgg", &volgograd);
    enroll(srv, &admin, &mut mayor_cov);
    enroll(srv, &admin, &mut mayor_vgg);
    ok(srv.get("/api/v1/cities/gb-cov/keys"), 200);
    // Where the mayor hears of signing requests: kept by the office, out of the public log.
    ok(
        srv.post(
            "/api/v1/cities/gb-cov/contacts/mayor@gb-cov",
            Some(&coventry),
            &json!({"email": "lord.mayor@coventry.example"}),
        ),
        200,
    );
    ok(srv.get_as("/api/v1/cities/gb-cov/contacts", &coventry), 200);
    ok(srv.get(&format!("/api/v1/keys/{}", mayor_cov.key_id)), 200);

    // The MOU, uploaded, signed by both mayors, executed.
    let body = json!({"partnership": tie,
        "title": "Memorandum of Understanding on Friendship and Cooperation"});
    let r = ok(srv.post("/api/v1/mous", Some(&coventry), &body), 201);
    let mou = r.json()["id"].as_str().unwrap().to_string();
    ok(
        upload(
            srv,
            &coventry,
            &mou,
            b"Memorandum of Understanding on Friendship and Cooperation between Coventry and Volgograd\n",
        ),
        201,
    );
    // Sent for signature: Coventry's mayor first, then Volgograd's.
    // Deadlines lie ahead of the run (at most 366 days, as the server requires).
    let ahead = |days: i64| {
        let t = chrono::Utc::now() + chrono::Duration::days(days);
        t.format("%Y-%m-%dT17:00:00Z").to_string()
    };
    let body = json!({"deadline": ahead(30), "requests": [
        {"signer": "mayor@gb-cov", "role": "signatory", "group": 1},
        {"signer": "mayor@ru-vgg", "role": "signatory", "group": 2}
    ], "reminders": {"before_deadline_days": 3, "every_days": 7, "max": 4}});
    let round = ok(
        srv.post(
            &format!("/api/v1/mous/{mou}/signature-requests"),
            Some(&coventry),
            &body,
        ),
        201,
    )
    .json();
    let first = round["requests"][0]["id"].as_str().unwrap().to_string();
    ok(
        srv.get(&format!("/api/v1/mous/{mou}/signature-requests/{first}")),
        200,
    );
    statement(srv, &mayor_cov, &mou);
    ok(sign_mou(srv, &mayor_cov, &mou), 201);
    ok(sign_mou(srv, &mayor_vgg, &mou), 201);
    ok(
        srv.get(&format!("/api/v1/mous/{mou}/signature-requests")),
        200,
    );

    // A cultural protocol Volgograd's mayor declines, sent again, then put off by Coventry.
    let body = json!({"partnership": tie, "title": "Protocol on Cultural Exchanges 2022"});
    let r = ok(srv.post("/api/v1/mous", Some(&coventry), &body), 201);
    let protocol = r.json()["id"].as_str().unwrap().to_string();
    ok(
        upload(
            srv,
            &volgograd,
            &protocol,
            b"Protocol on Cultural Exchanges between Coventry and Volgograd, 2022\n",
        ),
        201,
    );
    let body = json!({"deadline": ahead(60)[..10], "requests": [
        {"signer": "mayor@gb-cov"}, {"signer": "mayor@ru-vgg"}
    ]});
    let path = format!("/api/v1/mous/{protocol}/signature-requests");
    let round = ok(srv.post(&path, Some(&volgograd), &body), 201).json();
    let vgg = round["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["signer"] == "mayor@ru-vgg")
        .and_then(|r| r["id"].as_str())
        .unwrap()
        .to_string();
    ok(
        decline_request(
            srv,
            &mayor_vgg,
            &protocol,
            &vgg,
            "The festival budget for 2022 is not yet approved by the city duma.",
        ),
        201,
    );
    let round = ok(srv.post(&path, Some(&volgograd), &body), 201).json();
    // Coventry's mayor answers the second round from the signing link of the request e-mail:
    // the page shows the protocol, registers a second key (pending approval), and signs
    // with the approved one.
    let cov = round["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["signer"] == "mayor@gb-cov")
        .and_then(|r| r["id"].as_str())
        .unwrap()
        .to_string();
    let r = ok(
        srv.post(
            &format!("/api/v1/mous/{protocol}/signature-requests/{cov}/signing-link"),
            Some(&coventry),
            &json!({}),
        ),
        200,
    );
    let token = r.json()["token"].as_str().unwrap().to_string();
    ok(srv.get(&format!("/api/v1/signing/{token}")), 200);
    ok(
        srv.get(&format!("/api/v1/signing/{token}/documents/1")),
        200,
    );
    let browser_key = Signatory::new(75, "mayor@gb-cov", &coventry);
    ok(
        crate::signing_links::register_through(srv, &token, &browser_key),
        201,
    );
    let r = ok(
        srv.get(&format!(
            "/api/v1/signing/{token}/statement?key={}",
            url::form_urlencoded::byte_serialize(mayor_cov.fingerprint().as_bytes())
                .collect::<String>()
        )),
        200,
    );
    ok(
        srv.post(
            &format!("/api/v1/signing/{token}/answer"),
            None,
            &json!({"statement": STANDARD.encode(&r.body), "signature": mayor_cov.sign(&r.body)}),
        ),
        201,
    );
    ok(
        srv.post(
            &format!("/api/v1/mous/{protocol}/cancel-requests"),
            Some(&coventry),
            &json!({"reason": "Postponed until the festival budget is approved"}),
        ),
        200,
    );
    ok(srv.get("/api/v1/mous"), 200);
    ok(srv.get(&format!("/api/v1/mous/{mou}")), 200);
    ok(srv.get(&format!("/api/v1/mous/{mou}/chain")), 200);
    ok(srv.get("/api/v1/signatures?limit=2"), 200);
    ok(srv.get(&format!("/api/v1/mous/{mou}/audit")), 200);
    ok(srv.get(&format!("/api/v1/mous/{mou}/bundle")), 200);
    ok(
        srv.get_as(
            &format!("/api/v1/mous/{mou}/versions/1/document"),
            &coventry,
        ),
        200,
    );
    ok(
        srv.get_as(
            &format!("/api/v1/mous/{mou}/versions/1/documents/1"),
            &coventry,
        ),
        200,
    );

    // A draft protocol withdrawn, a deputy's key retired, a lost key revoked.
    let body = json!({"partnership": tie, "title": "Protocol on Youth Exchanges"});
    let r = ok(srv.post("/api/v1/mous", Some(&coventry), &body), 201);
    let draft = r.json()["id"].as_str().unwrap().to_string();
    ok(
        srv.post(
            &format!("/api/v1/mous/{draft}/withdraw"),
            Some(&coventry),
            &json!({"reason": "Folded into the 2021 memorandum"}),
        ),
        200,
    );
    let mut deputy = Signatory::new(73, "deputy.mayor@gb-cov", &coventry);
    let r = ok(register(srv, &deputy), 201);
    deputy.key_id = r.json()["id"].as_str().unwrap().to_string();
    ok(
        srv.post(
            &format!("/api/v1/keys/{}/approve", deputy.key_id),
            Some(&admin),
            &json!({}),
        ),
        200,
    );
    ok(
        srv.post(
            &format!("/api/v1/keys/{}/retire", deputy.key_id),
            Some(&coventry),
            &json!({"reason": "End of term"}),
        ),
        200,
    );
    let mut lost = Signatory::new(74, "protocol@ru-vgg", &volgograd);
    enroll(srv, &admin, &mut lost);
    ok(
        srv.post(
            &format!("/api/v1/keys/{}/revoke", lost.key_id),
            Some(&volgograd),
            &json!({"reason": "Laptop stolen", "compromised_since": "2021-06-01"}),
        ),
        200,
    );

    // The endpoint: its messages (undelivered here: the host does not resolve), one sent
    // again, the secret rotated, the endpoint paused.
    ok(srv.get_as("/api/v1/cities/gb-cov/webhooks", &coventry), 200);
    ok(
        srv.get_as(&format!("/api/v1/webhooks/{hook}"), &coventry),
        200,
    );
    let r = ok(
        srv.get_as(
            &format!("/api/v1/webhooks/{hook}/messages?limit=2"),
            &coventry,
        ),
        200,
    );
    let message = r.json()["items"][0]["id"].as_str().unwrap().to_string();
    ok(
        srv.post(
            &format!("/api/v1/webhooks/{hook}/messages/{message}/resend"),
            Some(&coventry),
            &json!({}),
        ),
        200,
    );
    ok(
        srv.post(
            &format!("/api/v1/webhooks/{hook}/rotate-secret"),
            Some(&coventry),
            &json!({}),
        ),
        200,
    );
    ok(
        srv.post(
            &format!("/api/v1/webhooks/{hook}/enabled"),
            Some(&coventry),
            &json!({"enabled": false}),
        ),
        200,
    );

    // 2022: Coventry suspends the twinning.
    let body = status_body(
        "cut_off",
        Some("Coventry City Council suspended the twinning after the invasion of Ukraine"),
    );
    ok(
        srv.post(
            &format!("/api/v1/partnerships/{tie}/status"),
            Some(&coventry),
            &body,
        ),
        201,
    );
    ok(srv.get(&format!("/api/v1/partnerships/{tie}/history")), 200);
    ok(
        srv.get("/api/v1/cities/gb-cov/briefing?format=md&from=2021-01-01&to=2022-12-31"),
        200,
    );
    ok(
        srv.get("/api/v1/cities/gb-cov/dormant-partnerships?years=3"),
        200,
    );
    ok(
        srv.get("/api/v1/briefings?cities=gb-cov,ru-vgg&format=md&from=2021-01-01&to=2022-12-31"),
        200,
    );
    // A named group, kept by the admin, and its briefing.
    let r = ok(
        srv.post(
            "/api/v1/city-groups",
            Some(&admin),
            &json!({"name": "Coventry and its twins", "cities": ["gb-cov", "ru-vgg"]}),
        ),
        201,
    );
    let group = r.json()["id"].as_str().unwrap().to_string();
    ok(srv.get("/api/v1/city-groups"), 200);
    ok(srv.get(&format!("/api/v1/city-groups/{group}")), 200);
    ok(
        srv.send(
            "PUT",
            &format!("/api/v1/city-groups/{group}"),
            Some(&admin),
            Some((
                "application/json",
                json!({"name": "Coventry's twins", "cities": ["gb-cov", "ru-vgg"]})
                    .to_string()
                    .into_bytes(),
            )),
        ),
        200,
    );
    ok(
        srv.get(&format!(
            "/api/v1/briefings?group={group}&from=2021-01-01&to=2022-12-31"
        )),
        200,
    );

    // The log an auditor reads.
    ok(srv.get("/api/v1/log/checkpoint"), 200);
    ok(srv.get("/api/v1/log/key"), 200);
    ok(srv.get("/api/v1/log/entries?start=0&limit=2"), 200);
    ok(srv.get("/api/v1/log/entries/0"), 200);
    ok(srv.get("/api/v1/log/proof/inclusion?index=3"), 200);
    ok(srv.get("/api/v1/log/proof/consistency?from=5"), 200);
    ok(srv.get("/metrics"), 200);

    // A first look at a few rows of the Wikipedia data set, written nowhere.
    let rows: Vec<&str> = include_str!("../../data/twin_cities.csv")
        .lines()
        .take(3)
        .collect();
    ok(
        srv.send(
            "POST",
            "/api/v1/admin/import?dry_run=true",
            Some(&admin),
            Some(("text/csv", format!("{}\n", rows.join("\n")).into_bytes())),
        ),
        200,
    );
}

/// The operations of the document by method and path template.
struct Operations(Vec<(String, Vec<String>, String)>);

impl Operations {
    fn of(doc: &Value) -> Operations {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let segments = path.split('/').map(str::to_string).collect();
                let id = op["operationId"].as_str().unwrap().to_string();
                out.push((method.to_uppercase(), segments, id));
            }
        }
        Operations(out)
    }

    /// The method and path template of an operation.
    fn where_is(&self, id: &str) -> (&str, String) {
        self.0
            .iter()
            .find(|(_, _, i)| i == id)
            .map(|(m, t, _)| (m.as_str(), t.join("/")))
            .unwrap_or(("", String::new()))
    }

    /// The operation a request went to.
    fn find(&self, method: &str, path: &str) -> Option<&str> {
        let path = path.split('?').next().unwrap_or_default();
        let sent: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(m, template, _)| {
                m == method
                    && template.len() == sent.len()
                    && template
                        .iter()
                        .zip(&sent)
                        .all(|(t, s)| t.starts_with('{') || t == s)
            })
            .map(|(_, _, id)| id.as_str())
    }
}

/// A media type without its parameters.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A body as an example: JSON as JSON (arrays cut to three items, so the document stays
/// readable), text as a string, other bytes not at all.
fn example_of(content_type: &str, body: &[u8]) -> Option<Value> {
    fn shorten(v: Value) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.into_iter().take(3).map(shorten).collect()),
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, shorten(v))).collect())
            }
            other => other,
        }
    }
    if content_type.ends_with("json") {
        return serde_json::from_slice(body).ok().map(shorten);
    }
    let text = std::str::from_utf8(body).ok()?;
    let cut: String = text.chars().take(4000).collect();
    Some(Value::String(cut))
}

/// The examples of a walk: per operation, the first request body and the first reply per
/// status. The document itself is no example of itself.
fn examples_from(doc: &Value, ops: &Operations, exchanges: &[Exchange]) -> Value {
    // The media type a reply is documented under: its own, or `*/*` for stored documents.
    let documented_as = |id: &str, status: &str, media: String| {
        let (method, path) = ops.where_is(id);
        let content = &doc["paths"][path][method.to_lowercase()]["responses"][status]["content"];
        if content.get(&media).is_none() && content.get("*/*").is_some() {
            "*/*".to_string()
        } else {
            media
        }
    };
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for x in exchanges {
        let Some(id) = ops.find(&x.method, &x.path) else {
            continue;
        };
        if id == "openapi_json" || !(200..300).contains(&x.reply_status) {
            continue;
        }
        let entry = out
            .entry(id.to_string())
            .or_insert_with(|| json!({"request": {}, "responses": {}}));
        let (method, path) = ops.where_is(id);
        let takes_body = !doc["paths"][&path][method.to_lowercase()]["requestBody"].is_null();
        if let Some(ct) = &x.content_type
            && takes_body
            && !x.body.is_empty()
            && let Some(example) = example_of(&essence(ct), &x.body)
            && entry["request"].as_object().is_some_and(Map::is_empty)
        {
            entry["request"][essence(ct)] = example;
        }
        let status = x.reply_status.to_string();
        if entry["responses"].get(&status).is_none()
            && let Some(ct) = &x.reply_content_type
            && let Some(example) = example_of(&essence(ct), &x.reply_body)
        {
            let media = documented_as(id, &status, essence(ct));
            entry["responses"][status] = json!({ media: example });
        }
    }
    json!(out)
}

/// Checks `instance` against the schema at `pointer` in the document, with the document as the
/// root so that its `$ref`s resolve.
fn check(doc: &Value, pointer: &str, instance: &Value) -> Result<(), String> {
    // The schema's own keywords at the root of a copy of the document: its `$ref`s
    // (`#/components/schemas/...`) resolve in the document, and the document's own members
    // are no keywords of JSON Schema, so they constrain nothing.
    let schema = doc
        .pointer(pointer)
        .and_then(Value::as_object)
        .ok_or_else(|| format!("no schema at {pointer}"))?;
    let mut root = doc.clone();
    for (k, v) in schema {
        root[k] = v.clone();
    }
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| format!("schema at {pointer} does not build: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{pointer}: {}", errors.join("; ")))
    }
}

/// JSON pointer escaping of one token.
fn token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Every example of `examples` against the schema the document gives its operation, status
/// and media type; returns the problems found.
fn check_examples(doc: &Value, examples: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            let Some(ex) = examples.get(id) else {
                continue;
            };
            let base = format!("/paths/{}/{method}", token(path));
            for (media, example) in ex["request"].as_object().into_iter().flatten() {
                let at = format!("{base}/requestBody/content/{}/schema", token(media));
                if op["requestBody"]["content"].get(media).is_none() {
                    problems.push(format!("{id}: the request body takes no {media}"));
                } else if let Err(e) = check(doc, &at, example) {
                    problems.push(format!("{id} request: {e}"));
                }
            }
            for (status, by_media) in ex["responses"].as_object().into_iter().flatten() {
                for (media, example) in by_media.as_object().into_iter().flatten() {
                    let content = &op["responses"][status]["content"];
                    if content.get(media).is_none() {
                        problems.push(format!("{id}: {status} is not documented as {media}"));
                        continue;
                    }
                    let at = format!("{base}/responses/{status}/content/{}/schema", token(media));
                    if let Err(e) = check(doc, &at, example) {
                        problems.push(format!("{id} {status}: {e}"));
                    }
                }
            }
        }
    }
    problems
}

fn examples_are_real_and_match_their_schemas(backend: Backend) {
    let srv = TestServer::start(backend);
    srv.record();
    walk(&srv);
    let doc = srv.get("/api/v1/openapi.json").json();
    let ops = Operations::of(&doc);

    // Every reply of the walk is what the document says it is.
    let recorded = examples_from(&doc, &ops, &srv.recorded());
    let problems = check_examples(&doc, &recorded);
    assert!(
        problems.is_empty(),
        "replies that break the document:\n{}",
        problems.join("\n")
    );

    // Every operation (but the document itself) was walked.
    let unwalked: Vec<&str> = ops
        .0
        .iter()
        .map(|(_, _, id)| id.as_str())
        .filter(|id| *id != "openapi_json" && recorded.get(*id).is_none())
        .collect();
    assert!(unwalked.is_empty(), "the walk misses {unwalked:?}");

    if std::env::var_os("AMITY_WRITE_EXAMPLES").is_some() && backend == Backend::Sqlite {
        let text = serde_json::to_string_pretty(&recorded).unwrap() + "\n";
        std::fs::write(EXAMPLES_FILE, text).expect("examples written");
    }

    // The served examples: one for every operation's request body and success reply, each
    // matching its schema.
    let mut served = Map::new();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            let mut entry = json!({"request": {}, "responses": {}});
            for (media, c) in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                if let Some(e) = c.get("example") {
                    entry["request"][media] = e.clone();
                }
            }
            for (status, r) in op["responses"].as_object().into_iter().flatten() {
                for (media, c) in r["content"].as_object().into_iter().flatten() {
                    if let Some(e) = c.get("example") {
                        entry["responses"][status][media] = e.clone();
                    }
                }
            }
            let has_request = entry["request"].as_object().is_some_and(|m| !m.is_empty());
            let json_body = op["requestBody"]["content"]
                .get("application/json")
                .is_some();
            if json_body && !has_request {
                missing.push(format!("{id}: request body ({method} {path})"));
            }
            let success = entry["responses"]
                .as_object()
                .is_some_and(|m| m.keys().any(|s| s.starts_with('2')));
            if id != "openapi_json" && !success {
                missing.push(format!("{id}: success reply"));
            }
            served.insert(id.to_string(), entry);
        }
    }
    assert!(
        missing.is_empty(),
        "operations without examples:\n{}",
        missing.join("\n")
    );
    let problems = check_examples(&doc, &Value::Object(served));
    assert!(
        problems.is_empty(),
        "served examples that break the document:\n{}",
        problems.join("\n")
    );

    // The problem schemas carry an example each.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        if name.starts_with("Problem") && name != "Problem" {
            let example = schema
                .get("example")
                .unwrap_or_else(|| panic!("{name} has no example"));
            check(&doc, &format!("/components/schemas/{name}"), example).unwrap();
        }
    }
}

crate::on_both_backends!(examples_are_real_and_match_their_schemas);
