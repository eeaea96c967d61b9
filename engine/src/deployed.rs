//! What Argo CD runs, for the dashboard: the sync status, health and revision of the
//! Application of every application × environment whose Argo CD is known (the
//! environment's `spec.argocd` or the server's `--argocd-server`). Reads are made
//! concurrently and the answer is kept for [`FRESH_FOR`], so any number of open
//! dashboards cost Argo CD one read per Application per interval.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use promenade_model::overview::{DeployedCell, DeployedStatus};
use tokio::task::JoinSet;

use crate::argocd::ArgoCd;
use crate::auth::{allow, Principal, Role};
use crate::overview::columns;
use crate::{Engine, EngineError, Result};

/// How long one reading of Argo CD is shown before it is read again.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// The last reading of each product, and when it was made.
pub(crate) type DeployedCache = HashMap<String, (Instant, DeployedStatus)>;

impl Engine {
    /// What Argo CD runs for each application × environment of `product`.
    pub async fn deployed_status(&self, who: &Principal, product: &str) -> Result<DeployedStatus> {
        allow(who, Role::Viewer, "reading product status")?;
        if let Some(fresh) = self.fresh_deployed(product) {
            return Ok(fresh);
        }
        let set = self.store().resource_set().await?;
        let product_res = set
            .product(product)
            .ok_or_else(|| EngineError::NotFound(format!("product {product:?} does not exist")))?;
        let (_, environments) = columns(&set, product_res)?;
        let server = self.config().argocd.as_ref();
        let mut clients: BTreeMap<String, Result<Arc<ArgoCd>>> = BTreeMap::new();
        let mut reads = JoinSet::new();
        for env in &environments {
            let Some(instance) = set
                .environment(&env.name)
                .and_then(|e| e.spec.argocd.as_ref())
                .or(server)
            else {
                continue;
            };
            if !clients.contains_key(&instance.server) {
                let client = self.argocd_client(instance).await.map(Arc::new);
                clients.insert(instance.server.clone(), client);
            }
            let client = match &clients[&instance.server] {
                Ok(client) => client.clone(),
                Err(_) => continue,
            };
            for app in &product_res.spec.applications {
                let Some(argocd) = app.argocd.as_ref().map(|a| a.name_for(&env.name)) else {
                    continue;
                };
                let cell = DeployedCell {
                    application: app.name.clone(),
                    environment: env.name.clone(),
                    argocd,
                    ..DeployedCell::default()
                };
                let client = client.clone();
                reads.spawn(async move {
                    let state = client.application(&cell.argocd).await;
                    (cell, state)
                });
            }
        }
        let mut status = DeployedStatus {
            product: product.to_string(),
            ..DeployedStatus::default()
        };
        for (server, client) in &clients {
            if let Err(e) = client {
                status.problems.push(format!("{server}: {e}"));
            }
        }
        while let Some(read) = reads.join_next().await {
            let (mut cell, state) = read.map_err(|e| EngineError::Internal(e.to_string()))?;
            match state {
                Ok(state) => {
                    cell.sync = state.sync;
                    cell.health = state.health;
                    cell.revision = state.revision;
                    status.cells.push(cell);
                }
                Err(e) => status.problems.push(e.to_string()),
            }
        }
        status.cells.sort_by(|a, b| {
            (&a.application, &a.environment).cmp(&(&b.application, &b.environment))
        });
        status.problems.sort();
        status.problems.dedup();
        self.keep_deployed(&status);
        Ok(status)
    }

    fn fresh_deployed(&self, product: &str) -> Option<DeployedStatus> {
        let cache = self
            .inner
            .deployed_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(product)
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, status)| status.clone())
    }

    fn keep_deployed(&self, status: &DeployedStatus) {
        self.inner
            .deployed_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(status.product.clone(), (Instant::now(), status.clone()));
    }
}
