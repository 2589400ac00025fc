//! Log entries, typed: one struct per kind, written through the canonical JSON writer and read
//! back strictly. Every writer in the server builds one of these structs and every reader
//! (the log replay, the bundle verifier, the server's look-ups of logged fields) parses one,
//! so a field renamed in code fails to compile or fails the golden files
//! (`tests/golden/`), instead of silently changing what auditors read. The kinds and their
//! fields are specified in docs/formats/log-entries.md.
//!
//! On the wire an entry is one RFC 8785 object: the kind's fields, plus `type` (the kind) and
//! `time` (when the registry logged it, RFC 3339 UTC with microseconds). Absent optional
//! fields are left out, never written as `null`. A reader refuses unknown kinds, unknown
//! fields, missing fields and values of the wrong type.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jcs::{CanonicalError, canonical_json};
use crate::rules::RequiredSigner;

/// The most an entry may weigh; larger writes are refused before anything is stored, and a
/// verifier refuses to read a larger one.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// The `type` of each kind of entry.
pub mod kinds {
    pub const CITY_CREATED: &str = "city.created";
    pub const OFFICE_CREATED: &str = "office.created";
    pub const TOKEN_ISSUED: &str = "token.issued";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    pub const PARTNERSHIP_REGISTERED: &str = "partnership.registered";
    pub const PARTNERSHIP_STATUS_CHANGED: &str = "partnership.status_changed";
    pub const ACTIVITY_RECORDED: &str = "activity.recorded";
    pub const ACTIVITY_EVIDENCE_ADDED: &str = "activity.evidence_added";
    pub const ACTIVITY_OUTCOME_RECORDED: &str = "activity.outcome_recorded";
    pub const ACTIVITY_COMMITMENT_MADE: &str = "activity.commitment_made";
    pub const ACTIVITY_COMMITMENT_RESOLVED: &str = "activity.commitment_resolved";
    pub const MOU_CREATED: &str = "mou.created";
    pub const MOU_VERSION_UPLOADED: &str = "mou.version_uploaded";
    pub const MOU_SIGNATURE_ADDED: &str = "mou.signature_added";
    pub const MOU_WITHDRAWN: &str = "mou.withdrawn";
    pub const KEY_REGISTERED: &str = "key.registered";
    pub const KEY_APPROVED: &str = "key.approved";
    pub const KEY_RETIRED: &str = "key.retired";
    pub const KEY_REVOKED: &str = "key.revoked";
    pub const MOU_SIGNATURES_REQUESTED: &str = "mou.signatures_requested";
    pub const MOU_REQUEST_DECLINED: &str = "mou.request_declined";
    pub const MOU_REQUESTS_EXPIRED: &str = "mou.requests_expired";
    pub const MOU_REQUESTS_CANCELLED: &str = "mou.requests_cancelled";
    pub const CITY_GROUP_SAVED: &str = "city_group.saved";

    /// Every kind, in the order docs/formats/log-entries.md lists them.
    pub const ALL: [&str; 24] = [
        CITY_CREATED,
        OFFICE_CREATED,
        TOKEN_ISSUED,
        TOKEN_REVOKED,
        PARTNERSHIP_REGISTERED,
        PARTNERSHIP_STATUS_CHANGED,
        ACTIVITY_RECORDED,
        ACTIVITY_EVIDENCE_ADDED,
        ACTIVITY_OUTCOME_RECORDED,
        ACTIVITY_COMMITMENT_MADE,
        ACTIVITY_COMMITMENT_RESOLVED,
        MOU_CREATED,
        MOU_VERSION_UPLOADED,
        MOU_SIGNATURE_ADDED,
        MOU_WITHDRAWN,
        KEY_REGISTERED,
        KEY_APPROVED,
        KEY_RETIRED,
        KEY_REVOKED,
        MOU_SIGNATURES_REQUESTED,
        MOU_REQUEST_DECLINED,
        MOU_REQUESTS_EXPIRED,
        MOU_REQUESTS_CANCELLED,
        CITY_GROUP_SAVED,
    ];
}

/// `city.created`: a city joined the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CityCreated {
    pub city: String,
    pub name: String,
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wikidata: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geonames_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlocode: Option<String>,
    /// Latitude in integer microdegrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat_e6: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon_e6: Option<i64>,
}

/// `office.created`: a city's office, the principal that acts for the city.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeCreated {
    pub office: String,
    pub city: String,
    pub name: String,
}

/// `token.issued`: a bearer token (only its id; never the token or its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenIssued {
    pub token: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// `token.revoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRevoked {
    pub token: String,
}

/// `partnership.registered`: a tie proposed by an office, or imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnershipRegistered {
    pub partnership: String,
    /// The two city codes, in the registry's order.
    pub cities: [String; 2],
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub established: Option<String>,
    pub status: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<String>,
    /// The id of the token that made the write; absent for host-side writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `partnership.status_changed`: one step of the status machine, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnershipStatusChanged {
    pub partnership: String,
    pub seq: i64,
    pub from: String,
    pub to: String,
    pub effective_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiating_city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deciding_body: Option<String>,
    pub reason_category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumption_condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_document_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `activity.recorded`: an engagement activity of a partnership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityRecorded {
    pub activity: String,
    pub partnership: String,
    pub kind: String,
    pub mode: String,
    pub start_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Organisations that took part besides the city offices; absent when none (and in
    /// every entry written before organisations were recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organisations: Vec<LoggedOrganisation>,
    /// What it cost, as declared: plain decimal digits, with `cost_currency` (ISO 4217).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_currency: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// An organisation an activity names (`outcomes::Sector`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedOrganisation {
    pub name: String,
    pub sector: String,
}

/// `activity.evidence_added`: a document attached to an activity, by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityEvidenceAdded {
    pub activity: String,
    pub partnership: String,
    pub seq: i64,
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `activity.outcome_recorded`: a result of an activity, by indicator (`outcomes::Indicator`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityOutcomeRecorded {
    pub outcome: String,
    pub activity: String,
    pub partnership: String,
    pub indicator: String,
    /// YYYY-MM-DD: when the result was achieved, not before the activity began.
    pub achieved_on: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_group: Option<String>,
    /// A declared value in plain decimal digits, with `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The MOU of the same partnership an `agreement_signed` outcome links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mou: Option<String>,
    /// The activity of the same partnership a `follow_up_activity` outcome links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Numbers of the activity's evidence documents that show the result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<i64>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `activity.commitment_made`: something an activity promised, with its due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityCommitmentMade {
    pub commitment: String,
    pub activity: String,
    pub partnership: String,
    pub text: String,
    pub due_date: String,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `activity.commitment_resolved`: a commitment marked kept, partly kept or not kept, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityCommitmentResolved {
    pub commitment: String,
    pub activity: String,
    pub partnership: String,
    pub result: String,
    pub resolved_on: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_by_activity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_by_outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `mou.created`: an MOU and who must sign it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MouCreated {
    pub mou: String,
    pub partnership: String,
    pub title: String,
    pub required_signers: Vec<RequiredSigner>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `mou.version_uploaded`: a version of the MOU, by its documents' hashes. The top-level
/// fields describe the version's first document (its only one before multilingual versions
/// existed); `additional_documents` the others of a version in several languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MouVersionUploaded {
    pub mou: String,
    pub version: i64,
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// The first document's language tag (required when there are additional documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Documents 2, 3, ... of a multilingual version, each in its own language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_documents: Option<Vec<VersionDocument>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// A document of a multilingual version beyond the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VersionDocument {
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    pub language: String,
}

impl MouVersionUploaded {
    /// Every document of the version in order, as `(language, sha256 hex)`.
    pub fn documents(&self) -> Vec<(Option<&str>, &str)> {
        let first = (self.language.as_deref(), self.sha256.as_str());
        std::iter::once(first)
            .chain(
                self.additional_documents
                    .iter()
                    .flatten()
                    .map(|d| (Some(d.language.as_str()), d.sha256.as_str())),
            )
            .collect()
    }

    /// What a signature or decline statement on this version must commit to
    /// ([`crate::statement::version_commitment`]).
    pub fn commitment(&self) -> Vec<String> {
        crate::statement::version_commitment(self.documents())
    }
}

/// `mou.signature_added`: a link of the MOU's signature chain, by its statement's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MouSignatureAdded {
    pub mou: String,
    pub seq: i64,
    pub version: i64,
    pub statement_sha256: String,
    pub key_fingerprint: String,
    pub key: String,
    pub signer: String,
    pub role: String,
    /// The signature request this signature answered, when the signer was asked in an open
    /// round (absent before signature requests existed, and for unrequested signatures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// One signatory asked in a round of signature requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedSigner {
    /// The request's id (UUID).
    pub request: String,
    /// `<handle>@<city>`.
    pub signer: String,
    pub role: String,
    /// Sequence group, from 1: nobody of group g+1 signs before every request of group g is
    /// signed. One group means all at once.
    pub group: i64,
}

/// `mou.signatures_requested`: an office of a party city asks named signatories to sign the
/// current version, by a deadline (a round of requests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MouSignaturesRequested {
    pub mou: String,
    /// The round's number for this MOU, from 1.
    pub round: i64,
    pub version: i64,
    /// The requested version's document SHA-256 (hex), as the log recorded it.
    pub doc_sha256: String,
    /// RFC 3339 UTC: pending requests expire at this instant.
    pub deadline: String,
    pub requests: Vec<RequestedSigner>,
    /// The requesting office's city.
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `mou.request_declined`: a requested signatory declined, with a reason, in a decline
/// statement signed with their key. The statement and its SSHSIG are in the entry, so an
/// auditor checks the decline from the log alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MouRequestDeclined {
    pub mou: String,
    pub round: i64,
    pub request: String,
    pub version: i64,
    pub signer: String,
    pub role: String,
    pub key: String,
    pub key_fingerprint: String,
    pub reason: String,
    /// The signed decline statement (canonical JSON, docs/formats/statements.md), as text.
    pub statement: String,
    /// Its armored SSHSIG.
    pub signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `mou.requests_expired`: the round's deadline passed with these requests unanswered; logged
/// by the registry itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MouRequestsExpired {
    pub mou: String,
    pub round: i64,
    pub requests: Vec<String>,
    pub deadline: String,
}

/// `mou.requests_cancelled`: pending requests ended without an answer, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MouRequestsCancelled {
    pub mou: String,
    pub round: i64,
    pub requests: Vec<String>,
    /// `office` (a party office cancelled them), `new_version`, `new_round`, `withdrawn`, or
    /// `declined` (another signatory of the round declined).
    pub cause: String,
    /// The cancelling office's city, for `office`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `mou.withdrawn`: a party office withdrew the MOU, with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MouWithdrawn {
    pub mou: String,
    pub city: String,
    pub reason: String,
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `key.registered`: a signatory's public key, with proof of possession.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRegistered {
    pub key: String,
    pub fingerprint: String,
    pub public_key: String,
    pub city: String,
    pub signer: String,
    pub role: String,
    /// `pending`, or `active` when the registry approves keys on registration.
    pub status: String,
    pub proof_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `key.approved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyApproved {
    pub key: String,
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `key.retired` and `key.revoked`: a key's end, with its times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEnded {
    pub key: String,
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compromised_since: Option<String>,
    /// On revocations only, and explicit: an absent compromise time voids every signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compromise_time_known: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `city_group.saved`: a named group of cities, created (`seq` 1) or redefined (2, 3, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CityGroupSaved {
    pub group: String,
    pub seq: i64,
    pub name: String,
    /// City codes, ascending, each once.
    pub cities: Vec<String>,
    /// The association token that keeps the group; absent when the administrators keep it
    /// (and in every save before keepers existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keeper: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// What an entry says, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryBody {
    CityCreated(CityCreated),
    OfficeCreated(OfficeCreated),
    TokenIssued(TokenIssued),
    TokenRevoked(TokenRevoked),
    PartnershipRegistered(PartnershipRegistered),
    PartnershipStatusChanged(PartnershipStatusChanged),
    ActivityRecorded(ActivityRecorded),
    ActivityEvidenceAdded(ActivityEvidenceAdded),
    ActivityOutcomeRecorded(ActivityOutcomeRecorded),
    ActivityCommitmentMade(ActivityCommitmentMade),
    ActivityCommitmentResolved(ActivityCommitmentResolved),
    MouCreated(MouCreated),
    MouVersionUploaded(MouVersionUploaded),
    MouSignatureAdded(MouSignatureAdded),
    MouWithdrawn(MouWithdrawn),
    KeyRegistered(KeyRegistered),
    KeyApproved(KeyApproved),
    KeyRetired(KeyEnded),
    KeyRevoked(KeyEnded),
    MouSignaturesRequested(MouSignaturesRequested),
    MouRequestDeclined(MouRequestDeclined),
    MouRequestsExpired(MouRequestsExpired),
    MouRequestsCancelled(MouRequestsCancelled),
    CityGroupSaved(CityGroupSaved),
}

/// A log entry: when it was logged and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// RFC 3339 UTC with microseconds, e.g. `2026-12-02T14:12:38.847084Z`.
    pub time: String,
    pub body: EntryBody,
}

/// Why bytes are not an entry this verifier reads. Readers report it with the entry's index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("the entry is {0} bytes; the limit is {MAX_ENTRY_BYTES}")]
    TooLarge(usize),
    #[error("not a JSON object: {0}")]
    NotAnObject(String),
    #[error("no `{0}` string")]
    Missing(&'static str),
    #[error("unknown entry kind {0:?}")]
    UnknownKind(String),
    #[error("{kind}: {message}")]
    Fields { kind: &'static str, message: String },
    #[error("not in canonical form (RFC 8785)")]
    NotCanonical,
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

impl EntryBody {
    /// The entry's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            EntryBody::CityCreated(_) => kinds::CITY_CREATED,
            EntryBody::OfficeCreated(_) => kinds::OFFICE_CREATED,
            EntryBody::TokenIssued(_) => kinds::TOKEN_ISSUED,
            EntryBody::TokenRevoked(_) => kinds::TOKEN_REVOKED,
            EntryBody::PartnershipRegistered(_) => kinds::PARTNERSHIP_REGISTERED,
            EntryBody::PartnershipStatusChanged(_) => kinds::PARTNERSHIP_STATUS_CHANGED,
            EntryBody::ActivityRecorded(_) => kinds::ACTIVITY_RECORDED,
            EntryBody::ActivityEvidenceAdded(_) => kinds::ACTIVITY_EVIDENCE_ADDED,
            EntryBody::ActivityOutcomeRecorded(_) => kinds::ACTIVITY_OUTCOME_RECORDED,
            EntryBody::ActivityCommitmentMade(_) => kinds::ACTIVITY_COMMITMENT_MADE,
            EntryBody::ActivityCommitmentResolved(_) => kinds::ACTIVITY_COMMITMENT_RESOLVED,
            EntryBody::MouCreated(_) => kinds::MOU_CREATED,
            EntryBody::MouVersionUploaded(_) => kinds::MOU_VERSION_UPLOADED,
            EntryBody::MouSignatureAdded(_) => kinds::MOU_SIGNATURE_ADDED,
            EntryBody::MouWithdrawn(_) => kinds::MOU_WITHDRAWN,
            EntryBody::KeyRegistered(_) => kinds::KEY_REGISTERED,
            EntryBody::KeyApproved(_) => kinds::KEY_APPROVED,
            EntryBody::KeyRetired(_) => kinds::KEY_RETIRED,
            EntryBody::KeyRevoked(_) => kinds::KEY_REVOKED,
            EntryBody::MouSignaturesRequested(_) => kinds::MOU_SIGNATURES_REQUESTED,
            EntryBody::MouRequestDeclined(_) => kinds::MOU_REQUEST_DECLINED,
            EntryBody::MouRequestsExpired(_) => kinds::MOU_REQUESTS_EXPIRED,
            EntryBody::MouRequestsCancelled(_) => kinds::MOU_REQUESTS_CANCELLED,
            EntryBody::CityGroupSaved(_) => kinds::CITY_GROUP_SAVED,
        }
    }

    fn fields(&self) -> Result<Value, serde_json::Error> {
        match self {
            EntryBody::CityCreated(b) => serde_json::to_value(b),
            EntryBody::OfficeCreated(b) => serde_json::to_value(b),
            EntryBody::TokenIssued(b) => serde_json::to_value(b),
            EntryBody::TokenRevoked(b) => serde_json::to_value(b),
            EntryBody::PartnershipRegistered(b) => serde_json::to_value(b),
            EntryBody::PartnershipStatusChanged(b) => serde_json::to_value(b),
            EntryBody::ActivityRecorded(b) => serde_json::to_value(b),
            EntryBody::ActivityEvidenceAdded(b) => serde_json::to_value(b),
            EntryBody::ActivityOutcomeRecorded(b) => serde_json::to_value(b),
            EntryBody::ActivityCommitmentMade(b) => serde_json::to_value(b),
            EntryBody::ActivityCommitmentResolved(b) => serde_json::to_value(b),
            EntryBody::MouCreated(b) => serde_json::to_value(b),
            EntryBody::MouVersionUploaded(b) => serde_json::to_value(b),
            EntryBody::MouSignatureAdded(b) => serde_json::to_value(b),
            EntryBody::MouWithdrawn(b) => serde_json::to_value(b),
            EntryBody::KeyRegistered(b) => serde_json::to_value(b),
            EntryBody::KeyApproved(b) => serde_json::to_value(b),
            EntryBody::KeyRetired(b) | EntryBody::KeyRevoked(b) => serde_json::to_value(b),
            EntryBody::MouSignaturesRequested(b) => serde_json::to_value(b),
            EntryBody::MouRequestDeclined(b) => serde_json::to_value(b),
            EntryBody::MouRequestsExpired(b) => serde_json::to_value(b),
            EntryBody::MouRequestsCancelled(b) => serde_json::to_value(b),
            EntryBody::CityGroupSaved(b) => serde_json::to_value(b),
        }
    }

    fn from_fields(kind: &str, fields: Map<String, Value>) -> Result<EntryBody, EntryError> {
        fn read<T: DeserializeOwned>(
            kind: &'static str,
            fields: Map<String, Value>,
        ) -> Result<T, EntryError> {
            serde_json::from_value(Value::Object(fields)).map_err(|e| EntryError::Fields {
                kind,
                message: e.to_string(),
            })
        }
        Ok(match kind {
            kinds::CITY_CREATED => EntryBody::CityCreated(read(kinds::CITY_CREATED, fields)?),
            kinds::OFFICE_CREATED => EntryBody::OfficeCreated(read(kinds::OFFICE_CREATED, fields)?),
            kinds::TOKEN_ISSUED => EntryBody::TokenIssued(read(kinds::TOKEN_ISSUED, fields)?),
            kinds::TOKEN_REVOKED => EntryBody::TokenRevoked(read(kinds::TOKEN_REVOKED, fields)?),
            kinds::PARTNERSHIP_REGISTERED => {
                EntryBody::PartnershipRegistered(read(kinds::PARTNERSHIP_REGISTERED, fields)?)
            }
            kinds::PARTNERSHIP_STATUS_CHANGED => EntryBody::PartnershipStatusChanged(read(
                kinds::PARTNERSHIP_STATUS_CHANGED,
                fields,
            )?),
            kinds::ACTIVITY_RECORDED => {
                EntryBody::ActivityRecorded(read(kinds::ACTIVITY_RECORDED, fields)?)
            }
            kinds::ACTIVITY_EVIDENCE_ADDED => {
                EntryBody::ActivityEvidenceAdded(read(kinds::ACTIVITY_EVIDENCE_ADDED, fields)?)
            }
            kinds::ACTIVITY_OUTCOME_RECORDED => {
                EntryBody::ActivityOutcomeRecorded(read(kinds::ACTIVITY_OUTCOME_RECORDED, fields)?)
            }
            kinds::ACTIVITY_COMMITMENT_MADE => {
                EntryBody::ActivityCommitmentMade(read(kinds::ACTIVITY_COMMITMENT_MADE, fields)?)
            }
            kinds::ACTIVITY_COMMITMENT_RESOLVED => EntryBody::ActivityCommitmentResolved(read(
                kinds::ACTIVITY_COMMITMENT_RESOLVED,
                fields,
            )?),
            kinds::MOU_CREATED => EntryBody::MouCreated(read(kinds::MOU_CREATED, fields)?),
            kinds::MOU_VERSION_UPLOADED => {
                EntryBody::MouVersionUploaded(read(kinds::MOU_VERSION_UPLOADED, fields)?)
            }
            kinds::MOU_SIGNATURE_ADDED => {
                EntryBody::MouSignatureAdded(read(kinds::MOU_SIGNATURE_ADDED, fields)?)
            }
            kinds::MOU_WITHDRAWN => EntryBody::MouWithdrawn(read(kinds::MOU_WITHDRAWN, fields)?),
            kinds::KEY_REGISTERED => EntryBody::KeyRegistered(read(kinds::KEY_REGISTERED, fields)?),
            kinds::KEY_APPROVED => EntryBody::KeyApproved(read(kinds::KEY_APPROVED, fields)?),
            kinds::KEY_RETIRED => EntryBody::KeyRetired(read(kinds::KEY_RETIRED, fields)?),
            kinds::KEY_REVOKED => EntryBody::KeyRevoked(read(kinds::KEY_REVOKED, fields)?),
            kinds::MOU_SIGNATURES_REQUESTED => {
                EntryBody::MouSignaturesRequested(read(kinds::MOU_SIGNATURES_REQUESTED, fields)?)
            }
            kinds::MOU_REQUEST_DECLINED => {
                EntryBody::MouRequestDeclined(read(kinds::MOU_REQUEST_DECLINED, fields)?)
            }
            kinds::MOU_REQUESTS_EXPIRED => {
                EntryBody::MouRequestsExpired(read(kinds::MOU_REQUESTS_EXPIRED, fields)?)
            }
            kinds::MOU_REQUESTS_CANCELLED => {
                EntryBody::MouRequestsCancelled(read(kinds::MOU_REQUESTS_CANCELLED, fields)?)
            }
            kinds::CITY_GROUP_SAVED => {
                EntryBody::CityGroupSaved(read(kinds::CITY_GROUP_SAVED, fields)?)
            }
            other => return Err(EntryError::UnknownKind(other.to_string())),
        })
    }
}

impl Entry {
    /// The entry's canonical bytes: what the log stores and hashes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EntryError> {
        let mut object = match self.body.fields() {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(EntryError::NotAnObject("a kind's fields".into())),
            Err(e) => return Err(EntryError::NotAnObject(e.to_string())),
        };
        object.insert("type".into(), Value::String(self.body.kind().into()));
        object.insert("time".into(), Value::String(self.time.clone()));
        Ok(canonical_json(&Value::Object(object))?)
    }

    /// Parses entry bytes strictly: a known kind, exactly its fields, and nothing else. The
    /// bytes need not be canonical; [`Entry::parse_canonical`] also requires that.
    pub fn parse(bytes: &[u8]) -> Result<Entry, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let mut object = match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(EntryError::NotAnObject("another JSON value".into())),
            Err(e) => return Err(EntryError::NotAnObject(e.to_string())),
        };
        let kind = match object.remove("type") {
            Some(Value::String(kind)) => kind,
            _ => return Err(EntryError::Missing("type")),
        };
        let time = match object.remove("time") {
            Some(Value::String(time)) => time,
            _ => return Err(EntryError::Missing("time")),
        };
        let body = EntryBody::from_fields(&kind, object)?;
        Ok(Entry { time, body })
    }

    /// [`Entry::parse`], and the bytes must be exactly the entry's canonical form, so that one
    /// entry has one byte string and one leaf hash.
    pub fn parse_canonical(bytes: &[u8]) -> Result<Entry, EntryError> {
        let entry = Entry::parse(bytes)?;
        if entry.to_bytes()? != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city(region: Option<&str>) -> Entry {
        Entry {
            time: "1970-01-01T00:00:00.000000Z".into(),
            body: EntryBody::CityCreated(CityCreated {
                city: "us-hou".into(),
                name: "Houston".into(),
                country: "US".into(),
                region: region.map(str::to_string),
                wikidata: None,
                geonames_id: None,
                unlocode: None,
                lat_e6: Some(29_760_400),
                lon_e6: Some(-95_369_800),
            }),
        }
    }

    #[test]
    fn absent_fields_are_left_out_and_bytes_round_trip() {
        let bytes = city(None).to_bytes().unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"city":"us-hou","country":"US","lat_e6":29760400,"lon_e6":-95369800,"name":"Houston","time":"1970-01-01T00:00:00.000000Z","type":"city.created"}"#
        );
        assert_eq!(Entry::parse_canonical(&bytes).unwrap(), city(None));
    }

    #[test]
    fn signatures_logged_before_requests_existed_keep_their_bytes() {
        // Entry 17 of docs/formats/log-entries.md, logged before `request` existed.
        let old = br#"{"by":"01a23719-ad8b-720b-9611-2db1e54e64e3","key":"01a23719-b233-7629-8787-3d76bee289d2","key_fingerprint":"SHA256:Gb0Y7vMjD+vQ6YugQsqokiLeLWKiGFUB05D8KGa9hs8","mou":"01a23719-b462-76dd-b14a-dce2a1fe4b07","role":"signatory","seq":1,"signer":"mayor@us-hou","statement_sha256":"0332c97cc0abc6a988498bb5e4d1c24b7fb7efeab62e2800d49efedce32394cf","time":"2026-12-02T14:12:41.889539Z","type":"mou.signature_added","version":1}"#;
        let entry = Entry::parse_canonical(old).unwrap();
        let EntryBody::MouSignatureAdded(added) = &entry.body else {
            panic!("{entry:?}");
        };
        assert_eq!(added.request, None);
        assert_eq!(entry.to_bytes().unwrap(), old);
        // With a request, the field is written in its sorted place.
        let mut answered = added.clone();
        answered.request = Some("01a2371a-0c4d-7e2f-8a3b-4c5d6e7f8091".into());
        let entry = Entry {
            time: entry.time.clone(),
            body: EntryBody::MouSignatureAdded(answered),
        };
        let bytes = entry.to_bytes().unwrap();
        assert!(
            String::from_utf8(bytes.clone())
                .unwrap()
                .contains(r#""mou":"01a23719-b462-76dd-b14a-dce2a1fe4b07","request":"01a2371a-"#)
        );
        assert_eq!(Entry::parse_canonical(&bytes).unwrap(), entry);
    }

    #[test]
    fn readers_refuse_what_they_do_not_know() {
        let unknown_field = br#"{"city":"us-hou","country":"US","extra":1,"name":"H","time":"t","type":"city.created"}"#;
        let err = Entry::parse(unknown_field).unwrap_err();
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
        let unknown_kind = br#"{"time":"t","type":"city.renamed"}"#;
        assert_eq!(
            Entry::parse(unknown_kind).unwrap_err(),
            EntryError::UnknownKind("city.renamed".into())
        );
        let missing = br#"{"city":"us-hou","time":"t","type":"city.created"}"#;
        assert!(
            Entry::parse(missing)
                .unwrap_err()
                .to_string()
                .contains("missing field")
        );
        let wrong_type = br#"{"city":"us-hou","country":"US","name":"H","lat_e6":"north","time":"t","type":"city.created"}"#;
        assert!(Entry::parse(wrong_type).is_err());
        assert_eq!(
            Entry::parse(b"[]").unwrap_err(),
            EntryError::NotAnObject("another JSON value".into())
        );
        assert_eq!(
            Entry::parse(br#"{"time":"t"}"#).unwrap_err(),
            EntryError::Missing("type")
        );
        let spaced = br#"{"token": "x", "time":"t","type":"token.revoked"}"#;
        assert!(Entry::parse(spaced).is_ok());
        assert_eq!(
            Entry::parse_canonical(spaced).unwrap_err(),
            EntryError::NotCanonical
        );
    }
}
