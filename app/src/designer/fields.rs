//! Settings as the inspector's forms show and write them: each field reads and writes
//! one key of a resource part's JSON form, and the part is deserialised again after
//! every write, so the model's own types are the check (a field the form writes is one
//! the engine reads, and what the model refuses the form refuses with its message).

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

/// How a setting is typed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Free text; empty leaves the setting out.
    Text,
    /// A whole number.
    Number,
    /// Comma-separated words, written as a list.
    List,
    /// One of fixed values; the first, empty, leaves the setting out. `true` and
    /// `false` are written as booleans.
    Choice(&'static [&'static str]),
    /// On or off; off leaves the setting out.
    Flag,
}

/// One setting, as its form shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The key in the YAML.
    pub key: &'static str,
    pub label: &'static str,
    pub input: Input,
}

pub const fn setting(key: &'static str, label: &'static str, input: Input) -> Setting {
    Setting { key, label, input }
}

/// The value of `key` in `part` (or in its object at `within`) as its field shows it.
pub fn text<T: Serialize>(part: &T, within: Option<&str>, key: &str) -> String {
    let value = serde_json::to_value(part).ok().and_then(|whole| {
        let object = match within {
            Some(inner) => whole.get(inner)?.clone(),
            None => whole,
        };
        object.get(key).cloned()
    });
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text,
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

/// `part` with `setting` (in its object at `within`) set from the field's `text`, or
/// why the text does not do.
pub fn with<T: Serialize + DeserializeOwned>(
    part: &T,
    within: Option<&str>,
    setting: &Setting,
    text: &str,
) -> Result<T, String> {
    let mut whole = serde_json::to_value(part).map_err(|e| e.to_string())?;
    let object = match within {
        Some(inner) => whole.get_mut(inner),
        None => Some(&mut whole),
    }
    .and_then(Value::as_object_mut)
    .ok_or_else(|| format!("`{}` has no settings", within.unwrap_or("this")))?;
    match value(setting, text.trim())? {
        Some(value) => object.insert(setting.key.to_owned(), value),
        None => object.remove(setting.key),
    };
    serde_json::from_value(whole).map_err(|e| format!("{}: {e}", setting.label))
}

/// The JSON a field's text stands for; `None` leaves the setting out.
fn value(setting: &Setting, text: &str) -> Result<Option<Value>, String> {
    Ok(match setting.input {
        _ if text.is_empty() => None,
        Input::Text => Some(Value::String(text.to_owned())),
        Input::Number => Some(Value::from(text.parse::<u64>().map_err(|_| {
            format!("{}: expected a whole number, got `{text}`", setting.label)
        })?)),
        Input::List => Some(Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        )),
        Input::Choice(_) | Input::Flag if text == "true" => Some(Value::Bool(true)),
        Input::Choice(_) if text == "false" => Some(Value::Bool(false)),
        Input::Flag => None,
        Input::Choice(_) => Some(Value::String(text.to_owned())),
    })
}

/// A policy's `pullRequest` settings, for `action: pr`. Yes/no settings are choices,
/// not flags: `autoMerge: false` overrides a lower policy's `true`, absence inherits it.
pub const PULL_REQUEST: &[Setting] = &[
    setting(
        "autoMerge",
        "Merge once checks pass",
        Input::Choice(&["", "true", "false"]),
    ),
    setting(
        "mergeMethod",
        "Merge method",
        Input::Choice(&["", "merge", "squash", "rebase"]),
    ),
    setting("labels", "Labels (comma-separated)", Input::List),
    setting("reviewers", "Reviewers (comma-separated)", Input::List),
    setting("assignees", "Assignees (comma-separated)", Input::List),
    setting(
        "draft",
        "Open as a draft",
        Input::Choice(&["", "true", "false"]),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use promenade_model::resources::{MergeMethod, PullRequestPolicy};

    fn set(pr: &PullRequestPolicy, key: &str, text: &str) -> Result<PullRequestPolicy, String> {
        let setting = PULL_REQUEST.iter().find(|s| s.key == key).unwrap();
        with(pr, None, setting, text)
    }

    #[test]
    fn pull_request_settings_write_what_the_policy_reads() {
        let pr = PullRequestPolicy::default();
        let pr = set(&pr, "autoMerge", "false").unwrap();
        assert_eq!(
            pr.auto_merge,
            Some(false),
            "false is a setting, not an absence"
        );
        let pr = set(&pr, "mergeMethod", "squash").unwrap();
        assert_eq!(pr.merge_method, Some(MergeMethod::Squash));
        let pr = set(&pr, "labels", "promotion, shop ,").unwrap();
        assert_eq!(pr.labels, Some(vec!["promotion".into(), "shop".into()]));
        assert_eq!(text(&pr, None, "labels"), "promotion, shop");
        assert_eq!(text(&pr, None, "autoMerge"), "false");
        let pr = set(&pr, "autoMerge", "").unwrap();
        assert_eq!(pr.auto_merge, None, "empty inherits");
        assert!(set(&pr, "mergeMethod", "octopus")
            .unwrap_err()
            .starts_with("Merge method: unknown variant `octopus`"));
        for setting in PULL_REQUEST {
            let shown = text(&pr, None, setting.key);
            assert_eq!(
                with(&pr, None, setting, &shown).as_ref(),
                Ok(&pr),
                "{}",
                setting.key
            );
        }
    }
}
