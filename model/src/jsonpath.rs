//! The JSONPath subset of `docs/resources.md`: `$.a.b`, `$.a[0]`, `$["key-with-dash"]`,
//! `$.a.*` (also `$.a[*]`) and `$..name` (also `$..["key"]`).
//!
//! Hand-written rather than taken from a JSONPath crate: the subset is five
//! selectors, templates need the concrete path of every match (to edit the same node
//! in another file), and it must run over the position-keeping YAML tree as well as
//! over `serde_json::Value`; the general crates offer neither without pulling in a
//! full RFC 9535 engine.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::path::{FieldPath, PathSegment};
use crate::yaml::{Node, NodeValue};
use crate::Error;

/// A parsed JSONPath of the supported subset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JsonPath {
    text: String,
    selectors: Vec<Selector>,
}

/// One step of a JSONPath.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Selector {
    /// `.name` or `["name"]`
    Name(String),
    /// `[0]`
    Index(usize),
    /// `.*` or `[*]`: every value of a mapping or item of a sequence.
    Wildcard,
    /// `..name`: `name` at any depth below.
    Descendant(String),
}

impl JsonPath {
    /// Parses an expression; errors give the character where it goes wrong.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Parser { text, at: 0 }.path()
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The selectors, in order.
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// The one path this expression names, when it has no wildcard or descendant;
    /// such a path can be created where it is missing.
    pub fn definite(&self) -> Option<FieldPath> {
        self.selectors
            .iter()
            .map(|selector| match selector {
                Selector::Name(name) => Some(PathSegment::Key(name.clone())),
                Selector::Index(index) => Some(PathSegment::Index(*index)),
                Selector::Wildcard | Selector::Descendant(_) => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(FieldPath)
    }

    /// Every match in `value`, with its concrete path, in document order.
    pub fn select<'v>(&self, value: &'v Value) -> Vec<(FieldPath, &'v Value)> {
        self.select_in(value)
    }

    pub(crate) fn select_in<'t, T: Tree>(&self, root: &'t T) -> Vec<(FieldPath, &'t T)> {
        let mut current = vec![(FieldPath::root(), root)];
        for selector in &self.selectors {
            let mut next = Vec::new();
            for (path, node) in current {
                match selector {
                    Selector::Name(name) => {
                        let segment = PathSegment::Key(name.clone());
                        if let Some(child) = node.child(&segment) {
                            next.push((path.key(name.clone()), child));
                        }
                    }
                    Selector::Index(index) => {
                        if let Some(child) = node.child(&PathSegment::Index(*index)) {
                            next.push((path.index(*index), child));
                        }
                    }
                    Selector::Wildcard => {
                        next.extend(node.children().into_iter().map(|(segment, child)| {
                            let mut path = path.clone();
                            path.0.push(segment);
                            (path, child)
                        }))
                    }
                    Selector::Descendant(name) => descend(path, node, name, &mut next),
                }
            }
            current = next;
        }
        current
    }
}

/// Pre-order walk below (and at) `node`, collecting every child named `name`. An
/// explicit stack keeps deep documents off the call stack.
fn descend<'t, T: Tree>(
    path: FieldPath,
    node: &'t T,
    name: &str,
    out: &mut Vec<(FieldPath, &'t T)>,
) {
    let segment = PathSegment::Key(name.to_owned());
    let mut stack = vec![(path, node)];
    while let Some((path, node)) = stack.pop() {
        if let Some(child) = node.child(&segment) {
            out.push((path.key(name), child));
        }
        let children = node.children();
        for (segment, child) in children.into_iter().rev() {
            let mut child_path = path.clone();
            child_path.0.push(segment);
            stack.push((child_path, child));
        }
    }
}

/// A document tree JSONPath can walk.
pub(crate) trait Tree {
    fn child(&self, segment: &PathSegment) -> Option<&Self>;
    fn children(&self) -> Vec<(PathSegment, &Self)>;
}

impl Tree for Value {
    fn child(&self, segment: &PathSegment) -> Option<&Self> {
        match segment {
            PathSegment::Key(key) => self.as_object()?.get(key),
            PathSegment::Index(index) => self.as_array()?.get(*index),
        }
    }

    fn children(&self) -> Vec<(PathSegment, &Self)> {
        match self {
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| (PathSegment::Key(k.clone()), v))
                .collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (PathSegment::Index(i), v))
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Tree for Node {
    fn child(&self, segment: &PathSegment) -> Option<&Self> {
        Node::child(self, segment)
    }

    fn children(&self) -> Vec<(PathSegment, &Self)> {
        match &self.value {
            NodeValue::Mapping(entries) => entries
                .iter()
                .map(|(k, v)| {
                    (
                        PathSegment::Key(k.key_text().unwrap_or_default().to_owned()),
                        v,
                    )
                })
                .collect(),
            NodeValue::Sequence(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (PathSegment::Index(i), v))
                .collect(),
            NodeValue::Scalar(_) => Vec::new(),
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let next = self.peek()?;
        self.at += next.len_utf8();
        Some(next)
    }

    fn eat(&mut self, expected: char) -> bool {
        let matched = self.peek() == Some(expected);
        if matched {
            self.at += expected.len_utf8();
        }
        matched
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, Error> {
        Err(Error::JsonPath {
            expression: self.text.to_owned(),
            position: self.text[..self.at].chars().count() + 1,
            message: message.into(),
        })
    }

    fn path(mut self) -> Result<JsonPath, Error> {
        if !self.eat('$') {
            return self.fail("a JSONPath starts with `$`");
        }
        let mut selectors = Vec::new();
        while let Some(next) = self.peek() {
            let selector = match next {
                '.' => {
                    self.bump();
                    if self.eat('.') {
                        match self.peek() {
                            Some('[') => {
                                self.bump();
                                Selector::Descendant(self.quoted_member()?)
                            }
                            Some('*') => return self.fail("`..*` is not supported; name the key, e.g. `$..image`"),
                            _ => Selector::Descendant(self.name()?),
                        }
                    } else if self.eat('*') {
                        Selector::Wildcard
                    } else {
                        Selector::Name(self.name()?)
                    }
                }
                '[' => {
                    self.bump();
                    self.bracket()?
                }
                other => {
                    return self.fail(format!(
                        "unexpected `{other}`; a name with such characters is quoted, e.g. `$[\"key-with-dash\"]`"
                    ))
                }
            };
            selectors.push(selector);
        }
        Ok(JsonPath {
            text: self.text.to_owned(),
            selectors,
        })
    }

    fn name(&mut self) -> Result<String, Error> {
        let start = self.at;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii() {
                self.bump();
            } else {
                break;
            }
        }
        let name = &self.text[start..self.at];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            self.at = start;
            return self.fail(
                "expected a name (letters, digits, `_`; not starting with a digit), `*`, or `[`",
            );
        }
        Ok(name.to_owned())
    }

    fn bracket(&mut self) -> Result<Selector, Error> {
        let selector = match self.peek() {
            Some('*') => {
                self.bump();
                Selector::Wildcard
            }
            Some('"' | '\'') => Selector::Name(self.quoted()?),
            Some(c) if c.is_ascii_digit() => Selector::Index(self.index()?),
            Some('-') => return self.fail("negative indexes are not supported"),
            _ => return self.fail("expected an index, a quoted name or `*` after `[`"),
        };
        if !self.eat(']') {
            return self.fail("expected `]`");
        }
        Ok(selector)
    }

    fn quoted_member(&mut self) -> Result<String, Error> {
        if !matches!(self.peek(), Some('"' | '\'')) {
            return self.fail("after `..[` only a quoted name is supported");
        }
        let name = self.quoted()?;
        if !self.eat(']') {
            return self.fail("expected `]`");
        }
        Ok(name)
    }

    fn index(&mut self) -> Result<usize, Error> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        let digits = &self.text[start..self.at];
        if digits.len() > 1 && digits.starts_with('0') {
            self.at = start;
            return self.fail("an index has no leading zeros");
        }
        digits.parse().or_else(|_| {
            self.at = start;
            self.fail("the index is too large")
        })
    }

    fn quoted(&mut self) -> Result<String, Error> {
        let quote = self.bump().unwrap_or('"');
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return self.fail("unterminated quoted name"),
                Some(c) if c == quote => return Ok(out),
                Some('\\') => {
                    let escaped = match self.bump() {
                        Some(c @ ('"' | '\'' | '\\' | '/')) => c,
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('u') => self.unicode()?,
                        _ => return self.fail("unknown escape in quoted name"),
                    };
                    out.push(escaped);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn unicode(&mut self) -> Result<char, Error> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(code) = digits.and_then(|d| u32::from_str_radix(d, 16).ok()) else {
            return self.fail("`\\u` needs four hex digits");
        };
        let Some(c) = char::from_u32(code) else {
            return self.fail("`\\u` escapes of surrogates are not supported");
        };
        self.at += 4;
        Ok(c)
    }
}

impl FromStr for JsonPath {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Self::parse(text)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for JsonPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

crate::schema::string_schema!(
    JsonPath,
    "JsonPath",
    "A JSONPath into the document, such as `$.image.tag`."
);

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(expression: &str, value: &Value) -> Vec<String> {
        JsonPath::parse(expression)
            .unwrap()
            .select(value)
            .into_iter()
            .map(|(path, _)| path.to_jsonpath())
            .collect()
    }

    fn error(expression: &str) -> String {
        JsonPath::parse(expression).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_form_of_the_subset() {
        let path = JsonPath::parse(r#"$.a[0]["key-with-dash"]['b'].*[*]..name..["x y"]"#).unwrap();
        assert_eq!(
            path.selectors(),
            [
                Selector::Name("a".into()),
                Selector::Index(0),
                Selector::Name("key-with-dash".into()),
                Selector::Name("b".into()),
                Selector::Wildcard,
                Selector::Wildcard,
                Selector::Descendant("name".into()),
                Selector::Descendant("x y".into()),
            ]
        );
        assert_eq!(JsonPath::parse("$").unwrap().selectors(), []);
        assert_eq!(
            JsonPath::parse(r#"$["a\"b\u00e9"]"#).unwrap().selectors(),
            [Selector::Name("a\"bé".into())]
        );
    }

    #[test]
    fn selects_with_concrete_paths() {
        let doc = json!({"image": {"tag": "1", "repository": "r"},
                         "sidecars": [{"image": {"tag": "2"}}],
                         "key-with-dash": 3});
        assert_eq!(paths("$.image.tag", &doc), ["$.image.tag"]);
        assert_eq!(paths("$.sidecars[0].image", &doc), ["$.sidecars[0].image"]);
        assert_eq!(
            paths(r#"$["key-with-dash"]"#, &doc),
            [r#"$["key-with-dash"]"#]
        );
        // serde_json's map order depends on a feature another crate may enable.
        let mut wildcard = paths("$.image.*", &doc);
        wildcard.sort();
        assert_eq!(wildcard, ["$.image.repository", "$.image.tag"]);
        assert_eq!(
            paths("$..tag", &doc),
            ["$.image.tag", "$.sidecars[0].image.tag"]
        );
        assert_eq!(paths("$.missing.tag", &doc), Vec::<String>::new());
        assert_eq!(paths("$.image[0]", &doc), Vec::<String>::new());
    }

    #[test]
    fn definite_paths_have_no_wildcards() {
        assert_eq!(
            JsonPath::parse("$.a[1]").unwrap().definite(),
            Some(FieldPath::root().key("a").index(1))
        );
        assert_eq!(JsonPath::parse("$..a").unwrap().definite(), None);
        assert_eq!(JsonPath::parse("$.a.*").unwrap().definite(), None);
    }

    #[test]
    fn errors_point_at_the_character() {
        assert_eq!(
            error("image.tag"),
            "invalid JSONPath `image.tag` at character 1: a JSONPath starts with `$`"
        );
        assert_eq!(
            error("$.image.pull-policy"),
            "invalid JSONPath `$.image.pull-policy` at character 13: unexpected `-`; a name with such characters is quoted, e.g. `$[\"key-with-dash\"]`"
        );
        assert_eq!(
            error("$.a[-1]"),
            "invalid JSONPath `$.a[-1]` at character 5: negative indexes are not supported"
        );
        assert_eq!(
            error("$.a[01]"),
            "invalid JSONPath `$.a[01]` at character 5: an index has no leading zeros"
        );
        assert_eq!(
            error("$.a[0"),
            "invalid JSONPath `$.a[0` at character 6: expected `]`"
        );
        assert_eq!(
            error("$['a"),
            "invalid JSONPath `$['a` at character 5: unterminated quoted name"
        );
        assert_eq!(error("$..*"), "invalid JSONPath `$..*` at character 4: `..*` is not supported; name the key, e.g. `$..image`");
        assert_eq!(error("$.1a"), "invalid JSONPath `$.1a` at character 3: expected a name (letters, digits, `_`; not starting with a digit), `*`, or `[`");
        assert_eq!(error("$[?(@.a)]"), "invalid JSONPath `$[?(@.a)]` at character 3: expected an index, a quoted name or `*` after `[`");
    }
}
