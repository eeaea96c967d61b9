//! Offline validation: `promenade validate -f PATH...`, `POST /apply?dryRun=true` and
//! the flow designer's YAML panel all call [`validate`], which loads every file and
//! then checks the resources against each other, reporting every problem at once.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;

use crate::action::{Action, HeaderValue, SoakStart};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::freeze::Freeze;
use crate::graph::{FlowGraph, FlowProblem};
use crate::jsonpath::JsonPath;
use crate::layout::{parse_layout, LAYOUT_ANNOTATION};
use crate::loader::{load, LoadedResource};
use crate::path::FieldPath;
use crate::policy::{resolve_policy, EffectivePolicy};
use crate::redact::looks_secret;
use crate::resources::{
    Environment, Product, PromotionFlow, PromotionPolicy, PromotionTemplate, Resource,
    ResourceKind, Selector,
};
use crate::template::{check_glob, check_relative_path};

/// Loaded resources, in the order they were read.
#[derive(Clone, Debug, Default)]
pub struct ResourceSet {
    loaded: Vec<LoadedResource>,
}

macro_rules! accessors {
    ($($variant:ident: $type:ty => $all:ident, $one:ident;)*) => {
        $(
            #[doc = concat!("Every `", stringify!($variant), "`.")]
            pub fn $all(&self) -> impl Iterator<Item = &$type> {
                self.resources().filter_map(|resource| match resource {
                    Resource::$variant(inner) => Some(inner),
                    _ => None,
                })
            }

            #[doc = concat!("The `", stringify!($variant), "` named `name`.")]
            pub fn $one(&self, name: &str) -> Option<&$type> {
                self.$all().find(|inner| inner.metadata.name == name)
            }
        )*
    };
}

impl ResourceSet {
    /// A set of already loaded resources.
    pub fn new(loaded: Vec<LoadedResource>) -> Self {
        Self { loaded }
    }

    /// The resources with their origins.
    pub fn iter(&self) -> impl Iterator<Item = &LoadedResource> {
        self.loaded.iter()
    }

    /// The resources.
    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.loaded.iter().map(|loaded| &loaded.resource)
    }

    /// How many resources.
    pub fn len(&self) -> usize {
        self.loaded.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty()
    }

    /// The first resource of a kind with a name.
    pub fn get(&self, kind: ResourceKind, name: &str) -> Option<&LoadedResource> {
        self.loaded
            .iter()
            .find(|l| l.resource.kind() == kind && l.resource.name() == name)
    }

    accessors! {
        Environment: Environment => environments, environment;
        Product: Product => products, product;
        PromotionTemplate: PromotionTemplate => templates, template;
        PromotionPolicy: PromotionPolicy => policies, policy;
        PromotionFlow: PromotionFlow => flows, flow;
        Freeze: Freeze => freezes, freeze;
    }

    /// The policy in effect for a product in an environment, following `flow`'s step
    /// for that environment when given. `None` if the environment is not defined.
    pub fn effective_policy(
        &self,
        product: &str,
        environment: &str,
        flow: Option<&str>,
    ) -> Option<EffectivePolicy> {
        let target = self.environment(environment)?;
        let step = flow.and_then(|name| {
            let flow = self.flow(name)?;
            let step = flow
                .spec
                .steps
                .iter()
                .find(|s| s.environment == environment)?;
            Some((flow.metadata.name.as_str(), step))
        });
        Some(resolve_policy(self.policies(), product, target, step))
    }
}

/// What a set of files holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Files read.
    pub files: usize,
    /// Resources loaded, per kind (every kind present, possibly 0).
    pub resources: BTreeMap<ResourceKind, usize>,
    /// Diagnostics that block applying.
    pub errors: usize,
    /// Diagnostics that need an administrator.
    pub admin_only: usize,
}

impl fmt::Display for Summary {
    /// `2 files: 5 Environments, 1 Product, 1 PromotionPolicy; 0 errors`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files = if self.files == 1 { "file" } else { "files" };
        write!(f, "{} {files}: ", self.files)?;
        let kinds: Vec<String> = self
            .resources
            .iter()
            .filter(|(_, &count)| count > 0)
            .map(|(kind, &count)| match (count, kind) {
                (1, _) => format!("1 {kind}"),
                (_, ResourceKind::PromotionPolicy) => format!("{count} PromotionPolicies"),
                _ => format!("{count} {kind}s"),
            })
            .collect();
        if kinds.is_empty() {
            f.write_str("no resources")?;
        } else {
            f.write_str(&kinds.join(", "))?;
        }
        let errors = if self.errors == 1 { "error" } else { "errors" };
        write!(f, "; {} {errors}", self.errors)?;
        if self.admin_only > 0 {
            write!(f, ", {} needing an administrator", self.admin_only)?;
        }
        Ok(())
    }
}

/// The outcome of [`validate`].
#[derive(Clone, Debug, Serialize)]
pub struct Validation {
    /// Every resource that loaded, valid or not.
    #[serde(skip)]
    pub resources: ResourceSet,
    /// Every problem, ordered by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// Counts.
    pub summary: Summary,
}

impl Validation {
    /// Whether nothing blocks applying (admin-only diagnostics aside).
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Whether applying needs an administrator.
    pub fn needs_admin(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::AdminOnly)
    }
}

/// Loads `(file name, text)` pairs and checks everything, within and across files.
pub fn validate<N: AsRef<str>, T: AsRef<str>>(
    files: impl IntoIterator<Item = (N, T)>,
) -> Validation {
    let mut loaded = Vec::new();
    let mut diagnostics = Vec::new();
    let mut count = 0;
    for (name, text) in files {
        count += 1;
        let (resources, problems) = load(name.as_ref(), text.as_ref());
        loaded.extend(resources);
        diagnostics.extend(problems);
    }
    let resources = ResourceSet::new(loaded);
    diagnostics.extend(check(&resources));
    diagnostics.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.code).cmp(&(&b.file, b.line, b.column, b.code))
    });
    let summary = Summary {
        files: count,
        resources: ResourceKind::ALL
            .into_iter()
            .map(|kind| {
                (
                    kind,
                    resources.resources().filter(|r| r.kind() == kind).count(),
                )
            })
            .collect(),
        errors: diagnostics.iter().filter(|d| d.is_error()).count(),
        admin_only: diagnostics.iter().filter(|d| !d.is_error()).count(),
    };
    Validation {
        resources,
        diagnostics,
        summary,
    }
}

/// The checks across resources (references, flows, templates, actions).
pub fn check(set: &ResourceSet) -> Vec<Diagnostic> {
    let mut checker = Checker {
        set,
        diagnostics: Vec::new(),
    };
    checker.names();
    for loaded in set.iter() {
        let at = Site { loaded };
        match &loaded.resource {
            Resource::Environment(_) => {}
            Resource::Product(product) => checker.product(&at, product),
            Resource::PromotionTemplate(template) => checker.template(&at, template),
            Resource::PromotionPolicy(policy) => checker.policy(&at, policy),
            Resource::PromotionFlow(flow) => checker.flow(&at, flow),
            Resource::Freeze(freeze) => checker.freeze(&at, freeze),
        }
    }
    checker.diagnostics
}

/// The resource being checked, for positions.
struct Site<'a> {
    loaded: &'a LoadedResource,
}

struct Checker<'a> {
    set: &'a ResourceSet,
    diagnostics: Vec<Diagnostic>,
}

/// Where an action sits, which decides the kinds it may be.
#[derive(Clone, Copy, PartialEq)]
enum Placement {
    Gates,
    Verify,
    Hooks,
}

fn spec() -> FieldPath {
    FieldPath::root().key("spec")
}

impl Checker<'_> {
    fn push(
        &mut self,
        at: &Site,
        path: FieldPath,
        on_key: bool,
        severity: Severity,
        code: Code,
        message: String,
    ) {
        let mut diagnostic = at.loaded.diagnostic(&path, severity, code, message);
        if on_key {
            (diagnostic.line, diagnostic.column) = at.loaded.origin.key_position(&path);
        }
        self.diagnostics.push(diagnostic);
    }

    fn error(&mut self, at: &Site, path: FieldPath, code: Code, message: String) {
        self.push(at, path, false, Severity::Error, code, message);
    }

    fn environment_exists(&mut self, at: &Site, path: FieldPath, name: &str) {
        if self.set.environment(name).is_none() {
            let known = self.set.environments().map(|e| e.metadata.name.as_str());
            let hint = suggestion(name, known);
            self.error(
                at,
                path,
                Code::UnknownEnvironment,
                format!("unknown environment `{name}`{hint}"),
            );
        }
    }

    fn names(&mut self) {
        let mut seen: HashMap<(ResourceKind, &str), &LoadedResource> = HashMap::new();
        for loaded in self.set.iter() {
            let at = Site { loaded };
            let name = loaded.resource.name();
            let path = FieldPath::root().key("metadata").key("name");
            if !is_dns_label(name) {
                self.error(
                    &at,
                    path.clone(),
                    Code::InvalidName,
                    format!("invalid name `{name}`: use lowercase letters, digits and `-`, at most 63 characters, starting and ending with a letter or digit"),
                );
            }
            match seen.get(&(loaded.resource.kind(), name)) {
                Some(first) => {
                    let (line, column) = first.origin.position(&path);
                    self.error(
                        &at,
                        path,
                        Code::DuplicateName,
                        format!(
                            "{} `{name}` is already defined at {}:{line}:{column}",
                            loaded.resource.kind(),
                            first.origin.file
                        ),
                    );
                }
                None => {
                    seen.insert((loaded.resource.kind(), name), loaded);
                }
            }
        }
    }

    fn relative_path(&mut self, at: &Site, path: FieldPath, value: &str) {
        if let Err(error) = check_relative_path(value) {
            self.error(at, path, Code::PathEscapesFolder, error.to_string());
        }
    }

    fn product(&mut self, at: &Site, product: &Product) {
        let spec = spec();
        if self.set.template(&product.spec.template).is_none() {
            let hint = suggestion(
                &product.spec.template,
                self.set.templates().map(|t| t.metadata.name.as_str()),
            );
            self.error(
                at,
                spec.key("template"),
                Code::UnknownTemplate,
                format!("unknown template `{}`{hint}", product.spec.template),
            );
        }
        for (index, flow) in product.spec.flows.iter().enumerate() {
            if self.set.flow(&flow.name).is_none() {
                let hint = suggestion(
                    &flow.name,
                    self.set.flows().map(|f| f.metadata.name.as_str()),
                );
                self.error(
                    at,
                    spec.key("flows").index(index).key("name"),
                    Code::UnknownFlow,
                    format!("unknown flow `{}`{hint}", flow.name),
                );
            }
        }
        for (path, repository) in product.repositories() {
            if let Err(problem) = crate::remote::RemoteUrl::parse(&repository.url) {
                self.error(at, path.key("url"), Code::InvalidUrl, problem);
            } else if let Err(problem) = crate::hosting::hosted(repository) {
                let field = if repository.api_url.is_some() {
                    "apiUrl"
                } else {
                    "provider"
                };
                self.error(at, path.key(field), Code::InvalidUrl, problem);
            }
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (index, application) in product.spec.applications.iter().enumerate() {
            let path = spec.key("applications").index(index);
            if let Some(&first) = names.get(application.name.as_str()) {
                self.error(
                    at,
                    path.key("name"),
                    Code::DuplicateName,
                    format!("application `{}` is already defined in this product (applications[{first}])", application.name),
                );
            } else {
                names.insert(&application.name, index);
            }
            self.relative_path(at, path.key("path"), &application.path);
            for (environment, over) in &application.environments {
                let over_path = path.key("environments").key(environment.clone());
                if self.set.environment(environment).is_none() {
                    let hint = suggestion(
                        environment,
                        self.set.environments().map(|e| e.metadata.name.as_str()),
                    );
                    self.push(
                        at,
                        over_path.clone(),
                        true,
                        Severity::Error,
                        Code::UnknownEnvironment,
                        format!("unknown environment `{environment}`{hint}"),
                    );
                }
                if let Some(folder) = &over.path {
                    self.relative_path(at, over_path.key("path"), folder);
                }
            }
        }
    }

    fn jsonpath(&mut self, at: &Site, path: FieldPath, expression: &str) {
        if let Err(error) = JsonPath::parse(expression) {
            self.error(at, path, Code::InvalidJsonPath, error.to_string());
        }
    }

    fn template(&mut self, at: &Site, template: &PromotionTemplate) {
        let spec = spec();
        if template.spec.files.is_empty() {
            self.error(
                at,
                spec.key("files"),
                Code::EmptyTemplate,
                format!(
                    "template `{}` copies nothing: add at least one entry to `files`",
                    template.metadata.name
                ),
            );
        }
        for (index, file) in template.spec.files.iter().enumerate() {
            let path = spec.key("files").index(index);
            self.relative_path(at, path.key("path"), &file.path);
            if let Err(error) = check_glob(&file.path) {
                self.error(at, path.key("path"), Code::InvalidGlob, error.to_string());
            }
            for (position, attribute) in file.attributes.iter().enumerate() {
                self.jsonpath(at, path.key("attributes").index(position), attribute);
            }
        }
        if let Some(source) = &template.spec.version_source {
            let path = spec.key("versionSource");
            self.relative_path(at, path.key("file"), &source.file);
            self.jsonpath(at, path.key("path"), &source.path);
        }
    }

    fn policy(&mut self, at: &Site, policy: &PromotionPolicy) {
        self.selector(at, spec().key("selector"), &policy.spec.selector);
        let rules = &policy.spec.rules;
        self.actions(
            at,
            spec().key("gates"),
            rules.gates.as_deref(),
            Placement::Gates,
        );
        self.actions(
            at,
            spec().key("verify"),
            rules.verify.as_deref(),
            Placement::Verify,
        );
    }

    /// What needs no calendar: a reason, and exactly one of `period` and `schedule`.
    /// The engine reads the times themselves (`freeze` in docs/resources.md).
    fn freeze(&mut self, at: &Site, freeze: &Freeze) {
        let spec_path = spec();
        let spec = &freeze.spec;
        self.selector(at, spec_path.key("scope"), &spec.scope);
        if spec.reason.trim().is_empty() {
            self.error(
                at,
                spec_path.key("reason"),
                Code::InvalidValue,
                "a freeze needs a reason: it is shown wherever the freeze holds a release"
                    .to_string(),
            );
        }
        match (&spec.period, &spec.schedule) {
            (Some(_), Some(_)) => self.error(
                at,
                spec_path.key("schedule"),
                Code::InvalidValue,
                "a freeze has either a `period` or a `schedule`, not both".to_string(),
            ),
            (None, None) => self.error(
                at,
                spec_path,
                Code::MissingField,
                "a freeze needs a `period` (once) or a `schedule` (recurring)".to_string(),
            ),
            _ => {}
        }
    }

    /// A selector's products and environments must exist.
    fn selector(&mut self, at: &Site, selector: FieldPath, names: &Selector) {
        for (index, environment) in names.environments.iter().enumerate() {
            self.environment_exists(at, selector.key("environments").index(index), environment);
        }
        for (index, product) in names.products.iter().enumerate() {
            if self.set.product(product).is_none() {
                let hint = suggestion(
                    product,
                    self.set.products().map(|p| p.metadata.name.as_str()),
                );
                self.error(
                    at,
                    selector.key("products").index(index),
                    Code::UnknownProduct,
                    format!("unknown product `{product}`{hint}"),
                );
            }
        }
    }

    fn flow(&mut self, at: &Site, flow: &PromotionFlow) {
        let spec_path = spec();
        let spec = &flow.spec;
        self.environment_exists(
            at,
            spec_path.key("triggerEnvironment"),
            &spec.trigger_environment,
        );
        let steps = spec_path.key("steps");
        for (index, step) in spec.steps.iter().enumerate() {
            let step_path = steps.index(index);
            if step.environment != spec.trigger_environment {
                self.environment_exists(at, step_path.key("environment"), &step.environment);
            }
            if let Some(policy) = &step.policy {
                let policy_path = step_path.key("policy");
                self.actions(
                    at,
                    policy_path.key("gates"),
                    policy.gates.as_deref(),
                    Placement::Gates,
                );
                self.actions(
                    at,
                    policy_path.key("verify"),
                    policy.verify.as_deref(),
                    Placement::Verify,
                );
            }
        }
        for problem in FlowGraph::problems(spec) {
            let message = problem.to_string();
            match &problem {
                FlowProblem::TriggerAsStep { step, .. } => self.error(
                    at,
                    steps.index(*step).key("environment"),
                    Code::TriggerAsStep,
                    message,
                ),
                FlowProblem::DuplicateStep { step, .. } => self.error(
                    at,
                    steps.index(*step).key("environment"),
                    Code::DuplicateStep,
                    message,
                ),
                FlowProblem::UnknownDependency {
                    step,
                    dependency,
                    name,
                    ..
                } => {
                    let path = steps.index(*step).key("dependsOn").index(*dependency);
                    if self.set.environment(name).is_some() {
                        self.error(at, path, Code::DependencyNotInFlow, message);
                    } else {
                        self.environment_exists(at, path, name);
                    }
                }
                FlowProblem::Cycle {
                    step, dependency, ..
                } => {
                    let path = steps.index(*step).key("dependsOn").index(*dependency);
                    self.error(at, path, Code::FlowCycle, message);
                }
                FlowProblem::Unreachable { step, .. } => self.error(
                    at,
                    steps.index(*step).key("environment"),
                    Code::UnreachableStep,
                    message,
                ),
            }
        }
        let hooks = spec_path.key("hooks");
        self.actions(
            at,
            hooks.key("onSuccess"),
            Some(&spec.hooks.on_success),
            Placement::Hooks,
        );
        self.actions(
            at,
            hooks.key("onFailure"),
            Some(&spec.hooks.on_failure),
            Placement::Hooks,
        );
        if let Some(text) = flow.metadata.annotations.get(LAYOUT_ANNOTATION) {
            if let Err(error) = parse_layout(text) {
                let path = FieldPath::root()
                    .key("metadata")
                    .key("annotations")
                    .key(LAYOUT_ANNOTATION);
                self.error(at, path, Code::InvalidLayout, error.to_string());
            }
        }
    }

    fn actions(
        &mut self,
        at: &Site,
        path: FieldPath,
        actions: Option<&[Action]>,
        placement: Placement,
    ) {
        for (index, action) in actions.unwrap_or_default().iter().enumerate() {
            let kind = action.kind();
            let path = path.index(index).key(kind.as_str());
            let allowed = match placement {
                Placement::Gates => true,
                Placement::Verify => !matches!(action, Action::Approval(_) | Action::Window(_)),
                Placement::Hooks => matches!(
                    action,
                    Action::Http(_) | Action::Workflow(_) | Action::Command(_)
                ),
            };
            if !allowed {
                let allowed_here = match placement {
                    Placement::Verify => {
                        "verify runs soak, http, argocd, workflow and command actions"
                    }
                    _ => "hooks run http, workflow and command actions",
                };
                self.push(
                    at,
                    path.clone(),
                    true,
                    Severity::Error,
                    Code::ActionNotAllowed,
                    format!("`{kind}` cannot be used here: {allowed_here}"),
                );
            }
            match action {
                Action::Soak(soak) if soak.after == SoakStart::Apply && placement == Placement::Gates => self.error(
                    at,
                    path.key("after"),
                    Code::ActionNotAllowed,
                    "a gate runs before the change is applied: use `after: upstream`, or move this soak to `verify`".into(),
                ),
                Action::Http(http) => {
                    if !(http.url.starts_with("https://") || http.url.starts_with("http://")) {
                        self.error(
                            at,
                            path.key("url"),
                            Code::InvalidUrl,
                            format!("`{}` is not an http:// or https:// URL", http.url),
                        );
                    }
                    if let Some(expect) = &http.expect_json {
                        self.jsonpath(at, path.key("expectJson").key("path"), &expect.path);
                    }
                    for (name, value) in &http.headers {
                        if matches!(value, HeaderValue::Text(_)) && looks_secret(name) {
                            self.error(
                                at,
                                path.key("headers").key(name),
                                Code::SecretInResource,
                                format!(
                                    "`{name}` looks like it carries a secret, which every viewer would read here: \
                                     store it as credentials and write `{name}: {{ credentials: NAME }}` \
                                     (with `scheme: Bearer` for a bearer token)"
                                ),
                            );
                        }
                    }
                }
                Action::Command(command) => {
                    if command.args.is_empty() {
                        self.error(at, path.key("args"), Code::InvalidValue, "`args` must name a program to run".into());
                    }
                    self.push(
                        at,
                        path,
                        true,
                        Severity::AdminOnly,
                        Code::AdminOnlyAction,
                        "a `command` action runs on the server host: only an administrator may apply it".into(),
                    );
                }
                _ => {}
            }
        }
    }
}

/// A Kubernetes-style DNS label: names end up in paths, branch names and Argo CD names.
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// `; did you mean `qa`?` when a known name is a small typo away.
fn suggestion<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    known
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= 1 || (*distance == 2 && name.chars().count() >= 4))
        .min()
        .map(|(_, candidate)| format!("; did you mean `{candidate}`?"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("staging-eu") && is_dns_label("a1"));
        assert!(
            !is_dns_label("Prod")
                && !is_dns_label("-a")
                && !is_dns_label("a_b")
                && !is_dns_label("")
        );
        assert!(!is_dns_label(&"a".repeat(64)));
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            suggestion("stagin", ["staging", "prod"].into_iter()),
            "; did you mean `staging`?"
        );
        assert_eq!(suggestion("uat", ["qa", "prod"].into_iter()), "");
        assert_eq!(
            suggestion("hlem", ["helm"].into_iter()),
            "; did you mean `helm`?"
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
