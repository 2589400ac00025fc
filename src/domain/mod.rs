//! Pure registry logic: validation, the partnership state machine, access rules and the
//! log entries every write produces. Nothing here knows about HTTP or SQL, so the same rules
//! hold for the API, the CLI and the importer.

pub mod access;
pub mod audit;
pub mod cities;
pub mod dates;
pub mod entries;
pub mod error;
pub mod import;
pub mod keys;
pub mod mous;
pub mod offices;
pub mod partnerships;
pub mod replay;
pub mod signatures;
pub mod text;
pub mod tokens;

pub use error::DomainError;
