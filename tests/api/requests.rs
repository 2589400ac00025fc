//! Signature requests end to end (docs/signing-workflow.md): a round in two sequence groups,
//! the order enforced at submission, a signed decline, expiry at the deadline on a moved clock,
//! cancellation, and `amity audit` passing over all of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use amity::crypto::sshsig;
use amity::crypto::statement::{MouDeclineStatement, mou_decline_namespace};
use amity::domain::dates::Clock;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::audit::audit;
use crate::signing::{ORIGIN, Signatory, create_mou, enroll, sign_mou, upload};
use crate::support::{Backend, Reply, TestServer, World};
use crate::{both_backends, on_both_backends};

const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

/// An RFC 3339 instant `days` from the server's now.
fn in_days(srv: &TestServer, days: i64) -> String {
    amity::domain::dates::format_micros(srv.state.db.now() + days * DAY_MICROS)
}

/// A world with an MOU (v1 uploaded) and four enrolled signatories: a deputy and a mayor of
/// each party city.
struct Ceremony {
    w: World,
    mou: String,
    deputy_a: Signatory,
    deputy_b: Signatory,
    mayor_a: Signatory,
    mayor_b: Signatory,
}

fn ceremony(srv: &TestServer) -> Ceremony {
    let w = World::build(srv);
    let mut deputy_a = Signatory::new(21, "deputy@us-hou", &w.a);
    let mut deputy_b = Signatory::new(22, "deputy@cn-sha", &w.b);
    let mut mayor_a = Signatory::new(23, "mayor@us-hou", &w.a);
    let mut mayor_b = Signatory::new(24, "mayor@cn-sha", &w.b);
    for s in [&mut deputy_a, &mut deputy_b, &mut mayor_a, &mut mayor_b] {
        enroll(srv, &w.admin, s);
    }
    let mou = create_mou(srv, &w.a, &w.partnership);
    assert_eq!(upload(srv, &w.a, &mou, b"Friendship MOU, v1").status, 201);
    Ceremony {
        w,
        mou,
        deputy_a,
        deputy_b,
        mayor_a,
        mayor_b,
    }
}

fn send_round(srv: &TestServer, office: &str, mou: &str, body: &Value) -> Reply {
    srv.post(
        &format!("/api/v1/mous/{mou}/signature-requests"),
        Some(office),
        body,
    )
}

/// Deputies first (group 1), then mayors (group 2).
fn two_groups(srv: &TestServer, c: &Ceremony) -> Value {
    let r = send_round(
        srv,
        &c.w.a,
        &c.mou,
        &json!({
            "deadline": in_days(srv, 14),
            "requests": [
                {"signer": "deputy@us-hou", "group": 1},
                {"signer": "deputy@cn-sha", "group": 1},
                {"signer": "mayor@us-hou", "group": 2},
                {"signer": "mayor@cn-sha", "group": 2},
            ]
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn requests_of(srv: &TestServer, mou: &str) -> Value {
    let r = srv.get(&format!("/api/v1/mous/{mou}/signature-requests"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// The id of `signer`'s request in the round `round` (a send's reply).
pub(crate) fn request_id(round: &Value, signer: &str) -> String {
    round["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["signer"] == signer)
        .and_then(|r| r["id"].as_str())
        .expect("request of signer")
        .to_string()
}

/// Fetches the decline statement for `request`, signs it with `with` (normally the
/// signatory's own key) and submits it through `office`.
fn decline(
    srv: &TestServer,
    s: &Signatory,
    with: &Signatory,
    office: &str,
    mou: &str,
    request: &str,
    reason: &str,
) -> (Reply, Value) {
    let path = format!("/api/v1/mous/{mou}/signature-requests/{request}");
    let r = srv.get_as(
        &format!("{path}/decline-statement?reason={}", url_escape(reason)),
        &s.office,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let statement = r.body;
    MouDeclineStatement::parse_strict(&statement).expect("canonical decline statement");
    let signature =
        sshsig::sign(&with.key, &mou_decline_namespace(ORIGIN), &statement).expect("signs");
    let body = json!({"statement": STANDARD.encode(&statement), "signature": signature});
    (
        srv.post(&format!("{path}/decline"), Some(office), &body),
        body,
    )
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A closed MOU offers no statement to sign (and would refuse a signature made earlier).
fn statement_refused(srv: &TestServer, s: &Signatory, mou: &str, code: &str) {
    srv.get_as(
        &format!(
            "/api/v1/mous/{mou}/signing-statement?signer={}&role={}",
            s.signer, s.role
        ),
        &s.office,
    )
    .assert_problem(409, code);
}

fn audit_passes(srv: &TestServer) {
    let state = srv.db.dir.path().join("audit-state.json");
    let (ok, text) = audit(srv, &state);
    assert!(ok, "amity audit failed:\n{text}");
}

both_backends!(sequence_groups_sign_in_order, |srv| {
    let c = ceremony(&srv);
    let round = two_groups(&srv, &c);
    assert_eq!(round["round"], 1);
    assert_eq!(round["state"], "open");
    let entry = srv.entry(round["log_index"].as_i64().expect("index"));
    assert_eq!(entry["type"], "mou.signatures_requested");
    assert_eq!(entry["requests"].as_array().expect("requests").len(), 4);

    // A mayor before the deputies: 409 naming the group that signs first.
    let p = sign_mou(&srv, &c.mayor_a, &c.mou).assert_problem(409, "signing_out_of_order");
    assert_eq!(p["must_sign_first"]["group"], 1, "{p}");
    assert_eq!(
        p["must_sign_first"]["signers"],
        json!(["deputy@cn-sha", "deputy@us-hou"]),
        "{p}"
    );
    // Someone not asked cannot sign while the round is open.
    let mut clerk = Signatory::new(25, "clerk@us-hou", &c.w.a);
    enroll(&srv, &c.w.admin, &mut clerk);
    sign_mou(&srv, &clerk, &c.mou).assert_problem(409, "signer_not_requested");

    let r = sign_mou(&srv, &c.deputy_a, &c.mou);
    assert_eq!(r.status, 201, "{}", r.text());
    let entry = srv.entry(r.json()["log_index"].as_i64().expect("index"));
    assert_eq!(
        entry["request"],
        request_id(&round, "deputy@us-hou"),
        "{entry}"
    );
    // One deputy is not the whole group.
    sign_mou(&srv, &c.mayor_b, &c.mou).assert_problem(409, "signing_out_of_order");
    assert_eq!(sign_mou(&srv, &c.deputy_b, &c.mou).status, 201);
    for s in [&c.mayor_a, &c.mayor_b] {
        let r = sign_mou(&srv, s, &c.mou);
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.json()["state"], "executed");
    }
    let all = requests_of(&srv, &c.mou);
    assert_eq!(all["state"], "executed");
    for (r, seq) in all["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .zip([1, 2, 3, 4])
    {
        assert_eq!(r["state"], "signed", "{r}");
        // Listed by group, then signer: deputy@cn-sha signed second, deputy@us-hou first.
        let expected = match r["signer"].as_str() {
            Some("deputy@us-hou") => 1,
            Some("deputy@cn-sha") => 2,
            Some("mayor@us-hou") => 3,
            _ => 4,
        };
        assert_eq!(r["signature_seq"], expected, "{r} ({seq})");
    }
    // With no request pending, signing is as before requests existed.
    assert_eq!(sign_mou(&srv, &clerk, &c.mou).status, 201);
    audit_passes(&srv);
});

both_backends!(a_signed_decline_ends_the_round, |srv| {
    let c = ceremony(&srv);
    let round = two_groups(&srv, &c);
    let mayor_b = request_id(&round, "mayor@cn-sha");
    let reason =
        "The city council has not approved the exchange programme; see minutes of 3 March.";
    let size = srv.log_size();
    // Signed with another signatory's key: refused, nothing written.
    decline(
        &srv,
        &c.mayor_b,
        &c.deputy_b,
        &c.w.b,
        &c.mou,
        &mayor_b,
        reason,
    )
    .0
    .assert_problem(422, "wrong_key");
    // Submitted by the office of the other city: refused.
    decline(
        &srv, &c.mayor_b, &c.mayor_b, &c.w.a, &c.mou, &mayor_b, reason,
    )
    .0
    .assert_problem(403, "signer_not_of_your_city");
    // A statement for another request (the deputy's) signed by the right key: refused.
    let deputy_b = request_id(&round, "deputy@cn-sha");
    let r = srv.get_as(
        &format!(
            "/api/v1/mous/{}/signature-requests/{deputy_b}/decline-statement?reason=No",
            c.mou
        ),
        &c.w.b,
    );
    let foreign = r.body;
    let sig =
        sshsig::sign(&c.mayor_b.key, &mou_decline_namespace(ORIGIN), &foreign).expect("signs");
    srv.post(
        &format!(
            "/api/v1/mous/{}/signature-requests/{mayor_b}/decline",
            c.mou
        ),
        Some(&c.w.b),
        &json!({"statement": STANDARD.encode(&foreign), "signature": sig}),
    )
    .assert_problem(422, "decline_mismatch");
    assert_eq!(srv.log_size(), size, "refusals wrote nothing");

    // The mayor declines, in group 2, before group 1 signed: declining needs no turn.
    let (r, accepted) = decline(
        &srv, &c.mayor_b, &c.mayor_b, &c.w.b, &c.mou, &mayor_b, reason,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let done = r.json();
    assert_eq!(done["state"], "declined");
    assert_eq!(done["request"]["decline"]["reason"], reason);
    let entry = srv.entry(done["log_index"].as_i64().expect("index"));
    assert_eq!(entry["type"], "mou.request_declined");
    assert_eq!(entry["reason"], reason);
    // The rest of the round is cancelled, in the next entry.
    let next = srv.entry(done["log_index"].as_i64().expect("index") + 1);
    assert_eq!(next["type"], "mou.requests_cancelled");
    assert_eq!(next["cause"], "declined");
    assert_eq!(next["requests"].as_array().expect("ids").len(), 3);
    // The same request cannot be answered twice.
    let decline_path = format!(
        "/api/v1/mous/{}/signature-requests/{mayor_b}/decline",
        c.mou
    );
    srv.post(&decline_path, Some(&c.w.b), &accepted)
        .assert_problem(409, "request_not_pending");
    srv.get_as(
        &format!(
            "/api/v1/mous/{}/signature-requests/{mayor_b}/decline-statement?reason=Again",
            c.mou
        ),
        &c.w.b,
    )
    .assert_problem(409, "request_not_pending");
    // Nobody signs a declined MOU.
    statement_refused(&srv, &c.deputy_a, &c.mou, "mou_declined");
    let all = requests_of(&srv, &c.mou);
    assert_eq!(all["state"], "declined");
    let states: Vec<&str> = all["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["state"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(states, ["cancelled", "cancelled", "declined", "cancelled"]);

    // The MOU's page shows who was asked and the reason.
    let page = srv.get(&format!("/mous/{}", c.mou));
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("mayor@cn-sha"), "{html}");
    assert!(html.contains("The city council has not approved"), "{html}");

    // A new round reopens the MOU; everyone signs at once.
    let r = send_round(
        &srv,
        &c.w.b,
        &c.mou,
        &json!({"deadline": in_days(&srv, 7), "requests": [
            {"signer": "mayor@us-hou"}, {"signer": "mayor@cn-sha"}
        ]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["round"], 2);
    assert_eq!(r.json()["state"], "open");
    for s in [&c.mayor_b, &c.mayor_a] {
        assert_eq!(sign_mou(&srv, s, &c.mou).status, 201);
    }
    assert_eq!(requests_of(&srv, &c.mou)["state"], "executed");
    audit_passes(&srv);
});

/// The registry's clock moved two weeks on: the sweep logs the round's expiry at once.
fn deadlines_expire_rounds(backend: Backend) {
    let offset = Arc::new(AtomicI64::new(0));
    let clock = Clock::shifted(offset.clone());
    let srv = TestServer::start_with(backend, |s| {
        s.clock = clock;
        s.request_sweep_ms = 20;
    });
    let c = ceremony(&srv);
    two_groups(&srv, &c);
    assert_eq!(sign_mou(&srv, &c.deputy_a, &c.mou).status, 201);
    let size = srv.log_size();
    offset.store(15 * DAY_MICROS, Ordering::SeqCst);
    let started = Instant::now();
    while requests_of(&srv, &c.mou)["state"] != "expired" {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the round never expired"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(srv.log_size(), size + 1, "one expiry entry, logged once");
    let entry = srv.entry(size);
    assert_eq!(entry["type"], "mou.requests_expired");
    assert_eq!(entry["requests"].as_array().expect("ids").len(), 3);
    let states: Vec<String> = requests_of(&srv, &c.mou)["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["state"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(states, ["expired", "signed", "expired", "expired"]);
    statement_refused(&srv, &c.deputy_b, &c.mou, "mou_expired");
    // A new version reopens it, and requests may be sent again.
    assert_eq!(
        upload(&srv, &c.w.a, &c.mou, b"Friendship MOU, v2").status,
        201
    );
    let r = send_round(
        &srv,
        &c.w.a,
        &c.mou,
        &json!({"deadline": in_days(&srv, 3), "requests": [
            {"signer": "deputy@us-hou"}, {"signer": "deputy@cn-sha"}
        ]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    audit_passes(&srv);
}

on_both_backends!(deadlines_expire_rounds);

both_backends!(new_versions_and_offices_cancel_pending_requests, |srv| {
    let c = ceremony(&srv);
    two_groups(&srv, &c);
    let size = srv.log_size();
    assert_eq!(
        upload(&srv, &c.w.b, &c.mou, b"Friendship MOU, v2").status,
        201
    );
    let cancelled = srv.entry(size);
    assert_eq!(cancelled["type"], "mou.requests_cancelled");
    assert_eq!(cancelled["cause"], "new_version");
    assert_eq!(cancelled["requests"].as_array().expect("ids").len(), 4);
    assert_eq!(srv.entry(size + 1)["type"], "mou.version_uploaded");
    // With nothing pending, anyone registered signs again.
    let cancel = format!("/api/v1/mous/{}/cancel-requests", c.mou);
    srv.post(&cancel, Some(&c.w.a), &json!({"reason": "Postponed"}))
        .assert_problem(409, "no_pending_requests");
    two_groups(&srv, &c);
    // A third city's office may not cancel; a party office may, with a reason.
    srv.post(&cancel, Some(&c.w.c), &json!({"reason": "No"}))
        .assert_problem(403, "not_a_party");
    srv.post(&cancel, Some(&c.w.a), &json!({"reason": " "}))
        .assert_problem(422, "reason_required");
    let r = srv.post(
        &cancel,
        Some(&c.w.a),
        &json!({"reason": "Visit postponed to May"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["cancelled"].as_array().expect("ids").len(), 4);
    let entry = srv.entry(r.json()["log_index"].as_i64().expect("index"));
    assert_eq!(entry["cause"], "office");
    assert_eq!(entry["city"], "us-hou");
    assert_eq!(entry["reason"], "Visit postponed to May");
    assert_eq!(sign_mou(&srv, &c.mayor_a, &c.mou).status, 201);
    audit_passes(&srv);
});

both_backends!(bad_rounds_are_refused_and_change_nothing, |srv| {
    let c = ceremony(&srv);
    let ok = |requests: Value| json!({"deadline": in_days(&srv, 5), "requests": requests});
    let two = json!([{"signer": "deputy@us-hou"}, {"signer": "deputy@cn-sha"}]);
    let size = srv.log_size();
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("no token", ok(two.clone()), 401, "authentication_required"),
        ("third city", ok(two.clone()), 403, "not_a_party"),
        (
            "past deadline",
            json!({"deadline": "2020-01-01T00:00:00Z", "requests": two}),
            422,
            "invalid_deadline",
        ),
        (
            "too far",
            json!({"deadline": in_days(&srv, 400), "requests": two}),
            422,
            "invalid_deadline",
        ),
        ("nobody", ok(json!([])), 422, "invalid_request_count"),
        (
            "twice",
            ok(json!([{"signer": "deputy@us-hou"}, {"signer": "deputy@us-hou", "group": 2}])),
            422,
            "duplicate_requested_signer",
        ),
        (
            "gap",
            ok(json!([{"signer": "deputy@us-hou"}, {"signer": "deputy@cn-sha", "group": 3}])),
            422,
            "invalid_sequence_groups",
        ),
        (
            "group 0",
            ok(json!([{"signer": "deputy@us-hou", "group": 0}])),
            422,
            "invalid_sequence_groups",
        ),
        (
            "not a party",
            ok(json!([{"signer": "mayor@de-ber"}, {"signer": "deputy@cn-sha"}])),
            422,
            "signer_city_not_party",
        ),
        (
            "no key",
            ok(json!([{"signer": "nobody@us-hou"}, {"signer": "deputy@cn-sha"}])),
            422,
            "signer_not_registered",
        ),
        (
            "wrong role",
            ok(
                json!([{"signer": "deputy@us-hou", "role": "witness"}, {"signer": "deputy@cn-sha"}]),
            ),
            422,
            "signer_not_registered",
        ),
        (
            "one city only",
            ok(json!([{"signer": "deputy@us-hou"}])),
            422,
            "requests_miss_required_signers",
        ),
        (
            "bad signer",
            ok(json!([{"signer": "Deputy Mayor"}])),
            422,
            "invalid_body",
        ),
        (
            "unknown member",
            json!({"deadline": in_days(&srv, 5), "requests": two, "urgent": true}),
            422,
            "unknown_field",
        ),
    ];
    for (what, body, status, code) in cases {
        let token = match what {
            "no token" => None,
            "third city" => Some(c.w.c.as_str()),
            _ => Some(c.w.a.as_str()),
        };
        let r = srv.post(
            &format!("/api/v1/mous/{}/signature-requests", c.mou),
            token,
            &body,
        );
        assert_eq!(r.status, status, "{what}: {}", r.text());
        r.assert_problem(status, code);
    }
    // A draft has nothing to sign.
    let draft = create_mou(&srv, &c.w.a, &c.w.partnership);
    let size_before_draft = srv.log_size();
    send_round(&srv, &c.w.a, &draft, &ok(two.clone())).assert_problem(409, "mou_draft");
    assert_eq!(srv.log_size(), size_before_draft);
    assert_eq!(
        size_before_draft,
        size + 1,
        "only the draft's creation was logged"
    );
    // Unknown MOU and request.
    srv.get("/api/v1/mous/0190b5c8-0000-7000-8000-000000000000/signature-requests")
        .assert_problem(404, "mou_not_found");
    srv.get(&format!(
        "/api/v1/mous/{}/signature-requests/0190b5c8-0000-7000-8000-000000000000",
        c.mou
    ))
    .assert_problem(404, "request_not_found");
    // "cancel" is no request id: a GET there names no request.
    srv.get(&format!("/api/v1/mous/{}/signature-requests/cancel", c.mou))
        .assert_problem(404, "request_not_found");
});

both_backends!(offices_send_and_cancel_rounds_from_the_page, |srv| {
    use crate::browser_forms::Browser;
    let c = ceremony(&srv);
    let houston = Browser::sign_in(&srv, &c.w.a);
    let page = houston.get(&srv, &format!("/mous/{}", c.mou)).text();
    assert!(page.contains("Send version 1 for signature"), "{page}");
    let deadline = &in_days(&srv, 10)[..10];
    let path = format!("/mous/{}/signature-requests", c.mou);
    let r = houston.post(
        &srv,
        &path,
        &[
            ("csrf", houston.csrf.as_str()),
            ("deadline", deadline),
            (
                "signatories",
                "deputy@us-hou 1\r\ndeputy@cn-sha 1 signatory\r\n\r\nmayor@cn-sha 2\r\n",
            ),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let all = requests_of(&srv, &c.mou);
    let asked: Vec<(&str, i64)> = all["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            (
                r["signer"].as_str().unwrap_or_default(),
                r["group"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        asked,
        [
            ("deputy@cn-sha", 1),
            ("deputy@us-hou", 1),
            ("mayor@cn-sha", 2)
        ]
    );
    // A bad round is refused with the API's code, on a page.
    let r = houston.post(
        &srv,
        &path,
        &[
            ("csrf", houston.csrf.as_str()),
            ("deadline", deadline),
            ("signatories", "deputy@us-hou 3"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("sequence groups must be numbered"),
        "{}",
        r.text()
    );
    // Without the CSRF field nothing is sent.
    let size = srv.log_size();
    let r = houston.post(
        &srv,
        &path,
        &[("deadline", deadline), ("signatories", "deputy@us-hou")],
    );
    assert_ne!(r.status, 303, "{}", r.text());
    assert_eq!(srv.log_size(), size);
    let page = houston.get(&srv, &format!("/mous/{}", c.mou)).text();
    assert!(page.contains("Cancel the pending requests"), "{page}");
    let r = houston.post(
        &srv,
        &format!("/mous/{}/cancel-requests", c.mou),
        &[
            ("csrf", houston.csrf.as_str()),
            ("reason", "Visit postponed"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let all = requests_of(&srv, &c.mou);
    assert!(
        all["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .all(|r| r["state"] == "cancelled"),
        "{all}"
    );
});
