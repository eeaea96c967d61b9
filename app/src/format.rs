//! Small text formats shared by pages. Ages are computed between two server timestamps,
//! so the server-rendered page and the hydrated one show the same words.

/// The first 7 characters of a commit id, as git shows them.
pub fn short_commit(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// `3m ago`, `5h ago`, `2d ago`: how long before `now` the time `at` was (both RFC 3339,
/// UTC). Empty when either cannot be read.
pub fn age(at: &str, now: &str) -> String {
    match (seconds(at), seconds(now)) {
        (Some(at), Some(now)) => format!("{} ago", duration((now - at).max(0))),
        _ => String::new(),
    }
}

/// `45s`, `12m`, `3h`, `2d`.
pub fn duration(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// How long from `start` to `end` (or to `now` while running).
pub fn elapsed(start: Option<&str>, end: Option<&str>, now: &str) -> String {
    match (start.and_then(seconds), end.or(Some(now)).and_then(seconds)) {
        (Some(start), Some(end)) => duration((end - start).max(0)),
        _ => String::new(),
    }
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
fn seconds(text: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    // Days from the civil calendar (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_rounded_down_to_the_largest_unit() {
        let now = "2026-11-28T12:00:00Z";
        assert_eq!(age("2026-11-28T11:59:15Z", now), "45s ago");
        assert_eq!(age("2026-11-28T11:48:00.123Z", now), "12m ago");
        assert_eq!(age("2026-11-28T07:00:00Z", now), "5h ago");
        assert_eq!(age("2026-11-25T12:00:00Z", now), "3d ago");
        assert_eq!(
            age("2024-02-29T12:00:00Z", "2024-03-01T12:00:00Z"),
            "1d ago"
        );
        assert_eq!(age("garbage", now), "");
    }

    #[test]
    fn elapsed_runs_until_now_while_unfinished() {
        let now = "2026-11-28T12:10:00Z";
        assert_eq!(elapsed(Some("2026-11-28T12:00:00Z"), None, now), "10m");
        assert_eq!(
            elapsed(
                Some("2026-11-28T12:00:00Z"),
                Some("2026-11-28T12:00:30Z"),
                now
            ),
            "30s"
        );
        assert_eq!(elapsed(None, None, now), "");
        assert_eq!(short_commit("0123456789abcdef"), "0123456");
    }
}
