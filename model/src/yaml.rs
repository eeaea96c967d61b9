//! A strict YAML 1.2 reader that remembers where every node came from.
//!
//! Resources need the line and column of any node for diagnostics, and application
//! files need an ordered, alias-resolved view to read attributes from and to check
//! edits against. `saphyr-parser` (pure Rust, YAML 1.2 test-suite compliant) supplies
//! events with positions; this module builds the tree and adds the rules a
//! configuration file should follow: no duplicate keys, scalar keys only, bounded
//! nesting and bounded alias expansion (so a "billion laughs" file fails fast).
//! `yaml-edit` is not used here because it is deliberately lenient: it accepts
//! `a: b: c`, which must be an error for a resource.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Tag};
use serde_json::Value;

use crate::path::PathSegment;

/// Documents nested deeper than this are refused, which keeps every recursive walk
/// over a tree (conversion, comparison, drop) far from the stack limit.
const MAX_DEPTH: usize = 100;
/// Upper bound on nodes per stream, counting each alias expansion in full.
const MAX_NODES: usize = 250_000;
/// Upper bound on scalar text per stream, counting each alias expansion in full: a few
/// aliases of one big scalar would otherwise expand to gigabytes from a small file.
const MAX_EXPANDED_BYTES: usize = 16 * 1024 * 1024;

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Mark {
    pub line: usize,
    pub column: usize,
}

impl From<&Marker> for Mark {
    fn from(marker: &Marker) -> Self {
        // saphyr's lines start at 1, its columns at 0.
        Self {
            line: marker.line(),
            column: marker.col() + 1,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub mark: Mark,
    pub value: NodeValue,
}

#[derive(Clone, Debug)]
pub(crate) enum NodeValue {
    Scalar(Scalar),
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>),
}

#[derive(Clone, Debug)]
pub(crate) struct Scalar {
    pub text: String,
    /// Plain scalars are typed by the core schema; quoted and block scalars are strings.
    pub plain: bool,
    /// `!!str` on a plain scalar keeps it a string.
    pub forced_string: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SyntaxError {
    pub mark: Mark,
    pub message: String,
}

/// Every complete document of a stream, and the error that stopped reading, if any.
#[derive(Debug)]
pub(crate) struct Stream {
    pub documents: Vec<Node>,
    pub error: Option<SyntaxError>,
}

enum Frame {
    Sequence {
        mark: Mark,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        mark: Mark,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        seen: HashSet<String>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    bytes: usize,
    documents: Vec<Node>,
}

impl Builder {
    fn open(&mut self, frame: Frame, mark: Mark) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError {
                mark,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping {
                entries, key, seen, ..
            }) => match key.take() {
                Some(key_node) => entries.push((key_node, node)),
                None => {
                    let NodeValue::Scalar(scalar) = &node.value else {
                        return Err(SyntaxError {
                            mark: node.mark,
                            message: "mapping keys must be plain values, not sequences or mappings"
                                .into(),
                        });
                    };
                    if !seen.insert(scalar.text.clone()) {
                        return Err(SyntaxError {
                            mark: node.mark,
                            message: format!("duplicate key `{}`", scalar.text),
                        });
                    }
                    *key = Some(node);
                }
            },
        }
        Ok(())
    }

    /// Counts what a node adds to the stream, before it is built.
    fn count(&mut self, (nodes, bytes): (usize, usize), mark: Mark) -> Result<(), SyntaxError> {
        self.nodes += nodes;
        self.bytes += bytes;
        if self.nodes > MAX_NODES {
            return Err(SyntaxError {
                mark,
                message: format!("more than {MAX_NODES} nodes (counting alias expansions)"),
            });
        }
        if self.bytes > MAX_EXPANDED_BYTES {
            return Err(SyntaxError {
                mark,
                message: format!(
                    "more than {} MiB of text (counting alias expansions)",
                    MAX_EXPANDED_BYTES >> 20
                ),
            });
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, mark: Mark) -> Result<(), SyntaxError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count((1, text.len()), mark)?;
                let node = Node {
                    mark,
                    value: NodeValue::Scalar(Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                        forced_string: tag.as_deref().is_some_and(is_str_tag),
                    }),
                };
                self.complete(node, anchor)
            }
            Event::Alias(anchor) => {
                let Some(target) = self.anchors.get(&anchor) else {
                    return Err(SyntaxError {
                        mark,
                        message: "an alias cannot refer to the node that contains it".into(),
                    });
                };
                // Counted before the copy is made, so a refused expansion costs nothing.
                let weight = target.weight();
                let mut node = target.clone();
                self.count(weight, mark)?;
                node.mark = mark;
                self.complete(node, 0)
            }
            Event::SequenceStart(anchor, _) => self.open(
                Frame::Sequence {
                    mark,
                    anchor,
                    items: Vec::new(),
                },
                mark,
            ),
            Event::MappingStart(anchor, _) => self.open(
                Frame::Mapping {
                    mark,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    seen: HashSet::new(),
                },
                mark,
            ),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Sequence {
                        mark,
                        anchor,
                        items,
                    }) => (
                        Node {
                            mark,
                            value: NodeValue::Sequence(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Mapping {
                        mark,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            mark,
                            value: NodeValue::Mapping(entries),
                        },
                        anchor,
                    ),
                    None => return Ok(()),
                };
                self.count((1, 0), node.mark)?;
                self.complete(node, anchor)
            }
            Event::DocumentStart(_) => {
                // Anchors do not cross document boundaries.
                self.anchors.clear();
                Ok(())
            }
            Event::DocumentEnd | Event::StreamStart | Event::StreamEnd | Event::Nothing => Ok(()),
        }
    }
}

fn is_str_tag(tag: &Tag) -> bool {
    (tag.is_yaml_core_schema() || tag.handle == "!!") && tag.suffix == "str"
}

/// Reads every document of `text`. Reading stops at the first syntax error; the
/// documents completed before it are kept.
pub(crate) fn parse(text: &str) -> Stream {
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        bytes: 0,
        documents: Vec::new(),
    };
    let mut error = None;
    for item in Parser::new_from_str(text) {
        let result = match item {
            Ok((event, span)) => builder.event(event, Mark::from(&span.start)),
            Err(scan) => Err(SyntaxError {
                mark: Mark::from(scan.marker()),
                message: scan.info().to_owned(),
            }),
        };
        // The parser keeps yielding errors after the first one, so stop here.
        if let Err(failure) = result {
            error = Some(failure);
            break;
        }
    }
    Stream {
        documents: builder.documents,
        error,
    }
}

impl Node {
    /// How many nodes and bytes of scalar text this node holds, in full.
    fn weight(&self) -> (usize, usize) {
        let add = |(n, b): (usize, usize), (m, c): (usize, usize)| (n + m, b + c);
        match &self.value {
            NodeValue::Scalar(scalar) => (1, scalar.text.len()),
            NodeValue::Sequence(items) => items.iter().map(Node::weight).fold((1, 0), add),
            NodeValue::Mapping(entries) => entries
                .iter()
                .map(|(k, v)| add(k.weight(), v.weight()))
                .fold((1, 0), add),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.value, NodeValue::Scalar(scalar) if scalar.resolve().is_null())
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            NodeValue::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// The value of `key` in a mapping, with the key node.
    pub fn entry(&self, key: &str) -> Option<&(Node, Node)> {
        match &self.value {
            NodeValue::Mapping(entries) => entries.iter().find(|(k, _)| k.key_text() == Some(key)),
            _ => None,
        }
    }

    pub fn child(&self, segment: &PathSegment) -> Option<&Node> {
        match (segment, &self.value) {
            (PathSegment::Key(key), _) => self.entry(key).map(|(_, value)| value),
            (PathSegment::Index(index), NodeValue::Sequence(items)) => items.get(*index),
            (PathSegment::Index(_), _) => None,
        }
    }

    pub fn key_text(&self) -> Option<&str> {
        self.as_scalar().map(|scalar| scalar.text.as_str())
    }

    /// The node at `path`, if every segment exists.
    pub fn at(&self, path: &[PathSegment]) -> Option<&Node> {
        path.iter()
            .try_fold(self, |node, segment| node.child(segment))
    }

    /// The node at `path` or, if part of it is missing, the deepest node that exists.
    /// A final key that exists resolves to the key itself when `want_key` is set, which
    /// is where "unknown field" errors point.
    pub fn locate(&self, path: &[PathSegment], want_key: bool) -> &Node {
        let mut node = self;
        for (position, segment) in path.iter().enumerate() {
            let last = position + 1 == path.len();
            match segment {
                PathSegment::Key(key) => match node.entry(key) {
                    Some((key_node, _)) if last && want_key => return key_node,
                    Some((_, value)) => node = value,
                    None => return node,
                },
                PathSegment::Index(_) => match node.child(segment) {
                    Some(child) => node = child,
                    None => return node,
                },
            }
        }
        node
    }

    /// The JSON data model of this node: scalars typed by the YAML 1.2 core schema.
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Scalar(scalar) => scalar.resolve(),
            NodeValue::Sequence(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Mapping(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| {
                        (
                            key.key_text().unwrap_or_default().to_owned(),
                            value.to_json(),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Equality of data, not of text: `'1'` equals `"1"`, key order does not matter.
    pub fn same_data(&self, other: &Node) -> bool {
        match (&self.value, &other.value) {
            (NodeValue::Scalar(a), NodeValue::Scalar(b)) => a.resolve() == b.resolve(),
            (NodeValue::Sequence(a), NodeValue::Sequence(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_data(y))
            }
            (NodeValue::Mapping(a), NodeValue::Mapping(b)) => {
                a.len() == b.len()
                    && a.iter().all(|(key, value)| {
                        key.key_text()
                            .and_then(|key| other.entry(key))
                            .is_some_and(|(_, theirs)| value.same_data(theirs))
                    })
            }
            _ => false,
        }
    }

    /// A copy with the node at `path` replaced by `replacement`, creating missing
    /// mapping keys (and turning a null on the way into a mapping), as an editor would.
    /// `None` when the path cannot exist in this tree.
    pub fn with(&self, path: &[PathSegment], replacement: &Node) -> Option<Node> {
        let Some((segment, rest)) = path.split_first() else {
            return Some(replacement.clone());
        };
        let mut copy = self.clone();
        if copy.is_null() && matches!(segment, PathSegment::Key(_)) {
            copy.value = NodeValue::Mapping(Vec::new());
        }
        match (&mut copy.value, segment) {
            (NodeValue::Mapping(entries), PathSegment::Key(key)) => {
                match entries.iter_mut().find(|(k, _)| k.key_text() == Some(key)) {
                    Some((_, value)) => *value = value.with(rest, replacement)?,
                    None => {
                        let empty = Node::null(self.mark);
                        let value = empty.with(rest, replacement)?;
                        entries.push((Node::string(key, self.mark), value));
                    }
                }
            }
            (NodeValue::Sequence(items), PathSegment::Index(index)) => {
                let item = items.get_mut(*index)?;
                *item = item.with(rest, replacement)?;
            }
            _ => return None,
        }
        Some(copy)
    }

    pub fn null(mark: Mark) -> Node {
        Node {
            mark,
            value: NodeValue::Scalar(Scalar {
                text: String::new(),
                plain: true,
                forced_string: false,
            }),
        }
    }

    fn string(text: &str, mark: Mark) -> Node {
        Node {
            mark,
            value: NodeValue::Scalar(Scalar {
                text: text.to_owned(),
                plain: false,
                forced_string: true,
            }),
        }
    }
}

impl Scalar {
    /// The value under the YAML 1.2 core schema. Infinities and NaN have no JSON
    /// number, so they stay strings.
    pub fn resolve(&self) -> Value {
        if !self.plain || self.forced_string {
            return Value::String(self.text.clone());
        }
        let text = self.text.as_str();
        match text {
            "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
            "true" | "True" | "TRUE" => return Value::Bool(true),
            "false" | "False" | "FALSE" => return Value::Bool(false),
            _ => {}
        }
        if let Some(number) = core_integer(text) {
            return number;
        }
        if is_core_float(text) {
            if let Some(number) = text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                return Value::Number(number);
            }
        }
        Value::String(self.text.clone())
    }
}

fn core_integer(text: &str) -> Option<Value> {
    let radix = |digits: &str, radix: u32| {
        (!digits.is_empty() && digits.chars().all(|c| c.is_digit(radix)))
            .then(|| u64::from_str_radix(digits, radix).ok())
            .flatten()
            .map(Value::from)
    };
    if let Some(octal) = text.strip_prefix("0o") {
        return radix(octal, 8);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return radix(hex, 16);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    text.parse::<i64>()
        .map(Value::from)
        .or_else(|_| text.parse::<u64>().map(Value::from))
        .ok()
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_core_float(text: &str) -> bool {
    let text = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty())
        }
        None => !mantissa.is_empty() && digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|exponent| {
        let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        !exponent.is_empty() && digits(exponent)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Node {
        let stream = parse(text);
        assert_eq!(stream.error, None);
        stream.documents.into_iter().next().unwrap()
    }

    fn error(text: &str) -> (usize, usize, String) {
        let error = parse(text).error.unwrap();
        (error.mark.line, error.mark.column, error.message)
    }

    #[test]
    fn types_plain_scalars_by_the_core_schema() {
        let node = one("a: 1\nb: '1'\nc: 1.5\nd: true\ne: ~\nf: 0x1F\ng: 1e3\nh: yes\ni: !!str 2\nj: .inf\nk: -7\nl: 0o17\nm: 1.2.3\n");
        assert_eq!(
            node.to_json(),
            json!({"a": 1, "b": "1", "c": 1.5, "d": true, "e": null, "f": 31, "g": 1000.0,
                   "h": "yes", "i": "2", "j": ".inf", "k": -7, "l": 15, "m": "1.2.3"})
        );
    }

    #[test]
    fn resolves_aliases_and_keeps_positions() {
        let node = one("base: &b {x: 1}\nuse: *b\nlist:\n  - a\n  - b\n");
        assert_eq!(
            node.to_json(),
            json!({"base": {"x": 1}, "use": {"x": 1}, "list": ["a", "b"]})
        );
        let item = node
            .at(&[PathSegment::Key("list".into()), PathSegment::Index(1)])
            .unwrap();
        assert_eq!((item.mark.line, item.mark.column), (5, 5));
        let key = node.locate(&[PathSegment::Key("use".into())], true);
        assert_eq!((key.mark.line, key.mark.column), (2, 1));
    }

    #[test]
    fn refuses_duplicate_keys_and_complex_keys() {
        assert_eq!(
            error("a: 1\nb: 2\na: 3\n"),
            (3, 1, "duplicate key `a`".into())
        );
        assert_eq!(
            error("? [a]\n: 1\n"),
            (
                1,
                3,
                "mapping keys must be plain values, not sequences or mappings".into()
            )
        );
    }

    #[test]
    fn reports_syntax_errors_with_positions() {
        assert_eq!(
            error("a: b: c\n"),
            (
                1,
                5,
                "mapping values are not allowed in this context".into()
            )
        );
    }

    #[test]
    fn bounds_alias_expansion_and_depth() {
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, previous) in ["b", "c", "d", "e", "f", "g"]
            .iter()
            .zip(["a", "b", "c", "d", "e", "f"])
        {
            laughs.push_str(&format!("{name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"));
        }
        assert!(error(&laughs).2.starts_with("more than 250000 nodes"));
        let deep = "[".repeat(200);
        assert_eq!(error(&deep).2, "nesting deeper than 100 levels");
    }

    #[test]
    fn bounds_the_text_aliases_expand_to() {
        // A 1 MB scalar aliased 1,000 times: 1 MB to read, 1 GB if expanded. Reading
        // stops at the 15th alias, the one that passes 16 MiB, before copying it.
        let big = "x".repeat(1 << 20);
        let aliases = vec!["*big"; 1000].join(", ");
        let text = format!(
            "big: &big {big}
many: [{aliases}]
"
        );
        let (line, column, message) = error(&text);
        assert_eq!(
            message,
            "more than 16 MiB of text (counting alias expansions)"
        );
        assert_eq!((line, column), (2, 8 + 6 * 14));
        // Within the bound, aliases of big scalars are fine.
        let few = format!(
            "big: &big {big}
many: [*big, *big]
"
        );
        assert!(parse(&few).error.is_none());
    }

    #[test]
    fn keeps_documents_read_before_an_error() {
        let stream = parse("a: 1\n---\nb: [\n");
        assert_eq!(stream.documents.len(), 1);
        assert!(stream.error.is_some());
    }

    #[test]
    fn compares_data_not_text() {
        assert!(one("a: '1'\nb: [1]\n").same_data(&one("b: [1]\na: \"1\"\n")));
        assert!(!one("a: 1\n").same_data(&one("a: '1'\n")));
    }
}
