//! The pages' static assets: the stylesheet and the icon, served from the registry's origin.

use actix_web::{HttpResponse, get};

const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fafbfc}\
header{background:#1f3a5f;color:#fff;padding:.6em 1.2em}header a{color:#fff;margin-right:1.2em;text-decoration:none}\
main{max-width:62em;margin:1em auto;padding:0 1em}a{color:#1f5fa8}table{border-collapse:collapse;width:100%}\
td,th{border-bottom:1px solid #dde;padding:.3em .5em;text-align:left;vertical-align:top}img.map{width:100%;border:1px solid #ccd}\
.active{color:#2a8a4a}.curtailed{color:#b36b00}.cut_off{color:#c0392b}.proposed{color:#3a6fc4}\
.pass{color:#2a8a4a;font-weight:bold}.fail{color:#c0392b;font-weight:bold}code{word-break:break-all}\
footer{max-width:62em;margin:2em auto;padding:0 1em;color:#667;font-size:.85em}\
.method{display:inline-block;min-width:3.7em;font:bold .8em ui-monospace,monospace;color:#1f3a5f}\
.method.post{color:#2a8a4a}.method.delete{color:#c0392b}section.op{border-top:1px solid #dde;margin-top:1.6em}\
.meta,.optional,.nullable,.constraint,.summary{color:#667;font-size:.9em}.required{color:#b36b00;font-size:.9em}\
ul.fields{list-style:none;padding-left:1em;border-left:2px solid #e4e8ee}ul.fields li{margin:.3em 0}\
.description p,td p{margin:0 0 .3em}pre{background:#f0f2f5;padding:.5em;overflow-x:auto}nav.toc ul ul{font-size:.9em}\
.constraint code,.responses code,.params code{word-break:normal;overflow-wrap:break-word}details.constraint summary{cursor:pointer}\
#signing .pending{color:#b36b00;font-weight:bold}pre.statement{white-space:pre-wrap;word-break:break-all}\
#signing button{font-size:1em;padding:.35em .9em;margin:.3em 0}#signing textarea{width:100%}\
@media print{header,form{display:none}}";

#[get("/assets/amity.css")]
pub(super) async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(CSS)
}

/// The site's icon: two linked circles. Browsers ask for `/favicon.ico` on their own, and a
/// 404 there is an error in every page's console.
const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\">\
<rect width=\"32\" height=\"32\" rx=\"6\" fill=\"#1f3a5f\"/>\
<circle cx=\"12\" cy=\"16\" r=\"6\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2.5\"/>\
<circle cx=\"20\" cy=\"16\" r=\"6\" fill=\"none\" stroke=\"#7fc8a9\" stroke-width=\"2.5\"/></svg>";

fn icon_response() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(ICON)
}

#[get("/assets/amity.svg")]
pub(super) async fn icon() -> HttpResponse {
    icon_response()
}

#[get("/favicon.ico")]
pub(super) async fn favicon() -> HttpResponse {
    icon_response()
}

/// The signing page's script (docs/browser-signing.md), served under a name that carries its
/// hash, so a browser never runs a stale copy and the file can be cached for good.
const SIGN_JS: &str = include_str!("sign.js");

/// `/assets/sign-<first 16 hex of SHA-256>.js`.
pub(super) fn sign_script_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let digest = crate::crypto::sha256(SIGN_JS.as_bytes());
        format!("/assets/sign-{}.js", &hex::encode(digest)[..16])
    })
}

#[get("/assets/{name}.js")]
pub(super) async fn script(name: actix_web::web::Path<String>) -> HttpResponse {
    if format!("/assets/{name}.js") != sign_script_path() {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such script");
    }
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(SIGN_JS)
}
