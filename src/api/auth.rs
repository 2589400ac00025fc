//! The bearer-token extractor: gives handlers the principal (or none, for anonymous callers).

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use std::future::Future;
use std::pin::Pin;

use super::AppState;
use crate::db;
use crate::domain::DomainError;
use crate::domain::dates::now_micros;
use crate::domain::tokens::Principal;
use crate::error::ApiError;

/// The caller: `Some` with a valid token, `None` without an Authorization header. A header
/// with a bad, expired or revoked token is refused outright rather than treated as anonymous.
pub struct Caller(pub Option<Principal>);

impl Caller {
    pub fn principal(&self) -> Option<&Principal> {
        self.0.as_ref()
    }
}

fn bearer(value: &header::HeaderValue) -> Result<String, ApiError> {
    let bad = || -> ApiError {
        DomainError::unauthenticated(
            "invalid_authorization_header",
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
        Box::pin(async move {
            let token = match header {
                None => return Ok(Caller(None)),
                Some(parsed) => parsed?,
            };
            let state = state.ok_or_else(ApiError::internal)?;
            let record = state
                .read(move |conn| db::tokens::find(conn, &token))
                .await?;
            let record = record.ok_or_else(|| {
                ApiError::from(DomainError::unauthenticated(
                    "invalid_token",
                    "this token is not known to the registry",
                ))
            })?;
            Ok(Caller(Some(record.into_principal(now_micros())?)))
        })
    }
}
