//! Declarative resources as applied: validated against everything already stored, kept
//! in canonical form, with a revision per change (who, when, what).

use promenade_model::action::{Action, HeaderValue};
use promenade_model::audit::AuditAction;
use promenade_model::canonical::to_yaml;
use promenade_model::credentials::CredentialKind;
use promenade_model::diagnostic::{Code, Diagnostic, Severity};
use promenade_model::hosting;
use promenade_model::path::FieldPath;
use promenade_model::resources::{Environment, Repository, Resource, ResourceKind};
use promenade_model::validate::{validate, ResourceSet, Validation};
use promenade_model::{load, LoadedResource};
use sqlx::Row;

use crate::audit::{self, Record};
use crate::auth::{allow, Principal, Role};
use crate::credentials::check_fits;
use crate::store::{now, Store};
use crate::transport::RemotePolicy;
use crate::{Engine, EngineError, Result};

pub use promenade_model::stored::{Change, ResourceChange, StoredResource};

/// What the server allows of the repositories products name, checked when they are
/// applied so a refused remote is an error at the line that names it.
#[derive(Default)]
pub(crate) struct RemoteRules {
    policy: RemotePolicy,
    credentials: Vec<(String, CredentialKind)>,
}

impl RemoteRules {
    fn check(&self, loaded: &LoadedResource) -> Vec<Diagnostic> {
        let product = match &loaded.resource {
            Resource::Product(product) => product,
            Resource::Environment(environment) => return self.check_argo(loaded, environment),
            _ => return self.check_header_credentials(loaded),
        };
        let mut problems = Vec::new();
        for (path, repository) in product.repositories() {
            if let Some(problem) = self.api_problem(repository) {
                let field = if repository.api_credentials.is_some() {
                    "apiCredentials"
                } else if repository.credentials.is_some() {
                    "credentials"
                } else {
                    "url"
                };
                problems.push(loaded.diagnostic(
                    &path.key(field),
                    Severity::Error,
                    Code::UnknownCredentials,
                    problem,
                ));
            }
            if let Err(refused) = self.policy.check(&repository.url) {
                problems.push(loaded.diagnostic(
                    &path.key("url"),
                    Severity::Error,
                    Code::RemoteRefused,
                    refused.to_string(),
                ));
            }
            let Some(name) = &repository.credentials else {
                continue;
            };
            let problem = match self.credentials.iter().find(|(n, _)| n == name) {
                None => Some(format!(
                    "credentials `{name}` do not exist: an admin creates them with \
                     `promenade credentials create {name}`"
                )),
                Some((_, kind)) => check_fits(name, *kind, &repository.url)
                    .err()
                    .map(|e| e.to_string()),
            };
            if let Some(message) = problem {
                problems.push(loaded.diagnostic(
                    &path.key("credentials"),
                    Severity::Error,
                    Code::UnknownCredentials,
                    message,
                ));
            }
        }
        problems
    }

    /// An environment's Argo CD and Argo Workflows: http(s) servers and credentials that
    /// hold a token.
    fn check_argo(&self, loaded: &LoadedResource, environment: &Environment) -> Vec<Diagnostic> {
        let spec = &environment.spec;
        let servers = [
            spec.argocd
                .as_ref()
                .map(|a| ("argocd", "Argo CD", &a.server, &a.credentials)),
            spec.argo_workflows
                .as_ref()
                .map(|a| ("argoWorkflows", "Argo Workflows", &a.server, &a.credentials)),
        ];
        let mut problems = Vec::new();
        for (field, product, server, name) in servers.into_iter().flatten() {
            let at = FieldPath::root().key("spec").key(field);
            if !(server.starts_with("https://") || server.starts_with("http://")) {
                problems.push(loaded.diagnostic(
                    &at.key("server"),
                    Severity::Error,
                    Code::InvalidUrl,
                    format!("{server:?} is not an http(s) URL of an {product} server"),
                ));
            } else if promenade_model::redact::userinfo(server).is_some() {
                problems.push(loaded.diagnostic(
                    &at.key("server"),
                    Severity::Error,
                    Code::InvalidUrl,
                    format!(
                        "{} carries a user name or token, which every viewer would read: name credentials instead",
                        promenade_model::redact::url(server)
                    ),
                ));
            }
            if let Some(message) = self.token_problem(name, product) {
                problems.push(loaded.diagnostic(
                    &at.key("credentials"),
                    Severity::Error,
                    Code::UnknownCredentials,
                    message,
                ));
            }
        }
        problems
    }

    /// Request headers of `http` actions that take their value from credentials: the
    /// credentials must exist and hold a token.
    fn check_header_credentials(&self, loaded: &LoadedResource) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        for (path, actions) in loaded.resource.action_lists() {
            for (index, action) in actions.iter().enumerate() {
                let Action::Http(http) = action else { continue };
                for (header, value) in &http.headers {
                    let HeaderValue::Credentials(from) = value else {
                        continue;
                    };
                    let what = format!("the header `{header}`");
                    if let Some(message) = self.token_problem(&from.credentials, &what) {
                        let at = path.index(index).key("http").key("headers").key(header);
                        problems.push(loaded.diagnostic(
                            &at.key("credentials"),
                            Severity::Error,
                            Code::UnknownCredentials,
                            message,
                        ));
                    }
                }
            }
        }
        problems
    }

    /// Why credentials `name` cannot give `user` a token, if they cannot.
    fn token_problem(&self, name: &str, user: &str) -> Option<String> {
        match self.credentials.iter().find(|(n, _)| n == name) {
            None => Some(format!(
                "credentials `{name}` do not exist: an admin creates them with \
                 `promenade credentials create {name} --kind token`"
            )),
            Some((_, CredentialKind::Ssh)) => Some(format!(
                "credentials `{name}` are ssh; {user} needs token credentials"
            )),
            Some(_) => None,
        }
    }

    /// What keeps Promenade from calling the API of a GitHub or GitLab repository's host:
    /// no credentials, or credentials of a kind that holds no token.
    fn api_problem(&self, repository: &Repository) -> Option<String> {
        let hosted = hosting::hosted(repository).ok()??;
        let Some(name) = repository
            .api_credentials
            .as_ref()
            .or(repository.credentials.as_ref())
        else {
            return Some(format!(
                "{} is on {}: pull requests and commit statuses go through its API, which needs \
                 token credentials: set `apiCredentials` (or `provider: generic` to use git alone)",
                repository.url, hosted.provider
            ));
        };
        match self.credentials.iter().find(|(n, _)| n == name) {
            None if repository.api_credentials.is_some() => Some(format!(
                "credentials `{name}` do not exist: an admin creates them with \
                 `promenade credentials create {name} --kind token`"
            )),
            Some((_, CredentialKind::Ssh)) => Some(format!(
                "credentials `{name}` are ssh, which the {} API does not take: set \
                 `apiCredentials` to token (or https) credentials",
                hosted.provider
            )),
            // Missing `credentials` are reported once, below.
            _ => None,
        }
    }
}

/// How to apply.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Validate and report; store nothing.
    pub dry_run: bool,
    /// Optimistic concurrency: each listed resource must still be at this revision (0:
    /// must not exist yet), or the whole apply is refused as a conflict. Editors send the
    /// revision they loaded, so a save never silently overwrites someone else's.
    pub expected_revisions: Vec<(ResourceKind, String, i64)>,
}

impl Store {
    /// Validates the documents in `text` together with every stored resource they do not
    /// replace, then stores them (unless `dry_run`). Nothing is written when anything is
    /// invalid.
    pub(crate) async fn apply(
        &self,
        file: &str,
        text: &str,
        author: &Principal,
        options: &ApplyOptions,
        remotes: &RemoteRules,
    ) -> Result<Vec<ResourceChange>> {
        let dry_run = options.dry_run;
        // Alone, the documents are only read: references to stored resources resolve in
        // the combined check below.
        let (loaded, problems) = load(file, text);
        if problems.iter().any(Diagnostic::is_error) {
            return Err(EngineError::Invalid(
                problems.into_iter().filter(Diagnostic::is_error).collect(),
            ));
        }
        if loaded.is_empty() {
            // An empty body, `null`, only comments: most likely the wrong file.
            return Err(EngineError::BadRequest(format!(
                "{file} holds no resources: send YAML documents with apiVersion, kind, metadata and spec"
            )));
        }
        let refused: Vec<Diagnostic> = loaded
            .iter()
            .flat_map(|l| {
                remotes
                    .check(l)
                    .into_iter()
                    .chain(crate::freeze::check_times(l))
            })
            .collect();
        if !refused.is_empty() {
            return Err(EngineError::Invalid(refused));
        }
        let incoming = ResourceSet::new(loaded);
        for resource in incoming.resources() {
            allow_change(author, resource.kind(), resource.name())?;
        }
        let replaced: Vec<(ResourceKind, String)> = incoming
            .resources()
            .map(|r| (r.kind(), r.name().to_string()))
            .collect();
        let stored = self.stored_resources().await?;
        for (kind, name, expected) in &options.expected_revisions {
            let current = stored.iter().find(|s| s.kind == *kind && &s.name == name);
            let revision = current.map_or(0, |s| s.revision);
            if revision != *expected {
                let by = current
                    .map(|s| format!(" by {} at {}", s.updated_by, s.updated_at))
                    .unwrap_or_default();
                return Err(EngineError::Conflict {
                    message: format!(
                        "{} {name:?} was changed{by} (now revision {revision}) after revision {expected} was loaded",
                        kind.as_str()
                    ),
                    diagnostics: Vec::new(),
                });
            }
        }
        let mut files: Vec<(String, String)> = stored
            .iter()
            .filter(|s| !replaced.contains(&(s.kind, s.name.clone())))
            .map(|s| (stored_file_name(s.kind, &s.name), s.document.clone()))
            .collect();
        files.push((file.to_string(), text.to_string()));
        reject_invalid(&validate(files), file, author)?;

        let mut changes = Vec::new();
        let mut audited = Vec::new();
        let mut tx = self.pool.begin().await?;
        for resource in incoming.resources() {
            let document = canonical(resource)?;
            let (kind, name) = (resource.kind(), resource.name().to_string());
            let current = stored.iter().find(|s| s.kind == kind && s.name == name);
            let (change, revision) = match current {
                Some(s) if s.document == document => (Change::Unchanged, s.revision),
                Some(s) => (Change::Updated, s.revision + 1),
                None => (Change::Created, 1),
            };
            if change != Change::Unchanged && !dry_run {
                let at = now();
                sqlx::query(
                    "INSERT INTO resources (kind, name, revision, document, updated_at, updated_by)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (kind, name) DO UPDATE SET revision = $3, document = $4,
                        updated_at = $5, updated_by = $6",
                )
                .bind(kind.as_str())
                .bind(&name)
                .bind(revision)
                .bind(&document)
                .bind(&at)
                .bind(&author.name)
                .execute(&mut *tx)
                .await?;
                record_revision(
                    &mut tx,
                    kind,
                    &name,
                    revision,
                    change,
                    Some(&document),
                    &at,
                    &author.name,
                )
                .await?;
                let detail = audit::revision_detail(
                    kind,
                    &name,
                    revision,
                    current.map(|s| s.document.as_str()),
                    Some(&document),
                );
                let record = Record::by(
                    author,
                    AuditAction::ResourceApplied,
                    audit::resource_object(kind, &name),
                )
                .detail(detail);
                audited.push(audit::insert(&mut *tx, record).await?);
            }
            changes.push(ResourceChange {
                kind,
                name,
                change,
                revision,
            });
        }
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
            audited.iter().for_each(audit::log);
        }
        Ok(changes)
    }

    /// Deletes a resource unless something stored still refers to it.
    pub(crate) async fn delete_resource(
        &self,
        kind: ResourceKind,
        name: &str,
        author: &Principal,
    ) -> Result<ResourceChange> {
        allow_change(author, kind, name)?;
        let stored = self.stored_resources().await?;
        let Some(target) = stored.iter().find(|s| s.kind == kind && s.name == name) else {
            return Err(EngineError::NotFound(format!(
                "{} {name:?} does not exist",
                kind.as_str()
            )));
        };
        let remaining = stored
            .iter()
            .filter(|s| !(s.kind == kind && s.name == name))
            .map(|s| (stored_file_name(s.kind, &s.name), s.document.clone()));
        let after = validate(remaining);
        if !after.is_valid() {
            return Err(EngineError::Conflict {
                message: format!("{} {name:?} is still in use", kind.as_str()),
                diagnostics: after
                    .diagnostics
                    .into_iter()
                    .filter(Diagnostic::is_error)
                    .collect(),
            });
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM resources WHERE kind = $1 AND name = $2")
            .bind(kind.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let revision = target.revision + 1;
        record_revision(
            &mut tx,
            kind,
            name,
            revision,
            Change::Deleted,
            None,
            &now(),
            &author.name,
        )
        .await?;
        let detail =
            audit::revision_detail(kind, name, revision, Some(target.document.as_str()), None);
        let record = Record::by(
            author,
            AuditAction::ResourceDeleted,
            audit::resource_object(kind, name),
        )
        .detail(detail);
        let entry = audit::insert(&mut *tx, record).await?;
        tx.commit().await?;
        audit::log(&entry);
        Ok(ResourceChange {
            kind,
            name: name.to_string(),
            change: Change::Deleted,
            revision,
        })
    }

    pub(crate) async fn resource(
        &self,
        kind: ResourceKind,
        name: &str,
    ) -> Result<Option<StoredResource>> {
        let row = sqlx::query(
            "SELECT kind, name, revision, document, updated_at, updated_by FROM resources
             WHERE kind = $1 AND name = $2",
        )
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| stored_from_row(&r)).transpose()
    }

    /// Every stored resource, by kind then name.
    pub(crate) async fn stored_resources(&self) -> Result<Vec<StoredResource>> {
        let rows = sqlx::query(
            "SELECT kind, name, revision, document, updated_at, updated_by FROM resources
             ORDER BY kind, name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_from_row).collect()
    }

    /// The stored resources, loaded: what releases are planned from.
    pub(crate) async fn resource_set(&self) -> Result<ResourceSet> {
        let stored = self.stored_resources().await?;
        let validation = validate(
            stored
                .iter()
                .map(|s| (stored_file_name(s.kind, &s.name), s.document.as_str())),
        );
        Ok(validation.resources)
    }
}

impl Engine {
    async fn remote_rules(&self) -> Result<RemoteRules> {
        Ok(RemoteRules {
            policy: self.remote_policy().await?,
            credentials: self.store().credential_names().await?,
        })
    }

    /// Applies the documents in `text` (named `file` in diagnostics), as `who`.
    pub async fn apply(
        &self,
        who: &Principal,
        file: &str,
        text: &str,
        options: &ApplyOptions,
    ) -> Result<Vec<ResourceChange>> {
        allow(who, Role::Promoter, "applying resources")?;
        let remotes = self.remote_rules().await?;
        self.store().apply(file, text, who, options, &remotes).await
    }

    /// Deletes a resource, as `who`; refused (conflict) while others refer to it.
    pub async fn delete_resource(
        &self,
        who: &Principal,
        kind: ResourceKind,
        name: &str,
    ) -> Result<ResourceChange> {
        allow(who, Role::Promoter, "deleting resources")?;
        self.store().delete_resource(kind, name, who).await
    }

    /// One stored resource; not found is an error.
    pub async fn resource(
        &self,
        who: &Principal,
        kind: ResourceKind,
        name: &str,
    ) -> Result<StoredResource> {
        allow(who, Role::Viewer, "reading resources")?;
        self.store().resource(kind, name).await?.ok_or_else(|| {
            EngineError::NotFound(format!("{} {name:?} does not exist", kind.as_str()))
        })
    }

    /// Every stored resource (of `kind`, when given), by kind then name.
    pub async fn resources(
        &self,
        who: &Principal,
        kind: Option<ResourceKind>,
    ) -> Result<Vec<StoredResource>> {
        allow(who, Role::Viewer, "reading resources")?;
        let all = self.store().stored_resources().await?;
        Ok(all
            .into_iter()
            .filter(|r| kind.is_none_or(|k| r.kind == k))
            .collect())
    }

    /// Whether `who` may create, change or delete resources of `kind`; what editors show.
    pub fn may_change(&self, who: &Principal, kind: ResourceKind) -> bool {
        who.has(Role::to_change(kind))
    }

    /// The stored resources, loaded and cross-checked.
    pub async fn resource_set(&self, who: &Principal) -> Result<ResourceSet> {
        allow(who, Role::Viewer, "reading resources")?;
        self.store().resource_set().await
    }

    /// Saves a flow from the designer. `loaded` is the flow's name and revision when the
    /// editor opened it (`None` for a new flow); a flow renamed in the YAML is saved as a
    /// new flow, so it must not exist yet. Someone else's save in between is a conflict,
    /// never overwritten; so is an edit of an environment the flow uses.
    pub async fn save_flow(
        &self,
        who: &Principal,
        yaml: &str,
        loaded: Option<(&str, i64)>,
    ) -> Result<StoredResource> {
        allow(
            who,
            Role::to_change(ResourceKind::PromotionFlow),
            "saving flows",
        )?;
        let (loaded_docs, problems) = load("flow.yaml", yaml);
        let errors: Vec<Diagnostic> = problems.into_iter().filter(Diagnostic::is_error).collect();
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let flow = match loaded_docs.as_slice() {
            [one] => match &one.resource {
                Resource::PromotionFlow(flow) => flow.clone(),
                other => {
                    return Err(EngineError::BadRequest(format!(
                        "the designer saves a PromotionFlow, not a {}",
                        other.kind().as_str()
                    )))
                }
            },
            _ => {
                return Err(EngineError::BadRequest(
                    "the designer saves exactly one PromotionFlow document".into(),
                ))
            }
        };
        let name = flow.metadata.name.clone();
        let expected = match loaded {
            Some((loaded_name, revision)) if loaded_name == name => revision,
            _ => 0,
        };
        let mut expected_revisions = vec![(ResourceKind::PromotionFlow, name.clone(), expected)];
        // A flow alone would name unknown environments when read on its own: the stored
        // Environments it uses go along unchanged, each pinned to the revision read here.
        let mut text = yaml.to_string();
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
        for stored in self.store().stored_resources().await? {
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
        match self
            .store()
            .apply(
                &format!("{name}.yaml"),
                &text,
                who,
                &options,
                &self.remote_rules().await?,
            )
            .await
        {
            Err(EngineError::Conflict { message, .. }) if expected == 0 => {
                let message = match self.store().resource(ResourceKind::PromotionFlow, &name).await? {
                    Some(current) => format!(
                        "a flow named {name} already exists (saved by {} at {}): choose another name",
                        current.updated_by, current.updated_at
                    ),
                    None => message,
                };
                return Err(EngineError::Conflict {
                    message,
                    diagnostics: Vec::new(),
                });
            }
            other => other?,
        };
        self.resource(who, ResourceKind::PromotionFlow, &name).await
    }

    /// Creates an environment (the designer's palette). It never replaces an existing one.
    pub async fn create_environment(
        &self,
        who: &Principal,
        name: &str,
        production: bool,
    ) -> Result<StoredResource> {
        allow(
            who,
            Role::to_change(ResourceKind::Environment),
            "creating environments",
        )?;
        let name = name.trim();
        let kind = if production { "prod" } else { "non-prod" };
        // serde_json quoting is valid YAML, so no name can break out of its field.
        let quoted =
            serde_json::to_string(name).map_err(|e| EngineError::Internal(e.to_string()))?;
        let yaml = format!(
            "apiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata:\n  name: {quoted}\nspec:\n  kind: {kind}\n"
        );
        let options = ApplyOptions {
            dry_run: false,
            expected_revisions: vec![(ResourceKind::Environment, name.to_string(), 0)],
        };
        match self
            .store()
            .apply(
                "environment.yaml",
                &yaml,
                who,
                &options,
                &self.remote_rules().await?,
            )
            .await
        {
            Err(EngineError::Conflict { .. }) => {
                return Err(EngineError::Conflict {
                    message: format!("an environment named {name} already exists"),
                    diagnostics: Vec::new(),
                })
            }
            other => other?,
        };
        self.resource(who, ResourceKind::Environment, name).await
    }
}

/// Refuses a change to `kind` by someone below the role it needs (policies, flows and
/// templates need a release manager; environments and products a promoter).
pub(crate) fn allow_change(who: &Principal, kind: ResourceKind, name: &str) -> Result<()> {
    allow(
        who,
        Role::to_change(kind),
        &format!("changing {} {name:?}", kind.as_str()),
    )
}

/// Stored documents are validated under a name that says where they came from.
fn stored_file_name(kind: ResourceKind, name: &str) -> String {
    format!("stored:{}/{name}", kind.as_str())
}

fn canonical(resource: &Resource) -> Result<String> {
    to_yaml(resource).map_err(|e| EngineError::Internal(e.to_string()))
}

/// Refuses invalid resources, and administrator-only actions in the documents being
/// applied (`file`) unless the author is an administrator. Stored resources an
/// administrator wrote earlier do not make everyone else's applies administrator-only.
fn reject_invalid(validation: &Validation, file: &str, author: &Principal) -> Result<()> {
    if !validation.is_valid() {
        return Err(EngineError::Invalid(
            validation
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .cloned()
                .collect(),
        ));
    }
    let admin_only = validation
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::AdminOnly && d.file == file);
    if admin_only && !author.has(Role::Admin) {
        return Err(EngineError::Forbidden(
            "only administrators may define `command` actions".into(),
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn record_revision(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: ResourceKind,
    name: &str,
    revision: i64,
    change: Change,
    document: Option<&str>,
    at: &str,
    by: &str,
) -> Result<()> {
    let change = match change {
        Change::Created => "created",
        Change::Updated => "updated",
        Change::Deleted => "deleted",
        Change::Unchanged => return Ok(()),
    };
    sqlx::query(
        "INSERT INTO resource_revisions (kind, name, revision, change, document, applied_at, applied_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(kind.as_str())
    .bind(name)
    .bind(revision)
    .bind(change)
    .bind(document)
    .bind(at)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn stored_from_row(row: &sqlx::any::AnyRow) -> Result<StoredResource> {
    let kind: String = row.try_get("kind")?;
    Ok(StoredResource {
        kind: ResourceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(|| {
                EngineError::Internal(format!("unknown resource kind {kind:?} in the store"))
            })?,
        name: row.try_get("name")?,
        revision: row.try_get("revision")?,
        document: row.try_get("document")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVIRONMENTS: &str = "apiVersion: promenade.dev/v1alpha1
kind: Environment
metadata: { name: dev }
spec: { kind: non-prod }
---
apiVersion: promenade.dev/v1alpha1
kind: Environment
metadata: { name: qa }
spec: { kind: non-prod }
";
    const FLOW: &str = "apiVersion: promenade.dev/v1alpha1
kind: PromotionFlow
metadata: { name: standard }
spec:
  triggerEnvironment: dev
  steps:
    - { environment: qa, dependsOn: [dev] }
";
    const COMMAND_POLICY: &str = "apiVersion: promenade.dev/v1alpha1
kind: PromotionPolicy
metadata: { name: smoke }
spec:
  verify:
    - command: { args: [\"/usr/local/bin/smoke-test\"] }
";

    /// An administrator, or a release manager (who may apply every kind but may not
    /// define `command` actions).
    fn person(admin: bool) -> Principal {
        if admin {
            Principal::user("root", Role::Admin)
        } else {
            Principal::user("dev", Role::ReleaseManager)
        }
    }

    /// Applies `text` as an administrator or a release manager; these documents name no
    /// repository, so no remote rule is in play.
    async fn apply(
        store: &Store,
        file: &str,
        text: &str,
        admin: bool,
        options: &ApplyOptions,
    ) -> Result<Vec<ResourceChange>> {
        store
            .apply(file, text, &person(admin), options, &RemoteRules::default())
            .await
    }

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Store::open(None, dir.path()).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn a_document_may_refer_to_resources_applied_earlier() {
        let (store, _dir) = store().await;
        let none = ApplyOptions::default();
        apply(&store, "envs.yaml", ENVIRONMENTS, false, &none)
            .await
            .unwrap();
        let changes = apply(&store, "flow.yaml", FLOW, false, &none)
            .await
            .unwrap();
        assert_eq!(changes[0].change, Change::Created);

        // A reference to nothing stored is still refused, with its position.
        let broken = FLOW.replace("dependsOn: [dev]", "dependsOn: [nowhere]");
        let Err(EngineError::Invalid(problems)) =
            apply(&store, "flow.yaml", &broken, false, &none).await
        else {
            panic!("an unknown environment must be refused");
        };
        assert_eq!(
            (problems[0].file.as_str(), problems[0].line),
            ("flow.yaml", 7)
        );
        assert_eq!(
            store
                .resource(ResourceKind::PromotionFlow, "standard")
                .await
                .unwrap()
                .unwrap()
                .revision,
            1
        );
    }

    #[tokio::test]
    async fn only_administrators_apply_command_actions_and_others_are_not_held_up_by_them() {
        let (store, _dir) = store().await;
        let none = ApplyOptions::default();
        let refused = apply(&store, "policy.yaml", COMMAND_POLICY, false, &none).await;
        assert!(
            matches!(refused, Err(EngineError::Forbidden(_))),
            "{refused:?}"
        );
        apply(&store, "policy.yaml", COMMAND_POLICY, true, &none)
            .await
            .unwrap();
        apply(&store, "envs.yaml", ENVIRONMENTS, false, &none)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_save_over_someone_elses_change_is_a_conflict() {
        let (store, _dir) = store().await;
        let none = ApplyOptions::default();
        apply(&store, "envs.yaml", ENVIRONMENTS, false, &none)
            .await
            .unwrap();
        apply(&store, "flow.yaml", FLOW, false, &none)
            .await
            .unwrap();
        let edited = format!("{FLOW}  timeout: 1h\n");
        let at = |revision| ApplyOptions {
            dry_run: false,
            expected_revisions: vec![(ResourceKind::PromotionFlow, "standard".into(), revision)],
        };
        apply(&store, "flow.yaml", &edited, false, &at(1))
            .await
            .unwrap();
        let stale = apply(&store, "flow.yaml", FLOW, false, &at(1)).await;
        let Err(EngineError::Conflict { message, .. }) = stale else {
            panic!("expected a conflict, got {stale:?}");
        };
        assert!(message.contains("now revision 2"), "{message}");
    }
}
