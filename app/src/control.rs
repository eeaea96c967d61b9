//! Release control on the dashboard: the product's pauses and blocked versions, each
//! with a way to lift it, and the forms that pause the product (or one environment) and
//! block a version. The engine decides who may (promoters block; release managers
//! unblock, pause and resume) and says why when it refuses.

use leptos::prelude::*;
use promenade_model::release::{BlockedVersion, Pause};

use crate::form::{report, Field};

#[server]
pub async fn block_version(
    product: String,
    version: String,
    reason: String,
) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .block_version(&who, &product, &version, &reason)
        .await
        .map_err(crate::session::failed)?;
    Ok(())
}

#[server]
pub async fn unblock_version(product: String, version: String) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .unblock_version(&who, &product, &version)
        .await
        .map_err(crate::session::failed)
}

#[server]
pub async fn pause_product(
    product: String,
    environment: Option<String>,
    reason: String,
) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .pause_releases(&who, &product, environment.as_deref(), &reason)
        .await
        .map_err(crate::session::failed)?;
    Ok(())
}

#[server]
pub async fn resume_product(
    product: String,
    environment: Option<String>,
) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .resume_releases(&who, &product, environment.as_deref())
        .await
        .map_err(crate::session::failed)
}

/// Above the dashboard's table: what holds or stops the product's releases, and the
/// forms that do so; `environments` are the flow's, `refresh` reloads the dashboard.
#[component]
pub fn LineControl(
    product: String,
    blocked: Vec<BlockedVersion>,
    pauses: Vec<Pause>,
    environments: Vec<String>,
    refresh: RwSignal<u32>,
) -> impl IntoView {
    let product = StoredValue::new(product);
    let (version, reason) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let (paused_env, pause_reason) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let outcome = RwSignal::new(String::new());
    let block =
        Action::new(move |_: &()| block_version(product.get_value(), version.get(), reason.get()));
    let unblock = Action::new(move |v: &String| unblock_version(product.get_value(), v.clone()));
    let pause = Action::new(move |_: &()| {
        let environment = Some(paused_env.get()).filter(|e| !e.is_empty());
        pause_product(product.get_value(), environment, pause_reason.get())
    });
    let resume =
        Action::new(move |e: &Option<String>| resume_product(product.get_value(), e.clone()));
    report(block, outcome, refresh, move || {
        let text = format!("{} blocked.", version.get_untracked());
        version.set(String::new());
        reason.set(String::new());
        text
    });
    report(unblock, outcome, refresh, || "Unblocked.".into());
    report(pause, outcome, refresh, move || {
        pause_reason.set(String::new());
        "Paused.".into()
    });
    report(resume, outcome, refresh, || "Resumed.".into());
    let busy = move || {
        block.pending().get()
            || unblock.pending().get()
            || pause.pending().get()
            || resume.pending().get()
    };
    let held = !(blocked.is_empty() && pauses.is_empty());
    view! {
        <section class="line-control" aria-label="Release control" data-testid="line-control">
            {held.then(|| view! {
                <ul class="held-list">
                    {pauses.into_iter().map(|p| {
                        let scope = p.scope().to_string();
                        let which = p.environment.clone();
                        view! {
                            <li data-paused=scope.clone()>
                                <span class="badge paused">"paused"</span>
                                {format!(" {scope} — {} (by {}) ", p.reason, p.paused_by)}
                                <button
                                    class="button secondary small"
                                    aria-label=format!("Resume {scope}")
                                    disabled=busy
                                    on:click=move |_| { resume.dispatch(which.clone()); }
                                >"Resume"</button>
                            </li>
                        }
                    }).collect_view()}
                    {blocked.into_iter().map(|b| {
                        let which = b.version.clone();
                        view! {
                            <li data-version=b.version.clone()>
                                <span class="badge blocked">"blocked"</span>
                                " " <strong>{b.version.clone()}</strong>
                                {format!(" — {} (by {}) ", b.reason, b.blocked_by)}
                                <button
                                    class="button secondary small"
                                    aria-label=format!("Unblock {}", b.version)
                                    disabled=busy
                                    on:click=move |_| { unblock.dispatch(which.clone()); }
                                >"Unblock"</button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}
            <details>
                <summary>"Pause or stop the line"</summary>
                <form
                    class="control-form"
                    aria-label="Pause releases"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        pause.dispatch(());
                    }
                >
                    <label for="pause-environment">"Where"</label>
                    <select
                        id="pause-environment"
                        prop:value=move || paused_env.get()
                        on:change=move |ev| paused_env.set(event_target_value(&ev))
                    >
                        <option value="">"every environment"</option>
                        {environments.into_iter().map(|e| view! {
                            <option value=e.clone()>{e.clone()}</option>
                        }).collect_view()}
                    </select>
                    <Field label="Why" id="pause-reason" value=pause_reason/>
                    <button type="submit" class="button small" disabled=busy>"Pause"</button>
                </form>
                <form
                    class="control-form"
                    aria-label="Block a version"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        block.dispatch(());
                    }
                >
                    <Field label="Version" id="block-version" value=version/>
                    <Field label="Reason" id="block-reason" value=reason/>
                    <button type="submit" class="button danger small" disabled=busy>"Block"</button>
                </form>
            </details>
            <p role="status" aria-live="polite" data-testid="control-status">{move || outcome.get()}</p>
        </section>
    }
}
