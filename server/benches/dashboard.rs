//! Server render of the products dashboard for a product of 1,000 applications × 6
//! environments, through the real router: sign in with the login form, then fetch the
//! page (its first page of rows; `cargo xtask bench-ui` measures it in a browser).
//! Prints the time the engine takes to compute the status (first, unchanged, and after
//! a commit to one folder), the whole page, and the page's size. Run with
//! `cargo bench -p promenade-server --bench dashboard`.

#![recursion_limit = "512"]

use std::time::{Duration, Instant};

use git2::build::TreeUpdateBuilder;
use git2::{FileMode, Repository, Signature};
use promenade_engine::auth::{Principal, Role};
use promenade_engine::{Engine, EngineConfig, Store};
use promenade_model::overview::ROWS_PER_PAGE;

#[path = "../tests/support/mod.rs"]
mod support;

const ENVIRONMENTS: [&str; 6] = [
    "dev",
    "qa",
    "staging-eu",
    "staging-us",
    "prod-eu",
    "prod-us",
];
const RUNS: usize = 5;

fn remote(path: &std::path::Path, apps: usize) {
    let repo = Repository::init_bare(path).unwrap();
    let base = repo
        .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
        .unwrap();
    let mut builder = TreeUpdateBuilder::new();
    for i in 0..apps {
        for env in ENVIRONMENTS {
            let tag = if env == "dev" { "2.0.0" } else { "1.0.0" };
            let text = format!("# app-{i:04} in {env}\nimage:\n  tag: \"{tag}\"\n");
            let blob = repo.blob(text.as_bytes()).unwrap();
            builder.upsert(
                format!("apps/app-{i:04}/{env}/values.yaml"),
                blob,
                FileMode::Blob,
            );
        }
    }
    let tree = repo
        .find_tree(builder.create_updated(&repo, &base).unwrap())
        .unwrap();
    let who = Signature::now("bench", "bench@example.com").unwrap();
    repo.commit(Some("refs/heads/main"), &who, &who, "layout", &tree, &[])
        .unwrap();
}

/// Commits a new tag to one application's `qa` folder, as a promotion would.
fn touch(path: &std::path::Path, app: usize, tag: &str) {
    let repo = Repository::open_bare(path).unwrap();
    let parent = repo
        .find_reference("refs/heads/main")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    let text = format!("# app-{app:04} in qa\nimage:\n  tag: \"{tag}\"\n");
    let mut builder = TreeUpdateBuilder::new();
    builder.upsert(
        format!("apps/app-{app:04}/qa/values.yaml"),
        repo.blob(text.as_bytes()).unwrap(),
        FileMode::Blob,
    );
    let tree = repo
        .find_tree(
            builder
                .create_updated(&repo, &parent.tree().unwrap())
                .unwrap(),
        )
        .unwrap();
    let who = Signature::now("bench", "bench@example.com").unwrap();
    let message = format!("app-{app:04} {tag} to qa");
    repo.commit(
        Some("refs/heads/main"),
        &who,
        &who,
        &message,
        &tree,
        &[&parent],
    )
    .unwrap();
}

fn resources(url: &str, apps: usize) -> String {
    let mut yaml = String::new();
    for env in ENVIRONMENTS {
        let kind = if env.starts_with("prod") {
            "prod"
        } else {
            "non-prod"
        };
        yaml.push_str(&format!(
            "apiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata: {{ name: {env} }}\nspec: {{ kind: {kind} }}\n---\n"
        ));
    }
    let applications: String = (0..apps)
        .map(|i| format!("    - {{ name: app-{i:04}, path: \"apps/app-{i:04}/{{env}}\" }}\n"))
        .collect();
    yaml.push_str(&format!(
        "apiVersion: promenade.dev/v1alpha1
kind: Product
metadata: {{ name: shop }}
spec:
  repository: {{ url: \"{url}\", branch: main }}
  applications:
{applications}  template: tag
  flows: [ {{ name: standard }} ]
---
apiVersion: promenade.dev/v1alpha1
kind: PromotionTemplate
metadata: {{ name: tag }}
spec:
  versionSource: {{ file: values.yaml, path: \"$.image.tag\" }}
  files: [ {{ path: values.yaml, attributes: [\"$.image.tag\"] }} ]
---
apiVersion: promenade.dev/v1alpha1
kind: PromotionFlow
metadata: {{ name: standard }}
spec:
  triggerEnvironment: dev
  steps:
    - {{ environment: qa, dependsOn: [dev] }}
    - {{ environment: staging-eu, dependsOn: [qa] }}
    - {{ environment: staging-us, dependsOn: [qa] }}
    - {{ environment: prod-eu, dependsOn: [staging-eu] }}
    - {{ environment: prod-us, dependsOn: [staging-us] }}
"
    ));
    yaml
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn viewer() -> Principal {
    Principal::user("bench", Role::Viewer)
}

#[tokio::main]
async fn main() {
    let apps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("gitops.git");
    remote(&repo, apps);
    let store = Store::open(None, &dir.path().join("data")).await.unwrap();
    let mut config = EngineConfig::new(dir.path().join("data"));
    config.allow_local_repositories = true;
    let engine = Engine::new(store, config);
    let admin = Principal::user("bench-admin", Role::Admin);
    let yaml = resources(&format!("file://{}", repo.display()), apps);
    engine
        .apply(&admin, "bench.yaml", &yaml, &Default::default())
        .await
        .unwrap();
    engine
        .create_user(&admin, "bench", "a long bench password", Role::Viewer)
        .await
        .unwrap();

    // The engine's part: git reads, versions and drift for every cell, computed once
    // and then reused while the repository's tip and the resources stay the same.
    let started = Instant::now();
    engine.product_status(&viewer(), "shop").await.unwrap();
    let cold = started.elapsed();
    let mut status_times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let status = engine.product_status(&viewer(), "shop").await.unwrap();
        status_times.push(started.elapsed());
        assert_eq!(status.applications.len(), apps);
    }
    // After a commit to one folder, only that folder and its neighbours' drift are read.
    let mut moved_times = Vec::new();
    for run in 0..RUNS {
        let tag = format!("2.0.{run}");
        touch(&repo, run, &tag);
        let started = Instant::now();
        let status = engine.product_status(&viewer(), "shop").await.unwrap();
        moved_times.push(started.elapsed());
        assert_eq!(
            status.applications[run].cells["qa"].version.as_deref(),
            Some(tag.as_str())
        );
    }

    let addr = support::spawn(engine, dir.path()).await;
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();

    // Sign in the way a browser without JavaScript does: post the login form.
    let login = client
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = login
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the login form has an action");
    let signed_in = client
        .post(format!("{base}{action}"))
        .form(&[
            ("name", "bench"),
            ("password", "a long bench password"),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        signed_in.status().is_success(),
        "sign-in failed: {}",
        signed_in.status()
    );

    let mut page_times = Vec::new();
    let mut size = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let page = client
            .get(format!("{base}/products/shop"))
            .send()
            .await
            .unwrap();
        assert!(page.status().is_success());
        let html = page.text().await.unwrap();
        page_times.push(started.elapsed());
        let last_on_page = format!("app-{:04}", apps.min(ROWS_PER_PAGE) - 1);
        assert!(
            html.contains(&last_on_page) && !html.contains(&format!("app-{ROWS_PER_PAGE:04}")),
            "the page lists the first page of applications"
        );
        size = html.len();
    }
    let status = median(status_times);
    let moved = median(moved_times);
    let page = median(page_times);
    println!(
        "dashboard benchmark: {apps} applications × {} environments (median of {RUNS})",
        ENVIRONMENTS.len()
    );
    println!(
        "  product status, first       {:>8.1} ms",
        cold.as_secs_f64() * 1000.0
    );
    println!(
        "  product status, unchanged   {:>8.1} ms",
        status.as_secs_f64() * 1000.0
    );
    println!(
        "  after a one-folder commit   {:>8.1} ms",
        moved.as_secs_f64() * 1000.0
    );
    println!(
        "  whole page, server-rendered {:>8.1} ms   (target < 100 ms)",
        page.as_secs_f64() * 1000.0
    );
    println!(
        "  rendering share (page − status) {:>4.1} ms",
        page.saturating_sub(status).as_secs_f64() * 1000.0
    );
    println!(
        "  page size                   {:>8.0} KiB",
        size as f64 / 1024.0
    );
}
