//! The audit trail (docs/security.md): one row per action worth answering for, written
//! together with the action (in its transaction where it has one), and one log line per
//! row on the `promenade::audit` target, so a log shipper can forward the trail without
//! reading the database. With `--log-format json` each line is a JSON object.

use promenade_model::audit::{AuditAction, AuditEntry, AuditQuery};
use promenade_model::resources::ResourceKind;
use sqlx::Row;
use tracing::info;

use crate::auth::{allow, Principal, Role};
use crate::store::{now, Store};
use crate::{Engine, EngineError, Result};

/// A resource revision's diff beyond this is cut: the trail says who changed what, the
/// resource's revisions keep the whole documents.
const DETAIL_CAP: usize = 64 * 1024;

/// An entry about to be recorded.
pub(crate) struct Record {
    pub actor: String,
    pub action: AuditAction,
    pub object: String,
    pub address: Option<String>,
    pub detail: Option<String>,
}

impl Record {
    /// `who` did `action` to `object`.
    pub fn by(who: &Principal, action: AuditAction, object: impl Into<String>) -> Self {
        Self {
            actor: who.to_string(),
            action,
            object: object.into(),
            address: None,
            detail: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn address(mut self, address: Option<std::net::IpAddr>) -> Self {
        self.address = address.map(|a| a.to_string());
        self
    }
}

/// How the trail names a resource: `Product/shop`.
pub(crate) fn resource_object(kind: ResourceKind, name: &str) -> String {
    format!("{}/{name}", kind.as_str())
}

/// The detail of a resource change: its new revision and the diff of its canonical
/// YAML, cut at [`DETAIL_CAP`].
pub(crate) fn revision_detail(
    kind: ResourceKind,
    name: &str,
    revision: i64,
    old: Option<&str>,
    new: Option<&str>,
) -> String {
    let path = format!("{}/{name}.yaml", kind.as_str());
    let diff =
        promenade_model::diff::diff_file(&path, old.map(str::as_bytes), new.map(str::as_bytes))
            .map(|d| d.unified)
            .unwrap_or_default();
    let mut detail = format!("revision {revision}\n{diff}");
    if detail.len() > DETAIL_CAP {
        let mut end = DETAIL_CAP;
        while !detail.is_char_boundary(end) {
            end -= 1;
        }
        detail.truncate(end);
        detail.push_str("\n… (diff cut at 64 KiB)\n");
    }
    detail
}

/// Writes `record` through `executor` (the pool, or the transaction of the action it
/// records). Call [`log`] once the action is committed.
pub(crate) async fn insert<'e, E>(executor: E, record: Record) -> Result<AuditEntry>
where
    E: sqlx::AnyExecutor<'e>,
{
    let at = now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO audit (at, actor, action, object, address, detail)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&at)
    .bind(&record.actor)
    .bind(record.action.as_str())
    .bind(&record.object)
    .bind(&record.address)
    .bind(&record.detail)
    .fetch_one(executor)
    .await?;
    Ok(AuditEntry {
        id,
        at,
        actor: record.actor,
        action: record.action,
        object: record.object,
        address: record.address,
        detail: record.detail,
    })
}

/// The log line of a recorded entry.
pub(crate) fn log(entry: &AuditEntry) {
    info!(
        target: "promenade::audit",
        id = entry.id,
        at = entry.at.as_str(),
        actor = entry.actor.as_str(),
        action = entry.action.as_str(),
        object = entry.object.as_str(),
        address = entry.address.as_deref().unwrap_or(""),
        detail = entry.detail.as_deref().unwrap_or(""),
        "audit"
    );
}

impl Store {
    /// Records an action that has no transaction of its own, and logs it.
    pub(crate) async fn audit(&self, record: Record) -> Result<()> {
        let entry = insert(&self.pool, record).await?;
        log(&entry);
        Ok(())
    }

    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, object, address, detail FROM audit
             WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2)
               AND ($3 IS NULL OR object = $3) AND ($4 IS NULL OR id < $4)
             ORDER BY id DESC LIMIT $5",
        )
        .bind(&query.actor)
        .bind(query.action.map(AuditAction::as_str))
        .bind(&query.object)
        .bind(query.before)
        .bind(i64::from(query.page_size()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let action: String = row.try_get("action")?;
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: action.parse().map_err(EngineError::Internal)?,
                    object: row.try_get("object")?,
                    address: row.try_get("address")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }
}

impl Engine {
    /// Records that `who` did `action` to `object`.
    pub(crate) async fn audit(&self, record: Record) -> Result<()> {
        self.store().audit(record).await
    }

    /// The audit trail, newest first (admins).
    pub async fn audit_trail(
        &self,
        who: &Principal,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>> {
        allow(who, Role::Admin, "reading the audit trail")?;
        self.store().audit_entries(query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_detail_is_its_number_and_a_bounded_diff() {
        let detail = revision_detail(
            ResourceKind::Environment,
            "dev",
            2,
            Some("spec:\n  kind: non-prod\n"),
            Some("spec:\n  kind: prod\n"),
        );
        assert!(detail.starts_with("revision 2\ndiff --git a/Environment/dev.yaml"));
        assert!(detail.contains("-  kind: non-prod\n+  kind: prod\n"));

        let huge = "x: y\n".repeat(40_000);
        let detail = revision_detail(ResourceKind::Product, "shop", 1, None, Some(&huge));
        assert!(detail.len() < DETAIL_CAP + 100);
        assert!(detail.ends_with("(diff cut at 64 KiB)\n"));
    }
}
