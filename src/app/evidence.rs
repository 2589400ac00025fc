//! Reading an MOU's evidence: its bundle, proven into one signed checkpoint, and the server's
//! audit report over that bundle. Called by the API (`/mous/{id}/bundle`, `/mous/{id}/audit`)
//! and the MOU page alike.

use crate::bundle::{Bundle, RegistryInfo};
use crate::db::{self, Db, DbConn, DbError};
use crate::domain::MouId;
use crate::domain::audit::{AuditReport, StoredHead, audit};
use crate::log::note::NoteSigner;
use crate::log::registry_key::openssh_line;

/// How often to take a fresh checkpoint when writes keep landing between checkpoint and read.
const ATTEMPTS: usize = 3;

/// The registry's origin and key, as a bundle names them.
pub fn registry_info(signer: &NoteSigner, origin: &str) -> RegistryInfo {
    let verifier = signer.verifier();
    RegistryInfo {
        origin: origin.to_string(),
        vkey: verifier.to_vkey(),
        ssh: openssh_line(&verifier),
    }
}

/// Reads MOU `id`'s bundle proven into a fresh checkpoint and hands it to `then`, in the same
/// read, for whatever else must be read beside it; `None` (from the bundle or from `then`)
/// sends the read round again with a newer checkpoint, at most [`ATTEMPTS`] times.
fn read_proven<T>(
    db: &Db,
    signer: &NoteSigner,
    registry: &RegistryInfo,
    id: &MouId,
    then: impl Fn(&mut DbConn, Bundle) -> Result<Option<T>, DbError>,
) -> Result<Option<T>, DbError> {
    for _ in 0..ATTEMPTS {
        // The checkpoint first, then the MOU: every entry read with an index below the
        // checkpoint's size proves into it, and a newer one sends us round again. The note
        // carries the cosignatures witnesses returned for it so far.
        let mut checkpoint = db::checkpoints::current(db, signer)?;
        let cosignatures = db.read(|c| db::cosignatures::at_size(c, checkpoint.size))?;
        checkpoint.note = db::cosignatures::cosigned_note(&checkpoint.note, &cosignatures);
        let cache = db.node_cache();
        let read =
            db.read(
                |c| match db::bundle::read(c, &cache, id, &checkpoint, registry.clone())? {
                    Some(bundle) => then(c, bundle),
                    None => Ok(None),
                },
            )?;
        if read.is_some() {
            return Ok(read);
        }
    }
    Ok(None)
}

/// The MOU's evidence bundle, or `None` when the log grew under every attempt to read it.
pub fn bundle(
    db: &Db,
    signer: &NoteSigner,
    origin: &str,
    id: &MouId,
) -> Result<Option<Bundle>, DbError> {
    let registry = registry_info(signer, origin);
    read_proven(db, signer, &registry, id, |_, bundle| Ok(Some(bundle)))
}

/// The MOU's evidence bundle proven into `checkpoint` (its note as it should go out, e.g.
/// with a quorum's cosignatures), or `None` when an entry of the MOU is newer than it.
pub fn bundle_at(
    db: &Db,
    signer: &NoteSigner,
    origin: &str,
    id: &MouId,
    checkpoint: &db::checkpoints::CheckpointRow,
) -> Result<Option<Bundle>, DbError> {
    let registry = registry_info(signer, origin);
    let cache = db.node_cache();
    db.read(|c| db::bundle::read(c, &cache, id, checkpoint, registry))
}

/// The server's audit report of MOU `id` (docs/audit-rules.md, verifier S), or `None` when
/// the log grew under every attempt to read it.
pub fn audit_report(
    db: &Db,
    signer: &NoteSigner,
    origin: &str,
    id: &MouId,
) -> Result<Option<AuditReport>, DbError> {
    let registry = registry_info(signer, origin);
    let read = read_proven(db, signer, &registry, id, |c, bundle| {
        // The row and the stored bytes are read after the bundle; a write in between shows
        // as a longer chain or a newer version, and the read starts again.
        let mou = db::mous::require(c, id)?;
        if usize::try_from(mou.head_seq).ok() != Some(bundle.signatures.len())
            || mou.current_version != bundle.mou.current_version
        {
            return Ok(None);
        }
        let stored = db::mous::stored_versions(c, id)?;
        let head = StoredHead {
            seq: mou.head_seq,
            hash: mou.head_hash,
        };
        Ok(Some((bundle, stored, head)))
    })?;
    Ok(read.map(|(bundle, stored, head)| audit(&bundle, &stored, &head, &registry.vkey)))
}
