//! Grouped deliveries (`group_by`, `group_wait`, SPEC §9): the events of one group that come
//! within `group_wait` reach a receiver as one delivery listing them, while another group's
//! go their own way, and a notifier without `group_by` still gets one delivery per event.

use std::sync::atomic::Ordering::SeqCst;

use serde_json::Value;

use crate::common::configs::{document_with_notifiers, host};
use crate::common::events::wait_for_events;
use crate::common::receiver::{Post, Receiver};
use crate::common::{start, switchable};

/// Fast checks: a failed check every 100 ms, two in a row make a host down.
const FAST: &str = "interval: 100ms, timeout: 100ms, failure_threshold: 2";

/// The group's name and its events' `(host, event)`, sorted.
fn delivery(post: &Post) -> (String, Vec<(String, String)>) {
    let body: Value = post.json();
    let mut events: Vec<(String, String)> = body["events"]
        .as_array()
        .unwrap_or_else(|| panic!("not a group: {body}"))
        .iter()
        .map(|e| {
            (
                e["host"].as_str().unwrap_or_default().to_string(),
                e["event"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    events.sort();
    (
        body["group"].as_str().unwrap_or_default().to_string(),
        events,
    )
}

#[test]
fn thirty_hosts_of_one_group_failing_together_are_one_delivery_listing_thirty() {
    let (payments_status, payments) = switchable(200);
    let (search_status, search) = switchable(200);
    let hook = Receiver::accepting();
    let notifiers = format!(
        "  hook: {{ type: webhook, url: '{}', group_by: [group], group_wait: 3s }}\n\
         \x20 audit: {{ type: file, path: alerts.jsonl }}\n",
        hook.url("/hook")
    );
    let mut hosts: Vec<String> = (0..30)
        .map(|n| {
            host(
                &format!("pay-{n:02}"),
                &payments.url(&format!("/{n}")),
                "group: payments",
            )
        })
        .collect();
    hosts.push(host("search", &search.url("/"), "group: search"));
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [hook, audit]"),
        &notifiers,
        &hosts,
    ));
    for n in 0..30 {
        daemon.wait_for_status(&format!("pay-{n:02}"), "up");
    }
    daemon.wait_for_status("search", "up");

    payments_status.store(503, SeqCst);
    search_status.store(503, SeqCst);
    // The reference notifier, not grouped, gets 31 events one by one.
    wait_for_events(&sandbox, &daemon, 31);
    let posts = hook.wait_for_count(&daemon, 2);
    let mut deliveries: Vec<(String, Vec<(String, String)>)> = posts.iter().map(delivery).collect();
    deliveries.sort();
    let expected: Vec<(String, String)> = (0..30)
        .map(|n| (format!("pay-{n:02}"), "down".to_string()))
        .collect();
    assert_eq!(
        deliveries[0],
        ("payments".to_string(), expected),
        "{daemon}"
    );
    assert_eq!(
        deliveries[1],
        (
            "search".to_string(),
            vec![("search".to_string(), "down".to_string())]
        )
    );

    // The recoveries are grouped the same way.
    payments_status.store(200, SeqCst);
    search_status.store(200, SeqCst);
    let posts = hook.wait_for_count(&daemon, 4);
    let mut recoveries: Vec<(String, Vec<(String, String)>)> =
        posts[2..].iter().map(delivery).collect();
    recoveries.sort();
    assert_eq!(recoveries[0].0, "payments");
    assert_eq!(recoveries[0].1.len(), 30, "{recoveries:?}");
    assert!(recoveries[0].1.iter().all(|(_, kind)| kind == "up"));
    assert_eq!(recoveries[1].0, "search");
    // Every delivery carries its first event's id as the key receivers drop repeats by.
    for post in &posts {
        let body = post.json();
        assert_eq!(
            post.request.header("Idempotency-Key"),
            body["events"][0]["id"].as_str()
        );
    }
}
