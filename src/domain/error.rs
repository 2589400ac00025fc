//! The domain's one error type. Every variant carries a stable snake_case `code` that the API
//! passes to clients unchanged, so clients can branch on it.

use std::fmt;

/// What kind of refusal this is; the API maps each kind to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is well-formed but breaks a rule (422).
    Invalid,
    /// The request conflicts with the current state (409).
    Conflict,
    /// No credentials, or credentials that are not valid (401).
    Unauthenticated,
    /// Valid credentials without the right to do this (403).
    Forbidden,
    /// The thing named does not exist (404).
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
    /// Extra machine-readable members for the problem document (e.g. allowed transitions).
    pub extra: Option<serde_json::Value>,
}

impl DomainError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        DomainError {
            kind,
            code,
            message: message.into(),
            extra: None,
        }
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, code, message)
    }

    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, message)
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
