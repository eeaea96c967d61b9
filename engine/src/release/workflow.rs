//! The `workflow` action: submit an Argo Workflows `WorkflowTemplate` through the Argo
//! Server with the release's parameters (`product`, `environment`, `version`,
//! `release`, then the action's own, placeholders filled) and wait for it to succeed.
//!
//! Every workflow carries labels naming its release, environment and place in the
//! policy, and its name is saved on the gate as soon as it is known: a restarted
//! engine waits for the workflow it saved, or finds the one it submitted by those
//! labels, and never submits twice. Terminating the release stops the workflow; so does
//! running out of time.

use std::time::Duration;

use promenade_model::action::{Action, WorkflowRun};
use promenade_model::release::{Gate, GateStatus};
use promenade_model::resources::ArgoWorkflowsInstance;
use time::OffsetDateTime;
use tracing::info;

use super::gates::{format_time, parse_time, Position};
use super::http_check::Context;
use super::plan::{Plan, PlannedStep};
use super::StepJob;
use crate::argo_workflows::{ArgoWorkflows, WorkflowState};
use crate::store::ReleaseRecord;
use crate::{Engine, EngineError, Result};

/// How long a workflow may run without a `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Where a `workflow` action gets its Argo Server when its environment names none.
const NO_SERVER: &str = "set its `spec.argoWorkflows: { server, credentials }` or start the \
                         server with `--argo-workflows-server` and `--argo-workflows-credentials`";

/// A step with a `workflow` action needs an Argo Server: its environment's or the
/// server's own.
pub(super) fn check_workflows(plan: &Plan, step: &PlannedStep) -> Result<()> {
    let uses = step
        .policy
        .gates
        .iter()
        .chain(&step.policy.verify)
        .any(|a| matches!(a, Action::Workflow(_)));
    if uses && !plan.argo_workflows.contains_key(&step.environment) {
        return Err(EngineError::BadRequest(format!(
            "environment {:?} has a `workflow` action, but no Argo Workflows runs it: {NO_SERVER}",
            step.environment
        )));
    }
    Ok(())
}

/// Workflow hooks need the server's own Argo Server.
pub(super) fn check_workflow_hooks(
    plan: &Plan,
    server: Option<&ArgoWorkflowsInstance>,
) -> Result<()> {
    let hooks = &plan.flow.spec.hooks;
    let uses = hooks
        .on_success
        .iter()
        .chain(&hooks.on_failure)
        .any(|a| matches!(a, Action::Workflow(_)));
    if uses && server.is_none() {
        return Err(EngineError::BadRequest(format!(
            "flow {:?} has a `workflow` hook, but no Argo Workflows runs it: start the server \
             with `--argo-workflows-server` and `--argo-workflows-credentials`",
            plan.flow.metadata.name
        )));
    }
    Ok(())
}

/// The labels a workflow started for `place` of release `release` carries.
fn labels(release: &str, environment: Option<&str>, place: &str) -> Vec<(String, String)> {
    let mut labels = vec![("promenade.dev/release".to_string(), release.to_string())];
    if let Some(environment) = environment {
        labels.push(("promenade.dev/environment".into(), environment.into()));
    }
    labels.push(("promenade.dev/action".into(), place.into()));
    labels
}

/// The workflow's parameters: the release's values, then the action's own.
fn parameters(run: &WorkflowRun, context: &Context) -> Vec<(String, String)> {
    let mut parameters: Vec<(String, String)> = context
        .variables()
        .into_iter()
        .map(|(name, value)| {
            let name = name.trim_start_matches("PROMENADE_").to_lowercase();
            (name, value)
        })
        .filter(|(name, _)| !run.parameters.contains_key(name))
        .collect();
    parameters.extend(
        run.parameters
            .iter()
            .map(|(k, v)| (k.clone(), context.fill(v))),
    );
    parameters
}

fn timeout_text(run: &WorkflowRun) -> String {
    run.timeout
        .as_ref()
        .map_or_else(|| "30m".to_string(), ToString::to_string)
}

/// What a workflow's end means for the action: `Ok` when it succeeded.
fn outcome(state: &WorkflowState, link: &str) -> std::result::Result<(), String> {
    match state.phase.as_str() {
        "Succeeded" => Ok(()),
        phase => Err(format!(
            "workflow {} ended {phase}{} ({link})",
            state.name,
            state
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )),
    }
}

impl Engine {
    /// The client and namespace of `run` on `instance`.
    async fn argo_workflows(
        &self,
        instance: &ArgoWorkflowsInstance,
        run: &WorkflowRun,
    ) -> Result<(ArgoWorkflows, String)> {
        let token = self
            .api_token(&instance.credentials, "Argo Workflows")
            .await?;
        let client = ArgoWorkflows::new(self.outbound(), instance, token)?;
        Ok((
            client,
            instance.namespace_for(run.namespace.as_deref()).to_string(),
        ))
    }

    /// Submits `run` unless a workflow with `labels` exists already (submitted before a
    /// restart, or by a submit whose answer was lost); its name.
    async fn submit_once(
        &self,
        client: &ArgoWorkflows,
        namespace: &str,
        run: &WorkflowRun,
        context: &Context,
        labels: &[(String, String)],
    ) -> Result<String> {
        if let Some(found) = client.find(namespace, labels).await? {
            info!(workflow = %found.name, "found the workflow submitted before");
            return Ok(found.name);
        }
        let submitted = client
            .submit(namespace, &run.template, &parameters(run, context), labels)
            .await;
        match submitted {
            Ok(name) => Ok(name),
            // The Argo Server may have created it and failed to say so.
            Err(error) => match client.find(namespace, labels).await {
                Ok(Some(found)) => Ok(found.name),
                _ => Err(error),
            },
        }
    }

    /// A `workflow` gate or verification: passes when the workflow succeeds.
    pub(super) async fn workflow(
        &self,
        job: &StepJob,
        actions: &mut [Gate],
        at: Position,
        run: &WorkflowRun,
    ) -> Result<()> {
        let environment = &job.environment;
        let instance = job
            .snapshot
            .argo_workflows
            .get(environment)
            .ok_or_else(|| {
                EngineError::BadRequest(format!(
                    "environment {environment:?} has no Argo Workflows: {NO_SERVER}"
                ))
            })?;
        let (client, namespace) = self.argo_workflows(instance, run).await?;
        let timeout = run.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |t| t.to_std());
        let deadline = match &actions[at.index].until {
            Some(until) => parse_time(until)?,
            None => OffsetDateTime::now_utc() + timeout,
        };
        let name = match actions[at.index].requested.clone() {
            Some(name) => name,
            None => {
                let context = Context::new(&job.snapshot, &job.release, environment);
                let place = format!("{}-{}", at.phase.key(), at.index);
                let labels = labels(&job.release, Some(environment), &place);
                let name = self
                    .submit_once(&client, &namespace, run, &context, &labels)
                    .await?;
                let gate = &mut actions[at.index];
                gate.requested = Some(name.clone());
                gate.link = Some(client.link(&namespace, &name));
                gate.status = GateStatus::Waiting;
                gate.until = Some(format_time(deadline));
                self.save_actions(job, at.phase, actions).await?;
                name
            }
        };
        let link = client.link(&namespace, &name);
        // A terminate that read the release before the name was saved cannot stop it.
        if job.cancel.is_cancelled() {
            self.stop_workflow(
                &client,
                &namespace,
                &name,
                &job.release,
                environment,
                "the release was terminated",
            )
            .await;
            return Err(EngineError::Stopped);
        }
        let interval = self.config().check_interval;
        loop {
            let state = client.workflow(&namespace, &name).await?;
            if state.ended() {
                return match outcome(&state, &link) {
                    Ok(()) => {
                        actions[at.index].note = None;
                        Ok(())
                    }
                    Err(why) => Err(EngineError::CheckFailed(why)),
                };
            }
            let phase = if state.phase.is_empty() {
                "Pending"
            } else {
                &state.phase
            };
            let gate = &mut actions[at.index];
            if gate.note.as_deref() != Some(phase) {
                gate.note = Some(phase.to_string());
                self.save_actions(job, at.phase, actions).await?;
            }
            if OffsetDateTime::now_utc() + interval >= deadline {
                let why = format!("it did not finish within {}", timeout_text(run));
                self.stop_workflow(&client, &namespace, &name, &job.release, environment, &why)
                    .await;
                return Err(EngineError::CheckFailed(format!(
                    "workflow {name} did not finish within {}: last seen {phase}; it was stopped ({link})",
                    timeout_text(run)
                )));
            }
            self.pause(job, interval).await?;
        }
    }

    /// Stops a workflow, best effort: the outcome goes to the release's log.
    async fn stop_workflow(
        &self,
        client: &ArgoWorkflows,
        namespace: &str,
        name: &str,
        release: &str,
        environment: &str,
        why: &str,
    ) {
        let message = format!("Promenade stops this workflow: {why}");
        let line = match client.stop(namespace, name, &message).await {
            Ok(()) => format!("stopped workflow {name}: {why}"),
            Err(e) => format!("could not stop workflow {name}: {e}"),
        };
        info!(%release, %environment, "{line}");
        let _ = self
            .store()
            .append_log(release, environment, "info", &line)
            .await;
    }

    /// Stops every workflow the release's steps wait for (on terminate).
    pub(super) async fn stop_workflows(&self, release: &ReleaseRecord, why: &str) {
        let Ok(snapshot) = super::snapshot_of(release) else {
            return;
        };
        for step in &release.steps {
            let Some(instance) = snapshot.argo_workflows.get(&step.environment) else {
                continue;
            };
            for gate in step.gates().iter().chain(&step.verification()) {
                let (Action::Workflow(run), Some(name), GateStatus::Waiting) =
                    (&gate.action, &gate.requested, gate.status)
                else {
                    continue;
                };
                match self.argo_workflows(instance, run).await {
                    Ok((client, namespace)) => {
                        self.stop_workflow(
                            &client,
                            &namespace,
                            name,
                            &release.id,
                            &step.environment,
                            why,
                        )
                        .await;
                    }
                    Err(e) => {
                        let _ = self
                            .store()
                            .append_log(
                                &release.id,
                                &step.environment,
                                "error",
                                &format!("could not stop workflow {name}: {e}"),
                            )
                            .await;
                    }
                }
            }
        }
    }

    /// A `workflow` hook: submits it on the server's Argo Server and waits for it;
    /// `Err` says why it did not succeed.
    pub(super) async fn run_workflow_hook(
        &self,
        run: &WorkflowRun,
        context: &Context,
        release: &str,
        place: &str,
    ) -> std::result::Result<(), String> {
        let Some(instance) = self.config().argo_workflows.clone() else {
            return Err("the server has no Argo Workflows (`--argo-workflows-server`)".into());
        };
        let (client, namespace) = self
            .argo_workflows(&instance, run)
            .await
            .map_err(|e| e.to_string())?;
        let labels = labels(release, None, place);
        let name = self
            .submit_once(&client, &namespace, run, context, &labels)
            .await
            .map_err(|e| e.to_string())?;
        let link = client.link(&namespace, &name);
        let _ = self
            .store()
            .append_log(
                release,
                "hooks",
                "info",
                &format!("submitted workflow {name} ({link})"),
            )
            .await;
        let timeout = run.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |t| t.to_std());
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let state = client
                .workflow(&namespace, &name)
                .await
                .map_err(|e| e.to_string())?;
            if state.ended() {
                return outcome(&state, &link);
            }
            if tokio::time::Instant::now() + self.config().check_interval >= deadline {
                let why = format!("it did not finish within {}", timeout_text(run));
                self.stop_workflow(&client, &namespace, &name, release, "hooks", &why)
                    .await;
                return Err(format!("workflow {name} {why}; it was stopped ({link})"));
            }
            tokio::time::sleep(self.config().check_interval).await;
        }
    }
}
