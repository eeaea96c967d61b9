//! Freezes: a recurring freeze holds a release at `frozen` and lets it go when it ends,
//! on a clock the test sets; break-glass; ending a freeze early; times refused at their
//! lines.

mod common;

use common::{admin, person, promoter, step, viewer, Options, World};
use std::time::Duration;

use jiff::Timestamp;
use promenade_engine::auth::Role;
use promenade_engine::clock::ManualClock;
use promenade_engine::{EngineError, ReleaseStatus, StepStatus};
use promenade_model::freeze::FreezeState;

/// Every Friday from 18:00 in Paris, for 62 hours: until Monday 08:00.
const WEEKENDS: &str = "apiVersion: promenade.dev/v1alpha1
kind: Freeze
metadata: { name: weekends }
spec:
  reason: Nobody is on call at the weekend
  scope: { environmentKinds: [prod] }
  timezone: Europe/Paris
  schedule: { start: \"2026-11-06T18:00\", rrule: \"FREQ=WEEKLY;BYDAY=FR\", duration: 62h }
";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_recurring_freeze_holds_prod_until_it_ends_and_a_release_manager_may_break_the_glass() {
    let mut world = World::new(Options::default()).await;
    // Friday 4 December 2026, 18:30 in Paris (17:30 UTC): the weekend freeze holds.
    let (hand, clock) = ManualClock::new(at("2026-12-04T17:30:00Z"));
    world
        .restart_with(None, |config| config.clock = clock)
        .await;
    world.apply(WEEKENDS).await;

    let listed = world
        .engine
        .freezes(&viewer(), Duration::from_secs(7 * 86_400))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, FreezeState::Active);
    assert_eq!(listed[0].scope, "every product in every prod environment");
    // Monday 08:00 in Paris is 07:00 UTC.
    assert_eq!(listed[0].until.as_deref(), Some("2026-12-07T07:00:00Z"));

    let held = world.promote_version("14.0.0").await;
    let frozen = world
        .wait_until(&held.id, |r| step(r, "prod").status == StepStatus::Frozen)
        .await;
    let by = step(&frozen, "prod").detail.frozen.clone().unwrap();
    assert_eq!(by.freeze, "weekends");
    assert_eq!(by.until, "2026-12-07T07:00:00Z");
    assert_eq!(by.reason, "Nobody is on call at the weekend");
    assert_eq!(step(&frozen, "staging-eu").status, StepStatus::Succeeded);
    assert_eq!(frozen.status, ReleaseStatus::Running);

    // Sunday night: still frozen, nothing written to prod.
    hand.set(at("2026-12-06T22:00:00Z"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let sunday = world.engine.release(&viewer(), &held.id).await.unwrap();
    assert_eq!(step(&sunday, "prod").status, StepStatus::Frozen);
    assert_eq!(world.commits_of(&held.id, "prod"), 0);

    // Monday 08:00 in Paris: the freeze is over and the release goes on.
    hand.set(at("2026-12-07T07:00:00Z"));
    let done = world.wait(&held.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    assert_eq!(world.commits_of(&held.id, "prod"), 1);
    assert!(step(&done, "prod").detail.break_glass.is_none());

    // The next Friday evening the freeze holds again.
    hand.set(at("2026-12-11T19:00:00Z"));
    let urgent = world.promote_version("14.0.1").await;
    world
        .wait_until(&urgent.id, |r| step(r, "prod").status == StepStatus::Frozen)
        .await;
    let refused = world
        .engine
        .break_glass(&promoter("bob"), &urgent.id, "prod", "hotfix")
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::Forbidden(_)), "{refused}");
    let manager = person("rm", Role::ReleaseManager);
    let unexplained = world
        .engine
        .break_glass(&manager, &urgent.id, "prod", "  ")
        .await
        .unwrap_err();
    assert!(
        matches!(unexplained, EngineError::BadRequest(_)),
        "{unexplained}"
    );
    let not_frozen = world
        .engine
        .break_glass(&manager, &urgent.id, "qa", "hotfix")
        .await
        .unwrap_err();
    assert!(
        matches!(not_frozen, EngineError::Conflict { .. }),
        "{not_frozen}"
    );
    world
        .engine
        .break_glass(&manager, &urgent.id, "prod", "checkout is down: CVE fix")
        .await
        .unwrap();
    let through = world.wait(&urgent.id).await;
    assert_eq!(through.status, ReleaseStatus::Succeeded, "{through:#?}");
    let glass = step(&through, "prod").detail.break_glass.clone().unwrap();
    assert_eq!(glass.by, "rm");
    assert_eq!(glass.reason, "checkout is down: CVE fix");
    let trail = world
        .engine
        .audit_trail(&admin(), &Default::default())
        .await
        .unwrap();
    let broken = trail
        .iter()
        .find(|e| e.action.as_str() == "freeze-broken")
        .expect("break-glass is audited");
    assert_eq!(broken.object, urgent.id);
    assert_eq!(
        broken.detail.as_deref(),
        Some("prod, freeze weekends: checkout is down: CVE fix")
    );

    // A promoter may not end a freeze; a release manager may, and it then holds nothing.
    let refused = world
        .engine
        .end_freeze(&promoter("bob"), "weekends")
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::Forbidden(_)), "{refused}");
    let ended = world.engine.end_freeze(&manager, "weekends").await.unwrap();
    assert_eq!(ended.state, FreezeState::Inactive);
    let twice = world
        .engine
        .end_freeze(&manager, "weekends")
        .await
        .unwrap_err();
    assert!(matches!(twice, EngineError::Conflict { .. }), "{twice}");
    let free = world.promote_version("14.0.2").await;
    let free = world.wait(&free.id).await;
    assert_eq!(free.status, ReleaseStatus::Succeeded);
    assert!(step(&free, "prod").detail.frozen.is_none());
    // The following Friday it would hold again, had it not been ended for good.
    hand.set(at("2026-12-18T19:00:00Z"));
    let later = world
        .engine
        .freezes(&viewer(), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(later[0].state, FreezeState::Inactive);
}

#[tokio::test]
async fn a_one_off_freeze_is_upcoming_then_active_and_holds_only_its_scope() {
    let mut world = World::new(Options::default()).await;
    let (hand, clock) = ManualClock::new(at("2026-12-20T12:00:00Z"));
    world
        .restart_with(None, |config| config.clock = clock)
        .await;
    world
        .apply(
            "apiVersion: promenade.dev/v1alpha1
kind: Freeze
metadata: { name: year-end }
spec:
  reason: Year-end trading
  scope: { products: [shop], environments: [qa] }
  timezone: America/New_York
  period: { start: \"2026-12-21\", end: \"2027-01-04T09:00\" }
",
        )
        .await;
    let soon = world
        .engine
        .freezes(&viewer(), Duration::from_secs(48 * 3600))
        .await
        .unwrap();
    assert_eq!(soon[0].state, FreezeState::Upcoming);
    assert_eq!(soon[0].from.as_deref(), Some("2026-12-21T05:00:00Z"));
    assert_eq!(soon[0].until.as_deref(), Some("2027-01-04T14:00:00Z"));
    assert_eq!(soon[0].scope, "shop in qa");
    let far = world
        .engine
        .freezes(&viewer(), Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(far[0].state, FreezeState::Inactive);

    hand.set(at("2026-12-22T00:00:00Z"));
    let held = world.promote_version("15.0.0").await;
    world
        .wait_until(&held.id, |r| step(r, "qa").status == StepStatus::Frozen)
        .await;
    // Terminating a frozen release stops it there.
    world
        .engine
        .terminate(&promoter("alice"), &held.id)
        .await
        .unwrap();
    let stopped = world.wait(&held.id).await;
    assert_eq!(stopped.status, ReleaseStatus::Terminated);
    assert_eq!(step(&stopped, "qa").status, StepStatus::Terminated);
}

#[tokio::test]
async fn freeze_times_that_do_not_read_are_refused_at_their_line() {
    let world = World::new(Options::default()).await;
    let cases = [
        (
            "  timezone: Mars/Olympus_Mons\n  period: { start: \"2026-12-21\", end: \"2026-12-22\" }\n",
            "spec.timezone",
            "unknown time zone \"Mars/Olympus_Mons\"",
        ),
        (
            "  period: { start: \"2026-12-21\", end: \"2026-12-20\" }\n",
            "spec.period.end",
            "ends (2026-12-20) before it starts",
        ),
        (
            "  period: { start: \"next friday\", end: \"2026-12-20\" }\n",
            "spec.period.start",
            "expected a date-time like",
        ),
        (
            "  schedule: { start: \"2026-12-04T18:00\", rrule: \"FREQ=FORTNIGHTLY\", duration: 1h }\n",
            "spec.schedule.rrule",
            "not an RFC 5545 recurrence rule",
        ),
        (
            "  schedule: { start: \"2026-12-04T18:00\", rrule: \"FREQ=DAILY\\nEXRULE:FREQ=DAILY\", duration: 1h }\n",
            "spec.schedule.rrule",
            "is not part of an RFC 5545 rule",
        ),
        (
            "  schedule: { start: \"2026-12-04T18:00\", rrule: FREQ=DAILY, duration: 1h }\n  period: { start: \"2026-12-21\", end: \"2026-12-22\" }\n",
            "spec.schedule",
            "either a `period` or a `schedule`",
        ),
    ];
    for (times, path, expected) in cases {
        let document = format!(
            "apiVersion: promenade.dev/v1alpha1\nkind: Freeze\nmetadata: {{ name: bad }}\nspec:\n  reason: testing\n{times}"
        );
        let refused = world
            .engine
            .apply(&admin(), "freeze.yaml", &document, &Default::default())
            .await
            .unwrap_err();
        let EngineError::Invalid(diagnostics) = &refused else {
            panic!("{path}: {refused}");
        };
        let found = diagnostics
            .iter()
            .find(|d| d.path.as_deref() == Some(path))
            .unwrap_or_else(|| panic!("{path}: {diagnostics:#?}"));
        assert!(
            found.message.contains(expected),
            "{path}: {}",
            found.message
        );
        assert!(found.line >= 5, "{path}: points at its line: {found:?}");
    }
    let stored = world
        .engine
        .resources(&viewer(), Some(promenade_model::ResourceKind::Freeze))
        .await
        .unwrap();
    assert!(stored.is_empty(), "nothing was applied");
    // Promoters may not apply freezes.
    let refused = world
        .engine
        .apply(
            &promoter("bob"),
            "freeze.yaml",
            WEEKENDS,
            &Default::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::Forbidden(_)), "{refused}");
}
