//! `workflow` gates, verification and hooks against a loopback Argo Server that goes
//! through the phases the real one does: a step waits for its workflow to succeed, a
//! failed one fails it with the workflow's message and link, terminating the release
//! stops the workflow, and a restart — or a submit whose answer was lost — attaches to
//! the workflow already submitted instead of submitting a second one.

mod common;

use std::time::Duration;

use common::{Options, World};
use promenade_engine::store::ReleaseRecord;
use promenade_model::release::{GateStatus, ReleaseStatus, StepRecord};
use promenade_model::resources::ArgoWorkflowsInstance;
use promenade_testkit::argo_workflows::FakeArgoWorkflows;

const TOKEN: &str = "argo-server-token";

/// A world whose qa runs workflows on `argo`, with `rules` (gates or verify) as its
/// policy.
async fn world_with(rules: &str) -> (World, FakeArgoWorkflows) {
    let world = World::new(Options {
        apps: 1,
        ..Options::default()
    })
    .await;
    let argo = FakeArgoWorkflows::start(TOKEN).await;
    world.token_credentials("argo", TOKEN).await;
    let resources = common::resources(&world.url, &world.apps, "commit", "queue").replace(
        "spec: { kind: non-prod, color: \"#0e7490\" }",
        &format!(
            "spec: {{ kind: non-prod, color: \"#0e7490\", argoWorkflows: {{ server: \"{}\", credentials: argo, namespace: ci }} }}",
            argo.url
        ),
    );
    world.apply(&resources).await;
    world
        .apply(&format!(
            "apiVersion: promenade.dev/v1alpha1\nkind: PromotionPolicy\nmetadata: {{ name: qa-workflows }}\n\
             spec:\n  priority: 300\n  selector: {{ environments: [qa] }}\n{rules}\n"
        ))
        .await;
    (world, argo)
}

fn qa(release: &ReleaseRecord) -> &StepRecord {
    common::step(release, "qa")
}

#[tokio::test]
async fn a_pre_and_a_post_action_workflow_run_around_the_commit() {
    let (world, argo) = world_with(
        "  gates:\n    - workflow: { template: db-migrate, parameters: { target: \"{product}-{env}\" } }\n\
         \x20 verify:\n    - workflow: { template: smoke-tests, timeout: 1m }",
    )
    .await;
    argo.script(
        "db-migrate",
        vec![("Pending", ""), ("Running", ""), ("Succeeded", "")],
    );
    argo.script("smoke-tests", vec![("Running", ""), ("Succeeded", "")]);
    let release = world.promote_to("qa", "13.0.0").await.unwrap();
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");

    let workflows = argo.workflows();
    assert_eq!(workflows.len(), 2, "{workflows:#?}");
    let (pre, post) = (&workflows[0], &workflows[1]);
    assert_eq!(
        (pre.template.as_str(), post.template.as_str()),
        ("db-migrate", "smoke-tests")
    );
    assert_eq!(pre.namespace, "ci");
    for expected in [
        "product=shop".to_string(),
        "environment=qa".to_string(),
        "version=13.0.0".to_string(),
        format!("release={}", release.id),
        "target=shop-qa".to_string(),
    ] {
        assert!(
            pre.parameters.contains(&expected),
            "{expected} in {:?}",
            pre.parameters
        );
    }
    assert_eq!(pre.labels["promenade.dev/release"], release.id);
    assert_eq!(pre.labels["promenade.dev/environment"], "qa");
    assert_eq!(pre.labels["promenade.dev/action"], "gates-0");
    assert_eq!(post.labels["promenade.dev/action"], "verify-0");

    let step = qa(&done);
    let gate = &step.gates()[0];
    assert_eq!(gate.status, GateStatus::Passed);
    assert_eq!(gate.describe(), format!("workflow {} succeeded", pre.name));
    assert_eq!(
        gate.link.as_deref(),
        Some(format!("{}/workflows/ci/{}", argo.url, pre.name).as_str())
    );
    assert_eq!(step.verification()[0].status, GateStatus::Passed);
    // The pre-action ran before the commit: the smoke tests ran after it.
    assert!(step.detail.repositories[0].commit.is_some());
}

#[tokio::test]
async fn a_failed_workflow_fails_the_step_with_its_message_and_link() {
    let (world, argo) = world_with("  verify:\n    - workflow: { template: smoke-tests }").await;
    argo.script(
        "smoke-tests",
        vec![
            ("Running", ""),
            ("Failed", "child 'smoke-tests-1234' failed: exit code 1"),
        ],
    );
    let release = world.promote_to("qa", "13.1.0").await.unwrap();
    let failed = world.wait(&release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    let name = &argo.workflows()[0].name;
    let error = qa(&failed).detail.error.clone().unwrap();
    assert_eq!(
        error,
        format!(
            "workflow {name} ended Failed: child 'smoke-tests-1234' failed: exit code 1 ({}/workflows/ci/{name})",
            argo.url
        )
    );
    assert!(argo.workflows()[0].stopped.is_none());
}

#[tokio::test]
async fn a_workflow_that_runs_too_long_is_stopped_and_fails_the_step() {
    let (world, argo) =
        world_with("  gates:\n    - workflow: { template: slow, timeout: 1s }").await;
    argo.script("slow", vec![("Running", "")]);
    let release = world.promote_to("qa", "13.2.0").await.unwrap();
    let failed = world.wait(&release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    let error = qa(&failed).detail.error.clone().unwrap();
    assert!(
        error.contains("did not finish within 1s: last seen Running; it was stopped"),
        "{error}"
    );
    let stopped = argo.workflows()[0].stopped.clone();
    assert!(
        stopped.is_some_and(|m| m.contains("did not finish within 1s")),
        "{:#?}",
        argo.workflows()
    );
    assert!(
        qa(&failed)
            .detail
            .repositories
            .iter()
            .all(|r| r.commit.is_none()),
        "nothing was committed"
    );
}

#[tokio::test]
async fn terminating_the_release_stops_its_workflow() {
    let (world, argo) = world_with("  gates:\n    - workflow: { template: long-tests }").await;
    argo.script("long-tests", vec![("Running", "")]);
    let release = world.promote_to("qa", "13.3.0").await.unwrap();
    world
        .wait_until(&release.id, |r| {
            qa(r).gates().first().is_some_and(|g| g.requested.is_some())
        })
        .await;
    world
        .engine
        .terminate(&common::promoter("carol"), &release.id)
        .await
        .unwrap();
    let workflows = argo.workflows();
    assert_eq!(workflows.len(), 1);
    let stopped = workflows[0].stopped.clone().unwrap_or_default();
    assert!(stopped.contains("terminated by carol"), "{stopped:?}");
}

#[tokio::test]
async fn a_restart_while_waiting_attaches_to_the_submitted_workflow() {
    let (mut world, argo) =
        world_with("  verify:\n    - workflow: { template: smoke-tests }").await;
    argo.script("smoke-tests", vec![("Running", "")]);
    // The engine dies once the workflow exists and its name is saved with the gate.
    world.die_after_calls(argo.submit_counter(), 1).await;
    let release = world.promote_to("qa", "13.4.0").await.unwrap();
    let waiting = world.wait_verification_requested(&release.id, "qa").await;
    let name = argo.workflows()[0].name.clone();
    assert_eq!(
        qa(&waiting).verification()[0].requested.as_deref(),
        Some(name.as_str())
    );

    world.restart(None).await;
    argo.finish(&name, "Succeeded");
    world.engine.resume().await.unwrap();
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    assert_eq!(
        argo.workflows().len(),
        1,
        "the restart submitted no second workflow"
    );
}

#[tokio::test]
async fn a_lost_submit_answer_is_found_by_the_workflows_labels() {
    let (world, argo) = world_with("  gates:\n    - workflow: { template: db-migrate }").await;
    argo.script("db-migrate", vec![("Running", ""), ("Succeeded", "")]);
    argo.lose_answers(1);
    let release = world.promote_to("qa", "13.5.0").await.unwrap();
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    let workflows = argo.workflows();
    assert_eq!(workflows.len(), 1, "{workflows:#?}");
    assert_eq!(
        qa(&done).gates()[0].requested.as_deref(),
        Some(workflows[0].name.as_str())
    );
}

#[tokio::test]
async fn a_workflow_hook_runs_on_the_servers_argo_workflows() {
    let mut world = World::new(Options {
        apps: 1,
        ..Options::default()
    })
    .await;
    let argo = FakeArgoWorkflows::start(TOKEN).await;
    argo.script("notify", vec![("Running", ""), ("Succeeded", "")]);
    let server = argo.url.clone();
    world
        .restart_with(None, move |config| {
            config.argo_workflows = Some(ArgoWorkflowsInstance {
                server,
                credentials: "argo".into(),
                namespace: None,
            });
        })
        .await;
    world.token_credentials("argo", TOKEN).await;
    world
        .apply(&common::standard_flow(
            "  hooks:\n    onSuccess:\n      - workflow: { template: notify, parameters: { status: succeeded } }\n",
        ))
        .await;
    let release = world.promote_to("qa", "13.6.0").await.unwrap();
    assert_eq!(
        world.wait(&release.id).await.status,
        ReleaseStatus::Succeeded
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while argo.workflows().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the hook did not run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hook = &argo.workflows()[0];
    assert_eq!(hook.namespace, "argo");
    assert_eq!(hook.labels["promenade.dev/action"], "on-success-0");
    assert!(!hook.labels.contains_key("promenade.dev/environment"));
    assert!(hook.parameters.contains(&"status=succeeded".to_string()));
    assert!(hook.parameters.contains(&format!("release={}", release.id)));
}

#[tokio::test]
async fn a_workflow_action_without_an_argo_server_is_refused_when_planned() {
    let world = World::new(Options::default()).await;
    world
        .apply(
            "apiVersion: promenade.dev/v1alpha1\nkind: PromotionPolicy\nmetadata: { name: qa-workflows }\n\
             spec:\n  selector: { environments: [qa] }\n  gates:\n    - workflow: { template: db-migrate }\n",
        )
        .await;
    let refused = world
        .promote_to("qa", "13.7.0")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("has a `workflow` action, but no Argo Workflows runs it"),
        "{refused}"
    );
}
