//! Prepares a running Amity server for the load benchmark (`bench/load.sh`), through its
//! public HTTP API only, and writes the request bodies the load generator sends.
//!
//! It creates two cities with an office each, a partnership, `--signers` signatories per city
//! (keys registered with proof of possession; the server runs with `--auto-approve-keys`), and
//! `--groups` x `--mous` MOUs with one document version each. Then it signs, with the project's
//! own SSHSIG and statement code, every signatory's statement on every MOU as a chain
//! (position 1 by the first signatory, position 2 naming the hash of position 1, ...), and writes
//! one file per group, `sig-<group>.tsv`, ordered by chain position so that a request never
//! arrives before the one it follows (each load run uses its own group). Lines are
//! `<mou id>\t<office token>\t<JSON body>`.
//!
//! It also writes `partnerships.txt` (ids for the read scenario), `upload.tsv` (a draft MOU
//! and its office token, for document uploads) and `log_size.txt`.
//!
//! With `--block N` the file is written block by block of N MOUs, every position of a block
//! before the next block, so that MOUs execute (and notify) all through a run instead of only
//! once the first positions of every MOU are signed (`bench/outbox.sh`).
//!
//! Usage: cargo run --release --example loadprep -- BASE_URL ADMIN_TOKEN OUT_DIR
//!        [--groups N] [--mous N] [--signers N] [--block N]

// Test and benchmark harness code: a panic is how it reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use amity::crypto::keys::PublicKey;
use amity::crypto::sshsig;
use amity::crypto::statement::{
    GENESIS_PREV, KeyRegistrationStatement, MouSignatureStatement, key_event_namespace,
    mou_signature_namespace, sha256_hex,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

const ORIGIN: &str = "amity.localhost";
const CITIES: [&str; 2] = ["aq-mcm", "aq-vos"];
/// Concurrent setup clients: enough to keep the server's group commit busy.
const CLIENTS: usize = 8;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Api {
    base: String,
}

impl Api {
    fn call(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {token}");
        let mut resp = match (method, body) {
            ("GET", _) => ureq::get(&url).header("Authorization", &auth).call()?,
            (_, Some(b)) => ureq::post(&url)
                .header("Authorization", &auth)
                .send_json(b)?,
            (_, None) => ureq::post(&url)
                .header("Authorization", &auth)
                .send_empty()?,
        };
        Ok(resp.body_mut().read_json::<Value>()?)
    }

    fn upload(&self, mou: &str, token: &str, doc: &[u8]) -> Result<()> {
        ureq::post(&format!(
            "{}/api/v1/mous/{mou}/versions?filename=mou.txt",
            self.base
        ))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "text/plain; charset=utf-8")
        .send(doc)?;
        Ok(())
    }
}

fn str_of(v: &Value, field: &str) -> Result<String> {
    v[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("reply has no `{field}`: {v}").into())
}

struct Signer {
    key: SigningKey,
    handle: String,
    city: usize,
    fingerprint: String,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, admin, out, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: loadprep BASE_URL ADMIN_TOKEN OUT_DIR [--groups N] [--mous N] [--signers N] [--block N]"
                .into(),
        );
    };
    let mut groups = 5usize;
    let mut mous = 1000usize;
    let mut signers = 25usize;
    let mut block = 0usize;
    for pair in rest.chunks(2) {
        let value: usize = pair.get(1).ok_or("missing value")?.parse()?;
        match pair[0].as_str() {
            "--groups" => groups = value,
            "--mous" => mous = value,
            "--signers" => signers = value,
            "--block" => block = value,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let api = Api { base: base.clone() };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;

    let mut offices = Vec::new();
    for code in CITIES {
        api.call(
            "POST",
            "/api/v1/admin/cities",
            admin,
            Some(&json!({"code": code, "name": format!("Station {code}"), "country": "AQ", "lat": -77.8, "lon": 166.7})),
        )?;
        let office = api.call(
            "POST",
            "/api/v1/admin/offices",
            admin,
            Some(&json!({"city": code, "name": format!("Office of {code}")})),
        )?;
        let token = api.call(
            "POST",
            "/api/v1/admin/tokens",
            admin,
            Some(&json!({"role": "office", "office": str_of(&office, "id")?})),
        )?;
        offices.push(str_of(&token, "token")?);
    }
    let partnership = str_of(
        &api.call(
            "POST",
            "/api/v1/partnerships",
            &offices[0],
            Some(&json!({"cities": CITIES, "kind": "sister", "established": "1979"})),
        )?,
        "id",
    )?;

    let mut people = Vec::new();
    for (city, code) in CITIES.iter().enumerate() {
        for n in 0..signers {
            let mut seed = [0u8; 32];
            seed[0] = city as u8 + 1;
            seed[1..9].copy_from_slice(&(n as u64).to_le_bytes());
            let key = SigningKey::from_bytes(&seed);
            let public = PublicKey::from_signing_key(&key);
            let handle = format!("signer{n}@{code}");
            register(&api, &offices[city], code, &handle, &key, &public)?;
            people.push(Signer {
                key,
                handle,
                city,
                fingerprint: public.fingerprint(),
            });
        }
    }
    eprintln!("loadprep: {} signatories registered", people.len());

    // MOUs: created and given a version by CLIENTS threads at once.
    let total = groups * mous;
    let created: Vec<Result<Vec<(String, String)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let (api, office, partnership) = (&api, &offices[0], &partnership);
                s.spawn(move || -> Result<Vec<(String, String)>> {
                    let mut mine = Vec::new();
                    for i in (t..total).step_by(CLIENTS) {
                        let mou = str_of(
                            &api.call(
                                "POST",
                                "/api/v1/mous",
                                office,
                                Some(&json!({"partnership": partnership, "title": format!("Memorandum {i}")})),
                            )?,
                            "id",
                        )?;
                        let doc = format!("Memorandum of Understanding number {i}.\n");
                        api.upload(&mou, office, doc.as_bytes())?;
                        mine.push((mou, sha256_hex(doc.as_bytes())));
                    }
                    Ok(mine)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("setup thread panicked".into()))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(total);
    for part in created {
        all.extend(part?);
    }
    eprintln!("loadprep: {} MOUs with a version", all.len());

    // Sign: one thread per group.
    let signed_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = all
            .chunks(mous)
            .enumerate()
            .map(|(g, chunk)| {
                let (people, offices, out, signed_at) = (&people, &offices, &out, &signed_at);
                s.spawn(move || {
                    write_group(
                        &out.join(format!("sig-{g}.tsv")),
                        chunk,
                        people,
                        offices,
                        signed_at,
                        block,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("signing thread panicked".into()))
            })
            .collect()
    });
    for r in results {
        r?;
    }

    // For the read and upload scenarios.
    let page = api.call("GET", "/api/v1/partnerships?limit=500", admin, None)?;
    let mut ids = String::new();
    for item in page["items"].as_array().ok_or("no items")? {
        writeln!(ids, "{}", str_of(item, "id")?)?;
    }
    std::fs::write(out.join("partnerships.txt"), ids)?;
    let draft = str_of(
        &api.call(
            "POST",
            "/api/v1/mous",
            &offices[0],
            Some(&json!({"partnership": partnership, "title": "Uploads"})),
        )?,
        "id",
    )?;
    std::fs::write(out.join("upload.tsv"), format!("{draft}\t{}\n", offices[0]))?;
    // The checkpoint is a signed note: origin, size and root hash, one a line.
    let note = ureq::get(&format!("{base}/api/v1/log/checkpoint"))
        .call()?
        .body_mut()
        .read_to_string()?;
    let size = note
        .lines()
        .nth(1)
        .ok_or("checkpoint note without a size")?;
    std::fs::write(out.join("log_size.txt"), format!("{size}\n"))?;
    eprintln!("loadprep: done, files in {}", out.display());
    Ok(())
}

fn register(
    api: &Api,
    office: &str,
    city: &str,
    handle: &str,
    key: &SigningKey,
    public: &PublicKey,
) -> Result<()> {
    let challenge = str_of(
        &api.call(
            "GET",
            &format!("/api/v1/cities/{city}/keys/challenge"),
            office,
            None,
        )?,
        "challenge",
    )?;
    let line = public.to_openssh_line_without_comment();
    let statement = KeyRegistrationStatement {
        action: "register".into(),
        challenge,
        city: city.into(),
        public_key: line.clone(),
        registry: ORIGIN.into(),
        role: "signatory".into(),
        signer: handle.into(),
        r#type: KeyRegistrationStatement::type_for(ORIGIN),
    };
    let bytes = statement.to_bytes()?;
    let sig = sshsig::sign(key, &key_event_namespace(ORIGIN), &bytes)?;
    api.call(
        "POST",
        &format!("/api/v1/cities/{city}/keys"),
        office,
        Some(&json!({
            "signer": handle, "role": "signatory", "public_key": line,
            "proof": {"statement": STANDARD.encode(&bytes), "signature": sig},
        })),
    )?;
    Ok(())
}

/// Every signatory signs every MOU of the group, in chain order; lines are written position
/// by position across the group's MOUs (across each block of `block` MOUs, when not 0).
fn write_group(
    path: &Path,
    mous: &[(String, String)],
    people: &[Signer],
    offices: &[String],
    signed_at: &str,
    block: usize,
) -> Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let block = if block == 0 { mous.len().max(1) } else { block };
    for part in mous.chunks(block) {
        write_block(&mut file, part, people, offices, signed_at)?;
    }
    file.flush()?;
    Ok(())
}

/// Every position of every MOU of `mous`, position by position.
fn write_block(
    file: &mut impl std::io::Write,
    mous: &[(String, String)],
    people: &[Signer],
    offices: &[String],
    signed_at: &str,
) -> Result<()> {
    let mut prev: Vec<String> = vec![GENESIS_PREV.to_string(); mous.len()];
    for (position, person) in people.iter().enumerate() {
        for (m, (mou, doc)) in mous.iter().enumerate() {
            let st = MouSignatureStatement {
                action: MouSignatureStatement::ACTION.into(),
                doc_sha256: Some(doc.clone()),
                documents: None,
                mou_id: mou.clone(),
                mou_version: 1,
                prev: prev[m].clone(),
                registry: ORIGIN.into(),
                role: "signatory".into(),
                seq: position as u64 + 1,
                signed_at: signed_at.into(),
                signer: person.handle.clone(),
                signer_city: CITIES[person.city].into(),
                signer_key: person.fingerprint.clone(),
                r#type: MouSignatureStatement::type_for(ORIGIN),
            };
            let bytes = st.to_bytes()?;
            let signature = sshsig::sign(&person.key, &mou_signature_namespace(ORIGIN), &bytes)?;
            prev[m] = sha256_hex(&bytes);
            let body = json!({"statement": STANDARD.encode(&bytes), "signature": signature});
            writeln!(file, "{mou}\t{}\t{body}", offices[person.city])?;
        }
    }
    Ok(())
}
