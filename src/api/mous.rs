//! MOUs: creation, document versions (streamed in, hashed on the way), downloads, withdrawal.
//! Signatures, chains and audits are in `signatures.rs`.

use crate::domain::schemas as S;
use crate::domain::{ErrorCode, MouId, PartnershipId};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, JsonBody, json_body};
use super::openapi::{FileBytes, FileForm, Problem};
use super::pagination::{Page, decode_cursor, limit};
use crate::db;
use crate::domain::access::{require_document_reader, require_office, require_party_office};
use crate::domain::dates::format_micros;
use crate::domain::mous::{
    Mou, MouState, NewMou, RequiredSigner, Version, validate_withdraw_reason,
};
use crate::error::ApiError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMouBody {
    /// The partnership the MOU belongs to; the caller's city must be a party.
    #[schema(value_type = S::Id)]
    pub partnership: String,
    #[schema(value_type = S::Name, example = "Memorandum of Understanding on Friendship")]
    pub title: String,
    /// Default: one `signatory` of each party city.
    #[schema(value_type = Option<S::RequiredSigners>)]
    #[serde(default, deserialize_with = "required_signers")]
    pub required_signers: Option<Vec<RequiredSigner>>,
}

/// A required signer as a request gives it: `count` read as JSON Schema reads an integer
/// (`api::json_numbers`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequiredSignerInput {
    city: String,
    role: String,
    #[serde(deserialize_with = "crate::api::json_numbers::u32_integral")]
    count: u32,
}

fn required_signers<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<RequiredSigner>>, D::Error> {
    let input: Option<Vec<RequiredSignerInput>> = Option::deserialize(d)?;
    Ok(input.map(|signers| {
        signers
            .into_iter()
            .map(|r| RequiredSigner {
                city: r.city,
                role: r.role,
                count: r.count,
            })
            .collect()
    }))
}

/// A version: its first document's fields at the top (a version of one document has only
/// that one), and every document, the first included, in `documents`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionView {
    pub version: i32,
    /// Lower-case hex SHA-256 of the (first) document's exact bytes.
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub filename: Option<String>,
    /// The (first) document's language tag, if it was given one.
    pub language: Option<String>,
    /// Every document of the version in order: one, or one per language of a multilingual
    /// MOU (the texts equally authentic; a signature commits to all of them).
    pub documents: Vec<DocumentView>,
    pub uploaded_at: String,
    pub log_index: i64,
}

/// One document of a version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DocumentView {
    /// 1, 2, ... in upload order.
    pub position: i32,
    pub language: Option<String>,
    /// Lower-case hex SHA-256 of the exact bytes.
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub filename: Option<String>,
    /// Where its bytes are: under the MOU for offices of the party cities, auditors and
    /// admins; under the signing link for its signatory.
    pub href: String,
}

/// The documents of a version, first to last, each with the `href` its reader fetches it at.
pub fn document_views(v: &Version, href: impl Fn(i32) -> String) -> Vec<DocumentView> {
    let mut documents = vec![DocumentView {
        position: 1,
        language: v.language.clone(),
        sha256: hex::encode(v.sha256),
        size: v.size,
        media_type: v.media_type.clone(),
        filename: v.filename.clone(),
        href: href(1),
    }];
    documents.extend(v.additional.iter().map(|d| DocumentView {
        position: d.position,
        language: Some(d.language.clone()),
        sha256: hex::encode(d.sha256),
        size: d.size,
        media_type: d.media_type.clone(),
        filename: d.filename.clone(),
        href: href(d.position),
    }));
    documents
}

impl From<Version> for VersionView {
    fn from(v: Version) -> Self {
        let documents = document_views(&v, |position| {
            format!(
                "/api/v1/mous/{}/versions/{}/documents/{position}",
                v.mou_id, v.version
            )
        });
        VersionView {
            version: v.version,
            sha256: hex::encode(v.sha256),
            size: v.size,
            media_type: v.media_type,
            filename: v.filename,
            language: v.language,
            documents,
            uploaded_at: format_micros(v.uploaded_at),
            log_index: v.log_index,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChainHead {
    pub seq: i64,
    /// Hex SHA-256 of the last statement; 64 zeros before the first.
    pub hash: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MouView {
    pub id: String,
    pub partnership: String,
    pub title: String,
    pub state: MouState,
    /// 0 while a draft.
    pub current_version: i32,
    pub required_signers: Vec<RequiredSigner>,
    pub versions: Vec<VersionView>,
    pub head: ChainHead,
    pub created_by_city: String,
    pub withdrawn_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The log entry of the MOU's creation.
    pub log_index: i64,
}

impl MouView {
    pub fn new(m: Mou, versions: Vec<Version>) -> Self {
        MouView {
            head: ChainHead {
                seq: m.head_seq,
                hash: hex::encode(m.head_hash),
            },
            id: m.id.into_string(),
            partnership: m.partnership_id.into_string(),
            title: m.title,
            state: m.state,
            current_version: m.current_version,
            required_signers: m.required,
            versions: versions.into_iter().map(VersionView::from).collect(),
            created_by_city: m.created_by_city.to_string(),
            withdrawn_reason: m.withdrawn_reason,
            created_at: format_micros(m.created_at),
            updated_at: format_micros(m.updated_at),
            log_index: m.log_index,
        }
    }
}

/// Create an MOU for a partnership (office of a party city). It starts as a `draft`.
#[utoipa::path(
    operation_id = "create_mou",
    tag = "mous",
    security(("bearer" = [])),
    request_body = NewMouBody,
    responses(
        (status = 201, body = MouView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/mous")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewMouBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let b = json_body(body)?;
    let token = principal.as_ref().map(|p| p.token_id.clone());
    let partnership = PartnershipId::parse(&b.partnership)
        .ok_or_else(|| db::mous::unknown_partnership(&b.partnership))?;
    let (mou, _) = state
        .write(move |tx| {
            db::mous::create(
                tx,
                &partnership,
                |p| {
                    let city = require_party_office(principal.as_ref(), &p.parties())?.clone();
                    let new =
                        NewMou::validate(p.id.clone(), p.parties(), &b.title, b.required_signers)?;
                    Ok((new, city))
                },
                token,
            )
        })
        .await?;
    let view = MouView::new(mou, Vec::new());
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/mous/{}", view.id)))
        .json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MouListQuery {
    /// Page size, 1-500 (default 50).
    #[param(value_type = Option<S::PageLimit>, inline)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(value_type = Option<S::Cursor>, inline)]
    pub cursor: Option<String>,
}

/// Every MOU of the registry, in creation order, each as `GET /mous/{id}` shows it (state,
/// required signers, versions, chain head). Public, like each MOU; `amity audit` reads it to
/// compare every MOU with the log.
#[utoipa::path(
    operation_id = "list_mous",
    tag = "mous",
    params(MouListQuery),
    responses((status = 200, body = Page<MouView>), (status = 400, body = Problem), (status = 422, body = Problem))
)]
#[get("/mous")]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<MouListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = limit(q.limit)?;
    let after = decode_cursor(q.cursor.as_deref())?;
    let rows = state
        .read(move |c| db::mous::list(c, after.as_deref(), limit + 1))
        .await?;
    let page = Page::from_rows(
        rows,
        limit,
        |(m, _)| m.id.to_string(),
        |(m, v)| MouView::new(m, v),
    );
    Ok(HttpResponse::Ok().json(page))
}

/// One MOU: its state, required signers, versions (hashes, not bytes) and chain head. Public.
#[utoipa::path(
    operation_id = "get_mou",
    tag = "mous",
    params(("id" = String, Path, description = "MOU id")),
    responses((status = 200, body = MouView), (status = 404, body = Problem))
)]
#[get("/mous/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = MouId::from_path(&id)?;
    let (mou, versions) = state
        .read(move |c| {
            let mou = db::mous::require(c, &id)?;
            let versions = db::mous::versions(c, &id)?;
            Ok((mou, versions))
        })
        .await?;
    Ok(HttpResponse::Ok().json(MouView::new(mou, versions)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
// Said outright for every query struct: utoipa infers the location only from a `web::Query`
// argument, and handlers that parse the query themselves (as this one) came out as path
// parameters, which made the document invalid.
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// File name shown in downloads, for a raw upload of one document (a multipart part
    /// carries its own; with several parts this is refused, 422 `invalid_filename`).
    #[param(value_type = Option<S::Filename>, inline)]
    pub filename: Option<String>,
    /// The documents' languages, one tag per file in the order of the files (`en,zh-Hans`):
    /// optional for one document, required for several (422 `invalid_language`).
    #[param(value_type = Option<S::Languages>, inline)]
    pub languages: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UploadView {
    pub version: i32,
    /// The first document's SHA-256 (hex); every document's is in `documents`.
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub filename: Option<String>,
    pub language: Option<String>,
    pub documents: Vec<DocumentView>,
    pub state: MouState,
    pub log_index: i64,
}

/// Stores received documents as the MOU's next version (the `add_version` use case), each
/// with its language from `languages` (one tag per document, in order). Shared by the API
/// and the MOU page's form, which differ only in how the body arrives.
pub(crate) async fn store_version(
    state: &AppState,
    principal: Option<crate::domain::tokens::Principal>,
    id: MouId,
    received: Vec<super::documents::Received>,
    filename_param: Option<&str>,
    languages: Option<&str>,
) -> Result<(Version, Mou), ApiError> {
    if received.len() > 1 && filename_param.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidFilename,
            "`?filename=` names a single document; with several, each part carries its own file name",
        ));
    }
    let staged = super::documents::blobs_of(&received);
    let store = async {
        let languages = crate::domain::mous::validate_languages(languages, received.len())?;
        let mut incoming = Vec::with_capacity(received.len());
        for (received_doc, language) in received.into_iter().zip(languages) {
            let mut doc = received_doc.into_upload(filename_param)?;
            doc.language = language;
            incoming.push(doc);
        }
        state
            .write(move |tx| crate::app::mous::add_version(tx, principal.as_ref(), &id, incoming))
            .await
    };
    super::documents::or_discard(&state.db, staged, store).await
}

/// Upload the next version (office of a party city): one document, either as the raw request
/// body (its `Content-Type` kept, `?filename=` naming it) or as `multipart/form-data` with one
/// file part (the part's content type and file name kept); or a multilingual version, one
/// file part per language (at most 8) with `?languages=` naming each part's language in
/// order. Each SHA-256 is computed while the bytes stream in. A signature on a multilingual
/// version commits to every document (docs/formats/statements.md, form v2).
#[utoipa::path(
    tag = "mous",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "MOU id"), UploadQuery),
    request_body(
        description = "The document's exact bytes with their own media type (any media type; \
                       `application/octet-stream` when none is sent), or a `multipart/form-data` \
                       body with one file part per document (1 to 8; more is 422 \
                       `multiple_files`). At most AMITY_MAX_DOCUMENT_BYTES bytes in all \
                       (26214400 by default); 413 `document_too_large` beyond.",
        content(
            (FileBytes = "application/pdf"),
            (FileBytes = "text/plain"),
            (FileBytes = "application/octet-stream"),
            (FileForm = "multipart/form-data"),
        )
    ),
    responses(
        (status = 201, body = UploadView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "identical to the current version, or withdrawn"),
        (status = 413, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/mous/{id}/versions")]
pub async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let id = MouId::from_path(&id)?;
    // Who may upload, and whether the MOU can take a version, is settled before a single
    // byte of the body is read.
    let key = id.clone();
    let (mou, partnership) = state
        .read(move |c| db::mous::require_with_partnership(c, &key))
        .await?;
    require_party_office(principal.as_ref(), &partnership.parties())?;
    mou.check_not_withdrawn()?;
    let query = web::Query::<UploadQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
        .into_inner();
    // The page's form leaves its languages field empty for one document; over the API an
    // empty `languages=` is a mistake, refused before the body is read.
    if query
        .languages
        .as_deref()
        .is_some_and(|l| l.trim().is_empty())
    {
        return Err(ApiError::new(
            ErrorCode::InvalidLanguage,
            "`languages` is empty: leave it out for one document, or give one language tag per file",
        ));
    }
    let received = super::documents::receive_documents(
        &state.db,
        &req,
        payload,
        state.settings.max_document_bytes,
        amity_verify::statement::MAX_DOCUMENTS_PER_VERSION,
    )
    .await?;
    // `?filename=` names the file for raw uploads; a multipart part may carry its own.
    let (version, mou) = store_version(
        &state,
        principal,
        id,
        received,
        query.filename.as_deref(),
        query.languages.as_deref(),
    )
    .await?;
    let location = format!(
        "/api/v1/mous/{}/versions/{}/document",
        mou.id, version.version
    );
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json({
            let view = VersionView::from(version);
            UploadView {
                version: view.version,
                sha256: view.sha256,
                size: view.size,
                media_type: view.media_type,
                filename: view.filename,
                language: view.language,
                documents: view.documents,
                state: mou.state,
                log_index: view.log_index,
            }
        }))
}

/// Download a version's exact bytes: its first document, the only one of a version of one
/// (offices of the party cities, auditors, admins). `ETag` is `"sha256:<hex>"`;
/// `Content-Digest` (RFC 9530) and `Digest` carry the SHA-256 in base64.
#[utoipa::path(
    tag = "mous",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "MOU id"), ("n" = i32, Path, description = "Version number")),
    responses(
        (status = 200, description = "The document bytes with their stored Content-Type", body = super::openapi::FileBytes, content_type = "*/*"),
        (status = 304, description = "If-None-Match matched"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/mous/{id}/versions/{n}/document")]
pub async fn document(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (id, n) = path.into_inner();
    send_document(&state, &caller, &req, &id, n, 1).await
}

/// Download document `p` of a version (1 for the first; a multilingual version has one per
/// language, listed in the version's `documents`). Offices of the party cities, auditors,
/// admins; the same headers as the version's `document`.
#[utoipa::path(
    tag = "mous",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "MOU id"),
        ("n" = i32, Path, description = "Version number"),
        ("p" = i32, Path, description = "Position of the document in the version, from 1")
    ),
    responses(
        (status = 200, description = "The document bytes with their stored Content-Type", body = super::openapi::FileBytes, content_type = "*/*"),
        (status = 304, description = "If-None-Match matched"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/mous/{id}/versions/{n}/documents/{p}")]
pub async fn version_document(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, i32, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (id, n, p) = path.into_inner();
    send_document(&state, &caller, &req, &id, n, p).await
}

/// Document `position` of version `n` of MOU `id`, to a caller who may read documents.
async fn send_document(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    id: &str,
    n: i32,
    position: i32,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    let id = MouId::from_path(id)?;
    let key = id.clone();
    let (_, partnership) = state
        .read(move |c| db::mous::require_with_partnership(c, &key))
        .await?;
    require_document_reader(principal.as_ref(), &partnership.parties())?;
    let found = state
        .read(move |c| db::mous::document(c, &id, n, position))
        .await?;
    let doc = found.ok_or_else(|| {
        let message = if position == 1 {
            format!("this MOU has no version {n}")
        } else {
            format!("this MOU has no version {n}, or that version no document {position}")
        };
        ApiError::new(ErrorCode::VersionNotFound, message)
    })?;
    Ok(super::documents::stored_document_response(
        &state.db, req, doc,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    #[schema(value_type = S::RequiredParagraph)]
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WithdrawView {
    pub mou: MouView,
    pub log_index: i64,
}

/// Withdraw an MOU, with a reason (office of a party city). Final.
#[utoipa::path(
    tag = "mous",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "MOU id")),
    request_body = WithdrawBody,
    responses(
        (status = 200, body = WithdrawView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/mous/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<WithdrawBody>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal()?.cloned();
    require_office(principal.as_ref())?;
    let b = json_body(body)?;
    let reason = validate_withdraw_reason(&b.reason)?;
    let id = MouId::from_path(&id)?;
    let token = principal.as_ref().map(|p| p.token_id.clone());
    let (mou, log_index, versions) = state
        .write(move |tx| {
            let (mou, log_index) = db::mous::withdraw(tx, &id, reason, token, |p| {
                Ok(require_party_office(principal.as_ref(), &p.parties())?.clone())
            })?;
            let versions = db::mous::versions(tx.conn, &id)?;
            Ok((mou, log_index, versions))
        })
        .await?;
    Ok(HttpResponse::Ok().json(WithdrawView {
        mou: MouView::new(mou, versions),
        log_index,
    }))
}
