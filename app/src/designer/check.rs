//! Validation while drawing: the YAML panel's text checked with the model against
//! everything stored on the server, exactly as the server will check it on save, and
//! each problem pinned to the node or edge it is about.

use std::collections::{BTreeMap, BTreeSet};

use promenade_model::diagnostic::{Code, Diagnostic, Severity};
use promenade_model::path::FieldPath;
use promenade_model::policy::EffectivePolicy;
use promenade_model::resources::{
    EnvironmentKind, PromotionAction, PromotionFlow, Resource, ResourceKind,
};
use promenade_model::{load, validate, ResourceSet};
use serde::{Deserialize, Serialize};

use super::state::Edge;

/// The name the panel's text goes by in diagnostics.
pub const PANEL_FILE: &str = "flow.yaml";

/// A stored resource, as the server hands it to the designer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDocument {
    pub kind: ResourceKind,
    pub name: String,
    /// Canonical YAML.
    pub document: String,
}

/// An environment the palette offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvironmentInfo {
    pub name: String,
    pub kind: EnvironmentKind,
    pub color: Option<String>,
}

/// A product the node badges and the effective policy can be shown for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductInfo {
    pub name: String,
    pub applications: usize,
    pub flows: Vec<String>,
}

/// Everything stored on the server, which the flow is validated against.
#[derive(Clone, Debug, Default)]
pub struct Context {
    documents: Vec<StoredDocument>,
    resources: ResourceSet,
}

fn stored_file(document: &StoredDocument) -> String {
    format!("stored:{}/{}", document.kind, document.name)
}

impl Context {
    pub fn new(documents: Vec<StoredDocument>) -> Self {
        let resources = validate(
            documents
                .iter()
                .map(|d| (stored_file(d), d.document.as_str())),
        )
        .resources;
        Self {
            documents,
            resources,
        }
    }

    /// Adds or replaces a stored resource (a new environment, a saved flow).
    pub fn upsert(&mut self, document: StoredDocument) {
        self.documents
            .retain(|d| !(d.kind == document.kind && d.name == document.name));
        self.documents.push(document);
        *self = Self::new(std::mem::take(&mut self.documents));
    }

    pub fn environments(&self) -> Vec<EnvironmentInfo> {
        let mut list: Vec<EnvironmentInfo> = self
            .resources
            .environments()
            .map(|e| EnvironmentInfo {
                name: e.metadata.name.clone(),
                kind: e.spec.kind,
                color: e.spec.color.as_ref().map(|c| c.as_str().to_owned()),
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Products, those that use `flow` first.
    pub fn products(&self, flow: &str) -> Vec<ProductInfo> {
        let mut list: Vec<ProductInfo> = self
            .resources
            .products()
            .map(|p| ProductInfo {
                name: p.metadata.name.clone(),
                applications: p.spec.applications.len(),
                flows: p.spec.flows.iter().map(|f| f.name.clone()).collect(),
            })
            .collect();
        list.sort_by_key(|p| (!p.flows.iter().any(|f| f == flow), p.name.clone()));
        list
    }
}

/// Reads the panel's text. Drawing needs exactly one `PromotionFlow` that decodes;
/// anything else explains itself with line numbers.
pub fn parse_flow(text: &str) -> Result<PromotionFlow, Vec<Diagnostic>> {
    let (resources, diagnostics) = load(PANEL_FILE, text);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let problem = |line: usize, message: &str| Diagnostic {
        file: PANEL_FILE.to_owned(),
        line,
        column: 1,
        severity: Severity::Error,
        code: Code::InvalidDocument,
        message: message.to_owned(),
        path: None,
        resource: None,
    };
    let mut flows = Vec::new();
    let mut others = Vec::new();
    for loaded in resources {
        let (line, _) = loaded.origin.position(&FieldPath::root());
        match loaded.resource {
            Resource::PromotionFlow(flow) => flows.push((line, flow)),
            other => others.push(problem(
                line,
                &format!(
                    "this panel edits one PromotionFlow; {} `{}` belongs in its own file",
                    other.kind(),
                    other.name()
                ),
            )),
        }
    }
    if !others.is_empty() {
        return Err(others);
    }
    let mut flows = flows.into_iter();
    match (flows.next(), flows.next()) {
        (Some((_, flow)), None) => Ok(flow),
        (None, _) => Err(vec![problem(
            1,
            "write a PromotionFlow here (apiVersion, kind, metadata, spec)",
        )]),
        (Some(_), Some((line, _))) => Err(vec![problem(
            line,
            "this panel edits one PromotionFlow: move the second one to its own file",
        )]),
    }
}

/// What validation found, in the panel and on the canvas.
#[derive(Clone, Debug, Default)]
pub struct Check {
    /// Problems in the panel's text, by line.
    pub diagnostics: Vec<Diagnostic>,
    /// The stored resources with the panel's flow in place of its stored version.
    pub resources: ResourceSet,
    /// The panel's flow, when its text decodes.
    pub flow: Option<PromotionFlow>,
    /// Messages per node.
    pub nodes: BTreeMap<String, Vec<String>>,
    /// Messages per edge.
    pub edges: BTreeMap<Edge, Vec<String>>,
}

/// Validates the panel's text together with every stored resource it does not replace
/// (as the server's apply does).
pub fn check(context: &Context, text: &str) -> Check {
    let (panel, _) = load(PANEL_FILE, text);
    let replaced: BTreeSet<(ResourceKind, String)> = panel
        .iter()
        .map(|l| (l.resource.kind(), l.resource.name().to_owned()))
        .collect();
    let files = context
        .documents
        .iter()
        .filter(|d| !replaced.contains(&(d.kind, d.name.clone())))
        .map(|d| (stored_file(d), d.document.as_str()))
        .chain(std::iter::once((PANEL_FILE.to_owned(), text)));
    let validation = validate(files);
    let diagnostics: Vec<Diagnostic> = validation
        .diagnostics
        .into_iter()
        .filter(|d| d.file == PANEL_FILE)
        .collect();
    let flow = panel.into_iter().find_map(|l| match l.resource {
        Resource::PromotionFlow(flow) => Some(flow),
        _ => None,
    });
    let mut result = Check {
        diagnostics: Vec::new(),
        resources: validation.resources,
        flow: None,
        nodes: BTreeMap::new(),
        edges: BTreeMap::new(),
    };
    if let Some(flow) = &flow {
        for diagnostic in &diagnostics {
            match pin(flow, diagnostic.path.as_deref().unwrap_or_default()) {
                Some(Pin::Node(node)) => result
                    .nodes
                    .entry(node)
                    .or_default()
                    .push(diagnostic.message.clone()),
                Some(Pin::Edge(edge)) => result
                    .edges
                    .entry(edge)
                    .or_default()
                    .push(diagnostic.message.clone()),
                None => {}
            }
        }
    }
    result.diagnostics = diagnostics;
    result.flow = flow;
    result
}

enum Pin {
    Node(String),
    Edge(Edge),
}

/// The node or edge a field path points into: `spec.triggerEnvironment`, anything
/// under `spec.steps[N]`, and `spec.steps[N].dependsOn[M]` for an edge (or for the
/// step, when the dependency is not drawn).
fn pin(flow: &PromotionFlow, path: &str) -> Option<Pin> {
    if path == "spec.triggerEnvironment" {
        return Some(Pin::Node(flow.spec.trigger_environment.clone()));
    }
    let rest = path.strip_prefix("spec.steps[")?;
    let (index, rest) = rest.split_once(']')?;
    let step = flow.spec.steps.get(index.parse::<usize>().ok()?)?;
    let dependency = rest
        .strip_prefix(".dependsOn[")
        .and_then(|r| r.split_once(']'))
        .and_then(|(i, _)| i.parse::<usize>().ok())
        .and_then(|i| step.depends_on.get(i));
    let drawn = |name: &str| {
        name == flow.spec.trigger_environment
            || flow.spec.steps.iter().any(|s| s.environment == name)
    };
    Some(match dependency {
        Some(from) if drawn(from) && from != &step.environment => {
            Pin::Edge(Edge::new(from.clone(), step.environment.clone()))
        }
        _ => Pin::Node(step.environment.clone()),
    })
}

/// What a node shows at a glance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFacts {
    /// `None` when no Environment of that name exists.
    pub kind: Option<EnvironmentKind>,
    pub color: Option<String>,
    /// Applications of the chosen product promoted to this environment.
    pub applications: Option<usize>,
    /// How the change is written here; `None` for the trigger, which is not promoted to.
    pub action: Option<PromotionAction>,
}

/// The policy in effect for a step, with who set each field.
pub fn effective_policy(
    resources: &ResourceSet,
    flow: &str,
    product: Option<&str>,
    environment: &str,
) -> Option<EffectivePolicy> {
    resources.effective_policy(product.unwrap_or_default(), environment, Some(flow))
}

/// What a node shows. `flow` is the panel's flow; while the text does not decode there
/// is none, and only what the stored resources say is shown.
pub fn node_facts(
    resources: &ResourceSet,
    flow: Option<&PromotionFlow>,
    product: Option<&str>,
    environment: &str,
) -> NodeFacts {
    let defined = resources.environment(environment);
    let action = match flow {
        Some(flow) if flow.spec.trigger_environment != environment => {
            effective_policy(resources, &flow.metadata.name, product, environment)
                .map(|p| p.action)
                .or_else(|| {
                    // Without the Environment no policy can be resolved; the inline
                    // action is still worth showing.
                    flow.spec
                        .steps
                        .iter()
                        .find(|s| s.environment == environment)
                        .and_then(|s| s.policy.as_ref()?.action)
                })
        }
        _ => None,
    };
    NodeFacts {
        kind: defined.map(|e| e.spec.kind),
        color: defined.and_then(|e| e.spec.color.as_ref().map(|c| c.as_str().to_owned())),
        applications: product
            .and_then(|p| resources.product(p))
            .map(|p| p.spec.applications.len()),
        action,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::designer::state::{Designer, Doc};

    pub(crate) const ENVIRONMENTS: [(&str, &str); 5] = [
        ("dev", "non-prod"),
        ("qa", "non-prod"),
        ("staging-eu", "non-prod"),
        ("staging-us", "non-prod"),
        ("prod", "prod"),
    ];

    pub(crate) fn context() -> Context {
        let mut documents: Vec<StoredDocument> = ENVIRONMENTS
            .iter()
            .map(|(name, kind)| StoredDocument {
                kind: ResourceKind::Environment,
                name: (*name).into(),
                document: format!(
                    "apiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata: {{ name: {name} }}\nspec: {{ kind: {kind} }}\n"
                ),
            })
            .collect();
        documents.push(StoredDocument {
            kind: ResourceKind::PromotionPolicy,
            name: "prod-gate".into(),
            document: "apiVersion: promenade.dev/v1alpha1\nkind: PromotionPolicy\nmetadata: { name: prod-gate }\nspec:\n  priority: 100\n  selector: { environmentKinds: [prod] }\n  action: pr\n".into(),
        });
        documents.push(StoredDocument {
            kind: ResourceKind::Product,
            name: "shop".into(),
            document: "apiVersion: promenade.dev/v1alpha1\nkind: Product\nmetadata: { name: shop }\nspec:\n  repository: { url: \"https://example.com/gitops.git\" }\n  applications:\n    - { name: web, path: \"apps/web/{env}\" }\n    - { name: api, path: \"apps/api/{env}\" }\n  template: helm\n  flows: [ { name: standard } ]\n".into(),
        });
        documents.push(StoredDocument {
            kind: ResourceKind::PromotionTemplate,
            name: "helm".into(),
            document: "apiVersion: promenade.dev/v1alpha1\nkind: PromotionTemplate\nmetadata: { name: helm }\nspec:\n  files: [ { path: values.yaml } ]\n".into(),
        });
        documents.push(StoredDocument {
            kind: ResourceKind::PromotionFlow,
            name: "standard".into(),
            document: "apiVersion: promenade.dev/v1alpha1\nkind: PromotionFlow\nmetadata: { name: standard }\nspec:\n  triggerEnvironment: dev\n  steps:\n    - { environment: qa, dependsOn: [dev] }\n".into(),
        });
        Context::new(documents)
    }

    #[test]
    fn the_context_lists_environments_and_products() {
        let context = context();
        let names: Vec<String> = context.environments().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["dev", "prod", "qa", "staging-eu", "staging-us"]);
        let products = context.products("standard");
        assert_eq!(products[0].name, "shop");
        assert_eq!(products[0].applications, 2);
    }

    #[test]
    fn a_valid_flow_replaces_its_stored_version() {
        let text = "apiVersion: promenade.dev/v1alpha1\nkind: PromotionFlow\nmetadata: { name: standard }\nspec:\n  triggerEnvironment: dev\n  steps:\n    - { environment: prod, dependsOn: [dev] }\n";
        let result = check(&context(), text);
        assert_eq!(result.diagnostics, []);
        assert_eq!(
            result.resources.flow("standard").unwrap().spec.steps[0].environment,
            "prod"
        );
        assert_eq!(result.resources.flows().count(), 1);
    }

    #[test]
    fn problems_are_pinned_to_nodes_and_edges_with_lines() {
        let text = "apiVersion: promenade.dev/v1alpha1
kind: PromotionFlow
metadata: { name: standard }
spec:
  triggerEnvironment: dev
  steps:
    - { environment: qa, dependsOn: [dev, staging-eu] }
    - { environment: staging-eu, dependsOn: [qa] }
    - { environment: nowhere, dependsOn: [dev] }
    - { environment: prod, dependsOn: [] }
";
        let result = check(&context(), text);
        let lines: Vec<(usize, Code)> = result
            .diagnostics
            .iter()
            .map(|d| (d.line, d.code))
            .collect();
        assert_eq!(
            lines,
            [
                (7, Code::FlowCycle),
                (9, Code::UnknownEnvironment),
                (10, Code::UnreachableStep)
            ]
        );
        assert_eq!(
            result.edges[&Edge::new("staging-eu", "qa")],
            ["steps depend on each other in a cycle: qa → staging-eu → qa"]
        );
        assert!(result.nodes["nowhere"][0].starts_with("unknown environment `nowhere`"));
        assert!(result.nodes["prod"][0].contains("not reachable"));
        assert!(result.diagnostics.iter().all(Diagnostic::is_error));
    }

    #[test]
    fn unreadable_text_explains_where() {
        let syntax = parse_flow("kind: [unclosed\n").unwrap_err();
        assert_eq!(syntax[0].code, Code::YamlSyntax);
        let unknown = parse_flow(
            "apiVersion: promenade.dev/v1alpha1\nkind: PromotionFlow\nmetadata: { name: a }\nspec:\n  triggerEnvironment: dev\n  stepz: []\n",
        )
        .unwrap_err();
        assert_eq!((unknown[0].line, unknown[0].code), (6, Code::UnknownField));
        let other = parse_flow(
            "apiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata: { name: a }\nspec: { kind: prod }\n",
        )
        .unwrap_err();
        assert!(other[0].message.contains("edits one PromotionFlow"));
        assert_eq!(parse_flow("").unwrap_err()[0].line, 1);
        let two = "apiVersion: promenade.dev/v1alpha1\nkind: PromotionFlow\nmetadata: { name: a }\nspec: { triggerEnvironment: dev }\n";
        let twice = parse_flow(&format!("{two}---\n{two}")).unwrap_err();
        assert_eq!(twice[0].line, 6);
    }

    #[test]
    fn nodes_show_kind_applications_and_action() {
        let mut d = Designer::new(Doc::empty("standard"));
        for env in ["dev", "qa", "prod"] {
            d.add(env, None).unwrap();
        }
        let text = promenade_model::canonical::to_yaml(&Resource::PromotionFlow(d.doc().to_flow()))
            .unwrap();
        let checked = check(&context(), &text);
        let resources = &checked.resources;
        let flow = checked.flow.as_ref();
        assert_eq!(flow.map(|f| f.metadata.name.as_str()), Some("standard"));
        let prod = node_facts(resources, flow, Some("shop"), "prod");
        assert_eq!(
            prod,
            NodeFacts {
                kind: Some(EnvironmentKind::Prod),
                color: None,
                applications: Some(2),
                action: Some(PromotionAction::Pr),
            }
        );
        let qa = node_facts(resources, flow, None, "qa");
        assert_eq!(
            (qa.applications, qa.action),
            (None, Some(PromotionAction::Commit))
        );
        assert_eq!(node_facts(resources, flow, None, "dev").action, None);
        assert_eq!(node_facts(resources, flow, None, "ghost").kind, None);
        assert_eq!(node_facts(resources, None, None, "qa").action, None);

        let explained = effective_policy(resources, "standard", Some("shop"), "prod").unwrap();
        assert_eq!(
            explained.explanation[0].to_string(),
            "action: set by policy `prod-gate` (priority 100)"
        );
    }
}
