//! Signatory keys: registration with proof of possession, approval, retirement, revocation, and
//! the one question every signature asks of a key: was it active at that moment?

use super::ids::KeyId;
use crate::domain::ErrorCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::DomainError;
use super::cities::CityCode;
use super::mous::validate_role;
use super::text::{REASON_MAX, optional_paragraph};
use crate::crypto::keys::{KeyError, PublicKey};
use crate::crypto::sshsig::{self, SshsigError};
use crate::crypto::statement::{KeyRegistrationStatement, StatementError, key_event_namespace};

/// How long a registration challenge stays usable.
pub const CHALLENGE_LIFETIME_MICROS: i64 = 10 * 60 * 1_000_000;

/// The crypto modules' refusals become 422 problems with their own stable codes.
pub fn key_error(e: KeyError) -> DomainError {
    DomainError::new(ErrorCode::from(&e), e.to_string())
}

pub fn sshsig_error(e: SshsigError) -> DomainError {
    DomainError::new(ErrorCode::from(&e), e.to_string())
}

pub fn statement_error(e: StatementError) -> DomainError {
    DomainError::new(ErrorCode::from(&e), e.to_string())
}

/// Decodes the base64 `statement` member of a request body.
pub fn decode_statement(b64: &str) -> Result<Vec<u8>, DomainError> {
    STANDARD.decode(b64.trim()).map_err(|_| {
        DomainError::new(
            ErrorCode::InvalidStatementEncoding,
            "`statement` must be the statement bytes in standard base64",
        )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Pending,
    Active,
    Retired,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Pending => "pending",
            KeyStatus::Active => "active",
            KeyStatus::Retired => "retired",
            KeyStatus::Revoked => "revoked",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(KeyStatus::Pending),
            "active" => Some(KeyStatus::Active),
            "retired" => Some(KeyStatus::Retired),
            "revoked" => Some(KeyStatus::Revoked),
            _ => None,
        }
    }
}

/// A stored signatory key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatoryKey {
    pub id: KeyId,
    pub fingerprint: String,
    pub public_key: PublicKey,
    pub city: CityCode,
    pub signer: String,
    pub role: String,
    pub registered_at: i64,
    pub approved_at: Option<i64>,
    /// Retired from this instant on (signatures received before it stay valid).
    pub retire_effective_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Signatures received at or after this instant are invalid; `None` on a revoked key means
    /// the time is unknown, so every signature by the key is invalid.
    pub compromised_since: Option<i64>,
    pub registered_by: Option<String>,
    pub log_index: i64,
}

/// Whether a key revoked at `revoked_at` (if at all) with its compromise dating from
/// `compromised_since` (`None`: unknown) makes a signature received at `t` void: revoked, and
/// the compromise is unknown or dates from `t` or earlier.
pub fn revocation_voids(revoked_at: Option<i64>, compromised_since: Option<i64>, t: i64) -> bool {
    revoked_at.is_some() && compromised_since.is_none_or(|c| t >= c)
}

impl SignatoryKey {
    /// Whether a signature received at `t` may count.
    pub fn active_at(&self, t: i64) -> bool {
        let approved = self.approved_at.is_some_and(|a| a <= t);
        let retired = self.retire_effective_at.is_some_and(|e| t >= e);
        approved && !retired && !self.voids_signature_at(t)
    }

    /// Whether a revocation makes a signature received at `t` void: the key was revoked and
    /// its compromise dates from `t` or earlier, or is unknown.
    pub fn voids_signature_at(&self, t: i64) -> bool {
        revocation_voids(self.revoked_at, self.compromised_since, t)
    }

    /// The status shown at `now`: a retirement dated in the future leaves the key active.
    pub fn status_at(&self, now: i64) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.retire_effective_at.is_some_and(|e| now >= e) {
            KeyStatus::Retired
        } else if self.approved_at.is_some() {
            KeyStatus::Active
        } else {
            KeyStatus::Pending
        }
    }

    /// Refuses a key that may not sign now, naming why.
    pub fn check_can_sign(&self, now: i64) -> Result<(), DomainError> {
        if self.active_at(now) {
            return Ok(());
        }
        let status = self.status_at(now);
        Err(DomainError::new(
            ErrorCode::KeyNotActive,
            format!(
                "key {} of `{}` is {} and cannot sign",
                self.fingerprint,
                self.signer,
                status.as_str()
            ),
        )
        .with_extra(serde_json::json!({ "key_status": status })))
    }

    /// Rule `key_bound`: a key signs (or declines) only for the signer, city and role it was
    /// registered to.
    pub fn check_holder(&self, signer: &str, city: &str, role: &str) -> Result<(), DomainError> {
        if self.signer != signer || self.city.as_str() != city {
            return Err(DomainError::new(
                ErrorCode::KeySignerMismatch,
                format!(
                    "key {} is registered to `{}`, not `{signer}`",
                    self.fingerprint, self.signer
                ),
            ));
        }
        if self.role != role {
            return Err(DomainError::new(
                ErrorCode::RoleMismatch,
                format!(
                    "key {} is registered for the role `{}`, not `{role}`",
                    self.fingerprint, self.role
                ),
            ));
        }
        Ok(())
    }

    pub fn check_approvable(&self) -> Result<(), DomainError> {
        if self.approved_at.is_some()
            || self.revoked_at.is_some()
            || self.retire_effective_at.is_some()
        {
            return Err(DomainError::new(
                ErrorCode::KeyNotPending,
                format!("key `{}` is not pending approval", self.id),
            ));
        }
        Ok(())
    }
}

/// A registration whose proof of possession verified; the challenge is still to be consumed.
#[derive(Debug, Clone)]
pub struct Registration {
    pub city: CityCode,
    pub signer: String,
    pub role: String,
    pub public_key: PublicKey,
    pub challenge: String,
    pub statement: Vec<u8>,
    pub signature: String,
}

/// The raw fields of `POST /cities/{code}/keys`.
pub struct RegistrationInput<'a> {
    pub city: &'a CityCode,
    pub signer: &'a str,
    pub role: &'a str,
    pub public_key: &'a str,
    pub statement_b64: &'a str,
    pub signature: &'a str,
    pub registry: &'a str,
}

/// Checks a registration: the key itself (weak and non-canonical keys refused), the statement
/// (strictly canonical, naming this registry, city, signer, role and key) and the SSHSIG proof
/// made by that very key under the key-event namespace.
pub fn verify_registration(input: RegistrationInput<'_>) -> Result<Registration, DomainError> {
    let public_key = PublicKey::parse_openssh_line(input.public_key).map_err(key_error)?;
    validate_role(input.role)?;
    let bytes = decode_statement(input.statement_b64)?;
    let statement = KeyRegistrationStatement::parse_strict(&bytes).map_err(statement_error)?;
    let mismatch = |field: &str| {
        DomainError::new(
            ErrorCode::ProofMismatch,
            format!("the proof statement's `{field}` does not match the request"),
        )
    };
    if statement.registry != input.registry {
        return Err(DomainError::new(
            ErrorCode::WrongRegistry,
            format!(
                "the statement names registry {:?}; this registry is {:?}",
                statement.registry, input.registry
            ),
        ));
    }
    if statement.city != input.city.as_str() {
        return Err(mismatch("city"));
    }
    if statement.signer != input.signer {
        return Err(mismatch("signer"));
    }
    if statement.role != input.role {
        return Err(mismatch("role"));
    }
    if statement.public_key != public_key.to_openssh_line_without_comment() {
        return Err(mismatch("public_key"));
    }
    let sig = sshsig::parse_armored(input.signature).map_err(sshsig_error)?;
    sshsig::verify(
        &sig,
        &key_event_namespace(input.registry),
        &bytes,
        Some(&public_key),
    )
    .map_err(sshsig_error)?;
    Ok(Registration {
        city: input.city.clone(),
        signer: statement.signer,
        role: statement.role,
        public_key,
        challenge: statement.challenge,
        statement: bytes,
        signature: input.signature.to_string(),
    })
}

/// A retirement or revocation, validated against the current time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    pub kind: KeyChangeKind,
    pub effective_at: Option<i64>,
    pub compromised_since: Option<i64>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChangeKind {
    Retire,
    Revoke,
}

impl KeyChange {
    /// Retirement is soft and cannot reach into the past (that would invalidate signatures
    /// already accepted: a revocation says so explicitly).
    pub fn retire(
        effective_at: Option<i64>,
        reason: Option<&str>,
        now: i64,
    ) -> Result<Self, DomainError> {
        let effective_at = effective_at.unwrap_or(now);
        if effective_at < now {
            return Err(DomainError::new(
                ErrorCode::EffectiveAtInPast,
                "`effective_at` must not lie in the past; to invalidate earlier signatures, revoke with `compromised_since`",
            ));
        }
        Ok(KeyChange {
            kind: KeyChangeKind::Retire,
            effective_at: Some(effective_at),
            compromised_since: None,
            reason: optional_paragraph("reason", reason, REASON_MAX)?,
        })
    }

    /// `compromised_since` absent means unknown: every signature by the key becomes invalid.
    pub fn revoke(
        compromised_since: Option<i64>,
        reason: Option<&str>,
        now: i64,
    ) -> Result<Self, DomainError> {
        if compromised_since.is_some_and(|c| c > now) {
            return Err(DomainError::new(
                ErrorCode::CompromisedSinceInFuture,
                "`compromised_since` must not lie in the future",
            ));
        }
        Ok(KeyChange {
            kind: KeyChangeKind::Revoke,
            effective_at: Some(now),
            compromised_since,
            reason: optional_paragraph("reason", reason, REASON_MAX)?,
        })
    }

    /// Refuses changes to a key already revoked, and a second retirement.
    pub fn check_applies_to(&self, key: &SignatoryKey) -> Result<(), DomainError> {
        if key.revoked_at.is_some() {
            return Err(DomainError::new(
                ErrorCode::KeyRevoked,
                format!("key `{}` is already revoked", key.id),
            ));
        }
        if self.kind == KeyChangeKind::Retire && key.retire_effective_at.is_some() {
            return Err(DomainError::new(
                ErrorCode::KeyRetired,
                format!("key `{}` is already retired", key.id),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn key() -> SignatoryKey {
        let pk = PublicKey::from_signing_key(&SigningKey::from_bytes(&[1; 32]));
        SignatoryKey {
            id: KeyId::generate(),
            fingerprint: pk.fingerprint(),
            public_key: pk,
            city: CityCode::parse("us-hou").unwrap(),
            signer: "m@us-hou".into(),
            role: "signatory".into(),
            registered_at: 0,
            approved_at: None,
            retire_effective_at: None,
            revoked_at: None,
            compromised_since: None,
            registered_by: None,
            log_index: 0,
        }
    }

    #[test]
    fn activity_window() {
        let mut k = key();
        assert!(!k.active_at(10));
        assert_eq!(k.status_at(10), KeyStatus::Pending);
        k.approved_at = Some(5);
        assert!(!k.active_at(4) && k.active_at(5) && k.active_at(100));
        k.retire_effective_at = Some(50);
        assert!(k.active_at(49) && !k.active_at(50));
        assert_eq!(k.status_at(20), KeyStatus::Active);
        assert_eq!(k.status_at(50), KeyStatus::Retired);
        k.revoked_at = Some(60);
        k.compromised_since = Some(30);
        assert!(k.active_at(29) && !k.active_at(30));
        k.compromised_since = None;
        assert!(
            !k.active_at(6),
            "unknown compromise time voids every signature"
        );
        assert_eq!(k.check_can_sign(7).unwrap_err().code, "key_not_active");
    }

    #[test]
    fn changes() {
        assert_eq!(
            KeyChange::retire(Some(5), None, 10).unwrap_err().code,
            "effective_at_in_past"
        );
        assert_eq!(
            KeyChange::retire(None, None, 10).unwrap().effective_at,
            Some(10)
        );
        assert_eq!(
            KeyChange::revoke(Some(11), None, 10).unwrap_err().code,
            "compromised_since_in_future"
        );
        let mut k = key();
        let retire = KeyChange::retire(None, None, 10).unwrap();
        k.retire_effective_at = Some(10);
        assert_eq!(retire.check_applies_to(&k).unwrap_err().code, "key_retired");
        let revoke = KeyChange::revoke(None, Some("lost laptop"), 10).unwrap();
        assert!(revoke.check_applies_to(&k).is_ok());
        k.revoked_at = Some(10);
        assert_eq!(revoke.check_applies_to(&k).unwrap_err().code, "key_revoked");
    }
}
