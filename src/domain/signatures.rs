//! MOU signatures: the statement a signer is offered, and the acceptance algorithm specified in
//! docs/formats/statements.md ("Acceptance"), as pure checks over what the write transaction
//! has loaded.

use super::DomainError;
use super::cities::CityCode;
use super::keys::{SignatoryKey, decode_statement, sshsig_error, statement_error};
use super::mous::{Mou, MouState};
use super::requests::{SignatureRequest, gate_signature};
use crate::crypto::sha256;
use crate::crypto::sshsig::{self, Sshsig};
use crate::crypto::statement::{
    GENESIS_PREV, MouSignatureStatement, document_fields, mou_signature_namespace, sha256_hex,
};
use crate::domain::ErrorCode;

/// A submitted signature whose statement and SSHSIG parsed strictly.
#[derive(Debug, Clone)]
pub struct Submission {
    pub bytes: Vec<u8>,
    pub statement: MouSignatureStatement,
    pub sig: Sshsig,
    pub armored: String,
    pub statement_sha256: [u8; 32],
    /// The signature verified (strictly, in this registry's namespace) under the key the
    /// SSHSIG itself carries. Checked when parsing, outside the write transaction, so the
    /// serialized writer only compares that key with the registered one.
    pub verifies_under_own_key: bool,
}

/// Parses a submission: the statement must be the canonical bytes of a valid statement (its
/// re-serialization equals the bytes), for this registry and this MOU; the signature must be a
/// strictly shaped SSHSIG.
pub fn parse_submission(
    statement_b64: &str,
    signature: &str,
    registry: &str,
    mou_id: &str,
) -> Result<Submission, DomainError> {
    let bytes = decode_statement(statement_b64)?;
    let statement = MouSignatureStatement::parse_strict(&bytes).map_err(statement_error)?;
    check_names_registry(&statement.registry, registry)?;
    if statement.mou_id != mou_id {
        return Err(DomainError::new(
            ErrorCode::StatementMouMismatch,
            format!(
                "the statement is for MOU `{}`, not `{mou_id}`",
                statement.mou_id
            ),
        ));
    }
    let sig = sshsig::parse_armored(signature).map_err(sshsig_error)?;
    let verifies_under_own_key =
        sshsig::verify(&sig, &mou_signature_namespace(registry), &bytes, None).is_ok();
    Ok(Submission {
        verifies_under_own_key,
        statement_sha256: sha256(&bytes),
        bytes,
        statement,
        sig,
        armored: signature.to_string(),
    })
}

/// A signed statement must name this registry: a signature made for another registry (or a
/// test instance) is refused here before anything else is looked at.
pub fn check_names_registry(named: &str, registry: &str) -> Result<(), DomainError> {
    if named != registry {
        return Err(DomainError::new(
            ErrorCode::WrongRegistry,
            format!("the statement names registry {named:?}; this registry is {registry:?}"),
        ));
    }
    Ok(())
}

/// Everything the acceptance checks need, loaded inside the write transaction.
pub struct AcceptContext<'a> {
    pub mou: &'a Mou,
    pub parties: [&'a CityCode; 2],
    pub caller_city: &'a CityCode,
    /// What a statement on the current version commits to (`Version::commitment`); empty
    /// while a draft.
    pub current_documents: Vec<String>,
    /// The key the statement names, looked up by fingerprint.
    pub key: Option<&'a SignatoryKey>,
    /// Whether these exact statement bytes are already in the chain.
    pub replay: bool,
    /// Whether this signer already signed the current version.
    pub already_signed: bool,
    pub registry: &'a str,
    pub now: i64,
    /// The MOU's latest round of signature requests (empty before its first).
    pub round: &'a [SignatureRequest],
}

/// The acceptance algorithm, in the order a client can act on: who may submit, the MOU's
/// state, the version and document hash, the key, the signature itself, and last the chain
/// position (so a 409 `stale_chain_head` means only "re-fetch and re-sign"). Returns the id of
/// the signature request the signature answers, when a round is open.
pub fn accept(sub: &Submission, ctx: &AcceptContext<'_>) -> Result<Option<String>, DomainError> {
    let st = &sub.statement;
    if st.signer_city != ctx.caller_city.as_str() {
        return Err(DomainError::new(
            ErrorCode::SignerNotOfYourCity,
            format!(
                "the signer `{}` belongs to `{}`; only that city's office may submit the signature",
                st.signer, st.signer_city
            ),
        ));
    }
    if !ctx.parties.iter().any(|p| p.as_str() == st.signer_city) {
        return Err(DomainError::new(
            ErrorCode::NotAParty,
            format!(
                "`{}` is not a party to this MOU's partnership",
                st.signer_city
            ),
        ));
    }
    match ctx.mou.state {
        MouState::Draft => {
            return Err(DomainError::new(
                ErrorCode::MouDraft,
                "this MOU has no document version yet; there is nothing to sign",
            ));
        }
        MouState::Withdrawn => ctx.mou.check_not_withdrawn()?,
        MouState::Declined | MouState::Expired => return Err(closed_by_requests(ctx.mou)),
        MouState::Open | MouState::Executed => {}
    }
    if ctx.replay {
        return Err(DomainError::new(
            ErrorCode::DuplicateSignature,
            "this exact statement is already in the MOU's signature chain",
        ));
    }
    let current = i64::from(ctx.mou.current_version);
    let claimed = i64::try_from(st.mou_version).unwrap_or(i64::MAX);
    if claimed < current {
        return Err(DomainError::new(
            ErrorCode::SupersededVersion,
            format!("version {claimed} is superseded by version {current}; review and sign the current one"),
        )
        .with_extra(serde_json::json!({ "current_version": current })));
    }
    if claimed != current {
        return Err(DomainError::new(
            ErrorCode::UnknownVersion,
            format!("this MOU has no version {claimed}; the current version is {current}"),
        ));
    }
    if st.committed_documents() != ctx.current_documents {
        let (field, wanted) = match ctx.current_documents.as_slice() {
            [one] => ("doc_sha256", one.clone()),
            several => ("documents", several.join(", ")),
        };
        return Err(DomainError::new(
            ErrorCode::DocSha256Mismatch,
            format!(
                "the statement's {field} does not name the documents of version {current} ({wanted}); the signer reviewed other bytes"
            ),
        ));
    }
    let key = ctx.key.ok_or_else(|| {
        DomainError::new(
            ErrorCode::UnknownKey,
            format!("no registered key has the fingerprint {}", st.signer_key),
        )
    })?;
    key.check_holder(&st.signer, &st.signer_city, &st.role)?;
    key.check_can_sign(ctx.now)?;
    // The same outcome as verifying under the registered key: the signature verified under
    // the key it carries, and that key is the registered one. Only on failure is the full
    // check run again, for its precise error.
    let verified = sub.verifies_under_own_key && sub.sig.public_key().same_key(&key.public_key);
    if !verified {
        sshsig::verify(
            &sub.sig,
            &mou_signature_namespace(ctx.registry),
            &sub.bytes,
            Some(&key.public_key),
        )
        .map_err(sshsig_error)?;
    }
    if ctx.already_signed {
        return Err(DomainError::new(
            ErrorCode::AlreadySigned,
            format!("`{}` already signed version {current}", st.signer),
        ));
    }
    let request = gate_signature(ctx.round, &st.signer, &st.role, ctx.now)?.map(|r| r.id.clone());
    let expected_seq = ctx.mou.head_seq + 1;
    let head_hex = hex::encode(ctx.mou.head_hash);
    if i64::try_from(st.seq).ok() != Some(expected_seq) || st.prev != head_hex {
        return Err(DomainError::new(
            ErrorCode::StaleChainHead,
            format!(
                "the chain head moved: the next signature is seq {expected_seq} with prev {head_hex}; fetch the signing statement again and re-sign"
            ),
        )
        .with_extra(serde_json::json!({ "head": ctx.mou.head_json() })));
    }
    Ok(request)
}

/// The refusal of a write that needs an open MOU when a round of requests closed it.
pub fn closed_by_requests(mou: &Mou) -> DomainError {
    let (code, what) = match mou.state {
        MouState::Expired => (ErrorCode::MouExpired, "expired unanswered"),
        _ => (ErrorCode::MouDeclined, "was declined"),
    };
    DomainError::new(
        code,
        format!(
            "the last round of signature requests on MOU `{}` {what}; upload a new version or send a new round of requests to reopen it",
            mou.id
        ),
    )
}

/// The statement offered to a signer at the current chain head.
pub fn statement_for(
    mou: &Mou,
    documents: &[String],
    key: &SignatoryKey,
    role: &str,
    registry: &str,
    signed_at: &str,
) -> MouSignatureStatement {
    let prev = if mou.head_seq == 0 {
        GENESIS_PREV.to_string()
    } else {
        hex::encode(mou.head_hash)
    };
    let (doc_sha256, documents) = document_fields(documents);
    let r#type = if documents.is_some() {
        MouSignatureStatement::type_v2_for(registry)
    } else {
        MouSignatureStatement::type_for(registry)
    };
    MouSignatureStatement {
        action: MouSignatureStatement::ACTION.into(),
        doc_sha256,
        documents,
        mou_id: mou.id.to_string(),
        mou_version: u64::try_from(mou.current_version).unwrap_or(0),
        prev,
        registry: registry.into(),
        role: role.into(),
        seq: u64::try_from(mou.head_seq + 1).unwrap_or(0),
        signed_at: signed_at.into(),
        signer: key.signer.clone(),
        signer_city: key.city.to_string(),
        signer_key: key.fingerprint.clone(),
        r#type,
    }
}

/// Hex of a statement's hash, as the next statement's `prev` names it.
pub fn statement_hash_hex(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}
