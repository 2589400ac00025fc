//! Signing links over HTTP (docs/browser-signing.md), on both backends: the capability URL of
//! one signature request. A signatory with no key yet is asked (their office keeps their
//! address), registers a key through the link, is approved, and signs through it; the link
//! then works no more. Altered, foreign, used and expired links are refused with their codes
//! and change nothing; a link never signs for another signer or request; a decline through a
//! link is logged with its reason; every use of a key is announced to its signer's office.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use amity::crypto::sshsig;
use amity::crypto::statement::{key_event_namespace, mou_decline_namespace};
use amity::domain::dates::Clock;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::signing::{ORIGIN, Signatory, create_mou, enroll, sign_mou, upload};
use crate::support::{Backend, Reply, TestServer, World};

const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

/// Sets the signatory's contact address (their office).
pub fn set_contact(srv: &TestServer, s: &Signatory, email: &str) {
    let r = srv.post(
        &format!("/api/v1/cities/{}/contacts/{}", s.city, s.signer),
        Some(&s.office),
        &json!({"email": email}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// The link of `request`, from the office of the signer's city: (url, token).
pub fn link_of(srv: &TestServer, office: &str, mou: &str, request: &str) -> (String, String) {
    let r = srv.post(
        &format!("/api/v1/mous/{mou}/signature-requests/{request}/signing-link"),
        Some(office),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    (
        v["url"].as_str().expect("url").to_string(),
        v["token"].as_str().expect("token").to_string(),
    )
}

/// Registers `s`'s key through the link (challenge, proof, registration), as the signing page
/// does; returns the reply.
pub fn register_through(srv: &TestServer, token: &str, s: &Signatory) -> Reply {
    let r = srv.get(&format!("/api/v1/signing/{token}/key-challenge"));
    assert_eq!(r.status, 200, "{}", r.text());
    let challenge = r.json()["challenge"]
        .as_str()
        .expect("challenge")
        .to_string();
    let line = s.public.to_openssh_line_without_comment();
    let statement = serde_json::to_vec(&json!({
        "action": "register", "challenge": challenge, "city": s.city, "public_key": line,
        "registry": ORIGIN, "role": s.role, "signer": s.signer,
        "type": format!("{ORIGIN}/schemas/key-event/v1"),
    }))
    .expect("json");
    let proof = sshsig::sign(&s.key, &key_event_namespace(ORIGIN), &statement).expect("signs");
    srv.post(
        &format!("/api/v1/signing/{token}/keys"),
        None,
        &json!({"public_key": line,
                "proof": {"statement": STANDARD.encode(&statement), "signature": proof}}),
    )
}

/// The statement the link offers `s` (a decline with `reason`), signed by `s`.
fn signed_answer(srv: &TestServer, token: &str, s: &Signatory, reason: Option<&str>) -> Value {
    let mut path = format!(
        "/api/v1/signing/{token}/statement?key={}",
        url_escape(&s.fingerprint())
    );
    if let Some(reason) = reason {
        path.push_str(&format!("&decline_reason={}", url_escape(reason)));
    }
    let r = srv.get(&path);
    assert_eq!(r.status, 200, "{}", r.text());
    let signature = match reason {
        Some(_) => sshsig::sign(&s.key, &mou_decline_namespace(ORIGIN), &r.body).expect("signs"),
        None => s.sign(&r.body),
    };
    json!({"statement": STANDARD.encode(&r.body), "signature": signature})
}

fn answer(srv: &TestServer, token: &str, body: &Value) -> Reply {
    srv.post(&format!("/api/v1/signing/{token}/answer"), None, body)
}

fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The token with its first character changed: well formed, never issued.
fn altered(token: &str) -> String {
    let first = if token.starts_with('A') { 'B' } else { 'A' };
    format!("{first}{}", &token[1..])
}

struct Scene {
    w: World,
    mou: String,
    /// Houston's mayor: no key yet, only an address.
    mayor_a: Signatory,
    /// Shanghai's mayor: enrolled by the office.
    mayor_b: Signatory,
    request_a: String,
    request_b: String,
}

fn scene(srv: &TestServer) -> Scene {
    let w = World::build(srv);
    let mayor_a = Signatory::new(51, "mayor@us-hou", &w.a);
    let mut mayor_b = Signatory::new(52, "mayor@cn-sha", &w.b);
    enroll(srv, &w.admin, &mut mayor_b);
    set_contact(srv, &mayor_a, "mayor@houston.example");
    let mou = create_mou(srv, &w.a, &w.partnership);
    assert_eq!(upload(srv, &w.a, &mou, b"Friendship MOU").status, 201);
    let deadline = amity::domain::dates::format_micros(srv.state.db.now() + 10 * DAY_MICROS);
    let r = srv.post(
        &format!("/api/v1/mous/{mou}/signature-requests"),
        Some(&w.a),
        &json!({"deadline": deadline, "requests": [
            {"signer": "mayor@us-hou", "group": 1}, {"signer": "mayor@cn-sha", "group": 2}
        ]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let round = r.json();
    let id = |signer: &str| crate::requests::request_id(&round, signer);
    Scene {
        request_a: id("mayor@us-hou"),
        request_b: id("mayor@cn-sha"),
        w,
        mou,
        mayor_a,
        mayor_b,
    }
}

fn a_link_signs_its_request_once(backend: Backend) {
    let srv = TestServer::start(backend);
    let mut s = scene(&srv);

    // Only the office of the signer's city hands out the link.
    let path = format!(
        "/api/v1/mous/{}/signature-requests/{}/signing-link",
        s.mou, s.request_a
    );
    srv.post(&path, Some(&s.w.b), &json!({}))
        .assert_problem(403, "signer_not_of_your_city");
    srv.post(&path, None, &json!({}))
        .assert_problem(401, "authentication_required");
    let (url, token) = link_of(&srv, &s.w.a, &s.mou, &s.request_a);
    assert!(url.ends_with(&format!("/sign/{token}")), "{url}");
    assert_eq!(
        link_of(&srv, &s.w.a, &s.mou, &s.request_a).1,
        token,
        "one link per request"
    );
    let (url_b, token_b) = link_of(&srv, &s.w.b, &s.mou, &s.request_b);
    assert_ne!(token, token_b);
    // A signed-in office sees its own signatories' links on the MOU's page, and no other.
    for (office, mine, theirs) in [(&s.w.a, &url, &url_b), (&s.w.b, &url_b, &url)] {
        let page = crate::browser_forms::Browser::sign_in(&srv, office)
            .get(&srv, &format!("/mous/{}", s.mou));
        assert_eq!(page.status, 200);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        let html = page.text();
        assert!(
            html.contains(mine.as_str()),
            "{mine} not on the office's page"
        );
        assert!(!html.contains(theirs.as_str()), "another city's link shown");
    }
    assert!(
        !srv.get(&format!("/mous/{}", s.mou))
            .text()
            .contains("/sign/"),
        "no link for a reader who is not signed in"
    );

    // What the link shows: the request, the partner city, the document and its hash.
    let r = srv.get(&format!("/api/v1/signing/{token}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let view = r.json();
    assert_eq!(view["signer"], "mayor@us-hou");
    assert_eq!(view["partner_city"], "cn-sha");
    assert_eq!(view["group"], 1);
    assert_eq!(view["keys"], json!([]), "no key yet");
    let doc_hash = hex::encode(amity::crypto::sha256(b"Friendship MOU"));
    assert_eq!(view["documents"][0]["sha256"], doc_hash.as_str());
    let href = view["documents"][0]["href"].as_str().expect("href");
    let d = srv.get(href);
    assert_eq!(d.status, 200);
    assert_eq!(d.body, b"Friendship MOU");
    // The page itself, readable without the script.
    let page = srv.get(&format!("/sign/{token}"));
    assert_eq!(page.status, 200);
    let html = page.text();
    for needle in ["mayor@us-hou", "cn-sha", &doc_hash, "/assets/sign-"] {
        assert!(html.contains(needle), "{needle} not on the page");
    }
    assert!(
        !html.contains("<script>"),
        "no inline script on the signing page"
    );

    // Altered or malformed links name nothing.
    for bad in [altered(&token), token[..20].to_string(), "x".repeat(43)] {
        srv.get(&format!("/api/v1/signing/{bad}"))
            .assert_problem(404, "signing_link_not_found");
        let page = srv.get(&format!("/sign/{bad}"));
        assert_eq!(page.status, 404);
        assert!(
            page.text().contains("This signing link is not valid"),
            "{}",
            page.text()
        );
    }

    // The signatory registers a key through the link: pending until an admin approves it.
    let size = srv.log_size();
    let r = register_through(&srv, &token, &s.mayor_a);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["status"], "pending");
    assert_eq!(r.json()["signer"], "mayor@us-hou");
    assert_eq!(srv.log_size(), size + 1);
    assert_eq!(srv.entry(size)["type"], "key.registered");
    s.mayor_a.key_id = r.json()["id"].as_str().expect("id").to_string();
    // A link does not register a key for somebody else: the proof names another signer.
    let stranger = Signatory::new(53, "deputy@us-hou", &s.w.a);
    register_through(&srv, &token, &stranger).assert_problem(422, "proof_mismatch");
    // Not approved yet: no statement to sign.
    let path = format!(
        "/api/v1/signing/{token}/statement?key={}",
        url_escape(&s.mayor_a.fingerprint())
    );
    assert_eq!(srv.get(&path).status, 409, "a pending key cannot sign");
    let r = srv.post(
        &format!("/api/v1/keys/{}/approve", s.mayor_a.key_id),
        Some(&s.w.admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // Another signer's key cannot be used through this link, and another request's link
    // cannot carry this signer's signature.
    let path = format!(
        "/api/v1/signing/{token}/statement?key={}",
        url_escape(&s.mayor_b.fingerprint())
    );
    srv.get(&path).assert_problem(403, "signing_link_mismatch");
    let body = signed_answer(&srv, &token, &s.mayor_a, None);
    let size = srv.log_size();
    answer(&srv, &token_b, &body).assert_problem(403, "signing_link_mismatch");
    assert_eq!(srv.log_size(), size, "nothing logged");

    // Signed through the link.
    let r = answer(&srv, &token, &body);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["action"], "sign");
    assert_eq!(r.json()["seq"], 1);
    let entry = srv.entry(r.json()["log_index"].as_i64().expect("index"));
    assert_eq!(entry["type"], "mou.signature_added");
    assert_eq!(entry["request"], s.request_a.as_str());
    assert_eq!(entry.get("by"), None, "no office token submitted it");

    // Used: the link refuses everything now, and the page says so.
    srv.get(&format!("/api/v1/signing/{token}"))
        .assert_problem(410, "signing_link_used");
    answer(&srv, &token, &body).assert_problem(410, "signing_link_used");
    let page = srv.get(&format!("/sign/{token}"));
    assert_eq!(page.status, 410);
    assert!(page.text().contains("no longer works"), "{}", page.text());

    // Shanghai's mayor finishes with the office, as before links: the MOU executes, and
    // Shanghai's link is closed by the signature made another way.
    assert_eq!(sign_mou(&srv, &s.mayor_b, &s.mou).status, 201);
    assert_eq!(
        srv.get(&format!("/api/v1/mous/{}", s.mou)).json()["state"],
        "executed"
    );
    srv.get(&format!("/api/v1/signing/{token_b}"))
        .assert_problem(410, "signing_link_closed");
    let audit = crate::signing::audit(&srv, &s.mou);
    assert_eq!(audit["verdict"], "pass", "{audit:#}");
    let (ok, text) = crate::audit::audit(&srv, &srv.db.dir.path().join("audit-state.json"));
    assert!(ok, "amity audit failed:\n{text}");
}

on_both_backends!(a_link_signs_its_request_once);

fn a_decline_through_a_link_is_logged_with_its_reason(backend: Backend) {
    let srv = TestServer::start(backend);
    let s = scene(&srv);
    // Shanghai's office subscribes to key-use notices.
    let r = srv.post(
        "/api/v1/cities/cn-sha/webhooks",
        Some(&s.w.b),
        &json!({"url": "https://hooks.example.org/amity", "event_types": ["key.used"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let hook = r.json()["endpoint"]["id"].as_str().expect("id").to_string();
    let (_, token_b) = link_of(&srv, &s.w.b, &s.mou, &s.request_b);
    // A blank reason is refused before anything is signed.
    let path = format!(
        "/api/v1/signing/{token_b}/statement?key={}&decline_reason=%20",
        url_escape(&s.mayor_b.fingerprint())
    );
    srv.get(&path).assert_problem(422, "reason_required");
    let body = signed_answer(
        &srv,
        &token_b,
        &s.mayor_b,
        Some("The council has not voted yet"),
    );
    let r = answer(&srv, &token_b, &body);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["action"], "decline");
    assert_eq!(r.json()["state"], "declined");
    let entry = srv.entry(r.json()["log_index"].as_i64().expect("index"));
    assert_eq!(entry["type"], "mou.request_declined");
    assert_eq!(entry["reason"], "The council has not voted yet");
    let request = srv.get(&format!(
        "/api/v1/mous/{}/signature-requests/{}",
        s.mou, s.request_b
    ));
    assert_eq!(request.json()["state"], "declined");
    assert_eq!(
        request.json()["decline"]["reason"],
        "The council has not voted yet"
    );
    srv.get(&format!("/api/v1/signing/{token_b}"))
        .assert_problem(410, "signing_link_used");
    // The decline closed the round, and with it Houston's link.
    srv.post(
        &format!(
            "/api/v1/mous/{}/signature-requests/{}/signing-link",
            s.mou, s.request_a
        ),
        Some(&s.w.a),
        &json!({}),
    )
    .assert_problem(409, "request_not_pending");
    // The key-use notice went to Shanghai's office, naming the key and the link.
    let messages = srv
        .get_as(&format!("/api/v1/webhooks/{hook}/messages"), &s.w.b)
        .json();
    let items = messages["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{messages:#}");
    assert_eq!(items[0]["event_type"], "key.used");
    let payload: Value =
        serde_json::from_str(items[0]["payload"].as_str().expect("payload")).expect("json");
    assert_eq!(payload["data"]["action"], "decline");
    assert_eq!(payload["data"]["signer"], "mayor@cn-sha");
    assert_eq!(
        payload["data"]["key_fingerprint"],
        s.mayor_b.fingerprint().as_str()
    );
    assert_eq!(payload["data"]["submitted_through"], "signing_link");
    // `amity audit` replays the decline, its reason and its signature, from the log.
    let (ok, text) = crate::audit::audit(&srv, &srv.db.dir.path().join("audit-state.json"));
    assert!(ok, "amity audit failed:\n{text}");
}

on_both_backends!(a_decline_through_a_link_is_logged_with_its_reason);

fn a_link_expires_with_its_deadline(backend: Backend) {
    let offset = Arc::new(AtomicI64::new(0));
    let clock = Clock::shifted(offset.clone());
    let srv = TestServer::start_with(backend, |st| {
        st.clock = clock;
        // No sweep during the test: the deadline alone must stop the link.
        st.request_sweep_ms = 3_600_000;
    });
    let s = scene(&srv);
    let (_, token) = link_of(&srv, &s.w.b, &s.mou, &s.request_b);
    let body = signed_answer(&srv, &token, &s.mayor_b, None);
    offset.store(11 * DAY_MICROS, Ordering::SeqCst);
    let size = srv.log_size();
    srv.get(&format!("/api/v1/signing/{token}"))
        .assert_problem(410, "signing_link_expired");
    answer(&srv, &token, &body).assert_problem(410, "signing_link_expired");
    let page = srv.get(&format!("/sign/{token}"));
    assert_eq!(page.status, 410);
    assert!(page.text().contains("expired"), "{}", page.text());
    assert_eq!(srv.log_size(), size, "nothing logged");
}

on_both_backends!(a_link_expires_with_its_deadline);
