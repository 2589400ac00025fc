//! Offices table.

use crate::domain::ErrorCode;
use diesel::prelude::*;

use super::schema::offices;
use super::{DbConn, DbError, WriteTx, cities};
use crate::domain::DomainError;
use crate::domain::entries::{EntryBody, LogEntry, OfficeCreated};
use crate::domain::offices::NewOffice;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = offices)]
pub struct OfficeRow {
    pub id: String,
    pub city: String,
    pub name: String,
    pub created_at: i64,
    pub log_index: i64,
}

pub fn create(tx: &mut WriteTx<'_>, office: NewOffice) -> Result<OfficeRow, DbError> {
    cities::require(tx.conn, &office.city)?;
    let id = uuid::Uuid::now_v7().to_string();
    let entry = LogEntry::new(
        tx.now,
        EntryBody::OfficeCreated(OfficeCreated {
            office: id.clone(),
            city: office.city.to_string(),
            name: office.name.clone(),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    let row = OfficeRow {
        id,
        city: office.city.to_string(),
        name: office.name,
        created_at: tx.now,
        log_index,
    };
    diesel::insert_into(offices::table)
        .values(&row)
        .execute(tx.conn)?;
    Ok(row)
}

pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<OfficeRow>, DbError> {
    Ok(offices::table
        .filter(offices::id.eq(id))
        .select(OfficeRow::as_select())
        .first(conn)
        .optional()?)
}

/// Loads an office named in a request body, or refuses with `unknown_office`.
pub fn require(conn: &mut DbConn, id: &str) -> Result<OfficeRow, DbError> {
    get(conn, id)?.ok_or_else(|| {
        DomainError::new(
            ErrorCode::UnknownOffice,
            format!("there is no office `{id}`"),
        )
        .into()
    })
}
