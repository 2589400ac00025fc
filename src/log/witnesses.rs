//! The registry as a witness client (docs/witnessing.md): for each new checkpoint, ask every
//! witness of the policy (`AMITY_WITNESS_POLICY`, C2SP tlog-policy) to cosign it with C2SP
//! tlog-witness `add-checkpoint`, and store the cosignatures that verify.
//!
//! One checkpointer thread signs a checkpoint every interval if the log grew (or at once when
//! kicked by a reader waiting for a quorum) and publishes it to the witness threads. Every
//! witness is asked to cosign that same checkpoint: a quorum is counted on one checkpoint, and
//! witnesses that each cosigned a different size under a steady write load would never meet.
//!
//! One thread per witness, so a slow or dead witness delays nobody: not the other witnesses,
//! and not the registry's writes, which never wait for a witness. Each sends the published
//! checkpoint with a consistency proof from the size that witness cosigned last. It learns
//! that size from its own stored cosignatures, and from the witness's 409 answer on first
//! contact or when the two disagree (the witness restored, or another registry server on the
//! same database got there first). Failures back off exponentially up to a minute; a witness
//! that was behind catches up with the newest published checkpoint, skipping the ones between.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use amity_verify::cosignature::{Cosignature, CosignerKey};
use amity_verify::policy::{Policy, PolicyWitness};
use amity_verify::witness::{AddCheckpoint, MAX_BODY_BYTES, SIZE_CONTENT_TYPE};

use crate::db::checkpoints::{self, CheckpointRow};
use crate::db::cosignatures::{self, CosignatureRow};
use crate::db::{Db, DbError, tree};
use crate::domain::dates::now_micros;
use crate::log::note::NoteSigner;

/// The longest pause between tries at a failing witness.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How soon after a failed try a kick (a reader waiting for a quorum) may have a witness
/// tried again, however long its backoff: retries come soon, but never as a flood.
const KICKED_RETRY_SPACING: Duration = Duration::from_secs(1);

/// Exchanges per checkpoint: a 409 costs one more (learning the witness's size), so three
/// cover a resynchronisation and a retry.
const ATTEMPTS: usize = 3;

/// Why the policy could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    #[error("cannot read the witness policy {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("witness policy {path}: {source}")]
    Parse {
        path: String,
        source: amity_verify::policy::PolicyError,
    },
    #[error(
        "witness policy {path}: it lists logs, but not this registry's key {vkey}; \
         a witness would never see a checkpoint the policy accepts"
    )]
    NotOurLog { path: String, vkey: String },
}

/// Reads and checks a policy file for the registry whose key is `signer`.
pub fn load_policy(path: &std::path::Path, signer: &NoteSigner) -> Result<Policy, PolicyFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PolicyFileError::Read {
        path: shown.clone(),
        source,
    })?;
    let policy = Policy::parse(&text).map_err(|source| PolicyFileError::Parse {
        path: shown.clone(),
        source,
    })?;
    if !policy.accepts_log(&signer.verifier()) {
        return Err(PolicyFileError::NotOurLog {
            path: shown,
            vkey: signer.verifier().to_vkey(),
        });
    }
    Ok(policy)
}

/// Timing of the client.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How often a checkpoint of a grown log is signed and sent to the witnesses.
    pub interval: Duration,
    /// The limit on one exchange with a witness.
    pub timeout: Duration,
}

/// What the registry knows of one witness, for `/metrics` and the log page.
#[derive(Debug, Clone)]
pub struct WitnessStatus {
    /// The policy's name for the witness.
    pub name: String,
    /// Its key name (what its cosignature lines carry).
    pub key_name: String,
    pub url: Option<String>,
    /// The largest size it cosigned that the registry stored.
    pub cosigned_size: Option<u64>,
    /// When the registry stored that cosignature (microseconds).
    pub cosigned_received_at: Option<i64>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
}

struct Shared {
    stop: AtomicBool,
    round: Mutex<Round>,
    /// Wakes the checkpointer: a kick, or the stop.
    kicked: Condvar,
    /// Wakes the witness threads: a new checkpoint, a kick, or the stop.
    published: Condvar,
    status: Mutex<Vec<WitnessStatus>>,
}

/// When a witness thread may next talk to its witness.
#[derive(Debug, Clone, Copy)]
struct Pace {
    /// The end of the backoff after a failure (or now, after a success).
    not_before: Instant,
    /// The earliest a kick may cut the backoff short: an interval (at most
    /// [`KICKED_RETRY_SPACING`]) after the last try.
    kicked_not_before: Instant,
}

/// What the checkpointer and the witness threads share.
struct Round {
    /// Bumped by each kick (a reader waiting for a quorum).
    kicks: u64,
    /// The checkpoint every witness is asked to cosign, the newest the checkpointer signed.
    target: Option<CheckpointRow>,
}

impl Shared {
    fn update(&self, index: usize, f: impl FnOnce(&mut WitnessStatus)) {
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = status.get_mut(index) {
            f(s);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Round> {
        self.round.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The checkpointer's pause: until kicked, stopped or `timeout` passed; false once stopped.
    fn wait_for_kick(&self, seen: &mut u64, timeout: Duration) -> bool {
        let round = self.lock();
        let (round, _) = self
            .kicked
            .wait_timeout_while(round, timeout, |r| r.kicks == *seen && !self.stopped())
            .unwrap_or_else(|p| p.into_inner());
        *seen = round.kicks;
        !self.stopped()
    }

    /// Makes `checkpoint` the one to cosign, if it is newer than the current one.
    fn publish(&self, checkpoint: CheckpointRow) {
        let mut round = self.lock();
        if round
            .target
            .as_ref()
            .is_none_or(|t| t.size < checkpoint.size)
        {
            round.target = Some(checkpoint);
            self.published.notify_all();
        }
    }

    fn kick(&self) {
        let mut round = self.lock();
        round.kicks = round.kicks.wrapping_add(1);
        self.kicked.notify_all();
        self.published.notify_all();
    }

    /// A witness thread's pause. Returns the published checkpoint once it differs from the
    /// size the witness is known to hold and the thread's backoff is over; a kick (a reader
    /// waiting for a quorum) shortens a backoff to `pace.kicked_not_before`, so a failing
    /// witness is retried soon but a flood of readers cannot make the registry flood it.
    /// `None` once stopped.
    fn next_target(
        &self,
        known: Option<u64>,
        pace: Pace,
        kicks_seen: &mut u64,
    ) -> Option<CheckpointRow> {
        let mut round = self.lock();
        let mut kicked = false;
        loop {
            if self.stopped() {
                return None;
            }
            if round.kicks != *kicks_seen {
                kicked = true;
                *kicks_seen = round.kicks;
            }
            let pending = round
                .target
                .as_ref()
                .filter(|t| u64::try_from(t.size).ok() != known);
            // Without a pending checkpoint only a publication, a kick or the stop wakes the
            // thread; the timeout merely bounds the wait.
            let wait = match pending {
                Some(t) => {
                    let until = match kicked {
                        true => pace.not_before.min(pace.kicked_not_before),
                        false => pace.not_before,
                    };
                    match until.checked_duration_since(Instant::now()) {
                        Some(left) => left,
                        None => return Some(t.clone()),
                    }
                }
                None => MAX_BACKOFF,
            };
            round = self
                .published
                .wait_timeout(round, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn stop_all(&self) {
        // Under the lock, so no thread misses the stop between its check and its wait.
        let _round = self.lock();
        self.stop.store(true, Ordering::Release);
        self.kicked.notify_all();
        self.published.notify_all();
    }
}

/// Signs a checkpoint every interval if the log grew, or at once when kicked, and publishes it
/// to the witness threads.
fn run_checkpointer(db: Db, signer: Arc<NoteSigner>, shared: Arc<Shared>, interval: Duration) {
    let mut seen = 0;
    loop {
        match checkpoints::current(&db, &signer) {
            Ok(checkpoint) => shared.publish(checkpoint),
            Err(e) => tracing::warn!(error = %e, "cannot sign a checkpoint for the witnesses"),
        }
        if !shared.wait_for_kick(&mut seen, interval) {
            return;
        }
    }
}

/// The running client; dropping the last handle stops its threads.
pub struct Witnessing {
    policy: Arc<Policy>,
    shared: Arc<Shared>,
}

impl Witnessing {
    /// Starts the checkpointer and one thread per witness of `policy`.
    pub fn start(db: Db, signer: Arc<NoteSigner>, policy: Policy, timing: Timing) -> Witnessing {
        let policy = Arc::new(policy);
        let status = policy
            .witnesses()
            .iter()
            .map(|w| WitnessStatus {
                name: w.name.clone(),
                key_name: w.key.name().to_string(),
                url: w.url.clone(),
                cosigned_size: None,
                cosigned_received_at: None,
                consecutive_failures: 0,
                last_error: w.url.is_none().then(|| {
                    "the policy gives no URL for this witness, so the registry cannot ask it"
                        .to_string()
                }),
            })
            .collect();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            round: Mutex::new(Round {
                kicks: 0,
                target: None,
            }),
            kicked: Condvar::new(),
            published: Condvar::new(),
            status: Mutex::new(status),
        });
        {
            let (db, signer, shared) = (db.clone(), signer.clone(), shared.clone());
            let spawned = std::thread::Builder::new()
                .name("witness-checkpointer".into())
                .spawn(move || run_checkpointer(db, signer, shared, timing.interval));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the witness checkpointer thread");
            }
        }
        for (index, witness) in policy.witnesses().iter().enumerate() {
            let Some(url) = witness.url.clone() else {
                continue;
            };
            let worker = Worker {
                index,
                witness: witness.clone(),
                endpoint: format!("{}/add-checkpoint", url.trim_end_matches('/')),
                db: db.clone(),
                shared: shared.clone(),
                timing,
                agent: ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .max_redirects(0)
                    .timeout_global(Some(timing.timeout))
                    .build()
                    .into(),
                known: None,
            };
            let spawned = std::thread::Builder::new()
                .name(format!("witness-{index}"))
                .spawn(move || worker.run());
            if let Err(e) = spawned {
                tracing::error!(witness = %witness.name, error = %e, "cannot start the witness thread");
            }
        }
        Witnessing { policy, shared }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Has a checkpoint of the current log signed and sent to the witnesses now (a reader is
    /// waiting for a quorum).
    pub fn kick(&self) {
        self.shared.kick();
    }

    /// A snapshot of every witness's state.
    pub fn status(&self) -> Vec<WitnessStatus> {
        self.shared
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The policy names of the witnesses whose stored cosignatures are in `rows`.
    fn cosigners<'p>(&'p self, rows: &[&CosignatureRow]) -> Vec<&'p str> {
        self.policy
            .witnesses()
            .iter()
            .filter(|w| {
                rows.iter()
                    .any(|r| r.witness == w.key.name() && r.key_id == i64::from(w.key.key_id()))
            })
            .map(|w| w.name.as_str())
            .collect()
    }

    /// The largest checkpoint of at least `min_size` entries whose stored cosignatures meet
    /// the policy's quorum, with those cosignatures.
    pub fn quorum_checkpoint(
        &self,
        db: &Db,
        min_size: i64,
    ) -> Result<Option<(CheckpointRow, Vec<CosignatureRow>)>, DbError> {
        db.read(|conn| {
            let rows = cosignatures::from_size(conn, min_size)?;
            let mut start = 0;
            while let Some(first) = rows.get(start) {
                let size = first.size;
                let end = rows
                    .iter()
                    .skip(start)
                    .position(|r| r.size != size)
                    .map_or(rows.len(), |n| start + n);
                let of_size: Vec<&CosignatureRow> =
                    rows.iter().skip(start).take(end - start).collect();
                if self.policy.quorum_met_by(&self.cosigners(&of_size))
                    && let Some(checkpoint) = checkpoints::at_size(conn, size)?
                {
                    let of_size = of_size.into_iter().cloned().collect();
                    return Ok(Some((checkpoint, of_size)));
                }
                start = end;
            }
            Ok(None)
        })
    }
}

impl Drop for Witnessing {
    fn drop(&mut self) {
        self.shared.stop_all();
    }
}

/// One witness's thread.
struct Worker {
    index: usize,
    witness: PolicyWitness,
    endpoint: String,
    db: Db,
    shared: Arc<Shared>,
    timing: Timing,
    agent: ureq::Agent,
    /// The size this witness cosigned last, as far as the registry knows.
    known: Option<u64>,
}

/// How one exchange went wrong.
struct Failure(String);

impl Worker {
    fn run(mut self) {
        match self.db.read(|c| {
            cosignatures::latest_by(c, self.witness.key.name(), self.witness.key.key_id())
        }) {
            Ok(Some(row)) => {
                self.known = u64::try_from(row.size).ok();
                self.shared.update(self.index, |s| {
                    s.cosigned_size = self.known;
                    s.cosigned_received_at = Some(row.received_at);
                });
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(witness = %self.witness.name, error = %e, "cannot read stored cosignatures")
            }
        }
        let mut pace = Pace {
            not_before: Instant::now(),
            kicked_not_before: Instant::now(),
        };
        let mut kicks_seen = 0;
        while let Some(checkpoint) = self.shared.next_target(self.known, pace, &mut kicks_seen) {
            let tried = Instant::now();
            let not_before = match self.round(&checkpoint) {
                Ok(()) => {
                    self.shared.update(self.index, |s| {
                        s.consecutive_failures = 0;
                        s.last_error = None;
                    });
                    Instant::now()
                }
                Err(Failure(why)) => {
                    let mut failures = 0;
                    self.shared.update(self.index, |s| {
                        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
                        s.last_error = Some(why.clone());
                        failures = s.consecutive_failures;
                    });
                    tracing::warn!(witness = %self.witness.name, failures, error = %why, "witness did not cosign");
                    let factor = 1u32 << failures.min(8);
                    Instant::now() + (self.timing.interval * factor).min(MAX_BACKOFF)
                }
            };
            pace = Pace {
                not_before,
                kicked_not_before: tried + self.timing.interval.min(KICKED_RETRY_SPACING),
            };
        }
    }

    /// Has the witness cosign `checkpoint` unless it did.
    fn round(&mut self, checkpoint: &CheckpointRow) -> Result<(), Failure> {
        let size = u64::try_from(checkpoint.size)
            .map_err(|_| Failure("negative checkpoint size".into()))?;
        if self.known == Some(size) {
            return Ok(());
        }
        let mut old = self.known.unwrap_or(0);
        for _ in 0..ATTEMPTS {
            if old > size {
                // The witness has cosigned a larger tree than this server's newest checkpoint:
                // another server on this database, or another history. The next round, with a
                // newer checkpoint, will tell.
                return Err(Failure(format!(
                    "the witness cosigned size {old}, more than this server's checkpoint of {size}"
                )));
            }
            match self.exchange(checkpoint, old, size)? {
                Answer::Cosigned => {
                    self.known = Some(size);
                    return Ok(());
                }
                Answer::Knows(n) => {
                    self.known = Some(n);
                    old = n;
                }
            }
        }
        Err(Failure(format!(
            "no agreement on the witness's size after {ATTEMPTS} tries"
        )))
    }

    /// One `add-checkpoint` request.
    fn exchange(&self, checkpoint: &CheckpointRow, old: u64, size: u64) -> Result<Answer, Failure> {
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            let cache = self.db.node_cache();
            self.db
                .read(|c| tree::consistency_proof(c, Some(&cache), old, size))
                .map_err(|e| Failure(format!("cannot prove {old} -> {size}: {e}")))?
        };
        let body = AddCheckpoint::to_body(old, &proof, &checkpoint.note);
        let mut res = self
            .agent
            .post(&self.endpoint)
            .header("Content-Type", "text/plain; charset=utf-8")
            .send(body.as_bytes())
            .map_err(|e| Failure(format!("POST {}: {e}", self.endpoint)))?;
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = res
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES as u64)
            .read_to_string()
            .map_err(|e| Failure(format!("reading the answer of {}: {e}", self.endpoint)))?;
        match status {
            200 => {
                self.store(checkpoint, &text)?;
                Ok(Answer::Cosigned)
            }
            409 if content_type.starts_with(SIZE_CONTENT_TYPE) => text
                .strip_suffix('\n')
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse().ok())
                .map(Answer::Knows)
                .ok_or_else(|| Failure(format!("409 with a malformed size {text:?}"))),
            _ => Err(Failure(format!(
                "HTTP {status}: {}",
                text.lines().next().unwrap_or_default()
            ))),
        }
    }

    /// Verifies the witness's cosignature lines on `checkpoint` and stores the ones by its
    /// key; lines by other keys are ignored, as the spec requires of a client.
    fn store(&self, checkpoint: &CheckpointRow, answer: &str) -> Result<(), Failure> {
        let body = checkpoint_body(&checkpoint.note)
            .ok_or_else(|| Failure("the stored checkpoint note has no body".into()))?;
        let key: &CosignerKey = &self.witness.key;
        let received_at = now_micros();
        let rows: Vec<CosignatureRow> = answer
            .lines()
            .filter_map(|line| Cosignature::parse_line(line).ok())
            .filter(|c| c.name == key.name() && c.key_id == key.key_id())
            .filter(|c| key.verify(c, body).is_ok())
            .filter_map(|c| {
                Some(CosignatureRow {
                    size: checkpoint.size,
                    witness: c.name.clone(),
                    key_id: i64::from(c.key_id),
                    cosigned_at: i64::try_from(c.timestamp).ok()?,
                    line: c.to_line(),
                    received_at,
                })
            })
            .collect();
        let Some(first) = rows.first() else {
            return Err(Failure(format!(
                "200 without a valid cosignature by {}",
                key.name()
            )));
        };
        let first = first.clone();
        self.db
            .write(|tx| {
                for row in &rows {
                    cosignatures::insert(tx.conn, row)?;
                }
                Ok(())
            })
            .map_err(|e| Failure(format!("cannot store the cosignature: {e}")))?;
        self.shared.update(self.index, |s| {
            s.cosigned_size = u64::try_from(first.size).ok();
            s.cosigned_received_at = Some(first.received_at);
        });
        Ok(())
    }
}

enum Answer {
    Cosigned,
    /// 409: the size the witness cosigned last.
    Knows(u64),
}

/// The checkpoint text of a signed note: everything before the blank line, final newline kept.
pub fn checkpoint_body(note: &str) -> Option<&str> {
    note.rfind("\n\n").and_then(|i| note.get(..=i))
}
