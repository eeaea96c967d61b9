//! The little the designer needs from the browser beyond Leptos' events. Server
//! rendering never calls these; without the `hydrate` feature they are inert.

#[cfg(feature = "hydrate")]
use leptos::prelude::*;
use leptos::web_sys::Element;

/// Where an element's top-left corner is in the viewport, to turn pointer positions
/// into positions inside it.
#[cfg(feature = "hydrate")]
pub fn origin(element: &Element) -> (f64, f64) {
    let rect = element.get_bounding_client_rect();
    (rect.left(), rect.top())
}

#[cfg(not(feature = "hydrate"))]
pub fn origin(_element: &Element) -> (f64, f64) {
    (0.0, 0.0)
}

/// An element's inner size in CSS pixels.
pub fn size(element: &Element) -> (f64, f64) {
    (
        f64::from(element.client_width()),
        f64::from(element.client_height()),
    )
}

/// Asks before leaving the designer while `dirty()` says it has unsaved changes: when
/// the browser unloads the page (reload, closing the tab, another address), and when a
/// link in the app is followed, which the router handles without unloading anything.
/// The click is caught on its way down (capture), before the router sees it.
#[cfg(feature = "hydrate")]
pub fn warn_before_leaving(dirty: impl Fn() -> bool + Clone + 'static) {
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::wasm_bindgen::JsCast;
    use leptos::web_sys::MouseEvent;

    let unload = window_event_listener(leptos::ev::beforeunload, {
        let dirty = dirty.clone();
        move |ev| {
            if dirty() {
                ev.prevent_default();
                ev.set_return_value("This flow has unsaved changes.");
            }
        }
    });
    let click = Closure::<dyn Fn(MouseEvent)>::new(move |ev: MouseEvent| {
        let link = ev
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|e| e.closest("a[href]").ok().flatten());
        let Some(link) = link else { return };
        // Downloads and new tabs leave the flow where it is.
        if link.has_attribute("download") || link.has_attribute("target") || !dirty() {
            return;
        }
        let leave = window()
            .confirm_with_message("Leave this flow? Its unsaved changes will be lost.")
            .unwrap_or(true);
        if !leave {
            ev.prevent_default();
            ev.stop_immediate_propagation();
        }
    });
    let _ = window().add_event_listener_with_callback_and_bool(
        "click",
        click.as_ref().unchecked_ref(),
        true,
    );
    let click = send_wrapper::SendWrapper::new(click);
    on_cleanup(move || {
        unload.remove();
        let _ = window().remove_event_listener_with_callback_and_bool(
            "click",
            click.as_ref().unchecked_ref(),
            true,
        );
    });
}

#[cfg(not(feature = "hydrate"))]
pub fn warn_before_leaving(_dirty: impl Fn() -> bool + Clone + 'static) {}
