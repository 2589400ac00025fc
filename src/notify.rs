//! The webhook delivery worker (docs/notifications.md): claims due outbox messages, POSTs each
//! to its endpoint signed per Standard Webhooks, and records the attempt. 2xx delivers; 410
//! Gone disables the endpoint; 429 and 503 wait at least their `Retry-After`; anything else
//! (other statuses, redirects, which are not followed, timeouts, refused addresses) is retried
//! on the schedule of `domain::webhooks::retry_delay_secs`, about three days in all.

pub mod mail;

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::db::webhooks::{self as store, Outcome};
use crate::db::{Db, DbConn, DbError};
use crate::domain::dates::now_micros;
use crate::domain::webhooks::{
    Endpoint, Message, MessageState, is_internal, max_attempts, parse_endpoint_url,
    retry_delay_secs, signature_header,
};

/// Messages claimed per round.
const BATCH: i64 = 32;
/// Webhook deliveries of a batch attempted at once: receivers answer in parallel, and the
/// batch's attempts are then recorded in one transaction (one fsync) instead of one each.
const PARALLEL_DELIVERIES: usize = 8;
/// The longest `Retry-After` honoured, so a hostile endpoint cannot park a message for ever.
const MAX_RETRY_AFTER_SECS: i64 = 24 * 3600;

/// How the worker delivers.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Deliver to loopback, private and link-local addresses too (tests, closed networks).
    pub allow_internal: bool,
    /// The limit on one attempt, connection to last byte.
    pub timeout: Duration,
}

/// How long a claimed message is left to its worker: longer than any attempt can take (twice
/// its timeout, and a second for the bookkeeping). A message claimed by a server that then died
/// is taken again once its lease is over.
fn lease_micros(timeout: Duration) -> i64 {
    i64::try_from(timeout.as_micros())
        .unwrap_or(i64::MAX / 4)
        .saturating_mul(2)
        + 1_000_000
}

/// Claims due items a batch of `BATCH` at a time with `claim(conn, now, lease, limit)` and hands
/// each batch to `handle`, until a batch comes back short: the whole outbox drains in one tick.
/// (One batch per tick capped delivery at 32 messages per poll interval, far below the rate
/// events are written at: docs/notifications.md, "Measured".) Returns how many were handled.
fn drain<T>(
    db: &Db,
    timeout: Duration,
    claim: impl Fn(&mut DbConn, i64, i64, i64) -> Result<Vec<T>, DbError>,
    mut handle: impl FnMut(Vec<T>) -> Result<(), DbError>,
) -> Result<usize, DbError> {
    let lease = lease_micros(timeout);
    let mut count = 0;
    loop {
        let now = db.now();
        let batch = db.side_write(|c| claim(c, now, lease, BATCH))?;
        let full = batch.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
        count += batch.len();
        if !batch.is_empty() {
            handle(batch)?;
        }
        if !full {
            return Ok(count);
        }
    }
}

/// When to try again after `failed_attempts` failures at `now`, no sooner than `at_least_secs`
/// from now; `None` once the schedule is spent. Shared by webhooks and e-mail.
fn retry_time(failed_attempts: u32, now: i64, at_least_secs: i64) -> Option<i64> {
    let jitter = rand::thread_rng().gen_range(-1.0..1.0);
    retry_delay_secs(failed_attempts, jitter)
        .filter(|_| failed_attempts < max_attempts())
        .map(|secs| now + secs.max(at_least_secs) * 1_000_000)
}

/// Delivers every due message once; returns how many were attempted.
pub fn deliver_due(db: &Db, how: &Delivery) -> Result<usize, DbError> {
    // One client for the round: its TLS configuration (the root certificates) is built once.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(how.timeout))
        .user_agent("amity-webhooks/1")
        .build()
        .into();
    drain(db, how.timeout, store::claim_due, |batch| {
        // Attempted PARALLEL_DELIVERIES at a time; each outcome keeps the time it ended.
        let chunk = batch.len().div_ceil(PARALLEL_DELIVERIES).max(1);
        let outcomes: Vec<(Message, Endpoint, Outcome, i64)> = std::thread::scope(|s| {
            let workers: Vec<_> = batch
                .chunks(chunk)
                .map(|part| {
                    let agent = &agent;
                    s.spawn(move || {
                        part.iter()
                            .map(|(message, endpoint)| {
                                let outcome = attempt(agent, message, endpoint, how, db.now());
                                (message.clone(), endpoint.clone(), outcome, db.now())
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        // A worker that panicked left its messages unrecorded: their lease runs out and they
        // are claimed again, which at-least-once delivery allows.
        db.side_write(|c| {
            for (message, endpoint, outcome, at) in &outcomes {
                store::record_attempt(c, message, *at, outcome)?;
                if outcome.status == Some(410) {
                    store::gone(c, &endpoint.id, *at)?;
                }
            }
            Ok(())
        })
    })
}

/// One attempt, and what follows from its answer.
fn attempt(agent: &ureq::Agent, m: &Message, e: &Endpoint, how: &Delivery, now: i64) -> Outcome {
    let started = Instant::now();
    let answer = post(agent, m, e, how, now);
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let failed_attempts = u32::try_from(m.attempts).unwrap_or(0) + 1;
    let retry_at = |at_least_secs: i64| retry_time(failed_attempts, now, at_least_secs);
    let (status, error, state, next) = match answer {
        Ok(Answer { status, .. }) if (200..300).contains(&status) => {
            (Some(status), None, MessageState::Delivered, now)
        }
        Ok(Answer { status: 410, .. }) => (
            Some(410),
            Some("410 Gone: the endpoint is disabled".to_string()),
            MessageState::Failed,
            now,
        ),
        Ok(Answer {
            status,
            retry_after,
        }) => {
            let wait = match status {
                429 | 503 => retry_after.unwrap_or(0).min(MAX_RETRY_AFTER_SECS),
                _ => 0,
            };
            let why = if (300..400).contains(&status) {
                format!("{status}: redirects are not followed")
            } else {
                format!("{status}")
            };
            match retry_at(wait) {
                Some(next) => (Some(status), Some(why), MessageState::Pending, next),
                None => (Some(status), Some(why), MessageState::Failed, now),
            }
        }
        Err(why) => match retry_at(0) {
            Some(next) => (None, Some(why), MessageState::Pending, next),
            None => (None, Some(why), MessageState::Failed, now),
        },
    };
    Outcome {
        status: status.map(i32::from),
        error,
        duration_ms,
        state,
        next_attempt_at: next,
    }
}

struct Answer {
    status: u16,
    retry_after: Option<i64>,
}

/// POSTs the message; the address guard is applied to every address the host resolves to.
fn post(
    agent: &ureq::Agent,
    m: &Message,
    e: &Endpoint,
    how: &Delivery,
    now: i64,
) -> Result<Answer, String> {
    let target = parse_endpoint_url(&e.url, how.allow_internal).map_err(|e| e.message)?;
    if !how.allow_internal {
        let addresses = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", target.host))?;
        for a in addresses {
            if is_internal(a.ip()) {
                return Err(format!(
                    "{} resolves to {}, an internal address: not delivered",
                    target.host,
                    a.ip()
                ));
            }
        }
    }
    // The header's time is the wall clock, whatever clock the registry's writes use: a
    // receiver compares it with its own to refuse replays.
    let timestamp = now_micros() / 1_000_000;
    let signature = signature_header(&e.live_secrets(now), &m.id, timestamp, m.payload.as_bytes());
    let response = agent
        .post(&target.url)
        .header("content-type", "application/json")
        .header("webhook-id", &m.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .send(m.payload.as_bytes())
        .map_err(|e| e.to_string())?;
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|s| *s >= 0);
    Ok(Answer {
        status: response.status().as_u16(),
        retry_after,
    })
}
