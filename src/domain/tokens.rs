//! Principals and their bearer tokens.

use super::ids::TokenId;
use crate::domain::ErrorCode;
use serde::{Deserialize, Serialize};

use super::DomainError;
use super::cities::CityCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Office,
    Auditor,
    /// An association of cities (a national sister-cities body, say): keeps the city groups it
    /// creates, and may do nothing else an anonymous caller cannot.
    Association,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Office => "office",
            Role::Auditor => "auditor",
            Role::Association => "association",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "admin" => Some(Role::Admin),
            "office" => Some(Role::Office),
            "auditor" => Some(Role::Auditor),
            "association" => Some(Role::Association),
            _ => None,
        }
    }
}

/// Who is acting: resolved from a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: TokenId,
    pub role: Role,
    /// Set for office principals only: the office and the city it acts for.
    pub office: Option<OfficeBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeBinding {
    pub office_id: String,
    pub city: CityCode,
}

/// A stored token as the database holds it, before the validity checks.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: TokenId,
    pub role: Role,
    pub office: Option<OfficeBinding>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TokenRecord {
    /// Turns a stored token into a principal if it is still valid at `now` (microseconds).
    pub fn into_principal(self, now: i64) -> Result<Principal, DomainError> {
        if self.revoked_at.is_some() {
            return Err(DomainError::new(
                ErrorCode::TokenRevoked,
                "this token has been revoked",
            ));
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            return Err(DomainError::new(
                ErrorCode::TokenExpired,
                "this token has expired",
            ));
        }
        if self.role == Role::Office && self.office.is_none() {
            // A database edited by hand could produce this; refuse rather than guess.
            return Err(DomainError::new(
                ErrorCode::InvalidToken,
                "office token without an office",
            ));
        }
        Ok(Principal {
            token_id: self.id,
            role: self.role,
            office: self.office,
        })
    }
}

/// The request to issue a token, validated.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub role: Role,
    pub office_id: Option<String>,
    pub expires_at: Option<i64>,
}

impl TokenRequest {
    pub fn validate(
        role: Role,
        office_id: Option<String>,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<Self, DomainError> {
        match (role, &office_id) {
            (Role::Office, None) => {
                return Err(DomainError::new(
                    ErrorCode::OfficeIdRequired,
                    "an office token needs `office` (the office id)",
                ));
            }
            (Role::Admin | Role::Auditor | Role::Association, Some(_)) => {
                return Err(DomainError::new(
                    ErrorCode::OfficeNotAllowed,
                    "only office tokens are bound to an office",
                ));
            }
            _ => {}
        }
        if expires_at.is_some_and(|t| t <= now) {
            return Err(DomainError::new(
                ErrorCode::InvalidExpiry,
                "`expires_at` must be in the future",
            ));
        }
        Ok(TokenRequest {
            role,
            office_id,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TokenRecord {
        TokenRecord {
            id: TokenId::generate(),
            role: Role::Admin,
            office: None,
            expires_at: Some(100),
            revoked_at: None,
        }
    }

    #[test]
    fn validity() {
        assert!(record().into_principal(99).is_ok());
        assert_eq!(
            record().into_principal(100).unwrap_err().code,
            "token_expired"
        );
        let mut r = record();
        r.revoked_at = Some(1);
        assert_eq!(r.into_principal(0).unwrap_err().code, "token_revoked");
        let mut r = record();
        r.role = Role::Office;
        assert_eq!(r.into_principal(0).unwrap_err().code, "invalid_token");
    }

    #[test]
    fn requests() {
        assert!(TokenRequest::validate(Role::Office, None, None, 0).is_err());
        assert!(TokenRequest::validate(Role::Admin, Some("o".into()), None, 0).is_err());
        assert!(TokenRequest::validate(Role::Admin, None, Some(5), 10).is_err());
        assert!(TokenRequest::validate(Role::Office, Some("o".into()), Some(50), 10).is_ok());
    }
}
