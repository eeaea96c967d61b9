//! Where nodes go: the layered left-to-right auto-layout, and places for nodes that
//! have none yet (added from the keyboard or written into the YAML by hand).

use std::collections::HashMap;

use promenade_model::layout::Layout;
use promenade_model::resources::PromotionFlow;

use super::geometry::{Rect, COLUMN, GRID, NODE_HEIGHT, ROW};
use super::state::{edges, nodes};

/// Node indexes and, per node, the indexes of the nodes it depends on.
fn dependency_lists(flow: &PromotionFlow) -> (Vec<String>, Vec<Vec<usize>>) {
    let names = nodes(flow);
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i))
        .collect();
    let mut dependencies = vec![Vec::new(); names.len()];
    for edge in edges(flow) {
        if let (Some(&from), Some(&to)) =
            (index.get(edge.from.as_str()), index.get(edge.to.as_str()))
        {
            dependencies[to].push(from);
        }
    }
    (names, dependencies)
}

/// The column of every node: the length of its longest chain of dependencies. It
/// must also work on flows that are not valid yet, so nodes caught in a cycle are put
/// one column after the dependencies that could be placed.
fn columns(dependencies: &[Vec<usize>]) -> Vec<usize> {
    let count = dependencies.len();
    let mut dependents = vec![Vec::new(); count];
    for (node, list) in dependencies.iter().enumerate() {
        for &upstream in list {
            dependents[upstream].push(node);
        }
    }
    let mut waiting: Vec<usize> = dependencies.iter().map(Vec::len).collect();
    let mut column: Vec<Option<usize>> = vec![None; count];
    let mut queue: Vec<usize> = (0..count).filter(|&n| waiting[n] == 0).collect();
    for &root in &queue {
        column[root] = Some(0);
    }
    let mut next = 0;
    while next < queue.len() {
        let node = queue[next];
        next += 1;
        let level = column[node].unwrap_or(0);
        for &dependent in &dependents[node] {
            column[dependent] = Some(column[dependent].map_or(level + 1, |c| c.max(level + 1)));
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                queue.push(dependent);
            }
        }
    }
    let mut done: Vec<bool> = waiting.iter().map(|&w| w == 0).collect();
    for node in 0..count {
        if !done[node] {
            let placed = dependencies[node]
                .iter()
                .filter_map(|&d| if done[d] { column[d] } else { None })
                .max();
            column[node] = Some(placed.map_or(0, |c| c + 1));
            done[node] = true;
        }
    }
    column.into_iter().map(|c| c.unwrap_or(0)).collect()
}

/// Positions for every node: columns by dependency depth from left to right, each
/// column centred on the trigger's row, nodes ordered within a column by the average
/// row of what they depend on so edges cross as little as a few sweeps allow.
pub fn auto_layout(flow: &PromotionFlow) -> Layout {
    let (names, dependencies) = dependency_lists(flow);
    let column = columns(&dependencies);
    let width = column.iter().max().map_or(0, |m| m + 1);
    let mut stacks: Vec<Vec<usize>> = vec![Vec::new(); width];
    for (node, &c) in column.iter().enumerate() {
        stacks[c].push(node);
    }
    let mut row = vec![0.0_f64; names.len()];
    let place_rows = |stacks: &[Vec<usize>], row: &mut [f64]| {
        for stack in stacks {
            for (i, &node) in stack.iter().enumerate() {
                row[node] = i as f64 - (stack.len() as f64 - 1.0) / 2.0;
            }
        }
    };
    place_rows(&stacks, &mut row);
    for _ in 0..4 {
        for stack in stacks.iter_mut().skip(1) {
            let key = |node: usize| -> f64 {
                let list = &dependencies[node];
                if list.is_empty() {
                    row[node]
                } else {
                    list.iter().map(|&d| row[d]).sum::<f64>() / list.len() as f64
                }
            };
            let mut keyed: Vec<(f64, usize, usize)> = stack
                .iter()
                .enumerate()
                .map(|(position, &node)| (key(node), position, node))
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            *stack = keyed.into_iter().map(|(_, _, node)| node).collect();
            for (i, &node) in stack.iter().enumerate() {
                row[node] = i as f64 - (stack.len() as f64 - 1.0) / 2.0;
            }
        }
    }
    place_rows(&stacks, &mut row);
    names
        .iter()
        .enumerate()
        .map(|(node, name)| {
            let x = column[node] as i64 * COLUMN;
            // Half rows land on the grid because ROW is an even multiple of GRID.
            let y = (row[node] * ROW as f64).round() as i64 / GRID * GRID;
            (name.clone(), (x, y))
        })
        .collect()
}

/// The first free spot at `x`, starting at `y` and searching alternately below and
/// above one row at a time.
fn free_spot(layout: &Layout, x: i64, y: i64) -> (i64, i64) {
    let taken = |candidate: (i64, i64)| {
        let mut area = Rect::node(candidate);
        // A little air between nodes keeps edges and handles apart.
        area.y -= (ROW - NODE_HEIGHT) as f64 / 2.0;
        area.height += (ROW - NODE_HEIGHT) as f64;
        layout.values().any(|&p| area.intersects(&Rect::node(p)))
    };
    for step in 0..1000_i64 {
        let offset = if step % 2 == 1 {
            step / 2 + 1
        } else {
            -(step / 2)
        };
        let candidate = (x, y + offset * ROW);
        if !taken(candidate) {
            return candidate;
        }
    }
    (x, y)
}

/// `layout` plus a position for every node of `flow` that has none, dropping positions
/// of environments that are no longer in the flow.
pub fn complete_layout(flow: &PromotionFlow, layout: &Layout) -> Layout {
    let (names, dependencies) = dependency_lists(flow);
    let mut complete: Layout = names
        .iter()
        .filter_map(|name| layout.get(name).map(|&p| (name.clone(), p)))
        .collect();
    for (node, name) in names.iter().enumerate() {
        if complete.contains_key(name) {
            continue;
        }
        let placed_upstream: Vec<(i64, i64)> = dependencies[node]
            .iter()
            .filter_map(|&d| complete.get(&names[d]).copied())
            .collect();
        let spot = match placed_upstream.first() {
            Some(&(_, y)) => {
                let x = placed_upstream.iter().map(|p| p.0).max().unwrap_or(0) + COLUMN;
                free_spot(&complete, x, y)
            }
            None => match complete.values().map(|p| p.0).max() {
                Some(right) => free_spot(&complete, right + COLUMN, 0),
                None => (0, 0),
            },
        };
        complete.insert(name.clone(), spot);
    }
    complete
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::designer::state::tests::flow;

    fn design_flow() -> PromotionFlow {
        flow(
            "dev",
            &[
                ("qa", &["dev"]),
                ("staging-eu", &["qa"]),
                ("staging-us", &["qa"]),
                ("prod", &["staging-eu", "staging-us"]),
            ],
        )
    }

    #[test]
    fn layers_run_left_to_right_and_centre_parallel_branches() {
        let layout = auto_layout(&design_flow());
        assert_eq!(
            layout,
            Layout::from([
                ("dev".into(), (0, 0)),
                ("qa".into(), (280, 0)),
                ("staging-eu".into(), (560, -60)),
                ("staging-us".into(), (560, 60)),
                ("prod".into(), (840, 0)),
            ])
        );
    }

    #[test]
    fn rows_follow_their_dependencies_to_avoid_crossings() {
        // Written in an order that crosses: b1 depends on the lower a, b2 on the upper.
        let crossing = flow(
            "dev",
            &[
                ("a-top", &["dev"]),
                ("a-bottom", &["dev"]),
                ("b-first", &["a-bottom"]),
                ("b-second", &["a-top"]),
            ],
        );
        let layout = auto_layout(&crossing);
        assert!(layout["b-second"].1 < layout["b-first"].1);
        assert_eq!(layout["b-second"].1, layout["a-top"].1);
    }

    #[test]
    fn cycles_and_unreachable_steps_still_get_places() {
        let broken = flow(
            "dev",
            &[
                ("qa", &["dev", "staging"]),
                ("staging", &["qa"]),
                ("lost", &[]),
            ],
        );
        let layout = auto_layout(&broken);
        assert_eq!(layout.len(), 4);
        assert_eq!(layout["dev"].0, 0);
        assert_eq!(layout["lost"].0, 0);
        assert!(layout["staging"].0 > layout["qa"].0);
        let distinct: std::collections::BTreeSet<_> = layout.values().collect();
        assert_eq!(distinct.len(), 4);
    }

    #[test]
    fn missing_positions_go_after_their_dependencies_without_overlap() {
        let flow = design_flow();
        let partial = Layout::from([("dev".into(), (0, 0)), ("qa".into(), (280, 0))]);
        let complete = complete_layout(&flow, &partial);
        assert_eq!(complete["dev"], (0, 0));
        assert_eq!(complete["staging-eu"], (560, 0));
        assert_eq!(complete["staging-us"], (560, 120));
        assert_eq!(complete["prod"], (840, 0));

        let stale = Layout::from([("gone".into(), (0, 0))]);
        let fresh = complete_layout(&flow, &stale);
        assert!(!fresh.contains_key("gone"));
        assert_eq!(fresh["dev"], (0, 0));
    }

    #[test]
    fn unconnected_nodes_go_right_of_everything() {
        let flow = flow("dev", &[("qa", &[])]);
        let complete = complete_layout(&flow, &Layout::from([("dev".into(), (40, 200))]));
        assert_eq!(complete["qa"], (320, 0));
    }
}
