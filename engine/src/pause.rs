//! Pausing a product, or one of its environments: new and waiting releases hold before
//! their next step there, steps under way finish, and resuming lets them go on
//! (docs/resources.md, "Pausing").

use promenade_model::audit::AuditAction;
use promenade_model::release::Pause;
use promenade_model::resources::ResourceKind;
use sqlx::Row;

use crate::audit::Record;
use crate::auth::{allow, Principal, Role};
use crate::bus::Signal;
use crate::store::{now, Store};
use crate::{Engine, EngineError, Result};

/// How the whole product is written in the `environment` column.
const WHOLE_PRODUCT: &str = "";

impl Engine {
    /// Pauses `product` (every environment, or `environment`), as a release manager;
    /// pausing what is paused replaces the reason.
    pub async fn pause_releases(
        &self,
        who: &Principal,
        product: &str,
        environment: Option<&str>,
        reason: &str,
    ) -> Result<Pause> {
        allow(who, Role::ReleaseManager, "pausing releases")?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(EngineError::BadRequest("pausing needs a reason".into()));
        }
        self.resource(who, ResourceKind::Product, product).await?;
        if let Some(environment) = environment {
            self.resource(who, ResourceKind::Environment, environment)
                .await?;
        }
        let pause = Pause {
            product: product.to_string(),
            environment: environment.map(str::to_string),
            reason: reason.to_string(),
            paused_by: who.name.clone(),
            paused_at: now(),
        };
        sqlx::query(
            "INSERT INTO pauses (product, environment, reason, paused_by, paused_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (product, environment)
             DO UPDATE SET reason = $3, paused_by = $4, paused_at = $5",
        )
        .bind(product)
        .bind(environment.unwrap_or(WHOLE_PRODUCT))
        .bind(&pause.reason)
        .bind(&pause.paused_by)
        .bind(&pause.paused_at)
        .execute(&self.store().pool)
        .await?;
        self.audit(
            Record::by(
                who,
                AuditAction::ReleasesPaused,
                format!("Product/{product}"),
            )
            .detail(format!("{}: {reason}", pause.scope())),
        )
        .await?;
        Ok(pause)
    }

    /// Lifts a pause; the releases holding behind it go on at once.
    pub async fn resume_releases(
        &self,
        who: &Principal,
        product: &str,
        environment: Option<&str>,
    ) -> Result<()> {
        allow(who, Role::ReleaseManager, "resuming releases")?;
        let removed = sqlx::query("DELETE FROM pauses WHERE product = $1 AND environment = $2")
            .bind(product)
            .bind(environment.unwrap_or(WHOLE_PRODUCT))
            .execute(&self.store().pool)
            .await?;
        if removed.rows_affected() == 0 {
            return Err(EngineError::NotFound(format!(
                "{product} is not paused in {}",
                environment.unwrap_or("every environment")
            )));
        }
        self.audit(
            Record::by(
                who,
                AuditAction::ReleasesResumed,
                format!("Product/{product}"),
            )
            .detail(environment.unwrap_or("every environment").to_string()),
        )
        .await?;
        self.signal(Signal::Queue).await;
        Ok(())
    }

    /// The pause that holds `product`'s steps in `environment`, if one does.
    pub(crate) async fn pause_on(&self, product: &str, environment: &str) -> Result<Option<Pause>> {
        Ok(self
            .store()
            .pauses(product)
            .await?
            .into_iter()
            .find(|p| p.environment.as_deref().is_none_or(|e| e == environment)))
    }
}

impl Store {
    /// The product's pauses, the whole product's first.
    pub(crate) async fn pauses(&self, product: &str) -> Result<Vec<Pause>> {
        let rows = sqlx::query(
            "SELECT product, environment, reason, paused_by, paused_at FROM pauses
             WHERE product = $1 ORDER BY environment",
        )
        .bind(product)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let environment: String = row.try_get("environment")?;
                Ok(Pause {
                    product: row.try_get("product")?,
                    environment: (environment != WHOLE_PRODUCT).then_some(environment),
                    reason: row.try_get("reason")?,
                    paused_by: row.try_get("paused_by")?,
                    paused_at: row.try_get("paused_at")?,
                })
            })
            .collect()
    }
}
