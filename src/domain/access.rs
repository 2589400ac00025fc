//! Who may do what. Each write in the registry asks one of these functions first, so the rules
//! live in one place and the authorization matrix tests exercise exactly them.

use super::DomainError;
use super::cities::CityCode;
use super::tokens::{OfficeBinding, Principal, Role};
use crate::domain::ErrorCode;

/// Any valid token: refuses the anonymous caller (401) before anything else is looked at.
pub fn authenticated(p: Option<&Principal>) -> Result<&Principal, DomainError> {
    p.ok_or_else(|| {
        DomainError::new(
            ErrorCode::AuthenticationRequired,
            "this request needs a bearer token (Authorization: Bearer ...)",
        )
    })
}

/// Admin-only operations: cities, offices, tokens.
pub fn require_admin(p: Option<&Principal>) -> Result<&Principal, DomainError> {
    let p = authenticated(p)?;
    if p.role == Role::Admin {
        Ok(p)
    } else {
        Err(DomainError::new(
            ErrorCode::AdminRequired,
            "only a registry administrator may do this",
        ))
    }
}

/// Any city office.
pub fn require_office(p: Option<&Principal>) -> Result<&OfficeBinding, DomainError> {
    let p = authenticated(p)?;
    match (&p.role, &p.office) {
        (Role::Office, Some(office)) => Ok(office),
        _ => Err(DomainError::new(
            ErrorCode::OfficeRequired,
            "only a city office may do this",
        )),
    }
}

/// An office acting for one of `parties`; returns the city it acts for.
pub fn require_party_office<'a>(
    p: Option<&'a Principal>,
    parties: &[&CityCode],
) -> Result<&'a CityCode, DomainError> {
    let office = require_office(p)?;
    if parties.contains(&&office.city) {
        Ok(&office.city)
    } else {
        Err(DomainError::new(
            ErrorCode::NotAParty,
            format!(
                "the office of `{}` is not a party to this partnership",
                office.city
            ),
        ))
    }
}

/// Reading MOU documents: offices of the party cities, auditors and admins; nobody else (the
/// public sees hashes and signatures, never the text).
pub fn require_document_reader(
    p: Option<&Principal>,
    parties: &[&CityCode],
) -> Result<(), DomainError> {
    let p = authenticated(p)?;
    match (&p.role, &p.office) {
        (Role::Admin | Role::Auditor, _) => Ok(()),
        (Role::Office, Some(office)) if parties.contains(&&office.city) => Ok(()),
        _ => Err(DomainError::new(
            ErrorCode::NotAParty,
            "only offices of the party cities, auditors and admins may read the documents of a partnership",
        )),
    }
}

/// An office or an admin (the city check follows once the subject is loaded).
pub fn require_office_or_admin(p: Option<&Principal>) -> Result<&Principal, DomainError> {
    let p = authenticated(p)?;
    match p.role {
        Role::Admin | Role::Office => Ok(p),
        Role::Auditor | Role::Association => Err(DomainError::new(
            ErrorCode::OfficeRequired,
            "only a city office or an admin may do this",
        )),
    }
}

/// Key management for `city`: its own office, or an admin.
pub fn require_city_office_or_admin(
    p: Option<&Principal>,
    city: &CityCode,
) -> Result<(), DomainError> {
    let p = authenticated(p)?;
    match (&p.role, &p.office) {
        (Role::Admin, _) => Ok(()),
        (Role::Office, Some(office)) if &office.city == city => Ok(()),
        _ => Err(DomainError::new(
            ErrorCode::NotYourCity,
            format!("only the office of `{city}` or an admin may do this"),
        )),
    }
}

/// Acting for `city` as its office (registering its signatories' keys).
pub fn require_city_office<'a>(
    p: Option<&'a Principal>,
    city: &CityCode,
) -> Result<&'a CityCode, DomainError> {
    let office = require_office(p)?;
    if &office.city == city {
        Ok(&office.city)
    } else {
        Err(DomainError::new(
            ErrorCode::NotYourCity,
            format!("the office of `{}` cannot act for `{city}`", office.city),
        ))
    }
}

/// Saving a city group: an admin any group; an association a new group (it becomes its
/// keeper) or a group it keeps (`keeper`, the group's keeper token; `None` for a new group or
/// one the administrators keep). docs/engagement.md#city-groups
pub fn require_group_keeper<'a>(
    p: Option<&'a Principal>,
    group: Option<(&str, Option<&str>)>,
) -> Result<&'a Principal, DomainError> {
    let p = authenticated(p)?;
    match (p.role, group) {
        (Role::Admin, _) | (Role::Association, None) => Ok(p),
        (Role::Association, Some((_, Some(keeper)))) if keeper == p.token_id.as_str() => Ok(p),
        (Role::Association, Some((id, _))) => Err(DomainError::new(
            ErrorCode::NotGroupKeeper,
            format!(
                "city group `{id}` is kept by another keeper; an admin or its keeper may redefine it"
            ),
        )),
        _ => Err(DomainError::new(
            ErrorCode::NotGroupKeeper,
            "only an admin or an association may save a city group",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, city: Option<&str>) -> Principal {
        Principal {
            token_id: crate::domain::TokenId::generate(),
            role,
            office: city.map(|c| OfficeBinding {
                office_id: "o".into(),
                city: CityCode::parse(c).unwrap(),
            }),
        }
    }

    #[test]
    fn rules() {
        let a = CityCode::parse("us-hou").unwrap();
        let b = CityCode::parse("cn-sha").unwrap();
        let admin = principal(Role::Admin, None);
        let auditor = principal(Role::Auditor, None);
        let office_a = principal(Role::Office, Some("us-hou"));
        let office_c = principal(Role::Office, Some("de-ber"));
        assert_eq!(
            require_admin(None).unwrap_err().code,
            "authentication_required"
        );
        assert!(require_admin(Some(&admin)).is_ok());
        assert_eq!(
            require_admin(Some(&auditor)).unwrap_err().code,
            "admin_required"
        );
        assert_eq!(
            require_party_office(Some(&office_a), &[&a, &b]).unwrap(),
            &a
        );
        assert_eq!(
            require_party_office(Some(&office_c), &[&a, &b])
                .unwrap_err()
                .code,
            "not_a_party"
        );
        assert_eq!(
            require_party_office(Some(&admin), &[&a, &b])
                .unwrap_err()
                .code,
            "office_required"
        );
    }

    #[test]
    fn group_keepers() {
        let admin = principal(Role::Admin, None);
        let association = principal(Role::Association, None);
        let other = principal(Role::Association, None);
        let office = principal(Role::Office, Some("us-hou"));
        let kept = Some(("g", Some(association.token_id.as_str())));
        let admins = Some(("g", None));
        assert!(require_group_keeper(Some(&admin), kept).is_ok());
        assert!(require_group_keeper(Some(&admin), admins).is_ok());
        assert!(require_group_keeper(Some(&association), None).is_ok());
        assert!(require_group_keeper(Some(&association), kept).is_ok());
        for (who, group) in [
            (&other, kept),
            (&association, admins),
            (&office, None),
            (&office, kept),
        ] {
            assert_eq!(
                require_group_keeper(Some(who), group).unwrap_err().code,
                "not_group_keeper"
            );
        }
        assert_eq!(
            require_group_keeper(None, None).unwrap_err().code,
            "authentication_required"
        );
    }
}
