//! The graph of a flow: the trigger environment, then steps ordered by `dependsOn`.
//!
//! A small Kahn topological sort rather than `petgraph`: flows have tens of nodes, the
//! questions asked (levels, ancestors, descendants, joins) are a few lines each, and
//! diagnosing a broken flow (naming a cycle, explaining why a step is unreachable)
//! needs the sort's leftovers, which a general graph library would not hand back.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::resources::PromotionFlowSpec;
use crate::Error;

/// Something that makes a flow unusable. Step and dependency numbers are indexes into
/// `spec.steps` and a step's `dependsOn`, so callers can point at the YAML.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "problem")]
pub enum FlowProblem {
    /// The trigger environment is also a step.
    TriggerAsStep {
        /// Index of the step.
        step: usize,
        /// The environment.
        environment: String,
    },
    /// A second step for an environment.
    DuplicateStep {
        /// Index of the later step.
        step: usize,
        /// The environment.
        environment: String,
    },
    /// `dependsOn` names something that is neither the trigger nor a step.
    UnknownDependency {
        /// Index of the step.
        step: usize,
        /// Index in its `dependsOn`.
        dependency: usize,
        /// The step's environment.
        environment: String,
        /// The unknown name.
        name: String,
    },
    /// Steps that depend on each other in a ring.
    Cycle {
        /// Index of the step the diagnostic is attached to.
        step: usize,
        /// Index in its `dependsOn` of the edge that closes the ring.
        dependency: usize,
        /// The ring in promotion order, first environment repeated at the end.
        cycle: Vec<String>,
    },
    /// A step no release can reach.
    Unreachable {
        /// Index of the step.
        step: usize,
        /// The step's environment.
        environment: String,
        /// The trigger environment.
        trigger: String,
        /// A dependency that can never finish, or none if `dependsOn` is empty.
        waits_for: Option<String>,
    },
}

impl fmt::Display for FlowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TriggerAsStep { environment, .. } => {
                write!(f, "`{environment}` is the trigger environment, so it cannot also be a step")
            }
            Self::DuplicateStep { environment, .. } => {
                write!(f, "`{environment}` is already a step of this flow")
            }
            Self::UnknownDependency { environment, name, .. } => write!(
                f,
                "step `{environment}` depends on `{name}`, which is neither the trigger nor a step of this flow"
            ),
            Self::Cycle { cycle, .. } => write!(f, "steps depend on each other in a cycle: {}", cycle.join(" → ")),
            Self::Unreachable {
                environment,
                trigger,
                waits_for: None,
                ..
            } => write!(
                f,
                "step `{environment}` is not reachable from the trigger `{trigger}`: its dependsOn is empty"
            ),
            Self::Unreachable {
                environment,
                waits_for: Some(dependency),
                ..
            } => write!(
                f,
                "step `{environment}` can never start: it waits for `{dependency}`, which can never start"
            ),
        }
    }
}

/// A valid flow: a DAG whose every step is reachable from the trigger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowGraph {
    /// Node 0 is the trigger; the others are steps in the order written.
    names: Vec<String>,
    dependencies: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    levels: Vec<usize>,
}

/// What the analysis of a spec finds, valid or not.
struct Analysis {
    names: Vec<String>,
    /// For node n > 0, its index in `spec.steps`.
    steps: Vec<usize>,
    dependencies: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    levels: Vec<Option<usize>>,
    problems: Vec<FlowProblem>,
}

fn analyse(spec: &PromotionFlowSpec) -> Analysis {
    let trigger = spec.trigger_environment.as_str();
    let mut names = vec![trigger.to_owned()];
    let mut steps = vec![usize::MAX];
    let mut index: HashMap<&str, usize> = HashMap::from([(trigger, 0)]);
    let mut problems = Vec::new();
    for (step, flow_step) in spec.steps.iter().enumerate() {
        let environment = flow_step.environment.as_str();
        if environment == trigger {
            problems.push(FlowProblem::TriggerAsStep {
                step,
                environment: environment.to_owned(),
            });
        } else if index.contains_key(environment) {
            problems.push(FlowProblem::DuplicateStep {
                step,
                environment: environment.to_owned(),
            });
        } else {
            index.insert(environment, names.len());
            names.push(environment.to_owned());
            steps.push(step);
        }
    }

    let mut dependencies = vec![Vec::new(); names.len()];
    let mut dependents = vec![Vec::new(); names.len()];
    for node in 1..names.len() {
        let step = &spec.steps[steps[node]];
        for (dependency, name) in step.depends_on.iter().enumerate() {
            match index.get(name.as_str()) {
                Some(&upstream) if !dependencies[node].contains(&upstream) => {
                    dependencies[node].push(upstream);
                    dependents[upstream].push(node);
                }
                Some(_) => {}
                None => problems.push(FlowProblem::UnknownDependency {
                    step: steps[node],
                    dependency,
                    environment: names[node].clone(),
                    name: name.clone(),
                }),
            }
        }
    }

    // Kahn's algorithm started from the trigger alone: a step with an empty
    // dependsOn is not a second root, it is unreachable.
    let mut waiting: Vec<usize> = dependencies.iter().map(Vec::len).collect();
    let mut levels = vec![None; names.len()];
    levels[0] = Some(0);
    let mut queue = vec![0];
    while let Some(node) = queue.pop() {
        let level = levels[node].unwrap_or(0);
        for &next in &dependents[node] {
            waiting[next] -= 1;
            levels[next] = Some(levels[next].map_or(level + 1, |l: usize| l.max(level + 1)));
            if waiting[next] == 0 {
                queue.push(next);
            }
        }
    }
    // A step with a dependency that never finished only has a provisional level.
    for (level, waiting) in levels.iter_mut().zip(&waiting) {
        if *waiting > 0 {
            *level = None;
        }
    }

    let mut analysis = Analysis {
        names,
        steps,
        dependencies,
        dependents,
        levels,
        problems,
    };
    analysis.diagnose_unscheduled(spec);
    analysis
}

impl Analysis {
    fn depends_on_index(&self, spec: &PromotionFlowSpec, node: usize, upstream: usize) -> usize {
        let step = &spec.steps[self.steps[node]];
        step.depends_on
            .iter()
            .position(|name| *name == self.names[upstream])
            .unwrap_or(0)
    }

    /// Names every cycle once, then explains every other step that never starts.
    fn diagnose_unscheduled(&mut self, spec: &PromotionFlowSpec) {
        let stuck = |node: usize| self.levels[node].is_none();
        let mut in_cycle = vec![false; self.names.len()];
        let mut walked = vec![false; self.names.len()];
        let mut cycles = Vec::new();
        for start in 1..self.names.len() {
            if !stuck(start) || walked[start] {
                continue;
            }
            // Walk upstream through stuck dependencies: it either dead-ends or loops.
            let mut trail: Vec<usize> = Vec::new();
            let mut node = start;
            loop {
                if let Some(at) = trail.iter().position(|&n| n == node) {
                    cycles.push(trail[at..].to_vec());
                    trail[at..].iter().for_each(|&n| in_cycle[n] = true);
                    break;
                }
                if walked[node] {
                    break;
                }
                walked[node] = true;
                trail.push(node);
                match self.dependencies[node].iter().find(|&&d| stuck(d)) {
                    Some(&upstream) => node = upstream,
                    None => break,
                }
            }
        }
        for mut ring in cycles {
            // The trail runs upstream; promotion order is the reverse. Start the ring at
            // the step written first so the message does not depend on the walk.
            ring.reverse();
            let first = (0..ring.len()).min_by_key(|&i| ring[i]).unwrap_or(0);
            ring.rotate_left(first);
            let head = ring[0];
            let closing = ring[ring.len() - 1];
            let mut cycle: Vec<String> = ring.iter().map(|&n| self.names[n].clone()).collect();
            cycle.push(self.names[head].clone());
            self.problems.push(FlowProblem::Cycle {
                step: self.steps[head],
                dependency: self.depends_on_index(spec, head, closing),
                cycle,
            });
        }
        for (node, &cyclic) in in_cycle.iter().enumerate().skip(1) {
            if !stuck(node) || cyclic {
                continue;
            }
            let step = self.steps[node];
            let blocker = self.dependencies[node].iter().find(|&&d| stuck(d));
            // A step whose only dependencies are unknown names is already reported.
            if blocker.is_none() && !spec.steps[step].depends_on.is_empty() {
                continue;
            }
            self.problems.push(FlowProblem::Unreachable {
                step,
                environment: self.names[node].clone(),
                trigger: self.names[0].clone(),
                waits_for: blocker.map(|&d| self.names[d].clone()),
            });
        }
    }
}

impl FlowGraph {
    /// The graph of a flow, or every problem that prevents one.
    pub fn new(spec: &PromotionFlowSpec) -> Result<Self, Error> {
        let analysis = analyse(spec);
        if !analysis.problems.is_empty() {
            return Err(Error::Flow {
                problems: analysis.problems,
            });
        }
        Ok(Self {
            levels: analysis.levels.iter().map(|l| l.unwrap_or(0)).collect(),
            names: analysis.names,
            dependencies: analysis.dependencies,
            dependents: analysis.dependents,
        })
    }

    /// Every problem of a flow, in a stable order (empty for a valid flow).
    pub fn problems(spec: &PromotionFlowSpec) -> Vec<FlowProblem> {
        analyse(spec).problems
    }

    fn node(&self, environment: &str) -> Option<usize> {
        self.names.iter().position(|name| name == environment)
    }

    fn sorted(&self, nodes: impl IntoIterator<Item = usize>) -> Vec<&str> {
        let ordered: BTreeSet<(usize, usize)> =
            nodes.into_iter().map(|n| (self.levels[n], n)).collect();
        ordered
            .into_iter()
            .map(|(_, n)| self.names[n].as_str())
            .collect()
    }

    /// The trigger environment.
    pub fn trigger(&self) -> &str {
        &self.names[0]
    }

    /// Every environment, trigger first, in an order where dependencies come first.
    pub fn environments(&self) -> Vec<&str> {
        self.sorted(0..self.names.len())
    }

    /// Environments grouped by depth: level 0 is the trigger, level n holds the steps
    /// whose longest dependency chain has n edges. Steps on one level may run in parallel.
    pub fn levels(&self) -> Vec<Vec<&str>> {
        let depth = self.levels.iter().max().map_or(0, |m| m + 1);
        let mut levels = vec![Vec::new(); depth];
        for (node, &level) in self.levels.iter().enumerate() {
            levels[level].push(self.names[node].as_str());
        }
        levels
    }

    /// The level of an environment, as in [`FlowGraph::levels`].
    pub fn level(&self, environment: &str) -> Option<usize> {
        self.node(environment).map(|n| self.levels[n])
    }

    /// The environments a step waits for directly (all of them, for a join).
    pub fn dependencies(&self, environment: &str) -> Vec<&str> {
        self.node(environment)
            .map(|n| self.sorted(self.dependencies[n].iter().copied()))
            .unwrap_or_default()
    }

    /// The steps waiting directly for an environment.
    pub fn dependents(&self, environment: &str) -> Vec<&str> {
        self.node(environment)
            .map(|n| self.sorted(self.dependents[n].iter().copied()))
            .unwrap_or_default()
    }

    /// Whether a step waits for more than one environment.
    pub fn is_join(&self, environment: &str) -> bool {
        self.node(environment)
            .is_some_and(|n| self.dependencies[n].len() > 1)
    }

    /// Every join, in dependency order.
    pub fn joins(&self) -> Vec<&str> {
        self.sorted((0..self.names.len()).filter(|&n| self.dependencies[n].len() > 1))
    }

    fn closure(&self, start: usize, edges: &[Vec<usize>]) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack = edges[start].clone();
        while let Some(node) = stack.pop() {
            if seen.insert(node) {
                stack.extend(&edges[node]);
            }
        }
        seen
    }

    /// Everything an environment transitively waits for, trigger first.
    pub fn upstream(&self, environment: &str) -> Vec<&str> {
        self.node(environment)
            .map(|n| self.sorted(self.closure(n, &self.dependencies)))
            .unwrap_or_default()
    }

    /// Everything that transitively waits for an environment, in dependency order.
    pub fn downstream(&self, environment: &str) -> Vec<&str> {
        self.node(environment)
            .map(|n| self.sorted(self.closure(n, &self.dependents)))
            .unwrap_or_default()
    }

    /// The environments a release passes through to reach `environment`: the trigger,
    /// every environment on any path from it (all branches of a join), and
    /// `environment` last. `None` if it is not in the flow.
    pub fn path_from_trigger(&self, environment: &str) -> Option<Vec<&str>> {
        let node = self.node(environment)?;
        let mut nodes = self.closure(node, &self.dependencies);
        nodes.insert(node);
        Some(self.sorted(nodes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::FlowStep;

    fn flow(trigger: &str, steps: &[(&str, &[&str])]) -> PromotionFlowSpec {
        PromotionFlowSpec {
            trigger_environment: trigger.into(),
            steps: steps
                .iter()
                .map(|(environment, depends_on)| FlowStep {
                    environment: (*environment).into(),
                    depends_on: depends_on.iter().map(|d| (*d).into()).collect(),
                    policy: None,
                })
                .collect(),
            ..PromotionFlowSpec::default()
        }
    }

    fn design_flow() -> FlowGraph {
        FlowGraph::new(&flow(
            "dev",
            &[
                ("qa", &["dev"]),
                ("staging-eu", &["qa"]),
                ("staging-us", &["qa"]),
                ("prod", &["staging-eu", "staging-us"]),
            ],
        ))
        .unwrap()
    }

    #[test]
    fn levels_group_what_runs_in_parallel() {
        let graph = design_flow();
        assert_eq!(
            graph.levels(),
            vec![
                vec!["dev"],
                vec!["qa"],
                vec!["staging-eu", "staging-us"],
                vec!["prod"]
            ]
        );
        assert_eq!(graph.level("prod"), Some(3));
        assert_eq!(
            graph.environments(),
            ["dev", "qa", "staging-eu", "staging-us", "prod"]
        );
    }

    #[test]
    fn answers_upstream_downstream_joins_and_paths() {
        let graph = design_flow();
        assert_eq!(graph.dependencies("prod"), ["staging-eu", "staging-us"]);
        assert_eq!(graph.dependents("qa"), ["staging-eu", "staging-us"]);
        assert_eq!(graph.upstream("staging-us"), ["dev", "qa"]);
        assert_eq!(graph.downstream("qa"), ["staging-eu", "staging-us", "prod"]);
        assert!(graph.is_join("prod") && !graph.is_join("qa"));
        assert_eq!(graph.joins(), ["prod"]);
        assert_eq!(
            graph.path_from_trigger("prod").unwrap(),
            ["dev", "qa", "staging-eu", "staging-us", "prod"]
        );
        assert_eq!(
            graph.path_from_trigger("staging-eu").unwrap(),
            ["dev", "qa", "staging-eu"]
        );
        assert_eq!(graph.path_from_trigger("dev").unwrap(), ["dev"]);
        assert_eq!(graph.path_from_trigger("nowhere"), None);
    }

    #[test]
    fn a_long_branch_sets_the_level_of_a_join() {
        let graph = FlowGraph::new(&flow(
            "dev",
            &[("a", &["dev"]), ("b", &["a"]), ("prod", &["dev", "b"])],
        ))
        .unwrap();
        assert_eq!(graph.level("prod"), Some(3));
    }

    #[test]
    fn names_cycles_in_promotion_order() {
        let problems = FlowGraph::problems(&flow(
            "dev",
            &[
                ("qa", &["dev", "staging"]),
                ("staging", &["qa"]),
                ("prod", &["staging"]),
            ],
        ));
        assert_eq!(
            problems,
            vec![
                FlowProblem::Cycle {
                    step: 0,
                    dependency: 1,
                    cycle: vec!["qa".into(), "staging".into(), "qa".into()],
                },
                FlowProblem::Unreachable {
                    step: 2,
                    environment: "prod".into(),
                    trigger: "dev".into(),
                    waits_for: Some("staging".into()),
                },
            ]
        );
        assert_eq!(
            problems[0].to_string(),
            "steps depend on each other in a cycle: qa → staging → qa"
        );
    }

    #[test]
    fn finds_self_loops_and_longer_rings() {
        let problems = FlowGraph::problems(&flow(
            "dev",
            &[("a", &["a"]), ("b", &["d"]), ("c", &["b"]), ("d", &["c"])],
        ));
        let cycles: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            cycles,
            [
                "steps depend on each other in a cycle: a → a",
                "steps depend on each other in a cycle: b → c → d → b",
            ]
        );
    }

    #[test]
    fn reports_structural_problems() {
        let problems = FlowGraph::problems(&flow(
            "dev",
            &[
                ("dev", &[]),
                ("qa", &["dev"]),
                ("qa", &["dev"]),
                ("x", &[]),
                ("y", &["stagin"]),
            ],
        ));
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "`dev` is the trigger environment, so it cannot also be a step",
                "`qa` is already a step of this flow",
                "step `y` depends on `stagin`, which is neither the trigger nor a step of this flow",
                "step `x` is not reachable from the trigger `dev`: its dependsOn is empty",
            ]
        );
        assert!(matches!(
            FlowGraph::new(&flow("dev", &[("x", &[])])),
            Err(Error::Flow { .. })
        ));
    }
}
