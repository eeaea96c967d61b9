//! The product status the dashboard shows: every application in every environment of
//! its flow, with version, last commit, drift and the release working on it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::release::{PullRequestRecord, StepStatus};

/// The dashboard of one product.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProductStatus {
    /// Product name.
    pub product: String,
    /// The flow whose environments are the columns.
    pub flow: String,
    /// Flow order: the trigger first, then the steps level by level.
    pub environments: Vec<EnvironmentColumn>,
    /// One row per application.
    pub applications: Vec<ApplicationRow>,
    /// When the server read this (RFC 3339), so ages shown with it agree everywhere.
    pub generated_at: String,
    /// The newest release event when this was read: a live view streams events after
    /// it, so nothing that happens between reading and subscribing is missed.
    pub last_event: i64,
    /// Whether Argo CD deploys some of its cells (an environment with an Argo CD and an
    /// application naming its Application): the dashboard then shows what runs.
    #[serde(default)]
    pub argocd: bool,
}

/// One column of the dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentColumn {
    /// Environment name.
    pub name: String,
    /// The environment it receives from, for drift (none for the trigger).
    pub upstream: Option<String>,
    /// A `prod` kind environment, shown distinctly.
    pub prod: bool,
}

/// One row of the dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationRow {
    /// Application name.
    pub name: String,
    /// By environment name.
    pub cells: BTreeMap<String, Cell>,
}

/// One application in one environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    /// Read through the template's `versionSource`.
    pub version: Option<String>,
    /// The last commit that changed the application's folder.
    pub commit: Option<String>,
    /// When that commit was made (RFC 3339).
    pub committed_at: Option<String>,
    /// The template-covered content differs from the upstream environment.
    pub drift: bool,
    /// A running release working on this environment, and its step's state.
    pub release: Option<RunningRelease>,
    /// Why the cell could not be read, if it could not.
    pub error: Option<String>,
}

/// A release at work in an environment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunningRelease {
    /// Release id.
    pub id: String,
    /// The state of its step in this environment.
    pub status: StepStatus,
    /// The pull request the step waits for, on a GitHub or GitLab host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestRecord>,
}

/// What Argo CD runs for a product's applications, cell by cell: the dashboard shows it
/// next to the version from git.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeployedStatus {
    /// Product name.
    pub product: String,
    /// One per application × environment whose Application and Argo CD are known.
    pub cells: Vec<DeployedCell>,
    /// Argo CD calls that failed, in its words (never a token).
    pub problems: Vec<String>,
}

/// What Argo CD runs for one application in one environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeployedCell {
    /// Application name.
    pub application: String,
    /// Environment name.
    pub environment: String,
    /// The Argo CD Application.
    pub argocd: String,
    /// `Synced`, `OutOfSync` (what runs differs from git) or `Unknown`.
    pub sync: String,
    /// `Healthy`, `Progressing`, `Degraded`…
    pub health: String,
    /// The commit Argo CD runs.
    pub revision: String,
}

impl DeployedCell {
    /// Whether what runs differs from what git says should (Argo CD's own comparison).
    pub fn differs_from_git(&self) -> bool {
        self.sync == "OutOfSync"
    }
}
