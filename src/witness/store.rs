//! The witness's own state: `DIR/witness.db`, a SQLite database with the logs it cosigns for,
//! the keys it trusts for each, and the checkpoint it cosigned last for each.
//!
//! The one write that matters is [`Store::check_and_store`]: the check of a request against
//! the stored size and root, and the storing of the new ones, happen in one `BEGIN IMMEDIATE`
//! transaction that commits before the caller cosigns. So two requests racing for one log are
//! serialised by SQLite's write lock (the second sees what the first stored), and a
//! cosignature is only ever produced for a checkpoint that is already durable: after a crash
//! the witness remembers at least every size it answered for, and never cosigns a second
//! root for one of them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use amity_verify::merkle::Hash;
use amity_verify::note::{Checkpoint, NoteVerifier, open_checkpoint};
use amity_verify::witness::{self, AddCheckpoint, LogRecord, Refusal};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The witness's schema, kept apart from the registry's (`migrations/sqlite`).
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/witness");

/// The database file inside the state directory.
pub const DB_FILE: &str = "witness.db";

/// How long a connection waits for another writer (a concurrent request, or `amity witness
/// add-log` run beside the server) before giving up with SQLITE_BUSY.
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// Connections in the pool: requests beyond that wait for one; writers queue on the lock.
const POOL_SIZE: u32 = 4;

mod schema {
    diesel::table! {
        witness_logs (origin) {
            origin -> Text,
            size -> Nullable<BigInt>,
            root -> Nullable<Binary>,
            updated_at -> BigInt,
        }
    }

    diesel::table! {
        witness_log_keys (origin, vkey) {
            origin -> Text,
            vkey -> Text,
            added_at -> BigInt,
        }
    }

    diesel::table! {
        witness_refusals (id) {
            id -> Integer,
            origin -> Text,
            status -> Integer,
            reason -> Text,
            body -> Binary,
            at -> BigInt,
        }
    }

    diesel::allow_tables_to_appear_in_same_query!(witness_logs, witness_log_keys, witness_refusals);
}

use schema::{witness_log_keys, witness_logs, witness_refusals};

/// Why the store failed. Never shown to a client (a 500 without details), only logged and
/// shown to the operator on the command line.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: cannot open the witness database: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("witness database: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("witness database: no connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("witness database: the stored record of {origin} is corrupt: {reason}")]
    Corrupt { origin: String, reason: String },
}

/// Every connection gets these before use. WAL lets `amity witness list` read beside the
/// server. `synchronous=FULL` because an acknowledged cosignature must be durable: with
/// NORMAL, a power cut could lose the last commits of the WAL, the witness would wake up with
/// an older size and could then cosign another root for a size it already cosigned (a fork it
/// was there to prevent). `busy_timeout` first, so the switch to WAL waits for a lock too.
#[derive(Debug, Clone, Copy)]
struct Pragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A `witness_logs` row: origin, cosigned size and root (both or neither), last change.
type LogRow = (String, Option<i64>, Option<Vec<u8>>, i64);

/// What the witness stores about one log, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStatus {
    pub origin: String,
    /// The log keys the witness trusts (vkeys), in the order they were added.
    pub vkeys: Vec<String>,
    /// The checkpoint cosigned last: `None` before the first.
    pub cosigned: Option<(u64, Hash)>,
    /// Unix seconds of the last change to the record.
    pub updated_at: i64,
}

/// What `add_log` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedLog {
    pub origin: String,
    pub vkey: String,
    /// The log was not known before.
    pub new_log: bool,
    /// The key was not known for the log before (false: nothing changed).
    pub new_key: bool,
}

/// Handles to `witness.db`.
#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager<SqliteConnection>>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) `dir/witness.db` and applies pending migrations.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(DB_FILE);
        let open_err = |reason: String| StoreError::Open {
            path: path.clone(),
            reason,
        };
        let url = path
            .to_str()
            .ok_or_else(|| open_err("the path is not UTF-8".into()))?
            .to_string();
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(30))
            .connection_customizer(Box::new(Pragmas))
            .build(ConnectionManager::<SqliteConnection>::new(url))
            .map_err(|e| open_err(e.to_string()))?;
        let mut conn = pool.get()?;
        // Each migration runs in its own transaction: a crash leaves the schema at a whole step.
        conn.run_pending_migrations(MIGRATIONS)
            .map_err(|e| open_err(format!("migrations: {e}")))?;
        drop(conn);
        Ok(Store { pool, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds `vkey` (already validated by the caller) as a key the witness trusts for
    /// `origin`, adding the log if it is new. Idempotent. One immediate transaction, so the
    /// log row and its key appear together, and committed (durably, see [`Pragmas`]) before
    /// this returns.
    pub fn add_log(&self, origin: &str, vkey: &str, now: i64) -> Result<AddedLog, StoreError> {
        let mut conn = self.pool.get()?;
        conn.immediate_transaction(|conn| {
            let new_log = diesel::insert_or_ignore_into(witness_logs::table)
                .values((
                    witness_logs::origin.eq(origin),
                    witness_logs::updated_at.eq(now),
                ))
                .execute(conn)?
                == 1;
            let new_key = diesel::insert_or_ignore_into(witness_log_keys::table)
                .values((
                    witness_log_keys::origin.eq(origin),
                    witness_log_keys::vkey.eq(vkey),
                    witness_log_keys::added_at.eq(now),
                ))
                .execute(conn)?
                == 1;
            if new_key && !new_log {
                diesel::update(witness_logs::table.find(origin))
                    .set(witness_logs::updated_at.eq(now))
                    .execute(conn)?;
            }
            Ok(AddedLog {
                origin: origin.to_string(),
                vkey: vkey.to_string(),
                new_log,
                new_key,
            })
        })
    }

    /// Every log the witness knows, by origin.
    pub fn logs(&self) -> Result<Vec<LogStatus>, StoreError> {
        let mut conn = self.pool.get()?;
        // One read transaction, so the keys and the sizes are of one moment.
        conn.transaction(|conn| {
            let rows: Vec<LogRow> = witness_logs::table
                .select((
                    witness_logs::origin,
                    witness_logs::size,
                    witness_logs::root,
                    witness_logs::updated_at,
                ))
                .order(witness_logs::origin.asc())
                .load(conn)?;
            let keys: Vec<(String, String)> = witness_log_keys::table
                .select((witness_log_keys::origin, witness_log_keys::vkey))
                .order((
                    witness_log_keys::added_at.asc(),
                    witness_log_keys::vkey.asc(),
                ))
                .load(conn)?;
            rows.into_iter()
                .map(|(origin, size, root, updated_at)| {
                    let cosigned = cosigned_of(&origin, size, root)?;
                    let vkeys = keys
                        .iter()
                        .filter(|(o, _)| *o == origin)
                        .map(|(_, k)| k.clone())
                        .collect();
                    Ok(LogStatus {
                        origin,
                        vkeys,
                        cosigned,
                        updated_at,
                    })
                })
                .collect()
        })
    }

    /// How many forks (refused requests with a valid log signature) were recorded.
    pub fn refusals(&self) -> Result<Vec<(String, u16, String, i64)>, StoreError> {
        let mut conn = self.pool.get()?;
        let rows: Vec<(String, i32, String, i64)> = witness_refusals::table
            .select((
                witness_refusals::origin,
                witness_refusals::status,
                witness_refusals::reason,
                witness_refusals::at,
            ))
            .order(witness_refusals::id.asc())
            .load(&mut *conn)?;
        Ok(rows
            .into_iter()
            .map(|(o, s, r, at)| (o, u16::try_from(s).unwrap_or(0), r, at))
            .collect())
    }

    /// Decides an `add-checkpoint` request and, when it is to be cosigned, stores the new
    /// size and root, all in one `BEGIN IMMEDIATE` transaction that has committed when this
    /// returns. The caller cosigns only after that, so:
    ///
    /// - concurrent requests are serialised by SQLite's write lock, taken before the record
    ///   is read (the spec's race: two requests from the same old size must not both pass);
    /// - an acknowledged cosignature is durable (`synchronous=FULL`): after a crash or SIGKILL
    ///   the stored size is at least the last one answered, never older, so no second root is
    ///   ever cosigned for a size.
    ///
    /// `Ok(Err(refusal))` is an answer for the client; `Err` is a storage failure (500).
    pub fn check_and_store(
        &self,
        body: &[u8],
        now: i64,
    ) -> Result<Result<Checkpoint, Refusal>, StoreError> {
        let req = match AddCheckpoint::parse(body) {
            Ok(req) => req,
            Err(refusal) => return Ok(Err(refusal)),
        };
        // The origin is the note's first line; `decide` refuses a note without one itself.
        let origin = req
            .note
            .split_once('\n')
            .map(|(first, _)| first.to_string());
        let mut conn = self.pool.get()?;
        conn.immediate_transaction(|conn| {
            let record = match &origin {
                Some(origin) => load_record(conn, origin)?,
                None => None,
            };
            let decision = witness::decide(&req, |o| {
                record.as_ref().filter(|_| origin.as_deref() == Some(o))
            });
            let (Some(origin), Some(record)) = (&origin, &record) else {
                return Ok(decision);
            };
            match decision {
                Ok(checkpoint) => {
                    if record.cosigned != Some((checkpoint.size, checkpoint.root)) {
                        let Ok(size) = i64::try_from(checkpoint.size) else {
                            return Ok(Err(Refusal::BadRequest(
                                "the checkpoint size is beyond what this witness stores".into(),
                            )));
                        };
                        // The new record, in the transaction that checked the old one.
                        // The WHERE on the old size is a second guard: the lock already
                        // makes the record the one `decide` saw.
                        let old = record.cosigned.map(|(s, _)| s);
                        let updated = diesel::update(witness_logs::table.find(origin).filter(
                            witness_logs::size.is(old.and_then(|s| i64::try_from(s).ok())),
                        ))
                        .set((
                            witness_logs::size.eq(Some(size)),
                            witness_logs::root.eq(Some(checkpoint.root.to_vec())),
                            witness_logs::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                        if updated != 1 {
                            return Err(StoreError::Corrupt {
                                origin: origin.clone(),
                                reason: "the record changed inside its own transaction".into(),
                            });
                        }
                    }
                    Ok(Ok(checkpoint))
                }
                Err(refusal) => {
                    if is_fork_evidence(&req, record, &refusal) {
                        // Evidence of a log that signed a fork: kept in the same transaction
                        // (it commits even though the request is refused).
                        diesel::insert_into(witness_refusals::table)
                            .values((
                                witness_refusals::origin.eq(origin),
                                witness_refusals::status.eq(i32::from(refusal.status())),
                                witness_refusals::reason.eq(refusal.to_string()),
                                witness_refusals::body.eq(body),
                                witness_refusals::at.eq(now),
                            ))
                            .execute(conn)?;
                    }
                    Ok(Err(refusal))
                }
            }
        })
    }
}

/// Whether a refusal shows the log signed something inconsistent with what the witness
/// cosigned: a proof that was checked and failed (422 with `0 < old < size`), or another
/// root for the size the witness cosigned (409 at that size). A stale `old` (an ordinary 409
/// after a restart of the log's client) is not evidence of anything.
fn is_fork_evidence(req: &AddCheckpoint<'_>, record: &LogRecord, refusal: &Refusal) -> bool {
    let checkpoint = |origin: &str| {
        open_checkpoint(req.note, origin, &record.verifiers)
            .ok()
            .map(|(cp, _)| cp)
    };
    let Some(origin) = req.note.split_once('\n').map(|(o, _)| o) else {
        return false;
    };
    match refusal {
        Refusal::BadProof(_) => {
            checkpoint(origin).is_some_and(|cp| req.old != 0 && req.old < cp.size)
        }
        Refusal::Conflict { known } => checkpoint(origin).is_some_and(|cp| {
            record
                .cosigned
                .is_some_and(|(size, root)| size == *known && cp.size == size && cp.root != root)
        }),
        _ => false,
    }
}

fn cosigned_of(
    origin: &str,
    size: Option<i64>,
    root: Option<Vec<u8>>,
) -> Result<Option<(u64, Hash)>, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        origin: origin.to_string(),
        reason: reason.to_string(),
    };
    match (size, root) {
        (None, None) => Ok(None),
        (Some(size), Some(root)) => {
            let size = u64::try_from(size).map_err(|_| corrupt("negative size"))?;
            let root = Hash::try_from(root.as_slice()).map_err(|_| corrupt("root of 32 bytes"))?;
            Ok(Some((size, root)))
        }
        _ => Err(corrupt("a size without a root")),
    }
}

/// The record of `origin` as `witness::decide` takes it, or `None` for an unknown log.
fn load_record(conn: &mut SqliteConnection, origin: &str) -> Result<Option<LogRecord>, StoreError> {
    let row: Option<(Option<i64>, Option<Vec<u8>>)> = witness_logs::table
        .find(origin)
        .select((witness_logs::size, witness_logs::root))
        .first(conn)
        .optional()?;
    let Some((size, root)) = row else {
        return Ok(None);
    };
    let vkeys: Vec<String> = witness_log_keys::table
        .filter(witness_log_keys::origin.eq(origin))
        .select(witness_log_keys::vkey)
        .load(conn)?;
    let verifiers = vkeys
        .iter()
        .map(|k| NoteVerifier::from_vkey(k))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Corrupt {
            origin: origin.to_string(),
            reason: format!("a stored key does not parse: {e}"),
        })?;
    Ok(Some(LogRecord {
        verifiers,
        cosigned: cosigned_of(origin, size, root)?,
    }))
}
