//! One `Settings` struct from flags with `AMITY_*` environment fallbacks.

use std::path::PathBuf;

/// Server settings; every flag falls back to its environment variable. `Debug` is written
/// out below rather than derived, because `database_url` may hold a PostgreSQL password.
#[derive(Clone, clap::Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "AMITY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Database: `sqlite://PATH` (or a plain path) or `postgres://USER:PASS@HOST/DB`.
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        hide_env_values = true,
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
    // Boolish: the variable takes 1/0, yes/no, on/off and true/false in any case, the
    // spellings operators actually write in unit files; anything else stops the start with
    // "invalid value ... value was not a boolean" rather than being read as off.
    #[arg(
        long = "auto-approve-keys",
        env = "AMITY_AUTO_APPROVE_KEYS",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub auto_approve_keys: bool,

    /// Database connections kept for reads.
    #[arg(long = "pool-size", env = "AMITY_POOL_SIZE", default_value_t = 8)]
    pub pool_size: u32,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "AMITY_WORKERS")]
    pub workers: Option<usize>,

    /// Milliseconds a client has to send a request's headers (from connecting, or from the
    /// end of its previous request); then the connection is closed. Bounds slow-header clients
    /// and connections opened and left idle.
    #[arg(
        long = "header-timeout-ms",
        env = "AMITY_HEADER_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    pub header_timeout_ms: u64,

    /// Seconds a client has to send a whole request body; a slower body is refused (408).
    #[arg(
        long = "body-timeout",
        env = "AMITY_BODY_TIMEOUT",
        default_value_t = 60
    )]
    pub body_timeout_secs: u64,

    /// Seconds an idle keep-alive connection stays open between requests.
    #[arg(long = "keep-alive", env = "AMITY_KEEP_ALIVE", default_value_t = 5)]
    pub keep_alive_secs: u64,

    /// Open connections per worker; beyond it new connections wait in the listen backlog,
    /// so the total is bounded by workers x this.
    #[arg(
        long = "max-connections",
        env = "AMITY_MAX_CONNECTIONS",
        default_value_t = 25_000
    )]
    pub max_connections: usize,

    /// Failed token authentications allowed per client address per minute; more are
    /// refused with 429 until the minute is over (valid tokens are never slowed).
    #[arg(
        long = "auth-failures-per-minute",
        env = "AMITY_AUTH_FAILURES_PER_MINUTE",
        default_value_t = 10
    )]
    pub auth_failures_per_minute: u32,

    /// Writes that may wait for the database writer; more are refused with 503
    /// `write_queue_full` and Retry-After instead of queueing without bound.
    #[arg(
        long = "write-queue-capacity",
        env = "AMITY_WRITE_QUEUE_CAPACITY",
        default_value_t = crate::db::DEFAULT_WRITE_QUEUE_CAPACITY
    )]
    pub write_queue_capacity: usize,
    /// A C2SP tlog-policy file naming the witnesses that cosign this registry's checkpoints
    /// and the quorum a checkpoint needs (docs/witnessing.md). Without it, no witness is asked.
    #[arg(long = "witness-policy", env = "AMITY_WITNESS_POLICY")]
    pub witness_policy: Option<PathBuf>,
    /// Milliseconds between checkpoints signed for the witnesses while the log grows (a
    /// reader waiting with `witnessed=1` has one signed at once).
    #[arg(
        long = "witness-interval-ms",
        env = "AMITY_WITNESS_INTERVAL_MS",
        default_value_t = 1_000,
        value_parser = clap::value_parser!(u64).range(10..=3_600_000)
    )]
    pub witness_interval_ms: u64,
    /// Milliseconds one exchange with a witness may take.
    #[arg(
        long = "witness-timeout-ms",
        env = "AMITY_WITNESS_TIMEOUT_MS",
        default_value_t = 5_000,
        value_parser = clap::value_parser!(u64).range(100..=600_000)
    )]
    pub witness_timeout_ms: u64,
    /// Milliseconds `GET /api/v1/log/checkpoint?witnessed=1` waits for the quorum before it
    /// answers 503 with Retry-After.
    #[arg(
        long = "witness-wait-ms",
        env = "AMITY_WITNESS_WAIT_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(0..=120_000)
    )]
    pub witness_wait_ms: u64,

    /// Milliseconds between two runs of the expiry sweep, which logs the expiry of every
    /// round of signature requests whose deadline has passed (docs/signing-workflow.md).
    /// A partnership active on paper with no activity recorded for this many years (counted
    /// from its latest activity, or from its establishment when it has none) is dormant: listed
    /// on its cities' pages and dashed on their maps (docs/using.md).
    #[arg(
        long = "dormant-years",
        env = "AMITY_DORMANT_YEARS",
        default_value_t = 3,
        value_parser = clap::value_parser!(u32).range(1..=100)
    )]
    pub dormant_years: u32,

    #[arg(
        long = "request-sweep-ms",
        env = "AMITY_REQUEST_SWEEP_MS",
        default_value_t = 30_000,
        value_parser = clap::value_parser!(u64).range(10..=3_600_000)
    )]
    pub request_sweep_ms: u64,

    /// Default for a round of signature requests: remind this many days before the deadline
    /// (0: not).
    #[arg(
        long = "reminder-before-days",
        env = "AMITY_REMINDER_BEFORE_DAYS",
        default_value_t = 2,
        value_parser = clap::value_parser!(i32).range(0..=365)
    )]
    pub reminder_before_days: i32,

    /// Default: remind every this many days after the request (0: not).
    #[arg(
        long = "reminder-every-days",
        env = "AMITY_REMINDER_EVERY_DAYS",
        default_value_t = 3,
        value_parser = clap::value_parser!(i32).range(0..=365)
    )]
    pub reminder_every_days: i32,

    /// Default: at most this many reminders per request.
    #[arg(
        long = "reminder-max",
        env = "AMITY_REMINDER_MAX",
        default_value_t = 3,
        value_parser = clap::value_parser!(i32).range(0..=20)
    )]
    pub reminder_max: i32,

    /// Deliver webhooks to loopback, private and link-local addresses too (closed networks
    /// and tests); refused by default (docs/notifications.md).
    #[arg(
        long = "webhook-allow-internal",
        env = "AMITY_WEBHOOK_ALLOW_INTERNAL",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub webhook_allow_internal: bool,

    /// Milliseconds one webhook delivery attempt may take.
    #[arg(
        long = "webhook-timeout-ms",
        env = "AMITY_WEBHOOK_TIMEOUT_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(100..=120_000)
    )]
    pub webhook_timeout_ms: u64,

    /// Milliseconds between two looks at the outbox for messages due.
    #[arg(
        long = "outbox-poll-ms",
        env = "AMITY_OUTBOX_POLL_MS",
        default_value_t = 1_000,
        value_parser = clap::value_parser!(u64).range(10..=3_600_000)
    )]
    pub outbox_poll_ms: u64,

    /// Merkle tree nodes kept in memory for proofs and roots (0: none). A stored node never
    /// changes, so the cache is right across several servers on one database; about 80
    /// bytes a node.
    #[arg(
        long = "node-cache-entries",
        env = "AMITY_NODE_CACHE_ENTRIES",
        default_value_t = 262_144,
        value_parser = clap::value_parser!(u64).range(0..=100_000_000)
    )]
    pub node_cache_entries: u64,

    /// SMTP server for e-mail to signatories: `smtp://host:port` (plain, for a local relay),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host` (TLS).
    /// Without it, e-mails wait in the outbox.
    #[arg(long = "smtp-url", env = "AMITY_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of e-mails, e.g. `Amity registry <amity@registry.example.org>`.
    #[arg(
        long = "mail-from",
        env = "AMITY_MAIL_FROM",
        default_value = "Amity registry <amity@amity.localhost>"
    )]
    pub mail_from: String,

    /// Where the registry's pages are served, for the links in e-mails.
    #[arg(
        long = "public-url",
        env = "AMITY_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,

    /// A read-only PostgreSQL streaming replica of DATABASE_URL (`postgres://...`): the reads
    /// of GET requests go there, writes to the primary (docs/operations.md#a-read-replica).
    #[arg(
        long = "replica-url",
        env = "AMITY_REPLICA_URL",
        hide_env_values = true
    )]
    pub replica_url: Option<String>,

    /// How long a read naming a log index (`Amity-Min-Log-Index`) waits for the replica to
    /// replay it before it reads from the primary, in milliseconds.
    #[arg(
        long = "replica-wait-ms",
        env = "AMITY_REPLICA_WAIT_MS",
        default_value_t = 500,
        value_parser = clap::value_parser!(u64).range(0..=10_000)
    )]
    pub replica_wait_ms: u64,

    /// Log format: `text` or `json`.
    #[arg(long = "log-format", env = "AMITY_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    /// The clock writes and deadlines use: the system clock, except in tests that move it.
    #[arg(skip)]
    pub clock: crate::domain::dates::Clock,
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
            replica_url: None,
            replica_wait_ms: 500,
            header_timeout_ms: 5_000,
            body_timeout_secs: 60,
            keep_alive_secs: 5,
            max_connections: 25_000,
            auth_failures_per_minute: 10,
            write_queue_capacity: crate::db::DEFAULT_WRITE_QUEUE_CAPACITY,
            witness_policy: None,
            witness_interval_ms: 1_000,
            witness_timeout_ms: 5_000,
            witness_wait_ms: 10_000,
            request_sweep_ms: 30_000,
            dormant_years: 3,
            reminder_before_days: 2,
            reminder_every_days: 3,
            reminder_max: 3,
            webhook_allow_internal: false,
            webhook_timeout_ms: 10_000,
            outbox_poll_ms: 1_000,
            node_cache_entries: 262_144,
            smtp_url: None,
            mail_from: "Amity registry <amity@amity.localhost>".into(),
            public_url: "http://127.0.0.1:8080".into(),
            clock: crate::domain::dates::Clock::system(),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured, so a new field cannot be left out of (or leak through) this by accident.
        let Settings {
            bind,
            database_url,
            origin,
            keys_dir,
            max_document_bytes,
            auto_approve_keys,
            pool_size,
            workers,
            header_timeout_ms,
            body_timeout_secs,
            keep_alive_secs,
            max_connections,
            auth_failures_per_minute,
            write_queue_capacity,
            witness_policy,
            witness_interval_ms,
            witness_timeout_ms,
            witness_wait_ms,
            request_sweep_ms,
            dormant_years,
            reminder_before_days,
            reminder_every_days,
            reminder_max,
            webhook_allow_internal,
            webhook_timeout_ms,
            outbox_poll_ms,
            node_cache_entries,
            smtp_url,
            mail_from,
            public_url,
            replica_url,
            replica_wait_ms,
            log_format,
            clock,
        } = self;
        f.debug_struct("Settings")
            .field("bind", bind)
            .field("database_url", &crate::db::redact_url(database_url))
            .field("origin", origin)
            .field("keys_dir", keys_dir)
            .field("max_document_bytes", max_document_bytes)
            .field("auto_approve_keys", auto_approve_keys)
            .field("pool_size", pool_size)
            .field("workers", workers)
            .field("header_timeout_ms", header_timeout_ms)
            .field("body_timeout_secs", body_timeout_secs)
            .field("keep_alive_secs", keep_alive_secs)
            .field("max_connections", max_connections)
            .field("auth_failures_per_minute", auth_failures_per_minute)
            .field("write_queue_capacity", write_queue_capacity)
            .field("witness_policy", witness_policy)
            .field("witness_interval_ms", witness_interval_ms)
            .field("witness_timeout_ms", witness_timeout_ms)
            .field("witness_wait_ms", witness_wait_ms)
            .field("request_sweep_ms", request_sweep_ms)
            .field("dormant_years", dormant_years)
            .field("reminder_before_days", reminder_before_days)
            .field("reminder_every_days", reminder_every_days)
            .field("reminder_max", reminder_max)
            .field("webhook_allow_internal", webhook_allow_internal)
            .field("webhook_timeout_ms", webhook_timeout_ms)
            .field("outbox_poll_ms", outbox_poll_ms)
            .field("node_cache_entries", node_cache_entries)
            .field("smtp_url", &smtp_url.as_deref().map(crate::db::redact_url))
            .field("mail_from", mail_from)
            .field("public_url", public_url)
            .field(
                "replica_url",
                &replica_url.as_deref().map(crate::db::redact_url),
            )
            .field("replica_wait_ms", replica_wait_ms)
            .field("log_format", log_format)
            .field("clock", clock)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_database_password() {
        let settings = Settings::for_database(
            "postgres://amity:s3cret@localhost/amity",
            PathBuf::from("keys"),
        );
        let shown = format!("{settings:?}");
        assert!(
            shown.contains("postgres://amity:***@localhost/amity"),
            "{shown}"
        );
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
