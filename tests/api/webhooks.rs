//! Webhooks end to end (docs/notifications.md): events of the signing workflow reach the
//! endpoints of the MOU's cities, signed per Standard Webhooks and verified by the reference
//! library; retries, `Retry-After`, 410 Gone, redirects, the address guard, re-sending and
//! who may manage endpoints.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amity::domain::dates::Clock;
use amity::domain::webhooks::WebhookSecret;
use serde_json::{Value, json};

use crate::signing::{Signatory, create_mou, decline_request, enroll, sign_mou, upload};
use crate::support::{Backend, TestServer, World, status_body};
use crate::{both_backends, on_both_backends};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A webhook receiver on a loopback port: records every request and answers from a script
/// (status and extra header lines), then 200 once the script is spent.
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<(u16, &'static str)>>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let url = format!(
            "http://{}/hooks/amity",
            listener.local_addr().expect("addr")
        );
        let got = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<VecDeque<(u16, &'static str)>>> = Arc::default();
        let (g, s) = (got.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                let mut headers = Vec::new();
                let mut length = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim_end().split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let mut body = vec![0u8; length];
                // A sender killed mid-request (the crash harness) leaves a truncated request:
                // it was never delivered, and is not recorded.
                if path.is_empty() || reader.read_exact(&mut body).is_err() {
                    continue;
                }
                g.lock().unwrap().push(Received {
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let (status, extra) = s.lock().unwrap().pop_front().unwrap_or((200, ""));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n{extra}\r\n"
                );
            }
        });
        Receiver { url, got, script }
    }

    fn answer(&self, status: u16, extra: &'static str) {
        self.script.lock().unwrap().push_back((status, extra));
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `n` requests came.
    fn wait_for(&self, n: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{} of {n} deliveries arrived: {got:?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A server that delivers to loopback, polls the outbox often, and has a clock the test moves.
fn server(backend: Backend) -> (TestServer, Arc<AtomicI64>) {
    let offset = Arc::new(AtomicI64::new(0));
    let clock = Clock::shifted(offset.clone());
    let srv = TestServer::start_with(backend, |s| {
        s.clock = clock;
        s.webhook_allow_internal = true;
        s.outbox_poll_ms = 20;
        s.request_sweep_ms = 20;
        s.webhook_timeout_ms = 2_000;
    });
    (srv, offset)
}

fn register(srv: &TestServer, office: &str, city: &str, url: &str, types: &[&str]) -> Value {
    let r = srv.post(
        &format!("/api/v1/cities/{city}/webhooks"),
        Some(office),
        &json!({"url": url, "event_types": types}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

const ALL: [&str; 7] = [
    "signature_request.sent",
    "signature_request.signed",
    "signature_request.declined",
    "signature_request.expired",
    "signature_request.reminder",
    "mou.executed",
    "partnership.status_changed",
];

/// Checks each delivery's signature with our signer, and, when a Python with the
/// `standardwebhooks` package is given (AMITY_TEST_PYTHON; CI always gives one), with the
/// reference library.
fn verify_all(got: &[Received], secret: &str, dir: &std::path::Path) {
    let key = WebhookSecret::parse(secret).expect("whsec_ secret");
    for r in got {
        let timestamp: i64 = r.header("webhook-timestamp").parse().expect("timestamp");
        let expected = key.sign(r.header("webhook-id"), timestamp, r.body.as_bytes());
        assert!(
            r.header("webhook-signature")
                .split(' ')
                .any(|s| s == expected),
            "{r:?}"
        );
    }
    let python = match std::env::var("AMITY_TEST_PYTHON") {
        Ok(p) => p,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI must set AMITY_TEST_PYTHON to a Python with `standardwebhooks` (.ci/run)")
        }
        Err(_) => {
            eprintln!("AMITY_TEST_PYTHON unset: reference-library check left to CI");
            return;
        }
    };
    let file = dir.join("deliveries.json");
    let deliveries: Vec<Value> = got
        .iter()
        .map(|r| {
            let headers: serde_json::Map<String, Value> = r
                .headers
                .iter()
                .map(|(k, v)| (k.to_lowercase(), json!(v)))
                .collect();
            json!({"secret": secret, "headers": headers, "body": r.body})
        })
        .collect();
    std::fs::write(&file, serde_json::to_vec(&deliveries).unwrap()).unwrap();
    let out = std::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/.ci/verify_webhooks.py"
        ))
        .arg(&file)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "standardwebhooks refused a delivery: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        got.len()
    );
}

fn workflow_events(backend: Backend) {
    let (srv, _) = server(backend);
    let w = World::build(&srv);
    let houston = Receiver::start();
    let shanghai = Receiver::start();
    let hou = register(&srv, &w.a, "us-hou", &houston.url, &ALL);
    // Shanghai only wants to hear about executions.
    register(&srv, &w.b, "cn-sha", &shanghai.url, &["mou.executed"]);
    let mut mayor_a = Signatory::new(31, "mayor@us-hou", &w.a);
    let mut mayor_b = Signatory::new(32, "mayor@cn-sha", &w.b);
    enroll(&srv, &w.admin, &mut mayor_a);
    enroll(&srv, &w.admin, &mut mayor_b);
    let mou = create_mou(&srv, &w.a, &w.partnership);
    assert_eq!(upload(&srv, &w.a, &mou, b"Friendship MOU").status, 201);
    let deadline = chrono::Utc::now() + chrono::Duration::days(5);
    let round = |who: &[&str]| {
        let requests: Vec<Value> = who.iter().map(|s| json!({"signer": s})).collect();
        let r = srv.post(
            &format!("/api/v1/mous/{mou}/signature-requests"),
            Some(&w.a),
            &json!({"deadline": deadline.to_rfc3339(), "requests": requests}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    };
    let first = round(&["mayor@us-hou", "mayor@cn-sha"]);
    let request_b = first["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["signer"] == "mayor@cn-sha")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = decline_request(
        &srv,
        &mayor_b,
        &mou,
        &request_b,
        "Not before the council votes",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    round(&["mayor@us-hou", "mayor@cn-sha"]);
    assert_eq!(sign_mou(&srv, &mayor_a, &mou).status, 201);
    assert_eq!(sign_mou(&srv, &mayor_b, &mou).status, 201);
    // The partnership was proposed: executing its MOU activated it; now it is curtailed.
    let r = srv.post(
        &format!("/api/v1/partnerships/{}/status", w.partnership),
        Some(&w.a),
        &status_body("curtailed", Some("Consulates closed")),
    );
    assert_eq!(r.status, 201, "{}", r.text());

    let kinds = [
        "signature_request.sent",
        "signature_request.declined",
        "signature_request.sent",
        "signature_request.signed",
        "signature_request.signed",
        "partnership.status_changed",
        "mou.executed",
        "partnership.status_changed",
    ];
    let got = houston.wait_for(kinds.len());
    std::thread::sleep(Duration::from_millis(200));
    let got_types: Vec<String> = houston
        .received()
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut sorted_got = got_types.clone();
    sorted_got.sort();
    let mut sorted_kinds: Vec<String> = kinds.iter().map(|s| s.to_string()).collect();
    sorted_kinds.sort();
    assert_eq!(sorted_got, sorted_kinds, "{got_types:?}");
    for r in &got {
        assert_eq!(r.path, "/hooks/amity");
        assert!(r.header("webhook-id").starts_with("msg_"), "{r:?}");
        assert_eq!(r.header("content-type"), "application/json");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert!(body["data"]["log_index"].is_i64(), "{body}");
        // Each message names the log entry of its event.
        let entry = srv.entry(body["data"]["log_index"].as_i64().unwrap());
        assert!(entry["type"].is_string());
    }
    let declined = got
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .find(|b| b["type"] == "signature_request.declined")
        .unwrap();
    assert_eq!(declined["data"]["reason"], "Not before the council votes");
    assert_eq!(declined["data"]["signer"], "mayor@cn-sha");
    verify_all(&got, hou["secret"].as_str().unwrap(), srv.db.dir.path());
    let executed = shanghai.wait_for(1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        shanghai.received().len(),
        1,
        "only what Shanghai subscribed to"
    );
    assert!(executed[0].body.contains("\"mou.executed\""));

    // The office sees every message delivered, with its attempt.
    let id = hou["endpoint"]["id"].as_str().unwrap();
    let page = srv.get_as(&format!("/api/v1/webhooks/{id}/messages?limit=3"), &w.a);
    assert_eq!(page.status, 200, "{}", page.text());
    let page = page.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert!(page["next_cursor"].is_string());
    for m in page["items"].as_array().unwrap() {
        assert_eq!(m["state"], "delivered", "{m}");
        assert_eq!(m["history"][0]["status"], 200, "{m}");
    }
}

on_both_backends!(workflow_events);

fn retries_follow_the_answers(backend: Backend) {
    let (srv, offset) = server(backend);
    let w = World::build(&srv);
    let rx = Receiver::start();
    rx.answer(500, "");
    rx.answer(429, "retry-after: 3600\r\n");
    rx.answer(301, "location: http://127.0.0.1:9/elsewhere\r\n");
    let hook = register(
        &srv,
        &w.a,
        "us-hou",
        &rx.url,
        &["partnership.status_changed"],
    );
    let id = hook["endpoint"]["id"].as_str().unwrap().to_string();
    // Shanghai confirms the partnership: an event for Houston's endpoint.
    let r = srv.post(
        &format!("/api/v1/partnerships/{}/confirm", w.partnership),
        Some(&w.b),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let messages = || -> Value {
        let r = srv.get_as(&format!("/api/v1/webhooks/{id}/messages"), &w.a);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["items"][0].clone()
    };
    rx.wait_for(1);
    // 500: retried after about 5 seconds (4 to 6 with the jitter), not before.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rx.received().len(), 1);
    assert_eq!(messages()["state"], "pending");
    offset.fetch_add(7_000_000, Ordering::SeqCst);
    rx.wait_for(2);
    // 429 with Retry-After: 3600 waits an hour, though the schedule says a minute.
    std::thread::sleep(Duration::from_millis(300));
    let m = messages();
    assert_eq!(m["history"][1]["status"], 429, "{m}");
    offset.fetch_add(120_000_000, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rx.received().len(), 2, "Retry-After was not honoured");
    offset.fetch_add(3_600_000_000, Ordering::SeqCst);
    rx.wait_for(3);
    // A redirect is an error, and is not followed.
    std::thread::sleep(Duration::from_millis(300));
    let m = messages();
    assert_eq!(m["history"][2]["status"], 301, "{m}");
    assert!(
        m["history"][2]["error"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed")
    );
    offset.fetch_add(400_000_000, Ordering::SeqCst);
    let got = rx.wait_for(4);
    assert!(got.iter().all(|r| r.path == "/hooks/amity"), "{got:?}");
    std::thread::sleep(Duration::from_millis(300));
    let m = messages();
    assert_eq!(m["state"], "delivered", "{m}");
    assert_eq!(m["attempts"], 4);
    // Every attempt carried the same webhook-id.
    let ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");

    // 410 Gone disables the endpoint; its messages fail and wait for the office.
    rx.answer(410, "");
    let r = srv.post(
        &format!("/api/v1/partnerships/{}/status", w.partnership),
        Some(&w.a),
        &status_body("curtailed", Some("Consulates closed")),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    rx.wait_for(5);
    std::thread::sleep(Duration::from_millis(300));
    let endpoint = srv.get_as(&format!("/api/v1/webhooks/{id}"), &w.a).json();
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
    let m = messages();
    assert_eq!(m["state"], "failed", "{m}");
    // Re-sent and re-enabled by the office, it is delivered.
    let message = m["id"].as_str().unwrap();
    let r = srv.post(
        &format!("/api/v1/webhooks/{id}/messages/{message}/resend"),
        Some(&w.a),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["state"], "pending");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rx.received().len(), 5, "a disabled endpoint gets nothing");
    let r = srv.post(
        &format!("/api/v1/webhooks/{id}/enabled"),
        Some(&w.a),
        &json!({"enabled": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = rx.wait_for(6);
    assert_eq!(got[5].header("webhook-id"), message);
    verify_all(&got, hook["secret"].as_str().unwrap(), srv.db.dir.path());
}

on_both_backends!(retries_follow_the_answers);

fn rotation_signs_with_both_secrets(backend: Backend) {
    let (srv, offset) = server(backend);
    let w = World::build(&srv);
    let rx = Receiver::start();
    let hook = register(
        &srv,
        &w.a,
        "us-hou",
        &rx.url,
        &["partnership.status_changed"],
    );
    let id = hook["endpoint"]["id"].as_str().unwrap().to_string();
    let old = hook["secret"].as_str().unwrap().to_string();
    let r = srv.post(
        &format!("/api/v1/webhooks/{id}/rotate-secret"),
        Some(&w.a),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let new = r.json()["secret"].as_str().unwrap().to_string();
    assert_ne!(old, new);
    let change = |status: &str| {
        let r = srv.post(
            &format!("/api/v1/partnerships/{}/status", w.partnership),
            Some(&w.a),
            &status_body(status, Some("Council decision")),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    };
    change("cut_off");
    let got = rx.wait_for(1);
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    verify_all(&got, &old, srv.db.dir.path());
    verify_all(&got, &new, srv.db.dir.path());
    // A day later only the new secret signs.
    offset.fetch_add(25 * 3600 * 1_000_000, Ordering::SeqCst);
    let message = srv
        .get_as(&format!("/api/v1/webhooks/{id}/messages"), &w.a)
        .json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = srv.post(
        &format!("/api/v1/webhooks/{id}/messages/{message}/resend"),
        Some(&w.a),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = rx.wait_for(2);
    assert_eq!(got[1].header("webhook-signature").split(' ').count(), 1);
    verify_all(&got[1..], &new, srv.db.dir.path());
}

on_both_backends!(rotation_signs_with_both_secrets);

both_backends!(endpoints_are_guarded, |srv| {
    let w = World::build(&srv);
    let path = "/api/v1/cities/us-hou/webhooks";
    let body = |url: &str| json!({"url": url, "event_types": ["mou.executed"]});
    // The address guard (on by default).
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
        "https://10.0.0.7/x",
    ] {
        srv.post(path, Some(&w.a), &body(url))
            .assert_problem(422, "webhook_address_refused");
    }
    for url in [
        "ftp://example.org/x",
        "https://user:pw@example.org/",
        "https://example.org/#x",
    ] {
        srv.post(path, Some(&w.a), &body(url))
            .assert_problem(422, "invalid_webhook_url");
    }
    srv.post(
        path,
        Some(&w.a),
        &json!({"url": "https://hooks.example.org/amity", "event_types": []}),
    )
    .assert_problem(422, "invalid_event_type");
    srv.post(
        path,
        Some(&w.a),
        &json!({"url": "https://hooks.example.org/amity", "event_types": ["mou.signed"]}),
    )
    .assert_problem(422, "invalid_body");
    // Who may manage a city's endpoints: its office and admins.
    srv.post(path, None, &body("https://hooks.example.org/a"))
        .assert_problem(401, "authentication_required");
    srv.post(path, Some(&w.b), &body("https://hooks.example.org/a"))
        .assert_problem(403, "not_your_city");
    srv.post(path, Some(&w.auditor), &body("https://hooks.example.org/a"))
        .assert_problem(403, "not_your_city");
    let r = srv.post(path, Some(&w.a), &body("https://hooks.example.org/a"));
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["endpoint"]["id"].as_str().unwrap().to_string();
    assert!(r.json()["secret"].as_str().unwrap().starts_with("whsec_"));
    let r = srv.post(path, Some(&w.admin), &body("https://hooks.example.org/b"));
    assert_eq!(r.status, 201, "{}", r.text());
    let listed = srv.get_as(path, &w.a);
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json().as_array().unwrap().len(), 2);
    assert!(
        !listed.text().contains("whsec_"),
        "secrets are shown once only"
    );
    srv.get_as(path, &w.b).assert_problem(403, "not_your_city");
    srv.get_as(&format!("/api/v1/webhooks/{id}"), &w.b)
        .assert_problem(403, "not_your_city");
    srv.get_as(
        "/api/v1/webhooks/0190b5c8-0000-7000-8000-000000000000",
        &w.a,
    )
    .assert_problem(404, "webhook_not_found");
    srv.post(
        &format!("/api/v1/webhooks/{id}/messages/msg_nothing/resend"),
        Some(&w.a),
        &json!({}),
    )
    .assert_problem(404, "message_not_found");
    srv.get_as("/api/v1/cities/zz-nowhere/webhooks", &w.admin)
        .assert_problem(404, "city_not_found");
    // Nothing about endpoints is in the public log.
    let size = srv.log_size();
    srv.post(
        &format!("/api/v1/webhooks/{id}/enabled"),
        Some(&w.a),
        &json!({"enabled": false}),
    );
    assert_eq!(srv.log_size(), size);
});

/// Reminders every 3 days and 2 days before a deadline 10 days out, at most 3: days 3, 6 and
/// 8, each to the signatories who have not answered.
fn reminders_come_on_schedule_and_stop_at_an_answer(backend: Backend) {
    const DAY: i64 = 24 * 3600 * 1_000_000;
    let (srv, offset) = server(backend);
    let w = World::build(&srv);
    let rx = Receiver::start();
    register(
        &srv,
        &w.a,
        "us-hou",
        &rx.url,
        &["signature_request.reminder"],
    );
    let mut mayor_a = Signatory::new(33, "mayor@us-hou", &w.a);
    let mut mayor_b = Signatory::new(34, "mayor@cn-sha", &w.b);
    enroll(&srv, &w.admin, &mut mayor_a);
    enroll(&srv, &w.admin, &mut mayor_b);
    let mou = create_mou(&srv, &w.a, &w.partnership);
    assert_eq!(upload(&srv, &w.a, &mou, b"Friendship MOU").status, 201);
    let deadline = amity::domain::dates::format_micros(srv.state.db.now() + 10 * DAY);
    let r = srv.post(
        &format!("/api/v1/mous/{mou}/signature-requests"),
        Some(&w.a),
        &json!({"deadline": deadline, "requests": [
            {"signer": "mayor@us-hou"}, {"signer": "mayor@cn-sha"}
        ], "reminders": {"before_deadline_days": 2, "every_days": 3, "max": 3}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let settle = || std::thread::sleep(Duration::from_millis(400));
    settle();
    assert!(rx.received().is_empty(), "no reminder before day 3");
    let size = srv.log_size();
    let at_day = |days: i64| offset.store(days * DAY + 60_000_000, Ordering::SeqCst);
    at_day(3);
    rx.wait_for(2);
    assert_eq!(sign_mou(&srv, &mayor_a, &mou).status, 201);
    at_day(6);
    rx.wait_for(3);
    settle();
    assert_eq!(rx.received().len(), 3, "no reminder after an answer");
    at_day(8);
    rx.wait_for(4);
    at_day(9);
    settle();
    let got = rx.received();
    assert_eq!(got.len(), 4, "at most three reminders");
    let sent: Vec<(String, i64)> = got
        .iter()
        .map(|r| {
            let b: Value = serde_json::from_str(&r.body).unwrap();
            (
                b["data"]["signer"].as_str().unwrap().to_string(),
                b["data"]["reminder"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut sorted = sent.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            ("mayor@cn-sha".to_string(), 1),
            ("mayor@cn-sha".to_string(), 2),
            ("mayor@cn-sha".to_string(), 3),
            ("mayor@us-hou".to_string(), 1),
        ],
        "{sent:?}"
    );
    let requests = srv
        .get(&format!("/api/v1/mous/{mou}/signature-requests"))
        .json();
    let b = requests["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["signer"] == "mayor@cn-sha")
        .unwrap()
        .clone();
    assert_eq!(b["reminders_sent"], 3, "{b}");
    assert!(b["next_reminder_at"].is_null(), "{b}");
    // Reminders are outbox events, not log entries: the log grew by the one signature.
    assert_eq!(srv.log_size(), size + 1);
}

on_both_backends!(reminders_come_on_schedule_and_stop_at_an_answer);

both_backends!(offices_manage_endpoints_from_their_page, |srv| {
    use crate::browser_forms::Browser;
    let w = World::build(&srv);
    let houston = Browser::sign_in(&srv, &w.a);
    let page = houston.get(&srv, "/cities/us-hou");
    assert!(
        page.text().contains("/cities/us-hou/webhooks"),
        "{}",
        page.text()
    );
    let r = houston.post(
        &srv,
        "/cities/us-hou/webhooks",
        &[
            ("csrf", houston.csrf.as_str()),
            ("url", "https://hooks.example.org/amity"),
            ("event", "mou.executed"),
            ("event", "partnership.status_changed"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("whsec_"),
        "the secret is shown once: {}",
        r.text()
    );
    let listed = srv.get_as("/api/v1/cities/us-hou/webhooks", &w.a).json();
    assert_eq!(
        listed[0]["event_types"],
        json!(["mou.executed", "partnership.status_changed"])
    );
    let id = listed[0]["id"].as_str().unwrap().to_string();
    let page = houston.get(&srv, "/cities/us-hou/webhooks").text();
    assert!(page.contains("https://hooks.example.org/amity"), "{page}");
    assert!(!page.contains("whsec_"), "never again on the page");
    let r = houston.post(
        &srv,
        &format!("/webhooks/{id}/enabled"),
        &[("csrf", houston.csrf.as_str()), ("enabled", "false")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        srv.get_as(&format!("/api/v1/webhooks/{id}"), &w.a).json()["enabled"],
        false
    );
    // The guard holds on the page too; and another city's office sees nothing.
    let r = houston.post(
        &srv,
        "/cities/us-hou/webhooks",
        &[
            ("csrf", houston.csrf.as_str()),
            ("url", "http://10.0.0.1/x"),
            ("event", "mou.executed"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let shanghai = Browser::sign_in(&srv, &w.b);
    assert_eq!(shanghai.get(&srv, "/cities/us-hou/webhooks").status, 403);
});
