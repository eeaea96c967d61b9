//! The signed-in user's own section of the settings page: who they are, and a form to
//! change their password, which ends every other session of theirs.

use leptos::prelude::*;

/// Changes the caller's password; this session continues under a new id.
#[server(endpoint = "account/password")]
pub async fn change_password(
    current: String,
    new: String,
    repeated: String,
) -> Result<(), ServerFnError> {
    if new != repeated {
        return Err(crate::session::failed(
            promenade_engine::EngineError::BadRequest(
                "the new password and its repetition differ".into(),
            ),
        ));
    }
    let (engine, who) = crate::session::caller().await?;
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(|e| ServerFnError::new(format!("no session: {e}")))?;
    let from = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|info| info.0.ip());
    let renewed = engine
        .change_password(&who, &current, &new, from)
        .await
        .map_err(crate::session::failed)?;
    session
        .cycle_id()
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    session
        .insert(crate::session::USER_KEY, renewed)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(())
}

#[component]
pub fn ProfilePanel() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let user = Resource::new(|| (), |_| crate::session::current_user());
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let repeated = RwSignal::new(String::new());
    let change = Action::new(move |_: &()| {
        change_password(
            current.get_untracked(),
            new.get_untracked(),
            repeated.get_untracked(),
        )
    });
    let outcome = RwSignal::new(String::new());
    Effect::new(move |_| {
        let Some(answer) = change.value().get() else {
            return;
        };
        outcome.set(match answer {
            Ok(()) => {
                for field in [current, new, repeated] {
                    field.set(String::new());
                }
                "Password changed. Your other sessions have ended.".to_string()
            }
            Err(e) => e.to_string().replace("error running server function: ", ""),
        });
    });
    let field = |label: &'static str,
                 id: &'static str,
                 autocomplete: &'static str,
                 value: RwSignal<String>| {
        view! {
            <label for=id>{label}</label>
            <input
                id=id
                type="password"
                autocomplete=autocomplete
                required
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        }
    };
    view! {
        <section class="card" aria-labelledby="profile-heading" data-testid="profile">
            <h2 id="profile-heading">"Your account"</h2>
            <Suspense fallback=|| ()>
                {move || user.get().and_then(Result::ok).flatten().map(|user| view! {
                    <p>"Signed in as " <strong>{user.name}</strong> " (" {user.role} ")."</p>
                })}
            </Suspense>
            <form
                class="credential-form"
                aria-label="Change your password"
                on:submit=move |ev| {
                    ev.prevent_default();
                    change.dispatch(());
                }
            >
                {field("Current password", "password-current", "current-password", current)}
                {field("New password", "password-new", "new-password", new)}
                {field("New password again", "password-repeated", "new-password", repeated)}
                <div class="form-actions">
                    <button
                        type="submit"
                        class="button"
                        disabled=move || !hydrated.get() || change.pending().get()
                    >"Change password"</button>
                </div>
            </form>
            <p role="status" aria-live="polite" data-testid="profile-status">
                {move || outcome.get()}
            </p>
        </section>
    }
}
