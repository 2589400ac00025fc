//! Liveness and Prometheus metrics.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::db;
use crate::error::ApiError;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
    pub database: String,
    /// The primary's log size.
    pub log_size: i64,
    /// Only on a server reading from a replica (docs/operations.md#a-read-replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<ReplicaHealth>,
}

/// The read replica as this server sees it. A replica that cannot be reached leaves the
/// server healthy: its reads go to the primary.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicaHealth {
    /// `ok`, or `unreachable` (set aside; reads go to the primary).
    pub status: String,
    /// The log size the replica has replayed; `null` when unreachable.
    pub log_size: Option<i64>,
    /// Entries the replica is behind the primary; `null` when unreachable.
    pub lag_entries: Option<i64>,
}

impl ReplicaHealth {
    fn of(replica_size: Option<i64>, primary_size: i64) -> ReplicaHealth {
        ReplicaHealth {
            status: if replica_size.is_some() {
                "ok"
            } else {
                "unreachable"
            }
            .into(),
            log_size: replica_size,
            lag_entries: replica_size.map(|r| (primary_size - r).max(0)),
        }
    }
}

/// The primary's log size and, with a replica, the replica's (off the async threads).
async fn log_sizes(state: &AppState) -> Result<(i64, Option<Option<i64>>), ApiError> {
    let size = state.read_current(db::log::size).await?;
    let database = state.db.clone();
    let replica = web::block(move || database.replica_log_size()).await?;
    Ok((size, replica))
}

/// Liveness: answers only when the database answers and writes can still be committed.
#[utoipa::path(tag = "meta", responses((status = 200, body = Health), (status = 503, body = crate::api::openapi::Problem)))]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // Reads alone would still work without the writer, but every write would fail: a
    // supervisor must see that and restart the process.
    if !state.db.group_writer_alive() {
        return Err(db::DbError::WriterStopped.into());
    }
    // The primary's: a replica answering must not make a server whose primary is gone look
    // alive.
    let (size, replica) = log_sizes(&state).await?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok".into(),
        database: state.db.backend().as_str().into(),
        log_size: size,
        replica: replica.map(|r| ReplicaHealth::of(r, size)),
    }))
}

/// Prometheus text exposition: requests by route and status, latency, log size, write queue.
#[utoipa::path(tag = "meta", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (size, replica) = log_sizes(&state).await?;
    state.metrics.log_size.set(size);
    if let Some(replica) = replica {
        let lag = replica.map_or(-1, |r| (size - r).max(0));
        state.metrics.replica_lag_entries.set(lag);
    }
    let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    state
        .metrics
        .write_queue_depth
        .set(gauge(state.db.write_queue_depth()));
    state
        .metrics
        .write_queue_capacity
        .set(gauge(state.db.write_queue_capacity()));
    let cache = state.db.node_cache();
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    state.metrics.node_cache_hits.set(count(cache.hits()));
    state.metrics.node_cache_misses.set(count(cache.misses()));
    state.metrics.node_cache_entries.set(gauge(cache.len()));
    if let Some(witnessing) = &state.witnessing {
        let now = crate::domain::dates::now_micros();
        for w in witnessing.status() {
            let labels = super::observe::WitnessLabels { witness: w.name };
            let cosigned = w.cosigned_size.and_then(|n| i64::try_from(n).ok());
            let m = &state.metrics;
            m.witness_cosigned_size
                .get_or_create(&labels)
                .set(cosigned.unwrap_or(-1));
            m.witness_lag_entries
                .get_or_create(&labels)
                .set(size - cosigned.unwrap_or(0));
            m.witness_cosignature_age_seconds
                .get_or_create(&labels)
                .set(w.cosigned_received_at.map_or(-1, |t| (now - t) / 1_000_000));
            m.witness_failures
                .get_or_create(&labels)
                .set(i64::from(w.consecutive_failures));
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.encode()))
}
