//! Which browser bundle a page loads.
//!
//! The flow designer (its canvas, panels, and the model's YAML reader, writer and
//! validator) is most of the UI's code, and only `/flows` pages need it. So the browser
//! gets two builds of this crate: one without the `designer` feature for every other
//! page, one with it for the designer's pages — and for Settings and a product's
//! delivery figures, which few people visit and rarely, so their forms and charts need
//! not weigh on every other page. The server renders every
//! page and names the bundle in the page's scripts; a page reached inside the smaller
//! bundle by client navigation is fetched from the server instead ([`LoadsOwnBundle`]),
//! which brings the right bundle along.

#[cfg(any(feature = "ssr", not(feature = "designer")))]
use leptos::prelude::*;

/// Whether a page comes with the flow designer's bundle.
pub fn in_designer_bundle(path: &str) -> bool {
    let delivery = path
        .strip_prefix("/products/")
        .and_then(|rest| rest.strip_suffix("/delivery"))
        .is_some_and(|product| !product.is_empty() && !product.contains('/'));
    path == "/flows" || path.starts_with("/flows/") || path == "/settings" || delivery
}

/// The name of the designer's bundle in `pkg/`, given by the server when that bundle
/// exists. Without it every page loads the main bundle, which must then be built with
/// the `designer` feature (as `cargo leptos` does).
#[derive(Clone, Debug)]
pub struct DesignerBundle(pub std::sync::Arc<str>);

/// The options the page's `<HydrationScripts>` should use: the designer's bundle on its
/// pages, the main bundle elsewhere.
#[cfg(feature = "ssr")]
pub fn options_for_page(mut options: LeptosOptions) -> LeptosOptions {
    let designer = use_context::<DesignerBundle>();
    let parts = use_context::<http::request::Parts>();
    if let (Some(DesignerBundle(name)), Some(parts)) = (designer, parts) {
        if in_designer_bundle(parts.uri.path()) {
            options.output_name = name;
        }
    }
    options
}

/// Stands in for a page of the designer's bundle in the bundle without the designer.
/// The router only gets here by client navigation (links to those pages load a new
/// document, but history navigation does not): loading the address from the server
/// brings the page with the designer's bundle. During hydration, which means the server sent this
/// bundle for a designer page, reloading would loop, so it says what is wrong instead.
#[cfg(not(feature = "designer"))]
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
    use super::in_designer_bundle;

    #[test]
    fn flow_addresses_settings_and_delivery_figures_come_with_the_designer() {
        for path in [
            "/flows",
            "/flows/new",
            "/flows/standard",
            "/settings",
            "/products/shop/delivery",
        ] {
            assert!(in_designer_bundle(path), "{path}");
        }
        for path in [
            "/",
            "/flowsheet",
            "/products/shop",
            "/releases/flows",
            "/settings/x",
            "/products/delivery",
            "/products/shop/x/delivery",
        ] {
            assert!(!in_designer_bundle(path), "{path}");
        }
    }
}
