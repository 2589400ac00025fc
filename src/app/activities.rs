//! Recording an engagement activity of a partnership, the evidence and outcomes of what it
//! produced, and the commitments it made and how they ended.

use crate::db::activities::{ActivityRow, EvidenceRow};
use crate::db::mous::Upload;
use crate::db::outcomes::{CommitmentRow, CommitmentState, OutcomeRow};
use crate::db::{self, DbError, WriteTx};
use crate::domain::ErrorCode;
use crate::domain::access::{require_office, require_party_office};
use crate::domain::activities::NewActivity;
use crate::domain::outcomes::{NewCommitment, NewOutcome, Resolution};
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

/// An office of either party records an outcome of one of the partnership's activities.
pub fn record_outcome(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    partnership: &PartnershipId,
    activity: &str,
    outcome: NewOutcome,
) -> Result<OutcomeRow, DbError> {
    require_office(principal)?;
    db::outcomes::record(
        tx,
        partnership,
        activity,
        outcome,
        principal.map(|p| &p.token_id),
        |p| require_party_office(principal, &p.parties()).cloned(),
    )
}

/// An office of either party records a commitment one of the partnership's activities made.
pub fn make_commitment(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    partnership: &PartnershipId,
    activity: &str,
    commitment: NewCommitment,
) -> Result<CommitmentRow, DbError> {
    require_office(principal)?;
    db::outcomes::commit(
        tx,
        partnership,
        activity,
        commitment,
        principal.map(|p| &p.token_id),
        |p| require_party_office(principal, &p.parties()).cloned(),
    )
}

/// An office of either party marks a commitment kept, partly kept or not kept; an office of
/// any other city is refused (and `amity audit` finds it, rule `party_office`, if it got in).
pub fn resolve_commitment(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    partnership: &PartnershipId,
    commitment: &str,
    resolution: Resolution,
) -> Result<CommitmentState, DbError> {
    require_office(principal)?;
    db::outcomes::resolve(
        tx,
        partnership,
        commitment,
        resolution,
        principal.map(|p| &p.token_id),
        |p| require_party_office(principal, &p.parties()).cloned(),
    )
}
