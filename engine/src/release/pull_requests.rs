//! A step's life on the git host: the pull or merge request it opens (with the
//! promotion's summary and preview), the wait for its merge, auto-merge, closing it when
//! the release is terminated, and the `promenade/<env>` commit statuses on the source
//! commits. Repositories on a generic git server keep the branch-and-merge-detection
//! path in `promote.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use promenade_model::diff::EnvironmentDiff;
use promenade_model::hosting::{hosted, BodyLine, PullRequestText};
use promenade_model::policy::PullRequestSettings;
use promenade_model::release::{PullRequestState, ReleaseRecord, RepositoryResult, StepDetail};
use promenade_model::resources::{Product, Repository};
use tracing::{info, warn};

use super::promote::RepoOutcome;
use super::{snapshot_of, Snapshot, StepJob, Target};
use crate::credentials::Keyring;
use crate::hosting::{Host, OpenRequest, StatusState, StatusUpdate};
use crate::{Engine, EngineError, Result};

/// The repository definition a URL belongs to in `product` (its provider, API and
/// credentials).
fn repository<'a>(product: &'a Product, url: &str) -> Option<&'a Repository> {
    product
        .repositories()
        .into_iter()
        .map(|(_, repository)| repository)
        .find(|repository| repository.url == url)
}

impl Engine {
    /// The API client for `url`'s host, or `None` for a generic git server.
    async fn host_for(&self, product: &Product, url: &str) -> Result<Option<Host>> {
        let Some(repository) = repository(product, url) else {
            return Ok(None);
        };
        let Some(hosted) = hosted(repository).map_err(EngineError::BadRequest)? else {
            return Ok(None);
        };
        let name = repository
            .api_credentials
            .as_ref()
            .or(repository.credentials.as_ref())
            .ok_or_else(|| {
                EngineError::BadRequest(format!(
                    "{url} is on {}: its API needs credentials (`apiCredentials`)",
                    hosted.provider
                ))
            })?;
        let token = self
            .api_token(name, &format!("the {} API", hosted.provider))
            .await?;
        Host::new(&hosted, &token, self.outbound()).await.map(Some)
    }

    fn release_url(&self, release: &str) -> Option<String> {
        self.config()
            .public_url
            .as_ref()
            .map(|url| format!("{}/releases/{release}", url.trim_end_matches('/')))
    }

    /// Opens (or finds) the request of every repository whose branch was pushed to a
    /// GitHub or GitLab host, writes the preview into it and asks for auto-merge.
    pub(super) async fn open_pull_requests(
        &self,
        job: &StepJob,
        outcomes: &[RepoOutcome],
        results: &mut [RepositoryResult],
    ) -> Result<()> {
        let snapshot = &job.snapshot;
        let settings = snapshot.pull_request_settings(&job.environment);
        let versions: BTreeMap<&str, Option<&str>> = snapshot
            .source
            .applications
            .iter()
            .map(|a| (a.name.as_str(), a.version.as_deref()))
            .collect();
        let version = snapshot.source.version();
        let release_url = self.release_url(&job.release);
        let text = PullRequestText {
            product: &snapshot.product.metadata.name,
            version: version.as_deref(),
            environment: &job.environment,
            release: &job.release,
            release_url: release_url.as_deref(),
        };
        for (outcome, result) in outcomes.iter().zip(results.iter_mut()) {
            let Some(head) = result.pull_request_branch.clone() else {
                continue;
            };
            let Some(host) = self.host_for(&snapshot.product, &result.repository).await? else {
                continue;
            };
            let lines: Vec<BodyLine> = outcome
                .changes
                .iter()
                .map(|change| BodyLine {
                    application: change.application.clone(),
                    version: versions
                        .get(change.application.as_str())
                        .copied()
                        .flatten()
                        .map(str::to_string),
                    files: change.diff.files.len(),
                    added: change.diff.added,
                    removed: change.diff.removed,
                })
                .collect();
            let seen = host
                .open(&OpenRequest {
                    head: &head,
                    base: &result.branch,
                    title: &text.title(),
                    body: &text.body(&lines),
                    settings: &settings,
                })
                .await?;
            let diff = EnvironmentDiff::new(
                job.environment.clone(),
                outcome.changes.iter().map(|c| c.diff.clone()).collect(),
            );
            if seen.record.state == PullRequestState::Open {
                host.preview(seen.record.number, &text.preview(&diff))
                    .await?;
            }
            self.store()
                .append_log(
                    &job.release,
                    &job.environment,
                    "info",
                    &format!("pull request #{} {}", seen.record.number, seen.record.url),
                )
                .await?;
            result.pull_request = Some(seen.record);
        }
        Ok(())
    }

    /// Waits until every request of the step is merged: woken by the hosts' webhooks,
    /// looking again every `merge_poll_interval` otherwise. A request closed without
    /// merging fails the step.
    pub(super) async fn wait_for_merge(
        &self,
        job: &StepJob,
        keyring: &Arc<Keyring>,
        results: &mut [RepositoryResult],
    ) -> Result<()> {
        let snapshot = &job.snapshot;
        let settings = snapshot.pull_request_settings(&job.environment);
        let mut hosts = BTreeMap::new();
        for result in results.iter().filter(|r| r.pull_request.is_some()) {
            if let Some(host) = self.host_for(&snapshot.product, &result.repository).await? {
                hosts.insert(result.repository.clone(), host);
            }
        }
        loop {
            // Registered before looking, so a webhook arriving meanwhile is not lost.
            let woken = self.runtime().merge_changes.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();

            let mut changed = false;
            let mut again = false;
            for result in results.iter_mut() {
                let (Some(record), Some(host)) =
                    (result.pull_request.as_mut(), hosts.get(&result.repository))
                else {
                    continue;
                };
                if record.state == PullRequestState::Merged {
                    continue;
                }
                let seen = host.look(record.number).await?;
                let mut next = seen.record.clone();
                match next.state {
                    PullRequestState::Closed => {
                        return Err(EngineError::CheckFailed(format!(
                            "pull request #{} was closed without merging{}",
                            next.number,
                            seen.closed_by
                                .as_deref()
                                .map(|who| format!(" by {who}"))
                                .unwrap_or_default()
                        )))
                    }
                    PullRequestState::Merged => {}
                    PullRequestState::Open if seen.draft => {
                        next.note = Some("a draft: waits until it is marked ready".into());
                    }
                    PullRequestState::Open if settings.auto_merge && !seen.auto_merge_enabled => {
                        next.note = host.auto_merge(&seen, &settings).await?;
                        // Merged or auto-merge enabled: look again at once.
                        again |= next.note.is_none();
                    }
                    PullRequestState::Open => {}
                }
                if next != *record {
                    *record = next;
                    changed = true;
                }
            }
            if changed {
                let event = self
                    .store()
                    .update_step_detail(
                        &job.release,
                        &job.environment,
                        &StepDetail {
                            repositories: results.to_vec(),
                            ..Default::default()
                        },
                    )
                    .await?;
                self.publish(event).await;
            }
            let hosted_done = results
                .iter()
                .filter_map(|r| r.pull_request.as_ref())
                .all(|p| p.state == PullRequestState::Merged);
            let generic: Vec<&RepositoryResult> = results
                .iter()
                .filter(|r| r.pull_request_branch.is_some() && r.pull_request.is_none())
                .collect();
            let generic_done = generic.is_empty() || self.branches_merged(job, keyring).await?;
            if hosted_done && generic_done {
                for record in results.iter().filter_map(|r| r.pull_request.as_ref()) {
                    self.store()
                        .append_log(
                            &job.release,
                            &job.environment,
                            "info",
                            &format!(
                                "pull request #{} merged{}",
                                record.number,
                                record
                                    .merge_commit
                                    .as_deref()
                                    .map(|c| format!(" as {c}"))
                                    .unwrap_or_default()
                            ),
                        )
                        .await?;
                }
                return Ok(());
            }
            if again {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(self.config().merge_poll_interval) => {}
                () = &mut woken => {}
                () = job.cancel.cancelled() => return Err(EngineError::Stopped),
            }
        }
    }

    /// Whether every generic server's base branch holds the promotion.
    async fn branches_merged(&self, job: &StepJob, keyring: &Arc<Keyring>) -> Result<bool> {
        let engine = self.clone();
        let job = job.clone();
        let keyring = keyring.clone();
        tokio::task::spawn_blocking(move || {
            let product = &job.snapshot.product;
            for app in &product.spec.applications {
                let repo = app.repository_for(&job.environment, &product.spec.repository);
                let info = engine.commit_info(&job, &[app]);
                let repo_job = engine.repo_job(
                    Target {
                        template: &job.template,
                        trees: &job.trees,
                        keyring: &keyring,
                        url: &repo.url,
                        branch: repo.branch(),
                        environment: &job.environment,
                    },
                    vec![app],
                    info,
                );
                if !repo_job.merged()? {
                    return Ok(false);
                }
            }
            Ok::<_, EngineError>(true)
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
    }

    /// Closes the open requests of a terminated release, saying why. Best effort: a
    /// host that cannot be reached is logged, the release is terminated regardless.
    pub(super) async fn close_pull_requests(&self, release: &ReleaseRecord, reason: &str) {
        let Ok(snapshot) = snapshot_of(release) else {
            return;
        };
        for step in &release.steps {
            for result in &step.detail.repositories {
                let Some(record) = result
                    .pull_request
                    .as_ref()
                    .filter(|p| p.state == PullRequestState::Open)
                else {
                    continue;
                };
                let comment = format!("Promenade closes this pull request: {reason}.");
                let closed = async {
                    match self.host_for(&snapshot.product, &result.repository).await? {
                        Some(host) => host.close(record.number, &comment).await,
                        None => Ok(()),
                    }
                }
                .await;
                let line = match closed {
                    Ok(()) => format!("closed pull request #{}", record.number),
                    Err(e) => format!("could not close pull request #{}: {e}", record.number),
                };
                info!(release = %release.id, environment = %step.environment, "{line}");
                let _ = self
                    .store()
                    .append_log(&release.id, &step.environment, "info", &line)
                    .await;
            }
        }
    }

    /// Sets `promenade/<environment>` on every source commit whose repository is on a
    /// GitHub or GitLab host. Best effort: a status that cannot be set is logged on
    /// the release and never fails the promotion.
    pub(super) async fn report_status(
        &self,
        release: &str,
        snapshot: &Snapshot,
        environment: &str,
        state: StatusState,
        description: &str,
    ) {
        let commits: BTreeSet<(&str, &str)> = snapshot
            .source
            .applications
            .iter()
            .map(|a| (a.repository.as_str(), a.commit.as_str()))
            .collect();
        let context = format!("promenade/{environment}");
        let target = self.release_url(release);
        for (url, commit) in commits {
            let set = async {
                match self.host_for(&snapshot.product, url).await? {
                    Some(host) => host
                        .status(&StatusUpdate {
                            sha: commit,
                            context: &context,
                            state,
                            target_url: target.as_deref(),
                            description,
                        })
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            }
            .await;
            if let Err(e) = set {
                warn!(release, environment, error = %e, "commit status not set");
                let _ = self
                    .store()
                    .append_log(
                        release,
                        environment,
                        "warn",
                        &format!("commit status {context} not set on {commit}: {e}"),
                    )
                    .await;
            }
        }
    }
}

impl Snapshot {
    /// The pull request settings frozen for `environment` when the release was created.
    pub(super) fn pull_request_settings(&self, environment: &str) -> PullRequestSettings {
        self.pull_requests
            .get(environment)
            .cloned()
            .unwrap_or_default()
    }
}
