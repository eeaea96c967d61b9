//! What changed between two releases of a product: their frozen sources, application by
//! application, read from git at the commits each release froze.

use std::collections::BTreeSet;

use promenade_model::diff::{diff_trees, ApplicationDiff};
use promenade_model::release::ReleaseComparison;
use promenade_model::template::FileTree;
use tracing::instrument;

use super::{snapshot_of, source};
use crate::auth::{allow, Principal, Role};
use crate::{Engine, EngineError, Result};

impl Engine {
    /// The source of release `to` against that of release `from`, for every application
    /// either carries; both must be releases of one product.
    #[instrument(skip(self, who), fields(principal = %who.name))]
    pub async fn compare_releases(
        &self,
        who: &Principal,
        from: &str,
        to: &str,
    ) -> Result<ReleaseComparison> {
        allow(who, Role::Viewer, "reading releases")?;
        let (older, newer) = (self.load_release(from).await?, self.load_release(to).await?);
        if older.product != newer.product {
            return Err(EngineError::BadRequest(format!(
                "release {from} is of product {:?} and release {to} of {:?}: only releases of one product compare",
                older.product, newer.product
            )));
        }
        let (before, after) = (snapshot_of(&older)?, snapshot_of(&newer)?);
        let keyring = self.keyring(&[&before.product, &after.product]).await?;
        let engine = self.clone();
        let comparison = ReleaseComparison {
            from: older.id.clone(),
            from_version: older.version.clone(),
            to: newer.id.clone(),
            to_version: newer.version.clone(),
            applications: Vec::new(),
            unchanged: 0,
        };
        tokio::task::spawn_blocking(move || {
            let old_trees = source::read_trees(&before.source, engine.git(), &keyring)?;
            let new_trees = source::read_trees(&after.source, engine.git(), &keyring)?;
            let folder = |name: &str| {
                after
                    .source
                    .applications
                    .iter()
                    .chain(&before.source.applications)
                    .find(|a| a.name == name)
                    .map(|a| a.folder.clone())
                    .unwrap_or_default()
            };
            let names: BTreeSet<&String> = old_trees.keys().chain(new_trees.keys()).collect();
            let empty = FileTree::new();
            let mut comparison = comparison;
            for name in names {
                let files = diff_trees(
                    &folder(name),
                    old_trees.get(name).unwrap_or(&empty),
                    new_trees.get(name).unwrap_or(&empty),
                );
                if files.is_empty() {
                    comparison.unchanged += 1;
                } else {
                    comparison
                        .applications
                        .push(ApplicationDiff::new(name.clone(), files));
                }
            }
            Ok(comparison)
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
    }
}
