//! The audit trail: who did what to which object, when, and from where. Entries are
//! written by the engine in the same step as the action they record and are never
//! changed afterwards; admins read them (`GET /api/v1/audit`, Settings, `promenade
//! audit`) and the server also logs each one on the `promenade::audit` target.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    /// A user signed in to the web UI.
    SignedIn,
    /// A sign-in with a wrong user name or password.
    SignInFailed,
    /// Repeated failures closed sign-ins for an account or an address for a while.
    SignInLocked,
    /// A resource was created or changed (the detail holds the revision's diff).
    ResourceApplied,
    /// A resource was deleted.
    ResourceDeleted,
    /// A release was started, by a person, a token or a trigger.
    ReleaseStarted,
    /// An approval gate was approved.
    GateApproved,
    /// A failed release was retried.
    ReleaseRetried,
    /// A running release was terminated.
    ReleaseTerminated,
    /// An API token was created (never its secret).
    TokenCreated,
    /// An API token was revoked.
    TokenRevoked,
    /// Credentials were stored (never their secret).
    CredentialsCreated,
    /// The secret of credentials was replaced.
    CredentialsRotated,
    /// Credentials were deleted.
    CredentialsDeleted,
    /// A user was added.
    UserAdded,
    /// A user was removed.
    UserRemoved,
    /// A user's password was set, by them or an admin.
    PasswordChanged,
    /// Server-wide settings were changed.
    SettingsChanged,
    /// A version of a product was blocked (the detail holds the version and reason).
    VersionBlocked,
    /// A blocked version was let through again.
    VersionUnblocked,
    /// A product or one of its environments was paused (the detail says which, and why).
    ReleasesPaused,
    /// A pause was lifted.
    ReleasesResumed,
    /// A release was let through a freeze (the detail holds the environment, the
    /// freeze and the reason).
    FreezeBroken,
    /// A freeze was ended early.
    FreezeEnded,
    /// A user's role was changed (the detail holds the old and new role).
    RoleChanged,
}

impl AuditAction {
    /// Every action, in the order above.
    pub const ALL: [AuditAction; 25] = [
        AuditAction::SignedIn,
        AuditAction::SignInFailed,
        AuditAction::SignInLocked,
        AuditAction::ResourceApplied,
        AuditAction::ResourceDeleted,
        AuditAction::ReleaseStarted,
        AuditAction::GateApproved,
        AuditAction::ReleaseRetried,
        AuditAction::ReleaseTerminated,
        AuditAction::TokenCreated,
        AuditAction::TokenRevoked,
        AuditAction::CredentialsCreated,
        AuditAction::CredentialsRotated,
        AuditAction::CredentialsDeleted,
        AuditAction::UserAdded,
        AuditAction::UserRemoved,
        AuditAction::PasswordChanged,
        AuditAction::SettingsChanged,
        AuditAction::VersionBlocked,
        AuditAction::VersionUnblocked,
        AuditAction::ReleasesPaused,
        AuditAction::ReleasesResumed,
        AuditAction::FreezeBroken,
        AuditAction::FreezeEnded,
        AuditAction::RoleChanged,
    ];

    /// The action's name in the API, the store and the logs.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignedIn => "signed-in",
            AuditAction::SignInFailed => "sign-in-failed",
            AuditAction::SignInLocked => "sign-in-locked",
            AuditAction::ResourceApplied => "resource-applied",
            AuditAction::ResourceDeleted => "resource-deleted",
            AuditAction::ReleaseStarted => "release-started",
            AuditAction::GateApproved => "gate-approved",
            AuditAction::ReleaseRetried => "release-retried",
            AuditAction::ReleaseTerminated => "release-terminated",
            AuditAction::TokenCreated => "token-created",
            AuditAction::TokenRevoked => "token-revoked",
            AuditAction::CredentialsCreated => "credentials-created",
            AuditAction::CredentialsRotated => "credentials-rotated",
            AuditAction::CredentialsDeleted => "credentials-deleted",
            AuditAction::UserAdded => "user-added",
            AuditAction::UserRemoved => "user-removed",
            AuditAction::PasswordChanged => "password-changed",
            AuditAction::SettingsChanged => "settings-changed",
            AuditAction::VersionBlocked => "version-blocked",
            AuditAction::VersionUnblocked => "version-unblocked",
            AuditAction::ReleasesPaused => "releases-paused",
            AuditAction::ReleasesResumed => "releases-resumed",
            AuditAction::FreezeBroken => "freeze-broken",
            AuditAction::FreezeEnded => "freeze-ended",
            AuditAction::RoleChanged => "role-changed",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
                format!(
                    "unknown audit action {text:?}: expected one of {}",
                    known.join(", ")
                )
            })
    }
}

/// One recorded action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Increasing with time; `before=` pages by it.
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    /// Who: `user ada`, `token ci`, `system trigger`; for a failed sign-in, the user
    /// name that was tried.
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// What it was done to: `Product/shop`, a release id, a token, user or credentials
    /// name.
    pub object: String,
    /// The client's address, where the action came with one (sign-ins).
    pub address: Option<String>,
    /// More about it: a resource revision and its diff, a release's environment, how
    /// long sign-ins are closed. Never a secret.
    pub detail: Option<String>,
}

/// Which entries to read, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    /// Only this actor (exactly as recorded, e.g. `user ada`).
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only this object (exactly as recorded, e.g. `Product/shop`).
    pub object: Option<String>,
    /// Only entries older than this id: the next page after a page ending at it.
    pub before: Option<i64>,
    /// At most this many (default 100, at most 1,000).
    pub limit: Option<u32>,
}

impl AuditQuery {
    /// The page size when none is asked for.
    pub const DEFAULT_LIMIT: u32 = 100;
    /// The largest page.
    pub const MAX_LIMIT: u32 = 1000;

    /// The page size asked for, within bounds.
    pub fn page_size(&self) -> u32 {
        self.limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_back_from_their_names() {
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::Value::String(action.as_str().into())
            );
        }
        assert!("dropped-tables"
            .parse::<AuditAction>()
            .unwrap_err()
            .contains("signed-in"));
    }

    #[test]
    fn pages_are_bounded() {
        let ask = |limit| AuditQuery {
            limit,
            ..AuditQuery::default()
        };
        assert_eq!(ask(None).page_size(), 100);
        assert_eq!(ask(Some(0)).page_size(), 1);
        assert_eq!(ask(Some(50_000)).page_size(), 1000);
    }
}
