//! Amity's verification code, standalone: everything an auditor needs to check the registry's
//! formats and rules offline, with no web framework, database, async runtime or network client.
//!
//! The server, the `amity` CLI, the fuzz targets and the `amity-verify` binary all use these
//! modules, so a format is parsed and a rule is checked in exactly one place. The formats are
//! specified in the repository's `docs/formats/`.

pub mod audit;
pub mod bundle;
pub mod cosignature;
pub mod engine;
pub mod entries;
pub mod jcs;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod offline;
pub mod outcomes;
pub mod policy;
pub mod replay;
pub mod rules;
pub mod sshsig;
pub mod statement;
pub mod strict_batch;
pub mod witness;

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
