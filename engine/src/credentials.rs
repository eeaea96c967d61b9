//! Named credentials: git over HTTPS (user + token), git over SSH (private key, known
//! hosts) and bearer tokens (APIs, webhook secrets). Admins create and rotate them; the
//! engine decrypts one only to use it. Secrets are sealed with XChaCha20-Poly1305 under
//! a key held outside the database — `PROMENADE_SECRET_KEY` or the key file in the data
//! folder (mode 0600) — with the credential's name as associated data, so a sealed
//! secret copied onto another row does not open. Nothing here returns, logs or formats
//! a secret: [`Access`]'s `Debug` hides it and answers carry only [`CredentialInfo`].

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use promenade_model::audit::AuditAction;
use promenade_model::credentials::{CredentialInfo, CredentialInput, CredentialKind};
use promenade_model::remote::RemoteUrl;
use promenade_model::resources::Product;
use rand::RngCore;
use sqlx::Row;
use tracing::info;

use crate::audit::Record;
use crate::auth::{allow, Principal, Role};
use crate::store::{now, Store};
use crate::transport::{KnownHosts, RemotePolicy};
use crate::{Engine, EngineError, Result};

/// The environment variable that holds the key (64 hex digits), instead of the file.
pub const SECRET_KEY_VARIABLE: &str = "PROMENADE_SECRET_KEY";

const NONCE_LENGTH: usize = 24;

/// Where the key that seals credentials comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretKeySource {
    /// A file holding 64 hex digits, created (mode 0600) on first use.
    File(PathBuf),
    /// The key itself, as 64 hex digits (from `PROMENADE_SECRET_KEY`).
    Value(String),
}

impl fmt::Debug for SecretKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Value(_) => f.write_str("Value(***)"),
        }
    }
}

impl SecretKeySource {
    /// `PROMENADE_SECRET_KEY` when set, else the key file in `data_dir`.
    pub fn from_env_or(data_dir: &Path) -> Self {
        match std::env::var(SECRET_KEY_VARIABLE) {
            Ok(value) if !value.trim().is_empty() => Self::Value(value),
            _ => Self::File(data_dir.join("secret.key")),
        }
    }

    /// The cipher of this key; creates the key file on first use.
    pub(crate) fn cipher(&self) -> Result<XChaCha20Poly1305> {
        let text = match self {
            Self::Value(text) => text.clone(),
            Self::File(path) => read_or_create_key_file(path)?,
        };
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                EngineError::Internal(format!(
                    "the secret key ({}) must be 64 hex digits (32 bytes); `openssl rand -hex 32` makes one",
                    self.describe()
                ))
            })?;
        XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|e| EngineError::Internal(format!("unusable secret key: {e}")))
    }

    fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Value(_) => SECRET_KEY_VARIABLE.to_string(),
        }
    }
}

fn read_or_create_key_file(path: &Path) -> Result<String> {
    let failed = |source| EngineError::DataDir {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            let text = hex::encode(key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(failed)?;
            }
            crate::auth::write_private(path, &text).map_err(failed)?;
            info!(file = %path.display(), "created the key that encrypts credentials: back it up with the database");
            Ok(text)
        }
        Err(e) => Err(failed(e)),
    }
}

/// A decrypted credential, for the moment it is used.
#[derive(Clone)]
pub enum Access {
    Https {
        username: String,
        password: String,
    },
    Ssh {
        username: Option<String>,
        private_key: String,
        passphrase: Option<String>,
        known_hosts: KnownHosts,
    },
    Token(String),
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Https { .. } => "https",
            Self::Ssh { .. } => "ssh",
            Self::Token(_) => "token",
        };
        write!(f, "Access({kind}, ***)")
    }
}

impl Access {
    fn kind(&self) -> CredentialKind {
        match self {
            Self::Https { .. } => CredentialKind::Https,
            Self::Ssh { .. } => CredentialKind::Ssh,
            Self::Token(_) => CredentialKind::Token,
        }
    }

    fn from_input(input: CredentialInput) -> Result<Self> {
        Ok(match input.kind {
            CredentialKind::Https => Self::Https {
                username: input.username.unwrap_or_default(),
                password: input.secret,
            },
            CredentialKind::Ssh => Self::Ssh {
                username: input.username,
                private_key: input.secret,
                passphrase: input.passphrase,
                known_hosts: KnownHosts::parse(input.known_hosts.as_deref().unwrap_or_default())
                    .map_err(EngineError::BadRequest)?,
            },
            CredentialKind::Token => Self::Token(input.secret),
        })
    }
}

/// The credentials and remote rules one piece of git work needs: resolved (and
/// decrypted) before the blocking work starts, so libgit2's callbacks never wait on
/// the database.
#[derive(Clone, Debug)]
pub struct Keyring {
    policy: RemotePolicy,
    by_url: HashMap<String, (String, Arc<Access>)>,
}

impl Keyring {
    /// A keyring without credentials, under `policy`.
    pub fn new(policy: RemotePolicy) -> Self {
        Self {
            policy,
            by_url: HashMap::new(),
        }
    }

    pub fn policy(&self) -> &RemotePolicy {
        &self.policy
    }

    /// The credential to use for `url`: its name and its secret.
    pub fn access(&self, url: &str) -> Option<(String, Arc<Access>)> {
        self.by_url.get(url).cloned()
    }

    /// Uses credential `name` for `url`.
    pub fn insert(&mut self, url: &str, name: &str, access: Access) {
        self.by_url
            .insert(url.to_string(), (name.to_string(), Arc::new(access)));
    }
}

impl Store {
    async fn sealed_credential(&self, name: &str) -> Result<Option<(CredentialKind, Vec<u8>)>> {
        let row = sqlx::query("SELECT kind, sealed FROM credentials WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            let kind: String = row.get("kind");
            let kind = kind.parse().map_err(EngineError::Internal)?;
            Ok((kind, row.get("sealed")))
        })
        .transpose()
    }

    pub(crate) async fn credential_names(&self) -> Result<Vec<(String, CredentialKind)>> {
        sqlx::query("SELECT name, kind FROM credentials ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|row| {
                let kind: String = row.get("kind");
                Ok((
                    row.get("name"),
                    kind.parse().map_err(EngineError::Internal)?,
                ))
            })
            .collect()
    }
}

impl Engine {
    fn seal(&self, name: &str, input: &CredentialInput) -> Result<Vec<u8>> {
        let plaintext = serde_json::to_vec(input)
            .map_err(|e| EngineError::Internal(format!("cannot encode credentials: {e}")))?;
        let mut nonce = [0u8; NONCE_LENGTH];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher()?
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| EngineError::Internal("cannot encrypt credentials".into()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    fn unseal(&self, name: &str, sealed: &[u8]) -> Result<CredentialInput> {
        let unreadable = || {
            EngineError::Internal(format!(
                "credentials `{name}` cannot be decrypted: the secret key is not the one they were sealed with"
            ))
        };
        if sealed.len() < NONCE_LENGTH {
            return Err(unreadable());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LENGTH);
        let plaintext = self
            .cipher()?
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| unreadable())?;
        serde_json::from_slice(&plaintext).map_err(|_| unreadable())
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305> {
        if let Some(cipher) = self.inner.cipher.get() {
            return Ok(cipher.clone());
        }
        let cipher = self.config().secret_key.cipher()?;
        Ok(self.inner.cipher.get_or_init(|| cipher).clone())
    }

    /// Fails unless the secret key can be read (or created): `serve` checks at start
    /// rather than at the first credential.
    pub fn check_secret_key(&self) -> Result<()> {
        self.cipher().map(|_| ())
    }

    /// Stores new credentials, as an admin.
    pub async fn create_credential(
        &self,
        who: &Principal,
        name: &str,
        input: &CredentialInput,
    ) -> Result<CredentialInfo> {
        allow(who, Role::Admin, "creating credentials")?;
        check_name(name)?;
        check_input(input)?;
        let sealed = self.seal(name, input)?;
        let at = now();
        let inserted = sqlx::query(
            "INSERT INTO credentials (name, kind, sealed, created_by, created_at, rotated_by, rotated_at)
             VALUES ($1, $2, $3, $4, $5, $4, $5) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(input.kind.as_str())
        .bind(&sealed)
        .bind(&who.name)
        .bind(&at)
        .execute(&self.store().pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(EngineError::Conflict {
                message: format!(
                    "credentials `{name}` exist already: rotate them to replace the secret"
                ),
                diagnostics: Vec::new(),
            });
        }
        self.audit(
            Record::by(who, AuditAction::CredentialsCreated, name)
                .detail(format!("kind {}", input.kind)),
        )
        .await?;
        self.credential_info(name).await
    }

    /// Replaces the secret of existing credentials, keeping their name and kind.
    pub async fn rotate_credential(
        &self,
        who: &Principal,
        name: &str,
        input: &CredentialInput,
    ) -> Result<CredentialInfo> {
        allow(who, Role::Admin, "rotating credentials")?;
        let Some((kind, sealed)) = self.store().sealed_credential(name).await? else {
            return Err(EngineError::NotFound(format!(
                "credentials `{name}` do not exist"
            )));
        };
        // A new token for the same user: the user name may be left out.
        let mut input = input.clone();
        if input.username.is_none() && kind == CredentialKind::Https {
            input.username = self.unseal(name, &sealed)?.username;
        }
        let input = &input;
        check_input(input)?;
        if kind != input.kind {
            return Err(EngineError::BadRequest(format!(
                "credentials `{name}` are {kind}, not {}: delete and create them to change the kind",
                input.kind
            )));
        }
        let sealed = self.seal(name, input)?;
        sqlx::query(
            "UPDATE credentials SET sealed = $1, rotated_by = $2, rotated_at = $3 WHERE name = $4",
        )
        .bind(&sealed)
        .bind(&who.name)
        .bind(now())
        .bind(name)
        .execute(&self.store().pool)
        .await?;
        self.audit(Record::by(who, AuditAction::CredentialsRotated, name))
            .await?;
        self.credential_info(name).await
    }

    /// Every credential's name, kind and history; never a secret.
    pub async fn list_credentials(&self, who: &Principal) -> Result<Vec<CredentialInfo>> {
        allow(who, Role::Viewer, "listing credentials")?;
        let rows = sqlx::query(
            "SELECT name, kind, created_by, created_at, rotated_by, rotated_at, last_used_at
             FROM credentials ORDER BY name",
        )
        .fetch_all(&self.store().pool)
        .await?;
        rows.iter().map(info_of).collect()
    }

    /// Deletes credentials no product uses.
    pub async fn delete_credential(&self, who: &Principal, name: &str) -> Result<()> {
        allow(who, Role::Admin, "deleting credentials")?;
        let set = self.store().resource_set().await?;
        let users: Vec<&str> = set
            .products()
            .filter(|p| {
                p.repositories()
                    .iter()
                    .any(|(_, r)| r.credentials.as_deref() == Some(name))
            })
            .map(|p| p.metadata.name.as_str())
            .collect();
        if !users.is_empty() {
            return Err(EngineError::Conflict {
                message: format!(
                    "credentials `{name}` are used by product {}: change those first",
                    users.join(", ")
                ),
                diagnostics: Vec::new(),
            });
        }
        let deleted = sqlx::query("DELETE FROM credentials WHERE name = $1")
            .bind(name)
            .execute(&self.store().pool)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(EngineError::NotFound(format!(
                "credentials `{name}` do not exist"
            )));
        }
        self.audit(Record::by(who, AuditAction::CredentialsDeleted, name))
            .await?;
        Ok(())
    }

    async fn credential_info(&self, name: &str) -> Result<CredentialInfo> {
        let row = sqlx::query(
            "SELECT name, kind, created_by, created_at, rotated_by, rotated_at, last_used_at
             FROM credentials WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.store().pool)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("credentials `{name}` do not exist")))?;
        info_of(&row)
    }

    /// Decrypts credentials `name` for use, recording when they were last used.
    pub(crate) async fn access(&self, name: &str) -> Result<Option<Access>> {
        let Some((_, sealed)) = self.store().sealed_credential(name).await? else {
            return Ok(None);
        };
        let access = Access::from_input(self.unseal(name, &sealed)?)?;
        sqlx::query("UPDATE credentials SET last_used_at = $1 WHERE name = $2")
            .bind(now())
            .bind(name)
            .execute(&self.store().pool)
            .await?;
        Ok(Some(access))
    }

    /// The token an API (a git host's, Argo CD's) is called with: `token` credentials, or
    /// the password of `https` ones. `what` names the API in errors.
    pub(crate) async fn api_token(&self, name: &str, what: &str) -> Result<String> {
        match self.access(name).await? {
            Some(Access::Token(token)) => Ok(token),
            Some(Access::Https { password, .. }) => Ok(password),
            Some(Access::Ssh { .. }) => Err(EngineError::BadRequest(format!(
                "credentials `{name}` are ssh; {what} needs token or https credentials"
            ))),
            None => Err(EngineError::BadRequest(format!(
                "credentials `{name}` do not exist"
            ))),
        }
    }

    /// The secret of `token` credentials `name` (webhook secrets), if they exist.
    pub(crate) async fn token_secret(&self, name: &str) -> Result<Option<String>> {
        Ok(match self.access(name).await? {
            Some(Access::Token(secret)) => Some(secret),
            Some(other) => {
                return Err(EngineError::BadRequest(format!(
                    "credentials `{name}` are {}, not token",
                    other.kind()
                )))
            }
            None => None,
        })
    }

    /// The keyring for git work on `product`: every repository it names checked
    /// against the remote rules, with its credentials decrypted.
    pub(crate) async fn keyring(&self, products: &[&Product]) -> Result<Keyring> {
        let mut keyring = Keyring::new(self.remote_policy().await?);
        for product in products {
            for (_, repository) in product.repositories() {
                keyring.policy().check(&repository.url)?;
                let Some(name) = &repository.credentials else {
                    continue;
                };
                let access = self.access(name).await?.ok_or_else(|| {
                    EngineError::BadRequest(format!(
                        "credentials `{name}` of product {} do not exist",
                        product.metadata.name
                    ))
                })?;
                check_fits(name, access.kind(), &repository.url)?;
                keyring.insert(&repository.url, name, access);
            }
        }
        Ok(keyring)
    }
}

/// Credentials of the wrong kind for a URL are refused before any connection.
pub(crate) fn check_fits(name: &str, kind: CredentialKind, url: &str) -> Result<()> {
    use promenade_model::remote::Transport;
    let transport = RemoteUrl::parse(url)
        .map_err(EngineError::BadRequest)?
        .transport;
    let fits = matches!(
        (transport, kind),
        (Transport::Https | Transport::Http, CredentialKind::Https)
            | (Transport::Ssh, CredentialKind::Ssh)
    );
    if fits {
        Ok(())
    } else {
        Err(EngineError::BadRequest(format!(
            "credentials `{name}` are {kind}, which cannot be used for the {transport} remote {url}"
        )))
    }
}

fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(EngineError::BadRequest(format!(
            "{name:?} is not a credentials name: lower-case letters, digits and `-`, at most 63"
        )))
    }
}

fn check_input(input: &CredentialInput) -> Result<()> {
    let problems = input.problems();
    if !problems.is_empty() {
        return Err(EngineError::BadRequest(problems.join("; ")));
    }
    if let Some(known_hosts) = &input.known_hosts {
        KnownHosts::parse(known_hosts).map_err(EngineError::BadRequest)?;
    }
    Ok(())
}

fn info_of(row: &sqlx::any::AnyRow) -> Result<CredentialInfo> {
    let kind: String = row.get("kind");
    Ok(CredentialInfo {
        name: row.get("name"),
        kind: kind.parse().map_err(EngineError::Internal)?,
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
        rotated_by: row.get("rotated_by"),
        rotated_at: row.get("rotated_at"),
        last_used_at: row.get("last_used_at"),
    })
}
