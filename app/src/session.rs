//! Signing in and out of the web UI, and the role check every server function makes.
//! Sessions live in the database (tower-sessions); the cookie only carries their id.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// Who a request came from, once found out: the server's request log puts one in every
/// request's extensions and names it in the request's log line.
#[derive(Clone, Debug, Default)]
pub struct RequestPrincipal(pub std::sync::Arc<std::sync::OnceLock<String>>);

impl RequestPrincipal {
    pub fn set(&self, principal: &impl std::fmt::Display) {
        let _ = self.0.set(principal.to_string());
    }
}

/// The session key holding the signed-in user (`promenade_model::access::SessionUser`).
pub const USER_KEY: &str = "user";

/// The signed-in user, as the UI shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInUser {
    pub name: String,
    pub role: String,
}

/// The signed-in user, if any, with their current role.
#[cfg(feature = "ssr")]
async fn signed_in() -> Result<Option<promenade_engine::auth::Principal>, ServerFnError> {
    let engine = engine()?;
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(|e| ServerFnError::new(format!("no session: {e}")))?;
    // A session written by an older version does not read as one: signed out.
    let user: Option<promenade_engine::auth::SessionUser> =
        session.get(USER_KEY).await.ok().flatten();
    let Some(user) = user else {
        return Ok(None);
    };
    engine.session_user(&user).await.map_err(failed)
}

/// The engine and the signed-in user every server function acts as. Whether they may
/// is the engine's to decide, in the use case itself: the UI may hide a button, but only
/// the engine protects the action.
#[cfg(feature = "ssr")]
pub async fn caller(
) -> Result<(promenade_engine::Engine, promenade_engine::auth::Principal), ServerFnError> {
    let engine = engine()?;
    match signed_in().await? {
        Some(principal) => {
            // The request's log line names who asked.
            if let Some(parts) = use_context::<http::request::Parts>() {
                if let Some(slot) = parts.extensions.get::<RequestPrincipal>() {
                    slot.set(&principal);
                }
            }
            Ok((engine, principal))
        }
        None => Err(failed(promenade_engine::EngineError::Unauthorized(
            "sign in first".into(),
        ))),
    }
}

/// An engine failure as a server function's error, answered with the same status the
/// REST API gives it (`EngineError::status`): refusals are 401/403, a missing release
/// 404, not 500. Pages only render for signed-in users, so this never changes a page's
/// status.
#[cfg(feature = "ssr")]
pub fn failed(error: promenade_engine::EngineError) -> ServerFnError {
    let (status, _) = error.status();
    if let (Some(response), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(status),
    ) {
        response.set_status(status);
    }
    ServerFnError::new(error.to_string())
}

/// The engine the server put in context for this request.
#[cfg(feature = "ssr")]
pub fn engine() -> Result<promenade_engine::Engine, ServerFnError> {
    use_context::<promenade_engine::Engine>()
        .ok_or_else(|| ServerFnError::new("the server was started without an engine"))
}

/// Only same-site paths are followed after signing in: `next=//evil.example` is not,
/// nor `/\tevil…` or `/%09/evil.example` — browsers drop tabs and newlines from URLs,
/// which would turn them into `//evil.example`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

#[server]
pub async fn login(
    name: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    let engine = engine()?;
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(|e| ServerFnError::new(format!("no session: {e}")))?;
    // Known when the server runs with connection info (`promenade serve` does).
    let from = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|info| info.0.ip());
    let user = engine
        .sign_in(name.trim(), &password, from)
        .await
        .map_err(failed)?
        .ok_or_else(|| {
            failed(promenade_engine::EngineError::Unauthorized(
                "wrong user name or password".into(),
            ))
        })?;
    // A new session id on sign-in: an id planted before cannot ride along.
    session
        .cycle_id()
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    session
        .insert(USER_KEY, user)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

#[server]
pub async fn logout() -> Result<(), ServerFnError> {
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(|e| ServerFnError::new(format!("no session: {e}")))?;
    session
        .flush()
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Who is signed in; nobody is an answer, not an error (the sign-in page asks too).
#[server]
pub async fn current_user() -> Result<Option<SignedInUser>, ServerFnError> {
    Ok(signed_in().await?.map(|principal| SignedInUser {
        name: principal.name,
        role: principal.role.to_string(),
    }))
}

/// `/login`: a plain form that works before (and without) the wasm bundle.
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    view! {
        <leptos_meta::Title text="Sign in · Promenade"/>
        <section class="card login" aria-labelledby="login-heading">
            <h1 id="login-heading">"Sign in to Promenade"</h1>
            <ActionForm action=login>
                // An attribute, not a property: the form must work before hydration too.
                <input type="hidden" name="next" value=next/>
                <label>
                    "User name"
                    <input type="text" name="name" autocomplete="username" required autofocus/>
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required/>
                </label>
                <button class="button" type="submit">"Sign in"</button>
            </ActionForm>
            <p role="alert" class="error">
                {move || match login.value().get() {
                    Some(Err(e)) => e.to_string().replace("error running server function: ", ""),
                    _ => String::new(),
                }}
            </p>
            <p class="muted">
                "First time? The administrator's password is in "
                <code>"data/admin-password"</code>
                " on the server."
            </p>
        </section>
    }
}

/// The signed-in user and a sign-out button, for the header.
#[component]
pub fn UserMenu() -> impl IntoView {
    // Read again on every navigation: signing in or out navigates, and the header
    // (outside the routes) must follow.
    let location = leptos_router::hooks::use_location();
    let user = Resource::new(move || location.pathname.get(), |_| current_user());
    let logout = ServerAction::<Logout>::new();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                user.get()
                    .and_then(Result::ok)
                    .flatten()
                    .map(|user| {
                        view! {
                            <div class="user-menu">
                                <span class="muted" data-testid="signed-in-user">
                                    {user.name} " (" {user.role} ")"
                                </span>
                                <ActionForm action=logout>
                                    <button class="button secondary" type="submit">"Sign out"</button>
                                </ActionForm>
                            </div>
                        }
                    })
            }}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_same_site_paths_are_followed_after_signing_in() {
        assert_eq!(
            safe_next(Some("/releases?product=shop")),
            "/releases?product=shop"
        );
        assert_eq!(safe_next(Some("//evil.example/x")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\n/evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
