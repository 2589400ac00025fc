//! Executing an import plan: cities, then partnerships, in batches of one transaction each,
//! with multi-row inserts and one log entry per record created.

use crate::domain::ErrorCode;
use diesel::prelude::*;

use super::cities::{CityRow, created_entry};
use super::partnerships::{PartnershipRow, StatusEventRow, first_event, registered_entry};
use super::schema::{cities, partnerships, status_events};
use super::{Db, DbConn, DbError, WriteTx};
use crate::domain::cities::{City, CityCode};
use crate::domain::dates::today;
use crate::domain::entries::LogEntry;
use crate::domain::import::{Existing, Plan, PlannedCity};
use crate::domain::partnerships::{Kind, Source, Status};

/// The kind imported partnerships get: the data lists sister cities and twin towns alike.
pub const IMPORTED_KIND: Kind = Kind::Sister;

/// Records per transaction: large enough for multi-row inserts to pay, small enough that the
/// log head is not held for long and progress can be shown.
pub const BATCH: usize = 2000;

/// What the registry already holds, for planning.
pub fn existing(conn: &mut DbConn) -> Result<Existing, DbError> {
    let mut out = Existing::default();
    let rows: Vec<(String, String, String)> = cities::table
        .select((cities::code, cities::country, cities::name))
        .load(conn)?;
    for (code, country, name) in rows {
        out.codes.insert(code.clone());
        out.cities.insert((country, name), code);
    }
    let pairs: Vec<(String, String)> = partnerships::table
        .filter(partnerships::kind.eq(IMPORTED_KIND.as_str()))
        .filter(partnerships::status.ne(Status::CutOff.as_str()))
        .select((partnerships::city_a, partnerships::city_b))
        .load(conn)?;
    out.open_pairs.extend(pairs);
    Ok(out)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub cities: usize,
    pub partnerships: usize,
}

fn city_of(p: &PlannedCity) -> Result<City, DbError> {
    Ok(City {
        code: CityCode::parse(&p.code)?,
        name: p.name.clone(),
        country: p.country.clone(),
        region: None,
        wikidata: None,
        geonames_id: None,
        unlocode: None,
        lat_e6: Some(p.lat_e6),
        lon_e6: Some(p.lon_e6),
    })
}

fn import_cities(tx: &mut WriteTx<'_>, batch: &[PlannedCity]) -> Result<(), DbError> {
    let cities: Vec<City> = batch.iter().map(city_of).collect::<Result<_, _>>()?;
    let entries: Vec<LogEntry> = cities
        .iter()
        .map(|c| created_entry(c, tx.now))
        .collect::<Result<_, _>>()?;
    let first = tx.append_batch(&entries)?;
    let rows: Vec<CityRow> = cities
        .iter()
        .enumerate()
        .map(|(i, c)| CityRow::new(c, tx.now, first + i as i64))
        .collect();
    for chunk in rows.chunks(super::log::BATCH_ROWS) {
        per_backend!(&mut *tx.conn, |c| diesel::insert_into(cities::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

fn import_partnerships(tx: &mut WriteTx<'_>, batch: &[(String, String)]) -> Result<(), DbError> {
    let mut rows: Vec<PartnershipRow> = batch
        .iter()
        .map(|(a, b)| PartnershipRow {
            id: crate::domain::PartnershipId::generate().into_string(),
            country_a: a[..2].to_ascii_uppercase(),
            country_b: b[..2].to_ascii_uppercase(),
            city_a: a.clone(),
            city_b: b.clone(),
            kind: IMPORTED_KIND.as_str().into(),
            established: None,
            established_on: None,
            status: Status::Active.as_str().into(),
            source: Source::Imported.as_str().into(),
            proposed_by: None,
            supersedes: None,
            created_at: tx.now,
            updated_at: tx.now,
            log_index: 0,
        })
        .collect();
    let entries: Vec<LogEntry> = rows
        .iter()
        .map(|r| registered_entry(r, None))
        .collect::<Result<_, _>>()?;
    let first = tx.append_batch(&entries)?;
    for (i, row) in rows.iter_mut().enumerate() {
        row.log_index = first + i as i64;
    }
    let day = today();
    let events: Vec<StatusEventRow> = rows.iter().map(|r| first_event(r, None, day)).collect();
    for chunk in rows.chunks(super::log::BATCH_ROWS) {
        per_backend!(&mut *tx.conn, |c| diesel::insert_into(partnerships::table)
            .values(chunk)
            .execute(c))?;
    }
    for chunk in events.chunks(super::log::BATCH_ROWS) {
        per_backend!(&mut *tx.conn, |c| diesel::insert_into(status_events::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// Creates what the plan says, reporting the number of records done after each batch.
pub fn execute(db: &Db, plan: &Plan, mut progress: impl FnMut(usize)) -> Result<Imported, DbError> {
    let mut done = 0;
    for batch in plan.cities.chunks(BATCH) {
        db.write(|tx| import_cities(tx, batch))?;
        done += batch.len();
        progress(done);
    }
    for batch in plan.partnerships.chunks(BATCH) {
        db.write(|tx| import_partnerships(tx, batch))?;
        done += batch.len();
        progress(done);
    }
    Ok(Imported {
        cities: plan.cities.len(),
        partnerships: plan.partnerships.len(),
    })
}

/// The outcome of an import, for the CLI summary and the API response.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub rows: u64,
    /// Cities created (or, on a dry run, that would be).
    pub cities: usize,
    /// Partnerships created (or, on a dry run, that would be).
    pub partnerships: usize,
    pub rejects: Vec<crate::domain::import::Reject>,
    pub dry_run: bool,
}

/// Parses, plans and (unless `dry_run`) executes an import of CSV text.
pub fn import_csv(
    db: &Db,
    text: &[u8],
    dry_run: bool,
    progress: impl FnMut(usize, usize),
) -> Result<ImportReport, DbError> {
    let rows = crate::domain::import::read_csv(text)
        .map_err(|m| crate::domain::DomainError::new(ErrorCode::InvalidCsv, m))?;
    let existing = db.read(existing)?;
    let plan = crate::domain::import::plan(rows, &existing);
    let total = plan.cities.len() + plan.partnerships.len();
    let mut progress = progress;
    if !dry_run {
        execute(db, &plan, |n| progress(n, total))?;
    }
    Ok(ImportReport {
        rows: plan.rows,
        cities: plan.cities.len(),
        partnerships: plan.partnerships.len(),
        rejects: plan.rejects,
        dry_run,
    })
}
