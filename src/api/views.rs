//! JSON shapes of responses and request bodies. Field names are part of the API contract.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::cities::CityRecord;
use crate::db::offices::OfficeRow;
use crate::domain::cities::degrees;
use crate::domain::dates::{format_date, format_micros};
use crate::domain::partnerships::{Kind, Partnership, ReasonCategory, Status, StatusEvent};
use crate::domain::schemas as S;
use crate::domain::tokens::Role;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCityBody {
    /// Stable code: lower-case ISO country, a dash, a local part (`us-hou`).
    #[schema(value_type = S::CityCodeText, example = "us-hou")]
    pub code: String,
    #[schema(value_type = S::Name, example = "Houston")]
    pub name: String,
    /// ISO 3166-1 alpha-2; the code starts with it in lower case.
    #[schema(value_type = S::CountryCode, example = "US")]
    pub country: String,
    /// ISO 3166-2 subdivision of `country`.
    #[schema(value_type = Option<S::RegionCode>, example = "US-TX")]
    pub region: Option<String>,
    #[schema(value_type = Option<S::WikidataId>, example = "Q16555")]
    pub wikidata: Option<String>,
    #[schema(value_type = Option<S::GeonamesId>, example = 4699066)]
    #[serde(default, deserialize_with = "crate::api::json_numbers::opt_i64")]
    pub geonames_id: Option<i64>,
    /// UN/LOCODE of a place in `country`.
    #[schema(value_type = Option<S::Unlocode>, example = "USHOU")]
    pub unlocode: Option<String>,
    /// Give both `lat` and `lon`, or neither.
    #[schema(value_type = Option<S::Latitude>, example = 29.7604)]
    pub lat: Option<f64>,
    #[schema(value_type = Option<S::Longitude>, example = -95.3698)]
    pub lon: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CityView {
    pub code: String,
    pub name: String,
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_name: Option<String>,
    pub region: Option<String>,
    pub wikidata: Option<String>,
    pub geonames_id: Option<i64>,
    pub unlocode: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub created_at: String,
    pub log_index: i64,
}

/// A newly registered city, with what a reviewer should check about its name.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedCityView {
    #[serde(flatten)]
    pub city: CityView,
    /// Look-alike names (`mixed_script`, `confusable_name`); empty when the name is plain.
    pub warnings: Vec<crate::domain::names::NameWarning>,
}

impl From<CityRecord> for CityView {
    fn from(r: CityRecord) -> Self {
        let c = r.city;
        CityView {
            country_name: crate::domain::cities::country_name(&c.country),
            code: c.code.to_string(),
            name: c.name,
            country: c.country,
            region: c.region,
            wikidata: c.wikidata,
            geonames_id: c.geonames_id,
            unlocode: c.unlocode,
            lat: c.lat_e6.map(degrees),
            lon: c.lon_e6.map(degrees),
            created_at: format_micros(r.created_at),
            log_index: r.log_index,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CityDetail {
    #[serde(flatten)]
    pub city: CityView,
    pub offices: Vec<OfficeSummary>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OfficeSummary {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOfficeBody {
    /// The city code the office acts for.
    #[schema(value_type = S::CityCodeText, example = "us-hou")]
    pub city: String,
    #[schema(value_type = S::Name, example = "Office of International Affairs")]
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OfficeView {
    pub id: String,
    pub city: String,
    pub name: String,
    pub created_at: String,
    pub log_index: i64,
}

impl From<OfficeRow> for OfficeView {
    fn from(r: OfficeRow) -> Self {
        OfficeView {
            id: r.id,
            city: r.city,
            name: r.name,
            created_at: format_micros(r.created_at),
            log_index: r.log_index,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    pub role: Role,
    /// Office id; required for office tokens, refused for the others.
    #[schema(value_type = Option<S::Id>)]
    pub office: Option<String>,
    /// RFC 3339 time or YYYY-MM-DD, in the future.
    #[schema(value_type = Option<S::Instant>)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IssuedTokenView {
    pub id: String,
    /// The secret: shown once, stored only as its SHA-256.
    pub token: String,
    pub role: Role,
    pub office: Option<String>,
    pub city: Option<String>,
    pub expires_at: Option<String>,
    pub log_index: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokedTokenView {
    pub id: String,
    pub revoked: bool,
    pub log_index: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartnershipBody {
    /// The two city codes, in any order; one must be the caller's city.
    #[schema(value_type = S::CityPair, example = json!(["us-hou", "cn-sha"]))]
    pub cities: Vec<String>,
    pub kind: Kind,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, not in the future.
    #[schema(value_type = Option<S::Established>, example = "1979")]
    pub established: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PartnershipView {
    pub id: String,
    /// The two cities in canonical (sorted) order.
    pub cities: [String; 2],
    pub countries: [String; 2],
    pub kind: Kind,
    pub established: Option<String>,
    pub established_precision: Option<crate::domain::dates::Precision>,
    pub status: Status,
    pub source: crate::domain::partnerships::Source,
    pub proposed_by: Option<String>,
    /// The cut-off partnership this one re-establishes.
    pub supersedes: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub log_index: i64,
}

impl From<Partnership> for PartnershipView {
    fn from(p: Partnership) -> Self {
        PartnershipView {
            cities: [p.city_a.to_string(), p.city_b.to_string()],
            countries: [p.country_a, p.country_b],
            kind: p.kind,
            established_precision: p.established.as_ref().map(|e| e.precision),
            established: p.established.map(|e| e.text),
            status: p.status,
            source: p.source,
            proposed_by: p.proposed_by.map(|c| c.to_string()),
            supersedes: p.supersedes,
            created_at: format_micros(p.created_at),
            updated_at: format_micros(p.updated_at),
            log_index: p.log_index,
            id: p.id.into_string(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChangeBody {
    pub status: Status,
    /// YYYY-MM-DD: when the change takes effect.
    #[schema(value_type = S::Date, example = "2022-03-02")]
    pub effective_date: String,
    /// YYYY-MM-DD: when the deciding body decided; not in the future.
    #[schema(value_type = Option<S::DateOrEmpty>, example = "2022-03-01")]
    pub decided_date: Option<String>,
    #[schema(value_type = Option<S::ShortLine>, example = "Coventry City Council")]
    pub deciding_body: Option<String>,
    pub reason_category: ReasonCategory,
    /// Required (not blank) for `curtailed` and `cut_off`.
    #[schema(value_type = Option<S::Paragraph>, example = "Suspended after the invasion of Ukraine")]
    pub reason: Option<String>,
    #[schema(value_type = Option<S::Paragraph>)]
    pub resumption_condition: Option<String>,
    /// Lower-case hex SHA-256 of the decision document.
    #[schema(value_type = Option<S::Sha256HexOrEmpty>)]
    pub decision_document_sha256: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusEventView {
    pub seq: i32,
    pub from: Option<Status>,
    pub to: Status,
    pub effective_date: String,
    pub decided_date: Option<String>,
    pub initiating_city: Option<String>,
    pub deciding_body: Option<String>,
    pub reason_category: Option<ReasonCategory>,
    pub reason: Option<String>,
    pub resumption_condition: Option<String>,
    pub decision_document_sha256: Option<String>,
    /// Id of the token that recorded the change.
    pub recorded_by: Option<String>,
    pub recorded_at: String,
    pub log_index: i64,
}

impl From<StatusEvent> for StatusEventView {
    fn from(e: StatusEvent) -> Self {
        StatusEventView {
            seq: e.seq,
            from: e.from,
            to: e.to,
            effective_date: format_date(e.effective_date),
            decided_date: e.decided_date.map(format_date),
            initiating_city: e.initiating_city.map(|c| c.to_string()),
            deciding_body: e.deciding_body,
            reason_category: e.reason_category,
            reason: e.reason,
            resumption_condition: e.resumption_condition,
            decision_document_sha256: e.decision_document_sha256.map(hex::encode),
            recorded_by: e.recorded_by,
            recorded_at: format_micros(e.recorded_at),
            log_index: e.log_index,
        }
    }
}

/// A status change's result: the partnership as it now is and the event recorded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusChangeView {
    pub partnership: PartnershipView,
    pub event: StatusEventView,
    pub status: Status,
    pub log_index: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryView {
    pub partnership: String,
    pub events: Vec<StatusEventView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogEntryView {
    pub index: i64,
    /// Lower-case hex RFC 9162 leaf hash.
    pub leaf_hash: String,
    pub kind: String,
    /// The exact entry bytes, standard base64.
    pub entry: String,
    pub logged_at: String,
}
