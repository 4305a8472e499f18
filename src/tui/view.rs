//! Drawing the dashboard into a ratatui [`Frame`]: nothing here fetches or decides, it only
//! shows the [`App`].
//!
//! ```text
//!  flowstate  http://127.0.0.1:9900  15 hosts: 12 up, 1 degraded, 2 down        updated 1s ago
//! ┌ hosts 15 ───────────────────────── sort: status ┐┌ ✖ db ─────────────────────────────────┐
//! │  LABEL   STATUS      SINCE    LATENCY  DETAIL    ││✖ down since 3m ago · type http         │
//! │▶ db      ✖ down      3m ago    5.00 s  status 503││...                                     │
//! │  web-2   ● up        2h ago   40.0 ms  status 200││latency: last 12.3 ms, min ..., max ... │
//! └──────────────────────────────────────────────────┘│▁▂▃█▂▁ (sparkline, failed checks red)   │
//!                                                     │history: 40 checks, 2 failed            │
//!                                                     │████╳╳████ (newest right)               │
//!  ↑↓/jk move · PgUp/PgDn · Home/End · / filter · s sort · r refresh · q quit
//! ```
//!
//! Only the rows on screen are turned into widgets, whatever the number of hosts. Below 110
//! columns the detail pane moves under the list; on a short terminal it gives way entirely.

use std::time::SystemTime;

use flowstate_actors::api::types::CheckView;
use flowstate_actors::model::Status;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Cell, HighlightSpacing, Paragraph, Row, Scrollbar, ScrollbarOrientation, ScrollbarState,
    Sparkline, SparklineBar, Table, TableState,
};
use ratatui::Frame;

use super::app::{one_line, App, Detail, HostRow, Mode};
use super::keys::HINTS;
use crate::present;

/// Marks the selected row; also what tests and people look for.
pub const SELECTED: &str = "▶ ";
/// A passed and a failed check in the history timeline: readable without colour.
pub const PASSED: &str = "█";
pub const FAILED: &str = "╳";

/// Narrower than this, the detail pane goes below the list.
const SIDE_BY_SIDE_WIDTH: u16 = 110;
/// Height of the detail pane below the list, borders included: half the room, within these.
const MIN_STACKED_DETAIL_HEIGHT: u16 = 9;
const MAX_STACKED_DETAIL_HEIGHT: u16 = 14;
/// Below the list's minimum (borders and column titles included), the detail pane gives way.
const MIN_STACKED_LIST_HEIGHT: u16 = 8;
/// A detail pane shorter than this (inside) shows only the essential lines of text.
const COMPACT_DETAIL_HEIGHT: u16 = 10;
/// Rows of the latency sparkline at most.
const MAX_SPARKLINE_HEIGHT: u16 = 8;

pub fn colour(status: Status) -> Color {
    match status {
        Status::Up => Color::Green,
        Status::Degraded => Color::Yellow,
        Status::Down => Color::Red,
        Status::Unreachable => Color::Magenta,
        Status::Unknown => Color::DarkGray,
    }
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// Draws the whole screen; tells the app how many rows its list shows.
pub fn draw(frame: &mut Frame, app: &mut App, now: SystemTime) {
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, app, now);
    let (list, detail) = split_body(body);
    draw_list(frame, list, app);
    if let Some(detail) = detail {
        draw_detail(frame, detail, app, now);
    }
    draw_status_line(frame, status, app);
}

/// The list's area, and the detail pane's if there is room for one.
fn split_body(body: Rect) -> (Rect, Option<Rect>) {
    if body.width >= SIDE_BY_SIDE_WIDTH {
        let detail_width = (body.width * 2 / 5).clamp(44, 90);
        let [list, detail] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(detail_width)]).areas(body);
        (list, Some(detail))
    } else if body.height >= MIN_STACKED_DETAIL_HEIGHT + MIN_STACKED_LIST_HEIGHT {
        let height = (body.height / 2).clamp(MIN_STACKED_DETAIL_HEIGHT, MAX_STACKED_DETAIL_HEIGHT);
        let [list, detail] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(height)]).areas(body);
        (list, Some(detail))
    } else {
        (body, None)
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, now: SystemTime) {
    let freshness = match app.updated() {
        None => Span::raw(""),
        Some(at) => {
            let age = present::elapsed(now.duration_since(at).unwrap_or_default());
            if app.error().is_some() {
                Span::styled(
                    format!("no answer · data from {age} "),
                    Style::new().fg(Color::Red),
                )
            } else {
                Span::styled(format!("updated {age} "), dim())
            }
        }
    };
    let hosts = match app.total() {
        1 => "1 host".to_string(),
        n => format!("{n} hosts"),
    };
    let brand = Span::styled(" flowstate  ", Style::new().add_modifier(Modifier::BOLD));
    let rest = [
        Span::styled(app.api().to_string(), Style::new().fg(Color::Cyan)),
        Span::raw("  "),
        Span::styled(
            format!("{hosts}: {}", app.summary()),
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ];
    // What gives way on a narrow terminal: first the name, then the freshness (an error also
    // shows in the status line); the address and the totals stay.
    let room = area.width as usize;
    let rest_width: usize = rest.iter().map(Span::width).sum();
    let mut left = Vec::with_capacity(4);
    if brand.width() + rest_width + 1 + freshness.width() <= room {
        left.push(brand);
    } else {
        left.push(Span::raw(" "));
    }
    left.extend(rest);
    let left_width: usize = left.iter().map(Span::width).sum();
    let freshness = if left_width + 1 + freshness.width() <= room {
        freshness
    } else {
        Span::raw("")
    };
    let [left_area, right_area] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(freshness.width() as u16),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(left)), left_area);
    frame.render_widget(Paragraph::new(Line::from(freshness)), right_area);
}

fn draw_list(frame: &mut Frame, area: Rect, app: &mut App) {
    let count = if app.filter().is_empty() {
        format!(" hosts {} ", app.total())
    } else {
        format!(
            " hosts {} of {} · filter “{}” ",
            app.shown(),
            app.total(),
            app.filter()
        )
    };
    let block = Block::bordered()
        .title(Line::from(count).style(Style::new().add_modifier(Modifier::BOLD)))
        .title_top(Line::from(format!(" sort: {} ", app.sort().name())).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);

    // One line of column titles; the rest is rows.
    app.set_viewport(inner.height.saturating_sub(1) as usize);
    if app.shown() == 0 {
        let message = if app.total() == 0 {
            "the daemon has no hosts".to_string()
        } else {
            format!("no host matches “{}” (Esc clears the filter)", app.filter())
        };
        frame.render_widget(Paragraph::new(message).style(dim()).centered(), inner);
        return;
    }

    let label_width = (app.label_width().max(5) as u16)
        .min(40)
        .min(inner.width / 2);
    let widths = [
        Constraint::Length(label_width),
        Constraint::Length(10), // ◐ degraded
        Constraint::Length(8),  // just now
        Constraint::Length(9),  // 999.9 ms
        Constraint::Fill(1),
    ];
    let header = Row::new(["LABEL", "STATUS", "SINCE", "  LATENCY", "DETAIL"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let rows: Vec<Row> = app.visible_rows().map(row).collect();
    let mut state =
        TableState::default().with_selected(app.selected().map(|s| s.saturating_sub(app.offset())));
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(
            Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
        )
        .highlight_symbol(SELECTED)
        .highlight_spacing(HighlightSpacing::Always);
    frame.render_stateful_widget(table, inner, &mut state);

    if app.shown() > app.viewport() {
        let mut scrollbar = ScrollbarState::new(app.shown() - app.viewport() + 1)
            .viewport_content_length(app.viewport())
            .position(app.offset());
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .begin_symbol(None)
                .end_symbol(None),
            area.inner(Margin {
                horizontal: 0,
                vertical: 1,
            }),
            &mut scrollbar,
        );
    }
}

/// One host's row; borrows the strings formatted at refresh.
fn row(host: &HostRow) -> Row<'_> {
    let status = Style::new().fg(colour(host.status()));
    let detail_style = match host.status() {
        Status::Down => Style::new().fg(Color::Red),
        Status::Degraded => Style::new().fg(Color::Yellow),
        _ => Style::new(),
    };
    Row::new([
        Cell::from(host.label()),
        Cell::from(Line::from(vec![
            Span::styled(present::symbol(host.status()), status),
            Span::raw(" "),
            Span::styled(host.status().as_str(), status),
        ])),
        Cell::from(host.since.as_str()),
        Cell::from(Line::from(host.latency.as_str()).right_aligned()),
        Cell::from(host.detail.as_str()).style(detail_style),
    ])
}

fn draw_detail(frame: &mut Frame, area: Rect, app: &App, now: SystemTime) {
    let Some(host) = app.selected_row() else {
        let block = Block::bordered().title(" detail ");
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(Paragraph::new("no host selected").style(dim()), inner);
        return;
    };
    let status = Style::new().fg(colour(host.status()));
    let title = Line::from(vec![
        Span::raw(" "),
        Span::styled(present::symbol(host.status()), status),
        Span::styled(
            format!(" {} ", host.label()),
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ]);
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let view = &host.host;
    let streak = if view.counters.consecutive_failures > 0 {
        Span::styled(
            format!("{} failed in a row", view.counters.consecutive_failures),
            Style::new().fg(Color::Red),
        )
    } else {
        Span::raw(format!(
            "{} passed in a row",
            view.counters.consecutive_successes
        ))
    };
    let last = match &view.last_check {
        Some(check) => format!(
            "last: {} · {} · {}",
            present::latency(check.latency_ms),
            present::ago(&check.at, now),
            one_line(&check.detail)
        ),
        None => "last: not checked yet".to_string(),
    };
    let headline = Line::from(vec![
        Span::styled(
            format!("{} {}", present::symbol(view.status), view.status),
            status,
        ),
        Span::raw(format!(" since {} · type {}", host.since, view.kind)),
    ]);
    let compact = inner.height < COMPACT_DETAIL_HEIGHT;
    let info = if compact {
        vec![headline, Line::from(last)]
    } else {
        vec![
            headline,
            Line::from(format!(
                "{} · {} failed · {} · {}",
                present::count(view.counters.checks, "check"),
                view.counters.failures,
                present::count(view.counters.transitions, "change"),
                present::count(view.counters.restarts, "restart")
            )),
            Line::from(streak),
            Line::from(last),
        ]
    };
    let [info_area, _, charts] = Layout::vertical([
        Constraint::Length(info.len() as u16),
        Constraint::Length(u16::from(!compact)),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(info), info_area);

    match app.selected_detail() {
        None => frame.render_widget(Paragraph::new("loading history…").style(dim()), charts),
        Some(detail) if detail.history.is_empty() => {
            frame.render_widget(Paragraph::new("no checks yet").style(dim()), charts)
        }
        Some(detail) => draw_history(frame, charts, detail, now),
    }
}

/// The latency sparkline above the up/down timeline, column for column the same checks (the
/// newest that fit, newest on the right), then the newest checks one per line while room is
/// left.
fn draw_history(frame: &mut Frame, area: Rect, detail: &Detail, now: SystemTime) {
    // A taller chart tells no more; the room left goes to the list of checks.
    let chart_height = area.height.saturating_sub(3).clamp(1, MAX_SPARKLINE_HEIGHT);
    let [latency_title, sparkline, timeline_title, timeline, _, recent] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(chart_height),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    let history = &detail.history;
    let shown = &history[history.len().saturating_sub(area.width as usize)..];

    // The chart's top is the maximum of the checks it shows.
    let max = shown.iter().map(|c| c.latency_ms).fold(0.0, f64::max);
    let avg = history.iter().map(|c| c.latency_ms).sum::<f64>() / history.len() as f64;
    let newest = history.last().map_or(0.0, |c| c.latency_ms);
    frame.render_widget(
        Paragraph::new(format!(
            "latency: last {} · avg {} · max {}",
            present::latency(newest),
            present::latency(avg),
            present::latency(max)
        )),
        latency_title,
    );
    // Every check gets at least the lowest bar, so a fast one never looks like a gap.
    let top = (max * 1000.0) as u64;
    let floor = top / (8 * u64::from(chart_height)) + 1;
    let bars: Vec<SparklineBar> = shown.iter().map(|c| bar(c, floor)).collect();
    frame.render_widget(
        Sparkline::default()
            .data(bars)
            .max(top.max(floor))
            .style(Style::new().fg(Color::Cyan)),
        sparkline,
    );

    let failed = history.iter().filter(|c| !c.ok).count();
    let mut summary = vec![Span::raw(format!("history: {} checks, ", history.len()))];
    summary.push(if failed > 0 {
        Span::styled(format!("{failed} failed"), Style::new().fg(Color::Red))
    } else {
        Span::raw("none failed")
    });
    if shown.len() < history.len() {
        summary.push(Span::styled(
            format!(" · last {} shown", shown.len()),
            dim(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(summary)), timeline_title);
    let marks: Vec<Span> = shown
        .iter()
        .map(|c| {
            if c.ok {
                Span::styled(PASSED, Style::new().fg(Color::Green))
            } else {
                Span::styled(FAILED, Style::new().fg(Color::Red))
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(Line::from(marks)), timeline);

    if recent.height < 2 {
        return;
    }
    let mut lines = vec![Line::styled(
        "recent checks",
        Style::new().add_modifier(Modifier::BOLD),
    )];
    lines.extend(
        history
            .iter()
            .rev()
            .take(recent.height as usize - 1)
            .map(|c| check_line(c, now)),
    );
    frame.render_widget(Paragraph::new(lines), recent);
}

/// One check in the sparkline: its latency in µs (loopback checks take well under a
/// millisecond) but at least `floor`, red when it failed.
fn bar(check: &CheckView, floor: u64) -> SparklineBar {
    let micros = ((check.latency_ms * 1000.0).max(0.0) as u64).max(floor);
    let style = (!check.ok).then(|| Style::new().fg(Color::Red));
    SparklineBar::from(micros).style(style)
}

/// `  12s ago ✖    4.4 ms status 503, expected 200`
fn check_line(check: &CheckView, now: SystemTime) -> Line<'static> {
    let (mark, style) = if check.ok {
        (PASSED, Style::new().fg(Color::Green))
    } else {
        (FAILED, Style::new().fg(Color::Red))
    };
    Line::from(vec![
        Span::styled(format!("{:>8} ", present::ago(&check.at, now)), dim()),
        Span::styled(mark, style),
        Span::raw(format!(
            " {:>9} {}",
            present::latency(check.latency_ms),
            one_line(&check.detail)
        )),
    ])
}

fn draw_status_line(frame: &mut Frame, area: Rect, app: &App) {
    let line = if app.mode() == Mode::Filter {
        let prompt = format!("/{}", app.filter());
        let cursor = area.x + prompt.chars().count() as u16;
        frame.set_cursor_position((cursor.min(area.right().saturating_sub(1)), area.y));
        Line::from(vec![
            Span::styled(prompt, Style::new().add_modifier(Modifier::BOLD)),
            Span::styled("   type to filter by label · Enter keep · Esc clear", dim()),
        ])
    } else if let Some(error) = app.error() {
        Line::from(Span::styled(
            format!("✖ {error}"),
            Style::new().fg(Color::Red),
        ))
    } else {
        Line::from(Span::styled(HINTS, dim()))
    };
    frame.render_widget(Paragraph::new(line), area);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use flowstate_actors::api::types::HostDetail;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::tui::app::tests::{host, now};

    /// Draws `app` on a `width`×`height` test terminal and returns the screen's lines.
    fn render(app: &mut App, width: u16, height: u16) -> (Vec<String>, Terminal<TestBackend>) {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| draw(frame, app, now())).unwrap();
        let buffer = terminal.backend().buffer().clone();
        let lines = (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect();
        (lines, terminal)
    }

    fn screen(lines: &[String]) -> String {
        lines.join("\n")
    }

    fn line_with<'a>(lines: &'a [String], needle: &str) -> &'a str {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{}", screen(lines)))
    }

    fn fleet_app() -> App {
        let mut app = App::new("http://127.0.0.1:9900");
        app.set_hosts(
            vec![
                host("web-1", Status::Up, Some(12.3)),
                host("db", Status::Down, Some(5000.0)),
                host("cache", Status::Degraded, Some(900.0)),
                host("fresh", Status::Unknown, None),
            ],
            now() - Duration::from_secs(2),
        );
        app
    }

    fn check(ok: bool, latency_ms: f64) -> CheckView {
        CheckView {
            at: "2026-11-28T16:09:00.000Z".into(),
            ok,
            degraded: false,
            latency_ms,
            detail: if ok { "status 200" } else { "status 503" }.into(),
            perfdata: Vec::new(),
            status_code: Some(if ok { 200 } else { 503 }),
            phases: Vec::new(),
            trace_id: None,
        }
    }

    #[test]
    fn the_header_shows_the_api_and_the_totals() {
        let (lines, _) = render(&mut fleet_app(), 140, 30);
        assert!(lines[0].contains("flowstate"), "{}", lines[0]);
        assert!(lines[0].contains("http://127.0.0.1:9900"), "{}", lines[0]);
        assert!(
            lines[0].contains("4 hosts: 1 up, 1 degraded, 1 down, 1 unknown"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].trim_end().ends_with("updated 2s ago"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn rows_show_symbol_status_and_latency_most_urgent_first() {
        let (lines, terminal) = render(&mut fleet_app(), 140, 30);
        let labels: Vec<&str> = ["db", "cache", "fresh", "web-1"]
            .iter()
            .map(|l| line_with(&lines, &format!(" {l} ")))
            .collect();
        let row_of = |label: &str| {
            lines
                .iter()
                .position(|l| {
                    l.contains(&format!("  {label} ")) || l.contains(&format!("▶ {label} "))
                })
                .unwrap()
        };
        assert!(row_of("db") < row_of("cache"));
        assert!(row_of("cache") < row_of("fresh"));
        assert!(row_of("fresh") < row_of("web-1"));
        let db = line_with(&lines, "▶ db");
        assert!(db.contains("✖ down") && db.contains("5.00 s"), "{db}");
        assert!(db.contains("status 503, expected 200"), "{db}");
        assert!(line_with(&lines, " cache ").contains("◐ degraded"));
        assert!(line_with(&lines, " fresh ").contains("? unknown"));
        let web = line_with(&lines, " web-1 ");
        assert!(web.contains("● up") && web.contains("12.3 ms"), "{web}");
        assert!(labels.len() == 4);
        assert!(line_with(&lines, "LABEL").contains("LATENCY"));
        assert!(line_with(&lines, " hosts 4 ").contains("sort: status"));

        // Status colours: the symbol cell of the down host is red, of the up host green.
        let buffer = terminal.backend().buffer();
        let colour_of = |label: &str| {
            let y = row_of(label) as u16;
            let x = lines[y as usize].find(['✖', '●', '◐', '?']).unwrap();
            let column = lines[y as usize][..x].chars().count() as u16;
            buffer[(column, y)].fg
        };
        assert_eq!(colour_of("db"), Color::Red);
        assert_eq!(colour_of("web-1"), Color::Green);
    }

    #[test]
    fn the_filter_prompt_and_the_filtered_title() {
        let mut app = fleet_app();
        app.start_filter();
        app.push_filter('e');
        let (lines, terminal) = render(&mut app, 140, 30);
        let prompt = lines.last().unwrap();
        assert!(prompt.starts_with("/e "), "{prompt}");
        assert!(prompt.contains("Esc clear"), "{prompt}");
        assert!(line_with(&lines, " hosts 3 of 4").contains("filter “e”"));
        assert!(!screen(&lines).contains(" db "), "{}", screen(&lines));
        let mut terminal = terminal;
        terminal.backend_mut().assert_cursor_position((2, 29));

        app.push_filter('x');
        let (lines, _) = render(&mut app, 140, 30);
        assert!(line_with(&lines, "no host matches “ex”").contains("Esc"));
    }

    #[test]
    fn the_detail_pane_shows_a_sparkline_and_a_timeline() {
        let mut app = fleet_app();
        let mut history: Vec<CheckView> = (0..8).map(|i| check(true, 1.0 + i as f64)).collect();
        history.push(check(false, 40.0));
        history.push(check(true, 2.0));
        app.set_detail(HostDetail {
            host: host("db", Status::Down, Some(5000.0)),
            history,
            holds: Vec::new(),
            last_suppressed: None,
            locations: None,
        });
        let (lines, terminal) = render(&mut app, 140, 30);
        let text = screen(&lines);
        assert!(line_with(&lines, "✖ db ").contains('┌'), "{text}");
        assert!(text.contains("✖ down since 9m ago · type http"), "{text}");
        assert!(
            text.contains("12 checks · 2 failed · 1 change · 0 restarts"),
            "{text}"
        );
        assert!(
            text.contains("latency: last 2.0 ms · avg 7.8 ms · max 40.0 ms"),
            "{text}"
        );
        assert!(text.contains("history: 10 checks, 1 failed"), "{text}");
        let timeline = format!("{}{FAILED}{PASSED}", PASSED.repeat(8));
        let y = lines
            .iter()
            .position(|l| l.contains(&timeline))
            .unwrap_or_else(|| panic!("no timeline {timeline} in\n{text}"));
        // The sparkline sits above the timeline: its tallest bar is the failed check, in red.
        let x = lines[y].find(FAILED).unwrap();
        let column = lines[y][..x].chars().count() as u16;
        let buffer = terminal.backend().buffer();
        assert_eq!(buffer[(column, y as u16)].fg, Color::Red);
        // Above the timeline: its title, then the sparkline's column of the same check.
        let above = (0..y as u16 - 1)
            .rev()
            .map(|row| &buffer[(column, row)])
            .take_while(|cell| cell.symbol() != " ")
            .collect::<Vec<_>>();
        assert!(
            above.len() >= 2,
            "no tall bar above the failed check:\n{text}"
        );
        assert!(above.iter().all(|cell| cell.fg == Color::Red));
        assert!(
            text.contains('▁') || text.contains('▂'),
            "no low bars: {text}"
        );
        // The newest checks, newest first.
        let recent = lines
            .iter()
            .position(|l| l.contains("recent checks"))
            .unwrap();
        assert!(lines[recent + 1].contains(&format!("1m ago {PASSED}    2.0 ms status 200")));
        assert!(lines[recent + 2].contains(&format!("1m ago {FAILED}   40.0 ms status 503")));
    }

    #[test]
    fn a_fast_check_beside_a_slow_one_still_gets_a_bar() {
        let mut app = fleet_app();
        app.set_detail(HostDetail {
            host: host("db", Status::Down, Some(5000.0)),
            history: vec![check(true, 0.01), check(true, 100.0)],
            holds: Vec::new(),
            last_suppressed: None,
            locations: None,
        });
        let (lines, _) = render(&mut app, 140, 30);
        let y = lines
            .iter()
            .position(|l| l.contains("history: 2 checks"))
            .unwrap();
        // The sparkline's bottom row is just above the timeline's title.
        let bottom = &lines[y - 1];
        let x = lines[y].find("history").unwrap();
        let bars: String = bottom[x..].chars().take(2).collect();
        assert_eq!(bars, "▁█", "{}", screen(&lines));
    }

    #[test]
    fn the_detail_pane_waits_for_the_history() {
        let (lines, _) = render(&mut fleet_app(), 140, 30);
        assert!(screen(&lines).contains("loading history…"));
        let mut app = fleet_app();
        app.set_detail(HostDetail {
            host: host("db", Status::Down, Some(5000.0)),
            history: Vec::new(),
            holds: Vec::new(),
            last_suppressed: None,
            locations: None,
        });
        let (lines, _) = render(&mut app, 140, 30);
        assert!(screen(&lines).contains("no checks yet"));
    }

    #[test]
    fn an_error_goes_in_the_status_line_and_the_data_stays() {
        let mut app = fleet_app();
        app.set_error("cannot reach the flowstate API at http://127.0.0.1:9900: refused".into());
        let (lines, terminal) = render(&mut app, 140, 30);
        let status = lines.last().unwrap();
        assert!(
            status.starts_with("✖ cannot reach the flowstate API"),
            "{status}"
        );
        assert_eq!(terminal.backend().buffer()[(0, 29)].fg, Color::Red);
        assert!(
            lines[0].contains("no answer · data from 2s ago"),
            "{}",
            lines[0]
        );
        assert!(screen(&lines).contains("▶ db"));
    }

    #[test]
    fn the_key_hints_show_when_all_is_well() {
        let (lines, _) = render(&mut fleet_app(), 140, 30);
        assert!(
            lines.last().unwrap().starts_with(HINTS),
            "{}",
            lines.last().unwrap()
        );
    }

    #[test]
    fn only_what_fits_is_drawn_with_ten_thousand_hosts() {
        let mut app = App::new("http://127.0.0.1:9900");
        let hosts = (0..10_000)
            .map(|i| host(&format!("host-{i:05}"), Status::Up, Some(1.0)))
            .collect();
        app.set_hosts(hosts, now());
        let (lines, _) = render(&mut app, 140, 30);
        // 30 lines: header, status line, two borders, the column titles: 25 rows.
        assert_eq!(app.viewport(), 25);
        assert!(screen(&lines).contains("host-00024"));
        assert!(!screen(&lines).contains("host-00025"));
        app.last();
        let (lines, _) = render(&mut app, 140, 30);
        assert!(line_with(&lines, "▶ host-09999").contains("● up"));
        assert!(screen(&lines).contains("host-09975"));
        assert!(!screen(&lines).contains("host-09974"));
    }

    #[test]
    fn a_narrow_terminal_stacks_the_detail_under_the_list() {
        let (lines, _) = render(&mut fleet_app(), 80, 40);
        let list = lines.iter().position(|l| l.contains(" hosts 4 ")).unwrap();
        let detail = lines.iter().position(|l| l.contains("✖ db ")).unwrap();
        assert!(list < detail, "{}", screen(&lines));
        // 80×24: half for each, the detail pane with its essential lines only.
        let mut app = fleet_app();
        app.set_detail(HostDetail {
            host: host("db", Status::Down, Some(5000.0)),
            history: vec![check(true, 1.0), check(false, 2.0)],
            holds: Vec::new(),
            last_suppressed: None,
            locations: None,
        });
        let (lines, _) = render(&mut app, 80, 24);
        let text = screen(&lines);
        assert!(text.contains("✖ down since 9m ago"), "{text}");
        assert!(text.contains("last: 5.00 s"), "{text}");
        assert!(!text.contains("restarts"), "{text}");
        assert!(text.contains(&format!("{PASSED}{FAILED}")), "{text}");
        assert_eq!(app.viewport(), 8, "{text}");
        // Too short for both: the list alone.
        let (lines, _) = render(&mut fleet_app(), 80, 16);
        assert!(!screen(&lines).contains("loading history"));
        assert!(screen(&lines).contains("▶ db"));
    }

    #[test]
    fn a_narrow_header_keeps_the_address_and_the_totals() {
        let mut app = fleet_app();
        let (lines, _) = render(&mut app, 80, 24);
        assert_eq!(
            lines[0].trim_end(),
            " http://127.0.0.1:9900  4 hosts: 1 up, 1 degraded, 1 down, 1 unknown",
        );
        let (lines, _) = render(&mut app, 90, 24);
        assert!(
            lines[0].starts_with(" http://127.0.0.1:9900  4 hosts"),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with("updated 2s ago "), "{}", lines[0]);
    }

    #[test]
    fn an_empty_daemon_says_so() {
        let mut app = App::new("http://127.0.0.1:9900");
        app.set_hosts(Vec::new(), now());
        let (lines, _) = render(&mut app, 140, 30);
        let text = screen(&lines);
        assert!(text.contains("0 hosts: no hosts"), "{text}");
        assert!(text.contains("the daemon has no hosts"), "{text}");
        assert!(text.contains("no host selected"), "{text}");
    }
}
