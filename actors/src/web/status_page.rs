//! The public status page, `GET /status`, and its announcements' Atom feed,
//! `GET /status/feed.atom` (SPEC §8).
//!
//! Public by design: it needs no token even when `server.token` is set, so it shows only
//! hosts with `public: true`, by label, with their status and one availability bar per day,
//! and nothing else: no reasons (unless `status_page.show_reasons`), no URLs, no other hosts.
//! It is complete without JavaScript and styled inline, so it loads as one request, and it is
//! cached for a few seconds both here and by browsers and proxies: anyone may ask for it, as
//! often as they like, and it must never cost the checks anything.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use flowstate_config::{Config, StatusPageSettings};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::charts::{self, Day};
use crate::announcements::{Announcement, AnnouncementState};
use crate::api::types::HostView;
use crate::api::ApiState;
use crate::messages::{GetHosts, GetRunningConfig};
use crate::model::{rfc3339, Status};
use crate::store::reader::{days_until, GetDailyAvailability};

/// Days of bars on the page, as Uptime Kuma's and Atlassian Statuspage's.
const DAYS: u32 = 90;

/// How long a rendered page is served again before it is rendered anew, and what browsers
/// and proxies are told to cache it for.
const FRESH_FOR: Duration = Duration::from_secs(10);
const CACHE_CONTROL: &str = "public, max-age=10";

/// How long the page waits for an actor or the store.
const DEADLINE: Duration = Duration::from_secs(5);

/// Resolved announcements stay on the page (under "Past incidents") this long.
const PAST_FOR: Duration = Duration::from_secs(7 * 86_400);

/// The last rendered page and feed, with when they were made.
#[derive(Debug, Clone, Default)]
pub struct StatusPageCache(Arc<Mutex<HashMap<&'static str, (Instant, String)>>>);

impl StatusPageCache {
    fn fresh(&self, what: &'static str) -> Option<String> {
        let cache = self.0.lock().ok()?;
        let (made, body) = cache.get(what)?;
        (made.elapsed() < FRESH_FOR).then(|| body.clone())
    }

    fn keep(&self, what: &'static str, body: &str) {
        if let Ok(mut cache) = self.0.lock() {
            cache.insert(what, (Instant::now(), body.to_string()));
        }
    }
}

/// One public host as the page shows it.
struct Row {
    label: String,
    status: Status,
    reason: Option<String>,
    days: Vec<Day>,
}

/// Everything the page shows, gathered before rendering.
struct Page {
    settings: StatusPageSettings,
    groups: Vec<(String, Vec<Row>)>,
    announcements: Vec<Announcement>,
    history: bool,
    now: SystemTime,
}

/// What people read for a status: never colour alone.
fn wording(status: Status) -> &'static str {
    match status {
        Status::Up => "Operational",
        Status::Degraded => "Degraded performance",
        Status::Down | Status::Unreachable => "Outage",
        Status::Unknown => "Status unknown",
    }
}

fn class(status: Status) -> &'static str {
    match status {
        Status::Up => "up",
        Status::Degraded => "degraded",
        Status::Down | Status::Unreachable => "down",
        Status::Unknown => "unknown",
    }
}

/// The banner over all public hosts.
fn overall(rows: &[&Row]) -> (Status, &'static str) {
    let count = |status| rows.iter().filter(|r| r.status == status).count();
    let (down, degraded, unknown) = (
        count(Status::Down) + count(Status::Unreachable),
        count(Status::Degraded),
        count(Status::Unknown),
    );
    match () {
        _ if rows.is_empty() => (Status::Unknown, "No services are published on this page"),
        _ if down > 0 && down == rows.len() => (Status::Down, "Major outage"),
        _ if down > 0 => (Status::Down, "Partial outage"),
        _ if degraded > 0 => (Status::Degraded, "Degraded performance"),
        _ if unknown == rows.len() => (Status::Unknown, "Status unknown"),
        _ => (Status::Up, "All systems operational"),
    }
}

/// The public hosts, in the groups the settings name and then "Other services".
fn grouped(
    config: &Config,
    views: &HashMap<String, HostView>,
    days: &HashMap<String, Vec<Option<f64>>>,
    dates: &[String],
) -> Vec<(String, Vec<Row>)> {
    let row = |label: &str| {
        let view = views.get(label);
        Row {
            label: label.to_string(),
            status: view.map_or(Status::Unknown, |v| v.status),
            reason: view
                .and_then(|v| v.last_check.as_ref())
                .map(|c| c.detail.clone()),
            days: dates
                .iter()
                .enumerate()
                .map(|(i, date)| Day {
                    date: date.clone(),
                    availability: days.get(label).and_then(|d| d.get(i).copied().flatten()),
                })
                .collect(),
        }
    };
    let mut placed = std::collections::HashSet::new();
    let mut groups = Vec::new();
    for group in &config.status_page.groups {
        let rows: Vec<Row> = group
            .hosts
            .iter()
            .filter(|label| config.host(label).is_some_and(|h| h.public))
            .inspect(|label| {
                placed.insert(label.to_string());
            })
            .map(|label| row(label))
            .collect();
        groups.push((group.name.clone(), rows));
    }
    let rest: Vec<Row> = config
        .hosts()
        .iter()
        .filter(|h| h.public && !placed.contains(&*h.label))
        .map(|h| row(&h.label))
        .collect();
    if !rest.is_empty() {
        let name = if groups.is_empty() {
            "Services"
        } else {
            "Other services"
        };
        groups.push((name.to_string(), rest));
    }
    groups
}

/// The date of `at` as `YYYY-MM-DD`.
fn date(at: SystemTime) -> String {
    rfc3339(at).chars().take(10).collect()
}

/// Gathers what the page shows from the actors and the store.
async fn gather(state: &ApiState) -> Result<Page, &'static str> {
    let now = SystemTime::now();
    let config = state
        .running_config
        .send(GetRunningConfig)
        .timeout(DEADLINE)
        .await
        .map_err(|_| "the supervisor")?;
    let views: HashMap<String, HostView> = state
        .hosts
        .send(GetHosts)
        .timeout(DEADLINE)
        .await
        .map_err(|_| "the state registry")?
        .into_iter()
        .map(|v| (v.label.clone(), v))
        .collect();
    let public: Vec<String> = config
        .hosts()
        .iter()
        .filter(|h| h.public)
        .map(|h| h.label.to_string())
        .collect();
    let dates: Vec<String> = days_until(now, DAYS).iter().map(|d| date(d.from)).collect();
    let mut days = HashMap::new();
    let history = state.history.is_some();
    if let (Some(history), false) = (&state.history, public.is_empty()) {
        // Without the bars the page is still the page: a store that fails shows grey days.
        if let Ok(Ok(found)) = history
            .daily
            .send(GetDailyAvailability {
                labels: public,
                days: DAYS,
                now,
            })
            .timeout(DEADLINE)
            .await
        {
            days = found;
        }
    }
    let announcements = state
        .announcements
        .board
        .all()
        .into_iter()
        .filter(|a| a.tenant.is_none())
        .filter(|a| {
            a.is_open()
                || now
                    .duration_since(a.updated())
                    .is_ok_and(|age| age < PAST_FOR)
        })
        .collect();
    Ok(Page {
        settings: config.status_page.clone(),
        groups: grouped(&config, &views, &days, &dates),
        announcements,
        history,
        now,
    })
}

const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#f7f8fa;--fg:#1b1f24;--muted:#5b6470;--card:#fff;--line:#dde1e6;
--up:#1a7f37;--degraded:#9a6700;--down:#cf222e;--unknown:#8c959f;--fair:#bf8700}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9aa4af;--card:#161b22;--line:#30363d;
--up:#3fb950;--degraded:#d29922;--down:#f85149;--unknown:#6e7681;--fair:#d29922}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:860px;margin:0 auto;padding:24px 16px}h1{font-size:1.6rem;margin:0 0 16px}
.banner{padding:14px 18px;border-radius:8px;color:#fff;font-weight:600;margin-bottom:24px}
.banner.up{background:var(--up)}.banner.degraded{background:var(--degraded)}.banner.down{background:var(--down)}.banner.unknown{background:var(--unknown)}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 16px;margin-bottom:20px}
h2{font-size:1.1rem;margin:8px 0}.host{padding:12px 0;border-top:1px solid var(--line)}.host:first-of-type{border-top:0}
.head{display:flex;justify-content:space-between;gap:8px;flex-wrap:wrap}.label{font-weight:600}
.state.up{color:var(--up)}.state.degraded{color:var(--degraded)}.state.down{color:var(--down)}.state.unknown{color:var(--muted)}
.reason,.range,.meta{color:var(--muted);font-size:.9rem}.range{display:flex;justify-content:space-between}
svg.days rect.good{fill:var(--up)}svg.days rect.fair{fill:var(--fair)}svg.days rect.bad{fill:var(--down)}svg.days rect.unknown{fill:var(--line)}
.note{border-left:4px solid var(--degraded);padding:4px 12px;margin:12px 0}.note.resolved{border-color:var(--up)}
.note ol{list-style:none;padding:0;margin:4px 0}.note li{margin:6px 0}.tag{font-weight:600;text-transform:capitalize}
footer{color:var(--muted);font-size:.85rem;text-align:center}a{color:inherit}
"#;

fn announcement(note: &Announcement) -> Markup {
    let resolved = note.state() == AnnouncementState::Resolved;
    html! {
        article.note.resolved[resolved] {
            h3 { (note.title) " " span.tag { "(" (note.state().as_str()) ")" } }
            ol reversed {
                @for update in note.updates.iter().rev() {
                    li {
                        span.tag { (update.state.as_str()) } " "
                        time.meta datetime=(rfc3339(update.at)) { (rfc3339(update.at)) }
                        @if !update.message.is_empty() { br; (update.message) }
                    }
                }
            }
        }
    }
}

fn render(page: &Page) -> String {
    let rows: Vec<&Row> = page.groups.iter().flat_map(|(_, rows)| rows).collect();
    let (status, headline) = overall(&rows);
    let (open, past): (Vec<&Announcement>, Vec<&Announcement>) =
        page.announcements.iter().partition(|a| a.is_open());
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.settings.title) }
                link rel="alternate" type="application/atom+xml" title="Announcements" href="/status/feed.atom";
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { (page.settings.title) }
                    div.banner.(class(status)) role="status" { (headline) }
                    @if !open.is_empty() {
                        section aria-labelledby="now" {
                            h2 #now { "Current incidents" }
                            @for note in &open { (announcement(note)) }
                        }
                    }
                    @for (name, rows) in &page.groups {
                        section aria-label=(name) {
                            h2 { (name) }
                            @for row in rows {
                                div.host {
                                    div.head {
                                        span.label { (row.label) }
                                        span.state.(class(row.status)) { (wording(row.status)) }
                                    }
                                    @if page.settings.show_reasons {
                                        @if let Some(reason) = &row.reason { div.reason { (reason) } }
                                    }
                                    @if page.history {
                                        (PreEscaped(charts::daily_bars(&row.days)))
                                        div.range { span { (DAYS) " days ago" } span { "Today" } }
                                    }
                                }
                            }
                        }
                    }
                    @if !past.is_empty() {
                        section aria-labelledby="past" {
                            h2 #past { "Past incidents" }
                            @for note in &past { (announcement(note)) }
                        }
                    }
                    footer {
                        "Updated " time datetime=(rfc3339(page.now)) { (rfc3339(page.now)) }
                        " · " a href="/status/feed.atom" { "Announcements feed (Atom)" }
                    }
                }
            }
        }
    };
    markup.into_string()
}

fn feed(announcements: &[Announcement], title: &str, now: SystemTime) -> String {
    let updated = announcements
        .iter()
        .map(Announcement::updated)
        .max()
        .unwrap_or(now);
    // maud escapes text and attributes; elements with no content are written open and closed,
    // as XML wants.
    let markup = html! {
        (PreEscaped("<?xml version=\"1.0\" encoding=\"utf-8\"?>"))
        feed xmlns="http://www.w3.org/2005/Atom" {
            title { (title) " announcements" }
            id { "urn:flowstate:status:announcements" }
            updated { (rfc3339(updated)) }
            link rel="self" href="/status/feed.atom" {}
            link rel="alternate" href="/status" {}
            @for note in announcements {
                entry {
                    id { "urn:flowstate:announcement:" (note.id) }
                    title { (note.title) " (" (note.state().as_str()) ")" }
                    published { (rfc3339(note.created())) }
                    updated { (rfc3339(note.updated())) }
                    author { name { (title) } }
                    content type="text" {
                        @for update in note.updates.iter().rev() {
                            (rfc3339(update.at)) " " (update.state.as_str()) ": " (update.message) "\n"
                        }
                    }
                }
            }
        }
    };
    markup.into_string()
}

fn cached(body: String, content_type: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .body(body)
}

fn unavailable(what: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "the status page is unavailable: {what} did not answer\n"
        ))
}

/// `GET /status`: public, no token.
pub async fn status(state: web::Data<ApiState>) -> HttpResponse {
    const HTML: &str = "text/html; charset=utf-8";
    if let Some(body) = state.status_page.fresh("page") {
        return cached(body, HTML);
    }
    match gather(&state).await {
        Ok(page) => {
            let body = render(&page);
            state.status_page.keep("page", &body);
            cached(body, HTML)
        }
        Err(what) => unavailable(what),
    }
}

/// `GET /status/feed.atom`: the announcements, public like the page.
pub async fn atom(state: web::Data<ApiState>) -> HttpResponse {
    const ATOM: &str = "application/atom+xml; charset=utf-8";
    if let Some(body) = state.status_page.fresh("feed") {
        return cached(body, ATOM);
    }
    let title = match state
        .running_config
        .send(GetRunningConfig)
        .timeout(DEADLINE)
        .await
    {
        Ok(config) => config.status_page.title.clone(),
        Err(_) => return unavailable("the supervisor"),
    };
    // The platform's announcements only, as on the page.
    let mut platforms = state.announcements.board.all();
    platforms.retain(|a| a.tenant.is_none());
    let body = feed(&platforms, &title, SystemTime::now());
    state.status_page.keep("feed", &body);
    cached(body, ATOM)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, status: Status) -> Row {
        Row {
            label: label.into(),
            status,
            reason: Some("status 503 from http://10.0.0.5/".into()),
            days: vec![Day {
                date: "2026-12-07".into(),
                availability: Some(0.5),
            }],
        }
    }

    fn page(rows: Vec<Row>, show_reasons: bool) -> Page {
        Page {
            settings: StatusPageSettings {
                title: "Acme <status>".into(),
                groups: Vec::new(),
                show_reasons,
            },
            groups: vec![("API".into(), rows)],
            announcements: vec![Announcement::new(
                "Errors <b>".into(),
                AnnouncementState::Identified,
                "A fix is rolling out".into(),
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            )],
            history: true,
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_100),
        }
    }

    #[test]
    fn the_banner_says_how_bad_it_is_in_words() {
        let (up, down) = (row("a", Status::Up), row("b", Status::Down));
        assert_eq!(overall(&[&up]).1, "All systems operational");
        assert_eq!(overall(&[&up, &down]).1, "Partial outage");
        assert_eq!(overall(&[&down]).1, "Major outage");
        assert_eq!(overall(&[]).1, "No services are published on this page");
    }

    #[test]
    fn reasons_are_shown_only_when_configured_and_everything_is_escaped() {
        let hidden = render(&page(vec![row("api", Status::Down)], false));
        assert!(
            !hidden.contains("10.0.0.5"),
            "no reason, no address: {hidden}"
        );
        assert!(hidden.contains("Outage") && hidden.contains("Major outage"));
        assert!(hidden.contains("Acme &lt;status&gt;") && !hidden.contains("<status>"));
        assert!(hidden.contains("Errors &lt;b&gt;"), "{hidden}");
        assert!(
            hidden.contains("2026-12-07: 50.00%"),
            "the day's bar: {hidden}"
        );
        let shown = render(&page(vec![row("api", Status::Down)], true));
        assert!(
            shown.contains("status 503 from http://10.0.0.5/"),
            "{shown}"
        );
    }

    #[test]
    fn the_feed_is_atom_with_one_entry_per_announcement() {
        let page = page(Vec::new(), false);
        let xml = feed(&page.announcements, "Acme", page.now);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">"), "{xml}");
        assert_eq!(xml.matches("<entry>").count(), 1);
        assert!(
            xml.contains("<link rel=\"self\" href=\"/status/feed.atom\"></link>"),
            "{xml}"
        );
        assert!(xml.contains("Errors &lt;b&gt; (identified)"), "{xml}");
        assert!(xml.contains("identified: A fix is rolling out"), "{xml}");
    }
}
