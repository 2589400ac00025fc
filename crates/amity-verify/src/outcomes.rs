//! What engagement produced, as data: the closed list of outcome indicators, the fields each
//! one takes, and the commitments an activity records and later resolves. The server refuses
//! what these functions refuse before it logs anything, and the log replay reports the same
//! rules for an entry that got into the log anyway (docs/formats/log-entries.md,
//! docs/engagement.md). One definition, so the two cannot drift apart.
//!
//! Adding an indicator or an exchange group is a change to these lists, a migration of the
//! server's check constraint and a line in docs/engagement.md; an older verifier then reports
//! entries with the new value as `outcome_valid` findings, which is the point: it cannot judge
//! them.

use chrono::NaiveDate;

/// The largest free text an outcome's description or a commitment's note may hold, in
/// characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// The largest commitment text, in characters: one sentence of what was promised.
pub const MAX_COMMITMENT_CHARS: usize = 500;

/// The most evidence documents one outcome may cite (an activity holds at most 20).
pub const MAX_OUTCOME_EVIDENCE: usize = 20;

/// Most integer digits of a declared value: up to 999 trillion in any currency.
const MAX_VALUE_INTEGER_DIGITS: usize = 15;

macro_rules! closed_list {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the order the docs list them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

closed_list!(
    /// What kind of result an outcome records.
    Indicator {
        AgreementSigned => "agreement_signed",
        FollowUpActivity => "follow_up_activity",
        PeopleReached => "people_reached",
        ExchangeParticipants => "exchange_participants",
        BusinessDeals => "business_deals",
        JointProjects => "joint_projects",
        MediaReach => "media_reach",
        Other => "other",
    }
);

closed_list!(
    /// Who took part in an exchange.
    ExchangeGroup {
        Students => "students",
        Officials => "officials",
        Artists => "artists",
        Professionals => "professionals",
        Athletes => "athletes",
        Other => "other",
    }
);

closed_list!(
    /// How a commitment ended.
    CommitmentResult {
        Kept => "kept",
        PartlyKept => "partly_kept",
        NotKept => "not_kept",
    }
);

closed_list!(
    /// What kind of organisation took part in an activity besides the city offices.
    Sector {
        Business => "business",
        ChamberOfCommerce => "chamber_of_commerce",
        University => "university",
        School => "school",
        Ngo => "ngo",
        Cultural => "cultural",
        SportsClub => "sports_club",
        Media => "media",
        Health => "health",
        PublicAgency => "public_agency",
        Other => "other",
    }
);

/// The most organisations one activity names.
pub const MAX_ORGANISATIONS: usize = 20;

/// The longest organisation name, in characters.
pub const MAX_ORGANISATION_NAME_CHARS: usize = 200;

/// Checks the organisations an activity names, as (name, sector) pairs: at most
/// [`MAX_ORGANISATIONS`], each name one line, not blank, at most
/// [`MAX_ORGANISATION_NAME_CHARS`], none twice (ignoring case), each sector from [`Sector`].
pub fn check_organisations<'a>(
    list: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> Result<(), String> {
    if list.len() > MAX_ORGANISATIONS {
        return Err(format!(
            "an activity names at most {MAX_ORGANISATIONS} organisations"
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    for (name, sector) in list {
        check_text("organisation name", name, MAX_ORGANISATION_NAME_CHARS)?;
        if name.chars().any(char::is_control) || name.trim() != name {
            return Err(format!(
                "organisation name {name:?} is not one trimmed line"
            ));
        }
        if Sector::parse(sector).is_none() {
            let all: Vec<&str> = Sector::ALL.iter().map(|s| s.as_str()).collect();
            return Err(format!(
                "sector {sector:?} of {name:?} is not one of {}",
                all.join(", ")
            ));
        }
        let key = name.to_lowercase();
        if seen.contains(&key) {
            return Err(format!("organisation {name:?} is named twice"));
        }
        seen.push(key);
    }
    Ok(())
}

/// The most cities a group holds, and the fewest.
pub const MAX_GROUP_CITIES: usize = 50;
pub const MIN_GROUP_CITIES: usize = 2;

/// Checks a named group of cities as it is logged: a name of one line, at most 200
/// characters, and 2 to 50 city codes in ascending order, each once.
pub fn check_group(name: &str, cities: &[String]) -> Result<(), String> {
    check_text("name", name, MAX_ORGANISATION_NAME_CHARS)?;
    if name.chars().any(char::is_control) || name.trim() != name {
        return Err(format!("group name {name:?} is not one trimmed line"));
    }
    if !(MIN_GROUP_CITIES..=MAX_GROUP_CITIES).contains(&cities.len()) {
        return Err(format!(
            "a group holds {MIN_GROUP_CITIES} to {MAX_GROUP_CITIES} cities, not {}",
            cities.len()
        ));
    }
    if cities.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
        return Err("a group's cities are listed in ascending order, each once".into());
    }
    Ok(())
}

impl Indicator {
    /// The bounds of the indicator's `count`, or `None` when it takes no count.
    pub fn count_bounds(self) -> Option<(i64, i64)> {
        match self {
            Indicator::PeopleReached => Some((1, 100_000_000)),
            Indicator::ExchangeParticipants => Some((1, 100_000)),
            Indicator::BusinessDeals => Some((1, 10_000)),
            Indicator::JointProjects => Some((1, 1_000)),
            Indicator::MediaReach => Some((1, 10_000_000_000)),
            Indicator::AgreementSigned | Indicator::FollowUpActivity | Indicator::Other => None,
        }
    }

    /// The one field the indicator cannot do without, besides `count`.
    fn required_link(self) -> Option<&'static str> {
        match self {
            Indicator::AgreementSigned => Some("mou"),
            Indicator::FollowUpActivity => Some("follow_up"),
            Indicator::ExchangeParticipants => Some("exchange_group"),
            Indicator::Other => Some("description"),
            _ => None,
        }
    }
}

/// An outcome's fields as written, before they are known to fit its indicator.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutcomeFields<'a> {
    pub indicator: &'a str,
    pub count: Option<i64>,
    pub exchange_group: Option<&'a str>,
    pub value: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub mou: Option<&'a str>,
    pub follow_up: Option<&'a str>,
    pub description: Option<&'a str>,
    pub evidence: &'a [i64],
}

/// Why an outcome's fields do not fit its indicator. The server maps each to a problem code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutcomeProblem {
    #[error("unknown indicator {0:?}")]
    Indicator(String),
    #[error("a `{indicator}` outcome needs `{field}`")]
    Missing {
        indicator: &'static str,
        field: &'static str,
    },
    #[error("a `{indicator}` outcome takes no `{field}`")]
    NotAllowed {
        indicator: &'static str,
        field: &'static str,
    },
    #[error("`count` of a `{indicator}` outcome must be within {min}..={max}, got {got}")]
    Count {
        indicator: &'static str,
        min: i64,
        max: i64,
        got: i64,
    },
    #[error("unknown exchange group {0:?}")]
    ExchangeGroup(String),
    #[error("{0}")]
    Currency(String),
    #[error("{0}")]
    Value(String),
    #[error("{0}")]
    Text(String),
    #[error("{0}")]
    Evidence(String),
}

/// Checks that an outcome's fields fit its indicator: the count within the indicator's bounds
/// (and absent where it takes none), the link or text it needs present, a declared value only
/// on business deals and always with its ISO 4217 currency, in no more decimals than the
/// currency has, and evidence numbers 1..=20 named once each. Whether the MOU, the follow-up
/// activity and the evidence exist, and belong to the outcome's partnership, is for the caller
/// who knows them.
pub fn check_outcome(f: &OutcomeFields<'_>) -> Result<Indicator, OutcomeProblem> {
    let indicator = Indicator::parse(f.indicator)
        .ok_or_else(|| OutcomeProblem::Indicator(f.indicator.into()))?;
    let name = indicator.as_str();
    let missing = |field| OutcomeProblem::Missing {
        indicator: name,
        field,
    };
    let not_allowed = |field| OutcomeProblem::NotAllowed {
        indicator: name,
        field,
    };
    match (indicator.count_bounds(), f.count) {
        (Some(_), None) => return Err(missing("count")),
        (None, Some(_)) => return Err(not_allowed("count")),
        (Some((min, max)), Some(got)) if !(min..=max).contains(&got) => {
            return Err(OutcomeProblem::Count {
                indicator: name,
                min,
                max,
                got,
            });
        }
        _ => {}
    }
    let present = |field: &str| match field {
        "mou" => f.mou.is_some(),
        "follow_up" => f.follow_up.is_some(),
        "exchange_group" => f.exchange_group.is_some(),
        "description" => f.description.is_some(),
        _ => false,
    };
    if let Some(field) = indicator.required_link()
        && !present(field)
    {
        return Err(missing(field));
    }
    for field in ["mou", "follow_up", "exchange_group"] {
        if present(field) && indicator.required_link() != Some(field) {
            return Err(not_allowed(field));
        }
    }
    if let Some(group) = f.exchange_group
        && ExchangeGroup::parse(group).is_none()
    {
        return Err(OutcomeProblem::ExchangeGroup(group.into()));
    }
    match (indicator, f.value, f.currency) {
        (_, None, None) => {}
        (Indicator::BusinessDeals, Some(value), Some(currency)) => {
            check_value(value, currency_exponent(currency)?)?;
        }
        (Indicator::BusinessDeals, Some(_), None) => return Err(missing("currency")),
        (Indicator::BusinessDeals, None, Some(_)) => return Err(missing("value")),
        (_, Some(_), _) => return Err(not_allowed("value")),
        (_, None, Some(_)) => return Err(not_allowed("currency")),
    }
    if let Some(text) = f.description {
        check_text("description", text, MAX_TEXT_CHARS).map_err(OutcomeProblem::Text)?;
    }
    if f.evidence.len() > MAX_OUTCOME_EVIDENCE {
        return Err(OutcomeProblem::Evidence(format!(
            "an outcome cites at most {MAX_OUTCOME_EVIDENCE} evidence documents"
        )));
    }
    for (i, seq) in f.evidence.iter().enumerate() {
        if !(1..=MAX_OUTCOME_EVIDENCE as i64).contains(seq) {
            return Err(OutcomeProblem::Evidence(format!(
                "evidence numbers run 1..={MAX_OUTCOME_EVIDENCE}, got {seq}"
            )));
        }
        if f.evidence.iter().take(i).any(|s| s == seq) {
            return Err(OutcomeProblem::Evidence(format!(
                "evidence {seq} is cited twice"
            )));
        }
    }
    Ok(indicator)
}

/// The number of decimals of an ISO 4217 currency a value may carry. Funds are accepted; the
/// special codes without a currency (gold, testing, `XXX`) are not.
pub fn currency_exponent(code: &str) -> Result<u32, OutcomeProblem> {
    let currency = iso_currency::Currency::from_code(code)
        .filter(|c| c.code() == code)
        .ok_or_else(|| {
            OutcomeProblem::Currency(format!(
                "`currency` must be an ISO 4217 code in capitals, e.g. EUR; {code:?} is not one"
            ))
        })?;
    match currency.exponent() {
        Some(e) if !currency.is_special() => Ok(u32::from(e)),
        _ => Err(OutcomeProblem::Currency(format!(
            "`currency` {code} ({}) is not money a deal is valued in",
            currency.name()
        ))),
    }
}

/// Checks an activity's declared cost: both the amount and its ISO 4217 currency, or neither.
pub fn check_cost(value: Option<&str>, currency: Option<&str>) -> Result<(), OutcomeProblem> {
    match (value, currency) {
        (None, None) => Ok(()),
        (Some(value), Some(currency)) => check_value(value, currency_exponent(currency)?),
        (Some(_), None) => Err(OutcomeProblem::Currency(
            "a `cost` needs its `cost_currency`".into(),
        )),
        (None, Some(_)) => Err(OutcomeProblem::Value(
            "a `cost_currency` needs its `cost`".into(),
        )),
    }
}

/// A declared value: a positive decimal in plain digits, `1250000` or `1250000.50`, with at
/// most `decimals` digits after the point and no leading zeros.
pub fn check_value(value: &str, decimals: u32) -> Result<(), OutcomeProblem> {
    let bad = |why: &str| {
        OutcomeProblem::Value(format!(
            "`value` {value:?} {why}; write a positive amount in plain digits, e.g. 1250000.50"
        ))
    };
    let (whole, fraction) = match value.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (value, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("is not a decimal number"));
    }
    if whole.len() > 1 && whole.starts_with('0') {
        return Err(bad("has a leading zero"));
    }
    if whole.len() > MAX_VALUE_INTEGER_DIGITS {
        return Err(bad("is too large"));
    }
    if let Some(fraction) = fraction {
        if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("is not a decimal number"));
        }
        if fraction.len() > decimals as usize {
            return Err(bad(&format!(
                "has more decimals than its currency's {decimals}"
            )));
        }
    }
    if value.bytes().all(|b| b == b'0' || b == b'.') {
        return Err(bad("is zero"));
    }
    Ok(())
}

/// A declared value in the currency's smallest unit (cents for EUR), for exact sums. `None`
/// when the value does not pass [`check_value`].
pub fn minor_units(value: &str, decimals: u32) -> Option<i128> {
    check_value(value, decimals).ok()?;
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let mut digits = String::with_capacity(whole.len() + decimals as usize);
    digits.push_str(whole);
    digits.push_str(fraction);
    for _ in fraction.len()..decimals as usize {
        digits.push('0');
    }
    digits.parse().ok()
}

/// Free text: not blank, within `max` characters.
pub fn check_text(field: &str, text: &str, max: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("`{field}` is blank"));
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(format!(
            "`{field}` is {chars} characters; the limit is {max}"
        ));
    }
    Ok(())
}

/// A calendar date as entries write it, `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Checks a commitment resolution's shape: a known result, and a link to what kept it only
/// when it was (at least partly) kept, naming an activity or an outcome, not both.
pub fn check_resolution(
    result: &str,
    kept_by_activity: Option<&str>,
    kept_by_outcome: Option<&str>,
) -> Result<CommitmentResult, String> {
    let parsed = CommitmentResult::parse(result).ok_or_else(|| {
        format!("`result` must be `kept`, `partly_kept` or `not_kept`, got {result:?}")
    })?;
    match (parsed, kept_by_activity, kept_by_outcome) {
        (_, Some(_), Some(_)) => Err(
            "name what kept the commitment once: `kept_by_activity` or `kept_by_outcome`".into(),
        ),
        (CommitmentResult::NotKept, Some(_), _) | (CommitmentResult::NotKept, _, Some(_)) => {
            Err("a commitment not kept names nothing that kept it".into())
        }
        _ => Ok(parsed),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fields(indicator: &str) -> OutcomeFields<'_> {
        OutcomeFields {
            indicator,
            ..OutcomeFields::default()
        }
    }

    #[test]
    fn each_indicator_needs_its_own_fields() {
        let mou = OutcomeFields {
            mou: Some("m"),
            ..fields("agreement_signed")
        };
        assert_eq!(check_outcome(&mou), Ok(Indicator::AgreementSigned));
        assert!(matches!(
            check_outcome(&fields("agreement_signed")),
            Err(OutcomeProblem::Missing { field: "mou", .. })
        ));
        let counted = OutcomeFields {
            count: Some(3),
            ..mou
        };
        assert!(matches!(
            check_outcome(&counted),
            Err(OutcomeProblem::NotAllowed { field: "count", .. })
        ));
        let exchange = OutcomeFields {
            count: Some(20),
            exchange_group: Some("students"),
            ..fields("exchange_participants")
        };
        assert!(check_outcome(&exchange).is_ok());
        let exchange = OutcomeFields {
            exchange_group: Some("tourists"),
            ..exchange
        };
        assert_eq!(
            check_outcome(&exchange),
            Err(OutcomeProblem::ExchangeGroup("tourists".into()))
        );
        assert!(matches!(
            check_outcome(&fields("other")),
            Err(OutcomeProblem::Missing {
                field: "description",
                ..
            })
        ));
        assert!(matches!(
            check_outcome(&fields("weather")),
            Err(OutcomeProblem::Indicator(_))
        ));
    }

    #[test]
    fn counts_are_bounded_per_indicator() {
        for (indicator, max) in [
            ("people_reached", 100_000_000),
            ("joint_projects", 1_000),
            ("media_reach", 10_000_000_000),
        ] {
            for (count, ok) in [(0, false), (1, true), (max, true), (max + 1, false)] {
                let f = OutcomeFields {
                    count: Some(count),
                    ..fields(indicator)
                };
                assert_eq!(check_outcome(&f).is_ok(), ok, "{indicator} {count}");
            }
        }
    }

    #[test]
    fn values_carry_an_iso_4217_currency_and_its_decimals() {
        let deal = |value, currency| OutcomeFields {
            count: Some(2),
            value,
            currency,
            ..fields("business_deals")
        };
        assert!(check_outcome(&deal(Some("1250000.50"), Some("EUR"))).is_ok());
        assert!(check_outcome(&deal(Some("1250000"), Some("JPY"))).is_ok());
        assert!(check_outcome(&deal(Some("12.345"), Some("BHD"))).is_ok());
        assert!(check_outcome(&deal(None, None)).is_ok());
        for (value, currency) in [
            ("10.5", "JPY"),
            ("12.3456", "BHD"),
            ("1", "EUX"),
            ("1", "eur"),
            ("1", "XAU"),
            ("1", "XXX"),
            ("0", "EUR"),
            ("0.00", "EUR"),
            ("01", "EUR"),
            ("-1", "EUR"),
            ("1e6", "EUR"),
            ("1.", "EUR"),
            (".5", "EUR"),
            ("1 000", "EUR"),
            ("1234567890123456", "EUR"),
        ] {
            assert!(
                check_outcome(&deal(Some(value), Some(currency))).is_err(),
                "{value} {currency}"
            );
        }
        assert!(matches!(
            check_outcome(&deal(Some("5"), None)),
            Err(OutcomeProblem::Missing {
                field: "currency",
                ..
            })
        ));
        let reach = OutcomeFields {
            count: Some(5),
            value: Some("5"),
            currency: Some("EUR"),
            ..fields("people_reached")
        };
        assert!(matches!(
            check_outcome(&reach),
            Err(OutcomeProblem::NotAllowed { field: "value", .. })
        ));
    }

    #[test]
    fn minor_units_are_exact() {
        assert_eq!(minor_units("1250000.5", 2), Some(125_000_050));
        assert_eq!(minor_units("7", 0), Some(7));
        assert_eq!(minor_units("0.001", 3), Some(1));
        assert_eq!(minor_units("0.001", 2), None);
    }

    #[test]
    fn evidence_is_cited_once_each_within_bounds() {
        let with = |evidence| OutcomeFields {
            count: Some(10),
            evidence,
            ..fields("people_reached")
        };
        assert!(check_outcome(&with(&[1, 2])).is_ok());
        assert!(check_outcome(&with(&[1, 1])).is_err());
        assert!(check_outcome(&with(&[0])).is_err());
        assert!(check_outcome(&with(&[21])).is_err());
    }

    #[test]
    fn organisations_have_a_sector_a_name_and_appear_once() {
        let check = |list: &[(&str, &str)]| check_organisations(list.iter().copied());
        assert!(check(&[("Rice University", "university"), ("Shell", "business")]).is_ok());
        assert!(check(&[("Rice University", "college")]).is_err());
        assert!(check(&[("Shell", "business"), ("shell", "business")]).is_err());
        assert!(check(&[(" ", "ngo")]).is_err());
        assert!(check(&[(" Shell", "business")]).is_err());
        assert!(check(&[("Line\nbreak", "ngo")]).is_err());
        let many: Vec<(String, &str)> = (0..21)
            .map(|i| (format!("Club {i}"), "sports_club"))
            .collect();
        assert!(check_organisations(many.iter().map(|(n, s)| (n.as_str(), *s))).is_err());
    }

    #[test]
    fn resolutions_name_what_kept_them_only_when_kept() {
        assert_eq!(
            check_resolution("kept", Some("a"), None),
            Ok(CommitmentResult::Kept)
        );
        assert!(check_resolution("partly_kept", None, Some("o")).is_ok());
        assert!(check_resolution("not_kept", None, None).is_ok());
        assert!(check_resolution("not_kept", Some("a"), None).is_err());
        assert!(check_resolution("kept", Some("a"), Some("o")).is_err());
        assert!(check_resolution("done", None, None).is_err());
    }
}
