//! The authorization matrix of MOUs, documents, signatures and signatory keys: every endpoint
//! that needs a token, against every kind of caller.

use serde_json::json;

use crate::both_backends_with;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::signing::{Signatory, create_mou, enroll, register, statement, upload};
use crate::support::{Reply, TestServer, World};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    OfficeA,
    OfficeB,
    OfficeC,
    Auditor,
    Admin,
    Revoked,
}

const EVERYONE: [Who; 7] = [
    Who::Anonymous,
    Who::OfficeA,
    Who::OfficeB,
    Who::OfficeC,
    Who::Auditor,
    Who::Admin,
    Who::Revoked,
];

struct Matrix<'a> {
    srv: &'a TestServer,
    w: World,
    revoked: String,
    cells: usize,
}

impl Matrix<'_> {
    fn token(&self, who: Who) -> Option<&str> {
        match who {
            Who::Anonymous => None,
            Who::OfficeA => Some(&self.w.a),
            Who::OfficeB => Some(&self.w.b),
            Who::OfficeC => Some(&self.w.c),
            Who::Auditor => Some(&self.w.auditor),
            Who::Admin => Some(&self.w.admin),
            Who::Revoked => Some(&self.revoked),
        }
    }

    fn expect(who: Who, ok: u16, allowed: &[Who]) -> u16 {
        match who {
            Who::Anonymous | Who::Revoked => 401,
            w if allowed.contains(&w) => ok,
            _ => 403,
        }
    }

    /// Checks one cell: the status, a problem document on refusal, and the log: unchanged on
    /// refusal and for reads, one entry more for an accepted write.
    fn cell(
        &mut self,
        endpoint: &str,
        who: Who,
        expected: u16,
        writes: bool,
        before: i64,
        r: Reply,
    ) {
        assert_eq!(r.status, expected, "{endpoint} as {who:?}: {}", r.text());
        let grown = self.srv.log_size() - before;
        if expected >= 400 {
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
            assert_eq!(grown, 0, "{endpoint} as {who:?} was refused but wrote");
        } else {
            assert_eq!(grown, i64::from(writes), "{endpoint} as {who:?}");
        }
        self.cells += 1;
    }
}

// The matrix sends many expired and revoked tokens on purpose; the failure budget per
// address (tested in abuse.rs) is lifted so each answer is the plain 401.
both_backends_with!(
    mou_and_key_matrix,
    |s| s.auth_failures_per_minute = u32::MAX,
    |srv| {
        let w = World::build(&srv);
        let revoked = srv.admin();
        srv.db
            .exec(&format!(
                "UPDATE tokens SET revoked_at = 1 WHERE token_hash = {}",
                srv.token_hash_sql(&revoked)
            ))
            .unwrap();
        let mut m = Matrix {
            srv: &srv,
            w,
            revoked,
            cells: 0,
        };
        let (a, admin, partnership) = (m.w.a.clone(), m.w.admin.clone(), m.w.partnership.clone());
        let parties = [Who::OfficeA, Who::OfficeB];
        let readers = [Who::OfficeA, Who::OfficeB, Who::Auditor, Who::Admin];
        let mut mayor = Signatory::new(51, "mayor@us-hou", &a);
        enroll(&srv, &admin, &mut mayor);
        let open = create_mou(&srv, &a, &partnership);
        assert_eq!(upload(&srv, &a, &open, b"the text").status, 201);

        for (i, who) in EVERYONE.into_iter().enumerate() {
            let t = m.token(who).map(str::to_string);
            let t = t.as_deref();

            let before = srv.log_size();
            let r = srv.post(
                "/api/v1/mous",
                t,
                &json!({"partnership": partnership, "title": "MOU"}),
            );
            m.cell(
                "POST /mous",
                who,
                Matrix::expect(who, 201, &parties),
                true,
                before,
                r,
            );

            let before = srv.log_size();
            let r = srv.send(
                "POST",
                &format!("/api/v1/mous/{open}/versions"),
                t,
                Some(("text/plain", format!("version by {i}").into_bytes())),
            );
            m.cell(
                "POST /mous/{id}/versions",
                who,
                Matrix::expect(who, 201, &parties),
                true,
                before,
                r,
            );

            let before = srv.log_size();
            let r = srv.send(
                "GET",
                &format!("/api/v1/mous/{open}/versions/1/document"),
                t,
                None,
            );
            m.cell(
                "GET .../versions/{n}/document",
                who,
                Matrix::expect(who, 200, &readers),
                false,
                before,
                r,
            );

            let before = srv.log_size();
            let r = srv.send(
                "GET",
                &format!("/api/v1/mous/{open}/signing-statement?signer=mayor@us-hou"),
                t,
                None,
            );
            m.cell(
                "GET .../signing-statement",
                who,
                Matrix::expect(who, 200, &readers),
                false,
                before,
                r,
            );

            // Signatures: only the office of the signer's city.
            let fresh = create_mou(&srv, &a, &partnership);
            assert_eq!(upload(&srv, &a, &fresh, b"to sign").status, 201);
            let st = statement(&srv, &mayor, &fresh);
            let before = srv.log_size();
            let body = json!({"statement": STANDARD.encode(&st), "signature": mayor.sign(&st)});
            let r = srv.post(&format!("/api/v1/mous/{fresh}/signatures"), t, &body);
            m.cell(
                "POST .../signatures",
                who,
                Matrix::expect(who, 201, &[Who::OfficeA]),
                true,
                before,
                r,
            );

            let before = srv.log_size();
            let r = srv.post(
                &format!("/api/v1/mous/{fresh}/withdraw"),
                t,
                &json!({"reason": "not ratified"}),
            );
            m.cell(
                "POST .../withdraw",
                who,
                Matrix::expect(who, 200, &parties),
                true,
                before,
                r,
            );

            // Keys of us-hou: challenge and registration by its office only.
            let before = srv.log_size();
            let r = srv.send("GET", "/api/v1/cities/us-hou/keys/challenge", t, None);
            m.cell(
                "GET .../keys/challenge",
                who,
                Matrix::expect(who, 200, &[Who::OfficeA]),
                false,
                before,
                r,
            );

            let signatory = Signatory::new(
                u8::try_from(60 + i).unwrap(),
                &format!("deputy{i}@us-hou"),
                &a,
            );
            let c = crate::signing::challenge(&srv, &a, "us-hou");
            let body = crate::signing::registration_body(
                &signatory,
                &c,
                &signatory.public.to_openssh_line_without_comment(),
                &signatory.key,
            );
            let before = srv.log_size();
            let r = srv.post("/api/v1/cities/us-hou/keys", t, &body);
            m.cell(
                "POST /cities/{code}/keys",
                who,
                Matrix::expect(who, 201, &[Who::OfficeA]),
                true,
                before,
                r,
            );

            // Approve, retire, revoke, each on a fresh pending key.
            for (k, action, allowed) in [
                (0, "approve", &[Who::Admin][..]),
                (1, "retire", &[Who::OfficeA, Who::Admin][..]),
                (2, "revoke", &[Who::OfficeA, Who::Admin][..]),
            ] {
                let seed = u8::try_from(100 + i * 3 + k).unwrap();
                let s = Signatory::new(seed, &format!("k{i}{action}@us-hou"), &a);
                let r = register(&srv, &s);
                assert_eq!(r.status, 201, "{}", r.text());
                let id = r.json()["id"].as_str().unwrap().to_string();
                let before = srv.log_size();
                let r = srv.post(&format!("/api/v1/keys/{id}/{action}"), t, &json!({}));
                m.cell(
                    action,
                    who,
                    Matrix::expect(who, 200, allowed),
                    true,
                    before,
                    r,
                );
            }
        }
        assert_eq!(m.cells, EVERYONE.len() * 11);
    }
);
