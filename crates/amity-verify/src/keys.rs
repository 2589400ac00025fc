//! Ed25519 keys in OpenSSH encodings.
//!
//! Public keys arrive from signatories as `ssh-ed25519 <base64> [comment]`
//! lines. The parser is deliberately stricter than OpenSSH itself: a key is
//! identified in the registry by its fingerprint (a hash over the exact blob
//! bytes), so any input that could encode the same curve point in two
//! different ways, or that carries bytes nobody looks at, would let one key
//! appear under two identities. We therefore accept exactly one spelling per
//! key.
//!
//! Private keys are read and written in the `openssh-key-v1` format through
//! the `ssh-key` crate, so files interoperate with `ssh-keygen`.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::ops::Deref;
use std::path::Path;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{PUBLIC_KEY_LENGTH, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// The only key type this service accepts.
pub const ED25519_KEY_TYPE: &str = "ssh-ed25519";

/// Upper bound on a public key comment, in bytes. Comments are display-only;
/// the bound keeps stored rows and log lines small.
pub const MAX_COMMENT_LEN: usize = 256;

/// Upper bound on a whole public key line, checked before any parsing so a
/// hostile upload cannot make us decode megabytes of base64.
pub const MAX_PUBLIC_KEY_LINE_LEN: usize = 1024;

/// Upper bound on an OpenSSH private key file. An unencrypted Ed25519 key
/// file is about 400 bytes; anything far larger is not what we expect.
pub const MAX_PRIVATE_KEY_FILE_LEN: usize = 16 * 1024;

/// Length of the wire blob `string("ssh-ed25519") || string(32 bytes)`.
const ED25519_BLOB_LEN: usize = 4 + 11 + 4 + PUBLIC_KEY_LENGTH;

/// Errors from parsing or handling keys. Each variant has a stable
/// machine-readable [`KeyError::code`] for API responses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public key line is too long")]
    LineTooLong,
    #[error("malformed public key line: {0}")]
    MalformedLine(&'static str),
    #[error("unsupported key type {0:?}; only ssh-ed25519 is accepted")]
    UnsupportedKeyType(String),
    #[error("key data is not canonical base64 (standard alphabet, padded)")]
    NonCanonicalBase64,
    #[error("malformed key blob: {0}")]
    BadKeyEncoding(&'static str),
    #[error("key type inside the blob does not match the declared key type")]
    KeyTypeMismatch,
    #[error("unexpected trailing bytes after the key")]
    TrailingBytes,
    #[error("public key is not a valid curve point")]
    InvalidKey,
    #[error("public key uses a non-canonical point encoding")]
    NonCanonicalKey,
    #[error("public key is a weak (small-order) point")]
    WeakKey,
    #[error("public key has a small-order component (not in the prime-order subgroup)")]
    NonPrimeOrderKey,
    #[error("key comment is too long (max {MAX_COMMENT_LEN} bytes)")]
    CommentTooLong,
    #[error("key comment must be non-empty printable ASCII without surrounding spaces")]
    InvalidComment,
    #[error("private key file is too large")]
    PrivateKeyTooLarge,
    #[error("private key is encrypted; provide an unencrypted key")]
    EncryptedPrivateKey,
    #[error("malformed private key: {0}")]
    BadPrivateKey(String),
    #[error("i/o error: {0}")]
    Io(String),
}

impl KeyError {
    /// Stable snake_case code for API responses and logs.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::LineTooLong => "key_line_too_long",
            KeyError::MalformedLine(_) => "malformed_key_line",
            KeyError::UnsupportedKeyType(_) => "unsupported_key_type",
            KeyError::NonCanonicalBase64 => "non_canonical_base64",
            KeyError::BadKeyEncoding(_) => "bad_key_encoding",
            KeyError::KeyTypeMismatch => "key_type_mismatch",
            KeyError::TrailingBytes => "trailing_bytes",
            KeyError::InvalidKey => "invalid_key",
            KeyError::NonCanonicalKey => "non_canonical_key",
            KeyError::WeakKey => "weak_key",
            KeyError::NonPrimeOrderKey => "non_prime_order_key",
            KeyError::CommentTooLong => "comment_too_long",
            KeyError::InvalidComment => "invalid_comment",
            KeyError::PrivateKeyTooLarge => "private_key_too_large",
            KeyError::EncryptedPrivateKey => "encrypted_private_key",
            KeyError::BadPrivateKey(_) => "bad_private_key",
            KeyError::Io(_) => "io_error",
        }
    }
}

/// Reader for SSH wire encoding (RFC 4251 §5). Shared with the sibling
/// `sshsig` module so both parse length prefixes the same careful way.
pub(super) struct WireReader<'a> {
    rest: &'a [u8],
}

impl<'a> WireReader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        WireReader { rest: buf }
    }

    /// Takes exactly `n` bytes, or `None` if fewer remain.
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.rest.split_at_checked(n)?;
        self.rest = tail;
        Some(head)
    }

    pub(super) fn read_u32(&mut self) -> Option<u32> {
        let bytes: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    }

    /// Reads `uint32 length || bytes`. The length is checked against what
    /// remains, so a huge declared length fails instead of allocating.
    pub(super) fn read_string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.read_u32()?).ok()?;
        self.take(len)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// Appends SSH `string(data)`: a big-endian u32 length, then the bytes.
/// All callers pass data bounded far below 4 GiB (keys, namespaces, hashes),
/// so saturating the length can never actually happen; it avoids a panic
/// path without pretending to support such sizes.
pub(super) fn put_string(out: &mut Vec<u8>, data: &[u8]) {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
}

/// Makes a short, log-safe rendition of attacker-supplied text for error
/// messages (no control characters, bounded length).
pub(super) fn sanitize_for_error(raw: &[u8]) -> String {
    raw.iter()
        .take(32)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

/// True when the 255-bit y coordinate in a compressed Edwards point is
/// reduced modulo p = 2^255 - 19. curve25519-dalek 4 silently reduces
/// y >= p: 24 such encodings (y = p + k for k <= 18, either sign bit)
/// decompress to points that already have a canonical encoding, and 20 of
/// those points are not small-order, so `is_weak()` alone misses them. We
/// reject y >= p before decompression ever sees it.
pub(crate) fn y_is_reduced(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> bool {
    // y >= p exactly when bytes 1..=30 are 0xff, the top byte (sign bit
    // masked) is 0x7f and the low byte is >= 0xed (p's low byte).
    let top_is_max = bytes[31] & 0x7f == 0x7f;
    let middle_is_max = bytes[1..31].iter().all(|&b| b == 0xff);
    !(top_is_max && middle_is_max && bytes[0] >= 0xed)
}

/// Keys already found valid, with their decoded form. Validation is a pure function of the 32
/// bytes, and every signature submission loads its signer's key inside the serialized write;
/// the torsion check there (a full scalar multiplication) was 13% of the writer's time.
static VALID_KEYS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<[u8; PUBLIC_KEY_LENGTH], VerifyingKey>>,
> = std::sync::LazyLock::new(Default::default);

/// Bounds the memo (about 100 bytes an entry); past it the memo starts over.
const VALID_KEYS_MAX: usize = 100_000;

/// Validates 32 raw key bytes as a canonical, prime-order Ed25519 point.
fn validate_point(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> Result<VerifyingKey, KeyError> {
    // A poisoned lock only means another thread panicked mid-insert; the map is still a
    // set of validated keys, so keep using it.
    let known = VALID_KEYS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(bytes)
        .copied();
    if let Some(key) = known {
        return Ok(key);
    }
    let key = validate_point_uncached(bytes)?;
    let mut memo = VALID_KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if memo.len() >= VALID_KEYS_MAX {
        memo.clear();
    }
    memo.insert(*bytes, key);
    Ok(key)
}

fn validate_point_uncached(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> Result<VerifyingKey, KeyError> {
    if !y_is_reduced(bytes) {
        return Err(KeyError::NonCanonicalKey);
    }
    let point = CompressedEdwardsY(*bytes)
        .decompress()
        .ok_or(KeyError::InvalidKey)?;
    // Round-tripping catches the remaining alias: x = 0 with the sign bit
    // set ("negative zero"), which decompresses to the same point as the
    // encoding without the sign bit.
    if point.compress().as_bytes() != bytes {
        return Err(KeyError::NonCanonicalKey);
    }
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidKey)?;
    // Small-order keys admit signatures that verify for many messages.
    if key.is_weak() {
        return Err(KeyError::WeakKey);
    }
    // Honest keys are a multiple of the base point and so lie in the
    // prime-order subgroup. A torsion component can only be deliberate, and
    // makes acceptance depend on cofactored vs. cofactorless verification.
    if !point.is_torsion_free() {
        return Err(KeyError::NonPrimeOrderKey);
    }
    Ok(key)
}

fn validate_comment(comment: &str) -> Result<(), KeyError> {
    if comment.len() > MAX_COMMENT_LEN {
        return Err(KeyError::CommentTooLong);
    }
    // Printable ASCII only: comments are shown to people reviewing
    // signatures, and ASCII rules out control characters, bidi overrides and
    // look-alike characters in one simple check. Surrounding spaces are
    // refused so that a line always re-serialises to the same text.
    let printable = comment.bytes().all(|b| (b' '..=b'~').contains(&b));
    if comment.is_empty() || !printable || comment.starts_with(' ') || comment.ends_with(' ') {
        return Err(KeyError::InvalidComment);
    }
    Ok(())
}

/// A validated Ed25519 public key with an optional display comment.
///
/// Equality includes the comment; use [`PublicKey::same_key`] to compare only
/// the key material.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    comment: Option<String>,
}

impl PublicKey {
    /// Parses `ssh-ed25519 <base64> [comment]`. One trailing `\n` (or
    /// `\r\n`) is tolerated because `.pub` files end with one; fields must be
    /// separated by exactly one space.
    pub fn parse_openssh_line(line: &str) -> Result<Self, KeyError> {
        if line.len() > MAX_PUBLIC_KEY_LINE_LEN {
            return Err(KeyError::LineTooLong);
        }
        let line = line
            .strip_suffix("\r\n")
            .or_else(|| line.strip_suffix('\n'))
            .unwrap_or(line);
        if line.chars().any(char::is_control) {
            return Err(KeyError::MalformedLine("control characters in line"));
        }
        let mut fields = line.splitn(3, ' ');
        let key_type = fields.next().unwrap_or_default();
        if key_type.is_empty() {
            return Err(KeyError::MalformedLine("missing key type"));
        }
        if key_type != ED25519_KEY_TYPE {
            return Err(KeyError::UnsupportedKeyType(sanitize_for_error(
                key_type.as_bytes(),
            )));
        }
        let encoded = fields
            .next()
            .filter(|s| !s.is_empty())
            .ok_or(KeyError::MalformedLine("missing key data"))?;
        let comment = fields.next();

        let blob = decode_canonical_base64(encoded)?;
        let key = match parse_blob(&blob) {
            // The line already declared ssh-ed25519, so a different type in
            // the blob is a mismatch rather than merely unsupported.
            Err(KeyError::UnsupportedKeyType(_)) => return Err(KeyError::KeyTypeMismatch),
            other => other?,
        };
        let mut public = PublicKey { key, comment: None };
        if let Some(comment) = comment {
            public = public.with_comment(comment)?;
        }
        Ok(public)
    }

    /// Parses the SSH wire blob `string("ssh-ed25519") || string(key)`,
    /// e.g. the public key embedded in an SSHSIG signature.
    pub fn from_blob(blob: &[u8]) -> Result<Self, KeyError> {
        Ok(PublicKey {
            key: parse_blob(blob)?,
            comment: None,
        })
    }

    /// Validates 32 raw Ed25519 public key bytes.
    pub fn from_bytes(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> Result<Self, KeyError> {
        Ok(PublicKey {
            key: validate_point(bytes)?,
            comment: None,
        })
    }

    /// The public half of a signing key. Infallible: a clamped secret scalar
    /// times the base point is always a canonical, prime-order, non-identity
    /// point.
    pub fn from_signing_key(signing_key: &SigningKey) -> Self {
        PublicKey {
            key: signing_key.verifying_key(),
            comment: None,
        }
    }

    /// Returns the key with `comment` attached (validated).
    pub fn with_comment(mut self, comment: &str) -> Result<Self, KeyError> {
        validate_comment(comment)?;
        self.comment = Some(comment.to_owned());
        Ok(self)
    }

    /// Returns the key with no comment.
    pub fn without_comment(mut self) -> Self {
        self.comment = None;
        self
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LENGTH] {
        self.key.as_bytes()
    }

    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// Compares key material only, ignoring comments.
    pub fn same_key(&self, other: &PublicKey) -> bool {
        self.key == other.key
    }

    /// The SSH wire blob `string("ssh-ed25519") || string(32 bytes)`.
    pub fn to_blob(&self) -> Vec<u8> {
        let mut blob = Vec::with_capacity(ED25519_BLOB_LEN);
        put_string(&mut blob, ED25519_KEY_TYPE.as_bytes());
        put_string(&mut blob, self.key.as_bytes());
        blob
    }

    /// `SHA256:<base64 without padding>` of the blob, as `ssh-keygen -l`
    /// prints it.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.to_blob());
        format!("SHA256:{}", STANDARD_NO_PAD.encode(digest))
    }

    /// `ssh-ed25519 <base64>` plus ` <comment>` when there is one; no
    /// trailing newline.
    pub fn to_openssh_line(&self) -> String {
        let mut line = self.to_openssh_line_without_comment();
        if let Some(comment) = &self.comment {
            line.push(' ');
            line.push_str(comment);
        }
        line
    }

    /// `ssh-ed25519 <base64>`: the comment-free form, suitable wherever the
    /// text must identify the key alone (e.g. signed statements).
    pub fn to_openssh_line_without_comment(&self) -> String {
        format!("{ED25519_KEY_TYPE} {}", STANDARD.encode(self.to_blob()))
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PublicKey::parse_openssh_line(s)
    }
}

// Show the OpenSSH line rather than dalek's internal point coordinates.
impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PublicKey")
            .field(&self.to_openssh_line())
            .finish()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_openssh_line())
    }
}

/// Decodes base64 only if it is exactly the text OpenSSH would have written
/// for the same bytes, so each blob has a single accepted spelling.
fn decode_canonical_base64(encoded: &str) -> Result<Vec<u8>, KeyError> {
    let blob = STANDARD
        .decode(encoded)
        .map_err(|_| KeyError::NonCanonicalBase64)?;
    if STANDARD.encode(&blob) != encoded {
        return Err(KeyError::NonCanonicalBase64);
    }
    Ok(blob)
}

fn parse_blob(blob: &[u8]) -> Result<VerifyingKey, KeyError> {
    let mut reader = WireReader::new(blob);
    let key_type = reader
        .read_string()
        .ok_or(KeyError::BadKeyEncoding("truncated key type"))?;
    if key_type != ED25519_KEY_TYPE.as_bytes() {
        return Err(KeyError::UnsupportedKeyType(sanitize_for_error(key_type)));
    }
    let key_bytes = reader
        .read_string()
        .ok_or(KeyError::BadKeyEncoding("truncated key data"))?;
    let key_bytes: &[u8; PUBLIC_KEY_LENGTH] = key_bytes
        .try_into()
        .map_err(|_| KeyError::BadKeyEncoding("ed25519 key must be 32 bytes"))?;
    if !reader.is_empty() {
        return Err(KeyError::TrailingBytes);
    }
    validate_point(key_bytes)
}

/// A private key loaded from an OpenSSH key file.
#[derive(Debug)]
pub struct KeyPair {
    pub signing_key: SigningKey,
    /// The matching public key, carrying the file's comment when that
    /// comment passes [`PublicKey::with_comment`] validation.
    pub public_key: PublicKey,
}

/// Generates a fresh Ed25519 signing key from the OS random source.
pub fn generate_signing_key() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
}

/// Encodes `signing_key` as an unencrypted `-----BEGIN OPENSSH PRIVATE
/// KEY-----` file, as `ssh-keygen -N ''` writes. The returned text wipes
/// itself from memory when dropped; copy it out only where it must persist.
pub fn private_key_to_openssh(
    signing_key: &SigningKey,
    comment: &str,
) -> Result<impl Deref<Target = String> + use<>, KeyError> {
    if !comment.is_empty() {
        validate_comment(comment)?;
    }
    let keypair = ssh_key::private::Ed25519Keypair::from(signing_key);
    let private = ssh_key::PrivateKey::new(keypair.into(), comment)
        .map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
    private
        .to_openssh(ssh_key::LineEnding::LF)
        .map_err(|e| KeyError::BadPrivateKey(e.to_string()))
}

/// Parses an unencrypted OpenSSH Ed25519 private key file.
pub fn private_key_from_openssh(text: &str) -> Result<KeyPair, KeyError> {
    if text.len() > MAX_PRIVATE_KEY_FILE_LEN {
        return Err(KeyError::PrivateKeyTooLarge);
    }
    let private = ssh_key::PrivateKey::from_openssh(text).map_err(|e| match e {
        // ssh-key only knows the algorithms enabled by its features; an
        // ECDSA key without the `ecdsa` feature surfaces here.
        ssh_key::Error::AlgorithmUnknown => KeyError::UnsupportedKeyType("unknown".to_owned()),
        ssh_key::Error::Encrypted => KeyError::EncryptedPrivateKey,
        other => KeyError::BadPrivateKey(other.to_string()),
    })?;
    if private.is_encrypted() {
        return Err(KeyError::EncryptedPrivateKey);
    }
    let Some(keypair) = private.key_data().ed25519() else {
        return Err(KeyError::UnsupportedKeyType(
            private.algorithm().as_str().to_owned(),
        ));
    };
    // This conversion also checks that the stored public half matches the
    // private half, so a file with a swapped public key is refused.
    let signing_key = SigningKey::try_from(keypair)
        .map_err(|_| KeyError::BadPrivateKey("public and private halves differ".to_owned()))?;
    // Run the same strict checks as for uploaded keys; this cannot fail for
    // a key derived from a seed, but keeps a single definition of "valid".
    let public_key = PublicKey::from_bytes(signing_key.verifying_key().as_bytes())?;
    // The comment is cosmetic. A comment we would not accept on a public
    // line (e.g. non-ASCII) should not make the operator's own key file
    // unusable, so it is dropped instead.
    let public_key = match public_key.clone().with_comment(private.comment()) {
        Ok(with_comment) => with_comment,
        Err(_) => public_key,
    };
    Ok(KeyPair {
        signing_key,
        public_key,
    })
}

/// Writes `path` (the private key, mode 0600) and `path.pub` (the public
/// line plus newline), refusing to overwrite existing files. Returns the
/// public key.
pub fn write_keypair_files(
    path: &Path,
    signing_key: &SigningKey,
    comment: &str,
) -> Result<PublicKey, KeyError> {
    let private_text = private_key_to_openssh(signing_key, comment)?;
    let mut public = PublicKey::from_signing_key(signing_key);
    if !comment.is_empty() {
        public = public.with_comment(comment)?;
    }
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");

    let io_err = |e: std::io::Error| KeyError::Io(e.to_string());
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    // ssh-keygen refuses private keys readable by others, and so should we
    // never create one.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_err)?;
    file.write_all(private_text.as_bytes()).map_err(io_err)?;
    file.sync_all().map_err(io_err)?;

    let line = format!("{}\n", public.to_openssh_line());
    let mut pub_file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&pub_path)
        .map_err(io_err)?;
    pub_file.write_all(line.as_bytes()).map_err(io_err)?;
    pub_file.sync_all().map_err(io_err)?;
    Ok(public)
}

/// Reads and parses an unencrypted OpenSSH Ed25519 private key file.
pub fn read_private_key_file(path: &Path) -> Result<KeyPair, KeyError> {
    let metadata = std::fs::metadata(path).map_err(|e| KeyError::Io(e.to_string()))?;
    if metadata.len() > MAX_PRIVATE_KEY_FILE_LEN as u64 {
        return Err(KeyError::PrivateKeyTooLarge);
    }
    let text = std::fs::read_to_string(path).map_err(|e| KeyError::Io(e.to_string()))?;
    private_key_from_openssh(&text)
}

/// Helpers shared by the test modules of the sibling crypto modules.
#[cfg(test)]
pub(super) mod test_support {
    use std::path::PathBuf;
    use std::process::{Command, Output, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";

    /// A private temporary directory removed on drop. Kept local to avoid a
    /// dev-dependency just for tests.
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "sshcrypto-{tag}-{}-{n}-{nanos}",
                std::process::id()
            ));
            std::fs::create_dir(&dir).expect("create temp dir");
            TempDir(dir)
        }

        pub fn join(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Runs ssh-keygen with `args`, feeding `stdin`, and returns its output.
    pub fn ssh_keygen(args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write as _;
        let mut child = Command::new(SSH_KEYGEN)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ssh-keygen must be installed at /usr/bin/ssh-keygen (openssh-client)");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin)
            .expect("write stdin");
        child.wait_with_output().expect("ssh-keygen output")
    }

    /// Like [`ssh_keygen`] but fails the test on a non-zero exit.
    pub fn ssh_keygen_ok(args: &[&str], stdin: &[u8]) -> Output {
        let out = ssh_keygen(args, stdin);
        assert!(
            out.status.success(),
            "ssh-keygen {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Builds the 32-byte encoding of y = p + k (k <= 18) with the given
    /// sign bit: a non-canonical encoding of the point with y = k.
    pub fn y_plus_p(k: u8, sign: bool) -> [u8; 32] {
        let mut bytes = [0xff; 32];
        bytes[0] = 0xed + k;
        bytes[31] = if sign { 0xff } else { 0x7f };
        bytes
    }

    /// Wraps raw key bytes into an OpenSSH line without any validation.
    pub fn raw_line(key: &[u8]) -> String {
        use base64::Engine as _;
        let mut blob = Vec::new();
        super::put_string(&mut blob, b"ssh-ed25519");
        super::put_string(&mut blob, key);
        format!(
            "ssh-ed25519 {}",
            base64::engine::general_purpose::STANDARD.encode(blob)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    const SEED: [u8; 32] = [7u8; 32];

    fn sample_key() -> PublicKey {
        PublicKey::from_signing_key(&SigningKey::from_bytes(&SEED))
    }

    #[test]
    fn line_round_trips() {
        let key = sample_key().with_comment("alice@fr-paris").unwrap();
        let line = key.to_openssh_line();
        let parsed = PublicKey::parse_openssh_line(&line).unwrap();
        assert_eq!(parsed, key);
        assert_eq!(parsed.to_openssh_line(), line);
        assert_eq!(parsed.comment(), Some("alice@fr-paris"));
        // A .pub file's trailing newline is fine.
        let with_nl = PublicKey::parse_openssh_line(&format!("{line}\n")).unwrap();
        assert_eq!(with_nl, key);
        // Comments with inner spaces are allowed (ssh-keygen -C "a b").
        let spaced = PublicKey::parse_openssh_line(&format!("{line} more")).unwrap();
        assert_eq!(spaced.comment(), Some("alice@fr-paris more"));
        let bare = PublicKey::parse_openssh_line(&key.to_openssh_line_without_comment()).unwrap();
        assert_eq!(bare.comment(), None);
        assert!(bare.same_key(&key));
    }

    #[test]
    fn refuses_malformed_lines() {
        let bare = sample_key().to_openssh_line_without_comment();
        let b64 = bare.split(' ').nth(1).unwrap().to_owned();
        let mut cases: Vec<(String, &str)> = vec![
            (format!("ssh-rsa {b64}"), "unsupported_key_type"),
            (format!("ecdsa-sha2-nistp256 {b64}"), "unsupported_key_type"),
            (format!(" {bare}"), "malformed_key_line"),
            (format!("ssh-ed25519  {b64}"), "malformed_key_line"),
            ("ssh-ed25519".to_owned(), "malformed_key_line"),
            (format!("ssh-ed25519\t{b64}"), "malformed_key_line"),
            (format!("{bare} "), "invalid_comment"),
            (format!("{bare}  x"), "invalid_comment"),
            (format!("{bare} x "), "invalid_comment"),
            (format!("{bare} caf\u{e9}"), "invalid_comment"),
            (
                format!("{bare} {}", "a".repeat(MAX_COMMENT_LEN + 1)),
                "comment_too_long",
            ),
            (format!("{bare}\n\n"), "malformed_key_line"),
            ("x".repeat(MAX_PUBLIC_KEY_LINE_LEN + 1), "key_line_too_long"),
            // The 51-byte blob needs no padding, so any '=' is superfluous.
            (format!("ssh-ed25519 {b64}="), "non_canonical_base64"),
            (format!("ssh-ed25519 {b64}=="), "non_canonical_base64"),
            (format!("ssh-ed25519 {b64}AAAA"), "trailing_bytes"),
        ];
        // URL-safe alphabet: needs a key whose encoding has '+' or '/'.
        let urlsafe = (0u8..=255)
            .map(|i| {
                PublicKey::from_signing_key(&SigningKey::from_bytes(&[i; 32]))
                    .to_openssh_line_without_comment()
            })
            .find(|l| l.contains('+') || l.contains('/'))
            .unwrap()
            .replace('+', "-")
            .replace('/', "_");
        cases.push((urlsafe, "non_canonical_base64"));
        for (line, code) in cases {
            match PublicKey::parse_openssh_line(&line) {
                Ok(_) => panic!("accepted {line:?}"),
                Err(err) => assert_eq!(err.code(), code, "line {line:?}: {err}"),
            }
        }
    }

    #[test]
    fn refuses_blob_problems() {
        use base64::Engine as _;
        let key = sample_key();
        let enc = |blob: &[u8]| format!("ssh-ed25519 {}", STANDARD.encode(blob));

        let mut trailing = key.to_blob();
        trailing.push(0);
        let err = PublicKey::parse_openssh_line(&enc(&trailing)).unwrap_err();
        assert_eq!(err.code(), "trailing_bytes");

        let mut mismatch = Vec::new();
        put_string(&mut mismatch, b"ssh-rsa");
        put_string(&mut mismatch, key.as_bytes());
        let err = PublicKey::parse_openssh_line(&enc(&mismatch)).unwrap_err();
        assert_eq!(err.code(), "key_type_mismatch");
        assert_eq!(
            PublicKey::from_blob(&mismatch).unwrap_err().code(),
            "unsupported_key_type"
        );

        let mut short = Vec::new();
        put_string(&mut short, b"ssh-ed25519");
        put_string(&mut short, &key.as_bytes()[..31]);
        let err = PublicKey::parse_openssh_line(&enc(&short)).unwrap_err();
        assert_eq!(err.code(), "bad_key_encoding");

        // Declared length larger than the data.
        let mut lying = Vec::new();
        put_string(&mut lying, b"ssh-ed25519");
        lying.extend_from_slice(&1000u32.to_be_bytes());
        lying.extend_from_slice(key.as_bytes());
        let err = PublicKey::parse_openssh_line(&enc(&lying)).unwrap_err();
        assert_eq!(err.code(), "bad_key_encoding");
    }

    #[test]
    fn refuses_weak_keys() {
        // Canonical encodings of small-order points: identity (y = 1),
        // the order-2 point (y = -1) and an order-4 point (y = 0).
        let identity = {
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        };
        let order2 = {
            let mut b = [0xff; 32];
            b[0] = 0xec;
            b[31] = 0x7f;
            b
        };
        let order4 = [0u8; 32];
        for bytes in [identity, order2, order4] {
            let err = PublicKey::parse_openssh_line(&raw_line(&bytes)).unwrap_err();
            assert_eq!(err.code(), "weak_key", "{}", hex::encode(bytes));
            assert_eq!(
                PublicKey::from_bytes(&bytes).unwrap_err().code(),
                "weak_key"
            );
        }
    }

    #[test]
    fn refuses_non_canonical_encodings() {
        // Every y = p + k that decompresses is refused, including the ten
        // values of k for which curve25519-dalek 4 yields a point that
        // `is_weak()` does NOT flag (documented here so a dependency change
        // that alters this is noticed).
        let mut accepted_by_dalek = 0;
        let mut not_weak_in_dalek = Vec::new();
        for k in 0..=18u8 {
            for sign in [false, true] {
                let bytes = y_plus_p(k, sign);
                if let Ok(vk) = VerifyingKey::from_bytes(&bytes) {
                    accepted_by_dalek += 1;
                    if !vk.is_weak() {
                        not_weak_in_dalek.push((k, sign));
                    }
                }
                let err = PublicKey::from_bytes(&bytes).unwrap_err();
                assert_eq!(err.code(), "non_canonical_key", "y = p + {k}, sign {sign}");
                let err = PublicKey::parse_openssh_line(&raw_line(&bytes)).unwrap_err();
                assert_eq!(err.code(), "non_canonical_key");
            }
        }
        assert_eq!(accepted_by_dalek, 24);
        assert_eq!(not_weak_in_dalek.len(), 20);
        assert!(not_weak_in_dalek.contains(&(3, false)));

        // "Negative zero": x = 0 with the sign bit set, for y = 1 and y = -1.
        let mut neg_identity = [0u8; 32];
        neg_identity[0] = 1;
        neg_identity[31] = 0x80;
        let mut neg_order2 = [0xff; 32];
        neg_order2[0] = 0xec;
        for bytes in [neg_identity, neg_order2] {
            assert!(VerifyingKey::from_bytes(&bytes).is_ok(), "dalek accepts it");
            let err = PublicKey::from_bytes(&bytes).unwrap_err();
            assert_eq!(err.code(), "non_canonical_key");
        }
    }

    #[test]
    fn refuses_mixed_order_and_off_curve_keys() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        // An honest key plus a point of order 8: canonical, not small-order,
        // but outside the prime-order subgroup.
        let honest = SigningKey::from_bytes(&SEED).verifying_key().to_edwards();
        let mixed = (honest + EIGHT_TORSION[1]).compress().to_bytes();
        let vk = VerifyingKey::from_bytes(&mixed).unwrap();
        assert!(!vk.is_weak());
        assert_eq!(
            PublicKey::from_bytes(&mixed).unwrap_err().code(),
            "non_prime_order_key"
        );

        // y = 2 is not on the curve.
        let mut off = [0u8; 32];
        off[0] = 2;
        assert_eq!(
            PublicKey::from_bytes(&off).unwrap_err().code(),
            "invalid_key"
        );
    }

    #[test]
    fn fingerprint_matches_ssh_keygen() {
        let dir = TempDir::new("fp");
        let key = sample_key().with_comment("fp-test").unwrap();
        let path = dir.join("k.pub");
        std::fs::write(&path, format!("{}\n", key.to_openssh_line())).unwrap();
        let out = ssh_keygen_ok(&["-l", "-f", path.to_str().unwrap()], b"");
        let stdout = String::from_utf8(out.stdout).unwrap();
        // Format: "256 SHA256:... fp-test (ED25519)"
        let printed = stdout.split(' ').nth(1).unwrap();
        assert_eq!(printed, key.fingerprint());
        assert_eq!(key.fingerprint().len(), 7 + 43);
    }

    #[test]
    fn reads_ssh_keygen_generated_key() {
        let dir = TempDir::new("readkey");
        let path = dir.join("id");
        let p = path.to_str().unwrap();
        ssh_keygen_ok(
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "bob@de-berlin",
                "-f",
                p,
            ],
            b"",
        );
        let pair = read_private_key_file(&path).unwrap();
        let pub_line = std::fs::read_to_string(format!("{p}.pub")).unwrap();
        let expected = PublicKey::parse_openssh_line(&pub_line).unwrap();
        assert_eq!(pair.public_key, expected);
        assert_eq!(pair.public_key.comment(), Some("bob@de-berlin"));
        assert_eq!(pair.signing_key.verifying_key(), *expected.verifying_key());
    }

    #[test]
    fn our_key_files_work_with_ssh_keygen() {
        let dir = TempDir::new("writekey");
        let path = dir.join("id");
        let p = path.to_str().unwrap();
        let signing = generate_signing_key();
        let public = write_keypair_files(&path, &signing, "carol@it-roma").unwrap();

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // ssh-keygen -y derives the public line from our private file.
        let out = ssh_keygen_ok(&["-y", "-f", p], b"");
        let derived = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            PublicKey::parse_openssh_line(&derived).unwrap().as_bytes(),
            public.as_bytes()
        );
        let pub_file = std::fs::read_to_string(format!("{p}.pub")).unwrap();
        assert_eq!(pub_file, format!("{}\n", public.to_openssh_line()));
        // And reading it back gives the same key.
        let pair = read_private_key_file(&path).unwrap();
        assert_eq!(pair.signing_key.to_bytes(), signing.to_bytes());
        assert_eq!(pair.public_key, public);
        // Never overwrite.
        assert_eq!(
            write_keypair_files(&path, &signing, "").unwrap_err().code(),
            "io_error"
        );
    }

    #[test]
    fn refuses_encrypted_and_foreign_private_keys() {
        let dir = TempDir::new("badpriv");
        let enc = dir.join("enc");
        ssh_keygen_ok(
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "secret",
                "-f",
                enc.to_str().unwrap(),
            ],
            b"",
        );
        assert_eq!(
            read_private_key_file(&enc).unwrap_err().code(),
            "encrypted_private_key"
        );
        for (kind, bits) in [("rsa", "2048"), ("ecdsa", "256")] {
            let path = dir.join(kind);
            ssh_keygen_ok(
                &[
                    "-q",
                    "-t",
                    kind,
                    "-b",
                    bits,
                    "-N",
                    "",
                    "-f",
                    path.to_str().unwrap(),
                ],
                b"",
            );
            let err = read_private_key_file(&path).unwrap_err();
            assert_eq!(err.code(), "unsupported_key_type", "{kind}: {err}");
        }
        assert_eq!(
            private_key_from_openssh("not a key").unwrap_err().code(),
            "bad_private_key"
        );
    }

    #[test]
    fn private_key_text_round_trips() {
        let signing = SigningKey::from_bytes(&SEED);
        let text = private_key_to_openssh(&signing, "").unwrap();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        let pair = private_key_from_openssh(&text).unwrap();
        assert_eq!(pair.signing_key.to_bytes(), SEED);
        assert_eq!(pair.public_key.comment(), None);
        assert_eq!(
            private_key_to_openssh(&signing, "bad\ncomment")
                .err()
                .map(|e| e.code()),
            Some("invalid_comment")
        );
    }
}
