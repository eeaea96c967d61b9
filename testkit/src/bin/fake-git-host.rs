//! A fake GitHub or GitLab API on a loopback port, for tests that run Promenade as a
//! separate process (the browser tests):
//!
//! ```text
//! fake-git-host github|gitlab --addr 127.0.0.1:PORT [--serve PROJECT=BARE_REPOSITORY]…
//! ```
//!
//! Besides the host's API it answers `GET /_fake/pulls`, `POST /_fake/pulls/N/merge` and
//! `GET /_fake/statuses`. It runs until killed.

use std::path::PathBuf;
use std::process::ExitCode;

use promenade_testkit::hosts::{FakeHost, Flavour};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let flavour = match args.next().as_deref() {
        Some("github") => Flavour::GitHub,
        Some("gitlab") => Flavour::GitLab,
        _ => return usage("the first argument is github or gitlab"),
    };
    let mut address = "127.0.0.1:0".to_string();
    let mut served: Vec<(String, PathBuf)> = Vec::new();
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--addr", Some(value)) => address = value,
            ("--serve", Some(value)) => match value.split_once('=') {
                Some((project, path)) => served.push((project.into(), path.into())),
                None => return usage("--serve takes PROJECT=PATH"),
            },
            _ => return usage(&format!("unknown argument {flag:?}")),
        }
    }
    let host = FakeHost::start_on(flavour, &address).await;
    for (project, path) in &served {
        host.serve(project, path);
    }
    println!("{}", host.api_url);
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("fake-git-host: {problem}\nusage: fake-git-host github|gitlab --addr HOST:PORT [--serve PROJECT=PATH]…");
    ExitCode::from(2)
}
