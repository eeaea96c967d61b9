//! One component per route. Pages that later releases fill in say so plainly.

use leptos::prelude::*;

use crate::audit::AuditPanel;
use crate::credentials::CredentialsPanel;
use crate::layout::PageTitle;
use crate::profile::ProfilePanel;
use crate::server_fns::ServerCheck;

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <PageTitle
            title="Settings"
            summary="Repositories and credentials, users and roles, API tokens, audit log."
        />
        <ServerCheck/>
        <ProfilePanel/>
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
        <p><a href="/">"Back to the products"</a></p>
    }
}
