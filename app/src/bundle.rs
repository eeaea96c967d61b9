//! Which browser bundle a page loads.
//!
//! The pages fall into three groups, and the browser gets one build of this crate per
//! group, each with only its group's pages (the `dashboard`, `designer` and `settings`
//! features): products and releases, used all day; the flow designer (its canvas,
//! panels, and the model's YAML reader, writer and validator), most of the UI's code;
//! and Settings with a product's delivery figures, which few people visit and rarely.
//! So no page downloads the code of another group. The server renders every page and
//! names its group's bundle in the page's scripts. Links to a page of another group load
//! a new document ([`crosses_bundles`]); one reached by client navigation all the same
//! (history navigation) is fetched from the server ([`LoadsOwnBundle`]), which brings
//! the right bundle along.

#[cfg(any(
    feature = "ssr",
    not(all(feature = "dashboard", feature = "designer", feature = "settings"))
))]
use leptos::prelude::*;

/// A group of pages with a browser bundle of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bundle {
    /// Products and releases, and every page of no other group (sign-in, not found).
    Dashboard,
    /// The flow designer's pages: `/flows…`.
    Designer,
    /// Settings and a product's delivery figures.
    Settings,
}

impl Bundle {
    pub const ALL: [Bundle; 3] = [Bundle::Dashboard, Bundle::Designer, Bundle::Settings];

    /// The name of the bundle's files in `pkg/` (`NAME.js`, `NAME_bg.wasm`).
    pub fn name(self) -> &'static str {
        match self {
            Bundle::Dashboard => "promenade",
            Bundle::Designer => "promenade-designer",
            Bundle::Settings => "promenade-settings",
        }
    }

    /// The bundle of the page at `path`.
    pub fn of_page(path: &str) -> Bundle {
        let delivery = path
            .strip_prefix("/products/")
            .and_then(|rest| rest.strip_suffix("/delivery"))
            .is_some_and(|product| !product.is_empty() && !product.contains('/'));
        if path == "/flows" || path.starts_with("/flows/") {
            Bundle::Designer
        } else if path == "/settings" || delivery {
            Bundle::Settings
        } else {
            Bundle::Dashboard
        }
    }
}

/// Whether a link from the page at `here` to `href` leads into another bundle, and so
/// must load a new document (`rel="external"`) instead of navigating in this one.
pub fn crosses_bundles(here: &str, href: &str) -> bool {
    let path = href.split(['?', '#']).next().unwrap_or(href);
    Bundle::of_page(here) != Bundle::of_page(path)
}

/// Given by the server when each group's bundle was built (`cargo xtask build`).
/// Without it (a `cargo leptos` build) every page loads the one bundle there is, which
/// then has every page in it.
#[derive(Clone, Copy, Debug)]
pub struct SplitBundles;

/// The options the page's `<HydrationScripts>` should use: the bundle of the page's
/// group.
#[cfg(feature = "ssr")]
pub fn options_for_page(mut options: LeptosOptions) -> LeptosOptions {
    let split = use_context::<SplitBundles>();
    let parts = use_context::<http::request::Parts>();
    if let (Some(SplitBundles), Some(parts)) = (split, parts) {
        options.output_name = Bundle::of_page(parts.uri.path()).name().into();
    }
    options
}

/// Stands in for a page of another bundle. The router only gets here by client
/// navigation (links to those pages load a new document, but history navigation does
/// not): loading the address from the server brings the page with its own bundle.
/// During hydration, which means the server sent this bundle for that page, reloading
/// would loop, so it says what is wrong instead.
#[cfg(not(all(feature = "dashboard", feature = "designer", feature = "settings")))]
#[component]
pub fn LoadsOwnBundle() -> impl IntoView {
    let hydrating = Owner::current_shared_context().is_some_and(|c| c.during_hydration());
    Effect::new(move |_| {
        if !hydrating {
            let _ = window().location().reload();
        }
    });
    view! {
        <p class="muted" role="status">
            {if hydrating {
                "This page's code is missing from this server: rebuild the browser bundles."
            } else {
                "Loading…"
            }}
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::{crosses_bundles, Bundle};

    #[test]
    fn each_page_belongs_to_one_bundle() {
        for (path, bundle) in [
            ("/flows", Bundle::Designer),
            ("/flows/new", Bundle::Designer),
            ("/flows/standard", Bundle::Designer),
            ("/settings", Bundle::Settings),
            ("/products/shop/delivery", Bundle::Settings),
            ("/", Bundle::Dashboard),
            ("/flowsheet", Bundle::Dashboard),
            ("/products/shop", Bundle::Dashboard),
            ("/releases/flows", Bundle::Dashboard),
            ("/settings/x", Bundle::Dashboard),
            ("/products/delivery", Bundle::Dashboard),
            ("/products/shop/x/delivery", Bundle::Dashboard),
            ("/login", Bundle::Dashboard),
        ] {
            assert_eq!(Bundle::of_page(path), bundle, "{path}");
        }
    }

    #[test]
    fn links_into_another_bundle_load_a_new_document() {
        assert!(crosses_bundles("/releases", "/flows"));
        assert!(crosses_bundles("/flows/standard", "/products/shop"));
        assert!(crosses_bundles(
            "/products/shop",
            "/products/shop/delivery?days=7"
        ));
        assert!(crosses_bundles("/products/shop/delivery", "/products/shop"));
        assert!(!crosses_bundles("/flows", "/flows/standard"));
        assert!(!crosses_bundles("/", "/releases/7#log"));
        assert!(!crosses_bundles("/products/shop/delivery", "/settings"));
    }
}
