//! The Argo Server's API (Argo Workflows), called with a bearer token: submit a
//! WorkflowTemplate with parameters and labels, read a workflow's phase, find workflows
//! by their labels, stop one. Shapes from Argo Workflows' published OpenAPI description
//! (`io.argoproj.workflow.v1alpha1.WorkflowSubmitRequest`, `…Workflow`,
//! `…WorkflowList`, `…WorkflowStopRequest`); only the fields used are read.

use promenade_model::resources::ArgoWorkflowsInstance;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use tracing::instrument;

use crate::argo::ArgoApi;
use crate::outbound::Outbound;
use crate::Result;

/// One Argo Server.
pub(crate) struct ArgoWorkflows {
    api: ArgoApi,
}

/// A workflow as the Argo Server reports it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WorkflowState {
    pub name: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Error`; empty before the
    /// controller has seen it.
    pub phase: String,
    pub message: Option<String>,
}

impl WorkflowState {
    /// Whether the workflow has ended, one way or the other.
    pub fn ended(&self) -> bool {
        matches!(self.phase.as_str(), "Succeeded" | "Failed" | "Error")
    }
}

#[derive(Deserialize)]
struct Workflow {
    metadata: Metadata,
    #[serde(default)]
    status: Status,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
}

#[derive(Deserialize, Default)]
struct Status {
    #[serde(default)]
    phase: String,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct WorkflowList {
    /// `null` when there is none.
    #[serde(default)]
    items: Option<Vec<Workflow>>,
}

impl From<Workflow> for WorkflowState {
    fn from(workflow: Workflow) -> Self {
        Self {
            name: workflow.metadata.name,
            phase: workflow.status.phase,
            message: workflow.status.message.filter(|m| !m.is_empty()),
        }
    }
}

impl ArgoWorkflows {
    pub(crate) fn new(
        outbound: &Outbound,
        instance: &ArgoWorkflowsInstance,
        token: String,
    ) -> Result<Self> {
        Ok(Self {
            api: ArgoApi::new(outbound, "Argo Workflows", &instance.server, token)?,
        })
    }

    /// The workflow's page in the Argo UI.
    pub(crate) fn link(&self, namespace: &str, name: &str) -> String {
        format!("{}/workflows/{namespace}/{name}", self.api.server)
    }

    /// Submits `template` with `parameters` and `labels`; the workflow's generated name.
    #[instrument(skip(self, parameters, labels), fields(server = %promenade_model::redact::url(&self.api.server)))]
    pub(crate) async fn submit(
        &self,
        namespace: &str,
        template: &str,
        parameters: &[(String, String)],
        labels: &[(String, String)],
    ) -> Result<String> {
        let request = self
            .api
            .request(Method::POST, &format!("workflows/{namespace}/submit"))
            .json(&json!({
                "namespace": namespace,
                "resourceKind": "WorkflowTemplate",
                "resourceName": template,
                "submitOptions": {
                    "generateName": format!("{template}-"),
                    "labels": selector(labels),
                    "parameters": parameters.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
                },
            }));
        let workflow: Workflow = self
            .api
            .call(request, &format!("submitting WorkflowTemplate {template}"))
            .await?;
        Ok(workflow.metadata.name)
    }

    /// The newest workflow in `namespace` carrying every one of `labels`, if any.
    #[instrument(skip(self, labels), fields(server = %promenade_model::redact::url(&self.api.server)))]
    pub(crate) async fn find(
        &self,
        namespace: &str,
        labels: &[(String, String)],
    ) -> Result<Option<WorkflowState>> {
        let request = self
            .api
            .request(Method::GET, &format!("workflows/{namespace}"))
            .query(&[("listOptions.labelSelector", selector(labels))]);
        let list: WorkflowList = self.api.call(request, "listing workflows").await?;
        Ok(list
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(WorkflowState::from))
    }

    /// Where workflow `name` stands.
    #[instrument(skip(self), fields(server = %promenade_model::redact::url(&self.api.server)))]
    pub(crate) async fn workflow(&self, namespace: &str, name: &str) -> Result<WorkflowState> {
        let request = self
            .api
            .request(Method::GET, &format!("workflows/{namespace}/{name}"));
        let workflow: Workflow = self
            .api
            .call(request, &format!("reading workflow {name}"))
            .await?;
        Ok(workflow.into())
    }

    /// Stops workflow `name`, saying why.
    #[instrument(skip(self), fields(server = %promenade_model::redact::url(&self.api.server)))]
    pub(crate) async fn stop(&self, namespace: &str, name: &str, message: &str) -> Result<()> {
        let request = self
            .api
            .request(Method::PUT, &format!("workflows/{namespace}/{name}/stop"))
            .json(&json!({ "namespace": namespace, "name": name, "message": message }));
        let _: serde_json::Value = self
            .api
            .call(request, &format!("stopping workflow {name}"))
            .await?;
        Ok(())
    }
}

/// `key=value,key=value`: labels as submit options and as a selector.
fn selector(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
