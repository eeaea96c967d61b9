//! Preview diffs: what a promotion will change, per file, application and environment.
//!
//! Unified diffs with git-style headers, so they read like `git diff` and can be fed
//! to `git apply`; `similar` computes them (Myers diff, line based). Every type is
//! serde-serializable for the API and the UI.

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};

use crate::template::FileTree;

/// What happened to a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileChange {
    /// New file.
    Added,
    /// Changed file.
    Modified,
    /// Deleted file.
    Removed,
}

/// The diff of one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDiff {
    /// Path as shown in the headers (relative to the repository root when a prefix is given).
    pub path: String,
    /// Added, modified or removed.
    pub change: FileChange,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
    /// Whether either side is not UTF-8 text (no line counts then).
    pub binary: bool,
    /// The unified diff, from `diff --git` on.
    pub unified: String,
}

/// Context lines around each change, as `git diff` shows by default.
const CONTEXT: usize = 3;

/// Files whose two sides together are larger than this are not diffed line by line
/// (Myers' diff can take time quadratic in the lines of two very different files): the
/// diff says only that they differ and how big they are.
pub const MAX_DIFF_BYTES: usize = 1024 * 1024;

/// The diff of one file, or `None` if both sides are equal. `None` content means the
/// file does not exist on that side.
pub fn diff_file(path: &str, old: Option<&[u8]>, new: Option<&[u8]>) -> Option<FileDiff> {
    if old == new {
        return None;
    }
    let change = match (old, new) {
        (None, _) => FileChange::Added,
        (_, None) => FileChange::Removed,
        _ => FileChange::Modified,
    };
    let (a, b) = (format!("a/{path}"), format!("b/{path}"));
    let mut unified = format!("diff --git {a} {b}\n");
    match change {
        FileChange::Added => unified.push_str("new file mode 100644\n"),
        FileChange::Removed => unified.push_str("deleted file mode 100644\n"),
        FileChange::Modified => {}
    }
    let old_name = if old.is_some() {
        a.as_str()
    } else {
        "/dev/null"
    };
    let new_name = if new.is_some() {
        b.as_str()
    } else {
        "/dev/null"
    };
    let texts = (
        std::str::from_utf8(old.unwrap_or_default()),
        std::str::from_utf8(new.unwrap_or_default()),
    );
    let (Ok(old_text), Ok(new_text)) = texts else {
        unified.push_str(&format!("Binary files {old_name} and {new_name} differ\n"));
        return Some(FileDiff {
            path: path.to_owned(),
            change,
            added: 0,
            removed: 0,
            binary: true,
            unified,
        });
    };
    if old_text.len() + new_text.len() > MAX_DIFF_BYTES {
        unified.push_str(&format!(
            "Large files {old_name} and {new_name} differ ({} and {} bytes; not compared line by line)\n",
            old_text.len(),
            new_text.len()
        ));
        return Some(FileDiff {
            path: path.to_owned(),
            change,
            added: 0,
            removed: 0,
            binary: false,
            unified,
        });
    }
    let diff = TextDiff::from_lines(old_text, new_text);
    let (mut added, mut removed) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            ChangeTag::Insert => added += 1,
            ChangeTag::Delete => removed += 1,
            ChangeTag::Equal => {}
        }
    }
    unified.push_str(
        &diff
            .unified_diff()
            .context_radius(CONTEXT)
            .header(old_name, new_name)
            .to_string(),
    );
    Some(FileDiff {
        path: path.to_owned(),
        change,
        added,
        removed,
        binary: false,
        unified,
    })
}

/// The diffs between two trees, in path order. `prefix` (e.g. `apps/api/envs/prod`) is
/// put before every path so headers name repository paths; empty for none.
pub fn diff_trees(prefix: &str, old: &FileTree, new: &FileTree) -> Vec<FileDiff> {
    let paths: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    paths
        .into_iter()
        .filter_map(|path| {
            let shown = match prefix.trim_end_matches('/') {
                "" => path.clone(),
                prefix => format!("{prefix}/{path}"),
            };
            diff_file(
                &shown,
                old.get(path).map(Vec::as_slice),
                new.get(path).map(Vec::as_slice),
            )
        })
        .collect()
}

/// The changes to one application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDiff {
    /// Application name.
    pub application: String,
    /// Changed files.
    pub files: Vec<FileDiff>,
    /// Lines added over all files.
    pub added: usize,
    /// Lines removed over all files.
    pub removed: usize,
}

impl ApplicationDiff {
    /// Totals the files.
    pub fn new(application: impl Into<String>, files: Vec<FileDiff>) -> Self {
        Self {
            application: application.into(),
            added: files.iter().map(|f| f.added).sum(),
            removed: files.iter().map(|f| f.removed).sum(),
            files,
        }
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The changes to one environment, over every application of a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentDiff {
    /// Environment name.
    pub environment: String,
    /// Applications with changes (unchanged ones are left out).
    pub applications: Vec<ApplicationDiff>,
    /// Lines added over all applications.
    pub added: usize,
    /// Lines removed over all applications.
    pub removed: usize,
    /// Changed files over all applications.
    pub files: usize,
}

impl EnvironmentDiff {
    /// Totals the applications, dropping those without changes.
    pub fn new(environment: impl Into<String>, applications: Vec<ApplicationDiff>) -> Self {
        let applications: Vec<ApplicationDiff> =
            applications.into_iter().filter(|a| !a.is_empty()).collect();
        Self {
            environment: environment.into(),
            added: applications.iter().map(|a| a.added).sum(),
            removed: applications.iter().map(|a| a.removed).sum(),
            files: applications.iter().map(|a| a.files.len()).sum(),
            applications,
        }
    }

    /// Whether the environment is already at the release's content (`unchanged`).
    pub fn is_unchanged(&self) -> bool {
        self.applications.is_empty()
    }

    /// Every file's diff, one after the other, like `git diff` output.
    pub fn unified(&self) -> String {
        self.applications
            .iter()
            .flat_map(|a| &a.files)
            .map(|f| f.unified.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_files_are_summarised_not_compared() {
        let old = "a: 1\n".repeat(150_000);
        let new = "b: 2\n".repeat(150_000);
        let diff = diff_file("big.yaml", Some(old.as_bytes()), Some(new.as_bytes())).unwrap();
        assert_eq!(
            diff.unified,
            "diff --git a/big.yaml b/big.yaml\nLarge files a/big.yaml and b/big.yaml differ (750000 and 750000 bytes; not compared line by line)\n"
        );
        assert_eq!(diff.change, FileChange::Modified);
    }

    #[test]
    fn modified_files_get_git_headers_and_counts() {
        let diff = diff_file(
            "values.yaml",
            Some(b"a: 1\nb: 2\nc: 3\n"),
            Some(b"a: 1\nb: 9\nc: 3\n"),
        )
        .unwrap();
        assert_eq!(
            diff.unified,
            "diff --git a/values.yaml b/values.yaml\n--- a/values.yaml\n+++ b/values.yaml\n@@ -1,3 +1,3 @@\n a: 1\n-b: 2\n+b: 9\n c: 3\n"
        );
        assert_eq!(
            (diff.added, diff.removed, diff.change),
            (1, 1, FileChange::Modified)
        );
        assert_eq!(diff_file("same", Some(b"x"), Some(b"x")), None);
    }

    #[test]
    fn added_removed_and_binary_files() {
        let added = diff_file("new.yaml", None, Some(b"x: 1\n")).unwrap();
        assert_eq!(
            added.unified,
            "diff --git a/new.yaml b/new.yaml\nnew file mode 100644\n--- /dev/null\n+++ b/new.yaml\n@@ -0,0 +1 @@\n+x: 1\n"
        );
        let removed = diff_file("old.yaml", Some(b"x: 1\n"), None).unwrap();
        assert_eq!(
            (removed.change, removed.added, removed.removed),
            (FileChange::Removed, 0, 1)
        );
        assert!(removed
            .unified
            .contains("deleted file mode 100644\n--- a/old.yaml\n+++ /dev/null\n"));
        let binary = diff_file("logo.png", Some(&[0xff, 0x00]), Some(&[0xfe])).unwrap();
        assert!(binary.binary);
        assert_eq!(
            binary.unified,
            "diff --git a/logo.png b/logo.png\nBinary files a/logo.png and b/logo.png differ\n"
        );
    }

    #[test]
    fn totals_roll_up_by_application_and_environment() {
        let old = FileTree::from([("values.yaml".into(), b"a: 1\n".to_vec())]);
        let new = FileTree::from([
            ("values.yaml".into(), b"a: 2\n".to_vec()),
            ("extra.yaml".into(), b"b: 1\nc: 1\n".to_vec()),
        ]);
        let files = diff_trees("apps/api/envs/prod/", &old, &new);
        assert_eq!(
            files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            [
                "apps/api/envs/prod/extra.yaml",
                "apps/api/envs/prod/values.yaml"
            ]
        );
        let api = ApplicationDiff::new("api", files);
        assert_eq!((api.added, api.removed), (3, 1));
        let environment =
            EnvironmentDiff::new("prod", vec![api, ApplicationDiff::new("web", vec![])]);
        assert_eq!(
            (environment.added, environment.removed, environment.files),
            (3, 1, 2)
        );
        assert_eq!(environment.applications.len(), 1);
        assert!(!environment.is_unchanged());
        assert!(environment
            .unified()
            .starts_with("diff --git a/apps/api/envs/prod/extra.yaml"));
    }
}
