//! `flowstate status`: ask a running daemon and print every host's state at a glance, with
//! its availability over the last 24 hours and 30 days when the daemon keeps history.
//!
//! Exit 0 when every host is up, 1 otherwise, 2 when the daemon cannot be reached.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::SystemTime;

use flowstate_actors::api::types::HostView;
use flowstate_actors::model::Status;
use flowstate_config::tenant::belongs_to;

use super::{exit, BadInput};
use crate::api_client::ApiClient;
use crate::cli::StatusArgs;
use crate::output;
use crate::present;
use crate::table::Table;

pub fn run(args: &StatusArgs) -> Result<ExitCode, BadInput> {
    let client = ApiClient::new(&args.api.api, args.api.token.clone());
    let mut hosts: Vec<HostView> = client
        .get("/api/v1/hosts")
        .map_err(|e| BadInput(e.to_string()))?;
    if let Some(tenant) = &args.tenant {
        hosts = of_tenant(hosts, tenant, &client)?;
    }
    if args.json {
        let text = serde_json::to_string_pretty(&hosts).map_err(|e| BadInput(e.to_string()))?;
        output::print_line(&text)?;
    } else {
        let colour = present::colour_enabled(std::io::stdout().is_terminal());
        output::print(&render(&hosts, SystemTime::now(), colour))?;
    }
    // In a cluster, by the quorum: a `partial` host is not up everywhere.
    let all_up = hosts
        .iter()
        .all(|h| h.shown_status() == Status::Up.as_str());
    Ok(if all_up {
        exit::success()
    } else {
        exit::not_all_up()
    })
}

/// The hosts of `tenant`: those labelled `<tenant>/...`. None is fine for a tenant the
/// daemon's configuration has (its file may be broken since it started); for any other name
/// the answer is an error, so a typo is not mistaken for a tenant with nothing to check.
fn of_tenant(
    hosts: Vec<HostView>,
    tenant: &str,
    client: &ApiClient,
) -> Result<Vec<HostView>, BadInput> {
    let mine: Vec<HostView> = hosts
        .into_iter()
        .filter(|h| belongs_to(&h.label, tenant))
        .collect();
    if !mine.is_empty() {
        return Ok(mine);
    }
    let running: RunningTenants = client
        .get("/api/v1/config")
        .map_err(|e| BadInput(e.to_string()))?;
    match running.tenants {
        Some(known) if known.iter().any(|t| t == tenant) => Ok(mine),
        Some(known) if known.is_empty() => Err(BadInput(format!(
            "unknown tenant `{tenant}`: the daemon at {} has no tenants; run `flowstate status` without --tenant",
            client.base()
        ))),
        Some(known) => Err(BadInput(format!(
            "unknown tenant `{tenant}`; the daemon at {} has {}",
            client.base(),
            known.join(", ")
        ))),
        None => Err(BadInput(format!(
            "no host of tenant `{tenant}` (labelled `{tenant}/...`), and the daemon at {} does not list its tenants; check the name",
            client.base()
        ))),
    }
}

/// The part of `GET /api/v1/config` that names the configured tenants; absent from a daemon
/// that predates them.
#[derive(serde::Deserialize)]
struct RunningTenants {
    #[serde(default)]
    tenants: Option<Vec<String>>,
}

/// The table and the summary line.
pub fn render(hosts: &[HostView], now: SystemTime, colour: bool) -> String {
    let mut table = Table::new(&[
        "", "LABEL", "STATUS", "SINCE", "24H", "30D", "LATENCY", "DETAIL",
    ]);
    for host in hosts {
        let partial = host.shown_status() == "partial";
        let (symbol, code) = if partial {
            (present::PARTIAL_SYMBOL, present::PARTIAL_COLOUR)
        } else {
            (
                present::symbol(host.status),
                present::ansi_colour(host.status),
            )
        };
        let word = host.shown_status();
        let (symbol, status) = if colour {
            (
                format!("\x1b[{code}m{symbol}\x1b[0m"),
                format!("\x1b[{code}m{word}\x1b[0m"),
            )
        } else {
            (symbol.to_string(), word.to_string())
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
    let partial = hosts
        .iter()
        .filter(|h| h.shown_status() == "partial")
        .count();
    out.push_str(&present::summary(
        hosts
            .iter()
            .filter(|h| h.shown_status() != "partial")
            .map(|h| h.status),
    ));
    if partial > 0 {
        out.push_str(&format!(", {partial} partial"));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host as an agent of a cluster lists it: this location's `status`, and the quorum's.
    fn clustered(label: &str, status: &str, quorum: &str, reason: &str) -> HostView {
        serde_json::from_value(serde_json::json!({
            "label": label, "type": "http", "status": status,
            "since": "2026-12-07T20:00:00.000Z", "checks": 4,
            "last_check": { "at": "2026-12-07T20:00:00.000Z", "ok": status == "up",
                            "latency_ms": 1.5, "detail": "status 200" },
            "cluster": { "status": quorum, "failing": ["eu"], "degraded": [], "unknown": [],
                         "quorum": 2, "reason": reason },
        }))
        .expect("a valid HostView")
    }

    #[test]
    fn a_partial_host_reads_partial_with_the_failing_locations_and_is_counted_apart() {
        let hosts = [
            clustered(
                "api",
                "up",
                "partial",
                "down in eu: refused (below quorum 2; up in us)",
            ),
            clustered("web", "up", "up", "up in eu, us"),
        ];
        let now = humantime::parse_rfc3339("2026-12-07T20:00:05Z").expect("a time");
        let out = render(&hosts, now, false);
        let api = out.lines().find(|l| l.contains("api")).unwrap_or_default();
        assert!(api.contains("partial"), "{out}");
        assert!(api.contains(present::PARTIAL_SYMBOL), "{out}");
        assert!(
            api.contains("down in eu"),
            "the failing location is named: {out}"
        );
        let web = out.lines().find(|l| l.contains("web")).unwrap_or_default();
        assert!(web.contains("status 200"), "{out}");
        assert!(out.ends_with("1 up, 1 partial\n"), "{out}");
    }
}
