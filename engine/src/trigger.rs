//! Releases started by changes: the trigger environment of each product flow is polled
//! (and `POST /api/v1/webhooks/git` polls at once). A change to any application folder
//! there starts a release of that content, unless the commit message filter says no.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tracing::{info, info_span, warn, Instrument};

use crate::auth::{allow, Principal, Role};
use crate::release::PromotionRequest;
use crate::store::{now, ReleaseRecord};
use crate::{Engine, EngineError, Result};

/// What one poll of one product flow saw.
struct Observation {
    fingerprint: String,
    /// The newest commit that changed a folder, and its message.
    commit: String,
    message: String,
}

impl Engine {
    /// Polls every product flow's trigger environment once and starts a release for
    /// each that changed since the last poll, as `who` asks (a git host's webhook). The
    /// first poll only records a baseline.
    pub async fn poll_triggers(&self, who: &Principal) -> Result<Vec<ReleaseRecord>> {
        allow(who, Role::Promoter, "polling triggers")?;
        let set = self.store().resource_set().await?;
        let mut started = Vec::new();
        for product in set.products() {
            for product_flow in &product.spec.flows {
                let Some(flow) = set.flow(&product_flow.name) else {
                    continue;
                };
                let environment = flow.spec.trigger_environment.clone();
                let observed = {
                    let engine = self.clone();
                    let product = product.clone();
                    tokio::task::spawn_blocking(move || engine.observe(&product, &environment))
                        .await
                        .map_err(|e| EngineError::Internal(e.to_string()))?
                };
                let observed = match observed {
                    Ok(o) => o,
                    Err(error) => {
                        warn!(product = %product.metadata.name, %error, "cannot poll the trigger environment");
                        continue;
                    }
                };
                let name = &product.metadata.name;
                if !self
                    .advance(name, &product_flow.name, &observed.fingerprint)
                    .await?
                {
                    continue;
                }
                let accepted = product_flow
                    .trigger
                    .as_ref()
                    .is_none_or(|t| t.accepts(&observed.message));
                if !accepted {
                    info!(product = %name, commit = %observed.commit, "change skipped by the trigger's commit message filter");
                    continue;
                }
                let request = PromotionRequest {
                    flow: Some(product_flow.name.clone()),
                    message: Some(format!("Triggered by {}", short(&observed.commit))),
                    ..Default::default()
                };
                match self.promote(&trigger_principal(), name, &request).await {
                    Ok(release) => started.push(release),
                    Err(error) => {
                        warn!(product = %name, %error, "cannot start the triggered release")
                    }
                }
            }
        }
        Ok(started)
    }

    /// Polls every `interval` until the process ends.
    pub fn start_polling(&self, interval: Duration) {
        let engine = self.clone();
        tokio::spawn(
            async move {
                let mut ticker = tokio::time::interval(interval);
                loop {
                    ticker.tick().await;
                    if let Err(error) = engine.poll_triggers(&trigger_principal()).await {
                        warn!(%error, "trigger poll failed");
                    }
                }
            }
            .instrument(info_span!("trigger-poller")),
        );
    }

    fn observe(
        &self,
        product: &promenade_model::resources::Product,
        environment: &str,
    ) -> Result<Observation> {
        let mut hasher = Sha256::new();
        let mut newest: Option<(String, String, String)> = None; // (time, commit, message)
        for app in &product.spec.applications {
            let spec = app.repository_for(environment, &product.spec.repository);
            let lock = self.git().lock(&spec.url);
            let _guard = lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let repo = self.git().open(&spec.url)?;
            let tip = repo.fetch(spec.branch())?;
            let folder = app.path_for(environment);
            hasher.update(app.name.as_bytes());
            hasher.update(
                repo.folder_id(tip, &folder)?
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            );
            if let Some((commit, at)) = repo
                .last_changes(tip, &[folder.as_str()], 200)?
                .remove(&folder)
            {
                if newest.as_ref().is_none_or(|(time, _, _)| at > *time) {
                    newest = Some((at, commit.to_string(), repo.commit_message(commit)?));
                }
            }
        }
        let (_, commit, message) = newest.unwrap_or_default();
        Ok(Observation {
            fingerprint: hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            commit,
            message,
        })
    }

    /// Records `fingerprint` for the product flow; true when it changed from a known
    /// earlier one. A compare-and-swap, so of several replicas polling at once only one
    /// starts the release.
    async fn advance(&self, product: &str, flow: &str, fingerprint: &str) -> Result<bool> {
        let pool = &self.store().pool;
        let inserted = sqlx::query(
            "INSERT INTO trigger_state (product, flow, fingerprint, checked_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (product, flow) DO NOTHING",
        )
        .bind(product)
        .bind(flow)
        .bind(fingerprint)
        .bind(now())
        .execute(pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(false);
        }
        let changed = sqlx::query(
            "UPDATE trigger_state SET fingerprint = ?, checked_at = ?
             WHERE product = ? AND flow = ? AND fingerprint <> ?",
        )
        .bind(fingerprint)
        .bind(now())
        .bind(product)
        .bind(flow)
        .bind(fingerprint)
        .execute(pool)
        .await?;
        Ok(changed.rows_affected() == 1)
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Releases started by a commit in a trigger environment are started by Promenade
/// itself, with a promoter's rights.
fn trigger_principal() -> Principal {
    Principal::system("trigger", Role::Promoter)
}
