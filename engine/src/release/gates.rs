//! Gates, what a step waits for before it writes, and verification, what it checks
//! after. `approval` waits until enough people with a fitting role approved; `soak`
//! until a time has passed since the upstream environments finished (or, in `verify`,
//! since the change was applied); `http` until a URL answers as expected, or fails the
//! step at its timeout. Their progress lives in the store (the step's `detail.gates` and
//! `detail.verify`, and the approvals table), so a restarted engine waits exactly as
//! long as it would have, and approvals given while it was down count.

use promenade_model::access::approval_refusal;
use promenade_model::action::{
    Action, ActionKind, Approval, HttpCheck, Soak, SoakStart, Weekday, Window,
};
use promenade_model::audit::AuditAction;
use promenade_model::hosting::provider_of;
use promenade_model::policy::PullRequestSettings;
use promenade_model::release::{Gate, GateStatus, StepDetail, StepStatus};
use promenade_model::resources::{ArgoWorkflowsInstance, PromotionAction, Provider};
use std::time::Instant;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tracing::{info_span, Instrument};

use super::http_check::{self, Context};
use super::plan::{Plan, PlannedStep};
use super::StepJob;
use crate::audit::Record;
use crate::auth::{allow, Principal, Role};
use crate::store::{NewApproval, ReleaseRecord, StepRecord};
use crate::{telemetry, Checkpoint, Engine, EngineError, Result};

/// The gate kinds this engine runs. Others are refused when a release is planned:
/// promoting past a gate nobody checks would be worse than not promoting.
const RUNNABLE_GATES: [ActionKind; 7] = [
    ActionKind::Approval,
    ActionKind::Soak,
    ActionKind::Http,
    ActionKind::Window,
    ActionKind::Argocd,
    ActionKind::Workflow,
    ActionKind::Command,
];
/// The verification kinds this engine runs.
const RUNNABLE_VERIFY: [ActionKind; 5] = [
    ActionKind::Soak,
    ActionKind::Http,
    ActionKind::Argocd,
    ActionKind::Workflow,
    ActionKind::Command,
];

/// Before or after the change: where a step keeps the actions' progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Gates,
    Verify,
}

impl Phase {
    pub(super) fn key(self) -> &'static str {
        match self {
            Phase::Gates => "gates",
            Phase::Verify => "verify",
        }
    }
}

/// Refuses a plan with actions the engine does not run yet.
pub(super) fn check_supported(
    plan: &Plan,
    server_workflows: Option<&ArgoWorkflowsInstance>,
) -> Result<()> {
    let hooks = &plan.flow.spec.hooks;
    if let Some(hook) = hooks.on_success.iter().chain(&hooks.on_failure).find(|a| {
        !matches!(
            a.kind(),
            ActionKind::Http | ActionKind::Workflow | ActionKind::Command
        )
    }) {
        return Err(EngineError::BadRequest(format!(
            "flow {:?} has a `{}` hook; hooks run `http`, `workflow` and `command` actions",
            plan.flow.metadata.name,
            hook.kind()
        )));
    }
    super::workflow::check_workflow_hooks(plan, server_workflows)?;
    for step in &plan.steps {
        check_pull_request_settings(plan, step)?;
        super::argocd_check::check_argocd(plan, step)?;
        super::workflow::check_workflows(plan, step)?;
        let phases = [
            (&step.policy.gates, &RUNNABLE_GATES[..], Phase::Gates),
            (&step.policy.verify, &RUNNABLE_VERIFY[..], Phase::Verify),
        ];
        for (actions, runnable, phase) in phases {
            if let Some(action) = actions.iter().find(|a| !runnable.contains(&a.kind())) {
                return Err(EngineError::BadRequest(format!(
                    "environment {:?} has a `{}` action in its policy's {}; this version of \
                     Promenade runs `approval`, `soak`, `http`, `window`, `argocd`, `workflow` and \
                     `command` gates and `soak`, `http`, `argocd`, `workflow` and `command` \
                     verification only",
                    step.environment,
                    action.kind(),
                    phase.key()
                )));
            }
        }
        // Validation has checked everything else about the actions; a zone name only
        // resolves here, against the engine's time-zone database.
        for action in &step.policy.gates {
            if let Action::Window(window) = action {
                time_zone(window).map_err(|message| {
                    EngineError::BadRequest(format!(
                        "environment {:?}: {message}",
                        step.environment
                    ))
                })?;
            }
        }
    }
    Ok(())
}

/// Pull request settings only a GitHub or GitLab host acts on are refused for a step
/// that writes to a generic git server, rather than dropped.
fn check_pull_request_settings(plan: &Plan, step: &PlannedStep) -> Result<()> {
    let settings = &step.policy.pull_request;
    if step.action() != PromotionAction::Pr || *settings == PullRequestSettings::default() {
        return Ok(());
    }
    let product = &plan.product;
    let generic = product
        .spec
        .applications
        .iter()
        .map(|app| app.repository_for(&step.environment, &product.spec.repository))
        .find(|repository| provider_of(repository) == Provider::Generic);
    match generic {
        Some(repository) => Err(EngineError::BadRequest(format!(
            "environment {:?} has `pullRequest` settings, which only a GitHub or GitLab host acts              on, and {} is a generic git server: set the repository's `provider` (and              `apiCredentials`) or remove them from the policy",
            step.environment, repository.url
        ))),
        None => Ok(()),
    }
}

/// The approval gate `step` waits at now, with its index, if any.
fn waiting_approval(step: &StepRecord) -> Option<(usize, Gate)> {
    if step.status != StepStatus::Gating {
        return None;
    }
    step.gates().into_iter().enumerate().find(|(_, gate)| {
        matches!(gate.action, Action::Approval(_)) && gate.status == GateStatus::Waiting
    })
}

/// Why `who` may not approve `gate` of `release` now, or `None` when they may: the
/// gate's role (release-manager and up when it names none), four eyes, and one approval
/// per principal.
fn refusal(who: &Principal, release: &ReleaseRecord, gate: &Gate) -> Option<EngineError> {
    let Action::Approval(approval) = &gate.action else {
        return None;
    };
    if let Some(reason) = approval_refusal(
        who,
        approval,
        (&release.created_by, release.created_by_kind),
    ) {
        return Some(EngineError::Forbidden(reason));
    }
    gate.approvals
        .iter()
        .any(|a| who.is(&a.user, a.kind))
        .then(|| EngineError::Conflict {
            message: format!("{who} approved this gate already"),
            diagnostics: Vec::new(),
        })
}

impl Engine {
    /// The environments of `release` whose waiting gate `who` may approve now.
    pub fn approvable(&self, who: &Principal, release: &ReleaseRecord) -> Vec<String> {
        release
            .steps
            .iter()
            .filter(|step| {
                waiting_approval(step)
                    .is_some_and(|(_, gate)| refusal(who, release, &gate).is_none())
            })
            .map(|step| step.environment.clone())
            .collect()
    }

    /// Approves the gate a step waits at, as `who`.
    pub async fn approve(
        &self,
        who: &Principal,
        id: &str,
        environment: &str,
    ) -> Result<ReleaseRecord> {
        allow(who, Role::Viewer, "approving")?;
        let release = self.load_release(id).await?;
        let step = super::step_in(&release, environment)?;
        let Some((index, gate)) = waiting_approval(step) else {
            return Err(EngineError::Conflict {
                message: format!(
                    "{environment} of release {id} is not waiting for an approval (it is {})",
                    step.status
                ),
                diagnostics: Vec::new(),
            });
        };
        if let Some(refused) = refusal(who, &release, &gate) {
            return Err(refused);
        }
        let recorded = self
            .store()
            .add_approval(&NewApproval {
                release: id,
                environment,
                gate: index,
                user: &who.name,
                kind: who.kind,
                role: who.role.as_str(),
            })
            .await?;
        let Some(event) = recorded else {
            return Err(EngineError::Conflict {
                message: format!("{who} approved {environment} of release {id} already"),
                diagnostics: Vec::new(),
            });
        };
        self.publish(event).await;
        let approved = Record::by(who, AuditAction::GateApproved, id)
            .detail(format!("{environment}, gate {}", index + 1));
        self.audit(approved).await?;
        self.runtime().gate_changes.notify_waiters();
        self.counted(id, environment, index, who).await
    }

    /// The release once the step's task has counted `user`'s approval (it owns the
    /// gate's state), so the answer shows it; as it stands after a short wait otherwise.
    async fn counted(
        &self,
        id: &str,
        environment: &str,
        index: usize,
        who: &Principal,
    ) -> Result<ReleaseRecord> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            let release = self.load_release(id).await?;
            let gate = release
                .steps
                .iter()
                .find(|s| s.environment == environment)
                .and_then(|s| s.gates().into_iter().nth(index));
            let counted = gate.is_none_or(|g| {
                g.status != GateStatus::Waiting
                    || g.approvals.iter().any(|a| who.is(&a.user, a.kind))
            });
            if counted || tokio::time::Instant::now() >= deadline {
                return Ok(release);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Runs the step's gates (or its verification) in turn until all have passed.
    pub(super) async fn run_actions(&self, job: &StepJob, phase: Phase) -> Result<()> {
        let release = self.load_steps(&job.release).await?;
        let Some(step) = release
            .steps
            .iter()
            .find(|s| s.environment == job.environment)
        else {
            return Ok(());
        };
        let mut actions = match phase {
            Phase::Gates => step.gates(),
            Phase::Verify => step.verification(),
        };
        for index in 0..actions.len() {
            if actions[index].status == GateStatus::Passed {
                continue;
            }
            let span = info_span!("action", phase = phase.key(), kind = %actions[index].action.kind(), index);
            let at = Position { phase, index };
            let kind = actions[index].action.kind();
            let started = Instant::now();
            let ran = match actions[index].action.clone() {
                Action::Approval(approval) if phase == Phase::Gates => {
                    self.await_approvals(job, &mut actions, index, &approval)
                        .instrument(span)
                        .await
                }
                Action::Soak(soak) => {
                    self.soak(job, &release, &mut actions, at, &soak)
                        .instrument(span)
                        .await
                }
                Action::Http(check) => {
                    self.http(job, &mut actions, at, &check)
                        .instrument(span)
                        .await
                }
                Action::Command(command) => {
                    self.command(job, &mut actions, at, &command)
                        .instrument(span)
                        .await
                }
                Action::Argocd(check) => {
                    self.argocd(job, &release, &mut actions, at, &check)
                        .instrument(span)
                        .await
                }
                Action::Workflow(run) => {
                    self.workflow(job, &mut actions, at, &run)
                        .instrument(span)
                        .await
                }
                Action::Window(window) if phase == Phase::Gates => {
                    self.window(job, &mut actions, at, &window)
                        .instrument(span)
                        .await
                }
                other => Err(EngineError::BadRequest(format!(
                    "`{}` is not run in {} by this version of Promenade",
                    other.kind(),
                    phase.key()
                ))),
            };
            let outcome = match &ran {
                Ok(()) => "passed",
                Err(EngineError::Stopped) => "stopped",
                Err(_) => "failed",
            };
            telemetry::gate_ended(phase.key(), kind.as_str(), outcome, started.elapsed());
            ran?;
            actions[index].status = GateStatus::Passed;
            self.save_actions(job, phase, &actions).await?;
        }
        Ok(())
    }

    async fn await_approvals(
        &self,
        job: &StepJob,
        gates: &mut [Gate],
        index: usize,
        approval: &Approval,
    ) -> Result<()> {
        let needed = approval.count.get() as usize;
        loop {
            // Armed before reading, so an approval between the read and the wait wakes it.
            let changed = self.runtime().gate_changes.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let approvals = self
                .store()
                .approvals(&job.release, &job.environment, index)
                .await?;
            let gate = &mut gates[index];
            if gate.status != GateStatus::Waiting || gate.approvals != approvals {
                gate.status = GateStatus::Waiting;
                gate.approvals = approvals;
                self.save_actions(job, Phase::Gates, gates).await?;
            }
            if gates[index].approvals.len() >= needed {
                return Ok(());
            }
            tokio::select! {
                () = &mut changed => {}
                () = job.cancel.cancelled() => return Err(EngineError::Stopped),
            }
            self.alive()?;
        }
    }

    async fn soak(
        &self,
        job: &StepJob,
        release: &ReleaseRecord,
        actions: &mut [Gate],
        at: Position,
        soak: &Soak,
    ) -> Result<()> {
        let until = match &actions[at.index].until {
            Some(until) => parse_time(until)?,
            None => {
                let start = match soak.after {
                    SoakStart::Upstream => upstream_finished(release, &job.environment)?,
                    // Verification starts right after the change was applied.
                    SoakStart::Apply => OffsetDateTime::now_utc(),
                };
                start + soak.duration.to_std()
            }
        };
        if actions[at.index].status != GateStatus::Waiting {
            actions[at.index].status = GateStatus::Waiting;
            actions[at.index].until = Some(format_time(until));
            self.save_actions(job, at.phase, actions).await?;
        }
        self.sleep_until(job, until).await
    }

    /// Tries the check every `check_interval` until it passes; fails the step at the
    /// deadline, which is stored, so a restart does not extend it.
    async fn http(
        &self,
        job: &StepJob,
        actions: &mut [Gate],
        at: Position,
        check: &HttpCheck,
    ) -> Result<()> {
        let timeout = check
            .timeout
            .as_ref()
            .map_or(http_check::DEFAULT_TIMEOUT, |t| t.to_std());
        let deadline = match &actions[at.index].until {
            Some(until) => parse_time(until)?,
            None => OffsetDateTime::now_utc() + timeout,
        };
        let context = Context::new(&job.snapshot, &job.release, &job.environment);
        let secrets = self.header_secrets(check).await?;
        let requests = http_check::requests(check, &context, &secrets);
        let interval = self.config().check_interval;
        loop {
            let left = deadline - OffsetDateTime::now_utc();
            let attempt_timeout = std::time::Duration::try_from(left)
                .unwrap_or_default()
                .clamp(std::time::Duration::from_secs(1), timeout);
            let failure =
                http_check::attempt_all(self.outbound(), check, &requests, attempt_timeout)
                    .await
                    .err();
            let Some(problem) = failure else {
                actions[at.index].note = None;
                return Ok(());
            };
            let gate = &mut actions[at.index];
            if gate.status != GateStatus::Waiting || gate.note.as_deref() != Some(&problem) {
                gate.status = GateStatus::Waiting;
                gate.until = Some(format_time(deadline));
                gate.note = Some(problem.clone());
                self.save_actions(job, at.phase, actions).await?;
            }
            if OffsetDateTime::now_utc() + interval >= deadline {
                return Err(EngineError::CheckFailed(format!(
                    "{} check did not pass within {}: {problem}",
                    at.phase.key(),
                    check
                        .timeout
                        .as_ref()
                        .map_or_else(|| "1m".to_string(), |t| t.to_string())
                )));
            }
            self.pause(job, interval).await?;
        }
    }

    /// Waits until the local time falls in the window, looking again every check
    /// interval (at most every 30 s, so a window that opens is noticed promptly).
    async fn window(
        &self,
        job: &StepJob,
        actions: &mut [Gate],
        at: Position,
        window: &Window,
    ) -> Result<()> {
        let zone = time_zone(window).map_err(EngineError::BadRequest)?;
        let interval = self
            .config()
            .check_interval
            .min(std::time::Duration::from_secs(30));
        loop {
            let now = self.config().clock.now().to_zoned(zone.clone());
            let minute = u16::try_from(now.hour()).unwrap_or(0) * 60
                + u16::try_from(now.minute()).unwrap_or(0);
            let day = weekday(now.weekday());
            if window.allows(day, minute) {
                actions[at.index].note = None;
                return Ok(());
            }
            let note = format!(
                "outside the window: it is {} {:02}:{:02} in {}",
                serde_json::to_value(day)
                    .ok()
                    .and_then(|d| d.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                now.hour(),
                now.minute(),
                zone.iana_name().unwrap_or("UTC")
            );
            let gate = &mut actions[at.index];
            if gate.status != GateStatus::Waiting || gate.note.as_deref() != Some(&note) {
                gate.status = GateStatus::Waiting;
                gate.note = Some(note);
                self.save_actions(job, at.phase, actions).await?;
            }
            self.pause(job, interval).await?;
        }
    }

    async fn sleep_until(&self, job: &StepJob, until: OffsetDateTime) -> Result<()> {
        let left = until - OffsetDateTime::now_utc();
        self.pause(job, std::time::Duration::try_from(left).unwrap_or_default())
            .await
    }

    /// Waits `duration`, or stops early when the release is terminated.
    pub(super) async fn pause(&self, job: &StepJob, duration: std::time::Duration) -> Result<()> {
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            () = job.cancel.cancelled() => return Err(EngineError::Stopped),
        }
        self.alive()
    }

    pub(super) async fn save_actions(
        &self,
        job: &StepJob,
        phase: Phase,
        actions: &[Gate],
    ) -> Result<()> {
        self.alive()?;
        let detail = match phase {
            Phase::Gates => StepDetail {
                gates: actions.to_vec(),
                ..Default::default()
            },
            Phase::Verify => StepDetail {
                verify: actions.to_vec(),
                ..Default::default()
            },
        };
        let event = self
            .store()
            .update_step_detail(&job.release, &job.environment, &detail)
            .await?;
        self.publish(event).await;
        self.checkpoint(Checkpoint::Persisted)
    }
}

/// Where an action sits in a step.
#[derive(Clone, Copy, Debug)]
pub(super) struct Position {
    pub(super) phase: Phase,
    pub(super) index: usize,
}

/// When the environments `environment` depends on finished; when it depends on none
/// (the first step after the trigger), when the release was created.
fn upstream_finished(release: &ReleaseRecord, environment: &str) -> Result<OffsetDateTime> {
    let step = release.steps.iter().find(|s| s.environment == environment);
    let depends_on = step.map(|s| s.depends_on.as_slice()).unwrap_or_default();
    let finished = release
        .steps
        .iter()
        .filter(|s| depends_on.contains(&s.environment))
        .filter_map(|s| s.finished_at.as_deref())
        .map(parse_time)
        .collect::<Result<Vec<_>>>()?;
    match finished.into_iter().max() {
        Some(latest) => Ok(latest),
        None => parse_time(&release.created_at),
    }
}

/// The window's time zone, from the database compiled into the binary; UTC by default.
fn time_zone(window: &Window) -> std::result::Result<jiff::tz::TimeZone, String> {
    match &window.timezone {
        None => Ok(jiff::tz::TimeZone::UTC),
        Some(name) => jiff::tz::TimeZone::get(name)
            .map_err(|_| format!("unknown time zone {name:?} in a `window` gate")),
    }
}

fn weekday(day: jiff::civil::Weekday) -> Weekday {
    match day {
        jiff::civil::Weekday::Monday => Weekday::Mon,
        jiff::civil::Weekday::Tuesday => Weekday::Tue,
        jiff::civil::Weekday::Wednesday => Weekday::Wed,
        jiff::civil::Weekday::Thursday => Weekday::Thu,
        jiff::civil::Weekday::Friday => Weekday::Fri,
        jiff::civil::Weekday::Saturday => Weekday::Sat,
        jiff::civil::Weekday::Sunday => Weekday::Sun,
    }
}

pub(super) fn parse_time(text: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| EngineError::Internal(format!("unreadable time {text:?}: {e}")))
}

pub(super) fn format_time(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}
