//! Grouped notifiers through the public API: `group_by` and `group_wait` on every notifier
//! type, their defaults, and each mistake at its place with the fix.

use std::time::Duration;

use flowstate_config::{ConfigDiff, GroupKey, NotifierConfig};

mod common;

use common::{error, errors, load};

fn notifier(yaml: &str) -> NotifierConfig {
    let config = load(yaml);
    (*config.notifiers[0]).clone()
}

#[test]
fn a_notifier_is_not_grouped_unless_told() {
    let n = notifier("notifiers:\n  ops: { type: stdout }\n");
    assert!(n.group_by.is_empty());
    assert!(!n.is_grouped());
    assert_eq!(n.group_wait, NotifierConfig::DEFAULT_GROUP_WAIT);
}

#[test]
fn group_by_takes_group_and_host_and_waits_30s_unless_told() {
    let n = notifier(
        "notifiers:\n  ops: { type: webhook, url: 'https://hooks.example.com/x', group_by: [group] }\n",
    );
    assert_eq!(n.group_by, [GroupKey::Group]);
    assert!(n.is_grouped());
    assert_eq!(n.group_wait, Duration::from_secs(30));
    let n = notifier(
        "notifiers:\n  ops: { type: command, command: [notify], group_by: [group, host], group_wait: 2m }\n",
    );
    assert_eq!(n.group_by, [GroupKey::Group, GroupKey::Host]);
    assert_eq!(n.group_wait, Duration::from_secs(120));
    // One key alone may be written without the list.
    let n = notifier("notifiers:\n  ops: { type: stdout, group_by: host, group_wait: 1s }\n");
    assert_eq!(n.group_by, [GroupKey::Host]);
    assert_eq!(n.group_wait, Duration::from_secs(1));
}

#[test]
fn grouping_is_part_of_a_notifiers_settings() {
    let before = load("notifiers:\n  ops: { type: stdout }\n");
    let after = load("notifiers:\n  ops: { type: stdout, group_by: [group] }\n");
    let settings = after.notifiers[0].settings();
    assert!(settings.contains(&("group_by", "group".to_string())));
    assert!(settings.contains(&("group_wait", "30s".to_string())));
    let diff = ConfigDiff::between(&before, &after);
    assert_eq!(diff.notifiers.changed, vec![std::sync::Arc::from("ops")]);
}

#[test]
fn an_unknown_key_lists_the_allowed_ones() {
    assert_eq!(
        error("notifiers:\n  ops: { type: stdout, group_by: [grop] }\n"),
        "flowstate.yaml:2:35: notifiers.ops.group_by[0]: unknown group_by key `grop`; did you mean `group`?; use one of group, host"
    );
    assert_eq!(
        error("notifiers:\n  ops: { type: stdout, group_by: [service] }\n"),
        "flowstate.yaml:2:35: notifiers.ops.group_by[0]: unknown group_by key `service`; use one of group, host"
    );
    assert_eq!(
        error("notifiers:\n  ops: { type: stdout, group_by: [host, host] }\n"),
        "flowstate.yaml:2:41: notifiers.ops.group_by[1]: `host` is listed twice; list each key once"
    );
    assert_eq!(
        error("notifiers:\n  ops: { type: stdout, group_by: [] }\n"),
        "flowstate.yaml:2:34: notifiers.ops.group_by: the list is empty; write `group_by: [group]` to collect events, or remove group_by to deliver each on its own"
    );
}

#[test]
fn group_wait_needs_group_by_and_stays_between_1s_and_1h() {
    assert_eq!(
        error("notifiers:\n  ops: { type: stdout, group_wait: 30s }\n"),
        "flowstate.yaml:2:36: notifiers.ops.group_wait: group_wait needs group_by: add `group_by: [group]` to collect events into one delivery, or remove group_wait"
    );
    assert_eq!(
        error("notifiers:\n  ops: { type: stdout, group_by: [group], group_wait: 2h }\n"),
        "flowstate.yaml:2:55: notifiers.ops.group_wait: group_wait must be between 1s and 1h, found `2h`; events wait this long for others of their group"
    );
    assert_eq!(
        error("notifiers:\n  ops: { type: stdout, group_by: [group], group_wait: 500ms }\n"),
        "flowstate.yaml:2:55: notifiers.ops.group_wait: group_wait must be between 1s and 1h, found `500ms`; events wait this long for others of their group"
    );
}

#[test]
fn grouping_errors_come_with_the_notifiers_other_errors() {
    let all = errors(
        "notifiers:\n  ops: { type: stdout, group_by: [grp], group_wait: 0s, backoff: 0s }\n",
    );
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(
        all[0].contains("group_by[0]: unknown group_by key `grp`"),
        "{all:#?}"
    );
    assert!(
        all[1].contains("group_wait: must be longer than 0"),
        "{all:#?}"
    );
    assert!(
        all[2].contains("backoff: must be longer than 0"),
        "{all:#?}"
    );
}
