//! GitHub's REST API (and its GraphQL API for auto-merge), through octocrab's client.
//! octocrab's typed calls drop the response headers a careful poller needs (`ETag`,
//! `Retry-After`, the quota), so the calls go through its lower-level `execute` and read
//! only the fields used here.

use http::request::Builder;
use http::Method;
use octocrab::Octocrab;
use promenade_model::hosting::HostedRepository;
use promenade_model::release::{ChecksState, PullRequestRecord, PullRequestState};
use promenade_model::resources::{MergeMethod, Provider};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{info, instrument};

use super::{with_rate_limits, Conditional, OpenRequest, Reply, Seen};
use crate::{EngineError, Result};

pub(super) struct GitHub {
    rest: Octocrab,
    /// GraphQL lives at `/graphql` beside the REST root (`/api/graphql` on GitHub
    /// Enterprise, whose REST root is `/api/v3`).
    graphql: Octocrab,
    /// `owner/repo`.
    project: String,
    owner: String,
    conditional: Conditional,
}

#[derive(Deserialize)]
struct PullRequest {
    number: u64,
    html_url: String,
    state: String,
    #[serde(default)]
    merged: bool,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    node_id: Option<String>,
    #[serde(default)]
    mergeable_state: Option<String>,
    #[serde(default)]
    auto_merge: Option<Value>,
    head: Head,
}

#[derive(Deserialize)]
struct Head {
    sha: String,
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

#[derive(Deserialize)]
struct Issue {
    #[serde(default)]
    closed_by: Option<Login>,
}

#[derive(Deserialize)]
struct CombinedStatus {
    state: String,
    #[serde(default)]
    total_count: u64,
}

#[derive(Deserialize)]
struct CheckRuns {
    check_runs: Vec<CheckRun>,
}

#[derive(Deserialize)]
struct CheckRun {
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
}

pub(super) const HOST: &str = "GitHub";

impl GitHub {
    pub(super) fn new(repository: &HostedRepository, token: &str) -> Result<Self> {
        let build = |base: &str| -> Result<Octocrab> {
            Octocrab::builder()
                .base_uri(base)
                .and_then(|b| {
                    b.personal_token(token.to_string())
                        .add_header(
                            http::header::ACCEPT,
                            "application/vnd.github+json".to_string(),
                        )
                        .add_header(
                            http::HeaderName::from_static("x-github-api-version"),
                            "2022-11-28".to_string(),
                        )
                        .build()
                })
                .map_err(|e| EngineError::Host {
                    host: HOST.into(),
                    action: "client setup".into(),
                    message: format!("{base}: {e}"),
                })
        };
        let api = repository.api_url.as_str();
        let graphql_root = api.strip_suffix("/v3").unwrap_or(api);
        let owner = repository
            .project
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        Ok(Self {
            rest: build(api)?,
            graphql: build(graphql_root)?,
            project: repository.project.clone(),
            owner,
            conditional: Conditional::default(),
        })
    }

    async fn call(
        &self,
        client: &Octocrab,
        method: Method,
        path: &str,
        body: Option<&Value>,
        action: &str,
    ) -> Result<Reply> {
        let conditional = method == Method::GET;
        let reply = with_rate_limits(HOST, action, || async {
            let mut builder = Builder::new().method(method.clone()).uri(path);
            if conditional {
                if let Some(etag) = self.conditional.etag(path) {
                    builder = builder.header(http::header::IF_NONE_MATCH, etag);
                }
            }
            let failed = |e: octocrab::Error| EngineError::Host {
                host: HOST.into(),
                action: action.into(),
                message: e.to_string(),
            };
            let request = client.build_request(builder, body).map_err(failed)?;
            let response = client.execute(request).await.map_err(failed)?;
            let status = response.status().as_u16();
            let headers: HeaderMap = response.headers().clone();
            let body = client.body_to_string(response).await.map_err(failed)?;
            Ok(self
                .conditional
                .reply(path, conditional, status, headers, body))
        })
        .await?;
        Ok(reply)
    }

    pub(super) async fn rest(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        action: &str,
    ) -> Result<Reply> {
        self.call(&self.rest, method, path, body, action).await
    }

    pub(super) fn repo(&self) -> String {
        format!("/repos/{}", self.project)
    }

    #[instrument(skip_all, fields(project = %self.project, head = request.head))]
    pub(super) async fn open(&self, request: &OpenRequest<'_>) -> Result<Seen> {
        let list = self
            .rest(
                Method::GET,
                &format!(
                    "{}/pulls?state=all&head={}:{}&base={}&per_page=100",
                    self.repo(),
                    self.owner,
                    request.head,
                    request.base
                ),
                None,
                "listing pull requests",
            )
            .await?
            .checked(HOST, "listing pull requests")?;
        let existing: Vec<PullRequest> = list.json(HOST, "listing pull requests")?;
        // An open request, or the merged one of an earlier attempt; a closed one is the
        // reviewers' refusal and is not reopened behind their back.
        if let Some(found) = existing
            .into_iter()
            .max_by_key(|p| (p.state == "open" || p.merged_at.is_some(), p.number))
            .filter(|p| p.state == "open" || p.merged_at.is_some())
        {
            info!(
                number = found.number,
                "found the pull request an earlier attempt opened"
            );
            return self.seen(found).await;
        }
        let created: PullRequest = self
            .rest(
                Method::POST,
                &format!("{}/pulls", self.repo()),
                Some(&json!({
                    "title": request.title,
                    "head": request.head,
                    "base": request.base,
                    "body": request.body,
                    "draft": request.settings.draft,
                })),
                "opening a pull request",
            )
            .await?
            .checked(HOST, "opening a pull request")?
            .json(HOST, "opening a pull request")?;
        let number = created.number;
        info!(number, "opened a pull request");
        let settings = request.settings;
        if !settings.labels.is_empty() {
            self.rest(
                Method::POST,
                &format!("{}/issues/{number}/labels", self.repo()),
                Some(&json!({ "labels": settings.labels })),
                "labelling a pull request",
            )
            .await?
            .checked(HOST, "labelling a pull request")?;
        }
        if !settings.reviewers.is_empty() {
            self.rest(
                Method::POST,
                &format!("{}/pulls/{number}/requested_reviewers", self.repo()),
                Some(&json!({ "reviewers": settings.reviewers })),
                "requesting reviews",
            )
            .await?
            .checked(HOST, "requesting reviews")?;
        }
        if !settings.assignees.is_empty() {
            self.rest(
                Method::POST,
                &format!("{}/issues/{number}/assignees", self.repo()),
                Some(&json!({ "assignees": settings.assignees })),
                "assigning a pull request",
            )
            .await?
            .checked(HOST, "assigning a pull request")?;
        }
        self.seen(created).await
    }

    #[instrument(skip(self), fields(project = %self.project))]
    pub(super) async fn look(&self, number: u64) -> Result<Seen> {
        let pull: PullRequest = self
            .rest(
                Method::GET,
                &format!("{}/pulls/{number}", self.repo()),
                None,
                "reading a pull request",
            )
            .await?
            .checked(HOST, "reading a pull request")?
            .json(HOST, "reading a pull request")?;
        self.seen(pull).await
    }

    async fn seen(&self, pull: PullRequest) -> Result<Seen> {
        let state = if pull.merged || pull.merged_at.is_some() {
            PullRequestState::Merged
        } else if pull.state == "closed" {
            PullRequestState::Closed
        } else {
            PullRequestState::Open
        };
        let closed_by = if state == PullRequestState::Closed {
            let issue: Issue = self
                .rest(
                    Method::GET,
                    &format!("{}/issues/{}", self.repo(), pull.number),
                    None,
                    "reading who closed a pull request",
                )
                .await?
                .checked(HOST, "reading who closed a pull request")?
                .json(HOST, "reading who closed a pull request")?;
            issue.closed_by.map(|l| l.login)
        } else {
            None
        };
        let checks = if state == PullRequestState::Open {
            self.checks(&pull.head.sha).await?
        } else {
            None
        };
        Ok(Seen {
            record: PullRequestRecord {
                provider: Provider::Github,
                number: pull.number,
                url: pull.html_url,
                state,
                checks,
                merge_commit: (state == PullRequestState::Merged)
                    .then_some(pull.merge_commit_sha)
                    .flatten(),
                note: None,
            },
            closed_by,
            auto_merge_enabled: pull.auto_merge.is_some_and(|a| !a.is_null()),
            node_id: pull.node_id,
            mergeable: pull.mergeable_state.as_deref() == Some("clean"),
            draft: pull.draft,
        })
    }

    /// Commit statuses and check runs on the head commit, combined.
    async fn checks(&self, sha: &str) -> Result<Option<ChecksState>> {
        let combined: CombinedStatus = self
            .rest(
                Method::GET,
                &format!("{}/commits/{sha}/status", self.repo()),
                None,
                "reading commit statuses",
            )
            .await?
            .checked(HOST, "reading commit statuses")?
            .json(HOST, "reading commit statuses")?;
        let runs: CheckRuns = self
            .rest(
                Method::GET,
                &format!("{}/commits/{sha}/check-runs?per_page=100", self.repo()),
                None,
                "reading check runs",
            )
            .await?
            .checked(HOST, "reading check runs")?
            .json(HOST, "reading check runs")?;
        let mut states: Vec<ChecksState> = Vec::new();
        if combined.total_count > 0 {
            states.push(match combined.state.as_str() {
                "success" => ChecksState::Success,
                "pending" => ChecksState::Pending,
                _ => ChecksState::Failure,
            });
        }
        states.extend(runs.check_runs.iter().map(|run| {
            match (run.status.as_str(), run.conclusion.as_deref()) {
                ("completed", Some("success" | "neutral" | "skipped")) => ChecksState::Success,
                ("completed", _) => ChecksState::Failure,
                _ => ChecksState::Pending,
            }
        }));
        Ok(combine(&states))
    }

    #[instrument(skip(self, seen), fields(project = %self.project, number = seen.record.number))]
    pub(super) async fn auto_merge(
        &self,
        seen: &Seen,
        method: MergeMethod,
    ) -> Result<Option<String>> {
        let number = seen.record.number;
        if seen.mergeable {
            // Auto-merge cannot be enabled on a request that may already be merged:
            // GitHub answers "Pull request is in clean status". Merge it now.
            let reply = self
                .rest(
                    Method::PUT,
                    &format!("{}/pulls/{number}/merge", self.repo()),
                    Some(&json!({ "merge_method": method.as_str() })),
                    "merging a pull request",
                )
                .await?;
            return Ok(match reply.status {
                200 => {
                    info!("merged the pull request");
                    None
                }
                405 | 409 | 422 => Some(format!("GitHub did not merge it: {}", reply.message())),
                _ => {
                    reply.checked(HOST, "merging a pull request")?;
                    None
                }
            });
        }
        let Some(node_id) = &seen.node_id else {
            return Ok(Some(
                "GitHub gave no node id to enable auto-merge on".into(),
            ));
        };
        let reply = self
            .call(
                &self.graphql,
                Method::POST,
                "/graphql",
                Some(&json!({
                    "query": "mutation($id: ID!, $method: PullRequestMergeMethod!) { \
                        enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: $method}) { \
                        pullRequest { number } } }",
                    "variables": { "id": node_id, "method": method.as_str().to_uppercase() },
                })),
                "enabling auto-merge",
            )
            .await?
            .checked(HOST, "enabling auto-merge")?;
        let answer: Value = reply.json(HOST, "enabling auto-merge")?;
        match answer["errors"].as_array().and_then(|e| e.first()) {
            Some(error) => Ok(Some(format!(
                "GitHub refused auto-merge: {}",
                error["message"].as_str().unwrap_or("no reason given")
            ))),
            None => {
                info!("auto-merge enabled");
                Ok(None)
            }
        }
    }
}

/// Any failure fails; anything still running is pending; nothing at all is no checks.
fn combine(states: &[ChecksState]) -> Option<ChecksState> {
    if states.is_empty() {
        None
    } else if states.contains(&ChecksState::Failure) {
        Some(ChecksState::Failure)
    } else if states.contains(&ChecksState::Pending) {
        Some(ChecksState::Pending)
    } else {
        Some(ChecksState::Success)
    }
}
