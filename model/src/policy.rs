//! Policy resolution: which rules apply to a product in an environment, and why.
//!
//! Every `PromotionPolicy` whose selector matches contributes the fields it sets;
//! for each field the highest priority wins (equal priorities: the name that sorts
//! first wins, so the result never depends on file order). A flow step's inline
//! policy comes last and wins over all of them. Lists such as `gates` are one field:
//! a winning policy replaces the list, it does not append to it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::resources::{
    Environment, FlowStep, MergeMethod, PolicyRules, PromotionAction, PromotionPolicy,
};

/// A field a policy can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PolicyField {
    /// `action`
    #[serde(rename = "action")]
    Action,
    /// `pullRequest.autoMerge`
    #[serde(rename = "pullRequest.autoMerge")]
    PullRequestAutoMerge,
    /// `pullRequest.mergeMethod`
    #[serde(rename = "pullRequest.mergeMethod")]
    PullRequestMergeMethod,
    /// `pullRequest.labels`
    #[serde(rename = "pullRequest.labels")]
    PullRequestLabels,
    /// `pullRequest.reviewers`
    #[serde(rename = "pullRequest.reviewers")]
    PullRequestReviewers,
    /// `pullRequest.assignees`
    #[serde(rename = "pullRequest.assignees")]
    PullRequestAssignees,
    /// `pullRequest.draft`
    #[serde(rename = "pullRequest.draft")]
    PullRequestDraft,
    /// `gates`
    #[serde(rename = "gates")]
    Gates,
    /// `verify`
    #[serde(rename = "verify")]
    Verify,
}

impl PolicyField {
    /// The field as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Action => "action",
            Self::PullRequestAutoMerge => "pullRequest.autoMerge",
            Self::PullRequestMergeMethod => "pullRequest.mergeMethod",
            Self::PullRequestLabels => "pullRequest.labels",
            Self::PullRequestReviewers => "pullRequest.reviewers",
            Self::PullRequestAssignees => "pullRequest.assignees",
            Self::PullRequestDraft => "pullRequest.draft",
            Self::Gates => "gates",
            Self::Verify => "verify",
        }
    }
}

/// Who set a field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum PolicySource {
    /// Nobody: the built-in default.
    Default,
    /// A `PromotionPolicy`.
    Policy {
        /// Its name.
        name: String,
        /// Its priority.
        priority: i32,
    },
    /// The inline policy of a flow step.
    FlowStep {
        /// The flow.
        flow: String,
        /// The step's environment.
        environment: String,
    },
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("the default"),
            Self::Policy { name, priority } => write!(f, "policy `{name}` (priority {priority})"),
            Self::FlowStep { flow, environment } => {
                write!(f, "flow `{flow}`, step `{environment}`")
            }
        }
    }
}

/// Where one field of an effective policy came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldOrigin {
    /// The field.
    pub field: PolicyField,
    /// Who set the value in effect.
    pub source: PolicySource,
    /// Others that set it and lost, strongest first.
    pub overridden: Vec<PolicySource>,
}

impl fmt::Display for FieldOrigin {
    /// `action: set by flow `standard`, step `prod`; overrides policy `prod-gate` (priority 100)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: set by {}", self.field.as_str(), self.source)?;
        if !self.overridden.is_empty() {
            let lost: Vec<String> = self.overridden.iter().map(ToString::to_string).collect();
            write!(f, "; overrides {}", lost.join(", "))?;
        }
        Ok(())
    }
}

/// Pull request settings in effect.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestSettings {
    /// Merge once checks pass.
    pub auto_merge: bool,
    /// How it is merged.
    #[serde(default)]
    pub merge_method: MergeMethod,
    /// Labels to put on the pull request.
    pub labels: Vec<String>,
    /// Users asked to review it.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Users it is assigned to.
    #[serde(default)]
    pub assignees: Vec<String>,
    /// Opened as a draft.
    #[serde(default)]
    pub draft: bool,
}

/// The rules in effect for one product in one environment, with their origins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectivePolicy {
    /// How the change is written (`commit` by default).
    pub action: PromotionAction,
    /// Pull request settings, for `action: pr`.
    pub pull_request: PullRequestSettings,
    /// Actions before the change.
    pub gates: Vec<Action>,
    /// Actions after the change.
    pub verify: Vec<Action>,
    /// One entry per field, in the order of [`PolicyField`].
    pub explanation: Vec<FieldOrigin>,
}

impl EffectivePolicy {
    /// Where a field came from.
    pub fn origin(&self, field: PolicyField) -> Option<&FieldOrigin> {
        self.explanation.iter().find(|origin| origin.field == field)
    }
}

impl fmt::Display for EffectivePolicy {
    /// One line per field, saying who set it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for origin in &self.explanation {
            writeln!(f, "{origin}")?;
        }
        Ok(())
    }
}

struct Layer<'a> {
    source: PolicySource,
    rules: &'a PolicyRules,
}

/// The value of one field: the last (strongest) layer that sets it wins.
fn pick<'a, T>(
    layers: &[Layer<'a>],
    field: PolicyField,
    get: impl Fn(&'a PolicyRules) -> Option<T>,
    origins: &mut Vec<FieldOrigin>,
) -> Option<T> {
    let mut setters: Vec<(&PolicySource, T)> = layers
        .iter()
        .filter_map(|layer| get(layer.rules).map(|value| (&layer.source, value)))
        .collect();
    let winner = setters.pop();
    origins.push(FieldOrigin {
        field,
        source: winner
            .as_ref()
            .map_or(PolicySource::Default, |(source, _)| (*source).clone()),
        overridden: setters
            .iter()
            .rev()
            .map(|(source, _)| (*source).clone())
            .collect(),
    });
    winner.map(|(_, value)| value)
}

/// The policy in effect for `product` in `environment`, from every matching policy
/// and, when the promotion follows a flow, that flow step's inline policy.
pub fn resolve_policy<'a>(
    policies: impl IntoIterator<Item = &'a PromotionPolicy>,
    product: &str,
    environment: &Environment,
    step: Option<(&str, &'a FlowStep)>,
) -> EffectivePolicy {
    let mut matching: Vec<&PromotionPolicy> = policies
        .into_iter()
        .filter(|policy| policy.spec.selector.matches(product, environment))
        .collect();
    // Weakest first: lower priority, then names sorting later.
    matching.sort_by(|a, b| {
        a.spec
            .priority
            .cmp(&b.spec.priority)
            .then_with(|| b.metadata.name.cmp(&a.metadata.name))
    });
    let mut layers: Vec<Layer> = matching
        .into_iter()
        .map(|policy| Layer {
            source: PolicySource::Policy {
                name: policy.metadata.name.clone(),
                priority: policy.spec.priority,
            },
            rules: &policy.spec.rules,
        })
        .collect();
    if let Some((
        flow,
        FlowStep {
            environment,
            policy: Some(rules),
            ..
        },
    )) = step
    {
        layers.push(Layer {
            source: PolicySource::FlowStep {
                flow: flow.to_owned(),
                environment: environment.clone(),
            },
            rules,
        });
    }

    let mut explanation = Vec::new();
    let action = pick(&layers, PolicyField::Action, |r| r.action, &mut explanation);
    let auto_merge = pick(
        &layers,
        PolicyField::PullRequestAutoMerge,
        |r| r.pull_request.as_ref()?.auto_merge,
        &mut explanation,
    );
    let merge_method = pick(
        &layers,
        PolicyField::PullRequestMergeMethod,
        |r| r.pull_request.as_ref()?.merge_method,
        &mut explanation,
    );
    let labels = pick(
        &layers,
        PolicyField::PullRequestLabels,
        |r| r.pull_request.as_ref()?.labels.as_ref(),
        &mut explanation,
    );
    let reviewers = pick(
        &layers,
        PolicyField::PullRequestReviewers,
        |r| r.pull_request.as_ref()?.reviewers.as_ref(),
        &mut explanation,
    );
    let assignees = pick(
        &layers,
        PolicyField::PullRequestAssignees,
        |r| r.pull_request.as_ref()?.assignees.as_ref(),
        &mut explanation,
    );
    let draft = pick(
        &layers,
        PolicyField::PullRequestDraft,
        |r| r.pull_request.as_ref()?.draft,
        &mut explanation,
    );
    let gates = pick(
        &layers,
        PolicyField::Gates,
        |r| r.gates.as_ref(),
        &mut explanation,
    );
    let verify = pick(
        &layers,
        PolicyField::Verify,
        |r| r.verify.as_ref(),
        &mut explanation,
    );
    EffectivePolicy {
        action: action.unwrap_or_default(),
        pull_request: PullRequestSettings {
            auto_merge: auto_merge.unwrap_or(false),
            merge_method: merge_method.unwrap_or_default(),
            labels: labels.cloned().unwrap_or_default(),
            reviewers: reviewers.cloned().unwrap_or_default(),
            assignees: assignees.cloned().unwrap_or_default(),
            draft: draft.unwrap_or(false),
        },
        gates: gates.cloned().unwrap_or_default(),
        verify: verify.cloned().unwrap_or_default(),
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Soak;
    use crate::resources::{
        EnvironmentKind, EnvironmentSpec, Metadata, PromotionPolicySpec, PullRequestPolicy,
        Selector,
    };
    use std::collections::BTreeMap;

    fn environment(name: &str, kind: EnvironmentKind, labels: &[(&str, &str)]) -> Environment {
        Environment {
            metadata: Metadata {
                name: name.into(),
                labels: labels
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
                annotations: BTreeMap::new(),
            },
            spec: EnvironmentSpec {
                kind,
                color: None,
                argocd: None,
                argo_workflows: None,
            },
        }
    }

    fn policy(
        name: &str,
        priority: i32,
        selector: Selector,
        rules: PolicyRules,
    ) -> PromotionPolicy {
        PromotionPolicy {
            metadata: Metadata::named(name),
            spec: PromotionPolicySpec {
                priority,
                selector,
                rules,
            },
        }
    }

    fn soak(minutes: u64) -> Action {
        Action::Soak(Soak {
            after: Default::default(),
            duration: crate::duration::Duration::from_secs(minutes * 60).unwrap(),
        })
    }

    fn policies() -> Vec<PromotionPolicy> {
        vec![
            policy(
                "base",
                0,
                Selector::default(),
                PolicyRules {
                    action: Some(PromotionAction::Commit),
                    gates: Some(vec![soak(5)]),
                    pull_request: Some(PullRequestPolicy {
                        auto_merge: Some(true),
                        ..PullRequestPolicy::default()
                    }),
                    verify: None,
                },
            ),
            policy(
                "prod-gate",
                100,
                Selector {
                    environment_kinds: vec![EnvironmentKind::Prod],
                    ..Selector::default()
                },
                PolicyRules {
                    action: Some(PromotionAction::Pr),
                    gates: Some(vec![soak(30)]),
                    pull_request: Some(PullRequestPolicy {
                        labels: Some(vec!["promotion".into()]),
                        reviewers: Some(vec!["alice".into()]),
                        ..PullRequestPolicy::default()
                    }),
                    verify: None,
                },
            ),
            policy(
                "eu-only",
                50,
                Selector {
                    labels: BTreeMap::from([("region".into(), "eu".into())]),
                    products: vec!["shop".into()],
                    ..Selector::default()
                },
                PolicyRules {
                    action: Some(PromotionAction::None),
                    ..PolicyRules::default()
                },
            ),
        ]
    }

    #[test]
    fn higher_priority_wins_field_by_field() {
        let prod = environment("prod", EnvironmentKind::Prod, &[("region", "eu")]);
        let effective = resolve_policy(&policies(), "shop", &prod, None);
        assert_eq!(effective.action, PromotionAction::Pr);
        assert_eq!(effective.gates, vec![soak(30)]);
        assert!(
            effective.pull_request.auto_merge,
            "autoMerge comes from `base`, which nobody overrides"
        );
        assert_eq!(effective.pull_request.labels, ["promotion"]);
        assert_eq!(effective.pull_request.reviewers, ["alice"]);
        assert!(!effective.pull_request.draft);
        assert_eq!(
            effective.origin(PolicyField::Action).unwrap().to_string(),
            "action: set by policy `prod-gate` (priority 100); overrides policy `eu-only` (priority 50), policy `base` (priority 0)"
        );
        assert_eq!(
            effective.origin(PolicyField::Verify).unwrap().to_string(),
            "verify: set by the default"
        );
    }

    #[test]
    fn selectors_filter_by_product_name_kind_and_labels() {
        let qa = environment("qa", EnvironmentKind::NonProd, &[("region", "eu")]);
        assert_eq!(
            resolve_policy(&policies(), "shop", &qa, None).action,
            PromotionAction::None
        );
        assert_eq!(
            resolve_policy(&policies(), "blog", &qa, None).action,
            PromotionAction::Commit
        );
        let us = environment("qa-us", EnvironmentKind::NonProd, &[("region", "us")]);
        assert_eq!(
            resolve_policy(&policies(), "shop", &us, None).action,
            PromotionAction::Commit
        );
        assert_eq!(
            resolve_policy(&[], "shop", &us, None).action,
            PromotionAction::Commit
        );
    }

    #[test]
    fn the_flow_step_wins_last_and_is_explained() {
        let prod = environment("prod", EnvironmentKind::Prod, &[]);
        let step = FlowStep {
            environment: "prod".into(),
            depends_on: vec!["qa".into()],
            policy: Some(PolicyRules {
                action: Some(PromotionAction::Commit),
                gates: Some(vec![]),
                ..PolicyRules::default()
            }),
        };
        let effective = resolve_policy(&policies(), "shop", &prod, Some(("standard", &step)));
        assert_eq!(effective.action, PromotionAction::Commit);
        assert_eq!(effective.gates, vec![], "an empty list is a setting");
        assert_eq!(
            effective.to_string(),
            "action: set by flow `standard`, step `prod`; overrides policy `prod-gate` (priority 100), policy `base` (priority 0)\n\
             pullRequest.autoMerge: set by policy `base` (priority 0)\n\
             pullRequest.mergeMethod: set by the default\n\
             pullRequest.labels: set by policy `prod-gate` (priority 100)\n\
             pullRequest.reviewers: set by policy `prod-gate` (priority 100)\n\
             pullRequest.assignees: set by the default\n\
             pullRequest.draft: set by the default\n\
             gates: set by flow `standard`, step `prod`; overrides policy `prod-gate` (priority 100), policy `base` (priority 0)\n\
             verify: set by the default\n"
        );
    }

    #[test]
    fn equal_priorities_break_ties_by_name() {
        let rules = |action| PolicyRules {
            action: Some(action),
            ..PolicyRules::default()
        };
        let tied = vec![
            policy("b", 1, Selector::default(), rules(PromotionAction::Pr)),
            policy("a", 1, Selector::default(), rules(PromotionAction::None)),
        ];
        let qa = environment("qa", EnvironmentKind::NonProd, &[]);
        assert_eq!(
            resolve_policy(&tied, "shop", &qa, None).action,
            PromotionAction::None
        );
    }
}
