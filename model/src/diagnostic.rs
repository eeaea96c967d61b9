//! Problems found in resource files, each with a position, a stable code and a message.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::resources::ResourceKind;

/// How a diagnostic affects applying the resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The resources cannot be applied.
    Error,
    /// Valid, but only an administrator may apply it; the server checks the author.
    AdminOnly,
}

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// A stable, machine-readable code per rule.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Code {
            $($(#[$doc])* #[serde(rename = $text)] $variant,)*
        }

        impl Code {
            /// The code as written in JSON output, e.g. `flow-cycle`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    /// The file is not valid YAML (including duplicate keys and nesting limits).
    YamlSyntax = "yaml-syntax",
    /// A document is not a mapping.
    InvalidDocument = "invalid-document",
    /// `apiVersion` is not `promenade.dev/v1alpha1`.
    UnsupportedApiVersion = "unsupported-api-version",
    /// `kind` is not one of the five kinds.
    UnknownKind = "unknown-kind",
    /// A field that the kind does not have.
    UnknownField = "unknown-field",
    /// A required field is absent.
    MissingField = "missing-field",
    /// A value of the wrong type or form (including durations).
    InvalidValue = "invalid-value",
    /// `metadata.name` is not a DNS label.
    InvalidName = "invalid-name",
    /// Two resources of one kind, or two applications of one product, share a name.
    DuplicateName = "duplicate-name",
    /// A reference to an environment that no Environment defines.
    UnknownEnvironment = "unknown-environment",
    /// A policy selector names a product that no Product defines.
    UnknownProduct = "unknown-product",
    /// A product names a template that no PromotionTemplate defines.
    UnknownTemplate = "unknown-template",
    /// A product names a flow that no PromotionFlow defines.
    UnknownFlow = "unknown-flow",
    /// `dependsOn` names an environment that is neither the trigger nor a step of the flow.
    DependencyNotInFlow = "dependency-not-in-flow",
    /// Two steps of a flow promote to the same environment.
    DuplicateStep = "duplicate-step",
    /// The trigger environment is also a step.
    TriggerAsStep = "trigger-as-step",
    /// `dependsOn` edges form a cycle.
    FlowCycle = "flow-cycle",
    /// A step that no release can ever reach.
    UnreachableStep = "unreachable-step",
    /// A JSONPath outside the supported subset.
    InvalidJsonPath = "invalid-jsonpath",
    /// A file glob that does not compile.
    InvalidGlob = "invalid-glob",
    /// A path that is absolute or climbs out of its folder with `..`.
    PathEscapesFolder = "path-escapes-folder",
    /// A template without files.
    EmptyTemplate = "empty-template",
    /// An action where it has no meaning (e.g. `approval` in `verify`).
    ActionNotAllowed = "action-not-allowed",
    /// A `command` action: only administrators may define it.
    AdminOnlyAction = "admin-only-action",
    /// A URL that is not `http://` or `https://` (hooks, checks), or a repository URL
    /// Promenade cannot use (an unknown transport, a token in it).
    InvalidUrl = "invalid-url",
    /// The `promenade.dev/layout` annotation is not a map of environment to `[x, y]`.
    InvalidLayout = "invalid-layout",
    /// A repository the server may not use (a local path without
    /// `--allow-local-repositories`, `http://` without the admin setting).
    RemoteRefused = "remote-refused",
    /// Credentials that are not stored, or of a kind the repository cannot use.
    UnknownCredentials = "unknown-credentials",
    /// A secret-looking value written into a resource, which every viewer reads.
    SecretInResource = "secret-in-resource",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The resource a diagnostic is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    /// Its kind.
    pub kind: ResourceKind,
    /// Its name.
    pub name: String,
}

/// One problem, at the offending node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// The file name as given to the loader.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Whether it blocks applying, or needs an administrator.
    pub severity: Severity,
    /// The rule.
    pub code: Code,
    /// What is wrong, for people.
    pub message: String,
    /// The field path inside the document, e.g. `spec.steps[2].dependsOn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The resource, when the document got far enough to have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceRef>,
}

impl Diagnostic {
    /// Whether it blocks applying the resources.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: message`, as the CLI prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}
