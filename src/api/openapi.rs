//! The OpenAPI document: the info block here, every path collected from the handlers.

use actix_web::{HttpResponse, get};
use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Amity",
        description = "Registry of record for sister-city partnerships and the MOUs behind them. \
                       Errors are RFC 9457 problem documents with a stable `code`."
    ),
    modifiers(&BearerAuth),
    components(schemas(Problem))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// RFC 9457 problem document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    #[schema(example = "urn:amity:problem:invalid_transition")]
    r#type: String,
    title: String,
    status: u16,
    detail: String,
    /// Stable snake_case code to branch on.
    code: String,
}

/// The HTTP methods of a path item, upper case.
pub fn methods_of(item: &utoipa::openapi::PathItem) -> Vec<String> {
    let mut out = Vec::new();
    let pairs = [
        ("GET", &item.get),
        ("POST", &item.post),
        ("PUT", &item.put),
        ("PATCH", &item.patch),
        ("DELETE", &item.delete),
        ("HEAD", &item.head),
        ("OPTIONS", &item.options),
    ];
    for (name, op) in pairs {
        if op.is_some() {
            out.push(name.to_string());
        }
    }
    out
}

/// This document, generated from the code.
#[utoipa::path(tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document")))]
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(super::openapi_doc())
}
