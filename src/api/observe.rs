//! One log line and metrics per request: count by route and status, latency histogram.

use std::sync::Mutex;
use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

/// Where a read was served from (`db::replica::ReadFrom`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReadFromLabels {
    pub served_by: String,
}

/// One witness of the policy, by the policy's name for it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WitnessLabels {
    pub witness: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pub log_size: Gauge,
    /// Grouped writes waiting for the writer thread; near capacity, writes are being refused.
    pub write_queue_depth: Gauge,
    pub write_queue_capacity: Gauge,
    /// Merkle node cache (`db/node_cache.rs`): look-ups answered from memory and not, since
    /// start, and nodes held.
    pub node_cache_hits: Gauge,
    pub node_cache_misses: Gauge,
    pub node_cache_entries: Gauge,
    /// The largest checkpoint size each witness cosigned (-1: none yet).
    pub witness_cosigned_size: Family<WitnessLabels, Gauge>,
    /// Log entries each witness's latest cosignature is behind the log.
    pub witness_lag_entries: Family<WitnessLabels, Gauge>,
    /// Seconds since the registry stored each witness's latest cosignature (-1: none yet).
    pub witness_cosignature_age_seconds: Family<WitnessLabels, Gauge>,
    /// Failed exchanges with each witness since its last success.
    pub witness_failures: Family<WitnessLabels, Gauge>,
    /// Reads of GET requests by what served them, with a replica configured.
    pub replica_reads: Family<ReadFromLabels, Counter>,
    /// Log entries the replica is behind the primary (-1: unreachable), with a replica.
    pub replica_lag_entries: Gauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 100 µs to about 6.5 s.
            Histogram::new(exponential_buckets(0.0001, 2.0, 17))
        });
        let log_size = Gauge::default();
        let mut registry = Registry::with_prefix("amity");
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "log_size",
            "Entries in the transparency log",
            log_size.clone(),
        );
        let write_queue_depth = Gauge::default();
        registry.register(
            "write_queue_depth",
            "Writes waiting for the group-commit writer",
            write_queue_depth.clone(),
        );
        let write_queue_capacity = Gauge::default();
        registry.register(
            "write_queue_capacity",
            "Writes that may wait before more are refused with 503",
            write_queue_capacity.clone(),
        );
        let node_cache_hits = Gauge::default();
        registry.register(
            "node_cache_hits",
            "Merkle node look-ups answered from memory since start",
            node_cache_hits.clone(),
        );
        let node_cache_misses = Gauge::default();
        registry.register(
            "node_cache_misses",
            "Merkle node look-ups that read the database since start",
            node_cache_misses.clone(),
        );
        let node_cache_entries = Gauge::default();
        registry.register(
            "node_cache_entries",
            "Merkle nodes held in memory (AMITY_NODE_CACHE_ENTRIES at most)",
            node_cache_entries.clone(),
        );
        let witness_cosigned_size = Family::<WitnessLabels, Gauge>::default();
        registry.register(
            "witness_cosigned_size",
            "Largest checkpoint size each witness cosigned (-1: none yet)",
            witness_cosigned_size.clone(),
        );
        let witness_lag_entries = Family::<WitnessLabels, Gauge>::default();
        registry.register(
            "witness_lag_entries",
            "Log entries each witness's latest cosignature is behind the log",
            witness_lag_entries.clone(),
        );
        let witness_cosignature_age_seconds = Family::<WitnessLabels, Gauge>::default();
        registry.register(
            "witness_cosignature_age_seconds",
            "Seconds since each witness's latest cosignature was stored (-1: none yet)",
            witness_cosignature_age_seconds.clone(),
        );
        let witness_failures = Family::<WitnessLabels, Gauge>::default();
        registry.register(
            "witness_failures",
            "Failed exchanges with each witness since its last success",
            witness_failures.clone(),
        );
        let replica_reads = Family::<ReadFromLabels, Counter>::default();
        registry.register(
            "replica_reads",
            "Reads of GET requests served by the read replica or, when it was behind, down or set aside, by the primary",
            replica_reads.clone(),
        );
        let replica_lag_entries = Gauge::default();
        Metrics {
            replica_lag_entries,
            replica_reads,
            witness_cosigned_size,
            witness_lag_entries,
            witness_cosignature_age_seconds,
            witness_failures,
            registry: Mutex::new(registry),
            requests,
            latency,
            log_size,
            write_queue_depth,
            write_queue_capacity,
            node_cache_hits,
            node_cache_misses,
            node_cache_entries,
        }
    }

    /// Exposes the replica's lag: only a server that reads from a replica has one to show.
    pub fn register_replica(&self) {
        let mut registry = match self.registry.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        registry.register(
            "replica_lag_entries",
            "Log entries the read replica is behind the primary (-1: unreachable)",
            self.replica_lag_entries.clone(),
        );
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = match self.registry.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The path as the request log keeps it: a signing link's token is a capability
/// (docs/browser-signing.md), so it is cut from `/sign/<token>` and `/api/v1/signing/<token>`
/// before the path is written anywhere.
pub fn without_capability(path: &str) -> String {
    for prefix in ["/sign/", "/api/v1/signing/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            return format!("{prefix}<token>{tail}");
        }
    }
    path.to_string()
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let method = req.method().to_string();
    let path = without_capability(req.path());
    let metrics = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map(|s| s.metrics.clone());
    let res = next.call(req).await?;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    // The route template keeps label cardinality bounded; unknown paths share one label.
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    if let Some(m) = metrics {
        m.requests
            .get_or_create(&RequestLabels {
                method: method.clone(),
                route: route.clone(),
                status,
            })
            .inc();
        m.latency
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route,
            })
            .observe(elapsed.as_secs_f64());
    }
    tracing::info!(
        target: "amity::http",
        %method,
        %path,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::without_capability;

    #[test]
    fn signing_link_tokens_never_reach_the_request_log() {
        let token = "65luwkrcl_G_laWcPtcOi8LS1QU0Sr3TymFGFo10KgY";
        for (path, logged) in [
            (format!("/sign/{token}"), "/sign/<token>".to_string()),
            (
                format!("/api/v1/signing/{token}/documents/1"),
                "/api/v1/signing/<token>/documents/1".to_string(),
            ),
            (
                format!("/api/v1/signing/{token}"),
                "/api/v1/signing/<token>".to_string(),
            ),
            (
                "/api/v1/mous/m-1/chain".to_string(),
                "/api/v1/mous/m-1/chain".to_string(),
            ),
        ] {
            assert_eq!(without_capability(&path), logged);
        }
    }
}
