//! Release control: blocking a version of a product (stop the line) and letting it
//! through again; pausing a product or one of its environments and resuming it;
//! freezes — what they hold now and soon, ending one early, and letting one release
//! through (break-glass). Freezes themselves are resources (`/api/v1/freezes`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::extract::{Path, Query};
use super::ApiError;
use crate::AppState;

/// What `POST /products/{product}/blocked` asks for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockBody {
    /// The version to block, as the product's template reads it (`1.5.0`).
    version: String,
    /// Why: shown wherever the block stops something.
    reason: String,
}

/// The product's blocked versions, newest first: `[{product, version, reason,
/// blockedBy, blockedAt}]`.
#[utoipa::path(
    get,
    path = "/api/v1/products/{product}/blocked",
    tag = "releases",
    params(("product" = String, Path)),
    responses((status = 200, body = Vec<Object>)),
    security(("token" = []))
)]
pub async fn blocked(
    State(state): State<AppState>,
    caller: Caller,
    Path(product): Path<String>,
) -> Result<Response, ApiError> {
    let blocked = state
        .engine
        .blocked_versions(&caller.0, Some(&product))
        .await?;
    Ok(Json(blocked).into_response())
}

/// Blocks a version (promoters and up): no release carrying it starts, and running ones
/// stop before they write again. Blocking it again replaces the reason.
#[utoipa::path(
    post,
    path = "/api/v1/products/{product}/blocked",
    tag = "releases",
    params(("product" = String, Path)),
    request_body = BlockBody,
    responses((status = 201, description = "The block", body = Object)),
    security(("token" = []))
)]
pub async fn block(
    State(state): State<AppState>,
    caller: Caller,
    Path(product): Path<String>,
    super::extract::Json(body): super::extract::Json<BlockBody>,
) -> Result<Response, ApiError> {
    let blocked = state
        .engine
        .block_version(&caller.0, &product, &body.version, &body.reason)
        .await?;
    Ok((StatusCode::CREATED, Json(blocked)).into_response())
}

/// Lets a blocked version through again (release managers and up).
#[utoipa::path(
    delete,
    path = "/api/v1/products/{product}/blocked/{version}",
    tag = "releases",
    params(("product" = String, Path), ("version" = String, Path)),
    responses((status = 204, description = "Unblocked")),
    security(("token" = []))
)]
pub async fn unblock(
    State(state): State<AppState>,
    caller: Caller,
    Path((product, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .engine
        .unblock_version(&caller.0, &product, &version)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `POST /products/{product}/pause` asks for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    /// The environment to pause; every environment of the product when absent.
    #[serde(default)]
    environment: Option<String>,
    /// Why: shown on the dashboard and in the log of every release it holds.
    reason: String,
}

/// What `POST /products/{product}/resume` asks for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeBody {
    /// The environment to resume; the pause of the whole product when absent.
    #[serde(default)]
    environment: Option<String>,
}

/// Pauses a product, or one environment (release managers and up): releases hold before
/// their next step there; steps under way finish. `GET /products/{product}/status`
/// lists the pauses.
#[utoipa::path(
    post,
    path = "/api/v1/products/{product}/pause",
    tag = "releases",
    params(("product" = String, Path)),
    request_body = PauseBody,
    responses((status = 201, description = "The pause", body = Object)),
    security(("token" = []))
)]
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(product): Path<String>,
    super::extract::Json(body): super::extract::Json<PauseBody>,
) -> Result<Response, ApiError> {
    let pause = state
        .engine
        .pause_releases(
            &caller.0,
            &product,
            body.environment.as_deref(),
            &body.reason,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(pause)).into_response())
}

/// Lifts a pause (release managers and up); the releases it held go on.
#[utoipa::path(
    post,
    path = "/api/v1/products/{product}/resume",
    tag = "releases",
    params(("product" = String, Path)),
    request_body = ResumeBody,
    responses((status = 204, description = "Resumed")),
    security(("token" = []))
)]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(product): Path<String>,
    super::extract::Json(body): super::extract::Json<ResumeBody>,
) -> Result<StatusCode, ApiError> {
    state
        .engine
        .resume_releases(&caller.0, &product, body.environment.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FreezeStatusQuery {
    /// How far ahead a freeze counts as upcoming, in days (7 when absent).
    #[param(minimum = 0, maximum = 366)]
    days: Option<u16>,
}

/// Every freeze and whether it holds now (`active`), begins within `days`
/// (`upcoming`) or neither (`inactive`), active ones first: `[{name, reason, scope,
/// state, from, until}]`.
#[utoipa::path(
    get,
    path = "/api/v1/freeze-status",
    tag = "releases",
    params(FreezeStatusQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn freeze_status(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<FreezeStatusQuery>,
) -> Result<Response, ApiError> {
    let days = query.days.unwrap_or(7);
    if days > 366 {
        let refused = promenade_engine::EngineError::BadRequest("days is at most 366".into());
        return Err(refused.into());
    }
    let ahead = std::time::Duration::from_secs(86_400 * u64::from(days));
    Ok(Json(state.engine.freezes(&caller.0, ahead).await?).into_response())
}

/// Ends a freeze now (release managers and up): it holds nothing from this moment and
/// keeps `endedAt` as a record; the releases it held go on.
#[utoipa::path(
    post,
    path = "/api/v1/freezes/{name}/end",
    tag = "releases",
    params(("name" = String, Path)),
    responses(
        (status = 200, description = "The freeze, now inactive", body = Object),
        (status = 409, description = "It holds nothing now", body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn end_freeze(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.engine.end_freeze(&caller.0, &name).await?).into_response())
}

/// What `POST /releases/{id}/break-glass` asks for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassBody {
    /// The environment whose freeze the release may pass.
    environment: String,
    /// Why: recorded in the audit trail and shown on the release and the dashboard.
    reason: String,
}

/// Lets a release through the freeze that holds it in one environment (release
/// managers and up), with a reason.
#[utoipa::path(
    post,
    path = "/api/v1/releases/{id}/break-glass",
    tag = "releases",
    params(("id" = String, Path)),
    request_body = BreakGlassBody,
    responses(
        (status = 200, description = "The release", body = Object),
        (status = 403, body = super::ErrorBody),
        (status = 409, description = "The step is not frozen", body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn break_glass(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    super::extract::Json(body): super::extract::Json<BreakGlassBody>,
) -> Result<Response, ApiError> {
    let release = state
        .engine
        .break_glass(&caller.0, &id, &body.environment, &body.reason)
        .await?;
    Ok(Json(release).into_response())
}
