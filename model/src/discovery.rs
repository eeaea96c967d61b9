//! Product discovery: a `Product` proposed from the Argo CD Applications that carry a
//! label or annotation (`promenade.dev/product=shop`), for people to review and apply.
//!
//! Each Application is one application in one environment. The environment comes from
//! its `promenade.dev/environment` label or annotation, else from its name (`api-qa`,
//! `qa-api`) or a folder of its path (`apps/api/envs/qa`) matching a known
//! environment; the application's name from `promenade.dev/application`, else the
//! Application's name without the environment. What differs between environments
//! becomes `{env}` (`path: apps/api/envs/{env}`, `argocd.application: api-{env}`);
//! what does not follow the pattern becomes a per-environment override. Everything the
//! proposal had to guess or leave out is said in its notes, which head the YAML.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::resources::{
    Application, ApplicationOverride, ArgoCdApplication, Concurrency, Metadata, Product,
    ProductFlow, ProductSpec, Repository, Resource,
};

/// The label or annotation naming an Application's Promenade environment.
pub const ENVIRONMENT_KEY: &str = "promenade.dev/environment";
/// The label or annotation naming an Application's Promenade application.
pub const APPLICATION_KEY: &str = "promenade.dev/application";

/// One Argo CD Application, as discovery reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredApp {
    /// The Application's name.
    pub name: String,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Its annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// `spec.source.repoURL`.
    pub repo_url: String,
    /// `spec.source.path`.
    pub path: String,
    /// `spec.source.targetRevision` (`HEAD`, a branch…).
    #[serde(default)]
    pub target_revision: String,
}

impl DiscoveredApp {
    /// A label, else an annotation, of that key.
    fn tag(&self, key: &str) -> Option<&str> {
        self.labels
            .get(key)
            .or_else(|| self.annotations.get(key))
            .map(String::as_str)
    }
}

/// `key=value` pairs (comma-separated) an Application must all carry, as labels or
/// annotations; a bare `key` asks only that it is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector(Vec<(String, Option<String>)>);

impl Selector {
    /// Reads `promenade.dev/product=shop,team=payments`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim) {
            if term.contains("!=") || term.contains(' ') || term.contains('(') {
                return Err(format!(
                    "selector term {term:?}: only `key=value` and `key` are supported"
                ));
            }
            let (key, value) = match term.split_once('=') {
                Some((key, value)) => (key.trim_end_matches('='), Some(value.to_string())),
                None => (term, None),
            };
            if key.is_empty() {
                return Err(format!("selector {text:?} has an empty key"));
            }
            terms.push((key.to_string(), value));
        }
        Ok(Self(terms))
    }

    /// Whether `app` carries every term, as a label or an annotation.
    pub fn matches(&self, app: &DiscoveredApp) -> bool {
        self.0
            .iter()
            .all(|(key, value)| match (app.tag(key), value) {
                (Some(found), Some(wanted)) => found == wanted,
                (Some(_), None) => true,
                (None, _) => false,
            })
    }

    /// The value of the first `key=value` term: a name for the product.
    pub fn first_value(&self) -> Option<&str> {
        self.0.iter().find_map(|(_, value)| value.as_deref())
    }
}

/// A request to propose a product from Argo CD (`POST /api/v1/import/argocd`,
/// `promenade import argocd`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportRequest {
    /// `promenade.dev/product=shop`: labels or annotations the Applications carry.
    pub selector: String,
    /// The Argo CD to ask; the server's own and the environments' when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Token credentials for `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    /// The product's name; the selector's value when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Its promotion template; the only one there is when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Its flow; the only one there is when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
}

/// The answer to an [`ImportRequest`]: nothing is applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportAnswer {
    /// The proposal as YAML to review and apply, its notes as comments.
    pub yaml: String,
    /// The proposal itself.
    pub proposal: Proposal,
}

/// What the proposal is built with besides the Applications.
#[derive(Clone, Debug, Default)]
pub struct ProposalInput {
    /// The product's name.
    pub product: String,
    /// Its promotion template.
    pub template: String,
    /// The flow it is promoted along, if any.
    pub flow: Option<String>,
    /// Promenade's environments, to recognise them in names and paths.
    pub environments: Vec<String>,
}

/// A proposed product and what to check before applying it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// The product.
    pub product: Product,
    /// Guesses and Applications left out, for people.
    pub notes: Vec<String>,
    /// How many Applications it was made from.
    pub used: usize,
}

/// One Application placed in an application and an environment.
struct Placed<'a> {
    app: &'a DiscoveredApp,
    application: String,
    environment: String,
    /// The Argo CD name with the environment as `{env}`.
    argocd: String,
    /// The path with the environment's folders as `{env}`.
    path: String,
}

/// Where `app` runs and under which application name, if that can be told.
fn place<'a>(app: &'a DiscoveredApp, environments: &[String]) -> Option<Placed<'a>> {
    let name = app.name.as_str();
    let mut known: Vec<&str> = environments.iter().map(String::as_str).collect();
    // `prod-eu` before `prod`: the longest name that fits wins.
    known.sort_by_key(|e| std::cmp::Reverse(e.len()));
    let from_name = |env: &str| {
        name.strip_suffix(env)
            .and_then(|rest| rest.strip_suffix('-'))
            .map(|base| (base.to_string(), format!("{base}-{{env}}")))
            .or_else(|| {
                name.strip_prefix(env)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .map(|base| (base.to_string(), format!("{{env}}-{base}")))
            })
    };
    let in_path = |env: &str| app.path.split('/').any(|segment| segment == env);
    let (environment, base, argocd) = match app.tag(ENVIRONMENT_KEY) {
        Some(env) => match from_name(env) {
            Some((base, argocd)) => (env.to_string(), base, argocd),
            None => (env.to_string(), name.to_string(), name.to_string()),
        },
        None => known.iter().find_map(|env| {
            from_name(env)
                .map(|(base, argocd)| (env.to_string(), base, argocd))
                .or_else(|| {
                    in_path(env).then(|| (env.to_string(), name.to_string(), name.to_string()))
                })
        })?,
    };
    let path = app
        .path
        .trim_matches('/')
        .split('/')
        .map(|segment| {
            if segment == environment {
                "{env}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    Some(Placed {
        app,
        application: app.tag(APPLICATION_KEY).map_or(base, str::to_string),
        environment,
        argocd,
        path,
    })
}

/// The value most of `values` have (the first of them on a tie).
fn most_common<T: Ord + Clone>(values: impl IntoIterator<Item = T>) -> Option<T> {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    let mut order = Vec::new();
    for value in values {
        let count = counts.entry(value.clone()).or_default();
        if *count == 0 {
            order.push(value);
        }
        *count += 1;
    }
    let best = counts.values().copied().max()?;
    order.into_iter().find(|v| counts[v] == best)
}

fn repository(app: &DiscoveredApp) -> Repository {
    let branch = match app.target_revision.as_str() {
        "" | "HEAD" => None,
        branch => Some(branch.to_string()),
    };
    Repository {
        url: app.repo_url.clone(),
        branch,
        credentials: None,
        provider: None,
        api_url: None,
        api_credentials: None,
    }
}

/// Proposes a product from `apps` (already filtered by the selector).
pub fn propose(apps: &[DiscoveredApp], input: &ProposalInput) -> Result<Proposal, String> {
    let mut notes = Vec::new();
    let mut placed = Vec::new();
    for app in apps {
        match place(app, &input.environments) {
            Some(found) => placed.push(found),
            None => notes.push(format!(
                "Application {} was left out: its name and path name no environment of \
                 Promenade ({}); label it `{ENVIRONMENT_KEY}`",
                app.name,
                input.environments.join(", ")
            )),
        }
    }
    let Some(main) = most_common(
        placed
            .iter()
            .map(|p| (p.app.repo_url.as_str(), p.app.target_revision.as_str())),
    )
    .and_then(|(url, revision)| {
        placed
            .iter()
            .find(|p| p.app.repo_url == url && p.app.target_revision == revision)
    })
    .map(|p| repository(p.app)) else {
        return Err("no Application could be placed in an environment".into());
    };
    if main.branch.is_none() {
        notes.push(
            "the Applications track `HEAD`: the product writes to `main`; set \
             `repository.branch` if the default branch has another name"
                .into(),
        );
    }
    let mut by_application: BTreeMap<&str, Vec<&Placed>> = BTreeMap::new();
    for found in &placed {
        by_application
            .entry(found.application.as_str())
            .or_default()
            .push(found);
    }
    let mut applications = Vec::new();
    for (name, found) in by_application {
        let path = most_common(found.iter().map(|p| p.path.clone())).unwrap_or_default();
        let argocd = most_common(found.iter().map(|p| p.argocd.clone())).unwrap_or_default();
        let mut environments = BTreeMap::new();
        for p in &found {
            if found
                .iter()
                .filter(|q| q.environment == p.environment)
                .count()
                > 1
            {
                notes.push(format!(
                    "application {name} has several Applications in {}; {} was used",
                    p.environment, found[0].app.name
                ));
            }
            if p.argocd != argocd {
                notes.push(format!(
                    "Application {} does not follow `{argocd}`: its Argo CD checks in {} \
                     look for {}",
                    p.app.name,
                    p.environment,
                    argocd.replace("{env}", &p.environment)
                ));
            }
            let mut over = ApplicationOverride::default();
            if p.path != path {
                over.path = Some(p.app.path.trim_matches('/').to_string());
            }
            let repo = repository(p.app);
            if repo != main {
                over.repository = Some(repo);
            }
            if over != ApplicationOverride::default() {
                environments.insert(p.environment.clone(), over);
            }
        }
        applications.push(Application {
            name: name.to_string(),
            path,
            argocd: Some(ArgoCdApplication {
                application: argocd,
            }),
            environments,
        });
    }
    notes.dedup();
    let unknown: Vec<&str> = {
        let mut seen: Vec<&str> = placed
            .iter()
            .map(|p| p.environment.as_str())
            .filter(|e| !input.environments.iter().any(|k| k == e))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen
    };
    if !unknown.is_empty() {
        notes.push(format!(
            "environments {} are not in Promenade yet: apply them first",
            unknown.join(", ")
        ));
    }
    Ok(Proposal {
        product: Product {
            metadata: Metadata::named(input.product.clone()),
            spec: ProductSpec {
                repository: main,
                applications,
                template: input.template.clone(),
                flows: input
                    .flow
                    .iter()
                    .map(|name| ProductFlow {
                        name: name.clone(),
                        trigger: None,
                    })
                    .collect(),
                concurrency: Concurrency::default(),
            },
        },
        notes,
        used: placed.len(),
    })
}

impl Proposal {
    /// The product as YAML to review, headed by comments saying where it came from and
    /// what to check.
    pub fn to_yaml(&self, source: &str) -> Result<String, crate::Error> {
        let mut text = format!(
            "# Proposed from {} Argo CD Application(s) {source}.\n\
             # Review it, then apply it: promenade apply -f {}.yaml\n",
            self.used, self.product.metadata.name
        );
        for note in &self.notes {
            text.push_str(&format!("# - {note}\n"));
        }
        text.push_str(&crate::canonical::to_yaml(&Resource::Product(
            self.product.clone(),
        ))?);
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, path: &str) -> DiscoveredApp {
        DiscoveredApp {
            name: name.into(),
            repo_url: "https://git.example.com/acme/gitops.git".into(),
            path: path.into(),
            target_revision: "main".into(),
            ..DiscoveredApp::default()
        }
    }

    fn input() -> ProposalInput {
        ProposalInput {
            product: "shop".into(),
            template: "image-tag".into(),
            flow: Some("standard".into()),
            environments: ["dev", "qa", "prod", "prod-eu"].map(String::from).to_vec(),
        }
    }

    #[test]
    fn applications_per_environment_become_one_application_with_env_placeholders() {
        let apps = [
            app("api-dev", "apps/api/envs/dev"),
            app("api-qa", "apps/api/envs/qa"),
            app("api-prod-eu", "apps/api/envs/prod-eu"),
            app("qa-web", "web/qa"),
            app("dev-web", "web/dev"),
        ];
        let proposal = propose(&apps, &input()).unwrap();
        let spec = &proposal.product.spec;
        assert_eq!(
            spec.repository.url,
            "https://git.example.com/acme/gitops.git"
        );
        assert_eq!(spec.repository.branch.as_deref(), Some("main"));
        assert_eq!(spec.applications.len(), 2);
        let api = &spec.applications[0];
        assert_eq!(api.name, "api");
        assert_eq!(api.path, "apps/api/envs/{env}");
        assert_eq!(api.argocd.as_ref().unwrap().application, "api-{env}");
        assert!(api.environments.is_empty());
        let web = &spec.applications[1];
        assert_eq!((web.name.as_str(), web.path.as_str()), ("web", "web/{env}"));
        assert_eq!(web.argocd.as_ref().unwrap().application, "{env}-web");
        assert_eq!(proposal.used, 5);
        assert!(proposal.notes.is_empty(), "{:?}", proposal.notes);
    }

    #[test]
    fn what_does_not_follow_the_pattern_becomes_an_override_or_a_note() {
        let mut moved = app("api-prod", "legacy/api-production");
        moved.repo_url = "https://git.example.com/acme/prod.git".into();
        let mut labelled = app("payments-x", "payments/stage");
        labelled
            .labels
            .insert(ENVIRONMENT_KEY.into(), "staging".into());
        labelled
            .annotations
            .insert(APPLICATION_KEY.into(), "payments".into());
        let apps = [
            app("api-dev", "apps/api/dev"),
            app("api-qa", "apps/api/qa"),
            moved,
            labelled,
            app("canary", "misc/canary"),
        ];
        let proposal = propose(&apps, &input()).unwrap();
        let api = &proposal.product.spec.applications[0];
        let prod = &api.environments["prod"];
        assert_eq!(prod.path.as_deref(), Some("legacy/api-production"));
        assert_eq!(
            prod.repository.as_ref().unwrap().url,
            "https://git.example.com/acme/prod.git"
        );
        let payments = &proposal.product.spec.applications[1];
        assert_eq!(payments.name, "payments");
        assert_eq!(payments.argocd.as_ref().unwrap().application, "payments-x");
        let notes = proposal.notes.join("\n");
        assert!(notes.contains("Application canary was left out"), "{notes}");
        assert!(
            notes.contains("environments staging are not in Promenade yet"),
            "{notes}"
        );
    }

    #[test]
    fn the_yaml_reads_back_as_the_same_product() {
        let apps = [app("api-dev", "apps/api/dev"), app("api-qa", "apps/api/qa")];
        let proposal = propose(&apps, &input()).unwrap();
        let text = proposal
            .to_yaml("labelled promenade.dev/product=shop")
            .unwrap();
        assert!(text.starts_with("# Proposed from 2 Argo CD Application(s) labelled"));
        let (loaded, problems) = crate::load("shop.yaml", &text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].resource, Resource::Product(proposal.product));
    }

    #[test]
    fn selectors_match_labels_or_annotations() {
        let mut labelled = app("api-qa", "apps/api/qa");
        labelled
            .labels
            .insert("promenade.dev/product".into(), "shop".into());
        let mut annotated = app("web-qa", "web/qa");
        annotated
            .annotations
            .insert("promenade.dev/product".into(), "shop".into());
        let other = app("db-qa", "db/qa");
        let selector = Selector::parse("promenade.dev/product=shop").unwrap();
        assert!(selector.matches(&labelled));
        assert!(selector.matches(&annotated));
        assert!(!selector.matches(&other));
        assert_eq!(selector.first_value(), Some("shop"));
        assert!(Selector::parse("team").unwrap().matches(&{
            let mut a = other.clone();
            a.labels.insert("team".into(), "x".into());
            a
        }));
        assert!(Selector::parse("env!=prod").is_err());
        assert!(Selector::parse("=x").is_err());
    }
}
