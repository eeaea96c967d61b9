//! Product discovery: a `Product` proposed from Argo CD Applications, to review and
//! apply. Nothing is stored.

use axum::extract::State;
use axum::Json;
use promenade_model::discovery::{ImportAnswer, ImportRequest};

use super::auth::Caller;
use super::extract::Json as Body;
use super::ApiError;
use crate::AppState;

/// Proposes a product from the Argo CD Applications carrying the selector's labels or
/// annotations (promoters and up). The answer holds the YAML, headed by notes on what
/// was guessed or left out.
#[utoipa::path(
    post,
    path = "/api/v1/import/argocd",
    tag = "resources",
    request_body(content = Object, description = "`{selector, server?, credentials?, product?, template?, flow?}`"),
    responses(
        (status = 200, description = "`{yaml, proposal: {product, notes, used}}`", body = Object),
        (status = 400, description = "A bad selector, or no Argo CD to ask", body = super::ErrorBody),
        (status = 401, description = "Not signed in", body = super::ErrorBody),
        (status = 403, description = "Not a promoter", body = super::ErrorBody),
        (status = 404, description = "No Application carries the selector", body = super::ErrorBody),
        (status = 502, description = "Argo CD refused or failed", body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn argocd(
    State(state): State<AppState>,
    caller: Caller,
    Body(request): Body<ImportRequest>,
) -> Result<Json<ImportAnswer>, ApiError> {
    Ok(Json(state.engine.import_argocd(&caller.0, &request).await?))
}
