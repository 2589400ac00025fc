//! Use cases: what a principal may do to the registry, written once and called by every
//! adapter (the JSON API in `api`, the pages' forms in `web`, the CLI). Each use case takes the
//! write transaction, the acting principal and its validated input, and runs its authorization
//! inside the transaction, under the log-head lock, so the check and the write see the same
//! state. Adapters only translate: request to input, result to response.
//!
//! The layers and what may import what are in docs/architecture.md.

pub mod activities;
pub mod briefing;
pub mod evidence;
pub mod groups;
pub mod mous;
pub mod partnerships;
pub mod requests;
pub mod signing;
pub mod webhooks;
