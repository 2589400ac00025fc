//! Signature requests: an office of a party city asks named signatories to sign the current
//! version of an MOU, all at once or in sequence groups, by a deadline (docs/signing-workflow.md).
//!
//! ```text
//! pending --(the signatory signs, in group order)--> signed
//! pending --(the signatory declines, with a signed reason)--> declined
//! pending --(the round's deadline passes)--> expired
//! pending --(new version | new round | withdrawal | another's decline | the office)--> cancelled
//! ```
//!
//! The first decline or expiry of a round moves the MOU to `declined` or `expired`; a new
//! version or a new round of requests opens it again. Every move is a log entry, replayed by
//! `amity audit` (docs/audit-rules.md). This module holds the pure rules; the database work is
//! in `db::requests` and the use cases in `app::requests`.

use std::collections::BTreeSet;

use serde_json::json;

use super::DomainError;
use super::cities::CityCode;
use super::dates::format_micros;
use super::keys::{SignatoryKey, decode_statement, sshsig_error, statement_error};
use super::mous::{RequiredSigner, SignedBy, tally, validate_role};
use crate::crypto::sshsig::{self, Sshsig};
use crate::crypto::statement::{
    MouDeclineStatement, document_fields, is_decline_reason, mou_decline_namespace, signer_city,
};
use crate::domain::ErrorCode;

/// Enough for any signing ceremony; keeps a round's log entry far below the entry limit.
pub const MAX_REQUESTS_PER_ROUND: usize = 50;
/// A deadline further ahead than this is almost surely a typing error.
pub const MAX_DEADLINE_AHEAD_MICROS: i64 = 366 * 24 * 3600 * 1_000_000;

string_enum! {
    /// Where a signature request stands.
    RequestState {
        Pending => "pending",
        Signed => "signed",
        Declined => "declined",
        Expired => "expired",
        Cancelled => "cancelled",
    }
}

string_enum! {
    /// Why pending requests were cancelled.
    CancelCause {
        Office => "office",
        NewVersion => "new_version",
        NewRound => "new_round",
        Withdrawn => "withdrawn",
        Declined => "declined",
    }
}

/// One signatory to ask, as an office names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedSigner {
    /// `<handle>@<city>`.
    pub signer: String,
    pub city: CityCode,
    pub role: String,
    pub group: i32,
}

/// A stored signature request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRequest {
    pub id: String,
    pub mou_id: String,
    pub round: i32,
    pub version: i32,
    pub signer: String,
    pub signer_city: String,
    pub role: String,
    pub group: i32,
    /// Microseconds since the epoch.
    pub deadline: i64,
    pub state: RequestState,
    pub requested_by_city: String,
    pub requested_by: Option<String>,
    pub requested_at: i64,
    pub log_index: i64,
    pub answered_at: Option<i64>,
    pub answer_log_index: Option<i64>,
    pub signature_seq: Option<i64>,
    pub decline_reason: Option<String>,
    pub decline_statement: Option<Vec<u8>>,
    pub decline_signature: Option<String>,
    pub reminders: ReminderPlan,
    pub reminders_sent: i32,
    /// When the next reminder is due; `None` when no more will be sent.
    pub next_reminder_at: Option<i64>,
}

/// When a round reminds its pending signatories: `every_days` after the request and again
/// every `every_days`, and `before_days` before the deadline, at most `max` times in all
/// (0 turns each off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderPlan {
    pub before_days: i32,
    pub every_days: i32,
    pub max: i32,
}

/// The most days a reminder setting may take, and the most reminders per request.
pub const MAX_REMINDER_DAYS: i32 = 365;
pub const MAX_REMINDERS: i32 = 20;

const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

/// The next reminder after `after`, or `None` when `sent` reminders are all the plan allows
/// or no reminder time is left before the deadline.
pub fn next_reminder(
    plan: &ReminderPlan,
    requested_at: i64,
    deadline: i64,
    sent: i32,
    after: i64,
) -> Option<i64> {
    if sent >= plan.max {
        return None;
    }
    let mut best: Option<i64> = None;
    let mut consider = |t: i64| {
        if t > after && t > requested_at && t < deadline {
            best = Some(best.map_or(t, |b| b.min(t)));
        }
    };
    if plan.every_days > 0 {
        let every = i64::from(plan.every_days) * DAY_MICROS;
        // The first multiple of `every` after `after`.
        let k = ((after - requested_at).max(0) / every) + 1;
        consider(requested_at.saturating_add(k.saturating_mul(every)));
    }
    if plan.before_days > 0 {
        consider(deadline - i64::from(plan.before_days) * DAY_MICROS);
    }
    best
}

/// Checks a round's reminder settings.
pub fn validate_reminders(plan: &ReminderPlan) -> Result<(), DomainError> {
    let days = 0..=MAX_REMINDER_DAYS;
    if !days.contains(&plan.before_days)
        || !days.contains(&plan.every_days)
        || !(0..=MAX_REMINDERS).contains(&plan.max)
    {
        return Err(DomainError::new(
            ErrorCode::InvalidReminders,
            format!(
                "reminder days are 0 to {MAX_REMINDER_DAYS} and at most {MAX_REMINDERS} reminders are sent"
            ),
        ));
    }
    Ok(())
}

/// Parses `<handle>@<city>` into its city, with the statement's own rule for the whole.
pub fn parse_signer(signer: &str) -> Result<CityCode, DomainError> {
    signer_city(signer)
        .and_then(|city| CityCode::parse(city).ok())
        .ok_or_else(|| {
            DomainError::new(
                ErrorCode::InvalidBody,
                format!("signer {signer:?} must be <handle>@<city code>, e.g. `mayor@gb-cov`"),
            )
        })
}

/// Checks a round before anything is looked up: 1..=50 signatories, each once, of a party
/// city, with a valid role, in groups numbered 1, 2, ... without gaps; the deadline in the
/// future and at most 366 days ahead.
pub fn validate_round(
    requests: &[RequestedSigner],
    deadline: i64,
    now: i64,
    parties: [&CityCode; 2],
) -> Result<(), DomainError> {
    if requests.is_empty() || requests.len() > MAX_REQUESTS_PER_ROUND {
        return Err(DomainError::new(
            ErrorCode::InvalidRequestCount,
            format!(
                "a round asks 1 to {MAX_REQUESTS_PER_ROUND} signatories; this one asks {}",
                requests.len()
            ),
        ));
    }
    if deadline <= now {
        return Err(DomainError::new(
            ErrorCode::InvalidDeadline,
            format!(
                "the deadline {} is not in the future",
                format_micros(deadline)
            ),
        ));
    }
    if deadline - now > MAX_DEADLINE_AHEAD_MICROS {
        return Err(DomainError::new(
            ErrorCode::InvalidDeadline,
            "the deadline is more than 366 days ahead",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for r in requests {
        validate_role(&r.role)?;
        if !parties.contains(&&r.city) {
            return Err(DomainError::new(
                ErrorCode::SignerCityNotParty,
                format!(
                    "`{}` belongs to `{}`, which is not a party to this MOU's partnership",
                    r.signer, r.city
                ),
            ));
        }
        if !seen.insert(r.signer.as_str()) {
            return Err(DomainError::new(
                ErrorCode::DuplicateRequestedSigner,
                format!("`{}` is named twice in this round", r.signer),
            ));
        }
        groups.insert(r.group);
    }
    let contiguous = groups.iter().copied().eq(1..=groups.len() as i32);
    if !contiguous {
        return Err(DomainError::new(
            ErrorCode::InvalidSequenceGroups,
            "sequence groups must be numbered 1, 2, 3 ... without gaps (all in group 1 signs at once)",
        ));
    }
    Ok(())
}

/// The round must be able to execute the MOU: the signatures already on the version plus one
/// per requested signatory meet every required signer.
pub fn check_covers_requirements(
    required: &[RequiredSigner],
    already: &[SignedBy],
    requests: &[RequestedSigner],
) -> Result<(), DomainError> {
    let mut signed: Vec<SignedBy> = already.to_vec();
    signed.extend(requests.iter().map(|r| SignedBy {
        signer: r.signer.clone(),
        city: r.city.to_string(),
        role: r.role.clone(),
    }));
    let missing: Vec<String> = tally(required, &signed)
        .into_iter()
        .filter(|(req, have)| *have < req.count)
        .map(|(req, have)| format!("{} of {} ({have} of {})", req.role, req.city, req.count))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DomainError::new(
            ErrorCode::RequestsMissRequiredSigners,
            format!(
                "even if everyone asked signs, the MOU would still miss: {}",
                missing.join(", ")
            ),
        )
        .with_extra(json!({ "missing": missing })))
    }
}

/// Whether a signature by `signer` as `role` may be added while `round` (the MOU's latest
/// round) is as stored, at `now`. Returns the request it answers, if any.
///
/// With no pending request in the round, signing is as it was before requests existed. While
/// some are pending, only a requested signatory signs, before the deadline, once every
/// request of the earlier groups is signed.
pub fn gate_signature<'a>(
    round: &'a [SignatureRequest],
    signer: &str,
    role: &str,
    now: i64,
) -> Result<Option<&'a SignatureRequest>, DomainError> {
    if !round.iter().any(|r| r.state == RequestState::Pending) {
        return Ok(None);
    }
    let Some(mine) = round
        .iter()
        .find(|r| r.signer == signer && r.state == RequestState::Pending)
    else {
        return Err(DomainError::new(
            ErrorCode::SignerNotRequested,
            format!(
                "a round of signature requests is open and `{signer}` has no pending request in it; only the signatories asked may sign until it ends"
            ),
        ));
    };
    if mine.role != role {
        return Err(DomainError::new(
            ErrorCode::RoleMismatch,
            format!(
                "`{signer}` was asked to sign as `{}`, not `{role}`",
                mine.role
            ),
        ));
    }
    check_before_deadline(mine, now)?;
    let first_unsigned = round
        .iter()
        .filter(|r| r.group < mine.group && r.state != RequestState::Signed)
        .map(|r| r.group)
        .min();
    if let Some(group) = first_unsigned {
        let waiting: Vec<&str> = round
            .iter()
            .filter(|r| r.group == group && r.state != RequestState::Signed)
            .map(|r| r.signer.as_str())
            .collect();
        return Err(DomainError::new(
            ErrorCode::SigningOutOfOrder,
            format!(
                "`{signer}` is in group {}; group {group} must sign first (waiting for {})",
                mine.group,
                waiting.join(", ")
            ),
        )
        .with_extra(json!({ "must_sign_first": { "group": group, "signers": waiting } })));
    }
    Ok(Some(mine))
}

/// A pending request may be answered only before its deadline.
pub fn check_before_deadline(r: &SignatureRequest, now: i64) -> Result<(), DomainError> {
    if now >= r.deadline {
        return Err(DomainError::new(
            ErrorCode::DeadlinePassed,
            format!(
                "the deadline of this request passed at {}; it expires",
                format_micros(r.deadline)
            ),
        ));
    }
    Ok(())
}

/// A request must be pending to be answered.
pub fn check_pending(r: &SignatureRequest) -> Result<(), DomainError> {
    if r.state != RequestState::Pending {
        return Err(DomainError::new(
            ErrorCode::RequestNotPending,
            format!("this request is already {}", r.state),
        )
        .with_extra(json!({ "state": r.state.as_str() })));
    }
    Ok(())
}

/// A decline's reason: the decline statement's own rule (1..=1000 characters, no control
/// characters, no surrounding white space), checked before a statement is built.
pub fn validate_decline_reason(reason: &str) -> Result<(), DomainError> {
    if reason.trim().is_empty() {
        return Err(DomainError::new(
            ErrorCode::ReasonRequired,
            "declining needs a `reason`",
        ));
    }
    if !is_decline_reason(reason) {
        return Err(DomainError::new(
            ErrorCode::InvalidCharacters,
            "a decline's `reason` is at most 1000 characters (2000 bytes of UTF-8), without control characters or surrounding white space",
        ));
    }
    Ok(())
}

/// A submitted decline whose statement and SSHSIG parsed strictly.
#[derive(Debug, Clone)]
pub struct DeclineSubmission {
    pub bytes: Vec<u8>,
    pub statement: MouDeclineStatement,
    pub sig: Sshsig,
    pub armored: String,
}

/// Parses a decline: canonical statement bytes of a valid decline statement for this registry,
/// this MOU and this request, and a strictly shaped SSHSIG. The signature itself is verified
/// against the registered key in [`check_decline`].
pub fn parse_decline(
    statement_b64: &str,
    signature: &str,
    registry: &str,
    mou_id: &str,
    request_id: &str,
) -> Result<DeclineSubmission, DomainError> {
    let bytes = decode_statement(statement_b64)?;
    let statement = MouDeclineStatement::parse_strict(&bytes).map_err(statement_error)?;
    super::signatures::check_names_registry(&statement.registry, registry)?;
    if statement.mou_id != mou_id || statement.request_id != request_id {
        return Err(DomainError::new(
            ErrorCode::DeclineMismatch,
            format!(
                "the statement declines request `{}` of MOU `{}`, not request `{request_id}` of MOU `{mou_id}`",
                statement.request_id, statement.mou_id
            ),
        ));
    }
    let sig = sshsig::parse_armored(signature).map_err(sshsig_error)?;
    Ok(DeclineSubmission {
        bytes,
        statement,
        sig,
        armored: signature.to_string(),
    })
}

/// The decline's checks against the stored request, in the order a client can act on: the
/// request still open, the statement naming it exactly (version, document, signer, role), the
/// key registered to that signer and role and active, and the signature under that key.
pub fn check_decline(
    sub: &DeclineSubmission,
    request: &SignatureRequest,
    documents: &[String],
    key: Option<&SignatoryKey>,
    registry: &str,
    now: i64,
) -> Result<(), DomainError> {
    check_pending(request)?;
    check_before_deadline(request, now)?;
    let st = &sub.statement;
    let mismatch = |what: &str| {
        DomainError::new(
            ErrorCode::DeclineMismatch,
            format!("the decline statement's {what} is not the request's"),
        )
    };
    if i64::try_from(st.mou_version).ok() != Some(i64::from(request.version)) {
        return Err(mismatch("mou_version"));
    }
    if st.committed_documents() != documents {
        return Err(mismatch(if st.documents.is_some() {
            "documents"
        } else {
            "doc_sha256"
        }));
    }
    if st.signer != request.signer {
        return Err(mismatch("signer"));
    }
    if st.role != request.role {
        return Err(mismatch("role"));
    }
    let key = key.ok_or_else(|| {
        DomainError::new(
            ErrorCode::UnknownKey,
            format!("no registered key has the fingerprint {}", st.signer_key),
        )
    })?;
    key.check_holder(&st.signer, &st.signer_city, &st.role)?;
    key.check_can_sign(now)?;
    sshsig::verify(
        &sub.sig,
        &mou_decline_namespace(registry),
        &sub.bytes,
        Some(&key.public_key),
    )
    .map_err(sshsig_error)?;
    Ok(())
}

/// The statement a requested signatory signs to decline `request` with `reason`.
pub fn decline_statement_for(
    request: &SignatureRequest,
    documents: &[String],
    key: &SignatoryKey,
    reason: &str,
    registry: &str,
    declined_at: &str,
) -> MouDeclineStatement {
    let (doc_sha256, documents) = document_fields(documents);
    let r#type = if documents.is_some() {
        MouDeclineStatement::type_v2_for(registry)
    } else {
        MouDeclineStatement::type_for(registry)
    };
    MouDeclineStatement {
        action: MouDeclineStatement::ACTION.into(),
        declined_at: declined_at.into(),
        doc_sha256,
        documents,
        mou_id: request.mou_id.clone(),
        mou_version: u64::try_from(request.version).unwrap_or(0),
        reason: reason.into(),
        registry: registry.into(),
        request_id: request.id.clone(),
        role: request.role.clone(),
        signer: request.signer.clone(),
        signer_city: request.signer_city.clone(),
        signer_key: key.fingerprint.clone(),
        r#type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city(c: &str) -> CityCode {
        CityCode::parse(c).unwrap()
    }

    fn ask(signer: &str, group: i32) -> RequestedSigner {
        RequestedSigner {
            signer: signer.into(),
            city: parse_signer(signer).unwrap(),
            role: "signatory".into(),
            group,
        }
    }

    fn stored(signer: &str, group: i32, state: RequestState) -> SignatureRequest {
        SignatureRequest {
            id: format!("id-{signer}"),
            mou_id: "m".into(),
            round: 1,
            version: 1,
            signer: signer.into(),
            signer_city: signer.split_once('@').unwrap().1.into(),
            role: "signatory".into(),
            group,
            deadline: 1_000,
            state,
            requested_by_city: "gb-cov".into(),
            requested_by: None,
            requested_at: 0,
            log_index: 0,
            answered_at: None,
            answer_log_index: None,
            signature_seq: None,
            decline_reason: None,
            decline_statement: None,
            decline_signature: None,
            reminders: ReminderPlan {
                before_days: 0,
                every_days: 0,
                max: 0,
            },
            reminders_sent: 0,
            next_reminder_at: None,
        }
    }

    /// Every 3 days and 2 days before a deadline 10 days out, at most 3: days 3, 6 and 8.
    #[test]
    fn reminders_follow_the_plan() {
        let plan = ReminderPlan {
            before_days: 2,
            every_days: 3,
            max: 3,
        };
        let (start, deadline) = (0, 10 * DAY_MICROS);
        let mut times = Vec::new();
        let mut after = start;
        while let Some(t) = next_reminder(&plan, start, deadline, times.len() as i32, after) {
            times.push(t / DAY_MICROS);
            after = t;
        }
        assert_eq!(times, [3, 6, 8]);
        let more = ReminderPlan { max: 10, ..plan };
        let mut times = Vec::new();
        let mut after = start;
        while let Some(t) = next_reminder(&more, start, deadline, times.len() as i32, after) {
            times.push(t / DAY_MICROS);
            after = t;
        }
        assert_eq!(times, [3, 6, 8, 9]);
        // A sweep that ran late sends one reminder, then the next time in the plan.
        assert_eq!(
            next_reminder(&plan, start, deadline, 1, 7 * DAY_MICROS),
            Some(8 * DAY_MICROS)
        );
        let off = ReminderPlan {
            before_days: 0,
            every_days: 0,
            max: 3,
        };
        assert_eq!(next_reminder(&off, start, deadline, 0, start), None);
        assert!(validate_reminders(&plan).is_ok());
        assert!(validate_reminders(&ReminderPlan { max: 21, ..plan }).is_err());
        assert!(
            validate_reminders(&ReminderPlan {
                every_days: -1,
                ..plan
            })
            .is_err()
        );
    }

    #[test]
    fn rounds_are_validated() {
        let (a, b) = (city("gb-cov"), city("ru-vgg"));
        let parties = [&a, &b];
        let ok = [ask("deputy@gb-cov", 1), ask("mayor@ru-vgg", 2)];
        assert!(validate_round(&ok, 10, 5, parties).is_ok());
        let cases: [(Vec<RequestedSigner>, i64, ErrorCode); 6] = [
            (vec![], 10, ErrorCode::InvalidRequestCount),
            (ok.to_vec(), 5, ErrorCode::InvalidDeadline),
            (
                ok.to_vec(),
                5 + MAX_DEADLINE_AHEAD_MICROS + 1,
                ErrorCode::InvalidDeadline,
            ),
            (
                vec![ask("a@gb-cov", 1), ask("a@gb-cov", 2)],
                10,
                ErrorCode::DuplicateRequestedSigner,
            ),
            (
                vec![ask("a@gb-cov", 1), ask("b@ru-vgg", 3)],
                10,
                ErrorCode::InvalidSequenceGroups,
            ),
            (vec![ask("a@fr-par", 1)], 10, ErrorCode::SignerCityNotParty),
        ];
        for (requests, deadline, code) in cases {
            let err = validate_round(&requests, deadline, 5, parties).unwrap_err();
            assert_eq!(err.code, code, "{requests:?}");
        }
        let too_many: Vec<RequestedSigner> = (0..=MAX_REQUESTS_PER_ROUND)
            .map(|i| ask(&format!("s{i}@gb-cov"), 1))
            .collect();
        assert_eq!(
            validate_round(&too_many, 10, 5, parties).unwrap_err().code,
            ErrorCode::InvalidRequestCount
        );
    }

    /// (states of the round's three requests, signer, now, expected: the request answered or
    /// the refusal's code)
    type Row = (
        [RequestState; 3],
        &'static str,
        i64,
        Result<Option<&'static str>, ErrorCode>,
    );

    /// The request state machine at signing time, one row per situation.
    #[test]
    fn signing_follows_the_round() {
        use RequestState::*;
        let round = |states: [RequestState; 3]| {
            vec![
                stored("d1@gb-cov", 1, states[0]),
                stored("d2@ru-vgg", 1, states[1]),
                stored("mayor@gb-cov", 2, states[2]),
            ]
        };
        let table: Vec<Row> = vec![
            (
                [Pending, Pending, Pending],
                "d1@gb-cov",
                5,
                Ok(Some("id-d1@gb-cov")),
            ),
            (
                [Pending, Pending, Pending],
                "mayor@gb-cov",
                5,
                Err(ErrorCode::SigningOutOfOrder),
            ),
            (
                [Signed, Pending, Pending],
                "mayor@gb-cov",
                5,
                Err(ErrorCode::SigningOutOfOrder),
            ),
            (
                [Signed, Signed, Pending],
                "mayor@gb-cov",
                5,
                Ok(Some("id-mayor@gb-cov")),
            ),
            (
                [Pending, Pending, Pending],
                "other@gb-cov",
                5,
                Err(ErrorCode::SignerNotRequested),
            ),
            (
                [Signed, Pending, Pending],
                "d1@gb-cov",
                5,
                Err(ErrorCode::SignerNotRequested),
            ),
            (
                [Pending, Pending, Pending],
                "d1@gb-cov",
                1_000,
                Err(ErrorCode::DeadlinePassed),
            ),
            // No pending request: signing as before requests existed.
            ([Signed, Signed, Signed], "other@gb-cov", 5, Ok(None)),
            (
                [Declined, Cancelled, Cancelled],
                "other@gb-cov",
                5,
                Ok(None),
            ),
        ];
        for (states, signer, now, expected) in table {
            let r = round(states);
            let got = gate_signature(&r, signer, "signatory", now)
                .map(|o| o.map(|r| r.id.as_str()))
                .map_err(|e| e.code);
            assert_eq!(got, expected, "{states:?} {signer} at {now}");
        }
        let r = round([Pending, Pending, Pending]);
        assert_eq!(
            gate_signature(&r, "d1@gb-cov", "witness", 5)
                .unwrap_err()
                .code,
            ErrorCode::RoleMismatch
        );
    }

    #[test]
    fn a_round_must_be_able_to_execute_the_mou() {
        let required = vec![
            RequiredSigner {
                city: "gb-cov".into(),
                role: "signatory".into(),
                count: 2,
            },
            RequiredSigner {
                city: "ru-vgg".into(),
                role: "signatory".into(),
                count: 1,
            },
        ];
        let one_each = [ask("a@gb-cov", 1), ask("b@ru-vgg", 1)];
        let err = check_covers_requirements(&required, &[], &one_each).unwrap_err();
        assert_eq!(err.code, ErrorCode::RequestsMissRequiredSigners);
        let already = [SignedBy {
            signer: "c@gb-cov".into(),
            city: "gb-cov".into(),
            role: "signatory".into(),
        }];
        assert!(check_covers_requirements(&required, &already, &one_each).is_ok());
    }

    #[test]
    fn decline_reasons() {
        assert!(validate_decline_reason("Council vote on 3 March").is_ok());
        for bad in [
            "",
            "  ",
            " padded",
            "line\nbreak",
            &"x".repeat(1001),
            &"\u{1f91d}".repeat(501),
        ] {
            assert!(validate_decline_reason(bad).is_err(), "{bad:?}");
        }
    }
}
