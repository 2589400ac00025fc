//! What every handler shares, and the two ways handlers reach the database.

use std::sync::Arc;

use actix_web::web;

use super::limits::AuthFailures;
use super::observe::Metrics;
use crate::config::Settings;
use crate::db::{Db, DbConn, DbError, WriteTx};
use crate::error::ApiError;
use crate::log::note::NoteSigner;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    /// (path template, methods) of every documented route, for 404 versus 405.
    pub routes: Arc<Vec<(String, Vec<String>)>>,
    /// The registry key that signs checkpoints.
    pub signer: Arc<NoteSigner>,
    /// Failed token authentications per client address (shared by every worker).
    pub auth_failures: Arc<AuthFailures>,
    /// The witness client, when a witness policy is configured (docs/witnessing.md).
    pub witnessing: Option<Arc<crate::log::witnesses::Witnessing>>,
    /// Computes signing-link tokens (docs/browser-signing.md); derived from the registry key.
    pub links: Arc<crate::crypto::signing_link::LinkKey>,
}

impl AppState {
    pub fn new(db: Db, settings: Settings, signer: NoteSigner) -> AppState {
        let doc = super::openapi_doc();
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = super::openapi::methods_of(item);
                (path.clone(), methods)
            })
            .collect();
        let metrics = Metrics::new();
        if db.has_replica() {
            metrics.register_replica();
        }
        AppState {
            db,
            auth_failures: Arc::new(AuthFailures::new(settings.auth_failures_per_minute)),
            settings: Arc::new(settings),
            metrics: Arc::new(metrics),
            routes: Arc::new(routes),
            links: Arc::new(crate::crypto::signing_link::LinkKey::derive(
                signer.to_skey().as_bytes(),
            )),
            signer: Arc::new(signer),
            witnessing: None,
        }
    }

    /// The registry's today (UTC), from the clock its writes use.
    pub fn today(&self) -> chrono::NaiveDate {
        chrono::DateTime::<chrono::Utc>::from_timestamp_micros(self.db.now())
            .map(|t| t.date_naive())
            .unwrap_or_else(crate::domain::dates::today)
    }

    /// Runs a read on the blocking pool: on the read replica when the request is a GET and
    /// one is configured (`api::replica`), else on the primary.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.db.clone();
        let Some(request) = super::replica::current() else {
            return Ok(web::block(move || db.read(f)).await??);
        };
        let min_index = request.min_index;
        let (value, from) = web::block(move || db.read_from(min_index, f)).await??;
        request.record(from);
        self.metrics
            .replica_reads
            .get_or_create(&super::observe::ReadFromLabels {
                served_by: from.as_str().to_string(),
            })
            .inc();
        Ok(value)
    }

    /// Runs a short read: on SQLite, when a connection is idle, right here on the worker;
    /// otherwise like `read`, on the blocking pool.
    ///
    /// Only for reads bounded by an index: a point look-up, a page of at most 500 rows
    /// walked in index order, a Merkle proof (~2 log2 n node reads). Such a read takes a few
    /// to a few hundred microseconds on SQLite, less than the hand-off to the blocking pool
    /// and back (in the profile of a by-id read, a third of the samples were the thread
    /// wake-ups of that hop). A read that may scan belongs in `read`: it would stall every
    /// other connection of this worker meanwhile.
    pub async fn read_short<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
    {
        match self.db.idle_local_conn() {
            Some(mut conn) => Ok(f(&mut conn)?),
            None => self.read(f).await,
        }
    }

    /// Runs a read that must see the latest committed state, on the primary even where the
    /// request's other reads go to a replica: credentials and capabilities (a token or a
    /// signing link revoked a moment ago must not pass on a replica that has not replayed the
    /// revocation, nor a token just issued fail). Short, like `read_short`.
    pub async fn read_current<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
    {
        if super::replica::current().is_none() {
            return self.read_short(f).await;
        }
        let db = self.db.clone();
        Ok(web::block(move || db.read(f)).await??)
    }

    /// Runs a write of ephemeral, unlogged state (see `Db::side_write`) on the blocking pool.
    pub async fn side_write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.db.clone();
        Ok(web::block(move || db.side_write(f)).await??)
    }

    /// Runs a write (with its log entries) through group commit: it resolves only after
    /// the transaction holding it committed.
    /// Runs a write of working state that is not registry data (webhook endpoints and their
    /// deliveries) on the blocking pool: committed before it answers, and never in the log.
    pub async fn db_side_write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.db.clone();
        Ok(web::block(move || db.side_write(f)).await??)
    }

    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteTx<'_>) -> Result<T, DbError> + Send + 'static,
    {
        Ok(self.db.write_grouped(f).await?)
    }
}
