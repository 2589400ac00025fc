//! The bearer-token extractor: gives handlers the principal (or none, for anonymous callers).

use crate::domain::ErrorCode;
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, web};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use super::AppState;
use super::limits;
use crate::db;
use crate::domain::DomainError;
use crate::domain::dates::now_micros;
use crate::domain::tokens::Principal;
use crate::error::ApiError;

/// The caller, resolved from the Authorization header. Extraction itself never fails: the
/// handler asks for the principal first thing, so authentication errors come before any
/// complaint about the body, whatever order actix finishes its extractors in.
pub struct Caller(Result<Option<Principal>, ApiError>);

impl Caller {
    /// `Some` with a valid token, `None` without an Authorization header; a header with a bad,
    /// expired or revoked token is refused rather than treated as anonymous.
    pub fn principal(&self) -> Result<Option<&Principal>, ApiError> {
        match &self.0 {
            Ok(p) => Ok(p.as_ref()),
            Err(e) => Err(e.clone()),
        }
    }
}

async fn resolve(
    header: Option<Result<String, ApiError>>,
    state: Option<web::Data<AppState>>,
    peer: Option<IpAddr>,
) -> Result<Option<Principal>, ApiError> {
    let Some(header) = header else {
        return Ok(None);
    };
    let state = state.ok_or_else(ApiError::internal)?;
    // A valid token is always looked up and let through, whatever its address did before, so
    // an office behind the same NAT as a misbehaving client is not slowed; only failures are
    // counted, and past the budget they are answered 429 instead of 401.
    match lookup(header, &state).await {
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            Err(limits::on_auth_failure(&state.auth_failures, peer, e))
        }
        other => other.map(Some),
    }
}

async fn lookup(header: Result<String, ApiError>, state: &AppState) -> Result<Principal, ApiError> {
    let token = header?;
    let record = state
        .read_current(move |conn| db::tokens::find(conn, &token))
        .await?;
    let record = record.ok_or_else(|| {
        ApiError::from(DomainError::new(
            ErrorCode::InvalidToken,
            "this token is not known to the registry",
        ))
    })?;
    Ok(record.into_principal(now_micros())?)
}

fn bearer(value: &header::HeaderValue) -> Result<String, ApiError> {
    let bad = || -> ApiError {
        DomainError::new(
            ErrorCode::InvalidAuthorizationHeader,
            "the Authorization header must be `Bearer <token>`",
        )
        .into()
    };
    let text = value.to_str().map_err(|_| bad())?;
    let (scheme, token) = text.split_once(' ').ok_or_else(bad)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > 256 {
        return Err(bad());
    }
    Ok(token.to_string())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req.headers().get(header::AUTHORIZATION).map(bearer);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        // The TCP peer, not X-Forwarded-For: a header any client can set cannot decide whose
        // budget a failure counts against (behind a proxy, its clients share one budget).
        let peer = req.peer_addr().map(|a| a.ip());
        Box::pin(async move { Ok(Caller(resolve(header, state, peer).await)) })
    }
}

/// A JSON body whose parse error is held back until the handler asks for it.
pub type JsonBody<T> = Result<web::Json<T>, actix_web::Error>;

/// The parsed body, or the problem the JSON extractor produced for it.
pub fn json_body<T>(body: JsonBody<T>) -> Result<T, ApiError> {
    match body {
        Ok(json) => Ok(json.into_inner()),
        Err(e) => Err(e
            .as_error::<ApiError>()
            .cloned()
            .unwrap_or_else(|| ApiError::new(ErrorCode::UnreadableBody, e.to_string()))),
    }
}
