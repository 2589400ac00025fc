//! Partnerships and their append-only status events.

use crate::domain::ErrorCode;
use crate::domain::ids::{PartnershipId, TokenId};
use diesel::prelude::*;
use serde_json::json;

use super::error::is_unique_violation;
use super::schema::{partnerships, status_events};
use super::{DbConn, DbError, WriteTx, cities};
use crate::domain::DomainError;
use crate::domain::cities::CityCode;
use crate::domain::dates::{EstablishedDate, format_date, parse_date};
use crate::domain::entries::{
    EntryBody, LogEntry, PartnershipRegistered, PartnershipStatusChanged,
};
use crate::domain::partnerships::{
    Kind, Partnership, Proposal, ReasonCategory, Source, Status, StatusChange, StatusEvent,
    Trigger, check_transition,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = partnerships)]
pub struct PartnershipRow {
    pub id: String,
    pub city_a: String,
    pub city_b: String,
    pub country_a: String,
    pub country_b: String,
    pub kind: String,
    pub established: Option<String>,
    pub established_on: Option<String>,
    pub status: String,
    pub source: String,
    pub proposed_by: Option<String>,
    pub supersedes: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub log_index: i64,
}

fn corrupt(what: &str, value: &str) -> DbError {
    DbError::corrupt(format!("{what} {value:?}"))
}

fn code(value: &str) -> Result<CityCode, DbError> {
    CityCode::parse(value).map_err(|_| corrupt("city code", value))
}

impl TryFrom<PartnershipRow> for Partnership {
    type Error = DbError;

    fn try_from(r: PartnershipRow) -> Result<Self, DbError> {
        Ok(Partnership {
            city_a: code(&r.city_a)?,
            city_b: code(&r.city_b)?,
            kind: Kind::parse(&r.kind).ok_or_else(|| corrupt("kind", &r.kind))?,
            established: r
                .established
                .as_deref()
                .map(|e| EstablishedDate::parse(e).map_err(|_| corrupt("established", e)))
                .transpose()?,
            status: Status::parse(&r.status).ok_or_else(|| corrupt("status", &r.status))?,
            source: Source::parse(&r.source).ok_or_else(|| corrupt("source", &r.source))?,
            proposed_by: r.proposed_by.as_deref().map(code).transpose()?,
            id: PartnershipId::from_db(r.id),
            country_a: r.country_a,
            country_b: r.country_b,
            supersedes: r.supersedes,
            created_at: r.created_at,
            updated_at: r.updated_at,
            log_index: r.log_index,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = status_events)]
pub struct StatusEventRow {
    pub id: String,
    pub partnership_id: String,
    pub seq: i32,
    pub from_status: Option<String>,
    pub to_status: String,
    pub effective_date: String,
    pub decided_date: Option<String>,
    pub initiating_city: Option<String>,
    pub deciding_body: Option<String>,
    pub reason_category: Option<String>,
    pub reason: Option<String>,
    pub resumption_condition: Option<String>,
    pub decision_document_sha256: Option<Vec<u8>>,
    pub recorded_by: Option<String>,
    pub recorded_at: i64,
    pub log_index: i64,
}

impl TryFrom<StatusEventRow> for StatusEvent {
    type Error = DbError;

    fn try_from(r: StatusEventRow) -> Result<Self, DbError> {
        let status = |s: &str| Status::parse(s).ok_or_else(|| corrupt("status", s));
        let date = |s: &str| parse_date("date", s).map_err(|_| corrupt("date", s));
        Ok(StatusEvent {
            from: r.from_status.as_deref().map(status).transpose()?,
            to: status(&r.to_status)?,
            effective_date: date(&r.effective_date)?,
            decided_date: r.decided_date.as_deref().map(date).transpose()?,
            initiating_city: r.initiating_city.as_deref().map(code).transpose()?,
            reason_category: r
                .reason_category
                .as_deref()
                .map(|c| ReasonCategory::parse(c).ok_or_else(|| corrupt("reason category", c)))
                .transpose()?,
            decision_document_sha256: r
                .decision_document_sha256
                .map(|h| <[u8; 32]>::try_from(h.as_slice()).map_err(|_| corrupt("hash", "")))
                .transpose()?,
            id: r.id,
            partnership_id: PartnershipId::from_db(r.partnership_id),
            seq: r.seq,
            deciding_body: r.deciding_body,
            reason: r.reason,
            resumption_condition: r.resumption_condition,
            recorded_by: r.recorded_by,
            recorded_at: r.recorded_at,
            log_index: r.log_index,
        })
    }
}

/// Who records a registration: an office (through the API) or the importer.
#[derive(Debug, Clone)]
pub struct Registrar {
    pub city: Option<CityCode>,
    pub token_id: Option<TokenId>,
    pub source: Source,
    pub status: Status,
}

/// Registers a partnership with its first status event and one log entry.
pub fn register(
    tx: &mut WriteTx<'_>,
    proposal: Proposal,
    by: Registrar,
) -> Result<Partnership, DbError> {
    let a = cities::require(tx.conn, &proposal.city_a)?;
    let b = cities::require(tx.conn, &proposal.city_b)?;
    if let Some(existing) = open_between(tx.conn, &proposal)? {
        return Err(DomainError::new(
            ErrorCode::DuplicatePartnership,
            format!(
                "`{}` and `{}` already have a {} partnership that is not cut off: {}",
                proposal.city_a, proposal.city_b, proposal.kind, existing
            ),
        )
        .with_extra(json!({ "existing": existing }))
        .into());
    }
    // Re-establishing after a cut-off links the new record to the latest old one.
    let supersedes: Option<String> = partnerships::table
        .filter(partnerships::city_a.eq(proposal.city_a.as_str()))
        .filter(partnerships::city_b.eq(proposal.city_b.as_str()))
        .filter(partnerships::kind.eq(proposal.kind.as_str()))
        .filter(partnerships::status.eq(Status::CutOff.as_str()))
        .order(partnerships::id.desc())
        .select(partnerships::id)
        .first(tx.conn)
        .optional()?;
    let mut row = PartnershipRow {
        id: PartnershipId::generate().into_string(),
        city_a: proposal.city_a.to_string(),
        city_b: proposal.city_b.to_string(),
        country_a: a.city.country.clone(),
        country_b: b.city.country.clone(),
        kind: proposal.kind.as_str().into(),
        established: proposal.established.as_ref().map(|e| e.text.clone()),
        established_on: proposal
            .established
            .as_ref()
            .map(|e| format_date(e.first_day)),
        status: by.status.as_str().into(),
        source: by.source.as_str().into(),
        proposed_by: by.city.as_ref().map(|c| c.to_string()),
        supersedes,
        created_at: tx.now,
        updated_at: tx.now,
        log_index: 0,
    };
    row.log_index = tx.append(&registered_entry(&row, by.token_id.as_ref())?)?;
    diesel::insert_into(partnerships::table)
        .values(&row)
        .execute(tx.conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                DomainError::new(
                    ErrorCode::DuplicatePartnership,
                    "these cities already have an open partnership of this kind",
                )
                .into()
            } else {
                DbError::from(e)
            }
        })?;
    let effective = proposal
        .established
        .as_ref()
        .map(|e| e.first_day)
        .unwrap_or_else(crate::domain::dates::today);
    insert_event(tx, first_event(&row, by.token_id.as_ref(), effective))?;
    Partnership::try_from(row)
}

/// The log entry that records a registration.
pub fn registered_entry(
    row: &PartnershipRow,
    token: Option<&TokenId>,
) -> Result<LogEntry, DomainError> {
    let token = token.map(TokenId::as_str);
    LogEntry::new(
        row.created_at,
        EntryBody::PartnershipRegistered(PartnershipRegistered {
            partnership: row.id.clone(),
            cities: [row.city_a.clone(), row.city_b.clone()],
            kind: row.kind.clone(),
            established: row.established.clone(),
            status: row.status.clone(),
            source: row.source.clone(),
            proposed_by: row.proposed_by.clone(),
            supersedes: row.supersedes.clone(),
            by: token.map(str::to_string),
        }),
    )
}

/// The first status event of a new partnership: from nothing to its starting status.
pub fn first_event(
    row: &PartnershipRow,
    token: Option<&TokenId>,
    effective: chrono::NaiveDate,
) -> StatusEventRow {
    let token = token.map(TokenId::as_str);
    StatusEventRow {
        id: uuid::Uuid::now_v7().to_string(),
        partnership_id: row.id.clone(),
        seq: 1,
        from_status: None,
        to_status: row.status.clone(),
        effective_date: format_date(effective),
        decided_date: None,
        initiating_city: row.proposed_by.clone(),
        deciding_body: None,
        reason_category: None,
        reason: None,
        resumption_condition: None,
        decision_document_sha256: None,
        recorded_by: token.map(str::to_string),
        recorded_at: row.created_at,
        log_index: row.log_index,
    }
}

/// The id of an open (not cut off) partnership between the proposal's cities and of its kind.
fn open_between(conn: &mut DbConn, p: &Proposal) -> Result<Option<String>, DbError> {
    Ok(partnerships::table
        .filter(partnerships::city_a.eq(p.city_a.as_str()))
        .filter(partnerships::city_b.eq(p.city_b.as_str()))
        .filter(partnerships::kind.eq(p.kind.as_str()))
        .filter(partnerships::status.ne(Status::CutOff.as_str()))
        .select(partnerships::id)
        .first(conn)
        .optional()?)
}

fn insert_event(tx: &mut WriteTx<'_>, row: StatusEventRow) -> Result<(), DbError> {
    diesel::insert_into(status_events::table)
        .values(&row)
        .execute(tx.conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConn, id: &PartnershipId) -> Result<Option<Partnership>, DbError> {
    per_backend!(conn, |c| partnerships::table
        .filter(partnerships::id.eq(id.as_str()))
        .select(PartnershipRow::as_select())
        .first(c)
        .optional())?
    .map(Partnership::try_from)
    .transpose()
}

fn require(conn: &mut DbConn, id: &PartnershipId) -> Result<Partnership, DbError> {
    get(conn, id)?.ok_or_else(|| PartnershipId::not_found(id.as_str()).into())
}

/// Applies a status change (or a confirmation). `authorize` sees the current record and
/// returns the city acting, or refuses. The current status is read inside the write
/// transaction, so two racing changes are checked one after the other.
pub fn change_status(
    tx: &mut WriteTx<'_>,
    id: &PartnershipId,
    change: StatusChange,
    trigger: Trigger,
    token_id: Option<&TokenId>,
    authorize: impl FnOnce(&Partnership) -> Result<Option<CityCode>, DomainError>,
) -> Result<(Partnership, StatusEvent), DbError> {
    let token_id = token_id.map(TokenId::as_str);
    let current = require(tx.conn, id)?;
    let initiating_city = authorize(&current)?.map(|c| c.to_string());
    check_transition(current.status, change.to, trigger)?;
    let seq: Option<i32> = status_events::table
        .filter(status_events::partnership_id.eq(id.as_str()))
        .select(diesel::dsl::max(status_events::seq))
        .first(tx.conn)?;
    let seq = seq.unwrap_or(0) + 1;
    let entry = LogEntry::new(
        tx.now,
        EntryBody::PartnershipStatusChanged(PartnershipStatusChanged {
            partnership: id.to_string(),
            seq: i64::from(seq),
            from: current.status.as_str().to_string(),
            to: change.to.as_str().to_string(),
            effective_date: format_date(change.effective_date),
            decided_date: change.decided_date.map(format_date),
            initiating_city: initiating_city.clone(),
            deciding_body: change.deciding_body.clone(),
            reason_category: change.reason_category.as_str().to_string(),
            reason: change.reason.clone(),
            resumption_condition: change.resumption_condition.clone(),
            decision_document_sha256: change.decision_document_sha256.map(hex::encode),
            by: token_id.map(str::to_string),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    let row = StatusEventRow {
        id: uuid::Uuid::now_v7().to_string(),
        partnership_id: id.to_string(),
        seq,
        from_status: Some(current.status.as_str().into()),
        to_status: change.to.as_str().into(),
        effective_date: format_date(change.effective_date),
        decided_date: change.decided_date.map(format_date),
        initiating_city,
        deciding_body: change.deciding_body.clone(),
        reason_category: Some(change.reason_category.as_str().into()),
        reason: change.reason.clone(),
        resumption_condition: change.resumption_condition.clone(),
        decision_document_sha256: change.decision_document_sha256.map(|h| h.to_vec()),
        recorded_by: token_id.map(str::to_string),
        recorded_at: tx.now,
        log_index,
    };
    insert_event(tx, row.clone())?;
    super::webhooks::emit(
        tx,
        super::webhooks::Event {
            event_type: crate::domain::webhooks::EventType::PartnershipStatusChanged,
            cities: current.parties().iter().map(|c| c.to_string()).collect(),
            data: serde_json::json!({
                "partnership": id.as_str(),
                "cities": current.parties().iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                "from": current.status.as_str(),
                "to": change.to.as_str(),
                "effective_date": format_date(change.effective_date),
                "reason_category": change.reason_category.as_str(),
                "reason": change.reason,
                "log_index": log_index,
            }),
        },
        log_index,
    )?;
    diesel::update(partnerships::table.filter(partnerships::id.eq(id.as_str())))
        .set((
            partnerships::status.eq(change.to.as_str()),
            partnerships::updated_at.eq(tx.now),
        ))
        .execute(tx.conn)?;
    let updated = Partnership {
        status: change.to,
        updated_at: tx.now,
        ..current
    };
    Ok((updated, StatusEvent::try_from(row)?))
}

#[derive(Debug, Clone, Default)]
pub struct PartnershipFilter {
    pub city: Option<String>,
    pub country: Option<String>,
    pub status: Option<Status>,
    pub kind: Option<Kind>,
    /// Established on or after this date (`YYYY-MM-DD`).
    pub since: Option<String>,
    pub after: Option<String>,
    pub limit: i64,
}

/// Partnerships in id (creation) order, one page of `limit + 1` rows.
pub fn list(conn: &mut DbConn, f: &PartnershipFilter) -> Result<Vec<Partnership>, DbError> {
    let sqlite = matches!(conn, DbConn::Sqlite(_));
    // Built per backend (the macro repeats the block), so the boxed query is the concrete
    // backend's and skips the multi-connection's re-serialization of the SQL.
    let rows: Vec<PartnershipRow> = per_backend!(conn, |c| {
        let mut q = partnerships::table
            .select(PartnershipRow::as_select())
            .into_boxed();
        if let Some(city) = &f.city {
            q = q.filter(
                partnerships::city_a
                    .eq(city.clone())
                    .or(partnerships::city_b.eq(city.clone())),
            );
        }
        if let Some(country) = &f.country {
            q = q.filter(
                partnerships::country_a
                    .eq(country.clone())
                    .or(partnerships::country_b.eq(country.clone())),
            );
        }
        if let Some(status) = f.status {
            q = q.filter(partnerships::status.eq(status.as_str()));
        }
        if let Some(kind) = f.kind {
            q = q.filter(partnerships::kind.eq(kind.as_str()));
        }
        if let Some(since) = &f.since {
            if sqlite {
                // SQLite's planner (plans do not depend on bound values, see
                // SQLITE_ENABLE_QPSG) guesses that a range keeps a quarter of the rows, and
                // then prefers walking the whole table in id order to sorting a few rows
                // found through the `established_on` index. Most partnerships have no known
                // date, so the range is selective: the hint says so. PostgreSQL plans from
                // its statistics.
                q = q.filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>("likelihood(established_on >= ")
                        .bind::<diesel::sql_types::Text, _>(since.clone())
                        .sql(", 0.05)"),
                );
            } else {
                q = q.filter(partnerships::established_on.ge(since.clone()));
            }
        }
        if let Some(after) = &f.after {
            q = q.filter(partnerships::id.gt(after.clone()));
        }
        q.order(partnerships::id.asc()).limit(f.limit + 1).load(c)
    })?;
    rows.into_iter().map(Partnership::try_from).collect()
}

/// The full status history, oldest first.
pub fn history(conn: &mut DbConn, id: &PartnershipId) -> Result<Vec<StatusEvent>, DbError> {
    require(conn, id)?;
    status_events::table
        .filter(status_events::partnership_id.eq(id.as_str()))
        .order(status_events::seq.asc())
        .select(StatusEventRow::as_select())
        .load(conn)?
        .into_iter()
        .map(StatusEvent::try_from)
        .collect()
}
