//! The published JSON Schemas: current with the model, accepting every resource the
//! loader accepts (the fixtures and every example in `docs/resources.md`), and refusing
//! what the loader refuses for its shape.

use std::path::{Path, PathBuf};

use promenade_model::diagnostic::Code;
use promenade_model::resources::ResourceKind;
use promenade_model::{schema, validate};
use serde::Deserialize;
use serde_json::{json, Value};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every YAML document of `text`, as JSON.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).expect("YAML the loader accepted"))
        .filter(|document| !document.is_null())
        .collect()
}

/// Documents as one multi-document YAML file.
fn as_file(documents: &[Value]) -> String {
    documents
        .iter()
        .map(|d| format!("---\n{}", serde_yaml_ng::to_string(d).unwrap()))
        .collect()
}

fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("a valid JSON Schema");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Sets of YAML files the loader accepts together: the fixture product, and the examples
/// of the resource reference (which refer to each other).
fn accepted_sets() -> Vec<Vec<(String, String)>> {
    let fixture = workspace().join("model/tests/fixtures/resources/shop.yaml");
    let shop = vec![(
        "shop.yaml".to_string(),
        std::fs::read_to_string(fixture).unwrap(),
    )];
    let reference = std::fs::read_to_string(workspace().join("docs/resources.md")).unwrap();
    let examples = reference
        .split("```yaml\n")
        .skip(1)
        .enumerate()
        .map(|(index, block)| {
            let text = block.split("```").next().unwrap_or_default();
            (
                format!("docs/resources.md, example {}", index + 1),
                text.to_string(),
            )
        })
        .collect();
    vec![shop, examples]
}

#[test]
fn the_committed_schemas_are_current() {
    let dir = workspace().join("docs/schema");
    let bless = std::env::var_os("PROMENADE_BLESS").is_some();
    let mut stale = Vec::new();
    for kind in ResourceKind::ALL.map(Some).into_iter().chain([None]) {
        let generated = match kind {
            Some(kind) => schema::for_kind(kind),
            None => schema::for_all_kinds(),
        };
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        let path = dir.join(schema::file_name(kind));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}\nregenerate with `PROMENADE_BLESS=1 cargo test -p promenade-model --test schema`"
    );
}

#[test]
fn every_resource_the_loader_accepts_matches_its_schema() {
    let all = schema::for_all_kinds();
    let mut checked = 0;
    for files in accepted_sets() {
        // The reference's examples leave out most environments they name: references
        // are not the schema's business, every other problem is.
        let validation = validate(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
        let problems: Vec<_> = validation
            .diagnostics
            .iter()
            .filter(|d| d.code != Code::UnknownEnvironment)
            .collect();
        assert!(problems.is_empty(), "{problems:?}");
        for (name, text) in &files {
            for document in documents(text) {
                let kind = document["kind"].as_str().unwrap_or_default();
                let kind = ResourceKind::from_name(kind).unwrap();
                assert_eq!(
                    errors(&schema::for_kind(kind), &document),
                    Vec::<String>::new(),
                    "{name}: {document}"
                );
                assert_eq!(errors(&all, &document), Vec::<String>::new(), "{name}");
                checked += 1;
            }
        }
    }
    // Five environments, a product, a template, a policy and a flow in the fixture, and
    // the reference's examples.
    assert!(checked >= 14, "only {checked} documents checked");
}

#[test]
fn shapes_the_loader_refuses_are_refused_by_the_schema_too() {
    let all = schema::for_all_kinds();
    let fixture =
        std::fs::read_to_string(workspace().join("model/tests/fixtures/resources/shop.yaml"))
            .unwrap();
    let originals = documents(&fixture);
    type Change = fn(&mut Value);
    let changes: [(&str, &str, Change); 7] = [
        ("an unknown top-level field", "Environment", |d| {
            d["status"] = json!({})
        }),
        ("a misspelt spec field", "Product", |d| {
            d["spec"]["applicatons"] = d["spec"]["applications"].take();
        }),
        ("a wrong apiVersion", "PromotionFlow", |d| {
            d["apiVersion"] = json!("promenade.dev/v0");
        }),
        ("an unknown kind", "PromotionTemplate", |d| {
            d["kind"] = json!("PromotionPlan");
        }),
        ("an unknown policy action", "PromotionPolicy", |d| {
            d["spec"]["action"] = json!("merge");
        }),
        ("a duration without a unit", "PromotionPolicy", |d| {
            d["spec"]["gates"] = json!([{ "soak": { "duration": "30" } }]);
        }),
        ("a list where a name goes", "Environment", |d| {
            d["metadata"]["name"] = json!(["dev"]);
        }),
    ];
    let unchanged = validate([("shop.yaml", as_file(&originals).as_str())]);
    assert!(unchanged.is_valid(), "{:?}", unchanged.diagnostics);
    for (what, kind, change) in changes {
        let mut documents = originals.clone();
        let document = documents
            .iter_mut()
            .find(|d| d["kind"] == kind)
            .expect("the fixture has every kind");
        change(document);
        let broken = document.clone();
        // The whole product with one document changed, so that nothing but the change
        // can make the loader refuse it.
        let loaded = validate([("shop.yaml", as_file(&documents).as_str())]);
        assert!(!loaded.is_valid(), "the loader accepts {what}");
        assert!(
            !errors(&all, &broken).is_empty(),
            "the schema accepts {what}: {broken}"
        );
    }
}
