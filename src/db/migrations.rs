//! Embedded migrations, one set per backend with the same version names.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{Backend, DbConn, DbError};

pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies pending migrations; returns the versions it applied.
pub fn run(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE),
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES),
    }
    .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
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
