//! Freezes: times when releases may not enter some environments (`kind: Freeze`,
//! docs/resources.md "Freezes"), and what the engine tells everyone about them.
//!
//! The model holds the resource and the answers; reading the times — an IANA zone, an
//! RFC 5545 `RRULE` — needs a time-zone database the browser bundle should not carry,
//! so the engine checks and evaluates them (`engine::freeze`), and validation here
//! checks only what needs no calendar.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::resources::{EnvironmentKind, Metadata, Selector};

/// `kind: Freeze`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Freeze {
    /// Name and labels.
    pub metadata: Metadata,
    /// When and where releases are held.
    pub spec: FreezeSpec,
}

/// The spec of a [`Freeze`]: a scope, a reason, and either a one-off `period` or a
/// recurring `schedule`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreezeSpec {
    /// Why; shown wherever the freeze holds a release.
    pub reason: String,
    /// The products and environments held (names, environment kinds, labels); every
    /// one when empty.
    #[serde(default, skip_serializing_if = "Selector::is_empty")]
    pub scope: Selector,
    /// The IANA time zone in which `period` and `schedule` times are read; UTC when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// A one-off freeze.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<FreezePeriod>,
    /// A recurring freeze.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<FreezeSchedule>,
    /// From this instant (RFC 3339) on the freeze holds nothing: `promenade freeze end`
    /// sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
}

/// `period: { start: "2026-12-21T00:00", end: "2027-01-04T09:00" }`: local date-times
/// in the freeze's time zone, or RFC 3339 instants with an offset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreezePeriod {
    /// When the freeze begins.
    pub start: String,
    /// When it ends (releases may go on from then).
    pub end: String,
}

/// `schedule: { start: "2026-12-04T18:00", rrule: "FREQ=WEEKLY;BYDAY=FR", duration: 62h }`:
/// every occurrence of the rule, counted from `start` as RFC 5545's `DTSTART`, freezes
/// for `duration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreezeSchedule {
    /// The first occurrence, a local date-time in the freeze's time zone; it also gives
    /// the time of day of every occurrence unless the rule sets `BYHOUR`/`BYMINUTE`.
    pub start: String,
    /// An RFC 5545 recurrence rule (`FREQ=…;…`, without `DTSTART`).
    pub rrule: String,
    /// How long each occurrence freezes.
    pub duration: Duration,
}

/// Whether a freeze holds now or will soon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FreezeState {
    /// It holds releases now.
    Active,
    /// It begins within the look-ahead the answer was asked for.
    Upcoming,
    /// Neither: over, ended, or not for a while.
    Inactive,
}

impl FreezeState {
    /// The name written in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Upcoming => "upcoming",
            Self::Inactive => "inactive",
        }
    }
}

/// A freeze as the API, CLI and UI show it: the resource's words and when it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FreezeStatus {
    /// The freeze's name.
    pub name: String,
    /// Why.
    pub reason: String,
    /// What it holds, in words (`shop in prod`, `everything`).
    pub scope: String,
    /// Active, upcoming or inactive.
    pub state: FreezeState,
    /// When the current or next occurrence began or begins (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// When it ends (RFC 3339), if it has a current or next occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// Why a step is `frozen`, kept in the step's detail while it waits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrozenBy {
    /// The freeze's name.
    pub freeze: String,
    /// Its reason.
    pub reason: String,
    /// When it ends (RFC 3339).
    pub until: String,
}

/// A release let through a freeze by a release manager or an admin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlass {
    /// Who let it through.
    pub by: String,
    /// Why, in their words.
    pub reason: String,
    /// RFC 3339.
    pub at: String,
}

impl FrozenBy {
    /// `freeze weekends until 2026-12-07T07:00:00Z: Nobody is on call`
    pub fn describe(&self) -> String {
        format!(
            "freeze {} until {}: {}",
            self.freeze, self.until, self.reason
        )
    }
}

impl BreakGlass {
    /// `let through the freeze by rita: checkout is down`
    pub fn describe(&self) -> String {
        format!("let through the freeze by {}: {}", self.by, self.reason)
    }
}

impl Selector {
    /// The selector in words, for messages: `shop, payments in prod kind, region=eu`.
    pub fn describe(&self) -> String {
        let products = self.products.join(", ");
        let mut places: Vec<String> = self.environments.clone();
        places.extend(self.environment_kinds.iter().map(|kind| {
            let kind = match kind {
                EnvironmentKind::Prod => "prod",
                EnvironmentKind::NonProd => "non-prod",
            };
            format!("every {kind} environment")
        }));
        places.extend(self.labels.iter().map(|(k, v)| format!("{k}={v}")));
        match (products.is_empty(), places.is_empty()) {
            (true, true) => "everything".to_string(),
            (false, true) => products,
            (true, false) => format!("every product in {}", places.join(", ")),
            (false, false) => format!("{products} in {}", places.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_reads_as_words() {
        assert_eq!(Selector::default().describe(), "everything");
        let scope = Selector {
            products: vec!["shop".into(), "payments".into()],
            environments: vec!["prod-eu".into()],
            environment_kinds: vec![EnvironmentKind::Prod],
            labels: [("region".to_string(), "eu".to_string())].into(),
        };
        assert_eq!(
            scope.describe(),
            "shop, payments in prod-eu, every prod environment, region=eu"
        );
        let kinds = Selector {
            environment_kinds: vec![EnvironmentKind::Prod],
            ..Selector::default()
        };
        assert_eq!(kinds.describe(), "every product in every prod environment");
    }
}
