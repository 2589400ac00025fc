//! Signing in from the browser: an office pastes its token once, the server keeps it in an
//! HttpOnly, SameSite=Strict cookie, and every form carries a CSRF token that must match a
//! second cookie (double submit), so another site can neither read nor forge a form post.

use crate::domain::ErrorCode;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse};

use crate::api::AppState;
use crate::db;
use crate::domain::dates::now_micros;
use crate::domain::tokens::Principal;
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "amity_session";
pub const CSRF_COOKIE: &str = "amity_csrf";

/// A cookie only this site's requests carry and scripts cannot read.
pub fn private_cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

/// The CSRF value for this browser: the cookie's, or a new one to set.
pub fn csrf_token(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match req.cookie(CSRF_COOKIE) {
        Some(c) if c.value().len() >= 32 => (c.value().to_string(), None),
        _ => {
            let value = crate::crypto::new_token();
            (value.clone(), Some(private_cookie(CSRF_COOKIE, value)))
        }
    }
}

/// Refuses a form whose CSRF field does not match the cookie.
pub fn check_csrf(req: &HttpRequest, submitted: &str) -> Result<(), ApiError> {
    use subtle::ConstantTimeEq;
    let ok = req.cookie(CSRF_COOKIE).is_some_and(|c| {
        !submitted.is_empty() && bool::from(c.value().as_bytes().ct_eq(submitted.as_bytes()))
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::CsrfMismatch,
            "this form is stale or did not come from this site; reload the page and try again",
        ))
    }
}

/// The signed-in principal, if the session cookie holds a valid token.
pub async fn principal(state: &AppState, req: &HttpRequest) -> Option<Principal> {
    let token = req.cookie(SESSION_COOKIE)?.value().to_string();
    let record = state
        .read_current(move |c| db::tokens::find(c, &token))
        .await
        .ok()??;
    record.into_principal(now_micros()).ok()
}

/// Checks a pasted token and returns the session cookie for it.
/// A pasted token that fails counts against the address's budget of failed authentications,
/// as a bad bearer token does.
pub async fn sign_in(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
) -> Result<Cookie<'static>, ApiError> {
    check_token(state, token).await.map_err(|e| {
        if e.status == actix_web::http::StatusCode::UNAUTHORIZED {
            let peer = req.peer_addr().map(|a| a.ip());
            crate::api::limits::on_auth_failure(&state.auth_failures, peer, e)
        } else {
            e
        }
    })
}

async fn check_token(state: &AppState, token: &str) -> Result<Cookie<'static>, ApiError> {
    let token = token.trim().to_string();
    let lookup = token.clone();
    let record = state
        .read_current(move |c| db::tokens::find(c, &lookup))
        .await?;
    let record = record.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidToken,
            "this token is not known to the registry",
        )
    })?;
    record.into_principal(now_micros())?;
    Ok(private_cookie(SESSION_COOKIE, token))
}

/// A redirect after a successful form post (so a reload does not post again).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location.to_string()))
        .finish()
}
