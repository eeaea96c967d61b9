//! Named credentials as people see them: what an admin sends to create or rotate one,
//! and the metadata the API answers with. The secret itself never appears in an answer:
//! [`CredentialInfo`] has no field that could carry it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a credential is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    /// Git over HTTPS: a username and a token or password.
    Https,
    /// Git over SSH: a private key (optionally with a passphrase) and the known host
    /// keys of the servers it may talk to.
    Ssh,
    /// A bearer token for an API, or a webhook secret.
    Token,
}

impl CredentialKind {
    /// Every kind, in the order the UI offers them.
    pub const ALL: [CredentialKind; 3] = [Self::Https, Self::Ssh, Self::Token];

    /// The kind's name, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::Ssh => "ssh",
            Self::Token => "token",
        }
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CredentialKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| {
                format!("unknown credential kind {text:?}: expected https, ssh or token")
            })
    }
}

/// A stored credential, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialInfo {
    /// Unique; resources refer to the credential by it.
    pub name: String,
    /// What it is for.
    pub kind: CredentialKind,
    /// Who created it.
    pub created_by: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// Who last replaced the secret, and when (RFC 3339); the creator until then.
    pub rotated_by: String,
    /// See `rotated_by`.
    pub rotated_at: String,
    /// When the engine last used it (RFC 3339), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
}

/// What an admin sends to create a credential or replace its secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialInput {
    /// The credential's kind; a rotation keeps the kind it has.
    pub kind: CredentialKind,
    /// `https`: the user name (`x-access-token`, `oauth2`, a machine user). `ssh`: the
    /// user when the URL names none (`git` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The token or password (`https`, `token`), or the private key (`ssh`).
    pub secret: String,
    /// `ssh`: the private key's passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// `ssh`: the servers' host keys, in OpenSSH `known_hosts` format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<String>,
}

/// Never prints the secret or the passphrase, whatever logs it.
impl fmt::Debug for CredentialInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialInput")
            .field("kind", &self.kind)
            .field("username", &self.username)
            .field("secret", &"***")
            .field("passphrase", &self.passphrase.as_ref().map(|_| "***"))
            .field(
                "known_hosts",
                &self.known_hosts.as_ref().map(|k| k.lines().count()),
            )
            .finish()
    }
}

impl CredentialInput {
    /// The problems that make this input unusable for its kind, as sentences.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.secret.trim().is_empty() {
            problems.push(match self.kind {
                CredentialKind::Ssh => "`secret` must hold the private key".to_string(),
                _ => "`secret` must not be empty".to_string(),
            });
        }
        let only_ssh = |field: &str, present: bool, problems: &mut Vec<String>| {
            if present && self.kind != CredentialKind::Ssh {
                problems.push(format!(
                    "`{field}` is only for ssh credentials, not {}",
                    self.kind
                ));
            }
        };
        only_ssh("passphrase", self.passphrase.is_some(), &mut problems);
        only_ssh("knownHosts", self.known_hosts.is_some(), &mut problems);
        match self.kind {
            CredentialKind::Https if self.username.as_deref().is_none_or(str::is_empty) => {
                problems.push("https credentials need a `username`".into())
            }
            CredentialKind::Token if self.username.is_some() => {
                problems.push("token credentials have no `username`".into())
            }
            CredentialKind::Ssh => {
                if self
                    .known_hosts
                    .as_deref()
                    .is_none_or(|k| k.trim().is_empty())
                {
                    problems.push(
                        "ssh credentials need `knownHosts`: the servers' host keys, as \
                         `ssh-keyscan HOST` prints them; unknown hosts are refused"
                            .into(),
                    )
                }
                if !self.secret.trim().is_empty() && !self.secret.contains("PRIVATE KEY-----") {
                    problems.push(
                        "`secret` of ssh credentials must be a private key in PEM or OpenSSH \
                         format (`-----BEGIN … PRIVATE KEY-----`)"
                            .into(),
                    )
                }
            }
            _ => {}
        }
        problems
    }
}

/// The names of the credentials that hold webhook secrets, one per receiver.
pub mod webhook {
    /// `POST /api/v1/webhooks/github`: the secret GitHub signs deliveries with.
    pub const GITHUB: &str = "github-webhook";
    /// `POST /api/v1/webhooks/gitlab`: the token GitLab sends in `X-Gitlab-Token`.
    pub const GITLAB: &str = "gitlab-webhook";
    /// `POST /api/v1/webhooks/git`: a bearer token or an HMAC-SHA256 key.
    pub const GIT: &str = "git-webhook";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: CredentialKind) -> CredentialInput {
        CredentialInput {
            kind,
            username: None,
            secret: "s3cret".into(),
            passphrase: None,
            known_hosts: None,
        }
    }

    #[test]
    fn each_kind_asks_for_its_own_fields() {
        assert_eq!(
            input(CredentialKind::Https).problems(),
            ["https credentials need a `username`"]
        );
        assert!(input(CredentialKind::Token).problems().is_empty());
        let ssh = input(CredentialKind::Ssh).problems();
        assert_eq!(ssh.len(), 2, "{ssh:?}");
        assert!(ssh[0].contains("knownHosts"));
        assert!(ssh[1].contains("private key"));
        let mut token = input(CredentialKind::Token);
        token.known_hosts = Some("host ssh-ed25519 AAAA".into());
        assert_eq!(
            token.problems(),
            ["`knownHosts` is only for ssh credentials, not token"]
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let mut ssh = input(CredentialKind::Ssh);
        ssh.passphrase = Some("hunter2".into());
        let shown = format!("{ssh:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
