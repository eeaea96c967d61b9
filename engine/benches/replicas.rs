//! Throughput of releases on one machine: `releases` releases of a product with `apps`
//! applications, each from dev through the 5-environment flow to prod (qa, staging-eu
//! and staging-us in parallel, prod; every step a commit), started one after another
//! as fast as the engine accepts them, spread round-robin over the replicas. Run on:
//!
//! - SQLite, one replica (the embedded default);
//! - PostgreSQL, one replica;
//! - PostgreSQL, three replicas (three engines in this process, each with its own clone
//!   cache and database pool, coordinating through the database exactly as three
//!   `promenade serve` processes do).
//!
//! Prints releases per minute and p50/p95 of the time from `promote` returning to the
//! release's success. The product queues its releases per environment, so later
//! releases wait for earlier ones: the times measure the pipeline, not one release.
//! Run with `cargo bench -p promenade-engine --bench replicas` (`-- 50 20` for
//! releases and applications); PostgreSQL is started by the benchmark (Debian's
//! `postgresql` binaries, as the tests do).

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use promenade_engine::auth::{Principal, Role};
use promenade_engine::release::PromotionRequest;
use promenade_engine::{Engine, EngineConfig, ReleaseStatus, Store};

struct Figures {
    per_minute: f64,
    p50: Duration,
    p95: Duration,
    wall: Duration,
}

async fn run(label: &str, database: Option<String>, replicas: usize, releases: usize, apps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("gitops.git");
    support::build_remote(&remote, apps);
    let mut engines = Vec::new();
    for r in 0..replicas {
        let data = dir.path().join("data");
        let store = Store::open(database.as_deref(), &data).await.unwrap();
        let mut config = EngineConfig::new(&data);
        config.allow_local_repositories = true;
        config.replica_name = format!("replica-{r}");
        config.git_cache = dir.path().join(format!("replica-{r}")).join("git");
        let engine = Engine::new(store, config);
        engine.resume().await.unwrap();
        engines.push(engine);
    }
    engines[0]
        .apply(
            &Principal::user("bench", Role::Admin),
            "bench.yaml",
            &support::resources(&format!("file://{}", remote.display()), apps),
            &Default::default(),
        )
        .await
        .unwrap();
    let figures = promote_all(&engines, &remote, releases, apps).await;
    println!(
        "  {label:<26} {:>6.1} releases/min   p50 {:>6.1} s   p95 {:>6.1} s   ({} releases in {:.1} s)",
        figures.per_minute,
        figures.p50.as_secs_f64(),
        figures.p95.as_secs_f64(),
        releases,
        figures.wall.as_secs_f64()
    );
    for engine in &engines {
        engine.retire().await;
        engine.close().await;
    }
}

/// Starts the releases, a new version in dev before each, and waits for all of them.
async fn promote_all(engines: &[Engine], remote: &Path, releases: usize, apps: usize) -> Figures {
    let to_prod = PromotionRequest {
        to: Some("prod".into()),
        ..Default::default()
    };
    // Every replica's events reach every replica's subscribers; read from the start, so
    // none is missed while releases are still being started.
    let mut events = engines[0].subscribe().await.unwrap();
    let (ends, mut ended_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) if event.ends_release() => {
                    let _ = ends.send((event.release_id, Instant::now()));
                }
                Ok(_) => {}
                Err(error) => panic!("the benchmark lost events: {error}"),
            }
        }
    });
    let begun = Instant::now();
    let mut started: HashMap<String, Instant> = HashMap::new();
    for i in 0..releases {
        support::release_in_dev(remote, apps, &format!("3.0.{i}"));
        let engine = &engines[i % engines.len()];
        let release = engine
            .promote(&Principal::user("bench", Role::Promoter), "shop", &to_prod)
            .await
            .unwrap();
        started.insert(release.id, Instant::now());
    }
    let mut ended: HashMap<String, Instant> = HashMap::new();
    while ended.len() < releases {
        let (id, at) = tokio::time::timeout(Duration::from_secs(600), ended_rx.recv())
            .await
            .expect("the releases stalled")
            .expect("the event reader stopped");
        ended.insert(id, at);
    }
    let mut took: Vec<Duration> = started
        .iter()
        .map(|(id, at)| ended[id].saturating_duration_since(*at))
        .collect();
    let wall = begun.elapsed();
    let viewer = Principal::user("bench", Role::Viewer);
    for id in started.keys() {
        let release = engines[0].release(&viewer, id).await.unwrap();
        assert_eq!(release.status, ReleaseStatus::Succeeded, "{id}");
    }
    took.sort();
    Figures {
        per_minute: releases as f64 / wall.as_secs_f64() * 60.0,
        p50: took[took.len() / 2],
        p95: took[(took.len() * 95 / 100).min(took.len() - 1)],
        wall,
    }
}

#[tokio::main]
async fn main() {
    let numbers: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let releases = numbers.first().copied().unwrap_or(50);
    let apps = numbers.get(1).copied().unwrap_or(20);
    println!(
        "replicas benchmark: {releases} releases × {apps} applications, dev → prod (4 commits each), {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    run("SQLite, 1 replica", None, 1, releases, apps).await;
    let postgres = || Some(promenade_testkit::postgres::fresh_database());
    run("PostgreSQL, 1 replica", postgres(), 1, releases, apps).await;
    run("PostgreSQL, 3 replicas", postgres(), 3, releases, apps).await;
}
