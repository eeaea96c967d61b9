//! One component per route. Pages that later releases fill in say so plainly.

use leptos::prelude::*;

use crate::layout::PageTitle;

/// Settings: the server, the signed-in user's account, credentials and the audit trail.
/// Visited rarely and by few, so it comes in a bundle of its own (`bundle.rs`), which
/// keeps every other page's download smaller.
#[cfg(feature = "settings")]
#[component]
pub fn SettingsPage() -> impl IntoView {
    use crate::accounts::AccountsPanels;
    use crate::audit::AuditPanel;
    use crate::credentials::CredentialsPanel;
    use crate::profile::ProfilePanel;
    use crate::server_fns::ServerCheck;
    view! {
        <PageTitle
            title="Settings"
            summary="Repositories and credentials, users and roles, API tokens, audit log."
        />
        <ServerCheck/>
        <ProfilePanel/>
        <AccountsPanels/>
        <CredentialsPanel/>
        <AuditPanel/>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <PageTitle title="Page not found" summary="There is no page at this address."/>
        // The products may come with another bundle than this page's.
        <p><a href="/" rel="external">"Back to the products"</a></p>
    }
}
