//! Replaying the log: the rules every sequence of entries must follow, checked from the entry
//! bytes alone. An auditor runs this over a whole log it fetched; nothing here trusts the
//! server's tables.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

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

#[derive(Debug, Default)]
pub struct Replay {
    cities: HashSet<String>,
    offices: HashSet<String>,
    tokens: HashMap<String, bool>,
    partnerships: HashMap<String, ReplayedPartnership>,
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
        if text(&entry, "time").is_none() {
            self.finding(index, "entry has no `time`");
        }
        match kind.as_str() {
            kinds::CITY_CREATED => self.city(index, &entry),
            kinds::OFFICE_CREATED => self.office(index, &entry),
            kinds::TOKEN_ISSUED => self.token_issued(index, &entry),
            kinds::TOKEN_REVOKED => self.token_revoked(index, &entry),
            kinds::PARTNERSHIP_REGISTERED => self.registered(index, &entry),
            kinds::PARTNERSHIP_STATUS_CHANGED => self.status_changed(index, &entry),
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
