//! What changed between two configurations, as plain data keyed by label (hosts) and by name
//! (notifiers, maintenance windows).
//!
//! The running system applies a [`ConfigDiff`] host by host: removed hosts stop, changed ones
//! restart with their new settings (keeping their state), added ones start, unchanged ones are
//! not touched. Order is deterministic: removed in the old file order, the rest in the new.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{Config, MaintenanceWindow, NotifierConfig};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    pub added: Vec<Arc<str>>,
    pub removed: Vec<Arc<str>>,
    pub changed: Vec<ChangedHost>,
    pub unchanged: Vec<Arc<str>>,
    pub notifiers: NamedDiff,
    /// Maintenance windows by name: a window whose hosts or times changed is `changed`.
    pub maintenance: NamedDiff,
    /// Settings that differ but cannot change while running (`server.listen`, `state.path`,
    /// `cluster.quorum`, ...; `cluster` when the section comes or goes).
    pub needs_restart: Vec<&'static str>,
}

/// A host present in both configurations whose effective settings differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedHost {
    pub label: Arc<str>,
    /// The keys whose values differ, in a fixed order (`url`, `interval`, ...).
    pub keys: Vec<&'static str>,
}

/// Named entries (notifiers, maintenance windows) added, removed, changed or unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedDiff {
    pub added: Vec<Arc<str>>,
    pub removed: Vec<Arc<str>>,
    pub changed: Vec<Arc<str>>,
    pub unchanged: Vec<Arc<str>>,
}

impl NamedDiff {
    /// Compares `old` and `new` entries by name, through each one's settings.
    fn between<T>(
        old: &[Arc<T>],
        new: &[Arc<T>],
        name: impl Fn(&T) -> &Arc<str>,
        settings: impl Fn(&T) -> Vec<(&'static str, String)>,
    ) -> NamedDiff {
        let find = |list: &[Arc<T>], wanted: &Arc<str>| {
            list.iter().find(|entry| name(entry) == wanted).cloned()
        };
        let mut diff = NamedDiff::default();
        for entry in old {
            if find(new, name(entry)).is_none() {
                diff.removed.push(name(entry).clone());
            }
        }
        for entry in new {
            let list = match find(old, name(entry)) {
                None => &mut diff.added,
                Some(before) if settings(&before) != settings(entry) => &mut diff.changed,
                Some(_) => &mut diff.unchanged,
            };
            list.push(name(entry).clone());
        }
        diff
    }

    /// Whether anything was added, removed or changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl ConfigDiff {
    pub fn between(old: &Config, new: &Config) -> ConfigDiff {
        let mut diff = ConfigDiff::default();
        for host in old.hosts() {
            if new.host(&host.label).is_none() {
                diff.removed.push(host.label.clone());
            }
        }
        for host in new.hosts() {
            match old.host(&host.label) {
                None => diff.added.push(host.label.clone()),
                Some(before) if before.same_settings(host) => {
                    diff.unchanged.push(host.label.clone());
                }
                Some(before) => {
                    let keys = changed_keys(&before.settings(), &host.settings());
                    if keys.is_empty() {
                        diff.unchanged.push(host.label.clone());
                    } else {
                        diff.changed.push(ChangedHost {
                            label: host.label.clone(),
                            keys,
                        });
                    }
                }
            }
        }
        diff.notifiers = NamedDiff::between(
            &old.notifiers,
            &new.notifiers,
            |n| &n.name,
            NotifierConfig::settings,
        );
        diff.maintenance = NamedDiff::between(
            &old.maintenance,
            &new.maintenance,
            |w| &w.name,
            MaintenanceWindow::settings,
        );
        if old.server.listen != new.server.listen {
            diff.needs_restart.push("server.listen");
        }
        if old.state.path != new.state.path {
            diff.needs_restart.push("state.path");
        }
        if old.state.url != new.state.url {
            diff.needs_restart.push("state.url");
        }
        if old.state.retention != new.state.retention {
            diff.needs_restart.push("state.retention");
        }
        if old.state.raw_retention != new.state.raw_retention {
            diff.needs_restart.push("state.raw_retention");
        }
        // Joining, leaving or reshaping a cluster changes what the agents agreed on (the
        // database, the leader's lease, who checks what): every key takes a restart.
        match (&old.cluster, &new.cluster) {
            (None, None) => {}
            (Some(old), Some(new)) => {
                let changes = [
                    ("cluster.url", old.url != new.url),
                    ("cluster.location", old.location != new.location),
                    ("cluster.quorum", old.quorum != new.quorum),
                    ("cluster.lease", old.lease != new.lease),
                    ("cluster.heartbeat", old.heartbeat != new.heartbeat),
                    ("cluster.agent_id", old.agent_id != new.agent_id),
                ];
                diff.needs_restart.extend(
                    changes
                        .into_iter()
                        .filter(|(_, changed)| *changed)
                        .map(|(key, _)| key),
                );
            }
            _ => diff.needs_restart.push("cluster"),
        }
        diff
    }

    /// Whether applying this diff would change anything about the hosts, notifiers or
    /// maintenance windows.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.notifiers.is_empty()
            && self.maintenance.is_empty()
    }
}

fn changed_keys(
    before: &[(&'static str, String)],
    after: &[(&'static str, String)],
) -> Vec<&'static str> {
    let before: HashMap<&str, &String> = before.iter().map(|(k, v)| (*k, v)).collect();
    after
        .iter()
        .filter(|(k, v)| before.get(k) != Some(&v))
        .map(|(k, _)| *k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        crate::load_str("test.yaml", yaml, &|_| None).unwrap()
    }

    const BASE: &str = r#"
notifiers:
  console: { type: stdout }
hosts:
  - { label: api, url: "http://127.0.0.1:1/health", interval: 10s }
  - { label: web, url: "http://127.0.0.1:2/" }
  - { label: db, url: "http://127.0.0.1:3/" }
"#;

    #[test]
    fn identical_configs_have_an_empty_diff() {
        let diff = ConfigDiff::between(&config(BASE), &config(BASE));
        assert!(diff.is_empty());
        let unchanged: Vec<&str> = diff.unchanged.iter().map(|l| &**l).collect();
        assert_eq!(unchanged, ["api", "web", "db"]);
        assert_eq!(diff.notifiers.unchanged.len(), 1);
        assert!(diff.needs_restart.is_empty());
    }

    #[test]
    fn added_removed_and_changed_hosts_are_told_apart() {
        let new = r#"
notifiers:
  console: { type: stdout }
hosts:
  - { label: new, url: "http://127.0.0.1:4/" }
  - { label: api, url: "http://127.0.0.1:1/health", interval: 20s, regex: ok }
  - { label: web, url: "http://127.0.0.1:2/" }
"#;
        let diff = ConfigDiff::between(&config(BASE), &config(new));
        assert_eq!(diff.added, vec![Arc::from("new")]);
        assert_eq!(diff.removed, vec![Arc::from("db")]);
        assert_eq!(
            diff.changed,
            vec![ChangedHost {
                label: Arc::from("api"),
                keys: vec!["regex", "interval"],
            }]
        );
        assert_eq!(diff.unchanged, vec![Arc::from("web")]);
    }

    #[test]
    fn a_host_moved_to_another_group_is_changed_and_a_bad_group_refused() {
        let grouped = BASE.replace(
            r#"{ label: web, url: "http://127.0.0.1:2/" }"#,
            r#"{ label: web, url: "http://127.0.0.1:2/", group: payments }"#,
        );
        let before = config(BASE);
        let after = config(&grouped);
        assert_eq!(
            after.host("web").and_then(|h| h.group.as_deref()),
            Some("payments")
        );
        assert_eq!(before.host("web").and_then(|h| h.group.as_deref()), None);
        let diff = ConfigDiff::between(&before, &after);
        assert_eq!(
            diff.changed,
            vec![ChangedHost {
                label: Arc::from("web"),
                keys: vec!["group"],
            }]
        );
        let bad = BASE.replace(
            r#"{ label: web, url: "http://127.0.0.1:2/" }"#,
            r#"{ label: web, url: "http://127.0.0.1:2/", group: " x" }"#,
        );
        let errors = crate::load_str("test.yaml", &bad, &|_| None).unwrap_err();
        assert!(
            format!("{errors:?}").contains("a group is a name"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_change_in_defaults_changes_the_hosts_that_inherit_it() {
        let new = format!("defaults: {{ failure_threshold: 5 }}\n{BASE}");
        let diff = ConfigDiff::between(&config(BASE), &config(&new));
        let changed: Vec<&str> = diff.changed.iter().map(|c| &*c.label).collect();
        assert_eq!(changed, ["api", "web", "db"]);
        assert!(diff.changed.iter().all(|c| c.keys == ["failure_threshold"]));
    }

    #[test]
    fn a_header_value_change_is_a_change_even_when_redacted() {
        let a = "hosts:\n  - { label: a, url: 'http://x/', headers: { Authorization: one } }\n";
        let b = "hosts:\n  - { label: a, url: 'http://x/', headers: { Authorization: two } }\n";
        let diff = ConfigDiff::between(&config(a), &config(b));
        assert_eq!(diff.changed[0].keys, vec!["headers"]);
    }

    #[test]
    fn moving_a_host_within_the_file_is_not_a_change() {
        let moved = r#"
notifiers:
  console: { type: stdout }
hosts:
  - { label: db, url: "http://127.0.0.1:3/" }
  - { label: api, url: "http://127.0.0.1:1/health", interval: 10s }
  - { label: web, url: "http://127.0.0.1:2/" }
"#;
        assert!(ConfigDiff::between(&config(BASE), &config(moved)).is_empty());
    }

    #[test]
    fn notifier_changes_and_restart_only_settings_are_reported() {
        let new = r#"
server: { listen: "127.0.0.1:9999" }
notifiers:
  console: { type: stdout, format: json }
  audit: { type: file, path: /tmp/a.jsonl }
hosts:
  - { label: api, url: "http://127.0.0.1:1/health", interval: 10s }
"#;
        let diff = ConfigDiff::between(&config(BASE), &config(new));
        assert_eq!(diff.notifiers.changed, vec![Arc::from("console")]);
        assert_eq!(diff.notifiers.added, vec![Arc::from("audit")]);
        assert_eq!(diff.needs_restart, vec!["server.listen"]);
    }

    #[test]
    fn cluster_changes_take_a_restart_key_by_key() {
        let cluster = |lines: &str| {
            format!("cluster:\n  url: postgres://f:p@db/f\n  location: eu\n{lines}{BASE}")
        };
        let diff = ConfigDiff::between(&config(BASE), &config(&cluster("")));
        assert_eq!(diff.needs_restart, vec!["cluster"]);
        let diff = ConfigDiff::between(&config(&cluster("")), &config(BASE));
        assert_eq!(diff.needs_restart, vec!["cluster"]);
        let diff = ConfigDiff::between(
            &config(&cluster("")),
            &config(&cluster("  lease: 20s\n  agent_id: a-1\n")),
        );
        assert_eq!(
            diff.needs_restart,
            vec!["cluster.lease", "cluster.agent_id"]
        );
        assert!(diff.is_empty(), "no host changed");
        let same = ConfigDiff::between(&config(&cluster("")), &config(&cluster("")));
        assert!(same.needs_restart.is_empty());
    }

    #[test]
    fn maintenance_windows_are_compared_by_name() {
        let before = format!(
            "{BASE}maintenance:
  - {{ name: nightly, hosts: [db], schedule: \"0 3 * * *\", duration: 1h }}
  - {{ name: weekly, schedule: \"0 3 * * SUN\", duration: 2h, timezone: Europe/Berlin }}
  - {{ name: gone, start: 2026-05-01T22:00:00Z, end: 2026-05-02T02:00:00Z }}
"
        );
        let after = format!(
            "{BASE}maintenance:
  - {{ name: nightly, hosts: [\"d*\"], schedule: \"0 3 * * *\", duration: 1h }}
  - {{ name: weekly, schedule: \"0 3 * * SUN\", duration: 2h, timezone: Europe/Berlin }}
  - {{ name: new, start: 2026-06-01T22:00:00Z, end: 2026-06-02T02:00:00Z }}
"
        );
        let diff = ConfigDiff::between(&config(&before), &config(&after));
        assert_eq!(diff.maintenance.added, vec![Arc::from("new")]);
        assert_eq!(diff.maintenance.removed, vec![Arc::from("gone")]);
        assert_eq!(diff.maintenance.changed, vec![Arc::from("nightly")]);
        assert_eq!(diff.maintenance.unchanged, vec![Arc::from("weekly")]);
        assert!(!diff.is_empty(), "a window change is a change to apply");
        assert!(
            diff.changed.is_empty(),
            "hosts are not touched by a window change"
        );
        assert!(ConfigDiff::between(&config(&after), &config(&after)).is_empty());
    }

    #[test]
    fn an_http_host_whose_dependencies_or_publicity_change_is_changed() {
        let edited = BASE.replace(
            r#"{ label: web, url: "http://127.0.0.1:2/" }"#,
            r#"{ label: web, url: "http://127.0.0.1:2/", public: true, depends_on: [db] }"#,
        );
        let diff = ConfigDiff::between(&config(BASE), &config(&edited));
        assert_eq!(
            diff.changed,
            vec![ChangedHost {
                label: Arc::from("web"),
                keys: vec!["public", "depends_on"],
            }]
        );
    }
}
