//! `/products/:name/delivery`: the product's delivery figures (the four DORA keys) over
//! 7, 30 or 90 days, with a small bar chart of deployments and failed changes per day.
//! The chart is inline SVG drawn here: a few rectangles need no chart library in the
//! bundle.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use promenade_model::delivery::{DeliveryDay, DeliveryFigures, WINDOWS};

use crate::layout::ErrorNote;
use crate::layout::PageTitle;

#[server]
pub async fn load_delivery(product: String, days: u32) -> Result<DeliveryFigures, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .delivery(&who, &product, days)
        .await
        .map_err(crate::session::failed)
}

/// `/products/:name/delivery?days=30`.
#[component]
pub fn DeliveryPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let product = move || params.read().get("name").unwrap_or_default();
    let days = move || {
        query
            .read()
            .get("days")
            .and_then(|d| d.parse::<u32>().ok())
            .filter(|d| WINDOWS.contains(d))
            .unwrap_or(30)
    };
    let figures = Resource::new(move || (product(), days()), |(p, d)| load_delivery(p, d));
    view! {
        <PageTitle title="Delivery" summary="How often changes reach production, how fast, how often they fail, and how soon the product recovers."/>
        <nav class="toolbar" aria-label="Window">
            {move || WINDOWS.map(|window| {
                let current = window == days();
                view! {
                    <A
                        href=format!("/products/{}/delivery?days={window}", product())
                        attr:class=if current { "button small" } else { "button secondary small" }
                        attr:aria-current=current.then_some("page")
                    >
                        {format!("{window} days")}
                    </A>
                }
            }).collect_view()}
            <A href=move || format!("/products/{}", product()) attr:class="button secondary small" attr:rel="external">"Dashboard"</A>
        </nav>
        <Transition fallback=|| view! { <p class="loading">"Loading the figures…"</p> }>
            {move || figures.get().map(|result| match result {
                Err(e) => view! { <ErrorNote what="the delivery figures" error=e.to_string()/> }.into_any(),
                Ok(f) => view! { <Figures figures=f/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn Figures(figures: DeliveryFigures) -> impl IntoView {
    let duration = |seconds: Option<f64>| seconds.map_or_else(|| "—".to_string(), human);
    let rate = figures
        .change_failure_rate
        .map_or_else(|| "—".to_string(), |r| format!("{:.0} %", r * 100.0));
    view! {
        <section class="card" aria-label=format!("Delivery of {}", figures.product)>
            <h2>{format!("{} — last {} days", figures.product, figures.days)}</h2>
            <dl class="figures" data-testid="delivery-figures">
                <div>
                    <dt>"Deployments to production"</dt>
                    <dd data-figure="deployments">
                        {figures.deployments}
                        <small>{format!(" ({:.2} a day)", figures.deployments_per_day)}</small>
                    </dd>
                </div>
                <div>
                    <dt>"Lead time (median)"</dt>
                    <dd data-figure="lead-time">{duration(figures.lead_time_seconds)}</dd>
                </div>
                <div>
                    <dt>"Change failure rate"</dt>
                    <dd data-figure="change-failure-rate">{rate}<small>{format!(" ({} failed)", figures.failures)}</small></dd>
                </div>
                <div>
                    <dt>"Time to restore (median)"</dt>
                    <dd data-figure="time-to-restore">{duration(figures.time_to_restore_seconds)}</dd>
                </div>
            </dl>
            <DailyChart days=figures.daily/>
        </section>
    }
}

/// Deployments (bars) and failed changes (the red part of a bar) per day.
#[component]
fn DailyChart(days: Vec<DeliveryDay>) -> impl IntoView {
    const HEIGHT: f64 = 80.0;
    const BAR: f64 = 8.0;
    let highest = days
        .iter()
        .map(|d| d.deployments.max(d.failures))
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = HEIGHT / f64::from(highest);
    let width = BAR * days.len() as f64;
    let label = format!(
        "Deployments per day, from {} to {}",
        days.first().map(|d| d.day.as_str()).unwrap_or_default(),
        days.last().map(|d| d.day.as_str()).unwrap_or_default()
    );
    view! {
        <svg
            class="daily-chart"
            role="img"
            aria-label=label
            viewBox=format!("0 0 {width} {HEIGHT}")
            preserveAspectRatio="none"
        >
            {days.into_iter().enumerate().map(|(index, day)| {
                let x = index as f64 * BAR;
                let deployed = f64::from(day.deployments) * scale;
                let failed = f64::from(day.failures) * scale;
                view! {
                    <g>
                        <title>{format!("{}: {} deployments, {} failed", day.day, day.deployments, day.failures)}</title>
                        <rect class="deployed" x=x + 1.0 y=HEIGHT - deployed width=BAR - 2.0 height=deployed/>
                        <rect class="failed" x=x + 1.0 y=HEIGHT - failed width=BAR - 2.0 height=failed/>
                    </g>
                }
            }).collect_view()}
        </svg>
    }
}

/// `3.5 h`, `2 d`, `45 min`.
fn human(seconds: f64) -> String {
    let minutes = seconds / 60.0;
    if minutes < 90.0 {
        format!("{minutes:.0} min")
    } else if minutes < 48.0 * 60.0 {
        format!("{:.1} h", minutes / 60.0)
    } else {
        format!("{:.1} d", minutes / 1440.0)
    }
}
