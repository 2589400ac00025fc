//! Outcomes of activities, commitments and their resolutions (docs/engagement.md). Each write
//! checks, inside its transaction, that what it links exists on the same partnership, then logs
//! its entry and stores the row the entry mirrors.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::schema::{
    activities, activity_evidence, activity_outcomes, commitment_resolutions, commitments, mous,
};
use super::{DbConn, DbError, WriteTx};
use crate::domain::cities::CityCode;
use crate::domain::dates::{format_date, parse_date};
use crate::domain::entries::{
    ActivityCommitmentMade, ActivityCommitmentResolved, ActivityOutcomeRecorded, EntryBody,
    LogEntry,
};
use crate::domain::ids::{PartnershipId, TokenId};
use crate::domain::outcomes::{
    NewCommitment, NewOutcome, Resolution, check_due_date, check_result_date,
};
use crate::domain::partnerships::Partnership;
use crate::domain::{DomainError, ErrorCode};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = activity_outcomes)]
pub struct OutcomeRow {
    pub id: String,
    pub activity_id: String,
    pub partnership_id: String,
    pub indicator: String,
    pub achieved_on: String,
    pub count: Option<i64>,
    pub exchange_group: Option<String>,
    pub value: Option<String>,
    pub currency: Option<String>,
    pub mou_id: Option<String>,
    pub follow_up_id: Option<String>,
    pub description: Option<String>,
    pub evidence: String,
    pub city: String,
    pub recorded_by: Option<String>,
    pub created_at: i64,
    pub log_index: i64,
}

impl OutcomeRow {
    /// The evidence numbers it cites.
    pub fn evidence_numbers(&self) -> Vec<i64> {
        self.evidence
            .split(',')
            .filter_map(|n| n.parse().ok())
            .collect()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = commitments)]
pub struct CommitmentRow {
    pub id: String,
    pub activity_id: String,
    pub partnership_id: String,
    pub text: String,
    pub due_date: String,
    pub city: String,
    pub made_by: Option<String>,
    pub created_at: i64,
    pub log_index: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = commitment_resolutions)]
pub struct ResolutionRow {
    pub commitment_id: String,
    pub result: String,
    pub resolved_on: String,
    pub kept_by_activity: Option<String>,
    pub kept_by_outcome: Option<String>,
    pub note: Option<String>,
    pub city: String,
    pub resolved_by: Option<String>,
    pub created_at: i64,
    pub log_index: i64,
}

/// A commitment with its resolution, once it has one.
#[derive(Debug, Clone)]
pub struct CommitmentState {
    pub commitment: CommitmentRow,
    pub resolution: Option<ResolutionRow>,
}

impl CommitmentState {
    /// `open`, `overdue` (open past its due date on `today`), or the result it was marked.
    pub fn state(&self, today: NaiveDate) -> String {
        match &self.resolution {
            Some(r) => r.result.clone(),
            None if crate::domain::outcomes::is_overdue(&self.commitment.due_date, today) => {
                "overdue".into()
            }
            None => "open".into(),
        }
    }

    /// Kept in full by its due date; `None` while it is open.
    pub fn kept_on_time(&self) -> Option<bool> {
        self.resolution
            .as_ref()
            .map(|r| r.result == "kept" && r.resolved_on <= self.commitment.due_date)
    }
}

/// The day an instant (microseconds) falls on, UTC: the day a write is logged.
fn day_of(micros: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

fn link_error(message: String) -> DomainError {
    DomainError::new(ErrorCode::InvalidOutcomeLink, message)
}

/// The activity `id` of `partnership`, with its partnership and start date, or 404.
fn activity_on(
    conn: &mut DbConn,
    partnership: &PartnershipId,
    id: &str,
) -> Result<(Partnership, NaiveDate), DbError> {
    let found: Option<(String, String)> = activities::table
        .find(id)
        .select((activities::partnership_id, activities::start_date))
        .first(conn)
        .optional()?;
    let (owner, start) = found
        .filter(|(p, _)| p == partnership.as_str())
        .ok_or_else(|| {
            DomainError::new(
                ErrorCode::ActivityNotFound,
                format!("no activity `{id}` on partnership `{partnership}`"),
            )
        })?;
    let p = super::partnerships::get(conn, &PartnershipId::from_db(owner))?
        .ok_or_else(|| PartnershipId::not_found(partnership.as_str()))?;
    let start = parse_date("start_date", &start)
        .map_err(|_| DbError::corrupt(format!("activity date {start:?}")))?;
    Ok((p, start))
}

/// Whether activity `id` exists on `partnership`.
fn activity_is_on(conn: &mut DbConn, partnership: &str, id: &str) -> Result<bool, DbError> {
    let owner: Option<String> = activities::table
        .find(id)
        .select(activities::partnership_id)
        .first(conn)
        .optional()?;
    Ok(owner.as_deref() == Some(partnership))
}

/// Records an outcome of activity `activity` on `partnership` after `authorize` accepted the
/// caller for the partnership (returning the city it acts for).
pub fn record(
    tx: &mut WriteTx<'_>,
    partnership: &PartnershipId,
    activity: &str,
    outcome: NewOutcome,
    token: Option<&TokenId>,
    authorize: impl FnOnce(&Partnership) -> Result<CityCode, DomainError>,
) -> Result<OutcomeRow, DbError> {
    let (p, start) = activity_on(tx.conn, partnership, activity)?;
    let city = authorize(&p)?;
    check_result_date("achieved_on", outcome.achieved_on, start, day_of(tx.now))?;
    let pid = p.id.to_string();
    if let Some(mou) = &outcome.mou {
        let owner: Option<String> = mous::table
            .find(mou)
            .select(mous::partnership_id)
            .first(tx.conn)
            .optional()?;
        if owner.as_deref() != Some(pid.as_str()) {
            return Err(
                link_error(format!("`mou` {mou} is not an MOU of this partnership")).into(),
            );
        }
    }
    if let Some(other) = &outcome.follow_up {
        if other == activity {
            return Err(link_error("an activity is not its own follow-up".into()).into());
        }
        if !activity_is_on(tx.conn, &pid, other)? {
            return Err(link_error(format!(
                "`follow_up` {other} is not an activity of this partnership"
            ))
            .into());
        }
    }
    if !outcome.evidence.is_empty() {
        let held: i64 = activity_evidence::table
            .filter(activity_evidence::activity_id.eq(activity))
            .count()
            .get_result(tx.conn)?;
        if let Some(seq) = outcome.evidence.iter().find(|s| **s > held) {
            return Err(link_error(format!(
                "`evidence` cites document {seq}, but the activity has {held}"
            ))
            .into());
        }
    }
    let token = token.map(|t| t.as_str().to_string());
    let mut row = OutcomeRow {
        id: uuid::Uuid::now_v7().to_string(),
        activity_id: activity.to_string(),
        partnership_id: pid,
        indicator: outcome.indicator.as_str().to_string(),
        achieved_on: format_date(outcome.achieved_on),
        count: outcome.count,
        exchange_group: outcome.exchange_group,
        value: outcome.value,
        currency: outcome.currency,
        mou_id: outcome.mou,
        follow_up_id: outcome.follow_up,
        description: outcome.description,
        evidence: outcome
            .evidence
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(","),
        city: city.to_string(),
        recorded_by: token.clone(),
        created_at: tx.now,
        log_index: 0,
    };
    let entry = LogEntry::new(
        tx.now,
        EntryBody::ActivityOutcomeRecorded(ActivityOutcomeRecorded {
            outcome: row.id.clone(),
            activity: row.activity_id.clone(),
            partnership: row.partnership_id.clone(),
            indicator: row.indicator.clone(),
            achieved_on: row.achieved_on.clone(),
            count: row.count,
            exchange_group: row.exchange_group.clone(),
            value: row.value.clone(),
            currency: row.currency.clone(),
            mou: row.mou_id.clone(),
            follow_up: row.follow_up_id.clone(),
            description: row.description.clone(),
            evidence: row.evidence_numbers(),
            city: row.city.clone(),
            by: token,
        }),
    )?;
    row.log_index = tx.append(&entry)?;
    diesel::insert_into(activity_outcomes::table)
        .values(&row)
        .execute(tx.conn)?;
    Ok(row)
}

/// Outcomes of `partnership` (of one activity when given), newest first, one page of
/// `limit + 1` after `after` (an id).
pub fn list_outcomes(
    conn: &mut DbConn,
    partnership: &str,
    activity: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<OutcomeRow>, DbError> {
    let mut q = activity_outcomes::table
        .filter(activity_outcomes::partnership_id.eq(partnership))
        .select(OutcomeRow::as_select())
        .into_boxed();
    if let Some(a) = activity {
        q = q.filter(activity_outcomes::activity_id.eq(a));
    }
    if let Some(after) = after {
        q = q.filter(activity_outcomes::id.lt(after));
    }
    Ok(q.order(activity_outcomes::id.desc())
        .limit(limit + 1)
        .load(conn)?)
}

/// Every outcome of the given partnerships, for metrics and briefings.
pub fn of_partnerships(conn: &mut DbConn, ids: &[String]) -> Result<Vec<OutcomeRow>, DbError> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(500) {
        rows.extend(
            activity_outcomes::table
                .filter(activity_outcomes::partnership_id.eq_any(chunk))
                .select(OutcomeRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// Records a commitment an activity made.
pub fn commit(
    tx: &mut WriteTx<'_>,
    partnership: &PartnershipId,
    activity: &str,
    commitment: NewCommitment,
    token: Option<&TokenId>,
    authorize: impl FnOnce(&Partnership) -> Result<CityCode, DomainError>,
) -> Result<CommitmentRow, DbError> {
    let (p, start) = activity_on(tx.conn, partnership, activity)?;
    let city = authorize(&p)?;
    check_due_date(commitment.due_date, start)?;
    let token = token.map(|t| t.as_str().to_string());
    let mut row = CommitmentRow {
        id: uuid::Uuid::now_v7().to_string(),
        activity_id: activity.to_string(),
        partnership_id: p.id.to_string(),
        text: commitment.text,
        due_date: format_date(commitment.due_date),
        city: city.to_string(),
        made_by: token.clone(),
        created_at: tx.now,
        log_index: 0,
    };
    let entry = LogEntry::new(
        tx.now,
        EntryBody::ActivityCommitmentMade(ActivityCommitmentMade {
            commitment: row.id.clone(),
            activity: row.activity_id.clone(),
            partnership: row.partnership_id.clone(),
            text: row.text.clone(),
            due_date: row.due_date.clone(),
            city: row.city.clone(),
            by: token,
        }),
    )?;
    row.log_index = tx.append(&entry)?;
    diesel::insert_into(commitments::table)
        .values(&row)
        .execute(tx.conn)?;
    Ok(row)
}

/// One commitment with its resolution.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<CommitmentState>, DbError> {
    let found: Option<(CommitmentRow, Option<ResolutionRow>)> = commitments::table
        .left_join(commitment_resolutions::table)
        .filter(commitments::id.eq(id))
        .select((
            CommitmentRow::as_select(),
            Option::<ResolutionRow>::as_select(),
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(commitment, resolution)| CommitmentState {
        commitment,
        resolution,
    }))
}

/// Marks commitment `id` of `partnership` kept, partly kept or not kept, once.
pub fn resolve(
    tx: &mut WriteTx<'_>,
    partnership: &PartnershipId,
    id: &str,
    resolution: Resolution,
    token: Option<&TokenId>,
    authorize: impl FnOnce(&Partnership) -> Result<CityCode, DomainError>,
) -> Result<CommitmentState, DbError> {
    let state = get(tx.conn, id)?
        .filter(|s| s.commitment.partnership_id == partnership.as_str())
        .ok_or_else(|| {
            DomainError::new(
                ErrorCode::CommitmentNotFound,
                format!("no commitment `{id}` on partnership `{partnership}`"),
            )
        })?;
    let c = &state.commitment;
    let (p, start) = activity_on(tx.conn, partnership, &c.activity_id)?;
    let city = authorize(&p)?;
    if let Some(r) = &state.resolution {
        return Err(DomainError::new(
            ErrorCode::CommitmentAlreadyResolved,
            format!(
                "the commitment was marked `{}` on {}",
                r.result, r.resolved_on
            ),
        )
        .into());
    }
    check_result_date("resolved_on", resolution.resolved_on, start, day_of(tx.now))?;
    let pid = c.partnership_id.clone();
    if let Some(other) = &resolution.kept_by_activity
        && !activity_is_on(tx.conn, &pid, other)?
    {
        return Err(link_error(format!(
            "`kept_by_activity` {other} is not an activity of this partnership"
        ))
        .into());
    }
    if let Some(outcome) = &resolution.kept_by_outcome {
        let owner: Option<String> = activity_outcomes::table
            .find(outcome)
            .select(activity_outcomes::partnership_id)
            .first(tx.conn)
            .optional()?;
        if owner.as_deref() != Some(pid.as_str()) {
            return Err(link_error(format!(
                "`kept_by_outcome` {outcome} is not an outcome of this partnership"
            ))
            .into());
        }
    }
    let token = token.map(|t| t.as_str().to_string());
    let mut row = ResolutionRow {
        commitment_id: c.id.clone(),
        result: resolution.result.as_str().to_string(),
        resolved_on: format_date(resolution.resolved_on),
        kept_by_activity: resolution.kept_by_activity,
        kept_by_outcome: resolution.kept_by_outcome,
        note: resolution.note,
        city: city.to_string(),
        resolved_by: token.clone(),
        created_at: tx.now,
        log_index: 0,
    };
    let entry = LogEntry::new(
        tx.now,
        EntryBody::ActivityCommitmentResolved(ActivityCommitmentResolved {
            commitment: c.id.clone(),
            activity: c.activity_id.clone(),
            partnership: pid,
            result: row.result.clone(),
            resolved_on: row.resolved_on.clone(),
            kept_by_activity: row.kept_by_activity.clone(),
            kept_by_outcome: row.kept_by_outcome.clone(),
            note: row.note.clone(),
            city: row.city.clone(),
            by: token,
        }),
    )?;
    row.log_index = tx.append(&entry)?;
    diesel::insert_into(commitment_resolutions::table)
        .values(&row)
        .execute(tx.conn)?;
    Ok(CommitmentState {
        commitment: state.commitment,
        resolution: Some(row),
    })
}

/// Which commitments a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitmentFilter {
    All,
    /// Not resolved yet.
    Open,
    /// Not resolved, and due before `today`.
    Overdue(NaiveDate),
    Resolved,
}

/// Commitments of the given partnerships with their resolutions, by due date then id, one page
/// of `limit + 1` after `after` (`(due_date, id)`).
pub fn list_commitments(
    conn: &mut DbConn,
    partnerships: &[String],
    filter: CommitmentFilter,
    after: Option<(&str, &str)>,
    limit: i64,
) -> Result<Vec<CommitmentState>, DbError> {
    let mut q = commitments::table
        .left_join(commitment_resolutions::table)
        .filter(commitments::partnership_id.eq_any(partnerships))
        .select((
            CommitmentRow::as_select(),
            Option::<ResolutionRow>::as_select(),
        ))
        .into_boxed();
    q = match filter {
        CommitmentFilter::All => q,
        CommitmentFilter::Open => q.filter(commitment_resolutions::commitment_id.is_null()),
        CommitmentFilter::Overdue(today) => q
            .filter(commitment_resolutions::commitment_id.is_null())
            .filter(commitments::due_date.lt(format_date(today))),
        CommitmentFilter::Resolved => q.filter(commitment_resolutions::commitment_id.is_not_null()),
    };
    if let Some((due, id)) = after {
        q = q.filter(
            commitments::due_date
                .gt(due.to_string())
                .or(commitments::due_date
                    .eq(due.to_string())
                    .and(commitments::id.gt(id.to_string()))),
        );
    }
    let rows: Vec<(CommitmentRow, Option<ResolutionRow>)> = q
        .order((commitments::due_date.asc(), commitments::id.asc()))
        .limit(limit + 1)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(commitment, resolution)| CommitmentState {
            commitment,
            resolution,
        })
        .collect())
}

/// The ids of every partnership `city` is a party to.
pub fn partnerships_of_city(conn: &mut DbConn, city: &str) -> Result<Vec<String>, DbError> {
    use super::schema::partnerships;
    Ok(partnerships::table
        .filter(
            partnerships::city_a
                .eq(city)
                .or(partnerships::city_b.eq(city)),
        )
        .select(partnerships::id)
        .load(conn)?)
}

/// Every activity (of a partnership of one of `cities`, started in `year`, when given) with
/// its outcomes' dates and declared values and its commitments, for `domain::results`.
pub fn results(
    conn: &mut DbConn,
    cities: Option<&[String]>,
    year: Option<i32>,
) -> Result<Vec<crate::domain::results::ActivityResults>, DbError> {
    use super::schema::partnerships;
    use crate::domain::activities::{ActivityKind, Mode};
    use std::collections::HashMap;
    let mut q = activities::table
        .inner_join(partnerships::table)
        .select((
            activities::id,
            activities::partnership_id,
            partnerships::city_a,
            partnerships::city_b,
            activities::mode,
            activities::kind,
            activities::start_date,
            activities::participants,
            activities::cost,
            activities::cost_currency,
        ))
        .into_boxed();
    if let Some(cities) = cities {
        q = q.filter(
            partnerships::city_a
                .eq_any(cities.to_vec())
                .or(partnerships::city_b.eq_any(cities.to_vec())),
        );
    }
    if let Some(y) = year {
        // Dates are stored as YYYY-MM-DD text, so a year is a plain string range.
        q = q.filter(
            activities::start_date
                .ge(format!("{y:04}-01-01"))
                .and(activities::start_date.le(format!("{y:04}-12-31"))),
        );
    }
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<i32>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = q.order(activities::id).load(conn)?;
    let date = |field: &str, text: &str| {
        parse_date("date", text).map_err(|_| DbError::corrupt(format!("{field} {text:?}")))
    };
    let mut index: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    let mut out = Vec::with_capacity(rows.len());
    for (id, partnership, a, b, mode, kind, start, participants, cost, currency) in rows {
        let cost = match (cost, currency) {
            (Some(value), Some(currency)) => {
                let decimals = amity_verify::outcomes::currency_exponent(&currency)
                    .map_err(|_| DbError::corrupt(format!("currency {currency:?}")))?;
                let minor = amity_verify::outcomes::minor_units(&value, decimals)
                    .ok_or_else(|| DbError::corrupt(format!("activity cost {value:?}")))?;
                Some((currency, minor, decimals))
            }
            _ => None,
        };
        index.insert(id, out.len());
        out.push(crate::domain::results::ActivityResults {
            partnership,
            cities: [a, b],
            mode: Mode::parse(&mode)
                .ok_or_else(|| DbError::corrupt(format!("activity mode {mode:?}")))?,
            kind: ActivityKind::parse(&kind)
                .ok_or_else(|| DbError::corrupt(format!("activity kind {kind:?}")))?,
            start_date: date("activity date", &start)?,
            participants,
            outcomes: Vec::new(),
            values: Vec::new(),
            commitments: Vec::new(),
            sectors: Vec::new(),
            cost,
        });
    }
    let ids: Vec<String> = index.keys().cloned().collect();
    for (activity, named) in super::activities::organisations_of(conn, &ids)? {
        let Some(a) = index.get(&activity).and_then(|i| out.get_mut(*i)) else {
            continue;
        };
        for (_, sector) in named {
            if !a.sectors.contains(&sector) {
                a.sectors.push(sector);
            }
        }
    }
    for chunk in ids.chunks(500) {
        let outcomes: Vec<(String, String, Option<String>, Option<String>)> =
            activity_outcomes::table
                .filter(activity_outcomes::activity_id.eq_any(chunk))
                .select((
                    activity_outcomes::activity_id,
                    activity_outcomes::achieved_on,
                    activity_outcomes::value,
                    activity_outcomes::currency,
                ))
                .load(conn)?;
        for (activity, achieved, value, currency) in outcomes {
            let Some(a) = index.get(&activity).and_then(|i| out.get_mut(*i)) else {
                continue;
            };
            a.outcomes.push(date("outcome date", &achieved)?);
            if let (Some(value), Some(currency)) = (value, currency) {
                let decimals = amity_verify::outcomes::currency_exponent(&currency)
                    .map_err(|_| DbError::corrupt(format!("currency {currency:?}")))?;
                let minor = amity_verify::outcomes::minor_units(&value, decimals)
                    .ok_or_else(|| DbError::corrupt(format!("declared value {value:?}")))?;
                a.values.push((currency, minor, decimals));
            }
        }
        let made: Vec<(String, String, Option<ResolutionRow>)> = commitments::table
            .left_join(commitment_resolutions::table)
            .filter(commitments::activity_id.eq_any(chunk))
            .select((
                commitments::activity_id,
                commitments::due_date,
                Option::<ResolutionRow>::as_select(),
            ))
            .load(conn)?;
        for (activity, due, resolution) in made {
            let Some(a) = index.get(&activity).and_then(|i| out.get_mut(*i)) else {
                continue;
            };
            let resolution = match resolution {
                Some(r) => Some((r.result, date("resolution date", &r.resolved_on)?)),
                None => None,
            };
            a.commitments.push((date("due date", &due)?, resolution));
        }
    }
    Ok(out)
}
