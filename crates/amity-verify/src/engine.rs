//! The one rules engine: every rule about one MOU (docs/audit-rules.md, "The rules") judged in
//! one function, [`check_mou`], over what someone claims about the MOU and what the log says.
//!
//! The three verifiers differ only in where their claims and their evidence come from:
//!
//! - the offline bundle verifier (`amity verify`): claims are the bundle's summaries, evidence
//!   the bundle's entries proven into its checkpoint ([`ProvenEntries`]);
//! - the whole-registry audit (`amity audit`): claims are what the server serves (the MOU, its
//!   versions, its chain), evidence every MOU and key entry of the replayed log
//!   ([`ReplayedLog`]);
//! - the server's audit report of one MOU: claims are the server's own tables, packed as an
//!   evidence bundle, so it runs the bundle verifier.
//!
//! A claim is trusted only once matched against evidence; keys, required signers and logged
//! hashes are always taken from the evidence, never from a claim.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::bundle::{BundleKey, BundleMou, BundleSignature, BundleVersion};
use crate::entries::{Entry, EntryBody, MouVersionUploaded, kinds};
use crate::keys::PublicKey;
use crate::rules::{
    Checks, KeyHolder, RequiredSigner, SignedBy, chain_link, key_bound, missing_signers,
    signature_valid,
};
use crate::sha256;
use crate::statement::{
    GENESIS_PREV, MAX_STATEMENT_LEN, MouSignatureStatement, mou_signature_namespace,
};

/// An armored SSHSIG of an Ed25519 signature is about 300 bytes.
const MAX_SIGNATURE_TEXT: usize = 4096;

/// One log entry as evidence: its typed body and the time the log asserts for it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub body: EntryBody,
    /// The entry's `time`, microseconds since the epoch.
    pub time: Option<i64>,
}

impl Logged {
    pub fn new(entry: Entry) -> Logged {
        Logged {
            time: parse_time(&entry.time),
            body: entry.body,
        }
    }
}

/// Where the engine reads the log. Two implementations: the entries a bundle proves
/// ([`ProvenEntries`]) and the whole replayed log ([`ReplayedLog`]).
pub trait Evidence {
    /// The entry at `index`, when this source holds it.
    fn entry(&self, index: i64) -> Option<&Logged>;
    /// What the log says about the key with this fingerprint.
    fn key(&self, fingerprint: &str) -> Option<&KeyFacts>;
    /// How findings name this source's entries: `proven` (bundle) or `logged` (replay).
    fn adjective(&self) -> &'static str;
}

/// Entries by index, with the key facts they establish.
#[derive(Default)]
struct EntryIndex {
    entries: BTreeMap<i64, Logged>,
    keys: BTreeMap<String, KeyFacts>,
}

impl EntryIndex {
    /// Adds an entry; key facts are updated in index order, so entries must come in order.
    fn push(&mut self, index: i64, logged: Logged) {
        if let Some(fp) = key_fingerprint(&logged.body) {
            self.keys
                .entry(fp.to_string())
                .or_default()
                .apply(index, &logged);
        }
        self.entries.insert(index, logged);
    }
}

/// The entries of a bundle that proved into its signed checkpoint: evidence about one MOU,
/// complete only as far as the bundle's maker chose (docs/formats/bundle.md).
#[derive(Default)]
pub struct ProvenEntries(EntryIndex);

impl ProvenEntries {
    /// From proven entries in any order.
    pub fn new(entries: BTreeMap<i64, Logged>) -> ProvenEntries {
        let mut index = EntryIndex::default();
        for (i, logged) in entries {
            index.push(i, logged);
        }
        ProvenEntries(index)
    }
}

impl Evidence for ProvenEntries {
    fn entry(&self, index: i64) -> Option<&Logged> {
        self.0.entries.get(&index)
    }
    fn key(&self, fingerprint: &str) -> Option<&KeyFacts> {
        self.0.keys.get(fingerprint)
    }
    fn adjective(&self) -> &'static str {
        "proven"
    }
}

/// Every MOU and key entry of a log replayed from its first entry: nothing about an MOU or a
/// key can be left out, so a later revocation is always seen. Entries of other kinds are not
/// kept, which bounds the memory a large log needs.
#[derive(Default)]
pub struct ReplayedLog(EntryIndex);

impl ReplayedLog {
    pub fn new() -> ReplayedLog {
        ReplayedLog::default()
    }

    /// Offers the log's next entry; keeps it when an MOU or key rule reads it.
    pub fn push(&mut self, index: i64, entry: Entry) {
        if matches!(
            entry.body,
            EntryBody::MouCreated(_)
                | EntryBody::MouVersionUploaded(_)
                | EntryBody::MouSignatureAdded(_)
                | EntryBody::KeyRegistered(_)
                | EntryBody::KeyApproved(_)
                | EntryBody::KeyRetired(_)
                | EntryBody::KeyRevoked(_)
                | EntryBody::MouSignaturesRequested(_)
                | EntryBody::MouRequestDeclined(_)
                | EntryBody::MouRequestsExpired(_)
                | EntryBody::MouRequestsCancelled(_)
        ) {
            self.0.push(index, Logged::new(entry));
        }
    }
}

impl Evidence for ReplayedLog {
    fn entry(&self, index: i64) -> Option<&Logged> {
        self.0.entries.get(&index)
    }
    fn key(&self, fingerprint: &str) -> Option<&KeyFacts> {
        self.0.keys.get(fingerprint)
    }
    fn adjective(&self) -> &'static str {
        "logged"
    }
}

/// How `signature_valid` is decided. [`VerifyEach`] runs `verify_strict` per signature; the
/// whole-registry audit queues signatures for batches and judges again any MOU whose batch
/// fails (`audit.rs`, `Deferred`).
pub trait SignatureCheck {
    /// Whether `armored` is a valid SSHSIG by `key` over `statement` in `namespace`, for the
    /// signature `seq` of MOU `mou`.
    fn check(
        &self,
        mou: &str,
        seq: i64,
        armored: &str,
        namespace: &str,
        statement: &[u8],
        key: &PublicKey,
    ) -> Result<String, String>;
}

/// `verify_strict`, one signature at a time.
pub struct VerifyEach;

impl SignatureCheck for VerifyEach {
    fn check(
        &self,
        _mou: &str,
        _seq: i64,
        armored: &str,
        namespace: &str,
        statement: &[u8],
        key: &PublicKey,
    ) -> Result<String, String> {
        signature_valid(armored, namespace, statement, key)
    }
}

/// What is claimed about one MOU: its summary, versions, chain, and (bundles only) the
/// summaries of its signers' keys.
pub struct MouClaims<'a> {
    pub mou: &'a BundleMou,
    pub versions: &'a [BundleVersion],
    pub signatures: &'a [BundleSignature],
    pub keys: &'a [BundleKey],
    /// SHA-256 of each of the auditor's own copies of the current version's documents.
    pub documents_sha256: Vec<[u8; 32]>,
}

/// Applies every MOU rule to `claims` against `evidence`, in the order of the rules table:
/// `mou_logged`, `version_logged`, `current_version`, `document`, `key_logged`, then per
/// signature `statement_canonical`, `statement_logged`, `chain_link`, `statement_document`,
/// `signature_valid`, `key_bound`, `key_active`, and last `required_signers` and
/// `state_consistent`.
pub fn check_mou(
    r: &mut Checks,
    origin: &str,
    claims: &MouClaims<'_>,
    evidence: &dyn Evidence,
    signature_check: &dyn SignatureCheck,
) {
    let mou = claims.mou;
    let proven = evidence.adjective();
    // The MOU itself: its creation entry is the authority for its required signers.
    let created = evidence.entry(mou.log_index).and_then(|p| match &p.body {
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
                "no {proven} mou.created entry for {} at {}",
                mou.id, mou.log_index
            )
        } else {
            "the partnership, title or required signers differ from the logged ones".to_string()
        },
    );

    // Versions: each one's documents as logged. A signature's documents are checked against
    // these logged entries only.
    let mut logged_versions: BTreeMap<i32, &MouVersionUploaded> = BTreeMap::new();
    for (i, v) in claims.versions.iter().enumerate() {
        let subject = format!("version {}", v.version);
        let entry = evidence.entry(v.log_index).and_then(|p| match &p.body {
            EntryBody::MouVersionUploaded(u)
                if u.mou == mou.id && u.version == i64::from(v.version) =>
            {
                Some(u)
            }
            _ => None,
        });
        let expected = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let ok = v.version == expected && entry.is_some_and(|u| v.agrees_with(u));
        if let Some(u) = entry.filter(|_| ok) {
            logged_versions.insert(v.version, u);
        }
        r.add(
            "version_logged",
            subject,
            Some(v.log_index),
            ok,
            if ok {
                format!(
                    "entry {} vouches for sha256 {}",
                    v.log_index,
                    v.document_hashes().join(", ")
                )
            } else if v.version != expected {
                format!("versions must run 1, 2, ...; expected {expected}")
            } else if entry.is_none() {
                format!("no {proven} mou.version_uploaded entry at {}", v.log_index)
            } else {
                format!(
                    "the hashes, sizes, media types, file names or languages differ from entry {}",
                    v.log_index
                )
            },
        );
    }
    let current_ok = usize::try_from(mou.current_version).ok() == Some(claims.versions.len());
    r.add(
        "current_version",
        "mou",
        None,
        current_ok,
        if current_ok {
            format!("version {} is the last version", mou.current_version)
        } else {
            format!(
                "the MOU claims current version {}, but has {} versions",
                mou.current_version,
                claims.versions.len()
            )
        },
    );

    // The auditor's own copies: each must be one of the current version's documents.
    let current_hashes: Option<Vec<&str>> = logged_versions
        .get(&mou.current_version)
        .map(|u| u.documents().into_iter().map(|(_, sha)| sha).collect());
    for doc in &claims.documents_sha256 {
        let have = hex::encode(doc);
        let ok = current_hashes
            .as_ref()
            .is_some_and(|hashes| hashes.contains(&have.as_str()));
        r.add(
            "document",
            format!("version {}", mou.current_version),
            None,
            ok,
            match &current_hashes {
                Some(_) if ok => {
                    format!("the given file hashes to {have}, a document of the current version")
                }
                Some(hashes) => format!(
                    "the given file hashes to {have}, the current version's documents to {}",
                    hashes.join(", ")
                ),
                None => format!("the current version's hash is not {proven}"),
            },
        );
    }

    for k in claims.keys {
        check_key_summary(r, k, evidence);
    }

    // The chain.
    let namespace = mou_signature_namespace(origin);
    let mut prev = GENESIS_PREV.to_string();
    let mut counted: Vec<SignedBy> = Vec::new();
    for (i, s) in claims.signatures.iter().enumerate() {
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

        let entry = evidence.entry(s.log_index).and_then(|p| match &p.body {
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
                    "entry {} vouches for statement {} by {} on version {}, not {hash}",
                    s.log_index, a.statement_sha256, a.key_fingerprint, a.version
                ),
                None => format!("no {proven} mou.signature_added entry at {}", s.log_index),
            },
        );

        let (link_ok, detail) = chain_link(
            i,
            s.seq,
            statement.as_ref().map(|st| st.prev.as_str()),
            &prev,
        );
        let detail = match &statement {
            Some(st) if !link_ok => format!("{detail}; the statement says prev {}", st.prev),
            _ => detail,
        };
        all_ok &= r.add("chain_link", &subject, at, link_ok, detail);
        prev = hash;

        if let Some(st) = &statement {
            let logged = logged_versions.get(&s.version).map(|u| u.commitment());
            let ok = logged.as_ref() == Some(&st.committed_documents());
            all_ok &= r.add(
                "statement_document",
                &subject,
                at,
                ok,
                if ok {
                    format!(
                        "the statement names the logged documents of version {}",
                        s.version
                    )
                } else {
                    format!(
                        "the statement names {}, not the logged documents of version {}",
                        st.documents_text(),
                        s.version
                    )
                },
            );
        }

        // The key comes from its logged registration, never from a claim.
        let facts = statement
            .as_ref()
            .and_then(|st| evidence.key(&st.signer_key));
        let logged_key = facts
            .and_then(|f| f.registered.as_ref())
            .and_then(|reg| reg.key.as_ref());
        let sig_result = match (&statement, logged_key, &bytes) {
            (None, _, _) | (_, _, None) => Err("no valid statement to verify".to_string()),
            (Some(st), None, _) => Err(format!(
                "no {proven} key.registered entry for {}",
                st.signer_key
            )),
            (Some(_), Some(key), Some(bytes)) => {
                if s.signature.len() > MAX_SIGNATURE_TEXT {
                    Err("the signature text is too long".to_string())
                } else {
                    signature_check.check(&mou.id, s.seq, &s.signature, &namespace, bytes, key)
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
            (Some(_), None) => Err(format!("the key has no {proven} registration")),
        };
        all_ok &= r.add_result("key_bound", &subject, at, bound);

        let active = match (facts, entry) {
            (Some(f), Some((p, _))) => f.active_at(s.log_index, p.time).map(|a| {
                all_ok &= !a.void;
                a.detail
            }),
            (None, _) if statement.is_none() => Err("no valid statement names a key".to_string()),
            (None, _) => Err(format!("the key has no {proven} events")),
            (_, None) => Err(format!("the signature's log entry is not {proven}")),
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
            format!("the MOU's required signers are not {proven} by its mou.created entry")
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
}

/// `key_logged`: a key summary matches the key's logged entries.
fn check_key_summary(r: &mut Checks, k: &BundleKey, evidence: &dyn Evidence) {
    let facts = evidence.key(&k.fingerprint);
    let parsed = PublicKey::parse_openssh_line(k.public_key.trim()).ok();
    let ok = facts.is_some_and(|f| {
        f.registered.as_ref().is_some_and(|reg| {
            parsed.as_ref().is_some_and(|p| {
                p.fingerprint() == k.fingerprint && reg.key.as_ref().is_some_and(|r| r.same_key(p))
            }) && reg.signer == k.signer
                && reg.city == k.city
                && reg.role == k.role
        })
    }) && k.events.iter().all(|e| {
        evidence.entry(e.log_index).is_some_and(|p| {
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
            format!(
                "the key's line, signer, city, role or events do not match {} key entries",
                evidence.adjective()
            )
        },
    );
}

fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_micros())
}

/// A key's registration, as logged.
#[derive(Debug, Clone)]
pub struct Registered {
    pub index: i64,
    /// `None` when the logged line does not parse or does not match its fingerprint.
    pub key: Option<PublicKey>,
    pub signer: String,
    pub city: String,
    pub role: String,
    pub approved_at_registration: bool,
}

/// What the log says about one key.
#[derive(Debug, Clone, Default)]
pub struct KeyFacts {
    pub registered: Option<Registered>,
    /// Entry indices of approvals.
    pub approved: Vec<i64>,
    /// Retirement effective times (the entry's time when none is given).
    pub retired: Vec<Option<i64>>,
    /// Revocations: the entry index, and the compromise time, `None` when unknown (every
    /// signature by the key void).
    pub revoked: Vec<(i64, Option<i64>)>,
}

impl KeyFacts {
    fn apply(&mut self, index: i64, p: &Logged) {
        match &p.body {
            EntryBody::KeyRegistered(k) => {
                let key = PublicKey::parse_openssh_line(&k.public_key)
                    .ok()
                    .filter(|key| key.fingerprint() == k.fingerprint);
                self.registered = Some(Registered {
                    index,
                    key,
                    signer: k.signer.clone(),
                    city: k.city.clone(),
                    role: k.role.clone(),
                    approved_at_registration: k.status == "active",
                });
            }
            EntryBody::KeyApproved(_) => self.approved.push(index),
            EntryBody::KeyRetired(k) => {
                self.retired
                    .push(k.effective_at.as_deref().and_then(parse_time).or(p.time));
            }
            EntryBody::KeyRevoked(k) => {
                let since = k.compromised_since.as_deref().and_then(parse_time);
                // An unknown compromise time voids every signature by the key.
                let since = if k.compromise_time_known == Some(false) {
                    None
                } else {
                    since
                };
                self.revoked.push((index, since));
            }
            _ => {}
        }
    }

    /// Rule `key_active`, from log facts: registered and approved before the signature's
    /// entry, not retired at its time, not revoked before it. A revocation logged after the
    /// signature that dates the compromise at or before the signature's time (or leaves it
    /// unknown) does not break the rule, the registry could not know, but makes the signature
    /// void: `Ok` with `void` set, and it no longer counts towards the required signers.
    pub fn active_at(&self, index: i64, time: Option<i64>) -> Result<KeyActive, String> {
        let reg = self
            .registered
            .as_ref()
            .ok_or("no key.registered entry for the key")?;
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
        if let Some((at, _)) = self.revoked.iter().find(|(at, _)| *at < index) {
            return Err(format!(
                "the key was revoked at entry {at}, before the signature"
            ));
        }
        let t = time.ok_or("the signature's entry has no readable time")?;
        if self.retired.iter().any(|e| e.is_none_or(|e| t >= e)) {
            return Err("the key was retired when the signature was logged".to_string());
        }
        let active = format!(
            "registered at entry {}, approved before entry {index}, not retired at its time",
            reg.index
        );
        Ok(
            match self
                .revoked
                .iter()
                .find(|(_, since)| since.is_none_or(|c| t >= c))
            {
                Some((at, _)) => KeyActive {
                    detail: format!(
                        "{active}; void: the key was revoked at entry {at} as compromised at \
                         or before the signature's time"
                    ),
                    void: true,
                },
                None => KeyActive {
                    detail: active,
                    void: false,
                },
            },
        )
    }
}

/// A signature's key was active when it was logged; `void` when a later revocation dates the
/// key's compromise at or before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyActive {
    pub detail: String,
    pub void: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let void = |r: Result<KeyActive, String>| r.map(|a| a.void);
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
        f.revoked.push((20, Some(150)));
        assert_eq!(
            void(f.active_at(5, Some(100))),
            Ok(false),
            "compromised later"
        );
        assert_eq!(
            void(f.active_at(7, Some(160))),
            Ok(true),
            "compromised before"
        );
        f.revoked.push((21, None));
        assert_eq!(
            void(f.active_at(5, Some(100))),
            Ok(true),
            "compromise time unknown"
        );
        assert!(
            f.active_at(22, Some(300)).is_err(),
            "revoked before the signature"
        );
        let auto = KeyFacts {
            registered: Some(registered(true)),
            ..KeyFacts::default()
        };
        assert!(auto.active_at(2, Some(0)).is_ok(), "auto-approved");
    }
}
