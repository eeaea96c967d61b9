//! Live event streams, bounded per caller: each principal may hold a limited number open
//! at once (`--max-streams`), so one client, or a leaked token, cannot pin the
//! server's memory and connections with thousands of idle streams. Counted in this
//! process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

use crate::auth::Principal;
use crate::{telemetry, Engine, EngineError, EventRecord, Result};

/// Open streams by principal (`user ada`, `token ci`).
#[derive(Clone, Default)]
pub(crate) struct OpenStreams(Arc<Mutex<HashMap<String, usize>>>);

/// An open stream: the events persisted from now on, and the stream's place in its
/// principal's count, given back when this is dropped (the client went away).
pub struct Subscription {
    pub events: broadcast::Receiver<EventRecord>,
    _slot: Slot,
}

struct Slot {
    open: OpenStreams,
    holder: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        telemetry::stream_closed();
        let mut counts = self.open.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.holder) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.holder);
            }
        }
    }
}

impl Engine {
    /// Every release event from now on, for a stream `who` opens; refused while `who`
    /// holds as many streams as allowed.
    pub async fn subscribe_as(&self, who: &Principal) -> Result<Subscription> {
        let open = &self.inner.streams;
        let holder = who.to_string();
        let limit = self.config().max_streams;
        {
            let mut counts = open.0.lock().unwrap_or_else(PoisonError::into_inner);
            let count = counts.entry(holder.clone()).or_default();
            if *count >= limit {
                return Err(EngineError::TooManyStreams(format!(
                    "{who} has {limit} event streams open already, the most allowed: close some pages or streams first"
                )));
            }
            *count += 1;
        }
        // Counted first, so the slot is given back if following fails.
        telemetry::stream_opened();
        let slot = Slot {
            open: open.clone(),
            holder,
        };
        Ok(Subscription {
            events: self.subscribe().await?,
            _slot: slot,
        })
    }
}
