//! Witness cosignatures: C2SP tlog-cosignature, the Ed25519 type `cosignature/v1` (the spec as
//! of C2SP commit 01194db; docs/formats/checkpoints.md, "Cosignatures").
//!
//! A cosignature is a note signature line on a checkpoint:
//!
//! ```text
//! — <cosigner name> base64(key id || 8-byte big-endian timestamp || Ed25519 signature)
//! ```
//!
//! The key id is the first four bytes of `SHA-256(name || "\n" || 0x04 || public key)`, and
//! the signed message is `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint body
//! (every line up to, not including, the blank line before the signatures). The algorithm
//! byte 0x04 keeps a cosigner key apart from a note key (0x01): the same Ed25519 key gets a
//! different key id in each role, and a cosignature can never pass for a log signature.
//!
//! Parsing is as strict as the note parser's: canonical padded base64, exactly 76 bytes,
//! a timestamp of at most 2^63 - 1, and `verify_strict` on the signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::note::{
    ed25519_public_key, is_valid_key_name, key_id, parse_signature_line, split_vkey,
};

/// The signature type byte of an Ed25519 `cosignature/v1` key.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The first line of every signed message, for domain separation.
const HEADER: &str = "cosignature/v1\n";

/// The largest timestamp the spec allows.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Key id, timestamp and signature: the bytes behind a cosignature line.
const BLOB_LEN: usize = 4 + 8 + 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    #[error("malformed cosignature line: {0}")]
    MalformedLine(&'static str),
    #[error("invalid cosigner name")]
    InvalidName,
    #[error("malformed cosigner key")]
    MalformedKey,
    #[error("the key id does not match the cosigner key")]
    KeyIdMismatch,
    #[error("signature type {0:#04x} is not an Ed25519 cosigner key (0x04)")]
    UnsupportedAlgorithm(u8),
    #[error("invalid Ed25519 public key (small order or non-canonical)")]
    InvalidPublicKey,
    #[error("timestamp {0} exceeds 2^63 - 1")]
    TimestampTooLarge(u64),
    #[error("the checkpoint body must be non-empty lines, each ending in a newline")]
    MalformedBody,
    #[error("the cosignature is by {name}+{key_id:08x}, not by this cosigner")]
    WrongCosigner { name: String, key_id: u32 },
    #[error("the cosignature of {0} does not verify")]
    InvalidSignature(String),
}

/// One cosignature, as its line carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    pub name: String,
    pub key_id: u32,
    /// When the cosigner signed, seconds since the epoch.
    pub timestamp: u64,
    pub signature: [u8; 64],
}

impl Cosignature {
    /// Parses one signature line (without its final newline) as a cosignature.
    pub fn parse_line(line: &str) -> Result<Cosignature, CosignatureError> {
        let (name, key_id, rest) = parse_signature_line(line).map_err(|e| match e {
            crate::note::NoteError::MalformedNote(why) => CosignatureError::MalformedLine(why),
            _ => CosignatureError::MalformedLine("not a note signature line"),
        })?;
        if rest.len() != BLOB_LEN - 4 {
            return Err(CosignatureError::MalformedLine(
                "a cosignature is a key id, an 8-byte timestamp and a 64-byte signature",
            ));
        }
        let (time, signature) = rest.split_at(8);
        let timestamp = u64::from_be_bytes(
            time.try_into()
                .map_err(|_| CosignatureError::MalformedLine("no timestamp"))?,
        );
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::TimestampTooLarge(timestamp));
        }
        Ok(Cosignature {
            name: name.to_string(),
            key_id,
            timestamp,
            signature: signature
                .try_into()
                .map_err(|_| CosignatureError::MalformedLine("no signature"))?,
        })
    }

    /// The signature line, with its final newline.
    pub fn to_line(&self) -> String {
        let mut blob = Vec::with_capacity(BLOB_LEN);
        blob.extend_from_slice(&self.key_id.to_be_bytes());
        blob.extend_from_slice(&self.timestamp.to_be_bytes());
        blob.extend_from_slice(&self.signature);
        format!("\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

/// The message a cosigner signs for `body` (a checkpoint's text, final newline included) at
/// `timestamp`.
pub fn signed_message(timestamp: u64, body: &str) -> Result<Vec<u8>, CosignatureError> {
    if timestamp > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampTooLarge(timestamp));
    }
    let lines_ok = body
        .strip_suffix('\n')
        .is_some_and(|b| !b.is_empty() && b.split('\n').all(|l| !l.is_empty()));
    if !lines_ok {
        return Err(CosignatureError::MalformedBody);
    }
    let mut msg = Vec::with_capacity(HEADER.len() + 26 + body.len());
    msg.extend_from_slice(HEADER.as_bytes());
    msg.extend_from_slice(format!("time {timestamp}\n").as_bytes());
    msg.extend_from_slice(body.as_bytes());
    Ok(msg)
}

/// A cosigner's public key: what a log, an auditor or a policy names a witness by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl CosignerKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<CosignerKey, CosignatureError> {
        if !is_valid_key_name(name) {
            return Err(CosignatureError::InvalidName);
        }
        let key =
            ed25519_public_key(key.as_bytes()).map_err(|_| CosignatureError::InvalidPublicKey)?;
        Ok(CosignerKey {
            key_id: key_id(name, ALG_COSIGNATURE_V1, key.as_bytes()),
            name: name.to_string(),
            key,
        })
    }

    /// Parses a verifier key `<name>+<8 hex key id>+<base64(0x04 || key)>`.
    pub fn from_vkey(vkey: &str) -> Result<CosignerKey, CosignatureError> {
        let (name, id, alg, key_bytes) = split_vkey(vkey).ok_or(CosignatureError::MalformedKey)?;
        if key_id(name, alg, &key_bytes) != id {
            return Err(CosignatureError::KeyIdMismatch);
        }
        if alg != ALG_COSIGNATURE_V1 {
            return Err(CosignatureError::UnsupportedAlgorithm(alg));
        }
        let key_bytes: &[u8; 32] = key_bytes
            .as_slice()
            .try_into()
            .map_err(|_| CosignatureError::MalformedKey)?;
        let key = ed25519_public_key(key_bytes).map_err(|_| CosignatureError::InvalidPublicKey)?;
        Ok(CosignerKey {
            name: name.to_string(),
            key_id: id,
            key,
        })
    }

    pub fn to_vkey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_COSIGNATURE_V1);
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether `cosignature` is this cosigner's (by name and key id), and verifies over
    /// `body` with `verify_strict`.
    pub fn verify(&self, cosignature: &Cosignature, body: &str) -> Result<(), CosignatureError> {
        if cosignature.name != self.name || cosignature.key_id != self.key_id {
            return Err(CosignatureError::WrongCosigner {
                name: cosignature.name.clone(),
                key_id: cosignature.key_id,
            });
        }
        let msg = signed_message(cosignature.timestamp, body)?;
        self.key
            .verify_strict(&msg, &Signature::from_bytes(&cosignature.signature))
            .map_err(|_| CosignatureError::InvalidSignature(self.name.clone()))
    }
}

/// A cosigner's signing key: a witness holds one.
pub struct Cosigner {
    public: CosignerKey,
    key: SigningKey,
}

impl Cosigner {
    pub fn new(name: &str, key: SigningKey) -> Result<Cosigner, CosignatureError> {
        Ok(Cosigner {
            public: CosignerKey::new(name, key.verifying_key())?,
            key,
        })
    }

    pub fn public(&self) -> &CosignerKey {
        &self.public
    }

    /// Cosigns `body` (a checkpoint's text) at `timestamp`.
    pub fn cosign(&self, body: &str, timestamp: u64) -> Result<Cosignature, CosignatureError> {
        let msg = signed_message(timestamp, body)?;
        Ok(Cosignature {
            name: self.public.name.clone(),
            key_id: self.public.key_id,
            timestamp,
            signature: self.key.sign(&msg).to_bytes(),
        })
    }
}

impl std::fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cosigner")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the spec (C2SP tlog-cosignature): a checkpoint with the log's signature
    /// and a witness cosignature, and the message the witness signed, verbatim.
    const SPEC_BODY: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const SPEC_LINE: &str = "\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
    const SPEC_MESSAGE: &str = "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn the_spec_example_parses_to_the_spec_message() {
        let c = Cosignature::parse_line(SPEC_LINE).unwrap();
        assert_eq!(c.name, "witness.example.com/w1");
        assert_eq!(c.key_id, 0x8d66_cf3f);
        // The timestamp in the line is the one in the spec's signed message.
        assert_eq!(c.timestamp, 1_679_315_147);
        assert_eq!(
            signed_message(c.timestamp, SPEC_BODY).unwrap(),
            SPEC_MESSAGE.as_bytes()
        );
        assert_eq!(c.to_line(), format!("{SPEC_LINE}\n"), "byte for byte");
    }

    #[test]
    fn cosign_and_verify() {
        let w = Cosigner::new("witness.example/w1", SigningKey::from_bytes(&[7; 32])).unwrap();
        let c = w.cosign(SPEC_BODY, 1_700_000_000).unwrap();
        let line = c.to_line();
        let parsed = Cosignature::parse_line(line.trim_end_matches('\n')).unwrap();
        assert_eq!(parsed, c);
        let key = CosignerKey::from_vkey(&w.public().to_vkey()).unwrap();
        assert_eq!(key, *w.public());
        key.verify(&parsed, SPEC_BODY).unwrap();

        let other_body = SPEC_BODY.replace("20852163", "20852164");
        assert!(matches!(
            key.verify(&parsed, &other_body),
            Err(CosignatureError::InvalidSignature(_))
        ));
        let later = Cosignature {
            timestamp: c.timestamp + 1,
            ..c.clone()
        };
        assert!(key.verify(&later, SPEC_BODY).is_err(), "the time is signed");
        let renamed = Cosignature {
            name: "witness.example/w2".into(),
            ..c.clone()
        };
        assert!(matches!(
            key.verify(&renamed, SPEC_BODY),
            Err(CosignatureError::WrongCosigner { .. })
        ));
    }

    #[test]
    fn a_cosigner_key_is_not_a_note_key() {
        let sk = SigningKey::from_bytes(&[9; 32]);
        let cosigner = CosignerKey::new("w", sk.verifying_key()).unwrap();
        let note = crate::note::NoteVerifier::new("w", sk.verifying_key()).unwrap();
        assert_ne!(cosigner.key_id(), note.key_id());
        assert!(matches!(
            CosignerKey::from_vkey(&note.to_vkey()),
            Err(CosignatureError::UnsupportedAlgorithm(0x01))
        ));
        assert!(crate::note::NoteVerifier::from_vkey(&cosigner.to_vkey()).is_err());
    }

    #[test]
    fn strict_parsing() {
        let w = Cosigner::new("w", SigningKey::from_bytes(&[3; 32])).unwrap();
        let c = w.cosign(SPEC_BODY, 5).unwrap();
        let mut blob = Vec::new();
        blob.extend_from_slice(&c.key_id.to_be_bytes());
        blob.extend_from_slice(&u64::MAX.to_be_bytes());
        blob.extend_from_slice(&c.signature);
        let too_late = format!("\u{2014} w {}", B64.encode(&blob));
        assert!(matches!(
            Cosignature::parse_line(&too_late),
            Err(CosignatureError::TimestampTooLarge(_))
        ));
        let short = format!("\u{2014} w {}", B64.encode(&blob[..40]));
        assert!(Cosignature::parse_line(&short).is_err());
        let long = format!(
            "\u{2014} w {}",
            B64.encode([blob.as_slice(), &[0]].concat())
        );
        assert!(Cosignature::parse_line(&long).is_err());
        assert!(Cosignature::parse_line("- w AAAA").is_err());
        assert!(signed_message(1, "no final newline").is_err());
        assert!(signed_message(1, "a\n\nb\n").is_err());
        assert!(signed_message(MAX_TIMESTAMP + 1, SPEC_BODY).is_err());
        // A small-order key (the identity point) is refused.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        assert_eq!(
            CosignerKey::new("w", weak),
            Err(CosignatureError::InvalidPublicKey)
        );
    }

    /// Cross-checked with an implementation that is not ours: the `signed_note` crate parses
    /// our cosignature line and computes the same key id from the spec's formula, and the
    /// message built from the spec's text verifies under the plain Ed25519 key.
    #[test]
    fn an_independent_note_implementation_agrees() {
        let sk = SigningKey::from_bytes(&[11; 32]);
        let w = Cosigner::new("witness.example/w1", sk.clone()).unwrap();
        let c = w.cosign(SPEC_BODY, 1_679_315_147).unwrap();
        let theirs = signed_note::Signature::from_bytes(c.to_line().trim_end().as_bytes()).unwrap();
        assert_eq!(theirs.name(), "witness.example/w1");
        let mut material = vec![ALG_COSIGNATURE_V1];
        material.extend_from_slice(sk.verifying_key().as_bytes());
        assert_eq!(
            theirs.id(),
            signed_note::key_id("witness.example/w1", &material)
        );
        let (time, sig) = theirs.signature().split_at(8);
        assert_eq!(time, 1_679_315_147u64.to_be_bytes());
        let sig = Signature::from_slice(sig).unwrap();
        sk.verifying_key()
            .verify_strict(SPEC_MESSAGE.as_bytes(), &sig)
            .unwrap();
    }
}
