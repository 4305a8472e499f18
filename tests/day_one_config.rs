//! Day-one defects (issue 12) in configuration loading and validation: relative programs beside a bare config file name, bounded nesting, durations and include walks, redaction, errors with line and column.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::Sandbox;

/// An executable `sh` script at `dir/name` running `body`.
fn script_at(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(dir).expect("create the script's directory");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("make the script executable");
    path
}

/// `PATH` with `dir` in front: a program of the same name there is found first.
fn path_with_first(dir: &Path) -> String {
    match std::env::var("PATH") {
        Ok(rest) if !rest.is_empty() => format!("{}:{rest}", dir.display()),
        _ => dir.display().to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. `./program` beside a config named without a directory part
// ---------------------------------------------------------------------------------------------

const RELATIVE_PROGRAMS: &str = "notifiers:\n  hook: { type: command, command: [./notify.sh] }\nhosts:\n  - label: disk\n    type: script\n    command: [./check.sh]\n    alerts: [hook]\n";

/// A sandbox with `./check.sh` (passes) and `./notify.sh` beside `flowstate.yaml`, and a
/// hostile `check.sh` in a directory that the returned `PATH` searches first.
fn relative_program_sandbox() -> (Sandbox, String) {
    let sandbox = Sandbox::new();
    sandbox.write("flowstate.yaml", RELATIVE_PROGRAMS);
    script_at(
        sandbox.path(),
        "check.sh",
        "echo 'OK - the script beside the config'",
    );
    script_at(sandbox.path(), "notify.sh", "cat >/dev/null");
    let hostile_dir = sandbox.path().join("hostile");
    let marker = sandbox.path().join("hijacked");
    script_at(
        &hostile_dir,
        "check.sh",
        &format!("touch '{}'; echo 'OK - hijacked'", marker.display()),
    );
    script_at(
        &hostile_dir,
        "notify.sh",
        &format!("touch '{}'", marker.display()),
    );
    (sandbox, path_with_first(&hostile_dir))
}

#[test]
fn relative_program_beside_a_bare_config_name_runs_from_the_config_directory() {
    let (sandbox, path) = relative_program_sandbox();
    let by_flag = sandbox
        .flowstate()
        .env("PATH", &path)
        .args(&["once", "-c", "flowstate.yaml", "--json"])
        .output();
    let by_env = sandbox
        .flowstate()
        .env("PATH", &path)
        .env("FLOWSTATE_CONFIG", "flowstate.yaml")
        .args(&["once", "--json"])
        .output();
    let by_default = sandbox
        .flowstate()
        .env("PATH", &path)
        .args(&["once", "--json"])
        .output();
    for outcome in [&by_flag, &by_env, &by_default] {
        outcome.expect_code(0);
        let result = outcome.result("disk");
        assert_eq!(result["status"], "up", "{outcome}");
        assert_eq!(
            result["detail"], "OK - the script beside the config",
            "{outcome}"
        );
    }
    assert!(
        !sandbox.path().join("hijacked").exists(),
        "a check.sh found in PATH ran instead of ./check.sh"
    );
}

#[test]
fn check_shows_relative_programs_as_paths_not_bare_names() {
    let (sandbox, path) = relative_program_sandbox();
    let outcome = sandbox
        .flowstate()
        .env("PATH", &path)
        .args(&["check", "-c", "flowstate.yaml"])
        .output();
    outcome.expect_code(0);
    let row = |name: &str| {
        outcome
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no summary line for {name}: {outcome}"))
            .to_string()
    };
    assert!(row("disk").contains(" ./check.sh"), "{outcome}");
    assert!(row("hook").contains(" ./notify.sh"), "{outcome}");
}
