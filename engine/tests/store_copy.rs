//! `Store::copy_to` (`promenade store copy`): an installation moved to another database
//! keeps its resources, releases and events, users, tokens, credentials and audit trail,
//! and goes on numbering events after the copied ones.

mod common;

use common::{admin, viewer, Options, World};
use promenade_engine::auth::{Principal, Role};
use promenade_engine::release::PromotionRequest;
use promenade_engine::{Engine, EngineConfig, EngineError, ReleaseStatus, Store};
use promenade_model::audit::AuditQuery;
use promenade_model::credentials::{CredentialInput, CredentialKind};

#[tokio::test]
async fn an_installation_moves_to_another_database_with_everything_in_it() {
    let world = World::new(Options::default()).await;
    let release = world.promote_version("2.0.0").await;
    assert_eq!(
        world.wait(&release.id).await.status,
        ReleaseStatus::Succeeded
    );
    let operator = Principal::system("operator", Role::Admin);
    let password = "correct horse battery";
    world
        .engine
        .create_user(&operator, "ada", password, Role::Promoter)
        .await
        .unwrap();
    let token = world
        .engine
        .create_token(&admin(), "ci", Role::Promoter)
        .await
        .unwrap();
    world
        .token_credentials("argocd", "argocd-token-value")
        .await;

    // Into a new SQLite file; in the PostgreSQL run (where the world is on PostgreSQL)
    // from there into a new PostgreSQL database: both directions.
    let target_dir = tempfile::tempdir().unwrap();
    let data = world.dir.path().join("data");
    let source = Store::open(world.database.as_deref(), &data).await.unwrap();
    let sqlite_copy = Store::open(None, target_dir.path()).await.unwrap();
    let mut report = source.copy_to(&sqlite_copy).await.unwrap();
    let target = match promenade_testkit::postgres::test_database_url() {
        Some(url) => {
            let postgres = Store::open(Some(&url), target_dir.path()).await.unwrap();
            report = sqlite_copy.copy_to(&postgres).await.unwrap();
            postgres
        }
        None => sqlite_copy,
    };
    let rows = |table: &str| report.iter().find(|(t, _)| *t == table).unwrap().1;
    assert!(rows("resources") >= 5 && rows("releases") == 1 && rows("release_events") > 10);
    assert_eq!(
        (rows("users"), rows("api_tokens"), rows("credentials")),
        (1, 1, 1)
    );

    // Into a database that is no longer empty, a second copy is refused.
    let again = source.copy_to(&target).await.unwrap_err();
    assert!(
        matches!(&again, EngineError::Conflict { message, .. } if message.contains("not empty")),
        "{again:?}"
    );

    // An engine on the copy (same key file for the credentials) sees the same things.
    let mut config = EngineConfig::new(&data);
    config.allow_local_repositories = true;
    config.outbound = promenade_engine::outbound::OutboundPolicy::parse(&["127.0.0.0/8"]).unwrap();
    let moved = Engine::new(target, config);
    let who = viewer();
    let listed = moved
        .list_releases(&who, &Default::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, release.id);
    let copied_events = moved.release_events(&who, &release.id, 0).await.unwrap();
    let original_events = world
        .engine
        .release_events(&who, &release.id, 0)
        .await
        .unwrap();
    assert_eq!(copied_events, original_events);
    assert_eq!(
        moved.resources(&who, None).await.unwrap(),
        world.engine.resources(&who, None).await.unwrap()
    );
    assert!(moved
        .sign_in("ada", password, None)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        moved.authenticate_token(&token).await.unwrap(),
        Some(Principal::token("ci", Role::Promoter))
    );
    moved
        .rotate_credential(
            &admin(),
            "argocd",
            &CredentialInput {
                kind: CredentialKind::Token,
                username: None,
                secret: "rotated".into(),
                passphrase: None,
                known_hosts: None,
            },
        )
        .await
        .unwrap();
    let trail = moved
        .audit_trail(&admin(), &AuditQuery::default())
        .await
        .unwrap();
    assert_eq!(trail[0].action.as_str(), "credentials-rotated");
    assert!(trail.len() > 5, "the copied trail is there too");
    assert!(
        trail[0].id > trail[1].id,
        "numbering continues after the copy"
    );

    // A new release on the copy numbers its events after the copied ones.
    world.release_in("dev", "3.0.0");
    let next = moved
        .promote(
            &common::promoter("alice"),
            "shop",
            &PromotionRequest {
                to: Some("qa".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let last_copied = original_events.last().unwrap().seq;
    let first_new = moved.release_events(&who, &next.id, 0).await.unwrap()[0].seq;
    assert!(first_new > last_copied, "{first_new} > {last_copied}");
}
