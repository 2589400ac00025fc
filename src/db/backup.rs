//! `amity backup FILE`: a consistent copy of a live SQLite registry.
//!
//! `VACUUM INTO` runs as one read transaction, so with WAL it copies the database as of one
//! commit while the server keeps writing (writers are not blocked, and no half-applied write
//! can be in the copy: a log entry and the row it records always commit together). PostgreSQL
//! has its own tools for this (pg_dump / pg_restore, see docs/operations.md), so this refuses such URLs.

use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::{Db, DbConn, DbError, DbTarget};

/// What was copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Log entries in the copy (the tree size a checkpoint of it would have).
    pub log_size: i64,
}

/// Copies the SQLite database at `database_url` to the new file `dest`.
pub fn backup(database_url: &str, dest: &Path) -> Result<BackupReport, DbError> {
    let source = match DbTarget::parse(database_url)? {
        DbTarget::Sqlite(path) => path,
        DbTarget::Postgres(_) => {
            return Err(DbError::Config(
                "`amity backup` copies SQLite databases; for PostgreSQL use \
                 `pg_dump --format=custom --file=FILE DATABASE_URL` and restore with \
                 `pg_restore --dbname=NEW_DATABASE_URL FILE` (see docs/operations.md, Backups)"
                    .into(),
            ));
        }
    };
    // Opening a missing file would create an empty registry and back that up.
    if !Path::new(&source).is_file() {
        return Err(DbError::Config(format!(
            "there is no SQLite database at `{source}`"
        )));
    }
    if dest.exists() {
        return Err(DbError::Config(format!(
            "`{}` already exists; a backup never overwrites a file",
            dest.display()
        )));
    }
    let dest_text = dest
        .to_str()
        .ok_or_else(|| DbError::Config("the backup path must be valid UTF-8".into()))?;
    let db = Db::open(database_url, 1)?;
    db.read(|conn| {
        let DbConn::Sqlite(sqlite) = conn else {
            return Err(DbError::Config("not a SQLite database".into()));
        };
        diesel::sql_query("VACUUM INTO ?")
            .bind::<Text, _>(dest_text)
            .execute(sqlite)?;
        Ok(())
    })?;
    // Check the copy as a registry in its own right before calling it a backup.
    let copy = Db::open(&format!("sqlite://{dest_text}"), 1)?;
    copy.read(|conn| {
        let DbConn::Sqlite(sqlite) = conn else {
            return Err(DbError::Config("not a SQLite database".into()));
        };
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = Text)]
            integrity_check: String,
        }
        let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check").load(sqlite)?;
        match rows.first() {
            Some(r) if r.integrity_check == "ok" => Ok(()),
            _ => Err(DbError::Config(format!(
                "the copy at `{dest_text}` fails SQLite's integrity check"
            ))),
        }
    })?;
    let log_size = copy.read(super::log::size)?;
    Ok(BackupReport { log_size })
}
