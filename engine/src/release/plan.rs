//! From a promotion request and the stored resources to a plan: which environments, in
//! which order, with which action, from which frozen source.

use std::collections::BTreeMap;

use promenade_model::graph::FlowGraph;
use promenade_model::policy::EffectivePolicy;
use promenade_model::resources::{
    Application, ArgoCdInstance, ArgoWorkflowsInstance, EnvironmentSpec, Product, PromotionAction,
    PromotionFlow,
};
use promenade_model::template::CompiledTemplate;
use promenade_model::validate::ResourceSet;

pub use promenade_model::release::{PromotionRequest, SourceRef};

use crate::{EngineError, Result};

/// One environment of the plan.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    pub environment: String,
    /// Steps of this plan that must finish first (the source environment is not a step).
    pub depends_on: Vec<String>,
    pub policy: EffectivePolicy,
}

impl PlannedStep {
    pub fn action(&self) -> PromotionAction {
        self.policy.action
    }
}

/// For each step's environment, the instance its resource names (`pick`), else the
/// server's own; environments with neither are left out.
fn per_environment<T: Clone>(
    set: &ResourceSet,
    steps: &[PlannedStep],
    pick: impl Fn(&EnvironmentSpec) -> Option<&T>,
    server: Option<&T>,
) -> BTreeMap<String, T> {
    steps
        .iter()
        .filter_map(|s| {
            let named = set.environment(&s.environment).and_then(|e| pick(&e.spec));
            Some((s.environment.clone(), named.or(server)?.clone()))
        })
        .collect()
}

/// The server's own Argo CD and Argo Workflows (`serve --argocd-server`,
/// `--argo-workflows-server`).
#[derive(Clone, Copy, Default)]
pub struct ServerArgo<'a> {
    pub argocd: Option<&'a ArgoCdInstance>,
    pub workflows: Option<&'a ArgoWorkflowsInstance>,
}

/// Everything a release needs from the resources, resolved once.
pub struct Plan {
    pub product: Product,
    pub flow: PromotionFlow,
    pub template: CompiledTemplate,
    /// The environment whose content is promoted.
    pub source_environment: String,
    pub applications: Vec<Application>,
    /// In topological order.
    pub steps: Vec<PlannedStep>,
    /// The Argo CD of each step's environment: its own, else the server's.
    pub argocd: BTreeMap<String, ArgoCdInstance>,
    /// The Argo Workflows of each step's environment: its own, else the server's.
    pub argo_workflows: BTreeMap<String, ArgoWorkflowsInstance>,
}

impl Plan {
    /// `servers` are the server's own Argo CD and Argo Workflows, for environments that
    /// name none.
    pub fn new(
        set: &ResourceSet,
        product_name: &str,
        request: &PromotionRequest,
        servers: ServerArgo<'_>,
    ) -> Result<Self> {
        let product = set
            .product(product_name)
            .ok_or_else(|| {
                EngineError::NotFound(format!("product {product_name:?} does not exist"))
            })?
            .clone();
        let flow_name = match &request.flow {
            Some(name) => {
                if !product.spec.flows.iter().any(|f| &f.name == name) {
                    return Err(EngineError::BadRequest(format!(
                        "product {product_name:?} is not promoted along flow {name:?}"
                    )));
                }
                name.clone()
            }
            None => product
                .spec
                .flows
                .first()
                .map(|f| f.name.clone())
                .ok_or_else(|| {
                    EngineError::BadRequest(format!("product {product_name:?} has no flow"))
                })?,
        };
        let flow = set
            .flow(&flow_name)
            .ok_or_else(|| EngineError::NotFound(format!("flow {flow_name:?} does not exist")))?
            .clone();
        let template_spec = &set
            .template(&product.spec.template)
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "template {:?} does not exist",
                    product.spec.template
                ))
            })?
            .spec;
        let template = CompiledTemplate::new(template_spec)
            .map_err(|e| EngineError::BadRequest(e.to_string()))?;
        let graph =
            FlowGraph::new(&flow.spec).map_err(|e| EngineError::BadRequest(e.to_string()))?;

        let known = |env: &str| -> Result<()> {
            if env == graph.trigger() || graph.environments().contains(&env) {
                Ok(())
            } else {
                Err(EngineError::BadRequest(format!(
                    "environment {env:?} is not in flow {flow_name:?}"
                )))
            }
        };
        let policy = |environment: &str| -> Result<EffectivePolicy> {
            set.effective_policy(product_name, environment, Some(&flow_name))
                .ok_or_else(|| {
                    EngineError::NotFound(format!("environment {environment:?} does not exist"))
                })
        };

        let (source_environment, steps) = match (&request.from, &request.to) {
            (Some(from), Some(to)) => {
                known(from)?;
                known(to)?;
                if from == to {
                    return Err(EngineError::BadRequest(
                        "`from` and `to` are the same environment".into(),
                    ));
                }
                let step = PlannedStep {
                    environment: to.clone(),
                    depends_on: Vec::new(),
                    policy: policy(to)?,
                };
                (from.clone(), vec![step])
            }
            (Some(_), None) => {
                return Err(EngineError::BadRequest("`from` needs `to`".into()));
            }
            (None, to) => {
                let included: Vec<&str> = match to {
                    Some(to) => {
                        known(to)?;
                        if to == graph.trigger() {
                            return Err(EngineError::BadRequest(format!(
                                "{to:?} is the flow's trigger environment; promote to a step"
                            )));
                        }
                        let mut envs = graph.upstream(to);
                        envs.push(to.as_str());
                        envs
                    }
                    None => graph.environments(),
                };
                let mut steps = Vec::new();
                for level in graph.levels() {
                    for env in level
                        .into_iter()
                        .filter(|e| *e != graph.trigger() && included.contains(e))
                    {
                        steps.push(PlannedStep {
                            environment: env.to_string(),
                            depends_on: graph
                                .dependencies(env)
                                .into_iter()
                                .filter(|d| *d != graph.trigger() && included.contains(d))
                                .map(str::to_string)
                                .collect(),
                            policy: policy(env)?,
                        });
                    }
                }
                (graph.trigger().to_string(), steps)
            }
        };

        let applications = select_applications(&product, &request.applications)?;
        let argocd = per_environment(set, &steps, |spec| spec.argocd.as_ref(), servers.argocd);
        let argo_workflows = per_environment(
            set,
            &steps,
            |spec| spec.argo_workflows.as_ref(),
            servers.workflows,
        );
        Ok(Self {
            product,
            flow,
            template,
            source_environment,
            applications,
            steps,
            argocd,
            argo_workflows,
        })
    }

    /// Applications grouped by the repository (URL and branch) they live in for
    /// `environment`, so each repository gets one commit.
    pub fn by_repository(
        &self,
        environment: &str,
    ) -> BTreeMap<(String, String), Vec<&Application>> {
        let mut groups: BTreeMap<(String, String), Vec<&Application>> = BTreeMap::new();
        for app in &self.applications {
            let repo = app.repository_for(environment, &self.product.spec.repository);
            groups
                .entry((repo.url.clone(), repo.branch().to_string()))
                .or_default()
                .push(app);
        }
        groups
    }
}

fn select_applications(product: &Product, wanted: &[String]) -> Result<Vec<Application>> {
    if wanted.is_empty() {
        return Ok(product.spec.applications.clone());
    }
    let unknown: Vec<&String> = wanted
        .iter()
        .filter(|w| !product.spec.applications.iter().any(|a| &a.name == *w))
        .collect();
    if !unknown.is_empty() {
        return Err(EngineError::BadRequest(format!(
            "product {:?} has no application {}",
            product.metadata.name,
            unknown
                .iter()
                .map(|u| format!("{u:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(product
        .spec
        .applications
        .iter()
        .filter(|a| wanted.contains(&a.name))
        .cloned()
        .collect())
}
