//! Who may do what, decided by the engine for every caller alike (docs/configuration.md,
//! "Roles"): separation of duties for the guard-rail resources, approval roles, four
//! eyes, and users and tokens as distinct principals.

mod common;

use common::{admin, person, promoter, viewer, Options, World};
use promenade_engine::auth::{Principal, Role};
use promenade_engine::release::PromotionRequest;
use promenade_engine::store::ReleaseRecord;
use promenade_engine::EngineError;
use promenade_model::release::{GateStatus, StepStatus};
use promenade_model::resources::ResourceKind;

fn qa_approval(gate: &str) -> String {
    promenade_engine::demo::approval_policy("qa", gate)
}

fn to_qa() -> PromotionRequest {
    PromotionRequest {
        to: Some("qa".into()),
        ..Default::default()
    }
}

/// A world whose qa waits at `gate`, and a release started by `starter`, waiting there.
async fn waiting_release(gate: &str, starter: &Principal) -> (World, ReleaseRecord) {
    let world = World::new(Options::default()).await;
    world.apply(&qa_approval(gate)).await;
    world.release_in("dev", "2.0.0");
    let release = world
        .engine
        .promote(starter, "shop", &to_qa())
        .await
        .unwrap();
    let waiting = world
        .wait_until(&release.id, |r| {
            r.steps.iter().any(|s| {
                s.environment == "qa"
                    && s.status == StepStatus::Gating
                    && s.gates().first().map(|g| g.status) == Some(GateStatus::Waiting)
            })
        })
        .await;
    (world, waiting)
}

fn forbidden<T: std::fmt::Debug>(outcome: Result<T, EngineError>) -> String {
    match outcome {
        Err(EngineError::Forbidden(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn promoters_apply_environments_and_products_but_not_the_guard_rails() {
    let world = World::new(Options::default()).await;
    let pat = promoter("pat");
    let environment = "apiVersion: promenade.dev/v1alpha1
kind: Environment
metadata: { name: sandbox }
spec: { kind: non-prod }
";
    world
        .engine
        .apply(&pat, "env.yaml", environment, &Default::default())
        .await
        .unwrap();

    let policy = qa_approval("{ roles: [release-manager] }");
    let message = forbidden(
        world
            .engine
            .apply(&pat, "policy.yaml", &policy, &Default::default())
            .await,
    );
    assert!(message.contains("release-manager"), "{message}");
    assert!(message.contains("PromotionPolicy"), "{message}");
    // Mixed with an allowed kind, nothing at all is applied.
    let mixed = format!("{environment}---\n{policy}").replace("sandbox", "sandbox-2");
    forbidden(
        world
            .engine
            .apply(&pat, "mixed.yaml", &mixed, &Default::default())
            .await,
    );
    assert!(world
        .engine
        .resource(&viewer(), ResourceKind::Environment, "sandbox-2")
        .await
        .is_err());
    // Nor delete one, nor save a flow in the designer.
    forbidden(
        world
            .engine
            .delete_resource(&pat, ResourceKind::PromotionFlow, "standard")
            .await,
    );
    let flow = world
        .engine
        .resource(&viewer(), ResourceKind::PromotionFlow, "standard")
        .await
        .unwrap();
    forbidden(
        world
            .engine
            .save_flow(&pat, &flow.document, Some(("standard", flow.revision)))
            .await,
    );
    assert!(!world.engine.may_change(&pat, ResourceKind::PromotionFlow));

    let rita = person("rita", Role::ReleaseManager);
    world
        .engine
        .apply(&rita, "policy.yaml", &policy, &Default::default())
        .await
        .unwrap();
    assert!(world.engine.may_change(&rita, ResourceKind::PromotionFlow));

    // Viewers read and preview, and do nothing else.
    forbidden(
        world
            .engine
            .apply(&viewer(), "env.yaml", environment, &Default::default())
            .await,
    );
    forbidden(world.engine.promote(&viewer(), "shop", &to_qa()).await);
    world
        .engine
        .preview(&viewer(), "shop", &to_qa())
        .await
        .unwrap();
    forbidden(world.engine.list_users(&rita).await);
    forbidden(world.engine.create_token(&rita, "ci", Role::Admin).await);
    world.engine.list_users(&admin()).await.unwrap();
}

#[tokio::test]
async fn a_gate_without_roles_needs_a_release_manager() {
    let (world, release) = waiting_release("{}", &promoter("pat")).await;
    let message = forbidden(
        world
            .engine
            .approve(&promoter("paula"), &release.id, "qa")
            .await,
    );
    assert!(message.contains("release-manager"), "{message}");
    world
        .engine
        .approve(&person("rita", Role::ReleaseManager), &release.id, "qa")
        .await
        .unwrap();
}

#[tokio::test]
async fn whoever_started_a_release_cannot_approve_it() {
    let pat = promoter("pat");
    let (world, release) = waiting_release("{ roles: [promoter] }", &pat).await;
    let message = forbidden(world.engine.approve(&pat, &release.id, "qa").await);
    assert!(message.contains("four eyes"), "{message}");
    assert!(world.engine.approvable(&pat, &release).is_empty());
    // Another promoter may.
    let paula = promoter("paula");
    assert_eq!(world.engine.approvable(&paula, &release), ["qa"]);
    world
        .engine
        .approve(&paula, &release.id, "qa")
        .await
        .unwrap();
}

#[tokio::test]
async fn administrators_approve_their_own_releases_only_where_the_gate_allows_it() {
    let ada = person("ada", Role::Admin);
    let (world, release) = waiting_release("{}", &ada).await;
    forbidden(world.engine.approve(&ada, &release.id, "qa").await);

    let (world, release) = waiting_release("{ allowSelfApproval: true }", &ada).await;
    world.engine.approve(&ada, &release.id, "qa").await.unwrap();
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, promenade_engine::ReleaseStatus::Succeeded);
}

#[tokio::test]
async fn a_user_and_a_token_of_one_name_are_two_principals() {
    // The user alice started it: the token alice may approve, the user may not.
    let user = person("alice", Role::ReleaseManager);
    let token = Principal::token("alice", Role::ReleaseManager);
    let (world, release) = waiting_release("{ count: 2 }", &user).await;
    forbidden(world.engine.approve(&user, &release.id, "qa").await);
    world
        .engine
        .approve(&token, &release.id, "qa")
        .await
        .unwrap();
    // The token counts once, and is not the user: a second approval is still missing.
    let again = world.engine.approve(&token, &release.id, "qa").await;
    assert!(
        matches!(again, Err(EngineError::Conflict { .. })),
        "{again:?}"
    );
    let record = world
        .engine
        .approve(&person("rita", Role::ReleaseManager), &release.id, "qa")
        .await
        .unwrap();
    let done = world.wait(&record.id).await;
    assert_eq!(done.status, promenade_engine::ReleaseStatus::Succeeded);

    // Started by the token alice: now the user alice may approve, the token may not.
    let (world, release) = waiting_release("{}", &token).await;
    forbidden(world.engine.approve(&token, &release.id, "qa").await);
    world
        .engine
        .approve(&user, &release.id, "qa")
        .await
        .unwrap();
    assert_eq!(
        world.wait(&release.id).await.created_by_kind,
        promenade_model::access::PrincipalKind::Token
    );
}
