//! Activities table.

use diesel::prelude::*;
use serde_json::json;

use super::schema::{activities, partnerships};
use super::{DbConn, DbError, WriteTx};
use crate::domain::DomainError;
use crate::domain::activities::{ActivityFacts, Mode, NewActivity};
use crate::domain::cities::CityCode;
use crate::domain::dates::{format_date, parse_date};
use crate::domain::entries::{LogEntry, kinds};
use crate::domain::partnerships::Partnership;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = activities)]
pub struct ActivityRow {
    pub id: String,
    pub partnership_id: String,
    pub kind: String,
    pub mode: String,
    pub start_date: String,
    pub end_date: Option<String>,
    pub participants: Option<i32>,
    pub outcome: Option<String>,
    pub city: String,
    pub recorded_by: Option<String>,
    pub created_at: i64,
    pub log_index: i64,
}

/// Records an activity after `authorize` accepted the caller for this partnership; returns
/// the stored row.
pub fn record(
    tx: &mut WriteTx<'_>,
    partnership: &str,
    activity: NewActivity,
    token: Option<&str>,
    authorize: impl FnOnce(&Partnership) -> Result<CityCode, DomainError>,
) -> Result<ActivityRow, DbError> {
    let p = super::partnerships::get(tx.conn, partnership)?.ok_or_else(|| {
        DomainError::not_found(
            "partnership_not_found",
            format!("no partnership `{partnership}`"),
        )
    })?;
    let city = authorize(&p)?;
    let mut row = ActivityRow {
        id: uuid::Uuid::now_v7().to_string(),
        partnership_id: p.id.clone(),
        kind: activity.kind.as_str().into(),
        mode: activity.mode.as_str().into(),
        start_date: format_date(activity.start_date),
        end_date: activity.end_date.map(format_date),
        participants: activity.participants,
        outcome: activity.outcome,
        city: city.to_string(),
        recorded_by: token.map(str::to_string),
        created_at: tx.now,
        log_index: 0,
    };
    let entry = LogEntry::new(
        kinds::ACTIVITY_RECORDED,
        tx.now,
        json!({
            "activity": row.id,
            "partnership": row.partnership_id,
            "kind": row.kind,
            "mode": row.mode,
            "start_date": row.start_date,
            "end_date": row.end_date,
            "participants": row.participants,
            "outcome": row.outcome,
            "city": row.city,
            "by": token,
        }),
    )?;
    row.log_index = tx.append(&entry)?;
    diesel::insert_into(activities::table)
        .values(&row)
        .execute(tx.conn)?;
    Ok(row)
}

/// A partnership's activities, newest first, one page of `limit + 1` after `after` (an id).
pub fn list(
    conn: &mut DbConn,
    partnership: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ActivityRow>, DbError> {
    let mut q = activities::table
        .filter(activities::partnership_id.eq(partnership))
        .select(ActivityRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(activities::id.lt(after.to_string()));
    }
    Ok(q.order(activities::id.desc()).limit(limit + 1).load(conn)?)
}

/// The facts the engagement metrics need, for activities of `city` (either party) and in
/// `year` when given.
pub fn facts(
    conn: &mut DbConn,
    city: Option<&str>,
    year: Option<i32>,
) -> Result<Vec<ActivityFacts>, DbError> {
    let mut q = activities::table
        .inner_join(partnerships::table)
        .select((
            activities::partnership_id,
            partnerships::city_a,
            partnerships::city_b,
            activities::mode,
            activities::start_date,
            activities::participants,
        ))
        .into_boxed();
    if let Some(c) = city {
        q = q.filter(
            partnerships::city_a
                .eq(c.to_string())
                .or(partnerships::city_b.eq(c.to_string())),
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
    let rows: Vec<(String, String, String, String, String, Option<i32>)> = q.load(conn)?;
    rows.into_iter()
        .map(|(partnership, a, b, mode, start, participants)| {
            Ok(ActivityFacts {
                partnership,
                cities: [a, b],
                mode: Mode::parse(&mode)
                    .ok_or_else(|| DbError::corrupt(format!("activity mode {mode:?}")))?,
                start_date: parse_date("start_date", &start)
                    .map_err(|_| DbError::corrupt(format!("activity date {start:?}")))?,
                participants,
            })
        })
        .collect()
}
