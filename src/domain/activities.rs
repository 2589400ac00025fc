//! Engagement activities and the metrics rolled up from them.

use crate::domain::ErrorCode;
use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::DomainError;
use super::dates::{parse_date, today};
use super::text::{REASON_MAX, optional_paragraph};
pub use amity_verify::outcomes::Sector;

string_enum!(
    /// What happened.
    ActivityKind {
        Delegation => "delegation", VirtualMeeting => "virtual_meeting", Exchange => "exchange",
        TradeMission => "trade_mission", CulturalEvent => "cultural_event", Aid => "aid",
        Other => "other",
    }
);
string_enum!(
    /// How people met.
    Mode { InPerson => "in_person", Virtual => "virtual", Hybrid => "hybrid" }
);

/// Largest participant count accepted: a festival, not a typo of ten digits.
pub const MAX_PARTICIPANTS: i32 = 1_000_000;

/// A validated new activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    pub kind: ActivityKind,
    pub mode: Mode,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub participants: Option<i32>,
    pub outcome: Option<String>,
    /// Organisations that took part besides the city offices: (name, sector).
    pub organisations: Vec<(String, Sector)>,
    /// What it cost: (amount in plain digits, ISO 4217 currency).
    pub cost: Option<(String, String)>,
}

impl NewActivity {
    /// Declares what the activity cost: an amount and its ISO 4217 currency, both or
    /// neither (an empty text counts as none, as forms send it).
    pub fn with_cost(
        mut self,
        cost: Option<&str>,
        currency: Option<&str>,
    ) -> Result<Self, DomainError> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let (cost, currency) = (given(cost), given(currency));
        amity_verify::outcomes::check_cost(cost, currency).map_err(|p| {
            let code = match p {
                amity_verify::outcomes::OutcomeProblem::Currency(_) => ErrorCode::InvalidCurrency,
                _ => ErrorCode::InvalidAmount,
            };
            DomainError::new(code, p.to_string())
        })?;
        self.cost = cost
            .zip(currency)
            .map(|(v, c)| (v.to_string(), c.to_string()));
        Ok(self)
    }

    /// Names the organisations that took part: each `(name, sector)` trimmed, checked by the
    /// verifier's rule (`amity_verify::outcomes::check_organisations`).
    pub fn with_organisations(mut self, list: &[(&str, &str)]) -> Result<Self, DomainError> {
        let trimmed: Vec<(&str, &str)> = list.iter().map(|(n, s)| (n.trim(), s.trim())).collect();
        amity_verify::outcomes::check_organisations(trimmed.iter().copied())
            .map_err(|m| DomainError::new(ErrorCode::InvalidOrganisation, m))?;
        self.organisations = trimmed
            .into_iter()
            .filter_map(|(n, s)| Sector::parse(s).map(|s| (n.to_string(), s)))
            .collect();
        Ok(self)
    }

    pub fn validate(
        kind: ActivityKind,
        mode: Mode,
        start_date: &str,
        end_date: Option<&str>,
        participants: Option<i64>,
        outcome: Option<&str>,
    ) -> Result<Self, DomainError> {
        let start = parse_date("start_date", start_date)?;
        if start > today() {
            return Err(DomainError::new(
                ErrorCode::InvalidDate,
                "`start_date` lies in the future; record an activity once it has begun",
            ));
        }
        let end = match end_date {
            None | Some("") => None,
            Some(d) => Some(parse_date("end_date", d)?),
        };
        if end.is_some_and(|e| e < start) {
            return Err(DomainError::new(
                ErrorCode::InvalidDate,
                "`end_date` is before `start_date`",
            ));
        }
        let participants = match participants {
            None => None,
            Some(n) if (0..=i64::from(MAX_PARTICIPANTS)).contains(&n) => Some(n as i32),
            Some(n) => {
                return Err(DomainError::new(
                    ErrorCode::InvalidParticipants,
                    format!("`participants` must be within 0..={MAX_PARTICIPANTS}, got {n}"),
                ));
            }
        };
        Ok(NewActivity {
            kind,
            mode,
            start_date: start,
            end_date: end,
            participants,
            outcome: optional_paragraph("outcome", outcome, REASON_MAX)?,
            organisations: Vec::new(),
            cost: None,
        })
    }
}

/// A stored activity, as the metrics need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityFacts {
    pub partnership: String,
    pub cities: [String; 2],
    pub mode: Mode,
    pub start_date: NaiveDate,
    pub participants: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModeCounts {
    pub in_person: u64,
    #[serde(rename = "virtual")]
    pub virtual_: u64,
    pub hybrid: u64,
    pub total: u64,
    /// Share of virtual and hybrid activities, 0 to 1 (0 when there are none).
    pub remote_share: f64,
    pub participants: u64,
}

impl ModeCounts {
    fn add(&mut self, a: &ActivityFacts) {
        match a.mode {
            Mode::InPerson => self.in_person += 1,
            Mode::Virtual => self.virtual_ += 1,
            Mode::Hybrid => self.hybrid += 1,
        }
        self.total += 1;
        self.participants += a.participants.map_or(0, |p| p as u64);
        self.remote_share = (self.virtual_ + self.hybrid) as f64 / self.total as f64;
    }
}

/// Activities rolled up by mode, year, partnership and city.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Engagement {
    pub overall: ModeCounts,
    /// Keyed by the year as a string (JSON object keys are strings), e.g. `"2021"`.
    #[schema(value_type = BTreeMap<String, ModeCounts>)]
    pub by_year: BTreeMap<i32, ModeCounts>,
    pub by_partnership: BTreeMap<String, ModeCounts>,
    pub by_city: BTreeMap<String, ModeCounts>,
}

impl Engagement {
    pub fn roll_up<'a>(activities: impl IntoIterator<Item = &'a ActivityFacts>) -> Engagement {
        let mut e = Engagement::default();
        for a in activities {
            e.overall.add(a);
            e.by_year.entry(a.start_date.year()).or_default().add(a);
            e.by_partnership
                .entry(a.partnership.clone())
                .or_default()
                .add(a);
            for city in &a.cities {
                e.by_city.entry(city.clone()).or_default().add(a);
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let ok = NewActivity::validate(
            ActivityKind::Delegation,
            Mode::InPerson,
            "2019-05-14",
            Some("2019-05-16"),
            Some(12),
            Some("Signed a student exchange plan"),
        );
        assert!(ok.is_ok());
        let bad = [
            ("2019-05-14", Some("2019-05-13"), Some(1), "invalid_date"),
            ("2999-01-01", None, None, "invalid_date"),
            ("14/05/2019", None, None, "invalid_date"),
            ("2019-05-14", None, Some(-1), "invalid_participants"),
            (
                "2019-05-14",
                None,
                Some(10_000_000_000),
                "invalid_participants",
            ),
        ];
        for (start, end, n, code) in bad {
            let err =
                NewActivity::validate(ActivityKind::Other, Mode::Virtual, start, end, n, None)
                    .unwrap_err();
            assert_eq!(err.code, code, "{start} {end:?} {n:?}");
        }
    }

    #[test]
    fn roll_up_counts_and_shares() {
        let fact = |mode, year, p: &str| ActivityFacts {
            partnership: p.into(),
            cities: ["cn-sha".into(), "us-hou".into()],
            mode,
            start_date: NaiveDate::from_ymd_opt(year, 3, 1).unwrap(),
            participants: Some(10),
        };
        let facts = [
            fact(Mode::InPerson, 2019, "p"),
            fact(Mode::Virtual, 2020, "p"),
            fact(Mode::Virtual, 2020, "q"),
            fact(Mode::Hybrid, 2021, "p"),
        ];
        let e = Engagement::roll_up(&facts);
        assert_eq!(e.overall.total, 4);
        assert_eq!(e.overall.remote_share, 0.75);
        assert_eq!(e.by_year[&2020].virtual_, 2);
        assert_eq!(e.by_year[&2019].remote_share, 0.0);
        assert_eq!(e.by_partnership["p"].total, 3);
        assert_eq!(e.by_city["us-hou"].participants, 40);
    }
}

/// An activity keeps a handful of evidence documents (programme, minutes, report), not an
/// archive: past this many, the office links a report instead.
pub const MAX_EVIDENCE_PER_ACTIVITY: usize = 20;

/// Whether a document may join an activity's evidence: not empty, not a copy of one it already
/// has, and within the per-activity limit.
pub fn check_new_evidence(
    existing: &[[u8; 32]],
    new: &[u8; 32],
    size: usize,
) -> Result<(), DomainError> {
    if size == 0 {
        return Err(DomainError::new(
            ErrorCode::EmptyDocument,
            "the document body is empty",
        ));
    }
    if let Some(n) = existing.iter().position(|h| h == new) {
        return Err(DomainError::new(
            ErrorCode::DuplicateEvidence,
            format!(
                "evidence {} of this activity already has these exact bytes (sha256 {})",
                n + 1,
                hex::encode(new)
            ),
        ));
    }
    if existing.len() >= MAX_EVIDENCE_PER_ACTIVITY {
        return Err(DomainError::new(
            ErrorCode::TooMuchEvidence,
            format!("an activity keeps at most {MAX_EVIDENCE_PER_ACTIVITY} evidence documents"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod evidence_tests {
    use super::*;

    #[test]
    fn evidence_must_be_new_non_empty_and_within_the_limit() {
        let a = [1u8; 32];
        assert_eq!(
            check_new_evidence(&[], &a, 0).unwrap_err().code,
            "empty_document"
        );
        assert!(check_new_evidence(&[], &a, 10).is_ok());
        assert_eq!(
            check_new_evidence(&[[0; 32], a], &a, 10).unwrap_err().code,
            "duplicate_evidence"
        );
        let full: Vec<[u8; 32]> = (0..MAX_EVIDENCE_PER_ACTIVITY as u8)
            .map(|i| [i + 2; 32])
            .collect();
        assert_eq!(
            check_new_evidence(&full, &a, 10).unwrap_err().code,
            "too_much_evidence"
        );
    }
}

/// The first day a partnership's latest sign of life must reach to not be dormant: `years`
/// years before `today` (29 February falls back to the 28th).
pub fn dormant_cutoff(today: NaiveDate, years: u32) -> String {
    let year = today.year() - i32::try_from(years).unwrap_or(i32::MAX).min(today.year());
    let day = today
        .with_year(year)
        .or_else(|| today.with_day(28).and_then(|d| d.with_year(year)))
        .unwrap_or(today);
    super::dates::format_date(day)
}

/// Whether an active partnership is dormant: its latest sign of life (the latest activity's
/// start, else its establishment; both `YYYY-MM-DD`) is before `cutoff`, or it has none.
pub fn is_dormant(cutoff: &str, established_on: Option<&str>, last_activity: Option<&str>) -> bool {
    match established_on.max(last_activity) {
        Some(latest) => latest < cutoff,
        None => true,
    }
}

#[cfg(test)]
mod dormant_tests {
    use super::*;

    #[test]
    fn dormancy_counts_from_the_latest_sign_of_life() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let cutoff = dormant_cutoff(today, 3);
        assert_eq!(cutoff, "2023-12-06");
        // Established long ago, never an activity: dormant.
        assert!(is_dormant(&cutoff, Some("1962-01-01"), None));
        // Nothing known at all: dormant (nobody recorded a sign of life).
        assert!(is_dormant(&cutoff, None, None));
        // An activity on the cutoff day keeps it alive; the day before does not.
        assert!(!is_dormant(&cutoff, Some("1962-01-01"), Some("2023-12-06")));
        assert!(is_dormant(&cutoff, Some("1962-01-01"), Some("2023-12-05")));
        // Established recently, no activity yet: not dormant.
        assert!(!is_dormant(&cutoff, Some("2025-05-01"), None));
        let leap = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(dormant_cutoff(leap, 1), "2023-02-28");
    }
}
