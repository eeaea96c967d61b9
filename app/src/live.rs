//! Live updates: the browser listens to the server's event stream (`EventSource`, which
//! reconnects by itself and resumes with `Last-Event-ID`). Nothing polls.

use leptos::prelude::*;
use promenade_model::release::EventRecord;

/// Calls `on_event` with every event the stream at `url` sends, for as long as the
/// calling component lives, or until a release-ending event when `until_release_ends`
/// (a release's stream ends there; left open, `EventSource` would reconnect forever).
/// Does nothing on the server.
pub fn use_event_stream(
    url: String,
    until_release_ends: bool,
    on_event: impl Fn(EventRecord) + 'static,
) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;

        let Ok(source) = web_sys::EventSource::new(&url) else {
            return;
        };
        let on_event = std::rc::Rc::new(on_event);
        let mut listeners = Vec::new();
        for kind in promenade_model::release::EventKind::ALL.map(|k| k.as_str()) {
            let on_event = on_event.clone();
            let closer = source.clone();
            let listener = Closure::<dyn Fn(web_sys::MessageEvent)>::new(
                move |message: web_sys::MessageEvent| {
                    if let Some(event) = message
                        .data()
                        .as_string()
                        .and_then(|data| serde_json::from_str::<EventRecord>(&data).ok())
                    {
                        let last = until_release_ends && event.ends_release();
                        on_event(event);
                        if last {
                            closer.close();
                        }
                    }
                },
            );
            let _ =
                source.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
            listeners.push(listener);
        }
        let held = send_wrapper::SendWrapper::new((source, listeners));
        on_cleanup(move || {
            let (source, _listeners) = held.take();
            source.close();
        });
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (url, until_release_ends, on_event);
    }
}

/// Makes `refresh` go up shortly after events arrive on the stream at `url`: pages read
/// it in their resources' sources to reload. A burst of events (a release moving
/// through its steps) reloads once, `delay` after the first of them.
pub fn refresh_on_events(
    url: String,
    until_release_ends: bool,
    delay: std::time::Duration,
    refresh: RwSignal<u32>,
) {
    let scheduled = StoredValue::new(false);
    use_event_stream(url, until_release_ends, move |_| {
        // `try_` throughout: the page may have been left (and these values disposed)
        // by the time an event or the timer arrives.
        if scheduled.try_get_value() == Some(false) {
            scheduled.try_set_value(true);
            set_timeout(
                move || {
                    scheduled.try_set_value(false);
                    refresh.try_update(|n| *n += 1);
                },
                delay,
            );
        }
    });
}
