//! One `Settings` struct from flags with `AMITY_*` environment fallbacks.

use std::path::PathBuf;

/// Server settings; every flag falls back to its environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "AMITY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Database: `sqlite://PATH` (or a plain path) or `postgres://USER:PASS@HOST/DB`.
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        default_value = "sqlite://amity.db"
    )]
    pub database_url: String,

    /// The registry's origin, used in log checkpoints and signing namespaces.
    #[arg(long, env = "AMITY_ORIGIN", default_value = "amity.localhost")]
    pub origin: String,

    /// Directory of the registry's key files.
    #[arg(long = "keys-dir", env = "AMITY_KEYS_DIR", default_value = "keys")]
    pub keys_dir: PathBuf,

    /// Largest accepted MOU document, in bytes.
    #[arg(long = "max-document-bytes", env = "AMITY_MAX_DOCUMENT_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_document_bytes: usize,

    /// Make newly registered signatory keys active at once instead of waiting for an admin's
    /// approval (for deployments where the office's word is enough, and for demos).
    #[arg(long = "auto-approve-keys", env = "AMITY_AUTO_APPROVE_KEYS")]
    pub auto_approve_keys: bool,

    /// Database connections kept for reads.
    #[arg(long = "pool-size", env = "AMITY_POOL_SIZE", default_value_t = 8)]
    pub pool_size: u32,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "AMITY_WORKERS")]
    pub workers: Option<usize>,

    /// Log format: `text` or `json`.
    #[arg(long = "log-format", env = "AMITY_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

impl Settings {
    /// Settings for tests and embedding: the defaults with another database and keys folder.
    pub fn for_database(url: &str, keys_dir: PathBuf) -> Settings {
        Settings {
            bind: "127.0.0.1:0".into(),
            database_url: url.into(),
            origin: "amity.localhost".into(),
            keys_dir,
            max_document_bytes: 25 * 1024 * 1024,
            auto_approve_keys: false,
            pool_size: 4,
            workers: Some(1),
            log_format: "text".into(),
        }
    }
}
