//! The transparency log: RFC 9162 Merkle tree hashing and proofs, C2SP signed notes and
//! checkpoints, and the registry's signing key. Pure code: storage lives in `db::tree`.

pub mod merkle;
pub mod note;
pub mod registry_key;
