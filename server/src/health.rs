//! Probes for load balancers and orchestrators. They carry no data worth protecting, so
//! they answer without authentication.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::AppState;

/// Liveness: the process answers HTTP.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers too. A load balancer stops sending traffic to a
/// replica whose database is gone.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.engine.store().ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(error) => {
            tracing::warn!(%error, "readiness probe failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": {
                    "code": "database_unavailable",
                    "message": "the database does not answer",
                    "details": null,
                }})),
            )
        }
    }
}
