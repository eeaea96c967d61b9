//! Push notifications from git hosts. Each receiver verifies its sender in constant
//! time against a webhook secret kept as `token` credentials, drops deliveries it has
//! already acted on, and reads the payload for the pushed repository, branch and files,
//! so only the product flows whose trigger folders were touched are looked at.
//!
//! - GitHub: `X-Hub-Signature-256` (HMAC-SHA256 of the body), `X-GitHub-Delivery`;
//!   `push` and merged `pull_request` events, `ping` answered; `pull_request`, review and
//!   check events also wake the steps waiting for a merge.
//! - GitLab: `X-Gitlab-Token`, `X-Gitlab-Event-UUID`; `Push Hook` and merged
//!   `Merge Request Hook` events; merge request and pipeline events wake merge waits.
//! - Generic: `Authorization: Bearer <secret>` or `X-Promenade-Signature-256`
//!   (HMAC-SHA256, as GitHub's); body `{"repository", "branch", "paths"?, "id"?}`, or
//!   empty to look at every trigger environment.

use std::collections::BTreeSet;

use hmac::{Hmac, Mac};
use promenade_model::credentials::webhook;
use promenade_model::remote::RemoteUrl;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tracing::{info, instrument};

use crate::store::now;
use crate::trigger::{Pushed, Scope};
use crate::{Engine, EngineError, Result};

/// Which sender a delivery claims to come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receiver {
    GitHub,
    GitLab,
    Git,
}

impl Receiver {
    fn credentials(self) -> &'static str {
        match self {
            Self::GitHub => webhook::GITHUB,
            Self::GitLab => webhook::GITLAB,
            Self::Git => webhook::GIT,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::GitLab => "gitlab",
            Self::Git => "git",
        }
    }
}

/// One HTTP delivery: header names lower-case.
pub struct Delivery<'a> {
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl Delivery<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// What a delivery did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAnswer {
    /// `started`, `unchanged` (no trigger folder changed), `ignored` (not a push to a
    /// branch), `duplicate` (a delivery already received) or `pong`.
    pub outcome: String,
    /// Why nothing was looked at, for `ignored`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The releases the delivery started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<String>,
}

impl WebhookAnswer {
    fn plain(outcome: &str, reason: Option<String>) -> Self {
        Self {
            outcome: outcome.into(),
            reason,
            releases: Vec::new(),
        }
    }
}

/// What the payload asks for.
enum Event {
    Ping,
    Ignored(String),
    Look(Scope),
}

impl Engine {
    /// Verifies and acts on one webhook delivery. A delivery that fails verification
    /// is [`EngineError::Unauthorized`] and changes nothing.
    #[instrument(skip(self, delivery), fields(receiver = receiver.as_str()))]
    pub async fn receive_webhook(
        &self,
        receiver: Receiver,
        delivery: &Delivery<'_>,
    ) -> Result<WebhookAnswer> {
        let name = receiver.credentials();
        let secret = self.token_secret(name).await?.ok_or_else(|| {
            EngineError::Unauthorized(format!(
                "this webhook is not set up: an admin creates token credentials named `{name}` holding its secret"
            ))
        })?;
        verify(receiver, delivery, secret.as_bytes())?;
        if about_pull_requests(receiver, delivery) {
            // Steps waiting for a merge look at their requests at once.
            self.signal(crate::bus::Signal::Merge).await;
        }
        let event = parse(receiver, delivery)?;
        let id = match receiver {
            Receiver::GitHub => delivery.header("x-github-delivery"),
            Receiver::GitLab => delivery.header("x-gitlab-event-uuid"),
            Receiver::Git => delivery.header("x-promenade-delivery"),
        };
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            if !self.first_delivery(receiver, id).await? {
                info!(delivery = id, "delivery already received");
                return Ok(WebhookAnswer::plain("duplicate", None));
            }
        }
        match event {
            Event::Ping => Ok(WebhookAnswer::plain("pong", None)),
            Event::Ignored(reason) => {
                info!(%reason, "delivery ignored");
                Ok(WebhookAnswer::plain("ignored", Some(reason)))
            }
            Event::Look(scope) => {
                let releases = self.trigger_round(&scope).await?;
                Ok(WebhookAnswer {
                    outcome: if releases.is_empty() {
                        "unchanged"
                    } else {
                        "started"
                    }
                    .into(),
                    reason: None,
                    releases: releases.into_iter().map(|r| r.id).collect(),
                })
            }
        }
    }

    /// Records a delivery id; false when it was seen before.
    async fn first_delivery(&self, receiver: Receiver, id: &str) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (receiver, delivery, received_at) VALUES ($1, $2, $3)
             ON CONFLICT (receiver, delivery) DO NOTHING",
        )
        .bind(receiver.as_str())
        .bind(id)
        .bind(now())
        .execute(&self.store().pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }
}

fn verify(receiver: Receiver, delivery: &Delivery<'_>, secret: &[u8]) -> Result<()> {
    let refused = |why: &str| Err(EngineError::Unauthorized(format!("webhook refused: {why}")));
    let signed = |header: &str| -> Option<bool> {
        let signature = delivery.header(header)?;
        let hex_digest = signature.strip_prefix("sha256=")?;
        let digest = hex::decode(hex_digest).ok()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
        mac.update(delivery.body);
        Some(mac.verify_slice(&digest).is_ok())
    };
    let equal = |given: &str| bool::from(given.as_bytes().ct_eq(secret));
    let verified = match receiver {
        Receiver::GitHub => signed("x-hub-signature-256"),
        Receiver::GitLab => delivery.header("x-gitlab-token").map(equal),
        Receiver::Git => delivery
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|token| equal(token.trim()))
            .or_else(|| signed("x-promenade-signature-256")),
    };
    match verified {
        Some(true) => Ok(()),
        Some(false) => refused("the signature or token does not match"),
        None => refused(match receiver {
            Receiver::GitHub => "no `X-Hub-Signature-256: sha256=…` header",
            Receiver::GitLab => "no `X-Gitlab-Token` header",
            Receiver::Git => "no `Authorization: Bearer` or `X-Promenade-Signature-256` header",
        }),
    }
}

/// Whether a delivery may change a pull request a step waits for: its state, reviews
/// or checks.
fn about_pull_requests(receiver: Receiver, delivery: &Delivery<'_>) -> bool {
    match receiver {
        Receiver::GitHub => matches!(
            delivery.header("x-github-event").unwrap_or_default(),
            "pull_request" | "pull_request_review" | "check_suite" | "check_run" | "status"
        ),
        Receiver::GitLab => matches!(
            delivery.header("x-gitlab-event").unwrap_or_default(),
            "Merge Request Hook" | "Pipeline Hook"
        ),
        Receiver::Git => false,
    }
}

fn parse(receiver: Receiver, delivery: &Delivery<'_>) -> Result<Event> {
    let json = || -> Result<Value> {
        serde_json::from_slice(delivery.body)
            .map_err(|e| EngineError::BadRequest(format!("the payload is not JSON: {e}")))
    };
    match receiver {
        Receiver::GitHub => match delivery.header("x-github-event").unwrap_or_default() {
            "ping" => Ok(Event::Ping),
            "push" => {
                let body = json()?;
                push_scope(
                    &body,
                    &["clone_url", "ssh_url", "git_url", "html_url", "url"],
                )
            }
            "pull_request" => {
                let body = json()?;
                let merged = body["action"] == "closed" && body["pull_request"]["merged"] == true;
                if !merged {
                    return Ok(Event::Ignored("a pull request that was not merged".into()));
                }
                let branch = body["pull_request"]["base"]["ref"]
                    .as_str()
                    .unwrap_or_default();
                merged_scope(
                    &body["pull_request"]["base"]["repo"],
                    &["clone_url", "ssh_url", "git_url", "html_url"],
                    branch,
                )
            }
            other => Ok(Event::Ignored(format!("the event {other:?} is not a push"))),
        },
        Receiver::GitLab => match delivery.header("x-gitlab-event").unwrap_or_default() {
            "Push Hook" => {
                let mut body = json()?;
                // GitLab names the repository under `project`.
                body["repository"] = body["project"].clone();
                push_scope(
                    &body,
                    &["git_http_url", "git_ssh_url", "web_url", "http_url", "url"],
                )
            }
            "Merge Request Hook" => {
                let body = json()?;
                let attributes = &body["object_attributes"];
                if attributes["state"] != "merged" {
                    return Ok(Event::Ignored("a merge request that was not merged".into()));
                }
                let branch = attributes["target_branch"].as_str().unwrap_or_default();
                merged_scope(
                    &body["project"],
                    &["git_http_url", "git_ssh_url", "web_url"],
                    branch,
                )
            }
            other => Ok(Event::Ignored(format!("the event {other:?} is not a push"))),
        },
        Receiver::Git => {
            if delivery.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Event::Look(Scope::default()));
            }
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Generic {
                repository: String,
                branch: String,
                #[serde(default)]
                paths: Option<Vec<String>>,
            }
            let generic: Generic = serde_json::from_slice(delivery.body).map_err(|e| {
                EngineError::BadRequest(format!(
                    "the payload must be {{\"repository\", \"branch\", \"paths\"?}}: {e}"
                ))
            })?;
            let identity = RemoteUrl::parse(&generic.repository)
                .map_err(EngineError::BadRequest)?
                .identity();
            Ok(Event::Look(Scope {
                pushed: Some(Pushed {
                    repositories: BTreeSet::from([identity]),
                    branch: generic.branch,
                    paths: generic.paths,
                }),
            }))
        }
    }
}

/// A push: `ref`, the repository's URLs, and the files every listed commit touched.
fn push_scope(body: &Value, url_fields: &[&str]) -> Result<Event> {
    let Some(branch) = body["ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("refs/heads/"))
    else {
        return Ok(Event::Ignored("the push is not to a branch".into()));
    };
    if body["deleted"] == true {
        return Ok(Event::Ignored("the push deleted the branch".into()));
    }
    let repositories = identities(&body["repository"], url_fields)?;
    // Hosts cap the commits they list; a push without a complete list (a new branch, a
    // force-push, a huge push) is looked at whole.
    let commits = body["commits"].as_array();
    let complete = commits.is_some_and(|c| {
        !c.is_empty()
            && body["total_commits_count"]
                .as_u64()
                .is_none_or(|n| n as usize == c.len())
    });
    let paths = complete.then(|| {
        commits
            .into_iter()
            .flatten()
            .flat_map(|commit| {
                ["added", "modified", "removed"]
                    .into_iter()
                    .flat_map(move |field| commit[field].as_array().into_iter().flatten())
            })
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect()
    });
    Ok(Event::Look(Scope {
        pushed: Some(Pushed {
            repositories,
            branch: branch.to_string(),
            paths,
        }),
    }))
}

/// A merged pull or merge request counts as the commit it produced on its base branch;
/// the files are not in the payload, so the whole trigger environment is looked at.
fn merged_scope(repository: &Value, url_fields: &[&str], branch: &str) -> Result<Event> {
    if branch.is_empty() {
        return Err(EngineError::BadRequest(
            "the payload names no base branch".into(),
        ));
    }
    Ok(Event::Look(Scope {
        pushed: Some(Pushed {
            repositories: identities(repository, url_fields)?,
            branch: branch.to_string(),
            paths: None,
        }),
    }))
}

fn identities(repository: &Value, url_fields: &[&str]) -> Result<BTreeSet<String>> {
    let found: BTreeSet<String> = url_fields
        .iter()
        .filter_map(|field| repository[*field].as_str())
        .filter_map(|url| RemoteUrl::parse(url).ok())
        .map(|url| url.identity())
        .collect();
    if found.is_empty() {
        return Err(EngineError::BadRequest(
            "the payload names no repository URL".into(),
        ));
    }
    Ok(found)
}
