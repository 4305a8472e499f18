//! The `alertmanager` notifier (SPEC §11) against a real Alertmanager: Debian's
//! `prometheus-alertmanager`, started on loopback with a temporary configuration and storage
//! and its gossip turned off. A host that goes down shows as an alert with flowstate's labels
//! and annotations in `GET /api/v2/alerts`, keeps firing past its first `endsAt` because it is
//! re-posted, and resolves when the host recovers. A grouped notifier posts a group's alerts
//! together; a host still down after a restart keeps firing; a refusing Alertmanager (404)
//! gets the event given up, not retried.
//!
//! The program is required: `.ci/run` installs it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use serde_json::Value;

use crate::common::configs::{document_with_notifiers, host};
use crate::common::daemon::http_get;
use crate::common::daemon::CONFIG;
use crate::common::server::free_port;
use crate::common::wait::{wait_for, wait_until};
use crate::common::{start, switchable, Sandbox};

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// Fast checks: a failed check every 100 ms, two in a row make a host down.
const FAST: &str = "interval: 100ms, timeout: 100ms, failure_threshold: 2";

/// How long Alertmanager and the daemon get for each step; generous, never the assertion.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running Alertmanager, killed when dropped.
struct Alertmanager {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    /// Starts one on a free loopback port (another, should something take the port first)
    /// and waits until it is ready.
    fn start() -> Self {
        assert!(
            Path::new(ALERTMANAGER).exists(),
            "{ALERTMANAGER} is missing: these tests need Debian's prometheus-alertmanager \
             (`apt-get install --no-install-recommends prometheus-alertmanager`, as .ci/run does)"
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = dir.path().join("alertmanager.yml");
        // One receiver that sends nothing: the test reads what Alertmanager holds.
        std::fs::write(
            &config,
            "route: { receiver: nowhere, group_wait: 1s }\nreceivers:\n  - name: nowhere\n",
        )
        .expect("write alertmanager.yml");
        let storage = dir.path().join("data");
        for _ in 0..3 {
            let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
            let mut child = Command::new(ALERTMANAGER)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.path={}", storage.display()))
                .arg(format!("--web.listen-address={addr}"))
                // No gossip: no port 9094, no cluster to settle before it is ready.
                .arg("--cluster.listen-address=")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start prometheus-alertmanager");
            let ready = wait_for(PATIENCE, "Alertmanager answers /-/ready", || {
                if let Ok(Some(_)) = child.try_wait() {
                    return Some(false);
                }
                http_get(addr, "/-/ready")
                    .ok()
                    .filter(|a| a.status == 200)
                    .map(|_| true)
            })
            .unwrap();
            if ready {
                return Alertmanager {
                    child,
                    addr,
                    _dir: dir,
                };
            }
            // It exited: most likely the port was taken in between. Try another.
            let _ = child.wait();
        }
        panic!("prometheus-alertmanager did not start on three free ports");
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A config whose `hosts` alert the notifier `am`, posting to this Alertmanager's URL
    /// followed by `path`, with the notifier's other `keys` (`, resend_every: 1s`).
    fn config(&self, path: &str, keys: &str, hosts: &[String]) -> String {
        document_with_notifiers(
            "",
            &format!("{FAST}, alerts: [am]"),
            &format!(
                "  am: {{ type: alertmanager, url: '{}{path}'{keys} }}\n",
                self.url()
            ),
            hosts,
        )
    }

    /// The alerts it holds, unresolved (API v2 lists no alert whose `endsAt` has passed).
    fn alerts(&self) -> Vec<Value> {
        http_get(self.addr, "/api/v2/alerts")
            .ok()
            .filter(|a| a.status == 200)
            .and_then(|a| a.json().ok())
            .and_then(|v: Value| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// The alert of `host`, once Alertmanager has it.
    fn wait_for_alert(&self, host: &str, status: &str) -> Value {
        wait_for(
            PATIENCE,
            &format!("Alertmanager holds an alert for {host} ({status})"),
            || {
                self.alerts()
                    .into_iter()
                    .find(|a| a["labels"]["host"] == host && a["labels"]["status"] == status)
            },
        )
        .unwrap()
    }
}

/// An RFC 3339 time as seconds since the epoch (Alertmanager writes nanoseconds or none).
fn seconds(text: &Value) -> f64 {
    let text = text.as_str().unwrap_or_default();
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z').split('.').next().unwrap_or(""))
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {text:?}"))
}

#[test]
fn a_down_host_fires_in_alertmanager_keeps_firing_and_resolves_on_recovery() {
    let am = Alertmanager::start();
    let (status, target) = switchable(200);
    let config = am.config(
        "",
        ", resend_every: 1s, timeout: 5s",
        &[host("cache", &target.url("/"), "group: storage")],
    );
    let (_sandbox, mut daemon) = start(&config);
    daemon.wait_for_status("cache", "up");

    status.store(503, SeqCst);
    let alert = am.wait_for_alert("cache", "down");
    assert_eq!(
        alert["labels"]["alertname"], "FlowstateHostDown",
        "{alert:#}"
    );
    assert_eq!(alert["labels"]["group"], "storage", "{alert:#}");
    assert_eq!(
        alert["annotations"]["summary"], "cache is down",
        "{alert:#}"
    );
    let description = alert["annotations"]["description"].as_str().unwrap_or("");
    assert!(description.contains("503"), "{alert:#}");
    let first_end = seconds(&alert["endsAt"]);
    // Four periods of `resend_every: 1s` ahead of the post, give or take the clock.
    let ahead = first_end - seconds(&alert["updatedAt"]);
    assert!(
        (2.0..=5.0).contains(&ahead),
        "endsAt {ahead}s ahead: {alert:#}"
    );

    // Re-posted while the host stays down: its end moves on past the first one, and it is
    // still active after that first end has passed.
    wait_until(PATIENCE, "the alert's endsAt moves past its first", || {
        am.alerts()
            .iter()
            .any(|a| a["labels"]["host"] == "cache" && seconds(&a["endsAt"]) > first_end + 1.5)
    })
    .unwrap();
    assert!(
        am.alerts().iter().any(|a| a["labels"]["host"] == "cache"),
        "still firing after its first endsAt"
    );

    status.store(200, SeqCst);
    daemon.wait_for_status("cache", "up");
    wait_until(PATIENCE, "Alertmanager resolved the alert of cache", || {
        !am.alerts().iter().any(|a| a["labels"]["host"] == "cache")
    })
    .unwrap();
}

#[test]
fn a_grouped_notifier_posts_the_group_s_alerts_together() {
    let am = Alertmanager::start();
    let (status, target) = switchable(200);
    let config = am.config(
        "",
        ", group_by: [group], group_wait: 1s",
        &[
            host("cache", &target.url("/a"), "group: storage"),
            host("db", &target.url("/b"), "group: storage"),
        ],
    );
    let (_sandbox, mut daemon) = start(&config);
    daemon.wait_for_status("cache", "up");
    daemon.wait_for_status("db", "up");

    status.store(503, SeqCst);
    let cache = am.wait_for_alert("cache", "down");
    let db = am.wait_for_alert("db", "down");
    for alert in [&cache, &db] {
        assert_eq!(alert["labels"]["group"], "storage", "{alert:#}");
    }
    // With the default `resend_every` (1m) each alert's endsAt is four minutes ahead, so
    // only the recoveries flowstate posts can close them within the wait.
    let ahead = seconds(&cache["endsAt"]) - seconds(&cache["updatedAt"]);
    assert!(ahead > 200.0, "endsAt {ahead}s ahead: {cache:#}");
    status.store(200, SeqCst);
    wait_until(PATIENCE, "both alerts resolved", || am.alerts().is_empty()).unwrap();
}

#[test]
fn a_host_still_down_after_a_restart_keeps_firing_and_resolves_on_recovery() {
    let am = Alertmanager::start();
    let (status, target) = switchable(200);
    let config = format!(
        "state: {{ path: state.db }}\n{}",
        am.config(
            "",
            ", resend_every: 1s",
            &[host("cache", &target.url("/"), "")]
        )
    );
    let sandbox = Sandbox::new();
    sandbox.write(CONFIG, &config);
    let mut daemon = sandbox.daemon(CONFIG).start();
    daemon.wait_for_status("cache", "up");
    status.store(503, SeqCst);
    am.wait_for_alert("cache", "down");
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    // The last end the stopped daemon promised: at most four seconds ahead.
    let promised = am
        .alerts()
        .iter()
        .find(|a| a["labels"]["host"] == "cache")
        .map(|a| seconds(&a["endsAt"]))
        .expect("the alert outlives the daemon for a while");

    let mut again = sandbox.daemon(CONFIG).start();
    // Restored as down: no new `down` event, but the alert is re-posted from the track.
    wait_until(PATIENCE, "the restarted daemon re-posts the alert", || {
        am.alerts()
            .iter()
            .any(|a| a["labels"]["host"] == "cache" && seconds(&a["endsAt"]) > promised + 0.5)
    })
    .unwrap();

    status.store(200, SeqCst);
    again.wait_for_status("cache", "up");
    wait_until(PATIENCE, "Alertmanager resolved the alert of cache", || {
        !am.alerts().iter().any(|a| a["labels"]["host"] == "cache")
    })
    .unwrap();
}

#[test]
fn an_alertmanager_refusing_the_post_is_given_up_not_retried() {
    let am = Alertmanager::start();
    let (status, target) = switchable(200);
    // A base URL with a path Alertmanager does not serve: every post gets a 404.
    let config = am.config("/not-here", "", &[host("cache", &target.url("/"), "")]);
    let (_sandbox, mut daemon) = start(&config);
    daemon.wait_for_status("cache", "up");
    status.store(503, SeqCst);
    let line = daemon.wait_for_log("the delivery given up", |l| {
        l.contains("given up") && l.contains("notifier=am")
    });
    assert!(line.contains("status 404"), "{line}");
    assert!(am.alerts().is_empty(), "{:#?}", am.alerts());
}
