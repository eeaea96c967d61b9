//! The people and API tokens sections of the settings page, for admins: add and remove
//! users, change their role, reset a password; create API tokens — whose secret is
//! shown once, right after — and revoke them. The engine checks every request (admins
//! only, and never without an administrator left) and says why when it refuses.

use leptos::prelude::*;
use promenade_model::access::{Role, TokenInfo, UserInfo};

use crate::form::{report, Field};
use crate::layout::ErrorNote;

#[cfg(feature = "ssr")]
fn role(text: &str) -> Result<Role, ServerFnError> {
    text.parse::<Role>()
        .map_err(|e| crate::session::failed(promenade_engine::EngineError::BadRequest(e)))
}

#[server]
pub async fn list_users() -> Result<Vec<UserInfo>, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .list_users(&who)
        .await
        .map_err(crate::session::failed)
}

#[server]
pub async fn add_user(
    name: String,
    role_name: String,
    password: String,
) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .create_user(&who, name.trim(), &password, role(&role_name)?)
        .await
        .map_err(crate::session::failed)
}

#[server]
pub async fn remove_user(name: String) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .remove_user(&who, &name)
        .await
        .map_err(crate::session::failed)
}

#[server]
pub async fn set_role(name: String, role_name: String) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .set_role(&who, &name, role(&role_name)?)
        .await
        .map_err(crate::session::failed)
}

#[server]
pub async fn reset_password(name: String, password: String) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .set_password(&who, &name, &password)
        .await
        .map_err(crate::session::failed)
}

#[server]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .list_tokens(&who)
        .await
        .map_err(crate::session::failed)
}

/// Creates an API token; the answer is its secret, which is stored nowhere.
#[server]
pub async fn create_token(name: String, role_name: String) -> Result<String, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .create_token(&who, name.trim(), role(&role_name)?)
        .await
        .map_err(crate::session::failed)
}

#[server]
pub async fn revoke_token(name: String) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .revoke_token(&who, &name)
        .await
        .map_err(crate::session::failed)
}

/// A role picker bound to `value`.
#[component]
fn RoleSelect(id: String, label: String, value: RwSignal<String>) -> impl IntoView {
    view! {
        <select
            id=id
            aria-label=label
            prop:value=move || value.get()
            on:change=move |ev| value.set(event_target_value(&ev))
        >
            {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> }).collect_view()}
        </select>
    }
}

/// The users and API tokens sections; nothing for those who are not admins.
#[component]
pub fn AccountsPanels() -> impl IntoView {
    let user = Resource::new(|| (), |_| crate::session::current_user());
    view! {
        <Suspense fallback=|| ()>
            {move || user.get().and_then(Result::ok).flatten().filter(|u| u.role == Role::Admin.as_str()).map(|_| view! {
                <UsersPanel/>
                <TokensPanel/>
            })}
        </Suspense>
    }
}

#[component]
fn UsersPanel() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let list = Resource::new(move || refresh.get(), |_| list_users());
    let outcome = RwSignal::new(String::new());

    let name = RwSignal::new(String::new());
    let new_role = RwSignal::new(Role::Viewer.as_str().to_string());
    let password = RwSignal::new(String::new());
    let add = Action::new(move |_: &()| {
        add_user(
            name.get_untracked(),
            new_role.get_untracked(),
            password.get_untracked(),
        )
    });
    let remove = Action::new(|name: &String| remove_user(name.clone()));
    let change_role =
        Action::new(|(name, role): &(String, String)| set_role(name.clone(), role.clone()));
    let reset = Action::new(|(name, password): &(String, String)| {
        reset_password(name.clone(), password.clone())
    });
    report(add, outcome, refresh, move || {
        password.set(String::new());
        format!("Added {}.", name.get_untracked())
    });
    report(remove, outcome, refresh, || "Removed.".to_string());
    report(change_role, outcome, refresh, || {
        "Role changed.".to_string()
    });
    report(reset, outcome, refresh, || {
        "Password set; that user's sessions have ended.".to_string()
    });
    // Until the bundle runs, a click would submit the form to the page itself.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let busy = move || {
        !hydrated.get()
            || add.pending().get()
            || remove.pending().get()
            || change_role.pending().get()
            || reset.pending().get()
    };

    view! {
        <section class="card" aria-labelledby="users-heading" data-testid="users">
            <h2 id="users-heading">"Users"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading users…"</p> }>
                {move || list.get().map(|result| match result {
                    Err(e) => view! { <ErrorNote what="the users" error=e.to_string()/> }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-scroll"><table class="release-table" data-testid="users-table">
                            <thead><tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Role"</th>
                                <th scope="col">"Since"</th>
                                <th scope="col">"Actions"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|u| {
                                    let role = RwSignal::new(u.role.as_str().to_string());
                                    let new_password = RwSignal::new(String::new());
                                    let (for_role, for_reset, for_remove) = (u.name.clone(), u.name.clone(), u.name.clone());
                                    view! {
                                        <tr>
                                            <th scope="row">{u.name.clone()}</th>
                                            <td>
                                                <RoleSelect id=format!("role-{}", u.name) label=format!("Role of {}", u.name) value=role/>
                                                " "
                                                <button class="button secondary small" disabled=busy
                                                    on:click=move |_| { change_role.dispatch((for_role.clone(), role.get_untracked())); }
                                                >{format!("Set role of {}", u.name)}</button>
                                            </td>
                                            <td>{u.created_at.get(..10).unwrap_or_default().to_string()}</td>
                                            <td>
                                                <input
                                                    type="password"
                                                    autocomplete="new-password"
                                                    aria-label=format!("New password for {}", u.name)
                                                    prop:value=move || new_password.get()
                                                    on:input=move |ev| new_password.set(event_target_value(&ev))
                                                />
                                                " "
                                                <button class="button secondary small" disabled=busy
                                                    on:click=move |_| {
                                                        reset.dispatch((for_reset.clone(), new_password.get_untracked()));
                                                        new_password.set(String::new());
                                                    }
                                                >{format!("Reset password of {}", u.name)}</button>
                                                " "
                                                <button class="button danger small" disabled=busy
                                                    on:click=move |_| { remove.dispatch(for_remove.clone()); }
                                                >{format!("Remove {}", u.name)}</button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any(),
                })}
            </Transition>
            <form
                class="credential-form"
                aria-label="Add a user"
                on:submit=move |ev| {
                    ev.prevent_default();
                    add.dispatch(());
                }
            >
                <Field label="User name" id="user-name" value=name/>
                <label for="user-role">"Role"</label>
                <RoleSelect id="user-role".to_string() label="Role".to_string() value=new_role/>
                <Field label="Password (12 characters or more)" id="user-password" value=password secret=true/>
                <div class="form-actions">
                    <button type="submit" class="button" disabled=busy>"Add user"</button>
                </div>
            </form>
            <p role="status" aria-live="polite" data-testid="users-status">{move || outcome.get()}</p>
        </section>
    }
}

#[component]
fn TokensPanel() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let list = Resource::new(move || refresh.get(), |_| list_tokens());
    let outcome = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer.as_str().to_string());
    // The new token's secret, shown until the next action: it is stored nowhere.
    let secret = RwSignal::new(None::<(String, String)>);
    let create =
        Action::new(move |_: &()| create_token(name.get_untracked(), role.get_untracked()));
    let revoke = Action::new(|name: &String| revoke_token(name.clone()));
    Effect::new(move |_| match create.value().get() {
        Some(Ok(token)) => {
            secret.set(Some((name.get_untracked(), token)));
            outcome.set(String::new());
            name.set(String::new());
            refresh.update(|n| *n += 1);
        }
        Some(Err(e)) => {
            secret.set(None);
            outcome.set(e.to_string().replace("error running server function: ", ""));
        }
        None => {}
    });
    report(revoke, outcome, refresh, move || {
        secret.set(None);
        "Revoked.".to_string()
    });
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let busy = move || !hydrated.get() || create.pending().get() || revoke.pending().get();

    view! {
        <section class="card" aria-labelledby="tokens-heading" data-testid="tokens">
            <h2 id="tokens-heading">"API tokens"</h2>
            <p class="muted">"For the CLI and automation: " <code>"Authorization: Bearer …"</code> ". A token's secret is shown once, when it is created."</p>
            <Transition fallback=|| view! { <p class="loading">"Loading tokens…"</p> }>
                {move || list.get().map(|result| match result {
                    Err(e) => view! { <ErrorNote what="the tokens" error=e.to_string()/> }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-scroll"><table class="release-table" data-testid="tokens-table">
                            <thead><tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Role"</th>
                                <th scope="col">"Created"</th>
                                <th scope="col">"Last used"</th>
                                <th scope="col">"Actions"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|t| {
                                    let revoked = t.name.clone();
                                    view! {
                                        <tr>
                                            <th scope="row">{t.name.clone()}</th>
                                            <td>{t.role.as_str()}</td>
                                            <td>{t.created_at.get(..10).unwrap_or_default().to_string()}</td>
                                            <td>{t.last_used_at.as_deref().and_then(|at| at.get(..10)).unwrap_or("never").to_string()}</td>
                                            <td>
                                                <button class="button danger small" disabled=busy
                                                    on:click=move |_| { revoke.dispatch(revoked.clone()); }
                                                >{format!("Revoke {}", t.name)}</button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any(),
                })}
            </Transition>
            <form
                class="credential-form"
                aria-label="Create an API token"
                on:submit=move |ev| {
                    ev.prevent_default();
                    create.dispatch(());
                }
            >
                <Field label="Token name" id="token-name" value=name/>
                <label for="token-role">"Role"</label>
                <RoleSelect id="token-role".to_string() label="Role".to_string() value=role/>
                <div class="form-actions">
                    <button type="submit" class="button" disabled=busy>"Create token"</button>
                </div>
            </form>
            {move || secret.get().map(|(name, token)| view! {
                <div class="token-secret" data-testid="new-token">
                    <p>{format!("The secret of {name}, shown only now — copy it:")}</p>
                    <code>{token}</code>
                </div>
            })}
            <p role="status" aria-live="polite" data-testid="tokens-status">{move || outcome.get()}</p>
        </section>
    }
}
