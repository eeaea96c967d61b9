//! The one place where failures become HTTP answers:
//! `{"error": {"code", "message", "details"}}` with the matching status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use promenade_engine::EngineError;
use serde::Serialize;
use utoipa::ToSchema;

/// An API failure, rendered as JSON with its status code.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`.
    pub code: String,
    /// What happened, for people.
    pub message: String,
    /// Structured extras (validation errors, conflicting revision…) or null.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        let (status, code, details) = match &error {
            EngineError::Invalid(diagnostics) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                serde_json::json!({ "diagnostics": diagnostics }),
            ),
            EngineError::Conflict { diagnostics, .. } => (
                StatusCode::CONFLICT,
                "conflict",
                serde_json::json!({ "diagnostics": diagnostics }),
            ),
            EngineError::Forbidden(_) => {
                (StatusCode::FORBIDDEN, "forbidden", serde_json::Value::Null)
            }
            EngineError::NotFound(_) => {
                (StatusCode::NOT_FOUND, "not_found", serde_json::Value::Null)
            }
            EngineError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                serde_json::Value::Null,
            ),
            EngineError::Template { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "template_failed",
                serde_json::Value::Null,
            ),
            EngineError::Database(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                serde_json::Value::Null,
            ),
            EngineError::Git { .. } | EngineError::PushRejected { .. } => (
                StatusCode::BAD_GATEWAY,
                "git_failed",
                serde_json::Value::Null,
            ),
            EngineError::CheckFailed(_) => (
                StatusCode::BAD_GATEWAY,
                "check_failed",
                serde_json::Value::Null,
            ),
            EngineError::Stopped => (
                StatusCode::SERVICE_UNAVAILABLE,
                "stopping",
                serde_json::Value::Null,
            ),
            EngineError::UnsupportedDatabase { .. }
            | EngineError::DataDir { .. }
            | EngineError::Migration(_)
            | EngineError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                serde_json::Value::Null,
            ),
        };
        if status.is_server_error() {
            tracing::error!(%error, code, "request failed");
        }
        Self {
            status,
            code,
            message: error.to_string(),
            details,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
