//! Starting the HTTP server.

use std::net::TcpListener;

use actix_web::HttpServer;

use crate::api::{self, AppState};
use crate::cli::CliError;
use crate::config::Settings;
use crate::db::Db;
use crate::log::registry_key::{self, KeyOrigin};

/// Loads (or creates) the registry key, opens the database (running migrations) and binds
/// the listener.
pub fn prepare(settings: Settings) -> Result<(AppState, TcpListener), CliError> {
    let (signer, how) = registry_key::load_or_create(&settings.keys_dir, &settings.origin)
        .map_err(|e| CliError(e.to_string()))?;
    if how == KeyOrigin::Created {
        tracing::info!(
            dir = %settings.keys_dir.display(),
            vkey = %signer.verifier().to_vkey(),
            "created the registry signing key"
        );
    }
    let db = Db::open(&settings.database_url, settings.pool_size)?;
    let listener = TcpListener::bind(&settings.bind)
        .map_err(|e| CliError(format!("cannot listen on {}: {e}", settings.bind)))?;
    Ok((AppState::new(db, settings, signer), listener))
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
    let app_state = state.clone();
    let mut server = HttpServer::new(move || api::app(app_state.clone()))
        .listen(listener)?
        .shutdown_timeout(10);
    if let Some(n) = workers {
        server = server.workers(n.max(1));
    }
    if !signals {
        server = server.disable_signals();
    }
    Ok(server.run())
}

/// Runs the server until a signal stops it.
pub async fn run(state: AppState, listener: TcpListener) -> std::io::Result<()> {
    build(state, listener, true)?.await
}
