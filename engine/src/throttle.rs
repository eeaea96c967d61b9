//! Limits on guessing passwords: after a few failed sign-ins an account, and after more
//! a client address, must wait before trying again, twice as long after each further
//! failure (at most 15 minutes); and password hashes are computed a few at a time, so
//! a flood of sign-ins cannot take every core.
//!
//! The counts live in this process: each replica counts its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins an account may have before it waits.
const ACCOUNT_FREE: u32 = 5;
/// Failed sign-ins one client address may have, over all accounts, before it waits.
const ADDRESS_FREE: u32 = 20;
/// The longest wait.
const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);
/// Password hashes computed at the same time.
pub(crate) const HASHING_AT_ONCE: usize = 2;

#[derive(Default)]
struct Failures {
    count: u32,
    until: Option<Instant>,
}

/// Failed sign-ins by account (`user:NAME`) and by client address (`address:IP`).
#[derive(Default)]
pub(crate) struct SignInThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

impl SignInThrottle {
    fn keys(name: &str, address: Option<std::net::IpAddr>) -> Vec<(String, u32)> {
        let mut keys = vec![(format!("user:{name}"), ACCOUNT_FREE)];
        if let Some(address) = address {
            keys.push((format!("address:{address}"), ADDRESS_FREE));
        }
        keys
    }

    /// How long `name` from `address` must still wait, if it must.
    pub(crate) fn wait(&self, name: &str, address: Option<std::net::IpAddr>) -> Option<Duration> {
        let failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        Self::keys(name, address)
            .iter()
            .filter_map(|(key, _)| failures.get(key)?.until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Counts a failed sign-in; when it closed the account or the address, says which
    /// and for how long (`user:ada for 1 s`), for the audit trail.
    pub(crate) fn failed(&self, name: &str, address: Option<std::net::IpAddr>) -> Option<String> {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut closed = Vec::new();
        for (key, free) in Self::keys(name, address) {
            let entry = failures.entry(key.clone()).or_default();
            entry.count += 1;
            if entry.count >= free {
                let doublings = (entry.count - free).min(10);
                let wait = Duration::from_secs(1 << doublings).min(LONGEST_WAIT);
                entry.until = Some(Instant::now() + wait);
                closed.push(format!(
                    "{key} for {} s after {} failures",
                    wait.as_secs(),
                    entry.count
                ));
            }
        }
        (!closed.is_empty()).then(|| closed.join("; "))
    }

    /// A successful sign-in clears the account's failures (not the address's).
    pub(crate) fn succeeded(&self, name: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&format!("user:{name}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_waits_after_five_failures_and_an_address_after_twenty() {
        let throttle = SignInThrottle::default();
        let here: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..4 {
            assert!(throttle.failed("ada", Some(here)).is_none());
        }
        assert_eq!(throttle.wait("ada", Some(here)), None);
        assert_eq!(
            throttle.failed("ada", Some(here)).as_deref(),
            Some("user:ada for 1 s after 5 failures"),
            "the fifth failure locks"
        );
        assert!(throttle.wait("ada", None).is_some());
        assert_eq!(
            throttle.wait("bob", None),
            None,
            "other accounts are not locked"
        );
        for n in 0..15 {
            throttle.failed(&format!("user{n}"), Some(here));
        }
        assert!(
            throttle.wait("carol", Some(here)).is_some(),
            "twenty failures from one address lock it for every account"
        );
        assert_eq!(throttle.wait("carol", None), None);
        throttle.succeeded("ada");
        assert_eq!(throttle.wait("ada", None), None);
    }

    #[test]
    fn each_further_failure_doubles_the_wait_up_to_fifteen_minutes() {
        let throttle = SignInThrottle::default();
        for _ in 0..5 {
            throttle.failed("ada", None);
        }
        let first = throttle.wait("ada", None).unwrap();
        throttle.failed("ada", None);
        let second = throttle.wait("ada", None).unwrap();
        assert!(second > first, "{second:?} > {first:?}");
        for _ in 0..30 {
            throttle.failed("ada", None);
        }
        assert!(throttle.wait("ada", None).unwrap() <= LONGEST_WAIT);
    }
}
