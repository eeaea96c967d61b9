//! Format-preserving edits of YAML and JSON files: the one module that knows which
//! editing libraries are used.
//!
//! # Why these libraries
//! - YAML: `yaml-edit` 0.3, a lossless rowan syntax tree in pure Rust. Setting a value
//!   replaces that value's tokens only; comments, key order, quoting, indentation,
//!   anchors and CRLF line ends of everything else survive, and new keys are inserted
//!   with the mapping's own indentation and line ending. `yamlpath`/`yamlpatch` (the
//!   other lossless option, from zizmor) locate nodes with tree-sitter, which is C:
//!   it does not build for `wasm32-unknown-unknown` without a C toolchain for wasm,
//!   and its newest releases need rustc 1.97. A hand-written splicer over parser spans
//!   would have to re-learn indentation and line-end rules that `yaml-edit` has.
//! - JSON: `jsonc-parser`'s CST (from dprint/deno), for the same guarantees in JSON
//!   syntax (writing YAML syntax into a `.json` file is not an option).
//!
//! # Safety net
//! Both libraries are trusted only as far as they can be checked: after editing, the
//! output is parsed again by the strict reader ([`crate::yaml`]) and its data must equal
//! the old data with exactly the requested values replaced. Anything else is an error
//! and nothing is written.
//!
//! # Semantics of a set
//! Setting a path to a value makes the data there equal to the value with as few
//! textual changes as possible: equal data is left alone; a scalar is rewritten in the
//! target's quoting style; mappings are synchronised key by key (missing keys added at
//! the end, extra keys removed) and equal-length sequences item by item, so a changed
//! leaf deep inside `resources:` changes one line. Missing keys on the way are created;
//! list items are not. Writing through an alias is refused, since it would change the
//! anchored node and every other alias of it.

use std::str::FromStr;

use jsonc_parser::cst::{CstArray, CstInputValue, CstNode, CstObject, CstRootNode};
use jsonc_parser::ParseOptions;
use yaml_edit::{Document, Mapping, Sequence, YamlFile, YamlNode};

use crate::path::{FieldPath, PathSegment};
use crate::yaml::{self, Node, NodeValue, Scalar};

/// The file formats attributes can be edited in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Yaml,
    Json,
}

impl Format {
    /// By extension: `.yaml`, `.yml`, `.json`.
    pub fn of(file: &str) -> Option<Format> {
        let extension = file.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Why an edit was refused.
#[derive(Debug, PartialEq)]
pub(crate) struct EditError {
    pub path: FieldPath,
    pub message: String,
}

/// Sets each `(path, value)` in `text`, whose parsed tree is `tree`, in order.
pub(crate) fn apply(
    format: Format,
    text: &str,
    tree: &Node,
    edits: &[(FieldPath, &Node)],
) -> Result<String, EditError> {
    let mut expected = tree.clone();
    let mut planned = Vec::new();
    for (path, value) in edits {
        let current = expected.at(path.segments());
        if current.is_some_and(|current| current.same_data(value)) {
            continue;
        }
        let next = expected
            .with(path.segments(), value)
            .ok_or_else(|| EditError {
                path: path.clone(),
                message: "the path goes through a list item that does not exist or through a value"
                    .into(),
            })?;
        planned.push((path, *value, expected));
        expected = next;
    }
    if planned.is_empty() {
        return Ok(text.to_owned());
    }
    let output = match format {
        Format::Yaml => edit_yaml(text, &planned)?,
        Format::Json => edit_json(text, &planned)?,
    };
    let stream = yaml::parse(&output);
    let written = match (stream.error, stream.documents.as_slice()) {
        (None, [document]) => Some(document),
        _ => None,
    };
    if !written.is_some_and(|written| written.same_data(&expected)) {
        return Err(EditError {
            path: planned[0].0.clone(),
            message: "the editor would have changed other data too, so nothing was written".into(),
        });
    }
    Ok(output)
}

/// An edit: where, the new value, and the data before it.
type Planned<'a> = (&'a FieldPath, &'a Node, Node);

/// A mapping or sequence inside an editable document.
trait Container: Sized {
    /// What is at `segment`: a container, a scalar, or nothing.
    fn child(&self, segment: &PathSegment) -> Result<Option<Child<Self>>, String>;
    /// Puts `value` at `segment`, replacing or appending.
    fn put(&self, segment: &PathSegment, value: &Node) -> Result<(), String>;
    /// Rewrites the scalar at `segment` (which exists) keeping its style.
    fn put_scalar(&self, segment: &PathSegment, value: &Scalar) -> Result<(), String>;
    /// Removes a mapping key.
    fn remove(&self, key: &str) -> Result<(), String>;
}

enum Child<C> {
    Container(C),
    Scalar,
}

fn set<C: Container>(
    root: C,
    path: &FieldPath,
    value: &Node,
    before: &Node,
) -> Result<(), EditError> {
    let fail = |message: String| EditError {
        path: path.clone(),
        message,
    };
    let segments = path.segments();
    let Some((last, parents)) = segments.split_last() else {
        return Err(fail("cannot replace a whole document".into()));
    };
    let mut container = root;
    let mut current = Some(before);
    for (depth, segment) in parents.iter().enumerate() {
        let child_data = current.and_then(|node| node.child(segment));
        match container.child(segment).map_err(&fail)? {
            Some(Child::Container(child)) => container = child,
            Some(Child::Scalar) if !child_data.is_some_and(Node::is_null) => {
                return Err(fail(format!(
                    "`{}` is a value, not a mapping",
                    FieldPath(segments[..=depth].to_vec())
                )));
            }
            // Missing or null: create the rest of the path as nested mappings.
            _ => {
                let nested = nest(&segments[depth + 1..], value)
                    .ok_or_else(|| fail("list items are not created".into()))?;
                return container.put(segment, &nested).map_err(fail);
            }
        }
        current = child_data;
    }
    sync(
        &container,
        last,
        value,
        current.and_then(|node| node.child(last)),
    )
    .map_err(fail)
}

/// `value` wrapped in mappings for the keys of `rest`.
fn nest(rest: &[PathSegment], value: &Node) -> Option<Node> {
    rest.iter()
        .rev()
        .try_fold(value.clone(), |inner, segment| match segment {
            PathSegment::Key(key) => Some(Node {
                mark: value.mark,
                value: NodeValue::Mapping(vec![(key_node(key, value), inner)]),
            }),
            PathSegment::Index(_) => None,
        })
}

fn key_node(key: &str, like: &Node) -> Node {
    Node {
        mark: like.mark,
        value: NodeValue::Scalar(Scalar {
            text: key.to_owned(),
            plain: false,
            forced_string: true,
        }),
    }
}

fn sync<C: Container>(
    parent: &C,
    segment: &PathSegment,
    value: &Node,
    current: Option<&Node>,
) -> Result<(), String> {
    if current.is_some_and(|current| current.same_data(value)) {
        return Ok(());
    }
    match (
        parent.child(segment)?,
        &value.value,
        current.map(|c| &c.value),
    ) {
        (Some(Child::Scalar), NodeValue::Scalar(scalar), Some(NodeValue::Scalar(_))) => {
            parent.put_scalar(segment, scalar)
        }
        (
            Some(Child::Container(child)),
            NodeValue::Mapping(entries),
            Some(NodeValue::Mapping(old)),
        ) => {
            for (key, item) in entries {
                let key = PathSegment::Key(key.key_text().unwrap_or_default().to_owned());
                sync(&child, &key, item, current.and_then(|c| c.child(&key)))?;
            }
            for (key, _) in old {
                let key = key.key_text().unwrap_or_default();
                if value.entry(key).is_none() {
                    child.remove(key)?;
                }
            }
            Ok(())
        }
        (
            Some(Child::Container(child)),
            NodeValue::Sequence(items),
            Some(NodeValue::Sequence(old)),
        ) if items.len() == old.len() => {
            for (index, (item, before)) in items.iter().zip(old).enumerate() {
                sync(&child, &PathSegment::Index(index), item, Some(before))?;
            }
            Ok(())
        }
        _ => parent.put(segment, value),
    }
}

// ---------------------------------------------------------------- YAML

fn edit_yaml(text: &str, planned: &[Planned]) -> Result<String, EditError> {
    let file = YamlFile::from_str(text).map_err(|e| EditError {
        path: planned[0].0.clone(),
        message: format!("the YAML editor cannot read the file: {e}"),
    })?;
    for (path, value, before) in planned {
        let document = file.ensure_document();
        set(YamlContainer::root(document), path, value, before)?;
    }
    Ok(file.to_string())
}

enum YamlContainer {
    Mapping(Mapping),
    Sequence(Sequence),
    /// A document without content yet: setting a key makes it a mapping.
    Empty(Document),
}

impl YamlContainer {
    fn root(document: Document) -> Self {
        if let Some(mapping) = document.as_mapping() {
            Self::Mapping(mapping)
        } else if let Some(sequence) = document.as_sequence() {
            Self::Sequence(sequence)
        } else {
            Self::Empty(document)
        }
    }

    fn node(&self, segment: &PathSegment) -> Option<YamlNode> {
        match (self, segment) {
            (Self::Mapping(mapping), PathSegment::Key(key)) => mapping
                .entries()
                .find(|entry| {
                    entry
                        .key_node()
                        .and_then(|k| k.as_scalar().map(|s| s.as_string()))
                        .is_some_and(|k| k == *key)
                })
                .and_then(|entry| entry.value_node()),
            (Self::Sequence(sequence), PathSegment::Index(index)) => sequence.get(*index),
            _ => None,
        }
    }
}

/// A value rendered as YAML text and read back by `yaml-edit`, ready to insert.
enum Fragment {
    Mapping(Mapping),
    Sequence(Sequence),
    Scalar(yaml_edit::Scalar),
}

impl Fragment {
    fn of(value: &Node) -> Result<Self, String> {
        let text = emit(value);
        let document = YamlFile::from_str(&text)
            .ok()
            .and_then(|file| file.document())
            .ok_or_else(|| format!("cannot build the YAML for `{text}`"))?;
        document
            .as_mapping()
            .map(Self::Mapping)
            .or_else(|| document.as_sequence().map(Self::Sequence))
            .or_else(|| document.as_scalar().map(Self::Scalar))
            .ok_or_else(|| format!("cannot build the YAML for `{text}`"))
    }
}

impl Container for YamlContainer {
    fn child(&self, segment: &PathSegment) -> Result<Option<Child<Self>>, String> {
        let Some(node) = self.node(segment) else {
            return Ok(None);
        };
        if node.is_alias() {
            return Err(format!(
                "`{}` is an alias; writing through it would also change its anchor",
                node.to_string().trim()
            ));
        }
        Ok(Some(if let Some(mapping) = node.as_mapping() {
            Child::Container(Self::Mapping(mapping.clone()))
        } else if let Some(sequence) = node.as_sequence() {
            Child::Container(Self::Sequence(sequence.clone()))
        } else if node.is_scalar() {
            Child::Scalar
        } else {
            return Err("tagged values are not edited".into());
        }))
    }

    fn put(&self, segment: &PathSegment, value: &Node) -> Result<(), String> {
        let fragment = Fragment::of(value)?;
        match (self, segment) {
            (Self::Mapping(mapping), PathSegment::Key(key)) => match &fragment {
                Fragment::Mapping(m) => mapping.set(key.as_str(), m),
                Fragment::Sequence(s) => mapping.set(key.as_str(), s),
                Fragment::Scalar(s) => mapping.set(key.as_str(), s),
            },
            (Self::Empty(document), PathSegment::Key(key)) => {
                let done = match &fragment {
                    Fragment::Mapping(m) => document.set(key.as_str(), m),
                    Fragment::Sequence(s) => document.set(key.as_str(), s),
                    Fragment::Scalar(s) => document.set(key.as_str(), s),
                };
                if !done {
                    return Err("the document's root is not a mapping".into());
                }
            }
            (Self::Sequence(sequence), PathSegment::Index(index)) => {
                let done = match &fragment {
                    Fragment::Mapping(m) => sequence.set(*index, m),
                    Fragment::Sequence(s) => sequence.set(*index, s),
                    Fragment::Scalar(s) => sequence.set(*index, s),
                };
                if !done {
                    return Err(format!("the list has no item {index}"));
                }
            }
            (Self::Sequence(_), PathSegment::Key(_)) => return Err("a list has no keys".into()),
            (_, PathSegment::Index(_)) => return Err("a mapping has no list items".into()),
        }
        Ok(())
    }

    fn put_scalar(&self, segment: &PathSegment, value: &Scalar) -> Result<(), String> {
        let Some(scalar) = self
            .node(segment)
            .and_then(|node| node.as_scalar().cloned())
        else {
            return Err("the value to replace is gone".into());
        };
        let style = if scalar.is_block() {
            Style::Double
        } else {
            match scalar.value().chars().next() {
                Some('"') => Style::Double,
                Some('\'') => Style::Single,
                _ => Style::Plain,
            }
        };
        scalar.set_value(&render_scalar(value, style));
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<(), String> {
        match self {
            Self::Mapping(mapping) => mapping
                .remove(key)
                .map(|_| ())
                .ok_or_else(|| format!("no key `{key}` to remove")),
            _ => Err("only mapping keys are removed".into()),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// A scalar's YAML text in the style asked for when that style can hold it. Values that
/// are not strings keep the source's text (`3`, `1.50`, `true`).
fn render_scalar(value: &Scalar, style: Style) -> String {
    let serde_json::Value::String(text) = value.resolve() else {
        return if value.text.is_empty() {
            "null".into()
        } else {
            value.text.clone()
        };
    };
    let printable = !text.chars().any(char::is_control);
    match style {
        Style::Plain if plain_safe(&text) => text,
        Style::Plain | Style::Single if printable => format!("'{}'", text.replace('\'', "''")),
        _ => serde_json::Value::String(text).to_string(),
    }
}

/// Whether a string can be written unquoted and read back as the same string, by YAML
/// 1.2 and by the YAML 1.1 readers common in Kubernetes tools (`yes`, `0755`,
/// `2024-01-01` and `1:20` are not strings there).
fn plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let yaml11_word = matches!(
        text.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "~"
    );
    let numberish = text
        .chars()
        .all(|c| c.is_ascii_digit() || "+-._:eE".contains(c))
        && text.chars().any(|c| c.is_ascii_digit())
        && text.matches('.').count() <= 1;
    let resolves_to_itself = Scalar {
        text: text.to_owned(),
        plain: true,
        forced_string: false,
    }
    .resolve()
        == serde_json::Value::String(text.to_owned());
    !"-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !first.is_whitespace()
        && !text.ends_with(char::is_whitespace)
        && !text.ends_with(':')
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.contains(|c: char| c.is_control() || ",[]{}".contains(c))
        && !yaml11_word
        && !numberish
        && resolves_to_itself
}

/// Block-style YAML for a value, two-space indented; `yaml-edit` re-indents it where
/// it is inserted.
fn emit(node: &Node) -> String {
    let mut out = String::new();
    emit_into(node, 0, &mut out);
    out
}

fn emit_into(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match &node.value {
        NodeValue::Scalar(scalar) => {
            out.push_str(&render_scalar(scalar, Style::Plain));
            out.push('\n');
        }
        NodeValue::Mapping(entries) if entries.is_empty() => out.push_str("{}\n"),
        NodeValue::Sequence(items) if items.is_empty() => out.push_str("[]\n"),
        NodeValue::Mapping(entries) => {
            for (key, value) in entries {
                let key = key
                    .as_scalar()
                    .map(|s| render_scalar(&key_string(s), Style::Plain))
                    .unwrap_or_default();
                out.push_str(&pad);
                out.push_str(&key);
                out.push(':');
                if is_block(value) {
                    out.push('\n');
                    emit_into(value, indent + 2, out);
                } else {
                    out.push(' ');
                    emit_into(value, 0, out);
                }
            }
        }
        NodeValue::Sequence(items) => {
            for item in items {
                if is_block(item) {
                    // Emit the item one level deeper, then put the dash in its first indent.
                    let mut nested = String::new();
                    emit_into(item, indent + 2, &mut nested);
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&nested[indent + 2..]);
                } else {
                    out.push_str(&pad);
                    out.push_str("- ");
                    emit_into(item, 0, out);
                }
            }
        }
    }
}

fn is_block(node: &Node) -> bool {
    match &node.value {
        NodeValue::Mapping(entries) => !entries.is_empty(),
        NodeValue::Sequence(items) => !items.is_empty(),
        NodeValue::Scalar(_) => false,
    }
}

/// Keys are strings in the data model, so `1:` is written back as a key that reads "1".
fn key_string(scalar: &Scalar) -> Scalar {
    Scalar {
        text: scalar.text.clone(),
        plain: false,
        forced_string: true,
    }
}

// ---------------------------------------------------------------- JSON

fn edit_json(text: &str, planned: &[Planned]) -> Result<String, EditError> {
    let root = CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| EditError {
        path: planned[0].0.clone(),
        message: format!("the JSON editor cannot read the file: {e}"),
    })?;
    for (path, value, before) in planned {
        set(JsonContainer::root(&root), path, value, before)?;
    }
    Ok(root.to_string())
}

enum JsonContainer {
    Object(CstObject),
    Array(CstArray),
}

impl JsonContainer {
    fn root(root: &CstRootNode) -> Self {
        match root.array_value() {
            Some(array) => Self::Array(array),
            None => Self::Object(root.object_value_or_set()),
        }
    }

    fn node(&self, segment: &PathSegment) -> Option<CstNode> {
        match (self, segment) {
            (Self::Object(object), PathSegment::Key(key)) => object.get(key)?.value(),
            (Self::Array(array), PathSegment::Index(index)) => {
                array.elements().into_iter().nth(*index)
            }
            _ => None,
        }
    }
}

impl Container for JsonContainer {
    fn child(&self, segment: &PathSegment) -> Result<Option<Child<Self>>, String> {
        Ok(self.node(segment).map(|node| {
            if let Some(object) = node.as_object() {
                Child::Container(Self::Object(object))
            } else if let Some(array) = node.as_array() {
                Child::Container(Self::Array(array))
            } else {
                Child::Scalar
            }
        }))
    }

    fn put(&self, segment: &PathSegment, value: &Node) -> Result<(), String> {
        let input = json_input(value);
        match (self, segment) {
            (Self::Object(object), PathSegment::Key(key)) => match object.get(key) {
                Some(property) => property.set_value(input),
                None => {
                    object.append(key, input);
                }
            },
            (Self::Array(array), PathSegment::Index(index)) => {
                let element = self
                    .node(segment)
                    .ok_or_else(|| format!("the list has no item {index}"))?;
                element.remove();
                array.insert(*index, input);
            }
            (Self::Array(_), PathSegment::Key(_)) => return Err("a list has no keys".into()),
            (Self::Object(_), PathSegment::Index(_)) => {
                return Err("an object has no list items".into())
            }
        }
        Ok(())
    }

    fn put_scalar(&self, segment: &PathSegment, value: &Scalar) -> Result<(), String> {
        self.put(
            segment,
            &Node {
                mark: crate::yaml::Mark { line: 0, column: 0 },
                value: NodeValue::Scalar(value.clone()),
            },
        )
    }

    fn remove(&self, key: &str) -> Result<(), String> {
        match self {
            Self::Object(object) => {
                let property = object
                    .get(key)
                    .ok_or_else(|| format!("no key `{key}` to remove"))?;
                property.remove();
                Ok(())
            }
            Self::Array(_) => Err("only object keys are removed".into()),
        }
    }
}

fn json_input(node: &Node) -> CstInputValue {
    match &node.value {
        NodeValue::Mapping(entries) => CstInputValue::Object(
            entries
                .iter()
                .map(|(key, value)| {
                    (
                        key.key_text().unwrap_or_default().to_owned(),
                        json_input(value),
                    )
                })
                .collect(),
        ),
        NodeValue::Sequence(items) => CstInputValue::Array(items.iter().map(json_input).collect()),
        NodeValue::Scalar(scalar) => match scalar.resolve() {
            serde_json::Value::Null => CstInputValue::Null,
            serde_json::Value::Bool(value) => CstInputValue::Bool(value),
            // Keep the source's spelling (`1.50`) when it is valid JSON.
            serde_json::Value::Number(number) => CstInputValue::Number(
                if serde_json::from_str::<serde_json::Number>(&scalar.text).is_ok() {
                    scalar.text.clone()
                } else {
                    number.to_string()
                },
            ),
            serde_json::Value::String(text) => CstInputValue::String(text),
            other => CstInputValue::String(other.to_string()),
        },
    }
}
