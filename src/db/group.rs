//! Group commit for the HTTP write path.
//!
//! A durable commit costs one fsync (SQLite `synchronous=FULL`, PostgreSQL WAL flush), and
//! that fsync, not the SQL, bounds how many writes a second one transaction per write can
//! reach. Here one writer thread drains every write queued while the previous batch was
//! committing into ONE transaction: the log head is locked once, each write runs after its own
//! SAVEPOINT (so a write that a rule refuses rolls back only itself, with its log entries),
//! the head is stored once, one COMMIT, and only then is every waiter answered. A success
//! still means "committed and in the log", exactly as with `Db::write`.
//!
//! Batches form by themselves: no write waits for a timer, a write that arrives while the
//! writer is idle is committed alone at once.
//!
//! The queue is bounded: when writes arrive faster than the database commits them, the ones
//! beyond its capacity are refused at once (`DbError::QueueFull`, a 503 with Retry-After)
//! instead of piling up in memory and waiting ever longer. Its depth and whether the writer
//! thread still runs are readable, for `/metrics` and `/healthz`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::r2d2::Pool;
use tokio::sync::oneshot;

use super::frontier::SharedFrontier;
use super::{DbConn, DbError, Manager, WriteTx};
use crate::domain::dates::Clock;

/// At most this many writes share one transaction, which bounds how long the first of them
/// waits for the batch to finish.
const MAX_BATCH: usize = 256;

/// One queued write, type-erased so writes with different results share the queue.
pub(super) trait Queued: Send {
    /// Runs the write inside its savepoint; false when it failed (the savepoint is then
    /// rolled back). The result is kept until the batch commits.
    fn run(&mut self, tx: &mut WriteTx<'_>) -> bool;
    /// Answers the waiter: its own result when the batch committed, else the commit failure.
    fn answer(self: Box<Self>, commit: Result<(), &DbError>);
}

struct Request<T, F> {
    f: Option<F>,
    out: Option<Result<T, DbError>>,
    reply: oneshot::Sender<Result<T, DbError>>,
}

impl<T, F> Queued for Request<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut WriteTx<'_>) -> Result<T, DbError> + Send + 'static,
{
    fn run(&mut self, tx: &mut WriteTx<'_>) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let out = f(tx);
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn answer(self: Box<Self>, commit: Result<(), &DbError>) {
        let out = match (self.out, commit) {
            // A write that failed on its own reports its own error, whatever the batch did.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Ok(_)), Err(e)) => {
                Err(DbError::Aborted(format!("the batch did not commit: {e}")))
            }
            // Never ran: the batch failed before reaching it (no connection, say).
            (None, Err(e)) => Err(DbError::Aborted(format!("the batch did not run: {e}"))),
            (None, Ok(())) => Err(DbError::Aborted("the write panicked".into())),
        };
        // The waiter may have gone (client disconnected); the write stands either way.
        let _ = self.reply.send(out);
    }
}

/// Each write of a batch runs under one savepoint name. `ROLLBACK TO` keeps the savepoint in
/// place, and after a success releasing it and setting it again travel in one round trip, so a
/// write costs one savepoint statement rather than diesel's nested-transaction pair (SAVEPOINT,
/// RELEASE). The last one is never released: COMMIT ends every open savepoint with the
/// transaction, on both backends.
const FIRST_SAVEPOINT: &str = "SAVEPOINT amity_write";
const NEXT_SAVEPOINT: &str = "RELEASE SAVEPOINT amity_write; SAVEPOINT amity_write";
const UNDO_WRITE: &str = "ROLLBACK TO SAVEPOINT amity_write";

/// What travels on the queue: a write, or the request to stop after the writes before it.
enum Message {
    Write(Box<dyn Queued>),
    Stop,
}

/// The queue into the writer thread.
#[derive(Clone)]
pub(super) struct GroupWriter {
    queue: SyncSender<Message>,
    /// Writes queued and not yet taken into a batch.
    depth: Arc<AtomicUsize>,
    /// False once the writer thread has ended, however it ended.
    alive: Arc<AtomicBool>,
}

/// Marks the writer dead when its thread ends, by returning or by unwinding.
struct AliveGuard(Arc<AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl GroupWriter {
    /// Starts the writer thread on `pool` with room for `capacity` queued writes. It ends
    /// when the last `GroupWriter` is dropped, or at `stop`.
    pub(super) fn start(
        pool: Pool<Manager>,
        frontier: SharedFrontier,
        capacity: usize,
        clock: Clock,
    ) -> Result<GroupWriter, DbError> {
        let (queue, rx) = sync_channel::<Message>(capacity.max(1));
        let depth = Arc::new(AtomicUsize::new(0));
        let alive = Arc::new(AtomicBool::new(true));
        let (thread_depth, guard) = (depth.clone(), AliveGuard(alive.clone()));
        std::thread::Builder::new()
            .name("amity-group-commit".into())
            .spawn(move || {
                let _guard = guard;
                writer_loop(&pool, &frontier, &rx, &thread_depth, &clock);
            })
            .map_err(|e| DbError::Pool(format!("cannot start the writer thread: {e}")))?;
        Ok(GroupWriter {
            queue,
            depth,
            alive,
        })
    }

    /// Queues `f`; the returned receiver yields its result after the batch committed. A full
    /// queue or a stopped writer is refused here, before the write ran at all.
    pub(super) fn submit<T, F>(
        &self,
        f: F,
    ) -> Result<oneshot::Receiver<Result<T, DbError>>, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteTx<'_>) -> Result<T, DbError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let request = Box::new(Request {
            f: Some(f),
            out: None,
            reply,
        });
        // Counted before it is sent, so the writer's decrement can never come first.
        self.depth.fetch_add(1, Ordering::SeqCst);
        match self.queue.try_send(Message::Write(request)) {
            Ok(()) => Ok(rx),
            Err(e) => {
                self.depth.fetch_sub(1, Ordering::SeqCst);
                Err(match e {
                    TrySendError::Full(_) => DbError::QueueFull,
                    TrySendError::Disconnected(_) => DbError::WriterStopped,
                })
            }
        }
    }

    /// Writes waiting for the writer thread.
    pub(super) fn depth(&self) -> usize {
        self.depth.load(Ordering::SeqCst)
    }

    pub(super) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Asks the writer thread to end once the writes queued before this call are committed;
    /// later writes are refused with `WriterStopped`. Waits for room in a full queue.
    pub(super) fn stop(&self) {
        // An error means the thread is gone already, which is what was asked.
        let _ = self.queue.send(Message::Stop);
    }
}

fn writer_loop(
    pool: &Pool<Manager>,
    frontier: &SharedFrontier,
    rx: &Receiver<Message>,
    depth: &AtomicUsize,
    clock: &Clock,
) {
    let mut stopping = false;
    while !stopping {
        let Ok(Message::Write(first)) = rx.recv() else {
            break;
        };
        depth.fetch_sub(1, Ordering::SeqCst);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Message::Write(next)) => {
                    depth.fetch_sub(1, Ordering::SeqCst);
                    batch.push(next);
                }
                Ok(Message::Stop) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let committed = commit_batch(pool, frontier, &mut batch, clock);
        for request in batch {
            request.answer(committed.as_ref().map(|_| ()));
        }
    }
    // Writes queued after a stop are dropped uncommitted: their waiters see the reply
    // channel closed and answer `WriterStopped`.
    while let Ok(message) = rx.try_recv() {
        if let Message::Write(_) = message {
            depth.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Runs every write of the batch in one transaction and commits it.
fn commit_batch(
    pool: &Pool<Manager>,
    frontier: &SharedFrontier,
    batch: &mut [Box<dyn Queued>],
    clock: &Clock,
) -> Result<(), DbError> {
    let mut pooled = pool.get().map_err(|e| DbError::Pool(e.to_string()))?;
    let conn: &mut DbConn = &mut pooled;
    let appends = conn.transaction(|conn| {
        let mut appends = frontier.begin(conn)?;
        let mut savepoint: Option<&str> = Some(FIRST_SAVEPOINT);
        for request in batch.iter_mut() {
            if let Some(statement) = savepoint.take() {
                conn.batch_execute(statement)?;
            }
            let mark = appends.mark();
            let mut tx = WriteTx {
                conn,
                appends: &mut appends,
                now: clock.now(),
            };
            // A panicking write is answered as failed instead of taking the writer down.
            let ok = catch_unwind(AssertUnwindSafe(|| request.run(&mut tx))).unwrap_or(false);
            if ok {
                savepoint = Some(NEXT_SAVEPOINT);
            } else {
                // Its statements are undone and the savepoint stays for the next write; its
                // appends, not yet inserted, go the same way. An undo that fails leaves the
                // transaction untrustworthy, and the whole batch is rolled back.
                conn.batch_execute(UNDO_WRITE)?;
                appends.rollback_to(mark);
            }
        }
        // Every write's entries and nodes in a few multi-row inserts (`frontier.rs`).
        appends.finish(conn)?;
        Ok::<_, DbError>(appends)
    })?;
    frontier.committed(appends);
    Ok(())
}
