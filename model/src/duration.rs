//! Durations as written in resources: `30m`, `24h`, `1h30m`, `2d`, `45s`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// A positive whole number of seconds, written with the units `d`, `h`, `m` and `s`
/// from largest to smallest, each at most once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    seconds: u64,
}

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

impl Duration {
    /// A duration of `seconds` seconds; `None` for zero, which no resource field accepts.
    pub fn from_secs(seconds: u64) -> Option<Self> {
        (seconds > 0).then_some(Self { seconds })
    }

    /// The length in seconds.
    pub fn as_secs(&self) -> u64 {
        self.seconds
    }

    /// The standard library's form, for timers.
    pub fn to_std(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds)
    }
}

impl FromStr for Duration {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let fail = |message: &str| Error::Duration {
            value: text.to_owned(),
            message: message.to_owned(),
        };
        if text.is_empty() {
            return Err(fail("it is empty; write e.g. `30m`, `24h` or `1h30m`"));
        }
        let mut seconds: u64 = 0;
        // Index into UNITS of the next unit allowed: units go from largest to smallest.
        let mut next_unit = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                return Err(fail("expected a number, e.g. `30m`, `24h` or `1h30m`"));
            }
            let number: u64 = rest[..digits]
                .parse()
                .map_err(|_| fail("the number is too large"))?;
            let unit = rest[digits..]
                .chars()
                .next()
                .ok_or_else(|| fail("a number needs a unit: `d`, `h`, `m` or `s` (e.g. `30m`)"))?;
            let position = UNITS
                .iter()
                .position(|(name, _)| *name == unit)
                .ok_or_else(|| fail(&format!("unknown unit `{unit}`; use `d`, `h`, `m` or `s`")))?;
            if position < next_unit {
                return Err(fail(
                    "units go from largest to smallest, each once (e.g. `1h30m`)",
                ));
            }
            next_unit = position + 1;
            seconds = number
                .checked_mul(UNITS[position].1)
                .and_then(|part| seconds.checked_add(part))
                .ok_or_else(|| fail("it is too long"))?;
            rest = &rest[digits + unit.len_utf8()..];
        }
        Self::from_secs(seconds).ok_or_else(|| fail("it must be longer than zero"))
    }
}

impl fmt::Display for Duration {
    /// The canonical form: largest units first, zero parts left out (`90m` is `1h30m`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.seconds;
        for (name, size) in UNITS {
            if rest >= size {
                write!(f, "{}{name}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

crate::schema::string_schema!(
    Duration,
    "Duration",
    "A duration with the units `d`, `h`, `m` and `s`, largest first: `30m`, `24h`, `1h30m`.",
    "^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `30m`, `24h` or `1h30m`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        text.parse::<Duration>().map(|d| d.as_secs()).unwrap()
    }

    fn error(text: &str) -> String {
        text.parse::<Duration>().unwrap_err().to_string()
    }

    #[test]
    fn parses_the_units_in_order() {
        assert_eq!(secs("30m"), 1_800);
        assert_eq!(secs("24h"), 86_400);
        assert_eq!(secs("1h30m"), 5_400);
        assert_eq!(secs("2d3h4m5s"), 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5);
    }

    #[test]
    fn prints_the_canonical_form() {
        assert_eq!("90m".parse::<Duration>().unwrap().to_string(), "1h30m");
        assert_eq!("86400s".parse::<Duration>().unwrap().to_string(), "1d");
    }

    #[test]
    fn explains_what_is_wrong() {
        assert_eq!(
            error("30"),
            "invalid duration `30`: a number needs a unit: `d`, `h`, `m` or `s` (e.g. `30m`)"
        );
        assert_eq!(
            error("30x"),
            "invalid duration `30x`: unknown unit `x`; use `d`, `h`, `m` or `s`"
        );
        assert_eq!(
            error("30m1h"),
            "invalid duration `30m1h`: units go from largest to smallest, each once (e.g. `1h30m`)"
        );
        assert_eq!(
            error("1h1h"),
            "invalid duration `1h1h`: units go from largest to smallest, each once (e.g. `1h30m`)"
        );
        assert_eq!(
            error("0m"),
            "invalid duration `0m`: it must be longer than zero"
        );
        assert_eq!(
            error("m"),
            "invalid duration `m`: expected a number, e.g. `30m`, `24h` or `1h30m`"
        );
        assert_eq!(
            error(""),
            "invalid duration ``: it is empty; write e.g. `30m`, `24h` or `1h30m`"
        );
        assert_eq!(
            error("99999999999999999999d"),
            "invalid duration `99999999999999999999d`: the number is too large"
        );
        assert_eq!(
            error("999999999999999d"),
            "invalid duration `999999999999999d`: it is too long"
        );
        assert_eq!(
            error("1h 30m"),
            "invalid duration `1h 30m`: expected a number, e.g. `30m`, `24h` or `1h30m`"
        );
    }
}
