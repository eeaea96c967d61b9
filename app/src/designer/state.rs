//! The canvas state, free of any browser type so it is tested natively: the flow being
//! drawn with its node positions, the selection, and undo/redo.
//!
//! The flow itself is the model's [`PromotionFlow`]: editing it directly means the
//! canvas can never express something the YAML cannot, and everything the canvas does
//! not draw (hooks, timeout, labels, other annotations) survives untouched.
//!
//! Every change is one history entry; a pointer drag is bracketed by
//! [`Designer::begin_drag`] and [`Designer::end_drag`] so a whole gesture is undone at
//! once however many pointer moves it took.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;

use promenade_model::action::Action;
use promenade_model::layout::Layout;
use promenade_model::resources::{FlowStep, Hooks, Metadata, PolicyRules, PromotionFlow};

use super::actions::ActionList;
use super::arrange::{auto_layout, complete_layout};
use super::geometry::{snap, Rect};

/// An edge of the flow: `to` lists `from` in its `dependsOn`, so a release reaches
/// `from` before `to`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edge {
    pub from: String,
    pub to: String,
}

impl Edge {
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
        }
    }
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.from, self.to)
    }
}

/// Something that can be selected.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Item {
    Node(String),
    Edge(Edge),
}

/// The environments drawn as nodes: the trigger, then each step once, in YAML order.
/// A duplicated step is drawn once; validation reports the duplicate.
pub fn nodes(flow: &PromotionFlow) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let trigger = flow.spec.trigger_environment.as_str();
    std::iter::once(trigger)
        .filter(|t| !t.is_empty())
        .chain(flow.spec.steps.iter().map(|s| s.environment.as_str()))
        .filter(|name| seen.insert(*name))
        .map(str::to_owned)
        .collect()
}

/// The edges between drawn nodes, in YAML order. Dependencies on names that are not
/// nodes are not drawn; validation reports them on the step.
pub fn edges(flow: &PromotionFlow) -> Vec<Edge> {
    let drawn: BTreeSet<String> = nodes(flow).into_iter().collect();
    let mut seen = BTreeSet::new();
    let mut result = Vec::new();
    for step in &flow.spec.steps {
        if !seen.insert(step.environment.as_str()) {
            continue;
        }
        for dependency in &step.depends_on {
            let edge = Edge::new(dependency.clone(), step.environment.clone());
            if drawn.contains(dependency) && !result.contains(&edge) {
                result.push(edge);
            }
        }
    }
    result
}

/// Why the canvas refused a change. The message is what the announcer says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    AlreadyInFlow(String),
    SelfDependency(String),
    IntoTrigger(String),
    AlreadyConnected(Edge),
    /// The ring the edge would close, in promotion order, first node repeated last.
    Cycle(Vec<String>),
    NotInFlow(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyInFlow(env) => write!(f, "{env} is already in this flow"),
            Self::SelfDependency(env) => write!(f, "{env} cannot depend on itself"),
            Self::IntoTrigger(env) => write!(
                f,
                "{env} is the trigger: releases start there, so it cannot depend on another environment"
            ),
            Self::AlreadyConnected(edge) => write!(f, "{} already depends on {}", edge.to, edge.from),
            Self::Cycle(ring) => write!(
                f,
                "that connection would create a cycle: {}",
                ring.join(" → ")
            ),
            Self::NotInFlow(env) => write!(f, "{env} is not in this flow"),
        }
    }
}

/// What the history stores: the flow and where its nodes are.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    pub flow: PromotionFlow,
    pub layout: Layout,
}

impl Doc {
    /// A flow with no environments yet.
    pub fn empty(name: &str) -> Self {
        Self {
            flow: PromotionFlow {
                metadata: Metadata::named(name),
                spec: Default::default(),
            },
            layout: Layout::new(),
        }
    }

    /// A flow as read, positioned by its layout annotation; nodes without a position,
    /// or all of them when the annotation is unreadable, get one.
    pub fn from_flow(mut flow: PromotionFlow) -> Self {
        let layout = flow.layout().unwrap_or_default();
        // Positions live in `layout` while editing; `to_flow` writes them back.
        flow.set_layout(&Layout::new());
        let layout = if layout.is_empty() {
            auto_layout(&flow)
        } else {
            complete_layout(&flow, &layout)
        };
        Self { flow, layout }
    }

    /// The flow with the layout annotation set to the current positions.
    pub fn to_flow(&self) -> PromotionFlow {
        let mut flow = self.flow.clone();
        flow.set_layout(&complete_layout(&self.flow, &self.layout));
        flow
    }

    fn step_mut(&mut self, environment: &str) -> Option<&mut FlowStep> {
        self.flow
            .spec
            .steps
            .iter_mut()
            .find(|s| s.environment == environment)
    }

    fn contains(&self, environment: &str) -> bool {
        !environment.is_empty()
            && (self.flow.spec.trigger_environment == environment
                || self
                    .flow
                    .spec
                    .steps
                    .iter()
                    .any(|s| s.environment == environment))
    }
}

#[derive(Clone, Debug)]
struct Entry {
    doc: Doc,
    label: String,
}

/// How far handles reach out of a node's box, in canvas units.
const HANDLE_REACH: f64 = 16.0;

/// How many changes undo reaches back.
const HISTORY: usize = 200;

/// A drag in progress: where it started, and the nodes it moves.
#[derive(Clone, Debug)]
struct Drag {
    before: Doc,
    origins: BTreeMap<String, (i64, i64)>,
}

/// The canvas: document, selection, history.
#[derive(Clone, Debug)]
pub struct Designer {
    doc: Doc,
    selection: BTreeSet<Item>,
    undo: VecDeque<Entry>,
    redo: Vec<Entry>,
    drag: Option<Drag>,
    /// Set while successive changes of one kind (typing in the YAML panel) should be
    /// undone together; any other change ends the run.
    coalescing: Option<&'static str>,
    /// Counts document changes, so observers can tell cheaply whether to redraw.
    version: u64,
}

impl Designer {
    pub fn new(doc: Doc) -> Self {
        Self {
            doc,
            selection: BTreeSet::new(),
            undo: VecDeque::new(),
            redo: Vec::new(),
            drag: None,
            coalescing: None,
            version: 0,
        }
    }

    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn flow(&self) -> &PromotionFlow {
        &self.doc.flow
    }

    pub fn nodes(&self) -> Vec<String> {
        nodes(&self.doc.flow)
    }

    pub fn edges(&self) -> Vec<Edge> {
        edges(&self.doc.flow)
    }

    pub fn position(&self, environment: &str) -> Option<(i64, i64)> {
        self.doc.layout.get(environment).copied()
    }

    pub fn positions(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.doc.layout.values().copied()
    }

    /// The trigger environment, once there is one.
    pub fn trigger(&self) -> Option<&str> {
        Some(self.doc.flow.spec.trigger_environment.as_str()).filter(|t| !t.is_empty())
    }

    pub fn step(&self, environment: &str) -> Option<&FlowStep> {
        self.doc
            .flow
            .spec
            .steps
            .iter()
            .find(|s| s.environment == environment)
    }

    // ---- selection -------------------------------------------------------------

    pub fn selection(&self) -> &BTreeSet<Item> {
        &self.selection
    }

    pub fn is_selected(&self, item: &Item) -> bool {
        self.selection.contains(item)
    }

    pub fn selected_nodes(&self) -> Vec<String> {
        self.selection
            .iter()
            .filter_map(|item| match item {
                Item::Node(name) => Some(name.clone()),
                Item::Edge(_) => None,
            })
            .collect()
    }

    /// Click selects only `item`; shift-click (`additive`) toggles it.
    pub fn select(&mut self, item: Item, additive: bool) {
        if additive {
            if !self.selection.remove(&item) {
                self.selection.insert(item);
            }
        } else {
            self.selection = BTreeSet::from([item]);
        }
    }

    pub fn clear_selection(&mut self) {
        self.selection.clear();
    }

    pub fn select_all(&mut self) {
        self.selection = self.nodes().into_iter().map(Item::Node).collect();
    }

    /// Selects the nodes a rubber band touches, adding to the selection when `additive`.
    pub fn select_in(&mut self, band: Rect, additive: bool) {
        if !additive {
            self.selection.clear();
        }
        for name in self.nodes() {
            if self
                .position(&name)
                .is_some_and(|p| band.intersects(&Rect::node(p)))
            {
                self.selection.insert(Item::Node(name));
            }
        }
    }

    /// The node whose box, handles included, holds a canvas point; topmost (last
    /// drawn) first. An edge dropped on a handle that sticks out of its node counts.
    pub fn node_at(&self, point: (f64, f64)) -> Option<String> {
        self.nodes().into_iter().rev().find(|name| {
            self.position(name).is_some_and(|p| {
                let mut area = Rect::node(p);
                area.x -= HANDLE_REACH;
                area.width += 2.0 * HANDLE_REACH;
                area.contains(point)
            })
        })
    }

    fn prune_selection(&mut self) {
        let nodes: BTreeSet<String> = self.nodes().into_iter().collect();
        let edges: BTreeSet<Edge> = self.edges().into_iter().collect();
        self.selection.retain(|item| match item {
            Item::Node(name) => nodes.contains(name),
            Item::Edge(edge) => edges.contains(edge),
        });
    }

    // ---- history ---------------------------------------------------------------

    /// Runs a change; records it when it changed the document.
    fn change<T>(
        &mut self,
        label: impl Into<String>,
        body: impl FnOnce(&mut Doc) -> Result<T, Refusal>,
    ) -> Result<T, Refusal> {
        let before = self.doc.clone();
        let result = body(&mut self.doc);
        match &result {
            Ok(_) if self.doc != before => self.record(before, label.into(), None),
            Ok(_) => {}
            Err(_) => self.doc = before,
        }
        result
    }

    fn record(&mut self, before: Doc, label: String, run: Option<&'static str>) {
        let continues = run.is_some() && run == self.coalescing && !self.undo.is_empty();
        if !continues {
            self.undo.push_back(Entry { doc: before, label });
            if self.undo.len() > HISTORY {
                self.undo.pop_front();
            }
        }
        self.redo.clear();
        self.coalescing = run;
        self.version += 1;
        self.prune_selection();
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Goes back one change; returns what was undone.
    pub fn undo(&mut self) -> Option<String> {
        self.finish_drag();
        let entry = self.undo.pop_back()?;
        let current = std::mem::replace(&mut self.doc, entry.doc);
        self.redo.push(Entry {
            doc: current,
            label: entry.label.clone(),
        });
        self.coalescing = None;
        self.version += 1;
        self.prune_selection();
        Some(entry.label)
    }

    /// Goes forward one undone change; returns what was redone.
    pub fn redo(&mut self) -> Option<String> {
        self.finish_drag();
        let entry = self.redo.pop()?;
        let current = std::mem::replace(&mut self.doc, entry.doc);
        self.undo.push_back(Entry {
            doc: current,
            label: entry.label.clone(),
        });
        self.coalescing = None;
        self.version += 1;
        self.prune_selection();
        Some(entry.label)
    }

    /// Replaces the whole document (the YAML was edited, or reverted). Successive
    /// replacements with the same `run` are undone as one.
    pub fn replace(&mut self, doc: Doc, label: &str, run: Option<&'static str>) {
        self.finish_drag();
        if doc == self.doc {
            return;
        }
        let before = std::mem::replace(&mut self.doc, doc);
        self.record(before, label.to_owned(), run);
    }

    // ---- editing ---------------------------------------------------------------

    /// Adds an environment: the first one becomes the trigger, later ones steps that
    /// depend on nothing yet. Without a drop point it goes to a free spot.
    pub fn add(&mut self, environment: &str, at: Option<(f64, f64)>) -> Result<String, Refusal> {
        self.finish_drag();
        let message = self.change(format!("add {environment}"), |doc| {
            if doc.contains(environment) {
                return Err(Refusal::AlreadyInFlow(environment.to_owned()));
            }
            let spec = &mut doc.flow.spec;
            let message = if spec.trigger_environment.is_empty() {
                spec.trigger_environment = environment.to_owned();
                format!("Added {environment} as the trigger environment")
            } else {
                spec.steps.push(FlowStep {
                    environment: environment.to_owned(),
                    ..FlowStep::default()
                });
                format!("Added {environment}; connect it to say what it waits for")
            };
            match at {
                Some((x, y)) => {
                    doc.layout
                        .insert(environment.to_owned(), (snap(x), snap(y)));
                }
                None => doc.layout = complete_layout(&doc.flow, &doc.layout),
            }
            Ok(message)
        })?;
        self.selection = BTreeSet::from([Item::Node(environment.to_owned())]);
        Ok(message)
    }

    /// Makes `to` depend on `from`, unless that breaks the flow.
    pub fn connect(&mut self, from: &str, to: &str) -> Result<String, Refusal> {
        self.finish_drag();
        let edge = Edge::new(from, to);
        self.change(format!("connect {edge}"), |doc| {
            for environment in [from, to] {
                if !doc.contains(environment) {
                    return Err(Refusal::NotInFlow(environment.to_owned()));
                }
            }
            if from == to {
                return Err(Refusal::SelfDependency(to.to_owned()));
            }
            if doc.flow.spec.trigger_environment == to {
                return Err(Refusal::IntoTrigger(to.to_owned()));
            }
            if let Some(path) = downstream_path(&doc.flow, to, from) {
                let mut ring = vec![from.to_owned()];
                ring.extend(path);
                return Err(Refusal::Cycle(ring));
            }
            let step = doc
                .step_mut(to)
                .ok_or_else(|| Refusal::NotInFlow(to.to_owned()))?;
            if step.depends_on.iter().any(|d| d == from) {
                return Err(Refusal::AlreadyConnected(edge.clone()));
            }
            step.depends_on.push(from.to_owned());
            Ok(format!("Connected {edge}: {to} now waits for {from}"))
        })
    }

    /// Removes one `dependsOn` entry.
    pub fn disconnect(&mut self, edge: &Edge) -> Result<String, Refusal> {
        self.finish_drag();
        self.change(format!("disconnect {edge}"), |doc| {
            let step = doc
                .step_mut(&edge.to)
                .ok_or_else(|| Refusal::NotInFlow(edge.to.clone()))?;
            step.depends_on.retain(|d| *d != edge.from);
            Ok(format!("Removed the connection {edge}"))
        })
    }

    /// Deletes the selected nodes (with their edges) and edges. `None` when nothing
    /// is selected.
    pub fn delete_selection(&mut self) -> Option<String> {
        self.finish_drag();
        let nodes = self.selected_nodes();
        let edges: Vec<Edge> = self
            .selection
            .iter()
            .filter_map(|item| match item {
                Item::Edge(edge) => Some(edge.clone()),
                Item::Node(_) => None,
            })
            .collect();
        if nodes.is_empty() && edges.is_empty() {
            return None;
        }
        let label = describe_deletion(&nodes, &edges);
        let result = self.change(format!("delete {label}"), |doc| {
            for edge in &edges {
                if let Some(step) = doc.step_mut(&edge.to) {
                    step.depends_on.retain(|d| *d != edge.from);
                }
            }
            let spec = &mut doc.flow.spec;
            for name in &nodes {
                if spec.trigger_environment == *name {
                    spec.trigger_environment.clear();
                }
                spec.steps.retain(|s| s.environment != *name);
                for step in &mut spec.steps {
                    step.depends_on.retain(|d| d != name);
                }
                doc.layout.remove(name);
            }
            Ok(())
        });
        self.selection.clear();
        result.ok().map(|()| format!("Deleted {label}"))
    }

    /// Makes a node the trigger. The former trigger stays, as a step that depends on
    /// nothing (and is flagged until connected); the new trigger's own dependencies go,
    /// because a trigger waits for nothing.
    pub fn make_trigger(&mut self, environment: &str) -> Result<String, Refusal> {
        self.finish_drag();
        self.change(format!("make {environment} the trigger"), |doc| {
            if !doc.contains(environment) {
                return Err(Refusal::NotInFlow(environment.to_owned()));
            }
            let spec = &mut doc.flow.spec;
            let former = std::mem::replace(&mut spec.trigger_environment, environment.to_owned());
            let position = spec.steps.iter().position(|s| s.environment == environment);
            if let Some(index) = position {
                spec.steps.remove(index);
            }
            if !former.is_empty() && former != environment {
                spec.steps.insert(
                    position.unwrap_or(0),
                    FlowStep {
                        environment: former,
                        ..FlowStep::default()
                    },
                );
            }
            Ok(format!("{environment} is now the trigger environment"))
        })
    }

    /// Moves the selected nodes by a grid-aligned offset (arrow keys).
    pub fn nudge(&mut self, dx: i64, dy: i64) -> Option<String> {
        self.finish_drag();
        let nodes = self.selected_nodes();
        if nodes.is_empty() {
            return None;
        }
        let result = self.change(format!("move {}", nodes.join(", ")), |doc| {
            for name in &nodes {
                if let Some(p) = doc.layout.get_mut(name) {
                    *p = (p.0.saturating_add(dx), p.1.saturating_add(dy));
                }
            }
            Ok(())
        });
        let where_to = match nodes.as_slice() {
            [one] => self
                .position(one)
                .map(|(x, y)| format!("Moved {one} to {x}, {y}")),
            _ => Some(format!("Moved {} nodes", nodes.len())),
        };
        result.ok().and(where_to)
    }

    /// Starts dragging the selection (a pointer went down on a selected node).
    pub fn begin_drag(&mut self) {
        self.finish_drag();
        let origins = self
            .selected_nodes()
            .into_iter()
            .filter_map(|name| self.position(&name).map(|p| (name, p)))
            .collect();
        self.drag = Some(Drag {
            before: self.doc.clone(),
            origins,
        });
    }

    pub fn is_dragging(&self) -> bool {
        self.drag.is_some()
    }

    /// Moves the dragged nodes to their start plus an offset in canvas units, snapped.
    pub fn drag_by(&mut self, dx: f64, dy: f64) {
        let Some(drag) = &self.drag else { return };
        for (name, origin) in &drag.origins {
            let to = (snap(origin.0 as f64 + dx), snap(origin.1 as f64 + dy));
            if let Some(position) = self.doc.layout.get_mut(name) {
                if *position != to {
                    *position = to;
                    self.version += 1;
                }
            }
        }
    }

    /// Ends the gesture: the whole drag becomes one history entry.
    pub fn end_drag(&mut self) -> Option<String> {
        let drag = self.drag.take()?;
        if self.doc == drag.before {
            return None;
        }
        let names: Vec<&String> = drag.origins.keys().collect();
        let message = match names.as_slice() {
            [one] => {
                let (x, y) = self.position(one).unwrap_or_default();
                format!("Moved {one} to {x}, {y}")
            }
            _ => format!("Moved {} nodes", names.len()),
        };
        let label = format!(
            "move {}",
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.record(drag.before, label, None);
        Some(message)
    }

    /// Abandons the gesture (Escape), putting the nodes back.
    pub fn cancel_drag(&mut self) {
        if let Some(drag) = self.drag.take() {
            self.doc = drag.before;
            self.version += 1;
        }
    }

    /// Any other change during a drag first ends the drag, so its moves are never
    /// mixed into another history entry.
    fn finish_drag(&mut self) {
        self.end_drag();
    }

    /// Renames the flow; successive keystrokes are undone together.
    pub fn rename(&mut self, name: &str) {
        self.finish_drag();
        if self.doc.flow.metadata.name == name {
            return;
        }
        let before = self.doc.clone();
        name.clone_into(&mut self.doc.flow.metadata.name);
        self.record(before, "rename the flow".into(), Some("rename"));
    }

    /// Arranges every node in layers from left to right.
    pub fn auto_layout(&mut self) -> String {
        self.finish_drag();
        // The closure never refuses.
        let _ = self.change("auto-layout", |doc| {
            doc.layout = auto_layout(&doc.flow);
            Ok(())
        });
        "Arranged the flow from left to right".to_owned()
    }

    /// Changes a step's inline policy; an inline policy left empty is removed.
    pub fn edit_policy(
        &mut self,
        environment: &str,
        label: &str,
        edit: impl FnOnce(&mut PolicyRules),
    ) -> Result<String, Refusal> {
        self.finish_drag();
        self.change(format!("{label} for {environment}"), |doc| {
            let step = doc
                .step_mut(environment)
                .ok_or_else(|| Refusal::NotInFlow(environment.to_owned()))?;
            let mut rules = step.policy.take().unwrap_or_default();
            edit(&mut rules);
            step.policy = Some(rules).filter(|r| *r != PolicyRules::default());
            Ok(format!("Changed the policy of {environment}: {label}"))
        })
    }

    /// The action list at `at`; `None` when a step inherits it from the policies.
    pub fn actions(&self, at: &ActionsAt) -> Option<&Vec<Action>> {
        let hooks = &self.doc.flow.spec.hooks;
        match at {
            ActionsAt::Gates(step) => self.step(step)?.policy.as_ref()?.gates.as_ref(),
            ActionsAt::Verify(step) => self.step(step)?.policy.as_ref()?.verify.as_ref(),
            ActionsAt::OnSuccess => Some(&hooks.on_success),
            ActionsAt::OnFailure => Some(&hooks.on_failure),
        }
    }

    /// Changes the action list at `at`; `None` after `edit` makes a step inherit the
    /// list and empties a hook list.
    pub fn edit_actions(
        &mut self,
        at: &ActionsAt,
        label: &str,
        edit: impl FnOnce(&mut Option<Vec<Action>>),
    ) -> Result<String, Refusal> {
        let pick: fn(&mut Hooks) -> &mut Vec<Action> = match at {
            ActionsAt::Gates(step) => return self.edit_policy(step, label, |r| edit(&mut r.gates)),
            ActionsAt::Verify(step) => {
                return self.edit_policy(step, label, |r| edit(&mut r.verify))
            }
            ActionsAt::OnSuccess => |hooks| &mut hooks.on_success,
            ActionsAt::OnFailure => |hooks| &mut hooks.on_failure,
        };
        self.finish_drag();
        self.change(format!("{label} in the hooks"), |doc| {
            let list = pick(&mut doc.flow.spec.hooks);
            let mut items = Some(std::mem::take(list));
            edit(&mut items);
            *list = items.unwrap_or_default();
            Ok(format!("Changed the flow's hooks: {label}"))
        })
    }
}

/// An action list the inspector edits: a step's gates or verification, or one of the
/// flow's hooks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionsAt {
    Gates(String),
    Verify(String),
    OnSuccess,
    OnFailure,
}

impl ActionsAt {
    /// Which kind of list it is, for the kinds it accepts and its YAML name.
    pub fn list(&self) -> ActionList {
        match self {
            Self::Gates(_) => ActionList::Gates,
            Self::Verify(_) => ActionList::Verify,
            Self::OnSuccess => ActionList::OnSuccess,
            Self::OnFailure => ActionList::OnFailure,
        }
    }
}

/// A path of `dependsOn` edges from `start` forward to `goal`, both included.
fn downstream_path(flow: &PromotionFlow, start: &str, goal: &str) -> Option<Vec<String>> {
    let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    for step in &flow.spec.steps {
        for dependency in &step.depends_on {
            dependents
                .entry(dependency.as_str())
                .or_default()
                .push(step.environment.as_str());
        }
    }
    let mut came_from: HashMap<&str, &str> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    let mut seen = BTreeSet::from([start]);
    while let Some(node) = queue.pop_front() {
        if node == goal {
            let mut path = vec![node.to_owned()];
            let mut at = node;
            while let Some(&previous) = came_from.get(at) {
                path.push(previous.to_owned());
                at = previous;
            }
            path.reverse();
            return Some(path);
        }
        for &next in dependents.get(node).into_iter().flatten() {
            if seen.insert(next) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

fn describe_deletion(nodes: &[String], edges: &[Edge]) -> String {
    let mut parts = Vec::new();
    if !nodes.is_empty() {
        parts.push(nodes.join(", "));
    }
    match edges {
        [] => {}
        [one] => parts.push(format!("the connection {one}")),
        many => parts.push(format!("{} connections", many.len())),
    }
    parts.join(" and ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use promenade_model::resources::PromotionAction;

    /// A flow from `(environment, dependsOn)` pairs.
    pub(crate) fn flow(trigger: &str, steps: &[(&str, &[&str])]) -> PromotionFlow {
        let mut doc = Doc::empty("standard");
        doc.flow.spec.trigger_environment = trigger.into();
        doc.flow.spec.steps = steps
            .iter()
            .map(|(environment, depends_on)| FlowStep {
                environment: (*environment).into(),
                depends_on: depends_on.iter().map(|d| (*d).into()).collect(),
                policy: None,
            })
            .collect();
        doc.flow
    }

    fn designer(trigger: &str, steps: &[(&str, &[&str])]) -> Designer {
        Designer::new(Doc::from_flow(flow(trigger, steps)))
    }

    fn depends_on(designer: &Designer, environment: &str) -> Vec<String> {
        designer.step(environment).unwrap().depends_on.clone()
    }

    #[test]
    fn the_first_environment_is_the_trigger_and_later_ones_are_steps() {
        let mut d = Designer::new(Doc::empty("standard"));
        assert_eq!(
            d.add("dev", Some((13.0, -9.0))).unwrap(),
            "Added dev as the trigger environment"
        );
        assert_eq!(d.trigger(), Some("dev"));
        assert_eq!(d.position("dev"), Some((20, 0)));
        d.add("qa", None).unwrap();
        assert_eq!(d.flow().spec.steps.len(), 1);
        assert_eq!(d.position("qa"), Some((300, 0)));
        assert_eq!(d.selection(), &BTreeSet::from([Item::Node("qa".into())]));
        assert_eq!(d.nodes(), ["dev", "qa"]);
    }

    #[test]
    fn duplicate_environments_are_refused() {
        let mut d = designer("dev", &[("qa", &["dev"])]);
        assert_eq!(d.add("qa", None), Err(Refusal::AlreadyInFlow("qa".into())));
        assert_eq!(
            d.add("dev", None),
            Err(Refusal::AlreadyInFlow("dev".into()))
        );
        assert!(!d.can_undo());
    }

    #[test]
    fn connecting_adds_depends_on_and_refuses_what_breaks_the_flow() {
        let mut d = designer(
            "dev",
            &[
                ("qa", &["dev"]),
                ("staging", &["qa"]),
                ("prod", &["staging"]),
            ],
        );
        d.add("hotfix", None).unwrap();
        d.connect("dev", "hotfix").unwrap();
        assert_eq!(depends_on(&d, "hotfix"), ["dev"]);

        let refused = d.connect("prod", "qa").unwrap_err();
        assert_eq!(
            refused,
            Refusal::Cycle(vec![
                "prod".into(),
                "qa".into(),
                "staging".into(),
                "prod".into()
            ])
        );
        assert_eq!(
            refused.to_string(),
            "that connection would create a cycle: prod → qa → staging → prod"
        );
        assert_eq!(depends_on(&d, "qa"), ["dev"]);
        assert_eq!(
            d.connect("qa", "qa"),
            Err(Refusal::SelfDependency("qa".into()))
        );
        assert_eq!(
            d.connect("qa", "dev"),
            Err(Refusal::IntoTrigger("dev".into()))
        );
        assert_eq!(
            d.connect("dev", "qa"),
            Err(Refusal::AlreadyConnected(Edge::new("dev", "qa")))
        );
        assert_eq!(
            d.connect("dev", "nowhere"),
            Err(Refusal::NotInFlow("nowhere".into()))
        );
        // Only the two successful changes are in the history.
        assert_eq!(d.undo().as_deref(), Some("connect dev → hotfix"));
        assert_eq!(d.undo().as_deref(), Some("add hotfix"));
        assert!(!d.can_undo());
    }

    #[test]
    fn parallel_branches_and_joins_are_allowed() {
        let mut d = designer("dev", &[("qa", &["dev"])]);
        for env in ["staging-eu", "staging-us", "prod"] {
            d.add(env, None).unwrap();
        }
        d.connect("qa", "staging-eu").unwrap();
        d.connect("qa", "staging-us").unwrap();
        d.connect("staging-eu", "prod").unwrap();
        d.connect("staging-us", "prod").unwrap();
        assert_eq!(depends_on(&d, "prod"), ["staging-eu", "staging-us"]);
        assert_eq!(d.edges().len(), 5);
    }

    #[test]
    fn deleting_a_node_removes_its_edges_and_deleting_an_edge_keeps_nodes() {
        let mut d = designer(
            "dev",
            &[
                ("qa", &["dev"]),
                ("staging", &["qa"]),
                ("prod", &["staging", "qa"]),
            ],
        );
        d.select(Item::Node("staging".into()), false);
        assert_eq!(d.delete_selection().as_deref(), Some("Deleted staging"));
        assert_eq!(d.nodes(), ["dev", "qa", "prod"]);
        assert_eq!(depends_on(&d, "prod"), ["qa"]);
        assert_eq!(d.position("staging"), None);
        assert!(d.selection().is_empty());

        d.select(Item::Edge(Edge::new("dev", "qa")), false);
        assert_eq!(
            d.delete_selection().as_deref(),
            Some("Deleted the connection dev → qa")
        );
        assert!(depends_on(&d, "qa").is_empty());
        assert_eq!(d.delete_selection(), None);

        d.select(Item::Node("dev".into()), false);
        d.delete_selection();
        assert_eq!(d.trigger(), None);
        assert_eq!(d.nodes(), ["qa", "prod"]);
    }

    #[test]
    fn selection_by_click_shift_click_and_rubber_band() {
        let mut d = designer("dev", &[("qa", &["dev"]), ("prod", &["qa"])]);
        d.select(Item::Node("dev".into()), false);
        d.select(Item::Node("qa".into()), true);
        assert_eq!(d.selected_nodes(), ["dev", "qa"]);
        d.select(Item::Node("dev".into()), true);
        assert_eq!(d.selected_nodes(), ["qa"]);
        // Auto-layout put them at x = 0, 280, 560; a band over the last two.
        d.select_in(Rect::spanning((300.0, 10.0), (600.0, 20.0)), false);
        assert_eq!(d.selected_nodes(), ["prod", "qa"]);
        d.select_in(Rect::spanning((0.0, 0.0), (10.0, 10.0)), true);
        assert_eq!(d.selected_nodes().len(), 3);
        assert_eq!(d.node_at((290.0, 40.0)).as_deref(), Some("qa"));
        assert_eq!(d.node_at((270.0, 40.0)).as_deref(), Some("qa"));
        assert_eq!(d.node_at((240.0, 40.0)), None);
        d.clear_selection();
        d.select_all();
        assert_eq!(d.selected_nodes().len(), 3);
    }

    #[test]
    fn a_drag_is_one_undoable_gesture() {
        let mut d = designer("dev", &[("qa", &["dev"])]);
        d.select(Item::Node("dev".into()), false);
        d.select(Item::Node("qa".into()), true);
        d.begin_drag();
        for step in 1..=30 {
            d.drag_by(step as f64 * 3.3, step as f64 * 1.1);
        }
        assert!(d.is_dragging());
        assert_eq!(d.end_drag().as_deref(), Some("Moved 2 nodes"));
        assert_eq!(d.position("dev"), Some((100, 40)));
        assert_eq!(d.position("qa"), Some((380, 40)));
        assert_eq!(d.undo().as_deref(), Some("move dev, qa"));
        assert_eq!(d.position("dev"), Some((0, 0)));
        assert!(!d.can_undo());
        assert_eq!(d.redo().as_deref(), Some("move dev, qa"));
        assert_eq!(d.position("qa"), Some((380, 40)));

        // A click without movement leaves no history entry.
        d.begin_drag();
        assert_eq!(d.end_drag(), None);
        assert!(!d.can_redo() && d.undo().is_some() && d.undo().is_none());

        d.begin_drag();
        d.drag_by(500.0, 0.0);
        d.cancel_drag();
        assert_eq!(d.position("dev"), Some((0, 0)));
    }

    #[test]
    fn arrow_keys_nudge_and_announce_where_to() {
        let mut d = designer("dev", &[]);
        assert_eq!(d.nudge(20, 0), None);
        d.select(Item::Node("dev".into()), false);
        assert_eq!(d.nudge(100, -20).as_deref(), Some("Moved dev to 100, -20"));
        d.undo();
        assert_eq!(d.position("dev"), Some((0, 0)));
    }

    #[test]
    fn undo_and_redo_walk_through_changes_and_a_new_change_drops_redo() {
        let mut d = Designer::new(Doc::empty("f"));
        d.add("dev", None).unwrap();
        d.add("qa", None).unwrap();
        d.connect("dev", "qa").unwrap();
        assert_eq!(d.undo().as_deref(), Some("connect dev → qa"));
        assert_eq!(d.undo().as_deref(), Some("add qa"));
        assert_eq!(d.nodes(), ["dev"]);
        assert_eq!(d.redo().as_deref(), Some("add qa"));
        assert_eq!(d.nodes(), ["dev", "qa"]);
        assert!(depends_on(&d, "qa").is_empty());
        d.add("prod", None).unwrap();
        assert!(!d.can_redo());
        assert_eq!(d.redo(), None);
    }

    #[test]
    fn undo_drops_a_selection_of_what_no_longer_exists() {
        let mut d = Designer::new(Doc::empty("f"));
        d.add("dev", None).unwrap();
        assert!(d.is_selected(&Item::Node("dev".into())));
        d.undo();
        assert!(d.selection().is_empty());
    }

    #[test]
    fn successive_yaml_edits_undo_together() {
        let mut d = designer("dev", &[]);
        let mut one = d.doc().clone();
        one.flow.metadata.labels.insert("team".into(), "a".into());
        d.replace(one.clone(), "edit the YAML", Some("yaml"));
        one.flow.metadata.labels.insert("team".into(), "ab".into());
        d.replace(one, "edit the YAML", Some("yaml"));
        d.add("qa", None).unwrap();
        let mut two = d.doc().clone();
        two.flow.metadata.labels.clear();
        d.replace(two, "edit the YAML", Some("yaml"));
        assert_eq!(d.undo().as_deref(), Some("edit the YAML"));
        assert_eq!(d.undo().as_deref(), Some("add qa"));
        assert_eq!(d.undo().as_deref(), Some("edit the YAML"));
        assert!(d.flow().metadata.labels.is_empty());
        assert!(!d.can_undo());
    }

    #[test]
    fn renaming_while_typing_is_one_change() {
        let mut d = designer("dev", &[]);
        for name in ["s", "st", "sta"] {
            d.rename(name);
        }
        assert_eq!(d.flow().metadata.name, "sta");
        assert_eq!(d.undo().as_deref(), Some("rename the flow"));
        assert_eq!(d.flow().metadata.name, "standard");
        assert!(!d.can_undo());
    }

    #[test]
    fn history_is_bounded() {
        let mut d = designer("dev", &[]);
        d.select(Item::Node("dev".into()), false);
        for _ in 0..HISTORY + 50 {
            d.nudge(20, 0);
        }
        let mut undone = 0;
        while d.undo().is_some() {
            undone += 1;
        }
        assert_eq!(undone, HISTORY);
    }

    #[test]
    fn auto_layout_is_undoable() {
        let mut d = designer("dev", &[("qa", &["dev"])]);
        d.select(Item::Node("qa".into()), false);
        d.nudge(0, 400);
        d.auto_layout();
        assert_eq!(d.position("qa"), Some((280, 0)));
        assert_eq!(d.undo().as_deref(), Some("auto-layout"));
        assert_eq!(d.position("qa"), Some((280, 400)));
    }

    #[test]
    fn making_a_step_the_trigger_keeps_the_former_trigger_as_a_step() {
        let mut d = designer("qa", &[("dev", &["qa"]), ("prod", &["dev"])]);
        d.make_trigger("dev").unwrap();
        assert_eq!(d.trigger(), Some("dev"));
        assert_eq!(d.nodes(), ["dev", "qa", "prod"]);
        assert!(depends_on(&d, "qa").is_empty());
        assert_eq!(depends_on(&d, "prod"), ["dev"]);
        d.connect("dev", "qa").unwrap();
    }

    #[test]
    fn inline_policies_are_edited_and_removed_when_empty() {
        let mut d = designer("dev", &[("prod", &["dev"])]);
        d.edit_policy("prod", "action pr", |r| {
            r.action = Some(PromotionAction::Pr)
        })
        .unwrap();
        assert_eq!(
            d.step("prod").unwrap().policy.as_ref().unwrap().action,
            Some(PromotionAction::Pr)
        );
        d.edit_policy("prod", "inherit the action", |r| r.action = None)
            .unwrap();
        assert_eq!(d.step("prod").unwrap().policy, None);
        assert_eq!(
            d.edit_policy("dev", "x", |_| {}),
            Err(Refusal::NotInFlow("dev".into()))
        );
    }

    #[test]
    fn action_lists_of_steps_and_hooks_are_edited_and_undone_as_one_change() {
        let mut d = designer("dev", &[("prod", &["dev"])]);
        let notify: Action =
            serde_json::from_value(serde_json::json!({"http": {"url": "https://hooks.example"}}))
                .unwrap();
        let add = |items: &mut Option<Vec<Action>>| {
            items.get_or_insert_with(Vec::new).push(notify.clone())
        };
        let message = d
            .edit_actions(&ActionsAt::OnFailure, "add a http to onFailure", add)
            .unwrap();
        assert_eq!(message, "Changed the flow's hooks: add a http to onFailure");
        assert_eq!(
            d.actions(&ActionsAt::OnFailure),
            Some(&vec![notify.clone()])
        );
        assert_eq!(d.actions(&ActionsAt::OnSuccess), Some(&vec![]));
        assert_eq!(
            d.undo().as_deref(),
            Some("add a http to onFailure in the hooks")
        );
        assert_eq!(d.flow().spec.hooks, Hooks::default());

        let gates = ActionsAt::Gates("prod".into());
        assert_eq!(d.actions(&gates), None, "inherited");
        d.edit_actions(&gates, "add a http to gates", add).unwrap();
        assert_eq!(d.actions(&gates).map(Vec::len), Some(1));
        d.edit_actions(&gates, "inherit gates", |items| *items = None)
            .unwrap();
        assert_eq!(d.step("prod").unwrap().policy, None);
        assert_eq!(
            d.edit_actions(&ActionsAt::Verify("dev".into()), "x", add),
            Err(Refusal::NotInFlow("dev".into()))
        );
    }

    #[test]
    fn duplicated_steps_and_unknown_dependencies_are_drawn_once_or_not_at_all() {
        let f = flow("dev", &[("qa", &["dev", "ghost"]), ("qa", &["dev"])]);
        assert_eq!(nodes(&f), ["dev", "qa"]);
        assert_eq!(edges(&f), [Edge::new("dev", "qa")]);
    }

    #[test]
    fn the_layout_annotation_follows_the_positions() {
        let mut d = designer("dev", &[("qa", &["dev"])]);
        d.select(Item::Node("qa".into()), false);
        d.nudge(0, 40);
        assert_eq!(
            d.doc().to_flow().metadata.annotations["promenade.dev/layout"],
            r#"{"dev":[0,0],"qa":[280,40]}"#
        );
    }
}
