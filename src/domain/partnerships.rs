//! Partnerships between two cities and the state machine of their status.
//!
//! ```text
//! proposed --(executed MOU, or both offices confirm)--> active
//! proposed --> cut_off                       (abandoned)
//! active  <--> curtailed                     (either party, alone)
//! active | curtailed --> cut_off             (either party, alone)
//! cut_off --> (nothing: re-establishing creates a new partnership linked to the old one)
//! ```

use super::ids::PartnershipId;
use crate::domain::ErrorCode;
use chrono::NaiveDate;

use super::DomainError;
use super::cities::CityCode;
use super::dates::{EstablishedDate, parse_date, today};
use super::text::{REASON_MAX, SHORT_MAX, optional_line, optional_paragraph};

string_enum!(
    /// What kind of tie the two cities have.
    Kind { Sister => "sister", Friendship => "friendship", Twinning => "twinning", Cooperation => "cooperation" }
);
string_enum!(
    /// Where a partnership record came from.
    Source { Registered => "registered", Imported => "imported" }
);
string_enum!(
    /// Why a status changed.
    ReasonCategory {
        Political => "political", Security => "security", Inactivity => "inactivity",
        Funding => "funding", Legal => "legal", Mutual => "mutual", Other => "other",
    }
);

pub use amity_verify::rules::{Status, Trigger, allowed_targets};

/// Checks one transition, with a message that names the allowed ones.
pub fn check_transition(from: Status, to: Status, trigger: Trigger) -> Result<(), DomainError> {
    let allowed = allowed_targets(from, trigger);
    if allowed.contains(&to) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
    let hint = match (from, to, trigger) {
        (Status::Proposed, Status::Active, Trigger::StatusChange) => {
            " (a proposed partnership becomes active when the partner city's office confirms it \
             or when its MOU is executed)"
        }
        (Status::CutOff, _, _) => {
            " (a cut-off partnership is final; register a new partnership to re-establish it)"
        }
        _ => "",
    };
    let allowed_text = if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    };
    Err(DomainError::new(
        ErrorCode::InvalidTransition,
        format!(
            "cannot change status from {from} to {to}; allowed from {from}: {allowed_text}{hint}"
        ),
    )
    .with_extra(serde_json::json!({ "from": from, "to": to, "allowed": names })))
}

/// A validated proposal: two distinct cities in canonical (sorted) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub city_a: CityCode,
    pub city_b: CityCode,
    pub kind: Kind,
    pub established: Option<EstablishedDate>,
}

impl Proposal {
    pub fn validate(
        cities: &[String],
        kind: Kind,
        established: Option<&str>,
    ) -> Result<Self, DomainError> {
        let [first, second] = cities else {
            return Err(DomainError::new(
                ErrorCode::InvalidCities,
                format!(
                    "`cities` must name exactly two city codes, got {}",
                    cities.len()
                ),
            ));
        };
        let first = CityCode::parse(first)?;
        let second = CityCode::parse(second)?;
        if first == second {
            return Err(DomainError::new(
                ErrorCode::SameCity,
                format!("a partnership needs two different cities; both are `{first}`"),
            ));
        }
        let (city_a, city_b) = if first < second {
            (first, second)
        } else {
            (second, first)
        };
        let established = match established {
            None | Some("") => None,
            Some(text) => Some(EstablishedDate::parse(text)?),
        };
        if established.as_ref().is_some_and(|e| e.first_day > today()) {
            return Err(DomainError::new(
                ErrorCode::InvalidDate,
                "`established` lies in the future",
            ));
        }
        Ok(Proposal {
            city_a,
            city_b,
            kind,
            established,
        })
    }
}

/// The fields of a status change as the client sends them.
#[derive(Debug, Clone, Default)]
pub struct StatusChangeInput {
    pub status: Option<Status>,
    pub effective_date: String,
    pub decided_date: Option<String>,
    pub deciding_body: Option<String>,
    pub reason_category: Option<ReasonCategory>,
    pub reason: Option<String>,
    pub resumption_condition: Option<String>,
    pub decision_document_sha256: Option<String>,
}

/// A status change that passed validation, still to be checked against the current status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub to: Status,
    pub effective_date: NaiveDate,
    pub decided_date: Option<NaiveDate>,
    pub deciding_body: Option<String>,
    pub reason_category: ReasonCategory,
    pub reason: Option<String>,
    pub resumption_condition: Option<String>,
    pub decision_document_sha256: Option<[u8; 32]>,
}

impl StatusChange {
    /// Activation by both parties (a confirmation, or an executed MOU whose document hash is
    /// recorded as the decision document), effective and decided today.
    pub fn activation(reason: &str, decision_document_sha256: Option<[u8; 32]>) -> StatusChange {
        StatusChange {
            to: Status::Active,
            effective_date: today(),
            decided_date: Some(today()),
            deciding_body: None,
            reason_category: ReasonCategory::Mutual,
            reason: Some(reason.to_string()),
            resumption_condition: None,
            decision_document_sha256,
        }
    }

    pub fn validate(input: StatusChangeInput) -> Result<Self, DomainError> {
        let to = input
            .status
            .ok_or_else(|| DomainError::new(ErrorCode::MissingField, "`status` is required"))?;
        let reason_category = input.reason_category.ok_or_else(|| {
            DomainError::new(
                ErrorCode::MissingField,
                "`reason_category` is required (political, security, inactivity, funding, \
                 legal, mutual, other)",
            )
        })?;
        let effective_date = parse_date("effective_date", &input.effective_date)?;
        let decided_date = match input.decided_date.as_deref() {
            None | Some("") => None,
            Some(d) => Some(parse_date("decided_date", d)?),
        };
        if decided_date.is_some_and(|d| d > today()) {
            return Err(DomainError::new(
                ErrorCode::InvalidDate,
                "`decided_date` lies in the future; record a decision once it is taken",
            ));
        }
        let reason = optional_paragraph("reason", input.reason.as_deref(), REASON_MAX)?;
        if matches!(to, Status::Curtailed | Status::CutOff) && reason.is_none() {
            return Err(DomainError::new(
                ErrorCode::ReasonRequired,
                format!("a change to {to} needs a `reason` text"),
            ));
        }
        let decision_document_sha256 = match input.decision_document_sha256.as_deref() {
            None | Some("") => None,
            Some(h) => Some(parse_sha256_hex("decision_document_sha256", h)?),
        };
        Ok(StatusChange {
            to,
            effective_date,
            decided_date,
            deciding_body: optional_line(
                "deciding_body",
                input.deciding_body.as_deref(),
                SHORT_MAX,
            )?,
            reason_category,
            reason,
            resumption_condition: optional_paragraph(
                "resumption_condition",
                input.resumption_condition.as_deref(),
                REASON_MAX,
            )?,
            decision_document_sha256,
        })
    }
}

/// Parses a lowercase hex SHA-256 digest.
pub fn parse_sha256_hex(field: &'static str, value: &str) -> Result<[u8; 32], DomainError> {
    let bad = || {
        DomainError::new(
            ErrorCode::InvalidHash,
            format!("`{field}` must be 64 lowercase hex characters (a SHA-256 digest)"),
        )
    };
    if value.len() != 64 || value.bytes().any(|c| c.is_ascii_uppercase()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out).map_err(|_| bad())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    /// Every (from, to, trigger) triple against the diagram in the module docs.
    #[test]
    fn state_machine_table() {
        let expected_ok: &[(Status, Status, Trigger)] = &[
            (Proposed, Active, Trigger::Confirmation),
            (Proposed, Active, Trigger::MouExecuted),
            (Proposed, CutOff, Trigger::StatusChange),
            (Active, Curtailed, Trigger::StatusChange),
            (Active, CutOff, Trigger::StatusChange),
            (Curtailed, Active, Trigger::StatusChange),
            (Curtailed, CutOff, Trigger::StatusChange),
        ];
        let triggers = [
            Trigger::StatusChange,
            Trigger::Confirmation,
            Trigger::MouExecuted,
        ];
        let mut checked = 0;
        for &from in Status::ALL {
            for &to in Status::ALL {
                for &trigger in &triggers {
                    let ok = check_transition(from, to, trigger).is_ok();
                    assert_eq!(
                        ok,
                        expected_ok.contains(&(from, to, trigger)),
                        "{from} -> {to} by {trigger:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 48);
    }

    #[test]
    fn refusal_names_allowed_targets() {
        let err = check_transition(Active, Proposed, Trigger::StatusChange).unwrap_err();
        assert_eq!(err.code, "invalid_transition");
        assert!(
            err.message.contains("curtailed, cut_off"),
            "{}",
            err.message
        );
        let err = check_transition(CutOff, Active, Trigger::StatusChange).unwrap_err();
        assert!(err.message.contains("new partnership"));
    }

    #[test]
    fn proposals_are_canonical() {
        let p = Proposal::validate(
            &["us-hou".into(), "cn-sha".into()],
            Kind::Sister,
            Some("1979"),
        )
        .unwrap();
        assert_eq!((p.city_a.as_str(), p.city_b.as_str()), ("cn-sha", "us-hou"));
        let same = Proposal::validate(&["us-hou".into(), "us-hou".into()], Kind::Sister, None);
        assert_eq!(same.unwrap_err().code, "same_city");
        let one = Proposal::validate(&["us-hou".into()], Kind::Sister, None);
        assert_eq!(one.unwrap_err().code, "invalid_cities");
        let future = Proposal::validate(
            &["us-hou".into(), "cn-sha".into()],
            Kind::Sister,
            Some("2999"),
        );
        assert_eq!(future.unwrap_err().code, "invalid_date");
    }

    #[test]
    fn status_change_rules() {
        let base = StatusChangeInput {
            status: Some(CutOff),
            effective_date: "2022-03-01".into(),
            reason_category: Some(ReasonCategory::Political),
            ..Default::default()
        };
        assert_eq!(
            StatusChange::validate(base.clone()).unwrap_err().code,
            "reason_required"
        );
        let mut ok = base.clone();
        ok.reason = Some("Council vote after the invasion".into());
        ok.decision_document_sha256 = Some("ab".repeat(32));
        assert!(StatusChange::validate(ok.clone()).is_ok());
        ok.decision_document_sha256 = Some("AB".repeat(32));
        assert_eq!(StatusChange::validate(ok).unwrap_err().code, "invalid_hash");
        let mut resume = base.clone();
        resume.status = Some(Active);
        assert!(StatusChange::validate(resume).is_ok());
        let mut no_category = base;
        no_category.reason_category = None;
        assert_eq!(
            StatusChange::validate(no_category).unwrap_err().code,
            "missing_field"
        );
    }
}

/// A stored partnership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partnership {
    pub id: PartnershipId,
    pub city_a: CityCode,
    pub city_b: CityCode,
    pub country_a: String,
    pub country_b: String,
    pub kind: Kind,
    pub established: Option<EstablishedDate>,
    pub status: Status,
    pub source: Source,
    pub proposed_by: Option<CityCode>,
    pub supersedes: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub log_index: i64,
}

impl Partnership {
    pub fn parties(&self) -> [&CityCode; 2] {
        [&self.city_a, &self.city_b]
    }

    /// The confirmation must come from the city that did not propose.
    pub fn check_confirmation_by(&self, city: &CityCode) -> Result<(), DomainError> {
        check_transition(self.status, Status::Active, Trigger::Confirmation)?;
        if self.proposed_by.as_ref() == Some(city) {
            return Err(DomainError::new(
                ErrorCode::AwaitingPartner,
                format!(
                    "`{city}` proposed this partnership; the partner city's office must confirm it"
                ),
            ));
        }
        Ok(())
    }
}

/// One recorded status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEvent {
    pub id: String,
    pub partnership_id: PartnershipId,
    pub seq: i32,
    pub from: Option<Status>,
    pub to: Status,
    pub effective_date: NaiveDate,
    pub decided_date: Option<NaiveDate>,
    pub initiating_city: Option<CityCode>,
    pub deciding_body: Option<String>,
    pub reason_category: Option<ReasonCategory>,
    pub reason: Option<String>,
    pub resumption_condition: Option<String>,
    pub decision_document_sha256: Option<[u8; 32]>,
    pub recorded_by: Option<String>,
    pub recorded_at: i64,
    pub log_index: i64,
}
