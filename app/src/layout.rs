//! The frame every page shares: brand, main navigation and a skip link.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::bundle::in_designer_bundle;
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
                            // The designer's pages come with their own bundle, which only
                            // a page load from the server brings.
                            let rel = in_designer_bundle(href).then_some("external");
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
