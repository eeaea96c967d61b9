//! `command` gates, verification and hooks: programs run without a shell, with the
//! release's values and nothing of the server's environment, their output in the step's
//! log, killed at their timeout or when the release is terminated.

mod common;

use std::time::Duration;

use common::{viewer, Options, World};
use promenade_engine::store::ReleaseRecord;
use promenade_model::release::{ReleaseStatus, StepRecord};

/// A world whose qa has `rules` (gates or verify) as its policy.
async fn world_with(rules: &str) -> World {
    let world = World::new(Options {
        apps: 1,
        ..Options::default()
    })
    .await;
    world
        .apply(&format!(
            "apiVersion: promenade.dev/v1alpha1\nkind: PromotionPolicy\nmetadata: {{ name: qa-command }}\n\
             spec:\n  priority: 300\n  selector: {{ environments: [qa] }}\n{rules}\n"
        ))
        .await;
    world
}

fn qa(release: &ReleaseRecord) -> &StepRecord {
    common::step(release, "qa")
}

async fn log(world: &World, id: &str) -> Vec<String> {
    world
        .engine
        .release_logs(&viewer(), id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| format!("{} {}", l.environment, l.message))
        .collect()
}

#[tokio::test]
async fn a_command_gate_gets_the_release_values_and_nothing_of_the_servers_environment() {
    let world = world_with(
        "  gates:\n    - command: { args: [/usr/bin/env], env: { GREETING: \"hello {env} {version}\" } }",
    )
    .await;
    let release = world.promote_to("qa", "12.0.0").await.unwrap();
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    let lines = log(&world, &release.id).await;
    for expected in [
        "qa gate: PROMENADE_PRODUCT=shop",
        "qa gate: PROMENADE_ENVIRONMENT=qa",
        "qa gate: PROMENADE_VERSION=12.0.0",
        &format!("qa gate: PROMENADE_RELEASE={}", release.id),
        "qa gate: GREETING=hello qa 12.0.0",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected} in {lines:#?}"
        );
    }
    let allowed = [
        "PATH",
        "HOME",
        "LANG",
        "PROMENADE_PRODUCT",
        "PROMENADE_ENVIRONMENT",
        "PROMENADE_VERSION",
        "PROMENADE_RELEASE",
        "GREETING",
    ];
    for line in lines.iter().filter_map(|l| l.strip_prefix("qa gate: ")) {
        let name = line.split('=').next().unwrap_or_default();
        assert!(allowed.contains(&name), "the command saw {name}");
    }
}

#[tokio::test]
async fn a_failing_verification_command_fails_the_step_with_its_status() {
    let world = world_with(
        "  verify:\n    - command: { args: [/bin/sh, -c, \"echo checking {version}; exit 3\"] }",
    )
    .await;
    let release = world.promote_to("qa", "12.1.0").await.unwrap();
    let failed = world.wait(&release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    assert_eq!(
        qa(&failed).detail.error.as_deref(),
        Some("command `/bin/sh` exited with status 3")
    );
    assert!(log(&world, &release.id)
        .await
        .contains(&"qa verify: checking 12.1.0".to_string()));
}

#[tokio::test]
async fn a_command_over_its_timeout_is_killed() {
    let world =
        world_with("  gates:\n    - command: { args: [/bin/sleep, \"30\"], timeout: 1s }").await;
    let started = std::time::Instant::now();
    let release = world.promote_to("qa", "12.2.0").await.unwrap();
    let failed = world.wait(&release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    assert_eq!(
        qa(&failed).detail.error.as_deref(),
        Some("command `/bin/sleep` did not finish within 1s; it was killed")
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_missing_program_fails_saying_so() {
    let world = world_with("  gates:\n    - command: { args: [/no/such/tool] }").await;
    let release = world.promote_to("qa", "12.3.0").await.unwrap();
    let failed = world.wait(&release.id).await;
    let error = qa(&failed).detail.error.clone().unwrap_or_default();
    assert!(
        error.starts_with("command `/no/such/tool` could not start:"),
        "{error}"
    );
}

#[tokio::test]
async fn terminating_the_release_kills_its_command() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let world = world_with(&format!(
        "  gates:\n    - command: {{ args: [/bin/sh, -c, \"echo $$ > {}; exec sleep 30\"] }}",
        pid_file.display()
    ))
    .await;
    let release = world.promote_to("qa", "12.4.0").await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        {
            break pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the command never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    world
        .engine
        .terminate(&common::promoter("carol"), &release.id)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        // Gone, or a zombie waiting to be reaped: not running either way.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let running = state
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'));
        if !running {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sleep {pid} still runs: {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_command_hook_runs_when_the_release_ends() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hooked");
    let world = World::new(Options {
        apps: 1,
        ..Options::default()
    })
    .await;
    world
        .apply(&common::standard_flow(&format!(
            "  hooks:\n    onSuccess:\n      - command: {{ args: [/bin/sh, -c, \"echo $PROMENADE_RELEASE > {}\"] }}\n",
            out.display()
        )))
        .await;
    let release = world.promote_to("qa", "12.5.0").await.unwrap();
    assert_eq!(
        world.wait(&release.id).await.status,
        ReleaseStatus::Succeeded
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if std::fs::read_to_string(&out).is_ok_and(|t| t.trim() == release.id) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the hook did not run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
