//! `amity audit` over the signature workflow (docs/signing-workflow.md): it passes on an honest
//! registry with rounds, a signed decline and a second round signed by both cities; it fails,
//! naming the mismatch, when the request table or the MOU's state is rewritten directly in the
//! database; and a decline's signature is an OpenSSH signature that `ssh-keygen -Y verify`
//! checks in the decline namespace only, while a decline signed by `ssh-keygen -Y sign` is
//! accepted.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::audit::audit;
use crate::both_backends;
use crate::signing::{Signatory, create_mou, decline_request, enroll, sign_mou, upload};
use crate::support::{Backend, TestServer, World};

const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";
const DECLINE_NS: &str = "amity-mou-decline-v1@amity.localhost";
const MOU_NS: &str = "amity-mou-v1@amity.localhost";
const REASON: &str = "The city council has not approved the exchange programme yet.";
const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

/// A registry with two MOUs between us-hou and cn-sha, each sent for signature to both
/// mayors (Houston's in group 1, Shanghai's in group 2):
/// - `executed`: Shanghai's mayor declined round 1 with a signed reason (the rest of the round
///   cancelled), then round 2 asked both mayors at once and both signed;
/// - `declined`: Houston's mayor declined round 1, and the MOU stays declined.
struct Registry {
    w: World,
    mayor_a: Signatory,
    mayor_b: Signatory,
    executed: String,
    declined: String,
    /// The request of `executed` that Shanghai's mayor declined.
    executed_decline: String,
    /// The request of `declined` that Houston's mayor declined.
    declined_decline: String,
}

fn send_round(srv: &TestServer, office: &str, mou: &str, requests: Value) -> Value {
    let deadline = amity::domain::dates::format_micros(srv.state.db.now() + 14 * DAY_MICROS);
    let r = srv.post(
        &format!("/api/v1/mous/{mou}/signature-requests"),
        Some(office),
        &json!({"deadline": deadline, "requests": requests}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn in_two_groups() -> Value {
    json!([
        {"signer": "mayor@us-hou", "group": 1},
        {"signer": "mayor@cn-sha", "group": 2},
    ])
}

fn request_of(round: &Value, signer: &str) -> String {
    round["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["signer"] == signer)
        .and_then(|r| r["id"].as_str())
        .expect("a request for the signer")
        .to_string()
}

fn requests_of(srv: &TestServer, mou: &str) -> Value {
    let r = srv.get(&format!("/api/v1/mous/{mou}/signature-requests"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Declines `request` for `s` with [`REASON`]: 201, and the MOU is declined.
fn declines(srv: &TestServer, s: &Signatory, mou: &str, request: &str) {
    let r = decline_request(srv, s, mou, request, REASON);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["state"], "declined", "{}", r.text());
}

fn populate(srv: &TestServer) -> Registry {
    let w = World::build(srv);
    let mut mayor_a = Signatory::new(31, "mayor@us-hou", &w.a);
    let mut mayor_b = Signatory::new(32, "mayor@cn-sha", &w.b);
    enroll(srv, &w.admin, &mut mayor_a);
    enroll(srv, &w.admin, &mut mayor_b);

    let executed = create_mou(srv, &w.a, &w.partnership);
    assert_eq!(
        upload(srv, &w.a, &executed, b"Friendship MOU, v1").status,
        201
    );
    let round = send_round(srv, &w.a, &executed, in_two_groups());
    let executed_decline = request_of(&round, "mayor@cn-sha");
    // Declining needs no turn: group 2 declines before group 1 signed.
    declines(srv, &mayor_b, &executed, &executed_decline);
    let round = send_round(
        srv,
        &w.b,
        &executed,
        json!([{"signer": "mayor@us-hou"}, {"signer": "mayor@cn-sha"}]),
    );
    assert_eq!(round["round"], 2);
    assert_eq!(round["state"], "open");
    for s in [&mayor_b, &mayor_a] {
        let r = sign_mou(srv, s, &executed);
        assert_eq!(r.status, 201, "{}", r.text());
    }
    assert_eq!(requests_of(srv, &executed)["state"], "executed");

    let declined = create_mou(srv, &w.b, &w.partnership);
    assert_eq!(
        upload(srv, &w.b, &declined, b"Exchange MOU, v1").status,
        201
    );
    let round = send_round(srv, &w.b, &declined, in_two_groups());
    let declined_decline = request_of(&round, "mayor@us-hou");
    declines(srv, &mayor_a, &declined, &declined_decline);
    assert_eq!(requests_of(srv, &declined)["state"], "declined");

    Registry {
        w,
        mayor_a,
        mayor_b,
        executed,
        declined,
        executed_decline,
        declined_decline,
    }
}

both_backends!(audit_passes_over_rounds_declines_and_signatures, |srv| {
    let reg = populate(&srv);
    let listed = requests_of(&srv, &reg.executed);
    let states: Vec<(i64, &str, &str)> = listed["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            (
                r["round"].as_i64().unwrap_or_default(),
                r["signer"].as_str().unwrap_or_default(),
                r["state"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (1, "mayor@us-hou", "cancelled"),
            (1, "mayor@cn-sha", "declined"),
            (2, "mayor@cn-sha", "signed"),
            (2, "mayor@us-hou", "signed"),
        ]
    );
    let state = srv.db.dir.path().join("audit-state.json");
    let (ok, text) = audit(&srv, &state);
    assert!(ok, "amity audit failed on an honest registry:\n{text}");
    assert!(text.contains("registry rules hold"), "{text}");
    assert!(
        text.contains("as do the signature requests of 2 MOUs"),
        "{text}"
    );
    // Nobody signs the declined MOU; later writes leave the audit passing, proven consistent
    // with the kept checkpoint.
    srv.get_as(
        &format!(
            "/api/v1/mous/{}/signing-statement?signer=mayor@cn-sha&role=signatory",
            reg.declined
        ),
        &reg.w.b,
    )
    .assert_problem(409, "mou_declined");
    srv.city(&reg.w.admin, "fr-par", "Paris");
    let (ok, text) = audit(&srv, &state);
    assert!(ok, "{text}");
    assert!(text.contains("proven"), "{text}");
});

/// Audits an honest registry (it must pass, keeping the checkpoint), lets `tamper` rewrite the
/// database, audits again and expects a failure of the served state that mentions `expect`.
fn detects(backend: Backend, what: &str, expect: &str, tamper: impl Fn(&TestServer, &Registry)) {
    let srv = TestServer::start(backend);
    let reg = populate(&srv);
    let state = srv.db.dir.path().join("audit-state.json");
    let (ok, text) = audit(&srv, &state);
    assert!(ok, "{what}: the honest registry must pass first:\n{text}");
    tamper(&srv, &reg);
    let (ok, text) = audit(&srv, &state);
    assert!(
        !ok,
        "{what}: the audit passed on a tampered registry:\n{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("FAIL  served state matches the log: "))
        .unwrap_or_else(|| panic!("{what}: no failing served-state line in:\n{text}"));
    assert!(
        line.contains(expect),
        "{what}: expected {expect:?} in:\n{text}"
    );
    // Nothing else fails: the log itself is intact.
    let failing: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failing, [line], "{what}:\n{text}");
}

fn exec(srv: &TestServer, sql: &str) {
    let n = srv.db.exec(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(n, 1, "{sql} changed {n} rows");
}

both_backends!(audit_detects_each_rewritten_request, |srv| {
    let backend = srv.backend();
    drop(srv);
    detects(
        backend,
        "a declined request set to signed",
        "is served as signed but the log says declined",
        |s, reg| {
            exec(
                s,
                &format!(
                    "UPDATE signature_requests SET state = 'signed' WHERE id = '{}'",
                    reg.executed_decline
                ),
            );
        },
    );
    detects(
        backend,
        "a decline's reason rewritten",
        "is served with decline reason \"Approved after all\" but the log says \"The city \
         council has not approved the exchange programme yet.\"",
        |s, reg| {
            exec(
                s,
                &format!(
                    "UPDATE signature_requests SET decline_reason = 'Approved after all' \
                     WHERE id = '{}'",
                    reg.declined_decline
                ),
            );
        },
    );
    detects(
        backend,
        "a request moved to another sequence group",
        "is served with group 1 but the log says 2",
        |s, reg| {
            exec(
                s,
                &format!(
                    "UPDATE signature_requests SET sequence_group = 1 WHERE id = '{}'",
                    reg.executed_decline
                ),
            );
        },
    );
    detects(
        backend,
        "a declined MOU reopened in its table",
        "is served as open but the log's last round ended declined",
        |s, reg| {
            exec(
                s,
                &format!(
                    "UPDATE mous SET state = 'open' WHERE id = '{}'",
                    reg.declined
                ),
            );
        },
    );
});

fn run(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(SSH_KEYGEN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("ssh-keygen must be installed: {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `ssh-keygen -Y verify` of `statement` against the signature in `sig_file`, by `signer`
/// in `namespace`.
fn ssh_verify(
    allowed: &Path,
    signer: &str,
    namespace: &str,
    sig_file: &Path,
    statement: &[u8],
) -> Output {
    run(
        &[
            "-Y",
            "verify",
            "-f",
            p(allowed),
            "-I",
            signer,
            "-n",
            namespace,
            "-s",
            p(sig_file),
        ],
        statement,
    )
}

both_backends!(declines_interoperate_with_ssh_keygen, |srv| {
    let reg = populate(&srv);
    let dir = tempfile::tempdir().unwrap();

    // The decline as served: its statement, signature and namespace, the same as the log's.
    let listed = requests_of(&srv, &reg.executed);
    let served = listed["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["id"] == reg.executed_decline.as_str())
        .expect("the declined request")
        .clone();
    assert_eq!(served["state"], "declined");
    let decline = &served["decline"];
    assert_eq!(decline["reason"], REASON);
    assert_eq!(decline["namespace"], DECLINE_NS);
    let statement = STANDARD
        .decode(decline["statement"].as_str().expect("statement"))
        .expect("base64");
    let signature = decline["signature"].as_str().expect("signature");
    let entry = srv.entry(served["answer_log_index"].as_i64().expect("answer entry"));
    assert_eq!(entry["type"], "mou.request_declined");
    assert_eq!(entry["request"], reg.executed_decline.as_str());
    assert_eq!(entry["reason"], REASON);
    assert_eq!(
        entry["statement"].as_str().map(str::as_bytes),
        Some(&statement[..])
    );
    assert_eq!(entry["signature"], signature);

    // `ssh-keygen -Y verify` accepts it under Shanghai's mayor's key in the decline namespace,
    // and refuses it in the MOU signing namespace: a decline never passes for a signature.
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(
        &allowed,
        format!(
            "mayor@cn-sha {}\nmayor@us-hou {}\n",
            reg.mayor_b.public.to_openssh_line_without_comment(),
            reg.mayor_a.public.to_openssh_line_without_comment()
        ),
    )
    .unwrap();
    let sig_file = dir.path().join("decline.json.sig");
    std::fs::write(&sig_file, signature).unwrap();
    let out = ssh_verify(&allowed, "mayor@cn-sha", DECLINE_NS, &sig_file, &statement);
    assert!(out.status.success(), "ssh-keygen -Y verify: {}", said(&out));
    assert!(
        said(&out)
            .contains("Good \"amity-mou-decline-v1@amity.localhost\" signature for mayor@cn-sha"),
        "{}",
        said(&out)
    );
    let out = ssh_verify(&allowed, "mayor@cn-sha", MOU_NS, &sig_file, &statement);
    assert!(
        !out.status.success(),
        "verified in the MOU namespace: {}",
        said(&out)
    );
    // Nor does it pass for another signatory, or over other bytes.
    let out = ssh_verify(&allowed, "mayor@us-hou", DECLINE_NS, &sig_file, &statement);
    assert!(
        !out.status.success(),
        "verified for another signer: {}",
        said(&out)
    );
    let mut edited = statement.clone();
    let at = edited.len() / 2;
    edited[at] ^= 1;
    let out = ssh_verify(&allowed, "mayor@cn-sha", DECLINE_NS, &sig_file, &edited);
    assert!(
        !out.status.success(),
        "verified edited bytes: {}",
        said(&out)
    );

    // A decline signed by `ssh-keygen -Y sign` with Houston's mayor's key, written as the
    // OpenSSH private key file `ssh-keygen -N ''` makes. A new round reopens the declined MOU.
    let round = send_round(&srv, &reg.w.a, &reg.declined, in_two_groups());
    assert_eq!(round["round"], 2);
    let request = request_of(&round, "mayor@us-hou");
    let key_file = dir.path().join("mayor_us_hou");
    let private =
        amity::crypto::keys::private_key_to_openssh(&reg.mayor_a.key, "mayor@us-hou").unwrap();
    std::fs::write(&key_file, private.as_bytes()).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let path = format!("/api/v1/mous/{}/signature-requests/{request}", reg.declined);
    let r = srv.get_as(
        &format!("{path}/decline-statement?reason=Awaiting+the+budget+vote"),
        &reg.w.a,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let statement = r.body;
    let st_file = dir.path().join("decline2.json");
    std::fs::write(&st_file, &statement).unwrap();
    let sign = |namespace: &str| -> String {
        let out = run(
            &[
                "-Y",
                "sign",
                "-f",
                p(&key_file),
                "-n",
                namespace,
                p(&st_file),
            ],
            b"",
        );
        assert!(out.status.success(), "ssh-keygen -Y sign: {}", said(&out));
        std::fs::read_to_string(dir.path().join("decline2.json.sig")).unwrap()
    };
    // Signed in the MOU namespace: refused, nothing logged.
    let size = srv.log_size();
    let wrong = sign(MOU_NS);
    std::fs::remove_file(dir.path().join("decline2.json.sig")).unwrap();
    srv.post(
        &format!("{path}/decline"),
        Some(&reg.w.a),
        &json!({"statement": STANDARD.encode(&statement), "signature": wrong}),
    )
    .assert_problem(422, "wrong_namespace");
    assert_eq!(srv.log_size(), size, "a refused decline logs nothing");
    // Signed in the decline namespace: accepted.
    let signature = sign(DECLINE_NS);
    let r = srv.post(
        &format!("{path}/decline"),
        Some(&reg.w.a),
        &json!({"statement": STANDARD.encode(&statement), "signature": signature}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let done = r.json();
    assert_eq!(done["state"], "declined");
    assert_eq!(
        done["request"]["decline"]["reason"],
        "Awaiting the budget vote"
    );
    assert_eq!(done["request"]["decline"]["signature"], signature.as_str());
    let entry = srv.entry(done["log_index"].as_i64().expect("log index"));
    assert_eq!(entry["type"], "mou.request_declined");
    assert_eq!(entry["signature"], signature.as_str());
    // ... and it verifies with ssh-keygen as logged.
    let sig_file = dir.path().join("decline2.sig");
    std::fs::write(&sig_file, entry["signature"].as_str().unwrap()).unwrap();
    let logged = entry["statement"].as_str().expect("statement");
    let out = ssh_verify(
        &allowed,
        "mayor@us-hou",
        DECLINE_NS,
        &sig_file,
        logged.as_bytes(),
    );
    assert!(out.status.success(), "ssh-keygen -Y verify: {}", said(&out));

    // The audit replays both declines (their signatures verified under the logged keys) and
    // finds the served workflow the log's.
    let state = srv.db.dir.path().join("audit-state.json");
    let (ok, text) = audit(&srv, &state);
    assert!(ok, "{text}");
});
