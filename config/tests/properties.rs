//! Properties of loading over generated configurations (proptest, a fixed small number of
//! cases so `cargo test` stays fast):
//! - a configuration diffed with itself is empty (nothing to apply, nothing to restart), and
//!   so is its diff with a second load of the same text;
//! - `${VAR}` interpolation never re-parses: a variable's value holding `${OTHER}`, `$$`,
//!   YAML syntax or newlines comes out exactly as it is, in `interpolate` and through a whole
//!   load (a tcp check's `send`, free text).

use flowstate_config::diff::ConfigDiff;
use flowstate_config::interpolate::interpolate;
use flowstate_config::{load_str, Check};
use proptest::prelude::*;

/// One host as YAML: a tcp or an http check, with an interval and maybe a notifier.
#[derive(Debug, Clone)]
struct Host {
    kind: u8,
    port: u16,
    interval: u16,
    alert: bool,
}

impl Host {
    fn yaml(&self, index: usize) -> String {
        let mut text = format!(
            "  - label: host-{index}\n    interval: {}s\n",
            self.interval
        );
        match self.kind % 3 {
            0 => text.push_str(&format!("    type: tcp\n    address: 127.0.0.1:{}\n", self.port)),
            1 => text.push_str(&format!(
                "    url: http://127.0.0.1:{}/health\n    status: 200\n",
                self.port
            )),
            _ => text.push_str(&format!(
                "    url: https://example.com:{}/\n    regex: ok$\n    headers: {{ Authorization: \"Bearer ${{TOKEN}}\" }}\n",
                self.port
            )),
        }
        if self.alert {
            text.push_str("    alerts: [console, chat]\n");
        }
        text
    }
}

fn host() -> impl Strategy<Value = Host> {
    (any::<u8>(), 1..u16::MAX, 1..3600u16, any::<bool>()).prop_map(
        |(kind, port, interval, alert)| Host {
            kind,
            port,
            interval,
            alert,
        },
    )
}

fn config_text(hosts: &[Host], failure_threshold: u8) -> String {
    let mut text = format!(
        "defaults:\n  failure_threshold: {}\nnotifiers:\n  console: {{ type: stdout }}\n  chat:\n    type: webhook\n    url: https://hooks.example.com/${{TOKEN}}\nhosts:\n",
        failure_threshold.max(1)
    );
    for (index, host) in hosts.iter().enumerate() {
        text.push_str(&host.yaml(index));
    }
    text
}

fn env(name: &str) -> Option<String> {
    (name == "TOKEN").then(|| "s3cr3t".to_string())
}

/// Text that would mean something if it were read again: variables, escapes, YAML.
fn tricky() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("${OTHER}".to_string()),
        Just("${OTHER:-x}".to_string()),
        Just("$$".to_string()),
        Just("$".to_string()),
        Just("${".to_string()),
        Just("}".to_string()),
        Just("\n".to_string()),
        Just("key: value".to_string()),
        Just("- item".to_string()),
        Just("{ a: [1, 2] }".to_string()),
        Just("\"'#&*!|>%@`".to_string()),
        "[ -~]{0,8}",
        "\\PC{0,4}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_config_diffed_with_itself_is_empty(
        hosts in prop::collection::vec(host(), 0..12),
        failure_threshold in any::<u8>(),
    ) {
        let text = config_text(&hosts, failure_threshold);
        let config = load_str("generated.yaml", &text, &env)
            .map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
        prop_assert_eq!(config.hosts().len(), hosts.len());
        let diff = ConfigDiff::between(&config, &config);
        prop_assert!(diff.is_empty(), "{:?}", diff);
        prop_assert!(diff.needs_restart.is_empty());
        prop_assert_eq!(diff.unchanged.len(), hosts.len());
        let again = load_str("generated.yaml", &text, &env)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(ConfigDiff::between(&config, &again).is_empty());
    }

    #[test]
    fn interpolation_never_reparses_a_value(value in tricky(), prefix in "[a-z ]{0,5}") {
        let lookup = |name: &str| match name {
            "VAR" => Some(value.clone()),
            "OTHER" => Some("other".to_string()),
            _ => None,
        };
        let done = interpolate(&format!("{prefix}${{VAR}}"), &lookup)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&done.value, &format!("{prefix}{value}"));
        prop_assert!(done.substituted);
        // Reached through a default, the value is not read again either.
        let defaulted = interpolate("${UNSET:-${VAR}}", &lookup)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&defaulted.value, &value);

        // Through a whole load: the value reaches the check as it is.
        let text = "hosts:\n  - label: echo\n    type: tcp\n    address: 127.0.0.1:7\n    send: \"${VAR}\"\n";
        let config = load_str("send.yaml", text, &lookup)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        match &config.hosts()[0].check {
            Check::Tcp(tcp) if !value.is_empty() => {
                prop_assert_eq!(tcp.send.as_deref(), Some(value.as_str()))
            }
            Check::Tcp(_) => {}
            other => prop_assert!(false, "not a tcp check: {:?}", other),
        }
    }
}
