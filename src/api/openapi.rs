//! The OpenAPI document: the info block here, every path collected from the handlers.

use actix_web::{HttpResponse, get};
use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Amity",
        description = "Registry of record for sister-city partnerships and the MOUs behind them. \
                       Errors are RFC 9457 problem documents with a stable `code`. \
                       Any request may carry `Amity-Min-Log-Index: N` (a whole number from 0, \
                       else 400 `invalid_min_log_index`): on a server reading from a replica, \
                       the reads of a GET then include log entry N (read-your-writes), and \
                       the answer's `Amity-Read-From` says whether the replica or the primary \
                       served them."
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
    // Inline, and without a doc comment (which would wrap it in a `oneOf`): the schema is
    // a string with the enum of every code, described by `ErrorCode`'s schema.
    #[schema(inline)]
    code: crate::domain::ErrorCode,
}

/// A raw upload body: the file's exact bytes (the document's schema for `application/pdf`,
/// `text/plain`, `text/csv`, `application/octet-stream` and the like).
pub struct FileBytes;

impl utoipa::PartialSchema for FileBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for FileBytes {}

/// A `multipart/form-data` upload: one file part per document (its content type and file name
/// are kept; an MOU version takes up to eight, one per language); the part's field name is
/// free.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FileForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

const PROBLEM_REF: &str = "#/components/schemas/Problem";

/// Makes the document say what the service does with errors, for every operation at once:
/// problem bodies are `application/problem+json` (the annotations can only name the schema),
/// and the refusals the framework layer gives before a handler runs are listed: 400 for a path,
/// query or body that does not parse, 413 and 415 for a body too large or of another type, and
/// 503 with Retry-After on every operation that writes (`write_queue_full`, `writer_stopped`).
/// Path parameters get the schema of what they name (`domain::schemas::path_parameter`).
/// Each problem response names the schema of its status (`Problem422`), whose `code` enum
/// holds only the codes answered with that status.
pub fn document_problems(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Ref, RefOr};
    let mut statuses = std::collections::BTreeSet::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        // Writes go through group commit (`AppState::write`), which refuses with 503 when its
        // queue is full or its writer stopped; the import writes its batches directly.
        let writes = path.as_str() != "/api/v1/admin/import";
        let ops = [
            (&mut item.get, false),
            (&mut item.post, writes),
            (&mut item.put, writes),
            (&mut item.patch, writes),
            (&mut item.delete, writes),
            (&mut item.head, false),
            (&mut item.options, false),
            (&mut item.trace, false),
        ];
        for (op, is_write) in ops {
            let Some(op) = op else {
                continue;
            };
            for parameter in op.parameters.iter_mut().flatten() {
                if parameter.parameter_in == utoipa::openapi::path::ParameterIn::Path
                    && let Some(schema) = crate::domain::schemas::path_parameter(&parameter.name)
                {
                    parameter.schema = Some(schema);
                }
            }
            let takes_input = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let has_body = op.request_body.is_some();
            add_framework_refusals(&mut op.responses.responses, takes_input, has_body, is_write);
            for (status, response) in op.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let content = response
                    .content
                    .shift_remove("application/json")
                    .or_else(|| response.content.shift_remove(crate::error::PROBLEM_JSON));
                let Some(mut content) = content else {
                    continue;
                };
                let is_problem =
                    matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location == PROBLEM_REF);
                let Some(status) = status.parse::<u16>().ok().filter(|_| is_problem) else {
                    response
                        .content
                        .insert("application/json".to_string(), content);
                    continue;
                };
                // The problem of this status: only the codes answered with it.
                statuses.insert(status);
                content.schema = Some(RefOr::Ref(Ref::new(format!(
                    "#/components/schemas/{}",
                    problem_schema_name(status)
                ))));
                response
                    .content
                    .insert(crate::error::PROBLEM_JSON.to_string(), content);
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for status in statuses {
        components
            .schemas
            .insert(problem_schema_name(status), problem_of_status(status));
    }
}

/// Adds the refusals the framework layer gives before a handler runs (see
/// [`document_problems`]).
fn add_framework_refusals(
    responses: &mut std::collections::BTreeMap<
        String,
        utoipa::openapi::RefOr<utoipa::openapi::Response>,
    >,
    takes_input: bool,
    has_body: bool,
    is_write: bool,
) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    crate::error::PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::new(PROBLEM_REF)))
                        .build(),
                )
                .build(),
        )
    };
    if takes_input || has_body {
        responses
            .entry("400".into())
            .or_insert_with(|| problem("A path, query or body that does not parse"));
    }
    // Past the per-address budget of failed token checks, a request carrying a
    // token is refused before the handler runs (api/auth.rs), on any operation.
    responses.entry("429".into()).or_insert_with(|| {
        problem("Too many failed authentications from this address; see Retry-After")
    });
    if is_write {
        responses.entry("503".into()).or_insert_with(|| {
            let mut r = problem(
                "The write was not made: too many writes wait to be committed \
                     (`write_queue_full`, send it again after Retry-After) or the service \
                     cannot commit writes (`writer_stopped`)",
            );
            if let RefOr::T(r) = &mut r {
                r.headers.insert(
                    "Retry-After".into(),
                    HeaderBuilder::new()
                        .schema(
                            ObjectBuilder::new()
                                .schema_type(SchemaType::Type(Type::Integer))
                                .minimum(Some(0)),
                        )
                        .description(Some(
                            "Seconds to wait before sending the write again \
                                 (with `write_queue_full`)",
                        ))
                        .build(),
                );
            }
            r
        });
    }
    if has_body {
        responses
            .entry("413".into())
            .or_insert_with(|| problem("The body is larger than this operation takes"));
        responses
            .entry("415".into())
            .or_insert_with(|| problem("The body is not of a type this operation takes"));
    }
}

/// The name of the problem schema of one HTTP status (`Problem404`).
fn problem_schema_name(status: u16) -> String {
    format!("Problem{status}")
}

/// `Problem` narrowed to one status: `status` is that number and `code` one of the codes
/// answered with it, taken from the one table of codes (`ErrorCode`), so a client generated
/// from the document can switch on the codes each response can carry.
fn problem_of_status(status: u16) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::Ref;
    use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, SchemaType, Type};
    let codes = crate::domain::ErrorCode::answered_with(status);
    let mut narrowed = ObjectBuilder::new().property(
        "status",
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Integer))
            .enum_values(Some([status])),
    );
    if !codes.is_empty() {
        narrowed = narrowed.property(
            "code",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .enum_values(Some(codes)),
        );
    }
    AllOfBuilder::new()
        .item(Ref::new(PROBLEM_REF))
        .item(narrowed)
        .description(Some(format!(
            "A problem document answered with HTTP {status}; `code` is one of the codes listed."
        )))
        .into()
}

/// Every operation of a serialized document, with its `operationId`: the one walk that the
/// additions made to the JSON (links, rules, examples) share.
pub fn operations_mut(
    doc: &mut serde_json::Value,
) -> impl Iterator<Item = (String, &mut serde_json::Value)> {
    use serde_json::Value;
    doc.get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|op| {
            let id = op.get("operationId")?.as_str()?.to_string();
            Some((id, op))
        })
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
    HttpResponse::Ok().json(super::openapi_json_doc())
}
