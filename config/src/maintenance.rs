//! Maintenance windows (SPEC §9): named periods in which some hosts are checked as usual but
//! raise no alert, so planned work does not page anyone.
//!
//! A window recurs on a cron schedule for a `duration`, in a time zone, or happens once between
//! `start` and `end`. Everything here is pure: the time is always an argument, never read from
//! a clock, so the running system decides what "now" is and tests can name exact instants.
//!
//! ## Daylight saving time
//!
//! A recurring window's schedule is wall-clock time in its zone, searched by croner (see
//! `cron_time.rs`), with croner's rules for a schedule whose minute and hour are single values
//! (`30 2 * * *`):
//! - a start time that does not exist (clocks go forward over it) starts the window at the
//!   first instant after the gap: `30 2 * * *` in Berlin starts at 03:00 CEST on 2026-03-29;
//! - a start time that happens twice (clocks go back over it) starts the window once, at the
//!   first of the two: 02:30 CEST, not again at 02:30 CET, on 2026-10-25.
//!
//! A schedule with ranges, lists or steps in its minute or hour (`*/15 2 * * *`) is an interval:
//! its times in a skipped hour do not happen, its times in a repeated hour happen twice.
//! `duration` is elapsed time: a 2h window is two real hours long even across a change.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use croner::Cron;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{Timestamp, ZonedDateTime};

use crate::cron_time::CronTime;
use crate::host::Origin;

/// The longest one occurrence of a recurring window may last. A month covers the longest
/// sensible recurring window (a monthly one); beyond it occurrences would pile on each other.
pub const MAX_WINDOW_DURATION: Duration = Duration::from_secs(31 * 24 * 3600);

/// One entry of `maintenance`.
#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    /// Unique among the windows of every file; what the API shows as `maintenance: "<name>"`.
    pub name: Arc<str>,
    /// The hosts the window covers (`hosts`, as written); `None`: every host.
    pub hosts: Option<Vec<HostPattern>>,
    pub schedule: MaintenanceSchedule,
    /// The file, and the index in that file's `maintenance` list.
    pub origin: Origin,
    /// The tenant whose file the window is in (its name and `hosts` are then prefixed with
    /// `<tenant>/`); `None`: the main configuration's.
    pub tenant: Option<Arc<str>>,
}

/// One entry of a window's `hosts`.
#[derive(Debug, Clone, PartialEq)]
pub enum HostPattern {
    /// A label without glob characters: it must name a configured host.
    Label(Arc<str>),
    /// A glob such as `db-*` (`*`, `?`, `[...]`); matching no host is fine, so a window can be
    /// written for hosts that are added later.
    Glob(glob::Pattern),
}

impl HostPattern {
    pub fn matches(&self, label: &str) -> bool {
        match self {
            HostPattern::Label(l) => **l == *label,
            HostPattern::Glob(g) => g.matches(label),
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Label(l) => f.write_str(l),
            HostPattern::Glob(g) => f.write_str(g.as_str()),
        }
    }
}

/// When a window is in force.
// One per window, allocated once at load and shared by `Arc`: the size of the larger variant
// (croner's parsed pattern) costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum MaintenanceSchedule {
    /// `schedule`, `duration` and `timezone`.
    Recurring(RecurringSchedule),
    /// `start` and `end`: from `start` (inclusive) to `end` (exclusive).
    Once { start: SystemTime, end: SystemTime },
}

/// A cron schedule in a time zone, each occurrence lasting `duration`.
#[derive(Debug, Clone)]
pub struct RecurringSchedule {
    expression: String,
    cron: Cron,
    duration: Duration,
    timezone_name: String,
    timezone: TimeZone,
}

impl RecurringSchedule {
    /// `cron` and `timezone` come from [`parse_cron`] and [`time_zone`], which validation
    /// uses; `duration` is at most [`MAX_WINDOW_DURATION`].
    pub(crate) fn new(
        expression: String,
        cron: Cron,
        duration: Duration,
        timezone_name: String,
        timezone: TimeZone,
    ) -> Self {
        RecurringSchedule {
            expression,
            cron,
            duration,
            timezone_name,
            timezone,
        }
    }

    /// The cron expression as written (`0 3 * * SUN`).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The IANA name of the time zone (`Europe/Berlin`; `UTC` when none was written).
    pub fn timezone(&self) -> &str {
        &self.timezone_name
    }

    fn zoned(&self, at: SystemTime) -> Option<CronTime> {
        let timestamp = Timestamp::try_from(at).ok()?;
        Some(CronTime(ZonedDateTime::new(
            timestamp,
            self.timezone.clone(),
        )))
    }

    /// The latest start at or before `at`. Occurrences all last as long, so the one that
    /// started last is the one that ends last: if it does not cover `at`, none does.
    fn latest_start(&self, at: SystemTime) -> Option<SystemTime> {
        let found = self
            .cron
            .find_previous_occurrence(&self.zoned(at)?, true)
            .ok()?;
        SystemTime::try_from(found.0.timestamp()).ok()
    }

    fn next_start_after(&self, at: SystemTime) -> Option<SystemTime> {
        let found = self
            .cron
            .find_next_occurrence(&self.zoned(at)?, false)
            .ok()?;
        let start = SystemTime::try_from(found.0.timestamp()).ok()?;
        // croner counts whole seconds: from 03:00:00.5 its next second is 03:00:01, so the
        // start it finds is always after `at`; this keeps the promise should that change.
        (start > at).then_some(start)
    }
}

impl MaintenanceWindow {
    /// Whether the window applies to the host labelled `label`.
    pub fn covers(&self, label: &str) -> bool {
        match &self.hosts {
            None => true,
            Some(patterns) => patterns.iter().any(|p| p.matches(label)),
        }
    }

    /// The occurrence in force at `at`, as `(start, end)`: `start <= at < end`. When
    /// occurrences overlap (a duration longer than the time between two starts), the one that
    /// started last, which also ends last.
    ///
    /// Cheap enough to call every second per host: a search backwards from `at` through the
    /// cron fields (croner jumps over days, hours and minutes that cannot match), never a
    /// scan minute by minute.
    pub fn occurrence_at(&self, at: SystemTime) -> Option<(SystemTime, SystemTime)> {
        let (start, end) = match &self.schedule {
            MaintenanceSchedule::Once { start, end } => (*start, *end),
            MaintenanceSchedule::Recurring(recurring) => {
                let start = recurring.latest_start(at)?;
                (start, start.checked_add(recurring.duration)?)
            }
        };
        (start <= at && at < end).then_some((start, end))
    }

    /// The first start strictly after `at`; `None` when the window never starts again (a
    /// one-off window that has started).
    pub fn next_start_after(&self, at: SystemTime) -> Option<SystemTime> {
        match &self.schedule {
            MaintenanceSchedule::Once { start, .. } => (*start > at).then_some(*start),
            MaintenanceSchedule::Recurring(recurring) => recurring.next_start_after(at),
        }
    }

    /// Every setting as `(key, value)`: what a reload compares to tell whether it changed.
    /// Each setting's fingerprint under `key`: what `flowstate check --diff` compares with a
    /// running daemon's, so no value crosses the wire.
    pub fn fingerprints(&self, key: &crate::FingerprintKey) -> Vec<(&'static str, String)> {
        self.settings()
            .into_iter()
            .map(|(name, value)| (name, key.fingerprint(&value)))
            .collect()
    }

    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let hosts = match &self.hosts {
            None => String::new(),
            Some(patterns) => patterns
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        };
        let mut settings = vec![("hosts", hosts)];
        match &self.schedule {
            MaintenanceSchedule::Recurring(r) => {
                settings.push(("schedule", r.expression.clone()));
                settings.push((
                    "duration",
                    humantime::format_duration(r.duration).to_string(),
                ));
                settings.push(("timezone", r.timezone_name.clone()));
            }
            MaintenanceSchedule::Once { start, end } => {
                settings.push(("start", shown_instant(*start)));
                settings.push(("end", shown_instant(*end)));
            }
        }
        settings
    }
}

/// The window of `windows` in force for the host labelled `label` at `at`, with the end of
/// its occurrence (exclusive); `None` when no window covers the host then. When several do,
/// the one that ends last, so a caller holding alerts until that end asks again as seldom as
/// possible (and asking again at the end finds any window that follows on).
pub fn window_at<'a>(
    windows: &'a [Arc<MaintenanceWindow>],
    label: &str,
    at: SystemTime,
) -> Option<(&'a Arc<MaintenanceWindow>, SystemTime)> {
    windows
        .iter()
        .filter(|window| window.covers(label))
        .filter_map(|window| window.occurrence_at(at).map(|(_, end)| (window, end)))
        .max_by_key(|(_, end)| *end)
}

/// An instant in RFC 3339, UTC (`2026-05-01T22:00:00Z`).
pub fn shown_instant(at: SystemTime) -> String {
    Timestamp::try_from(at)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{at:?}"))
}

/// A 5-field cron expression (`0 3 * * SUN`), or one of croner's nicknames (`@daily`,
/// `@weekly`, ...). The error is croner's.
pub(crate) fn parse_cron(expression: &str) -> Result<Cron, croner::errors::CronError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(expression)
}

/// Whether `cron` ever matches: `0 0 31 4 *` (April 31) parses but never happens.
pub(crate) fn ever_happens(cron: &Cron) -> bool {
    let origin = ZonedDateTime::new(Timestamp::UNIX_EPOCH, TimeZone::UTC);
    cron.find_next_occurrence(&CronTime(origin), true).is_ok()
}

/// The time zone named `name`: from the system's database when it has it (it follows the
/// operating system's tzdata updates), else from the copy compiled into flowstate, so a
/// container without `/usr/share/zoneinfo` (or with only some zones) still knows every zone.
pub(crate) fn time_zone(name: &str) -> Option<TimeZone> {
    jiff::tz::db()
        .get(name)
        .or_else(|_| TimeZoneDatabase::bundled().get(name))
        .ok()
}

/// Every time zone name known, for "did you mean" suggestions.
pub(crate) fn time_zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .chain(TimeZoneDatabase::bundled().available())
        .map(|name| name.as_str().to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A container without `/usr/share/zoneinfo` still knows every zone: the copy compiled in.
    #[test]
    fn the_bundled_database_knows_zones_without_the_system_one() {
        let bundled = TimeZoneDatabase::bundled();
        for name in [
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "UTC",
        ] {
            assert!(bundled.get(name).is_ok(), "{name}");
        }
        assert!(time_zone("Europe/Berlin").is_some());
        assert!(time_zone("Europe/Berln").is_none());
        assert!(time_zone_names().iter().any(|n| n == "Europe/Berlin"));
    }

    #[test]
    fn a_cron_expression_has_five_fields_and_must_happen() {
        assert!(parse_cron("0 3 * * SUN").is_ok());
        assert!(parse_cron("@weekly").is_ok());
        assert!(
            parse_cron("0 0 3 * * SUN").is_err(),
            "seconds are not a field here"
        );
        assert!(parse_cron("0 3 * * SUN 2027").is_err(), "nor years");
        assert!(parse_cron("0 0 29 2 *").is_ok_and(|c| ever_happens(&c)));
        assert!(parse_cron("0 0 31 4 *").is_ok_and(|c| !ever_happens(&c)));
    }

    #[test]
    fn host_patterns_match_labels_and_globs() {
        let glob = HostPattern::Glob(glob::Pattern::new("db-*").unwrap());
        assert!(glob.matches("db-1") && glob.matches("db-") && !glob.matches("xdb-1"));
        let label = HostPattern::Label(Arc::from("db"));
        assert!(label.matches("db") && !label.matches("db-1"));
        assert_eq!(glob.to_string(), "db-*");
    }
}
