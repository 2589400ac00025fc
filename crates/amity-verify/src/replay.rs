//! Replaying the log: the rules every sequence of entries must follow, checked from the entry
//! bytes alone (docs/audit-rules.md). An auditor runs this over a whole log it fetched;
//! nothing here trusts the server's tables.

use std::collections::{HashMap, HashSet};

use crate::entries::{
    ActivityEvidenceAdded, ActivityRecorded, CityCreated, Entry, EntryBody, KeyApproved, KeyEnded,
    KeyRegistered, MouCreated, MouSignatureAdded, MouVersionUploaded, MouWithdrawn, OfficeCreated,
    PartnershipRegistered, PartnershipStatusChanged, TokenIssued, TokenRevoked,
};
use crate::rules::{Status, Trigger, allowed_targets};

/// A logged instant (RFC 3339, as entries write them) in microseconds since the epoch.
fn parse_instant(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.timestamp_micros())
}

/// A rule an entry broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub index: u64,
    /// The rule broken, by its id in docs/audit-rules.md.
    pub rule: &'static str,
    pub message: String,
}

/// What a partnership looks like after replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedPartnership {
    pub status: Status,
    pub last_seq: i64,
}

/// An MOU after replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayedMou {
    pub version: i64,
    pub last_seq: i64,
    pub withdrawn: bool,
    /// seq -> (statement SHA-256 hex, key id) as the log recorded them.
    pub signatures: HashMap<i64, (String, String)>,
    /// version -> document SHA-256 hex as the log recorded it.
    pub documents: HashMap<i64, String>,
}

/// A signatory key after replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedKey {
    pub fingerprint: String,
    /// The OpenSSH public key line the log recorded at registration.
    pub public_key: String,
    /// Who the key was registered to: a signature by it counts only for this signer, city
    /// and role (rule `key_bound`).
    pub signer: String,
    pub city: String,
    pub role: String,
    pub active: bool,
    /// Retired from this instant on (microseconds).
    pub retired_from: Option<i64>,
    pub revoked: bool,
    /// Signatures logged at or after this instant are void; `Some(i64::MIN)` when the
    /// compromise time is unknown (every signature by the key is void).
    pub compromised_since: Option<i64>,
}

/// A signature the log accepted that a later revocation made void.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidedSignature {
    pub mou: String,
    pub seq: i64,
    pub key: String,
}

#[derive(Debug, Default)]
pub struct Replay {
    cities: HashSet<String>,
    offices: HashSet<String>,
    tokens: HashMap<String, bool>,
    partnerships: HashMap<String, ReplayedPartnership>,
    mous: HashMap<String, ReplayedMou>,
    /// activity id -> (partnership, SHA-256 hex of evidence 1, 2, ... as logged)
    activities: HashMap<String, (String, Vec<String>)>,
    keys: HashMap<String, ReplayedKey>,
    /// (key id, mou, seq, logged at) of every accepted signature, for revocations to void.
    signed: Vec<(String, String, i64, i64)>,
    pub voided: Vec<VoidedSignature>,
    pub findings: Vec<Finding>,
    pub entries: u64,
}

impl Replay {
    pub fn new() -> Replay {
        Replay::default()
    }

    fn finding(&mut self, index: u64, rule: &'static str, message: impl Into<String>) {
        self.findings.push(Finding {
            index,
            rule,
            message: message.into(),
        });
    }

    pub fn partnerships(&self) -> &HashMap<String, ReplayedPartnership> {
        &self.partnerships
    }

    pub fn mous(&self) -> &HashMap<String, ReplayedMou> {
        &self.mous
    }

    /// Each activity's evidence hashes (hex), in order, as the log recorded them.
    pub fn evidence(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.activities.iter().map(|(id, (_, hashes))| (id, hashes))
    }

    pub fn keys(&self) -> &HashMap<String, ReplayedKey> {
        &self.keys
    }

    /// Applies one entry (its exact bytes) at `index`. An entry that is not a known kind
    /// with exactly its fields is a finding, and changes nothing. Returns the parsed entry,
    /// for callers that keep some entries as evidence (`engine::ReplayedLog`).
    pub fn apply(&mut self, index: u64, bytes: &[u8]) -> Option<Entry> {
        self.entries += 1;
        let entry = match Entry::parse(bytes) {
            Ok(entry) => entry,
            Err(e) => {
                self.finding(
                    index,
                    "entry_canonical",
                    format!("not a valid log entry: {e}"),
                );
                return None;
            }
        };
        if entry.to_bytes().ok().as_deref() != Some(bytes) {
            self.finding(
                index,
                "entry_canonical",
                "entry is not canonical JSON (RFC 8785)",
            );
        }
        let time = parse_instant(&entry.time);
        if time.is_none() {
            self.finding(index, "entry_canonical", "entry has no valid `time`");
        }
        let time = time.unwrap_or_default();
        match &entry.body {
            EntryBody::CityCreated(e) => self.city(index, e),
            EntryBody::OfficeCreated(e) => self.office(index, e),
            EntryBody::TokenIssued(e) => self.token_issued(index, e),
            EntryBody::TokenRevoked(e) => self.token_revoked(index, e),
            EntryBody::PartnershipRegistered(e) => self.registered(index, e),
            EntryBody::PartnershipStatusChanged(e) => self.status_changed(index, e),
            EntryBody::ActivityRecorded(e) => self.activity_recorded(index, e),
            EntryBody::ActivityEvidenceAdded(e) => self.evidence_added(index, e),
            EntryBody::MouCreated(e) => self.mou_created(index, e),
            EntryBody::MouVersionUploaded(e) => self.version_uploaded(index, e),
            EntryBody::MouSignatureAdded(e) => self.signature_added(index, e, time),
            EntryBody::MouWithdrawn(e) => self.mou_withdrawn(index, e),
            EntryBody::KeyRegistered(e) => self.key_registered(index, e),
            EntryBody::KeyApproved(e) => self.key_approved(index, e),
            EntryBody::KeyRetired(e) => self.key_retired(index, e, time),
            EntryBody::KeyRevoked(e) => self.key_revoked(index, e),
        }
        Some(entry)
    }

    fn city(&mut self, index: u64, e: &CityCreated) {
        if !self.cities.insert(e.city.clone()) {
            self.finding(
                index,
                "unique_ids",
                format!("city `{}` created twice", e.city),
            )
        }
    }

    fn office(&mut self, index: u64, e: &OfficeCreated) {
        if !self.cities.contains(&e.city) {
            self.finding(
                index,
                "references",
                format!("office for unknown city `{}`", e.city),
            );
        }
        self.offices.insert(e.office.clone());
    }

    fn token_issued(&mut self, index: u64, e: &TokenIssued) {
        if let Some(office) = &e.office
            && !self.offices.contains(office)
        {
            self.finding(
                index,
                "references",
                format!("token for unknown office `{office}`"),
            );
        }
        if self.tokens.insert(e.token.clone(), false).is_some() {
            self.finding(
                index,
                "unique_ids",
                format!("token `{}` issued twice", e.token),
            );
        }
    }

    fn token_revoked(&mut self, index: u64, e: &TokenRevoked) {
        let id = &e.token;
        match self.tokens.get_mut(id) {
            None => self.finding(
                index,
                "token_lifecycle",
                format!("revocation of unknown token `{id}`"),
            ),
            Some(true) => self.finding(
                index,
                "token_lifecycle",
                format!("token `{id}` revoked twice"),
            ),
            Some(revoked) => *revoked = true,
        }
    }

    fn registered(&mut self, index: u64, e: &PartnershipRegistered) {
        let id = e.partnership.clone();
        let [a, b] = &e.cities;
        if a < b {
            for c in [a, b] {
                if !self.cities.contains(c) {
                    self.finding(
                        index,
                        "references",
                        format!("partnership with unknown city `{c}`"),
                    );
                }
            }
        } else {
            self.finding(
                index,
                "references",
                "partnership without two distinct cities in order",
            );
        }
        let status = Status::parse(&e.status);
        let Some(status) = status else {
            return self.finding(
                index,
                "status_transition",
                "partnership.registered without a valid `status`",
            );
        };
        if self.partnerships.contains_key(&id) {
            return self.finding(
                index,
                "unique_ids",
                format!("partnership `{id}` registered twice"),
            );
        }
        self.partnerships.insert(
            id,
            ReplayedPartnership {
                status,
                last_seq: 1,
            },
        );
    }

    fn status_changed(&mut self, index: u64, e: &PartnershipStatusChanged) {
        let id = e.partnership.clone();
        let from = Status::parse(&e.from);
        let to = Status::parse(&e.to);
        let seq = Some(e.seq);
        let Some(current) = self.partnerships.get(&id).cloned() else {
            return self.finding(
                index,
                "references",
                format!("status change of unknown partnership `{id}`"),
            );
        };
        let (Some(from), Some(to), Some(seq)) = (from, to, seq) else {
            return self.finding(
                index,
                "status_transition",
                "status change without valid `from`, `to` and `seq`",
            );
        };
        if from != current.status {
            self.finding(
                index,
                "status_transition",
                format!(
                    "partnership `{id}` changes from {from} but the log says it was {}",
                    current.status
                ),
            );
        }
        let allowed = [
            Trigger::StatusChange,
            Trigger::Confirmation,
            Trigger::MouExecuted,
        ]
        .iter()
        .any(|t| allowed_targets(from, *t).contains(&to));
        if !allowed {
            self.finding(
                index,
                "status_transition",
                format!(
                    "partnership `{id}`: {from} -> {to} is not a transition the registry allows"
                ),
            );
        }
        if seq != current.last_seq + 1 {
            self.finding(
                index,
                "status_transition",
                format!(
                    "partnership `{id}`: status event seq {seq} after {}",
                    current.last_seq
                ),
            );
        }
        self.partnerships.insert(
            id,
            ReplayedPartnership {
                status: to,
                last_seq: seq,
            },
        );
    }
}

impl ReplayedKey {
    /// The status the key has at `now` according to the log, named as the API names it.
    pub fn status_at(&self, now: i64) -> &'static str {
        if self.revoked {
            "revoked"
        } else if self.retired_from.is_some_and(|t| t <= now) {
            "retired"
        } else if self.active {
            "active"
        } else {
            "pending"
        }
    }
}

impl Replay {
    fn mou_created(&mut self, index: u64, e: &MouCreated) {
        let id = e.mou.clone();
        let partnership = &e.partnership;
        if !self.partnerships.contains_key(partnership) {
            self.finding(
                index,
                "references",
                format!("MOU `{id}` for unknown partnership `{partnership}`"),
            );
        }
        if self
            .mous
            .insert(id.clone(), ReplayedMou::default())
            .is_some()
        {
            self.finding(index, "unique_ids", format!("MOU `{id}` created twice"));
        }
    }

    /// The MOU an entry names, if the log created it and it is not withdrawn.
    fn open_mou(&mut self, index: u64, id: &str) -> Option<String> {
        let id = id.to_string();
        match self.mous.get(&id) {
            None => {
                self.finding(index, "references", format!("entry for unknown MOU `{id}`"));
                None
            }
            Some(m) if m.withdrawn => {
                self.finding(
                    index,
                    "mou_not_changed_after_withdrawal",
                    format!("MOU `{id}` changed after it was withdrawn"),
                );
                None
            }
            Some(_) => Some(id),
        }
    }

    fn activity_recorded(&mut self, index: u64, e: &ActivityRecorded) {
        let p = e.partnership.clone();
        if !self.partnerships.contains_key(&p) {
            self.finding(
                index,
                "references",
                format!("activity for unknown partnership `{p}`"),
            );
        }
        let id = e.activity.clone();
        if self
            .activities
            .insert(id.clone(), (p, Vec::new()))
            .is_some()
        {
            self.finding(
                index,
                "unique_ids",
                format!("activity `{id}` recorded twice"),
            );
        }
    }

    /// Evidence is numbered 1, 2, ... per activity, and names the activity's own partnership.
    fn evidence_added(&mut self, index: u64, e: &ActivityEvidenceAdded) {
        let id = e.activity.as_str();
        let seq = e.seq;
        let partnership = e.partnership.as_str();
        let problem = match self.activities.get_mut(id) {
            None => Some((
                "references",
                format!("evidence for unknown activity `{id}`"),
            )),
            Some((p, _)) if p != partnership => Some((
                "references",
                format!(
                    "evidence for activity `{id}` names partnership `{partnership}`, not `{p}`"
                ),
            )),
            Some((_, hashes)) => {
                hashes.push(e.sha256.clone());
                let expected = hashes.len() as i64;
                (seq != expected).then(|| {
                    (
                        "evidence_sequence",
                        format!("activity `{id}`: evidence {seq} after {}", expected - 1),
                    )
                })
            }
        };
        if let Some((rule, message)) = problem {
            self.finding(index, rule, message);
        }
    }

    fn version_uploaded(&mut self, index: u64, e: &MouVersionUploaded) {
        let Some(id) = self.open_mou(index, &e.mou) else {
            return;
        };
        let version = e.version;
        let Some(mou) = self.mous.get_mut(&id) else {
            return;
        };
        let expected = mou.version + 1;
        mou.version = version;
        mou.documents.insert(version, e.sha256.clone());
        if version != expected {
            self.finding(
                index,
                "version_sequence",
                format!("MOU `{id}`: version {version} after {}", expected - 1),
            );
        }
    }

    fn signature_added(&mut self, index: u64, e: &MouSignatureAdded, time: i64) {
        let Some(id) = self.open_mou(index, &e.mou) else {
            return;
        };
        let seq = e.seq;
        let version = e.version;
        let key_id = e.key.clone();
        let statement = e.statement_sha256.clone();
        let mut problems: Vec<(&'static str, String)> = Vec::new();
        match self.keys.get(&key_id) {
            None => problems.push((
                "signature_key_logged",
                format!("signature by unregistered key `{key_id}`"),
            )),
            Some(k) => {
                if k.fingerprint != e.key_fingerprint {
                    problems.push((
                        "signature_key_logged",
                        format!("key `{key_id}` logged with another fingerprint"),
                    ));
                }
                // Rule key_bound, on the log's own record of the signature.
                if k.signer != e.signer || k.role != e.role {
                    problems.push((
                        "key_bound",
                        format!(
                            "signature logged for {} as {}, key `{key_id}` is registered to {} as {}",
                            e.signer, e.role, k.signer, k.role
                        ),
                    ));
                }
                if !k.active || k.revoked || k.retired_from.is_some_and(|t| t <= time) {
                    problems.push((
                        "key_active",
                        format!("signature by key `{key_id}` while it was not active"),
                    ));
                }
            }
        }
        if let Some(mou) = self.mous.get_mut(&id) {
            if seq != mou.last_seq + 1 {
                problems.push((
                    "chain_seq",
                    format!("MOU `{id}`: signature seq {seq} after {}", mou.last_seq),
                ));
            }
            if version != mou.version {
                problems.push((
                    "signature_on_current_version",
                    format!(
                        "MOU `{id}`: signature on version {version}, current is {}",
                        mou.version
                    ),
                ));
            }
            mou.last_seq = seq;
            mou.signatures.insert(seq, (statement, key_id.clone()));
        }
        self.signed.push((key_id, id, seq, time));
        for (rule, message) in problems {
            self.finding(index, rule, message);
        }
    }

    fn mou_withdrawn(&mut self, index: u64, e: &MouWithdrawn) {
        if let Some(id) = self.open_mou(index, &e.mou)
            && let Some(m) = self.mous.get_mut(&id)
        {
            m.withdrawn = true;
        }
    }

    fn key_registered(&mut self, index: u64, e: &KeyRegistered) {
        let id = e.key.clone();
        let fingerprint = e.fingerprint.clone();
        if self.keys.values().any(|k| k.fingerprint == fingerprint) {
            self.finding(
                index,
                "unique_ids",
                format!("key {fingerprint} registered twice"),
            );
        }
        let active = match Some(e.status.as_str()) {
            Some("active") => true,
            Some("pending") => false,
            other => {
                self.finding(
                    index,
                    "key_lifecycle",
                    format!("key registered with status {other:?}"),
                );
                false
            }
        };
        let key = ReplayedKey {
            fingerprint,
            public_key: e.public_key.clone(),
            signer: e.signer.clone(),
            city: e.city.clone(),
            role: e.role.clone(),
            active,
            retired_from: None,
            revoked: false,
            compromised_since: None,
        };
        if self.keys.insert(id.clone(), key).is_some() {
            self.finding(index, "unique_ids", format!("key `{id}` registered twice"));
        }
    }

    fn key_approved(&mut self, index: u64, e: &KeyApproved) {
        let id = e.key.clone();
        match self.keys.get_mut(&id) {
            Some(k) if !k.active && !k.revoked && k.retired_from.is_none() => k.active = true,
            Some(_) => self.finding(
                index,
                "key_lifecycle",
                format!("key `{id}` approved while not pending"),
            ),
            None => self.finding(
                index,
                "references",
                format!("approval of unknown key `{id}`"),
            ),
        }
    }

    fn key_retired(&mut self, index: u64, e: &KeyEnded, time: i64) {
        let id = e.key.clone();
        let from = e
            .effective_at
            .as_deref()
            .and_then(parse_instant)
            .unwrap_or(time);
        match self.keys.get_mut(&id) {
            Some(k) if !k.revoked && k.retired_from.is_none() => k.retired_from = Some(from),
            Some(_) => self.finding(
                index,
                "key_lifecycle",
                format!("key `{id}` retired after it was retired or revoked"),
            ),
            None => self.finding(
                index,
                "references",
                format!("retirement of unknown key `{id}`"),
            ),
        }
    }

    fn key_revoked(&mut self, index: u64, e: &KeyEnded) {
        let id = e.key.clone();
        let since = e
            .compromised_since
            .as_deref()
            .and_then(parse_instant)
            .unwrap_or(i64::MIN);
        match self.keys.get_mut(&id) {
            Some(k) if !k.revoked => {
                k.revoked = true;
                k.compromised_since = Some(since);
            }
            Some(_) => self.finding(index, "key_lifecycle", format!("key `{id}` revoked twice")),
            None => self.finding(
                index,
                "references",
                format!("revocation of unknown key `{id}`"),
            ),
        }
        // Signatures logged at or after the compromise are void from now on.
        for (key, mou, seq, at) in &self.signed {
            if *key == id && *at >= since {
                self.voided.push(VoidedSignature {
                    mou: mou.clone(),
                    seq: *seq,
                    key: id.clone(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entries::kinds;
    use crate::jcs::canonical_json;
    use serde_json::{Value, json};

    /// The fields every entry of `kind` must carry, with placeholder values; a test names
    /// only the fields its rule reads.
    fn required_fields(kind: &str) -> Value {
        match kind {
            kinds::CITY_CREATED => json!({"name": "N", "country": "XX"}),
            kinds::PARTNERSHIP_REGISTERED => json!({"kind": "sister", "source": "registered"}),
            kinds::PARTNERSHIP_STATUS_CHANGED => {
                json!({"effective_date": "2020-01-01", "reason_category": "other"})
            }
            kinds::MOU_CREATED => json!({"title": "T", "required_signers": [], "city": "us-hou"}),
            kinds::MOU_VERSION_UPLOADED => {
                json!({"sha256": "00", "size": 1, "media_type": "text/plain"})
            }
            kinds::KEY_REGISTERED => json!({
                "public_key": "", "city": "us-hou", "signer": "s@us-hou", "role": "signatory",
                "proof_sha256": "00"
            }),
            kinds::MOU_SIGNATURE_ADDED => {
                json!({"statement_sha256": "00", "signer": "s@us-hou", "role": "signatory"})
            }
            kinds::KEY_APPROVED | kinds::KEY_REVOKED => json!({"fingerprint": "SHA256:x"}),
            _ => json!({}),
        }
    }

    /// A complete canonical entry of `kind` with `fields` over the placeholders.
    fn entry(kind: &'static str, fields: Value) -> Vec<u8> {
        let mut object = required_fields(kind).as_object().cloned().unwrap();
        object.extend(fields.as_object().cloned().unwrap());
        object.insert("type".into(), json!(kind));
        object.insert("time".into(), json!("1970-01-01T00:00:00.000000Z"));
        let bytes = canonical_json(&Value::Object(object)).unwrap();
        Entry::parse_canonical(&bytes).expect("a complete entry");
        bytes
    }

    fn base() -> Vec<Vec<u8>> {
        vec![
            entry(kinds::CITY_CREATED, json!({"city": "cn-sha"})),
            entry(kinds::CITY_CREATED, json!({"city": "us-hou"})),
            entry(
                kinds::PARTNERSHIP_REGISTERED,
                json!({"partnership": "p", "cities": ["cn-sha", "us-hou"], "status": "proposed"}),
            ),
        ]
    }

    fn replay(entries: &[Vec<u8>]) -> Replay {
        let mut r = Replay::new();
        for (i, e) in entries.iter().enumerate() {
            r.apply(i as u64, e);
        }
        r
    }

    #[test]
    fn a_valid_history_has_no_findings() {
        let mut log = base();
        log.push(entry(
            kinds::PARTNERSHIP_STATUS_CHANGED,
            json!({"partnership": "p", "seq": 2, "from": "proposed", "to": "active"}),
        ));
        log.push(entry(
            kinds::PARTNERSHIP_STATUS_CHANGED,
            json!({"partnership": "p", "seq": 3, "from": "active", "to": "curtailed"}),
        ));
        let r = replay(&log);
        assert_eq!(r.findings, vec![]);
        assert_eq!(r.partnerships()["p"].status, Status::Curtailed);
    }

    fn key_and_mou(status: &str) -> Vec<Vec<u8>> {
        let mut log = base();
        log.push(entry(
            kinds::MOU_CREATED,
            json!({"mou": "m", "partnership": "p"}),
        ));
        log.push(entry(
            kinds::MOU_VERSION_UPLOADED,
            json!({"mou": "m", "version": 1}),
        ));
        log.push(entry(
            kinds::KEY_REGISTERED,
            json!({"key": "k", "fingerprint": "SHA256:x", "status": status}),
        ));
        log
    }

    fn signature(seq: i64) -> Vec<u8> {
        entry(
            kinds::MOU_SIGNATURE_ADDED,
            json!({"mou": "m", "seq": seq, "version": 1, "key": "k", "key_fingerprint": "SHA256:x"}),
        )
    }

    #[test]
    fn signatures_need_an_active_key_and_a_contiguous_chain() {
        let mut log = key_and_mou("active");
        log.push(signature(1));
        assert_eq!(replay(&log).findings, vec![]);
        let mut pending = key_and_mou("pending");
        pending.push(signature(1));
        assert!(replay(&pending).findings[0].message.contains("not active"));
        assert_eq!(replay(&pending).findings[0].rule, "key_active");
        pending.insert(6, entry(kinds::KEY_APPROVED, json!({"key": "k"})));
        assert_eq!(replay(&pending).findings, vec![]);
        let mut gap = key_and_mou("active");
        gap.push(signature(2));
        assert!(replay(&gap).findings[0].message.contains("seq 2 after 0"));
        assert_eq!(replay(&gap).findings[0].rule, "chain_seq");
        let mut revoked = key_and_mou("active");
        revoked.push(signature(1));
        revoked.push(entry(kinds::KEY_REVOKED, json!({"key": "k"})));
        let r = replay(&revoked);
        assert_eq!(r.findings, vec![]);
        assert_eq!(
            r.voided.len(),
            1,
            "unknown compromise time voids every signature"
        );
        revoked.push(signature(2));
        assert!(replay(&revoked).findings[0].message.contains("not active"));
    }

    #[test]
    fn broken_rules_are_found() {
        let cases = [
            json!({"partnership": "p", "seq": 2, "from": "proposed", "to": "curtailed"}),
            json!({"partnership": "p", "seq": 2, "from": "active", "to": "curtailed"}),
            json!({"partnership": "p", "seq": 5, "from": "proposed", "to": "active"}),
            json!({"partnership": "q", "seq": 2, "from": "proposed", "to": "active"}),
        ];
        let rules = [
            "status_transition",
            "status_transition",
            "status_transition",
            "references",
        ];
        for (fields, rule) in cases.into_iter().zip(rules) {
            let mut log = base();
            log.push(entry(kinds::PARTNERSHIP_STATUS_CHANGED, fields.clone()));
            let findings = replay(&log).findings;
            assert_eq!(findings.len(), 1, "{fields}");
            assert_eq!(findings[0].rule, rule, "{fields}");
        }
        let mut log = base();
        log.push(
            br#"{"type":"city.created", "city":"x","country":"XX","name":"N","time":"1970-01-01T00:00:00.000000Z"}"#
                .to_vec(),
        );
        assert!(replay(&log).findings[0].message.contains("canonical"));
        assert_eq!(replay(&log).findings[0].rule, "entry_canonical");
        let mut log = base();
        log.push(entry(kinds::TOKEN_REVOKED, json!({"token": "nope"})));
        assert_eq!(replay(&log).findings.len(), 1);
    }

    #[test]
    fn unknown_kinds_and_fields_are_findings_at_their_index() {
        let mut log = base();
        log.push(br#"{"time":"1970-01-01T00:00:00.000000Z","type":"city.renamed"}"#.to_vec());
        log.push(
            canonical_json(
                &json!({"type": "token.revoked", "time": "1970-01-01T00:00:00.000000Z",
                                   "token": "t", "note": "x"}),
            )
            .unwrap(),
        );
        let r = replay(&log);
        assert_eq!(r.findings.len(), 2, "{:?}", r.findings);
        assert_eq!(r.findings[0].index, 3);
        assert!(
            r.findings[0]
                .message
                .contains("unknown entry kind \"city.renamed\"")
        );
        assert_eq!(r.findings[1].index, 4);
        assert!(r.findings[1].message.contains("unknown field `note`"));
    }

    #[test]
    fn a_signature_logged_for_another_holder_breaks_key_bound() {
        let mut log = key_and_mou("active");
        log.push(entry(
            kinds::MOU_SIGNATURE_ADDED,
            json!({"mou": "m", "seq": 1, "version": 1, "key": "k", "key_fingerprint": "SHA256:x",
                   "signer": "deputy@us-hou"}),
        ));
        let r = replay(&log);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].rule, "key_bound", "{:?}", r.findings);
    }
}
