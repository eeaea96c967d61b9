//! The designer's server functions: thin calls into the engine's use cases, which
//! decide who may do what.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::check::StoredDocument;

/// One row of the flow list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSummary {
    pub name: String,
    pub trigger: String,
    pub steps: usize,
    /// Products promoted along this flow.
    pub products: Vec<String>,
    pub revision: i64,
    pub updated_at: String,
    pub updated_by: String,
}

/// A stored flow as the designer opens it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFlow {
    pub name: String,
    pub revision: i64,
    /// Canonical YAML.
    pub document: String,
    pub updated_at: String,
    pub updated_by: String,
}

/// Everything the designer page needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesignerData {
    /// `None` for a new flow.
    pub flow: Option<SavedFlow>,
    /// Every stored resource, which the flow is validated against in the browser.
    pub documents: Vec<StoredDocument>,
    /// Whether the user may save flows (the engine's rule: release-manager and up).
    pub can_edit: bool,
}

/// What a save did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaveOutcome {
    Saved(SavedFlow),
    /// Someone else saved in between; `revision` is theirs.
    Conflict {
        message: String,
        revision: i64,
    },
    /// The server's validation refused it, one line per problem.
    Invalid(Vec<String>),
}

/// What creating an environment did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnvironmentOutcome {
    Created(StoredDocument),
    Refused(String),
}

#[server]
pub async fn list_flows() -> Result<Vec<FlowSummary>, ServerFnError> {
    use promenade_model::resources::{Resource, ResourceKind};

    let (engine, who) = crate::session::caller().await?;
    let stored = engine
        .resources(&who, Some(ResourceKind::PromotionFlow))
        .await
        .map_err(failed)?;
    let set = engine.resource_set(&who).await.map_err(failed)?;
    let mut flows: Vec<FlowSummary> = stored
        .into_iter()
        .map(|s| {
            let flow = set.flow(&s.name);
            FlowSummary {
                trigger: flow
                    .map(|f| f.spec.trigger_environment.clone())
                    .unwrap_or_default(),
                steps: flow.map_or(0, |f| f.spec.steps.len()),
                products: set
                    .resources()
                    .filter_map(|r| match r {
                        Resource::Product(p) if p.spec.flows.iter().any(|f| f.name == s.name) => {
                            Some(p.metadata.name.clone())
                        }
                        _ => None,
                    })
                    .collect(),
                name: s.name,
                revision: s.revision,
                updated_at: s.updated_at,
                updated_by: s.updated_by,
            }
        })
        .collect();
    flows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(flows)
}

#[server]
pub async fn load_designer(name: Option<String>) -> Result<DesignerData, ServerFnError> {
    use promenade_model::resources::ResourceKind;

    let (engine, who) = crate::session::caller().await?;
    let stored = engine.resources(&who, None).await.map_err(failed)?;
    let flow = match name {
        None => None,
        Some(name) => Some(
            engine
                .resource(&who, ResourceKind::PromotionFlow, &name)
                .await
                .map(saved_flow)
                .map_err(failed)?,
        ),
    };
    Ok(DesignerData {
        flow,
        documents: stored
            .into_iter()
            .map(|s| StoredDocument {
                kind: s.kind,
                name: s.name,
                document: s.document,
            })
            .collect(),
        can_edit: engine.may_change(&who, ResourceKind::PromotionFlow),
    })
}

/// Saves the flow in `yaml`. `loaded` is the flow's name and revision when the page
/// opened it (revision 0 for a new flow); the engine decides who may and catches saves
/// over someone else's.
#[server]
pub async fn save_flow(
    yaml: String,
    loaded_name: Option<String>,
    loaded_revision: i64,
) -> Result<SaveOutcome, ServerFnError> {
    use promenade_engine::EngineError;

    let (engine, who) = crate::session::caller().await?;
    // Read in the browser's terms first: its problems name the lines of the YAML panel.
    if let Err(problems) = super::check::parse_flow(&yaml) {
        return Ok(SaveOutcome::Invalid(lines(&problems)));
    }
    let loaded = loaded_name.as_deref().map(|name| (name, loaded_revision));
    match engine.save_flow(&who, &yaml, loaded).await {
        Ok(saved) => Ok(SaveOutcome::Saved(saved_flow(saved))),
        Err(EngineError::Conflict { message, .. }) => {
            let name = super::check::parse_flow(&yaml)
                .map(|flow| flow.metadata.name)
                .unwrap_or_default();
            let revision = engine
                .resource(
                    &who,
                    promenade_model::resources::ResourceKind::PromotionFlow,
                    &name,
                )
                .await
                .map_or(0, |current| current.revision);
            Ok(SaveOutcome::Conflict { message, revision })
        }
        Err(EngineError::Invalid(problems)) => Ok(SaveOutcome::Invalid(lines(&problems))),
        Err(other) => Err(failed(other)),
    }
}

/// Creates an environment from the palette. It never replaces an existing one: the
/// palette only offers names that are not taken, but someone may have been quicker.
#[server(endpoint = "designer/create_environment")]
pub async fn create_environment(
    name: String,
    production: bool,
) -> Result<EnvironmentOutcome, ServerFnError> {
    use promenade_engine::EngineError;

    let (engine, who) = crate::session::caller().await?;
    match engine.create_environment(&who, &name, production).await {
        Ok(stored) => Ok(EnvironmentOutcome::Created(StoredDocument {
            kind: stored.kind,
            name: stored.name,
            document: stored.document,
        })),
        Err(EngineError::Conflict { message, .. }) => Ok(EnvironmentOutcome::Refused(message)),
        Err(EngineError::Invalid(problems)) => Ok(EnvironmentOutcome::Refused(
            problems
                .first()
                .map_or_else(|| "invalid environment".to_owned(), |p| p.message.clone()),
        )),
        Err(other) => Err(failed(other)),
    }
}

#[cfg(feature = "ssr")]
use crate::session::failed;

#[cfg(feature = "ssr")]
fn saved_flow(stored: promenade_engine::resources::StoredResource) -> SavedFlow {
    SavedFlow {
        name: stored.name,
        revision: stored.revision,
        document: stored.document,
        updated_at: stored.updated_at,
        updated_by: stored.updated_by,
    }
}

#[cfg(feature = "ssr")]
fn lines(problems: &[promenade_model::Diagnostic]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}
