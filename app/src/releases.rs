//! Releases: the list with filters and paging, and one release's live view — its flow
//! with each environment's state and gates, applications, commits, logs, the event
//! timeline, and Approve, Retry and Terminate.

use leptos::prelude::*;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_params_map, use_query_map};
use promenade_model::diff::ApplicationDiff;
use promenade_model::release::{
    ApplicationRecord, EventChange, EventRecord, LogLine, PullRequestRecord, ReleaseComparison,
    ReleaseRecord, ReleaseStatus, StepRecord, StepStatus,
};
use serde::{Deserialize, Serialize};

use crate::format::{age, elapsed, short_commit};
use crate::freeze::{
    break_glass, BreakGlassAction, BreakGlassDialog, GlassTarget, LetThroughButton,
};
use crate::layout::{ErrorNote, PageTitle};
use crate::live::refresh_on_events;
use crate::products::file_diffs;

const PAGE_SIZE: i64 = 20;
/// Rows of a release's applications table shown at once.
const APPLICATION_ROWS: usize = 50;

/// A release with what its page shows besides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseDetail {
    /// The release without its frozen snapshot (`source`), which the page does not
    /// show and which is megabytes for thousands of applications.
    pub release: ReleaseRecord,
    pub logs: Vec<LogLine>,
    pub events: Vec<EventRecord>,
    /// Environments whose waiting approval gate the signed-in user may approve.
    pub approvable: Vec<String>,
    /// Whether the signed-in user may let the release through a freeze.
    pub may_break_glass: bool,
    /// Each environment's gates and verification in words, with their status
    /// (`pending`, `waiting`, `passed`): described on the server, so the browser bundle
    /// carries no gate types.
    pub gates: Vec<(String, Vec<GateLine>)>,
    /// Server time, for elapsed times.
    pub now: String,
}

/// One gate or verification of a step, described for people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateLine {
    /// `pending`, `waiting` or `passed`.
    pub status: String,
    pub text: String,
    /// Where to follow what the gate started (a workflow's page).
    pub link: Option<String>,
}

/// A page of the release list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleasePage {
    pub releases: Vec<ReleaseRow>,
    pub products: Vec<String>,
    pub environments: Vec<String>,
    pub now: String,
}

/// A release as lists show it. Not the record itself: its frozen snapshot holds the
/// product's resources and every application's source, megabytes for a product of
/// thousands of applications, and a list only needs the version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRow {
    pub id: String,
    pub product: String,
    pub version: Option<String>,
    pub status: ReleaseStatus,
    pub created_at: String,
    pub created_by: String,
    pub message: String,
}

#[cfg(feature = "ssr")]
impl From<ReleaseRecord> for ReleaseRow {
    fn from(release: ReleaseRecord) -> Self {
        Self {
            version: release.version,
            id: release.id,
            product: release.product,
            status: release.status,
            created_at: release.created_at,
            created_by: release.created_by,
            message: release.message,
        }
    }
}

#[cfg(feature = "ssr")]
use crate::session::failed;

#[server]
pub async fn list_releases(
    product: Option<String>,
    status: Option<String>,
    environment: Option<String>,
    page: i64,
) -> Result<ReleasePage, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    let status = status
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<ReleaseStatus>())
        .transpose()
        .map_err(|e| failed(promenade_engine::EngineError::BadRequest(e)))?;
    let filter = promenade_engine::store::ReleaseFilter {
        product: product.filter(|p| !p.is_empty()),
        status,
        environment: environment.filter(|e| !e.is_empty()),
        limit: PAGE_SIZE + 1,
        offset: page.max(0) * PAGE_SIZE,
    };
    let releases = engine.list_releases(&who, &filter).await.map_err(failed)?;
    let set = engine.resource_set(&who).await.map_err(failed)?;
    Ok(ReleasePage {
        releases: releases.into_iter().map(ReleaseRow::from).collect(),
        products: set.products().map(|p| p.metadata.name.clone()).collect(),
        environments: set
            .environments()
            .map(|e| e.metadata.name.clone())
            .collect(),
        now: now(),
    })
}

#[server]
pub async fn load_release(id: String) -> Result<ReleaseDetail, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    let mut release = engine.release(&who, &id).await.map_err(failed)?;
    let logs = engine.release_logs(&who, &id).await.map_err(failed)?;
    let events = engine.release_events(&who, &id, 0).await.map_err(failed)?;
    let approvable = engine.approvable(&who, &release);
    let may_break_glass = who.has(promenade_engine::auth::Role::ReleaseManager);
    let gates = release
        .steps
        .iter()
        .map(|step| {
            let before = step.gates().into_iter().map(|gate| (gate, ""));
            let after = step
                .verification()
                .into_iter()
                .map(|check| (check, "after the change: "));
            let lines = before
                .chain(after)
                .map(|(gate, when)| GateLine {
                    status: gate.status.as_str().to_string(),
                    text: format!("{when}{}", gate.describe()),
                    link: gate
                        .link
                        .clone()
                        .filter(|l| l.starts_with("https://") || l.starts_with("http://")),
                })
                .collect();
            (step.environment.clone(), lines)
        })
        .collect();
    release.source = serde_json::Value::Null;
    Ok(ReleaseDetail {
        release,
        logs,
        events,
        approvable,
        may_break_glass,
        gates,
        now: now(),
    })
}

/// Approves the gate `environment` waits at; the engine decides who may.
#[server(endpoint = "releases/approve")]
pub async fn approve_gate(id: String, environment: String) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .approve(&who, &id, &environment)
        .await
        .map_err(failed)?;
    Ok(())
}

/// The change `application` received in `environment` from release `id`.
#[server]
pub async fn load_received(
    id: String,
    environment: String,
    application: String,
) -> Result<ApplicationDiff, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .received_change(&who, &id, &environment, &application)
        .await
        .map_err(failed)
}

/// What changed from release `from` to release `to` of one product.
#[server]
pub async fn load_comparison(from: String, to: String) -> Result<ReleaseComparison, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .compare_releases(&who, &from, &to)
        .await
        .map_err(failed)
}

#[server]
pub async fn retry_release(id: String) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine.retry(&who, &id).await.map_err(failed)?;
    Ok(())
}

#[server]
pub async fn terminate_release(id: String) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine.terminate(&who, &id).await.map_err(failed)?;
    Ok(())
}

#[cfg(feature = "ssr")]
fn now() -> String {
    promenade_engine::store::now()
}

/// `/releases`.
#[component]
pub fn ReleasesPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |key: &str| query.read().get(key).filter(|v| !v.is_empty());
    let page = move || {
        get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(0)
            .max(0)
    };
    let data = Resource::new(
        move || (get("product"), get("status"), get("environment"), page()),
        |(product, status, environment, page)| list_releases(product, status, environment, page),
    );
    view! {
        <PageTitle title="Releases" summary="Every release, running and past, with its history."/>
        <Transition fallback=|| view! { <p class="loading">"Loading releases…"</p> }>
            {move || data.get().map(|result| match result {
                Err(e) => view! { <ErrorNote what="the releases" error=e.to_string()/> }.into_any(),
                Ok(page_data) => {
                    let current = page();
                    let more = page_data.releases.len() as i64 > PAGE_SIZE;
                    let link = move |to: i64| {
                        let mut params = Vec::new();
                        for key in ["product", "status", "environment"] {
                            if let Some(value) = get(key) {
                                params.push(format!("{key}={value}"));
                            }
                        }
                        params.push(format!("page={to}"));
                        format!("/releases?{}", params.join("&"))
                    };
                    let now = page_data.now.clone();
                    view! {
                        <Form method="GET" action="/releases" attr:class="filters">
                            <FilterSelect name="product" label="Product" options=page_data.products.clone() selected=get("product")/>
                            <FilterSelect
                                name="status"
                                label="Status"
                                options=ReleaseStatus::ALL.iter().map(|s| s.as_str().to_string()).collect()
                                selected=get("status")
                            />
                            <FilterSelect name="environment" label="Environment" options=page_data.environments.clone() selected=get("environment")/>
                            <button class="button" type="submit">"Filter"</button>
                        </Form>
                        {if page_data.releases.is_empty() {
                            view! {
                                <section class="card empty">
                                    <h2>"No releases"</h2>
                                    <p>"Nothing matches. Promote from the Products page, or clear the filters."</p>
                                </section>
                            }.into_any()
                        } else {
                            view! {
                                <div class="table-scroll">
                                    <table class="release-table">
                                        <thead>
                                            <tr>
                                                <th scope="col">"Release"</th>
                                                <th scope="col">"Product"</th>
                                                <th scope="col">"Version"</th>
                                                <th scope="col">"Status"</th>
                                                <th scope="col">"Started"</th>
                                                <th scope="col">"By"</th>
                                                <th scope="col">"Message"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {page_data.releases.into_iter().take(PAGE_SIZE as usize).map(|r| {
                                                let version = r.version.clone().unwrap_or_default();
                                                view! {
                                                    <tr>
                                                        <td><A href=format!("/releases/{}", r.id)><code>{r.id.clone()}</code></A></td>
                                                        <td>{r.product.clone()}</td>
                                                        <td>{version}</td>
                                                        <td><span class=format!("state state-{}", r.status.as_str())>{r.status.as_str()}</span></td>
                                                        <td title=r.created_at.clone()>{age(&r.created_at, &now)}</td>
                                                        <td>{r.created_by.clone()}</td>
                                                        <td>{r.message.clone()}</td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }.into_any()
                        }}
                        <nav class="pager" aria-label="Pages">
                            {(current > 0).then(|| view! { <A href=link(current - 1)>"← Newer"</A> })}
                            <span class="muted">{format!("Page {}", current + 1)}</span>
                            {more.then(|| view! { <A href=link(current + 1)>"Older →"</A> })}
                        </nav>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
fn FilterSelect(
    name: &'static str,
    label: &'static str,
    options: Vec<String>,
    selected: Option<String>,
) -> impl IntoView {
    view! {
        <label class="filter">
            {label} " "
            <select name=name>
                <option value="">"any"</option>
                {options.into_iter().map(|o| {
                    let chosen = selected.as_deref() == Some(o.as_str());
                    view! { <option value=o.clone() selected=chosen>{o.clone()}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

/// `/releases/:id`.
#[component]
pub fn ReleasePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    view! { {move || view! { <ReleaseView id=id()/> }} }
}

#[component]
fn ReleaseView(id: String) -> impl IntoView {
    // The release's stream replays all its events, so it can start before the data.
    let refresh = RwSignal::new(0u32);
    refresh_on_events(
        format!("/api/v1/releases/{id}/events"),
        true,
        std::time::Duration::from_millis(150),
        refresh,
    );
    let detail = Resource::new(
        {
            let id = id.clone();
            move || (id.clone(), refresh.get())
        },
        |(id, _)| load_release(id),
    );
    let retry = Action::new(|id: &String| retry_release(id.clone()));
    let terminate = Action::new(|id: &String| terminate_release(id.clone()));
    let approve = Action::new(|(id, environment): &(String, String)| {
        approve_gate(id.clone(), environment.clone())
    });
    let glass_target: GlassTarget = RwSignal::new(None);
    // Kept across the refreshes live events cause, so the table stays where it was.
    let table = ViewState {
        state: RwSignal::new(String::new()),
        page: RwSignal::new(0),
        shown: RwSignal::new(None),
        compare: RwSignal::new(String::new()),
    };
    let glass: BreakGlassAction =
        Action::new(|(id, environment, reason): &(String, String, String)| {
            break_glass(id.clone(), environment.clone(), reason.clone())
        });
    Effect::new(move |_| {
        if retry.version().get() > 0
            || terminate.version().get() > 0
            || approve.version().get() > 0
            || glass.version().get() > 0
        {
            refresh.update(|n| *n += 1);
        }
    });
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading the release…"</p> }>
            {move || detail.get().map(|result| match result {
                Err(e) => view! { <ErrorNote what="this release" error=e.to_string()/> }.into_any(),
                Ok(detail) => view! { <ReleaseBody detail=detail retry=retry terminate=terminate approve=approve glass=glass glass_target=glass_target table=table/> }.into_any(),
            })}
        </Transition>
        <BreakGlassDialog id=id target=glass_target action=glass/>
    }
}

#[component]
fn ReleaseBody(
    detail: ReleaseDetail,
    retry: Action<String, Result<(), ServerFnError>>,
    terminate: Action<String, Result<(), ServerFnError>>,
    approve: Action<(String, String), Result<(), ServerFnError>>,
    glass: BreakGlassAction,
    glass_target: GlassTarget,
    table: ViewState,
) -> impl IntoView {
    let release = detail.release;
    let approvable = detail.approvable;
    let may_break_glass = detail.may_break_glass;
    let gates = detail.gates;
    let now = detail.now;
    let id = release.id.clone();
    let status = release.status;
    let version = release.version.clone().unwrap_or_else(|| "—".into());
    let action_error = move || {
        [
            retry.value().get(),
            terminate.value().get(),
            approve.value().get(),
            glass.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
        .map(|e| e.to_string().replace("error running server function: ", ""))
        .unwrap_or_default()
    };
    let levels: Vec<Vec<StepRecord>> = release
        .step_levels()
        .into_iter()
        .map(|level| level.into_iter().cloned().collect())
        .collect();
    let (retry_id, terminate_id) = (id.clone(), id.clone());
    view! {
        <leptos_meta::Title text=format!("Release {} · Promenade", release.id)/>
        <header class="page-title release-title">
            <h1>
                {format!("{} {}", release.product, version)}
                " "
                <span class=format!("state state-{}", status.as_str()) data-testid="release-status">{status.as_str()}</span>
            </h1>
            <p class="muted">
                {format!("Release {} along {}, started {} by {}", release.id, release.flow, age(&release.created_at, &now), release.created_by)}
            </p>
            {(!release.message.is_empty()).then(|| view! { <p>{release.message.clone()}</p> })}
            {release.superseded_by.clone().map(|newer| view! {
                <p data-testid="superseded-by">
                    "Superseded by the newer release "
                    <a href=format!("/releases/{newer}")>{newer.clone()}</a>
                    " while it waited for an environment."
                </p>
            })}
            <div class="toolbar">
                {(status == ReleaseStatus::Failed).then(|| view! {
                    <button class="button" disabled=move || retry.pending().get() on:click=move |_| { retry.dispatch(retry_id.clone()); }>"Retry"</button>
                })}
                {(status == ReleaseStatus::Running).then(|| view! {
                    <button class="button danger" disabled=move || terminate.pending().get() on:click=move |_| { terminate.dispatch(terminate_id.clone()); }>"Terminate"</button>
                })}
            </div>
            <p role="alert" class="error">{action_error}</p>
        </header>

        <section class="card" aria-label="Flow">
            <h2>"Flow"</h2>
            <ol class="flow-graph">
                {levels.into_iter().map(|level| view! {
                    <li class="flow-level">
                        {level.into_iter().map(|step| {
                            let approve_here = approvable
                                .contains(&step.environment)
                                .then(|| (release.id.clone(), approve));
                            let lines = gates
                                .iter()
                                .find(|(env, _)| *env == step.environment)
                                .map(|(_, lines)| lines.clone())
                                .unwrap_or_default();
                            let glass_here = (may_break_glass && step.status == StepStatus::Frozen)
                                .then_some(glass_target);
                            view! { <StepNode step=step gates=lines now=now.clone() approve=approve_here glass=glass_here/> }
                        }).collect_view()}
                    </li>
                }).collect_view()}
            </ol>
        </section>

        <ApplicationsTable id=release.id.clone() steps=release.steps.clone() table=table/>
        <CompareReleases id=release.id.clone() product=release.product.clone() with=table.compare/>

        <div class="two-columns">
            <section class="card" aria-label="Logs">
                <h2>"Logs"</h2>
                {if detail.logs.is_empty() {
                    view! { <p class="muted">"No log lines yet."</p> }.into_any()
                } else {
                    view! {
                        <ol class="log">
                            {detail.logs.into_iter().map(|LogLine { environment: env, at, level, message }| view! {
                                <li class=format!("log-{level}")>
                                    <time datetime=at.clone()>{at.get(11..19).unwrap_or_default().to_string()}</time>
                                    " " <strong>{env}</strong> " " {message}
                                </li>
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }}
            </section>
            <section class="card" aria-label="Timeline">
                <h2>"Timeline"</h2>
                <ol class="timeline" data-testid="timeline">
                    // Gate progress is shown on the step; approvals and state changes here.
                    {detail.events.into_iter().rev().filter_map(|event| {
                        let (class, what) = match &event.change {
                            EventChange::Approval(approval) => (
                                "approved".to_string(),
                                format!("approved by {}", approval.user),
                            ),
                            EventChange::Release(change) => {
                                (change.status.to_string(), change.status.to_string())
                            }
                            EventChange::Step(change) => {
                                (change.status.to_string(), change.status.to_string())
                            }
                            EventChange::Gate(_) => return None,
                        };
                        let subject = event.environment.clone().unwrap_or_else(|| "release".into());
                        Some(view! {
                            <li>
                                <time datetime=event.at.clone()>{event.at.get(11..19).unwrap_or_default().to_string()}</time>
                                " " {subject} " → "
                                <span class=format!("state state-{class}")>{what}</span>
                            </li>
                        })
                    }).collect_view()}
                </ol>
            </section>
        </div>
    }
}

/// Where the page stands: the state the applications table shows, its page, the change
/// opened below it (environment, application), and the release compared with.
#[derive(Clone, Copy)]
struct ViewState {
    state: RwSignal<String>,
    page: RwSignal<usize>,
    shown: RwSignal<Option<(String, String)>>,
    compare: RwSignal<String>,
}

/// Every application × environment of the release, a page at a time, filtered by
/// state; a commit opens the change it made below the table.
#[component]
fn ApplicationsTable(id: String, steps: Vec<StepRecord>, table: ViewState) -> impl IntoView {
    let environments: Vec<String> = steps.iter().map(|s| s.environment.clone()).collect();
    let mut by_app: std::collections::BTreeMap<String, Vec<Option<ApplicationRecord>>> =
        Default::default();
    for (index, step) in steps.iter().enumerate() {
        for record in &step.applications {
            by_app
                .entry(record.application.clone())
                .or_insert_with(|| vec![None; steps.len()])[index] = Some(record.clone());
        }
    }
    let mut states: Vec<&'static str> = by_app
        .values()
        .flatten()
        .flatten()
        .map(|r| r.status.as_str())
        .collect();
    states.sort_unstable();
    states.dedup();
    let rows = StoredValue::new(by_app.into_iter().collect::<Vec<_>>());
    let columns = StoredValue::new(environments.clone());
    let ViewState {
        state, page, shown, ..
    } = table;
    let matching = Memo::new(move |_| {
        let wanted = state.get();
        rows.with_value(|rows| {
            rows.iter()
                .enumerate()
                .filter(|(_, (_, cells))| {
                    wanted.is_empty() || cells.iter().flatten().any(|r| r.status.as_str() == wanted)
                })
                .map(|(index, _)| index)
                .collect::<Vec<usize>>()
        })
    });
    let total = rows.with_value(Vec::len);
    let summary = move || {
        let matching = matching.with(Vec::len);
        let first = page.get() * APPLICATION_ROWS;
        let last = (first + APPLICATION_ROWS).min(matching);
        let of_total = (matching != total).then(|| format!(" ({total} in the release)"));
        if matching == 0 {
            format!(
                "No application in this state{}",
                of_total.unwrap_or_default()
            )
        } else {
            format!(
                "Applications {}–{last} of {matching}{}",
                first + 1,
                of_total.unwrap_or_default()
            )
        }
    };
    let id = StoredValue::new(id);
    view! {
        <section class="card" aria-label="Applications">
            <h2>"Applications"</h2>
            <div class="pager">
                <label>
                    "Show applications in state "
                    <select prop:value=move || state.get() on:change=move |ev| {
                        state.set(event_target_value(&ev));
                        page.set(0);
                    }>
                        <option value="">"any"</option>
                        {states.into_iter().map(|s| view! { <option value=s>{s}</option> }).collect_view()}
                    </select>
                </label>
                <span data-testid="release-rows-shown">{summary}</span>
                <button class="button small secondary" disabled=move || page.get() == 0
                    on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"Previous page"</button>
                <button class="button small secondary"
                    disabled=move || (page.get() + 1) * APPLICATION_ROWS >= matching.with(Vec::len)
                    on:click=move |_| page.update(|p| *p += 1)>"Next page"</button>
            </div>
            <div class="table-scroll">
                <table class="status-table">
                    <thead>
                        <tr>
                            <th scope="col">"Application"</th>
                            {environments.iter().map(|e| view! { <th scope="col">{e.clone()}</th> }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            let start = page.get() * APPLICATION_ROWS;
                            let indices: Vec<usize> =
                                matching.with(|m| m.iter().skip(start).take(APPLICATION_ROWS).copied().collect());
                            rows.with_value(|rows| {
                                indices.into_iter().map(|index| {
                                    let (app, cells) = rows[index].clone();
                                    let cells = cells.into_iter().enumerate().map(|(column, record)| {
                                        let env = columns.with_value(|c| c[column].clone());
                                        view! { <td>{record.map(|r| received_cell(r, &app, &env, shown))}</td> }
                                    }).collect_view();
                                    view! { <tr><th scope="row">{app}</th>{cells}</tr> }
                                }).collect_view()
                            })
                        }}
                    </tbody>
                </table>
            </div>
            {move || shown.get().map(|(environment, application)| view! {
                <ReceivedChange id=id.get_value() environment=environment application=application shown=shown/>
            })}
        </section>
    }
}

/// This release against another of the product: what its source changes, application
/// by application.
#[component]
fn CompareReleases(id: String, product: String, with: RwSignal<String>) -> impl IntoView {
    let others = Resource::new(
        move || product.clone(),
        |product| list_releases(Some(product), None, None, 0),
    );
    let this = StoredValue::new(id);
    let comparison = Resource::new(
        move || with.get(),
        move |other| async move {
            if other.is_empty() {
                None
            } else {
                Some(load_comparison(other, this.get_value()).await)
            }
        },
    );
    view! {
        <section class="card" aria-label="Compare">
            <h2>"Compare"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading releases…"</p> }>
                {move || others.get().map(|result| match result {
                    Err(e) => view! { <ErrorNote what="the product's releases" error=e.to_string()/> }.into_any(),
                    Ok(page) => view! {
                        <label class="fd-field">
                            "What this release changes compared with "
                            <select prop:value=move || with.get() on:change=move |ev| with.set(event_target_value(&ev))>
                                <option value="">"(choose a release)"</option>
                                {page.releases.into_iter().filter(|r| r.id != this.get_value()).map(|r| {
                                    let text = format!("{} · {} · {}", r.version.as_deref().unwrap_or("—"), r.status.as_str(), r.id);
                                    view! { <option value=r.id.clone()>{text}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                    }.into_any(),
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="loading">"Comparing…"</p> }>
                {move || comparison.get().flatten().map(|result| match result {
                    Err(e) => view! { <ErrorNote what="the comparison" error=e.to_string()/> }.into_any(),
                    Ok(compared) => {
                        let versions = format!(
                            "{} → {}",
                            compared.from_version.unwrap_or_else(|| "—".into()),
                            compared.to_version.unwrap_or_else(|| "—".into()),
                        );
                        view! {
                            <p data-testid="comparison-summary">
                                {format!("{versions}: {} applications differ, {} unchanged", compared.applications.len(), compared.unchanged)}
                            </p>
                            {compared.applications.into_iter().map(|app| view! {
                                <details class="preview-app">
                                    <summary>{format!("{} — {} files, +{} −{}", app.application, app.files.len(), app.added, app.removed)}</summary>
                                    {file_diffs(app.files)}
                                </details>
                            }).collect_view()}
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}

/// One application's state in one environment, with its commit as a button opening
/// the change.
fn received_cell(
    record: ApplicationRecord,
    app: &str,
    env: &str,
    shown: RwSignal<Option<(String, String)>>,
) -> impl IntoView {
    let at = (env.to_string(), app.to_string());
    view! {
        <span class=format!("state state-{}", record.status.as_str())>{record.status.as_str()}</span>
        {record.commit.map(|commit| {
            let short = short_commit(&commit).to_string();
            let label = format!("{short}: the change to {app} in {env}");
            view! {
                " "
                <button class="link-button commit" aria-label=label
                    on:click=move |_| shown.set(Some(at.clone()))>{short}</button>
            }
        })}
    }
}

/// The diff of the folder that the release's commit changed, read from git.
#[component]
fn ReceivedChange(
    id: String,
    environment: String,
    application: String,
    shown: RwSignal<Option<(String, String)>>,
) -> impl IntoView {
    let title = format!("Change to {application} in {environment}");
    let label = title.clone();
    let diff = Resource::new(
        move || (id.clone(), environment.clone(), application.clone()),
        |(id, environment, application)| load_received(id, environment, application),
    );
    view! {
        <section class="received" aria-label=label>
            <header class="received-head">
                <h3>{title}</h3>
                <button class="button small secondary" on:click=move |_| shown.set(None)>"Close"</button>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Reading the change…"</p> }>
                {move || diff.get().map(|result| match result {
                    Err(e) => view! { <ErrorNote what="this change" error=e.to_string()/> }.into_any(),
                    Ok(diff) if diff.files.is_empty() => view! { <p class="muted">"No file changed."</p> }.into_any(),
                    Ok(diff) => view! {
                        <p class="muted">{format!("{} files, +{} −{}", diff.files.len(), diff.added, diff.removed)}</p>
                        {file_diffs(diff.files)}
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// An approve action for this release, when the signed-in user may approve the step.
type ApproveHere = Option<(String, Action<(String, String), Result<(), ServerFnError>>)>;

#[component]
fn StepNode(
    step: StepRecord,
    gates: Vec<GateLine>,
    now: String,
    approve: ApproveHere,
    glass: Option<GlassTarget>,
) -> impl IntoView {
    let status = step.status;
    let took = elapsed(
        step.started_at.as_deref(),
        step.finished_at.as_deref(),
        &now,
    );
    let repositories = step.detail.repositories.clone();
    let error = step.detail.error.clone();
    let environment = step.environment.clone();
    let frozen = step
        .detail
        .frozen
        .clone()
        .filter(|_| status == StepStatus::Frozen);
    let broken = step.detail.break_glass.clone();
    view! {
        <div
            class=format!("node state-{}", status.as_str())
            data-environment=step.environment.clone()
            data-status=status.as_str()
            role="group"
            aria-label=format!("{}: {}", step.environment, status.as_str())
        >
            <div class="node-title">
                <span class="icon" aria-hidden="true">{icon(status)}</span>
                <strong>{step.environment.clone()}</strong>
            </div>
            <div class="node-state">{status.as_str()} {(!took.is_empty()).then(|| format!(" · {took}"))}</div>
            <div class="muted">{step.action.as_str()}</div>
            {repositories.into_iter().map(|repo| {
                let commit = repo.commit.as_deref().map(|c| short_commit(c).to_string());
                // A hosted request is shown by its link; a bare branch only on a generic server.
                let branch = repo.pull_request_branch.filter(|_| repo.pull_request.is_none());
                view! {
                    <div class="node-commit">
                        {commit.map(|c| view! { <code>{c}</code> })}
                        {branch.map(|b| view! { " " <span class="badge" title="Pull request branch">{b}</span> })}
                    </div>
                    {repo.pull_request.map(pull_request_view)}
                }
            }).collect_view()}
            {(!gates.is_empty()).then(|| view! {
                <ul class="node-gates" aria-label="Gates">
                    {gates.iter().map(|gate| view! {
                        <li class=format!("gate gate-{}", gate.status)>
                            {gate.text.clone()}
                            {gate.link.clone().map(|link| view! {
                                " " <a href=link target="_blank" rel="noopener noreferrer">"open"</a>
                            })}
                        </li>
                    }).collect_view()}
                </ul>
            })}
            {approve.map(|(id, approve)| view! {
                <button
                    class="button primary"
                    disabled=move || approve.pending().get()
                    on:click=move |_| { approve.dispatch((id.clone(), environment.clone())); }
                >
                    {format!("Approve {}", step.environment)}
                </button>
            })}
            {frozen.map(|held| view! { <div class="node-frozen" data-testid="frozen">{format!("❄ {}", held.describe())}</div> })}
            {broken.map(|glass| view! { <div class="node-break-glass" data-testid="break-glass">{glass.describe()}</div> })}
            {glass.map(|target| view! { <LetThroughButton environment=step.environment.clone() target=target/> })}
            {error.map(|e| view! { <div class="error">{e}</div> })}
        </div>
    }
}

/// `#12 open · checks pending`, linking to the host's page, and why it waits.
fn pull_request_view(request: PullRequestRecord) -> impl IntoView {
    let state = request.state.as_str();
    let checks = request
        .checks
        .map(|c| format!(" · checks {}", c.as_str()))
        .unwrap_or_default();
    view! {
        <div class="pull-request" data-state=state>
            <a href=request.url.clone() target="_blank" rel="noopener noreferrer">
                {format!("#{}", request.number)}
            </a>
            {format!(" {state}{checks}")}
            {request.note.map(|note| view! { <div class="muted pull-request-note">{note}</div> })}
        </div>
    }
}

fn icon(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Pending => "○",
        StepStatus::Waiting => "◔",
        StepStatus::Frozen => "❄",
        StepStatus::Gating | StepStatus::Applying | StepStatus::Verifying => "◐",
        StepStatus::AwaitingMerge => "⇄",
        StepStatus::Succeeded => "✔",
        StepStatus::Unchanged => "＝",
        StepStatus::Failed => "✖",
        StepStatus::Terminated => "■",
        StepStatus::Superseded => "⤼",
        StepStatus::Skipped => "↷",
    }
}
