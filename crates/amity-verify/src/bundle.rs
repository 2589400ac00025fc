//! Evidence bundles (docs/formats/bundle.md): one JSON file that holds everything needed to check an
//! MOU with no network, and the offline verifier behind `amity verify BUNDLE.json`.
//!
//! The bundle mixes two kinds of content. Log entries, proven into one signed checkpoint, are
//! evidence. Everything else (the MOU, version and key summaries) is a convenient claim, and
//! the verifier trusts a claim only after matching it against a proven entry. Statements and
//! signatures are checked by their own cryptography and tied to the log by the statement hash
//! their entry vouches for. Nothing here touches the network or a database.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::engine::{Logged, MouClaims, ProvenEntries, VerifyEach, check_mou};
use crate::entries::{Entry, MAX_ENTRY_BYTES};
use crate::merkle::{self, Hash};
use crate::note::{Checkpoint, NoteVerifier, open_checkpoint};
use crate::rules::{Check, Checks, MouState, RequiredSigner, Verdict};

/// The `format` value of this version of the bundle.
pub const FORMAT: &str = "amity-evidence-bundle/v1";

/// The largest bundle file `parse` accepts. An MOU with hundreds of signatures stays far below
/// this; the bound keeps a hostile file from exhausting memory.
pub const MAX_BUNDLE_BYTES: usize = 32 * 1024 * 1024;
/// Bounds on the lists, so a bundle's cost to verify is bounded too.
pub const MAX_ENTRIES: usize = 20_000;
pub const MAX_SIGNATURES: usize = 5_000;
pub const MAX_VERSIONS: usize = 1_000;
pub const MAX_KEYS: usize = 5_000;
/// An inclusion proof in a log of at most 2^64 entries has at most 64 hashes.
pub const MAX_PROOF_HASHES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always `amity-evidence-bundle/v1`.
    pub format: String,
    pub registry: RegistryInfo,
    /// The signed checkpoint (C2SP signed note) every entry below is proven into.
    pub checkpoint: String,
    pub mou: BundleMou,
    pub versions: Vec<BundleVersion>,
    pub signatures: Vec<BundleSignature>,
    pub keys: Vec<BundleKey>,
    /// Every log entry the checks rest on, in index order.
    pub entries: Vec<BundleEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegistryInfo {
    /// The registry origin (`AMITY_ORIGIN`): checkpoint origin and statement `registry`.
    pub origin: String,
    /// The registry key, C2SP verifier key `<name>+<id>+<base64(0x01 || key)>`.
    pub vkey: String,
    /// The same key as an OpenSSH public key line.
    pub ssh: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BundleMou {
    pub id: String,
    pub partnership: String,
    pub title: String,
    pub required_signers: Vec<RequiredSigner>,
    pub state: MouState,
    pub current_version: i32,
    /// Index of the `mou.created` entry.
    pub log_index: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BundleVersion {
    pub version: i32,
    /// Lower-case hex SHA-256 of the (first) document's bytes.
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub filename: Option<String>,
    /// The first document's language tag, when the version has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Documents 2, 3, ... of a multilingual version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_documents: Vec<crate::entries::VersionDocument>,
    /// Index of the `mou.version_uploaded` entry.
    pub log_index: i64,
}

impl BundleVersion {
    /// Whether every claimed field of the version is what `entry` logged.
    pub fn agrees_with(&self, entry: &crate::entries::MouVersionUploaded) -> bool {
        entry.sha256 == self.sha256
            && entry.size == self.size
            && entry.media_type == self.media_type
            && entry.filename == self.filename
            && entry.language == self.language
            && entry.additional_documents.as_deref().unwrap_or_default()
                == self.additional_documents.as_slice()
    }

    /// Every document's claimed SHA-256, in order.
    pub fn document_hashes(&self) -> Vec<&str> {
        std::iter::once(self.sha256.as_str())
            .chain(self.additional_documents.iter().map(|d| d.sha256.as_str()))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BundleSignature {
    pub seq: i64,
    pub version: i32,
    /// The exact signed statement bytes, standard base64.
    pub statement: String,
    /// The armored SSHSIG as submitted.
    pub signature: String,
    /// Index of the `mou.signature_added` entry.
    pub log_index: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BundleKey {
    /// `ssh-ed25519 AAAA...`.
    pub public_key: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub signer: String,
    pub city: String,
    pub role: String,
    pub events: Vec<BundleKeyEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BundleKeyEvent {
    /// `registered`, `registered_approved`, `approved`, `retired` or `revoked`.
    pub kind: String,
    pub log_index: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    pub index: i64,
    /// The exact entry bytes, standard base64.
    pub entry: String,
    /// RFC 9162 inclusion path into the checkpoint's tree, hex hashes, leaf to root.
    pub proof: Vec<String>,
}

/// Why a file is not a bundle at all (as opposed to a bundle that fails a check).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle is {0} bytes; the limit is {MAX_BUNDLE_BYTES}")]
    TooLarge(usize),
    #[error("not an evidence bundle: {0}")]
    Malformed(String),
    #[error("unsupported bundle format {0:?} (this amity reads {FORMAT})")]
    UnsupportedFormat(String),
    #[error("bad registry key: {0}")]
    BadRegistryKey(String),
}

/// Parses a bundle strictly: unknown fields, lists beyond the bounds and other
/// formats are refused before any check runs.
pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge(bytes.len()));
    }
    let bundle: Bundle =
        serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed(e.to_string()))?;
    if bundle.format != FORMAT {
        return Err(BundleError::UnsupportedFormat(bundle.format));
    }
    let over = |what: &str, n: usize, max: usize| {
        (n > max).then(|| BundleError::Malformed(format!("{n} {what}; at most {max} are read")))
    };
    if let Some(e) = over("entries", bundle.entries.len(), MAX_ENTRIES)
        .or_else(|| over("signatures", bundle.signatures.len(), MAX_SIGNATURES))
        .or_else(|| over("versions", bundle.versions.len(), MAX_VERSIONS))
        .or_else(|| over("keys", bundle.keys.len(), MAX_KEYS))
    {
        return Err(e);
    }
    Ok(bundle)
}

/// What the verifier is told besides the bundle.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The registry key the auditor trusts (C2SP vkey), obtained out of band.
    pub registry_key: Option<String>,
    /// SHA-256 of each of the auditor's copies of the current version's documents.
    pub documents_sha256: Vec<[u8; 32]>,
    /// The witness policy whose quorum must have cosigned the bundle's checkpoint
    /// (docs/witnessing.md). `None`: no witness is required, and the report says so.
    pub policy: Option<crate::policy::Policy>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BundleReport {
    pub mou: String,
    pub verdict: Verdict,
    /// Caveats that do not fail a check but limit what a pass means.
    pub warnings: Vec<String>,
    /// What the checks did not cover, said so a reader does not assume it (e.g. that no
    /// witness was required).
    pub notes: Vec<String>,
    pub checks: Vec<Check>,
}

impl BundleReport {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// Why a bundle file could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

/// Reads and checks the bundle at `path`, with the auditor's copies of the current version's
/// documents at `documents` (each must be one of them): what `amity verify` and
/// `amity-verify bundle` both run.
pub fn verify_file(
    path: &std::path::Path,
    documents: &[std::path::PathBuf],
    registry_key: Option<String>,
    policy: Option<crate::policy::Policy>,
) -> Result<BundleReport, FileError> {
    use std::io::Read;
    let cannot = |p: &std::path::Path| {
        let path = p.to_path_buf();
        move |source| FileError::Read { path, source }
    };
    // Read at most one byte past the limit, so a huge file is refused without loading it.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_BUNDLE_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(cannot(path))?;
    let bundle = parse(&bytes)?;
    let mut documents_sha256 = Vec::with_capacity(documents.len());
    for p in documents {
        use sha2::{Digest, Sha256};
        let mut file = std::fs::File::open(p).map_err(cannot(p))?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(cannot(p))?;
        documents_sha256.push(hasher.finalize().into());
    }
    Ok(verify(
        &bundle,
        &VerifyOptions {
            registry_key,
            documents_sha256,
            policy,
        },
    )?)
}

impl BundleReport {
    /// The report as auditors read it: warnings, one line per check
    /// (`PASS  check [subject]: detail`), then the verdict.
    pub fn render(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        for w in &self.warnings {
            writeln!(out, "WARNING: {w}")?;
        }
        for n in &self.notes {
            writeln!(out, "NOTE: {n}")?;
        }
        for c in &self.checks {
            let mark = match c.result {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
            };
            writeln!(out, "{mark}  {} [{}]: {}", c.check, c.subject, c.detail)?;
        }
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        writeln!(out, "verdict: {verdict} (MOU {})", self.mou)
    }
}

/// Checks a bundle, check by check: a problem in the bundle is a failed check. Fails only when
/// the key given in `opts` is not a verifier key at all.
pub fn verify(bundle: &Bundle, opts: &VerifyOptions) -> Result<BundleReport, BundleError> {
    let mut r = Checks::default();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let origin = bundle.registry.origin.as_str();

    // The registry key: the one the auditor gave, else the bundle's own, which proves only
    // that the bundle is internally consistent, not that the registry signed it.
    let bundle_key = NoteVerifier::from_vkey(&bundle.registry.vkey);
    let trusted = match &opts.registry_key {
        Some(vkey) => NoteVerifier::from_vkey(vkey.trim())
            .map_err(|e| BundleError::BadRegistryKey(e.to_string()))?,
        None => {
            warnings.push(format!(
                "checked against the registry key carried in the bundle itself ({}), so a pass \
                 shows only that the bundle is consistent; give --registry-key with the key \
                 obtained from the registry (GET /api/v1/log/key) to show the registry signed it",
                bundle.registry.vkey
            ));
            match &bundle_key {
                Ok(v) => v.clone(),
                Err(e) => {
                    r.add(
                        "registry_key",
                        "registry",
                        None,
                        false,
                        format!("the bundle's registry key is not a valid verifier key: {e}"),
                    );
                    return Ok(finish(bundle, r, warnings, notes));
                }
            }
        }
    };
    let key_detail = match &bundle_key {
        Ok(v) if v.to_vkey() != trusted.to_vkey() => Err(format!(
            "the bundle names registry key {}, not the trusted {}",
            v.to_vkey(),
            trusted.to_vkey()
        )),
        Ok(v) if v.openssh_line() != bundle.registry.ssh.trim() => {
            Err("the bundle's OpenSSH line is not the same key as its vkey".to_string())
        }
        Ok(_) if trusted.name() != origin => Err(format!(
            "the key is named {:?}, the bundle's origin is {origin:?}",
            trusted.name()
        )),
        Ok(v) => Ok(format!("{} (key id {:08x})", v.to_vkey(), v.key_id())),
        Err(e) => Err(format!("the bundle's vkey does not parse: {e}")),
    };
    r.add_result("registry_key", "registry", None, key_detail);

    // The checkpoint. When its signature fails, the entries are still checked against the
    // root it claims, so the report names every problem and not just the first.
    let checkpoint =
        match open_checkpoint(&bundle.checkpoint, origin, std::slice::from_ref(&trusted)) {
            Ok((cp, _)) => {
                r.add(
                    "checkpoint_signature",
                    "checkpoint",
                    None,
                    true,
                    format!("signed by {} for tree size {}", trusted.name(), cp.size),
                );
                Some(cp)
            }
            Err(e) => {
                r.add(
                    "checkpoint_signature",
                    "checkpoint",
                    None,
                    false,
                    format!(
                        "the checkpoint does not verify under {}: {e}",
                        trusted.to_vkey()
                    ),
                );
                unverified_checkpoint(&bundle.checkpoint)
            }
        };

    // The witnesses: with a policy, its quorum must have cosigned this checkpoint.
    match &opts.policy {
        None => notes.push(
            "no witness was required (no --policy given): the checkpoint shows what the \
             registry signed, not that others saw the same history"
                .to_string(),
        ),
        Some(policy) => {
            let (ok, detail) = crate::audit::judge_witnesses(policy, &trusted, &bundle.checkpoint);
            r.add("witness_quorum", "checkpoint", None, ok, detail);
        }
    }

    // Inclusion proofs: an entry counts as evidence only once proven.
    let mut proven: BTreeMap<i64, Logged> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for e in &bundle.entries {
        let subject = format!("entry {}", e.index);
        if !seen.insert(e.index) {
            r.add(
                "entry_included",
                subject,
                Some(e.index),
                false,
                "listed twice",
            );
            continue;
        }
        match check_inclusion(e, checkpoint.as_ref()) {
            Ok(bytes) => match Entry::parse_canonical(&bytes) {
                Ok(entry) => {
                    r.add(
                        "entry_included",
                        subject,
                        Some(e.index),
                        true,
                        "the inclusion proof leads to the checkpoint root",
                    );
                    proven.insert(e.index, Logged::new(entry));
                }
                Err(why) => {
                    r.add(
                        "entry_included",
                        subject,
                        Some(e.index),
                        false,
                        format!("proven, but not a valid log entry: {why}"),
                    );
                }
            },
            Err(why) => {
                r.add("entry_included", subject, Some(e.index), false, why);
            }
        }
    }

    let evidence = ProvenEntries::new(proven);
    check_mou(
        &mut r,
        origin,
        &MouClaims {
            mou: &bundle.mou,
            versions: &bundle.versions,
            signatures: &bundle.signatures,
            keys: &bundle.keys,
            documents_sha256: opts.documents_sha256.clone(),
        },
        &evidence,
        &VerifyEach,
    );
    Ok(finish(bundle, r, warnings, notes))
}

fn finish(bundle: &Bundle, r: Checks, warnings: Vec<String>, notes: Vec<String>) -> BundleReport {
    BundleReport {
        mou: bundle.mou.id.clone(),
        verdict: r.verdict(),
        warnings,
        notes,
        checks: r.checks,
    }
}

/// The checkpoint body without its signature, for reporting on entries when the signature
/// failed. It is never a reason to pass: the signature check has already failed.
fn unverified_checkpoint(note: &str) -> Option<Checkpoint> {
    let split = note.rfind("\n\n")?;
    Checkpoint::parse_text(&note[..split + 1]).ok()
}

/// Decodes an entry and checks its proof; returns the entry bytes.
fn check_inclusion(e: &BundleEntry, cp: Option<&Checkpoint>) -> Result<Vec<u8>, String> {
    let cp = cp.ok_or("no readable checkpoint to prove into")?;
    let bytes = STANDARD
        .decode(&e.entry)
        .map_err(|_| "the entry is not base64".to_string())?;
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(format!("the entry exceeds {MAX_ENTRY_BYTES} bytes"));
    }
    if e.proof.len() > MAX_PROOF_HASHES {
        return Err("the proof is too long".to_string());
    }
    let proof: Vec<Hash> = e
        .proof
        .iter()
        .map(|h| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h, &mut out).map(|_| out)
        })
        .collect::<Result<_, _>>()
        .map_err(|_| "a proof hash is not 64 hex characters".to_string())?;
    let index = u64::try_from(e.index).map_err(|_| "negative index".to_string())?;
    merkle::verify_inclusion(&merkle::leaf_hash(&bytes), index, cp.size, &proof, &cp.root)
        .map_err(|err| {
            format!(
                "not included in the checkpoint's tree of {}: {err}",
                cp.size
            )
        })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "format": FORMAT,
            "registry": {"origin": "r.example", "vkey": "x", "ssh": "y"},
            "checkpoint": "",
            "mou": {"id": "m", "partnership": "p", "title": "t", "required_signers": [],
                    "state": "draft", "current_version": 0, "log_index": 0},
            "versions": [], "signatures": [], "keys": [], "entries": []
        })
    }

    #[test]
    fn parsing_is_strict_and_bounded() {
        let ok = serde_json::to_vec(&minimal()).unwrap();
        assert!(parse(&ok).is_ok());

        let mut extra = minimal();
        extra["mou"]["note"] = serde_json::json!("unexpected");
        let e = parse(&serde_json::to_vec(&extra).unwrap()).unwrap_err();
        assert!(matches!(e, BundleError::Malformed(m) if m.contains("unknown field")));

        let mut other = minimal();
        other["format"] = serde_json::json!("amity-evidence-bundle/v2");
        assert!(matches!(
            parse(&serde_json::to_vec(&other).unwrap()),
            Err(BundleError::UnsupportedFormat(_))
        ));

        let huge = vec![b' '; MAX_BUNDLE_BYTES + 1];
        assert!(matches!(parse(&huge), Err(BundleError::TooLarge(_))));
    }

    #[test]
    fn a_bundle_without_a_valid_key_fails_and_a_bad_trusted_key_is_an_error() {
        let b = parse(&serde_json::to_vec(&minimal()).unwrap()).unwrap();
        let report = verify(&b, &VerifyOptions::default()).unwrap();
        assert_eq!(report.verdict, Verdict::Fail);
        assert_eq!(report.checks[0].check, "registry_key");
        let opts = VerifyOptions {
            registry_key: Some("not a key".into()),
            documents_sha256: Vec::new(),
            policy: None,
        };
        assert!(matches!(
            verify(&b, &opts),
            Err(BundleError::BadRegistryKey(_))
        ));
    }
}
