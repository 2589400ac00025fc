//! Named groups of cities (docs/engagement.md#city-groups): saved whole, each save logged as
//! `city_group.saved` with the next `seq`.

use diesel::prelude::*;

use super::schema::city_groups;
use super::{DbConn, DbError, WriteTx};
use crate::domain::entries::{CityGroupSaved, EntryBody, LogEntry};
use crate::domain::ids::TokenId;
use crate::domain::{DomainError, ErrorCode};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = city_groups)]
pub struct GroupRow {
    pub id: String,
    pub seq: i32,
    pub name: String,
    pub name_key: String,
    pub cities: String,
    pub updated_at: i64,
    pub log_index: i64,
    /// The association token that keeps the group; `None`: the administrators.
    pub keeper: Option<String>,
}

impl GroupRow {
    pub fn city_codes(&self) -> Vec<String> {
        self.cities.split(',').map(str::to_string).collect()
    }
}

fn not_found(id: &str) -> DomainError {
    DomainError::new(
        ErrorCode::CityGroupNotFound,
        format!("no city group `{id}`"),
    )
}

/// What a save writes: the group's name, cities (ascending, distinct: the caller checked)
/// and keeper.
pub struct GroupSave<'a> {
    pub name: &'a str,
    pub cities: &'a [String],
    pub keeper: Option<&'a str>,
}

/// Saves `group` as `previous` (`None`: a new group) redefined, logging the save; `token` is
/// the caller's, who may (the caller checked).
pub fn save(
    tx: &mut WriteTx<'_>,
    previous: Option<GroupRow>,
    group: GroupSave<'_>,
    token: Option<&TokenId>,
) -> Result<GroupRow, DbError> {
    let GroupSave {
        name,
        cities,
        keeper,
    } = group;
    let id = previous.as_ref().map(|p| p.id.as_str());
    for code in cities {
        if super::cities::get(tx.conn, code)?.is_none() {
            return Err(
                DomainError::new(ErrorCode::UnknownCity, format!("no city `{code}`")).into(),
            );
        }
    }
    let key = name.to_lowercase();
    let taken: Option<String> = city_groups::table
        .filter(city_groups::name_key.eq(&key))
        .select(city_groups::id)
        .first(tx.conn)
        .optional()?;
    if taken.is_some_and(|other| Some(other.as_str()) != id) {
        return Err(DomainError::new(
            ErrorCode::CityGroupNameTaken,
            format!("another city group is named {name:?}"),
        )
        .into());
    }
    let mut row = GroupRow {
        id: id.map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_string),
        seq: previous.as_ref().map_or(1, |p| p.seq + 1),
        name: name.to_string(),
        name_key: key,
        cities: cities.join(","),
        updated_at: tx.now,
        log_index: 0,
        keeper: keeper.map(str::to_string),
    };
    let entry = LogEntry::new(
        tx.now,
        EntryBody::CityGroupSaved(CityGroupSaved {
            group: row.id.clone(),
            seq: i64::from(row.seq),
            name: row.name.clone(),
            cities: cities.to_vec(),
            keeper: row.keeper.clone(),
            by: token.map(|t| t.as_str().to_string()),
        }),
    )?;
    row.log_index = tx.append(&entry)?;
    if previous.is_some() {
        diesel::update(city_groups::table.find(&row.id))
            .set(&row)
            .execute(tx.conn)?;
    } else {
        diesel::insert_into(city_groups::table)
            .values(&row)
            .execute(tx.conn)?;
    }
    Ok(row)
}

pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<GroupRow>, DbError> {
    Ok(city_groups::table
        .find(id)
        .select(GroupRow::as_select())
        .first(conn)
        .optional()?)
}

/// Group `id`, or 404.
pub fn require(conn: &mut DbConn, id: &str) -> Result<GroupRow, DbError> {
    get(conn, id)?.ok_or_else(|| not_found(id).into())
}

/// Groups by name, one page of `limit + 1` after `after` (a name key).
pub fn list(conn: &mut DbConn, after: Option<&str>, limit: i64) -> Result<Vec<GroupRow>, DbError> {
    let mut q = city_groups::table
        .select(GroupRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(city_groups::name_key.gt(after.to_string()));
    }
    Ok(q.order(city_groups::name_key).limit(limit + 1).load(conn)?)
}
