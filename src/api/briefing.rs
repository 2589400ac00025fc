//! Briefing reports of a city, and of a group of cities, as Markdown, HTML (prints well) or
//! CSV.

use crate::domain::ErrorCode;
use crate::domain::schemas as S;
use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::openapi::Problem;
use crate::app::briefing::GroupBriefing;
use crate::db;
use crate::db::checkpoints::CheckpointRow;
use crate::domain::briefing::{Briefing, Period};
use crate::domain::cities::{CityCode, parse_country};
use crate::domain::dates::format_date;
use crate::domain::regions::WorldRegion;
use crate::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BriefingQuery {
    /// `md` (default), `html`, `csv` or `pdf`.
    #[param(value_type = Option<String>, pattern = "^(md|html|csv|pdf)$")]
    pub format: Option<String>,
    /// First day of the period (default: a year before `to`).
    #[param(value_type = Option<S::Date>, inline)]
    pub from: Option<String>,
    /// Last day of the period (default: today); not before `from`.
    #[param(value_type = Option<S::Date>, inline)]
    pub to: Option<String>,
}

/// A city's briefing: partnerships by status, status changes in the period with their reasons,
/// MOUs executed and pending, engagement by mode, and achievements from activity outcomes,
/// read at (and quoting) the signed checkpoint of the log's current size.
#[utoipa::path(
    tag = "reports",
    params(("code" = String, Path, description = "City code"), BriefingQuery),
    responses(
        (status = 200, description = "the report: Markdown (`format=md`), HTML (`html`), CSV (`csv`) or PDF (`pdf`, A4, with the engagement charts)", content(
            (String = "text/markdown"),
            (String = "text/html"),
            (String = "text/csv"),
            (super::openapi::FileBytes = "application/pdf")
        )),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem),
        (status = 503, body = Problem, description = "the log kept growing under the read; retry")
    )
)]
#[get("/cities/{code}/briefing")]
pub async fn briefing(
    state: web::Data<AppState>,
    code: web::Path<String>,
    query: web::Query<BriefingQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let format = report_format(q.format.as_deref())?;
    let period = Period::parse(q.from.as_deref(), q.to.as_deref())?;
    let code = CityCode::parse(&code)?;
    // Read as a group of one: the figures and the signed checkpoint they were read at.
    let g = read_at_checkpoint(&state, vec![code.to_string()], period).await?;
    let Some(b) = g.briefings.first() else {
        return Err(ApiError::internal());
    };
    let file = format!(
        "briefing-{}-{}-{}.{format}",
        b.city_code,
        format_date(period.from),
        format_date(period.to)
    );
    let (content_type, body): (&str, Vec<u8>) = match format {
        "html" => (
            "text/html; charset=utf-8",
            html_report(b, &g.checkpoint).into_string().into(),
        ),
        "csv" => (
            "text/csv; charset=utf-8",
            csv_report(b, &g.checkpoint)?.into(),
        ),
        "pdf" => (
            "application/pdf",
            typeset(title(b), city_markdown(b, &g.checkpoint)).await?,
        ),
        _ => (
            "text/markdown; charset=utf-8",
            city_markdown(b, &g.checkpoint).into(),
        ),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{file}\""),
        ))
        .body(body))
}

/// The briefings of `codes` (existing cities) over `period`, read at the current signed
/// checkpoint (`app::briefing::group`), off the async threads.
async fn read_at_checkpoint(
    state: &AppState,
    codes: Vec<String>,
    period: Period,
) -> Result<GroupBriefing, ApiError> {
    let (database, signer) = (state.db.clone(), state.signer.clone());
    let years = state.settings.dormant_years;
    web::block(move || crate::app::briefing::group(&database, &signer, &codes, period, years))
        .await??
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::LogBusy,
                "the log grew during every attempt to read the briefing; try again",
            )
        })
}

/// The Markdown briefing typeset as a PDF, off the async threads (it takes milliseconds).
async fn typeset(title: String, markdown: String) -> Result<Vec<u8>, ApiError> {
    web::block(move || super::briefing_pdf::briefing_pdf(&title, &markdown))
        .await
        .map_err(|_| ApiError::internal())
}

/// The report format asked for: `md` (the default), `html`, `csv` or `pdf`.
fn report_format(format: Option<&str>) -> Result<&str, ApiError> {
    match format.unwrap_or("md") {
        f @ ("md" | "html" | "csv" | "pdf") => Ok(f),
        other => Err(ApiError::new(
            ErrorCode::InvalidFormat,
            format!("`format` must be md, html, csv or pdf, got {other:?}"),
        )),
    }
}

fn title(b: &Briefing) -> String {
    format!(
        "Briefing: {} ({}), {} to {}",
        b.city_name,
        b.country,
        format_date(b.period.from),
        format_date(b.period.to)
    )
}

/// Escapes the characters Markdown would read as markup, so names and reasons stay text.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn opt(text: &Option<String>) -> &str {
    text.as_deref().unwrap_or("")
}

fn markdown(b: &Briefing) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", md(&title(b)));
    let _ = writeln!(s, "## Partnerships ({})\n", b.total_partnerships());
    for (status, lines) in b.by_status.values() {
        let _ = writeln!(s, "### {} ({})\n", status, lines.len());
        for l in lines {
            let _ = writeln!(
                s,
                "- {} ({}), {}{}",
                md(&l.partner_name),
                l.partner_country,
                l.kind,
                l.established
                    .as_ref()
                    .map(|e| format!(", since {e}"))
                    .unwrap_or_default()
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Status changes in the period ({})\n", b.changes.len());
    for c in &b.changes {
        let _ = writeln!(
            s,
            "- {}: {} from {} to {}{}{}",
            format_date(c.effective_date),
            md(&c.partner_name),
            c.from.as_deref().unwrap_or("none"),
            c.to,
            c.reason_category
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            c.reason
                .as_ref()
                .map(|r| format!(": {}", md(r)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(s, "\n## MOUs\n");
    let _ = writeln!(s, "Executed in the period: {}\n", b.executed.len());
    for m in &b.executed {
        let _ = writeln!(
            s,
            "- {} with {} (version {})",
            md(&m.title),
            md(&m.partner_name),
            m.version
        );
    }
    let _ = writeln!(s, "\nPending: {}\n", b.pending.len());
    for m in &b.pending {
        let _ = writeln!(
            s,
            "- {} with {} ({})",
            md(&m.title),
            md(&m.partner_name),
            m.state
        );
    }
    let e = &b.engagement;
    let _ = writeln!(s, "\n## Engagement\n");
    let _ = writeln!(s, "| mode | activities |\n|---|---|");
    let _ = writeln!(
        s,
        "| in person | {} |\n| virtual | {} |\n| hybrid | {} |",
        e.in_person, e.virtual_, e.hybrid
    );
    let _ = writeln!(
        s,
        "\n{} activities, {} participants, {:.0}% virtual or hybrid.",
        e.total,
        e.participants,
        e.remote_share * 100.0
    );
    if !b.engagement_by_year.is_empty() {
        let _ = writeln!(s, "\n### Engagement by year\n");
        let _ = writeln!(
            s,
            "| year | in person | virtual | hybrid |\n|---|---|---|---|"
        );
        for (year, m) in &b.engagement_by_year {
            let _ = writeln!(
                s,
                "| {year} | {} | {} | {} |",
                m.in_person, m.virtual_, m.hybrid
            );
        }
    }
    let _ = writeln!(s, "\n## Achievements\n");
    for a in &b.achievements {
        let _ = writeln!(
            s,
            "- {} ({}, {}, with {}): {}",
            format_date(a.date),
            a.kind,
            a.mode,
            md(&a.partner_name),
            md(&a.outcome)
        );
    }
    let _ = writeln!(
        s,
        "\n## Outcomes in the period ({}{})\n",
        b.outcome_count,
        shown_of(b.outcomes.len(), b.outcome_count)
    );
    for o in &b.outcomes {
        let _ = writeln!(
            s,
            "- {} (with {}): {}{}{}",
            format_date(o.date),
            md(&o.partner_name),
            md(&o.summary),
            o.description
                .as_ref()
                .map(|d| format!(": {}", md(d)))
                .unwrap_or_default(),
            evidence_note(o.evidence)
        );
    }
    let _ = writeln!(s, "\n## Commitments ({})\n", b.commitments.len());
    for c in &b.commitments {
        let _ = writeln!(
            s,
            "- due {} (with {}): {}: {}",
            format_date(c.due_date),
            md(&c.partner_name),
            md(&c.text),
            commitment_state(c)
        );
    }
    let _ = writeln!(
        s,
        "\n## Dormant ties ({}): active, no activity for {} years\n",
        b.dormant.len(),
        b.dormant_years
    );
    for d in &b.dormant {
        let _ = writeln!(
            s,
            "- {}: latest activity {}{}",
            md(&d.partner_name),
            d.last_activity.as_deref().unwrap_or("none recorded"),
            d.established
                .as_ref()
                .map(|e| format!(", established {e}"))
                .unwrap_or_default()
        );
    }
    s
}

/// ", 20 shown" when a list was cut.
fn shown_of(shown: usize, total: usize) -> String {
    if shown < total {
        format!(", {shown} shown")
    } else {
        String::new()
    }
}

/// " (2 evidence documents)" for an outcome that cites some.
fn evidence_note(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => " (1 evidence document)".to_string(),
        n => format!(" ({n} evidence documents)"),
    }
}

/// A commitment's state in words.
fn commitment_state(c: &crate::domain::briefing::CommitmentLine) -> String {
    match c.state.as_str() {
        "kept" if c.on_time => "kept on time".to_string(),
        "kept" => "kept late".to_string(),
        other => other.replace('_', " "),
    }
}

/// The print-friendly page around a report's body.
fn html_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                style { "body{font:11pt/1.4 Georgia,serif;max-width:48em;margin:2em auto;color:#111}h1{font-size:1.5em}h2{border-bottom:1px solid #999;margin-top:1.5em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .6em;text-align:left}pre{white-space:pre-wrap;font-size:.85em}section.city{break-before:page}@media print{body{margin:0}h2{break-after:avoid}}" }
            }
            body { (body) }
        }
    }
}

/// A city's briefing as Markdown: its title, the checkpoint it was read at, its sections.
fn city_markdown(b: &Briefing, checkpoint: &CheckpointRow) -> String {
    let body = markdown(b);
    let (heading, sections) = body.split_once('\n').unwrap_or((body.as_str(), ""));
    format!(
        "{heading}\n\n{}\n\n```text\n{}```\n{sections}",
        provenance(checkpoint),
        checkpoint.note
    )
}

fn html_report(b: &Briefing, checkpoint: &CheckpointRow) -> Markup {
    html_page(
        &title(b),
        html! {
            h1 { (title(b)) }
            p id="provenance" { (provenance(checkpoint)) }
            pre id="checkpoint" { (checkpoint.note) }
            (html_sections(b))
        },
    )
}

/// A city's sections of a report, under its title.
fn html_sections(b: &Briefing) -> Markup {
    let e = &b.engagement;
    html! {
                h2 { "Partnerships (" (b.total_partnerships()) ")" }
                @for (status, lines) in b.by_status.values() {
                    h3 { (status) " (" (lines.len()) ")" }
                    ul { @for l in lines {
                        li { (l.partner_name) " (" (l.partner_country) "), " (l.kind)
                             @if let Some(e) = &l.established { ", since " (e) } }
                    } }
                }
                h2 { "Status changes in the period (" (b.changes.len()) ")" }
                table {
                    tr { th { "date" } th { "partner" } th { "change" } th { "category" } th { "reason" } th { "decided by" } }
                    @for c in &b.changes {
                        tr {
                            td { (format_date(c.effective_date)) }
                            td { (c.partner_name) }
                            td { (c.from.as_deref().unwrap_or("none")) " → " (c.to) }
                            td { (opt(&c.reason_category)) }
                            td { (opt(&c.reason)) }
                            td { (opt(&c.deciding_body)) }
                        }
                    }
                }
                h2 { "MOUs" }
                p { "Executed in the period: " (b.executed.len()) }
                ul { @for m in &b.executed { li { (m.title) " with " (m.partner_name) " (version " (m.version) ")" } } }
                p { "Pending: " (b.pending.len()) }
                ul { @for m in &b.pending { li { (m.title) " with " (m.partner_name) " (" (m.state) ")" } } }
                h2 { "Engagement" }
                table {
                    tr { th { "mode" } th { "activities" } }
                    tr { td { "in person" } td { (e.in_person) } }
                    tr { td { "virtual" } td { (e.virtual_) } }
                    tr { td { "hybrid" } td { (e.hybrid) } }
                }
                p { (e.total) " activities, " (e.participants) " participants, "
                    (format!("{:.0}", e.remote_share * 100.0)) "% virtual or hybrid." }
                h2 { "Achievements" }
                ul { @for a in &b.achievements {
                    li { (format_date(a.date)) " (" (a.kind) ", " (a.mode) ", with " (a.partner_name) "): " (a.outcome) }
                } }
                h2 { "Outcomes in the period (" (b.outcome_count) (shown_of(b.outcomes.len(), b.outcome_count)) ")" }
                ul { @for o in &b.outcomes {
                    li { (format_date(o.date)) " (with " (o.partner_name) "): " (o.summary)
                         @if let Some(d) = &o.description { ": " (d) } (evidence_note(o.evidence)) }
                } }
                @if !b.engagement_by_year.is_empty() {
                    h3 { "Engagement by year" }
                    table {
                        tr { th { "year" } th { "in person" } th { "virtual" } th { "hybrid" } }
                        @for (year, m) in &b.engagement_by_year {
                            tr { td { (year) } td { (m.in_person) } td { (m.virtual_) } td { (m.hybrid) } }
                        }
                    }
                }
                h2 { "Dormant ties (" (b.dormant.len()) "): active, no activity for " (b.dormant_years) " years" }
                ul { @for d in &b.dormant {
                    li { (d.partner_name) ": latest activity " (d.last_activity.as_deref().unwrap_or("none recorded")) }
                } }
                h2 { "Commitments (" (b.commitments.len()) ")" }
                table {
                    tr { th { "due" } th { "partner" } th { "commitment" } th { "state" } }
                    @for c in &b.commitments {
                        tr { td { (format_date(c.due_date)) } td { (c.partner_name) } td { (c.text) } td { (commitment_state(c)) } }
                    }
                }
    }
}

fn csv_report(b: &Briefing, checkpoint: &CheckpointRow) -> Result<String, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    write_csv_row(
        &mut w,
        ["section", "date", "partner", "status", "kind", "detail"],
    )?;
    let size = checkpoint.size.to_string();
    let root = hex::encode(&checkpoint.root);
    write_csv_row(&mut w, ["checkpoint", "", "", "", &size, &root])?;
    write_csv_rows(&mut w, b, None)?;
    let bytes = w.into_inner().map_err(|_| ApiError::internal())?;
    String::from_utf8(bytes).map_err(|_| ApiError::internal())
}

fn write_csv_row<const N: usize>(
    w: &mut csv::Writer<Vec<u8>>,
    row: [&str; N],
) -> Result<(), ApiError> {
    w.write_record(row).map_err(|e| {
        tracing::error!(error = %e, "csv");
        ApiError::internal()
    })
}

/// A city's rows of a CSV report; with `city`, each row starts with its code (a group's report).
fn write_csv_rows(
    out: &mut csv::Writer<Vec<u8>>,
    b: &Briefing,
    city: Option<&str>,
) -> Result<(), ApiError> {
    let write = |w: &mut csv::Writer<Vec<u8>>, [a, b, c, d, e, f]: [&str; 6]| match city {
        Some(code) => write_csv_row(w, [code, a, b, c, d, e, f]),
        None => write_csv_row(w, [a, b, c, d, e, f]),
    };
    let w = out;
    for (status, lines) in b.by_status.values() {
        for l in lines {
            write(
                w,
                [
                    "partnership",
                    opt(&l.established),
                    &l.partner_name,
                    status,
                    &l.kind,
                    &l.partner_code,
                ],
            )?;
        }
    }
    for c in &b.changes {
        let date = format_date(c.effective_date);
        write(
            w,
            [
                "status_change",
                &date,
                &c.partner_name,
                &c.to,
                opt(&c.reason_category),
                opt(&c.reason),
            ],
        )?;
    }
    for m in b.executed.iter().chain(&b.pending) {
        write(w, ["mou", "", &m.partner_name, &m.state, "", &m.title])?;
    }
    let e = &b.engagement;
    for (mode, n) in [
        ("in_person", e.in_person),
        ("virtual", e.virtual_),
        ("hybrid", e.hybrid),
    ] {
        write(w, ["engagement", "", "", "", mode, &n.to_string()])?;
    }
    for a in &b.achievements {
        let date = format_date(a.date);
        write(
            w,
            [
                "achievement",
                &date,
                &a.partner_name,
                "",
                &a.kind,
                &a.outcome,
            ],
        )?;
    }
    for o in &b.outcomes {
        let date = format_date(o.date);
        let detail = match &o.description {
            Some(d) => format!("{}: {d}", o.summary),
            None => o.summary.clone(),
        };
        write(
            w,
            ["outcome", &date, &o.partner_name, "", &o.indicator, &detail],
        )?;
    }
    for (year, m) in &b.engagement_by_year {
        for (mode, n) in [
            ("in_person", m.in_person),
            ("virtual", m.virtual_),
            ("hybrid", m.hybrid),
        ] {
            let year = year.to_string();
            write(w, ["engagement_year", &year, "", "", mode, &n.to_string()])?;
        }
    }
    for d in &b.dormant {
        write(
            w,
            [
                "dormant",
                opt(&d.last_activity),
                &d.partner_name,
                "active",
                "",
                opt(&d.established),
            ],
        )?;
    }
    for c in &b.commitments {
        let due = format_date(c.due_date);
        write(
            w,
            [
                "commitment",
                &due,
                &c.partner_name,
                &commitment_state(c),
                "",
                &c.text,
            ],
        )?;
    }
    Ok(())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GroupBriefingQuery {
    /// The group as a list: 2 to 50 city codes, comma-separated (`us-hou,cn-sha,de-ber`).
    #[param(value_type = Option<String>, pattern = "^[a-z]{2}-[a-z0-9-]{2,29}(,[a-z]{2}-[a-z0-9-]{2,29}){1,49}$")]
    pub cities: Option<String>,
    /// The group as a country (ISO 3166-1 alpha-2): its cities with the most partnerships, at
    /// most 50.
    #[param(value_type = Option<S::CountryCode>, inline)]
    pub country: Option<String>,
    /// The group as a UN M49 region or subregion (`europe`, `western-europe`,
    /// `south-eastern-asia`, ...): the cities of its countries with the most partnerships, at
    /// most 50.
    #[param(value_type = Option<S::WorldRegionName>, inline)]
    pub region: Option<String>,
    /// A named group kept by an admin or an association (`/api/v1/city-groups`), by id.
    #[param(value_type = Option<String>, max_length = 64)]
    pub group: Option<String>,
    /// `md` (default), `html`, `csv` or `pdf`.
    #[param(value_type = Option<String>, pattern = "^(md|html|csv|pdf)$")]
    pub format: Option<String>,
    /// First day of the period (default: a year before `to`).
    #[param(value_type = Option<S::Date>, inline)]
    pub from: Option<String>,
    /// Last day of the period (default: today); not before `from`.
    #[param(value_type = Option<S::Date>, inline)]
    pub to: Option<String>,
}

/// Cities a group briefing covers at most.
pub const MAX_GROUP: usize = 50;

/// How a group briefing may name its group; exactly one is given.
const GROUP_KINDS: &str = "name the group with one of `cities` (a list of codes), `country`, `region` or `group` (a named group's id)";

/// The cities of a group: the list given (2 to 50 distinct codes, each a city), the busiest
/// cities of a country or a world region, or a named group's.
async fn group_cities(
    state: &AppState,
    q: &GroupBriefingQuery,
) -> Result<(Vec<String>, String), ApiError> {
    let given = [
        q.cities.is_some(),
        q.country.is_some(),
        q.region.is_some(),
        q.group.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::new(ErrorCode::InvalidQuery, GROUP_KINDS));
    }
    if let Some(id) = &q.group {
        let id = id.clone();
        let group = state.read(move |c| db::groups::require(c, &id)).await?;
        return Ok((group.city_codes(), group.name));
    }
    if let Some(list) = &q.cities {
        let mut codes: Vec<CityCode> = Vec::new();
        for code in list.split(',') {
            let code = CityCode::parse(code.trim())?;
            if codes.contains(&code) {
                return Err(ApiError::new(
                    ErrorCode::InvalidQuery,
                    format!("`cities` names {code} twice"),
                ));
            }
            codes.push(code);
        }
        if !(2..=MAX_GROUP).contains(&codes.len()) {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "a group has 2 to {MAX_GROUP} cities; `cities` names {}",
                    codes.len()
                ),
            ));
        }
        let label = format!("{} cities", codes.len());
        let codes = state
            .read(move |c| {
                for code in &codes {
                    db::cities::require_in_path(c, code)?;
                }
                Ok(codes.iter().map(CityCode::to_string).collect())
            })
            .await?;
        return Ok((codes, label));
    }
    let (countries, place) = match (&q.country, &q.region) {
        (Some(country), _) => {
            let country = parse_country(country)?;
            (vec![country.clone()], country)
        }
        (None, Some(region)) => {
            let region = WorldRegion::parse(region)?;
            let title = region.title();
            (region.countries, title)
        }
        (None, None) => return Err(ApiError::new(ErrorCode::InvalidQuery, GROUP_KINDS)),
    };
    let (codes, total) = state
        .read(move |c| db::briefing::busiest_of_countries(c, &countries, MAX_GROUP))
        .await?;
    if codes.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("no city of {place} has a partnership"),
        ));
    }
    let label = if total > codes.len() {
        format!(
            "the {} cities of {place} with the most partnerships (of {total})",
            codes.len()
        )
    } else {
        format!("the {} cities of {place} with partnerships", codes.len())
    };
    Ok((codes, label))
}

/// The briefing of a group of cities: a summary row per city, then each city's briefing
/// (partnerships by status, status changes with their reasons, MOUs executed and pending,
/// engagement by mode, achievements), as Markdown, HTML (prints one city a page) or CSV. It
/// states the signed checkpoint it was built from: every figure is the registry's at that
/// log size, which a reader checks with the registry's key (docs/auditing.md).
#[utoipa::path(
    tag = "reports",
    operation_id = "group_briefing",
    params(GroupBriefingQuery),
    responses(
        (status = 200, description = "the report: Markdown (`format=md`), HTML (`html`), CSV (`csv`) or PDF (`pdf`, A4, with the engagement charts)", content(
            (String = "text/markdown"),
            (String = "text/html"),
            (String = "text/csv"),
            (super::openapi::FileBytes = "application/pdf")
        )),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem),
        (status = 503, body = Problem, description = "the log kept growing under the read; retry")
    )
)]
#[get("/briefings")]
pub async fn group_briefing(
    state: web::Data<AppState>,
    query: Result<web::Query<GroupBriefingQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let q = query
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
        .into_inner();
    let format = report_format(q.format.as_deref())?;
    let period = Period::parse(q.from.as_deref(), q.to.as_deref())?;
    let (codes, label) = group_cities(&state, &q).await?;
    let group = read_at_checkpoint(&state, codes, period).await?;
    let heading = format!(
        "Briefing: {label}, {} to {}",
        format_date(period.from),
        format_date(period.to)
    );
    let (content_type, body): (&str, Vec<u8>) = match format {
        "html" => (
            "text/html; charset=utf-8",
            group_html(&heading, &group).into_string().into(),
        ),
        "csv" => ("text/csv; charset=utf-8", group_csv(&group)?.into()),
        "pdf" => {
            let markdown = group_markdown(&heading, &group);
            ("application/pdf", typeset(heading, markdown).await?)
        }
        _ => (
            "text/markdown; charset=utf-8",
            group_markdown(&heading, &group).into(),
        ),
    };
    let file = format!(
        "briefing-group-{}-{}.{format}",
        format_date(period.from),
        format_date(period.to)
    );
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{file}\""),
        ))
        .body(body))
}

/// One summary row of a city: (code, name, country, partnerships, active, curtailed, cut
/// off, status changes, MOUs executed, activities, participants).
fn summary(b: &Briefing) -> [String; 11] {
    let count = |status: &str| {
        b.by_status
            .values()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, l)| l.len())
    };
    [
        b.city_code.clone(),
        b.city_name.clone(),
        b.country.clone(),
        b.total_partnerships().to_string(),
        count("active").to_string(),
        count("curtailed").to_string(),
        count("cut_off").to_string(),
        b.changes.len().to_string(),
        b.executed.len().to_string(),
        b.engagement.total.to_string(),
        b.engagement.participants.to_string(),
    ]
}

const SUMMARY_HEADER: [&str; 11] = [
    "code",
    "city",
    "country",
    "partnerships",
    "active",
    "curtailed",
    "cut off",
    "status changes",
    "MOUs executed",
    "activities",
    "participants",
];

/// What the reader checks the report against.
fn provenance(checkpoint: &CheckpointRow) -> String {
    format!(
        "Built from the registry's log at size {} (entries 0 to {}), root {}; the signed \
         checkpoint of that size follows. Check it with the registry's key \
         (/api/v1/log/key) and that later checkpoints extend it (consistency proofs).",
        checkpoint.size,
        checkpoint.size - 1,
        hex::encode(&checkpoint.root)
    )
}

fn group_markdown(heading: &str, g: &GroupBriefing) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", md(heading));
    let _ = writeln!(
        s,
        "{}\n\n```text\n{}```\n",
        provenance(&g.checkpoint),
        g.checkpoint.note
    );
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(s, "| {} |", SUMMARY_HEADER.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(SUMMARY_HEADER.len()));
    for b in &g.briefings {
        let cells: Vec<String> = summary(b).iter().map(|c| md(c)).collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    for b in &g.briefings {
        s.push('\n');
        // Each city's briefing, one heading level down.
        for line in markdown(b).lines() {
            if line.starts_with('#') {
                s.push('#');
            }
            s.push_str(line);
            s.push('\n');
        }
    }
    s
}

fn group_html(heading: &str, g: &GroupBriefing) -> Markup {
    html_page(
        heading,
        html! {
            h1 { (heading) }
            p id="provenance" { (provenance(&g.checkpoint)) }
            pre id="checkpoint" { (g.checkpoint.note) }
            h2 { "Summary" }
            table id="summary" {
                tr { @for h in SUMMARY_HEADER { th { (h) } } }
                @for b in &g.briefings { tr { @for cell in summary(b) { td { (cell) } } } }
            }
            @for b in &g.briefings {
                section class="city" {
                    h1 { (title(b)) }
                    (html_sections(b))
                }
            }
        },
    )
}

fn group_csv(g: &GroupBriefing) -> Result<String, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    write_csv_row(
        &mut w,
        [
            "city", "section", "date", "partner", "status", "kind", "detail",
        ],
    )?;
    let size = g.checkpoint.size.to_string();
    let root = hex::encode(&g.checkpoint.root);
    write_csv_row(&mut w, ["", "checkpoint", "", "", "", &size, &root])?;
    for b in &g.briefings {
        write_csv_rows(&mut w, b, Some(&b.city_code))?;
    }
    let bytes = w.into_inner().map_err(|_| ApiError::internal())?;
    String::from_utf8(bytes).map_err(|_| ApiError::internal())
}
