//! Amity: the registry of record for sister-city partnerships and the MOUs behind them.
//!
//! Layering: `api` (HTTP) -> `domain` (pure rules) -> `db` (storage). The CLI in `cli` drives
//! the same layers.

pub mod api;
pub mod app;
pub use amity_verify::bundle;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod log;
pub mod notify;
pub mod server;
pub mod signatory;
pub mod web;
pub mod witness;
