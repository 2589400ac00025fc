//! Stored documents in and out. In: streamed and hashed on the way, refused as soon as they
//! pass the size limit, either as a raw body (its `Content-Type` kept) or as
//! `multipart/form-data` with one file part (several for a multilingual MOU version). Out: the exact bytes with their hash as ETag and
//! `Content-Digest`. Shared by MOU versions, activity evidence and the pages' upload forms.

use crate::domain::ErrorCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::domain::DomainError;
use crate::domain::mous::validate_media_type;
use crate::error::ApiError;

/// A document as received: its media type, the file name a multipart part gave, its bytes
/// and their SHA-256 (computed while they streamed in).
pub(crate) struct Received {
    pub media_type: String,
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
    pub sha256: [u8; 32],
}

impl Received {
    /// The document to store: the file name from `filename_param` (a raw upload's
    /// `?filename=`) or the multipart part's own, checked by the one file-name rule.
    pub(crate) fn into_upload(
        self,
        filename_param: Option<&str>,
    ) -> Result<crate::db::mous::Upload, DomainError> {
        let filename =
            crate::domain::mous::validate_filename(filename_param.or(self.filename.as_deref()))?;
        Ok(crate::db::mous::Upload {
            media_type: self.media_type,
            filename,
            language: None,
            bytes: self.bytes,
            sha256: self.sha256,
        })
    }
}

/// Reads a body stream, hashing as it goes and refusing it once it passes `limit`.
/// `expected` is the length the sender declared, if any: the buffer is sized for it up front
/// (never beyond `limit`), so a large document is copied into place once instead of through a
/// chain of doubling reallocations, and holds no spare capacity while it waits to be stored.
async fn receive_stream<S, E>(
    stream: &mut S,
    limit: usize,
    expected: Option<usize>,
) -> Result<(Vec<u8>, [u8; 32]), ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut hasher = Sha256::new();
    let mut bytes = Vec::with_capacity(expected.unwrap_or(0).min(limit));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(ErrorCode::BodyReadFailed, e.to_string()))?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        hasher.update(&chunk);
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, hasher.finalize().into()))
}

/// A `multipart/form-data` upload: exactly one part with a file (its own content type and
/// file name are kept). Plain form fields are collected, and `before_file` sees them before a
/// byte of the file is read, so a form's CSRF check refuses a forged upload up front.
pub(crate) async fn receive_multipart(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    before_file: impl FnOnce(&[(String, String)]) -> Result<(), ApiError>,
) -> Result<Received, ApiError> {
    let (mut files, _) = receive_multipart_files(req, payload, limit, 1, before_file).await?;
    files.pop().ok_or_else(|| no_file().into())
}

/// A `multipart/form-data` upload of 1..=`max_files` file parts, in order, at most `limit`
/// bytes in all, with the plain form fields beside them. `before_file` sees the fields sent
/// before the first file, before a byte of it is read.
pub(crate) async fn receive_multipart_files(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    max_files: usize,
    before_file: impl FnOnce(&[(String, String)]) -> Result<(), ApiError>,
) -> Result<(Vec<Received>, Vec<(String, String)>), ApiError> {
    let bad = |e: String| ApiError::new(ErrorCode::InvalidMultipart, e);
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let mut found: Vec<Received> = Vec::new();
    let mut received_bytes = 0usize;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut before_file = Some(before_file);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| bad(e.to_string()))?;
        let disposition = field.content_disposition();
        let filename = disposition
            .and_then(|d| d.get_filename())
            .map(str::to_string);
        let name = disposition
            .and_then(|d| d.get_name())
            .unwrap_or_default()
            .to_string();
        if filename.is_none() {
            // A plain form field: small, kept for the caller's checks.
            let (value, _) = receive_stream(&mut field, JSON_FIELD_LIMIT, None).await?;
            if fields.len() >= MAX_FORM_FIELDS {
                return Err(bad(format!("at most {MAX_FORM_FIELDS} form fields")));
            }
            fields.push((name, String::from_utf8_lossy(&value).into_owned()));
            continue;
        }
        if found.len() >= max_files {
            let message = if max_files == 1 {
                "send one document per upload".to_string()
            } else {
                format!("send at most {max_files} documents, one per language")
            };
            return Err(DomainError::new(ErrorCode::MultipleFiles, message).into());
        }
        if let Some(check) = before_file.take() {
            check(&fields)?;
        }
        let media_type = validate_media_type(field.content_type().map(|m| m.essence_str()))?;
        // The part is no longer than what is left of the body, whose declared length sizes
        // its buffer (so a second part does not reserve the first one's bytes again); the
        // parts together stay within the limit.
        let budget = limit.saturating_sub(received_bytes);
        let rest = declared_length(req).map(|n| n.saturating_sub(received_bytes));
        let (bytes, sha256) =
            receive_stream(&mut field, budget, rest)
                .await
                .map_err(|e| match e.code {
                    ErrorCode::DocumentTooLarge => too_large(limit),
                    _ => e,
                })?;
        received_bytes += bytes.len();
        found.push(Received {
            media_type,
            filename,
            bytes,
            sha256,
        });
    }
    if let Some(check) = before_file.take() {
        check(&fields)?;
    }
    if found.is_empty() {
        return Err(no_file().into());
    }
    Ok((found, fields))
}

fn no_file() -> DomainError {
    DomainError::new(
        ErrorCode::MissingFile,
        "the multipart body has no file part",
    )
}

/// Plain form fields beside the file are small, and few.
const JSON_FIELD_LIMIT: usize = 64 * 1024;
const MAX_FORM_FIELDS: usize = 16;

pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::DocumentTooLarge,
        format!("documents may have at most {limit} bytes (AMITY_MAX_DOCUMENT_BYTES)"),
    )
}

/// The body length the request declares (`Content-Length`), if it declares one that parses.
fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// Whether a `Content-Type` value announces a `multipart/form-data` body.
pub(crate) fn is_multipart(content_type: &str) -> bool {
    content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
}

/// A document sent either way: multipart when the `Content-Type` says so, else the raw body.
pub(crate) async fn receive_document(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Received, ApiError> {
    let mut documents = receive_documents(req, payload, limit, 1).await?;
    documents.pop().ok_or_else(|| no_file().into())
}

/// 1..=`max_files` documents: the raw body is one, a multipart body has one per file part.
pub(crate) async fn receive_documents(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    max_files: usize,
) -> Result<Vec<Received>, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::from(DomainError::new(
                    ErrorCode::InvalidMediaType,
                    "`Content-Type` must be ASCII",
                ))
            })
        })
        .transpose()?;
    if content_type.is_some_and(is_multipart) {
        let (files, _) =
            receive_multipart_files(req, payload, limit, max_files, |_| Ok(())).await?;
        return Ok(files);
    }
    let media_type = validate_media_type(content_type)?;
    let declared = declared_length(req);
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let (bytes, sha256) = receive_stream(&mut payload, limit, declared).await?;
    Ok(vec![Received {
        media_type,
        filename: None,
        bytes,
        sha256,
    }])
}

/// A stored document's exact bytes: `ETag` is `"sha256:<hex>"`, `Content-Digest` (RFC 9530) and
/// `Digest` carry the SHA-256 in base64, and `If-None-Match` gets a 304.
pub(crate) fn document_response(
    req: &HttpRequest,
    sha256: &[u8; 32],
    media_type: String,
    filename: Option<String>,
    bytes: Vec<u8>,
) -> HttpResponse {
    let etag = format!("\"sha256:{}\"", hex::encode(sha256));
    let b64 = STANDARD.encode(sha256);
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, media_type))
        .insert_header((header::ETAG, etag))
        .insert_header(("Content-Digest", format!("sha-256=:{b64}:")))
        .insert_header(("Digest", format!("sha-256={b64}")))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    if let Some(name) = filename {
        // validate_filename allowed no quotes or control characters; non-ASCII names go in
        // the RFC 8187 form so the header stays ASCII.
        let ascii: String = name
            .chars()
            .map(|c| if c.is_ascii() { c } else { '_' })
            .collect();
        let encoded: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        res.insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
        ));
    }
    res.body(bytes)
}
