//! What the engine measures for Prometheus: releases, steps, gates, git, streams,
//! sign-ins, and the gauges sampled when `/metrics` is read. The engine records through
//! the `metrics` facade (as it logs through `tracing`) and knows nothing of the
//! exposition; the server installs the Prometheus recorder that renders the series.
//! Without a recorder every call here costs next to nothing.
//!
//! Every name and label is in this module, so `docs/metrics.md` and the Grafana
//! dashboard in `deploy/` have one list to follow. Labels take bounded values —
//! products, environments, kinds, outcomes — never release ids or user names, which
//! would grow the series without end.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use promenade_model::release::ReleaseStatus;
use promenade_model::resources::PromotionAction;

use crate::{Engine, Result};

pub const RELEASES_STARTED: &str = "promenade_releases_started_total";
pub const RELEASES_ENDED: &str = "promenade_releases_ended_total";
pub const RELEASES_RUNNING: &str = "promenade_releases_running";
pub const STEP_DURATION: &str = "promenade_step_duration_seconds";
pub const QUEUE_WAIT: &str = "promenade_queue_wait_seconds";
pub const QUEUE_DEPTH: &str = "promenade_queue_depth";
pub const GATE_WAIT: &str = "promenade_gate_wait_seconds";
pub const GIT_PUSHES: &str = "promenade_git_pushes_total";
pub const GIT_PUSH_RETRIES: &str = "promenade_git_push_retries_total";
pub const GIT_DURATION: &str = "promenade_git_operation_seconds";
pub const LEASES_HELD: &str = "promenade_leases_held";
pub const SSE_CLIENTS: &str = "promenade_sse_clients";
pub const SIGN_IN_FAILURES: &str = "promenade_sign_in_failures_total";
pub const DELIVERY_DEPLOYMENTS: &str = "promenade_delivery_deployments_per_day";
pub const DELIVERY_LEAD_TIME: &str = "promenade_delivery_lead_time_seconds";
pub const DELIVERY_FAILURE_RATE: &str = "promenade_delivery_change_failure_ratio";
pub const DELIVERY_RESTORE_TIME: &str = "promenade_delivery_time_to_restore_seconds";

/// The window the delivery gauges cover.
pub const DELIVERY_DAYS: u32 = 30;

/// Every series the engine records.
pub const NAMES: &[&str] = &[
    RELEASES_STARTED,
    RELEASES_ENDED,
    RELEASES_RUNNING,
    STEP_DURATION,
    QUEUE_WAIT,
    QUEUE_DEPTH,
    GATE_WAIT,
    GIT_PUSHES,
    GIT_PUSH_RETRIES,
    GIT_DURATION,
    LEASES_HELD,
    SSE_CLIENTS,
    SIGN_IN_FAILURES,
    DELIVERY_DEPLOYMENTS,
    DELIVERY_LEAD_TIME,
    DELIVERY_FAILURE_RATE,
    DELIVERY_RESTORE_TIME,
];

/// Gives each series its help text; called once the recorder is installed.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(RELEASES_STARTED, "Releases created, by product.");
    describe_counter!(
        RELEASES_ENDED,
        "Releases that reached a final state, by product and outcome (succeeded, failed, terminated)."
    );
    describe_gauge!(
        RELEASES_RUNNING,
        "Running releases by product, read from the database when scraped (the same on every replica)."
    );
    describe_histogram!(
        STEP_DURATION,
        Unit::Seconds,
        "Time a step took from taking its turn in the environment to its end, by environment, action and outcome."
    );
    describe_histogram!(
        QUEUE_WAIT,
        Unit::Seconds,
        "Time a step waited for earlier releases of its product to leave the environment, by environment."
    );
    describe_gauge!(
        QUEUE_DEPTH,
        "Running releases lined up for an environment that do not hold it yet, by product and environment; read from the database when scraped (the same on every replica)."
    );
    describe_histogram!(
        GATE_WAIT,
        Unit::Seconds,
        "Time spent in one gate or verification check, by phase (gates, verify), kind and outcome (passed, failed, stopped)."
    );
    describe_counter!(
        GIT_PUSHES,
        "Pushes of promotion commits and pull-request branches, by outcome (pushed, rejected)."
    );
    describe_counter!(
        GIT_PUSH_RETRIES,
        "Promotions fetched and re-applied because the remote branch moved under a push."
    );
    describe_histogram!(
        GIT_DURATION,
        Unit::Seconds,
        "Latency of git fetches and pushes, by operation and outcome (ok, error)."
    );
    describe_gauge!(LEASES_HELD, "Releases this replica drives now.");
    describe_gauge!(
        DELIVERY_DEPLOYMENTS,
        "Deployments to production per day over the last 30 days, by product (read from the database when scraped)."
    );
    describe_gauge!(
        DELIVERY_LEAD_TIME,
        Unit::Seconds,
        "Median time from the frozen commit to production over the last 30 days, by product; NaN without deployments."
    );
    describe_gauge!(
        DELIVERY_FAILURE_RATE,
        "Share of changes to production that failed or were rolled back over the last 30 days, by product; NaN without changes."
    );
    describe_gauge!(
        DELIVERY_RESTORE_TIME,
        Unit::Seconds,
        "Median time from a failed change to the next deployment over the last 30 days, by product; NaN without one."
    );
    describe_gauge!(SSE_CLIENTS, "Live event streams open on this replica.");
    describe_counter!(
        SIGN_IN_FAILURES,
        "Refused sign-ins, by method (password, token)."
    );
}

pub(crate) fn release_started(product: &str) {
    counter!(RELEASES_STARTED, "product" => product.to_owned()).increment(1);
}

/// Counts a release reaching `status`, when that status is final.
pub(crate) fn release_status(product: &str, status: ReleaseStatus) {
    if status.is_final() {
        counter!(RELEASES_ENDED, "product" => product.to_owned(), "outcome" => status.as_str())
            .increment(1);
    }
}

pub(crate) fn step_ended(
    environment: &str,
    action: PromotionAction,
    outcome: &'static str,
    took: Duration,
) {
    histogram!(
        STEP_DURATION,
        "environment" => environment.to_owned(),
        "action" => action.as_str(),
        "outcome" => outcome
    )
    .record(took);
}

pub(crate) fn queue_waited(environment: &str, took: Duration) {
    histogram!(QUEUE_WAIT, "environment" => environment.to_owned()).record(took);
}

pub(crate) fn gate_ended(
    phase: &'static str,
    kind: &'static str,
    outcome: &'static str,
    took: Duration,
) {
    histogram!(GATE_WAIT, "phase" => phase, "kind" => kind, "outcome" => outcome).record(took);
}

pub(crate) fn push_ended(pushed: bool) {
    let outcome = if pushed { "pushed" } else { "rejected" };
    counter!(GIT_PUSHES, "outcome" => outcome).increment(1);
}

pub(crate) fn push_retried() {
    counter!(GIT_PUSH_RETRIES).increment(1);
}

pub(crate) fn git_operation(operation: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    histogram!(GIT_DURATION, "operation" => operation, "outcome" => outcome).record(took);
}

pub(crate) fn stream_opened() {
    gauge!(SSE_CLIENTS).increment(1.0);
}

pub(crate) fn stream_closed() {
    gauge!(SSE_CLIENTS).decrement(1.0);
}

pub(crate) fn sign_in_failed(method: &'static str) {
    counter!(SIGN_IN_FAILURES, "method" => method).increment(1);
}

/// The (product, environment) pairs whose queue depth was last reported, so a queue
/// that emptied reads 0 instead of keeping its last value.
static QUEUES_REPORTED: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());
/// The products whose running releases were last reported, for the same reason.
static RUNNING_REPORTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

impl Engine {
    /// Sets the gauges that are read rather than counted — leases this replica holds,
    /// running releases and queue depths from the database — just before the series are
    /// rendered.
    pub async fn sample_gauges(&self) -> Result<()> {
        gauge!(LEASES_HELD).set(self.driving_count() as f64);
        let queues = self.store().queue_depths().await?;
        let running = self.store().running_by_product().await?;
        report(
            &QUEUES_REPORTED,
            queues
                .into_iter()
                .map(|(product, environment, depth)| ((product, environment), depth)),
            |(product, environment), depth| {
                gauge!(QUEUE_DEPTH, "product" => product.clone(), "environment" => environment.clone())
                    .set(depth as f64);
            },
        );
        report(&RUNNING_REPORTED, running, |product, count| {
            gauge!(RELEASES_RUNNING, "product" => product.clone()).set(count as f64);
        });
        let until = time::OffsetDateTime::now_utc();
        let set = self.store().resource_set().await?;
        for product in set.products() {
            let name = &product.metadata.name;
            let figures = self
                .delivery_until(&set, name, DELIVERY_DAYS, until)
                .await?;
            let label = [("product", name.clone())];
            gauge!(DELIVERY_DEPLOYMENTS, &label).set(figures.deployments_per_day);
            for (name, value) in [
                (DELIVERY_LEAD_TIME, figures.lead_time_seconds),
                (DELIVERY_FAILURE_RATE, figures.change_failure_rate),
                (DELIVERY_RESTORE_TIME, figures.time_to_restore_seconds),
            ] {
                gauge!(name, &label).set(value.unwrap_or(f64::NAN));
            }
        }
        Ok(())
    }
}

/// Sets a gauge per key of `current`, and to 0 for keys reported last time that are
/// gone now.
fn report<K: Ord + Clone>(
    reported: &Mutex<BTreeSet<K>>,
    current: impl IntoIterator<Item = (K, i64)>,
    set: impl Fn(&K, i64),
) {
    let mut reported = reported.lock().unwrap_or_else(PoisonError::into_inner);
    let mut now = BTreeSet::new();
    for (key, value) in current {
        set(&key, value);
        now.insert(key);
    }
    for gone in reported.difference(&now) {
        set(gone, 0);
    }
    *reported = now;
}
