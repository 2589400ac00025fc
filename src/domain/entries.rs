//! Log entries: what each write says about itself in the transparency log.
//!
//! Every write builds the typed struct of its kind (`amity_verify::entries`), which serializes
//! to RFC 8785 canonical JSON; the kinds and their fields are specified in
//! docs/formats/log-entries.md.

use crate::domain::ErrorCode;
use serde_json::Value;

use super::DomainError;
use super::dates::format_micros;

pub use amity_verify::entries::{
    ActivityCommitmentMade, ActivityCommitmentResolved, ActivityEvidenceAdded,
    ActivityOutcomeRecorded, ActivityRecorded, CityCreated, CityGroupSaved, Entry, EntryBody,
    EntryError, KeyApproved, KeyEnded, KeyRegistered, LoggedOrganisation, MAX_ENTRY_BYTES,
    MouCreated, MouRequestDeclined, MouRequestsCancelled, MouRequestsExpired, MouSignatureAdded,
    MouSignaturesRequested, MouVersionUploaded, MouWithdrawn, OfficeCreated, PartnershipRegistered,
    PartnershipStatusChanged, RequestedSigner as LoggedRequest, TokenIssued, TokenRevoked,
    VersionDocument as LoggedDocument, kinds,
};

/// A log entry before it is appended: its type and its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub kind: &'static str,
    pub bytes: Vec<u8>,
}

impl LogEntry {
    /// The entry that records `body` at `time` (microseconds).
    pub fn new(time: i64, body: EntryBody) -> Result<Self, DomainError> {
        let kind = body.kind();
        let entry = Entry {
            time: format_micros(time),
            body,
        };
        let bytes = entry
            .to_bytes()
            .map_err(|e| DomainError::new(ErrorCode::InvalidEntry, e.to_string()))?;
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(DomainError::new(
                ErrorCode::EntryTooLarge,
                format!(
                    "this write would make a log entry of {} bytes; the limit is {MAX_ENTRY_BYTES}",
                    bytes.len()
                ),
            ));
        }
        Ok(LogEntry { kind, bytes })
    }
}

/// Serializes a JSON value as RFC 8785 canonical JSON (the verifier crate's writer, so the
/// server writes exactly the bytes an auditor's replay re-derives).
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, DomainError> {
    amity_verify::jcs::canonical_json(value)
        .map_err(|e| DomainError::new(ErrorCode::from(&e), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_has_type_time_and_is_bounded() {
        let revoked = |token: String| EntryBody::TokenRevoked(TokenRevoked { token });
        let e = LogEntry::new(0, revoked("t1".into())).unwrap();
        assert_eq!(e.kind, kinds::TOKEN_REVOKED);
        assert_eq!(
            String::from_utf8(e.bytes).unwrap(),
            r#"{"time":"1970-01-01T00:00:00.000000Z","token":"t1","type":"token.revoked"}"#
        );
        let big = LogEntry::new(0, revoked("a".repeat(70_000)));
        assert_eq!(big.unwrap_err().code, "entry_too_large");
    }
}
