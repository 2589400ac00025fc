//! The authorization matrix: every write endpoint against every kind of caller.

use serde_json::{Value, json};

use crate::both_backends_with;
use crate::support::{TestServer, World, status_body};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    OfficeA,
    OfficeB,
    OfficeC,
    Auditor,
    Admin,
    Expired,
    Revoked,
}

const EVERYONE: [Who; 8] = [
    Who::Anonymous,
    Who::OfficeA,
    Who::OfficeB,
    Who::OfficeC,
    Who::Auditor,
    Who::Admin,
    Who::Expired,
    Who::Revoked,
];

struct Tokens {
    w: World,
    expired: String,
    revoked: String,
}

impl Tokens {
    fn of(&self, who: Who) -> Option<&str> {
        match who {
            Who::Anonymous => None,
            Who::OfficeA => Some(&self.w.a),
            Who::OfficeB => Some(&self.w.b),
            Who::OfficeC => Some(&self.w.c),
            Who::Auditor => Some(&self.w.auditor),
            Who::Admin => Some(&self.w.admin),
            Who::Expired => Some(&self.expired),
            Who::Revoked => Some(&self.revoked),
        }
    }
}

fn setup(srv: &TestServer) -> Tokens {
    let w = World::build(srv);
    // An admin token that expired and one that was revoked: admin rights would let them do
    // anything, so these cells prove the checks come before the role.
    let expired = srv.admin();
    srv.db
        .exec(&format!(
            "UPDATE tokens SET expires_at = 1 WHERE token_hash = {}",
            srv.token_hash_sql(&expired)
        ))
        .expect("expire token");
    let revoked = srv.admin();
    srv.db
        .exec(&format!(
            "UPDATE tokens SET revoked_at = 1 WHERE token_hash = {}",
            srv.token_hash_sql(&revoked)
        ))
        .expect("revoke token");
    Tokens {
        w,
        expired,
        revoked,
    }
}

/// A fresh proposed partnership between A and a new city.
fn fresh_proposal(srv: &TestServer, t: &Tokens, n: &mut usize) -> String {
    // New city pairs keep proposals from colliding with each other.
    *n += 1;
    let code = format!("cn-x{n:02}");
    srv.city(&t.w.admin, &code, &format!("Test City {n}"));
    let r = srv.post(
        "/api/v1/partnerships",
        Some(&t.w.a),
        &json!({"cities": ["us-hou", code], "kind": "sister"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

fn expect(who: Who, ok: u16, allowed: &[Who], forbidden: u16) -> u16 {
    match who {
        Who::Anonymous | Who::Expired | Who::Revoked => 401,
        w if allowed.contains(&w) => ok,
        _ => forbidden,
    }
}

// The matrix sends many expired and revoked tokens on purpose; the failure budget per
// address (tested in abuse.rs) is lifted so each answer is the plain 401.
both_backends_with!(matrix, |s| s.auth_failures_per_minute = u32::MAX, |srv| {
    let t = setup(&srv);
    let mut n = 0;
    let mut cells = 0;
    let mut check =
        |endpoint: &str, who: Who, expected: u16, reply: crate::support::Reply, before: i64| {
            assert_eq!(
                reply.status,
                expected,
                "{endpoint} as {who:?}: {}",
                reply.text()
            );
            let after = srv.log_size();
            if expected >= 400 {
                assert_eq!(
                    after, before,
                    "{endpoint} as {who:?} was refused but wrote to the log"
                );
                assert_eq!(
                    reply.header("content-type"),
                    Some("application/problem+json")
                );
            } else {
                assert_eq!(
                    after,
                    before + 1,
                    "{endpoint} as {who:?} must write one entry"
                );
            }
            cells += 1;
        };

    // Admin endpoints.
    for who in EVERYONE {
        let expected = expect(who, 201, &[Who::Admin], 403);
        let code = format!("fr-m{:02}", who as u8);
        let before = srv.log_size();
        let r = srv.post(
            "/api/v1/admin/cities",
            t.of(who),
            &json!({"code": code, "name": "Matrix", "country": "FR"}),
        );
        check("POST /admin/cities", who, expected, r, before);

        let before = srv.log_size();
        let r = srv.post(
            "/api/v1/admin/offices",
            t.of(who),
            &json!({"city": "us-hou", "name": "Second office"}),
        );
        check("POST /admin/offices", who, expected, r, before);

        let before = srv.log_size();
        let r = srv.post(
            "/api/v1/admin/tokens",
            t.of(who),
            &json!({"role": "auditor"}),
        );
        check("POST /admin/tokens", who, expected, r, before);

        let victim = srv.post(
            "/api/v1/admin/tokens",
            Some(&t.w.admin),
            &json!({"role": "auditor"}),
        );
        let victim = victim.json()["id"].as_str().unwrap().to_string();
        let before = srv.log_size();
        let r = srv.send(
            "DELETE",
            &format!("/api/v1/admin/tokens/{victim}"),
            t.of(who),
            None,
        );
        check(
            "DELETE /admin/tokens/{id}",
            who,
            expect(who, 200, &[Who::Admin], 403),
            r,
            before,
        );
    }

    // Proposing: only an office of one of the two cities.
    let kinds = ["friendship", "twinning"];
    let mut used = 0;
    for who in EVERYONE {
        let expected = expect(who, 201, &[Who::OfficeA, Who::OfficeB], 403);
        let kind = if expected == 201 {
            used += 1;
            kinds[used - 1]
        } else {
            "cooperation"
        };
        let before = srv.log_size();
        let r = srv.post(
            "/api/v1/partnerships",
            t.of(who),
            &json!({"cities": ["us-hou", "cn-sha"], "kind": kind}),
        );
        check("POST /partnerships", who, expected, r, before);
    }

    // Confirming: only the partner city's office (the proposer gets a 409).
    for who in EVERYONE {
        let id = if who == Who::OfficeB {
            t.w.partnership.clone()
        } else {
            fresh_proposal(&srv, &t, &mut n)
        };
        let expected = match who {
            Who::OfficeA => 409,
            other => expect(other, 200, &[Who::OfficeB], 403),
        };
        let before = srv.log_size();
        let r = srv.post(
            &format!("/api/v1/partnerships/{id}/confirm"),
            t.of(who),
            &json!({}),
        );
        check("POST /partnerships/{id}/confirm", who, expected, r, before);
    }

    // Status changes: an office of either party.
    for who in EVERYONE {
        let id = fresh_proposal(&srv, &t, &mut n);
        let target_b = who == Who::OfficeB;
        let id = if target_b {
            t.w.partnership.clone()
        } else {
            id
        };
        let expected = expect(who, 201, &[Who::OfficeA, Who::OfficeB], 403);
        let body: Value = if target_b {
            status_body("curtailed", Some("Exchanges suspended"))
        } else {
            status_body("cut_off", Some("Abandoned"))
        };
        let before = srv.log_size();
        let r = srv.post(
            &format!("/api/v1/partnerships/{id}/status"),
            t.of(who),
            &body,
        );
        check("POST /partnerships/{id}/status", who, expected, r, before);
    }
    assert_eq!(cells, 8 * 7);
});
