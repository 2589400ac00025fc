//! Typed ids for partnerships, MOUs, signatory keys, tokens, signature requests and webhook
//! endpoints, so one kind of id cannot be
//! passed where another is expected.
//!
//! On the wire, in log entries and in the database every id is the same TEXT as before: the
//! lower-case hyphenated form of a UUIDv7 (`Uuid::now_v7().to_string()`). Ids read back from
//! the database or the log are taken as stored (`from_db`); ids from requests are checked
//! against that form (`parse`), and a path segment that is not one is the same 404 problem an
//! unknown id gets (`from_path`).

use serde::{Deserialize, Serialize};

use super::{DomainError, ErrorCode};

/// Whether `s` is a UUID in the text form the registry writes: 36 characters, lower-case hex
/// in groups of 8-4-4-4-12 separated by dashes.
pub fn is_id_text(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $not_found:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new id, as the registry makes them (UUIDv7, so ids sort by creation).
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7().to_string())
            }

            /// An id from request input, if it has the registry's id form.
            pub fn parse(s: &str) -> Option<Self> {
                is_id_text(s).then(|| $name(s.to_string()))
            }

            /// An id from a path segment: one not of the registry's form names nothing, so it
            /// is refused with the problem an unknown id gets.
            pub fn from_path(s: &str) -> Result<Self, DomainError> {
                Self::parse(s).ok_or_else(|| Self::not_found(s))
            }

            /// The 404 problem for an id (well-formed or not) that names nothing.
            pub fn not_found(id: &str) -> DomainError {
                DomainError::new(ErrorCode::$not_found, format!(concat!("no ", $what, " `{}`"), id))
            }

            /// An id as stored in the database or the log: taken as it is.
            pub fn from_db(s: String) -> Self {
                $name(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        /// A plain string in the OpenAPI document, as the id always was.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                String::schema()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

id_type!(
    /// A partnership's id (`partnerships.id`).
    PartnershipId,
    PartnershipNotFound,
    "partnership"
);
id_type!(
    /// An MOU's id (`mous.id`).
    MouId,
    MouNotFound,
    "MOU"
);
id_type!(
    /// A signatory key's id (`signatory_keys.id`), not its fingerprint.
    KeyId,
    KeyNotFound,
    "key"
);
id_type!(
    /// A token's id (`tokens.id`), not its secret value.
    TokenId,
    TokenNotFound,
    "token"
);
id_type!(
    /// A signature request's id (`signature_requests.id`).
    RequestId,
    RequestNotFound,
    "signature request"
);
id_type!(
    /// A webhook endpoint's id (`webhook_endpoints.id`).
    WebhookId,
    WebhookNotFound,
    "webhook endpoint"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_registry_form() {
        let id = MouId::generate();
        assert!(is_id_text(id.as_str()), "{id}");
        assert_eq!(MouId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
        for bad in [
            "",
            "nope",
            "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5",
            "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B",
            "0190a1b2c3d4-7e5f-8a9b-0c1d2e3f4a5b0",
            "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g",
        ] {
            assert_eq!(KeyId::parse(bad), None, "{bad}");
        }
        assert!(PartnershipId::parse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").is_some());
        let e = MouId::from_path("nope").unwrap_err();
        assert_eq!(e.code, ErrorCode::MouNotFound);
        assert_eq!(e.message, "no MOU `nope`");
        assert_eq!(TokenId::not_found("x").message, "no token `x`");
        assert_eq!(KeyId::not_found("x").message, "no key `x`");
        assert_eq!(PartnershipId::not_found("x").message, "no partnership `x`");
    }
}
