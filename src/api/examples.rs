//! The examples of the served document. Requests and replies come from `examples.json`, which
//! is recorded from a walk through every operation (Coventry and Volgograd's twinning, in
//! tests/api/examples.rs, which also checks each example against its schema); problem
//! documents get one example per status, from the table of error codes.

use serde_json::Value;

use crate::domain::ErrorCode;

/// The recorded examples: `{operationId: {"request": {media: example},
/// "responses": {status: {media: example}}}}`.
const RECORDED: &str = include_str!("examples.json");

/// Puts every example where it belongs: request bodies and replies by media type, and the
/// problem schemas of each status (`Problem404`, ...).
pub fn add_examples(doc: &mut Value) {
    let recorded: Value = serde_json::from_str(RECORDED).unwrap_or_default();
    for (id, op) in super::openapi::operations_mut(doc) {
        let Some(examples) = recorded.get(&id) else {
            continue;
        };
        place(
            op.pointer_mut("/requestBody/content"),
            examples.get("request"),
        );
        let responses = examples.get("responses").and_then(Value::as_object);
        for (status, by_media) in responses.into_iter().flatten() {
            let content = op.pointer_mut(&format!("/responses/{status}/content"));
            place(content, Some(by_media));
        }
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            let Some(status) = name
                .strip_prefix("Problem")
                .and_then(|s| s.parse::<u16>().ok())
            else {
                continue;
            };
            if let (Some(example), Some(schema)) = (problem_example(status), schema.as_object_mut())
            {
                schema.insert("example".into(), example);
            }
        }
    }
}

/// Sets `content[media].example` for each example whose media type the content lists.
fn place(content: Option<&mut Value>, examples: Option<&Value>) {
    let (Some(content), Some(examples)) = (content, examples.and_then(Value::as_object)) else {
        return;
    };
    for (media, example) in examples {
        if let Some(slot) = content.get_mut(media).and_then(Value::as_object_mut) {
            slot.insert("example".into(), example.clone());
        }
    }
}

/// A problem document of `status` as the server writes one (`ApiError::body`), for the first
/// code (by name) answered with that status.
fn problem_example(status: u16) -> Option<Value> {
    let code = ErrorCode::ALL
        .iter()
        .filter(|c| c.http_status() == status)
        .min_by_key(|c| c.as_str())?;
    Some(crate::error::ApiError::new(*code, code.description()).body())
}
