//! Actions: what runs in a policy's `gates` (before the change), its `verify` (after
//! it) and a flow's `hooks`. Every action gets the release context (product,
//! environment, application, version, commit, release id and URL) from the engine.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::duration::Duration;

/// One action, written as a mapping with exactly one key naming its kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Action {
    /// Wait for people to approve (gates only).
    Approval(Approval),
    /// Wait until enough time has passed.
    Soak(Soak),
    /// Call a URL and check the answer.
    Http(HttpCheck),
    /// Wait for Argo CD to report the promoted revision synced and healthy.
    Argocd(ArgoCdCheck),
    /// Submit an Argo Workflows template and wait for it.
    Workflow(WorkflowRun),
    /// Run a program on the server host. Only administrators may define it.
    Command(CommandRun),
    /// Allow promotion only on some days and hours (change freezes).
    Window(Window),
}

/// The kind of an action, as written in YAML.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// `approval`
    Approval,
    /// `soak`
    Soak,
    /// `http`
    Http,
    /// `argocd`
    Argocd,
    /// `workflow`
    Workflow,
    /// `command`
    Command,
    /// `window`
    Window,
}

impl ActionKind {
    /// The YAML key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approval => "approval",
            Self::Soak => "soak",
            Self::Http => "http",
            Self::Argocd => "argocd",
            Self::Workflow => "workflow",
            Self::Command => "command",
            Self::Window => "window",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Action {
    /// A few words for people: `approval by release-manager`, `soak 30m`.
    pub fn summary(&self) -> String {
        match self {
            Self::Approval(approval) => {
                let who = if approval.roles.is_empty() {
                    "a release-manager".to_owned()
                } else {
                    approval.roles.join(" or ")
                };
                match approval.count.get() {
                    1 => format!("approval by {who}"),
                    n => format!("{n} approvals by {who}"),
                }
            }
            Self::Soak(soak) => format!("soak {}", soak.duration),
            Self::Http(check) => format!("a check of {}", check.url),
            Self::Workflow(run) => format!("workflow {}", run.template),
            Self::Window(_) => "the promotion window".to_owned(),
            other => other.kind().to_string(),
        }
    }

    /// Which kind this is.
    pub fn kind(&self) -> ActionKind {
        match self {
            Self::Approval(_) => ActionKind::Approval,
            Self::Soak(_) => ActionKind::Soak,
            Self::Http(_) => ActionKind::Http,
            Self::Argocd(_) => ActionKind::Argocd,
            Self::Workflow(_) => ActionKind::Workflow,
            Self::Command(_) => ActionKind::Command,
            Self::Window(_) => ActionKind::Window,
        }
    }
}

/// `approval: { roles: [release-manager], count: 1 }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    /// Roles whose members may approve (the lowest one named and up); empty means
    /// `release-manager` and up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// How many distinct principals must approve.
    #[serde(default = "one")]
    pub count: NonZeroU32,
    /// Whether whoever started the release may approve it too (four eyes otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_self_approval: bool,
}

fn one() -> NonZeroU32 {
    NonZeroU32::MIN
}

/// `soak: { after: upstream, duration: 30m }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Soak {
    /// What the time is counted from.
    #[serde(default)]
    pub after: SoakStart,
    /// How long to wait.
    pub duration: Duration,
}

/// The moment a soak starts counting from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SoakStart {
    /// When the upstream environments of this step succeeded (gates).
    #[default]
    Upstream,
    /// When this environment's change was applied (verify).
    Apply,
}

/// `http: { url: "https://…/health", expectStatus: 200, timeout: 2m }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCheck {
    /// An `http://` or `https://` URL; `{env}`, `{version}` and the other release
    /// context placeholders are filled in by the engine.
    pub url: String,
    /// The request method.
    #[serde(default)]
    pub method: HttpMethod,
    /// Request headers: text, or the secret of stored credentials. A header whose name
    /// looks secret (`Authorization`, `*token*`, …) must take its value from credentials:
    /// every viewer reads resources.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, HeaderValue>,
    /// A request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The status to expect; any 2xx when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    /// A value to expect in a JSON answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_json: Option<JsonExpectation>,
    /// How long to keep trying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// A request header's value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum HeaderValue {
    /// Text, with the release's placeholders filled in.
    Text(String),
    /// `{ credentials: grafana, scheme: Bearer }`: the secret of token (or https)
    /// credentials, after the scheme and a space when one is given.
    Credentials(HeaderCredentials),
}

/// The credentials a header's value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderCredentials {
    /// Stored credentials, of kind `token` or `https` (its token or password is used).
    pub credentials: String,
    /// Written before the secret, e.g. `Bearer` or `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
}

impl From<&str> for HeaderValue {
    fn from(text: &str) -> Self {
        HeaderValue::Text(text.to_string())
    }
}

/// `expectJson: { path: "$.status", equals: ok }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsonExpectation {
    /// A JSONPath of the supported subset; every match must equal `equals`.
    pub path: String,
    /// The expected value.
    pub equals: serde_json::Value,
}

/// HTTP methods an `http` action may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `GET`
    #[default]
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

/// `argocd: { health: Healthy, sync: Synced, timeout: 15m }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCdCheck {
    /// The health to wait for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ArgoCdHealth>,
    /// `Synced` waits for the promoted revision to be synced; `true` also asks Argo CD
    /// to sync first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<ArgoCdSync>,
    /// With `sync: true`: delete resources Git no longer has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// How long to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// Argo CD health statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ArgoCdHealth {
    /// `Healthy`
    Healthy,
    /// `Progressing`
    Progressing,
    /// `Degraded`
    Degraded,
    /// `Suspended`
    Suspended,
    /// `Missing`
    Missing,
    /// `Unknown`
    Unknown,
}

impl ArgoCdHealth {
    /// As Argo CD writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "Healthy",
            Self::Progressing => "Progressing",
            Self::Degraded => "Degraded",
            Self::Suspended => "Suspended",
            Self::Missing => "Missing",
            Self::Unknown => "Unknown",
        }
    }
}

/// The `sync` of an `argocd` action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgoCdSync {
    /// `sync: Synced`: wait until the promoted revision is synced.
    Synced,
    /// `sync: true`: trigger a sync, then wait until it is synced.
    Trigger,
}

impl Serialize for ArgoCdSync {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Synced => serializer.serialize_str("Synced"),
            Self::Trigger => serializer.serialize_bool(true),
        }
    }
}

impl JsonSchema for ArgoCdSync {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ArgoCdSync".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`Synced` waits until the promoted revision is synced; `true` triggers a sync first.",
            "enum": ["Synced", true]
        })
    }
}

impl<'de> Deserialize<'de> for ArgoCdSync {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ArgoCdSync;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`Synced`, or `true` to trigger a sync first")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ArgoCdSync, E> {
                match text {
                    "Synced" => Ok(ArgoCdSync::Synced),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(text), &self)),
                }
            }
            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<ArgoCdSync, E> {
                match value {
                    true => Ok(ArgoCdSync::Trigger),
                    false => Err(E::invalid_value(serde::de::Unexpected::Bool(false), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `workflow: { template: smoke-tests, parameters: { url: "…" }, timeout: 20m }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowRun {
    /// The WorkflowTemplate to submit.
    pub template: String,
    /// Its namespace; the engine's configured one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Workflow parameters; values may use the release context placeholders.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// How long to wait for the workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// `command: { args: ["./smoke.sh", "{env}"], timeout: 5m }` — runs on the server host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandRun {
    /// The program and its arguments, run without a shell.
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// How long it may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// `window: { days: [mon, tue, wed, thu], hours: "09:00-17:00", timezone: Europe/Paris }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Window {
    /// Allowed days; every day when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Weekday>,
    /// Allowed hours; the whole day when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<TimeRange>,
    /// An IANA time zone name; UTC when absent. The engine resolves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl Window {
    /// Whether promoting is allowed at this local day and minute of the day (0–1439).
    pub fn allows(&self, day: Weekday, minute_of_day: u16) -> bool {
        (self.days.is_empty() || self.days.contains(&day))
            && self.hours.is_none_or(|hours| hours.contains(minute_of_day))
    }
}

/// Days of the week, written `mon` … `sun`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// Monday
    Mon,
    /// Tuesday
    Tue,
    /// Wednesday
    Wed,
    /// Thursday
    Thu,
    /// Friday
    Fri,
    /// Saturday
    Sat,
    /// Sunday
    Sun,
}

/// Local hours `HH:MM-HH:MM`; a range whose end is before its start spans midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// First allowed minute of the day.
    pub start: u16,
    /// First minute of the day no longer allowed.
    pub end: u16,
}

impl TimeRange {
    /// Whether a minute of the day falls in the range.
    pub fn contains(&self, minute: u16) -> bool {
        if self.start <= self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let valid = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !valid(hours) || !valid(minutes) {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    // 24:00 is allowed as the end of the day.
    (hours < 24 && minutes < 60 || hours == 24 && minutes == 0).then_some(hours * 60 + minutes)
}

impl std::str::FromStr for TimeRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("expected hours like `09:00-17:00`, got `{text}`");
        let (start, end) = text.split_once('-').ok_or_else(invalid)?;
        let (start, end) = (
            parse_clock(start.trim()).ok_or_else(invalid)?,
            parse_clock(end.trim()).ok_or_else(invalid)?,
        );
        if start == end || start == 24 * 60 {
            return Err(invalid());
        }
        Ok(Self { start, end })
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clock = |minute: u16| format!("{:02}:{:02}", minute / 60, minute % 60);
        write!(f, "{}-{}", clock(self.start), clock(self.end))
    }
}

impl Serialize for TimeRange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

crate::schema::string_schema!(
    TimeRange,
    "TimeRange",
    "Hours of the day such as `09:00-17:00`; `22:00-06:00` spans midnight.",
    "^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$"
);

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ranges_parse_and_span_midnight() {
        let day: TimeRange = "09:00-17:30".parse().unwrap();
        assert_eq!((day.start, day.end), (540, 1050));
        assert!(day.contains(540) && !day.contains(1050));
        let night: TimeRange = "22:00-06:00".parse().unwrap();
        assert!(night.contains(23 * 60) && night.contains(60) && !night.contains(12 * 60));
        assert_eq!(night.to_string(), "22:00-06:00");
        assert_eq!(
            "9-17".parse::<TimeRange>().unwrap_err(),
            "expected hours like `09:00-17:00`, got `9-17`"
        );
        assert!("10:00-10:00".parse::<TimeRange>().is_err());
        assert!("25:00-10:00".parse::<TimeRange>().is_err());
    }

    #[test]
    fn windows_check_days_and_hours() {
        let window = Window {
            days: vec![Weekday::Mon, Weekday::Tue],
            hours: Some("09:00-17:00".parse().unwrap()),
            timezone: None,
        };
        assert!(window.allows(Weekday::Mon, 600));
        assert!(!window.allows(Weekday::Mon, 18 * 60));
        assert!(!window.allows(Weekday::Sat, 600));
    }
}
