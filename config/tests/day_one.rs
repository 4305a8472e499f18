//! Day-one defects of issue 12 in the config layer, through the public API: wording of type
//! errors, bounded durations and nesting, include walks, redaction, and where errors point.

use flowstate_config::{load_str, Config, ConfigError};

const FILE: &str = "flowstate.yaml";

fn env(name: &str) -> Option<String> {
    match name {
        "SECRET" => Some("hunter2-query-secret".to_string()),
        _ => None,
    }
}

fn try_load(yaml: &str) -> Result<Config, ConfigError> {
    load_str(FILE, yaml, &env)
}

/// Every error of a configuration that must be invalid, as the user sees them.
fn errors(yaml: &str) -> Vec<String> {
    match try_load(yaml) {
        Ok(_) => panic!("expected errors, but the config loaded:\n{yaml}"),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn error(yaml: &str) -> String {
    let mut all = errors(yaml);
    assert_eq!(all.len(), 1, "expected exactly one error, got {all:#?}");
    all.remove(0)
}

/// A one-host file with extra host lines (each indented by four spaces).
fn one_host(settings: &str) -> String {
    let mut yaml = String::from("hosts:\n  - label: api\n    url: http://api.example.com/health\n");
    for line in settings.lines() {
        yaml.push_str("    ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}

// 15. "remove the quotes" only when there are quotes to remove -----------------------------

#[test]
fn an_unquoted_word_for_a_count_says_what_is_expected() {
    assert_eq!(
        error(&one_host("failure_threshold: three")),
        r#"flowstate.yaml:4:24: hosts[0] (label "api").failure_threshold: expected a whole number of at least 1, such as `failure_threshold: 3`, found the string "three""#
    );
    assert_eq!(
        error(&one_host("failure_threshold: 'three'")),
        r#"flowstate.yaml:4:24: hosts[0] (label "api").failure_threshold: expected a whole number of at least 1, such as `failure_threshold: 3`, found the string "three""#
    );
}

#[test]
fn a_quoted_number_for_a_count_says_remove_the_quotes() {
    for quoted in ["\"3\"", "'3'"] {
        assert_eq!(
            error(&one_host(&format!("failure_threshold: {quoted}"))),
            r#"flowstate.yaml:4:24: hosts[0] (label "api").failure_threshold: expected a whole number, found the string "3"; remove the quotes"#
        );
    }
}
