//! The product status: for every application in every environment of its flow, the
//! version, the commit that last changed its folder, drift against the upstream
//! environment, and the release working on it.

use std::collections::{BTreeMap, HashMap};

use promenade_model::graph::FlowGraph;
use promenade_model::resources::Product;
use promenade_model::template::{CompiledTemplate, FileTree};
use promenade_model::validate::ResourceSet;

use crate::auth::{allow, Principal, Role};
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

/// The last computed rows of each product, with the key they were computed for.
pub(crate) type StatusCache = std::collections::HashMap<String, (String, Vec<ApplicationRow>)>;

/// An application's folder in one environment: (application, environment, path).
type Folder = (String, String, String);

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
        let rows = tokio::task::spawn_blocking(move || -> Result<Vec<ApplicationRow>> {
            let template = CompiledTemplate::new(&template_spec)
                .map_err(|e| EngineError::BadRequest(e.to_string()))?;
            let mut trees: HashMap<(String, String), std::result::Result<FileTree, String>> =
                HashMap::new();
            let mut rows: Vec<ApplicationRow> = product_res
                .spec
                .applications
                .iter()
                .map(|a| ApplicationRow {
                    name: a.name.clone(),
                    cells: BTreeMap::new(),
                })
                .collect();
            // One fetch and one history walk per repository and branch.
            let mut groups: BTreeMap<(String, String), Vec<Folder>> = BTreeMap::new();
            for app in &product_res.spec.applications {
                for env in &columns {
                    let repo = app.repository_for(&env.name, &product_res.spec.repository);
                    groups
                        .entry((repo.url.clone(), repo.branch().to_string()))
                        .or_default()
                        .push((app.name.clone(), env.name.clone(), app.path_for(&env.name)));
                }
            }
            // One fetch per repository; what the cells show depends only on the tips and
            // the resources, so an unchanged key reuses the last computation.
            let mut tips: BTreeMap<(String, String), std::result::Result<git2::Oid, String>> =
                BTreeMap::new();
            for (url, branch) in groups.keys() {
                let lock = engine.git().lock(url);
                let _guard = lock
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let tip = engine
                    .git()
                    .open(url, &keyring)
                    .and_then(|repo| repo.fetch(branch))
                    .map_err(|e| e.to_string());
                tips.insert((url.clone(), branch.clone()), tip);
            }
            let key = cache_key(&product_res, &template_spec, &columns, &tips);
            if let Some(rows) = engine.cached_status(&product_res.metadata.name, &key) {
                return Ok(rows);
            }
            for ((url, branch), folders) in groups {
                let lock = engine.git().lock(&url);
                let _guard = lock
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let read = engine.git().open(&url, &keyring).and_then(|repo| {
                    tips.get(&(url.clone(), branch.clone()))
                        .cloned()
                        .unwrap_or_else(|| Err(format!("{url} was not fetched")))
                        .map_err(EngineError::Internal)
                        .map(|tip| (repo, tip))
                });
                let (repo, tip) = match read {
                    Ok(found) => found,
                    Err(e) => {
                        for (app, env, _) in folders {
                            trees.insert((app, env), Err(e.to_string()));
                        }
                        continue;
                    }
                };
                let paths: Vec<&str> = folders.iter().map(|(_, _, p)| p.as_str()).collect();
                let changes = repo.last_changes(tip, &paths, HISTORY_DEPTH)?;
                for (app, env, path) in &folders {
                    let row = rows
                        .iter_mut()
                        .find(|r| &r.name == app)
                        .map(|r| &mut r.cells);
                    let tree = repo.read_folder(tip, path).map_err(|e| e.to_string());
                    if let (Some(cells), Some((commit, at))) = (row, changes.get(path.as_str())) {
                        cells.insert(
                            env.clone(),
                            Cell {
                                commit: Some(commit.to_string()),
                                committed_at: Some(at.clone()),
                                ..Cell::default()
                            },
                        );
                    }
                    trees.insert((app.clone(), env.clone()), tree);
                }
            }
            for row in &mut rows {
                for env in &columns {
                    let cell = row.cells.entry(env.name.clone()).or_default();
                    match trees.get(&(row.name.clone(), env.name.clone())) {
                        Some(Ok(tree)) => {
                            cell.version = template.read_version(tree).ok().flatten();
                            if let Some(Ok(upstream)) = env
                                .upstream
                                .as_ref()
                                .and_then(|u| trees.get(&(row.name.clone(), u.clone())))
                            {
                                cell.drift = template
                                    .apply(upstream, tree)
                                    .map(|a| a.changed)
                                    .unwrap_or(false);
                            }
                        }
                        Some(Err(e)) => cell.error = Some(e.clone()),
                        None => {}
                    }
                }
            }
            engine.cache_status(&product_res.metadata.name, key, &rows);
            Ok(rows)
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

    fn cached_status(&self, product: &str, key: &str) -> Option<Vec<ApplicationRow>> {
        let cache = self
            .inner
            .status_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(product)
            .filter(|(k, _)| k == key)
            .map(|(_, rows)| rows.clone())
    }

    fn cache_status(&self, product: &str, key: String, rows: &[ApplicationRow]) {
        let mut cache = self
            .inner
            .status_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.insert(product.to_string(), (key, rows.to_vec()));
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

/// What the git-derived part of a product's status depends on: the product, its
/// template, the environments' order and upstreams, and every repository's tip.
fn cache_key(
    product: &promenade_model::resources::Product,
    template: &promenade_model::resources::PromotionTemplateSpec,
    columns: &[EnvironmentColumn],
    tips: &BTreeMap<(String, String), std::result::Result<git2::Oid, String>>,
) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(product).unwrap_or_default());
    hasher.update(serde_json::to_vec(template).unwrap_or_default());
    hasher.update(serde_json::to_vec(columns).unwrap_or_default());
    for ((url, branch), tip) in tips {
        hasher.update(format!("{url}\n{branch}\n{tip:?}\n"));
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
