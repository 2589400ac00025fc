//! The signing page (docs/browser-signing.md): what a signatory opens from the link in their
//! request e-mail. The page itself is server-rendered and readable without JavaScript (the
//! MOU, the partner city, each document with its SHA-256, the signer, role and group); the
//! key handling and signing run in the project's own script (`sign.js`), which talks only to
//! the signing-link API of this registry.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use maud::html;

use super::assets::sign_script_path;
use super::layout::{error_page, layout, layout_with_script};
use crate::api::AppState;
use crate::api::signing::signing_view;
use crate::app::signing as use_case;
use crate::error::ApiError;

/// What a refused link shows: what happened and what to do, with the problem's status.
fn refused_page(e: ApiError) -> HttpResponse {
    let status = e.status;
    if status != StatusCode::NOT_FOUND && status != StatusCode::GONE {
        return error_page(e);
    }
    let heading = if status == StatusCode::NOT_FOUND {
        "This signing link is not valid"
    } else {
        "This signing link no longer works"
    };
    let mut res = layout(
        heading,
        html! {
            h1 id="link-refused" { (heading) }
            p { (e.detail) }
            p { "Nothing was signed or changed. If you still need to sign, ask the international-relations office of your city for a new link." }
        },
    );
    *res.status_mut() = status;
    no_referrer(res)
}

/// A capability URL must not travel on in a Referer header, nor sit in a cache.
fn no_referrer(mut res: HttpResponse) -> HttpResponse {
    let headers = res.headers_mut();
    headers.insert(
        actix_web::http::header::REFERRER_POLICY,
        actix_web::http::header::HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    res
}

fn human_size(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

#[get("/sign/{token}")]
pub(super) async fn page(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    let now = state.db.now();
    let t = token.clone();
    let ctx = match state
        .read_current(move |c| use_case::context(c, &t, now))
        .await
    {
        Ok(ctx) => ctx,
        Err(e) => return refused_page(e),
    };
    let v = signing_view(&state, &token, ctx);
    let keys_json = serde_json::to_string(
        &v.keys
            .iter()
            .map(|k| serde_json::json!({"fingerprint": k.fingerprint, "status": k.status}))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_else(|_| "[]".into());
    let deadline_day = v.deadline.get(..10).unwrap_or(&v.deadline).to_string();
    let body = html! {
        h1 { "Sign: " (v.title) }
        div id="signing"
            data-token=(token)
            data-registry=(v.registry)
            data-signer=(v.signer)
            data-city=(v.signer_city)
            data-role=(v.role)
            data-signature-namespace=(v.namespaces.signature)
            data-decline-namespace=(v.namespaces.decline)
            data-key-namespace=(v.namespaces.key)
            data-keys=(keys_json)
        {
            p { "You, " strong id="signer" { (v.signer) } ", are asked to sign this memorandum of understanding as " strong { (v.role) } "." }
            table {
                tr { th { "MOU" } td { a href={ "/mous/" (v.mou) } { (v.title) } } }
                tr { th { "Partnership" } td { a href={ "/partnerships/" (v.partnership) } { (v.signer_city_name) " and " (v.partner_city_name) } } }
                tr { th { "Partner city" } td id="partner-city" { (v.partner_city_name) " (" (v.partner_city) ")" } }
                tr { th { "Requested by" } td { "the office of " (v.requested_by_city) } }
                tr { th { "Your place in the order" } td { "group " (v.group) @if !v.waiting_for.is_empty() { " (you sign after: " (v.waiting_for.join(", ")) ")" } } }
                tr { th { "Chain position" } td { "signature " (v.head.seq + 1) " of this MOU's signature chain" } }
                tr { th { "Version" } td { (v.version) } }
                tr { th { "Deadline" } td { (v.deadline) } }
            }
            h2 { "The documents" }
            p { "Read each document and check its SHA-256 against the text you reviewed. Your signature covers exactly these." }
            table id="documents" {
                tr { th { "Language" } th { "File" } th { "Size" } th { "SHA-256" } }
                @for d in &v.documents {
                    tr {
                        td { (d.language.as_deref().unwrap_or("-")) }
                        td { a href=(d.href) { (d.filename.as_deref().unwrap_or("document")) } }
                        td { (human_size(d.size)) }
                        td { code { (d.sha256) } }
                    }
                }
            }
            noscript {
                p class="fail" { "Signing on this page needs JavaScript. Without it, sign with ssh-keygen or the amity command through your office (docs/signing-workflow.md)." }
            }
            p id="unsupported" class="fail" hidden {
                "This browser cannot create Ed25519 keys (WebCrypto Ed25519: Chrome and Edge 137 or later, Firefox 129 or later, Safari 17 or later). "
                "Open this link in a current browser, or sign with ssh-keygen or the amity command through your office."
            }
            section id="key-section" hidden {
                h2 { "Your key" }
                p {
                    "Your signature is made with a private key that only this browser holds. "
                    "Create one here: it is kept in this browser's storage for this site, cannot be copied out of it, and never leaves your computer; "
                    "the registry receives only its public key. If you lose this browser profile (a new computer, cleared site data), "
                    "the key is gone: create a new one here and ask your office to retire the old one."
                }
                p { button id="create-key" type="button" { "Create a key in this browser" } }
                p {
                    label for="key-file" { "Or use your existing OpenSSH key file (unencrypted Ed25519; it is read in this page and not uploaded): " }
                    input id="key-file" type="file";
                }
                p { "Key: " code id="key-fingerprint" { "none yet" } }
                p id="key-status" {}
            }
            section id="statement-section" hidden {
                h2 { "The statement" }
                p id="statement-kind" {}
                pre id="statement" class="statement" {}
                button id="sign" type="button" disabled { "Sign the MOU" }
            }
            section id="decline-section" hidden {
                h2 { "Decline instead" }
                p { "If you will not sign, say why; your decline is signed with your key too, and the offices and the audit see the reason." }
                textarea id="decline-reason" rows="3" maxlength="1000" {}
                button id="decline" type="button" { "Prepare the decline" }
            }
            p id="result" {}
            p class="meta" { "This link works for this request only, until " (deadline_day) ", and is used up once you sign or decline." }
        }
    };
    no_referrer(layout_with_script(
        "Sign an MOU",
        body,
        Some(sign_script_path()),
    ))
}
