//! Credentials and server settings: admins create, rotate and delete credentials and
//! change settings; everyone signed in sees their names and history, never a secret.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use promenade_model::credentials::{CredentialInfo, CredentialInput};
use promenade_model::stored::AdminSettings;

use super::auth::Caller;
use super::extract::{Json as Body, Path};
use super::ApiError;
use crate::AppState;

/// Every credential: name, kind, who created and rotated it, when it was last used.
#[utoipa::path(
    get,
    path = "/api/v1/credentials",
    tag = "credentials",
    responses((status = 200, body = Vec<Object>)),
    security(("token" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<CredentialInfo>>, ApiError> {
    Ok(Json(state.engine.list_credentials(&caller.0).await?))
}

/// Creates credentials (admins). The body carries the secret; the answer never does.
#[utoipa::path(
    post,
    path = "/api/v1/credentials/{name}",
    tag = "credentials",
    params(("name" = String, Path)),
    request_body(content = Object, description = "`{kind: https|ssh|token, username?, secret, passphrase?, knownHosts?}`"),
    responses(
        (status = 201, body = Object),
        (status = 409, description = "Credentials of that name exist", body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(input): Body<CredentialInput>,
) -> Result<(StatusCode, Json<CredentialInfo>), ApiError> {
    let info = state
        .engine
        .create_credential(&caller.0, &name, &input)
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Replaces the secret of credentials (admins); the kind stays.
#[utoipa::path(
    put,
    path = "/api/v1/credentials/{name}",
    tag = "credentials",
    params(("name" = String, Path)),
    request_body(content = Object),
    responses((status = 200, body = Object), (status = 404, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(input): Body<CredentialInput>,
) -> Result<Json<CredentialInfo>, ApiError> {
    Ok(Json(
        state
            .engine
            .rotate_credential(&caller.0, &name, &input)
            .await?,
    ))
}

/// Deletes credentials no product uses (admins).
#[utoipa::path(
    delete,
    path = "/api/v1/credentials/{name}",
    tag = "credentials",
    params(("name" = String, Path)),
    responses(
        (status = 204),
        (status = 409, description = "A product uses them", body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.delete_credential(&caller.0, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The server-wide settings.
#[utoipa::path(
    get,
    path = "/api/v1/settings",
    tag = "settings",
    responses((status = 200, body = Object)),
    security(("token" = []))
)]
pub async fn settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AdminSettings>, ApiError> {
    Ok(Json(state.engine.settings(&caller.0).await?))
}

/// Replaces the server-wide settings (admins).
#[utoipa::path(
    put,
    path = "/api/v1/settings",
    tag = "settings",
    request_body(content = Object, description = "`{allowInsecureRemotes}`"),
    responses((status = 200, body = Object)),
    security(("token" = []))
)]
pub async fn set_settings(
    State(state): State<AppState>,
    caller: Caller,
    Body(settings): Body<AdminSettings>,
) -> Result<Json<AdminSettings>, ApiError> {
    Ok(Json(state.engine.set_settings(&caller.0, &settings).await?))
}
