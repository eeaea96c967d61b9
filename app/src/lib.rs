//! Promenade's user interface: Leptos components rendered on the server and hydrated in
//! the browser, plus the server functions they call. Server functions stay thin: they
//! ask the engine and shape its answer for a page.

#![recursion_limit = "512"]

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

#[cfg(feature = "settings")]
mod accounts;
#[cfg(feature = "settings")]
mod audit;
pub mod bundle;
#[cfg(feature = "dashboard")]
mod control;
#[cfg(feature = "settings")]
mod credentials;
#[cfg(feature = "settings")]
mod delivery;
#[cfg(feature = "designer")]
mod designer;
#[cfg(any(feature = "dashboard", feature = "settings"))]
mod form;
#[cfg(feature = "dashboard")]
mod format;
#[cfg(any(feature = "dashboard", feature = "designer"))]
mod freeze;
mod layout;
#[cfg(feature = "dashboard")]
mod live;
mod pages;
#[cfg(feature = "dashboard")]
mod products;
#[cfg(feature = "settings")]
mod profile;
#[cfg(feature = "dashboard")]
mod releases;
pub mod server_fns;
pub mod session;

use layout::Header;
use pages::NotFound;

// A page outside this build's bundle stands in as `LoadsOwnBundle`, which fetches it
// from the server with its own bundle (`bundle.rs`).
#[cfg(not(feature = "settings"))]
use bundle::{LoadsOwnBundle as DeliveryPage, LoadsOwnBundle as SettingsPage};
#[cfg(not(feature = "designer"))]
use bundle::{
    LoadsOwnBundle as FlowPage, LoadsOwnBundle as FlowsPage, LoadsOwnBundle as NewFlowPage,
};
#[cfg(not(feature = "dashboard"))]
use bundle::{
    LoadsOwnBundle as ProductPage, LoadsOwnBundle as ProductsPage, LoadsOwnBundle as ReleasePage,
    LoadsOwnBundle as ReleasesPage,
};
#[cfg(feature = "settings")]
use delivery::DeliveryPage;
#[cfg(feature = "designer")]
use designer::{FlowPage, FlowsPage, NewFlowPage};
#[cfg(feature = "settings")]
use pages::SettingsPage;
#[cfg(feature = "dashboard")]
use products::{ProductPage, ProductsPage};
#[cfg(feature = "dashboard")]
use releases::{ReleasePage, ReleasesPage};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let options = bundle::options_for_page(options);
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The page's Content-Security-Policy: its own scripts (the inline one that starts the
/// bundle carries this response's nonce) and WebAssembly, its own styles (and the style
/// attributes the designer's canvas positions nodes with), nothing from elsewhere, no
/// framing. Needs a nonce in context (`leptos::nonce::provide_nonce`, which the server
/// does for every page); without one the server's default policy stays.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Takes over the server-rendered page in the browser: each bundle's entry crate
/// exports it to the page's start-up script.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser: the attribute tells tests (and curious people)
    // that the page has been taken over by the wasm bundle.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "");
        }
    });
    view! {
        <Stylesheet id="promenade" href="/pkg/promenade.css"/>
        <Title text="Promenade"/>
        <Router>
            <Header/>
            <main id="main" class="page">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=ProductsPage/>
                    <Route path=path!("/products/:name") view=ProductPage/>
                    <Route path=path!("/products/:name/delivery") view=DeliveryPage/>
                    <Route path=path!("/flows") view=FlowsPage/>
                    <Route path=path!("/flows/new") view=NewFlowPage/>
                    <Route path=path!("/flows/:name") view=FlowPage/>
                    <Route path=path!("/releases") view=ReleasesPage/>
                    <Route path=path!("/releases/:id") view=ReleasePage/>
                    <Route path=path!("/settings") view=SettingsPage/>
                    <Route path=path!("/login") view=session::LoginPage/>
                </Routes>
            </main>
        </Router>
    }
}
