//! `/metrics`: the Prometheus exposition of what the engine records
//! (`promenade_engine::telemetry`) and of the HTTP requests answered here, documented in
//! `docs/metrics.md`. The recorder is `metrics-exporter-prometheus`'s, installed once per
//! process without its own listener: the series are served by this server, behind an API
//! token or a session on the main address, or open on `--metrics-addr`, a separate
//! address for a scraper on a private network.

use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use promenade_engine::{telemetry, Engine};
use tracing::warn;

use crate::api::{ApiError, Caller};
use crate::AppState;

pub const HTTP_REQUESTS: &str = "promenade_http_requests_total";
pub const HTTP_DURATION: &str = "promenade_http_request_duration_seconds";

/// Bucket bounds of every `_seconds` histogram: from a fast API answer to a gate that
/// waits an hour for an approval.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// The exposition's content type (Prometheus text format 0.0.4).
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

static HANDLE: LazyLock<PrometheusHandle> = LazyLock::new(|| {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map(PrometheusBuilder::build_recorder)
        .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        warn!("another metrics recorder is installed: /metrics shows no series");
    }
    telemetry::describe();
    metrics::describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route (the route's pattern) and status."
    );
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time to answer HTTP requests, by method and route."
    );
    // Histograms keep their samples until upkeep folds them into buckets; a thread, not
    // a task, so it outlives whichever runtime first touched the recorder.
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(5));
            upkeep.run_upkeep();
        })
        .map_err(|error| warn!(%error, "cannot start the metrics upkeep thread"))
        .ok();
    handle
});

/// Installs the recorder (once per process): series are recorded from then on.
pub fn install() {
    LazyLock::force(&HANDLE);
}

/// `/metrics` on the main address: any signed-in user or API token may read it (a
/// `viewer` token is enough for a scraper).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "probes",
    security(("token" = [])),
    responses(
        (status = 200, description = "The series in Prometheus's text format", content_type = "text/plain"),
        (status = 401, description = "No valid API token or session", body = crate::api::ErrorBody),
        (status = 503, description = "The database does not answer", body = crate::api::ErrorBody)
    )
)]
pub async fn metrics(State(state): State<AppState>, _caller: Caller) -> Result<Response, ApiError> {
    render(&state.engine).await
}

/// The router of `--metrics-addr`: `/metrics` only, without authentication.
pub fn open_router(engine: Engine) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(engine): State<Engine>| async move { render(&engine).await }),
        )
        .with_state(engine)
}

async fn render(engine: &Engine) -> Result<Response, ApiError> {
    install();
    engine.sample_gauges().await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], HANDLE.render()).into_response())
}

/// Counts an answered request.
pub fn record_request(method: &str, route: &str, status: u16, took: Duration) {
    metrics::counter!(
        HTTP_REQUESTS,
        "method" => method.to_owned(),
        "route" => route.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method.to_owned(), "route" => route.to_owned())
        .record(took);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `promenade_…` series a text names, without histogram suffixes.
    fn named(text: &str) -> std::collections::BTreeSet<&str> {
        text.match_indices("promenade_")
            .map(|(at, _)| {
                let rest = &text[at..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let name = &rest[..end];
                ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(name)
            })
            .collect()
    }

    #[test]
    fn the_dashboard_and_the_docs_name_the_series_that_exist() {
        let known: std::collections::BTreeSet<&str> = telemetry::NAMES
            .iter()
            .copied()
            .chain([HTTP_REQUESTS, HTTP_DURATION])
            .collect();
        let dashboard = include_str!("../../deploy/grafana/promenade.json");
        let docs = include_str!("../../docs/metrics.md");
        let unknown: Vec<_> = named(dashboard).difference(&known).copied().collect();
        assert!(
            unknown.is_empty(),
            "the dashboard queries unknown series {unknown:?}"
        );
        let unknown: Vec<_> = named(docs).difference(&known).copied().collect();
        assert!(
            unknown.is_empty(),
            "docs/metrics.md names unknown series {unknown:?}"
        );
        let undocumented: Vec<_> = known.difference(&named(docs)).copied().collect();
        assert!(
            undocumented.is_empty(),
            "docs/metrics.md misses {undocumented:?}"
        );
    }
}
