//! Webhook receivers for git hosts. They take no API token: each verifies its sender
//! with the webhook secret (see `promenade_engine::webhook`), so the raw body is read
//! before anything parses it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use promenade_engine::webhook::{Delivery, Receiver, WebhookAnswer};

use super::ApiError;
use crate::AppState;

async fn receive(
    state: &AppState,
    receiver: Receiver,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<WebhookAnswer>, ApiError> {
    let delivery = Delivery {
        headers: headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
            })
            .collect(),
        body,
    };
    Ok(Json(
        state.engine.receive_webhook(receiver, &delivery).await?,
    ))
}

/// GitHub `push`, merged `pull_request` and `ping` events, signed with
/// `X-Hub-Signature-256` under the secret held as token credentials `github-webhook`.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/github",
    tag = "webhooks",
    request_body(content = Object, description = "GitHub's webhook payload"),
    responses(
        (status = 200, description = "`{outcome: started|unchanged|ignored|duplicate|pong, releases?, reason?}`", body = Object),
        (status = 401, description = "Bad or missing signature: nothing happened", body = super::ErrorBody)
    )
)]
pub async fn github(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    receive(&state, Receiver::GitHub, &headers, &body).await
}

/// GitLab `Push Hook` and merged `Merge Request Hook` events, with `X-Gitlab-Token`
/// equal to token credentials `gitlab-webhook`.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/gitlab",
    tag = "webhooks",
    request_body(content = Object, description = "GitLab's webhook payload"),
    responses(
        (status = 200, body = Object),
        (status = 401, description = "Bad or missing token: nothing happened", body = super::ErrorBody)
    )
)]
pub async fn gitlab(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    receive(&state, Receiver::GitLab, &headers, &body).await
}

/// Any other git host: `Authorization: Bearer <secret>` or `X-Promenade-Signature-256:
/// sha256=<HMAC of the body>` under token credentials `git-webhook`; body
/// `{"repository", "branch", "paths"?}`, or empty to look at every trigger environment.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/git",
    tag = "webhooks",
    request_body(content = Object),
    responses(
        (status = 200, body = Object),
        (status = 401, description = "Bad or missing secret: nothing happened", body = super::ErrorBody)
    )
)]
pub async fn git(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    receive(&state, Receiver::Git, &headers, &body).await
}
