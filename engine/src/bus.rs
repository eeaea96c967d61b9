//! How a replica hears about changes, its own and other replicas'. Each replica
//! follows the event table (`release_events`) in `seq` order and hands every event to
//! its live streams, and wakes what the event concerns: a gate waiting for approvals,
//! steps waiting in an environment's queue, the driver of a release another replica
//! terminated. A change made here wakes the follower at once; one made by another
//! replica arrives through PostgreSQL's `LISTEN/NOTIFY` (channel `promenade`), and a
//! look every second covers a notification lost with a dropped connection. SQLite
//! serves one machine: only the local wake-ups and the look apply.

use std::time::Duration;

use promenade_model::release::{EventChange, ReleaseStatus};
use tokio::sync::{Notify, OnceCell};
use tracing::{debug, info_span, warn, Instrument};

use crate::{Engine, EventRecord, Result};

/// The PostgreSQL channel replicas notify each other on.
const CHANNEL: &str = "promenade";

/// How often the follower looks at the event table without being woken.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// What a replica tells the others (and itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Events were written.
    Events,
    /// A place in an environment's queue was given up.
    Queue,
    /// A git host reported a change to a pull request.
    Merge,
}

impl Signal {
    fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Queue => "queue",
            Self::Merge => "merge",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Events, Self::Queue, Self::Merge]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

#[derive(Default)]
pub(crate) struct Bus {
    /// Set once the follower runs.
    following: OnceCell<()>,
    /// Wakes the follower.
    written: Notify,
    /// Wakes steps waiting in an environment's queue.
    pub(crate) queue_changes: Notify,
}

impl Engine {
    fn bus(&self) -> &Bus {
        &self.inner.bus
    }

    /// Tells this replica, and through the database every other, about a change.
    pub(crate) async fn signal(&self, signal: Signal) {
        self.wake(signal);
        if self.store().kind() == crate::DatabaseKind::Postgres {
            let notified = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(signal.as_str())
                .execute(&self.store().pool)
                .await;
            if let Err(error) = notified {
                // The others find out within a second anyway.
                debug!(%error, "cannot notify the other replicas");
            }
        }
    }

    /// Woken when a step may have become first in an environment's queue.
    pub(crate) fn queue_changes(&self) -> &Notify {
        &self.bus().queue_changes
    }

    fn wake(&self, signal: Signal) {
        match signal {
            Signal::Events => self.bus().written.notify_one(),
            Signal::Queue => self.bus().queue_changes.notify_waiters(),
            Signal::Merge => self.runtime().merge_changes.notify_waiters(),
        }
    }

    /// Starts following the event table (once), from the newest event now: every event
    /// written after this returns reaches [`Engine::subscribe`]rs.
    pub(crate) async fn follow(&self) -> Result<()> {
        self.bus()
            .following
            .get_or_try_init(|| async {
                let from = self.store().last_event_seq().await?;
                let engine = self.clone();
                tokio::spawn(
                    async move { engine.follow_events(from).await }
                        .instrument(info_span!("event-follower")),
                );
                if let Some(mut listener) = self.store().listener().await? {
                    listener.listen(CHANNEL).await?;
                    let engine = self.clone();
                    tokio::spawn(
                        async move {
                            loop {
                                match listener.recv().await {
                                    Ok(note) => {
                                        if let Some(signal) = Signal::parse(note.payload()) {
                                            engine.wake(signal);
                                        }
                                    }
                                    Err(sqlx::Error::PoolClosed) => break,
                                    Err(error) => {
                                        warn!(%error, "lost the notification channel; retrying");
                                        tokio::time::sleep(LOOK_EVERY).await;
                                    }
                                }
                            }
                        }
                        .instrument(info_span!("replica-notifications")),
                    );
                }
                Ok::<(), crate::EngineError>(())
            })
            .await?;
        Ok(())
    }

    async fn follow_events(&self, mut after: i64) {
        loop {
            // Armed before reading, so a write during the read wakes the next round.
            let woken = self.bus().written.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            loop {
                let events = match self.store().events_since(None, after).await {
                    Ok(events) => events,
                    Err(error) => {
                        if self.store().pool.is_closed() {
                            return;
                        }
                        warn!(%error, "cannot read new events");
                        break;
                    }
                };
                let Some(last) = events.last() else { break };
                after = last.seq;
                for event in events {
                    self.react(&event).await;
                    // No subscriber is fine: nobody is watching.
                    let _ = self.events().send(event);
                }
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(LOOK_EVERY) => {}
            }
        }
    }

    /// Wakes what an event concerns in this replica.
    async fn react(&self, event: &EventRecord) {
        match &event.change {
            EventChange::Approval(_) => self.runtime().gate_changes.notify_waiters(),
            EventChange::Step(_) => self.bus().queue_changes.notify_waiters(),
            EventChange::Release(change) => {
                self.bus().queue_changes.notify_waiters();
                // Terminated by another replica (this one's own terminations stop the
                // driver directly).
                if matches!(
                    change.status,
                    ReleaseStatus::Terminated | ReleaseStatus::Superseded
                ) && self.is_driving(&event.release_id)
                {
                    // Read again: a retry may have restarted it since.
                    let ended = self
                        .store()
                        .release_steps(&event.release_id)
                        .await
                        .is_ok_and(|r| r.is_some_and(|r| r.status.is_final()));
                    if ended {
                        self.stop_driving(|id| id == event.release_id);
                    }
                }
            }
            EventChange::Gate(_) => {}
        }
    }
}
