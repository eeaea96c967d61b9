//! The frame every page shares: brand, main navigation and a skip link.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use leptos_router::hooks::use_location;

use crate::bundle::crosses_bundles;
use crate::session::UserMenu;

/// The sections of the product, in navigation order: (path, label).
pub const SECTIONS: [(&str, &str); 4] = [
    ("/", "Products"),
    ("/flows", "Flows"),
    ("/releases", "Releases"),
    ("/settings", "Settings"),
];

#[component]
pub fn Header() -> impl IntoView {
    let here = use_location().pathname.get_untracked();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="app-header">
            <A href="/" attr:class="brand">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                "Promenade"
            </A>
            <nav aria-label="Main">
                <ul class="nav">
                    {SECTIONS
                        .into_iter()
                        .map(|(href, label)| {
                            // Another group's pages come with their own bundle, which only
                            // a page load from the server brings.
                            let rel = crosses_bundles(&here, href).then_some("external");
                            view! { <li><A href=href exact=true attr:rel=rel>{label}</A></li> }
                        })
                        .collect_view()}
                </ul>
            </nav>
            <UserMenu/>
        </header>
    }
}

/// A page heading with a one-line description under it.
#[component]
pub fn PageTitle(title: &'static str, summary: &'static str) -> impl IntoView {
    view! {
        <Title text=format!("{title} · Promenade")/>
        <header class="page-title">
            <h1>{title}</h1>
            <p class="muted">{summary}</p>
        </header>
    }
}

/// An error with what failed and what to do.
#[cfg(any(feature = "dashboard", feature = "settings"))]
#[component]
pub fn ErrorNote(what: &'static str, error: String) -> impl IntoView {
    let error = error.replace("error running server function: ", "");
    let hint = if error.contains("sign in") {
        "Sign in again and retry."
    } else {
        "Reload the page to retry; if it persists, the server log has the details."
    };
    view! {
        <section class="card error-card" role="alert">
            <h2>{format!("Could not load {what}")}</h2>
            <p>{error}</p>
            <p class="muted">{hint}</p>
        </section>
    }
}
