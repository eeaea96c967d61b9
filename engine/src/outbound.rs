//! Outbound HTTP to URLs that resources name (`http` gates, verification and hooks,
//! Argo CD, the Argo Server, GitLab): requests never reach the server's own loopback,
//! link-local (cloud metadata lives there), private, unique-local or unspecified
//! addresses unless an admin allows them (`--allow-outbound CIDR|host`).
//!
//! The check is made on the addresses actually connected to: host names are resolved by
//! [`GuardedResolver`], which hands reqwest only the allowed addresses (a name that
//! resolves to a public address first and a private one later cannot slip through), and
//! addresses written in the URL itself, which reqwest does not resolve, are checked by
//! [`Outbound::check_url`] before each request and on every redirect.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::{EngineError, Result};

/// The most of an `http` check's answer the engine reads.
pub(crate) const CHECK_BODY_CAP: usize = 1024 * 1024;

/// The most of an Argo API answer the engine reads: listing every Application of a large
/// installation for discovery runs to megabytes.
pub(crate) const API_BODY_CAP: usize = 32 * 1024 * 1024;

/// What an admin allows besides public addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    networks: Vec<IpNet>,
    hosts: Vec<String>,
}

impl OutboundPolicy {
    /// Reads `--allow-outbound` values: CIDRs (`10.20.0.0/16`), addresses (`127.0.0.1`)
    /// or host names (`argocd.internal`), whose every address is then allowed.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> std::result::Result<Self, String> {
        let mut policy = Self::default();
        for entry in entries.iter().map(|e| e.as_ref().trim()) {
            if let Ok(network) = entry.parse::<IpNet>() {
                policy.networks.push(network);
            } else if let Ok(address) = entry.parse::<IpAddr>() {
                policy.networks.push(IpNet::from(address));
            } else if !entry.is_empty()
                && entry
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                policy.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "--allow-outbound {entry:?} is neither a CIDR, an address nor a host name"
                ));
            }
        }
        Ok(policy)
    }

    fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    fn allows(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        is_public(address) || self.networks.iter().any(|n| n.contains(&address))
    }
}

/// `::ffff:127.0.0.1` is 127.0.0.1.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `address` is on the internet rather than on this host, its links or a
/// private network.
fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // Shared address space (carrier-grade NAT), and "this network".
                || (a == 100 && (64..128).contains(&b))
                || a == 0)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local (fc00::/7) and link-local (fe80::/10).
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

fn refused(host: &str, address: IpAddr) -> String {
    format!(
        "address not allowed: {host} is {address}, a loopback, link-local or private \
         address; an admin may allow it with `--allow-outbound`"
    )
}

/// Resolves host names and keeps only the addresses the policy allows.
struct GuardedResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if policy.allows_host(&host) {
                return Ok(Box::new(found.into_iter()) as Addrs);
            }
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.allows(a.ip()))
                .collect();
            match (allowed.is_empty(), found.first()) {
                (true, Some(first)) => Err(refused(&host, first.ip()).into()),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// The guarded client every outbound call goes through, and its policy.
#[derive(Clone, Debug)]
pub(crate) struct Outbound {
    policy: Arc<OutboundPolicy>,
    client: reqwest::Client,
}

impl Outbound {
    pub(crate) fn new(policy: OutboundPolicy) -> Result<Self> {
        let policy = Arc::new(policy);
        let for_redirects = policy.clone();
        let client = reqwest::Client::builder()
            .user_agent(concat!("promenade/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    return attempt.error("more than 5 redirects");
                }
                match literal_refusal(&for_redirects, attempt.url()) {
                    Some(why) => attempt.error(why),
                    None => attempt.follow(),
                }
            }))
            .build()
            .map_err(|e| EngineError::Internal(format!("outbound HTTP client: {e}")))?;
        Ok(Self { policy, client })
    }

    /// The client; its requests are checked as they connect.
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Refuses a URL whose host is an address (not a name) the policy does not allow:
    /// those are connected to without being resolved.
    pub(crate) fn check_url(&self, url: &str) -> std::result::Result<(), String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        match literal_refusal(&self.policy, &parsed) {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }
}

impl Outbound {
    /// For clients that resolve names themselves (octocrab): `url`'s host resolved now,
    /// every address allowed. A name that changes its addresses later is not seen
    /// again, which the guarded client's own resolver does see.
    pub(crate) async fn check_resolved(&self, url: &str) -> std::result::Result<(), String> {
        self.check_url(url)?;
        let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        let Some(url::Host::Domain(host)) = parsed.host() else {
            return Ok(());
        };
        if self.policy.allows_host(host) {
            return Ok(());
        }
        let port = parsed.port_or_known_default().unwrap_or(443);
        let found = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("{host}: {e}"))?;
        for address in found {
            if !self.policy.allows(address.ip()) {
                return Err(refused(host, address.ip()));
            }
        }
        Ok(())
    }
}

fn literal_refusal(policy: &OutboundPolicy, url: &reqwest::Url) -> Option<String> {
    let address = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    (!policy.allows(address)).then(|| refused(&address.to_string(), address))
}

/// Reads at most `cap` bytes of `response`; a longer body is an error.
pub(crate) async fn capped_body(
    mut response: reqwest::Response,
    cap: usize,
) -> std::result::Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        if body.len() + chunk.len() > cap {
            return Err(format!("the answer is larger than {} KiB", cap / 1024));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass_unless_allowed() {
        let strict = OutboundPolicy::default();
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
        ] {
            assert!(!strict.allows(refused.parse().unwrap()), "{refused}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1", "::ffff:1.1.1.1"] {
            assert!(strict.allows(public.parse().unwrap()), "{public}");
        }
        let allowing =
            OutboundPolicy::parse(&["127.0.0.0/8", "10.9.8.7", "argocd.internal"]).unwrap();
        assert!(allowing.allows("127.0.0.5".parse().unwrap()));
        assert!(allowing.allows("10.9.8.7".parse().unwrap()));
        assert!(!allowing.allows("10.9.8.8".parse().unwrap()));
        assert!(allowing.allows_host("ArgoCD.internal"));
        assert!(OutboundPolicy::parse(&["http://x"]).is_err());
    }

    #[test]
    fn addresses_in_urls_are_checked_without_resolving() {
        let outbound = Outbound::new(OutboundPolicy::default()).unwrap();
        let refused = outbound
            .check_url("http://169.254.169.254/latest/meta-data/")
            .unwrap_err();
        assert!(
            refused.starts_with("address not allowed: 169.254.169.254"),
            "{refused}"
        );
        assert!(outbound.check_url("http://[::1]:8080/").is_err());
        assert!(outbound.check_url("https://example.com/").is_ok());
    }
}
