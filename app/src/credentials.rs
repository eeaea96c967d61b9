//! The credentials section of the settings page: every credential's name, kind and
//! history, and a form with which admins create, rotate and delete them. Secrets go to
//! the server and never come back: the list has no field that could hold one, and the
//! form forgets the secret once it is saved.

use leptos::prelude::*;
use promenade_model::credentials::{CredentialInfo, CredentialKind};

use crate::form::{Field, Lines};
use crate::layout::ErrorNote;

/// `2026-12-02 14:03` from an RFC 3339 time (UTC).
fn when(at: &str) -> String {
    at.get(..16).unwrap_or(at).replace('T', " ")
}

#[server]
pub async fn list_credentials() -> Result<Vec<CredentialInfo>, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .list_credentials(&who)
        .await
        .map_err(crate::session::failed)
}

/// Creates credentials, or replaces their secret when `rotate`. Empty optional fields
/// are absent.
#[server]
pub async fn save_credential(
    name: String,
    kind: String,
    username: String,
    secret: String,
    passphrase: String,
    known_hosts: String,
    rotate: bool,
) -> Result<CredentialInfo, ServerFnError> {
    use promenade_model::credentials::CredentialInput;
    let (engine, who) = crate::session::caller().await?;
    let present = |text: String| (!text.trim().is_empty()).then_some(text);
    let input = CredentialInput {
        kind: kind.parse().map_err(ServerFnError::new)?,
        username: present(username),
        secret,
        passphrase: present(passphrase),
        known_hosts: present(known_hosts),
    };
    let name = name.trim();
    let saved = if rotate {
        engine.rotate_credential(&who, name, &input).await
    } else {
        engine.create_credential(&who, name, &input).await
    };
    saved.map_err(crate::session::failed)
}

#[server]
pub async fn delete_credential(name: String) -> Result<(), ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    engine
        .delete_credential(&who, &name)
        .await
        .map_err(crate::session::failed)
}

#[component]
pub fn CredentialsPanel() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let refresh = RwSignal::new(0u32);
    let list = Resource::new(move || refresh.get(), |_| list_credentials());

    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(CredentialKind::Https.as_str().to_string());
    let username = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let passphrase = RwSignal::new(String::new());
    let known_hosts = RwSignal::new(String::new());
    let save = Action::new(move |rotate: &bool| {
        save_credential(
            name.get_untracked(),
            kind.get_untracked(),
            username.get_untracked(),
            secret.get_untracked(),
            passphrase.get_untracked(),
            known_hosts.get_untracked(),
            *rotate,
        )
    });
    let remove = Action::new(|name: &String| delete_credential(name.clone()));
    // What the last action did, for the status line; each answer also reloads the list.
    let outcome = RwSignal::new(String::new());
    let reason = |e: ServerFnError| e.to_string().replace("error running server function: ", "");
    Effect::new(move |_| {
        let Some(answer) = save.value().get() else {
            return;
        };
        outcome.set(match answer {
            Ok(saved) => {
                secret.set(String::new());
                passphrase.set(String::new());
                format!("Saved credentials {}.", saved.name)
            }
            Err(e) => reason(e),
        });
        refresh.update(|n| *n += 1);
    });
    Effect::new(move |_| {
        let Some(answer) = remove.value().get() else {
            return;
        };
        outcome.set(match answer {
            Ok(()) => "Deleted.".to_string(),
            Err(e) => reason(e),
        });
        refresh.update(|n| *n += 1);
    });
    let is_ssh = move || kind.get() == CredentialKind::Ssh.as_str();
    let busy = move || !hydrated.get() || save.pending().get() || remove.pending().get();

    view! {
        <section class="card" aria-labelledby="credentials-heading" data-testid="credentials">
            <h2 id="credentials-heading">"Credentials"</h2>
            <p class="muted">
                "Secrets for git remotes (" <code>"https"</code> ", " <code>"ssh"</code>
                "), APIs and webhooks (" <code>"token"</code> "). Products name them in "
                <code>"repository.credentials"</code>
                ". They are encrypted at rest and never shown again."
            </p>
            <Transition fallback=|| view! { <p class="loading">"Loading credentials…"</p> }>
                {move || list.get().map(|result| match result {
                    Err(e) => view! { <ErrorNote what="the credentials" error=e.to_string()/> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! {
                        <p data-testid="no-credentials">"No credentials yet."</p>
                    }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-scroll"><table class="release-table" data-testid="credentials-table">
                            <thead><tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Kind"</th>
                                <th scope="col">"Created by"</th>
                                <th scope="col">"Rotated"</th>
                                <th scope="col">"Last used"</th>
                                <th scope="col">"Actions"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|c| {
                                    let delete_name = c.name.clone();
                                    view! {
                                        <tr>
                                            <td><code>{c.name.clone()}</code></td>
                                            <td>{c.kind.as_str()}</td>
                                            <td>{c.created_by.clone()}</td>
                                            <td>{format!("{} by {}", when(&c.rotated_at), c.rotated_by)}</td>
                                            <td>{c.last_used_at.as_deref().map(when).unwrap_or_else(|| "never".into())}</td>
                                            <td>
                                                <button
                                                    class="button secondary small"
                                                    aria-label=format!("Delete {}", c.name)
                                                    disabled=busy
                                                    on:click=move |_| {
                                                        remove.dispatch(delete_name.clone());
                                                    }
                                                >"Delete"</button>
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
                aria-label="Create or rotate credentials"
                on:submit=move |ev| {
                    ev.prevent_default();
                    save.dispatch(false);
                }
            >
                <Field label="Name" id="credential-name" value=name/>
                <label for="credential-kind">"Kind"</label>
                <select
                    id="credential-kind"
                    prop:value=move || kind.get()
                    on:change=move |ev| kind.set(event_target_value(&ev))
                >
                    {CredentialKind::ALL.into_iter().map(|k| view! {
                        <option value=k.as_str()>{k.as_str()}</option>
                    }).collect_view()}
                </select>
                <Show when=move || kind.get() != CredentialKind::Token.as_str()>
                    <Field label="User name" id="credential-username" value=username/>
                </Show>
                <Show
                    when=is_ssh
                    fallback=move || view! {
                        <Field label="Token or password" id="credential-secret" value=secret secret=true/>
                    }
                >
                    <Lines label="Private key" id="credential-secret" value=secret/>
                    <Field label="Passphrase (optional)" id="credential-passphrase" value=passphrase secret=true/>
                    <Lines label="Known hosts (ssh-keyscan HOST)" id="credential-known-hosts" value=known_hosts/>
                </Show>
                <div class="form-actions">
                    <button type="submit" class="button" disabled=busy>"Create"</button>
                    <button
                        type="button"
                        class="button secondary small"
                        disabled=busy
                        on:click=move |_| {
                            save.dispatch(true);
                        }
                    >"Rotate secret"</button>
                </div>
            </form>
            <p role="status" aria-live="polite" data-testid="credentials-status">
                {move || outcome.get()}
            </p>
        </section>
    }
}
