//! The dashboard's state, with no terminal in sight: the hosts of the last refresh, the
//! filter, the order, the selection and the scroll position. Fully testable on plain data.
//!
//! Cost model, so 10 000 hosts stay fluid: everything a row shows is formatted once per
//! refresh ([`App::set_hosts`]) and sorted once per refresh or change of order; a keystroke
//! in the filter is one pass over the sorted order (no sort), a move is O(1), and drawing
//! looks only at the rows on screen ([`App::visible_rows`]).
//!
//! The selection follows its host, not its position: once the user moved to a host, a
//! refresh that reorders the list, a new order or a filter that still matches keeps that host
//! selected, and a host that vanished leaves the selection at the same position. Before any
//! move, the top row (the most urgent host) is selected.

use std::time::SystemTime;

use flowstate_actors::api::types::{CheckView, HostDetail, HostView};
use flowstate_actors::model::Status;

use super::sort::{self, SortFields, SortKey};
use crate::present;

/// One host as the list shows it, formatted when the data arrives.
#[derive(Debug, Clone)]
pub struct HostRow {
    pub host: HostView,
    /// The label lower-cased, for case-insensitive filtering.
    folded: String,
    /// `3m ago`, as of the refresh.
    pub since: String,
    pub latency_ms: Option<f64>,
    /// `12.3 ms`, or `-` before the first check.
    pub latency: String,
    /// The last check's detail on one line, or `not checked yet`.
    pub detail: String,
}

impl HostRow {
    fn new(host: HostView, now: SystemTime) -> HostRow {
        let latency_ms = host.last_check.as_ref().map(|c| c.latency_ms);
        HostRow {
            folded: host.label.to_lowercase(),
            since: present::ago(&host.since, now),
            latency: latency_ms.map_or_else(|| "-".to_string(), present::latency),
            latency_ms,
            detail: one_line(&host.reason_line()),
            host,
        }
    }

    pub fn label(&self) -> &str {
        &self.host.label
    }

    pub fn status(&self) -> Status {
        self.host.status
    }

    fn sort_fields(&self) -> SortFields<'_> {
        SortFields {
            label: &self.host.label,
            status: self.host.status,
            latency_ms: self.latency_ms,
        }
    }
}

/// Control characters would break a table row; a detail is shown on one line.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// What keys mean right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keys move, sort, open the filter, quit.
    Browse,
    /// Keys type into the filter (after `/`) until Enter or Esc.
    Filter,
}

/// The history of one host, from `GET /api/v1/hosts/{label}`.
#[derive(Debug, Clone)]
pub struct Detail {
    pub label: String,
    /// Oldest first.
    pub history: Vec<CheckView>,
}

/// Fallback when the selected host is no longer in the list.
#[derive(Clone, Copy)]
enum Reselect {
    /// Stay at the same position (a refresh dropped the host).
    SamePosition,
    /// Go to the first row (a filter that no longer matches it).
    Top,
}

pub struct App {
    /// The API address, for the header.
    api: String,
    /// Every host of the last successful refresh, in the API's order.
    rows: Vec<HostRow>,
    /// Indices into `rows`, sorted by `sort`: recomputed only when data or order change.
    order: Vec<usize>,
    /// The part of `order` the filter lets through: what the list shows, top to bottom.
    visible: Vec<usize>,
    /// Position in `visible` of the selected host (meaningless while `visible` is empty).
    selected: usize,
    /// Position in `visible` of the first row on screen.
    offset: usize,
    /// Whether the user chose a host. Until then the selection stays on the top row, the
    /// most urgent host, instead of following whichever host happened to be first at start.
    chosen: bool,
    /// How many rows fit on screen, as the last draw measured it; paging moves this far.
    viewport: usize,
    sort: SortKey,
    /// Case-insensitive label substring; empty: every host.
    filter: String,
    mode: Mode,
    /// `12 up, 1 down` over every host (not just the filtered ones).
    summary: String,
    /// The widest label (in chars), so the label column fits without measuring every frame.
    label_width: usize,
    detail: Option<Detail>,
    /// Why the last refresh failed; cleared by the next that works. The data stays.
    error: Option<String>,
    /// When the hosts were last fetched successfully.
    updated: Option<SystemTime>,
    quit: bool,
    refresh_requested: bool,
}

impl App {
    pub fn new(api: &str) -> App {
        App {
            api: api.to_string(),
            rows: Vec::new(),
            order: Vec::new(),
            visible: Vec::new(),
            selected: 0,
            offset: 0,
            chosen: false,
            viewport: 1,
            sort: SortKey::default(),
            filter: String::new(),
            mode: Mode::Browse,
            summary: present::summary([]),
            label_width: 0,
            detail: None,
            error: None,
            updated: None,
            quit: false,
            refresh_requested: false,
        }
    }

    // --- data ---

    /// A successful refresh: replaces every host, keeps the selected host selected, and
    /// clears the error of an earlier failed refresh.
    pub fn set_hosts(&mut self, hosts: Vec<HostView>, now: SystemTime) {
        let keep = self.chosen_label();
        self.summary = present::summary(hosts.iter().map(|h| h.status));
        self.rows = hosts.into_iter().map(|h| HostRow::new(h, now)).collect();
        self.label_width = self
            .rows
            .iter()
            .map(|r| r.host.label.chars().count())
            .max()
            .unwrap_or(0);
        self.updated = Some(now);
        self.error = None;
        self.resort();
        let fallback = if self.chosen {
            Reselect::SamePosition
        } else {
            Reselect::Top
        };
        self.refilter(keep.as_deref(), fallback);
    }

    /// The history of one host arrived (shown while that host is selected).
    pub fn set_detail(&mut self, detail: HostDetail) {
        self.detail = Some(Detail {
            label: detail.host.label,
            history: detail.history,
        });
    }

    /// A refresh failed: the last data stays on screen, with this message.
    pub fn set_error(&mut self, message: String) {
        self.error = Some(message);
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn updated(&self) -> Option<SystemTime> {
        self.updated
    }

    pub fn api(&self) -> &str {
        &self.api
    }

    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// Every host, filtered or not.
    pub fn total(&self) -> usize {
        self.rows.len()
    }

    /// The hosts the filter lets through.
    pub fn shown(&self) -> usize {
        self.visible.len()
    }

    pub fn label_width(&self) -> usize {
        self.label_width
    }

    // --- order and filter ---

    pub fn sort(&self) -> SortKey {
        self.sort
    }

    pub fn set_sort(&mut self, sort: SortKey) {
        let keep = self.chosen_label();
        self.sort = sort;
        self.resort();
        self.refilter(keep.as_deref(), Reselect::Top);
    }

    pub fn cycle_sort(&mut self) {
        self.set_sort(self.sort.next());
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// `/`: start typing a filter (the current one is kept and extended).
    pub fn start_filter(&mut self) {
        self.mode = Mode::Filter;
    }

    /// A character typed into the filter; the list follows at once.
    pub fn push_filter(&mut self, c: char) {
        self.filter.push(c);
        self.apply_filter();
    }

    pub fn pop_filter(&mut self) {
        if self.filter.pop().is_some() {
            self.apply_filter();
        }
    }

    /// Enter: keep the filter and go back to moving.
    pub fn accept_filter(&mut self) {
        self.mode = Mode::Browse;
    }

    /// Esc: drop the filter, show every host, keep the selected one.
    pub fn clear_filter(&mut self) {
        self.mode = Mode::Browse;
        if !self.filter.is_empty() {
            self.filter.clear();
            self.apply_filter();
        }
    }

    fn apply_filter(&mut self) {
        let keep = self.chosen_label();
        self.refilter(keep.as_deref(), Reselect::Top);
    }

    /// The host the user chose, which every change of list keeps selected while it can.
    fn chosen_label(&self) -> Option<String> {
        self.selected_label()
            .filter(|_| self.chosen)
            .map(str::to_string)
    }

    fn resort(&mut self) {
        let rows = &self.rows;
        let sort = self.sort;
        self.order = (0..rows.len()).collect();
        self.order
            .sort_by(|&a, &b| sort::compare(sort, &rows[a].sort_fields(), &rows[b].sort_fields()));
    }

    fn refilter(&mut self, keep: Option<&str>, fallback: Reselect) {
        let needle = self.filter.to_lowercase();
        let rows = &self.rows;
        self.visible = if needle.is_empty() {
            self.order.clone()
        } else {
            self.order
                .iter()
                .copied()
                .filter(|&i| rows[i].folded.contains(&needle))
                .collect()
        };
        let found = keep.and_then(|label| {
            self.visible
                .iter()
                .position(|&i| self.rows[i].host.label == label)
        });
        self.selected = match (found, fallback) {
            (Some(position), _) => position,
            (None, Reselect::SamePosition) => self.selected,
            (None, Reselect::Top) => 0,
        };
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
        self.scroll_into_view();
    }

    // --- selection and scrolling ---

    /// How many rows the list shows at once (set by each draw).
    pub fn set_viewport(&mut self, rows: usize) {
        self.viewport = rows.max(1);
        self.scroll_into_view();
    }

    pub fn viewport(&self) -> usize {
        self.viewport
    }

    /// Moves the selection by `delta` rows, stopping at either end.
    pub fn move_by(&mut self, delta: isize) {
        if self.visible.is_empty() {
            return;
        }
        let last = self.visible.len() - 1;
        self.chosen = true;
        self.selected = self.selected.saturating_add_signed(delta).min(last);
        self.scroll_into_view();
    }

    /// PgDn: the selection and the view move down one screen.
    pub fn page_down(&mut self) {
        let page = self.viewport;
        self.offset = (self.offset + page).min(self.max_offset());
        self.move_by(page as isize);
    }

    /// PgUp: the selection and the view move up one screen.
    pub fn page_up(&mut self) {
        let page = self.viewport;
        self.offset = self.offset.saturating_sub(page);
        self.move_by(-(page as isize));
    }

    pub fn first(&mut self) {
        self.chosen = true;
        self.selected = 0;
        self.scroll_into_view();
    }

    pub fn last(&mut self) {
        self.chosen = true;
        self.selected = self.visible.len().saturating_sub(1);
        self.scroll_into_view();
    }

    fn max_offset(&self) -> usize {
        self.visible.len().saturating_sub(self.viewport)
    }

    /// Scrolls as little as needed to show the selection, and never past the last row.
    fn scroll_into_view(&mut self) {
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + self.viewport {
            self.offset = self.selected + 1 - self.viewport;
        }
        self.offset = self.offset.min(self.max_offset());
    }

    /// Position in the filtered list of the selected host, if any host is shown.
    pub fn selected(&self) -> Option<usize> {
        (!self.visible.is_empty()).then_some(self.selected)
    }

    /// Position in the filtered list of the first row on screen.
    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn selected_row(&self) -> Option<&HostRow> {
        self.visible.get(self.selected).map(|&i| &self.rows[i])
    }

    pub fn selected_label(&self) -> Option<&str> {
        self.selected_row().map(HostRow::label)
    }

    /// The rows on screen, top to bottom: at most one viewport, whatever the host count.
    pub fn visible_rows(&self) -> impl Iterator<Item = &HostRow> + '_ {
        let end = (self.offset + self.viewport).min(self.visible.len());
        self.visible[self.offset.min(end)..end]
            .iter()
            .map(|&i| &self.rows[i])
    }

    /// The history of the selected host, once it arrived.
    pub fn selected_detail(&self) -> Option<&Detail> {
        let label = self.selected_label()?;
        self.detail.as_ref().filter(|d| d.label == label)
    }

    // --- requests to the loop ---

    pub fn request_quit(&mut self) {
        self.quit = true;
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// `r`: fetch now instead of at the next tick.
    pub fn request_refresh(&mut self) {
        self.refresh_requested = true;
    }

    pub fn take_refresh_request(&mut self) -> bool {
        std::mem::take(&mut self.refresh_requested)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    /// A host as the API shows it; `latency` `None`: not checked yet.
    pub fn host(label: &str, status: Status, latency: Option<f64>) -> HostView {
        let json = serde_json::json!({
            "label": label,
            "type": "http",
            "status": status,
            "since": "2026-11-28T16:00:00.000Z",
            "checks": 12,
            "failures": 2,
            "consecutive_failures": 0,
            "consecutive_successes": 12,
            "transitions": 1,
            "restarts": 0,
            "last_check": latency.map(|ms| serde_json::json!({
                "at": "2026-11-28T16:09:59.000Z",
                "ok": status != Status::Down,
                "latency_ms": ms,
                "detail": if status == Status::Down { "status 503, expected 200" } else { "status 200" },
            })),
        });
        serde_json::from_value(json).expect("a valid HostView")
    }

    pub fn now() -> SystemTime {
        humantime::parse_rfc3339("2026-11-28T16:10:00Z").unwrap()
    }

    fn fleet() -> Vec<HostView> {
        vec![
            host("web-10", Status::Up, Some(3.0)),
            host("web-2", Status::Up, Some(40.0)),
            host("db", Status::Down, Some(5000.0)),
            host("cache", Status::Degraded, Some(900.0)),
            host("new", Status::Unknown, None),
        ]
    }

    fn app_with(hosts: Vec<HostView>) -> App {
        let mut app = App::new("http://127.0.0.1:9900");
        app.set_viewport(10);
        app.set_hosts(hosts, now());
        app
    }

    fn shown(app: &App) -> Vec<&str> {
        app.visible.iter().map(|&i| app.rows[i].label()).collect()
    }

    fn many(n: usize) -> Vec<HostView> {
        (0..n)
            .map(|i| host(&format!("host-{i:05}"), Status::Up, Some(1.0)))
            .collect()
    }

    #[test]
    fn rows_are_formatted_once_on_refresh() {
        let app = app_with(fleet());
        let db = app.rows.iter().find(|r| r.label() == "db").unwrap();
        assert_eq!(db.since, "10m ago");
        assert_eq!(db.latency, "5.00 s");
        assert_eq!(db.detail, "status 503, expected 200");
        let new = app.rows.iter().find(|r| r.label() == "new").unwrap();
        assert_eq!(
            (new.latency.as_str(), new.detail.as_str()),
            ("-", "not checked yet")
        );
        assert_eq!(app.summary(), "2 up, 1 degraded, 1 down, 1 unknown");
        assert_eq!(app.label_width(), 6);
    }

    #[test]
    fn the_default_order_puts_the_most_urgent_first() {
        let app = app_with(fleet());
        assert_eq!(shown(&app), ["db", "cache", "new", "web-2", "web-10"]);
        assert_eq!(app.selected_label(), Some("db"));
    }

    #[test]
    fn s_cycles_label_and_latency_orders() {
        let mut app = app_with(fleet());
        app.cycle_sort();
        assert_eq!(app.sort(), SortKey::Label);
        assert_eq!(shown(&app), ["cache", "db", "new", "web-2", "web-10"]);
        app.cycle_sort();
        assert_eq!(app.sort(), SortKey::Latency);
        assert_eq!(shown(&app), ["db", "cache", "web-2", "web-10", "new"]);
        app.cycle_sort();
        assert_eq!(app.sort(), SortKey::Status);
    }

    #[test]
    fn a_new_order_keeps_the_selected_host() {
        let mut app = app_with(fleet());
        app.move_by(3);
        assert_eq!(app.selected_label(), Some("web-2"));
        app.cycle_sort();
        assert_eq!(app.selected_label(), Some("web-2"));
        assert_eq!(app.selected(), Some(3));
    }

    #[test]
    fn the_filter_matches_label_substrings_without_case() {
        let mut app = app_with(fleet());
        app.start_filter();
        assert_eq!(app.mode(), Mode::Filter);
        for c in "WEB".chars() {
            app.push_filter(c);
        }
        assert_eq!(shown(&app), ["web-2", "web-10"]);
        assert_eq!(app.total(), 5);
        assert_eq!(app.shown(), 2);
        // The selected host (db) no longer matched: the first match is selected.
        assert_eq!(app.selected_label(), Some("web-2"));
        app.push_filter('-');
        app.push_filter('1');
        assert_eq!(shown(&app), ["web-10"]);
        app.pop_filter();
        assert_eq!(shown(&app), ["web-2", "web-10"]);
        app.accept_filter();
        assert_eq!((app.mode(), app.filter()), (Mode::Browse, "WEB-"));
        assert_eq!(shown(&app), ["web-2", "web-10"]);
    }

    #[test]
    fn clearing_the_filter_shows_every_host_and_keeps_the_selection() {
        let mut app = app_with(fleet());
        app.start_filter();
        app.push_filter('w');
        app.push_filter('e');
        app.move_by(1);
        assert_eq!(app.selected_label(), Some("web-10"));
        app.clear_filter();
        assert_eq!(app.mode(), Mode::Browse);
        assert_eq!(app.filter(), "");
        assert_eq!(app.shown(), 5);
        assert_eq!(app.selected_label(), Some("web-10"));
    }

    #[test]
    fn a_filter_without_matches_selects_nothing() {
        let mut app = app_with(fleet());
        app.start_filter();
        app.push_filter('z');
        assert_eq!(app.shown(), 0);
        assert_eq!(app.selected(), None);
        assert_eq!(app.selected_label(), None);
        assert_eq!(app.visible_rows().count(), 0);
        app.move_by(1);
        app.page_down();
        app.last();
        assert_eq!(app.selected(), None);
        app.pop_filter();
        assert_eq!(app.selected_label(), Some("db"));
    }

    #[test]
    fn the_filter_applies_to_later_refreshes() {
        let mut app = app_with(fleet());
        app.start_filter();
        app.push_filter('w');
        app.push_filter('e');
        app.accept_filter();
        let mut hosts = fleet();
        hosts.push(host("web-3", Status::Down, Some(1.0)));
        app.set_hosts(hosts, now());
        assert_eq!(shown(&app), ["web-3", "web-2", "web-10"]);
    }

    #[test]
    fn the_selection_stays_on_its_host_across_refreshes() {
        let mut app = app_with(fleet());
        app.move_by(4);
        assert_eq!(app.selected_label(), Some("web-10"));
        // web-10 goes down: it moves to the top, and stays selected.
        let mut hosts = fleet();
        hosts[0] = host("web-10", Status::Down, Some(1.0));
        app.set_hosts(hosts, now());
        assert_eq!(shown(&app)[..2], ["db", "web-10"]);
        assert_eq!(app.selected_label(), Some("web-10"));
        assert_eq!(app.selected(), Some(1));
    }

    #[test]
    fn until_a_host_is_chosen_the_top_row_stays_selected() {
        let mut app = app_with(fleet());
        assert_eq!(app.selected_label(), Some("db"));
        let mut hosts = fleet();
        hosts[0] = host("web-10", Status::Down, Some(1.0));
        hosts[2] = host("db", Status::Up, Some(1.0));
        app.set_hosts(hosts, now());
        assert_eq!(app.selected_label(), Some("web-10"));
        // Once the user moved, the selection follows its host.
        app.move_by(1);
        app.move_by(-1);
        app.set_hosts(fleet(), now());
        assert_eq!(app.selected_label(), Some("web-10"));
    }

    #[test]
    fn a_vanished_host_leaves_the_selection_at_its_position() {
        let mut app = app_with(fleet());
        app.move_by(2);
        assert_eq!(app.selected_label(), Some("new"));
        let hosts: Vec<HostView> = fleet().into_iter().filter(|h| h.label != "new").collect();
        app.set_hosts(hosts, now());
        assert_eq!(app.selected(), Some(2));
        assert_eq!(app.selected_label(), Some("web-2"));
        // Fewer hosts than the position: the last one.
        app.set_hosts(vec![host("solo", Status::Up, Some(1.0))], now());
        assert_eq!(app.selected_label(), Some("solo"));
        app.set_hosts(Vec::new(), now());
        assert_eq!(app.selected(), None);
        assert_eq!(app.summary(), "no hosts");
    }

    #[test]
    fn moving_stops_at_both_ends() {
        let mut app = app_with(fleet());
        app.move_by(-1);
        assert_eq!(app.selected(), Some(0));
        app.move_by(100);
        assert_eq!(app.selected(), Some(4));
        app.first();
        assert_eq!(app.selected(), Some(0));
        app.last();
        assert_eq!(app.selected(), Some(4));
    }

    #[test]
    fn ten_thousand_hosts_scroll_one_screen_at_a_time() {
        let mut app = app_with(many(10_000));
        app.set_viewport(20);
        assert_eq!(app.visible_rows().count(), 20);
        assert_eq!((app.selected(), app.offset()), (Some(0), 0));

        // Moving inside the screen does not scroll; past its bottom, by one row.
        app.move_by(19);
        assert_eq!((app.selected(), app.offset()), (Some(19), 0));
        app.move_by(1);
        assert_eq!((app.selected(), app.offset()), (Some(20), 1));

        app.page_down();
        assert_eq!((app.selected(), app.offset()), (Some(40), 21));
        app.page_up();
        assert_eq!((app.selected(), app.offset()), (Some(20), 1));

        app.last();
        assert_eq!((app.selected(), app.offset()), (Some(9_999), 9_980));
        assert_eq!(app.visible_rows().count(), 20);
        assert_eq!(app.visible_rows().last().unwrap().label(), "host-09999");
        app.page_down();
        assert_eq!((app.selected(), app.offset()), (Some(9_999), 9_980));

        app.first();
        assert_eq!((app.selected(), app.offset()), (Some(0), 0));
        app.page_up();
        assert_eq!((app.selected(), app.offset()), (Some(0), 0));

        // Moving up above the screen scrolls it up just enough.
        app.move_by(5_000);
        let offset = app.offset();
        app.move_by(-20);
        assert_eq!((app.selected(), app.offset()), (Some(4_980), offset - 1));
    }

    #[test]
    fn ten_thousand_hosts_refresh_and_filter_keep_the_selection_in_view() {
        let mut app = app_with(many(10_000));
        app.set_viewport(20);
        app.move_by(7_000);
        app.set_hosts(many(10_000), now());
        assert_eq!(app.selected_label(), Some("host-07000"));
        let on_screen: Vec<&str> = app.visible_rows().map(HostRow::label).collect();
        assert!(on_screen.contains(&"host-07000"), "{on_screen:?}");

        app.start_filter();
        for c in "0700".chars() {
            app.push_filter(c);
        }
        // host-00700..host-00799 and host-07000..host-07009 ... match: the selection stays.
        assert_eq!(app.selected_label(), Some("host-07000"));
        assert!(app.offset() <= app.selected().unwrap());
        assert!(app.selected().unwrap() < app.offset() + 20);
        app.clear_filter();
        assert_eq!(app.shown(), 10_000);
        assert_eq!(app.selected(), Some(7_000));
        assert!(app.visible_rows().any(|r| r.label() == "host-07000"));
    }

    #[test]
    fn a_smaller_screen_keeps_the_selection_visible() {
        let mut app = app_with(many(100));
        app.set_viewport(30);
        app.move_by(29);
        app.set_viewport(10);
        assert_eq!((app.selected(), app.offset()), (Some(29), 20));
        // A bigger one shows no blank rows below the last host.
        app.last();
        app.set_viewport(50);
        assert_eq!(app.offset(), 50);
    }

    #[test]
    fn the_detail_shown_is_the_selected_hosts() {
        let mut app = app_with(fleet());
        let detail = |label: &str| HostDetail {
            host: host(label, Status::Up, Some(1.0)),
            history: Vec::new(),
            holds: Vec::new(),
            last_suppressed: None,
            locations: None,
        };
        app.set_detail(detail("db"));
        assert_eq!(app.selected_detail().map(|d| d.label.as_str()), Some("db"));
        app.move_by(1);
        assert!(app.selected_detail().is_none());
        app.set_detail(detail("cache"));
        assert!(app.selected_detail().is_some());
    }

    #[test]
    fn errors_keep_the_data_until_a_refresh_works() {
        let mut app = app_with(fleet());
        let first = app.updated();
        app.set_error("cannot reach".into());
        assert_eq!(app.error(), Some("cannot reach"));
        assert_eq!(app.total(), 5);
        assert_eq!(app.updated(), first);
        app.set_hosts(fleet(), now() + Duration::from_secs(1));
        assert_eq!(app.error(), None);
    }

    #[test]
    fn details_with_line_breaks_stay_on_one_line() {
        assert_eq!(one_line("a\nb\tc"), "a b c");
    }
}
