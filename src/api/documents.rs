//! Stored documents in and out (docs/architecture.md, "Document storage"). In: streamed from
//! the socket through SHA-256 into chunked storage, refused as soon as they pass the size
//! limit, either as a raw body (its `Content-Type` kept) or as `multipart/form-data` with one
//! file part (several for a multilingual MOU version). Out: the exact bytes, streamed chunk by
//! chunk, with their hash as ETag and `Content-Digest`. Shared by MOU versions, activity
//! evidence, signing links and the pages' upload forms.

use crate::db::{Db, DbError, blobs};
use crate::domain::ErrorCode;
use actix_web::http::header;
use actix_web::rt::task::{JoinHandle, spawn_blocking};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::domain::DomainError;
use crate::domain::mous::validate_media_type;
use crate::error::ApiError;

/// A document as received: its media type, the file name a multipart part gave, where its
/// bytes went (`B`: the staged blob they streamed into, see `db::blobs`, or for the few small
/// uploads read whole, the bytes themselves), their length and SHA-256 (computed on the way).
pub(crate) struct Received<B = i64> {
    pub media_type: String,
    pub filename: Option<String>,
    pub blob: B,
    pub size: i64,
    pub sha256: [u8; 32],
}

/// Where the file parts of an upload go.
pub(crate) trait FileSink {
    type Blob;
    /// Takes one file's bytes from `stream`, refusing them past `limit`: (where they went,
    /// length, SHA-256).
    async fn take<S, E>(
        &self,
        stream: &mut S,
        limit: usize,
    ) -> Result<(Self::Blob, i64, [u8; 32]), ApiError>
    where
        S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
        E: std::fmt::Display;
    /// Undoes `take` for files of an upload that failed.
    async fn discard(&self, found: &[Received<Self::Blob>]);
}

/// Documents: streamed into staged blobs of the database.
impl FileSink for Db {
    type Blob = i64;
    async fn take<S, E>(
        &self,
        stream: &mut S,
        limit: usize,
    ) -> Result<(i64, i64, [u8; 32]), ApiError>
    where
        S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        stage_stream(self, stream, limit).await
    }
    async fn discard(&self, found: &[Received]) {
        discard(self, blobs_of(found)).await;
    }
}

/// A file the server reads whole and does not store as a document: a CSV to import, at most
/// a few MiB.
pub(crate) struct InMemory;

impl FileSink for InMemory {
    type Blob = Vec<u8>;
    async fn take<S, E>(
        &self,
        stream: &mut S,
        limit: usize,
    ) -> Result<(Vec<u8>, i64, [u8; 32]), ApiError>
    where
        S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let bytes = receive_stream(stream, limit).await?;
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let sha256 = Sha256::digest(&bytes).into();
        Ok((bytes, size, sha256))
    }
    async fn discard(&self, _: &[Received<Vec<u8>>]) {}
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
            blob: self.blob,
            size: self.size,
            sha256: self.sha256,
        })
    }
}

/// The staged blobs of `received`, for `discard` when their upload fails after them.
pub(crate) fn blobs_of(received: &[Received]) -> Vec<i64> {
    received.iter().map(|r| r.blob).collect()
}

/// Removes the staged blobs of an upload that was refused or failed after its bytes arrived.
/// Best effort: a blob left behind is removed by the server's sweep a day later.
pub(crate) async fn discard(db: &Db, staged: Vec<i64>) {
    if staged.is_empty() {
        return;
    }
    let db = db.clone();
    let outcome = web::block(move || {
        db.side_write(|c| staged.iter().try_for_each(|id| blobs::discard(c, *id)))
    })
    .await;
    if !matches!(outcome, Ok(Ok(()))) {
        tracing::warn!("a failed upload's staged chunks were not removed; the sweep will");
    }
}

/// Runs `f`, an upload's use of the documents it received, and discards their staged blobs
/// when it fails: a refused upload leaves nothing stored.
pub(crate) async fn or_discard<T>(
    db: &Db,
    staged: Vec<i64>,
    f: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let out = f.await;
    if out.is_err() {
        discard(db, staged).await;
    }
    out
}

/// Reads a small body stream (a form field) whole, refusing it once it passes `limit`.
async fn receive_stream<S, E>(stream: &mut S, limit: usize) -> Result<Vec<u8>, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(ErrorCode::BodyReadFailed, e.to_string()))?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Writes a document's chunks into a staged blob while the next chunk is being received:
/// at most one chunk insert is in flight, so an upload holds two chunks of memory at most
/// (the one being written and the one filling), whatever its size.
struct Stager {
    db: Db,
    /// The blob, once its first chunk is stored.
    blob: Option<i64>,
    /// The chunk insert in flight; it resolves to the blob's id.
    pending: Option<JoinHandle<Result<i64, DbError>>>,
    /// The number the next chunk gets.
    seq: i32,
}

impl Stager {
    fn new(db: &Db) -> Stager {
        Stager {
            db: db.clone(),
            blob: None,
            pending: None,
            seq: 0,
        }
    }

    /// Waits for the chunk insert in flight, if any.
    async fn settle(&mut self) -> Result<(), ApiError> {
        if let Some(pending) = self.pending.take() {
            let id = pending.await.map_err(|_| ApiError::internal())??;
            self.blob = Some(id);
        }
        Ok(())
    }

    /// Queues `data` as the next chunk, once the previous one is stored.
    async fn push(&mut self, data: Vec<u8>) -> Result<(), ApiError> {
        self.settle().await?;
        let (db, blob, seq) = (self.db.clone(), self.blob, self.seq);
        self.seq += 1;
        self.pending = Some(spawn_blocking(move || match blob {
            None => {
                let now = db.now();
                db.staging_write(|c| blobs::stage(c, now, &data))
            }
            Some(id) => db.staging_write(|c| blobs::put_chunk(c, id, seq, &data).map(|()| id)),
        }));
        Ok(())
    }

    /// Stores the last chunk (or an empty blob, for an empty document); returns the blob.
    async fn finish(&mut self, last: Vec<u8>) -> Result<i64, ApiError> {
        if !last.is_empty() || self.seq == 0 {
            self.push(last).await?;
        }
        self.settle().await?;
        self.blob.ok_or_else(ApiError::internal)
    }

    /// Ends a failed upload: removes what it staged.
    async fn abort(mut self) {
        // A failed insert staged nothing more; only a stored blob needs removing.
        let _ = self.settle().await;
        if let Some(id) = self.blob {
            discard(&self.db, vec![id]).await;
        }
    }
}

/// Streams a document into a staged blob (`db::blobs`) in chunks of `blobs::CHUNK_BYTES`,
/// hashing as it goes and refusing it once it passes `limit`; returns the blob, the length
/// and the SHA-256. On any failure nothing stays staged.
async fn stage_stream<S, E>(
    db: &Db,
    stream: &mut S,
    limit: usize,
) -> Result<(i64, i64, [u8; 32]), ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut stager = Stager::new(db);
    let mut hasher = Sha256::new();
    let mut filling: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let outcome: Result<i64, ApiError> = async {
        while let Some(piece) = stream.next().await {
            let piece =
                piece.map_err(|e| ApiError::new(ErrorCode::BodyReadFailed, e.to_string()))?;
            if total + piece.len() > limit {
                return Err(too_large(limit));
            }
            total += piece.len();
            hasher.update(&piece);
            let mut rest = &piece[..];
            while !rest.is_empty() {
                let room = blobs::CHUNK_BYTES - filling.len();
                let (now, later) = rest.split_at(room.min(rest.len()));
                filling.extend_from_slice(now);
                rest = later;
                if filling.len() == blobs::CHUNK_BYTES {
                    // Later chunks are full-sized from the start; the first grows with what
                    // arrives, so a small document takes only its own size.
                    let full =
                        std::mem::replace(&mut filling, Vec::with_capacity(blobs::CHUNK_BYTES));
                    stager.push(full).await?;
                }
            }
        }
        stager.finish(std::mem::take(&mut filling)).await
    }
    .await;
    let blob = match outcome {
        Ok(blob) => blob,
        Err(e) => {
            stager.abort().await;
            return Err(e);
        }
    };
    let size = i64::try_from(total).unwrap_or(i64::MAX);
    Ok((blob, size, hasher.finalize().into()))
}

/// A `multipart/form-data` upload: exactly one part with a file (its own content type and
/// file name are kept). Plain form fields are collected, and `before_file` sees them before a
/// byte of the file is read, so a form's CSRF check refuses a forged upload up front.
pub(crate) async fn receive_multipart<K: FileSink>(
    sink: &K,
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    before_file: impl FnOnce(&[(String, String)]) -> Result<(), ApiError>,
) -> Result<Received<K::Blob>, ApiError> {
    let (mut files, _) = receive_multipart_files(sink, req, payload, limit, 1, before_file).await?;
    files.pop().ok_or_else(|| no_file().into())
}

/// A `multipart/form-data` upload of 1..=`max_files` file parts, in order, at most `limit`
/// bytes in all, with the plain form fields beside them, each file streamed into a staged
/// blob. `before_file` sees the fields sent before the first file, before a byte of it is
/// read. On any failure, the files already staged are discarded.
pub(crate) async fn receive_multipart_files<K: FileSink>(
    sink: &K,
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    max_files: usize,
    before_file: impl FnOnce(&[(String, String)]) -> Result<(), ApiError>,
) -> Result<(Vec<Received<K::Blob>>, Vec<(String, String)>), ApiError> {
    let mut found = Vec::new();
    let outcome = receive_parts(
        sink,
        req,
        payload,
        limit,
        max_files,
        before_file,
        &mut found,
    )
    .await;
    match outcome {
        Ok(fields) => Ok((found, fields)),
        Err(e) => {
            sink.discard(&found).await;
            Err(e)
        }
    }
}

/// The parts of `receive_multipart_files`: files go to `found` as they are staged, so the
/// caller can discard them if a later part fails.
async fn receive_parts<K: FileSink>(
    sink: &K,
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    max_files: usize,
    before_file: impl FnOnce(&[(String, String)]) -> Result<(), ApiError>,
    found: &mut Vec<Received<K::Blob>>,
) -> Result<Vec<(String, String)>, ApiError> {
    let bad = |e: String| ApiError::new(ErrorCode::InvalidMultipart, e);
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
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
            let value = receive_stream(&mut field, JSON_FIELD_LIMIT).await?;
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
        // The parts together stay within the limit.
        let budget = limit.saturating_sub(received_bytes);
        let (blob, size, sha256) =
            sink.take(&mut field, budget)
                .await
                .map_err(|e| match e.code {
                    ErrorCode::DocumentTooLarge => too_large(limit),
                    _ => e,
                })?;
        received_bytes += usize::try_from(size).unwrap_or(usize::MAX);
        found.push(Received {
            media_type,
            filename,
            blob,
            size,
            sha256,
        });
    }
    if let Some(check) = before_file.take() {
        check(&fields)?;
    }
    if found.is_empty() {
        return Err(no_file().into());
    }
    Ok(fields)
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
    db: &Db,
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Received, ApiError> {
    let mut documents = receive_documents(db, req, payload, limit, 1).await?;
    documents.pop().ok_or_else(|| no_file().into())
}

/// 1..=`max_files` documents: the raw body is one, a multipart body has one per file part.
pub(crate) async fn receive_documents(
    db: &Db,
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
            receive_multipart_files(db, req, payload, limit, max_files, |_| Ok(())).await?;
        return Ok(files);
    }
    let media_type = validate_media_type(content_type)?;
    let declared = declared_length(req);
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let (blob, size, sha256) = stage_stream(db, &mut payload, limit).await?;
    Ok(vec![Received {
        media_type,
        filename: None,
        blob,
        size,
        sha256,
    }])
}

/// Where a stored document's bytes are: blob `blob` of `size` bytes, its first chunk read
/// already.
pub(crate) struct StoredBytes {
    pub blob: i64,
    pub size: i64,
    pub first_chunk: Vec<u8>,
}

/// A stored MOU document's response (`document_response`), taking the document whole so its
/// first chunk moves into the body instead of being copied.
pub(crate) fn stored_document_response(
    db: &Db,
    req: &HttpRequest,
    doc: crate::db::mous::StoredDocument,
) -> HttpResponse {
    let stored = StoredBytes {
        blob: doc.blob_id,
        size: doc.size,
        first_chunk: doc.first_chunk,
    };
    document_response(db, req, &doc.sha256, doc.media_type, doc.filename, stored)
}

/// The response body of a stored document: the first chunk as it is when it is all of it;
/// otherwise a stream that reads the other chunks one at a time as the client takes them, so a
/// download holds one chunk of memory whatever the document's size. A chunk that cannot be
/// read ends the body early (the client sees a short `Content-Length` body, never wrong
/// bytes: the chunks of a stored document never change).
fn stored_body(
    db: &Db,
    stored: StoredBytes,
    res: &mut actix_web::HttpResponseBuilder,
) -> HttpResponse {
    let StoredBytes {
        blob,
        size,
        first_chunk,
    } = stored;
    let chunks = blobs::chunk_count(size);
    if chunks <= 1 {
        return res.body(first_chunk);
    }
    let db = db.clone();
    let first = Some(web::Bytes::from(first_chunk));
    let body = futures_util::stream::unfold((first, 1), move |(first, seq)| {
        let db = db.clone();
        async move {
            if let Some(first) = first {
                return Some((Ok(first), (None, seq)));
            }
            if seq >= chunks {
                return None;
            }
            let read = web::block(move || db.read(|c| blobs::chunk(c, blob, seq))).await;
            match read {
                Ok(Ok(Some(data))) => Some((Ok(web::Bytes::from(data)), (None, seq + 1))),
                other => {
                    let cause = match other {
                        Ok(Ok(_)) => "missing".to_string(),
                        Ok(Err(e)) => e.to_string(),
                        Err(e) => e.to_string(),
                    };
                    tracing::error!(blob, seq, %cause, "a stored document's chunk could not be read");
                    let failed = std::io::Error::other("a chunk of the document could not be read");
                    Some((Err(failed), (None, chunks)))
                }
            }
        }
    });
    res.no_chunking(u64::try_from(size).unwrap_or(0))
        .streaming(body)
}

/// A stored document's exact bytes: `ETag` is `"sha256:<hex>"`, `Content-Digest` (RFC 9530) and
/// `Digest` carry the SHA-256 in base64, and `If-None-Match` gets a 304.
pub(crate) fn document_response(
    db: &Db,
    req: &HttpRequest,
    sha256: &[u8; 32],
    media_type: String,
    filename: Option<String>,
    stored: StoredBytes,
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
    stored_body(db, stored, &mut res)
}
