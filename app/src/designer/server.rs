//! The designer's server functions: thin calls into the engine's store. Every one
//! checks the signed-in user's role first.

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
    /// Whether the user may save (the promoter role).
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

    crate::session::require(promenade_engine::auth::Role::Viewer).await?;
    let engine = crate::session::engine()?;
    let store = engine.store();
    let stored = store.stored_resources().await.map_err(server_error)?;
    let set = store.resource_set().await.map_err(server_error)?;
    let mut flows: Vec<FlowSummary> = stored
        .into_iter()
        .filter(|s| s.kind == ResourceKind::PromotionFlow)
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
    use promenade_engine::auth::Role;
    use promenade_model::resources::ResourceKind;

    let principal = crate::session::require(Role::Viewer).await?;
    let engine = crate::session::engine()?;
    let store = engine.store();
    let stored = store.stored_resources().await.map_err(server_error)?;
    let flow = match name {
        None => None,
        Some(name) => Some(
            stored
                .iter()
                .find(|s| s.kind == ResourceKind::PromotionFlow && s.name == name)
                .map(|s| SavedFlow {
                    name: s.name.clone(),
                    revision: s.revision,
                    document: s.document.clone(),
                    updated_at: s.updated_at.clone(),
                    updated_by: s.updated_by.clone(),
                })
                .ok_or_else(|| ServerFnError::new(format!("there is no flow named {name}")))?,
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
        can_edit: principal.role >= Role::Promoter,
    })
}

/// Applies the flow in `yaml`. `loaded` is the flow's name and revision when the page
/// opened it (revision 0 for a new flow); a flow renamed in the YAML is saved as a new
/// flow, so it must not exist yet.
#[server]
pub async fn save_flow(
    yaml: String,
    loaded_name: Option<String>,
    loaded_revision: i64,
) -> Result<SaveOutcome, ServerFnError> {
    use promenade_engine::auth::Role;
    use promenade_engine::resources::{ApplyOptions, Author};
    use promenade_engine::EngineError;
    use promenade_model::resources::ResourceKind;

    let principal = crate::session::require(Role::Promoter).await?;
    let engine = crate::session::engine()?;
    let store = engine.store();
    let flow = match super::check::parse_flow(&yaml) {
        Ok(flow) => flow,
        Err(problems) => return Ok(SaveOutcome::Invalid(lines(&problems))),
    };
    let name = flow.metadata.name.clone();
    let expected = if loaded_name.as_deref() == Some(name.as_str()) {
        loaded_revision
    } else {
        0
    };
    let author = Author {
        name: principal.name.clone(),
        admin: principal.role >= Role::Admin,
    };
    let mut expected_revisions = vec![(ResourceKind::PromotionFlow, name.clone(), expected)];
    // The engine validates the applied text on its own before validating it with
    // everything stored, so a flow alone would name unknown environments. The stored
    // Environments it uses go along unchanged, each pinned to the revision read here
    // so that an edit made in between is a conflict, never overwritten.
    let mut text = yaml.clone();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let used: std::collections::BTreeSet<&str> =
        std::iter::once(flow.spec.trigger_environment.as_str())
            .chain(flow.spec.steps.iter().flat_map(|s| {
                std::iter::once(s.environment.as_str())
                    .chain(s.depends_on.iter().map(String::as_str))
            }))
            .collect();
    for stored in store.stored_resources().await.map_err(server_error)? {
        if stored.kind == ResourceKind::Environment && used.contains(stored.name.as_str()) {
            text.push_str("---\n");
            text.push_str(&stored.document);
            expected_revisions.push((ResourceKind::Environment, stored.name, stored.revision));
        }
    }
    let options = ApplyOptions {
        dry_run: false,
        expected_revisions,
    };
    match store
        .apply(&format!("{name}.yaml"), &text, &author, &options)
        .await
    {
        Ok(_) => {}
        Err(EngineError::Conflict { message, .. }) => {
            let current = store
                .resource(ResourceKind::PromotionFlow, &name)
                .await
                .map_err(server_error)?;
            let message = match (&current, expected) {
                (Some(current), 0) => format!(
                    "a flow named {name} already exists (saved by {} at {}): choose another name",
                    current.updated_by, current.updated_at
                ),
                _ => message,
            };
            return Ok(SaveOutcome::Conflict {
                message,
                revision: current.map_or(0, |c| c.revision),
            });
        }
        Err(EngineError::Invalid(problems)) => return Ok(SaveOutcome::Invalid(lines(&problems))),
        Err(other) => return Err(server_error(other)),
    }
    let saved = store
        .resource(ResourceKind::PromotionFlow, &name)
        .await
        .map_err(server_error)?
        .ok_or_else(|| ServerFnError::new(format!("flow {name} vanished right after saving")))?;
    Ok(SaveOutcome::Saved(SavedFlow {
        name: saved.name,
        revision: saved.revision,
        document: saved.document,
        updated_at: saved.updated_at,
        updated_by: saved.updated_by,
    }))
}

/// Creates an environment from the palette. It never replaces an existing one: the
/// palette only offers names that are not taken, but someone may have been quicker.
#[server(endpoint = "designer/create_environment")]
pub async fn create_environment(
    name: String,
    production: bool,
) -> Result<EnvironmentOutcome, ServerFnError> {
    use promenade_engine::auth::Role;
    use promenade_engine::resources::{ApplyOptions, Author};
    use promenade_engine::EngineError;
    use promenade_model::resources::ResourceKind;

    let principal = crate::session::require(Role::Promoter).await?;
    let engine = crate::session::engine()?;
    let store = engine.store();
    let name = name.trim().to_owned();
    let kind = if production { "prod" } else { "non-prod" };
    // serde_json quoting is valid YAML, so no name can break out of its field.
    let quoted = serde_json::to_string(&name).map_err(server_error)?;
    let yaml = format!(
        "apiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata:\n  name: {quoted}\nspec:\n  kind: {kind}\n"
    );
    let author = Author {
        name: principal.name,
        admin: principal.role >= Role::Admin,
    };
    let options = ApplyOptions {
        dry_run: false,
        expected_revisions: vec![(ResourceKind::Environment, name.clone(), 0)],
    };
    match store
        .apply("environment.yaml", &yaml, &author, &options)
        .await
    {
        Ok(_) => {}
        Err(EngineError::Conflict { .. }) => {
            return Ok(EnvironmentOutcome::Refused(format!(
                "an environment named {name} already exists"
            )))
        }
        Err(EngineError::Invalid(problems)) => {
            let first = problems
                .first()
                .map_or_else(|| "invalid environment".to_owned(), |p| p.message.clone());
            return Ok(EnvironmentOutcome::Refused(first));
        }
        Err(other) => return Err(server_error(other)),
    }
    let stored = store
        .resource(ResourceKind::Environment, &name)
        .await
        .map_err(server_error)?
        .ok_or_else(|| {
            ServerFnError::new(format!("environment {name} vanished right after saving"))
        })?;
    Ok(EnvironmentOutcome::Created(StoredDocument {
        kind: stored.kind,
        name: stored.name,
        document: stored.document,
    }))
}

#[cfg(feature = "ssr")]
fn server_error(error: impl std::fmt::Display) -> ServerFnError {
    ServerFnError::new(error.to_string())
}

#[cfg(feature = "ssr")]
fn lines(problems: &[promenade_model::Diagnostic]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}
