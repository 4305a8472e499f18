//! The Alertmanager notifier (SPEC §11): Alertmanager API v2, an alert per host.
//!
//! Each host in trouble is one alert, labelled `alertname="FlowstateHostDown"`, `host`,
//! `status` (`down` or `degraded`) and `group` (when the host has one), posted as a JSON array
//! to `{url}/api/v2/alerts`. Alertmanager resolves an alert whose `endsAt` has passed, so, as
//! Prometheus does, an active alert is posted again every `resend_every` with `endsAt` four
//! periods ahead: while flowstate runs it keeps firing, and if flowstate dies its alerts end
//! on their own instead of firing forever. A recovery posts the alert with `endsAt` at the
//! recovery time, which resolves it at once.
//!
//! The re-posting is a task on the router's arbiter, started with the first delivery. It holds
//! only a weak reference to the notifier's state, so it ends on its next tick once the router
//! drops the notifier (removed or changed on reload). What it re-posts is in memory; after a
//! restart or a reload the router hands back each host's last `down` it was told of
//! ([`Notifier::resume`]), from the alert tracks it keeps (and stores with `state.path`), so a
//! host still down keeps firing. A `degraded` alert is not handed back (the tracks keep only
//! the last `down`): it lapses until the host's next event; docs/alerts.md says so.
//!
//! Answers are judged as the webhook's are: 2xx delivered; 5xx, 408, 429 and network errors
//! retried; other 4xx given up (Alertmanager answers 400 to an alert it cannot accept).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flowstate_config::notifier::AlertmanagerConfig;
use flowstate_config::secret::redact_url;
use serde::Serialize;

use super::webhook::{exchange, receiver_client, USER_AGENT_VALUE};
use super::{DeliveryError, DeliveryFuture, EventGroup, Notifier};
use crate::event::{AlertEvent, EventKind};
use crate::model::{rfc3339, Status};

/// The `alertname` label of every alert flowstate posts.
pub const ALERT_NAME: &str = "FlowstateHostDown";

/// How many `resend_every` periods ahead a firing alert's `endsAt` is set (Prometheus uses 4).
const ENDS_AFTER_PERIODS: u32 = 4;

/// One alert as API v2 `postableAlert` has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostableAlert {
    pub labels: BTreeMap<&'static str, String>,
    pub annotations: BTreeMap<&'static str, String>,
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    #[serde(rename = "endsAt")]
    pub ends_at: String,
}

/// A host's alert while it fires: what the re-posts repeat.
#[derive(Debug, Clone)]
struct Active {
    labels: BTreeMap<&'static str, String>,
    annotations: BTreeMap<&'static str, String>,
    starts_at: String,
}

/// What the notifier and its re-posting task share.
struct Shared {
    config: Arc<AlertmanagerConfig>,
    client: awc::Client,
    endpoint: url::Url,
    /// The URL fit for messages: no password, no token-like query values.
    shown_url: String,
    /// Firing alerts by host label.
    active: RefCell<HashMap<String, Active>>,
}

pub struct AlertmanagerNotifier {
    shared: Rc<Shared>,
    /// Whether the re-posting task runs; started lazily because the notifier may be built
    /// before its arbiter runs (spawning needs a running arbiter).
    resending: bool,
}

impl AlertmanagerNotifier {
    pub fn new(config: AlertmanagerConfig) -> Self {
        let client = receiver_client(config.timeout);
        let endpoint = alerts_endpoint(&config.url);
        let shown_url = redact_url(&endpoint);
        AlertmanagerNotifier {
            shared: Rc::new(Shared {
                config: Arc::new(config),
                client,
                endpoint,
                shown_url,
                active: RefCell::new(HashMap::new()),
            }),
            resending: false,
        }
    }

    /// The alerts `event` is worth, the active set updated to match.
    fn alerts_for(&self, event: &AlertEvent, now: SystemTime) -> Vec<PostableAlert> {
        let ends = now + self.shared.config.resend_every * ENDS_AFTER_PERIODS;
        apply(&mut self.shared.active.borrow_mut(), event, ends)
    }

    fn start_resending(&mut self) {
        if self.resending {
            return;
        }
        self.resending = true;
        let weak = Rc::downgrade(&self.shared);
        let every = self.shared.config.resend_every;
        actix_rt::spawn(resend_while_alive(weak, every));
    }
}

/// `{url}/api/v2/alerts`, whether or not the base URL ends with a slash.
fn alerts_endpoint(base: &url::Url) -> url::Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().extend(["api", "v2", "alerts"]);
    }
    url
}

/// Re-posts every active alert each `every` until the notifier is dropped.
async fn resend_while_alive(weak: Weak<Shared>, every: Duration) {
    let mut failing = false;
    loop {
        actix_rt::time::sleep(every).await;
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let ends = SystemTime::now() + every * ENDS_AFTER_PERIODS;
        let alerts: Vec<PostableAlert> = shared
            .active
            .borrow()
            .values()
            .map(|a| a.firing(ends))
            .collect();
        if alerts.is_empty() {
            continue;
        }
        let request = post(&shared, &alerts);
        // The strong reference is not held across the wait: dropping the notifier ends
        // this task on its next tick even if a post hangs until its timeout.
        drop(shared);
        match request.await {
            // The next tick posts again; a lasting failure leaves the alerts to end at their
            // `endsAt`, which is what Alertmanager should see of a flowstate it cannot hear.
            // Said once when it starts and once when it ends, not on every tick.
            Err(e) if !failing => {
                failing = true;
                log::warn!(alerts = alerts.len(), error = e.message(); "re-posting active alerts to Alertmanager failed; retrying every resend_every");
            }
            Ok(()) if failing => {
                failing = false;
                log::info!(alerts = alerts.len(); "re-posting active alerts to Alertmanager works again");
            }
            _ => {}
        }
    }
}

impl Active {
    fn firing(&self, ends: SystemTime) -> PostableAlert {
        PostableAlert {
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            starts_at: self.starts_at.clone(),
            ends_at: rfc3339(ends),
        }
    }
}

/// The labels of `host`'s alert for `status`.
fn labels(event: &AlertEvent, status: Status) -> BTreeMap<&'static str, String> {
    let mut labels = BTreeMap::from([
        ("alertname", ALERT_NAME.to_string()),
        ("host", event.host.clone()),
        ("status", status.as_str().to_string()),
    ]);
    if let Some(group) = &event.group {
        labels.insert("group", group.clone());
    }
    labels
}

/// Updates `active` for `event` and returns what to post: a firing alert for a host down or
/// degraded, a resolved one (`endsAt` at the event) for a recovery. A host going from
/// degraded to down changes its `status` label, which makes a new alert in Alertmanager's
/// eyes, so the old one is resolved in the same post. Other events (a flapping notice while
/// up) post nothing.
fn apply(
    active: &mut HashMap<String, Active>,
    event: &AlertEvent,
    ends: SystemTime,
) -> Vec<PostableAlert> {
    let mut alerts = Vec::new();
    let firing = matches!(event.status, Status::Down | Status::Degraded)
        && !matches!(event.event, EventKind::Up | EventKind::Removed);
    if firing {
        let labels = labels(event, event.status);
        if let Some(old) = active.get(&event.host) {
            if old.labels != labels {
                alerts.push(old.resolved(&event.at));
            }
        }
        let summary = format!("{} is {}", event.host, event.status);
        let description = match event.reason.trim() {
            "" => summary.clone(),
            reason => reason.to_string(),
        };
        let next = Active {
            labels,
            annotations: BTreeMap::from([("summary", summary), ("description", description)]),
            starts_at: event.since.clone(),
        };
        alerts.push(next.firing(ends));
        active.insert(event.host.clone(), next);
    } else if matches!(event.event, EventKind::Up | EventKind::Removed) {
        let old = active.remove(&event.host).unwrap_or_else(|| {
            // Not known here (flowstate restarted since it fired): the labels it fired with
            // follow from the status before, and a start at the end is valid for the API.
            Active {
                labels: labels(event, event.previous),
                annotations: BTreeMap::new(),
                starts_at: event.at.clone(),
            }
        });
        let mut resolved = old.resolved(&event.at);
        let summary = match event.event {
            EventKind::Removed => format!("{} was removed from flowstate", event.host),
            _ => format!("{} is up again", event.host),
        };
        resolved.annotations.insert("summary", summary);
        resolved
            .annotations
            .insert("description", event.reason.trim().to_string());
        alerts.push(resolved);
    }
    alerts
}

impl Active {
    fn resolved(&self, at: &str) -> PostableAlert {
        PostableAlert {
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            starts_at: self.starts_at.clone(),
            ends_at: at.to_string(),
        }
    }
}

impl Notifier for AlertmanagerNotifier {
    fn deliver(&mut self, event: &AlertEvent) -> DeliveryFuture {
        self.start_resending();
        let alerts = self.alerts_for(event, SystemTime::now());
        if alerts.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        post(&self.shared, &alerts)
    }

    fn resume(&mut self, last: &AlertEvent) {
        // Active again from the next re-post on; the alert Alertmanager holds from before
        // ends `4 × resend_every` after its last post, so the first tick is in time.
        let _ = self.alerts_for(last, SystemTime::now());
        self.start_resending();
    }

    fn deliver_group(&mut self, group: &EventGroup) -> DeliveryFuture {
        self.start_resending();
        let now = SystemTime::now();
        let alerts: Vec<PostableAlert> = group
            .events
            .iter()
            .flat_map(|event| self.alerts_for(event, now))
            .collect();
        if alerts.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        post(&self.shared, &alerts)
    }
}

/// One POST of `alerts`, bounded as a whole by the notifier's timeout.
fn post(shared: &Shared, alerts: &[PostableAlert]) -> DeliveryFuture {
    let timeout = shared.config.timeout;
    let shown_url = shared.shown_url.clone();
    let mut request = shared
        .client
        .post(shared.endpoint.as_str())
        .insert_header(("User-Agent", USER_AGENT_VALUE));
    for header in &shared.config.headers {
        request = request.insert_header((header.name.as_str(), header.value.as_str()));
    }
    let body = serde_json::to_value(alerts);
    Box::pin(async move {
        let body = body.map_err(|e| DeliveryError::permanent(format!("{shown_url}: {e}")))?;
        exchange(request, body, shown_url, timeout).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, status: Status, previous: Status) -> AlertEvent {
        AlertEvent {
            id: "01J".into(),
            event: kind,
            host: "cache".into(),
            group: Some("storage".into()),
            status,
            previous,
            at: "2026-12-01T10:05:00.000Z".into(),
            since: "2026-12-01T10:00:00.000Z".into(),
            reason: "connection refused".into(),
            consecutive_failures: 3,
            latency_ms: 0.0,
            trace: None,
        }
    }

    #[test]
    fn the_endpoint_is_the_v2_alerts_path_under_the_base_url() {
        for (base, wanted) in [
            (
                "http://127.0.0.1:9093",
                "http://127.0.0.1:9093/api/v2/alerts",
            ),
            (
                "http://am.example.com/am/",
                "http://am.example.com/am/api/v2/alerts",
            ),
        ] {
            let url = url::Url::parse(base).unwrap();
            assert_eq!(alerts_endpoint(&url).as_str(), wanted);
        }
    }

    #[test]
    fn a_down_host_fires_with_its_labels_and_a_recovery_resolves_it() {
        let mut active = HashMap::new();
        let ends = SystemTime::UNIX_EPOCH + Duration::from_secs(4_000_000_000);
        let fired = apply(
            &mut active,
            &event(EventKind::Down, Status::Down, Status::Up),
            ends,
        );
        assert_eq!(fired.len(), 1);
        let alert = &fired[0];
        assert_eq!(alert.labels["alertname"], ALERT_NAME);
        assert_eq!(alert.labels["host"], "cache");
        assert_eq!(alert.labels["status"], "down");
        assert_eq!(alert.labels["group"], "storage");
        assert_eq!(alert.annotations["description"], "connection refused");
        assert_eq!(alert.starts_at, "2026-12-01T10:00:00.000Z");
        assert_eq!(alert.ends_at, rfc3339(ends));
        assert!(active.contains_key("cache"));

        let resolved = apply(
            &mut active,
            &event(EventKind::Up, Status::Up, Status::Down),
            ends,
        );
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].labels, alert.labels, "the same alert");
        assert_eq!(resolved[0].ends_at, "2026-12-01T10:05:00.000Z");
        assert!(active.is_empty());
    }

    #[test]
    fn a_status_change_resolves_the_alert_of_the_old_status() {
        let mut active = HashMap::new();
        let ends = SystemTime::now();
        apply(
            &mut active,
            &event(EventKind::Degraded, Status::Degraded, Status::Up),
            ends,
        );
        let posted = apply(
            &mut active,
            &event(EventKind::Down, Status::Down, Status::Degraded),
            ends,
        );
        assert_eq!(posted.len(), 2);
        assert_eq!(posted[0].labels["status"], "degraded");
        assert_eq!(posted[0].ends_at, "2026-12-01T10:05:00.000Z");
        assert_eq!(posted[1].labels["status"], "down");
    }

    #[test]
    fn a_recovery_unknown_here_still_resolves_the_alert_it_fired_before_a_restart() {
        let mut active = HashMap::new();
        let posted = apply(
            &mut active,
            &event(EventKind::Up, Status::Up, Status::Down),
            SystemTime::now(),
        );
        assert_eq!(posted[0].labels["status"], "down");
        assert_eq!(posted[0].starts_at, posted[0].ends_at);
    }
}
