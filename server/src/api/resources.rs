//! `POST /apply` and the per-kind resource endpoints.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use promenade_engine::resources::{ApplyOptions, ResourceChange, StoredResource};
use promenade_model::resources::ResourceKind;
use promenade_model::stored::ApplyResponse;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::extract::{Path, Query};
use super::ApiError;
use crate::AppState;

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ApplyQuery {
    /// Validate only; store nothing.
    #[serde(default)]
    dry_run: bool,
}

/// Applies multi-document YAML. Invalid input changes nothing and answers 422 with
/// every problem (`details.diagnostics`, each with file, line and column).
#[utoipa::path(
    post,
    path = "/api/v1/apply",
    tag = "resources",
    params(ApplyQuery),
    request_body(content = String, content_type = "application/yaml"),
    responses(
        (status = 200, description = "What applying changed: `{dryRun, changes: [{kind, name, change, revision}]}`", body = Object),
        (status = 422, description = "Invalid resources", body = super::ErrorBody),
        (status = 403, description = "The caller may not apply these", body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ApplyQuery>,
    body: String,
) -> Result<Json<ApplyResponse>, ApiError> {
    let changes = state
        .engine
        .apply(
            &caller.0,
            "request",
            &body,
            &ApplyOptions {
                dry_run: query.dry_run,
                ..Default::default()
            },
        )
        .await?;
    Ok(Json(ApplyResponse {
        dry_run: query.dry_run,
        changes,
    }))
}

/// Every resource of a kind (`environments`, `products`, `templates`, `policies`,
/// `flows`, or the kind's own name).
#[utoipa::path(
    get,
    path = "/api/v1/{kind}",
    tag = "resources",
    params(("kind" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 404, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
) -> Result<Json<Vec<StoredResource>>, ApiError> {
    let kind = parse_kind(&kind)?;
    Ok(Json(state.engine.resources(&caller.0, Some(kind)).await?))
}

/// One resource with its canonical YAML and revision.
#[utoipa::path(
    get,
    path = "/api/v1/{kind}/{name}",
    tag = "resources",
    params(("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Json<StoredResource>, ApiError> {
    let kind = parse_kind(&kind)?;
    Ok(Json(state.engine.resource(&caller.0, kind, &name).await?))
}

/// Deletes a resource; refused (409) while others still refer to it.
#[utoipa::path(
    delete,
    path = "/api/v1/{kind}/{name}",
    tag = "resources",
    params(("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Json<ResourceChange>, ApiError> {
    let kind = parse_kind(&kind)?;
    Ok(Json(
        state.engine.delete_resource(&caller.0, kind, &name).await?,
    ))
}

/// The URL names of kinds: the plural most people type, or the kind itself.
pub fn parse_kind(text: &str) -> Result<ResourceKind, ApiError> {
    ResourceKind::from_name(text).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no resource kind {text:?}: use {}", ResourceKind::NAMES),
        )
    })
}
