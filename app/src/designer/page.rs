//! The flow pages: the list of flows, and the designer with its toolbar, save,
//! revert and download.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;
use promenade_model::layout::Layout;
use promenade_model::resources::ResourceKind;

use super::canvas::Canvas;
use super::check::{check, Check, Context, StoredDocument};
use super::dom;
use super::editor::{data_url, Editor};
use super::geometry::{Rect, Viewport};
use super::panels::{Inspector, Palette, YamlPanel};
use super::server::{list_flows, load_designer, DesignerData, SaveFlow, SaveOutcome};
use super::state::{Designer, Edge, Item, Refusal};
use crate::layout::PageTitle;

/// The designer's shared state. Every field is a cheap handle, so components take it
/// by value.
#[derive(Clone, Copy)]
pub(super) struct Ui {
    pub editor: RwSignal<Editor>,
    /// Views of the editor that most components need. Each recomputes once per change
    /// and wakes its readers only when its own value changed, so a change that moves
    /// one node does not make two hundred nodes look at the whole document.
    pub view: EditorView,
    /// The panel's text, as a memo: its readers (validation first) wake when the text
    /// changes, not on every selection change.
    pub text: Memo<String>,
    pub context: RwSignal<Context>,
    pub check: Memo<Arc<Check>>,
    pub viewport: RwSignal<Viewport>,
    /// The canvas element's size in CSS pixels.
    pub size: RwSignal<(f64, f64)>,
    /// The product node badges and the effective policy are shown for.
    pub product: RwSignal<Option<String>>,
    /// The live region's text; the counter makes a repeated message a new one.
    pub message: RwSignal<(u64, String)>,
    pub canvas: NodeRef<html::Div>,
    pub inspector: NodeRef<html::H2>,
    pub connect_menu: RwSignal<bool>,
    pub can_edit: bool,
    /// One trigger per node, notified for each frame of a drag that moves it: a drag
    /// changes the editor without waking its subscribers until it ends, and only the
    /// dragged nodes, their edges and the minimap follow frame by frame.
    movers: StoredValue<HashMap<String, ArcTrigger>>,
}

#[derive(Clone, Copy)]
pub(super) struct EditorView {
    pub nodes: Memo<Vec<String>>,
    pub edges: Memo<Vec<Edge>>,
    pub layout: Memo<Layout>,
    pub selection: Memo<BTreeSet<Item>>,
    pub trigger: Memo<Option<String>>,
    /// Each step's `dependsOn`.
    pub depends: Memo<BTreeMap<String, Vec<String>>>,
    /// Notified for every frame of a drag, whichever nodes it moves.
    pub dragging: StoredValue<ArcTrigger>,
}

impl EditorView {
    fn new(editor: RwSignal<Editor>) -> Self {
        Self {
            nodes: Memo::new(move |_| editor.with(|e| e.designer().nodes())),
            edges: Memo::new(move |_| editor.with(|e| e.designer().edges())),
            layout: Memo::new(move |_| editor.with(|e| e.designer().doc().layout.clone())),
            selection: Memo::new(move |_| editor.with(|e| e.designer().selection().clone())),
            trigger: Memo::new(move |_| editor.with(|e| e.designer().trigger().map(str::to_owned))),
            depends: Memo::new(move |_| {
                editor.with(|e| {
                    e.designer()
                        .flow()
                        .spec
                        .steps
                        .iter()
                        .map(|s| (s.environment.clone(), s.depends_on.clone()))
                        .collect()
                })
            }),
            dragging: StoredValue::new(ArcTrigger::new()),
        }
    }
}

impl Ui {
    /// The trigger that wakes what follows `node` during a drag.
    pub fn mover(&self, node: &str) -> ArcTrigger {
        self.movers
            .with_value(|m| m.get(node).cloned())
            .unwrap_or_else(|| {
                let trigger = ArcTrigger::new();
                self.movers
                    .update_value(|m| drop(m.insert(node.to_owned(), trigger.clone())));
                trigger
            })
    }

    /// One frame of a drag: moves the dragged nodes in the editor without waking its
    /// subscribers, then wakes only those that follow the moved nodes.
    pub fn drag_frame(&self, moved: &[String], dx: f64, dy: f64) {
        self.editor.update_untracked(|e| {
            e.edit(|d| d.drag_by(dx, dy));
        });
        for node in moved {
            self.mover(node).notify();
        }
        self.view.dragging.with_value(ArcTrigger::notify);
    }

    /// The live position of a node: current during a drag too.
    pub fn position(&self, node: &str) -> Option<(i64, i64)> {
        self.editor.with_untracked(|e| e.designer().position(node))
    }

    pub fn announce(&self, message: impl Into<String>) {
        let message = message.into();
        self.message.update(|(count, text)| {
            *count += 1;
            *text = message;
        });
    }

    /// A canvas change; says why when the canvas is read-only.
    pub fn edit<T>(&self, change: impl FnOnce(&mut Designer) -> T) -> Option<T> {
        let result = self.editor.try_update(|e| e.edit(change)).flatten();
        if result.is_none() {
            self.announce("The canvas is read-only until the YAML reads as a flow again");
        }
        result
    }

    /// Announces what a change did, or why it was refused.
    pub fn report(&self, result: Option<Result<String, Refusal>>) {
        match result {
            Some(Ok(message)) => self.announce(message),
            Some(Err(refusal)) => self.announce(format!("Refused: {refusal}")),
            None => {}
        }
    }

    pub fn delete_selection(&self) {
        match self.edit(Designer::delete_selection) {
            Some(Some(message)) => {
                self.announce(message);
                // The focused node may be gone; keep keyboard users on the canvas.
                if let Some(canvas) = self.canvas.get_untracked() {
                    let _ = canvas.focus();
                }
            }
            Some(None) => self.announce("Nothing is selected"),
            None => {}
        }
    }

    /// The canvas size now. A size read when the page mounted can be stale (an
    /// element not yet in the document measures 0), so gestures ask again.
    pub fn measure(&self) -> (f64, f64) {
        let measured = self
            .canvas
            .get_untracked()
            .map(|canvas| dom::size(&canvas))
            .filter(|(width, height)| *width > 0.0 && *height > 0.0);
        match measured {
            Some(size) if size != self.size.get_untracked() => {
                self.size.set(size);
                size
            }
            _ => self.size.get_untracked(),
        }
    }

    pub fn zoom_by(&self, factor: f64) {
        let size = self.measure();
        self.viewport
            .update(|v| *v = v.zoom_at(factor, (size.0 / 2.0, size.1 / 2.0)));
    }

    pub fn fit_view(&self) {
        let content = self
            .editor
            .with_untracked(|e| Rect::around_nodes(e.designer().positions()));
        if let Some(content) = content {
            self.viewport.set(Viewport::fit(content, self.measure()));
        }
    }

    /// Shows the inspector of the selected node and moves focus there: to its heading,
    /// or into "Connect to…" when `connect`.
    pub fn open_inspector(&self, connect: bool) {
        self.connect_menu.set(connect);
        let heading = self.inspector;
        let open = self.connect_menu;
        // The inspector renders on the next tick; focus what is there by then.
        request_animation_frame(move || {
            if open.is_disposed() {
                return;
            }
            let target = if connect {
                document()
                    .query_selector("#fd-connect-menu [role=menuitem]")
                    .ok()
                    .flatten()
                    .and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok())
            } else {
                heading.get_untracked().map(|h| {
                    let element: &leptos::web_sys::HtmlElement = h.as_ref();
                    element.clone()
                })
            };
            if let Some(target) = target {
                let _ = target.focus();
            }
        });
    }
}

/// `/flows`: every flow, with the products that use it and its last change.
#[component]
pub fn FlowsPage() -> impl IntoView {
    let flows = Resource::new(|| (), |()| list_flows());
    view! {
        <PageTitle
            title="Flows"
            summary="Promotion flows: which environments a version visits, and in what order."
        />
        <crate::freeze::FreezeBanner/>
        <p class="fd-list-actions">
            <a class="button" href="/flows/new" data-testid="new-flow">"New flow"</a>
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading flows…"</p> }>
            {move || Suspend::new(async move {
                match flows.await {
                    Ok(flows) if flows.is_empty() => {
                        view! {
                            <section class="card empty">
                                <h2>"No flows yet"</h2>
                                <p>"Draw the first one with New flow, or apply a PromotionFlow with the CLI."</p>
                            </section>
                        }
                            .into_any()
                    }
                    Ok(flows) => {
                        view! {
                            <table class="fd-list card" data-testid="flow-list">
                                <thead>
                                    <tr>
                                        <th scope="col">"Flow"</th>
                                        <th scope="col">"Trigger"</th>
                                        <th scope="col">"Steps"</th>
                                        <th scope="col">"Used by"</th>
                                        <th scope="col">"Last change"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {flows
                                        .into_iter()
                                        .map(|flow| {
                                            let products = if flow.products.is_empty() {
                                                "no product".to_owned()
                                            } else {
                                                flow.products.join(", ")
                                            };
                                            view! {
                                                <tr>
                                                    <th scope="row">
                                                        <a href=format!("/flows/{}", flow.name)>{flow.name.clone()}</a>
                                                    </th>
                                                    <td>{flow.trigger}</td>
                                                    <td>{flow.steps}</td>
                                                    <td>{products}</td>
                                                    <td>
                                                        {format!(
                                                            "revision {} by {}, {}",
                                                            flow.revision,
                                                            flow.updated_by,
                                                            flow.updated_at,
                                                        )}
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <p role="alert">{format!("The flows could not be loaded: {error}")}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/flows/new`
#[component]
pub fn NewFlowPage() -> impl IntoView {
    view! { <DesignerLoader name=Signal::derive(|| None)/> }
}

/// `/flows/:name`
#[component]
pub fn FlowPage() -> impl IntoView {
    let params = use_params_map();
    let name = Signal::derive(move || params.read().get("name"));
    view! { <DesignerLoader name/> }
}

#[component]
fn DesignerLoader(name: Signal<Option<String>>) -> impl IntoView {
    let data = Resource::new(move || name.get(), load_designer);
    let reload = Callback::new(move |()| data.refetch());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the flow…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => view! { <FlowDesigner data reload/> }.into_any(),
                    Err(error) => {
                        view! {
                            <PageTitle title="Flow" summary="The flow could not be opened."/>
                            <p role="alert">{error.to_string()}</p>
                            <p><a href="/flows">"All flows"</a></p>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// Keys that belong to a text field there, not to the canvas.
fn typing_in_field(ev: &KeyboardEvent) -> bool {
    ev.target()
        .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
        .is_some_and(|e| matches!(e.tag_name().as_str(), "TEXTAREA" | "INPUT" | "SELECT"))
}

#[component]
fn FlowDesigner(data: DesignerData, reload: Callback<()>) -> impl IntoView {
    let DesignerData {
        flow,
        documents,
        can_edit,
    } = data;
    let editor = RwSignal::new(match &flow {
        Some(saved) => Editor::open(&saved.document),
        None => Editor::create("new-flow"),
    });
    let loaded = RwSignal::new(flow.as_ref().map(|f| (f.name.clone(), f.revision)));
    let last_saved = RwSignal::new(flow.as_ref().map(|f| {
        format!(
            "revision {} by {}, {}",
            f.revision, f.updated_by, f.updated_at
        )
    }));
    let context = RwSignal::new(Context::new(documents));
    let text = Memo::new(move |_| editor.with(|e| e.text().to_owned()));
    let checked = Memo::new_with_compare(
        move |_| Arc::new(context.with(|c| text.with(|t| check(c, t)))),
        // A new check is always news; it only runs when the text or context changed.
        |_, _| true,
    );
    let flow_name = Memo::new(move |_| editor.with(|e| e.designer().flow().metadata.name.clone()));
    let product = RwSignal::new(context.with_untracked(|c| {
        c.products(&flow_name.get_untracked())
            .first()
            .map(|p| p.name.clone())
    }));
    let ui = Ui {
        editor,
        view: EditorView::new(editor),
        text,
        context,
        check: checked,
        viewport: RwSignal::new(Viewport::default()),
        size: RwSignal::new((960.0, 560.0)),
        product,
        message: RwSignal::new((0, String::new())),
        canvas: NodeRef::new(),
        inspector: NodeRef::new(),
        connect_menu: RwSignal::new(false),
        can_edit,
        movers: StoredValue::new(HashMap::new()),
    };

    // Until the bundle runs, buttons would do nothing: tests and people wait for this.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| {
        if ui.canvas.get().is_some() {
            // After this frame the canvas is laid out in the document and has a size.
            request_animation_frame(move || {
                if hydrated.is_disposed() {
                    return;
                }
                ui.fit_view();
                hydrated.set(true);
            });
            let resize = window_event_listener(leptos::ev::resize, move |_| {
                ui.measure();
            });
            on_cleanup(move || resize.remove());
        }
    });

    let save = ServerAction::<SaveFlow>::new();
    let conflict = RwSignal::new(None::<(String, i64)>);
    let save_problems = RwSignal::new(Vec::<String>::new());
    let navigate = use_navigate();
    Effect::new(move |_| {
        let Some(result) = save.value().get() else {
            return;
        };
        match result {
            Ok(SaveOutcome::Saved(saved)) => {
                conflict.set(None);
                save_problems.set(Vec::new());
                let renamed =
                    loaded.get_untracked().map(|(name, _)| name) != Some(saved.name.clone());
                context.update(|c| {
                    c.upsert(StoredDocument {
                        kind: ResourceKind::PromotionFlow,
                        name: saved.name.clone(),
                        document: saved.document.clone(),
                    })
                });
                editor.update(|e| e.mark_saved(saved.document.clone()));
                loaded.set(Some((saved.name.clone(), saved.revision)));
                last_saved.set(Some(format!(
                    "revision {} by {}, {}",
                    saved.revision, saved.updated_by, saved.updated_at
                )));
                ui.announce(format!(
                    "Saved {} as revision {}",
                    saved.name, saved.revision
                ));
                if renamed {
                    navigate(
                        &format!("/flows/{}", saved.name),
                        NavigateOptions::default(),
                    );
                }
            }
            Ok(SaveOutcome::Conflict { message, revision }) => {
                ui.announce(format!("Not saved: {message}"));
                conflict.set(Some((message, revision)));
            }
            Ok(SaveOutcome::Invalid(problems)) => {
                ui.announce("Not saved: the server found problems in the flow");
                save_problems.set(problems);
            }
            Err(error) => ui.announce(format!("Not saved: {error}")),
        }
    });
    let dispatch_save = move |revision: Option<i64>| {
        let yaml = editor.with_untracked(|e| e.text().to_owned());
        let (loaded_name, loaded_revision) =
            loaded.get_untracked().map_or((None, 0), |(name, current)| {
                (Some(name), revision.unwrap_or(current))
            });
        save.dispatch(SaveFlow {
            yaml,
            loaded_name,
            loaded_revision,
        });
    };
    let undo = move || {
        let label = editor.try_update(|e| e.undo()).flatten();
        ui.announce(label.map_or_else(|| "Nothing to undo".to_owned(), |l| format!("Undid: {l}")));
    };
    let redo = move || {
        let label = editor.try_update(|e| e.redo()).flatten();
        ui.announce(label.map_or_else(|| "Nothing to redo".to_owned(), |l| format!("Redid: {l}")));
    };
    let on_keydown = move |ev: KeyboardEvent| {
        let command = ev.ctrl_key() || ev.meta_key();
        if !command {
            return;
        }
        match ev.key().as_str() {
            "s" | "S" => {
                ev.prevent_default();
                if can_edit {
                    dispatch_save(None);
                }
            }
            _ if typing_in_field(&ev) => {}
            "z" | "Z" if ev.shift_key() => {
                ev.prevent_default();
                redo();
            }
            "z" | "Z" => {
                ev.prevent_default();
                undo();
            }
            "y" | "Y" => {
                ev.prevent_default();
                redo();
            }
            _ => {}
        }
    };

    let is_new = flow.is_none();
    let heading = match &flow {
        Some(saved) => format!("Flow {}", saved.name),
        None => "New flow".to_owned(),
    };
    let dirty = Memo::new(move |_| editor.with(Editor::is_dirty));
    dom::warn_before_leaving(move || dirty.get_untracked());
    let locked = Memo::new(move |_| editor.with(Editor::is_locked));
    let status = move || {
        if locked.get() {
            "The YAML has a problem: the canvas is read-only".to_owned()
        } else if dirty.get() {
            "Unsaved changes".to_owned()
        } else {
            last_saved
                .get()
                .map_or_else(|| "Not saved yet".to_owned(), |s| format!("Saved: {s}"))
        }
    };
    let products = Memo::new(move |_| {
        context.with(|c| {
            c.products(&flow_name.get())
                .into_iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
        })
    });
    let used_by = Memo::new(move |_| {
        let flow = flow_name.get();
        context.with(|c| {
            c.products(&flow)
                .into_iter()
                .filter(|p| p.flows.contains(&flow))
                .map(|p| p.name)
                .collect::<Vec<_>>()
        })
    });
    let download = move || data_url(&text.get());
    let file_name = move || format!("{}.yaml", flow_name.get());
    let busy = move || !hydrated.get() || save.pending().get();

    view! {
        <Title text=format!("{heading} · Promenade")/>
        <div
            class="fd-designer"
            data-testid="flow-designer"
            data-ready=move || hydrated.get().to_string()
            on:keydown=on_keydown
        >
            <header class="fd-header">
                <div class="fd-heading">
                    <h1>{heading}</h1>
                    <p class="muted" data-testid="save-status">{status}</p>
                    <p class="muted" data-testid="flow-products">
                        {move || {
                            let used = used_by.get();
                            if used.is_empty() {
                                return "Used by no product yet".into_any();
                            }
                            let links = used
                                .into_iter()
                                .enumerate()
                                .map(|(index, product)| {
                                    view! {
                                        {(index > 0).then_some(", ")}
                                        <a href=format!("/products/{product}") rel="external">{product.clone()}</a>
                                    }
                                })
                                .collect_view();
                            view! { "Used by " {links} }.into_any()
                        }}
                    </p>
                </div>
                <Show when=move || is_new>
                    <label class="fd-field fd-name">
                        "Name"
                        <input
                            type="text"
                            spellcheck="false"
                            autocomplete="off"
                            data-testid="flow-name"
                            prop:value=move || flow_name.get()
                            on:input=move |ev| {
                                let name = event_target_value(&ev);
                                ui.edit(|d| d.rename(&name));
                            }
                        />
                    </label>
                </Show>
                <div class="fd-toolbar" role="group" aria-label="Flow actions">
                    <button
                        type="button"
                        class="fd-tool"
                        title="Undo (Ctrl+Z)"
                        disabled=move || !hydrated.get() || !editor.with(|e| e.designer().can_undo()) || locked.get()
                        on:click=move |_| undo()
                    >
                        "Undo"
                    </button>
                    <button
                        type="button"
                        class="fd-tool"
                        title="Redo (Ctrl+Shift+Z)"
                        disabled=move || !hydrated.get() || !editor.with(|e| e.designer().can_redo()) || locked.get()
                        on:click=move |_| redo()
                    >
                        "Redo"
                    </button>
                    <button
                        type="button"
                        class="fd-tool"
                        title="Delete the selection (Delete)"
                        disabled=move || !hydrated.get() || ui.view.selection.with(BTreeSet::is_empty)
                        on:click=move |_| ui.delete_selection()
                    >
                        "Delete"
                    </button>
                    <button
                        type="button"
                        class="fd-tool"
                        title="Arrange the flow in layers from left to right"
                        disabled=move || !hydrated.get()
                        on:click=move |_| {
                            if let Some(message) = ui.edit(Designer::auto_layout) {
                                ui.announce(message);
                                ui.fit_view();
                            }
                        }
                    >
                        "Auto-layout"
                    </button>
                    <label class="fd-field fd-product">
                        "Product"
                        <select
                            prop:value=move || product.get().unwrap_or_default()
                            on:change=move |ev| {
                                let chosen = event_target_value(&ev);
                                product.set(Some(chosen).filter(|p| !p.is_empty()));
                            }
                        >
                            <option value="">"Any product"</option>
                            {move || {
                                products
                                    .get()
                                    .into_iter()
                                    .map(|p| view! { <option value=p.clone()>{p.clone()}</option> })
                                    .collect_view()
                            }}
                        </select>
                    </label>
                    <button
                        type="button"
                        class="fd-tool"
                        title="Back to the saved version"
                        disabled=move || busy() || is_new || !dirty.get()
                        on:click=move |_| {
                            editor.update(Editor::revert);
                            conflict.set(None);
                            ui.announce("Reverted to the saved version");
                        }
                    >
                        "Revert"
                    </button>
                    <a class="fd-tool" href=download download=file_name>"Download YAML"</a>
                    <button
                        type="button"
                        class="button"
                        data-testid="save-flow"
                        title="Save (Ctrl+S)"
                        disabled=move || busy() || !can_edit
                        on:click=move |_| dispatch_save(None)
                    >
                        {move || if save.pending().get() { "Saving…" } else { "Save" }}
                    </button>
                </div>
            </header>
            <crate::freeze::FreezeBanner/>
            <Show when=move || conflict.get().is_some()>
                <div class="fd-banner fd-conflict" role="alert" data-testid="save-conflict">
                    <p>{move || conflict.get().map(|(message, _)| format!("Not saved: {message}."))}</p>
                    <button type="button" class="button secondary" on:click=move |_| reload.run(())>
                        "Load their version"
                    </button>
                    <button
                        type="button"
                        class="button danger"
                        on:click=move |_| {
                            let theirs = conflict.get_untracked().map(|(_, revision)| revision);
                            dispatch_save(theirs);
                        }
                    >
                        "Overwrite with mine"
                    </button>
                </div>
            </Show>
            <Show when=move || !save_problems.with(Vec::is_empty)>
                <div class="fd-banner" role="alert">
                    <p>"The server refused the flow:"</p>
                    <ul>{move || save_problems.get().into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                </div>
            </Show>
            <div class="fd-body">
                <div class="fd-tools">
                    <Palette ui/>
                    <Inspector ui/>
                </div>
                <div class="fd-stage">
                    <Canvas ui/>
                    <p class="fd-announcer" role="status" aria-live="polite" data-testid="announcer">
                        {move || {
                            // A repeated message must still change the text to be read again.
                            let (count, message) = ui.message.get();
                            if count % 2 == 0 { message } else { format!("{message}\u{a0}") }
                        }}
                    </p>
                </div>
                <YamlPanel ui/>
            </div>
        </div>
    }
}
