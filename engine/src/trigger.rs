//! Releases started by changes: the trigger environment of each product flow is looked
//! at by the poller (`serve --poll-interval`) and whenever a git host's webhook reports
//! a push. A change to any application folder there starts a release of that content,
//! unless the commit message filter says no.
//!
//! A round fetches each repository and branch once, however many products use it, and
//! a webhook's round only looks at the pushed repository and branch. Whether something
//! changed is a fingerprint of the trigger folders' tree ids, swapped in the database
//! with compare-and-set, so of several replicas (or a webhook racing the poller) exactly
//! one starts the release.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use git2::Oid;
use promenade_model::remote::RemoteUrl;
use promenade_model::resources::Product;
use sha2::{Digest, Sha256};
use tracing::{debug, info, info_span, warn, Instrument};

use crate::auth::{allow, Principal, Role};
use crate::credentials::Keyring;
use crate::git::Clones;
use crate::release::{PromotionRequest, Tips};
use crate::store::{now, ReleaseRecord};
use crate::{Engine, EngineError, Result};

/// How far back the newest change of a trigger folder is looked for (its commit message
/// decides the trigger's filter).
const HISTORY_DEPTH: usize = 200;

/// Which part of the repositories a round looks at.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    /// Only this repository (by [`RemoteUrl::identity`]) and branch; all when `None`.
    pub pushed: Option<Pushed>,
}

/// What a webhook says was pushed.
#[derive(Clone, Debug)]
pub(crate) struct Pushed {
    /// Every spelling of the repository the host sent, as identities.
    pub repositories: BTreeSet<String>,
    pub branch: String,
    /// The files the push touched, when the host listed them all.
    pub paths: Option<Vec<String>>,
}

/// One product flow whose trigger environment the round looks at.
struct Watch {
    product: Product,
    flow: String,
    /// The trigger environment's folders: (application, url, branch, folder).
    folders: Vec<(String, String, String, String)>,
}

/// One trigger folder at the round's tip: its tree, and the newest commit that changed
/// it with that commit's time.
struct FolderState {
    tree: Option<Oid>,
    change: Option<(Oid, String)>,
}

/// What one round saw of one product flow.
struct Observation {
    fingerprint: String,
    /// The newest commit that changed a folder, and its message.
    commit: String,
    message: String,
    /// The tip of each of the flow's branches the round fetched: what a release it
    /// starts promotes.
    tips: Tips,
}

/// The lease naming the replica whose turn it is to poll the trigger environments.
const POLL_TURN: &str = "trigger-poll";

impl Engine {
    /// Looks at every product flow's trigger environment now and starts a release for
    /// each that changed since the last look, as `who` asks. The first look only records
    /// a baseline.
    pub async fn poll_triggers(&self, who: &Principal) -> Result<Vec<ReleaseRecord>> {
        allow(who, Role::Promoter, "polling triggers")?;
        self.trigger_round(&Scope::default()).await
    }

    /// Looks at every trigger environment now, which records the baselines webhooks
    /// compare against, then every `interval` (when there is one) until the process
    /// ends.
    pub fn start_polling(&self, interval: Option<Duration>) {
        let engine = self.clone();
        tokio::spawn(
            async move {
                let Some(interval) = interval else {
                    if let Err(error) = engine.trigger_round(&Scope::default()).await {
                        warn!(%error, "trigger baseline failed");
                    }
                    return;
                };
                let mut ticker = tokio::time::interval(interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    match engine.poll_turn(interval).await {
                        Ok(true) => {}
                        Ok(false) => {
                            debug!("another replica polls this time");
                            continue;
                        }
                        Err(error) => {
                            warn!(%error, "cannot take the poll's turn");
                            continue;
                        }
                    }
                    if let Err(error) = engine.trigger_round(&Scope::default()).await {
                        warn!(%error, "trigger poll failed");
                    }
                }
            }
            .instrument(info_span!("trigger-poller")),
        );
    }

    /// Whether this replica polls now: of the replicas on one database, the first whose
    /// timer fires once the last poll's turn is over takes the next, so the trigger
    /// environments are polled about once per interval however many replicas run. The
    /// turn lasts most of an interval, leaving slack for timers that drift.
    async fn poll_turn(&self, interval: Duration) -> Result<bool> {
        self.store()
            .take_turn(POLL_TURN, self.replica_name(), interval.mul_f64(0.8))
            .await
    }

    /// One round over the product flows in `scope`.
    pub(crate) async fn trigger_round(&self, scope: &Scope) -> Result<Vec<ReleaseRecord>> {
        let set = self.store().resource_set().await?;
        let watches = watches(&set, scope);
        if watches.is_empty() {
            debug!("no trigger environment in scope");
            return Ok(Vec::new());
        }
        // Keyrings per product: one product's missing credentials do not stop the others.
        let mut usable = Vec::new();
        for watch in watches {
            match self.keyring(&[&watch.product]).await {
                Ok(keyring) => usable.push((watch, keyring)),
                Err(error) => {
                    warn!(product = %watch.product.metadata.name, %error, "cannot poll the trigger environment")
                }
            }
        }
        let observations = {
            let engine = self.clone();
            tokio::task::spawn_blocking(move || engine.observe_round(usable))
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))?
        };

        let mut started = Vec::new();
        for (product, flow, observed) in observations {
            let name = &product.metadata.name;
            if !self.advance(name, &flow, &observed.fingerprint).await? {
                continue;
            }
            let accepted = product
                .spec
                .flows
                .iter()
                .find(|f| f.name == flow)
                .and_then(|f| f.trigger.as_ref())
                .is_none_or(|t| t.accepts(&observed.message));
            if !accepted {
                info!(product = %name, commit = %observed.commit, "change skipped by the trigger's commit message filter");
                continue;
            }
            let request = PromotionRequest {
                flow: Some(flow.clone()),
                message: Some(format!("Triggered by {}", short(&observed.commit))),
                ..Default::default()
            };
            match self
                .promote_from(&trigger_principal(), name, &request, observed.tips)
                .await
            {
                Ok(release) => started.push(release),
                Err(error) => {
                    warn!(product = %name, %error, "cannot start the triggered release")
                }
            }
        }
        Ok(started)
    }

    /// Fetches each repository and branch once, then fingerprints every watch.
    fn observe_round(&self, watches: Vec<(Watch, Keyring)>) -> Vec<(Product, String, Observation)> {
        let mut tips: BTreeMap<(String, String), Option<Oid>> = BTreeMap::new();
        let mut observed = Vec::new();
        for (watch, keyring) in watches {
            let result = (|| -> Result<Observation> {
                let mut hasher = Sha256::new();
                let mut seen = Tips::new();
                // Per repository and branch, one fetch (per round), one read of the
                // folders' trees and one walk of the history for all of them, however
                // many applications share it.
                let mut groups: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
                for (_, url, branch, folder) in &watch.folders {
                    groups.entry((url, branch)).or_default().push(folder);
                }
                let mut clones = Clones::new(self.git(), &keyring);
                let mut read: HashMap<(&str, &str, &str), FolderState> = HashMap::new();
                for ((url, branch), folders) in groups {
                    clones.with(url, |repo| {
                        let key = (url.to_string(), branch.to_string());
                        let tip = match tips.get(&key) {
                            Some(Some(tip)) => *tip,
                            Some(None) => {
                                return Err(EngineError::Internal(format!(
                                    "{url} could not be fetched in this round"
                                )))
                            }
                            None => {
                                let fetched = repo.fetch(branch);
                                tips.insert(key.clone(), fetched.as_ref().ok().copied());
                                fetched?
                            }
                        };
                        seen.insert(key, tip);
                        let trees = repo.folder_trees(tip, &folders)?;
                        let changes = repo.last_changes(tip, &folders, HISTORY_DEPTH)?;
                        for (folder, tree) in folders.into_iter().zip(trees) {
                            let change = changes.get(folder).cloned();
                            read.insert((url, branch, folder), FolderState { tree, change });
                        }
                        Ok(())
                    })?;
                }
                // In the flow's order, so a fingerprint does not depend on the grouping.
                let mut newest: Option<(String, Oid, &str)> = None; // (time, commit, url)
                for (app, url, branch, folder) in &watch.folders {
                    let state = read
                        .get(&(url.as_str(), branch.as_str(), folder.as_str()))
                        .ok_or_else(|| EngineError::Internal(format!("{folder} was not read")))?;
                    hasher.update(app.as_bytes());
                    hasher.update(state.tree.map(|id| id.to_string()).unwrap_or_default());
                    if let Some((commit, at)) = &state.change {
                        if newest.as_ref().is_none_or(|(time, _, _)| at > time) {
                            newest = Some((at.clone(), *commit, url));
                        }
                    }
                }
                let newest = match newest {
                    Some((at, commit, url)) => {
                        let message = clones.with(url, |repo| repo.commit_message(commit))?;
                        Some((at, commit.to_string(), message))
                    }
                    None => None,
                };
                let (_, commit, message) = newest.unwrap_or_default();
                Ok(Observation {
                    fingerprint: hex::encode(hasher.finalize()),
                    commit,
                    message,
                    tips: seen,
                })
            })();
            match result {
                Ok(observation) => observed.push((watch.product, watch.flow, observation)),
                Err(error) => {
                    warn!(product = %watch.product.metadata.name, %error, "cannot poll the trigger environment")
                }
            }
        }
        observed
    }

    /// Records `fingerprint` for the product flow; true when it changed from a known
    /// earlier one. A compare-and-swap, so of several replicas polling at once only one
    /// starts the release.
    async fn advance(&self, product: &str, flow: &str, fingerprint: &str) -> Result<bool> {
        let pool = &self.store().pool;
        let inserted = sqlx::query(
            "INSERT INTO trigger_state (product, flow, fingerprint, checked_at) VALUES ($1, $2, $3, $4)
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
            "UPDATE trigger_state SET fingerprint = $1, checked_at = $2
             WHERE product = $3 AND flow = $4 AND fingerprint <> $5",
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

/// The product flows a round looks at: all, or those whose trigger environment lives in
/// the pushed repository and branch and (when the push lists its files) had a folder
/// touched.
fn watches(set: &promenade_model::ResourceSet, scope: &Scope) -> Vec<Watch> {
    let mut watches = Vec::new();
    for product in set.products() {
        for product_flow in &product.spec.flows {
            let Some(flow) = set.flow(&product_flow.name) else {
                continue;
            };
            let environment = &flow.spec.trigger_environment;
            let folders: Vec<(String, String, String, String)> = product
                .spec
                .applications
                .iter()
                .map(|app| {
                    let repository = app.repository_for(environment, &product.spec.repository);
                    (
                        app.name.clone(),
                        repository.url.clone(),
                        repository.branch().to_string(),
                        app.path_for(environment).trim_matches('/').to_string(),
                    )
                })
                .collect();
            let in_scope = match &scope.pushed {
                None => true,
                Some(pushed) => folders.iter().any(|(_, url, branch, folder)| {
                    let same_repository = RemoteUrl::parse(url)
                        .is_ok_and(|u| pushed.repositories.contains(&u.identity()));
                    same_repository
                        && *branch == pushed.branch
                        && pushed.paths.as_ref().is_none_or(|paths| {
                            paths.iter().any(|p| {
                                p.strip_prefix(folder.as_str())
                                    .is_some_and(|rest| rest.starts_with('/'))
                            })
                        })
                }),
            };
            if in_scope {
                watches.push(Watch {
                    product: product.clone(),
                    flow: product_flow.name.clone(),
                    folders,
                });
            }
        }
    }
    watches
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Releases started by a commit in a trigger environment are started by Promenade
/// itself, with a promoter's rights.
pub(crate) fn trigger_principal() -> Principal {
    Principal::system("trigger", Role::Promoter)
}
