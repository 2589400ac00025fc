//! The frame every page shares, and how pages, errors and pictures are answered.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use crate::error::ApiError;

pub(super) fn layout(title: &str, body: Markup) -> HttpResponse {
    layout_with_script(title, body, None)
}

/// A page that loads one of the project's own scripts (same origin, hashed name, `defer`):
/// only the signing page has one; every other page works without JavaScript.
pub(super) fn layout_with_script(title: &str, body: Markup, script: Option<&str>) -> HttpResponse {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Amity" }
                link rel="stylesheet" href="/assets/amity.css";
                link rel="icon" type="image/svg+xml" href="/assets/amity.svg";
                @if let Some(src) = script { script src=(src) defer {} }
            }
            body {
                header { a href="/" { strong { "Amity" } } a href="/search" { "Cities" } a href="/briefings" { "Briefings" } a href="/log" { "Log" } a href="/api/docs" { "API" } a href="/signin" { "Office sign-in" } }
                main { (body) }
                footer {
                    "Amity, the registry of record for sister-city partnerships. Imported partnership data: Wikipedia, "
                    "\"List of twin towns and sister cities\" pages, CC BY-SA 4.0."
                }
            }
        }
    };
    html_response(StatusCode::OK, page)
}

pub(super) fn html_response(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self'; style-src 'self'; frame-ancestors 'none'",
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        // For browsers that predate CSP frame-ancestors: no page may be framed (clickjacking).
        .insert_header(("X-Frame-Options", "DENY"))
        .body(page.into_string())
}

/// A page with the CSRF cookie it just minted, if it minted one.
pub(super) fn with_cookie(
    mut res: HttpResponse,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    if let Some(cookie) = cookie {
        let _ = res.add_cookie(&cookie);
    }
    res
}

/// An error as a page, with the problem's status and words.
pub(super) fn error_page(e: ApiError) -> HttpResponse {
    let status = e.status;
    let mut res = layout(
        "Not available",
        html! { h1 { (status.canonical_reason().unwrap_or("Error")) } p { (e.detail) } p { a href="/" { "Back to the registry" } } },
    );
    *res.status_mut() = status;
    if let Some(secs) = e
        .extra
        .as_ref()
        .and_then(|x| x.get("retry_after"))
        .and_then(serde_json::Value::as_u64)
    {
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(secs),
        );
    }
    res
}

pub(super) fn svg_response(svg: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .body(svg)
}
