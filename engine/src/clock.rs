//! The wall clock that calendar decisions read: freezes and `window` gates. Durations
//! the engine waits out itself (soaks, timeouts, polling) keep tokio's timers; what
//! depends on the date and the hour asks this clock, so a test can set the time to a
//! Friday evening in Paris instead of waiting for one.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use tokio::sync::Notify;

/// The system's clock, or one a test sets ([`ManualClock`]).
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<ManualClock>>,
}

impl Clock {
    /// Now.
    pub fn now(&self) -> Timestamp {
        match &self.manual {
            Some(manual) => manual.now(),
            None => Timestamp::now(),
        }
    }

    /// Returns once the clock reads `at` or later.
    pub async fn sleep_until(&self, at: Timestamp) {
        match &self.manual {
            Some(manual) => loop {
                let changed = manual.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if manual.now() >= at {
                    return;
                }
                changed.await;
            },
            None => {
                let left = at.duration_since(Timestamp::now());
                tokio::time::sleep(left.try_into().unwrap_or_default()).await;
            }
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            Some(manual) => write!(f, "Clock(set to {})", manual.now()),
            None => f.write_str("Clock(system)"),
        }
    }
}

/// A clock that stands still until it is set; sleepers wake when it passes their time.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
    changed: Notify,
}

impl ManualClock {
    /// A clock reading `at`, and the engine clock that follows it.
    pub fn new(at: Timestamp) -> (Arc<Self>, Clock) {
        let manual = Arc::new(Self {
            now: Mutex::new(at),
            changed: Notify::new(),
        });
        let clock = Clock {
            manual: Some(manual.clone()),
        };
        (manual, clock)
    }

    /// The time it reads.
    pub fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the time, waking whoever waits for it.
    pub fn set(&self, at: Timestamp) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = at;
        self.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sleeper_on_a_manual_clock_wakes_when_the_clock_passes_its_time() {
        let start: Timestamp = "2026-12-04T17:00:00Z".parse().unwrap();
        let (hand, clock) = ManualClock::new(start);
        let until: Timestamp = "2026-12-04T18:00:00Z".parse().unwrap();
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(until).await }
        });
        hand.set("2026-12-04T17:59:59Z".parse().unwrap());
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "woke before its time");
        hand.set(until);
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .expect("the sleeper did not wake")
            .unwrap();
        assert_eq!(clock.now(), until);
    }
}
