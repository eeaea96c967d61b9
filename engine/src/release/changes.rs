//! What promoting the frozen source does to the applications of one repository in one
//! environment: the new folder contents and their diffs. Preview and promotion share it,
//! so a preview shows exactly what a promotion would write.

use std::collections::BTreeMap;

use git2::Oid;
use promenade_model::diff::{diff_trees, ApplicationDiff};
use promenade_model::resources::Application;
use promenade_model::template::{CompiledTemplate, FileTree};

use crate::git::{FolderUpdate, Repo};
use crate::{EngineError, Result};

/// One application's change.
#[derive(Debug, Clone)]
pub struct AppChange {
    pub application: String,
    pub folder: String,
    /// The folder's complete new contents.
    pub files: FileTree,
    /// Empty when the application is already at the release's content.
    pub diff: ApplicationDiff,
}

impl AppChange {
    pub fn changed(&self) -> bool {
        !self.diff.is_empty()
    }

    pub fn update(&self) -> FolderUpdate {
        FolderUpdate {
            folder: self.folder.clone(),
            files: self.files.clone(),
        }
    }
}

/// Applies the template to every application of `apps` against the target folders at
/// `tip` of `repo`.
#[tracing::instrument(level = "debug", skip_all)]
pub fn compute(
    repo: &Repo,
    tip: Oid,
    environment: &str,
    apps: &[&Application],
    template: &CompiledTemplate,
    sources: &BTreeMap<String, FileTree>,
) -> Result<Vec<AppChange>> {
    let folders: Vec<String> = apps.iter().map(|app| app.path_for(environment)).collect();
    let targets =
        repo.read_folders(tip, &folders.iter().map(String::as_str).collect::<Vec<_>>())?;
    apps.iter()
        .zip(folders)
        .zip(targets)
        .map(|((app, folder), target)| {
            let source = sources.get(&app.name).ok_or_else(|| {
                EngineError::Internal(format!("no frozen source for application {:?}", app.name))
            })?;
            let target = target?;
            let applied = template
                .apply(source, &target)
                .map_err(|e| EngineError::Template {
                    application: app.name.clone(),
                    environment: environment.to_string(),
                    message: e.to_string(),
                })?;
            let diff = ApplicationDiff::new(
                app.name.clone(),
                diff_trees(&folder, &target, &applied.files),
            );
            Ok(AppChange {
                application: app.name.clone(),
                folder,
                files: applied.files,
                diff,
            })
        })
        .collect()
}
