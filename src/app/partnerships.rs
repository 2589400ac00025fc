//! Proposing a partnership, confirming it, and recording a change of its status.

use crate::db::partnerships::Registrar;
use crate::db::{self, DbError, WriteTx};
use crate::domain::access::{require_office, require_party_office};
use crate::domain::partnerships::{
    Partnership, Proposal, Source, Status, StatusChange, StatusEvent, Trigger,
};
use crate::domain::tokens::Principal;
use crate::domain::{DomainError, PartnershipId};

/// An office proposes a partnership between its city and another; the partner's office
/// confirms it later. The proposal starts `proposed`.
pub fn propose(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    proposal: Proposal,
) -> Result<Partnership, DbError> {
    require_office(principal)?;
    let city = require_party_office(principal, &[&proposal.city_a, &proposal.city_b])?.clone();
    let registrar = Registrar {
        city: Some(city),
        token_id: principal.map(|p| p.token_id.clone()),
        source: Source::Registered,
        status: Status::Proposed,
    };
    db::partnerships::register(tx, proposal, registrar)
}

/// An office of either party records a status change with its reason.
pub fn change_status(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    partnership: &PartnershipId,
    change: StatusChange,
) -> Result<(Partnership, StatusEvent), DbError> {
    require_office(principal)?;
    db::partnerships::change_status(
        tx,
        partnership,
        change,
        Trigger::StatusChange,
        principal.map(|p| &p.token_id),
        |p| {
            let city = require_party_office(principal, &p.parties())?;
            Ok::<_, DomainError>(Some(city.clone()))
        },
    )
}

/// The partner city's office confirms a proposal, which makes the partnership active.
pub fn confirm(
    tx: &mut WriteTx<'_>,
    principal: Option<&Principal>,
    partnership: &PartnershipId,
) -> Result<(Partnership, StatusEvent), DbError> {
    require_office(principal)?;
    let change = StatusChange::activation("confirmed by the offices of both cities", None);
    db::partnerships::change_status(
        tx,
        partnership,
        change,
        Trigger::Confirmation,
        principal.map(|p| &p.token_id),
        |p| {
            let city = require_party_office(principal, &p.parties())?;
            p.check_confirmation_by(city)?;
            Ok(Some(city.clone()))
        },
    )
}
