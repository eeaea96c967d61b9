//! One component per route. Pages that later releases fill in say so plainly.

use leptos::prelude::*;

use crate::layout::PageTitle;
use crate::server_fns::ServerCheck;

#[component]
pub fn ProductsPage() -> impl IntoView {
    view! {
        <PageTitle
            title="Products"
            summary="Every application of a product across its environments: versions, drift and running releases."
        />
        <ComingSoon what="The products dashboard"/>
    }
}

#[component]
pub fn FlowsPage() -> impl IntoView {
    view! {
        <PageTitle
            title="Flows"
            summary="Promotion flows: which environments a version visits, and in what order."
        />
        <ComingSoon what="The flow designer"/>
    }
}

#[component]
pub fn ReleasesPage() -> impl IntoView {
    view! {
        <PageTitle title="Releases" summary="Every release, running and past, with its history."/>
        <ComingSoon what="The release list"/>
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <PageTitle
            title="Settings"
            summary="Repositories and credentials, users and roles, API tokens, audit log."
        />
        <ServerCheck/>
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

#[component]
fn ComingSoon(what: &'static str) -> impl IntoView {
    view! {
        <section class="card empty" role="note">
            <h2>"Coming soon"</h2>
            <p>{what} " is on its way. The API and CLI of this server already answer."</p>
        </section>
    }
}
