//! Every stable problem `code` the service answers with, and the HTTP status it goes out with.
//!
//! The snake_case strings are the wire format: clients branch on them, so a variant's `as_str`
//! never changes. The domain layer knows nothing about HTTP libraries, so the status is a plain
//! `u16`; `crate::error::ApiError` turns it into a response.
//!
//! Two strings go out with two statuses each, and have one variant per status so the status
//! still follows from the variant: `invalid_body` (400 [`ErrorCode::UnreadableBody`], 422
//! [`ErrorCode::InvalidBody`]) and `office_required` (403 [`ErrorCode::OfficeRequired`], 422
//! [`ErrorCode::OfficeIdRequired`]). [`ErrorCode::SHARED_STRINGS`] lists them, and the test
//! below allows no other repeat. `bad_request` and `internal_error` are also what
//! `api::fallback` answers for framework refusals of any other 4xx or 5xx status; there the
//! framework's status is kept (`ApiError::with_status`).

use amity_verify::jcs::CanonicalError;
use amity_verify::keys::KeyError;
use amity_verify::sshsig::SshsigError;
use amity_verify::statement::StatementError;

/// Declares `ErrorCode` from one table: variant, wire string, HTTP status and a line on when.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = ($text:literal, $status:literal),)+) => {
        /// A stable problem code (the `code` member of every problem document).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the order of the table in `docs/errors.md`.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code as clients see it.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text),+ }
            }

            /// The HTTP status the code is answered with.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status),+ }
            }

            /// When the code is returned (the variant's doc line).
            pub fn description(self) -> &'static str {
                match self { $(ErrorCode::$variant => concat!($($doc),+).trim_ascii()),+ }
            }
        }
    };
}

error_codes! {
    // 400: the request does not parse.
    /// The body is not JSON.
    MalformedJson = ("malformed_json", 400),
    /// The body could not be read (a broken or truncated upload).
    UnreadableBody = ("invalid_body", 400),
    /// A streamed document upload broke off before its end.
    BodyReadFailed = ("body_read_failed", 400),
    /// A multipart upload is not well-formed multipart.
    InvalidMultipart = ("invalid_multipart", 400),
    /// A path segment does not parse as the parameter it stands for.
    InvalidPath = ("invalid_path", 400),
    /// The query string does not parse.
    InvalidQuery = ("invalid_query", 400),
    /// `limit` is outside 1..=500.
    InvalidLimit = ("invalid_limit", 400),
    /// `cursor` is not one this server issued.
    InvalidCursor = ("invalid_cursor", 400),
    /// A briefing's `format` is not md, html, csv or pdf.
    InvalidFormat = ("invalid_format", 400),
    /// The `Amity-Min-Log-Index` header is not a whole number from 0.
    InvalidMinLogIndex = ("invalid_min_log_index", 400),
    /// Any other request the framework refuses before a handler runs; then the framework's own 4xx status goes out.
    BadRequest = ("bad_request", 400),

    // 401: no valid credentials.
    /// The operation needs a bearer token and none was sent.
    AuthenticationRequired = ("authentication_required", 401),
    /// The Authorization header is not `Bearer <token>`.
    InvalidAuthorizationHeader = ("invalid_authorization_header", 401),
    /// The token is not known to the registry.
    InvalidToken = ("invalid_token", 401),
    /// The token has expired.
    TokenExpired = ("token_expired", 401),
    /// The token has been revoked.
    TokenRevoked = ("token_revoked", 401),

    // 403: valid credentials without the right.
    /// Only a registry administrator may do this.
    AdminRequired = ("admin_required", 403),
    /// A city group is saved by neither an admin nor the association that keeps it.
    NotGroupKeeper = ("not_group_keeper", 403),
    /// Only a city office (not an auditor, or an admin where a party office must act) may do this.
    OfficeRequired = ("office_required", 403),
    /// Only the office of the city concerned (or an admin) may do this.
    NotYourCity = ("not_your_city", 403),
    /// The caller's city is not a party to the MOU's partnership.
    NotAParty = ("not_a_party", 403),
    /// The signer belongs to another city than the submitting office.
    SignerNotOfYourCity = ("signer_not_of_your_city", 403),
    /// A web form's CSRF field does not match its cookie.
    CsrfMismatch = ("csrf_mismatch", 403),
    /// A statement or key sent through a signing link is for another signer or request than the link's.
    SigningLinkMismatch = ("signing_link_mismatch", 403),

    // 404: nothing there.
    /// No route at this path.
    NotFound = ("not_found", 404),
    /// No city with this code.
    CityNotFound = ("city_not_found", 404),
    /// No partnership with this id.
    PartnershipNotFound = ("partnership_not_found", 404),
    /// No MOU with this id.
    MouNotFound = ("mou_not_found", 404),
    /// The MOU has no version with this number.
    VersionNotFound = ("version_not_found", 404),
    /// No key with this id.
    KeyNotFound = ("key_not_found", 404),
    /// No token with this id.
    TokenNotFound = ("token_not_found", 404),
    /// No such activity on this partnership.
    ActivityNotFound = ("activity_not_found", 404),
    /// No such commitment on this partnership.
    CommitmentNotFound = ("commitment_not_found", 404),
    /// No city group with this id.
    CityGroupNotFound = ("city_group_not_found", 404),
    /// The activity has no evidence with this number.
    EvidenceNotFound = ("evidence_not_found", 404),
    /// The log has no entry at this index.
    EntryNotFound = ("entry_not_found", 404),
    /// The MOU has no signature request with this id.
    RequestNotFound = ("request_not_found", 404),
    /// No webhook endpoint with this id.
    WebhookNotFound = ("webhook_not_found", 404),
    /// The endpoint has no message with this id.
    MessageNotFound = ("message_not_found", 404),
    /// The signing link is not one this registry issued: mistyped, cut short or altered.
    SigningLinkNotFound = ("signing_link_not_found", 404),

    // 410: a signing link that worked once and no longer does.
    /// The signing link already carried its request's signature or decline.
    SigningLinkUsed = ("signing_link_used", 410),
    /// The signing link's request reached its deadline.
    SigningLinkExpired = ("signing_link_expired", 410),
    /// The signing link's request is no longer open: signed another way, declined, cancelled or expired.
    SigningLinkClosed = ("signing_link_closed", 410),

    // 405, 408, 413, 415: framework-level refusals.
    /// The path exists, but not under this method (see Allow).
    MethodNotAllowed = ("method_not_allowed", 405),
    /// The request body did not arrive in time.
    BodyTimeout = ("body_timeout", 408),
    /// The body is larger than the operation takes.
    PayloadTooLarge = ("payload_too_large", 413),
    /// An uploaded document is larger than AMITY_MAX_DOCUMENT_BYTES.
    DocumentTooLarge = ("document_too_large", 413),
    /// The body is not of a type the operation takes.
    UnsupportedMediaType = ("unsupported_media_type", 415),

    // 409: conflicts with the current state.
    /// A city with this code already exists.
    CityExists = ("city_exists", 409),
    /// The two cities already have a partnership of this kind that is not cut off.
    DuplicatePartnership = ("duplicate_partnership", 409),
    /// The partnership's status cannot change this way (the problem lists the allowed moves).
    InvalidTransition = ("invalid_transition", 409),
    /// The proposing city tried to confirm; the partner city must.
    AwaitingPartner = ("awaiting_partner", 409),
    /// The partnership is cut off; an MOU needs a living partnership.
    PartnershipCutOff = ("partnership_cut_off", 409),
    /// The MOU is withdrawn and can no longer change.
    MouWithdrawn = ("mou_withdrawn", 409),
    /// The MOU has no version to sign yet.
    MouDraft = ("mou_draft", 409),
    /// A version with these exact bytes already exists.
    IdenticalVersion = ("identical_version", 409),
    /// The signed version is superseded by a newer one.
    SupersededVersion = ("superseded_version", 409),
    /// The signer already signed the current version.
    AlreadySigned = ("already_signed", 409),
    /// The commitment was already marked kept, partly kept or not kept.
    CommitmentAlreadyResolved = ("commitment_already_resolved", 409),
    /// Another city group has this name (compared without regard to case).
    CityGroupNameTaken = ("city_group_name_taken", 409),
    /// This exact statement is already in the MOU's signature chain.
    DuplicateSignature = ("duplicate_signature", 409),
    /// Another signature took this chain position; fetch the statement again.
    StaleChainHead = ("stale_chain_head", 409),
    /// No active registered key matches the signer.
    NoActiveKey = ("no_active_key", 409),
    /// The key was not active at the time of signing.
    KeyNotActive = ("key_not_active", 409),
    /// The key is not pending approval.
    KeyNotPending = ("key_not_pending", 409),
    /// The key is already retired.
    KeyRetired = ("key_retired", 409),
    /// The key is already revoked.
    KeyRevoked = ("key_revoked", 409),
    /// The key is already registered; a key belongs to one signer only.
    KeyAlreadyRegistered = ("key_already_registered", 409),
    /// The token is already revoked.
    TokenAlreadyRevoked = ("token_already_revoked", 409),
    /// The activity already has evidence with these exact bytes.
    DuplicateEvidence = ("duplicate_evidence", 409),
    /// The activity already has the most evidence documents it may keep.
    TooMuchEvidence = ("too_much_evidence", 409),
    /// A witnessed checkpoint was asked of a registry that has no witness policy.
    NoWitnessPolicy = ("no_witness_policy", 409),
    /// A requested signatory declined the current round; a new version or a new round of requests reopens the MOU.
    MouDeclined = ("mou_declined", 409),
    /// The current round of requests expired unanswered; a new version or a new round of requests reopens the MOU.
    MouExpired = ("mou_expired", 409),
    /// A round of signature requests is open and this signer has no pending request in it.
    SignerNotRequested = ("signer_not_requested", 409),
    /// An earlier sequence group of the round has not signed yet (the problem names it).
    SigningOutOfOrder = ("signing_out_of_order", 409),
    /// The signature request was already signed, declined, expired or cancelled.
    RequestNotPending = ("request_not_pending", 409),
    /// The round's deadline has passed; its pending requests expire.
    DeadlinePassed = ("deadline_passed", 409),
    /// The MOU has no pending signature request to cancel.
    NoPendingRequests = ("no_pending_requests", 409),

    // 422: well-formed input that breaks a rule.
    /// The JSON body does not have the operation's shape (wrong type, missing member).
    InvalidBody = ("invalid_body", 422),
    /// The JSON body has a member the operation does not know.
    UnknownField = ("unknown_field", 422),
    /// A text field is longer than its limit.
    FieldTooLong = ("field_too_long", 422),
    /// A text field contains control characters (or is empty where text is required).
    InvalidCharacters = ("invalid_characters", 422),
    /// A date does not parse or lies where it may not.
    InvalidDate = ("invalid_date", 422),
    /// A city code is not a lower-case ISO country, a dash and 2-29 letters or digits.
    InvalidCityCode = ("invalid_city_code", 422),
    /// A city code does not start with the city's country.
    CityCodeCountryMismatch = ("city_code_country_mismatch", 422),
    /// A country is not an ISO 3166-1 alpha-2 code.
    UnknownCountry = ("unknown_country", 422),
    /// A region is not an ISO 3166-2 subdivision of the country.
    InvalidRegion = ("invalid_region", 422),
    /// A world region is not one of the UN M49 regions or subregions the registry knows.
    UnknownWorldRegion = ("unknown_world_region", 422),
    /// A UN/LOCODE is not one of the country.
    InvalidUnlocode = ("invalid_unlocode", 422),
    /// A Wikidata id is not a Wikidata item id.
    InvalidWikidataId = ("invalid_wikidata_id", 422),
    /// A GeoNames id is not a positive GeoNames id.
    InvalidGeonamesId = ("invalid_geonames_id", 422),
    /// Coordinates are out of range, or only one of `lat` and `lon` was given.
    InvalidCoordinates = ("invalid_coordinates", 422),
    /// A city named in the request does not exist.
    UnknownCity = ("unknown_city", 422),
    /// An office named in the request does not exist.
    UnknownOffice = ("unknown_office", 422),
    /// A partnership named in the request does not exist.
    UnknownPartnership = ("unknown_partnership", 422),
    /// A partnership must name exactly two cities.
    InvalidCities = ("invalid_cities", 422),
    /// A partnership needs two different cities.
    SameCity = ("same_city", 422),
    /// A hash is not 64 hex characters.
    InvalidHash = ("invalid_hash", 422),
    /// An activity's kind is unknown.
    InvalidKind = ("invalid_kind", 422),
    /// An activity's mode is unknown.
    InvalidMode = ("invalid_mode", 422),
    /// An activity's participant count is not a whole number.
    InvalidParticipants = ("invalid_participants", 422),
    /// An outcome's indicator is not one of the documented list.
    InvalidIndicator = ("invalid_indicator", 422),
    /// An outcome lacks a field its indicator needs, or has one it does not take.
    InvalidOutcome = ("invalid_outcome", 422),
    /// An outcome's `count` is outside its indicator's bounds.
    InvalidOutcomeCount = ("invalid_outcome_count", 422),
    /// A currency is not an ISO 4217 code of money.
    InvalidCurrency = ("invalid_currency", 422),
    /// A declared value is not a positive decimal with at most its currency's decimals.
    InvalidAmount = ("invalid_amount", 422),
    /// An outcome or resolution links an MOU, activity, outcome or evidence document that does not exist on the same partnership.
    InvalidOutcomeLink = ("invalid_outcome_link", 422),
    /// A commitment's result is unknown, or names what kept it when it was not kept.
    InvalidResolution = ("invalid_resolution", 422),
    /// An activity's organisations: a blank or long name, a name twice, an unknown sector, more than 20.
    InvalidOrganisation = ("invalid_organisation", 422),
    /// A city group's name is blank or long, or it names fewer than 2 or more than 50 cities, or one twice.
    InvalidCityGroup = ("invalid_city_group", 422),
    /// A city group's `keeper` is not the id of a live association token.
    InvalidGroupKeeper = ("invalid_group_keeper", 422),
    /// A period's `from` is after its `to`.
    InvalidPeriod = ("invalid_period", 422),
    /// A role is not a short lower-case name.
    InvalidRole = ("invalid_role", 422),
    /// A required signer's `count` is out of range.
    InvalidCount = ("invalid_count", 422),
    /// A (city, role) appears twice among the required signers.
    DuplicateRequiredSigner = ("duplicate_required_signer", 422),
    /// There are more required signer entries than allowed.
    TooManyRequiredSigners = ("too_many_required_signers", 422),
    /// A party city has no required signer.
    PartyWithoutSigner = ("party_without_signer", 422),
    /// A required signer's city is not a party to the partnership.
    SignerCityNotParty = ("signer_city_not_party", 422),
    /// A document's filename is not a plain file name.
    InvalidFilename = ("invalid_filename", 422),
    /// A document's Content-Type is not ASCII.
    InvalidMediaType = ("invalid_media_type", 422),
    /// The document body is empty.
    EmptyDocument = ("empty_document", 422),
    /// The multipart body has no file part.
    MissingFile = ("missing_file", 422),
    /// The multipart body has more file parts than the upload takes (one, or up to eight
    /// languages for an MOU version).
    MultipleFiles = ("multiple_files", 422),
    /// A document's language tag is not a language tag, is given twice, is missing from a
    /// document of a multilingual version, or the tags do not match the files one to one.
    InvalidLanguage = ("invalid_language", 422),
    /// Withdrawing needs a `reason`.
    ReasonRequired = ("reason_required", 422),
    /// A required member is missing (e.g. `signer` or `key` on a signing request).
    MissingField = ("missing_field", 422),
    /// An office token was requested without its office.
    OfficeIdRequired = ("office_required", 422),
    /// Only office tokens are bound to an office.
    OfficeNotAllowed = ("office_not_allowed", 422),
    /// A token's `expires_at` is not in the future.
    InvalidExpiry = ("invalid_expiry", 422),
    /// A log size is outside the log.
    InvalidSize = ("invalid_size", 422),
    /// A round's deadline is not in the future, or more than 366 days ahead.
    InvalidDeadline = ("invalid_deadline", 422),
    /// A round of signature requests names no signatory, or more than 50.
    InvalidRequestCount = ("invalid_request_count", 422),
    /// A signatory is named twice in one round.
    DuplicateRequestedSigner = ("duplicate_requested_signer", 422),
    /// Sequence groups are not numbered 1, 2, 3 ... without gaps.
    InvalidSequenceGroups = ("invalid_sequence_groups", 422),
    /// A requested signatory has no registered, unretired key for the requested role, and no contact address.
    SignerNotRegistered = ("signer_not_registered", 422),
    /// The round, with the signatures already on the version, cannot meet the MOU's required signers.
    RequestsMissRequiredSigners = ("requests_miss_required_signers", 422),
    /// A decline statement does not name this request, its version and document, its signer, role or the key.
    DeclineMismatch = ("decline_mismatch", 422),
    /// A round's reminder settings are out of range (days 0 to 365, at most 20 reminders).
    InvalidReminders = ("invalid_reminders", 422),
    /// An event type is not one of the documented list, or none is given.
    InvalidEventType = ("invalid_event_type", 422),
    /// A webhook URL is not an absolute http(s) URL without user info or fragment.
    InvalidWebhookUrl = ("invalid_webhook_url", 422),
    /// A webhook URL's host is a loopback, private or link-local address, which this registry does not deliver to.
    WebhookAddressRefused = ("webhook_address_refused", 422),
    /// An e-mail address is not one address as SMTP takes it.
    InvalidEmail = ("invalid_email", 422),
    /// A log index is not in a tree of the given size.
    IndexOutOfRange = ("index_out_of_range", 422),
    /// A write's log entry could not be encoded.
    InvalidEntry = ("invalid_entry", 422),
    /// A write would make a log entry larger than the limit.
    EntryTooLarge = ("entry_too_large", 422),
    /// An import file is not readable CSV.
    InvalidCsv = ("invalid_csv", 422),
    /// `statement` is not standard base64.
    InvalidStatementEncoding = ("invalid_statement_encoding", 422),
    /// The signed statement is for another MOU.
    StatementMouMismatch = ("statement_mou_mismatch", 422),
    /// The signed statement names another registry.
    WrongRegistry = ("wrong_registry", 422),
    /// The statement's doc_sha256 is not the hash of the version it names.
    DocSha256Mismatch = ("doc_sha256_mismatch", 422),
    /// The statement names a version the MOU does not have.
    UnknownVersion = ("unknown_version", 422),
    /// The key is registered to another signer.
    KeySignerMismatch = ("key_signer_mismatch", 422),
    /// The key is registered for another role.
    RoleMismatch = ("role_mismatch", 422),
    /// The signer has several active keys and the request names none.
    AmbiguousKey = ("ambiguous_key", 422),
    /// No registered key has the statement's fingerprint; or a statement has a member its kind does not know.
    UnknownKey = ("unknown_key", 422),
    /// A key registration's proof statement does not match the request.
    ProofMismatch = ("proof_mismatch", 422),
    /// A revocation's `compromised_since` lies in the future.
    CompromisedSinceInFuture = ("compromised_since_in_future", 422),
    /// A retirement's or revocation's `effective_at` lies in the past.
    EffectiveAtInPast = ("effective_at_in_past", 422),
    /// The key registration challenge was not issued here, or for another city.
    UnknownChallenge = ("unknown_challenge", 422),
    /// The key registration challenge was already used.
    ChallengeUsed = ("challenge_used", 422),
    /// The key registration challenge has expired.
    ChallengeExpired = ("challenge_expired", 422),

    // 422 from the verifier crate (amity-verify): a statement, key or signature that fails its checks.
    /// The statement is too large.
    StatementTooLarge = ("statement_too_large", 422),
    /// The statement is not valid UTF-8.
    InvalidUtf8 = ("invalid_utf8", 422),
    /// The statement is not valid JSON.
    InvalidJson = ("invalid_json", 422),
    /// The statement is not a JSON object.
    NotAnObject = ("not_an_object", 422),
    /// The statement has a duplicate member.
    DuplicateKey = ("duplicate_key", 422),
    /// The statement lacks a member.
    MissingKey = ("missing_key", 422),
    /// The statement's members are not in canonical order.
    KeysOutOfOrder = ("keys_out_of_order", 422),
    /// A statement member has the wrong JSON type.
    WrongType = ("wrong_type", 422),
    /// A statement member is invalid.
    InvalidField = ("invalid_field", 422),
    /// The signer's city part does not match the statement's city.
    SignerCityMismatch = ("signer_city_mismatch", 422),
    /// The statement bytes are not in canonical form.
    StatementNotCanonical = ("statement_not_canonical", 422),
    /// The signature text is too large.
    SignatureTooLarge = ("signature_too_large", 422),
    /// The signature armor is malformed.
    BadArmor = ("bad_armor", 422),
    /// Key or signature data is not canonical base64.
    NonCanonicalBase64 = ("non_canonical_base64", 422),
    /// The signature does not start with the SSHSIG preamble.
    BadMagic = ("bad_magic", 422),
    /// The SSHSIG version is not supported.
    UnsupportedVersion = ("unsupported_version", 422),
    /// The signature blob is malformed.
    MalformedSignature = ("malformed_signature", 422),
    /// The signature namespace is not printable ASCII of the right length.
    InvalidNamespace = ("invalid_namespace", 422),
    /// The signature's reserved field is not empty.
    ReservedNotEmpty = ("reserved_not_empty", 422),
    /// The signature's hash algorithm is not sha512.
    UnsupportedHash = ("unsupported_hash", 422),
    /// The signature type is not ssh-ed25519.
    UnsupportedSignatureType = ("unsupported_signature_type", 422),
    /// The ed25519 signature is not 64 bytes.
    BadSignatureEncoding = ("bad_signature_encoding", 422),
    /// The signature scalar is not reduced (a malleated signature).
    NonCanonicalSignature = ("non_canonical_signature", 422),
    /// A key or signature has trailing bytes.
    TrailingBytes = ("trailing_bytes", 422),
    /// The signature's namespace is not the expected one.
    WrongNamespace = ("wrong_namespace", 422),
    /// The signature was made by another key than expected.
    WrongKey = ("wrong_key", 422),
    /// The signature does not verify.
    SignatureInvalid = ("signature_invalid", 422),
    /// The public key line is too long.
    KeyLineTooLong = ("key_line_too_long", 422),
    /// The public key line is malformed.
    MalformedKeyLine = ("malformed_key_line", 422),
    /// The key type is not ssh-ed25519.
    UnsupportedKeyType = ("unsupported_key_type", 422),
    /// The key blob is malformed.
    BadKeyEncoding = ("bad_key_encoding", 422),
    /// The key type inside the blob does not match the declared one.
    KeyTypeMismatch = ("key_type_mismatch", 422),
    /// The public key is not a valid curve point.
    InvalidKey = ("invalid_key", 422),
    /// The public key uses a non-canonical point encoding.
    NonCanonicalKey = ("non_canonical_key", 422),
    /// The public key is a weak (small-order) point.
    WeakKey = ("weak_key", 422),
    /// The public key has a small-order component.
    NonPrimeOrderKey = ("non_prime_order_key", 422),
    /// The key comment is too long.
    CommentTooLong = ("comment_too_long", 422),
    /// The key comment is not printable ASCII.
    InvalidComment = ("invalid_comment", 422),
    /// A private key file is too large (the verifier's key reading; not expected from the server).
    PrivateKeyTooLarge = ("private_key_too_large", 422),
    /// A private key is encrypted (the verifier's key reading; not expected from the server).
    EncryptedPrivateKey = ("encrypted_private_key", 422),
    /// A private key is malformed (the verifier's key reading; not expected from the server).
    BadPrivateKey = ("bad_private_key", 422),
    /// A key file could not be read (the verifier's key reading; not expected from the server).
    IoError = ("io_error", 422),
    /// A log entry would hold a non-integer number.
    NonIntegerInEntry = ("non_integer_in_entry", 422),

    // 429, 500, 503.
    /// Too many failed authentications from this address (see Retry-After).
    TooManyAuthFailures = ("too_many_auth_failures", 429),
    /// The server failed; the cause is in its log. Framework errors of another 5xx status keep that status.
    InternalError = ("internal_error", 500),
    /// The database is busy or unreachable.
    DatabaseUnavailable = ("database_unavailable", 503),
    /// Too many writes wait to be committed; the write was not made (see Retry-After).
    WriteQueueFull = ("write_queue_full", 503),
    /// The service cannot commit writes; the write was not made.
    WriterStopped = ("writer_stopped", 503),
    /// The log grew during every attempt to read an MOU bundle.
    LogBusy = ("log_busy", 503),
    /// The witnesses' quorum has not cosigned a checkpoint of the current log in time (see
    /// Retry-After).
    WitnessQuorumUnavailable = ("witness_quorum_unavailable", 503),
}

impl ErrorCode {
    /// The codes answered with `status`, by name, each once (the OpenAPI document's per-status
    /// problem schemas and their examples).
    pub fn answered_with(status: u16) -> Vec<&'static str> {
        let mut codes: Vec<&'static str> = ErrorCode::ALL
            .iter()
            .filter(|c| c.http_status() == status)
            .map(|c| c.as_str())
            .collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// The strings that go out with two statuses, each with one variant per status.
    pub const SHARED_STRINGS: &'static [&'static str] = &["invalid_body", "office_required"];
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The OpenAPI schema: a string that is one of the codes.
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        let mut codes: Vec<&'static str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .description(Some(
                "Stable snake_case code to branch on: one of the codes in docs/errors.md.",
            ))
            .enum_values(Some(codes))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

/// Tests name codes by their wire spelling.
#[cfg(test)]
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

// The verifier crate's errors carry their own codes; each maps to its variant here, by an
// exhaustive match so a new verifier error cannot go out without one (the tests check the
// spelling agrees with the verifier's `code()`).

impl From<&KeyError> for ErrorCode {
    fn from(e: &KeyError) -> Self {
        match e {
            KeyError::LineTooLong => ErrorCode::KeyLineTooLong,
            KeyError::MalformedLine(_) => ErrorCode::MalformedKeyLine,
            KeyError::UnsupportedKeyType(_) => ErrorCode::UnsupportedKeyType,
            KeyError::NonCanonicalBase64 => ErrorCode::NonCanonicalBase64,
            KeyError::BadKeyEncoding(_) => ErrorCode::BadKeyEncoding,
            KeyError::KeyTypeMismatch => ErrorCode::KeyTypeMismatch,
            KeyError::TrailingBytes => ErrorCode::TrailingBytes,
            KeyError::InvalidKey => ErrorCode::InvalidKey,
            KeyError::NonCanonicalKey => ErrorCode::NonCanonicalKey,
            KeyError::WeakKey => ErrorCode::WeakKey,
            KeyError::NonPrimeOrderKey => ErrorCode::NonPrimeOrderKey,
            KeyError::CommentTooLong => ErrorCode::CommentTooLong,
            KeyError::InvalidComment => ErrorCode::InvalidComment,
            KeyError::PrivateKeyTooLarge => ErrorCode::PrivateKeyTooLarge,
            KeyError::EncryptedPrivateKey => ErrorCode::EncryptedPrivateKey,
            KeyError::BadPrivateKey(_) => ErrorCode::BadPrivateKey,
            KeyError::Io(_) => ErrorCode::IoError,
        }
    }
}

impl From<&SshsigError> for ErrorCode {
    fn from(e: &SshsigError) -> Self {
        match e {
            SshsigError::TooLarge => ErrorCode::SignatureTooLarge,
            SshsigError::BadArmor(_) => ErrorCode::BadArmor,
            SshsigError::NonCanonicalBase64 => ErrorCode::NonCanonicalBase64,
            SshsigError::BadMagic => ErrorCode::BadMagic,
            SshsigError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            SshsigError::Malformed(_) => ErrorCode::MalformedSignature,
            SshsigError::Key(inner) => inner.into(),
            SshsigError::InvalidNamespace => ErrorCode::InvalidNamespace,
            SshsigError::ReservedNotEmpty => ErrorCode::ReservedNotEmpty,
            SshsigError::UnsupportedHash(_) => ErrorCode::UnsupportedHash,
            SshsigError::UnsupportedSignatureType(_) => ErrorCode::UnsupportedSignatureType,
            SshsigError::BadSignatureEncoding => ErrorCode::BadSignatureEncoding,
            SshsigError::NonCanonicalSignature => ErrorCode::NonCanonicalSignature,
            SshsigError::TrailingBytes => ErrorCode::TrailingBytes,
            SshsigError::WrongNamespace => ErrorCode::WrongNamespace,
            SshsigError::WrongKey => ErrorCode::WrongKey,
            SshsigError::SignatureInvalid => ErrorCode::SignatureInvalid,
        }
    }
}

impl From<&StatementError> for ErrorCode {
    fn from(e: &StatementError) -> Self {
        match e {
            StatementError::TooLarge => ErrorCode::StatementTooLarge,
            StatementError::InvalidUtf8 => ErrorCode::InvalidUtf8,
            StatementError::InvalidJson(_) => ErrorCode::InvalidJson,
            StatementError::NotAnObject => ErrorCode::NotAnObject,
            StatementError::DuplicateKey(_) => ErrorCode::DuplicateKey,
            StatementError::UnknownKey(_) => ErrorCode::UnknownKey,
            StatementError::MissingKey(_) => ErrorCode::MissingKey,
            StatementError::KeysOutOfOrder => ErrorCode::KeysOutOfOrder,
            StatementError::WrongType { .. } => ErrorCode::WrongType,
            StatementError::InvalidField { .. } => ErrorCode::InvalidField,
            StatementError::SignerCityMismatch => ErrorCode::SignerCityMismatch,
            StatementError::Key(inner) => inner.into(),
            StatementError::NotCanonical => ErrorCode::StatementNotCanonical,
        }
    }
}

impl From<&CanonicalError> for ErrorCode {
    fn from(e: &CanonicalError) -> Self {
        match e {
            CanonicalError::NonInteger => ErrorCode::NonIntegerInEntry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn codes_are_unique_snake_case_with_real_statuses() {
        let mut seen: HashMap<&str, Vec<u16>> = HashMap::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(
                !s.is_empty()
                    && s.starts_with(|c: char| c.is_ascii_lowercase())
                    && !s.ends_with('_')
                    && !s.contains("__")
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{s} is not snake_case"
            );
            assert!(
                (400..600).contains(&code.http_status()),
                "{s}: {}",
                code.http_status()
            );
            assert!(!code.description().is_empty(), "{s} has no description");
            seen.entry(s).or_default().push(code.http_status());
        }
        for (s, statuses) in &seen {
            if ErrorCode::SHARED_STRINGS.contains(s) {
                // A shared string has one variant per status, never two for the same one.
                assert_eq!(statuses.len(), 2, "{s}");
                assert_ne!(statuses.first(), statuses.get(1), "{s}");
            } else {
                assert_eq!(statuses.len(), 1, "{s} is the string of several variants");
            }
        }
        for s in ErrorCode::SHARED_STRINGS {
            assert!(seen.contains_key(s), "{s}");
        }
    }

    /// docs/errors.md lists exactly `ErrorCode::ALL`, in order, with each code's status and
    /// description, so the document cannot drift from the code.
    #[test]
    fn the_doc_table_is_error_code_all() {
        let doc = include_str!("../../docs/errors.md");
        let rows: Vec<(String, u16, String)> = doc
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
                assert_eq!(cells.len(), 3, "{l}");
                (
                    cells[0].trim_matches('`').to_string(),
                    cells[1].parse().unwrap(),
                    cells[2].to_string(),
                )
            })
            .collect();
        let expected: Vec<(String, u16, String)> = ErrorCode::ALL
            .iter()
            .map(|c| {
                (
                    c.as_str().to_string(),
                    c.http_status(),
                    c.description().to_string(),
                )
            })
            .collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn verifier_errors_keep_their_codes() {
        let keys = [
            KeyError::LineTooLong,
            KeyError::MalformedLine("x"),
            KeyError::UnsupportedKeyType("x".into()),
            KeyError::NonCanonicalBase64,
            KeyError::BadKeyEncoding("x"),
            KeyError::KeyTypeMismatch,
            KeyError::TrailingBytes,
            KeyError::InvalidKey,
            KeyError::NonCanonicalKey,
            KeyError::WeakKey,
            KeyError::NonPrimeOrderKey,
            KeyError::CommentTooLong,
            KeyError::InvalidComment,
            KeyError::PrivateKeyTooLarge,
            KeyError::EncryptedPrivateKey,
            KeyError::BadPrivateKey("x".into()),
            KeyError::Io("x".into()),
        ];
        for e in &keys {
            assert_eq!(ErrorCode::from(e).as_str(), e.code());
        }
        let sigs = [
            SshsigError::TooLarge,
            SshsigError::BadArmor("x"),
            SshsigError::NonCanonicalBase64,
            SshsigError::BadMagic,
            SshsigError::UnsupportedVersion(2),
            SshsigError::Malformed("x"),
            SshsigError::Key(KeyError::WeakKey),
            SshsigError::InvalidNamespace,
            SshsigError::ReservedNotEmpty,
            SshsigError::UnsupportedHash("x".into()),
            SshsigError::UnsupportedSignatureType("x".into()),
            SshsigError::BadSignatureEncoding,
            SshsigError::NonCanonicalSignature,
            SshsigError::TrailingBytes,
            SshsigError::WrongNamespace,
            SshsigError::WrongKey,
            SshsigError::SignatureInvalid,
        ];
        for e in &sigs {
            assert_eq!(ErrorCode::from(e).as_str(), e.code());
        }
        let statements = [
            StatementError::TooLarge,
            StatementError::InvalidUtf8,
            StatementError::InvalidJson("x".into()),
            StatementError::NotAnObject,
            StatementError::DuplicateKey("x".into()),
            StatementError::UnknownKey("x".into()),
            StatementError::MissingKey("x"),
            StatementError::KeysOutOfOrder,
            StatementError::WrongType {
                field: "x",
                expected: "y",
            },
            StatementError::InvalidField {
                field: "x",
                reason: "y",
            },
            StatementError::SignerCityMismatch,
            StatementError::Key(KeyError::InvalidKey),
            StatementError::NotCanonical,
        ];
        for e in &statements {
            assert_eq!(ErrorCode::from(e).as_str(), e.code());
        }
        let e = CanonicalError::NonInteger;
        assert_eq!(ErrorCode::from(&e).as_str(), e.code());
    }
}
