//! `GET /mous/{id}/bundle`: the evidence bundle an auditor archives with the document.

use crate::domain::{ErrorCode, MouId};
use actix_web::{HttpResponse, get, web};

use super::AppState;
use super::openapi::Problem;
use crate::app;
use crate::bundle::Bundle;
use crate::error::ApiError;

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
    let (db, signer, origin) = (
        state.db.clone(),
        state.signer.clone(),
        state.settings.origin.clone(),
    );
    let read = web::block(move || app::evidence::bundle(&db, &signer, &origin, &id)).await??;
    if let Some(bundle) = read {
        return Ok(HttpResponse::Ok()
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"mou-{}-bundle.json\"", bundle.mou.id),
            ))
            .json(bundle));
    }
    Err(ApiError::new(
        ErrorCode::LogBusy,
        "the log grew during every attempt to read this bundle; try again",
    ))
}
