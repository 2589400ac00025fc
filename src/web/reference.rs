//! The API reference at `/api/docs`: the served OpenAPI document
//! ([`crate::api::openapi_json_doc`]) drawn on the server as one HTML page. A third-party
//! viewer would need scripts and inline styles the site's Content-Security-Policy refuses, and
//! a hand-written reference would drift from the handlers; this page is neither.
//!
//! The renderer walks the document as plain JSON and assumes nothing about its shape: every
//! lookup is `Value::get`, a missing or mistyped field renders as nothing, a `$ref` chain is
//! followed a bounded number of hops, nesting stops at a depth limit and at a schema already
//! being expanded, and a node budget bounds the whole page. So an odd, cyclic or hostile
//! document renders (perhaps cut short) instead of panicking, looping or exhausting memory.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use actix_web::{HttpResponse, get};
use maud::{Markup, PreEscaped, html};
use serde_json::Value;

use super::layout::layout;

/// Where the raw document is served; the page links to it for tools.
const DOCUMENT_URL: &str = "/api/v1/openapi.json";

/// `$ref` hops followed before a reference is taken for a cycle (real chains are one hop).
const MAX_REF_HOPS: usize = 8;

/// How deep nested schemas are expanded: enough for an object in an array in a body, and a
/// bound on what a self-referencing schema can expand to.
const MAX_DEPTH: usize = 4;

/// Schema nodes drawn on one page at most: the served document needs about 3,000 (a 320 KB
/// page), and a document whose schemas fan out (each field a reference to a wide schema) stops
/// here instead of growing the page exponentially with the depth.
const MAX_NODES: usize = 20_000;

/// The keys of a path item that are operations, in the order a reader expects them; the other
/// keys (`parameters`, `summary`, `servers`) are not.
const METHODS: [&str; 8] = [
    "get", "put", "post", "patch", "delete", "head", "options", "trace",
];

/// Validation keywords shown next to a type, by their OpenAPI names (which is what a reader
/// checks a client against).
const CONSTRAINTS: [&str; 13] = [
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
];

/// Enum values shown inline; more are folded away until the reader opens them.
const ENUM_FOLD: usize = 16;

/// The group of operations that have no tag.
const UNTAGGED: &str = "other";

/// The shared error schema, and the schema of the error codes if the document names one apart.
const PROBLEM_SCHEMA: &str = "Problem";
const ERROR_CODE_SCHEMA: &str = "ErrorCode";

/// Where component schemas live; a `$ref` under it gets a link to the schema's section.
const SCHEMA_REF_PREFIX: &str = "#/components/schemas/";

/// The page. The document is fixed for the life of the process, so it is rendered once.
#[get("/api/docs")]
pub(super) async fn api_docs() -> HttpResponse {
    static PAGE: OnceLock<String> = OnceLock::new();
    let body = PAGE.get_or_init(|| render(crate::api::openapi_json_doc()));
    layout("API reference", PreEscaped(body.clone()))
}

/// The reference's content (everything inside `<main>`) for any JSON value: public so tests
/// can feed it documents the service would never serve.
pub fn render(doc: &Value) -> String {
    Reference::new(doc).page().into_string()
}

/// One operation of the document, with the path item it belongs to (which may hold
/// parameters shared by its operations).
struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    item: &'a Value,
    op: &'a Value,
}

impl<'a> Operation<'a> {
    /// The operation's HTML id: its operationId, which is what OpenAPI links name.
    fn anchor(&self) -> String {
        match str_at(self.op, "operationId") {
            Some(id) => anchor(id),
            None => anchor(&format!("{}-{}", self.method, self.path)),
        }
    }

    /// The tag it is listed under: its first.
    fn tag(&self) -> &'a str {
        arr(self.op, "tags")
            .find_map(Value::as_str)
            .unwrap_or(UNTAGGED)
    }

    fn short_summary(&self) -> Option<String> {
        str_at(self.op, "summary").map(first_sentence)
    }
}

/// Where a walk through nested schemas is: how deep, which referenced schemas it is inside
/// (expanding one of those again would loop), and whether references are expanded at all (in
/// a request body, yes; in the schema list, where each has its own section, no: they link).
#[derive(Clone, Default)]
struct Walk<'a> {
    depth: usize,
    inside: Vec<&'a str>,
    expand_refs: bool,
}

impl<'a> Walk<'a> {
    fn expanding() -> Walk<'a> {
        Walk {
            expand_refs: true,
            ..Walk::default()
        }
    }

    fn deeper(&self) -> Walk<'a> {
        Walk {
            depth: self.depth + 1,
            ..self.clone()
        }
    }

    fn entering(&self, reference: &'a str) -> Walk<'a> {
        let mut next = self.deeper();
        next.inside.push(reference);
        next
    }
}

/// The renderer: the document and what is left of the node budget.
struct Reference<'a> {
    doc: &'a Value,
    budget: Cell<usize>,
}

impl<'a> Reference<'a> {
    fn new(doc: &'a Value) -> Reference<'a> {
        Reference {
            doc,
            budget: Cell::new(MAX_NODES),
        }
    }

    /// Takes one node from the budget; false once it is spent.
    fn spend(&self) -> bool {
        let left = self.budget.get();
        self.budget.set(left.saturating_sub(1));
        left > 0
    }

    /// What a value stands for: itself, or what its `$ref` points to (a local JSON pointer,
    /// followed through chains). None for a reference outside the document, to nothing, or
    /// around a cycle.
    fn deref(&self, mut value: &'a Value) -> Option<&'a Value> {
        for _ in 0..=MAX_REF_HOPS {
            match str_at(value, "$ref") {
                None => return Some(value),
                Some(r) => value = self.doc.pointer(r.strip_prefix('#')?)?,
            }
        }
        None
    }

    fn schemas(&self) -> impl Iterator<Item = (&'a String, &'a Value)> {
        obj(
            self.doc.get("components").unwrap_or(&Value::Null),
            "schemas",
        )
    }

    fn schema(&self, name: &str) -> Option<&'a Value> {
        self.doc
            .get("components")
            .and_then(|c| c.get("schemas"))
            .and_then(|s| s.get(name))
    }

    /// The schema a value of `schema` has when it is not null: references resolved and the
    /// `oneOf: [{type: null}, T]` and one-element `allOf` wrappers utoipa writes taken off, so
    /// constraints and descriptions are read where they are.
    fn core(&self, schema: &'a Value) -> Option<&'a Value> {
        let mut s = self.deref(schema)?;
        for _ in 0..=MAX_REF_HOPS {
            let inner = match non_null_alternatives(s).as_slice() {
                [one] => *one,
                _ => match arr_slice(s, "allOf") {
                    [one] => one,
                    _ => return Some(s),
                },
            };
            s = self.deref(inner)?;
        }
        None
    }

    /// Whether null is a value of the schema (OpenAPI 3.1 `type: [T, "null"]`, 3.0
    /// `nullable`, or a null alternative).
    fn nullable(&self, schema: &'a Value) -> bool {
        let own = |s: &Value| {
            s.get("nullable") == Some(&Value::Bool(true))
                || type_names(s).contains(&"null")
                || ["oneOf", "anyOf"]
                    .iter()
                    .any(|k| arr(s, k).any(is_null_schema))
        };
        own(schema) || self.deref(schema).is_some_and(own)
    }

    fn page(&self) -> Markup {
        let ops = self.operations();
        let groups = self.groups(&ops);
        html! {
            (self.intro())
            (self.contents(&groups))
            @for (tag, members) in &groups {
                (self.tag_section(tag, members))
            }
            (self.errors())
            (self.schema_list())
        }
    }

    /// Every operation of every path, in the document's path order.
    fn operations(&self) -> Vec<Operation<'a>> {
        let mut ops = Vec::new();
        for (path, item) in obj(self.doc, "paths") {
            let Some(item) = self.deref(item) else {
                continue;
            };
            for method in METHODS {
                if let Some(op) = item.get(method).filter(|op| op.is_object()) {
                    ops.push(Operation {
                        method,
                        path,
                        item,
                        op,
                    });
                }
            }
        }
        ops
    }

    /// The operations by tag: the document's declared tags first, in its order, then the
    /// others alphabetically. An operation is listed under its first tag only, so its id is
    /// on the page once.
    fn groups<'o>(&self, ops: &'o [Operation<'a>]) -> Vec<(&'a str, Vec<&'o Operation<'a>>)> {
        let mut by_tag: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
        for op in ops {
            by_tag.entry(op.tag()).or_default().push(op);
        }
        let mut groups = Vec::new();
        for declared in arr(self.doc, "tags").filter_map(|t| str_at(t, "name")) {
            if let Some((tag, members)) = by_tag.remove_entry(declared) {
                groups.push((tag, members));
            }
        }
        groups.extend(by_tag);
        groups
    }

    fn tag_description(&self, tag: &str) -> Option<&'a str> {
        arr(self.doc, "tags")
            .find(|t| str_at(t, "name") == Some(tag))
            .and_then(|t| str_at(t, "description"))
    }

    /// The document's title, version and description, the way to the raw document, and how
    /// operations authenticate.
    fn intro(&self) -> Markup {
        let info = self.doc.get("info").unwrap_or(&Value::Null);
        html! {
            h1 { (str_at(info, "title").unwrap_or("API")) " API reference" }
            p class="meta" {
                @if let Some(v) = str_at(info, "version") { "Version " (v) " · " }
                @if let Some(v) = str_at(self.doc, "openapi") { "OpenAPI " (v) " · " }
                "for tools and client generators: " a href=(DOCUMENT_URL) { "the document as JSON" }
            }
            @if let Some(d) = str_at(info, "description") { (prose(d)) }
            @let schemes = self.security_schemes();
            @if !schemes.is_empty() {
                p { "Operations marked with a security scheme need it:" }
                ul { @for (name, scheme) in schemes { li { code { (name) } ": " (describe_scheme(scheme)) } } }
            }
        }
    }

    fn security_schemes(&self) -> Vec<(&'a String, &'a Value)> {
        let components = self.doc.get("components").unwrap_or(&Value::Null);
        obj(components, "securitySchemes")
            .filter_map(|(name, s)| Some((name, self.deref(s)?)))
            .collect()
    }

    /// The table of contents: each tag and its operations, then the errors and the schemas.
    fn contents(&self, groups: &[(&'a str, Vec<&Operation<'a>>)]) -> Markup {
        html! {
            nav class="toc" {
                h2 { "Contents" }
                ul {
                    @for (tag, members) in groups {
                        li {
                            a href={ "#" (tag_anchor(tag)) } { (tag) }
                            ul { @for op in members { li {
                                a href={ "#" (op.anchor()) } { (method_badge(op.method)) " " code { (op.path) } }
                                @if let Some(s) = op.short_summary() { " " span class="summary" { (inline(&s)) } }
                            } } }
                        }
                    }
                    li { a href="#errors" { "Errors and their codes" } }
                    li { a href="#schemas" { "Schemas" } }
                }
            }
        }
    }

    fn tag_section(&self, tag: &str, members: &[&Operation<'a>]) -> Markup {
        html! {
            section class="tag" id=(tag_anchor(tag)) {
                h2 { (tag) }
                @if let Some(d) = self.tag_description(tag) { (prose(d)) }
                @for op in members { (self.operation(op)) }
            }
        }
    }

    fn operation(&self, o: &Operation<'a>) -> Markup {
        html! {
            section class="op" id=(o.anchor()) {
                h3 { (method_badge(o.method)) " " code { (o.path) } }
                p class="meta" {
                    @if let Some(id) = str_at(o.op, "operationId") { "operationId " code { (id) } " · " }
                    "security: " (self.security(o.op))
                    @if o.op.get("deprecated") == Some(&Value::Bool(true)) { " · " strong { "deprecated" } }
                }
                @if let Some(s) = str_at(o.op, "summary") { (prose(s)) }
                @if let Some(d) = str_at(o.op, "description") { (prose(d)) }
                (self.parameters(o))
                (self.request_body(o.op))
                (self.responses(o.op))
            }
        }
    }

    /// Who may call it: the operation's security requirements (else the document's), each
    /// satisfied by all its schemes, any one of them enough; none, anyone may call it. An empty
    /// requirement (`{}`) makes the others optional.
    fn security(&self, op: &'a Value) -> Markup {
        let requirements: Vec<Vec<&str>> = op
            .get("security")
            .or_else(|| self.doc.get("security"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(|r| r.keys().map(String::as_str).collect())
            .collect();
        let optional = requirements.iter().any(Vec::is_empty);
        let needed: Vec<&Vec<&str>> = requirements.iter().filter(|r| !r.is_empty()).collect();
        let schemes: BTreeMap<&str, &Value> = self
            .security_schemes()
            .into_iter()
            .map(|(name, s)| (name.as_str(), s))
            .collect();
        html! {
            @if needed.is_empty() { "none (anyone may call it)" }
            @for (i, requirement) in needed.iter().enumerate() {
                @if i > 0 { " or " }
                @for (j, name) in requirement.iter().enumerate() {
                    @if j > 0 { " and " }
                    strong { (name) }
                    @if let Some(s) = schemes.get(name) { " (" (describe_scheme(s)) ")" }
                }
            }
            @if optional && !needed.is_empty() { ", optional" }
        }
    }

    /// The operation's parameters with the path item's shared ones; an operation's parameter
    /// replaces a shared one of the same name and place, as OpenAPI says.
    fn parameter_list(&self, o: &Operation<'a>) -> Vec<&'a Value> {
        let key = |p: &'a Value| (str_at(p, "name"), str_at(p, "in"));
        let own: Vec<&Value> = arr(o.op, "parameters")
            .filter_map(|p| self.deref(p))
            .collect();
        let overridden: BTreeSet<_> = own.iter().map(|p| key(p)).collect();
        arr(o.item, "parameters")
            .filter_map(|p| self.deref(p))
            .filter(|p| !overridden.contains(&key(p)))
            .chain(own)
            .collect()
    }

    fn parameters(&self, o: &Operation<'a>) -> Markup {
        let params = self.parameter_list(o);
        if params.is_empty() {
            return html! {};
        }
        html! {
            h4 { "Parameters" }
            table class="params" {
                tr { th { "name" } th { "in" } th { "type" } th { "description" } }
                @for p in params { (self.parameter(p)) }
            }
        }
    }

    fn parameter(&self, p: &'a Value) -> Markup {
        let schema = p.get("schema").unwrap_or(&Value::Null);
        html! {
            tr {
                td {
                    code { (str_at(p, "name").unwrap_or("?")) }
                    @if p.get("required") == Some(&Value::Bool(true)) { " " span class="required" { "required" } }
                }
                td { (str_at(p, "in").unwrap_or("")) }
                td { (self.type_label(schema, 0)) (self.constraints(schema)) }
                td {
                    @if let Some(d) = str_at(p, "description") { (prose(d)) }
                    (self.examples(p)) (self.examples(schema))
                }
            }
        }
    }

    fn request_body(&self, op: &'a Value) -> Markup {
        let Some(body) = op.get("requestBody").and_then(|b| self.deref(b)) else {
            return html! {};
        };
        html! {
            h4 { "Request body" @if body.get("required") == Some(&Value::Bool(true)) { " " span class="required" { "required" } } }
            @if let Some(d) = str_at(body, "description") { (prose(d)) }
            @for (content_type, media) in obj(body, "content") {
                div class="media" {
                    p { code { (content_type) } ": " (self.media_schema_label(media)) }
                    (self.media_schema(media, &Walk::expanding()))
                    (self.examples(media))
                }
            }
        }
    }

    fn media_schema_label(&self, media: &'a Value) -> Markup {
        match media.get("schema") {
            Some(schema) => html! { (self.type_label(schema, 0)) (self.constraints(schema)) },
            None => html! { "any" },
        }
    }

    fn media_schema(&self, media: &'a Value, walk: &Walk<'a>) -> Markup {
        media
            .get("schema")
            .map(|s| self.structure(s, walk))
            .unwrap_or_default()
    }

    fn responses(&self, op: &'a Value) -> Markup {
        let responses: Vec<(&String, &Value)> = obj(op, "responses")
            .filter_map(|(status, r)| Some((status, self.deref(r)?)))
            .collect();
        if responses.is_empty() {
            return html! {};
        }
        html! {
            h4 { "Responses" }
            table class="responses" {
                tr { th { "status" } th { "description" } th { "content" } th { "headers" } }
                @for (status, r) in &responses { (self.response_row(status, r)) }
            }
            @for (status, r) in &responses { (self.links(status, r)) (self.response_examples(status, r)) }
        }
    }

    fn response_row(&self, status: &str, r: &'a Value) -> Markup {
        html! {
            tr {
                td { code { (status) } }
                td { @if let Some(d) = str_at(r, "description") { (prose(d)) } }
                td { @for (content_type, media) in obj(r, "content") {
                    div { code { (content_type) } " " (self.media_schema_label(media)) }
                    (self.media_schema(media, &Walk::default()))
                } }
                td { @for (name, h) in obj(r, "headers") { @if let Some(h) = self.deref(h) {
                    div {
                        code { (name) } " " (self.type_label(h.get("schema").unwrap_or(&Value::Null), 0))
                        @if let Some(d) = str_at(h, "description") { ": " (inline(d)) }
                    }
                } } }
            }
        }
    }

    /// The OpenAPI links of one response: where a client can go next with what it got,
    /// each target an anchor on this page.
    fn links(&self, status: &str, r: &'a Value) -> Markup {
        let links: Vec<(&String, &Value)> = obj(r, "links")
            .filter_map(|(name, l)| Some((name, self.deref(l)?)))
            .collect();
        if links.is_empty() {
            return html! {};
        }
        html! {
            div class="links" {
                p { "Links from " code { (status) } ":" }
                ul { @for (name, link) in links { li { (name) " → " (link_target(link)) (link_parameters(link)) } } }
            }
        }
    }

    fn response_examples(&self, status: &str, r: &'a Value) -> Markup {
        html! {
            @for (content_type, media) in obj(r, "content") {
                @let examples = self.examples(media);
                @if !examples.0.is_empty() {
                    div class="examples" { p { "Example of " code { (status) } " as " code { (content_type) } ":" } (examples) }
                }
            }
        }
    }

    /// Examples as the document gives them: `example` (one value), or `examples` (a list in a
    /// schema; a map of named example objects, each perhaps a `$ref`, in a parameter or media
    /// type).
    fn examples(&self, v: &'a Value) -> Markup {
        html! {
            @if let Some(e) = v.get("example") { div class="example" { "example " (example_value(e)) } }
            @match v.get("examples") {
                Some(Value::Array(list)) => { @for e in list { div class="example" { "example " (example_value(e)) } } }
                Some(Value::Object(named)) => { @for (name, e) in named { @if let Some(e) = self.deref(e) {
                    div class="example" {
                        "example " code { (name) }
                        @if let Some(s) = str_at(e, "summary") { " (" (s) ")" }
                        ": " (example_value(e.get("value").or_else(|| e.get("externalValue")).unwrap_or(&Value::Null)))
                    }
                } } }
                _ => {}
            }
        }
    }

    /// A schema's type in a few words, each referenced schema a link to its section: `string
    /// (date-time)`, `array of CityView`, `one of A | B`.
    fn type_label(&self, s: &'a Value, depth: usize) -> Markup {
        if depth > MAX_DEPTH || !self.spend() {
            return html! { "…" };
        }
        if let Some(r) = str_at(s, "$ref") {
            return self.ref_with_type(r, s, depth);
        }
        for (key, word, separator) in [
            ("oneOf", "one of ", " | "),
            ("anyOf", "any of ", " | "),
            ("allOf", "all of ", " & "),
        ] {
            let parts: Vec<&Value> = arr(s, key).filter(|p| !is_null_schema(p)).collect();
            match parts.as_slice() {
                [] => {}
                [one] => return self.type_label(one, depth + 1),
                many => {
                    return html! { (word) @for (i, p) in many.iter().enumerate() { @if i > 0 { (separator) } (self.type_label(p, depth + 1)) } };
                }
            }
        }
        let types: Vec<&str> = type_names(s).into_iter().filter(|t| *t != "null").collect();
        html! {
            @if types.is_empty() { (untyped_label(s)) }
            @for (i, t) in types.iter().enumerate() {
                @if i > 0 { " | " }
                @match *t {
                    "array" => { "array" @if let Some(items) = s.get("items") { " of " (self.type_label(items, depth + 1)) } }
                    "object" => { (self.object_label(s, depth)) }
                    other => { (other) }
                }
            }
            @if let Some(f) = str_at(s, "format") { " (" (f) ")" }
        }
    }

    /// A reference's label, and for a named scalar or array (`Kind`, `CityPair`) what it is
    /// (`string`, `array of string`): an object's fields are in its section, one click away.
    fn ref_with_type(&self, r: &str, s: &'a Value, depth: usize) -> Markup {
        let target = self
            .deref(s)
            .filter(|t| t.get("type").is_some() && t.get("properties").is_none());
        html! {
            (self.ref_label(r))
            @if let Some(t) = target { " (" (self.type_label(t, depth + 1)) ")" }
        }
    }

    /// An object's label: a map says what its values are.
    fn object_label(&self, s: &'a Value, depth: usize) -> Markup {
        match s.get("additionalProperties") {
            Some(values) if values.is_object() && s.get("properties").is_none() => {
                html! { "map of " (self.type_label(values, depth + 1)) }
            }
            _ => html! { "object" },
        }
    }

    /// A reference's label: the schema's name, linked to its section when it is one of the
    /// document's schemas.
    fn ref_label(&self, r: &str) -> Markup {
        match r.strip_prefix(SCHEMA_REF_PREFIX) {
            Some(name) if self.schema(name).is_some() => {
                html! { a href={ "#" (schema_anchor(name)) } { (name) } }
            }
            _ => html! { code { (r) } },
        }
    }

    /// The validation keywords, enum and default of a schema (read where a reference points).
    fn constraints(&self, s: &'a Value) -> Markup {
        let Some(s) = self.core(s) else {
            return html! {};
        };
        html! {
            @for k in CONSTRAINTS { @if let Some(v) = s.get(k) { " " span class="constraint" { (k) " " code { (scalar_text(v)) } } } }
            @if let Some(values) = s.get("enum").and_then(Value::as_array) { " " (enum_values(values)) }
            @if let Some(v) = s.get("const") { " " span class="constraint" { "always " code { (scalar_text(v)) } } }
            @if let Some(v) = s.get("default") { " " span class="constraint" { "default " code { (scalar_text(v)) } } }
        }
    }

    /// What a schema holds beneath its label: the fields of an object (with those of its
    /// `allOf` parts), the alternatives of a `oneOf`/`anyOf`, the fields of an array's items.
    /// Nothing for a scalar, whose label and constraints say it all.
    fn structure(&self, s: &'a Value, walk: &Walk<'a>) -> Markup {
        if walk.depth > MAX_DEPTH || !self.spend() {
            return html! {};
        }
        if let Some(r) = str_at(s, "$ref") {
            if !walk.expand_refs || walk.inside.contains(&r) {
                return html! {};
            }
            return match self.deref(s) {
                Some(target) => self.structure(target, &walk.entering(r)),
                None => html! {},
            };
        }
        match non_null_alternatives(s).as_slice() {
            [] => {}
            [one] => return self.structure(one, &walk.deeper()),
            many => return self.alternatives(many, walk),
        }
        let mut parts = Vec::new();
        self.object_parts(s, 0, &mut parts);
        let fields = merged_fields(&parts);
        if !fields.is_empty() {
            return html! { ul class="fields" { @for (name, schema, required) in fields { (self.field(name, schema, required, walk)) } } };
        }
        match s.get("items").or_else(|| s.get("additionalProperties")) {
            Some(inner) if inner.is_object() => self.structure(inner, &walk.deeper()),
            _ => html! {},
        }
    }

    fn alternatives(&self, branches: &[&'a Value], walk: &Walk<'a>) -> Markup {
        html! {
            ol class="alternatives" {
                @for b in branches { li { (self.type_label(b, 0)) (self.constraints(b)) (self.structure(b, &walk.deeper())) } }
            }
        }
    }

    /// An object schema and the schemas its `allOf` merges in, references resolved, so their
    /// fields read as one list (a status's problem is `Problem` with `code` narrowed).
    fn object_parts(&self, s: &'a Value, depth: usize, out: &mut Vec<&'a Value>) {
        if depth > MAX_DEPTH || !self.spend() {
            return;
        }
        let Some(s) = self.deref(s) else {
            return;
        };
        out.push(s);
        for part in arr(s, "allOf") {
            self.object_parts(part, depth + 1, out);
        }
    }

    fn field(&self, name: &str, s: &'a Value, required: bool, walk: &Walk<'a>) -> Markup {
        let description = str_at(s, "description")
            .or_else(|| self.core(s).and_then(|c| str_at(c, "description")));
        html! {
            li {
                code class="name" { (name) } " "
                span class="type" { (self.type_label(s, 0)) }
                @if required { " " span class="required" { "required" } } @else { " " span class="optional" { "optional" } }
                @if self.nullable(s) { " " span class="nullable" { "nullable" } }
                (self.constraints(s))
                @if let Some(d) = description { div class="description" { (prose(d)) } }
                (self.examples(s))
                (self.structure(s, &walk.deeper()))
            }
        }
    }

    /// The problem document every error is, and every error code with the statuses it comes
    /// with, so a client can see all the codes it may branch on.
    fn errors(&self) -> Markup {
        let problem = self.schema(PROBLEM_SCHEMA);
        let statuses = self.code_statuses();
        html! {
            section id="errors" {
                h2 { "Errors and their codes" }
                p { "Every error is a problem document (RFC 9457, " code { "application/problem+json" } ") of this shape; branch on its " code { "code" } "." }
                @if let Some(p) = problem {
                    p { "Schema " (self.ref_label(&format!("{SCHEMA_REF_PREFIX}{PROBLEM_SCHEMA}"))) }
                    @if let Some(d) = str_at(p, "description") { (prose(d)) }
                    (self.structure(p, &Walk::expanding()))
                }
                h3 id="error-codes" { "Codes" }
                table class="codes" {
                    tr { th { "code" } th { "HTTP status" } }
                    @for code in self.error_codes() {
                        tr id=(anchor(&format!("error-{code}"))) {
                            td { code { (code) } }
                            td { @for (i, s) in statuses.get(code).into_iter().flatten().enumerate() { @if i > 0 { ", " } (s) } }
                        }
                    }
                }
            }
        }
    }

    /// The stable error codes: the enum of the `ErrorCode` schema and of `Problem.code`, in
    /// the document's order, each once.
    fn error_codes(&self) -> Vec<&'a str> {
        let problem_code = self
            .schema(PROBLEM_SCHEMA)
            .and_then(|p| self.deref(p))
            .and_then(|p| p.get("properties"))
            .and_then(|p| p.get("code"));
        let mut seen = BTreeSet::new();
        [self.schema(ERROR_CODE_SCHEMA), problem_code]
            .into_iter()
            .flatten()
            .filter_map(|s| self.core(s))
            .flat_map(|s| arr(s, "enum"))
            .filter_map(Value::as_str)
            .filter(|c| seen.insert(*c))
            .collect()
    }

    /// The statuses each code is answered with, read from the schemas that narrow a problem to
    /// one status (`allOf` of the problem with `status` and `code` enums).
    fn code_statuses(&self) -> BTreeMap<&'a str, BTreeSet<String>> {
        let mut map: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (_, schema) in self.schemas() {
            let mut parts = Vec::new();
            self.object_parts(schema, 0, &mut parts);
            for part in parts {
                let props = part.get("properties").unwrap_or(&Value::Null);
                let enum_of = |k: &str| arr(props.get(k).unwrap_or(&Value::Null), "enum");
                let statuses: Vec<String> = enum_of("status").map(scalar_text).collect();
                for code in enum_of("code").filter_map(Value::as_str) {
                    map.entry(code)
                        .or_default()
                        .extend(statuses.iter().cloned());
                }
            }
        }
        map
    }

    /// Every schema of the document in its own section, which type labels link to; nested
    /// references link on instead of expanding, since each has its own section.
    fn schema_list(&self) -> Markup {
        html! {
            section id="schemas" {
                h2 { "Schemas" }
                @for (name, s) in self.schemas() {
                    section class="schema" id=(schema_anchor(name)) {
                        h3 { (name) }
                        p { (self.type_label(s, 0)) (self.constraints(s)) }
                        @if let Some(d) = str_at(s, "description") { (prose(d)) }
                        (self.structure(s, &Walk::default()))
                        (self.examples(s))
                    }
                }
            }
        }
    }
}

/// The fields of merged object parts: each property once (a later part's narrower schema
/// replacing an earlier one), required if any part requires it.
fn merged_fields<'a>(parts: &[&'a Value]) -> Vec<(&'a str, &'a Value, bool)> {
    let required: BTreeSet<&str> = parts
        .iter()
        .flat_map(|p| arr(p, "required"))
        .filter_map(Value::as_str)
        .collect();
    let mut order: Vec<&str> = Vec::new();
    let mut schemas: BTreeMap<&str, &Value> = BTreeMap::new();
    for (name, schema) in parts.iter().flat_map(|p| obj(p, "properties")) {
        if schemas.insert(name, schema).is_none() {
            order.push(name);
        }
    }
    order
        .into_iter()
        .filter_map(|name| Some((name, *schemas.get(name)?, required.contains(name))))
        .collect()
}

/// An enum's values; a long one (the error codes) folded into a `details` element, which
/// opens without script.
fn enum_values(values: &[Value]) -> Markup {
    let list = html! { @for (i, v) in values.iter().enumerate() { @if i > 0 { ", " } code { (scalar_text(v)) } } };
    html! {
        @if values.len() > ENUM_FOLD {
            details class="constraint" { summary { "one of " (values.len()) " values" } (list) }
        } @else {
            span class="constraint" { "one of " (list) }
        }
    }
}

/// A security scheme in words.
fn describe_scheme(s: &Value) -> Markup {
    let kind = str_at(s, "type");
    let scheme = str_at(s, "scheme");
    html! {
        @match (kind, scheme) {
            (Some("http"), Some(sc)) if sc.eq_ignore_ascii_case("bearer") => { "a token in " code { "Authorization: Bearer TOKEN" } }
            (Some("http"), Some(sc)) => { "HTTP " (sc) " authentication" }
            (Some("apiKey"), _) => { "an API key in the " (str_at(s, "in").unwrap_or("?")) " " code { (str_at(s, "name").unwrap_or("?")) } }
            (Some(other), _) => { (other) }
            (None, _) => { "an unspecified scheme" }
        }
        @if let Some(d) = str_at(s, "description") { ": " (inline(d)) }
    }
}

/// A link's target operation, as an anchor on this page.
fn link_target(link: &Value) -> Markup {
    match (str_at(link, "operationId"), str_at(link, "operationRef")) {
        (Some(id), _) => html! { a href={ "#" (anchor(id)) } { code { (id) } } },
        (None, Some(r)) => html! { code { (r) } },
        (None, None) => html! { "(no target)" },
    }
}

/// What a link fills in: each parameter of the target and the runtime expression giving it.
fn link_parameters(link: &Value) -> Markup {
    html! {
        @for (i, (name, expression)) in obj(link, "parameters").enumerate() {
            @if i == 0 { " with " } @else { ", " }
            code { (name) } " = " code { (scalar_text(expression)) }
        }
    }
}

fn method_badge(method: &str) -> Markup {
    html! { span class={ "method " (method) } { (method.to_ascii_uppercase()) } }
}

/// A label for a schema without a `type`.
fn untyped_label(s: &Value) -> &'static str {
    if s.get("enum").is_some() {
        "enum"
    } else if s.get("properties").is_some() {
        "object"
    } else if s.get("const").is_some() {
        "constant"
    } else {
        "any"
    }
}

/// An example: a scalar inline, a structure pretty-printed.
fn example_value(v: &Value) -> Markup {
    match v {
        Value::Object(_) | Value::Array(_) => {
            html! { pre { (serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())) } }
        }
        other => html! { code { (scalar_text(other)) } },
    }
}

/// Descriptions are CommonMark; this draws what the document uses (paragraphs, `- ` lists,
/// fenced code blocks and `code` spans) and shows anything else as the text it is.
fn prose(text: &str) -> Markup {
    let mut parts: Vec<Markup> = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    let mut fenced: Option<Vec<&str>> = None;
    for line in text.lines() {
        let fence = line.trim_start().starts_with("```");
        match fenced.take() {
            Some(code) if fence => parts.push(html! { pre { (code.join("\n")) } }),
            Some(mut code) => {
                code.push(line);
                fenced = Some(code);
            }
            None if fence => {
                parts.push(paragraphs(&lines.join("\n")));
                lines.clear();
                fenced = Some(Vec::new());
            }
            None => lines.push(line),
        }
    }
    if let Some(code) = fenced {
        parts.push(html! { pre { (code.join("\n")) } });
    }
    parts.push(paragraphs(&lines.join("\n")));
    html! { @for part in parts { (part) } }
}

/// Text outside code blocks: blocks apart by blank lines.
fn paragraphs(text: &str) -> Markup {
    html! {
        @for block in text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()) {
            (prose_block(block))
        }
    }
}

/// One paragraph, or a list where its lines start with `- `: lines before the first item are
/// its lead-in, and any other line continues the item above (source text wraps).
fn prose_block(block: &str) -> Markup {
    let mut lead: Vec<&str> = Vec::new();
    let mut items: Vec<String> = Vec::new();
    for line in block.lines().map(str::trim) {
        if let Some(item) = line.strip_prefix("- ") {
            items.push(item.to_string());
        } else if let Some(last) = items.last_mut() {
            last.push(' ');
            last.push_str(line);
        } else {
            lead.push(line);
        }
    }
    html! {
        @if !lead.is_empty() { p { (inline(&lead.join("\n"))) } }
        @if !items.is_empty() { ul { @for item in &items { li { (inline(item)) } } } }
    }
}

/// Text with its `code` spans; with an odd number of backticks, the text as it is.
fn inline(text: &str) -> Markup {
    if text.matches('`').count() % 2 == 1 {
        return html! { (text) };
    }
    html! { @for (i, piece) in text.split('`').enumerate() { @if i % 2 == 1 { code { (piece) } } @else { (piece) } } }
}

/// The first sentence of a summary, on one line, for the table of contents.
fn first_sentence(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.find(". ") {
        Some(end) => line.get(..=end).unwrap_or(&line).to_string(),
        None => line,
    }
}

/// An HTML id for a name: ids cannot hold whitespace, which operationIds never do anyway.
fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect()
}

fn tag_anchor(tag: &str) -> String {
    anchor(&format!("tag-{tag}"))
}

fn schema_anchor(name: &str) -> String {
    anchor(&format!("schema-{name}"))
}

/// A JSON value as a reader wants it: a string without quotes, anything else as JSON.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The members of an object-valued field; none if it is missing or not an object.
fn obj<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    v.get(key).and_then(Value::as_object).into_iter().flatten()
}

/// The elements of an array-valued field; none if it is missing or not an array.
fn arr<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    arr_slice(v, key).iter()
}

fn arr_slice<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The `type` of a schema as a list (3.1 allows one name or several).
fn type_names(s: &Value) -> Vec<&str> {
    match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn is_null_schema(s: &Value) -> bool {
    type_names(s) == ["null"]
}

/// The `oneOf`/`anyOf` alternatives of a schema other than null.
fn non_null_alternatives(s: &Value) -> Vec<&Value> {
    ["oneOf", "anyOf"]
        .iter()
        .flat_map(|k| arr(s, k))
        .filter(|b| !is_null_schema(b))
        .collect()
}
