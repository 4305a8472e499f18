//! `depends_on` in a running daemon (SPEC §9): a host failing behind a parent that is down is
//! `unreachable`, and its alerts are held with the parent named; the parent's outage pages
//! once. Parents and children fail together on real loopback targets, at the same moment, so
//! the order in which their results arrive is whatever the machine makes of it.

use std::sync::atomic::AtomicU16;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use crate::common::configs::{document_with_notifiers, host};
use crate::common::events::{events, kinds, wait_for_event};
use crate::common::scrape::wait_for_sample;
use crate::common::{start, switchable, Daemon, Sandbox, TestServer};

/// Fast checks: a failed check every 100 ms, two in a row make a host down.
const FAST: &str = "interval: 100ms, timeout: 100ms, failure_threshold: 2";

/// The reference notifier: every event, no policy of its own.
const AUDIT: &str = "  audit: { type: file, path: alerts.jsonl }\n";

/// `(label, event)` of every event written so far.
fn written(sandbox: &Sandbox) -> Vec<(String, String)> {
    events(sandbox)
        .iter()
        .map(|e| {
            (
                e["host"].as_str().unwrap_or_default().to_string(),
                e["event"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// `router` and `api` behind it (`depends_on: [router]`), both up, on targets the test flips.
struct RouterAndApi {
    router_status: Arc<AtomicU16>,
    service_status: Arc<AtomicU16>,
    sandbox: Sandbox,
    daemon: Daemon,
    _targets: [TestServer; 2],
}

fn router_and_api() -> RouterAndApi {
    let (router_status, router) = switchable(200);
    let (service_status, service) = switchable(200);
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [audit]"),
        AUDIT,
        &[
            host("router", &router.url("/"), ""),
            host("api", &service.url("/"), "depends_on: [router]"),
        ],
    ));
    daemon.wait_for_status("api", "up");
    daemon.wait_for_status("router", "up");
    RouterAndApi {
        router_status,
        service_status,
        sandbox,
        daemon,
        _targets: [router, service],
    }
}

#[test]
fn a_parent_and_twenty_children_failing_together_page_once_for_the_parent() {
    let (router_status, router) = switchable(200);
    let (service_status, services) = switchable(200);
    let mut hosts = vec![host("router", &router.url("/"), "")];
    for n in 0..20 {
        hosts.push(host(
            &format!("svc-{n:02}"),
            &services.url(&format!("/{n}")),
            "depends_on: [router]",
        ));
    }
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [audit]"),
        AUDIT,
        &hosts,
    ));
    daemon.wait_for_status("router", "up");
    for n in 0..20 {
        daemon.wait_for_status(&format!("svc-{n:02}"), "up");
    }

    // The router dies, and everything behind it with it, at the same moment.
    router_status.store(503, SeqCst);
    service_status.store(503, SeqCst);
    daemon.wait_for_status("router", "down");
    for n in 0..20 {
        let child = daemon.wait_for_status(&format!("svc-{n:02}"), "unreachable");
        assert_eq!(child["unreachable_via"], "router", "{child:#}");
    }
    let child = daemon.host("svc-07");
    assert_eq!(
        child["last_suppressed"]["event"], "unreachable",
        "{child:#}"
    );
    assert_eq!(child["last_suppressed"]["hold"]["kind"], "parent");
    assert_eq!(child["last_suppressed"]["hold"]["parent"], "router");
    assert!(
        child["last_suppressed"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("router")),
        "{child:#}"
    );
    // The host's page says which parent cuts it off and why its alert was not sent.
    let page = daemon.get("/hosts/svc-07");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Unreachable via"), "{}", page.body);
    assert!(page.body.contains("parent router is down"), "{}", page.body);
    wait_for_sample(
        &mut daemon,
        "flowstate_host_status{host=\"svc-07\",status=\"unreachable\"}",
        |v| v == 1.0,
    );
    wait_for_sample(
        &mut daemon,
        "flowstate_alerts_total{notifier=\"audit\",result=\"suppressed\"}",
        |v| v >= 20.0,
    );

    // Everything recovers: the router's recovery is news, the children's never was.
    router_status.store(200, SeqCst);
    service_status.store(200, SeqCst);
    wait_for_event(&sandbox, &daemon, "up", "router");
    for n in 0..20 {
        daemon.wait_for_status(&format!("svc-{n:02}"), "up");
    }
    // The children's recoveries were decided after the router's `up` was written (they
    // need a check after the router's recovery): had any alerted, it would be in the file.
    let checks = daemon.host("svc-19")["checks"].as_u64().unwrap_or(0);
    daemon.wait_for_checks("svc-19", checks + 3);
    assert_eq!(
        written(&sandbox),
        [
            ("router".to_string(), "down".to_string()),
            ("router".to_string(), "up".to_string())
        ],
        "{daemon}"
    );
}

#[test]
fn a_child_failing_alone_is_down_and_alerted() {
    let RouterAndApi {
        router_status: _router_status,
        service_status,
        sandbox,
        mut daemon,
        _targets: _kept_running,
    } = router_and_api();
    service_status.store(503, SeqCst);
    let down = wait_for_event(&sandbox, &daemon, "down", "api");
    assert_eq!(down["previous"], "up");
    assert_eq!(daemon.host("api")["status"], "down");
    assert_eq!(kinds(&events(&sandbox)), ["down"]);
}

#[test]
fn a_child_still_failing_when_its_parent_recovers_is_alerted_once_then() {
    let RouterAndApi {
        router_status,
        service_status,
        sandbox,
        mut daemon,
        _targets: _kept_running,
    } = router_and_api();
    router_status.store(503, SeqCst);
    service_status.store(503, SeqCst);
    daemon.wait_for_status("router", "down");
    daemon.wait_for_status("api", "unreachable");

    router_status.store(200, SeqCst);
    let down = wait_for_event(&sandbox, &daemon, "down", "api");
    assert_eq!(down["previous"], "unreachable", "{down:#}");
    daemon.wait_for_status("api", "down");
    let checks = daemon.host("api")["checks"].as_u64().unwrap_or(0);
    daemon.wait_for_checks("api", checks + 5);
    assert_eq!(
        written(&sandbox),
        [
            ("router".to_string(), "down".to_string()),
            ("router".to_string(), "up".to_string()),
            ("api".to_string(), "down".to_string()),
        ],
        "one alert for the child, after the router's recovery\n{daemon}"
    );
}

#[test]
fn a_child_of_redundant_parents_is_cut_off_only_when_both_are_down() {
    let (a_status, isp_a) = switchable(200);
    let (b_status, isp_b) = switchable(200);
    let (service_status, service) = switchable(200);
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [audit]"),
        AUDIT,
        &[
            host("isp-a", &isp_a.url("/"), ""),
            host("isp-b", &isp_b.url("/"), ""),
            host(
                "shop",
                &service.url("/"),
                "depends_on: [{ any: [isp-a, isp-b] }]",
            ),
        ],
    ));
    for label in ["isp-a", "isp-b", "shop"] {
        daemon.wait_for_status(label, "up");
    }
    // Both links fail with the shop behind them: the shop is cut off, not down.
    a_status.store(503, SeqCst);
    b_status.store(503, SeqCst);
    service_status.store(503, SeqCst);
    let shop = daemon.wait_for_status("shop", "unreachable");
    assert_eq!(shop["unreachable_via"], "isp-a and isp-b");
    // One link comes back and the shop still fails: it is down on its own.
    a_status.store(200, SeqCst);
    wait_for_event(&sandbox, &daemon, "down", "shop");
    let mut seen = written(&sandbox);
    seen.sort();
    assert_eq!(
        seen,
        [
            ("isp-a".to_string(), "down".to_string()),
            ("isp-a".to_string(), "up".to_string()),
            ("isp-b".to_string(), "down".to_string()),
            ("shop".to_string(), "down".to_string()),
        ],
        "{daemon}"
    );
}
