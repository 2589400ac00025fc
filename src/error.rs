//! `ApiError`: every refusal leaves the service as RFC 9457 `application/problem+json` with a
//! stable `code`. Internal causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

use crate::db::DbError;
use crate::domain::{DomainError, ErrorCode};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone)]
pub struct ApiError {
    /// The code's status (`ErrorCode::http_status`), except where `with_status` kept the
    /// framework's own.
    pub status: StatusCode,
    pub code: ErrorCode,
    pub detail: String,
    pub extra: Option<Value>,
}

/// The status a code goes out with.
fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl ApiError {
    /// A problem with `code`, answered with the code's HTTP status.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            status: status_of(code),
            code,
            detail: detail.into(),
            extra: None,
        }
    }

    /// Keeps a status the framework chose instead of the code's own. Only for
    /// `api::fallback`, which answers `bad_request` and `internal_error` for whatever 4xx or
    /// 5xx response the framework produced without a problem body.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorCode::InternalError,
            "the server failed to handle this request; the cause is in its log",
        )
    }

    /// The problem document.
    pub fn body(&self) -> Value {
        let mut map = Map::new();
        map.insert(
            "type".into(),
            json!(format!("urn:amity:problem:{}", self.code)),
        );
        map.insert(
            "title".into(),
            json!(self.status.canonical_reason().unwrap_or("Error")),
        );
        map.insert("status".into(), json!(self.status.as_u16()));
        map.insert("detail".into(), json!(self.detail));
        map.insert("code".into(), json!(self.code));
        if let Some(Value::Object(extra)) = &self.extra {
            for (k, v) in extra {
                map.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Value::Object(map)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                format!(
                    "Bearer realm=\"amity\", error=\"invalid_token\", error_description=\"{}\"",
                    self.code
                ),
            ));
        }
        if (self.status == StatusCode::TOO_MANY_REQUESTS
            || self.status == StatusCode::SERVICE_UNAVAILABLE)
            && let Some(secs) = self
                .extra
                .as_ref()
                .and_then(|e| e.get("retry_after"))
                .and_then(Value::as_u64)
        {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.body(self.body().to_string())
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError {
            status: status_of(e.code),
            code: e.code,
            detail: e.message,
            extra: e.extra,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Domain(d) => d.into(),
            DbError::Pool(cause) => {
                tracing::error!(%cause, "database pool exhausted");
                ApiError::new(
                    ErrorCode::DatabaseUnavailable,
                    "the database is busy or unreachable; try again shortly",
                )
            }
            DbError::QueueFull => {
                tracing::warn!("write refused: the group-commit queue is full");
                ApiError {
                    extra: Some(json!({ "retry_after": 1 })),
                    ..ApiError::new(
                        ErrorCode::WriteQueueFull,
                        "too many writes are waiting to be committed; this one was not \
                         made, send it again after Retry-After",
                    )
                }
            }
            DbError::WriterStopped => {
                tracing::error!("write refused: the group-commit writer has stopped");
                ApiError::new(
                    ErrorCode::WriterStopped,
                    "the service cannot commit writes; this one was not made",
                )
            }
            other => {
                tracing::error!(error = %other, "database failure");
                ApiError::internal()
            }
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        tracing::error!(error = %e, "blocking task failed");
        ApiError::internal()
    }
}
