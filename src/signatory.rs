//! The signatory's side of the command line: `keygen`, `keys register`, `sign` and `verify`.
//! Private keys are read from local files and never leave this process; only public keys,
//! statements and signatures go to the server.

use std::path::Path;

use serde_json::{Value, json};

use crate::crypto::keys::{self, KeyPair, PublicKey};
use crate::crypto::sshsig;
use crate::crypto::statement::{
    KeyRegistrationStatement, MouSignatureStatement, key_event_namespace, mou_signature_namespace,
    sha256_hex,
};
use amity_verify_cli::ClientError;

/// How often `sign` re-fetches and re-signs when another signature took its chain position.
const MAX_SIGN_ATTEMPTS: usize = 5;

fn unreachable(what: &str) -> impl Fn(String) -> ClientError + '_ {
    move |e| ClientError::Unreachable(format!("{what}: {e}"))
}

/// A small HTTP client for the registry API.
pub struct Client {
    agent: ureq::Agent,
    server: String,
    token: String,
    timeouts: Timeouts,
}

/// How long the client waits; a registry that accepts the connection and then says nothing
/// must end the command with an error, not leave it hanging for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the connection.
    pub connect: std::time::Duration,
    /// For one whole exchange: connecting, sending, and reading the full answer.
    pub overall: std::time::Duration,
}

/// A response read fully.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The problem document's code and detail, for error messages.
    fn problem(&self) -> String {
        let p = self.json();
        match (
            p.get("code").and_then(Value::as_str),
            p.get("detail").and_then(Value::as_str),
        ) {
            (Some(code), Some(detail)) => format!("{} {code}: {detail}", self.status),
            _ => format!("{} {}", self.status, String::from_utf8_lossy(&self.body)),
        }
    }
}

impl Client {
    pub fn new(server: &str, token: &str, timeouts: Timeouts) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(timeouts.connect))
            .timeout_global(Some(timeouts.overall))
            .build()
            .into();
        Client {
            agent,
            server: server.trim_end_matches('/').to_string(),
            token: token.to_string(),
            timeouts,
        }
    }

    /// The operator's message for a failed exchange; a timeout says which limit ran out and
    /// how to raise it.
    fn failure(&self, e: ureq::Error) -> ClientError {
        match e {
            ureq::Error::Timeout(ureq::Timeout::Connect) => ClientError::Unreachable(format!(
                "{}: could not connect within {} s (--connect-timeout, AMITY_CONNECT_TIMEOUT)",
                self.server,
                self.timeouts.connect.as_secs_f64()
            )),
            ureq::Error::Timeout(_) => ClientError::Unreachable(format!(
                "{}: no complete answer within {} s; the registry may be down or overloaded \
                 (--timeout, AMITY_HTTP_TIMEOUT)",
                self.server,
                self.timeouts.overall.as_secs_f64()
            )),
            other => unreachable(&self.server)(other.to_string()),
        }
    }

    fn finish(&self, mut res: ureq::http::Response<ureq::Body>) -> Result<Reply, ClientError> {
        let status = res.status().as_u16();
        let body = res
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| self.failure(e))?;
        Ok(Reply { status, body })
    }

    pub fn get(&self, path: &str) -> Result<Reply, ClientError> {
        let res = self
            .agent
            .get(format!("{}{path}", self.server))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .map_err(|e| self.failure(e))?;
        self.finish(res)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Reply, ClientError> {
        let res = self
            .agent
            .post(format!("{}{path}", self.server))
            .header("Authorization", format!("Bearer {}", self.token))
            .send_json(body)
            .map_err(|e| self.failure(e))?;
        self.finish(res)
    }
}

/// Percent-encodes a query value (fingerprints hold `+`, `/` and `=`).
fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn read_key(path: &Path) -> Result<KeyPair, ClientError> {
    keys::read_private_key_file(path)
        .map_err(|e| ClientError::File(format!("cannot use the key {}: {e}", path.display())))
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `amity keygen`: writes FILE (private, mode 0600) and FILE.pub, OpenSSH format.
pub fn keygen(file: &Path, comment: &str) -> Result<(), ClientError> {
    let signing = keys::generate_signing_key();
    let public = keys::write_keypair_files(file, &signing, comment)
        .map_err(|e| ClientError::File(format!("cannot write {}: {e}", file.display())))?;
    println!("{}", public.to_openssh_line());
    eprintln!(
        "wrote {} (private, keep it on this machine) and {}.pub\nfingerprint {}",
        file.display(),
        file.display(),
        public.fingerprint()
    );
    Ok(())
}

/// `amity keys register`: fetches a challenge, signs the key-registration statement with the
/// key itself (proof of possession), and submits the public key with that proof.
pub fn register_key(
    client: &Client,
    key_file: &Path,
    signer: &str,
    role: &str,
    city: &str,
) -> Result<Value, ClientError> {
    let pair = read_key(key_file)?;
    let r = client.get(&format!(
        "/api/v1/cities/{}/keys/challenge",
        query_value(city)
    ))?;
    if r.status != 200 {
        return Err(ClientError::Refused(format!(
            "challenge refused: {}",
            r.problem()
        )));
    }
    let c = r.json();
    let (Some(challenge), Some(registry)) = (
        c.get("challenge").and_then(Value::as_str),
        c.get("registry").and_then(Value::as_str),
    ) else {
        return Err(ClientError::Refused("the server sent no challenge".into()));
    };
    let statement = KeyRegistrationStatement {
        action: KeyRegistrationStatement::ACTION.into(),
        challenge: challenge.into(),
        city: city.into(),
        public_key: pair.public_key.to_openssh_line_without_comment(),
        registry: registry.into(),
        role: role.into(),
        signer: signer.into(),
        r#type: KeyRegistrationStatement::type_for(registry),
    };
    let bytes = statement
        .to_bytes()
        .map_err(|e| ClientError::Invalid(format!("cannot build the statement: {e}")))?;
    let signature = sshsig::sign(&pair.signing_key, &key_event_namespace(registry), &bytes)
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    let r = client.post(
        &format!("/api/v1/cities/{}/keys", query_value(city)),
        &json!({
            "signer": signer,
            "role": role,
            "public_key": pair.public_key.to_openssh_line(),
            "proof": {"statement": b64(&bytes), "signature": signature},
        }),
    )?;
    if r.status != 201 {
        return Err(ClientError::Refused(format!(
            "registration refused: {}",
            r.problem()
        )));
    }
    Ok(r.json())
}

/// What `amity sign` asks for.
pub struct SignRequest<'a> {
    pub key_file: &'a Path,
    pub mou: &'a str,
    /// Every document of the version the signatory reviewed (one per language).
    pub documents: &'a [std::path::PathBuf],
    pub signer: Option<&'a str>,
    pub role: Option<&'a str>,
}

/// Checks the offered statement against what the signatory holds: this MOU, this key, and
/// the documents they reviewed, every one of the version's. A server that offers anything
/// else gets no signature.
fn check_offer(
    st: &MouSignatureStatement,
    mou: &str,
    key: &PublicKey,
    reviewed: &[String],
) -> Result<(), ClientError> {
    if st.mou_id != mou {
        return Err(ClientError::Invalid(format!(
            "the server offered a statement for MOU {}, not {mou}",
            st.mou_id
        )));
    }
    if !st.signer_key_matches(key) {
        return Err(ClientError::Invalid(format!(
            "the statement names key {}, but your key is {}",
            st.signer_key,
            key.fingerprint()
        )));
    }
    // The version's documents by hash, whatever their languages: each must be one the
    // signatory reviewed, and each reviewed file one of them.
    let mut offered: Vec<String> = st
        .committed_documents()
        .into_iter()
        .map(|d| match d.rsplit_once(':') {
            Some((_, hash)) => hash.to_string(),
            None => d,
        })
        .collect();
    offered.sort_unstable();
    let mut reviewed_sorted = reviewed.to_vec();
    reviewed_sorted.sort_unstable();
    reviewed_sorted.dedup();
    if offered != reviewed_sorted {
        return Err(ClientError::Invalid(format!(
            "refusing to sign: your documents have SHA-256 {}, but version {} of the MOU has {}",
            reviewed.join(", "),
            st.mou_version,
            st.documents_text()
        )));
    }
    Ok(())
}

/// `amity sign`: downloads the statement at the chain head, checks it against the local
/// document and key, shows it, signs it, submits it; re-fetches and re-signs when another
/// signature took the chain position first.
pub fn sign(client: &Client, req: SignRequest<'_>) -> Result<Value, ClientError> {
    let pair = read_key(req.key_file)?;
    let mut reviewed = Vec::with_capacity(req.documents.len());
    for path in req.documents {
        let doc = std::fs::read(path)
            .map_err(|e| ClientError::File(format!("cannot read {}: {e}", path.display())))?;
        reviewed.push(sha256_hex(&doc));
    }
    let mut query = format!("key={}", query_value(&pair.public_key.fingerprint()));
    if let Some(s) = req.signer {
        query.push_str(&format!("&signer={}", query_value(s)));
    }
    if let Some(r) = req.role {
        query.push_str(&format!("&role={}", query_value(r)));
    }
    let path = format!(
        "/api/v1/mous/{}/signing-statement?{query}",
        query_value(req.mou)
    );
    for attempt in 1..=MAX_SIGN_ATTEMPTS {
        let r = client.get(&path)?;
        if r.status != 200 {
            return Err(ClientError::Refused(format!(
                "no statement to sign: {}",
                r.problem()
            )));
        }
        let st = MouSignatureStatement::parse_strict(&r.body).map_err(|e| {
            ClientError::Invalid(format!("the server's statement is not canonical: {e}"))
        })?;
        check_offer(&st, req.mou, &pair.public_key, &reviewed)?;
        eprintln!(
            "Signing MOU {} version {} (documents {})\n  as {} ({}) of {} with key {}\n  chain position {} after {}\n  registry {}",
            st.mou_id,
            st.mou_version,
            st.documents_text(),
            st.signer,
            st.role,
            st.signer_city,
            st.signer_key,
            st.seq,
            st.prev,
            st.registry
        );
        let signature = sshsig::sign(
            &pair.signing_key,
            &mou_signature_namespace(&st.registry),
            &r.body,
        )
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
        let sub = client.post(
            &format!("/api/v1/mous/{}/signatures", query_value(req.mou)),
            &json!({"statement": b64(&r.body), "signature": signature}),
        )?;
        match sub.status {
            201 => return Ok(sub.json()),
            409 if sub.json().get("code").and_then(Value::as_str) == Some("stale_chain_head")
                && attempt < MAX_SIGN_ATTEMPTS =>
            {
                eprintln!(
                    "another signature took position {}; fetching the new head",
                    st.seq
                );
            }
            _ => {
                return Err(ClientError::Refused(format!(
                    "signature refused: {}",
                    sub.problem()
                )));
            }
        }
    }
    Err(ClientError::Refused(
        "the chain kept moving; try again".into(),
    ))
}

/// `amity verify --statement --signature --key`: checks one signature offline.
pub fn verify(statement: &Path, signature: &Path, key: &str) -> Result<String, ClientError> {
    let bytes = std::fs::read(statement)
        .map_err(|e| ClientError::File(format!("cannot read {}: {e}", statement.display())))?;
    let armored = std::fs::read_to_string(signature)
        .map_err(|e| ClientError::File(format!("cannot read {}: {e}", signature.display())))?;
    amity_verify::offline::check_signature(&bytes, &armored, key)
        .map_err(|e| ClientError::Invalid(e.to_string()))
}
