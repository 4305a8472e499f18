//! Maintenance windows through the public API: what a valid `maintenance` section means, the
//! exact instants a window is in force (daylight saving changes included), and how each
//! mistake is reported, at its line and column, with the fix.

use std::time::{Duration, SystemTime};

use flowstate_config::{Config, HostPattern, MaintenanceSchedule, MaintenanceWindow};

mod common;

use common::{error, errors, load};

/// An instant written in RFC 3339 (`2026-03-29T01:00:00Z`).
fn at(text: &str) -> SystemTime {
    let timestamp: jiff::Timestamp = text.parse().expect("an RFC 3339 instant");
    SystemTime::try_from(timestamp).expect("representable")
}

fn span(start: &str, end: &str) -> Option<(SystemTime, SystemTime)> {
    Some((at(start), at(end)))
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

const HOSTS: &str = "hosts:
  - { label: db-1, url: 'http://db-1/' }
  - { label: db-2, url: 'http://db-2/' }
  - { label: web, url: 'http://web/' }
";

/// A file with [`HOSTS`] and `maintenance` as given (its lines indented as list entries).
fn with_windows(maintenance: &str) -> String {
    format!("{HOSTS}maintenance:\n{maintenance}")
}

/// The one window of a valid file with [`HOSTS`].
fn window(maintenance: &str) -> MaintenanceWindow {
    let config = load(&with_windows(maintenance));
    assert_eq!(config.maintenance.len(), 1);
    (*config.maintenance[0]).clone()
}

/// A daily window at `schedule` in Berlin lasting `duration`.
fn berlin(schedule: &str, duration: &str) -> MaintenanceWindow {
    window(&format!(
        "  - {{ name: nightly, schedule: \"{schedule}\", duration: {duration}, timezone: Europe/Berlin }}\n"
    ))
}

// ---------------------------------------------------------------------------------------------
// What a valid section means
// ---------------------------------------------------------------------------------------------

#[test]
fn a_recurring_window_is_read_with_its_hosts_schedule_and_zone() {
    let w = window(
        "  - name: weekly-db\n    hosts: [\"db-*\", web]\n    schedule: \"0 3 * * SUN\"\n    duration: 2h\n    timezone: Europe/Berlin\n",
    );
    assert_eq!(&*w.name, "weekly-db");
    let MaintenanceSchedule::Recurring(recurring) = &w.schedule else {
        panic!("{:?} is not recurring", w.schedule);
    };
    assert_eq!(recurring.expression(), "0 3 * * SUN");
    assert_eq!(recurring.duration(), hours(2));
    assert_eq!(recurring.timezone(), "Europe/Berlin");
    assert!(matches!(
        &w.hosts.as_deref(),
        Some([HostPattern::Glob(_), HostPattern::Label(_)])
    ));
    assert!(w.covers("db-1") && w.covers("db-2") && w.covers("web"));
    assert!(w.covers("db-added-later"));
    assert!(!w.covers("api"));
    assert_eq!(w.origin.index, 0);
}

#[test]
fn a_window_without_hosts_covers_every_host_and_its_zone_defaults_to_utc() {
    let w = window("  - { name: all, schedule: \"0 3 * * *\", duration: 30m }\n");
    assert!(w.hosts.is_none());
    assert!(w.covers("web") && w.covers("anything"));
    let MaintenanceSchedule::Recurring(recurring) = &w.schedule else {
        panic!("not recurring");
    };
    assert_eq!(recurring.timezone(), "UTC");
    assert_eq!(
        w.occurrence_at(at("2026-06-01T03:10:00Z")),
        span("2026-06-01T03:00:00Z", "2026-06-01T03:30:00Z")
    );
}

#[test]
fn a_one_off_window_holds_from_start_inclusive_to_end_exclusive() {
    let w = window(
        "  - name: migration\n    hosts: db-1\n    start: 2026-05-01T22:00:00+02:00\n    end: \"2026-05-02T02:00:00Z\"\n",
    );
    assert!(matches!(w.schedule, MaintenanceSchedule::Once { .. }));
    let whole = span("2026-05-01T20:00:00Z", "2026-05-02T02:00:00Z");
    assert_eq!(w.occurrence_at(at("2026-05-01T20:00:00Z")), whole);
    assert_eq!(w.occurrence_at(at("2026-05-02T01:59:59Z")), whole);
    assert_eq!(w.occurrence_at(at("2026-05-01T19:59:59Z")), None);
    assert_eq!(w.occurrence_at(at("2026-05-02T02:00:00Z")), None);
    assert_eq!(
        w.next_start_after(at("2026-05-01T00:00:00Z")),
        Some(at("2026-05-01T20:00:00Z"))
    );
    assert_eq!(w.next_start_after(at("2026-05-01T20:00:00Z")), None);
    assert!(w.covers("db-1") && !w.covers("db-2"));
}

#[test]
fn windows_may_be_written_in_several_files_and_are_kept_in_order() {
    let config = load(&with_windows(
        "  - { name: a, schedule: \"0 1 * * *\", duration: 1h }\n  - { name: b, start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z }\n",
    ));
    let names: Vec<&str> = config.maintenance.iter().map(|w| &*w.name).collect();
    assert_eq!(names, ["a", "b"]);
    let empty = load("maintenance: []\n");
    assert!(empty.maintenance.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The instants a recurring window is in force
// ---------------------------------------------------------------------------------------------

#[test]
fn the_start_inclusive_and_the_end_exclusive() {
    let w = window("  - { name: w, schedule: \"0 3 * * *\", duration: 2h }\n");
    let occurrence = span("2026-06-01T03:00:00Z", "2026-06-01T05:00:00Z");
    assert_eq!(w.occurrence_at(at("2026-06-01T03:00:00Z")), occurrence);
    assert_eq!(w.occurrence_at(at("2026-06-01T04:59:59.999Z")), occurrence);
    assert_eq!(w.occurrence_at(at("2026-06-01T05:00:00Z")), None);
    assert_eq!(w.occurrence_at(at("2026-06-01T02:59:59.999Z")), None);
    assert_eq!(
        w.next_start_after(at("2026-06-01T03:00:00Z")),
        Some(at("2026-06-02T03:00:00Z"))
    );
    assert_eq!(
        w.next_start_after(at("2026-06-01T02:59:59.5Z")),
        Some(at("2026-06-01T03:00:00Z"))
    );
}

#[test]
fn an_occurrence_that_began_days_before_is_found() {
    // The weekend: Friday 22:00 to Monday 06:00 in Berlin, asked about on Sunday.
    let w = window(
        "  - { name: weekend, schedule: \"0 22 * * FRI\", duration: 56h, timezone: Europe/Berlin }\n",
    );
    let weekend = span("2026-06-05T20:00:00Z", "2026-06-08T04:00:00Z");
    assert_eq!(w.occurrence_at(at("2026-06-07T12:00:00Z")), weekend);
    assert_eq!(w.occurrence_at(at("2026-06-08T03:59:59Z")), weekend);
    assert_eq!(w.occurrence_at(at("2026-06-08T04:00:00Z")), None);
    assert_eq!(w.occurrence_at(at("2026-06-10T12:00:00Z")), None);
    assert_eq!(
        w.next_start_after(at("2026-06-07T12:00:00Z")),
        Some(at("2026-06-12T20:00:00Z"))
    );
}

#[test]
fn a_monthly_window_of_31_days_is_found_from_its_last_day() {
    let w = window("  - { name: m, schedule: \"0 0 1 * *\", duration: 31d }\n");
    // January has 31 days: the occurrence of 1 January runs until 1 February, 00:00.
    assert_eq!(
        w.occurrence_at(at("2026-01-31T23:59:59Z")),
        span("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
    );
    // February's (28 days) is still running when March's begins: the later one counts.
    assert_eq!(
        w.occurrence_at(at("2026-03-02T00:00:00Z")),
        span("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
    );
}

#[test]
fn a_weekly_berlin_window_starts_at_03_00_local_time_on_both_sides_of_a_change() {
    let w = berlin("0 3 * * SUN", "2h");
    // Winter (CET, UTC+1): 03:00 is 02:00 UTC.
    assert_eq!(
        w.occurrence_at(at("2026-03-22T03:30:00Z")),
        span("2026-03-22T02:00:00Z", "2026-03-22T04:00:00Z")
    );
    // 2026-03-29 is the Sunday clocks go forward at 02:00 CET: 03:00 CEST is 01:00 UTC.
    assert_eq!(
        w.next_start_after(at("2026-03-22T04:00:00Z")),
        Some(at("2026-03-29T01:00:00Z"))
    );
    assert_eq!(
        w.occurrence_at(at("2026-03-29T02:59:59Z")),
        span("2026-03-29T01:00:00Z", "2026-03-29T03:00:00Z")
    );
    assert_eq!(w.occurrence_at(at("2026-03-29T00:59:59Z")), None);
    // 2026-10-25 is the Sunday clocks go back at 03:00 CEST to 02:00 CET: 03:00 comes once,
    // after the repeated hour, as 03:00 CET (02:00 UTC).
    assert_eq!(
        w.next_start_after(at("2026-10-18T03:00:00Z")),
        Some(at("2026-10-25T02:00:00Z"))
    );
    assert_eq!(
        w.occurrence_at(at("2026-10-25T03:30:00Z")),
        span("2026-10-25T02:00:00Z", "2026-10-25T04:00:00Z")
    );
    assert_eq!(w.occurrence_at(at("2026-10-25T01:59:59Z")), None);
}

#[test]
fn a_start_in_the_skipped_hour_runs_at_the_first_instant_after_it() {
    // 2026-03-29 in Berlin: 02:00 CET is followed by 03:00 CEST; 02:30 does not exist.
    let w = berlin("30 2 * * *", "1h");
    // The day before, 02:30 CET (01:30 UTC).
    assert_eq!(
        w.next_start_after(at("2026-03-28T00:00:00Z")),
        Some(at("2026-03-28T01:30:00Z"))
    );
    // On the day, the window starts when the gap ends: 03:00 CEST, 01:00 UTC.
    assert_eq!(
        w.next_start_after(at("2026-03-28T01:30:00Z")),
        Some(at("2026-03-29T01:00:00Z"))
    );
    assert_eq!(
        w.occurrence_at(at("2026-03-29T01:00:00Z")),
        span("2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z")
    );
    assert_eq!(
        w.occurrence_at(at("2026-03-29T01:59:59Z")),
        span("2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z")
    );
    assert_eq!(w.occurrence_at(at("2026-03-29T00:59:59Z")), None);
    assert_eq!(w.occurrence_at(at("2026-03-29T02:00:00Z")), None);
    // The day after, 02:30 CEST (00:30 UTC).
    assert_eq!(
        w.next_start_after(at("2026-03-29T01:00:00Z")),
        Some(at("2026-03-30T00:30:00Z"))
    );
}

#[test]
fn a_start_in_the_repeated_hour_runs_once_at_its_first_instant() {
    // 2026-10-25 in Berlin: 03:00 CEST goes back to 02:00 CET; 02:30 happens at 00:30 UTC
    // (CEST) and again at 01:30 UTC (CET). The window starts at the first only.
    let w = berlin("30 2 * * *", "1h");
    assert_eq!(
        w.next_start_after(at("2026-10-24T12:00:00Z")),
        Some(at("2026-10-25T00:30:00Z"))
    );
    let first = span("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z");
    assert_eq!(w.occurrence_at(at("2026-10-25T00:30:00Z")), first);
    assert_eq!(w.occurrence_at(at("2026-10-25T01:29:59Z")), first);
    // The second 02:30 (CET) is not a start.
    assert_eq!(w.occurrence_at(at("2026-10-25T01:30:00Z")), None);
    assert_eq!(w.occurrence_at(at("2026-10-25T02:00:00Z")), None);
    assert_eq!(
        w.next_start_after(at("2026-10-25T00:30:00Z")),
        Some(at("2026-10-26T01:30:00Z"))
    );
    // Asked from inside the second, CET half of the hour, the first 02:30 is still found.
    let long = berlin("30 2 * * *", "2h");
    assert_eq!(
        long.occurrence_at(at("2026-10-25T01:10:00Z")),
        span("2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z")
    );
}

#[test]
fn a_window_across_a_change_lasts_its_duration_in_real_time() {
    // Saturday 23:00 CET plus 6 hours crosses 02:00 → 03:00: it ends at 06:00 CEST.
    let w = berlin("0 23 * * SAT", "6h");
    assert_eq!(
        w.occurrence_at(at("2026-03-29T01:30:00Z")),
        span("2026-03-28T22:00:00Z", "2026-03-29T04:00:00Z")
    );
}

// ---------------------------------------------------------------------------------------------
// Config::maintenance_at
// ---------------------------------------------------------------------------------------------

fn two_windows() -> Config {
    load(&with_windows(
        "  - { name: db-nightly, hosts: [\"db-*\"], schedule: \"0 3 * * *\", duration: 1h }
  - { name: db-2-long, hosts: [db-2], schedule: \"30 2 * * *\", duration: 3h }
",
    ))
}

#[test]
fn maintenance_at_names_the_window_and_when_it_ends() {
    let config = two_windows();
    let (window, end) = config
        .maintenance_at("db-1", at("2026-06-01T03:15:00Z"))
        .expect("db-1 is in maintenance");
    assert_eq!(&*window.name, "db-nightly");
    assert_eq!(end, at("2026-06-01T04:00:00Z"));
    assert!(config
        .maintenance_at("db-1", at("2026-06-01T04:00:00Z"))
        .is_none());
    assert!(config
        .maintenance_at("web", at("2026-06-01T03:15:00Z"))
        .is_none());
}

#[test]
fn maintenance_at_prefers_the_window_that_ends_last() {
    let config = two_windows();
    let (window, end) = config
        .maintenance_at("db-2", at("2026-06-01T03:15:00Z"))
        .expect("db-2 is in maintenance");
    assert_eq!(&*window.name, "db-2-long");
    assert_eq!(end, at("2026-06-01T05:30:00Z"));
}

// ---------------------------------------------------------------------------------------------
// Mistakes, each at its place with the fix
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unknown_label_gets_a_suggestion_and_a_glob_matching_nothing_is_fine() {
    assert_eq!(
        error(&with_windows(
            "  - { name: w, hosts: [\"db-*\", wbe, \"cache-*\"], schedule: \"0 3 * * *\", duration: 1h }\n"
        )),
        "flowstate.yaml:6:32: maintenance[0].hosts[1]: no host is labelled `wbe`; did you mean `web`?; name a configured host, or write a glob such as `wbe*` to match hosts that may not exist yet"
    );
}

#[test]
fn a_bad_cron_expression_says_how_to_write_one() {
    assert_eq!(
        error(&with_windows("  - { name: w, schedule: \"0 3 * SUN\", duration: 1h }\n")),
        "flowstate.yaml:6:26: maintenance[0].schedule: `0 3 * SUN` has 4 fields; a schedule has 5 fields: minute hour day-of-month month day-of-week, e.g. \"0 3 * * SUN\" (Sundays at 03:00)"
    );
    assert_eq!(
        error(&with_windows("  - { name: w, schedule: \"0 25 * * *\", duration: 1h }\n")),
        "flowstate.yaml:6:26: maintenance[0].schedule: `0 25 * * *` is not a cron schedule (its hour `25`: number out of bounds); write 5 fields: minute hour day-of-month month day-of-week, e.g. \"0 3 * * SUN\" (Sundays at 03:00)"
    );
    let e = error(&with_windows(
        "  - { name: w, schedule: \"@reboot\", duration: 1h }\n",
    ));
    assert!(
        e.contains("`@reboot` is not a cron schedule (of the @ forms, use @hourly, @daily, @weekly, @monthly or @yearly)"),
        "{e}"
    );
    assert_eq!(
        error(&with_windows("  - { name: w, schedule: \"0 0 31 4 *\", duration: 1h }\n")),
        "flowstate.yaml:6:26: maintenance[0].schedule: `0 0 31 4 *` never happens (no month has that day, or day and weekday never meet); fix the day or the month"
    );
}

#[test]
fn a_schedule_needs_a_duration_of_at_most_31_days() {
    assert_eq!(
        error(&with_windows("  - name: w\n    schedule: \"0 3 * * *\"\n")),
        "flowstate.yaml:6:5: maintenance[0]: missing `duration`: how long each occurrence of the schedule lasts, e.g. `duration: 2h`"
    );
    assert_eq!(
        error(&with_windows("  - { name: w, schedule: \"0 3 * * *\", duration: 40d }\n")),
        "flowstate.yaml:6:49: maintenance[0].duration: a window lasts at most 31d, found `40d`; shorten it, or write a one-off window with `start` and `end`"
    );
    assert_eq!(
        error(&with_windows(
            "  - { name: w, schedule: \"0 3 * * *\", duration: 0s }\n"
        )),
        "flowstate.yaml:6:49: maintenance[0].duration: must be longer than 0, found `0s`"
    );
}

#[test]
fn an_unknown_time_zone_is_named_with_a_suggestion() {
    assert_eq!(
        error(&with_windows(
            "  - { name: w, schedule: \"0 3 * * *\", duration: 1h, timezone: Europe/Berln }\n"
        )),
        "flowstate.yaml:6:63: maintenance[0].timezone: unknown time zone `Europe/Berln`; did you mean `Europe/Berlin`?; use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`"
    );
}

#[test]
fn a_window_is_either_recurring_or_one_off() {
    assert_eq!(
        error(&with_windows("  - { name: w, hosts: [web] }\n")),
        "flowstate.yaml:6:5: maintenance[0]: missing `schedule` or `start`; write `schedule: \"0 3 * * SUN\"` with `duration: 2h` for a recurring window, or `start` and `end` (RFC 3339) for a one-off window"
    );
    assert_eq!(
        error(&with_windows(
            "  - name: w\n    schedule: \"0 3 * * *\"\n    duration: 1h\n    start: 2026-05-01T22:00:00Z\n    end: 2026-05-02T02:00:00Z\n"
        )),
        "flowstate.yaml:9:12: maintenance[0].start: `schedule` and `start`/`end` are both set; a window either recurs (`schedule`, `duration`, `timezone`) or happens once (`start`, `end`): remove one of them"
    );
    assert_eq!(
        errors(&with_windows(
            "  - name: w\n    start: 2026-05-01T22:00:00Z\n    end: 2026-05-02T02:00:00Z\n    duration: 2h\n    timezone: Europe/Berlin\n"
        )),
        [
            "flowstate.yaml:9:15: maintenance[0].duration: `duration` goes with `schedule`; a one-off window runs from `start` to `end`, whose offsets say their time zone: remove `duration`",
            "flowstate.yaml:10:15: maintenance[0].timezone: `timezone` goes with `schedule`; a one-off window runs from `start` to `end`, whose offsets say their time zone: remove `timezone`",
        ]
    );
}

#[test]
fn one_off_times_need_an_offset_and_end_after_start() {
    assert_eq!(
        errors(&with_windows(
            "  - name: w\n    start: 2026-05-01 22:00\n    end: tomorrow\n"
        )),
        [
            "flowstate.yaml:7:12: maintenance[0].start: `2026-05-01 22:00` is not a date and time with an offset; write it in RFC 3339, e.g. 2026-05-01T22:00:00Z or 2026-05-01T22:00:00+02:00",
            "flowstate.yaml:8:10: maintenance[0].end: `tomorrow` is not a date and time with an offset; write it in RFC 3339, e.g. 2026-05-01T22:00:00Z or 2026-05-01T22:00:00+02:00",
        ]
    );
    assert_eq!(
        error(&with_windows(
            "  - name: w\n    start: 2026-05-02T02:00:00Z\n    end: 2026-05-01T22:00:00+02:00\n"
        )),
        "flowstate.yaml:8:10: maintenance[0].end: the window ends (2026-05-01T22:00:00+02:00) before it starts (2026-05-02T02:00:00Z); `end` must be after `start`"
    );
    assert_eq!(
        error(&with_windows("  - name: w\n    start: 2026-05-02T02:00:00Z\n")),
        "flowstate.yaml:6:5: maintenance[0]: missing `end`: a one-off window needs `start` and `end`, e.g. 2026-05-01T22:00:00Z or 2026-05-01T22:00:00+02:00"
    );
}

#[test]
fn names_are_required_and_unique() {
    assert_eq!(
        error(&with_windows("  - { schedule: \"0 3 * * *\", duration: 1h }\n")),
        "flowstate.yaml:6:5: maintenance[0]: missing `name`; every maintenance window needs a unique name, e.g. `name: weekly-db`"
    );
    assert_eq!(
        error(&with_windows(
            "  - { name: nightly, schedule: \"0 3 * * *\", duration: 1h }\n  - { name: nightly, start: 2026-05-01T22:00:00Z, end: 2026-05-02T02:00:00Z }\n"
        )),
        "flowstate.yaml:7:13: maintenance[1].name: maintenance window `nightly` is already defined at flowstate.yaml:6:13: maintenance[0]; names must be unique, rename one of them"
    );
}

#[test]
fn hosts_must_name_something_and_globs_must_compile() {
    assert_eq!(
        error(&with_windows("  - { name: w, hosts: [], schedule: \"0 3 * * *\", duration: 1h }\n")),
        "flowstate.yaml:6:23: maintenance[0].hosts: the list is empty; remove `hosts` for a window over every host, or name hosts (labels or globs such as `db-*`)"
    );
    let all = errors(&with_windows(
        "  - { name: w, hosts: [\"db-[\", wbe], schedule: \"0 3 * * *\", duration: 1h }\n",
    ));
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[0].starts_with(
            "flowstate.yaml:6:24: maintenance[0].hosts[0]: `db-[` is not a valid glob ("
        ),
        "{all:#?}"
    );
    assert!(
        all[1]
            .starts_with("flowstate.yaml:6:32: maintenance[0].hosts[1]: no host is labelled `wbe`"),
        "{all:#?}"
    );
}

#[test]
fn misspelt_keys_and_wrong_shapes_are_reported() {
    assert_eq!(
        errors(&with_windows("  - { name: w, schedul: \"0 3 * * *\", duration: 1h }\n")),
        [
            "flowstate.yaml:6:5: maintenance[0]: missing `schedule` or `start`; write `schedule: \"0 3 * * SUN\"` with `duration: 2h` for a recurring window, or `start` and `end` (RFC 3339) for a one-off window",
            "flowstate.yaml:6:16: maintenance[0].schedul: unknown key `schedul`; did you mean `schedule`?",
        ]
    );
    assert_eq!(
        error("maintenance: { name: w }\n"),
        "flowstate.yaml:1:14: maintenance: expected a list of maintenance windows (lines starting with `- name:`), found a mapping"
    );
}

#[test]
fn every_error_of_a_window_is_reported_in_one_pass() {
    let all = errors(&with_windows(
        "  - name: w\n    hosts: [wbe]\n    schedule: \"0 3 * *\"\n    timezone: Mars/Olympus\n",
    ));
    assert_eq!(all.len(), 4, "{all:#?}");
    assert!(
        all[0].contains("maintenance[0]: missing `duration`"),
        "{all:#?}"
    );
    assert!(
        all[1].contains("maintenance[0].hosts[0]: no host is labelled `wbe`"),
        "{all:#?}"
    );
    assert!(
        all[2].contains("maintenance[0].schedule: `0 3 * *` has 4 fields"),
        "{all:#?}"
    );
    assert!(
        all[3].contains("maintenance[0].timezone: unknown time zone `Mars/Olympus`"),
        "{all:#?}"
    );
}

#[test]
fn names_are_unique_across_files_and_labels_are_checked_against_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("flowstate.yaml");
    let more = dir.path().join("more.yaml");
    std::fs::write(
        &main,
        "include: [more.yaml]\nhosts:\n  - { label: web, url: 'http://web/' }\nmaintenance:\n  - { name: nightly, hosts: [db], schedule: \"0 3 * * *\", duration: 1h }\n",
    )
    .unwrap();
    std::fs::write(
        &more,
        "hosts:\n  - { label: db, url: 'http://db/' }\nmaintenance:\n  - { name: nightly, hosts: [wbe], start: 2026-05-01T22:00:00Z, end: 2026-05-02T02:00:00Z }\n",
    )
    .unwrap();
    let errors: Vec<String> =
        flowstate_config::load_with_env(std::slice::from_ref(&main), &common::env)
            .unwrap_err()
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect();
    let (main, more) = (main.display(), more.display());
    assert_eq!(
        errors,
        [
            format!("{more}:4:13: maintenance[0].name: maintenance window `nightly` is already defined at {main}:5:13: maintenance[0]; names must be unique, rename one of them"),
            format!("{more}:4:30: maintenance[0].hosts[0]: no host is labelled `wbe`; did you mean `web`?; name a configured host, or write a glob such as `wbe*` to match hosts that may not exist yet"),
        ]
    );
}
