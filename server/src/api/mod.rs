//! The REST API under `/api/v1`, described by an OpenAPI document built with `utoipa`
//! from the handlers' own annotations, so the document cannot drift from the code.

mod error;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

pub use error::{ApiError, ErrorBody};

use crate::{health, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Promenade API",
        description = "Promotes releases of GitOps-managed applications through environments."
    ),
    paths(health::healthz, health::readyz, openapi_json),
    components(schemas(error::ErrorBody, error::ErrorDetail, health::Probe))
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Routes under `/api/v1`. Unknown paths answer with the API's JSON error, not a page.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .fallback(|| async { ApiError::not_found("no such API endpoint") })
}
