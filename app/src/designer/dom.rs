//! The little the designer needs from the browser beyond Leptos' events. Server
//! rendering never calls these; without the `hydrate` feature they are inert.

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
