//! A loopback stand-in for the Argo Server (Argo Workflows):
//! `POST /api/v1/workflows/{ns}/submit`, `GET /api/v1/workflows/{ns}` (with
//! `listOptions.labelSelector`), `GET /api/v1/workflows/{ns}/{name}` and
//! `PUT /api/v1/workflows/{ns}/{name}/stop`, answering in the shapes of Argo Workflows'
//! OpenAPI description (`io.argoproj.workflow.v1alpha1.Workflow`, `…WorkflowList`).
//! The workflows of each template follow a script of phases, one per read (the last
//! one stays): Pending → Running → Succeeded, or Running → Failed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

/// One phase of a workflow and its message.
pub type Phase = (&'static str, &'static str);

/// A workflow the fake holds.
#[derive(Clone, Debug)]
pub struct Submitted {
    pub namespace: String,
    pub name: String,
    pub template: String,
    /// `name=value`, as submitted.
    pub parameters: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// The message it was stopped with, if someone stopped it.
    pub stopped: Option<String>,
    script: VecDeque<Phase>,
}

struct Shared {
    token: String,
    /// Submissions, counted where a test's fault hook can read it.
    submitted: Arc<AtomicUsize>,
    scripts: HashMap<String, Vec<Phase>>,
    workflows: Vec<Submitted>,
    /// Submissions whose answer is lost (a gateway timeout) after the workflow exists.
    lose_answers: usize,
    /// Templates nobody scripted exist and succeed after a few reads.
    follow: bool,
}

type Fake = Arc<Mutex<Shared>>;

/// A fake Argo Server on a loopback port; stops when dropped.
pub struct FakeArgoWorkflows {
    /// The URL `spec.argoWorkflows.server` names.
    pub url: String,
    shared: Fake,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeArgoWorkflows {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeArgoWorkflows {
    /// A fake that accepts `token`.
    pub async fn start(token: &str) -> FakeArgoWorkflows {
        Self::start_on("127.0.0.1:0", token, false).await
    }

    /// A fake on `address`; with `follow`, every template nobody scripted exists and its
    /// workflows go Pending → Running → Succeeded (`fake-argo`, for the Argo demo).
    pub async fn start_on(address: &str, token: &str, follow: bool) -> FakeArgoWorkflows {
        let shared: Fake = Arc::new(Mutex::new(Shared {
            follow,
            token: token.into(),
            submitted: Arc::default(),
            scripts: HashMap::new(),
            workflows: Vec::new(),
            lose_answers: 0,
        }));
        let (listener, url) = crate::listen(address).await;
        let router = Router::new()
            .route("/api/v1/workflows/{namespace}", get(list))
            .route("/api/v1/workflows/{namespace}/submit", post(submit))
            .route("/api/v1/workflows/{namespace}/{name}", get(read))
            .route("/api/v1/workflows/{namespace}/{name}/stop", put(stop))
            .with_state(shared.clone());
        let task = crate::serve_router(listener, router);
        FakeArgoWorkflows { url, shared, task }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    /// The phases every workflow of `template` goes through, one per read.
    pub fn script(&self, template: &str, phases: Vec<Phase>) {
        self.lock().scripts.insert(template.into(), phases);
    }

    /// The next `count` submissions create their workflow but answer 504, as a gateway
    /// that timed out would.
    pub fn lose_answers(&self, count: usize) {
        self.lock().lose_answers = count;
    }

    /// Workflow `name` is in `phase` from now on.
    pub fn finish(&self, name: &str, phase: &'static str) {
        if let Some(workflow) = self.lock().workflows.iter_mut().find(|w| w.name == name) {
            workflow.script = VecDeque::from([(phase, "")]);
        }
    }

    /// Every workflow submitted so far, oldest first.
    pub fn workflows(&self) -> Vec<Submitted> {
        self.lock().workflows.clone()
    }

    /// A counter of the submissions, shared with whoever holds it.
    pub fn submit_counter(&self) -> Arc<AtomicUsize> {
        self.lock().submitted.clone()
    }
}

fn lock(fake: &Fake) -> MutexGuard<'_, Shared> {
    fake.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The Argo Server's answer to a missing or wrong token, else `None`.
fn refuse(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    (given != Some(shared.token.as_str())).then(|| {
        error(
            StatusCode::UNAUTHORIZED,
            16,
            "token not valid. see https://argo-workflows.readthedocs.io/en/latest/faq/",
        )
    })
}

fn error(status: StatusCode, code: u16, message: &str) -> Response {
    (
        status,
        Json(json!({ "code": code, "message": message, "error": message })),
    )
        .into_response()
}

fn phase_of(workflow: &Submitted) -> Phase {
    workflow.script.front().copied().unwrap_or(("", ""))
}

fn to_json(workflow: &Submitted) -> Value {
    let (phase, message) = phase_of(workflow);
    json!({
        "metadata": {
            "name": workflow.name,
            "namespace": workflow.namespace,
            "generateName": format!("{}-", workflow.template),
            "labels": workflow.labels,
            "creationTimestamp": "2026-12-02T10:00:00Z",
        },
        "spec": {
            "workflowTemplateRef": { "name": workflow.template },
            "arguments": { "parameters": workflow.parameters.iter().map(|p| {
                let (name, value) = p.split_once('=').unwrap_or((p, ""));
                json!({ "name": name, "value": value })
            }).collect::<Vec<_>>() },
        },
        "status": if phase.is_empty() { json!({}) } else {
            json!({ "phase": phase, "message": message, "startedAt": "2026-12-02T10:00:01Z" })
        },
    })
}

fn find<'a>(shared: &'a mut Shared, namespace: &str, name: &str) -> Option<&'a mut Submitted> {
    shared
        .workflows
        .iter_mut()
        .find(|w| w.namespace == namespace && w.name == name)
}

fn not_found(name: &str) -> Response {
    let message = format!("workflows.argoproj.io \"{name}\" not found");
    error(StatusCode::NOT_FOUND, 5, &message)
}

/// `k=v,k=v` as a map.
fn labels(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn submit(
    State(fake): State<Fake>,
    UrlPath(namespace): UrlPath<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut shared = lock(&fake);
    if let Some(refused) = refuse(&shared, &headers) {
        return refused;
    }
    if body["resourceKind"] != "WorkflowTemplate" {
        return error(
            StatusCode::BAD_REQUEST,
            3,
            "resourceKind must be WorkflowTemplate",
        );
    }
    let template = body["resourceName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    const FOLLOWED: [Phase; 4] = [
        ("Pending", ""),
        ("Running", ""),
        ("Running", ""),
        ("Succeeded", ""),
    ];
    let scripted = shared.scripts.get(&template).cloned();
    let Some(script) = scripted.or_else(|| shared.follow.then(|| FOLLOWED.to_vec())) else {
        let message = format!("workflowtemplates.argoproj.io \"{template}\" not found");
        return error(StatusCode::NOT_FOUND, 5, &message);
    };
    let options = &body["submitOptions"];
    let count = shared.submitted.fetch_add(1, Ordering::SeqCst) + 1;
    let workflow = Submitted {
        namespace,
        name: format!("{template}-{count:05}"),
        template,
        parameters: options["parameters"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        labels: labels(options["labels"].as_str().unwrap_or_default()),
        stopped: None,
        script: script.into(),
    };
    let answer = to_json(&workflow);
    shared.workflows.push(workflow);
    if shared.lose_answers > 0 {
        shared.lose_answers -= 1;
        return error(StatusCode::GATEWAY_TIMEOUT, 4, "upstream request timeout");
    }
    Json(answer).into_response()
}

async fn list(
    State(fake): State<Fake>,
    UrlPath(namespace): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let shared = lock(&fake);
    if let Some(refused) = refuse(&shared, &headers) {
        return refused;
    }
    let wanted = labels(
        query
            .get("listOptions.labelSelector")
            .map_or("", String::as_str),
    );
    let items: Vec<Value> = shared
        .workflows
        .iter()
        .rev()
        .filter(|w| w.namespace == namespace)
        .filter(|w| wanted.iter().all(|(k, v)| w.labels.get(k) == Some(v)))
        .map(to_json)
        .collect();
    crate::kubernetes_list(items)
}

async fn read(
    State(fake): State<Fake>,
    UrlPath((namespace, name)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut shared = lock(&fake);
    if let Some(refused) = refuse(&shared, &headers) {
        return refused;
    }
    let Some(workflow) = find(&mut shared, &namespace, &name) else {
        return not_found(&name);
    };
    let answer = to_json(workflow);
    if workflow.script.len() > 1 {
        workflow.script.pop_front();
    }
    Json(answer).into_response()
}

async fn stop(
    State(fake): State<Fake>,
    UrlPath((namespace, name)): UrlPath<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut shared = lock(&fake);
    if let Some(refused) = refuse(&shared, &headers) {
        return refused;
    }
    let Some(workflow) = find(&mut shared, &namespace, &name) else {
        return not_found(&name);
    };
    workflow.stopped = Some(body["message"].as_str().unwrap_or_default().to_string());
    workflow.script = VecDeque::from([("Failed", "Stopped with strategy 'Stop'")]);
    Json(to_json(workflow)).into_response()
}
