//! Releases as everyone sees them: the states of a release and of its environment
//! steps (DESIGN §1), the records the engine keeps, what a promotion asks for, the
//! frozen source, and the preview. Pure data, shared by the engine, the API, the CLI
//! and the browser.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::PrincipalKind;
use crate::action::Action;
use crate::diff::EnvironmentDiff;
use crate::freeze::{BreakGlass, FrozenBy};
use crate::graph::FlowGraph;
use crate::resources::{FlowStep, PromotionAction, PromotionFlowSpec};

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident, default $default:ident, { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        #[allow(missing_docs)] // the names are the states of DESIGN §1
        pub enum $name {
            #[default]
            $default,
            $($variant),+
        }

        impl $name {
            /// Every state, in lifecycle order.
            pub const ALL: &'static [$name] = &[$name::$default, $($name::$variant),+];

            /// The name used in YAML, JSON and the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $name::$default => status_enum!(@text $default),
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|s| s.as_str() == text)
                    .ok_or_else(|| format!("unknown {}: {text:?}", stringify!($name)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    (@text Pending) => { "pending" };
    (@text Queued) => { "queued" };
}

status_enum!(
    /// Where one environment of a release stands.
    StepStatus, default Pending, {
        Waiting = "waiting",
        Frozen = "frozen",
        Gating = "gating",
        Applying = "applying",
        AwaitingMerge = "awaiting-merge",
        Verifying = "verifying",
        Succeeded = "succeeded",
        Failed = "failed",
        Terminated = "terminated",
        Skipped = "skipped",
        Unchanged = "unchanged",
        Superseded = "superseded",
    }
);

status_enum!(
    /// Where a whole release stands.
    ReleaseStatus, default Queued, {
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Terminated = "terminated",
        Superseded = "superseded",
    }
);

impl StepStatus {
    /// The step will not change again unless retried.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded
                | Self::Failed
                | Self::Terminated
                | Self::Skipped
                | Self::Unchanged
                | Self::Superseded
        )
    }

    /// The step is being worked on (started, not finished).
    pub fn is_working(self) -> bool {
        matches!(
            self,
            Self::Gating | Self::Applying | Self::AwaitingMerge | Self::Verifying
        )
    }

    /// The step has not started: it waits for the steps it depends on, or for a freeze
    /// to end.
    pub fn is_unstarted(self) -> bool {
        matches!(self, Self::Pending | Self::Waiting | Self::Frozen)
    }

    /// Steps that depend on this one may start.
    pub fn lets_dependents_start(self) -> bool {
        matches!(self, Self::Succeeded | Self::Unchanged)
    }
}

impl ReleaseStatus {
    /// The release will not change again unless retried.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Terminated | Self::Superseded
        )
    }
}

/// What to promote, as the API and CLI ask for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionRequest {
    /// The flow; the product's first flow when absent.
    #[serde(default)]
    pub flow: Option<String>,
    /// Promote from this environment's content straight to `to` (one step).
    #[serde(default)]
    pub from: Option<String>,
    /// Stop at this environment (it and everything upstream of it).
    #[serde(default)]
    pub to: Option<String>,
    /// Only these applications; all when empty.
    #[serde(default)]
    pub applications: Vec<String>,
    /// Promote this instead of the source environment's current content.
    #[serde(default)]
    pub source: Option<SourceRef>,
    /// Describes the release (commit bodies, release list).
    #[serde(default)]
    pub message: Option<String>,
}

/// An earlier state to promote: a commit of the source repository, or the frozen source
/// of an earlier release (rollback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SourceRef {
    /// A commit id (full or abbreviated), branch or tag of the source repository.
    Commit(String),
    /// The id of an earlier release.
    Release(String),
}

/// What changed between the frozen sources of two releases of one product: the content
/// every environment receives from the one and from the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseComparison {
    /// The release compared from.
    pub from: String,
    /// Its version.
    pub from_version: Option<String>,
    /// The release compared to.
    pub to: String,
    /// Its version.
    pub to_version: Option<String>,
    /// The applications whose source differs, by name.
    pub applications: Vec<crate::diff::ApplicationDiff>,
    /// How many applications have the same source in both.
    pub unchanged: usize,
}

/// The frozen source of a release: what every environment of the flow receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// The environment the content was taken from.
    pub environment: String,
    /// One entry per application.
    pub applications: Vec<SourceApplication>,
}

/// One application's frozen source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceApplication {
    /// Application name.
    pub name: String,
    /// Repository URL.
    pub repository: String,
    /// Branch the commit was taken from.
    pub branch: String,
    /// Folder of the source environment.
    pub folder: String,
    /// Commit id.
    pub commit: String,
    /// When that commit was made (RFC 3339): where a release's lead time starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_at: Option<String>,
    /// Read through the template's `versionSource`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Source {
    /// The release's version: the one version all applications share, or a summary.
    pub fn version(&self) -> Option<String> {
        let mut versions: Vec<&str> = self
            .applications
            .iter()
            .filter_map(|a| a.version.as_deref())
            .collect();
        versions.sort_unstable();
        versions.dedup();
        match versions.as_slice() {
            [] => None,
            [one] => Some(one.to_string()),
            many => Some(format!("{} versions", many.len())),
        }
    }
}

impl Source {
    /// Whether some application carries `version`.
    pub fn carries(&self, version: &str) -> bool {
        self.applications
            .iter()
            .any(|a| a.version.as_deref() == Some(version))
    }
}

/// A version of a product marked bad (`promenade block`): no release carrying it is
/// started, and running ones stop before they write again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockedVersion {
    /// Product name.
    pub product: String,
    /// The version, as the template's `versionSource` reads it.
    pub version: String,
    /// Why, in the words of whoever blocked it.
    pub reason: String,
    /// Who blocked it (a user's or token's name).
    pub blocked_by: String,
    /// RFC 3339.
    pub blocked_at: String,
}

/// A product, or one of its environments, paused (`promenade pause`): releases hold
/// before their next step there until it is resumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pause {
    /// Product name.
    pub product: String,
    /// The environment paused; every environment of the product when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Why, in the words of whoever paused it.
    pub reason: String,
    /// Who paused it (a user's or token's name).
    pub paused_by: String,
    /// RFC 3339.
    pub paused_at: String,
}

impl Pause {
    /// `prod` or `every environment`, for messages.
    pub fn scope(&self) -> &str {
        self.environment.as_deref().unwrap_or("every environment")
    }
}

/// The answer to a dry run: what promoting would change, environment by environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// Product name.
    pub product: String,
    /// Flow name.
    pub flow: String,
    /// What would be frozen.
    pub source: Source,
    /// The release's version.
    pub version: Option<String>,
    /// In the order the steps would run.
    pub environments: Vec<EnvironmentPreview>,
}

/// One environment of a preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentPreview {
    /// How the change would be written.
    pub action: PromotionAction,
    /// Steps of the release that come first.
    pub depends_on: Vec<String>,
    /// What the step would wait for before writing, in order, in words
    /// (`approval by release-manager`, `soak 30m`): the environment's policy has the
    /// definitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waits_for: Vec<String>,
    /// The changes.
    #[serde(flatten)]
    pub diff: EnvironmentDiff,
}

/// A release as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRecord {
    /// Time-ordered unique id.
    pub id: String,
    /// Product name.
    pub product: String,
    /// Flow name.
    pub flow: String,
    /// Where the release stands.
    pub status: ReleaseStatus,
    /// The frozen snapshot (source and resources) the engine works from; `null` in
    /// lists, where it would be megabytes for thousands of applications.
    pub source: Value,
    /// The version promoted: the one its applications share, or a summary
    /// ([`Source::version`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// What the person who started it wrote.
    pub message: String,
    /// Who started it (a user's or token's name, or `trigger`).
    pub created_by: String,
    /// Whether `created_by` is a user, a token or Promenade itself.
    #[serde(default)]
    pub created_by_kind: PrincipalKind,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once final.
    pub finished_at: Option<String>,
    /// The newer release that replaced this one while it waited for an environment
    /// (`concurrency: supersede`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// In topological order; empty in lists.
    pub steps: Vec<StepRecord>,
}

impl ReleaseRecord {
    /// The release's steps grouped by level, as the flow graph orders them: a step sits
    /// one level after the deepest step of this release it depends on, so parallel
    /// branches share a level and a join comes after all of its branches. Steps whose
    /// dependencies lie outside the release (the trigger, or environments a partial
    /// release does not visit) start at level 0.
    pub fn step_levels(&self) -> Vec<Vec<&StepRecord>> {
        // The source the release starts from, as the graph's trigger: a name no
        // environment can have.
        const SOURCE: &str = " source";
        let inside = |name: &String| self.steps.iter().any(|s| &s.environment == name);
        let spec = PromotionFlowSpec {
            trigger_environment: SOURCE.to_string(),
            steps: self
                .steps
                .iter()
                .map(|step| {
                    let mut depends_on: Vec<String> = step
                        .depends_on
                        .iter()
                        .filter(|d| inside(d))
                        .cloned()
                        .collect();
                    if depends_on.is_empty() {
                        depends_on.push(SOURCE.to_string());
                    }
                    FlowStep {
                        environment: step.environment.clone(),
                        depends_on,
                        policy: None,
                    }
                })
                .collect(),
            ..Default::default()
        };
        let step = |name: &str| self.steps.iter().find(|s| s.environment == name);
        match FlowGraph::new(&spec) {
            Ok(graph) => graph
                .levels()
                .into_iter()
                .skip(1)
                .map(|level| level.into_iter().filter_map(step).collect())
                .collect(),
            // Stored steps always form a graph; should one not, show them in order.
            Err(_) => self.steps.iter().map(|s| vec![s]).collect(),
        }
    }

    /// The source the release froze, read from the snapshot.
    pub fn frozen_source(&self) -> Option<Source> {
        serde_json::from_value::<Source>(self.source["source"].clone()).ok()
    }
}

/// One environment of a release.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    /// Environment name.
    pub environment: String,
    /// Steps that must finish first.
    pub depends_on: Vec<String>,
    /// Where the step stands.
    pub status: StepStatus,
    /// How the step writes to git.
    pub action: PromotionAction,
    /// How many times the step was started.
    pub attempt: i64,
    /// Gates, verification, commits and pull request branches, the error.
    pub detail: StepDetail,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// RFC 3339.
    pub finished_at: Option<String>,
    /// Per application; empty where not loaded.
    pub applications: Vec<ApplicationRecord>,
}

impl StepRecord {
    /// The step's gates as the release runs them (`detail.gates`), in policy order.
    pub fn gates(&self) -> Vec<Gate> {
        self.detail.gates.clone()
    }

    /// The step's verification after its change (`detail.verify`), in policy order.
    pub fn verification(&self) -> Vec<Gate> {
        self.detail.verify.clone()
    }
}

/// What a step records as it runs. Each field is written on its own (a patch holding
/// only the fields set), so a step's gates, results and error never overwrite each
/// other.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StepDetail {
    /// The gates, frozen from the environment's policy when the release was created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<Gate>,
    /// The verification after the change, frozen likewise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<Gate>,
    /// What the step did in each repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<RepositoryResult>,
    /// Why the step failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The freeze that holds the step, or last held it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen: Option<FrozenBy>,
    /// Who let the step through a freeze, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlass>,
}

/// What a step did in one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryResult {
    /// The repository's URL.
    pub repository: String,
    /// The branch promoted to.
    pub branch: String,
    /// The promotion commit, when one was needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The pull request branch, for the `pr` action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request_branch: Option<String>,
    /// The pull or merge request on a GitHub or GitLab host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestRecord>,
}

/// A pull (GitHub) or merge (GitLab) request a step opened, as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestRecord {
    /// The host's kind.
    pub provider: crate::resources::Provider,
    /// The request's number (GitLab: its `iid`).
    pub number: u64,
    /// Its page on the host.
    pub url: String,
    /// Open, merged or closed.
    pub state: PullRequestState,
    /// What the host's checks say of its head commit, when it runs any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<ChecksState>,
    /// The commit the merge made on the base branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<String>,
    /// Why the request waits: auto-merge refused by branch protection, a draft…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where a pull request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullRequestState {
    /// Waiting for review and merge.
    Open,
    /// Merged: the promotion is on the base branch.
    Merged,
    /// Closed without merging.
    Closed,
}

impl PullRequestState {
    /// `open`, `merged` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Merged => "merged",
            Self::Closed => "closed",
        }
    }
}

/// The combined result of a commit's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksState {
    /// Some still run.
    Pending,
    /// All passed.
    Success,
    /// One failed.
    Failure,
}

impl ChecksState {
    /// `pending`, `success` or `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// A gate of a step, frozen from the environment's policy when the release was created
/// and updated as it runs. Kept in the step's `detail.gates`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Gate {
    /// What the gate waits for.
    pub action: Action,
    /// Where it stands.
    pub status: GateStatus,
    /// Who approved so far (approval gates).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<GateApproval>,
    /// When the wait ends, RFC 3339: a soak's end, a check's deadline (once started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// What the last attempt of a check found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the gate asked of another system (an Argo CD sync, with its revision), so a
    /// restarted engine waits for it instead of asking twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<String>,
    /// Where people follow what the gate started (an Argo Workflows workflow's page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl Gate {
    /// A gate that has not started.
    pub fn new(action: Action) -> Self {
        Self {
            action,
            status: GateStatus::Pending,
            approvals: Vec::new(),
            until: None,
            note: None,
            requested: None,
            link: None,
        }
    }

    /// Approvals still missing, for an approval gate that waits.
    pub fn approvals_missing(&self) -> Option<u32> {
        match &self.action {
            Action::Approval(approval) if self.status == GateStatus::Waiting => {
                let given = u32::try_from(self.approvals.len()).unwrap_or(u32::MAX);
                Some(approval.count.get().saturating_sub(given))
            }
            _ => None,
        }
    }

    /// One line for people: what the gate waits for, or what let it pass.
    pub fn describe(&self) -> String {
        let approvers = || {
            self.approvals
                .iter()
                .map(|a| a.user.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (&self.action, self.status) {
            (Action::Approval(_), GateStatus::Passed) => {
                format!("approved by {}", approvers())
            }
            (Action::Approval(approval), status) => {
                let roles = if approval.roles.is_empty() {
                    "release-manager or higher".to_owned()
                } else {
                    approval.roles.join(" or ")
                };
                let state = if status == GateStatus::Waiting {
                    "waiting for"
                } else {
                    "then"
                };
                let mut line = format!(
                    "{state} approval: {} of {} ({roles})",
                    self.approvals.len(),
                    approval.count
                );
                if !self.approvals.is_empty() {
                    line.push_str(&format!(", approved by {}", approvers()));
                }
                line
            }
            (Action::Soak(soak), GateStatus::Passed) => format!("soaked {}", soak.duration),
            (Action::Http(check), GateStatus::Passed) => format!("checked {}", check.url),
            (Action::Window(_), GateStatus::Passed) => "inside the promotion window".to_owned(),
            (Action::Window(_), GateStatus::Waiting) => format!(
                "waiting for the promotion window ({})",
                self.note.as_deref().unwrap_or("outside it")
            ),
            (Action::Http(check), GateStatus::Waiting) => match &self.note {
                Some(note) => format!("checking {}: {note}", check.url),
                None => format!("checking {}", check.url),
            },
            (Action::Argocd(check), GateStatus::Passed) => format!(
                "Argo CD: synced and {}",
                check
                    .health
                    .unwrap_or(crate::action::ArgoCdHealth::Healthy)
                    .as_str()
            ),
            (Action::Argocd(_), GateStatus::Waiting) => match &self.note {
                Some(note) => format!("waiting for Argo CD: {note}"),
                None => "waiting for Argo CD".to_owned(),
            },
            (Action::Workflow(run), GateStatus::Passed) => match &self.requested {
                Some(name) => format!("workflow {name} succeeded"),
                None => format!("workflow {} succeeded", run.template),
            },
            (Action::Workflow(run), GateStatus::Waiting) => {
                let what = self.requested.as_deref().unwrap_or(&run.template);
                match &self.note {
                    Some(note) => format!("waiting for workflow {what}: {note}"),
                    None => format!("waiting for workflow {what}"),
                }
            }
            (Action::Soak(soak), GateStatus::Waiting) => match &self.until {
                Some(until) => format!("soaking {} until {until}", soak.duration),
                None => format!("soaking {}", soak.duration),
            },
            (action, _) => format!("then {}", action.summary()),
        }
    }
}

/// Where a gate stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    /// Earlier gates have not passed yet.
    Pending,
    /// The release waits for it.
    Waiting,
    /// Done: the step went on.
    Passed,
}

impl GateStatus {
    /// As written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Waiting => "waiting",
            Self::Passed => "passed",
        }
    }
}

/// One person's approval of a gate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GateApproval {
    /// User or token name.
    pub user: String,
    /// Whether `user` is a user or a token.
    #[serde(default)]
    pub kind: PrincipalKind,
    /// RFC 3339.
    pub at: String,
}

/// One application in one environment of a release.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationRecord {
    /// Application name.
    pub application: String,
    /// `succeeded`, `unchanged`, …
    pub status: StepStatus,
    /// Version promoted.
    pub version: Option<String>,
    /// The promotion commit.
    pub commit: Option<String>,
    /// Files changed.
    pub files_changed: i64,
    /// Lines added.
    pub lines_added: i64,
    /// Lines removed.
    pub lines_removed: i64,
}

/// One line of a release's log, written by its steps (and `hooks`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    /// The step's environment, or `hooks`.
    pub environment: String,
    /// RFC 3339.
    pub at: String,
    /// `info`, `warn` or `error`.
    pub level: String,
    /// What happened.
    pub message: String,
}

/// What an event reports.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The release's status changed (`data.status`).
    Release,
    /// A step's status changed (`data.status`, `data.detail`).
    Step,
    /// A waiting gate or check made progress (`data.detail`).
    Gate,
    /// Someone approved a gate (`data.gate`, `data.user`, `data.kind`).
    Approval,
}

impl EventKind {
    /// Every kind, as live streams name them.
    pub const ALL: [EventKind; 4] = [
        EventKind::Release,
        EventKind::Step,
        EventKind::Gate,
        EventKind::Approval,
    ];

    /// The kind's name: the server-sent event's `event:` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Release => "release",
            EventKind::Step => "step",
            EventKind::Gate => "gate",
            EventKind::Approval => "approval",
        }
    }
}

impl FromStr for EventKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| format!("unknown event kind {text:?}"))
    }
}

/// One entry of a release's event log. `seq` orders all events of all releases.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    /// Sequence number, the server-sent events id.
    pub seq: i64,
    /// The release.
    pub release_id: String,
    /// RFC 3339.
    pub at: String,
    /// The step's environment, for step, gate and approval events.
    pub environment: Option<String>,
    /// What changed: the JSON fields `kind` and `data`.
    #[serde(flatten)]
    pub change: EventChange,
}

/// What an event says changed, by kind.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", content = "data", rename_all = "lowercase")]
pub enum EventChange {
    /// The release's status changed.
    Release(ReleaseChange),
    /// A step's status changed.
    Step(StepChange),
    /// A waiting gate or check made progress.
    Gate(GateChange),
    /// Someone approved a gate.
    Approval(ApprovalChange),
}

/// A release's new status.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseChange {
    /// The new status.
    pub status: ReleaseStatus,
    /// The product, on the event that created the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
}

/// A step's new status, with what it recorded on the way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StepChange {
    /// The new status.
    pub status: StepStatus,
    /// The fields of the step's detail this change set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<StepDetail>,
}

/// Progress of a step's gates or verification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GateChange {
    /// The fields of the step's detail this change set (`gates` or `verify`).
    pub detail: StepDetail,
}

/// One principal's approval of a gate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalChange {
    /// Index of the gate in the step's gates.
    pub gate: usize,
    /// User or token name.
    pub user: String,
    /// Whether `user` is a user or a token.
    #[serde(default)]
    pub kind: PrincipalKind,
}

impl EventChange {
    /// The change's kind: the server-sent event's `event:` field.
    pub fn kind(&self) -> EventKind {
        match self {
            EventChange::Release(_) => EventKind::Release,
            EventChange::Step(_) => EventKind::Step,
            EventChange::Gate(_) => EventKind::Gate,
            EventChange::Approval(_) => EventKind::Approval,
        }
    }
}

impl EventRecord {
    /// What kind of change this is.
    pub fn kind(&self) -> EventKind {
        self.change.kind()
    }

    /// Whether this event says the release reached a final state.
    pub fn ends_release(&self) -> bool {
        matches!(&self.change, EventChange::Release(change) if change.status.is_final())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(env: &str, deps: &[&str]) -> StepRecord {
        StepRecord {
            environment: env.into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            status: StepStatus::Pending,
            action: PromotionAction::Commit,
            attempt: 0,
            detail: StepDetail::default(),
            started_at: None,
            finished_at: None,
            applications: Vec::new(),
        }
    }

    fn level_names(steps: Vec<StepRecord>) -> Vec<Vec<String>> {
        let release = ReleaseRecord {
            id: "r".into(),
            product: "shop".into(),
            flow: "standard".into(),
            status: ReleaseStatus::Running,
            source: serde_json::json!({}),
            version: None,
            message: String::new(),
            created_by: "alice".into(),
            created_by_kind: PrincipalKind::User,
            created_at: String::new(),
            finished_at: None,
            superseded_by: None,
            steps,
        };
        release
            .step_levels()
            .into_iter()
            .map(|l| l.into_iter().map(|s| s.environment.clone()).collect())
            .collect()
    }

    #[test]
    fn parallel_branches_share_a_level_and_the_join_comes_after_both() {
        let steps = vec![
            step("qa", &["dev"]),
            step("staging-eu", &["qa"]),
            step("staging-us", &["qa"]),
            step("prod", &["staging-eu", "staging-us"]),
        ];
        assert_eq!(
            level_names(steps),
            [vec!["qa"], vec!["staging-eu", "staging-us"], vec!["prod"]]
        );
    }

    #[test]
    fn a_partial_release_starts_where_its_steps_start() {
        // Promoting to staging-eu and prod only: prod's other branch is not visited.
        let steps = vec![
            step("staging-eu", &["qa"]),
            step("prod", &["staging-eu", "staging-us"]),
        ];
        assert_eq!(level_names(steps), [vec!["staging-eu"], vec!["prod"]]);
    }

    #[test]
    fn every_status_round_trips_through_its_text_and_serde() {
        for status in StepStatus::ALL {
            assert_eq!(status.as_str().parse::<StepStatus>(), Ok(*status));
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        for status in ReleaseStatus::ALL {
            assert_eq!(status.as_str().parse::<ReleaseStatus>(), Ok(*status));
        }
        assert_eq!(StepStatus::AwaitingMerge.as_str(), "awaiting-merge");
        assert!("bogus".parse::<StepStatus>().is_err());
    }

    #[test]
    fn only_success_and_unchanged_release_dependents() {
        let releasing: Vec<_> = StepStatus::ALL
            .iter()
            .filter(|s| s.lets_dependents_start())
            .collect();
        assert_eq!(releasing, [&StepStatus::Succeeded, &StepStatus::Unchanged]);
    }
}
