//! How host states are shown to a person: symbols, colours and relative times, shared by
//! `status` and `tui` so both read the same.

use std::time::{Duration, SystemTime};

use flowstate_actors::model::Status;

/// A one-character symbol per status, readable without colour.
pub fn symbol(status: Status) -> &'static str {
    match status {
        Status::Up => "●",
        Status::Degraded => "◐",
        Status::Down => "✖",
        Status::Unreachable => "⊘",
        Status::Unknown => "?",
    }
}

/// In a cluster, a host failing in fewer locations than the quorum: its symbol and colour
/// (cyan), apart from every [`Status`].
pub const PARTIAL_SYMBOL: &str = "◒";
pub const PARTIAL_COLOUR: &str = "36";

/// The ANSI colour code of a status (green, yellow, red, magenta, grey).
pub fn ansi_colour(status: Status) -> &'static str {
    match status {
        Status::Up => "32",
        Status::Degraded => "33",
        Status::Down => "31",
        Status::Unreachable => "35",
        Status::Unknown => "90",
    }
}

/// Whether to colour output: only on a terminal, and never when `NO_COLOR` is set.
pub fn colour_enabled(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `3m ago`, `2h ago`, `just now`: how long ago an RFC 3339 timestamp was.
pub fn ago(timestamp: &str, now: SystemTime) -> String {
    let Ok(at) = humantime::parse_rfc3339(timestamp) else {
        return timestamp.to_string();
    };
    elapsed(now.duration_since(at).unwrap_or(Duration::ZERO))
}

/// `3m ago`, `2h ago`, `just now`: how long ago something happened that `elapsed` ago. Every
/// second counts below a minute: checks 2 s apart must not read the same.
pub fn elapsed(elapsed: Duration) -> String {
    let elapsed = elapsed.as_secs();
    match elapsed {
        0 => "just now".to_string(),
        1..=59 => format!("{elapsed}s ago"),
        60..=3599 => format!("{}m ago", elapsed / 60),
        3600..=86_399 => format!("{}h ago", elapsed / 3600),
        _ => format!("{}d ago", elapsed / 86_400),
    }
}

/// `1 change`, `3 changes`: a count with its noun, singular for one.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `12 up, 1 degraded, 2 down` (statuses with no hosts are left out; all zero: `no hosts`).
pub fn summary(statuses: impl IntoIterator<Item = Status>) -> String {
    let mut counts = [0usize; 5];
    for status in statuses {
        counts[order(status)] += 1;
    }
    let parts: Vec<String> = [
        Status::Up,
        Status::Degraded,
        Status::Down,
        Status::Unreachable,
        Status::Unknown,
    ]
    .iter()
    .filter(|s| counts[order(**s)] > 0)
    .map(|s| format!("{} {}", counts[order(*s)], s))
    .collect();
    if parts.is_empty() {
        "no hosts".to_string()
    } else {
        parts.join(", ")
    }
}

/// A check's latency for people: `0.4 ms`, `12.3 ms`, `1.25 s`, `12.5 s`.
pub fn latency(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else if ms < 10_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// An availability for people: `99.95%`, `100.00%`, `-` when unknown. Rounded down, so
/// `100.00%` means not a millisecond of downtime and a figure never looks better than it is.
pub fn percent(availability: Option<f64>) -> String {
    match availability {
        // The epsilon keeps 0.9995 (stored as 0.99949999...) from reading 99.94%.
        Some(figure) => format!("{:.2}%", (figure * 10_000.0 + 1e-6).floor() / 100.0),
        None => "-".to_string(),
    }
}

/// A length of time for people, its two largest units: `0s`, `42s`, `6m 5s`, `3h 12m`,
/// `2d 4h`. Below ten seconds, tenths count: `6.2s`.
pub fn span(seconds: f64) -> String {
    if !seconds.is_finite() || seconds <= 0.0 {
        return "0s".to_string();
    }
    if seconds < 10.0 {
        let tenths = (seconds * 10.0).round() / 10.0;
        return if tenths.fract() == 0.0 {
            format!("{tenths:.0}s")
        } else {
            format!("{tenths:.1}s")
        };
    }
    let whole = seconds.round() as u64;
    let units = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)];
    let Some(first) = units.iter().position(|(_, length)| whole >= *length) else {
        return "0s".to_string();
    };
    let (name, length) = units[first];
    let mut out = format!("{}{name}", whole / length);
    if let Some((next, next_length)) = units.get(first + 1) {
        let rest = whole % length / next_length;
        if rest > 0 {
            out.push_str(&format!(" {rest}{next}"));
        }
    }
    out
}

/// Sort order by urgency: down first, then unreachable (its parent's outage is the news),
/// degraded, unknown, up.
pub fn urgency(status: Status) -> u8 {
    match status {
        Status::Down => 0,
        Status::Unreachable => 1,
        Status::Degraded => 2,
        Status::Unknown => 3,
        Status::Up => 4,
    }
}

fn order(status: Status) -> usize {
    match status {
        Status::Up => 0,
        Status::Degraded => 1,
        Status::Down => 2,
        Status::Unreachable => 3,
        Status::Unknown => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now = humantime::parse_rfc3339("2026-11-28T16:10:00Z").unwrap();
        assert_eq!(ago("2026-11-28T16:09:59.600Z", now), "just now");
        assert_eq!(ago("2026-11-28T16:09:58.000Z", now), "2s ago");
        assert_eq!(ago("2026-11-28T16:09:56.000Z", now), "4s ago");
        assert_eq!(ago("2026-11-28T16:09:30.000Z", now), "30s ago");
        assert_eq!(ago("2026-11-28T16:07:00.000Z", now), "3m ago");
        assert_eq!(ago("2026-11-28T14:00:00.000Z", now), "2h ago");
        assert_eq!(ago("2026-11-25T16:10:00.000Z", now), "3d ago");
        assert_eq!(ago("not a time", now), "not a time");
    }

    #[test]
    fn latencies_keep_three_significant_digits() {
        assert_eq!(latency(0.4), "0.4 ms");
        assert_eq!(latency(12.34), "12.3 ms");
        assert_eq!(latency(999.9), "999.9 ms");
        assert_eq!(latency(1250.0), "1.25 s");
        assert_eq!(latency(12_500.0), "12.5 s");
    }

    #[test]
    fn availability_is_rounded_down_to_hundredths_of_a_percent() {
        assert_eq!(percent(Some(1.0)), "100.00%");
        assert_eq!(percent(Some(0.99999)), "99.99%");
        assert_eq!(percent(Some(0.9995)), "99.95%");
        assert_eq!(percent(Some(0.9)), "90.00%");
        assert_eq!(percent(Some(0.0)), "0.00%");
        assert_eq!(percent(None), "-");
    }

    #[test]
    fn spans_keep_their_two_largest_units() {
        assert_eq!(span(0.0), "0s");
        assert_eq!(span(6.0), "6s");
        assert_eq!(span(6.24), "6.2s");
        assert_eq!(span(42.4), "42s");
        assert_eq!(span(365.0), "6m 5s");
        assert_eq!(span(3600.0), "1h");
        assert_eq!(span(3.0 * 3600.0 + 12.0 * 60.0 + 5.0), "3h 12m");
        assert_eq!(span(2.0 * 86_400.0 + 4.0 * 3600.0), "2d 4h");
        assert_eq!(span(f64::NAN), "0s");
    }

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(count(0, "change"), "0 changes");
        assert_eq!(count(1, "change"), "1 change");
        assert_eq!(count(2, "restart"), "2 restarts");
    }

    #[test]
    fn elapsed_reads_like_ago() {
        assert_eq!(elapsed(Duration::from_millis(900)), "just now");
        assert_eq!(elapsed(Duration::from_secs(3)), "3s ago");
        assert_eq!(elapsed(Duration::from_secs(42)), "42s ago");
        assert_eq!(elapsed(Duration::from_secs(7200)), "2h ago");
    }

    #[test]
    fn summary_counts_each_status() {
        use Status::*;
        assert_eq!(
            summary([Up, Up, Down, Degraded, Up]),
            "3 up, 1 degraded, 1 down"
        );
        assert_eq!(summary([]), "no hosts");
        assert_eq!(summary([Unknown]), "1 unknown");
    }
}
