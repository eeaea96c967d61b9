//! The panels around the canvas: the environment palette, the inspector of the
//! selected step, and the YAML panel.

use leptos::ev::{KeyboardEvent, PointerEvent, SubmitEvent};
use leptos::html;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use promenade_model::action::Action;
use promenade_model::diagnostic::{Diagnostic, Severity};
use promenade_model::resources::{
    EnvironmentKind, PolicyRules, PromotionAction, PullRequestPolicy,
};

use super::actions::{field_text, settings, summary, template, with_setting, ActionList};
use super::check::{effective_policy, EnvironmentInfo};
use super::dom;
use super::fields::{self, Input, Setting, PULL_REQUEST};
use super::geometry::{NODE_HEIGHT, NODE_WIDTH};
use super::page::Ui;
use super::server::{CreateEnvironment, EnvironmentOutcome};
use super::state::{ActionsAt, Edge, Item};

/// A palette entry being dragged towards the canvas.
#[derive(Clone, Debug)]
struct PaletteDrag {
    name: String,
    start: (f64, f64),
    moved: bool,
}

#[component]
pub(super) fn Palette(ui: Ui) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let environments = Memo::new(move |_| {
        let filter = filter.get().trim().to_lowercase();
        ui.context.with(|c| {
            c.environments()
                .into_iter()
                .filter(|e| e.name.contains(&filter))
                .collect::<Vec<_>>()
        })
    });
    let drag = StoredValue::new(None::<PaletteDrag>);
    let ghost = RwSignal::new(None::<(String, f64, f64)>);
    // A drag ends with a click on the entry; that click must not add it a second time.
    let swallow_click = StoredValue::new(false);

    let on_pointerdown = move |ev: PointerEvent, name: String| {
        swallow_click.set_value(false);
        if ev.button() != 0 {
            return;
        }
        if let Some(target) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
        {
            let _ = target.set_pointer_capture(ev.pointer_id());
        }
        drag.set_value(Some(PaletteDrag {
            name,
            start: (f64::from(ev.client_x()), f64::from(ev.client_y())),
            moved: false,
        }));
    };
    let on_pointermove = move |ev: PointerEvent| {
        let Some(mut current) = drag.get_value() else {
            return;
        };
        let at = (f64::from(ev.client_x()), f64::from(ev.client_y()));
        if !current.moved && (at.0 - current.start.0).hypot(at.1 - current.start.1) > 4.0 {
            current.moved = true;
            drag.set_value(Some(current.clone()));
        }
        if current.moved {
            ghost.set(Some((current.name, at.0, at.1)));
        }
    };
    let on_pointerup = move |ev: PointerEvent| {
        let Some(finished) = drag.get_value() else {
            return;
        };
        drag.set_value(None);
        ghost.set(None);
        if !finished.moved {
            return;
        }
        swallow_click.set_value(true);
        let Some(canvas) = ui.canvas.get_untracked() else {
            return;
        };
        let origin = dom::origin(&canvas);
        let size = dom::size(&canvas);
        let screen = (
            f64::from(ev.client_x()) - origin.0,
            f64::from(ev.client_y()) - origin.1,
        );
        if screen.0 < 0.0 || screen.1 < 0.0 || screen.0 > size.0 || screen.1 > size.1 {
            ui.announce(format!("{} was not dropped on the canvas", finished.name));
            return;
        }
        let point = ui.viewport.get_untracked().to_canvas(screen);
        // The pointer holds the node by its middle, as the ghost showed it.
        let corner = (
            point.0 - NODE_WIDTH as f64 / 2.0,
            point.1 - NODE_HEIGHT as f64 / 2.0,
        );
        ui.report(ui.edit(|d| d.add(&finished.name, Some(corner))));
    };
    let on_click = move |name: String| {
        if swallow_click.get_value() {
            swallow_click.set_value(false);
            return;
        }
        ui.report(ui.edit(|d| d.add(&name, None)));
    };

    view! {
        <section class="fd-palette" aria-labelledby="fd-palette-title">
            <h2 id="fd-palette-title">"Environments"</h2>
            <p class="fd-hint">"Drag one onto the canvas, or press Enter on it to add it."</p>
            <input
                type="search"
                class="fd-filter"
                placeholder="Filter"
                aria-label="Filter environments"
                prop:value=move || filter.get()
                on:input=move |ev| filter.set(event_target_value(&ev))
            />
            <ul class="fd-palette-list">
                <For
                    each=move || environments.get()
                    key=|e| e.name.clone()
                    children=move |env: EnvironmentInfo| {
                        let name = env.name.clone();
                        let used = {
                            let name = name.clone();
                            Memo::new(move |_| ui.view.nodes.with(|n| n.contains(&name)))
                        };
                        let prod = env.kind == EnvironmentKind::Prod;
                        let kind = if prod { "prod" } else { "non-prod" };
                        let label = {
                            let name = name.clone();
                            move || {
                                // Starts with the visible text, so speech input finds
                                // the button by what it shows (WCAG 2.5.3).
                                if used.get() {
                                    format!("{name} {kind}: already in the flow")
                                } else {
                                    format!("{name} {kind}: add to the flow")
                                }
                            }
                        };
                        let (down, click) = (name.clone(), name.clone());
                        view! {
                            <li>
                                <button
                                    type="button"
                                    class="fd-palette-item"
                                    class:fd-prod=prod
                                    class:fd-used=move || used.get()
                                    aria-disabled=move || used.get().to_string()
                                    aria-label=label
                                    data-env=name.clone()
                                    on:pointerdown=move |ev| on_pointerdown(ev, down.clone())
                                    on:pointermove=on_pointermove
                                    on:pointerup=on_pointerup
                                    on:click=move |_| on_click(click.clone())
                                >
                                    <span
                                        class="fd-swatch"
                                        style:background=env.color.clone().unwrap_or_default()
                                        aria-hidden="true"
                                    ></span>
                                    <span class="fd-palette-name">{name.clone()}</span>
                                    " "
                                    <span class="fd-palette-kind">{kind}</span>
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
            <NewEnvironment ui/>
            {move || {
                ghost.get()
                    .map(|(name, x, y)| {
                        view! {
                            <div
                                class="fd-ghost"
                                aria-hidden="true"
                                style:transform=format!(
                                    "translate({}px, {}px)",
                                    x - NODE_WIDTH as f64 / 2.0,
                                    y - NODE_HEIGHT as f64 / 2.0,
                                )
                            >
                                {name}
                            </div>
                        }
                    })
            }}
        </section>
    }
}

/// "New environment", inline: creates the Environment on the server so that flows can
/// use it right away.
#[component]
fn NewEnvironment(ui: Ui) -> impl IntoView {
    let create = ServerAction::<CreateEnvironment>::new();
    let name = RwSignal::new(String::new());
    let production = RwSignal::new(false);
    Effect::new(move |_| match create.value().get() {
        Some(Ok(EnvironmentOutcome::Created(document))) => {
            let created = document.name.clone();
            ui.context.update(|c| c.upsert(document));
            name.set(String::new());
            production.set(false);
            ui.announce(format!(
                "Created environment {created}; it is now in the palette"
            ));
        }
        Some(Ok(EnvironmentOutcome::Refused(reason))) => {
            ui.announce(format!("Not created: {reason}"));
        }
        Some(Err(error)) => ui.announce(format!("Not created: {error}")),
        None => {}
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let wanted = name.get_untracked().trim().to_owned();
        if wanted.is_empty() {
            ui.announce("Type a name for the new environment first");
            return;
        }
        create.dispatch(CreateEnvironment {
            name: wanted,
            production: production.get_untracked(),
        });
    };
    view! {
        <form class="fd-new-env" on:submit=on_submit>
            <label>
                "New environment"
                <input
                    type="text"
                    placeholder="e.g. staging-ap"
                    autocomplete="off"
                    spellcheck="false"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))
                />
            </label>
            <label class="fd-check">
                <input
                    type="checkbox"
                    prop:checked=move || production.get()
                    on:change=move |ev| production.set(event_target_checked(&ev))
                />
                "Production"
            </label>
            <button
                type="submit"
                class="button secondary"
                disabled=move || !ui.can_edit || create.pending().get()
            >
                "Create"
            </button>
        </form>
    }
}

#[component]
pub(super) fn Inspector(ui: Ui) -> impl IntoView {
    let selection = Memo::new(move |_| {
        ui.view
            .selection
            .with(|s| s.iter().cloned().collect::<Vec<_>>())
    });
    view! {
        <section class="fd-inspector" aria-labelledby="fd-inspector-title" data-testid="inspector">
            {move || match selection.get().as_slice() {
                [Item::Node(name)] => view! { <NodeInspector ui name=name.clone()/> }.into_any(),
                [Item::Edge(edge)] => view! { <EdgeInspector ui edge=edge.clone()/> }.into_any(),
                [] => {
                    view! {
                        <h2 id="fd-inspector-title" tabindex="-1" node_ref=ui.inspector>
                            "Inspector"
                        </h2>
                        <p class="fd-hint">
                            "Select a node to see its dependencies and its policy. Tab moves through the nodes; Enter opens the one that has focus here."
                        </p>
                        <FlowSettings ui/>
                    }
                        .into_any()
                }
                many => {
                    let count = many.len();
                    view! {
                        <h2 id="fd-inspector-title" tabindex="-1" node_ref=ui.inspector>
                            {format!("{count} items selected")}
                        </h2>
                        <button type="button" class="button danger" on:click=move |_| ui.delete_selection()>
                            "Delete selected"
                        </button>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

#[component]
fn EdgeInspector(ui: Ui, edge: Edge) -> impl IntoView {
    let problems = {
        let edge = edge.clone();
        move || {
            ui.check
                .with(|c| c.edges.get(&edge).cloned().unwrap_or_default())
        }
    };
    let title = edge.to_string();
    let explanation = format!("{} waits for {}.", edge.to, edge.from);
    view! {
        <h2 id="fd-inspector-title" tabindex="-1" node_ref=ui.inspector>{title}</h2>
        <p>{explanation}</p>
        <ul class="fd-node-problems">
            {move || problems().into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
        </ul>
        <button
            type="button"
            class="button danger"
            on:click=move |_| ui.report(ui.edit(|d| d.disconnect(&edge)))
        >
            "Remove connection"
        </button>
    }
}

#[component]
fn NodeInspector(ui: Ui, name: String) -> impl IntoView {
    let is_trigger = {
        let name = name.clone();
        Memo::new(move |_| {
            ui.view
                .trigger
                .with(|t| t.as_deref() == Some(name.as_str()))
        })
    };
    let depends_on = {
        let name = name.clone();
        Memo::new(move |_| {
            ui.view
                .depends
                .with(|d| d.get(&name).cloned().unwrap_or_default())
        })
    };
    let kind = {
        let name = name.clone();
        move || {
            ui.check.with(
                |c| match c.resources.environment(&name).map(|e| e.spec.kind) {
                    Some(EnvironmentKind::Prod) => "production environment",
                    Some(EnvironmentKind::NonProd) => "non-production environment",
                    None => "environment that is not defined",
                },
            )
        }
    };
    let problems = {
        let name = name.clone();
        move || {
            ui.check
                .with(|c| c.nodes.get(&name).cloned().unwrap_or_default())
        }
    };
    let title = name.clone();
    let make_trigger = name.clone();
    let remove_name = name.clone();
    let policy_name = name.clone();
    let effective_name = name.clone();
    view! {
        <h2 id="fd-inspector-title" tabindex="-1" node_ref=ui.inspector data-testid="inspector-title">
            {title}
        </h2>
        <p>
            {move || if is_trigger.get() { "Trigger: " } else { "Step: " }}
            {kind}
        </p>
        <ul class="fd-node-problems" aria-label="Problems">
            {move || problems().into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
        </ul>
        <Show
            when=move || is_trigger.get()
            fallback=move || {
                let make_trigger = make_trigger.clone();
                view! {
                    <button
                        type="button"
                        class="button secondary"
                        on:click=move |_| ui.report(ui.edit(|d| d.make_trigger(&make_trigger)))
                    >
                        "Make this the trigger"
                    </button>
                }
            }
        >
            <p class="fd-hint">"Releases start with a change here; it is not promoted to."</p>
        </Show>
        <h3>"Depends on"</h3>
        <ul class="fd-depends" data-testid="depends-on">
            {
                let remove_name = remove_name.clone();
                move || {
                    let depends = depends_on.get();
                    if depends.is_empty() {
                        let text = if is_trigger.get() { "Nothing: this is the trigger." } else { "Nothing yet." };
                        return view! { <li class="fd-hint">{text}</li> }.into_any();
                    }
                    depends
                        .into_iter()
                        .map(|from| {
                            let edge = Edge::new(from.clone(), remove_name.clone());
                            view! {
                                <li>
                                    <span>{from.clone()}</span>
                                    <button
                                        type="button"
                                        class="fd-link"
                                        aria-label=format!("Remove the dependency on {from}")
                                        on:click=move |_| ui.report(ui.edit(|d| d.disconnect(&edge)))
                                    >
                                        "Remove"
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()
                        .into_any()
                }
            }
        </ul>
        <ConnectMenu ui from=name.clone()/>
        <Show when=move || !is_trigger.get()>
            <PolicyEditor ui name=policy_name.clone()/>
        </Show>
        <EffectivePolicyView ui name=effective_name.clone()/>
    }
}

/// "Connect to…": the single-pointer and keyboard alternative to dragging an edge.
#[component]
fn ConnectMenu(ui: Ui, from: String) -> impl IntoView {
    let menu = NodeRef::<html::Ul>::new();
    let button = NodeRef::<html::Button>::new();
    let targets = {
        let from = from.clone();
        Memo::new(move |_| {
            let trigger = ui.view.trigger.get();
            ui.view.depends.with(|depends| {
                ui.view.nodes.with(|nodes| {
                    nodes
                        .iter()
                        .filter(|n| **n != from)
                        .map(|n| {
                            let connected = depends.get(n).is_some_and(|d| d.contains(&from));
                            (n.clone(), connected, trigger.as_deref() == Some(n.as_str()))
                        })
                        .collect::<Vec<_>>()
                })
            })
        })
    };
    let close = move |focus_button: bool| {
        ui.connect_menu.set(false);
        if focus_button {
            if let Some(button) = button.get_untracked() {
                let _ = button.focus();
            }
        }
    };
    let move_focus = move |delta: i32| {
        let Some(menu) = menu.get_untracked() else {
            return;
        };
        let items = menu.get_elements_by_tag_name("button");
        let count = items.length() as i32;
        if count == 0 {
            return;
        }
        let active = leptos::prelude::document().active_element();
        let current = (0..count).find(|&i| {
            items
                .item(i as u32)
                .is_some_and(|item| Some(&item) == active.as_ref())
        });
        let next = match current {
            Some(i) => (i + delta).rem_euclid(count),
            None if delta < 0 => count - 1,
            None => 0,
        };
        if let Some(item) = items
            .item(next as u32)
            .and_then(|n| n.dyn_into::<leptos::web_sys::HtmlElement>().ok())
        {
            let _ = item.focus();
        }
    };
    let on_menu_keydown = move |ev: KeyboardEvent| {
        match ev.key().as_str() {
            "ArrowDown" => move_focus(1),
            "ArrowUp" => move_focus(-1),
            "Home" => move_focus(i32::MIN / 2),
            "Escape" => close(true),
            "Tab" => {
                close(false);
                return;
            }
            _ => return,
        }
        ev.prevent_default();
        ev.stop_propagation();
    };
    let label = format!("Connect {from} to");
    view! {
        <div class="fd-connect">
            <button
                type="button"
                class="button secondary"
                node_ref=button
                aria-haspopup="menu"
                aria-expanded=move || ui.connect_menu.get().to_string()
                aria-controls="fd-connect-menu"
                data-testid="connect-to"
                on:click=move |_| {
                    let open = !ui.connect_menu.get_untracked();
                    ui.connect_menu.set(open);
                    if open {
                        request_animation_frame(move || {
                            if !ui.connect_menu.is_disposed() {
                                move_focus(0);
                            }
                        });
                    }
                }
            >
                "Connect to…"
            </button>
            <Show when=move || ui.connect_menu.get()>
                <ul
                    id="fd-connect-menu"
                    class="fd-menu"
                    role="menu"
                    aria-label=label.clone()
                    node_ref=menu
                    on:keydown=on_menu_keydown
                >
                    <For
                        each=move || targets.get()
                        key=|t| t.clone()
                        children={
                            let from = from.clone();
                            move |(target, connected, trigger)| {
                                let from = from.clone();
                                let text = match (connected, trigger) {
                                    (true, _) => format!("{target} (already waits for {from})"),
                                    (_, true) => format!("{target} (the trigger)"),
                                    _ => target.clone(),
                                };
                                view! {
                                    <li role="none">
                                        <button
                                            type="button"
                                            role="menuitem"
                                            tabindex="-1"
                                            aria-disabled=(connected || trigger).to_string()
                                            on:click=move |_| {
                                                ui.report(ui.edit(|d| d.connect(&from, &target)));
                                                close(true);
                                            }
                                        >
                                            {text}
                                        </button>
                                    </li>
                                }
                            }
                        }
                    />
                </ul>
            </Show>
        </div>
    }
}

fn action_value(action: Option<PromotionAction>) -> &'static str {
    match action {
        None => "",
        Some(PromotionAction::Commit) => "commit",
        Some(PromotionAction::Pr) => "pr",
        Some(PromotionAction::None) => "none",
    }
}

#[component]
fn PolicyEditor(ui: Ui, name: String) -> impl IntoView {
    let rules = {
        let name = name.clone();
        Memo::new(move |_| {
            ui.editor.with(|e| {
                e.designer()
                    .step(&name)
                    .and_then(|s| s.policy.clone())
                    .unwrap_or_default()
            })
        })
    };
    let set_action = {
        let name = name.clone();
        move |ev: leptos::ev::Event| {
            let action = match event_target_value(&ev).as_str() {
                "commit" => Some(PromotionAction::Commit),
                "pr" => Some(PromotionAction::Pr),
                "none" => Some(PromotionAction::None),
                _ => None,
            };
            let label = match action {
                Some(a) => format!("action {}", action_value(Some(a))),
                None => "inherit the action".to_owned(),
            };
            ui.report(ui.edit(|d| d.edit_policy(&name, &label, |r| r.action = action)));
        }
    };
    let pull_request_name = name.clone();
    let pull_request_shown =
        move || rules.with(|r| r.action == Some(PromotionAction::Pr) || r.pull_request.is_some());
    view! {
        <h3>"Inline policy"</h3>
        <p class="fd-hint">"Wins over every matching PromotionPolicy."</p>
        <label class="fd-field">
            "Action"
            <select
                prop:value=move || action_value(rules.with(|r| r.action))
                on:change=set_action
                data-testid="inline-action"
            >
                <option value="">"Inherit from policies"</option>
                <option value="commit">"Commit"</option>
                <option value="pr">"Pull request"</option>
                <option value="none">"None (gates and checks only)"</option>
            </select>
        </label>
        <Show when=pull_request_shown>
            <PullRequestEditor ui name=pull_request_name.clone() rules/>
        </Show>
        <ActionListEditor ui at=ActionsAt::Gates(name.clone())/>
        <ActionListEditor ui at=ActionsAt::Verify(name)/>
    }
}

/// The step's `pullRequest` settings; every field empty inherits them all.
#[component]
fn PullRequestEditor(ui: Ui, name: String, rules: Memo<PolicyRules>) -> impl IntoView {
    let problem = RwSignal::new(None::<String>);
    let name = StoredValue::new(name);
    let fields = PULL_REQUEST
        .iter()
        .map(|setting| {
            let current = move || rules.with(|r| fields::text(&r.pull_request, None, setting.key));
            let check = move |text: &str| {
                let settings = rules.with_untracked(|r| r.pull_request.clone().unwrap_or_default());
                fields::with(&settings, None, setting, text)
            };
            let write = move |text: String| match check(&text) {
                Ok(changed) => {
                    problem.set(None);
                    let changed = Some(changed).filter(|c| *c != PullRequestPolicy::default());
                    if rules.with_untracked(|r| r.pull_request != changed) {
                        let label = format!("set pullRequest.{}", setting.key);
                        ui.report(ui.edit(|d| {
                            d.edit_policy(&name.get_value(), &label, |r| r.pull_request = changed)
                        }));
                    }
                }
                Err(e) => problem.set(Some(e)),
            };
            let typed = move |text: String| problem.set(check(&text).err());
            view! {
                <SettingField
                    setting=*setting
                    label=format!("{} (pull request)", setting.label)
                    current=Signal::derive(current)
                    typed=Callback::new(typed)
                    write=Callback::new(write)
                />
            }
        })
        .collect_view();
    view! {
        <div class="fd-settings" role="group" aria-label="Pull request settings">
            <h4>"Pull request"</h4>
            {fields}
            {move || problem.get().map(|p| view! { <p class="fd-setting-problem" role="alert">{p}</p> })}
        </div>
    }
}

/// The flow's own settings, shown while nothing is selected: its hooks.
#[component]
pub(super) fn FlowSettings(ui: Ui) -> impl IntoView {
    view! {
        <h3>"Hooks"</h3>
        <p class="fd-hint">"Actions run once a release has ended."</p>
        <ActionListEditor ui at=ActionsAt::OnSuccess/>
        <ActionListEditor ui at=ActionsAt::OnFailure/>
    }
}

/// One action list (a step's gates or verification, or a hook list): its actions, each
/// with a form of its settings, and a way to add one.
#[component]
fn ActionListEditor(ui: Ui, at: ActionsAt) -> impl IntoView {
    let list = at.list();
    let chosen = RwSignal::new(list.kinds()[0].to_owned());
    let field = list.field();
    let heading = match list {
        ActionList::Gates => "Gates (before the change)",
        ActionList::Verify => "Verify (after the change)",
        ActionList::OnSuccess => "When a release succeeds",
        ActionList::OnFailure => "When a release fails",
    };
    let is_step = matches!(at, ActionsAt::Gates(_) | ActionsAt::Verify(_));
    let at = StoredValue::new(at);
    let items = move || {
        ui.editor
            .with(|e| at.with_value(|at| e.designer().actions(at).cloned()))
    };
    let add = move |_| {
        let kind = chosen.get_untracked();
        let Some(action) = template(&kind, list) else {
            return;
        };
        let label = format!("add a {kind} to {field}");
        ui.report(ui.edit(|d| {
            d.edit_actions(&at.get_value(), &label, |items| {
                items.get_or_insert_with(Vec::new).push(action)
            })
        }));
    };
    let inherit = move |_| {
        let label = format!("inherit {field}");
        ui.report(ui.edit(|d| d.edit_actions(&at.get_value(), &label, |items| *items = None)));
    };
    view! {
        <div class="fd-actions" role="group" aria-label=heading>
            <h4>{heading}</h4>
            {move || match items() {
                None => view! { <p class="fd-hint">"Inherited from policies."</p> }.into_any(),
                Some(actions) if actions.is_empty() && is_step => {
                    view! { <p class="fd-hint">"None: this step overrides the policies with an empty list."</p> }
                        .into_any()
                }
                Some(actions) if actions.is_empty() => view! { <p class="fd-hint">"None."</p> }.into_any(),
                Some(actions) => {
                    view! {
                        <ol>
                            {actions
                                .into_iter()
                                .enumerate()
                                .map(|(index, action)| {
                                    view! { <ActionItem ui at=at.get_value() index action/> }
                                })
                                .collect_view()}
                        </ol>
                    }
                        .into_any()
                }
            }}
            <div class="fd-add-action">
                <select
                    aria-label=format!("Kind of action to add to {field}")
                    prop:value=move || chosen.get()
                    on:change=move |ev| chosen.set(event_target_value(&ev))
                >
                    {list
                        .kinds()
                        .iter()
                        .map(|kind| view! { <option value=*kind>{*kind}</option> })
                        .collect_view()}
                </select>
                <button type="button" class="button secondary" on:click=add>
                    {format!("Add to {field}")}
                </button>
                <Show when=move || is_step && items().is_some()>
                    <button type="button" class="fd-link" on:click=inherit>
                        "Inherit instead"
                    </button>
                </Show>
            </div>
        </div>
    }
}

/// A change to the items of an action list.
type ListChange = Box<dyn FnOnce(&mut Vec<Action>)>;

/// One action of a list: its summary, a form of its settings (checked as they are
/// typed, written when a field is left) and Remove.
#[component]
fn ActionItem(ui: Ui, at: ActionsAt, index: usize, action: Action) -> impl IntoView {
    let field = at.list().field();
    let kind = action.kind().to_string();
    let number = index + 1;
    let problem = RwSignal::new(None::<String>);
    let action = StoredValue::new(action);
    let at = StoredValue::new(at);
    let edit = move |label: String, change: ListChange| {
        ui.report(ui.edit(|d| {
            d.edit_actions(&at.get_value(), &label, |items| {
                if let Some(items) = items.as_mut() {
                    change(items)
                }
            })
        }));
    };
    let remove = {
        let kind = kind.clone();
        move |_| {
            edit(
                format!("remove a {kind} from {field}"),
                Box::new(move |items| {
                    if index < items.len() {
                        items.remove(index);
                    }
                }),
            )
        }
    };
    let fields = settings(&kind)
        .iter()
        .map(|setting| {
            let label = format!("{} ({field} {number})", setting.label);
            let current = action.with_value(|a| field_text(a, setting.key));
            let check = move |text: &str| action.with_value(|a| with_setting(a, setting, text));
            let write = {
                let kind = kind.clone();
                move |text: String| match check(&text) {
                    Ok(changed) => {
                        problem.set(None);
                        if action.with_value(|a| *a != changed) {
                            edit(
                                format!("set {} of a {kind} in {field}", setting.key),
                                Box::new(move |items| {
                                    if let Some(item) = items.get_mut(index) {
                                        *item = changed;
                                    }
                                }),
                            );
                        }
                    }
                    Err(e) => problem.set(Some(e)),
                }
            };
            let typed = move |text: String| problem.set(check(&text).err());
            view! {
                <SettingField
                    setting=*setting
                    label
                    current=Signal::stored(current)
                    typed=Callback::new(typed)
                    write=Callback::new(write)
                />
            }
        })
        .collect_view();
    view! {
        <li>
            <code>{action.with_value(summary)}</code>
            <button
                type="button"
                class="fd-link"
                aria-label=format!("Remove {field} {number} ({kind})")
                on:click=remove
            >
                "Remove"
            </button>
            <div class="fd-settings" role="group" aria-label=format!("Settings of {field} {number} ({kind})")>
                {fields}
                {move || problem.get().map(|p| view! { <p class="fd-setting-problem" role="alert">{p}</p> })}
            </div>
        </li>
    }
}

/// One setting's field: `typed` on every keystroke (to check), `write` when it is left
/// or chosen. `label` names it for assistive technology among its like.
#[component]
fn SettingField(
    setting: Setting,
    label: String,
    current: Signal<String>,
    typed: Callback<String>,
    write: Callback<String>,
) -> impl IntoView {
    match setting.input {
        Input::Flag => view! {
            <label class="fd-setting fd-flag">
                <input type="checkbox" aria-label=label prop:checked=move || current.get() == "true"
                    on:change=move |ev| write.run(if event_target_checked(&ev) { "true".into() } else { String::new() })/>
                {setting.label}
            </label>
        }
        .into_any(),
        Input::Choice(options) => view! {
            <label class="fd-setting">
                {setting.label}
                <select aria-label=label prop:value=move || current.get()
                    on:change=move |ev| write.run(event_target_value(&ev))>
                    {options.iter().map(|option| {
                        let shown = match *option {
                            "" => "(inherit)",
                            "true" => "yes",
                            "false" => "no",
                            other => other,
                        };
                        view! { <option value=*option>{shown}</option> }
                    }).collect_view()}
                </select>
            </label>
        }
        .into_any(),
        Input::Text | Input::Number | Input::List => view! {
            <label class="fd-setting">
                {setting.label}
                <input type=if setting.input == Input::Number { "number" } else { "text" }
                    aria-label=label prop:value=move || current.get()
                    on:input=move |ev| typed.run(event_target_value(&ev))
                    on:change=move |ev| write.run(event_target_value(&ev))/>
            </label>
        }
        .into_any(),
    }
}

#[component]
fn EffectivePolicyView(ui: Ui, name: String) -> impl IntoView {
    let policy = Memo::new(move |_| {
        let product = ui.product.get();
        ui.check.with(|c| {
            let flow = c.flow.as_ref()?;
            effective_policy(&c.resources, &flow.metadata.name, product.as_deref(), &name)
        })
    });
    let product = move || {
        ui.product
            .get()
            .map_or_else(|| "any product".to_owned(), |p| format!("product {p}"))
    };
    view! {
        <h3>"Effective policy"</h3>
        <p class="fd-hint">{move || format!("For {}: what the model resolves, and who set each field.", product())}</p>
        {move || match policy.get() {
            None => {
                view! { <p class="fd-hint">"Unavailable until the environment exists and the YAML reads as a flow."</p> }
                    .into_any()
            }
            Some(policy) => {
                let value = |field: &str| -> String {
                    match field {
                        "action" => action_value(Some(policy.action)).to_owned(),
                        "pullRequest.autoMerge" => policy.pull_request.auto_merge.to_string(),
                        "pullRequest.labels" => {
                            if policy.pull_request.labels.is_empty() {
                                "none".to_owned()
                            } else {
                                policy.pull_request.labels.join(", ")
                            }
                        }
                        "gates" => describe(&policy.gates),
                        _ => describe(&policy.verify),
                    }
                };
                let rows = policy
                    .explanation
                    .iter()
                    .map(|origin| {
                        let field = origin.field.as_str();
                        let mut source = format!("set by {}", origin.source);
                        if !origin.overridden.is_empty() {
                            let lost: Vec<String> = origin.overridden.iter().map(ToString::to_string).collect();
                            source.push_str(&format!("; overrides {}", lost.join(", ")));
                        }
                        view! {
                            <tr>
                                <th scope="row">{field}</th>
                                <td>
                                    <strong>{value(field)}</strong>
                                    <span class="fd-origin">{source}</span>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view();
                view! {
                    <table class="fd-effective" data-testid="effective-policy">
                        <thead>
                            <tr>
                                <th scope="col">"Field"</th>
                                <th scope="col">"Value, and who set it"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                }
                    .into_any()
            }
        }}
    }
}

fn describe(actions: &[Action]) -> String {
    if actions.is_empty() {
        "none".to_owned()
    } else {
        actions
            .iter()
            .map(|a| a.kind().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where in the text a 1-based line starts and ends, in UTF-16 units as text fields
/// count them.
fn line_range(text: &str, line: usize) -> (u32, u32) {
    let mut start = 0usize;
    for (index, content) in text.split('\n').enumerate() {
        let length = content.encode_utf16().count();
        if index + 1 == line {
            return (start as u32, (start + length) as u32);
        }
        start += length + 1;
    }
    (start as u32, start as u32)
}

#[component]
pub(super) fn YamlPanel(ui: Ui) -> impl IntoView {
    let area = NodeRef::<html::Textarea>::new();
    let problems = Memo::new(move |_| {
        let unreadable: Vec<Diagnostic> = ui.editor.with(|e| e.unreadable().to_vec());
        if unreadable.is_empty() {
            ui.check.with(|c| c.diagnostics.clone())
        } else {
            unreadable
        }
    });
    let status = move || {
        let errors = problems.with(|p| p.iter().filter(|d| d.is_error()).count());
        match errors {
            0 => "Valid".to_owned(),
            1 => "1 problem".to_owned(),
            n => format!("{n} problems"),
        }
    };
    let jump = move |line: usize| {
        let Some(area) = area.get_untracked() else {
            return;
        };
        let (start, end) = ui.editor.with_untracked(|e| line_range(e.text(), line));
        let _ = area.focus();
        let _ = area.set_selection_range(start, end);
        // About one line of the default monospace font per line number.
        area.set_scroll_top(((line.saturating_sub(3)) * 18) as i32);
    };
    let initial = ui.editor.with_untracked(|e| e.text().to_owned());
    view! {
        <section class="fd-yaml" aria-labelledby="fd-yaml-title">
            <div class="fd-panel-head">
                <h2 id="fd-yaml-title">"YAML"</h2>
                <span
                    class="fd-yaml-status"
                    class:fd-bad=move || problems.with(|p| p.iter().any(Diagnostic::is_error))
                    data-testid="yaml-status"
                >
                    {status}
                </span>
            </div>
            <textarea
                node_ref=area
                class="fd-yaml-text"
                aria-label="Flow YAML"
                aria-describedby="fd-yaml-problems"
                spellcheck="false"
                autocomplete="off"
                wrap="off"
                data-testid="yaml-panel"
                prop:value=move || ui.text.get()
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    ui.editor.update(|e| e.edit_text(text));
                }
            >
                {initial}
            </textarea>
            <ul id="fd-yaml-problems" class="fd-problems" aria-label="Problems in the YAML" data-testid="yaml-problems">
                <For
                    each=move || problems.get().into_iter().enumerate()
                    key=|(index, d)| (*index, d.line, d.column, d.message.clone())
                    children=move |(_, problem)| {
                        let line = problem.line;
                        let warning = problem.severity == Severity::AdminOnly;
                        view! {
                            <li class:fd-warning=warning>
                                <button type="button" class="fd-link" on:click=move |_| jump(line)>
                                    {format!("Line {}:{}", problem.line, problem.column)}
                                </button>
                                " "
                                {problem.message.clone()}
                            </li>
                        }
                    }
                />
            </ul>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::line_range;

    #[test]
    fn line_ranges_count_utf16_units() {
        let text = "a: 1\nname: ü😀\nz: 3";
        assert_eq!(line_range(text, 1), (0, 4));
        assert_eq!(line_range(text, 2), (5, 14));
        assert_eq!(line_range(text, 3), (15, 19));
        assert_eq!(line_range(text, 9), (20, 20));
    }
}
