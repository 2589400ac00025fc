//! OpenAPI links: from each operation that creates or lists something to the operations that
//! take its id, so a generated client or a stateful tester (schemathesis) can walk from an
//! empty registry to a signed, audited MOU without being told the URL scheme.
//!
//! The links are a table over operation ids, applied to the generated document in one place,
//! as JSON: utoipa 5.5 serializes its `Link` with snake-case field names (`operation_id`),
//! which no OpenAPI tool reads.
//! `tests/api/links.rs` checks that every operation with a path parameter is the target of a
//! link, that every expression names a field of the response schema, and walks the links over
//! HTTP.

use serde_json::{Map, Value, json};

/// One link: from the `status` response of operation `from` to operation `to`, with each
/// parameter of `to` given by a runtime expression.
pub struct LinkSpec {
    pub from: &'static str,
    pub status: &'static str,
    pub name: &'static str,
    pub to: &'static str,
    pub parameters: &'static [(&'static str, &'static str)],
}

const fn link(
    from: &'static str,
    status: &'static str,
    name: &'static str,
    to: &'static str,
    parameters: &'static [(&'static str, &'static str)],
) -> LinkSpec {
    LinkSpec {
        from,
        status,
        name,
        to,
        parameters,
    }
}

const CITY: &[(&str, &str)] = &[("code", "$response.body#/code")];
const CITY_OF_OFFICE: &[(&str, &str)] = &[("code", "$response.body#/city")];
const ID: &[(&str, &str)] = &[("id", "$response.body#/id")];
const SAME_ID: &[(&str, &str)] = &[("id", "$request.path.id")];
const FIRST_CITY: &[(&str, &str)] = &[("code", "$response.body#/items/0/code")];
const FIRST_ID: &[(&str, &str)] = &[("id", "$response.body#/items/0/id")];
const FIRST_OF_ARRAY: &[(&str, &str)] = &[("id", "$response.body#/0/id")];
const LOG_ENTRY: &[(&str, &str)] = &[("index", "$response.body#/log_index")];
const FIRST_LOG_ENTRY: &[(&str, &str)] = &[("index", "$response.body#/entries/0/index")];
const VERSION_DOCUMENT: &[(&str, &str)] =
    &[("id", "$request.path.id"), ("n", "$response.body#/version")];
const VERSION_FIRST_DOCUMENT: &[(&str, &str)] = &[
    ("id", "$request.path.id"),
    ("n", "$response.body#/version"),
    ("p", "$response.body#/documents/0/position"),
];
const PARTNERSHIP_OF: &[(&str, &str)] = &[("id", "$response.body#/partnership")];
const OF_ACTIVITY: &[(&str, &str)] = &[
    ("id", "$response.body#/partnership"),
    ("activity", "$response.body#/id"),
];
const COMMITMENT: &[(&str, &str)] = &[
    ("id", "$response.body#/partnership"),
    ("commitment", "$response.body#/id"),
];
const FIRST_COMMITMENT: &[(&str, &str)] = &[
    ("id", "$request.path.id"),
    ("commitment", "$response.body#/items/0/id"),
];
const EVIDENCE_DOCUMENT: &[(&str, &str)] = &[
    ("id", "$response.body#/activity"),
    ("n", "$response.body#/seq"),
];
const REQUEST: &[(&str, &str)] = &[
    ("id", "$request.path.id"),
    ("request", "$response.body#/requests/0/id"),
];
const DECLINED_REQUEST: &[(&str, &str)] = &[
    ("id", "$request.path.id"),
    ("request", "$response.body#/request/id"),
];
const SIGNER_OF_KEY: &[(&str, &str)] = &[
    ("code", "$response.body#/city"),
    ("signer", "$response.body#/signer"),
];
const LINK_TOKEN: &[(&str, &str)] = &[("token", "$response.body#/token")];
const LINK_FIRST_DOCUMENT: &[(&str, &str)] = &[
    ("token", "$request.path.token"),
    ("p", "$response.body#/documents/0/position"),
];
const ENDPOINT: &[(&str, &str)] = &[("id", "$response.body#/endpoint/id")];
const FIRST_MESSAGE: &[(&str, &str)] = &[
    ("id", "$request.path.id"),
    ("message", "$response.body#/items/0/id"),
];
const FIRST_EVIDENCE_DOCUMENT: &[(&str, &str)] =
    &[("id", "$request.path.id"), ("n", "$response.body#/0/seq")];

/// Every link of the document.
pub const LINKS: &[LinkSpec] = &[
    // A city, and what hangs off its code.
    link("create_city", "201", "GetCity", "get_city", CITY),
    link(
        "create_city",
        "201",
        "DormantPartnerships",
        "dormant_partnerships",
        CITY,
    ),
    link(
        "create_city",
        "201",
        "OverdueCommitments",
        "overdue_commitments",
        CITY,
    ),
    link("create_city", "201", "ListKeys", "list_keys", CITY),
    link("create_city", "201", "GetChallenge", "challenge", CITY),
    link("create_city", "201", "RegisterKey", "register", CITY),
    link("create_city", "201", "Briefing", "briefing", CITY),
    link("create_city", "201", "LogEntry", "entry", LOG_ENTRY),
    link("create_city", "201", "ListWebhooks", "list_webhooks", CITY),
    link("create_city", "201", "ListContacts", "list_contacts", CITY),
    link(
        "create_city",
        "201",
        "RegisterWebhook",
        "register_webhook",
        CITY,
    ),
    link("list_cities", "200", "GetFirstCity", "get_city", FIRST_CITY),
    link(
        "create_office",
        "201",
        "GetCity",
        "get_city",
        CITY_OF_OFFICE,
    ),
    link("create_office", "201", "LogEntry", "entry", LOG_ENTRY),
    link("create_token", "201", "RevokeToken", "revoke_token", ID),
    link("create_token", "201", "LogEntry", "entry", LOG_ENTRY),
    // A partnership.
    link(
        "create_partnership",
        "201",
        "GetPartnership",
        "get_partnership",
        ID,
    ),
    link("create_partnership", "201", "Confirm", "confirm", ID),
    link("create_partnership", "201", "History", "history", ID),
    link(
        "create_partnership",
        "201",
        "ChangeStatus",
        "change_status",
        ID,
    ),
    link("create_partnership", "201", "RecordActivity", "record", ID),
    link(
        "create_partnership",
        "201",
        "ListActivities",
        "list_activities",
        ID,
    ),
    link("create_partnership", "201", "LogEntry", "entry", LOG_ENTRY),
    link(
        "list_partnerships",
        "200",
        "GetFirstPartnership",
        "get_partnership",
        FIRST_ID,
    ),
    link(
        "confirm",
        "200",
        "GetPartnership",
        "get_partnership",
        SAME_ID,
    ),
    link("change_status", "201", "History", "history", SAME_ID),
    link("change_status", "201", "LogEntry", "entry", LOG_ENTRY),
    // Activities and their evidence.
    link("record", "201", "ListEvidence", "list_evidence", ID),
    link("record", "201", "AddEvidence", "add_evidence", ID),
    link("record", "201", "LogEntry", "entry", LOG_ENTRY),
    // Named groups of cities.
    link("create_group", "201", "GetGroup", "get_group", ID),
    link("create_group", "201", "SaveGroup", "save_group", ID),
    link("create_group", "201", "LogEntry", "entry", LOG_ENTRY),
    link("list_groups", "200", "GetFirstGroup", "get_group", FIRST_ID),
    link("save_group", "200", "GetGroup", "get_group", ID),
    // Outcomes and commitments of an activity.
    link(
        "record",
        "201",
        "RecordOutcome",
        "record_outcome",
        OF_ACTIVITY,
    ),
    link(
        "record",
        "201",
        "MakeCommitment",
        "make_commitment",
        OF_ACTIVITY,
    ),
    link(
        "record",
        "201",
        "ListOutcomes",
        "list_outcomes",
        PARTNERSHIP_OF,
    ),
    link(
        "record",
        "201",
        "ListCommitments",
        "list_commitments",
        PARTNERSHIP_OF,
    ),
    link(
        "record_outcome",
        "201",
        "ListOutcomes",
        "list_outcomes",
        PARTNERSHIP_OF,
    ),
    link("record_outcome", "201", "LogEntry", "entry", LOG_ENTRY),
    link(
        "make_commitment",
        "201",
        "ResolveCommitment",
        "resolve_commitment",
        COMMITMENT,
    ),
    link(
        "make_commitment",
        "201",
        "ListCommitments",
        "list_commitments",
        PARTNERSHIP_OF,
    ),
    link("make_commitment", "201", "LogEntry", "entry", LOG_ENTRY),
    link(
        "resolve_commitment",
        "201",
        "ListCommitments",
        "list_commitments",
        PARTNERSHIP_OF,
    ),
    link(
        "list_commitments",
        "200",
        "ResolveFirstCommitment",
        "resolve_commitment",
        FIRST_COMMITMENT,
    ),
    link(
        "list_activities",
        "200",
        "ListFirstEvidence",
        "list_evidence",
        FIRST_ID,
    ),
    link(
        "add_evidence",
        "201",
        "EvidenceDocument",
        "evidence_document",
        EVIDENCE_DOCUMENT,
    ),
    link("add_evidence", "201", "LogEntry", "entry", LOG_ENTRY),
    link(
        "list_evidence",
        "200",
        "FirstEvidenceDocument",
        "evidence_document",
        FIRST_EVIDENCE_DOCUMENT,
    ),
    // Signatory keys.
    link("register", "201", "GetKey", "get_key", ID),
    link("register", "201", "Approve", "approve", ID),
    link("register", "201", "Retire", "retire", ID),
    link("register", "201", "Revoke", "revoke", ID),
    link("register", "201", "LogEntry", "entry", LOG_ENTRY),
    link(
        "register",
        "201",
        "SetContact",
        "set_contact",
        SIGNER_OF_KEY,
    ),
    link("list_keys", "200", "GetFirstKey", "get_key", FIRST_OF_ARRAY),
    // MOUs: versions, statements, signatures and the evidence of them.
    link("create_mou", "201", "GetMou", "get_mou", ID),
    link("create_mou", "201", "UploadVersion", "upload", ID),
    link("create_mou", "201", "SubmitSignature", "submit", ID),
    link("create_mou", "201", "Chain", "chain", ID),
    link("create_mou", "201", "Audit", "audit_report", ID),
    link("create_mou", "201", "Bundle", "bundle", ID),
    link("create_mou", "201", "Withdraw", "withdraw", ID),
    link("create_mou", "201", "LogEntry", "entry", LOG_ENTRY),
    link("list_mous", "200", "GetFirstMou", "get_mou", FIRST_ID),
    link("upload", "201", "Document", "document", VERSION_DOCUMENT),
    link(
        "upload",
        "201",
        "FirstDocument",
        "version_document",
        VERSION_FIRST_DOCUMENT,
    ),
    link(
        "upload",
        "201",
        "SigningStatement",
        "signing_statement",
        SAME_ID,
    ),
    link("upload", "201", "LogEntry", "entry", LOG_ENTRY),
    link("submit", "201", "Chain", "chain", SAME_ID),
    link("submit", "201", "Audit", "audit_report", SAME_ID),
    link("submit", "201", "Bundle", "bundle", SAME_ID),
    link("submit", "201", "GetMou", "get_mou", SAME_ID),
    link("submit", "201", "LogEntry", "entry", LOG_ENTRY),
    link("withdraw", "200", "GetMou", "get_mou", SAME_ID),
    // Signature requests.
    link(
        "upload",
        "201",
        "SendSignatureRequests",
        "send_signature_requests",
        SAME_ID,
    ),
    link(
        "send_signature_requests",
        "201",
        "GetFirstRequest",
        "get_signature_request",
        REQUEST,
    ),
    link(
        "send_signature_requests",
        "201",
        "DeclineStatement",
        "decline_statement",
        REQUEST,
    ),
    link(
        "send_signature_requests",
        "201",
        "Decline",
        "decline_signature_request",
        REQUEST,
    ),
    link(
        "send_signature_requests",
        "201",
        "ListRequests",
        "list_signature_requests",
        SAME_ID,
    ),
    link(
        "send_signature_requests",
        "201",
        "CancelRequests",
        "cancel_signature_requests",
        SAME_ID,
    ),
    link(
        "send_signature_requests",
        "201",
        "LogEntry",
        "entry",
        LOG_ENTRY,
    ),
    link(
        "send_signature_requests",
        "201",
        "SigningLink",
        "signing_link",
        REQUEST,
    ),
    // A signing link and what its page does with it.
    link(
        "signing_link",
        "200",
        "Open",
        "open_signing_link",
        LINK_TOKEN,
    ),
    link(
        "signing_link",
        "200",
        "Statement",
        "signing_link_statement",
        LINK_TOKEN,
    ),
    link(
        "signing_link",
        "200",
        "KeyChallenge",
        "signing_link_key_challenge",
        LINK_TOKEN,
    ),
    link(
        "signing_link",
        "200",
        "RegisterKey",
        "signing_link_register_key",
        LINK_TOKEN,
    ),
    link(
        "signing_link",
        "200",
        "Answer",
        "signing_link_answer",
        LINK_TOKEN,
    ),
    link(
        "open_signing_link",
        "200",
        "FirstDocument",
        "signing_link_document",
        LINK_FIRST_DOCUMENT,
    ),
    link("signing_link_answer", "201", "LogEntry", "entry", LOG_ENTRY),
    link(
        "decline_signature_request",
        "201",
        "GetRequest",
        "get_signature_request",
        DECLINED_REQUEST,
    ),
    link(
        "decline_signature_request",
        "201",
        "LogEntry",
        "entry",
        LOG_ENTRY,
    ),
    link(
        "cancel_signature_requests",
        "200",
        "LogEntry",
        "entry",
        LOG_ENTRY,
    ),
    // Webhook endpoints and their messages.
    link(
        "register_webhook",
        "201",
        "GetWebhook",
        "get_webhook",
        ENDPOINT,
    ),
    link(
        "register_webhook",
        "201",
        "Messages",
        "list_webhook_messages",
        ENDPOINT,
    ),
    link(
        "register_webhook",
        "201",
        "RotateSecret",
        "rotate_webhook_secret",
        ENDPOINT,
    ),
    link(
        "register_webhook",
        "201",
        "SetEnabled",
        "set_webhook_enabled",
        ENDPOINT,
    ),
    link(
        "list_webhooks",
        "200",
        "GetFirstWebhook",
        "get_webhook",
        FIRST_OF_ARRAY,
    ),
    link(
        "list_webhook_messages",
        "200",
        "ResendFirst",
        "resend_webhook_message",
        FIRST_MESSAGE,
    ),
    // The log.
    link("entries", "200", "FirstEntry", "entry", FIRST_LOG_ENTRY),
];

/// Adds [`LINKS`] to the responses of the serialized document. A link whose source operation
/// or response is missing is left out; the tests make sure none is.
pub fn add_links(doc: &mut Value) {
    for (id, op) in super::openapi::operations_mut(doc) {
        for spec in LINKS.iter().filter(|l| l.from == id) {
            let Some(response) = op
                .get_mut("responses")
                .and_then(|r| r.get_mut(spec.status))
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let parameters: Map<String, Value> = spec
                .parameters
                .iter()
                .map(|(name, expression)| (name.to_string(), json!(expression)))
                .collect();
            let links = response
                .entry("links")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(links) = links.as_object_mut() {
                links.insert(
                    spec.name.to_string(),
                    json!({"operationId": spec.to, "parameters": parameters}),
                );
            }
        }
    }
}
