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

/// Readiness: the database answers, and this replica renewed its leases within the
/// lease timeout (so it drives its releases and may take others'). A load balancer
/// stops sending traffic to a replica whose database is gone or that stopped driving.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "probes",
    responses(
        (status = 200, body = Probe),
        (status = 503, description = "The database does not answer, or this replica no longer holds its leases", body = crate::api::ErrorBody)
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Probe>, ApiError> {
    state.engine.ping().await?;
    if !state.engine.holds_leases() {
        return Err(promenade_engine::EngineError::Unavailable(
            "this replica has not renewed its leases within the lease timeout".into(),
        )
        .into());
    }
    Ok(Json(Probe { status: "ready" }))
}
