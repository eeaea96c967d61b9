//! The six resource kinds of `promenade.dev/v1alpha1` (`docs/resources.md`).
//!
//! Every struct refuses unknown fields so a typo is an error with a position, never a
//! silently ignored setting. Optional fields are `Option` or default to empty and are
//! left out when serializing, so the canonical YAML stays as short as what people write.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::action::Action;
use crate::duration::Duration;
use crate::freeze::Freeze;
use crate::path::FieldPath;
use crate::API_VERSION;

/// Name, labels and annotations of a resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Unique per kind; a DNS label (`[a-z0-9-]`, at most 63 characters).
    pub name: String,
    /// Labels, matched by policy selectors.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Free-form annotations; `promenade.dev/layout` holds the canvas positions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Metadata {
    /// Metadata with just a name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// The kinds of resource.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum ResourceKind {
    /// A stage such as `dev` or `prod`.
    Environment,
    /// A group of applications promoted together.
    Product,
    /// What a promotion copies.
    PromotionTemplate,
    /// How a promotion happens in an environment.
    PromotionPolicy,
    /// Where and in what order promotions go.
    PromotionFlow,
    /// When releases may not enter some environments.
    Freeze,
}

impl ResourceKind {
    /// Every kind, in the order they are usually written.
    pub const ALL: [ResourceKind; 6] = [
        Self::Environment,
        Self::Product,
        Self::PromotionTemplate,
        Self::PromotionPolicy,
        Self::PromotionFlow,
        Self::Freeze,
    ];

    /// The `kind:` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Environment => "Environment",
            Self::Product => "Product",
            Self::PromotionTemplate => "PromotionTemplate",
            Self::PromotionPolicy => "PromotionPolicy",
            Self::PromotionFlow => "PromotionFlow",
            Self::Freeze => "Freeze",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The names [`ResourceKind::from_name`] knows, for messages.
    pub const NAMES: &'static str = "environments, products, templates, policies, flows or freezes";

    /// The kind a URL or a command names, in any case: the kind (`PromotionFlow`), its
    /// plural, or the short plural (`environments`, `products`, `templates`, `policies`,
    /// `flows`, `freezes`).
    pub fn from_name(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "environments" | "environment" => Some(Self::Environment),
            "products" | "product" => Some(Self::Product),
            "templates" | "promotiontemplates" | "promotiontemplate" => {
                Some(Self::PromotionTemplate)
            }
            "policies" | "promotionpolicies" | "promotionpolicy" => Some(Self::PromotionPolicy),
            "flows" | "promotionflows" | "promotionflow" => Some(Self::PromotionFlow),
            "freezes" | "freeze" => Some(Self::Freeze),
            _ => None,
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `kind: Environment`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Name and labels.
    pub metadata: Metadata,
    /// The environment itself.
    pub spec: EnvironmentSpec,
}

/// The spec of an [`Environment`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// Production or not; required so that no production environment escapes the
    /// policies selected by `environmentKinds: [prod]` through an omission.
    pub kind: EnvironmentKind,
    /// A colour for the UI, `#rrggbb` or `#rgb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<Color>,
    /// The Argo CD that deploys this environment, for `argocd` gates and verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argocd: Option<ArgoCdInstance>,
    /// The Argo Workflows server that runs this environment's `workflow` gates and
    /// verification; the server's own (`serve --argo-workflows-server`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argo_workflows: Option<ArgoWorkflowsInstance>,
}

/// `argocd: { server: https://argocd.example.com, credentials: argocd-prod }`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCdInstance {
    /// The Argo CD server's URL (its API is under `/api/v1`).
    pub server: String,
    /// Token (or https) credentials holding an Argo CD API token.
    pub credentials: String,
}

/// `argoWorkflows: { server: https://argo.example.com, credentials: argo-ci, namespace: ci }`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoWorkflowsInstance {
    /// The Argo Server's URL (its API is under `/api/v1`).
    pub server: String,
    /// Token (or https) credentials holding an Argo Server bearer token.
    pub credentials: String,
    /// Where workflows are submitted unless the action names a namespace; `argo` when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl ArgoWorkflowsInstance {
    /// The namespace a workflow action runs in: its own, the instance's, or `argo`.
    pub fn namespace_for<'a>(&'a self, action: Option<&'a str>) -> &'a str {
        action.or(self.namespace.as_deref()).unwrap_or("argo")
    }
}

/// Production or not.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum EnvironmentKind {
    /// `prod`
    Prod,
    /// `non-prod`
    NonProd,
}

/// A CSS hex colour, `#rrggbb` or `#rgb`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct Color(String);

impl Color {
    /// The colour as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Color {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let hex = text.strip_prefix('#').unwrap_or_default();
        if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(text))
        } else {
            Err(format!("expected a colour like `#2f6fdb`, got `{text}`"))
        }
    }
}

impl From<Color> for String {
    fn from(color: Color) -> String {
        color.0
    }
}

/// `kind: Product`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Name and labels.
    pub metadata: Metadata,
    /// The product itself.
    pub spec: ProductSpec,
}

/// The spec of a [`Product`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductSpec {
    /// Where the applications live, unless an application overrides it.
    pub repository: Repository,
    /// The applications promoted together.
    pub applications: Vec<Application>,
    /// The name of the [`PromotionTemplate`].
    pub template: String,
    /// The flows this product is promoted along.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<ProductFlow>,
    /// What a newer release does to a running one in the same environment.
    #[serde(default)]
    pub concurrency: Concurrency,
}

impl Product {
    /// Every repository the product names, with where in the document: the product's
    /// own and each application's per-environment overrides.
    pub fn repositories(&self) -> Vec<(FieldPath, &Repository)> {
        let spec = FieldPath::root().key("spec");
        let mut found = vec![(spec.key("repository"), &self.spec.repository)];
        for (index, application) in self.spec.applications.iter().enumerate() {
            for (environment, over) in &application.environments {
                if let Some(repository) = &over.repository {
                    let path = spec
                        .key("applications")
                        .index(index)
                        .key("environments")
                        .key(environment.clone())
                        .key("repository");
                    found.push((path, repository));
                }
            }
        }
        found
    }
}

/// A git repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Repository {
    /// Clone URL.
    pub url: String,
    /// Branch to write to; see [`Repository::branch`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The name of stored credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    /// Which git host serves it: detected from the URL when absent (`github.com`,
    /// `gitlab.com`; `generic` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// The host's API root, for GitHub Enterprise and self-managed GitLab.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// The credentials (`token` or `https`) the host's API is called with; `credentials`
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_credentials: Option<String>,
}

/// Which kind of git host serves a repository: it decides how pull requests are
/// opened and watched and where commit statuses go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// GitHub or GitHub Enterprise: pull requests, commit statuses, auto-merge.
    Github,
    /// GitLab: merge requests, commit statuses, merge when the pipeline succeeds.
    Gitlab,
    /// Any git server: a pull request is a branch, merged when its commit reaches the
    /// base branch; no statuses.
    Generic,
}

impl Provider {
    /// The provider's name in resources: `github`, `gitlab` or `generic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Generic => "generic",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Repository {
    /// The branch, `main` when none is given.
    pub fn branch(&self) -> &str {
        self.branch.as_deref().unwrap_or("main")
    }
}

/// One deployable of a product.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Application {
    /// Unique within the product.
    pub name: String,
    /// The folder of one environment, relative to the repository root; `{env}` is
    /// replaced by the environment name.
    pub path: String,
    /// The Argo CD Application, for health and sync gates and discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argocd: Option<ArgoCdApplication>,
    /// Per-environment overrides.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, ApplicationOverride>,
}

impl Application {
    /// The folder of this application in `environment`.
    pub fn path_for(&self, environment: &str) -> String {
        self.environments
            .get(environment)
            .and_then(|o| o.path.as_deref())
            .unwrap_or(&self.path)
            .replace("{env}", environment)
    }

    /// The repository of this application in `environment`.
    pub fn repository_for<'a>(
        &'a self,
        environment: &str,
        product: &'a Repository,
    ) -> &'a Repository {
        self.environments
            .get(environment)
            .and_then(|o| o.repository.as_ref())
            .unwrap_or(product)
    }
}

/// `argocd: { application: "api-{env}" }`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCdApplication {
    /// The Argo CD Application name; `{env}` is replaced by the environment name.
    pub application: String,
}

impl ArgoCdApplication {
    /// The Application name in `environment`.
    pub fn name_for(&self, environment: &str) -> String {
        self.application.replace("{env}", environment)
    }
}

/// Where one environment of an application differs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationOverride {
    /// Another folder (`{env}` is still replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Another repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Repository>,
}

/// A flow a product uses, and what triggers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductFlow {
    /// The name of the [`PromotionFlow`].
    pub name: String,
    /// Which changes of the trigger environment start a release; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
}

/// Conditions on a change of the trigger environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Trigger {
    /// Conditions on the commit message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_message: Option<TextMatch>,
}

impl Trigger {
    /// Whether a commit with this message starts a release.
    pub fn accepts(&self, commit_message: &str) -> bool {
        self.commit_message
            .as_ref()
            .is_none_or(|rule| rule.matches(commit_message))
    }
}

/// Patterns where `*` stands for any text and every other character is literal, so
/// `*[skip promote]*` means the words in brackets, not a glob character class.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TextMatch {
    /// The text must match one of these, when any are given.
    #[serde(rename = "in", default, skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<String>,
    /// The text must match none of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_in: Vec<String>,
}

impl TextMatch {
    /// Whether `text` passes both lists.
    pub fn matches(&self, text: &str) -> bool {
        (self.any_of.is_empty() || self.any_of.iter().any(|p| wildcard_match(p, text)))
            && !self.not_in.iter().any(|p| wildcard_match(p, text))
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// What a newer release does when one is already running in an environment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Concurrency {
    /// Wait for the running one.
    #[default]
    Queue,
    /// Terminate the running one.
    Terminate,
    /// Wait for the running one, and replace older releases waiting for the same
    /// environment: they end `superseded`.
    Supersede,
}

/// `kind: PromotionTemplate`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionTemplate {
    /// Name and labels.
    pub metadata: Metadata,
    /// The template itself.
    pub spec: PromotionTemplateSpec,
}

/// The spec of a [`PromotionTemplate`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionTemplateSpec {
    /// Where the version number of a release is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_source: Option<VersionSource>,
    /// The files, relative to the application's environment folder.
    #[serde(default)]
    pub files: Vec<TemplateFile>,
}

/// `versionSource: { file: values.yaml, path: "$.image.tag" }`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionSource {
    /// A YAML or JSON file.
    pub file: String,
    /// A JSONPath that selects one scalar.
    pub path: String,
}

/// A file (or glob) a template copies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateFile {
    /// A path or glob (`*` stays within a folder, `**` crosses folders).
    pub path: String,
    /// JSONPaths copied inside YAML or JSON files; without any, the whole file is copied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
}

/// `kind: PromotionPolicy`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionPolicy {
    /// Name and labels.
    pub metadata: Metadata,
    /// The policy itself.
    pub spec: PromotionPolicySpec,
}

/// The spec of a [`PromotionPolicy`]: where it applies and the rules it sets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(from = "PolicySpecFields", into = "PolicySpecFields")]
pub struct PromotionPolicySpec {
    /// Higher wins, field by field, when several policies match.
    pub priority: i32,
    /// Where the policy applies.
    pub selector: Selector,
    /// What it sets.
    pub rules: PolicyRules,
}

/// The YAML shape of [`PromotionPolicySpec`], whose rules sit next to `priority` and
/// `selector`. serde's `flatten` would express that but it cannot be combined with
/// `deny_unknown_fields`, and it loses field paths in errors, hence this flat twin.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicySpecFields {
    #[serde(default, skip_serializing_if = "is_zero")]
    priority: i32,
    #[serde(default, skip_serializing_if = "Selector::is_empty")]
    selector: Selector,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action: Option<PromotionAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pull_request: Option<PullRequestPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gates: Option<Vec<Action>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verify: Option<Vec<Action>>,
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

impl From<PolicySpecFields> for PromotionPolicySpec {
    fn from(f: PolicySpecFields) -> Self {
        Self {
            priority: f.priority,
            selector: f.selector,
            rules: PolicyRules {
                action: f.action,
                pull_request: f.pull_request,
                gates: f.gates,
                verify: f.verify,
            },
        }
    }
}

impl From<PromotionPolicySpec> for PolicySpecFields {
    fn from(spec: PromotionPolicySpec) -> Self {
        Self {
            priority: spec.priority,
            selector: spec.selector,
            action: spec.rules.action,
            pull_request: spec.rules.pull_request,
            gates: spec.rules.gates,
            verify: spec.rules.verify,
        }
    }
}

/// Which products and environments a policy applies to. Every list given must
/// match (one of its entries); an empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    /// Product names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    /// Environment names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// Environment kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_kinds: Vec<EnvironmentKind>,
    /// Environment labels, all of which must be present with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Selector {
    pub(crate) fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Whether the selector matches this product in this environment.
    pub fn matches(&self, product: &str, environment: &Environment) -> bool {
        let any = |list: &[String], name: &str| list.is_empty() || list.iter().any(|n| n == name);
        any(&self.products, product)
            && any(&self.environments, &environment.metadata.name)
            && (self.environment_kinds.is_empty()
                || self.environment_kinds.contains(&environment.spec.kind))
            && self
                .labels
                .iter()
                .all(|(key, value)| environment.metadata.labels.get(key) == Some(value))
    }
}

/// The rules a policy, or a flow step inline, sets. Absent fields are left to
/// lower-priority policies; an empty list is a setting (no gates), not an absence.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRules {
    /// How the change is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<PromotionAction>,
    /// Pull request settings, for `action: pr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestPolicy>,
    /// Actions before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<Vec<Action>>,
    /// Actions after the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Vec<Action>>,
}

/// How a promotion writes to git.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PromotionAction {
    /// A direct commit.
    #[default]
    Commit,
    /// A pull request.
    Pr,
    /// Nothing is written (a step that only gates and verifies).
    None,
}

impl PromotionAction {
    /// The action's name in resources and records: `commit`, `pr` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Commit => "commit",
            Self::Pr => "pr",
            Self::None => "none",
        }
    }
}

impl std::fmt::Display for PromotionAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PromotionAction {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        [Self::Commit, Self::Pr, Self::None]
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| format!("unknown action {text:?}: expected commit, pr or none"))
    }
}

/// `pullRequest: { autoMerge: false, labels: [promotion] }`
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PullRequestPolicy {
    /// Merge the pull request once its checks pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_merge: Option<bool>,
    /// How it is merged: `merge`, `squash` or `rebase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_method: Option<MergeMethod>,
    /// Labels put on the pull request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// Users asked to review it (GitHub logins, GitLab usernames).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewers: Option<Vec<String>>,
    /// Users it is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignees: Option<Vec<String>>,
    /// Opened as a draft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<bool>,
}

/// How a pull request is merged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethod {
    /// A merge commit.
    #[default]
    Merge,
    /// One squashed commit.
    Squash,
    /// The commits rebased onto the base branch.
    Rebase,
}

impl MergeMethod {
    /// The method's name in resources.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::Squash => "squash",
            Self::Rebase => "rebase",
        }
    }
}

/// `kind: PromotionFlow`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionFlow {
    /// Name, labels and the canvas layout annotation.
    pub metadata: Metadata,
    /// The flow itself.
    pub spec: PromotionFlowSpec,
}

/// The spec of a [`PromotionFlow`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionFlowSpec {
    /// The environment whose changes start releases; it is not a step.
    pub trigger_environment: String,
    /// The environments a release goes to.
    #[serde(default)]
    pub steps: Vec<FlowStep>,
    /// Actions at the end of a release.
    #[serde(default, skip_serializing_if = "Hooks::is_empty")]
    pub hooks: Hooks,
    /// The longest a release may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// One environment of a flow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowStep {
    /// The environment.
    pub environment: String,
    /// Environments (the trigger or other steps) that must succeed first; a step with
    /// several waits for all of them.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Rules that win over every matching policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyRules>,
}

/// `hooks: { onSuccess: [...], onFailure: [...] }`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hooks {
    /// After a release succeeds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_success: Vec<Action>,
    /// After a release fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_failure: Vec<Action>,
}

impl Hooks {
    fn is_empty(&self) -> bool {
        self.on_success.is_empty() && self.on_failure.is_empty()
    }
}

/// Any resource.
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    /// `kind: Environment`
    Environment(Environment),
    /// `kind: Product`
    Product(Product),
    /// `kind: PromotionTemplate`
    PromotionTemplate(PromotionTemplate),
    /// `kind: PromotionPolicy`
    PromotionPolicy(PromotionPolicy),
    /// `kind: PromotionFlow`
    PromotionFlow(PromotionFlow),
    /// `kind: Freeze`
    Freeze(Freeze),
}

impl Resource {
    /// Its kind.
    pub fn kind(&self) -> ResourceKind {
        match self {
            Self::Environment(_) => ResourceKind::Environment,
            Self::Product(_) => ResourceKind::Product,
            Self::PromotionTemplate(_) => ResourceKind::PromotionTemplate,
            Self::PromotionPolicy(_) => ResourceKind::PromotionPolicy,
            Self::PromotionFlow(_) => ResourceKind::PromotionFlow,
            Self::Freeze(_) => ResourceKind::Freeze,
        }
    }

    /// Its metadata.
    pub fn metadata(&self) -> &Metadata {
        match self {
            Self::Environment(r) => &r.metadata,
            Self::Product(r) => &r.metadata,
            Self::PromotionTemplate(r) => &r.metadata,
            Self::PromotionPolicy(r) => &r.metadata,
            Self::PromotionFlow(r) => &r.metadata,
            Self::Freeze(r) => &r.metadata,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.metadata().name
    }

    /// Every list of actions it holds, with the list's path: a policy's `gates` and
    /// `verify`, a flow's steps' ones and its hooks.
    pub fn action_lists(&self) -> Vec<(FieldPath, &[Action])> {
        fn rules(path: FieldPath, rules: &PolicyRules) -> Vec<(FieldPath, &[Action])> {
            [("gates", &rules.gates), ("verify", &rules.verify)]
                .into_iter()
                .filter_map(|(key, list)| Some((path.key(key), list.as_deref()?)))
                .collect()
        }
        let spec = FieldPath::root().key("spec");
        match self {
            Self::PromotionPolicy(policy) => rules(spec, &policy.spec.rules),
            Self::PromotionFlow(flow) => {
                let mut lists: Vec<(FieldPath, &[Action])> = Vec::new();
                for (index, step) in flow.spec.steps.iter().enumerate() {
                    if let Some(policy) = &step.policy {
                        let path = spec.key("steps").index(index).key("policy");
                        lists.extend(rules(path, policy));
                    }
                }
                let hooks = spec.key("hooks");
                lists.push((hooks.key("onSuccess"), &flow.spec.hooks.on_success));
                lists.push((hooks.key("onFailure"), &flow.spec.hooks.on_failure));
                lists
            }
            _ => Vec::new(),
        }
    }

    /// Reads a resource from its JSON data model, e.g. a YAML document.
    pub(crate) fn from_json(value: Value) -> Result<Resource, DecodeError> {
        let Value::Object(mut fields) = value else {
            return Err(DecodeError::at(
                FieldPath::root(),
                DecodeProblem::Invalid,
                "a resource must be a mapping with apiVersion, kind, metadata and spec",
            ));
        };
        match fields.remove("apiVersion") {
            Some(Value::String(version)) if version == API_VERSION => {}
            Some(other) => {
                return Err(DecodeError::at(
                    FieldPath::root().key("apiVersion"),
                    DecodeProblem::ApiVersion,
                    format!("unsupported apiVersion {other}, expected `{API_VERSION}`"),
                ))
            }
            None => {
                return Err(DecodeError::at(
                    FieldPath::root(),
                    DecodeProblem::MissingField,
                    "missing field `apiVersion`",
                ))
            }
        }
        let kind = match fields.remove("kind") {
            Some(Value::String(kind)) => ResourceKind::parse(&kind).ok_or(kind),
            Some(other) => Err(other.to_string()),
            None => {
                return Err(DecodeError::at(
                    FieldPath::root(),
                    DecodeProblem::MissingField,
                    "missing field `kind`",
                ))
            }
        };
        let kind = kind.map_err(|kind| {
            let known: Vec<String> = ResourceKind::ALL.iter().map(|k| format!("`{k}`")).collect();
            DecodeError::at(
                FieldPath::root().key("kind"),
                DecodeProblem::Kind,
                format!(
                    "unknown kind `{}`, expected one of {}",
                    kind.trim_matches('"'),
                    known.join(", ")
                ),
            )
        })?;
        let body = Value::Object(fields);
        Ok(match kind {
            ResourceKind::Environment => Resource::Environment(decode(body)?),
            ResourceKind::Product => Resource::Product(decode(body)?),
            ResourceKind::PromotionTemplate => Resource::PromotionTemplate(decode(body)?),
            ResourceKind::PromotionPolicy => Resource::PromotionPolicy(decode(body)?),
            ResourceKind::PromotionFlow => Resource::PromotionFlow(decode(body)?),
            ResourceKind::Freeze => Resource::Freeze(decode(body)?),
        })
    }
}

fn decode<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(body).map_err(|error| {
        let path = FieldPath::from(error.path());
        let message = error.inner().to_string();
        let problem = if message.starts_with("unknown field") {
            DecodeProblem::UnknownField
        } else if message.starts_with("missing field") {
            DecodeProblem::MissingField
        } else {
            DecodeProblem::Invalid
        };
        DecodeError {
            path,
            problem,
            message,
        }
    })
}

/// Why a document is not a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecodeProblem {
    ApiVersion,
    Kind,
    UnknownField,
    MissingField,
    Invalid,
}

/// A document that is not a resource: where, and why.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DecodeError {
    pub path: FieldPath,
    pub problem: DecodeProblem,
    pub message: String,
}

impl DecodeError {
    fn at(path: FieldPath, problem: DecodeProblem, message: impl Into<String>) -> Self {
        Self {
            path,
            problem,
            message: message.into(),
        }
    }
}

/// The document form: `apiVersion`, `kind`, `metadata`, `spec`, in that order.
impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Document<'a, T> {
            api_version: &'static str,
            kind: ResourceKind,
            metadata: &'a Metadata,
            spec: &'a T,
        }
        fn document<'a, T>(
            kind: ResourceKind,
            metadata: &'a Metadata,
            spec: &'a T,
        ) -> Document<'a, T> {
            Document {
                api_version: API_VERSION,
                kind,
                metadata,
                spec,
            }
        }
        let kind = self.kind();
        match self {
            Self::Environment(r) => document(kind, &r.metadata, &r.spec).serialize(serializer),
            Self::Product(r) => document(kind, &r.metadata, &r.spec).serialize(serializer),
            Self::PromotionTemplate(r) => {
                document(kind, &r.metadata, &r.spec).serialize(serializer)
            }
            Self::PromotionPolicy(r) => document(kind, &r.metadata, &r.spec).serialize(serializer),
            Self::PromotionFlow(r) => document(kind, &r.metadata, &r.spec).serialize(serializer),
            Self::Freeze(r) => document(kind, &r.metadata, &r.spec).serialize(serializer),
        }
    }
}

/// Accepts the document form, with the same checks as the YAML loader; errors name
/// the field path.
impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Resource::from_json(value).map_err(|error| match error.path.segments() {
            [] => D::Error::custom(error.message),
            _ => D::Error::custom(format!("{}: {}", error.path, error.message)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_treat_brackets_literally() {
        let rule = TextMatch {
            any_of: vec![],
            not_in: vec!["*[skip promote]*".into()],
        };
        assert!(!rule.matches("fix: typo [skip promote]"));
        assert!(rule.matches("fix: typo (s)"));
        assert!(wildcard_match("release-*", "release-1.2"));
        assert!(!wildcard_match("release-*", "hotfix-1.2"));
        assert!(wildcard_match("*a*b*", "xaxbx"));
        assert!(!wildcard_match("*ab*ab", "ab"));
        assert!(wildcard_match("exact", "exact") && !wildcard_match("exact", "exactly"));
    }

    #[test]
    fn applications_resolve_per_environment() {
        let app = Application {
            name: "web".into(),
            path: "apps/web/envs/{env}".into(),
            argocd: Some(ArgoCdApplication {
                application: "web-{env}".into(),
            }),
            environments: BTreeMap::from([(
                "prod".into(),
                ApplicationOverride {
                    path: Some("apps/web/prod-eu".into()),
                    repository: None,
                },
            )]),
        };
        assert_eq!(app.path_for("qa"), "apps/web/envs/qa");
        assert_eq!(app.path_for("prod"), "apps/web/prod-eu");
        assert_eq!(app.argocd.unwrap().name_for("qa"), "web-qa");
    }
}
