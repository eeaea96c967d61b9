//! Loading, canonical YAML and the resource-level helpers, on the DESIGN.md example.

use promenade_model::canonical::{to_yaml, to_yaml_stream};
use promenade_model::graph::FlowGraph;
use promenade_model::layout::Layout;
use promenade_model::policy::PolicyField;
use promenade_model::resources::{PromotionAction, Resource, ResourceKind};
use promenade_model::{validate, Validation};

const SHOP: &str = include_str!("fixtures/resources/shop.yaml");

fn shop() -> Validation {
    validate([("shop.yaml", SHOP)])
}

#[test]
fn the_design_example_is_valid() {
    let validation = shop();
    assert_eq!(
        validation.diagnostics,
        vec![],
        "{:#?}",
        validation.diagnostics
    );
    assert!(validation.is_valid());
    assert_eq!(
        validation.summary.to_string(),
        "1 file: 5 Environments, 1 Product, 1 PromotionTemplate, 1 PromotionPolicy, 1 PromotionFlow; 0 errors"
    );
    assert_eq!(validation.summary.resources[&ResourceKind::Environment], 5);
    let json = serde_json::to_value(&validation).unwrap();
    assert_eq!(json["summary"]["resources"]["PromotionFlow"], 1);
    assert_eq!(json["summary"]["adminOnly"], 0);
    assert_eq!(json["diagnostics"], serde_json::json!([]));
}

#[test]
fn canonical_yaml_round_trips_with_stable_bytes() {
    let resources: Vec<Resource> = shop().resources.resources().cloned().collect();
    let first = to_yaml_stream(&resources).unwrap();
    let reread = validate([("canonical.yaml", first.as_str())]);
    assert_eq!(reread.diagnostics, vec![]);
    let again: Vec<Resource> = reread.resources.resources().cloned().collect();
    assert_eq!(
        again, resources,
        "parse → serialize → parse changed a value"
    );
    assert_eq!(
        to_yaml_stream(&again).unwrap(),
        first,
        "serializing is not stable"
    );
}

#[test]
fn canonical_yaml_of_a_flow() {
    let validation = shop();
    let flow = validation
        .resources
        .get(ResourceKind::PromotionFlow, "standard")
        .unwrap();
    assert_eq!(
        to_yaml(&flow.resource).unwrap(),
        r#"apiVersion: promenade.dev/v1alpha1
kind: PromotionFlow
metadata:
  name: standard
  annotations:
    promenade.dev/layout: '{"dev":[0,0],"qa":[240,0]}'
spec:
  triggerEnvironment: dev
  steps:
  - environment: qa
    dependsOn:
    - dev
  - environment: staging-eu
    dependsOn:
    - qa
  - environment: staging-us
    dependsOn:
    - qa
  - environment: prod
    dependsOn:
    - staging-eu
    - staging-us
    policy:
      action: pr
  hooks:
    onSuccess:
    - http:
        url: https://hooks.example.com/promenade
        method: POST
    onFailure:
    - http:
        url: https://hooks.example.com/promenade
        method: POST
  timeout: 1d
"#
    );
}

#[test]
fn the_layout_annotation_survives_edits_through_the_canvas_helpers() {
    let validation = shop();
    let mut flow = validation.resources.flow("standard").unwrap().clone();
    assert_eq!(
        flow.layout().unwrap(),
        Layout::from([("dev".into(), (0, 0)), ("qa".into(), (240, 0))])
    );
    let mut layout = flow.layout().unwrap();
    layout.insert("prod".into(), (720, 40));
    flow.set_layout(&layout);
    let text = to_yaml(&Resource::PromotionFlow(flow)).unwrap();
    let reread = validate([("flow.yaml", text.as_str())]);
    assert_eq!(
        reread.resources.flow("standard").unwrap().layout().unwrap(),
        layout
    );
}

#[test]
fn the_flow_and_policies_answer_questions() {
    let validation = shop();
    let set = &validation.resources;
    let graph = FlowGraph::new(&set.flow("standard").unwrap().spec).unwrap();
    assert_eq!(graph.joins(), ["prod"]);
    let prod = set
        .effective_policy("shop", "prod", Some("standard"))
        .unwrap();
    assert_eq!(prod.action, PromotionAction::Pr);
    assert_eq!(prod.gates.len(), 2);
    assert_eq!(
        prod.origin(PolicyField::Action).unwrap().to_string(),
        "action: set by flow `standard`, step `prod`; overrides policy `prod-gate` (priority 100)"
    );
    let qa = set
        .effective_policy("shop", "qa", Some("standard"))
        .unwrap();
    assert_eq!(qa.action, PromotionAction::Commit);
    assert!(set.effective_policy("shop", "nowhere", None).is_none());
    let product = set.product("shop").unwrap();
    let trigger = product.spec.flows[0].trigger.as_ref().unwrap();
    assert!(trigger.accepts("feat: new checkout"));
    assert!(!trigger.accepts("docs: typo [skip promote]"));
    let web = &product.spec.applications[1];
    assert_eq!(web.path_for("prod"), "apps/web/prod-eu");
    assert_eq!(
        web.repository_for("prod", &product.spec.repository).url,
        "https://github.com/acme/gitops-eu.git"
    );
    assert_eq!(
        web.repository_for("qa", &product.spec.repository).branch(),
        "main"
    );
}

#[test]
fn resources_deserialize_from_json_with_the_same_checks() {
    let json = serde_json::json!({
        "apiVersion": "promenade.dev/v1alpha1", "kind": "Environment",
        "metadata": {"name": "qa"}, "spec": {"kind": "non-prod", "colour": "#fff"}
    });
    let error = serde_json::from_value::<Resource>(json)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "spec.colour: unknown field `colour`, expected one of `kind`, `color`, `argocd`, `argoWorkflows`"
    );
    let ok = serde_json::json!({
        "apiVersion": "promenade.dev/v1alpha1", "kind": "Environment",
        "metadata": {"name": "qa"}, "spec": {"kind": "non-prod"}
    });
    let resource: Resource = serde_json::from_value(ok).unwrap();
    assert_eq!(
        serde_json::to_value(&resource).unwrap()["kind"],
        "Environment"
    );
}
