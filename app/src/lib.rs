//! Promenade's user interface: Leptos components rendered on the server and hydrated in
//! the browser, plus the server functions they call. Server functions stay thin: they
//! ask the engine and shape its answer for a page.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

mod designer;
mod layout;
mod pages;
pub mod server_fns;
pub mod session;

use layout::Header;
use pages::{FlowsPage, NotFound, ProductsPage, ReleasesPage, SettingsPage};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
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

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="promenade" href="/pkg/promenade.css"/>
        <Title text="Promenade"/>
        <Router>
            <Header/>
            <main id="main" class="page">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=ProductsPage/>
                    <Route path=path!("/flows") view=FlowsPage/>
                    <Route path=path!("/releases") view=ReleasesPage/>
                    <Route path=path!("/settings") view=SettingsPage/>
                    <Route path=path!("/login") view=session::LoginPage/>
                </Routes>
            </main>
        </Router>
    }
}
