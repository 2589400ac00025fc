//! Reads from a PostgreSQL streaming replica (docs/operations.md#a-read-replica).
//!
//! A server given a replica URL sends the reads of GET requests there and every write to the
//! primary. A replica is behind by its replay lag, so a client that has just written can ask
//! for the log index its write returned: the read then waits (at most `wait`) for the replica
//! to have replayed that entry, and reads from the primary if it has not. A replica that cannot
//! be reached is set aside for a while and the reads go to the primary meanwhile; nothing is
//! ever written to it (a hot standby would refuse anyway).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::r2d2::{Pool, PooledConnection};

use super::{DbConn, DbError, DbTarget, Manager, log};

/// How long a replica that failed is left alone before it is tried again.
const SET_ASIDE: Duration = Duration::from_secs(2);

/// How often a read-your-writes read looks at the replica's log size while it waits.
const POLL: Duration = Duration::from_millis(5);

/// How long a read waits for a connection to the replica before reading from the primary.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Where a read was served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    Replica,
    /// The primary: no replica was configured, it was behind the index asked for, or it could
    /// not be reached.
    Primary,
}

impl ReadFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadFrom::Replica => "replica",
            ReadFrom::Primary => "primary",
        }
    }
}

/// The replica's connections and its health.
pub struct Replica {
    pool: Pool<Manager>,
    /// How long a read that names a log index waits for the replica to reach it.
    wait: Duration,
    /// Until when the replica is set aside after a failure.
    set_aside_until: Mutex<Option<Instant>>,
}

impl Replica {
    /// A pool on `url` (PostgreSQL only). The replica need not be up: its connections are made
    /// when reads need them, and a replica that is down only sends reads to the primary.
    pub fn open(url: &str, pool_size: u32, wait: Duration) -> Result<Replica, DbError> {
        let target = DbTarget::parse(url)?;
        if !matches!(target, DbTarget::Postgres(_)) {
            return Err(DbError::Config(
                "a read replica is a PostgreSQL server: its URL starts with postgres://".into(),
            ));
        }
        // Every connection is kept open once made, as on the primary: connecting on demand
        // put a connection set-up (~2 ms, more under load) in front of the first reads of each
        // burst (p99 1.8 s in the first replica benchmark). Failures to connect are not logged
        // by the pool: `set_aside` says once per episode that the replica is unreachable.
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .test_on_check_out(true)
            .connection_timeout(CONNECT_TIMEOUT)
            .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
            .build_unchecked(Manager {
                target,
                writer: false,
            });
        Ok(Replica {
            pool,
            wait,
            set_aside_until: Mutex::new(None),
        })
    }

    fn set_aside(&self, why: &str) {
        tracing::warn!(%why, "read replica set aside; reading from the primary");
        if let Ok(mut until) = self.set_aside_until.lock() {
            *until = Some(Instant::now() + SET_ASIDE);
        }
    }

    fn is_set_aside(&self) -> bool {
        self.set_aside_until
            .lock()
            .map(|until| until.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }

    /// A replica connection, unless the replica is set aside or cannot be reached now (which
    /// sets it aside).
    fn checkout(&self) -> Option<PooledConnection<Manager>> {
        if self.is_set_aside() {
            return None;
        }
        self.pool
            .get()
            .inspect_err(|e| self.set_aside(&e.to_string()))
            .ok()
    }

    /// A replica connection fit for a read that needs log entry `min_index` (if any): `None`
    /// when the replica is set aside, cannot be reached, or has not replayed that entry
    /// within `wait`.
    pub(super) fn connection(&self, min_index: Option<i64>) -> Option<PooledConnection<Manager>> {
        let mut conn = self.checkout()?;
        let Some(index) = min_index else {
            return Some(conn);
        };
        let deadline = Instant::now() + self.wait;
        loop {
            match log::size(&mut conn) {
                Ok(size) if size > index => return Some(conn),
                Ok(_) if Instant::now() < deadline => std::thread::sleep(POLL),
                Ok(_) => return None,
                Err(e) => {
                    self.set_aside(&e.to_string());
                    return None;
                }
            }
        }
    }

    /// The replica's log size, or `None` when it is set aside or cannot be reached (which
    /// sets it aside).
    pub fn log_size(&self) -> Option<i64> {
        let mut conn = self.checkout()?;
        match log::size(&mut conn) {
            Ok(size) => Some(size),
            Err(e) => {
                self.set_aside(&e.to_string());
                None
            }
        }
    }

    /// Runs `f` on `conn`, a replica connection. A connection lost under it, or a query the
    /// standby cancelled because replay needed its rows, is a 503 (the client reads again,
    /// from the primary if the replica was lost), never a 500.
    pub(super) fn run<T>(
        &self,
        conn: &mut DbConn,
        f: impl FnOnce(&mut DbConn) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        use diesel::result::{DatabaseErrorKind, Error};
        f(conn).map_err(|e| match e {
            DbError::Query(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            )) => {
                self.set_aside(info.message());
                DbError::Pool("the read replica was lost during the read".into())
            }
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => {
                DbError::Pool("the read replica cancelled the read to replay the log".into())
            }
            other => other,
        })
    }
}
