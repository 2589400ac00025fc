//! Which reads may go to the read replica, and read-your-writes (docs/operations.md#a-read-replica).
//!
//! Only the reads of GET and HEAD requests may: a write and the reads it makes go to the
//! primary. The middleware marks such a request (with the log index its
//! `Amity-Min-Log-Index` header names, if any) for `AppState::read`, and answers with
//! `Amity-Read-From: replica|primary` when a replica is configured, so a client can see what
//! it got.

use std::cell::Cell;
use std::rc::Rc;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::AppState;
use crate::db::replica::ReadFrom;
use crate::domain::ErrorCode;
use crate::error::ApiError;

/// The request header naming the log index a read must reflect.
pub const MIN_LOG_INDEX: &str = "amity-min-log-index";
/// The response header saying what served the request's reads.
pub const READ_FROM: &str = "amity-read-from";

/// A request whose reads the replica may serve.
#[derive(Clone)]
pub struct ReplicaRead {
    /// The log index the reads must include (read-your-writes), if the client named one.
    pub min_index: Option<i64>,
    /// What served the request's reads; the primary if any read of it fell back there.
    served: Rc<Cell<Option<ReadFrom>>>,
}

impl ReplicaRead {
    pub fn record(&self, from: ReadFrom) {
        // One read from the primary makes the whole answer the primary's.
        if self.served.get() != Some(ReadFrom::Primary) {
            self.served.set(Some(from));
        }
    }
}

tokio::task_local! {
    static REPLICA_READ: ReplicaRead;
}

/// The current request's replica read, when its reads may go to the replica.
pub fn current() -> Option<ReplicaRead> {
    REPLICA_READ.try_with(Clone::clone).ok()
}

/// `Amity-Min-Log-Index`: a log index, a whole number from 0.
fn min_index(req: &ServiceRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = req.headers().get(MIN_LOG_INDEX) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|i| *i >= 0)
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidMinLogIndex,
                "`Amity-Min-Log-Index` is a log index: a whole number from 0",
            )
        })
}

pub async fn reads_from_replica(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let min_index = min_index(&req)?;
    let replica = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.db.has_replica());
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    if !(replica && reads) {
        return next.call(req).await;
    }
    let scope = ReplicaRead {
        min_index,
        served: Rc::new(Cell::new(None)),
    };
    let served = Rc::clone(&scope.served);
    let mut res = REPLICA_READ.scope(scope, next.call(req)).await?;
    if let Some(from) = served.get() {
        res.headers_mut().insert(
            HeaderName::from_static(READ_FROM),
            HeaderValue::from_static(from.as_str()),
        );
    }
    Ok(res)
}
