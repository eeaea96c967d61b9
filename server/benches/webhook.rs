//! Latency from a signed GitHub push webhook to the promotion commit in the next
//! environment: 10 applications in a monorepo served over HTTPS with basic auth
//! (nginx + git http-backend on loopback, from `promenade-testkit`), the real router
//! and engine. Each of 50 rounds pushes a new version to `dev`, posts the signed
//! delivery and waits until `qa` on the remote has the version; the release then
//! finishes before the next round. Prints p50, p95 and max.
//!
//! Besides the end-to-end figures it prints the git server's share (its own time on each
//! round's requests, from its access log) and Promenade's (the rest: the engine, and the
//! client side of git's protocol). The server's part depends on the disk its
//! repositories are on — a push to it writes one file per object — which
//! `PROMENADE_BENCH_GIT_DIR` chooses (default: the temporary folder, like Promenade's
//! own data folder).
//!
//! Run with `cargo bench -p promenade-server --bench webhook`; with
//! `PROMENADE_BENCH_TRACE=1` it also prints each engine span (fetch, commit, push,
//! release, step) as it closes, with its duration, when each round's webhook was sent,
//! and the git server's access log with each request's time on the server; `RUST_LOG`
//! chooses other spans and events (`sqlx=debug` adds every query with its time).

// The router's view types (the whole app, through `support`) nest deeply.
#![recursion_limit = "512"]

use std::time::{Duration, Instant};

use std::path::Path;

use hmac::Mac;
use promenade_engine::auth::{Principal, Role};
use promenade_engine::demo::{self, values, values_path};
use promenade_engine::store::ReleaseFilter;
use promenade_engine::{Engine, EngineConfig, Store};
use promenade_model::credentials::{CredentialInput, CredentialKind};
use promenade_testkit::{commit_to_remote, read_file, HttpsGitServer, Tls};

#[path = "../tests/support/mod.rs"]
mod support;

const APPS: usize = 10;
const ROUNDS: usize = 50;
const SECRET: &str = "bench-webhook-secret";
const PASSWORD: &str = "bench-git-password";

/// Writes every application's values in `envs` at `tag`, in one commit on `main`.
fn commit(remote: &Path, apps: &[String], envs: &[&str], tag: &str) {
    let entries: Vec<(String, String)> = apps
        .iter()
        .flat_map(|app| {
            envs.iter()
                .map(move |env| (values_path(app, env), values(app, env, tag)))
        })
        .collect();
    commit_to_remote(remote, "main", &entries, &format!("dev: {tag}"));
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

#[tokio::main]
async fn main() {
    // Where the time goes: every engine span as it closes, with its duration.
    let tracing = std::env::var_os("PROMENADE_BENCH_TRACE").is_some();
    if tracing {
        tracing_subscriber::fmt()
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_env_filter(
                std::env::var("RUST_LOG").unwrap_or_else(|_| "promenade_engine=debug".into()),
            )
            .init();
    }
    let dir = tempfile::tempdir().unwrap();
    let git_dir = match std::env::var_os("PROMENADE_BENCH_GIT_DIR") {
        Some(folder) => tempfile::tempdir_in(folder).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let apps: Vec<String> = (0..APPS).map(|i| format!("app-{i:02}")).collect();
    let remote_path = git_dir.path().join("gitops.git");
    let environments: Vec<&str> = demo::environments().collect();
    commit(&remote_path, &apps, &environments, "1.0.0");

    let tls = Tls::new();
    promenade_engine::transport::trust_ca_file(&tls.ca).unwrap();
    let server = HttpsGitServer::start(git_dir.path(), "promenade", PASSWORD, &tls);
    let url = server.url("gitops.git");

    let store = Store::open(None, &dir.path().join("data")).await.unwrap();
    let engine = Engine::new(store, EngineConfig::new(dir.path().join("data")));
    let admin = Principal::user("bench", Role::Admin);
    let token = |secret: &str, username: Option<&str>| CredentialInput {
        kind: if username.is_some() {
            CredentialKind::Https
        } else {
            CredentialKind::Token
        },
        username: username.map(str::to_string),
        secret: secret.into(),
        passphrase: None,
        known_hosts: None,
    };
    engine
        .create_credential(&admin, "git", &token(PASSWORD, Some("promenade")))
        .await
        .unwrap();
    engine
        .create_credential(&admin, "github-webhook", &token(SECRET, None))
        .await
        .unwrap();
    let resources = demo::resources(
        &url,
        &demo::Shape {
            applications: apps.clone(),
            prod_action: "commit".into(),
            credentials: Some("git".into()),
            ..Default::default()
        },
    );
    engine
        .apply(&admin, "bench.yaml", &resources, &Default::default())
        .await
        .unwrap();
    // The baseline `serve` records at start.
    engine.poll_triggers(&admin).await.unwrap();

    let addr = support::spawn(engine.clone(), dir.path()).await;
    let client = reqwest::Client::new();
    let webhook = format!("http://{addr}/api/v1/webhooks/github");
    let changed: Vec<String> = apps.iter().map(|a| values_path(a, "dev")).collect();
    let watched = values_path(&apps[APPS - 1], "qa");

    let remote = git2::Repository::open_bare(&remote_path).unwrap();
    let mut latencies = Vec::new();
    // Per round: when the webhook was sent and when the commit was seen, epoch seconds.
    let mut windows = Vec::new();
    for round in 0..ROUNDS {
        let tag = format!("2.0.{round}");
        commit(&remote_path, &apps, &["dev"], &tag);
        let body = serde_json::json!({
            "ref": "refs/heads/main",
            "repository": { "clone_url": url },
            "commits": [{ "id": tag, "added": [], "modified": changed, "removed": [] }]
        })
        .to_string();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));

        // The tip after the push to dev: the promotion moves it.
        let mut seen = remote.refname_to_id("refs/heads/main").ok();
        let started = Instant::now();
        let epoch = epoch_now();
        let answer: serde_json::Value = client
            .post(&webhook)
            .header("x-github-event", "push")
            .header("x-github-delivery", format!("bench-{round}"))
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer["outcome"],
            "started",
            "{answer}\n{}",
            server.error_log()
        );
        let answered = started.elapsed();
        // Watching the remote must not take the CPU the engine and the git server need:
        // the branch's ref is read every millisecond, the file only when it moved.
        let expected = values(&apps[APPS - 1], "qa", &tag);
        loop {
            let tip = remote.refname_to_id("refs/heads/main").ok();
            if tip != seen {
                seen = tip;
                if read_file(&remote_path, "main", &watched).as_deref() == Some(expected.as_str()) {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "qa never got {tag}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(started.elapsed());
        windows.push((epoch.as_secs_f64(), epoch_now().as_secs_f64()));
        if tracing {
            // In the clock of the git server's access log, printed at the end.
            eprintln!(
                "round {round}: webhook sent at {:.3}, answered after {answered:?}, commit seen after {:?}",
                epoch.as_secs_f64(),
                started.elapsed()
            );
        }

        // Let the release finish (the rest of the flow) before the next push.
        let id = answer["releases"][0].as_str().unwrap().to_string();
        loop {
            let release = engine.release(&admin, &id).await.unwrap();
            if release.status.is_final() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let finished = engine
        .list_releases(
            &admin,
            &ReleaseFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(finished.len(), ROUNDS, "one release per push");

    let log = server.access_log();
    if tracing {
        eprintln!("git server's access log (ended at, method, path, status, request time, git's time):\n{log}");
    }
    let requests = requests(&log);
    // The server's time on the requests that started while a round was under way.
    let mut served: Vec<Duration> = windows
        .iter()
        .map(|&(sent, seen)| {
            let seconds: f64 = requests
                .iter()
                .filter(|(start, _)| (sent..=seen).contains(start))
                .map(|(_, took)| took)
                .sum();
            Duration::from_secs_f64(seconds)
        })
        .collect();
    let mut own: Vec<Duration> = latencies
        .iter()
        .zip(&served)
        .map(|(total, server)| total.saturating_sub(*server))
        .collect();
    println!("webhook → commit in the next environment, {APPS} applications, HTTPS remote, {ROUNDS} pushes:");
    print_figures("end to end", &mut latencies);
    print_figures("git server", &mut served);
    print_figures("Promenade ", &mut own);
    println!("  (git server: its own time on each round's requests, from its access log; Promenade: the rest)");
}

fn epoch_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// (start, duration) in seconds of each request in nginx's access log, whose lines are
/// `ended-at method path status request-time upstream-time`.
fn requests(log: &str) -> Vec<(f64, f64)> {
    log.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let ended: f64 = fields.first()?.parse().ok()?;
            let took: f64 = fields.get(4)?.parse().ok()?;
            Some((ended - took, took))
        })
        .collect()
}

fn print_figures(what: &str, figures: &mut [Duration]) {
    figures.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {what}  p50 {:6.1} ms   p95 {:6.1} ms   max {:6.1} ms",
        ms(percentile(figures, 0.50)),
        ms(percentile(figures, 0.95)),
        ms(figures[figures.len() - 1])
    );
}
