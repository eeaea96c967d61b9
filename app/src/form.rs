//! Form fields bound to signals, labelled for people and assistive technology alike.

use leptos::prelude::*;

/// One text field of the form, bound to `value`.
#[component]
pub fn Field(
    label: &'static str,
    id: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] secret: bool,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <input
            id=id
            type=if secret { "password" } else { "text" }
            autocomplete="off"
            prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))
        />
    }
}

/// A multi-line field (keys, known hosts).
#[cfg(feature = "settings")]
#[component]
pub fn Lines(label: &'static str, id: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <textarea
            id=id
            rows="4"
            spellcheck="false"
            autocomplete="off"
            prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))
        ></textarea>
    }
}

/// Says in `outcome` how `action` ended, and bumps `refresh` (which reloads what
/// depends on it) when it worked.
pub fn report<I: Send + Sync + 'static>(
    action: Action<I, Result<(), ServerFnError>>,
    outcome: RwSignal<String>,
    refresh: RwSignal<u32>,
    done: impl Fn() -> String + 'static,
) {
    Effect::new(move |_| match action.value().get() {
        Some(Ok(())) => {
            outcome.set(done());
            refresh.update(|n| *n += 1);
        }
        Some(Err(e)) => outcome.set(e.to_string().replace("error running server function: ", "")),
        None => {}
    });
}
