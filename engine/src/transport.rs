//! How the engine reaches git remotes: which remotes it may use at all, the credentials
//! libgit2 asks for, and the check of an SSH server's host key against the known hosts
//! kept with the credentials. TLS certificates are verified by libgit2 (OpenSSL) against
//! the system's CAs plus the file `--ca-file` names.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};
use hmac::{Hmac, Mac};
use promenade_model::remote::{RemoteUrl, Transport};

use crate::credentials::Access;
use crate::{EngineError, Result};

/// Which remotes the engine may use. HTTPS and SSH always; the rest only when the
/// operator says so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemotePolicy {
    /// Local paths and `file://` (`--allow-local-repositories`).
    pub allow_local: bool,
    /// `http://` and `git://` (the admin setting `allowInsecureRemotes`).
    pub allow_insecure: bool,
}

impl RemotePolicy {
    /// Every transport.
    pub fn everything() -> Self {
        Self {
            allow_local: true,
            allow_insecure: true,
        }
    }

    /// Fails with a message naming the rule unless `url` may be used.
    pub fn check(&self, url: &str) -> Result<()> {
        let refused = |rule: &str| {
            Err(EngineError::BadRequest(format!(
                "the repository {url} is refused: {rule}"
            )))
        };
        match RemoteUrl::parse(url)
            .map_err(|problem| EngineError::BadRequest(format!("{url}: {problem}")))?
            .transport
        {
            Transport::Https | Transport::Ssh => Ok(()),
            Transport::Local if !self.allow_local => refused(
                "repositories on the server's disk are only used when it runs with \
                 --allow-local-repositories",
            ),
            Transport::Http | Transport::Git if !self.allow_insecure => refused(
                "http:// and git:// are unencrypted; an admin allows them with \
                 `promenade settings --allow-insecure-remotes true`",
            ),
            Transport::Local | Transport::Http | Transport::Git => Ok(()),
        }
    }
}

/// Makes HTTPS trust the CAs in `file` besides the system's (`--ca-file`). libgit2 keeps
/// one TLS context per process, so this holds for every remote.
pub fn trust_ca_file(file: &Path) -> Result<()> {
    if !file.is_file() {
        return Err(EngineError::BadRequest(format!(
            "the CA file {} does not exist",
            file.display()
        )));
    }
    // SAFETY: libgit2 options are process-wide; this runs at start-up, before any
    // remote is contacted.
    unsafe { git2::opts::set_ssl_cert_file(file) }.map_err(|e| {
        EngineError::BadRequest(format!(
            "cannot use the CA file {}: {}",
            file.display(),
            e.message()
        ))
    })
}

/// The callbacks for one connection to `url`: credentials when the remote asks, the
/// host key check for SSH.
/// A refused host key's reason is written to `refusal`, since libgit2 reports its own.
pub(crate) fn callbacks<'a>(
    url: &'a str,
    access: Option<(&'a str, &'a Access)>,
    refusal: &'a Mutex<Option<String>>,
) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    let mut offered = false;
    callbacks.credentials(move |_, user_in_url, allowed| {
        let Some((name, access)) = access else {
            return Err(git2::Error::from_str(
                "the remote asks for credentials: name stored credentials in the product's \
                 `repository.credentials`",
            ));
        };
        match access {
            Access::Ssh {
                username,
                private_key,
                passphrase,
                ..
            } => {
                let user = user_in_url.or(username.as_deref()).unwrap_or("git");
                if allowed.contains(CredentialType::USERNAME) {
                    return Cred::username(user);
                }
                if offered {
                    return Err(refused(name));
                }
                offered = true;
                Cred::ssh_key_from_memory(user, None, private_key, passphrase.as_deref())
            }
            Access::Https { username, password }
                if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
            {
                // libgit2 asks again after a 401: the same secret would only loop.
                if offered {
                    return Err(refused(name));
                }
                offered = true;
                Cred::userpass_plaintext(username, password)
            }
            _ => Err(git2::Error::from_str(&format!(
                "credentials `{name}` do not fit what the remote asks for"
            ))),
        }
    });
    callbacks.certificate_check(move |cert, _| {
        let Some(hostkey) = cert.as_hostkey() else {
            // TLS: libgit2 has verified the chain and the name.
            return Ok(CertificateCheckStatus::CertificatePassthrough);
        };
        let host = RemoteUrl::parse(url)
            .map(|u| u.known_hosts_name())
            .unwrap_or_default();
        let verdict = match (hostkey.hostkey(), access) {
            (None, _) => Err(format!("the SSH server {host} sent no host key")),
            (Some(key), Some((name, Access::Ssh { known_hosts, .. }))) => known_hosts
                .verify(&host, key)
                .map_err(|problem| format!("{problem} (known hosts of credentials `{name}`)")),
            (Some(_), _) => Err(format!(
                "the SSH host key of {host} cannot be verified: ssh remotes need ssh credentials \
                 whose known hosts list the server"
            )),
        };
        verdict
            .map(|()| CertificateCheckStatus::CertificateOk)
            .map_err(|message| {
                let error = git2::Error::from_str(&message);
                *refusal.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
                error
            })
    });
    callbacks
}

fn refused(name: &str) -> git2::Error {
    git2::Error::new(
        git2::ErrorCode::Auth,
        git2::ErrorClass::Net,
        format!("authentication failed: the remote refused credentials `{name}`"),
    )
}

/// Host keys in OpenSSH's `known_hosts` format: `hosts key-type base64-key`, where hosts
/// are comma-separated names (`[host]:port` off port 22) or one hashed name
/// (`|1|salt|hash`). `@revoked` lines refuse a key; wildcards and `@cert-authority` are
/// not supported and refused when read, rather than silently never matching.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownHosts {
    entries: Vec<HostEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct HostEntry {
    names: HostNames,
    key: Vec<u8>,
    revoked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostNames {
    Plain(Vec<String>),
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
}

impl HostNames {
    fn matches(&self, host: &str) -> bool {
        match self {
            Self::Plain(names) => names.iter().any(|n| n == host),
            Self::Hashed { salt, hash } => Hmac::<sha1::Sha1>::new_from_slice(salt)
                .map(|mut mac| {
                    mac.update(host.as_bytes());
                    mac.verify_slice(hash).is_ok()
                })
                .unwrap_or(false),
        }
    }
}

impl KnownHosts {
    /// Reads the text; the error names the first line that is not an entry.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let base64 = base64::engine::general_purpose::STANDARD;
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| format!("line {} of the known hosts: {why}", index + 1);
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or_default();
            let revoked = first == "@revoked";
            if revoked {
                first = fields.next().unwrap_or_default();
            } else if first.starts_with('@') {
                return Err(bad(&format!("the marker {first} is not supported")));
            }
            let (Some(_key_type), Some(key)) = (fields.next(), fields.next()) else {
                return Err(bad("expected `host key-type base64-key`"));
            };
            let key = base64
                .decode(key)
                .map_err(|_| bad("the key is not base64"))?;
            let names = if let Some(hashed) = first.strip_prefix("|1|") {
                let (salt, hash) = hashed
                    .split_once('|')
                    .ok_or_else(|| bad("a hashed host is `|1|salt|hash`"))?;
                HostNames::Hashed {
                    salt: base64
                        .decode(salt)
                        .map_err(|_| bad("the salt is not base64"))?,
                    hash: base64
                        .decode(hash)
                        .map_err(|_| bad("the hash is not base64"))?,
                }
            } else {
                if first.contains(['*', '?', '!']) {
                    return Err(bad(
                        "host patterns (*, ?, !) are not supported: name each host",
                    ));
                }
                HostNames::Plain(first.split(',').map(str::to_string).collect())
            };
            entries.push(HostEntry {
                names,
                key,
                revoked,
            });
        }
        if entries.is_empty() {
            return Err("the known hosts list no host".into());
        }
        Ok(Self { entries })
    }

    /// Succeeds when `key` (the SSH wire encoding) is a known, unrevoked key of `host`;
    /// the error says whether the host is unknown or its key changed.
    pub fn verify(&self, host: &str, key: &[u8]) -> std::result::Result<(), String> {
        let entries: Vec<&HostEntry> = self
            .entries
            .iter()
            .filter(|e| e.names.matches(host))
            .collect();
        if entries.iter().any(|e| e.revoked && e.key == key) {
            return Err(format!("the SSH host key of {host} is revoked"));
        }
        if entries.iter().any(|e| !e.revoked && e.key == key) {
            return Ok(());
        }
        if entries.iter().any(|e| !e.revoked) {
            Err(format!(
                "the SSH host key of {host} changed: it matches none of the known keys; if the \
                 server's key really changed, rotate the credentials with the new one"
            ))
        } else {
            Err(format!(
                "the SSH host key of {host} is unknown: add the server to the known hosts \
                 (`ssh-keyscan` prints its keys)"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIKux3i9J0xzR7dzSEMdhxT/cglc7jvjgM1l+DZwFHobB";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIISm2h/t5uVobo5jhZgC+ZB/gNuQKGn1gLS3SqaYT7Om";

    fn raw(key: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap()
    }

    #[test]
    fn known_unknown_and_changed_keys() {
        let hosts = KnownHosts::parse(&format!(
            "# ours\ngithub.com,[10.0.0.1]:2222 ssh-ed25519 {KEY_A}\n"
        ))
        .unwrap();
        assert_eq!(hosts.verify("github.com", &raw(KEY_A)), Ok(()));
        assert_eq!(hosts.verify("[10.0.0.1]:2222", &raw(KEY_A)), Ok(()));
        let changed = hosts.verify("github.com", &raw(KEY_B)).unwrap_err();
        assert!(changed.contains("changed"), "{changed}");
        let unknown = hosts.verify("10.0.0.1", &raw(KEY_A)).unwrap_err();
        assert!(unknown.contains("unknown"), "{unknown}");
    }

    #[test]
    fn hashed_names_and_revoked_keys() {
        // `ssh-keygen -H` style: HMAC-SHA1 of the name under a random salt.
        let salt = b"0123456789abcdefghij";
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(salt).unwrap();
        mac.update(b"git.example.com");
        let b64 = base64::engine::general_purpose::STANDARD;
        let hashed = format!(
            "|1|{}|{}",
            b64.encode(salt),
            b64.encode(mac.finalize().into_bytes())
        );
        let hosts = KnownHosts::parse(&format!(
            "{hashed} ssh-ed25519 {KEY_A}\n@revoked git.example.com ssh-ed25519 {KEY_B}\n"
        ))
        .unwrap();
        assert_eq!(hosts.verify("git.example.com", &raw(KEY_A)), Ok(()));
        assert!(hosts
            .verify("git.example.com", &raw(KEY_B))
            .unwrap_err()
            .contains("revoked"));
        assert!(hosts.verify("other.example.com", &raw(KEY_A)).is_err());
    }

    #[test]
    fn unsupported_lines_are_refused_with_their_line() {
        let error = KnownHosts::parse(&format!(
            "ok ssh-ed25519 {KEY_A}\n*.corp ssh-ed25519 {KEY_A}"
        ))
        .unwrap_err();
        assert!(error.starts_with("line 2"), "{error}");
        assert!(KnownHosts::parse("@cert-authority * ssh-ed25519 AAAA").is_err());
        assert!(KnownHosts::parse("# nothing\n").is_err());
    }

    #[test]
    fn remote_rules_name_the_rule() {
        let strict = RemotePolicy::default();
        assert!(strict.check("https://github.com/a/b.git").is_ok());
        assert!(strict.check("git@github.com:a/b.git").is_ok());
        let local = strict
            .check("file:///srv/repo.git")
            .unwrap_err()
            .to_string();
        assert!(local.contains("--allow-local-repositories"), "{local}");
        let insecure = strict
            .check("http://git.corp/a.git")
            .unwrap_err()
            .to_string();
        assert!(insecure.contains("allow-insecure-remotes"), "{insecure}");
        assert!(RemotePolicy::everything().check("/srv/repo").is_ok());
    }
}
