//! The `tenant` label (SPEC §12: "metrics carry a `tenant` label"), and the exposition of one
//! tenant's series alone.
//!
//! A series of a tenant's host or notifier carries `tenant="<name>"`; the platform's own carry
//! no `tenant` label at all (PromQL's `{tenant=""}` selects them), so configurations without
//! tenants expose exactly what they did before.
//!
//! Which tenant a host or notifier belongs to is recorded when its series are created (from
//! its configuration) and looked up by label afterwards: the many calls that update a series
//! by label need not carry it, and a series is removed under the label set it was created
//! with even when its tenant left the configuration in the same reload.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};

/// `tenant="<name>"`, or no label at all for the platform's own series. Flattened into the
/// label sets of per-host and per-notifier series.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
pub(super) struct TenantLabel(pub(super) Option<String>);

impl TenantLabel {
    pub(super) fn of(tenant: &str) -> Self {
        TenantLabel(Some(tenant.to_string()))
    }
}

impl EncodeLabelSet for TenantLabel {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        let Some(tenant) = &self.0 else {
            return Ok(());
        };
        // As the derive writes a field: the key, then the value (escaped by the encoder).
        use prometheus_client::encoding::{EncodeLabelKey, EncodeLabelValue};
        let mut label = encoder.encode_label();
        let mut key = label.encode_label_key()?;
        EncodeLabelKey::encode(&"tenant", &mut key)?;
        let mut value = key.encode_label_value()?;
        EncodeLabelValue::encode(&tenant.as_str(), &mut value)?;
        value.finish()
    }
}

/// The tenant of each host or notifier that has series, by label or name.
#[derive(Default)]
pub(super) struct Owners(Mutex<HashMap<String, TenantLabel>>);

impl Owners {
    /// Records `name`'s tenant (`None`: the platform's) and gives its label.
    pub(super) fn record(&self, name: &str, tenant: Option<&str>) -> TenantLabel {
        let label = TenantLabel(tenant.map(str::to_string));
        self.lock().insert(name.to_string(), label.clone());
        label
    }

    /// `name`'s tenant as recorded; the platform's when nothing was (no series of it exist).
    pub(super) fn of(&self, name: &str) -> TenantLabel {
        self.lock().get(name).cloned().unwrap_or_default()
    }

    /// Forgets `name`, giving the tenant it had.
    pub(super) fn forget(&self, name: &str) -> TenantLabel {
        self.lock().remove(name).unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TenantLabel>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whose series a rendering of `/metrics` has (SPEC §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsScope<'a> {
    /// Every series: `server.token`, or no token configured at all.
    Everything,
    /// One tenant's series (`tenant="<name>"`): that tenant's token.
    Tenant(&'a str),
    /// The series without a `tenant` label: a scrape without a token while tenants are
    /// configured gets the platform's own and nothing of any tenant's.
    Platform,
}

/// Of the Prometheus text `exposition`, the samples `scope` has and the `# HELP`/`# TYPE`
/// lines of the families that have any.
///
/// Matching the text is exact: tenant names are letters, digits, `-` and `_` (no escaping),
/// and in a label value every `"` is written `\"`, so `tenant="` right after `{` or `,` can
/// only be the label itself, never part of another label's value.
pub(super) fn scoped(exposition: &str, scope: MetricsScope) -> String {
    if scope == MetricsScope::Everything {
        return exposition.to_string();
    }
    let mut out = String::new();
    // The HELP and TYPE lines of the current family, written before its first kept sample.
    let mut header = String::new();
    for line in exposition.lines() {
        if line.starts_with('#') {
            if line.starts_with("# HELP ") {
                header.clear();
            }
            header.push_str(line);
            header.push('\n');
            continue;
        }
        let tenant = labels_of(line).and_then(tenant_of);
        let kept = match scope {
            MetricsScope::Everything => true,
            MetricsScope::Tenant(wanted) => tenant == Some(wanted),
            MetricsScope::Platform => tenant.is_none(),
        };
        if !kept || line.trim().is_empty() {
            continue;
        }
        out.push_str(&header);
        header.clear();
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The text between a sample's `{` and its closing `}`. A label value may hold `}` (only `\`,
/// `"` and newlines are escaped), and the sample's value after the labels never does, so the
/// end is the line's last `}`.
fn labels_of(sample: &str) -> Option<&str> {
    let open = sample.find('{')?;
    let close = sample.rfind('}')?;
    (close > open).then(|| &sample[open + 1..close])
}

/// The value of the `tenant` label among a sample's `labels`, if it has one.
fn tenant_of(labels: &str) -> Option<&str> {
    const KEY: &str = "tenant=\"";
    labels.match_indices(KEY).find_map(|(at, _)| {
        if at != 0 && !labels[..at].ends_with(',') {
            return None;
        }
        let value = &labels[at + KEY.len()..];
        value.find('"').map(|end| &value[..end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tenants_samples_and_their_families_are_kept() {
        let text = "# HELP up Up.\n# TYPE up gauge\nup{host=\"gw\"} 1\nup{host=\"team-a/api\",tenant=\"team-a\"} 0\n# HELP other Other.\n# TYPE other gauge\nother{host=\"gw\"} 1\n# HELP r_total R.\n# TYPE r_total counter\nr_total{tenant=\"team-a-2\",result=\"x\"} 1\nr_total{tenant=\"team-a\",result=\"x\"} 2\nr_total{label=\"a,tenant=\\\"team-a\\\"\"} 3\n";
        assert_eq!(
            scoped(text, MetricsScope::Tenant("team-a")),
            "# HELP up Up.\n# TYPE up gauge\nup{host=\"team-a/api\",tenant=\"team-a\"} 0\n# HELP r_total R.\n# TYPE r_total counter\nr_total{tenant=\"team-a\",result=\"x\"} 2\n"
        );
        assert_eq!(scoped(text, MetricsScope::Tenant("nobody")), "");
        assert_eq!(
            scoped(text, MetricsScope::Platform),
            "# HELP up Up.\n# TYPE up gauge\nup{host=\"gw\"} 1\n# HELP other Other.\n# TYPE other gauge\nother{host=\"gw\"} 1\n# HELP r_total R.\n# TYPE r_total counter\nr_total{label=\"a,tenant=\\\"team-a\\\"\"} 3\n"
        );
        assert_eq!(scoped(text, MetricsScope::Everything), text);
    }
}
