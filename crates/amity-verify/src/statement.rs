//! The JSON statements that signatories sign.
//!
//! A statement is signed as raw bytes, so everyone who checks a signature
//! must agree on those bytes without re-encoding anything. We therefore fix
//! one encoding: compact JSON (no whitespace), keys in lexicographic order,
//! ASCII-only string values, integers within the IEEE-754 safe range. For
//! these shapes serde_json's compact output coincides with RFC 8785
//! (JCS) canonical JSON, so `to_bytes` produces the canonical form and
//! `parse_strict` accepts nothing else.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::keys::{KeyError, PublicKey};

/// Statements are a few hundred bytes; the bound keeps hostile input cheap.
pub const MAX_STATEMENT_LEN: usize = 4096;

/// Largest integer JSON consumers using IEEE-754 doubles (and RFC 8785)
/// represent exactly: 2^53 - 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `prev` of the first statement in a chain.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Errors from building or strictly parsing statements.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("statement is too large")]
    TooLarge,
    #[error("statement is not valid UTF-8")]
    InvalidUtf8,
    #[error("statement is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("statement must be a JSON object")]
    NotAnObject,
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    #[error("missing key {0:?}")]
    MissingKey(&'static str),
    #[error("keys are not in canonical (lexicographic) order")]
    KeysOutOfOrder,
    #[error("field {field:?} has the wrong JSON type (expected {expected})")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("field {field:?} is invalid: {reason}")]
    InvalidField {
        field: &'static str,
        reason: &'static str,
    },
    #[error("signer's city part does not match the city field")]
    SignerCityMismatch,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("statement bytes are not in canonical form (whitespace, escapes or number format)")]
    NotCanonical,
}

impl StatementError {
    /// Stable snake_case code for API responses and logs.
    pub fn code(&self) -> &'static str {
        match self {
            StatementError::TooLarge => "statement_too_large",
            StatementError::InvalidUtf8 => "invalid_utf8",
            StatementError::InvalidJson(_) => "invalid_json",
            StatementError::NotAnObject => "not_an_object",
            StatementError::DuplicateKey(_) => "duplicate_key",
            StatementError::UnknownKey(_) => "unknown_key",
            StatementError::MissingKey(_) => "missing_key",
            StatementError::KeysOutOfOrder => "keys_out_of_order",
            StatementError::WrongType { .. } => "wrong_type",
            StatementError::InvalidField { .. } => "invalid_field",
            StatementError::SignerCityMismatch => "signer_city_mismatch",
            StatementError::Key(inner) => inner.code(),
            StatementError::NotCanonical => "statement_not_canonical",
        }
    }
}

/// Lowercase hex SHA-256, as used for `doc_sha256` and `prev`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SSHSIG namespace for MOU signatures issued under `registry`. Binding the
/// registry into the namespace stops a signature made for one registry
/// from being replayed at another.
pub fn mou_signature_namespace(registry: &str) -> String {
    format!("amity-mou-v1@{registry}")
}

/// SSHSIG namespace for key-registration proofs under `registry`.
pub fn key_event_namespace(registry: &str) -> String {
    format!("amity-key-v1@{registry}")
}

/// The statement a signatory signs to sign (a version of) an MOU.
///
/// Fields are declared in lexicographic order: serde serialises in
/// declaration order, and canonical form requires sorted keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MouSignatureStatement {
    /// Always `"sign"`.
    pub action: String,
    /// Form v1, a version of one document: lowercase hex SHA-256 of its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_sha256: Option<String>,
    /// Form v2, a version of several documents: each one's `<language>:<sha256 hex>`, in
    /// the version's order (see [`check_documents`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<String>>,
    /// Lowercase hyphenated UUID of the MOU.
    pub mou_id: String,
    /// MOU version, 1..=2^53-1.
    pub mou_version: u64,
    /// Lowercase hex SHA-256 of the previous statement ([`GENESIS_PREV`]
    /// for the first).
    pub prev: String,
    /// Registry host, e.g. `registry.example.org`.
    pub registry: String,
    /// e.g. `signatory`, `witness`.
    pub role: String,
    /// Sequence number, 1..=2^53-1.
    pub seq: u64,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub signed_at: String,
    /// `<handle>@<city code>`.
    pub signer: String,
    /// Must equal the city part of `signer`.
    pub signer_city: String,
    /// `SHA256:<43 base64 chars>` fingerprint of the signing key.
    pub signer_key: String,
    /// `<registry>/schemas/mou-signature/v1`, or `.../v2` with `documents`.
    pub r#type: String,
}

/// Keys of [`MouSignatureStatement`] in canonical order, form v1 (one document); form v2
/// has `documents` in the place of `doc_sha256` (the same place in key order).
const MOU_FIELDS: &[&str] = &[
    "action",
    "doc_sha256",
    "mou_id",
    "mou_version",
    "prev",
    "registry",
    "role",
    "seq",
    "signed_at",
    "signer",
    "signer_city",
    "signer_key",
    "type",
];

/// The one field of a statement that is a list (of strings).
const LIST_FIELDS: &[&str] = &["documents"];

/// The most documents one version holds (one per language of a multilingual MOU).
pub const MAX_DOCUMENTS_PER_VERSION: usize = 8;

/// True when `tag` is a language tag this registry accepts: the shape of an RFC 5646
/// (BCP 47) tag, a primary language of 2 to 8 letters and up to seven subtags of 1 to 8
/// letters or digits (`en`, `zh-Hans`, `pt-BR`, `sr-Latn-RS`), at most 35 characters.
/// Which subtags are registered is not checked: the tag names a text, it selects nothing.
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let mut subtags = 0;
    let rest_ok = parts.all(|p| {
        subtags += 1;
        (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    primary_ok && rest_ok && subtags <= 7 && tag.len() <= 35
}

/// One document as form v2 statements name it: `<language>:<sha256 hex>`.
pub fn document_ref(language: &str, sha256_hex: &str) -> String {
    format!("{language}:{sha256_hex}")
}

/// What a statement must say about a version's documents, in the one form the version
/// allows: a version of one document is named by its hash alone (`doc_sha256`, form v1,
/// whatever its language), a version of several by each document's `<language>:<hash>` in
/// order (`documents`, form v2). Given the version's `(language, sha256 hex)` pairs in order.
pub fn version_commitment<'a>(
    documents: impl IntoIterator<Item = (Option<&'a str>, &'a str)>,
) -> Vec<String> {
    let documents: Vec<_> = documents.into_iter().collect();
    match documents.as_slice() {
        [(_, sha)] => vec![(*sha).to_string()],
        several => several
            .iter()
            .map(|(language, sha)| document_ref(language.unwrap_or_default(), sha))
            .collect(),
    }
}

/// The document fields of a statement on a version with `commitment`
/// ([`version_commitment`]): `doc_sha256` for one document, `documents` for several.
pub fn document_fields(commitment: &[String]) -> (Option<String>, Option<Vec<String>>) {
    match commitment {
        [one] => (Some(one.clone()), None),
        several => (None, Some(several.to_vec())),
    }
}

/// The `documents` list of a form v2 statement: 2..=8 entries, each `<language>:<sha256>`
/// with a valid language tag and a lowercase hex hash, no language twice (compared without
/// regard to case, as BCP 47 does).
fn check_documents(documents: &[String]) -> Result<(), StatementError> {
    check(
        (2..=MAX_DOCUMENTS_PER_VERSION).contains(&documents.len()),
        "documents",
        "must list 2 to 8 documents (a version of one document uses doc_sha256)",
    )?;
    let mut languages = Vec::with_capacity(documents.len());
    for entry in documents {
        let (language, sha) = entry.split_once(':').unwrap_or(("", ""));
        check(
            is_language_tag(language) && is_lower_hex_sha256(sha),
            "documents",
            "each entry must be <language tag>:<64 lowercase hex characters>",
        )?;
        languages.push(language);
    }
    check(
        repeated_language(languages).is_none(),
        "documents",
        "no language may appear twice",
    )
}

/// The first of `tags` that repeats an earlier one, compared without regard to case as
/// BCP 47 compares tags: one rule for uploads, statements and the replay of version entries.
pub fn repeated_language<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = HashSet::new();
    tags.into_iter()
        .find(|tag| !seen.insert(tag.to_ascii_lowercase()))
}

/// Which form a statement takes: v1 names one document by `doc_sha256`, v2 several by
/// `documents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    V1,
    V2,
}

/// The document field of a statement: exactly one of `doc_sha256` (form v1) and
/// `documents` (form v2), valid. Returns the form, whose `type` the statement must carry.
fn check_document_form(
    doc_sha256: Option<&String>,
    documents: Option<&Vec<String>>,
) -> Result<Form, StatementError> {
    match (doc_sha256, documents) {
        (Some(sha), None) => check_sha256(sha, "doc_sha256").map(|()| Form::V1),
        (None, Some(list)) => check_documents(list).map(|()| Form::V2),
        (Some(_), Some(_)) => Err(StatementError::UnknownKey("documents".to_string())),
        (None, None) => Err(StatementError::MissingKey("doc_sha256")),
    }
}

/// The statement's commitment to documents, comparable with [`version_commitment`].
fn committed(doc_sha256: Option<&String>, documents: Option<&Vec<String>>) -> Vec<String> {
    match (doc_sha256, documents) {
        (Some(sha), _) => vec![sha.clone()],
        (None, Some(list)) => list.clone(),
        (None, None) => Vec::new(),
    }
}

/// Fields of [`MouSignatureStatement`] that are JSON integers.
const MOU_INTEGER_FIELDS: &[&str] = &["mou_version", "seq"];

impl MouSignatureStatement {
    pub const ACTION: &'static str = "sign";

    /// The `type` value of form v1 (one document) for `registry`.
    pub fn type_for(registry: &str) -> String {
        format!("{registry}/schemas/mou-signature/v1")
    }

    /// The `type` value of form v2 (several documents) for `registry`.
    pub fn type_v2_for(registry: &str) -> String {
        format!("{registry}/schemas/mou-signature/v2")
    }

    /// What this statement commits to about the version's documents, comparable with
    /// [`version_commitment`].
    pub fn committed_documents(&self) -> Vec<String> {
        committed(self.doc_sha256.as_ref(), self.documents.as_ref())
    }

    /// The documents for people: the hash, or each `<language>:<hash>` joined by `, `.
    pub fn documents_text(&self) -> String {
        self.committed_documents().join(", ")
    }

    /// Checks every field and cross-field rule.
    pub fn validate(&self) -> Result<(), StatementError> {
        check(self.action == Self::ACTION, "action", "must be \"sign\"")?;
        let form = check_document_form(self.doc_sha256.as_ref(), self.documents.as_ref())?;
        check_uuid(&self.mou_id, "mou_id")?;
        check_counter(self.mou_version, "mou_version")?;
        check_sha256(&self.prev, "prev")?;
        check_registry(&self.registry)?;
        check_role(&self.role)?;
        check_counter(self.seq, "seq")?;
        check_timestamp(&self.signed_at, "signed_at")?;
        check_signer_identity(&self.signer, &self.signer_city, &self.signer_key)?;
        let expected = match form {
            Form::V1 => Self::type_for(&self.registry),
            Form::V2 => Self::type_v2_for(&self.registry),
        };
        check(
            self.r#type == expected,
            "type",
            "must be <registry>/schemas/mou-signature/v1 with doc_sha256, .../v2 with documents",
        )?;
        Ok(())
    }

    /// True when `signer_key` is the fingerprint of `key`.
    pub fn signer_key_matches(&self, key: &PublicKey) -> bool {
        self.signer_key == key.fingerprint()
    }

    /// Validates and returns the canonical bytes to be signed.
    pub fn to_bytes(&self) -> Result<Vec<u8>, StatementError> {
        self.validate()?;
        serde_json::to_vec(self).map_err(|e| StatementError::InvalidJson(e.to_string()))
    }

    /// Parses `bytes`, accepting only the exact canonical encoding of a
    /// valid statement.
    pub fn parse_strict(bytes: &[u8]) -> Result<Self, StatementError> {
        match Self::parse_canonical_fast(bytes) {
            Some(statement) => Ok(statement),
            None => Self::parse_checked(bytes),
        }
    }

    /// `parse_strict` step by step: every check in turn, so a refusal names the first
    /// thing wrong.
    fn parse_checked(bytes: &[u8]) -> Result<Self, StatementError> {
        let statement: Self = parse_canonical_object(bytes, MOU_FIELDS, MOU_INTEGER_FIELDS)?;
        statement.validate()?;
        ensure_reserializes(&statement, bytes)?;
        Ok(statement)
    }

    /// The statement in `bytes` if they are its canonical encoding, read in one pass (the
    /// whole-registry audit parses every statement of the registry; the step-by-step path
    /// cost it three JSON passes more). It accepts exactly what [`Self::parse_checked`]
    /// accepts: bytes that serialize back to themselves hold the fields in declaration
    /// order, which is `MOU_FIELDS` order, each once with its JSON type, and nothing else;
    /// exactly one of `doc_sha256` and `documents` makes them form v1 or v2; `validate`
    /// checks the values. Anything else (`None`) goes the step-by-step way for its error.
    /// `tests::the_fast_path_accepts_what_the_checked_one_does` compares the two.
    fn parse_canonical_fast(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > MAX_STATEMENT_LEN {
            return None;
        }
        let statement: Self = serde_json::from_slice(bytes).ok()?;
        // `validate` refuses both forms at once too; checked here as well so this path never
        // leans on a rule that could move out of `validate`.
        if statement.doc_sha256.is_some() == statement.documents.is_some() {
            return None;
        }
        statement.validate().ok()?;
        (serde_json::to_vec(&statement).ok()? == bytes).then_some(statement)
    }
}

/// The statement a signatory signs to prove possession of a key when
/// registering it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRegistrationStatement {
    /// Always `"register"`.
    pub action: String,
    /// Server-issued nonce: 22..=128 characters of `[A-Za-z0-9_-]`
    /// (base64url or hex, at least 128 bits).
    pub challenge: String,
    /// City code, e.g. `fr-paris`.
    pub city: String,
    /// `ssh-ed25519 <base64>` without a comment.
    pub public_key: String,
    pub registry: String,
    pub role: String,
    /// `<handle>@<city>`.
    pub signer: String,
    /// `<registry>/schemas/key-event/v1`.
    pub r#type: String,
}

const KEY_EVENT_FIELDS: &[&str] = &[
    "action",
    "challenge",
    "city",
    "public_key",
    "registry",
    "role",
    "signer",
    "type",
];

impl KeyRegistrationStatement {
    pub const ACTION: &'static str = "register";

    /// The `type` value required for `registry`.
    pub fn type_for(registry: &str) -> String {
        format!("{registry}/schemas/key-event/v1")
    }

    /// Checks every field and cross-field rule.
    pub fn validate(&self) -> Result<(), StatementError> {
        check(
            self.action == Self::ACTION,
            "action",
            "must be \"register\"",
        )?;
        check(
            is_challenge(&self.challenge),
            "challenge",
            "must be 22..=128 characters of [A-Za-z0-9_-]",
        )?;
        check(
            is_city_code(&self.city),
            "city",
            "must match ^[a-z]{2}-[a-z0-9-]{2,29}$",
        )?;
        self.parsed_public_key()?;
        check_registry(&self.registry)?;
        check_role(&self.role)?;
        let signer_city = check_signer(&self.signer)?;
        if signer_city != self.city {
            return Err(StatementError::SignerCityMismatch);
        }
        check(
            self.r#type == Self::type_for(&self.registry),
            "type",
            "must be <registry>/schemas/key-event/v1",
        )?;
        Ok(())
    }

    /// The registered key, strictly parsed (weak or non-canonical keys are
    /// refused with the key module's codes).
    pub fn parsed_public_key(&self) -> Result<PublicKey, StatementError> {
        // Parse errors (weak_key, non_canonical_key, ...) pass through with
        // their own codes.
        let key = PublicKey::parse_openssh_line(&self.public_key)?;
        // A comment would be unsigned-looking free text inside a signed
        // statement and a second spelling of the same key.
        check(
            key.comment().is_none() && key.to_openssh_line() == self.public_key,
            "public_key",
            "must be exactly \"ssh-ed25519 <base64>\" without comment or newline",
        )?;
        Ok(key)
    }

    /// Validates and returns the canonical bytes to be signed.
    pub fn to_bytes(&self) -> Result<Vec<u8>, StatementError> {
        self.validate()?;
        serde_json::to_vec(self).map_err(|e| StatementError::InvalidJson(e.to_string()))
    }

    /// Parses `bytes`, accepting only the exact canonical encoding of a
    /// valid statement.
    pub fn parse_strict(bytes: &[u8]) -> Result<Self, StatementError> {
        let statement: Self = parse_canonical_object(bytes, KEY_EVENT_FIELDS, &[])?;
        statement.validate()?;
        ensure_reserializes(&statement, bytes)?;
        Ok(statement)
    }
}

/// SSHSIG namespace for declines of signature requests under `registry`: a decline can never
/// be presented as a signature, nor a signature as a decline.
pub fn mou_decline_namespace(registry: &str) -> String {
    format!("amity-mou-decline-v1@{registry}")
}

/// The most characters a decline's reason may have.
pub const MAX_DECLINE_REASON_CHARS: usize = 1000;
/// And the most bytes (UTF-8) it may take, so that every valid decline statement stays within
/// [`MAX_STATEMENT_LEN`] (1000 four-byte characters would not).
pub const MAX_DECLINE_REASON_BYTES: usize = 2000;

/// The statement a requested signatory signs to decline a signature request, with the reason
/// (docs/formats/statements.md). Signed with the same key rules as a signature, so nobody can
/// decline on a signatory's behalf.
///
/// Fields are declared in lexicographic order, as canonical form requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MouDeclineStatement {
    /// Always `"decline"`.
    pub action: String,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub declined_at: String,
    /// Form v1: lowercase hex SHA-256 of the requested version's one document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_sha256: Option<String>,
    /// Form v2: each document of the requested version as `<language>:<sha256 hex>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<String>>,
    pub mou_id: String,
    pub mou_version: u64,
    /// Why, in the signatory's words: 1..=1000 characters, no control characters, no
    /// surrounding white space (so the JSON escaping is the same in every canonical writer).
    pub reason: String,
    pub registry: String,
    /// Lowercase hyphenated UUID of the signature request declined.
    pub request_id: String,
    pub role: String,
    pub signer: String,
    pub signer_city: String,
    pub signer_key: String,
    /// `<registry>/schemas/mou-decline/v1`, or `.../v2` with `documents`.
    pub r#type: String,
}

const DECLINE_FIELDS: &[&str] = &[
    "action",
    "declined_at",
    "doc_sha256",
    "mou_id",
    "mou_version",
    "reason",
    "registry",
    "request_id",
    "role",
    "signer",
    "signer_city",
    "signer_key",
    "type",
];

/// True when `reason` is a decline reason this format accepts.
pub fn is_decline_reason(reason: &str) -> bool {
    let chars = reason.chars().count();
    (1..=MAX_DECLINE_REASON_CHARS).contains(&chars)
        && reason.len() <= MAX_DECLINE_REASON_BYTES
        && !reason.chars().any(char::is_control)
        && reason.trim() == reason
}

impl MouDeclineStatement {
    pub const ACTION: &'static str = "decline";

    /// The `type` value of form v1 (one document) for `registry`.
    pub fn type_for(registry: &str) -> String {
        format!("{registry}/schemas/mou-decline/v1")
    }

    /// The `type` value of form v2 (several documents) for `registry`.
    pub fn type_v2_for(registry: &str) -> String {
        format!("{registry}/schemas/mou-decline/v2")
    }

    /// What this statement commits to about the version's documents, comparable with
    /// [`version_commitment`].
    pub fn committed_documents(&self) -> Vec<String> {
        committed(self.doc_sha256.as_ref(), self.documents.as_ref())
    }

    /// Checks every field and cross-field rule.
    pub fn validate(&self) -> Result<(), StatementError> {
        check(self.action == Self::ACTION, "action", "must be \"decline\"")?;
        check_timestamp(&self.declined_at, "declined_at")?;
        let form = check_document_form(self.doc_sha256.as_ref(), self.documents.as_ref())?;
        check_uuid(&self.mou_id, "mou_id")?;
        check_counter(self.mou_version, "mou_version")?;
        check(
            is_decline_reason(&self.reason),
            "reason",
            "must be 1..=1000 characters and at most 2000 bytes, without control characters or surrounding white space",
        )?;
        check_registry(&self.registry)?;
        check_uuid(&self.request_id, "request_id")?;
        check_role(&self.role)?;
        check_signer_identity(&self.signer, &self.signer_city, &self.signer_key)?;
        let expected = match form {
            Form::V1 => Self::type_for(&self.registry),
            Form::V2 => Self::type_v2_for(&self.registry),
        };
        check(
            self.r#type == expected,
            "type",
            "must be <registry>/schemas/mou-decline/v1 with doc_sha256, .../v2 with documents",
        )?;
        Ok(())
    }

    /// True when `signer_key` is the fingerprint of `key`.
    pub fn signer_key_matches(&self, key: &PublicKey) -> bool {
        self.signer_key == key.fingerprint()
    }

    /// Validates and returns the canonical bytes to be signed.
    pub fn to_bytes(&self) -> Result<Vec<u8>, StatementError> {
        self.validate()?;
        let bytes =
            serde_json::to_vec(self).map_err(|e| StatementError::InvalidJson(e.to_string()))?;
        // Unreachable with a valid reason and registry; kept so that what this writes, the
        // strict parser always reads back.
        if bytes.len() > MAX_STATEMENT_LEN {
            return Err(StatementError::TooLarge);
        }
        Ok(bytes)
    }

    /// Parses `bytes`, accepting only the exact canonical encoding of a valid statement.
    pub fn parse_strict(bytes: &[u8]) -> Result<Self, StatementError> {
        let statement: Self =
            parse_canonical_object(bytes, DECLINE_FIELDS, MOU_INTEGER_FIELDS_DECLINE)?;
        statement.validate()?;
        ensure_reserializes(&statement, bytes)?;
        Ok(statement)
    }
}

/// Fields of [`MouDeclineStatement`] that are JSON integers.
const MOU_INTEGER_FIELDS_DECLINE: &[&str] = &["mou_version"];

// ----- strict parsing machinery -----

/// The top-level keys of a JSON object in document order, plus the first
/// key seen twice. serde_json's own map types keep only the last of
/// duplicate keys, so duplicates must be caught while streaming.
struct TopLevelKeys {
    keys: Vec<String>,
    first_duplicate: Option<String>,
}

impl<'de> Deserialize<'de> for TopLevelKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TopLevelKeysVisitor)
    }
}

struct TopLevelKeysVisitor;

impl<'de> Visitor<'de> for TopLevelKeysVisitor {
    type Value = TopLevelKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        let mut first_duplicate = None;
        while let Some(key) = map.next_key::<String>()? {
            // Values are skipped here; types are checked afterwards with
            // field names in the error.
            map.next_value::<IgnoredAny>()?;
            if !seen.insert(key.clone()) && first_duplicate.is_none() {
                first_duplicate = Some(key.clone());
            }
            keys.push(key);
        }
        Ok(TopLevelKeys {
            keys,
            first_duplicate,
        })
    }
}

/// Sanitised copy of an unknown key for error messages.
fn printable_key(key: &str) -> String {
    key.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

/// Checks everything about `bytes` that is independent of field values:
/// size, UTF-8, JSON syntax, an object at top level, no duplicate, unknown
/// or missing keys, canonical key order and JSON types. Then deserialises.
///
/// `fields` are the keys of form v1. A statement that carries `documents` and no
/// `doc_sha256` is form v2, whose keys are the same with `documents` in that place.
fn parse_canonical_object<T: DeserializeOwned>(
    bytes: &[u8],
    fields: &'static [&'static str],
    integer_fields: &[&str],
) -> Result<T, StatementError> {
    if bytes.len() > MAX_STATEMENT_LEN {
        return Err(StatementError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| StatementError::InvalidUtf8)?;
    let scan: TopLevelKeys = serde_json::from_str(text).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            StatementError::NotAnObject
        } else {
            StatementError::InvalidJson(e.to_string())
        }
    })?;
    if let Some(dup) = scan.first_duplicate {
        return Err(StatementError::DuplicateKey(printable_key(&dup)));
    }
    let has = |key: &str| scan.keys.iter().any(|k| k == key);
    let form_v2 = has("documents") && !has("doc_sha256");
    let fields: Vec<&'static str> = fields
        .iter()
        .map(|&f| {
            if form_v2 && f == "doc_sha256" {
                "documents"
            } else {
                f
            }
        })
        .collect();
    if let Some(unknown) = scan.keys.iter().find(|k| !fields.contains(&k.as_str())) {
        return Err(StatementError::UnknownKey(printable_key(unknown)));
    }
    if let Some(missing) = fields.iter().copied().find(|f| !has(f)) {
        return Err(StatementError::MissingKey(missing));
    }
    if scan
        .keys
        .iter()
        .map(String::as_str)
        .ne(fields.iter().copied())
    {
        return Err(StatementError::KeysOutOfOrder);
    }

    // The document is already known to be valid JSON without duplicates, so
    // a Map now loses nothing.
    let map: Map<String, Value> =
        serde_json::from_str(text).map_err(|e| StatementError::InvalidJson(e.to_string()))?;
    for &field in &fields {
        let value = map.get(field).ok_or(StatementError::MissingKey(field))?;
        if integer_fields.contains(&field) {
            // as_u64 is None for negatives, fractions, exponents that
            // parsed as floats, and out-of-range values.
            if value.as_u64().is_none() {
                return Err(StatementError::WrongType {
                    field,
                    expected: "non-negative integer",
                });
            }
        } else if LIST_FIELDS.contains(&field) {
            let strings = value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string));
            if !strings {
                return Err(StatementError::WrongType {
                    field,
                    expected: "array of strings",
                });
            }
        } else if !value.is_string() {
            return Err(StatementError::WrongType {
                field,
                expected: "string",
            });
        }
    }
    serde_json::from_value(Value::Object(map))
        .map_err(|e| StatementError::InvalidJson(e.to_string()))
}

/// Requires that serialising the parsed statement reproduces `bytes`
/// exactly: this rejects whitespace, escaped characters (`\u0073`), and any
/// other alternative spelling that survived parsing.
fn ensure_reserializes<T: Serialize>(statement: &T, bytes: &[u8]) -> Result<(), StatementError> {
    let canonical =
        serde_json::to_vec(statement).map_err(|e| StatementError::InvalidJson(e.to_string()))?;
    if canonical == bytes {
        Ok(())
    } else {
        Err(StatementError::NotCanonical)
    }
}

// ----- field validators -----

fn check_sha256(value: &str, field: &'static str) -> Result<(), StatementError> {
    check(
        is_lower_hex_sha256(value),
        field,
        "must be 64 lowercase hex characters",
    )
}

fn check_uuid(value: &str, field: &'static str) -> Result<(), StatementError> {
    check(
        is_lower_uuid(value),
        field,
        "must be a lowercase hyphenated UUID",
    )
}

fn check_timestamp(value: &str, field: &'static str) -> Result<(), StatementError> {
    check(
        is_utc_timestamp(value),
        field,
        "must be a real date-time formatted YYYY-MM-DDTHH:MM:SSZ",
    )
}

/// `signer`, `signer_city` (the city part of `signer`) and `signer_key` (a fingerprint) of a
/// statement a signatory signs.
fn check_signer_identity(
    signer: &str,
    signer_city: &str,
    signer_key: &str,
) -> Result<(), StatementError> {
    let city_of_signer = check_signer(signer)?;
    check(
        is_city_code(signer_city),
        "signer_city",
        "must match ^[a-z]{2}-[a-z0-9-]{2,29}$",
    )?;
    if city_of_signer != signer_city {
        return Err(StatementError::SignerCityMismatch);
    }
    check(
        is_fingerprint(signer_key),
        "signer_key",
        "must be SHA256: followed by 43 canonical base64 characters",
    )
}

fn check(ok: bool, field: &'static str, reason: &'static str) -> Result<(), StatementError> {
    if ok {
        Ok(())
    } else {
        Err(StatementError::InvalidField { field, reason })
    }
}

fn check_counter(value: u64, field: &'static str) -> Result<(), StatementError> {
    check(
        (1..=MAX_SAFE_INTEGER).contains(&value),
        field,
        "must be an integer in 1..=9007199254740991",
    )
}

fn check_registry(registry: &str) -> Result<(), StatementError> {
    check(
        is_registry_origin(registry),
        "registry",
        "must be a lowercase host name, optionally with :port",
    )
}

fn check_role(role: &str) -> Result<(), StatementError> {
    check(is_role(role), "role", "must match ^[a-z][a-z0-9_-]{0,31}$")
}

/// The city part of a valid `<handle>@<city code>` signer.
pub fn signer_city(signer: &str) -> Option<&str> {
    check_signer(signer).ok()
}

/// Validates `<handle>@<city>` and returns the city part.
fn check_signer(signer: &str) -> Result<&str, StatementError> {
    const REASON: &str = "must be <handle>@<city code>";
    let (handle, city) = signer.split_once('@').ok_or(StatementError::InvalidField {
        field: "signer",
        reason: REASON,
    })?;
    check(is_handle(handle) && is_city_code(city), "signer", REASON)?;
    Ok(city)
}

/// 64 lowercase hex digits, the one spelling of a SHA-256 in statements and entries.
pub fn is_lower_hex_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// 8-4-4-4-12 lowercase hex.
fn is_lower_uuid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
        })
}

/// `^[a-z][a-z0-9_-]{0,31}$`
fn is_role(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && s.len() <= 32
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// `^[a-z0-9][a-z0-9._-]{0,63}$`
fn is_handle(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && s.len() <= 64
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
}

/// `^[a-z]{2}-[a-z0-9-]{2,29}$`
fn is_city_code(s: &str) -> bool {
    // Slice patterns keep this free of indexing that could panic.
    match s.as_bytes() {
        [c0, c1, b'-', rest @ ..] => {
            c0.is_ascii_lowercase()
                && c1.is_ascii_lowercase()
                && (2..=29).contains(&rest.len())
                && rest
                    .iter()
                    .all(|&b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
        }
        _ => false,
    }
}

/// 22..=128 characters of `[A-Za-z0-9_-]`.
fn is_challenge(s: &str) -> bool {
    (22..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `SHA256:` + canonical unpadded base64 of 32 bytes (43 characters).
fn is_fingerprint(s: &str) -> bool {
    let Some(encoded) = s.strip_prefix("SHA256:") else {
        return false;
    };
    // The decoder refuses non-zero unused bits in the last character, so a
    // successful 32-byte decode means there is exactly one spelling.
    encoded.len() == 43
        && STANDARD_NO_PAD
            .decode(encoded)
            .is_ok_and(|digest| digest.len() == 32)
}

/// A lowercase DNS host name (labels of `[a-z0-9-]`, no leading or trailing
/// hyphen, at most 253 characters), optionally followed by `:port` with a
/// port in 1..=65535 written without leading zeros.
fn is_registry_origin(s: &str) -> bool {
    let (host, port) = match s.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
        });
    let port_ok = match port {
        None => true,
        Some(p) => {
            !p.starts_with('0')
                && (1..=5).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
        }
    };
    host_ok && port_ok
}

/// `YYYY-MM-DDTHH:MM:SSZ` naming a real instant: month and day valid for
/// the (proleptic Gregorian) year, hours 00-23, minutes and seconds 00-59.
/// Leap seconds (:60) are refused; years are limited to 1970..=9999.
fn is_utc_timestamp(s: &str) -> bool {
    // A fixed-shape slice pattern checks length and separators at once,
    // without indexing.
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        mo0,
        mo1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
        b'Z',
    ] = s.as_bytes()
    else {
        return false;
    };
    let num = |digits: &[u8]| -> Option<u32> {
        digits.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit()
                .then(|| acc.saturating_mul(10).saturating_add(u32::from(d - b'0')))
        })
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(&[*y0, *y1, *y2, *y3]),
        num(&[*mo0, *mo1]),
        num(&[*d0, *d1]),
        num(&[*h0, *h1]),
        num(&[*mi0, *mi1]),
        num(&[*s0, *s1]),
    ) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1970..=9999).contains(&year)
        && (1..=days_in_month).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE_KEY_LINE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";

    fn mou() -> MouSignatureStatement {
        MouSignatureStatement {
            action: "sign".into(),
            doc_sha256: Some(sha256_hex(b"test")),
            documents: None,
            mou_id: "0b7f3c1e-5a4d-4c2b-9e8f-1a2b3c4d5e6f".into(),
            mou_version: 1,
            prev: GENESIS_PREV.into(),
            registry: "registry.example.org".into(),
            role: "signatory".into(),
            seq: 1,
            signed_at: "2025-03-14T09:26:53Z".into(),
            signer: "mayor@fr-paris".into(),
            signer_city: "fr-paris".into(),
            signer_key: "SHA256:lbmsoA0yIEcEiVDRnMWuzm+nV+3ZEEpVIURqFoeSspg".into(),
            r#type: "registry.example.org/schemas/mou-signature/v1".into(),
        }
    }

    /// The one-pass parse and the step-by-step one agree on every input: the fuzz corpus,
    /// every one-byte edit of a v1 and a v2 statement, and spellings that only the checks
    /// of the step-by-step path would name.
    #[test]
    fn the_fast_path_accepts_what_the_checked_one_does() {
        let agree = |bytes: &[u8]| {
            let fast = MouSignatureStatement::parse_canonical_fast(bytes);
            let checked = MouSignatureStatement::parse_checked(bytes);
            assert_eq!(
                fast,
                checked.clone().ok(),
                "{:?}: {checked:?}",
                String::from_utf8_lossy(bytes)
            );
        };
        let corpus =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/statement");
        let mut read = 0;
        for file in std::fs::read_dir(&corpus).expect("the statement corpus") {
            agree(&std::fs::read(file.expect("a corpus entry").path()).expect("a corpus file"));
            read += 1;
        }
        assert!(read > 100, "{read} corpus files");

        let v1 = mou().to_bytes().unwrap();
        let mut two = mou();
        two.doc_sha256 = None;
        two.documents = Some(vec![
            format!("en:{}", sha256_hex(b"english")),
            format!("fr:{}", sha256_hex(b"french")),
        ]);
        two.r#type = "registry.example.org/schemas/mou-signature/v2".into();
        let v2 = two.to_bytes().unwrap();
        let mut accepted = 0;
        for valid in [&v1, &v2] {
            assert!(MouSignatureStatement::parse_canonical_fast(valid).is_some());
            for at in 0..=valid.len() {
                let mut edits: Vec<Vec<u8>> = Vec::new();
                for b in b" \"\\0189-.,:{}[]aAeEnu\n" {
                    let mut inserted = valid.clone();
                    inserted.insert(at, *b);
                    edits.push(inserted);
                    if at < valid.len() {
                        let mut replaced = valid.clone();
                        replaced[at] = *b;
                        edits.push(replaced);
                    }
                }
                if at < valid.len() {
                    let mut deleted = valid.clone();
                    deleted.remove(at);
                    edits.push(deleted);
                }
                for e in edits {
                    agree(&e);
                    accepted +=
                        usize::from(MouSignatureStatement::parse_canonical_fast(&e).is_some());
                }
            }
        }
        // Some edits keep a valid statement (another digit of a hash, say): both accept them.
        assert!(accepted > 0);

        let text = String::from_utf8(v1.clone()).unwrap();
        let both_forms = text.replace(
            "\"mou_id\"",
            &format!("\"documents\":[\"en:{}\"],\"mou_id\"", sha256_hex(b"x")),
        );
        let null_documents = text.replace("\"mou_id\"", "\"documents\":null,\"mou_id\"");
        let duplicate = text.replacen("{", "{\"action\":\"sign\",", 1);
        let float_seq = text.replace("\"seq\":1", "\"seq\":1.0");
        let escaped = text.replace("\"sign\"", "\"\\u0073ign\"");
        let no_form = text.replacen(
            &format!("\"doc_sha256\":\"{}\",", sha256_hex(b"test")),
            "",
            1,
        );
        for odd in [
            both_forms,
            null_documents,
            duplicate,
            float_seq,
            escaped,
            no_form,
        ] {
            assert_ne!(odd.as_bytes(), v1.as_slice());
            agree(odd.as_bytes());
            assert!(
                MouSignatureStatement::parse_strict(odd.as_bytes()).is_err(),
                "{odd}"
            );
        }
    }

    fn key_event() -> KeyRegistrationStatement {
        KeyRegistrationStatement {
            action: "register".into(),
            challenge: "q1w2e3r4t5y6u7i8o9p0AsDfGh".into(),
            city: "fr-paris".into(),
            public_key: SAMPLE_KEY_LINE.into(),
            registry: "registry.example.org".into(),
            role: "signatory".into(),
            signer: "mayor@fr-paris".into(),
            r#type: "registry.example.org/schemas/key-event/v1".into(),
        }
    }

    fn decline() -> MouDeclineStatement {
        MouDeclineStatement {
            action: "decline".into(),
            declined_at: "2025-03-15T10:00:00Z".into(),
            doc_sha256: Some(sha256_hex(b"test")),
            documents: None,
            mou_id: "0b7f3c1e-5a4d-4c2b-9e8f-1a2b3c4d5e6f".into(),
            mou_version: 1,
            reason: "The council has not approved the text yet".into(),
            registry: "registry.example.org".into(),
            request_id: "5d0c2f4e-8a1b-4c3d-9e7f-0a1b2c3d4e5f".into(),
            role: "signatory".into(),
            signer: "mayor@fr-paris".into(),
            signer_city: "fr-paris".into(),
            signer_key: "SHA256:lbmsoA0yIEcEiVDRnMWuzm+nV+3ZEEpVIURqFoeSspg".into(),
            r#type: "registry.example.org/schemas/mou-decline/v1".into(),
        }
    }

    #[test]
    fn decline_statements_round_trip_and_refuse_other_spellings() {
        let code = |bytes: &[u8]| match MouDeclineStatement::parse_strict(bytes) {
            Ok(_) => panic!("accepted {}", String::from_utf8_lossy(bytes)),
            Err(e) => e.code(),
        };
        let bytes = decline().to_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(r#"{"action":"decline","declined_at":"2025-03-15T10:00:00Z","#));
        assert_eq!(
            MouDeclineStatement::parse_strict(&bytes).unwrap(),
            decline()
        );
        // A reason may hold quotes, backslashes and any non-control character: serde_json's
        // compact form escapes exactly what RFC 8785 escapes.
        let mut free = decline();
        free.reason = r#"Le conseil n'a pas "approuvé" \ 市议会"#.into();
        let bytes = free.to_bytes().unwrap();
        assert_eq!(
            bytes,
            crate::jcs::canonical_json(&serde_json::to_value(&free).unwrap()).unwrap()
        );
        assert_eq!(MouDeclineStatement::parse_strict(&bytes).unwrap(), free);
        // Not canonical.
        assert_eq!(
            code(text.replacen(":", ": ", 1).as_bytes()),
            "statement_not_canonical"
        );
        assert_eq!(
            code(
                text.replacen("\"decline\"", "\"\\u0064ecline\"", 1)
                    .as_bytes()
            ),
            "statement_not_canonical"
        );
        assert_eq!(
            code(format!("{text}\n").as_bytes()),
            "statement_not_canonical"
        );
        assert_eq!(
            code(
                text.replacen("\"mou_version\":1", "\"mou_version\":1.0", 1)
                    .as_bytes()
            ),
            "wrong_type"
        );
        // Unknown, missing and reordered keys.
        assert_eq!(
            code(text.replacen("{", "{\"a\":\"x\",", 1).as_bytes()),
            "unknown_key"
        );
        assert_eq!(
            code(text.replacen("\"reason\"", "\"why\"", 1).as_bytes()),
            "unknown_key"
        );
        assert_eq!(
            code(text.replacen("\"action\":\"decline\",", "", 1).as_bytes()),
            "missing_key"
        );
        // Reasons: control characters, surrounding white space, empty, too long.
        for reason in [
            "Not approved\nyet".to_string(),
            "Not\tapproved".to_string(),
            "Not approved\u{7f}".to_string(),
            " Not approved".to_string(),
            "Not approved ".to_string(),
            "Not approved\u{a0}".to_string(),
            String::new(),
            "x".repeat(MAX_DECLINE_REASON_CHARS + 1),
        ] {
            assert!(!is_decline_reason(&reason), "{reason:?}");
            let mut s = decline();
            s.reason = reason.clone();
            assert_eq!(
                s.to_bytes().unwrap_err().code(),
                "invalid_field",
                "{reason:?}"
            );
            assert_eq!(code(&serde_json::to_vec(&s).unwrap()), "invalid_field");
        }
        assert!(is_decline_reason(&"é".repeat(MAX_DECLINE_REASON_CHARS)));
        // Other fields.
        type Edit = fn(&mut MouDeclineStatement);
        let cases: &[Edit] = &[
            |s| s.action = "sign".into(),
            |s| s.declined_at = "2025-03-15T10:00:00.5Z".into(),
            |s| s.request_id = s.request_id.to_uppercase(),
            |s| s.mou_version = 0,
            |s| s.r#type = MouSignatureStatement::type_for(&s.registry),
        ];
        for edit in cases {
            let mut s = decline();
            edit(&mut s);
            assert_eq!(s.to_bytes().unwrap_err().code(), "invalid_field", "{s:?}");
        }
        let mut s = decline();
        s.signer = "mayor@de-berlin".into();
        assert_eq!(s.to_bytes().unwrap_err().code(), "signer_city_mismatch");
    }

    #[test]
    fn a_decline_signature_is_not_a_mou_signature() {
        use super::super::sshsig;
        use ed25519_dalek::SigningKey;

        let signing = SigningKey::from_bytes(&[42u8; 32]);
        let public = PublicKey::from_signing_key(&signing);
        let mut statement = decline();
        statement.signer_key = public.fingerprint();
        let bytes = statement.to_bytes().unwrap();
        let ns = mou_decline_namespace(&statement.registry);
        assert_eq!(ns, "amity-mou-decline-v1@registry.example.org");
        let sig = sshsig::parse_armored(&sshsig::sign(&signing, &ns, &bytes).unwrap()).unwrap();
        sshsig::verify(&sig, &ns, &bytes, Some(&public)).unwrap();
        assert_eq!(
            sshsig::verify(
                &sig,
                &mou_signature_namespace(&statement.registry),
                &bytes,
                Some(&public)
            )
            .unwrap_err()
            .code(),
            "wrong_namespace"
        );
    }

    fn mou_code(bytes: &[u8]) -> &'static str {
        match MouSignatureStatement::parse_strict(bytes) {
            Ok(_) => panic!("accepted {}", String::from_utf8_lossy(bytes)),
            Err(e) => e.code(),
        }
    }

    fn mou_text() -> String {
        String::from_utf8(mou().to_bytes().unwrap()).unwrap()
    }

    /// Rebuilds the MOU JSON from (key, raw value) pairs, no whitespace.
    fn build(pairs: &[(&str, &str)]) -> String {
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    }

    fn mou_pairs() -> Vec<(String, String)> {
        let value: Map<String, Value> = serde_json::from_str(&mou_text()).unwrap();
        MOU_FIELDS
            .iter()
            .map(|k| (k.to_string(), value[*k].to_string()))
            .collect()
    }

    fn build_owned(pairs: &[(String, String)]) -> String {
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        build(&borrowed)
    }

    #[test]
    fn field_lists_are_sorted_and_match_serde_order() {
        let mut sorted = MOU_FIELDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, MOU_FIELDS);
        let mut sorted = KEY_EVENT_FIELDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, KEY_EVENT_FIELDS);
        // serde's output order (declaration order) matches the list.
        let keys: Vec<String> = serde_json::from_slice::<TopLevelKeys>(&mou().to_bytes().unwrap())
            .unwrap()
            .keys;
        assert_eq!(keys, MOU_FIELDS);
        let keys = serde_json::from_slice::<TopLevelKeys>(&key_event().to_bytes().unwrap())
            .unwrap()
            .keys;
        assert_eq!(keys, KEY_EVENT_FIELDS);
        let mut sorted = DECLINE_FIELDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, DECLINE_FIELDS);
        let keys = serde_json::from_slice::<TopLevelKeys>(&decline().to_bytes().unwrap())
            .unwrap()
            .keys;
        assert_eq!(keys, DECLINE_FIELDS);
    }

    #[test]
    fn canonical_bytes_are_exact() {
        let expected = r#"{"action":"sign","doc_sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","mou_id":"0b7f3c1e-5a4d-4c2b-9e8f-1a2b3c4d5e6f","mou_version":1,"prev":"0000000000000000000000000000000000000000000000000000000000000000","registry":"registry.example.org","role":"signatory","seq":1,"signed_at":"2025-03-14T09:26:53Z","signer":"mayor@fr-paris","signer_city":"fr-paris","signer_key":"SHA256:lbmsoA0yIEcEiVDRnMWuzm+nV+3ZEEpVIURqFoeSspg","type":"registry.example.org/schemas/mou-signature/v1"}"#;
        assert_eq!(mou_text(), expected);
        assert_eq!(
            MouSignatureStatement::parse_strict(expected.as_bytes()).unwrap(),
            mou()
        );
        let ke = key_event();
        let bytes = ke.to_bytes().unwrap();
        assert_eq!(KeyRegistrationStatement::parse_strict(&bytes).unwrap(), ke);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn refuses_whitespace_and_respellings() {
        let text = mou_text();
        assert_eq!(
            mou_code(text.replacen(":", ": ", 1).as_bytes()),
            "statement_not_canonical"
        );
        assert_eq!(
            mou_code(format!(" {text}").as_bytes()),
            "statement_not_canonical"
        );
        assert_eq!(
            mou_code(format!("{text}\n").as_bytes()),
            "statement_not_canonical"
        );
        assert_eq!(
            mou_code(text.replacen("{", "{\n  ", 1).as_bytes()),
            "statement_not_canonical"
        );
        // Same value, escaped spelling.
        assert_eq!(
            mou_code(text.replacen("\"sign\"", "\"\\u0073ign\"", 1).as_bytes()),
            "statement_not_canonical"
        );
        // Float spelling of an integer is a type error.
        assert_eq!(
            mou_code(text.replacen("\"seq\":1", "\"seq\":1.0", 1).as_bytes()),
            "wrong_type"
        );
        assert_eq!(
            mou_code(text.replacen("\"seq\":1", "\"seq\":1e0", 1).as_bytes()),
            "wrong_type"
        );
    }

    #[test]
    fn refuses_key_set_problems() {
        let pairs = mou_pairs();

        let mut reordered = pairs.clone();
        reordered.swap(0, 1);
        assert_eq!(
            mou_code(build_owned(&reordered).as_bytes()),
            "keys_out_of_order"
        );

        let mut unknown = pairs.clone();
        unknown.push(("zzz".into(), "\"x\"".into()));
        assert_eq!(mou_code(build_owned(&unknown).as_bytes()), "unknown_key");

        let mut missing = pairs.clone();
        missing.remove(3);
        assert_eq!(mou_code(build_owned(&missing).as_bytes()), "missing_key");

        // Duplicate: serde_json::Value would silently keep the last one.
        let mut dup = pairs.clone();
        dup.insert(1, ("action".into(), "\"sign\"".into()));
        let dup_text = build_owned(&dup);
        assert_eq!(mou_code(dup_text.as_bytes()), "duplicate_key");
        // Even a duplicate placed so the rest looks in order.
        let mut dup_last = pairs.clone();
        dup_last.push(("type".into(), pairs[12].1.clone()));
        assert_eq!(mou_code(build_owned(&dup_last).as_bytes()), "duplicate_key");

        assert_eq!(mou_code(b"[1,2]"), "not_an_object");
        assert_eq!(mou_code(b"\"x\""), "not_an_object");
        assert_eq!(mou_code(b"{\"action\":"), "invalid_json");
        assert_eq!(mou_code(b"{} {}"), "invalid_json");
        assert_eq!(mou_code(b"{\"a\":\"\xff\"}"), "invalid_utf8");
        assert_eq!(
            mou_code(&vec![b' '; MAX_STATEMENT_LEN + 1]),
            "statement_too_large"
        );
    }

    #[test]
    fn refuses_wrong_types() {
        let pairs = mou_pairs();
        let mut p = pairs.clone();
        p[3].1 = "\"1\"".into(); // mou_version as string
        assert_eq!(mou_code(build_owned(&p).as_bytes()), "wrong_type");
        let mut p = pairs.clone();
        p[7].1 = "-1".into(); // seq negative
        assert_eq!(mou_code(build_owned(&p).as_bytes()), "wrong_type");
        let mut p = pairs.clone();
        p[0].1 = "1".into(); // action as number
        assert_eq!(mou_code(build_owned(&p).as_bytes()), "wrong_type");
        let mut p = pairs.clone();
        p[0].1 = "null".into();
        assert_eq!(mou_code(build_owned(&p).as_bytes()), "wrong_type");
        let mut p = pairs.clone();
        p[7].1 = "18446744073709551616".into(); // > u64::MAX
        assert_eq!(mou_code(build_owned(&p).as_bytes()), "wrong_type");
        let mut p = pairs.clone();
        p[7].1 = "9007199254740992".into(); // 2^53: u64 but unsafe in JSON
        assert_eq!(mou_code(build_owned(&p).as_bytes()), "invalid_field");
    }

    #[test]
    fn field_validation() {
        type Edit = fn(&mut MouSignatureStatement);
        let cases: &[(Edit, &str)] = &[
            (|s| s.action = "Sign".into(), "invalid_field"),
            (
                |s| s.doc_sha256 = s.doc_sha256.as_ref().map(|d| d.to_uppercase()),
                "invalid_field",
            ),
            (|s| s.doc_sha256 = Some("ab".repeat(31)), "invalid_field"),
            (|s| s.mou_id = s.mou_id.to_uppercase(), "invalid_field"),
            (|s| s.mou_id = s.mou_id.replace('-', ""), "invalid_field"),
            (|s| s.mou_version = 0, "invalid_field"),
            (|s| s.seq = 0, "invalid_field"),
            (|s| s.prev = "0".repeat(63), "invalid_field"),
            (
                |s| s.registry = "Registry.example.org".into(),
                "invalid_field",
            ),
            (
                |s| s.registry = "https://registry.example.org".into(),
                "invalid_field",
            ),
            (
                |s| s.registry = "registry.example.org:0".into(),
                "invalid_field",
            ),
            (|s| s.registry = "registry..org".into(), "invalid_field"),
            (|s| s.role = "Signatory".into(), "invalid_field"),
            (|s| s.role = "a".repeat(33), "invalid_field"),
            (|s| s.role = "1st".into(), "invalid_field"),
            (
                |s| s.signed_at = "2025-02-29T00:00:00Z".into(),
                "invalid_field",
            ),
            (
                |s| s.signed_at = "2025-13-01T00:00:00Z".into(),
                "invalid_field",
            ),
            (
                |s| s.signed_at = "2025-03-14T24:00:00Z".into(),
                "invalid_field",
            ),
            (
                |s| s.signed_at = "2025-03-14T23:59:60Z".into(),
                "invalid_field",
            ),
            (
                |s| s.signed_at = "2025-03-14T09:26:53+00:00".into(),
                "invalid_field",
            ),
            (
                |s| s.signed_at = "2025-03-14 09:26:53Z".into(),
                "invalid_field",
            ),
            (
                |s| s.signed_at = "2025-03-14T09:26:53.1Z".into(),
                "invalid_field",
            ),
            (
                |s| s.signed_at = "+025-03-14T09:26:53Z".into(),
                "invalid_field",
            ),
            (|s| s.signer = "Mayor@fr-paris".into(), "invalid_field"),
            (|s| s.signer = "mayor".into(), "invalid_field"),
            (|s| s.signer = "mayor@fr".into(), "invalid_field"),
            (|s| s.signer = "a@b@fr-paris".into(), "invalid_field"),
            (|s| s.signer = ".mayor@fr-paris".into(), "invalid_field"),
            (
                |s| s.signer = "mayor@de-berlin".into(),
                "signer_city_mismatch",
            ),
            (|s| s.signer_city = "fr_paris".into(), "invalid_field"),
            (|s| s.signer_key = "SHA256:abc".into(), "invalid_field"),
            (
                |s| s.signer_key = s.signer_key.replace("SHA256", "MD5"),
                "invalid_field",
            ),
            // Last char 'g' has non-zero unused bits: another spelling.
            (
                |s| s.signer_key = s.signer_key.replace("Sspg", "Ssph"),
                "invalid_field",
            ),
            (
                |s| s.r#type = "other.example.org/schemas/mou-signature/v1".into(),
                "invalid_field",
            ),
            (
                |s| s.r#type = "registry.example.org/schemas/mou-signature/v2".into(),
                "invalid_field",
            ),
        ];
        for (edit, code) in cases {
            let mut s = mou();
            edit(&mut s);
            let err = s.to_bytes().unwrap_err();
            assert_eq!(err.code(), *code, "{s:?}: {err}");
            // parse_strict reaches the same verdict on the serialised form.
            let raw = serde_json::to_vec(&s).unwrap();
            assert_eq!(mou_code(&raw), *code);
        }
        // Accepted edge cases.
        let mut s = mou();
        s.signed_at = "2024-02-29T23:59:59Z".into();
        s.registry = "localhost:8443".into();
        s.r#type = MouSignatureStatement::type_for("localhost:8443");
        s.role = "witness".into();
        s.signer = "0.a_b-c@us-new-york-2".into();
        s.signer_city = "us-new-york-2".into();
        s.mou_version = MAX_SAFE_INTEGER;
        let bytes = s.to_bytes().unwrap();
        assert_eq!(MouSignatureStatement::parse_strict(&bytes).unwrap(), s);
    }

    #[test]
    fn key_event_validation() {
        type Edit = fn(&mut KeyRegistrationStatement);
        let cases: &[(Edit, &str)] = &[
            (|s| s.action = "sign".into(), "invalid_field"),
            (|s| s.challenge = "short".into(), "invalid_field"),
            (
                |s| s.challenge = format!("{}=", s.challenge),
                "invalid_field",
            ),
            (|s| s.city = "de-berlin".into(), "signer_city_mismatch"),
            (
                |s| s.public_key = format!("{} mayor", s.public_key),
                "invalid_field",
            ),
            (
                |s| s.public_key = format!("{}\n", s.public_key),
                "invalid_field",
            ),
            (
                |s| s.public_key = s.public_key.replace("ssh-ed25519", "ssh-rsa"),
                "unsupported_key_type",
            ),
            (
                |s| {
                    s.public_key =
                        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()
                },
                "weak_key",
            ),
            (
                |s| s.r#type = MouSignatureStatement::type_for(&s.registry),
                "invalid_field",
            ),
        ];
        for (edit, code) in cases {
            let mut s = key_event();
            edit(&mut s);
            let err = s.to_bytes().unwrap_err();
            assert_eq!(err.code(), *code, "{s:?}: {err}");
        }
        let parsed = key_event().parsed_public_key().unwrap();
        assert_eq!(parsed.to_openssh_line(), SAMPLE_KEY_LINE);
    }

    #[test]
    fn key_event_strict_parse_refusals() {
        let text = String::from_utf8(key_event().to_bytes().unwrap()).unwrap();
        let code = |t: &str| {
            KeyRegistrationStatement::parse_strict(t.as_bytes())
                .unwrap_err()
                .code()
        };
        assert_eq!(
            code(&text.replacen(',', ", ", 1)),
            "statement_not_canonical"
        );
        assert_eq!(
            code(&text.replacen(
                "\"action\":\"register\",",
                "\"action\":\"register\",\"action\":\"register\",",
                1
            )),
            "duplicate_key"
        );
        assert_eq!(
            code(&text.replacen("\"challenge\"", "\"nonce\"", 1)),
            "unknown_key"
        );
        // Moving "type" to the front.
        let value: Map<String, Value> = serde_json::from_str(&text).unwrap();
        let mut pairs: Vec<(String, String)> = KEY_EVENT_FIELDS
            .iter()
            .map(|k| (k.to_string(), value[*k].to_string()))
            .collect();
        let last = pairs.pop().unwrap();
        pairs.insert(0, last);
        assert_eq!(code(&build_owned(&pairs)), "keys_out_of_order");
    }

    #[test]
    fn signed_statement_edited_after_signing_fails() {
        use super::super::sshsig;
        use ed25519_dalek::SigningKey;

        let signing = SigningKey::from_bytes(&[42u8; 32]);
        let public = PublicKey::from_signing_key(&signing);
        let mut statement = mou();
        statement.signer_key = public.fingerprint();
        let bytes = statement.to_bytes().unwrap();
        let ns = mou_signature_namespace(&statement.registry);
        let armored = sshsig::sign(&signing, &ns, &bytes).unwrap();

        let sig = sshsig::parse_armored(&armored).unwrap();
        sshsig::verify(&sig, &ns, &bytes, Some(&public)).unwrap();
        let parsed = MouSignatureStatement::parse_strict(&bytes).unwrap();
        assert!(parsed.signer_key_matches(sig.public_key()));

        // Edit a field after signing: still a valid statement, but the
        // signature no longer covers it.
        let mut edited = parsed.clone();
        edited.mou_version = 2;
        let edited_bytes = edited.to_bytes().unwrap();
        assert_eq!(
            sshsig::verify(&sig, &ns, &edited_bytes, Some(&public))
                .unwrap_err()
                .code(),
            "signature_invalid"
        );
        // A signature over a key-event namespace is not a MOU signature.
        assert_eq!(
            sshsig::verify(
                &sig,
                &key_event_namespace(&statement.registry),
                &bytes,
                None
            )
            .unwrap_err()
            .code(),
            "wrong_namespace"
        );
    }

    /// A bilingual version: form v2 names each document by language and hash.
    fn bilingual() -> MouSignatureStatement {
        MouSignatureStatement {
            doc_sha256: None,
            documents: Some(vec![
                document_ref("fr", &sha256_hex(b"texte")),
                document_ref("zh-Hans", &sha256_hex(b"text")),
            ]),
            r#type: "registry.example.org/schemas/mou-signature/v2".into(),
            ..mou()
        }
    }

    #[test]
    fn form_v2_round_trips_and_commits_to_every_document() {
        let st = bilingual();
        let bytes = st.to_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"action":"sign","documents":["fr:"#),
            "{text}"
        );
        assert_eq!(MouSignatureStatement::parse_strict(&bytes).unwrap(), st);
        let fr = sha256_hex(b"texte");
        let zh = sha256_hex(b"text");
        assert_eq!(
            st.committed_documents(),
            version_commitment([(Some("fr"), fr.as_str()), (Some("zh-Hans"), zh.as_str())])
        );
        // A version of one document is named by its hash alone, whatever its language.
        assert_eq!(
            version_commitment([(Some("fr"), fr.as_str())]),
            vec![fr.clone()]
        );
        assert_eq!(mou().committed_documents(), vec![sha256_hex(b"test")]);
    }

    #[test]
    fn form_v2_refusals() {
        type Edit = fn(&mut MouSignatureStatement);
        let cases: &[(Edit, &str)] = &[
            // One document is form v1's business.
            (
                |s| {
                    s.documents.as_mut().unwrap().pop();
                },
                "invalid_field",
            ),
            (
                |s| s.documents.as_mut().unwrap()[1] = document_ref("FR", &"ab".repeat(32)),
                "invalid_field",
            ),
            (
                |s| s.documents.as_mut().unwrap()[1] = document_ref("en_GB", &"ab".repeat(32)),
                "invalid_field",
            ),
            (
                |s| s.documents.as_mut().unwrap()[1] = "ab".repeat(32),
                "invalid_field",
            ),
            (
                |s| s.documents.as_mut().unwrap()[1] = document_ref("en", &"AB".repeat(32)),
                "invalid_field",
            ),
            (
                |s| *s.documents.as_mut().unwrap() = vec![document_ref("en", &"ab".repeat(32)); 9],
                "invalid_field",
            ),
            // Form v1's type with form v2's field, and the other way round.
            (
                |s| s.r#type = MouSignatureStatement::type_for(&s.registry),
                "invalid_field",
            ),
        ];
        for (edit, code) in cases {
            let mut st = bilingual();
            edit(&mut st);
            let text = serde_json::to_string(&st).unwrap();
            assert_eq!(mou_code(text.as_bytes()), *code, "{text}");
        }
        let mut v1_typed_v2 = mou();
        v1_typed_v2.r#type = MouSignatureStatement::type_v2_for(&v1_typed_v2.registry);
        let text = serde_json::to_string(&v1_typed_v2).unwrap();
        assert_eq!(mou_code(text.as_bytes()), "invalid_field");

        // Both fields at once: no form has both keys.
        let both = bilingual().to_bytes().unwrap();
        let text = String::from_utf8(both).unwrap().replacen(
            r#""documents""#,
            &format!(r#""doc_sha256":"{}","documents""#, "ab".repeat(32)),
            1,
        );
        assert_eq!(mou_code(text.as_bytes()), "unknown_key");
        // A list where a string belongs, and a string where the list belongs.
        let text = mou_text().replacen(r#""doc_sha256":""#, r#""doc_sha256":[""#, 1);
        let text = text.replacen(r#"","mou_id""#, r#""],"mou_id""#, 1);
        assert_eq!(mou_code(text.as_bytes()), "wrong_type");
        let text = String::from_utf8(bilingual().to_bytes().unwrap())
            .unwrap()
            .replacen(r#""documents":["#, r#""documents":[1,"#, 1);
        assert_eq!(mou_code(text.as_bytes()), "wrong_type");
        // Same language twice, spelled in two cases.
        let mut twice = bilingual();
        twice.documents = Some(vec![
            document_ref("fr", &"ab".repeat(32)),
            document_ref("FR", &"cd".repeat(32)),
        ]);
        assert_eq!(
            mou_code(serde_json::to_string(&twice).unwrap().as_bytes()),
            "invalid_field"
        );
    }

    #[test]
    fn language_tags() {
        for good in ["en", "zh-Hans", "pt-BR", "sr-Latn-RS", "de-CH-1996", "yue"] {
            assert!(is_language_tag(good), "{good}");
        }
        for bad in [
            "",
            "e",
            "en-",
            "-en",
            "en_GB",
            "1en",
            "en--GB",
            "abcdefghi",
            "en-abcdefghi",
            "fr:",
        ] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }

    #[test]
    fn decline_form_v2() {
        let mut st = decline();
        st.doc_sha256 = None;
        st.documents = Some(vec![
            document_ref("en", &"ab".repeat(32)),
            document_ref("zh", &"cd".repeat(32)),
        ]);
        assert!(st.to_bytes().is_err(), "the v1 type with form v2's field");
        st.r#type = MouDeclineStatement::type_v2_for(&st.registry);
        let bytes = st.to_bytes().unwrap();
        assert_eq!(MouDeclineStatement::parse_strict(&bytes).unwrap(), st);
        assert_eq!(st.committed_documents().len(), 2);
    }
}
