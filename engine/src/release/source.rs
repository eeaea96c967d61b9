//! The frozen source of a release: for every application, the repository, folder and
//! commit of the source environment at creation. Every environment of the flow receives
//! the content at exactly these commits, however long the release runs.

use std::collections::BTreeMap;

use git2::Oid;
use promenade_model::template::FileTree;

use promenade_model::release::{Source, SourceApplication};

use super::plan::{Plan, SourceRef};
use crate::credentials::Keyring;
use crate::git::{Clones, GitCache};
use crate::{EngineError, Result};

/// Reads every application's source folder at its frozen commit.
pub fn read_trees(source: &Source, git: &GitCache, keyring: &Keyring) -> Result<SourceTrees> {
    let mut clones = Clones::new(git, keyring);
    let mut fetched = Vec::new();
    let mut located = Vec::with_capacity(source.applications.len());
    for app in &source.applications {
        let commit = parse_oid(&app.commit)?;
        let key = (app.repository.as_str(), app.branch.as_str());
        clones.with(&app.repository, |repo| {
            // A fresh clone cache (another replica, a wiped data folder): fetch first.
            if !repo.has_commit(commit) && !fetched.contains(&key) {
                repo.fetch(&app.branch)?;
                fetched.push(key);
            }
            Ok(())
        })?;
        located.push((app.repository.as_str(), commit, app.folder.as_str()));
    }
    let read = read_together(&mut clones, &located)?;
    Ok(source
        .applications
        .iter()
        .zip(read)
        .map(|(app, (files, _))| (app.name.clone(), files))
        .collect())
}

/// The content of every application's frozen source folder, by application name.
pub type SourceTrees = BTreeMap<String, FileTree>;

/// Reads each `(repository, commit, folder)`, in order, with the commit's time: the
/// folders of one commit together, so the trees above them are read once for all
/// (a thousand applications under `apps/` share one large tree).
fn read_together(
    clones: &mut Clones,
    located: &[(&str, Oid, &str)],
) -> Result<Vec<(FileTree, String)>> {
    let mut by_commit: BTreeMap<(&str, Oid), Vec<usize>> = BTreeMap::new();
    for (index, (url, commit, _)) in located.iter().enumerate() {
        by_commit.entry((url, *commit)).or_default().push(index);
    }
    let mut read: Vec<Option<(FileTree, String)>> = vec![None; located.len()];
    for ((url, commit), indexes) in by_commit {
        clones.with(url, |repo| {
            let committed_at = repo.committed_at(commit)?;
            let folders: Vec<&str> = indexes.iter().map(|&i| located[i].2).collect();
            for (index, files) in indexes
                .into_iter()
                .zip(repo.read_folders(commit, &folders)?)
            {
                read[index] = Some((files?, committed_at.clone()));
            }
            Ok(())
        })?;
    }
    // Every index is in exactly one group above.
    Ok(read.into_iter().flatten().collect())
}

/// Branch tips a caller has just fetched, by (repository URL, branch).
pub(crate) type Tips = BTreeMap<(String, String), Oid>;

/// Freezes the source of a new release: fetches each source repository once and takes
/// its tip (or the requested commit, or an earlier release's source). A branch in
/// `fetched` is not fetched again: its tip there is the one taken (a trigger's round
/// passes what it saw, so the release promotes exactly the change that started it).
/// Returns the folders' content too, which the caller would otherwise read again.
#[tracing::instrument(level = "debug", skip_all)]
pub fn freeze(
    git: &GitCache,
    keyring: &Keyring,
    plan: &Plan,
    requested: Option<&SourceRef>,
    earlier: Option<&Source>,
    fetched: &Tips,
) -> Result<(Source, SourceTrees)> {
    if let (Some(SourceRef::Release(id)), None) = (requested, earlier) {
        return Err(EngineError::NotFound(format!(
            "release {id:?} does not exist"
        )));
    }
    let env = &plan.source_environment;
    let mut tips = fetched.clone();
    let mut clones = Clones::new(git, keyring);
    // Where each application's source is: repository and branch, commit, folder.
    let mut located: Vec<((String, String), Oid, String)> = Vec::new();
    for app in &plan.applications {
        let repo_spec = app.repository_for(env, &plan.product.spec.repository);
        let key = (repo_spec.url.clone(), repo_spec.branch().to_string());
        let (commit, folder) = clones.with(&repo_spec.url, |repo| {
            let tip = match tips.get(&key) {
                Some(tip) => *tip,
                None => {
                    let tip = repo.fetch(repo_spec.branch())?;
                    tips.insert(key.clone(), tip);
                    tip
                }
            };
            Ok(match (requested, earlier) {
                (_, Some(earlier)) => {
                    let frozen = earlier
                        .applications
                        .iter()
                        .find(|a| a.name == app.name)
                        .ok_or_else(|| {
                            EngineError::BadRequest(format!(
                                "the earlier release did not promote application {:?}",
                                app.name
                            ))
                        })?;
                    (parse_oid(&frozen.commit)?, frozen.folder.clone())
                }
                (Some(SourceRef::Commit(commit)), None) => {
                    (repo.resolve_commit(commit)?, app.path_for(env))
                }
                _ => (tip, app.path_for(env)),
            })
        })?;
        located.push((key, commit, folder));
    }
    let read = read_together(
        &mut clones,
        &located
            .iter()
            .map(|(key, commit, folder)| (key.0.as_str(), *commit, folder.as_str()))
            .collect::<Vec<_>>(),
    )?;
    let mut applications = Vec::new();
    let mut trees = SourceTrees::new();
    for ((app, (key, commit, folder)), (files, committed_at)) in
        plan.applications.iter().zip(located).zip(read)
    {
        if files.is_empty() {
            return Err(EngineError::BadRequest(format!(
                "application {:?} has no files in {folder:?} at {commit}",
                app.name
            )));
        }
        let version = plan
            .template
            .read_version(&files)
            .map_err(|e| EngineError::BadRequest(format!("application {:?}: {e}", app.name)))?;
        applications.push(SourceApplication {
            name: app.name.clone(),
            repository: key.0,
            branch: key.1,
            folder,
            commit: commit.to_string(),
            committed_at: Some(committed_at),
            version,
        });
        trees.insert(app.name.clone(), files);
    }
    let source = Source {
        environment: earlier
            .map(|e| e.environment.clone())
            .unwrap_or_else(|| env.clone()),
        applications,
    };
    Ok((source, trees))
}

pub(crate) fn parse_oid(text: &str) -> Result<Oid> {
    Oid::from_str(text).map_err(|_| EngineError::BadRequest(format!("{text:?} is not a commit id")))
}
