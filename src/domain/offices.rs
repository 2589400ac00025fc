//! City offices: the international-affairs office that acts for a city.

use super::DomainError;
use super::cities::CityCode;
use super::text::{NAME_MAX, required_line};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOffice {
    pub city: CityCode,
    pub name: String,
}

impl NewOffice {
    pub fn validate(city: &str, name: &str) -> Result<Self, DomainError> {
        Ok(NewOffice {
            city: CityCode::parse(city)?,
            name: required_line("name", name, NAME_MAX)?,
        })
    }
}
