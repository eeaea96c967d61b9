//! Authentication for the API: a bearer token (CLI, CI, scripts) or the browser's
//! signed-in session (the UI's live event streams, which cannot send headers). Who may
//! do what is decided by the engine for every use case; this only finds out who asks.
//! Cross-site use of the session is stopped by the same-origin check and the
//! `SameSite=Lax` cookie.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use promenade_app::session::USER_KEY;
use promenade_engine::auth::{Principal, SessionUser};
use promenade_engine::EngineError;

use super::ApiError;
use crate::request_log::record_principal;
use crate::AppState;

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized =
            |message: &str| ApiError::from(EngineError::Unauthorized(message.into()));
        let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
            if let Some(user) = session_user(parts).await {
                if let Some(principal) = state.engine.session_user(&user).await? {
                    record_principal(&parts.extensions, &principal);
                    return Ok(Caller(principal));
                }
            }
            return Err(unauthorized(
                "send an API token: `Authorization: Bearer <token>`",
            ));
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        match state.engine.authenticate_token(token).await? {
            Some(principal) => {
                record_principal(&parts.extensions, &principal);
                Ok(Caller(principal))
            }
            None => Err(unauthorized("the API token is not valid")),
        }
    }
}

async fn session_user(parts: &Parts) -> Option<SessionUser> {
    let session = parts.extensions.get::<tower_sessions::Session>()?;
    session.get::<SessionUser>(USER_KEY).await.ok().flatten()
}
