//! `GET /mous/{id}/bundle`: the evidence bundle an auditor archives with the document.

use crate::domain::{ErrorCode, MouId};
use actix_web::{HttpResponse, get, web};

use super::AppState;
use super::openapi::Problem;
use crate::bundle::{Bundle, RegistryInfo};
use crate::db;
use crate::error::ApiError;
use crate::log::registry_key::openssh_line;

/// How often to take a fresh checkpoint when writes keep landing between checkpoint and read.
const ATTEMPTS: usize = 3;

/// The MOU's evidence bundle: the registry key, the MOU, every version's hash, every statement
/// and signature, the signer keys and their events, and each log entry these rest on with an
/// inclusion proof into the one signed checkpoint the bundle carries. Check it offline with
/// `amity verify BUNDLE.json --document FILE --registry-key VKEY`. Public, like the chain.
#[utoipa::path(
    tag = "signatures",
    params(("id" = String, Path, description = "MOU id")),
    responses(
        (status = 200, body = Bundle),
        (status = 404, body = Problem),
        (status = 503, body = Problem, description = "the log kept growing under the read; retry")
    )
)]
#[get("/mous/{id}/bundle")]
pub async fn bundle(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = MouId::from_path(&id)?;
    let verifier = state.signer.verifier();
    let registry = RegistryInfo {
        origin: state.settings.origin.clone(),
        vkey: verifier.to_vkey(),
        ssh: openssh_line(&verifier),
    };
    for _ in 0..ATTEMPTS {
        // The checkpoint first, then the MOU: every entry read with an index below the
        // checkpoint's size proves into it, and a newer one sends us round again.
        let db = state.db.clone();
        let signer = state.signer.clone();
        let checkpoint = web::block(move || db::checkpoints::current(&db, &signer)).await??;
        let (id, registry) = (id.clone(), registry.clone());
        let read = state
            .read(move |c| db::bundle::read(c, &id, &checkpoint, registry))
            .await?;
        if let Some(bundle) = read {
            return Ok(HttpResponse::Ok()
                .insert_header((
                    "Content-Disposition",
                    format!("attachment; filename=\"mou-{}-bundle.json\"", bundle.mou.id),
                ))
                .json(bundle));
        }
    }
    Err(ApiError::new(
        ErrorCode::LogBusy,
        "the log grew during every attempt to read this bundle; try again",
    ))
}
