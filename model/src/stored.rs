//! Resources as the server keeps them — canonical YAML with a revision, who changed it
//! and when — and what applying or deleting changed. The API answers with these and the
//! CLI reads them.

use serde::{Deserialize, Serialize};

use crate::resources::ResourceKind;

/// What applying did (or, in a dry run, would do) to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChange {
    /// The resource's kind.
    pub kind: ResourceKind,
    /// The resource's name.
    pub name: String,
    /// What happened to it.
    pub change: Change,
    /// The revision after the change (unchanged: the current one).
    pub revision: i64,
}

/// What happened to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// It did not exist before.
    Created,
    /// Its document changed.
    Updated,
    /// It was already exactly so.
    Unchanged,
    /// It is gone.
    Deleted,
}

impl Change {
    /// The change's name, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
            Change::Deleted => "deleted",
        }
    }
}

/// A stored resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredResource {
    /// The resource's kind.
    pub kind: ResourceKind,
    /// The resource's name.
    pub name: String,
    /// Counts every change, from 1.
    pub revision: i64,
    /// Canonical YAML.
    pub document: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Who applied the current revision.
    pub updated_by: String,
}

/// The answer to `POST /api/v1/apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyResponse {
    /// Whether nothing was stored.
    pub dry_run: bool,
    /// What applying changed (or would change), per resource.
    pub changes: Vec<ResourceChange>,
}

/// Server-wide settings an admin changes at run time (`GET/PUT /api/v1/settings`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminSettings {
    /// Whether products may use unencrypted `http://` and `git://` remotes.
    #[serde(default)]
    pub allow_insecure_remotes: bool,
}
