//! World regions as the UN's M49 standard draws them ("Standard country or area codes for
//! statistical use"): the five regions and their subregions, each a set of ISO 3166-1
//! countries. A group briefing can name one (`?region=western-europe`): its cities are the
//! busiest of those countries. The country lists come from the `keshvar` crate's copy of M49.

use keshvar::{Region, SubRegion};

use super::{DomainError, ErrorCode};

/// Every accepted name, in the OpenAPI document's order: regions first, then subregions.
pub const REGION_NAMES: [&str; 27] = [
    "africa",
    "americas",
    "asia",
    "europe",
    "oceania",
    "australia-and-new-zealand",
    "caribbean",
    "central-america",
    "central-asia",
    "eastern-africa",
    "eastern-asia",
    "eastern-europe",
    "melanesia",
    "micronesia",
    "middle-africa",
    "northern-africa",
    "northern-america",
    "northern-europe",
    "polynesia",
    "south-america",
    "south-eastern-asia",
    "southern-africa",
    "southern-asia",
    "southern-europe",
    "western-africa",
    "western-asia",
    "western-europe",
];

/// A region's name (as written in `REGION_NAMES`) and its countries, ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldRegion {
    pub name: String,
    pub countries: Vec<String>,
}

impl WorldRegion {
    pub fn parse(value: &str) -> Result<WorldRegion, DomainError> {
        if !REGION_NAMES.contains(&value) {
            return Err(DomainError::new(
                ErrorCode::UnknownWorldRegion,
                format!(
                    "{value:?} is not a UN M49 region or subregion; one of: {}",
                    REGION_NAMES.join(", ")
                ),
            ));
        }
        let own = |list: &[&str]| list.iter().map(|c| c.to_string()).collect::<Vec<String>>();
        let mut countries = match (Region::try_from(value), SubRegion::try_from(value)) {
            (Ok(region), _) => own(region.alpha2_list()),
            (_, Ok(subregion)) => own(subregion.alpha2_list()),
            // Every name in REGION_NAMES parses (a unit test holds it); answer clearly anyway.
            _ => {
                return Err(DomainError::new(
                    ErrorCode::UnknownWorldRegion,
                    format!("{value:?} has no country list"),
                ));
            }
        };
        countries.sort();
        Ok(WorldRegion {
            name: value.to_string(),
            countries,
        })
    }

    /// "Western Europe" for `western-europe`.
    pub fn title(&self) -> String {
        let words: Vec<String> = self
            .name
            .split('-')
            .map(|w| match w {
                "and" => w.to_string(),
                _ => {
                    let mut chars = w.chars();
                    chars.next().map_or_else(String::new, |first| {
                        first.to_uppercase().chain(chars).collect()
                    })
                }
            })
            .collect();
        words.join(" ").replace("South Eastern", "South-eastern")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_has_countries() {
        for name in REGION_NAMES {
            let region = WorldRegion::parse(name).unwrap();
            assert!(!region.countries.is_empty(), "{name}");
        }
    }

    #[test]
    fn regions_hold_their_countries() {
        let europe = WorldRegion::parse("western-europe").unwrap();
        assert!(europe.countries.contains(&"DE".to_string()));
        assert!(!europe.countries.contains(&"PL".to_string()));
        assert_eq!(europe.title(), "Western Europe");
        let asia = WorldRegion::parse("eastern-asia").unwrap();
        assert!(asia.countries.contains(&"CN".to_string()));
        assert_eq!(
            WorldRegion::parse("south-eastern-asia").unwrap().title(),
            "South-eastern Asia"
        );
        assert_eq!(
            WorldRegion::parse("australia-and-new-zealand")
                .unwrap()
                .title(),
            "Australia and New Zealand"
        );
    }

    #[test]
    fn unknown_names_are_refused() {
        for bad in ["Europe", "mars", "", "europe ", "latin-america"] {
            assert_eq!(
                WorldRegion::parse(bad).unwrap_err().code,
                ErrorCode::UnknownWorldRegion
            );
        }
    }
}
