//! Declarative resources as applied: validated against everything already stored, kept
//! in canonical form, with a revision per change (who, when, what).

use promenade_model::canonical::to_yaml;
use promenade_model::diagnostic::{Diagnostic, Severity};
use promenade_model::load;
use promenade_model::resources::{Resource, ResourceKind};
use promenade_model::validate::{validate, ResourceSet, Validation};
use serde::Serialize;
use sqlx::Row;
use tracing::info;

use crate::store::{now, Store};
use crate::{EngineError, Result};

/// What applying did (or, in a dry run, would do) to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChange {
    pub kind: ResourceKind,
    pub name: String,
    pub change: Change,
    /// The revision after the change (unchanged: the current one).
    pub revision: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
    Deleted,
}

/// A stored resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredResource {
    pub kind: ResourceKind,
    pub name: String,
    pub revision: i64,
    /// Canonical YAML.
    pub document: String,
    pub updated_at: String,
    pub updated_by: String,
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

/// Who applies, and whether they may define administrator-only actions.
#[derive(Debug, Clone)]
pub struct Author {
    pub name: String,
    pub admin: bool,
}

impl Store {
    /// Validates the documents in `text` together with every stored resource they do not
    /// replace, then stores them (unless `dry_run`). Nothing is written when anything is
    /// invalid.
    pub async fn apply(
        &self,
        file: &str,
        text: &str,
        author: &Author,
        options: &ApplyOptions,
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
        let incoming = ResourceSet::new(loaded);
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
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (kind, name) DO UPDATE SET revision = ?3, document = ?4,
                        updated_at = ?5, updated_by = ?6",
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
            info!(author = %author.name, resources = changes.len(), "resources applied");
        }
        Ok(changes)
    }

    /// Deletes a resource unless something stored still refers to it.
    pub async fn delete_resource(
        &self,
        kind: ResourceKind,
        name: &str,
        author: &Author,
    ) -> Result<ResourceChange> {
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
        sqlx::query("DELETE FROM resources WHERE kind = ? AND name = ?")
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
        tx.commit().await?;
        Ok(ResourceChange {
            kind,
            name: name.to_string(),
            change: Change::Deleted,
            revision,
        })
    }

    pub async fn resource(&self, kind: ResourceKind, name: &str) -> Result<Option<StoredResource>> {
        let row = sqlx::query(
            "SELECT kind, name, revision, document, updated_at, updated_by FROM resources
             WHERE kind = ? AND name = ?",
        )
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| stored_from_row(&r)).transpose()
    }

    /// Every stored resource, by kind then name.
    pub async fn stored_resources(&self) -> Result<Vec<StoredResource>> {
        let rows = sqlx::query(
            "SELECT kind, name, revision, document, updated_at, updated_by FROM resources
             ORDER BY kind, name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_from_row).collect()
    }

    /// The stored resources, loaded: what releases are planned from.
    pub async fn resource_set(&self) -> Result<ResourceSet> {
        let stored = self.stored_resources().await?;
        let validation = validate(
            stored
                .iter()
                .map(|s| (stored_file_name(s.kind, &s.name), s.document.as_str())),
        );
        Ok(validation.resources)
    }
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
fn reject_invalid(validation: &Validation, file: &str, author: &Author) -> Result<()> {
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
    if admin_only && !author.admin {
        return Err(EngineError::Forbidden(
            "only administrators may define `command` actions".into(),
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn record_revision(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
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
         VALUES (?, ?, ?, ?, ?, ?, ?)",
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

fn stored_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredResource> {
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

    fn person(admin: bool) -> Author {
        Author {
            name: if admin { "root" } else { "dev" }.into(),
            admin,
        }
    }

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Store::open(None, dir.path()).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn a_document_may_refer_to_resources_applied_earlier() {
        let (store, _dir) = store().await;
        let none = ApplyOptions::default();
        store
            .apply("envs.yaml", ENVIRONMENTS, &person(false), &none)
            .await
            .unwrap();
        let changes = store
            .apply("flow.yaml", FLOW, &person(false), &none)
            .await
            .unwrap();
        assert_eq!(changes[0].change, Change::Created);

        // A reference to nothing stored is still refused, with its position.
        let broken = FLOW.replace("dependsOn: [dev]", "dependsOn: [nowhere]");
        let Err(EngineError::Invalid(problems)) = store
            .apply("flow.yaml", &broken, &person(false), &none)
            .await
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
        let refused = store
            .apply("policy.yaml", COMMAND_POLICY, &person(false), &none)
            .await;
        assert!(
            matches!(refused, Err(EngineError::Forbidden(_))),
            "{refused:?}"
        );
        store
            .apply("policy.yaml", COMMAND_POLICY, &person(true), &none)
            .await
            .unwrap();
        store
            .apply("envs.yaml", ENVIRONMENTS, &person(false), &none)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_save_over_someone_elses_change_is_a_conflict() {
        let (store, _dir) = store().await;
        let none = ApplyOptions::default();
        store
            .apply("envs.yaml", ENVIRONMENTS, &person(false), &none)
            .await
            .unwrap();
        store
            .apply("flow.yaml", FLOW, &person(false), &none)
            .await
            .unwrap();
        let edited = format!("{FLOW}  timeout: 1h\n");
        let at = |revision| ApplyOptions {
            dry_run: false,
            expected_revisions: vec![(ResourceKind::PromotionFlow, "standard".into(), revision)],
        };
        store
            .apply("flow.yaml", &edited, &person(false), &at(1))
            .await
            .unwrap();
        let stale = store.apply("flow.yaml", FLOW, &person(false), &at(1)).await;
        let Err(EngineError::Conflict { message, .. }) = stale else {
            panic!("expected a conflict, got {stale:?}");
        };
        assert!(message.contains("now revision 2"), "{message}");
    }
}
