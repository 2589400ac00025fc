//! Replaying the log: the rules every sequence of entries must follow, checked from the entry
//! bytes alone (docs/audit-rules.md). An auditor runs this over a whole log it fetched;
//! nothing here trusts the server's tables.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::entries::{
    ActivityCommitmentMade, ActivityCommitmentResolved, ActivityEvidenceAdded,
    ActivityOutcomeRecorded, ActivityRecorded, CityCreated, CityGroupSaved, Entry, EntryBody,
    KeyApproved, KeyEnded, KeyRegistered, MouCreated, MouRequestDeclined, MouRequestsCancelled,
    MouRequestsExpired, MouSignatureAdded, MouSignaturesRequested, MouVersionUploaded,
    MouWithdrawn, OfficeCreated, PartnershipRegistered, PartnershipStatusChanged, TokenIssued,
    TokenRevoked,
};
use crate::keys::PublicKey;
use crate::outcomes::{
    MAX_COMMITMENT_CHARS, MAX_TEXT_CHARS, OutcomeFields, check_outcome, check_resolution,
    check_text, parse_date,
};
use crate::rules::{
    MAX_REQUESTS_PER_ROUND, MouState, RequiredSigner, SignedBy, Status, Trigger, allowed_targets,
    is_executed, signature_valid,
};
use crate::statement::{
    MAX_DOCUMENTS_PER_VERSION, MouDeclineStatement, is_language_tag, is_lower_hex_sha256,
    mou_decline_namespace, repeated_language,
};

/// A logged instant (RFC 3339, as entries write them) in microseconds since the epoch.
fn parse_instant(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.timestamp_micros())
}

/// Why a date an office gave for a result is wrong: not a date, before the activity began, or
/// after the day the entry was logged.
fn date_problem(
    field: &str,
    text: &str,
    not_before: Option<chrono::NaiveDate>,
    logged_on: Option<chrono::NaiveDate>,
) -> Option<String> {
    let Some(date) = parse_date(text) else {
        return Some(format!("`{field}` {text:?} is not a date"));
    };
    if let Some(start) = not_before
        && date < start
    {
        return Some(format!(
            "`{field}` {date} is before the activity began on {start}"
        ));
    }
    if let Some(logged) = logged_on
        && date > logged
    {
        return Some(format!(
            "`{field}` {date} is after the entry was logged on {logged}"
        ));
    }
    None
}

/// A rule an entry broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub index: u64,
    /// The rule broken, by its id in docs/audit-rules.md.
    pub rule: &'static str,
    pub message: String,
}

/// What a partnership looks like after replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedPartnership {
    pub status: Status,
    pub last_seq: i64,
}

/// An MOU after replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayedMou {
    pub version: i64,
    pub last_seq: i64,
    pub withdrawn: bool,
    /// seq -> (statement SHA-256 hex, key id) as the log recorded them.
    pub signatures: HashMap<i64, (String, String)>,
    /// version -> its `mou.version_uploaded` entry: the documents' hashes and languages as
    /// the log recorded them.
    pub versions: HashMap<i64, MouVersionUploaded>,
    /// The partnership its `mou.created` names.
    pub partnership: String,
    /// That partnership's two cities as `partnership.registered` logged them; empty when the
    /// log never registered the partnership (a `references` finding).
    pub cities: Vec<String>,
    /// Who must sign, as `mou.created` logged it.
    pub required_signers: Vec<RequiredSigner>,
    /// Its rounds of signature requests, in log order.
    pub rounds: Vec<ReplayedRound>,
    /// (seq, version, who) of every logged signature, to tell whether the MOU was executed.
    signed_by: Vec<(i64, i64, SignedBy)>,
    /// `Declined` or `Expired` when the last round ended that way and no version or round
    /// came after it.
    workflow: Option<MouState>,
}

impl ReplayedMou {
    /// `Some(MouState::Declined)` when a requested signatory declined in the last round, or
    /// `Some(MouState::Expired)` when the last round's deadline passed with requests
    /// unanswered, and no new version or round of requests came since; `None` otherwise,
    /// and for a withdrawn MOU (its state is `withdrawn` whatever its rounds did). As the
    /// registry does, a decline or expiry while the MOU was executed (every required signer
    /// had signed the current version, counting the signatures logged and not void at that
    /// point) leaves it executed, so `None`.
    pub fn workflow_state(&self) -> Option<MouState> {
        if self.withdrawn { None } else { self.workflow }
    }

    /// The last round of requests, if any.
    pub fn last_round(&self) -> Option<&ReplayedRound> {
        self.rounds.last()
    }

    /// True while some request of some round is pending. In a log that follows the rules only
    /// the last round can have pending requests.
    pub fn has_pending_requests(&self) -> bool {
        self.rounds.iter().any(ReplayedRound::is_open)
    }
}

/// Where a signature request stands, as the log tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestState {
    Pending,
    Signed,
    Declined,
    Expired,
    Cancelled,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Signed => "signed",
            RequestState::Declined => "declined",
            RequestState::Expired => "expired",
            RequestState::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for RequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One signatory asked in a round, and where their request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedRequest {
    pub id: String,
    pub signer: String,
    pub role: String,
    pub group: i64,
    pub state: RequestState,
    /// The reason its `mou.request_declined` entry logged, when a decline ended it.
    pub decline_reason: Option<String>,
}

/// A round of signature requests (`mou.signatures_requested`) and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedRound {
    pub round: i64,
    pub version: i64,
    pub doc_sha256: String,
    /// The deadline in microseconds since the epoch; `None` when the logged deadline is not an
    /// RFC 3339 instant (a `request_valid` finding).
    pub deadline: Option<i64>,
    pub requests: Vec<ReplayedRequest>,
}

impl ReplayedRound {
    /// True while a request of the round is pending.
    pub fn is_open(&self) -> bool {
        self.requests
            .iter()
            .any(|r| r.state == RequestState::Pending)
    }
}

/// A signatory key after replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedKey {
    pub fingerprint: String,
    /// The OpenSSH public key line the log recorded at registration.
    pub public_key: String,
    /// Who the key was registered to: a signature by it counts only for this signer, city
    /// and role (rule `key_bound`).
    pub signer: String,
    pub city: String,
    pub role: String,
    pub active: bool,
    /// Retired from this instant on (microseconds).
    pub retired_from: Option<i64>,
    pub revoked: bool,
    /// Signatures logged at or after this instant are void; `Some(i64::MIN)` when the
    /// compromise time is unknown (every signature by the key is void).
    pub compromised_since: Option<i64>,
}

/// A signature the log accepted that a later revocation made void.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidedSignature {
    pub mou: String,
    pub seq: i64,
    pub key: String,
}

/// An activity after replay: what its outcomes, commitments and evidence are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedActivity {
    pub partnership: String,
    /// When it began, as logged; `None` when the log wrote no valid date.
    pub start_date: Option<chrono::NaiveDate>,
    /// SHA-256 hex of evidence 1, 2, ... as logged.
    pub evidence: Vec<String>,
}

/// A commitment after replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedCommitment {
    pub activity: String,
    pub partnership: String,
    pub due_date: Option<chrono::NaiveDate>,
    /// `(result, resolved_on)` once resolved.
    pub resolution: Option<(String, String)>,
}

#[derive(Debug, Default)]
pub struct Replay {
    cities: HashSet<String>,
    /// office id -> its city.
    offices: HashMap<String, String>,
    tokens: HashMap<String, bool>,
    /// token id -> the office it was issued to (tokens of no office are absent).
    token_offices: HashMap<String, String>,
    /// token id -> the role it was issued with.
    token_roles: HashMap<String, String>,
    partnerships: HashMap<String, ReplayedPartnership>,
    mous: HashMap<String, ReplayedMou>,
    activities: HashMap<String, ReplayedActivity>,
    /// outcome id -> (activity, partnership).
    outcomes: HashMap<String, (String, String)>,
    commitments: HashMap<String, ReplayedCommitment>,
    keys: HashMap<String, ReplayedKey>,
    /// (key id, mou, seq, logged at) of every accepted signature, for revocations to void.
    signed: Vec<(String, String, i64, i64)>,
    /// partnership id -> its two cities, as registered.
    partnership_cities: HashMap<String, [String; 2]>,
    /// group id -> the `seq` of its last `city_group.saved`.
    groups: HashMap<String, i64>,
    /// group id -> its keeper token, when an association keeps it.
    group_keepers: HashMap<String, String>,
    /// request id -> (MOU, round) of the round that first named it.
    request_ids: HashMap<String, (String, i64)>,
    /// The registry origin, when known: decline statements must name it.
    origin: Option<String>,
    pub voided: Vec<VoidedSignature>,
    pub findings: Vec<Finding>,
    pub entries: u64,
}

impl Replay {
    pub fn new() -> Replay {
        Replay::default()
    }

    /// A replay that also requires decline statements to name `origin` as their registry
    /// (rule `decline_signed`), as `amity audit` knows it from the checkpoint.
    pub fn with_origin(origin: &str) -> Replay {
        Replay {
            origin: Some(origin.to_string()),
            ..Replay::default()
        }
    }

    fn finding(&mut self, index: u64, rule: &'static str, message: impl Into<String>) {
        self.findings.push(Finding {
            index,
            rule,
            message: message.into(),
        });
    }

    pub fn partnerships(&self) -> &HashMap<String, ReplayedPartnership> {
        &self.partnerships
    }

    pub fn mous(&self) -> &HashMap<String, ReplayedMou> {
        &self.mous
    }

    /// Each activity's evidence hashes (hex), in order, as the log recorded them.
    pub fn evidence(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.activities.iter().map(|(id, a)| (id, &a.evidence))
    }

    /// Every commitment the log recorded, by id, with its resolution.
    pub fn commitments(&self) -> &HashMap<String, ReplayedCommitment> {
        &self.commitments
    }

    pub fn keys(&self) -> &HashMap<String, ReplayedKey> {
        &self.keys
    }

    /// Every signature request the log named: request id -> (MOU id, round, state), the state
    /// one of `pending`, `signed`, `declined`, `expired` or `cancelled`. A request id logged
    /// twice (a `request_valid` finding) is reported for the round that first named it.
    pub fn requests(&self) -> HashMap<&str, (&str, i64, &'static str)> {
        self.request_ids
            .iter()
            .filter_map(|(id, (mou, round))| {
                let state = self
                    .mous
                    .get(mou)?
                    .rounds
                    .iter()
                    .filter(|r| r.round == *round)
                    .find_map(|r| r.requests.iter().find(|q| q.id == *id))?
                    .state;
                Some((id.as_str(), (mou.as_str(), *round, state.as_str())))
            })
            .collect()
    }

    /// Applies one entry (its exact bytes) at `index`. An entry that is not a known kind
    /// with exactly its fields is a finding, and changes nothing. Returns the parsed entry,
    /// for callers that keep some entries as evidence (`engine::ReplayedLog`).
    pub fn apply(&mut self, index: u64, bytes: &[u8]) -> Option<Entry> {
        self.entries += 1;
        let entry = match Entry::parse(bytes) {
            Ok(entry) => entry,
            Err(e) => {
                self.finding(
                    index,
                    "entry_canonical",
                    format!("not a valid log entry: {e}"),
                );
                return None;
            }
        };
        if entry.to_bytes().ok().as_deref() != Some(bytes) {
            self.finding(
                index,
                "entry_canonical",
                "entry is not canonical JSON (RFC 8785)",
            );
        }
        let time = parse_instant(&entry.time);
        if time.is_none() {
            self.finding(index, "entry_canonical", "entry has no valid `time`");
        }
        let time = time.unwrap_or_default();
        let logged_on = chrono::DateTime::from_timestamp_micros(time).map(|t| t.date_naive());
        match &entry.body {
            EntryBody::CityCreated(e) => self.city(index, e),
            EntryBody::OfficeCreated(e) => self.office(index, e),
            EntryBody::TokenIssued(e) => self.token_issued(index, e),
            EntryBody::TokenRevoked(e) => self.token_revoked(index, e),
            EntryBody::PartnershipRegistered(e) => self.registered(index, e),
            EntryBody::PartnershipStatusChanged(e) => self.status_changed(index, e),
            EntryBody::ActivityRecorded(e) => self.activity_recorded(index, e),
            EntryBody::ActivityEvidenceAdded(e) => self.evidence_added(index, e),
            EntryBody::ActivityOutcomeRecorded(e) => self.outcome_recorded(index, e, logged_on),
            EntryBody::ActivityCommitmentMade(e) => self.commitment_made(index, e),
            EntryBody::ActivityCommitmentResolved(e) => {
                self.commitment_resolved(index, e, logged_on)
            }
            EntryBody::MouCreated(e) => self.mou_created(index, e),
            EntryBody::MouVersionUploaded(e) => self.version_uploaded(index, e),
            EntryBody::MouSignatureAdded(e) => self.signature_added(index, e, time),
            EntryBody::MouWithdrawn(e) => self.mou_withdrawn(index, e),
            EntryBody::KeyRegistered(e) => self.key_registered(index, e),
            EntryBody::KeyApproved(e) => self.key_approved(index, e),
            EntryBody::KeyRetired(e) => self.key_retired(index, e, time),
            EntryBody::KeyRevoked(e) => self.key_revoked(index, e),
            EntryBody::MouSignaturesRequested(e) => self.signatures_requested(index, e, time),
            EntryBody::MouRequestDeclined(e) => self.request_declined(index, e, time),
            EntryBody::MouRequestsExpired(e) => self.requests_expired(index, e, time),
            EntryBody::MouRequestsCancelled(e) => self.requests_cancelled(index, e),
            EntryBody::CityGroupSaved(e) => self.group_saved(index, e),
        }
        Some(entry)
    }

    fn city(&mut self, index: u64, e: &CityCreated) {
        if !self.cities.insert(e.city.clone()) {
            self.finding(
                index,
                "unique_ids",
                format!("city `{}` created twice", e.city),
            )
        }
    }

    fn office(&mut self, index: u64, e: &OfficeCreated) {
        if !self.cities.contains(&e.city) {
            self.finding(
                index,
                "references",
                format!("office for unknown city `{}`", e.city),
            );
        }
        self.offices.insert(e.office.clone(), e.city.clone());
    }

    fn token_issued(&mut self, index: u64, e: &TokenIssued) {
        if let Some(office) = &e.office
            && !self.offices.contains_key(office)
        {
            self.finding(
                index,
                "references",
                format!("token for unknown office `{office}`"),
            );
        }
        if let Some(office) = &e.office {
            self.token_offices.insert(e.token.clone(), office.clone());
        }
        self.token_roles.insert(e.token.clone(), e.role.clone());
        if self.tokens.insert(e.token.clone(), false).is_some() {
            self.finding(
                index,
                "unique_ids",
                format!("token `{}` issued twice", e.token),
            );
        }
    }

    fn token_revoked(&mut self, index: u64, e: &TokenRevoked) {
        let id = &e.token;
        match self.tokens.get_mut(id) {
            None => self.finding(
                index,
                "token_lifecycle",
                format!("revocation of unknown token `{id}`"),
            ),
            Some(true) => self.finding(
                index,
                "token_lifecycle",
                format!("token `{id}` revoked twice"),
            ),
            Some(revoked) => *revoked = true,
        }
    }

    fn registered(&mut self, index: u64, e: &PartnershipRegistered) {
        let id = e.partnership.clone();
        let [a, b] = &e.cities;
        if a < b {
            for c in [a, b] {
                if !self.cities.contains(c) {
                    self.finding(
                        index,
                        "references",
                        format!("partnership with unknown city `{c}`"),
                    );
                }
            }
        } else {
            self.finding(
                index,
                "references",
                "partnership without two distinct cities in order",
            );
        }
        let status = Status::parse(&e.status);
        let Some(status) = status else {
            return self.finding(
                index,
                "status_transition",
                "partnership.registered without a valid `status`",
            );
        };
        if self.partnerships.contains_key(&id) {
            return self.finding(
                index,
                "unique_ids",
                format!("partnership `{id}` registered twice"),
            );
        }
        self.partnership_cities.insert(id.clone(), e.cities.clone());
        self.partnerships.insert(
            id,
            ReplayedPartnership {
                status,
                last_seq: 1,
            },
        );
    }

    fn status_changed(&mut self, index: u64, e: &PartnershipStatusChanged) {
        let id = e.partnership.clone();
        let from = Status::parse(&e.from);
        let to = Status::parse(&e.to);
        let seq = Some(e.seq);
        let Some(current) = self.partnerships.get(&id).cloned() else {
            return self.finding(
                index,
                "references",
                format!("status change of unknown partnership `{id}`"),
            );
        };
        let (Some(from), Some(to), Some(seq)) = (from, to, seq) else {
            return self.finding(
                index,
                "status_transition",
                "status change without valid `from`, `to` and `seq`",
            );
        };
        if from != current.status {
            self.finding(
                index,
                "status_transition",
                format!(
                    "partnership `{id}` changes from {from} but the log says it was {}",
                    current.status
                ),
            );
        }
        let allowed = [
            Trigger::StatusChange,
            Trigger::Confirmation,
            Trigger::MouExecuted,
        ]
        .iter()
        .any(|t| allowed_targets(from, *t).contains(&to));
        if !allowed {
            self.finding(
                index,
                "status_transition",
                format!(
                    "partnership `{id}`: {from} -> {to} is not a transition the registry allows"
                ),
            );
        }
        if seq != current.last_seq + 1 {
            self.finding(
                index,
                "status_transition",
                format!(
                    "partnership `{id}`: status event seq {seq} after {}",
                    current.last_seq
                ),
            );
        }
        self.partnerships.insert(
            id,
            ReplayedPartnership {
                status: to,
                last_seq: seq,
            },
        );
    }
}

impl ReplayedKey {
    /// The status the key has at `now` according to the log, named as the API names it.
    pub fn status_at(&self, now: i64) -> &'static str {
        if self.revoked {
            "revoked"
        } else if self.retired_from.is_some_and(|t| t <= now) {
            "retired"
        } else if self.active {
            "active"
        } else {
            "pending"
        }
    }
}

impl Replay {
    fn mou_created(&mut self, index: u64, e: &MouCreated) {
        let id = e.mou.clone();
        let partnership = &e.partnership;
        if !self.partnerships.contains_key(partnership) {
            self.finding(
                index,
                "references",
                format!("MOU `{id}` for unknown partnership `{partnership}`"),
            );
        }
        let mou = ReplayedMou {
            partnership: partnership.clone(),
            required_signers: e.required_signers.clone(),
            cities: self
                .partnership_cities
                .get(partnership)
                .map(|c| c.to_vec())
                .unwrap_or_default(),
            ..ReplayedMou::default()
        };
        if self.mous.insert(id.clone(), mou).is_some() {
            self.finding(index, "unique_ids", format!("MOU `{id}` created twice"));
        }
    }

    /// The MOU an entry names, if the log created it and it is not withdrawn.
    fn open_mou(&mut self, index: u64, id: &str) -> Option<String> {
        let id = id.to_string();
        match self.mous.get(&id) {
            None => {
                self.finding(index, "references", format!("entry for unknown MOU `{id}`"));
                None
            }
            Some(m) if m.withdrawn => {
                self.finding(
                    index,
                    "mou_not_changed_after_withdrawal",
                    format!("MOU `{id}` changed after it was withdrawn"),
                );
                None
            }
            Some(_) => Some(id),
        }
    }

    fn activity_recorded(&mut self, index: u64, e: &ActivityRecorded) {
        let p = e.partnership.clone();
        if self.partnerships.contains_key(&p) {
            self.party_office(index, &p, &e.city, e.by.as_deref(), "activity");
        } else {
            self.finding(
                index,
                "references",
                format!("activity for unknown partnership `{p}`"),
            );
        }
        let organisations = e
            .organisations
            .iter()
            .map(|o| (o.name.as_str(), o.sector.as_str()));
        if let Err(problem) = crate::outcomes::check_organisations(organisations) {
            self.finding(
                index,
                "organisations_valid",
                format!("activity `{}`: {problem}", e.activity),
            );
        }
        if let Err(problem) =
            crate::outcomes::check_cost(e.cost.as_deref(), e.cost_currency.as_deref())
        {
            self.finding(
                index,
                "cost_valid",
                format!("activity `{}`: {problem}", e.activity),
            );
        }
        let id = e.activity.clone();
        let activity = ReplayedActivity {
            partnership: p,
            start_date: parse_date(&e.start_date),
            evidence: Vec::new(),
        };
        if self.activities.insert(id.clone(), activity).is_some() {
            self.finding(
                index,
                "unique_ids",
                format!("activity `{id}` recorded twice"),
            );
        }
    }

    /// Rule `group_valid`: a group is saved with `seq` 1 when new and one more than its last
    /// save after, its name one line, its cities 2 to 50 logged cities in ascending order.
    fn group_saved(&mut self, index: u64, e: &CityGroupSaved) {
        let id = &e.group;
        let expected = self.groups.get(id).map_or(1, |last| last + 1);
        if e.seq != expected {
            self.finding(
                index,
                "group_valid",
                format!("group `{id}`: save {} after {}", e.seq, expected - 1),
            );
        }
        self.groups.insert(id.clone(), e.seq.max(expected));
        if let Err(problem) = crate::outcomes::check_group(&e.name, &e.cities) {
            self.finding(index, "group_valid", format!("group `{id}`: {problem}"));
        }
        self.group_keeper(index, e);
        for city in &e.cities {
            if !self.cities.contains(city) {
                self.finding(
                    index,
                    "references",
                    format!("group `{id}` names unknown city `{city}`"),
                );
            }
        }
    }

    /// Rule `group_keeper`: a group is saved by an admin token, or by an association token
    /// that creates it or keeps it; the keeper it names is an association token, and an
    /// association names itself. Saves the operator writes on the host name no token.
    fn group_keeper(&mut self, index: u64, e: &CityGroupSaved) {
        let id = &e.group;
        let roles = &self.token_roles;
        let role_of = |token: &str| roles.get(token).map(String::as_str);
        let mut problems = Vec::new();
        if let Some(keeper) = &e.keeper
            && role_of(keeper) != Some("association")
        {
            problems.push(format!(
                "group `{id}` is kept by `{keeper}`, not an association token"
            ));
        }
        let previous = self.group_keepers.get(id);
        if let Some(by) = &e.by {
            match role_of(by) {
                Some("admin") => {}
                Some("association") if e.keeper.as_ref() != Some(by) => problems.push(format!(
                    "association token `{by}` saved group `{id}` naming another keeper"
                )),
                Some("association") if e.seq > 1 && previous != Some(by) => problems.push(format!(
                    "association token `{by}` redefined group `{id}`, which it does not keep"
                )),
                Some("association") => {}
                Some(role) => {
                    problems.push(format!("group `{id}` saved by a token of role `{role}`"))
                }
                None => problems.push(format!(
                    "group `{id}` saved by token `{by}`, which the log never issued"
                )),
            }
        }
        for problem in problems {
            self.finding(index, "group_keeper", problem);
        }
        match &e.keeper {
            Some(keeper) => self.group_keepers.insert(id.clone(), keeper.clone()),
            None => self.group_keepers.remove(id),
        };
    }

    /// Rule `party_office`: an entry an office writes for a partnership names one of the
    /// partnership's two cities, and its token (`by`), when it names one, was issued to an
    /// office of that city.
    /// A third city's office cannot record, promise or resolve anything for a partnership.
    fn party_office(
        &mut self,
        index: u64,
        partnership: &str,
        city: &str,
        by: Option<&str>,
        what: &str,
    ) {
        let parties = self.partnership_cities.get(partnership);
        if parties.is_some_and(|cities| !cities.iter().any(|c| c == city)) {
            self.finding(
                index,
                "party_office",
                format!(
                    "{what} for partnership `{partnership}` by `{city}`, not one of its cities"
                ),
            );
            return;
        }
        // Entries the operator writes on the host (the demo sample) name no token; the city
        // check above is all that applies to them.
        let Some(token) = by else {
            return;
        };
        let office_city = self
            .token_offices
            .get(token)
            .and_then(|office| self.offices.get(office));
        match office_city {
            None => self.finding(
                index,
                "party_office",
                format!("{what} by token `{token}`, which the log issued to no office"),
            ),
            Some(c) if c != city => {
                let message = format!(
                    "{what} for partnership `{partnership}` says `{city}` but token `{token}` \
                     belongs to an office of `{c}`"
                );
                self.finding(index, "party_office", message)
            }
            Some(_) => {}
        }
    }

    /// The activity an outcome or commitment names, if it exists and is of the partnership
    /// the entry names (else a `references` finding).
    fn activity_of(
        &mut self,
        index: u64,
        activity: &str,
        partnership: &str,
        what: &str,
    ) -> Option<ReplayedActivity> {
        match self.activities.get(activity) {
            None => {
                self.finding(
                    index,
                    "references",
                    format!("{what} for unknown activity `{activity}`"),
                );
                None
            }
            Some(a) if a.partnership != partnership => {
                let message = format!(
                    "{what} for activity `{activity}` names partnership `{partnership}`, not `{}`",
                    a.partnership
                );
                self.finding(index, "references", message);
                None
            }
            Some(a) => Some(a.clone()),
        }
    }

    /// Rule `outcome_valid`: the fields fit the indicator (`outcomes::check_outcome`), the
    /// linked MOU and follow-up activity are of the same partnership, the evidence cited was
    /// added to the activity before, and the date lies between the activity's start and the
    /// day it was logged.
    fn outcome_recorded(
        &mut self,
        index: u64,
        e: &ActivityOutcomeRecorded,
        logged_on: Option<chrono::NaiveDate>,
    ) {
        let Some(activity) = self.activity_of(index, &e.activity, &e.partnership, "outcome") else {
            return;
        };
        self.party_office(index, &e.partnership, &e.city, e.by.as_deref(), "outcome");
        if self
            .outcomes
            .insert(
                e.outcome.clone(),
                (e.activity.clone(), e.partnership.clone()),
            )
            .is_some()
        {
            self.finding(
                index,
                "unique_ids",
                format!("outcome `{}` recorded twice", e.outcome),
            );
        }
        let fields = OutcomeFields {
            indicator: &e.indicator,
            count: e.count,
            exchange_group: e.exchange_group.as_deref(),
            value: e.value.as_deref(),
            currency: e.currency.as_deref(),
            mou: e.mou.as_deref(),
            follow_up: e.follow_up.as_deref(),
            description: e.description.as_deref(),
            evidence: &e.evidence,
        };
        let mut problems = Vec::new();
        if let Err(problem) = check_outcome(&fields) {
            problems.push(problem.to_string());
        }
        if let Some(mou) = &e.mou {
            match self.mous.get(mou) {
                Some(m) if m.partnership == e.partnership => {}
                Some(m) => {
                    problems.push(format!("MOU `{mou}` is of partnership `{}`", m.partnership))
                }
                None => problems.push(format!("unknown MOU `{mou}`")),
            }
        }
        if let Some(other) = &e.follow_up {
            match self.activities.get(other) {
                _ if *other == e.activity => {
                    problems.push("an activity is not its own follow-up".into())
                }
                Some(a) if a.partnership == e.partnership => {}
                Some(a) => problems.push(format!(
                    "follow-up `{other}` is of partnership `{}`",
                    a.partnership
                )),
                None => problems.push(format!("unknown follow-up activity `{other}`")),
            }
        }
        if let Some(seq) = e
            .evidence
            .iter()
            .find(|s| **s > activity.evidence.len() as i64)
        {
            problems.push(format!(
                "cites evidence {seq}, but the activity has {}",
                activity.evidence.len()
            ));
        }
        problems.extend(date_problem(
            "achieved_on",
            &e.achieved_on,
            activity.start_date,
            logged_on,
        ));
        for problem in problems {
            self.finding(
                index,
                "outcome_valid",
                format!("outcome `{}`: {problem}", e.outcome),
            );
        }
    }

    /// Rule `commitment_valid`: a commitment of a logged activity, with a text and a due date
    /// not before the activity began.
    fn commitment_made(&mut self, index: u64, e: &ActivityCommitmentMade) {
        let Some(activity) = self.activity_of(index, &e.activity, &e.partnership, "commitment")
        else {
            return;
        };
        self.party_office(
            index,
            &e.partnership,
            &e.city,
            e.by.as_deref(),
            "commitment",
        );
        let due_date = parse_date(&e.due_date);
        let mut problems = Vec::new();
        if let Err(problem) = check_text("text", &e.text, MAX_COMMITMENT_CHARS) {
            problems.push(problem);
        }
        match (due_date, activity.start_date) {
            (None, _) => problems.push(format!("`due_date` {:?} is not a date", e.due_date)),
            (Some(due), Some(start)) if due < start => {
                problems.push(format!("due {due}, before the activity began on {start}"))
            }
            _ => {}
        }
        for problem in problems {
            self.finding(
                index,
                "commitment_valid",
                format!("commitment `{}`: {problem}", e.commitment),
            );
        }
        let commitment = ReplayedCommitment {
            activity: e.activity.clone(),
            partnership: e.partnership.clone(),
            due_date,
            resolution: None,
        };
        if self
            .commitments
            .insert(e.commitment.clone(), commitment)
            .is_some()
        {
            self.finding(
                index,
                "unique_ids",
                format!("commitment `{}` made twice", e.commitment),
            );
        }
    }

    /// Rule `commitment_resolved_once`: a logged commitment is resolved once, by an office of
    /// its partnership, with a known result, on a date between the activity's start and the
    /// day it was logged, naming what kept it (an activity or an outcome of the same
    /// partnership) only when it was kept.
    fn commitment_resolved(
        &mut self,
        index: u64,
        e: &ActivityCommitmentResolved,
        logged_on: Option<chrono::NaiveDate>,
    ) {
        let id = &e.commitment;
        let Some(commitment) = self.commitments.get(id).cloned() else {
            return self.finding(
                index,
                "references",
                format!("resolution of unknown commitment `{id}`"),
            );
        };
        if commitment.activity != e.activity || commitment.partnership != e.partnership {
            let message = format!(
                "resolution of commitment `{id}` names activity `{}` of `{}`, not `{}` of `{}`",
                e.activity, e.partnership, commitment.activity, commitment.partnership
            );
            return self.finding(index, "references", message);
        }
        self.party_office(
            index,
            &e.partnership,
            &e.city,
            e.by.as_deref(),
            "commitment resolution",
        );
        let mut problems = Vec::new();
        if let Some((result, on)) = &commitment.resolution {
            problems.push(format!("already resolved `{result}` on {on}"));
        }
        if let Err(problem) = check_resolution(
            &e.result,
            e.kept_by_activity.as_deref(),
            e.kept_by_outcome.as_deref(),
        ) {
            problems.push(problem);
        }
        if let Some(other) = &e.kept_by_activity {
            match self.activities.get(other) {
                Some(a) if a.partnership == e.partnership => {}
                Some(a) => problems.push(format!(
                    "kept by activity `{other}` of partnership `{}`",
                    a.partnership
                )),
                None => problems.push(format!("kept by unknown activity `{other}`")),
            }
        }
        if let Some(outcome) = &e.kept_by_outcome {
            match self.outcomes.get(outcome) {
                Some((_, p)) if *p == e.partnership => {}
                Some((_, p)) => {
                    problems.push(format!("kept by outcome `{outcome}` of partnership `{p}`"))
                }
                None => problems.push(format!("kept by unknown outcome `{outcome}`")),
            }
        }
        if let Some(note) = &e.note
            && let Err(problem) = check_text("note", note, MAX_TEXT_CHARS)
        {
            problems.push(problem);
        }
        let start = self.activities.get(&e.activity).and_then(|a| a.start_date);
        problems.extend(date_problem(
            "resolved_on",
            &e.resolved_on,
            start,
            logged_on,
        ));
        for problem in &problems {
            self.finding(
                index,
                "commitment_resolved_once",
                format!("commitment `{id}`: {problem}"),
            );
        }
        if let Some(c) = self.commitments.get_mut(id)
            && c.resolution.is_none()
        {
            c.resolution = Some((e.result.clone(), e.resolved_on.clone()));
        }
    }

    /// Evidence is numbered 1, 2, ... per activity, and names the activity's own partnership.
    fn evidence_added(&mut self, index: u64, e: &ActivityEvidenceAdded) {
        let id = e.activity.as_str();
        let seq = e.seq;
        let partnership = e.partnership.as_str();
        let problem = match self.activities.get_mut(id) {
            None => Some((
                "references",
                format!("evidence for unknown activity `{id}`"),
            )),
            Some(ReplayedActivity { partnership: p, .. }) if p != partnership => Some((
                "references",
                format!(
                    "evidence for activity `{id}` names partnership `{partnership}`, not `{p}`"
                ),
            )),
            Some(ReplayedActivity {
                evidence: hashes, ..
            }) => {
                hashes.push(e.sha256.clone());
                let expected = hashes.len() as i64;
                (seq != expected).then(|| {
                    (
                        "evidence_sequence",
                        format!("activity `{id}`: evidence {seq} after {}", expected - 1),
                    )
                })
            }
        };
        if let Some((rule, message)) = problem {
            self.finding(index, rule, message);
        }
    }

    fn version_uploaded(&mut self, index: u64, e: &MouVersionUploaded) {
        let Some(id) = self.open_mou(index, &e.mou) else {
            return;
        };
        self.pending_on_change(index, &id, "a new version was uploaded");
        let version = e.version;
        let Some(mou) = self.mous.get_mut(&id) else {
            return;
        };
        let expected = mou.version + 1;
        mou.version = version;
        mou.versions.insert(version, e.clone());
        // A new version reopens a declined or expired MOU.
        mou.workflow = None;
        if version != expected {
            self.finding(
                index,
                "version_sequence",
                format!("MOU `{id}`: version {version} after {}", expected - 1),
            );
        }
        if let Some(problem) = version_documents_problem(e) {
            self.finding(
                index,
                "version_documents",
                format!("MOU `{id}` version {version}: {problem}"),
            );
        }
    }

    /// Whether MOU `id` is executed now as far as the log tells: every required signer signed
    /// its current version, counting the signatures logged and not voided by a revocation.
    fn executed(&self, id: &str) -> bool {
        let Some(mou) = self.mous.get(id) else {
            return false;
        };
        let signed: Vec<SignedBy> = mou
            .signed_by
            .iter()
            .filter(|(seq, version, _)| {
                *version == mou.version && !self.voided.iter().any(|v| v.mou == id && v.seq == *seq)
            })
            .map(|(_, _, by)| by.clone())
            .collect();
        mou.version > 0 && !signed.is_empty() && is_executed(&mou.required_signers, &signed)
    }

    /// Rule `requests_pending_on_change`: the registry ends a round's pending requests (a
    /// `mou.requests_cancelled` entry) before it logs a new version or a withdrawal.
    fn pending_on_change(&mut self, index: u64, id: &str, change: &str) {
        let pending: Vec<String> = self
            .mous
            .get(id)
            .map(|m| {
                m.rounds
                    .iter()
                    .flat_map(|r| &r.requests)
                    .filter(|q| q.state == RequestState::Pending)
                    .map(|q| format!("`{}`", q.id))
                    .collect()
            })
            .unwrap_or_default();
        if !pending.is_empty() {
            self.finding(
                index,
                "requests_pending_on_change",
                format!(
                    "MOU `{id}`: {change} while requests {} were pending",
                    pending.join(", ")
                ),
            );
        }
    }

    /// Rules `signature_key_logged`, `key_bound` and `key_active` for an entry made with key
    /// `key_id` (named with `fingerprint`) by `signer` as `role` at `time`; `what` names the
    /// entry in the messages.
    fn key_problems(
        &self,
        what: &str,
        key_id: &str,
        fingerprint: &str,
        signer: &str,
        role: &str,
        time: i64,
    ) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        match self.keys.get(key_id) {
            None => problems.push((
                "signature_key_logged",
                format!("{what} by unregistered key `{key_id}`"),
            )),
            Some(k) => {
                if k.fingerprint != fingerprint {
                    problems.push((
                        "signature_key_logged",
                        format!("key `{key_id}` logged with another fingerprint"),
                    ));
                }
                // Rule key_bound, on the log's own record of the entry.
                if k.signer != signer || k.role != role {
                    problems.push((
                        "key_bound",
                        format!(
                            "{what} logged for {signer} as {role}, key `{key_id}` is registered \
                             to {} as {}",
                            k.signer, k.role
                        ),
                    ));
                }
                if !k.active || k.revoked || k.retired_from.is_some_and(|t| t <= time) {
                    problems.push((
                        "key_active",
                        format!("{what} by key `{key_id}` while it was not active"),
                    ));
                }
            }
        }
        problems
    }

    fn signature_added(&mut self, index: u64, e: &MouSignatureAdded, time: i64) {
        let Some(id) = self.open_mou(index, &e.mou) else {
            return;
        };
        let seq = e.seq;
        let version = e.version;
        let key_id = e.key.clone();
        let statement = e.statement_sha256.clone();
        let mut problems = self.key_problems(
            "signature",
            &key_id,
            &e.key_fingerprint,
            &e.signer,
            &e.role,
            time,
        );
        match &e.request {
            Some(request) => {
                let answer = Answer {
                    round: None,
                    request,
                    signer: &e.signer,
                    role: &e.role,
                    version,
                    time,
                };
                problems.extend(self.answer(&id, &answer, RequestState::Signed).0);
            }
            None => {
                // While a round is open only the signatories it asked sign.
                if let Some(round) = self
                    .mous
                    .get(&id)
                    .and_then(|m| m.rounds.iter().find(|r| r.is_open()))
                {
                    problems.push((
                        "request_order",
                        format!(
                            "MOU `{id}`: a signature without a request while round {} has \
                             pending requests",
                            round.round
                        ),
                    ));
                }
            }
        }
        if let Some(mou) = self.mous.get_mut(&id) {
            if seq != mou.last_seq + 1 {
                problems.push((
                    "chain_seq",
                    format!("MOU `{id}`: signature seq {seq} after {}", mou.last_seq),
                ));
            }
            if version != mou.version {
                problems.push((
                    "signature_on_current_version",
                    format!(
                        "MOU `{id}`: signature on version {version}, current is {}",
                        mou.version
                    ),
                ));
            }
            mou.last_seq = seq;
            mou.signatures.insert(seq, (statement, key_id.clone()));
            mou.signed_by.push((
                seq,
                version,
                SignedBy {
                    signer: e.signer.clone(),
                    city: e
                        .signer
                        .split_once('@')
                        .map(|(_, c)| c.to_string())
                        .unwrap_or_default(),
                    role: e.role.clone(),
                },
            ));
        }
        self.signed.push((key_id, id, seq, time));
        for (rule, message) in problems {
            self.finding(index, rule, message);
        }
    }

    fn mou_withdrawn(&mut self, index: u64, e: &MouWithdrawn) {
        if let Some(id) = self.open_mou(index, &e.mou) {
            self.pending_on_change(index, &id, "it was withdrawn");
            if let Some(m) = self.mous.get_mut(&id) {
                m.withdrawn = true;
            }
        }
    }

    /// Rule `request_valid` for a new round, then the round is recorded whatever its
    /// problems, so later entries are judged against what the log says was asked.
    fn signatures_requested(&mut self, index: u64, e: &MouSignaturesRequested, time: i64) {
        let Some(id) = self.open_mou(index, &e.mou) else {
            return;
        };
        let Some(mou) = self.mous.get(&id) else {
            return;
        };
        let mut problems: Vec<String> = Vec::new();
        let deadline = parse_instant(&e.deadline);
        match deadline {
            None => problems.push(format!(
                "deadline {:?} is not an RFC 3339 instant",
                e.deadline
            )),
            Some(d) if d <= time => problems.push(format!(
                "deadline {} is not after the entry's time",
                e.deadline
            )),
            Some(_) => {}
        }
        let expected_round = mou.rounds.last().map_or(0, |r| r.round).saturating_add(1);
        if e.round != expected_round {
            problems.push(format!(
                "round {} where the next round is {expected_round}",
                e.round
            ));
        }
        if e.version < 1 || e.version != mou.version {
            problems.push(format!(
                "round on version {}, the current version is {}",
                e.version, mou.version
            ));
        }
        if mou.versions.get(&e.version).map(|v| &v.sha256) != Some(&e.doc_sha256) {
            problems.push(format!(
                "doc_sha256 {} is not the hash logged for version {}",
                e.doc_sha256, e.version
            ));
        }
        let party = |city: &str| mou.cities.is_empty() || mou.cities.iter().any(|c| c == city);
        if !party(&e.city) {
            problems.push(format!(
                "requested by an office of {}, not a party city",
                e.city
            ));
        }
        if !(1..=MAX_REQUESTS_PER_ROUND).contains(&e.requests.len()) {
            problems.push(format!(
                "{} requests; a round asks 1 to {MAX_REQUESTS_PER_ROUND}",
                e.requests.len()
            ));
        }
        let mut ids = HashSet::new();
        let mut signers = HashSet::new();
        for r in &e.requests {
            if !ids.insert(r.request.as_str()) || self.request_ids.contains_key(&r.request) {
                problems.push(format!("request id `{}` is used twice", r.request));
            }
            if !signers.insert(r.signer.as_str()) {
                problems.push(format!("{} is asked twice", r.signer));
            }
            match r.signer.split_once('@') {
                Some((_, city)) if party(city) => {}
                Some((_, city)) => problems.push(format!(
                    "{} is asked, but {city} is not a party city",
                    r.signer
                )),
                None => problems.push(format!("signer {:?} names no city", r.signer)),
            }
        }
        let groups: BTreeSet<i64> = e.requests.iter().map(|r| r.group).collect();
        if !groups.iter().copied().eq(1..=groups.len() as i64) {
            problems.push(format!(
                "groups {groups:?} do not run 1, 2, ... without a gap"
            ));
        }
        for round in mou.rounds.iter().filter(|r| r.is_open()) {
            problems.push(format!(
                "round {} of the MOU still has pending requests",
                round.round
            ));
        }
        let round = ReplayedRound {
            round: e.round,
            version: e.version,
            doc_sha256: e.doc_sha256.clone(),
            deadline,
            requests: e
                .requests
                .iter()
                .map(|r| ReplayedRequest {
                    id: r.request.clone(),
                    signer: r.signer.clone(),
                    role: r.role.clone(),
                    group: r.group,
                    state: RequestState::Pending,
                    decline_reason: None,
                })
                .collect(),
        };
        for r in &e.requests {
            self.request_ids
                .entry(r.request.clone())
                .or_insert_with(|| (id.clone(), e.round));
        }
        if let Some(mou) = self.mous.get_mut(&id) {
            mou.rounds.push(round);
            // A new round reopens a declined or expired MOU.
            mou.workflow = None;
        }
        for message in problems {
            self.finding(index, "request_valid", format!("MOU `{id}`: {message}"));
        }
    }

    /// Judges an answer (a signature or a decline) against the request it names, and ends the
    /// request as `to` when it is pending. Returns the problems, and whether the request
    /// ended here. Rule `request_answered_once`; for signatures also `request_order`; an
    /// unknown request is `references`.
    fn answer(
        &mut self,
        mou_id: &str,
        a: &Answer<'_>,
        to: RequestState,
    ) -> (Vec<(&'static str, String)>, bool) {
        let mut problems = Vec::new();
        let Some(mou) = self.mous.get_mut(mou_id) else {
            return (problems, false);
        };
        let current = mou.rounds.last().map(|r| r.round);
        let found = mou.rounds.iter_mut().rev().find_map(|r| {
            let at = r.requests.iter().position(|q| q.id == a.request)?;
            Some((r, at))
        });
        let Some((round, at)) = found else {
            problems.push((
                "references",
                format!("MOU `{mou_id}`: answer to unknown request `{}`", a.request),
            ));
            return (problems, false);
        };
        let id = a.request;
        let mut wrong = |message: String| {
            problems.push((
                "request_answered_once",
                format!("MOU `{mou_id}`: request `{id}`: {message}"),
            ))
        };
        if let Some(n) = a.round
            && n != round.round
        {
            wrong(format!(
                "the entry names round {n}, the request is of round {}",
                round.round
            ));
        }
        if current != Some(round.round) {
            wrong(format!(
                "round {} is not the MOU's current round",
                round.round
            ));
        }
        if a.version != round.version {
            wrong(format!(
                "answered on version {}, the round asked for version {}",
                a.version, round.version
            ));
        }
        if let Some(deadline) = round.deadline
            && a.time >= deadline
        {
            wrong("answered at or after the round's deadline".to_string());
        }
        let Some(request) = round.requests.get(at) else {
            return (problems, false);
        };
        if request.signer != a.signer || request.role != a.role {
            wrong(format!(
                "asked {} as {}, answered by {} as {}",
                request.signer, request.role, a.signer, a.role
            ));
        }
        let state = request.state;
        if state != RequestState::Pending {
            wrong(format!("answered when already {state}"));
        }
        if to == RequestState::Signed {
            let group = request.group;
            let waiting: Vec<String> = round
                .requests
                .iter()
                .filter(|q| q.group < group && q.state != RequestState::Signed)
                .map(|q| format!("`{}`", q.id))
                .collect();
            if !waiting.is_empty() {
                problems.push((
                    "request_order",
                    format!(
                        "MOU `{mou_id}`: request `{id}` of group {group} signed before {} of \
                         an earlier group",
                        waiting.join(", ")
                    ),
                ));
            }
        }
        if state != RequestState::Pending {
            return (problems, false);
        }
        if let Some(request) = round.requests.get_mut(at) {
            request.state = to;
        }
        (problems, true)
    }

    /// Rule `decline_signed`: the decline's key, statement and signature.
    fn decline_problems(&self, id: &str, e: &MouRequestDeclined, time: i64) -> Vec<String> {
        let mut problems: Vec<String> = self
            .key_problems(
                "decline",
                &e.key,
                &e.key_fingerprint,
                &e.signer,
                &e.role,
                time,
            )
            .into_iter()
            .map(|(rule, message)| format!("{rule}: {message}"))
            .collect();
        let statement = match MouDeclineStatement::parse_strict(e.statement.as_bytes()) {
            Ok(s) => s,
            Err(err) => {
                problems.push(format!(
                    "the statement does not parse strictly: {}",
                    err.code()
                ));
                return problems;
            }
        };
        let logged = self
            .mous
            .get(id)
            .and_then(|m| m.versions.get(&e.version))
            .map(MouVersionUploaded::commitment);
        let city = e.signer.split_once('@').map(|(_, c)| c);
        let disagreements = [
            ("mou_id", statement.mou_id == e.mou),
            (
                "mou_version",
                i64::try_from(statement.mou_version).ok() == Some(e.version),
            ),
            ("request_id", statement.request_id == e.request),
            ("reason", statement.reason == e.reason),
            ("signer", statement.signer == e.signer),
            ("signer_city", Some(statement.signer_city.as_str()) == city),
            ("role", statement.role == e.role),
            ("signer_key", statement.signer_key == e.key_fingerprint),
            (
                "documents",
                logged.as_ref() == Some(&statement.committed_documents()),
            ),
        ];
        for (field, agrees) in disagreements {
            if !agrees {
                problems.push(format!("the statement's {field} differs from the entry's"));
            }
        }
        if let Some(origin) = &self.origin
            && statement.registry != *origin
        {
            problems.push(format!(
                "the statement names registry {}, not {origin}",
                statement.registry
            ));
        }
        let Some(k) = self.keys.get(&e.key) else {
            problems.push(format!("no public key logged for key `{}`", e.key));
            return problems;
        };
        let key = match PublicKey::parse_openssh_line(&k.public_key) {
            Ok(key) if key.fingerprint() == k.fingerprint => key,
            _ => {
                problems.push(format!(
                    "the public key logged for key `{}` does not parse or has another \
                     fingerprint",
                    e.key
                ));
                return problems;
            }
        };
        if let Err(code) = signature_valid(
            &e.signature,
            &mou_decline_namespace(&statement.registry),
            e.statement.as_bytes(),
            &key,
        ) {
            problems.push(format!("the signature does not verify: {code}"));
        }
        problems
    }

    fn request_declined(&mut self, index: u64, e: &MouRequestDeclined, time: i64) {
        let Some(id) = self.open_mou(index, &e.mou) else {
            return;
        };
        let declined = self.decline_problems(&id, e, time);
        let answer = Answer {
            round: Some(e.round),
            request: &e.request,
            signer: &e.signer,
            role: &e.role,
            version: e.version,
            time,
        };
        let executed = self.executed(&id);
        let (problems, ended) = self.answer(&id, &answer, RequestState::Declined);
        if ended && let Some(mou) = self.mous.get_mut(&id) {
            // The request `answer` ended: the last round that names it.
            if let Some(request) = mou
                .rounds
                .iter_mut()
                .rev()
                .find_map(|r| r.requests.iter_mut().find(|q| q.id == e.request))
            {
                request.decline_reason = Some(e.reason.clone());
            }
            if !executed {
                mou.workflow = Some(MouState::Declined);
            }
        }
        for (rule, message) in problems {
            self.finding(index, rule, message);
        }
        for message in declined {
            self.finding(
                index,
                "decline_signed",
                format!("MOU `{id}`: request `{}`: {message}", e.request),
            );
        }
    }

    /// Ends the listed requests of round `round` of MOU `id` as `to`. Returns the problems
    /// under `rule` (a request not of the round, listed twice, or an empty list), under
    /// `request_answered_once` (a request already ended) and `references` (an unknown round),
    /// and whether any request ended here. `check` adds the kind's own rules about the round.
    fn end_listed(
        &mut self,
        id: &str,
        round: i64,
        listed: &[String],
        to: RequestState,
        rule: &'static str,
        check: impl FnOnce(&ReplayedRound, &mut Vec<String>),
    ) -> (Vec<(&'static str, String)>, bool) {
        let mut problems: Vec<(&'static str, String)> = Vec::new();
        let Some(r) = self
            .mous
            .get_mut(id)
            .and_then(|m| m.rounds.iter_mut().rev().find(|r| r.round == round))
        else {
            problems.push(("references", format!("MOU `{id}`: unknown round {round}")));
            return (problems, false);
        };
        let mut own = Vec::new();
        if listed.is_empty() {
            own.push("the entry lists no request".to_string());
        }
        check(r, &mut own);
        let mut seen = HashSet::new();
        let mut ended = false;
        for request in listed {
            if !seen.insert(request.as_str()) {
                own.push(format!("request `{request}` is listed twice"));
                continue;
            }
            match r.requests.iter_mut().find(|q| q.id == *request) {
                None => own.push(format!(
                    "request `{request}` is not a request of round {round}"
                )),
                Some(q) if q.state != RequestState::Pending => problems.push((
                    "request_answered_once",
                    format!(
                        "MOU `{id}`: request `{request}` {to} when already {}",
                        q.state
                    ),
                )),
                Some(q) => {
                    q.state = to;
                    ended = true;
                }
            }
        }
        problems.extend(own.into_iter().map(|m| (rule, format!("MOU `{id}`: {m}"))));
        (problems, ended)
    }

    /// Rule `request_expiry`.
    fn requests_expired(&mut self, index: u64, e: &MouRequestsExpired, time: i64) {
        let Some(id) = self.open_mou(index, &e.mou) else {
            return;
        };
        let deadline = parse_instant(&e.deadline);
        let listed: HashSet<&str> = e.requests.iter().map(String::as_str).collect();
        let (problems, ended) = self.end_listed(
            &id,
            e.round,
            &e.requests,
            RequestState::Expired,
            "request_expiry",
            |round, own| {
                if deadline.is_none() || deadline != round.deadline {
                    own.push(format!(
                        "deadline {} is not round {}'s deadline",
                        e.deadline, round.round
                    ));
                }
                if let Some(d) = round.deadline
                    && time < d
                {
                    own.push(format!("round {} expired before its deadline", round.round));
                }
                for q in &round.requests {
                    if q.state == RequestState::Pending && !listed.contains(q.id.as_str()) {
                        own.push(format!(
                            "pending request `{}` of round {} is not listed",
                            q.id, round.round
                        ));
                    }
                }
            },
        );
        let executed = self.executed(&id);
        if ended
            && !executed
            && let Some(mou) = self.mous.get_mut(&id)
        {
            mou.workflow = Some(MouState::Expired);
        }
        for (rule, message) in problems {
            self.finding(index, rule, message);
        }
    }

    /// Rule `request_cancel`.
    fn requests_cancelled(&mut self, index: u64, e: &MouRequestsCancelled) {
        let Some(id) = self.open_mou(index, &e.mou) else {
            return;
        };
        let cities = self
            .mous
            .get(&id)
            .map(|m| m.cities.clone())
            .unwrap_or_default();
        let (problems, _) = self.end_listed(
            &id,
            e.round,
            &e.requests,
            RequestState::Cancelled,
            "request_cancel",
            |round, own| match e.cause.as_str() {
                "office" => {
                    match &e.city {
                        Some(city) if cities.is_empty() || cities.contains(city) => {}
                        Some(city) => own.push(format!(
                            "cancelled by an office of {city}, not a party city"
                        )),
                        None => own.push("cancelled by an office that names no city".to_string()),
                    }
                    if e.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                        own.push("cancelled by an office without a reason".to_string());
                    }
                }
                "new_version" | "new_round" | "withdrawn" => {}
                "declined" => {
                    if !round
                        .requests
                        .iter()
                        .any(|q| q.state == RequestState::Declined)
                    {
                        own.push(format!(
                            "cause `declined`, but no request of round {} was declined",
                            round.round
                        ));
                    }
                }
                other => own.push(format!("unknown cause {other:?}")),
            },
        );
        for (rule, message) in problems {
            self.finding(index, rule, message);
        }
    }

    fn key_registered(&mut self, index: u64, e: &KeyRegistered) {
        let id = e.key.clone();
        let fingerprint = e.fingerprint.clone();
        if self.keys.values().any(|k| k.fingerprint == fingerprint) {
            self.finding(
                index,
                "unique_ids",
                format!("key {fingerprint} registered twice"),
            );
        }
        let active = match Some(e.status.as_str()) {
            Some("active") => true,
            Some("pending") => false,
            other => {
                self.finding(
                    index,
                    "key_lifecycle",
                    format!("key registered with status {other:?}"),
                );
                false
            }
        };
        let key = ReplayedKey {
            fingerprint,
            public_key: e.public_key.clone(),
            signer: e.signer.clone(),
            city: e.city.clone(),
            role: e.role.clone(),
            active,
            retired_from: None,
            revoked: false,
            compromised_since: None,
        };
        if self.keys.insert(id.clone(), key).is_some() {
            self.finding(index, "unique_ids", format!("key `{id}` registered twice"));
        }
    }

    fn key_approved(&mut self, index: u64, e: &KeyApproved) {
        let id = e.key.clone();
        match self.keys.get_mut(&id) {
            Some(k) if !k.active && !k.revoked && k.retired_from.is_none() => k.active = true,
            Some(_) => self.finding(
                index,
                "key_lifecycle",
                format!("key `{id}` approved while not pending"),
            ),
            None => self.finding(
                index,
                "references",
                format!("approval of unknown key `{id}`"),
            ),
        }
    }

    fn key_retired(&mut self, index: u64, e: &KeyEnded, time: i64) {
        let id = e.key.clone();
        let from = e
            .effective_at
            .as_deref()
            .and_then(parse_instant)
            .unwrap_or(time);
        match self.keys.get_mut(&id) {
            Some(k) if !k.revoked && k.retired_from.is_none() => k.retired_from = Some(from),
            Some(_) => self.finding(
                index,
                "key_lifecycle",
                format!("key `{id}` retired after it was retired or revoked"),
            ),
            None => self.finding(
                index,
                "references",
                format!("retirement of unknown key `{id}`"),
            ),
        }
    }

    fn key_revoked(&mut self, index: u64, e: &KeyEnded) {
        let id = e.key.clone();
        let since = e
            .compromised_since
            .as_deref()
            .and_then(parse_instant)
            .unwrap_or(i64::MIN);
        match self.keys.get_mut(&id) {
            Some(k) if !k.revoked => {
                k.revoked = true;
                k.compromised_since = Some(since);
            }
            Some(_) => self.finding(index, "key_lifecycle", format!("key `{id}` revoked twice")),
            None => self.finding(
                index,
                "references",
                format!("revocation of unknown key `{id}`"),
            ),
        }
        // Signatures logged at or after the compromise are void from now on.
        for (key, mou, seq, at) in &self.signed {
            if *key == id && *at >= since {
                self.voided.push(VoidedSignature {
                    mou: mou.clone(),
                    seq: *seq,
                    key: id.clone(),
                });
            }
        }
    }
}

/// An answer to a signature request, as a signature or decline entry logs it.
struct Answer<'a> {
    /// The round the entry names (declines name it; signatures do not).
    round: Option<i64>,
    request: &'a str,
    signer: &'a str,
    role: &'a str,
    version: i64,
    time: i64,
}

/// What is wrong with the documents of a multilingual version entry, if anything: it names
/// every document's language, each a valid tag, none twice, at most
/// [`MAX_DOCUMENTS_PER_VERSION`] documents, every hash 64 lowercase hex digits. A version of
/// one document is left to the rules that always applied to it.
fn version_documents_problem(e: &MouVersionUploaded) -> Option<String> {
    e.additional_documents.as_ref()?;
    let documents = e.documents();
    if documents.len() > MAX_DOCUMENTS_PER_VERSION {
        return Some(format!(
            "{} documents, at most {MAX_DOCUMENTS_PER_VERSION}",
            documents.len()
        ));
    }
    if let Some((_, sha)) = documents.iter().find(|(_, sha)| !is_lower_hex_sha256(sha)) {
        return Some(format!("`{sha}` is not a SHA-256 in lowercase hex"));
    }
    let mut languages = Vec::with_capacity(documents.len());
    for (language, _) in &documents {
        match language {
            Some(tag) if !is_language_tag(tag) => {
                return Some(format!("`{tag}` is not a language tag"));
            }
            Some(tag) => languages.push(*tag),
            None if documents.len() > 1 => {
                return Some("a document of a multilingual version has no language".into());
            }
            None => {}
        }
    }
    repeated_language(languages).map(|tag| format!("language `{tag}` appears twice"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entries::kinds;
    use crate::jcs::canonical_json;
    use serde_json::{Value, json};

    /// The fields every entry of `kind` must carry, with placeholder values; a test names
    /// only the fields its rule reads.
    fn required_fields(kind: &str) -> Value {
        match kind {
            kinds::CITY_CREATED => json!({"name": "N", "country": "XX"}),
            kinds::PARTNERSHIP_REGISTERED => json!({"kind": "sister", "source": "registered"}),
            kinds::PARTNERSHIP_STATUS_CHANGED => {
                json!({"effective_date": "2020-01-01", "reason_category": "other"})
            }
            kinds::MOU_CREATED => json!({"title": "T", "required_signers": [], "city": "us-hou"}),
            kinds::MOU_VERSION_UPLOADED => {
                json!({"sha256": "00", "size": 1, "media_type": "text/plain"})
            }
            kinds::KEY_REGISTERED => json!({
                "public_key": "", "city": "us-hou", "signer": "s@us-hou", "role": "signatory",
                "proof_sha256": "00"
            }),
            kinds::MOU_SIGNATURE_ADDED => {
                json!({"statement_sha256": "00", "signer": "s@us-hou", "role": "signatory"})
            }
            kinds::KEY_APPROVED | kinds::KEY_REVOKED => json!({"fingerprint": "SHA256:x"}),
            kinds::MOU_SIGNATURES_REQUESTED => json!({
                "doc_sha256": "00", "city": "us-hou", "deadline": "1970-01-10T00:00:00.000000Z"
            }),
            kinds::MOU_REQUEST_DECLINED => json!({
                "signer": "s@us-hou", "role": "signatory", "reason": "R", "statement": "",
                "signature": ""
            }),
            kinds::MOU_REQUESTS_EXPIRED => json!({"deadline": "1970-01-10T00:00:00.000000Z"}),
            kinds::MOU_REQUESTS_CANCELLED => json!({"cause": "new_version"}),
            _ => json!({}),
        }
    }

    /// A complete canonical entry of `kind` with `fields` over the placeholders.
    fn entry(kind: &'static str, fields: Value) -> Vec<u8> {
        let mut object = required_fields(kind).as_object().cloned().unwrap();
        object.extend(fields.as_object().cloned().unwrap());
        object.insert("type".into(), json!(kind));
        object
            .entry("time")
            .or_insert(json!("1970-01-01T00:00:00.000000Z"));
        let bytes = canonical_json(&Value::Object(object)).unwrap();
        Entry::parse_canonical(&bytes).expect("a complete entry");
        bytes
    }

    fn base() -> Vec<Vec<u8>> {
        vec![
            entry(kinds::CITY_CREATED, json!({"city": "cn-sha"})),
            entry(kinds::CITY_CREATED, json!({"city": "us-hou"})),
            entry(
                kinds::PARTNERSHIP_REGISTERED,
                json!({"partnership": "p", "cities": ["cn-sha", "us-hou"], "status": "proposed"}),
            ),
        ]
    }

    fn replay(entries: &[Vec<u8>]) -> Replay {
        let mut r = Replay::new();
        for (i, e) in entries.iter().enumerate() {
            r.apply(i as u64, e);
        }
        r
    }

    /// A partnership of Shanghai and Houston with an office and a token each, a third city
    /// (Paris) with its own office and token, an MOU of the partnership, and an activity
    /// recorded by Houston's office on 2021-03-01 with one evidence document.
    fn engagement() -> Vec<Vec<u8>> {
        let mut log = base();
        log.push(entry(kinds::CITY_CREATED, json!({"city": "fr-par"})));
        for city in ["cn-sha", "us-hou", "fr-par"] {
            log.push(entry(
                kinds::OFFICE_CREATED,
                json!({"office": format!("o-{city}"), "city": city, "name": "Office"}),
            ));
            log.push(entry(
                kinds::TOKEN_ISSUED,
                json!({"token": format!("t-{city}"), "role": "office", "office": format!("o-{city}")}),
            ));
        }
        log.push(entry(
            kinds::MOU_CREATED,
            json!({"mou": "m", "partnership": "p"}),
        ));
        log.push(activity("a", "us-hou", "t-us-hou"));
        log.push(entry(
            kinds::ACTIVITY_EVIDENCE_ADDED,
            json!({"activity": "a", "partnership": "p", "seq": 1, "sha256": "ab".repeat(32),
                   "size": 2, "media_type": "text/plain"}),
        ));
        log
    }

    fn activity(id: &str, city: &str, by: &str) -> Vec<u8> {
        entry(
            kinds::ACTIVITY_RECORDED,
            json!({"activity": id, "partnership": "p", "kind": "exchange", "mode": "virtual",
                   "start_date": "2021-03-01", "city": city, "by": by}),
        )
    }

    fn outcome(id: &str, fields: Value) -> Vec<u8> {
        let mut all = json!({"outcome": id, "activity": "a", "partnership": "p",
                             "achieved_on": "2021-03-02", "city": "us-hou", "by": "t-us-hou",
                             "time": "2021-06-01T00:00:00.000000Z"});
        all.as_object_mut()
            .unwrap()
            .extend(fields.as_object().cloned().unwrap());
        entry(kinds::ACTIVITY_OUTCOME_RECORDED, all)
    }

    fn commitment(id: &str, due: &str) -> Vec<u8> {
        entry(
            kinds::ACTIVITY_COMMITMENT_MADE,
            json!({"commitment": id, "activity": "a", "partnership": "p",
                   "text": "Exchange of 20 students", "due_date": due, "city": "cn-sha",
                   "by": "t-cn-sha"}),
        )
    }

    fn resolution(id: &str, city: &str, fields: Value) -> Vec<u8> {
        let mut all = json!({"commitment": id, "activity": "a", "partnership": "p",
                             "result": "kept", "resolved_on": "2021-05-01", "city": city,
                             "by": format!("t-{city}"), "time": "2021-06-01T00:00:00.000000Z"});
        all.as_object_mut()
            .unwrap()
            .extend(fields.as_object().cloned().unwrap());
        entry(kinds::ACTIVITY_COMMITMENT_RESOLVED, all)
    }

    fn rules_broken(log: &[Vec<u8>]) -> Vec<&'static str> {
        replay(log).findings.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn outcomes_and_commitments_replay_clean_when_well_formed() {
        let mut log = engagement();
        log.push(activity("b", "cn-sha", "t-cn-sha"));
        log.push(outcome(
            "o1",
            json!({"indicator": "agreement_signed", "mou": "m", "evidence": [1]}),
        ));
        log.push(outcome(
            "o2",
            json!({"indicator": "business_deals", "count": 2,
                                      "value": "1250000.50", "currency": "EUR"}),
        ));
        log.push(outcome(
            "o3",
            json!({"indicator": "follow_up_activity", "follow_up": "b"}),
        ));
        log.push(commitment("c1", "2021-06-30"));
        log.push(commitment("c2", "2021-06-30"));
        log.push(resolution("c1", "us-hou", json!({"kept_by_outcome": "o2"})));
        log.push(resolution(
            "c2",
            "cn-sha",
            json!({"result": "not_kept", "note": "Visas"}),
        ));
        let r = replay(&log);
        assert_eq!(r.findings, vec![]);
        assert_eq!(
            r.commitments()["c1"].resolution,
            Some(("kept".into(), "2021-05-01".into()))
        );
    }

    #[test]
    fn a_commitment_marked_kept_by_a_third_citys_office_is_a_finding() {
        let mut log = engagement();
        log.push(commitment("c1", "2021-06-30"));
        log.push(resolution("c1", "fr-par", json!({})));
        assert_eq!(rules_broken(&log), vec!["party_office"]);
        // The entry claims a party city, but the token is Paris's office's.
        let last = log.len() - 1;
        log[last] = resolution("c1", "us-hou", json!({"by": "t-fr-par"}));
        let r = replay(&log);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].rule, "party_office");
        assert!(
            r.findings[0]
                .message
                .contains("belongs to an office of `fr-par`")
        );
        // An activity recorded by the third city is refused by the same rule.
        log.push(activity("x", "fr-par", "t-fr-par"));
        assert_eq!(rules_broken(&log), vec!["party_office", "party_office"]);
    }

    #[test]
    fn outcomes_link_only_within_their_partnership() {
        let mut log = engagement();
        log.push(entry(kinds::CITY_CREATED, json!({"city": "de-ber"})));
        log.push(entry(
            kinds::PARTNERSHIP_REGISTERED,
            json!({"partnership": "q", "cities": ["cn-sha", "de-ber"], "status": "active"}),
        ));
        log.push(entry(
            kinds::MOU_CREATED,
            json!({"mou": "mq", "partnership": "q"}),
        ));
        for (fields, rule) in [
            (
                json!({"indicator": "agreement_signed", "mou": "mq"}),
                "outcome_valid",
            ),
            (
                json!({"indicator": "agreement_signed", "mou": "nope"}),
                "outcome_valid",
            ),
            (
                json!({"indicator": "follow_up_activity", "follow_up": "a"}),
                "outcome_valid",
            ),
            (
                json!({"indicator": "people_reached", "count": 5, "evidence": [2]}),
                "outcome_valid",
            ),
            (
                json!({"indicator": "people_reached", "count": 0}),
                "outcome_valid",
            ),
            (
                json!({"indicator": "business_deals", "count": 1, "value": "10", "currency": "EUX"}),
                "outcome_valid",
            ),
            (
                json!({"indicator": "people_reached", "count": 5, "achieved_on": "2021-02-28"}),
                "outcome_valid",
            ),
            (
                json!({"indicator": "people_reached", "count": 5, "achieved_on": "2021-06-02"}),
                "outcome_valid",
            ),
            (
                json!({"indicator": "people_reached", "count": 5, "activity": "zz"}),
                "references",
            ),
        ] {
            let mut forged = log.clone();
            forged.push(outcome("o", fields.clone()));
            assert_eq!(rules_broken(&forged), vec![rule], "{fields}");
        }
    }

    #[test]
    fn an_activity_names_organisations_of_known_sectors_once() {
        let with = |organisations: Value| {
            let mut log = engagement();
            log.push(entry(
                kinds::ACTIVITY_RECORDED,
                json!({"activity": "o", "partnership": "p", "kind": "trade_mission",
                       "mode": "in_person", "start_date": "2021-03-01", "city": "us-hou",
                       "by": "t-us-hou", "organisations": organisations}),
            ));
            rules_broken(&log)
        };
        assert_eq!(
            with(json!([{"name": "Rice University", "sector": "university"}])),
            Vec::<&str>::new()
        );
        assert_eq!(
            with(json!([{"name": "Rice University", "sector": "college"}])),
            vec!["organisations_valid"]
        );
        assert_eq!(
            with(
                json!([{"name": "Shell", "sector": "business"}, {"name": "SHELL", "sector": "business"}])
            ),
            vec!["organisations_valid"]
        );
    }

    #[test]
    fn groups_are_saved_in_sequence_with_logged_cities() {
        let group = |seq: i64, cities: Value| {
            entry(
                kinds::CITY_GROUP_SAVED,
                json!({"group": "g", "seq": seq, "name": "Gulf ports", "cities": cities}),
            )
        };
        let mut log = base();
        log.push(group(1, json!(["cn-sha", "us-hou"])));
        log.push(group(2, json!(["cn-sha", "us-hou"])));
        assert_eq!(rules_broken(&log), Vec::<&str>::new());
        log.push(group(4, json!(["cn-sha", "us-hou"])));
        assert_eq!(rules_broken(&log), vec!["group_valid"]);
        let mut log = base();
        log.push(group(1, json!(["us-hou", "cn-sha"])));
        log.push(group(2, json!(["us-hou"])));
        log.push(group(3, json!(["cn-sha", "zz-nowhere"])));
        assert_eq!(
            rules_broken(&log),
            vec!["group_valid", "group_valid", "references"]
        );
    }

    #[test]
    fn only_admins_and_keeping_associations_save_groups() {
        let token =
            |id: &str, role: &str| entry(kinds::TOKEN_ISSUED, json!({"token": id, "role": role}));
        let save = |seq: i64, by: &str, keeper: Option<&str>| {
            let mut fields = json!({"group": "g", "seq": seq, "name": "Gulf ports",
                "cities": ["cn-sha", "us-hou"], "by": by});
            if let Some(keeper) = keeper {
                fields["keeper"] = json!(keeper);
            }
            entry(kinds::CITY_GROUP_SAVED, fields)
        };
        let mut log = engagement();
        log.push(token("t-admin", "admin"));
        log.push(token("t-assoc", "association"));
        log.push(token("t-other", "association"));
        log.push(token("t-audit", "auditor"));
        // An association creates and redefines its group; an admin redefines it and hands it
        // to another association token; the new keeper redefines it.
        log.push(save(1, "t-assoc", Some("t-assoc")));
        log.push(save(2, "t-assoc", Some("t-assoc")));
        log.push(save(3, "t-admin", Some("t-other")));
        log.push(save(4, "t-other", Some("t-other")));
        assert_eq!(rules_broken(&log), Vec::<&str>::new());
        for bad in [
            // The old keeper no longer keeps it.
            save(5, "t-assoc", Some("t-assoc")),
            // An association cannot hand the group to someone else.
            save(5, "t-other", Some("t-assoc")),
            // Nor save it without naming itself.
            save(5, "t-other", None),
            // An auditor's, an office's or an unknown token saves nothing.
            save(5, "t-audit", None),
            save(5, "t-us-hou", None),
            save(5, "t-nobody", None),
            // The keeper must be an association token.
            save(5, "t-admin", Some("t-audit")),
        ] {
            let mut log = log.clone();
            log.push(bad);
            assert_eq!(rules_broken(&log), vec!["group_keeper"]);
        }
    }

    #[test]
    fn a_commitment_is_resolved_once_and_only_as_it_may_be() {
        let mut log = engagement();
        log.push(commitment("c1", "2021-06-30"));
        for (fields, rule) in [
            (json!({"result": "done"}), "commitment_resolved_once"),
            (
                json!({"result": "not_kept", "kept_by_activity": "a"}),
                "commitment_resolved_once",
            ),
            (
                json!({"kept_by_outcome": "nope"}),
                "commitment_resolved_once",
            ),
            (
                json!({"resolved_on": "2021-07-01"}),
                "commitment_resolved_once",
            ),
            (json!({"commitment": "c9"}), "references"),
        ] {
            let mut forged = log.clone();
            forged.push(resolution("c1", "us-hou", fields.clone()));
            assert_eq!(rules_broken(&forged), vec![rule], "{fields}");
        }
        log.push(resolution("c1", "us-hou", json!({})));
        assert_eq!(rules_broken(&log), Vec::<&str>::new());
        log.push(resolution("c1", "cn-sha", json!({"result": "not_kept"})));
        assert_eq!(rules_broken(&log), vec!["commitment_resolved_once"]);
        let mut early = engagement();
        early.push(commitment("c1", "2021-02-01"));
        assert_eq!(rules_broken(&early), vec!["commitment_valid"]);
    }

    #[test]
    fn a_valid_history_has_no_findings() {
        let mut log = base();
        log.push(entry(
            kinds::PARTNERSHIP_STATUS_CHANGED,
            json!({"partnership": "p", "seq": 2, "from": "proposed", "to": "active"}),
        ));
        log.push(entry(
            kinds::PARTNERSHIP_STATUS_CHANGED,
            json!({"partnership": "p", "seq": 3, "from": "active", "to": "curtailed"}),
        ));
        let r = replay(&log);
        assert_eq!(r.findings, vec![]);
        assert_eq!(r.partnerships()["p"].status, Status::Curtailed);
    }

    fn key_and_mou(status: &str) -> Vec<Vec<u8>> {
        let mut log = base();
        log.push(entry(
            kinds::MOU_CREATED,
            json!({"mou": "m", "partnership": "p"}),
        ));
        log.push(entry(
            kinds::MOU_VERSION_UPLOADED,
            json!({"mou": "m", "version": 1}),
        ));
        log.push(entry(
            kinds::KEY_REGISTERED,
            json!({"key": "k", "fingerprint": "SHA256:x", "status": status}),
        ));
        log
    }

    fn signature(seq: i64) -> Vec<u8> {
        entry(
            kinds::MOU_SIGNATURE_ADDED,
            json!({"mou": "m", "seq": seq, "version": 1, "key": "k", "key_fingerprint": "SHA256:x"}),
        )
    }

    #[test]
    fn a_multilingual_version_names_each_language_once() {
        let with_documents = |language: Value, others: Value| {
            let mut log = key_and_mou("active");
            let mut fields = json!({"mou": "m", "version": 1, "sha256": "ab".repeat(32),
                                    "language": language, "additional_documents": others});
            // No language at all: the key is left out, as writers leave out absent fields.
            if fields["language"].is_null() {
                fields.as_object_mut().map(|f| f.remove("language"));
            }
            log[4] = entry(kinds::MOU_VERSION_UPLOADED, fields);
            replay(&log)
                .findings
                .iter()
                .map(|f| f.rule)
                .collect::<Vec<_>>()
        };
        let other = |language: &str, sha: String| json!({"sha256": sha, "size": 2, "media_type": "text/plain", "language": language});
        assert_eq!(
            with_documents(json!("fr"), json!([other("zh-Hans", "cd".repeat(32))])),
            Vec::<&str>::new()
        );
        for (language, others) in [
            (json!("fr"), json!([other("FR", "cd".repeat(32))])),
            (json!("fr"), json!([other("zh_Hans", "cd".repeat(32))])),
            (json!("fr"), json!([other("zh", "CD".repeat(32))])),
            (Value::Null, json!([other("zh", "cd".repeat(32))])),
            (
                json!("fr"),
                Value::Array(vec![other("zh", "cd".repeat(32)); 8]),
            ),
        ] {
            assert_eq!(
                with_documents(language.clone(), others.clone()),
                vec!["version_documents"],
                "{language} {others}"
            );
        }
    }

    #[test]
    fn signatures_need_an_active_key_and_a_contiguous_chain() {
        let mut log = key_and_mou("active");
        log.push(signature(1));
        assert_eq!(replay(&log).findings, vec![]);
        let mut pending = key_and_mou("pending");
        pending.push(signature(1));
        assert!(replay(&pending).findings[0].message.contains("not active"));
        assert_eq!(replay(&pending).findings[0].rule, "key_active");
        pending.insert(6, entry(kinds::KEY_APPROVED, json!({"key": "k"})));
        assert_eq!(replay(&pending).findings, vec![]);
        let mut gap = key_and_mou("active");
        gap.push(signature(2));
        assert!(replay(&gap).findings[0].message.contains("seq 2 after 0"));
        assert_eq!(replay(&gap).findings[0].rule, "chain_seq");
        let mut revoked = key_and_mou("active");
        revoked.push(signature(1));
        revoked.push(entry(kinds::KEY_REVOKED, json!({"key": "k"})));
        let r = replay(&revoked);
        assert_eq!(r.findings, vec![]);
        assert_eq!(
            r.voided.len(),
            1,
            "unknown compromise time voids every signature"
        );
        revoked.push(signature(2));
        assert!(replay(&revoked).findings[0].message.contains("not active"));
    }

    #[test]
    fn broken_rules_are_found() {
        let cases = [
            json!({"partnership": "p", "seq": 2, "from": "proposed", "to": "curtailed"}),
            json!({"partnership": "p", "seq": 2, "from": "active", "to": "curtailed"}),
            json!({"partnership": "p", "seq": 5, "from": "proposed", "to": "active"}),
            json!({"partnership": "q", "seq": 2, "from": "proposed", "to": "active"}),
        ];
        let rules = [
            "status_transition",
            "status_transition",
            "status_transition",
            "references",
        ];
        for (fields, rule) in cases.into_iter().zip(rules) {
            let mut log = base();
            log.push(entry(kinds::PARTNERSHIP_STATUS_CHANGED, fields.clone()));
            let findings = replay(&log).findings;
            assert_eq!(findings.len(), 1, "{fields}");
            assert_eq!(findings[0].rule, rule, "{fields}");
        }
        let mut log = base();
        log.push(
            br#"{"type":"city.created", "city":"x","country":"XX","name":"N","time":"1970-01-01T00:00:00.000000Z"}"#
                .to_vec(),
        );
        assert!(replay(&log).findings[0].message.contains("canonical"));
        assert_eq!(replay(&log).findings[0].rule, "entry_canonical");
        let mut log = base();
        log.push(entry(kinds::TOKEN_REVOKED, json!({"token": "nope"})));
        assert_eq!(replay(&log).findings.len(), 1);
    }

    #[test]
    fn unknown_kinds_and_fields_are_findings_at_their_index() {
        let mut log = base();
        log.push(br#"{"time":"1970-01-01T00:00:00.000000Z","type":"city.renamed"}"#.to_vec());
        log.push(
            canonical_json(
                &json!({"type": "token.revoked", "time": "1970-01-01T00:00:00.000000Z",
                                   "token": "t", "note": "x"}),
            )
            .unwrap(),
        );
        let r = replay(&log);
        assert_eq!(r.findings.len(), 2, "{:?}", r.findings);
        assert_eq!(r.findings[0].index, 3);
        assert!(
            r.findings[0]
                .message
                .contains("unknown entry kind \"city.renamed\"")
        );
        assert_eq!(r.findings[1].index, 4);
        assert!(r.findings[1].message.contains("unknown field `note`"));
    }

    #[test]
    fn a_signature_logged_for_another_holder_breaks_key_bound() {
        let mut log = key_and_mou("active");
        log.push(entry(
            kinds::MOU_SIGNATURE_ADDED,
            json!({"mou": "m", "seq": 1, "version": 1, "key": "k", "key_fingerprint": "SHA256:x",
                   "signer": "deputy@us-hou"}),
        ));
        let r = replay(&log);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].rule, "key_bound", "{:?}", r.findings);
    }

    // ----- signature requests -----

    use crate::keys::PublicKey;
    use crate::sshsig;
    use crate::statement::{MouDeclineStatement, mou_decline_namespace, sha256_hex};
    use ed25519_dalek::SigningKey;

    const MOU: &str = "0b7f3c1e-5a4d-4c2b-9e8f-1a2b3c4d5e6f";
    const REGISTRY: &str = "registry.example.org";
    const R1: &str = "00000000-0000-4000-8000-000000000001";
    const R2: &str = "00000000-0000-4000-8000-000000000002";
    const DEADLINE: &str = "1970-01-10T00:00:00.000000Z";

    /// `1970-01-0<day>` at midnight, as entries write it.
    fn day(day: u8) -> String {
        format!("1970-01-{day:02}T00:00:00.000000Z")
    }

    fn doc() -> String {
        sha256_hex(b"the MOU")
    }

    /// Signatory keys: `k1` is mayor@us-hou's, `k2` mayor@cn-sha's.
    fn signing_key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn fingerprint(n: u8) -> String {
        PublicKey::from_signing_key(&signing_key(n)).fingerprint()
    }

    fn signer(n: u8) -> &'static str {
        if n == 1 {
            "mayor@us-hou"
        } else {
            "mayor@cn-sha"
        }
    }

    /// The base, an MOU with version 1 that a signatory of each city must sign, and the two
    /// signatories' active keys.
    fn workflow_base() -> Vec<Vec<u8>> {
        workflow_base_requiring(&["cn-sha", "us-hou"])
    }

    /// [`workflow_base`] with a signatory of each of `cities` required.
    fn workflow_base_requiring(cities: &[&str]) -> Vec<Vec<u8>> {
        let required: Vec<Value> = cities
            .iter()
            .map(|c| json!({"city": c, "count": 1, "role": "signatory"}))
            .collect();
        let mut log = base();
        log.push(entry(
            kinds::MOU_CREATED,
            json!({"mou": MOU, "partnership": "p", "required_signers": required}),
        ));
        log.push(entry(
            kinds::MOU_VERSION_UPLOADED,
            json!({"mou": MOU, "version": 1, "sha256": doc()}),
        ));
        for n in [1, 2] {
            let public = PublicKey::from_signing_key(&signing_key(n));
            log.push(entry(
                kinds::KEY_REGISTERED,
                json!({"key": format!("k{n}"), "fingerprint": public.fingerprint(),
                       "public_key": public.to_openssh_line(), "signer": signer(n),
                       "city": signer(n).split_once('@').unwrap().1, "status": "active"}),
            ));
        }
        log
    }

    /// Round 1: mayor@us-hou (R1) in `group1`, mayor@cn-sha (R2) in `group2`.
    fn round(group1: i64, group2: i64) -> Vec<u8> {
        entry(
            kinds::MOU_SIGNATURES_REQUESTED,
            json!({"mou": MOU, "round": 1, "version": 1, "doc_sha256": doc(), "time": day(2),
            "requests": [
                {"request": R1, "signer": signer(1), "role": "signatory", "group": group1},
                {"request": R2, "signer": signer(2), "role": "signatory", "group": group2},
            ]}),
        )
    }

    /// Signatory `n`'s signature number `seq`, answering `request`.
    fn requested_signature(n: u8, seq: i64, request: Option<&str>, time: &str) -> Vec<u8> {
        let mut fields = json!({"mou": MOU, "seq": seq, "version": 1, "key": format!("k{n}"),
                                "key_fingerprint": fingerprint(n), "signer": signer(n),
                                "time": time});
        if let Some(request) = request {
            fields["request"] = json!(request);
        }
        entry(kinds::MOU_SIGNATURE_ADDED, fields)
    }

    fn decline_statement(reason: &str) -> MouDeclineStatement {
        MouDeclineStatement {
            action: "decline".into(),
            declined_at: "1970-01-03T00:00:00Z".into(),
            doc_sha256: Some(doc()),
            documents: None,
            mou_id: MOU.into(),
            mou_version: 1,
            reason: reason.into(),
            registry: REGISTRY.into(),
            request_id: R2.into(),
            role: "signatory".into(),
            signer: signer(2).into(),
            signer_city: "cn-sha".into(),
            signer_key: fingerprint(2),
            r#type: MouDeclineStatement::type_for(REGISTRY),
        }
    }

    /// mayor@cn-sha declines R2 with `reason` logged in the entry; the statement says
    /// `signed_reason` and is signed by key `by`.
    fn decline(reason: &str, signed_reason: &str, by: u8) -> Vec<u8> {
        let bytes = decline_statement(signed_reason).to_bytes().unwrap();
        let signature =
            sshsig::sign(&signing_key(by), &mou_decline_namespace(REGISTRY), &bytes).unwrap();
        entry(
            kinds::MOU_REQUEST_DECLINED,
            json!({"mou": MOU, "round": 1, "request": R2, "version": 1, "signer": signer(2),
                   "key": "k2", "key_fingerprint": fingerprint(2), "reason": reason,
                   "statement": String::from_utf8(bytes).unwrap(), "signature": signature,
                   "time": day(3)}),
        )
    }

    fn rules(r: &Replay) -> Vec<&'static str> {
        r.findings.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn a_round_signed_group_by_group_has_no_findings() {
        let mut log = workflow_base();
        log.push(round(1, 2));
        log.push(requested_signature(1, 1, Some(R1), &day(3)));
        log.push(requested_signature(2, 2, Some(R2), &day(4)));
        let r = replay(&log);
        assert_eq!(r.findings, vec![]);
        let requests = r.requests();
        assert_eq!(requests[R1], (MOU, 1, "signed"));
        assert_eq!(requests[R2], (MOU, 1, "signed"));
        let mou = &r.mous()[MOU];
        assert_eq!(mou.workflow_state(), None);
        assert!(!mou.has_pending_requests());
        // With the round over, unrequested signatures are the old behaviour again.
        log.push(requested_signature(1, 3, None, &day(5)));
        assert_eq!(replay(&log).findings, vec![]);
    }

    #[test]
    fn a_later_group_signing_first_breaks_request_order() {
        let mut log = workflow_base();
        log.push(round(1, 2));
        log.push(requested_signature(2, 1, Some(R2), &day(3)));
        let r = replay(&log);
        assert_eq!(rules(&r), ["request_order"], "{:?}", r.findings);
        assert!(r.findings[0].message.contains(R1));
        // One group: any order.
        let mut log = workflow_base();
        log.push(round(1, 1));
        log.push(requested_signature(2, 1, Some(R2), &day(3)));
        assert_eq!(replay(&log).findings, vec![]);
        // An unrequested signature while the round is open.
        let mut log = workflow_base();
        log.push(round(1, 1));
        log.push(requested_signature(1, 1, None, &day(3)));
        assert_eq!(rules(&replay(&log)), ["request_order"]);
    }

    #[test]
    fn a_signed_decline_declines_the_mou() {
        let mut log = workflow_base();
        log.push(round(1, 2));
        log.push(decline(
            "Not yet approved by council",
            "Not yet approved by council",
            2,
        ));
        log.push(entry(
            kinds::MOU_REQUESTS_CANCELLED,
            json!({"mou": MOU, "round": 1, "requests": [R1], "cause": "declined",
                   "time": day(3)}),
        ));
        let mut r = Replay::with_origin(REGISTRY);
        for (i, e) in log.iter().enumerate() {
            r.apply(i as u64, e);
        }
        assert_eq!(r.findings, vec![]);
        assert_eq!(r.mous()[MOU].workflow_state(), Some(MouState::Declined));
        assert_eq!(r.requests()[R1].2, "cancelled");
        assert_eq!(r.requests()[R2].2, "declined");
        let reasons: Vec<Option<&str>> = r.mous()[MOU].rounds[0]
            .requests
            .iter()
            .map(|q| q.decline_reason.as_deref())
            .collect();
        assert!(reasons.contains(&Some("Not yet approved by council")));
        assert!(
            reasons.contains(&None),
            "only the declined request has a reason"
        );
        // Another origin: the statement names another registry.
        let mut other = Replay::with_origin("other.example.org");
        for (i, e) in log.iter().enumerate() {
            other.apply(i as u64, e);
        }
        assert_eq!(rules(&other), ["decline_signed"]);
        // A new version reopens it.
        log.push(entry(
            kinds::MOU_VERSION_UPLOADED,
            json!({"mou": MOU, "version": 2, "time": day(4)}),
        ));
        let r = replay(&log);
        assert_eq!(r.findings, vec![]);
        assert_eq!(r.mous()[MOU].workflow_state(), None);
    }

    #[test]
    fn a_decline_by_another_key_or_with_another_reason_breaks_decline_signed() {
        for (entry_reason, signed_reason, by) in [
            ("Not yet approved", "Not yet approved", 1),
            ("Not yet approved", "Approved, but later", 2),
        ] {
            let mut log = workflow_base();
            log.push(round(1, 1));
            log.push(decline(entry_reason, signed_reason, by));
            let r = replay(&log);
            assert_eq!(rules(&r), ["decline_signed"], "{:?}", r.findings);
        }
        let mut log = workflow_base();
        log.push(round(1, 1));
        let mut forged = decline("No", "No", 2);
        let text = String::from_utf8(forged.clone()).unwrap();
        // Not a statement at all.
        let statement_start = text.find("\"statement\":\"").unwrap() + 13;
        let statement_end = statement_start + text[statement_start..].find("\",\"time\"").unwrap();
        let mut edited = text.clone();
        edited.replace_range(statement_start..statement_end, "{}");
        forged = edited.into_bytes();
        log.push(forged);
        let r = replay(&log);
        assert_eq!(rules(&r), ["decline_signed"], "{:?}", r.findings);
        assert!(r.findings[0].message.contains("does not parse strictly"));
    }

    #[test]
    fn an_expiry_before_the_deadline_breaks_request_expiry() {
        let expiry = |time: &str, requests: Value| {
            entry(
                kinds::MOU_REQUESTS_EXPIRED,
                json!({"mou": MOU, "round": 1, "requests": requests, "deadline": DEADLINE,
                       "time": time}),
            )
        };
        let mut log = workflow_base();
        log.push(round(1, 1));
        log.push(expiry(&day(9), json!([R1, R2])));
        assert_eq!(rules(&replay(&log)), ["request_expiry"]);
        let mut log = workflow_base();
        log.push(round(1, 1));
        log.push(requested_signature(1, 1, Some(R1), &day(3)));
        log.push(expiry(DEADLINE, json!([R2])));
        let r = replay(&log);
        assert_eq!(r.findings, vec![]);
        assert_eq!(r.mous()[MOU].workflow_state(), Some(MouState::Expired));
        // A pending request left out, or none listed.
        for listed in [json!([R1]), json!([])] {
            let mut log = workflow_base();
            log.push(round(1, 1));
            log.push(expiry(DEADLINE, listed));
            assert!(rules(&replay(&log)).contains(&"request_expiry"));
        }
        // A signature after the deadline.
        let mut log = workflow_base();
        log.push(round(1, 1));
        log.push(requested_signature(1, 1, Some(R1), DEADLINE));
        assert_eq!(rules(&replay(&log)), ["request_answered_once"]);
    }

    #[test]
    fn a_second_answer_breaks_request_answered_once() {
        let mut log = workflow_base();
        log.push(round(1, 1));
        log.push(requested_signature(1, 1, Some(R1), &day(3)));
        log.push(requested_signature(1, 2, Some(R1), &day(4)));
        let r = replay(&log);
        assert_eq!(rules(&r), ["request_answered_once"], "{:?}", r.findings);
        assert!(r.findings[0].message.contains("already signed"));
        // A cancellation of a signed request.
        let mut log = workflow_base();
        log.push(round(1, 1));
        log.push(requested_signature(1, 1, Some(R1), &day(3)));
        log.push(entry(
            kinds::MOU_REQUESTS_CANCELLED,
            json!({"mou": MOU, "round": 1, "requests": [R1, R2], "cause": "office",
                   "city": "cn-sha", "reason": "Postponed", "time": day(4)}),
        ));
        let r = replay(&log);
        assert_eq!(rules(&r), ["request_answered_once"], "{:?}", r.findings);
        assert_eq!(r.requests()[R1].2, "signed");
        assert_eq!(r.requests()[R2].2, "cancelled");
    }

    #[test]
    fn a_change_with_pending_requests_breaks_requests_pending_on_change() {
        let mut log = workflow_base();
        log.push(round(1, 1));
        log.push(entry(
            kinds::MOU_VERSION_UPLOADED,
            json!({"mou": MOU, "version": 2, "time": day(3)}),
        ));
        assert_eq!(rules(&replay(&log)), ["requests_pending_on_change"]);
        let mut log = workflow_base();
        log.push(round(1, 1));
        log.push(entry(
            kinds::MOU_WITHDRAWN,
            json!({"mou": MOU, "city": "us-hou", "reason": "R", "from": "open",
                   "time": day(3)}),
        ));
        assert_eq!(rules(&replay(&log)), ["requests_pending_on_change"]);
        // Cancelled first, as the registry does: no finding.
        let mut log = workflow_base();
        log.push(round(1, 1));
        log.push(entry(
            kinds::MOU_REQUESTS_CANCELLED,
            json!({"mou": MOU, "round": 1, "requests": [R1, R2], "cause": "new_version",
                   "time": day(3)}),
        ));
        log.push(entry(
            kinds::MOU_VERSION_UPLOADED,
            json!({"mou": MOU, "version": 2, "time": day(3)}),
        ));
        assert_eq!(replay(&log).findings, vec![]);
    }

    #[test]
    fn a_malformed_round_breaks_request_valid() {
        let request = |id: &str, who: &str, group: i64| json!({"request": id, "signer": who, "role": "signatory", "group": group});
        let cases = [
            json!({"requests": [request(R1, "mayor@us-hou", 1), request(R2, "mayor@fr-par", 2)]}),
            json!({"requests": [request(R1, "mayor@us-hou", 1), request(R2, "mayor@cn-sha", 3)]}),
            json!({"requests": [request(R1, "mayor@us-hou", 1), request(R2, "mayor@us-hou", 1)]}),
            json!({"requests": [request(R1, "mayor@us-hou", 1), request(R1, "mayor@cn-sha", 1)]}),
            json!({"requests": []}),
            json!({"requests": [request(R1, "mayor@us-hou", 1)], "round": 2}),
            json!({"requests": [request(R1, "mayor@us-hou", 1)], "city": "fr-par"}),
            json!({"requests": [request(R1, "mayor@us-hou", 1)], "deadline": day(2)}),
            json!({"requests": [request(R1, "mayor@us-hou", 1)], "doc_sha256": "00"}),
            json!({"requests": [request(R1, "mayor@us-hou", 1)], "version": 2}),
        ];
        for case in cases {
            let mut fields = json!({"mou": MOU, "round": 1, "version": 1, "doc_sha256": doc(),
                                    "time": day(2)});
            fields
                .as_object_mut()
                .unwrap()
                .extend(case.as_object().cloned().unwrap());
            let mut log = workflow_base();
            log.push(entry(kinds::MOU_SIGNATURES_REQUESTED, fields));
            let r = replay(&log);
            assert!(!r.findings.is_empty(), "{case}");
            assert!(
                r.findings.iter().all(|f| f.rule == "request_valid"),
                "{case}: {:?}",
                r.findings
            );
        }
        // A second round while the first is pending.
        let mut log = workflow_base();
        log.push(round(1, 1));
        let mut second = String::from_utf8(round(1, 1)).unwrap();
        second = second
            .replace("\"round\":1", "\"round\":2")
            .replace(R1, "00000000-0000-4000-8000-000000000003")
            .replace(R2, "00000000-0000-4000-8000-000000000004");
        log.push(second.into_bytes());
        let r = replay(&log);
        assert_eq!(rules(&r), ["request_valid"]);
        assert!(r.findings[0].message.contains("still has pending"));
    }

    #[test]
    fn a_decline_or_expiry_after_execution_leaves_the_mou_executed() {
        // Only Houston must sign: its signature executes the MOU, cn-sha's request stays.
        let mut log = workflow_base_requiring(&["us-hou"]);
        log.push(round(1, 1));
        log.push(requested_signature(1, 1, Some(R1), &day(3)));
        let mut declined = log.clone();
        declined.push(decline("Not needed", "Not needed", 2));
        let r = replay(&declined);
        assert_eq!(r.findings, vec![]);
        assert_eq!(r.requests()[R2].2, "declined");
        assert_eq!(r.mous()[MOU].workflow_state(), None);
        log.push(entry(
            kinds::MOU_REQUESTS_EXPIRED,
            json!({"mou": MOU, "round": 1, "requests": [R2], "deadline": DEADLINE,
                   "time": DEADLINE}),
        ));
        let r = replay(&log);
        assert_eq!(r.findings, vec![]);
        assert_eq!(r.requests()[R2].2, "expired");
        assert_eq!(r.mous()[MOU].workflow_state(), None);
        // A revocation that voids the signature reopens it: the expiry then counts.
        let mut voided = workflow_base_requiring(&["us-hou"]);
        voided.push(round(1, 1));
        voided.push(requested_signature(1, 1, Some(R1), &day(3)));
        voided.push(entry(
            kinds::KEY_REVOKED,
            json!({"key": "k1", "fingerprint": fingerprint(1), "time": day(4)}),
        ));
        voided.push(entry(
            kinds::MOU_REQUESTS_EXPIRED,
            json!({"mou": MOU, "round": 1, "requests": [R2], "deadline": DEADLINE,
                   "time": DEADLINE}),
        ));
        let r = replay(&voided);
        assert_eq!(r.findings, vec![]);
        assert_eq!(r.mous()[MOU].workflow_state(), Some(MouState::Expired));
    }
}
