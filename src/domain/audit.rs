//! The server's audit report of one MOU (verifier S of docs/audit-rules.md). The server packs
//! what its tables hold about the MOU as an evidence bundle, with every entry proven into its
//! current signed checkpoint, and runs the same rules engine as `amity verify` over it: every
//! claim of the tables is matched against the log, and keys, required signers and logged
//! hashes come from the log alone. Two checks only the server can make are added: the stored
//! document bytes against their stored hash (`document_hash`), and the recorded chain head
//! against the stored chain (`chain_head`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use super::mous::MouState;
use crate::bundle::{Bundle, VerifyOptions, verify};
use crate::crypto::sha256;
use amity_verify::rules::Checks;
pub use amity_verify::rules::{Check, Verdict};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditReport {
    pub mou: String,
    pub state: MouState,
    pub current_version: i32,
    /// `pass` only if every check passed.
    pub verdict: Verdict,
    pub checks: Vec<Check>,
}

/// A version as stored, with its bytes hashed again.
pub struct StoredVersion {
    pub version: i32,
    /// The document's position in a multilingual version; `None` for a version of one.
    pub position: Option<i32>,
    pub stored_sha256: Vec<u8>,
    pub recomputed_sha256: [u8; 32],
    pub log_index: i64,
}

/// The chain head the MOU row records.
pub struct StoredHead {
    pub seq: i64,
    pub hash: [u8; 32],
}

/// The report over `bundle` (read from the tables), the stored document hashes and the
/// recorded head, trusting `registry_vkey`, the server's own key.
pub fn audit(
    bundle: &Bundle,
    stored: &[StoredVersion],
    head: &StoredHead,
    registry_vkey: &str,
) -> AuditReport {
    let mut r = Checks::default();
    let opts = VerifyOptions {
        registry_key: Some(registry_vkey.to_string()),
        documents_sha256: Vec::new(),
        // The server's own report judges the tables, not the witnesses: a fresh checkpoint
        // has no cosignatures yet. Witnesses are judged by auditors with their policy.
        policy: None,
    };
    match verify(bundle, &opts) {
        Ok(report) => r.checks = report.checks,
        Err(e) => {
            r.add("registry_key", "registry", None, false, e.to_string());
        }
    }

    for v in stored {
        let hex = hex::encode(v.recomputed_sha256);
        let ok = v.stored_sha256 == v.recomputed_sha256;
        r.add(
            "document_hash",
            match v.position {
                Some(p) => format!("version {} document {p}", v.version),
                None => format!("version {}", v.version),
            },
            Some(v.log_index),
            ok,
            if ok {
                format!("stored bytes hash to {hex}")
            } else {
                format!(
                    "stored bytes hash to {hex}, but the version records {}",
                    hex::encode(&v.stored_sha256)
                )
            },
        );
    }

    let last = bundle
        .signatures
        .last()
        .map(|s| sha256(&STANDARD.decode(&s.statement).unwrap_or_default()))
        .unwrap_or([0u8; 32]);
    let head_ok =
        i64::try_from(bundle.signatures.len()).ok() == Some(head.seq) && last == head.hash;
    r.add(
        "chain_head",
        "mou",
        Some(bundle.mou.log_index),
        head_ok,
        if head_ok {
            format!("head seq {} is the hash of the last statement", head.seq)
        } else {
            format!(
                "the recorded head (seq {}, {}) is not the last stored statement",
                head.seq,
                hex::encode(head.hash)
            )
        },
    );

    AuditReport {
        mou: bundle.mou.id.clone(),
        state: bundle.mou.state,
        current_version: bundle.mou.current_version,
        verdict: r.verdict(),
        checks: r.checks,
    }
}
