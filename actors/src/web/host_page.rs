//! `GET /hosts/{label}?window=24h`: one host. Its status and why, its latency over a chosen
//! window, one availability bar per UTC day for 90 days, its incidents over those days, the
//! checks kept in memory, and its configuration with every secret redacted.
//!
//! The history parts come from the state store (three questions to the StoreReader, asked at
//! once); without a store the page says what would show them. The configuration is shown the
//! way `flowstate check` prints it ([`HostConfiguration::describe`]), with every value that
//! came from the environment hidden as well.

use std::time::{Duration, SystemTime};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use flowstate_config::HostConfiguration;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::charts::{availability_class, daily_bars, latency_chart, percent, Day};
use super::dashboard::NO_STORE;
use super::layout::{html_response, page, readable_time, short_duration, status_badge, Chrome};
use super::login::{caller, to_login};
use crate::api::history::HistoryApi;
use crate::api::types::HostDetail;
use crate::api::{with_availability, ApiState, ACTOR_DEADLINE};
use crate::history::SeriesPoint;
use crate::messages::GetRunningConfig;
use crate::model::rfc3339;
use crate::store::reader::{
    days_until, GetDailyAvailability, GetSeries, GetUptime, ReadError, Uptime,
};

/// The windows offered for the latency chart, as `?window=` takes them.
const WINDOWS: [(&str, Duration); 4] = [
    ("1h", Duration::from_secs(3600)),
    ("24h", Duration::from_secs(86_400)),
    ("7d", Duration::from_secs(7 * 86_400)),
    ("30d", Duration::from_secs(30 * 86_400)),
];

/// Days of availability bars, and of incidents.
const DAYS: u32 = 90;

/// The most points the latency chart draws: more than its width can show is wasted.
const MAX_POINTS: u64 = 300;

/// Steps the chart may use, shortest first: round numbers a reader recognises.
const STEPS: [u64; 13] = [
    10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200,
];

/// How long the history questions may take together.
const HISTORY_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    window: Option<String>,
}

/// The shortest round step that draws `window` in at most [`MAX_POINTS`] points.
pub fn step_for(window: Duration) -> Duration {
    let wanted = window.as_secs().div_ceil(MAX_POINTS).max(1);
    let step = STEPS
        .iter()
        .copied()
        .find(|s| *s >= wanted)
        .unwrap_or(wanted);
    Duration::from_secs(step)
}

/// The window asked for (one of [`WINDOWS`], else 24 h), no longer than `retention`.
fn window(asked: Option<&str>, retention: Duration) -> (&'static str, Duration) {
    let (name, length) = WINDOWS
        .iter()
        .copied()
        .find(|(name, _)| Some(*name) == asked)
        .unwrap_or(WINDOWS[1]);
    (name, length.min(retention))
}

/// What the store said for the page's history parts.
struct History {
    window: &'static str,
    from: SystemTime,
    to: SystemTime,
    series: Result<Vec<SeriesPoint>, String>,
    /// Each day's start and availability, oldest first.
    days: Result<Vec<(SystemTime, Option<f64>)>, String>,
    uptime: Result<Uptime, String>,
    retention: Duration,
}

/// One answer of the StoreReader, or what to say instead.
fn flatten<T>(answer: Result<Result<T, ReadError>, actix::MailboxError>) -> Result<T, String> {
    match answer {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("the state store did not answer: {e}")),
        Err(_) => Err("the state store did not answer in time".to_string()),
    }
}

async fn ask_history(history: &HistoryApi, label: &str, asked: Option<&str>) -> History {
    let now = SystemTime::now();
    let (name, length) = window(asked, history.retention);
    let from = now.checked_sub(length).unwrap_or(SystemTime::UNIX_EPOCH);
    let incidents_window = Duration::from_secs(u64::from(DAYS) * 86_400).min(history.retention);
    let (series, days, uptime) = futures_util::future::join3(
        history
            .series
            .send(GetSeries {
                label: label.to_string(),
                from,
                to: now,
                step: step_for(length),
                now,
            })
            .timeout(HISTORY_DEADLINE),
        history
            .daily
            .send(GetDailyAvailability {
                labels: vec![label.to_string()],
                days: DAYS,
                now,
            })
            .timeout(HISTORY_DEADLINE),
        history
            .uptime
            .send(GetUptime {
                label: label.to_string(),
                window: incidents_window,
                now,
            })
            .timeout(HISTORY_DEADLINE),
    )
    .await;
    History {
        window: name,
        from,
        to: now,
        series: flatten(series),
        days: flatten(days).map(|mut found| {
            let figures = found.remove(label).unwrap_or_default();
            days_until(now, DAYS)
                .into_iter()
                .map(|day| day.from)
                .zip(figures.into_iter().chain(std::iter::repeat(None)))
                .collect()
        }),
        uptime: flatten(uptime),
        retention: history.retention,
    }
}

/// `2026-12-07` for the day starting at `start`.
fn date(start: SystemTime) -> String {
    rfc3339(start).chars().take(10).collect()
}

fn history_parts(label_href: &str, history: &History) -> Markup {
    let oldest_kept = history
        .to
        .checked_sub(history.retention)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    html! {
        h2 #latency { "Latency" }
        nav aria-label="latency window" {
            ul.windows {
                @for (name, _) in WINDOWS {
                    li {
                        a href={ (label_href) "?window=" (name) "#latency" }
                            aria-current=[(name == history.window).then_some("page")] { (name) }
                    }
                }
            }
        }
        @match &history.series {
            Ok(points) if points.is_empty() => {
                p.note { "No checks were recorded in the last " (history.window) "." }
            }
            Ok(points) => {
                // A host younger than the window: its history fills the chart's width.
                @let first = points.first().map_or(history.from, |p| p.at.max(history.from));
                (PreEscaped(latency_chart(points, first, history.to)))
                @if first > history.from {
                    p.muted { "Checks recorded since " (readable_time(&rfc3339(first))) "." }
                }
                p.legend {
                    span { span.k {} "median (p50)" }
                    span { span.k.p95 {} "p95" }
                    span { span.k.max {} "slowest" }
                    span { span.k.fail {} "failed checks" }
                }
            }
            Err(e) => { p.note.error { (e) } }
        }
        h2 { "Availability per day, last " (DAYS) " days (UTC)" }
        @match &history.days {
            Ok(days) => {
                @let shown: Vec<Day> = days.iter().map(|(start, availability)| Day {
                    date: date(*start),
                    // Days older than retention are not known any more, whatever is left.
                    availability: availability.filter(|_| *start + Duration::from_secs(86_400) > oldest_kept),
                }).collect();
                (PreEscaped(daily_bars(&shown)))
                div.days-axis {
                    span { (shown.first().map(|d| d.date.clone()).unwrap_or_default()) }
                    span { "today" }
                }
                p.legend {
                    span { span.status.up { "≥ 99.95%" } }
                    span { span.status.degraded { "≥ 99%" } }
                    span { span.status.down { "< 99%" } }
                    span { span.status.unknown { "nothing known" } }
                }
            }
            Err(e) => { p.note.error { (e) } }
        }
        h2 { "Incidents, last " (DAYS) " days" }
        @match &history.uptime {
            Ok(uptime) if uptime.incidents.is_empty() => {
                p { "None: no time down or degraded in the last " (DAYS) " days"
                    @if history.retention < Duration::from_secs(u64::from(DAYS) * 86_400) {
                        " that are kept (state.retention)"
                    }
                    "." }
            }
            Ok(uptime) => {
                div.scroll {
                    table.plain {
                        thead { tr { th scope="col" { "From" } th scope="col" { "To" } th scope="col" { "Status" } th scope="col" { "Lasted" } th scope="col" { "Reason" } } }
                        tbody {
                            @for incident in uptime.incidents.iter().rev() {
                                @let until = incident.to.unwrap_or(history.to);
                                tr {
                                    td { time datetime=(rfc3339(incident.from)) { (readable_time(&rfc3339(incident.from))) } }
                                    td { @match incident.to { Some(to) => { time datetime=(rfc3339(to)) { (readable_time(&rfc3339(to))) } } None => { "ongoing" } } }
                                    td { (status_badge(incident.status)) }
                                    td.num { (short_duration(until.duration_since(incident.from).unwrap_or_default())) }
                                    td { (incident.reason) }
                                }
                            }
                        }
                    }
                }
            }
            Err(e) => { p.note.error { (e) } }
        }
    }
}

fn configuration(config: &HostConfiguration, redact: &dyn Fn(&str) -> String) -> Markup {
    html! {
        div.scroll {
            table.plain {
                thead { tr { th scope="col" { "Setting" } th scope="col" { "Value" } } }
                tbody {
                    @for (key, value) in config.describe() {
                        @if !value.is_empty() {
                            tr { th scope="row" { code { (key) } } td { (redact(&value)) } }
                        }
                    }
                }
            }
        }
        p.muted { "Secrets are shown as " code { "***" } ". Defined in " (config.origin.to_string()) "." }
    }
}

fn render(
    detail: &HostDetail,
    config: Option<&HostConfiguration>,
    history: Option<&History>,
    redact: &dyn Fn(&str) -> String,
) -> Markup {
    let host = &detail.host;
    let href = super::layout::host_href(&host.label);
    // In a cluster, the quorum's reason where it differs from this agent's own result.
    let reason = match (&host.cluster, &host.last_check) {
        (Some(cluster), _) if host.elsewhere || cluster.status.as_str() != host.status.as_str() => {
            redact(&cluster.reason)
        }
        (_, Some(check)) => redact(&check.detail),
        _ => "not checked yet".to_string(),
    };
    let [day, week, month] = host
        .availability
        .map(|a| [a.day, a.week, a.month])
        .unwrap_or_default();
    html! {
        p.muted { a href="/" { "← All hosts" } }
        h1 { (host.label) }
        dl.summary {
            div { dt { "Status" } dd #host-status data-cluster=[host.cluster.is_some().then_some("1")] { (shown_badge(host)) } }
            @if let Some(locations) = &detail.locations {
                div { dt { "Locations" } dd #host-locations {
                    @for (i, (location, verdict)) in locations.iter().enumerate() {
                        @if i > 0 { " · " }
                        (location) ": " (verdict.status) @if !verdict.fresh { " (stale)" }
                        @if verdict.availability.day.is_some() {
                            " (" (super::charts::percent(verdict.availability.day)) " over 24 h)"
                        }
                    }
                } }
            }
            div { dt { "Since" } dd { time #host-since datetime=(host.since) { (readable_time(&host.since)) } } }
            div { dt { "Reason (last check)" } dd #host-reason { (reason) } }
            @if let Some(parent) = &host.unreachable_via {
                div { dt { "Unreachable via" } dd { a href=(super::layout::host_href(parent)) { (parent) } " is down" } }
            }
            @if !detail.holds.is_empty() {
                div { dt { "Alerts held" } dd #host-holds {
                    @for (i, hold) in detail.holds.iter().enumerate() {
                        @if i > 0 { "; " }
                        (hold.describe())
                    }
                } }
            }
            @if let Some(last) = &detail.last_suppressed {
                div { dt { "Last alert not sent" } dd #host-suppressed {
                    (last.event.as_str()) " at " (readable_time(&last.at)) ": " (last.reason)
                    @if let Some(notifier) = &last.notifier { " (notifier " (notifier) ")" }
                } }
            }
            div { dt { "Type" } dd { (host.kind) @if let Some(config) = config { " · " (redact(&config.check.target())) } } }
            @if let Some(group) = &host.group { div { dt { "Group" } dd { (group) } } }
            div { dt { "Checks" } dd { (host.counters.checks) " run, " (host.counters.failures) " failed" } }
            div { dt { "Availability 24 h / 7 d / 30 d" } dd {
                @if history.is_some() {
                    @for (i, a) in [day, week, month].into_iter().enumerate() {
                        @if i > 0 { " / " }
                        span class={ "a-" (availability_class(a)) } { (percent(a)) }
                    }
                } @else { span.muted { "-" } }
            } }
        }
        @match history {
            Some(history) => { (history_parts(&href, history)) }
            None => {
                h2 { "History" }
                p.note { "Latency over time, daily availability and incidents: " (NO_STORE) "." }
            }
        }
        h2 { "Recent checks" }
        @if detail.history.is_empty() {
            p { "None yet." }
        } @else {
            (checks_table(detail.history.iter().rev().take(RECENT), redact))
            @if detail.history.len() > RECENT {
                details {
                    summary { "All " (detail.history.len()) " checks kept in memory" }
                    (checks_table(detail.history.iter().rev().skip(RECENT), redact))
                }
            }
        }
        h2 { "Configuration" }
        @match config {
            Some(config) => { (configuration(config, redact)) }
            None => { p.note { "The running configuration did not answer." } }
        }
    }
}

/// Checks shown before the rest is folded away.
const RECENT: usize = 15;

fn checks_table<'a>(
    checks: impl Iterator<Item = &'a crate::api::types::CheckView>,
    redact: &dyn Fn(&str) -> String,
) -> Markup {
    html! {
            div.scroll {
                table.plain {
                    caption.sr-only { "Checks kept in memory, newest first" }
                    thead { tr { th scope="col" { "Time" } th scope="col" { "Result" } th scope="col" { "Latency" } th scope="col" { "Detail" } } }
                    tbody {
                        @for check in checks {
                            tr {
                                td { time datetime=(check.at) { (readable_time(&check.at)) } }
                                td {
                                    @if !check.ok { span.status.down { "✕ failed" } }
                                    @else if check.degraded { span.status.degraded { "! degraded" } }
                                    @else { span.status.up { "✓ passed" } }
                                }
                                td.num { (format!("{:.1} ms", check.latency_ms)) }
                                td { (redact(&check.detail)) }
                            }
                        }
                    }
                }
            }
    }
}

fn not_found(label: &str, chrome: Chrome) -> HttpResponse {
    html_response(
        StatusCode::NOT_FOUND,
        page(
            "No such host",
            chrome,
            None,
            html! {
                h1 { "No such host" }
                p { "No host is labelled " code { (label) } " in the running configuration." }
                p { a href="/" { "All hosts" } }
            },
        ),
    )
}

/// `GET /hosts/{label}`.
pub async fn host_page(
    request: HttpRequest,
    state: web::Data<ApiState>,
    label: web::Path<String>,
    query: web::Query<PageQuery>,
) -> HttpResponse {
    let who = caller(&request, &state).await;
    let Some(access) = who.access() else {
        return to_login(&request, &who);
    };
    let label = label.into_inner();
    // Another tenant's host is a host that does not exist.
    if !access.sees(&label) {
        return not_found(&label, who.chrome());
    }
    let (detail, config) = futures_util::future::join(
        crate::api::host_detail(&state, &label),
        state
            .running_config
            .send(GetRunningConfig)
            .timeout(ACTOR_DEADLINE),
    )
    .await;
    let mut detail = match detail {
        Ok(Some(detail)) => detail,
        Ok(None) => return not_found(&label, who.chrome()),
        Err(()) => return crate::api::unavailable("the state registry"),
    };
    with_availability(&state, [&mut detail.host]);
    crate::api::with_detail_holds(&state, &mut detail).await;
    let config = config.ok();
    let host_config = config.as_ref().and_then(|c| c.host(&label)).cloned();
    // Whatever the per-setting redaction missed, no value from the environment is shown.
    let redact = |text: &str| match &config {
        Some(config) => config.env_values.redact(text),
        None => text.to_string(),
    };
    let history = match &state.history {
        Some(history) => Some(ask_history(history, &label, query.window.as_deref()).await),
        None => None,
    };
    let body = render(&detail, host_config.as_deref(), history.as_ref(), &redact);
    html_response(
        StatusCode::OK,
        page(&label, who.chrome(), Some(&label), body),
    )
}

/// The status badge: in a cluster the quorum's, `partial` included.
fn shown_badge(host: &crate::api::types::HostView) -> Markup {
    match host.shown_status() {
        "partial" => html! { span class="status partial" { "◒ partial" } },
        _ => status_badge(host.status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round_and_keep_the_chart_under_300_points() {
        let step = |s: u64| step_for(Duration::from_secs(s)).as_secs();
        assert_eq!(step(3600), 15);
        assert_eq!(step(86_400), 300);
        assert_eq!(step(7 * 86_400), 3600);
        assert_eq!(step(30 * 86_400), 10_800);
        for (_, window) in WINDOWS {
            assert!(window.as_secs() / step_for(window).as_secs() <= MAX_POINTS);
        }
    }

    #[test]
    fn the_window_is_one_offered_and_within_retention() {
        let long = Duration::from_secs(90 * 86_400);
        assert_eq!(window(Some("7d"), long).0, "7d");
        assert_eq!(window(Some("bogus"), long).0, "24h");
        assert_eq!(window(None, long).0, "24h");
        assert_eq!(
            window(Some("30d"), Duration::from_secs(86_400)).1,
            Duration::from_secs(86_400)
        );
    }
}
