//! Metrics that evaluate engagement by its results, not its count (docs/engagement.md#metrics):
//! per mode, kind, year, partnership and city, how many activities produced outcomes, how many
//! commitments were kept on time, how long results took, what deals were declared (per
//! currency, never converted) and how many countries were reached. Every rate carries its
//! numerator and denominator, and a rate over fewer than [`MIN_SAMPLE`] cases is not given at
//! all: it says that the sample is too small instead.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::activities::{ActivityKind, Mode};

/// The fewest cases a rate or a median is computed over. Below it a group's figure would be
/// noise dressed as a comparison, so it is withheld and marked.
pub const MIN_SAMPLE: u64 = 5;

/// One activity and what came of it, as the metrics need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityResults {
    pub partnership: String,
    /// The partnership's two city codes; a code starts with its country (`us-hou`).
    pub cities: [String; 2],
    pub mode: Mode,
    pub kind: ActivityKind,
    pub start_date: NaiveDate,
    pub participants: Option<i32>,
    /// Dates of its outcomes.
    pub outcomes: Vec<NaiveDate>,
    /// Declared deal values: (currency, value in the currency's smallest unit, its decimals).
    pub values: Vec<(String, i128, u32)>,
    /// Its commitments: due date, and the result and date once resolved.
    pub commitments: Vec<(NaiveDate, Option<(String, NaiveDate)>)>,
    /// The sectors of the organisations that took part, each once.
    pub sectors: Vec<String>,
    /// Its declared cost: (currency, amount in the currency's smallest unit, its decimals).
    pub cost: Option<(String, i128, u32)>,
}

/// Cost per participant in one currency, over the activities that declared a cost in it and
/// a participant count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CostPerParticipant {
    /// Activities with a cost in this currency and a participant count.
    pub activities: u64,
    /// Their summed cost, in plain digits.
    pub total: String,
    /// Their summed participants: the denominator.
    pub participants: u64,
    /// `total / participants`, rounded down to the currency's smallest unit; null when fewer
    /// than the minimum sample of activities declared one.
    pub value: Option<String>,
    pub small_sample: bool,
}

/// A rate with what it was computed from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rate {
    pub numerator: u64,
    pub denominator: u64,
    /// `numerator / denominator`; null when the denominator is below the minimum sample.
    pub value: Option<f64>,
    /// True when the denominator is below the minimum sample: the rate is withheld.
    pub small_sample: bool,
}

impl Rate {
    fn new(numerator: u64, denominator: u64) -> Rate {
        let small_sample = denominator < MIN_SAMPLE;
        Rate {
            numerator,
            denominator,
            value: (!small_sample).then(|| numerator as f64 / denominator as f64),
            small_sample,
        }
    }
}

/// A median number of days with how many cases it is over.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MedianDays {
    /// How many activities had an outcome to measure.
    pub cases: u64,
    /// Null when `cases` is below the minimum sample.
    pub median: Option<f64>,
    pub small_sample: bool,
}

impl MedianDays {
    fn new(mut days: Vec<i64>) -> MedianDays {
        days.sort_unstable();
        let cases = days.len() as u64;
        let small_sample = cases < MIN_SAMPLE;
        let median = (!small_sample).then(|| {
            let mid = days.len() / 2;
            match (days.get(mid.wrapping_sub(1)), days.get(mid)) {
                (Some(a), Some(b)) if days.len().is_multiple_of(2) => (*a + *b) as f64 / 2.0,
                (_, Some(b)) => *b as f64,
                _ => 0.0,
            }
        });
        MedianDays {
            cases,
            median,
            small_sample,
        }
    }
}

/// The results of one group of activities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Results {
    pub activities: u64,
    /// Sum of the recorded participant counts.
    pub participants: u64,
    pub outcomes: u64,
    /// Outcomes per activity: outcomes / activities.
    pub outcomes_per_activity: Rate,
    /// Activities with at least one outcome / activities.
    pub activities_with_outcome: Rate,
    /// Commitments kept (fully) by their due date / commitments due: resolved ones, and open
    /// ones past their due date. Commitments not yet due are left out of both.
    pub commitments_kept_on_time: Rate,
    /// Commitments recorded, due or not.
    pub commitments: u64,
    /// Days from an activity's start to its first outcome, over the activities with one.
    pub days_to_first_outcome: MedianDays,
    /// Declared deal values per ISO 4217 currency, summed exactly, never converted.
    pub declared_value: BTreeMap<String, String>,
    /// Distinct countries of the partner cities (for a city) or of both cities (elsewhere).
    pub countries_reached: u64,
    /// Per ISO 4217 currency, never converted: what a participant cost where activities
    /// declared a cost and counted their participants.
    pub cost_per_participant: BTreeMap<String, CostPerParticipant>,
    /// True when the group has fewer activities than the minimum sample: compare nothing.
    pub small_sample: bool,
}

/// Sums as they accumulate, turned into [`Results`] at the end.
#[derive(Default)]
struct Tally {
    activities: u64,
    participants: u64,
    outcomes: u64,
    with_outcome: u64,
    commitments: u64,
    due: u64,
    kept_on_time: u64,
    first_outcome_days: Vec<i64>,
    values: BTreeMap<String, (i128, u32)>,
    countries: BTreeSet<String>,
    /// currency -> (activities, summed cost in minor units, decimals, participants).
    costs: BTreeMap<String, (u64, i128, u32, u64)>,
}

impl Tally {
    fn add(&mut self, a: &ActivityResults, today: NaiveDate, countries: &[&str]) {
        self.activities += 1;
        self.participants += a.participants.map_or(0, |p| p.max(0) as u64);
        self.outcomes += a.outcomes.len() as u64;
        if let Some(first) = a.outcomes.iter().min() {
            self.with_outcome += 1;
            self.first_outcome_days
                .push((*first - a.start_date).num_days());
        }
        for (due, resolution) in &a.commitments {
            self.commitments += 1;
            match resolution {
                Some((result, on)) => {
                    self.due += 1;
                    if result == "kept" && on <= due {
                        self.kept_on_time += 1;
                    }
                }
                None if *due < today => self.due += 1,
                None => {}
            }
        }
        for (currency, minor, decimals) in &a.values {
            let entry = self
                .values
                .entry(currency.clone())
                .or_insert((0, *decimals));
            entry.0 += minor;
        }
        self.countries
            .extend(countries.iter().map(|c| c.to_string()));
        if let (Some((currency, minor, decimals)), Some(people)) = (&a.cost, a.participants) {
            let entry = self
                .costs
                .entry(currency.clone())
                .or_insert((0, 0, *decimals, 0));
            entry.0 += 1;
            entry.1 += minor;
            entry.3 += people.max(0) as u64;
        }
    }

    fn finish(self) -> Results {
        Results {
            activities: self.activities,
            participants: self.participants,
            outcomes: self.outcomes,
            outcomes_per_activity: Rate::new(self.outcomes, self.activities),
            activities_with_outcome: Rate::new(self.with_outcome, self.activities),
            commitments_kept_on_time: Rate::new(self.kept_on_time, self.due),
            commitments: self.commitments,
            days_to_first_outcome: MedianDays::new(self.first_outcome_days),
            declared_value: self
                .values
                .into_iter()
                .map(|(c, (minor, decimals))| (c, decimal(minor, decimals)))
                .collect(),
            countries_reached: self.countries.len() as u64,
            cost_per_participant: self
                .costs
                .into_iter()
                .map(|(currency, (activities, minor, decimals, participants))| {
                    let small_sample = activities < MIN_SAMPLE || participants == 0;
                    let per = (!small_sample)
                        .then(|| decimal(minor / i128::from(participants), decimals));
                    let cost = CostPerParticipant {
                        activities,
                        total: decimal(minor, decimals),
                        participants,
                        value: per,
                        small_sample,
                    };
                    (currency, cost)
                })
                .collect(),
            small_sample: self.activities < MIN_SAMPLE,
        }
    }
}

/// `minor` units with `decimals` digits after the point, in plain digits.
fn decimal(minor: i128, decimals: u32) -> String {
    if decimals == 0 {
        return minor.to_string();
    }
    let scale = 10_i128.pow(decimals);
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = decimals as usize
    )
}

/// The country of a city code (`us-hou` is in `US`).
fn country(code: &str) -> &str {
    code.get(..2).unwrap_or(code)
}

/// Results of engagement, overall and by each dimension.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ResultsReport {
    /// Rates over fewer cases than this are withheld (`small_sample`).
    pub min_sample: u64,
    /// Commitments are due before this day (the registry's today).
    pub as_of: String,
    pub overall: Results,
    pub by_mode: BTreeMap<String, Results>,
    pub by_kind: BTreeMap<String, Results>,
    /// Keyed by the year an activity started, as a string.
    pub by_year: BTreeMap<String, Results>,
    pub by_partnership: BTreeMap<String, Results>,
    pub by_city: BTreeMap<String, Results>,
    /// By the sector of the organisations that took part (docs/engagement.md): an activity
    /// counts once for each sector among its organisations; activities without any are in
    /// none.
    pub by_sector: BTreeMap<String, Results>,
}

impl ResultsReport {
    pub fn roll_up(activities: &[ActivityResults], today: NaiveDate) -> ResultsReport {
        let mut overall = Tally::default();
        let mut by_mode: BTreeMap<String, Tally> = BTreeMap::new();
        let mut by_kind: BTreeMap<String, Tally> = BTreeMap::new();
        let mut by_year: BTreeMap<String, Tally> = BTreeMap::new();
        let mut by_partnership: BTreeMap<String, Tally> = BTreeMap::new();
        let mut by_city: BTreeMap<String, Tally> = BTreeMap::new();
        let mut by_sector: BTreeMap<String, Tally> = BTreeMap::new();
        for a in activities {
            for sector in &a.sectors {
                by_sector.entry(sector.clone()).or_default().add(
                    a,
                    today,
                    &[country(&a.cities[0]), country(&a.cities[1])],
                );
            }
            let both = [country(&a.cities[0]), country(&a.cities[1])];
            overall.add(a, today, &both);
            by_mode
                .entry(a.mode.as_str().into())
                .or_default()
                .add(a, today, &both);
            by_kind
                .entry(a.kind.as_str().into())
                .or_default()
                .add(a, today, &both);
            by_year
                .entry(a.start_date.year().to_string())
                .or_default()
                .add(a, today, &both);
            by_partnership
                .entry(a.partnership.clone())
                .or_default()
                .add(a, today, &both);
            for (own, partner) in [(0, 1), (1, 0)] {
                let (Some(city), Some(other)) = (a.cities.get(own), a.cities.get(partner)) else {
                    continue;
                };
                by_city
                    .entry(city.clone())
                    .or_default()
                    .add(a, today, &[country(other)]);
            }
        }
        let done = |m: BTreeMap<String, Tally>| {
            m.into_iter()
                .map(|(k, t)| (k, t.finish()))
                .collect::<BTreeMap<_, _>>()
        };
        ResultsReport {
            min_sample: MIN_SAMPLE,
            as_of: super::dates::format_date(today),
            overall: overall.finish(),
            by_mode: done(by_mode),
            by_kind: done(by_kind),
            by_year: done(by_year),
            by_partnership: done(by_partnership),
            by_city: done(by_city),
            by_sector: done(by_sector),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn medians_and_rates_hold_back_small_samples() {
        assert_eq!(Rate::new(2, 4).value, None);
        assert!(Rate::new(2, 4).small_sample);
        assert_eq!(Rate::new(2, 5).value, Some(0.4));
        assert_eq!(MedianDays::new(vec![9, 1, 5, 3, 7]).median, Some(5.0));
        assert_eq!(MedianDays::new(vec![1, 2, 3, 4, 5, 10]).median, Some(3.5));
        assert_eq!(MedianDays::new(vec![1, 2]).median, None);
    }

    #[test]
    fn values_sum_per_currency_exactly() {
        assert_eq!(decimal(125_000_050, 2), "1250000.50");
        assert_eq!(decimal(7, 0), "7");
        assert_eq!(decimal(1, 3), "0.001");
        let a = ActivityResults {
            partnership: "p".into(),
            cities: ["cn-sha".into(), "us-hou".into()],
            mode: Mode::Virtual,
            kind: ActivityKind::TradeMission,
            start_date: day(2021, 1, 1),
            participants: None,
            outcomes: vec![],
            values: vec![
                ("EUR".into(), 10, 2),
                ("EUR".into(), 95, 2),
                ("JPY".into(), 300, 0),
            ],
            commitments: vec![],
            sectors: vec![],
            cost: None,
        };
        let r = ResultsReport::roll_up(&[a], day(2026, 1, 1));
        assert_eq!(r.overall.declared_value["EUR"], "1.05");
        assert_eq!(r.overall.declared_value["JPY"], "300");
    }
}
