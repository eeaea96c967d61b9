//! Gate and verify actions as the inspector offers and shows them.

use promenade_model::action::Action;
use serde_json::{json, Value};

/// Which list of a policy an action goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionList {
    Gates,
    Verify,
}

impl ActionList {
    /// The action kinds this list accepts, as the model's validation does.
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            Self::Gates => &[
                "approval", "soak", "http", "argocd", "workflow", "command", "window",
            ],
            Self::Verify => &["soak", "http", "argocd", "workflow", "command"],
        }
    }

    /// `gates` or `verify`, as written in YAML.
    pub fn field(self) -> &'static str {
        match self {
            Self::Gates => "gates",
            Self::Verify => "verify",
        }
    }
}

/// A new action of `kind` with settings that validate, to be refined in the YAML
/// panel. `None` for a kind the list does not accept.
pub fn template(kind: &str, list: ActionList) -> Option<Action> {
    if !list.kinds().contains(&kind) {
        return None;
    }
    let soak_after = match list {
        ActionList::Gates => "upstream",
        ActionList::Verify => "apply",
    };
    let settings = match kind {
        "approval" => json!({ "count": 1 }),
        "soak" => json!({ "after": soak_after, "duration": "30m" }),
        "http" => json!({ "url": "https://example.com/health", "expectStatus": 200 }),
        "argocd" => json!({ "health": "Healthy", "sync": "Synced" }),
        "workflow" => json!({ "template": "smoke-tests" }),
        "command" => json!({ "args": ["true"] }),
        "window" => json!({ "days": ["mon", "tue", "wed", "thu", "fri"] }),
        _ => return None,
    };
    serde_json::from_value(json!({ kind: settings })).ok()
}

/// One line for an action: its kind and its settings as compact JSON.
pub fn summary(action: &Action) -> String {
    let kind = action.kind();
    match serde_json::to_value(action) {
        Ok(Value::Object(mut map)) => match map.remove(kind.as_str()) {
            Some(Value::Object(settings)) if settings.is_empty() => kind.to_string(),
            Some(settings) => format!("{kind} {settings}"),
            None => kind.to_string(),
        },
        _ => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promenade_model::action::ActionKind;

    #[test]
    fn every_offered_kind_has_a_template() {
        for list in [ActionList::Gates, ActionList::Verify] {
            for kind in list.kinds() {
                let action = template(kind, list).unwrap();
                assert_eq!(action.kind().as_str(), *kind);
            }
        }
        assert_eq!(template("approval", ActionList::Verify), None);
        assert_eq!(template("teleport", ActionList::Gates), None);
    }

    #[test]
    fn summaries_show_kind_and_settings() {
        let soak = template("soak", ActionList::Verify).unwrap();
        assert_eq!(summary(&soak), r#"soak {"after":"apply","duration":"30m"}"#);
        let approval = template("approval", ActionList::Gates).unwrap();
        assert_eq!(approval.kind(), ActionKind::Approval);
        assert_eq!(summary(&approval), r#"approval {"count":1}"#);
    }
}
