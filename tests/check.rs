//! `flowstate check`: validation, the summary, where the config comes from, and that no secret
//! is ever printed.

use crate::common::{Outcome, Sandbox};

/// A config that uses every section, with one secret of each kind.
const FULL_CONFIG: &str = r#"
server:
  listen: 127.0.0.1:9911
  token: server-token-S1
state:
  history: 50
defaults:
  interval: 20s
  timeout: 4s
  failure_threshold: 2
  alerts: [console]
notifiers:
  console: { type: stdout }
  ops:
    type: webhook
    url: https://hooks.example.com/services/T000/webhook-path-S2
    headers: { Authorization: "Bearer webhook-auth-S3" }
    cooldown: 5m
hosts:
  - label: api
    url: https://bob:url-password-S4@api.example.com/health?api_key=query-key-S5&region=eu
    status: [200, 204]
    regex: '"ok":\s*true'
    headers: { Authorization: "Bearer host-auth-S6", X-Trace: visible-header }
    alerts: [ops]
  - label: web
    url: http://web.example.com/
    interval: 1m
"#;

/// Every secret in [`FULL_CONFIG`].
const FULL_CONFIG_SECRETS: &[&str] = &[
    "server-token-S1",
    "webhook-path-S2",
    "webhook-auth-S3",
    "url-password-S4",
    "query-key-S5",
    "host-auth-S6",
];

#[track_caller]
fn assert_no_secret(outcome: &Outcome, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !outcome.all_output().contains(secret),
            "secret {secret:?} was printed: {outcome}"
        );
    }
}

/// The summary line (host or notifier row) that starts with `name`.
#[track_caller]
fn summary_line<'a>(outcome: &'a Outcome, name: &str) -> &'a str {
    outcome
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no summary line for {name:?}: {outcome}"))
}

#[test]
fn valid_config_exits_0_and_lists_hosts_notifiers_and_defaults() {
    let sandbox = Sandbox::new();
    sandbox.write("full.yaml", FULL_CONFIG);
    let outcome = sandbox.run(&["check", "-c", "full.yaml"]);
    outcome.expect_code(0);
    assert!(outcome.stderr.is_empty(), "{outcome}");
    let out = &outcome.stdout;
    assert!(
        out.starts_with("configuration ok: 2 hosts, 2 notifiers from full.yaml"),
        "{outcome}"
    );

    let api = summary_line(&outcome, "api");
    for expected in [
        "http",
        "https://bob:***@api.example.com/health",
        "20s",
        "4s",
        "ops",
    ] {
        assert!(api.contains(expected), "{expected:?} missing from {api:?}");
    }
    assert!(api.contains("region=eu"), "non-secret query kept: {api:?}");
    let web = summary_line(&outcome, "web");
    for expected in ["http://web.example.com/", "1m", "4s", "console"] {
        assert!(web.contains(expected), "{expected:?} missing from {web:?}");
    }
    assert!(
        web.contains("down after 2, up after 1"),
        "thresholds inherited from defaults: {web:?}"
    );

    let console = summary_line(&outcome, "console");
    assert!(console.contains("stdout"), "{console:?}");
    let ops = summary_line(&outcome, "ops");
    for expected in ["webhook", "https://hooks.example.com/", "cooldown 5m"] {
        assert!(ops.contains(expected), "{expected:?} missing from {ops:?}");
    }

    for expected in [
        "interval 20s, timeout 4s, failure_threshold 2, success_threshold 1",
        "alerts console",
        "listen 127.0.0.1:9911",
        "history 50",
    ] {
        assert!(out.contains(expected), "{expected:?} missing: {outcome}");
    }
}

#[test]
fn summary_redacts_every_secret() {
    let sandbox = Sandbox::new();
    sandbox.write("full.yaml", FULL_CONFIG);
    let outcome = sandbox.run(&["check", "-c", "full.yaml"]);
    outcome.expect_code(0);
    assert_no_secret(&outcome, FULL_CONFIG_SECRETS);
    assert!(outcome.stdout.contains("token ***"), "{outcome}");
    assert!(
        outcome.stdout.contains("Authorization: ***"),
        "the webhook's header is shown, redacted: {outcome}"
    );
}

#[test]
fn summary_redacts_values_from_environment_variables() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "env.yaml",
        r#"
server:
  token: ${FS_TOKEN}
defaults:
  headers: { X-Tenant: "${FS_TENANT}" }
notifiers:
  hook:
    type: webhook
    url: ${FS_HOOK_URL}
    headers: { X-Signature: "${FS_SIGNATURE}", X-Plain: "${FS_PLAIN}" }
hosts:
  - label: api
    url: http://api.example.com/
    headers: { X-Custom: "prefix-${FS_HEADER}" }
"#,
    );
    let outcome = sandbox
        .flowstate()
        .args(&["check", "-c", "env.yaml"])
        .env("FS_TOKEN", "env-token-E1")
        .env("FS_TENANT", "env-tenant-E2")
        .env("FS_HOOK_URL", "https://hooks.example.com/env-path-E3")
        .env("FS_SIGNATURE", "env-signature-E4")
        .env("FS_PLAIN", "env-plain-E5")
        .env("FS_HEADER", "env-header-E6")
        .output();
    outcome.expect_code(0);
    assert_no_secret(
        &outcome,
        &[
            "env-token-E1",
            "env-tenant-E2",
            "env-path-E3",
            "env-signature-E4",
            "env-plain-E5",
            "env-header-E6",
        ],
    );
    assert!(outcome.stdout.contains("X-Tenant: ***"), "{outcome}");
    assert!(outcome.stdout.contains("X-Plain: ***"), "{outcome}");
}

#[test]
fn errors_in_a_config_with_secrets_do_not_print_them() {
    let sandbox = Sandbox::new();
    // The secrets are valid; the errors are elsewhere, including in the same hosts.
    let config = FULL_CONFIG
        .replace("  history: 50", "  history: many")
        .replace("    interval: 1m", "    intervall: 1m")
        .replace("    alerts: [ops]", "    alerts: [ops, pager]");
    sandbox.write("full.yaml", &config);
    sandbox.write(
        "more.yaml",
        r#"
hosts:
  - label: broken
    url: "http://carol:url-password-S7@exa mple.com/"
  - label: tokenised
    url: ${FS_URL}
    headers: { X-Api-Key: "${FS_KEY}" }
    timeout: 10
"#,
    );
    let outcome = sandbox
        .flowstate()
        .args(&["check", "-c", "full.yaml", "-c", "more.yaml"])
        .env("FS_URL", "http://api.example.com/")
        .env("FS_KEY", "env-key-S8")
        .output();
    outcome.expect_code(2);
    assert!(
        outcome.stderr_lines().len() >= 5,
        "every error reported: {outcome}"
    );
    let mut secrets = FULL_CONFIG_SECRETS.to_vec();
    secrets.extend(["url-password-S7", "env-key-S8"]);
    assert_no_secret(&outcome, &secrets);
}

#[test]
fn errors_about_unparsable_urls_do_not_print_their_secrets() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "urls.yaml",
        r#"
notifiers:
  slack:
    type: webhook
    url: "https//hooks.slack.com/services/T000/B000/webhook-path-U1"
  env:
    type: webhook
    url: ${FS_HOOK}
hosts:
  - label: api
    url: "api.example.com/health?api_key=query-key-U2"
"#,
    );
    let outcome = sandbox
        .flowstate()
        .args(&["check", "-c", "urls.yaml"])
        .env("FS_HOOK", "hooks.example.com/env-path-U3")
        .output();
    outcome.expect_code(2);
    assert_eq!(outcome.stderr_lines().len(), 3, "{outcome}");
    assert_no_secret(
        &outcome,
        &["webhook-path-U1", "query-key-U2", "env-path-U3"],
    );
}

#[test]
fn type_errors_do_not_print_values_from_environment_variables() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "env.yaml",
        r#"
server:
  listen: ${FS_LISTEN}
hosts:
  - label: api
    url: http://api.example.com/
    follow_redirects: ${FS_FOLLOW}
    timeout: ${FS_TIMEOUT}
"#,
    );
    let outcome = sandbox
        .flowstate()
        .args(&["check", "-c", "env.yaml"])
        .env("FS_LISTEN", "env-listen-V1")
        .env("FS_FOLLOW", "env-follow-V2")
        .env("FS_TIMEOUT", "env-timeout-V3")
        .output();
    outcome.expect_code(2);
    assert_eq!(outcome.stderr_lines().len(), 3, "{outcome}");
    assert_no_secret(
        &outcome,
        &["env-listen-V1", "env-follow-V2", "env-timeout-V3"],
    );
}

#[test]
fn invalid_config_lists_every_error_in_the_spec_formats() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "bad.yaml",
        r#"defaults:
  intervall: 10s
  timeout: 5
notifiers:
  ops: { type: webhok }
hosts:
  - label: api
    url: http://api.example.com/
    regex: "(unclosed"
    statuss: 200
  - label: web
    url: ftp://web.example.com/
  - url: http://nolabel.example.com/
  - label: slow
    url: http://slow.example.com/
    interval: 5s
    timeout: 10s
"#,
    );
    sandbox.write("syntax.yaml", "hosts:\n  - label: a\n   url: x\n");
    let outcome = sandbox.run(&["check", "-c", "bad.yaml", "-c", "syntax.yaml"]);
    outcome.expect_code(2);
    assert!(outcome.stdout.is_empty(), "nothing on stdout: {outcome}");
    let lines = outcome.stderr_lines();

    // Positioned errors: `file:line:column: ...`.
    let positioned = [
        (
            "bad.yaml:2:3: ",
            &["unknown key `intervall`", "did you mean `interval`?"][..],
        ),
        ("bad.yaml:3:12: ", &["timeout", "duration"][..]),
        (
            "bad.yaml:10:5: ",
            &["unknown key `statuss`", "did you mean `status`?"][..],
        ),
        ("syntax.yaml:3:", &[][..]),
    ];
    // Semantic errors, at the value's line and column too (issue 12):
    // `file:line:column: hosts[N] (label "x").key: message`.
    let placed = [
        (
            "bad.yaml:5:16: notifiers.ops.type: ",
            &["webhok", "did you mean `webhook`"][..],
        ),
        (
            "bad.yaml:9:12: hosts[0] (label \"api\").regex: ",
            &["does not compile"][..],
        ),
        (
            "bad.yaml:12:10: hosts[1] (label \"web\").url: ",
            &["ftp://web.example.com/"][..],
        ),
        ("bad.yaml:13:5: hosts[2]: ", &["missing `label`"][..]),
        (
            "bad.yaml:17:14: hosts[3] (label \"slow\").timeout: ",
            &["longer than the interval"][..],
        ),
    ];
    for (prefix, fragments) in positioned.iter().chain(&placed) {
        let line = lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no error starting with {prefix:?}: {outcome}"));
        for fragment in *fragments {
            assert!(
                line.contains(fragment),
                "{fragment:?} missing from {line:?}"
            );
        }
    }
    assert_eq!(
        lines.len(),
        positioned.len() + placed.len(),
        "exactly these errors, one per line: {outcome}"
    );
}

#[test]
fn unset_environment_variable_is_an_error_naming_it() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "env.yaml",
        "hosts:\n  - label: api\n    url: http://api.example.com/\n    headers: { X-Key: \"${FS_UNSET_KEY}\" }\n",
    );
    let outcome = sandbox.run(&["check", "-c", "env.yaml"]);
    outcome.expect_code(2);
    let lines = outcome.stderr_lines();
    assert_eq!(lines.len(), 1, "{outcome}");
    assert!(
        lines[0].starts_with("env.yaml:4:") && lines[0].contains("FS_UNSET_KEY"),
        "{outcome}"
    );
}

#[test]
fn environment_defaults_and_literal_dollars_are_substituted() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "env.yaml",
        r#"
defaults:
  interval: ${FS_INTERVAL:-45s}
hosts:
  - label: ${FS_LABEL}
    url: http://${FS_HOST:-fallback.example.com}/price$$
    regex: 'total: \d+$'
"#,
    );
    let outcome = sandbox
        .flowstate()
        .args(&["check", "-c", "env.yaml"])
        .env("FS_LABEL", "from-env")
        .output();
    outcome.expect_code(0);
    let host = summary_line(&outcome, "from-env");
    assert!(
        host.contains("http://fallback.example.com/price$") && host.contains("45s"),
        "{outcome}"
    );
}

#[test]
fn missing_config_file_exits_2_naming_it() {
    let sandbox = Sandbox::new();
    let outcome = sandbox.run(&["check", "-c", "nowhere/missing.yaml"]);
    outcome.expect_code(2);
    assert!(
        outcome.stderr.starts_with("nowhere/missing.yaml: "),
        "{outcome}"
    );
    assert!(outcome.stdout.is_empty(), "{outcome}");
}

#[test]
fn flowstate_config_variable_is_used_without_c() {
    let sandbox = Sandbox::new();
    let path = sandbox.write(
        "elsewhere/config.yaml",
        "hosts:\n  - label: from-variable\n    url: http://a.example.com/\n",
    );
    sandbox.write(
        "flowstate.yaml",
        "hosts:\n  - label: from-working-directory\n    url: http://b.example.com/\n",
    );
    let outcome = sandbox
        .flowstate()
        .arg("check")
        .env("FLOWSTATE_CONFIG", path.to_str().unwrap())
        .output();
    outcome.expect_code(0);
    summary_line(&outcome, "from-variable");
    assert!(
        !outcome.stdout.contains("from-working-directory"),
        "{outcome}"
    );
}

#[test]
fn c_flag_wins_over_flowstate_config_variable() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "chosen.yaml",
        "hosts:\n  - label: chosen\n    url: http://a.example.com/\n",
    );
    let outcome = sandbox
        .flowstate()
        .args(&["check", "-c", "chosen.yaml"])
        .env("FLOWSTATE_CONFIG", "does-not-exist.yaml")
        .output();
    outcome.expect_code(0);
    summary_line(&outcome, "chosen");
}

#[test]
fn flowstate_yaml_in_the_working_directory_is_the_default() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        "hosts:\n  - label: default-file\n    url: http://a.example.com/\n",
    );
    let outcome = sandbox.run(&["check"]);
    outcome.expect_code(0);
    assert!(
        outcome
            .stdout
            .starts_with("configuration ok: 1 host, 0 notifiers from flowstate.yaml"),
        "{outcome}"
    );
    summary_line(&outcome, "default-file");
}

#[test]
fn no_config_anywhere_exits_2_naming_the_default_file() {
    let sandbox = Sandbox::new();
    let outcome = sandbox.run(&["check"]);
    outcome.expect_code(2);
    assert!(outcome.stderr.starts_with("flowstate.yaml: "), "{outcome}");
    assert!(
        outcome.stderr.contains("-c") && outcome.stderr.contains("FLOWSTATE_CONFIG"),
        "says how to name another file: {outcome}"
    );
}

#[test]
fn several_config_files_merge() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "base.yaml",
        "defaults:\n  interval: 15s\n  alerts: [console]\nnotifiers:\n  console: { type: stdout }\nhosts:\n  - label: one\n    url: http://one.example.com/\n",
    );
    sandbox.write(
        "more.yaml",
        "hosts:\n  - label: two\n    url: http://two.example.com/\n",
    );
    let outcome = sandbox.run(&["check", "-c", "base.yaml", "-c", "more.yaml"]);
    outcome.expect_code(0);
    assert!(
        outcome
            .stdout
            .starts_with("configuration ok: 2 hosts, 1 notifier from base.yaml, more.yaml"),
        "{outcome}"
    );
    let two = summary_line(&outcome, "two");
    assert!(
        two.contains("15s") && two.contains("console"),
        "defaults from one file apply to hosts of another: {two:?}"
    );
}

#[test]
fn duplicate_label_across_files_names_both_places() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "a.yaml",
        "hosts:\n  - label: api\n    url: http://one.example.com/\n",
    );
    sandbox.write(
        "b.yaml",
        "hosts:\n  - label: other\n    url: http://two.example.com/\n  - label: api\n    url: http://three.example.com/\n",
    );
    let outcome = sandbox.run(&["check", "-c", "a.yaml", "-c", "b.yaml"]);
    outcome.expect_code(2);
    let lines = outcome.stderr_lines();
    assert_eq!(lines.len(), 1, "{outcome}");
    assert!(
        lines[0].starts_with("b.yaml:4:12: hosts[1] (label \"api\")")
            && lines[0].contains("a.yaml:2:12: hosts[0]"),
        "{outcome}"
    );
}

#[test]
fn include_globs_are_relative_to_the_including_file() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "conf/main.yaml",
        "include: [\"hosts.d/*.yaml\"]\nhosts:\n  - label: main\n    url: http://main.example.com/\n",
    );
    sandbox.write(
        "conf/hosts.d/b.yaml",
        "hosts:\n  - label: bee\n    url: http://b.example.com/\n",
    );
    sandbox.write(
        "conf/hosts.d/a.yaml",
        "hosts:\n  - label: ay\n    url: http://a.example.com/\n",
    );
    sandbox.write(
        "conf/hosts.d/ignored.txt",
        "hosts:\n  - label: not-yaml\n    url: http://c.example.com/\n",
    );
    // Run from another directory: the glob is still found next to the file.
    let elsewhere = sandbox.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let outcome = sandbox
        .flowstate()
        .current_dir(&elsewhere)
        .args(&["check", "-c"])
        .arg(sandbox.path().join("conf/main.yaml"))
        .output();
    outcome.expect_code(0);
    assert!(
        outcome.stdout.starts_with("configuration ok: 3 hosts"),
        "{outcome}"
    );
    let labels: Vec<&str> = ["main", "ay", "bee"]
        .into_iter()
        .filter(|l| outcome.stdout.contains(&format!("  {l} ")))
        .collect();
    assert_eq!(labels, ["main", "ay", "bee"], "{outcome}");
    assert!(!outcome.stdout.contains("not-yaml"), "{outcome}");
    let position = |l: &str| outcome.stdout.find(&format!("  {l} ")).unwrap();
    assert!(
        position("main") < position("ay") && position("ay") < position("bee"),
        "including file first, then included files in name order: {outcome}"
    );
}

#[test]
fn include_of_a_missing_file_is_an_error() {
    let sandbox = Sandbox::new();
    sandbox.write("main.yaml", "include: [\"extra.yaml\"]\n");
    let outcome = sandbox.run(&["check", "-c", "main.yaml"]);
    outcome.expect_code(2);
    assert!(
        outcome.stderr.starts_with("main.yaml:1:11: include: ")
            && outcome.stderr.contains("extra.yaml"),
        "{outcome}"
    );
}

#[test]
fn bad_flags_exit_2() {
    let sandbox = Sandbox::new();
    sandbox.write("flowstate.yaml", "hosts: []\n");
    let outcome = sandbox.run(&["check", "--no-such-flag"]);
    outcome.expect_code(2);
    assert!(outcome.stderr.contains("--no-such-flag"), "{outcome}");
    sandbox.run(&["check", "-c"]).expect_code(2);
    sandbox.run(&["no-such-command"]).expect_code(2);
    sandbox.run(&[]).expect_code(2);
}

#[test]
fn errors_of_a_host_do_not_hide_its_other_errors() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "bad.yaml",
        r#"
hosts:
  - label: api
    url: http://api.example.com/
  - label: api
    url: http://other.example.com/
    regex: "(unclosed"
  - label: web
    url: http://web.example.com/
    status: nine
    alerts: [nobody]
"#,
    );
    let outcome = sandbox.run(&["check", "-c", "bad.yaml"]);
    outcome.expect_code(2);
    let stderr = &outcome.stderr;
    assert!(stderr.contains("does not compile"), "{outcome}");
    assert!(
        stderr.contains("bad.yaml:5:12: hosts[1] (label \"api\").label: ")
            && stderr.contains("already used"),
        "{outcome}"
    );
    assert!(stderr.contains("expected a status code"), "{outcome}");
    assert!(
        stderr.contains(
            "bad.yaml:11:14: hosts[2] (label \"web\").alerts[0]: no notifier named `nobody`"
        ),
        "{outcome}"
    );
    assert_eq!(outcome.stderr_lines().len(), 4, "{outcome}");
}

#[test]
fn duplicate_host_still_has_its_alerts_checked() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "bad.yaml",
        r#"
hosts:
  - label: api
    url: http://api.example.com/
  - label: api
    url: http://other.example.com/
    alerts: [nobody]
"#,
    );
    let outcome = sandbox.run(&["check", "-c", "bad.yaml"]);
    outcome.expect_code(2);
    assert!(outcome.stderr.contains("already used"), "{outcome}");
    assert!(
        outcome.stderr.contains("no notifier named `nobody`"),
        "{outcome}"
    );
}

#[test]
fn graph_draws_the_dependencies_and_refuses_a_cycle() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "deps.yaml",
        "hosts:\n  - { label: router, url: 'http://r.example/' }\n  - { label: api, url: 'http://api.example/', depends_on: [router] }\n",
    );
    let dot = sandbox.run(&["graph", "-c", "deps.yaml"]);
    dot.expect_code(0);
    assert!(dot.stdout.contains("  \"router\" -> \"api\";\n"), "{dot}");
    let mermaid = sandbox.run(&["graph", "-c", "deps.yaml", "--format", "mermaid"]);
    mermaid.expect_code(0);
    assert!(mermaid.stdout.contains("  h0 --> h1\n"), "{mermaid}");

    sandbox.write(
        "cycle.yaml",
        "hosts:\n  - { label: a, url: 'http://a.example/', depends_on: [b] }\n  - { label: b, url: 'http://b.example/', depends_on: [a] }\n",
    );
    let refused = sandbox.run(&["graph", "-c", "cycle.yaml"]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("cycle.yaml:2:")
            && refused
                .stderr
                .contains("dependencies form a cycle: a → b → a"),
        "{refused}"
    );
}

#[test]
fn summary_shows_what_shapes_alerts_groups_parents_flapping_windows_and_grouping() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "alerting.yaml",
        "notifiers:\n  ops: { type: stdout, group_by: [group], group_wait: 10s }\n\
         defaults: { alerts: [ops] }\n\
         maintenance:\n\
         \x20 - { name: weekly-db, hosts: ['db-*'], schedule: '0 3 * * SUN', duration: 2h, timezone: Europe/Berlin }\n\
         \x20 - { name: move, start: '2026-12-12T22:00:00+01:00', end: '2026-12-13T04:00:00+01:00' }\n\
         hosts:\n\
         \x20 - { label: router, type: tcp, address: '127.0.0.1:1' }\n\
         \x20 - { label: db-1, url: 'http://127.0.0.1:1/', depends_on: [router], group: payments, public: true, flapping: { window: 10 } }\n",
    );
    let outcome = sandbox.run(&["check", "-c", "alerting.yaml"]);
    outcome.expect_code(0);
    let out = &outcome.stdout;
    for expected in [
        "db-1: group payments; public; depends on router; flapping window 10, high 50%, low 25%",
        "weekly-db: hosts db-*, schedule 0 3 * * SUN, duration 2h, timezone Europe/Berlin",
        "move: every host, start 2026-12-12T21:00:00Z, end 2026-12-13T03:00:00Z",
        "grouped by group within 10s",
    ] {
        assert!(out.contains(expected), "{expected:?} missing:\n{outcome}");
    }
    assert!(
        !out.contains("router: "),
        "a host with nothing to say has no line:\n{outcome}"
    );
}
