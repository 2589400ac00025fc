//! The domain's one error type. Every error carries a stable [`ErrorCode`] that the API passes
//! to clients unchanged (with the HTTP status the code implies), so clients can branch on it.

use std::fmt;

pub use super::error_code::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub code: ErrorCode,
    pub message: String,
    /// Extra machine-readable members for the problem document (e.g. allowed transitions).
    pub extra: Option<serde_json::Value>,
}

impl DomainError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        DomainError {
            code,
            message: message.into(),
            extra: None,
        }
    }

    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = Some(extra);
        self
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DomainError {}
