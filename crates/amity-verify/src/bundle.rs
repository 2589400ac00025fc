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

use crate::entries::{Entry, EntryBody, MAX_ENTRY_BYTES, kinds};
use crate::keys::PublicKey;
use crate::merkle::{self, Hash};
use crate::note::{Checkpoint, NoteVerifier, open_checkpoint};
use crate::rules::{
    Check, Checks, KeyHolder, MouState, RequiredSigner, SignedBy, Verdict, chain_link, key_bound,
    missing_signers, signature_valid,
};
use crate::sha256;
use crate::statement::{
    GENESIS_PREV, MAX_STATEMENT_LEN, MouSignatureStatement, mou_signature_namespace,
};

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
/// An armored SSHSIG of an Ed25519 signature is about 300 bytes.
const MAX_SIGNATURE_TEXT: usize = 4096;

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
    /// Lower-case hex SHA-256 of the document bytes.
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub filename: Option<String>,
    /// Index of the `mou.version_uploaded` entry.
    pub log_index: i64,
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
    /// SHA-256 of the auditor's copy of the document.
    pub document_sha256: Option<[u8; 32]>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BundleReport {
    pub mou: String,
    pub verdict: Verdict,
    /// Caveats that do not fail a check but limit what a pass means.
    pub warnings: Vec<String>,
    pub checks: Vec<Check>,
}

impl BundleReport {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// A proven entry, parsed as its typed kind.
struct Proven {
    body: EntryBody,
    /// The log-asserted time, microseconds.
    time: Option<i64>,
}

fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_micros())
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

/// Reads and checks the bundle at `path`, with the auditor's copy of the document at
/// `document` when given: what `amity verify` and `amity-verify bundle` both run.
pub fn verify_file(
    path: &std::path::Path,
    document: Option<&std::path::Path>,
    registry_key: Option<String>,
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
    let document_sha256 = match document {
        Some(p) => {
            use sha2::{Digest, Sha256};
            let mut file = std::fs::File::open(p).map_err(cannot(p))?;
            let mut hasher = Sha256::new();
            std::io::copy(&mut file, &mut hasher).map_err(cannot(p))?;
            Some(hasher.finalize().into())
        }
        None => None,
    };
    Ok(verify(
        &bundle,
        &VerifyOptions {
            registry_key,
            document_sha256,
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
                    return Ok(finish(bundle, r, warnings));
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

    // Inclusion proofs: an entry counts as evidence only once proven.
    let mut proven: BTreeMap<i64, Proven> = BTreeMap::new();
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
                    let time = parse_time(&entry.time);
                    proven.insert(
                        e.index,
                        Proven {
                            body: entry.body,
                            time,
                        },
                    );
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

    let mou = &bundle.mou;
    // The MOU itself: its creation entry is the authority for its required signers.
    let created = proven.get(&mou.log_index).and_then(|p| match &p.body {
        EntryBody::MouCreated(c) if c.mou == mou.id => Some(c),
        _ => None,
    });
    let logged_required: Option<Vec<RequiredSigner>> = created.map(|c| c.required_signers.clone());
    let mou_ok = created.is_some_and(|c| {
        c.partnership == mou.partnership
            && c.title == mou.title
            && c.required_signers == mou.required_signers
    });
    r.add(
        "mou_logged",
        "mou",
        Some(mou.log_index),
        mou_ok,
        if mou_ok {
            format!(
                "entry {} created this MOU with these required signers",
                mou.log_index
            )
        } else if created.is_none() {
            format!(
                "no proven mou.created entry for {} at {}",
                mou.id, mou.log_index
            )
        } else {
            "the bundle's partnership, title or required signers differ from the logged ones"
                .to_string()
        },
    );

    // Versions: each one's hash as logged. A signature's document hash is checked against
    // these logged hashes only.
    let mut logged_versions: BTreeMap<i32, String> = BTreeMap::new();
    for (i, v) in bundle.versions.iter().enumerate() {
        let subject = format!("version {}", v.version);
        let entry = proven.get(&v.log_index).and_then(|p| match &p.body {
            EntryBody::MouVersionUploaded(u)
                if u.mou == mou.id && u.version == i64::from(v.version) =>
            {
                Some(u)
            }
            _ => None,
        });
        let expected = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let ok = v.version == expected
            && entry.is_some_and(|u| {
                u.sha256 == v.sha256
                    && u.size == v.size
                    && u.media_type == v.media_type
                    && u.filename == v.filename
            });
        if ok {
            logged_versions.insert(v.version, v.sha256.clone());
        }
        r.add(
            "version_logged",
            subject,
            Some(v.log_index),
            ok,
            if ok {
                format!("entry {} vouches for sha256 {}", v.log_index, v.sha256)
            } else if v.version != expected {
                format!("versions must run 1, 2, ...; expected {expected}")
            } else if entry.is_none() {
                format!("no proven mou.version_uploaded entry at {}", v.log_index)
            } else {
                format!(
                    "the bundle's hash, size, media type or file name differ from entry {}",
                    v.log_index
                )
            },
        );
    }
    let current_ok = usize::try_from(mou.current_version).ok() == Some(bundle.versions.len());
    r.add(
        "current_version",
        "mou",
        None,
        current_ok,
        if current_ok {
            format!(
                "version {} is the last of the bundle's versions",
                mou.current_version
            )
        } else {
            format!(
                "the MOU claims current version {}, the bundle has {} versions",
                mou.current_version,
                bundle.versions.len()
            )
        },
    );

    if let Some(doc) = opts.document_sha256 {
        let have = hex::encode(doc);
        let want = logged_versions.get(&mou.current_version);
        let ok = want == Some(&have);
        r.add(
            "document",
            format!("version {}", mou.current_version),
            None,
            ok,
            match want {
                Some(w) if ok => format!("the given file hashes to {w}, the current version"),
                Some(w) => format!("the given file hashes to {have}, the current version to {w}"),
                None => "the current version's hash is not proven".to_string(),
            },
        );
    }

    // Keys, from their proven events only.
    let key_facts = collect_key_facts(&proven);
    for k in &bundle.keys {
        let facts = key_facts.get(&k.fingerprint);
        let parsed = PublicKey::parse_openssh_line(k.public_key.trim()).ok();
        let ok = facts.is_some_and(|f| {
            f.registered.as_ref().is_some_and(|reg| {
                parsed.as_ref().is_some_and(|p| {
                    p.fingerprint() == k.fingerprint
                        && reg.key.as_ref().is_some_and(|r| r.same_key(p))
                }) && reg.signer == k.signer
                    && reg.city == k.city
                    && reg.role == k.role
            })
        }) && k.events.iter().all(|e| {
            proven.get(&e.log_index).is_some_and(|p| {
                key_fingerprint(&p.body) == Some(k.fingerprint.as_str())
                    && Some(p.body.kind()) == event_entry_kind(&e.kind)
            })
        });
        r.add(
            "key_logged",
            format!("key {}", k.fingerprint),
            facts
                .and_then(|f| f.registered.as_ref())
                .map(|reg| reg.index),
            ok,
            if ok {
                format!("registered to {} ({}) as logged", k.signer, k.role)
            } else {
                "the key's line, signer, city, role or events do not match proven key entries"
                    .to_string()
            },
        );
    }

    // The chain.
    let namespace = mou_signature_namespace(origin);
    let mut prev = GENESIS_PREV.to_string();
    let mut counted: Vec<SignedBy> = Vec::new();
    for (i, s) in bundle.signatures.iter().enumerate() {
        let subject = format!("signature seq {}", s.seq);
        let at = Some(s.log_index);
        let mut all_ok = true;
        let bytes = STANDARD
            .decode(&s.statement)
            .ok()
            .filter(|b| b.len() <= MAX_STATEMENT_LEN);
        let statement = match bytes.as_deref().map(MouSignatureStatement::parse_strict) {
            Some(Ok(st)) => {
                let ok = st.registry == origin
                    && st.mou_id == mou.id
                    && i64::try_from(st.seq).ok() == Some(s.seq)
                    && i64::try_from(st.mou_version).ok() == Some(i64::from(s.version));
                all_ok &= r.add(
                    "statement_canonical",
                    &subject,
                    at,
                    ok,
                    if ok {
                        "canonical statement for this registry, MOU, seq and version"
                    } else {
                        "the statement names another registry, MOU, seq or version"
                    },
                );
                Some(st)
            }
            Some(Err(e)) => {
                all_ok &= r.add(
                    "statement_canonical",
                    &subject,
                    at,
                    false,
                    format!("{}: {e}", e.code()),
                );
                None
            }
            None => {
                all_ok &= r.add(
                    "statement_canonical",
                    &subject,
                    at,
                    false,
                    "the statement is not base64 of at most 4096 bytes",
                );
                None
            }
        };
        let hash = bytes
            .as_deref()
            .map(|b| hex::encode(sha256(b)))
            .unwrap_or_default();

        let entry = proven.get(&s.log_index).and_then(|p| match &p.body {
            EntryBody::MouSignatureAdded(a) if a.mou == mou.id && a.seq == s.seq => Some((p, a)),
            _ => None,
        });
        let logged_ok = entry.is_some_and(|(_, a)| {
            a.statement_sha256 == hash
                && a.version == i64::from(s.version)
                && statement
                    .as_ref()
                    .is_some_and(|st| a.key_fingerprint == st.signer_key)
        });
        all_ok &= r.add(
            "statement_logged",
            &subject,
            at,
            logged_ok,
            match entry {
                Some(_) if logged_ok => {
                    format!("entry {} vouches for statement {hash}", s.log_index)
                }
                Some((_, a)) => format!(
                    "entry {} vouches for statement {}, not {hash}",
                    s.log_index, a.statement_sha256
                ),
                None => format!("no proven mou.signature_added entry at {}", s.log_index),
            },
        );

        let (link_ok, detail) = chain_link(
            i,
            s.seq,
            statement.as_ref().map(|st| st.prev.as_str()),
            &prev,
        );
        all_ok &= r.add("chain_link", &subject, at, link_ok, detail);
        prev = hash;

        if let Some(st) = &statement {
            let logged = logged_versions.get(&s.version);
            let ok = logged == Some(&st.doc_sha256);
            all_ok &= r.add(
                "statement_document",
                &subject,
                at,
                ok,
                if ok {
                    format!("doc_sha256 is the logged hash of version {}", s.version)
                } else {
                    format!(
                        "doc_sha256 {} is not the logged hash of version {}",
                        st.doc_sha256, s.version
                    )
                },
            );
        }

        // The key comes from its proven registration, never from the bundle's summary.
        let facts = statement
            .as_ref()
            .and_then(|st| key_facts.get(&st.signer_key));
        let logged_key = facts
            .and_then(|f| f.registered.as_ref())
            .and_then(|reg| reg.key.as_ref());
        let sig_result = match (&statement, logged_key, &bytes) {
            (None, _, _) | (_, _, None) => Err("no valid statement to verify".to_string()),
            (Some(st), None, _) => Err(format!(
                "no proven key.registered entry for {}",
                st.signer_key
            )),
            (Some(_), Some(key), Some(bytes)) => {
                if s.signature.len() > MAX_SIGNATURE_TEXT {
                    Err("the signature text is too long".to_string())
                } else {
                    signature_valid(&s.signature, &namespace, bytes, key)
                }
            }
        };
        all_ok &= r.add_result("signature_valid", &subject, at, sig_result);

        // The registry accepts a signature only from the signer, city and role the key was
        // registered to; the tally of required signers counts the statement's claims, so
        // they must be the logged ones.
        let registered = facts.and_then(|f| f.registered.as_ref());
        let bound = match (&statement, registered) {
            (Some(st), Some(reg)) => key_bound(
                st,
                KeyHolder {
                    signer: &reg.signer,
                    city: &reg.city,
                    role: &reg.role,
                },
            ),
            (None, _) => Err("no valid statement names a signer".to_string()),
            (Some(_), None) => Err("the key has no proven registration".to_string()),
        };
        all_ok &= r.add_result("key_bound", &subject, at, bound);

        let active = match (facts, entry) {
            (Some(f), Some((p, _))) => f.active_at(s.log_index, p.time),
            (None, _) if statement.is_none() => Err("no valid statement names a key".to_string()),
            (None, _) => Err("the key has no proven events".to_string()),
            (_, None) => Err("the signature's log entry is not proven".to_string()),
        };
        all_ok &= r.add_result("key_active", &subject, at, active);

        if let Some(st) = statement.filter(|_| all_ok && s.version == mou.current_version) {
            counted.push(SignedBy {
                signer: st.signer,
                city: st.signer_city,
                role: st.role,
            });
        }
    }

    let required = logged_required.unwrap_or_default();
    let missing = missing_signers(&required, &counted);
    let met = missing.is_empty() && mou.current_version > 0 && created.is_some();
    r.add(
        "required_signers",
        format!("version {}", mou.current_version),
        None,
        met,
        if met {
            "every logged required signer signed the current version with a valid signature"
                .to_string()
        } else if created.is_none() {
            "the MOU's required signers are not proven by its mou.created entry".to_string()
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
        None,
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
    Ok(finish(bundle, r, warnings))
}

fn finish(bundle: &Bundle, r: Checks, warnings: Vec<String>) -> BundleReport {
    BundleReport {
        mou: bundle.mou.id.clone(),
        verdict: r.verdict(),
        warnings,
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

struct Registered {
    index: i64,
    key: Option<PublicKey>,
    signer: String,
    city: String,
    role: String,
    approved_at_registration: bool,
}

/// What the proven entries say about one key.
#[derive(Default)]
struct KeyFacts {
    registered: Option<Registered>,
    /// Entry indices of approvals.
    approved: Vec<i64>,
    /// Retirement effective times (the entry's time when none is given).
    retired: Vec<Option<i64>>,
    /// Revocations: the compromise time, `None` when unknown (every signature void).
    revoked: Vec<Option<i64>>,
}

impl KeyFacts {
    /// The rule of `SignatoryKey::active_at`, applied to log facts: registered and approved
    /// before the signature's entry, not retired at its time, not compromised at its time.
    fn active_at(&self, index: i64, time: Option<i64>) -> Result<String, String> {
        let reg = self
            .registered
            .as_ref()
            .ok_or("no proven key.registered entry")?;
        if reg.index >= index {
            return Err(format!(
                "the key was registered at entry {}, after the signature",
                reg.index
            ));
        }
        let approved = reg.approved_at_registration || self.approved.iter().any(|i| *i < index);
        if !approved {
            return Err("the key was not approved before the signature".to_string());
        }
        let t = time.ok_or("the signature's entry has no readable time")?;
        if self.retired.iter().any(|e| e.is_none_or(|e| t >= e)) {
            return Err("the key was retired when the signature was logged".to_string());
        }
        if self.revoked.iter().any(|c| c.is_none_or(|c| t >= c)) {
            return Err("the key was revoked as compromised at the signature's time".to_string());
        }
        Ok(format!(
            "registered at entry {}, approved before entry {index}, neither retired nor \
             compromised at its time",
            reg.index
        ))
    }
}

/// The log entry type that records a key event of `kind` (as `key_events` names them).
fn event_entry_kind(kind: &str) -> Option<&'static str> {
    match kind {
        "registered" | "registered_approved" => Some(kinds::KEY_REGISTERED),
        "approved" => Some(kinds::KEY_APPROVED),
        "retired" => Some(kinds::KEY_RETIRED),
        "revoked" => Some(kinds::KEY_REVOKED),
        _ => None,
    }
}

/// The key fingerprint a key entry names.
fn key_fingerprint(body: &EntryBody) -> Option<&str> {
    match body {
        EntryBody::KeyRegistered(k) => Some(&k.fingerprint),
        EntryBody::KeyApproved(k) => Some(&k.fingerprint),
        EntryBody::KeyRetired(k) | EntryBody::KeyRevoked(k) => Some(&k.fingerprint),
        _ => None,
    }
}

fn collect_key_facts(proven: &BTreeMap<i64, Proven>) -> BTreeMap<String, KeyFacts> {
    let mut facts: BTreeMap<String, KeyFacts> = BTreeMap::new();
    for (&index, p) in proven {
        let Some(fp) = key_fingerprint(&p.body) else {
            continue;
        };
        let f = facts.entry(fp.to_string()).or_default();
        match &p.body {
            EntryBody::KeyRegistered(k) => {
                let key = PublicKey::parse_openssh_line(&k.public_key)
                    .ok()
                    .filter(|key| key.fingerprint() == k.fingerprint);
                f.registered = Some(Registered {
                    index,
                    key,
                    signer: k.signer.clone(),
                    city: k.city.clone(),
                    role: k.role.clone(),
                    approved_at_registration: k.status == "active",
                });
            }
            EntryBody::KeyApproved(_) => f.approved.push(index),
            EntryBody::KeyRetired(k) => {
                f.retired
                    .push(k.effective_at.as_deref().and_then(parse_time).or(p.time));
            }
            EntryBody::KeyRevoked(k) => {
                let since = k.compromised_since.as_deref().and_then(parse_time);
                // An unknown compromise time voids every signature by the key.
                f.revoked.push(if k.compromise_time_known == Some(false) {
                    None
                } else {
                    since
                });
            }
            _ => {}
        }
    }
    facts
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
            document_sha256: None,
        };
        assert!(matches!(
            verify(&b, &opts),
            Err(BundleError::BadRegistryKey(_))
        ));
    }

    #[test]
    fn key_validity_follows_the_log() {
        let registered = |approved_at_registration| Registered {
            index: 1,
            key: None,
            signer: String::new(),
            city: String::new(),
            role: String::new(),
            approved_at_registration,
        };
        let mut f = KeyFacts {
            registered: Some(registered(false)),
            ..KeyFacts::default()
        };
        assert!(f.active_at(5, Some(100)).is_err(), "pending");
        f.approved.push(6);
        assert!(
            f.active_at(5, Some(100)).is_err(),
            "approved after the signature"
        );
        f.approved.push(3);
        assert!(f.active_at(5, Some(100)).is_ok());
        assert!(
            f.active_at(1, Some(100)).is_err(),
            "registered by that very entry"
        );
        f.retired.push(Some(200));
        assert!(f.active_at(5, Some(100)).is_ok(), "retired later");
        assert!(f.active_at(9, Some(200)).is_err(), "retired at its time");
        f.revoked.push(Some(150));
        assert!(f.active_at(5, Some(100)).is_ok(), "compromised later");
        f.revoked.push(None);
        assert!(
            f.active_at(5, Some(100)).is_err(),
            "compromise time unknown"
        );
        let auto = KeyFacts {
            registered: Some(registered(true)),
            ..KeyFacts::default()
        };
        assert!(auto.active_at(2, Some(0)).is_ok(), "auto-approved");
    }
}
