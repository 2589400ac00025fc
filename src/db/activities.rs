//! Activities table.

use crate::domain::ErrorCode;
use crate::domain::ids::{PartnershipId, TokenId};
use diesel::prelude::*;

use super::schema::{activities, activity_evidence, activity_organisations, partnerships};
use super::{DbConn, DbError, WriteTx};
use crate::domain::DomainError;
use crate::domain::activities::{ActivityFacts, Mode, NewActivity, check_new_evidence};
use crate::domain::cities::CityCode;
use crate::domain::dates::{format_date, parse_date};
use crate::domain::entries::{
    ActivityEvidenceAdded, ActivityRecorded, EntryBody, LogEntry, LoggedOrganisation,
};
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
    /// The declared cost in plain digits, with `cost_currency` (ISO 4217).
    pub cost: Option<String>,
    pub cost_currency: Option<String>,
}

/// Records an activity after `authorize` accepted the caller for this partnership; returns
/// the stored row.
pub fn record(
    tx: &mut WriteTx<'_>,
    partnership: &PartnershipId,
    activity: NewActivity,
    token: Option<&TokenId>,
    authorize: impl FnOnce(&Partnership) -> Result<CityCode, DomainError>,
) -> Result<ActivityRow, DbError> {
    let token = token.map(TokenId::as_str);
    let p = super::partnerships::get(tx.conn, partnership)?
        .ok_or_else(|| PartnershipId::not_found(partnership.as_str()))?;
    let city = authorize(&p)?;
    let mut row = ActivityRow {
        id: uuid::Uuid::now_v7().to_string(),
        partnership_id: p.id.to_string(),
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
        cost: activity.cost.as_ref().map(|(v, _)| v.clone()),
        cost_currency: activity.cost.as_ref().map(|(_, c)| c.clone()),
    };
    let entry = LogEntry::new(
        tx.now,
        EntryBody::ActivityRecorded(ActivityRecorded {
            activity: row.id.clone(),
            partnership: row.partnership_id.clone(),
            kind: row.kind.clone(),
            mode: row.mode.clone(),
            start_date: row.start_date.clone(),
            end_date: row.end_date.clone(),
            participants: row.participants.map(i64::from),
            outcome: row.outcome.clone(),
            organisations: activity
                .organisations
                .iter()
                .map(|(name, sector)| LoggedOrganisation {
                    name: name.clone(),
                    sector: sector.as_str().to_string(),
                })
                .collect(),
            cost: row.cost.clone(),
            cost_currency: row.cost_currency.clone(),
            city: row.city.clone(),
            by: token.map(str::to_string),
        }),
    )?;
    row.log_index = tx.append(&entry)?;
    diesel::insert_into(activities::table)
        .values(&row)
        .execute(tx.conn)?;
    for (seq, (name, sector)) in (1..).zip(&activity.organisations) {
        diesel::insert_into(activity_organisations::table)
            .values((
                activity_organisations::activity_id.eq(&row.id),
                activity_organisations::seq.eq(seq),
                activity_organisations::name.eq(name),
                activity_organisations::sector.eq(sector.as_str()),
            ))
            .execute(tx.conn)?;
    }
    Ok(row)
}

/// The organisations of the given activities: activity id -> (name, sector) in order.
pub fn organisations_of(
    conn: &mut DbConn,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<(String, String)>>, DbError> {
    let mut out: std::collections::HashMap<String, Vec<(String, String)>> =
        std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String, String)> = activity_organisations::table
            .filter(activity_organisations::activity_id.eq_any(chunk))
            .order((
                activity_organisations::activity_id,
                activity_organisations::seq,
            ))
            .select((
                activity_organisations::activity_id,
                activity_organisations::name,
                activity_organisations::sector,
            ))
            .load(conn)?;
        for (activity, name, sector) in rows {
            out.entry(activity).or_default().push((name, sector));
        }
    }
    Ok(out)
}

/// A partnership's activities, newest first, one page of `limit + 1` after `after` (an id).
pub fn list(
    conn: &mut DbConn,
    partnership: &PartnershipId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ActivityRow>, DbError> {
    let mut q = activities::table
        .filter(activities::partnership_id.eq(partnership.as_str()))
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

/// One activity by id.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<ActivityRow>, DbError> {
    Ok(activities::table
        .find(id)
        .select(ActivityRow::as_select())
        .first(conn)
        .optional()?)
}

/// An evidence document's description (its bytes are read only on download).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = activity_evidence)]
pub struct EvidenceRow {
    pub activity_id: String,
    pub seq: i32,
    pub media_type: String,
    pub filename: Option<String>,
    pub size: i64,
    pub sha256: Vec<u8>,
    pub added_by: Option<String>,
    pub added_at: i64,
    pub log_index: i64,
}

/// Adds evidence n+1 to an activity after `authorize` accepted the caller for its
/// partnership.
pub fn add_evidence(
    tx: &mut WriteTx<'_>,
    activity: &str,
    document: super::mous::Upload,
    token: Option<&TokenId>,
    authorize: impl FnOnce(&Partnership) -> Result<(), DomainError>,
) -> Result<EvidenceRow, DbError> {
    let token = token.map(TokenId::as_str);
    let a = get(tx.conn, activity)?.ok_or_else(|| {
        DomainError::new(
            ErrorCode::ActivityNotFound,
            format!("no activity `{activity}`"),
        )
    })?;
    let partnership = PartnershipId::from_db(a.partnership_id.clone());
    let p = super::partnerships::get(tx.conn, &partnership)?.ok_or_else(|| {
        DomainError::new(
            ErrorCode::PartnershipNotFound,
            format!("no partnership `{}`", a.partnership_id),
        )
    })?;
    authorize(&p)?;
    let existing: Vec<[u8; 32]> = evidence(tx.conn, activity)?
        .iter()
        .map(|e| {
            e.sha256
                .as_slice()
                .try_into()
                .map_err(|_| DbError::corrupt("evidence hash is not 32 bytes"))
        })
        .collect::<Result<_, _>>()?;
    check_new_evidence(
        &existing,
        &document.sha256,
        usize::try_from(document.size).unwrap_or(usize::MAX),
    )?;
    let seq = i32::try_from(existing.len() + 1).unwrap_or(i32::MAX);
    let size = document.size;
    let entry = LogEntry::new(
        tx.now,
        EntryBody::ActivityEvidenceAdded(ActivityEvidenceAdded {
            activity: activity.to_string(),
            partnership: a.partnership_id.clone(),
            seq: i64::from(seq),
            sha256: hex::encode(document.sha256),
            size,
            media_type: document.media_type.clone(),
            filename: document.filename.clone(),
            by: token.map(str::to_string),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    diesel::insert_into(activity_evidence::table)
        .values((
            activity_evidence::activity_id.eq(activity),
            activity_evidence::seq.eq(seq),
            activity_evidence::media_type.eq(&document.media_type),
            activity_evidence::filename.eq(&document.filename),
            activity_evidence::size.eq(size),
            activity_evidence::sha256.eq(document.sha256.to_vec()),
            activity_evidence::blob_id.eq(document.blob),
            activity_evidence::added_by.eq(token),
            activity_evidence::added_at.eq(tx.now),
            activity_evidence::log_index.eq(log_index),
        ))
        .execute(tx.conn)?;
    super::blobs::attach(tx.conn, document.blob)?;
    Ok(EvidenceRow {
        activity_id: activity.to_string(),
        seq,
        media_type: document.media_type,
        filename: document.filename,
        size,
        sha256: document.sha256.to_vec(),
        added_by: token.map(str::to_string),
        added_at: tx.now,
        log_index,
    })
}

/// An activity's evidence, in order.
pub fn evidence(conn: &mut DbConn, activity: &str) -> Result<Vec<EvidenceRow>, DbError> {
    Ok(activity_evidence::table
        .filter(activity_evidence::activity_id.eq(activity))
        .order(activity_evidence::seq.asc())
        .select(EvidenceRow::as_select())
        .load(conn)?)
}

/// The evidence of several activities at once (a partnership page lists them all).
pub fn evidence_of(conn: &mut DbConn, ids: &[String]) -> Result<Vec<EvidenceRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(activity_evidence::table
        .filter(activity_evidence::activity_id.eq_any(ids))
        .order((
            activity_evidence::activity_id.asc(),
            activity_evidence::seq.asc(),
        ))
        .select(EvidenceRow::as_select())
        .load(conn)?)
}

/// One evidence document, with its blob and the blob's first chunk (`db::mous::document`).
pub fn evidence_document(
    conn: &mut DbConn,
    activity: &str,
    seq: i32,
) -> Result<Option<(EvidenceRow, i64, Vec<u8>)>, DbError> {
    let key = activity_evidence::table
        .filter(activity_evidence::activity_id.eq(activity))
        .filter(activity_evidence::seq.eq(seq));
    let Some(meta) = key
        .select(EvidenceRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let blob: i64 = key.select(activity_evidence::blob_id).first(conn)?;
    let first_chunk = super::blobs::chunk(conn, blob, 0)?.unwrap_or_default();
    Ok(Some((meta, blob, first_chunk)))
}
