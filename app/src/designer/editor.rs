//! The canvas and the YAML panel kept in step, both ways.
//!
//! A canvas change rewrites the panel with the canonical serializer. Text typed into
//! the panel redraws the canvas whenever it reads as a flow; while it does not, the
//! canvas keeps showing the last flow that did and refuses changes, because any canvas
//! change would rewrite the panel and throw away the text being fixed.

use promenade_model::canonical::to_yaml;
use promenade_model::diagnostic::Diagnostic;
use promenade_model::layout::Layout;
use promenade_model::resources::{PromotionFlow, Resource};

use super::arrange::complete_layout;
use super::check::parse_flow;
use super::state::{Designer, Doc};

/// Undo treats a run of keystrokes in the panel as one change.
const TYPING: &str = "yaml";

#[derive(Clone, Debug)]
pub struct Editor {
    designer: Designer,
    text: String,
    /// Why the text does not read as a flow; empty when it does.
    unreadable: Vec<Diagnostic>,
    /// The text as last saved (or loaded), for "unsaved changes" and revert.
    saved: String,
}

/// The panel's text for a document.
pub fn yaml_of(doc: &Doc) -> String {
    // Serializing plain data cannot fail; an empty panel would be the visible symptom.
    to_yaml(&Resource::PromotionFlow(doc.to_flow())).unwrap_or_default()
}

/// A document for a flow read from text, positioned by its annotation and, for nodes
/// the annotation does not place, by `fallback` (the positions drawn so far).
fn doc_from(mut flow: PromotionFlow, fallback: &Layout) -> Doc {
    let mut layout = fallback.clone();
    layout.extend(flow.layout().unwrap_or_default());
    flow.set_layout(&Layout::new());
    let layout = complete_layout(&flow, &layout);
    Doc { flow, layout }
}

/// A `data:` URL holding `text`, for the download link: no server round trip, and the
/// file is exactly what the panel shows.
pub fn data_url(text: &str) -> String {
    let mut url = String::from("data:application/yaml;charset=utf-8,");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~:/".contains(&byte) {
            url.push(byte as char);
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

impl Editor {
    /// Opens a stored flow. Stored documents were validated when applied, but a
    /// document that does not read is still shown, as text, rather than lost.
    pub fn open(text: &str) -> Self {
        match parse_flow(text) {
            Ok(flow) => {
                let doc = Doc::from_flow(flow);
                let text = yaml_of(&doc);
                Self {
                    designer: Designer::new(doc),
                    saved: text.clone(),
                    text,
                    unreadable: Vec::new(),
                }
            }
            Err(problems) => Self {
                designer: Designer::new(Doc::empty("")),
                text: text.to_owned(),
                unreadable: problems,
                saved: text.to_owned(),
            },
        }
    }

    /// A new, empty flow. It counts as unsaved from the start.
    pub fn create(name: &str) -> Self {
        let doc = Doc::empty(name);
        Self {
            text: yaml_of(&doc),
            designer: Designer::new(doc),
            unreadable: Vec::new(),
            saved: String::new(),
        }
    }

    pub fn designer(&self) -> &Designer {
        &self.designer
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the text fails to read as a flow, which makes the canvas read-only.
    pub fn is_locked(&self) -> bool {
        !self.unreadable.is_empty()
    }

    pub fn unreadable(&self) -> &[Diagnostic] {
        &self.unreadable
    }

    pub fn is_dirty(&self) -> bool {
        self.text != self.saved
    }

    /// Changes the canvas, then the text. `None` means the canvas is read-only now.
    pub fn edit<T>(&mut self, change: impl FnOnce(&mut Designer) -> T) -> Option<T> {
        if self.is_locked() {
            return None;
        }
        let version = self.designer.version();
        let was_dragging = self.designer.is_dragging();
        let result = change(&mut self.designer);
        let dragging = self.designer.is_dragging();
        // Regenerating only on real changes keeps text the user formatted by hand
        // as it is after a refused change.
        if !dragging && (self.designer.version() != version || was_dragging) {
            self.text = yaml_of(self.designer.doc());
        }
        Some(result)
    }

    /// Selection changes never touch the text, so they work while it is being fixed.
    pub fn select(&mut self, change: impl FnOnce(&mut Designer)) {
        change(&mut self.designer);
    }

    /// The panel's text changed: redraw when it reads as a flow.
    pub fn edit_text(&mut self, text: String) {
        match parse_flow(&text) {
            Ok(flow) => {
                let doc = doc_from(flow, &self.designer.doc().layout);
                self.designer.replace(doc, "edit the YAML", Some(TYPING));
                self.unreadable.clear();
            }
            Err(problems) => self.unreadable = problems,
        }
        self.text = text;
    }

    pub fn undo(&mut self) -> Option<String> {
        self.edit(Designer::undo).flatten()
    }

    pub fn redo(&mut self) -> Option<String> {
        self.edit(Designer::redo).flatten()
    }

    /// Back to the saved text; undoable like any other change.
    pub fn revert(&mut self) {
        let saved = self.saved.clone();
        match parse_flow(&saved) {
            Ok(flow) => {
                let doc = doc_from(flow, &self.designer.doc().layout);
                self.designer
                    .replace(doc, "revert to the saved version", None);
                self.unreadable.clear();
                // The saved text, byte for byte, so a revert is never "unsaved".
                self.text = saved;
            }
            Err(problems) => {
                self.unreadable = problems;
                self.text = saved;
            }
        }
    }

    /// The server stored `document` (its canonical form of the text).
    pub fn mark_saved(&mut self, document: String) {
        self.edit_text(document.clone());
        self.saved = document;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::designer::state::Item;

    const STANDARD: &str = r#"apiVersion: promenade.dev/v1alpha1
kind: PromotionFlow
metadata:
  name: standard
  annotations:
    promenade.dev/layout: '{"dev":[0,0],"qa":[240,0]}'
spec:
  triggerEnvironment: dev
  steps:
  - environment: qa
    dependsOn:
    - dev
  - environment: prod
    dependsOn:
    - qa
    policy:
      action: pr
  timeout: 2h
"#;

    #[test]
    fn yaml_round_trips_through_the_canvas() {
        let editor = Editor::open(STANDARD);
        let designer = editor.designer();
        assert_eq!(designer.position("qa"), Some((240, 0)));
        // prod had no position: it goes after qa.
        assert_eq!(designer.position("prod"), Some((520, 0)));
        let expected = STANDARD.replace(
            r#"{"dev":[0,0],"qa":[240,0]}"#,
            r#"{"dev":[0,0],"prod":[520,0],"qa":[240,0]}"#,
        );
        assert_eq!(editor.text(), expected);
        assert!(!editor.is_dirty());
        // What the canvas writes reads back as the same flow.
        let reread = parse_flow(editor.text()).unwrap();
        assert_eq!(reread, designer.doc().to_flow());
    }

    #[test]
    fn canvas_changes_rewrite_the_text_and_undo_restores_it() {
        let mut editor = Editor::open(STANDARD);
        let original = editor.text().to_owned();
        editor.edit(|d| d.add("staging", None)).unwrap().unwrap();
        editor
            .edit(|d| d.connect("qa", "staging"))
            .unwrap()
            .unwrap();
        assert!(editor
            .text()
            .contains("  - environment: staging\n    dependsOn:\n    - qa\n"));
        assert!(editor.is_dirty());
        editor.undo();
        editor.undo();
        assert_eq!(editor.text(), original);
        assert!(!editor.is_dirty());
    }

    #[test]
    fn a_drag_rewrites_the_text_once_at_the_end() {
        let mut editor = Editor::open(STANDARD);
        editor.select(|d| d.select(Item::Node("qa".into()), false));
        editor.edit(Designer::begin_drag);
        editor.edit(|d| d.drag_by(100.0, 0.0));
        assert!(editor.text().contains(r#""qa":[240,0]"#));
        editor.edit(Designer::end_drag);
        assert!(editor.text().contains(r#""qa":[340,0]"#));
    }

    #[test]
    fn typed_yaml_redraws_the_canvas_keeping_positions() {
        let mut editor = Editor::open(STANDARD);
        let text = editor.text().replace(
            "  timeout: 2h\n",
            "  - environment: hotfix\n    dependsOn:\n    - dev\n  timeout: 2h\n",
        );
        editor.edit_text(text.clone());
        assert_eq!(editor.text(), text);
        let designer = editor.designer();
        assert_eq!(designer.nodes(), ["dev", "qa", "prod", "hotfix"]);
        assert_eq!(designer.position("qa"), Some((240, 0)));
        assert_eq!(designer.position("hotfix"), Some((280, 120)));
    }

    #[test]
    fn unreadable_text_is_kept_and_locks_the_canvas() {
        let mut editor = Editor::open(STANDARD);
        let broken = editor.text().replace("steps:", "steps: [");
        editor.edit_text(broken.clone());
        assert!(editor.is_locked());
        assert!(editor.unreadable()[0].line > 0);
        assert_eq!(editor.edit(|d| d.add("x", None)), None);
        assert_eq!(editor.undo(), None);
        assert_eq!(editor.text(), broken);
        // The canvas still shows the last flow that read.
        assert_eq!(editor.designer().nodes(), ["dev", "qa", "prod"]);
        // Selection still works.
        editor.select(|d| d.select(Item::Node("dev".into()), false));
        assert_eq!(editor.designer().selected_nodes(), ["dev"]);

        let fixed = broken.replace("steps: [", "steps:");
        editor.edit_text(fixed);
        assert!(!editor.is_locked());
        assert!(editor.edit(|d| d.add("x", None)).is_some());
    }

    #[test]
    fn typing_is_undone_as_one_change() {
        let mut editor = Editor::open(STANDARD);
        let original = editor.text().to_owned();
        for timeout in ["1h", "3h", "5h"] {
            let text = original.replace("timeout: 2h", &format!("timeout: {timeout}"));
            editor.edit_text(text);
        }
        assert_eq!(editor.undo().as_deref(), Some("edit the YAML"));
        assert_eq!(editor.text(), original);
        assert_eq!(editor.undo(), None);
    }

    #[test]
    fn revert_returns_to_the_saved_text_and_can_be_undone() {
        let mut editor = Editor::open(STANDARD);
        let saved = editor.text().to_owned();
        editor.edit(|d| d.add("staging", None));
        editor.edit_text(editor.text().replace("steps:", "steps: ["));
        editor.revert();
        assert_eq!(editor.text(), saved);
        assert!(!editor.is_locked() && !editor.is_dirty());
        editor.undo();
        assert!(editor.designer().nodes().contains(&"staging".to_owned()));
    }

    #[test]
    fn downloads_are_percent_encoded() {
        assert_eq!(
            data_url("a: '{\"x\":[1]}'\n# ü"),
            "data:application/yaml;charset=utf-8,a:%20%27%7B%22x%22:%5B1%5D%7D%27%0A%23%20%C3%BC"
        );
    }

    #[test]
    fn a_new_flow_is_unsaved_until_the_server_stores_it() {
        let mut editor = Editor::create("fresh");
        assert!(editor.is_dirty());
        assert!(editor.text().contains("name: fresh"));
        editor.edit(|d| d.add("dev", None));
        let stored = editor.text().to_owned();
        editor.mark_saved(stored);
        assert!(!editor.is_dirty());
        assert_eq!(editor.designer().trigger(), Some("dev"));
    }
}
