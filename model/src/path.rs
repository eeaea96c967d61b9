//! Concrete locations inside a document: the field path of a diagnostic
//! (`spec.steps[2].dependsOn`) and the match of a JSONPath (`$.image.tag`).

use std::fmt;

/// One step of a concrete path: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathSegment {
    /// A mapping key.
    Key(String),
    /// A sequence index, from 0.
    Index(usize),
}

/// A concrete path from a document's root to one node.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(pub Vec<PathSegment>);

impl FieldPath {
    /// The root of a document.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path extended by a key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut segments = self.0.clone();
        segments.push(PathSegment::Key(key.into()));
        Self(segments)
    }

    /// This path extended by an index.
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(PathSegment::Index(index));
        Self(segments)
    }

    /// The segments, root first.
    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    /// The path as a JSONPath of the supported subset, e.g. `$.image["pull-policy"]`,
    /// which parses back to the same path.
    pub fn to_jsonpath(&self) -> String {
        let mut out = String::from("$");
        for segment in &self.0 {
            match segment {
                PathSegment::Key(key) if is_shorthand_name(key) => {
                    out.push('.');
                    out.push_str(key);
                }
                PathSegment::Key(key) => {
                    out.push('[');
                    // A JSON string literal is also a valid JSONPath quoted name.
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push(']');
                }
                PathSegment::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

/// Keys written after a dot in a JSONPath (RFC 9535 member-name-shorthand).
pub(crate) fn is_shorthand_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || !c.is_ascii())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii())
}

impl fmt::Display for FieldPath {
    /// The form users read in messages: `spec.steps[2].dependsOn`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if position == 0 => write!(f, "{key}")?,
                PathSegment::Key(key) => write!(f, ".{key}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

impl From<&serde_path_to_error::Path> for FieldPath {
    fn from(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment;
        Self(
            path.iter()
                .filter_map(|segment| match segment {
                    Segment::Seq { index } => Some(PathSegment::Index(*index)),
                    // An externally tagged enum variant is a mapping key in the document.
                    Segment::Map { key } | Segment::Enum { variant: key } => {
                        Some(PathSegment::Key(key.clone()))
                    }
                    Segment::Unknown => None,
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_field_path() {
        let path = FieldPath::root()
            .key("spec")
            .key("steps")
            .index(2)
            .key("dependsOn");
        assert_eq!(path.to_string(), "spec.steps[2].dependsOn");
    }

    #[test]
    fn renders_a_jsonpath_with_quoted_keys_when_needed() {
        let path = FieldPath::root().key("image").key("pull-policy").index(0);
        assert_eq!(path.to_jsonpath(), r#"$.image["pull-policy"][0]"#);
    }
}
