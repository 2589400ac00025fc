//! The transparency log: the registry's signing key lives here; RFC 9162 Merkle hashing and
//! proofs and C2SP signed notes are verification code in the `amity-verify` crate, re-exported.
//! Storage lives in `db::tree`.

pub use amity_verify::{merkle, note};
pub mod registry_key;
pub mod witnesses;
