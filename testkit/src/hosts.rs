//! Loopback stand-ins for GitHub's and GitLab's APIs: the endpoints Promenade calls,
//! answering in the shapes their published API descriptions give (GitHub's REST
//! description and GraphQL schema, GitLab's REST reference), over real repositories on
//! disk — merging a request merges its branch for real. Every request is recorded with
//! its body, so tests check what the hosts were asked. Like the hosts, they answer
//! conditional `GET`s with `304 Not Modified` and can be told to rate-limit.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{to_bytes, Body};
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Which API a fake speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    GitHub,
    GitLab,
}

/// A pull (merge) request as the fake keeps it.
#[derive(Clone, Debug)]
pub struct Pull {
    pub number: u64,
    pub project: String,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub draft: bool,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    pub assignees: Vec<String>,
    /// `open`, `closed` or `merged`.
    pub state: String,
    pub merge_commit: Option<String>,
    pub closed_by: Option<String>,
    /// The merge method auto-merge was enabled with.
    pub auto_merge: Option<String>,
    pub squash: bool,
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub body: Value,
    pub if_none_match: Option<String>,
    pub authorization: Option<String>,
    /// What the fake answered.
    pub status: u16,
}

/// A commit status the fake was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitStatus {
    pub project: String,
    pub sha: String,
    pub context: String,
    pub state: String,
    pub target_url: Option<String>,
    pub description: String,
}

/// A comment (GitLab: note) on a request.
#[derive(Clone, Debug)]
pub struct Comment {
    pub id: u64,
    pub number: u64,
    pub body: String,
}

#[derive(Default)]
struct Shared {
    repos: HashMap<String, PathBuf>,
    pulls: Vec<Pull>,
    statuses: Vec<CommitStatus>,
    comments: Vec<Comment>,
    requests: Vec<Recorded>,
    /// How many coming requests are refused as rate-limited.
    throttle: u32,
    /// Whether open requests may be merged now (approved, checks passed).
    mergeable: bool,
    /// What the head commits' checks say, when there are any.
    checks: Option<&'static str>,
    /// Why a merge through the API is refused, when it is.
    refuse_merge: Option<String>,
    /// Why enabling auto-merge is refused, when it is.
    refuse_auto_merge: Option<String>,
    next_comment: u64,
    /// GitLab users looked up so far; a user's id is 100 + its place here.
    users: Vec<String>,
}

type Fake = Arc<Mutex<Shared>>;

/// A fake host on a loopback port; stops when dropped.
pub struct FakeHost {
    /// The API root a repository's `apiUrl` names.
    pub api_url: String,
    flavour: Flavour,
    shared: Fake,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeHost {
    /// A fake GitHub (REST at the root, GraphQL at `/graphql`).
    pub async fn github() -> FakeHost {
        Self::start(Flavour::GitHub).await
    }

    /// A fake GitLab (REST under `/api/v4`).
    pub async fn gitlab() -> FakeHost {
        Self::start(Flavour::GitLab).await
    }

    async fn start(flavour: Flavour) -> FakeHost {
        Self::start_on(flavour, "127.0.0.1:0").await
    }

    /// A fake on `address`, for the browser tests' server (`fake-git-host`).
    pub async fn start_on(flavour: Flavour, address: &str) -> FakeHost {
        let shared: Fake = Arc::default();
        let (listener, root) = crate::listen(address).await;
        let router = match flavour {
            Flavour::GitHub => github_routes(),
            Flavour::GitLab => Router::new().nest("/api/v4", gitlab_routes()),
        }
        .merge(control_routes())
        .layer(middleware::from_fn_with_state(
            (shared.clone(), flavour),
            record,
        ))
        .with_state((shared.clone(), root.clone()));
        let task = crate::serve_router(listener, router);
        FakeHost {
            api_url: match flavour {
                Flavour::GitHub => root,
                Flavour::GitLab => format!("{root}/api/v4"),
            },
            flavour,
            shared,
            task,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Serves the bare repository at `path` as `project` (`owner/repo`, or GitLab's
    /// full path).
    pub fn serve(&self, project: &str, path: &Path) {
        self.lock().repos.insert(project.into(), path.into());
    }

    pub fn pulls(&self) -> Vec<Pull> {
        self.lock().pulls.clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn statuses(&self) -> Vec<CommitStatus> {
        self.lock().statuses.clone()
    }

    pub fn comments(&self) -> Vec<Comment> {
        self.lock().comments.clone()
    }

    /// Refuses the next `count` requests as rate-limited (GitHub: 403, a secondary
    /// limit; GitLab: 429), asking to retry after a second.
    pub fn throttle(&self, count: u32) {
        self.lock().throttle = count;
    }

    /// Whether open requests may be merged now. Like the hosts, requests with
    /// auto-merge enabled are then merged by the host itself.
    pub fn set_mergeable(&self, mergeable: bool) {
        let mut shared = self.lock();
        shared.mergeable = mergeable;
        let waiting: Vec<(u64, String)> = shared
            .pulls
            .iter()
            .filter(|p| p.state == "open")
            .filter_map(|p| Some((p.number, p.auto_merge.clone()?)))
            .collect();
        for (number, method) in waiting.into_iter().filter(|_| mergeable) {
            merge_pull(&mut shared, number, Some(&method)).expect("the host merges on its own");
        }
    }

    /// What the checks of every head commit say: `pending`, `success`, `failure`.
    pub fn set_checks(&self, checks: Option<&'static str>) {
        self.lock().checks = checks;
    }

    /// Refuses merges through the API with `message` (branch protection).
    pub fn refuse_merges(&self, message: Option<&str>) {
        self.lock().refuse_merge = message.map(str::to_string);
    }

    /// Refuses to enable auto-merge with `message`.
    pub fn refuse_auto_merge(&self, message: Option<&str>) {
        self.lock().refuse_auto_merge = message.map(str::to_string);
    }

    /// Merges request `number` as a person would on the host's page; the merge commit.
    pub fn merge(&self, number: u64) -> String {
        merge_pull(&mut self.lock(), number, None).expect("the fake merges the request")
    }

    /// Closes request `number` without merging, as `by`.
    pub fn close(&self, number: u64, by: &str) {
        let mut shared = self.lock();
        let pull = shared
            .pulls
            .iter_mut()
            .find(|p| p.number == number)
            .expect("the request exists");
        pull.state = "closed".into();
        pull.closed_by = Some(by.into());
    }

    /// Whether the fake speaks GitHub or GitLab.
    pub fn flavour(&self) -> Flavour {
        self.flavour
    }
}

/// Records every request, answers rate-limited ones, and turns a `GET` whose `ETag`
/// the client already has into `304 Not Modified`.
async fn record(
    State((shared, flavour)): State<(Fake, Flavour)>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 16 << 20).await.unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut recorded = Recorded {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(String::new, |p| p.to_string()),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        if_none_match: header("if-none-match"),
        authorization: header("authorization"),
        status: 0,
    };
    let throttled = {
        let mut shared = shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let throttled = shared.throttle > 0;
        shared.throttle = shared.throttle.saturating_sub(1);
        throttled
    };
    let response = if throttled {
        let status = match flavour {
            Flavour::GitHub => StatusCode::FORBIDDEN,
            Flavour::GitLab => StatusCode::TOO_MANY_REQUESTS,
        };
        let mut response = (
            status,
            Json(json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
            })),
        )
            .into_response();
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        response
    } else {
        let is_get = parts.method == Method::GET;
        let if_none_match = recorded.if_none_match.clone();
        let response = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        if is_get && response.status() == StatusCode::OK {
            let (mut parts, body) = response.into_parts();
            let bytes = to_bytes(body, 16 << 20).await.unwrap_or_default();
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut hasher);
            let etag = format!("\"{:x}\"", hasher.finish());
            let value = HeaderValue::from_str(&etag).expect("an ETag is a header value");
            parts.headers.insert("etag", value);
            if if_none_match.as_deref() == Some(etag.as_str()) {
                parts.status = StatusCode::NOT_MODIFIED;
                Response::from_parts(parts, Body::empty())
            } else {
                Response::from_parts(parts, Body::from(bytes))
            }
        } else {
            response
        }
    };
    recorded.status = response.status().as_u16();
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .requests
        .push(recorded);
    response
}

type Ctx = State<(Fake, String)>;

fn lock(fake: &Fake) -> MutexGuard<'_, Shared> {
    fake.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

fn branch_tip(shared: &Shared, project: &str, branch: &str) -> Option<String> {
    let path = shared.repos.get(project)?;
    let repo = git2::Repository::open_bare(path).ok()?;
    repo.refname_to_id(&format!("refs/heads/{branch}"))
        .ok()
        .map(|id| id.to_string())
}

/// Merges a request's branch into its base in the repository on disk: a merge commit,
/// or (squash, rebase) one commit on the base's tip that keeps the head's message.
fn merge_pull(shared: &mut Shared, number: u64, method: Option<&str>) -> Result<String, String> {
    let index = shared
        .pulls
        .iter()
        .position(|p| p.number == number)
        .ok_or("no such request")?;
    let pull = shared.pulls[index].clone();
    if pull.state != "open" {
        return Err(format!("the request is {}", pull.state));
    }
    let path = shared
        .repos
        .get(&pull.project)
        .ok_or("no such repository")?;
    let repo = git2::Repository::open_bare(path).map_err(|e| e.to_string())?;
    let base_ref = format!("refs/heads/{}", pull.base);
    let tip = |name: &str| -> Result<git2::Commit<'_>, String> {
        let id = repo.refname_to_id(name).map_err(|e| e.to_string())?;
        repo.find_commit(id).map_err(|e| e.to_string())
    };
    let base = tip(&base_ref)?;
    let head = tip(&format!("refs/heads/{}", pull.head))?;
    let mut merged = repo
        .merge_commits(&base, &head, None)
        .map_err(|e| e.to_string())?;
    if merged.has_conflicts() {
        return Err("the branches conflict".into());
    }
    let tree = repo
        .find_tree(merged.write_tree_to(&repo).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let who =
        git2::Signature::now("Reviewer", "reviewer@example.com").map_err(|e| e.to_string())?;
    let method = method.unwrap_or(if pull.squash { "squash" } else { "merge" });
    let id = if method == "merge" {
        let message = format!(
            "Merge pull request #{number} from {}\n\n{}",
            pull.head, pull.title
        );
        repo.commit(
            Some(&base_ref),
            &who,
            &who,
            &message,
            &tree,
            &[&base, &head],
        )
    } else {
        let message = format!(
            "{} (#{number})\n\n{}",
            pull.title,
            head.message().unwrap_or_default()
        );
        repo.commit(Some(&base_ref), &who, &who, &message, &tree, &[&base])
    }
    .map_err(|e| e.to_string())?;
    let pull = &mut shared.pulls[index];
    pull.state = "merged".into();
    pull.merge_commit = Some(id.to_string());
    Ok(id.to_string())
}

fn users(list: &[String]) -> Value {
    json!(list
        .iter()
        .map(|l| json!({ "login": l, "username": l }))
        .collect::<Vec<_>>())
}

// What a test outside this process (the browser tests) does to the fake: what people
// do on the host's pages, and reading what the host was sent.

fn control_routes() -> Router<(Fake, String)> {
    Router::new()
        .route("/_fake/pulls", get(control_pulls))
        .route("/_fake/pulls/{number}/merge", post(control_merge))
        .route("/_fake/statuses", get(control_statuses))
}

async fn control_pulls(State((fake, _)): Ctx) -> Response {
    let pulls: Vec<Value> = lock(&fake)
        .pulls
        .iter()
        .map(|p| {
            json!({
                "number": p.number, "project": p.project, "head": p.head, "base": p.base,
                "title": p.title, "state": p.state, "mergeCommit": p.merge_commit,
            })
        })
        .collect();
    Json(pulls).into_response()
}

async fn control_merge(State((fake, _)): Ctx, UrlPath(number): UrlPath<u64>) -> Response {
    match merge_pull(&mut lock(&fake), number, None) {
        Ok(sha) => Json(json!({ "sha": sha })).into_response(),
        Err(why) => error(StatusCode::CONFLICT, &why),
    }
}

async fn control_statuses(State((fake, _)): Ctx) -> Response {
    let statuses: Vec<Value> = lock(&fake)
        .statuses
        .iter()
        .map(|s| {
            json!({
                "project": s.project, "sha": s.sha, "context": s.context, "state": s.state,
                "targetUrl": s.target_url, "description": s.description,
            })
        })
        .collect();
    Json(statuses).into_response()
}

// GitHub: https://docs.github.com/rest/pulls, /rest/issues, /rest/commits/statuses.

fn github_routes() -> Router<(Fake, String)> {
    Router::new()
        .route("/repos/{owner}/{repo}/pulls", get(gh_list).post(gh_create))
        .route(
            "/repos/{owner}/{repo}/pulls/{number}",
            get(gh_get).patch(gh_update),
        )
        .route("/repos/{owner}/{repo}/pulls/{number}/merge", put(gh_merge))
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
            post(
                |State((fake, _)): Ctx, UrlPath(at): PullPath, Json(body): Json<Value>| {
                    add_people(fake, at, body, "reviewers")
                },
            ),
        )
        .route("/repos/{owner}/{repo}/issues/{number}", get(gh_issue))
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            post(
                |State((fake, _)): Ctx, UrlPath(at): PullPath, Json(body): Json<Value>| {
                    add_people(fake, at, body, "labels")
                },
            ),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/assignees",
            post(
                |State((fake, _)): Ctx, UrlPath(at): PullPath, Json(body): Json<Value>| {
                    add_people(fake, at, body, "assignees")
                },
            ),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(list_comments).post(add_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            patch(edit_comment),
        )
        .route("/repos/{owner}/{repo}/statuses/{sha}", post(gh_status))
        .route(
            "/repos/{owner}/{repo}/commits/{sha}/status",
            get(gh_combined),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{sha}/check-runs",
            get(gh_check_runs),
        )
        .route("/graphql", post(gh_graphql))
}

fn gh_pull(shared: &Shared, root: &str, pull: &Pull) -> Value {
    let (owner, _) = pull.project.split_once('/').unwrap_or_default();
    let merged = pull.state == "merged";
    json!({
        "url": format!("{root}/repos/{}/pulls/{}", pull.project, pull.number),
        "id": 1_000_000 + pull.number,
        "node_id": format!("PR_kwDOfake{}", pull.number),
        "html_url": format!("{root}/{}/pull/{}", pull.project, pull.number),
        "number": pull.number,
        "state": if pull.state == "open" { "open" } else { "closed" },
        "locked": false,
        "title": pull.title,
        "body": pull.body,
        "draft": pull.draft,
        "user": { "login": "promenade-bot" },
        "labels": pull.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
        "requested_reviewers": users(&pull.reviewers),
        "assignees": users(&pull.assignees),
        "head": {
            "label": format!("{owner}:{}", pull.head),
            "ref": pull.head,
            "sha": branch_tip(shared, &pull.project, &pull.head).unwrap_or_default(),
        },
        "base": {
            "label": format!("{owner}:{}", pull.base),
            "ref": pull.base,
            "sha": branch_tip(shared, &pull.project, &pull.base).unwrap_or_default(),
        },
        "merged": merged,
        "merged_at": merged.then_some("2026-12-02T10:00:00Z"),
        "merge_commit_sha": pull.merge_commit,
        "merged_by": merged.then(|| json!({ "login": "reviewer" })),
        "mergeable": shared.mergeable,
        "mergeable_state": if shared.mergeable { "clean" } else { "blocked" },
        "auto_merge": pull.auto_merge.as_ref().map(|m| json!({
            "enabled_by": { "login": "promenade-bot" },
            "merge_method": m,
        })),
    })
}

fn project(owner: &str, repo: &str) -> String {
    format!("{owner}/{repo}")
}

async fn gh_list(
    State((fake, root)): Ctx,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let shared = lock(&fake);
    let project = project(&owner, &repo);
    let head = query
        .get("head")
        .map(|h| h.split_once(':').map_or(h.as_str(), |(_, b)| b));
    let state = query.get("state").map_or("open", String::as_str);
    let found: Vec<Value> = shared
        .pulls
        .iter()
        .filter(|p| p.project == project)
        .filter(|p| head.is_none_or(|h| p.head == h))
        .filter(|p| query.get("base").is_none_or(|b| &p.base == b))
        .filter(|p| state == "all" || (state == "open") == (p.state == "open"))
        .map(|p| gh_pull(&shared, &root, p))
        .collect();
    Json(found).into_response()
}

async fn gh_create(
    State((fake, root)): Ctx,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let mut shared = lock(&fake);
    let project = project(&owner, &repo);
    let text = |field: &str| body[field].as_str().unwrap_or_default().to_string();
    let (head, base) = (text("head"), text("base"));
    if branch_tip(&shared, &project, &head).is_none()
        || branch_tip(&shared, &project, &base).is_none()
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed: head or base does not exist",
        );
    }
    if shared
        .pulls
        .iter()
        .any(|p| p.project == project && p.head == head && p.state == "open")
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("A pull request already exists for {owner}:{head}."),
        );
    }
    let pull = Pull {
        number: shared.pulls.len() as u64 + 1,
        project,
        head,
        base,
        title: text("title"),
        body: text("body"),
        draft: body["draft"] == true,
        labels: Vec::new(),
        reviewers: Vec::new(),
        assignees: Vec::new(),
        state: "open".into(),
        merge_commit: None,
        closed_by: None,
        auto_merge: None,
        squash: false,
    };
    let answer = gh_pull(&shared, &root, &pull);
    shared.pulls.push(pull);
    (StatusCode::CREATED, Json(answer)).into_response()
}

fn find_pull<'a>(shared: &'a mut Shared, project: &str, number: u64) -> Option<&'a mut Pull> {
    shared
        .pulls
        .iter_mut()
        .find(|p| p.project == project && p.number == number)
}

async fn gh_get(
    State((fake, root)): Ctx,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
) -> Response {
    answer_pull(
        &fake,
        &root,
        &project(&owner, &repo),
        number,
        false,
        gh_pull,
    )
}

async fn gh_update(
    State((fake, root)): Ctx,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let close = body["state"] == "closed";
    answer_pull(
        &fake,
        &root,
        &project(&owner, &repo),
        number,
        close,
        gh_pull,
    )
}

/// Request `number` as `render` shows it, closed first (by Promenade) when `close`.
fn answer_pull(
    fake: &Fake,
    root: &str,
    project: &str,
    number: u64,
    close: bool,
    render: fn(&Shared, &str, &Pull) -> Value,
) -> Response {
    let mut shared = lock(fake);
    let Some(pull) = find_pull(&mut shared, project, number) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    if close && pull.state == "open" {
        pull.state = "closed".into();
        pull.closed_by = Some("promenade-bot".into());
    }
    let pull = pull.clone();
    Json(render(&shared, root, &pull)).into_response()
}

async fn gh_merge(
    State((fake, _)): Ctx,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut shared = lock(&fake);
    if find_pull(&mut shared, &project(&owner, &repo), number).is_none() {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    if let Some(refusal) = shared.refuse_merge.clone() {
        return error(StatusCode::METHOD_NOT_ALLOWED, &refusal);
    }
    if !shared.mergeable {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
        );
    }
    let method = body["merge_method"].as_str().unwrap_or("merge").to_string();
    match merge_pull(&mut shared, number, Some(&method)) {
        Ok(sha) => Json(
            json!({ "sha": sha, "merged": true, "message": "Pull Request successfully merged" }),
        )
        .into_response(),
        Err(why) => error(StatusCode::METHOD_NOT_ALLOWED, &why),
    }
}

/// `POST …/requested_reviewers`, `…/labels`, `…/assignees`: adds the body's `field`
/// list to the request's.
async fn add_people(
    fake: Fake,
    (owner, repo, number): (String, String, u64),
    body: Value,
    field: &str,
) -> Response {
    let mut shared = lock(&fake);
    let Some(pull) = find_pull(&mut shared, &project(&owner, &repo), number) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let list = match field {
        "reviewers" => &mut pull.reviewers,
        "labels" => &mut pull.labels,
        _ => &mut pull.assignees,
    };
    list.extend(
        body[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string)),
    );
    (StatusCode::CREATED, Json(json!({ "number": number }))).into_response()
}

type PullPath = UrlPath<(String, String, u64)>;

async fn gh_issue(
    State((fake, root)): Ctx,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
) -> Response {
    let mut shared = lock(&fake);
    let project = project(&owner, &repo);
    let Some(pull) = find_pull(&mut shared, &project, number) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    Json(json!({
        "number": number,
        "html_url": format!("{root}/{project}/pull/{number}"),
        "state": if pull.state == "open" { "open" } else { "closed" },
        "title": pull.title,
        "closed_by": pull.closed_by.as_ref().map(|l| json!({ "login": l })),
        "pull_request": { "url": format!("{root}/repos/{project}/pulls/{number}") },
    }))
    .into_response()
}

fn comment_json(comment: &Comment) -> Value {
    json!({ "id": comment.id, "body": comment.body, "user": { "login": "promenade-bot", "username": "promenade-bot" } })
}

/// The request number from either API's path parameters.
fn number_of(params: &HashMap<String, String>) -> u64 {
    params
        .get("number")
        .or_else(|| params.get("iid"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_default()
}

async fn list_comments(
    State((fake, _)): Ctx,
    UrlPath(params): UrlPath<HashMap<String, String>>,
) -> Response {
    let number = number_of(&params);
    let shared = lock(&fake);
    let found: Vec<Value> = shared
        .comments
        .iter()
        .filter(|c| c.number == number)
        .map(comment_json)
        .collect();
    Json(found).into_response()
}

async fn add_comment(
    State((fake, _)): Ctx,
    UrlPath(params): UrlPath<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let number = number_of(&params);
    let mut shared = lock(&fake);
    shared.next_comment += 1;
    let comment = Comment {
        id: shared.next_comment,
        number,
        body: body["body"].as_str().unwrap_or_default().to_string(),
    };
    let answer = comment_json(&comment);
    shared.comments.push(comment);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn edit_comment(
    State((fake, _)): Ctx,
    UrlPath(params): UrlPath<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let id: u64 = params
        .get("id")
        .or_else(|| params.get("note"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    let mut shared = lock(&fake);
    let Some(comment) = shared.comments.iter_mut().find(|c| c.id == id) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    comment.body = body["body"].as_str().unwrap_or_default().to_string();
    Json(comment_json(comment)).into_response()
}

async fn gh_status(
    State((fake, _)): Ctx,
    UrlPath((owner, repo, sha)): UrlPath<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let status = CommitStatus {
        project: project(&owner, &repo),
        sha,
        context: body["context"].as_str().unwrap_or("default").to_string(),
        state: body["state"].as_str().unwrap_or_default().to_string(),
        target_url: body["target_url"].as_str().map(str::to_string),
        description: body["description"].as_str().unwrap_or_default().to_string(),
    };
    if !["error", "failure", "pending", "success"].contains(&status.state.as_str()) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed: state");
    }
    let answer = json!({ "state": status.state, "context": status.context, "target_url": status.target_url, "description": status.description });
    lock(&fake).statuses.push(status);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn gh_combined(
    State((fake, _)): Ctx,
    UrlPath((_, _, sha)): UrlPath<(String, String, String)>,
) -> Response {
    let checks = lock(&fake).checks;
    Json(json!({
        "state": checks.unwrap_or("pending"),
        "sha": sha,
        "total_count": u32::from(checks.is_some()),
        "statuses": checks.map(|state| vec![json!({ "state": state, "context": "ci/build" })]).unwrap_or_default(),
    }))
    .into_response()
}

async fn gh_check_runs(State(_): Ctx, UrlPath(_): UrlPath<(String, String, String)>) -> Response {
    Json(json!({ "total_count": 0, "check_runs": [] })).into_response()
}

async fn gh_graphql(State((fake, _)): Ctx, Json(body): Json<Value>) -> Response {
    let query = body["query"].as_str().unwrap_or_default();
    if !query.contains("enablePullRequestAutoMerge") {
        return Json(
            json!({ "errors": [{ "message": "the fake knows only enablePullRequestAutoMerge" }] }),
        )
        .into_response();
    }
    let mut shared = lock(&fake);
    if let Some(refusal) = shared.refuse_auto_merge.clone() {
        return Json(json!({ "data": { "enablePullRequestAutoMerge": null }, "errors": [{ "type": "UNPROCESSABLE", "message": refusal }] }))
            .into_response();
    }
    let id = body["variables"]["id"].as_str().unwrap_or_default();
    let method = body["variables"]["method"]
        .as_str()
        .unwrap_or("MERGE")
        .to_lowercase();
    let Some(pull) = shared
        .pulls
        .iter_mut()
        .find(|p| format!("PR_kwDOfake{}", p.number) == id)
    else {
        return Json(json!({ "data": null, "errors": [{ "type": "NOT_FOUND", "message": format!("Could not resolve to a node with the global id of '{id}'") }] }))
            .into_response();
    };
    pull.auto_merge = Some(method);
    Json(json!({ "data": { "enablePullRequestAutoMerge": { "pullRequest": { "number": pull.number } } } }))
        .into_response()
}

// GitLab: https://docs.gitlab.com/api/merge_requests/, /api/notes/, /api/commits/.

fn gitlab_routes() -> Router<(Fake, String)> {
    Router::new()
        .route(
            "/projects/{id}/merge_requests",
            get(gl_list).post(gl_create),
        )
        .route(
            "/projects/{id}/merge_requests/{iid}",
            get(gl_get).put(gl_update),
        )
        .route("/projects/{id}/merge_requests/{iid}/merge", put(gl_merge))
        .route("/projects/{id}/merge_requests/{iid}/rebase", put(gl_rebase))
        .route(
            "/projects/{id}/merge_requests/{iid}/notes",
            get(list_comments).post(add_comment),
        )
        .route(
            "/projects/{id}/merge_requests/{iid}/notes/{note}",
            put(edit_comment),
        )
        .route("/projects/{id}/statuses/{sha}", post(gl_status))
        .route("/users", get(gl_users))
}

fn gl_request(shared: &Shared, root: &str, pull: &Pull) -> Value {
    let state = match pull.state.as_str() {
        "open" => "opened",
        other => other,
    };
    json!({
        "id": 2_000_000 + pull.number,
        "iid": pull.number,
        "project_id": 42,
        "title": pull.title,
        "description": pull.body,
        "state": state,
        "draft": pull.draft || pull.title.starts_with("Draft:"),
        "source_branch": pull.head,
        "target_branch": pull.base,
        "labels": pull.labels,
        "reviewers": users(&pull.reviewers),
        "assignees": users(&pull.assignees),
        "sha": branch_tip(shared, &pull.project, &pull.head).unwrap_or_default(),
        "merge_commit_sha": if pull.squash { None } else { pull.merge_commit.clone() },
        "squash_commit_sha": if pull.squash { pull.merge_commit.clone() } else { None },
        "squash": pull.squash,
        "merge_when_pipeline_succeeds": pull.auto_merge.is_some(),
        "detailed_merge_status": if shared.mergeable { "mergeable" } else { "not_approved" },
        "merged_by": (pull.state == "merged").then(|| json!({ "id": 7, "username": "reviewer" })),
        "closed_by": pull.closed_by.as_ref().map(|u| json!({ "id": 8, "username": u })),
        "head_pipeline": shared.checks.map(|status| json!({ "id": 99, "status": status })),
        "web_url": format!("{root}/{}/-/merge_requests/{}", pull.project, pull.number),
    })
}

async fn gl_list(
    State((fake, root)): Ctx,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let shared = lock(&fake);
    let state = query.get("state").map_or("all", String::as_str);
    let found: Vec<Value> = shared
        .pulls
        .iter()
        .filter(|p| p.project == id)
        .filter(|p| query.get("source_branch").is_none_or(|b| &p.head == b))
        .filter(|p| query.get("target_branch").is_none_or(|b| &p.base == b))
        .filter(|p| state == "all" || (state == "opened") == (p.state == "open"))
        .map(|p| gl_request(&shared, &root, p))
        .collect();
    Json(found).into_response()
}

async fn gl_create(
    State((fake, root)): Ctx,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut shared = lock(&fake);
    let text = |field: &str| body[field].as_str().unwrap_or_default().to_string();
    let (head, base) = (text("source_branch"), text("target_branch"));
    if branch_tip(&shared, &id, &head).is_none() {
        return error(StatusCode::BAD_REQUEST, "source_branch does not exist");
    }
    if shared
        .pulls
        .iter()
        .any(|p| p.project == id && p.head == head && p.state == "open")
    {
        return error(
            StatusCode::CONFLICT,
            "Another open merge request already exists for this source branch",
        );
    }
    let users = shared.users.clone();
    let names = |field: &str| -> Vec<String> {
        body[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_u64())
            .filter_map(|id| {
                users
                    .get(usize::try_from(id).ok()?.checked_sub(100)?)
                    .cloned()
            })
            .collect()
    };
    let pull = Pull {
        number: shared.pulls.len() as u64 + 1,
        project: id,
        head,
        base,
        title: text("title"),
        body: text("description"),
        draft: text("title").starts_with("Draft:"),
        labels: text("labels")
            .split(',')
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        reviewers: names("reviewer_ids"),
        assignees: names("assignee_ids"),
        state: "open".into(),
        merge_commit: None,
        closed_by: None,
        auto_merge: None,
        squash: body["squash"] == true,
    };
    let answer = gl_request(&shared, &root, &pull);
    shared.pulls.push(pull);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn gl_get(State((fake, root)): Ctx, UrlPath((id, iid)): UrlPath<(String, u64)>) -> Response {
    answer_pull(&fake, &root, &id, iid, false, gl_request)
}

async fn gl_update(
    State((fake, root)): Ctx,
    UrlPath((id, iid)): UrlPath<(String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let close = body["state_event"] == "close";
    answer_pull(&fake, &root, &id, iid, close, gl_request)
}

async fn gl_merge(
    State((fake, root)): Ctx,
    UrlPath((id, iid)): UrlPath<(String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut shared = lock(&fake);
    let Some(pull) = find_pull(&mut shared, &id, iid) else {
        return error(StatusCode::NOT_FOUND, "404 Not found");
    };
    if body["squash"] == true {
        pull.squash = true;
    }
    if let Some(refusal) = shared.refuse_merge.clone() {
        return error(StatusCode::METHOD_NOT_ALLOWED, &refusal);
    }
    let automatic = body["auto_merge"] == true || body["merge_when_pipeline_succeeds"] == true;
    let pipeline_done = shared.checks.is_none_or(|c| c == "success");
    if automatic && !pipeline_done {
        let pull = find_pull(&mut shared, &id, iid).expect("found above");
        pull.auto_merge = Some(if pull.squash {
            "squash".into()
        } else {
            "merge".into()
        });
        let pull = pull.clone();
        return Json(gl_request(&shared, &root, &pull)).into_response();
    }
    if !shared.mergeable {
        return error(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed");
    }
    if let Err(why) = merge_pull(&mut shared, iid, None) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, &why);
    }
    let pull = find_pull(&mut shared, &id, iid)
        .cloned()
        .expect("found above");
    Json(gl_request(&shared, &root, &pull)).into_response()
}

async fn gl_rebase(State(_): Ctx, UrlPath(_): UrlPath<(String, u64)>) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "rebase_in_progress": true })),
    )
        .into_response()
}

async fn gl_status(
    State((fake, _)): Ctx,
    UrlPath((id, sha)): UrlPath<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let status = CommitStatus {
        project: id,
        sha,
        context: body["name"].as_str().unwrap_or("default").to_string(),
        state: body["state"].as_str().unwrap_or_default().to_string(),
        target_url: body["target_url"].as_str().map(str::to_string),
        description: body["description"].as_str().unwrap_or_default().to_string(),
    };
    if ![
        "pending", "running", "success", "failed", "canceled", "skipped",
    ]
    .contains(&status.state.as_str())
    {
        return error(StatusCode::BAD_REQUEST, "state does not have a valid value");
    }
    let answer =
        json!({ "id": 1, "status": status.state, "name": status.context, "sha": status.sha });
    lock(&fake).statuses.push(status);
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// Every username exists; its id is its place in the fake's list of users.
async fn gl_users(State((fake, _)): Ctx, Query(query): Query<HashMap<String, String>>) -> Response {
    let Some(name) = query.get("username") else {
        return Json(Vec::<Value>::new()).into_response();
    };
    let mut shared = lock(&fake);
    let id = match shared.users.iter().position(|u| u == name) {
        Some(index) => index,
        None => {
            shared.users.push(name.clone());
            shared.users.len() - 1
        }
    } as u64
        + 100;
    Json(vec![
        json!({ "id": id, "username": name, "name": name, "state": "active" }),
    ])
    .into_response()
}
