//! MOUs: the document a partnership rests on, its versions and who must sign it.
//!
//! ```text
//! draft --(first version)--> open --(every required signer signed the current version)--> executed
//! executed --(new version)--> open
//! draft | open | executed --(a party office withdraws, with a reason)--> withdrawn (final)
//! ```

use super::DomainError;
use super::cities::CityCode;
use super::ids::{MouId, PartnershipId};
use super::text::{NAME_MAX, REASON_MAX, optional_paragraph, required_line};
use crate::domain::ErrorCode;

pub use amity_verify::rules::{MouState, RequiredSigner, SignedBy, is_executed, tally};

/// The role a signer has unless the creating office says otherwise.
pub const DEFAULT_ROLE: &str = "signatory";
/// Enough for any real signing ceremony; keeps the requirement list and its entry small.
pub const MAX_REQUIREMENTS: usize = 16;
pub const MAX_COUNT: u32 = 20;

/// `^[a-z][a-z0-9_-]{0,31}$`: the same rule the signed statement applies to `role`.
pub fn is_role(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && s.len() <= 32
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

pub fn validate_role(role: &str) -> Result<(), DomainError> {
    if is_role(role) {
        Ok(())
    } else {
        Err(DomainError::new(
            ErrorCode::InvalidRole,
            format!("role {role:?} must match ^[a-z][a-z0-9_-]{{0,31}}$, e.g. `signatory`"),
        ))
    }
}

/// A validated MOU before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMou {
    pub partnership_id: PartnershipId,
    pub title: String,
    pub required: Vec<RequiredSigner>,
}

impl NewMou {
    /// Checks the title and the requirements against the partnership's two cities. Without
    /// requirements, one `signatory` of each party city must sign. Requirements are stored
    /// sorted, so the same set always reads (and logs) the same way.
    pub fn validate(
        partnership_id: PartnershipId,
        parties: [&CityCode; 2],
        title: &str,
        required: Option<Vec<RequiredSigner>>,
    ) -> Result<NewMou, DomainError> {
        let title = required_line("title", title, NAME_MAX)?;
        let mut required = required.unwrap_or_default();
        if required.is_empty() {
            required = parties
                .iter()
                .map(|c| RequiredSigner {
                    city: c.to_string(),
                    role: DEFAULT_ROLE.into(),
                    count: 1,
                })
                .collect();
        }
        if required.len() > MAX_REQUIREMENTS {
            return Err(DomainError::new(
                ErrorCode::TooManyRequiredSigners,
                format!("at most {MAX_REQUIREMENTS} required signer entries"),
            ));
        }
        for r in &required {
            if !parties.iter().any(|p| p.as_str() == r.city) {
                return Err(DomainError::new(
                    ErrorCode::SignerCityNotParty,
                    format!("`{}` is not a party to this partnership", r.city),
                ));
            }
            validate_role(&r.role)?;
            if r.count == 0 || r.count > MAX_COUNT {
                return Err(DomainError::new(
                    ErrorCode::InvalidCount,
                    format!("`count` must be 1..={MAX_COUNT}"),
                ));
            }
        }
        for party in parties {
            if !required.iter().any(|r| r.city == party.as_str()) {
                return Err(DomainError::new(
                    ErrorCode::PartyWithoutSigner,
                    format!(
                        "`{party}` must have at least one required signer: an MOU binds both cities"
                    ),
                ));
            }
        }
        required.sort();
        if required
            .iter()
            .zip(required.iter().skip(1))
            .any(|(a, b)| a.city == b.city && a.role == b.role)
        {
            return Err(DomainError::new(
                ErrorCode::DuplicateRequiredSigner,
                "each (city, role) may appear once; raise `count` instead",
            ));
        }
        Ok(NewMou {
            partnership_id,
            title,
            required,
        })
    }
}

/// A stored MOU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mou {
    pub id: MouId,
    pub partnership_id: PartnershipId,
    pub title: String,
    pub required: Vec<RequiredSigner>,
    pub state: MouState,
    /// 0 while a draft.
    pub current_version: i32,
    pub head_seq: i64,
    pub head_hash: [u8; 32],
    pub created_by_city: CityCode,
    pub created_by: Option<String>,
    pub withdrawn_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub log_index: i64,
}

impl Mou {
    pub fn check_not_withdrawn(&self) -> Result<(), DomainError> {
        if self.state == MouState::Withdrawn {
            return Err(DomainError::new(
                ErrorCode::MouWithdrawn,
                format!("MOU `{}` is withdrawn; it can no longer change", self.id),
            ));
        }
        Ok(())
    }

    /// The chain head as clients see it in a 409.
    pub fn head_json(&self) -> serde_json::Value {
        serde_json::json!({ "seq": self.head_seq, "hash": hex::encode(self.head_hash) })
    }
}

/// One stored version (without its bytes). The top-level fields describe its first
/// document; a multilingual version has the others in `additional`, positions 2, 3, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub mou_id: MouId,
    pub version: i32,
    pub media_type: String,
    pub filename: Option<String>,
    pub size: i64,
    pub sha256: [u8; 32],
    pub language: Option<String>,
    pub additional: Vec<VersionDocument>,
    pub uploaded_by: Option<String>,
    pub uploaded_at: i64,
    pub log_index: i64,
}

/// A document of a multilingual version beyond the first (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionDocument {
    /// 2, 3, ... in the order the documents were uploaded.
    pub position: i32,
    pub language: String,
    pub media_type: String,
    pub filename: Option<String>,
    pub size: i64,
    pub sha256: [u8; 32],
}

impl Version {
    /// Every document in order as `(position, language, sha256)`.
    pub fn documents(&self) -> Vec<(i32, Option<&str>, &[u8; 32])> {
        std::iter::once((1, self.language.as_deref(), &self.sha256))
            .chain(
                self.additional
                    .iter()
                    .map(|d| (d.position, Some(d.language.as_str()), &d.sha256)),
            )
            .collect()
    }

    /// The documents as notifications name them: `[{position, language, sha256}]`.
    pub fn documents_json(&self) -> serde_json::Value {
        self.documents()
            .into_iter()
            .map(|(position, language, sha)| {
                serde_json::json!({
                    "position": position,
                    "language": language,
                    "sha256": hex::encode(sha),
                })
            })
            .collect()
    }

    /// What a signature or decline statement on this version commits to: the document's hash
    /// (statement form v1), or each document's `<language>:<hash>` (form v2); see
    /// docs/formats/statements.md.
    pub fn commitment(&self) -> Vec<String> {
        commitment_of(
            self.documents()
                .into_iter()
                .map(|(_, language, sha)| (language, sha)),
        )
    }
}

/// [`Version::commitment`] of documents given as `(language, sha256)` in order.
pub fn commitment_of<'a>(
    documents: impl IntoIterator<Item = (Option<&'a str>, &'a [u8; 32])>,
) -> Vec<String> {
    let hex: Vec<(Option<&str>, String)> = documents
        .into_iter()
        .map(|(language, sha)| (language, hex::encode(sha)))
        .collect();
    amity_verify::statement::version_commitment(
        hex.iter().map(|(language, sha)| (*language, sha.as_str())),
    )
}

/// Refuses a version whose documents equal the current one's, byte for byte and language for
/// language: it would supersede signatures on the very same texts for nothing.
pub fn check_new_version(
    mou: &Mou,
    current: Option<&[String]>,
    new: &[String],
) -> Result<(), DomainError> {
    mou.check_not_withdrawn()?;
    if current == Some(new) {
        return Err(DomainError::new(
            ErrorCode::IdenticalVersion,
            format!(
                "version {} already has these exact documents ({})",
                mou.current_version,
                new.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The languages of a version's documents, one per document in upload order, as the
/// uploader gave them (`?languages=fr,zh-Hans`). A version of one document may leave its
/// language out; in a version of several, every document names its own, a language tag
/// (`en`, `zh-Hans`, `pt-BR`), none twice. At most eight documents.
pub fn validate_languages(
    languages: Option<&str>,
    documents: usize,
) -> Result<Vec<Option<String>>, DomainError> {
    use amity_verify::statement::{MAX_DOCUMENTS_PER_VERSION, is_language_tag, repeated_language};
    let invalid = |message: String| DomainError::new(ErrorCode::InvalidLanguage, message);
    if documents > MAX_DOCUMENTS_PER_VERSION {
        return Err(DomainError::new(
            ErrorCode::MultipleFiles,
            format!(
                "a version holds at most {MAX_DOCUMENTS_PER_VERSION} documents, one per language; {documents} were sent"
            ),
        ));
    }
    let Some(list) = languages.map(str::trim).filter(|l| !l.is_empty()) else {
        if documents > 1 {
            return Err(invalid(format!(
                "a version of {documents} documents names each one's language: `languages=` with {documents} tags in the order of the files, e.g. `en,zh-Hans`"
            )));
        }
        return Ok(vec![None; documents]);
    };
    let tags: Vec<&str> = list.split(',').map(str::trim).collect();
    if tags.len() != documents {
        return Err(invalid(format!(
            "{} language tags for {documents} documents; give one per file, in order",
            tags.len()
        )));
    }
    if let Some(tag) = tags.iter().find(|tag| !is_language_tag(tag)) {
        return Err(invalid(format!(
            "`{}` is not a language tag such as en, zh-Hans or pt-BR",
            tag.chars().take(40).collect::<String>()
        )));
    }
    if let Some(tag) = repeated_language(tags.iter().copied()) {
        return Err(invalid(format!(
            "language `{tag}` is given twice; each document of a version is in its own language"
        )));
    }
    Ok(tags.into_iter().map(|t| Some(t.to_string())).collect())
}

/// `Content-Type` of an upload: kept as given (a media type with optional parameters), or
/// `application/octet-stream` when absent.
pub fn validate_media_type(value: Option<&str>) -> Result<String, DomainError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok("application/octet-stream".into());
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let ok = value.len() <= 255
        && value.bytes().all(|b| (b' '..=b'~').contains(&b))
        && essence
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s));
    if ok {
        Ok(value.to_string())
    } else {
        Err(DomainError::new(
            ErrorCode::InvalidMediaType,
            "`Content-Type` must be a media type such as application/pdf",
        ))
    }
}

/// `?filename=`: a plain file name, shown in downloads. No path separators, quotes or control
/// characters, so it can go into a Content-Disposition header as is.
pub fn validate_filename(value: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let ok = value.chars().count() <= 255
        && value != "."
        && value != ".."
        && !value
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\' | '"'));
    if ok {
        Ok(Some(value.to_string()))
    } else {
        Err(DomainError::new(
            ErrorCode::InvalidFilename,
            "`filename` must be a plain file name (at most 255 characters, no / \\ \" or control characters)",
        ))
    }
}

pub fn validate_withdraw_reason(reason: &str) -> Result<String, DomainError> {
    optional_paragraph("reason", Some(reason), REASON_MAX)?.ok_or_else(|| {
        DomainError::new(
            ErrorCode::ReasonRequired,
            "withdrawing an MOU needs a `reason`",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parties() -> (CityCode, CityCode) {
        (
            CityCode::parse("cn-sha").unwrap(),
            CityCode::parse("us-hou").unwrap(),
        )
    }

    fn req(city: &str, role: &str, count: u32) -> RequiredSigner {
        RequiredSigner {
            city: city.into(),
            role: role.into(),
            count,
        }
    }

    #[test]
    fn default_and_custom_requirements() {
        let (a, b) = parties();
        let m = NewMou::validate(PartnershipId::generate(), [&a, &b], " Accord ", None).unwrap();
        assert_eq!(m.title, "Accord");
        assert_eq!(
            m.required,
            [req("cn-sha", "signatory", 1), req("us-hou", "signatory", 1)]
        );
        let custom = vec![
            req("us-hou", "witness", 1),
            req("us-hou", "signatory", 2),
            req("cn-sha", "signatory", 1),
        ];
        let m = NewMou::validate(PartnershipId::generate(), [&a, &b], "x", Some(custom)).unwrap();
        assert_eq!(m.required[0].city, "cn-sha");
        let code = |list: Vec<RequiredSigner>| {
            NewMou::validate(PartnershipId::generate(), [&a, &b], "x", Some(list))
                .unwrap_err()
                .code
        };
        assert_eq!(
            code(vec![
                req("de-ber", "signatory", 1),
                req("us-hou", "signatory", 1)
            ]),
            "signer_city_not_party"
        );
        assert_eq!(
            code(vec![req("us-hou", "signatory", 1)]),
            "party_without_signer"
        );
        assert_eq!(
            code(vec![
                req("us-hou", "signatory", 0),
                req("cn-sha", "signatory", 1)
            ]),
            "invalid_count"
        );
        assert_eq!(
            code(vec![
                req("us-hou", "Mayor", 1),
                req("cn-sha", "signatory", 1)
            ]),
            "invalid_role"
        );
        assert_eq!(
            code(vec![
                req("us-hou", "signatory", 1),
                req("us-hou", "signatory", 1),
                req("cn-sha", "signatory", 1)
            ]),
            "duplicate_required_signer"
        );
        assert_eq!(
            NewMou::validate(PartnershipId::generate(), [&a, &b], "  ", None)
                .unwrap_err()
                .code,
            "missing_field"
        );
    }

    #[test]
    fn execution_counts_distinct_signers() {
        let required = [req("us-hou", "signatory", 2), req("cn-sha", "signatory", 1)];
        let s = |signer: &str, city: &str, role: &str| SignedBy {
            signer: signer.into(),
            city: city.into(),
            role: role.into(),
        };
        let mut signed = vec![
            s("a@us-hou", "us-hou", "signatory"),
            s("a@us-hou", "us-hou", "signatory"),
            s("c@cn-sha", "cn-sha", "signatory"),
        ];
        assert!(!is_executed(&required, &signed));
        signed.push(s("w@us-hou", "us-hou", "witness"));
        assert!(!is_executed(&required, &signed));
        signed.push(s("b@us-hou", "us-hou", "signatory"));
        assert!(is_executed(&required, &signed));
    }

    #[test]
    fn media_types_and_filenames() {
        assert_eq!(
            validate_media_type(None).unwrap(),
            "application/octet-stream"
        );
        assert_eq!(
            validate_media_type(Some("text/plain; charset=utf-8")).unwrap(),
            "text/plain; charset=utf-8"
        );
        assert!(validate_media_type(Some("pdf")).is_err());
        assert!(validate_media_type(Some("text/\u{1}")).is_err());
        assert_eq!(
            validate_filename(Some("mou v2.pdf")).unwrap().unwrap(),
            "mou v2.pdf"
        );
        for bad in ["../x", "a\\b", "a\"b", "..", "a\nb"] {
            assert_eq!(
                validate_filename(Some(bad)).unwrap_err().code,
                "invalid_filename"
            );
        }
    }
}
