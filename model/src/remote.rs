//! Git remote URLs: which transport a URL uses, where it points, and one spelling per
//! repository so a webhook's `https://…` and a product's `git@…:…` are recognised as the
//! same repository. Tokens never belong in a URL (they would be stored and shown to
//! every viewer): a password in the URL is refused, pointing at credentials.

use std::fmt;

/// How a remote is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `https://`: TLS, verified against the system's CAs.
    Https,
    /// `ssh://` or scp-style `user@host:path`: the host key is verified.
    Ssh,
    /// `http://`: unencrypted; allowed only by an admin setting.
    Http,
    /// `git://`: unencrypted and unauthenticated; allowed only by an admin setting.
    Git,
    /// `file://` or a path: a repository on the server's own disk.
    Local,
}

impl Transport {
    /// How the transport is named in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::Ssh => "ssh",
            Self::Http => "http",
            Self::Git => "git",
            Self::Local => "local",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed remote URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    /// How it is reached.
    pub transport: Transport,
    /// The user named in the URL (`git` in `git@github.com:acme/gitops.git`).
    pub user: Option<String>,
    /// The host, without brackets; empty for local repositories.
    pub host: String,
    /// The port when the URL names one.
    pub port: Option<u16>,
    /// The repository's path on the host (or on disk), without a leading `/`.
    pub path: String,
}

impl RemoteUrl {
    /// Reads `url`; the error says what is wrong with it, for people.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("the repository URL is empty".into());
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            let transport = match scheme.to_ascii_lowercase().as_str() {
                "https" => Transport::Https,
                "http" => Transport::Http,
                "ssh" | "git+ssh" | "ssh+git" => Transport::Ssh,
                "git" => Transport::Git,
                "file" => {
                    return Ok(Self::local(rest));
                }
                other => {
                    return Err(format!(
                        "`{other}://` is not a git transport Promenade speaks: use https://, \
                         ssh:// or git@host:path"
                    ))
                }
            };
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let (user, host_port) = match authority.rsplit_once('@') {
                Some((info, host)) => {
                    if info.contains(':') || matches!(transport, Transport::Https | Transport::Http)
                    {
                        return Err(
                            "the URL carries a user name or token: put them in credentials \
                             (`promenade credentials create`) and name those in \
                             `repository.credentials`; URLs are shown to every viewer"
                                .into(),
                        );
                    }
                    (Some(info.to_string()), host)
                }
                None => (None, authority),
            };
            let (host, port) = split_port(host_port)?;
            if host.is_empty() {
                return Err(format!("the URL {url:?} names no host"));
            }
            return Ok(Self {
                transport,
                user,
                host,
                port,
                path: path.to_string(),
            });
        }
        // scp-style `[user@]host:path`, told apart from a local path by the colon
        // coming before any slash.
        match url.split_once(':') {
            Some((before, path)) if !before.contains('/') && !before.is_empty() => {
                let (user, host) = match before.rsplit_once('@') {
                    Some((user, host)) => (Some(user.to_string()), host),
                    None => (None, before),
                };
                Ok(Self {
                    transport: Transport::Ssh,
                    user,
                    host: host.trim_matches(['[', ']']).to_string(),
                    port: None,
                    path: path.trim_start_matches('/').to_string(),
                })
            }
            _ => Ok(Self::local(url)),
        }
    }

    fn local(path: &str) -> Self {
        Self {
            transport: Transport::Local,
            user: None,
            host: String::new(),
            port: None,
            path: path.trim_start_matches('/').to_string(),
        }
    }

    /// The repository as `host[:port]/path`, lower-cased, without `.git` or a trailing
    /// slash: equal for every spelling of one repository on one host (the port counts
    /// only where it is not the transport's default, since a host serves its
    /// repositories over HTTPS and SSH under the same path).
    pub fn identity(&self) -> String {
        let path = self.path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        match self.transport {
            Transport::Local => format!("/{}", path.trim_start_matches('/')),
            _ => format!("{}/{}", self.host, path.trim_start_matches('/')).to_lowercase(),
        }
    }

    /// The name OpenSSH's `known_hosts` files use for this host: `host`, or
    /// `[host]:port` off the default port.
    pub fn known_hosts_name(&self) -> String {
        match self.port {
            Some(port) if port != 22 => format!("[{}]:{port}", self.host),
            _ => self.host.clone(),
        }
    }
}

fn split_port(host_port: &str) -> Result<(String, Option<u16>), String> {
    // `[::1]:2222`, `host:443`, `host`
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{host_port:?} is not a host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        Some(port) => Some(
            port.parse::<u16>()
                .map_err(|_| format!("{port:?} is not a port number"))?,
        ),
        None => None,
    };
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> RemoteUrl {
        RemoteUrl::parse(url).unwrap()
    }

    #[test]
    fn transports_are_recognised() {
        assert_eq!(
            parse("https://github.com/acme/gitops.git").transport,
            Transport::Https
        );
        assert_eq!(
            parse("git@github.com:acme/gitops.git").transport,
            Transport::Ssh
        );
        assert_eq!(parse("ssh://git@host:2222/srv/repo.git").port, Some(2222));
        assert_eq!(parse("file:///srv/repo.git").transport, Transport::Local);
        assert_eq!(parse("/srv/repo.git").transport, Transport::Local);
        assert_eq!(parse("./repo").transport, Transport::Local);
        assert_eq!(parse("http://example.com/r").transport, Transport::Http);
        assert_eq!(parse("git://example.com/r").transport, Transport::Git);
        assert!(RemoteUrl::parse("ftp://example.com/r").is_err());
    }

    #[test]
    fn every_spelling_of_a_repository_has_one_identity() {
        let identity = "github.com/acme/gitops";
        for url in [
            "https://github.com/acme/gitops.git",
            "https://GitHub.com/acme/gitops/",
            "git@github.com:acme/gitops.git",
            "ssh://git@github.com/acme/gitops",
        ] {
            assert_eq!(parse(url).identity(), identity, "{url}");
        }
        assert_eq!(parse("file:///srv/r.git").identity(), "/srv/r");
    }

    #[test]
    fn tokens_in_urls_are_refused() {
        for url in [
            "https://user:ghp_secret@github.com/acme/gitops.git",
            "https://ghp_secret@github.com/acme/gitops.git",
            "ssh://git:pw@host/repo",
        ] {
            let error = RemoteUrl::parse(url).unwrap_err();
            assert!(error.contains("credentials"), "{error}");
            assert!(
                !error.contains("secret") && !error.contains("pw"),
                "{error}"
            );
        }
    }

    #[test]
    fn known_hosts_names_carry_the_port_off_22() {
        assert_eq!(
            parse("ssh://git@127.0.0.1:2222/r").known_hosts_name(),
            "[127.0.0.1]:2222"
        );
        assert_eq!(parse("git@github.com:a/b").known_hosts_name(), "github.com");
    }
}
