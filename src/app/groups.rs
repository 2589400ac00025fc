//! Named groups of cities, kept by an administrator (docs/engagement.md#city-groups).

use crate::db::groups::GroupRow;
use crate::db::{self, DbError, WriteTx};
use crate::domain::access::require_admin;
use crate::domain::cities::CityCode;
use crate::domain::tokens::Principal;
use crate::domain::{DomainError, ErrorCode};

/// A group's name and cities, checked by the verifier's rule and sorted as they are logged.
pub fn validate(name: &str, cities: &[String]) -> Result<(String, Vec<String>), DomainError> {
    let name = name.trim().to_string();
    let mut codes = cities
        .iter()
        .map(|c| CityCode::parse(c.trim()).map(|c| c.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    codes.sort();
    let before = codes.len();
    codes.dedup();
    if codes.len() != before {
        return Err(DomainError::new(
            ErrorCode::InvalidCityGroup,
            "a group names each city once",
        ));
    }
    amity_verify::outcomes::check_group(&name, &codes)
        .map_err(|m| DomainError::new(ErrorCode::InvalidCityGroup, m))?;
    Ok((name, codes))
}

/// An admin creates a group (`id` `None`) or redefines one.
pub fn save(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    id: Option<&str>,
    name: &str,
    cities: &[String],
) -> Result<GroupRow, DbError> {
    let admin = require_admin(principal)?;
    db::groups::save(tx, id, name, cities, Some(&admin.token_id))
}
