//! Recording an engagement activity of a partnership, and the evidence of what it produced.

use crate::db::activities::{ActivityRow, EvidenceRow};
use crate::db::mous::Upload;
use crate::db::{self, DbError, WriteTx};
use crate::domain::ErrorCode;
use crate::domain::access::{require_office, require_party_office};
use crate::domain::activities::NewActivity;
use crate::domain::tokens::Principal;
use crate::domain::{DomainError, PartnershipId};

/// An office of either party records an activity.
pub fn record(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    partnership: &PartnershipId,
    activity: NewActivity,
) -> Result<ActivityRow, DbError> {
    require_office(principal)?;
    db::activities::record(
        tx,
        partnership,
        activity,
        principal.map(|p| &p.token_id),
        |p| require_party_office(principal, &p.parties()).cloned(),
    )
}

/// An office of either party attaches an evidence document to an activity. With
/// `on_partnership`, the activity must belong to that partnership (a page's form posts for the
/// partnership it shows).
pub fn add_evidence(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    activity: &str,
    document: Upload,
    on_partnership: Option<&PartnershipId>,
) -> Result<EvidenceRow, DbError> {
    require_office(principal)?;
    db::activities::add_evidence(
        tx,
        activity,
        document,
        principal.map(|p| &p.token_id),
        |p| {
            if on_partnership.is_some_and(|id| *id != p.id) {
                return Err(DomainError::new(
                    ErrorCode::ActivityNotFound,
                    "no such activity on this partnership",
                ));
            }
            require_party_office(principal, &p.parties()).map(|_| ())
        },
    )
}
