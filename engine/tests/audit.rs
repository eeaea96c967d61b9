//! The audit trail: every sign-in, resource change, release action, token, credentials,
//! user and settings change is recorded with who, what and when; only admins read it.
//! (`audit_log.rs` checks the log lines.)

mod common;

use common::{admin, person, promoter, viewer, Options, World};
use promenade_engine::auth::{Principal, Role};
use promenade_engine::{EngineError, ReleaseStatus, StepStatus};
use promenade_model::audit::{AuditAction, AuditEntry, AuditQuery};
use promenade_model::credentials::{CredentialInput, CredentialKind};
use promenade_model::release::GateStatus;
use promenade_model::resources::ResourceKind;
use promenade_model::stored::AdminSettings;

async fn trail(world: &World, action: AuditAction) -> Vec<AuditEntry> {
    world
        .engine
        .audit_trail(
            &admin(),
            &AuditQuery {
                action: Some(action),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap()
}

fn policy(body: &str) -> String {
    format!(
        "apiVersion: promenade.dev/v1alpha1
kind: PromotionPolicy
metadata: {{ name: qa-rules }}
spec:
  priority: 200
  selector: {{ environments: [qa] }}
{body}"
    )
}

#[tokio::test]
async fn resource_changes_are_recorded_with_their_revision_and_diff() {
    let world = World::new(Options::default()).await;
    let created = trail(&world, AuditAction::ResourceApplied).await;
    let product = created
        .iter()
        .find(|e| e.object == "Product/shop")
        .expect("the product's creation is recorded");
    assert_eq!(product.actor, "user test");
    let detail = product.detail.as_deref().unwrap();
    assert!(
        detail.starts_with("revision 1\ndiff --git a/Product/shop.yaml"),
        "{detail}"
    );
    assert!(detail.contains("+kind: Product"), "{detail}");

    let soak = |duration: &str| {
        policy(&format!(
            "  gates:\n    - soak: {{ duration: {duration} }}\n"
        ))
    };
    world.apply(&soak("1s")).await;
    let before = trail(&world, AuditAction::ResourceApplied).await.len();
    // Nothing is recorded for a dry run, a refused apply or an unchanged resource.
    world
        .engine
        .apply(
            &admin(),
            "p.yaml",
            &soak("2s"),
            &promenade_engine::resources::ApplyOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(world
        .engine
        .apply(&viewer(), "p.yaml", &soak("2s"), &Default::default())
        .await
        .is_err());
    world.apply(&soak("1s")).await;
    assert_eq!(
        trail(&world, AuditAction::ResourceApplied).await.len(),
        before
    );

    world
        .engine
        .apply(
            &person("rita", Role::ReleaseManager),
            "p.yaml",
            &soak("2s"),
            &Default::default(),
        )
        .await
        .unwrap();
    let changed = &trail(&world, AuditAction::ResourceApplied).await[0];
    assert_eq!(
        (changed.actor.as_str(), changed.object.as_str()),
        ("user rita", "PromotionPolicy/qa-rules")
    );
    let detail = changed.detail.as_deref().unwrap();
    assert!(detail.starts_with("revision 2\n"), "{detail}");
    assert!(
        detail.contains("-      duration: 1s\n+      duration: 2s\n"),
        "{detail}"
    );

    world
        .engine
        .delete_resource(&admin(), ResourceKind::PromotionPolicy, "qa-rules")
        .await
        .unwrap();
    let deleted = &trail(&world, AuditAction::ResourceDeleted).await[0];
    assert_eq!(deleted.object, "PromotionPolicy/qa-rules");
    assert!(deleted
        .detail
        .as_deref()
        .unwrap()
        .starts_with("revision 3\n"));
}

#[tokio::test]
async fn promotions_approvals_retries_and_terminations_are_recorded() {
    let world = World::new(Options::default()).await;
    world
        .apply(&policy(
            "  gates:\n    - approval: { roles: [release-manager] }\n",
        ))
        .await;
    let waiting_in_qa = |r: &promenade_engine::store::ReleaseRecord| {
        common::step(r, "qa").gates().first().map(|g| g.status) == Some(GateStatus::Waiting)
    };

    let first = world.promote_to("qa", "2.0.0").await.unwrap();
    world.wait_until(&first.id, waiting_in_qa).await;
    world
        .engine
        .approve(&person("rita", Role::ReleaseManager), &first.id, "qa")
        .await
        .unwrap();
    assert_eq!(world.wait(&first.id).await.status, ReleaseStatus::Succeeded);

    let second = world.promote_to("qa", "2.1.0").await.unwrap();
    world.wait_until(&second.id, waiting_in_qa).await;
    world
        .engine
        .terminate(&promoter("paul"), &second.id)
        .await
        .unwrap();

    let started = trail(&world, AuditAction::ReleaseStarted).await;
    assert_eq!(
        started
            .iter()
            .map(|e| (e.object.as_str(), e.actor.as_str()))
            .collect::<Vec<_>>(),
        [
            (second.id.as_str(), "user alice"),
            (first.id.as_str(), "user alice")
        ]
    );
    assert_eq!(started[0].detail.as_deref(), Some("product shop to qa"));
    let approved = &trail(&world, AuditAction::GateApproved).await[0];
    assert_eq!(
        (approved.actor.as_str(), approved.object.as_str()),
        ("user rita", first.id.as_str())
    );
    assert_eq!(approved.detail.as_deref(), Some("qa, gate 1"));
    let terminated = &trail(&world, AuditAction::ReleaseTerminated).await[0];
    assert_eq!(
        (terminated.actor.as_str(), terminated.object.as_str()),
        ("user paul", second.id.as_str())
    );

    // A refused action is not recorded as done.
    assert!(world
        .engine
        .terminate(&promoter("paul"), &second.id)
        .await
        .is_err());
    assert_eq!(trail(&world, AuditAction::ReleaseTerminated).await.len(), 1);

    // A gate nobody answers fails the release, which is then retried.
    world
        .apply(&policy(
            "  gates:\n    - http: { url: \"http://127.0.0.1:1/ready\", timeout: 1s }\n",
        ))
        .await;
    let failing = world.promote_to("qa", "2.2.0").await.unwrap();
    let failed = world.wait(&failing.id).await;
    assert_eq!(common::step(&failed, "qa").status, StepStatus::Failed);
    world
        .engine
        .retry(&promoter("alice"), &failing.id)
        .await
        .unwrap();
    let retried = &trail(&world, AuditAction::ReleaseRetried).await[0];
    assert_eq!(
        (retried.actor.as_str(), retried.object.as_str()),
        ("user alice", failing.id.as_str())
    );
    world.wait(&failing.id).await;
}

fn credentials(secret: &str) -> CredentialInput {
    CredentialInput {
        kind: CredentialKind::Token,
        username: None,
        secret: secret.into(),
        passphrase: None,
        known_hosts: None,
    }
}

#[tokio::test]
async fn sign_ins_lockouts_tokens_credentials_users_and_settings_are_recorded() {
    let world = World::new(Options::default()).await;
    let engine = &world.engine;
    let operator = Principal::system("operator", Role::Admin);
    let password = "correct horse battery";
    engine
        .create_user(&operator, "ada", password, Role::Viewer)
        .await
        .unwrap();
    let here: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    assert!(engine
        .sign_in("ada", password, Some(here))
        .await
        .unwrap()
        .is_some());

    // Twenty wrong passwords: five are checked and recorded, the fifth locks the account,
    // the other fifteen are turned away without checking.
    let mut turned_away = 0;
    for _ in 0..20 {
        match engine.sign_in("ada", "not the password", Some(here)).await {
            Ok(None) => {}
            Err(EngineError::TooManyAttempts(_)) => turned_away += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(turned_away, 15);
    let failed = trail(&world, AuditAction::SignInFailed).await;
    assert_eq!(failed.len(), 5);
    assert_eq!(failed[0].actor, "ada");
    assert_eq!(failed[0].address.as_deref(), Some("192.0.2.7"));
    let locked = trail(&world, AuditAction::SignInLocked).await;
    assert_eq!(locked.len(), 1);
    assert_eq!(
        locked[0].detail.as_deref(),
        Some("user:ada for 1 s after 5 failures")
    );
    let signed_in = &trail(&world, AuditAction::SignedIn).await[0];
    assert_eq!(
        (signed_in.actor.as_str(), signed_in.address.as_deref()),
        ("user ada", Some("192.0.2.7"))
    );

    engine
        .set_password(&operator, "ada", "staple of a new password")
        .await
        .unwrap();
    let token = engine
        .create_token(&admin(), "ci", Role::Promoter)
        .await
        .unwrap();
    engine.revoke_token(&admin(), "ci").await.unwrap();
    engine
        .create_credential(&admin(), "argocd", &credentials("first-secret-value"))
        .await
        .unwrap();
    engine
        .rotate_credential(&admin(), "argocd", &credentials("second-secret-value"))
        .await
        .unwrap();
    engine.delete_credential(&admin(), "argocd").await.unwrap();
    engine
        .set_settings(
            &admin(),
            &AdminSettings {
                allow_insecure_remotes: true,
            },
        )
        .await
        .unwrap();
    engine.remove_user(&operator, "ada").await.unwrap();

    let everything = engine
        .audit_trail(&admin(), &AuditQuery::default())
        .await
        .unwrap();
    let summary: Vec<(&str, &str, &str)> = everything
        .iter()
        .take(9)
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.object.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("system operator", "user-removed", "ada"),
            ("user test", "settings-changed", "allowInsecureRemotes"),
            ("user test", "credentials-deleted", "argocd"),
            ("user test", "credentials-rotated", "argocd"),
            ("user test", "credentials-created", "argocd"),
            ("user test", "token-revoked", "ci"),
            ("user test", "token-created", "ci"),
            ("system operator", "password-changed", "ada"),
            ("ada", "sign-in-locked", "ada"),
        ]
    );
    let text = serde_json::to_string(&everything).unwrap();
    for secret in [
        token.as_str(),
        "first-secret-value",
        "second-secret-value",
        password,
    ] {
        assert!(!text.contains(secret), "a secret is in the trail: {text}");
    }

    // Filters and pages.
    let by_operator = engine
        .audit_trail(
            &admin(),
            &AuditQuery {
                actor: Some("system operator".into()),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        by_operator.iter().map(|e| e.action).collect::<Vec<_>>(),
        [
            AuditAction::UserRemoved,
            AuditAction::PasswordChanged,
            AuditAction::UserAdded
        ]
    );
    let page = |before| AuditQuery {
        before,
        limit: Some(2),
        ..AuditQuery::default()
    };
    let first = engine.audit_trail(&admin(), &page(None)).await.unwrap();
    let next = engine
        .audit_trail(&admin(), &page(Some(first[1].id)))
        .await
        .unwrap();
    assert_eq!(
        [&first[..], &next[..]].concat(),
        everything[..4].to_vec(),
        "pages follow each other"
    );

    for who in [
        viewer(),
        promoter("alice"),
        person("rita", Role::ReleaseManager),
    ] {
        assert!(matches!(
            engine.audit_trail(&who, &AuditQuery::default()).await,
            Err(EngineError::Forbidden(_))
        ));
    }
}
