//! Cities: stable codes, ISO 3166 countries and regions, external identifiers, coordinates.

use super::DomainError;
use super::text::{NAME_MAX, required_line};
use crate::domain::ErrorCode;

/// A validated city code such as `us-hou`: the ISO 3166-1 alpha-2 country in lower case, a dash,
/// and a local part of 2 to 29 lower-case letters, digits or dashes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CityCode(String);

impl CityCode {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let bad = |why: &str| {
            DomainError::new(
                ErrorCode::InvalidCityCode,
                format!(
                    "city code {value:?} {why}; a code is the lower-case ISO country, a dash and \
                     2-29 lower-case letters, digits or dashes, e.g. `us-hou`"
                ),
            )
        };
        let b = value.as_bytes();
        if b.len() < 5 || b.len() > 32 {
            return Err(bad("has the wrong length"));
        }
        let [c0, c1, b'-', rest @ ..] = b else {
            return Err(bad("does not start with a country and a dash"));
        };
        if !(c0.is_ascii_lowercase() && c1.is_ascii_lowercase()) {
            return Err(bad("does not start with a country and a dash"));
        }
        if !rest
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        {
            return Err(bad("has characters outside a-z, 0-9 and -"));
        }
        Ok(CityCode(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The country part, upper case (`us-hou` -> `US`).
    pub fn country(&self) -> String {
        self.0[..2].to_ascii_uppercase()
    }
}

impl std::fmt::Display for CityCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates an ISO 3166-1 alpha-2 country code (upper case, an assigned code).
pub fn parse_country(value: &str) -> Result<String, DomainError> {
    let upper_ok = value.len() == 2 && value.bytes().all(|c| c.is_ascii_uppercase());
    if upper_ok && rust_iso3166::from_alpha2(value).is_some() {
        return Ok(value.to_string());
    }
    Err(DomainError::new(
        ErrorCode::UnknownCountry,
        format!("{value:?} is not an ISO 3166-1 alpha-2 country code (e.g. `US`, `CN`, `DE`)"),
    ))
}

/// The English short name of a country code, when the code is known.
pub fn country_name(alpha2: &str) -> Option<String> {
    rust_iso3166::from_alpha2(alpha2).map(|c| c.name.to_string())
}

/// The input for a new city, as it arrives from the API or the CLI.
#[derive(Debug, Clone, Default)]
pub struct CityInput {
    pub code: String,
    pub name: String,
    pub country: String,
    pub region: Option<String>,
    pub wikidata: Option<String>,
    pub geonames_id: Option<i64>,
    pub unlocode: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// A city that passed every check. Coordinates are kept as integer microdegrees so that they
/// survive storage and canonical JSON exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    pub code: CityCode,
    pub name: String,
    pub country: String,
    pub region: Option<String>,
    pub wikidata: Option<String>,
    pub geonames_id: Option<i64>,
    pub unlocode: Option<String>,
    pub lat_e6: Option<i64>,
    pub lon_e6: Option<i64>,
}

impl City {
    pub fn validate(input: CityInput) -> Result<City, DomainError> {
        let code = CityCode::parse(&input.code)?;
        let name = required_line("name", &super::names::normalize(&input.name), NAME_MAX)?;
        let country = parse_country(&input.country)?;
        if code.country() != country {
            return Err(DomainError::new(
                ErrorCode::CityCodeCountryMismatch,
                format!(
                    "city code `{code}` must start with the city's country `{}`",
                    country.to_ascii_lowercase()
                ),
            ));
        }
        let region = match input.region.as_deref() {
            None | Some("") => None,
            Some(r) => Some(parse_region(r, &country)?),
        };
        let wikidata = match input.wikidata.as_deref() {
            None | Some("") => None,
            Some(w) => Some(parse_wikidata(w)?),
        };
        if input
            .geonames_id
            .is_some_and(|id| !(1..=999_999_999).contains(&id))
        {
            return Err(DomainError::new(
                ErrorCode::InvalidGeonamesId,
                "`geonames_id` must be a positive GeoNames id",
            ));
        }
        let unlocode = match input.unlocode.as_deref() {
            None | Some("") => None,
            Some(u) => Some(parse_unlocode(u, &country)?),
        };
        let (lat_e6, lon_e6) = match (input.lat, input.lon) {
            (None, None) => (None, None),
            (Some(lat), Some(lon)) => {
                let (a, o) = coordinates_e6(lat, lon)?;
                (Some(a), Some(o))
            }
            _ => {
                return Err(DomainError::new(
                    ErrorCode::InvalidCoordinates,
                    "give both `lat` and `lon`, or neither",
                ));
            }
        };
        Ok(City {
            code,
            name,
            country,
            region,
            wikidata,
            geonames_id: input.geonames_id,
            unlocode,
            lat_e6,
            lon_e6,
        })
    }
}

/// Converts degrees to microdegrees after range checks.
pub fn coordinates_e6(lat: f64, lon: f64) -> Result<(i64, i64), DomainError> {
    let in_range = lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon);
    if !in_range {
        return Err(DomainError::new(
            ErrorCode::InvalidCoordinates,
            "`lat` must be within -90..90 and `lon` within -180..180",
        ));
    }
    Ok(((lat * 1e6).round() as i64, (lon * 1e6).round() as i64))
}

/// Microdegrees back to degrees for display.
pub fn degrees(e6: i64) -> f64 {
    e6 as f64 / 1e6
}

pub(crate) fn parse_region(value: &str, country: &str) -> Result<String, DomainError> {
    let known = rust_iso3166::iso3166_2::from_code(value).is_some();
    if !known || !value.starts_with(&format!("{country}-")) {
        return Err(DomainError::new(
            ErrorCode::InvalidRegion,
            format!("{value:?} is not an ISO 3166-2 subdivision of {country} (e.g. `US-TX`)"),
        ));
    }
    Ok(value.to_string())
}

pub(crate) fn parse_wikidata(value: &str) -> Result<String, DomainError> {
    let ok = value.len() <= 12
        && value.starts_with('Q')
        && value[1..].bytes().all(|c| c.is_ascii_digit())
        && value.len() > 1
        && !value[1..].starts_with('0');
    if ok {
        Ok(value.to_string())
    } else {
        Err(DomainError::new(
            ErrorCode::InvalidWikidataId,
            format!("{value:?} is not a Wikidata item id (e.g. `Q16555`)"),
        ))
    }
}

/// UN/LOCODE: the country code and three letters or digits 2-9, with or without a space.
pub(crate) fn parse_unlocode(value: &str, country: &str) -> Result<String, DomainError> {
    let compact: String = value.chars().filter(|c| *c != ' ').collect();
    let b = compact.as_bytes();
    let ok = b.len() == 5
        && compact.starts_with(country)
        && b.iter()
            .skip(2)
            .all(|c| c.is_ascii_uppercase() || (b'2'..=b'9').contains(c));
    if ok {
        Ok(compact)
    } else {
        Err(DomainError::new(
            ErrorCode::InvalidUnlocode,
            format!("{value:?} is not a UN/LOCODE of {country} (e.g. `USHOU`)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn houston() -> CityInput {
        CityInput {
            code: "us-hou".into(),
            name: "Houston".into(),
            country: "US".into(),
            region: Some("US-TX".into()),
            wikidata: Some("Q16555".into()),
            geonames_id: Some(4699066),
            unlocode: Some("US HOU".into()),
            lat: Some(29.7604),
            lon: Some(-95.3698),
        }
    }

    #[test]
    fn accepts_a_full_city() {
        let c = City::validate(houston()).unwrap();
        assert_eq!(c.unlocode.as_deref(), Some("USHOU"));
        assert_eq!((c.lat_e6, c.lon_e6), (Some(29_760_400), Some(-95_369_800)));
    }

    #[test]
    fn refuses_bad_fields() {
        type Edit = fn(&mut CityInput);
        let cases: Vec<(Edit, &str)> = vec![
            (|c| c.code = "US-HOU".into(), "invalid_city_code"),
            (|c| c.code = "us hou".into(), "invalid_city_code"),
            (|c| c.code = "us-h".into(), "invalid_city_code"),
            (|c| c.code = "cn-hou".into(), "city_code_country_mismatch"),
            (|c| c.country = "XX".into(), "unknown_country"),
            (|c| c.country = "us".into(), "unknown_country"),
            (|c| c.region = Some("DE-BY".into()), "invalid_region"),
            (|c| c.region = Some("US-ZZ".into()), "invalid_region"),
            (|c| c.wikidata = Some("16555".into()), "invalid_wikidata_id"),
            (|c| c.geonames_id = Some(0), "invalid_geonames_id"),
            (|c| c.unlocode = Some("DEHAM".into()), "invalid_unlocode"),
            (|c| c.lat = Some(91.0), "invalid_coordinates"),
            (|c| c.lon = None, "invalid_coordinates"),
            (|c| c.lat = Some(f64::NAN), "invalid_coordinates"),
            (|c| c.name = "x".repeat(10_000), "field_too_long"),
        ];
        for (edit, code) in cases {
            let mut input = houston();
            edit(&mut input);
            assert_eq!(City::validate(input).unwrap_err().code, code);
        }
    }
}
