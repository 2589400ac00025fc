//! Adding a version to an MOU.

use crate::db::mous::Upload;
use crate::db::{self, DbError, WriteTx};
use crate::domain::ErrorCode;
use crate::domain::access::{require_office, require_party_office};
use crate::domain::mous::{Mou, Version};
use crate::domain::tokens::Principal;
use crate::domain::{DomainError, MouId};

/// An office of a party city stores a document as the MOU's next version.
pub fn add_version(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    mou: &MouId,
    documents: Vec<Upload>,
) -> Result<(Version, Mou), DbError> {
    require_office(principal)?;
    if let Some(empty) = documents.iter().position(|d| d.size == 0) {
        let message = if documents.len() == 1 {
            "the document body is empty".to_string()
        } else {
            format!("document {} of the version is empty", empty + 1)
        };
        return Err(DomainError::new(ErrorCode::EmptyDocument, message).into());
    }
    db::mous::upload(
        tx,
        mou,
        documents,
        principal.map(|p| p.token_id.clone()),
        |_, p| require_party_office(principal, &p.parties()).map(|_| ()),
    )
}
