//! Helpers shared by the config crate's test files: a pretend file name, the environment the
//! tests see, and loading a YAML text into a configuration or its errors.

#![allow(dead_code)] // each test file uses the part it needs

use flowstate_config::{load_str, Config, ConfigError};

/// The file name every `load_str` test pretends to read.
pub const FILE: &str = "flowstate.yaml";

/// The environment the tests see; nothing comes from the real process environment.
pub fn env(name: &str) -> Option<String> {
    let value = match name {
        "FLOWSTATE_TOKEN" => "srv-token-123",
        "HOOK_TOKEN" => "hook-token-456",
        "API_KEY" => "env-api-key-789",
        "TRACE_ID" => "env-trace-value",
        "API_HOST" => "api.example.com",
        "THRESHOLD" => "4",
        "INTERVAL" => "15s",
        "CODE" => "204",
        "NO" => "false",
        "COMMENTISH" => "a: b # c",
        "FLOWY" => "{x: 1}",
        "MULTILINE" => "a\nb: c",
        "INDIRECT" => "${API_KEY}",
        "WORD" => "abc",
        "EMPTY" => "",
        "SECRET" => "hunter2-query-secret",
        "PG_PASSWORD" => "pg-s3cret-pass",
        "SMTP_PASSWORD" => "smtp-s3cret-pass",
        "FLOWSTATE_LOCATION" => "eu-west",
        "POD_NAME" => "flowstate-eu-west-0",
        "LOUD_LOCATION" => "EU",
        _ => return None,
    };
    Some(value.to_string())
}

pub fn try_load(yaml: &str) -> Result<Config, ConfigError> {
    load_str(FILE, yaml, &env)
}

/// Loads a configuration that must be valid.
pub fn load(yaml: &str) -> Config {
    try_load(yaml).unwrap_or_else(|e| panic!("expected a valid config, got:\n{e}"))
}

/// Every error of a configuration that must be invalid, rendered as the user sees them.
pub fn errors(yaml: &str) -> Vec<String> {
    match try_load(yaml) {
        Ok(_) => panic!("expected errors, but the config loaded:\n{yaml}"),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

/// The one error of a configuration that has exactly one problem.
pub fn error(yaml: &str) -> String {
    let mut all = errors(yaml);
    assert_eq!(all.len(), 1, "expected exactly one error, got {all:#?}");
    all.remove(0)
}

/// A one-host file, with extra lines of host settings (each indented by four spaces).
pub fn one_host(settings: &str) -> String {
    let mut yaml = String::from("hosts:\n  - label: api\n    url: http://api.example.com/health\n");
    for line in settings.lines() {
        yaml.push_str("    ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}
