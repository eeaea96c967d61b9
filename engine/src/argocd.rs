//! Argo CD's API (`/api/v1/applications`), called with an API token: what an
//! Application runs (sync status and revision, health, the last operation, resources
//! that are not healthy) and asking it to sync to a revision. Shapes from Argo CD's
//! published OpenAPI description (`v1alpha1Application`,
//! `applicationApplicationSyncRequest`); only the fields used are read.

use promenade_model::resources::ArgoCdInstance;
use serde::Deserialize;
use serde_json::json;
use tracing::instrument;

use crate::{EngineError, Result};

/// One Argo CD server.
pub(crate) struct ArgoCd {
    http: reqwest::Client,
    server: String,
    token: String,
}

/// An Application as Argo CD reports it now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AppState {
    /// `Synced`, `OutOfSync` or `Unknown`.
    pub sync: String,
    /// The revision it is synced to (a commit id).
    pub revision: String,
    /// `Healthy`, `Progressing`, `Degraded`…
    pub health: String,
    pub health_message: Option<String>,
    /// The last sync operation's phase (`Running`, `Succeeded`, `Failed`, `Error`) and
    /// message.
    pub operation: Option<(String, String)>,
    /// `Kind/name: health (message)` of every resource that is not healthy.
    pub unhealthy: Vec<String>,
}

#[derive(Deserialize)]
struct Application {
    #[serde(default)]
    status: Status,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Status {
    #[serde(default)]
    sync: Sync,
    #[serde(default)]
    health: Health,
    #[serde(default)]
    operation_state: Option<Operation>,
    #[serde(default)]
    resources: Vec<Resource>,
}

#[derive(Deserialize, Default)]
struct Sync {
    #[serde(default)]
    status: String,
    #[serde(default)]
    revision: String,
}

#[derive(Deserialize, Default)]
struct Health {
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Operation {
    #[serde(default)]
    phase: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    health: Option<Health>,
}

impl ArgoCd {
    pub(crate) fn new(instance: &ArgoCdInstance, token: String) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("promenade/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| failed("client setup", e.to_string()))?;
        Ok(Self {
            http,
            server: instance.server.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn url(&self, application: &str, tail: &str) -> String {
        format!("{}/api/v1/applications/{application}{tail}", self.server)
    }

    /// What `application` runs now.
    #[instrument(skip(self), fields(server = %self.server))]
    pub(crate) async fn application(&self, application: &str) -> Result<AppState> {
        let action = format!("reading Application {application}");
        let response = self
            .http
            .get(self.url(application, ""))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| failed(&action, e.without_url().to_string()))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| failed(&action, e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(failed(&action, refusal(status.as_u16(), &body)));
        }
        let app: Application = serde_json::from_str(&body)
            .map_err(|e| failed(&action, format!("the answer is not an Application: {e}")))?;
        let status = app.status;
        Ok(AppState {
            sync: status.sync.status,
            revision: status.sync.revision,
            health: status.health.status,
            health_message: status.health.message.filter(|m| !m.is_empty()),
            operation: status.operation_state.map(|o| (o.phase, o.message)),
            unhealthy: status
                .resources
                .into_iter()
                .filter_map(|r| {
                    let health = r.health?;
                    (health.status != "Healthy").then(|| {
                        let message = health
                            .message
                            .filter(|m| !m.is_empty())
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default();
                        format!("{}/{}: {}{message}", r.kind, r.name, health.status)
                    })
                })
                .collect(),
        })
    }

    /// Asks Argo CD to sync `application` to `revision`.
    #[instrument(skip(self), fields(server = %self.server))]
    pub(crate) async fn sync(&self, application: &str, revision: &str, prune: bool) -> Result<()> {
        let action = format!("syncing Application {application}");
        let response = self
            .http
            .post(self.url(application, "/sync"))
            .bearer_auth(&self.token)
            .json(&json!({ "name": application, "revision": revision, "prune": prune }))
            .send()
            .await
            .map_err(|e| failed(&action, e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(failed(&action, refusal(status.as_u16(), &body)))
    }
}

/// Argo CD's own words for a refusal (`{"error", "message", "code"}`), or the status.
fn refusal(status: u16, body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match json["message"].as_str().or_else(|| json["error"].as_str()) {
        Some(message) => format!("HTTP {status}: {message}"),
        None => format!("HTTP {status}"),
    }
}

fn failed(action: &str, message: String) -> EngineError {
    EngineError::Host {
        host: "Argo CD".into(),
        action: action.into(),
        message,
    }
}
