//! Git hosts' APIs: opening, watching, merging and closing pull (GitHub) and merge
//! (GitLab) requests, the preview comment in them, and commit statuses. GitHub is
//! called through octocrab (its client, authentication and GitHub Enterprise base URLs);
//! GitLab through its REST API with reqwest. Both honour the hosts' rate limits
//! (`Retry-After`, GitHub's secondary limits, exhausted quotas wait for their reset)
//! and re-read what they watch with conditional requests (`If-None-Match`), which the
//! hosts do not count against the quota when nothing changed.

mod github;
mod gitlab;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promenade_model::hosting::{HostedRepository, PREVIEW_MARKER};
use promenade_model::policy::PullRequestSettings;
use promenade_model::release::PullRequestRecord;
use promenade_model::resources::Provider;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::de::DeserializeOwned;
use tracing::{instrument, warn};

use crate::outbound::Outbound;
use crate::{EngineError, Result};

/// A host's API for one repository.
pub(crate) struct Host {
    client: Client,
}

enum Client {
    GitHub(github::GitHub),
    GitLab(gitlab::GitLab),
}

/// What a step asks of the host.
pub(crate) struct OpenRequest<'a> {
    /// The branch holding the promotion.
    pub head: &'a str,
    /// The branch it goes to.
    pub base: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub settings: &'a PullRequestSettings,
}

/// A request as the host shows it now.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub record: PullRequestRecord,
    /// Who closed it, when it was closed without merging.
    pub closed_by: Option<String>,
    /// Whether the host will merge it by itself (auto-merge, merge when the pipeline
    /// succeeds).
    pub auto_merge_enabled: bool,
    /// GitHub's GraphQL node id, which auto-merge is enabled on.
    pub node_id: Option<String>,
    /// Whether the host says it can be merged now (approved, checks passed).
    pub mergeable: bool,
    pub draft: bool,
}

/// A commit status's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatusState {
    Pending,
    Success,
    Failure,
    /// The promotion stopped without failing (terminated).
    Error,
}

impl Host {
    /// A client for `repository` on its host, calling its API with `token`; the API's
    /// address must be one `outbound` allows.
    pub(crate) async fn new(
        repository: &HostedRepository,
        token: &str,
        outbound: &Outbound,
    ) -> Result<Self> {
        let refused = |message: String| EngineError::Host {
            host: repository.provider.to_string(),
            action: "connecting".into(),
            message,
        };
        let client = match repository.provider {
            Provider::Github => {
                outbound
                    .check_resolved(&repository.api_url)
                    .await
                    .map_err(refused)?;
                Client::GitHub(github::GitHub::new(repository, token)?)
            }
            Provider::Gitlab => {
                outbound.check_url(&repository.api_url).map_err(refused)?;
                Client::GitLab(gitlab::GitLab::new(repository, token, outbound)?)
            }
            Provider::Generic => {
                return Err(EngineError::Internal(
                    "a generic git server has no API to call".into(),
                ))
            }
        };
        Ok(Self { client })
    }

    /// The request from `head` to `base`: the open one found, or a new one with its
    /// labels, reviewers and assignees. Found first, so a restarted step never opens a
    /// second request.
    pub async fn open(&self, request: &OpenRequest<'_>) -> Result<Seen> {
        match &self.client {
            Client::GitHub(host) => host.open(request).await,
            Client::GitLab(host) => host.open(request).await,
        }
    }

    /// The request as it stands now.
    pub async fn look(&self, number: u64) -> Result<Seen> {
        match &self.client {
            Client::GitHub(host) => host.look(number).await,
            Client::GitLab(host) => host.look(number).await,
        }
    }

    /// Asks the host to merge the request once it may (auto-merge), or merges it now
    /// when it already may. `Ok(Some(why))` when the host refused and the step waits.
    pub async fn auto_merge(
        &self,
        seen: &Seen,
        settings: &PullRequestSettings,
    ) -> Result<Option<String>> {
        match &self.client {
            Client::GitHub(host) => host.auto_merge(seen, settings.merge_method).await,
            Client::GitLab(host) => host.auto_merge(seen, settings.merge_method).await,
        }
    }

    /// One call of the host's API; `path` is relative to the project.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        action: &str,
    ) -> Result<Reply> {
        let reply = match &self.client {
            Client::GitHub(host) => {
                let url = format!("{}/{path}", host.repo());
                host.rest(method, &url, body, action).await?
            }
            Client::GitLab(host) => {
                let url = format!("{}/{path}", host.project_url);
                host.call(method, &url, body, action).await?
            }
        };
        reply.checked(self.name(), action)
    }

    fn name(&self) -> &'static str {
        match &self.client {
            Client::GitHub(_) => github::HOST,
            Client::GitLab(_) => gitlab::HOST,
        }
    }

    /// Where request `number`'s comments (GitLab: notes) are.
    fn comments(&self, number: u64) -> String {
        match &self.client {
            Client::GitHub(_) => format!("issues/{number}/comments"),
            Client::GitLab(_) => format!("merge_requests/{number}/notes"),
        }
    }

    /// Closes the request with a comment saying why.
    #[instrument(skip(self, comment), fields(host = self.name()))]
    pub async fn close(&self, number: u64, comment: &str) -> Result<()> {
        let body = serde_json::json!({ "body": comment });
        self.send(
            Method::POST,
            &self.comments(number),
            Some(&body),
            "commenting",
        )
        .await?;
        let (method, path, body) = match &self.client {
            Client::GitHub(_) => (
                Method::PATCH,
                format!("pulls/{number}"),
                serde_json::json!({ "state": "closed" }),
            ),
            Client::GitLab(_) => (
                Method::PUT,
                format!("merge_requests/{number}"),
                serde_json::json!({ "state_event": "close" }),
            ),
        };
        self.send(method, &path, Some(&body), "closing a request")
            .await?;
        Ok(())
    }

    /// Writes the preview comment, or updates the one written before (found by
    /// [`PREVIEW_MARKER`]).
    #[instrument(skip(self, body), fields(host = self.name()))]
    pub async fn preview(&self, number: u64, body: &str) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Comment {
            id: u64,
            #[serde(default)]
            body: Option<String>,
        }
        let comments = self.comments(number);
        let listed: Vec<Comment> = self
            .send(
                Method::GET,
                &format!("{comments}?per_page=100"),
                None,
                "reading comments",
            )
            .await?
            .json(self.name(), "reading comments")?;
        let mine = listed.iter().find(|c| {
            c.body
                .as_deref()
                .is_some_and(|b| b.starts_with(PREVIEW_MARKER))
        });
        let text = serde_json::json!({ "body": body });
        match mine {
            Some(comment) if comment.body.as_deref() == Some(body) => Ok(()),
            Some(comment) => {
                let (method, path) = match &self.client {
                    Client::GitHub(_) => (Method::PATCH, format!("issues/comments/{}", comment.id)),
                    Client::GitLab(_) => (Method::PUT, format!("{comments}/{}", comment.id)),
                };
                self.send(method, &path, Some(&text), "updating the preview")
                    .await
                    .map(drop)
            }
            None => self
                .send(Method::POST, &comments, Some(&text), "writing the preview")
                .await
                .map(drop),
        }
    }

    /// Sets a commit status, in the host's words.
    #[instrument(skip_all, fields(host = self.name(), sha = update.sha, context = update.context))]
    pub async fn status(&self, update: &StatusUpdate<'_>) -> Result<()> {
        use StatusState::{Error, Failure, Pending, Success};
        let body = match &self.client {
            // GitHub cuts descriptions at 140 characters.
            Client::GitHub(_) => update.body(
                match update.state {
                    Pending => "pending",
                    Success => "success",
                    Failure => "failure",
                    Error => "error",
                },
                "context",
                140,
            ),
            Client::GitLab(_) => update.body(
                match update.state {
                    Pending => "pending",
                    Success => "success",
                    Failure => "failed",
                    Error => "canceled",
                },
                "name",
                255,
            ),
        };
        let path = format!("statuses/{}", update.sha);
        self.send(Method::POST, &path, Some(&body), "setting a commit status")
            .await
            .map(drop)
    }
}

/// A commit status to set: `context` on `sha`.
pub(crate) struct StatusUpdate<'a> {
    pub sha: &'a str,
    pub context: &'a str,
    pub state: StatusState,
    pub target_url: Option<&'a str>,
    pub description: &'a str,
}

impl StatusUpdate<'_> {
    /// The request body in a host's words: its name for the state, the key it names
    /// the context with, and the longest description it keeps.
    fn body(&self, state: &str, context_key: &str, longest: usize) -> serde_json::Value {
        let mut body = serde_json::json!({
            "state": state,
            context_key: self.context,
            "description": self.description.chars().take(longest).collect::<String>(),
        });
        if let Some(url) = self.target_url {
            body["target_url"] = serde_json::json!(url);
        }
        body
    }
}

/// One answer of a host's API.
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn json<T: DeserializeOwned>(&self, host: &str, action: &str) -> Result<T> {
        serde_json::from_str(&self.body).map_err(|e| EngineError::Host {
            host: host.into(),
            action: action.into(),
            message: format!("the answer is not what its API describes: {e}"),
        })
    }

    /// The host's own words for a refusal: `message` (GitHub, GitLab), or the status.
    fn message(&self) -> String {
        let json: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        let text = match &json["message"] {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Null => json["error"].as_str().unwrap_or_default().to_string(),
            other => other.to_string(),
        };
        if text.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {text}", self.status)
        }
    }

    /// The answer, or an error with the host's message when it is not a success.
    fn checked(self, host: &str, action: &str) -> Result<Self> {
        if self.ok() {
            Ok(self)
        } else {
            Err(EngineError::Host {
                host: host.into(),
                action: action.into(),
                message: self.message(),
            })
        }
    }
}

/// How many times one call is retried after the host asked to slow down.
const RATE_LIMIT_RETRIES: u32 = 5;

/// The longest wait for one rate limit: longer, and the step reports the host's limit
/// rather than hang.
const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);

/// How long the host asks to wait before the call is tried again, when it answered
/// that the caller went too fast: `Retry-After` (secondary limits, GitLab), an
/// exhausted quota until `X-RateLimit-Reset`/`RateLimit-Reset`, or a minute for a
/// secondary limit without either (GitHub's advice).
fn rate_limited(status: u16, headers: &HeaderMap, body: &str) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(seconds) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    let exhausted =
        header("x-ratelimit-remaining").or_else(|| header("ratelimit-remaining")) == Some("0");
    if exhausted {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let reset = header("x-ratelimit-reset")
            .or_else(|| header("ratelimit-reset"))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(now + 60);
        return Some(Duration::from_secs(reset.saturating_sub(now).max(1)));
    }
    if status == 429 || body.to_ascii_lowercase().contains("secondary rate limit") {
        return Some(Duration::from_secs(60));
    }
    None
}

/// Sends `call` again while the host says to slow down, waiting as it asks.
async fn with_rate_limits<F, Fut>(host: &str, action: &str, mut call: F) -> Result<Reply>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(Reply, HeaderMap)>>,
{
    let mut attempt = 0;
    loop {
        let (reply, headers) = call().await?;
        match rate_limited(reply.status, &headers, &reply.body) {
            Some(wait) if attempt < RATE_LIMIT_RETRIES && wait <= LONGEST_WAIT => {
                attempt += 1;
                warn!(
                    host,
                    action,
                    wait_seconds = wait.as_secs(),
                    attempt,
                    "rate limited by the host: waiting as it asks"
                );
                tokio::time::sleep(wait).await;
            }
            Some(wait) => {
                return Err(EngineError::Host {
                    host: host.into(),
                    action: action.into(),
                    message: format!(
                        "rate limited ({}); the host asks to wait {} s more",
                        reply.message(),
                        wait.as_secs()
                    ),
                })
            }
            None => return Ok(reply),
        }
    }
}

/// Bodies of earlier `GET`s by URL with their `ETag`, for conditional requests.
#[derive(Default)]
struct Conditional {
    seen: Mutex<HashMap<String, (String, String)>>,
}

impl Conditional {
    fn etag(&self, url: &str) -> Option<String> {
        self.lock().get(url).map(|(etag, _)| etag.clone())
    }

    /// A response as its caller sees it: for a conditional `GET`, the remembered body on
    /// `304 Not Modified`.
    fn reply(
        &self,
        url: &str,
        conditional: bool,
        status: u16,
        headers: HeaderMap,
        body: String,
    ) -> (Reply, HeaderMap) {
        let reply = Reply { status, body };
        if conditional {
            (self.settle(url, reply, &headers), headers)
        } else {
            (reply, headers)
        }
    }

    /// The body to use: the remembered one on `304 Not Modified`, else the new one,
    /// remembered when it carries an `ETag`.
    fn settle(&self, url: &str, reply: Reply, headers: &HeaderMap) -> Reply {
        if reply.status == 304 {
            if let Some((_, body)) = self.lock().get(url) {
                return Reply {
                    status: 200,
                    body: body.clone(),
                };
            }
        }
        if reply.ok() {
            if let Some(etag) = headers.get("etag").and_then(|v| v.to_str().ok()) {
                self.lock()
                    .insert(url.to_string(), (etag.to_string(), reply.body.clone()));
            }
        }
        reply
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, String)>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn rate_limits_are_read_from_the_hosts_headers() {
        assert_eq!(
            rate_limited(403, &headers(&[("retry-after", "7")]), ""),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            rate_limited(
                403,
                &headers(&[]),
                "You have exceeded a secondary rate limit"
            ),
            Some(Duration::from_secs(60))
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let reset = (now + 30).to_string();
        let wait = rate_limited(
            403,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset),
            ]),
            "",
        )
        .unwrap();
        assert!((29..=30).contains(&wait.as_secs()), "{wait:?}");
        assert_eq!(
            rate_limited(403, &headers(&[]), "Resource not accessible"),
            None
        );
        assert_eq!(
            rate_limited(404, &headers(&[("retry-after", "7")]), ""),
            None
        );
        assert_eq!(
            rate_limited(429, &headers(&[]), ""),
            Some(Duration::from_secs(60))
        );
    }
}
