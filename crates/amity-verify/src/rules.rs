//! The rules an auditor checks, written once: the server's audit report, `amity audit` and the
//! offline bundle verifier all judge signatures, chains and MOU states through these functions,
//! so the three cannot drift apart. The rules table is docs/audit-rules.md.

use serde::{Deserialize, Serialize};

use crate::keys::PublicKey;
use crate::sshsig;
use crate::statement::MouSignatureStatement;

/// The outcome of one check, and of a whole report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    pub fn of(ok: bool) -> Self {
        if ok { Verdict::Pass } else { Verdict::Fail }
    }
}

/// One rule applied to one subject.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Check {
    /// What was checked, e.g. `document_hash`, `signature_valid`, `chain_link`.
    pub check: &'static str,
    /// The entry it concerns, e.g. `version 2`, `signature seq 3`, `mou`.
    pub subject: String,
    /// The log entry of that subject, when there is one.
    pub log_index: Option<i64>,
    pub result: Verdict,
    pub detail: String,
}

/// The checks of one report, in the order they ran.
#[derive(Debug, Default)]
pub struct Checks {
    pub checks: Vec<Check>,
    /// In a summary (see [`Checks::summary`]), how many checks of each rule passed; passing
    /// checks are then counted here instead of kept in `checks`.
    pub passed: Vec<(&'static str, usize)>,
    summary: bool,
}

impl Checks {
    /// Checks that keep only the failures, and count the passes per rule: what a whole-registry
    /// audit reports, where a check per signature and rule would be millions of lines.
    pub fn summary() -> Checks {
        Checks {
            summary: true,
            ..Checks::default()
        }
    }

    /// Records a check and returns whether it passed, so callers can fold a subject's checks.
    pub fn add(
        &mut self,
        check: &'static str,
        subject: impl Into<String>,
        log_index: Option<i64>,
        ok: bool,
        detail: impl Into<String>,
    ) -> bool {
        if self.summary && ok {
            match self.passed.iter_mut().find(|(rule, _)| *rule == check) {
                Some((_, n)) => *n += 1,
                None => self.passed.push((check, 1)),
            }
            return ok;
        }
        self.checks.push(Check {
            check,
            subject: subject.into(),
            log_index,
            result: Verdict::of(ok),
            detail: detail.into(),
        });
        ok
    }

    /// Records a check whose outcome carries its own detail either way.
    pub fn add_result(
        &mut self,
        check: &'static str,
        subject: impl Into<String>,
        log_index: Option<i64>,
        result: Result<String, String>,
    ) -> bool {
        let ok = result.is_ok();
        self.add(check, subject, log_index, ok, result.unwrap_or_else(|e| e))
    }

    /// `pass` only when there was something to check and every check passed.
    pub fn verdict(&self) -> Verdict {
        Verdict::of(
            !(self.checks.is_empty() && self.passed.is_empty())
                && self.checks.iter().all(|c| c.result == Verdict::Pass),
        )
    }
}

/// A partnership's standing (docs/design.md, the status machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Proposed,
    Active,
    Curtailed,
    CutOff,
}

impl Status {
    pub const ALL: &'static [Status] = &[
        Status::Proposed,
        Status::Active,
        Status::Curtailed,
        Status::CutOff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Proposed => "proposed",
            Status::Active => "active",
            Status::Curtailed => "curtailed",
            Status::CutOff => "cut_off",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Status::ALL.iter().copied().find(|s| s.as_str() == value)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a transition is asked for: the status endpoint, the partner's confirmation, or an MOU
/// reaching `executed`. `proposed -> active` is only reachable by the last two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    StatusChange,
    Confirmation,
    MouExecuted,
}

/// Rule `status_transition`: the statuses reachable from `from` by `trigger`. The server
/// refuses any other change; a replay of the log reports one.
pub fn allowed_targets(from: Status, trigger: Trigger) -> &'static [Status] {
    use Status::*;
    match (from, trigger) {
        (Proposed, Trigger::StatusChange) => &[CutOff],
        (Proposed, Trigger::Confirmation | Trigger::MouExecuted) => &[Active],
        (Active, Trigger::StatusChange) => &[Curtailed, CutOff],
        (Curtailed, Trigger::StatusChange) => &[Active, CutOff],
        _ => &[],
    }
}

/// The most signatories one round of signature requests may ask (rule `request_valid`).
pub const MAX_REQUESTS_PER_ROUND: usize = 50;

/// The states of an MOU (docs/design.md):
///
/// ```text
/// draft --(first version)--> open --(every required signer signed the current version)--> executed
/// executed --(new version)--> open
/// open --(a requested signatory declines)--> declined --(new version | new round)--> open
/// open --(a round's deadline passes unanswered)--> expired --(new version | new round)--> open
/// any but withdrawn --(a party office withdraws, with a reason)--> withdrawn (final)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MouState {
    Draft,
    Open,
    Executed,
    Withdrawn,
    /// A requested signatory declined; a new version or a new round of requests reopens it.
    Declined,
    /// A round of requests reached its deadline unanswered; reopened like `declined`.
    Expired,
}

impl MouState {
    /// Rule `state_consistent`: executed exactly when every required signer signed the current
    /// version, draft exactly when there is no version.
    pub fn agrees_with(self, all_signed: bool, current_version: i32) -> bool {
        match self {
            MouState::Executed => all_signed,
            MouState::Open => !all_signed,
            MouState::Draft => current_version == 0,
            MouState::Withdrawn => true,
            MouState::Declined | MouState::Expired => !all_signed && current_version > 0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MouState::Draft => "draft",
            MouState::Open => "open",
            MouState::Executed => "executed",
            MouState::Withdrawn => "withdrawn",
            MouState::Declined => "declined",
            MouState::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "draft" => Some(MouState::Draft),
            "open" => Some(MouState::Open),
            "executed" => Some(MouState::Executed),
            "withdrawn" => Some(MouState::Withdrawn),
            "declined" => Some(MouState::Declined),
            "expired" => Some(MouState::Expired),
            _ => None,
        }
    }
}

impl std::fmt::Display for MouState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `count` distinct signers of `city` in `role` must sign the current version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RequiredSigner {
    #[cfg_attr(feature = "openapi", schema(example = "us-hou"))]
    pub city: String,
    #[cfg_attr(feature = "openapi", schema(example = "signatory"))]
    pub role: String,
    #[cfg_attr(feature = "openapi", schema(example = 1))]
    pub count: u32,
}

/// Who signed the current version, as counted against the requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBy {
    pub signer: String,
    pub city: String,
    pub role: String,
}

/// For each requirement, how many distinct signers of that city and role signed.
pub fn tally(required: &[RequiredSigner], signed: &[SignedBy]) -> Vec<(RequiredSigner, u32)> {
    required
        .iter()
        .map(|r| {
            let mut signers: Vec<&str> = signed
                .iter()
                .filter(|s| s.city == r.city && s.role == r.role)
                .map(|s| s.signer.as_str())
                .collect();
            signers.sort_unstable();
            signers.dedup();
            (r.clone(), u32::try_from(signers.len()).unwrap_or(u32::MAX))
        })
        .collect()
}

/// True when every requirement is met.
pub fn is_executed(required: &[RequiredSigner], signed: &[SignedBy]) -> bool {
    tally(required, signed)
        .iter()
        .all(|(r, have)| *have >= r.count)
}

/// The requirements not met, as `role of city (have of need)`, for a finding's detail.
pub fn missing_signers(required: &[RequiredSigner], signed: &[SignedBy]) -> Vec<String> {
    tally(required, signed)
        .iter()
        .filter(|(req, have)| *have < req.count)
        .map(|(req, have)| format!("{} of {} ({have} of {})", req.role, req.city, req.count))
        .collect()
}

/// Rule `chain_link` for the `index`-th signature (0-based): its `seq` is `index + 1` and its
/// statement's `prev` is the hash of the statement before.
pub fn chain_link(
    index: usize,
    seq: i64,
    statement_prev: Option<&str>,
    prev_hex: &str,
) -> (bool, String) {
    let expected_seq = i64::try_from(index).unwrap_or(i64::MAX).saturating_add(1);
    let ok = seq == expected_seq && statement_prev == Some(prev_hex);
    let detail = if ok {
        format!("seq {expected_seq} follows {prev_hex}")
    } else {
        format!("expected seq {expected_seq} with prev {prev_hex}")
    };
    (ok, detail)
}

/// Rule `signature_valid`: the armored SSHSIG parses strictly and verifies with
/// `verify_strict` over the statement bytes, under `key`, in `namespace`. The error is the
/// refusal's stable code.
pub fn signature_valid(
    armored: &str,
    namespace: &str,
    statement: &[u8],
    key: &PublicKey,
) -> Result<String, String> {
    let sig = sshsig::parse_armored(armored).map_err(|e| e.code().to_string())?;
    sshsig::verify(&sig, namespace, statement, Some(key)).map_err(|e| e.code().to_string())?;
    Ok(format!("verify_strict passes under {}", key.fingerprint()))
}

/// Who a key was registered to, as its `key.registered` entry (or the key table) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHolder<'a> {
    pub signer: &'a str,
    pub city: &'a str,
    pub role: &'a str,
}

/// Rule `key_bound`: a signature counts only for the signer, city and role its key was
/// registered to. The required-signer tally counts the statement's claims, so a statement
/// that claims another holder than the key's would let one city's key sign for another.
pub fn key_bound(
    statement: &MouSignatureStatement,
    holder: KeyHolder<'_>,
) -> Result<String, String> {
    if holder.signer == statement.signer
        && holder.city == statement.signer_city
        && holder.role == statement.role
    {
        Ok(format!(
            "the key is registered to {} of {} as {}",
            holder.signer, holder.city, holder.role
        ))
    } else {
        Err(format!(
            "the statement claims {} of {} as {}, the key is registered to {} of {} as {}",
            statement.signer,
            statement.signer_city,
            statement.role,
            holder.signer,
            holder.city,
            holder.role
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(city: &str, role: &str, count: u32) -> RequiredSigner {
        RequiredSigner {
            city: city.into(),
            role: role.into(),
            count,
        }
    }

    fn by(signer: &str, city: &str, role: &str) -> SignedBy {
        SignedBy {
            signer: signer.into(),
            city: city.into(),
            role: role.into(),
        }
    }

    #[test]
    fn tally_counts_distinct_signers_per_city_and_role() {
        let required = [req("us-hou", "mayor", 1), req("cn-sha", "mayor", 2)];
        let signed = [
            by("a", "us-hou", "mayor"),
            by("b", "cn-sha", "mayor"),
            by("b", "cn-sha", "mayor"),
            by("c", "cn-sha", "deputy"),
        ];
        assert!(!is_executed(&required, &signed));
        assert_eq!(
            missing_signers(&required, &signed),
            ["mayor of cn-sha (1 of 2)"]
        );
        let mut more = signed.to_vec();
        more.push(by("d", "cn-sha", "mayor"));
        assert!(is_executed(&required, &more));
    }

    #[test]
    fn chain_link_needs_position_and_prev() {
        assert!(chain_link(0, 1, Some("00"), "00").0);
        assert!(!chain_link(0, 2, Some("00"), "00").0);
        assert!(!chain_link(1, 2, Some("00"), "11").0);
        assert!(!chain_link(1, 2, None, "11").0);
    }

    #[test]
    fn states_agree_with_signatures() {
        assert!(MouState::Executed.agrees_with(true, 1));
        assert!(!MouState::Executed.agrees_with(false, 1));
        assert!(!MouState::Open.agrees_with(true, 1));
        assert!(MouState::Draft.agrees_with(false, 0));
        assert!(!MouState::Draft.agrees_with(false, 1));
        for s in [
            MouState::Draft,
            MouState::Open,
            MouState::Executed,
            MouState::Withdrawn,
        ] {
            assert_eq!(MouState::parse(s.as_str()), Some(s));
        }
    }
}
