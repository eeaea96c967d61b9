//! The `argocd` gate and verification: every application of the step that names an
//! Argo CD Application must be synced — after the change, at the commit the step made
//! or a later one, not merely synced — and as healthy as the action asks (`Healthy` by
//! default). `sync: true` asks Argo CD to sync first, once: the request is recorded on
//! the gate, so a restarted engine waits for it instead of syncing again.

use std::sync::Arc;

use git2::Oid;
use promenade_model::action::{ArgoCdCheck, ArgoCdHealth, ArgoCdSync};
use promenade_model::release::{Gate, GateStatus};
use time::OffsetDateTime;

use super::gates::{format_time, parse_time, Phase, Position};
use super::plan::{Plan, PlannedStep};
use super::StepJob;
use crate::argocd::AppState;
use crate::credentials::Keyring;
use crate::store::ReleaseRecord;
use crate::{Engine, EngineError, Result};

/// How long an `argocd` action waits without a `timeout`.
const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// One Application the action watches.
struct Target {
    application: String,
    argocd: String,
    repository: String,
    branch: String,
    /// The commit it must run, after the change.
    commit: Option<String>,
}

/// An `argocd` action needs the environment's Argo CD and at least one application
/// that names its Argo CD Application; `prune` only goes with `sync: true`.
pub(super) fn check_argocd(plan: &Plan, step: &PlannedStep) -> Result<()> {
    let checks = step
        .policy
        .gates
        .iter()
        .chain(&step.policy.verify)
        .filter_map(|a| match a {
            promenade_model::action::Action::Argocd(check) => Some(check),
            _ => None,
        });
    for check in checks {
        let refuse = |why: String| {
            Err(EngineError::BadRequest(format!(
                "environment {:?} has an `argocd` action, but {why}",
                step.environment
            )))
        };
        if check.prune.is_some() && check.sync != Some(ArgoCdSync::Trigger) {
            return refuse("`prune` only applies with `sync: true`".into());
        }
        if !plan.argocd.contains_key(&step.environment) {
            return refuse(format!(
                "Environment {} names no Argo CD: set its `spec.argocd: {{ server, credentials }}` or start the server with `--argocd-server` and `--argocd-credentials`",
                step.environment
            ));
        }
        if plan
            .product
            .spec
            .applications
            .iter()
            .all(|a| a.argocd.is_none())
        {
            return refuse(format!(
                "no application of product {} names its Argo CD Application (`applications[].argocd.application`)",
                plan.product.metadata.name
            ));
        }
    }
    Ok(())
}

impl Engine {
    pub(super) async fn argocd(
        &self,
        job: &StepJob,
        release: &ReleaseRecord,
        actions: &mut [Gate],
        at: Position,
        check: &ArgoCdCheck,
    ) -> Result<()> {
        let environment = &job.environment;
        let instance = job.snapshot.argocd.get(environment).ok_or_else(|| {
            EngineError::BadRequest(format!("environment {environment:?} names no Argo CD"))
        })?;
        let argo = self.argocd_client(instance).await?;
        let targets = targets(job, release, at.phase);
        let keyring = Arc::new(self.keyring(&[&job.snapshot.product]).await?);
        let want = check.health.unwrap_or(ArgoCdHealth::Healthy);
        let timeout = check
            .timeout
            .as_ref()
            .map_or(DEFAULT_TIMEOUT, |t| t.to_std());
        let deadline = match &actions[at.index].until {
            Some(until) => parse_time(until)?,
            None => OffsetDateTime::now_utc() + timeout,
        };

        if check.sync == Some(ArgoCdSync::Trigger) && actions[at.index].requested.is_none() {
            let mut asked = Vec::new();
            for target in &targets {
                let revision = target.commit.as_deref().unwrap_or(&target.branch);
                argo.sync(&target.argocd, revision, check.prune.unwrap_or(false))
                    .await?;
                asked.push(format!("{}@{revision}", target.argocd));
            }
            let gate = &mut actions[at.index];
            gate.requested = Some(format!("sync {}", asked.join(", ")));
            gate.status = GateStatus::Waiting;
            gate.until = Some(format_time(deadline));
            self.save_actions(job, at.phase, actions).await?;
        }

        let interval = self.config().check_interval;
        loop {
            let mut waiting = Vec::new();
            for target in &targets {
                let state = argo.application(&target.argocd).await?;
                if let Some(problem) = failure(target, &state, want) {
                    return Err(EngineError::CheckFailed(problem));
                }
                let at_commit = match &target.commit {
                    None => true,
                    Some(commit) => self.runs(&keyring, target, &state.revision, commit).await?,
                };
                if state.sync == "Synced" && at_commit && state.health == want.as_str() {
                    continue;
                }
                waiting.push(seen(target, &state, at_commit));
            }
            if waiting.is_empty() {
                actions[at.index].note = None;
                return Ok(());
            }
            let note = waiting.join("; ");
            let gate = &mut actions[at.index];
            if gate.status != GateStatus::Waiting || gate.note.as_deref() != Some(&note) {
                gate.status = GateStatus::Waiting;
                gate.until = Some(format_time(deadline));
                gate.note = Some(note.clone());
                self.save_actions(job, at.phase, actions).await?;
            }
            if OffsetDateTime::now_utc() + interval >= deadline {
                return Err(EngineError::CheckFailed(format!(
                    "Argo CD did not report {} within {}: last seen {note}",
                    want.as_str(),
                    check
                        .timeout
                        .as_ref()
                        .map_or_else(|| "10m".to_string(), |t| t.to_string())
                )));
            }
            self.pause(job, interval).await?;
        }
    }

    /// Whether `revision` (what Argo CD runs) is `commit` or a later commit of the
    /// target's branch.
    async fn runs(
        &self,
        keyring: &Arc<Keyring>,
        target: &Target,
        revision: &str,
        commit: &str,
    ) -> Result<bool> {
        let (Ok(later), Ok(earlier)) = (Oid::from_str(revision), Oid::from_str(commit)) else {
            return Ok(false);
        };
        let engine = self.clone();
        let keyring = keyring.clone();
        let (url, branch) = (target.repository.clone(), target.branch.clone());
        tokio::task::spawn_blocking(move || {
            engine.git().with_clone(&url, &keyring, |repo| {
                repo.includes(&branch, later, earlier)
            })
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
    }
}

/// The Applications of the step's applications, with the commit each must run after
/// the change (the merge commit of a pull request, else the step's commit).
fn targets(job: &StepJob, release: &ReleaseRecord, phase: Phase) -> Vec<Target> {
    let product = &job.snapshot.product;
    let written = release
        .steps
        .iter()
        .find(|s| s.environment == job.environment)
        .map(|s| s.detail.repositories.clone())
        .unwrap_or_default();
    product
        .spec
        .applications
        .iter()
        .filter_map(|app| {
            let argocd = app.argocd.as_ref()?.name_for(&job.environment);
            let repository = app.repository_for(&job.environment, &product.spec.repository);
            let commit = (phase == Phase::Verify)
                .then(|| written.iter().find(|r| r.repository == repository.url))
                .flatten()
                .and_then(|r| {
                    r.pull_request
                        .as_ref()
                        .and_then(|p| p.merge_commit.clone())
                        .or_else(|| r.commit.clone())
                });
            Some(Target {
                application: app.name.clone(),
                argocd,
                repository: repository.url.clone(),
                branch: repository.branch().to_string(),
                commit,
            })
        })
        .collect()
}

/// Why waiting longer is pointless: the Application is degraded (unless that was asked
/// for) or Argo CD failed to sync the commit.
fn failure(target: &Target, state: &AppState, want: ArgoCdHealth) -> Option<String> {
    let unhealthy = || {
        if state.unhealthy.is_empty() {
            String::new()
        } else {
            format!("; not healthy: {}", state.unhealthy.join(", "))
        }
    };
    if state.health == "Degraded" && want != ArgoCdHealth::Degraded {
        return Some(format!(
            "Argo CD reports {} ({}) Degraded{}{}",
            target.argocd,
            target.application,
            state
                .health_message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default(),
            unhealthy()
        ));
    }
    match &state.operation {
        Some((phase, message))
            if (phase == "Failed" || phase == "Error")
                && target.commit.as_deref().is_none_or(|c| state.revision == c) =>
        {
            Some(format!(
                "Argo CD could not sync {} ({}): {message}{}",
                target.argocd,
                target.application,
                unhealthy()
            ))
        }
        _ => None,
    }
}

/// `api-qa: OutOfSync at 1a2b3c4, Progressing`
fn seen(target: &Target, state: &AppState, at_commit: bool) -> String {
    let revision: String = state.revision.chars().take(7).collect();
    let behind = if at_commit {
        ""
    } else {
        " (not the promoted commit yet)"
    };
    format!(
        "{}: {} at {revision}{behind}, {}",
        target.argocd, state.sync, state.health
    )
}
