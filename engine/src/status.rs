//! The states of releases and of their environment steps (DESIGN §1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident, default $default:ident, { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name {
            #[default]
            $default,
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$name::$default, $($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $name::$default => status_enum!(@text $default),
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|s| s.as_str() == text)
                    .ok_or_else(|| format!("unknown {}: {text:?}", stringify!($name)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    (@text Pending) => { "pending" };
    (@text Queued) => { "queued" };
}

status_enum!(
    /// Where one environment of a release stands.
    StepStatus, default Pending, {
        Waiting = "waiting",
        Gating = "gating",
        Applying = "applying",
        AwaitingMerge = "awaiting-merge",
        Verifying = "verifying",
        Succeeded = "succeeded",
        Failed = "failed",
        Terminated = "terminated",
        Skipped = "skipped",
        Unchanged = "unchanged",
    }
);

status_enum!(
    /// Where a whole release stands.
    ReleaseStatus, default Queued, {
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Terminated = "terminated",
    }
);

impl StepStatus {
    /// The step will not change again unless retried.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Terminated | Self::Skipped | Self::Unchanged
        )
    }

    /// The step is being worked on (started, not finished).
    pub fn is_working(self) -> bool {
        matches!(
            self,
            Self::Gating | Self::Applying | Self::AwaitingMerge | Self::Verifying
        )
    }

    /// Steps that depend on this one may start.
    pub fn lets_dependents_start(self) -> bool {
        matches!(self, Self::Succeeded | Self::Unchanged)
    }
}

impl ReleaseStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Terminated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_text_and_serde() {
        for status in StepStatus::ALL {
            assert_eq!(status.as_str().parse::<StepStatus>(), Ok(*status));
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        for status in ReleaseStatus::ALL {
            assert_eq!(status.as_str().parse::<ReleaseStatus>(), Ok(*status));
        }
        assert_eq!(StepStatus::AwaitingMerge.as_str(), "awaiting-merge");
        assert!("bogus".parse::<StepStatus>().is_err());
    }

    #[test]
    fn only_success_and_unchanged_release_dependents() {
        let releasing: Vec<_> = StepStatus::ALL
            .iter()
            .filter(|s| s.lets_dependents_start())
            .collect();
        assert_eq!(releasing, [&StepStatus::Succeeded, &StepStatus::Unchanged]);
    }
}
