//! A city's briefing: what its partnerships look like, what changed in a period and why,
//! which MOUs were executed or still wait, how the city engaged, and what came of it.

use crate::domain::ErrorCode;
use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::DomainError;
use super::activities::ModeCounts;
use super::dates::{parse_date, today};

/// The period a briefing covers, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// `from` defaults to one year before `to`; `to` defaults to today.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Period, DomainError> {
        let to = match to {
            Some(t) => parse_date("to", t)?,
            None => today(),
        };
        let from = match from {
            Some(f) => parse_date("from", f)?,
            None => to - chrono::Duration::days(365),
        };
        if from > to {
            return Err(DomainError::new(
                ErrorCode::InvalidPeriod,
                "`from` is after `to`",
            ));
        }
        Ok(Period { from, to })
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }
}

/// One partnership as the briefing lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerLine {
    pub partnership: String,
    pub partner_code: String,
    pub partner_name: String,
    pub partner_country: String,
    pub kind: String,
    pub established: Option<String>,
}

/// A status change inside the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeLine {
    pub effective_date: NaiveDate,
    pub partner_name: String,
    pub from: Option<String>,
    pub to: String,
    pub reason_category: Option<String>,
    pub reason: Option<String>,
    pub deciding_body: Option<String>,
    pub initiating_city: Option<String>,
}

/// An MOU of one of the city's partnerships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MouLine {
    pub title: String,
    pub partner_name: String,
    pub state: String,
    pub version: i32,
}

/// An activity outcome worth reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Achievement {
    pub date: NaiveDate,
    pub partner_name: String,
    pub kind: String,
    pub mode: String,
    pub outcome: String,
}

/// A typed outcome achieved in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeLine {
    pub date: NaiveDate,
    pub partner_name: String,
    pub indicator: String,
    /// How much, in words: `20 students`, `2 deals worth 1250000.50 EUR`, `1,500 people`.
    pub summary: String,
    pub description: Option<String>,
    /// How many of the activity's evidence documents it cites.
    pub evidence: usize,
}

/// A dormant tie at the period's end: active on paper, no activity for the configured years.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DormantLine {
    pub partner_name: String,
    pub established: Option<String>,
    /// Start date of its latest activity; `None` when none is recorded.
    pub last_activity: Option<String>,
}

/// A commitment the briefing reports: resolved in the period, or open at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentLine {
    pub due_date: NaiveDate,
    pub partner_name: String,
    pub text: String,
    /// `kept`, `partly_kept`, `not_kept`, `overdue` (open past its due date at the period's
    /// end) or `open`.
    pub state: String,
    /// Kept in full by its due date.
    pub on_time: bool,
}

/// How much an outcome records, in words.
pub fn outcome_summary(
    indicator: &str,
    count: Option<i64>,
    group: Option<&str>,
    value: Option<(&str, &str)>,
) -> String {
    let n = count.map(|n| super::text::thousands(usize::try_from(n).unwrap_or(0)));
    match (indicator, n) {
        ("exchange_participants", Some(n)) => format!("{n} {}", group.unwrap_or("participants")),
        ("business_deals", Some(n)) => match value {
            Some((v, c)) => format!("{n} deal(s) worth {v} {c}"),
            None => format!("{n} deal(s)"),
        },
        ("people_reached", Some(n)) => format!("{n} people reached"),
        ("joint_projects", Some(n)) => format!("{n} joint project(s)"),
        ("media_reach", Some(n)) => format!("media audience of {n}"),
        ("agreement_signed", _) => "an agreement signed".to_string(),
        ("follow_up_activity", _) => "a follow-up activity".to_string(),
        (_, Some(n)) => n,
        _ => String::new(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Briefing {
    pub city_code: String,
    pub city_name: String,
    pub country: String,
    pub period: Period,
    /// Status -> partnerships, statuses in state-machine order.
    pub by_status: BTreeMap<u8, (String, Vec<PartnerLine>)>,
    pub changes: Vec<ChangeLine>,
    pub executed: Vec<MouLine>,
    pub pending: Vec<MouLine>,
    pub engagement: ModeCounts,
    /// Activities of the period by the year they started, by mode.
    pub engagement_by_year: BTreeMap<i32, ModeCounts>,
    pub achievements: Vec<Achievement>,
    /// Dormant ties at the period's end, with the years of silence that make one.
    pub dormant: Vec<DormantLine>,
    pub dormant_years: u32,
    /// Outcomes achieved in the period, newest first, at most [`MAX_OUTCOMES`]; the total in
    /// `outcome_count`.
    pub outcomes: Vec<OutcomeLine>,
    pub outcome_count: usize,
    /// Commitments resolved in the period, then those still open, by due date.
    pub commitments: Vec<CommitmentLine>,
}

/// Outcomes listed at most per city.
pub const MAX_OUTCOMES: usize = 20;

/// Achievements listed at most: a briefing is read, not searched.
pub const MAX_ACHIEVEMENTS: usize = 10;

impl Briefing {
    pub fn total_partnerships(&self) -> usize {
        self.by_status.values().map(|(_, l)| l.len()).sum()
    }
}

/// Orders statuses as the state machine does, for grouping.
pub fn status_rank(status: &str) -> u8 {
    match status {
        "active" => 0,
        "curtailed" => 1,
        "proposed" => 2,
        "cut_off" => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let p = Period::parse(Some("2020-01-01"), Some("2020-12-31")).unwrap();
        assert!(p.contains(NaiveDate::from_ymd_opt(2020, 6, 1).unwrap()));
        assert!(!p.contains(NaiveDate::from_ymd_opt(2021, 1, 1).unwrap()));
        assert_eq!(
            Period::parse(Some("2021-01-01"), Some("2020-01-01"))
                .unwrap_err()
                .code,
            "invalid_period"
        );
        let d = Period::parse(None, Some("2020-12-31")).unwrap();
        assert_eq!(d.from, NaiveDate::from_ymd_opt(2020, 1, 1).unwrap());
    }
}
