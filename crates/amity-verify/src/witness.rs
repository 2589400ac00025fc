//! The witness side of C2SP tlog-witness (`add-checkpoint`, the spec as of C2SP commit
//! `055270b`): parsing a request body and deciding it against what the witness last cosigned
//! for the log, with the status code the spec gives each refusal. No HTTP and no storage here:
//! the caller checks and persists the new size and root atomically (the spec's race between
//! two requests), and answers with [`Refusal::status`].
//!
//! A witness never cosigns two roots for one size: a request at the stored size must carry the
//! stored root (else 409), and a larger size must come with a consistency proof from the
//! stored size and root, the ones the witness verified itself, not ones the client claims.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::merkle::{self, Hash};
use crate::note::{Checkpoint, NoteError, NoteVerifier, open_checkpoint};

/// The most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// The content type of a 409 answer, whose body is the size the witness knows.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The largest request body worth reading: a checkpoint note with the maximum of signature
/// lines and a full proof is well under this.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A parsed `add-checkpoint` request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint<'a> {
    /// The size of the checkpoint the client believes the witness cosigned last.
    pub old: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub note: &'a str,
}

impl<'a> AddCheckpoint<'a> {
    /// Parses `old <N>\n`, the proof lines, an empty line and the note. Any deviation is a
    /// 400: no leading zeros, standard padded base64 of exactly 32 bytes per line, at most
    /// 63 lines.
    pub fn parse(body: &'a [u8]) -> Result<AddCheckpoint<'a>, Refusal> {
        let bad = |why: &str| Refusal::BadRequest(why.to_string());
        if body.len() > MAX_BODY_BYTES {
            return Err(bad("the request body is too large"));
        }
        let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old_line = lines.next().unwrap_or_default();
        let digits = old_line
            .strip_prefix("old ")
            .ok_or_else(|| bad("the first line must be `old <size>`"))?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        let old = canonical
            .then(|| digits.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| bad("the old size must be a decimal number without leading zeros"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let hash = B64
                .decode(line)
                .ok()
                .and_then(|bytes| <Hash>::try_from(bytes.as_slice()).ok())
                .ok_or_else(|| bad("a proof line is not the base64 of a 32-byte hash"))?;
            proof.push(hash);
        }
        Ok(AddCheckpoint { old, proof, note })
    }

    /// The request body, as a log sends it.
    pub fn to_body(old: u64, proof: &[Hash], note: &str) -> String {
        let mut body = format!("old {old}\n");
        for hash in proof {
            body.push_str(&B64.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(note);
        body
    }
}

/// Why a witness does not cosign, with the status the spec gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A malformed body or note, or an old size beyond the checkpoint's.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The witness does not know the checkpoint's origin.
    #[error("unknown log {0:?}")]
    UnknownLog(String),
    /// No signature by a key the witness trusts for the log verifies.
    #[error("no trusted signature: {0}")]
    Forbidden(String),
    /// The old size is not the one the witness cosigned last, or the same size comes with
    /// another root. `known` is the size the witness cosigned last.
    #[error("the witness cosigned size {known} last")]
    Conflict { known: u64 },
    /// The consistency proof does not verify.
    #[error("the consistency proof does not verify: {0}")]
    BadProof(String),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Forbidden(_) => 403,
            Refusal::UnknownLog(_) => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::BadProof(_) => 422,
        }
    }
}

/// What a witness knows about one log: the keys it trusts for it and the checkpoint it
/// cosigned last (`None` before the first).
#[derive(Debug, Clone)]
pub struct LogRecord {
    pub verifiers: Vec<NoteVerifier>,
    pub cosigned: Option<(u64, Hash)>,
}

/// The origin line of a note, to find the log's record before verifying anything.
fn origin_of(note: &str) -> Option<&str> {
    note.split_once('\n')
        .map(|(first, _)| first)
        .filter(|o| !o.is_empty())
}

/// Decides a request: the checkpoint to cosign (and to store, atomically with this check,
/// as the log's new record), or the refusal. `record` finds the witness's record by origin.
pub fn decide<'r>(
    req: &AddCheckpoint<'_>,
    record: impl FnOnce(&str) -> Option<&'r LogRecord>,
) -> Result<Checkpoint, Refusal> {
    let origin =
        origin_of(req.note).ok_or_else(|| Refusal::BadRequest("the note has no origin".into()))?;
    let log = record(origin).ok_or_else(|| Refusal::UnknownLog(origin.to_string()))?;
    let (checkpoint, _) =
        open_checkpoint(req.note, origin, &log.verifiers).map_err(|e| match e {
            NoteError::NoVerifiedSignature | NoteError::InvalidSignature { .. } => {
                Refusal::Forbidden(e.to_string())
            }
            other => Refusal::BadRequest(other.to_string()),
        })?;
    if req.old > checkpoint.size {
        return Err(Refusal::BadRequest(format!(
            "old size {} is beyond the checkpoint's {}",
            req.old, checkpoint.size
        )));
    }
    let (known_size, known_root) = log.cosigned.unwrap_or((0, merkle::empty_root()));
    if req.old != known_size {
        return Err(Refusal::Conflict { known: known_size });
    }
    if req.old == checkpoint.size {
        // The same size again: cosigned only with the same root, never a second one.
        if req.old > 0 && checkpoint.root != known_root {
            return Err(Refusal::Conflict { known: known_size });
        }
        if !req.proof.is_empty() {
            return Err(Refusal::BadProof(
                "equal sizes take an empty proof".to_string(),
            ));
        }
        return Ok(checkpoint);
    }
    if req.old == 0 {
        return if req.proof.is_empty() {
            Ok(checkpoint)
        } else {
            Err(Refusal::BadProof(
                "the proof must be empty when the old size is zero".to_string(),
            ))
        };
    }
    merkle::verify_consistency(
        known_size,
        checkpoint.size,
        &known_root,
        &checkpoint.root,
        &req.proof,
    )
    .map_err(|e| Refusal::BadProof(e.to_string()))?;
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::Cosigner;
    use crate::merkle::MemoryTree;
    use crate::note::{NoteSigner, sign_checkpoint};
    use ed25519_dalek::SigningKey;

    const ORIGIN: &str = "amity.example/log";

    fn log_signer() -> NoteSigner {
        NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[21; 32])).unwrap()
    }

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(format!("entry {i}").as_bytes()).unwrap();
        }
        t
    }

    fn checkpoint(t: &MemoryTree, signer: &NoteSigner) -> String {
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: t.size(),
            root: merkle::root(t.size(), &mut &*t).unwrap(),
            extensions: vec![],
        };
        sign_checkpoint(&cp, &[signer]).unwrap()
    }

    fn record(cosigned: Option<(u64, Hash)>) -> LogRecord {
        LogRecord {
            verifiers: vec![log_signer().verifier()],
            cosigned,
        }
    }

    fn ask(rec: &LogRecord, body: &str) -> Result<Checkpoint, Refusal> {
        let req = AddCheckpoint::parse(body.as_bytes())?;
        decide(&req, |o| (o == ORIGIN).then_some(rec))
    }

    /// The spec's example request body parses (old size, four proof lines, the note).
    #[test]
    fn the_spec_example_body_parses() {
        let body = "old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
        let req = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(req.old, 20_852_014);
        assert_eq!(req.proof.len(), 4);
        assert!(
            req.note
                .starts_with("example.com/behind-the-sofa\n20852163\n")
        );
        assert_eq!(AddCheckpoint::to_body(req.old, &req.proof, req.note), body);
    }

    #[test]
    fn every_status_of_the_spec_has_a_request_that_provokes_it() {
        let signer = log_signer();
        let (t5, t8) = (tree(5), tree(8));
        let (cp5, cp8) = (checkpoint(&t5, &signer), checkpoint(&t8, &signer));
        let root5 = merkle::root(5, &mut &t5).unwrap();
        let proof = merkle::consistency_proof(5, 8, &mut &t8).unwrap();

        // First contact: old 0, no proof.
        let fresh = record(None);
        assert_eq!(
            ask(&fresh, &AddCheckpoint::to_body(0, &[], &cp5))
                .unwrap()
                .size,
            5
        );
        let known = record(Some((5, root5)));
        // 200: from the stored size with a proof that verifies.
        assert_eq!(
            ask(&known, &AddCheckpoint::to_body(5, &proof, &cp8))
                .unwrap()
                .size,
            8
        );
        // 200: the same checkpoint again.
        assert!(ask(&known, &AddCheckpoint::to_body(5, &[], &cp5)).is_ok());
        // 409: the client's old size is not the stored one; the answer names it.
        let r = ask(&known, &AddCheckpoint::to_body(0, &[], &cp8)).unwrap_err();
        assert_eq!(
            (r.status(), r.clone()),
            (409, Refusal::Conflict { known: 5 })
        );
        // 409: the stored size with another root (a fork).
        let mut other = tree(4);
        other.push(b"another entry").unwrap();
        let fork5 = checkpoint(&other, &signer);
        assert_eq!(
            ask(&known, &AddCheckpoint::to_body(5, &[], &fork5))
                .unwrap_err()
                .status(),
            409
        );
        // 422: a proof that does not verify (and a fork that cannot be proven).
        let mut bad = proof.clone();
        bad[0][0] ^= 1;
        assert_eq!(
            ask(&known, &AddCheckpoint::to_body(5, &bad, &cp8))
                .unwrap_err()
                .status(),
            422
        );
        assert_eq!(
            ask(&fresh, &AddCheckpoint::to_body(0, &proof, &cp8))
                .unwrap_err()
                .status(),
            422,
            "old 0 takes no proof"
        );
        // 400: old beyond the checkpoint; malformed bodies.
        assert_eq!(
            ask(&known, &AddCheckpoint::to_body(9, &[], &cp8))
                .unwrap_err()
                .status(),
            400
        );
        for body in [
            format!("old 05\n\n{cp5}"),
            format!("old five\n\n{cp5}"),
            format!("old 0\nnot base64\n\n{cp5}"),
            format!("old 0\n{cp5}"),
            format!("0\n\n{cp5}"),
        ] {
            assert_eq!(ask(&known, &body).unwrap_err().status(), 400, "{body}");
        }
        let long = AddCheckpoint::to_body(5, &vec![[0u8; 32]; 64], &cp8);
        assert_eq!(ask(&known, &long).unwrap_err().status(), 400);
        // 403: signed by a key the witness does not trust for the log.
        let stranger = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[22; 32])).unwrap();
        let forged = checkpoint(&t8, &stranger);
        assert_eq!(
            ask(&known, &AddCheckpoint::to_body(5, &proof, &forged))
                .unwrap_err()
                .status(),
            403
        );
        // 404: a log the witness does not know.
        let unknown = cp8.replacen(ORIGIN, "other.example/log", 1);
        assert_eq!(
            ask(&known, &AddCheckpoint::to_body(5, &proof, &unknown))
                .unwrap_err()
                .status(),
            404
        );
    }

    /// Whatever sequence of requests arrives, a witness that stores what it cosigns never
    /// cosigns two roots for one size.
    #[test]
    fn no_two_roots_for_one_size() {
        let signer = log_signer();
        let witness =
            Cosigner::new("witness.example/w1", SigningKey::from_bytes(&[23; 32])).unwrap();
        let honest: Vec<MemoryTree> = (1..=6).map(tree).collect();
        let mut forked = tree(3);
        forked.push(b"rewritten").unwrap();
        forked.push(b"rewritten too").unwrap();
        let mut rec = record(None);
        let mut cosigned: std::collections::BTreeMap<u64, Hash> = Default::default();
        let candidates: Vec<&MemoryTree> = honest.iter().chain([&forked]).collect();
        for (step, t) in candidates.iter().cycle().take(40).enumerate() {
            let (known, _) = rec.cosigned.unwrap_or((0, merkle::empty_root()));
            let proof = if known == 0 || known >= t.size() {
                vec![]
            } else {
                merkle::consistency_proof(known, t.size(), &mut &**t).unwrap()
            };
            let old = if step % 7 == 3 { known + 1 } else { known };
            let note = checkpoint(t, &signer);
            if let Ok(cp) = ask(&rec, &AddCheckpoint::to_body(old, &proof, &note)) {
                let body = &note[..note.rfind("\n\n").unwrap() + 1];
                witness.cosign(body, 1_700_000_000).unwrap();
                if let Some(root) = cosigned.insert(cp.size, cp.root) {
                    assert_eq!(root, cp.root, "two roots cosigned for size {}", cp.size);
                }
                rec.cosigned = Some((cp.size, cp.root));
            }
        }
        assert!(
            cosigned.len() >= 3,
            "the honest log kept being cosigned: {cosigned:?}"
        );
    }
}
