//! The HTTP API: actix handlers by resource, the auth extractor, error plumbing, metrics and
//! the OpenAPI document generated from the handlers themselves.

pub mod activities;
pub mod auth;
pub mod briefing;
pub mod briefing_pdf;
pub mod bundle;
pub mod cities;
pub mod documents;
pub mod examples;
pub mod fallback;
pub mod groups;
pub mod health;
pub mod import;
pub mod json_numbers;
pub mod keys;
pub mod limits;
pub mod links;
pub mod log;
pub mod mous;
pub mod observe;
pub mod openapi;
pub mod outcomes;
pub mod pagination;
pub mod partnerships;
pub mod replica;
pub mod requests;
pub mod rules;
pub mod signatures;
pub mod signing;
pub mod state;
pub mod tokens;
pub mod views;
pub mod webhooks;

use actix_web::App;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, UtoipaApp, scope};

pub use state::AppState;

/// Request bodies of JSON endpoints are small; documents have their own limit.
pub const JSON_LIMIT: usize = 64 * 1024;

/// Every API route, registered once: the served app (`server::app`, which adds the pages after
/// these) and the OpenAPI document come from this list, so the document cannot miss a route.
pub fn routes() -> UtoipaApp<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // actix tries routes in registration order, running each dynamic path's regex until one
    // matches: routing took 8.6% of the worker in a by-id read's profile, most of it on the
    // patterns tried before the right one (4% after this order). So the API scope (one prefix
    // comparison) comes before the pages' eleven dynamic paths, and the hottest API routes
    // come first in it. No two routes match the same
    // path and method, so the order changes nothing else; the document sorts paths anyway.
    App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .service(
            scope("/api/v1")
                .service(signatures::submit)
                .service(partnerships::get)
                .service(partnerships::list)
                .service(log::checkpoint)
                .service(log::inclusion_proof)
                .service(log::entry)
                .service(openapi::openapi_json)
                .service(cities::create_city)
                .service(cities::list_cities)
                .service(cities::get_city)
                .service(cities::dormant_partnerships)
                .service(cities::create_office)
                .service(tokens::create_token)
                .service(tokens::revoke_token)
                .service(import::import)
                .service(partnerships::create)
                .service(partnerships::history)
                .service(partnerships::confirm)
                .service(partnerships::change_status)
                .service(activities::record)
                .service(activities::list)
                .service(activities::engagement)
                .service(activities::results)
                .service(activities::add_evidence)
                .service(activities::list_evidence)
                .service(activities::evidence_document)
                .service(outcomes::record_outcome)
                .service(outcomes::list_outcomes)
                .service(outcomes::make_commitment)
                .service(outcomes::list_commitments)
                .service(outcomes::resolve_commitment)
                .service(outcomes::overdue_commitments)
                .service(briefing::briefing)
                .service(briefing::group_briefing)
                .service(groups::create_group)
                .service(groups::save_group)
                .service(groups::list_groups)
                .service(groups::get_group)
                .service(keys::challenge)
                .service(keys::register)
                .service(keys::list)
                .service(keys::get)
                .service(keys::approve)
                .service(keys::retire)
                .service(keys::revoke)
                .service(mous::create)
                .service(mous::list)
                .service(mous::get)
                .service(mous::upload)
                .service(mous::document)
                .service(mous::version_document)
                .service(mous::withdraw)
                .service(signatures::signing_statement)
                .service(signatures::chain)
                .service(signatures::list)
                .service(signatures::audit_report)
                .service(requests::send)
                .service(requests::list)
                .service(requests::cancel)
                .service(requests::get)
                .service(requests::decline_statement)
                .service(requests::decline)
                .service(signing::issue_link)
                .service(signing::open_link)
                .service(signing::statement)
                .service(signing::key_challenge)
                .service(signing::register_key)
                .service(signing::answer)
                .service(signing::document)
                .service(webhooks::register)
                .service(webhooks::list)
                .service(webhooks::get)
                .service(webhooks::rotate)
                .service(webhooks::set_enabled)
                .service(webhooks::messages)
                .service(webhooks::resend)
                .service(webhooks::set_contact)
                .service(webhooks::contacts)
                .service(bundle::bundle)
                .service(log::entries)
                .service(log::key)
                .service(log::consistency_proof),
        )
        .service(health::healthz)
        .service(health::metrics)
}

/// The OpenAPI document as served: [`openapi_doc`] with the links between operations, the
/// rules no schema can state and the examples. Built once per process (it follows from the
/// code alone), not on every request for it.
pub fn openapi_json_doc() -> &'static serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(openapi_doc()).unwrap_or_default();
        links::add_links(&mut doc);
        rules::add_rules(&mut doc);
        examples::add_examples(&mut doc);
        doc
    })
}

/// The OpenAPI document of every route.
pub fn openapi_doc() -> utoipa::openapi::OpenApi {
    let mut doc = routes().split_for_parts().1;
    openapi::document_problems(&mut doc);
    doc
}
