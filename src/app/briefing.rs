//! The briefing of a group of cities (issue: results of engagement, item 5): each city's
//! briefing, gathered at one state of the log, with the signed checkpoint of that state, so a
//! reader can check the figures came from the registry as it was logged.

use crate::db::checkpoints::CheckpointRow;
use crate::db::{self, Db, DbError};
use crate::domain::briefing::{Briefing, Period};
use crate::log::note::NoteSigner;

/// Attempts at a quiet log before giving up (503 `log_busy`).
const ATTEMPTS: usize = 5;

/// Briefings of several cities and the checkpoint they were built from.
#[derive(Debug, Clone)]
pub struct GroupBriefing {
    /// The signed checkpoint whose log size the briefings were read at.
    pub checkpoint: CheckpointRow,
    pub briefings: Vec<Briefing>,
}

/// Gathers the briefing of each city of `cities` (existing codes) at the size of the current
/// signed checkpoint: the checkpoint is taken first, the briefings read, and the log's size
/// read last; when the log grew in between, it starts again. `None` when it grew every time.
pub fn group(
    db: &Db,
    signer: &NoteSigner,
    cities: &[String],
    period: Period,
    dormant_years: u32,
) -> Result<Option<GroupBriefing>, DbError> {
    for _ in 0..ATTEMPTS {
        let checkpoint = db::checkpoints::current(db, signer)?;
        let (briefings, size) = db.read(|c| {
            let mut briefings = Vec::with_capacity(cities.len());
            for code in cities {
                briefings.push(db::briefing::gather(c, code, period, dormant_years)?);
            }
            Ok((briefings, db::log::size(c)?))
        })?;
        // The log only grows: the same size at the end means nothing was written since the
        // checkpoint, so every figure read is the checkpoint's.
        if size == checkpoint.size {
            return Ok(Some(GroupBriefing {
                checkpoint,
                briefings,
            }));
        }
    }
    Ok(None)
}
