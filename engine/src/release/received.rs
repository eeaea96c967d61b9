//! The change one application received in one environment of a release: the diff of
//! its folder made by the step's commit, read back from git so a finished release still
//! shows exactly what it wrote.

use git2::Oid;
use promenade_model::diff::{diff_trees, ApplicationDiff};
use promenade_model::template::FileTree;
use tracing::instrument;

use super::snapshot_of;
use crate::auth::{allow, Principal, Role};
use crate::{Engine, EngineError, Result};

impl Engine {
    /// What `application` received in `environment` from release `id`: its folder at the
    /// promotion commit against the same folder at that commit's first parent.
    #[instrument(skip(self, who), fields(principal = %who.name))]
    pub async fn received_change(
        &self,
        who: &Principal,
        id: &str,
        environment: &str,
        application: &str,
    ) -> Result<ApplicationDiff> {
        allow(who, Role::Viewer, "reading releases")?;
        let release = self.load_release(id).await?;
        let step = release
            .steps
            .iter()
            .find(|s| s.environment == environment)
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "release {id} has no step in environment {environment:?}"
                ))
            })?;
        let commit = step
            .applications
            .iter()
            .find(|a| a.application == application)
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "release {id} does not promote application {application:?}"
                ))
            })?
            .commit
            .clone()
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "{application} received no commit in {environment} from release {id}"
                ))
            })?;
        let commit = Oid::from_str(&commit).map_err(|e| {
            EngineError::Internal(format!("release {id} records commit {commit:?}: {e}"))
        })?;
        let snapshot = snapshot_of(&release)?;
        let app = snapshot
            .product
            .spec
            .applications
            .iter()
            .find(|a| a.name == application)
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "release {id} does not promote application {application:?}"
                ))
            })?;
        let repository = app.repository_for(environment, &snapshot.product.spec.repository);
        let url = repository.url.clone();
        // The commit is on the environment's branch, or on a pull request's branch.
        let mut branches = vec![repository.branch().to_string()];
        branches.extend(
            step.detail
                .repositories
                .iter()
                .filter(|r| r.repository == url)
                .filter_map(|r| r.pull_request_branch.clone()),
        );
        let folder = app.path_for(environment);
        let keyring = self.keyring(&[&snapshot.product]).await?;
        let engine = self.clone();
        let application = application.to_string();
        tokio::task::spawn_blocking(move || {
            engine.git().with_clone(&url, &keyring, |repo| {
                for branch in &branches {
                    if repo.has_commit(commit) {
                        break;
                    }
                    repo.fetch_if_exists(branch)?;
                }
                if !repo.has_commit(commit) {
                    return Err(EngineError::NotFound(format!(
                        "commit {commit} is no longer in {url}"
                    )));
                }
                let after = repo.read_folder(commit, &folder)?;
                let before = match repo.first_parent(commit)? {
                    Some(parent) => repo.read_folder(parent, &folder)?,
                    None => FileTree::new(),
                };
                Ok(ApplicationDiff::new(
                    application,
                    diff_trees(&folder, &before, &after),
                ))
            })
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
    }
}
