//! Cities table.

use crate::domain::ErrorCode;
use diesel::prelude::*;

use super::error::is_unique_violation;
use super::schema::{cities, offices};
use super::{DbConn, DbError, WriteTx};
use crate::domain::DomainError;
use crate::domain::cities::{City, CityCode};
use crate::domain::entries::{CityCreated, EntryBody, LogEntry};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cities)]
pub struct CityRow {
    pub code: String,
    pub name: String,
    pub name_key: String,
    pub country: String,
    pub region: Option<String>,
    pub wikidata: Option<String>,
    pub geonames_id: Option<i64>,
    pub unlocode: Option<String>,
    pub lat_e6: Option<i64>,
    pub lon_e6: Option<i64>,
    pub created_at: i64,
    pub log_index: i64,
}

/// A stored city with its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct CityRecord {
    pub city: City,
    pub created_at: i64,
    pub log_index: i64,
}

impl TryFrom<CityRow> for CityRecord {
    type Error = DbError;

    fn try_from(row: CityRow) -> Result<Self, DbError> {
        let code = CityCode::parse(&row.code).map_err(|e| DbError::corrupt(e.message))?;
        Ok(CityRecord {
            city: City {
                code,
                name: row.name,
                country: row.country,
                region: row.region,
                wikidata: row.wikidata,
                geonames_id: row.geonames_id,
                unlocode: row.unlocode,
                lat_e6: row.lat_e6,
                lon_e6: row.lon_e6,
            },
            created_at: row.created_at,
            log_index: row.log_index,
        })
    }
}

/// The search key for name prefixes: lower case, so `q=hou` finds Houston.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The log entry that records a city's creation.
pub fn created_entry(city: &City, now: i64) -> Result<LogEntry, DomainError> {
    LogEntry::new(
        now,
        EntryBody::CityCreated(CityCreated {
            city: city.code.to_string(),
            name: city.name.clone(),
            country: city.country.clone(),
            region: city.region.clone(),
            wikidata: city.wikidata.clone(),
            geonames_id: city.geonames_id,
            unlocode: city.unlocode.clone(),
            lat_e6: city.lat_e6,
            lon_e6: city.lon_e6,
        }),
    )
}

impl CityRow {
    pub fn new(city: &City, now: i64, log_index: i64) -> CityRow {
        CityRow {
            code: city.code.to_string(),
            name: city.name.clone(),
            name_key: name_key(&city.name),
            country: city.country.clone(),
            region: city.region.clone(),
            wikidata: city.wikidata.clone(),
            geonames_id: city.geonames_id,
            unlocode: city.unlocode.clone(),
            lat_e6: city.lat_e6,
            lon_e6: city.lon_e6,
            created_at: now,
            log_index,
        }
    }
}

/// Creates a city and its log entry.
pub fn create(tx: &mut WriteTx<'_>, city: City) -> Result<CityRecord, DbError> {
    if exists(tx.conn, &city.code)? {
        return Err(DomainError::new(
            ErrorCode::CityExists,
            format!("a city with code `{}` already exists", city.code),
        )
        .into());
    }
    let log_index = tx.append(&created_entry(&city, tx.now)?)?;
    let row = CityRow::new(&city, tx.now, log_index);
    diesel::insert_into(cities::table)
        .values(&row)
        .execute(tx.conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                DomainError::new(
                    ErrorCode::CityExists,
                    "a city with this code already exists",
                )
                .into()
            } else {
                DbError::from(e)
            }
        })?;
    CityRecord::try_from(row)
}

pub fn exists(conn: &mut DbConn, code: &CityCode) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        cities::table.filter(cities::code.eq(code.as_str())),
    ))
    .get_result(conn)?)
}

pub fn get(conn: &mut DbConn, code: &str) -> Result<Option<CityRecord>, DbError> {
    cities::table
        .filter(cities::code.eq(code))
        .select(CityRow::as_select())
        .first(conn)
        .optional()?
        .map(CityRecord::try_from)
        .transpose()
}

/// Loads a city named in a request body, or refuses with `unknown_city`.
pub fn require(conn: &mut DbConn, code: &CityCode) -> Result<CityRecord, DbError> {
    get(conn, code.as_str())?.ok_or_else(|| {
        DomainError::new(ErrorCode::UnknownCity, format!("there is no city `{code}`")).into()
    })
}

/// Loads the city a path names, or answers 404 `city_not_found`.
pub fn require_in_path(conn: &mut DbConn, code: &CityCode) -> Result<CityRecord, DbError> {
    get(conn, code.as_str())?.ok_or_else(|| {
        DomainError::new(ErrorCode::CityNotFound, format!("no city `{code}`")).into()
    })
}

#[derive(Debug, Clone, Default)]
pub struct CityFilter {
    pub country: Option<String>,
    /// Name prefix, any case.
    pub q: Option<String>,
    /// Return codes after this one (cursor).
    pub after: Option<String>,
    pub limit: i64,
}

/// Cities in code order, one page; `limit + 1` rows are read so the caller knows if more follow.
pub fn list(conn: &mut DbConn, filter: &CityFilter) -> Result<Vec<CityRecord>, DbError> {
    let mut query = cities::table.select(CityRow::as_select()).into_boxed();
    if let Some(country) = &filter.country {
        query = query.filter(cities::country.eq(country.clone()));
    }
    if let Some(q) = &filter.q {
        // Names hold no control characters (`text::required_line`), so a prefix with one
        // matches nothing; and PostgreSQL text cannot hold U+0000, which it refuses as an error.
        if q.chars().any(char::is_control) {
            return Ok(Vec::new());
        }
        // A range instead of LIKE: no wildcard escaping, and it uses the index on both backends.
        let low = name_key(q);
        let high = format!("{low}\u{10FFFF}");
        query = query.filter(cities::name_key.ge(low).and(cities::name_key.lt(high)));
    }
    if let Some(after) = &filter.after {
        query = query.filter(cities::code.gt(after.clone()));
    }
    query
        .order(cities::code.asc())
        .limit(filter.limit + 1)
        .load(conn)?
        .into_iter()
        .map(CityRecord::try_from)
        .collect()
}

/// (code, name) of every city of a country, for the look-alike name check.
pub fn names_in_country(
    conn: &mut DbConn,
    country: &str,
) -> Result<Vec<(String, String)>, DbError> {
    Ok(cities::table
        .filter(cities::country.eq(country))
        .select((cities::code, cities::name))
        .load(conn)?)
}

/// Offices of a city: (id, name).
pub fn offices_of(conn: &mut DbConn, code: &str) -> Result<Vec<(String, String)>, DbError> {
    Ok(offices::table
        .filter(offices::city.eq(code))
        .order(offices::id.asc())
        .select((offices::id, offices::name))
        .load(conn)?)
}
