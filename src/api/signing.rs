//! Signing through a link (docs/browser-signing.md): the JSON the signing page works with.
//! The path's token is the only credential: it names one signature request, and every
//! operation here is limited to that request's signer, role, MOU and version
//! (`app::signing`). An office fetches its signatory's link with `issue_link`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::keys::{ChallengeView, KeyView, ProofBody};
use super::mous::{ChainHead, DocumentView, document_views};
use super::openapi::Problem;
use super::signatures::{SignatureBody, statement_response};
use crate::app::signing as use_case;
use crate::db;
use crate::domain::ErrorCode;
use crate::domain::access::require_office;
use crate::domain::dates::format_micros;
use crate::domain::ids::{MouId, RequestId};
use crate::domain::keys::{RegistrationInput, verify_registration};
use crate::domain::mous::MouState;
use crate::domain::requests::{RequestState, check_pending};
use crate::domain::schemas as S;
use crate::error::ApiError;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SigningNamespaces {
    /// `amity-mou-v1@<registry>`: signatures.
    pub signature: String,
    /// `amity-mou-decline-v1@<registry>`: declines.
    pub decline: String,
    /// `amity-key-v1@<registry>`: key-registration proofs.
    pub key: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SigningView {
    /// The signature request the link is bound to.
    pub request: String,
    pub mou: String,
    pub title: String,
    pub mou_state: MouState,
    pub partnership: String,
    pub signer: String,
    pub signer_city: String,
    pub signer_city_name: String,
    /// The other city of the partnership.
    pub partner_city: String,
    pub partner_city_name: String,
    pub requested_by_city: String,
    pub role: String,
    /// The request's sequence group: earlier groups sign first.
    pub group: i32,
    pub deadline: String,
    pub state: RequestState,
    pub version: i32,
    pub documents: Vec<DocumentView>,
    /// The chain head a signature made now extends.
    pub head: ChainHead,
    /// Signers of earlier groups who have not signed yet; the signature waits for them.
    pub waiting_for: Vec<String>,
    pub registry: String,
    pub namespaces: SigningNamespaces,
    /// The signer's keys for the request's role, every status.
    pub keys: Vec<KeyView>,
    /// When the link stops working (the request's deadline).
    pub link_expires_at: String,
}

/// What a signing link shows: the request, the MOU, the partner city, the version's
/// documents with their SHA-256, the signer's keys and the namespaces to sign in. The token is
/// the credential.
#[utoipa::path(
    tag = "signing",
    operation_id = "open_signing_link",
    params(("token" = String, Path, description = "The signing link's token")),
    responses(
        (status = 200, body = SigningView),
        (status = 404, body = Problem, description = "not a link this registry issued"),
        (status = 410, body = Problem, description = "the link was used, its request is closed, or it expired")
    )
)]
#[get("/signing/{token}")]
pub async fn open_link(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let now = state.db.now();
    let t = token.clone();
    let ctx = state
        .read_current(move |c| use_case::context(c, &t, now))
        .await?;
    let view = signing_view(&state, &token, ctx);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .json(view))
}

/// The view of a link's request, shared with the signing page.
pub fn signing_view(state: &AppState, token: &str, ctx: use_case::SigningContext) -> SigningView {
    let registry = state.settings.origin.clone();
    let r = &ctx.open.request;
    let partner_city = ctx
        .partnership
        .parties()
        .iter()
        .find(|c| c.as_str() != r.signer_city)
        .map(|c| c.to_string())
        .unwrap_or_default();
    let documents = document_views(&ctx.version, |position| {
        format!("/api/v1/signing/{token}/documents/{position}")
    });
    let now = state.db.now();
    let name_of = |code: &str| {
        ctx.city_names
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| code.to_string())
    };
    SigningView {
        signer_city_name: name_of(&r.signer_city),
        partner_city_name: name_of(&partner_city),
        request: r.id.clone(),
        mou: r.mou_id.clone(),
        title: ctx.mou.title.clone(),
        mou_state: ctx.mou.state,
        partnership: ctx.partnership.id.to_string(),
        signer: r.signer.clone(),
        signer_city: r.signer_city.clone(),
        partner_city,
        requested_by_city: r.requested_by_city.clone(),
        role: r.role.clone(),
        group: r.group,
        deadline: format_micros(r.deadline),
        state: r.state,
        version: r.version,
        documents,
        head: ChainHead {
            seq: ctx.mou.head_seq,
            hash: hex::encode(ctx.mou.head_hash),
        },
        waiting_for: ctx.waiting_for,
        namespaces: SigningNamespaces {
            signature: crate::crypto::statement::mou_signature_namespace(&registry),
            decline: crate::crypto::statement::mou_decline_namespace(&registry),
            key: crate::crypto::statement::key_event_namespace(&registry),
        },
        registry,
        keys: ctx.keys.into_iter().map(|k| KeyView::new(k, now)).collect(),
        link_expires_at: format_micros(ctx.open.link.expires_at.min(r.deadline)),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LinkStatementQuery {
    /// The `SHA256:` fingerprint of the signer's key that will sign.
    #[param(value_type = S::KeyFingerprint, inline)]
    pub key: String,
    /// Give a reason to get a decline statement instead of a signature statement.
    #[param(value_type = Option<S::RequiredParagraph>, inline)]
    pub decline_reason: Option<String>,
}

/// The exact statement bytes to sign with the key `key`: a signature statement at the
/// current chain head, or with `decline_reason` a decline statement of the link's request.
#[utoipa::path(
    tag = "signing",
    operation_id = "signing_link_statement",
    params(("token" = String, Path, description = "The signing link's token"), LinkStatementQuery),
    responses(
        (status = 200, description = "The statement bytes (canonical JSON, docs/formats/statements.md): sign them as they are", body = super::signatures::StatementShape, content_type = "application/json"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 410, body = Problem), (status = 422, body = Problem)
    )
)]
#[get("/signing/{token}/statement")]
pub async fn statement(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: Result<web::Query<LinkStatementQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let q = query
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
        .into_inner();
    let now = state.db.now();
    let registry = state.settings.origin.clone();
    let bytes = state
        .read(move |c| {
            use_case::statement(
                c,
                &token,
                now,
                &q.key,
                q.decline_reason.as_deref(),
                &registry,
            )
        })
        .await?;
    Ok(statement_response(bytes))
}

/// A single-use challenge for registering the link's signer's key (10 minutes).
#[utoipa::path(
    tag = "signing",
    operation_id = "signing_link_key_challenge",
    params(("token" = String, Path, description = "The signing link's token")),
    responses(
        (status = 200, body = ChallengeView),
        (status = 404, body = Problem), (status = 410, body = Problem)
    )
)]
#[get("/signing/{token}/key-challenge")]
pub async fn key_challenge(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let now = state.db.now();
    let (challenge, expires_at) = state
        .side_write(move |c| use_case::challenge(c, &token, now))
        .await?;
    Ok(super::keys::challenge_response(
        &state, challenge, expires_at,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkKeyBody {
    /// OpenSSH public key line: `ssh-ed25519 AAAA... [comment]`.
    #[schema(value_type = S::SshEd25519Key)]
    pub public_key: String,
    /// The key-registration statement for the link's signer, city and role, signed by the key.
    pub proof: ProofBody,
}

/// Register the signer's key with proof of possession, for the link's signer and role. The
/// key is `pending` until an admin approves it, as every key registered by an office.
#[utoipa::path(
    tag = "signing",
    operation_id = "signing_link_register_key",
    params(("token" = String, Path, description = "The signing link's token")),
    request_body = LinkKeyBody,
    responses(
        (status = 201, body = KeyView),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "key already registered"),
        (status = 410, body = Problem),
        (status = 422, body = Problem, description = "weak or non-canonical key, bad proof, bad challenge")
    )
)]
#[post("/signing/{token}/keys")]
pub async fn register_key(
    state: web::Data<AppState>,
    token: web::Path<String>,
    body: JsonBody<LinkKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let b = json_body(body)?;
    let now = state.db.now();
    let t = token.clone();
    let link = state
        .read_current(move |c| use_case::resolve(c, &t, now))
        .await?;
    let city = use_case::signer_city(&link.request)?;
    let registration = verify_registration(RegistrationInput {
        city: &city,
        signer: &link.request.signer,
        role: &link.request.role,
        public_key: &b.public_key,
        statement_b64: &b.proof.statement,
        signature: &b.proof.signature,
        registry: &state.settings.origin,
    })?;
    let auto = state.settings.auto_approve_keys;
    let key = state
        .write(move |tx| use_case::register_key(tx, &token, registration, auto))
        .await?;
    Ok(super::keys::created(key, now))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LinkAnswerView {
    /// `sign` or `decline`, from the statement.
    pub action: String,
    pub log_index: i64,
    /// The MOU's state after the answer (`executed` when this signature completed it).
    pub state: MouState,
    /// The signature's chain position; null for a decline.
    pub seq: Option<i64>,
}

/// Submit the signatory's answer: a signature statement or a decline statement of the link's
/// request with its SSHSIG, checked exactly as an office's submission. The link is used up by
/// an accepted answer. A 409 `stale_chain_head` carries the new head: fetch the statement
/// again and sign again.
#[utoipa::path(
    tag = "signing",
    operation_id = "signing_link_answer",
    params(("token" = String, Path, description = "The signing link's token")),
    request_body = SignatureBody,
    responses(
        (status = 201, body = LinkAnswerView),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "stale chain head, signing out of order, key not active"),
        (status = 410, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/signing/{token}/answer")]
pub async fn answer(
    state: web::Data<AppState>,
    token: web::Path<String>,
    body: JsonBody<SignatureBody>,
) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let b = json_body(body)?;
    let registry = state.settings.origin.clone();
    let done = state
        .write(move |tx| use_case::answer(tx, &token, &b.statement, &b.signature, &registry))
        .await?;
    Ok(HttpResponse::Created().json(LinkAnswerView {
        action: done.action.to_string(),
        log_index: done.log_index,
        state: done.mou.state,
        seq: done.seq,
    }))
}

/// Download document `p` of the link's version, for the signatory to read and hash before
/// signing.
#[utoipa::path(
    tag = "signing",
    operation_id = "signing_link_document",
    params(
        ("token" = String, Path, description = "The signing link's token"),
        ("p" = i32, Path, description = "Position of the document in the version, from 1")
    ),
    responses(
        (status = 200, description = "The document bytes with their stored Content-Type", body = super::openapi::FileBytes, content_type = "*/*"),
        (status = 304, description = "If-None-Match matched"),
        (status = 404, body = Problem), (status = 410, body = Problem)
    )
)]
#[get("/signing/{token}/documents/{p}")]
pub async fn document(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (token, position) = path.into_inner();
    let now = state.db.now();
    let doc = state
        .read(move |c| use_case::document(c, &token, now, position))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::VersionNotFound,
                format!("the version has no document {position}"),
            )
        })?;
    let mut res = super::documents::stored_document_response(&state.db, &req, doc);
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    Ok(res)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SigningLinkView {
    pub request: String,
    /// The link's token: the last segment of `url`, and the `{token}` of the signing-link
    /// operations.
    pub token: String,
    pub signer: String,
    /// The page the signatory opens: `<AMITY_PUBLIC_URL>/sign/<token>`. A capability: whoever
    /// holds it may act for this request (with the signer's key), so hand it to the signatory
    /// alone.
    pub url: String,
    pub expires_at: String,
}

/// The signing link of a pending request (office of the signer's city), to hand to the
/// signatory by another way than the request e-mail. Always the same link for a request.
#[utoipa::path(
    tag = "signing",
    operation_id = "signing_link",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "MOU id"),
        ("request" = String, Path, description = "Signature request id")
    ),
    responses(
        (status = 200, body = SigningLinkView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the request is not pending")
    )
)]
#[post("/mous/{id}/signature-requests/{request}/signing-link")]
pub async fn issue_link(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let city = require_office(principal.as_ref())?.city.clone();
    let (id, request) = path.into_inner();
    let id = MouId::from_path(&id)?;
    let request = RequestId::from_path(&request)?.into_string();
    let r = state
        .read(move |c| db::requests::require(c, id.as_str(), &request))
        .await?;
    if r.signer_city != city.as_str() {
        return Err(ApiError::new(
            ErrorCode::SignerNotOfYourCity,
            format!(
                "the signer `{}` belongs to `{}`; only that city's office hands out the link",
                r.signer, r.signer_city
            ),
        ));
    }
    check_pending(&r)?;
    let token = state.links.token(&r.id);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SigningLinkView {
            url: crate::crypto::signing_link::url(&state.settings.public_url, &token),
            token,
            expires_at: format_micros(r.deadline),
            signer: r.signer,
            request: r.id,
        }))
}
