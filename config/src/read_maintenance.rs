//! Reading the `maintenance` section of one file: each window's shape, names, host patterns
//! and schedule, every problem at its line and column.
//!
//! What spans files (unique names, plain labels that must name a configured host) is checked
//! when the files are merged, in `validate.rs`, from what this file keeps in [`ReadWindow`].

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::error::did_you_mean;
use crate::host::Origin;
use crate::maintenance::{
    ever_happens, parse_cron, time_zone, time_zone_names, HostPattern, MaintenanceSchedule,
    MaintenanceWindow, RecurringSchedule, MAX_WINDOW_DURATION,
};
use crate::reader::{describe, shown, Fields, Node, Reader};

pub(crate) const MAINTENANCE_KEYS: &[&str] = &[
    "name", "hosts", "schedule", "duration", "timezone", "start", "end",
];

const FORMS: &str = "write `schedule: \"0 3 * * SUN\"` with `duration: 2h` for a recurring \
                     window, or `start` and `end` (RFC 3339) for a one-off window";
const CRON_FIELDS: &str =
    "5 fields: minute hour day-of-month month day-of-week, e.g. \"0 3 * * SUN\" (Sundays at 03:00)";
const INSTANT_EXAMPLE: &str = "2026-05-01T22:00:00Z or 2026-05-01T22:00:00+02:00";

/// One window as read, with or without errors: its name is claimed either way, so a duplicate
/// is still reported in the same pass.
pub(crate) struct ReadWindow {
    pub name: Arc<str>,
    pub origin: Origin,
    /// The labels and globs of `hosts` that could be read, each with its index in the list,
    /// for the check against the configured hosts.
    pub hosts: Vec<(usize, HostPattern)>,
    /// `None` when the window has errors of its own.
    pub window: Option<MaintenanceWindow>,
}

/// Reads `maintenance`: a list of windows.
pub(crate) fn read_maintenance(
    reader: &mut Reader,
    file: &Arc<Path>,
    node: &Node,
) -> Vec<ReadWindow> {
    let items = match node.value {
        serde_yaml::Value::Sequence(items) => items,
        serde_yaml::Value::Null => return Vec::new(),
        other => {
            reader.type_error(
                node,
                format!(
                    "expected a list of maintenance windows (lines starting with `- name:`), found {}",
                    describe(other)
                ),
            );
            return Vec::new();
        }
    };
    let mut windows = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let origin = Origin {
            file: file.clone(),
            index,
        };
        if let Some(window) = read_window(reader, origin, &node.index(index, item)) {
            windows.push(window);
        }
    }
    windows
}

fn read_window(reader: &mut Reader, origin: Origin, node: &Node) -> Option<ReadWindow> {
    if !matches!(node.value, serde_yaml::Value::Mapping(_)) {
        reader.type_error(
            node,
            format!(
                "expected a maintenance window (a mapping with `name:` and `schedule:` or `start:`), found {}",
                describe(node.value)
            ),
        );
        return None;
    }
    let fields = reader.fields(node, MAINTENANCE_KEYS)?;
    let errors_before = reader.errors.len();
    let name = read_name(reader, node, &fields);
    let patterns = fields.get("hosts").map(|n| read_hosts(reader, &n));
    let schedule = read_schedule(reader, node, &fields);
    let name = name?;
    let window = match schedule {
        Some(schedule) if reader.errors.len() == errors_before => Some(MaintenanceWindow {
            name: name.clone(),
            hosts: patterns
                .as_ref()
                .map(|p| p.iter().map(|(_, pattern)| pattern.clone()).collect()),
            schedule,
            origin: origin.clone(),
            tenant: None,
        }),
        _ => None,
    };
    Some(ReadWindow {
        name,
        origin,
        // Those that were read are checked against the hosts even if others were not.
        hosts: patterns.unwrap_or_default(),
        window,
    })
}

/// `name`: required, a name without spaces at its ends or control characters.
fn read_name(reader: &mut Reader, node: &Node, fields: &Fields) -> Option<Arc<str>> {
    let Some(n) = fields.get("name") else {
        reader.semantic_error(
            node,
            "missing `name`; every maintenance window needs a unique name, e.g. `name: weekly-db`",
        );
        return None;
    };
    let name = reader.string(&n)?;
    if name.trim().is_empty() || name.trim() != name || name.chars().any(char::is_control) {
        reader.semantic_error(
            &n,
            "a window's name is not empty and has no spaces at its ends or control characters, e.g. `name: weekly-db`",
        );
        return None;
    }
    Some(Arc::from(name.as_str()))
}

/// `hosts`: labels and globs, or one of them, each with its index; an entry that is wrong is
/// reported and left out (the window is not built then: `read_window` sees the error).
fn read_hosts(reader: &mut Reader, node: &Node) -> Vec<(usize, HostPattern)> {
    let items = reader.one_or_many(node);
    if items.is_empty() {
        reader.semantic_error(
            node,
            "the list is empty; remove `hosts` for a window over every host, or name hosts (labels or globs such as `db-*`)",
        );
    }
    let mut patterns = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let Some(text) = reader.string(&item) else {
            continue;
        };
        if !text.contains(['*', '?', '[']) {
            patterns.push((index, HostPattern::Label(Arc::from(text.as_str()))));
            continue;
        }
        match glob::Pattern::new(&text) {
            Ok(pattern) => patterns.push((index, HostPattern::Glob(pattern))),
            Err(e) => {
                reader.semantic_error(
                    &item,
                    format!(
                        "`{text}` is not a valid glob ({}); use `*` for any characters, `?` for one, `[abc]` for one of a set",
                        e.msg
                    ),
                );
            }
        }
    }
    patterns
}

/// `schedule` with `duration` (and `timezone`), or `start` with `end`.
fn read_schedule(reader: &mut Reader, node: &Node, fields: &Fields) -> Option<MaintenanceSchedule> {
    let schedule = fields.get("schedule");
    let duration = fields.get("duration");
    let timezone = fields.get("timezone");
    let start = fields.get("start");
    let end = fields.get("end");
    match (&schedule, start.as_ref().or(end.as_ref())) {
        (Some(_), Some(once)) => {
            reader.semantic_error(
                once,
                "`schedule` and `start`/`end` are both set; a window either recurs (`schedule`, `duration`, `timezone`) or happens once (`start`, `end`): remove one of them",
            );
            None
        }
        (None, None) => {
            reader.semantic_error(node, format!("missing `schedule` or `start`; {FORMS}"));
            None
        }
        (Some(schedule), None) => read_recurring(reader, node, schedule, duration, timezone),
        (None, Some(_)) => {
            for (key, extra) in [("duration", &duration), ("timezone", &timezone)] {
                if let Some(extra) = extra {
                    reader.semantic_error(
                        extra,
                        format!("`{key}` goes with `schedule`; a one-off window runs from `start` to `end`, whose offsets say their time zone: remove `{key}`"),
                    );
                }
            }
            let once = read_once(reader, node, start, end);
            once.filter(|_| duration.is_none() && timezone.is_none())
        }
    }
}

fn read_recurring(
    reader: &mut Reader,
    node: &Node,
    schedule: &Node,
    duration: Option<Node>,
    timezone: Option<Node>,
) -> Option<MaintenanceSchedule> {
    let cron = read_cron(reader, schedule);
    let duration = match duration {
        Some(n) => read_window_duration(reader, &n),
        None => {
            reader.semantic_error(
                node,
                "missing `duration`: how long each occurrence of the schedule lasts, e.g. `duration: 2h`",
            );
            None
        }
    };
    let timezone = match timezone {
        Some(n) => read_time_zone(reader, &n),
        None => Some(("UTC".to_string(), TimeZone::UTC)),
    };
    let ((expression, cron), duration, (timezone_name, timezone)) = (cron?, duration?, timezone?);
    Some(MaintenanceSchedule::Recurring(RecurringSchedule::new(
        expression,
        cron,
        duration,
        timezone_name,
        timezone,
    )))
}

/// A cron expression of 5 fields that happens at some time.
fn read_cron(reader: &mut Reader, node: &Node) -> Option<(String, croner::Cron)> {
    let text = reader.text(node)?;
    let expression = text.value.trim().to_string();
    let fields = expression.split_whitespace().count();
    if !expression.starts_with('@') && fields != 5 {
        reader.semantic_error(
            node,
            format!(
                "{} has {fields} field{}; a schedule has {CRON_FIELDS}",
                shown(&text),
                if fields == 1 { "" } else { "s" }
            ),
        );
        return None;
    }
    let cron = match parse_cron(&expression) {
        Ok(cron) => cron,
        Err(e) => {
            let problem = if expression.starts_with('@') {
                "of the @ forms, use @hourly, @daily, @weekly, @monthly or @yearly".to_string()
            } else {
                match failing_field(&expression) {
                    Some((field, written)) => {
                        format!("its {field} `{written}`: {}", cron_error(&e))
                    }
                    None => cron_error(&e),
                }
            };
            reader.semantic_error(
                node,
                format!(
                    "{} is not a cron schedule ({problem}); write {CRON_FIELDS}",
                    shown(&text)
                ),
            );
            return None;
        }
    };
    if !ever_happens(&cron) {
        reader.semantic_error(
            node,
            format!(
                "{} never happens (no month has that day, or day and weekday never meet); fix the day or the month",
                shown(&text)
            ),
        );
        return None;
    }
    Some((expression, cron))
}

/// The first field of a 5-field expression that croner refuses on its own, with its name:
/// croner's messages do not say which field is wrong (`number out of bounds`).
fn failing_field(expression: &str) -> Option<(&'static str, &str)> {
    const NAMES: [&str; 5] = ["minute", "hour", "day of month", "month", "day of week"];
    let fields: Vec<&str> = expression.split_whitespace().collect();
    (0..fields.len().min(NAMES.len())).find_map(|i| {
        let alone: Vec<&str> = (0..NAMES.len())
            .map(|j| if i == j { fields[i] } else { "*" })
            .collect();
        parse_cron(&alone.join(" "))
            .is_err()
            .then_some((NAMES[i], fields[i]))
    })
}

/// croner's message, without its type's prefix and with a lower-case start, to read as part
/// of ours.
fn cron_error(error: &croner::errors::CronError) -> String {
    let text = error.to_string();
    let text = text
        .strip_prefix("Invalid pattern: ")
        .or_else(|| text.strip_prefix("Component error: "))
        .or_else(|| text.strip_prefix("Pattern contains illegal characters: CronPattern contains "))
        .or_else(|| text.strip_prefix("Pattern contains illegal characters: "))
        .unwrap_or(&text);
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text.to_string(),
    }
}

/// A positive duration of at most [`MAX_WINDOW_DURATION`].
fn read_window_duration(reader: &mut Reader, node: &Node) -> Option<Duration> {
    let duration = reader.duration(node)?;
    if duration > MAX_WINDOW_DURATION {
        // As written: humantime would print 40d as `1month 9days 13h 26m 24s`.
        let written = reader.text(node).map(|t| shown(&t)).unwrap_or_default();
        reader.semantic_error(
            node,
            format!(
                "a window lasts at most 31d, found {written}; shorten it, or write a one-off window with `start` and `end`"
            ),
        );
        return None;
    }
    Some(duration)
}

/// An IANA time zone name.
fn read_time_zone(reader: &mut Reader, node: &Node) -> Option<(String, TimeZone)> {
    let text = reader.text(node)?;
    let name = text.value.trim().to_string();
    match time_zone(&name) {
        Some(zone) => Some((name, zone)),
        None => {
            let names = time_zone_names();
            reader.semantic_error(
                node,
                format!(
                    "unknown time zone {}{}; use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`",
                    shown(&text),
                    did_you_mean(&name, names.iter().map(String::as_str))
                ),
            );
            None
        }
    }
}

fn read_once(
    reader: &mut Reader,
    node: &Node,
    start: Option<Node>,
    end: Option<Node>,
) -> Option<MaintenanceSchedule> {
    let start = read_required_instant(reader, node, "start", start);
    let end = read_required_instant(reader, node, "end", end);
    let ((start, start_text, _), (end, end_text, end_node)) = (start?, end?);
    if end <= start {
        reader.semantic_error(
            &end_node,
            format!("the window ends ({end_text}) before it starts ({start_text}); `end` must be after `start`"),
        );
        return None;
    }
    Some(MaintenanceSchedule::Once { start, end })
}

/// `start` or `end` (`key`), which a one-off window must have, read as by [`read_instant`].
fn read_required_instant<'v>(
    reader: &mut Reader,
    window: &Node,
    key: &str,
    found: Option<Node<'v>>,
) -> Option<(SystemTime, String, Node<'v>)> {
    let Some(node) = found else {
        reader.semantic_error(
            window,
            format!(
                "missing `{key}`: a one-off window needs `start` and `end`, e.g. {INSTANT_EXAMPLE}"
            ),
        );
        return None;
    };
    let (at, text) = read_instant(reader, &node)?;
    Some((at, text, node))
}

/// An RFC 3339 date and time with an offset (`Z` or `+02:00`), and its text: a one-off window
/// is an instant everywhere, so a time without an offset is refused rather than guessed.
fn read_instant(reader: &mut Reader, node: &Node) -> Option<(SystemTime, String)> {
    let text = reader.text(node)?;
    let written = text.value.trim();
    let parsed = Timestamp::from_str(written)
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok());
    match parsed {
        Some(at) => Some((at, written.to_string())),
        None => {
            reader.semantic_error(
                node,
                format!(
                    "{} is not a date and time with an offset; write it in RFC 3339, e.g. {INSTANT_EXAMPLE}",
                    shown(&text)
                ),
            );
            None
        }
    }
}
