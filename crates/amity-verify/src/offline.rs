//! One MOU signature checked on its own, offline: the statement bytes, the armored SSHSIG and
//! the signer's public key line, as `amity verify --statement` and `amity-verify signature`
//! take them (docs/formats/statements.md).

use crate::keys::PublicKey;
use crate::sshsig;
use crate::statement::{MouSignatureStatement, mou_signature_namespace};

/// Why a single signature does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureCheckError {
    #[error("bad key: {0}")]
    Key(String),
    #[error("bad statement ({code}): {message}")]
    Statement { code: &'static str, message: String },
    #[error("bad signature ({code}): {message}")]
    Signature { code: &'static str, message: String },
    #[error("signature does not verify ({code}): {message}")]
    DoesNotVerify { code: &'static str, message: String },
    #[error("the signature is good, but the statement names key {named} and you gave {given}")]
    OtherKey { named: String, given: String },
}

/// Checks `armored` over `statement` under `key_line` with the registry's own rules (strict
/// statement, strict SSHSIG, `verify_strict`), and says what was signed.
pub fn check_signature(
    statement: &[u8],
    armored: &str,
    key_line: &str,
) -> Result<String, SignatureCheckError> {
    let key = PublicKey::parse_openssh_line(key_line.trim())
        .map_err(|e| SignatureCheckError::Key(e.to_string()))?;
    let st = MouSignatureStatement::parse_strict(statement).map_err(|e| {
        SignatureCheckError::Statement {
            code: e.code(),
            message: e.to_string(),
        }
    })?;
    let sig = sshsig::parse_armored(armored).map_err(|e| SignatureCheckError::Signature {
        code: e.code(),
        message: e.to_string(),
    })?;
    sshsig::verify(
        &sig,
        &mou_signature_namespace(&st.registry),
        statement,
        Some(&key),
    )
    .map_err(|e| SignatureCheckError::DoesNotVerify {
        code: e.code(),
        message: e.to_string(),
    })?;
    if !st.signer_key_matches(&key) {
        return Err(SignatureCheckError::OtherKey {
            named: st.signer_key,
            given: key.fingerprint(),
        });
    }
    Ok(format!(
        "Good signature by {} ({}) of {} with {}: MOU {} version {} ({} {}), chain position {}",
        st.signer,
        st.role,
        st.signer_city,
        st.signer_key,
        st.mou_id,
        st.mou_version,
        if st.documents.is_some() {
            "documents"
        } else {
            "document sha256"
        },
        st.documents_text(),
        st.seq
    ))
}
