//! Releases promoted through real git repositories on disk.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{commit_to_remote, promoter, values, values_path, viewer, Options, World};
use git2::{Repository, Signature};
use promenade_engine::release::{PromotionRequest, SourceRef};
use promenade_engine::{Checkpoint, EngineError, ReleaseStatus, StepStatus};
use promenade_model::release::{EventChange, GateStatus};

fn whole_flow() -> PromotionRequest {
    PromotionRequest::default()
}

fn step_status(release: &promenade_engine::store::ReleaseRecord, env: &str) -> StepStatus {
    release
        .steps
        .iter()
        .find(|s| s.environment == env)
        .unwrap()
        .status
}

#[tokio::test]
async fn many_applications_reach_every_environment_with_one_commit_each() {
    let world = World::new(Options {
        apps: 40,
        ..Options::default()
    })
    .await;
    world.release_in("dev", "2.0.0");
    let before = world.commit_count();

    let release = world
        .engine
        .promote(&promoter("alice"), "shop", &whole_flow())
        .await
        .unwrap();
    let release = world.wait(&release.id).await;
    assert_eq!(release.status, ReleaseStatus::Succeeded, "{release:#?}");

    let mut per_env = BTreeMap::new();
    for (env, id) in world.promotion_commits() {
        assert_eq!(id, release.id);
        *per_env.entry(env).or_insert(0) += 1;
    }
    let expected: BTreeMap<String, i32> = ["qa", "staging-eu", "staging-us", "prod"]
        .iter()
        .map(|e| (e.to_string(), 1))
        .collect();
    assert_eq!(per_env, expected, "one commit per environment");
    assert_eq!(world.commit_count(), before + 4);

    // Only the tag changed: comments, quoting and the rest stay byte for byte.
    for app in &world.apps {
        for env in ["qa", "staging-eu", "staging-us", "prod"] {
            assert_eq!(
                world.read("main", &values_path(app, env)),
                values(app, env, "2.0.0")
            );
        }
    }
    let qa = release
        .steps
        .iter()
        .find(|s| s.environment == "qa")
        .unwrap();
    assert_eq!(qa.applications.len(), 40);
    assert!(qa
        .applications
        .iter()
        .all(|a| a.version.as_deref() == Some("2.0.0") && a.lines_added == 1));
}

#[tokio::test]
async fn an_environment_already_at_the_content_is_unchanged_and_gets_no_commit() {
    let world = World::new(Options::default()).await;
    world.release_in("dev", "2.0.0");
    world.release_in("staging-us", "2.0.0");
    let first = world
        .engine
        .promote(&promoter("alice"), "shop", &whole_flow())
        .await
        .unwrap();
    let first = world.wait(&first.id).await;
    assert_eq!(step_status(&first, "staging-us"), StepStatus::Unchanged);
    assert_eq!(step_status(&first, "qa"), StepStatus::Succeeded);
    assert_eq!(world.promotion_commits().len(), 3);

    let count = world.commit_count();
    let second = world
        .engine
        .promote(&promoter("alice"), "shop", &whole_flow())
        .await
        .unwrap();
    let second = world.wait(&second.id).await;
    assert_eq!(second.status, ReleaseStatus::Succeeded);
    assert!(
        second
            .steps
            .iter()
            .all(|s| s.status == StepStatus::Unchanged),
        "{second:#?}"
    );
    assert_eq!(
        world.commit_count(),
        count,
        "nothing changed, nothing written"
    );
}

#[tokio::test]
async fn parallel_branches_run_together_and_the_join_waits_for_both() {
    // Pull requests everywhere but qa: both staging steps must be open at once.
    let world = World::new(Options::default()).await;
    let resources = common::resources(&world.url, &world.apps, "pr", "queue").replace(
        "    - { environment: staging-eu, dependsOn: [qa] }\n    - { environment: staging-us, dependsOn: [qa] }",
        "    - { environment: staging-eu, dependsOn: [qa], policy: { action: pr } }\n    - { environment: staging-us, dependsOn: [qa], policy: { action: pr } }",
    );
    world.apply(&resources).await;
    world.release_in("dev", "3.1.0");

    let release = world
        .engine
        .promote(&promoter("alice"), "shop", &whole_flow())
        .await
        .unwrap();
    let both_open = |r: &promenade_engine::store::ReleaseRecord| {
        step_status(r, "staging-eu") == StepStatus::AwaitingMerge
            && step_status(r, "staging-us") == StepStatus::AwaitingMerge
    };
    let release = world.wait_until(&release.id, both_open).await;
    assert!(matches!(
        step_status(&release, "prod"),
        StepStatus::Pending | StepStatus::Waiting
    ));

    merge_pull_request(&world, &format!("promenade/shop/staging-eu/{}", release.id));
    let release = world
        .wait_until(&release.id, |r| {
            step_status(r, "staging-eu") == StepStatus::Succeeded
        })
        .await;
    assert_eq!(
        step_status(&release, "staging-us"),
        StepStatus::AwaitingMerge
    );
    assert!(
        !step_status(&release, "prod").is_working(),
        "the join waits for staging-us"
    );

    merge_pull_request(&world, &format!("promenade/shop/staging-us/{}", release.id));
    let release = world
        .wait_until(&release.id, |r| {
            step_status(r, "prod") == StepStatus::AwaitingMerge
        })
        .await;
    merge_pull_request(&world, &format!("promenade/shop/prod/{}", release.id));
    let release = world.wait(&release.id).await;
    assert_eq!(release.status, ReleaseStatus::Succeeded, "{release:#?}");
    for env in ["staging-eu", "staging-us", "prod"] {
        assert_eq!(
            world.read("main", &values_path(&world.apps[0], env)),
            values(&world.apps[0], env, "3.1.0")
        );
    }

    let events = world
        .engine
        .release_events(&viewer(), &release.id, 0)
        .await
        .unwrap();
    let position = |env: &str, status: &str| {
        events
            .iter()
            .position(|e| {
                e.environment.as_deref() == Some(env)
                    && matches!(&e.change, EventChange::Step(s) if s.status.as_str() == status)
            })
            .unwrap_or_else(|| panic!("no {status} event for {env}"))
    };
    assert!(position("prod", "gating") > position("staging-eu", "succeeded"));
    assert!(position("prod", "gating") > position("staging-us", "succeeded"));
}

/// Merges `branch` into `main` of the remote with a merge commit, as a person would.
fn merge_pull_request(world: &World, branch: &str) {
    let repo = Repository::open_bare(&world.remote).unwrap();
    let theirs = repo
        .find_commit(repo.refname_to_id(&format!("refs/heads/{branch}")).unwrap())
        .unwrap();
    let ours = repo
        .find_commit(repo.refname_to_id("refs/heads/main").unwrap())
        .unwrap();
    let mut index = repo.merge_commits(&ours, &theirs, None).unwrap();
    assert!(!index.has_conflicts());
    let tree = repo.find_tree(index.write_tree_to(&repo).unwrap()).unwrap();
    let who = Signature::now("Reviewer", "reviewer@example.com").unwrap();
    repo.commit(
        Some("refs/heads/main"),
        &who,
        &who,
        &format!("Merge {branch}"),
        &tree,
        &[&ours, &theirs],
    )
    .unwrap();
}

#[tokio::test]
async fn a_crash_at_any_checkpoint_then_a_restart_makes_exactly_one_commit_per_environment() {
    // Learn how many checkpoints an uninterrupted release passes.
    let total = {
        let mut world = World::new(Options::default()).await;
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        world
            .restart(Some(Arc::new(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
                false
            })))
            .await;
        world.release_in("dev", "4.0.0");
        let release = world
            .engine
            .promote(&promoter("alice"), "shop", &whole_flow())
            .await
            .unwrap();
        assert_eq!(
            world.wait(&release.id).await.status,
            ReleaseStatus::Succeeded
        );
        seen.load(Ordering::SeqCst)
    };
    assert!(total >= 12, "only {total} checkpoints");

    for crash_at in 1..=total {
        let mut world = World::new(Options::default()).await;
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        world
            .restart(Some(Arc::new(move |_| {
                counter.fetch_add(1, Ordering::SeqCst) + 1 >= crash_at
            })))
            .await;
        world.release_in("dev", "4.0.0");
        let id = world
            .engine
            .promote(&promoter("alice"), "shop", &whole_flow())
            .await
            .unwrap()
            .id;
        // Wait until the engine has died at its checkpoint.
        while seen.load(Ordering::SeqCst) < crash_at {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;

        world.restart(None).await;
        world.engine.resume().await.unwrap();
        let release = world.wait(&id).await;
        assert_eq!(
            release.status,
            ReleaseStatus::Succeeded,
            "crash at {crash_at}: {release:#?}"
        );
        let mut envs: Vec<String> = world
            .promotion_commits()
            .into_iter()
            .map(|(env, _)| env)
            .collect();
        envs.sort();
        assert_eq!(
            envs,
            ["prod", "qa", "staging-eu", "staging-us"],
            "crash at checkpoint {crash_at}"
        );
    }
}

#[tokio::test]
async fn a_push_racing_another_is_retried_on_the_new_tip_without_rewriting_history() {
    let mut world = World::new(Options::default()).await;
    let remote = world.remote.clone();
    let raced = Arc::new(AtomicUsize::new(0));
    let races = raced.clone();
    world
        .restart(Some(Arc::new(move |point| {
            // Someone pushes between our fetch and our first push.
            if point == Checkpoint::BeforePush && races.fetch_add(1, Ordering::SeqCst) == 0 {
                commit_to_remote(
                    &remote,
                    "main",
                    &[("docs/notes.md".into(), "hi\n".into())],
                    "their change",
                );
            }
            false
        })))
        .await;
    world.release_in("dev", "5.0.0");
    let before: Vec<git2::Oid> = history(&world);

    let release = world
        .engine
        .promote(
            &promoter("alice"),
            "shop",
            &PromotionRequest {
                to: Some("qa".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let release = world.wait(&release.id).await;
    assert_eq!(release.status, ReleaseStatus::Succeeded, "{release:#?}");
    assert!(
        raced.load(Ordering::SeqCst) >= 2,
        "the push was attempted again"
    );

    let after = history(&world);
    assert_eq!(after.len(), before.len() + 2, "their commit and ours");
    assert_eq!(&after[2..], &before[..], "history was only appended to");
    assert_eq!(world.read("main", "docs/notes.md"), "hi\n");
    assert_eq!(
        world.read("main", &values_path(&world.apps[0], "qa")),
        values(&world.apps[0], "qa", "5.0.0")
    );
}

fn history(world: &World) -> Vec<git2::Oid> {
    let repo = Repository::open_bare(&world.remote).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    walk.map(Result::unwrap).collect()
}

#[tokio::test]
async fn terminate_stops_a_release_and_leaves_downstream_steps_pending() {
    let world = World::new(Options {
        prod_action: "pr",
        ..Options::default()
    })
    .await;
    world.release_in("dev", "6.0.0");
    let release = world
        .engine
        .promote(&promoter("alice"), "shop", &whole_flow())
        .await
        .unwrap();
    world
        .wait_until(&release.id, |r| {
            step_status(r, "prod") == StepStatus::AwaitingMerge
        })
        .await;
    let terminated = world
        .engine
        .terminate(&promoter("alice"), &release.id)
        .await
        .unwrap();
    assert_eq!(terminated.status, ReleaseStatus::Terminated);
    assert_eq!(step_status(&terminated, "prod"), StepStatus::Terminated);
    assert_eq!(step_status(&terminated, "qa"), StepStatus::Succeeded);
    // Terminating twice is refused.
    assert!(world
        .engine
        .terminate(&promoter("alice"), &release.id)
        .await
        .is_err());
}

#[tokio::test]
async fn a_failed_step_is_retried_from_where_it_failed() {
    let world = World::new(Options {
        apps: 1,
        ..Options::default()
    })
    .await;
    // staging-us lives in a repository that does not exist yet.
    let elsewhere = world.dir.path().join("us.git");
    let demo = common::resources(&world.url, &world.apps, "commit", "queue");
    let resources = demo.replace(
        "path: \"apps/app-000/envs/{env}\",",
        &format!(
            "path: \"apps/app-000/envs/{{env}}\", environments: {{ staging-us: {{ repository: {{ url: \"file://{}\", branch: main }} }} }},",
            elsewhere.display()
        ),
    );
    assert_ne!(resources, demo, "the override is in place");
    world.apply(&resources).await;
    world.release_in("dev", "7.0.0");

    let release = world
        .engine
        .promote(&promoter("alice"), "shop", &whole_flow())
        .await
        .unwrap();
    let failed = world.wait(&release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    assert_eq!(step_status(&failed, "staging-us"), StepStatus::Failed);
    assert_eq!(step_status(&failed, "staging-eu"), StepStatus::Succeeded);
    assert!(matches!(
        step_status(&failed, "prod"),
        StepStatus::Pending | StepStatus::Waiting
    ));
    let error = failed
        .steps
        .iter()
        .find(|s| s.environment == "staging-us")
        .unwrap()
        .detail
        .error
        .clone()
        .unwrap_or_default();
    assert!(error.contains("git"), "{error}");

    commit_to_remote(
        &elsewhere,
        "main",
        &[(
            values_path("app-000", "staging-us"),
            values("app-000", "staging-us", "1.0.0"),
        )],
        "seed",
    );
    let retried = world
        .engine
        .retry(&promoter("alice"), &release.id)
        .await
        .unwrap();
    assert_eq!(retried.status, ReleaseStatus::Running);
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    let qa = done.steps.iter().find(|s| s.environment == "qa").unwrap();
    assert_eq!(qa.attempt, 1, "succeeded steps are not run again");
}

#[tokio::test]
async fn rollback_promotes_an_earlier_release_source() {
    let world = World::new(Options {
        apps: 2,
        ..Options::default()
    })
    .await;
    world.release_in("dev", "1.1.0");
    let first = world
        .engine
        .promote(
            &promoter("a"),
            "shop",
            &PromotionRequest {
                to: Some("qa".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    world.wait(&first.id).await;
    world.release_in("dev", "1.2.0");
    let second = world
        .engine
        .promote(
            &promoter("a"),
            "shop",
            &PromotionRequest {
                to: Some("qa".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    world.wait(&second.id).await;
    assert_eq!(
        world.read("main", &values_path("app-000", "qa")),
        values("app-000", "qa", "1.2.0")
    );

    let rollback = PromotionRequest {
        to: Some("qa".into()),
        source: Some(SourceRef::Release(first.id.clone())),
        ..Default::default()
    };
    let preview = world
        .engine
        .preview(&viewer(), "shop", &rollback)
        .await
        .unwrap();
    assert_eq!(preview.version.as_deref(), Some("1.1.0"));
    let qa = &preview.environments[0];
    assert!(
        qa.diff.unified().contains(
            "-  tag: \"1.2.0\"  # the version running here\n+  tag: \"1.1.0\"  # the version running here"
        ),
        "{}",
        qa.diff.unified()
    );

    let back = world
        .engine
        .promote(&promoter("a"), "shop", &rollback)
        .await
        .unwrap();
    assert_eq!(world.wait(&back.id).await.status, ReleaseStatus::Succeeded);
    assert_eq!(
        world.read("main", &values_path("app-000", "qa")),
        values("app-000", "qa", "1.1.0")
    );
}

#[tokio::test]
async fn preview_shows_every_environment_and_writes_nothing() {
    let world = World::new(Options {
        apps: 2,
        prod_action: "pr",
        ..Options::default()
    })
    .await;
    world.release_in("dev", "9.9.9");
    let count = world.commit_count();
    let preview = world
        .engine
        .preview(&viewer(), "shop", &whole_flow())
        .await
        .unwrap();
    assert_eq!(world.commit_count(), count);
    assert!(world
        .engine
        .list_releases(&viewer(), &Default::default())
        .await
        .unwrap()
        .is_empty());

    let envs: Vec<_> = preview
        .environments
        .iter()
        .map(|e| e.diff.environment.as_str())
        .collect();
    assert_eq!(envs[0], "qa");
    assert_eq!(envs[3], "prod");
    let prod = &preview.environments[3];
    assert_eq!(prod.action, promenade_model::resources::PromotionAction::Pr);
    assert_eq!(prod.depends_on, ["staging-eu", "staging-us"]);
    assert_eq!(prod.diff.applications.len(), 2);
    assert_eq!(
        (prod.diff.added, prod.diff.removed, prod.diff.files),
        (2, 2, 2)
    );
    let unified = prod.diff.unified();
    assert!(
        unified.contains(
            "diff --git a/apps/app-000/envs/prod/values.yaml b/apps/app-000/envs/prod/values.yaml"
        ),
        "{unified}"
    );

    let to_qa = world
        .engine
        .preview(
            &viewer(),
            "shop",
            &PromotionRequest {
                to: Some("qa".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(to_qa.environments.len(), 1);
    let bad = world
        .engine
        .preview(
            &viewer(),
            "shop",
            &PromotionRequest {
                to: Some("moon".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(bad.unwrap_err().to_string().contains("moon"));
}

#[tokio::test]
async fn status_shows_versions_commits_and_drift_per_application_and_environment() {
    let world = World::new(Options {
        apps: 2,
        ..Options::default()
    })
    .await;
    let dev_commit = world.release_in("dev", "2.5.0");
    let release = world
        .engine
        .promote(
            &promoter("a"),
            "shop",
            &PromotionRequest {
                to: Some("qa".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    world.wait(&release.id).await;

    let status = world
        .engine
        .product_status(&viewer(), "shop")
        .await
        .unwrap();
    let columns: Vec<_> = status
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(columns, ["dev", "qa", "staging-eu", "staging-us", "prod"]);
    assert!(status.environments[4].prod);
    assert_eq!(status.environments[2].upstream.as_deref(), Some("qa"));

    let app = &status.applications[0];
    assert_eq!(app.name, "app-000");
    let cell = |env: &str| &app.cells[env];
    assert_eq!(cell("dev").version.as_deref(), Some("2.5.0"));
    assert_eq!(
        cell("dev").commit.as_deref(),
        Some(dev_commit.to_string().as_str())
    );
    assert_eq!(cell("qa").version.as_deref(), Some("2.5.0"));
    assert!(!cell("qa").drift, "qa has what dev has");
    assert_eq!(cell("staging-eu").version.as_deref(), Some("1.0.0"));
    assert!(cell("staging-eu").drift, "staging-eu is behind qa");
    assert!(!cell("prod").drift, "prod matches its upstream staging-eu");
    let promoted = world.promotion_commits();
    assert_eq!(
        cell("qa").commit.as_deref(),
        Some(promoted_commit(&world, "qa").as_str())
    );
    assert_eq!(promoted.len(), 1);
    assert!(cell("qa").release.is_none());

    // Asked again with nothing changed, the answer is the same; a new commit shows at once.
    assert_eq!(
        world
            .engine
            .product_status(&viewer(), "shop")
            .await
            .unwrap()
            .applications,
        status.applications
    );
    world.release_in("dev", "2.6.0");
    let again = world
        .engine
        .product_status(&viewer(), "shop")
        .await
        .unwrap();
    assert_eq!(
        again.applications[0].cells["dev"].version.as_deref(),
        Some("2.6.0")
    );
    assert!(
        again.applications[0].cells["qa"].drift,
        "qa is now behind dev"
    );

    // Later answers read only the folders that moved: a commit to one application's qa
    // changes its cells and its downstream drift, and leaves every other cell as it was.
    let other = "app-001".to_string();
    let qa_commit = commit_to_remote(
        &world.remote,
        "main",
        &[(values_path(&other, "qa"), values(&other, "qa", "2.6.0"))],
        "qa: app-001 2.6.0",
    );
    let moved = world
        .engine
        .product_status(&viewer(), "shop")
        .await
        .unwrap();
    assert_eq!(moved.applications[0], again.applications[0]);
    let cells = &moved.applications[1].cells;
    assert_eq!(cells["qa"].version.as_deref(), Some("2.6.0"));
    assert_eq!(
        cells["qa"].commit.as_deref(),
        Some(qa_commit.to_string().as_str())
    );
    assert!(!cells["qa"].drift, "qa has what dev has again");
    assert!(cells["staging-eu"].drift, "staging-eu is behind qa");
    assert_eq!(cells["dev"], again.applications[1].cells["dev"]);

    // A change and its revert leave the folder's content as it was, but its last commit
    // is the revert.
    let staging = |tag: &str| {
        commit_to_remote(
            &world.remote,
            "main",
            &[(
                values_path(&other, "staging-us"),
                values(&other, "staging-us", tag),
            )],
            &format!("staging-us: app-001 {tag}"),
        )
    };
    staging("9.9.9");
    let revert = staging("1.0.0");
    let reverted = world
        .engine
        .product_status(&viewer(), "shop")
        .await
        .unwrap();
    let cell = &reverted.applications[1].cells["staging-us"];
    assert_eq!(cell.version.as_deref(), Some("1.0.0"));
    assert_eq!(cell.commit.as_deref(), Some(revert.to_string().as_str()));
    assert_eq!(reverted.applications[0], again.applications[0]);
}

#[tokio::test]
async fn a_release_shows_the_change_each_application_received() {
    let world = World::new(Options {
        apps: 2,
        ..Options::default()
    })
    .await;
    let release = world.promote_to("qa", "2.5.0").await.unwrap();
    world.wait(&release.id).await;
    // A later commit to the same folder does not change what this release wrote.
    world.release_in("qa", "3.0.0");

    let diff = world
        .engine
        .received_change(&viewer(), &release.id, "qa", "app-001")
        .await
        .unwrap();
    assert_eq!(diff.application, "app-001");
    let paths: Vec<_> = diff.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, [values_path("app-001", "qa").as_str()]);
    assert_eq!((diff.added, diff.removed), (1, 1));
    let unified = &diff.files[0].unified;
    assert!(unified.contains("-  tag: \"1.0.0\""), "{unified}");
    assert!(unified.contains("+  tag: \"2.5.0\""), "{unified}");
    assert!(!unified.contains("3.0.0"), "{unified}");

    for (env, app) in [("prod", "app-001"), ("qa", "nope")] {
        let refused = world
            .engine
            .received_change(&viewer(), &release.id, env, app)
            .await
            .unwrap_err();
        assert!(matches!(refused, EngineError::NotFound(_)), "{refused}");
    }
}

#[tokio::test]
async fn two_releases_compare_by_their_frozen_sources() {
    let world = World::new(Options {
        apps: 2,
        ..Options::default()
    })
    .await;
    let mut ids = Vec::new();
    for tag in ["2.5.0", "2.6.0"] {
        let release = world.promote_to("qa", tag).await.unwrap();
        world.wait(&release.id).await;
        ids.push(release.id);
    }
    let compared = world
        .engine
        .compare_releases(&viewer(), &ids[0], &ids[1])
        .await
        .unwrap();
    assert_eq!(
        (
            compared.from_version.as_deref(),
            compared.to_version.as_deref()
        ),
        (Some("2.5.0"), Some("2.6.0"))
    );
    let names: Vec<_> = compared
        .applications
        .iter()
        .map(|a| a.application.as_str())
        .collect();
    assert_eq!(names, ["app-000", "app-001"]);
    assert_eq!(compared.unchanged, 0);
    let unified = &compared.applications[0].files[0].unified;
    assert!(unified.contains("-  tag: \"2.5.0\""), "{unified}");
    assert!(unified.contains("+  tag: \"2.6.0\""), "{unified}");

    let same = world
        .engine
        .compare_releases(&viewer(), &ids[1], &ids[1])
        .await
        .unwrap();
    assert!(same.applications.is_empty());
    assert_eq!(same.unchanged, 2);
    let missing = world
        .engine
        .compare_releases(&viewer(), &ids[0], "no-such-release")
        .await
        .unwrap_err();
    assert!(matches!(missing, EngineError::NotFound(_)), "{missing}");
}

fn promoted_commit(world: &World, env: &str) -> String {
    let repo = Repository::open_bare(&world.remote).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    let found = walk
        .map(Result::unwrap)
        .find(|oid| {
            let commit = repo.find_commit(*oid).unwrap();
            commit
                .message()
                .unwrap()
                .contains(&format!("Promenade-Environment: {env}"))
        })
        .unwrap();
    found.to_string()
}

#[tokio::test]
async fn a_change_in_the_trigger_environment_starts_a_release_unless_the_message_opts_out() {
    let world = World::new(Options {
        apps: 2,
        ..Options::default()
    })
    .await;
    let resources = common::resources(&world.url, &world.apps, "commit", "queue").replace(
        "flows: [ { name: standard } ]",
        "flows: [ { name: standard, trigger: { commitMessage: { notIn: [\"*[skip promote]*\"] } } } ]",
    );
    world.apply(&resources).await;

    assert!(
        world
            .engine
            .poll_triggers(&promoter("webhook"))
            .await
            .unwrap()
            .is_empty(),
        "the first poll is a baseline"
    );
    assert!(
        world
            .engine
            .poll_triggers(&promoter("webhook"))
            .await
            .unwrap()
            .is_empty(),
        "nothing changed"
    );

    let commit = world.release_in("dev", "8.0.0");
    let started = world
        .engine
        .poll_triggers(&promoter("webhook"))
        .await
        .unwrap();
    assert_eq!(started.len(), 1);
    let release = world.wait(&started[0].id).await;
    assert_eq!(release.status, ReleaseStatus::Succeeded, "{release:#?}");
    assert_eq!(release.created_by, "trigger");
    assert_eq!(
        release.source["source"]["applications"][0]["commit"],
        commit.to_string()
    );
    assert_eq!(
        world.read("main", &values_path("app-001", "prod")),
        values("app-001", "prod", "8.0.0")
    );
    assert!(
        world
            .engine
            .poll_triggers(&promoter("webhook"))
            .await
            .unwrap()
            .is_empty(),
        "promotions elsewhere are not triggers"
    );

    let files: Vec<(String, String)> = world
        .apps
        .iter()
        .map(|app| (values_path(app, "dev"), values(app, "dev", "8.0.1")))
        .collect();
    commit_to_remote(
        &world.remote,
        "main",
        &files,
        "Bump to 8.0.1 [skip promote]",
    );
    assert!(
        world
            .engine
            .poll_triggers(&promoter("webhook"))
            .await
            .unwrap()
            .is_empty(),
        "opted out by the message"
    );
}

#[tokio::test]
async fn releases_of_a_product_queue_for_an_environment() {
    let world = World::new(Options {
        apps: 1,
        prod_action: "pr",
        ..Options::default()
    })
    .await;
    world.release_in("dev", "10.0.0");
    let first = world
        .engine
        .promote(&promoter("a"), "shop", &whole_flow())
        .await
        .unwrap();
    world
        .wait_until(&first.id, |r| {
            step_status(r, "prod") == StepStatus::AwaitingMerge
        })
        .await;

    // The second release reaches prod while the first still holds it.
    world.release_in("dev", "10.0.1");
    let second = world
        .engine
        .promote(&promoter("a"), "shop", &whole_flow())
        .await
        .unwrap();
    let second = world
        .wait_until(&second.id, |r| {
            step_status(r, "staging-us").is_final() && step_status(r, "staging-eu").is_final()
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let waiting = world.engine.release(&viewer(), &second.id).await.unwrap();
    assert!(
        matches!(
            step_status(&waiting, "prod"),
            StepStatus::Pending | StepStatus::Waiting
        ),
        "queued behind the first release: {:?}",
        step_status(&waiting, "prod")
    );

    merge_pull_request(&world, &format!("promenade/shop/prod/{}", first.id));
    assert_eq!(world.wait(&first.id).await.status, ReleaseStatus::Succeeded);
    world
        .wait_until(&second.id, |r| {
            step_status(r, "prod") == StepStatus::AwaitingMerge
        })
        .await;
    merge_pull_request(&world, &format!("promenade/shop/prod/{}", second.id));
    assert_eq!(
        world.wait(&second.id).await.status,
        ReleaseStatus::Succeeded
    );
    assert_eq!(
        world.read("main", &values_path("app-000", "prod")),
        values("app-000", "prod", "10.0.1")
    );
}

#[tokio::test]
async fn with_terminate_concurrency_a_newer_release_terminates_the_running_one() {
    let world = World::new(Options {
        apps: 1,
        prod_action: "pr",
        concurrency: "terminate",
    })
    .await;
    world.release_in("dev", "11.0.0");
    let first = world
        .engine
        .promote(&promoter("a"), "shop", &whole_flow())
        .await
        .unwrap();
    world
        .wait_until(&first.id, |r| {
            step_status(r, "prod") == StepStatus::AwaitingMerge
        })
        .await;
    world.release_in("dev", "11.0.1");
    let second = world
        .engine
        .promote(&promoter("a"), "shop", &whole_flow())
        .await
        .unwrap();
    let first = world.engine.release(&viewer(), &first.id).await.unwrap();
    assert_eq!(first.status, ReleaseStatus::Terminated);
    assert_eq!(step_status(&first, "prod"), StepStatus::Terminated);
    let second = world
        .wait_until(&second.id, |r| {
            step_status(r, "prod") == StepStatus::AwaitingMerge
        })
        .await;
    assert_eq!(second.status, ReleaseStatus::Running);
}

#[tokio::test]
async fn with_supersede_concurrency_only_the_newest_waiting_release_goes_on() {
    let world = World::new(Options {
        apps: 1,
        prod_action: "pr",
        concurrency: "supersede",
    })
    .await;
    let start = |tag: &'static str| {
        let world = &world;
        async move {
            world.release_in("dev", tag);
            world
                .engine
                .promote(&promoter("a"), "shop", &whole_flow())
                .await
                .unwrap()
        }
    };
    let first = start("12.0.0").await;
    world
        .wait_until(&first.id, |r| {
            step_status(r, "prod") == StepStatus::AwaitingMerge
        })
        .await;
    // The second release gets to prod and waits there for the first, which holds it;
    // nothing newer is in line, so it keeps waiting.
    let second = start("12.0.1").await;
    world
        .wait_until(&second.id, |r| {
            step_status(r, "staging-us").is_final() && step_status(r, "staging-eu").is_final()
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let waiting = world.engine.release(&viewer(), &second.id).await.unwrap();
    assert_eq!(waiting.status, ReleaseStatus::Running);

    // A third one replaces the second; the first, at work in prod, is left alone.
    let third = start("12.0.2").await;
    let second = world.wait(&second.id).await;
    assert_eq!(second.status, ReleaseStatus::Superseded);
    assert_eq!(second.superseded_by.as_deref(), Some(third.id.as_str()));
    assert_eq!(step_status(&second, "prod"), StepStatus::Superseded);
    assert_eq!(step_status(&second, "qa"), StepStatus::Succeeded);
    let first_now = world.engine.release(&viewer(), &first.id).await.unwrap();
    assert_eq!(first_now.status, ReleaseStatus::Running);
    assert_eq!(step_status(&first_now, "prod"), StepStatus::AwaitingMerge);

    // Merged once the third release waits at prod too: nothing else writes to main.
    world
        .wait_until(&third.id, |r| {
            step_status(r, "staging-us").is_final() && step_status(r, "staging-eu").is_final()
        })
        .await;
    merge_pull_request(&world, &format!("promenade/shop/prod/{}", first.id));
    assert_eq!(world.wait(&first.id).await.status, ReleaseStatus::Succeeded);
    world
        .wait_until(&third.id, |r| {
            step_status(r, "prod") == StepStatus::AwaitingMerge
        })
        .await;
    merge_pull_request(&world, &format!("promenade/shop/prod/{}", third.id));
    assert_eq!(world.wait(&third.id).await.status, ReleaseStatus::Succeeded);
    assert_eq!(
        world.read("main", &values_path("app-000", "prod")),
        values("app-000", "prod", "12.0.2")
    );
    // The superseded release never wrote to prod.
    assert!(!world
        .promotion_commits()
        .contains(&("prod".to_string(), second.id.clone())));
}

#[tokio::test]
async fn the_poller_starts_a_release_within_one_interval_of_a_commit() {
    let world = World::new(Options {
        apps: 2,
        ..Options::default()
    })
    .await;
    let interval = std::time::Duration::from_millis(500);
    world.engine.start_polling(Some(interval));
    // The first round records the baseline.
    tokio::time::sleep(interval * 2).await;
    let listed = || async {
        world
            .engine
            .list_releases(
                &viewer(),
                &promenade_engine::store::ReleaseFilter {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    };
    assert!(listed().await.is_empty(), "the baseline starts nothing");

    let committed = std::time::Instant::now();
    world.release_in("dev", "9.0.0");
    let started = loop {
        let releases = listed().await;
        if let Some(release) = releases.into_iter().next() {
            break release;
        }
        // One interval, plus the round's own work on a busy machine.
        assert!(
            committed.elapsed() < interval * 3,
            "no release {:?} after the commit",
            committed.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(started.created_by, "trigger");
    let release = world.wait(&started.id).await;
    assert_eq!(release.status, ReleaseStatus::Succeeded, "{release:#?}");
    tokio::time::sleep(interval * 2).await;
    assert_eq!(
        listed().await.len(),
        1,
        "its own promotions trigger nothing"
    );
}

#[tokio::test]
async fn a_blocked_version_is_not_promoted_and_a_running_release_carrying_it_stops_before_writing()
{
    use common::person;
    use promenade_engine::auth::Role;

    let world = World::new(Options::default()).await;
    world.require_qa_approval().await;
    let manager = person("rm", Role::ReleaseManager);

    // A release carrying 13.0.0 waits at qa's approval gate.
    let running = world.promote_version("13.0.0").await;
    world
        .wait_until(&running.id, |r| {
            common::step(r, "qa").gates().first().map(|g| g.status) == Some(GateStatus::Waiting)
        })
        .await;

    let refused = world
        .engine
        .block_version(&viewer(), "shop", "13.0.0", "breaks checkout")
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::Forbidden(_)), "{refused}");
    let missing = world
        .engine
        .block_version(&promoter("bob"), "shop", "13.0.0", " ")
        .await
        .unwrap_err();
    assert!(matches!(missing, EngineError::BadRequest(_)), "{missing}");
    let blocked = world
        .engine
        .block_version(&promoter("bob"), "shop", "13.0.0", "breaks checkout")
        .await
        .unwrap();
    assert_eq!(blocked.blocked_by, "bob");

    // Nobody may start a release carrying it…
    let again = world
        .engine
        .promote(&promoter("alice"), "shop", &whole_flow())
        .await
        .unwrap_err();
    let message = again.to_string();
    assert!(matches!(again, EngineError::Conflict { .. }), "{message}");
    assert!(
        message.contains("version 13.0.0 of shop is blocked by bob (breaks checkout)"),
        "{message}"
    );
    // …and the waiting one stops once its gate opens, before it writes.
    let commits = world.commit_count();
    world
        .engine
        .approve(&manager, &running.id, "qa")
        .await
        .unwrap();
    let stopped = world.wait(&running.id).await;
    assert_eq!(stopped.status, ReleaseStatus::Failed);
    assert_eq!(step_status(&stopped, "qa"), StepStatus::Failed);
    let qa = stopped
        .steps
        .iter()
        .find(|s| s.environment == "qa")
        .unwrap();
    assert!(
        qa.detail
            .error
            .as_deref()
            .is_some_and(|e| e.contains("blocked by bob")),
        "{:?}",
        qa.detail.error
    );
    assert_eq!(world.commit_count(), commits, "nothing was committed");
    let status = world
        .engine
        .product_status(&viewer(), "shop")
        .await
        .unwrap();
    assert_eq!(status.blocked.len(), 1);
    assert!(status.block_on("13.0.0").is_some());

    // Unblocking is a release manager's decision; then the release may go on.
    let refused = world
        .engine
        .unblock_version(&promoter("bob"), "shop", "13.0.0")
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::Forbidden(_)), "{refused}");
    world
        .engine
        .unblock_version(&manager, "shop", "13.0.0")
        .await
        .unwrap();
    let twice = world
        .engine
        .unblock_version(&manager, "shop", "13.0.0")
        .await
        .unwrap_err();
    assert!(matches!(twice, EngineError::NotFound(_)), "{twice}");
    // The approval is kept: the retried step goes straight on.
    world
        .engine
        .retry(&promoter("alice"), &running.id)
        .await
        .unwrap();
    assert_eq!(
        world.wait(&running.id).await.status,
        ReleaseStatus::Succeeded
    );

    let trail = world
        .engine
        .audit_trail(&common::admin(), &Default::default())
        .await
        .unwrap();
    let actions: Vec<String> = trail.iter().map(|e| e.action.to_string()).collect();
    assert!(
        actions.contains(&"version-blocked".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"version-unblocked".to_string()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_paused_product_or_environment_holds_releases_until_resumed() {
    use common::person;
    use promenade_engine::auth::Role;

    let world = World::new(Options::default()).await;
    let manager = person("rm", Role::ReleaseManager);
    let refused = world
        .engine
        .pause_releases(&promoter("bob"), "shop", None, "quarter close")
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::Forbidden(_)), "{refused}");
    world
        .engine
        .pause_releases(&manager, "shop", None, "quarter close")
        .await
        .unwrap();

    // A new release is created and holds before its first step.
    let release = world.promote_version("14.0.0").await;
    let commits = world.commit_count();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let held = world.engine.release(&viewer(), &release.id).await.unwrap();
    assert_eq!(held.status, ReleaseStatus::Running);
    assert!(
        matches!(
            step_status(&held, "qa"),
            StepStatus::Pending | StepStatus::Waiting
        ),
        "{:?}",
        step_status(&held, "qa")
    );
    assert_eq!(world.commit_count(), commits);
    let logs = world
        .engine
        .release_logs(&viewer(), &release.id)
        .await
        .unwrap();
    assert!(
        logs.iter()
            .any(|l| l.message == "held: shop is paused in every environment by rm: quarter close"),
        "{logs:?}"
    );

    // Only prod paused: the release goes as far as prod and holds there.
    world
        .engine
        .pause_releases(&manager, "shop", Some("prod"), "change window")
        .await
        .unwrap();
    world
        .engine
        .resume_releases(&manager, "shop", None)
        .await
        .unwrap();
    world
        .wait_until(&release.id, |r| {
            step_status(r, "staging-us").is_final() && step_status(r, "staging-eu").is_final()
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let held = world.engine.release(&viewer(), &release.id).await.unwrap();
    assert_eq!(held.status, ReleaseStatus::Running);
    assert!(!step_status(&held, "prod").is_final());
    let status = world
        .engine
        .product_status(&viewer(), "shop")
        .await
        .unwrap();
    assert_eq!(status.pauses.len(), 1);
    assert_eq!(status.pauses[0].environment.as_deref(), Some("prod"));

    world
        .engine
        .resume_releases(&manager, "shop", Some("prod"))
        .await
        .unwrap();
    assert_eq!(
        world.wait(&release.id).await.status,
        ReleaseStatus::Succeeded
    );
    let twice = world
        .engine
        .resume_releases(&manager, "shop", Some("prod"))
        .await
        .unwrap_err();
    assert!(matches!(twice, EngineError::NotFound(_)), "{twice}");
    let unknown = world
        .engine
        .pause_releases(&manager, "shop", Some("nowhere"), "typo")
        .await
        .unwrap_err();
    assert!(matches!(unknown, EngineError::NotFound(_)), "{unknown}");

    let trail = world
        .engine
        .audit_trail(&common::admin(), &Default::default())
        .await
        .unwrap();
    let paused = trail
        .iter()
        .filter(|e| e.action.as_str() == "releases-paused")
        .count();
    assert_eq!(paused, 2);
    assert!(trail
        .iter()
        .any(|e| e.action.as_str() == "releases-resumed"));
}

#[tokio::test]
async fn a_release_reaching_prod_counts_in_the_delivery_figures() {
    let world = World::new(Options::default()).await;
    let before = world.engine.delivery(&viewer(), "shop", 7).await.unwrap();
    assert_eq!(before.deployments, 0);
    assert_eq!(before.change_failure_rate, None);
    let release = world.promote_version("15.0.0").await;
    assert_eq!(
        world.wait(&release.id).await.status,
        ReleaseStatus::Succeeded
    );
    let after = world.engine.delivery(&viewer(), "shop", 7).await.unwrap();
    assert_eq!(after.deployments, 1);
    assert_eq!(after.daily.len(), 7);
    assert_eq!(after.daily[6].deployments, 1, "today");
    assert_eq!(after.change_failure_rate, Some(0.0));
    let lead = after.lead_time_seconds.unwrap();
    assert!((0.0..60.0).contains(&lead), "{lead}");
    // Each release's steps are read with it: a second one counts on its own.
    let second = world.promote_version("15.1.0").await;
    assert_eq!(
        world.wait(&second.id).await.status,
        ReleaseStatus::Succeeded
    );
    let both = world.engine.delivery(&viewer(), "shop", 7).await.unwrap();
    assert_eq!(both.deployments, 2);
    assert_eq!(both.daily[6].deployments, 2);
    let refused = world.engine.delivery(&viewer(), "shop", 0).await;
    assert!(refused.is_err());
}
