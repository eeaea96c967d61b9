//! A loopback stand-in for Argo CD's API: `GET /api/v1/applications` (the Applications
//! [`FakeArgoCd::register`] lists, for discovery), `GET /api/v1/applications/{name}` and
//! `POST /api/v1/applications/{name}/sync`, answering in the shapes of Argo CD's
//! OpenAPI description (`v1alpha1Application`). Each Application follows a script of
//! states, one per read (the last one stays), so tests drive the sequences Argo CD goes
//! through: OutOfSync → Synced at an old revision → Synced at the promoted one,
//! Progressing → Healthy or Degraded. "The promoted revision" is read from the
//! repository on disk when the state is served.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Which commit an Application reports.
#[derive(Clone, Debug)]
pub enum Revision {
    /// A commit from before the promotion.
    Old,
    /// The tip of `main` in the repository when the state is read.
    Tip,
}

/// One state of an Application.
#[derive(Clone, Debug)]
pub struct AppState {
    /// `Synced`, `OutOfSync`.
    pub sync: &'static str,
    pub revision: Revision,
    /// `Healthy`, `Progressing`, `Degraded`…
    pub health: &'static str,
    pub health_message: Option<&'static str>,
    /// The last operation's phase and message.
    pub operation: Option<(&'static str, &'static str)>,
    /// `(kind, name, health, message)` of resources.
    pub resources: Vec<(&'static str, &'static str, &'static str, &'static str)>,
}

impl AppState {
    /// `sync` at `revision`, `health`.
    pub fn new(sync: &'static str, revision: Revision, health: &'static str) -> Self {
        Self {
            sync,
            revision,
            health,
            health_message: None,
            operation: None,
            resources: Vec::new(),
        }
    }
}

/// A sync the fake was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRequest {
    pub application: String,
    pub revision: String,
    pub prune: bool,
}

/// An Application as listed: what discovery reads.
#[derive(Clone, Debug)]
struct Listed {
    name: String,
    path: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

struct Shared {
    /// Applications `GET /api/v1/applications` lists.
    listed: Vec<Listed>,
    /// Syncs asked for, counted where a test's fault hook can read it.
    synced: Arc<AtomicUsize>,
    token: String,
    repository: PathBuf,
    scripts: HashMap<String, VecDeque<AppState>>,
    syncs: Vec<SyncRequest>,
    reads: usize,
    /// Applications nobody scripted act as Argo CD's auto-sync would: synced at the tip
    /// of `main`, progressing for a while after each commit.
    follow: bool,
}

type Fake = Arc<Mutex<Shared>>;

/// A fake Argo CD on a loopback port; stops when dropped.
pub struct FakeArgoCd {
    /// The server URL an Environment's `spec.argocd.server` names.
    pub url: String,
    shared: Fake,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeArgoCd {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const OLD_REVISION: &str = "0123456789abcdef0123456789abcdef01234567";

impl FakeArgoCd {
    /// A fake that accepts `token` and reads revisions from the bare `repository`.
    pub async fn start(token: &str, repository: impl Into<PathBuf>) -> FakeArgoCd {
        Self::start_on("127.0.0.1:0", token, repository, false).await
    }

    /// A fake on `address`; with `follow`, Applications nobody scripted act as
    /// auto-synced ones (`fake-argo`, for the browser tests and the Argo demo).
    pub async fn start_on(
        address: &str,
        token: &str,
        repository: impl Into<PathBuf>,
        follow: bool,
    ) -> FakeArgoCd {
        let shared: Fake = Arc::new(Mutex::new(Shared {
            follow,
            listed: Vec::new(),
            synced: Arc::default(),
            token: token.into(),
            repository: repository.into(),
            scripts: HashMap::new(),
            syncs: Vec::new(),
            reads: 0,
        }));
        let (listener, url) = crate::listen(address).await;
        let router = Router::new()
            .route("/_fake/applications/{name}", post(set_state))
            .route("/api/v1/applications", get(list))
            .route("/api/v1/applications/{name}", get(application))
            .route("/api/v1/applications/{name}/sync", post(sync))
            .with_state(shared.clone());
        let task = crate::serve_router(listener, router);
        FakeArgoCd { url, shared, task }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The states `application` goes through, one per read; the last one stays.
    pub fn script(&self, application: &str, states: Vec<AppState>) {
        self.lock()
            .scripts
            .insert(application.into(), states.into());
    }

    /// Lists Application `name`, deploying `path` of the repository, with `labels` and
    /// `annotations`.
    pub fn register(
        &self,
        name: &str,
        path: &str,
        labels: &[(&str, &str)],
        annotations: &[(&str, &str)],
    ) {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        self.lock().listed.push(Listed {
            name: name.into(),
            path: path.into(),
            labels: map(labels),
            annotations: map(annotations),
        });
    }

    /// The syncs asked for so far.
    pub fn syncs(&self) -> Vec<SyncRequest> {
        self.lock().syncs.clone()
    }

    /// A counter of the syncs asked for, shared with whoever holds it.
    pub fn sync_counter(&self) -> Arc<AtomicUsize> {
        self.lock().synced.clone()
    }

    /// How many times an Application was read.
    pub fn reads(&self) -> usize {
        self.lock().reads
    }
}

fn lock(fake: &Fake) -> MutexGuard<'_, Shared> {
    fake.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the request carries the token; [`unauthorized`] answers when it does not.
fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        == Some(shared.token.as_str())
}

/// Argo CD's answer to a missing or wrong token.
fn unauthorized() -> Response {
    let message = "invalid session: token is invalid";
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": message, "code": 16, "message": message })),
    )
        .into_response()
}

fn not_found(name: &str) -> Response {
    let message = format!("applications.argoproj.io \"{name}\" not found");
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": message, "code": 5, "message": message })),
    )
        .into_response()
}

async fn application(
    State(fake): State<Fake>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let mut shared = lock(&fake);
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    shared.reads += 1;
    let tip = tip(&shared.repository);
    let auto = shared.follow.then(|| followed(&shared.repository));
    let state = match shared.scripts.get_mut(&name) {
        Some(script) if script.len() > 1 => script.pop_front(),
        Some(script) => script.front().cloned(),
        None => auto,
    };
    let Some(state) = state else {
        return not_found(&name);
    };
    let revision = match state.revision {
        Revision::Old => OLD_REVISION.to_string(),
        Revision::Tip => tip,
    };
    Json(json!({
        "metadata": { "name": name, "namespace": "argocd" },
        "spec": {
            "project": "default",
            "source": { "repoURL": "https://git.example.com/acme/gitops.git", "path": format!("apps/{name}"), "targetRevision": "main" },
            "destination": { "server": "https://kubernetes.default.svc", "namespace": "shop" },
        },
        "status": {
            "sync": { "status": state.sync, "revision": revision, "comparedTo": { "source": { "targetRevision": "main" } } },
            "health": { "status": state.health, "message": state.health_message },
            "operationState": state.operation.map(|(phase, message)| json!({
                "phase": phase,
                "message": message,
                "syncResult": { "revision": revision },
                "startedAt": "2026-12-02T10:00:00Z",
            })),
            "resources": state.resources.iter().map(|(kind, name, health, message)| json!({
                "kind": kind, "name": name, "namespace": "shop", "status": state.sync,
                "health": { "status": health, "message": message },
            })).collect::<Vec<_>>(),
        },
    }))
    .into_response()
}

async fn list(
    State(fake): State<Fake>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let shared = lock(&fake);
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    // Argo CD filters by labels only (`selector`); annotations are the caller's job.
    let wanted: Vec<(&str, &str)> = query
        .get("selector")
        .map(|s| s.split(',').filter_map(|t| t.split_once('=')).collect())
        .unwrap_or_default();
    let items: Vec<Value> = shared
        .listed
        .iter()
        .filter(|a| wanted.iter().all(|(k, v)| a.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|a| {
            json!({
                "metadata": {
                    "name": a.name,
                    "namespace": "argocd",
                    "labels": if a.labels.is_empty() { Value::Null } else { json!(a.labels) },
                    "annotations": if a.annotations.is_empty() { Value::Null } else { json!(a.annotations) },
                },
                "spec": {
                    "project": "default",
                    "source": { "repoURL": "https://git.example.com/acme/gitops.git", "path": a.path, "targetRevision": "main" },
                    "destination": { "server": "https://kubernetes.default.svc", "namespace": "shop" },
                },
                "status": { "sync": { "status": "Synced" }, "health": { "status": "Healthy" } },
            })
        })
        .collect();
    crate::kubernetes_list(items)
}

/// The tip of `main` in the bare repository (empty when unreadable).
fn tip(repository: &std::path::Path) -> String {
    git2::Repository::open_bare(repository)
        .and_then(|repo| repo.refname_to_id("refs/heads/main"))
        .map(|id| id.to_string())
        .unwrap_or_default()
}

/// How long an auto-synced Application progresses after a commit lands on `main`.
const ROLLOUT: i64 = 10;

/// An auto-synced Application: synced at the tip of `main`, progressing for
/// [`ROLLOUT`] seconds after that commit was made, healthy afterwards.
fn followed(repository: &std::path::Path) -> AppState {
    let age = git2::Repository::open_bare(repository)
        .and_then(|repo| {
            let tip = repo.refname_to_id("refs/heads/main")?;
            Ok(repo.find_commit(tip)?.time().seconds())
        })
        .map(|made| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            now - made
        })
        .unwrap_or(i64::MAX);
    let health = if age < ROLLOUT {
        "Progressing"
    } else {
        "Healthy"
    };
    AppState::new("Synced", Revision::Tip, health)
}

/// `POST /_fake/applications/{name}` with `{"sync", "health", "revision": "tip"|"old"}`:
/// the Application reports that from now on.
async fn set_state(
    State(fake): State<Fake>,
    UrlPath(name): UrlPath<String>,
    Json(body): Json<Value>,
) -> Response {
    const SYNC: [&str; 3] = ["Synced", "OutOfSync", "Unknown"];
    const HEALTH: [&str; 6] = [
        "Healthy",
        "Progressing",
        "Degraded",
        "Suspended",
        "Missing",
        "Unknown",
    ];
    let pick = |known: &[&'static str], field: &str| {
        known
            .iter()
            .copied()
            .find(|k| body[field].as_str() == Some(*k))
    };
    let (Some(sync), Some(health)) = (pick(&SYNC, "sync"), pick(&HEALTH, "health")) else {
        return (StatusCode::BAD_REQUEST, "sync or health unknown").into_response();
    };
    let revision = match body["revision"].as_str() {
        Some("old") => Revision::Old,
        _ => Revision::Tip,
    };
    lock(&fake).scripts.insert(
        name,
        VecDeque::from([AppState::new(sync, revision, health)]),
    );
    StatusCode::NO_CONTENT.into_response()
}

async fn sync(
    State(fake): State<Fake>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut shared = lock(&fake);
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    if !shared.scripts.contains_key(&name) {
        return not_found(&name);
    }
    shared.synced.fetch_add(1, Ordering::SeqCst);
    shared.syncs.push(SyncRequest {
        application: name.clone(),
        revision: body["revision"].as_str().unwrap_or_default().to_string(),
        prune: body["prune"] == true,
    });
    Json(json!({ "metadata": { "name": name }, "operation": { "sync": { "revision": body["revision"], "prune": body["prune"] } } }))
        .into_response()
}
