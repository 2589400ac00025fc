//! A city's briefing report as Markdown, HTML (prints well) or CSV.

use crate::domain::ErrorCode;
use crate::domain::schemas as S;
use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::openapi::Problem;
use crate::db;
use crate::domain::briefing::{Briefing, Period};
use crate::domain::cities::CityCode;
use crate::domain::dates::format_date;
use crate::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BriefingQuery {
    /// `md` (default), `html` or `csv`.
    #[param(value_type = Option<String>, pattern = "^(md|html|csv)$")]
    pub format: Option<String>,
    /// First day of the period (default: a year before `to`).
    #[param(value_type = Option<S::Date>, inline)]
    pub from: Option<String>,
    /// Last day of the period (default: today); not before `from`.
    #[param(value_type = Option<S::Date>, inline)]
    pub to: Option<String>,
}

/// A city's briefing: partnerships by status, status changes in the period with their reasons,
/// MOUs executed and pending, engagement by mode, and achievements from activity outcomes.
#[utoipa::path(
    tag = "reports",
    params(("code" = String, Path, description = "City code"), BriefingQuery),
    responses(
        (status = 200, description = "the report: Markdown (`format=md`), HTML (`html`) or CSV (`csv`)", content(
            (String = "text/markdown"),
            (String = "text/html"),
            (String = "text/csv")
        )),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)
    )
)]
#[get("/cities/{code}/briefing")]
pub async fn briefing(
    state: web::Data<AppState>,
    code: web::Path<String>,
    query: web::Query<BriefingQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let format = q.format.unwrap_or_else(|| "md".into());
    if !matches!(format.as_str(), "md" | "html" | "csv") {
        return Err(ApiError::new(
            ErrorCode::InvalidFormat,
            format!("`format` must be md, html or csv, got {format:?}"),
        ));
    }
    let period = Period::parse(q.from.as_deref(), q.to.as_deref())?;
    let code = CityCode::parse(&code)?;
    let b = state
        .read(move |c| db::briefing::gather(c, code.as_str(), period))
        .await?;
    let file = format!(
        "briefing-{}-{}-{}.{format}",
        b.city_code,
        format_date(period.from),
        format_date(period.to)
    );
    let (content_type, body) = match format.as_str() {
        "html" => ("text/html; charset=utf-8", html_report(&b).into_string()),
        "csv" => ("text/csv; charset=utf-8", csv_report(&b)?),
        _ => ("text/markdown; charset=utf-8", markdown(&b)),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{file}\""),
        ))
        .body(body))
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
    s
}

fn html_report(b: &Briefing) -> Markup {
    let e = &b.engagement;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title(b)) }
                style { "body{font:11pt/1.4 Georgia,serif;max-width:48em;margin:2em auto;color:#111}h1{font-size:1.5em}h2{border-bottom:1px solid #999;margin-top:1.5em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .6em;text-align:left}@media print{body{margin:0}h2{break-after:avoid}}" }
            }
            body {
                h1 { (title(b)) }
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
            }
        }
    }
}

fn csv_report(b: &Briefing) -> Result<String, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let write = |w: &mut csv::Writer<Vec<u8>>, row: [&str; 6]| {
        w.write_record(row).map_err(|e| {
            tracing::error!(error = %e, "csv");
            ApiError::internal()
        })
    };
    write(
        &mut w,
        ["section", "date", "partner", "status", "kind", "detail"],
    )?;
    for (status, lines) in b.by_status.values() {
        for l in lines {
            write(
                &mut w,
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
            &mut w,
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
        write(&mut w, ["mou", "", &m.partner_name, &m.state, "", &m.title])?;
    }
    let e = &b.engagement;
    for (mode, n) in [
        ("in_person", e.in_person),
        ("virtual", e.virtual_),
        ("hybrid", e.hybrid),
    ] {
        write(&mut w, ["engagement", "", "", "", mode, &n.to_string()])?;
    }
    for a in &b.achievements {
        let date = format_date(a.date);
        write(
            &mut w,
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
    let bytes = w.into_inner().map_err(|_| ApiError::internal())?;
    String::from_utf8(bytes).map_err(|_| ApiError::internal())
}
