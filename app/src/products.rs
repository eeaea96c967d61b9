//! The products dashboard: environments as columns in flow order, applications as rows,
//! each cell with version, commit, age, drift and the running release. Every promote —
//! a cell's button, a column's, the whole flow, or dragging a version onto another
//! column — opens the preview first.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate, use_params_map, use_query_map};
use leptos_router::params::ParamsMap;
use leptos_router::NavigateOptions;
use promenade_model::overview::{
    DeployedCell, DeployedStatus, RowQuery, RunningRelease, StatusPage, ROWS_PER_PAGE,
};
use promenade_model::release::Preview;

use crate::control::LineControl;
use crate::format::{age, short_commit};
use crate::layout::{ErrorNote, PageTitle};
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

/// One page of `product`'s dashboard: the rows matching `filter` (and drifting, with
/// `drift_only`) from `offset`, and every column's summary over all of them.
#[server]
pub async fn load_status(
    product: String,
    filter: String,
    drift_only: bool,
    offset: usize,
) -> Result<StatusPage, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    let status = engine
        .product_status(&who, &product)
        .await
        .map_err(crate::session::failed)?;
    Ok(status.page(&RowQuery {
        filter,
        drift_only,
        offset,
        limit: ROWS_PER_PAGE,
    }))
}

/// What Argo CD runs for `applications` of `product`, in each environment.
#[server]
pub async fn load_deployed(
    product: String,
    applications: Vec<String>,
) -> Result<DeployedStatus, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    let mut status = engine
        .deployed_status(&who, &product)
        .await
        .map_err(crate::session::failed)?;
    status
        .cells
        .retain(|cell| applications.contains(&cell.application));
    Ok(status)
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

/// One page of a product's dashboard, reloaded whenever `refresh` goes up or the rows
/// asked for change; `None` when there is no product to show.
type StatusResource = Resource<Result<Option<StatusPage>, ServerFnError>>;

/// Which product a dashboard shows.
#[derive(Clone, Debug, PartialEq)]
enum Which {
    /// The first product, for `/`.
    First,
    Named(String),
}

/// The rows a dashboard shows, read from its address: `?q=` filters by name, `?drift=1`
/// keeps the drifting ones, `?page=` counts from 1. Kept in the address so a filtered
/// page can be linked to and reloaded, and its links work before the page hydrates.
fn rows_from_address() -> Memo<RowQuery> {
    let query = use_query_map();
    Memo::new(move |_| {
        query.with(|q| RowQuery {
            filter: q.get("q").unwrap_or_default(),
            drift_only: q.get_str("drift") == Some("1"),
            offset: q
                .get_str("page")
                .and_then(|page| page.parse::<usize>().ok())
                .map_or(0, |page| page.saturating_sub(1) * ROWS_PER_PAGE),
            limit: ROWS_PER_PAGE,
        })
    })
}

/// The address of the dashboard at `path` showing `rows`.
fn rows_href(path: &str, rows: &RowQuery) -> String {
    let mut query = ParamsMap::new();
    if !rows.filter.is_empty() {
        query.insert("q", rows.filter.clone());
    }
    if rows.drift_only {
        query.insert("drift", "1".to_string());
    }
    let page = rows.offset / ROWS_PER_PAGE + 1;
    if page > 1 {
        query.insert("page", page.to_string());
    }
    format!("{path}{}", query.to_query_string())
}

/// Pages create this at their top, never inside a branch that appears once other data
/// has arrived, and it depends on no other resource: a resource made in such a branch,
/// or reloaded when another one resolves, is serialized for the browser in whatever
/// order and state the server reached, and the browser then fails to hydrate the page.
fn status_resource(
    which: impl Fn() -> Which + Send + Sync + 'static,
    rows: Memo<RowQuery>,
    refresh: RwSignal<u32>,
) -> StatusResource {
    Resource::new(
        move || (which(), rows.get(), refresh.get()),
        |(which, rows, _)| async move {
            let product = match which {
                Which::Named(product) => product,
                Which::First => match list_products().await?.into_iter().next() {
                    Some(product) => product,
                    None => return Ok(None),
                },
            };
            load_status(product, rows.filter, rows.drift_only, rows.offset)
                .await
                .map(Some)
        },
    )
}

/// `/`: every product; the only one, or the first, shown in full.
#[component]
pub fn ProductsPage() -> impl IntoView {
    let products = Resource::new(|| (), |_| list_products());
    let refresh = RwSignal::new(0u32);
    let rows = rows_from_address();
    let status = status_resource(|| Which::First, rows, refresh);
    view! {
        <PageTitle
            title="Products"
            summary="Every application of a product across its environments: versions, drift and running releases."
        />
        <crate::freeze::FreezeBanner/>
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
                        <Dashboard product=first status=status rows=rows refresh=refresh/>
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
    let rows = rows_from_address();
    let status = status_resource(move || Which::Named(name()), rows, refresh);
    view! {
        <PageTitle title="Product" summary="Versions, drift and running releases per environment."/>
        <crate::freeze::FreezeBanner/>
        {move || view! { <Dashboard product=name() status=status rows=rows refresh=refresh/> }}
    }
}

/// Where the shared promote menu is open: for which cell, and where on the screen.
#[derive(Clone, Debug, PartialEq)]
struct MenuAt {
    application: String,
    from: String,
    /// Viewport coordinates of the opening button's bottom left corner.
    left: f64,
    top: f64,
}

#[component]
fn Dashboard(
    product: String,
    status: StatusResource,
    rows: Memo<RowQuery>,
    refresh: RwSignal<u32>,
) -> impl IntoView {
    let intent = RwSignal::new(None::<Intent>);
    let menu = RwSignal::new(None::<MenuAt>);
    let deployed = Deployed::new(DeployedView::default());
    let product_name = StoredValue::new(product.clone());
    let location = use_location();
    let navigate = use_navigate();
    let show = move |wanted: RowQuery| {
        let href = rows_href(&location.pathname.get_untracked(), &wanted);
        navigate(
            &href,
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };
    let filter_to = show.clone();

    view! {
        <section class="dashboard" aria-label=format!("Product {product}")>
            <div class="toolbar">
                <h2>{product.clone()}</h2>
                <label class="filter">
                    "Application "
                    // Set once, not bound: the address follows the box, and rebinding
                    // the box to it while typing would move the caret.
                    <input
                        type="search"
                        placeholder="filter by name"
                        aria-label="Filter applications by name"
                        prop:value=rows.get_untracked().filter
                        on:input=move |ev| filter_to(RowQuery {
                            filter: event_target_value(&ev),
                            ..rows.get_untracked()
                        }.first_page())
                    />
                </label>
                <label class="filter">
                    <input
                        type="checkbox"
                        prop:checked=move || rows.get().drift_only
                        on:change=move |ev| show(RowQuery {
                            drift_only: event_target_checked(&ev),
                            ..rows.get_untracked()
                        }.first_page())
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
                <A href=format!("/products/{product}/delivery") attr:class="button secondary" attr:rel="external">"Delivery figures"</A>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading the dashboard…"</p> }>
                {move || status.get().map(|result| match result {
                    Err(e) => view! { <ErrorNote what="the product status" error=e.to_string()/> }.into_any(),
                    Ok(None) => view! { <p class="loading">"Loading the dashboard…"</p> }.into_any(),
                    Ok(Some(page)) => {
                        let shown: Vec<String> = page.status.applications.iter().map(|a| a.name.clone()).collect();
                        view! {
                            {page.status.argocd.then(|| view! {
                                <DeployedPoller product=page.status.product.clone() applications=shown deployed=deployed/>
                            })}
                            <DeployedProblems deployed=deployed/>
                            <LineControl
                                product=page.status.product.clone()
                                blocked=page.status.blocked.clone()
                                pauses=page.status.pauses.clone()
                                environments=page.status.environments.iter().map(|e| e.name.clone()).collect()
                                refresh=refresh
                            />
                            <Pager page=page.clone() rows=rows/>
                            <StatusTable page=page rows=rows refresh=refresh intent=intent menu=menu deployed=deployed/>
                        }.into_any()
                    }
                })}
            </Transition>
            <PromoteMenu menu=menu intent=intent status=status/>
            {move || intent.get().map(|chosen| view! {
                <PreviewModal product=product_name.get_value() intent=chosen on_close=move || intent.set(None)/>
            })}
        </section>
    }
}

/// Which rows are shown, and links to the pages before and after.
#[component]
fn Pager(page: StatusPage, rows: Memo<RowQuery>) -> impl IntoView {
    let location = use_location();
    let path = location.pathname.get_untracked();
    let first = page.offset + 1;
    let last = page.offset + page.status.applications.len();
    let shown = if page.matching == 0 {
        "No application matches".to_string()
    } else {
        format!("Applications {first}–{last} of {}", page.matching)
    };
    let of_total =
        (page.matching != page.total).then(|| format!(" ({} in the product)", page.total));
    let current = rows.get_untracked();
    let previous = (page.offset > 0).then(|| {
        rows_href(
            &path,
            &RowQuery {
                offset: page.offset.saturating_sub(page.limit),
                ..current.clone()
            },
        )
    });
    let next = (last < page.matching).then(|| {
        rows_href(
            &path,
            &RowQuery {
                offset: page.offset + page.limit,
                ..current.clone()
            },
        )
    });
    view! {
        <nav class="pager" aria-label="Pages of applications">
            <span data-testid="rows-shown">{shown}{of_total}</span>
            {previous.map(|href| view! { <A href=href attr:class="button small secondary">"Previous page"</A> })}
            {next.map(|href| view! { <A href=href attr:class="button small secondary">"Next page"</A> })}
        </nav>
    }
}

/// Follows the product's events from the one the page was read at, so nothing that
/// happens while it loads is missed, and reads the page again after each burst of them.
/// When only cells changed they are updated in place (each cell redraws only if its
/// own value changed); when rows, blocks or pauses changed, the whole page reloads.
fn follow_product(
    product: String,
    current: RwSignal<StatusPage>,
    rows: Memo<RowQuery>,
    refresh: RwSignal<u32>,
) {
    let events = RwSignal::new(0u32);
    let after = current.with_untracked(|p| p.status.last_event);
    refresh_on_events(
        format!("/api/v1/events?product={product}&after={after}"),
        false,
        std::time::Duration::from_millis(250),
        events,
    );
    Effect::new(move |seen: Option<u32>| {
        let now = events.get();
        if seen.is_some() {
            let product = product.clone();
            let wanted = rows.get_untracked();
            leptos::task::spawn_local(async move {
                let Ok(fresh) =
                    load_status(product, wanted.filter, wanted.drift_only, wanted.offset).await
                else {
                    return;
                };
                let in_place = current.try_with_untracked(|page| page.same_layout(&fresh));
                match in_place {
                    Some(true) => {
                        current.try_set(fresh);
                    }
                    Some(false) => {
                        refresh.try_update(|n| *n += 1);
                    }
                    None => {}
                }
            });
        }
        now
    });
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

/// Reads what Argo CD runs for the page's applications now and every
/// [`DEPLOYED_EVERY`] while the dashboard is shown. Argo CD has no event stream
/// Promenade could follow, so this one view polls.
#[component]
fn DeployedPoller(product: String, applications: Vec<String>, deployed: Deployed) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let read = move || {
            let (product, applications) = (product.clone(), applications.clone());
            leptos::task::spawn_local(async move {
                if let Ok(status) = load_deployed(product, applications).await {
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
        let _ = (product, applications, deployed);
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
    page: StatusPage,
    rows: Memo<RowQuery>,
    refresh: RwSignal<u32>,
    intent: RwSignal<Option<Intent>>,
    menu: RwSignal<Option<MenuAt>>,
    deployed: Deployed,
) -> impl IntoView {
    let environments = page.status.environments.clone();
    let applications: Vec<String> = page
        .status
        .applications
        .iter()
        .map(|a| a.name.clone())
        .collect();
    let product = page.status.product.clone();
    let current = RwSignal::new(page);
    follow_product(product, current, rows, refresh);

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
                                aria-label=format!("Promote here: everything to {to}")
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

    let summary = (0..environments.len())
        .map(|column| {
            let mine = Memo::new(move |_| current.with(|p| p.summary.get(column).cloned()));
            view! {
                <td class="summary">
                    {move || mine.get().map(|summary| view! {
                        <div class="summary-cell">
                            <span>{format!(
                                "{}/{} at {}",
                                summary.at_version,
                                summary.cells,
                                summary.version.unwrap_or_else(|| "—".into())
                            )}</span>
                            {(summary.drifting > 0).then(|| view! {
                                <span class="badge drift">{format!("{} drift", summary.drifting)}</span>
                            })}
                            {summary.release.map(running_release)}
                        </div>
                    })}
                </td>
            }
        })
        .collect_view();

    let body = applications
        .into_iter()
        .map(|name| {
            let cells = environments
                .iter()
                .map(|env| {
                    view! {
                        <CellView
                            application=name.clone()
                            environment=env.name.clone()
                            prod=env.prod
                            current=current
                            intent=intent
                            menu=menu
                            deployed=deployed
                        />
                    }
                })
                .collect_view();
            view! {
                <tr>
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
                    {body}
                </tbody>
            </table>
        </div>
    }
}

/// A release's state linking to it, with its pull request and break-glass.
fn running_release(release: RunningRelease) -> impl IntoView {
    view! {
        <A href=format!("/releases/{}", release.id) attr:class=format!("state state-{}", release.status.as_str())>
            {release.status.as_str()}
        </A>
        {release.pull_request.map(pull_request_link)}
        {release.break_glass.map(|glass| view! {
            <span class="badge break-glass" title=glass.describe()>"break-glass"</span>
        })}
    }
}

/// One application in one environment. It watches only its own cell of the page, so a
/// live update redraws the cells that changed and leaves the others alone. Its one
/// control opens the dashboard's shared promote menu (its visible word is part of its
/// accessible name, which says which cell).
#[component]
fn CellView(
    application: String,
    environment: String,
    prod: bool,
    current: RwSignal<StatusPage>,
    intent: RwSignal<Option<Intent>>,
    menu: RwSignal<Option<MenuAt>>,
    deployed: Deployed,
) -> impl IntoView {
    let mine = {
        let (application, environment) = (application.clone(), environment.clone());
        Memo::new(move |_| {
            current.with(|page| {
                let cell = page
                    .cell(&application, &environment)
                    .cloned()
                    .unwrap_or_default();
                let blocked = cell
                    .version
                    .as_deref()
                    .and_then(|v| page.status.block_on(v))
                    .map(|b| format!("Blocked by {}: {}", b.blocked_by, b.reason));
                (cell, blocked)
            })
        })
    };
    let payload = format!("{application}\n{environment}");
    let drop_target = environment.clone();
    let label = format!("{application} in {environment}");
    let menu_label = format!("Promote {application} from {environment} to…");
    let opener = (application.clone(), environment.clone());
    view! {
        <td
            class=if prod { "cell prod" } else { "cell" }
            class:blocked=move || mine.with(|(_, blocked)| blocked.is_some())
            data-application=application.clone()
            data-environment=environment.clone()
            on:dragover=move |ev| ev.prevent_default()
            on:drop=move |ev| drop_version(ev, &drop_target, intent)
        >
            {move || {
                let (cell, blocked) = mine.get();
                let now = current.with_untracked(|p| p.status.generated_at.clone());
                view! {
                    <div
                        class="version"
                        draggable="true"
                        aria-label=label.clone()
                        title="Drag onto another environment to promote this version there"
                        on:dragstart={
                            let payload = payload.clone();
                            move |ev| {
                                if let Some(transfer) = ev.data_transfer() {
                                    let _ = transfer.set_data("text/plain", &payload);
                                }
                            }
                        }
                    >
                        <strong>{cell.version.clone().unwrap_or_else(|| "—".into())}</strong>
                        {cell.commit.as_deref().map(|c| view! { <code class="commit">{short_commit(c).to_string()}</code> })}
                    </div>
                    <div class="meta">
                        {cell.committed_at.as_deref().map(|at| view! { <span class="age">{age(at, &now)}</span> })}
                        {cell.drift.then(|| view! { <span class="badge drift" title="Differs from the upstream environment">"drift"</span> })}
                        {blocked.map(|why| view! { <span class="badge blocked" title=why>"blocked"</span> })}
                        {cell.release.clone().map(running_release)}
                        {cell.error.clone().map(|e| view! { <span class="badge error-badge" title=e>"unreadable"</span> })}
                    </div>
                }
            }}
            <DeployedBadge application=application.clone() environment=environment.clone() deployed=deployed/>
            <button
                class="button small secondary promote-to"
                aria-label=menu_label
                aria-haspopup="menu"
                on:click=move |ev| {
                    let (left, top) = below(&ev);
                    menu.set(Some(MenuAt { application: opener.0.clone(), from: opener.1.clone(), left, top }));
                }
            >
                "Promote"
            </button>
        </td>
    }
}

/// Where a menu opened by the clicked element goes: under it, in viewport coordinates.
fn below(ev: &leptos::ev::MouseEvent) -> (f64, f64) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(element) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            let rect = element.get_bounding_client_rect();
            return (rect.left(), rect.bottom());
        }
    }
    let _ = ev;
    (0.0, 0.0)
}

/// The dashboard's one promote menu, opened by any cell's "Promote" button: every
/// other environment of the flow, the next one first. Arrow keys move through it,
/// Escape closes it.
#[component]
fn PromoteMenu(
    menu: RwSignal<Option<MenuAt>>,
    intent: RwSignal<Option<Intent>>,
    status: StatusResource,
) -> impl IntoView {
    let list = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if menu.with(Option::is_some) {
            #[cfg(feature = "hydrate")]
            if let Some(first) = list
                .get()
                .and_then(|list| list.query_selector("button").ok().flatten())
            {
                use wasm_bindgen::JsCast;
                if let Ok(first) = first.dyn_into::<web_sys::HtmlElement>() {
                    let _ = first.focus();
                }
            }
        }
    });
    move || {
        let at = menu.get()?;
        let environments = status
            .get_untracked()
            .and_then(|r| r.ok().flatten())
            .map(|page| page.status.environments)
            .unwrap_or_default();
        let next: Vec<&str> = environments
            .iter()
            .filter(|e| e.upstream.as_deref() == Some(at.from.as_str()))
            .map(|e| e.name.as_str())
            .collect();
        let mut targets: Vec<String> = environments
            .iter()
            .filter(|e| e.name != at.from)
            .map(|e| e.name.clone())
            .collect();
        targets.sort_by_key(|name| !next.contains(&name.as_str()));
        let items = targets
            .into_iter()
            .map(|to| {
                let (application, from) = (at.application.clone(), at.from.clone());
                let label = if next.contains(&to.as_str()) {
                    format!("{to} (next)")
                } else {
                    to.clone()
                };
                view! {
                    <button
                        role="menuitem"
                        class="menu-item"
                        on:click=move |_| {
                            menu.set(None);
                            intent.set(Some(Intent {
                                title: format!("Promote {application}: {from} → {to}"),
                                from: Some(from.clone()),
                                to: Some(to.clone()),
                                application: Some(application.clone()),
                            }));
                        }
                    >
                        {label}
                    </button>
                }
            })
            .collect_view();
        Some(view! {
            <div class="menu-backdrop" on:click=move |_| menu.set(None)></div>
            <div
                class="promote-menu"
                role="menu"
                aria-label=format!("Promote {} from {} to", at.application, at.from)
                style=format!("left: {}px; top: {}px", at.left, at.top)
                node_ref=list
                on:keydown=move |ev| menu_keys(&ev, menu)
            >
                {items}
            </div>
        })
    }
}

/// Arrow keys move between a menu's items; Escape and Tab close it, Escape handing the
/// focus back to the button that opened it.
fn menu_keys(ev: &leptos::ev::KeyboardEvent, menu: RwSignal<Option<MenuAt>>) {
    match ev.key().as_str() {
        "Tab" => menu.set(None),
        "Escape" => {
            #[cfg(feature = "hydrate")]
            if let Some(at) = menu.get_untracked() {
                use wasm_bindgen::JsCast;
                let opener = format!(
                    "td.cell[data-application=\"{}\"][data-environment=\"{}\"] button.promote-to",
                    at.application, at.from
                );
                if let Some(button) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.query_selector(&opener).ok().flatten())
                    .and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok())
                {
                    let _ = button.focus();
                }
            }
            menu.set(None);
        }
        #[cfg(feature = "hydrate")]
        key @ ("ArrowDown" | "ArrowUp") => {
            use wasm_bindgen::JsCast;
            ev.prevent_default();
            let focused = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.active_element());
            let sibling = focused.and_then(|item| {
                if key == "ArrowDown" {
                    item.next_element_sibling()
                } else {
                    item.previous_element_sibling()
                }
            });
            if let Some(item) = sibling.and_then(|s| s.dyn_into::<web_sys::HtmlElement>().ok()) {
                let _ = item.focus();
            }
        }
        _ => {}
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
                            {file_diffs(app.files)}
                        </details>
                    }).collect_view()}
                </section>
            }
        }).collect_view()}
    }
}

/// Unified diffs of files, coloured line by line.
pub(crate) fn file_diffs(files: Vec<promenade_model::diff::FileDiff>) -> impl IntoView {
    files
        .into_iter()
        .map(|file| {
            view! {
                <pre class="diff" aria-label=format!("Changes to {}", file.path)>
                    {file.unified.lines().map(|line| {
                        let class = diff_line_class(line);
                        view! { <span class=class>{format!("{line}\n")}</span> }
                    }).collect_view()}
                </pre>
            }
        })
        .collect_view()
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
