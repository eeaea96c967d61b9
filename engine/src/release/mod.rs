//! Releases: planning, preview, and execution of a flow with parallel branches and
//! joins. Every state change is persisted (with its event) before the next side effect,
//! and every commit carries trailers, so a restarted engine resumes where it stopped and
//! never commits twice.

mod argocd_check;
mod changes;
mod command;
mod compare;
mod gates;
mod hooks;
mod http_check;
mod plan;
mod promote;
mod pull_requests;
mod received;
mod source;
mod workflow;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use promenade_model::audit::AuditAction;
use promenade_model::diff::EnvironmentDiff;
use promenade_model::policy::PullRequestSettings;
use promenade_model::resources::{
    ArgoCdInstance, ArgoWorkflowsInstance, Concurrency, Hooks, Product, PromotionAction,
    PromotionTemplateSpec,
};
use promenade_model::template::CompiledTemplate;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, info_span, warn, Instrument};

pub use plan::{PromotionRequest, SourceRef};
pub use promenade_model::release::RepositoryResult;
pub use promenade_model::release::{EnvironmentPreview, Preview, Source, SourceApplication};
pub use source::SourceTrees;
pub(crate) use source::Tips;

use self::gates::{check_supported, Phase};
use self::plan::{Plan, ServerArgo};
use self::promote::{RepoJob, RepoOutcome};
use crate::audit::Record;
use crate::auth::{allow, Principal, Role};
use crate::bus::Signal;
use crate::credentials::Keyring;
use crate::git::CommitInfo;
use crate::hosting::StatusState;
use crate::store::{
    ApplicationResult, EventRecord, NewRelease, NewStep, ReleaseFilter, ReleaseRecord, Turn,
};
use crate::{telemetry, Checkpoint, Engine, EngineError, Result};
use promenade_model::release::{EventChange, Gate, LogLine, ReleaseStatus, StepDetail, StepStatus};
use promenade_model::validate::ResourceSet;

/// What a release froze at creation: the source commits and the resources it was
/// planned from, so later edits to resources do not change a running release.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub source: Source,
    pub product: Product,
    pub template: PromotionTemplateSpec,
    /// The flow's hooks, called when the release ends.
    #[serde(default)]
    pub hooks: Hooks,
    /// Pull request settings of the `pr` steps, by environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pull_requests: BTreeMap<String, PullRequestSettings>,
    /// The Argo CD of each environment that names one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub argocd: BTreeMap<String, ArgoCdInstance>,
    /// The Argo Workflows of each environment with one (its own or the server's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub argo_workflows: BTreeMap<String, ArgoWorkflowsInstance>,
}

impl Snapshot {
    /// ` 1.5.0`, to follow the product's name in messages; empty without a version.
    fn version_suffix(&self) -> String {
        self.source
            .version()
            .map(|v| format!(" {v}"))
            .unwrap_or_default()
    }
}

/// Per-engine state of running releases.
#[derive(Default)]
pub(crate) struct Runtime {
    /// The releases this replica drives.
    running: Mutex<HashMap<String, CancellationToken>>,
    /// Set by the fault-injection hook: the engine behaves as a killed process would.
    pub(crate) dead: AtomicBool,
    /// Woken when a gate may have opened (an approval arrived).
    pub(crate) gate_changes: tokio::sync::Notify,
    /// Woken when a git host reports a change to a pull request (its webhook).
    pub(crate) merge_changes: tokio::sync::Notify,
}

impl Engine {
    /// Resolves a promotion of `product` and refuses what the engine cannot run.
    fn plan(&self, set: &ResourceSet, product: &str, request: &PromotionRequest) -> Result<Plan> {
        let config = self.config();
        let servers = ServerArgo {
            argocd: config.argocd.as_ref(),
            workflows: config.argo_workflows.as_ref(),
        };
        let plan = Plan::new(set, product, request, servers)?;
        check_supported(&plan, servers.workflows)?;
        Ok(plan)
    }

    /// Shows what promoting would change, environment by environment, without writing.
    pub async fn preview(
        &self,
        who: &Principal,
        product: &str,
        request: &PromotionRequest,
    ) -> Result<Preview> {
        allow(who, Role::Viewer, "previewing")?;
        let set = self.store().resource_set().await?;
        let plan = self.plan(&set, product, request)?;
        let earlier = self.earlier_source(request).await?;
        let keyring = self.keyring(&[&plan.product]).await?;
        let engine = self.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || {
            let git = engine.git();
            let (source, trees) = source::freeze(
                git,
                &keyring,
                &plan,
                request.source.as_ref(),
                earlier.as_ref(),
                &Tips::new(),
            )?;
            let mut environments = Vec::new();
            for step in &plan.steps {
                let mut apps = Vec::new();
                for ((url, branch), group) in plan.by_repository(&step.environment) {
                    let job = engine.repo_job(
                        Target {
                            template: &plan.template,
                            trees: &trees,
                            keyring: &keyring,
                            url: &url,
                            branch: &branch,
                            environment: &step.environment,
                        },
                        group,
                        CommitInfo::default(),
                    );
                    apps.extend(job.preview()?.into_iter().map(|c| c.diff));
                }
                environments.push(EnvironmentPreview {
                    action: step.action(),
                    depends_on: step.depends_on.clone(),
                    waits_for: step.policy.gates.iter().map(|g| g.summary()).collect(),
                    diff: EnvironmentDiff::new(step.environment.clone(), apps),
                });
            }
            Ok(Preview {
                product: plan.product.metadata.name.clone(),
                flow: plan.flow.metadata.name.clone(),
                version: source.version(),
                source,
                environments,
            })
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
    }

    /// Creates a release and starts it, as `who`.
    pub async fn promote(
        &self,
        who: &Principal,
        product: &str,
        request: &PromotionRequest,
    ) -> Result<ReleaseRecord> {
        self.promote_from(who, product, request, Tips::new()).await
    }

    /// [`Engine::promote`], taking the source from the branch tips in `fetched` where
    /// it has them instead of fetching (see [`source::freeze`]).
    pub(crate) async fn promote_from(
        &self,
        who: &Principal,
        product: &str,
        request: &PromotionRequest,
        fetched: Tips,
    ) -> Result<ReleaseRecord> {
        allow(who, Role::Promoter, "promoting")?;
        let set = self.store().resource_set().await?;
        let plan = self.plan(&set, product, request)?;
        let earlier = self.earlier_source(request).await?;
        let keyring = self.keyring(&[&plan.product]).await?;
        let (plan, (source, trees)) = {
            let engine = self.clone();
            let requested = request.source.clone();
            tokio::task::spawn_blocking(move || {
                let frozen = source::freeze(
                    engine.git(),
                    &keyring,
                    &plan,
                    requested.as_ref(),
                    earlier.as_ref(),
                    &fetched,
                )?;
                Ok::<_, EngineError>((plan, frozen))
            })
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??
        };
        let template_spec = set
            .template(&plan.product.spec.template)
            .map(|t| t.spec.clone())
            .unwrap_or_default();
        let snapshot = Snapshot {
            source,
            product: plan.product.clone(),
            template: template_spec,
            hooks: plan.flow.spec.hooks.clone(),
            pull_requests: plan
                .steps
                .iter()
                .filter(|s| s.action() == PromotionAction::Pr)
                .map(|s| (s.environment.clone(), s.policy.pull_request.clone()))
                .collect(),
            argocd: plan.argocd.clone(),
            argo_workflows: plan.argo_workflows.clone(),
        };
        self.refuse_blocked(product, &snapshot.source, "no release may carry it")
            .await?;
        let id = new_release_id();
        let release = NewRelease {
            id: id.clone(),
            product: product.to_string(),
            flow: plan.flow.metadata.name.clone(),
            status: ReleaseStatus::Running,
            source: serde_json::to_value(&snapshot)
                .map_err(|e| EngineError::Internal(e.to_string()))?,
            version: snapshot.source.version(),
            message: request.message.clone().unwrap_or_default(),
            created_by: who.name.clone(),
            created_by_kind: who.kind,
            steps: plan
                .steps
                .iter()
                .map(|s| NewStep {
                    environment: s.environment.clone(),
                    depends_on: s.depends_on.clone(),
                    action: s.action(),
                    applications: plan.applications.iter().map(|a| a.name.clone()).collect(),
                    gates: s.policy.gates.iter().cloned().map(Gate::new).collect(),
                    verify: s.policy.verify.iter().cloned().map(Gate::new).collect(),
                })
                .collect(),
        };
        let event = self.store().create_release(&release).await?;
        self.publish(event).await;
        telemetry::release_started(product);
        info!(release = %id, product, by = %who, "release created");
        if plan.product.spec.concurrency == Concurrency::Terminate {
            self.terminate_older(product, &id).await?;
        }
        self.spawn(id.clone(), Some(Arc::new(trees))).await?;
        self.load_release(&id).await
    }

    /// One release with its steps and applications.
    pub async fn release(&self, who: &Principal, id: &str) -> Result<ReleaseRecord> {
        allow(who, Role::Viewer, "reading releases")?;
        self.load_release(id).await
    }

    pub(crate) async fn load_release(&self, id: &str) -> Result<ReleaseRecord> {
        self.store()
            .release(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("release {id:?} does not exist")))
    }

    /// [`Engine::load_release`] without the per-application rows, which a product of
    /// 1,000 applications has thousands of.
    pub(crate) async fn load_steps(&self, id: &str) -> Result<ReleaseRecord> {
        self.store()
            .release_steps(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("release {id:?} does not exist")))
    }

    /// Restarts a failed release from its failed steps.
    pub async fn retry(&self, who: &Principal, id: &str) -> Result<ReleaseRecord> {
        allow(who, Role::Promoter, "retrying releases")?;
        let release = self.load_release(id).await?;
        if release.status != ReleaseStatus::Failed {
            return Err(EngineError::Conflict {
                message: format!(
                    "release {id} is {}; only failed releases can be retried",
                    release.status
                ),
                diagnostics: Vec::new(),
            });
        }
        for step in release
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Failed)
        {
            let event = self
                .store()
                .set_step_status(id, &step.environment, StepStatus::Pending, None)
                .await?;
            self.publish(event).await;
        }
        self.set_release_status(id, &release.product, ReleaseStatus::Running, None)
            .await?;
        self.spawn(id.to_string(), None).await?;
        self.audit(Record::by(who, AuditAction::ReleaseRetried, id))
            .await?;
        self.load_release(id).await
    }

    /// Stops a release: working steps become `terminated`, pending ones stay pending.
    pub async fn terminate(&self, who: &Principal, id: &str) -> Result<ReleaseRecord> {
        allow(who, Role::Promoter, "terminating releases")?;
        let stopped = self
            .terminate_release(id, &format!("release {id} was terminated by {}", who.name))
            .await?;
        self.audit(Record::by(who, AuditAction::ReleaseTerminated, id))
            .await?;
        Ok(stopped)
    }

    /// Stops a release; `reason` goes into the comment that closes its pull requests.
    async fn terminate_release(&self, id: &str, reason: &str) -> Result<ReleaseRecord> {
        self.stop_release(id, reason, Stop::Terminated).await
    }

    /// Ends a release before its end: its working steps (and, when superseded, the step
    /// that waited) take the ending's status, pending ones stay pending, its pull
    /// requests are closed with `reason` and its workflows stopped.
    async fn stop_release(&self, id: &str, reason: &str, stop: Stop<'_>) -> Result<ReleaseRecord> {
        let release = self.load_release(id).await?;
        if release.status.is_final() {
            return Err(EngineError::Conflict {
                message: format!("release {id} is already {}", release.status),
                diagnostics: Vec::new(),
            });
        }
        if let Some(token) = self
            .runtime()
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            token.cancel();
        }
        let (step_status, release_status, superseded_by, waited) = match stop {
            Stop::Terminated => (
                StepStatus::Terminated,
                ReleaseStatus::Terminated,
                None,
                None,
            ),
            Stop::Superseded { by, environment } => (
                StepStatus::Superseded,
                ReleaseStatus::Superseded,
                Some(by),
                Some(environment),
            ),
        };
        let stopped: Vec<&str> = release
            .steps
            .iter()
            .filter(|s| {
                s.status.is_working()
                    || matches!(s.status, StepStatus::Waiting | StepStatus::Frozen)
                    || Some(s.environment.as_str()) == waited
            })
            .map(|s| s.environment.as_str())
            .collect();
        for environment in &stopped {
            let event = self
                .store()
                .set_step_status(id, environment, step_status, None)
                .await?;
            self.publish(event).await;
        }
        self.set_release_status(id, &release.product, release_status, superseded_by)
            .await?;
        info!(release = %id, superseded_by, "release {release_status}");
        self.close_pull_requests(&release, reason).await;
        // Read again: a workflow submitted just before the cancel is saved by now, or
        // its step stops it itself.
        if let Ok(current) = self.load_release(id).await {
            self.stop_workflows(&current, reason).await;
        }
        if let Ok(snapshot) = snapshot_of(&release) {
            let description = match stop {
                Stop::Terminated => "Terminated".to_string(),
                Stop::Superseded { by, .. } => format!("Superseded by {by}"),
            };
            for environment in stopped {
                self.report_status(id, &snapshot, environment, StatusState::Error, &description)
                    .await;
            }
        }
        self.load_release(id).await
    }

    /// Releases newest first, without their steps.
    pub async fn list_releases(
        &self,
        who: &Principal,
        filter: &ReleaseFilter,
    ) -> Result<Vec<ReleaseRecord>> {
        allow(who, Role::Viewer, "reading releases")?;
        self.store().list_releases(filter).await
    }

    /// Every log line of a release, oldest first.
    pub async fn release_logs(&self, who: &Principal, id: &str) -> Result<Vec<LogLine>> {
        allow(who, Role::Viewer, "reading releases")?;
        self.store().release_logs(id).await
    }

    /// Events of one release after `after` (a previous event's `seq`, or 0), in order.
    pub async fn release_events(
        &self,
        who: &Principal,
        id: &str,
        after: i64,
    ) -> Result<Vec<EventRecord>> {
        allow(who, Role::Viewer, "reading releases")?;
        self.store().events_after(id, after).await
    }

    /// Events of every release (of `product`, when given) after `after`, in order.
    pub async fn events_since(
        &self,
        who: &Principal,
        product: Option<&str>,
        after: i64,
    ) -> Result<Vec<EventRecord>> {
        allow(who, Role::Viewer, "reading releases")?;
        self.store().events_since(product, after).await
    }

    /// The sequence number of the newest event of any release (0 when there is none):
    /// where a live stream that starts now begins.
    pub async fn last_event_seq(&self, who: &Principal) -> Result<i64> {
        allow(who, Role::Viewer, "reading releases")?;
        self.store().last_event_seq().await
    }

    /// Terminates the product's releases started before `newer` (its `terminate`
    /// concurrency). The database decides which are older, so two releases started at
    /// once on two replicas never terminate each other.
    async fn terminate_older(&self, product: &str, newer: &str) -> Result<()> {
        for id in self.store().running_before(product, newer).await? {
            match self
                .terminate_release(&id, &format!("the newer release {newer} replaces it"))
                .await
            {
                // Ended meanwhile: nothing left to stop.
                Ok(_) | Err(EngineError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn earlier_source(&self, request: &PromotionRequest) -> Result<Option<Source>> {
        let Some(SourceRef::Release(id)) = &request.source else {
            return Ok(None);
        };
        let Some(release) = self.store().release(id).await? else {
            return Ok(None);
        };
        Ok(snapshot_of(&release).ok().map(|s| s.source))
    }

    /// Runs the release in the background, under its lease; false when another
    /// replica holds the lease (and drives it). `trees` is the frozen source's content
    /// when the caller has just read it; otherwise it is read from git again.
    pub(crate) async fn spawn(&self, id: String, trees: Option<Arc<SourceTrees>>) -> Result<bool> {
        if !self.lease_release(&id).await? {
            return Ok(false);
        }
        let token = CancellationToken::new();
        {
            let mut running = self
                .runtime()
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if running.contains_key(&id) {
                return Ok(true);
            }
            running.insert(id.clone(), token.clone());
        }
        let engine = self.clone();
        let span = info_span!("release", release = %id);
        tokio::spawn(
            async move {
                match engine.drive(&id, &token, trees).await {
                    Ok(()) | Err(EngineError::Stopped) => {}
                    Err(e) => {
                        error!(error = %e, "release failed");
                        let failed = match engine.load_release(&id).await {
                            Ok(release) => {
                                engine
                                    .set_release_status(
                                        &id,
                                        &release.product,
                                        ReleaseStatus::Failed,
                                        None,
                                    )
                                    .await
                            }
                            Err(e) => Err(e),
                        };
                        if let Err(error) = failed {
                            warn!(%error, "cannot record that the release failed; the replica that takes it over next does");
                        }
                    }
                }
                if engine.alive().is_ok() {
                    engine.free_release(&id).await;
                }
                engine
                    .runtime()
                    .running
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
            }
            .instrument(span),
        );
        Ok(true)
    }

    /// Runs the release's steps as their dependencies allow until none is left.
    async fn drive(
        &self,
        id: &str,
        cancel: &CancellationToken,
        trees: Option<Arc<SourceTrees>>,
    ) -> Result<()> {
        let release = self.load_steps(id).await?;
        let snapshot = Arc::new(snapshot_of(&release)?);
        let promoted_by: Arc<str> = format!(
            "{} ({})",
            release.created_by,
            release.created_by_kind.as_str()
        )
        .into();
        let template = Arc::new(
            CompiledTemplate::new(&snapshot.template)
                .map_err(|e| EngineError::BadRequest(e.to_string()))?,
        );
        let trees = match trees {
            Some(trees) => trees,
            None => {
                let engine = self.clone();
                let source = snapshot.source.clone();
                let keyring = self.keyring(&[&snapshot.product]).await?;
                Arc::new(
                    tokio::task::spawn_blocking(move || {
                        source::read_trees(&source, engine.git(), &keyring)
                    })
                    .await
                    .map_err(|e| EngineError::Internal(e.to_string()))??,
                )
            }
        };
        let mut in_flight: HashSet<String> = HashSet::new();
        let mut tasks = JoinSet::new();
        loop {
            self.alive()?;
            if cancel.is_cancelled() {
                tasks.shutdown().await;
                return Err(EngineError::Stopped);
            }
            let release = self.load_steps(id).await?;
            if release.status != ReleaseStatus::Running {
                return Err(EngineError::Stopped);
            }
            let state: BTreeMap<&str, StepStatus> = release
                .steps
                .iter()
                .map(|s| (s.environment.as_str(), s.status))
                .collect();
            let failed = state.values().any(|s| *s == StepStatus::Failed);
            if !failed {
                for step in &release.steps {
                    let ready = step.status.is_unstarted()
                        || (step.status.is_working() && !in_flight.contains(&step.environment));
                    let deps_done = step.depends_on.iter().all(|d| {
                        state
                            .get(d.as_str())
                            .is_none_or(|s| s.lets_dependents_start())
                    });
                    if ready && deps_done && in_flight.insert(step.environment.clone()) {
                        let engine = self.clone();
                        let job = StepJob {
                            release: id.to_string(),
                            environment: step.environment.clone(),
                            action: step.action,
                            resume_merge_wait: step.status == StepStatus::AwaitingMerge,
                            fresh: step.status.is_unstarted(),
                            verifies: !step.verification().is_empty(),
                            restarted: step.attempt > 0,
                            snapshot: snapshot.clone(),
                            template: template.clone(),
                            trees: trees.clone(),
                            promoted_by: promoted_by.clone(),
                            cancel: cancel.clone(),
                        };
                        let span = info_span!("step", environment = %step.environment);
                        tasks.spawn(async move { engine.run_step(job).await }.instrument(span));
                    } else if step.status == StepStatus::Pending && !deps_done {
                        let event = self
                            .store()
                            .set_step_status(id, &step.environment, StepStatus::Waiting, None)
                            .await?;
                        self.publish(event).await;
                    }
                }
            }
            match tasks.join_next().await {
                Some(Ok((environment, outcome))) => {
                    in_flight.remove(&environment);
                    match outcome {
                        Ok(()) => {}
                        Err(EngineError::Stopped) => return Err(EngineError::Stopped),
                        Err(e) => {
                            self.alive()?;
                            error!(environment, error = %e, "step failed");
                            self.report_status(
                                id,
                                &snapshot,
                                &environment,
                                StatusState::Failure,
                                &format!("Failed: {e}"),
                            )
                            .await;
                            self.store()
                                .append_log(id, &environment, "error", &e.to_string())
                                .await?;
                            let detail = StepDetail {
                                error: Some(e.to_string()),
                                ..Default::default()
                            };
                            let event = self
                                .store()
                                .set_step_status(
                                    id,
                                    &environment,
                                    StepStatus::Failed,
                                    Some(&detail),
                                )
                                .await?;
                            self.publish(event).await;
                        }
                    }
                }
                Some(Err(join)) => return Err(EngineError::Internal(join.to_string())),
                None => {
                    let status = if failed || state.values().any(|s| !s.is_final()) {
                        ReleaseStatus::Failed
                    } else {
                        ReleaseStatus::Succeeded
                    };
                    self.set_release_status(id, &snapshot.product.metadata.name, status, None)
                        .await?;
                    self.run_hooks(id, &snapshot, status).await?;
                    return Ok(());
                }
            }
        }
    }

    async fn run_step(&self, job: StepJob) -> (String, Result<()>) {
        let environment = job.environment.clone();
        let outcome = self.step(&job).await;
        (environment, outcome)
    }

    async fn step(&self, job: &StepJob) -> Result<()> {
        let product = job.snapshot.product.metadata.name.clone();
        let queued = Instant::now();
        if job.fresh {
            self.hold_while_paused(job, &product).await?;
            self.hold_while_frozen(&job.release, &job.environment, &product, &job.cancel)
                .await?;
        }
        self.wait_for_turn(job, &product).await?;
        telemetry::queue_waited(&job.environment, queued.elapsed());
        let started = Instant::now();
        let outcome = self.step_in_turn(job, &product).await;
        let ended = match &outcome {
            Ok(status) => status.as_str(),
            Err(EngineError::Stopped) => "stopped",
            Err(_) => StepStatus::Failed.as_str(),
        };
        telemetry::step_ended(&job.environment, job.action, ended, started.elapsed());
        self.leave_turn(job, &product).await;
        outcome.map(drop)
    }

    /// The step itself, once it is its release's turn in the environment; the status it
    /// ended with.
    async fn step_in_turn(&self, job: &StepJob, product: &str) -> Result<StepStatus> {
        let id = &job.release;
        if !job.resume_merge_wait {
            let source = &job.snapshot.source;
            self.refuse_blocked(product, source, "the release stopped before this step")
                .await?;
            self.set_step(id, &job.environment, StepStatus::Gating, None)
                .await?;
            self.report_status(
                id,
                &job.snapshot,
                &job.environment,
                StatusState::Pending,
                &format!("Promoting to {}", job.environment),
            )
            .await;
            self.run_actions(job, Phase::Gates).await?;
            // Gates may have waited long (an approval): the line may have stopped since.
            self.refuse_blocked(product, source, "the release stopped before writing")
                .await?;
            self.set_step(id, &job.environment, StepStatus::Applying, None)
                .await?;
        }
        let pr_branch = format!("promenade/{product}/{}/{id}", job.environment);
        // Resolved per step: a rotated credential is used from the next step on.
        let keyring = Arc::new(self.keyring(&[&job.snapshot.product]).await?);
        let outcomes = {
            let engine = self.clone();
            let job = job.clone();
            let pr_branch = pr_branch.clone();
            let keyring = keyring.clone();
            tokio::task::spawn_blocking(move || engine.apply_step(&job, &keyring, &pr_branch))
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??
        };
        self.checkpoint(Checkpoint::GitDone)?;
        let mut results: Vec<RepositoryResult> =
            outcomes.iter().map(|o| o.result.clone()).collect();
        let wrote = results.iter().any(|r| r.commit.is_some());
        for line in results.iter().filter_map(describe) {
            self.store()
                .append_log(id, &job.environment, "info", &line)
                .await?;
        }

        if job.action == PromotionAction::Pr
            && results.iter().any(|r| r.pull_request_branch.is_some())
        {
            self.open_pull_requests(job, &outcomes, &mut results)
                .await?;
            let detail = StepDetail {
                repositories: results.clone(),
                ..Default::default()
            };
            self.set_step(
                id,
                &job.environment,
                StepStatus::AwaitingMerge,
                Some(detail),
            )
            .await?;
            self.wait_for_merge(job, &keyring, &mut results).await?;
        }
        self.record_applications(job, &outcomes).await?;
        if job.verifies {
            // Verification (Argo CD) checks what the step wrote: its commits go first.
            let written = StepDetail {
                repositories: results.clone(),
                ..Default::default()
            };
            self.set_step(id, &job.environment, StepStatus::Verifying, Some(written))
                .await?;
            self.run_actions(job, Phase::Verify).await?;
        }
        let status = if wrote {
            StepStatus::Succeeded
        } else {
            StepStatus::Unchanged
        };
        let version = job.snapshot.version_suffix();
        self.report_status(
            id,
            &job.snapshot,
            &job.environment,
            StatusState::Success,
            &format!(
                "{} runs {}{version}",
                job.environment, job.snapshot.product.metadata.name
            ),
        )
        .await;
        let detail = StepDetail {
            repositories: results,
            ..Default::default()
        };
        self.set_step(id, &job.environment, status, Some(detail))
            .await?;
        Ok(status)
    }

    fn apply_step(
        &self,
        job: &StepJob,
        keyring: &Keyring,
        pr_branch: &str,
    ) -> Result<Vec<RepoOutcome>> {
        let plan_apps = &job.snapshot.product;
        let mut groups: BTreeMap<(String, String), Vec<&promenade_model::resources::Application>> =
            BTreeMap::new();
        for app in &plan_apps.spec.applications {
            if !job.trees.contains_key(&app.name) {
                continue;
            }
            let repo = app.repository_for(&job.environment, &plan_apps.spec.repository);
            groups
                .entry((repo.url.clone(), repo.branch().to_string()))
                .or_default()
                .push(app);
        }
        let mut outcomes = Vec::new();
        for ((url, branch), apps) in groups {
            let info = self.commit_info(job, &apps);
            let mut repo_job = self.repo_job(
                Target {
                    template: &job.template,
                    trees: &job.trees,
                    keyring,
                    url: &url,
                    branch: &branch,
                    environment: &job.environment,
                },
                apps,
                info,
            );
            repo_job.earlier_attempts = job.restarted;
            outcomes.push(match job.action {
                PromotionAction::None => repo_job.preview().map(|changes| RepoOutcome {
                    result: RepositoryResult {
                        repository: url.clone(),
                        branch: branch.clone(),
                        ..Default::default()
                    },
                    changes,
                })?,
                PromotionAction::Pr => repo_job.open_pull_request_branch(pr_branch)?,
                PromotionAction::Commit => repo_job.commit_directly()?,
            });
        }
        Ok(outcomes)
    }

    async fn record_applications(&self, job: &StepJob, outcomes: &[RepoOutcome]) -> Result<()> {
        let versions: BTreeMap<&str, &Option<String>> = job
            .snapshot
            .source
            .applications
            .iter()
            .map(|a| (a.name.as_str(), &a.version))
            .collect();
        let results: Vec<(String, ApplicationResult)> = outcomes
            .iter()
            .flat_map(|outcome| {
                outcome.changes.iter().map(|change| {
                    let result = ApplicationResult {
                        status: Some(if change.changed() {
                            StepStatus::Succeeded
                        } else {
                            StepStatus::Unchanged
                        }),
                        version: versions
                            .get(change.application.as_str())
                            .and_then(|v| (*v).clone()),
                        commit: outcome.result.commit.clone(),
                        files_changed: change.diff.files.len() as i64,
                        lines_added: change.diff.added as i64,
                        lines_removed: change.diff.removed as i64,
                    };
                    (change.application.clone(), result)
                })
            })
            .collect();
        self.store()
            .set_application_results(&job.release, &job.environment, &results)
            .await
    }

    fn repo_job<'a>(
        &'a self,
        target: Target<'a>,
        apps: Vec<&'a promenade_model::resources::Application>,
        info: CommitInfo,
    ) -> RepoJob<'a> {
        let config = self.config();
        RepoJob {
            git: self.git(),
            keyring: target.keyring,
            url: target.url,
            branch: target.branch,
            environment: target.environment,
            apps,
            template: target.template,
            sources: target.trees,
            info: CommitInfo {
                author_name: config.committer_name.clone(),
                author_email: config.committer_email.clone(),
                ..info
            },
            push_attempts: config.push_attempts,
            earlier_attempts: true,
            before_push: {
                let engine = self.clone();
                Arc::new(move || engine.checkpoint(Checkpoint::BeforePush).is_ok())
            },
        }
    }

    /// The commit a step makes in one repository: `shop 1.5.0 → qa (3 applications)`,
    /// the applications and the release's link, then the trailers.
    fn commit_info(
        &self,
        job: &StepJob,
        apps: &[&promenade_model::resources::Application],
    ) -> CommitInfo {
        let product = &job.snapshot.product.metadata.name;
        let version = job.snapshot.version_suffix();
        let count = match apps.len() {
            1 => "1 application".to_string(),
            n => format!("{n} applications"),
        };
        let mut body: String = apps.iter().map(|a| format!("- {}\n", a.name)).collect();
        body.push('\n');
        body.push_str(&match &self.config().public_url {
            Some(url) => format!(
                "Release: {}/releases/{}\n",
                url.trim_end_matches('/'),
                job.release
            ),
            None => format!("Release: {}\n", job.release),
        });
        CommitInfo {
            subject: format!("{product}{version} → {} ({count})", job.environment),
            body,
            release: job.release.clone(),
            environment: job.environment.clone(),
            promoted_by: job.promoted_by.to_string(),
            ..CommitInfo::default()
        }
    }

    async fn set_step(
        &self,
        id: &str,
        environment: &str,
        status: StepStatus,
        detail: Option<StepDetail>,
    ) -> Result<()> {
        self.alive()?;
        let event = self
            .store()
            .set_step_status(id, environment, status, detail.as_ref())
            .await?;
        self.publish(event).await;
        self.checkpoint(Checkpoint::Persisted)
    }

    /// Waits until the release's step is first in the environment's queue, which the
    /// database keeps: releases of a product take each environment in turn, whichever
    /// replica drives them. The place is kept across a takeover.
    /// With `concurrency: supersede`, a release waiting while a newer one is in line
    /// for the same environment ends `superseded` instead.
    async fn wait_for_turn(&self, job: &StepJob, product: &str) -> Result<()> {
        let supersede = job.snapshot.product.spec.concurrency == Concurrency::Supersede;
        loop {
            // Armed before looking, so a place given up meanwhile is not missed.
            let changed = self.queue_changes().notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self
                .store()
                .queue_turn(product, &job.environment, &job.release, supersede)
                .await?
            {
                Turn::Taken => return Ok(()),
                Turn::Waiting => {}
                Turn::Superseded(newer) => {
                    let stop = Stop::Superseded {
                        by: &newer,
                        environment: &job.environment,
                    };
                    let reason = format!("the newer release {newer} replaces it");
                    return match self.stop_release(&job.release, &reason, stop).await {
                        // Ended meanwhile (terminated): stopped all the same.
                        Ok(_) | Err(EngineError::Conflict { .. }) => Err(EngineError::Stopped),
                        Err(e) => Err(e),
                    };
                }
            }
            tokio::select! {
                () = &mut changed => {}
                // Covers a wake-up lost between replicas.
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                () = job.cancel.cancelled() => return Err(EngineError::Stopped),
            }
        }
    }

    /// Holds a step that has not started while its product or environment is paused,
    /// saying so once in the release's log; a resume anywhere wakes it.
    async fn hold_while_paused(&self, job: &StepJob, product: &str) -> Result<()> {
        let mut told = false;
        loop {
            let changed = self.queue_changes().notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let Some(pause) = self.pause_on(product, &job.environment).await? else {
                if told {
                    self.store()
                        .append_log(&job.release, &job.environment, "info", "resumed")
                        .await?;
                }
                return Ok(());
            };
            if !told {
                let line = format!(
                    "held: {product} is paused in {} by {}: {}",
                    pause.scope(),
                    pause.paused_by,
                    pause.reason
                );
                info!(release = %job.release, environment = %job.environment, "{line}");
                self.store()
                    .append_log(&job.release, &job.environment, "info", &line)
                    .await?;
                told = true;
            }
            tokio::select! {
                () = &mut changed => {}
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                () = job.cancel.cancelled() => return Err(EngineError::Stopped),
            }
        }
    }

    /// Gives the step's place in the environment's queue up, so the next release's
    /// step there starts.
    async fn leave_turn(&self, job: &StepJob, product: &str) {
        if self.alive().is_err() {
            // A dead process writes nothing; whoever takes over keeps the place.
            return;
        }
        match self
            .store()
            .leave_queue(product, &job.environment, &job.release)
            .await
        {
            Ok(()) => self.signal(Signal::Queue).await,
            Err(error) => {
                warn!(release = %job.release, environment = %job.environment, %error, "cannot leave the environment's queue; the next release waits for the next look")
            }
        }
    }

    /// Sets the release's status, announces it and counts an ending.
    async fn set_release_status(
        &self,
        id: &str,
        product: &str,
        status: ReleaseStatus,
        superseded_by: Option<&str>,
    ) -> Result<()> {
        let event = self
            .store()
            .set_release_status(id, status, superseded_by)
            .await?;
        self.publish(event).await;
        telemetry::release_status(product, status);
        Ok(())
    }

    /// How many releases this replica drives now.
    pub(crate) fn driving_count(&self) -> usize {
        self.runtime()
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether this replica drives the release now.
    pub(crate) fn is_driving(&self, id: &str) -> bool {
        self.runtime()
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(id)
    }

    /// Stops driving the releases `which` picks: each stops at its next wait.
    pub(crate) fn stop_driving(&self, which: impl Fn(&str) -> bool) {
        for (id, token) in self
            .runtime()
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            if which(id) {
                token.cancel();
            }
        }
    }

    /// Announces a persisted change: logs it and wakes the followers of the event
    /// table, this replica's and the others' (who hand it to live streams).
    pub(crate) async fn publish(&self, event: EventRecord) {
        log_change(&event);
        self.signal(Signal::Events).await;
    }

    /// A fault-injection point: after each persisted change and after each push the
    /// hook may declare the process dead, and from then on the engine does nothing more,
    /// as if it had been killed there.
    fn checkpoint(&self, point: Checkpoint) -> Result<()> {
        if let Some(fault) = self.fault_hook() {
            if fault(point) {
                self.runtime().dead.store(true, Ordering::SeqCst);
            }
        }
        self.alive()
    }

    pub(crate) fn alive(&self) -> Result<()> {
        if self.runtime().dead.load(Ordering::SeqCst) {
            Err(EngineError::Stopped)
        } else {
            Ok(())
        }
    }
}

/// What one running step needs; cloned into blocking tasks.
#[derive(Clone)]
struct StepJob {
    release: String,
    environment: String,
    action: PromotionAction,
    resume_merge_wait: bool,
    /// The step has not started yet (a pause or a freeze holds it); a step under way
    /// finishes.
    fresh: bool,
    /// Whether the step has verification to run after its change.
    verifies: bool,
    /// The step was started before: an earlier attempt may have written already.
    restarted: bool,
    snapshot: Arc<Snapshot>,
    template: Arc<CompiledTemplate>,
    trees: Arc<SourceTrees>,
    /// Who started the release, for the commits' trailer.
    promoted_by: Arc<str>,
    cancel: CancellationToken,
}

/// Where one repository's part of a step goes, and with what.
struct Target<'a> {
    template: &'a CompiledTemplate,
    trees: &'a BTreeMap<String, promenade_model::template::FileTree>,
    keyring: &'a Keyring,
    url: &'a str,
    branch: &'a str,
    environment: &'a str,
}

impl RepoJob<'_> {
    fn preview(&self) -> Result<Vec<changes::AppChange>> {
        self.with_repo(|repo| {
            let tip = repo.fetch(self.branch)?;
            changes::compute(
                repo,
                tip,
                self.environment,
                &self.apps,
                self.template,
                self.sources,
            )
        })
    }
}

/// The log target of release and step state changes: one info line each (and per
/// approval), so the log tells every release's story without its event stream. Gate
/// progress, which repeats while a gate waits, is debug.
const RELEASE_LOG: &str = "promenade::release";

fn log_change(event: &EventRecord) {
    let release = event.release_id.as_str();
    let environment = event.environment.as_deref().unwrap_or_default();
    match &event.change {
        EventChange::Release(change) => info!(
            target: RELEASE_LOG,
            release,
            seq = event.seq,
            status = change.status.as_str(),
            "release {}",
            change.status.as_str()
        ),
        EventChange::Step(change) => info!(
            target: RELEASE_LOG,
            release,
            seq = event.seq,
            environment,
            status = change.status.as_str(),
            error = change.detail.as_ref().and_then(|d| d.error.as_deref()),
            "step {environment} {}",
            change.status.as_str()
        ),
        EventChange::Approval(change) => info!(
            target: RELEASE_LOG,
            release,
            seq = event.seq,
            environment,
            gate = change.gate,
            by = %format_args!("{} {}", change.kind.as_str(), change.user),
            "gate {} of {environment} approved",
            change.gate
        ),
        EventChange::Gate(_) => debug!(
            target: RELEASE_LOG,
            release,
            seq = event.seq,
            environment,
            "gate progress"
        ),
    }
}

pub fn snapshot_of(release: &ReleaseRecord) -> Result<Snapshot> {
    serde_json::from_value(release.source.clone()).map_err(|e| {
        EngineError::Internal(format!(
            "release {} has an unreadable snapshot: {e}",
            release.id
        ))
    })
}

fn describe(result: &RepositoryResult) -> Option<String> {
    match (&result.commit, &result.pull_request_branch) {
        (Some(commit), Some(branch)) => Some(format!(
            "pushed {commit} to branch {branch} of {}",
            result.repository
        )),
        (Some(commit), None) => Some(format!(
            "pushed {commit} to {} of {}",
            result.branch, result.repository
        )),
        (None, _) => Some(format!("{} already has this content", result.repository)),
    }
}

/// Time-ordered, unique across replicas: a millisecond timestamp and random bits.
/// How a release ends before its end.
#[derive(Clone, Copy)]
enum Stop<'a> {
    /// Someone terminated it, or a newer release did (`concurrency: terminate`).
    Terminated,
    /// A newer release (`by`) took its place while its step in `environment` waited
    /// for the environment (`concurrency: supersede`).
    Superseded { by: &'a str, environment: &'a str },
}

fn new_release_id() -> String {
    ulid::Ulid::new().to_string().to_lowercase()
}

/// The release's step in `environment`; not found is an error that names both.
pub(crate) fn step_in<'a>(
    release: &'a ReleaseRecord,
    environment: &str,
) -> Result<&'a crate::store::StepRecord> {
    release
        .steps
        .iter()
        .find(|s| s.environment == environment)
        .ok_or_else(|| {
            EngineError::NotFound(format!(
                "release {} has no environment {environment:?}",
                release.id
            ))
        })
}
