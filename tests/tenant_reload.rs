//! Tenants (SPEC §12) in a running `flowstate run`: a broken tenant file keeps that tenant's
//! last good configuration and touches no one else, at a reload and at start; `flowstate
//! check` still refuses it; the metrics carry `tenant`; `flowstate status --tenant`.
//!
//! Real files edited while the daemon runs (saved by rename, as editors do, and noticed by the
//! ConfigWatcher, which must watch the tenants' files), real loopback targets. Everything is
//! awaited by polling the API, the log or `/metrics` with a deadline, never by sleeping.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::common::daemon::http_get;
use crate::common::scrape::{find_sample, metrics, wait_for_sample};
use crate::common::wait::wait_for;
use crate::common::{Daemon, Response, Sandbox, TestServer, DEADLINE};

/// The main file: the platform's `gateway` and two tenants, each with a file of its own.
fn main_file(target: &TestServer) -> String {
    format!(
        r#"server:
  listen: "127.0.0.1:0"
defaults: {{ interval: 100ms, timeout: 100ms }}
hosts:
  - label: gateway
    url: '{}'
tenants:
  team-a: {{ config: tenants/team-a.yaml }}
  team-b: {{ config: tenants/team-b.yaml }}
"#,
        target.url("/gateway")
    )
}

/// A tenant's file with one host per label, each checked every 100 ms against `target`.
fn tenant_file(target: &TestServer, labels: &[&str]) -> String {
    let mut text = "defaults: { interval: 100ms, timeout: 100ms }\nhosts:\n".to_string();
    for label in labels {
        text.push_str(&format!(
            "  - label: {label}\n    url: '{}'\n",
            target.url(&format!("/{label}"))
        ));
    }
    text
}

/// team-a's file with a validation error on line 5 (`interval: soon`), its host otherwise
/// as in [`tenant_file`].
fn broken_tenant_file(target: &TestServer) -> String {
    format!(
        "defaults: {{ interval: 100ms, timeout: 100ms }}\nhosts:\n  - label: api\n    url: '{}'\n    interval: soon\n",
        target.url("/api")
    )
}

/// Writes `contents` beside `path` and renames it over `path`: how editors save.
fn save(path: &Path, contents: &str) {
    let temporary = path.with_extension("yaml.tmp");
    fs::write(&temporary, contents).expect("write the temporary file");
    fs::rename(&temporary, path).expect("rename it over the file");
}

fn healthy() -> TestServer {
    TestServer::always(Response::ok("fine"))
}

/// `/api/v1/hosts` as (label, host) pairs.
fn listed(daemon: &mut Daemon) -> Vec<(String, Value)> {
    daemon
        .hosts()
        .into_iter()
        .map(|h| (h["label"].as_str().unwrap_or_default().to_string(), h))
        .collect()
}

fn labels(daemon: &mut Daemon) -> Vec<String> {
    listed(daemon).into_iter().map(|(label, _)| label).collect()
}

/// Polls `/api/v1/hosts` until host `label` has run more than `checks` checks; gives it.
/// (A tenant's label holds a `/`, so the list is asked rather than `/api/v1/hosts/{label}`.)
#[track_caller]
fn wait_for_checks_beyond(daemon: &mut Daemon, label: &str, checks: u64) -> Value {
    let api = daemon.api();
    let found = wait_for(
        DEADLINE,
        &format!("host {label} has run more than {checks} checks"),
        || {
            let hosts: Value = http_get(api, "/api/v1/hosts").ok()?.json().ok()?;
            hosts.as_array()?.iter().find_map(|h| {
                (h["label"] == label && h["checks"].as_u64().is_some_and(|n| n > checks))
                    .then(|| h.clone())
            })
        },
    );
    found.unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"))
}

/// A sandbox with the main file and both tenants' files: team-a with `api`, team-b with `web`
/// (or what `team_a` says, for a broken one).
fn sandbox(target: &TestServer, team_a: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write("flowstate.yaml", &main_file(target));
    sandbox.write("tenants/team-a.yaml", team_a);
    sandbox.write("tenants/team-b.yaml", &tenant_file(target, &["web"]));
    sandbox
}

#[test]
fn a_broken_tenant_file_keeps_that_tenants_hosts_and_the_others_reload() {
    let target = healthy();
    let sandbox = sandbox(&target, &tenant_file(&target, &["api"]));
    let mut daemon = sandbox.daemon("flowstate.yaml").start();
    let before = wait_for_checks_beyond(&mut daemon, "team-a/api", 1);
    wait_for_checks_beyond(&mut daemon, "team-b/web", 0);

    // team-a's file breaks; team-b adds a host. Both noticed by the watcher.
    let team_a = sandbox.path().join("tenants/team-a.yaml");
    save(&team_a, &broken_tenant_file(&target));
    save(
        &sandbox.path().join("tenants/team-b.yaml"),
        &tenant_file(&target, &["web", "shop"]),
    );
    wait_for_checks_beyond(&mut daemon, "team-b/shop", 0);
    let logged = daemon.wait_for_log("team-a's error is logged", |line| {
        line.contains("tenant config rejected") && line.contains("tenants/team-a.yaml:5:")
    });
    assert!(logged.contains("interval"), "{logged}");
    assert!(logged.contains("team-a"), "{logged}");

    // team-a keeps checking its host as it was: same label, its state and counts go on.
    let checks = before["checks"].as_u64().unwrap_or(0);
    let after = wait_for_checks_beyond(&mut daemon, "team-a/api", checks + 2);
    assert_eq!(after["since"], before["since"], "{after}");
    assert_eq!(
        labels(&mut daemon),
        ["gateway", "team-a/api", "team-b/web", "team-b/shop"]
    );

    // The reload answers with team-a's errors, applied for everyone else.
    let answer = daemon.request("POST", "/-/reload", &[]);
    assert_eq!(answer.status, 200, "{answer}");
    let body = answer.json().expect("JSON");
    assert_eq!(
        body["failed_tenants"],
        serde_json::json!(["team-a"]),
        "{body}"
    );
    assert!(
        body["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("tenants/team-a.yaml:5:")),
        "{body}"
    );

    // Counted per tenant: team-a's load failed, team-b's applied, the main one applied.
    wait_for_sample(
        &mut daemon,
        r#"flowstate_config_reloads_total{tenant="team-a",result="failure"}"#,
        |n| n >= 1.0,
    );
    let text = metrics(&mut daemon);
    let value = |series: &str| find_sample(&text, series).unwrap_or(-1.0);
    assert!(
        value(r#"flowstate_config_reloads_total{tenant="team-b",result="success"}"#) >= 1.0,
        "{text}"
    );
    assert!(
        value(r#"flowstate_config_reloads_total{result="success"}"#) >= 1.0,
        "{text}"
    );
    assert_eq!(
        value(r#"flowstate_config_last_reload_successful{tenant="team-a"}"#),
        0.0,
        "{text}"
    );
    assert_eq!(
        value(r#"flowstate_config_last_reload_successful{tenant="team-b"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        value("flowstate_config_last_reload_successful"),
        1.0,
        "{text}"
    );

    // Fixed: team-a's edit applies (a second host), its first host still the same.
    save(&team_a, &tenant_file(&target, &["api", "db"]));
    wait_for_checks_beyond(&mut daemon, "team-a/db", 0);
    let kept = wait_for_checks_beyond(&mut daemon, "team-a/api", 0);
    assert_eq!(kept["since"], before["since"], "{kept}");
    wait_for_sample(
        &mut daemon,
        r#"flowstate_config_last_reload_successful{tenant="team-a"}"#,
        |v| v == 1.0,
    );
}

#[test]
fn a_daemon_started_with_a_broken_tenant_file_checks_everyone_else() {
    let target = healthy();
    let sandbox = sandbox(&target, "hosts:\n  - label: api\n    url: [\n");
    let mut daemon = sandbox.daemon("flowstate.yaml").start();
    wait_for_checks_beyond(&mut daemon, "team-b/web", 1);
    wait_for_checks_beyond(&mut daemon, "gateway", 1);
    assert_eq!(labels(&mut daemon), ["gateway", "team-b/web"]);
    let logged = daemon.wait_for_log("team-a's error is logged", |line| {
        line.contains("tenant config rejected") && line.contains("tenants/team-a.yaml:")
    });
    assert!(
        logged.contains("runs no hosts until its files are fixed"),
        "{logged}"
    );
    let (failures, _) = wait_for_sample(
        &mut daemon,
        r#"flowstate_config_reloads_total{tenant="team-a",result="failure"}"#,
        |n| n >= 1.0,
    );
    assert_eq!(failures, 1.0);
    // Still ready: one team's typo does not take the others' monitoring out of rotation.
    assert_eq!(daemon.get("/readyz").status, 200);

    // Fixed: team-a starts.
    save(
        &sandbox.path().join("tenants/team-a.yaml"),
        &tenant_file(&target, &["api"]),
    );
    wait_for_checks_beyond(&mut daemon, "team-a/api", 0);
}

#[test]
fn check_refuses_a_broken_tenant_file_naming_it() {
    let target = healthy();
    let sandbox = sandbox(&target, &broken_tenant_file(&target));
    let outcome = sandbox.run(&["check", "-c", "flowstate.yaml"]);
    outcome.expect_code(2);
    let output = outcome.all_output();
    assert!(output.contains("tenants/team-a.yaml:5:"), "{output}");

    // Fixed, the summary lists the tenants.
    sandbox.write("tenants/team-a.yaml", &tenant_file(&target, &["api", "db"]));
    let outcome = sandbox.run(&["check", "-c", "flowstate.yaml"]);
    outcome.expect_code(0);
    let output = outcome.all_output();
    assert!(output.contains("tenants:"), "{output}");
    let row = output
        .lines()
        .find(|l| l.trim_start().starts_with("team-a "))
        .unwrap_or_else(|| panic!("no row of team-a in\n{output}"));
    assert!(row.contains("tenants/team-a.yaml"), "{row}");
    assert!(row.split_whitespace().any(|cell| cell == "2"), "{row}");
}

#[test]
fn metrics_of_a_tenants_hosts_carry_its_name() {
    let target = healthy();
    let sandbox = sandbox(&target, &tenant_file(&target, &["api"]));
    let mut daemon = sandbox.daemon("flowstate.yaml").start();
    wait_for_checks_beyond(&mut daemon, "team-a/api", 0);
    let (up, text) = wait_for_sample(
        &mut daemon,
        r#"flowstate_host_up{host="team-a/api",tenant="team-a"}"#,
        |v| v == 1.0,
    );
    assert_eq!(up, 1.0);
    assert!(
        find_sample(
            &text,
            r#"flowstate_checks_total{host="team-b/web",result="success",tenant="team-b"}"#
        )
        .is_some(),
        "{text}"
    );
    // The platform's own hosts carry no `tenant` label.
    assert!(
        text.lines()
            .any(|l| l.starts_with(r#"flowstate_host_up{host="gateway"} "#)),
        "{text}"
    );
}

#[test]
fn status_shows_one_tenants_hosts() {
    let target = healthy();
    let sandbox = sandbox(&target, &tenant_file(&target, &["api", "db"]));
    let mut daemon = sandbox.daemon("flowstate.yaml").start();
    wait_for_checks_beyond(&mut daemon, "team-a/db", 0);
    wait_for_checks_beyond(&mut daemon, "team-b/web", 0);
    let api = format!("http://{}", daemon.api());

    let outcome = sandbox.run(&["status", "--api", &api, "--tenant", "team-a", "--json"]);
    let shown: Vec<String> = outcome
        .json()
        .as_array()
        .map(|hosts| {
            hosts
                .iter()
                .filter_map(|h| h["label"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        shown,
        ["team-a/api", "team-a/db"],
        "{}",
        outcome.all_output()
    );

    let outcome = sandbox.run(&["status", "--api", &api, "--tenant", "team-a"]);
    let table = outcome.all_output();
    assert!(table.contains("team-a/db"), "{table}");
    assert!(
        !table.contains("team-b/web") && !table.contains("gateway"),
        "{table}"
    );

    let outcome = sandbox.run(&["status", "--api", &api, "--tenant", "team-c"]);
    outcome.expect_code(2);
    let error = outcome.all_output();
    assert!(error.contains("unknown tenant `team-c`"), "{error}");
    assert!(error.contains("team-a, team-b"), "{error}");
}
