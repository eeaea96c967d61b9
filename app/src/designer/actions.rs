//! Gate, verify and hook actions as the inspector offers, shows and edits them: each
//! kind's settings as form fields (see `fields`). Maps (headers, parameters, env) stay
//! in the YAML panel.

use super::fields::{self, setting, Input, Setting};
use promenade_model::action::Action;
use serde_json::{json, Value};

/// Which list an action goes to: a policy's gates or verification, or a flow's hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionList {
    Gates,
    Verify,
    OnSuccess,
    OnFailure,
}

impl ActionList {
    /// The action kinds this list accepts, as the model's validation does.
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            Self::Gates => &[
                "approval", "soak", "http", "argocd", "workflow", "command", "window",
            ],
            Self::Verify => &["soak", "http", "argocd", "workflow", "command"],
            Self::OnSuccess | Self::OnFailure => &["http", "workflow", "command"],
        }
    }

    /// `gates` or `verify`, as written in YAML.
    pub fn field(self) -> &'static str {
        match self {
            Self::Gates => "gates",
            Self::Verify => "verify",
            Self::OnSuccess => "onSuccess",
            Self::OnFailure => "onFailure",
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
        _ => "apply",
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

const TIMEOUT: Setting = setting("timeout", "Timeout (e.g. 10m)", Input::Text);

const APPROVAL: &[Setting] = &[
    setting("count", "Approvals needed", Input::Number),
    setting(
        "roles",
        "Roles that may approve (comma-separated)",
        Input::List,
    ),
    setting(
        "allowSelfApproval",
        "Whoever started the release may approve",
        Input::Flag,
    ),
];

const SOAK: &[Setting] = &[
    setting("duration", "Duration (30m, 2h, 1d)", Input::Text),
    setting(
        "after",
        "Counted from",
        Input::Choice(&["", "upstream", "apply"]),
    ),
];

const HTTP: &[Setting] = &[
    setting("url", "URL", Input::Text),
    setting(
        "method",
        "Method",
        Input::Choice(&["", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
    ),
    setting("expectStatus", "Expected status", Input::Number),
    TIMEOUT,
];

const ARGOCD: &[Setting] = &[
    setting(
        "health",
        "Health to wait for",
        Input::Choice(&["", "Healthy", "Progressing", "Degraded", "Suspended"]),
    ),
    setting("sync", "Sync", Input::Choice(&["", "Synced", "true"])),
    setting("prune", "Prune when syncing", Input::Flag),
    TIMEOUT,
];

const WORKFLOW: &[Setting] = &[
    setting("template", "Workflow template", Input::Text),
    setting("namespace", "Namespace", Input::Text),
    TIMEOUT,
];

const COMMAND: &[Setting] = &[
    setting(
        "args",
        "Program and arguments (comma-separated)",
        Input::List,
    ),
    TIMEOUT,
];

const WINDOW: &[Setting] = &[
    setting("days", "Days (mon, tue, …)", Input::List),
    setting("hours", "Hours (09:00-17:00)", Input::Text),
    setting("timezone", "Time zone (e.g. Europe/Berlin)", Input::Text),
];

/// The settings the form offers for `kind`.
pub fn settings(kind: &str) -> &'static [Setting] {
    match kind {
        "approval" => APPROVAL,
        "soak" => SOAK,
        "http" => HTTP,
        "argocd" => ARGOCD,
        "workflow" => WORKFLOW,
        "command" => COMMAND,
        "window" => WINDOW,
        _ => &[],
    }
}

/// The setting's current value as its field shows it.
pub fn field_text(action: &Action, key: &str) -> String {
    fields::text(action, Some(action.kind().as_str()), key)
}

/// `action` with `setting` set from the field's `text`, or why the text does not do.
pub fn with_setting(action: &Action, setting: &Setting, text: &str) -> Result<Action, String> {
    let changed = fields::with(action, Some(action.kind().as_str()), setting, text)?;
    if let Action::Http(http) = &changed {
        if !(http.url.starts_with("https://") || http.url.starts_with("http://")) {
            return Err(format!(
                "URL: `{}` is not an http:// or https:// URL",
                http.url
            ));
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use promenade_model::action::ActionKind;

    const ALL_LISTS: [ActionList; 4] = [
        ActionList::Gates,
        ActionList::Verify,
        ActionList::OnSuccess,
        ActionList::OnFailure,
    ];

    #[test]
    fn every_offered_kind_has_a_template() {
        for list in ALL_LISTS {
            for kind in list.kinds() {
                let action = template(kind, list).unwrap();
                assert_eq!(action.kind().as_str(), *kind);
            }
        }
        assert_eq!(template("approval", ActionList::Verify), None);
        assert_eq!(template("argocd", ActionList::OnFailure), None);
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

    fn set(action: &Action, key: &str, text: &str) -> Result<Action, String> {
        let kind = action.kind();
        let setting = settings(kind.as_str())
            .iter()
            .find(|s| s.key == key)
            .unwrap();
        with_setting(action, setting, text)
    }

    #[test]
    fn every_offered_setting_reads_back_what_was_written() {
        for list in ALL_LISTS {
            for kind in list.kinds() {
                let action = template(kind, list).unwrap();
                for setting in settings(kind) {
                    let text = field_text(&action, setting.key);
                    let same = with_setting(&action, setting, &text);
                    assert_eq!(same.as_ref(), Ok(&action), "{kind}.{}", setting.key);
                }
            }
        }
    }

    #[test]
    fn fields_write_typed_settings_and_refuse_what_the_model_refuses() {
        let approval = template("approval", ActionList::Gates).unwrap();
        let approval = set(&approval, "count", "2").unwrap();
        let approval = set(&approval, "roles", "release-manager, admin").unwrap();
        assert_eq!(
            summary(&approval),
            r#"approval {"count":2,"roles":["release-manager","admin"]}"#
        );
        assert_eq!(field_text(&approval, "roles"), "release-manager, admin");
        let approval = set(&approval, "allowSelfApproval", "true").unwrap();
        assert_eq!(field_text(&approval, "allowSelfApproval"), "true");
        assert!(set(&approval, "count", "0")
            .unwrap_err()
            .starts_with("Approvals needed"));
        assert!(set(&approval, "count", "two")
            .unwrap_err()
            .contains("whole number"));

        let soak = template("soak", ActionList::Gates).unwrap();
        assert_eq!(
            field_text(&set(&soak, "duration", "2h").unwrap(), "duration"),
            "2h"
        );
        assert!(set(&soak, "duration", "soon").is_err());
        assert!(
            set(&soak, "duration", "").is_err(),
            "a soak needs a duration"
        );

        let argocd = template("argocd", ActionList::Verify).unwrap();
        let triggered = set(&argocd, "sync", "true").unwrap();
        assert_eq!(field_text(&triggered, "sync"), "true");
        assert_eq!(field_text(&set(&argocd, "sync", "").unwrap(), "sync"), "");

        let http = template("http", ActionList::Verify).unwrap();
        assert!(set(&http, "url", "ftp://example.com")
            .unwrap_err()
            .contains("http://"));
        let window = template("window", ActionList::Gates).unwrap();
        assert!(set(&window, "hours", "9-5").is_err());
        assert_eq!(
            field_text(&set(&window, "hours", "09:00-17:00").unwrap(), "hours"),
            "09:00-17:00"
        );
        assert!(set(&window, "days", "mon, funday").is_err());
    }
}
