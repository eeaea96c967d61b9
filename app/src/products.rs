//! The products dashboard: environments as columns in flow order, applications as rows,
//! each cell with version, commit, age, drift and the running release. Every promote —
//! a cell's button, a column's, the whole flow, or dragging a version onto another
//! column — opens the preview first.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use promenade_model::overview::{Cell, DeployedCell, DeployedStatus, ProductStatus};
use promenade_model::release::Preview;

use crate::format::{age, short_commit};
use crate::layout::PageTitle;
use crate::live::refresh_on_events;

#[server]
pub async fn list_products() -> Result<Vec<String>, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    let set = engine
        .resource_set(&who)
        .await
        .map_err(crate::session::failed)?;
    Ok(set.products().map(|p| p.metadata.name.clone()).collect())
}

#[server]
pub async fn load_status(product: String) -> Result<ProductStatus, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .product_status(&who, &product)
        .await
        .map_err(crate::session::failed)
}

/// What Argo CD runs for each application × environment of `product`.
#[server]
pub async fn load_deployed(product: String) -> Result<DeployedStatus, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .deployed_status(&who, &product)
        .await
        .map_err(crate::session::failed)
}

#[cfg(feature = "ssr")]
fn request(
    from: Option<String>,
    to: Option<String>,
    application: Option<String>,
    message: Option<String>,
) -> promenade_model::release::PromotionRequest {
    promenade_model::release::PromotionRequest {
        from,
        to,
        applications: application.into_iter().collect(),
        message: message.filter(|m| !m.trim().is_empty()),
        ..Default::default()
    }
}

#[server]
pub async fn preview_promotion(
    product: String,
    from: Option<String>,
    to: Option<String>,
    application: Option<String>,
) -> Result<Preview, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .preview(&who, &product, &request(from, to, application, None))
        .await
        .map_err(crate::session::failed)
}

#[server(endpoint = "promotions/start")]
pub async fn start_promotion(
    product: String,
    from: Option<String>,
    to: Option<String>,
    application: Option<String>,
    message: Option<String>,
) -> Result<String, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    let release = engine
        .promote(&who, &product, &request(from, to, application, message))
        .await
        .map_err(crate::session::failed)?;
    Ok(release.id)
}

/// What a person asked to promote, before the preview confirms it.
#[derive(Clone, Debug, PartialEq)]
struct Intent {
    title: String,
    from: Option<String>,
    to: Option<String>,
    application: Option<String>,
}

/// A product's status, reloaded whenever `refresh` goes up; `None` when there is no
/// product to show.
type StatusResource = Resource<Result<Option<ProductStatus>, ServerFnError>>;

/// Which product a dashboard shows.
#[derive(Clone, Debug, PartialEq)]
enum Which {
    /// The first product, for `/`.
    First,
    Named(String),
}

/// Pages create this at their top, never inside a branch that appears once other data
/// has arrived, and it depends on no other resource: a resource made in such a branch,
/// or reloaded when another one resolves, is serialized for the browser in whatever
/// order and state the server reached, and the browser then fails to hydrate the page.
fn status_resource(
    which: impl Fn() -> Which + Send + Sync + 'static,
    refresh: RwSignal<u32>,
) -> StatusResource {
    Resource::new(
        move || (which(), refresh.get()),
        |(which, _)| async move {
            let product = match which {
                Which::Named(product) => product,
                Which::First => match list_products().await?.into_iter().next() {
                    Some(product) => product,
                    None => return Ok(None),
                },
            };
            load_status(product).await.map(Some)
        },
    )
}

/// `/`: every product; the only one, or the first, shown in full.
#[component]
pub fn ProductsPage() -> impl IntoView {
    let products = Resource::new(|| (), |_| list_products());
    let refresh = RwSignal::new(0u32);
    let status = status_resource(|| Which::First, refresh);
    view! {
        <PageTitle
            title="Products"
            summary="Every application of a product across its environments: versions, drift and running releases."
        />
        <Suspense fallback=|| view! { <p class="loading">"Loading products…"</p> }>
            {move || products.get().map(|result| match result {
                Err(e) => view! { <ErrorNote what="the products" error=e.to_string()/> }.into_any(),
                Ok(list) if list.is_empty() => view! {
                    <section class="card empty">
                        <h2>"No products yet"</h2>
                        <p>
                            "Describe one in YAML and apply it with " <code>"promenade apply -f"</code>
                            ", or try the demo with " <code>"promenade demo"</code> "."
                        </p>
                    </section>
                }.into_any(),
                Ok(list) => {
                    let first = list[0].clone();
                    view! {
                        <nav class="product-tabs" aria-label="Products">
                            {list.into_iter().map(|name| {
                                let href = format!("/products/{name}");
                                view! { <A href=href>{name}</A> }
                            }).collect_view()}
                        </nav>
                        <Dashboard product=first status=status refresh=refresh/>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}

/// `/products/:name`.
#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let refresh = RwSignal::new(0u32);
    let status = status_resource(move || Which::Named(name()), refresh);
    view! {
        <PageTitle title="Product" summary="Versions, drift and running releases per environment."/>
        {move || view! { <Dashboard product=name() status=status refresh=refresh/> }}
    }
}

#[component]
fn Dashboard(product: String, status: StatusResource, refresh: RwSignal<u32>) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let drift_only = RwSignal::new(false);
    let intent = RwSignal::new(None::<Intent>);
    let deployed = Deployed::new(DeployedView::default());
    let product_name = StoredValue::new(product.clone());

    view! {
        <section class="dashboard" aria-label=format!("Product {product}")>
            <div class="toolbar">
                <h2>{product.clone()}</h2>
                <label class="filter">
                    "Application "
                    <input
                        type="search"
                        placeholder="filter by name"
                        aria-label="Filter applications by name"
                        prop:value=move || filter.get()
                        on:input=move |ev| filter.set(event_target_value(&ev))
                    />
                </label>
                <label class="filter">
                    <input
                        type="checkbox"
                        prop:checked=move || drift_only.get()
                        on:change=move |ev| drift_only.set(event_target_checked(&ev))
                    />
                    " Drift only"
                </label>
                <button
                    class="button"
                    on:click=move |_| intent.set(Some(Intent {
                        title: format!("Run the {} flow", product_name.get_value()),
                        from: None,
                        to: None,
                        application: None,
                    }))
                >
                    "Run the flow"
                </button>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading the dashboard…"</p> }>
                {move || status.get().map(|result| match result {
                    Err(e) => view! { <ErrorNote what="the product status" error=e.to_string()/> }.into_any(),
                    Ok(None) => view! { <p class="loading">"Loading the dashboard…"</p> }.into_any(),
                    Ok(Some(status)) => view! {
                        <LiveStatus product=status.product.clone() after=status.last_event refresh=refresh/>
                        {status.argocd.then(|| view! { <DeployedPoller product=status.product.clone() deployed=deployed/> })}
                        <DeployedProblems deployed=deployed/>
                        <StatusTable status=status filter=filter drift_only=drift_only intent=intent deployed=deployed/>
                    }.into_any(),
                })}
            </Transition>
            {move || intent.get().map(|chosen| view! {
                <PreviewModal product=product_name.get_value() intent=chosen on_close=move || intent.set(None)/>
            })}
        </section>
    }
}

/// Follows the product's events from the one the status was read at, so nothing that
/// happens while the page loads is missed; re-created (and re-subscribed) with each
/// reload of the status.
#[component]
fn LiveStatus(product: String, after: i64, refresh: RwSignal<u32>) -> impl IntoView {
    refresh_on_events(
        format!("/api/v1/events?product={product}&after={after}"),
        false,
        std::time::Duration::from_millis(250),
        refresh,
    );
}

/// What Argo CD runs, by (application, environment), and the calls that failed.
#[derive(Clone, Debug, Default, PartialEq)]
struct DeployedView {
    cells: HashMap<(String, String), DeployedCell>,
    problems: Vec<String>,
}

type Deployed = RwSignal<DeployedView>;

/// How often an open dashboard asks what Argo CD runs. The server reads Argo CD at most
/// every 2 s whatever the number of dashboards.
#[cfg(feature = "hydrate")]
const DEPLOYED_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// Reads what Argo CD runs now and every [`DEPLOYED_EVERY`] while the dashboard is
/// shown. Argo CD has no event stream Promenade could follow, so this one view polls.
#[component]
fn DeployedPoller(product: String, deployed: Deployed) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let read = move || {
            let product = product.clone();
            leptos::task::spawn_local(async move {
                if let Ok(status) = load_deployed(product).await {
                    let cells = status
                        .cells
                        .into_iter()
                        .map(|c| ((c.application.clone(), c.environment.clone()), c))
                        .collect();
                    deployed.try_set(DeployedView {
                        cells,
                        problems: status.problems,
                    });
                }
            });
        };
        read();
        if let Ok(handle) = set_interval_with_handle(read, DEPLOYED_EVERY) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (product, deployed);
    }
}

/// Argo CD calls that failed, above the table.
#[component]
fn DeployedProblems(deployed: Deployed) -> impl IntoView {
    move || {
        let problems = deployed.with(|d| d.problems.clone());
        (!problems.is_empty()).then(|| {
            view! {
                <p class="note argocd-problems" role="status">
                    "Argo CD could not be read: " {problems.join("; ")}
                </p>
            }
        })
    }
}

/// What Argo CD runs in one cell: health, sync and revision, and whether it differs
/// from git. Each cell watches only its own entry, so a new reading redraws only the
/// cells that changed.
#[component]
fn DeployedBadge(application: String, environment: String, deployed: Deployed) -> impl IntoView {
    let key = (application, environment);
    let mine = Memo::new(move |_| deployed.with(|d| d.cells.get(&key).cloned()));
    move || {
        mine.get().map(|cell| {
            let differs = cell.differs_from_git();
            let title = format!(
                "Argo CD Application {}: {}, {} at {}",
                cell.argocd,
                cell.sync,
                cell.health,
                short_commit(&cell.revision)
            );
            view! {
                <div class="argocd" data-sync=cell.sync.clone() data-health=cell.health.clone() title=title>
                    <span class=format!("badge health health-{}", cell.health.to_lowercase())>{cell.health.clone()}</span>
                    " "
                    <span class="badge sync">{cell.sync.clone()}</span>
                    " "
                    <code class="commit">{short_commit(&cell.revision).to_string()}</code>
                    {differs.then(|| view! { " " <span class="badge drift">"differs from git"</span> })}
                </div>
            }
        })
    }
}

#[component]
fn StatusTable(
    status: ProductStatus,
    filter: RwSignal<String>,
    drift_only: RwSignal<bool>,
    intent: RwSignal<Option<Intent>>,
    deployed: Deployed,
) -> impl IntoView {
    let environments = status.environments.clone();
    let now = status.generated_at.clone();
    let next_of = {
        let environments = environments.clone();
        move |env: &str| {
            environments
                .iter()
                .find(|e| e.upstream.as_deref() == Some(env))
                .map(|e| e.name.clone())
        }
    };
    let header = environments
        .iter()
        .map(|env| {
            let name = env.name.clone();
            let upstream = env.upstream.clone();
            let class = if env.prod { "env prod" } else { "env" };
            let drop_target = name.clone();
            view! {
                <th
                    scope="col"
                    class=class
                    data-environment=name.clone()
                    on:dragover=move |ev| ev.prevent_default()
                    on:drop=move |ev| drop_version(ev, &drop_target, intent)
                >
                    <span class="env-name">{name.clone()}</span>
                    {env.prod.then(|| view! { <span class="badge prod-badge">"prod"</span> })}
                    {upstream.map(|from| {
                        let to = name.clone();
                        view! {
                            <button
                                class="button small"
                                aria-label=format!("Promote everything to {to}")
                                on:click=move |_| intent.set(Some(Intent {
                                    title: format!("Promote {from} → {to}"),
                                    from: Some(from.clone()),
                                    to: Some(to.clone()),
                                    application: None,
                                }))
                            >
                                "Promote here"
                            </button>
                        }
                    })}
                </th>
            }
        })
        .collect_view();

    let summary = environments
        .iter()
        .map(|env| {
            let cells: Vec<&Cell> = status.applications.iter().filter_map(|a| a.cells.get(&env.name)).collect();
            let (version, count) = most_common_version(&cells);
            let drifting = cells.iter().filter(|c| c.drift).count();
            let running = cells.iter().find_map(|c| c.release.clone());
            view! {
                <td class="summary">
                    <div class="summary-cell">
                    <span>{format!("{count}/{} at {}", cells.len(), version.unwrap_or_else(|| "—".into()))}</span>
                    {(drifting > 0).then(|| view! { <span class="badge drift">{format!("{drifting} drift")}</span> })}
                    {running.map(|r| view! {
                        <A href=format!("/releases/{}", r.id) attr:class=format!("state state-{}", r.status.as_str())>
                            {r.status.as_str()}
                        </A>
                        {r.pull_request.map(pull_request_link)}
                    })}
                    </div>
                </td>
            }
        })
        .collect_view();

    let rows = status
        .applications
        .iter()
        .map(|app| {
            let name = app.name.clone();
            let visible = {
                let name = name.clone();
                let drifting = app.cells.values().any(|c| c.drift);
                move || {
                    let wanted = filter.get().to_lowercase();
                    (wanted.is_empty() || name.to_lowercase().contains(&wanted))
                        && (!drift_only.get() || drifting)
                }
            };
            let cells = environments
                .iter()
                .map(|env| {
                    let cell = app.cells.get(&env.name).cloned().unwrap_or_default();
                    let next = next_of(&env.name);
                    let others: Vec<String> = environments
                        .iter()
                        .map(|e| e.name.clone())
                        .filter(|e| e != &env.name)
                        .collect();
                    view! {
                        <CellView
                            application=name.clone()
                            environment=env.name.clone()
                            prod=env.prod
                            cell=cell
                            now=now.clone()
                            next=next
                            others=others
                            intent=intent
                            deployed=deployed
                        />
                    }
                })
                .collect_view();
            view! {
                <tr class:hidden=move || !visible()>
                    <th scope="row" class="app-name">{name.clone()}</th>
                    {cells}
                </tr>
            }
        })
        .collect_view();

    // Set once this table runs in the browser: content inside suspense boundaries
    // hydrates after the page, and tests (and people) should act once it is live.
    let live = RwSignal::new(false);
    Effect::new(move |_| live.set(true));
    view! {
        <div class="table-scroll" data-live=move || live.get().then_some("")>
            <table class="status-table">
                <thead>
                    <tr>
                        <th scope="col">"Application"</th>
                        {header}
                    </tr>
                </thead>
                <tbody>
                    <tr class="summary-row">
                        <th scope="row">"Product"</th>
                        {summary}
                    </tr>
                    {rows}
                </tbody>
            </table>
        </div>
    }
}

#[component]
#[allow(clippy::too_many_arguments)]
fn CellView(
    application: String,
    environment: String,
    prod: bool,
    cell: Cell,
    now: String,
    next: Option<String>,
    others: Vec<String>,
    intent: RwSignal<Option<Intent>>,
    deployed: Deployed,
) -> impl IntoView {
    let payload = format!("{application}\n{environment}");
    let drop_target = environment.clone();
    let label = format!("{application} in {environment}");
    let menu_label = format!("Promote {application} from {environment} to…");
    let from = environment.clone();
    let app_for_menu = application.clone();
    let promote_next = next.map(|to| {
        let (app, from) = (application.clone(), environment.clone());
        view! {
            <button
                class="button small"
                aria-label=format!("Promote {app} from {from} to {to}")
                on:click=move |_| intent.set(Some(Intent {
                    title: format!("Promote {app}: {from} → {to}"),
                    from: Some(from.clone()),
                    to: Some(to.clone()),
                    application: Some(app.clone()),
                }))
            >
                {format!("→ {to}")}
            </button>
        }
    });
    view! {
        <td
            class=if prod { "cell prod" } else { "cell" }
            data-application=application.clone()
            data-environment=environment.clone()
            on:dragover=move |ev| ev.prevent_default()
            on:drop=move |ev| drop_version(ev, &drop_target, intent)
        >
            <div
                class="version"
                draggable="true"
                aria-label=label
                title="Drag onto another environment to promote this version there"
                on:dragstart=move |ev| {
                    if let Some(transfer) = ev.data_transfer() {
                        let _ = transfer.set_data("text/plain", &payload);
                    }
                }
            >
                <strong>{cell.version.clone().unwrap_or_else(|| "—".into())}</strong>
                {cell.commit.as_deref().map(|c| view! { <code class="commit">{short_commit(c).to_string()}</code> })}
            </div>
            <div class="meta">
                {cell.committed_at.as_deref().map(|at| {
                    let text = age(at, &now);
                    view! { <span class="age">{text}</span> }
                })}
                {cell.drift.then(|| view! { <span class="badge drift" title="Differs from the upstream environment">"drift"</span> })}
                {cell.release.clone().map(|r| view! {
                    <A href=format!("/releases/{}", r.id) attr:class=format!("state state-{}", r.status.as_str())>
                        {r.status.as_str()}
                    </A>
                    {r.pull_request.map(pull_request_link)}
                })}
                {cell.error.clone().map(|e| view! { <span class="badge error-badge" title=e>"unreadable"</span> })}
            </div>
            <DeployedBadge application=application.clone() environment=environment.clone() deployed=deployed/>
            <div class="actions">
                {promote_next}
                <select
                    class="promote-to"
                    aria-label=menu_label
                    on:change=move |ev| {
                        let to = event_target_value(&ev);
                        if !to.is_empty() {
                            intent.set(Some(Intent {
                                title: format!("Promote {app_for_menu}: {from} → {to}"),
                                from: Some(from.clone()),
                                to: Some(to),
                                application: Some(app_for_menu.clone()),
                            }));
                        }
                    }
                >
                    <option value="">"Promote to…"</option>
                    {others.into_iter().map(|e| view! { <option value=e.clone()>{e.clone()}</option> }).collect_view()}
                </select>
            </div>
        </td>
    }
}

/// A version dropped on an environment's column: promote it there.
fn drop_version(ev: leptos::ev::DragEvent, target: &str, intent: RwSignal<Option<Intent>>) {
    ev.prevent_default();
    let Some(data) = ev
        .data_transfer()
        .and_then(|t| t.get_data("text/plain").ok())
    else {
        return;
    };
    let Some((application, from)) = data.split_once('\n') else {
        return;
    };
    if from == target {
        return;
    }
    intent.set(Some(Intent {
        title: format!("Promote {application}: {from} → {target}"),
        from: Some(from.to_string()),
        to: Some(target.to_string()),
        application: Some(application.to_string()),
    }));
}

fn most_common_version(cells: &[&Cell]) -> (Option<String>, usize) {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for version in cells.iter().filter_map(|c| c.version.clone()) {
        match counts.iter_mut().find(|(v, _)| *v == version) {
            Some((_, n)) => *n += 1,
            None => counts.push((version, 1)),
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or((None, 0), |(v, n)| (Some(v), n))
}

#[component]
fn PreviewModal(
    product: String,
    intent: Intent,
    on_close: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let preview = {
        let (product, from, to, app) = (
            product.clone(),
            intent.from.clone(),
            intent.to.clone(),
            intent.application.clone(),
        );
        Resource::new(
            || (),
            move |_| preview_promotion(product.clone(), from.clone(), to.clone(), app.clone()),
        )
    };
    let message = RwSignal::new(String::new());
    let confirm = {
        let (product, from, to, app) = (
            product.clone(),
            intent.from.clone(),
            intent.to.clone(),
            intent.application.clone(),
        );
        Action::new(move |message: &String| {
            start_promotion(
                product.clone(),
                from.clone(),
                to.clone(),
                app.clone(),
                Some(message.clone()),
            )
        })
    };
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = confirm.value().get() {
            navigate(&format!("/releases/{id}"), Default::default());
        }
    });
    let close = on_close.clone();
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="preview-title">
                <header class="modal-header">
                    <h2 id="preview-title">{intent.title.clone()}</h2>
                    <button class="button secondary small" aria-label="Close the preview" on:click=move |_| close()>"✕"</button>
                </header>
                <Suspense fallback=|| view! { <p class="loading">"Computing the preview…"</p> }>
                    {move || preview.get().map(|result| match result {
                        Err(e) => view! { <ErrorNote what="the preview" error=e.to_string()/> }.into_any(),
                        Ok(preview) => view! { <PreviewBody preview=preview/> }.into_any(),
                    })}
                </Suspense>
                <label class="message">
                    "Message"
                    <textarea
                        rows="2"
                        placeholder="Why this release (shown in commits and the release list)"
                        prop:value=move || message.get()
                        on:input=move |ev| message.set(event_target_value(&ev))
                    ></textarea>
                </label>
                <p role="alert" class="error">
                    {move || match confirm.value().get() {
                        Some(Err(e)) => e.to_string().replace("error running server function: ", ""),
                        _ => String::new(),
                    }}
                </p>
                <footer class="modal-footer">
                    <button class="button secondary" on:click=move |_| on_close()>"Cancel"</button>
                    <button
                        class="button"
                        disabled=move || confirm.pending().get() || !matches!(preview.get(), Some(Ok(_)))
                        on:click=move |_| {
                            confirm.dispatch(message.get_untracked());
                        }
                    >
                        "Confirm and promote"
                    </button>
                </footer>
            </div>
        </div>
    }
}

#[component]
fn PreviewBody(preview: Preview) -> impl IntoView {
    let version = preview
        .version
        .clone()
        .unwrap_or_else(|| "(no version)".into());
    let source = preview.source.environment.clone();
    view! {
        <p class="muted">{format!("Version {version} from {source}")}</p>
        {preview.environments.into_iter().map(|env| {
            let diff = env.diff;
            let action = match env.action {
                promenade_model::resources::PromotionAction::Commit => "commit",
                promenade_model::resources::PromotionAction::Pr => "pull request",
                promenade_model::resources::PromotionAction::None => "no write",
            };
            let summary = if diff.applications.is_empty() {
                "unchanged".to_string()
            } else {
                format!("{} applications, {} files, +{} −{}", diff.applications.len(), diff.files, diff.added, diff.removed)
            };
            view! {
                <section class="preview-env" data-environment=diff.environment.clone()>
                    <h3>
                        {diff.environment.clone()}
                        <span class="badge">{action}</span>
                        <span class="muted">{summary}</span>
                    </h3>
                    {(!env.waits_for.is_empty()).then(|| view! {
                        <p class="preview-gates">
                            {format!("Waits for {} before writing.", env.waits_for.join(", then "))}
                        </p>
                    })}
                    {diff.applications.into_iter().map(|app| view! {
                        <details class="preview-app" open=true>
                            <summary>{format!("{} — {} files, +{} −{}", app.application, app.files.len(), app.added, app.removed)}</summary>
                            {app.files.into_iter().map(|file| view! {
                                <pre class="diff" aria-label=format!("Changes to {}", file.path)>
                                    {file.unified.lines().map(|line| {
                                        let class = diff_line_class(line);
                                        view! { <span class=class>{format!("{line}\n")}</span> }
                                    }).collect_view()}
                                </pre>
                            }).collect_view()}
                        </details>
                    }).collect_view()}
                </section>
            }
        }).collect_view()}
    }
}

fn diff_line_class(line: &str) -> &'static str {
    if line.starts_with("+++") || line.starts_with("---") || line.starts_with("diff --git") {
        "meta"
    } else if line.starts_with('+') {
        "add"
    } else if line.starts_with('-') {
        "del"
    } else if line.starts_with("@@") {
        "hunk"
    } else {
        "ctx"
    }
}

/// An error with what failed and what to do.
#[component]
pub fn ErrorNote(what: &'static str, error: String) -> impl IntoView {
    let error = error.replace("error running server function: ", "");
    let hint = if error.contains("sign in") {
        "Sign in again and retry."
    } else {
        "Reload the page to retry; if it persists, the server log has the details."
    };
    view! {
        <section class="card error-card" role="alert">
            <h2>{format!("Could not load {what}")}</h2>
            <p>{error}</p>
            <p class="muted">{hint}</p>
        </section>
    }
}

/// The pull request a running step waits for, as a link to the git host: `#12`, with its
/// state and checks in the title.
fn pull_request_link(request: promenade_model::release::PullRequestRecord) -> impl IntoView {
    let title = format!(
        "Pull request #{} {}{}",
        request.number,
        request.state.as_str(),
        request
            .checks
            .map(|c| format!(", checks {}", c.as_str()))
            .unwrap_or_default()
    );
    view! {
        <a class="badge pull-request" href=request.url target="_blank" rel="noopener noreferrer" title=title>
            {format!("#{}", request.number)}
        </a>
    }
}
