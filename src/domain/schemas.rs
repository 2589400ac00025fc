//! The OpenAPI schema of each validated input, so that the document states the rules the
//! validators enforce (docs/api.md). Each schema is built from the constants and tables its
//! validator uses (`text::NAME_MAX`, `rust_iso3166::ALL_ALPHA2`, `activities::MAX_PARTICIPANTS`,
//! ...), and the tests at the bottom run every validator and its schema over the same inputs
//! and fail when they disagree: a rule changed in one place and not the other shows there.
//!
//! Rules a JSON Schema cannot state (one field against another, a date against today, a
//! signature against its key) are listed per operation in the document instead
//! (`x-amity-rules`, from `api/rules.rs`).
//!
//! The types here are markers: request structs keep the raw `String` the validator reads (so
//! its stable error code is answered, not a serde message) and name the marker as their
//! `value_type`.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AnyOfBuilder, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{RefOr, schema::ArrayBuilder};

use super::activities::MAX_PARTICIPANTS;
use super::mous::{MAX_COUNT, MAX_REQUIREMENTS};
use super::requests::MAX_REQUESTS_PER_ROUND;
use super::text::{NAME_MAX, REASON_MAX, SHORT_MAX};
use crate::crypto::statement::MAX_DECLINE_REASON_CHARS;

/// Characters no text field takes: Unicode control characters (`char::is_control`).
const NOT_CONTROL: &str = r"[^\x00-\x1f\x7f-\x9f]";
/// Multi-line texts also take tab, line feed and carriage return.
const NOT_CONTROL_OR_NEWLINE_EXCEPTED: &str = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]";
/// One character that is neither a control character nor white space as `str::trim` sees it
/// (Unicode White_Space): a text made only of those is blank.
const VISIBLE: &str = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Type(Type::String))
}

/// An integer within `min..=max`.
fn integer(min: impl Into<i64>, max: impl Into<i64>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .minimum(Some(min.into()))
        .maximum(Some(max.into()))
}

fn formatted(format: KnownFormat) -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(format)))
}

/// Schemas that also take `""`, which the validators read as "not given".
fn or_empty(schema: impl Into<RefOr<Schema>>, description: &str) -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(schema)
        .item(string().max_length(Some(0)))
        .description(Some(description))
        .into()
}

macro_rules! marker_schema {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

/// `^[a-z]{2}-[a-z0-9-]{2,29}$` (`cities::CityCode::parse`).
pub const CITY_CODE_PATTERN: &str = "^[a-z]{2}-[a-z0-9-]{2,29}$";
/// A registry id: a lower-case hyphenated UUID (`ids::is_id_text`).
pub const ID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/// `^[a-z][a-z0-9_-]{0,31}$` (`mous::is_role`).
pub const ROLE_PATTERN: &str = "^[a-z][a-z0-9_-]{0,31}$";
/// `<handle>@<city code>` (`amity_verify::statement::validate_signer`).
pub const SIGNER_PATTERN: &str = "^[a-z0-9][a-z0-9._-]{0,63}@[a-z]{2}-[a-z0-9-]{2,29}$";
/// Lower-case hex SHA-256 (`partnerships::parse_sha256_hex`).
pub const SHA256_PATTERN: &str = "^[0-9a-f]{64}$";
/// Wikidata item ids (`cities::parse_wikidata`).
pub const WIKIDATA_PATTERN: &str = "^Q[1-9][0-9]{0,10}$";
/// ISO 3166-2 shape; that the code exists and lies in `country` is a rule of the operation.
pub const REGION_PATTERN: &str = "^[A-Z]{2}-[A-Z0-9]{1,3}$";
/// UN/LOCODE: five characters, spaces anywhere (`cities::parse_unlocode` drops them).
pub const UNLOCODE_PATTERN: &str = "^ *[A-Z] *[A-Z] *[A-Z2-9] *[A-Z2-9] *[A-Z2-9] *$";
/// Any character but `/`, `\`, `"` and control characters, then the same without `.`, so that
/// the pattern leaves out `.` and `..` without a look-ahead (which not every regex engine has).
pub const FILENAME_PATTERN: &str = r#"^(?:[^/\\"\x00-\x1f\x7f-\x9f.][^/\\"\x00-\x1f\x7f-\x9f]*|\.[^/\\"\x00-\x1f\x7f-\x9f.][^/\\"\x00-\x1f\x7f-\x9f]*|\.\.[^/\\"\x00-\x1f\x7f-\x9f]+)?$"#;
/// GeoNames ids (`cities::City::validate`).
pub const GEONAMES_MAX: i64 = 999_999_999;

/// A required one-line text of at most `max` characters: not blank, no control characters.
fn required_line(max: usize) -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(format!("^{NOT_CONTROL}*{VISIBLE}{NOT_CONTROL}*$")))
}

/// An optional one-line text (blank counts as not given).
fn optional_line(max: usize) -> ObjectBuilder {
    string()
        .max_length(Some(max))
        .pattern(Some(format!("^{NOT_CONTROL}*$")))
}

/// An optional multi-line text (blank counts as not given).
fn optional_paragraph(max: usize) -> ObjectBuilder {
    string()
        .max_length(Some(max))
        .pattern(Some(format!("^{NOT_CONTROL_OR_NEWLINE_EXCEPTED}*$")))
}

marker_schema!(
    /// A city code such as `us-hou`.
    CityCodeText => string()
        .min_length(Some(5))
        .max_length(Some(32))
        .pattern(Some(CITY_CODE_PATTERN))
        .description(Some("City code: the lower-case ISO country, a dash and 2-29 lower-case letters, digits or dashes"))
        .examples(["us-hou"])
);

/// Every assigned ISO 3166-1 alpha-2 code, as `cities::parse_country` takes them.
fn country_codes() -> ObjectBuilder {
    let mut codes: Vec<&'static str> = rust_iso3166::ALL_ALPHA2.to_vec();
    codes.sort_unstable();
    string()
        .enum_values(Some(codes))
        .description(Some("ISO 3166-1 alpha-2 country code, upper case"))
}

marker_schema!(
    /// An ISO 3166-1 alpha-2 country code.
    CountryCode => country_codes().examples(["US"])
);
marker_schema!(
    /// A UN M49 region or subregion (`regions::WorldRegion::parse`).
    WorldRegionName => string()
        .enum_values(Some(super::regions::REGION_NAMES.to_vec()))
        .description(Some("UN M49 region or subregion, lower case with dashes"))
        .examples(["western-europe"])
);
marker_schema!(
    /// A calendar date, `YYYY-MM-DD` (`dates::parse_date`).
    Date => formatted(KnownFormat::Date).pattern(Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")).examples(["2024-05-01"])
);
marker_schema!(
    /// A calendar date, or `""` for none.
    DateOrEmpty => or_empty(Date::schema_object(), "A calendar date `YYYY-MM-DD`, or empty for none")
);
marker_schema!(
    /// An instant: RFC 3339 date-time, or a date meaning midnight UTC (`dates::parse_instant`).
    Instant => AnyOfBuilder::new()
        .item(formatted(KnownFormat::DateTime))
        .item(Date::schema_object())
        .description(Some("RFC 3339 date-time, or YYYY-MM-DD for midnight UTC"))
);
marker_schema!(
    /// An establishment date known to the year, month or day (`dates::EstablishedDate`), or
    /// `""` for unknown.
    Established => AnyOfBuilder::new()
        .item(string().pattern(Some("^[1-9][0-9]{3}$")))
        .item(string().pattern(Some("^[1-9][0-9]{3}-(0[1-9]|1[0-2])$")))
        .item(formatted(KnownFormat::Date).pattern(Some("^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}$")))
        .item(string().max_length(Some(0)))
        .description(Some("YYYY, YYYY-MM or YYYY-MM-DD (year 1000 or later), or empty for unknown"))
);
marker_schema!(
    /// A registry id (UUIDv7 text).
    Id => string().format(Some(SchemaFormat::Custom("uuid".into()))).pattern(Some(ID_PATTERN))
);
marker_schema!(
    /// A name or title: one line, not blank, at most `text::NAME_MAX` characters.
    Name => required_line(NAME_MAX).examples(["Houston"])
);
marker_schema!(
    /// A short optional line (`text::SHORT_MAX`), such as a deciding body.
    ShortLine => optional_line(SHORT_MAX)
);
marker_schema!(
    /// An optional free text of several lines (`text::REASON_MAX`).
    Paragraph => optional_paragraph(REASON_MAX)
);
marker_schema!(
    /// A free text of several lines that must not be blank (`text::REASON_MAX`).
    RequiredParagraph => string()
        .min_length(Some(1))
        .max_length(Some(REASON_MAX))
        .pattern(Some(format!(
            "^{NOT_CONTROL_OR_NEWLINE_EXCEPTED}*{VISIBLE}{NOT_CONTROL_OR_NEWLINE_EXCEPTED}*$"
        )))
);
marker_schema!(
    /// A decline's reason (`requests::validate_decline_reason`): one line or several, at most
    /// 1000 characters, no control characters, nothing blank at either end.
    DeclineReason => string()
        .min_length(Some(1))
        .max_length(Some(MAX_DECLINE_REASON_CHARS))
        .pattern(Some(format!("^{VISIBLE}(?:{NOT_CONTROL}*{VISIBLE})?$")))
        .examples(["The council has not yet approved the exchange programme."])
);
marker_schema!(
    /// A webhook endpoint URL (`webhooks::parse_endpoint_url`): absolute http(s), at most
    /// 2000 characters, no white space.
    WebhookUrl => string()
        .format(Some(SchemaFormat::Custom("uri".into())))
        .max_length(Some(super::webhooks::MAX_URL_LEN))
        .pattern(Some("^https?://[^\\s]+$"))
        .examples(["https://hooks.example.org/amity"])
);
marker_schema!(
    /// An e-mail address (`webhooks::validate_email`).
    Email => string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(super::webhooks::MAX_EMAIL_LEN))
        .pattern(Some("^[^\\s@]+@[^\\s@]+$"))
        .examples(["mayor@coventry.gov.uk"])
);
marker_schema!(
    /// Days of a reminder setting (`requests::MAX_REMINDER_DAYS`).
    ReminderDays => integer(0, super::requests::MAX_REMINDER_DAYS)
);
marker_schema!(
    /// How many reminders at most (`requests::MAX_REMINDERS`).
    ReminderCount => integer(0, super::requests::MAX_REMINDERS)
);
marker_schema!(
    /// A sequence group of a round of signature requests: group 1 signs first.
    SequenceGroup => integer(1, i64::try_from(MAX_REQUESTS_PER_ROUND).unwrap_or(i64::MAX))
);
marker_schema!(
    /// An ISO 3166-2 subdivision code, or `""` for none.
    RegionCode => or_empty(string().pattern(Some(REGION_PATTERN)), "ISO 3166-2 subdivision of the city's country, or empty")
);
marker_schema!(
    /// A Wikidata item id, or `""` for none.
    WikidataId => or_empty(string().pattern(Some(WIKIDATA_PATTERN)), "Wikidata item id (`Q16555`), or empty")
);
marker_schema!(
    /// A UN/LOCODE, or `""` for none.
    Unlocode => or_empty(string().pattern(Some(UNLOCODE_PATTERN)), "UN/LOCODE of the city's country (`USHOU` or `US HOU`), or empty")
);
marker_schema!(
    /// A GeoNames id.
    GeonamesId => integer(1, GEONAMES_MAX)
);
marker_schema!(
    /// Latitude in degrees.
    Latitude => ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Number))
        .minimum(Some(-90))
        .maximum(Some(90))
);
marker_schema!(
    /// Longitude in degrees.
    Longitude => ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Number))
        .minimum(Some(-180))
        .maximum(Some(180))
);
marker_schema!(
    /// Lower-case hex SHA-256, or `""` for none.
    Sha256HexOrEmpty => or_empty(string().pattern(Some(SHA256_PATTERN)), "Lower-case hex SHA-256, or empty for none")
);
marker_schema!(
    /// Lower-case hex SHA-256.
    Sha256Hex => string().pattern(Some(SHA256_PATTERN))
);
marker_schema!(
    /// A signer role (`mous::is_role`).
    SignerRole => string().pattern(Some(ROLE_PATTERN)).max_length(Some(32)).examples(["signatory"])
);
marker_schema!(
    /// `<handle>@<city code>`.
    Signer => string().pattern(Some(SIGNER_PATTERN)).examples(["mayor@us-hou"])
);
marker_schema!(
    /// A participant count (`activities::MAX_PARTICIPANTS`).
    Participants => integer(0, MAX_PARTICIPANTS)
);
marker_schema!(
    /// The two city codes of a partnership, different from each other.
    CityPair => ArrayBuilder::new()
        .items(CityCodeText::schema_object())
        .min_items(Some(2))
        .max_items(Some(2))
        .unique_items(true)
);
marker_schema!(
    /// How many signers of one city and role must sign (`mous::MAX_COUNT`).
    SignerCount => integer(1, MAX_COUNT)
);

/// Every ISO 4217 code of money a deal value may carry (`amity_verify::outcomes::currency_exponent`).
fn currency_codes() -> ObjectBuilder {
    use iso_currency::IntoEnumIterator;
    let mut codes: Vec<&'static str> = iso_currency::Currency::iter()
        .filter(|c| amity_verify::outcomes::currency_exponent(c.code()).is_ok())
        .map(|c| c.code())
        .collect();
    codes.sort_unstable();
    string()
        .enum_values(Some(codes))
        .description(Some("ISO 4217 currency code, upper case"))
}

marker_schema!(
    /// An outcome's indicator (`amity_verify::outcomes::Indicator`).
    OutcomeIndicator => string().enum_values(Some(
        amity_verify::outcomes::Indicator::ALL.iter().map(|i| i.as_str()).collect::<Vec<_>>()
    ))
);
marker_schema!(
    /// Who took part in an exchange (`amity_verify::outcomes::ExchangeGroup`), or `""`.
    ExchangeGroupName => or_empty(
        string().enum_values(Some(
            amity_verify::outcomes::ExchangeGroup::ALL.iter().map(|g| g.as_str()).collect::<Vec<_>>()
        )),
        "who took part in an exchange, or empty"
    )
);
marker_schema!(
    /// An outcome's count; its bounds per indicator are a rule of the operation.
    OutcomeCount => integer(1, 10_000_000_000_i64)
);
marker_schema!(
    /// A declared value in plain decimal digits (`amity_verify::outcomes::check_value`), or `""`.
    Amount => or_empty(
        string().pattern(Some("^(0|[1-9][0-9]{0,14})(\\.[0-9]{1,4})?$")).examples(["1250000.50"]),
        "a positive amount in plain digits, at most the currency's decimals, or empty"
    )
);
marker_schema!(
    /// An ISO 4217 currency code, or `""`.
    CurrencyCode => or_empty(currency_codes(), "ISO 4217 currency code, or empty")
);
marker_schema!(
    /// A registry id, or `""` for none.
    IdOrEmpty => or_empty(Id::schema_object(), "a registry id, or empty for none")
);
marker_schema!(
    /// An outcome's description or a resolution's note (`outcomes::MAX_TEXT_CHARS`).
    ResultText => optional_paragraph(amity_verify::outcomes::MAX_TEXT_CHARS)
);
marker_schema!(
    /// What a commitment promised: one line (`outcomes::MAX_COMMITMENT_CHARS`).
    CommitmentText => required_line(amity_verify::outcomes::MAX_COMMITMENT_CHARS)
        .examples(["Exchange of 20 students by June 2021"])
);
marker_schema!(
    /// Numbers of the activity's evidence documents, each once.
    EvidenceNumbers => ArrayBuilder::new()
        .items(integer(1, amity_verify::outcomes::MAX_OUTCOME_EVIDENCE as i64))
        .max_items(Some(amity_verify::outcomes::MAX_OUTCOME_EVIDENCE))
        .unique_items(true)
);
marker_schema!(
    /// An organisation's name (`outcomes::MAX_ORGANISATION_NAME_CHARS`).
    OrganisationName => required_line(amity_verify::outcomes::MAX_ORGANISATION_NAME_CHARS)
);
marker_schema!(
    /// An organisation's sector (`amity_verify::outcomes::Sector`).
    SectorName => string().enum_values(Some(
        amity_verify::outcomes::Sector::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()
    ))
);
marker_schema!(
    /// A named group's cities: 2 to 50 codes, each once.
    GroupCities => ArrayBuilder::new()
        .items(CityCodeText::schema_object())
        .min_items(Some(amity_verify::outcomes::MIN_GROUP_CITIES))
        .max_items(Some(amity_verify::outcomes::MAX_GROUP_CITIES))
        .unique_items(true)
);
marker_schema!(
    /// How a commitment ended (`amity_verify::outcomes::CommitmentResult`).
    CommitmentResultName => string().enum_values(Some(
        amity_verify::outcomes::CommitmentResult::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>()
    ))
);

/// A marker's schema as an object, to nest in another.
trait SchemaObject {
    fn schema_object() -> Object;
}

impl<T: utoipa::PartialSchema> SchemaObject for T {
    fn schema_object() -> Object {
        match T::schema() {
            RefOr::T(Schema::Object(o)) => o,
            _ => Object::new(),
        }
    }
}

marker_schema!(
    /// A page size (`api::pagination::MAX_LIMIT`).
    PageLimit => integer(1, PAGE_LIMIT_MAX)
);
marker_schema!(
    /// A page cursor: the `next_cursor` of the previous page, as given.
    Cursor => string().min_length(Some(1)).pattern(Some("^[A-Za-z0-9_-]+$"))
);
marker_schema!(
    /// A log index or tree size, counted from 0.
    LogIndex => integer(0, i64::MAX)
);
marker_schema!(
    /// The older size of a consistency proof: at least 1.
    OlderSize => integer(1, i64::MAX)
);
marker_schema!(
    /// A four-digit year.
    Year => integer(1000, 9999)
);
/// A comma-separated list of 1 to 8 language tags (white space around commas allowed).
const LANGUAGES_PATTERN: &str =
    "^ *[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,7} *(, *[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,7} *){0,7}$";

marker_schema!(
    /// A file name shown in downloads (`mous::validate_filename`): no `/`, `\`, `"` or control
    /// characters, at most 255 characters, not `.` or `..`; empty for none.
    Filename => string()
        .max_length(Some(255))
        .pattern(Some(FILENAME_PATTERN))
        .examples(["mou.pdf"])
);
marker_schema!(
    /// The languages of a version's documents, one language tag per file in the order of the
    /// files, separated by commas (`mous::validate_languages`): each tag a primary language of
    /// 2 to 8 letters and up to seven subtags of 1 to 8 letters or digits (`en`, `zh-Hans`,
    /// `pt-BR`), at most 35 characters, no tag twice (compared without regard to case).
    /// Optional for one document, required for several; at most 8.
    Languages => string()
        .max_length(Some(300))
        .pattern(Some(LANGUAGES_PATTERN))
        .examples(["en,zh-Hans"])
);
marker_schema!(
    /// Hex SHA-256 in either case.
    HexSha256 => string().pattern(Some("^[0-9a-fA-F]{64}$"))
);
marker_schema!(
    /// Standard base64 with padding.
    Base64 => string().pattern(Some("^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"))
);
marker_schema!(
    /// An armored SSHSIG, as `ssh-keygen -Y sign` writes it.
    ArmoredSshsig => string()
        .pattern(Some(r"^\s*-----BEGIN SSH SIGNATURE-----[\s\S]*-----END SSH SIGNATURE-----\s*$"))
);
marker_schema!(
    /// An OpenSSH Ed25519 public key line.
    SshEd25519Key => string()
        .pattern(Some(r"^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}=?( [^\r\n]*)?\s*$"))
        .examples(["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMJtn7R+8w9z3aQ0bS8T3i2l4x8n3hR0m9g0v2pC1fQk mayor@us-hou"])
);
marker_schema!(
    /// An SSH key fingerprint as `ssh-keygen -l` prints it.
    KeyFingerprint => string().pattern(Some("^SHA256:[A-Za-z0-9+/]{43}$"))
);

/// The largest page (`api::pagination::MAX_LIMIT`, which names this constant).
pub const PAGE_LIMIT_MAX: i64 = 500;
/// The largest page of a bulk list read by the audit (`api::pagination::BULK_MAX_LIMIT`).
pub const BULK_PAGE_LIMIT_MAX: i64 = 5000;
marker_schema!(
    /// A page size of a bulk list (`api::pagination::BULK_MAX_LIMIT`).
    BulkPageLimit => integer(1, BULK_PAGE_LIMIT_MAX)
);
marker_schema!(
    /// A version or evidence number, counted from 1.
    Ordinal => integer(1, i32::MAX)
);

/// The schema of a path parameter, by its name: every path names a city by `code`, a record by
/// `id`, a version or evidence document by `n` and a log entry by `index`.
pub fn path_parameter(name: &str) -> Option<RefOr<Schema>> {
    use utoipa::PartialSchema;
    match name {
        "code" => Some(CityCodeText::schema()),
        "id" => Some(Id::schema()),
        "n" => Some(Ordinal::schema()),
        "index" => Some(LogIndex::schema()),
        _ => None,
    }
}

marker_schema!(
    /// The signers an MOU requires (`mous::NewMou::validate`): at most
    /// `mous::MAX_REQUIREMENTS` entries of a party city, a role and a count.
    RequiredSigners => ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .property("city", CityCodeText::schema_object())
                .property("role", SignerRole::schema_object())
                .property("count", SignerCount::schema_object())
                .required("city")
                .required("role")
                .required("count")
                .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false))),
        )
        .max_items(Some(MAX_REQUIREMENTS))
);

/// Each schema against its validator, over the same inputs: edge cases written down and a few
/// thousand strings drawn from an alphabet of the characters the rules care about. A schema
/// that accepts what its validator refuses (or the reverse) fails here, whichever of the two
/// was changed.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{cities, dates, mous, partnerships, text};
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use utoipa::PartialSchema;

    /// Whether a string schema (type string, pattern, lengths, enum; `anyOf` of those) takes
    /// `value`. `format: date` is read as `YYYY-MM-DD` naming a real day, as JSON Schema says.
    fn accepts(schema: &RefOr<Schema>, value: &str) -> bool {
        match schema {
            RefOr::T(Schema::AnyOf(any)) => any.items.iter().any(|s| accepts(s, value)),
            RefOr::T(Schema::Object(o)) => {
                let chars = value.chars().count();
                let pattern_ok = o.pattern.as_ref().is_none_or(|p| {
                    regex::Regex::new(p)
                        .unwrap_or_else(|e| panic!("pattern {p} does not compile: {e}"))
                        .is_match(value)
                });
                let enum_ok = o
                    .enum_values
                    .as_ref()
                    .is_none_or(|vs| vs.iter().any(|v| v.as_str() == Some(value)));
                let format_ok = match &o.format {
                    Some(SchemaFormat::KnownFormat(KnownFormat::Date)) => {
                        chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
                            && value.len() == 10
                    }
                    _ => true,
                };
                pattern_ok
                    && enum_ok
                    && format_ok
                    && o.min_length.is_none_or(|m| chars >= m)
                    && o.max_length.is_none_or(|m| chars <= m)
            }
            _ => panic!("not a string schema"),
        }
    }

    /// Strings over the characters the text rules look at, with lengths around the limits.
    fn samples(extra: &[&str], max_len: usize) -> Vec<String> {
        const ALPHABET: &[char] = &[
            'a', 'z', 'q', 'A', 'Z', 'Q', 'U', 'S', '0', '1', '9', '2', '-', '_', '.', '@', '/',
            '\\', '"', ' ', '\t', '\n', '\r', '\u{7}', '\u{7f}', '\u{85}', '\u{a0}', '\u{3000}',
            '\u{2028}', '\u{feff}', 'é', '漢',
        ];
        let mut rng = StdRng::seed_from_u64(20261206);
        let mut out: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        for _ in 0..4000 {
            let len = match rng.gen_range(0..4) {
                0 => rng.gen_range(0..4),
                1 => rng.gen_range(0..12),
                _ => rng.gen_range(max_len.saturating_sub(2)..=max_len + 2),
            };
            out.push(
                (0..len)
                    .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
                    .collect(),
            );
        }
        out
    }

    fn agree(name: &str, schema: RefOr<Schema>, inputs: &[String], valid: impl Fn(&str) -> bool) {
        for input in inputs {
            assert_eq!(
                accepts(&schema, input),
                valid(input),
                "{name}: schema and validator disagree on {input:?}"
            );
        }
    }

    #[test]
    fn text_schemas_agree_with_the_text_rules() {
        let lines = samples(
            &["", " ", " x ", "\u{a0}x", "\u{feff}", "a\u{85}"],
            NAME_MAX,
        );
        agree("Name", Name::schema(), &lines, |s| {
            text::required_line("f", s, NAME_MAX).is_ok()
        });
        agree("ShortLine", ShortLine::schema(), &lines, |s| {
            text::optional_line("f", Some(s), SHORT_MAX).is_ok()
        });
        let long = samples(&["", "a\nb", "\t"], REASON_MAX);
        agree("Paragraph", Paragraph::schema(), &long, |s| {
            text::optional_paragraph("f", Some(s), REASON_MAX).is_ok()
        });
        agree(
            "RequiredParagraph",
            RequiredParagraph::schema(),
            &long,
            |s| mous::validate_withdraw_reason(s).is_ok(),
        );
        let reasons = samples(
            &[
                "", " ", "x", " x", "x ", "a\nb", "a\tb", "\u{feff}", "\u{a0}x",
            ],
            MAX_DECLINE_REASON_CHARS,
        );
        // The byte limit is beyond JSON Schema (lengths count characters): it is a stated
        // rule of the operation (`api::rules`), so the schema is compared within it.
        let (within, beyond): (Vec<String>, Vec<String>) = reasons
            .into_iter()
            .partition(|s| s.len() <= crate::crypto::statement::MAX_DECLINE_REASON_BYTES);
        agree("DeclineReason", DeclineReason::schema(), &within, |s| {
            crate::domain::requests::validate_decline_reason(s).is_ok()
        });
        for s in beyond {
            assert!(crate::domain::requests::validate_decline_reason(&s).is_err());
        }
        let names = samples(&["", ".", "..", "...", ".a", "a.", "mou.pdf"], 255);
        agree("Filename", Filename::schema(), &names, |s| {
            mous::validate_filename(Some(s)).is_ok()
        });
    }

    #[test]
    fn code_schemas_agree_with_their_parsers() {
        let codes = samples(
            &[
                "us-hou",
                "us-h",
                "us--",
                "US-HOU",
                "u1-hou",
                &format!("us-{}", "a".repeat(29)),
            ],
            32,
        );
        agree("CityCodeText", CityCodeText::schema(), &codes, |s| {
            cities::CityCode::parse(s).is_ok()
        });
        agree("SignerRole", SignerRole::schema(), &codes, mous::is_role);
        let mut countries: Vec<String> = rust_iso3166::ALL_ALPHA2
            .iter()
            .map(|c| c.to_string())
            .collect();
        countries.extend(["XX", "us", "U", "USA", ""].map(String::from));
        agree("CountryCode", CountryCode::schema(), &countries, |s| {
            cities::parse_country(s).is_ok()
        });
        let mut regions: Vec<String> = crate::domain::regions::REGION_NAMES
            .iter()
            .map(|r| r.to_string())
            .collect();
        regions.extend(["Europe", "mars", "", "latin-america"].map(String::from));
        agree(
            "WorldRegionName",
            WorldRegionName::schema(),
            &regions,
            |s| crate::domain::regions::WorldRegion::parse(s).is_ok(),
        );
        let wikidata = samples(
            &["Q1", "Q0", "Q01", "Q16555", "Q12345678901", "Q123456789012"],
            12,
        );
        agree("WikidataId", WikidataId::schema(), &wikidata, |s| {
            s.is_empty() || cities::parse_wikidata(s).is_ok()
        });
        let unlocodes = samples(
            &["USHOU", "US HOU", " U S H O U ", "USHO1", "USHO2", "     "],
            7,
        );
        // The schema states the shape; that the country part is the city's is an operation
        // rule. So the validator is asked with the country the code itself names.
        agree("Unlocode", Unlocode::schema(), &unlocodes, |s| {
            let compact = s.replace(' ', "");
            let country: String = compact.chars().take(2).collect();
            s.is_empty()
                || (country.len() == 2
                    && country.bytes().all(|b| b.is_ascii_uppercase())
                    && cities::parse_unlocode(s, &country).is_ok())
        });
        let ids = samples(
            &[
                "0192f0c2-7b7a-7cc3-9a55-0c1d2e3f4a5b",
                "0192F0C2-7B7A-7CC3-9A55-0C1D2E3F4A5B",
            ],
            36,
        );
        agree("Id", Id::schema(), &ids, crate::domain::ids::is_id_text);
        let hashes = samples(&[&"a".repeat(64), &"A".repeat(64), &"g".repeat(64), ""], 64);
        agree(
            "Sha256HexOrEmpty",
            Sha256HexOrEmpty::schema(),
            &hashes,
            |s| s.is_empty() || partnerships::parse_sha256_hex("f", s).is_ok(),
        );
    }

    #[test]
    fn date_schemas_agree_with_the_date_parsers() {
        let dates = [
            "2024-05-01",
            "2024-02-29",
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "0999-01-01",
            "1000-01-01",
            "9999-12-31",
            "2024-05-01T00:00:00Z",
            "",
            "2024",
            "2024-05",
            "0999",
            "1999-00",
            "+2024-05-01",
            "２０２４-05-01",
        ]
        .map(String::from);
        agree("Date", Date::schema(), &dates, |s| {
            dates::parse_date("f", s).is_ok()
        });
        agree("Established", Established::schema(), &dates, |s| {
            s.is_empty() || dates::EstablishedDate::parse(s).is_ok()
        });
    }

    /// The bounds of a numeric schema.
    fn bounds(schema: RefOr<Schema>) -> (f64, f64) {
        let RefOr::T(Schema::Object(o)) = schema else {
            panic!("not an object schema");
        };
        let number = |n: Option<utoipa::Number>| match n {
            Some(utoipa::Number::Int(i)) => i as f64,
            Some(utoipa::Number::UInt(u)) => u as f64,
            Some(utoipa::Number::Float(f)) => f,
            None => panic!("unbounded"),
        };
        (number(o.minimum), number(o.maximum))
    }

    #[test]
    fn numeric_schemas_agree_with_their_ranges() {
        let (lo, hi) = bounds(Participants::schema());
        for n in [lo as i64 - 1, lo as i64, hi as i64, hi as i64 + 1] {
            let valid = crate::domain::activities::NewActivity::validate(
                crate::domain::activities::ActivityKind::Other,
                crate::domain::activities::Mode::Virtual,
                "2024-05-01",
                None,
                Some(n),
                None,
            )
            .is_ok();
            assert_eq!(valid, (lo..=hi).contains(&(n as f64)), "participants {n}");
        }
        let (lat_lo, lat_hi) = bounds(Latitude::schema());
        let (lon_lo, lon_hi) = bounds(Longitude::schema());
        for (lat, lon) in [
            (lat_lo, lon_lo),
            (lat_hi, lon_hi),
            (lat_lo - 0.1, 0.0),
            (0.0, lon_hi + 0.1),
        ] {
            let in_schema = (lat_lo..=lat_hi).contains(&lat) && (lon_lo..=lon_hi).contains(&lon);
            assert_eq!(
                cities::coordinates_e6(lat, lon).is_ok(),
                in_schema,
                "({lat}, {lon})"
            );
        }
        let (lo, hi) = bounds(PageLimit::schema());
        for n in [lo as i64 - 1, lo as i64, hi as i64, hi as i64 + 1] {
            let valid = crate::api::pagination::limit(Some(n)).is_ok();
            assert_eq!(valid, (lo..=hi).contains(&(n as f64)), "limit {n}");
        }
        let (lo, hi) = bounds(BulkPageLimit::schema());
        for n in [lo as i64 - 1, lo as i64, hi as i64, hi as i64 + 1] {
            let valid = crate::api::pagination::bulk_limit(Some(n)).is_ok();
            assert_eq!(valid, (lo..=hi).contains(&(n as f64)), "bulk limit {n}");
        }
        let (lo, hi) = bounds(SignerCount::schema());
        assert_eq!((lo, hi), (1.0, f64::from(MAX_COUNT)));
    }
}
