//! City names as people type them: one Unicode form for storage and the log, and warnings when
//! a name could pass for another one (a Cyrillic "а" in "Pаris", or a twin of a city already
//! registered in the same country).
//!
//! A look-alike is a warning, not a refusal: real names mix scripts ("Ho Chi Minh City
//! (Thành phố Hồ Chí Minh)" is all Latin, but "Тбилиси / Tbilisi" is not), and only a person can
//! tell a spoof from a bilingual name.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization as _;
use unicode_security::{MixedScript as _, skeleton};

/// The name in Unicode Normalization Form C, so "Zu\u{308}rich" and "Z\u{fc}rich" are one
/// name (one `name_key`, one log entry text) however the client composed it.
pub fn normalize(name: &str) -> String {
    name.nfc().collect()
}

/// Something about a name a reviewer should look at; the write still happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NameWarning {
    /// Stable code: `mixed_script` or `confusable_name`.
    pub code: &'static str,
    pub detail: String,
}

/// The UTS #39 confusable skeleton: two names with the same skeleton look alike.
fn skeleton_of(name: &str) -> String {
    skeleton(name).collect::<String>().to_lowercase()
}

/// Warnings for `name`, given the (code, name) of the other cities in its country.
pub fn warnings<'a>(
    name: &str,
    others: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<NameWarning> {
    let mut out = Vec::new();
    // Spaces, digits and punctuation are common to all scripts, so only letters decide.
    if !name.is_single_script() {
        out.push(NameWarning {
            code: "mixed_script",
            detail: format!(
                "{name:?} mixes letters of different scripts, which can imitate another name"
            ),
        });
    }
    let own = skeleton_of(name);
    for (code, other) in others {
        if other != name && skeleton_of(other) == own {
            out.push(NameWarning {
                code: "confusable_name",
                detail: format!("{name:?} looks like {other:?} ({code}), already registered"),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_and_decomposed_names_are_one_name() {
        assert_eq!(normalize("Zu\u{308}rich"), "Z\u{fc}rich");
        assert_eq!(normalize("Z\u{fc}rich"), "Z\u{fc}rich");
        assert_eq!(normalize("Houston"), "Houston");
    }

    #[test]
    fn a_cyrillic_letter_in_a_latin_name_is_flagged() {
        let w = warnings("P\u{430}ris", []);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].code, "mixed_script");
        assert!(warnings("Paris", []).is_empty());
        assert!(warnings("Москва", []).is_empty());
        assert!(warnings("Saint-Étienne 2", []).is_empty());
    }

    #[test]
    fn a_twin_of_a_registered_name_is_flagged() {
        let w = warnings("Par\u{131}s", [("fr-paris", "Paris")]);
        assert!(w.iter().any(|w| w.code == "confusable_name"), "{w:?}");
        assert!(warnings("Paris", [("fr-paris", "Paris")]).is_empty());
        assert!(warnings("Lyon", [("fr-paris", "Paris")]).is_empty());
    }
}
