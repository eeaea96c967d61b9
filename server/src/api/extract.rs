//! axum's `Json`, `Query` and `Path` extractors, answering a malformed request with the
//! API's JSON error (`{"error": {"code", "message", "details"}}`) instead of axum's
//! plain-text rejection, with axum's status (400, 415 or 422).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON request body.
pub struct Json<T>(pub T);

/// The query string.
pub struct Query<T>(pub T);

/// Path parameters.
pub struct Path<T>(pub T);

fn rejected(status: StatusCode, message: String) -> ApiError {
    let code = if status == StatusCode::UNPROCESSABLE_ENTITY {
        "invalid"
    } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        "unsupported_media_type"
    } else {
        "bad_request"
    };
    ApiError::new(status, code, message)
}

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(request, state)
            .await
            .map(|axum::Json(value)| Json(value))
            .map_err(|r| rejected(r.status(), r.body_text()))
    }
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|r| rejected(r.status(), r.body_text()))
    }
}

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|r| rejected(r.status(), r.body_text()))
    }
}
