//! Reads everything an MOU's evidence bundle holds, with inclusion proofs into one checkpoint.

use crate::db::node_cache::NodeCache;
use crate::domain::entries::LoggedDocument;
use crate::domain::ids::MouId;
use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::checkpoints::CheckpointRow;
use super::{DbConn, DbError, keys, log, mous, tree};
use crate::bundle::{
    Bundle, BundleEntry, BundleKey, BundleKeyEvent, BundleMou, BundleSignature, BundleVersion,
    FORMAT, RegistryInfo,
};

/// The bundle of MOU `id` proven into `checkpoint`, or `None` when some entry it rests on is
/// newer than the checkpoint (a write landed after the checkpoint was taken): the caller takes
/// a fresh checkpoint and reads again. Entries never change once written, so every entry
/// below the checkpoint's size proves into it however the reads interleave with writers.
pub fn read(
    conn: &mut DbConn,
    cache: &NodeCache,
    id: &MouId,
    checkpoint: &CheckpointRow,
    registry: RegistryInfo,
) -> Result<Option<Bundle>, DbError> {
    let mou = mous::require(conn, id)?;
    let versions = mous::versions(conn, id)?;
    let chain = mous::chain(conn, id)?;
    let signing_keys = keys::of_signatures(conn, &chain)?;

    let mut indices = BTreeSet::new();
    indices.insert(mou.log_index);
    indices.extend(versions.iter().map(|v| v.log_index));
    indices.extend(chain.iter().map(|s| s.log_index));
    let mut bundle_keys = Vec::with_capacity(signing_keys.len());
    for k in signing_keys {
        let events = keys::events(conn, &k.id)?;
        indices.insert(k.log_index);
        indices.extend(events.iter().map(|e| e.log_index));
        bundle_keys.push(BundleKey {
            public_key: k.public_key.to_openssh_line_without_comment(),
            fingerprint: k.fingerprint,
            signer: k.signer,
            city: k.city.to_string(),
            role: k.role,
            events: events
                .into_iter()
                .map(|e| BundleKeyEvent {
                    kind: e.kind,
                    log_index: e.log_index,
                })
                .collect(),
        });
    }
    if indices.iter().any(|&i| i >= checkpoint.size) {
        return Ok(None);
    }

    let size = u64::try_from(checkpoint.size).map_err(|_| DbError::corrupt("negative size"))?;
    let mut entries = Vec::with_capacity(indices.len());
    for index in indices {
        let row = log::entry(conn, index)?
            .ok_or_else(|| DbError::corrupt(format!("log entry {index} is missing")))?;
        let at = u64::try_from(index).map_err(|_| DbError::corrupt("negative log index"))?;
        let proof = tree::inclusion_proof(conn, Some(cache), at, size)?;
        entries.push(BundleEntry {
            index,
            entry: STANDARD.encode(&row.entry),
            proof: proof.iter().map(hex::encode).collect(),
        });
    }

    Ok(Some(Bundle {
        format: FORMAT.to_string(),
        registry,
        checkpoint: checkpoint.note.clone(),
        mou: BundleMou {
            partnership: mou.partnership_id.into_string(),
            title: mou.title,
            required_signers: mou.required,
            state: mou.state,
            current_version: mou.current_version,
            log_index: mou.log_index,
            id: mou.id.into_string(),
        },
        versions: versions
            .into_iter()
            .map(|v| BundleVersion {
                version: v.version,
                sha256: hex::encode(v.sha256),
                size: v.size,
                media_type: v.media_type,
                filename: v.filename,
                language: v.language,
                additional_documents: v
                    .additional
                    .into_iter()
                    .map(|d| LoggedDocument {
                        sha256: hex::encode(d.sha256),
                        size: d.size,
                        media_type: d.media_type,
                        filename: d.filename,
                        language: d.language,
                    })
                    .collect(),
                log_index: v.log_index,
            })
            .collect(),
        signatures: chain
            .into_iter()
            .map(|s| BundleSignature {
                seq: s.seq,
                version: s.version,
                statement: STANDARD.encode(&s.statement),
                // Stored as submitted; bytes that are not text fail verification, as they
                // should, instead of hiding the signature from the auditor.
                signature: String::from_utf8_lossy(&s.signature).into_owned(),
                log_index: s.log_index,
            })
            .collect(),
        keys: bundle_keys,
        entries,
    }))
}
