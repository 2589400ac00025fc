//! Queries the web pages need beyond the API's: counts and map data.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::schema::{cities, mous, partnerships};
use super::{DbConn, DbError};

/// Partnerships per status, and the number of cities.
pub fn counts(conn: &mut DbConn) -> Result<(BTreeMap<String, i64>, i64), DbError> {
    let rows: Vec<(String, i64)> = partnerships::table
        .group_by(partnerships::status)
        .select((partnerships::status, diesel::dsl::count_star()))
        .load(conn)?;
    let cities: i64 = cities::table.count().get_result(conn)?;
    Ok((rows.into_iter().collect(), cities))
}

/// A line on the map: two ends in microdegrees and the partnership's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapLine {
    pub a: (i64, i64),
    pub b: (i64, i64),
    pub status: String,
}

type Ends = (String, Option<i64>, Option<i64>);

/// Every partnership with coordinates at both ends, optionally only those of `city`.
pub fn map_lines(conn: &mut DbConn, city: Option<&str>) -> Result<Vec<MapLine>, DbError> {
    let coords: Vec<Ends> = match city {
        None => cities::table
            .select((cities::code, cities::lat_e6, cities::lon_e6))
            .load(conn)?,
        Some(_) => Vec::new(),
    };
    let mut q = partnerships::table
        .select((
            partnerships::city_a,
            partnerships::city_b,
            partnerships::status,
        ))
        .into_boxed();
    if let Some(c) = city {
        q = q.filter(
            partnerships::city_a
                .eq(c.to_string())
                .or(partnerships::city_b.eq(c.to_string())),
        );
    }
    let pairs: Vec<(String, String, String)> = q.order(partnerships::id.asc()).load(conn)?;
    let coords: std::collections::HashMap<String, (i64, i64)> = if city.is_some() {
        // Only the cities on these lines.
        let mut out = std::collections::HashMap::new();
        for (a, b, _) in &pairs {
            for code in [a, b] {
                if out.contains_key(code) {
                    continue;
                }
                let row: Option<(Option<i64>, Option<i64>)> = cities::table
                    .filter(cities::code.eq(code))
                    .select((cities::lat_e6, cities::lon_e6))
                    .first(conn)
                    .optional()?;
                if let Some((Some(lat), Some(lon))) = row {
                    out.insert(code.clone(), (lat, lon));
                }
            }
        }
        out
    } else {
        coords
            .into_iter()
            .filter_map(|(code, lat, lon)| Some((code, (lat?, lon?))))
            .collect()
    };
    Ok(pairs
        .into_iter()
        .filter_map(|(a, b, status)| {
            Some(MapLine {
                a: *coords.get(&a)?,
                b: *coords.get(&b)?,
                status,
            })
        })
        .collect())
}

/// MOUs of a partnership: (id, title, state).
pub fn mous_of(
    conn: &mut DbConn,
    partnership: &crate::domain::PartnershipId,
) -> Result<Vec<(String, String, String)>, DbError> {
    Ok(mous::table
        .filter(mous::partnership_id.eq(partnership.as_str()))
        .order(mous::id.asc())
        .select((mous::id, mous::title, mous::state))
        .load(conn)?)
}
