//! A fake Argo CD and a fake Argo Server (Argo Workflows) on loopback ports, for runs of
//! Promenade as a separate process (the browser tests, `cargo xtask demo-argo`):
//!
//! ```text
//! fake-argo --argocd-addr 127.0.0.1:P --workflows-addr 127.0.0.1:Q \
//!           --token TOKEN --repository BARE_REPOSITORY
//! ```
//!
//! Applications and templates nobody scripted follow what a healthy installation does:
//! an Application is synced at the tip of `main` (auto-sync), progressing for 10 seconds
//! after each commit and healthy afterwards; a workflow goes Pending → Running →
//! Succeeded.
//! `POST /_fake/applications/{name}` on the Argo CD port with `{"sync", "health",
//! "revision": "tip"|"old"}` fixes what an Application reports. It runs until killed.

use std::path::PathBuf;
use std::process::ExitCode;

use promenade_testkit::argo_workflows::FakeArgoWorkflows;
use promenade_testkit::argocd::FakeArgoCd;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut argocd, mut workflows) = ("127.0.0.1:0".to_string(), "127.0.0.1:0".to_string());
    let mut token = None;
    let mut repository = None;
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--argocd-addr", Some(value)) => argocd = value,
            ("--workflows-addr", Some(value)) => workflows = value,
            ("--token", Some(value)) => token = Some(value),
            ("--repository", Some(value)) => repository = Some(PathBuf::from(value)),
            _ => return usage(&format!("unknown argument {flag:?}")),
        }
    }
    let (Some(token), Some(repository)) = (token, repository) else {
        return usage("--token and --repository are required");
    };
    let cd = FakeArgoCd::start_on(&argocd, &token, repository, true).await;
    let server = FakeArgoWorkflows::start_on(&workflows, &token, true).await;
    println!("argocd {}\nworkflows {}", cd.url, server.url);
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "fake-argo: {problem}\nusage: fake-argo --argocd-addr HOST:PORT --workflows-addr HOST:PORT --token TOKEN --repository PATH"
    );
    ExitCode::from(2)
}
