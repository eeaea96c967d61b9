//! Replicas: any number of servers on one database share the running releases. A
//! release is driven by the one replica holding its lease (`release/<id>`), which it
//! renews every third of the lease timeout (`serve --lease-timeout`, 30 s by default).
//! A replica that stops renewing — killed, frozen, cut off from the database — loses its
//! releases to the others once the timeout has passed, and they continue each release
//! from its last persisted state: the crash-safety rules (persist before acting,
//! trailers on every commit, see docs/architecture.md) make that continuation commit
//! nothing twice.
//!
//! A replica is known by its name (`--replica-name`, the host name by default): a
//! server restarted under the same name takes its previous life's leases back at once
//! instead of waiting for them to run out. Two live servers must not share a name; the
//! older one notices at its next renewal, says so in the log and stops driving.

use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::{error, info, info_span, warn, Instrument};

use crate::{Engine, EngineError, Result};

/// The lease of a running release is this followed by its id.
pub(crate) const RELEASE_LEASE: &str = "release/";

/// This process's part in the set of replicas.
pub(crate) struct Replica {
    /// Tells this process from an earlier one of the same name.
    boot: String,
    /// When the leases were last renewed; `None` before the replica has started.
    renewed: Mutex<Option<Instant>>,
    started: std::sync::Once,
}

impl Default for Replica {
    fn default() -> Self {
        Self {
            boot: ulid::Ulid::new().to_string(),
            renewed: Mutex::new(None),
            started: std::sync::Once::new(),
        }
    }
}

/// The host name, the default replica name.
pub fn default_replica_name() -> String {
    whoami::fallible::hostname().unwrap_or_else(|_| "promenade".into())
}

impl Engine {
    /// This replica's name.
    pub fn replica_name(&self) -> &str {
        &self.config().replica_name
    }

    fn replica(&self) -> &Replica {
        &self.inner.replica
    }

    /// Starts this replica's share of the work: registers it, picks up every running
    /// release nobody drives (its own previous process's included), and from then on
    /// renews its leases and takes over releases whose driver stopped renewing. Returns
    /// how many releases it picked up now.
    pub async fn resume(&self) -> Result<usize> {
        let name = self.replica_name();
        self.store()
            .register_replica(name, &self.replica().boot)
            .await?;
        self.follow().await?;
        let picked = self.take_over().await?;
        *self
            .replica()
            .renewed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        self.replica().started.call_once(|| {
            let engine = self.clone();
            let every = self.config().lease_timeout / 3;
            tokio::spawn(
                async move {
                    let mut ticker = tokio::time::interval(every);
                    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    ticker.tick().await;
                    loop {
                        ticker.tick().await;
                        match engine.renew().await {
                            Ok(()) => {}
                            Err(EngineError::Stopped) => break,
                            Err(error) => warn!(%error, "cannot renew this replica's leases"),
                        }
                    }
                }
                .instrument(info_span!("replica", name = %self.replica_name())),
            );
        });
        Ok(picked)
    }

    /// Starts driving every running release nobody else drives.
    async fn take_over(&self) -> Result<usize> {
        let ids = self
            .store()
            .undriven_releases(self.replica_name(), RELEASE_LEASE)
            .await?;
        let mut picked = 0;
        for id in ids {
            if self.is_driving(&id) {
                continue;
            }
            if self.spawn(id.clone(), None).await? {
                info!(release = %id, "driving release");
                picked += 1;
            }
        }
        Ok(picked)
    }

    /// One heartbeat: renews the replica and its leases, stops driving releases whose
    /// lease another replica took, and takes over releases left without a driver.
    async fn renew(&self) -> Result<()> {
        self.alive()?;
        let name = self.replica_name();
        let ttl = self.config().lease_timeout;
        if !self
            .store()
            .renew_replica(name, &self.replica().boot)
            .await?
        {
            error!(
                replica = name,
                "another server took over the replica name {name}: this one stops driving releases (give each replica its own --replica-name)"
            );
            self.runtime().dead.store(true, Ordering::SeqCst);
            self.stop_driving(|_| true);
            return Err(EngineError::Stopped);
        }
        let held = self.store().renew_leases(name, RELEASE_LEASE, ttl).await?;
        *self
            .replica()
            .renewed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        self.stop_driving(|id| {
            let lost = !held.iter().any(|l| l == &format!("{RELEASE_LEASE}{id}"));
            if lost {
                warn!(release = %id, "another replica took this release over: stopping here");
            }
            lost
        });
        self.take_over().await?;
        Ok(())
    }

    /// Takes the release's lease; false when another replica drives it.
    pub(crate) async fn lease_release(&self, id: &str) -> Result<bool> {
        self.store()
            .take_lease(
                &format!("{RELEASE_LEASE}{id}"),
                self.replica_name(),
                self.config().lease_timeout,
            )
            .await
    }

    /// Gives the release's lease up (it ended, or stopped here).
    pub(crate) async fn free_release(&self, id: &str) {
        if let Err(error) = self
            .store()
            .drop_lease(&format!("{RELEASE_LEASE}{id}"), self.replica_name())
            .await
        {
            warn!(release = %id, %error, "cannot give the release's lease up");
        }
    }

    /// Whether this replica has renewed its leases within the lease timeout (and so
    /// still drives its releases and may take others'): the readiness probe's question.
    pub fn holds_leases(&self) -> bool {
        self.alive().is_ok()
            && self
                .replica()
                .renewed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some_and(|at| at.elapsed() < self.config().lease_timeout)
    }

    /// Stops driving every release and gives the leases up, so other replicas take the
    /// releases over at once: the end of a graceful shutdown.
    pub async fn retire(&self) {
        self.stop_driving(|_| true);
        // The drivers stop at their next await; what they were writing is written.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if self.alive().is_ok() {
            if let Err(error) = self
                .store()
                .retire_replica(self.replica_name(), &self.replica().boot)
                .await
            {
                warn!(%error, "cannot hand this replica's leases over");
            }
        }
    }
}
