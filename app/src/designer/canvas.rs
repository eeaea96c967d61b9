//! The canvas: nodes and edges under one pan/zoom transform, pointer gestures (drag,
//! connect, pan, rubber band), wheel zoom, the minimap and the zoom buttons. Keyboard
//! equivalents live on the nodes and the canvas itself.

use leptos::ev::{KeyboardEvent, PointerEvent, WheelEvent};
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use promenade_model::resources::{EnvironmentKind, PromotionAction};

use super::check::node_facts;
use super::dom;
use super::geometry::{
    edge_path, input_handle, output_handle, Minimap, Rect, Viewport, GRID, NODE_HEIGHT, NODE_WIDTH,
};
use super::page::Ui;
use super::state::{Designer, Edge, Item};

/// A pointer gesture in progress.
#[derive(Clone, Debug)]
enum Gesture {
    Pan {
        start: (f64, f64),
        view: Viewport,
        moved: bool,
    },
    Drag {
        start: (f64, f64),
        zoom: f64,
        nodes: Vec<String>,
    },
    Band {
        start: (f64, f64),
        additive: bool,
    },
    Wire {
        from: String,
    },
}

/// A pointer that moved this little between down and up was a click.
const CLICK_SLOP: f64 = 3.0;

/// How far the edge layer reaches beyond the outermost nodes, in canvas units.
const EDGE_MARGIN: f64 = 400.0;

/// Pans by this many pixels per arrow key on the canvas (five times with Shift).
const PAN_STEP: f64 = 40.0;

#[component]
pub(super) fn Canvas(ui: Ui) -> impl IntoView {
    let gesture = StoredValue::new(None::<Gesture>);
    // Pointer moves are applied once per animation frame, whatever the event rate.
    let pending = StoredValue::new(None::<(f64, f64)>);
    let frame_requested = StoredValue::new(false);
    let space_held = RwSignal::new(false);
    let band = RwSignal::new(None::<Rect>);
    let wire = RwSignal::new(None::<((f64, f64), (f64, f64))>);
    let wire_target = RwSignal::new(None::<String>);

    let (nodes, edges) = (ui.view.nodes, ui.view.edges);
    // The edge layer covers every node with room to spare: browsers do not hit-test
    // what an SVG draws outside its box, and edges must be clickable.
    let edge_area = Memo::new(move |_| {
        ui.view.layout.with(|_| ());
        ui.view.dragging.with_value(|t| t.track());
        let around = ui
            .editor
            .with_untracked(|e| Rect::around_nodes(e.designer().positions()))
            .unwrap_or(Rect {
                x: 0.0,
                y: 0.0,
                width: 0.0,
                height: 0.0,
            });
        Rect {
            x: around.x - EDGE_MARGIN,
            y: around.y - EDGE_MARGIN,
            width: around.width + 2.0 * EDGE_MARGIN,
            height: around.height + 2.0 * EDGE_MARGIN,
        }
    });

    let screen_point = move |ev: &PointerEvent| -> (f64, f64) {
        let origin = ui
            .canvas
            .get_untracked()
            .map(|root| dom::origin(&root))
            .unwrap_or_default();
        (
            f64::from(ev.client_x()) - origin.0,
            f64::from(ev.client_y()) - origin.1,
        )
    };
    let to_canvas = move |screen: (f64, f64)| ui.viewport.get_untracked().to_canvas(screen);
    let capture = move |ev: &PointerEvent| {
        if let Some(root) = ui.canvas.get_untracked() {
            // Without capture a fast drag leaves the canvas and its moves are lost.
            let _ = root.set_pointer_capture(ev.pointer_id());
        }
    };

    let apply_move = move |screen: (f64, f64)| match gesture.get_value() {
        Some(Gesture::Pan { start, view, moved }) => {
            let (dx, dy) = (screen.0 - start.0, screen.1 - start.1);
            ui.viewport.set(view.panned(dx, dy));
            if !moved && dx.hypot(dy) > CLICK_SLOP {
                gesture.set_value(Some(Gesture::Pan {
                    start,
                    view,
                    moved: true,
                }));
            }
        }
        Some(Gesture::Drag { start, zoom, nodes }) => {
            let (dx, dy) = ((screen.0 - start.0) / zoom, (screen.1 - start.1) / zoom);
            ui.drag_frame(&nodes, dx, dy);
        }
        Some(Gesture::Band { start, .. }) => {
            band.set(Some(Rect::spanning(start, to_canvas(screen))));
        }
        Some(Gesture::Wire { .. }) => {
            let end = to_canvas(screen);
            wire.update(|w| {
                if let Some((_, to)) = w {
                    *to = end;
                }
            });
            let target = ui.editor.with_untracked(|e| e.designer().node_at(end));
            if wire_target.get_untracked() != target {
                wire_target.set(target);
            }
        }
        None => {}
    };
    let flush = move || {
        if let Some(screen) = pending.get_value() {
            pending.set_value(None);
            apply_move(screen);
        }
    };

    let on_pointerdown = move |ev: PointerEvent| {
        if ev.button() != 0 {
            return;
        }
        ui.measure();
        if let Some(root) = ui.canvas.get_untracked() {
            let _ = root.focus();
        }
        capture(&ev);
        let screen = screen_point(&ev);
        if ev.shift_key() && !space_held.get_untracked() {
            let start = to_canvas(screen);
            gesture.set_value(Some(Gesture::Band {
                start,
                additive: ev.ctrl_key() || ev.meta_key(),
            }));
            band.set(Some(Rect::spanning(start, start)));
        } else {
            gesture.set_value(Some(Gesture::Pan {
                start: screen,
                view: ui.viewport.get_untracked(),
                moved: false,
            }));
        }
    };
    let on_pointermove = move |ev: PointerEvent| {
        if gesture.with_value(Option::is_none) {
            return;
        }
        pending.set_value(Some(screen_point(&ev)));
        if !frame_requested.get_value() {
            frame_requested.set_value(true);
            request_animation_frame(move || {
                // The page may have been left since.
                if frame_requested.is_disposed() {
                    return;
                }
                frame_requested.set_value(false);
                flush();
            });
        }
    };
    let on_pointerup = move |ev: PointerEvent| {
        flush();
        let screen = screen_point(&ev);
        let Some(finished) = gesture.get_value() else {
            return;
        };
        gesture.set_value(None);
        match finished {
            Gesture::Pan { moved: false, .. } => {
                ui.editor.update(|e| e.select(Designer::clear_selection));
            }
            Gesture::Pan { .. } => {}
            Gesture::Drag { .. } => {
                if let Some(message) = ui
                    .editor
                    .try_update(|e| e.edit(Designer::end_drag))
                    .flatten()
                    .flatten()
                {
                    ui.announce(message);
                }
            }
            Gesture::Band { start, additive } => {
                let area = Rect::spanning(start, to_canvas(screen));
                band.set(None);
                ui.editor
                    .update(|e| e.select(|d| d.select_in(area, additive)));
                let count = ui
                    .editor
                    .with_untracked(|e| e.designer().selected_nodes().len());
                ui.announce(format!("{count} nodes selected"));
            }
            Gesture::Wire { from } => {
                wire.set(None);
                wire_target.set(None);
                let target = ui
                    .editor
                    .with_untracked(|e| e.designer().node_at(to_canvas(screen)));
                if let Some(target) = target.filter(|t| *t != from) {
                    ui.report(ui.edit(|d| d.connect(&from, &target)));
                }
            }
        }
    };
    let on_pointercancel = move |_: PointerEvent| {
        if let Some(Gesture::Drag { .. }) = gesture.get_value() {
            ui.editor.update(|e| {
                e.edit(Designer::cancel_drag);
            });
        }
        gesture.set_value(None);
        band.set(None);
        wire.set(None);
        wire_target.set(None);
    };
    let on_wheel = move |ev: WheelEvent| {
        ev.prevent_default();
        let origin = ui
            .canvas
            .get_untracked()
            .map(|root| dom::origin(&root))
            .unwrap_or_default();
        let screen = (
            f64::from(ev.client_x()) - origin.0,
            f64::from(ev.client_y()) - origin.1,
        );
        let factor = (-ev.delta_y() * 0.0015).exp();
        ui.viewport.update(|v| *v = v.zoom_at(factor, screen));
    };
    let on_keydown = move |ev: KeyboardEvent| {
        let on_canvas = ev
            .target()
            .zip(ui.canvas.get_untracked())
            .is_some_and(|(target, root)| {
                let root: &leptos::web_sys::EventTarget = root.as_ref();
                target == *root
            });
        let step = if ev.shift_key() {
            PAN_STEP * 5.0
        } else {
            PAN_STEP
        };
        let pan = |dx: f64, dy: f64| ui.viewport.update(|v| *v = v.panned(dx, dy));
        match ev.key().as_str() {
            " " if on_canvas => {
                ev.prevent_default();
                space_held.set(true);
            }
            "ArrowLeft" if on_canvas => pan(step, 0.0),
            "ArrowRight" if on_canvas => pan(-step, 0.0),
            "ArrowUp" if on_canvas => pan(0.0, step),
            "ArrowDown" if on_canvas => pan(0.0, -step),
            "+" | "=" => ui.zoom_by(1.25),
            "-" | "_" => ui.zoom_by(0.8),
            "Escape" if gesture.with_value(|g| matches!(g, Some(Gesture::Drag { .. }))) => {
                gesture.set_value(None);
                ui.editor.update(|e| {
                    e.edit(Designer::cancel_drag);
                });
                ui.announce("Move cancelled");
            }
            "Escape" => {
                ui.editor.update(|e| e.select(Designer::clear_selection));
                ui.announce("Selection cleared");
            }
            "a" | "A" if ev.ctrl_key() || ev.meta_key() => {
                ev.prevent_default();
                ui.editor.update(|e| e.select(Designer::select_all));
                let count = ui
                    .editor
                    .with_untracked(|e| e.designer().selected_nodes().len());
                ui.announce(format!("{count} nodes selected"));
            }
            "Delete" | "Backspace" => ui.delete_selection(),
            _ => return,
        }
        if !matches!(ev.key().as_str(), "Delete" | "Backspace") {
            ev.prevent_default();
        }
    };
    let on_keyup = move |ev: KeyboardEvent| {
        if ev.key() == " " {
            space_held.set(false);
        }
    };

    // Starting a drag or an edge from a node: the node handlers call these.
    let start_drag = move |ev: &PointerEvent| {
        capture(ev);
        // Nothing visible changes yet: no subscriber needs waking.
        ui.editor.update_untracked(|e| {
            e.edit(Designer::begin_drag);
        });
        gesture.set_value(Some(Gesture::Drag {
            start: screen_point(ev),
            zoom: ui.viewport.get_untracked().zoom,
            nodes: ui.editor.with_untracked(|e| e.designer().selected_nodes()),
        }));
    };
    let start_wire = move |ev: &PointerEvent, from: String| {
        capture(ev);
        let Some(position) = ui.editor.with_untracked(|e| e.designer().position(&from)) else {
            return;
        };
        let start = output_handle(position);
        wire.set(Some((start, to_canvas(screen_point(ev)))));
        gesture.set_value(Some(Gesture::Wire { from }));
    };
    let gestures = NodeGestures {
        start_drag: Callback::new(move |ev: PointerEvent| start_drag(&ev)),
        start_wire: Callback::new(move |(ev, from): (PointerEvent, String)| start_wire(&ev, from)),
        space_held,
        wire_target,
    };

    view! {
        <div
            class="fd-canvas"
            class:fd-panning=move || space_held.get()
            class:fd-locked=move || ui.editor.with(|e| e.is_locked())
            node_ref=ui.canvas
            tabindex="0"
            role="group"
            aria-roledescription="flow canvas"
            aria-label="Flow canvas. Arrow keys pan, plus and minus zoom; Tab moves to the nodes."
            aria-describedby="fd-canvas-help"
            data-testid="flow-canvas"
            on:pointerdown=on_pointerdown
            on:pointermove=on_pointermove
            on:pointerup=on_pointerup
            on:pointercancel=on_pointercancel
            on:wheel=on_wheel
            on:keydown=on_keydown
            on:keyup=on_keyup
        >
            <div
                class="fd-layer"
                style:transform=move || ui.viewport.get().css_transform()
            >
                <svg
                    class="fd-edges"
                    aria-hidden="true"
                    style:left=move || format!("{}px", edge_area.get().x)
                    style:top=move || format!("{}px", edge_area.get().y)
                    width=move || edge_area.get().width
                    height=move || edge_area.get().height
                    viewBox=move || {
                        let area = edge_area.get();
                        format!("{} {} {} {}", area.x, area.y, area.width, area.height)
                    }
                >
                    <defs>
                        <marker
                            id="fd-arrow"
                            viewBox="0 0 10 10"
                            refX="9"
                            refY="5"
                            markerWidth="7"
                            markerHeight="7"
                            orient="auto-start-reverse"
                        >
                            <path d="M0,0 L10,5 L0,10 z"></path>
                        </marker>
                    </defs>
                    <For each=move || edges.get() key=Clone::clone let:edge>
                        <EdgeView ui edge/>
                    </For>
                    {move || {
                        wire.get()
                            .map(|(from, to)| {
                                view! {
                                    <path
                                        class="fd-wire"
                                        d=edge_path(from, to)
                                        marker-end="url(#fd-arrow)"
                                    ></path>
                                }
                            })
                    }}
                </svg>
                <For each=move || nodes.get() key=Clone::clone let:name>
                    <NodeView ui name gestures/>
                </For>
                {move || {
                    band.get()
                        .map(|r| {
                            view! {
                                <div
                                    class="fd-band"
                                    style:transform=format!("translate({}px, {}px)", r.x, r.y)
                                    style:width=format!("{}px", r.width)
                                    style:height=format!("{}px", r.height)
                                ></div>
                            }
                        })
                }}
            </div>
            <Show when=move || nodes.with(Vec::is_empty)>
                <p class="fd-empty">
                    "Drag an environment here from the palette, or focus one there and press Enter. The first one becomes the trigger."
                </p>
            </Show>
            <Show when=move || ui.editor.with(|e| e.is_locked())>
                <p class="fd-locked-note" role="note">
                    "The YAML does not read as a flow. The canvas shows the last version that did and stays read-only until the YAML is fixed."
                </p>
            </Show>
            <ZoomControls ui/>
            <MinimapView ui/>
        </div>
        <p id="fd-canvas-help" class="fd-visually-hidden">
            "On a node: arrow keys move it (Shift moves faster), Space adds it to the selection, Enter opens the inspector, C opens Connect to, Delete removes it. Ctrl+Z undoes, Ctrl+Shift+Z redoes."
        </p>
    }
}

/// What a node needs from the canvas to start gestures.
#[derive(Clone, Copy)]
struct NodeGestures {
    start_drag: Callback<PointerEvent>,
    start_wire: Callback<(PointerEvent, String)>,
    space_held: RwSignal<bool>,
    wire_target: RwSignal<Option<String>>,
}

fn action_label(action: PromotionAction) -> &'static str {
    match action {
        PromotionAction::Commit => "commit",
        PromotionAction::Pr => "pull request",
        PromotionAction::None => "no change",
    }
}

fn kind_label(kind: Option<EnvironmentKind>) -> &'static str {
    match kind {
        Some(EnvironmentKind::Prod) => "prod",
        Some(EnvironmentKind::NonProd) => "non-prod",
        None => "unknown environment",
    }
}

#[component]
fn NodeView(ui: Ui, name: String, gestures: NodeGestures) -> impl IntoView {
    let position = {
        let name = name.clone();
        let mover = ui.mover(&name);
        Memo::new(move |_| {
            mover.track();
            // Read, not just tracked: a memo only recomputes when it is read.
            ui.view.layout.with(|_| ());
            ui.position(&name).unwrap_or_default()
        })
    };
    let selected = {
        let item = Item::Node(name.clone());
        Memo::new(move |_| ui.view.selection.with(|s| s.contains(&item)))
    };
    let is_trigger = {
        let name = name.clone();
        Memo::new(move |_| {
            ui.view
                .trigger
                .with(|t| t.as_deref() == Some(name.as_str()))
        })
    };
    let facts = {
        let name = name.clone();
        Memo::new(move |_| {
            let product = ui.product.get();
            ui.check
                .with(|c| node_facts(&c.resources, c.flow.as_ref(), product.as_deref(), &name))
        })
    };
    let problems = {
        let name = name.clone();
        Memo::new(move |_| {
            ui.check
                .with(|c| c.nodes.get(&name).cloned().unwrap_or_default())
        })
    };
    let waits_for = {
        let name = name.clone();
        Memo::new(move |_| {
            ui.view
                .depends
                .with(|d| d.get(&name).cloned().unwrap_or_default())
        })
    };
    let is_target = {
        let name = name.clone();
        move || gestures.wire_target.get().as_deref() == Some(name.as_str())
    };
    let label = {
        let name = name.clone();
        move || {
            let facts = facts.get();
            let mut parts = vec![format!("{name}, {} environment", kind_label(facts.kind))];
            if is_trigger.get() {
                parts.push("trigger: releases start here".into());
            } else {
                let waits = waits_for.get();
                parts.push(if waits.is_empty() {
                    "waits for nothing yet".into()
                } else {
                    format!("waits for {}", waits.join(" and "))
                });
            }
            if let Some(count) = facts.applications {
                parts.push(format!("{count} applications"));
            }
            if let Some(action) = facts.action {
                parts.push(format!("action {}", action_label(action)));
            }
            for problem in problems.get() {
                parts.push(format!("problem: {problem}"));
            }
            parts.join("; ")
        }
    };

    let on_pointerdown = {
        let name = name.clone();
        move |ev: PointerEvent| {
            if ev.button() != 0 || gestures.space_held.get_untracked() {
                return;
            }
            ev.stop_propagation();
            let item = Item::Node(name.clone());
            let additive = ev.shift_key();
            ui.editor.update(|e| {
                e.select(|d| {
                    if additive || !d.is_selected(&item) {
                        d.select(item.clone(), additive);
                    }
                });
            });
            if selected.get_untracked() {
                gestures.start_drag.run(ev);
            }
        }
    };
    let on_handle_down = {
        let name = name.clone();
        move |ev: PointerEvent| {
            if ev.button() != 0 {
                return;
            }
            ev.stop_propagation();
            gestures.start_wire.run((ev, name.clone()));
        }
    };
    let on_keydown = {
        let name = name.clone();
        move |ev: KeyboardEvent| {
            let item = Item::Node(name.clone());
            let select_this = move |ui: Ui, item: &Item| {
                ui.editor.update(|e| {
                    e.select(|d| {
                        if !d.is_selected(item) {
                            d.select(item.clone(), false);
                        }
                    });
                });
            };
            let step = if ev.shift_key() { GRID * 5 } else { GRID };
            let nudge = |dx: i64, dy: i64| {
                select_this(ui, &item);
                if let Some(message) = ui.edit(|d| d.nudge(dx, dy)).flatten() {
                    ui.announce(message);
                }
            };
            match ev.key().as_str() {
                "ArrowLeft" => nudge(-step, 0),
                "ArrowRight" => nudge(step, 0),
                "ArrowUp" => nudge(0, -step),
                "ArrowDown" => nudge(0, step),
                " " => {
                    ui.editor
                        .update(|e| e.select(|d| d.select(item.clone(), true)));
                    let now = ui
                        .editor
                        .with_untracked(|e| e.designer().is_selected(&item));
                    ui.announce(if now {
                        format!("{name} added to the selection")
                    } else {
                        format!("{name} removed from the selection")
                    });
                }
                "Enter" => {
                    ui.editor
                        .update(|e| e.select(|d| d.select(item.clone(), false)));
                    ui.open_inspector(false);
                }
                "c" | "C" if !ev.ctrl_key() && !ev.meta_key() => {
                    ui.editor
                        .update(|e| e.select(|d| d.select(item.clone(), false)));
                    ui.open_inspector(true);
                }
                "Delete" | "Backspace" => {
                    select_this(ui, &item);
                    ui.delete_selection();
                }
                _ => return,
            }
            ev.prevent_default();
            ev.stop_propagation();
        }
    };
    let on_focus = {
        let name = name.clone();
        move |ev: leptos::ev::FocusEvent| {
            // Keep a node focused from the keyboard in view, as a keyboard user cannot
            // pan to find it; a pointer's focus must not move what it is pressing.
            let from_keyboard = ev
                .target()
                .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
                .is_some_and(|e| e.matches(":focus-visible").unwrap_or(false));
            if !from_keyboard {
                return;
            }
            let Some(position) = ui.editor.with_untracked(|e| e.designer().position(&name)) else {
                return;
            };
            let size = ui.measure();
            let view = ui.viewport.get_untracked();
            let visible = view.visible(size);
            let node = Rect::node(position);
            let inside = node.x >= visible.x
                && node.y >= visible.y
                && node.x + node.width <= visible.x + visible.width
                && node.y + node.height <= visible.y + visible.height;
            if !inside {
                ui.viewport.set(view.centred_on(
                    (node.x + node.width / 2.0, node.y + node.height / 2.0),
                    size,
                ));
            }
        }
    };

    let test_id = format!("node-{name}");
    // The node's name is what it shows (WCAG 2.5.3: speech input finds it by that); the
    // rest (what it waits for, its problems) is its description.
    let description_id = format!("fd-node-about-{name}");
    let title = name.clone();
    view! {
        <span id=description_id.clone() class="fd-visually-hidden">{label}</span>
        <div
            class="fd-node"
            class:fd-selected=move || selected.get()
            class:fd-trigger=move || is_trigger.get()
            class:fd-prod=move || facts.with(|f| f.kind == Some(EnvironmentKind::Prod))
            class:fd-unknown=move || facts.with(|f| f.kind.is_none())
            class:fd-invalid=move || problems.with(|p| !p.is_empty())
            class:fd-target=is_target
            style:transform=move || {
                let (x, y) = position.get();
                format!("translate({x}px, {y}px)")
            }
            style:width=format!("{NODE_WIDTH}px")
            style:height=format!("{NODE_HEIGHT}px")
            style:border-left-color=move || facts.with(|f| f.color.clone().unwrap_or_default())
            role="button"
            tabindex="0"
            aria-roledescription="flow node"
            aria-pressed=move || selected.get().to_string()
            aria-describedby=description_id
            data-node=name.clone()
            data-testid=test_id
            on:pointerdown=on_pointerdown
            on:keydown=on_keydown
            on:focus=on_focus
        >
            <Show when=move || !is_trigger.get()>
                <span class="fd-handle fd-handle-in" aria-hidden="true"></span>
            </Show>
            <span class="fd-node-title">
                <span class="fd-node-name">{title}</span>
                <Show when=move || is_trigger.get()>
                    <span class="fd-badge fd-badge-trigger">"trigger"</span>
                </Show>
                <Show when=move || facts.with(|f| f.kind == Some(EnvironmentKind::Prod))>
                    <span class="fd-badge fd-badge-prod">"prod"</span>
                </Show>
            </span>
            <span class="fd-node-meta">
                {move || {
                    let facts = facts.get();
                    let kind = kind_label(facts.kind);
                    match facts.applications {
                        Some(1) => format!("{kind} · 1 app"),
                        Some(count) => format!("{kind} · {count} apps"),
                        None => kind.to_string(),
                    }
                }}
            </span>
            <span
                class="fd-node-action"
                data-action=move || facts.with(|f| f.action.map(action_label).unwrap_or("start"))
            >
                {move || match facts.get().action {
                    Some(action) => action_label(action).to_string(),
                    None if is_trigger.get() => "starts releases".to_string(),
                    None => String::new(),
                }}
            </span>
            <span
                class="fd-handle fd-handle-out"
                aria-hidden="true"
                data-handle="out"
                on:pointerdown=on_handle_down
            ></span>
        </div>
    }
}

#[component]
fn EdgeView(ui: Ui, edge: Edge) -> impl IntoView {
    let ends = {
        let edge = edge.clone();
        let (from, to) = (ui.mover(&edge.from), ui.mover(&edge.to));
        Memo::new(move |_| {
            from.track();
            to.track();
            ui.view.layout.with(|_| ());
            (ui.position(&edge.from), ui.position(&edge.to))
        })
    };
    let path = Memo::new(move |_| match ends.get() {
        (Some(from), Some(to)) => edge_path(output_handle(from), input_handle(to)),
        _ => String::new(),
    });
    let item = Item::Edge(edge.clone());
    let selected = {
        let item = item.clone();
        Memo::new(move |_| ui.view.selection.with(|s| s.contains(&item)))
    };
    let problems = {
        let edge = edge.clone();
        Memo::new(move |_| {
            ui.check
                .with(|c| c.edges.get(&edge).cloned().unwrap_or_default())
        })
    };
    let on_pointerdown = move |ev: PointerEvent| {
        if ev.button() != 0 {
            return;
        }
        ev.stop_propagation();
        let additive = ev.shift_key();
        ui.editor
            .update(|e| e.select(|d| d.select(item.clone(), additive)));
    };
    view! {
        <g
            class="fd-edge"
            class:fd-selected=move || selected.get()
            class:fd-invalid=move || problems.with(|p| !p.is_empty())
            data-edge=format!("{}->{}", edge.from, edge.to)
        >
            <path class="fd-edge-hit" d=move || path.get() on:pointerdown=on_pointerdown></path>
            <path class="fd-edge-line" d=move || path.get() marker-end="url(#fd-arrow)"></path>
        </g>
    }
}

#[component]
fn ZoomControls(ui: Ui) -> impl IntoView {
    view! {
        <div class="fd-zoom" role="group" aria-label="Zoom">
            <button
                type="button"
                class="fd-tool"
                aria-label="Zoom out"
                title="Zoom out (-)"
                on:pointerdown=|ev: PointerEvent| ev.stop_propagation()
                on:click=move |_| ui.zoom_by(0.8)
            >
                "−"
            </button>
            <span class="fd-zoom-level" aria-live="off">
                {move || format!("{:.0}%", ui.viewport.get().zoom * 100.0)}
            </span>
            <button
                type="button"
                class="fd-tool"
                aria-label="Zoom in"
                title="Zoom in (+)"
                on:pointerdown=|ev: PointerEvent| ev.stop_propagation()
                on:click=move |_| ui.zoom_by(1.25)
            >
                "+"
            </button>
            <button
                type="button"
                class="fd-tool"
                title="Show the whole flow"
                on:pointerdown=|ev: PointerEvent| ev.stop_propagation()
                on:click=move |_| ui.fit_view()
            >
                "Fit view"
            </button>
        </div>
    }
}

#[component]
fn MinimapView(ui: Ui) -> impl IntoView {
    let map_ref = NodeRef::<leptos::svg::Svg>::new();
    let map = Memo::new(move |_| {
        let visible = ui.viewport.get().visible(ui.size.get());
        ui.view.dragging.with_value(|t| t.track());
        ui.view.layout.with(|_| ());
        ui.editor
            .with_untracked(|e| Minimap::new(e.designer().positions(), visible))
    });
    let viewport_rect = move || {
        let visible = ui.viewport.get().visible(ui.size.get());
        (visible.x, visible.y, visible.width, visible.height)
    };
    let centre = move |ev: &PointerEvent| {
        let Some(svg) = map_ref.get_untracked() else {
            return;
        };
        let origin = dom::origin(&svg);
        let size = dom::size(&svg);
        let local = (
            f64::from(ev.client_x()) - origin.0,
            f64::from(ev.client_y()) - origin.1,
        );
        let point = map.with_untracked(|m| m.to_canvas(local, size));
        ui.viewport
            .update(|v| *v = v.centred_on(point, ui.measure()));
    };
    let dragging = StoredValue::new(false);
    view! {
        <svg
            class="fd-minimap"
            node_ref=map_ref
            aria-hidden="true"
            viewBox=move || map.with(Minimap::view_box_attribute)
            preserveAspectRatio="xMidYMid meet"
            on:pointerdown=move |ev: PointerEvent| {
                ev.stop_propagation();
                if let Some(svg) = map_ref.get_untracked() {
                    let _ = svg.set_pointer_capture(ev.pointer_id());
                }
                dragging.set_value(true);
                centre(&ev);
            }
            on:pointermove=move |ev: PointerEvent| {
                if dragging.get_value() {
                    ev.stop_propagation();
                    centre(&ev);
                }
            }
            on:pointerup=move |ev: PointerEvent| {
                ev.stop_propagation();
                dragging.set_value(false);
            }
        >
            <path class="fd-minimap-nodes" d=move || map.with(|m| m.nodes.clone())></path>
            <rect
                class="fd-minimap-view"
                x=move || viewport_rect().0
                y=move || viewport_rect().1
                width=move || viewport_rect().2
                height=move || viewport_rect().3
            ></rect>
        </svg>
    }
}
