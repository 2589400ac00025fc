//! Bounds on what one client can make the server do: a deadline for request bodies (a client
//! sending one byte a second cannot hold a worker's request open for ever) and a budget of
//! failed token authentications per client address.
//!
//! Slow headers and idle connections are bounded by actix itself (see `server::build`).

use crate::domain::ErrorCode;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::rt::time::{Sleep, sleep};
use actix_web::web::Bytes;
use actix_web::{Error, ResponseError};
use futures_util::Stream;
use serde_json::json;

use crate::error::ApiError;

/// A request body that must arrive before a deadline. When it passes, the stream ends with a
/// `TimedOut` error (so whatever is reading it stops) and raises `expired`.
struct DeadlineBody<S> {
    inner: S,
    deadline: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
    finished: bool,
}

impl<S> Stream for DeadlineBody<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            self.finished = item.is_none();
            return Poll::Ready(item);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.finished = true;
            self.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}

/// Middleware: the body must arrive within `body_timeout_secs` of the request's start; a
/// request whose body ran out of time is answered 408 `body_timeout` whatever the handler made
/// of the cut-short body (handlers read the whole body before writing, so nothing was written)
/// and the connection is closed.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let secs = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map(|s| s.settings.body_timeout_secs)
        .unwrap_or(60);
    let expired = Arc::new(AtomicBool::new(false));
    let body = DeadlineBody {
        inner: std::mem::replace(req.parts_mut().1, Payload::None),
        deadline: Box::pin(sleep(Duration::from_secs(secs.max(1)))),
        expired: expired.clone(),
        finished: false,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(body),
    });
    let res = next.call(req).await?;
    if !expired.load(Ordering::Relaxed) {
        return Ok(res.map_into_left_body());
    }
    let mut late = ApiError::new(
        ErrorCode::BodyTimeout,
        format!("the request body did not arrive within {secs} s"),
    )
    .error_response();
    late.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(req, late).map_into_right_body())
}

/// Failed token authentications per client address, counted in fixed one-minute windows.
pub struct AuthFailures {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// Addresses remembered at most; past this, windows that are over are forgotten first, and
/// if every one is current the table is cleared (an attacker with that many addresses gains a
/// fresh budget, but memory stays bounded).
const MAX_TRACKED: usize = 100_000;

impl AuthFailures {
    pub fn new(limit: u32) -> AuthFailures {
        AuthFailures {
            limit,
            window: Duration::from_secs(60),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one failure from `ip`; returns the seconds to wait when it is over the budget.
    pub fn record(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_TRACKED && !seen.contains_key(&ip) {
            let window = self.window;
            seen.retain(|_, (start, _)| now.duration_since(*start) < window);
            if seen.len() >= MAX_TRACKED {
                seen.clear();
            }
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 <= self.limit {
            return None;
        }
        let left = self.window.saturating_sub(now.duration_since(entry.0));
        // Rounded up, so a client that waits exactly this long is let through.
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }
}

/// The problem for a client over its failure budget.
pub fn too_many_failures(retry_after: u64) -> ApiError {
    let mut e = ApiError::new(
        ErrorCode::TooManyAuthFailures,
        format!("too many failed authentications from this address; try again in {retry_after} s"),
    );
    e.extra = Some(json!({ "retry_after": retry_after }));
    e
}

/// Counts a failed authentication from the request's peer: the original error while the
/// address is within its budget, 429 once it is over.
pub fn on_auth_failure(failures: &AuthFailures, peer: Option<IpAddr>, error: ApiError) -> ApiError {
    let Some(ip) = peer else {
        return error;
    };
    match failures.record(ip, Instant::now()) {
        Some(wait) => too_many_failures(wait),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_per_address_and_per_window() {
        let f = AuthFailures::new(3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t = Instant::now();
        for _ in 0..3 {
            assert_eq!(f.record(a, t), None);
        }
        assert_eq!(f.record(a, t + Duration::from_millis(500)), Some(60));
        assert_eq!(f.record(a, t + Duration::from_secs(59)), Some(1));
        assert_eq!(f.record(b, t), None, "another address has its own budget");
        assert_eq!(
            f.record(a, t + Duration::from_secs(60)),
            None,
            "a new window"
        );
    }
}
