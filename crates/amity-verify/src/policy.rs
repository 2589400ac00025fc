//! Witness policies: C2SP tlog-policy (the spec as of C2SP commit 13027ee; docs/witnessing.md,
//! "The policy file"), and judging a cosigned checkpoint against one.
//!
//! A policy names the logs a verifier accepts, the witnesses it knows (each with a
//! `cosignature/v1` key and, for a log that asks them to cosign, a URL), groups of witnesses
//! with a threshold, and the quorum: the one witness or group whose cosignatures a checkpoint
//! needs before it is trusted. Two histories of one log can never both gather a quorum as long
//! as enough of its witnesses are honest, because an honest witness cosigns only checkpoints
//! that extend the last one it cosigned.
//!
//! Parsing is strict, as the spec asks: names are defined before they are used, once; a group
//! lists each member once and its threshold is between 1 and its size; no two witnesses (or
//! two logs) share a public key; exactly one quorum line.

use std::collections::HashSet;

use crate::cosignature::{Cosignature, CosignerKey};
use crate::note::{NoteVerifier, parse_signature_line};

/// The predefined quorum that requires no cosignature at all.
pub const NONE: &str = "none";

/// Limits well above the spec's recommended minimum of 32 each: a policy is written by hand,
/// and a larger one is a mistake or an attack on the verifier's time.
pub const MAX_LOGS: usize = 256;
pub const MAX_WITNESSES: usize = 256;
pub const MAX_GROUPS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy line {line}: {reason}")]
pub struct PolicyError {
    /// 1-based line number; 0 for the file as a whole.
    pub line: usize,
    pub reason: String,
}

/// A log the policy accepts.
#[derive(Debug, Clone)]
pub struct PolicyLog {
    pub key: NoteVerifier,
    pub url: Option<String>,
}

/// A witness the policy knows.
#[derive(Debug, Clone)]
pub struct PolicyWitness {
    /// The policy's name for it (not necessarily its key name).
    pub name: String,
    pub key: CosignerKey,
    /// Its submission prefix: where a log sends `add-checkpoint`.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quorum {
    None,
    Of(Member),
}

/// A parsed policy.
#[derive(Debug, Clone)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    quorum: Quorum,
}

/// How a checkpoint fared against a policy's quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumReport {
    /// The rule, in words (e.g. `group partner-cities: 2 of berlin, lyon`).
    pub rule: String,
    pub met: bool,
    /// Witnesses (policy names) whose cosignature verified, with its timestamp.
    pub cosigned: Vec<(String, u64)>,
    /// Witnesses of the policy with no valid cosignature on the checkpoint.
    pub missing: Vec<String>,
    /// Witnesses whose key signed a line that does not verify: a forged or damaged
    /// cosignature, which fails the check whatever the quorum says.
    pub invalid: Vec<String>,
}

impl QuorumReport {
    /// Whether the checkpoint can be trusted under the policy: quorum met and nothing forged.
    pub fn passed(&self) -> bool {
        self.met && self.invalid.is_empty()
    }

    /// One line for a report.
    pub fn describe(&self) -> String {
        let names = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let cosigned: Vec<String> = self.cosigned.iter().map(|(n, _)| n.clone()).collect();
        let mut line = format!(
            "quorum {} ({}); cosigned by {}; missing {}",
            if self.met { "met" } else { "NOT met" },
            self.rule,
            names(&cosigned),
            names(&self.missing)
        );
        if !self.invalid.is_empty() {
            line.push_str(&format!(
                "; cosignatures that do not verify: {}",
                self.invalid.join(", ")
            ));
        }
        line
    }
}

/// Splits a line into items: the spec's whitespace is space and tab only.
fn items(line: &str) -> Vec<&str> {
    line.split([' ', '\t']).filter(|s| !s.is_empty()).collect()
}

impl Policy {
    /// Reads and parses the policy file at `path`; the error names the file.
    pub fn read(path: &std::path::Path) -> Result<Policy, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the policy {}: {e}", path.display()))?;
        Policy::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a policy file.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let err = |line: usize, reason: String| PolicyError { line, reason };
        if let Some(b) = text
            .bytes()
            .find(|&b| b < 0x20 && b != b'\t' && b != b'\n' || b == 0x7f)
        {
            let line = text
                .bytes()
                .take_while(|&c| c != b)
                .filter(|&c| c == b'\n')
                .count()
                + 1;
            return Err(err(
                line,
                format!("control character {b:#04x} (only tab and newline are allowed)"),
            ));
        }
        let mut logs: Vec<PolicyLog> = Vec::new();
        let mut witnesses: Vec<PolicyWitness> = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut quorum: Option<Quorum> = None;
        let lookup = |witnesses: &[PolicyWitness], groups: &[Group], name: &str| {
            witnesses
                .iter()
                .position(|w| w.name == name)
                .map(Member::Witness)
                .or_else(|| {
                    groups
                        .iter()
                        .position(|g| g.name == name)
                        .map(Member::Group)
                })
        };
        for (i, raw) in text.split('\n').enumerate() {
            let n = i + 1;
            let fields = items(raw);
            let Some((&keyword, args)) = fields.split_first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            match keyword {
                "log" => {
                    let (vkey, url) = match args {
                        [vkey] => (*vkey, None),
                        [vkey, url] => (*vkey, Some(url.to_string())),
                        _ => return Err(err(n, "expected `log <vkey> [<url>]`".into())),
                    };
                    let key = NoteVerifier::from_vkey(vkey)
                        .map_err(|e| err(n, format!("log key: {e}")))?;
                    if logs.iter().any(|l| l.key.public_key() == key.public_key()) {
                        return Err(err(n, "the same log key is listed twice".into()));
                    }
                    if logs.len() == MAX_LOGS {
                        return Err(err(n, format!("more than {MAX_LOGS} logs")));
                    }
                    logs.push(PolicyLog { key, url });
                }
                "witness" => {
                    let (name, vkey, url) = match args {
                        [name, vkey] => (*name, *vkey, None),
                        [name, vkey, url] => (*name, *vkey, Some(url.to_string())),
                        _ => {
                            return Err(err(n, "expected `witness <name> <vkey> [<url>]`".into()));
                        }
                    };
                    if name == NONE || lookup(&witnesses, &groups, name).is_some() {
                        return Err(err(n, format!("the name {name:?} is already defined")));
                    }
                    let key = CosignerKey::from_vkey(vkey)
                        .map_err(|e| err(n, format!("witness {name}: {e}")))?;
                    if witnesses
                        .iter()
                        .any(|w| w.key.public_key() == key.public_key())
                    {
                        return Err(err(
                            n,
                            format!("witness {name} has the key of another witness"),
                        ));
                    }
                    if witnesses.len() == MAX_WITNESSES {
                        return Err(err(n, format!("more than {MAX_WITNESSES} witnesses")));
                    }
                    witnesses.push(PolicyWitness {
                        name: name.to_string(),
                        key,
                        url,
                    });
                }
                "group" => {
                    let [name, threshold, member_names @ ..] = args else {
                        return Err(err(
                            n,
                            "expected `group <name> <k|any|all> <member>...`".into(),
                        ));
                    };
                    if *name == NONE || lookup(&witnesses, &groups, name).is_some() {
                        return Err(err(n, format!("the name {name:?} is already defined")));
                    }
                    if member_names.is_empty() {
                        return Err(err(n, format!("group {name} has no members")));
                    }
                    let mut members = Vec::with_capacity(member_names.len());
                    for m in member_names {
                        let member = lookup(&witnesses, &groups, m).ok_or_else(|| {
                            err(
                                n,
                                format!(
                                    "group {name}: {m:?} is not a witness or group defined above"
                                ),
                            )
                        })?;
                        if members.contains(&member) {
                            return Err(err(n, format!("group {name} lists {m} twice")));
                        }
                        members.push(member);
                    }
                    let size = members.len();
                    let threshold = match *threshold {
                        "any" => 1,
                        "all" => size,
                        k => {
                            let canonical = !k.is_empty()
                                && k.bytes().all(|b| b.is_ascii_digit())
                                && !k.starts_with('0');
                            canonical
                                .then(|| k.parse::<usize>().ok())
                                .flatten()
                                .filter(|k| (1..=size).contains(k))
                                .ok_or_else(|| {
                                    err(
                                        n,
                                        format!(
                                            "group {name}: the threshold must be any, all or \
                                             a number from 1 to {size}"
                                        ),
                                    )
                                })?
                        }
                    };
                    if groups.len() == MAX_GROUPS {
                        return Err(err(n, format!("more than {MAX_GROUPS} groups")));
                    }
                    groups.push(Group {
                        name: name.to_string(),
                        threshold,
                        members,
                    });
                }
                "quorum" => {
                    let [name] = args else {
                        return Err(err(n, "expected `quorum <name>`".into()));
                    };
                    if quorum.is_some() {
                        return Err(err(n, "a second quorum line".into()));
                    }
                    quorum = Some(if *name == NONE {
                        Quorum::None
                    } else {
                        Quorum::Of(lookup(&witnesses, &groups, name).ok_or_else(|| {
                            err(
                                n,
                                format!("quorum {name:?} is not a witness or group defined above"),
                            )
                        })?)
                    });
                }
                other => return Err(err(n, format!("unknown keyword {other:?}"))),
            }
        }
        let quorum = quorum.ok_or_else(|| err(0, "the policy has no quorum line".into()))?;
        Ok(Policy {
            logs,
            witnesses,
            groups,
            quorum,
        })
    }

    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// Whether the policy requires any cosignature.
    pub fn requires_witnesses(&self) -> bool {
        self.quorum != Quorum::None
    }

    /// The quorum rule in words.
    pub fn describe_quorum(&self) -> String {
        match self.quorum {
            Quorum::None => "none required".to_string(),
            Quorum::Of(Member::Witness(w)) => format!("witness {}", self.witness_name(w)),
            Quorum::Of(Member::Group(g)) => self.describe_group(g),
        }
    }

    fn witness_name(&self, w: usize) -> &str {
        self.witnesses.get(w).map_or("?", |w| w.name.as_str())
    }

    fn member_name(&self, m: Member) -> &str {
        match m {
            Member::Witness(w) => self.witness_name(w),
            Member::Group(g) => self.groups.get(g).map_or("?", |g| g.name.as_str()),
        }
    }

    fn describe_group(&self, g: usize) -> String {
        let Some(group) = self.groups.get(g) else {
            return "?".to_string();
        };
        let members: Vec<&str> = group.members.iter().map(|&m| self.member_name(m)).collect();
        format!(
            "group {}: {} of {}",
            group.name,
            group.threshold,
            members.join(", ")
        )
    }

    /// Whether `member` has witnessed, given which witnesses cosigned. Groups only refer to
    /// earlier groups, so the recursion ends.
    fn witnessed(&self, member: Member, cosigned: &[bool]) -> bool {
        match member {
            Member::Witness(w) => cosigned.get(w).copied().unwrap_or(false),
            Member::Group(g) => self.groups.get(g).is_some_and(|group| {
                group
                    .members
                    .iter()
                    .filter(|&&m| self.witnessed(m, cosigned))
                    .count()
                    >= group.threshold
            }),
        }
    }

    /// Whether the quorum is met when exactly the witnesses named in `names` (policy names)
    /// cosigned.
    pub fn quorum_met_by(&self, names: &[&str]) -> bool {
        let cosigned: Vec<bool> = self
            .witnesses
            .iter()
            .map(|w| names.contains(&w.name.as_str()))
            .collect();
        match self.quorum {
            Quorum::None => true,
            Quorum::Of(m) => self.witnessed(m, &cosigned),
        }
    }

    /// Judges the cosignature lines of a signed checkpoint `note` whose text is `body` (the
    /// checkpoint as the log signed it, already verified by the caller). Lines by keys the
    /// policy does not know are ignored, as the spec requires; a line by a known witness key
    /// that does not verify is reported as invalid.
    pub fn check_cosignatures(&self, body: &str, note: &str) -> QuorumReport {
        let mut cosigned_at: Vec<Option<u64>> = vec![None; self.witnesses.len()];
        let mut invalid: HashSet<usize> = HashSet::new();
        let signature_block = note.strip_prefix(body).and_then(|s| s.strip_prefix('\n'));
        for line in signature_block.unwrap_or_default().lines() {
            let Ok((name, key_id, _)) = parse_signature_line(line) else {
                continue;
            };
            for (w, witness) in self.witnesses.iter().enumerate() {
                if witness.key.name() != name || witness.key.key_id() != key_id {
                    continue;
                }
                match Cosignature::parse_line(line)
                    .map_err(|e| e.to_string())
                    .and_then(|c| {
                        witness
                            .key
                            .verify(&c, body)
                            .map(|()| c.timestamp)
                            .map_err(|e| e.to_string())
                    }) {
                    Ok(timestamp) => {
                        if let Some(slot) = cosigned_at.get_mut(w) {
                            *slot = Some(timestamp);
                        }
                    }
                    Err(_) => {
                        invalid.insert(w);
                    }
                }
            }
        }
        let cosigned_flags: Vec<bool> = cosigned_at.iter().map(Option::is_some).collect();
        let met = match self.quorum {
            Quorum::None => true,
            Quorum::Of(m) => self.witnessed(m, &cosigned_flags),
        };
        let mut report = QuorumReport {
            rule: self.describe_quorum(),
            met,
            cosigned: Vec::new(),
            missing: Vec::new(),
            invalid: Vec::new(),
        };
        for (w, witness) in self.witnesses.iter().enumerate() {
            if invalid.contains(&w) {
                report.invalid.push(witness.name.clone());
            }
            match cosigned_at.get(w).copied().flatten() {
                Some(t) if !invalid.contains(&w) => {
                    report.cosigned.push((witness.name.clone(), t));
                }
                _ => report.missing.push(witness.name.clone()),
            }
        }
        report
    }

    /// Whether `key` is one of the policy's logs; a policy with no `log` line accepts the log
    /// the caller trusts by other means (the spec allows logs known from context).
    pub fn accepts_log(&self, key: &NoteVerifier) -> bool {
        self.logs.is_empty()
            || self
                .logs
                .iter()
                .any(|l| l.key.public_key() == key.public_key() && l.key.name() == key.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::Cosigner;
    use crate::note::{Checkpoint, NoteSigner, sign_checkpoint};
    use ed25519_dalek::SigningKey;

    fn cosigner(name: &str, seed: u8) -> Cosigner {
        Cosigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    fn log_signer() -> NoteSigner {
        NoteSigner::new("registry.example", SigningKey::from_bytes(&[9; 32])).unwrap()
    }

    fn checkpoint_note() -> (String, String) {
        let checkpoint = Checkpoint {
            origin: "registry.example".into(),
            size: 7,
            root: [3; 32],
            extensions: vec![],
        };
        let body = checkpoint.to_text().unwrap();
        (
            body,
            sign_checkpoint(&checkpoint, &[&log_signer()]).unwrap(),
        )
    }

    fn two_of_three() -> (Policy, [Cosigner; 3]) {
        let ws = [
            cosigner("witness.berlin.example/w1", 1),
            cosigner("witness.lyon.example/w1", 2),
            cosigner("witness.osaka.example/w1", 3),
        ];
        let text = format!(
            "# partner cities\nlog {}\nwitness berlin {} https://witness.berlin.example/\n\
             witness lyon\t{}\n  witness osaka {}\ngroup partners 2 berlin lyon osaka\nquorum partners\n",
            log_signer().verifier().to_vkey(),
            ws[0].public().to_vkey(),
            ws[1].public().to_vkey(),
            ws[2].public().to_vkey(),
        );
        (Policy::parse(&text).unwrap(), ws)
    }

    fn cosigned(note: &str, body: &str, by: &[&Cosigner]) -> String {
        let mut out = note.to_string();
        for c in by {
            out.push_str(&c.cosign(body, 1_700_000_000).unwrap().to_line());
        }
        out
    }

    #[test]
    fn the_spec_example_structure_parses_and_nested_groups_count() {
        let ws: Vec<Cosigner> = (1..=6).map(|i| cosigner(&format!("w{i}"), i)).collect();
        let text = format!(
            "witness X1 {}\nwitness X2 {}\nwitness X3 {}\ngroup X-witnesses 2 X1 X2 X3\n\n\
             witness Y1 {}\nwitness Y2 {}\nwitness Y3 {}\ngroup Y-witnesses any Y1 Y2 Y3\n\n\
             group X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
            ws[0].public().to_vkey(),
            ws[1].public().to_vkey(),
            ws[2].public().to_vkey(),
            ws[3].public().to_vkey(),
            ws[4].public().to_vkey(),
            ws[5].public().to_vkey(),
        );
        let policy = Policy::parse(&text).unwrap();
        assert!(policy.quorum_met_by(&["X1", "X3", "Y2"]));
        assert!(!policy.quorum_met_by(&["X1", "Y2", "Y3"]));
        assert!(!policy.quorum_met_by(&["X1", "X2", "X3"]));
        assert_eq!(
            policy.describe_quorum(),
            "group X-and-Y: 2 of X-witnesses, Y-witnesses"
        );
    }

    #[test]
    fn a_quorum_of_two_needs_two_valid_cosignatures() {
        let (policy, ws) = two_of_three();
        let (body, note) = checkpoint_note();
        let one = policy.check_cosignatures(&body, &cosigned(&note, &body, &[&ws[0]]));
        assert!(!one.passed());
        assert_eq!(one.missing, ["lyon", "osaka"]);
        let two = policy.check_cosignatures(&body, &cosigned(&note, &body, &[&ws[0], &ws[2]]));
        assert!(two.passed(), "{}", two.describe());
        assert_eq!(two.cosigned.len(), 2);
        assert_eq!(two.missing, ["lyon"]);
        // An unknown witness's cosignature counts for nothing and breaks nothing.
        let stranger = cosigner("witness.elsewhere.example", 7);
        let report =
            policy.check_cosignatures(&body, &cosigned(&note, &body, &[&ws[1], &stranger]));
        assert!(!report.met);
        assert!(report.invalid.is_empty());
    }

    #[test]
    fn a_forged_cosignature_fails_even_with_a_quorum() {
        let (policy, ws) = two_of_three();
        let (body, note) = checkpoint_note();
        let other_body = body.replace("\n7\n", "\n8\n");
        // Lyon's line was made for another checkpoint: it does not verify on this one.
        let mut text = cosigned(&note, &body, &[&ws[0], &ws[2]]);
        text.push_str(&ws[1].cosign(&other_body, 1_700_000_000).unwrap().to_line());
        let report = policy.check_cosignatures(&body, &text);
        assert!(report.met);
        assert!(!report.passed());
        assert_eq!(report.invalid, ["lyon"]);
        assert!(report.describe().contains("do not verify: lyon"));
    }

    #[test]
    fn quorum_none_requires_nothing() {
        let policy = Policy::parse("quorum none\n").unwrap();
        assert!(!policy.requires_witnesses());
        let (body, note) = checkpoint_note();
        assert!(policy.check_cosignatures(&body, &note).passed());
    }

    #[test]
    fn log_lines_restrict_the_accepted_logs() {
        let (policy, _) = two_of_three();
        assert!(policy.accepts_log(&log_signer().verifier()));
        let other = NoteSigner::new("registry.example", SigningKey::from_bytes(&[10; 32]))
            .unwrap()
            .verifier();
        assert!(!policy.accepts_log(&other));
    }

    #[test]
    fn malformed_policies_are_refused_with_their_line() {
        let w1 = cosigner("w1", 1).public().to_vkey();
        let w2 = cosigner("w2", 2).public().to_vkey();
        let w1_renamed = cosigner("other-name", 1).public().to_vkey();
        let cases: Vec<(String, usize, &str)> = vec![
            ("witness a KEY\nquorum a\n".into(), 1, "witness a"),
            (format!("witness a {w1}\n"), 0, "no quorum line"),
            (
                format!("witness a {w1}\nquorum b\n"),
                2,
                "not a witness or group",
            ),
            (
                format!("witness a {w1}\nquorum a\nquorum a\n"),
                3,
                "second quorum",
            ),
            (
                format!("witness a {w1}\nwitness a {w2}\nquorum a\n"),
                2,
                "already defined",
            ),
            (
                format!("witness a {w1}\nwitness b {w1_renamed}\nquorum a\n"),
                2,
                "key of another",
            ),
            (
                format!("witness none {w1}\nquorum none\n"),
                1,
                "already defined",
            ),
            (
                format!("witness a {w1}\ngroup g 2 a\nquorum g\n"),
                2,
                "from 1 to 1",
            ),
            (
                format!("witness a {w1}\ngroup g 0 a\nquorum g\n"),
                2,
                "threshold",
            ),
            (
                format!("witness a {w1}\ngroup g 01 a\nquorum g\n"),
                2,
                "threshold",
            ),
            (
                format!("witness a {w1}\ngroup g any a a\nquorum g\n"),
                2,
                "twice",
            ),
            (
                format!("witness a {w1}\ngroup g any\nquorum g\n"),
                2,
                "no members",
            ),
            (
                format!("group g any a\nwitness a {w1}\nquorum g\n"),
                1,
                "defined above",
            ),
            (
                format!("witness a {w1}\ngroup g any none\nquorum g\n"),
                2,
                "defined above",
            ),
            (
                format!("witness a {w1}\r\nquorum a\n"),
                1,
                "control character",
            ),
            (
                format!("witnesses a {w1}\nquorum a\n"),
                1,
                "unknown keyword",
            ),
            // A log key where a witness key belongs: the wrong signature type.
            (
                format!(
                    "witness a {}\nquorum a\n",
                    log_signer().verifier().to_vkey()
                ),
                1,
                "witness a",
            ),
        ];
        for (text, line, why) in cases {
            let e = Policy::parse(&text).expect_err(&text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.reason.contains(why), "{text:?}: {e}");
        }
    }
}
