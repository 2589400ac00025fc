//! The briefings page: the ways to brief a group of cities (named groups, world regions, a
//! country, a list of cities), each linking to the briefing in its four formats. The
//! briefings themselves are the API's (`/api/v1/briefings`), so this page only points at them.

use actix_web::{HttpResponse, get, web};
use maud::{Markup, html};

use super::layout::{error_page, layout};
use crate::api::AppState;
use crate::db;
use crate::domain::regions::{REGION_NAMES, WorldRegion};

/// Named groups shown on the page; the rest are a page of the API away.
const GROUPS_SHOWN: i64 = 200;

/// Links to a group briefing's four formats; `query` names the group (`group=ID`, ...).
fn formats(query: &str) -> Markup {
    html! {
        a href={ "/api/v1/briefings?" (query) "&format=html" } { "HTML" } " · "
        a href={ "/api/v1/briefings?" (query) "&format=pdf" } { "PDF" } " · "
        a href={ "/api/v1/briefings?" (query) "&format=md" } { "Markdown" } " · "
        a href={ "/api/v1/briefings?" (query) "&format=csv" } { "CSV" }
    }
}

#[get("/briefings")]
pub(super) async fn briefings(state: web::Data<AppState>) -> HttpResponse {
    let groups = match state
        .read(|c| db::groups::list(c, None, GROUPS_SHOWN))
        .await
    {
        Ok(g) => g,
        Err(e) => return error_page(e),
    };
    let regions: Vec<WorldRegion> = REGION_NAMES
        .iter()
        .filter_map(|name| WorldRegion::parse(name).ok())
        .collect();
    layout(
        "Briefings",
        html! {
            h1 { "Briefings of groups of cities" }
            p {
                "A briefing gathers, for each city of a group and over a period (the last year "
                "unless the link says otherwise), its partnerships by status, the changes with "
                "their reasons, the MOUs executed, engagement by mode and year, outcomes, "
                "commitments and dormant ties, and names the signed checkpoint it was read at. "
                "A single city's briefing is on its page."
            }
            h2 { "Named groups" }
            @if groups.is_empty() {
                p { "No named group yet. An admin or an association keeps them (POST /api/v1/city-groups)." }
            } @else {
                table id="groups" {
                    tr { th { "group" } th { "cities" } th { "kept by" } th { "briefing" } }
                    @for g in groups.iter().take(GROUPS_SHOWN as usize) {
                        tr {
                            td { (g.name) }
                            td { (g.city_codes().len()) }
                            td { @if g.keeper.is_some() { "an association" } @else { "the administrators" } }
                            td { (formats(&format!("group={}", g.id))) }
                        }
                    }
                }
                @if groups.len() > GROUPS_SHOWN as usize {
                    p { "More groups: " a href="/api/v1/city-groups" { "the full list" } "." }
                }
            }
            h2 { "World regions" }
            p { "The 50 cities with the most partnerships in the countries of a UN M49 region or subregion." }
            table id="regions" {
                tr { th { "region" } th { "countries" } th { "briefing" } }
                @for r in &regions {
                    tr {
                        td { (r.title()) }
                        td { (r.countries.len()) }
                        td { (formats(&format!("region={}", r.name))) }
                    }
                }
            }
            h2 { "A country, or a list of cities" }
            form action="/api/v1/briefings" method="get" {
                p { label { "Country (ISO code) " input type="text" name="country" required pattern="[A-Z]{2}" maxlength="2" placeholder="DE"; } }
                p { label { "Format " select name="format" { @for f in ["html", "pdf", "md", "csv"] { option value=(f) { (f) } } } } }
                p { button type="submit" { "Brief the country" } }
            }
            form action="/api/v1/briefings" method="get" {
                p { label { "City codes, comma-separated (2 to 50) " input type="text" name="cities" required maxlength="1600" placeholder="us-hou,cn-sha,de-ber"; } }
                p { label { "Format " select name="format" { @for f in ["html", "pdf", "md", "csv"] { option value=(f) { (f) } } } } }
                p { button type="submit" { "Brief the cities" } }
            }
        },
    )
}
