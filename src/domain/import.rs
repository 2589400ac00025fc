//! Bulk import of the partnership list format (`city1,country1,lat1,lng1,city2,country2,lat2,
//! lng2`): country names to ISO codes, stable city codes, and the plan of what to create. Pure:
//! the caller supplies what the registry already holds and executes the plan.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::cities::coordinates_e6;

/// Why a row was not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    Malformed,
    EmptyCity,
    EmptyCountry,
    UnknownCountry,
    InvalidCoordinates,
    SameCity,
    Duplicate,
    AlreadyRegistered,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed_row",
            RejectReason::EmptyCity => "empty_city",
            RejectReason::EmptyCountry => "empty_country",
            RejectReason::UnknownCountry => "unknown_country",
            RejectReason::InvalidCoordinates => "invalid_coordinates",
            RejectReason::SameCity => "same_city",
            RejectReason::Duplicate => "duplicate",
            RejectReason::AlreadyRegistered => "already_registered",
        }
    }
}

/// A refused row: its line in the file (the header is line 1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub line: u64,
    pub reason: RejectReason,
    pub detail: String,
}

/// English country names in the data that are not ISO 3166-1 short names: common names,
/// constituent countries, old spellings and plain misspellings found in the real file.
const ALIASES: &[(&str, &str)] = &[
    ("United States", "US"),
    ("United Kingdom", "GB"),
    ("England", "GB"),
    ("Scotland", "GB"),
    ("Wales", "GB"),
    ("Northern Ireland", "GB"),
    ("Russia", "RU"),
    ("Turkey", "TR"),
    ("Czech Republic", "CZ"),
    ("South Korea", "KR"),
    ("North Korea", "KP"),
    ("Taiwan", "TW"),
    ("Iran", "IR"),
    ("Syria", "SY"),
    ("Vietnam", "VN"),
    ("Laos", "LA"),
    ("Bolivia", "BO"),
    ("Venezuela", "VE"),
    ("Tanzania", "TZ"),
    ("Moldova", "MD"),
    ("Moldavia", "MD"),
    ("Palestine", "PS"),
    ("West Bank", "PS"),
    ("Netherlands", "NL"),
    ("Republic of Ireland", "IE"),
    ("Georgia (country)", "GE"),
    ("Cape Verde", "CV"),
    ("Ivory Coast", "CI"),
    ("Democratic Republic of the Congo", "CD"),
    ("São Tomé and Príncipe", "ST"),
    ("Brunei", "BN"),
    ("East Timor", "TL"),
    ("Federated States of Micronesia", "FM"),
    ("Micronesia", "FM"),
    ("Falkland Islands", "FK"),
    ("Surinam", "SR"),
    ("Bosnia and Hercegovina", "BA"),
    ("Madagaskar", "MG"),
    ("Grece", "GR"),
    ("Kazakhstah", "KZ"),
    // "Island" is Iceland in the Nordic languages; the one row using it pairs Icelandic towns.
    ("Island", "IS"),
    ("in Italy", "IT"),
];

/// Resolves a country name from the data to an ISO 3166-1 alpha-2 code: an ISO short name, an
/// alias, or `Region, Country` (the region wins when it is itself a country or territory with
/// its own code, such as `Réunion, France`).
pub fn resolve_country(name: &str) -> Option<&'static str> {
    let name = name.trim();
    let direct = |n: &str| -> Option<&'static str> {
        rust_iso3166::ALL
            .iter()
            .find(|c| c.name == n)
            .map(|c| c.alpha2)
            .or_else(|| ALIASES.iter().find(|(a, _)| *a == n).map(|(_, code)| *code))
    };
    if let Some(code) = direct(name) {
        return Some(code);
    }
    let (region, country) = name.rsplit_once(", ")?;
    direct(region.trim()).or_else(|| direct(country.trim()))
}

/// The local part of a city code: the name transliterated to ASCII, lower case, runs of other
/// characters as one dash, 2 to 26 characters (room for a `-N` suffix on collisions).
pub fn slug(name: &str) -> String {
    let ascii = deunicode::deunicode(name).to_ascii_lowercase();
    let mut out = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    out.truncate(26);
    let mut out = out.trim_end_matches('-').to_string();
    match out.len() {
        0 => out.push_str("city"),
        1 => out.push_str("-x"),
        _ => {}
    }
    out
}

/// One side of a row.
#[derive(Debug, Clone, PartialEq)]
struct End {
    name: String,
    country: &'static str,
    lat_e6: i64,
    lon_e6: i64,
}

/// A city the import will create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCity {
    pub code: String,
    pub name: String,
    pub country: String,
    pub lat_e6: i64,
    pub lon_e6: i64,
}

/// What the registry holds already, as far as the import cares.
#[derive(Debug, Default)]
pub struct Existing {
    /// (country, name) -> code.
    pub cities: HashMap<(String, String), String>,
    /// Every code in use.
    pub codes: HashSet<String>,
    /// Canonical (code_a, code_b) pairs with an open partnership of the imported kind.
    pub open_pairs: HashSet<(String, String)>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub cities: Vec<PlannedCity>,
    /// Canonical pairs of city codes, in file order.
    pub partnerships: Vec<(String, String)>,
    pub rejects: Vec<Reject>,
    pub rows: u64,
}

impl Plan {
    pub fn rejects_by_reason(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for r in &self.rejects {
            *out.entry(r.reason.as_str()).or_insert(0) += 1;
        }
        out
    }
}

/// A row as read from the file.
#[derive(Debug, Clone, Default)]
pub struct RawRow {
    pub line: u64,
    pub fields: Vec<String>,
}

fn parse_end(
    name: &str,
    country: &str,
    lat: &str,
    lon: &str,
) -> Result<End, (RejectReason, String)> {
    // One Unicode form, as for cities registered through the API (see domain::names).
    let name = super::names::normalize(name.trim());
    let name = name.as_str();
    if name.is_empty() {
        return Err((RejectReason::EmptyCity, "a city name is empty".into()));
    }
    if name.chars().count() > super::text::NAME_MAX || name.chars().any(char::is_control) {
        return Err((
            RejectReason::Malformed,
            format!("city name {name:?} is not usable"),
        ));
    }
    if country.trim().is_empty() {
        return Err((RejectReason::EmptyCountry, format!("{name} has no country")));
    }
    let code = resolve_country(country).ok_or_else(|| {
        (
            RejectReason::UnknownCountry,
            format!("{country:?} is not an ISO 3166-1 country"),
        )
    })?;
    let coords = lat
        .trim()
        .parse::<f64>()
        .ok()
        .zip(lon.trim().parse::<f64>().ok())
        .and_then(|(a, o)| coordinates_e6(a, o).ok());
    let (lat_e6, lon_e6) = coords.ok_or_else(|| {
        (
            RejectReason::InvalidCoordinates,
            format!("{name}: coordinates {lat:?}, {lon:?} are not valid"),
        )
    })?;
    Ok(End {
        name: name.to_string(),
        country: code,
        lat_e6,
        lon_e6,
    })
}

/// Builds the plan: which cities to create (with codes unique across the registry and stable
/// for the same file and registry), which partnerships, which rows to refuse and why.
pub fn plan(rows: impl IntoIterator<Item = RawRow>, existing: &Existing) -> Plan {
    let mut plan = Plan::default();
    let mut codes = existing.codes.clone();
    let mut known: HashMap<(String, String), String> = existing.cities.clone();
    let mut pairs: HashSet<(String, String)> = HashSet::new();
    for row in rows {
        plan.rows += 1;
        let reject = |plan: &mut Plan, reason, detail: String| {
            plan.rejects.push(Reject {
                line: row.line,
                reason,
                detail,
            })
        };
        let [c1, k1, a1, o1, c2, k2, a2, o2] = row.fields.as_slice() else {
            reject(
                &mut plan,
                RejectReason::Malformed,
                format!("expected 8 fields, found {}", row.fields.len()),
            );
            continue;
        };
        let ends = parse_end(c1, k1, a1, o1).and_then(|e1| Ok((e1, parse_end(c2, k2, a2, o2)?)));
        let (e1, e2) = match ends {
            Ok(e) => e,
            Err((reason, detail)) => {
                reject(&mut plan, reason, detail);
                continue;
            }
        };
        if (e1.country, &e1.name) == (e2.country, &e2.name) {
            reject(
                &mut plan,
                RejectReason::SameCity,
                format!("{} is paired with itself", e1.name),
            );
            continue;
        }
        let mut code_of = |e: &End, plan: &mut Plan| -> String {
            let key = (e.country.to_string(), e.name.clone());
            if let Some(code) = known.get(&key) {
                return code.clone();
            }
            let base = format!("{}-{}", e.country.to_ascii_lowercase(), slug(&e.name));
            let mut code = base.clone();
            let mut n = 2;
            while codes.contains(&code) {
                code = format!("{base}-{n}");
                n += 1;
            }
            codes.insert(code.clone());
            known.insert(key, code.clone());
            plan.cities.push(PlannedCity {
                code: code.clone(),
                name: e.name.clone(),
                country: e.country.to_string(),
                lat_e6: e.lat_e6,
                lon_e6: e.lon_e6,
            });
            code
        };
        let a = code_of(&e1, &mut plan);
        let b = code_of(&e2, &mut plan);
        let pair = if a < b { (a, b) } else { (b, a) };
        if existing.open_pairs.contains(&pair) {
            reject(
                &mut plan,
                RejectReason::AlreadyRegistered,
                format!("{} - {} is already in the registry", e1.name, e2.name),
            );
            continue;
        }
        if !pairs.insert(pair.clone()) {
            reject(
                &mut plan,
                RejectReason::Duplicate,
                format!("{} - {} is already listed", e1.name, e2.name),
            );
            continue;
        }
        plan.partnerships.push(pair);
    }
    plan
}

/// Reads CSV text into raw rows; the header must be the expected one.
pub fn read_csv(text: &[u8]) -> Result<Vec<RawRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let expected = [
        "city1", "country1", "lat1", "lng1", "city2", "country2", "lat2", "lng2",
    ];
    if header != expected {
        return Err(format!(
            "the header must be `{}`, found `{}`",
            expected.join(","),
            header.join(",")
        ));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        match record {
            Ok(r) => rows.push(RawRow {
                line: r.position().map(|p| p.line()).unwrap_or(line),
                fields: r.iter().map(str::to_string).collect(),
            }),
            // A row that is not valid CSV or UTF-8 becomes a malformed row, not a failed import.
            Err(e) => rows.push(RawRow {
                line: e.position().map(|p| p.line()).unwrap_or(line),
                fields: vec![format!("{e}")],
            }),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries() {
        for (name, code) in [
            ("Germany", "DE"),
            ("United States", "US"),
            ("England, United Kingdom", "GB"),
            ("Réunion, France", "RE"),
            ("Åland Islands, Finland", "AX"),
            ("Algarve, Portugal", "PT"),
            ("Georgia", "GE"),
            ("Bosnia and Hercegovina", "BA"),
            ("Bosnia and Herzegovina", "BA"),
        ] {
            assert_eq!(resolve_country(name), Some(code), "{name}");
        }
        for name in [
            "Kosovo",
            "Northern Cyprus",
            "",
            "Atlantis",
            "Varna, Bulgaria, X",
        ] {
            assert_eq!(resolve_country(name), None, "{name}");
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Siemianowice Śląskie"), "siemianowice-slaskie");
        assert_eq!(slug("Vĩnh Yên"), "vinh-yen");
        assert_eq!(slug("Tokyo – Shinagawa"), "tokyo-shinagawa");
        assert_eq!(slug("Y"), "y-x");
        assert_eq!(slug("!!!"), "city");
        assert!(slug(&"a".repeat(100)).len() <= 26);
        let code = format!("fr-{}", slug("Saint-Rémy-de-Provence-et-encore-plus-loin"));
        assert!(
            crate::domain::cities::CityCode::parse(&code).is_ok(),
            "{code}"
        );
    }

    fn row(line: u64, f: [&str; 8]) -> RawRow {
        RawRow {
            line,
            fields: f.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn plan_rejects_and_dedupes() {
        let rows = vec![
            row(
                2,
                [
                    "Berat", "Albania", "40.7", "19.9", "Fermo", "Italy", "43.1", "13.7",
                ],
            ),
            row(
                3,
                [
                    "Fermo", "Italy", "43.1", "13.7", "Berat", "Albania", "40.7", "19.9",
                ],
            ),
            row(
                4,
                [
                    "Berat", "Albania", "40.7", "19.9", "Berat", "Albania", "40.7", "19.9",
                ],
            ),
            row(
                5,
                [
                    "Pristina", "Kosovo", "42.6", "21.1", "Berat", "Albania", "40.7", "19.9",
                ],
            ),
            row(
                6,
                [
                    "Varna", "", "43.2", "27.9", "Berat", "Albania", "40.7", "19.9",
                ],
            ),
            row(
                7,
                [
                    "Florence",
                    "Italy",
                    "43.7",
                    "11.2",
                    "Florence",
                    "United States",
                    "34.8",
                    "-87.6",
                ],
            ),
            row(
                8,
                [
                    "Fermo", "Italy", "x", "13.7", "Berat", "Albania", "40.7", "19.9",
                ],
            ),
            RawRow {
                line: 9,
                fields: vec!["broken".into()],
            },
        ];
        let mut existing = Existing::default();
        existing.codes.insert("al-berat".into());
        let plan = plan(rows, &existing);
        assert_eq!(plan.partnerships.len(), 2);
        let codes: Vec<&str> = plan.cities.iter().map(|c| c.code.as_str()).collect();
        // al-berat is taken by another city already, so Berat gets a suffix.
        assert_eq!(
            codes,
            ["al-berat-2", "it-fermo", "it-florence", "us-florence"]
        );
        let reasons: Vec<(u64, &str)> = plan
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (3, "duplicate"),
                (4, "same_city"),
                (5, "unknown_country"),
                (6, "empty_country"),
                (8, "invalid_coordinates"),
                (9, "malformed_row")
            ]
        );
    }
}

#[cfg(test)]
mod real_file {
    use super::*;

    /// The counts the real data set gives; the integration tests assert the same numbers
    /// after a real import on both backends.
    #[test]
    fn twin_cities_plan() {
        let text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/twin_cities.csv"))
            .expect("data/twin_cities.csv");
        let rows = read_csv(&text).unwrap();
        let plan = plan(rows, &Existing::default());
        assert_eq!(plan.rows, 25_917);
        assert_eq!(plan.cities.len(), 17_117);
        assert_eq!(plan.partnerships.len(), 24_704);
        let reasons: Vec<(&str, u64)> = plan.rejects_by_reason().into_iter().collect();
        // Kosovo (75 rows) and Northern Cyprus (48) have no ISO 3166-1 code; 1,082 pairs are
        // listed twice, on the pages of both continents, with the country spelt differently.
        assert_eq!(
            reasons,
            [
                ("duplicate", 1082),
                ("empty_country", 5),
                ("same_city", 3),
                ("unknown_country", 123)
            ]
        );
        let codes: HashSet<&str> = plan.cities.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes.len(), plan.cities.len(), "codes are unique");
        for c in &plan.cities {
            assert!(
                crate::domain::cities::CityCode::parse(&c.code).is_ok(),
                "{}",
                c.code
            );
        }
    }
}
