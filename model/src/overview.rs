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
    /// The product's blocked versions: cells running one are marked.
    #[serde(default)]
    pub blocked: Vec<crate::release::BlockedVersion>,
    /// The product's pauses: the whole product, or some of its environments.
    #[serde(default)]
    pub pauses: Vec<crate::release::Pause>,
}

impl ProductStatus {
    /// The block on `version`, if it is blocked.
    pub fn block_on(&self, version: &str) -> Option<&crate::release::BlockedVersion> {
        self.blocked.iter().find(|b| b.version == version)
    }
}

/// How many rows a dashboard page shows: enough to scan, few enough that a product of
/// thousands of applications still loads and hydrates at once (docs/performance.md).
pub const ROWS_PER_PAGE: usize = 50;

/// Which of a product's rows a dashboard shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RowQuery {
    /// Only applications whose name contains this, ignoring case; empty for all.
    #[serde(default)]
    pub filter: String,
    /// Only applications that drift somewhere.
    #[serde(default)]
    pub drift_only: bool,
    /// The first matching row shown, counted from 0.
    #[serde(default)]
    pub offset: usize,
    /// How many rows; 0 means [`ROWS_PER_PAGE`].
    #[serde(default)]
    pub limit: usize,
}

impl RowQuery {
    /// The same rows from the first page: what a new filter shows.
    pub fn first_page(self) -> Self {
        Self { offset: 0, ..self }
    }

    fn wants(&self, row: &ApplicationRow) -> bool {
        (self.filter.is_empty() || contains_ignoring_case(&row.name, &self.filter))
            && (!self.drift_only || row.cells.values().any(|c| c.drift))
    }
}

fn contains_ignoring_case(name: &str, wanted: &str) -> bool {
    name.to_lowercase().contains(&wanted.to_lowercase())
}

/// One page of a dashboard: the product's columns and every column's summary over all
/// its applications, with only the rows a [`RowQuery`] picked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StatusPage {
    /// The product's status, its `applications` cut to this page.
    pub status: ProductStatus,
    /// One per column, in column order, over every application.
    pub summary: Vec<ColumnSummary>,
    /// Applications in the product.
    pub total: usize,
    /// Applications the query matched; the page holds up to `limit` of them.
    pub matching: usize,
    /// The first matching row on this page, counted from 0.
    pub offset: usize,
    /// The page size the query asked for.
    pub limit: usize,
}

impl StatusPage {
    /// The cell of `application` in `environment`, when it is on this page.
    pub fn cell(&self, application: &str, environment: &str) -> Option<&Cell> {
        self.status
            .applications
            .iter()
            .find(|a| a.name == application)
            .and_then(|a| a.cells.get(environment))
    }

    /// What a live view can update cell by cell: the same columns, the same rows, the
    /// same blocks and pauses. When this differs, the page is drawn anew.
    pub fn same_layout(&self, other: &StatusPage) -> bool {
        let names = |p: &StatusPage| {
            p.status
                .applications
                .iter()
                .map(|a| a.name.clone())
                .collect::<Vec<_>>()
        };
        self.status.environments == other.status.environments
            && names(self) == names(other)
            && self.status.blocked == other.status.blocked
            && self.status.pauses == other.status.pauses
            && (self.total, self.matching, self.offset)
                == (other.total, other.matching, other.offset)
    }
}

/// A column's line above the rows: the version most of its applications run, how many
/// drift, and a release at work there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ColumnSummary {
    /// Environment name.
    pub environment: String,
    /// The version most applications run here, when any has one.
    pub version: Option<String>,
    /// How many run that version.
    pub at_version: usize,
    /// Applications with a cell here.
    pub cells: usize,
    /// How many of them drift from upstream.
    pub drifting: usize,
    /// A release working on this environment.
    pub release: Option<RunningRelease>,
}

impl ProductStatus {
    /// Every column's summary over all applications.
    pub fn summary(&self) -> Vec<ColumnSummary> {
        self.environments
            .iter()
            .map(|env| {
                let cells: Vec<&Cell> = self
                    .applications
                    .iter()
                    .filter_map(|a| a.cells.get(&env.name))
                    .collect();
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for version in cells.iter().filter_map(|c| c.version.as_deref()) {
                    *counts.entry(version).or_default() += 1;
                }
                // Ties go to the greatest version string: stable from one read to the next.
                let top = counts.into_iter().max_by_key(|&(v, n)| (n, v));
                ColumnSummary {
                    environment: env.name.clone(),
                    version: top.map(|(v, _)| v.to_string()),
                    at_version: top.map_or(0, |(_, n)| n),
                    cells: cells.len(),
                    drifting: cells.iter().filter(|c| c.drift).count(),
                    release: cells.iter().find_map(|c| c.release.clone()),
                }
            })
            .collect()
    }

    /// The page `query` asks for. An offset past the end gives the last page, so a
    /// link kept from a longer list still shows rows.
    pub fn page(mut self, query: &RowQuery) -> StatusPage {
        let summary = self.summary();
        let total = self.applications.len();
        let limit = if query.limit == 0 {
            ROWS_PER_PAGE
        } else {
            query.limit
        };
        let mut matching: Vec<ApplicationRow> = std::mem::take(&mut self.applications)
            .into_iter()
            .filter(|row| query.wants(row))
            .collect();
        let count = matching.len();
        let last_page = count.saturating_sub(1) / limit * limit;
        let offset = (query.offset / limit * limit).min(last_page);
        self.applications = matching
            .drain(offset..(offset + limit).min(count))
            .collect();
        StatusPage {
            status: self,
            summary,
            total,
            matching: count,
            offset,
            limit,
        }
    }
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
    /// Who let the step through a freeze, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<crate::freeze::BreakGlass>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn status(applications: usize) -> ProductStatus {
        let environments = ["dev", "prod"].map(|name| EnvironmentColumn {
            name: name.into(),
            upstream: (name == "prod").then(|| "dev".to_string()),
            prod: name == "prod",
        });
        ProductStatus {
            product: "shop".into(),
            flow: "main".into(),
            environments: environments.to_vec(),
            applications: (0..applications)
                .map(|i| ApplicationRow {
                    name: format!("app-{i:04}"),
                    cells: environments
                        .iter()
                        .map(|env| {
                            let cell = Cell {
                                version: Some(
                                    if env.prod && i % 3 == 0 { "1.0" } else { "1.1" }.into(),
                                ),
                                drift: env.prod && i % 3 == 0,
                                ..Cell::default()
                            };
                            (env.name.clone(), cell)
                        })
                        .collect(),
                })
                .collect(),
            generated_at: String::new(),
            last_event: 0,
            argocd: false,
            blocked: Vec::new(),
            pauses: Vec::new(),
        }
    }

    fn names(page: &StatusPage) -> Vec<&str> {
        page.status
            .applications
            .iter()
            .map(|a| a.name.as_str())
            .collect()
    }

    #[test]
    fn a_page_holds_the_rows_asked_for_and_a_summary_of_all_of_them() {
        let page = status(1000).page(&RowQuery {
            offset: 120,
            ..RowQuery::default()
        });
        assert_eq!(
            (page.total, page.matching, page.offset, page.limit),
            (1000, 1000, 100, ROWS_PER_PAGE)
        );
        assert_eq!(names(&page).first(), Some(&"app-0100"));
        assert_eq!(page.status.applications.len(), ROWS_PER_PAGE);
        let prod = &page.summary[1];
        assert_eq!(
            (
                prod.version.as_deref(),
                prod.at_version,
                prod.cells,
                prod.drifting
            ),
            (Some("1.1"), 666, 1000, 334)
        );
        assert_eq!(
            page.cell("app-0102", "prod")
                .and_then(|c| c.version.as_deref()),
            Some("1.0")
        );
        assert_eq!(page.cell("app-0000", "prod"), None, "not on this page");
    }

    #[test]
    fn the_filter_ignores_case_and_drift_only_keeps_drifting_rows() {
        let page = status(1000).page(&RowQuery {
            filter: "APP-001".into(),
            ..RowQuery::default()
        });
        assert_eq!(page.matching, 10);
        assert_eq!(
            names(&page),
            (10..20).map(|i| format!("app-{i:04}")).collect::<Vec<_>>()
        );

        let page = status(30).page(&RowQuery {
            drift_only: true,
            limit: 4,
            ..RowQuery::default()
        });
        assert_eq!(page.matching, 10);
        assert_eq!(
            names(&page),
            ["app-0000", "app-0003", "app-0006", "app-0009"]
        );
    }

    #[test]
    fn an_offset_past_the_end_shows_the_last_page_and_nothing_matching_shows_none() {
        let page = status(120).page(&RowQuery {
            offset: 5000,
            ..RowQuery::default()
        });
        assert_eq!((page.offset, page.status.applications.len()), (100, 20));
        let page = status(120).page(&RowQuery {
            filter: "nothing".into(),
            offset: 50,
            ..RowQuery::default()
        });
        assert_eq!(
            (page.matching, page.offset, page.status.applications.len()),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_live_update_keeps_the_layout_when_only_cells_change() {
        let before = status(60).page(&RowQuery::default());
        let mut changed = status(60);
        if let Some(cell) = changed.applications[3].cells.get_mut("prod") {
            cell.version = Some("2.0".into());
        }
        assert!(before.same_layout(&changed.page(&RowQuery::default())));
        let mut grown = status(61);
        grown.applications.rotate_right(1);
        assert!(!before.same_layout(&grown.page(&RowQuery::default())));
    }
}
