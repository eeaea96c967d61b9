//! Property tests: edits touch one line, and canonical YAML round-trips.

use std::collections::BTreeMap;

use proptest::prelude::*;

use promenade_model::canonical::to_yaml;
use promenade_model::resources::{
    Environment, EnvironmentKind, EnvironmentSpec, FlowStep, Metadata, PromotionFlow,
    PromotionFlowSpec, PromotionTemplateSpec, Resource, TemplateFile,
};
use promenade_model::template::{apply_template, FileTree};
use promenade_model::validate;

#[derive(Clone, Debug)]
enum Style {
    Plain,
    Single,
    Double,
}

#[derive(Clone, Debug)]
enum Value {
    Scalar(String, Style),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug)]
struct Entry {
    key: String,
    value: Value,
    comment: Option<String>,
    blank_before: bool,
}

fn scalar() -> impl Strategy<Value = Value> {
    (
        "[a-z][a-z0-9.-]{0,10}",
        prop_oneof![Just(Style::Plain), Just(Style::Single), Just(Style::Double)],
    )
        .prop_map(|(text, style)| Value::Scalar(text, style))
}

fn entries(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Vec<Entry>> {
    prop::collection::vec(
        (value, prop::option::of("[a-z ]{0,12}"), any::<bool>()),
        1..6,
    )
    .prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(i, (value, comment, blank_before))| Entry {
                key: format!("key{i}"),
                value,
                comment,
                blank_before,
            })
            .collect()
    })
}

fn document() -> impl Strategy<Value = Vec<Entry>> {
    let nested = entries(scalar()).prop_map(Value::Map);
    entries(prop_oneof![scalar(), nested])
}

/// Writes the document; returns its lines and, per leaf path, the line it is on.
fn render(
    entries: &[Entry],
    indent: usize,
    out: &mut Vec<String>,
    lines: &mut BTreeMap<Vec<String>, usize>,
    path: &[String],
) {
    for entry in entries {
        if entry.blank_before {
            out.push(String::new());
        }
        let mut key_path = path.to_vec();
        key_path.push(entry.key.clone());
        let comment = entry
            .comment
            .as_ref()
            .map(|c| format!("  # {c}"))
            .unwrap_or_default();
        match &entry.value {
            Value::Scalar(text, style) => {
                let text = match style {
                    Style::Plain => text.clone(),
                    Style::Single => format!("'{text}'"),
                    Style::Double => format!("\"{text}\""),
                };
                lines.insert(key_path, out.len());
                out.push(format!(
                    "{}{}: {text}{comment}",
                    " ".repeat(indent),
                    entry.key
                ));
            }
            Value::Map(children) => {
                out.push(format!("{}{}:{comment}", " ".repeat(indent), entry.key));
                render(children, indent + 2, out, lines, &key_path);
            }
        }
    }
}

fn apply(path: &[String], target: &str, new_value: &str) -> String {
    let mut source = serde_json::Value::String(new_value.to_owned());
    for key in path.iter().rev() {
        source = serde_json::json!({ key: source });
    }
    let attribute = path
        .iter()
        .fold(String::from("$"), |acc, key| format!("{acc}.{key}"));
    let spec = PromotionTemplateSpec {
        version_source: None,
        files: vec![TemplateFile {
            path: "values.yaml".into(),
            attributes: vec![attribute],
        }],
    };
    let source = FileTree::from([("values.yaml".into(), source.to_string().into_bytes())]);
    let target = FileTree::from([("values.yaml".into(), target.as_bytes().to_vec())]);
    let applied = apply_template(&spec, &source, &target).unwrap();
    String::from_utf8(applied.files["values.yaml"].clone()).unwrap()
}

fn split(text: &str, newline: &str) -> Vec<String> {
    text.split_inclusive('\n')
        .map(|line| line.strip_suffix(newline).unwrap_or(line).to_owned())
        .collect()
}

proptest! {
    #[test]
    fn setting_one_attribute_changes_only_its_line(
        doc in document(),
        crlf in any::<bool>(),
        pick in any::<prop::sample::Index>(),
        new_value in "v[a-z0-9]{0,8}",
    ) {
        let newline = if crlf { "\r\n" } else { "\n" };
        let (mut out, mut lines) = (Vec::new(), BTreeMap::new());
        render(&doc, 0, &mut out, &mut lines, &[]);
        let text: String = out.iter().map(|line| format!("{line}{newline}")).collect();
        let (path, &line) = lines.iter().nth(pick.index(lines.len())).unwrap();
        let edited = apply(path, &text, &new_value);
        let before = split(&text, newline);
        let after = split(&edited, newline);
        prop_assert_eq!(before.len(), after.len(), "lines were added or removed:\n{}", edited);
        for (number, (old, new)) in before.iter().zip(&after).enumerate() {
            if number != line {
                prop_assert_eq!(old, new, "line {} changed", number + 1);
            }
        }
        prop_assert!(after[line].contains(&new_value));
        prop_assert!(edited.ends_with(newline));
    }

    #[test]
    fn adding_one_attribute_only_adds_a_line(
        doc in document(),
        crlf in any::<bool>(),
        pick in any::<prop::sample::Index>(),
        new_value in "v[a-z0-9]{0,8}",
    ) {
        let newline = if crlf { "\r\n" } else { "\n" };
        let (mut out, mut lines) = (Vec::new(), BTreeMap::new());
        render(&doc, 0, &mut out, &mut lines, &[]);
        let text: String = out.iter().map(|line| format!("{line}{newline}")).collect();
        // A new key next to an existing leaf.
        let (path, _) = lines.iter().nth(pick.index(lines.len())).unwrap();
        let mut path = path.clone();
        *path.last_mut().unwrap() = "added".into();
        let edited = apply(&path, &text, &new_value);
        let before = split(&text, newline);
        let after = split(&edited, newline);
        prop_assert_eq!(after.len(), before.len() + 1, "{}", edited);
        let inserted = (0..after.len()).find(|&i| i >= before.len() || before[i] != after[i]).unwrap();
        let mut without = after.clone();
        let line = without.remove(inserted);
        prop_assert_eq!(&without, &before, "other lines changed");
        prop_assert!(line.trim_start().starts_with(&format!("added: {new_value}")), "{}", line);
        let mixed = if crlf { edited.replace("\r\n", "").contains('\n') } else { edited.contains('\r') };
        prop_assert!(!mixed, "line ends are mixed");
    }
}

fn awkward_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("yes".to_owned()),
        Just("null".to_owned()),
        Just("1.10".to_owned()),
        Just("0755".to_owned()),
        Just("#hash".to_owned()),
        Just("a: b".to_owned()),
        Just("- x".to_owned()),
        Just("{env}".to_owned()),
        Just("multi\nline".to_owned()),
        Just("  padded ".to_owned()),
        Just("quote'\"s".to_owned()),
        "\\PC{0,12}",
    ]
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,6}[a-z0-9]"
}

fn environment() -> impl Strategy<Value = Resource> {
    (
        name(),
        prop::collection::btree_map("[a-z./-]{1,10}", awkward_text(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(name, labels, prod)| {
            Resource::Environment(Environment {
                metadata: Metadata {
                    name,
                    annotations: labels.clone(),
                    labels,
                },
                spec: EnvironmentSpec {
                    kind: if prod {
                        EnvironmentKind::Prod
                    } else {
                        EnvironmentKind::NonProd
                    },
                    color: None,
                    argocd: None,
                    argo_workflows: None,
                },
            })
        })
}

fn flow() -> impl Strategy<Value = Resource> {
    (
        name(),
        name(),
        prop::collection::vec((name(), prop::collection::vec(name(), 0..3)), 0..5),
        1u64..200_000,
    )
        .prop_map(|(name, trigger, steps, seconds)| {
            Resource::PromotionFlow(PromotionFlow {
                metadata: Metadata::named(name),
                spec: PromotionFlowSpec {
                    trigger_environment: trigger,
                    steps: steps
                        .into_iter()
                        .map(|(environment, depends_on)| FlowStep {
                            environment,
                            depends_on,
                            policy: None,
                        })
                        .collect(),
                    timeout: promenade_model::duration::Duration::from_secs(seconds),
                    ..PromotionFlowSpec::default()
                },
            })
        })
}

proptest! {
    #[test]
    fn canonical_yaml_round_trips(resource in prop_oneof![environment(), flow()]) {
        let text = to_yaml(&resource).unwrap();
        let validation = validate([("r.yaml", text.as_str())]);
        let loaded: Vec<&Resource> = validation.resources.resources().collect();
        prop_assert_eq!(&loaded, &vec![&resource], "{}", text);
        let again = to_yaml(loaded[0]).unwrap();
        prop_assert_eq!(again, text);
    }
}
