//! JSON Schemas of the resources, for editors and linters (`docs/resources.md`).

use axum::Json;
use promenade_model::schema;
use serde_json::Value;

use super::auth::Caller;
use super::extract::Path;
use super::resources::parse_kind;
use super::ApiError;

/// One schema for files holding resources of any kind: each document is matched by its
/// `kind`.
#[utoipa::path(
    get,
    path = "/api/v1/schemas",
    tag = "resources",
    responses(
        (status = 200, description = "A JSON Schema (draft 2020-12)", body = Object),
        (status = 401, body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn all(_caller: Caller) -> Json<Value> {
    Json(schema::for_all_kinds())
}

/// The JSON Schema of one kind's documents (`environments`, `Product`, `flows`, …).
#[utoipa::path(
    get,
    path = "/api/v1/schemas/{kind}",
    tag = "resources",
    params(("kind" = String, Path)),
    responses(
        (status = 200, description = "A JSON Schema (draft 2020-12)", body = Object),
        (status = 401, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn one(_caller: Caller, Path(kind): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(schema::for_kind(parse_kind(&kind)?)))
}
