//! The frozen source of a release: for every application, the repository, folder and
//! commit of the source environment at creation. Every environment of the flow receives
//! the content at exactly these commits, however long the release runs.

use std::collections::BTreeMap;

use git2::Oid;
use promenade_model::template::FileTree;

use promenade_model::release::{Source, SourceApplication};

use super::plan::{Plan, SourceRef};
use crate::credentials::Keyring;
use crate::git::GitCache;
use crate::{EngineError, Result};

/// Reads every application's source folder at its frozen commit.
pub fn read_trees(source: &Source, git: &GitCache, keyring: &Keyring) -> Result<SourceTrees> {
    let mut trees = SourceTrees::new();
    let mut fetched = Vec::new();
    for app in &source.applications {
        let lock = git.lock(&app.repository);
        let _guard = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let repo = git.open(&app.repository, keyring)?;
        let commit = parse_oid(&app.commit)?;
        let key = (app.repository.as_str(), app.branch.as_str());
        if !repo.has_commit(commit) && !fetched.contains(&key) {
            // A fresh clone cache (another replica, a wiped data folder): fetch first.
            repo.fetch(&app.branch)?;
            fetched.push(key);
        }
        trees.insert(app.name.clone(), repo.read_folder(commit, &app.folder)?);
    }
    Ok(trees)
}

/// The content of every application's frozen source folder, by application name.
pub type SourceTrees = BTreeMap<String, FileTree>;

/// Freezes the source of a new release: fetches each source repository once and takes
/// its tip (or the requested commit, or an earlier release's source). Returns the
/// folders' content too, which the caller would otherwise read again.
pub fn freeze(
    git: &GitCache,
    keyring: &Keyring,
    plan: &Plan,
    requested: Option<&SourceRef>,
    earlier: Option<&Source>,
) -> Result<(Source, SourceTrees)> {
    if let (Some(SourceRef::Release(id)), None) = (requested, earlier) {
        return Err(EngineError::NotFound(format!(
            "release {id:?} does not exist"
        )));
    }
    let env = &plan.source_environment;
    let mut tips: BTreeMap<(String, String), Oid> = BTreeMap::new();
    let mut applications = Vec::new();
    let mut trees = SourceTrees::new();
    for app in &plan.applications {
        let repo_spec = app.repository_for(env, &plan.product.spec.repository);
        let key = (repo_spec.url.clone(), repo_spec.branch().to_string());
        let lock = git.lock(&repo_spec.url);
        let _guard = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let repo = git.open(&repo_spec.url, keyring)?;
        let tip = match tips.get(&key) {
            Some(tip) => *tip,
            None => {
                let tip = repo.fetch(repo_spec.branch())?;
                tips.insert(key.clone(), tip);
                tip
            }
        };
        let (commit, folder) = match (requested, earlier) {
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
        };
        let files = repo.read_folder(commit, &folder)?;
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
            committed_at: Some(repo.committed_at(commit)?),
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
