//! Who may do what (`docs/configuration.md`, "Roles"): roles, principals, and the rules
//! that need no I/O. The engine applies them to every use case, the same for the UI,
//! the API and the CLI; the browser only uses them to decide what to show.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::action::Approval;
use crate::resources::ResourceKind;

/// Roles, from least to most trusted; each includes what the ones before it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Reads everything but secrets; previews.
    Viewer,
    /// Applies `Environment` and `Product` resources; promotes, retries, terminates.
    Promoter,
    /// Also applies policies, flows and templates, and approves gates.
    ReleaseManager,
    /// Also manages users and tokens and may define `command` actions.
    Admin,
}

impl Role {
    /// Every role, least trusted first.
    pub const ALL: [Role; 4] = [
        Role::Viewer,
        Role::Promoter,
        Role::ReleaseManager,
        Role::Admin,
    ];

    /// The role's name in resources, the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Promoter => "promoter",
            Role::ReleaseManager => "release-manager",
            Role::Admin => "admin",
        }
    }

    /// The role needed to create, change or delete a resource of `kind`. Policies, flows,
    /// templates and freezes are the guard rails promoters work under, so promoters may
    /// not change them.
    pub fn to_change(kind: ResourceKind) -> Role {
        match kind {
            ResourceKind::Environment | ResourceKind::Product => Role::Promoter,
            ResourceKind::PromotionTemplate
            | ResourceKind::PromotionPolicy
            | ResourceKind::PromotionFlow
            | ResourceKind::Freeze => Role::ReleaseManager,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown role {text:?}: expected viewer, promoter, release-manager or admin"
                )
            })
    }
}

/// What kind of caller a principal is. A user and a token of the same name are two
/// principals: neither is ever taken for the other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    /// A person signed in with a password (web UI).
    #[default]
    User,
    /// An API token (CLI, CI, scripts).
    Token,
    /// Promenade itself: triggers, and the operator's local commands on the server.
    System,
}

impl PrincipalKind {
    /// The kind's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Token => "token",
            PrincipalKind::System => "system",
        }
    }
}

impl FromStr for PrincipalKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        [
            PrincipalKind::User,
            PrincipalKind::Token,
            PrincipalKind::System,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
        .ok_or_else(|| format!("unknown principal kind {text:?}"))
    }
}

/// An authenticated caller: who, what kind, and with which role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// User or token name.
    pub name: String,
    /// The role the caller acts with.
    pub role: Role,
    /// User, token or system.
    pub kind: PrincipalKind,
}

impl Principal {
    /// A signed-in user.
    pub fn user(name: impl Into<String>, role: Role) -> Self {
        Self {
            name: name.into(),
            role,
            kind: PrincipalKind::User,
        }
    }

    /// An API token.
    pub fn token(name: impl Into<String>, role: Role) -> Self {
        Self {
            name: name.into(),
            role,
            kind: PrincipalKind::Token,
        }
    }

    /// Promenade acting on its own behalf (`trigger`), or the operator at the server's
    /// shell (`operator`, an administrator: whoever can read the data folder owns it).
    pub fn system(name: impl Into<String>, role: Role) -> Self {
        Self {
            name: name.into(),
            role,
            kind: PrincipalKind::System,
        }
    }

    /// Whether the caller has at least `role`.
    pub fn has(&self, role: Role) -> bool {
        self.role >= role
    }

    /// Whether this is the principal recorded as `name` of `kind`.
    pub fn is(&self, name: &str, kind: PrincipalKind) -> bool {
        self.name == name && self.kind == kind
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.name)
    }
}

/// What a web session remembers of its user: the name, which user of that name (when
/// it was created: a user removed and created again is another one) and when the
/// session was opened, for its absolute lifetime.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionUser {
    /// User name.
    pub name: String,
    /// When that user was created (RFC 3339).
    pub since: String,
    /// When the session was opened, in seconds since 1970.
    pub signed_in_at: i64,
}

/// The least role that may approve a gate: the lowest role it names, or
/// `release-manager` when it names none.
pub fn approver_role(approval: &Approval) -> Role {
    approval
        .roles
        .iter()
        .filter_map(|r| r.parse::<Role>().ok())
        .min()
        .unwrap_or(Role::ReleaseManager)
}

/// Why `who` may not approve `approval` on a release started by `started_by`, or `None`
/// when they may. Four eyes: whoever started a release never approves its gates —
/// administrators included — unless the gate says `allowSelfApproval: true`.
pub fn approval_refusal(
    who: &Principal,
    approval: &Approval,
    started_by: (&str, PrincipalKind),
) -> Option<String> {
    let needed = approver_role(approval);
    if !who.has(needed) && who.role != Role::Admin {
        return Some(format!(
            "approving needs the {needed} role; {who} is {}",
            who.role
        ));
    }
    if who.is(started_by.0, started_by.1) && !approval.allow_self_approval {
        return Some(format!(
            "{who} started this release and cannot approve it too (four eyes; a gate may \
             allow it with allowSelfApproval: true)"
        ));
    }
    None
}

/// A user as listed: never the password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    /// The name they sign in with.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// RFC 3339.
    pub created_at: String,
}

/// An API token as listed: never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// The token's name, which the audit trail records.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; `None` when never used.
    pub last_used_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn gate(roles: &[&str], allow_self_approval: bool) -> Approval {
        Approval {
            roles: roles.iter().map(|r| r.to_string()).collect(),
            count: NonZeroU32::MIN,
            allow_self_approval,
        }
    }

    #[test]
    fn a_gate_without_roles_needs_a_release_manager() {
        let started = ("someone", PrincipalKind::User);
        let promoter = Principal::user("pat", Role::Promoter);
        let manager = Principal::user("rita", Role::ReleaseManager);
        assert!(approval_refusal(&promoter, &gate(&[], false), started).is_some());
        assert_eq!(approval_refusal(&manager, &gate(&[], false), started), None);
        assert_eq!(
            approval_refusal(&promoter, &gate(&["promoter"], false), started),
            None
        );
    }

    #[test]
    fn users_and_tokens_of_one_name_are_two_principals() {
        let user = Principal::user("alice", Role::Admin);
        let token = Principal::token("alice", Role::Admin);
        assert!(
            approval_refusal(&user, &gate(&[], false), ("alice", PrincipalKind::User)).is_some()
        );
        assert_eq!(
            approval_refusal(&token, &gate(&[], false), ("alice", PrincipalKind::User)),
            None
        );
        assert!(
            approval_refusal(&token, &gate(&[], false), ("alice", PrincipalKind::Token)).is_some()
        );
        assert_eq!(
            approval_refusal(&token, &gate(&[], true), ("alice", PrincipalKind::Token)),
            None
        );
    }

    #[test]
    fn policies_flows_templates_and_freezes_need_a_release_manager() {
        assert_eq!(Role::to_change(ResourceKind::Product), Role::Promoter);
        assert_eq!(Role::to_change(ResourceKind::Environment), Role::Promoter);
        for kind in [
            ResourceKind::PromotionPolicy,
            ResourceKind::PromotionFlow,
            ResourceKind::PromotionTemplate,
            ResourceKind::Freeze,
        ] {
            assert_eq!(Role::to_change(kind), Role::ReleaseManager);
        }
    }
}
