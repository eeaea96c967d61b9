//! Monorepo benchmark: 1,000 applications × 5 environments in one repository.
//!
//! Measures, in one run:
//! - preview of the whole flow (cold: first fetch into an empty clone cache; warm);
//! - a promotion dev → qa through the engine (one commit for 1,000 folders, pushed);
//! - a reference shell script making the same change with the git CLI (copy the files,
//!   `git commit`, `git push` to the same kind of remote), in an existing clone;
//!
//! and prints the ratio engine / script. Run with
//! `cargo bench -p promenade-engine --bench promote` (`-- 200` for another size).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use promenade_engine::auth::{Principal, Role};
use promenade_engine::demo::{self, values};
use promenade_engine::release::PromotionRequest;
use promenade_engine::{Engine, EngineConfig, ReleaseStatus, Store};

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?} failed");
}

fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn viewer() -> Principal {
    Principal::user("bench", Role::Viewer)
}

fn promoter(name: &str) -> Principal {
    Principal::user(name, Role::Promoter)
}

#[tokio::main]
async fn main() {
    let apps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    println!(
        "monorepo benchmark: {apps} applications × {} environments",
        demo::environments().count()
    );

    // Two identical remotes: one for the engine, one for the reference script.
    let engine_remote = dir.path().join("engine.git");
    let script_remote = dir.path().join("script.git");
    let started = Instant::now();
    support::build_remote(&engine_remote, apps);
    support::build_remote(&script_remote, apps);
    println!(
        "  set-up (two remotes)        {}",
        seconds(started.elapsed())
    );

    let store = Store::open(None, &dir.path().join("data")).await.unwrap();
    let mut config = EngineConfig::new(dir.path().join("data"));
    config.allow_local_repositories = true;
    let engine = Engine::new(store, config);
    let url = format!("file://{}", engine_remote.display());
    engine
        .apply(
            &Principal::user("bench", Role::Admin),
            "bench.yaml",
            &support::resources(&url, apps),
            &Default::default(),
        )
        .await
        .unwrap();

    let started = Instant::now();
    let preview = engine
        .preview(&viewer(), "shop", &PromotionRequest::default())
        .await
        .unwrap();
    let cold = started.elapsed();
    let changed: usize = preview
        .environments
        .iter()
        .map(|e| e.diff.applications.len())
        .sum();
    assert_eq!(changed, apps * 4);
    let started = Instant::now();
    engine
        .preview(&viewer(), "shop", &PromotionRequest::default())
        .await
        .unwrap();
    let warm = started.elapsed();
    println!(
        "  preview, whole flow (cold)  {}   ({changed} application diffs)",
        seconds(cold)
    );
    println!("  preview, whole flow (warm)  {}", seconds(warm));

    let to_qa = PromotionRequest {
        to: Some("qa".into()),
        ..Default::default()
    };
    // Follow the release through its events, as the API does, rather than polling the
    // store (which would compete with the engine for the database).
    let mut events = engine.subscribe().await.unwrap();
    let started = Instant::now();
    let release = engine
        .promote(&promoter("bench"), "shop", &to_qa)
        .await
        .unwrap();
    loop {
        let event = events.recv().await.unwrap();
        if event.release_id == release.id && event.ends_release() {
            break;
        }
    }
    let engine_time = started.elapsed();
    let release = engine.release(&viewer(), &release.id).await.unwrap();
    assert_eq!(release.status, ReleaseStatus::Succeeded);
    println!("  promote dev → qa (engine)   {}", seconds(engine_time));

    // The reference: an existing clone, the same new files, git commit and push.
    let clone = dir.path().join("clone");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            &format!("file://{}", script_remote.display()),
            "clone",
        ],
    );
    git(&clone, &["config", "user.email", "bench@example.com"]);
    git(&clone, &["config", "user.name", "bench"]);
    let prepared = dir.path().join("prepared");
    for i in 0..apps {
        let app = format!("app-{i:04}");
        let folder = prepared.join(format!("apps/{app}/envs/qa"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("values.yaml"), values(&app, "qa", "2.0.0")).unwrap();
    }
    let script = dir.path().join("promote.sh");
    std::fs::write(
        &script,
        "set -e\ncd \"$1\"\ngit pull -q\ncp -r \"$2\"/apps .\ngit add -A\ngit commit -q -m 'Promote to qa'\ngit push -q\n",
    )
    .unwrap();
    let started = Instant::now();
    let status = Command::new("bash")
        .arg(&script)
        .arg(&clone)
        .arg(&prepared)
        .status()
        .unwrap();
    let script_time = started.elapsed();
    assert!(status.success());
    println!("  promote dev → qa (git CLI)  {}", seconds(script_time));

    let ratio = engine_time.as_secs_f64() / script_time.as_secs_f64();
    println!("  ratio engine / script       {ratio:.2}   (target ≤ 1.5)");
    println!(
        "  preview target < 2 s: {}",
        if warm < Duration::from_secs(2) {
            "met"
        } else {
            "missed"
        }
    );
}
