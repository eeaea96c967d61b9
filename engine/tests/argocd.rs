//! `argocd` verification and gates against a loopback Argo CD that goes through the
//! states the real one does: the step succeeds only once every Application is synced at
//! the promoted commit and healthy; degraded, failed syncs and timeouts fail it with
//! Argo CD's words; a requested sync is never requested twice, even across a restart.

mod common;

use common::{Options, World};
use promenade_engine::store::ReleaseRecord;
use promenade_model::discovery::ImportRequest;
use promenade_model::release::{GateStatus, ReleaseStatus, StepRecord};
use promenade_model::ResourceKind;
use promenade_testkit::argocd::{AppState, FakeArgoCd, Revision};

const TOKEN: &str = "argocd-api-token";

/// A world whose qa is deployed by `argo`, with `verify` (or `gates`) as qa's policy.
async fn world_with(argo_token: &str, policy_rules: &str) -> (World, FakeArgoCd) {
    let world = World::new(Options {
        apps: 2,
        ..Options::default()
    })
    .await;
    let argo = FakeArgoCd::start(argo_token, &world.remote).await;
    world.token_credentials("argocd", TOKEN).await;
    let mut resources = common::resources(&world.url, &world.apps, "commit", "queue").replace(
        "spec: { kind: non-prod, color: \"#0e7490\" }",
        &format!(
            "spec: {{ kind: non-prod, color: \"#0e7490\", argocd: {{ server: \"{}\", credentials: argocd }} }}",
            argo.url
        ),
    );
    // The demo names each application's Application `{app}-{env}`.
    resources.push_str(&format!(
        "---\napiVersion: promenade.dev/v1alpha1\nkind: PromotionPolicy\nmetadata: {{ name: qa-argocd }}\n\
         spec:\n  priority: 300\n  selector: {{ environments: [qa] }}\n{policy_rules}\n"
    ));
    world.apply(&resources).await;
    (world, argo)
}

fn qa(release: &ReleaseRecord) -> &StepRecord {
    common::step(release, "qa")
}

fn script_all(world: &World, argo: &FakeArgoCd, states: &[AppState]) {
    for app in &world.apps {
        argo.script(&format!("{app}-qa"), states.to_vec());
    }
}

#[tokio::test]
async fn qa_succeeds_only_once_argo_cd_runs_the_promoted_commit_healthy() {
    let (world, argo) = world_with(
        TOKEN,
        "  verify:\n    - argocd: { sync: true, prune: true, timeout: 30s }",
    )
    .await;
    script_all(
        &world,
        &argo,
        &[
            AppState::new("OutOfSync", Revision::Old, "Healthy"),
            AppState::new("Synced", Revision::Old, "Healthy"),
            AppState::new("Synced", Revision::Tip, "Progressing"),
            AppState::new("Synced", Revision::Tip, "Healthy"),
        ],
    );
    let release = world.promote_to("qa", "11.0.0").await.unwrap();
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    let step = qa(&done);
    let commit = step.detail.repositories[0].commit.clone().unwrap();
    let gate = &step.verification()[0];
    assert_eq!(gate.status, GateStatus::Passed);
    assert_eq!(gate.describe(), "Argo CD: synced and Healthy");
    // One sync per Application, to the commit qa received, pruning as asked.
    let mut syncs = argo.syncs();
    syncs.sort_by(|a, b| a.application.cmp(&b.application));
    assert_eq!(syncs.len(), 2);
    for (sync, app) in syncs.iter().zip(&world.apps) {
        assert_eq!(sync.application, format!("{app}-qa"));
        assert_eq!(sync.revision, commit);
        assert!(sync.prune);
    }
    // Each Application was read through its states: synced at an old revision and
    // progressing were not enough.
    assert!(argo.reads() >= 8, "{}", argo.reads());
}

#[tokio::test]
async fn a_degraded_application_fails_the_step_with_argo_cds_words() {
    let (world, argo) = world_with(TOKEN, "  verify:\n    - argocd: { timeout: 30s }").await;
    let mut degraded = AppState::new("Synced", Revision::Tip, "Degraded");
    degraded.health_message = Some("Deployment \"api\" exceeded its progress deadline");
    degraded.resources = vec![
        (
            "Deployment",
            "api",
            "Degraded",
            "exceeded its progress deadline",
        ),
        ("Service", "api", "Healthy", ""),
    ];
    script_all(
        &world,
        &argo,
        &[
            AppState::new("Synced", Revision::Tip, "Progressing"),
            degraded,
        ],
    );
    let release = world.promote_to("qa", "11.1.0").await.unwrap();
    let failed = world.wait(&release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    let error = qa(&failed).detail.error.clone().unwrap();
    assert!(
        error.contains("Degraded: Deployment \"api\" exceeded its progress deadline"),
        "{error}"
    );
    assert!(
        error.contains("not healthy: Deployment/api: Degraded (exceeded its progress deadline)"),
        "{error}"
    );
    assert!(!error.contains("Service/api"), "{error}");
    assert!(argo.syncs().is_empty(), "no sync was asked for");
}

#[tokio::test]
async fn a_failed_sync_fails_the_step() {
    let (world, argo) = world_with(
        TOKEN,
        "  verify:\n    - argocd: { sync: true, timeout: 30s }",
    )
    .await;
    let mut failed_sync = AppState::new("OutOfSync", Revision::Tip, "Healthy");
    failed_sync.operation = Some((
        "Failed",
        "one or more objects failed to apply: admission webhook denied",
    ));
    script_all(&world, &argo, &[failed_sync]);
    let release = world.promote_to("qa", "11.2.0").await.unwrap();
    let failed = world.wait(&release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    let error = qa(&failed).detail.error.clone().unwrap();
    assert!(
        error.contains("could not sync") && error.contains("admission webhook denied"),
        "{error}"
    );
}

#[tokio::test]
async fn a_timeout_names_what_argo_cd_last_reported() {
    let (world, argo) = world_with(TOKEN, "  verify:\n    - argocd: { timeout: 1s }").await;
    script_all(
        &world,
        &argo,
        &[AppState::new("Synced", Revision::Old, "Healthy")],
    );
    let release = world.promote_to("qa", "11.3.0").await.unwrap();
    let failed = world.wait(&release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    let error = qa(&failed).detail.error.clone().unwrap();
    assert!(
        error.starts_with("Argo CD did not report Healthy within 1s: last seen "),
        "{error}"
    );
    assert!(
        error.contains("-qa: Synced at 0123456 (not the promoted commit yet), Healthy"),
        "{error}"
    );
}

#[tokio::test]
async fn a_restart_while_waiting_does_not_ask_for_a_second_sync() {
    let (mut world, argo) = world_with(
        TOKEN,
        "  verify:\n    - argocd: { sync: true, timeout: 60s }",
    )
    .await;
    script_all(
        &world,
        &argo,
        &[AppState::new("OutOfSync", Revision::Old, "Healthy")],
    );
    // The engine dies once both syncs were asked for and the request is saved.
    world.die_after_calls(argo.sync_counter(), 2).await;
    let release = world.promote_to("qa", "11.4.0").await.unwrap();
    let waiting = world.wait_verification_requested(&release.id, "qa").await;
    let requested = qa(&waiting).verification()[0].requested.clone().unwrap();
    assert!(requested.starts_with("sync "), "{requested}");
    assert_eq!(argo.syncs().len(), 2);
    // The dead engine reads no more.
    let reads = argo.reads();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(argo.reads(), reads, "the first engine stopped");

    world.restart(None).await;
    world.engine.resume().await.unwrap();
    script_all(
        &world,
        &argo,
        &[AppState::new("Synced", Revision::Tip, "Healthy")],
    );
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    assert_eq!(
        argo.syncs().len(),
        2,
        "the restart asked for no second sync"
    );
}

#[tokio::test]
async fn an_argocd_gate_waits_until_the_environment_is_healthy_before_the_change() {
    let (world, argo) = world_with(TOKEN, "  gates:\n    - argocd: { timeout: 30s }").await;
    script_all(
        &world,
        &argo,
        &[
            AppState::new("Synced", Revision::Old, "Progressing"),
            AppState::new("Synced", Revision::Old, "Healthy"),
        ],
    );
    let release = world.promote_to("qa", "11.5.0").await.unwrap();
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    assert_eq!(qa(&done).gates()[0].status, GateStatus::Passed);
}

#[tokio::test]
async fn argo_cd_refusing_the_token_fails_the_step_saying_so() {
    let (world, argo) =
        world_with("another-token", "  verify:\n    - argocd: { timeout: 30s }").await;
    script_all(
        &world,
        &argo,
        &[AppState::new("Synced", Revision::Tip, "Healthy")],
    );
    let release = world.promote_to("qa", "11.6.0").await.unwrap();
    let failed = world.wait(&release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    let error = qa(&failed).detail.error.clone().unwrap();
    assert!(error.contains("HTTP 401: invalid session"), "{error}");
    assert!(!error.contains(TOKEN), "{error}");
}

#[tokio::test]
async fn an_argocd_action_without_an_argo_cd_is_refused_when_planned() {
    let world = World::new(Options::default()).await;
    let mut resources = common::resources(&world.url, &world.apps, "commit", "queue");
    resources.push_str(
        "---\napiVersion: promenade.dev/v1alpha1\nkind: PromotionPolicy\nmetadata: { name: qa-argocd }\n\
         spec:\n  selector: { environments: [qa] }\n  verify:\n    - argocd: {}\n",
    );
    world.apply(&resources).await;
    let refused = world
        .promote_to("qa", "11.7.0")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("Environment qa names no Argo CD"),
        "{refused}"
    );
}

#[tokio::test]
async fn an_environment_naming_missing_credentials_is_refused_when_applied() {
    let world = World::new(Options::default()).await;
    let environment = "apiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata: { name: qa }\n\
                       spec:\n  kind: non-prod\n  argocd: { server: \"argocd.example.com\", credentials: nope }\n";
    let problems = world.refusals("qa.yaml", environment).await;
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("qa.yaml:6:") && p.contains("credentials `nope` do not exist")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("is not an http(s) URL of an Argo CD server")),
        "{problems:?}"
    );
    let with_token = environment.replace(
        "argocd.example.com",
        "https://admin:s3cret@argocd.example.com",
    );
    let problems = world.refusals("qa.yaml", &with_token).await;
    assert!(
        problems.iter().any(|p| p.contains(
            "https://***@argocd.example.com carries a user name or token, which every viewer would read"
        ) && !p.contains("s3cret")),
        "{problems:?}"
    );
}

#[tokio::test]
async fn import_proposes_a_product_from_the_labelled_applications() {
    let world = World::new(Options::default()).await;
    let argo = FakeArgoCd::start(TOKEN, &world.remote).await;
    world.token_credentials("argocd", TOKEN).await;
    let product = [("promenade.dev/product", "market")];
    for env in ["dev", "qa", "prod"] {
        argo.register(
            &format!("cart-{env}"),
            &format!("apps/cart/envs/{env}"),
            &product,
            &[],
        );
    }
    // An annotation selects as a label does; a name without an environment is left out.
    argo.register("search-qa", "apps/search/envs/qa", &[], &product);
    argo.register("market-tools", "tools", &product, &[]);
    argo.register(
        "cart-other",
        "apps/cart/envs/qa",
        &[("promenade.dev/product", "other")],
        &[],
    );
    let request = ImportRequest {
        selector: "promenade.dev/product=market".into(),
        server: Some(argo.url.clone()),
        credentials: Some("argocd".into()),
        ..ImportRequest::default()
    };
    let answer = world
        .engine
        .import_argocd(&common::promoter("pat"), &request)
        .await
        .unwrap();
    let spec = &answer.proposal.product.spec;
    assert_eq!(answer.proposal.product.metadata.name, "market");
    assert_eq!(
        spec.repository.url,
        "https://git.example.com/acme/gitops.git"
    );
    let names: Vec<&str> = spec.applications.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["cart", "search"]);
    assert_eq!(spec.applications[0].path, "apps/cart/envs/{env}");
    assert_eq!(
        spec.applications[0].argocd.as_ref().unwrap().application,
        "cart-{env}"
    );
    assert!(
        answer
            .yaml
            .contains("# - Application market-tools was left out"),
        "{}",
        answer.yaml
    );
    // Nothing was applied: the proposal is for people to review.
    assert!(world
        .engine
        .resource(&common::viewer(), ResourceKind::Product, "market")
        .await
        .is_err());
    // The YAML applies as it is, once the repository is one the server may use.
    world
        .apply(
            &answer
                .yaml
                .replace("https://git.example.com/acme/gitops.git", &world.url),
        )
        .await;

    // A viewer may not make the server call Argo CD with stored credentials.
    let refused = world
        .engine
        .import_argocd(&common::viewer(), &request)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("promoter"), "{refused}");
}

#[tokio::test]
async fn the_dashboard_reads_what_argo_cd_runs_at_most_every_two_seconds() {
    let (world, argo) = world_with(TOKEN, "  verify: []").await;
    script_all(
        &world,
        &argo,
        &[
            AppState::new("OutOfSync", Revision::Old, "Progressing"),
            AppState::new("Synced", Revision::Tip, "Healthy"),
        ],
    );
    let viewer = common::viewer();
    let status = world.engine.product_status(&viewer, "shop").await.unwrap();
    assert!(
        status.argocd,
        "qa names an Argo CD and the applications their Applications"
    );
    let first = world.engine.deployed_status(&viewer, "shop").await.unwrap();
    assert!(first.problems.is_empty(), "{:?}", first.problems);
    // Only qa has an Argo CD: one cell per application there.
    assert_eq!(first.cells.len(), world.apps.len());
    let cell = &first.cells[0];
    assert_eq!(
        (cell.application.as_str(), cell.environment.as_str()),
        (world.apps[0].as_str(), "qa")
    );
    assert_eq!(cell.argocd, format!("{}-qa", world.apps[0]));
    assert_eq!(
        (cell.sync.as_str(), cell.health.as_str()),
        ("OutOfSync", "Progressing")
    );
    assert!(cell.differs_from_git());
    let reads = argo.reads();
    // Another dashboard right away is answered from the last reading.
    let again = world.engine.deployed_status(&viewer, "shop").await.unwrap();
    assert_eq!(again, first);
    assert_eq!(argo.reads(), reads);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let later = world.engine.deployed_status(&viewer, "shop").await.unwrap();
    assert_eq!(
        (later.cells[0].sync.as_str(), later.cells[0].health.as_str()),
        ("Synced", "Healthy")
    );
    assert!(!later.cells[0].differs_from_git());
}

#[tokio::test]
async fn an_argo_cd_that_refuses_the_token_is_a_problem_on_the_dashboard() {
    let (world, argo) = world_with("another-token", "  verify: []").await;
    script_all(
        &world,
        &argo,
        &[AppState::new("Synced", Revision::Tip, "Healthy")],
    );
    let status = world
        .engine
        .deployed_status(&common::viewer(), "shop")
        .await
        .unwrap();
    assert!(status.cells.is_empty());
    assert!(
        status
            .problems
            .iter()
            .all(|p| p.contains("HTTP 401") && !p.contains(TOKEN)),
        "{:?}",
        status.problems
    );
    assert!(!status.problems.is_empty());
}
