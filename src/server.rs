//! Starting the HTTP server.

use crate::domain::ErrorCode;
use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};

use crate::api::{self, AppState};
use crate::config::Settings;
use crate::db::{Db, DbError};
use crate::error::ApiError;
use crate::log::registry_key::{self, KeyOrigin};
use crate::log::witnesses;
use std::sync::Arc;

/// Pending connections the kernel queues before the server accepts them.
const LISTEN_BACKLOG: i32 = 4096;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    RegistryKey(#[from] registry_key::KeyFileError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    WitnessPolicy(#[from] crate::log::witnesses::PolicyFileError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
}

/// Loads (or creates) the registry key, opens the database (running migrations) and binds
/// the listener.
pub fn prepare(settings: Settings) -> Result<(AppState, TcpListener), StartupError> {
    let (signer, how) = registry_key::load_or_create(&settings.keys_dir, &settings.origin)?;
    if how == KeyOrigin::Created {
        tracing::info!(
            dir = %settings.keys_dir.display(),
            vkey = %signer.verifier().to_vkey(),
            "created the registry signing key"
        );
    }
    // The policy is read before anything is opened, so a bad one stops the start at once.
    let policy = settings
        .witness_policy
        .as_deref()
        .map(|path| witnesses::load_policy(path, &signer))
        .transpose()?;
    let mut db = Db::open(&settings.database_url, settings.pool_size)?
        .with_write_queue_capacity(settings.write_queue_capacity)
        .with_node_cache(settings.node_cache_entries)
        .with_clock(settings.clock.clone());
    if let Some(url) = &settings.replica_url {
        let wait = Duration::from_millis(settings.replica_wait_ms);
        db = db.with_replica(url, settings.pool_size, wait)?;
        tracing::info!(replica = %crate::db::redact_url(url), "reading from a replica");
    }
    let listener = TcpListener::bind(&settings.bind).map_err(|source| StartupError::Listen {
        address: settings.bind.clone(),
        source,
    })?;
    // std listens with a backlog of 128; a burst of new connections beyond that would wait
    // for SYN retries (a second or more each). Listening again only raises the queue (Linux
    // caps it at net.core.somaxconn).
    rustix::net::listen(&listener, LISTEN_BACKLOG).map_err(|e| StartupError::Listen {
        address: settings.bind.clone(),
        source: e.into(),
    })?;
    let mut state = AppState::new(db, settings, signer);
    if let Some(policy) = policy {
        let timing = witnesses::Timing {
            interval: Duration::from_millis(state.settings.witness_interval_ms),
            timeout: Duration::from_millis(state.settings.witness_timeout_ms),
        };
        tracing::info!(
            witnesses = policy.witnesses().len(),
            quorum = %policy.describe_quorum(),
            "asking witnesses to cosign checkpoints"
        );
        state.witnessing = Some(Arc::new(witnesses::Witnessing::start(
            state.db.clone(),
            state.signer.clone(),
            policy,
            timing,
        )));
    }
    Ok((state, listener))
}

/// Raises this process's soft limit on open files to its hard limit, so the connection bound
/// (`--max-connections` per worker) is what limits clients, not a low default of 1024 file
/// descriptors. Returns the limit now in force.
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if setrlimit(Resource::Nofile, limit).is_err() {
            return getrlimit(Resource::Nofile).current;
        }
    }
    limit.current
}

/// Builds the server on `listener`. With `signals`, SIGINT/SIGTERM stop it gracefully: it
/// stops accepting and lets in-flight requests finish (each write is committed before its
/// response is sent, so nothing acknowledged is lost).
pub fn build(
    state: AppState,
    listener: TcpListener,
    signals: bool,
) -> std::io::Result<actix_web::dev::Server> {
    let workers = state.settings.workers;
    let settings = state.settings.clone();
    let app_state = state.clone();
    let mut server = HttpServer::new(move || app(app_state.clone()))
        .client_request_timeout(Duration::from_millis(settings.header_timeout_ms.max(1)))
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(Duration::from_secs(settings.keep_alive_secs))
        .max_connections(settings.max_connections.max(1))
        .listen(listener)?
        .shutdown_timeout(10);
    if let Some(n) = workers {
        server = server.workers(n.max(1));
    }
    if !signals {
        server = server.disable_signals();
    }
    let server = server.run();
    spawn_expiry_sweep(state.clone());
    spawn_webhook_delivery(state);
    Ok(server)
}

/// Every `--outbox-poll-ms`, delivers the webhook messages and (with `--smtp-url`) the e-mails
/// that are due (`notify`). A task of the server's runtime; each round runs on the blocking
/// pool, since delivery waits on the network.
fn spawn_webhook_delivery(state: AppState) {
    let every = Duration::from_millis(state.settings.outbox_poll_ms.max(10));
    let how = crate::notify::Delivery {
        allow_internal: state.settings.webhook_allow_internal,
        timeout: Duration::from_millis(state.settings.webhook_timeout_ms),
    };
    let mailer = state
        .settings
        .smtp_url
        .clone()
        .map(|smtp_url| crate::notify::mail::Mailer {
            smtp_url,
            from: state.settings.mail_from.clone(),
            public_url: state.settings.public_url.clone(),
            timeout: Duration::from_millis(state.settings.webhook_timeout_ms),
            links: (*state.links).clone(),
        });
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(every).await;
            let (db, how) = (state.db.clone(), how.clone());
            match web::block(move || crate::notify::deliver_due(&db, &how)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "webhook delivery round failed"),
                Err(e) => tracing::warn!(error = %e, "webhook delivery round did not run"),
            }
            if let Some(mailer) = mailer.clone() {
                let db = state.db.clone();
                match web::block(move || crate::notify::mail::deliver_due(&db, &mailer)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "e-mail delivery round failed"),
                    Err(e) => tracing::warn!(error = %e, "e-mail delivery round did not run"),
                }
            }
        }
    });
}

/// Every `--request-sweep-ms`, logs the expiry of the rounds of signature requests whose
/// deadline passed and sends the reminders that are due (docs/signing-workflow.md). A task of the server's runtime: it ends with
/// the server. A failed sweep is logged and retried at the next tick; nothing is lost, since
/// a due round stays due until its expiry is committed.
///
/// Once an hour (and at the first tick) the same task removes the staged document chunks an
/// upload left behind a day ago or more (`db::blobs::remove_abandoned`).
fn spawn_expiry_sweep(state: AppState) {
    let every = Duration::from_millis(state.settings.request_sweep_ms.max(10));
    actix_web::rt::spawn(async move {
        let mut last_blob_sweep: Option<std::time::Instant> = None;
        loop {
            actix_web::rt::time::sleep(every).await;
            if last_blob_sweep.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                last_blob_sweep = Some(std::time::Instant::now());
                let db = state.db.clone();
                let sweep = move || {
                    let now = db.now();
                    db.side_write(|c| crate::db::blobs::remove_abandoned(c, now))
                };
                match web::block(sweep).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(blobs)) => tracing::info!(blobs, "abandoned staged uploads removed"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "staged upload sweep failed"),
                    Err(e) => tracing::warn!(error = %e, "staged upload sweep did not run"),
                }
            }
            let db = state.db.clone();
            match web::block(move || crate::app::requests::expire_due(&db)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(rounds)) => tracing::info!(rounds, "signature requests expired"),
                Ok(Err(e)) => tracing::warn!(error = %e, "expiry sweep failed"),
                Err(e) => tracing::warn!(error = %e, "expiry sweep did not run"),
            }
            let db = state.db.clone();
            match web::block(move || crate::app::requests::remind_due(&db)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(sent)) => tracing::info!(sent, "signature request reminders sent"),
                Ok(Err(e)) => tracing::warn!(error = %e, "reminder sweep failed"),
                Err(e) => tracing::warn!(error = %e, "reminder sweep did not run"),
            }
        }
    });
}

/// Runs the server until a signal stops it.
pub async fn run(state: AppState, listener: TcpListener) -> std::io::Result<()> {
    build(state, listener, true)?.await
}

/// The complete application for one worker.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // The API scope first, then the pages: see the note on route order in `api::routes`.
    let (app, _) = api::routes().split_for_parts();
    let app = app.configure(crate::web::configure);
    let data = web::Data::new(state);
    app.app_data(data)
        .app_data(
            web::JsonConfig::default()
                .limit(api::JSON_LIMIT)
                .error_handler(|e, _| api::fallback::json_error(e).into()),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::new(ErrorCode::InvalidPath, e.to_string()).into()),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ApiError::new(ErrorCode::InvalidQuery, e.to_string()).into()),
        )
        .app_data(web::PayloadConfig::default().limit(api::JSON_LIMIT))
        .default_service(web::to(api::fallback::not_routed))
        .wrap(from_fn(api::replica::reads_from_replica))
        .wrap(from_fn(api::limits::body_deadline))
        .wrap(ErrorHandlers::new().default_handler(api::fallback::problem_for_bare_error))
        .wrap(from_fn(api::observe::observe))
        // Outermost, so every response carries it: pages, API answers, problems and actix's
        // own refusals. No response of ours is meant to be sniffed into another type.
        .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
}
