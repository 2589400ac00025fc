//! Starting the HTTP server.

use std::net::TcpListener;

use actix_web::HttpServer;

use crate::api::{self, AppState};
use crate::cli::CliError;
use crate::config::Settings;
use crate::db::Db;

/// Opens the database (running migrations) and binds the listener.
pub fn prepare(settings: Settings) -> Result<(AppState, TcpListener), CliError> {
    let db = Db::open(&settings.database_url, settings.pool_size)?;
    let listener = TcpListener::bind(&settings.bind)
        .map_err(|e| CliError(format!("cannot listen on {}: {e}", settings.bind)))?;
    Ok((AppState::new(db, settings), listener))
}

/// Runs the server on `listener` until SIGINT/SIGTERM; actix stops accepting and lets
/// in-flight requests finish (each write is committed before its response is sent).
pub async fn run(state: AppState, listener: TcpListener) -> std::io::Result<()> {
    let workers = state.settings.workers;
    let app_state = state.clone();
    let mut server = HttpServer::new(move || api::app(app_state.clone()))
        .listen(listener)?
        .shutdown_timeout(10);
    if let Some(n) = workers {
        server = server.workers(n.max(1));
    }
    server.run().await
}
