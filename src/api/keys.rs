//! Signatory keys: challenge, registration with proof of possession, approval, retirement,
//! revocation, and the public listing.

use crate::domain::schemas as S;
use crate::domain::{ErrorCode, KeyId};
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::openapi::Problem;
use crate::db;
use crate::domain::access::{
    require_admin, require_city_office, require_city_office_or_admin, require_office_or_admin,
};
use crate::domain::cities::CityCode;
use crate::domain::dates::{format_micros, now_micros, parse_instant};
use crate::domain::keys::{
    KeyChange, KeyStatus, RegistrationInput, SignatoryKey, verify_registration,
};
use crate::error::ApiError;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChallengeView {
    /// Put this in the key-registration statement; usable once, for 10 minutes.
    pub challenge: String,
    pub expires_at: String,
    /// The registry origin the statement must name.
    pub registry: String,
    /// `amity-key-v1@<registry>`: the SSHSIG namespace of the proof.
    pub namespace: String,
}

/// A city code from the path; one that cannot be a code names no city (404).
pub(crate) fn city_code(code: &str) -> Result<CityCode, ApiError> {
    CityCode::parse(code).map_err(|e| ApiError::new(ErrorCode::CityNotFound, e.message))
}

/// A single-use registration challenge (office of the city).
#[utoipa::path(
    tag = "keys",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "City code")),
    responses(
        (status = 200, body = ChallengeView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/cities/{code}/keys/challenge")]
pub async fn challenge(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let city = city_code(&code)?;
    require_city_office(principal.as_ref(), &city)?;
    let token = principal.as_ref().map(|p| p.token_id.clone());
    let (challenge, expires_at) = state
        .side_write(move |c| db::keys::issue_challenge(c, &city, token, now_micros()))
        .await?;
    Ok(challenge_response(&state, challenge, expires_at))
}

/// A fresh challenge as answered (never cached): with the registry and namespace the
/// registration statement must name. Also answers a signing link's challenge.
pub fn challenge_response(state: &AppState, issued: String, expires_at: i64) -> HttpResponse {
    let registry = state.settings.origin.clone();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ChallengeView {
            challenge: issued,
            expires_at: format_micros(expires_at),
            namespace: crate::crypto::statement::key_event_namespace(&registry),
            registry,
        })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofBody {
    /// The key-registration statement bytes, standard base64.
    #[schema(value_type = S::Base64)]
    pub statement: String,
    /// Armored SSHSIG over them by the key being registered, namespace `amity-key-v1@<registry>`.
    #[schema(value_type = S::ArmoredSshsig)]
    pub signature: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// `<handle>@<city code>`.
    #[schema(value_type = S::Signer, example = "j.doe@us-hou")]
    pub signer: String,
    #[schema(value_type = S::SignerRole, example = "signatory")]
    pub role: String,
    /// OpenSSH public key line: `ssh-ed25519 AAAA... [comment]`.
    #[schema(value_type = S::SshEd25519Key)]
    pub public_key: String,
    pub proof: ProofBody,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub public_key: String,
    pub city: String,
    pub signer: String,
    pub role: String,
    pub status: KeyStatus,
    pub registered_at: String,
    /// Start of the validity window (approval).
    pub valid_from: Option<String>,
    /// End of the validity window (retirement), if any.
    pub valid_until: Option<String>,
    pub revoked_at: Option<String>,
    /// Signatures received from this instant on are void; null on a revoked key means every
    /// signature by it is void.
    pub compromised_since: Option<String>,
    pub log_index: i64,
}

impl KeyView {
    pub fn new(k: SignatoryKey, now: i64) -> Self {
        KeyView {
            status: k.status_at(now),
            fingerprint: k.fingerprint,
            public_key: k.public_key.to_openssh_line_without_comment(),
            city: k.city.to_string(),
            signer: k.signer,
            role: k.role,
            registered_at: format_micros(k.registered_at),
            valid_from: k.approved_at.map(format_micros),
            valid_until: k.retire_effective_at.map(format_micros),
            revoked_at: k.revoked_at.map(format_micros),
            compromised_since: k.compromised_since.map(format_micros),
            log_index: k.log_index,
            id: k.id.into_string(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyChangeView {
    pub key: KeyView,
    pub log_index: i64,
}

/// Register a signatory's key with proof of possession (office of the city). The key is
/// `pending` until an admin approves it, unless the registry auto-approves.
#[utoipa::path(
    tag = "keys",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "City code")),
    request_body = NewKeyBody,
    responses(
        (status = 201, body = KeyView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "key already registered"),
        (status = 422, body = Problem, description = "weak or non-canonical key, bad proof, bad challenge")
    )
)]
#[post("/cities/{code}/keys")]
pub async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: JsonBody<NewKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let city = city_code(&code)?;
    require_city_office(principal.as_ref(), &city)?;
    let b = json_body(body)?;
    let registration = verify_registration(RegistrationInput {
        city: &city,
        signer: &b.signer,
        role: &b.role,
        public_key: &b.public_key,
        statement_b64: &b.proof.statement,
        signature: &b.proof.signature,
        registry: &state.settings.origin,
    })?;
    let auto = state.settings.auto_approve_keys;
    let token = principal.as_ref().map(|p| p.token_id.clone());
    let key = state
        .write(move |tx| db::keys::register(tx, registration, auto, token))
        .await?;
    Ok(created(key, now_micros()))
}

/// 201 with a newly registered key and where it lives; also a signing link's registration.
pub fn created(key: SignatoryKey, now: i64) -> HttpResponse {
    let view = KeyView::new(key, now);
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/keys/{}", view.id)))
        .json(view)
}

/// A city's signatory keys with status and validity window. Public.
#[utoipa::path(
    operation_id = "list_keys",
    tag = "keys",
    params(("code" = String, Path, description = "City code")),
    responses((status = 200, body = Vec<KeyView>), (status = 404, body = Problem))
)]
#[get("/cities/{code}/keys")]
pub async fn list(
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let city = city_code(&code)?;
    let keys = state
        .read(move |c| {
            db::cities::require_in_path(c, &city)?;
            db::keys::list(c, city.as_str(), None)
        })
        .await?;
    let now = now_micros();
    let views: Vec<KeyView> = keys.into_iter().map(|k| KeyView::new(k, now)).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// One key. Public.
#[utoipa::path(
    operation_id = "get_key",
    tag = "keys",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 200, body = KeyView), (status = 404, body = Problem))
)]
#[get("/keys/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = KeyId::from_path(&id)?;
    let key = state.read(move |c| db::keys::require(c, &id)).await?;
    Ok(HttpResponse::Ok().json(KeyView::new(key, now_micros())))
}

/// Approve a pending key (admin).
#[utoipa::path(
    tag = "keys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id")),
    responses(
        (status = 200, body = KeyChangeView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)
    )
)]
#[post("/keys/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = require_admin(caller.principal()?)?.clone();
    let id = KeyId::from_path(&id)?;
    let (key, log_index) = state
        .write(move |tx| db::keys::approve(tx, &id, Some(principal.token_id)))
        .await?;
    Ok(HttpResponse::Ok().json(KeyChangeView {
        key: KeyView::new(key, now_micros()),
        log_index,
    }))
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RetireBody {
    /// RFC 3339; default now. Signatures received before it stay valid.
    #[schema(value_type = Option<S::Instant>)]
    pub effective_at: Option<String>,
    #[schema(value_type = Option<S::Paragraph>)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// RFC 3339. Signatures received at or after it are void; leave it out when unknown, and
    /// every signature by the key is void.
    #[schema(value_type = Option<S::Instant>)]
    pub compromised_since: Option<String>,
    #[schema(value_type = Option<S::Paragraph>)]
    pub reason: Option<String>,
}

async fn apply_change(
    state: web::Data<AppState>,
    caller: Caller,
    id: String,
    change: impl FnOnce(i64) -> Result<KeyChange, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let change = change(now_micros())?;
    // The body is checked before the id, as when a malformed id simply found no key.
    let id = KeyId::from_path(&id)?;
    let token = principal.as_ref().map(|p| p.token_id.clone());
    let (key, log_index) = state
        .write(move |tx| {
            db::keys::change(tx, &id, change, token, |k| {
                require_city_office_or_admin(principal.as_ref(), &k.city)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(KeyChangeView {
        key: KeyView::new(key, now_micros()),
        log_index,
    }))
}

/// Retire a key (office of its city, or an admin).
#[utoipa::path(
    tag = "keys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id")),
    request_body = RetireBody,
    responses(
        (status = 200, body = KeyChangeView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/keys/{id}/retire")]
pub async fn retire(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<RetireBody>,
) -> Result<HttpResponse, ApiError> {
    // Authentication and role before the body; the city check needs the key, so it runs in
    // the write.
    require_office_or_admin(caller.principal()?)?;
    let b = json_body(body)?;
    apply_change(state, caller, id.into_inner(), move |now| {
        let at = b
            .effective_at
            .as_deref()
            .map(|t| parse_instant("effective_at", t))
            .transpose()?;
        Ok(KeyChange::retire(at, b.reason.as_deref(), now)?)
    })
    .await
}

/// Revoke a key, with the time it is known to be compromised since (office of its city, or an
/// admin).
#[utoipa::path(
    tag = "keys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id")),
    request_body = RevokeBody,
    responses(
        (status = 200, body = KeyChangeView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/keys/{id}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<RevokeBody>,
) -> Result<HttpResponse, ApiError> {
    require_office_or_admin(caller.principal()?)?;
    let b = json_body(body)?;
    apply_change(state, caller, id.into_inner(), move |now| {
        let since = b
            .compromised_since
            .as_deref()
            .map(|t| parse_instant("compromised_since", t))
            .transpose()?;
        Ok(KeyChange::revoke(since, b.reason.as_deref(), now)?)
    })
    .await
}
