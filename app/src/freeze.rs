//! Freezes in the UI: the banner the dashboard and the designer show while a freeze
//! holds or is about to, and (on the dashboard's pages) the break-glass dialog on a
//! release held by one. The
//! engine decides who may break the glass (release managers and admins) and says why
//! when it refuses.

use leptos::prelude::*;
use promenade_model::freeze::{FreezeState, FreezeStatus};

/// How far ahead the banner announces a freeze.
#[cfg(feature = "ssr")]
const UPCOMING: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// The freezes that hold now or begin within a week, active ones first.
#[server]
pub async fn current_freezes() -> Result<Vec<FreezeStatus>, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    let all = engine
        .freezes(&who, UPCOMING)
        .await
        .map_err(crate::session::failed)?;
    Ok(all
        .into_iter()
        .filter(|f| f.state != FreezeState::Inactive)
        .collect())
}

#[cfg(feature = "dashboard")]
#[server]
pub async fn break_glass(
    id: String,
    environment: String,
    reason: String,
) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .break_glass(&who, &id, &environment, &reason)
        .await
        .map_err(crate::session::failed)?;
    Ok(())
}

/// `Frozen: weekends holds every product in every prod environment until … — reason`,
/// one line per freeze; nothing when none holds or begins within a week.
#[component]
pub fn FreezeBanner() -> impl IntoView {
    let freezes = Resource::new(|| (), |()| current_freezes());
    view! {
        <Suspense>
            {move || freezes.get().and_then(Result::ok).filter(|list| !list.is_empty()).map(|list| view! {
                <aside class="freeze-banner" aria-label="Freezes" data-testid="freeze-banner">
                    <ul>
                        {list.into_iter().map(|freeze| {
                            let (label, when) = match freeze.state {
                                FreezeState::Active => ("Frozen", format!("until {}", freeze.until.clone().unwrap_or_default())),
                                _ => ("Upcoming freeze", format!("from {} to {}", freeze.from.clone().unwrap_or_default(), freeze.until.clone().unwrap_or_default())),
                            };
                            view! {
                                <li data-state=freeze.state.as_str()>
                                    <span aria-hidden="true">"❄ "</span>
                                    <strong>{label}</strong>
                                    {format!(": {} holds {} {when} — {}", freeze.name, freeze.scope, freeze.reason)}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </aside>
            })}
        </Suspense>
    }
}

/// The action that lets a release through a freeze: (release, environment, reason).
#[cfg(feature = "dashboard")]
pub type BreakGlassAction = Action<(String, String, String), Result<(), ServerFnError>>;

/// Which environment's freeze the dialog is about to let the release through, if any.
#[cfg(feature = "dashboard")]
pub type GlassTarget = RwSignal<Option<String>>;

/// `Let through…` on a step a freeze holds: opens the page's break-glass dialog for it.
#[cfg(feature = "dashboard")]
#[component]
pub fn LetThroughButton(environment: String, target: GlassTarget) -> impl IntoView {
    // The dialog needs the bundle: before it runs, the button does nothing.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <button
            class="button danger"
            disabled=move || !hydrated.get()
            on:click=move |_| target.set(Some(environment.clone()))
        >
            "Let through…"
        </button>
    }
}

/// The dialog that asks why before letting release `id` through a freeze. It lives
/// on the page, outside the live-refreshed release view, so an update does not close
/// it while someone types.
#[cfg(feature = "dashboard")]
#[component]
pub fn BreakGlassDialog(
    id: String,
    target: GlassTarget,
    action: BreakGlassAction,
) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(environment) = target.get_untracked() {
            action.dispatch((id.clone(), environment, reason.get_untracked()));
        }
        target.set(None);
        reason.set(String::new());
    };
    let title = move || {
        format!(
            "Let this release through the freeze in {}",
            target.get().unwrap_or_default()
        )
    };
    view! {
        <Show when=move || target.get().is_some()>
            <div class="modal-backdrop">
                <form class="modal modal-narrow" role="dialog" aria-modal="true" aria-label=title on:submit=submit.clone()>
                    <header class="modal-header"><h2>{title}</h2></header>
                    <p class="muted">"The reason is recorded in the audit trail and shown on the release and the dashboard."</p>
                    <label class="message">
                        "Reason"
                        <textarea
                            required
                            prop:value=move || reason.get()
                            on:input=move |ev| reason.set(event_target_value(&ev))
                        ></textarea>
                    </label>
                    <footer class="modal-footer">
                        <button type="button" class="button secondary" on:click=move |_| target.set(None)>"Cancel"</button>
                        <button type="submit" class="button danger">"Let through"</button>
                    </footer>
                </form>
            </div>
        </Show>
    }
}
