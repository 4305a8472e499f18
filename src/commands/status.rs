//! `flowstate status`: ask a running daemon and print every host's state at a glance, with
//! its availability over the last 24 hours and 30 days when the daemon keeps history.
//!
//! Exit 0 when every host is up, 1 otherwise, 2 when the daemon cannot be reached.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::SystemTime;

use flowstate_actors::api::types::HostView;
use flowstate_actors::model::Status;

use super::{exit, BadInput};
use crate::api_client::ApiClient;
use crate::cli::StatusArgs;
use crate::output;
use crate::present;
use crate::table::Table;

pub fn run(args: &StatusArgs) -> Result<ExitCode, BadInput> {
    let client = ApiClient::new(&args.api.api, args.api.token.clone());
    let hosts: Vec<HostView> = client
        .get("/api/v1/hosts")
        .map_err(|e| BadInput(e.to_string()))?;
    if args.json {
        let text = serde_json::to_string_pretty(&hosts).map_err(|e| BadInput(e.to_string()))?;
        output::print_line(&text)?;
    } else {
        let colour = present::colour_enabled(std::io::stdout().is_terminal());
        output::print(&render(&hosts, SystemTime::now(), colour))?;
    }
    let all_up = hosts.iter().all(|h| h.status == Status::Up);
    Ok(if all_up {
        exit::success()
    } else {
        exit::not_all_up()
    })
}

/// The table and the summary line.
pub fn render(hosts: &[HostView], now: SystemTime, colour: bool) -> String {
    let mut table = Table::new(&[
        "", "LABEL", "STATUS", "SINCE", "24H", "30D", "LATENCY", "DETAIL",
    ]);
    for host in hosts {
        let (symbol, status) = if colour {
            let code = present::ansi_colour(host.status);
            (
                format!("\x1b[{code}m{}\x1b[0m", present::symbol(host.status)),
                format!("\x1b[{code}m{}\x1b[0m", host.status),
            )
        } else {
            (
                present::symbol(host.status).to_string(),
                host.status.to_string(),
            )
        };
        let latency = match &host.last_check {
            Some(check) => format!("{:.1} ms", check.latency_ms),
            None => "-".to_string(),
        };
        let detail = host.reason_line();
        // `null` without a state store: unknown, as for a host with no history yet.
        let availability = host.availability.unwrap_or_default();
        table.row(vec![
            symbol,
            host.label.clone(),
            status,
            present::ago(&host.since, now),
            present::percent(availability.day),
            present::percent(availability.month),
            latency,
            detail,
        ]);
    }
    let mut out = table.render("");
    out.push_str(&present::summary(hosts.iter().map(|h| h.status)));
    out.push('\n');
    out
}
