//! Gates: approvals and soak times hold a step before it writes, through restarts.

mod common;

use common::{Options, World};
use promenade_engine::auth::{Principal, Role};
use promenade_engine::release::PromotionRequest;
use promenade_engine::resources::Author;
use promenade_engine::store::ReleaseRecord;
use promenade_engine::{EngineError, ReleaseStatus, StepStatus};
use promenade_model::release::{Gate, GateStatus, StepRecord};
use promenade_model::resources::ResourceKind;

fn step<'a>(release: &'a ReleaseRecord, env: &str) -> &'a StepRecord {
    release.steps.iter().find(|s| s.environment == env).unwrap()
}

fn gates(release: &ReleaseRecord, env: &str) -> Vec<Gate> {
    step(release, env).gates()
}

fn person(name: &str, role: Role) -> Principal {
    Principal {
        name: name.into(),
        role,
    }
}

fn policy(name: &str, selector: &str, body: &str) -> String {
    format!(
        "apiVersion: promenade.dev/v1alpha1
kind: PromotionPolicy
metadata: {{ name: {name} }}
spec:
  priority: 200
  selector: {selector}
{body}"
    )
}

fn prod_commits(world: &World, release: &str) -> usize {
    world
        .promotion_commits()
        .iter()
        .filter(|(env, id)| env == "prod" && id == release)
        .count()
}

#[tokio::test]
async fn an_approval_gate_holds_prod_until_enough_people_with_the_role_approve() {
    let mut world = World::new(Options {
        apps: 2,
        ..Options::default()
    })
    .await;
    world
        .apply(&policy(
            "prod-approval",
            "{ environmentKinds: [prod] }",
            "  gates:\n    - approval: { roles: [release-manager], count: 2 }\n",
        ))
        .await;
    world.release_in("dev", "8.0.0");
    let release = world
        .engine
        .promote("shop", &PromotionRequest::default(), "alice")
        .await
        .unwrap();
    let id = release.id.clone();
    let waiting = world
        .wait_until(&id, |r| {
            gates(r, "prod").first().map(|g| g.status) == Some(GateStatus::Waiting)
        })
        .await;
    assert_eq!(step(&waiting, "prod").status, StepStatus::Gating);
    assert_eq!(step(&waiting, "staging-eu").status, StepStatus::Succeeded);
    assert_eq!(
        prod_commits(&world, &id),
        0,
        "nothing is written before the gate"
    );

    // A promoter may promote but not approve; the refusal records nothing.
    let refused = world
        .engine
        .approve(&id, "prod", &person("paul", Role::Promoter))
        .await;
    assert!(
        matches!(refused, Err(EngineError::Forbidden(_))),
        "{refused:?}"
    );

    let once = world
        .engine
        .approve(&id, "prod", &person("rita", Role::ReleaseManager))
        .await
        .unwrap();
    assert_eq!(gates(&once, "prod")[0].approvals.len(), 1);
    let twice = world
        .engine
        .approve(&id, "prod", &person("rita", Role::ReleaseManager))
        .await;
    assert!(
        matches!(twice, Err(EngineError::Conflict { .. })),
        "{twice:?}"
    );
    let not_gated = world
        .engine
        .approve(&id, "qa", &person("rita", Role::ReleaseManager))
        .await;
    assert!(
        matches!(not_gated, Err(EngineError::Conflict { .. })),
        "{not_gated:?}"
    );

    // A restarted engine waits at the same gate with the approval it already has.
    world.restart(None).await;
    assert_eq!(world.engine.resume().await.unwrap(), 1);
    let resumed = world
        .wait_until(&id, |r| {
            step(r, "prod").attempt >= 2 && gates(r, "prod")[0].status == GateStatus::Waiting
        })
        .await;
    let gate = &gates(&resumed, "prod")[0];
    assert_eq!(gate.approvals.len(), 1, "{gate:?}");
    assert_eq!(gate.approvals_missing(), Some(1));
    assert_eq!(prod_commits(&world, &id), 0);

    // Administrators may approve any gate.
    world
        .engine
        .approve(&id, "prod", &person("ada", Role::Admin))
        .await
        .unwrap();
    let done = world.wait(&id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    let gate = &gates(&done, "prod")[0];
    assert_eq!(gate.status, GateStatus::Passed);
    assert_eq!(gate.describe(), "approved by rita, ada");
    assert_eq!(prod_commits(&world, &id), 1);
}

#[tokio::test]
async fn a_soak_gate_waits_its_time_after_the_upstream_environment_finished() {
    let world = World::new(Options {
        apps: 1,
        ..Options::default()
    })
    .await;
    world
        .apply(&policy(
            "soak-after-qa",
            "{ environments: [staging-eu] }",
            "  gates:\n    - soak: { after: upstream, duration: 2s }\n",
        ))
        .await;
    world.release_in("dev", "8.1.0");
    let release = world
        .engine
        .promote("shop", &PromotionRequest::default(), "alice")
        .await
        .unwrap();
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");

    let time = |text: &str| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    };
    let qa_finished = time(step(&done, "qa").finished_at.as_deref().unwrap());
    let gate = &gates(&done, "staging-eu")[0];
    assert_eq!(gate.status, GateStatus::Passed);
    let until = time(gate.until.as_deref().unwrap());
    assert_eq!(until - qa_finished, time::Duration::seconds(2));
    let applied = time(step(&done, "staging-eu").finished_at.as_deref().unwrap());
    assert!(
        applied >= until,
        "staging-eu wrote at {applied}, before {until}"
    );
    // The other branch did not wait.
    let us = time(step(&done, "staging-us").finished_at.as_deref().unwrap());
    assert!(us < until, "staging-us finished at {us}");
}

#[tokio::test]
async fn a_release_waiting_for_approval_can_be_terminated() {
    let world = World::new(Options {
        apps: 1,
        ..Options::default()
    })
    .await;
    world
        .apply(&policy(
            "qa-approval",
            "{ environments: [qa] }",
            "  gates:\n    - approval: {}\n",
        ))
        .await;
    world.release_in("dev", "8.2.0");
    let release = world
        .engine
        .promote("shop", &PromotionRequest::default(), "alice")
        .await
        .unwrap();
    world
        .wait_until(&release.id, |r| {
            gates(r, "qa").first().map(|g| g.status) == Some(GateStatus::Waiting)
        })
        .await;
    let terminated = world.engine.terminate(&release.id).await.unwrap();
    assert_eq!(terminated.status, ReleaseStatus::Terminated);
    assert_eq!(step(&terminated, "qa").status, StepStatus::Terminated);
    let late = world
        .engine
        .approve(&release.id, "qa", &person("paul", Role::Promoter))
        .await;
    assert!(
        matches!(late, Err(EngineError::Conflict { .. })),
        "{late:?}"
    );
    assert!(world.promotion_commits().is_empty());
}

#[tokio::test]
async fn actions_the_engine_does_not_run_are_refused_when_planning() {
    let world = World::new(Options::default()).await;
    let admin = Author {
        name: "test".into(),
        admin: true,
    };
    for (name, body, kind) in [
        (
            "http-gate",
            "  gates:\n    - http: { url: \"http://127.0.0.1:9/health\" }\n",
            "`http`",
        ),
        (
            "argocd-verify",
            "  verify:\n    - argocd: { timeout: 5m }\n",
            "`argocd`",
        ),
    ] {
        world
            .apply(&policy(name, "{ environments: [qa] }", body))
            .await;
        let refused = world
            .engine
            .promote("shop", &PromotionRequest::default(), "alice")
            .await;
        match refused {
            Err(EngineError::BadRequest(message)) => {
                assert!(message.contains(kind), "{message}");
                assert!(message.contains("\"qa\""), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        world
            .engine
            .store()
            .delete_resource(ResourceKind::PromotionPolicy, name, &admin)
            .await
            .unwrap();
    }
    let listed = world
        .engine
        .store()
        .list_releases(&Default::default())
        .await
        .unwrap();
    assert!(listed.is_empty(), "refused promotions create no release");
}
