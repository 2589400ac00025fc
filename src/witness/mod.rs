//! `amity witness`: a C2SP tlog-witness server (`POST /add-checkpoint`, the spec as of C2SP
//! commit `055270b`) that a partner city runs beside, not inside, the registry. The protocol
//! (parsing a request, deciding it, the cosignature format) is `amity_verify::witness` and
//! `amity_verify::cosignature`; this module adds the state, the key, the HTTP server and the
//! command line. docs/witnessing.md is the operator's guide.
//!
//! Everything lives in one state directory (`--dir`, `AMITY_WITNESS_DIR`, default `witness`):
//!
//! - `witness.key`: the Ed25519 cosigning key and the witness's name ([`key`]);
//! - `witness.db`: SQLite, the logs the witness cosigns for, the log keys it trusts, and the
//!   size and root it cosigned last for each ([`store`]).
//!
//! A request is checked against the stored size and root and the new ones stored in one
//! immediate transaction, committed durably before the cosignature is made and sent
//! ([`store::Store::check_and_store`]), so the witness never cosigns two roots for one size,
//! across concurrent requests, restarts and SIGKILL.
//!
//! The library API, for running a witness in-process (the registry's tests do):
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use amity::witness::{self, ServeOptions};
//! let dir = std::path::Path::new("witness");
//! let key = witness::keygen(dir, "witness.berlin.example/w1")?; // once
//! witness::add_log(dir, "amity.example", "amity.example+01234567+AQ...")?;
//! let service = witness::open(dir)?;
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let server = witness::build_server(service, listener, &ServeOptions::default())?;
//! // In an actix (or tokio) runtime: `server.await`, or keep `server.handle()` to stop it.
//! # let _ = (key, server); Ok(()) }
//! ```

pub mod cli;
mod http;
pub mod key;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use amity_verify::cosignature::{Cosigner, CosignerKey};
use amity_verify::note::NoteVerifier;
use amity_verify::witness::Refusal;

pub use http::{ServeOptions, build_server};
pub use store::{AddedLog, LogStatus, StoreError};

/// The default state directory.
pub const DEFAULT_DIR: &str = "witness";

/// The default listening address of `amity witness serve`.
pub const DEFAULT_BIND: &str = "127.0.0.1:7380";

/// Why a witness operation failed: a message for the operator.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} already exists: a witness keeps its key (move it away to make a new witness)")]
    KeyExists(PathBuf),
    #[error("no witness key in {}: run `amity witness keygen --name NAME` first", .0.display())]
    NoKey(PathBuf),
    #[error(
        "{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}` and start again",
        path = .path.display()
    )]
    KeyTooOpen { path: PathBuf, mode: u32 },
    #[error("{path} is not a witness key: {reason}", path = .path.display())]
    MalformedKey { path: PathBuf, reason: String },
    #[error(
        "{0:?} is not a valid witness name: it must be non-empty, without `+` or spaces \
         (e.g. witness.berlin.example/w1)"
    )]
    InvalidName(String),
    #[error("{vkey:?} is not a log key (an Ed25519 note verifier key, type 0x01): {reason}")]
    InvalidLogKey { vkey: String, reason: String },
    #[error(
        "the key is named {key_name:?} but the origin is {origin:?}: a log key's name must be \
         its origin (the registry's GET /api/v1/log/key gives both)"
    )]
    OriginMismatch { origin: String, key_name: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot cosign: {0}")]
    Cosign(#[from] amity_verify::cosignature::CosignatureError),
}

/// The configuration of a witness: where its state is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessConfig {
    pub dir: PathBuf,
}

impl Default for WitnessConfig {
    fn default() -> Self {
        WitnessConfig {
            dir: PathBuf::from(DEFAULT_DIR),
        }
    }
}

/// Makes the witness's key in `dir` (created if missing) under `name`, a note key name such
/// as `witness.berlin.example/w1`, and returns its public key (`to_vkey()` is what logs and
/// policies name the witness by). Refuses if `dir` already has a key.
pub fn keygen(dir: &Path, name: &str) -> Result<CosignerKey, WitnessError> {
    Ok(key::create(dir, name)?.public().clone())
}

/// Validates a log key: an Ed25519 note verifier key (type 0x01) whose name is `origin`.
pub fn parse_log_key(origin: &str, vkey: &str) -> Result<NoteVerifier, WitnessError> {
    let verifier =
        NoteVerifier::from_vkey(vkey.trim()).map_err(|e| WitnessError::InvalidLogKey {
            vkey: vkey.to_string(),
            reason: e.to_string(),
        })?;
    if verifier.name() != origin {
        return Err(WitnessError::OriginMismatch {
            origin: origin.to_string(),
            key_name: verifier.name().to_string(),
        });
    }
    Ok(verifier)
}

/// Adds the log `origin` (if new) with `vkey` among the keys the witness trusts for it
/// (see [`parse_log_key`]). Safe while the witness serves: each request reads the keys anew.
pub fn add_log(dir: &Path, origin: &str, vkey: &str) -> Result<AddedLog, WitnessError> {
    let verifier = parse_log_key(origin, vkey)?;
    key::create_dir(dir)?;
    let store = store::Store::open(dir)?;
    Ok(store.add_log(origin, &verifier.to_vkey(), now_secs())?)
}

/// The logs the witness knows and what it cosigned last for each.
pub fn list(dir: &Path) -> Result<Vec<LogStatus>, WitnessError> {
    Ok(store::Store::open(dir)?.logs()?)
}

/// Opens the witness in `dir` for serving: its key (which must exist, see [`keygen`]) and
/// its database (created and migrated if needed).
pub fn open(dir: &Path) -> Result<WitnessService, WitnessError> {
    let cosigner = key::load(dir)?;
    let store = store::Store::open(dir)?;
    Ok(WitnessService {
        inner: Arc::new(Inner {
            cosigner,
            store,
            dir: dir.to_path_buf(),
        }),
    })
}

/// What an `add-checkpoint` request gets: the cosignature lines, or a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The body of the 200: one cosignature line per cosigner key, each ending in `\n`.
    Cosigned(String),
    Refused(Refusal),
}

/// An open witness: its key and its database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct WitnessService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cosigner: Cosigner,
    store: store::Store,
    dir: PathBuf,
}

impl WitnessService {
    /// The witness's public key.
    pub fn public_key(&self) -> &CosignerKey {
        self.inner.cosigner.public()
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn store(&self) -> &store::Store {
        &self.inner.store
    }

    /// Answers an `add-checkpoint` request body (blocking: call it off the async workers).
    /// The new size and root are committed before the cosignature is made.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<Answer, WitnessError> {
        let checkpoint = match self.inner.store.check_and_store(body, now_secs())? {
            Ok(checkpoint) => checkpoint,
            Err(refusal) => return Ok(Answer::Refused(refusal)),
        };
        let text = checkpoint
            .to_text()
            .map_err(|_| amity_verify::cosignature::CosignatureError::MalformedBody)?;
        let now = u64::try_from(now_secs()).unwrap_or(0);
        let cosignature = self.inner.cosigner.cosign(&text, now)?;
        Ok(Answer::Cosigned(cosignature.to_line()))
    }
}

/// Unix seconds now (0 for a clock before 1970).
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
