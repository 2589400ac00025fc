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

/// Not `Debug`-derived: a PostgreSQL URL may carry a password (see the impl below).
#[derive(Clone, PartialEq, Eq)]
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

impl std::fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbTarget::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DbTarget::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
        }
    }
}

/// Stands in for a secret in what is logged or printed.
const REDACTED: &str = "***";

/// `url` fit for logs and terminals: the password of `USER:PASSWORD@` and the value of a
/// `password=` query parameter (both forms libpq accepts) become `***`. Everything else is
/// kept, so an operator still sees which user, host and database were meant.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // The last `@` ends the userinfo: a password may itself contain an unescaped `@`.
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:{REDACTED}@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}={REDACTED}")
                    }
                    _ => param.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        for (url, shown) in [
            (
                "postgres://amity:s3cret@db.example:5432/amity",
                "postgres://amity:***@db.example:5432/amity",
            ),
            (
                "postgresql://amity:p@ss:w0rd@localhost/amity?sslmode=require",
                "postgresql://amity:***@localhost/amity?sslmode=require",
            ),
            (
                "postgres://localhost/amity?user=amity&password=s3cret&sslmode=require",
                "postgres://localhost/amity?user=amity&password=***&sslmode=require",
            ),
            (
                "postgres://amity@localhost/amity",
                "postgres://amity@localhost/amity",
            ),
            ("sqlite://amity.db", "sqlite://amity.db"),
            ("amity.db", "amity.db"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
        let target = DbTarget::parse("postgres://amity:s3cret@localhost/amity").unwrap();
        assert!(!format!("{target:?}").contains("s3cret"));
    }

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
