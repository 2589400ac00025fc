//! Signatory keys over HTTP: proof of possession, single-use challenges, refusals, approval,
//! retirement and revocation.

use ed25519_dalek::SigningKey;
use serde_json::json;

use crate::signing::{Signatory, challenge, register, registration_body};
use crate::support::World;
use crate::{both_backends, both_backends_with};

/// An OpenSSH line over raw key bytes, without any validation.
fn raw_line(key: &[u8; 32]) -> String {
    use base64::Engine;
    let mut blob = Vec::new();
    for part in [b"ssh-ed25519".as_slice(), key.as_slice()] {
        blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
        blob.extend_from_slice(part);
    }
    format!(
        "ssh-ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

both_backends!(registration_with_proof_of_possession, |srv| {
    let w = World::build(&srv);
    let mayor = Signatory::new(1, "mayor@us-hou", &w.a);
    let keys = "/api/v1/cities/us-hou/keys";

    // Challenges: the city's own office only.
    srv.get("/api/v1/cities/us-hou/keys/challenge")
        .assert_problem(401, "authentication_required");
    srv.get_as("/api/v1/cities/us-hou/keys/challenge", &w.b)
        .assert_problem(403, "not_your_city");
    srv.get_as("/api/v1/cities/us-hou/keys/challenge", &w.admin)
        .assert_problem(403, "office_required");

    let size = srv.log_size();
    let c = challenge(&srv, &w.a, "us-hou");
    assert_eq!(srv.log_size(), size, "a challenge is not a registry write");
    let body = registration_body(
        &mayor,
        &c,
        &mayor.public.to_openssh_line_without_comment(),
        &mayor.key,
    );
    // The other city's office cannot register for us-hou.
    srv.post(keys, Some(&w.b), &body)
        .assert_problem(403, "not_your_city");

    // A proof signed by another key is refused, and leaves the challenge usable.
    let other = SigningKey::from_bytes(&[9; 32]);
    let forged = registration_body(
        &mayor,
        &c,
        &mayor.public.to_openssh_line_without_comment(),
        &other,
    );
    srv.post(keys, Some(&w.a), &forged)
        .assert_problem(422, "wrong_key");
    let mut mismatched = body.clone();
    mismatched["role"] = json!("witness");
    srv.post(keys, Some(&w.a), &mismatched)
        .assert_problem(422, "proof_mismatch");
    assert_eq!(srv.log_size(), size);

    let r = srv.post(keys, Some(&w.a), &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let key = r.json();
    assert_eq!(key["status"], "pending");
    assert_eq!(key["fingerprint"], mayor.fingerprint());
    assert_eq!(key["signer"], "mayor@us-hou");
    let id = key["id"].as_str().unwrap().to_string();
    let entry = srv.entry(key["log_index"].as_i64().unwrap());
    assert_eq!(entry["type"], "key.registered");
    assert_eq!(entry["fingerprint"], mayor.fingerprint());

    // Single use; and a key is registered once, to anyone.
    let size = srv.log_size();
    srv.post(keys, Some(&w.a), &body)
        .assert_problem(422, "challenge_used");
    let again = register(&srv, &mayor);
    again.assert_problem(409, "key_already_registered");
    let mut as_other_city = Signatory::new(1, "mayor@cn-sha", &w.b);
    as_other_city.role = "signatory".into();
    register(&srv, &as_other_city).assert_problem(409, "key_already_registered");
    // A challenge issued for one city is unknown to another.
    let foreign = registration_body(
        &Signatory::new(5, "x@cn-sha", &w.b),
        &c,
        &Signatory::new(5, "x@cn-sha", &w.b)
            .public
            .to_openssh_line_without_comment(),
        &SigningKey::from_bytes(&[5; 32]),
    );
    srv.post("/api/v1/cities/cn-sha/keys", Some(&w.b), &foreign)
        .assert_problem(422, "unknown_challenge");

    // Weak (small-order) and non-canonical keys.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut y_plus_p = [0xffu8; 32];
    y_plus_p[0] = 0xed + 3;
    y_plus_p[31] = 0x7f;
    for (bytes, code) in [(identity, "weak_key"), (y_plus_p, "non_canonical_key")] {
        let c = challenge(&srv, &w.a, "us-hou");
        let body = registration_body(&mayor, &c, &raw_line(&bytes), &mayor.key);
        srv.post(keys, Some(&w.a), &body).assert_problem(422, code);
    }
    assert_eq!(srv.log_size(), size);

    // Listing is public and shows the validity window.
    let list = srv.get(keys).json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["valid_from"], json!(null));

    // Approval: admin only, once.
    let approve = format!("/api/v1/keys/{id}/approve");
    srv.post(&approve, Some(&w.a), &json!({}))
        .assert_problem(403, "admin_required");
    let r = srv.post(&approve, Some(&w.admin), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["key"]["status"], "active");
    assert_eq!(
        srv.entry(r.json()["log_index"].as_i64().unwrap())["type"],
        "key.approved"
    );
    srv.post(&approve, Some(&w.admin), &json!({}))
        .assert_problem(409, "key_not_pending");

    // Retire: the key's own office (or admin), not in the past.
    let retire = format!("/api/v1/keys/{id}/retire");
    srv.post(&retire, Some(&w.auditor), &json!({}))
        .assert_problem(403, "office_required");
    srv.post(&retire, Some(&w.b), &json!({}))
        .assert_problem(403, "not_your_city");
    srv.post(&retire, Some(&w.a), &json!({"effective_at": "2020-01-01"}))
        .assert_problem(422, "effective_at_in_past");
    let r = srv.post(
        &retire,
        Some(&w.a),
        &json!({"effective_at": "2999-01-01T00:00:00Z", "reason": "term ends"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["key"]["status"],
        "active",
        "retirement in the future"
    );
    assert_eq!(
        r.json()["key"]["valid_until"],
        "2999-01-01T00:00:00.000000Z"
    );
    srv.post(&retire, Some(&w.a), &json!({}))
        .assert_problem(409, "key_retired");

    // Revoke with unknown compromise time.
    let revoke = format!("/api/v1/keys/{id}/revoke");
    let r = srv.post(&revoke, Some(&w.admin), &json!({"reason": "laptop stolen"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["key"]["status"], "revoked");
    let entry = srv.entry(r.json()["log_index"].as_i64().unwrap());
    assert_eq!(entry["type"], "key.revoked");
    assert_eq!(entry["compromise_time_known"], false);
    srv.post(&revoke, Some(&w.a), &json!({}))
        .assert_problem(409, "key_revoked");
    assert_eq!(
        srv.get(&format!("/api/v1/keys/{id}")).json()["status"],
        "revoked"
    );
    srv.get("/api/v1/keys/none")
        .assert_problem(404, "key_not_found");
});

both_backends_with!(auto_approval, |s| s.auto_approve_keys = true, |srv| {
    let w = World::build(&srv);
    let mayor = Signatory::new(2, "mayor@us-hou", &w.a);
    let r = register(&srv, &mayor);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["status"], "active");
    assert!(r.json()["valid_from"].is_string());
});
