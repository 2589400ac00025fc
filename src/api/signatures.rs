//! Signing an MOU: the statement offered at the chain head, signature submission, the chain
//! and the audit report.

use crate::domain::schemas as S;
use crate::domain::{ErrorCode, MouId};
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::mous::ChainHead;
use super::openapi::Problem;
use crate::app;
use crate::db;
use crate::domain::DomainError;
use crate::domain::access::{require_document_reader, require_office};
use crate::domain::audit::AuditReport;
use crate::domain::dates::format_micros;
use crate::domain::keys::SignatoryKey;
use crate::domain::mous::{MouState, validate_role};
use crate::domain::signatures::{parse_submission, statement_for};
use crate::error::ApiError;

/// The members of an MOU signature statement (docs/formats/statements.md). Only for the
/// document: the server sends the canonical bytes it built, never this struct.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct StatementShape {
    #[schema(example = "sign")]
    action: String,
    #[schema(value_type = S::Sha256Hex)]
    doc_sha256: String,
    #[schema(value_type = S::Id)]
    mou_id: String,
    mou_version: i32,
    /// Hex SHA-256 of the previous statement of the chain; 64 zeros for the first.
    #[schema(value_type = S::Sha256Hex)]
    prev: String,
    registry: String,
    #[schema(value_type = S::SignerRole)]
    role: String,
    seq: i64,
    signed_at: String,
    #[schema(value_type = S::Signer)]
    signer: String,
    #[schema(value_type = S::CityCodeText)]
    signer_city: String,
    #[schema(value_type = S::KeyFingerprint)]
    signer_key: String,
    r#type: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// `<handle>@<city code>`; may be left out when `key` is given.
    #[param(value_type = Option<S::Signer>, inline)]
    pub signer: Option<String>,
    /// Default: the role the key is registered for.
    #[param(value_type = Option<S::SignerRole>, inline)]
    pub role: Option<String>,
    /// The `SHA256:` fingerprint of the key to sign with, when the signer has several.
    #[param(value_type = Option<S::KeyFingerprint>, inline)]
    pub key: Option<String>,
}

/// Picks the key a statement will name: the one given, or the signer's only active key.
fn pick_key(
    keys: Vec<SignatoryKey>,
    q: &StatementQuery,
    now: i64,
) -> Result<SignatoryKey, DomainError> {
    let mut usable: Vec<SignatoryKey> = keys
        .into_iter()
        .filter(|k| q.key.as_ref().is_none_or(|f| &k.fingerprint == f))
        .filter(|k| q.signer.as_ref().is_none_or(|s| &k.signer == s))
        .collect();
    match usable.len() {
        0 => Err(DomainError::new(
            ErrorCode::NoActiveKey,
            "no active registered key matches this signer (and key); register and approve one first",
        )),
        1 => {
            let key = usable.remove(0);
            key.check_can_sign(now)?;
            Ok(key)
        }
        _ => {
            usable.retain(|k| k.active_at(now));
            match usable.len() {
                1 => Ok(usable.remove(0)),
                0 => Err(DomainError::new(
                    ErrorCode::NoActiveKey,
                    "none of this signer's keys is active",
                )),
                _ => Err(DomainError::new(
                    ErrorCode::AmbiguousKey,
                    "this signer has several active keys; name one with `key=SHA256:...`",
                )),
            }
        }
    }
}

/// The exact statement bytes to sign at the current chain head (offices of the party cities,
/// auditors, admins). Check `doc_sha256` against the document you reviewed, then sign these
/// bytes with `ssh-keygen -Y sign -n amity-mou-v1@<registry>` or `amity sign`.
#[utoipa::path(
    tag = "signatures",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "MOU id"), StatementQuery),
    responses(
        (status = 200, description = "The statement bytes (canonical JSON, docs/formats/statements.md): sign them as they are", body = StatementShape, content_type = "application/json"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[get("/mous/{id}/signing-statement")]
pub async fn signing_statement(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    query: Result<web::Query<StatementQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let id = MouId::from_path(&id)?;
    let key = id.clone();
    let (mou, partnership) = state
        .read(move |c| db::mous::require_with_partnership(c, &key))
        .await?;
    require_document_reader(principal.as_ref(), &partnership.parties())?;
    let q = query
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
        .into_inner();
    if q.signer.is_none() && q.key.is_none() {
        return Err(DomainError::new(
            ErrorCode::MissingField,
            "give `signer` (and `role`), or `key`",
        )
        .into());
    }
    if let Some(role) = &q.role {
        validate_role(role)?;
    }
    match mou.state {
        MouState::Draft => {
            return Err(DomainError::new(
                ErrorCode::MouDraft,
                "this MOU has no version to sign yet",
            )
            .into());
        }
        MouState::Withdrawn => mou.check_not_withdrawn()?,
        MouState::Declined | MouState::Expired => {
            return Err(crate::domain::signatures::closed_by_requests(&mou).into());
        }
        _ => {}
    }
    let registry = state.settings.origin.clone();
    let statement = state
        .read(move |c| {
            let keys = match (&q.key, &q.signer) {
                (Some(f), _) => db::keys::by_fingerprint(c, f)?.into_iter().collect(),
                (None, Some(signer)) => {
                    let city = signer.rsplit_once('@').map(|(_, c)| c).unwrap_or_default();
                    db::keys::list(c, city, Some(signer))?
                }
                (None, None) => Vec::new(),
            };
            let now = crate::domain::dates::now_micros();
            let key = pick_key(keys, &q, now)?;
            if !partnership.parties().iter().any(|p| **p == key.city) {
                return Err(DomainError::new(
                    ErrorCode::NotAParty,
                    format!("`{}` is not a party to this MOU's partnership", key.city),
                )
                .into());
            }
            let documents = db::mous::current_version(c, &mou)?
                .ok_or_else(|| db::DbError::corrupt("open MOU without a version"))?
                .commitment();
            let role = q.role.clone().unwrap_or_else(|| key.role.clone());
            let signed_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let st = statement_for(&mou, &documents, &key, &role, &registry, &signed_at);
            st.to_bytes()
                .map_err(|e| db::DbError::from(crate::domain::keys::statement_error(e)))
        })
        .await?;
    Ok(statement_response(statement))
}

/// A statement to sign, as bytes: exactly what the signatory signs, never cached (it names the
/// chain head or the time).
pub fn statement_response(statement: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(statement)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureBody {
    /// The exact statement bytes that were signed, standard base64.
    #[schema(value_type = S::Base64)]
    pub statement: String,
    /// The armored SSHSIG (`-----BEGIN SSH SIGNATURE-----`).
    #[schema(value_type = S::ArmoredSshsig)]
    pub signature: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AcceptedView {
    pub seq: i64,
    pub statement_sha256: String,
    pub log_index: i64,
    pub state: MouState,
    /// Log index of the partnership's status event when this signature executed the MOU of a
    /// proposed partnership (which is now active).
    pub partnership_activated: Option<i64>,
}

/// Submit a signature (office of the signer's city). Runs the full acceptance algorithm; a
/// 409 `stale_chain_head` carries the current head: fetch the statement again and re-sign.
#[utoipa::path(
    tag = "signatures",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "MOU id")),
    request_body = SignatureBody,
    responses(
        (status = 201, body = AcceptedView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "stale chain head, superseded version, replay, key not active"),
        (status = 422, body = Problem)
    )
)]
#[post("/mous/{id}/signatures")]
pub async fn submit(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<SignatureBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let city = require_office(principal.as_ref())?.city.clone();
    let b = json_body(body)?;
    let registry = state.settings.origin.clone();
    // The statement is checked against the path first, as before ids were typed: a statement
    // for another MOU is refused as such even when the path names no MOU.
    let sub = parse_submission(&b.statement, &b.signature, &registry, &id)?;
    let id = MouId::from_path(&id)?;
    let token = principal.as_ref().map(|p| p.token_id.clone());
    let accepted = state
        .write(move |tx| db::mous::add_signature(tx, &id, sub, &city, &registry, token))
        .await?;
    Ok(HttpResponse::Created().json(AcceptedView {
        seq: accepted.seq,
        statement_sha256: hex::encode(accepted.statement_sha256),
        log_index: accepted.log_index,
        state: accepted.mou.state,
        partnership_activated: accepted.partnership_activated,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChainLinkView {
    pub seq: i64,
    pub version: i32,
    pub signer: String,
    pub signer_city: String,
    pub role: String,
    pub key: String,
    pub key_fingerprint: Option<String>,
    /// The exact signed bytes, standard base64.
    pub statement: String,
    pub statement_sha256: String,
    /// The armored SSHSIG as submitted.
    pub signature: String,
    pub received_at: String,
    pub log_index: i64,
}

impl ChainLinkView {
    /// A stored signature as served, with its key's fingerprint when `keys` holds the key.
    fn from_row(r: db::mous::SignatureRow, keys: &[SignatoryKey]) -> ChainLinkView {
        ChainLinkView {
            key_fingerprint: keys
                .iter()
                .find(|k| k.id == r.key_id)
                .map(|k| k.fingerprint.clone()),
            seq: r.seq,
            version: r.version,
            signer: r.signer,
            signer_city: r.signer_city,
            role: r.role,
            key: r.key_id,
            statement: STANDARD.encode(&r.statement),
            statement_sha256: hex::encode(&r.statement_sha256),
            signature: String::from_utf8_lossy(&r.signature).into_owned(),
            received_at: format_micros(r.received_at),
            log_index: r.log_index,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChainView {
    pub mou: String,
    pub registry: String,
    /// `amity-mou-v1@<registry>`: the SSHSIG namespace of every signature here.
    pub namespace: String,
    pub head: ChainHead,
    pub signatures: Vec<ChainLinkView>,
}

/// The MOU's signature chain: every statement and signature exactly as stored, so anyone can
/// re-verify it with `ssh-keygen -Y verify` or `amity verify`. Public.
#[utoipa::path(
    tag = "signatures",
    params(("id" = String, Path, description = "MOU id")),
    responses((status = 200, body = ChainView), (status = 404, body = Problem))
)]
#[get("/mous/{id}/chain")]
pub async fn chain(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = MouId::from_path(&id)?;
    // A short read: the MOU by id, then its chain walked in the (mou_id, seq) index (one row
    // per signature, a few dozen for an executed MOU) and the keys by id.
    let (mou, rows, keys) = state
        .read_short(move |c| {
            let mou = db::mous::require(c, &id)?;
            let rows = db::mous::chain(c, &id)?;
            let keys = db::keys::of_signatures(c, &rows)?;
            Ok((mou, rows, keys))
        })
        .await?;
    let registry = state.settings.origin.clone();
    let signatures = rows
        .into_iter()
        .map(|r| ChainLinkView::from_row(r, &keys))
        .collect();
    Ok(HttpResponse::Ok().json(ChainView {
        namespace: crate::crypto::statement::mou_signature_namespace(&registry),
        registry,
        head: ChainHead {
            seq: mou.head_seq,
            hash: hex::encode(mou.head_hash),
        },
        mou: mou.id.into_string(),
        signatures,
    }))
}

/// The query of `GET /signatures`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SignatureListQuery {
    /// Signatures per page, 1-5000 (default 1000).
    #[param(value_type = Option<S::BulkPageLimit>, inline)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(value_type = Option<S::Cursor>, inline)]
    pub cursor: Option<String>,
}

/// One signature of the registry-wide list: a chain link as `GET /mous/{id}/chain` serves it,
/// with the MOU it belongs to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignatureListItem {
    pub mou: String,
    #[serde(flatten)]
    pub link: ChainLinkView,
}

/// The position in a cursor of `GET /signatures`: the last row's `seq:mou_id` (see `list`),
/// `seq` first so that the MOU id after the first `:` is taken whole.
fn decode_signature_cursor(cursor: Option<&str>) -> Result<Option<(String, i64)>, ApiError> {
    let Some(key) = super::pagination::decode_cursor(cursor)? else {
        return Ok(None);
    };
    key.split_once(':')
        .and_then(|(seq, mou)| {
            let seq = seq.parse::<i64>().ok().filter(|s| *s >= 0)?;
            (!mou.is_empty()).then(|| (mou.to_string(), seq))
        })
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidCursor,
                "`cursor` is not one this server issued",
            )
        })
}

/// Every MOU signature of the registry, MOU by MOU (in id order) and each chain oldest first,
/// in pages of up to 5000: what `amity audit` re-verifies, read in a few requests instead of
/// one chain per MOU. Public, like each chain.
#[utoipa::path(
    operation_id = "list_signatures",
    tag = "signatures",
    params(SignatureListQuery),
    responses(
        (status = 200, body = super::pagination::Page<SignatureListItem>),
        (status = 400, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[get("/signatures")]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<SignatureListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = super::pagination::bulk_limit(q.limit)?;
    let after = decode_signature_cursor(q.cursor.as_deref())?;
    let (rows, keys) = state
        .read(move |c| {
            let after = after.as_ref().map(|(mou, seq)| (mou.as_str(), *seq));
            let rows = db::mous::signatures_after(c, after, limit + 1)?;
            let keys = db::keys::of_signatures(c, &rows)?;
            Ok((rows, keys))
        })
        .await?;
    let page = super::pagination::Page::from_rows(
        rows,
        limit,
        // The position `decode_signature_cursor` reads back.
        |r| format!("{}:{}", r.seq, r.mou_id),
        |r| SignatureListItem {
            mou: r.mou_id.clone(),
            link: ChainLinkView::from_row(r, &keys),
        },
    );
    Ok(HttpResponse::Ok().json(page))
}

/// The audit report: the MOU as the server's tables hold it, packed as an evidence bundle
/// proven into the current signed checkpoint and checked by the same rules engine as
/// `amity verify` (docs/audit-rules.md), plus every stored document's bytes against its
/// stored hash and the recorded chain head; pass or fail per check, and an overall verdict.
/// Public (it reveals hashes, never document bytes).
#[utoipa::path(
    tag = "signatures",
    params(("id" = String, Path, description = "MOU id")),
    responses(
        (status = 200, body = AuditReport),
        (status = 404, body = Problem),
        (status = 503, body = Problem, description = "the log kept growing under the read; retry")
    )
)]
#[get("/mous/{id}/audit")]
pub async fn audit_report(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = MouId::from_path(&id)?;
    let (db, signer, origin) = (
        state.db.clone(),
        state.signer.clone(),
        state.settings.origin.clone(),
    );
    match web::block(move || app::evidence::audit_report(&db, &signer, &origin, &id)).await?? {
        Some(report) => Ok(HttpResponse::Ok().json(report)),
        None => Err(ApiError::new(
            ErrorCode::LogBusy,
            "the log grew during every attempt to read this MOU; try again",
        )),
    }
}
