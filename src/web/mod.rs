//! Server-rendered pages for people who will not write curl commands: the registry, a city,
//! a partnership, an MOU, the log. Reading works without JavaScript; pictures are SVG drawn on
//! the server. Every page takes its data from the same db functions as the API, and every form
//! writes through the same use cases (`crate::app`).

mod assets;
mod briefings;
mod forms;
mod layout;
mod pages;
pub mod reference;
pub mod session;
mod signing;
pub mod svg;
mod webhooks;

use actix_web::web;

/// Registers the pages on the app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(assets::stylesheet)
        .service(assets::icon)
        .service(assets::favicon)
        .service(assets::script)
        .service(signing::page)
        .service(pages::home)
        .service(briefings::briefings)
        .service(pages::search)
        .service(pages::registry_map)
        .service(pages::city)
        .service(pages::city_map)
        .service(pages::city_chart)
        .service(pages::partnership)
        .service(pages::mou)
        .service(pages::log)
        .service(reference::api_docs)
        .service(pages::signin_page)
        .service(forms::signin)
        .service(forms::signout)
        .service(forms::status_form)
        .service(forms::activity_form)
        .service(forms::propose_form)
        .service(forms::version_form)
        .service(forms::evidence_form)
        .service(forms::outcome_form)
        .service(forms::commitment_form)
        .service(forms::resolution_form)
        .service(forms::round_form)
        .service(forms::cancel_requests_form)
        .service(webhooks::page)
        .service(webhooks::register_form)
        .service(webhooks::enabled_form)
        .service(webhooks::resend_form);
}
