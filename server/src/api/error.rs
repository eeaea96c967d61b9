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
    /// Structured extras: `diagnostics` for invalid resources and conflicts; `{}` when
    /// there are none.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: serde_json::json!({}),
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
        let (status, code) = error.status();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let details = match error.diagnostics() {
            [] => serde_json::json!({}),
            diagnostics => serde_json::json!({ "diagnostics": diagnostics }),
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
