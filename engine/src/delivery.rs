//! Delivery figures (the four DORA keys) of a product, from its release history
//! (docs/resources.md, "Delivery figures"). What counts:
//!
//! - a **deployment** is a release that changed a production environment (a `prod`
//!   kind environment's step succeeded with a commit or a merged pull request), at the
//!   time its last such step finished;
//! - its **lead time** runs from the commit its source froze (the earliest, when the
//!   applications' commits differ) to that time;
//! - a **failed change** is a release that failed after changing production, or a
//!   deployment whose next deployment went back to a version deployed before it (a
//!   rollback, through any path);
//! - **time to restore** runs from a failed change to the next deployment.
//!
//! The computation is a pure function of the releases, so tests give it a history and
//! compare with figures worked out by hand.

use std::collections::BTreeSet;

use promenade_model::delivery::{DeliveryDay, DeliveryFigures};
use promenade_model::release::{PullRequestState, ReleaseStatus, StepRecord, StepStatus};
use promenade_model::resources::{EnvironmentKind, ResourceKind};
use promenade_model::validate::ResourceSet;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::auth::{allow, Principal, Role};
use crate::store::ReleaseRecord;
use crate::{Engine, EngineError, Result};

/// How far before the window the history is read: a rollback is recognised by a version
/// deployed before the deployment it undoes.
const HISTORY_BEFORE_WINDOW: Duration = Duration::days(90);

impl Engine {
    /// The product's delivery over the last `days` days (1 to 365).
    pub async fn delivery(
        &self,
        who: &Principal,
        product: &str,
        days: u32,
    ) -> Result<DeliveryFigures> {
        allow(who, Role::Viewer, "reading delivery figures")?;
        if !(1..=365).contains(&days) {
            return Err(EngineError::BadRequest(format!(
                "days must be from 1 to 365, not {days}"
            )));
        }
        self.resource(who, ResourceKind::Product, product).await?;
        let set = self.store().resource_set().await?;
        self.delivery_until(&set, product, days, OffsetDateTime::now_utc())
            .await
    }

    /// [`Engine::delivery`] for a window ending at `until`, without the role check;
    /// `set` is the stored resources (which environments are production).
    pub(crate) async fn delivery_until(
        &self,
        set: &ResourceSet,
        product: &str,
        days: u32,
        until: OffsetDateTime,
    ) -> Result<DeliveryFigures> {
        let prod: BTreeSet<String> = set
            .environments()
            .filter(|e| e.spec.kind == EnvironmentKind::Prod)
            .map(|e| e.metadata.name.clone())
            .collect();
        let since = until - Duration::days(i64::from(days)) - HISTORY_BEFORE_WINDOW;
        let releases = self
            .store()
            .finished_releases(product, &rfc3339(since))
            .await?;
        Ok(figures(product, &releases, &prod, until, days))
    }
}

/// One change to production, in time order.
struct Change {
    at: OffsetDateTime,
    /// Deployed (with its version and lead time), or failed after changing production.
    deployed: Option<(Option<String>, Option<Duration>)>,
}

/// The figures of `releases` (any order) for the `days` days before `until`, with `prod`
/// the production environments.
pub(crate) fn figures(
    product: &str,
    releases: &[ReleaseRecord],
    prod: &BTreeSet<String>,
    until: OffsetDateTime,
    days: u32,
) -> DeliveryFigures {
    let mut changes: Vec<Change> = releases
        .iter()
        .filter_map(|release| change(release, prod))
        .collect();
    changes.sort_by_key(|c| c.at);
    let from = until - Duration::days(i64::from(days));
    let inside = |at: OffsetDateTime| at >= from && at < until;

    // Failed changes, each with when it failed and when it was restored (if it was).
    let deployments: Vec<(usize, &Change)> = changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.deployed.is_some())
        .collect();
    let mut failures: Vec<(OffsetDateTime, Option<OffsetDateTime>)> = Vec::new();
    for (index, change) in changes.iter().enumerate() {
        let next_deployment = deployments.iter().find(|(i, _)| *i > index).map(|(_, d)| d);
        match &change.deployed {
            None => failures.push((change.at, next_deployment.map(|d| d.at))),
            Some((version, _)) => {
                let earlier: Vec<&Option<String>> = deployments
                    .iter()
                    .filter(|(i, _)| *i < index)
                    .filter_map(|(_, d)| d.deployed.as_ref().map(|(v, _)| v))
                    .collect();
                let rolled_back = next_deployment.is_some_and(|next| {
                    let back_to = next.deployed.as_ref().and_then(|(v, _)| v.as_ref());
                    back_to.is_some()
                        && back_to != version.as_ref()
                        && earlier.iter().any(|v| v.as_ref() == back_to)
                });
                if rolled_back {
                    failures.push((change.at, next_deployment.map(|d| d.at)));
                }
            }
        }
    }

    let deployed_inside: Vec<&Change> = deployments
        .iter()
        .map(|(_, d)| *d)
        .filter(|d| inside(d.at))
        .collect();
    let failed_inside: Vec<&(OffsetDateTime, Option<OffsetDateTime>)> =
        failures.iter().filter(|(at, _)| inside(*at)).collect();
    let failed_releases_inside = changes
        .iter()
        .filter(|c| c.deployed.is_none() && inside(c.at))
        .count();
    let leads: Vec<f64> = deployed_inside
        .iter()
        .filter_map(|d| d.deployed.as_ref().and_then(|(_, lead)| *lead))
        .map(|lead| lead.as_seconds_f64())
        .collect();
    let restores: Vec<f64> = failed_inside
        .iter()
        .filter_map(|(at, restored)| restored.filter(|r| *r <= until).map(|r| r - *at))
        .map(|d| d.as_seconds_f64())
        .collect();
    let changed = deployed_inside.len() + failed_releases_inside;
    let daily = (0..days)
        .map(|offset| {
            let start = from + Duration::days(i64::from(offset));
            let end = start + Duration::days(1);
            let on = |at: OffsetDateTime| at >= start && at < end;
            DeliveryDay {
                day: start.date().to_string(),
                deployments: count(deployed_inside.iter().filter(|d| on(d.at))),
                failures: count(failed_inside.iter().filter(|(at, _)| on(*at))),
            }
        })
        .collect();
    DeliveryFigures {
        product: product.to_string(),
        days,
        until: rfc3339(until),
        deployments: count(deployed_inside.iter()),
        deployments_per_day: deployed_inside.len() as f64 / f64::from(days.max(1)),
        lead_time_seconds: median(leads),
        change_failure_rate: (changed > 0).then(|| failed_inside.len() as f64 / changed as f64),
        time_to_restore_seconds: median(restores),
        failures: count(failed_inside.iter()),
        daily,
    }
}

/// What `release` did to production, if it changed it.
fn change(release: &ReleaseRecord, prod: &BTreeSet<String>) -> Option<Change> {
    let wrote: Vec<&StepRecord> = release
        .steps
        .iter()
        .filter(|s| prod.contains(&s.environment) && changed_production(s))
        .collect();
    let finished = |steps: &[&StepRecord], status: StepStatus| {
        steps
            .iter()
            .filter(|s| s.status == status)
            .filter_map(|s| s.finished_at.as_deref().and_then(parse))
            .max()
    };
    if release.status == ReleaseStatus::Failed {
        if let Some(at) = finished(&wrote, StepStatus::Failed) {
            return Some(Change { at, deployed: None });
        }
    }
    let at = finished(&wrote, StepStatus::Succeeded)?;
    let source = release.frozen_source();
    let started = source
        .as_ref()
        .and_then(|s| {
            s.applications
                .iter()
                .filter_map(|a| a.committed_at.as_deref().and_then(parse))
                .min()
        })
        .or_else(|| parse(&release.created_at));
    Some(Change {
        at,
        deployed: Some((
            source.and_then(|s| s.version()),
            started.map(|from| at - from),
        )),
    })
}

/// Whether a step wrote to its environment: a commit, or a merged pull request.
fn changed_production(step: &StepRecord) -> bool {
    step.detail.repositories.iter().any(|r| {
        r.commit.is_some()
            || r.pull_request
                .as_ref()
                .is_some_and(|p| p.state == PullRequestState::Merged)
    })
}

fn count<T>(items: impl Iterator<Item = T>) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

fn parse(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use promenade_model::access::PrincipalKind;
    use promenade_model::release::{RepositoryResult, StepDetail};
    use promenade_model::resources::PromotionAction;

    /// 2026-03-01 00:00 UTC plus `hours`.
    fn at(hours: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_772_323_200).unwrap() + Duration::hours(hours)
    }

    /// A release of `version`, its source committed at hour `committed`, whose prod step
    /// ended `prod` at hour `finished` (having written when `wrote`).
    fn release(
        id: &str,
        version: &str,
        committed: i64,
        prod: StepStatus,
        wrote: bool,
        finished: i64,
    ) -> ReleaseRecord {
        let status = match prod {
            StepStatus::Failed => ReleaseStatus::Failed,
            _ => ReleaseStatus::Succeeded,
        };
        let step = |environment: &str, status: StepStatus, wrote: bool| StepRecord {
            environment: environment.into(),
            depends_on: Vec::new(),
            status,
            action: PromotionAction::Commit,
            attempt: 1,
            detail: StepDetail {
                repositories: vec![RepositoryResult {
                    commit: wrote.then(|| "c0ffee".to_string()),
                    ..Default::default()
                }],
                ..Default::default()
            },
            started_at: Some(rfc3339(at(finished - 1))),
            finished_at: Some(rfc3339(at(finished))),
            applications: Vec::new(),
        };
        ReleaseRecord {
            id: id.into(),
            product: "shop".into(),
            flow: "standard".into(),
            status,
            source: serde_json::json!({ "source": {
                "environment": "dev",
                "applications": [{
                    "name": "web", "repository": "r", "branch": "main", "folder": "f",
                    "commit": "abc", "committedAt": rfc3339(at(committed)), "version": version
                }]
            }}),
            version: Some(version.to_string()),
            message: String::new(),
            created_by: "alice".into(),
            created_by_kind: PrincipalKind::User,
            created_at: rfc3339(at(committed + 1)),
            finished_at: Some(rfc3339(at(finished))),
            superseded_by: None,
            steps: vec![
                step("qa", StepStatus::Succeeded, true),
                step("prod", prod, wrote),
            ],
        }
    }

    #[test]
    fn the_four_figures_match_a_history_worked_out_by_hand() {
        use StepStatus::{Failed, Succeeded, Unchanged};
        let history = [
            // Before the window: 1.0 in prod.
            release("r0", "1.0", -30, Succeeded, true, -20),
            // Day 1: 1.1 deployed, lead 4 h.
            release("r1", "1.1", 20, Succeeded, true, 24),
            // Day 2: 1.2 deployed (lead 2 h), then rolled back to 1.1 on day 3 (lead
            // counted from 1.1's commit: 54 h).
            release("r2", "1.2", 46, Succeeded, true, 48),
            release("r3", "1.1", 20, Succeeded, true, 74),
            // Day 4: 1.3 fails verification after its commit; restored by 1.4 six hours
            // later (lead 1 h).
            release("r4", "1.3", 90, Failed, true, 96),
            release("r5", "1.4", 101, Succeeded, true, 102),
            // Not a change to prod: failed before writing, and unchanged.
            release("r6", "1.5", 110, Failed, false, 112),
            release("r7", "1.4", 111, Unchanged, false, 113),
        ];
        let prod = BTreeSet::from(["prod".to_string()]);
        // The window: day 1 (hour 0) to day 7 (hour 168).
        let got = figures("shop", &history, &prod, at(168), 7);
        assert_eq!(got.deployments, 4, "r1, r2, r3, r5");
        assert!((got.deployments_per_day - 4.0 / 7.0).abs() < 1e-9);
        // Lead times 4 h, 2 h, 54 h, 1 h: median (2 + 4) / 2 = 3 h.
        assert_eq!(got.lead_time_seconds, Some(3.0 * 3600.0));
        // Failed changes: r2 (rolled back) and r4; of 5 changes (4 deployments + r4).
        assert_eq!(got.failures, 2);
        assert_eq!(got.change_failure_rate, Some(2.0 / 5.0));
        // Restored: r2 by r3 after 26 h, r4 by r5 after 6 h: median 16 h.
        assert_eq!(got.time_to_restore_seconds, Some(16.0 * 3600.0));
        let per_day: Vec<(u32, u32)> = got
            .daily
            .iter()
            .map(|d| (d.deployments, d.failures))
            .collect();
        assert_eq!(
            per_day,
            [(0, 0), (1, 0), (1, 1), (1, 0), (1, 1), (0, 0), (0, 0)]
        );
        assert_eq!(got.daily[0].day, "2026-03-01");

        // A window with nothing in it has no rates.
        let quiet = figures("shop", &history, &prod, at(400), 7);
        assert_eq!(quiet.deployments, 0);
        assert_eq!(quiet.lead_time_seconds, None);
        assert_eq!(quiet.change_failure_rate, None);
        assert_eq!(quiet.time_to_restore_seconds, None);
    }
}
