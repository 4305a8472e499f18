//! `flowstate report`: every host's availability over a window, for an SLA review or a
//! monthly mail: availability, downtime, how many incidents and the longest one; as a table,
//! JSON (`--json`) or CSV (`--csv`).
//!
//! Asks `/api/v1/hosts` for the hosts, then `/api/v1/hosts/{label}/uptime?window=` for each,
//! several at a time. Exit 0; 1 with `--fail-below` when a host's availability is under it
//! (a cron job or CI step that fails on a broken SLA); 2 when the daemon cannot be reached or
//! keeps no history.

use std::process::ExitCode;

use flowstate_actors::api::history::NO_STORE;
use flowstate_actors::api::types::{HostView, UptimeView};
use serde::Serialize;

use super::{exit, BadInput};
use crate::api_client::{path_segment, ApiClient, ApiError};
use crate::cli::ReportArgs;
use crate::output;
use crate::present;
use crate::table::Table;

/// How many `/uptime` questions are in flight at once: enough to hide the round trips, few
/// enough that the daemon's store readers (two threads) are not flooded.
const AT_ONCE: usize = 8;

/// One host's line of the report: what `--json` prints per host, and `--csv` per row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    pub label: String,
    pub window: String,
    pub from: String,
    pub to: String,
    /// 0 to 1; `null` when nothing is known over the window.
    pub availability: Option<f64>,
    pub downtime_s: f64,
    /// Time no status was known (before the first check, while flowstate did not run).
    pub unknown_s: f64,
    pub incidents: usize,
    /// The longest incident in the window (an open one until now); `null` without any.
    pub longest_incident_s: Option<f64>,
}

impl ReportRow {
    fn new(label: &str, uptime: &UptimeView) -> ReportRow {
        ReportRow {
            label: label.to_string(),
            window: uptime.window.clone(),
            from: uptime.from.clone(),
            to: uptime.to.clone(),
            availability: uptime.availability,
            downtime_s: uptime.downtime_s,
            unknown_s: uptime.unknown_s,
            incidents: uptime.incidents.len(),
            longest_incident_s: uptime
                .incidents
                .iter()
                .map(|incident| incident.duration_s)
                .reduce(f64::max),
        }
    }
}

pub fn run(args: &ReportArgs) -> Result<ExitCode, BadInput> {
    let client = ApiClient::new(&args.api.api, args.api.token.clone());
    let hosts: Vec<HostView> = client
        .get("/api/v1/hosts")
        .map_err(|e| BadInput(e.to_string()))?;
    let window = path_segment(&args.window);
    let paths: Vec<String> = hosts
        .iter()
        .map(|host| {
            format!(
                "/api/v1/hosts/{}/uptime?window={window}",
                path_segment(&host.label)
            )
        })
        .collect();
    let mut rows = Vec::with_capacity(hosts.len());
    for (host, answer) in hosts
        .iter()
        .zip(client.get_all::<UptimeView>(&paths, AT_ONCE))
    {
        match answer {
            Ok(uptime) => rows.push(ReportRow::new(&host.label, &uptime)),
            // Removed by a reload since the list was read: not in the report.
            Err(ApiError::Status {
                status: 404, body, ..
            }) if body.contains("no host labelled") => {}
            Err(ApiError::Status {
                status: 404, body, ..
            }) if body.contains(NO_STORE) => {
                return Err(BadInput(format!(
                    "the daemon at {} keeps no history to report on: {NO_STORE}",
                    client.base()
                )));
            }
            Err(e) => return Err(BadInput(e.to_string())),
        }
    }
    let text = if args.json {
        let mut text = serde_json::to_string_pretty(&rows).map_err(|e| BadInput(e.to_string()))?;
        text.push('\n');
        text
    } else if args.csv {
        csv(&rows)
    } else {
        render(&rows, &args.window)
    };
    output::print(&text)?;
    let broken = args.fail_below.is_some_and(|minimum| {
        rows.iter()
            .any(|row| row.availability.is_some_and(|a| a * 100.0 < minimum))
    });
    Ok(if broken {
        exit::not_all_up()
    } else {
        exit::success()
    })
}

/// The table, with the window it covers above it.
pub fn render(rows: &[ReportRow], window: &str) -> String {
    let mut out = match rows.first() {
        Some(row) => format!(
            "Availability over {window} ({} to {})\n\n",
            row.from, row.to
        ),
        None => format!("Availability over {window}: no hosts\n"),
    };
    if rows.is_empty() {
        return out;
    }
    let mut table = Table::new(&["LABEL", "AVAILABILITY", "DOWNTIME", "INCIDENTS", "LONGEST"]);
    for row in rows {
        table.row(vec![
            row.label.clone(),
            present::percent(row.availability),
            present::span(row.downtime_s),
            row.incidents.to_string(),
            row.longest_incident_s
                .map_or_else(|| "-".to_string(), present::span),
        ]);
    }
    out.push_str(&table.render(""));
    out
}

/// RFC 4180: a header line, then one line per host; an unknown figure is an empty field.
pub fn csv(rows: &[ReportRow]) -> String {
    let mut out = String::from(
        "label,window,from,to,availability,downtime_s,unknown_s,incidents,longest_incident_s\r\n",
    );
    let number = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_default();
    for row in rows {
        let fields = [
            field(&row.label),
            field(&row.window),
            row.from.clone(),
            row.to.clone(),
            number(row.availability),
            row.downtime_s.to_string(),
            row.unknown_s.to_string(),
            row.incidents.to_string(),
            number(row.longest_incident_s),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A text field, quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, availability: Option<f64>, longest: Option<f64>) -> ReportRow {
        ReportRow {
            label: label.to_string(),
            window: "30d".into(),
            from: "2026-10-29T16:00:00.000Z".into(),
            to: "2026-11-28T16:00:00.000Z".into(),
            availability,
            downtime_s: longest.unwrap_or(0.0),
            unknown_s: 0.5,
            incidents: usize::from(longest.is_some()),
            longest_incident_s: longest,
        }
    }

    #[test]
    fn the_table_shows_percentages_and_spans() {
        let rows = [
            row("api", Some(0.9995), Some(1296.0)),
            row("new", None, None),
        ];
        let text = render(&rows, "30d");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Availability over 30d (2026-10-29T16:00:00.000Z to 2026-11-28T16:00:00.000Z)"
        );
        assert_eq!(
            lines[2],
            "LABEL  AVAILABILITY  DOWNTIME  INCIDENTS  LONGEST"
        );
        assert_eq!(
            lines[3],
            "api    99.95%        21m 36s   1          21m 36s"
        );
        assert_eq!(lines[4], "new    -             0s        0          -");
        assert_eq!(render(&[], "7d"), "Availability over 7d: no hosts\n");
    }

    #[test]
    fn csv_quotes_what_needs_it_and_leaves_unknown_empty() {
        let rows = [row("a,\"b\"", Some(1.0), None), row("new", None, Some(6.5))];
        let text = csv(&rows);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "label,window,from,to,availability,downtime_s,unknown_s,incidents,longest_incident_s"
        );
        assert_eq!(
            lines[1],
            "\"a,\"\"b\"\"\",30d,2026-10-29T16:00:00.000Z,2026-11-28T16:00:00.000Z,1,0,0.5,0,"
        );
        assert_eq!(
            lines[2],
            "new,30d,2026-10-29T16:00:00.000Z,2026-11-28T16:00:00.000Z,,6.5,0.5,1,6.5"
        );
        assert_eq!(lines[3], "");
    }
}
