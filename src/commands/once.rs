//! `flowstate once`: run every check once, concurrently, print the results and exit.
//!
//! Uses the same probe and the same timeout handling as the daemon, on an actix system of its
//! own. Exit 0 when every selected host is up, 1 when any is not, 2 on bad input.

use std::process::ExitCode;
use std::sync::Arc;

use flowstate_actors::model::{CheckResult, Status};
use flowstate_actors::probe::{run_check, CheckContext, Probes};
use flowstate_config::error::did_you_mean;
use flowstate_config::{Config, HostConfiguration, PluginConfig};
use futures_util::StreamExt;
use serde::Serialize;

use super::{exit, load_config, BadInput};
use crate::cli::OnceArgs;
use crate::output;
use crate::table::Table;

/// Checks in flight at once: enough for thousands of hosts in a few rounds, few enough to
/// stay far below the open-files limit.
const MAX_CONCURRENT_CHECKS: usize = 256;

/// One line of `--json` output.
#[derive(Serialize)]
struct OnceResult<'a> {
    label: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    status: Status,
    ok: bool,
    latency_ms: f64,
    /// Redacted: a reason may quote an address or name that came from `${VAR}`.
    detail: String,
}

pub fn run(args: &OnceArgs) -> Result<ExitCode, BadInput> {
    let config = load_config(&args.config)?;
    let hosts = select_hosts(&config, &args.hosts)?;
    let results = check_all(&hosts, &config.plugins);

    let rows: Vec<OnceResult> = hosts
        .iter()
        .zip(&results)
        .map(|(host, result)| OnceResult {
            label: &host.label,
            kind: host.check.kind(),
            status: result.status_for(host),
            ok: result.ok,
            latency_ms: result.latency_ms(),
            detail: config.env_values.redact(&result.detail),
        })
        .collect();
    if args.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| BadInput(e.to_string()))?;
        output::print_line(&text)?;
    } else {
        let mut table = Table::new(&["LABEL", "STATUS", "LATENCY", "DETAIL"]);
        for row in &rows {
            table.row(vec![
                row.label.to_string(),
                row.status.to_string(),
                format!("{:.1} ms", row.latency_ms),
                row.detail.to_string(),
            ]);
        }
        output::print(&table.render(""))?;
    }
    let all_up = rows.iter().all(|r| r.status == Status::Up);
    Ok(if all_up {
        exit::success()
    } else {
        exit::not_all_up()
    })
}

/// The hosts named by `--host`, in config order, or all of them.
fn select_hosts(
    config: &Config,
    labels: &[String],
) -> Result<Vec<Arc<HostConfiguration>>, BadInput> {
    if labels.is_empty() {
        return Ok(config.hosts().to_vec());
    }
    let mut unknown = Vec::new();
    for label in labels {
        if config.host(label).is_none() {
            let known = config.hosts().iter().map(|h| &*h.label);
            unknown.push(format!(
                "--host {label}: no host has this label{}",
                did_you_mean(label, known)
            ));
        }
    }
    if !unknown.is_empty() {
        return Err(BadInput(unknown.join("\n")));
    }
    Ok(config
        .hosts()
        .iter()
        .filter(|h| labels.iter().any(|l| **l == *h.label))
        .cloned()
        .collect())
}

fn check_all(hosts: &[Arc<HostConfiguration>], plugins: &[Arc<PluginConfig>]) -> Vec<CheckResult> {
    actix_rt::System::new().block_on(async {
        // Plugins start first: their hosts' checks wait for the handshake (within the timeout).
        flowstate_actors::plugin::apply(plugins);
        let probes = Probes::new();
        let results = futures_util::stream::iter(hosts)
            .map(|host| run_check(&probes, host, CheckContext::untraced()))
            .buffered(MAX_CONCURRENT_CHECKS)
            .collect()
            .await;
        flowstate_actors::plugin::end_all();
        results
    })
}
