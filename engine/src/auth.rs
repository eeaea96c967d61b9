//! Who may do what: roles; users who sign in to the web UI with a password (argon2id
//! hashes); API tokens for machines, shown once at creation and kept only as a SHA-256
//! hash.

use std::path::{Path, PathBuf};

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use sqlx::Row;

use promenade_model::audit::AuditAction;
use time::format_description::well_known::Rfc3339;
use tracing::warn;

use crate::audit::Record;
use crate::store::{now, Store};
use crate::{telemetry, Engine, EngineError, Result};

pub use promenade_model::access::{
    Principal, PrincipalKind, Role, SessionUser, TokenInfo, UserInfo,
};

/// How long a web session lasts however active it is; the idle timeout ends it sooner.
pub const SESSION_LIFETIME: time::Duration = time::Duration::days(7);

/// Fails with [`EngineError::Forbidden`] unless `who` has at least `role`. Every use case
/// of the engine asks this (or a finer rule) first: the UI may hide a button, but only
/// this protects the action, and it is the same for the UI, the API and the CLI.
pub fn allow(who: &Principal, role: Role, what: &str) -> Result<()> {
    if who.has(role) {
        Ok(())
    } else {
        Err(EngineError::Forbidden(format!(
            "{what} needs the {role} role; {who} is {}",
            who.role
        )))
    }
}

impl Engine {
    /// The token's principal, if the secret is a valid token.
    pub async fn authenticate_token(&self, secret: &str) -> Result<Option<Principal>> {
        let principal = self.store().authenticate(secret).await?;
        if principal.is_none() {
            telemetry::sign_in_failed("token");
        }
        Ok(principal)
    }

    /// The user, when the password is right.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<Option<SessionUser>> {
        let Some(principal) = self.check_password(name, password, from).await? else {
            return Ok(None);
        };
        let Some(session) = self.new_session(&principal.name).await? else {
            return Ok(None);
        };
        self.audit(Record::by(&principal, AuditAction::SignedIn, &principal.name).address(from))
            .await?;
        Ok(Some(session))
    }

    /// Changes the signed-in user's own password, given the current one; every other
    /// session of theirs ends. Returns the session to continue this one with.
    pub async fn change_password(
        &self,
        who: &Principal,
        current: &str,
        new: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<SessionUser> {
        if who.kind != PrincipalKind::User {
            return Err(EngineError::BadRequest(format!(
                "{who} has no password: only people who sign in have one"
            )));
        }
        if self
            .check_password(&who.name, current, from)
            .await?
            .is_none()
        {
            return Err(EngineError::Forbidden(
                "the current password is wrong".into(),
            ));
        }
        self.store().set_password(&who.name, new).await?;
        self.retire_first_start_password(&who.name)?;
        self.audit(Record::by(who, AuditAction::PasswordChanged, &who.name))
            .await?;
        self.new_session(&who.name)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no user named {:?}", who.name)))
    }

    /// A session of `name` opened now, if the user exists.
    async fn new_session(&self, name: &str) -> Result<Option<SessionUser>> {
        Ok(self.store().user(name).await?.map(|user| SessionUser {
            name: name.to_string(),
            since: user.since,
            signed_in_at: time::OffsetDateTime::now_utc().unix_timestamp(),
        }))
    }

    /// The first-start password file says the admin's password: once it is changed,
    /// nothing should keep the old one.
    fn retire_first_start_password(&self, name: &str) -> Result<()> {
        let file = &self.config().first_start_password;
        if name == "admin" && file.exists() {
            std::fs::remove_file(file).map_err(|source| EngineError::DataDir {
                path: file.display().to_string(),
                source,
            })?;
        }
        Ok(())
    }

    /// The user, when the password is right; throttled, and each failure audited.
    async fn check_password(
        &self,
        name: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<Option<Principal>> {
        if let Some(wait) = self.inner.sign_ins.wait(name, from) {
            return Err(EngineError::TooManyAttempts(format!(
                "too many failed sign-ins: try again in {} s",
                wait.as_secs().max(1)
            )));
        }
        let verified = {
            let _permit = self
                .inner
                .hashing
                .acquire()
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))?;
            self.store().verify_password(name, password).await?
        };
        let Some(principal) = verified else {
            telemetry::sign_in_failed("password");
            self.audit(failure_record(name, from)).await?;
            if let Some(closed) = self.inner.sign_ins.failed(name, from) {
                warn!(user = name, address = ?from, "sign-ins refused for a while after repeated failures");
                let locked = Record {
                    action: AuditAction::SignInLocked,
                    detail: Some(closed),
                    ..failure_record(name, from)
                };
                self.audit(locked).await?;
            }
            return Ok(None);
        };
        self.inner.sign_ins.succeeded(name);
        Ok(Some(principal))
    }

    /// The principal of a signed-in session's user, with their current role; `None`
    /// once the user is removed (or removed and created again), once their password
    /// changed after the session was opened, or once the session is older than
    /// [`SESSION_LIFETIME`] however active it was.
    pub async fn session_user(&self, session: &SessionUser) -> Result<Option<Principal>> {
        let age = time::OffsetDateTime::now_utc().unix_timestamp() - session.signed_in_at;
        if !(0..SESSION_LIFETIME.whole_seconds()).contains(&age) {
            return Ok(None);
        }
        Ok(self
            .store()
            .user(&session.name)
            .await?
            .filter(|user| {
                user.since == session.since && user.sessions_from <= session.signed_in_at
            })
            .map(|user| user.principal))
    }

    /// Creates an API token and returns its secret, which is stored nowhere.
    pub async fn create_token(&self, who: &Principal, name: &str, role: Role) -> Result<String> {
        allow(who, Role::Admin, "creating tokens")?;
        let secret = self.store().create_token(name, role).await?;
        self.audit(Record::by(who, AuditAction::TokenCreated, name).detail(format!("role {role}")))
            .await?;
        Ok(secret)
    }

    pub async fn list_tokens(&self, who: &Principal) -> Result<Vec<TokenInfo>> {
        allow(who, Role::Admin, "listing tokens")?;
        self.store().list_tokens().await
    }

    pub async fn revoke_token(&self, who: &Principal, name: &str) -> Result<()> {
        allow(who, Role::Admin, "revoking tokens")?;
        self.store().revoke_token(name).await?;
        self.audit(Record::by(who, AuditAction::TokenRevoked, name))
            .await?;
        Ok(())
    }

    pub async fn create_user(
        &self,
        who: &Principal,
        name: &str,
        password: &str,
        role: Role,
    ) -> Result<()> {
        allow(who, Role::Admin, "adding users")?;
        self.store().create_user(name, password, role).await?;
        self.audit(Record::by(who, AuditAction::UserAdded, name).detail(format!("role {role}")))
            .await?;
        Ok(())
    }

    pub async fn list_users(&self, who: &Principal) -> Result<Vec<UserInfo>> {
        allow(who, Role::Admin, "listing users")?;
        self.store().list_users().await
    }

    pub async fn remove_user(&self, who: &Principal, name: &str) -> Result<()> {
        allow(who, Role::Admin, "removing users")?;
        self.store().remove_user(name).await?;
        self.audit(Record::by(who, AuditAction::UserRemoved, name))
            .await?;
        Ok(())
    }

    /// Gives a user another role (admins), from their next request on. The last
    /// administrator keeps the role: nobody could manage users after.
    pub async fn set_role(&self, who: &Principal, name: &str, role: Role) -> Result<()> {
        allow(who, Role::Admin, "changing roles")?;
        let before = self.store().set_role(name, role).await?;
        if before != role {
            self.audit(
                Record::by(who, AuditAction::RoleChanged, name)
                    .detail(format!("role {before} → {role}")),
            )
            .await?;
        }
        Ok(())
    }

    /// Sets a user's password (admins, or the operator at the server's shell); the
    /// user's sessions end.
    pub async fn set_password(&self, who: &Principal, name: &str, password: &str) -> Result<()> {
        allow(who, Role::Admin, "setting passwords")?;
        self.store().set_password(name, password).await?;
        self.retire_first_start_password(name)?;
        self.audit(Record::by(who, AuditAction::PasswordChanged, name))
            .await?;
        Ok(())
    }

    /// On a fresh installation, creates the first administrator's token and password
    /// files in `data_dir`; returns the files it wrote.
    pub async fn bootstrap_admin(&self, data_dir: &Path) -> Result<Vec<PathBuf>> {
        let token = self
            .store()
            .bootstrap_admin_token(&admin_token_file(data_dir))
            .await?;
        let password = self
            .store()
            .bootstrap_admin_user(&admin_password_file(data_dir))
            .await?;
        Ok(token.into_iter().chain(password).collect())
    }
}

/// A user as sessions see it.
pub(crate) struct SessionCheck {
    pub principal: Principal,
    /// When the user was created: a user of the same name created later is another.
    pub since: String,
    /// Sessions opened before this (Unix seconds) have ended.
    pub sessions_from: i64,
}

/// A failed sign-in: the actor is the user name tried, which may name nobody.
fn failure_record(name: &str, from: Option<std::net::IpAddr>) -> Record {
    Record {
        actor: name.to_string(),
        action: AuditAction::SignInFailed,
        object: name.to_string(),
        address: from.map(|a| a.to_string()),
        detail: None,
    }
}

/// Every token starts with this, so secret scanners recognise leaked ones.
const TOKEN_PREFIX: &str = "pmd_";
const TOKEN_LENGTH: usize = 40;

/// The file `promenade serve` writes the first administrator token to, and the CLI
/// reads it from on the same machine.
pub fn admin_token_file(data_dir: &Path) -> PathBuf {
    data_dir.join("admin-token")
}

/// The file `promenade serve` writes the first administrator's password to.
pub fn admin_password_file(data_dir: &Path) -> PathBuf {
    data_dir.join("admin-password")
}

const MIN_PASSWORD_LENGTH: usize = 12;

impl Store {
    /// Creates a token and returns its secret, which is not stored anywhere.
    pub(crate) async fn create_token(&self, name: &str, role: Role) -> Result<String> {
        if name.trim().is_empty() {
            return Err(EngineError::BadRequest("a token needs a name".into()));
        }
        let secret = format!(
            "{TOKEN_PREFIX}{}",
            Alphanumeric.sample_string(&mut rand::rng(), TOKEN_LENGTH)
        );
        let inserted = sqlx::query(
            "INSERT INTO api_tokens (name, hash, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(hash(&secret))
        .bind(role.as_str())
        .bind(now())
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(secret),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(EngineError::Conflict {
                    message: format!("a token named {name:?} exists already"),
                    diagnostics: Vec::new(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The caller a token belongs to, if it is valid.
    pub(crate) async fn authenticate(&self, secret: &str) -> Result<Option<Principal>> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        // Read first: an unknown token (a flood of guesses) takes no write lock.
        let row = sqlx::query("SELECT name, role, last_used_at FROM api_tokens WHERE hash = $1")
            .bind(hash(secret))
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let name: String = row.try_get("name")?;
        let role: String = row.try_get("role")?;
        let last_used: Option<String> = row.try_get("last_used_at")?;
        // Recorded at most once a minute: a busy CI token does not write on every call.
        let stale = last_used
            .as_deref()
            .and_then(|at| time::OffsetDateTime::parse(at, &Rfc3339).ok())
            .is_none_or(|at| time::OffsetDateTime::now_utc() - at > time::Duration::minutes(1));
        if stale {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE hash = $2")
                .bind(now())
                .bind(hash(secret))
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(Principal::token(
            name,
            role.parse().map_err(EngineError::Internal)?,
        )))
    }

    pub(crate) async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT name, role, created_at, last_used_at FROM api_tokens ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let role: String = row.try_get("role")?;
                Ok(TokenInfo {
                    name: row.try_get("name")?,
                    role: role.parse().map_err(EngineError::Internal)?,
                    created_at: row.try_get("created_at")?,
                    last_used_at: row.try_get("last_used_at")?,
                })
            })
            .collect()
    }

    pub(crate) async fn revoke_token(&self, name: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(EngineError::NotFound(format!("no token named {name:?}")));
        }
        Ok(())
    }

    /// On a fresh installation, creates an administrator token and writes it to
    /// `file` (readable by the owner only). Returns the file when it did.
    pub(crate) async fn bootstrap_admin_token(&self, file: &Path) -> Result<Option<PathBuf>> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM api_tokens")
            .fetch_one(&self.pool)
            .await?;
        if count > 0 {
            return Ok(None);
        }
        let secret = match self.create_token("admin", Role::Admin).await {
            Ok(secret) => secret,
            // Another replica starting at the same time got there first.
            Err(EngineError::Conflict { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        write_private(file, &secret).map_err(|source| EngineError::DataDir {
            path: file.display().to_string(),
            source,
        })?;
        Ok(Some(file.to_path_buf()))
    }
}

impl Store {
    pub(crate) async fn create_user(&self, name: &str, password: &str, role: Role) -> Result<()> {
        if name.trim().is_empty() || name.len() > 64 {
            return Err(EngineError::BadRequest(
                "a user name has 1 to 64 characters".into(),
            ));
        }
        let hash = checked_hash(password)?;
        let inserted = sqlx::query(
            "INSERT INTO users (name, password_hash, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(hash)
        .bind(role.as_str())
        .bind(now())
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(EngineError::Conflict {
                    message: format!("a user named {name:?} exists already"),
                    diagnostics: Vec::new(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The user, when the password is right. Unknown users cost the same time as a wrong
    /// password, so the answer does not reveal which names exist.
    pub(crate) async fn verify_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<Principal>> {
        let row = sqlx::query("SELECT password_hash, role FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let (stored, role) = match &row {
            Some(row) => (
                row.try_get::<String, _>("password_hash")?,
                Some(row.try_get::<String, _>("role")?),
            ),
            None => (DUMMY_HASH.to_string(), None),
        };
        let password = password.to_string();
        let matches = tokio::task::spawn_blocking(move || verify_password_hash(&password, &stored))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        match (matches, role) {
            (true, Some(role)) => Ok(Some(Principal::user(
                name,
                role.parse().map_err(EngineError::Internal)?,
            ))),
            _ => Ok(None),
        }
    }

    /// What sessions check on every request, so that removing a user, changing a role
    /// or a password takes effect at once.
    pub(crate) async fn user(&self, name: &str) -> Result<Option<SessionCheck>> {
        let row = sqlx::query("SELECT role, created_at, sessions_from FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let role: String = row.try_get("role")?;
        Ok(Some(SessionCheck {
            principal: Principal::user(name, role.parse().map_err(EngineError::Internal)?),
            since: row.try_get("created_at")?,
            sessions_from: row.try_get("sessions_from")?,
        }))
    }

    pub(crate) async fn list_users(&self) -> Result<Vec<UserInfo>> {
        let rows = sqlx::query("SELECT name, role, created_at FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let role: String = row.try_get("role")?;
                Ok(UserInfo {
                    name: row.try_get("name")?,
                    role: role.parse().map_err(EngineError::Internal)?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    pub(crate) async fn set_password(&self, name: &str, password: &str) -> Result<()> {
        let hash = checked_hash(password)?;
        let updated =
            sqlx::query("UPDATE users SET password_hash = $1, sessions_from = $2 WHERE name = $3")
                .bind(hash)
                .bind(time::OffsetDateTime::now_utc().unix_timestamp())
                .bind(name)
                .execute(&self.pool)
                .await?;
        if updated.rows_affected() == 0 {
            return Err(EngineError::NotFound(format!("no user named {name:?}")));
        }
        Ok(())
    }

    /// Sets `name`'s role in one transaction with the check that an administrator
    /// remains; the role it had.
    pub(crate) async fn set_role(&self, name: &str, role: Role) -> Result<Role> {
        let mut tx = self.pool.begin().await?;
        let before: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(before) = before else {
            return Err(EngineError::NotFound(format!("no user named {name:?}")));
        };
        let before: Role = before
            .parse()
            .map_err(|e: String| EngineError::Internal(e))?;
        sqlx::query("UPDATE users SET role = $1 WHERE name = $2")
            .bind(role.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await?;
        commit_keeping_an_admin(tx, before == Role::Admin, "demoting").await?;
        Ok(before)
    }

    pub(crate) async fn remove_user(&self, name: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(role) = role else {
            return Err(EngineError::NotFound(format!("no user named {name:?}")));
        };
        sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        commit_keeping_an_admin(tx, role == Role::Admin.as_str(), "removing").await
    }

    /// On a fresh installation, creates the user `admin` with a random password written
    /// to `file` (readable by the owner only). Returns the file when it did.
    pub(crate) async fn bootstrap_admin_user(&self, file: &Path) -> Result<Option<PathBuf>> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        if count > 0 {
            return Ok(None);
        }
        let password = Alphanumeric.sample_string(&mut rand::rng(), 20);
        match self.create_user("admin", &password, Role::Admin).await {
            Ok(()) => {}
            // Another replica starting at the same time got there first.
            Err(EngineError::Conflict { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
        write_private(file, &password).map_err(|source| EngineError::DataDir {
            path: file.display().to_string(),
            source,
        })?;
        Ok(Some(file.to_path_buf()))
    }
}

/// A valid hash of a random password, checked against when the user does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$7Gk9+ybjgvRXXPSDkqwhKTOWM0E9JNTMU5qCd5dbAYs";

/// The hash of an acceptable password.
fn checked_hash(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(EngineError::BadRequest(format!(
            "a password has at least {MIN_PASSWORD_LENGTH} characters"
        )));
    }
    hash_password(password)
}

fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&bytes)
        .map_err(|e| EngineError::Internal(format!("cannot make a salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| EngineError::Internal(format!("cannot hash the password: {e}")))
}

fn verify_password_hash(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored)
        .map(|hash| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn write_private(file: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(file)?
        .write_all(format!("{secret}\n").as_bytes())
}

/// Commits a change that touched an administrator (`touched_admin`) unless it leaves no administrator
/// who can sign in (API tokens aside: they are not people); then it is rolled back at
/// once, so the write lock it holds is not left to a later connection's turn.
async fn commit_keeping_an_admin(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    touched_admin: bool,
    doing: &str,
) -> Result<()> {
    if touched_admin {
        let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
            .fetch_one(&mut *tx)
            .await?;
        if admins == 0 {
            tx.rollback().await?;
            return Err(EngineError::Conflict {
                message: format!(
                    "{doing} the last administrator would leave nobody to manage users"
                ),
                diagnostics: Vec::new(),
            });
        }
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_authenticates_as_its_role_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        let secret = store.create_token("ci", Role::Promoter).await.unwrap();
        assert!(secret.starts_with("pmd_") && secret.len() == 44);

        let who = store.authenticate(&secret).await.unwrap().unwrap();
        assert_eq!(who, Principal::token("ci", Role::Promoter));
        assert!(store.authenticate("pmd_wrong").await.unwrap().is_none());
        assert!(store.authenticate("").await.unwrap().is_none());

        let listed = store.list_tokens().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].last_used_at.is_some());
        assert!(
            store.create_token("ci", Role::Viewer).await.is_err(),
            "names are unique"
        );

        store.revoke_token("ci").await.unwrap();
        assert!(store.authenticate(&secret).await.unwrap().is_none());
        assert!(store.revoke_token("ci").await.is_err());
    }

    #[tokio::test]
    async fn the_first_start_writes_one_private_admin_token() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        let file = admin_token_file(dir.path());
        assert_eq!(
            store.bootstrap_admin_token(&file).await.unwrap(),
            Some(file.clone())
        );
        let secret = std::fs::read_to_string(&file).unwrap();
        let who = store.authenticate(secret.trim()).await.unwrap().unwrap();
        assert_eq!(who.role, Role::Admin);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(
            store.bootstrap_admin_token(&file).await.unwrap(),
            None,
            "only once"
        );
    }

    #[tokio::test]
    async fn users_sign_in_with_their_password_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        store
            .create_user("ada", "correct horse battery", Role::ReleaseManager)
            .await
            .unwrap();
        let who = store
            .verify_password("ada", "correct horse battery")
            .await
            .unwrap();
        assert_eq!(who, Some(Principal::user("ada", Role::ReleaseManager)));
        assert_eq!(
            store
                .verify_password("ada", "wrong horse battery")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .verify_password("nobody", "correct horse battery")
                .await
                .unwrap(),
            None
        );
        assert!(store
            .create_user("bob", "short", Role::Viewer)
            .await
            .is_err());
        assert!(store
            .create_user("ada", "another long password", Role::Viewer)
            .await
            .is_err());
        assert_eq!(store.list_users().await.unwrap().len(), 1);

        store.remove_user("ada").await.unwrap();
        assert!(store.user("ada").await.unwrap().is_none());
        assert_eq!(
            store
                .verify_password("ada", "correct horse battery")
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn roles_change_from_the_next_request_and_an_administrator_always_remains() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        let engine = Engine::new(store, crate::EngineConfig::new(dir.path()));
        let operator = Principal::system("operator", Role::Admin);
        let password = "correct horse battery";
        for (name, role) in [("root", Role::Admin), ("ada", Role::Viewer)] {
            engine
                .create_user(&operator, name, password, role)
                .await
                .unwrap();
        }
        let viewer = Principal::user("ada", Role::Viewer);
        let refused = engine
            .set_role(&viewer, "ada", Role::Admin)
            .await
            .unwrap_err();
        assert!(matches!(refused, EngineError::Forbidden(_)), "{refused}");

        engine
            .set_role(&operator, "ada", Role::ReleaseManager)
            .await
            .unwrap();
        let signed_in = engine
            .store()
            .verify_password("ada", password)
            .await
            .unwrap();
        assert_eq!(
            signed_in,
            Some(Principal::user("ada", Role::ReleaseManager))
        );

        // root is the only administrator: neither demoted nor removed…
        for refused in [
            engine.set_role(&operator, "root", Role::Viewer).await,
            engine.remove_user(&operator, "root").await,
        ] {
            let refused = refused.unwrap_err();
            assert!(
                refused.to_string().contains("the last administrator"),
                "{refused}"
            );
        }
        assert_eq!(
            engine
                .store()
                .user("root")
                .await
                .unwrap()
                .map(|u| u.principal.role),
            Some(Role::Admin)
        );
        // …until there is another.
        engine
            .set_role(&operator, "ada", Role::Admin)
            .await
            .unwrap();
        engine
            .set_role(&operator, "root", Role::Viewer)
            .await
            .unwrap();
        engine.remove_user(&operator, "root").await.unwrap();
        let missing = engine
            .set_role(&operator, "root", Role::Admin)
            .await
            .unwrap_err();
        assert!(matches!(missing, EngineError::NotFound(_)), "{missing}");
        let changes = engine
            .audit_trail(
                &operator,
                &promenade_model::audit::AuditQuery {
                    action: Some(AuditAction::RoleChanged),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let details: Vec<_> = changes.iter().filter_map(|e| e.detail.as_deref()).collect();
        assert_eq!(
            details,
            [
                "role admin → viewer",
                "role release-manager → admin",
                "role viewer → release-manager"
            ]
        );
    }

    #[tokio::test]
    async fn a_new_password_replaces_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        let engine = Engine::new(store, crate::EngineConfig::new(dir.path()));
        let operator = Principal::system("operator", Role::Admin);
        let (old, new) = ("correct horse battery", "staple of a new password");
        engine
            .create_user(&operator, "ada", old, Role::Viewer)
            .await
            .unwrap();
        let viewer = Principal::user("ada", Role::Viewer);
        assert!(
            engine.set_password(&viewer, "ada", new).await.is_err(),
            "admins only"
        );
        assert!(engine
            .set_password(&operator, "ada", "short")
            .await
            .is_err());
        assert!(engine.set_password(&operator, "bob", new).await.is_err());
        engine.set_password(&operator, "ada", new).await.unwrap();
        assert!(engine.sign_in("ada", old, None).await.unwrap().is_none());
        assert!(engine.sign_in("ada", new, None).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn changing_a_password_ends_every_other_session_and_retires_the_first_start_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        let engine = Engine::new(store, crate::EngineConfig::new(dir.path()));
        engine.bootstrap_admin(dir.path()).await.unwrap();
        let file = admin_password_file(dir.path());
        let first = std::fs::read_to_string(&file).unwrap().trim().to_string();
        let laptop = engine
            .sign_in("admin", &first, None)
            .await
            .unwrap()
            .unwrap();
        let phone = engine
            .sign_in("admin", &first, None)
            .await
            .unwrap()
            .unwrap();
        let who = engine.session_user(&laptop).await.unwrap().unwrap();
        // Sessions opened in an earlier second than the change.
        let earlier = |s: &SessionUser| SessionUser {
            signed_in_at: s.signed_in_at - 1,
            ..s.clone()
        };
        let (laptop, phone) = (earlier(&laptop), earlier(&phone));

        let refused = engine
            .change_password(&who, "not the password", "a brand new password", None)
            .await;
        assert!(
            matches!(refused, Err(EngineError::Forbidden(_))),
            "{refused:?}"
        );
        assert!(file.exists());
        assert!(engine.session_user(&phone).await.unwrap().is_some());

        let renewed = engine
            .change_password(&who, &first, "a brand new password", None)
            .await
            .unwrap();
        assert!(!file.exists(), "the first-start password is gone");
        assert_eq!(engine.session_user(&phone).await.unwrap(), None);
        assert_eq!(engine.session_user(&laptop).await.unwrap(), None);
        assert_eq!(
            engine.session_user(&renewed).await.unwrap(),
            Some(who.clone())
        );
        assert!(engine
            .sign_in("admin", &first, None)
            .await
            .unwrap()
            .is_none());

        let token = Principal::token("ci", Role::Admin);
        assert!(matches!(
            engine
                .change_password(&token, "x", "a brand new password", None)
                .await,
            Err(EngineError::BadRequest(_))
        ));
        // An admin setting it ends the renewed session too.
        let operator = Principal::system("operator", Role::Admin);
        let before = SessionUser {
            signed_in_at: renewed.signed_in_at - 1,
            ..renewed
        };
        engine
            .set_password(&operator, "admin", "yet another password")
            .await
            .unwrap();
        assert_eq!(engine.session_user(&before).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_unknown_token_is_refused_without_waiting_for_the_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        let mut writer = store.pool.acquire().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *writer)
            .await
            .unwrap();
        // A write here would wait for the lock held above and fail once the busy
        // timeout ran out.
        let unknown = format!("{TOKEN_PREFIX}{}", "x".repeat(TOKEN_LENGTH));
        assert_eq!(store.authenticate(&unknown).await.unwrap(), None);
        sqlx::query("ROLLBACK").execute(&mut *writer).await.unwrap();
    }

    #[tokio::test]
    async fn a_session_ends_with_its_lifetime_and_with_its_user() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        let engine = Engine::new(store, crate::EngineConfig::new(dir.path()));
        let operator = Principal::system("operator", Role::Admin);
        let password = "correct horse battery";
        engine
            .create_user(&operator, "ada", password, Role::Viewer)
            .await
            .unwrap();
        let session = engine
            .sign_in("ada", password, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            engine.session_user(&session).await.unwrap(),
            Some(Principal::user("ada", Role::Viewer))
        );
        let week_old = SessionUser {
            signed_in_at: session.signed_in_at - SESSION_LIFETIME.whole_seconds(),
            ..session.clone()
        };
        assert_eq!(engine.session_user(&week_old).await.unwrap(), None);
        engine.remove_user(&operator, "ada").await.unwrap();
        engine
            .create_user(&operator, "ada", "another long password", Role::Admin)
            .await
            .unwrap();
        assert_eq!(
            engine.session_user(&session).await.unwrap(),
            None,
            "a new user of the same name does not inherit the old one's sessions"
        );
    }

    #[tokio::test]
    async fn the_first_start_creates_an_admin_with_a_private_random_password() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        let file = admin_password_file(dir.path());
        assert_eq!(
            store.bootstrap_admin_user(&file).await.unwrap(),
            Some(file.clone())
        );
        let password = std::fs::read_to_string(&file).unwrap();
        let who = store
            .verify_password("admin", password.trim())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(who.role, Role::Admin);
        assert_eq!(store.bootstrap_admin_user(&file).await.unwrap(), None);
    }

    #[test]
    fn roles_are_ordered_by_trust_and_parse_from_their_names() {
        assert!(Role::Viewer < Role::Promoter && Role::ReleaseManager < Role::Admin);
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
