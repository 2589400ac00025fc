//! Queries the web pages need beyond the API's: counts and map data.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::schema::{activities, cities, mous, partnerships};
use super::{DbConn, DbError};
use crate::domain::activities::is_dormant;
use crate::domain::briefing::PartnerLine;
use crate::domain::dates::{EstablishedDate, format_date};

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
    /// Active on paper, without a sign of life since the cutoff (see `is_dormant`).
    pub dormant: bool,
}

/// The start date of each partnership's latest activity, for `ids`.
fn last_activities(
    conn: &mut DbConn,
    ids: &[String],
) -> Result<std::collections::HashMap<String, String>, DbError> {
    let mut out = std::collections::HashMap::new();
    // In slices, to keep under SQLite's bound-parameter limit for a city with many ties.
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, Option<String>)> = activities::table
            .filter(activities::partnership_id.eq_any(chunk))
            .group_by(activities::partnership_id)
            .select((
                activities::partnership_id,
                diesel::dsl::max(activities::start_date),
            ))
            .load(conn)?;
        out.extend(rows.into_iter().filter_map(|(id, d)| Some((id, d?))));
    }
    Ok(out)
}

/// A dormant partnership of a city: active on paper, no activity since the cutoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DormantTie {
    pub partnership: String,
    pub partner: String,
    pub partner_name: String,
    pub established: Option<String>,
    pub last_activity: Option<String>,
}

/// The dormant partnerships of `city` at `cutoff` (docs/using.md), the longest silent first.
pub fn dormant_ties(
    conn: &mut DbConn,
    city: &str,
    cutoff: &str,
) -> Result<Vec<DormantTie>, DbError> {
    let partners = super::briefing::partners(conn, city)?;
    dormant_among(conn, &partners, cutoff)
}

/// The dormant ones among a city's partnerships as `briefing::partners` lists them (the city
/// page has that list already): the active ones whose latest activity, or establishment when
/// none is recorded, lies before `cutoff`.
pub fn dormant_among(
    conn: &mut DbConn,
    partners: &[(PartnerLine, String)],
    cutoff: &str,
) -> Result<Vec<DormantTie>, DbError> {
    let active: Vec<&PartnerLine> = partners
        .iter()
        .filter(|(_, status)| status == "active")
        .map(|(line, _)| line)
        .collect();
    let ids: Vec<String> = active.iter().map(|l| l.partnership.clone()).collect();
    let last = last_activities(conn, &ids)?;
    let mut out = Vec::new();
    for line in active {
        let last_activity = last.get(&line.partnership).cloned();
        // The first day of the establishment as recorded: what `established_on` stores.
        let established_on = line
            .established
            .as_deref()
            .and_then(|e| EstablishedDate::parse(e).ok())
            .map(|e| format_date(e.first_day));
        if is_dormant(cutoff, established_on.as_deref(), last_activity.as_deref()) {
            out.push(DormantTie {
                partnership: line.partnership.clone(),
                partner: line.partner_code.clone(),
                partner_name: line.partner_name.clone(),
                established: line.established.clone(),
                last_activity,
            });
        }
    }
    // Never-active ties first, then by the latest sign of life, oldest first.
    out.sort_by(|x, y| {
        (x.last_activity.is_some(), &x.last_activity, &x.partner_name).cmp(&(
            y.last_activity.is_some(),
            &y.last_activity,
            &y.partner_name,
        ))
    });
    Ok(out)
}

type Ends = (String, Option<i64>, Option<i64>);

/// Every partnership with coordinates at both ends, optionally only those of `city`; with a
/// `dormant_cutoff`, the dormant ones among them marked.
pub fn map_lines(
    conn: &mut DbConn,
    city: Option<&str>,
    dormant_cutoff: Option<&str>,
) -> Result<Vec<MapLine>, DbError> {
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
            partnerships::id,
            partnerships::established_on,
        ))
        .into_boxed();
    if let Some(c) = city {
        q = q.filter(
            partnerships::city_a
                .eq(c.to_string())
                .or(partnerships::city_b.eq(c.to_string())),
        );
    }
    let pairs: Vec<(String, String, String, String, Option<String>)> =
        q.order(partnerships::id.asc()).load(conn)?;
    let last = match dormant_cutoff {
        Some(_) => {
            let ids: Vec<String> = pairs.iter().map(|p| p.3.clone()).collect();
            last_activities(conn, &ids)?
        }
        None => std::collections::HashMap::new(),
    };
    let coords: std::collections::HashMap<String, (i64, i64)> = if city.is_some() {
        // Only the cities on these lines.
        let mut out = std::collections::HashMap::new();
        for (a, b, ..) in &pairs {
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
        .filter_map(|(a, b, status, id, established_on)| {
            let dormant = dormant_cutoff.is_some_and(|cutoff| {
                status == "active"
                    && is_dormant(
                        cutoff,
                        established_on.as_deref(),
                        last.get(&id).map(String::as_str),
                    )
            });
            Some(MapLine {
                a: *coords.get(&a)?,
                b: *coords.get(&b)?,
                status,
                dormant,
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
