//! Argo CD's API (`/api/v1/applications`), called with an API token: what an
//! Application runs (sync status and revision, health, the last operation, resources
//! that are not healthy) and asking it to sync to a revision. Shapes from Argo CD's
//! published OpenAPI description (`v1alpha1Application`,
//! `applicationApplicationSyncRequest`); only the fields used are read.

use promenade_model::discovery::DiscoveredApp;
use promenade_model::resources::ArgoCdInstance;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use tracing::instrument;

use crate::argo::ArgoApi;
use crate::outbound::Outbound;
use crate::Result;

/// One Argo CD server.
pub(crate) struct ArgoCd {
    api: ArgoApi,
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

/// An Application as discovery reads it: `v1alpha1Application`'s metadata and source.
#[derive(Deserialize)]
struct Listed {
    metadata: ListedMetadata,
    #[serde(default)]
    spec: ListedSpec,
}

#[derive(Deserialize)]
struct ListedMetadata {
    name: String,
    #[serde(default)]
    labels: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
struct ListedSpec {
    #[serde(default)]
    source: Option<Source>,
    /// Multi-source Applications: the first source is the one read.
    #[serde(default)]
    sources: Option<Vec<Source>>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct Source {
    #[serde(default, rename = "repoURL")]
    repo_url: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    target_revision: String,
}

#[derive(Deserialize)]
struct ApplicationList {
    /// `null` when there is none.
    #[serde(default)]
    items: Option<Vec<Listed>>,
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
    pub(crate) fn new(
        outbound: &Outbound,
        instance: &ArgoCdInstance,
        token: String,
    ) -> Result<Self> {
        Ok(Self {
            api: ArgoApi::new(outbound, "Argo CD", &instance.server, token)?,
        })
    }

    /// What `application` runs now.
    #[instrument(skip(self), fields(server = %promenade_model::redact::url(&self.api.server)))]
    pub(crate) async fn application(&self, application: &str) -> Result<AppState> {
        let app: Application = self
            .api
            .call(
                self.api
                    .request(Method::GET, &format!("applications/{application}")),
                &format!("reading Application {application}"),
            )
            .await?;
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

    /// Every Application this token may read, for discovery.
    #[instrument(skip(self), fields(server = %promenade_model::redact::url(&self.api.server)))]
    pub(crate) async fn applications(&self) -> Result<Vec<DiscoveredApp>> {
        let list: ApplicationList = self
            .api
            .call(
                self.api.request(Method::GET, "applications"),
                "listing Applications",
            )
            .await?;
        Ok(list
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|app| {
                let source = app
                    .spec
                    .source
                    .or_else(|| app.spec.sources.and_then(|s| s.into_iter().next()))
                    .unwrap_or_default();
                DiscoveredApp {
                    name: app.metadata.name,
                    labels: app.metadata.labels.unwrap_or_default(),
                    annotations: app.metadata.annotations.unwrap_or_default(),
                    repo_url: source.repo_url,
                    path: source.path,
                    target_revision: source.target_revision,
                }
            })
            .collect())
    }

    /// Asks Argo CD to sync `application` to `revision`.
    #[instrument(skip(self), fields(server = %promenade_model::redact::url(&self.api.server)))]
    pub(crate) async fn sync(&self, application: &str, revision: &str, prune: bool) -> Result<()> {
        let request = self
            .api
            .request(Method::POST, &format!("applications/{application}/sync"))
            .json(&json!({ "name": application, "revision": revision, "prune": prune }));
        let _: serde_json::Value = self
            .api
            .call(request, &format!("syncing Application {application}"))
            .await?;
        Ok(())
    }
}

impl crate::Engine {
    /// A client of `instance`, with the token from its credentials.
    pub(crate) async fn argocd_client(&self, instance: &ArgoCdInstance) -> Result<ArgoCd> {
        let token = self.api_token(&instance.credentials, "Argo CD").await?;
        ArgoCd::new(self.outbound(), instance, token)
    }
}
