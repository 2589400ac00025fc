//! Storage: one code base over SQLite (default) and PostgreSQL through diesel's
//! `MultiConnection`, r2d2 pools, embedded migrations, and the single write path that appends
//! every write to the log in the same transaction.

/// Runs one diesel expression on the concrete connection of either backend (the macro repeats
/// the body once per backend). For statements the multi-connection cannot express, such as
/// multi-row inserts, and for hot ones: the multi-connection re-serializes a query's SQL two
/// or three times on every execution, even when the prepared statement is cached (a fifth of
/// the serial writer's time in the signature profile), where the concrete connection looks
/// it up by type.
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Pg($c) => $body,
        }
    };
}

pub mod activities;
pub mod backup;
pub mod blobs;
pub mod briefing;
pub mod bundle;
pub mod checkpoints;
pub mod cities;
pub mod cosignatures;
pub mod error;
mod frontier;
mod group;
pub mod groups;
pub mod import;
pub mod keys;
pub mod log;
pub mod mail;
pub mod migrations;
pub mod mous;
pub mod node_cache;
pub mod offices;
pub mod outcomes;
pub mod pages;
pub mod partnerships;
pub mod replica;
pub mod requests;
pub mod schema;
pub mod signing_links;
pub mod tokens;
pub mod tree;
mod url;
mod wal;
pub mod webhooks;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};

pub use error::DbError;
pub use url::{Backend, DbTarget, redact as redact_url};

use crate::domain::dates::Clock;
use crate::domain::entries::LogEntry;

/// One connection type for both backends; queries written against it run on either.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(diesel::SqliteConnection),
    Pg(diesel::PgConnection),
}

/// Every pooled SQLite connection gets these. WAL lets readers run beside the writer;
/// `synchronous=FULL` makes an acknowledged commit survive power loss, not only a crash.
/// `temp_store=MEMORY` keeps statement and savepoint journals in memory: group commit runs
/// every write in its own SAVEPOINT, and with journals in temporary files each page a write
/// touched was first copied out with a `pwrite` (7% of the writer thread in the profile).
/// Those journals only matter until the transaction ends; the durable WAL is unaffected.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;";

/// Grouped writes that may wait for the writer thread before more are refused. A batch takes
/// up to 256, so this is four batches of backlog: past that a client is better told to come
/// back (503, Retry-After) than kept waiting while its request holds memory.
/// Merkle nodes kept in memory unless configured otherwise (`AMITY_NODE_CACHE_ENTRIES`).
pub const DEFAULT_NODE_CACHE_ENTRIES: u64 = 262_144;

pub const DEFAULT_WRITE_QUEUE_CAPACITY: usize = 1024;

/// Opens connections with the concrete backend type, so a failure keeps its real cause
/// (the multi-connection's own `establish` reduces every failure to "invalid URL").
#[derive(Debug, Clone)]
pub struct Manager {
    target: DbTarget,
    /// Connections of the single-writer pool checkpoint the WAL only as a backstop (see
    /// `wal`). They keep SQLite's 2 MiB page cache and no memory map: both were tried (16 MiB,
    /// 256 MiB) and made the writer cheaper, but every page they held counted in the server's
    /// resident memory, which took a 25 MiB upload's peak RSS from ~170 to 310 MiB.
    writer: bool,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match &self.target {
            DbTarget::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(path)
                    .map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(r2d2::Error::QueryError)?;
                if self.writer {
                    conn.batch_execute(&format!(
                        "PRAGMA wal_autocheckpoint = {}",
                        wal::WRITER_AUTOCHECKPOINT
                    ))
                    .map_err(r2d2::Error::QueryError)?;
                }
                Ok(DbConn::Sqlite(conn))
            }
            DbTarget::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConn::Pg)
                .map_err(r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

pub type Conn = PooledConnection<Manager>;

/// Handles to the database: a pool for reads and, on SQLite, a single writer connection so
/// writers queue in the process instead of fighting over SQLite's lock.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    readers: Pool<Manager>,
    writer: Pool<Manager>,
    /// The group-commit writer's connection: SQLite's one writer; on PostgreSQL a connection
    /// of its own, so the serial writer never waits in line behind request reads for one of
    /// the read pool's (it used to, while every request's token lookup held one).
    group_conn: Pool<Manager>,
    /// The group-commit writer, started by the first grouped write (the CLI never needs it).
    group: Arc<OnceLock<group::GroupWriter>>,
    /// Room in the group-commit queue (see `with_write_queue_capacity`).
    write_queue_capacity: usize,
    /// Set by `stop_group_writer`: no grouped write may start the writer again.
    group_stopped: Arc<std::sync::atomic::AtomicBool>,
    /// SQLite only: runs WAL checkpoints beside the writer instead of inside its commits.
    checkpointer: Option<wal::Checkpointer>,
    /// The migrations this open applied, oldest first (an upgrade may rebuild tables, so the
    /// operator is told which ran).
    applied_migrations: Arc<Vec<String>>,
    /// Merkle nodes read through the read connections (see `node_cache.rs`).
    node_cache: Arc<node_cache::NodeCache>,
    /// The tree's frontier after the last commit, for the next write's appends (`frontier.rs`).
    frontier: frontier::SharedFrontier,
    /// What `WriteTx::now` reads (see `with_clock`).
    clock: Clock,
    /// A read-only PostgreSQL replica for the reads that may be served from one
    /// (`read_from`); `None`: every read goes to the primary.
    replica: Option<Arc<replica::Replica>>,
}

impl Db {
    /// Connects, runs pending migrations and builds the pools.
    pub fn open(url: &str, pool_size: u32) -> Result<Db, DbError> {
        let target = DbTarget::parse(url)?;
        let backend = target.backend();
        let manager = Manager {
            target,
            writer: false,
        };
        // Fail with the real cause before building pools that would only time out.
        let mut first = manager
            .connect()
            .map_err(|e| DbError::Connect(e.to_string()))?;
        let applied_migrations = migrations::run(&mut first)?;
        for name in &applied_migrations {
            tracing::info!(migration = %name, "applied migration");
        }
        drop(first);
        let build = |size: u32, min_idle: u32, manager: Manager| {
            Pool::builder()
                .max_size(size)
                .min_idle(Some(min_idle))
                // A SQLite connection is a handle on a local file: it cannot drop the way a
                // socket can, so the `SELECT 1` probe r2d2 runs on every checkout (by default)
                // is pure cost, about 5% of a by-id read. PostgreSQL keeps the probe.
                .test_on_check_out(backend == Backend::Postgres)
                .connection_timeout(Duration::from_secs(10))
                .build(manager)
                .map_err(|e| DbError::Connect(e.to_string()))
        };
        let readers = build(pool_size.max(1), 1, manager.clone())?;
        let (writer, group_conn, checkpointer) = match backend {
            Backend::Sqlite => {
                let writer = build(
                    1,
                    1,
                    Manager {
                        writer: true,
                        ..manager.clone()
                    },
                )?;
                let own = manager
                    .connect()
                    .map_err(|e| DbError::Connect(e.to_string()))?;
                (writer.clone(), writer, Some(wal::Checkpointer::start(own)?))
            }
            // The group writer's connection opens with its first batch: a CLI run or a server
            // that never writes does not hold one.
            Backend::Postgres => (readers.clone(), build(1, 0, manager.clone())?, None),
        };
        Ok(Db {
            backend,
            readers,
            writer,
            group_conn,
            group: Arc::new(OnceLock::new()),
            write_queue_capacity: DEFAULT_WRITE_QUEUE_CAPACITY,
            frontier: frontier::SharedFrontier::default(),
            group_stopped: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            checkpointer,
            applied_migrations: Arc::new(applied_migrations),
            node_cache: Arc::new(node_cache::NodeCache::new(DEFAULT_NODE_CACHE_ENTRIES)),
            clock: Clock::system(),
            replica: None,
        })
    }

    /// Serves the reads `read_from` is asked for from the PostgreSQL replica at `url`, with
    /// `pool_size` connections; a read that names a log index waits at most `wait` for the
    /// replica to replay it. The primary must be PostgreSQL too.
    pub fn with_replica(
        mut self,
        url: &str,
        pool_size: u32,
        wait: Duration,
    ) -> Result<Db, DbError> {
        if self.backend != Backend::Postgres {
            return Err(DbError::Config(
                "a read replica needs a PostgreSQL primary (DATABASE_URL postgres://...)".into(),
            ));
        }
        self.replica = Some(Arc::new(replica::Replica::open(url, pool_size, wait)?));
        Ok(self)
    }

    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// With a replica: its log size, `None` inside when it cannot be reached now.
    pub fn replica_log_size(&self) -> Option<Option<i64>> {
        self.replica.as_ref().map(|r| r.log_size())
    }

    /// Runs `f` on the replica when there is one that can serve it (reachable, and past log
    /// entry `min_index` when one is named), else on the primary; says which served it.
    pub fn read_from<T>(
        &self,
        min_index: Option<i64>,
        f: impl FnOnce(&mut DbConn) -> Result<T, DbError>,
    ) -> Result<(T, replica::ReadFrom), DbError> {
        if let Some(replica) = &self.replica
            && let Some(mut conn) = replica.connection(min_index)
        {
            return Ok((replica.run(&mut conn, f)?, replica::ReadFrom::Replica));
        }
        Ok((self.read(f)?, replica::ReadFrom::Primary))
    }

    /// Sets how many grouped writes may queue for the writer; takes effect when the writer
    /// starts (at the first grouped write), so call it right after `open`.
    pub fn with_write_queue_capacity(mut self, capacity: usize) -> Db {
        self.write_queue_capacity = capacity.max(1);
        self
    }

    /// Keeps at most `entries` Merkle nodes in memory (0: none).
    pub fn with_node_cache(mut self, entries: u64) -> Db {
        self.node_cache = Arc::new(node_cache::NodeCache::new(entries));
        self
    }

    /// The Merkle nodes held in memory, for proofs and roots read outside a write.
    pub fn node_cache(&self) -> Arc<node_cache::NodeCache> {
        Arc::clone(&self.node_cache)
    }

    /// Writes take their time from `clock` (tests move it to reach deadlines).
    pub fn with_clock(mut self, clock: Clock) -> Db {
        self.clock = clock;
        self
    }

    /// The time writes assert now.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Grouped writes queued and not yet taken into a batch.
    pub fn write_queue_depth(&self) -> usize {
        self.group.get().map_or(0, group::GroupWriter::depth)
    }

    pub fn write_queue_capacity(&self) -> usize {
        self.write_queue_capacity
    }

    /// False once the group-commit writer has ended (stopped, or its thread died): grouped
    /// writes then fail, so the service is not healthy. True before the first grouped write.
    pub fn group_writer_alive(&self) -> bool {
        match self.group.get() {
            // Whether its thread still runs, not whether it was asked to stop: a thread that
            // died any other way must show too.
            Some(writer) => writer.is_alive(),
            None => !self.group_stopped.load(std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// Ends the group-commit writer after the writes already queued; later grouped writes are
    /// refused with `WriterStopped`. For an orderly shutdown of an embedding process; the
    /// HTTP API never calls it.
    pub fn stop_group_writer(&self) {
        self.group_stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(writer) = self.group.get() {
            writer.stop();
        }
    }

    /// The migrations this open applied, oldest first; empty when the schema was current.
    pub fn applied_migrations(&self) -> &[String] {
        &self.applied_migrations
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection for reads.
    pub fn conn(&self) -> Result<Conn, DbError> {
        self.readers.get().map_err(|e| DbError::Pool(e.to_string()))
    }

    /// An idle pooled SQLite connection, without waiting for one; `None` on PostgreSQL (where
    /// every statement is a network round trip) or when all are in use.
    pub fn idle_local_conn(&self) -> Option<Conn> {
        match self.backend {
            Backend::Sqlite => self.readers.try_get(),
            Backend::Postgres => None,
        }
    }

    /// Runs `f` on a pooled connection.
    pub fn read<T>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, DbError>) -> Result<T, DbError> {
        let mut conn = self.conn()?;
        f(&mut conn)
    }

    /// The one way to write: `f` runs inside a transaction that first takes the log head
    /// (which serializes writers in the database, across processes too), may append entries,
    /// and commits the entries together with the write they record. An error rolls back both.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self.writer_conn()?;
        let (out, appends) = conn.transaction(|conn| {
            let mut appends = self.frontier.begin(conn)?;
            let mut tx = WriteTx {
                conn,
                appends: &mut appends,
                now: self.clock.now(),
            };
            let out = f(&mut tx)?;
            appends.finish(conn)?;
            Ok::<_, DbError>((out, appends))
        })?;
        self.frontier.committed(appends);
        self.committed();
        Ok(out)
    }

    /// The writer connection (SQLite's one writer; a pooled one on PostgreSQL).
    fn writer_conn(&self) -> Result<Conn, DbError> {
        self.writer.get().map_err(|e| DbError::Pool(e.to_string()))
    }

    /// After a commit: the WAL has new pages to checkpoint.
    fn committed(&self) {
        if let Some(c) = &self.checkpointer {
            c.wake();
        }
    }
}

impl Db {
    /// The same contract as `write` (the result arrives only after the write is committed
    /// with its log entries; an error rolls back this write alone), but the write is queued
    /// and committed together with the writes queued beside it: see `group`.
    pub async fn write_grouped<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteTx<'_>) -> Result<T, DbError> + Send + 'static,
    {
        if self.group_stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DbError::WriterStopped);
        }
        let writer = match self.group.get() {
            Some(w) => w.clone(),
            None => {
                let started = group::GroupWriter::start(
                    self.group_conn.clone(),
                    self.frontier.clone(),
                    self.write_queue_capacity,
                    self.clock.clone(),
                )?;
                // Two first writes may race here; the loser's thread ends with its queue.
                self.group.get_or_init(|| started).clone()
            }
        };
        // A closed reply channel means the writer dropped the write unrun: it has stopped.
        let out = writer
            .submit(f)?
            .await
            .map_err(|_| DbError::WriterStopped)?;
        // Woken on failures too: a failed write may share its batch with committed ones.
        self.committed();
        out
    }

    /// A transaction on the writer connection that appends nothing to the log: only for
    /// ephemeral working state that is not registry data (key registration challenges). It
    /// does not take the log head, so it never delays or reorders log appends.
    pub fn side_write<T>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self.writer_conn()?;
        conn.transaction(|conn| f(conn))
            .inspect(|_| self.committed())
    }
}

impl Db {
    /// A transaction on the writer connection for the chunks of an upload being staged
    /// (`blobs`), committed without waiting for the disk: PostgreSQL's `synchronous_commit =
    /// off` for this transaction, SQLite's `synchronous = NORMAL` around it.
    ///
    /// That is safe because nothing is acknowledged on it. The upload is answered only after
    /// the write that attaches its blob commits durably, and that commit's flush covers every
    /// earlier one: PostgreSQL flushes its WAL up to the commit record, which follows the
    /// chunks' records; SQLite's fsync of the WAL covers the chunks' frames, written before
    /// the commit frame in the same file (and a checkpoint syncs the WAL before copying it). A
    /// power cut before that can lose staged chunks of an upload that was never answered, which
    /// the client sends again. Waiting for the disk once per 1 MiB chunk instead made a 25 MiB
    /// upload on SQLite 1.4 times slower (docs/perf/upload-streaming.md, runs 1 and 2).
    pub fn staging_write<T>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self.writer_conn()?;
        let out = match &mut *conn {
            DbConn::Pg(_) => conn.transaction(|conn| {
                conn.batch_execute("SET LOCAL synchronous_commit = off")?;
                f(conn)
            }),
            DbConn::Sqlite(_) => {
                conn.batch_execute("PRAGMA synchronous = NORMAL")?;
                let out = conn.transaction(|conn| f(conn));
                // Back to the durable default before the connection serves another write. A
                // pragma fails only on a connection that fails every statement, so no
                // acknowledged write can run on this one with the setting left relaxed.
                conn.batch_execute("PRAGMA synchronous = FULL")?;
                out
            }
        };
        out.inspect(|_| self.committed())
    }
}

/// A write in progress: the connection inside the transaction, its log appends, and the time
/// the log asserts for its entries.
///
/// Appended entries reach the log's tables when the transaction is about to commit
/// (`frontier.rs`), so a write must not read `log_entries` or `log_nodes` for entries it
/// appended itself; nothing does, since every index and hash it needs comes back here.
pub struct WriteTx<'a> {
    pub conn: &'a mut DbConn,
    appends: &'a mut frontier::PendingAppends,
    pub now: i64,
}

impl WriteTx<'_> {
    /// The log size so far in this transaction.
    pub fn size(&self) -> i64 {
        self.appends.size()
    }

    /// Appends one entry and returns its index.
    pub fn append(&mut self, entry: &LogEntry) -> Result<i64, DbError> {
        self.appends.append(entry, self.now)
    }

    /// Appends many entries; returns the index of the first.
    pub fn append_batch(&mut self, entries: &[LogEntry]) -> Result<i64, DbError> {
        let first = self.size();
        for entry in entries {
            self.appends.append(entry, self.now)?;
        }
        Ok(first)
    }
}
