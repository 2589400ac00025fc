//! Turning actix's own refusals (bad JSON, unknown routes, wrong methods, oversized bodies)
//! into problem documents with stable codes.

use crate::domain::ErrorCode;
use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::JsonPayloadError;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use super::AppState;
use crate::error::{ApiError, PROBLEM_JSON};

/// Maps a JSON extractor failure to a problem.
pub fn json_error(e: JsonPayloadError) -> ApiError {
    match e {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body has {length} bytes; the limit is {limit}"),
        ),
        JsonPayloadError::Overflow { limit } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than the limit of {limit} bytes"),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            let message = e.to_string();
            let code = if message.starts_with("unknown field") {
                ErrorCode::UnknownField
            } else {
                ErrorCode::InvalidBody
            };
            ApiError::new(code, message)
        }
        JsonPayloadError::Deserialize(e) => ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        ),
        other => ApiError::new(ErrorCode::UnreadableBody, other.to_string()),
    }
}

/// Whether `path` matches an OpenAPI path template such as `/api/v1/cities/{code}`.
fn matches_template(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

/// The default service: 405 with `Allow` when the path exists under another method, else 404.
pub async fn not_routed(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let path = req.path();
    let allowed: Vec<String> = state
        .routes
        .iter()
        .filter(|(template, _)| matches_template(template, path))
        .flat_map(|(_, methods)| methods.iter().cloned())
        .collect();
    if allowed.is_empty() {
        return ApiError::new(ErrorCode::NotFound, format!("no resource at {path}"))
            .error_response();
    }
    let mut res = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} is not allowed here; allowed: {}",
            req.method(),
            allowed.join(", ")
        ),
    )
    .error_response();
    if let Ok(value) = header::HeaderValue::from_str(&allowed.join(", ")) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}

/// Catches any error response that is not already a problem document (actix's own 404s,
/// 413s from payload limits and the like) and gives it a body with a code.
pub fn problem_for_bare_error<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // Problem documents, and the HTML error pages of the web pages, already say what happened.
    let has_body = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes() == PROBLEM_JSON.as_bytes() || v.as_bytes().starts_with(b"text/html")
    });
    if has_body {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, detail): (ErrorCode, String) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such resource".into()),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "method not allowed here".into(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            (ErrorCode::PayloadTooLarge, "the body is too large".into())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "unsupported content type".into(),
        ),
        s if s.is_client_error() => (
            ErrorCode::BadRequest,
            res.response()
                .error()
                .map(|e| e.to_string())
                .unwrap_or_else(|| s.canonical_reason().unwrap_or("bad request").into()),
        ),
        _ => {
            if let Some(e) = res.response().error() {
                tracing::error!(error = %e, "unhandled server error");
            }
            (
                ErrorCode::InternalError,
                "the server failed to handle this request".into(),
            )
        }
    };
    let (req, old) = res.into_parts();
    // `bad_request` and `internal_error` stand for any 4xx or 5xx the framework answered
    // without a body (408, 411, 502...): the status it chose goes out unchanged.
    let mut new = ApiError::new(code, detail)
        .with_status(status)
        .error_response();
    // Keep headers such as Allow or Retry-After that the original response carried.
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let res: ServiceResponse<EitherBody<B, BoxBody>> =
        ServiceResponse::new(req, new).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

#[cfg(test)]
mod tests {
    use super::matches_template;

    #[test]
    fn templates() {
        assert!(matches_template(
            "/api/v1/cities/{code}",
            "/api/v1/cities/us-hou"
        ));
        assert!(!matches_template("/api/v1/cities/{code}", "/api/v1/cities"));
        assert!(!matches_template(
            "/api/v1/cities/{code}",
            "/api/v1/cities/a/b"
        ));
        assert!(matches_template("/healthz", "/healthz"));
    }
}
