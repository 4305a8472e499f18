//! Charts drawn on the server as inline SVG: a row's latency sparkline, a host's latency over a
//! window, and one availability bar per day.
//!
//! Drawn here rather than by a JavaScript chart library so that pages are complete without
//! scripts (the public status page must be), cost nothing to load, and look the same in every
//! browser. Each chart carries its numbers as text too (`<title>` and `aria-label`), so a
//! screen reader and a tooltip say what the colours and heights show.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::history::SeriesPoint;
use crate::model::rfc3339;

/// One day's availability for the daily bars: `None` when nothing was known that day.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    /// The day, as shown (`2026-12-07`).
    pub date: String,
    pub availability: Option<f64>,
}

/// The class a bar or cell gets for an availability, matching the page's colours; the same
/// thresholds as Uptime Kuma's and Gatus's bars (all up, a blip, an outage).
pub fn availability_class(availability: Option<f64>) -> &'static str {
    match availability {
        None => "unknown",
        Some(a) if a >= 0.9995 => "good",
        Some(a) if a >= 0.99 => "fair",
        _ => "bad",
    }
}

/// An availability as people read it: `99.95%`, `100%`, `-` when unknown.
pub fn percent(availability: Option<f64>) -> String {
    match availability {
        None => "-".to_string(),
        Some(a) if a >= 1.0 => "100%".to_string(),
        // Never rounds a real outage up to 100%.
        Some(a) => format!("{:.2}%", (a * 10_000.0).floor() / 100.0),
    }
}

/// A sparkline of the latest latencies (milliseconds; `None` for a failed check, drawn as a
/// red mark on the baseline), oldest first. Its `<title>` is its accessible name and its
/// tooltip (no `aria-label` repeating it: a dashboard draws 10 000 of these).
pub fn sparkline(latencies: &[Option<f64>], width: u32, height: u32) -> String {
    let mut svg = String::new();
    let count = latencies.len();
    let max = latencies
        .iter()
        .flatten()
        .copied()
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let passed = latencies.iter().flatten().count();
    let label = match latencies.iter().rev().flatten().next() {
        Some(last) => format!(
            "latency of the last {count} checks, {passed} passed, latest {last:.1} ms, highest {max:.1} ms"
        ),
        None => format!("latency of the last {count} checks, none passed"),
    };
    let _ = write!(
        svg,
        r#"<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img"><title>{label}</title>"#
    );
    let x = |i: usize| {
        if count <= 1 {
            f64::from(width) / 2.0
        } else {
            i as f64 * f64::from(width) / (count - 1) as f64
        }
    };
    let y = |ms: f64| f64::from(height) - 1.0 - (ms / max) * (f64::from(height) - 2.0);
    let mut line = String::new();
    for (i, latency) in latencies.iter().enumerate() {
        if let Some(ms) = latency {
            let _ = write!(line, "{:.1},{:.1} ", x(i), y(*ms));
        }
    }
    if !line.is_empty() {
        let _ = write!(
            svg,
            r#"<polyline class="line" fill="none" points="{}"/>"#,
            line.trim_end()
        );
    }
    for (i, latency) in latencies.iter().enumerate() {
        if latency.is_none() {
            let _ = write!(
                svg,
                r#"<rect class="fail" x="{:.1}" y="{}" width="2" height="{}"/>"#,
                (x(i) - 1.0).max(0.0),
                height.saturating_sub(4),
                4
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// One bar per day, oldest first, coloured by availability and titled with the day and its
/// figure.
pub fn daily_bars(days: &[Day]) -> String {
    let bar = 6;
    let gap = 2;
    let height = 28;
    let width = days.len() as u32 * (bar + gap);
    let mut svg = String::new();
    let known: Vec<f64> = days.iter().filter_map(|d| d.availability).collect();
    let summary = if known.is_empty() {
        format!(
            "availability per day over {} days: nothing known",
            days.len()
        )
    } else {
        let worst = known.iter().copied().fold(1.0_f64, f64::min);
        format!(
            "availability per day over {} days, lowest {}",
            days.len(),
            percent(Some(worst))
        )
    };
    let _ = write!(
        svg,
        r#"<svg class="days" viewBox="0 0 {width} {height}" width="100%" height="{height}" preserveAspectRatio="none" role="img" aria-label="{summary}">"#
    );
    for (i, day) in days.iter().enumerate() {
        let class = availability_class(day.availability);
        let _ = write!(
            svg,
            r#"<rect class="{class}" x="{}" y="0" width="{bar}" height="{height}" rx="1"><title>{}: {}</title></rect>"#,
            i as u32 * (bar + gap),
            day.date,
            percent(day.availability)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A host's latency over a window: p50 and p95 lines, the maximum as a faint band, failures as
/// red marks along the bottom, with its scale and time range written out.
pub fn latency_chart(points: &[SeriesPoint], from: SystemTime, to: SystemTime) -> String {
    let (width, height, left, bottom) = (720.0_f64, 220.0_f64, 48.0_f64, 20.0_f64);
    let plot_width = width - left - 4.0;
    let plot_height = height - bottom - 8.0;
    let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
    let top = points
        .iter()
        .filter_map(|p| ms(p.p95).or(ms(p.p50)))
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.1;
    let span = to
        .duration_since(from)
        .unwrap_or(Duration::from_secs(1))
        .as_secs_f64()
        .max(1.0);
    let x = |at: SystemTime| {
        let offset = at
            .duration_since(from)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        left + plot_width * (offset / span).min(1.0)
    };
    let y = |value: f64| 8.0 + plot_height * (1.0 - (value / top).min(1.0));
    let mut svg = String::new();
    let label = format!(
        "latency from {} to {}: {} points, scale up to {:.1} ms",
        rfc3339(from),
        rfc3339(to),
        points.len(),
        top
    );
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{label}"><title>{label}</title>"#
    );
    for fraction in [0.0, 0.5, 1.0] {
        let value = top * fraction;
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{value:.0} ms</text>"#,
            width - 4.0,
            y(value),
            y(value),
            left - 4.0,
            y(value) + 4.0
        );
    }
    let series = |pick: &dyn Fn(&SeriesPoint) -> Option<f64>| {
        let mut line = String::new();
        for point in points {
            if let Some(value) = pick(point) {
                let _ = write!(line, "{:.1},{:.1} ", x(point.at), y(value));
            }
        }
        line.trim_end().to_string()
    };
    let max_line = series(&|p| ms(p.max));
    let p95_line = series(&|p| ms(p.p95));
    let p50_line = series(&|p| ms(p.p50));
    for (class, line) in [("max", max_line), ("p95", p95_line), ("p50", p50_line)] {
        if line.is_empty() {
            continue;
        }
        // A line of one point draws nothing: a lone point (a new host, a long step) is a dot.
        if let Some((cx, cy)) = line.split_once(',').filter(|_| !line.contains(' ')) {
            let _ = write!(
                svg,
                r#"<circle class="{class} dot" cx="{cx}" cy="{cy}" r="3"/>"#
            );
        } else {
            let _ = write!(
                svg,
                r#"<polyline class="{class}" fill="none" points="{line}"/>"#
            );
        }
    }
    for point in points.iter().filter(|p| p.failures > 0) {
        let _ = write!(
            svg,
            r#"<rect class="fail" x="{:.1}" y="{:.1}" width="3" height="6"><title>{}: {} of {} checks failed</title></rect>"#,
            x(point.at) - 1.5,
            height - bottom - 6.0,
            rfc3339(point.at),
            point.failures,
            point.checks
        );
    }
    let _ = write!(
        svg,
        r#"<text class="axis" x="{left}" y="{}">{}</text><text class="axis" x="{}" y="{}" text-anchor="end">{}</text></svg>"#,
        height - 4.0,
        axis_time(from),
        width - 4.0,
        height - 4.0,
        axis_time(to)
    );
    svg
}

/// A time on an axis, to the minute: `2026-12-07 14:01 UTC`.
fn axis_time(at: SystemTime) -> String {
    let text = rfc3339(at);
    match (text.get(..10), text.get(11..16)) {
        (Some(date), Some(minute)) => format!("{date} {minute} UTC"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn percentages_never_round_an_outage_up_to_100() {
        assert_eq!(percent(Some(1.0)), "100%");
        assert_eq!(percent(Some(0.99999)), "99.99%");
        assert_eq!(percent(Some(0.9)), "90.00%");
        assert_eq!(percent(None), "-");
        assert_eq!(availability_class(Some(0.9999)), "good");
        assert_eq!(availability_class(Some(0.995)), "fair");
        assert_eq!(availability_class(Some(0.9)), "bad");
        assert_eq!(availability_class(None), "unknown");
    }

    #[test]
    fn a_sparkline_marks_failures_and_says_its_numbers() {
        let svg = sparkline(&[Some(10.0), None, Some(20.0)], 100, 20);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert_eq!(svg.matches(r#"class="fail""#).count(), 1, "{svg}");
        assert!(
            svg.contains("latest 20.0 ms, highest 20.0 ms") && svg.contains("2 passed"),
            "{svg}"
        );
        assert!(svg.contains(r#"points="0.0,10.0 100.0,1.0""#), "{svg}");
    }

    #[test]
    fn daily_bars_have_one_titled_bar_a_day() {
        let days: Vec<Day> = (1..=3)
            .map(|d| Day {
                date: format!("2026-12-0{d}"),
                availability: (d != 2).then_some(0.9 + f64::from(d) * 0.03),
            })
            .collect();
        let svg = daily_bars(&days);
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("<title>2026-12-02: -</title>"), "{svg}");
        assert!(svg.contains(r#"class="bad""#) && svg.contains(r#"class="unknown""#));
        assert!(svg.contains("lowest 93.00%"), "{svg}");
    }

    #[test]
    fn the_latency_chart_draws_each_quantile_and_failures() {
        let from = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let point = |minute: u64, failures: u64| SeriesPoint {
            at: from + Duration::from_secs(minute * 60),
            checks: 60,
            failures,
            p50: Some(Duration::from_millis(10)),
            p95: Some(Duration::from_millis(40)),
            max: Some(Duration::from_millis(90)),
        };
        let svg = latency_chart(
            &[point(0, 0), point(1, 3), point(2, 0)],
            from,
            from + Duration::from_secs(180),
        );
        for class in ["p50", "p95", "max"] {
            assert!(
                svg.contains(&format!(r#"class="{class}""#)),
                "{class}: {svg}"
            );
        }
        assert!(svg.contains("3 of 60 checks failed"), "{svg}");
        assert!(svg.contains("scale up to 44.0 ms"), "{svg}");
        let lone = latency_chart(&[point(0, 0)], from, from + Duration::from_secs(180));
        assert!(lone.contains(r#"<circle class="p50 dot""#), "{lone}");
    }
}
