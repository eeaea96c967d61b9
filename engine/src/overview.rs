//! The product status: for every application in every environment of its flow, the
//! version, the commit that last changed its folder, drift against the upstream
//! environment, and the release working on it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use git2::Oid;

use promenade_model::graph::FlowGraph;
use promenade_model::resources::{Product, PromotionTemplateSpec};
use promenade_model::template::{CompiledTemplate, FileTree};
use promenade_model::validate::ResourceSet;

use crate::auth::{allow, Principal, Role};
use crate::credentials::Keyring;
use crate::git::Repo;
use crate::store::ReleaseFilter;
use crate::{Engine, EngineError, Result};
use promenade_model::overview::{
    ApplicationRow, Cell, EnvironmentColumn, ProductStatus, RunningRelease,
};
use promenade_model::release::ReleaseStatus;

/// How far back the last change of a folder is looked for.
const HISTORY_DEPTH: usize = 500;

/// The dashboard's columns: the environments of the product's (first) flow, the
/// trigger first, then level by level; and that flow's name.
pub(crate) fn columns(
    set: &ResourceSet,
    product: &Product,
) -> Result<(String, Vec<EnvironmentColumn>)> {
    let name = &product.metadata.name;
    let flow_name = product
        .spec
        .flows
        .first()
        .map(|f| f.name.clone())
        .ok_or_else(|| EngineError::BadRequest(format!("product {name:?} has no flow")))?;
    let flow = set
        .flow(&flow_name)
        .ok_or_else(|| EngineError::NotFound(format!("flow {flow_name:?} does not exist")))?;
    let graph = FlowGraph::new(&flow.spec).map_err(|e| EngineError::BadRequest(e.to_string()))?;
    let environments = graph
        .levels()
        .into_iter()
        .flatten()
        .map(|env| EnvironmentColumn {
            name: env.to_string(),
            upstream: graph.dependencies(env).first().map(|d| d.to_string()),
            prod: set
                .environment(env)
                .is_some_and(|e| e.spec.kind == promenade_model::resources::EnvironmentKind::Prod),
        })
        .collect();
    Ok((flow_name, environments))
}

/// Whether Argo CD deploys some application of `product` in one of `environments`.
fn product_argocd(
    set: &ResourceSet,
    product: &Product,
    environments: &[EnvironmentColumn],
    server_argocd: bool,
) -> bool {
    product.spec.applications.iter().any(|a| a.argocd.is_some())
        && (server_argocd
            || environments.iter().any(|env| {
                set.environment(&env.name)
                    .is_some_and(|e| e.spec.argocd.is_some())
            }))
}

/// The git-derived part of one product's status, kept so that the next request reads
/// only the folders whose tree moved since.
pub(crate) struct Computed {
    /// What the cells depend on besides git: see [`resources_key`].
    resources: String,
    /// Each repository and branch's tip, or why it could not be fetched.
    tips: Tips,
    /// Each application and environment's folder tree id at its tip, and its cell.
    folders: HashMap<(String, String), (Option<Oid>, Cell)>,
}

/// The last computed status of each product.
pub(crate) type StatusCache = HashMap<String, Arc<Computed>>;

type Tips = BTreeMap<(String, String), std::result::Result<Oid, String>>;

/// An application's folder in one environment: (application, environment, path).
type Folder = (String, String, String);

/// How many new commits on a branch are walked to find the folders they changed; past
/// that (or after a rewrite) every folder of the branch is read again.
const INCREMENTAL_DEPTH: usize = 50;

impl Engine {
    /// Every application × environment of a product: version, commit, drift, running
    /// release.
    pub async fn product_status(&self, who: &Principal, product: &str) -> Result<ProductStatus> {
        allow(who, Role::Viewer, "reading product status")?;
        let last_event = self.store().last_event_seq().await?;
        let set = self.store().resource_set().await?;
        let product_res = set
            .product(product)
            .ok_or_else(|| EngineError::NotFound(format!("product {product:?} does not exist")))?
            .clone();
        let (flow_name, environments) = columns(&set, &product_res)?;
        let argocd = product_argocd(
            &set,
            &product_res,
            &environments,
            self.config().argocd.is_some(),
        );
        let template_spec = set
            .template(&product_res.spec.template)
            .ok_or_else(|| EngineError::NotFound("the product's template does not exist".into()))?
            .spec
            .clone();

        let running = self.running_steps(product).await?;
        let keyring = self.keyring(&[&product_res]).await?;
        let engine = self.clone();
        let columns = environments.clone();
        let rows = tokio::task::spawn_blocking(move || {
            engine.git_rows(&product_res, &template_spec, &columns, &keyring)
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))??;

        let mut applications = rows;
        for row in &mut applications {
            for (env, cell) in &mut row.cells {
                if let Some(release) = running.get(env) {
                    // Drift is only meaningful when no release is moving the content.
                    cell.drift = false;
                    cell.release = Some(release.clone());
                }
            }
        }
        Ok(ProductStatus {
            argocd,
            product: product.to_string(),
            flow: flow_name,
            environments,
            applications,
            generated_at: crate::store::now(),
            last_event,
            blocked: self.store().blocked_versions(Some(product)).await?,
            pauses: self.store().pauses(product).await?,
        })
    }

    /// The cells as git shows them: versions, last commits, drift. Only folders whose
    /// tree moved since the last computation for the same resources are read again,
    /// with the drift of their neighbours; the rest is reused.
    fn git_rows(
        &self,
        product: &Product,
        template_spec: &PromotionTemplateSpec,
        columns: &[EnvironmentColumn],
        keyring: &Keyring,
    ) -> Result<Vec<ApplicationRow>> {
        let template = CompiledTemplate::new(template_spec)
            .map_err(|e| EngineError::BadRequest(e.to_string()))?;
        // One fetch and one history walk per repository and branch.
        let mut groups: BTreeMap<(String, String), Vec<Folder>> = BTreeMap::new();
        for app in &product.spec.applications {
            for env in columns {
                let repo = app.repository_for(&env.name, &product.spec.repository);
                groups
                    .entry((repo.url.clone(), repo.branch().to_string()))
                    .or_default()
                    .push((app.name.clone(), env.name.clone(), app.path_for(&env.name)));
            }
        }
        let mut tips: Tips = BTreeMap::new();
        for (url, branch) in groups.keys() {
            let tip = self
                .git()
                .with_clone(url, keyring, |repo| repo.fetch(branch));
            tips.insert(
                (url.clone(), branch.clone()),
                tip.map_err(|e| e.to_string()),
            );
        }
        let name = &product.metadata.name;
        let resources = resources_key(product, template_spec, columns);
        let previous = self
            .cached_status(name)
            .filter(|c| c.resources == resources);
        if let Some(previous) = previous.as_ref().filter(|c| c.tips == tips) {
            return Ok(rows_of(product, columns, &previous.folders));
        }

        // Which folders moved: their tree differs now, or differed at some commit
        // since the previous tip (a change and its revert still moved the last commit).
        let mut trees: HashMap<(String, String), Option<Oid>> = HashMap::new();
        let mut moved: HashSet<(String, String)> = HashSet::new();
        let mut failed: HashMap<(String, String), String> = HashMap::new();
        for (key, folders) in &groups {
            let since = previous
                .as_ref()
                .and_then(|p| p.tips.get(key))
                .and_then(|t| t.as_ref().ok().copied());
            let found = tips[key]
                .clone()
                .map_err(EngineError::Internal)
                .and_then(|tip| {
                    self.git().with_clone(&key.0, keyring, |repo| {
                        folder_changes(repo, tip, since, folders, previous.as_deref())
                    })
                });
            for (index, (app, env, _)) in folders.iter().enumerate() {
                let at = (app.clone(), env.clone());
                match &found {
                    Ok((ids, changed)) => {
                        trees.insert(at.clone(), ids[index]);
                        if changed[index] {
                            moved.insert(at);
                        }
                    }
                    Err(e) => {
                        failed.insert(at.clone(), e.to_string());
                        moved.insert(at);
                    }
                }
            }
        }

        // A cell's drift compares it with its upstream: it changes when either moved.
        let mut redrift: HashSet<(String, String)> = HashSet::new();
        let mut wanted: HashSet<(String, String)> = moved.clone();
        for app in &product.spec.applications {
            for env in columns {
                let Some(upstream) = &env.upstream else {
                    continue;
                };
                let here = (app.name.clone(), env.name.clone());
                let there = (app.name.clone(), upstream.clone());
                if moved.contains(&here) || moved.contains(&there) {
                    wanted.insert(here.clone());
                    wanted.insert(there);
                    redrift.insert(here);
                }
            }
        }
        let mut files: HashMap<(String, String), std::result::Result<FileTree, String>> =
            HashMap::new();
        let mut changes: HashMap<(String, String), (Oid, String)> = HashMap::new();
        for (key, folders) in &groups {
            let Ok(tip) = tips[key] else {
                continue;
            };
            let to_read: Vec<&Folder> = folders
                .iter()
                .filter(|(a, e, _)| {
                    let at = (a.clone(), e.clone());
                    wanted.contains(&at) && !failed.contains_key(&at)
                })
                .collect();
            if to_read.is_empty() {
                continue;
            }
            let read = self.git().with_clone(&key.0, keyring, |repo| {
                let paths: Vec<&str> = to_read
                    .iter()
                    .filter(|(a, e, _)| moved.contains(&(a.clone(), e.clone())))
                    .map(|(_, _, p)| p.as_str())
                    .collect();
                let last = repo.last_changes(tip, &paths, HISTORY_DEPTH)?;
                let folders: Vec<&str> = to_read.iter().map(|(_, _, p)| p.as_str()).collect();
                let read = repo.read_folders(tip, &folders)?;
                for ((app, env, path), read) in to_read.iter().zip(read) {
                    let at = (app.clone(), env.clone());
                    if let Some(change) = last.get(path.as_str()) {
                        changes.insert(at.clone(), change.clone());
                    }
                    files.insert(at, read.map_err(|e| e.to_string()));
                }
                Ok(())
            });
            if let Err(e) = read {
                for (app, env, _) in to_read {
                    failed.insert((app.clone(), env.clone()), e.to_string());
                }
            }
        }

        let mut computed: HashMap<(String, String), (Option<Oid>, Cell)> = HashMap::new();
        for app in &product.spec.applications {
            for env in columns {
                let at = (app.name.clone(), env.name.clone());
                let tree = trees.get(&at).copied().flatten();
                let mut cell = if let Some(e) = failed.get(&at) {
                    Cell {
                        error: Some(e.clone()),
                        ..Cell::default()
                    }
                } else if moved.contains(&at) {
                    let (commit, committed_at) = changes
                        .get(&at)
                        .map(|(c, t)| (Some(c.to_string()), Some(t.clone())))
                        .unwrap_or_default();
                    let mut cell = Cell {
                        commit,
                        committed_at,
                        ..Cell::default()
                    };
                    match files.get(&at) {
                        Some(Ok(tree)) => cell.version = template.read_version(tree).ok().flatten(),
                        Some(Err(e)) => cell.error = Some(e.clone()),
                        None => {}
                    }
                    cell
                } else {
                    previous
                        .as_ref()
                        .and_then(|p| p.folders.get(&at))
                        .map(|(_, cell)| cell.clone())
                        .unwrap_or_default()
                };
                if redrift.contains(&at) {
                    let upstream = env
                        .upstream
                        .as_ref()
                        .and_then(|u| files.get(&(app.name.clone(), u.clone())));
                    cell.drift = match (upstream, files.get(&at)) {
                        (Some(Ok(upstream)), Some(Ok(tree))) if cell.error.is_none() => template
                            .apply(upstream, tree)
                            .map(|a| a.changed)
                            .unwrap_or(false),
                        _ => false,
                    };
                }
                computed.insert(at, (tree, cell));
            }
        }
        let rows = rows_of(product, columns, &computed);
        self.cache_status(
            name,
            Computed {
                resources,
                tips,
                folders: computed,
            },
        );
        Ok(rows)
    }

    fn cached_status(&self, product: &str) -> Option<Arc<Computed>> {
        let cache = self
            .inner
            .status_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(product).cloned()
    }

    fn cache_status(&self, product: &str, computed: Computed) {
        let mut cache = self
            .inner
            .status_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.insert(product.to_string(), Arc::new(computed));
    }

    /// The newest running release's step state per environment.
    async fn running_steps(&self, product: &str) -> Result<BTreeMap<String, RunningRelease>> {
        let filter = ReleaseFilter {
            product: Some(product.to_string()),
            status: Some(ReleaseStatus::Running),
            ..Default::default()
        };
        let mut running = BTreeMap::new();
        for summary in self.store().list_releases(&filter).await?.into_iter().rev() {
            if let Some(release) = self.store().release(&summary.id).await? {
                for step in release.steps.iter().filter(|s| !s.status.is_final()) {
                    running.insert(
                        step.environment.clone(),
                        RunningRelease {
                            id: release.id.clone(),
                            status: step.status,
                            pull_request: step
                                .detail
                                .repositories
                                .iter()
                                .find_map(|r| r.pull_request.clone()),
                            break_glass: step.detail.break_glass.clone(),
                        },
                    );
                }
            }
        }
        Ok(running)
    }
}

/// The folders' tree ids at `tip`, and which of them moved since the previous
/// computation: every one when there is none or `since` is not within reach.
fn folder_changes(
    repo: &Repo,
    tip: Oid,
    since: Option<Oid>,
    folders: &[Folder],
    previous: Option<&Computed>,
) -> Result<(Vec<Option<Oid>>, Vec<bool>)> {
    let paths: Vec<&str> = folders.iter().map(|(_, _, p)| p.as_str()).collect();
    let now = repo.folder_trees(tip, &paths)?;
    let (Some(since), Some(previous)) = (since, previous) else {
        return Ok((now, vec![true; folders.len()]));
    };
    let Some(commits) = repo.commits_since(tip, since, INCREMENTAL_DEPTH)? else {
        return Ok((now, vec![true; folders.len()]));
    };
    let before: Vec<Option<Option<Oid>>> = folders
        .iter()
        .map(|(app, env, _)| {
            previous
                .folders
                .get(&(app.clone(), env.clone()))
                .map(|(id, _)| *id)
        })
        .collect();
    let mut changed: Vec<bool> = before.iter().map(Option::is_none).collect();
    for commit in commits {
        let ids = if commit == tip {
            now.clone()
        } else {
            repo.folder_trees(commit, &paths)?
        };
        for (index, id) in ids.into_iter().enumerate() {
            changed[index] |= before[index] != Some(id);
        }
    }
    Ok((now, changed))
}

/// The rows of `product` in its applications' order, from the computed cells.
fn rows_of(
    product: &Product,
    columns: &[EnvironmentColumn],
    cells: &HashMap<(String, String), (Option<Oid>, Cell)>,
) -> Vec<ApplicationRow> {
    product
        .spec
        .applications
        .iter()
        .map(|app| ApplicationRow {
            name: app.name.clone(),
            cells: columns
                .iter()
                .map(|env| {
                    let cell = cells
                        .get(&(app.name.clone(), env.name.clone()))
                        .map(|(_, cell)| cell.clone())
                        .unwrap_or_default();
                    (env.name.clone(), cell)
                })
                .collect(),
        })
        .collect()
}

/// What the git-derived part of a product's status depends on besides the tips: the
/// product, its template, the environments' order and upstreams.
fn resources_key(
    product: &Product,
    template: &PromotionTemplateSpec,
    columns: &[EnvironmentColumn],
) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(product).unwrap_or_default());
    hasher.update(serde_json::to_vec(template).unwrap_or_default());
    hasher.update(serde_json::to_vec(columns).unwrap_or_default());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
