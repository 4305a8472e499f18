//! `GET /`: every host in one table, with counts by status above it.
//!
//! The page is complete as served: the filter is a form (`?q=&status=&group=`) and the column
//! headers are its submit buttons (`?sort=label`, `?sort=-label`), both answered here, so the
//! table filters and sorts without a script. With the script they act in place, and rows
//! follow `/api/v1/stream`. Filtered-out rows are sent `hidden` rather than left out, so the
//! script can show them again without a reload.
//!
//! With tenants (SPEC §12), a tenant's login sees its own hosts and nothing of the others,
//! not even that there are others; the platform's (`server.token`, or no token) gets a tenant
//! switcher (`?tenant=team-a`, `?tenant=-` for the platform's own hosts) that scopes the whole
//! page, counts included, on the server.
//!
//! Cheap at 10 000 hosts: one question to the registry for the hosts, one for the sparklines
//! (the last [`SPARK_POINTS`] latencies of each, not whole histories), and the availability
//! figures the background cache already holds.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use flowstate_config::tenant::belongs_to;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::charts::{availability_class, percent, sparkline};
use super::layout::{ago, host_href, html_response, page, rank, symbol};
use super::login::{caller, to_login};
use crate::api::types::HostView;
use crate::api::{unavailable, with_availability, ApiState, ACTOR_DEADLINE};
use crate::messages::{GetHostSparklines, GetHosts, Sparklines};
use crate::model::Status;

/// Latencies per sparkline.
pub const SPARK_POINTS: usize = 30;

/// What the page says where availability would be, without a store.
pub const NO_STORE: &str = "history needs a state store (state.path or state.url)";

/// The filter and sort, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct View {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    sort: String,
    /// For the platform: one tenant's hosts, `-` the platform's own, empty all.
    #[serde(default)]
    tenant: String,
}

/// `?tenant=` for the platform's own hosts (no tenant's); `-` cannot be a tenant's name.
const PLATFORM_ONLY: &str = "-";

/// The sortable columns: (name in `?sort=`, heading, whether numbers align right).
const COLUMNS: [(&str, &str, bool); 11] = [
    ("status", "Status", false),
    ("label", "Host", false),
    ("type", "Type", false),
    ("group", "Group", false),
    ("reason", "Reason", false),
    ("a24h", "24 h", true),
    ("a7d", "7 d", true),
    ("a30d", "30 d", true),
    ("latency", "Latency", true),
    ("", "Trend", false),
    ("since", "Since", true),
];

impl View {
    fn matches(&self, host: &HostView) -> bool {
        if !self.status.is_empty() && host.shown_status() != self.status {
            return false;
        }
        if !self.group.is_empty() && host.group.as_deref().unwrap_or("") != self.group {
            return false;
        }
        let wanted = self.q.trim().to_lowercase();
        if wanted.is_empty() {
            return true;
        }
        [
            host.label.as_str(),
            host.group.as_deref().unwrap_or(""),
            &host.reason_line(),
        ]
        .iter()
        .any(|text| text.to_lowercase().contains(&wanted))
    }

    /// `(column, descending)`, when `sort` names a column.
    fn sorting(&self) -> Option<(&'static str, bool)> {
        let (name, descending) = match self.sort.strip_prefix('-') {
            Some(name) => (name, true),
            None => (self.sort.as_str(), false),
        };
        COLUMNS
            .iter()
            .find(|(column, _, _)| !column.is_empty() && *column == name)
            .map(|(column, _, _)| (*column, descending))
    }
}

fn latency(host: &HostView) -> Option<f64> {
    host.last_check
        .as_ref()
        .filter(|c| c.ok)
        .map(|c| c.latency_ms)
}

fn since_seconds(host: &HostView) -> Option<f64> {
    humantime::parse_rfc3339(&host.since)
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
}

fn availabilities(host: &HostView) -> [Option<f64>; 3] {
    host.availability
        .map(|a| [a.day, a.week, a.month])
        .unwrap_or_default()
}

/// Orders two optional numbers, unknown last whichever the direction.
fn by_number(a: Option<f64>, b: Option<f64>, descending: bool) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let order = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
            if descending {
                order.reverse()
            } else {
                order
            }
        }
    }
}

fn sort(hosts: &mut [HostView], column: &str, descending: bool) {
    let text = |order: Ordering| if descending { order.reverse() } else { order };
    match column {
        "status" => hosts.sort_by(|a, b| text(rank(a.status).cmp(&rank(b.status)))),
        "label" => hosts.sort_by(|a, b| text(a.label.to_lowercase().cmp(&b.label.to_lowercase()))),
        "type" => hosts.sort_by(|a, b| text(a.kind.cmp(&b.kind))),
        "group" => hosts.sort_by(|a, b| text(a.group.cmp(&b.group))),
        "reason" => hosts.sort_by(|a, b| {
            text(
                a.reason_line()
                    .to_lowercase()
                    .cmp(&b.reason_line().to_lowercase()),
            )
        }),
        "a24h" | "a7d" | "a30d" => {
            let index = match column {
                "a24h" => 0,
                "a7d" => 1,
                _ => 2,
            };
            hosts.sort_by(|a, b| {
                by_number(
                    availabilities(a)[index],
                    availabilities(b)[index],
                    descending,
                )
            })
        }
        "latency" => hosts.sort_by(|a, b| by_number(latency(a), latency(b), descending)),
        "since" => hosts.sort_by(|a, b| by_number(since_seconds(a), since_seconds(b), descending)),
        _ => {}
    }
}

/// A number for a cell's `data-v` (what the script sorts by), empty when unknown.
fn number(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn availability_cell(value: Option<f64>) -> Markup {
    html! {
        td class={ "num a-" (availability_class(value)) } data-v=(number(value)) { (percent(value)) }
    }
}

/// In a cluster: a host failing in fewer locations than the quorum, and its symbol.
const PARTIAL: &str = "partial";
const PARTIAL_SYMBOL: &str = "◒";

/// The badge's symbol: the quorum's `partial` has its own, every other status its usual one.
fn shown_symbol(host: &HostView) -> &'static str {
    match host.shown_status() {
        PARTIAL => PARTIAL_SYMBOL,
        _ => symbol(host.status),
    }
}

fn row(host: &HostView, view: &View, spark: Option<&Vec<Option<f64>>>, now: SystemTime) -> Markup {
    let [day, week, month] = availabilities(host);
    let latency = latency(host);
    let since = humantime::parse_rfc3339(&host.since).ok();
    html! {
        tr data-label=(host.label) data-status=(host.shown_status())
            data-group=[host.group.as_deref()] hidden[!view.matches(host)] {
            // The cell is the badge itself: one element less in each of 10 000 rows.
            td class={ "status " (host.shown_status()) } { (shown_symbol(host)) " " (host.shown_status()) }
            td { a href=(host_href(&host.label)) { (host.label) } }
            td { (host.kind) }
            td { (host.group.as_deref().unwrap_or("")) }
            td { (host.reason_line()) }
            (availability_cell(day))
            (availability_cell(week))
            (availability_cell(month))
            td.num data-v=(number(latency)) {
                @match latency {
                    Some(ms) => { (format!("{ms:.1} ms")) }
                    None => { "-" }
                }
            }
            td {
                @match spark {
                    Some(points) if !points.is_empty() => { (PreEscaped(sparkline(points, 100, 20))) }
                    _ => { span.muted { "-" } }
                }
            }
            td.num data-v=(number(since_seconds(host))) title=(host.since) {
                @if let Some(since) = since { (ago(since, now)) }
            }
        }
    }
}

fn render(
    hosts: &[HostView],
    sparks: &Sparklines,
    view: &View,
    with_store: bool,
    tenants: &[Arc<str>],
) -> Markup {
    let now = SystemTime::now();
    let mut counts = [0usize; Status::ALL.len()];
    let mut partial = 0;
    for host in hosts {
        if host.shown_status() == PARTIAL {
            partial += 1;
        } else {
            counts[usize::from(rank(host.status))] += 1;
        }
    }
    // In a cluster, `partial` is a status of its own (the script follows quorum changes).
    let in_cluster = hosts.iter().any(|h| h.cluster.is_some());
    let groups: BTreeSet<&str> = hosts.iter().filter_map(|h| h.group.as_deref()).collect();
    let shown = hosts.iter().filter(|h| view.matches(h)).count();
    let sorting = view.sorting();
    html! {
        h1 { "Hosts " span #live.live data-state="static" aria-live="polite" {} }
        ul #counts.counts aria-label="hosts by status" {
            @for status in [Status::Up, Status::Degraded, Status::Down, Status::Unreachable, Status::Unknown] {
                @let n = counts[usize::from(rank(status))];
                li data-count=(status.as_str()) {
                    span class={ "status " (status.as_str()) } { (symbol(status)) " " (n) " " (status.as_str()) }
                }
            }
            @if in_cluster {
                li data-count=(PARTIAL) {
                    span class={ "status " (PARTIAL) } { (PARTIAL_SYMBOL) " " (partial) " " (PARTIAL) }
                }
            }
        }
        @if !with_store {
            p.note { "Availability: " (NO_STORE) "." }
        }
        form #filters.filters method="get" action="/" role="search" data-sort=(view.sort) {
            @if !tenants.is_empty() {
                label for="tenant" {
                    "Tenant"
                    select #tenant name="tenant" {
                        option value="" selected[view.tenant.is_empty()] { "all" }
                        option value=(PLATFORM_ONLY) selected[view.tenant == PLATFORM_ONLY] { "the platform's own" }
                        @for tenant in tenants {
                            option value=(tenant) selected[view.tenant == **tenant] { (tenant) }
                        }
                    }
                }
            }
            label for="q" {
                "Filter by host, reason or group"
                input #q type="search" name="q" value=(view.q) autocomplete="off";
            }
            label for="status" {
                "Status"
                select #status name="status" {
                    option value="" selected[view.status.is_empty()] { "any" }
                    @for status in [Status::Down, Status::Unreachable, Status::Degraded, Status::Unknown, Status::Up] {
                        option value=(status.as_str()) selected[view.status == status.as_str()] { (status.as_str()) }
                    }
                    @if in_cluster {
                        option value=(PARTIAL) selected[view.status == PARTIAL] { (PARTIAL) }
                    }
                }
            }
            @if !groups.is_empty() {
                label for="group" {
                    "Group"
                    select #group name="group" {
                        option value="" selected[view.group.is_empty()] { "any" }
                        @for group in &groups {
                            option value=(group) selected[view.group == *group] { (group) }
                        }
                    }
                }
            }
            button.apply type="submit" { "Apply" }
            span #shown aria-live="polite" { (shown) " of " (hosts.len()) " hosts shown" }
        }
        table #hosts.hosts data-cluster=[in_cluster.then_some("1")] {
            caption.sr-only { "Every host: status, reason, availability, latency and since when. Column headings sort." }
            thead {
                tr {
                    @for (name, heading, numeric) in COLUMNS {
                        @if name.is_empty() {
                            th scope="col" { (heading) }
                        } @else {
                            @let current = sorting.filter(|(column, _)| *column == name);
                            @let next = match current { Some((_, false)) => format!("-{name}"), _ => name.to_string() };
                            th scope="col" class=[numeric.then_some("num")] data-sort=(name)
                                aria-sort=[current.map(|(_, descending)| if descending { "descending" } else { "ascending" })] {
                                button type="submit" form="filters" name="sort" value=(next) { (heading) }
                            }
                        }
                    }
                }
            }
            tbody {
                @for host in hosts {
                    (row(host, view, sparks.get(host.label.as_str()), now))
                }
            }
        }
    }
}

/// `GET /`.
pub async fn dashboard(
    request: HttpRequest,
    state: web::Data<ApiState>,
    view: web::Query<View>,
) -> HttpResponse {
    let who = caller(&request, &state).await;
    let Some(access) = who.access() else {
        return to_login(&request, &who);
    };
    // The switcher is the platform's: a tenant is shown none of the other tenants' names.
    let tenants: Vec<Arc<str>> = match (access.tenant(), state.credentials.read()) {
        (None, Ok(credentials)) => credentials.tenants().to_vec(),
        _ => Vec::new(),
    };
    let asked = futures_util::future::join(
        state.hosts.send(GetHosts).timeout(ACTOR_DEADLINE),
        state
            .sparklines
            .send(GetHostSparklines {
                points: SPARK_POINTS,
            })
            .timeout(ACTOR_DEADLINE),
    )
    .await;
    let (mut hosts, sparks) = match asked {
        (Ok(hosts), Ok(sparks)) => (hosts, sparks),
        _ => return unavailable("the state registry"),
    };
    crate::api::with_cluster_hosts(&state, &mut hosts).await;
    hosts.retain(|host| access.sees(&host.label));
    let view = view.into_inner();
    match view.tenant.as_str() {
        "" => {}
        PLATFORM_ONLY => {
            hosts.retain(|host| !tenants.iter().any(|t| belongs_to(&host.label, t)));
        }
        tenant => hosts.retain(|host| belongs_to(&host.label, tenant)),
    }
    with_availability(&state, &mut hosts);
    crate::api::with_all_holds(&state, &mut hosts).await;
    if let Some((column, descending)) = view.sorting() {
        sort(&mut hosts, column, descending);
    }
    let body = render(&hosts, &sparks, &view, state.history.is_some(), &tenants);
    html_response(StatusCode::OK, page("Dashboard", who.chrome(), None, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(label: &str, status: Status, detail: &str, group: Option<&str>) -> HostView {
        serde_json::from_value(serde_json::json!({
            "label": label, "type": "http", "status": status, "group": group,
            "since": "2026-11-28T16:00:00.000Z", "checks": 3,
            "last_check": { "at": "2026-11-28T16:00:00.000Z", "ok": status != Status::Down,
                            "latency_ms": 12.5, "detail": detail },
        }))
        .expect("a valid HostView")
    }

    #[test]
    fn the_filter_looks_at_label_reason_and_group_and_rows_stay_in_the_page() {
        let hosts = [
            host("api", Status::Up, "status 200", Some("payments")),
            host("db", Status::Down, "connection refused", None),
        ];
        let view = View {
            q: "REFUSED".into(),
            ..View::default()
        };
        assert!(!view.matches(&hosts[0]) && view.matches(&hosts[1]));
        let grouped = View {
            group: "payments".into(),
            ..View::default()
        };
        assert!(grouped.matches(&hosts[0]) && !grouped.matches(&hosts[1]));
        let html = render(&hosts, &Sparklines::new(), &view, false, &[]).into_string();
        assert!(
            html.contains(r#"<tr data-label="api" data-status="up" data-group="payments" hidden><td class="status up">✓ up</td>"#),
            "{html}"
        );
        assert!(html.contains("1 of 2 hosts shown"), "{html}");
        assert!(html.contains(NO_STORE));
    }

    #[test]
    fn sorting_puts_the_worst_first_and_unknown_numbers_last() {
        let mut hosts = vec![
            host("b", Status::Up, "ok", None),
            host("a", Status::Down, "no", None),
            host("c", Status::Degraded, "slow", None),
        ];
        sort(&mut hosts, "status", false);
        let labels: Vec<&str> = hosts.iter().map(|h| h.label.as_str()).collect();
        assert_eq!(labels, ["a", "c", "b"]);
        sort(&mut hosts, "latency", true);
        // `a` is down: no latency, last in either direction.
        assert_eq!(hosts.last().map(|h| h.label.as_str()), Some("a"));
        let view = View {
            sort: "-label".into(),
            ..View::default()
        };
        assert_eq!(view.sorting(), Some(("label", true)));
        assert_eq!(
            View {
                sort: "nope".into(),
                ..View::default()
            }
            .sorting(),
            None
        );
    }

    #[test]
    fn everything_a_host_says_is_escaped() {
        let hosts = [host(
            "<script>x</script>",
            Status::Down,
            "<img src=x onerror=alert(1)>",
            Some("<b>"),
        )];
        let html = render(&hosts, &Sparklines::new(), &View::default(), true, &[]).into_string();
        assert!(
            !html.contains("<script>x") && !html.contains("<img") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"), "{html}");
        assert!(
            html.contains("/hosts/%3Cscript%3Ex%3C%2Fscript%3E"),
            "{html}"
        );
    }
}
