//! `DATABASE_URL` parsing: the scheme picks the backend, and a mistyped URL is an error rather
//! than a new empty database in some unexpected place.

use std::path::Path;

use super::DbError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTarget {
    /// A file path for SQLite.
    Sqlite(String),
    /// A libpq connection URL.
    Postgres(String),
}

impl DbTarget {
    pub fn parse(url: &str) -> Result<DbTarget, DbError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DbError::Config("DATABASE_URL is empty".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbTarget::Postgres(url.to_string()));
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            rest
        } else if let Some((scheme, _)) = url.split_once("://") {
            return Err(DbError::Config(format!(
                "unsupported database URL scheme `{scheme}`: use sqlite://PATH, a plain file \
                 path, or postgres://USER@HOST/DB"
            )));
        } else {
            url
        };
        if path.is_empty() || path == ":memory:" || path.contains('?') {
            return Err(DbError::Config(format!(
                "`{url}` is not a SQLite file path (in-memory databases and URL options are \
                 not supported: every pooled connection must see the same file)"
            )));
        }
        let parent = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = parent.filter(|d| !d.is_dir()) {
            return Err(DbError::Config(format!(
                "the directory `{}` for the SQLite database does not exist",
                dir.display()
            )));
        }
        Ok(DbTarget::Sqlite(path.to_string()))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbTarget::Sqlite(_) => Backend::Sqlite,
            DbTarget::Postgres(_) => Backend::Postgres,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(
            DbTarget::parse("sqlite://amity.db").unwrap(),
            DbTarget::Sqlite("amity.db".into())
        );
        assert_eq!(
            DbTarget::parse("sqlite:///tmp/x.db").unwrap(),
            DbTarget::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DbTarget::parse("a.db").unwrap(),
            DbTarget::Sqlite("a.db".into())
        );
        assert_eq!(
            DbTarget::parse("postgres://u@h/d").unwrap().backend(),
            Backend::Postgres
        );
        for bad in [
            "postgress://u@h/d",
            "mysql://x",
            "sqlite://",
            "sqlite::memory:",
            "/no/such/dir/a.db",
            "",
        ] {
            assert!(DbTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
