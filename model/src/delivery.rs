//! Delivery figures of a product (the four DORA keys), as the engine computes them from
//! the release history: how often changes reach production, how long they take from
//! commit to production, how often a change to production fails, and how long the
//! product takes to recover (docs/resources.md, "Delivery figures").

use serde::{Deserialize, Serialize};

/// A product's delivery over the last `days` days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryFigures {
    /// Product name.
    pub product: String,
    /// The window's length.
    pub days: u32,
    /// The window's end (RFC 3339, UTC): the figures count what finished before it.
    pub until: String,
    /// Releases that changed a production environment in the window.
    pub deployments: u32,
    /// `deployments / days`.
    pub deployments_per_day: f64,
    /// The median time from the commit a release froze to its last production change,
    /// in seconds; none without deployments.
    pub lead_time_seconds: Option<f64>,
    /// Of the changes that reached production, the share that failed there or was
    /// rolled back (0 to 1); none without changes.
    pub change_failure_rate: Option<f64>,
    /// The median time from a failed change to the next successful deployment, in
    /// seconds; none without a recovered failure.
    pub time_to_restore_seconds: Option<f64>,
    /// Failed changes: releases that failed after changing production, and
    /// deployments whose next deployment went back to an earlier version.
    pub failures: u32,
    /// One entry per day of the window, oldest first.
    pub daily: Vec<DeliveryDay>,
}

/// What reached production on one day (UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Deployments that day.
    pub deployments: u32,
    /// Failed changes that day.
    pub failures: u32,
}

/// The windows the UI offers.
pub const WINDOWS: [u32; 3] = [7, 30, 90];
