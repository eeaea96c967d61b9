//! Applying a promotion template to in-memory file trees.
//!
//! A tree maps paths relative to one application's environment folder (`values.yaml`,
//! `config/app.yaml`) to file contents. For every file rule, in order:
//! - without `attributes`, the files the glob matches are mirrored: the target gets
//!   the source's bytes, and target files the glob matches that the source no longer
//!   has are removed (every environment receives the same content);
//! - with `attributes`, each matching source file's selected values are written into
//!   the target file of the same path, preserving everything else byte for byte
//!   ([`crate::edit`]); a target that lacks the file gets the whole source file.
//!
//! A rule naming a plain path (no glob characters) that the source lacks is an error,
//! and so is a definite attribute path (no `*` or `..`) that the source file lacks.
//! Files with attributes must be single-document YAML (`.yaml`, `.yml`) or JSON.

use std::collections::BTreeMap;

use globset::{Glob, GlobBuilder, GlobMatcher};
use serde_json::Value;

use crate::edit::{self, Format};
use crate::jsonpath::JsonPath;
use crate::path::FieldPath;
use crate::resources::PromotionTemplateSpec;
use crate::yaml::{self, Node};
use crate::Error;

/// Files by path relative to an application's environment folder.
pub type FileTree = BTreeMap<String, Vec<u8>>;

/// The result of applying a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The new target tree.
    pub files: FileTree,
    /// Whether it differs from the target given.
    pub changed: bool,
}

/// Refuses paths that are absolute or climb out of their folder with `..`.
pub fn check_relative_path(path: &str) -> Result<(), Error> {
    let fail = |message: &str| {
        Err(Error::PathEscapes {
            path: path.to_owned(),
            message: message.to_owned(),
        })
    };
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if path.starts_with(['/', '\\']) || drive {
        return fail("it is absolute; write it relative to the folder");
    }
    if path.split(['/', '\\']).any(|segment| segment == "..") {
        return fail("`..` leads out of the folder");
    }
    Ok(())
}

/// Checks a template glob's syntax without compiling it.
///
/// Validation runs in the browser too: parsing alone keeps globset's regex engine (and
/// its Unicode tables) out of the wasm bundle, since only [`compile_glob`] reaches it.
pub fn check_glob(pattern: &str) -> Result<(), Error> {
    parse_glob(pattern).map(drop)
}

/// Compiles a template glob: `*` and `?` stay within one folder, `**` crosses folders.
pub fn compile_glob(pattern: &str) -> Result<GlobMatcher, Error> {
    parse_glob(pattern).map(|glob| glob.compile_matcher())
}

fn parse_glob(pattern: &str) -> Result<Glob, Error> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| Error::Glob {
            pattern: pattern.to_owned(),
            message: e.kind().to_string(),
        })
}

fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '[', ']', '{', '}'])
}

struct Rule {
    pattern: String,
    matcher: GlobMatcher,
    attributes: Vec<JsonPath>,
}

/// A template ready to apply to many applications: globs and JSONPaths compiled once.
pub struct CompiledTemplate {
    rules: Vec<Rule>,
    version: Option<(String, JsonPath)>,
}

impl CompiledTemplate {
    /// Checks and compiles a template.
    pub fn new(spec: &PromotionTemplateSpec) -> Result<Self, Error> {
        let rules = spec
            .files
            .iter()
            .map(|file| {
                check_relative_path(&file.path)?;
                Ok(Rule {
                    pattern: file.path.clone(),
                    matcher: compile_glob(&file.path)?,
                    attributes: file
                        .attributes
                        .iter()
                        .map(|a| JsonPath::parse(a))
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let version = match &spec.version_source {
            Some(source) => {
                check_relative_path(&source.file)?;
                Some((source.file.clone(), JsonPath::parse(&source.path)?))
            }
            None => None,
        };
        Ok(Self { rules, version })
    }

    /// The new target tree after promoting `source` onto `target`.
    pub fn apply(&self, source: &FileTree, target: &FileTree) -> Result<Applied, Error> {
        let mut files = target.clone();
        for rule in &self.rules {
            let matched: Vec<(&String, &Vec<u8>)> = source
                .iter()
                .filter(|(path, _)| rule.matcher.is_match(path))
                .collect();
            if matched.is_empty() && is_literal(&rule.pattern) {
                return Err(Error::MissingSourceFile {
                    file: rule.pattern.clone(),
                });
            }
            if rule.attributes.is_empty() {
                files.retain(|path, _| !rule.matcher.is_match(path) || source.contains_key(path));
                for (path, bytes) in matched {
                    files.insert(path.clone(), bytes.clone());
                }
                continue;
            }
            for (path, bytes) in matched {
                let updated = match files.get(path) {
                    Some(current) => copy_attributes(path, bytes, current, &rule.attributes)?,
                    None => bytes.clone(),
                };
                files.insert(path.clone(), updated);
            }
        }
        let changed = &files != target;
        Ok(Applied { files, changed })
    }

    /// The release version read from `tree` (the trigger environment's folder), or
    /// `None` when the template has no `versionSource`.
    pub fn read_version(&self, tree: &FileTree) -> Result<Option<String>, Error> {
        let Some((file, path)) = &self.version else {
            return Ok(None);
        };
        let fail = |message: String| Error::VersionSource {
            file: file.clone(),
            path: path.to_string(),
            message,
        };
        let bytes = tree
            .get(file)
            .ok_or_else(|| fail("the file does not exist".into()))?;
        let (_, document) = read_document(file, bytes)?;
        let matches = path.select_in(&document);
        let node = match matches.as_slice() {
            [(_, node)] => node,
            [] => return Err(fail("it matches nothing".into())),
            more => {
                return Err(fail(format!(
                    "it matches {} values; it must select one",
                    more.len()
                )))
            }
        };
        match node.as_scalar().map(|scalar| scalar.resolve()) {
            Some(Value::String(text)) if !text.is_empty() => Ok(Some(text)),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(Value::Bool(flag)) => Ok(Some(flag.to_string())),
            Some(_) => Err(fail("the value is empty".into())),
            None => Err(fail("it selects a mapping or a list, not a version".into())),
        }
    }
}

/// Applies a template once; see [`CompiledTemplate`] to apply one to many applications.
pub fn apply_template(
    spec: &PromotionTemplateSpec,
    source: &FileTree,
    target: &FileTree,
) -> Result<Applied, Error> {
    CompiledTemplate::new(spec)?.apply(source, target)
}

/// Reads the release version; see [`CompiledTemplate::read_version`].
pub fn read_version(
    spec: &PromotionTemplateSpec,
    tree: &FileTree,
) -> Result<Option<String>, Error> {
    CompiledTemplate::new(spec)?.read_version(tree)
}

/// Parses a single-document YAML or JSON file into the position-keeping tree.
fn read_document(file: &str, bytes: &[u8]) -> Result<(Format, Node), Error> {
    read_text(file, bytes).map(|(format, _, node)| (format, node))
}

fn read_text<'a>(file: &str, bytes: &'a [u8]) -> Result<(Format, &'a str, Node), Error> {
    let unsupported = |message: &str| Error::UnsupportedFile {
        file: file.to_owned(),
        message: message.to_owned(),
    };
    let format = Format::of(file)
        .ok_or_else(|| unsupported("attributes can only be read in .yaml, .yml and .json files"))?;
    let text = std::str::from_utf8(bytes).map_err(|_| unsupported("the file is not UTF-8 text"))?;
    if format == Format::Json {
        // JSON is read by the YAML reader below (for order and positions); serde_json
        // first makes sure it really is JSON, with its own precise errors.
        serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| Error::Syntax {
            file: file.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
    }
    let stream = yaml::parse(text);
    if let Some(error) = stream.error {
        return Err(Error::Syntax {
            file: file.to_owned(),
            line: error.mark.line,
            column: error.mark.column,
            message: error.message,
        });
    }
    let mut documents = stream.documents.into_iter();
    match (documents.next(), documents.next()) {
        (Some(document), None) => Ok((format, text, document)),
        (None, _) => Ok((format, text, Node::null(yaml::Mark { line: 1, column: 1 }))),
        (Some(_), Some(_)) => Err(unsupported(
            "attributes need a single-document file, and this one has several",
        )),
    }
}

fn copy_attributes(
    file: &str,
    source: &[u8],
    target: &[u8],
    attributes: &[JsonPath],
) -> Result<Vec<u8>, Error> {
    let (_, source_tree) = read_document(file, source)?;
    let (format, target_text, target_tree) = read_text(file, target)?;
    let mut edits: Vec<(FieldPath, &Node)> = Vec::new();
    for attribute in attributes {
        let matches = attribute.select_in(&source_tree);
        if matches.is_empty() && attribute.definite().is_some() {
            return Err(Error::AttributeMissing {
                file: file.to_owned(),
                path: attribute.to_string(),
            });
        }
        // `$` selects the whole document: the file is copied as it is.
        if matches.iter().any(|(path, _)| path.segments().is_empty()) {
            return Ok(source.to_vec());
        }
        edits.extend(matches);
    }
    edit::apply(format, target_text, &target_tree, &edits)
        .map(String::into_bytes)
        .map_err(|e| Error::Edit {
            file: file.to_owned(),
            path: e.path.to_jsonpath(),
            message: e.message,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{TemplateFile, VersionSource};

    fn tree(files: &[(&str, &str)]) -> FileTree {
        files
            .iter()
            .map(|(p, c)| ((*p).to_owned(), c.as_bytes().to_vec()))
            .collect()
    }

    fn template(files: &[(&str, &[&str])]) -> PromotionTemplateSpec {
        PromotionTemplateSpec {
            version_source: Some(VersionSource {
                file: "values.yaml".into(),
                path: "$.image.tag".into(),
            }),
            files: files
                .iter()
                .map(|(path, attributes)| TemplateFile {
                    path: (*path).into(),
                    attributes: attributes.iter().map(|a| (*a).into()).collect(),
                })
                .collect(),
        }
    }

    fn text(files: &FileTree, path: &str) -> String {
        String::from_utf8(files[path].clone()).unwrap()
    }

    #[test]
    fn mirrors_whole_files_by_glob() {
        let spec = template(&[("config/*.yaml", &[])]);
        let source = tree(&[
            ("config/a.yaml", "a: 2\n"),
            ("config/new.yaml", "n: 1\n"),
            ("values.yaml", "x: 1\n"),
        ]);
        let target = tree(&[
            ("config/a.yaml", "a: 1\n"),
            ("config/gone.yaml", "g: 1\n"),
            ("config/sub/keep.yaml", "k: 1\n"),
            ("README", "r"),
        ]);
        let applied = apply_template(&spec, &source, &target).unwrap();
        assert!(applied.changed);
        assert_eq!(
            applied.files,
            tree(&[
                ("config/a.yaml", "a: 2\n"),
                ("config/new.yaml", "n: 1\n"),
                ("config/sub/keep.yaml", "k: 1\n"),
                ("README", "r")
            ])
        );
    }

    #[test]
    fn copies_attributes_and_reports_unchanged() {
        let spec = template(&[("values.yaml", &["$.image.tag"])]);
        let source = tree(&[("values.yaml", "image:\n  tag: \"1.2.3\"\nreplicas: 9\n")]);
        let target = tree(&[(
            "values.yaml",
            "# prod\nimage:\n  tag: \"1.2.2\" # pinned\nreplicas: 3\n",
        )]);
        let applied = apply_template(&spec, &source, &target).unwrap();
        assert_eq!(
            text(&applied.files, "values.yaml"),
            "# prod\nimage:\n  tag: \"1.2.3\" # pinned\nreplicas: 3\n"
        );
        let again = apply_template(&spec, &source, &applied.files).unwrap();
        assert!(!again.changed);
        assert_eq!(again.files, applied.files);
    }

    #[test]
    fn bootstraps_a_missing_target_file() {
        let spec = template(&[("values.yaml", &["$.image.tag"])]);
        let source = tree(&[("values.yaml", "image: {tag: '1'}\n")]);
        let applied = apply_template(&spec, &source, &FileTree::new()).unwrap();
        assert_eq!(applied.files, source);
    }

    #[test]
    fn explains_what_cannot_be_applied() {
        let source = tree(&[("values.yaml", "image: {tag: '1'}\n"), ("notes.txt", "x")]);
        let error = |files: &[(&str, &[&str])], target: &FileTree| {
            apply_template(&template(files), &source, target)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error(&[("chart.yaml", &[])], &FileTree::new()),
            "`chart.yaml` is missing from the source environment"
        );
        assert_eq!(
            error(&[("values.yaml", &["$.image.digest"])], &source),
            "`values.yaml`: `$.image.digest` is not in the source environment's file"
        );
        assert_eq!(
            error(&[("notes.txt", &["$.a"])], &source),
            "`notes.txt`: attributes can only be read in .yaml, .yml and .json files"
        );
        assert_eq!(
            error(
                &[("values.yaml", &["$.image.tag"])],
                &tree(&[("values.yaml", "image: [\n")])
            ),
            "values.yaml:2:1: while parsing a node, did not find expected node content"
        );
        assert_eq!(
            error(&[("values.yaml", &["$.image.tag"])], &tree(&[("values.yaml", "image: latest\n")])),
            "`values.yaml`: cannot set `$.image.tag`: the path goes through a list item that does not exist or through a value"
        );
        assert_eq!(
            error(&[("../values.yaml", &[])], &source),
            "path `../values.yaml` escapes the application folder: `..` leads out of the folder"
        );
    }

    #[test]
    fn never_writes_through_aliases() {
        let spec = template(&[("values.yaml", &["$.image.tag"])]);
        let source = tree(&[("values.yaml", "image: {tag: '2'}\n")]);
        let error = |target: &str| {
            apply_template(&spec, &source, &tree(&[("values.yaml", target)]))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("base: &b {tag: '1'}\nimage: *b\n"),
            "`values.yaml`: cannot set `$.image.tag`: `*b` is an alias; writing through it would also change its anchor"
        );
        assert_eq!(
            error("image: {tag: &t '1'}\nsidecar: {tag: *t}\n"),
            "`values.yaml`: cannot set `$.image.tag`: the editor would have changed other data too, so nothing was written"
        );
        let anchored = "image: {tag: &t '1'}\n";
        let applied = apply_template(&spec, &source, &tree(&[("values.yaml", anchored)])).unwrap();
        assert_eq!(
            text(&applied.files, "values.yaml"),
            "image: {tag: &t '2'}\n"
        );
    }

    #[test]
    fn edits_json_in_json_syntax() {
        let spec = template(&[("app.json", &["$.image", "$.list[1]"])]);
        let source = tree(&[(
            "app.json",
            r#"{"image": {"tag": "2", "digest": null}, "list": [1, 2.50]}"#,
        )]);
        let target = tree(&[(
            "app.json",
            "{\n  \"list\": [1, 1],\n  \"image\": {\"tag\": \"1\", \"old\": true}\n}\n",
        )]);
        let applied = apply_template(&spec, &source, &target).unwrap();
        assert_eq!(
            text(&applied.files, "app.json"),
            "{\n  \"list\": [1, 2.50],\n  \"image\": {\n    \"tag\": \"2\",\n    \"digest\": null\n  }\n}\n"
        );
    }

    #[test]
    fn reads_the_version() {
        let spec = template(&[("values.yaml", &[])]);
        let version = |text: &str| read_version(&spec, &tree(&[("values.yaml", text)]));
        assert_eq!(
            version("image: {tag: v1.4.0}\n").unwrap(),
            Some("v1.4.0".into())
        );
        assert_eq!(version("image: {tag: 42}\n").unwrap(), Some("42".into()));
        assert_eq!(
            version("image: {}\n").unwrap_err().to_string(),
            "version source `values.yaml` `$.image.tag`: it matches nothing"
        );
        assert_eq!(
            version("image: {tag: [1]}\n").unwrap_err().to_string(),
            "version source `values.yaml` `$.image.tag`: it selects a mapping or a list, not a version"
        );
        assert_eq!(
            read_version(&PromotionTemplateSpec::default(), &FileTree::new()).unwrap(),
            None
        );
    }

    #[test]
    fn relative_paths() {
        assert!(check_relative_path("config/*.yaml").is_ok());
        assert!(check_relative_path("a/..b/c").is_ok());
        assert!(check_relative_path("/etc/passwd").is_err());
        assert!(check_relative_path("C:\\x").is_err());
        assert!(check_relative_path("a/../../b").is_err());
    }
}
