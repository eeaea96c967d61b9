//! Server-wide settings that admins change while the server runs, kept in the database
//! so every replica reads the same ones.

use promenade_model::audit::AuditAction;
use promenade_model::stored::AdminSettings;
use sqlx::Row;

use crate::audit::Record;
use crate::auth::{allow, Principal, Role};
use crate::store::now;
use crate::transport::RemotePolicy;
use crate::{Engine, Result};

const ALLOW_INSECURE_REMOTES: &str = "allowInsecureRemotes";

impl Engine {
    /// The current settings.
    pub async fn settings(&self, who: &Principal) -> Result<AdminSettings> {
        allow(who, Role::Viewer, "reading settings")?;
        self.current_settings().await
    }

    /// Replaces the settings, as an admin.
    pub async fn set_settings(
        &self,
        who: &Principal,
        settings: &AdminSettings,
    ) -> Result<AdminSettings> {
        allow(who, Role::Admin, "changing settings")?;
        sqlx::query(
            "INSERT INTO settings (name, value, updated_by, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET value = $2, updated_by = $3, updated_at = $4",
        )
        .bind(ALLOW_INSECURE_REMOTES)
        .bind(settings.allow_insecure_remotes.to_string())
        .bind(&who.name)
        .bind(now())
        .execute(&self.store().pool)
        .await?;
        self.audit(
            Record::by(who, AuditAction::SettingsChanged, ALLOW_INSECURE_REMOTES)
                .detail(settings.allow_insecure_remotes.to_string()),
        )
        .await?;
        self.current_settings().await
    }

    async fn current_settings(&self) -> Result<AdminSettings> {
        let rows = sqlx::query("SELECT name, value FROM settings")
            .fetch_all(&self.store().pool)
            .await?;
        let mut settings = AdminSettings::default();
        for row in rows {
            let (name, value): (String, String) = (row.get("name"), row.get("value"));
            if name == ALLOW_INSECURE_REMOTES {
                settings.allow_insecure_remotes = value == "true";
            }
        }
        Ok(settings)
    }

    /// Which remotes git work may use now: the server's flag and the admin setting.
    pub(crate) async fn remote_policy(&self) -> Result<RemotePolicy> {
        Ok(RemotePolicy {
            allow_local: self.config().allow_local_repositories,
            allow_insecure: self.current_settings().await?.allow_insecure_remotes,
        })
    }
}
