//! Stop the line: versions of a product marked bad. No release carrying a blocked
//! version is started, from the UI, the API, the CLI or a trigger, and a running one
//! stops before it writes again (docs/resources.md, "Blocking a version").

use promenade_model::audit::AuditAction;
use promenade_model::release::{BlockedVersion, Source};
use promenade_model::resources::ResourceKind;
use sqlx::Row;

use crate::audit::Record;
use crate::auth::{allow, Principal, Role};
use crate::store::now;
use crate::{Engine, EngineError, Result};

impl Engine {
    /// Blocks `version` of `product` (again, with a new reason, when it is already).
    /// Anyone who may promote may stop the line.
    pub async fn block_version(
        &self,
        who: &Principal,
        product: &str,
        version: &str,
        reason: &str,
    ) -> Result<BlockedVersion> {
        allow(who, Role::Promoter, "blocking versions")?;
        let (version, reason) = (version.trim(), reason.trim());
        if version.is_empty() || reason.is_empty() {
            return Err(EngineError::BadRequest(
                "blocking a version needs the version and a reason".into(),
            ));
        }
        self.resource(who, ResourceKind::Product, product).await?;
        let blocked = BlockedVersion {
            product: product.to_string(),
            version: version.to_string(),
            reason: reason.to_string(),
            blocked_by: who.name.clone(),
            blocked_at: now(),
        };
        sqlx::query(
            "INSERT INTO blocked_versions (product, version, reason, blocked_by, blocked_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (product, version)
             DO UPDATE SET reason = $3, blocked_by = $4, blocked_at = $5",
        )
        .bind(&blocked.product)
        .bind(&blocked.version)
        .bind(&blocked.reason)
        .bind(&blocked.blocked_by)
        .bind(&blocked.blocked_at)
        .execute(&self.store().pool)
        .await?;
        self.audit(
            Record::by(
                who,
                AuditAction::VersionBlocked,
                format!("Product/{product}"),
            )
            .detail(format!("{version}: {reason}")),
        )
        .await?;
        Ok(blocked)
    }

    /// Lets a blocked version through again: a release manager's decision.
    pub async fn unblock_version(
        &self,
        who: &Principal,
        product: &str,
        version: &str,
    ) -> Result<()> {
        allow(who, Role::ReleaseManager, "unblocking versions")?;
        let removed =
            sqlx::query("DELETE FROM blocked_versions WHERE product = $1 AND version = $2")
                .bind(product)
                .bind(version)
                .execute(&self.store().pool)
                .await?;
        if removed.rows_affected() == 0 {
            return Err(EngineError::NotFound(format!(
                "version {version} of {product} is not blocked"
            )));
        }
        self.audit(
            Record::by(
                who,
                AuditAction::VersionUnblocked,
                format!("Product/{product}"),
            )
            .detail(version.to_string()),
        )
        .await
    }

    /// The blocked versions of `product` (of every product when `None`), newest first.
    pub async fn blocked_versions(
        &self,
        who: &Principal,
        product: Option<&str>,
    ) -> Result<Vec<BlockedVersion>> {
        allow(who, Role::Viewer, "reading blocked versions")?;
        self.store().blocked_versions(product).await
    }

    /// Refuses work on `source` while it carries a blocked version; `doing` says what
    /// was refused.
    pub(crate) async fn refuse_blocked(
        &self,
        product: &str,
        source: &Source,
        doing: &str,
    ) -> Result<()> {
        let blocks = self.store().blocked_versions(Some(product)).await?;
        match blocks.into_iter().find(|b| source.carries(&b.version)) {
            None => Ok(()),
            Some(b) => Err(EngineError::Conflict {
                message: format!(
                    "version {} of {product} is blocked by {} ({}): {doing}; a release manager may unblock it (`promenade unblock {product} {}`)",
                    b.version, b.blocked_by, b.reason, b.version
                ),
                diagnostics: Vec::new(),
            }),
        }
    }
}

impl crate::store::Store {
    pub(crate) async fn blocked_versions(
        &self,
        product: Option<&str>,
    ) -> Result<Vec<BlockedVersion>> {
        let rows = sqlx::query(
            "SELECT product, version, reason, blocked_by, blocked_at FROM blocked_versions
             WHERE $1 IS NULL OR product = $1 ORDER BY blocked_at DESC, version",
        )
        .bind(product)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(BlockedVersion {
                    product: row.try_get("product")?,
                    version: row.try_get("version")?,
                    reason: row.try_get("reason")?,
                    blocked_by: row.try_get("blocked_by")?,
                    blocked_at: row.try_get("blocked_at")?,
                })
            })
            .collect()
    }
}
