//! Embedded migrations, one set per backend with the same version names.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{Backend, DbConn, DbError};

pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies pending migrations; returns the names of those it applied (version and title, as
/// the migration directories are named), oldest first.
pub fn run(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let (applied, backend) = match conn {
        DbConn::Sqlite(c) => (c.run_pending_migrations(SQLITE), Backend::Sqlite),
        DbConn::Pg(c) => (c.run_pending_migrations(POSTGRES), Backend::Postgres),
    };
    let applied: Vec<String> = applied
        .map_err(|e| DbError::Migration(e.to_string()))?
        .iter()
        .map(|v| v.to_string())
        .collect();
    // A version is the directory name's date part without its dashes.
    Ok(names(backend)?
        .into_iter()
        .filter(|name| {
            let version: String = name
                .split('_')
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| *c != '-')
                .collect();
            applied.contains(&version)
        })
        .collect())
}

/// The migration names a backend embeds, in order.
pub fn names(backend: Backend) -> Result<Vec<String>, DbError> {
    use diesel::migration::MigrationSource;
    let set = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    let list = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&set)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(list.iter().map(|m| m.name().to_string()).collect())
}
