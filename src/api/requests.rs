//! Signature requests over HTTP (docs/signing-workflow.md): an office sends a round, anyone
//! reads who was asked and how each request ended, a signatory declines with a signed
//! statement, an office cancels. The rules are in `domain::requests` and the use cases in
//! `app::requests`.

use crate::domain::ids::RequestId;
use crate::domain::schemas as S;
use crate::domain::{ErrorCode, MouId};
use actix_web::{HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::openapi::Problem;
use crate::app::requests::{self as use_case, NewRound};
use crate::crypto::statement::mou_decline_namespace;
use crate::db;
use crate::domain::DomainError;
use crate::domain::access::{require_document_reader, require_office};
use crate::domain::dates::{format_micros, parse_instant};
use crate::domain::mous::{DEFAULT_ROLE, MouState, validate_withdraw_reason};
use crate::domain::requests::{
    ReminderPlan, RequestState, RequestedSigner, SignatureRequest, decline_statement_for,
    parse_decline, parse_signer, validate_decline_reason,
};
use crate::error::ApiError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    /// The signatory, `<handle>@<city code>`, of a party city, with a registered key.
    #[schema(value_type = S::Signer)]
    pub signer: String,
    /// Default `signatory`.
    #[schema(value_type = Option<S::SignerRole>)]
    pub role: Option<String>,
    /// Default 1. Group 1 signs first; nobody of group 2 signs before all of group 1 have.
    #[schema(value_type = Option<S::SequenceGroup>)]
    #[serde(default, deserialize_with = "crate::api::json_numbers::opt_i64")]
    pub group: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundBody {
    /// When the pending requests expire: in the future, at most 366 days ahead.
    #[schema(value_type = S::Instant)]
    pub deadline: String,
    /// Who to ask, each once.
    #[schema(min_items = 1, max_items = 50)]
    pub requests: Vec<AskBody>,
    /// When to remind the signatories who have not answered; each member left out takes the
    /// registry's default (AMITY_REMINDER_*).
    pub reminders: Option<RemindersBody>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemindersBody {
    /// Remind this many days before the deadline (0: not).
    #[schema(value_type = Option<S::ReminderDays>)]
    #[serde(default, deserialize_with = "crate::api::json_numbers::opt_i64")]
    pub before_deadline_days: Option<i64>,
    /// Remind every this many days after the request (0: not).
    #[schema(value_type = Option<S::ReminderDays>)]
    #[serde(default, deserialize_with = "crate::api::json_numbers::opt_i64")]
    pub every_days: Option<i64>,
    /// At most this many reminders per request (0: none).
    #[schema(value_type = Option<S::ReminderCount>)]
    #[serde(default, deserialize_with = "crate::api::json_numbers::opt_i64")]
    pub max: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeclineView {
    pub reason: String,
    /// The signed decline statement, standard base64.
    pub statement: String,
    /// Its armored SSHSIG.
    pub signature: String,
    /// `amity-mou-decline-v1@<registry>`.
    pub namespace: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    pub mou: String,
    pub round: i32,
    /// The version the signatory is asked to sign.
    pub version: i32,
    pub signer: String,
    pub signer_city: String,
    pub role: String,
    pub group: i32,
    pub deadline: String,
    pub state: RequestState,
    pub requested_by_city: String,
    pub requested_at: String,
    /// The log entry of the round.
    pub log_index: i64,
    pub answered_at: Option<String>,
    /// The log entry that ended the request.
    pub answer_log_index: Option<i64>,
    /// The chain position of the signature that answered it.
    pub signature_seq: Option<i64>,
    pub decline: Option<DeclineView>,
    /// Reminders sent so far, and when the next is due (none once answered or spent).
    pub reminders_sent: i32,
    pub next_reminder_at: Option<String>,
}

impl RequestView {
    pub fn new(r: SignatureRequest, registry: &str) -> RequestView {
        let declined = match (r.decline_reason, r.decline_statement, r.decline_signature) {
            (Some(reason), Some(statement), Some(signature)) => Some(DeclineView {
                reason,
                statement: STANDARD.encode(statement),
                signature,
                namespace: mou_decline_namespace(registry),
            }),
            _ => None,
        };
        RequestView {
            id: r.id,
            mou: r.mou_id,
            round: r.round,
            version: r.version,
            signer: r.signer,
            signer_city: r.signer_city,
            role: r.role,
            group: r.group,
            deadline: format_micros(r.deadline),
            state: r.state,
            requested_by_city: r.requested_by_city,
            requested_at: format_micros(r.requested_at),
            log_index: r.log_index,
            answered_at: r.answered_at.map(format_micros),
            answer_log_index: r.answer_log_index,
            signature_seq: r.signature_seq,
            decline: declined,
            reminders_sent: r.reminders_sent,
            next_reminder_at: r
                .next_reminder_at
                .filter(|_| r.state == RequestState::Pending)
                .map(format_micros),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoundView {
    pub mou: String,
    pub round: i32,
    /// The MOU's state now (`open` again when the round reopened a declined or expired MOU).
    pub state: MouState,
    pub log_index: i64,
    pub requests: Vec<RequestView>,
}

/// Validates a round's shape: signers, roles and groups, and the deadline as an instant.
pub fn new_round(b: RoundBody, defaults: ReminderPlan) -> Result<NewRound, DomainError> {
    let deadline = parse_instant("deadline", &b.deadline)?;
    let r = b.reminders.unwrap_or_default();
    let pick = |given: Option<i64>, default: i32| {
        given.map_or(Ok(default), |v| {
            i32::try_from(v).map_err(|_| {
                DomainError::new(ErrorCode::InvalidReminders, format!("{v} is out of range"))
            })
        })
    };
    let reminders = ReminderPlan {
        before_days: pick(r.before_deadline_days, defaults.before_days)?,
        every_days: pick(r.every_days, defaults.every_days)?,
        max: pick(r.max, defaults.max)?,
    };
    crate::domain::requests::validate_reminders(&reminders)?;
    let requests = b
        .requests
        .into_iter()
        .map(|a| {
            let city = parse_signer(&a.signer)?;
            let group = a.group.unwrap_or(1);
            let group = i32::try_from(group)
                .ok()
                .filter(|g| (1..=50).contains(g))
                .ok_or_else(|| {
                    DomainError::new(
                        ErrorCode::InvalidSequenceGroups,
                        format!("group {group} is not in 1..=50"),
                    )
                })?;
            Ok(RequestedSigner {
                signer: a.signer,
                city,
                role: a.role.unwrap_or_else(|| DEFAULT_ROLE.into()),
                group,
            })
        })
        .collect::<Result<Vec<_>, DomainError>>()?;
    Ok(NewRound {
        deadline,
        requests,
        reminders,
    })
}

/// The registry's default reminder plan (AMITY_REMINDER_*).
pub fn default_reminders(settings: &crate::config::Settings) -> ReminderPlan {
    ReminderPlan {
        before_days: settings.reminder_before_days,
        every_days: settings.reminder_every_days,
        max: settings.reminder_max,
    }
}

/// Send the current version for signature (office of a party city): name the signatories,
/// their roles and sequence groups, and a deadline. Pending requests of an earlier round are
/// cancelled; a declined or expired MOU is open again. While the round has pending requests,
/// only the signatories asked may sign, group by group.
#[utoipa::path(
    tag = "signatures",
    operation_id = "send_signature_requests",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "MOU id")),
    request_body = RoundBody,
    responses(
        (status = 201, body = RoundView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/mous/{id}/signature-requests")]
pub async fn send(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<RoundBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let id = MouId::from_path(&id)?;
    let round = new_round(json_body(body)?, default_reminders(&state.settings))?;
    let links = state.links.clone();
    let sent = state
        .write(move |tx| use_case::send_round(tx, principal.as_ref(), &id, round, &links))
        .await?;
    let registry = &state.settings.origin;
    Ok(HttpResponse::Created().json(RoundView {
        mou: sent.mou.id.to_string(),
        round: sent.round,
        state: sent.mou.state,
        log_index: sent.log_index,
        requests: sent
            .requests
            .into_iter()
            .map(|r| RequestView::new(r, registry))
            .collect(),
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RequestsView {
    pub mou: String,
    pub state: MouState,
    /// Every request of every round, by round, group and signer.
    pub requests: Vec<RequestView>,
}

/// Who was asked to sign the MOU, in which order and by when, and how each request ended
/// (signed, declined with the reason, expired, cancelled). Public, like the log.
#[utoipa::path(
    tag = "signatures",
    operation_id = "list_signature_requests",
    params(("id" = String, Path, description = "MOU id")),
    responses((status = 200, body = RequestsView), (status = 404, body = Problem))
)]
#[get("/mous/{id}/signature-requests")]
pub async fn list(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = MouId::from_path(&id)?;
    let (mou, requests) = state
        .read(move |c| {
            let mou = db::mous::require(c, &id)?;
            let requests = db::requests::list(c, id.as_str())?;
            Ok((mou, requests))
        })
        .await?;
    let registry = &state.settings.origin;
    Ok(HttpResponse::Ok().json(RequestsView {
        mou: mou.id.to_string(),
        state: mou.state,
        requests: requests
            .into_iter()
            .map(|r| RequestView::new(r, registry))
            .collect(),
    }))
}

/// Reads one request of MOU `id`, or answers 404 `request_not_found`.
async fn require_request(
    state: &AppState,
    id: MouId,
    request: String,
) -> Result<SignatureRequest, ApiError> {
    state
        .read(move |c| {
            db::mous::require(c, &id)?;
            db::requests::require(c, id.as_str(), &request)
        })
        .await
}

/// One signature request. Public.
#[utoipa::path(
    tag = "signatures",
    operation_id = "get_signature_request",
    params(
        ("id" = String, Path, description = "MOU id"),
        ("request" = String, Path, description = "Signature request id")
    ),
    responses((status = 200, body = RequestView), (status = 404, body = Problem))
)]
#[get("/mous/{id}/signature-requests/{request}")]
pub async fn get(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, request) = path.into_inner();
    let id = MouId::from_path(&id)?;
    let request = RequestId::from_path(&request)?.into_string();
    let r = require_request(&state, id, request).await?;
    Ok(HttpResponse::Ok().json(RequestView::new(r, &state.settings.origin)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeclineStatementQuery {
    /// Why the signatory declines, in their words.
    #[param(value_type = S::DeclineReason, inline)]
    pub reason: String,
    /// The `SHA256:` fingerprint of the key to sign with, when the signer has several.
    #[param(value_type = Option<S::KeyFingerprint>, inline)]
    pub key: Option<String>,
}

/// The decline statement members (docs/formats/statements.md). Only for the document: the
/// server sends the canonical bytes it built, never this struct.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DeclineStatementShape {
    #[schema(example = "decline")]
    action: String,
    declined_at: String,
    #[schema(value_type = S::Sha256Hex)]
    doc_sha256: String,
    #[schema(value_type = S::Id)]
    mou_id: String,
    mou_version: i32,
    #[schema(value_type = S::DeclineReason)]
    reason: String,
    registry: String,
    #[schema(value_type = S::Id)]
    request_id: String,
    #[schema(value_type = S::SignerRole)]
    role: String,
    #[schema(value_type = S::Signer)]
    signer: String,
    #[schema(value_type = S::CityCodeText)]
    signer_city: String,
    #[schema(value_type = S::KeyFingerprint)]
    signer_key: String,
    r#type: String,
}

/// The exact decline statement bytes for this request and reason (offices of the party
/// cities, auditors, admins). Sign them with
/// `ssh-keygen -Y sign -n amity-mou-decline-v1@<registry>` and submit them to `decline`.
#[utoipa::path(
    tag = "signatures",
    operation_id = "decline_statement",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "MOU id"),
        ("request" = String, Path, description = "Signature request id"),
        DeclineStatementQuery
    ),
    responses(
        (status = 200, description = "The statement bytes (canonical JSON, docs/formats/statements.md): sign them as they are", body = DeclineStatementShape, content_type = "application/json"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[get("/mous/{id}/signature-requests/{request}/decline-statement")]
pub async fn decline_statement(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    query: Result<web::Query<DeclineStatementQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    crate::domain::access::authenticated(principal.as_ref())?;
    let (id, request) = path.into_inner();
    let id = MouId::from_path(&id)?;
    let request = RequestId::from_path(&request)?.into_string();
    let q = query
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
        .into_inner();
    let key = id.clone();
    let (mou, partnership) = state
        .read(move |c| db::mous::require_with_partnership(c, &key))
        .await?;
    require_document_reader(principal.as_ref(), &partnership.parties())?;
    validate_decline_reason(&q.reason)?;
    let now = state.db.now();
    let registry = state.settings.origin.clone();
    let statement = state
        .read(move |c| {
            let r = db::requests::require(c, mou.id.as_str(), &request)?;
            crate::domain::requests::check_pending(&r)?;
            crate::domain::requests::check_before_deadline(&r, now)?;
            let keys = db::keys::list(c, &r.signer_city, Some(&r.signer))?;
            let mut usable: Vec<_> = keys
                .into_iter()
                .filter(|k| k.role == r.role && k.active_at(now))
                .filter(|k| q.key.as_ref().is_none_or(|f| &k.fingerprint == f))
                .collect();
            let key = match usable.len() {
                1 => usable.remove(0),
                0 => {
                    return Err(DomainError::new(
                        ErrorCode::NoActiveKey,
                        format!(
                            "`{}` has no active key for the role `{}` (matching `key`)",
                            r.signer, r.role
                        ),
                    )
                    .into());
                }
                _ => {
                    return Err(DomainError::new(
                        ErrorCode::AmbiguousKey,
                        "this signer has several active keys; name one with `key=SHA256:...`",
                    )
                    .into());
                }
            };
            let doc = db::mous::version_commitment(c, &mou.id, r.version)?
                .ok_or_else(|| db::DbError::corrupt("request for a version without a document"))?;
            let declined_at = chrono::DateTime::<chrono::Utc>::from_timestamp_micros(now)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            decline_statement_for(&r, &doc, &key, &q.reason, &registry, &declined_at)
                .to_bytes()
                .map_err(|e| db::DbError::from(crate::domain::keys::statement_error(e)))
        })
        .await?;
    Ok(super::signatures::statement_response(statement))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineBody {
    /// The exact decline statement bytes that were signed, standard base64.
    #[schema(value_type = S::Base64)]
    pub statement: String,
    /// The armored SSHSIG (`-----BEGIN SSH SIGNATURE-----`) in namespace
    /// `amity-mou-decline-v1@<registry>`.
    #[schema(value_type = S::ArmoredSshsig)]
    pub signature: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeclinedView {
    pub request: RequestView,
    /// The MOU's state now: `declined`, or `executed` when the MOU was already executed.
    pub state: MouState,
    pub log_index: i64,
}

/// Submit a signatory's decline (office of the signatory's city): the decline statement from
/// `decline-statement`, signed with the signatory's registered key. Unless the MOU is already
/// executed, the round ends: the MOU is `declined` and the other pending requests are
/// cancelled.
#[utoipa::path(
    tag = "signatures",
    operation_id = "decline_signature_request",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "MOU id"),
        ("request" = String, Path, description = "Signature request id")
    ),
    request_body = DeclineBody,
    responses(
        (status = 201, body = DeclinedView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/mous/{id}/signature-requests/{request}/decline")]
pub async fn decline(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody<DeclineBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let (id, request) = path.into_inner();
    let id = MouId::from_path(&id)?;
    let request = RequestId::from_path(&request)?.into_string();
    let b = json_body(body)?;
    let registry = state.settings.origin.clone();
    let sub = parse_decline(&b.statement, &b.signature, &registry, id.as_str(), &request)?;
    let done = state
        .write(move |tx| use_case::decline(tx, principal.as_ref(), &id, &request, sub, &registry))
        .await?;
    Ok(HttpResponse::Created().json(DeclinedView {
        request: RequestView::new(done.request, &state.settings.origin),
        state: done.mou.state,
        log_index: done.log_index,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    #[schema(value_type = S::RequiredParagraph)]
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CancelledView {
    /// The requests cancelled.
    pub cancelled: Vec<String>,
    pub log_index: i64,
}

/// Cancel the pending requests of the current round, with a reason (office of a party city).
/// The MOU's state does not change; signing is open to every signatory again.
#[utoipa::path(
    tag = "signatures",
    operation_id = "cancel_signature_requests",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "MOU id")),
    request_body = CancelBody,
    responses(
        (status = 200, body = CancelledView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/mous/{id}/cancel-requests")]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<CancelBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let id = MouId::from_path(&id)?;
    let reason = validate_withdraw_reason(&json_body(body)?.reason).map_err(|e| {
        if e.code == ErrorCode::ReasonRequired {
            DomainError::new(
                ErrorCode::ReasonRequired,
                "cancelling requests needs a `reason`",
            )
        } else {
            e
        }
    })?;
    let (log_index, cancelled) = state
        .write(move |tx| use_case::cancel(tx, principal.as_ref(), &id, reason))
        .await?;
    Ok(HttpResponse::Ok().json(CancelledView {
        cancelled,
        log_index,
    }))
}
