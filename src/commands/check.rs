//! `flowstate check`: validate the configuration and show what was understood.
//!
//! Everything printed goes through the config crate's redaction: a token, a password or a
//! webhook's secret path never appears.

use std::fmt::Write as _;
use std::process::ExitCode;

use std::collections::BTreeMap;

use flowstate_config::host::Secrets;
use flowstate_config::{Config, ConfigError, FingerprintKey, NotifierKind};
use serde::Deserialize;

use super::{exit, load_config, BadInput};
use crate::api_client::ApiClient;
use crate::cli::CheckArgs;
use crate::output;
use crate::present;
use crate::table::Table;

pub fn run(args: &CheckArgs) -> Result<ExitCode, BadInput> {
    let config = load_config(&args.config)?;
    let problems = super::plugin_settings::problems(&config);
    if !problems.is_empty() {
        return Err(ConfigError {
            diagnostics: problems,
        }
        .into());
    }
    // Whatever the per-setting redaction missed, no value from the environment is printed.
    let redact = |text: String| config.env_values.redact(&text);
    output::print(&redact(summary(&config)))?;
    if args.diff {
        let client = ApiClient::new(&args.api.api, args.api.token.clone());
        let running: RunningConfig = client
            .get("/api/v1/config")
            .map_err(|e| BadInput(e.to_string()))?;
        let key = FingerprintKey::from_hex(&running.key).ok_or_else(|| {
            BadInput(format!(
                "the daemon at {} sent no usable fingerprint key; is it a flowstate of this version?",
                client.base()
            ))
        })?;
        output::print(&redact(render_diff(&config, &running, &key, client.base())))?;
    }
    Ok(exit::success())
}

/// What `GET /api/v1/config` answers: fingerprints of each running host's settings, under
/// the daemon's key, with or without secret values.
#[derive(Deserialize)]
struct RunningConfig {
    key: String,
    secrets: String,
    hosts: Vec<RunningHost>,
    /// Absent from a daemon that predates maintenance windows: then none run.
    #[serde(default)]
    maintenance: Vec<RunningWindow>,
}

#[derive(Deserialize)]
struct RunningWindow {
    name: String,
    settings: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RunningHost {
    label: String,
    settings: BTreeMap<String, String>,
}

/// Added, removed and changed hosts (with the keys that changed), as a reload would apply
/// them. Compares fingerprints under the daemon's key, so no value crosses the wire; secret
/// values only when the daemon fingerprinted them (it has a token, which we presented).
fn render_diff(
    config: &Config,
    running: &RunningConfig,
    key: &FingerprintKey,
    api: &str,
) -> String {
    let secrets = if running.secrets == "compared" {
        Secrets::Compared
    } else {
        Secrets::Hidden
    };
    let mut out = format!("\nreloading would change, on the daemon at {api}:\n");
    let running_labels: BTreeMap<&str, &RunningHost> = running
        .hosts
        .iter()
        .map(|h| (h.label.as_str(), h))
        .collect();
    let mut unchanged = 0;
    let mut changes = 0;
    for host in config.hosts() {
        match running_labels.get(&*host.label) {
            None => {
                changes += 1;
                let _ = writeln!(
                    out,
                    "  + added     {} ({} {})",
                    host.label,
                    host.check.kind(),
                    host.check.target()
                );
            }
            Some(before) => {
                let keys: Vec<&str> = host
                    .fingerprints(key, secrets)
                    .into_iter()
                    .filter(|(key, fp)| before.settings.get(*key) != Some(fp))
                    .map(|(key, _)| key)
                    .collect();
                if keys.is_empty() {
                    unchanged += 1;
                } else {
                    changes += 1;
                    let _ = writeln!(out, "  ~ changed   {}: {}", host.label, keys.join(", "));
                }
            }
        }
    }
    for host in &running.hosts {
        if config.host(&host.label).is_none() {
            changes += 1;
            let _ = writeln!(out, "  - removed   {}", host.label);
        }
    }
    let running_windows: BTreeMap<&str, &RunningWindow> = running
        .maintenance
        .iter()
        .map(|w| (w.name.as_str(), w))
        .collect();
    for window in &config.maintenance {
        match running_windows.get(&*window.name) {
            None => {
                changes += 1;
                let _ = writeln!(out, "  + added     maintenance {}", window.name);
            }
            Some(before) => {
                let keys: Vec<&str> = window
                    .fingerprints(key)
                    .into_iter()
                    .filter(|(key, fp)| before.settings.get(*key) != Some(fp))
                    .map(|(key, _)| key)
                    .collect();
                if !keys.is_empty() {
                    changes += 1;
                    let _ = writeln!(
                        out,
                        "  ~ changed   maintenance {}: {}",
                        window.name,
                        keys.join(", ")
                    );
                }
            }
        }
    }
    for window in &running.maintenance {
        if !config.maintenance.iter().any(|w| *w.name == *window.name) {
            changes += 1;
            let _ = writeln!(out, "  - removed   maintenance {}", window.name);
        }
    }
    if changes == 0 {
        let _ = writeln!(out, "  nothing: the daemon runs exactly this configuration");
    }
    let _ = writeln!(out, "  = {unchanged} unchanged");
    if secrets == Secrets::Hidden {
        let _ = writeln!(
            out,
            "  secret values were not compared: the daemon has no server.token, so it shows \
             no fingerprint of them (set one to compare them too)"
        );
    }
    out
}

/// What shapes each host's alerts beyond its thresholds (group, public, `depends_on`,
/// flapping), one line per host that has any, then the maintenance windows.
fn alerting_relations(config: &Config) -> String {
    let mut out = String::new();
    let mut lines = Vec::new();
    for host in config.hosts() {
        let mut notes = Vec::new();
        if let Some(group) = &host.group {
            notes.push(format!("group {group}"));
        }
        if host.public {
            notes.push("public".to_string());
        }
        if !host.depends_on.is_empty() {
            let parents: Vec<String> = host.depends_on.iter().map(ToString::to_string).collect();
            notes.push(format!("depends on {}", parents.join(", ")));
        }
        if let Some(flapping) = &host.flapping {
            notes.push(format!("flapping {flapping}"));
        }
        if !notes.is_empty() {
            lines.push(format!("  {}: {}", host.label, notes.join("; ")));
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(out, "\nhost relations:");
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    }
    if !config.maintenance.is_empty() {
        let _ = writeln!(out, "\nmaintenance:");
        for window in &config.maintenance {
            let settings: Vec<String> = window
                .settings()
                .into_iter()
                .map(|(key, value)| match (key, value.is_empty()) {
                    ("hosts", true) => "every host".to_string(),
                    (key, _) => format!("{key} {value}"),
                })
                .collect();
            let _ = writeln!(out, "  {}: {}", window.name, settings.join(", "));
        }
    }
    out
}

fn duration(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// What a check is aimed at, with the settings that change how it is made (secrets shown as
/// `***`): `https://api/health (bearer ***, CA certs/ca.pem, HTTP/2)`.
fn target_with_notes(check: &flowstate_config::Check) -> String {
    use flowstate_config::{Check, HttpAuth, HttpVersion};
    let mut notes = Vec::new();
    let tls_notes = |tls: &flowstate_config::TlsSettings, notes: &mut Vec<String>| {
        if let Some(ca) = &tls.ca_file {
            notes.push(format!("CA {}", ca.display()));
        }
        if tls.insecure {
            notes.push("any certificate accepted".to_string());
        }
        if tls.expiry_warning != flowstate_config::TlsSettings::DEFAULT_EXPIRY_WARNING {
            notes.push(format!("expiry warning {}", duration(tls.expiry_warning)));
        }
    };
    match check {
        Check::Http(http) => {
            match &http.auth {
                Some(HttpAuth::Basic { username, .. }) => {
                    notes.push(format!("basic auth {username}:***"))
                }
                Some(HttpAuth::Bearer(_)) => notes.push("bearer ***".to_string()),
                None => {}
            }
            tls_notes(&http.tls, &mut notes);
            match http.http_version {
                HttpVersion::Two => notes.push("HTTP/2".to_string()),
                HttpVersion::One => notes.push("HTTP/1.1".to_string()),
                HttpVersion::Three => notes.push("HTTP/3".to_string()),
                HttpVersion::AltSvc => notes.push("HTTP/3 by Alt-Svc".to_string()),
                HttpVersion::Auto => {}
            }
            if http.keepalive {
                notes.push("keepalive".to_string());
            }
        }
        Check::Tcp(tcp) => {
            if tcp.send.is_some() {
                notes.push("send".to_string());
            }
            if let Some(expect) = &tcp.expect {
                notes.push(format!("expect /{}/", expect.as_str()));
            }
        }
        Check::Dns(dns) => {
            if let Some(resolver) = dns.resolver {
                notes.push(format!("via {resolver}"));
            }
            if !dns.expect.is_empty() {
                notes.push(format!("expect {}", dns.expect.join(", ")));
            }
        }
        Check::Icmp(icmp) => {
            notes.push(format!("{} pings, max loss {}%", icmp.count, icmp.max_loss));
        }
        Check::Script(script) => {
            if script.argv.len() > 1 {
                notes.push(present::count((script.argv.len() - 1) as u64, "argument"));
            }
        }
        Check::Plugin(plugin) => {
            let settings = plugin.shown_settings();
            if !settings.is_empty() {
                notes.push(format!("settings {settings}"));
            }
        }
        Check::Grpc(grpc) => {
            if let Some(tls) = &grpc.tls {
                notes.push("TLS".to_string());
                tls_notes(tls, &mut notes);
            }
        }
    }
    if notes.is_empty() {
        check.target()
    } else {
        format!("{} ({})", check.target(), notes.join(", "))
    }
}

/// The human summary of a valid configuration.
/// The `tenants` section: each tenant's file, how many hosts it has and its notifiers (as
/// named in the merged configuration), and its limits. Empty without tenants.
fn tenants(config: &Config) -> String {
    if config.tenants.is_empty() {
        return String::new();
    }
    let mut table = Table::new(&["NAME", "FILE", "HOSTS", "NOTIFIERS", "LIMITS"]);
    for tenant in &config.tenants {
        let mine = |owner: &Option<std::sync::Arc<str>>| owner.as_deref() == Some(&*tenant.name);
        let hosts = config.hosts().iter().filter(|h| mine(&h.tenant)).count();
        let notifiers: Vec<&str> = config
            .notifiers
            .iter()
            .filter(|n| mine(&n.tenant))
            .map(|n| &*n.name)
            .collect();
        let limits = &tenant.limits;
        let mut shown_limits = Vec::new();
        if let Some(hosts) = limits.hosts {
            shown_limits.push(format!("{hosts} hosts"));
        }
        if let Some(notifiers) = limits.notifiers {
            shown_limits.push(format!("{notifiers} notifiers"));
        }
        if let Some(interval) = limits.min_interval {
            shown_limits.push(format!("interval at least {}", duration(interval)));
        }
        if tenant.programs {
            shown_limits.push("may run programs".to_string());
        }
        table.row(
            [
                tenant.name.to_string(),
                tenant.config.display().to_string(),
                hosts.to_string(),
                match notifiers.is_empty() {
                    true => "(none)".to_string(),
                    false => notifiers.join(", "),
                },
                match shown_limits.is_empty() {
                    true => "(none)".to_string(),
                    false => shown_limits.join(", "),
                },
            ]
            .iter()
            .map(|cell| config.env_values.redact(cell))
            .collect(),
        );
    }
    format!("\ntenants:\n{}", table.render("  "))
}

pub fn summary(config: &Config) -> String {
    let mut out = String::new();
    let files: Vec<String> = config
        .sources
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let _ = writeln!(
        out,
        "configuration ok: {}, {} from {}",
        present::count(config.hosts().len() as u64, "host"),
        present::count(config.notifiers.len() as u64, "notifier"),
        files.join(", ")
    );

    // Cells are redacted before the table measures them, so columns stay aligned.
    let shown = |cells: Vec<String>| -> Vec<String> {
        cells
            .iter()
            .map(|cell| config.env_values.redact(cell))
            .collect()
    };
    let _ = writeln!(out, "\nhosts:");
    let mut hosts = Table::new(&[
        "LABEL",
        "TYPE",
        "TARGET",
        "INTERVAL",
        "TIMEOUT",
        "THRESHOLDS",
        "ALERTS",
    ]);
    for host in config.hosts() {
        let alerts: Vec<&str> = host.alerts.iter().map(|a| &**a).collect();
        hosts.row(shown(vec![
            host.label.to_string(),
            host.check.kind().to_string(),
            target_with_notes(&host.check),
            duration(host.interval),
            duration(host.timeout),
            format!(
                "down after {}, up after {}",
                host.failure_threshold, host.success_threshold
            ),
            if alerts.is_empty() {
                "(log only)".to_string()
            } else {
                alerts.join(", ")
            },
        ]));
    }
    out.push_str(&hosts.render("  "));
    out.push_str(&alerting_relations(config));

    let _ = writeln!(out, "\nnotifiers:");
    if config.notifiers.is_empty() {
        let _ = writeln!(out, "  (none: state changes are only logged)");
    }
    let mut notifiers = Table::new(&["NAME", "TYPE", "TARGET", "DELIVERY"]);
    for n in &config.notifiers {
        let mut delivery = Vec::new();
        if let Some(c) = n.cooldown {
            delivery.push(format!("cooldown {}", duration(c)));
        }
        if let Some(r) = n.remind_every {
            delivery.push(format!("remind every {}", duration(r)));
        }
        if !n.send_resolved {
            delivery.push("no recovery events".to_string());
        }
        if n.retry != flowstate_config::RetryPolicy::default() {
            delivery.push(format!(
                "retry every {}..{} for {}",
                duration(n.retry.backoff),
                duration(n.retry.max_backoff),
                duration(n.retry.max_age)
            ));
        }
        if n.is_grouped() {
            let keys: Vec<&str> = n.group_by.iter().map(|k| k.name()).collect();
            delivery.push(format!(
                "grouped by {} within {}",
                keys.join(", "),
                duration(n.group_wait)
            ));
        }
        if let NotifierKind::Webhook(hook) = &n.kind {
            delivery.push(format!("timeout {}", duration(hook.timeout)));
            for h in &hook.headers {
                delivery.push(format!("{}: {}", h.name, h.shown_value()));
            }
        }
        if let NotifierKind::Alertmanager(am) = &n.kind {
            delivery.push(format!("timeout {}", duration(am.timeout)));
            delivery.push(format!("re-posted every {}", duration(am.resend_every)));
            for h in &am.headers {
                delivery.push(format!("{}: {}", h.name, h.shown_value()));
            }
        }
        if let NotifierKind::Email(email) = &n.kind {
            delivery.push(format!("timeout {}", duration(email.timeout)));
            // The user, never the password: who the server is asked to let in.
            if let Some(user) = &email.username {
                delivery.push(format!("login {user}"));
            }
            if let Some(ca) = &email.ca_file {
                delivery.push(format!("CA {}", ca.display()));
            }
            if email.insecure {
                delivery.push("any certificate accepted".to_string());
            }
            if email.subject != flowstate_config::notifier::EmailConfig::DEFAULT_SUBJECT {
                delivery.push(format!("subject {:?}", email.subject));
            }
        }
        notifiers.row(shown(vec![
            n.name.to_string(),
            n.kind.kind().to_string(),
            n.kind.target(),
            delivery.join(", "),
        ]));
    }
    if !config.notifiers.is_empty() {
        out.push_str(&notifiers.render("  "));
    }
    out.push_str(&tenants(config));

    let d = &config.defaults;
    let alerts: Vec<&str> = d.alerts.iter().map(|a| &**a).collect();
    let _ = writeln!(out, "\ndefaults:");
    let _ = writeln!(
        out,
        "  interval {}, timeout {}, failure_threshold {}, success_threshold {}",
        duration(d.interval),
        duration(d.timeout),
        d.failure_threshold,
        d.success_threshold
    );
    if let Some(m) = d.max_response_time {
        let _ = writeln!(out, "  max_response_time {}", duration(m));
    }
    let _ = writeln!(
        out,
        "  follow_redirects {} (at most {})",
        d.follow_redirects, d.max_redirects
    );
    let _ = writeln!(
        out,
        "  alerts {}",
        if alerts.is_empty() {
            "(none)".to_string()
        } else {
            alerts.join(", ")
        }
    );
    for h in &d.headers {
        let _ = writeln!(out, "  header {}: {}", h.name, h.shown_value());
    }

    let _ = writeln!(out, "\nserver:");
    match config.server.listen {
        Some(addr) => {
            let _ = writeln!(
                out,
                "  listen {addr}{}",
                if config.server.token.is_some() {
                    ", token ***"
                } else {
                    ""
                }
            );
        }
        None => {
            let _ = writeln!(out, "  disabled");
        }
    }
    if let Some(ping) = &config.self_check {
        let _ = writeln!(
            out,
            "\nself_check:\n  {} every {} (timeout {})",
            flowstate_config::secret::redact_url_path(&ping.url),
            duration(ping.every),
            duration(ping.timeout)
        );
    }
    let _ = writeln!(out, "\nstate:");
    match &config.state.path {
        Some(p) => {
            let _ = writeln!(out, "  {} (history {})", p.display(), config.state.history);
        }
        None => {
            let _ = writeln!(out, "  in memory only (history {})", config.state.history);
        }
    }
    out
}
