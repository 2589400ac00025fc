//! The storage layer's one error type.

use crate::domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A rule of the registry refused the write; carried up unchanged.
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("database configuration: {0}")]
    Config(String),
    #[error("migrations failed: {0}")]
    Migration(String),
    /// Stored data that does not parse: only a hand-edited database produces this.
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// A grouped write that did not complete: its batch failed to commit, or it panicked.
    #[error("the write was not completed: {0}")]
    Aborted(String),
    /// The group-commit queue is full: the write was refused before it ran.
    #[error("the write queue is full")]
    QueueFull,
    /// The group-commit writer thread has ended: no grouped write can be committed.
    #[error("the writer thread has stopped")]
    WriterStopped,
}

impl DbError {
    pub fn corrupt(what: impl Into<String>) -> Self {
        DbError::Corrupt(what.into())
    }
}

/// True when a query failed on a UNIQUE constraint.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
