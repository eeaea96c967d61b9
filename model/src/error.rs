//! The crate's one error type, for everything that is not a resource diagnostic.

use crate::graph::FlowProblem;

/// What went wrong in a model operation.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A JSONPath outside the supported subset or malformed.
    #[error("invalid JSONPath `{expression}` at character {position}: {message}")]
    JsonPath {
        /// The expression.
        expression: String,
        /// 1-based character position of the problem.
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// A duration not written like `30m`, `24h` or `1h30m`.
    #[error("invalid duration `{value}`: {message}")]
    Duration {
        /// The text.
        value: String,
        /// What is wrong.
        message: String,
    },
    /// A file glob that does not compile.
    #[error("invalid glob `{pattern}`: {message}")]
    Glob {
        /// The glob.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// A path that is absolute or climbs out of its folder.
    #[error("path `{path}` escapes the application folder: {message}")]
    PathEscapes {
        /// The path.
        path: String,
        /// Why.
        message: String,
    },
    /// A file that a template names is missing from the source environment.
    #[error("`{file}` is missing from the source environment")]
    MissingSourceFile {
        /// The file.
        file: String,
    },
    /// A YAML or JSON file that does not parse.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A file that attributes cannot be read from or written to.
    #[error("`{file}`: {message}")]
    UnsupportedFile {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// A definite attribute path that the source file does not have.
    #[error("`{file}`: `{path}` is not in the source environment's file")]
    AttributeMissing {
        /// The file.
        file: String,
        /// The JSONPath.
        path: String,
    },
    /// An attribute that cannot be set without changing more than the attribute.
    #[error("`{file}`: cannot set `{path}`: {message}")]
    Edit {
        /// The file.
        file: String,
        /// The concrete JSONPath.
        path: String,
        /// Why.
        message: String,
    },
    /// The version of a release cannot be read.
    #[error("version source `{file}` `{path}`: {message}")]
    VersionSource {
        /// The file.
        file: String,
        /// The JSONPath.
        path: String,
        /// Why.
        message: String,
    },
    /// A flow whose graph is not a DAG rooted at the trigger.
    #[error("invalid flow: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Flow {
        /// Every problem of the flow.
        problems: Vec<FlowProblem>,
    },
    /// A `promenade.dev/layout` annotation that is not a map of environment to `[x, y]`.
    #[error("invalid layout annotation: {message}")]
    Layout {
        /// Why.
        message: String,
    },
    /// Canonical YAML could not be produced.
    #[error("cannot write YAML: {message}")]
    Serialize {
        /// Why.
        message: String,
    },
}
