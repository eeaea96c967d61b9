//! The audit trail section of the settings page, for admins: newest entries first,
//! filtered by action or actor, paged back in time; a resource change opens to its diff.

use leptos::prelude::*;
use promenade_model::audit::{AuditAction, AuditEntry};

use crate::layout::ErrorNote;

/// One page of the trail, or `None` when the caller may not read it (not an admin):
/// the section is then left out rather than shown as an error.
#[server]
pub async fn audit_page(
    action: String,
    actor: String,
    before: Option<i64>,
) -> Result<Option<Vec<AuditEntry>>, ServerFnError> {
    use promenade_engine::auth::Role;
    use promenade_model::audit::AuditQuery;
    let (engine, who) = crate::session::caller().await?;
    if !who.has(Role::Admin) {
        return Ok(None);
    }
    let present = |text: String| (!text.trim().is_empty()).then(|| text.trim().to_string());
    let query = AuditQuery {
        actor: present(actor),
        action: present(action)
            .map(|a| a.parse())
            .transpose()
            .map_err(ServerFnError::new)?,
        object: None,
        before,
        limit: Some(PAGE),
    };
    engine
        .audit_trail(&who, &query)
        .await
        .map(Some)
        .map_err(crate::session::failed)
}

const PAGE: u32 = 50;

#[component]
pub fn AuditPanel() -> impl IntoView {
    let action = RwSignal::new(String::new());
    let actor = RwSignal::new(String::new());
    // The pages shown so far: each `before` is the last id of the page above it.
    let before = RwSignal::new(None::<i64>);
    let page = Resource::new(
        move || (action.get(), actor.get(), before.get()),
        |(action, actor, before)| audit_page(action, actor, before),
    );
    view! {
        <Transition fallback=|| ()>
            {move || page.get().map(|answer| match answer {
                Ok(None) => ().into_any(),
                Err(e) => view! { <ErrorNote what="the audit trail" error=e.to_string()/> }.into_any(),
                Ok(Some(entries)) => {
                    let last = entries.last().map(|e| e.id);
                    let full = entries.len() == PAGE as usize;
                    view! {
                        <section class="card" aria-labelledby="audit-heading" data-testid="audit">
                            <h2 id="audit-heading">"Audit trail"</h2>
                            <div class="audit-filters">
                                <label for="audit-action">"Action"</label>
                                <select
                                    id="audit-action"
                                    prop:value=move || action.get()
                                    on:change=move |ev| {
                                        before.set(None);
                                        action.set(event_target_value(&ev));
                                    }
                                >
                                    <option value="">"all"</option>
                                    {AuditAction::ALL.into_iter().map(|a| view! {
                                        <option value=a.as_str()>{a.as_str()}</option>
                                    }).collect_view()}
                                </select>
                                <label for="audit-actor">"Actor"</label>
                                <input
                                    id="audit-actor"
                                    type="search"
                                    placeholder="user ada"
                                    prop:value=move || actor.get()
                                    on:change=move |ev| {
                                        before.set(None);
                                        actor.set(event_target_value(&ev));
                                    }
                                />
                            </div>
                            <AuditTable entries/>
                            <div class="form-actions">
                                <Show when=move || before.get().is_some()>
                                    <button class="button secondary small" on:click=move |_| before.set(None)>
                                        "Newest"
                                    </button>
                                </Show>
                                {full.then(|| view! {
                                    <button class="button secondary small" on:click=move |_| before.set(last)>
                                        "Older"
                                    </button>
                                })}
                            </div>
                        </section>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p data-testid="no-audit">"Nothing recorded."</p> }.into_any();
    }
    view! {
        <div class="table-scroll"><table class="release-table" data-testid="audit-table">
            <thead><tr>
                <th scope="col">"When (UTC)"</th>
                <th scope="col">"Actor"</th>
                <th scope="col">"Action"</th>
                <th scope="col">"Object"</th>
                <th scope="col">"Detail"</th>
            </tr></thead>
            <tbody>
                {entries.into_iter().map(|e| view! {
                    <tr data-action=e.action.as_str()>
                        <td>{e.at.get(..19).unwrap_or(&e.at).replace('T', " ")}</td>
                        <td>{e.actor.clone()}{e.address.clone().map(|a| view! { <span class="muted">" from " {a}</span> })}</td>
                        <td><code>{e.action.as_str()}</code></td>
                        <td><code>{e.object.clone()}</code></td>
                        <td><Detail text=e.detail.clone()/></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}

/// A one-line detail as text; a longer one (a diff) folded under its first line.
#[component]
fn Detail(text: Option<String>) -> impl IntoView {
    let text = text.unwrap_or_default();
    match text.split_once('\n') {
        Some((first, rest)) if !rest.trim().is_empty() => view! {
            <details>
                <summary>{first.to_string()}</summary>
                <pre class="diff">{rest.to_string()}</pre>
            </details>
        }
        .into_any(),
        _ => text.into_any(),
    }
}
