//! Promotions, releases, their live events, and the product status.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_core::Stream;
use promenade_engine::auth::Principal;
use promenade_engine::release::PromotionRequest;
use promenade_engine::store::{EventRecord, ReleaseFilter};
use promenade_engine::{Engine, EngineError, ReleaseStatus, Subscription};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::extract::{Path, Query};
use super::ApiError;
use crate::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionBody {
    /// Show the preview diff and create nothing.
    #[serde(default)]
    dry_run: bool,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    request: PromotionRequest,
}

/// Promotes a product: `{flow?, from?, to?, applications?, source?: {commit | release},
/// message?, dryRun?}`. A dry run returns the preview (per environment, application and
/// file unified diffs) and creates nothing; otherwise the new release (201).
#[utoipa::path(
    post,
    path = "/api/v1/products/{product}/promotions",
    tag = "releases",
    params(("product" = String, Path)),
    request_body = PromotionBody,
    responses(
        (status = 200, description = "Preview (dry run)", body = Object),
        (status = 201, description = "The release", body = Object),
        (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 409, description = "The version is blocked", body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn promote(
    State(state): State<AppState>,
    caller: Caller,
    Path(product): Path<String>,
    super::extract::Json(body): super::extract::Json<PromotionBody>,
) -> Result<Response, ApiError> {
    if body.dry_run {
        let preview = state
            .engine
            .preview(&caller.0, &product, &body.request)
            .await?;
        return Ok(Json(preview).into_response());
    }
    let release = state
        .engine
        .promote(&caller.0, &product, &body.request)
        .await?;
    Ok((StatusCode::CREATED, Json(release)).into_response())
}

/// Every application × environment of a product: version, commit, drift, running release.
#[utoipa::path(
    get,
    path = "/api/v1/products/{product}/status",
    tag = "releases",
    params(("product" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(product): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.engine.product_status(&caller.0, &product).await?).into_response())
}

/// What Argo CD runs for each application × environment of a product: sync status,
/// health and revision (read at most every 2 s).
#[utoipa::path(
    get,
    path = "/api/v1/products/{product}/deployed",
    tag = "releases",
    params(("product" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn deployed(
    State(state): State<AppState>,
    caller: Caller,
    Path(product): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.engine.deployed_status(&caller.0, &product).await?).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct DeliveryQuery {
    /// The window, in days up to now (30 when absent).
    #[param(minimum = 1, maximum = 365)]
    days: Option<u32>,
}

/// The product's delivery figures (the four DORA keys) over the last `days` days:
/// deployments to production per day, median lead time from commit to production,
/// change failure rate, median time to restore, and deployments and failures per day.
#[utoipa::path(
    get,
    path = "/api/v1/products/{product}/delivery",
    tag = "releases",
    params(("product" = String, Path), DeliveryQuery),
    responses((status = 200, body = Object), (status = 404, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(product): Path<String>,
    Query(query): Query<DeliveryQuery>,
) -> Result<Response, ApiError> {
    let days = query.days.unwrap_or(30);
    Ok(Json(state.engine.delivery(&caller.0, &product, days).await?).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct ReleaseQuery {
    product: Option<String>,
    /// Releases with a step in this environment.
    environment: Option<String>,
    /// Releases in this state.
    #[param(schema_with = release_states)]
    status: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    offset: Option<i64>,
}

fn release_states() -> utoipa::openapi::Object {
    super::one_of(ReleaseStatus::ALL.iter().map(|s| s.as_str()))
}

/// Releases, newest first, each with its `version` and without its frozen snapshot
/// (`source` is null; `GET /api/v1/releases/{id}` has it) or its steps.
#[utoipa::path(
    get,
    path = "/api/v1/releases",
    tag = "releases",
    params(ReleaseQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ReleaseQuery>,
) -> Result<Response, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(str::parse::<ReleaseStatus>)
        .transpose()
        .map_err(|e| ApiError::from(EngineError::BadRequest(e)))?;
    let filter = ReleaseFilter {
        product: query.product,
        status,
        environment: query.environment,
        limit: query.limit.unwrap_or(50).clamp(1, 500),
        offset: query.offset.unwrap_or(0).max(0),
    };
    Ok(Json(state.engine.list_releases(&caller.0, &filter).await?).into_response())
}

/// One release with its steps and per-application results.
#[utoipa::path(
    get,
    path = "/api/v1/releases/{id}",
    tag = "releases",
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.engine.release(&caller.0, &id).await?).into_response())
}

/// The change one application received in one environment of a release: the diff of
/// its folder made by the step's commit.
#[utoipa::path(
    get,
    path = "/api/v1/releases/{id}/changes/{environment}/{application}",
    tag = "releases",
    params(
        ("id" = String, Path),
        ("environment" = String, Path),
        ("application" = String, Path)
    ),
    responses((status = 200, body = Object), (status = 404, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, environment, application)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let diff = state
        .engine
        .received_change(&caller.0, &id, &environment, &application)
        .await?;
    Ok(Json(diff).into_response())
}

/// What changed between the frozen sources of two releases of one product, from
/// release `id` to release `to`, application by application.
#[utoipa::path(
    get,
    path = "/api/v1/releases/{id}/compare/{to}",
    tag = "releases",
    params(("id" = String, Path), ("to" = String, Path)),
    responses(
        (status = 200, body = Object),
        (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn compare(
    State(state): State<AppState>,
    caller: Caller,
    Path((from, to)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let comparison = state.engine.compare_releases(&caller.0, &from, &to).await?;
    Ok(Json(comparison).into_response())
}

/// Resumes a failed release from its failed steps.
#[utoipa::path(
    post,
    path = "/api/v1/releases/{id}/retry",
    tag = "releases",
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 409, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.engine.retry(&caller.0, &id).await?).into_response())
}

/// Stops a release; steps not started stay pending.
#[utoipa::path(
    post,
    path = "/api/v1/releases/{id}/terminate",
    tag = "releases",
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 409, body = super::ErrorBody)),
    security(("token" = []))
)]
pub async fn terminate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.engine.terminate(&caller.0, &id).await?).into_response())
}

/// Which environment of a release to approve.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ApproveBody {
    /// The environment whose approval gate waits.
    pub environment: String,
}

/// Approves the approval gate an environment of the release waits at. The caller's
/// role must be one the gate names (or higher); each person counts once.
#[utoipa::path(
    post,
    path = "/api/v1/releases/{id}/approve",
    tag = "releases",
    params(("id" = String, Path)),
    request_body = ApproveBody,
    responses(
        (status = 200, body = Object),
        (status = 403, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody)
    ),
    security(("token" = []))
)]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    super::extract::Json(body): super::extract::Json<ApproveBody>,
) -> Result<Response, ApiError> {
    Ok(Json(
        state
            .engine
            .approve(&caller.0, &id, &body.environment)
            .await?,
    )
    .into_response())
}

/// The release's events as server-sent events (`event:` is `release`, `step`, `gate` or
/// `approval`, `id:` the
/// sequence number). Reconnecting with `Last-Event-ID` resumes after that event. The
/// stream ends after the release reaches a final state.
#[utoipa::path(
    get,
    path = "/api/v1/releases/{id}/events",
    tag = "releases",
    params(("id" = String, Path), ("Last-Event-ID" = Option<i64>, Header)),
    responses((status = 200, content_type = "text/event-stream", description = "Event stream")),
    security(("token" = []))
)]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let release = state.engine.release(&caller.0, &id).await?;
    let scope = Scope::Release {
        id,
        finished: release.status.is_final(),
    };
    // Subscribed before replaying, so nothing persisted in between is missed.
    let live = state.engine.subscribe_as(&caller.0).await?;
    Ok(stream(
        state.engine.clone(),
        caller.0,
        scope,
        last_event_id(&headers)?,
        live,
    ))
}

#[derive(Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Only events of this product's releases.
    product: Option<String>,
    /// Start after this event (what a page read with its data); `Last-Event-ID` wins.
    after: Option<i64>,
}

/// Every release's events (of one product, with `?product=`) as server-sent events, for
/// dashboards. Resumable with `Last-Event-ID`; never ends by itself.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "releases",
    params(EventsQuery, ("Last-Event-ID" = Option<i64>, Header)),
    responses((status = 200, content_type = "text/event-stream", description = "Event stream")),
    security(("token" = []))
)]
pub async fn all_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let after = match (last_event_id(&headers)?, query.after) {
        (0, Some(after)) => after,
        // Without a starting point: what happens from now on, not the whole history.
        (0, None) => state.engine.last_event_seq(&caller.0).await?,
        (resumed, _) => {
            state.engine.last_event_seq(&caller.0).await?;
            resumed
        }
    };
    let live = state.engine.subscribe_as(&caller.0).await?;
    Ok(stream(
        state.engine.clone(),
        caller.0,
        Scope::Product(query.product),
        after,
        live,
    ))
}

/// Which events a stream carries.
enum Scope {
    Release { id: String, finished: bool },
    Product(Option<String>),
}

impl Scope {
    /// Whether the event belongs to this stream; `products` remembers which product
    /// each release seen so far belongs to.
    async fn wants(
        &self,
        event: &EventRecord,
        engine: &Engine,
        who: &Principal,
        products: &mut HashMap<String, bool>,
    ) -> bool {
        match self {
            Scope::Release { id, .. } => &event.release_id == id,
            Scope::Product(None) => true,
            Scope::Product(Some(product)) => {
                if let Some(known) = products.get(&event.release_id) {
                    return *known;
                }
                let of = engine
                    .release(who, &event.release_id)
                    .await
                    .is_ok_and(|r| &r.product == product);
                products.insert(event.release_id.clone(), of);
                of
            }
        }
    }

    async fn replay(&self, engine: &Engine, who: &Principal, after: i64) -> Vec<EventRecord> {
        let stored = match self {
            Scope::Release { id, .. } => engine.release_events(who, id, after).await,
            Scope::Product(product) => engine.events_since(who, product.as_deref(), after).await,
        };
        stored.unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot replay events");
            Vec::new()
        })
    }
}

/// Replays what the client missed, then follows the live channel; falls back to the
/// store when the client lags behind the channel.
fn stream(
    engine: Engine,
    who: Principal,
    scope: Scope,
    after: i64,
    live: Subscription,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = async_stream::stream! {
        // The whole subscription, not only its receiver: its place in the caller's count
        // must last as long as the stream.
        let mut live = live;
        let mut last = after;
        let ends = matches!(scope, Scope::Release { .. });
        let mut finished = matches!(scope, Scope::Release { finished: true, .. });
        let mut products: HashMap<String, bool> = HashMap::new();
        for event in scope.replay(&engine, &who, last).await {
            last = event.seq;
            finished |= ends && event.ends_release();
            yield Ok(sse(&event));
        }
        while !finished {
            match live.events.recv().await {
                Ok(event) if event.seq > last => {
                    let belongs = scope.wants(&event, &engine, &who, &mut products).await;
                    if belongs {
                        last = event.seq;
                        finished = ends && event.ends_release();
                        yield Ok(sse(&event));
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    for event in scope.replay(&engine, &who, last).await {
                        last = event.seq;
                        finished |= ends && event.ends_release();
                        yield Ok(sse(&event));
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    };
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The `Last-Event-ID` a reconnecting client sends (0 without one): an event's `seq`.
fn last_event_id(headers: &HeaderMap) -> Result<i64, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(0);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|seq| *seq >= 0)
        .ok_or_else(|| {
            ApiError::from(EngineError::BadRequest(
                "Last-Event-ID must be the id of an event the stream sent".into(),
            ))
        })
}

fn sse(event: &EventRecord) -> Event {
    Event::default()
        .id(event.seq.to_string())
        .event(event.kind().as_str())
        .data(serde_json::to_string(event).unwrap_or_default())
}
