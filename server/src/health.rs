//! Probes for load balancers and orchestrators. They carry no data worth protecting, so
//! they answer without authentication.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::ApiError;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct Probe {
    /// `ok` for liveness, `ready` for readiness.
    status: &'static str,
}

/// Liveness: the process answers HTTP.
#[utoipa::path(get, path = "/healthz", tag = "probes", responses((status = 200, body = Probe)))]
pub async fn healthz() -> Json<Probe> {
    Json(Probe { status: "ok" })
}

/// Readiness: the database answers too. A load balancer stops sending traffic to a
/// replica whose database is gone.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "probes",
    responses(
        (status = 200, body = Probe),
        (status = 503, description = "The database does not answer", body = crate::api::ErrorBody)
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Probe>, ApiError> {
    state.engine.ping().await?;
    Ok(Json(Probe { status: "ready" }))
}
