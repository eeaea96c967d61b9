//! Multi-document YAML loading into typed resources, keeping each document's tree so
//! that later checks can point at the exact node they are about.

use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, ResourceRef, Severity};
use crate::path::{FieldPath, PathSegment};
use crate::resources::{DecodeProblem, Resource};
use crate::yaml::{self, Node};

/// A resource and where it was read from.
#[derive(Clone, Debug)]
pub struct LoadedResource {
    /// The resource.
    pub resource: Resource,
    /// Its file and document.
    pub origin: Origin,
}

impl LoadedResource {
    /// A problem at the node `path` of this resource's document.
    pub fn diagnostic(
        &self,
        path: &FieldPath,
        severity: Severity,
        code: Code,
        message: String,
    ) -> Diagnostic {
        let (line, column) = self.origin.position(path);
        Diagnostic {
            file: self.origin.file.clone(),
            line,
            column,
            severity,
            code,
            message,
            path: Some(path.to_string()),
            resource: Some(ResourceRef {
                kind: self.resource.kind(),
                name: self.resource.name().to_owned(),
            }),
        }
    }
}

/// Where a resource was read from.
#[derive(Clone, Debug)]
pub struct Origin {
    /// The file name as given to the loader.
    pub file: String,
    /// The document's index in the file, from 0.
    pub document: usize,
    tree: Arc<Node>,
}

impl Origin {
    /// Line and column of the node at `path`, or of its deepest existing ancestor.
    pub fn position(&self, path: &FieldPath) -> (usize, usize) {
        let node = self.tree.locate(path.segments(), false);
        (node.mark.line, node.mark.column)
    }

    /// Line and column of the key that ends `path` (of the value if it is an index).
    pub fn key_position(&self, path: &FieldPath) -> (usize, usize) {
        let node = self.tree.locate(path.segments(), true);
        (node.mark.line, node.mark.column)
    }
}

/// Reads every document of one file. Documents that are empty (a stray `---`, a
/// comment-only file) are skipped; every other document yields a resource or a
/// diagnostic, so one bad document does not hide the others.
pub fn load(file: &str, text: &str) -> (Vec<LoadedResource>, Vec<Diagnostic>) {
    let stream = yaml::parse(text);
    let mut resources = Vec::new();
    let mut diagnostics = Vec::new();
    for (document, root) in stream.documents.into_iter().enumerate() {
        if root.is_null() {
            continue;
        }
        match Resource::from_json(root.to_json()) {
            Ok(resource) => resources.push(LoadedResource {
                resource,
                origin: Origin {
                    file: file.to_owned(),
                    document,
                    tree: Arc::new(root),
                },
            }),
            Err(error) => {
                let node = match error.problem {
                    DecodeProblem::UnknownField => root.locate(error.path.segments(), true),
                    _ => unknown_variant_key(&root, &error.path, &error.message)
                        .unwrap_or_else(|| root.locate(error.path.segments(), false)),
                };
                let code = match error.problem {
                    DecodeProblem::ApiVersion => Code::UnsupportedApiVersion,
                    DecodeProblem::Kind => Code::UnknownKind,
                    DecodeProblem::UnknownField => Code::UnknownField,
                    DecodeProblem::MissingField => Code::MissingField,
                    DecodeProblem::Invalid if error.path.segments().is_empty() => {
                        Code::InvalidDocument
                    }
                    DecodeProblem::Invalid => Code::InvalidValue,
                };
                let message = explain(&error.message);
                // serde's messages do not say where; the checks of apiVersion and kind do.
                let message = match (error.problem, error.path.segments()) {
                    (DecodeProblem::ApiVersion | DecodeProblem::Kind, _) | (_, []) => message,
                    _ => format!("{}: {message}", error.path),
                };
                diagnostics.push(Diagnostic {
                    file: file.to_owned(),
                    line: node.mark.line,
                    column: node.mark.column,
                    severity: Severity::Error,
                    code,
                    message,
                    path: Some(error.path.to_string()).filter(|p| !p.is_empty()),
                    resource: identify(&root),
                });
            }
        }
    }
    if let Some(error) = stream.error {
        diagnostics.push(Diagnostic {
            file: file.to_owned(),
            line: error.mark.line,
            column: error.mark.column,
            severity: Severity::Error,
            code: Code::YamlSyntax,
            message: error.message,
            path: None,
            resource: None,
        });
    }
    (resources, diagnostics)
}

/// serde reports an unknown action kind at the action, not at its key; point at the key.
fn unknown_variant_key<'a>(root: &'a Node, path: &FieldPath, message: &str) -> Option<&'a Node> {
    let name = message
        .strip_prefix("unknown variant `")?
        .split('`')
        .next()?;
    let (key, _) = root.at(path.segments())?.entry(name)?;
    Some(key)
}

/// serde's wording for a malformed action speaks of enum variants; speak of actions.
fn explain(message: &str) -> String {
    const ACTIONS: &str = "approval, soak, http, argocd, workflow, command or window";
    if message.contains("expected map with a single key") {
        format!("an action is a mapping with exactly one key: {ACTIONS}")
    } else if message.contains("unit variant, expected newtype variant") {
        format!(
            "an action needs its settings, e.g. `- soak: {{ duration: 30m }}`; kinds: {ACTIONS}"
        )
    } else {
        message.to_owned()
    }
}

/// The kind and name of a document that failed to decode, when it states them.
fn identify(root: &Node) -> Option<ResourceRef> {
    let text = |path: &[PathSegment]| root.at(path)?.as_scalar().map(|s| s.text.clone());
    let kind = text(&[PathSegment::Key("kind".into())])?;
    let kind = crate::resources::ResourceKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind)?;
    let name = text(&[
        PathSegment::Key("metadata".into()),
        PathSegment::Key("name".into()),
    ])?;
    Some(ResourceRef { kind, name })
}
