//! The transparency log's read API: entries, the signed checkpoint, the registry key and
//! inclusion / consistency proofs.

use crate::domain::ErrorCode;
use crate::domain::schemas as S;
use actix_web::{HttpResponse, get, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::openapi::Problem;
use super::views::LogEntryView;
use crate::db;
use crate::db::log::EntryRow;
use crate::domain::DomainError;
use crate::domain::dates::format_micros;
use crate::error::ApiError;
use crate::log::merkle;
use crate::log::registry_key::openssh_line;

fn entry_view(row: EntryRow) -> LogEntryView {
    LogEntryView {
        index: row.idx,
        leaf_hash: hex::encode(&row.leaf_hash),
        kind: row.kind,
        entry: STANDARD.encode(&row.entry),
        logged_at: format_micros(row.logged_at),
    }
}

/// One log entry: its exact bytes and leaf hash.
#[utoipa::path(
    tag = "log",
    params(("index" = i64, Path, description = "0-based entry index")),
    responses((status = 200, body = LogEntryView), (status = 404, body = Problem))
)]
#[get("/log/entries/{index}")]
pub async fn entry(
    state: web::Data<AppState>,
    index: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let index = index.into_inner();
    let row = state.read_short(move |c| db::log::entry(c, index)).await?;
    let row = row.ok_or_else(|| {
        ApiError::new(
            ErrorCode::EntryNotFound,
            format!("the log has no entry {index}"),
        )
    })?;
    Ok(HttpResponse::Ok().json(entry_view(row)))
}

pub const MAX_ENTRIES_PAGE: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// First index (default 0).
    #[param(value_type = Option<S::LogIndex>, inline)]
    pub start: Option<i64>,
    /// How many, 1-1000 (default 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntriesPage {
    pub entries: Vec<LogEntryView>,
    /// Index to ask for next; absent when the page reached the end of the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

/// A run of entries in index order, for auditors replaying the whole log.
#[utoipa::path(
    tag = "log",
    params(EntriesQuery),
    responses((status = 200, body = EntriesPage), (status = 400, body = Problem))
)]
#[get("/log/entries")]
pub async fn entries(
    state: web::Data<AppState>,
    query: web::Query<EntriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let start = query.start.unwrap_or(0);
    let limit = query.limit.unwrap_or(MAX_ENTRIES_PAGE);
    if start < 0 || !(1..=MAX_ENTRIES_PAGE).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("`start` must be >= 0 and `limit` within 1..={MAX_ENTRIES_PAGE}"),
        ));
    }
    let (rows, size) = state
        .read(move |c| Ok((db::log::entries(c, start, limit)?, db::log::size(c)?)))
        .await?;
    let end = start + rows.len() as i64;
    Ok(HttpResponse::Ok().json(EntriesPage {
        entries: rows.into_iter().map(entry_view).collect(),
        next: (end < size).then_some(end),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CheckpointQuery {
    /// `1` (or `true`): answer only with a checkpoint the witness policy's quorum cosigned,
    /// of at least the log's size when asked; wait for it up to the server's
    /// `--witness-wait-ms`, then answer 503 `witness_quorum_unavailable` with Retry-After.
    #[param(value_type = Option<String>, pattern = "^(0|1|true|false)$")]
    pub witnessed: Option<String>,
}

/// The latest signed checkpoint (C2SP tlog-checkpoint signed note), signed on demand when the
/// log has grown since the last one, followed by the witnesses' cosignature lines that
/// reached the registry so far (C2SP tlog-cosignature; docs/witnessing.md). With
/// `witnessed=1`, the latest checkpoint whose cosignatures meet the witness policy's quorum.
#[utoipa::path(
    tag = "log",
    params(CheckpointQuery),
    responses(
        (status = 200, description = "signed note, cosignature lines included", body = String, content_type = "text/plain"),
        (status = 400, body = Problem, description = "`invalid_query`: witnessed is not 0, 1, true or false"),
        (status = 409, body = Problem, description = "`no_witness_policy`: witnessed=1 on a registry without a witness policy"),
        (status = 503, body = Problem, description = "`witness_quorum_unavailable`: the quorum has not cosigned in time; see Retry-After",
            headers(("Retry-After" = u64, description = "seconds to wait before asking again")))
    )
)]
#[get("/log/checkpoint")]
pub async fn checkpoint(
    state: web::Data<AppState>,
    query: web::Query<CheckpointQuery>,
) -> Result<HttpResponse, ApiError> {
    let witnessed = parse_witnessed(query.witnessed.as_deref())?;
    // The common case, the log has not grown since the last checkpoint, is two point reads;
    // signing a new checkpoint is a write and goes to the blocking pool.
    let row = match state.read_short(db::checkpoints::up_to_date).await? {
        Some(row) => row,
        None => {
            let db = state.db.clone();
            let signer = state.signer.clone();
            web::block(move || db::checkpoints::current(&db, &signer)).await??
        }
    };
    let note = if witnessed {
        witnessed_checkpoint(&state, row.size).await?.note
    } else {
        let size = row.size;
        let cosignatures = state
            .read_short(move |c| db::cosignatures::at_size(c, size))
            .await?;
        db::cosignatures::cosigned_note(&row.note, &cosignatures)
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(note))
}

/// The `witnessed` query parameter: absent, `0` or `false` is no; `1` or `true` is yes.
pub(crate) fn parse_witnessed(value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("witnessed must be 0, 1, true or false, not {other:?}"),
        )),
    }
}

/// How often a reader waiting for a quorum looks again.
const QUORUM_POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// The latest checkpoint of at least `min_size` entries that the quorum cosigned, its note
/// followed by those cosignatures; waits for the witness threads (kicked at once) up to the
/// configured limit. The checkpoint endpoint and the bundle's `witnessed=1` share it.
pub(crate) async fn witnessed_checkpoint(
    state: &AppState,
    min_size: i64,
) -> Result<db::checkpoints::CheckpointRow, ApiError> {
    let Some(witnessing) = state.witnessing.clone() else {
        return Err(ApiError::new(
            ErrorCode::NoWitnessPolicy,
            "this registry has no witness policy (AMITY_WITNESS_POLICY), so no checkpoint is \
             witnessed; ask without witnessed=1",
        ));
    };
    witnessing.kick();
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_millis(state.settings.witness_wait_ms);
    loop {
        let db = state.db.clone();
        let w = witnessing.clone();
        if let Some((mut signed, cosignatures)) =
            web::block(move || w.quorum_checkpoint(&db, min_size)).await??
        {
            signed.note = db::cosignatures::cosigned_note(&signed.note, &cosignatures);
            return Ok(signed);
        }
        if std::time::Instant::now() >= deadline {
            let waiting: Vec<String> = witnessing
                .status()
                .into_iter()
                .filter(|s| s.cosigned_size.is_none_or(|n| n < min_size.unsigned_abs()))
                .map(|s| match s.last_error {
                    Some(e) => format!("{} ({e})", s.name),
                    None => s.name,
                })
                .collect();
            return Err(ApiError {
                extra: Some(serde_json::json!({ "retry_after": 5 })),
                ..ApiError::new(
                    ErrorCode::WitnessQuorumUnavailable,
                    format!(
                        "the witnesses have not cosigned a checkpoint of {min_size} entries or \
                         more with the quorum ({}); waiting for: {}",
                        witnessing.policy().describe_quorum(),
                        waiting.join("; ")
                    ),
                )
            });
        }
        actix_web::rt::time::sleep(QUORUM_POLL).await;
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegistryKeyView {
    /// Key name: the registry origin.
    pub name: String,
    /// C2SP key id, 8 hex digits.
    pub key_id: String,
    /// C2SP verifier key `<name>+<id>+<base64(0x01 || key)>`.
    pub vkey: String,
    /// The same key as an OpenSSH public key line.
    pub ssh: String,
}

/// The registry's public key, in C2SP verifier-key and OpenSSH forms.
#[utoipa::path(tag = "log", responses((status = 200, body = RegistryKeyView)))]
#[get("/log/key")]
pub async fn key(state: web::Data<AppState>) -> HttpResponse {
    let verifier = state.signer.verifier();
    HttpResponse::Ok().json(RegistryKeyView {
        name: verifier.name().to_string(),
        key_id: format!("{:08x}", verifier.key_id()),
        vkey: verifier.to_vkey(),
        ssh: openssh_line(&verifier),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// Entry index; give this or `hash`.
    #[param(value_type = Option<S::LogIndex>, inline)]
    pub index: Option<i64>,
    /// Leaf hash (64 hex); give this or `index`.
    #[param(value_type = Option<S::HexSha256>, inline)]
    pub hash: Option<String>,
    /// Tree size the proof is for (default: the current size), at most the log's size.
    #[param(value_type = Option<S::LogIndex>, inline)]
    pub size: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionProofView {
    pub index: i64,
    pub size: i64,
    pub leaf_hash: String,
    /// RFC 9162 inclusion path, hex hashes, leaf to root.
    pub proof: Vec<String>,
    /// Root of the tree of `size` entries; check it against a signed checkpoint.
    pub root: String,
}

/// Checks a requested tree size against the log and returns it.
fn tree_size(requested: Option<i64>, log_size: i64) -> Result<u64, DomainError> {
    let size = requested.unwrap_or(log_size);
    if size < 0 || size > log_size {
        return Err(DomainError::new(
            ErrorCode::InvalidSize,
            format!("size {size} is outside the log, which has {log_size} entries"),
        ));
    }
    Ok(size as u64)
}

/// Which entry an inclusion proof is asked for.
enum Target {
    Index(i64),
    LeafHash([u8; 32]),
}

impl Target {
    fn from_query(q: &InclusionQuery) -> Result<Target, ApiError> {
        match (q.index, q.hash.as_deref()) {
            (Some(i), None) => Ok(Target::Index(i)),
            (None, Some(h)) => {
                let mut leaf = [0u8; 32];
                hex::decode_to_slice(h, &mut leaf).map_err(|_| {
                    ApiError::from(DomainError::new(
                        ErrorCode::InvalidHash,
                        "`hash` must be 64 hex characters",
                    ))
                })?;
                Ok(Target::LeafHash(leaf))
            }
            _ => Err(ApiError::new(
                ErrorCode::InvalidQuery,
                "give exactly one of `index` and `hash`",
            )),
        }
    }
}

/// Inclusion proof for an entry (by index or leaf hash) in the tree of `size` entries.
#[utoipa::path(
    tag = "log",
    params(InclusionQuery),
    responses((status = 200, body = InclusionProofView), (status = 404, body = Problem), (status = 422, body = Problem))
)]
#[get("/log/proof/inclusion")]
pub async fn inclusion_proof(
    state: web::Data<AppState>,
    query: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let target = Target::from_query(&q)?;
    let cache = state.db.node_cache();
    let view = state
        .read_short(move |c| {
            let log_size = db::log::size(c)?;
            let index = match target {
                Target::Index(i) => i,
                Target::LeafHash(leaf) => db::tree::index_of_leaf(c, &leaf)?.ok_or_else(|| {
                    DomainError::new(ErrorCode::EntryNotFound, "no entry has this leaf hash")
                })?,
            };
            let size = tree_size(q.size, log_size)?;
            if index < 0 || index as u64 >= size {
                return Err(DomainError::new(
                    ErrorCode::IndexOutOfRange,
                    format!("entry {index} is not in a tree of {size} entries"),
                )
                .into());
            }
            // The leaf is the tree's level-0 node: from the node cache once read, not from
            // the entry's row (one query less per proof).
            let leaf = db::tree::leaf(c, Some(&cache), index as u64)?;
            let proof = db::tree::inclusion_proof(c, Some(&cache), index as u64, size)?;
            // The root follows from the leaf and its path: no second walk of the tree.
            let root = merkle::root_from_inclusion(&leaf, index as u64, size, &proof)
                .map_err(|e| db::DbError::corrupt(format!("inclusion proof of {index}: {e}")))?;
            Ok(InclusionProofView {
                index,
                size: size as i64,
                leaf_hash: hex::encode(leaf),
                proof: proof.iter().map(hex::encode).collect(),
                root: hex::encode(root),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older tree size (at least 1).
    #[param(value_type = S::OlderSize, inline)]
    pub from: i64,
    /// The newer tree size (default: the current size), at most the log's size.
    #[param(value_type = Option<S::LogIndex>, inline)]
    pub to: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProofView {
    pub from: i64,
    pub to: i64,
    /// RFC 9162 consistency proof, hex hashes.
    pub proof: Vec<String>,
    pub from_root: String,
    pub to_root: String,
}

/// Consistency proof between two tree sizes.
#[utoipa::path(
    tag = "log",
    params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProofView), (status = 422, body = Problem))
)]
#[get("/log/proof/consistency")]
pub async fn consistency_proof(
    state: web::Data<AppState>,
    query: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let cache = state.db.node_cache();
    let view = state
        .read_short(move |c| {
            let log_size = db::log::size(c)?;
            let to = tree_size(q.to, log_size)?;
            if q.from < 1 || q.from as u64 > to {
                return Err(DomainError::new(
                    ErrorCode::InvalidSize,
                    format!("`from` must be within 1..={to} (proofs from the empty tree are not defined)"),
                )
                .into());
            }
            let from = q.from as u64;
            let proof = db::tree::consistency_proof(c, Some(&cache), from, to)?;
            Ok(ConsistencyProofView {
                from: q.from,
                to: to as i64,
                proof: proof.iter().map(hex::encode).collect(),
                from_root: hex::encode(db::tree::root(c, Some(&cache), from)?),
                to_root: hex::encode(db::tree::root(c, Some(&cache), to)?),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
