//! Embedded migrations, one set per backend with the same version names.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{Backend, DbConn, DbError};

pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies pending migrations; returns the names of those it applied (as their directories
/// are named), oldest first.
pub fn run(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    match conn {
        DbConn::Sqlite(c) => apply(c, SQLITE),
        DbConn::Pg(c) => apply(c, POSTGRES),
    }
}

/// What `run_pending_migrations` does, keeping the pending migrations' names to report.
fn apply<DB, C>(conn: &mut C, source: EmbeddedMigrations) -> Result<Vec<String>, DbError>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    let pending = conn.pending_migrations(source).map_err(fail)?;
    let mut names = Vec::with_capacity(pending.len());
    for migration in &pending {
        conn.run_migration(migration.as_ref()).map_err(fail)?;
        names.push(migration.name().to_string());
    }
    Ok(names)
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
