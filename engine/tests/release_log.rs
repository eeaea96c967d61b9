//! Every release and step state change is one info line on the `promenade::release`
//! target, carrying its event's `seq`; one step's lines come in its events' order (the
//! lines of parallel steps may interleave differently from their `seq`, as each is
//! logged by its own task once its write returned). Alone in its file: it installs the
//! process's log subscriber.

mod common;

use common::{viewer, Options, World};
use promenade_model::release::{EventChange, ReleaseStatus};
use promenade_testkit::log::CapturedLog;

#[tokio::test]
async fn each_state_change_of_a_release_is_one_log_line_in_event_order() {
    let world = World::new(Options::default()).await;
    let captured = CapturedLog::install();
    let release = world.promote_version("1.1.0").await;
    let finished = world.wait(&release.id).await;
    assert_eq!(finished.status, ReleaseStatus::Succeeded);

    let events = world
        .engine
        .release_events(&viewer(), &release.id, 0)
        .await
        .unwrap();
    let expected: Vec<(i64, String, String)> = events
        .iter()
        .filter_map(|event| {
            let status = match &event.change {
                EventChange::Release(change) => change.status.as_str(),
                EventChange::Step(change) => change.status.as_str(),
                _ => return None,
            };
            let environment = event.environment.clone().unwrap_or_default();
            Some((event.seq, environment, status.to_string()))
        })
        .collect();
    let mut logged: Vec<(i64, String, String)> = captured
        .lines_on("promenade::release")
        .iter()
        .filter(|line| line["release"] == release.id.as_str())
        .map(|line| {
            (
                line["seq"].as_i64().unwrap(),
                line["environment"].as_str().unwrap_or_default().to_string(),
                line["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for step in &finished.steps {
        let seqs: Vec<i64> = logged
            .iter()
            .filter(|(_, environment, _)| *environment == step.environment)
            .map(|(seq, ..)| *seq)
            .collect();
        assert!(
            seqs.is_sorted(),
            "{}'s lines out of order: {}",
            step.environment,
            captured.text()
        );
    }
    logged.sort();
    assert_eq!(logged, expected, "{}", captured.text());
    // The story reads: created running, every step through to succeeded, succeeded.
    assert_eq!(logged.first().map(|l| l.2.as_str()), Some("running"));
    assert_eq!(logged.last().map(|l| l.2.as_str()), Some("succeeded"));
    for step in &finished.steps {
        assert!(
            logged
                .iter()
                .any(|(_, environment, status)| *environment == step.environment
                    && status == "succeeded"),
            "no line for {} succeeding",
            step.environment
        );
    }
    let message = captured
        .lines_on("promenade::release")
        .into_iter()
        .find(|line| line["environment"] == "qa" && line["status"] == "succeeded")
        .unwrap();
    assert_eq!(message["message"], "step qa succeeded");
    assert_eq!(message["level"], "INFO");
}
