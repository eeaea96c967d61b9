//! The audit trail, for admins: who signed in, changed resources, promoted, approved,
//! retried, terminated, and managed tokens, credentials, users and settings.

use axum::extract::State;
use axum::Json;
use promenade_engine::EngineError;
use promenade_model::audit::{AuditAction, AuditEntry, AuditQuery};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::extract::Query;
use super::ApiError;
use crate::AppState;

#[derive(Deserialize, IntoParams)]
pub struct AuditParams {
    /// Only this actor, as recorded (`user ada`, `token ci`).
    actor: Option<String>,
    /// Only this action.
    #[param(schema_with = audit_actions)]
    action: Option<String>,
    /// Only this object, as recorded (`Product/shop`, a release id, a token name).
    object: Option<String>,
    /// Only entries older than this id: the next page.
    before: Option<i64>,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

fn audit_actions() -> utoipa::openapi::Object {
    super::one_of(AuditAction::ALL.iter().map(|a| a.as_str()))
}

/// The audit trail, newest first (admins). Page with `before=` the last id seen.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditParams),
    responses(
        (status = 200, body = Vec<Object>),
        (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AuditParams>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    if params
        .limit
        .is_some_and(|limit| !(1..=1000).contains(&limit))
    {
        return Err(EngineError::BadRequest("limit must be from 1 to 1000".into()).into());
    }
    let action = params
        .action
        .map(|a| a.parse())
        .transpose()
        .map_err(|e| ApiError::from(EngineError::BadRequest(e)))?;
    let query = AuditQuery {
        actor: params.actor,
        action,
        object: params.object,
        before: params.before,
        limit: params.limit,
    };
    Ok(Json(state.engine.audit_trail(&caller.0, &query).await?))
}
