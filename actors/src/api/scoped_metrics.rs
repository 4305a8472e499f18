//! `/metrics` as one caller may see it (SPEC §12): a tenant's token gets the series of its own
//! hosts and notifiers only; a scrape without a token, when tenants are configured, gets the
//! platform's series and none of any tenant's; `server.token` gets everything.
//!
//! The exposition is filtered as text, series by series, on the `host` and `notifier` labels,
//! so every family added later is scoped the same way without being listed here. A family's
//! `# HELP` and `# TYPE` stay only when one of its series does.

/// Whose series a scrape gets.
pub enum MetricsScope<'a> {
    /// `server.token`, or no token configured at all.
    Everything,
    /// A tenant's token: series of labels `<tenant>/...` only.
    Tenant(&'a str),
    /// No token while tenants are configured: everything but the series of these tenants.
    Platform(&'a [std::sync::Arc<str>]),
}

impl MetricsScope<'_> {
    /// Whether a series whose `host` or `notifier` is `owner` (`None`: neither label, a
    /// process-wide series) is shown.
    fn shows(&self, owner: Option<&str>) -> bool {
        let of_tenant = |tenant: &str, label: &str| {
            label
                .strip_prefix(tenant)
                .is_some_and(|rest| rest.starts_with('/'))
        };
        match (self, owner) {
            (MetricsScope::Everything, _) => true,
            (MetricsScope::Tenant(tenant), Some(label)) => of_tenant(tenant, label),
            (MetricsScope::Tenant(_), None) => false,
            (MetricsScope::Platform(_), None) => true,
            (MetricsScope::Platform(tenants), Some(label)) => {
                !tenants.iter().any(|tenant| of_tenant(tenant, label))
            }
        }
    }
}

/// `exposition` (Prometheus text format) with only the series `scope` shows.
pub fn scoped(exposition: &str, scope: &MetricsScope) -> String {
    if matches!(scope, MetricsScope::Everything) {
        return exposition.to_string();
    }
    let mut out = String::with_capacity(exposition.len() / 2);
    // `# HELP`/`# TYPE` lines wait here until their family shows a series.
    let mut family_head = String::new();
    for line in exposition.lines() {
        if line.starts_with('#') {
            if line.starts_with("# HELP ") {
                family_head.clear();
            }
            family_head.push_str(line);
            family_head.push('\n');
            continue;
        }
        if line.trim().is_empty() || !scope.shows(owner(line).as_deref()) {
            continue;
        }
        out.push_str(&family_head);
        family_head.clear();
        out.push_str(line);
        out.push('\n');
    }
    if exposition.ends_with("# EOF\n") && !out.ends_with("# EOF\n") {
        out.push_str("# EOF\n");
    }
    out
}

/// The value of a sample's `host` (or else `notifier`) label, unescaped; `None` when it has
/// neither.
fn owner(sample: &str) -> Option<String> {
    let labels = sample.split_once('{')?.1;
    let mut rest = labels;
    let mut notifier = None;
    loop {
        let (name, after) = rest.split_once("=\"")?;
        let name = name.trim_start_matches([',', ' ']);
        // The value runs to the first `"` not escaped by a backslash.
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()? {
                    (_, 'n') => value.push('\n'),
                    (_, other) => value.push(other),
                },
                (at, '"') => break at,
                (_, other) => value.push(other),
            }
        };
        match name {
            "host" => return Some(value),
            "notifier" => notifier = Some(value),
            _ => {}
        }
        rest = &after[end + 1..];
        if rest.starts_with('}') || rest.is_empty() {
            return notifier;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const EXPOSITION: &str = "\
# HELP flowstate_host_up 1 when the host is up.
# TYPE flowstate_host_up gauge
flowstate_host_up{host=\"team-a/api\"} 1
flowstate_host_up{host=\"team-b/db\"} 0
flowstate_host_up{host=\"web\"} 1
# HELP flowstate_alerts_total Alerts.
# TYPE flowstate_alerts_total counter
flowstate_alerts_total{notifier=\"team-b/pager\",result=\"sent\"} 2
# HELP flowstate_check_duration_seconds Check time.
# TYPE flowstate_check_duration_seconds histogram
flowstate_check_duration_seconds_bucket{le=\"0.1\",host=\"team-a/api\"} 3
flowstate_host_up{host=\"odd \\\"team-b/x\\\" label\"} 1
# HELP flowstate_hosts Hosts.
# TYPE flowstate_hosts gauge
flowstate_hosts 4
# EOF
";

    #[test]
    fn a_tenant_gets_its_own_series_and_families_only() {
        let shown = scoped(EXPOSITION, &MetricsScope::Tenant("team-a"));
        assert_eq!(
            shown,
            "# HELP flowstate_host_up 1 when the host is up.\n\
             # TYPE flowstate_host_up gauge\n\
             flowstate_host_up{host=\"team-a/api\"} 1\n\
             # HELP flowstate_check_duration_seconds Check time.\n\
             # TYPE flowstate_check_duration_seconds histogram\n\
             flowstate_check_duration_seconds_bucket{le=\"0.1\",host=\"team-a/api\"} 3\n\
             # EOF\n"
        );
    }

    #[test]
    fn a_scrape_without_a_token_gets_no_tenants_series() {
        let tenants = [Arc::from("team-a"), Arc::from("team-b")];
        let shown = scoped(EXPOSITION, &MetricsScope::Platform(&tenants));
        assert!(!shown.contains("team-a/") && !shown.contains("team-b/pager"));
        assert!(shown.contains("flowstate_host_up{host=\"web\"} 1"));
        // An escaped quote inside a label is part of its value, not its end.
        assert!(shown.contains("odd \\\"team-b/x\\\" label"));
        assert!(shown.contains("flowstate_hosts 4"));
        assert_eq!(scoped(EXPOSITION, &MetricsScope::Everything), EXPOSITION);
    }
}
