//! `promenade import argocd`: asks Argo CD for the Applications that carry a label or
//! annotation and proposes a `Product` from them (`model::discovery` decides how). The
//! proposal is returned for people to review and apply; nothing is stored.

use std::collections::BTreeSet;

use promenade_model::discovery::{
    propose, DiscoveredApp, ImportAnswer, ImportRequest, ProposalInput, Selector,
};
use promenade_model::resources::ArgoCdInstance;
use promenade_model::validate::ResourceSet;
use tracing::info;

use crate::auth::{allow, Principal, Role};
use crate::{Engine, EngineError, Result};

impl Engine {
    /// Proposes a product from the Argo CD Applications `request.selector` matches.
    pub async fn import_argocd(
        &self,
        who: &Principal,
        request: &ImportRequest,
    ) -> Result<ImportAnswer> {
        allow(who, Role::Promoter, "importing from Argo CD")?;
        let selector = Selector::parse(&request.selector)
            .map_err(|e| EngineError::BadRequest(format!("selector: {e}")))?;
        let set = self.store().resource_set().await?;
        let product = match (request.product.as_deref(), selector.first_value()) {
            (Some(name), _) | (None, Some(name)) => name.to_string(),
            (None, None) => {
                return Err(EngineError::BadRequest(
                    "name the product: the selector has no `key=value` term to take it from".into(),
                ))
            }
        };
        let template = only_one(
            request.template.as_deref(),
            set.templates().map(|t| t.metadata.name.as_str()),
            "PromotionTemplate",
            "template",
        )?
        .ok_or_else(|| {
            EngineError::BadRequest(
                "no PromotionTemplate exists: apply one, then import again".into(),
            )
        })?;
        let flow = only_one(
            request.flow.as_deref(),
            set.flows().map(|f| f.metadata.name.as_str()),
            "PromotionFlow",
            "flow",
        )?;
        let mut apps = Vec::new();
        let instances = self.instances(request, &set)?;
        for instance in &instances {
            let found = self.argocd_client(instance).await?.applications().await?;
            apps.extend(found.into_iter().filter(|a| selector.matches(a)));
        }
        dedup_by_name(&mut apps);
        if apps.is_empty() {
            return Err(EngineError::NotFound(format!(
                "no Argo CD Application carries {} (as a label or an annotation) on {}",
                request.selector,
                instances
                    .iter()
                    .map(|i| i.server.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let input = ProposalInput {
            product,
            template,
            flow,
            environments: set
                .environments()
                .map(|e| e.metadata.name.clone())
                .collect(),
        };
        let proposal = propose(&apps, &input).map_err(EngineError::BadRequest)?;
        let yaml = proposal
            .to_yaml(&format!("carrying {}", request.selector))
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        info!(by = %who, selector = %request.selector, applications = proposal.used, "proposed a product from Argo CD");
        Ok(ImportAnswer { yaml, proposal })
    }

    /// The Argo CDs to ask: the one named, else the server's and every environment's.
    fn instances(&self, request: &ImportRequest, set: &ResourceSet) -> Result<Vec<ArgoCdInstance>> {
        match (&request.server, &request.credentials) {
            (Some(server), Some(credentials)) => {
                if !(server.starts_with("https://") || server.starts_with("http://")) {
                    return Err(EngineError::BadRequest(format!(
                        "{server:?} is not an http(s) URL of an Argo CD server"
                    )));
                }
                return Ok(vec![ArgoCdInstance {
                    server: server.clone(),
                    credentials: credentials.clone(),
                }]);
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(EngineError::BadRequest(
                    "name both the Argo CD server and its credentials, or neither".into(),
                ))
            }
            (None, None) => {}
        }
        let mut seen = BTreeSet::new();
        let instances: Vec<ArgoCdInstance> = self
            .config()
            .argocd
            .iter()
            .chain(set.environments().filter_map(|e| e.spec.argocd.as_ref()))
            .filter(|i| seen.insert(i.server.clone()))
            .cloned()
            .collect();
        if instances.is_empty() {
            return Err(EngineError::BadRequest(
                "no Argo CD to ask: name one (server and credentials), start the server with \
                 `--argocd-server`, or give an Environment `spec.argocd`"
                    .into(),
            ));
        }
        Ok(instances)
    }
}

/// The name given, else the only one there is (`None` when there is none).
fn only_one<'a>(
    given: Option<&str>,
    existing: impl Iterator<Item = &'a str>,
    kind: &str,
    field: &str,
) -> Result<Option<String>> {
    let existing: Vec<&str> = existing.collect();
    match given {
        Some(name) if existing.contains(&name) => Ok(Some(name.to_string())),
        Some(name) => Err(EngineError::BadRequest(format!(
            "{kind} {name} does not exist"
        ))),
        None => match existing.as_slice() {
            [] => Ok(None),
            [only] => Ok(Some((*only).to_string())),
            many => Err(EngineError::BadRequest(format!(
                "several of kind {kind} exist ({}): name the product's {field}",
                many.join(", ")
            ))),
        },
    }
}

/// The same Application seen through two Argo CD entries counts once.
fn dedup_by_name(apps: &mut Vec<DiscoveredApp>) {
    let mut seen = BTreeSet::new();
    apps.retain(|a| seen.insert(a.name.clone()));
}
