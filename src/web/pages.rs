//! The pages people read: the registry, search, a city, a partnership, an MOU, the log, the
//! sign-in page, and the SVG pictures they embed.

use crate::domain::{ErrorCode, MouId, PartnershipId};
use actix_web::{HttpRequest, HttpResponse, get, web};
use maud::html;
use serde::Deserialize;

use super::layout::{error_page, layout, svg_response, with_cookie};
use super::{session, svg};
use crate::api::AppState;
use crate::db;
use crate::domain::activities::Engagement;
use crate::domain::briefing::status_rank;
use crate::domain::cities::degrees;
use crate::domain::dates::{format_date, format_micros};
use crate::error::ApiError;

/// The cutoff date of dormancy `years` years before the registry's today.
fn dormant_cutoff(state: &AppState, years: u32) -> String {
    crate::domain::activities::dormant_cutoff(state.today(), years)
}

/// A count as people read it: 24,705.
fn count<N: TryInto<usize>>(n: N) -> String {
    svg::thousands(n.try_into().unwrap_or(0))
}

#[get("/")]
pub(super) async fn home(state: web::Data<AppState>) -> HttpResponse {
    let counts = match state.read(db::pages::counts).await {
        Ok(c) => c,
        Err(e) => return error_page(e),
    };
    let (by_status, cities) = counts;
    let total: i64 = by_status.values().sum();
    layout(
        "Registry",
        html! {
            h1 { "Sister-city partnerships" }
            p { (count(total)) " partnerships between " (count(cities)) " cities." }
            table class="counts" {
                tr { @for s in ["active", "curtailed", "proposed", "cut_off"] { th class=(s) { (s) } } }
                tr { @for s in ["active", "curtailed", "proposed", "cut_off"] { td id={ "count-" (s) } { (count(by_status.get(s).copied().unwrap_or(0))) } } }
            }
            form action="/search" method="get" {
                label for="q" { "Find a city " }
                input id="q" name="q" type="search" placeholder="Houston";
                " " button type="submit" { "Search" }
            }
            h2 { "Map" }
            img class="map" src="/map.svg" alt="world map of partnerships coloured by status";
        },
    )
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
    country: Option<String>,
}

#[get("/search")]
pub(super) async fn search(
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> HttpResponse {
    let q = query.into_inner();
    let text = q.q.clone().unwrap_or_default();
    let country = q
        .country
        .filter(|c| !c.is_empty())
        .map(|c| c.to_ascii_uppercase());
    let filter = db::cities::CityFilter {
        country,
        q: Some(text.trim().to_string()).filter(|t| !t.is_empty() && t.chars().count() <= 200),
        after: None,
        limit: 100,
    };
    let rows = match state.read(move |c| db::cities::list(c, &filter)).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    layout(
        "Cities",
        html! {
            h1 { "Cities" }
            form action="/search" method="get" {
                input name="q" type="search" value=(text);
                " " button type="submit" { "Search" }
            }
            @if rows.is_empty() { p { "No city matches." } }
            ul class="results" { @for r in rows.iter().take(100) {
                li { a href={ "/cities/" (r.city.code) } { (r.city.name) } " (" (r.city.country) ")" }
            } }
        },
    )
}

#[get("/map.svg")]
pub(super) async fn registry_map(state: web::Data<AppState>) -> HttpResponse {
    match state.read(|c| db::pages::map_lines(c, None, None)).await {
        Ok(lines) => svg_response(svg::map(&lines, "all partnerships", false)),
        Err(e) => error_page(e),
    }
}

#[get("/cities/{code}/map.svg")]
pub(super) async fn city_map(state: web::Data<AppState>, code: web::Path<String>) -> HttpResponse {
    let code = code.into_inner();
    let title = format!("partnerships of {code}");
    let cutoff = dormant_cutoff(&state, state.settings.dormant_years);
    match state
        .read(move |c| db::pages::map_lines(c, Some(&code), Some(&cutoff)))
        .await
    {
        Ok(lines) => svg_response(svg::map(&lines, &title, true)),
        Err(e) => error_page(e),
    }
}

#[get("/cities/{code}/engagement.svg")]
pub(super) async fn city_chart(
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> HttpResponse {
    let code = code.into_inner();
    match state
        .read(move |c| db::activities::facts(c, Some(&code), None))
        .await
    {
        Ok(facts) => svg_response(svg::engagement_chart(&Engagement::roll_up(&facts).by_year)),
        Err(e) => error_page(e),
    }
}

#[get("/cities/{code}")]
pub(super) async fn city(
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
) -> HttpResponse {
    let code = code.into_inner();
    let who = session::principal(&state, &req).await;
    let (csrf, new_cookie) = session::csrf_token(&req);
    let key = code.clone();
    let years = state.settings.dormant_years;
    let cutoff = dormant_cutoff(&state, years);
    let today = state.today();
    let found = state
        .read(move |c| {
            let Some(city) = db::cities::get(c, &key)? else {
                return Ok(None);
            };
            let partners = db::briefing::partners(c, &key)?;
            let dormant = db::pages::dormant_among(c, &partners, &cutoff)?;
            let ids: Vec<String> = partners
                .iter()
                .map(|(p, _)| p.partnership.clone())
                .collect();
            let overdue = db::outcomes::list_commitments(
                c,
                &ids,
                db::outcomes::CommitmentFilter::Overdue(today),
                None,
                100,
            )?;
            Ok(Some((city, partners, dormant, overdue)))
        })
        .await;
    let (city, mut partners, dormant, overdue) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            return error_page(ApiError::new(
                ErrorCode::CityNotFound,
                format!("no city `{code}`"),
            ));
        }
        Err(e) => return error_page(e),
    };
    partners.sort_by(|(a, sa), (b, sb)| {
        (status_rank(sa), &a.partner_name).cmp(&(status_rank(sb), &b.partner_name))
    });
    let c = &city.city;
    let own_office = who
        .as_ref()
        .and_then(|w| w.office.as_ref())
        .is_some_and(|o| o.city == c.code);
    let res = layout(
        &c.name,
        html! {
            h1 { (c.name) }
            p {
                (c.country) @if let Some(r) = &c.region { ", " (r) }
                @if let (Some(lat), Some(lon)) = (c.lat_e6, c.lon_e6) { " · " (format!("{:.4}, {:.4}", degrees(lat), degrees(lon))) }
                " · code " code { (c.code) }
            }
            h2 { "Partnerships (" (partners.len()) ")" }
            table {
                tr { th { "partner" } th { "status" } th { "kind" } th { "since" } }
                @for (p, status) in &partners {
                    tr {
                        td { a href={ "/partnerships/" (p.partnership) } { (p.partner_name) } " (" (p.partner_country) ")" }
                        td class=(status) { (status) }
                        td { (p.kind) }
                        td { (p.established.as_deref().unwrap_or("")) }
                    }
                }
            }
            h2 { "Dormant ties (" (count(dormant.len())) ")" }
            @if dormant.is_empty() {
                p { "Every active partnership of " (c.name) " has a recorded activity, or was established, in the last " (years) " years." }
            } @else {
                p { "Active on paper, with no activity recorded in the last " (years) " years (since the latest activity, or the establishment when none is recorded). Dashed on the map." }
                table id="dormant" {
                    tr { th { "partner" } th { "established" } th { "latest activity" } }
                    @for t in &dormant {
                        tr {
                            td { a href={ "/partnerships/" (t.partnership) } { (t.partner_name) } }
                            td { (t.established.as_deref().unwrap_or("unknown")) }
                            td { (t.last_activity.as_deref().unwrap_or("none recorded")) }
                        }
                    }
                }
            }
            h2 id="overdue" { "Overdue commitments (" (count(overdue.len())) ")" }
            @if overdue.is_empty() {
                p { "No commitment of " (c.name) "'s partnerships is past its due date unresolved." }
            } @else {
                p { "Promised at an activity, due, and not yet marked kept or not kept by either office." }
                table {
                    tr { th { "due" } th { "commitment" } th { "partnership" } }
                    @for s in &overdue {
                        tr {
                            td { (s.commitment.due_date) }
                            td { (s.commitment.text) }
                            td { a href={ "/partnerships/" (s.commitment.partnership_id) "#commitments" } {
                                (partners.iter().find(|(p, _)| p.partnership == s.commitment.partnership_id).map(|(p, _)| p.partner_name.as_str()).unwrap_or("partnership"))
                            } }
                        }
                    }
                }
            }
            h2 { "Map" }
            img class="map" src={ "/cities/" (c.code) "/map.svg" } alt={ "map of the partnerships of " (c.name) };
            h2 { "Engagement" }
            img src={ "/cities/" (c.code) "/engagement.svg" } alt="activities per year by mode";
            h2 { "Briefing" }
            p {
                a href={ "/api/v1/cities/" (c.code) "/briefing?format=html" } { "HTML" } " · "
                a href={ "/api/v1/cities/" (c.code) "/briefing?format=pdf" } { "PDF" } " · "
                a href={ "/api/v1/cities/" (c.code) "/briefing?format=md" } { "Markdown" } " · "
                a href={ "/api/v1/cities/" (c.code) "/briefing?format=csv" } { "CSV" }
            }
            @if own_office {
                p { a href={ "/cities/" (c.code) "/webhooks" } { "Webhooks of " (c.code) } ": where this office hears of its MOUs and partnerships." }
                h2 { "Propose a partnership" }
                form method="post" action={ "/cities/" (c.code) "/propose" } {
                    input type="hidden" name="csrf" value=(csrf);
                    p { label { "Partner city code " input type="text" name="partner" required placeholder="cn-sha" maxlength="32"; } }
                    p { label { "Kind " select name="kind" {
                        @for k in ["sister", "friendship", "twinning", "cooperation"] { option value=(k) { (k) } }
                    } } }
                    p { label { "Established (YYYY, YYYY-MM or YYYY-MM-DD) " input type="text" name="established" maxlength="10"; } }
                    p { button type="submit" { "Propose" } }
                }
            }
        },
    );
    with_cookie(res, new_cookie)
}

#[get("/partnerships/{id}")]
pub(super) async fn partnership(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let id = id.into_inner();
    let who = session::principal(&state, &req).await;
    let (csrf, new_cookie) = session::csrf_token(&req);
    let key = match PartnershipId::from_path(&id) {
        Ok(key) => key,
        Err(e) => return error_page(e.into()),
    };
    let found = state
        .read(move |c| {
            let Some(p) = db::partnerships::get(c, &key)? else {
                return Ok(None);
            };
            let history = db::partnerships::history(c, &key)?;
            let mous = db::pages::mous_of(c, &key)?;
            let activities = db::activities::list(c, &key, None, 100)?;
            let ids: Vec<String> = activities.iter().map(|a| a.id.clone()).collect();
            let evidence = db::activities::evidence_of(c, &ids)?;
            let organisations = db::activities::organisations_of(c, &ids)?;
            let outcomes = db::outcomes::list_outcomes(c, key.as_str(), None, None, 200)?;
            let commitments = db::outcomes::list_commitments(
                c,
                &[key.to_string()],
                db::outcomes::CommitmentFilter::All,
                None,
                200,
            )?;
            Ok(Some((
                p,
                history,
                mous,
                activities,
                (evidence, organisations),
                outcomes,
                commitments,
            )))
        })
        .await;
    let (p, history, mous, activities, (evidence, organisations), outcomes, commitments) =
        match found {
            Ok(Some(found)) => found,
            Ok(None) => {
                return error_page(ApiError::new(
                    ErrorCode::PartnershipNotFound,
                    format!("no partnership `{id}`"),
                ));
            }
            Err(e) => return error_page(e),
        };
    let title = format!("{} and {}", p.city_a, p.city_b);
    let today = state.today();
    let overdue = commitments
        .iter()
        .filter(|s| s.state(today) == "overdue")
        .count();
    let activity_label = |id: &str| {
        activities
            .iter()
            .find(|a| a.id == id)
            .map(|a| format!("{} · {}", a.start_date, a.kind))
            .unwrap_or_else(|| id.to_string())
    };
    let office_city = who
        .as_ref()
        .and_then(|w| w.office.as_ref())
        .map(|o| o.city.clone())
        .filter(|c| p.parties().contains(&c));
    let res = layout(
        &title,
        html! {
            h1 { a href={ "/cities/" (p.city_a) } { (p.city_a) } " and " a href={ "/cities/" (p.city_b) } { (p.city_b) } }
            p { (p.kind) " · " span class=(p.status) { (p.status) } " · " (p.source)
                @if let Some(e) = &p.established { " · since " (e.text) } }
            h2 { "Timeline" }
            ol class="timeline" { @for e in &history {
                li {
                    strong { (format_date(e.effective_date)) } " "
                    (e.from.map(|s| s.as_str()).unwrap_or("registered")) " → " span class=(e.to) { (e.to) }
                    @if let Some(c) = &e.reason_category { " (" (c) ")" }
                    @if let Some(r) = &e.reason { ": " (r) }
                    @if let Some(b) = &e.deciding_body { " · decided by " (b) }
                    @if let Some(c) = &e.initiating_city { " · initiated by " (c) }
                }
            } }
            h2 { "MOUs" }
            @if mous.is_empty() { p { "None." } }
            ul { @for (mid, title, state) in &mous { li { a href={ "/mous/" (mid) } { (title) } " (" (state) ")" } } }
            h2 { "Activities" }
            @if activities.is_empty() { p { "None recorded." } }
            table { @for a in &activities {
                tr {
                    td { (a.start_date) } td { (a.kind) } td { (a.mode) } td { (a.outcome.as_deref().unwrap_or("")) }
                    td { @if let (Some(c), Some(cur)) = (&a.cost, &a.cost_currency) { "cost " (c) " " (cur) } }
                    td class="organisations" { @for (name, sector) in organisations.get(&a.id).map(Vec::as_slice).unwrap_or_default() {
                        span title=(sector) { (name) } " (" (sector.replace('_', " ")) ") "
                    } }
                    td class="evidence" { @for e in evidence.iter().filter(|e| e.activity_id == a.id) {
                        a href={ "/api/v1/activities/" (a.id) "/evidence/" (e.seq) } { (e.filename.as_deref().unwrap_or("evidence")) }
                        " " code title={ "SHA-256 " (hex::encode(&e.sha256)) } { (hex::encode(e.sha256.iter().take(6).copied().collect::<Vec<u8>>())) } " "
                    } }
                }
            } }
            h2 id="outcomes" { "Outcomes (" (outcomes.len()) ")" }
            @if outcomes.is_empty() { p { "None recorded." } }
            @else {
                table {
                    tr { th { "achieved" } th { "indicator" } th { "how much" } th { "of the activity" } th { "what" } }
                    @for o in &outcomes {
                        tr {
                            td { (o.achieved_on) }
                            td { (o.indicator.replace('_', " ")) }
                            td {
                                @if let Some(n) = o.count { (count(n)) }
                                @if let Some(g) = &o.exchange_group { " " (g) }
                                @if let (Some(v), Some(c)) = (&o.value, &o.currency) { " worth " (v) " " (c) }
                            }
                            td { (activity_label(&o.activity_id)) }
                            td {
                                @if let Some(m) = &o.mou_id { a href={ "/mous/" (m) } { "the MOU" } " " }
                                @if let Some(f) = &o.follow_up_id { "follow-up: " (activity_label(f)) " " }
                                (o.description.as_deref().unwrap_or(""))
                                @for n in o.evidence_numbers() { " " a href={ "/api/v1/activities/" (o.activity_id) "/evidence/" (n) } { "evidence " (n) } }
                            }
                        }
                    }
                }
            }
            h2 id="commitments" { "Commitments (" (commitments.len()) @if overdue > 0 { ", " (overdue) " overdue" } ")" }
            @if commitments.is_empty() { p { "None recorded." } }
            @else {
                table {
                    tr { th { "due" } th { "commitment" } th { "state" } th { "follow-through" } }
                    @for s in &commitments {
                        @let c = &s.commitment;
                        @let state = s.state(today);
                        tr {
                            td { (c.due_date) }
                            td { (c.text) " (" (activity_label(&c.activity_id)) ")" }
                            td class=(state) { (state.replace('_', " ")) }
                            td { @if let Some(r) = &s.resolution {
                                (r.resolved_on) " by " (r.city)
                                @if r.result == "kept" { @if s.kept_on_time() == Some(true) { ", on time" } @else { ", late" } }
                                @if let Some(a) = &r.kept_by_activity { ": " (activity_label(a)) }
                                @if let Some(n) = &r.note { ": " (n) }
                            } }
                        }
                    }
                }
            }
            @if let Some(acting) = &office_city {
                h2 { "Record a status change (as the office of " (acting) ")" }
                form method="post" action={ "/partnerships/" (p.id) "/status" } {
                    input type="hidden" name="csrf" value=(csrf);
                    p { label { "New status " select name="status" {
                        @for s in ["curtailed", "active", "cut_off"] { option value=(s) { (s) } }
                    } } }
                    p { label { "Effective date " input type="date" name="effective_date" required; } }
                    p { label { "Decided " input type="date" name="decided_date"; } }
                    p { label { "Deciding body " input type="text" name="deciding_body" maxlength="200"; } }
                    p { label { "Reason category " select name="reason_category" {
                        @for c in ["political", "security", "inactivity", "funding", "legal", "mutual", "other"] { option value=(c) { (c) } }
                    } } }
                    p { label { "Reason " textarea name="reason" rows="3" cols="60" maxlength="4000" {} } }
                    p { button type="submit" { "Record" } }
                }
                h2 { "Record an activity" }
                form method="post" action={ "/partnerships/" (p.id) "/activities" } {
                    input type="hidden" name="csrf" value=(csrf);
                    p { label { "Kind " select name="kind" {
                        @for k in ["delegation", "virtual_meeting", "exchange", "trade_mission", "cultural_event", "aid", "other"] { option value=(k) { (k) } }
                    } } }
                    p { label { "Mode " select name="mode" { @for m in ["in_person", "virtual", "hybrid"] { option value=(m) { (m) } } } } }
                    p { label { "Start " input type="date" name="start_date" required; } }
                    p { label { "Participants " input type="number" name="participants" min="0"; } }
                    p { label { "Outcome " textarea name="outcome" rows="2" cols="60" maxlength="4000" {} } }
                    p { label { "Cost " input type="text" name="cost" inputmode="decimal" placeholder="12500" maxlength="20"; }
                        " " label { "currency " input type="text" name="cost_currency" placeholder="USD" maxlength="3" size="4"; } }
                    p { label { "Organisations taking part, one per line as " code { "sector: name" } " (sectors: "
                        (amity_verify::outcomes::Sector::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) ") "
                        textarea name="organisations" rows="3" cols="60" placeholder="university: Rice University" {} } }
                    p { button type="submit" { "Record" } }
                }
                @if !activities.is_empty() {
                    h2 { "Attach evidence to an activity" }
                    form method="post" action={ "/partnerships/" (p.id) "/evidence" } enctype="multipart/form-data" {
                        input type="hidden" name="csrf" value=(csrf);
                        p { label { "Activity " select name="activity" {
                            @for a in &activities { option value=(a.id) { (a.start_date) " · " (a.kind) " (" (a.mode) ")" } }
                        } } }
                        p { label { "Document " input type="file" name="document" required; } }
                        p { button type="submit" { "Attach" } }
                    }
                }
                @if !activities.is_empty() {
                    h2 { "Record an outcome" }
                    form method="post" action={ "/partnerships/" (p.id) "/outcomes" } {
                        input type="hidden" name="csrf" value=(csrf);
                        p { label { "Activity " select name="activity" {
                            @for a in &activities { option value=(a.id) { (a.start_date) " · " (a.kind) " (" (a.mode) ")" } }
                        } } }
                        p { label { "Indicator " select name="indicator" {
                            @for i in amity_verify::outcomes::Indicator::ALL { option value=(i.as_str()) { (i.as_str().replace('_', " ")) } }
                        } } }
                        p { label { "Achieved " input type="date" name="achieved_on" required; } }
                        p { label { "Count " input type="number" name="count" min="1"; } }
                        p { label { "Exchange group " select name="exchange_group" {
                            option value="" { "(not an exchange)" }
                            @for g in amity_verify::outcomes::ExchangeGroup::ALL { option value=(g.as_str()) { (g.as_str()) } }
                        } } }
                        p { label { "Declared value " input type="text" name="value" inputmode="decimal" placeholder="1250000.50" maxlength="20"; }
                            " " label { "currency " input type="text" name="currency" placeholder="EUR" maxlength="3" size="4"; } }
                        p { label { "MOU signed " select name="mou" {
                            option value="" { "(none)" }
                            @for (mid, mtitle, _) in &mous { option value=(mid) { (mtitle) } }
                        } } }
                        p { label { "Follow-up activity " select name="follow_up" {
                            option value="" { "(none)" }
                            @for a in &activities { option value=(a.id) { (a.start_date) " · " (a.kind) } }
                        } } }
                        p { label { "Description " textarea name="description" rows="2" cols="60" maxlength="2000" {} } }
                        p { button type="submit" { "Record outcome" } }
                    }
                    h2 { "Record a commitment" }
                    form method="post" action={ "/partnerships/" (p.id) "/commitments" } {
                        input type="hidden" name="csrf" value=(csrf);
                        p { label { "Activity " select name="activity" {
                            @for a in &activities { option value=(a.id) { (a.start_date) " · " (a.kind) " (" (a.mode) ")" } }
                        } } }
                        p { label { "Commitment " input type="text" name="text" required maxlength="500" size="60" placeholder="Exchange of 20 students by June 2021"; } }
                        p { label { "Due " input type="date" name="due_date" required; } }
                        p { button type="submit" { "Record commitment" } }
                    }
                }
                @let open: Vec<_> = commitments.iter().filter(|s| s.resolution.is_none()).collect();
                @if !open.is_empty() {
                    h2 { "Mark a commitment" }
                    form method="post" action={ "/partnerships/" (p.id) "/resolutions" } {
                        input type="hidden" name="csrf" value=(csrf);
                        p { label { "Commitment " select name="commitment" {
                            @for s in &open { option value=(s.commitment.id) { (s.commitment.due_date) " · " (s.commitment.text) } }
                        } } }
                        p { label { "Result " select name="result" {
                            @for r in amity_verify::outcomes::CommitmentResult::ALL { option value=(r.as_str()) { (r.as_str().replace('_', " ")) } }
                        } } }
                        p { label { "On " input type="date" name="resolved_on" required; } }
                        p { label { "Kept by activity " select name="kept_by_activity" {
                            option value="" { "(none)" }
                            @for a in &activities { option value=(a.id) { (a.start_date) " · " (a.kind) } }
                        } } }
                        p { label { "Note " textarea name="note" rows="2" cols="60" maxlength="2000" {} } }
                        p { button type="submit" { "Mark" } }
                    }
                }
            }
        },
    );
    with_cookie(res, new_cookie)
}

#[get("/mous/{id}")]
pub(super) async fn mou(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let id = id.into_inner();
    let who = session::principal(&state, &req).await;
    let (csrf, new_cookie) = session::csrf_token(&req);
    let key = match MouId::from_path(&id) {
        Ok(key) => key,
        Err(e) => return error_page(e.into()),
    };
    let found = state
        .read(move |c| {
            let Some(m) = db::mous::get(c, &key)? else {
                return Ok(None);
            };
            let parent = db::partnerships::get(c, &m.partnership_id)?;
            let versions = db::mous::versions(c, &key)?;
            let chain = db::mous::chain(c, &key)?;
            let requests = db::requests::list(c, key.as_str())?;
            Ok(Some((m, parent, versions, chain, requests)))
        })
        .await;
    let (m, parent, versions, chain, requests) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            return error_page(ApiError::new(
                ErrorCode::MouNotFound,
                format!("no MOU `{id}`"),
            ));
        }
        Err(e) => return error_page(e),
    };
    // The same report as `GET /api/v1/mous/{id}/audit`.
    let (db, signer, origin, key) = (
        state.db.clone(),
        state.signer.clone(),
        state.settings.origin.clone(),
        m.id.clone(),
    );
    let report =
        match web::block(move || crate::app::evidence::audit_report(&db, &signer, &origin, &key))
            .await
        {
            Ok(Ok(Some(report))) => report,
            Ok(Ok(None)) => {
                return error_page(ApiError::new(
                    ErrorCode::LogBusy,
                    "the log grew during every attempt to read this MOU; try again",
                ));
            }
            Ok(Err(e)) => return error_page(e.into()),
            Err(e) => return error_page(e.into()),
        };
    // The upload form is offered to an office of a party city while the MOU takes versions.
    let uploader = who
        .as_ref()
        .and_then(|w| w.office.as_ref())
        .map(|o| o.city.clone())
        .filter(|c| parent.as_ref().is_some_and(|p| p.parties().contains(&c)))
        .filter(|_| m.check_not_withdrawn().is_ok());
    let pending = requests
        .iter()
        .any(|r| r.state == crate::domain::requests::RequestState::Pending);
    // The signing links of the viewing office's own signatories, to hand over in person when
    // the e-mail cannot (docs/browser-signing.md); the same links the API gives that office.
    let office_city = who
        .as_ref()
        .and_then(|w| w.office.as_ref())
        .map(|o| o.city.to_string());
    let signing_links: Vec<(String, String)> = requests
        .iter()
        .filter(|r| r.state == crate::domain::requests::RequestState::Pending)
        .filter(|r| office_city.as_deref() == Some(r.signer_city.as_str()))
        .map(|r| {
            let token = state.links.token(&r.id);
            (
                r.signer.clone(),
                crate::crypto::signing_link::url(&state.settings.public_url, &token),
            )
        })
        .collect();
    let res = layout(
        &m.title,
        html! {
            h1 { (m.title) }
            p { "State " strong { (m.state.as_str()) } " · partnership " a href={ "/partnerships/" (m.partnership_id) } { (m.partnership_id) } }
            h2 { "Versions" }
            table {
                tr { th { "version" } th { "document" } th { "language" } th { "file" } th { "size" } th { "SHA-256" } }
                @for v in &versions {
                    @for d in version_documents(v) { tr {
                        td { (v.version) } td { (d.0) } td { (d.1.unwrap_or("")) }
                        td { (d.2.unwrap_or("")) " (" (d.3) ")" } td { (d.4) } td { code { (hex::encode(d.5)) } }
                    } }
                }
            }
            h2 { "Signature requests" }
            @if requests.is_empty() {
                p { "Nobody has been asked to sign yet: any registered signatory of a party city may sign." }
            } @else {
                p { "Who was asked to sign, in what order (group 1 signs first) and by when; every step is in the log." }
                table {
                    tr { th { "round" } th { "group" } th { "signatory" } th { "role" } th { "version" } th { "deadline" } th { "state" } th { "answered" } th { "reason" } }
                    @for r in &requests { tr {
                        td { (r.round) } td { (r.group) } td { (r.signer) } td { (r.role) } td { (r.version) }
                        td { (format_micros(r.deadline)) }
                        td { (r.state.as_str()) }
                        td { (r.answered_at.map(format_micros).unwrap_or_default()) }
                        td { (r.decline_reason.as_deref().unwrap_or("")) }
                    } }
                }
            }
            @if !signing_links.is_empty() {
                h3 { "Signing links of your signatories" }
                p { "Each link lets its signatory sign or decline this request in the browser. The request e-mail carries it; hand it over another way only to the signatory in person: it works for them alone, once, until the deadline." }
                ul id="signing-links" {
                    @for (signer, url) in &signing_links { li { (signer) ": " a href=(url) { code { (url) } } } }
                }
            }
            h2 { "Signature chain" }
            table {
                tr { th { "seq" } th { "version" } th { "received" } th { "log entry" } }
                @for s in &chain { tr { td { (s.seq) } td { (s.version) } td { (format_micros(s.received_at)) } td { (s.log_index) } } }
            }
            h2 { "Audit" }
            p { "Verdict: " span class=(if report.verdict == crate::domain::audit::Verdict::Pass { "pass" } else { "fail" }) { (format!("{:?}", report.verdict).to_lowercase()) } }
            table {
                @for c in &report.checks { tr {
                    td class=(if c.result == crate::domain::audit::Verdict::Pass { "pass" } else { "fail" }) { (format!("{:?}", c.result).to_lowercase()) }
                    td { (c.check) } td { (c.subject) } td { (c.detail) }
                } }
            }
            p { a href={ "/api/v1/mous/" (m.id) "/bundle" } { "Download the evidence bundle" } " (check it offline with " code { "amity verify bundle.json" } ")" }
            @if let Some(acting) = &uploader {
                h2 { "Upload the next version (as the office of " (acting) ")" }
                p { "Signatures already given stay on the versions they signed; signatories sign the new version afresh." }
                form method="post" action={ "/mous/" (m.id) "/versions" } enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(csrf);
                    p { "One document, or one per language of a multilingual MOU (the texts equally authentic; a signature commits to all of them)." }
                    p { label { "Languages, one per file in the order chosen (optional for one document) " input type="text" name="languages" placeholder="en,zh-Hans" maxlength="300"; } }
                    p { label { "Documents " input type="file" name="document" multiple required; } }
                    p { button type="submit" { "Upload" } }
                }
                @if m.current_version > 0 {
                    h2 { "Send version " (m.current_version) " for signature" }
                    p { "One signatory per line: " code { "handle@city" } ", then optionally the sequence group (1 signs first) and the role (default " code { "signatory" } "). Pending requests of an earlier round are cancelled." }
                    form method="post" action={ "/mous/" (m.id) "/signature-requests" } {
                        input type="hidden" name="csrf" value=(csrf);
                        p { label { "Signatories " textarea name="signatories" rows="4" cols="40" required { } } }
                        p { label { "Deadline (midnight UTC) " input type="date" name="deadline" required; } }
                        p { button type="submit" { "Send" } }
                    }
                }
                @if pending {
                    h2 { "Cancel the pending requests" }
                    form method="post" action={ "/mous/" (m.id) "/cancel-requests" } {
                        input type="hidden" name="csrf" value=(csrf);
                        p { label { "Reason " input type="text" name="reason" required; } }
                        p { button type="submit" { "Cancel requests" } }
                    }
                }
            }
        },
    );
    let mut res = with_cookie(res, new_cookie);
    if !signing_links.is_empty() {
        // The page holds capabilities now: keep it out of caches.
        res.headers_mut().insert(
            actix_web::http::header::CACHE_CONTROL,
            actix_web::http::header::HeaderValue::from_static("no-store"),
        );
    }
    res
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    index: Option<i64>,
}

#[get("/log")]
pub(super) async fn log(state: web::Data<AppState>, query: web::Query<LogQuery>) -> HttpResponse {
    let database = state.db.clone();
    let signer = state.signer.clone();
    let checkpoint = match web::block(move || db::checkpoints::current(&database, &signer)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return error_page(e.into()),
        Err(e) => return error_page(e.into()),
    };
    let size = checkpoint.size;
    let cosignatures = match state
        .read(move |c| db::cosignatures::at_size(c, size))
        .await
    {
        Ok(rows) => rows,
        Err(e) => return error_page(e),
    };
    let note = db::cosignatures::cosigned_note(&checkpoint.note, &cosignatures);
    let witnesses = state.witnessing.as_ref().map(|w| {
        (
            w.policy().describe_quorum(),
            w.status(),
            crate::domain::dates::now_micros(),
        )
    });
    let index = query.index;
    let entry = match index {
        Some(i) => match state.read(move |c| db::log::entry(c, i)).await {
            Ok(e) => e,
            Err(e) => return error_page(e),
        },
        None => None,
    };
    layout(
        "Log",
        html! {
            h1 { "Transparency log" }
            p { "Latest signed checkpoint (C2SP signed note), with the cosignatures witnesses returned so far:" }
            pre { (note) }
            h2 { "Witnesses" }
            @if let Some((quorum, status, now)) = &witnesses {
                p { "Quorum: " (quorum) "." }
                table {
                    thead { tr { th { "Witness" } th { "Key name" } th { "Last cosigned size" } th { "Behind the log" } th { "Cosigned" } th { "State" } } }
                    tbody {
                        @for w in status {
                            tr {
                                td { (w.name) }
                                td { code { (w.key_name) } }
                                td { (w.cosigned_size.map_or("none yet".to_string(), |n| n.to_string())) }
                                td { (w.cosigned_size.map_or("-".to_string(), |n| format!("{} entries", (size.unsigned_abs()).saturating_sub(n)))) }
                                td { (w.cosigned_received_at.map_or("-".to_string(), |t| format!("{} s ago", (now - t) / 1_000_000))) }
                                td { (w.last_error.as_deref().map_or("ok".to_string(), |e| format!("failing ({} tries): {e}", w.consecutive_failures))) }
                            }
                        }
                    }
                }
            } @else {
                p { "This registry has no witness policy: no witness cosigns its checkpoints (docs/witnessing.md)." }
            }
            form action="/log" method="get" {
                label for="index" { "Entry " } input id="index" name="index" type="number" min="0";
                " " button type="submit" { "Look up" }
            }
            @if let Some(e) = &entry {
                h2 { "Entry " (e.idx) " · " (e.kind) }
                p { "Leaf hash " code { (hex::encode(&e.leaf_hash)) } }
                pre { (String::from_utf8_lossy(&e.entry)) }
            } @else if let Some(i) = index {
                p { "The log has no entry " (i) "." }
            }
        },
    )
}

#[get("/signin")]
pub(super) async fn signin_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let who = session::principal(&state, &req).await;
    let (csrf, new_cookie) = session::csrf_token(&req);
    let res = layout(
        "Sign in",
        html! {
            h1 { "Office sign-in" }
            @if let Some(w) = &who {
                p { "Signed in as " (w.role.as_str())
                    @if let Some(o) = &w.office { " of " a href={ "/cities/" (o.city) } { (o.city) } } "." }
                form method="post" action="/signout" {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Sign out" }
                }
            } @else {
                p { "Paste the token your registry administrator gave your office. It is kept in a cookie scripts cannot read, for this site only." }
                form method="post" action="/signin" {
                    input type="hidden" name="csrf" value=(csrf);
                    p { label { "Token " input type="password" name="token" required autocomplete="off" size="60"; } }
                    p { button type="submit" { "Sign in" } }
                }
            }
        },
    );
    with_cookie(res, new_cookie)
}

/// One document as the MOU page lists it: position, language, file name, media type, size
/// and SHA-256.
type DocumentRow<'a> = (
    i32,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    i64,
    &'a [u8; 32],
);

/// A version's documents as the MOU page lists them.
fn version_documents(v: &crate::domain::mous::Version) -> Vec<DocumentRow<'_>> {
    std::iter::once((
        1,
        v.language.as_deref(),
        v.filename.as_deref(),
        v.media_type.as_str(),
        v.size,
        &v.sha256,
    ))
    .chain(v.additional.iter().map(|d| {
        (
            d.position,
            Some(d.language.as_str()),
            d.filename.as_deref(),
            d.media_type.as_str(),
            d.size,
            &d.sha256,
        )
    }))
    .collect()
}
