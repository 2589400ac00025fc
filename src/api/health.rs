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
    pub log_size: i64,
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
    let size = state.read(db::log::size).await?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok".into(),
        database: state.db.backend().as_str().into(),
        log_size: size,
    }))
}

/// Prometheus text exposition: requests by route and status, latency, log size, write queue.
#[utoipa::path(tag = "meta", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let size = state.read(db::log::size).await?;
    state.metrics.log_size.set(size);
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
