//! Pure registry logic: validation, the partnership state machine, access rules and the
//! log entries every write produces. Nothing here knows about HTTP or SQL, so the same rules
//! hold for the API, the CLI and the importer.

/// A closed set of snake_case names as an enum, with its text form both ways and serde and
/// OpenAPI support.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Option<Self> {
                match value { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod access;
pub mod activities;
pub mod audit;
pub mod briefing;
pub mod cities;
pub mod dates;
pub mod entries;
pub mod error;
pub mod error_code;
pub mod ids;
pub mod import;
pub mod keys;
pub mod mous;
pub mod names;
pub mod offices;
pub mod outcomes;
pub mod partnerships;
pub mod regions;
pub mod requests;
pub mod results;
pub use amity_verify::replay;
pub mod schemas;
pub mod signatures;
pub mod text;
pub mod tokens;
pub mod webhooks;

pub use error::{DomainError, ErrorCode};
pub use ids::{KeyId, MouId, PartnershipId, TokenId};
