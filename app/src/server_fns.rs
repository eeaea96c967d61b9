//! Server functions and the small components that call them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the server says about itself on the settings page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    pub version: String,
    pub database: String,
    pub migrations: usize,
}

/// Asks the engine whether its database answers.
#[server]
pub async fn check_server() -> Result<ServerStatus, ServerFnError> {
    let (engine, who) = crate::session::caller().await?;
    let info = engine
        .server_info(&who)
        .await
        .map_err(crate::session::failed)?;
    Ok(ServerStatus {
        version: env!("CARGO_PKG_VERSION").to_string(),
        database: format!("{:?}", info.database).to_lowercase(),
        migrations: info.migrations,
    })
}

/// A button that checks the connection to the server. It stays disabled until the page
/// has hydrated, so a click is never lost on a page whose script has not loaded yet.
#[component]
pub fn ServerCheck() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let check = Action::new(|_: &()| check_server());

    view! {
        <section class="card" aria-labelledby="server-heading">
            <h2 id="server-heading">"Server"</h2>
            <button
                class="button"
                data-testid="check-server"
                disabled=move || !hydrated.get() || check.pending().get()
                on:click=move |_| {
                    check.dispatch(());
                }
            >
                "Check connection"
            </button>
            <p role="status" aria-live="polite" data-testid="server-status">
                {move || match check.value().get() {
                    None if check.pending().get() => "Checking…".to_string(),
                    None => "Not checked yet.".to_string(),
                    Some(Ok(status)) => format!(
                        "Connected: Promenade {} with {} ({} migrations applied).",
                        status.version,
                        status.database,
                        status.migrations,
                    ),
                    Some(Err(e)) => format!("The server did not answer: {e}"),
                }}
            </p>
        </section>
    }
}
