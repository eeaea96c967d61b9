//! Keeping secrets out of what people and logs see: URLs with a password or token in
//! them, and header names that announce a secret value.

/// The secret part of `url`'s user-info (`user:token` in `https://user:token@host`,
/// `token` in `https://token@host`), if it has one. An SSH user name alone
/// (`ssh://git@host`) is no secret; nor is an `@` in a path (`/users/@ada`), unless what
/// comes before it looks like `user:password` (`file:///user:pw@/path` is read that way
/// by some tools, so it is hidden too).
pub fn userinfo(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if let Some((info, _)) = authority.rsplit_once('@') {
        return (scheme != "ssh" || info.contains(':')).then_some(info);
    }
    let before_query = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let (info, _) = before_query.rsplit_once('@')?;
    info.contains(':').then_some(info)
}

/// `url` with the secret part of its user-info (see [`userinfo`]) and the values of
/// secret-looking query parameters (`?token=…`) replaced by `***`. Anything that is
/// not a URL comes back unchanged.
pub fn url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let rest = match userinfo(url) {
        Some(secret) => rest.replacen(secret, "***", 1),
        None => rest.to_string(),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((query, fragment)) => (query, Some(fragment)),
                None => (query, None),
            };
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if looks_secret(name) => format!("{name}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
            format!("{path}?{}{fragment}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Whether a header or parameter of this name carries a secret: `Authorization`,
/// `Cookie`, and names containing `token`, `secret`, `password`, `api-key`/`apikey`,
/// `signature` (case ignored).
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('_', "-");
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "key" | "sig"
    ) || [
        "token",
        "secret",
        "password",
        "passwd",
        "api-key",
        "apikey",
        "signature",
    ]
    .iter()
    .any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_user_info_and_secret_parameters() {
        assert_eq!(
            url("https://x-access-token:ghp_abc@github.com/acme/gitops.git"),
            "https://***@github.com/acme/gitops.git"
        );
        assert_eq!(
            url("https://ghp_abc@github.com/a"),
            "https://***@github.com/a"
        );
        assert_eq!(
            url("https://hooks.example/notify?channel=ops&token=abc&api_key=k#top"),
            "https://hooks.example/notify?channel=ops&token=***&api_key=***#top"
        );
        assert_eq!(
            url("https://grafana.example/d/x?from=now-1h"),
            "https://grafana.example/d/x?from=now-1h"
        );
        // An `@` in the path is not user-info.
        assert_eq!(
            url("https://h.example/users/@ada"),
            "https://h.example/users/@ada"
        );
        assert_eq!(
            url("postgres://app:pw@db:5432/x"),
            "postgres://***@db:5432/x"
        );
        assert_eq!(
            url("ssh://git@github.com/acme/x.git"),
            "ssh://git@github.com/acme/x.git"
        );
        assert_eq!(url("ssh://git:pw@host/x.git"), "ssh://***@host/x.git");
        assert_eq!(url("not a url"), "not a url");
        assert_eq!(
            url("file:///nonexistent-user:s3cret@/no/such/repo.git"),
            "file://***@/no/such/repo.git"
        );
    }

    #[test]
    fn secret_looking_names() {
        for name in [
            "Authorization",
            "X-Api-Key",
            "PRIVATE-TOKEN",
            "X-Hub-Signature-256",
            "client_secret",
            "Cookie",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["Content-Type", "Accept", "X-Request-Id", "channel"] {
            assert!(!looks_secret(name), "{name}");
        }
    }
}
