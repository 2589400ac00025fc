//! Integration tests: every test starts the real server on a free loopback port with its own
//! database and talks to it over HTTP. Each test body runs once per backend: SQLite always,
//! PostgreSQL at AMITY_TEST_POSTGRES_URL, else on a throwaway cluster where the PostgreSQL
//! server is installed, else reported as ignored (see build.rs).

// Test and benchmark harness code: a panic is how it reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

mod abuse;
mod activities;
pub mod audit;
mod authz;
mod authz_mous;
mod backup;
mod bad_input;
mod briefing;
mod browser;
pub mod browser_forms;
mod browser_signing;
mod bundle;
mod cache_coherence;
mod cities;
pub mod cli;
mod compat;
mod contract;
mod crash;
mod demo;
mod dormant;
mod examples;
mod fuzz_corpus;
mod group_briefing;
mod group_commit;
mod hostile;
mod import;
mod interop;
mod keys;
mod large_documents;
mod links;
mod log;
mod log_checks;
mod mail;
mod meta;
mod mous;
mod multi_server;
mod multilingual;
mod operator;
mod outcomes;
mod pages;
mod partnerships;
mod pgbin;
mod pgtemp;
mod process;
mod reference;
mod replica;
mod requests;
mod requests_audit;
mod rules;
mod sign_retry;
mod signatures;
mod signing;
mod signing_links;
mod tlog;
mod upload_bodies;
pub mod webhooks;
mod witness_server;
mod witnessing;
