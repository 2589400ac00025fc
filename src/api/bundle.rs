//! `GET /mous/{id}/bundle`: the evidence bundle an auditor archives with the document.

use crate::domain::{ErrorCode, MouId};
use actix_web::{HttpResponse, get, web};

use super::AppState;
use super::openapi::Problem;
use crate::app;
use crate::bundle::Bundle;
use crate::db;
use crate::error::ApiError;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BundleQuery {
    /// `1` (or `true`): prove the bundle into a checkpoint the witness policy's quorum
    /// cosigned (waiting for one up to the server's `--witness-wait-ms`, then 503
    /// `witness_quorum_unavailable`), so `amity verify --policy` passes offline.
    #[param(value_type = Option<String>, pattern = "^(0|1|true|false)$")]
    pub witnessed: Option<String>,
}

/// The MOU's evidence bundle: the registry key, the MOU, every version's hash, every statement
/// and signature, the signer keys and their events, and each log entry these rest on with an
/// inclusion proof into the one signed checkpoint the bundle carries, with the witnesses'
/// cosignatures on it. Check it offline with
/// `amity verify BUNDLE.json --document FILE --registry-key VKEY [--policy FILE]`. Public,
/// like the chain.
#[utoipa::path(
    tag = "signatures",
    params(("id" = String, Path, description = "MOU id"), BundleQuery),
    responses(
        (status = 200, body = Bundle),
        (status = 400, body = Problem, description = "`invalid_query`: witnessed is not 0, 1, true or false"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`no_witness_policy`: witnessed=1 on a registry without a witness policy"),
        (status = 503, body = Problem, description = "`log_busy`: the log kept growing under the read; retry. `witness_quorum_unavailable`: no quorum in time; see Retry-After")
    )
)]
#[get("/mous/{id}/bundle")]
pub async fn bundle(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<BundleQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = MouId::from_path(&id)?;
    let witnessed = super::log::parse_witnessed(query.witnessed.as_deref())?;
    let (db, signer, origin) = (
        state.db.clone(),
        state.signer.clone(),
        state.settings.origin.clone(),
    );
    let read = if witnessed {
        let mut read = None;
        for _ in 0..3 {
            let size = state.read_short(db::log::size).await?;
            let checkpoint = super::log::witnessed_checkpoint(&state, size).await?;
            let (db, signer, origin, id) = (db.clone(), signer.clone(), origin.clone(), id.clone());
            read = web::block(move || {
                app::evidence::bundle_at(&db, &signer, &origin, &id, &checkpoint)
            })
            .await??;
            if read.is_some() {
                break;
            }
        }
        read
    } else {
        web::block(move || app::evidence::bundle(&db, &signer, &origin, &id)).await??
    };
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
