//! The rules an operation enforces that its JSON Schema cannot state: one field against
//! another, a date against today, a signature against its key, a cursor against the server
//! that issued it. Every other rule is in the schemas (`domain::schemas`).
//!
//! Each rule goes into the served document twice: as the operation's `x-amity-rules` (a list
//! of `{codes, rule}`, for tools) and as a list at the end of its description (for people).
//! CI's schemathesis run accepts a refusal of data the schema allows only when its `code` is
//! one listed here for that operation (.ci/schemathesis_hooks.py), so a rule missing from both
//! the schemas and this table fails CI; `tests/api/contract.rs` checks that every operation
//! named here is served and documents the status of each code named.

use serde_json::{Value, json};

use crate::domain::ErrorCode;

/// One rule: the operation, the codes of its refusals, and the rule in words.
pub struct Rule {
    pub operation: &'static str,
    pub codes: &'static [ErrorCode],
    pub rule: &'static str,
}

const fn rule(operation: &'static str, code: &'static [ErrorCode], rule: &'static str) -> Rule {
    Rule {
        operation,
        codes: code,
        rule,
    }
}

use ErrorCode as E;

/// The refusals of a statement that is not the canonical JSON its format requires
/// (docs/formats/statements.md).
const STATEMENT: &[ErrorCode] = &[
    E::InvalidStatementEncoding,
    E::StatementTooLarge,
    E::InvalidUtf8,
    E::InvalidJson,
    E::NotAnObject,
    E::DuplicateKey,
    E::MissingKey,
    E::KeysOutOfOrder,
    E::WrongType,
    E::InvalidField,
    E::SignerCityMismatch,
    E::StatementNotCanonical,
];

/// The refusals of a `multipart/form-data` body that is not one well-formed file part.
const MULTIPART: &[ErrorCode] = &[E::InvalidMultipart, E::MissingFile, E::MultipleFiles];

const ONE_FILE_PART: &str = "a `multipart/form-data` body holds exactly one file part";

const VERSION_FILE_PARTS: &str = "a `multipart/form-data` body holds one file part per document: \
     one, or up to eight, one per language";

/// The refusals of an SSHSIG that does not parse strictly or does not verify.
const SSHSIG: &[ErrorCode] = &[
    E::SignatureTooLarge,
    E::BadArmor,
    E::NonCanonicalBase64,
    E::BadMagic,
    E::UnsupportedVersion,
    E::MalformedSignature,
    E::InvalidNamespace,
    E::ReservedNotEmpty,
    E::UnsupportedHash,
    E::UnsupportedSignatureType,
    E::BadSignatureEncoding,
    E::NonCanonicalSignature,
    E::TrailingBytes,
    E::WrongNamespace,
    E::WrongKey,
    E::SignatureInvalid,
];

/// The refusals of a public key line that is not a canonical, strong Ed25519 key.
const KEY: &[ErrorCode] = &[
    E::KeyLineTooLong,
    E::MalformedKeyLine,
    E::UnsupportedKeyType,
    E::BadKeyEncoding,
    E::KeyTypeMismatch,
    E::InvalidKey,
    E::NonCanonicalKey,
    E::WeakKey,
    E::NonPrimeOrderKey,
    E::CommentTooLong,
    E::InvalidComment,
];

const PAGED: [&str; 10] = [
    "list_cities",
    "list_partnerships",
    "list_mous",
    "list_activities",
    "list_webhook_messages",
    "list_outcomes",
    "list_commitments",
    "overdue_commitments",
    "list_groups",
    "list_signatures",
];

/// The table. Cursors belong to every paged list and are added by [`rules_of`].
pub const RULES: &[Rule] = &[
    rule(
        "create_city",
        &[E::CityCodeCountryMismatch],
        "`code` starts with `country` in lower case",
    ),
    rule(
        "create_city",
        &[E::InvalidRegion],
        "`region` is an assigned ISO 3166-2 code of `country`",
    ),
    rule(
        "create_city",
        &[E::InvalidUnlocode],
        "`unlocode` starts with `country`",
    ),
    rule(
        "create_city",
        &[E::InvalidCoordinates],
        "`lat` and `lon` are given together or not at all",
    ),
    rule(
        "create_city",
        &[E::MissingField],
        "`name` is not blank once normalised (NFC)",
    ),
    rule(
        "create_office",
        &[E::UnknownCity],
        "`city` is a registered city",
    ),
    rule(
        "create_partnership",
        &[E::UnknownCity],
        "both cities are registered",
    ),
    rule(
        "create_mou",
        &[E::UnknownPartnership],
        "`partnership` names a partnership",
    ),
    rule(
        "create_mou",
        &[
            E::SignerCityNotParty,
            E::PartyWithoutSigner,
            E::DuplicateRequiredSigner,
        ],
        "`required_signers` names only the two party cities, each at least once, each (city, role) once",
    ),
    rule("upload", &[E::EmptyDocument], "the document is not empty"),
    rule(
        "upload",
        &[E::InvalidMediaType],
        "`Content-Type` is a media type",
    ),
    rule(
        "add_evidence",
        &[E::EmptyDocument],
        "the document is not empty",
    ),
    rule(
        "add_evidence",
        &[E::InvalidMediaType],
        "`Content-Type` is a media type",
    ),
    rule(
        "retire",
        &[E::EffectiveAtInPast],
        "`effective_at` does not lie in the past",
    ),
    rule(
        "revoke",
        &[E::CompromisedSinceInFuture],
        "`compromised_since` does not lie in the future",
    ),
    rule(
        "create_token",
        &[E::UnknownOffice],
        "`office` names an office",
    ),
    rule(
        "create_token",
        &[E::OfficeIdRequired],
        "an `office` token names its `office`",
    ),
    rule(
        "create_token",
        &[E::OfficeNotAllowed],
        "`admin` and `auditor` tokens name no `office`",
    ),
    rule(
        "create_token",
        &[E::InvalidExpiry],
        "`expires_at` lies in the future",
    ),
    rule(
        "create_partnership",
        &[E::InvalidDate],
        "`established` does not lie in the future",
    ),
    rule(
        "change_status",
        &[E::InvalidDate],
        "`decided_date` does not lie in the future",
    ),
    rule(
        "change_status",
        &[E::ReasonRequired],
        "a change to `curtailed` or `cut_off` has a non-blank `reason`",
    ),
    rule(
        "record",
        &[E::InvalidDate],
        "`start_date` does not lie in the future and `end_date` is not before it",
    ),
    rule("briefing", &[E::InvalidPeriod], "`from` is not after `to`"),
    rule(
        "group_briefing",
        &[E::InvalidPeriod],
        "`from` is not after `to`",
    ),
    rule(
        "group_briefing",
        &[E::InvalidQuery],
        "the group is given as exactly one of `cities`, `country`, `region` and `group`; `cities` names 2 to 50 cities, none twice; the `country` or `region` has a city with a partnership",
    ),
    rule(
        "group_briefing",
        &[E::CityGroupNotFound],
        "`group` is the id of a saved city group",
    ),
    rule(
        "register",
        STATEMENT,
        "`statement` is a canonical key-registration statement (docs/formats/statements.md)",
    ),
    rule(
        "register",
        &[
            E::ProofMismatch,
            E::UnknownChallenge,
            E::ChallengeUsed,
            E::ChallengeExpired,
            E::WrongRegistry,
        ],
        "the statement names this registry, the path's city, `signer`, `role`, `public_key` and a live challenge of this registry",
    ),
    rule(
        "register",
        SSHSIG,
        "`signature` is an SSHSIG by `public_key` over `statement` in the namespace `amity-key-v1@<registry>`",
    ),
    rule(
        "register",
        KEY,
        "`public_key` is a canonical Ed25519 key that is not weak",
    ),
    rule(
        "submit",
        STATEMENT,
        "`statement` is a canonical MOU signature statement (docs/formats/statements.md)",
    ),
    rule(
        "submit",
        SSHSIG,
        "`signature` is an armored SSHSIG that verifies over `statement` in the namespace `amity-mou-v1@<registry>`",
    ),
    rule(
        "submit",
        &[E::WrongRegistry],
        "the statement names this registry",
    ),
    rule(
        "submit",
        &[E::StatementMouMismatch],
        "the statement names the path's MOU",
    ),
    rule(
        "send_signature_requests",
        &[E::InvalidDate, E::InvalidDeadline],
        "`deadline` is a real instant in the future and at most 366 days ahead",
    ),
    rule(
        "send_signature_requests",
        &[E::DuplicateRequestedSigner],
        "each `signer` is named once in a round",
    ),
    rule(
        "send_signature_requests",
        &[E::InvalidSequenceGroups],
        "the `group` numbers used are 1, 2, 3 ... without gaps",
    ),
    rule(
        "send_signature_requests",
        &[E::SignerCityNotParty],
        "each signer's city is a party to the MOU's partnership",
    ),
    rule(
        "send_signature_requests",
        &[E::SignerNotRegistered],
        "each signer has a registered, unretired, unrevoked key for the `role` asked, or a contact address the offices keep (the signing link in the request e-mail lets them create one)",
    ),
    rule(
        "send_signature_requests",
        &[E::RequestsMissRequiredSigners],
        "the signers asked, with those who already signed the current version, meet every required signer of the MOU",
    ),
    rule(
        "decline_statement",
        &[E::InvalidCharacters],
        "`reason` takes at most 2000 bytes in UTF-8 (1000 characters of up to two bytes each)",
    ),
    rule(
        "decline_signature_request",
        STATEMENT,
        "`statement` is a canonical MOU decline statement (docs/formats/statements.md)",
    ),
    rule(
        "decline_signature_request",
        SSHSIG,
        "`signature` is an armored SSHSIG by the signer's registered key over `statement` in the namespace `amity-mou-decline-v1@<registry>`",
    ),
    rule(
        "decline_signature_request",
        &[E::WrongRegistry],
        "the statement names this registry",
    ),
    rule(
        "decline_signature_request",
        &[E::DeclineMismatch],
        "the statement names the path's MOU and request, the request's version, its document's SHA-256, signer and role",
    ),
    rule(
        "decline_signature_request",
        &[E::UnknownKey, E::KeySignerMismatch, E::RoleMismatch],
        "`signer_key` is the fingerprint of a key registered to the request's signer for its role",
    ),
    rule(
        "signing_link_statement",
        &[E::UnknownKey, E::SigningLinkMismatch, E::RoleMismatch],
        "`key` is the fingerprint of a key registered to the link's signer for the request's role",
    ),
    rule(
        "signing_link_statement",
        &[E::ReasonRequired, E::InvalidCharacters],
        "`decline_reason`, when given, is not blank and takes at most 2000 bytes in UTF-8",
    ),
    rule(
        "signing_link_register_key",
        STATEMENT,
        "`proof.statement` is a canonical key-registration statement (docs/formats/statements.md)",
    ),
    rule(
        "signing_link_register_key",
        &[
            E::ProofMismatch,
            E::UnknownChallenge,
            E::ChallengeUsed,
            E::ChallengeExpired,
            E::WrongRegistry,
        ],
        "the statement names this registry, the link's signer, their city and the request's role, `public_key` and a live challenge of this registry",
    ),
    rule(
        "signing_link_register_key",
        SSHSIG,
        "`proof.signature` is an SSHSIG by `public_key` over the statement in the namespace `amity-key-v1@<registry>`",
    ),
    rule(
        "signing_link_register_key",
        KEY,
        "`public_key` is a canonical Ed25519 key that is not weak",
    ),
    rule(
        "signing_link_answer",
        STATEMENT,
        "`statement` is a canonical MOU signature or decline statement (docs/formats/statements.md); its `action` says which",
    ),
    rule(
        "signing_link_answer",
        SSHSIG,
        "`signature` is an armored SSHSIG by the signer's registered key over `statement`, in the namespace `amity-mou-v1@<registry>` (a signature) or `amity-mou-decline-v1@<registry>` (a decline)",
    ),
    rule(
        "signing_link_answer",
        &[E::WrongRegistry],
        "the statement names this registry",
    ),
    rule(
        "signing_link_answer",
        &[E::SigningLinkMismatch, E::DeclineMismatch],
        "the statement is for the link's signer, MOU and version, and a decline for the link's request",
    ),
    rule(
        "signing_link_answer",
        &[E::UnknownKey, E::KeySignerMismatch, E::RoleMismatch],
        "`signer_key` is the fingerprint of a key registered to the link's signer for the request's role",
    ),
    rule(
        "register_webhook",
        &[E::InvalidWebhookUrl],
        "`url` parses as an absolute http(s) URL with a host, without user info, fragment or control characters",
    ),
    rule(
        "register_webhook",
        &[E::WebhookAddressRefused],
        "`url`'s host is not a loopback, private, link-local or otherwise internal address, unless the operator allows them (AMITY_WEBHOOK_ALLOW_INTERNAL)",
    ),
    rule(
        "set_contact",
        &[E::InvalidEmail],
        "`email` is one address as SMTP takes it (a dot-atom or quoted local part, and a domain)",
    ),
    rule(
        "set_contact",
        &[E::InvalidBody, E::SignerCityMismatch],
        "the path's `signer` is `<handle>@<city code>` of the path's city",
    ),
    rule(
        "import",
        &[E::InvalidCsv],
        "the body is UTF-8 CSV with the documented header",
    ),
    rule("import", MULTIPART, ONE_FILE_PART),
    rule("upload", MULTIPART, VERSION_FILE_PARTS),
    rule(
        "upload",
        &[E::InvalidLanguage],
        "`languages` gives one language tag per document, in the order of the files, none \
         twice (compared without regard to case); it may be left out for one document only",
    ),
    rule(
        "upload",
        &[E::InvalidFilename],
        "`filename` names a single document; with several file parts each part carries its \
         own file name",
    ),
    rule("add_evidence", MULTIPART, ONE_FILE_PART),
    rule(
        "results",
        &[E::InvalidQuery],
        "`city` and `group` are not given together",
    ),
    rule(
        "results",
        &[E::CityGroupNotFound],
        "`group` is the id of a saved city group",
    ),
    rule(
        "create_group",
        &[E::UnknownCity],
        "every city of `cities` exists",
    ),
    rule(
        "save_group",
        &[E::UnknownCity],
        "every city of `cities` exists",
    ),
    rule(
        "create_group",
        &[E::InvalidGroupKeeper],
        "an admin's `keeper` is the id of a live (not revoked, not expired) association token",
    ),
    rule(
        "save_group",
        &[E::InvalidGroupKeeper],
        "an admin's `keeper` is the id of a live (not revoked, not expired) association token",
    ),
    rule(
        "record",
        &[E::InvalidCurrency, E::InvalidAmount],
        "`cost` and `cost_currency` come together or not at all, and `cost` has no more \
         decimals than its currency and is not zero",
    ),
    rule(
        "record",
        &[E::InvalidOrganisation],
        "`organisations` names each organisation once, compared without regard to case",
    ),
    rule(
        "record_outcome",
        &[E::InvalidOutcome],
        "the fields fit the indicator (docs/engagement.md): `count` for people_reached, \
         exchange_participants, business_deals, joint_projects and media_reach only; `mou` for \
         agreement_signed, `follow_up` for follow_up_activity, `exchange_group` for \
         exchange_participants and `description` for other, each required there and refused \
         elsewhere; `value` and `currency` together, on business_deals only; each evidence \
         number once",
    ),
    rule(
        "record_outcome",
        &[E::InvalidOutcomeCount],
        "`count` is within the indicator's bounds: people_reached 1-100000000, \
         exchange_participants 1-100000, business_deals 1-10000, joint_projects 1-1000, \
         media_reach 1-10000000000",
    ),
    rule(
        "record_outcome",
        &[E::InvalidAmount],
        "`value` has no more decimals than its `currency` (JPY none, EUR two, BHD three) and is \
         not zero",
    ),
    rule(
        "record_outcome",
        &[E::InvalidOutcomeLink],
        "`mou` is an MOU and `follow_up` another activity of the same partnership; every \
         `evidence` number is a document already added to the activity",
    ),
    rule(
        "record_outcome",
        &[E::ActivityNotFound],
        "the activity belongs to the partnership in the path",
    ),
    rule(
        "record_outcome",
        &[E::InvalidDate],
        "`achieved_on` is not before the activity's `start_date` and not in the future",
    ),
    rule(
        "make_commitment",
        &[E::ActivityNotFound],
        "the activity belongs to the partnership in the path",
    ),
    rule(
        "make_commitment",
        &[E::InvalidDate],
        "`due_date` is not before the activity's `start_date`",
    ),
    rule(
        "resolve_commitment",
        &[E::CommitmentNotFound],
        "the commitment belongs to the partnership in the path",
    ),
    rule(
        "resolve_commitment",
        &[E::InvalidResolution],
        "`kept_by_activity` or `kept_by_outcome`, not both, and only when `result` is kept or \
         partly_kept",
    ),
    rule(
        "resolve_commitment",
        &[E::InvalidOutcomeLink],
        "`kept_by_activity` and `kept_by_outcome` are an activity and an outcome of the same \
         partnership",
    ),
    rule(
        "resolve_commitment",
        &[E::InvalidDate],
        "`resolved_on` is not before the activity's `start_date` and not in the future",
    ),
    rule(
        "inclusion_proof",
        &[E::IndexOutOfRange],
        "`index` names an entry of the tree",
    ),
    rule(
        "signing_statement",
        &[E::MissingField],
        "give `signer` (and `role`) or `key`",
    ),
    rule(
        "inclusion_proof",
        &[E::InvalidQuery],
        "give exactly one of `index` and `hash`",
    ),
    rule(
        "inclusion_proof",
        &[E::InvalidSize],
        "`index` is below `size`, and `size` at most the log's size",
    ),
    rule(
        "consistency_proof",
        &[E::InvalidSize],
        "`from` is at most `to`, and `to` at most the log's size",
    ),
];

/// The rules of one operation, with the cursor rule of paged lists.
pub fn rules_of(operation: &str) -> Vec<(&'static [ErrorCode], &'static str)> {
    let mut out: Vec<(&'static [ErrorCode], &'static str)> = RULES
        .iter()
        .filter(|r| r.operation == operation)
        .map(|r| (r.codes, r.rule))
        .collect();
    if PAGED.contains(&operation) {
        out.push((
            &[E::InvalidCursor],
            "`cursor` is a `next_cursor` this server issued",
        ));
    }
    out
}

/// Writes the rules into the document (`x-amity-rules` and the description) of every
/// operation that has some.
pub fn add_rules(doc: &mut Value) {
    for (id, op) in super::openapi::operations_mut(doc) {
        let rules = rules_of(&id);
        if rules.is_empty() {
            continue;
        }
        let mut text = op
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        text.push_str("\n\nRules beyond the schema (refused with the code named):\n");
        for (codes, rule) in &rules {
            let codes: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
            text.push_str(&format!("\n- {rule} ({})", codes.join(", ")));
        }
        let rules = Value::Array(
            rules
                .iter()
                .map(|(codes, rule)| {
                    let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
                    json!({"codes": codes, "rule": rule})
                })
                .collect(),
        );
        if let Some(op) = op.as_object_mut() {
            op.insert("description".into(), Value::String(text));
            op.insert("x-amity-rules".into(), rules);
        }
    }
}
