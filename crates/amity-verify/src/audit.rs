//! The full audit of a registry over its public API (`amity audit`, `amity-verify audit`). It
//! verifies the signed checkpoint, proves it consistent with the one kept from the last run,
//! replays every entry to recompute the root and the registry's rules, and compares the
//! registry's current state with what the log says. Nothing the server says is taken on trust
//! beyond the registry key (given, kept from a previous run, or trusted on first use, said
//! plainly). The rules are those of docs/audit-rules.md.
//!
//! The audit reads the API through [`Fetch`], so this crate needs no HTTP client: the binaries
//! that run it bring one.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bundle::{BundleMou, BundleSignature, BundleVersion};
use crate::engine::{MouClaims, ReplayedLog, SignatureCheck, VerifyEach, check_mou};
use crate::entries::VersionDocument;
use crate::keys::PublicKey;
use crate::merkle::{self, MemoryTree};
use crate::note::{Checkpoint, NoteVerifier, open_checkpoint};
use crate::replay::{Replay, ReplayedRound};
use crate::rules::{Checks, MouState, Verdict};

/// Why an audit could not run to its verdict (as opposed to a check that failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The registry could not be read: the request failed, or the answer was not what the
    /// API serves.
    #[error("{0}")]
    Fetch(String),
    #[error("{path}: {message}")]
    StateFile { path: PathBuf, message: String },
    #[error("registry key {vkey:?}: {message}")]
    RegistryKey { vkey: String, message: String },
    #[error("recomputing the tree: {0}")]
    Tree(String),
}

/// Reads the registry's public API: a `GET` of `path` (e.g. `/api/v1/log/checkpoint`) that
/// answers the body of a 200, or an error naming what failed. Called from several threads.
pub trait Fetch: Sync {
    fn get_bytes(&self, path: &str) -> Result<Vec<u8>, AuditError>;

    /// Whether requests carry a token that may read documents and evidence.
    fn has_token(&self) -> bool;

    /// Called once the checkpoint the audit relies on is known (`size` entries): later reads
    /// must reflect the log up to it. An HTTP client says so to a server that reads from a
    /// replica (`Amity-Min-Log-Index`), so a lagging replica cannot make a sound log look
    /// incomplete. Does nothing by default.
    fn read_through(&self, size: u64) {
        let _ = size;
    }

    fn get_text(&self, path: &str) -> Result<String, AuditError> {
        String::from_utf8(self.get_bytes(path)?)
            .map_err(|_| AuditError::Fetch(format!("GET {path}: the answer is not UTF-8")))
    }

    fn get_json(&self, path: &str) -> Result<Value, AuditError> {
        let text = self.get_text(path)?;
        serde_json::from_str(&text)
            .map_err(|e| AuditError::Fetch(format!("GET {path}: not JSON: {e}")))
    }
}

/// What an audit run keeps between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditState {
    /// The registry key (C2SP vkey) the kept checkpoint verifies under.
    pub vkey: String,
    /// The last checkpoint that passed, as the signed note.
    pub checkpoint: String,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub checks: Vec<Check>,
    pub size: u64,
    pub entries_per_second: f64,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    fn add(&mut self, name: &'static str, ok: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            ok,
            detail: detail.into(),
        });
    }
}

fn state_error(path: &Path, message: impl std::fmt::Display) -> AuditError {
    AuditError::StateFile {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn load_state(path: &Path) -> Result<Option<AuditState>, AuditError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| state_error(path, format!("not an audit state file: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(state_error(path, e)),
    }
}

fn save_state(path: &Path, state: &AuditState) -> Result<(), AuditError> {
    let text = serde_json::to_string_pretty(state).map_err(|e| state_error(path, e))?;
    // Write then rename, so a crash never leaves half a state file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| state_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| state_error(path, e))
}

fn hashes(v: &Value) -> Option<Vec<merkle::Hash>> {
    v.as_array()?
        .iter()
        .map(|h| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h.as_str()?, &mut out).ok()?;
            Some(out)
        })
        .collect()
}

/// What the auditor brings besides the registry to read.
pub struct AuditOptions {
    /// Where the checkpoint that passed is kept between runs.
    pub state: Option<PathBuf>,
    /// The registry key the auditor trusts (C2SP vkey).
    pub registry_key: Option<String>,
    /// The witness policy whose quorum must have cosigned the checkpoint the audit relies on
    /// (C2SP tlog-policy; docs/witnessing.md). `None`: no witness is required.
    pub policy: Option<crate::policy::Policy>,
}

/// Runs every check over `client` and returns the report; saves the new checkpoint only if
/// all passed. With a token that may read them (`Fetch::has_token`), MOU documents and
/// activity evidence are checked against the hashes the log recorded too.
pub fn run(client: &dyn Fetch, opts: &AuditOptions) -> Result<Report, AuditError> {
    let mut report = Report {
        checks: Vec::new(),
        size: 0,
        entries_per_second: 0.0,
    };
    let kept = match &opts.state {
        Some(p) => load_state(p)?,
        None => None,
    };

    // 1. Which key to trust.
    let served = client.get_json("/api/v1/log/key")?;
    let served_vkey = served
        .get("vkey")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let (vkey, how) = match (&opts.registry_key, &kept) {
        (Some(k), _) => (k.clone(), "given on the command line"),
        (None, Some(s)) => (s.vkey.clone(), "kept from the previous audit"),
        (None, None) => (
            served_vkey.clone(),
            "TRUSTED ON FIRST USE: the server's own key; compare it with one published \
             out of band before relying on this audit",
        ),
    };
    let verifier = NoteVerifier::from_vkey(&vkey).map_err(|e| AuditError::RegistryKey {
        vkey: vkey.clone(),
        message: e.to_string(),
    })?;
    report.add(
        "registry key",
        served_vkey == vkey,
        if served_vkey == vkey {
            format!("{vkey} ({how})")
        } else {
            format!("the server now presents {served_vkey}, not {vkey} ({how})")
        },
    );

    // 2. The checkpoint: with a policy that requires witnesses, one its quorum cosigned,
    // which the registry serves when asked `witnessed=1` (waiting a little for it). When it
    // cannot, the latest checkpoint is judged instead, so the report names who did not cosign.
    let needs_witnesses = opts
        .policy
        .as_ref()
        .is_some_and(crate::policy::Policy::requires_witnesses);
    let (note, unwitnessed) = if needs_witnesses {
        match client.get_text("/api/v1/log/checkpoint?witnessed=1") {
            Ok(note) => (note, None),
            Err(e) => (client.get_text("/api/v1/log/checkpoint")?, Some(e)),
        }
    } else {
        (client.get_text("/api/v1/log/checkpoint")?, None)
    };
    let checkpoint = match open_checkpoint(&note, verifier.name(), std::slice::from_ref(&verifier))
    {
        Ok((cp, _)) => {
            report.add(
                "checkpoint signature",
                true,
                format!("size {} signed by {}", cp.size, verifier.name()),
            );
            cp
        }
        Err(e) => {
            report.add("checkpoint signature", false, e.to_string());
            return Ok(report);
        }
    };
    report.size = checkpoint.size;
    client.read_through(checkpoint.size);
    match &opts.policy {
        None => report.add(
            "witness quorum",
            true,
            "no witness was required (no --policy given)",
        ),
        Some(policy) => {
            let (ok, mut detail) = judge_witnesses(policy, &verifier, &note);
            if let Some(e) = unwitnessed {
                detail.push_str(&format!(
                    "; the registry served no witnessed checkpoint: {e}"
                ));
            }
            report.add("witness quorum", ok, detail);
        }
    }

    // 3. Consistency with the checkpoint kept from the last run.
    match &kept {
        None => report.add(
            "consistency with kept checkpoint",
            true,
            "no earlier checkpoint kept (first run)",
        ),
        Some(state) => {
            let check = consistent(client, &verifier, &state.checkpoint, &checkpoint);
            match check {
                Ok(detail) => report.add("consistency with kept checkpoint", true, detail),
                Err(detail) => report.add("consistency with kept checkpoint", false, detail),
            }
        }
    }

    // 4. Replay every entry up to the checkpoint: leaf hashes, the root, the rules.
    let started = Instant::now();
    let (tree, replay, log, entry_problems) =
        replay_entries(client, checkpoint.size, verifier.name())?;
    report.entries_per_second = checkpoint.size as f64 / started.elapsed().as_secs_f64().max(1e-9);
    report.add(
        "entries match their leaf hashes",
        entry_problems.is_empty(),
        if entry_problems.is_empty() {
            format!("{} entries, contiguous from 0", checkpoint.size)
        } else {
            entry_problems.join("; ")
        },
    );
    let root = merkle::root(checkpoint.size, &mut &tree)
        .map_err(|e| AuditError::Tree(format!("the root: {e}")))?;
    report.add(
        "root recomputed from entries",
        root == checkpoint.root,
        if root == checkpoint.root {
            format!("{} matches the checkpoint", STANDARD.encode(root))
        } else {
            format!(
                "entries hash to {} but the checkpoint says {}: entries were changed, removed \
                 or reordered",
                STANDARD.encode(root),
                STANDARD.encode(checkpoint.root)
            )
        },
    );
    // The registry-wide rules: one line when all hold, else one line per broken rule.
    if replay.findings.is_empty() {
        report.add(
            "registry rules hold",
            true,
            "references, unique ids, status transitions, token and key lifecycles, \
             sequences, signature requests, party offices, outcomes and commitments all valid",
        );
    }
    let mut broken: Vec<&'static str> = Vec::new();
    for f in &replay.findings {
        if !broken.contains(&f.rule) {
            broken.push(f.rule);
        }
    }
    for rule in broken {
        let of_rule: Vec<String> = replay
            .findings
            .iter()
            .filter(|f| f.rule == rule)
            .map(|f| format!("entry {}: {}", f.index, f.message))
            .collect();
        let shown: Vec<&String> = of_rule.iter().take(20).collect();
        report.add(
            rule,
            false,
            format!(
                "{} finding(s): {}",
                of_rule.len(),
                shown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );
    }

    // 5. Every MOU through the rules engine: what the server serves about it against the log,
    //    every signature re-verified (in batches) under the key the log registered.
    let (mou_findings, seconds, served_mous) = check_mous(client, &replay, &log, verifier.name())?;
    let mut detail = format!(
        "{} signatures verified (strict, in batches of up to {BATCH} on {} threads) in {} \
         MOUs; with fetching and parsing, {:.0} signatures/s ({seconds:.2} s)",
        mou_findings.verified,
        mou_findings.workers,
        mou_findings.mous,
        mou_findings.verified as f64 / seconds.max(1e-9)
    );
    if !replay.voided.is_empty() {
        detail.push_str(&format!(
            "; {} signature(s) void because their key was revoked as compromised",
            replay.voided.len()
        ));
    }
    report.add("signatures verify", true, detail);
    rule_lines(&mut report, &mou_findings.checks);

    // 6. With a token that may read them, every MOU document against its logged hash.
    let (ok, detail) = check_documents(client, &replay);
    report.add("documents match their logged hashes", ok, detail);

    // 7. The registry's current state says what the log says: partnerships, keys, and the
    //    signature requests and workflow state of every MOU.
    let (mismatches, with_rounds) = compare_state(client, &replay, &served_mous)?;
    let grew = client
        .get_json("/healthz")?
        .get("log_size")
        .and_then(Value::as_u64)
        .is_some_and(|n| n > checkpoint.size);
    report.add(
        "served state matches the log",
        mismatches.is_empty() || grew,
        if mismatches.is_empty() {
            format!(
                "{} partnerships and {} keys agree with the log, as do the signature requests \
                 of {with_rounds} MOUs",
                replay.partnerships().len(),
                replay.keys().len()
            )
        } else if grew {
            format!(
                "{} difference(s), but the log grew during the audit; run it again",
                mismatches.len()
            )
        } else {
            mismatches.join("; ")
        },
    );

    if report.passed()
        && let Some(path) = &opts.state
    {
        save_state(
            path,
            &AuditState {
                vkey,
                checkpoint: note,
            },
        )?;
    }
    Ok(report)
}

/// The policy's verdict on a checkpoint note already verified under `log`: the log must be
/// one the policy accepts, and the cosignatures must meet its quorum with none forged.
pub fn judge_witnesses(
    policy: &crate::policy::Policy,
    log: &NoteVerifier,
    note: &str,
) -> (bool, String) {
    if !policy.accepts_log(log) {
        return (
            false,
            format!(
                "the policy does not list the registry key {} among its logs",
                log.to_vkey()
            ),
        );
    }
    let Some(body) = note.rfind("\n\n").and_then(|i| note.get(..=i)) else {
        return (false, "the checkpoint note has no body".to_string());
    };
    let verdict = policy.check_cosignatures(body, note);
    (verdict.passed(), verdict.describe())
}

/// One signature to check in a batch: the signed data, the signature and the key the log
/// registered for the fingerprint the statement names.
struct Pending {
    mou: String,
    data: Vec<u8>,
    signature: ed25519_dalek::Signature,
    key: PublicKey,
}

/// `signature_valid` for the whole-registry audit: the engine's first pass queues each
/// well-formed signature for a batch and counts it valid; a signature that cannot even be
/// queued (malformed, another namespace or key) is judged at once by `verify_strict`, which
/// names why. An MOU whose batch then fails is checked again signature by signature.
struct Deferred {
    pending: std::cell::RefCell<Vec<Pending>>,
}

impl SignatureCheck for Deferred {
    fn check(
        &self,
        mou: &str,
        _seq: i64,
        armored: &str,
        namespace: &str,
        statement: &[u8],
        key: &PublicKey,
    ) -> Result<String, String> {
        use crate::sshsig;
        let queued = sshsig::parse_armored(armored)
            .ok()
            .filter(|sig| sig.namespace() == namespace && sig.public_key().same_key(key));
        let Some(sig) = queued else {
            return crate::rules::signature_valid(armored, namespace, statement, key);
        };
        self.pending.borrow_mut().push(Pending {
            mou: mou.to_string(),
            data: sshsig::signed_data(namespace, statement),
            signature: *sig.signature(),
            key: key.clone(),
        });
        Ok(format!(
            "verified (strict, in a batch) under {}",
            key.fingerprint()
        ))
    }
}

/// Signatures a fetcher collects before checking them in one batch: large enough that the
/// batch's multiscalar multiplication runs near its best rate per signature, small enough
/// that the last batches do not leave a core idle for long.
const BATCH: usize = 4096;

/// The part of a served MOU the audit reads: what the server claims about it.
#[derive(Clone, Deserialize)]
struct ServedMou {
    id: String,
    partnership: String,
    title: String,
    state: MouState,
    current_version: i32,
    required_signers: Vec<crate::rules::RequiredSigner>,
    versions: Vec<ServedVersion>,
    log_index: i64,
}

#[derive(Clone, Deserialize)]
struct ServedVersion {
    version: i32,
    sha256: String,
    size: i64,
    media_type: String,
    filename: Option<String>,
    #[serde(default)]
    language: Option<String>,
    /// Every document of the version, the first included (servers before multilingual
    /// versions sent none).
    #[serde(default)]
    documents: Vec<ServedDocument>,
    log_index: i64,
}

/// One document of a served version.
#[derive(Clone, Deserialize)]
struct ServedDocument {
    sha256: String,
    size: i64,
    media_type: String,
    filename: Option<String>,
    language: Option<String>,
}

/// One signature of `GET /api/v1/signatures`, the part the audit reads.
#[derive(Deserialize)]
struct ServedSignature {
    mou: String,
    seq: i64,
    version: i32,
    statement: String,
    signature: String,
    log_index: i64,
}

/// One page of `GET /api/v1/signatures`.
#[derive(Deserialize)]
struct ServedSignaturePage {
    items: Vec<ServedSignature>,
    next_cursor: Option<String>,
}

/// Whole chains as served: each MOU's id and its signatures in the order served.
type ServedChains = Vec<(String, Vec<BundleSignature>)>;

/// Signatures the audit asks for per request (the server's largest page).
const SIGNATURE_PAGE: usize = 5000;

/// Reads every signature the server serves, a page at a time, and hands each MOU's chain on
/// once it is whole (a chain may span two pages; the list runs MOU by MOU). Stops at the
/// end of the list, at the first error (sent on), or when the receivers are gone.
fn fetch_chains(
    client: &dyn Fetch,
    send: &std::sync::mpsc::SyncSender<Result<ServedChains, AuditError>>,
) {
    let mut cursor: Option<String> = None;
    let mut open: Option<(String, Vec<BundleSignature>)> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/signatures?limit={SIGNATURE_PAGE}&cursor={c}"),
            None => format!("/api/v1/signatures?limit={SIGNATURE_PAGE}"),
        };
        let page = client.get_bytes(&path).and_then(|body| {
            serde_json::from_slice::<ServedSignaturePage>(&body)
                .map_err(|e| AuditError::Fetch(format!("GET {path}: malformed: {e}")))
        });
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                let _ = send.send(Err(e));
                return;
            }
        };
        let mut whole = Vec::new();
        for s in page.items {
            let link = BundleSignature {
                seq: s.seq,
                version: s.version,
                statement: s.statement,
                signature: s.signature,
                log_index: s.log_index,
            };
            match &mut open {
                Some((mou, links)) if *mou == s.mou => links.push(link),
                _ => whole.extend(open.replace((s.mou, vec![link]))),
            }
        }
        if page.next_cursor.is_none() {
            whole.extend(open.take());
        }
        if !whole.is_empty() && send.send(Ok(whole)).is_err() {
            return;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return,
        }
    }
}

/// What the server claims about one MOU, in the shape the rules engine reads.
struct Claimed {
    mou: BundleMou,
    versions: Vec<BundleVersion>,
    signatures: Vec<BundleSignature>,
}

/// The server's claims about one MOU: the MOU as listed, with the chain it served.
fn claims_of(served: ServedMou, signatures: Vec<BundleSignature>) -> Claimed {
    Claimed {
        mou: BundleMou {
            id: served.id,
            partnership: served.partnership,
            title: served.title,
            required_signers: served.required_signers,
            state: served.state,
            current_version: served.current_version,
            log_index: served.log_index,
        },
        versions: served
            .versions
            .into_iter()
            .map(|v| BundleVersion {
                version: v.version,
                sha256: v.sha256,
                size: v.size,
                media_type: v.media_type,
                filename: v.filename,
                language: v.language,
                // A served document without a language cannot be an additional one; the
                // empty tag then disagrees with the log, as it should.
                additional_documents: v
                    .documents
                    .into_iter()
                    .skip(1)
                    .map(|d| VersionDocument {
                        sha256: d.sha256,
                        size: d.size,
                        media_type: d.media_type,
                        filename: d.filename,
                        language: d.language.unwrap_or_default(),
                    })
                    .collect(),
                log_index: v.log_index,
            })
            .collect(),
        signatures,
    }
}

/// One page of `GET /api/v1/mous`.
#[derive(Deserialize)]
struct ServedMouPage {
    items: Vec<ServedMou>,
    next_cursor: Option<String>,
}

/// Every MOU the server serves, by id, read 500 to a page.
fn served_mous(client: &dyn Fetch) -> Result<HashMap<String, ServedMou>, AuditError> {
    let mut mous = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/mous?limit=500&cursor={c}"),
            None => "/api/v1/mous?limit=500".to_string(),
        };
        let page: ServedMouPage = serde_json::from_slice(&client.get_bytes(&path)?)
            .map_err(|e| AuditError::Fetch(format!("GET {path}: malformed: {e}")))?;
        for m in page.items {
            mous.insert(m.id.clone(), m);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(mous),
        }
    }
}

/// Checks the queued signatures in one batch that accepts exactly what `verify_strict`
/// accepts; only if the batch fails is each checked alone, to find the MOUs to check again.
/// Returns how many signatures verified.
fn verify_pending(pending: &mut Vec<Pending>, failed: &mut HashSet<String>) -> usize {
    use crate::strict_batch::{Signed, verify_all_strict};
    let items: Vec<Signed<'_>> = pending
        .iter()
        .map(|p| Signed {
            data: &p.data,
            signature: &p.signature,
            key: &p.key,
        })
        .collect();
    let all = verify_all_strict(&items);
    let mut verified = 0;
    for p in pending.drain(..) {
        if all
            || p.key
                .verifying_key()
                .verify_strict(&p.data, &p.signature)
                .is_ok()
        {
            verified += 1;
        } else {
            failed.insert(p.mou);
        }
    }
    verified
}

/// What the MOU phase found: signatures batch-checked, the rule checks (failures, subjects
/// prefixed with their MOU, and passes counted per rule), and how many MOUs.
struct MouFindings {
    verified: usize,
    workers: usize,
    checks: Checks,
    mous: usize,
}

/// The rules engine over one MOU's claims, `signature_valid` answered by `signatures`; the
/// failures' subjects name the MOU.
fn judge(
    claimed: &Claimed,
    logged: usize,
    log: &ReplayedLog,
    origin: &str,
    signatures: &dyn SignatureCheck,
) -> Checks {
    let mut checks = Checks::summary();
    if claimed.signatures.len() != logged {
        checks.add(
            "statement_logged",
            "chain",
            None,
            false,
            format!(
                "the log has {logged} signatures, the chain serves {}",
                claimed.signatures.len()
            ),
        );
    }
    check_mou(
        &mut checks,
        origin,
        &MouClaims {
            mou: &claimed.mou,
            versions: &claimed.versions,
            signatures: &claimed.signatures,
            keys: &[],
            documents_sha256: Vec::new(),
        },
        log,
        signatures,
    );
    for c in &mut checks.checks {
        c.subject = format!("MOU {} {}", claimed.mou.id, c.subject);
    }
    checks
}

/// Adds `more` to `into`: failures appended, passes counted.
fn merge_checks(into: &mut Checks, more: Checks) {
    into.checks.extend(more.checks);
    for (rule, n) in more.passed {
        match into.passed.iter_mut().find(|(r, _)| *r == rule) {
            Some((_, total)) => *total += n,
            None => into.passed.push((rule, n)),
        }
    }
}

/// What one verifier thread made of the chains it took: signatures batch-checked, each
/// judged MOU's checks, and the served chains it could not judge (the log never created
/// their MOU, or the server does not list it).
#[derive(Default)]
struct Verified {
    batched: usize,
    judged: Vec<(String, Checks)>,
    unjudged: Vec<String>,
}

/// Takes whole chains from `chains` until the fetcher is done, judges each MOU through the
/// rules engine with its signatures queued for batches (see [`Deferred`]), and checks a
/// batch whenever one is full. An MOU with a signature its batch refuses is judged again
/// with `verify_strict` per signature, which names it.
fn verify_chains(
    chains: &std::sync::Mutex<std::sync::mpsc::Receiver<Result<ServedChains, AuditError>>>,
    served: &HashMap<String, ServedMou>,
    replay: &Replay,
    log: &ReplayedLog,
    origin: &str,
) -> Result<Verified, AuditError> {
    let deferred = Deferred {
        pending: std::cell::RefCell::new(Vec::new()),
    };
    let mut failed = HashSet::new();
    let mut out = Verified::default();
    let mut judged: Vec<(Claimed, usize, Checks)> = Vec::new();
    loop {
        // The lock is held only to take the next message, not while judging it.
        let next = chains
            .lock()
            .map_err(|_| AuditError::Fetch("a signature verifier panicked".into()))?
            .recv();
        let Ok(received) = next else { break };
        for (id, signatures) in received? {
            let logged = replay.mous().get(&id).map(|m| m.signatures.len());
            let (Some(logged), Some(m)) = (logged, served.get(&id)) else {
                out.unjudged.push(id);
                continue;
            };
            let claimed = claims_of(m.clone(), signatures);
            let checks = judge(&claimed, logged, log, origin, &deferred);
            judged.push((claimed, logged, checks));
            if deferred.pending.borrow().len() >= BATCH {
                out.batched += verify_pending(&mut deferred.pending.borrow_mut(), &mut failed);
            }
        }
    }
    out.batched += verify_pending(&mut deferred.pending.borrow_mut(), &mut failed);
    for (claimed, logged, checks) in judged {
        let checks = if failed.contains(&claimed.mou.id) {
            judge(&claimed, logged, log, origin, &VerifyEach)
        } else {
            checks
        };
        out.judged.push((claimed.mou.id, checks));
    }
    Ok(out)
}

/// Every MOU of the log through the rules engine: the server's claims (the MOU as listed,
/// its chain from the registry-wide list of signatures) against every MOU and key entry of
/// the replayed log. One thread reads the signatures a page at a time while one verifier
/// per core judges the chains already read and checks their signatures in batches. Also
/// returns the MOUs the server listed, for the comparison of served state.
fn check_mous(
    client: &dyn Fetch,
    replay: &Replay,
    log: &ReplayedLog,
    origin: &str,
) -> Result<(MouFindings, f64, HashMap<String, ServedMou>), AuditError> {
    let phase = Instant::now();
    // Set once the list of MOUs is read, then shared by the verifiers (and returned).
    let listing: std::sync::OnceLock<HashMap<String, ServedMou>> = std::sync::OnceLock::new();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let results: Vec<Result<Verified, AuditError>> = std::thread::scope(|scope| {
        // Two pages in flight at most: the fetcher stays ahead without piling up memory. It
        // starts first, so its first pages are read while the MOUs are listed.
        let (send, chains) = std::sync::mpsc::sync_channel(2);
        scope.spawn(move || fetch_chains(client, &send));
        let served = match served_mous(client) {
            Ok(listed) => listing.get_or_init(|| listed),
            // Returning drops the receiver, which stops the fetcher.
            Err(e) => return vec![Err(e)],
        };
        // Shared by the verifiers and dropped with the last of them, so that the fetcher's
        // next send fails (and it stops) even if every verifier stopped early.
        let chains = std::sync::Arc::new(std::sync::Mutex::new(chains));
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let chains = std::sync::Arc::clone(&chains);
                scope.spawn(move || verify_chains(&chains, served, replay, log, origin))
            })
            .collect();
        drop(chains);
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(AuditError::Fetch("a signature verifier panicked".into()))
                })
            })
            .collect()
    });
    let mut findings = MouFindings {
        verified: 0,
        workers,
        checks: Checks::summary(),
        mous: replay.mous().len(),
    };
    // Each MOU's checks by id, so the report reads the same whichever thread judged what.
    let mut judged: Vec<(String, Checks)> = Vec::new();
    let mut unjudged: Vec<String> = Vec::new();
    for r in results {
        let v = r?;
        findings.verified += v.batched;
        judged.extend(v.judged);
        unjudged.extend(v.unjudged);
    }
    let served = listing
        .get()
        .ok_or_else(|| AuditError::Fetch("the MOUs were not listed".into()))?;
    judged.sort_by(|a, b| a.0.cmp(&b.0));
    let mut chained: HashSet<String> = HashSet::new();
    for (id, _) in &judged {
        if !chained.insert(id.clone()) {
            findings.checks.add(
                "statement_logged",
                format!("MOU {id} chain"),
                None,
                false,
                "the server lists this MOU's signatures in more than one place",
            );
        }
    }
    unjudged.sort();
    unjudged.dedup();
    for id in &unjudged {
        if !replay.mous().contains_key(id) {
            findings.checks.add(
                "mou_logged",
                format!("MOU {id} chain"),
                None,
                false,
                "the server serves signatures of this MOU, the log never created it",
            );
        }
    }
    let mut logged: Vec<(&String, usize)> = replay
        .mous()
        .iter()
        .map(|(id, m)| (id, m.signatures.len()))
        .collect();
    logged.sort();
    for (id, count) in logged {
        match served.get(id) {
            None => {
                findings.checks.add(
                    "mou_logged",
                    format!("MOU {id} mou"),
                    None,
                    false,
                    "the log created this MOU, the server does not list it",
                );
            }
            // An MOU the list of signatures does not name: judged with no chain, which the
            // rules pass only if the log has no signature of it either.
            Some(m) if !chained.contains(id) => {
                let claimed = claims_of(m.clone(), Vec::new());
                judged.push((id.clone(), judge(&claimed, count, log, origin, &VerifyEach)));
            }
            Some(_) => {}
        }
    }
    judged.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, checks) in judged {
        merge_checks(&mut findings.checks, checks);
    }
    let mut unlogged: Vec<&String> = served
        .keys()
        .filter(|id| !replay.mous().contains_key(*id))
        .collect();
    unlogged.sort();
    for id in unlogged {
        findings.checks.add(
            "mou_logged",
            format!("MOU {id} mou"),
            None,
            false,
            "the server lists this MOU, the log never created it",
        );
    }
    let seconds = phase.elapsed().as_secs_f64();
    Ok((findings, seconds, listing.into_inner().unwrap_or_default()))
}

/// One report line per MOU rule, in the order the engine applies them: a pass counts the
/// subjects, a failure lists them (the first 20).
fn rule_lines(report: &mut Report, checks: &Checks) {
    let mut order: Vec<&'static str> = checks.passed.iter().map(|(rule, _)| *rule).collect();
    for c in &checks.checks {
        if !order.contains(&c.check) {
            order.push(c.check);
        }
    }
    for rule in order {
        let passed = checks
            .passed
            .iter()
            .find(|(r, _)| *r == rule)
            .map_or(0, |(_, n)| *n);
        let failed: Vec<String> = checks
            .checks
            .iter()
            .filter(|c| c.check == rule && c.result == Verdict::Fail)
            .map(|c| format!("{}: {}", c.subject, c.detail))
            .collect();
        let total = passed + failed.len();
        if rule == "required_signers" {
            // Unmet requirements are normal for drafts and open MOUs; what the registry must
            // get right is the state it gives them, which `state_consistent` checks.
            report.add(
                rule,
                true,
                format!(
                    "{passed} of {total} MOUs have every required signature; state_consistent \
                     checks that only those are executed"
                ),
            );
            continue;
        }
        let detail = if failed.is_empty() {
            format!("{total} checked")
        } else {
            let shown: Vec<String> = failed.iter().take(20).cloned().collect();
            format!("{} of {total} fail: {}", failed.len(), shown.join("; "))
        };
        report.add(rule, failed.is_empty(), detail);
    }
}

/// Downloads every logged document, MOU versions and activity evidence (when the audit has a
/// token), and compares its SHA-256 with the hash the log recorded when it was stored.
fn check_documents(client: &dyn Fetch, replay: &Replay) -> (bool, String) {
    // (what, where, logged SHA-256 hex)
    let mut documents: Vec<(String, String, &str)> = Vec::new();
    for (id, mou) in replay.mous() {
        for (version, logged) in &mou.versions {
            let several = logged.additional_documents.is_some();
            for (i, (_, sha)) in logged.documents().into_iter().enumerate() {
                let position = i + 1;
                documents.push(if several {
                    (
                        format!("MOU {id} version {version} document {position}"),
                        format!("/api/v1/mous/{id}/versions/{version}/documents/{position}"),
                        sha,
                    )
                } else {
                    (
                        format!("MOU {id} version {version}"),
                        format!("/api/v1/mous/{id}/versions/{version}/document"),
                        sha,
                    )
                });
            }
        }
    }
    for (id, hashes) in replay.evidence() {
        for (i, logged) in hashes.iter().enumerate() {
            let seq = i + 1;
            documents.push((
                format!("activity {id} evidence {seq}"),
                format!("/api/v1/activities/{id}/evidence/{seq}"),
                logged.as_str(),
            ));
        }
    }
    documents.sort();
    let total = documents.len();
    if !client.has_token() {
        return (
            true,
            format!(
                "not checked: {total} documents are not public; pass --token with an auditor \
                 token to check them"
            ),
        );
    }
    let mut problems = Vec::new();
    for (what, path, logged) in documents {
        match client.get_bytes(&path) {
            Ok(bytes) => {
                let got = hex::encode(crate::sha256(&bytes));
                if got != logged {
                    problems.push(format!(
                        "{what}: the document hashes to {got}, the log says {logged}"
                    ));
                }
            }
            Err(e) => problems.push(format!("{what}: {e}")),
        }
    }
    if problems.is_empty() {
        (
            true,
            format!("{total} documents hash to what the log recorded"),
        )
    } else {
        (false, problems.join("; "))
    }
}

fn consistent(
    client: &dyn Fetch,
    verifier: &NoteVerifier,
    kept_note: &str,
    new: &Checkpoint,
) -> Result<String, String> {
    let (old, _) = open_checkpoint(kept_note, verifier.name(), std::slice::from_ref(verifier))
        .map_err(|e| format!("the kept checkpoint does not verify: {e}"))?;
    if old.size > new.size {
        return Err(format!(
            "the log shrank from {} to {} entries",
            old.size, new.size
        ));
    }
    if old.size == new.size {
        return if old.root == new.root {
            Ok(format!("unchanged at size {}", new.size))
        } else {
            Err(format!(
                "two different trees of size {}: the log was forked or rewritten",
                new.size
            ))
        };
    }
    if old.size == 0 {
        return Ok(format!("0 -> {}", new.size));
    }
    let proof = client
        .get_json(&format!(
            "/api/v1/log/proof/consistency?from={}&to={}",
            old.size, new.size
        ))
        .map_err(|e| e.to_string())?;
    let hashes = proof
        .get("proof")
        .and_then(hashes)
        .ok_or("the consistency proof is malformed")?;
    merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &hashes)
        .map(|_| format!("{} -> {} proven", old.size, new.size))
        .map_err(|e| {
            format!(
                "the checkpoint of size {} does not extend the kept one of size {}: {e} (the log \
                 was forked or rewritten)",
                new.size, old.size
            )
        })
}

fn progress(total: u64) -> indicatif::ProgressBar {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} entries ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message("replaying");
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// One page of `GET /api/v1/log/entries`, the part the audit reads. A field the server left
/// out reads as empty, which the checks then refuse.
#[derive(Deserialize)]
struct ServedEntries {
    #[serde(default)]
    entries: Vec<ServedEntry>,
}

#[derive(Deserialize)]
struct ServedEntry {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    entry: String,
    #[serde(default)]
    leaf_hash: String,
}

/// An entry as fetched, decoded and hashed, ready to replay.
struct FetchedEntry {
    served_index: Option<u64>,
    bytes: Vec<u8>,
    leaf: merkle::Hash,
    leaf_matches: bool,
}

/// Entries a page of `GET /api/v1/log/entries` holds at most.
const ENTRY_PAGE: u64 = 1000;

/// Fetches entries `[0, size)` page by page, decodes and hashes them, and hands each page to
/// `send`; an empty page means the server has no entry where the next one should be. Stops
/// at `size`, at the first error (sent on), or when the receiver is gone.
fn fetch_entries(
    client: &dyn Fetch,
    size: u64,
    send: &std::sync::mpsc::SyncSender<Result<Vec<FetchedEntry>, AuditError>>,
) {
    let mut index = 0u64;
    while index < size {
        let limit = (size - index).min(ENTRY_PAGE);
        let path = format!("/api/v1/log/entries?start={index}&limit={limit}");
        let page = client.get_bytes(&path).and_then(|body| {
            serde_json::from_slice::<ServedEntries>(&body)
                .map_err(|e| AuditError::Fetch(format!("GET {path}: malformed: {e}")))
        });
        let entries = match page {
            Ok(page) => page.entries,
            Err(e) => {
                let _ = send.send(Err(e));
                return;
            }
        };
        let fetched: Vec<FetchedEntry> = entries
            .into_iter()
            .take(usize::try_from(size - index).unwrap_or(usize::MAX))
            .map(|e| {
                let bytes = STANDARD.decode(&e.entry).unwrap_or_default();
                let leaf = merkle::leaf_hash(&bytes);
                FetchedEntry {
                    served_index: e.index,
                    leaf_matches: e.leaf_hash == hex::encode(leaf),
                    bytes,
                    leaf,
                }
            })
            .collect();
        let empty = fetched.is_empty();
        index += fetched.len() as u64;
        if send.send(Ok(fetched)).is_err() || empty {
            return;
        }
    }
}

/// Fetches entries `[0, size)`, checking each against its served leaf hash; `origin` is the
/// registry's, which decline statements must name. Fetching, decoding and hashing run on a
/// thread of their own, a page or two ahead of the replay, which must apply entries in order
/// on one: so both cores work while the log is replayed.
fn replay_entries(
    client: &dyn Fetch,
    size: u64,
    origin: &str,
) -> Result<(MemoryTree, Replay, ReplayedLog, Vec<String>), AuditError> {
    let mut tree = MemoryTree::new();
    let mut replay = Replay::with_origin(origin);
    let mut log = ReplayedLog::new();
    let mut problems = Vec::new();
    let bar = progress(size);
    let plain = !std::io::stderr().is_terminal();
    let mut next_report = size / 10;
    let mut index = 0u64;
    std::thread::scope(|scope| {
        let (send, pages) = std::sync::mpsc::sync_channel(2);
        scope.spawn(move || fetch_entries(client, size, &send));
        // The loop ends when the fetcher is done (its sender dropped) or an answer ends it.
        for page in pages.iter() {
            let page = page?;
            if page.is_empty() {
                problems.push(format!("entries from {index} are missing"));
                break;
            }
            for e in page {
                if e.served_index != Some(index) {
                    problems.push(format!(
                        "expected entry {index}, the server gave {:?}",
                        e.served_index
                    ));
                }
                if !e.leaf_matches && problems.len() < 20 {
                    problems.push(format!(
                        "entry {index}: its bytes do not match its leaf hash"
                    ));
                }
                tree.push_leaf_hash(e.leaf)
                    .map_err(|e| AuditError::Tree(e.to_string()))?;
                if let Some(entry) = replay.apply(index, &e.bytes) {
                    log.push(i64::try_from(index).unwrap_or(i64::MAX), entry);
                }
                index += 1;
            }
            bar.set_position(index);
            if plain && index >= next_report && size >= 10_000 {
                eprintln!("replayed {index} of {size} entries");
                next_report += size / 10;
            }
        }
        Ok::<(), AuditError>(())
    })?;
    bar.finish_and_clear();
    Ok((tree, replay, log, problems))
}

/// Compares every served partnership's status and every key's with the replayed ones, and
/// the signature workflow of every MOU (see [`compare_workflow`]). Returns the mismatches and
/// how many MOUs have rounds of requests in the log.
fn compare_state(
    client: &dyn Fetch,
    replay: &Replay,
    mous: &HashMap<String, ServedMou>,
) -> Result<(Vec<String>, usize), AuditError> {
    let mut mismatches = Vec::new();
    let mut seen = 0usize;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/partnerships?limit=500&cursor={c}"),
            None => "/api/v1/partnerships?limit=500".to_string(),
        };
        let page = client.get_json(&path)?;
        for p in page
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let id = p.get("id").and_then(Value::as_str).unwrap_or_default();
            let status = p.get("status").and_then(Value::as_str).unwrap_or_default();
            match replay.partnerships().get(id) {
                None => mismatches.push(format!("partnership {id} is not in the log")),
                Some(r) if r.status.as_str() != status => mismatches.push(format!(
                    "partnership {id} is served as {status} but the log says {}",
                    r.status
                )),
                Some(_) => seen += 1,
            }
        }
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let now = chrono::Utc::now().timestamp_micros();
    let mut key_ids: Vec<&String> = replay.keys().keys().collect();
    key_ids.sort();
    for id in key_ids {
        let served = client.get_json(&format!("/api/v1/keys/{id}"))?;
        let logged = replay.keys()[id].status_at(now);
        let status = served
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if status != logged {
            mismatches.push(format!(
                "key {id} is served as {status} but the log says {logged}"
            ));
        }
    }
    if seen + mismatches.len() < replay.partnerships().len() {
        mismatches.push(format!(
            "the log has {} partnerships, the server lists {}",
            replay.partnerships().len(),
            seen + mismatches.len()
        ));
    }
    let with_rounds = compare_workflow(client, replay, mous, &mut mismatches);
    Ok((mismatches, with_rounds))
}

/// The signature workflow as served against the log. For every MOU whose log has a round of
/// signature requests, one `GET /api/v1/mous/{id}/signature-requests`: every logged request
/// served and every served one logged, each with the logged round, version, signer, role,
/// group, state and decline reason, and the MOU's state `declined` or `expired` exactly when
/// the log's last round ended that way ([`crate::replay::ReplayedMou::workflow_state`]). An
/// MOU without rounds must not be served as `declined` or `expired` (its state from the MOU
/// list already fetched). A server that cannot answer for an MOU with logged rounds (no such
/// route, the MOU unknown, a malformed answer) is a mismatch. Returns how many MOUs have
/// rounds.
fn compare_workflow(
    client: &dyn Fetch,
    replay: &Replay,
    mous: &HashMap<String, ServedMou>,
    mismatches: &mut Vec<String>,
) -> usize {
    let mut ids: Vec<&String> = replay.mous().keys().collect();
    ids.sort();
    let mut with_rounds = 0;
    for id in ids {
        let logged = &replay.mous()[id];
        if logged.rounds.is_empty() {
            if let Some(m) = mous.get(id)
                && matches!(m.state, MouState::Declined | MouState::Expired)
            {
                mismatches.push(format!(
                    "MOU {id} is served as {} but the log has no round of signature requests \
                     for it",
                    m.state.as_str()
                ));
            }
            continue;
        }
        with_rounds += 1;
        let path = format!("/api/v1/mous/{id}/signature-requests");
        let served = client.get_bytes(&path).and_then(|bytes| {
            serde_json::from_slice::<ServedRequests>(&bytes)
                .map_err(|e| AuditError::Fetch(format!("GET {path}: malformed: {e}")))
        });
        match served {
            Ok(served) => mismatches.extend(workflow_mismatches(
                id,
                &logged.rounds,
                logged.workflow_state(),
                &served,
            )),
            Err(e) => mismatches.push(format!(
                "MOU {id}: the log has {} round(s) of signature requests, but the server does \
                 not serve them: {e}",
                logged.rounds.len()
            )),
        }
    }
    with_rounds
}

/// The part of `GET /api/v1/mous/{id}/signature-requests` the audit reads.
#[derive(Deserialize)]
struct ServedRequests {
    state: MouState,
    requests: Vec<ServedRequest>,
}

#[derive(Deserialize)]
struct ServedRequest {
    id: String,
    round: i64,
    version: i64,
    signer: String,
    role: String,
    group: i64,
    state: String,
    decline: Option<ServedDecline>,
}

#[derive(Deserialize)]
struct ServedDecline {
    reason: String,
}

/// How one MOU's served requests and state differ from its logged `rounds` and
/// `workflow` state (`None`: neither declined nor expired).
fn workflow_mismatches(
    id: &str,
    rounds: &[ReplayedRound],
    workflow: Option<MouState>,
    served: &ServedRequests,
) -> Vec<String> {
    let mut out = Vec::new();
    // request id -> (its round, the request); a request id logged twice (a `request_valid`
    // finding) counts for the round that first named it, as `Replay::requests` does.
    let mut logged = HashMap::new();
    for round in rounds {
        for q in &round.requests {
            logged.entry(q.id.as_str()).or_insert((round, q));
        }
    }
    let mut seen = HashSet::new();
    for s in &served.requests {
        let rid = s.id.as_str();
        if !seen.insert(rid) {
            out.push(format!("MOU {id}: request {rid} is served twice"));
            continue;
        }
        let Some((round, q)) = logged.get(rid) else {
            out.push(format!(
                "MOU {id}: the server serves request {rid} (round {}, {}), which is not in the \
                 log",
                s.round, s.signer
            ));
            continue;
        };
        let mut differs = |what: &str, served: String, logged: String| {
            if served != logged {
                out.push(format!(
                    "MOU {id}: request {rid} is served with {what} {served} but the log says \
                     {logged}"
                ));
            }
        };
        differs("round", s.round.to_string(), round.round.to_string());
        differs("version", s.version.to_string(), round.version.to_string());
        differs("signer", s.signer.clone(), q.signer.clone());
        differs("role", s.role.clone(), q.role.clone());
        differs("group", s.group.to_string(), q.group.to_string());
        if s.state != q.state.as_str() {
            out.push(format!(
                "MOU {id}: request {rid} is served as {} but the log says {}",
                s.state, q.state
            ));
        }
        match (&s.decline, &q.decline_reason) {
            (Some(d), Some(reason)) if d.reason != *reason => out.push(format!(
                "MOU {id}: request {rid} is served with decline reason {:?} but the log says \
                 {reason:?}",
                d.reason
            )),
            (Some(d), None) => out.push(format!(
                "MOU {id}: request {rid} is served with decline reason {:?} but the log has no \
                 decline of it",
                d.reason
            )),
            (None, Some(reason)) => out.push(format!(
                "MOU {id}: request {rid} is served without the decline the log has (reason \
                 {reason:?})"
            )),
            _ => {}
        }
    }
    let mut missing: Vec<(i64, &str, &str)> = logged
        .iter()
        .filter(|(rid, _)| !seen.contains(*rid))
        .map(|(rid, (round, q))| (round.round, *rid, q.signer.as_str()))
        .collect();
    missing.sort();
    for (round, rid, signer) in missing {
        out.push(format!(
            "MOU {id}: request {rid} (round {round}, {signer}) is in the log but the server \
             does not serve it"
        ));
    }
    let served_workflow =
        matches!(served.state, MouState::Declined | MouState::Expired).then_some(served.state);
    if served_workflow != workflow {
        let says = match workflow {
            Some(state) => format!("the log's last round ended {}", state.as_str()),
            None => "the log says it is neither declined nor expired".to_string(),
        };
        out.push(format!(
            "MOU {id} is served as {} but {says}",
            served.state.as_str()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::replay::{ReplayedRequest, RequestState};

    const MOU: &str = "01a222d9-510a-7051-a07f-0cc152c1440c";

    /// Serves `pages` of `GET /api/v1/signatures` in turn, each page's `next_cursor` the
    /// index of the next one.
    struct SignaturePages(Vec<Vec<(&'static str, i64)>>);

    impl Fetch for SignaturePages {
        fn get_bytes(&self, path: &str) -> Result<Vec<u8>, AuditError> {
            let at = path
                .split_once("cursor=")
                .map_or(0, |(_, c)| c.parse::<usize>().unwrap());
            let items: Vec<Value> = self.0[at]
                .iter()
                .map(|(mou, seq)| {
                    json!({"mou": mou, "seq": seq, "version": 1, "statement": "",
                           "signature": "", "log_index": seq})
                })
                .collect();
            let next = (at + 1 < self.0.len()).then(|| (at + 1).to_string());
            Ok(serde_json::to_vec(&json!({"items": items, "next_cursor": next})).unwrap())
        }

        fn has_token(&self) -> bool {
            false
        }
    }

    fn chains_of(pages: Vec<Vec<(&'static str, i64)>>) -> Vec<(String, Vec<i64>)> {
        let (send, received) = std::sync::mpsc::sync_channel(16);
        fetch_chains(&SignaturePages(pages), &send);
        drop(send);
        received
            .iter()
            .flat_map(|page| page.unwrap())
            .map(|(mou, links)| (mou, links.iter().map(|l| l.seq).collect()))
            .collect()
    }

    #[test]
    fn chains_are_handed_on_whole_across_pages() {
        let chains = chains_of(vec![
            vec![("a", 1), ("a", 2)],
            vec![("a", 3), ("b", 1)],
            vec![("b", 2)],
            vec![("c", 1)],
        ]);
        assert_eq!(
            chains,
            vec![
                ("a".to_string(), vec![1, 2, 3]),
                ("b".to_string(), vec![1, 2]),
                ("c".to_string(), vec![1]),
            ]
        );
        // A server that serves an MOU's signatures in two places gives two chains for it,
        // which the MOU phase reports.
        let chains = chains_of(vec![vec![("a", 1), ("b", 1)], vec![("a", 2)]]);
        let ids: Vec<&str> = chains.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "a"]);
        assert!(chains_of(vec![vec![]]).is_empty());
    }

    fn request(id: &str, signer: &str, group: i64, state: RequestState) -> ReplayedRequest {
        ReplayedRequest {
            id: id.into(),
            signer: signer.into(),
            role: "signatory".into(),
            group,
            state,
            decline_reason: (state == RequestState::Declined).then(|| "Not yet".to_string()),
        }
    }

    /// Round 1: Shanghai's mayor declined, Houston's cancelled; round 2 on version 2 pending.
    fn rounds() -> Vec<ReplayedRound> {
        vec![
            ReplayedRound {
                round: 1,
                version: 1,
                doc_sha256: "00".repeat(32),
                deadline: Some(0),
                requests: vec![
                    request("r1", "mayor@us-hou", 1, RequestState::Cancelled),
                    request("r2", "mayor@cn-sha", 2, RequestState::Declined),
                ],
            },
            ReplayedRound {
                round: 2,
                version: 2,
                doc_sha256: "11".repeat(32),
                deadline: Some(0),
                requests: vec![request("r3", "mayor@us-hou", 1, RequestState::Pending)],
            },
        ]
    }

    /// What an honest server serves for [`rounds`], as JSON to edit.
    fn served() -> Value {
        let one = |id: &str, round: i64, version: i64, signer: &str, group: i64, state: &str| {
            json!({"id": id, "mou": MOU, "round": round, "version": version, "signer": signer,
                   "signer_city": signer.split_once('@').map(|(_, c)| c), "role": "signatory",
                   "group": group, "state": state, "deadline": "2026-12-20T17:00:00Z",
                   "decline": null, "signature_seq": null})
        };
        let mut declined = one("r2", 1, 1, "mayor@cn-sha", 2, "declined");
        declined["decline"] = json!({"reason": "Not yet", "statement": "e30=",
                                     "signature": "sig", "namespace": "ns"});
        json!({"mou": MOU, "state": "open", "requests": [
            one("r1", 1, 1, "mayor@us-hou", 1, "cancelled"),
            declined,
            one("r3", 2, 2, "mayor@us-hou", 1, "pending"),
        ]})
    }

    fn mismatches(served: Value, workflow: Option<MouState>) -> Vec<String> {
        let served: ServedRequests = serde_json::from_value(served).expect("served shape");
        workflow_mismatches(MOU, &rounds(), workflow, &served)
    }

    #[test]
    fn an_honest_workflow_has_no_mismatch() {
        assert_eq!(mismatches(served(), None), Vec::<String>::new());
        let mut declined = served();
        declined["state"] = json!("declined");
        assert_eq!(
            mismatches(declined, Some(MouState::Declined)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_edited_request_field_is_named() {
        let cases: [(&str, Value, &str); 7] = [
            (
                "state",
                json!("signed"),
                "request r2 is served as signed but the log says declined",
            ),
            (
                "signer",
                json!("deputy@cn-sha"),
                "served with signer deputy@cn-sha",
            ),
            (
                "role",
                json!("witness"),
                "served with role witness but the log says signatory",
            ),
            ("group", json!(1), "served with group 1 but the log says 2"),
            ("round", json!(2), "served with round 2 but the log says 1"),
            (
                "version",
                json!(2),
                "served with version 2 but the log says 1",
            ),
            (
                "decline",
                json!(null),
                "served without the decline the log has",
            ),
        ];
        for (field, value, expect) in cases {
            let mut edited = served();
            edited["requests"][1][field] = value;
            let found = mismatches(edited, None);
            assert_eq!(found.len(), 1, "{field}: {found:?}");
            assert!(found[0].contains(expect), "{field}: {found:?}");
        }
        let mut reason = served();
        reason["requests"][1]["decline"]["reason"] = json!("Something else");
        let found = mismatches(reason, None);
        assert_eq!(
            found,
            [format!(
                "MOU {MOU}: request r2 is served with decline reason \"Something else\" but the \
                 log says \"Not yet\""
            )]
        );
        let mut invented = served();
        invented["requests"][0]["decline"] = json!({"reason": "Invented"});
        let found = mismatches(invented, None);
        assert!(
            found[0].contains("the log has no decline of it"),
            "{found:?}"
        );
    }

    #[test]
    fn missing_extra_and_duplicate_requests_are_named() {
        let mut missing = served();
        missing["requests"]
            .as_array_mut()
            .expect("requests")
            .remove(2);
        let found = mismatches(missing, None);
        assert_eq!(
            found,
            [format!(
                "MOU {MOU}: request r3 (round 2, mayor@us-hou) is in the log but the server does \
                 not serve it"
            )]
        );
        let mut extra = served();
        let mut invented = extra["requests"][2].clone();
        invented["id"] = json!("r9");
        extra["requests"]
            .as_array_mut()
            .expect("requests")
            .push(invented.clone());
        extra["requests"]
            .as_array_mut()
            .expect("requests")
            .push(invented);
        let found = mismatches(extra, None);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("serves request r9 (round 2, mayor@us-hou), which is not in the log")
        );
        assert!(found[1].contains("request r9 is served twice"));
    }

    #[test]
    fn a_declined_or_expired_state_must_be_the_logs() {
        // The log says declined; the server reopened the MOU.
        let found = mismatches(served(), Some(MouState::Declined));
        assert_eq!(
            found,
            [format!(
                "MOU {MOU} is served as open but the log's last round ended declined"
            )]
        );
        // The server says expired (or declined) where the log says neither, or the other.
        for (state, workflow) in [
            ("expired", None),
            ("declined", None),
            ("expired", Some(MouState::Declined)),
            ("executed", Some(MouState::Expired)),
        ] {
            let mut edited = served();
            edited["state"] = json!(state);
            let found = mismatches(edited, workflow);
            assert_eq!(found.len(), 1, "{state}: {found:?}");
            assert!(found[0].starts_with(&format!("MOU {MOU} is served as {state} but")));
        }
        // Withdrawn, executed, open: no workflow state, nothing to compare.
        for state in ["withdrawn", "executed", "open"] {
            let mut edited = served();
            edited["state"] = json!(state);
            assert_eq!(mismatches(edited, None), Vec::<String>::new(), "{state}");
        }
    }
}
