//! C2SP signed notes (Ed25519 signatures) and tlog checkpoints.
//!
//! Specs: <https://c2sp.org/signed-note> and <https://c2sp.org/tlog-checkpoint>.
//! Key strings follow golang.org/x/mod/sumdb/note, the reference
//! implementation, so keys and notes interoperate with the Go ecosystem
//! (witnesses, `sumdb`, Tessera): verifier keys are
//! `<name>+<hex key id>+<base64(0x01 || public key)>` and signer keys
//! `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`.
//!
//! This module is self-contained on purpose (it does not use the Merkle
//! module): a checkpoint root is just 32 opaque bytes here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Signature type identifier byte for Ed25519 (signed-note, "Signature types").
pub const ALG_ED25519: u8 = 0x01;

/// Maximum number of signature lines accepted by [`open_note`].
///
/// The spec requires accepting at least 16 and says verifiers SHOULD apply a
/// limit; 100 is the Go reference implementation's limit. Counting happens
/// before any signature is checked, so a hostile note cannot make us run
/// unbounded Ed25519 verifications.
pub const MAX_SIGNATURES: usize = 100;

/// Every signature line starts with an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Length in bytes of a checkpoint root hash.
pub const ROOT_SIZE: usize = 32;

/// Errors from key handling, note signing/opening and checkpoint parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Key names must be non-empty and contain neither `+` nor whitespace.
    #[error("invalid key name")]
    InvalidKeyName,
    /// A verifier key string that does not have the `name+id+key` shape or
    /// whose parts do not decode.
    #[error("malformed verifier key")]
    MalformedVerifierKey,
    /// A signer key string that does not have the
    /// `PRIVATE+KEY+name+id+key` shape or whose parts do not decode.
    #[error("malformed signer key")]
    MalformedSignerKey,
    /// The key id in a key string is not the one derived from name and key.
    #[error("key id does not match the key")]
    KeyIdMismatch,
    /// Only Ed25519 (0x01) is supported.
    #[error("unsupported signature algorithm {0:#04x}")]
    UnsupportedAlgorithm(u8),
    /// Not a valid Ed25519 public key, or a small-order / non-canonically
    /// encoded one (such keys can make forged signatures verify).
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
    /// Text given to [`sign_note`] that cannot form a valid note.
    #[error("invalid note text: {0}")]
    InvalidText(&'static str),
    /// [`sign_note`] was given no signers: a note needs a signature.
    #[error("no signers given")]
    NoSigners,
    /// [`sign_note`] was given two signers with the same name and key id.
    #[error("duplicate signer {name}+{key_id:08x}")]
    DuplicateSigner { name: String, key_id: u32 },
    /// The note does not follow the signed-note format.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// Two configured verifiers share the name and key id a signature
    /// names, so which one should check it is undecidable.
    #[error("ambiguous key {name}+{key_id:08x}")]
    AmbiguousKey { name: String, key_id: u32 },
    /// A signature from a known key (name and id match) that does not
    /// verify. The spec says the whole note SHOULD then be rejected.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    InvalidSignature { name: String, key_id: u32 },
    /// No signature from a known key: the spec says the note MUST be rejected.
    #[error("note has no verifiable signatures")]
    NoVerifiedSignature,
    /// The note text is not a valid checkpoint body.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A correctly signed checkpoint for another log.
    #[error("checkpoint origin {found:?} does not match expected {expected:?}")]
    OriginMismatch { expected: String, found: String },
}

/// Whether `name` is a valid key name: non-empty, no `+` (the key string
/// separator), no Unicode whitespace (the signature line separator) and no
/// ASCII control character below U+0020 (forbidden anywhere in a note; DEL
/// is not, so it is not refused here either, matching the Go reference).
///
/// `char::is_whitespace` is the Unicode White_Space property, the same set
/// Go's `unicode.IsSpace` uses in the reference implementation.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c < '\u{20}')
}

/// Key id: the first four bytes, big-endian, of
/// `SHA-256(name || 0x0A || alg || public key)`.
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public_key);
    let [a, b, c, d, ..]: [u8; 32] = h.finalize().into();
    u32::from_be_bytes([a, b, c, d])
}

/// Key id of an Ed25519 key (algorithm byte 0x01).
pub fn ed25519_key_id(name: &str, key: &VerifyingKey) -> u32 {
    key_id(name, ALG_ED25519, key.as_bytes())
}

/// Parse an 8-digit hex key id. Exactly 8 digits, as in the Go reference;
/// `u32::from_str_radix` alone would also accept a sign.
fn parse_key_id(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Splits a verifier key `<name>+<8 hex key id>+<base64(alg || key)>` into its name, key id,
/// algorithm byte and key material; `None` when it is not of that form. The key material may
/// itself contain `+` (base64 alphabet), so only the first two `+` separate fields; names
/// cannot contain `+`. The caller checks the key id and the algorithm.
pub(crate) fn split_vkey(vkey: &str) -> Option<(&str, u32, u8, Vec<u8>)> {
    let (name, rest) = vkey.split_once('+')?;
    let (id_hex, key_b64) = rest.split_once('+')?;
    if !is_valid_key_name(name) {
        return None;
    }
    let id = parse_key_id(id_hex)?;
    let raw = B64.decode(key_b64).ok()?;
    let (&alg, key) = raw.split_first()?;
    Some((name, id, alg, key.to_vec()))
}

/// Decode an Ed25519 public key and refuse the ones that weaken verification:
/// small-order points (a "signature" can then verify for many messages) and
/// non-canonical encodings (two strings for one key would break the
/// one-key-one-id assumption).
pub(crate) fn ed25519_public_key(bytes: &[u8; 32]) -> Result<VerifyingKey, NoteError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| NoteError::InvalidPublicKey)?;
    if key.is_weak() || key.to_edwards().compress().to_bytes() != *bytes {
        return Err(NoteError::InvalidPublicKey);
    }
    Ok(key)
}

/// A key that can check note signatures: name, key id and Ed25519 key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// The key as an OpenSSH public key line, `ssh-ed25519 <base64 blob> <name>`, the form the
    /// registry publishes beside its vkey.
    pub fn openssh_line(&self) -> String {
        let mut blob = Vec::with_capacity(51);
        crate::keys::put_string(&mut blob, b"ssh-ed25519");
        crate::keys::put_string(&mut blob, self.public_key().as_bytes());
        format!("ssh-ed25519 {} {}", B64.encode(blob), self.name())
    }

    /// A verifier for `key` under `name` (the key id is derived).
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        // Re-run the public key checks so keys from any source get them.
        let key = ed25519_public_key(key.as_bytes())?;
        Ok(Self {
            key_id: ed25519_key_id(name, &key),
            name: name.to_owned(),
            key,
        })
    }

    /// Parse a verifier key string `<name>+<8 hex key id>+<base64(0x01 || key)>`.
    ///
    /// The key material may itself contain `+` (base64 alphabet), so only
    /// the first two `+` separate fields; names cannot contain `+`.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let (name, id, alg, key_bytes) = split_vkey(vkey).ok_or(NoteError::MalformedVerifierKey)?;
        // The id covers the algorithm byte too, so check it before
        // interpreting the key: a mismatch is the most specific error.
        if key_id(name, alg, &key_bytes) != id {
            return Err(NoteError::KeyIdMismatch);
        }
        if alg != ALG_ED25519 {
            return Err(NoteError::UnsupportedAlgorithm(alg));
        }
        let key_bytes: &[u8; 32] = key_bytes
            .as_slice()
            .try_into()
            .map_err(|_| NoteError::MalformedVerifierKey)?;
        let key = ed25519_public_key(key_bytes)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: id,
            key,
        })
    }

    /// The verifier key string (inverse of [`NoteVerifier::from_vkey`]).
    pub fn to_vkey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
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

    /// Check an Ed25519 signature (without the 4-byte key id prefix).
    ///
    /// Uses `verify_strict` (rejects non-canonical `S` and small-order `R`),
    /// which every honestly produced signature passes.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <&[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify_strict(msg, &Signature::from_bytes(sig))
            .is_ok()
    }
}

impl FromStr for NoteVerifier {
    type Err = NoteError;
    fn from_str(s: &str) -> Result<Self, NoteError> {
        Self::from_vkey(s)
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

/// A key that signs notes. The secret key is zeroized on drop (the
/// `zeroize` feature of ed25519-dalek) and never printed by `Debug`.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer for `key` under `name`. For a fresh key, pass
    /// `SigningKey::generate(&mut OsRng)` (ed25519-dalek's `rand_core`
    /// feature); this module takes no RNG dependency of its own.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        Ok(Self {
            key_id: ed25519_key_id(name, &key.verifying_key()),
            name: name.to_owned(),
            key,
        })
    }

    /// Parse a signer key string `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`
    /// (the format of Go's `note.GenerateKey`). Errors never include key material.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedSignerKey)?;
        let (name, rest) = rest.split_once('+').ok_or(NoteError::MalformedSignerKey)?;
        let (id_hex, key_b64) = rest.split_once('+').ok_or(NoteError::MalformedSignerKey)?;
        if !is_valid_key_name(name) {
            return Err(NoteError::MalformedSignerKey);
        }
        let id = parse_key_id(id_hex).ok_or(NoteError::MalformedSignerKey)?;
        let raw = B64
            .decode(key_b64)
            .map_err(|_| NoteError::MalformedSignerKey)?;
        let (&alg, seed) = raw.split_first().ok_or(NoteError::MalformedSignerKey)?;
        if alg != ALG_ED25519 {
            return Err(NoteError::UnsupportedAlgorithm(alg));
        }
        let seed: &[u8; 32] = seed.try_into().map_err(|_| NoteError::MalformedSignerKey)?;
        let signer = Self::new(name, SigningKey::from_bytes(seed))?;
        // The id in a signer key is derived from the *public* key, so a
        // mismatch means a corrupted seed or id.
        if signer.key_id != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(signer)
    }

    /// The signer key string (inverse of [`NoteSigner::from_skey`]).
    /// It contains the secret seed: treat it as a secret.
    pub fn to_skey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            B64.encode(raw)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Sign `msg` with Ed25519 (deterministic, RFC 8032).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

/// A signature of an opened note that verified against a known key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub name: String,
    pub key_id: u32,
    pub signature: [u8; 64],
}

/// Refuse ASCII control characters other than newline, which the spec
/// forbids anywhere in a signed note (they could hide text from a reader or
/// be normalized differently by intermediaries).
fn has_forbidden_control(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20 && b != b'\n')
}

/// Sign `text` with every signer: `text || "\n" || one line per signature`.
///
/// `text` must be non-empty, end in a newline and contain no control
/// characters other than newline, so that the result is a note that
/// [`open_note`] (and any other implementation) can split back exactly.
/// Empty lines inside the text are allowed: the text is separated from the
/// signatures by the *last* empty line, and the signature block has none.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    if text.is_empty() {
        return Err(NoteError::InvalidText("empty text"));
    }
    if !text.ends_with('\n') {
        return Err(NoteError::InvalidText("text must end in a newline"));
    }
    if has_forbidden_control(text) {
        return Err(NoteError::InvalidText("control character in text"));
    }
    if signers.is_empty() {
        return Err(NoteError::NoSigners);
    }
    for (i, s) in signers.iter().enumerate() {
        if signers
            .iter()
            .take(i)
            .any(|t| t.name == s.name && t.key_id == s.key_id)
        {
            return Err(NoteError::DuplicateSigner {
                name: s.name.clone(),
                key_id: s.key_id,
            });
        }
    }
    let mut out = String::with_capacity(text.len() + 1 + signers.len() * 128);
    out.push_str(text);
    out.push('\n');
    for s in signers {
        let mut blob = Vec::with_capacity(4 + 64);
        blob.extend_from_slice(&s.key_id.to_be_bytes());
        blob.extend_from_slice(&s.sign(text.as_bytes()));
        out.push_str(SIG_PREFIX);
        out.push_str(&s.name);
        out.push(' ');
        out.push_str(&B64.encode(blob));
        out.push('\n');
    }
    Ok(out)
}

/// Open a signed note: check its format, verify the signatures from known
/// keys and return the text with the verified signatures.
///
/// Rules (signed-note spec, with the Go reference's choices where the spec
/// leaves room):
/// - no ASCII control characters except newline; must end in a newline;
/// - the text ends at the last blank line; at least one signature line must
///   follow, each `— <name> <base64(key id || signature)>` with a valid name
///   and at least 5 decoded bytes, else the note is malformed;
/// - at most [`MAX_SIGNATURES`] signature lines;
/// - signatures whose (name, key id) match no verifier are ignored, even if
///   one of the two matches a known key;
/// - a signature whose (name, key id) matches a verifier must verify, else the
///   whole note is rejected ([`NoteError::InvalidSignature`]);
/// - repeated signatures from one key are reported once;
/// - at least one signature must verify.
pub fn open_note<'a>(
    note: &'a str,
    verifiers: &[NoteVerifier],
) -> Result<(&'a str, Vec<VerifiedSignature>), NoteError> {
    if has_forbidden_control(note) {
        return Err(NoteError::MalformedNote("control character"));
    }
    if !note.ends_with('\n') {
        return Err(NoteError::MalformedNote("missing final newline"));
    }
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::MalformedNote("no blank line before signatures"))?;
    // The text keeps its final newline; the blank line belongs to neither.
    let text = &note[..split + 1];
    let sig_block = &note[split + 2..];
    // Because `split` is the *last* blank line, the block contains no empty
    // lines; it is empty only when the note ends with the blank line.
    let Some(sig_block) = sig_block.strip_suffix('\n') else {
        return Err(NoteError::MalformedNote("no signature lines"));
    };
    if sig_block.split('\n').count() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures);
    }

    let mut verified: Vec<VerifiedSignature> = Vec::new();
    for line in sig_block.split('\n') {
        let (name, id, sig) = parse_signature_line(line)?;
        let mut matching = verifiers
            .iter()
            .filter(|v| v.name == name && v.key_id == id);
        let Some(verifier) = matching.next() else {
            // Unknown key: ignored as the spec requires (it may be a
            // witness cosignature or a key we were not configured with).
            continue;
        };
        if matching.next().is_some() {
            return Err(NoteError::AmbiguousKey {
                name: name.to_owned(),
                key_id: id,
            });
        }
        // Verify every signature from a known key, including repeats, so a
        // bad signature cannot hide behind a good one from the same key.
        let signature = <[u8; 64]>::try_from(sig).ok();
        match signature {
            Some(signature) if verifier.verify(text.as_bytes(), &signature) => {
                if !verified.iter().any(|v| v.name == name && v.key_id == id) {
                    verified.push(VerifiedSignature {
                        name: name.to_owned(),
                        key_id: id,
                        signature,
                    });
                }
            }
            _ => {
                return Err(NoteError::InvalidSignature {
                    name: name.to_owned(),
                    key_id: id,
                });
            }
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NoVerifiedSignature);
    }
    Ok((text, verified))
}

/// [`open_note`] for raw bytes (e.g. a request body): invalid UTF-8 is a
/// malformed note, as the spec requires notes to be valid UTF-8.
pub fn open_note_bytes<'a>(
    note: &'a [u8],
    verifiers: &[NoteVerifier],
) -> Result<(&'a str, Vec<VerifiedSignature>), NoteError> {
    let note = std::str::from_utf8(note).map_err(|_| NoteError::MalformedNote("invalid UTF-8"))?;
    open_note(note, verifiers)
}

/// Split one signature line into (name, key id, signature bytes).
pub(crate) fn parse_signature_line(line: &str) -> Result<(&str, u32, Vec<u8>), NoteError> {
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or(NoteError::MalformedNote(
            "signature line must start with an em dash and a space",
        ))?;
    let (name, b64) = rest.split_once(' ').ok_or(NoteError::MalformedNote(
        "signature line without a space after the key name",
    ))?;
    if !is_valid_key_name(name) {
        return Err(NoteError::MalformedNote(
            "invalid key name in signature line",
        ));
    }
    // Standard padded base64, canonical only (the engine refuses non-zero
    // trailing bits), so one signature has exactly one textual form.
    let blob = B64
        .decode(b64)
        .map_err(|_| NoteError::MalformedNote("invalid base64 in signature line"))?;
    if blob.len() < 5 {
        return Err(NoteError::MalformedNote("signature too short"));
    }
    let Some((id, sig)) = blob.split_first_chunk::<4>() else {
        return Err(NoteError::MalformedNote("signature too short"));
    };
    let id = u32::from_be_bytes(*id);
    Ok((name, id, sig.to_vec()))
}

/// A tlog checkpoint body (c2sp.org/tlog-checkpoint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique log identity; non-empty. By convention a schema-less URL that
    /// also serves as the log's key name, but clients must not assume that.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 / 9162 Merkle tree root at `size`.
    pub root: [u8; ROOT_SIZE],
    /// Opaque, non-empty extension lines (use is NOT RECOMMENDED by the spec).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: `<origin>\n<size>\n<base64 root>\n` plus one line per
    /// extension. Fails if a field would break the line structure (empty
    /// origin or extension, a newline or control character in one).
    pub fn to_text(&self) -> Result<String, NoteError> {
        let line_ok = |s: &str| !s.is_empty() && !s.bytes().any(|b| b < 0x20);
        if !line_ok(&self.origin) {
            return Err(NoteError::MalformedCheckpoint("invalid origin line"));
        }
        if !self.extensions.iter().all(|e| line_ok(e)) {
            return Err(NoteError::MalformedCheckpoint("invalid extension line"));
        }
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        Ok(out)
    }

    /// Strictly parse a checkpoint body (the text of an opened note).
    ///
    /// Exactly one encoding is accepted for each value, so two different
    /// texts can never denote the same checkpoint: the size is plain ASCII
    /// decimal without sign or leading zeros ("0" for the empty tree), and
    /// the root is canonical padded base64 of exactly 32 bytes.
    pub fn parse_text(text: &str) -> Result<Self, NoteError> {
        if has_forbidden_control(text) {
            return Err(NoteError::MalformedCheckpoint("control character"));
        }
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::MalformedCheckpoint("missing final newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        let size = lines
            .next()
            .ok_or(NoteError::MalformedCheckpoint("missing size line"))?;
        let root = lines
            .next()
            .ok_or(NoteError::MalformedCheckpoint("missing root line"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();

        if origin.is_empty() {
            return Err(NoteError::MalformedCheckpoint("empty origin"));
        }
        let size =
            parse_decimal_u64(size).ok_or(NoteError::MalformedCheckpoint("invalid tree size"))?;
        let root: [u8; ROOT_SIZE] = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::MalformedCheckpoint(
                "root must be base64 of 32 bytes",
            ))?;
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::MalformedCheckpoint("empty extension line"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// ASCII decimal with no sign, no leading zeros (except "0"), no overflow.
/// `u64::from_str` alone would accept a leading `+` and leading zeros.
fn parse_decimal_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// Sign a checkpoint as a note.
pub fn sign_checkpoint(
    checkpoint: &Checkpoint,
    signers: &[&NoteSigner],
) -> Result<String, NoteError> {
    sign_note(&checkpoint.to_text()?, signers)
}

/// Open a signed checkpoint and check that it is for `expected_origin`.
///
/// The origin check matters: a log key could sign notes for several logs,
/// and a valid checkpoint for one must not be accepted as another's.
pub fn open_checkpoint(
    note: &str,
    expected_origin: &str,
    verifiers: &[NoteVerifier],
) -> Result<(Checkpoint, Vec<VerifiedSignature>), NoteError> {
    let (text, sigs) = open_note(note, verifiers)?;
    let checkpoint = Checkpoint::parse_text(text)?;
    if checkpoint.origin != expected_origin {
        return Err(NoteError::OriginMismatch {
            expected: expected_origin.to_owned(),
            found: checkpoint.origin,
        });
    }
    Ok((checkpoint, sigs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    // Published vectors from golang.org/x/mod/sumdb/note (note_test.go).
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> NoteVerifier {
        NoteVerifier::from_vkey(PETER_VKEY).unwrap()
    }

    fn enoch() -> NoteVerifier {
        NoteVerifier::from_vkey(ENOCH_VKEY).unwrap()
    }

    fn peter_note() -> String {
        format!("{TEXT}\n{PETER_SIG}")
    }

    #[test]
    fn go_vector_keys() {
        let v = peter();
        assert_eq!(v.name(), "PeterNeumann");
        assert_eq!(v.key_id(), 0xc74f20a3);
        assert_eq!(v.to_vkey(), PETER_VKEY);
        assert_eq!(PETER_VKEY.parse::<NoteVerifier>().unwrap(), v);
        assert_eq!(v.to_string(), PETER_VKEY);
        let s = NoteSigner::from_skey(PETER_SKEY).unwrap();
        assert_eq!(s.key_id(), 0xc74f20a3);
        assert_eq!(s.verifier(), v);
        assert_eq!(s.to_skey(), PETER_SKEY);
        assert_eq!(enoch().key_id(), 0xaf0cfe78);
        // Debug must not leak the seed.
        assert!(!format!("{s:?}").contains("AYEK"));
    }

    #[test]
    fn go_vector_sign_is_byte_exact() {
        let s = NoteSigner::from_skey(PETER_SKEY).unwrap();
        assert_eq!(sign_note(TEXT, &[&s]).unwrap(), peter_note());
    }

    #[test]
    fn go_vector_open() {
        let note = peter_note();
        let (text, sigs) = open_note(&note, &[peter()]).unwrap();
        assert_eq!(text, TEXT);
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].name, "PeterNeumann");
        assert_eq!(sigs[0].key_id, 0xc74f20a3);

        // One verified, one from an unknown key (ignored).
        let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let (_, sigs) = open_note(&both, &[peter()]).unwrap();
        assert_eq!(sigs.len(), 1);
        // Both verified.
        let (_, sigs) = open_note(&both, &[peter(), enoch()]).unwrap();
        let names: Vec<&str> = sigs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["PeterNeumann", "EnochRoot"]);
        // Neither known.
        assert_eq!(open_note(&both, &[]), Err(NoteError::NoVerifiedSignature));
        // Bytes entry point.
        assert!(open_note_bytes(note.as_bytes(), &[peter()]).is_ok());
        let mut bad = b"\xff".to_vec();
        bad.extend_from_slice(note.as_bytes());
        assert_eq!(
            open_note_bytes(&bad, &[peter()]),
            Err(NoteError::MalformedNote("invalid UTF-8"))
        );
    }

    #[test]
    fn go_vector_verifier_manglings_rejected() {
        let b = PETER_VKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                if let Ok(s) = std::str::from_utf8(&b[i..j]) {
                    assert!(NoteVerifier::from_vkey(s).is_err(), "accepted {s:?}");
                }
            }
        }
        let mut m = b.to_vec();
        for i in 0..m.len() {
            m[i] += 1;
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(NoteVerifier::from_vkey(s).is_err(), "accepted {s:?}");
            }
            m[i] -= 1;
        }
        // Wrong-length key with a matching id; unknown algorithm with a matching id.
        assert!(
            NoteVerifier::from_vkey(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            )
            .is_err()
        );
        assert_eq!(
            NoteVerifier::from_vkey(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::UnsupportedAlgorithm(0x65))
        );
    }

    #[test]
    fn go_vector_signer_manglings_rejected() {
        let b = PETER_SKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                if let Ok(s) = std::str::from_utf8(&b[i..j]) {
                    assert!(NoteSigner::from_skey(s).is_err(), "accepted a substring");
                }
            }
        }
        let mut m = b.to_vec();
        for i in 0..m.len() {
            m[i] += 1;
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(NoteSigner::from_skey(s).is_err(), "accepted a mangled key");
            }
            m[i] -= 1;
        }
    }

    #[test]
    fn key_names_are_validated() {
        let key = SigningKey::generate(&mut OsRng);
        for bad in [
            "",
            "a+b",
            "a b",
            "a\tb",
            "a\u{00a0}b",
            "a\u{2003}b",
            "a\u{3000}b",
            "a\u{1}b",
        ] {
            assert_eq!(
                NoteSigner::new(bad, key.clone()).unwrap_err(),
                NoteError::InvalidKeyName,
                "{bad:?}"
            );
            assert_eq!(
                NoteVerifier::new(bad, key.verifying_key()).unwrap_err(),
                NoteError::InvalidKeyName
            );
        }
        for good in ["example.com/log", "ünïcödé", "a", "x/y-z_1"] {
            let s = NoteSigner::new(good, key.clone()).unwrap();
            let v = NoteVerifier::from_vkey(&s.verifier().to_vkey()).unwrap();
            assert_eq!(v, s.verifier());
        }
    }

    #[test]
    fn weak_and_noncanonical_public_keys_rejected() {
        // The identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let raw = [&[ALG_ED25519][..], &identity].concat();
        let vkey = format!(
            "w+{:08x}+{}",
            key_id("w", ALG_ED25519, &identity),
            B64.encode(&raw)
        );
        assert_eq!(
            NoteVerifier::from_vkey(&vkey),
            Err(NoteError::InvalidPublicKey)
        );
        // y = p + 1: a non-canonical encoding of that same point.
        let mut noncanon = [0xffu8; 32];
        noncanon[31] = 0x7f;
        noncanon[0] = 0xee;
        assert_eq!(
            ed25519_public_key(&noncanon),
            Err(NoteError::InvalidPublicKey)
        );
        // Non-canonical encodings (y + p for small y) of points that are not
        // small-order: only the re-encoding check catches these.
        let mut caught = 0;
        for y in 0u8..19 {
            for sign in [0u8, 0x80] {
                // p + y = 2^255 - 19 + y, little-endian.
                let mut enc = [0xffu8; 32];
                enc[0] = 0xed + y;
                enc[31] = 0x7f | sign;
                if VerifyingKey::from_bytes(&enc).is_ok_and(|k| !k.is_weak()) {
                    caught += 1;
                }
                assert_eq!(ed25519_public_key(&enc), Err(NoteError::InvalidPublicKey));
            }
        }
        assert!(caught > 0, "no non-canonical, non-weak encoding exercised");
    }

    #[test]
    fn signature_from_another_key_with_same_name_and_id_is_invalid() {
        // Name and id match Peter, but the bytes were signed by another key:
        // a known key whose signature fails, so the whole note is rejected.
        let other = SigningKey::generate(&mut OsRng);
        let mut blob = 0xc74f20a3u32.to_be_bytes().to_vec();
        blob.extend_from_slice(&other.sign(TEXT.as_bytes()).to_bytes());
        let note = format!("{TEXT}\n\u{2014} PeterNeumann {}\n", B64.encode(&blob));
        assert_eq!(
            open_note(&note, &[peter()]),
            Err(NoteError::InvalidSignature {
                name: "PeterNeumann".into(),
                key_id: 0xc74f20a3
            })
        );
        // Same name, different id: unknown key, ignored (and here nothing
        // else verifies).
        let mut blob = 0xc74f20a4u32.to_be_bytes().to_vec();
        blob.extend_from_slice(&other.sign(TEXT.as_bytes()).to_bytes());
        let note = format!(
            "{TEXT}\n\u{2014} PeterNeumann {}\n{PETER_SIG}",
            B64.encode(&blob)
        );
        assert_eq!(open_note(&note, &[peter()]).unwrap().1.len(), 1);
        // Signature by Enoch only, verifier Peter only: nothing verifies.
        let note = format!("{TEXT}\n{ENOCH_SIG}");
        assert_eq!(
            open_note(&note, &[peter()]),
            Err(NoteError::NoVerifiedSignature)
        );
    }

    #[test]
    fn edited_text_is_rejected() {
        let note = peter_note().replace("cryptography", "cryptographY");
        assert!(matches!(
            open_note(&note, &[peter()]),
            Err(NoteError::InvalidSignature { .. })
        ));
        // Insert a line into the text.
        let note = format!("Hello\n{}", peter_note());
        assert!(matches!(
            open_note(&note, &[peter()]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn malformed_notes_rejected() {
        let bad = [
            TEXT.to_string(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            format!("\x01{TEXT}\n{PETER_SIG}"),
            format!("{TEXT}\r\n{PETER_SIG}"),
            format!(
                "{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            ),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            // Wrong dash, missing space, empty name, '+' in name, no base64,
            // bad base64, unpadded base64, too short.
            format!("{TEXT}\n- PeterNeumann AAAAAAA=\n"),
            format!("{TEXT}\n\u{2014}PeterNeumann AAAAAAA=\n"),
            format!("{TEXT}\n\u{2014}  AAAAAAA=\n"),
            format!("{TEXT}\n\u{2014} a+b AAAAAAA=\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann \n"),
            format!("{TEXT}\n\u{2014} PeterNeumann !!!!\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann AAAAAAA\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann AAAA\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann AAAAAAA= extra\n"),
        ];
        for msg in &bad {
            let err = open_note(msg, &[peter()]).unwrap_err();
            assert!(
                matches!(err, NoteError::MalformedNote(_)),
                "{msg:?}: {err:?}"
            );
        }
    }

    #[test]
    fn signature_count_limit() {
        let ok = format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES));
        let (_, sigs) = open_note(&ok, &[peter()]).unwrap();
        // Repeats of one key are reported once.
        assert_eq!(sigs.len(), 1);
        let too_many = format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1));
        assert_eq!(
            open_note(&too_many, &[peter()]),
            Err(NoteError::TooManySignatures)
        );
        assert_eq!(open_note(&too_many, &[]), Err(NoteError::TooManySignatures));
    }

    #[test]
    fn duplicate_and_unknown_signatures() {
        // Go's case: repeated verified and unverified signatures, including a
        // malformed-length signature from an unknown key (ignored).
        let enoch_abcd = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
        let note = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_abcd}");
        let (text, sigs) = open_note(&note, &[peter()]).unwrap();
        assert_eq!(text, TEXT);
        assert_eq!(sigs.len(), 1);
        // The same signature of wrong length from a *known* key is invalid.
        let peter_abcd = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let note = format!("{TEXT}\n{peter_abcd}");
        assert!(matches!(
            open_note(&note, &[peter()]),
            Err(NoteError::InvalidSignature { .. })
        ));
        // A bad repeat after a good signature still rejects the note.
        let note = format!("{TEXT}\n{PETER_SIG}{peter_abcd}");
        assert!(matches!(
            open_note(&note, &[peter()]),
            Err(NoteError::InvalidSignature { .. })
        ));
        // Ambiguous verifier list: only an error when that key signed.
        let note = format!("{TEXT}\n{ENOCH_SIG}");
        assert_eq!(
            open_note(&note, &[enoch(), peter(), enoch()]),
            Err(NoteError::AmbiguousKey {
                name: "EnochRoot".into(),
                key_id: 0xaf0cfe78
            })
        );
        assert!(open_note(&peter_note(), &[enoch(), peter(), enoch()]).is_ok());
    }

    #[test]
    fn sign_note_argument_checks() {
        let s = NoteSigner::from_skey(PETER_SKEY).unwrap();
        assert_eq!(
            sign_note("", &[&s]),
            Err(NoteError::InvalidText("empty text"))
        );
        assert!(matches!(
            sign_note("abc", &[&s]),
            Err(NoteError::InvalidText(_))
        ));
        assert!(matches!(
            sign_note("a\rb\n", &[&s]),
            Err(NoteError::InvalidText(_))
        ));
        assert_eq!(sign_note(TEXT, &[]), Err(NoteError::NoSigners));
        assert!(matches!(
            sign_note(TEXT, &[&s, &s]),
            Err(NoteError::DuplicateSigner { .. })
        ));
        // Texts with blank lines, or ending in one, still round-trip because
        // the split is at the last blank line.
        for text in ["a\n\nb\n", "a\n\n", "\n", "x\n\n\n"] {
            let note = sign_note(text, &[&s]).unwrap();
            let (got, _) = open_note(&note, &[s.verifier()]).unwrap();
            assert_eq!(got, text);
        }
    }

    #[test]
    fn round_trip_with_generated_keys() {
        let a = NoteSigner::new("example.com/log", SigningKey::generate(&mut OsRng)).unwrap();
        let b = NoteSigner::new("witness.example/w1", SigningKey::generate(&mut OsRng)).unwrap();
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 1234,
            root: [7; 32],
            extensions: vec![],
        };
        let note = sign_checkpoint(&cp, &[&a, &b]).unwrap();
        let (got, sigs) = open_checkpoint(&note, "example.com/log", &[a.verifier()]).unwrap();
        assert_eq!(got, cp);
        assert_eq!(sigs.len(), 1);
        let (_, sigs) =
            open_checkpoint(&note, "example.com/log", &[b.verifier(), a.verifier()]).unwrap();
        assert_eq!(sigs.len(), 2);
        assert!(matches!(
            open_checkpoint(&note, "example.com/other", &[a.verifier()]),
            Err(NoteError::OriginMismatch { .. })
        ));
        // Keys survive their string forms.
        let a2 = NoteSigner::from_skey(&a.to_skey()).unwrap();
        assert_eq!(a2.verifier(), a.verifier());
        assert_eq!(
            sign_checkpoint(&cp, &[&a2]).unwrap(),
            sign_checkpoint(&cp, &[&a]).unwrap()
        );
    }

    /// Random edits of a valid signed checkpoint never panic and never
    /// verify unless the text is unchanged.
    #[test]
    fn mutated_notes_never_panic() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(2014);
        let s = NoteSigner::from_skey(PETER_SKEY).unwrap();
        let cp = Checkpoint {
            origin: "PeterNeumann".into(),
            size: 42,
            root: [3; 32],
            extensions: vec!["x".into()],
        };
        let note = sign_checkpoint(&cp, &[&s]).unwrap();
        let alphabet: Vec<char> = "\n\n\n \u{2014}+=/0aZ9\r\u{1}é".chars().collect();
        // Kept small: Ed25519 verification is slow in debug builds.
        for _ in 0..300 {
            let mut chars: Vec<char> = note.chars().collect();
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(0..chars.len());
                match rng.gen_range(0..3) {
                    0 => chars[i] = alphabet[rng.gen_range(0..alphabet.len())],
                    1 => {
                        chars.remove(i);
                    }
                    _ => chars.insert(i, alphabet[rng.gen_range(0..alphabet.len())]),
                }
            }
            let mutated: String = chars.into_iter().collect();
            if let Ok((text, _)) = open_note(&mutated, &[peter()]) {
                assert_eq!(text, cp.to_text().unwrap());
            }
            let _ = open_checkpoint(&mutated, "PeterNeumann", &[peter()]);
            let _ = Checkpoint::parse_text(&mutated);
            let _ = NoteVerifier::from_vkey(&mutated);
            let _ = NoteSigner::from_skey(&mutated);
        }
    }

    #[test]
    fn checkpoint_spec_example() {
        // The example from c2sp.org/tlog-checkpoint (its key is not published,
        // so only the body and the note's well-formedness can be checked).
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let note = format!(
            "{text}\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
        );
        let cp = Checkpoint::parse_text(text).unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20852163);
        assert!(cp.extensions.is_empty());
        assert_eq!(cp.to_text().unwrap(), text);
        // Well-formed, just not verifiable without the key.
        assert_eq!(open_note(&note, &[]), Err(NoteError::NoVerifiedSignature));
    }

    #[test]
    fn checkpoint_text_format_and_extensions() {
        let cp = Checkpoint {
            origin: "o".into(),
            size: 0,
            root: [0; 32],
            extensions: vec!["ext one".into(), "ext2".into()],
        };
        let text = cp.to_text().unwrap();
        assert_eq!(
            text,
            "o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next one\next2\n"
        );
        assert_eq!(Checkpoint::parse_text(&text).unwrap(), cp);
        let max = Checkpoint {
            size: u64::MAX,
            extensions: vec![],
            ..cp.clone()
        };
        assert_eq!(
            Checkpoint::parse_text(&max.to_text().unwrap()).unwrap(),
            max
        );

        for bad in [
            Checkpoint {
                origin: String::new(),
                ..cp.clone()
            },
            Checkpoint {
                origin: "a\nb".into(),
                ..cp.clone()
            },
            Checkpoint {
                extensions: vec![String::new()],
                ..cp.clone()
            },
            Checkpoint {
                extensions: vec!["x\ny".into()],
                ..cp.clone()
            },
        ] {
            assert!(bad.to_text().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn checkpoint_parse_is_strict() {
        let root = B64.encode([9u8; 32]);
        let ok = format!("o\n5\n{root}\n");
        assert!(Checkpoint::parse_text(&ok).is_ok());
        let bad_sizes = [
            "",
            "01",
            "00",
            "+5",
            "-5",
            " 5",
            "5 ",
            "5.0",
            "0x5",
            "1_000",
            "18446744073709551616",
            "٥",
        ];
        for size in bad_sizes {
            let t = format!("o\n{size}\n{root}\n");
            assert!(Checkpoint::parse_text(&t).is_err(), "size {size:?}");
        }
        let mut noncanonical = B64.encode([9u8; 32]).into_bytes();
        // The last data character before '=' carries 2 unused bits; set them.
        let idx = noncanonical.len() - 2;
        noncanonical[idx] = b'p';
        let noncanonical = String::from_utf8(noncanonical).unwrap();
        assert_ne!(noncanonical, root);
        let bad_roots = [
            B64.encode([9u8; 31]),
            B64.encode([9u8; 33]),
            root.trim_end_matches('=').to_string(),
            noncanonical,
            String::new(),
            format!("{root} "),
        ];
        for r in bad_roots {
            let t = format!("o\n5\n{r}\n");
            assert!(Checkpoint::parse_text(&t).is_err(), "root {r:?}");
        }
        for t in [
            format!("o\n5\n{root}"),
            format!("\n5\n{root}\n"),
            "o\n5\n".to_string(),
            "o\n".to_string(),
            String::new(),
            format!("o\n5\n{root}\n\n"),
            format!("o\n5\n{root}\next\n\n"),
            format!("o\r\n5\n{root}\n"),
        ] {
            assert!(Checkpoint::parse_text(&t).is_err(), "{t:?}");
        }
    }
}
