//! GitLab's REST API (v4) with reqwest: merge requests, their notes, merge when the
//! pipeline succeeds, and commit statuses. Projects are addressed by their URL-encoded
//! path; reviewers and assignees by user id, looked up from their usernames.

use promenade_model::hosting::HostedRepository;
use promenade_model::release::{ChecksState, PullRequestRecord, PullRequestState};
use promenade_model::resources::{MergeMethod, Provider};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{info, instrument};

use super::{with_rate_limits, Conditional, OpenRequest, Reply, Seen};
use crate::outbound::Outbound;
use crate::{EngineError, Result};

pub(super) struct GitLab {
    http: reqwest::Client,
    /// `https://gitlab.example.com/api/v4/projects/group%2Fproject`
    pub(super) project_url: String,
    api_url: String,
    token: String,
    project: String,
    conditional: Conditional,
}

#[derive(Deserialize)]
struct MergeRequest {
    iid: u64,
    web_url: String,
    state: String,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    squash_commit_sha: Option<String>,
    #[serde(default)]
    closed_by: Option<User>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    merge_when_pipeline_succeeds: bool,
    #[serde(default)]
    detailed_merge_status: Option<String>,
    #[serde(default)]
    head_pipeline: Option<Pipeline>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    id: u64,
    #[serde(default)]
    username: String,
}

#[derive(Deserialize)]
struct Pipeline {
    status: String,
}

pub(super) const HOST: &str = "GitLab";

impl GitLab {
    pub(super) fn new(
        repository: &HostedRepository,
        token: &str,
        outbound: &Outbound,
    ) -> Result<Self> {
        let http = outbound.client().clone();
        let encoded = encode(&repository.project);
        Ok(Self {
            http,
            project_url: format!("{}/projects/{encoded}", repository.api_url),
            api_url: repository.api_url.clone(),
            token: token.to_string(),
            project: repository.project.clone(),
            conditional: Conditional::default(),
        })
    }

    pub(super) async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        action: &str,
    ) -> Result<Reply> {
        let conditional = method == Method::GET;
        with_rate_limits(HOST, action, || async {
            let mut request = self
                .http
                .request(method.clone(), url)
                .bearer_auth(&self.token);
            if conditional {
                if let Some(etag) = self.conditional.etag(url) {
                    request = request.header(reqwest::header::IF_NONE_MATCH, etag);
                }
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let failed = |e: reqwest::Error| EngineError::Host {
                host: HOST.into(),
                action: action.into(),
                message: e.without_url().to_string(),
            };
            let response = request.send().await.map_err(failed)?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.text().await.map_err(failed)?;
            Ok(self
                .conditional
                .reply(url, conditional, status, headers, body))
        })
        .await
    }

    async fn user_ids(&self, usernames: &[String]) -> Result<Vec<u64>> {
        let mut ids = Vec::new();
        for name in usernames {
            let users: Vec<User> = self
                .call(
                    Method::GET,
                    &format!("{}/users?username={}", self.api_url, encode(name)),
                    None,
                    "looking up a user",
                )
                .await?
                .checked(HOST, "looking up a user")?
                .json(HOST, "looking up a user")?;
            let user = users.first().ok_or_else(|| EngineError::Host {
                host: HOST.into(),
                action: "looking up a user".into(),
                message: format!("no user is named {name:?}"),
            })?;
            ids.push(user.id);
        }
        Ok(ids)
    }

    #[instrument(skip_all, fields(project = %self.project, head = request.head))]
    pub(super) async fn open(&self, request: &OpenRequest<'_>) -> Result<Seen> {
        let existing: Vec<MergeRequest> = self
            .call(
                Method::GET,
                &format!(
                    "{}/merge_requests?state=all&source_branch={}&target_branch={}",
                    self.project_url,
                    encode(request.head),
                    encode(request.base)
                ),
                None,
                "listing merge requests",
            )
            .await?
            .checked(HOST, "listing merge requests")?
            .json(HOST, "listing merge requests")?;
        if let Some(found) = existing
            .into_iter()
            .filter(|m| m.state == "opened" || m.state == "merged")
            .max_by_key(|m| m.iid)
        {
            info!(
                number = found.iid,
                "found the merge request an earlier attempt opened"
            );
            return Ok(seen(found));
        }
        let settings = request.settings;
        let title = if settings.draft {
            format!("Draft: {}", request.title)
        } else {
            request.title.to_string()
        };
        let mut body = json!({
            "source_branch": request.head,
            "target_branch": request.base,
            "title": title,
            "description": request.body,
            "remove_source_branch": true,
            "squash": settings.merge_method == MergeMethod::Squash,
        });
        if !settings.labels.is_empty() {
            body["labels"] = json!(settings.labels.join(","));
        }
        if !settings.reviewers.is_empty() {
            body["reviewer_ids"] = json!(self.user_ids(&settings.reviewers).await?);
        }
        if !settings.assignees.is_empty() {
            body["assignee_ids"] = json!(self.user_ids(&settings.assignees).await?);
        }
        let created: MergeRequest = self
            .call(
                Method::POST,
                &format!("{}/merge_requests", self.project_url),
                Some(&body),
                "opening a merge request",
            )
            .await?
            .checked(HOST, "opening a merge request")?
            .json(HOST, "opening a merge request")?;
        info!(number = created.iid, "opened a merge request");
        Ok(seen(created))
    }

    #[instrument(skip(self), fields(project = %self.project))]
    pub(super) async fn look(&self, number: u64) -> Result<Seen> {
        let request: MergeRequest = self
            .call(
                Method::GET,
                &format!("{}/merge_requests/{number}", self.project_url),
                None,
                "reading a merge request",
            )
            .await?
            .checked(HOST, "reading a merge request")?
            .json(HOST, "reading a merge request")?;
        Ok(seen(request))
    }

    #[instrument(skip(self, seen), fields(project = %self.project, number = seen.record.number))]
    pub(super) async fn auto_merge(
        &self,
        seen: &Seen,
        method: MergeMethod,
    ) -> Result<Option<String>> {
        let number = seen.record.number;
        if method == MergeMethod::Rebase {
            let reply = self
                .call(
                    Method::PUT,
                    &format!("{}/merge_requests/{number}/rebase", self.project_url),
                    None,
                    "rebasing a merge request",
                )
                .await?;
            if !reply.ok() {
                return Ok(Some(format!(
                    "GitLab did not rebase it: {}",
                    reply.message()
                )));
            }
        }
        let reply = self
            .call(
                Method::PUT,
                &format!("{}/merge_requests/{number}/merge", self.project_url),
                Some(&json!({
                    // `auto_merge` since GitLab 17.11; the older name for earlier servers.
                    "auto_merge": true,
                    "merge_when_pipeline_succeeds": true,
                    "squash": method == MergeMethod::Squash,
                })),
                "merging a merge request",
            )
            .await?;
        Ok(match reply.status {
            200 | 201 => {
                info!("merge when the pipeline succeeds: set");
                None
            }
            401 | 403 => {
                reply.checked(HOST, "merging a merge request")?;
                None
            }
            _ => Some(format!("GitLab did not merge it: {}", reply.message())),
        })
    }
}

fn seen(request: MergeRequest) -> Seen {
    let state = match request.state.as_str() {
        "merged" => PullRequestState::Merged,
        "closed" | "locked" => PullRequestState::Closed,
        _ => PullRequestState::Open,
    };
    let checks = request
        .head_pipeline
        .as_ref()
        .map(|p| match p.status.as_str() {
            "success" => ChecksState::Success,
            "failed" | "canceled" => ChecksState::Failure,
            _ => ChecksState::Pending,
        });
    Seen {
        record: PullRequestRecord {
            provider: Provider::Gitlab,
            number: request.iid,
            url: request.web_url,
            state,
            checks,
            merge_commit: (state == PullRequestState::Merged)
                .then(|| request.merge_commit_sha.or(request.squash_commit_sha))
                .flatten(),
            note: None,
        },
        closed_by: request.closed_by.map(|u| u.username),
        auto_merge_enabled: request.merge_when_pipeline_succeeds,
        node_id: None,
        mergeable: request.detailed_merge_status.as_deref() == Some("mergeable"),
        draft: request.draft,
    }
}

/// Percent-encodes a query value (branch names may hold `/`).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
