//! `promenade diff -f DIR`: what `apply` would change, resource by resource, as unified
//! diffs of the canonical YAML the server stores. Worked out on this side from the
//! server's current documents, so it needs only read access; exits like diff(1): 0 when
//! nothing would change, 1 when something would, 2 when it could not tell.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use promenade_model::canonical;
use promenade_model::diff::diff_file;
use promenade_model::resources::ResourceKind;
use promenade_model::stored::StoredResource;
use serde::Serialize;

use crate::args::Output;
use crate::client::Client;
use crate::commands::{collect_files, read_offline, show};

/// What applying one resource would do.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceDiff {
    kind: ResourceKind,
    name: String,
    /// `created`, `changed` or `unchanged`.
    change: &'static str,
    /// The unified diff of the stored and the local canonical YAML; empty when unchanged.
    diff: String,
}

pub async fn diff(client: &Client, paths: &[PathBuf], output: Output) -> anyhow::Result<ExitCode> {
    match compare(client, paths).await {
        Ok(diffs) => {
            let differ = diffs.iter().any(|d| d.change != "unchanged");
            show(output, &diffs, |diffs| {
                for diff in diffs {
                    print!("{}", diff.diff);
                }
                let count = |change: &str| diffs.iter().filter(|d| d.change == change).count();
                println!(
                    "{} to create, {} to change, {} unchanged",
                    count("created"),
                    count("changed"),
                    count("unchanged")
                );
            });
            Ok(ExitCode::from(u8::from(differ)))
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            Ok(ExitCode::from(2))
        }
    }
}

async fn compare(client: &Client, paths: &[PathBuf]) -> anyhow::Result<Vec<ResourceDiff>> {
    let local = read_offline(&collect_files(paths)?, "nothing compared")?;
    // One request per kind the files hold.
    let mut stored: BTreeMap<ResourceKind, Vec<StoredResource>> = BTreeMap::new();
    for resource in &local {
        if let Entry::Vacant(slot) = stored.entry(resource.kind()) {
            slot.insert(
                client
                    .get(&format!("/{}", resource.kind().as_str()))
                    .await?,
            );
        }
    }
    let mut diffs = Vec::new();
    for resource in &local {
        let kind = resource.kind();
        let name = resource.name().to_string();
        let ours = canonical::to_yaml(resource)?;
        let theirs = stored
            .get(&kind)
            .and_then(|list| list.iter().find(|s| s.name == name))
            .map(|s| s.document.as_bytes());
        let path = format!("{kind}/{name}");
        let (change, diff) = match diff_file(&path, theirs, Some(ours.as_bytes())) {
            None => ("unchanged", String::new()),
            Some(diff) if theirs.is_none() => ("created", diff.unified),
            Some(diff) => ("changed", diff.unified),
        };
        diffs.push(ResourceDiff {
            kind,
            name,
            change,
            diff,
        });
    }
    Ok(diffs)
}
