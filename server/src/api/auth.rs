//! Authentication for the API: a bearer token (CLI, CI, scripts) or the browser's
//! signed-in session (the UI's live event streams, which cannot send headers). Every
//! endpoint names the least role it needs; the check happens here, on the server,
//! whatever a client shows or hides. Cross-site use of the session is stopped by the
//! same-origin check and the `SameSite=Lax` cookie.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use promenade_app::session::USER_KEY;
use promenade_engine::auth::{Principal, Role};

use super::ApiError;
use crate::AppState;

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

impl Caller {
    /// Fails with 403 unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<&Principal, ApiError> {
        if self.0.role >= role {
            Ok(&self.0)
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this needs the {role} role; token {:?} has {}",
                    self.0.name, self.0.role
                ),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized =
            |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
        let store = state.engine.store();
        let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
            if let Some(name) = session_user(parts).await {
                if let Some(principal) = store.user(&name).await? {
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
        match store.authenticate(token).await? {
            Some(principal) => Ok(Caller(principal)),
            None => Err(unauthorized("the API token is not valid")),
        }
    }
}

async fn session_user(parts: &Parts) -> Option<String> {
    let session = parts.extensions.get::<tower_sessions::Session>()?;
    session.get::<String>(USER_KEY).await.ok().flatten()
}
