//! Several replicas on one database (SQLite here, PostgreSQL with
//! `PROMENADE_TEST_DATABASE=postgres`): they share the releases, take over a dead
//! one's, and hear each other's approvals and events.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{admin, commit_to_remote, person, promoter, values, values_path, Options, World};
use promenade_engine::auth::Role;
use promenade_engine::release::PromotionRequest;
use promenade_engine::{Checkpoint, Engine, ReleaseStatus};
use promenade_model::release::{EventChange, GateStatus, StepStatus};

/// Four more products beside the demo's `shop`, two applications each, in the same
/// repository.
async fn more_products(world: &World) -> Vec<String> {
    let mut files = Vec::new();
    let mut yaml = String::new();
    let products: Vec<String> = (1..=4).map(|i| format!("shop{i}")).collect();
    for product in &products {
        let apps: Vec<String> = (0..2).map(|a| format!("{product}-app-{a}")).collect();
        for app in &apps {
            for env in promenade_engine::demo::environments() {
                files.push((values_path(app, env), values(app, env, "1.0.0")));
            }
        }
        let applications: String = apps
            .iter()
            .map(|app| format!("    - {{ name: {app}, path: \"apps/{app}/envs/{{env}}\" }}\n"))
            .collect();
        yaml.push_str(&format!(
            "---\napiVersion: promenade.dev/v1alpha1\nkind: Product\nmetadata: {{ name: {product} }}\n\
             spec:\n  repository: {{ url: \"{url}\", branch: main }}\n  applications:\n{applications}\
             \x20 template: helm-image\n  flows: [ {{ name: standard }} ]\n  concurrency: queue\n",
            url = world.url
        ));
    }
    commit_to_remote(&world.remote, "main", &files, "more products");
    world
        .engine
        .apply(&admin(), "more.yaml", &yaml, &Default::default())
        .await
        .unwrap();
    products
}

/// Sets `product`'s applications in dev to `tag`.
fn release_product_in_dev(world: &World, product: &str, tag: &str) {
    let apps: Vec<String> = if product == "shop" {
        world.apps.clone()
    } else {
        (0..2).map(|a| format!("{product}-app-{a}")).collect()
    };
    let files: Vec<_> = apps
        .iter()
        .map(|app| (values_path(app, "dev"), values(app, "dev", tag)))
        .collect();
    commit_to_remote(&world.remote, "main", &files, &format!("{product} {tag}"));
}

async fn wait_all(engine: &Engine, ids: &[String], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut unfinished = Vec::new();
        for id in ids {
            let release = engine.release(&admin(), id).await.unwrap();
            if !release.status.is_final() {
                unfinished.push(release);
            }
        }
        if unfinished.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} releases unfinished, e.g. {:#?}",
            unfinished.len(),
            unfinished[0]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_started_through_three_replicas_all_finish_in_order_with_one_commit_each() {
    let world = World::new(Options {
        apps: 2,
        ..Options::default()
    })
    .await;
    let mut products = vec!["shop".to_string()];
    products.extend(more_products(&world).await);
    let replicas = [
        world.replica("a", None).await,
        world.replica("b", None).await,
        world.replica("c", None).await,
    ];

    let mut started: Vec<(String, String, String)> = Vec::new(); // (id, product, tag)
    for i in 0..20 {
        let product = &products[i % products.len()];
        let tag = format!("2.0.{i}");
        release_product_in_dev(&world, product, &tag);
        let release = replicas[i % 3]
            .promote(&promoter("alice"), product, &PromotionRequest::default())
            .await
            .unwrap();
        started.push((release.id, product.clone(), tag));
    }
    let ids: Vec<String> = started.iter().map(|(id, ..)| id.clone()).collect();
    wait_all(&replicas[0], &ids, Duration::from_secs(120)).await;

    for id in &ids {
        let release = replicas[1].release(&admin(), id).await.unwrap();
        assert_eq!(release.status, ReleaseStatus::Succeeded, "{release:#?}");
    }
    // Exactly one commit per (release, environment): none lost, none twice.
    let commits = world.promotion_commits();
    let mut seen = HashSet::new();
    for (environment, release) in &commits {
        assert!(
            seen.insert((environment.clone(), release.clone())),
            "{release} committed to {environment} twice"
        );
    }
    for id in &ids {
        for environment in ["qa", "staging-eu", "staging-us", "prod"] {
            assert!(
                seen.contains(&(environment.to_string(), id.clone())),
                "release {id} made no commit to {environment}: {:#?}",
                world.engine.release(&admin(), id).await.unwrap()
            );
        }
    }
    // Each product's releases reached each environment in the order they started:
    // newest first in the history means oldest first when reversed.
    let order: Vec<&(String, String)> = commits.iter().rev().collect();
    let product_of: BTreeMap<&str, &str> = started
        .iter()
        .map(|(id, product, _)| (id.as_str(), product.as_str()))
        .collect();
    for environment in ["qa", "prod"] {
        for product in &products {
            let reached: Vec<&str> = order
                .iter()
                .filter(|(e, r)| e == environment && product_of[r.as_str()] == product)
                .map(|(_, r)| r.as_str())
                .collect();
            let expected: Vec<&str> = started
                .iter()
                .filter(|(_, p, _)| p == product)
                .map(|(id, ..)| id.as_str())
                .collect();
            assert_eq!(reached, expected, "{product} in {environment}");
        }
    }
    // And so prod runs each product's newest version.
    for (_, product, tag) in started.iter().rev().take(products.len()) {
        let app = if product == "shop" {
            world.apps[0].clone()
        } else {
            format!("{product}-app-0")
        };
        assert_eq!(
            world.read("main", &values_path(&app, "prod")),
            values(&app, "prod", tag)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_dying_mid_step_loses_its_release_to_another_that_commits_once_per_environment() {
    let world = World::new(Options::default()).await;
    // Replica `a` dies right after its push to staging-eu, before recording it.
    let pushed = Arc::new(AtomicBool::new(false));
    let died = Arc::new(AtomicBool::new(false));
    let a = {
        let (pushed, died) = (pushed.clone(), died.clone());
        world
            .replica(
                "a",
                Some(Arc::new(move |point| {
                    if point == Checkpoint::GitDone && pushed.swap(true, Ordering::SeqCst) {
                        died.store(true, Ordering::SeqCst);
                        return true;
                    }
                    false
                })),
            )
            .await
    };
    world.release_in("dev", "3.0.0");
    let release = a
        .promote(&promoter("alice"), "shop", &PromotionRequest::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !died.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "replica a never died");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let b = world.replica("b", None).await;
    let died_at = Instant::now();
    let finished = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = b.release(&admin(), &release.id).await.unwrap();
            if r.status.is_final() {
                break r;
            }
            assert!(Instant::now() < deadline, "not taken over: {r:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let took = died_at.elapsed();
    assert_eq!(finished.status, ReleaseStatus::Succeeded, "{finished:#?}");
    // Within the lease timeout (3 s) and one renewal (1 s), with room for the work.
    assert!(took < Duration::from_secs(10), "took over after {took:?}");
    let mut environments: Vec<String> = world
        .promotion_commits()
        .into_iter()
        .map(|(environment, _)| environment)
        .collect();
    environments.sort();
    assert_eq!(environments, ["prod", "qa", "staging-eu", "staging-us"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_through_one_replica_opens_the_gate_another_drives_within_a_second() {
    let world = World::new(Options::default()).await;
    world.require_qa_approval().await;
    let a = world.replica("a", None).await;
    let b = world.replica("b", None).await;
    world.release_in("dev", "4.0.0");
    let release = a
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
    // Until a's step waits at the gate.
    world
        .wait_until(&release.id, |r| {
            common::step(r, "qa")
                .gates()
                .first()
                .is_some_and(|g| g.status == GateStatus::Waiting)
        })
        .await;
    let approved = Instant::now();
    b.approve(&person("rita", Role::ReleaseManager), &release.id, "qa")
        .await
        .unwrap();
    let passed = loop {
        let r = b.release(&admin(), &release.id).await.unwrap();
        let qa = r.steps.iter().find(|s| s.environment == "qa").unwrap();
        if qa.status != StepStatus::Gating {
            break approved.elapsed();
        }
        assert!(approved.elapsed() < Duration::from_secs(5), "{r:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // PostgreSQL carries the approval to `a` at once (LISTEN/NOTIFY); SQLite serves one
    // machine, where replicas (here, in one test) hear of each other's changes only by
    // looking, every second.
    let within = if world.database.is_some() {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(1500)
    };
    assert!(
        passed < within,
        "the gate opened {passed:?} after the approval"
    );
    let finished = world.wait(&release.id).await;
    assert_eq!(finished.status, ReleaseStatus::Succeeded, "{finished:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_on_one_replica_carries_the_events_of_a_release_another_drives_in_order() {
    let world = World::new(Options::default()).await;
    let a = world.replica("a", None).await;
    let c = world.replica("c", None).await;
    let mut live = c.subscribe().await.unwrap();
    world.release_in("dev", "5.0.0");
    let release = a
        .promote(&promoter("alice"), "shop", &PromotionRequest::default())
        .await
        .unwrap();
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline.into(), live.recv())
            .await
            .expect("the release's events arrive")
            .unwrap();
        if event.release_id != release.id {
            continue;
        }
        let ends = event.ends_release();
        received.push(event);
        if ends {
            break;
        }
    }
    let stored = a.release_events(&admin(), &release.id, 0).await.unwrap();
    let seqs = |events: &[promenade_engine::EventRecord]| -> Vec<i64> {
        events.iter().map(|e| e.seq).collect()
    };
    assert_eq!(seqs(&received), seqs(&stored), "every event, in order");
    assert!(matches!(
        received.last().map(|e| &e.change),
        Some(EventChange::Release(change)) if change.status == ReleaseStatus::Succeeded
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_polling_replicas_start_one_release_per_trigger_commit() {
    let world = World::new(Options {
        apps: 2,
        ..Options::default()
    })
    .await;
    let replicas = [
        world.replica("a", None).await,
        world.replica("b", None).await,
        world.replica("c", None).await,
    ];
    for replica in &replicas {
        replica.start_polling(Some(Duration::from_millis(200)));
    }
    // The baseline, then two commits a while apart.
    tokio::time::sleep(Duration::from_millis(800)).await;
    for tag in ["6.0.0", "6.0.1"] {
        world.release_in("dev", tag);
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let releases = replicas[0]
        .list_releases(&admin(), &Default::default())
        .await
        .unwrap();
    let triggered: Vec<_> = releases
        .iter()
        .filter(|r| r.created_by == "trigger")
        .collect();
    assert_eq!(triggered.len(), 2, "{triggered:#?}");
}
