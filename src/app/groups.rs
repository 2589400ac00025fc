//! Named groups of cities, kept by the administrators or by an association
//! (docs/engagement.md#city-groups).

use crate::db::groups::{GroupRow, GroupSave};
use crate::db::{self, DbError, WriteTx};
use crate::domain::access::require_group_keeper;
use crate::domain::cities::CityCode;
use crate::domain::tokens::{Principal, Role};
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

/// An admin or an association creates a group (`id` `None`) or redefines one. An association
/// keeps the groups it saves; an admin may hand a group to an association token (`keeper`),
/// and otherwise leaves its keeper as it was.
pub fn save(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    id: Option<&str>,
    name: &str,
    cities: &[String],
    keeper: Option<&str>,
) -> Result<GroupRow, DbError> {
    let previous = match id {
        Some(id) => Some(db::groups::require(tx.conn, id)?),
        None => None,
    };
    let group = previous
        .as_ref()
        .map(|g| (g.id.as_str(), g.keeper.as_deref()));
    let caller = require_group_keeper(principal, group)?;
    let keeper = if caller.role == Role::Association {
        let own = caller.token_id.as_str();
        if keeper.is_some_and(|k| k != own) {
            return Err(DomainError::new(
                ErrorCode::NotGroupKeeper,
                "an association keeps the groups it saves; only an admin hands a group to another keeper",
            )
            .into());
        }
        Some(own.to_string())
    } else if let Some(keeper) = keeper {
        if !db::tokens::is_live_association(tx.conn, keeper, tx.now)? {
            return Err(DomainError::new(
                ErrorCode::InvalidGroupKeeper,
                format!("`keeper` {keeper:?} is not the id of a live association token"),
            )
            .into());
        }
        Some(keeper.to_string())
    } else {
        previous.as_ref().and_then(|g| g.keeper.clone())
    };
    let save = GroupSave {
        name,
        cities,
        keeper: keeper.as_deref(),
    };
    db::groups::save(tx, previous, save, Some(&caller.token_id))
}
