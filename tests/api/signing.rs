//! Test-side signatories: key registration with proof of possession, MOU setup, statements
//! signed the way a signatory's own machine signs them.

#![allow(dead_code)]

use amity::crypto::keys::PublicKey;
use amity::crypto::sshsig;
use amity::crypto::statement::{
    KeyRegistrationStatement, MouSignatureStatement, key_event_namespace, mou_signature_namespace,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use crate::support::{Http, Reply};

pub const ORIGIN: &str = "amity.localhost";

/// A signatory: their private key (never sent), their handle and the office that acts for them.
pub struct Signatory {
    pub key: SigningKey,
    pub public: PublicKey,
    pub signer: String,
    pub city: String,
    pub role: String,
    pub office: String,
    pub key_id: String,
}

impl Signatory {
    pub fn new(seed: u8, signer: &str, office: &str) -> Signatory {
        Signatory::with_key(SigningKey::from_bytes(&[seed; 32]), signer, office)
    }

    /// A signatory with a key of the caller's choosing (tests that need more than 256 keys).
    pub fn with_key(key: SigningKey, signer: &str, office: &str) -> Signatory {
        let city = signer.rsplit_once('@').expect("handle@city").1.to_string();
        Signatory {
            public: PublicKey::from_signing_key(&key),
            key,
            signer: signer.into(),
            city,
            role: "signatory".into(),
            office: office.into(),
            key_id: String::new(),
        }
    }

    pub fn fingerprint(&self) -> String {
        self.public.fingerprint()
    }

    /// Signs arbitrary statement bytes for an MOU.
    pub fn sign(&self, bytes: &[u8]) -> String {
        sshsig::sign(&self.key, &mou_signature_namespace(ORIGIN), bytes).expect("signs")
    }
}

pub fn challenge(srv: &impl Http, office: &str, city: &str) -> String {
    let r = srv.get_as(&format!("/api/v1/cities/{city}/keys/challenge"), office);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["challenge"]
        .as_str()
        .expect("challenge")
        .to_string()
}

/// The proof-of-possession body for `key_line`, signed by `signing`.
pub fn registration_body(
    s: &Signatory,
    challenge: &str,
    key_line: &str,
    signing: &SigningKey,
) -> Value {
    let statement = KeyRegistrationStatement {
        action: "register".into(),
        challenge: challenge.into(),
        city: s.city.clone(),
        public_key: key_line.into(),
        registry: ORIGIN.into(),
        role: s.role.clone(),
        signer: s.signer.clone(),
        r#type: KeyRegistrationStatement::type_for(ORIGIN),
    };
    // A statement for a key we refuse (weak, non-canonical) cannot be built by `to_bytes`,
    // which validates; serialize it directly so the server is the one to refuse it.
    let bytes = serde_json::to_vec(&statement).expect("json");
    let sig = sshsig::sign(signing, &key_event_namespace(ORIGIN), &bytes).expect("signs");
    json!({
        "signer": s.signer,
        "role": s.role,
        "public_key": key_line,
        "proof": {"statement": STANDARD.encode(&bytes), "signature": sig},
    })
}

/// Registers the signatory's key; returns the reply.
pub fn register(srv: &impl Http, s: &Signatory) -> Reply {
    let c = challenge(srv, &s.office, &s.city);
    let body = registration_body(s, &c, &s.public.to_openssh_line_without_comment(), &s.key);
    srv.post(
        &format!("/api/v1/cities/{}/keys", s.city),
        Some(&s.office),
        &body,
    )
}

/// Registers and approves the key; fills in `key_id`.
pub fn enroll(srv: &impl Http, admin: &str, s: &mut Signatory) {
    let r = register(srv, s);
    assert_eq!(r.status, 201, "{}", r.text());
    s.key_id = r.json()["id"].as_str().expect("id").to_string();
    let r = srv.post(
        &format!("/api/v1/keys/{}/approve", s.key_id),
        Some(admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

pub fn create_mou(srv: &impl Http, office: &str, partnership: &str) -> String {
    let r = srv.post(
        "/api/v1/mous",
        Some(office),
        &json!({"partnership": partnership, "title": "Memorandum of Understanding on Friendship"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().expect("id").to_string()
}

pub fn upload(srv: &impl Http, office: &str, mou: &str, bytes: &[u8]) -> Reply {
    srv.send(
        "POST",
        &format!("/api/v1/mous/{mou}/versions?filename=mou.txt"),
        Some(office),
        Some(("text/plain; charset=utf-8", bytes.to_vec())),
    )
}

/// The statement the server offers `s` at the current head.
pub fn statement(srv: &impl Http, s: &Signatory, mou: &str) -> Vec<u8> {
    let r = srv.get_as(
        &format!(
            "/api/v1/mous/{mou}/signing-statement?signer={}&role={}",
            s.signer, s.role
        ),
        &s.office,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.body
}

pub fn submit(
    srv: &impl Http,
    office: &str,
    mou: &str,
    statement: &[u8],
    signature: &str,
) -> Reply {
    srv.post(
        &format!("/api/v1/mous/{mou}/signatures"),
        Some(office),
        &json!({"statement": STANDARD.encode(statement), "signature": signature}),
    )
}

/// Fetches the statement, signs it, submits it.
pub fn sign_mou(srv: &impl Http, s: &Signatory, mou: &str) -> Reply {
    let st = statement(srv, s, mou);
    submit(srv, &s.office, mou, &st, &s.sign(&st))
}

/// Declines signature request `request` of `mou` for `s`, with `reason`: fetches the decline
/// statement, signs it with the signatory's key, submits it through their office.
pub fn decline_request(
    srv: &impl Http,
    s: &Signatory,
    mou: &str,
    request: &str,
    reason: &str,
) -> Reply {
    let path = format!("/api/v1/mous/{mou}/signature-requests/{request}");
    let query: String = url::form_urlencoded::byte_serialize(reason.as_bytes()).collect();
    let r = srv.get_as(
        &format!("{path}/decline-statement?reason={query}"),
        &s.office,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let signature = sshsig::sign(
        &s.key,
        &amity::crypto::statement::mou_decline_namespace(ORIGIN),
        &r.body,
    )
    .expect("signs");
    srv.post(
        &format!("{path}/decline"),
        Some(&s.office),
        &json!({"statement": STANDARD.encode(&r.body), "signature": signature}),
    )
}

/// Parses statement bytes.
pub fn parse(bytes: &[u8]) -> MouSignatureStatement {
    MouSignatureStatement::parse_strict(bytes).expect("canonical statement")
}

/// The audit report.
pub fn audit(srv: &impl Http, mou: &str) -> Value {
    let r = srv.get(&format!("/api/v1/mous/{mou}/audit"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// The failing checks of an audit report, as (check, subject).
pub fn failures(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["result"] != "pass")
        .map(|c| {
            (
                c["check"].as_str().unwrap_or_default().to_string(),
                c["subject"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
