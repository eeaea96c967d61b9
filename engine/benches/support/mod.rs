//! What the engine's benchmarks share: a monorepo remote laid out like the demo's, with
//! `apps` applications in every environment, and the resources that promote through it.

use std::path::Path;

use promenade_engine::demo::{self, values, values_path};
use promenade_testkit::commit_to_remote;

/// A bare repository at `path`: dev runs 2.0.0, every other environment 1.0.0.
pub fn build_remote(path: &Path, apps: usize) {
    let entries: Vec<(String, String)> = (0..apps)
        .flat_map(|i| {
            let app = app(i);
            demo::environments().map(move |env| {
                let tag = if env == "dev" { "2.0.0" } else { "1.0.0" };
                (values_path(&app, env), values(&app, env, tag))
            })
        })
        .collect();
    commit_to_remote(path, "main", &entries, "layout");
    git2::Repository::open_bare(path)
        .unwrap()
        .set_head("refs/heads/main")
        .unwrap();
}

/// Puts `tag` into dev for every application: one commit on the remote's `main` (made
/// again on the new tip when a promotion pushed meanwhile).
#[allow(dead_code)] // Not every benchmark releases new versions.
pub fn release_in_dev(path: &Path, apps: usize, tag: &str) {
    let entries: Vec<(String, String)> = (0..apps)
        .map(|i| (values_path(&app(i), "dev"), values(&app(i), "dev", tag)))
        .collect();
    commit_to_remote(path, "main", &entries, tag);
}

/// The demo's resources over `apps` applications, every environment by commit.
pub fn resources(url: &str, apps: usize) -> String {
    demo::resources(
        url,
        &demo::Shape {
            applications: (0..apps).map(app).collect(),
            prod_action: "commit".into(),
            ..Default::default()
        },
    )
}

fn app(i: usize) -> String {
    format!("app-{i:04}")
}
