//! SQLite WAL checkpoints off the commit path.
//!
//! A committed write lives in the WAL until a checkpoint copies its pages into the database
//! file. SQLite by default runs that checkpoint inside the COMMIT that takes the WAL past 1,000
//! pages, on the writing connection: for a 25 MiB document that is every upload, and copying
//! ~6,400 pages back out of the WAL (read, write, fsync) took about half of the group-commit
//! thread's CPU, while every write queued behind it waited. Here one thread with its own
//! connection runs PASSIVE checkpoints after writes instead, so the writer only appends.
//!
//! Durability is unchanged: a commit is durable once its WAL frames are synced
//! (`synchronous=FULL`), before any checkpoint. PASSIVE never blocks writers or readers. The
//! writer keeps SQLite's own automatic checkpoint as a backstop at [`WRITER_AUTOCHECKPOINT`]
//! pages, so the WAL stays bounded even if this thread falls behind or stops.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::{DbConn, DbError};

/// The writer's own automatic checkpoint threshold, in pages (64 MiB at SQLite's default
/// 4 KiB page): above a batch of two maximum-size (25 MiB) documents, so an upload's COMMIT
/// does not copy its own frames back out, and low enough to bound the WAL on disk. The bound
/// matters: a PASSIVE checkpoint beside a writer that never pauses never quite catches up,
/// and the WAL only restarts from its beginning once one has; with no backstop at all the WAL
/// grew to 515 MB in 8 s of signature submissions. When the backstop runs, the background
/// thread has already copied all but the newest frames, so it is short.
pub(super) const WRITER_AUTOCHECKPOINT: u32 = 16_384;

/// Checkpoints run at most this often. Small writes (signatures) commit hundreds of times a
/// second; one checkpoint per commit would add a database-file fsync to each.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Wakes the checkpoint thread after writes. Cloned with `Db`; the thread ends (and closes its
/// connection) when the last clone is dropped.
#[derive(Clone)]
pub(super) struct Checkpointer {
    wake: SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread on `conn`, a connection of its own to the same database.
    pub(super) fn start(conn: DbConn) -> Result<Checkpointer, DbError> {
        // One pending wake-up is enough: wakes that arrive while a checkpoint runs merge.
        let (wake, rx) = sync_channel(1);
        std::thread::Builder::new()
            .name("amity-wal-checkpoint".into())
            .spawn(move || run(conn, &rx))
            .map_err(|e| DbError::Pool(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { wake })
    }

    /// Tells the thread that writes were committed; never blocks.
    pub(super) fn wake(&self) {
        let _ = self.wake.try_send(());
    }
}

fn run(mut conn: DbConn, rx: &Receiver<()>) {
    let mut pending = rx.recv().is_ok();
    while pending {
        if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
            // The backstop checkpoint on the writer still bounds the WAL.
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
        std::thread::sleep(MIN_INTERVAL);
        // A wake-up that came during the checkpoint or the pause runs the next one at once;
        // the thread ends once every `Db` is gone.
        pending = match rx.try_recv() {
            Ok(()) => true,
            Err(TryRecvError::Empty) => rx.recv().is_ok(),
            Err(TryRecvError::Disconnected) => false,
        };
    }
}
