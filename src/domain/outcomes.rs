//! Outcomes and commitments of activities, validated before anything is written. The rules
//! themselves live in the verifier crate (`amity_verify::outcomes`), which the log replay runs
//! too; this module turns their refusals into problem codes and checks what only the server
//! sees (text hygiene, dates). Whether linked records exist on the same partnership is checked
//! in `db::outcomes`, inside the write.

use amity_verify::outcomes::{
    self as rules, CommitmentResult, Indicator, MAX_COMMITMENT_CHARS, MAX_TEXT_CHARS,
    OutcomeFields, OutcomeProblem,
};
use chrono::NaiveDate;

use super::dates::parse_date;
use super::text::{optional_paragraph, required_line};
use super::{DomainError, ErrorCode};

/// A new outcome whose fields fit its indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutcome {
    pub indicator: Indicator,
    pub achieved_on: NaiveDate,
    pub count: Option<i64>,
    pub exchange_group: Option<String>,
    pub value: Option<String>,
    pub currency: Option<String>,
    pub mou: Option<String>,
    pub follow_up: Option<String>,
    pub description: Option<String>,
    pub evidence: Vec<i64>,
}

/// An outcome's fields as a client sent them.
#[derive(Debug, Clone, Default)]
pub struct OutcomeInput<'a> {
    pub indicator: &'a str,
    pub achieved_on: &'a str,
    pub count: Option<i64>,
    pub exchange_group: Option<&'a str>,
    pub value: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub mou: Option<&'a str>,
    pub follow_up: Option<&'a str>,
    pub description: Option<&'a str>,
    pub evidence: &'a [i64],
}

fn problem(p: OutcomeProblem) -> DomainError {
    let code = match &p {
        OutcomeProblem::Indicator(_) => ErrorCode::InvalidIndicator,
        OutcomeProblem::Count { .. } => ErrorCode::InvalidOutcomeCount,
        OutcomeProblem::Currency(_) => ErrorCode::InvalidCurrency,
        OutcomeProblem::Value(_) => ErrorCode::InvalidAmount,
        OutcomeProblem::Text(_) => ErrorCode::FieldTooLong,
        OutcomeProblem::Missing { .. }
        | OutcomeProblem::NotAllowed { .. }
        | OutcomeProblem::ExchangeGroup(_)
        | OutcomeProblem::Evidence(_) => ErrorCode::InvalidOutcome,
    };
    let message = match &p {
        OutcomeProblem::Indicator(got) => format!(
            "`indicator` must be one of {}; got {got:?}",
            names(Indicator::ALL.iter().map(|i| i.as_str()))
        ),
        OutcomeProblem::ExchangeGroup(got) => format!(
            "`exchange_group` must be one of {}; got {got:?}",
            names(rules::ExchangeGroup::ALL.iter().map(|g| g.as_str()))
        ),
        other => other.to_string(),
    };
    DomainError::new(code, message)
}

fn names<'a>(list: impl Iterator<Item = &'a str>) -> String {
    list.collect::<Vec<_>>().join(", ")
}

/// An optional id a client may send as `""` for "none" (forms do).
fn optional_id(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl NewOutcome {
    pub fn validate(input: &OutcomeInput<'_>) -> Result<NewOutcome, DomainError> {
        let achieved_on = parse_date("achieved_on", input.achieved_on)?;
        let description = optional_paragraph("description", input.description, MAX_TEXT_CHARS)?;
        let exchange_group = optional_id(input.exchange_group);
        let value = optional_id(input.value);
        let currency = optional_id(input.currency);
        let mou = optional_id(input.mou);
        let follow_up = optional_id(input.follow_up);
        let indicator = rules::check_outcome(&OutcomeFields {
            indicator: input.indicator,
            count: input.count,
            exchange_group: exchange_group.as_deref(),
            value: value.as_deref(),
            currency: currency.as_deref(),
            mou: mou.as_deref(),
            follow_up: follow_up.as_deref(),
            description: description.as_deref(),
            evidence: input.evidence,
        })
        .map_err(problem)?;
        Ok(NewOutcome {
            indicator,
            achieved_on,
            count: input.count,
            exchange_group,
            value,
            currency,
            mou,
            follow_up,
            description,
            evidence: input.evidence.to_vec(),
        })
    }
}

/// A new commitment: what was promised, and by when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommitment {
    pub text: String,
    pub due_date: NaiveDate,
}

impl NewCommitment {
    pub fn validate(text: &str, due_date: &str) -> Result<NewCommitment, DomainError> {
        Ok(NewCommitment {
            text: required_line("text", text, MAX_COMMITMENT_CHARS)?,
            due_date: parse_date("due_date", due_date)?,
        })
    }
}

/// How a commitment ended, as an office reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub result: CommitmentResult,
    pub resolved_on: NaiveDate,
    pub kept_by_activity: Option<String>,
    pub kept_by_outcome: Option<String>,
    pub note: Option<String>,
}

impl Resolution {
    pub fn validate(
        result: &str,
        resolved_on: &str,
        kept_by_activity: Option<&str>,
        kept_by_outcome: Option<&str>,
        note: Option<&str>,
    ) -> Result<Resolution, DomainError> {
        let kept_by_activity = optional_id(kept_by_activity);
        let kept_by_outcome = optional_id(kept_by_outcome);
        let result = rules::check_resolution(
            result,
            kept_by_activity.as_deref(),
            kept_by_outcome.as_deref(),
        )
        .map_err(|m| DomainError::new(ErrorCode::InvalidResolution, m))?;
        Ok(Resolution {
            result,
            resolved_on: parse_date("resolved_on", resolved_on)?,
            kept_by_activity,
            kept_by_outcome,
            note: optional_paragraph("note", note, MAX_TEXT_CHARS)?,
        })
    }
}

/// Why a result's date cannot stand: before the activity began, or after today (the day it is
/// logged). The replay's rule is the same (`outcome_valid`, `commitment_resolved_once`).
pub fn check_result_date(
    field: &str,
    date: NaiveDate,
    activity_start: NaiveDate,
    today: NaiveDate,
) -> Result<(), DomainError> {
    if date < activity_start {
        return Err(DomainError::new(
            ErrorCode::InvalidDate,
            format!("`{field}` {date} is before the activity began on {activity_start}"),
        ));
    }
    if date > today {
        return Err(DomainError::new(
            ErrorCode::InvalidDate,
            format!("`{field}` {date} lies in the future; record a result once it happened"),
        ));
    }
    Ok(())
}

/// A commitment cannot fall due before the activity that made it began.
pub fn check_due_date(due: NaiveDate, activity_start: NaiveDate) -> Result<(), DomainError> {
    if due < activity_start {
        return Err(DomainError::new(
            ErrorCode::InvalidDate,
            format!("`due_date` {due} is before the activity began on {activity_start}"),
        ));
    }
    Ok(())
}

/// Whether a commitment due on `due_date` (`YYYY-MM-DD`) and still open is overdue `today`:
/// the due day itself is still in time.
pub fn is_overdue(due_date: &str, today: NaiveDate) -> bool {
    due_date < crate::domain::dates::format_date(today).as_str()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_their_codes() {
        let base = OutcomeInput {
            indicator: "business_deals",
            achieved_on: "2021-05-01",
            count: Some(2),
            value: Some("10.5"),
            currency: Some("EUR"),
            ..OutcomeInput::default()
        };
        assert!(NewOutcome::validate(&base).is_ok());
        for (input, code) in [
            (
                OutcomeInput {
                    indicator: "weather",
                    ..base.clone()
                },
                ErrorCode::InvalidIndicator,
            ),
            (
                OutcomeInput {
                    count: Some(10_001),
                    ..base.clone()
                },
                ErrorCode::InvalidOutcomeCount,
            ),
            (
                OutcomeInput {
                    currency: Some("EUX"),
                    ..base.clone()
                },
                ErrorCode::InvalidCurrency,
            ),
            (
                OutcomeInput {
                    value: Some("10.555"),
                    ..base.clone()
                },
                ErrorCode::InvalidAmount,
            ),
            (
                OutcomeInput {
                    mou: Some("m"),
                    ..base.clone()
                },
                ErrorCode::InvalidOutcome,
            ),
            (
                OutcomeInput {
                    achieved_on: "2021-02-30",
                    ..base.clone()
                },
                ErrorCode::InvalidDate,
            ),
        ] {
            assert_eq!(NewOutcome::validate(&input).unwrap_err().code, code);
        }
    }

    #[test]
    fn an_empty_link_from_a_form_counts_as_none() {
        let input = OutcomeInput {
            indicator: "people_reached",
            achieved_on: "2021-05-01",
            count: Some(200),
            mou: Some(""),
            currency: Some(" "),
            ..OutcomeInput::default()
        };
        let outcome = NewOutcome::validate(&input).unwrap();
        assert_eq!((outcome.mou, outcome.currency), (None, None));
    }
}
