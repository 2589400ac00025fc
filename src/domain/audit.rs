//! The audit report of one MOU (verifier S of docs/audit-rules.md, which lists the rules it
//! applies and those it does not yet): its checks run again from the stored bytes, each
//! reported with its verdict and the entry it concerns. Nothing stored is trusted:
//! hashes are recomputed from document and statement bytes, signatures verified again.

use serde::Serialize;

use super::keys::SignatoryKey;
use super::mous::{Mou, MouState, SignedBy};
use crate::crypto::sha256;
use crate::crypto::statement::{MouSignatureStatement, mou_signature_namespace};
use amity_verify::rules::{KeyHolder, key_bound, missing_signers, signature_valid};

use amity_verify::rules::Checks;
pub use amity_verify::rules::{Check, Verdict, chain_link};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditReport {
    pub mou: String,
    pub state: MouState,
    pub current_version: i32,
    /// `pass` only if every check passed.
    pub verdict: Verdict,
    pub checks: Vec<Check>,
}

/// Whether one log entry the report rests on is included in the signed checkpoint.
pub struct Inclusion {
    pub subject: String,
    pub log_index: i64,
    /// `Err` with the reason when the proof does not hold.
    pub result: Result<(), String>,
}

impl AuditReport {
    /// Adds an `in_signed_checkpoint` check per entry and recomputes the verdict.
    pub fn add_inclusion(&mut self, checkpoint_size: u64, items: Vec<Inclusion>) {
        for item in items {
            let (result, detail) = match item.result {
                Ok(()) => (
                    Verdict::Pass,
                    format!(
                        "entry {} is in the checkpoint of size {checkpoint_size}",
                        item.log_index
                    ),
                ),
                Err(why) => (Verdict::Fail, why),
            };
            self.checks.push(Check {
                check: "in_signed_checkpoint",
                subject: item.subject,
                log_index: Some(item.log_index),
                result,
                detail,
            });
        }
        self.verdict = Verdict::of(self.checks.iter().all(|c| c.result == Verdict::Pass));
    }
}

/// A version as stored, with its bytes hashed again.
pub struct AuditVersion {
    pub version: i32,
    pub stored_sha256: Vec<u8>,
    pub recomputed_sha256: [u8; 32],
    pub log_index: i64,
    /// The `sha256` the version's log entry vouches for.
    pub logged_sha256: Option<String>,
}

/// A signature as stored, with its key and the hash its log entry vouches for.
pub struct AuditSignature {
    pub seq: i64,
    pub version: i32,
    pub statement: Vec<u8>,
    pub signature: Vec<u8>,
    pub key: Option<SignatoryKey>,
    pub received_at: i64,
    pub log_index: i64,
    pub logged_statement_sha256: Option<String>,
}

pub fn audit(
    mou: &Mou,
    versions: &[AuditVersion],
    signatures: &[AuditSignature],
    registry: &str,
) -> AuditReport {
    let mut r = Checks::default();
    for v in versions {
        let subject = format!("version {}", v.version);
        let hex = hex::encode(v.recomputed_sha256);
        let stored_ok = v.stored_sha256 == v.recomputed_sha256;
        r.add(
            "document_hash",
            &subject,
            Some(v.log_index),
            stored_ok,
            if stored_ok {
                format!("stored bytes hash to {hex}")
            } else {
                format!(
                    "stored bytes hash to {hex}, but the version records {}",
                    hex::encode(&v.stored_sha256)
                )
            },
        );
        let logged_ok = v.logged_sha256.as_deref() == Some(hex.as_str());
        r.add(
            "document_logged",
            &subject,
            Some(v.log_index),
            logged_ok,
            match &v.logged_sha256 {
                Some(l) if logged_ok => format!("log entry {} vouches for {l}", v.log_index),
                Some(l) => format!("log entry {} vouches for {l}, not {hex}", v.log_index),
                None => format!("log entry {} carries no document hash", v.log_index),
            },
        );
    }

    let namespace = mou_signature_namespace(registry);
    let mut prev_hash = [0u8; 32];
    let mut counted: Vec<SignedBy> = Vec::new();
    for (i, s) in signatures.iter().enumerate() {
        let subject = format!("signature seq {}", s.seq);
        let at = Some(s.log_index);
        let hash = sha256(&s.statement);
        let mut all_ok = true;

        let parsed = MouSignatureStatement::parse_strict(&s.statement);
        let statement = match parsed {
            Ok(st) => {
                let ok = st.registry == registry
                    && mou.id == st.mou_id
                    && i64::try_from(st.seq).ok() == Some(s.seq);
                all_ok &= r.add(
                    "statement_canonical",
                    &subject,
                    at,
                    ok,
                    if ok {
                        "canonical statement for this registry, MOU and position".to_string()
                    } else {
                        "the statement names another registry, MOU or seq than where it is stored"
                            .to_string()
                    },
                );
                Some(st)
            }
            Err(e) => {
                all_ok &= r.add(
                    "statement_canonical",
                    &subject,
                    at,
                    false,
                    format!("{}: {e}", e.code()),
                );
                None
            }
        };

        let prev_hex = hex::encode(prev_hash);
        let (link_ok, detail) = chain_link(
            i,
            s.seq,
            statement.as_ref().map(|st| st.prev.as_str()),
            &prev_hex,
        );
        all_ok &= r.add("chain_link", &subject, at, link_ok, detail);
        prev_hash = hash;

        if let Some(st) = &statement {
            let doc = versions
                .iter()
                .find(|v| i64::from(v.version) == i64::try_from(st.mou_version).unwrap_or(-1));
            let doc_ok = i64::from(s.version) == i64::try_from(st.mou_version).unwrap_or(-1)
                && doc.is_some_and(|v| hex::encode(v.recomputed_sha256) == st.doc_sha256);
            all_ok &= r.add(
                "statement_document",
                &subject,
                at,
                doc_ok,
                if doc_ok {
                    format!(
                        "doc_sha256 is the hash of the stored bytes of version {}",
                        st.mou_version
                    )
                } else {
                    format!(
                        "doc_sha256 {} is not the hash of the stored bytes of version {}",
                        st.doc_sha256, st.mou_version
                    )
                },
            );
        }

        let sig_result = match (&s.key, &statement) {
            (None, _) => Err("the signing key is not in the registry".to_string()),
            (Some(_), None) => Err("no valid statement to verify".to_string()),
            (Some(key), Some(st)) if st.signer_key != key.fingerprint => Err(format!(
                "statement names {}, stored key is {}",
                st.signer_key, key.fingerprint
            )),
            (Some(key), Some(_)) => std::str::from_utf8(&s.signature)
                .map_err(|_| "signature is not text".to_string())
                .and_then(|text| signature_valid(text, &namespace, &s.statement, &key.public_key)),
        };
        all_ok &= r.add_result("signature_valid", &subject, at, sig_result);

        let bound = match (&s.key, &statement) {
            (Some(key), Some(st)) => key_bound(
                st,
                KeyHolder {
                    signer: &key.signer,
                    city: key.city.as_str(),
                    role: &key.role,
                },
            ),
            (None, _) => Err("the signing key is not in the registry".to_string()),
            (Some(_), None) => Err("no valid statement names a signer".to_string()),
        };
        all_ok &= r.add_result("key_bound", &subject, at, bound);

        let active = s.key.as_ref().is_some_and(|k| k.active_at(s.received_at));
        all_ok &= r.add(
            "key_active",
            &subject,
            at,
            active,
            if active {
                "the key was active when the signature was logged".to_string()
            } else {
                "the key was not active (pending, retired or compromised) when the signature was logged".to_string()
            },
        );

        let hex = hex::encode(hash);
        let logged_ok = s.logged_statement_sha256.as_deref() == Some(hex.as_str());
        all_ok &= r.add(
            "statement_logged",
            &subject,
            at,
            logged_ok,
            if logged_ok {
                format!("log entry {} vouches for statement {hex}", s.log_index)
            } else {
                format!(
                    "log entry {} does not vouch for statement {hex}",
                    s.log_index
                )
            },
        );

        if let Some(st) = statement.filter(|_| all_ok && s.version == mou.current_version) {
            counted.push(SignedBy {
                signer: st.signer,
                city: st.signer_city,
                role: st.role,
            });
        }
    }

    let head_ok = i64::try_from(signatures.len()).unwrap_or(i64::MAX) == mou.head_seq
        && prev_hash == mou.head_hash;
    r.add(
        "chain_head",
        "mou",
        Some(mou.log_index),
        head_ok,
        if head_ok {
            format!(
                "head seq {} is the hash of the last statement",
                mou.head_seq
            )
        } else {
            format!(
                "the recorded head (seq {}) does not match the stored chain",
                mou.head_seq
            )
        },
    );

    let missing = missing_signers(&mou.required, &counted);
    let met = missing.is_empty() && mou.current_version > 0;
    r.add(
        "required_signers",
        format!("version {}", mou.current_version),
        None,
        met,
        if met {
            "every required signer signed the current version with a valid signature".to_string()
        } else if mou.current_version == 0 {
            "no version to sign yet".to_string()
        } else {
            format!("missing: {}", missing.join(", "))
        },
    );
    let state_ok = mou.state.agrees_with(met, mou.current_version);
    r.add(
        "state_consistent",
        "mou",
        Some(mou.log_index),
        state_ok,
        format!(
            "state {} {} the signatures",
            mou.state,
            if state_ok {
                "agrees with"
            } else {
                "contradicts"
            }
        ),
    );

    let verdict = Verdict::of(r.checks.iter().all(|c| c.result == Verdict::Pass));
    AuditReport {
        mou: mou.id.to_string(),
        state: mou.state,
        current_version: mou.current_version,
        verdict,
        checks: r.checks,
    }
}
