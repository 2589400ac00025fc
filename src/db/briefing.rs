//! Gathering a city's briefing: a handful of joined queries, each keyed on the city.

use crate::domain::ErrorCode;
use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;

use super::schema::{activities, cities, mous, partnerships, status_events};
use super::{DbConn, DbError};
use crate::domain::DomainError;
use crate::domain::activities::{ActivityFacts, Engagement, Mode};
use crate::domain::briefing::{
    Achievement, Briefing, ChangeLine, CommitmentLine, DormantLine, MAX_ACHIEVEMENTS, MAX_OUTCOMES,
    MouLine, OutcomeLine, PartnerLine, Period, outcome_summary, status_rank,
};
use crate::domain::dates::{format_date, parse_date};

type PartnerRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
);

/// The city's partnerships with the partner city's code, name and country.
pub fn partners(conn: &mut DbConn, city: &str) -> Result<Vec<(PartnerLine, String)>, DbError> {
    let select = (
        partnerships::id,
        partnerships::kind,
        partnerships::established,
        partnerships::status,
        cities::code,
        cities::name,
        cities::country,
    );
    // The partner is city_b where the city is city_a, and the other way round.
    let as_a: Vec<PartnerRow> = partnerships::table
        .inner_join(cities::table.on(cities::code.eq(partnerships::city_b)))
        .filter(partnerships::city_a.eq(city))
        .select(select)
        .load(conn)?;
    let as_b: Vec<PartnerRow> = partnerships::table
        .inner_join(cities::table.on(cities::code.eq(partnerships::city_a)))
        .filter(partnerships::city_b.eq(city))
        .select(select)
        .load(conn)?;
    Ok(as_a
        .into_iter()
        .chain(as_b)
        .map(|(id, kind, established, status, code, name, country)| {
            (
                PartnerLine {
                    partnership: id,
                    partner_code: code,
                    partner_name: name,
                    partner_country: country,
                    kind,
                    established,
                },
                status,
            )
        })
        .collect())
}

fn date(value: &str) -> Result<chrono::NaiveDate, DbError> {
    parse_date("date", value).map_err(|_| DbError::corrupt(format!("date {value:?}")))
}

pub fn gather(
    conn: &mut DbConn,
    code: &str,
    period: Period,
    dormant_years: u32,
) -> Result<Briefing, DbError> {
    let city = super::cities::get(conn, code)?
        .ok_or_else(|| DomainError::new(ErrorCode::CityNotFound, format!("no city `{code}`")))?;
    let of_city = partnerships::city_a
        .eq(code.to_string())
        .or(partnerships::city_b.eq(code.to_string()));
    let (from, to) = (format_date(period.from), format_date(period.to));

    let partners = partners(conn, code)?;
    let names: HashMap<String, String> = partners
        .iter()
        .map(|(p, _)| (p.partnership.clone(), p.partner_name.clone()))
        .collect();
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_default();
    let mut by_status: BTreeMap<u8, (String, Vec<PartnerLine>)> = BTreeMap::new();
    for (line, status) in partners.iter().cloned() {
        by_status
            .entry(status_rank(&status))
            .or_insert_with(|| (status.clone(), Vec::new()))
            .1
            .push(line);
    }
    for (_, lines) in by_status.values_mut() {
        lines.sort_by(|a, b| a.partner_name.cmp(&b.partner_name));
    }

    type EventRow = (
        String,
        String,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let events: Vec<EventRow> = status_events::table
        .inner_join(partnerships::table)
        .filter(of_city.clone())
        .filter(status_events::from_status.is_not_null())
        .filter(status_events::effective_date.ge(from.clone()))
        .filter(status_events::effective_date.le(to.clone()))
        .order((status_events::effective_date.asc(), status_events::id.asc()))
        .select((
            status_events::partnership_id,
            status_events::effective_date,
            status_events::from_status,
            status_events::to_status,
            status_events::reason_category,
            status_events::reason,
            status_events::deciding_body,
            status_events::initiating_city,
        ))
        .load(conn)?;
    let changes = events
        .into_iter()
        .map(
            |(p, effective, from, to, category, reason, body, initiating)| {
                Ok(ChangeLine {
                    effective_date: date(&effective)?,
                    partner_name: name_of(&p),
                    from,
                    to,
                    reason_category: category,
                    reason,
                    deciding_body: body,
                    initiating_city: initiating,
                })
            },
        )
        .collect::<Result<Vec<_>, DbError>>()?;

    let mou_rows: Vec<(String, String, String, i32, i64)> = mous::table
        .inner_join(partnerships::table)
        .filter(of_city.clone())
        .order(mous::id.asc())
        .select((
            mous::partnership_id,
            mous::title,
            mous::state,
            mous::current_version,
            mous::updated_at,
        ))
        .load(conn)?;
    let (mut executed, mut pending) = (Vec::new(), Vec::new());
    for (p, title, state, version, updated_at) in mou_rows {
        let line = MouLine {
            title,
            partner_name: name_of(&p),
            state: state.clone(),
            version,
        };
        let updated = chrono::DateTime::from_timestamp_micros(updated_at)
            .map(|t| t.date_naive())
            .unwrap_or(period.from);
        match state.as_str() {
            "executed" if period.contains(updated) => executed.push(line),
            "draft" | "open" => pending.push(line),
            _ => {}
        }
    }

    type ActivityRow = (String, String, String, String, Option<i32>, Option<String>);
    let rows: Vec<ActivityRow> = activities::table
        .inner_join(partnerships::table)
        .filter(of_city)
        .filter(activities::start_date.ge(from))
        .filter(activities::start_date.le(to))
        .order((activities::start_date.desc(), activities::id.desc()))
        .select((
            activities::partnership_id,
            activities::kind,
            activities::mode,
            activities::start_date,
            activities::participants,
            activities::outcome,
        ))
        .load(conn)?;
    let mut facts = Vec::with_capacity(rows.len());
    let mut achievements = Vec::new();
    for (p, kind, mode, start, participants, outcome) in rows {
        let start = date(&start)?;
        let mode_value =
            Mode::parse(&mode).ok_or_else(|| DbError::corrupt(format!("mode {mode:?}")))?;
        facts.push(ActivityFacts {
            partnership: p.clone(),
            cities: [code.to_string(), String::new()],
            mode: mode_value,
            start_date: start,
            participants,
        });
        if let Some(outcome) = outcome.filter(|_| achievements.len() < MAX_ACHIEVEMENTS) {
            achievements.push(Achievement {
                date: start,
                partner_name: name_of(&p),
                kind,
                mode,
                outcome,
            });
        }
    }
    let ids: Vec<String> = partners
        .iter()
        .map(|(p, _)| p.partnership.clone())
        .collect();
    let (outcomes, outcome_count) = outcomes_in(conn, &ids, period, &name_of)?;
    let commitments = commitments_in(conn, &ids, period, &name_of)?;
    let cutoff = crate::domain::activities::dormant_cutoff(period.to, dormant_years);
    let dormant = super::pages::dormant_among(conn, &partners, &cutoff)?
        .into_iter()
        .map(|t| DormantLine {
            partner_name: t.partner_name,
            established: t.established,
            last_activity: t.last_activity,
        })
        .collect();
    let rolled = Engagement::roll_up(&facts);
    Ok(Briefing {
        city_code: city.city.code.to_string(),
        city_name: city.city.name,
        country: city.city.country,
        period,
        by_status,
        changes,
        executed,
        pending,
        engagement: rolled.overall,
        engagement_by_year: rolled.by_year,
        achievements,
        dormant,
        dormant_years,
        outcomes,
        outcome_count,
        commitments,
    })
}

/// The typed outcomes of the partnerships `ids` achieved in the period, newest first: at most
/// [`MAX_OUTCOMES`], and how many there were.
fn outcomes_in(
    conn: &mut DbConn,
    ids: &[String],
    period: Period,
    name_of: &impl Fn(&str) -> String,
) -> Result<(Vec<OutcomeLine>, usize), DbError> {
    let mut rows = super::outcomes::of_partnerships(conn, ids)?;
    rows.retain(|o| parse_date("date", &o.achieved_on).is_ok_and(|d| period.contains(d)));
    rows.sort_by(|a, b| (&b.achieved_on, &b.id).cmp(&(&a.achieved_on, &a.id)));
    let total = rows.len();
    let lines = rows
        .into_iter()
        .take(MAX_OUTCOMES)
        .map(|o| {
            let value = o.value.as_deref().zip(o.currency.as_deref());
            Ok(OutcomeLine {
                date: date(&o.achieved_on)?,
                partner_name: name_of(&o.partnership_id),
                summary: outcome_summary(&o.indicator, o.count, o.exchange_group.as_deref(), value),
                evidence: o.evidence_numbers().len(),
                indicator: o.indicator,
                description: o.description,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok((lines, total))
}

/// The commitments of the partnerships `ids` resolved in the period, then those still open at
/// its end (made by then), each by due date.
fn commitments_in(
    conn: &mut DbConn,
    ids: &[String],
    period: Period,
    name_of: &impl Fn(&str) -> String,
) -> Result<Vec<CommitmentLine>, DbError> {
    use super::outcomes::{CommitmentFilter, list_commitments};
    let mut resolved = Vec::new();
    let mut open = Vec::new();
    for chunk in ids.chunks(500) {
        for s in list_commitments(conn, chunk, CommitmentFilter::All, None, i64::MAX - 1)? {
            let due = date(&s.commitment.due_date)?;
            let made = chrono::DateTime::from_timestamp_micros(s.commitment.created_at)
                .map(|t| t.date_naive())
                .unwrap_or(period.from);
            let line = |state: String, on_time: bool| CommitmentLine {
                due_date: due,
                partner_name: name_of(&s.commitment.partnership_id),
                text: s.commitment.text.clone(),
                state,
                on_time,
            };
            match &s.resolution {
                Some(r) => {
                    let on = date(&r.resolved_on)?;
                    if period.contains(on) {
                        resolved.push(line(r.result.clone(), r.result == "kept" && on <= due));
                    } else if on > period.to && made <= period.to {
                        // Still open when the period ended.
                        let state = if due < period.to { "overdue" } else { "open" };
                        open.push(line(state.into(), false));
                    }
                }
                None if made <= period.to => {
                    let state = if due < period.to { "overdue" } else { "open" };
                    open.push(line(state.into(), false));
                }
                None => {}
            }
        }
    }
    resolved.sort_by_key(|l| l.due_date);
    open.sort_by_key(|l| l.due_date);
    resolved.extend(open);
    Ok(resolved)
}

/// The cities of `countries` with the most partnerships, most first (ties by code), at most
/// `max`; and how many cities of those countries have partnerships at all.
pub fn busiest_of_countries(
    conn: &mut DbConn,
    countries: &[String],
    max: usize,
) -> Result<(Vec<String>, usize), DbError> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let as_a: Vec<String> = partnerships::table
        .filter(partnerships::country_a.eq_any(countries))
        .select(partnerships::city_a)
        .load(conn)?;
    let as_b: Vec<String> = partnerships::table
        .filter(partnerships::country_b.eq_any(countries))
        .select(partnerships::city_b)
        .load(conn)?;
    for code in as_a.into_iter().chain(as_b) {
        *counts.entry(code).or_default() += 1;
    }
    let total = counts.len();
    let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
    ranked.sort_by(|(a, x), (b, y)| y.cmp(x).then_with(|| a.cmp(b)));
    Ok((
        ranked.into_iter().take(max).map(|(code, _)| code).collect(),
        total,
    ))
}
