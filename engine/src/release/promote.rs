//! The git side of one environment step: one commit per repository, pushed without
//! force, retried on a moved remote; or a pull request branch, then waiting for its
//! merge. Blocking (libgit2): callers run it on the blocking pool.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use promenade_model::release::RepositoryResult;
use promenade_model::resources::Application;
use promenade_model::template::{CompiledTemplate, FileTree};
use tracing::{info, warn};

use super::changes::{compute, AppChange};
use crate::credentials::Keyring;
use crate::git::{CommitInfo, GitCache, PushOutcome, Repo, FRESH_TIP};
use crate::{telemetry, EngineError, Result};

/// Everything one repository of one step needs.
pub struct RepoJob<'a> {
    pub git: &'a GitCache,
    pub keyring: &'a Keyring,
    pub url: &'a str,
    pub branch: &'a str,
    pub environment: &'a str,
    pub apps: Vec<&'a Application>,
    pub template: &'a CompiledTemplate,
    pub sources: &'a BTreeMap<String, FileTree>,
    pub info: CommitInfo,
    pub push_attempts: u32,
    /// The step was started before (a takeover, a retry): an earlier attempt may have
    /// pushed its commit already, which is then looked for by its trailers instead of
    /// committing twice. A first attempt has nothing to look for.
    pub earlier_attempts: bool,
    /// Called just before each push; `false` means the engine is stopping.
    pub before_push: Arc<dyn Fn() -> bool + Send + Sync>,
}

pub struct RepoOutcome {
    pub result: RepositoryResult,
    /// Per application, computed against the tip the commit was made on.
    pub changes: Vec<AppChange>,
}

impl RepoJob<'_> {
    pub(super) fn with_repo<T>(&self, work: impl FnOnce(&Repo) -> Result<T>) -> Result<T> {
        self.git.with_clone(self.url, self.keyring, work)
    }

    /// Commits to the branch. Finds an earlier attempt's commit by its trailers instead of
    /// committing twice; fetches and re-applies when the remote moved. The first try
    /// builds on the tip this process learnt moments ago (the trigger's fetch, the
    /// previous step's push) when it has one: if the remote moved since, the push is
    /// refused and costs no attempt, and the next try fetches.
    pub fn commit_directly(&self) -> Result<RepoOutcome> {
        self.with_repo(|repo| {
            let mut known = repo.known_tip(self.branch, FRESH_TIP);
            let mut attempt = 0;
            while attempt < self.push_attempts {
                let guessed = known.is_some();
                if !guessed {
                    attempt += 1;
                }
                let tip = match known.take() {
                    Some(tip) => tip,
                    None => repo.fetch(self.branch)?,
                };
                let changes = compute(repo, tip, self.environment, &self.apps, self.template, self.sources)?;
                let done = self.earlier_promotion(repo, tip)?;
                let updates: Vec<_> = changes.iter().filter(|c| c.changed()).map(AppChange::update).collect();
                let commit = match done {
                    Some(_) => None,
                    None => repo.commit(tip, &updates, &self.info)?,
                };
                // Nothing to push: only the remote's present tip may say so.
                if commit.is_none() && guessed {
                    continue;
                }
                if let Some(done) = done {
                    info!(commit = %done, "promotion already pushed by an earlier attempt");
                    return Ok(self.outcome(Some(done.to_string()), None, changes));
                }
                let Some(commit) = commit else {
                    return Ok(self.outcome(None, None, changes));
                };
                if !(self.before_push)() {
                    return Err(EngineError::Stopped);
                }
                match repo.push(commit, self.branch)? {
                    PushOutcome::Pushed => {
                        info!(%commit, attempt = attempt.max(1), "pushed");
                        return Ok(self.outcome(Some(commit.to_string()), None, changes));
                    }
                    PushOutcome::Rejected(reason) if guessed => {
                        info!(%reason, "the remote moved since its tip was learnt: fetching and re-applying");
                    }
                    PushOutcome::Rejected(reason) => {
                        warn!(attempt, %reason, "push rejected, the remote moved: fetching and re-applying");
                        if attempt < self.push_attempts {
                            telemetry::push_retried();
                            std::thread::sleep(backoff(attempt));
                        }
                    }
                }
            }
            Err(EngineError::PushRejected {
                url: self.url.to_string(),
                attempts: self.push_attempts,
            })
        })
    }

    /// The commit an earlier attempt of this step pushed to the history of `tip`, if any.
    fn earlier_promotion(&self, repo: &Repo, tip: git2::Oid) -> Result<Option<git2::Oid>> {
        if !self.earlier_attempts {
            return Ok(None);
        }
        repo.find_promotion(tip, &self.info.release, self.environment)
    }

    /// Pushes the change to its own branch for a pull request. Reuses the branch an
    /// earlier attempt pushed; reports "nothing to do" when the base already has it.
    pub fn open_pull_request_branch(&self, pr_branch: &str) -> Result<RepoOutcome> {
        self.with_repo(|repo| {
            let base = repo.fetch(self.branch)?;
            let changes = compute(
                repo,
                base,
                self.environment,
                &self.apps,
                self.template,
                self.sources,
            )?;
            if let Some(done) = self.earlier_promotion(repo, base)? {
                return Ok(self.outcome(Some(done.to_string()), None, changes));
            }
            if !changes.iter().any(AppChange::changed) {
                return Ok(self.outcome(None, None, changes));
            }
            if let Some(existing) = repo.fetch_if_exists(pr_branch)? {
                if repo
                    .find_promotion(existing, &self.info.release, self.environment)?
                    .is_some()
                {
                    return Ok(self.outcome(Some(existing.to_string()), Some(pr_branch), changes));
                }
            }
            let updates: Vec<_> = changes
                .iter()
                .filter(|c| c.changed())
                .map(AppChange::update)
                .collect();
            let commit = repo.commit(base, &updates, &self.info)?.ok_or_else(|| {
                EngineError::Internal("a change with differences produced no commit".into())
            })?;
            match repo.push(commit, pr_branch)? {
                PushOutcome::Pushed => {
                    Ok(self.outcome(Some(commit.to_string()), Some(pr_branch), changes))
                }
                PushOutcome::Rejected(reason) => Err(EngineError::Git {
                    url: self.url.to_string(),
                    action: format!("push branch {pr_branch}"),
                    message: reason,
                }),
            }
        })
    }

    /// Whether the base branch now holds the promotion: the pull request's commit (or a
    /// squash of it, which keeps the trailers) is on it, or its folders already have the
    /// release's content.
    pub fn merged(&self) -> Result<bool> {
        self.with_repo(|repo| {
            let base = repo.fetch(self.branch)?;
            if repo
                .find_promotion(base, &self.info.release, self.environment)?
                .is_some()
            {
                return Ok(true);
            }
            let changes = compute(
                repo,
                base,
                self.environment,
                &self.apps,
                self.template,
                self.sources,
            )?;
            Ok(!changes.iter().any(AppChange::changed))
        })
    }

    fn outcome(
        &self,
        commit: Option<String>,
        pr_branch: Option<&str>,
        changes: Vec<AppChange>,
    ) -> RepoOutcome {
        RepoOutcome {
            result: RepositoryResult {
                repository: self.url.to_string(),
                branch: self.branch.to_string(),
                commit,
                pull_request_branch: pr_branch.map(str::to_string),
                pull_request: None,
            },
            changes,
        }
    }
}

/// 200 ms, 400 ms, 800 ms… capped at 5 s: enough for a busy remote to settle.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(5))).min(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::RemotePolicy;
    use promenade_model::resources::{PromotionTemplateSpec, TemplateFile};

    fn application() -> Application {
        Application {
            name: "web".into(),
            path: "apps/web/{env}".into(),
            argocd: None,
            environments: BTreeMap::new(),
        }
    }

    /// The tip learnt by a fetch moments ago is stale: someone pushed since. The push on
    /// it is refused, the step fetches and pushes on their commit, within one attempt.
    #[test]
    fn a_stale_learnt_tip_costs_no_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let remote = dir.path().join("remote.git");
        let seed = |file: &str, content: &str, message: &str| {
            promenade_testkit::commit_to_remote(
                &remote,
                "main",
                &[(file.to_string(), content.to_string())],
                message,
            )
        };
        seed("apps/web/qa/values.yaml", "tag: 1\n", "seed");
        let url = format!("file://{}", remote.display());
        let git = GitCache::new(dir.path().join("cache"));
        let keyring = Keyring::new(RemotePolicy::everything());
        git.open(&url, &keyring).unwrap().fetch("main").unwrap();
        let theirs = seed("docs/notes.md", "hello\n", "their change");

        let app = application();
        let template = CompiledTemplate::new(&PromotionTemplateSpec {
            version_source: None,
            files: vec![TemplateFile {
                path: "values.yaml".into(),
                attributes: Vec::new(),
            }],
        })
        .unwrap();
        let sources = BTreeMap::from([(
            "web".to_string(),
            FileTree::from([("values.yaml".to_string(), b"tag: 2\n".to_vec())]),
        )]);
        let job = RepoJob {
            git: &git,
            keyring: &keyring,
            url: &url,
            branch: "main",
            environment: "qa",
            apps: vec![&app],
            template: &template,
            sources: &sources,
            info: CommitInfo {
                subject: "web → qa".into(),
                release: ulid::Ulid::new().to_string(),
                environment: "qa".into(),
                author_name: "Promenade".into(),
                author_email: "promenade@example.com".into(),
                ..CommitInfo::default()
            },
            push_attempts: 1,
            earlier_attempts: false,
            before_push: Arc::new(|| true),
        };
        let outcome = job.commit_directly().unwrap();
        let pushed: git2::Oid = outcome.result.commit.unwrap().parse().unwrap();

        let remote = git2::Repository::open_bare(&remote).unwrap();
        assert_eq!(remote.refname_to_id("refs/heads/main").unwrap(), pushed);
        let commit = remote.find_commit(pushed).unwrap();
        assert_eq!(
            commit.parent_id(0).unwrap(),
            theirs,
            "built on their commit"
        );
    }
}
