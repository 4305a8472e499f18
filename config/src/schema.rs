//! Every key the configuration accepts, section by section: what the reference documentation
//! must describe.
//!
//! Built from the very lists validation checks keys against (`validate.rs`, `read_check.rs`),
//! never from a copy, so a key added there is listed here at once, and the documentation test
//! (`tests/docs.rs`) fails until `docs/configuration.md` describes it.

use crate::cluster::CLUSTER_KEYS;
use crate::flapping::FLAPPING_KEYS;
use crate::plugin::PLUGIN_KEYS;
use crate::read_check::{host_keys, AUTH_KEYS, BASIC_KEYS, CHECK_TYPES, COMMON_KEYS, TLS_KEYS};
use crate::read_maintenance::MAINTENANCE_KEYS;
use crate::telemetry::{OTLP_KEYS, TELEMETRY_KEYS};
use crate::tenant::{LIMIT_KEYS, TENANT_KEYS, TOKEN_KEYS};
use crate::validate::{
    ALERTMANAGER_KEYS, COMMAND_KEYS, DEFAULT_KEYS, EMAIL_KEYS, FILE_KEYS, NOTIFIER_COMMON_KEYS,
    NOTIFIER_TYPES, PLUGIN_HOST_KEYS, PLUGIN_NOTIFIER_KEYS, SELF_CHECK_KEYS, SERVER_KEYS,
    STATE_KEYS, STDOUT_KEYS, TOP_KEYS, WEBHOOK_KEYS,
};

/// Every accepted key with the section it belongs to, in documentation order.
///
/// Sections are named as `docs/configuration.md` titles them (backticks aside):
/// `top level`, `server`, `state`, `self_check`, `defaults`, `notifiers` (keys of every
/// notifier), `notifiers (type: webhook)` (one type's own keys), `hosts` (keys of every host),
/// `hosts (type: dns)` (one check type's own keys), `tls` and `auth` (the blocks inside a host),
/// `flapping` (the block of `defaults` and hosts),
/// `maintenance` (keys of each window), `cluster`, `plugins` (keys of each plugin), and
/// `hosts (plugin types)` and `notifiers (plugin types)` (the keys of a plugin's type),
/// `tenants` (keys of each tenant), `tenants tokens` (a token written as a mapping) and
/// `tenants limits`, and `telemetry` and `telemetry otlp`.
pub fn documented_keys() -> Vec<(String, &'static str)> {
    let mut keys = Vec::new();
    let mut section = |name: &str, list: &[&'static str]| {
        keys.extend(list.iter().map(|key| (name.to_string(), *key)));
    };
    section("top level", TOP_KEYS);
    section("server", SERVER_KEYS);
    section("state", STATE_KEYS);
    section("self_check", SELF_CHECK_KEYS);
    section("defaults", DEFAULT_KEYS);
    section("notifiers", NOTIFIER_COMMON_KEYS);
    for kind in NOTIFIER_TYPES {
        section(
            &format!("notifiers (type: {kind})"),
            notifier_type_keys(kind),
        );
    }
    section("hosts", COMMON_KEYS);
    for kind in CHECK_TYPES {
        // The same function validation uses for a host of this type, minus the shared keys.
        let own: Vec<&'static str> = host_keys(kind)
            .into_iter()
            .filter(|key| !COMMON_KEYS.contains(key))
            .collect();
        section(&format!("hosts (type: {kind})"), &own);
    }
    section("tls", TLS_KEYS);
    section("auth", AUTH_KEYS);
    section("auth", BASIC_KEYS);
    section("flapping", FLAPPING_KEYS);
    section("maintenance", MAINTENANCE_KEYS);
    section("cluster", CLUSTER_KEYS);
    section("plugins", PLUGIN_KEYS);
    section("hosts (plugin types)", PLUGIN_HOST_KEYS);
    section("notifiers (plugin types)", PLUGIN_NOTIFIER_KEYS);
    section("tenants", TENANT_KEYS);
    section("tenants tokens", TOKEN_KEYS);
    section("tenants limits", LIMIT_KEYS);
    section("telemetry", TELEMETRY_KEYS);
    section("telemetry otlp", OTLP_KEYS);
    keys
}

/// A notifier type's own keys, as `validate::read_notifier` accepts them.
pub(crate) fn notifier_type_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "stdout" => STDOUT_KEYS,
        "file" => FILE_KEYS,
        "webhook" => WEBHOOK_KEYS,
        "command" => COMMAND_KEYS,
        "alertmanager" => ALERTMANAGER_KEYS,
        "email" => EMAIL_KEYS,
        other => panic!(
            "schema.rs: notifier type `{other}` is in NOTIFIER_TYPES but has no key list here; \
             add it as `read_notifier` reads it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_has_keys_and_no_key_twice() {
        let keys = documented_keys();
        let mut seen = std::collections::HashSet::new();
        for (section, key) in &keys {
            assert!(seen.insert((section, key)), "{key} twice in {section}");
        }
        for section in [
            "top level",
            "server",
            "state",
            "self_check",
            "defaults",
            "tls",
            "auth",
        ] {
            assert!(keys.iter().any(|(s, _)| s == section), "{section}");
        }
        for kind in NOTIFIER_TYPES {
            let section = format!("notifiers (type: {kind})");
            assert!(keys.iter().any(|(s, _)| *s == section), "{section}");
        }
    }

    #[test]
    fn type_sections_hold_only_that_types_own_keys() {
        let keys = documented_keys();
        let of = |section: &str| -> Vec<&str> {
            keys.iter()
                .filter(|(s, _)| s == section)
                .map(|(_, k)| *k)
                .collect()
        };
        assert_eq!(of("hosts (type: tcp)"), ["address", "send", "expect"]);
        assert!(of("hosts").contains(&"label"));
        assert!(!of("hosts (type: http)").contains(&"label"));
        assert!(of("hosts (type: http)").contains(&"url"));
        assert_eq!(of("auth"), ["basic", "bearer", "username", "password"]);
        // Every check type has keys of its own.
        for kind in CHECK_TYPES {
            assert!(!of(&format!("hosts (type: {kind})")).is_empty(), "{kind}");
        }
    }
}
