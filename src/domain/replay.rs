//! Replaying the log: the rules every sequence of entries must follow, checked from the entry
//! bytes alone. An auditor runs this over a whole log it fetched; nothing here trusts the
//! server's tables.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::dates::parse_instant;
use super::entries::{canonical_json, kinds};
use super::partnerships::{Status, Trigger, allowed_targets};

/// A rule an entry broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub index: u64,
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

fn text<'a>(entry: &'a Value, key: &str) -> Option<&'a str> {
    entry.get(key).and_then(Value::as_str)
}

impl Replay {
    pub fn new() -> Replay {
        Replay::default()
    }

    fn finding(&mut self, index: u64, message: impl Into<String>) {
        self.findings.push(Finding {
            index,
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

    /// Applies one entry (its exact bytes) at `index`.
    pub fn apply(&mut self, index: u64, bytes: &[u8]) {
        self.entries += 1;
        let entry: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => return self.finding(index, format!("entry is not JSON: {e}")),
        };
        if canonical_json(&entry).ok().as_deref() != Some(bytes) {
            self.finding(index, "entry is not canonical JSON (RFC 8785)");
        }
        let Some(kind) = text(&entry, "type").map(str::to_string) else {
            return self.finding(index, "entry has no `type`");
        };
        let time = text(&entry, "time").and_then(|t| parse_instant("time", t).ok());
        if time.is_none() {
            self.finding(index, "entry has no valid `time`");
        }
        let time = time.unwrap_or_default();
        match kind.as_str() {
            kinds::CITY_CREATED => self.city(index, &entry),
            kinds::OFFICE_CREATED => self.office(index, &entry),
            kinds::TOKEN_ISSUED => self.token_issued(index, &entry),
            kinds::TOKEN_REVOKED => self.token_revoked(index, &entry),
            kinds::PARTNERSHIP_REGISTERED => self.registered(index, &entry),
            kinds::PARTNERSHIP_STATUS_CHANGED => self.status_changed(index, &entry),
            kinds::ACTIVITY_RECORDED => self.activity_recorded(index, &entry),
            kinds::ACTIVITY_EVIDENCE_ADDED => self.evidence_added(index, &entry),
            kinds::MOU_CREATED => self.mou_created(index, &entry),
            kinds::MOU_VERSION_UPLOADED => self.version_uploaded(index, &entry),
            kinds::MOU_SIGNATURE_ADDED => self.signature_added(index, &entry, time),
            kinds::MOU_WITHDRAWN => self.mou_withdrawn(index, &entry),
            kinds::KEY_REGISTERED => self.key_registered(index, &entry),
            kinds::KEY_APPROVED => self.key_approved(index, &entry),
            kinds::KEY_RETIRED => self.key_retired(index, &entry, time),
            kinds::KEY_REVOKED => self.key_revoked(index, &entry),
            other => self.finding(index, format!("unknown entry type `{other}`")),
        }
    }

    fn city(&mut self, index: u64, e: &Value) {
        match text(e, "city") {
            Some(code) if !self.cities.insert(code.to_string()) => {
                self.finding(index, format!("city `{code}` created twice"))
            }
            Some(_) => {}
            None => self.finding(index, "city.created without `city`"),
        }
    }

    fn office(&mut self, index: u64, e: &Value) {
        let city = text(e, "city").unwrap_or_default();
        if !self.cities.contains(city) {
            self.finding(index, format!("office for unknown city `{city}`"));
        }
        if let Some(id) = text(e, "office") {
            self.offices.insert(id.to_string());
        }
    }

    fn token_issued(&mut self, index: u64, e: &Value) {
        if let Some(office) = text(e, "office")
            && !self.offices.contains(office)
        {
            self.finding(index, format!("token for unknown office `{office}`"));
        }
        match text(e, "token") {
            Some(id) => {
                if self.tokens.insert(id.to_string(), false).is_some() {
                    self.finding(index, format!("token `{id}` issued twice"));
                }
            }
            None => self.finding(index, "token.issued without `token`"),
        }
    }

    fn token_revoked(&mut self, index: u64, e: &Value) {
        let id = text(e, "token").unwrap_or_default().to_string();
        match self.tokens.get_mut(&id) {
            None => self.finding(index, format!("revocation of unknown token `{id}`")),
            Some(true) => self.finding(index, format!("token `{id}` revoked twice")),
            Some(revoked) => *revoked = true,
        }
    }

    fn registered(&mut self, index: u64, e: &Value) {
        let id = text(e, "partnership").unwrap_or_default().to_string();
        let cities: Vec<&str> = e
            .get("cities")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match cities.as_slice() {
            [a, b] if a < b => {
                for c in [a, b] {
                    if !self.cities.contains(*c) {
                        self.finding(index, format!("partnership with unknown city `{c}`"));
                    }
                }
            }
            _ => self.finding(index, "partnership without two distinct cities in order"),
        }
        let status = text(e, "status").and_then(Status::parse);
        let Some(status) = status else {
            return self.finding(index, "partnership.registered without a valid `status`");
        };
        if self.partnerships.contains_key(&id) {
            return self.finding(index, format!("partnership `{id}` registered twice"));
        }
        self.partnerships.insert(
            id,
            ReplayedPartnership {
                status,
                last_seq: 1,
            },
        );
    }

    fn status_changed(&mut self, index: u64, e: &Value) {
        let id = text(e, "partnership").unwrap_or_default().to_string();
        let from = text(e, "from").and_then(Status::parse);
        let to = text(e, "to").and_then(Status::parse);
        let seq = e.get("seq").and_then(Value::as_i64);
        let Some(current) = self.partnerships.get(&id).cloned() else {
            return self.finding(
                index,
                format!("status change of unknown partnership `{id}`"),
            );
        };
        let (Some(from), Some(to), Some(seq)) = (from, to, seq) else {
            return self.finding(index, "status change without valid `from`, `to` and `seq`");
        };
        if from != current.status {
            self.finding(
                index,
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
                format!(
                    "partnership `{id}`: {from} -> {to} is not a transition the registry allows"
                ),
            );
        }
        if seq != current.last_seq + 1 {
            self.finding(
                index,
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
    fn mou_created(&mut self, index: u64, e: &Value) {
        let id = text(e, "mou").unwrap_or_default().to_string();
        let partnership = text(e, "partnership").unwrap_or_default();
        if !self.partnerships.contains_key(partnership) {
            self.finding(
                index,
                format!("MOU `{id}` for unknown partnership `{partnership}`"),
            );
        }
        if self
            .mous
            .insert(id.clone(), ReplayedMou::default())
            .is_some()
        {
            self.finding(index, format!("MOU `{id}` created twice"));
        }
    }

    /// The MOU an entry names, if the log created it and it is not withdrawn.
    fn open_mou(&mut self, index: u64, e: &Value) -> Option<String> {
        let id = text(e, "mou").unwrap_or_default().to_string();
        match self.mous.get(&id) {
            None => {
                self.finding(index, format!("entry for unknown MOU `{id}`"));
                None
            }
            Some(m) if m.withdrawn => {
                self.finding(index, format!("MOU `{id}` changed after it was withdrawn"));
                None
            }
            Some(_) => Some(id),
        }
    }

    fn activity_recorded(&mut self, index: u64, e: &Value) {
        let p = text(e, "partnership").unwrap_or_default().to_string();
        if !self.partnerships.contains_key(&p) {
            self.finding(index, format!("activity for unknown partnership `{p}`"));
        }
        let id = text(e, "activity").unwrap_or_default().to_string();
        if self
            .activities
            .insert(id.clone(), (p, Vec::new()))
            .is_some()
        {
            self.finding(index, format!("activity `{id}` recorded twice"));
        }
    }

    /// Evidence is numbered 1, 2, ... per activity, and names the activity's own partnership.
    fn evidence_added(&mut self, index: u64, e: &Value) {
        let id = text(e, "activity").unwrap_or_default();
        let seq = e.get("seq").and_then(Value::as_i64).unwrap_or_default();
        let partnership = text(e, "partnership").unwrap_or_default();
        let problem = match self.activities.get_mut(id) {
            None => Some(format!("evidence for unknown activity `{id}`")),
            Some((p, _)) if p != partnership => Some(format!(
                "evidence for activity `{id}` names partnership `{partnership}`, not `{p}`"
            )),
            Some((_, hashes)) => {
                hashes.push(text(e, "sha256").unwrap_or_default().to_string());
                let expected = hashes.len() as i64;
                (seq != expected)
                    .then(|| format!("activity `{id}`: evidence {seq} after {}", expected - 1))
            }
        };
        if let Some(message) = problem {
            self.finding(index, message);
        }
    }

    fn version_uploaded(&mut self, index: u64, e: &Value) {
        let Some(id) = self.open_mou(index, e) else {
            return;
        };
        let version = e.get("version").and_then(Value::as_i64).unwrap_or_default();
        let Some(mou) = self.mous.get_mut(&id) else {
            return;
        };
        let expected = mou.version + 1;
        mou.version = version;
        mou.documents
            .insert(version, text(e, "sha256").unwrap_or_default().to_string());
        if version != expected {
            self.finding(
                index,
                format!("MOU `{id}`: version {version} after {}", expected - 1),
            );
        }
    }

    fn signature_added(&mut self, index: u64, e: &Value, time: i64) {
        let Some(id) = self.open_mou(index, e) else {
            return;
        };
        let seq = e.get("seq").and_then(Value::as_i64).unwrap_or_default();
        let version = e.get("version").and_then(Value::as_i64).unwrap_or_default();
        let key_id = text(e, "key").unwrap_or_default().to_string();
        let fingerprint = text(e, "key_fingerprint").unwrap_or_default();
        let statement = text(e, "statement_sha256").unwrap_or_default().to_string();
        let mut problems = Vec::new();
        match self.keys.get(&key_id) {
            None => problems.push(format!("signature by unregistered key `{key_id}`")),
            Some(k) => {
                if k.fingerprint != fingerprint {
                    problems.push(format!("key `{key_id}` logged with another fingerprint"));
                }
                if !k.active || k.revoked || k.retired_from.is_some_and(|t| t <= time) {
                    problems.push(format!(
                        "signature by key `{key_id}` while it was not active"
                    ));
                }
            }
        }
        if let Some(mou) = self.mous.get_mut(&id) {
            if seq != mou.last_seq + 1 {
                problems.push(format!(
                    "MOU `{id}`: signature seq {seq} after {}",
                    mou.last_seq
                ));
            }
            if version != mou.version {
                problems.push(format!(
                    "MOU `{id}`: signature on version {version}, current is {}",
                    mou.version
                ));
            }
            mou.last_seq = seq;
            mou.signatures.insert(seq, (statement, key_id.clone()));
        }
        self.signed.push((key_id, id, seq, time));
        for p in problems {
            self.finding(index, p);
        }
    }

    fn mou_withdrawn(&mut self, index: u64, e: &Value) {
        if let Some(id) = self.open_mou(index, e)
            && let Some(m) = self.mous.get_mut(&id)
        {
            m.withdrawn = true;
        }
    }

    fn key_registered(&mut self, index: u64, e: &Value) {
        let id = text(e, "key").unwrap_or_default().to_string();
        let fingerprint = text(e, "fingerprint").unwrap_or_default().to_string();
        if self.keys.values().any(|k| k.fingerprint == fingerprint) {
            self.finding(index, format!("key {fingerprint} registered twice"));
        }
        let active = match text(e, "status") {
            Some("active") => true,
            Some("pending") => false,
            other => {
                self.finding(index, format!("key registered with status {other:?}"));
                false
            }
        };
        let key = ReplayedKey {
            fingerprint,
            public_key: text(e, "public_key").unwrap_or_default().to_string(),
            signer: text(e, "signer").unwrap_or_default().to_string(),
            city: text(e, "city").unwrap_or_default().to_string(),
            role: text(e, "role").unwrap_or_default().to_string(),
            active,
            retired_from: None,
            revoked: false,
            compromised_since: None,
        };
        if self.keys.insert(id.clone(), key).is_some() {
            self.finding(index, format!("key `{id}` registered twice"));
        }
    }

    fn key_approved(&mut self, index: u64, e: &Value) {
        let id = text(e, "key").unwrap_or_default().to_string();
        match self.keys.get_mut(&id) {
            Some(k) if !k.active && !k.revoked && k.retired_from.is_none() => k.active = true,
            Some(_) => self.finding(index, format!("key `{id}` approved while not pending")),
            None => self.finding(index, format!("approval of unknown key `{id}`")),
        }
    }

    fn key_retired(&mut self, index: u64, e: &Value, time: i64) {
        let id = text(e, "key").unwrap_or_default().to_string();
        let from = text(e, "effective_at")
            .and_then(|t| parse_instant("effective_at", t).ok())
            .unwrap_or(time);
        match self.keys.get_mut(&id) {
            Some(k) if !k.revoked && k.retired_from.is_none() => k.retired_from = Some(from),
            Some(_) => self.finding(
                index,
                format!("key `{id}` retired after it was retired or revoked"),
            ),
            None => self.finding(index, format!("retirement of unknown key `{id}`")),
        }
    }

    fn key_revoked(&mut self, index: u64, e: &Value) {
        let id = text(e, "key").unwrap_or_default().to_string();
        let since = text(e, "compromised_since")
            .and_then(|t| parse_instant("compromised_since", t).ok())
            .unwrap_or(i64::MIN);
        match self.keys.get_mut(&id) {
            Some(k) if !k.revoked => {
                k.revoked = true;
                k.compromised_since = Some(since);
            }
            Some(_) => self.finding(index, format!("key `{id}` revoked twice")),
            None => self.finding(index, format!("revocation of unknown key `{id}`")),
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
    use crate::domain::entries::LogEntry;
    use serde_json::json;

    fn entry(kind: &'static str, fields: Value) -> Vec<u8> {
        LogEntry::new(kind, 0, fields).unwrap().bytes
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
        pending.insert(6, entry(kinds::KEY_APPROVED, json!({"key": "k"})));
        assert_eq!(replay(&pending).findings, vec![]);
        let mut gap = key_and_mou("active");
        gap.push(signature(2));
        assert!(replay(&gap).findings[0].message.contains("seq 2 after 0"));
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
        for fields in cases {
            let mut log = base();
            log.push(entry(kinds::PARTNERSHIP_STATUS_CHANGED, fields.clone()));
            assert_eq!(replay(&log).findings.len(), 1, "{fields}");
        }
        let mut log = base();
        log.push(br#"{"type":"city.created", "city":"x"}"#.to_vec());
        assert!(replay(&log).findings[0].message.contains("canonical"));
        let mut log = base();
        log.push(entry(kinds::TOKEN_REVOKED, json!({"token": "nope"})));
        assert_eq!(replay(&log).findings.len(), 1);
    }
}
