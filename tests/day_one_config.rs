//! Day-one defects (issue 12) in configuration loading and validation: relative programs beside
//! a bare config file name, bounded nesting, durations and include walks, redaction, errors with
//! line and column. What a running daemon's reload does with such files is tested in
//! `reload.rs`.

use std::path::Path;

use crate::common::configs::{nested_defaults, symlink_loop_sandbox};
use crate::common::once::assert_verdict;
use crate::common::{Sandbox, DEADLINE};

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
    sandbox.script("check.sh", "echo 'OK - the script beside the config'");
    sandbox.script("notify.sh", "cat >/dev/null");
    let hostile_dir = sandbox.path().join("hostile");
    let marker = sandbox.path().join("hijacked");
    sandbox.script(
        "hostile/check.sh",
        &format!("touch '{}'; echo 'OK - hijacked'", marker.display()),
    );
    sandbox.script(
        "hostile/notify.sh",
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
        assert_verdict(outcome, "disk", "up", "OK - the script beside the config");
    }
    assert!(
        !sandbox.path().join("hijacked").exists(),
        "a check.sh found in PATH ran instead of ./check.sh"
    );
}

/// The daemon too, and for a command notifier: its `./notify.sh` beside a bare config name
/// runs (the alert was once given up as "rejected"), and the one in `PATH` does not.
#[test]
fn daemon_runs_a_relative_notifier_beside_a_bare_config_name() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        "server: { listen: \"127.0.0.1:0\" }\nnotifiers:\n  hook: { type: command, command: [./notify.sh] }\nhosts:\n  - { label: disk, type: script, command: [./check.sh], interval: 1s, failure_threshold: 1, alerts: [hook] }\n",
    );
    sandbox.script("check.sh", "echo 'CRITICAL - full'; exit 2");
    sandbox.script("notify.sh", "cat > told.json");
    let hostile_dir = sandbox.path().join("hostile");
    let marker = sandbox.path().join("hijacked");
    sandbox.script(
        "hostile/notify.sh",
        &format!("touch '{}'", marker.display()),
    );
    let mut daemon = sandbox
        .daemon("flowstate.yaml")
        .env("PATH", path_with_first(&hostile_dir))
        .start();
    daemon.wait_for_status("disk", "down");
    let told = sandbox.path().join("told.json");
    let event = crate::common::wait::wait_for(DEADLINE, "./notify.sh writes the event", || {
        std::fs::read_to_string(&told)
            .ok()
            .filter(|text| text.contains("\"down\""))
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    assert!(event.contains("\"disk\""), "{event}");
    assert!(
        !marker.exists(),
        "a notify.sh found in PATH ran instead of ./notify.sh"
    );
    assert!(!daemon.stderr().contains("rejected"), "{daemon}");
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

// ---------------------------------------------------------------------------------------------
// 8. Durations are bounded at load
// ---------------------------------------------------------------------------------------------

#[test]
fn check_refuses_an_extreme_duration_naming_line_column_key_and_range() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        "notifiers:\n  ops:\n    type: stdout\n    remind_every: 584000000000y\n    backoff: 400d\nhosts:\n  - { label: api, url: 'http://127.0.0.1:1/', interval: 584000000000y }\n",
    );
    let outcome = sandbox.run(&["check", "-c", "flowstate.yaml"]);
    outcome.expect_code(2);
    assert_eq!(
        outcome.stderr_lines(),
        [
            "flowstate.yaml:4:19: notifiers.ops.remind_every: `584000000000y` is too long: a duration must be longer than 0 and at most 365d",
            "flowstate.yaml:5:14: notifiers.ops.backoff: `400d` is too long: a duration must be longer than 0 and at most 365d",
            "flowstate.yaml:7:57: hosts[0] (label \"api\").interval: `584000000000y` is too long: a duration must be longer than 0 and at most 365d",
        ],
        "{outcome}"
    );
}

// ---------------------------------------------------------------------------------------------
// 11. Include globs and symlink loops
// ---------------------------------------------------------------------------------------------

#[test]
fn check_through_an_include_symlink_loop_ends() {
    let sandbox = symlink_loop_sandbox("");
    // The run's own deadline bounds the test; the glob crate walked this for minutes.
    let outcome = sandbox.run(&["check", "-c", "flowstate.yaml"]);
    outcome.expect_code(0);
    assert!(
        outcome.stdout.starts_with(
            "configuration ok: 1 host, 0 notifiers from flowstate.yaml, hosts.d/a.yaml"
        ),
        "{outcome}"
    );
}

// ---------------------------------------------------------------------------------------------
// 12. Values from `${VAR}` in a URL are never printed
// ---------------------------------------------------------------------------------------------

/// The secret every test below puts in the environment.
const URL_SECRET: &str = "url-secret-4711";

/// A host list with the secret from `${SECRET}` in a URL's query, in a path and as a password.
const SECRET_URL_HOSTS: &str = "  - { label: query, url: 'http://127.0.0.1:1/health?x=${SECRET}&region=eu' }\n  - { label: path, url: 'http://127.0.0.1:1/${SECRET}/health' }\n  - { label: user, url: 'http://bob:${SECRET}@127.0.0.1:1/' }\n";

#[test]
fn check_does_not_print_a_variable_in_a_url() {
    let sandbox = Sandbox::new();
    sandbox.write("flowstate.yaml", &format!("hosts:\n{SECRET_URL_HOSTS}"));
    let outcome = sandbox
        .flowstate()
        .env("SECRET", URL_SECRET)
        .args(&["check", "-c", "flowstate.yaml"])
        .output();
    outcome.expect_code(0);
    assert!(!outcome.all_output().contains(URL_SECRET), "{outcome}");
    assert!(
        outcome
            .stdout
            .contains("http://127.0.0.1:1/health?x=***&region=eu"),
        "{outcome}"
    );
    assert!(
        outcome.stdout.contains("http://127.0.0.1:1/***/health"),
        "{outcome}"
    );
}

#[test]
fn check_diff_does_not_print_or_compare_by_a_variable_in_a_url() {
    let running = Sandbox::new();
    running.write(
        "flowstate.yaml",
        &format!(
            "server: {{ listen: \"127.0.0.1:0\" }}\ndefaults: {{ interval: 1h }}\nhosts:\n{SECRET_URL_HOSTS}"
        ),
    );
    let mut daemon = running
        .daemon("flowstate.yaml")
        .env("SECRET", "the-running-secret")
        .start();
    let api = format!("http://{}", daemon.api());

    let local = Sandbox::new();
    local.write(
        "flowstate.yaml",
        &format!(
            "defaults: {{ interval: 1h }}\nhosts:\n{SECRET_URL_HOSTS}  - {{ label: added, url: 'http://127.0.0.1:1/?token=${{SECRET}}&page=${{SECRET}}' }}\n"
        ),
    );
    let outcome = local
        .flowstate()
        .env("SECRET", URL_SECRET)
        .args(&["check", "--diff", "--api", &api])
        .output();
    outcome.expect_code(0);
    for secret in [URL_SECRET, "the-running-secret"] {
        assert!(!outcome.all_output().contains(secret), "{outcome}");
    }
    assert!(
        outcome
            .stdout
            .contains("+ added     added (http http://127.0.0.1:1/?token=***&page=***)"),
        "{outcome}"
    );
    // Only the secret differs, and a daemon without a token fingerprints no secret value:
    // nothing changed, and the output says what was not compared.
    assert!(outcome.stdout.contains("= 3 unchanged"), "{outcome}");
    assert!(!outcome.stdout.contains("~ changed"), "{outcome}");
    assert!(
        outcome
            .stdout
            .contains("secret values were not compared: the daemon has no server.token"),
        "{outcome}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. and 9. Nesting is bounded before anything recurses or stalls
// ---------------------------------------------------------------------------------------------

#[test]
fn check_refuses_deeply_nested_defaults_instead_of_aborting() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &format!(
            "hosts:\n  - label: api\n    url: http://127.0.0.1:1/\n    body: '{}'\n",
            nested_defaults(30_000)
        ),
    );
    let outcome = sandbox.run(&["check", "-c", "flowstate.yaml"]);
    outcome.expect_code(2);
    assert_eq!(
        outcome.stderr_lines(),
        ["flowstate.yaml:4:11: hosts[0] (label \"api\").body: `${...}` is nested 30000 levels deep; at most 16 are allowed: nest fewer defaults (`${A:-${B:-fallback}}` is 2 levels)"],
        "{outcome}"
    );
}

#[test]
fn check_refuses_deeply_nested_yaml_at_once() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &format!("hosts: {}\n", "[".repeat(160_000)),
    );
    // The run's deadline bounds the test; libyaml took 32 s (release) on this.
    let outcome = sandbox.run(&["check", "-c", "flowstate.yaml"]);
    outcome.expect_code(2);
    assert_eq!(
        outcome.stderr_lines(),
        ["flowstate.yaml:1:71: lists and mappings are nested more than 64 levels deep here; flowstate accepts at most 64: flatten this part of the file"],
        "{outcome}"
    );
}

// ---------------------------------------------------------------------------------------------
// 14. and 15. Every error has a line and column; the advice fits what was written
// ---------------------------------------------------------------------------------------------

#[test]
fn check_gives_semantic_errors_across_files_with_positions_in_order() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        "include: [\"hosts.d/*.yaml\"]\nhosts:\n  - label: api\n    url: http://127.0.0.1:1/\n    failure_threshold: three\n  - label: ping\n    type: icmp\n    address: 10.0.0.1\n    interval: 0s\n",
    );
    sandbox.write(
        "hosts.d/more.yaml",
        "hosts:\n  - label: db\n    type: tcp\n    address: db.internal\n  - label: api\n    url: http://127.0.0.1:2/\n",
    );
    let outcome = sandbox.run(&["check", "-c", "flowstate.yaml"]);
    outcome.expect_code(2);
    assert_eq!(
        outcome.stderr_lines(),
        [
            "flowstate.yaml:5:24: hosts[0] (label \"api\").failure_threshold: expected a whole number of at least 1, such as `failure_threshold: 3`, found the string \"three\"",
            "flowstate.yaml:9:15: hosts[1] (label \"ping\").interval: must be longer than 0, found `0s`",
            "hosts.d/more.yaml:4:14: hosts[0] (label \"db\").address: `db.internal` is not `host:port`; write e.g. `db.internal:5432` or `[::1]:443`",
            "hosts.d/more.yaml:5:12: hosts[1] (label \"api\").label: label \"api\" is already used by flowstate.yaml:3:12: hosts[0]; labels must be unique",
        ],
        "{outcome}"
    );
}
