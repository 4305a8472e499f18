//! Black-box tests of `flowstate-config` through its public API: what a valid file means, how
//! every kind of mistake is reported, `${VAR}` interpolation, includes across real files, and
//! that no secret ever reaches `Debug` or `describe()`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flowstate_config::notifier::{EventFormat, WebhookFormat};
use flowstate_config::{
    load_with_env, Check, Config, ConfigError, ExpectedStatus, HostConfiguration, HttpCheck,
    NotifierKind,
};

mod common;

use common::{env, error, errors, load, one_host, try_load, FILE};

/// The single host of a valid file.
fn only_host(yaml: &str) -> std::sync::Arc<HostConfiguration> {
    let config = load(yaml);
    assert_eq!(config.hosts().len(), 1);
    config.hosts()[0].clone()
}

fn http(host: &HostConfiguration) -> &HttpCheck {
    #[allow(unreachable_patterns)]
    match &host.check {
        Check::Http(http) => http,
        _ => panic!("{} is not an HTTP check", host.label),
    }
}

fn labels(config: &Config) -> Vec<&str> {
    config.hosts().iter().map(|h| &*h.label).collect()
}

fn header_list(host: &HostConfiguration) -> Vec<(String, String)> {
    http(host)
        .headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Writes `text` to `dir/relative`, creating directories, and returns the full path.
fn write(dir: &Path, relative: &str, text: &str) -> PathBuf {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn load_files(paths: &[impl AsRef<Path>]) -> Result<Config, ConfigError> {
    let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
    load_with_env(&paths, &env)
}

fn file_errors(paths: &[impl AsRef<Path>]) -> Vec<String> {
    match load_files(paths) {
        Ok(_) => panic!("expected errors, but the files loaded"),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn host_yaml(label: &str) -> String {
    format!("hosts:\n  - {{ label: {label}, url: 'http://{label}.example.com/' }}\n")
}

// ---------------------------------------------------------------------------------------------
// A complete valid configuration
// ---------------------------------------------------------------------------------------------

const FULL: &str = r#"server:
  listen: 127.0.0.1:9900
  token: ${FLOWSTATE_TOKEN}
state:
  path: /var/lib/flowstate/state.db
  history: 50
defaults:
  interval: 30s
  timeout: 10s
  failure_threshold: 3
  success_threshold: 2
  alerts: [console]
  headers: { User-Agent: flowstate, X-Env: prod }
notifiers:
  console: { type: stdout }
  audit:   { type: file, path: /var/log/flowstate/alerts.jsonl }
  ops:
    type: webhook
    url: https://hooks.example.com/flowstate
    headers: { Authorization: "Bearer ${HOOK_TOKEN}" }
    cooldown: 5m
    remind_every: 1h
    send_resolved: false
  pager:
    type: command
    command: [/usr/local/bin/page, --team, ops]
    timeout: 5s
hosts:
  - label: api
    url: https://api.example.com/health
    status: 200
    regex: '"ok":\s*true'
    method: get
    headers: { X-Key: "${API_KEY}", x-env: staging }
    interval: 10s
    timeout: 2s
    alerts: [ops, audit]
  - label: web
    url: http://web.example.com/
    status: [200, 204]
    failure_threshold: 5
  - label: static
    url: http://static.example.com/
    interval: 1m
    alerts: pager
"#;

#[test]
fn full_config_keeps_hosts_in_file_order() {
    let config = load(FULL);
    assert_eq!(labels(&config), ["api", "web", "static"]);
    for (i, host) in config.hosts().iter().enumerate() {
        assert_eq!(host.origin.index, i);
        assert_eq!(&*host.origin.file, Path::new(FILE));
        assert!(std::sync::Arc::ptr_eq(
            host,
            config.host(&host.label).unwrap()
        ));
    }
    assert!(config.host("nope").is_none());
    assert_eq!(config.sources, [PathBuf::from(FILE)]);
}

#[test]
fn full_config_reads_server_state_and_defaults() {
    let config = load(FULL);
    assert_eq!(
        config.server.listen,
        Some("127.0.0.1:9900".parse().unwrap())
    );
    assert_eq!(
        config.server.token.as_ref().unwrap().expose(),
        "srv-token-123"
    );
    assert_eq!(
        config.state.path.as_deref(),
        Some(Path::new("/var/lib/flowstate/state.db"))
    );
    assert_eq!(config.state.history, 50);
    let d = &config.defaults;
    assert_eq!((d.interval, d.timeout), (secs(30), secs(10)));
    assert!(d.timeout_is_explicit);
    assert_eq!((d.failure_threshold, d.success_threshold), (3, 2));
    assert_eq!(d.alerts, vec!["console".into()]);
    assert_eq!(d.headers.len(), 2);
}

#[test]
fn host_settings_override_defaults() {
    let config = load(FULL);
    let api = config.host("api").unwrap();
    assert_eq!(api.interval, secs(10));
    assert_eq!(api.timeout, secs(2));
    assert_eq!(api.failure_threshold, 3, "inherited");
    assert_eq!(api.success_threshold, 2, "inherited");
    assert_eq!(api.alerts, vec!["ops".into(), "audit".into()]);
    let check = http(api);
    assert_eq!(check.url.as_str(), "https://api.example.com/health");
    assert_eq!(check.method, "GET", "methods are uppercased");
    assert_eq!(check.status, ExpectedStatus::OneOf(vec![200]));
    let regex = check.regex.as_ref().expect("the regex is compiled at load");
    assert!(regex.is_match(r#"{"ok":  true}"#));
    assert!(!regex.is_match(r#"{"ok": false}"#));
    assert!(check.follow_redirects);
    assert_eq!(check.max_redirects, 10);
    assert_eq!(check.max_body_bytes, 1024 * 1024);
    assert_eq!(check.body, None);
}

#[test]
fn hosts_inherit_every_default_they_do_not_set() {
    let config = load(FULL);
    let web = config.host("web").unwrap();
    assert_eq!((web.interval, web.timeout), (secs(30), secs(10)));
    assert_eq!((web.failure_threshold, web.success_threshold), (5, 2));
    assert_eq!(web.alerts, vec!["console".into()]);
    assert_eq!(web.max_response_time, None);
    let check = http(web);
    assert_eq!(check.method, "GET");
    assert_eq!(check.status, ExpectedStatus::OneOf(vec![200, 204]));
    assert!(check.regex.is_none());

    let stat = config.host("static").unwrap();
    assert_eq!((stat.interval, stat.timeout), (secs(60), secs(10)));
    assert_eq!(http(stat).status, ExpectedStatus::AnySuccess);
    assert_eq!(
        stat.alerts,
        vec!["pager".into()],
        "a single name is a list of one"
    );
}

#[test]
fn host_headers_merge_with_default_headers_by_case_insensitive_name() {
    let config = load(FULL);
    assert_eq!(
        header_list(config.host("api").unwrap()),
        pairs(&[
            ("User-Agent", "flowstate"),
            ("X-Key", "env-api-key-789"),
            ("x-env", "staging"),
        ])
    );
    assert_eq!(
        header_list(config.host("web").unwrap()),
        pairs(&[("User-Agent", "flowstate"), ("X-Env", "prod")])
    );
}

#[test]
fn all_four_notifier_types_are_read() {
    let config = load(FULL);
    let names: Vec<&str> = config.notifiers.iter().map(|n| &*n.name).collect();
    assert_eq!(names, ["console", "audit", "ops", "pager"]);

    let console = config.notifier("console").unwrap();
    assert!(matches!(
        console.kind,
        NotifierKind::Stdout {
            format: EventFormat::Text
        }
    ));
    assert!(console.send_resolved, "send_resolved defaults to true");
    assert_eq!((console.cooldown, console.remind_every), (None, None));

    let audit = config.notifier("audit").unwrap();
    match &audit.kind {
        NotifierKind::File { path } => {
            assert_eq!(path, Path::new("/var/log/flowstate/alerts.jsonl"))
        }
        other => panic!("audit is {other:?}"),
    }

    let ops = config.notifier("ops").unwrap();
    assert_eq!(ops.cooldown, Some(secs(300)));
    assert_eq!(ops.remind_every, Some(secs(3600)));
    assert!(!ops.send_resolved);
    match &ops.kind {
        NotifierKind::Webhook(hook) => {
            assert_eq!(hook.url.as_str(), "https://hooks.example.com/flowstate");
            assert_eq!(hook.headers.len(), 1);
            assert_eq!(hook.headers[0].name, "Authorization");
            assert_eq!(hook.headers[0].value, "Bearer hook-token-456");
            assert_eq!(hook.format, WebhookFormat::Generic);
            assert_eq!(hook.timeout, secs(10));
            assert!(hook.routing_key.is_none());
        }
        other => panic!("ops is {other:?}"),
    }

    let pager = config.notifier("pager").unwrap();
    match &pager.kind {
        NotifierKind::Command(command) => {
            assert_eq!(command.argv, ["/usr/local/bin/page", "--team", "ops"]);
            assert_eq!(command.timeout, secs(5));
        }
        other => panic!("pager is {other:?}"),
    }
}

#[test]
fn an_empty_file_is_a_valid_empty_config() {
    let config = load("");
    assert!(config.hosts().is_empty());
    assert!(config.notifiers.is_empty());
    assert_eq!(
        config.server.listen,
        Some("127.0.0.1:9900".parse().unwrap())
    );
    assert_eq!(config.state.history, 100);
}

#[test]
fn listen_null_disables_the_api() {
    assert_eq!(load("server:\n  listen: null\n").server.listen, None);
    assert_eq!(
        load("server:\n  listen: localhost:9901\n").server.listen,
        Some("127.0.0.1:9901".parse().unwrap())
    );
}

#[test]
fn unset_timeout_shrinks_to_a_short_interval() {
    let host = only_host(&one_host("interval: 3s"));
    assert_eq!((host.interval, host.timeout), (secs(3), secs(3)));
}

#[test]
fn webhook_pagerduty_with_routing_key_is_valid() {
    let config = load(
        "notifiers:\n  pd: { type: webhook, url: 'https://events.pagerduty.com/v2/enqueue', format: pagerduty, routing_key: rk-1 }\n",
    );
    match &config.notifier("pd").unwrap().kind {
        NotifierKind::Webhook(hook) => {
            assert_eq!(hook.format, WebhookFormat::Pagerduty);
            assert_eq!(hook.routing_key.as_ref().unwrap().expose(), "rk-1");
        }
        other => panic!("pd is {other:?}"),
    }
}

/// SPEC §2's example, word for word.
const SPEC_EXAMPLE: &str = r#"include: ["hosts.d/*.yaml"]       # more files, globs relative to this file; merged
server:
  listen: 127.0.0.1:9900          # HTTP API, /metrics, /healthz; null disables it
  token: ${FLOWSTATE_TOKEN}       # optional bearer token for /api and /-/reload
state:
  path: /var/lib/flowstate/state.db   # optional: survive restarts (history, status, outbox)
  history: 100                    # check results kept per host
defaults:                         # every host inherits these unless it sets its own
  interval: 30s
  timeout: 10s
  failure_threshold: 3            # consecutive failed checks before a host is down
  success_threshold: 1            # consecutive passed checks before it is up again
  alerts: [console]
notifiers:
  console: { type: stdout }
  audit:   { type: file, path: /var/log/flowstate/alerts.jsonl }
  ops:
    type: webhook
    url: https://hooks.example.com/flowstate
    headers: { Authorization: "Bearer ${HOOK_TOKEN}" }
    cooldown: 5m                  # at most one alert per host per cooldown (recoveries excepted)
    remind_every: 1h              # repeat while still down; absent: never
    send_resolved: true
hosts:
  - label: api                    # unique, required; the host's identity across reloads
    url: https://api.example.com/health      # type http is implied by url
    status: 200                   # expected status; a list [200, 204] also; absent: any 2xx
    regex: '"ok":\s*true'         # the body must match
    method: GET
    headers: { X-Key: "${API_KEY}" }
    interval: 10s
    timeout: 2s
    alerts: [ops, audit]
"#;

#[test]
fn spec_example_loads_with_its_includes() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "flowstate.yaml", SPEC_EXAMPLE);
    write(
        dir.path(),
        "hosts.d/web.yaml",
        "hosts:\n  - label: web\n    url: http://web.example.com/\n",
    );
    let config = load_files(&[&main]).unwrap();
    assert_eq!(labels(&config), ["api", "web"]);
    let api = config.host("api").unwrap();
    assert_eq!((api.interval, api.timeout), (secs(10), secs(2)));
    assert_eq!(api.alerts, vec!["ops".into(), "audit".into()]);
    assert_eq!(header_list(api), pairs(&[("X-Key", "env-api-key-789")]));
    let web = config.host("web").unwrap();
    assert_eq!((web.interval, web.timeout), (secs(30), secs(10)));
    assert_eq!(web.alerts, vec!["console".into()]);
    assert_eq!(http(web).status, ExpectedStatus::AnySuccess);
    assert_eq!(config.notifiers.len(), 3);
}

#[test]
fn yaml_merge_keys_share_settings_between_hosts() {
    let config = load(
        "hosts:\n  - &base { label: a, url: 'http://a/', interval: 10s, failure_threshold: 2 }\n  - <<: *base\n    label: b\n",
    );
    assert_eq!(labels(&config), ["a", "b"]);
    let b = config.host("b").unwrap();
    assert_eq!((b.interval, b.failure_threshold), (secs(10), 2));
    assert_eq!(http(b).url.as_str(), "http://a/");
}

// ---------------------------------------------------------------------------------------------
// Syntax and type errors: `file:line:column: [place: ]message`
// ---------------------------------------------------------------------------------------------

#[test]
fn yaml_syntax_error_is_reported_at_line_and_column() {
    assert_eq!(
        error("hosts:\n  - label: a\n   url: b\n"),
        "flowstate.yaml:3:4: did not find expected '-' indicator, while parsing a block collection at line 2 column 3"
    );
}

#[test]
fn unclosed_flow_mapping_is_a_syntax_error() {
    let e = error("hosts:\n  - { label: a, url: http://x/\n");
    assert!(e.starts_with("flowstate.yaml:"), "{e}");
    let position = e.split(':').nth(1).unwrap();
    assert!(
        position.parse::<usize>().is_ok(),
        "a line number follows the file: {e}"
    );
}

#[test]
fn duplicate_yaml_key_is_an_error_at_its_mapping() {
    assert_eq!(
        error("hosts:\n  - label: a\n    url: http://a/\n    label: b\n"),
        r#"flowstate.yaml:2:5: hosts[0]: duplicate entry with key "label""#
    );
}

#[test]
fn several_yaml_documents_in_one_file_are_an_error() {
    let e = error("hosts: []\n---\nhosts: []\n");
    assert!(e.starts_with("flowstate.yaml: "), "{e}");
    assert!(e.contains("more than one document"), "{e}");
}

#[test]
fn quoted_number_is_a_type_error_at_the_value() {
    assert_eq!(
        error(&one_host("failure_threshold: \"5\"")),
        r#"flowstate.yaml:4:24: hosts[0] (label "api").failure_threshold: expected a whole number, found the string "5"; remove the quotes"#
    );
}

#[test]
fn duration_without_unit_is_a_type_error_with_a_hint() {
    assert_eq!(
        error(&one_host("interval: 5")),
        r#"flowstate.yaml:4:15: hosts[0] (label "api").interval: expected a duration with a unit, found the number 5; write it as 5s or 5ms"#
    );
}

#[test]
fn malformed_duration_is_a_type_error() {
    assert_eq!(
        error("defaults:\n  timeout: ten seconds\n"),
        "flowstate.yaml:2:12: defaults.timeout: `ten seconds` is not a duration; write it like 500ms, 10s, 5m, 1h or 14d"
    );
}

#[test]
fn fractional_and_negative_counts_are_type_errors() {
    let all = errors(&one_host("failure_threshold: 2.5\nsuccess_threshold: -1"));
    assert_eq!(
        all,
        [
            r#"flowstate.yaml:4:24: hosts[0] (label "api").failure_threshold: expected a whole number of at least 1, found the number 2.5"#,
            r#"flowstate.yaml:5:24: hosts[0] (label "api").success_threshold: expected a whole number of at least 1, found the number -1"#,
        ]
    );
}

#[test]
fn non_boolean_is_a_type_error() {
    assert_eq!(
        error(&one_host("follow_redirects: yes please")),
        r#"flowstate.yaml:4:23: hosts[0] (label "api").follow_redirects: expected true or false, found `yes please`"#
    );
}

#[test]
fn hosts_must_be_a_list() {
    assert_eq!(
        error("hosts:\n  label: api\n"),
        "flowstate.yaml:2:3: hosts: expected a list of hosts (lines starting with `- label:`), found a mapping"
    );
    assert_eq!(
        error(&one_host("status:\n  code: 200")),
        r#"flowstate.yaml:5:7: hosts[0] (label "api").status: expected a status code such as 200, found a mapping"#
    );
}

#[test]
fn a_host_must_be_a_mapping() {
    let e = error("hosts:\n  - api\n");
    assert_eq!(
        e,
        "flowstate.yaml:2:5: hosts[0]: expected a host (a mapping with `label:` and `url:`), found the string \"api\""
    );
}

#[test]
fn string_status_is_a_type_error() {
    assert_eq!(
        error(&one_host("status: ok")),
        r#"flowstate.yaml:4:13: hosts[0] (label "api").status: expected a status code such as 200, found the string "ok""#
    );
}

// ---------------------------------------------------------------------------------------------
// Unknown keys: at the key's line and column, with a suggestion where one is close
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_key_suggests_closest() {
    assert_eq!(
        error(&one_host("intervall: 10s")),
        r#"flowstate.yaml:4:5: hosts[0] (label "api").intervall: unknown key `intervall`; did you mean `interval`?"#
    );
}

#[test]
fn unknown_top_level_key_suggests_closest() {
    assert_eq!(
        error("host:\n  - label: api\n"),
        "flowstate.yaml:1:1: host: unknown key `host`; did you mean `hosts`?"
    );
}

#[test]
fn unknown_key_without_close_match_lists_known_keys() {
    assert_eq!(
        error("server:\n  banana: 1\n"),
        "flowstate.yaml:2:3: server.banana: unknown key `banana`; known keys here: listen, token, ready_max_lag"
    );
}

#[test]
fn unknown_keys_in_defaults_and_notifiers_are_found() {
    let all =
        errors("defaults:\n  timout: 1s\nnotifiers:\n  console: { type: stdout, formt: json }\n");
    assert_eq!(
        all,
        [
            "flowstate.yaml:2:3: defaults.timout: unknown key `timout`; did you mean `timeout`?",
            "flowstate.yaml:4:28: notifiers.console.formt: unknown key `formt`; did you mean `format`?",
        ]
    );
}

#[test]
fn http_only_key_in_defaults_is_unknown_there() {
    let e = error("defaults:\n  url: http://x/\n");
    assert!(
        e.starts_with("flowstate.yaml:2:3: defaults.url: unknown key `url`"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Semantic errors: `file: place: message`, no line and column
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_label_is_an_error() {
    assert_eq!(
        error("hosts:\n  - url: http://x/\n"),
        "flowstate.yaml:2:5: hosts[0]: missing `label`; every host needs a unique label, e.g. `label: api`"
    );
}

#[test]
fn empty_label_is_an_error() {
    assert_eq!(
        error("hosts:\n  - { label: '', url: 'http://x/' }\n"),
        r#"flowstate.yaml:2:14: hosts[0] (label "").label: the label is empty; give the host a unique name"#
    );
}

#[test]
fn label_with_surrounding_spaces_is_an_error() {
    let e = error("hosts:\n  - { label: ' api', url: 'http://x/' }\n");
    assert!(
        e.starts_with(r#"flowstate.yaml:2:14: hosts[0] (label " api").label: labels cannot start or end with spaces"#),
        "{e}"
    );
}

#[test]
fn duplicate_label_names_both_places() {
    let yaml = "hosts:\n  - { label: api, url: 'http://a/' }\n  - { label: web, url: 'http://b/' }\n  - { label: api, url: 'http://c/' }\n";
    assert_eq!(
        error(yaml),
        r#"flowstate.yaml:4:14: hosts[2] (label "api").label: label "api" is already used by flowstate.yaml:2:14: hosts[0]; labels must be unique"#
    );
}

#[test]
fn duplicate_label_is_found_even_when_the_first_host_has_other_errors() {
    let yaml =
        "hosts:\n  - { label: api, url: 'ftp://a/' }\n  - { label: api, url: 'http://c/' }\n";
    let all = errors(yaml);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[0].starts_with(r#"flowstate.yaml:2:24: hosts[0] (label "api").url:"#),
        "{all:#?}"
    );
    assert_eq!(
        all[1],
        r#"flowstate.yaml:3:14: hosts[1] (label "api").label: label "api" is already used by flowstate.yaml:2:14: hosts[0]; labels must be unique"#
    );
}

#[test]
fn alerts_of_a_host_with_other_errors_are_still_checked() {
    let yaml = format!(
        "notifiers:\n  ops: {{ type: stdout }}\n{}",
        one_host("status: 42\nalerts: [opz]")
    );
    assert_eq!(
        errors(&yaml),
        [
            r#"flowstate.yaml:6:13: hosts[0] (label "api").status: 42 is not an HTTP status code; use a number from 100 to 599"#,
            r#"flowstate.yaml:7:14: hosts[0] (label "api").alerts[0]: no notifier named `opz`; did you mean `ops`?"#,
        ]
    );
}

#[test]
fn missing_url_is_an_error() {
    assert_eq!(
        error("hosts:\n  - label: api\n"),
        r#"flowstate.yaml:2:5: hosts[0] (label "api"): missing `url`; an HTTP check needs `url: https://host/path`"#
    );
}

#[test]
fn url_must_be_http_or_https() {
    assert_eq!(
        error("hosts:\n  - { label: api, url: 'ftp://files.example.com/x' }\n"),
        r#"flowstate.yaml:2:24: hosts[0] (label "api").url: `ftp://files.example.com/x` is not an http or https URL; write it as http://host/path or https://host/path"#
    );
}

#[test]
fn unparsable_url_is_an_error() {
    let e = error("hosts:\n  - { label: api, url: 'not a url' }\n");
    assert!(
        e.starts_with(r#"flowstate.yaml:2:24: hosts[0] (label "api").url: not a valid URL ("#),
        "{e}"
    );
    let e = error("hosts:\n  - { label: api, url: 'http://' }\n");
    assert!(e.contains("not a valid URL"), "{e}");
}

#[test]
fn status_codes_must_be_between_100_and_599() {
    assert_eq!(
        error(&one_host("status: 600")),
        r#"flowstate.yaml:4:13: hosts[0] (label "api").status: 600 is not an HTTP status code; use a number from 100 to 599"#
    );
    assert_eq!(
        errors(&one_host("status: [200, 99, 1000]")),
        [
            r#"flowstate.yaml:4:19: hosts[0] (label "api").status[1]: 99 is not an HTTP status code; use a number from 100 to 599"#,
            r#"flowstate.yaml:4:23: hosts[0] (label "api").status[2]: 1000 is not an HTTP status code; use a number from 100 to 599"#,
        ]
    );
    let host = only_host(&one_host("status: [100, 599]"));
    assert_eq!(http(&host).status, ExpectedStatus::OneOf(vec![100, 599]));
}

#[test]
fn empty_status_list_is_an_error() {
    assert_eq!(
        error(&one_host("status: []")),
        r#"flowstate.yaml:4:13: hosts[0] (label "api").status: the list is empty; remove `status` to accept any 2xx"#
    );
}

#[test]
fn regex_that_does_not_compile_is_an_error() {
    let e = error(&one_host("regex: '\"ok\": ('"));
    assert!(
        e.starts_with(
            r#"flowstate.yaml:4:12: hosts[0] (label "api").regex: the regex does not compile: "#
        ),
        "{e}"
    );
    assert!(
        e.contains("unclosed group"),
        "the regex crate's reason is kept: {e}"
    );
    assert!(!e.contains('\n'), "one line per error: {e:?}");
}

#[test]
fn invalid_method_is_an_error() {
    assert_eq!(
        error(&one_host("method: 'GET /'")),
        r#"flowstate.yaml:4:13: hosts[0] (label "api").method: `GET /` is not an HTTP method; use GET, HEAD, POST, PUT, ..."#
    );
}

#[test]
fn zero_durations_are_errors() {
    assert_eq!(
        errors(&one_host("interval: 0s\ntimeout: 0ms")),
        [
            r#"flowstate.yaml:4:15: hosts[0] (label "api").interval: must be longer than 0, found `0s`"#,
            r#"flowstate.yaml:5:14: hosts[0] (label "api").timeout: must be longer than 0, found `0ms`"#,
        ]
    );
    assert_eq!(
        error("notifiers:\n  ops: { type: stdout, cooldown: 0s }\n"),
        "flowstate.yaml:2:34: notifiers.ops.cooldown: must be longer than 0, found `0s`"
    );
}

#[test]
fn zero_thresholds_are_errors() {
    assert_eq!(
        errors("defaults:\n  failure_threshold: 0\n  success_threshold: 0\n"),
        [
            "flowstate.yaml:2:22: defaults.failure_threshold: must be at least 1, found 0",
            "flowstate.yaml:3:22: defaults.success_threshold: must be at least 1, found 0",
        ]
    );
    assert_eq!(
        error(&one_host("failure_threshold: 0")),
        r#"flowstate.yaml:4:24: hosts[0] (label "api").failure_threshold: must be at least 1, found 0"#
    );
    assert_eq!(
        error("state:\n  history: 0\n"),
        "flowstate.yaml:2:12: state.history: must be at least 1, found 0"
    );
}

#[test]
fn alert_to_undefined_notifier_suggests_closest() {
    let yaml = format!(
        "notifiers:\n  ops: {{ type: stdout }}\n{}",
        one_host("alerts: [ops, opz]")
    );
    assert_eq!(
        error(&yaml),
        r#"flowstate.yaml:6:19: hosts[0] (label "api").alerts[1]: no notifier named `opz`; did you mean `ops`?"#
    );
}

#[test]
fn alert_to_undefined_notifier_lists_defined_ones() {
    let yaml = "notifiers:\n  ops: { type: stdout }\ndefaults:\n  alerts: [pagerduty]\n";
    assert_eq!(
        error(yaml),
        "flowstate.yaml:4:12: defaults.alerts[0]: no notifier named `pagerduty`; defined notifiers: ops"
    );
    assert_eq!(
        error("defaults:\n  alerts: ops\n"),
        "flowstate.yaml:2:11: defaults.alerts[0]: no notifier named `ops`; define it under `notifiers:`"
    );
}

#[test]
fn unknown_notifier_type_suggests_closest() {
    assert_eq!(
        error("notifiers:\n  ops: { type: webhok }\n"),
        "flowstate.yaml:2:16: notifiers.ops.type: unknown notifier type `webhok`; did you mean `webhook`?; use one of stdout, file, webhook, command, alertmanager, email, or a plugin named `webhok` defined under `plugins:`"
    );
}

#[test]
fn notifier_without_type_is_an_error() {
    assert_eq!(
        error("notifiers:\n  ops: { url: 'https://x/' }\n"),
        "flowstate.yaml:2:8: notifiers.ops: missing `type`; use one of stdout, file, webhook, command, alertmanager, email"
    );
}

#[test]
fn notifiers_missing_their_required_keys_are_errors() {
    let all = errors(
        "notifiers:\n  a: { type: file }\n  b: { type: webhook }\n  c: { type: command }\n  d: { type: command, command: [] }\n",
    );
    assert_eq!(
        all,
        [
            "flowstate.yaml:2:6: notifiers.a: missing `path`: the file events are appended to",
            "flowstate.yaml:3:6: notifiers.b: missing `url`: where events are posted",
            "flowstate.yaml:4:6: notifiers.c: missing `command`: the program and its arguments, as a list",
            "flowstate.yaml:5:32: notifiers.d.command: the command is empty; give the program and its arguments as a list",
        ]
    );
}

#[test]
fn webhook_pagerduty_needs_routing_key() {
    assert_eq!(
        error("notifiers:\n  pd: { type: webhook, url: 'https://events.pagerduty.com/v2/enqueue', format: pagerduty }\n"),
        "flowstate.yaml:2:7: notifiers.pd: format pagerduty needs `routing_key`: the integration key of a PagerDuty Events API v2 service"
    );
}

#[test]
fn alert_to_an_invalid_notifier_reports_only_the_notifier() {
    let yaml = format!(
        "notifiers:\n  pd: {{ type: webhook, url: 'https://events.pagerduty.com/v2/enqueue', format: pagerduty }}\n{}",
        one_host("alerts: [pd]")
    );
    let e = error(&yaml);
    assert!(
        e.starts_with("flowstate.yaml:2:7: notifiers.pd: format pagerduty needs"),
        "{e}"
    );
}

#[test]
fn unknown_webhook_format_suggests_closest() {
    assert_eq!(
        error("notifiers:\n  s: { type: webhook, url: 'https://hooks.slack.com/x', format: slak }\n"),
        "flowstate.yaml:2:65: notifiers.s.format: unknown webhook format `slak`; did you mean `slack`?; use one of generic, slack, discord, pagerduty, incidentio, teams, telegram, ntfy, gotify, matrix"
    );
}

#[test]
fn webhook_url_must_be_http() {
    assert_eq!(
        error("notifiers:\n  w: { type: webhook, url: 'mailto:ops@example.com' }\n"),
        "flowstate.yaml:2:28: notifiers.w.url: `mailto:ops@example.com` is not an http or https URL; write it as http://host/path or https://host/path"
    );
}

#[test]
fn explicit_timeout_longer_than_interval_is_an_error() {
    assert_eq!(
        error(&one_host("interval: 5s\ntimeout: 10s")),
        r#"flowstate.yaml:5:14: hosts[0] (label "api").timeout: the timeout (10s) is longer than the interval (5s), so checks would pile up; set timeout to at most 5s"#
    );
}

#[test]
fn default_timeout_longer_than_a_hosts_own_interval_is_an_error() {
    let yaml = format!("defaults:\n  timeout: 20s\n{}", one_host("interval: 10s"));
    assert_eq!(
        error(&yaml),
        r#"flowstate.yaml:6:15: hosts[0] (label "api").timeout: the timeout (20s) is longer than the interval (10s), so checks would pile up; set timeout to at most 10s"#
    );
}

#[test]
fn timeout_longer_than_interval_in_defaults_is_reported_once() {
    let yaml = "defaults:\n  interval: 10s\n  timeout: 20s\nhosts:\n  - { label: a, url: 'http://a/' }\n  - { label: b, url: 'http://b/' }\n  - { label: slow, url: 'http://c/', interval: 1m }\n";
    assert_eq!(
        error(yaml),
        "flowstate.yaml:3:12: defaults.timeout: the timeout (20s) is longer than the interval (10s), so checks would pile up; set timeout to at most 10s"
    );
}

#[test]
fn a_tcp_host_needs_an_address_and_rejects_http_keys() {
    let all = errors("hosts:\n  - { label: db, type: tcp, url: 'http://db/' }\n");
    assert_eq!(
        all,
        [
            r#"flowstate.yaml:2:5: hosts[0] (label "db"): missing `address`; a TCP check needs `address: host:port`"#,
            r#"flowstate.yaml:2:29: hosts[0] (label "db").url: unknown key `url`; known keys here: label, type, interval, timeout, failure_threshold, success_threshold, max_response_time, alerts, group, public, depends_on, flapping, locations, address, send, expect"#,
        ]
    );
}

#[test]
fn unknown_check_type_suggests_closest() {
    assert_eq!(
        error("hosts:\n  - { label: db, type: htp, url: 'http://x/' }\n"),
        r#"flowstate.yaml:2:24: hosts[0] (label "db").type: unknown check type `htp`; did you mean `http`?; supported: http, tcp, dns, icmp, script, grpc, or a plugin named `htp` defined under `plugins:`"#
    );
}

#[test]
fn explicit_http_type_is_accepted() {
    let host = only_host("hosts:\n  - { label: a, type: http, url: 'http://a/' }\n");
    assert_eq!(host.check.kind(), "http");
}

#[test]
fn invalid_listen_address_is_an_error() {
    let e = error("server:\n  listen: 9900\n");
    assert!(
        e.starts_with("flowstate.yaml:2:11: server.listen: `9900` is not an address"),
        "{e}"
    );
}

#[test]
fn header_value_with_line_break_is_an_error() {
    let e = error(&one_host("headers: { X-Data: \"${MULTILINE}\" }"));
    assert_eq!(
        e,
        r#"flowstate.yaml:4:24: hosts[0] (label "api").headers.X-Data: header values cannot contain line breaks"#
    );
}

#[test]
fn invalid_header_name_is_an_error_at_the_key() {
    let e = error(&one_host("headers: { 'X Key': v }"));
    assert!(
        e.starts_with(r#"flowstate.yaml:4:16: hosts[0] (label "api").headers.X Key: `X Key` is not a valid header name"#),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Every error is reported, not just the first
// ---------------------------------------------------------------------------------------------

#[test]
fn every_error_in_a_file_is_reported() {
    let yaml = r#"defaults:
  intervall: 10s
  failure_threshold: 0
notifiers:
  ops: { type: webhook, url: 'https://hooks.example.com/x', format: pagerduty }
  console: { type: stdot }
hosts:
  - label: api
    url: ftp://x/
    status: 700
    regex: "("
  - label: web
    url: http://web/
    interval: 5
    alerts: [opz]
  - url: http://nolabel/
  - label: web
    url: http://web2/
    type: tcpp
"#;
    let all = errors(yaml);
    assert_eq!(
        all,
        [
            "flowstate.yaml:2:3: defaults.intervall: unknown key `intervall`; did you mean `interval`?",
            "flowstate.yaml:3:22: defaults.failure_threshold: must be at least 1, found 0",
            "flowstate.yaml:5:8: notifiers.ops: format pagerduty needs `routing_key`: the integration key of a PagerDuty Events API v2 service",
            "flowstate.yaml:6:20: notifiers.console.type: unknown notifier type `stdot`; did you mean `stdout`?; use one of stdout, file, webhook, command, alertmanager, email, or a plugin named `stdot` defined under `plugins:`",
            r#"flowstate.yaml:9:10: hosts[0] (label "api").url: `ftp://x/` is not an http or https URL; write it as http://host/path or https://host/path"#,
            r#"flowstate.yaml:10:13: hosts[0] (label "api").status: 700 is not an HTTP status code; use a number from 100 to 599"#,
            r#"flowstate.yaml:11:12: hosts[0] (label "api").regex: the regex does not compile: unclosed group"#,
            r#"flowstate.yaml:14:15: hosts[1] (label "web").interval: expected a duration with a unit, found the number 5; write it as 5s or 5ms"#,
            r#"flowstate.yaml:15:14: hosts[1] (label "web").alerts[0]: no notifier named `opz`; did you mean `ops`?"#,
            "flowstate.yaml:16:5: hosts[2]: missing `label`; every host needs a unique label, e.g. `label: api`",
            r#"flowstate.yaml:19:11: hosts[3] (label "web").type: unknown check type `tcpp`; did you mean `tcp`?; supported: http, tcp, dns, icmp, script, grpc, or a plugin named `tcpp` defined under `plugins:`"#,
        ],
        "got:\n{}",
        all.join("\n")
    );
}

#[test]
fn config_error_display_lists_one_error_per_line() {
    let err = try_load(&one_host("intervall: 1s\nstatus: 700")).unwrap_err();
    assert_eq!(err.diagnostics.len(), 2);
    let shown = err.to_string();
    assert_eq!(shown.lines().count(), 2, "{shown}");
    for (line, d) in shown.lines().zip(&err.diagnostics) {
        assert_eq!(line, d.to_string());
    }
}

#[test]
fn diagnostics_carry_file_place_and_position_as_data() {
    let err = try_load(&one_host("intervall: 1s\nstatus: 700")).unwrap_err();
    let [unknown, status] = &err.diagnostics[..] else {
        panic!("{err}")
    };
    assert_eq!(unknown.file, Path::new(FILE));
    assert_eq!(unknown.place, r#"hosts[0] (label "api").intervall"#);
    let position = unknown.position.expect("unknown keys have a position");
    assert_eq!((position.line, position.column), (4, 5));
    assert_eq!(status.place, r#"hosts[0] (label "api").status"#);
    let position = status
        .position
        .expect("semantic errors have a position too");
    assert_eq!((position.line, position.column), (5, 13));
}

// ---------------------------------------------------------------------------------------------
// ${VAR} interpolation
// ---------------------------------------------------------------------------------------------

#[test]
fn variables_are_substituted_in_string_values() {
    let host = only_host(
        "hosts:\n  - label: api\n    url: https://${API_HOST}/health\n    headers: { X-Key: \"${API_KEY}\" }\n",
    );
    assert_eq!(http(&host).url.as_str(), "https://api.example.com/health");
    assert_eq!(header_list(&host), pairs(&[("X-Key", "env-api-key-789")]));
}

#[test]
fn default_applies_when_variable_unset_or_empty() {
    let host = only_host(
        "hosts:\n  - label: api\n    url: http://${MISSING:-localhost}:8080/${EMPTY:-health}\n",
    );
    assert_eq!(http(&host).url.as_str(), "http://localhost:8080/health");
}

#[test]
fn unset_variable_is_an_error_naming_it_and_its_place() {
    assert_eq!(
        error("hosts:\n  - label: api\n    url: https://${MISSING_HOST}/\n"),
        r#"flowstate.yaml:3:10: hosts[0] (label "api").url: environment variable MISSING_HOST is not set; set it, or give a default with ${MISSING_HOST:-default}"#
    );
}

#[test]
fn unset_variable_with_message_shows_the_message() {
    assert_eq!(
        error("server:\n  token: ${TOKEN:?ask ops for the API token}\n"),
        "flowstate.yaml:2:10: server.token: environment variable TOKEN is not set: ask ops for the API token"
    );
}

#[test]
fn every_unset_variable_is_reported() {
    let all = errors(&one_host(
        "headers: { A: \"${ONE}\", B: \"${TWO}\" }\nbody: ${THREE}",
    ));
    assert_eq!(all.len(), 3, "{all:#?}");
    for (name, place) in [
        ("ONE", "headers.A"),
        ("TWO", "headers.B"),
        ("THREE", "body"),
    ] {
        assert!(
            all.iter().any(|e| e.contains(&format!(
                "(label \"api\").{place}: environment variable {name} is not set"
            ))),
            "{name} at {place}: {all:#?}"
        );
    }
}

#[test]
fn double_dollar_is_a_literal_dollar() {
    let host = only_host(&one_host("body: 'price: $$5, $${NOT_A_VAR}'\nregex: 'ok$'"));
    assert_eq!(http(&host).body.as_deref(), Some("price: $5, ${NOT_A_VAR}"));
    assert_eq!(http(&host).regex.as_ref().unwrap().as_str(), "ok$");
}

#[test]
fn value_that_looks_like_a_comment_arrives_exact() {
    let host = only_host(&one_host(
        "body: \"${COMMENTISH}\"\nheaders: { X-Note: 'a: b # c' }",
    ));
    assert_eq!(http(&host).body.as_deref(), Some("a: b # c"));
    assert_eq!(header_list(&host), pairs(&[("X-Note", "a: b # c")]));
}

#[test]
fn substituted_yaml_is_never_parsed() {
    let host = only_host(
        "hosts:\n  - label: ${FLOWY}\n    url: http://x/\n    body: ${MULTILINE}\n    headers: { X-Data: \"${FLOWY}\" }\n",
    );
    assert_eq!(&*host.label, "{x: 1}");
    assert_eq!(http(&host).body.as_deref(), Some("a\nb: c"));
    assert_eq!(header_list(&host), pairs(&[("X-Data", "{x: 1}")]));
}

#[test]
fn substituted_value_is_not_interpolated_again() {
    let host = only_host(&one_host("body: ${INDIRECT}"));
    assert_eq!(http(&host).body.as_deref(), Some("${API_KEY}"));
}

#[test]
fn numeric_and_boolean_fields_accept_variables() {
    let yaml = "state:\n  history: ${THRESHOLD}\n".to_string()
        + &one_host(
            "failure_threshold: ${THRESHOLD}\ninterval: ${INTERVAL}\nstatus: ${CODE}\nfollow_redirects: ${NO}\nmax_redirects: ${THRESHOLD}",
        );
    let config = load(&yaml);
    assert_eq!(config.state.history, 4);
    let host = &config.hosts()[0];
    assert_eq!(host.failure_threshold, 4);
    assert_eq!(host.interval, secs(15));
    assert_eq!(http(host).status, ExpectedStatus::OneOf(vec![204]));
    assert!(!http(host).follow_redirects);
    assert_eq!(http(host).max_redirects, 4);
}

#[test]
fn status_list_accepts_variables() {
    let host = only_host(&one_host("status: [200, \"${CODE}\"]"));
    assert_eq!(http(&host).status, ExpectedStatus::OneOf(vec![200, 204]));
}

#[test]
fn variable_that_is_not_a_number_is_a_type_error() {
    assert_eq!(
        error(&one_host("failure_threshold: ${WORD}")),
        r#"flowstate.yaml:4:24: hosts[0] (label "api").failure_threshold: expected a whole number of at least 1, found the string "${WORD}""#
    );
    let e = error(&one_host("status: ${WORD}"));
    assert!(
        e.starts_with(
            r#"flowstate.yaml:4:13: hosts[0] (label "api").status: expected a status code"#
        ),
        "{e}"
    );
}

#[test]
fn malformed_variable_reference_is_an_error() {
    let e = error(&one_host("body: 'x ${API_KEY'"));
    assert!(
        e.starts_with(r#"flowstate.yaml:4:11: hosts[0] (label "api").body: unterminated `${`"#),
        "{e}"
    );
}

#[test]
fn empty_token_from_environment_means_no_token() {
    let config = load("server:\n  token: ${EMPTY}\n");
    assert!(config.server.token.is_none());
}

// ---------------------------------------------------------------------------------------------
// Includes and several -c files, with real files
// ---------------------------------------------------------------------------------------------

#[test]
fn include_glob_is_relative_to_the_including_file() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "etc/flowstate.yaml",
        "include: [\"hosts.d/*.yaml\"]\nnotifiers:\n  console: { type: stdout }\ndefaults:\n  alerts: [console]\n",
    );
    let b = write(dir.path(), "etc/hosts.d/b.yaml", &host_yaml("b"));
    let a = write(dir.path(), "etc/hosts.d/a.yaml", &host_yaml("a"));
    write(dir.path(), "etc/hosts.d/notes.txt", "not yaml: [");
    write(dir.path(), "hosts.d/decoy.yaml", &host_yaml("decoy"));

    let config = load_files(&[&main]).unwrap();
    assert_eq!(
        labels(&config),
        ["a", "b"],
        "included files are read in sorted order"
    );
    assert_eq!(config.sources, [main.clone(), a.clone(), b]);
    assert_eq!(
        config.include_globs,
        [dir.path().join("etc/hosts.d/*.yaml")]
    );
    let host_a = config.host("a").unwrap();
    assert_eq!(&*host_a.origin.file, a.as_path());
    assert_eq!(
        host_a.alerts,
        vec!["console".into()],
        "defaults apply across files"
    );
}

#[test]
fn several_config_files_merge() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(
        dir.path(),
        "one.yaml",
        "notifiers:\n  ops: { type: stdout }\nhosts:\n  - { label: one, url: 'http://one/' }\n",
    );
    let second = write(
        dir.path(),
        "two.yaml",
        "defaults:\n  interval: 20s\nhosts:\n  - { label: two, url: 'http://two/', alerts: [ops] }\n",
    );
    let config = load_files(&[&first, &second]).unwrap();
    assert_eq!(labels(&config), ["one", "two"]);
    assert_eq!(config.sources, [first, second]);
    assert_eq!(
        config.host("one").unwrap().interval,
        secs(20),
        "defaults from a later file"
    );
    assert_eq!(config.host("two").unwrap().alerts, vec!["ops".into()]);
}

#[test]
fn included_files_may_include_further_files() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "main.yaml", "include: [sub/mid.yaml]\n");
    write(
        dir.path(),
        "sub/mid.yaml",
        &format!("include: [deep/*.yaml]\n{}", host_yaml("mid")),
    );
    write(dir.path(), "sub/deep/leaf.yaml", &host_yaml("leaf"));
    let config = load_files(&[&main]).unwrap();
    assert_eq!(labels(&config), ["mid", "leaf"]);
    assert_eq!(config.sources.len(), 3);
}

#[test]
fn file_reached_twice_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "main.yaml", "include: [a.yaml, b.yaml]\n");
    write(dir.path(), "a.yaml", "include: [shared.yaml]\n");
    write(dir.path(), "b.yaml", "include: [shared.yaml]\n");
    write(dir.path(), "shared.yaml", &host_yaml("shared"));
    let config = load_files(&[&main, &main]).unwrap();
    assert_eq!(labels(&config), ["shared"]);
    assert_eq!(config.sources.len(), 4);
}

#[test]
fn include_cycle_is_an_error_naming_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.yaml",
        &format!("include: [b.yaml]\n{}", host_yaml("a")),
    );
    let b = write(dir.path(), "b.yaml", "include: [c.yaml]\n");
    let c = write(dir.path(), "c.yaml", "include: [a.yaml]\n");
    let all = file_errors(&[&a]);
    assert_eq!(
        all,
        [format!(
            "{}:1:11: include: include cycle: {} → {} → {} → {}; remove one of these includes",
            c.display(),
            a.display(),
            b.display(),
            c.display(),
            a.display()
        )]
    );
}

#[test]
fn file_including_itself_is_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.yaml", "include: [a.yaml]\n");
    let e = file_errors(&[&a]);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].contains("include cycle"), "{e:#?}");
}

#[test]
fn missing_include_without_glob_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "main.yaml", "include: [missing.yaml]\n");
    assert_eq!(
        file_errors(&[&main]),
        [format!(
            "{}:1:11: include: `missing.yaml` does not exist (looked for {}); fix the path, which is relative to this file",
            main.display(),
            dir.path().join("missing.yaml").display()
        )]
    );
}

#[test]
fn invalid_include_glob_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "main.yaml", "include: ['conf[.d/*.yaml']\n");
    let e = file_errors(&[&main]);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].starts_with(&format!(
            "{}:1:11: include: `conf[.d/*.yaml` is not a valid glob",
            main.display()
        )),
        "{e:#?}"
    );
}

#[test]
fn glob_matching_nothing_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.yaml",
        &format!("include: [\"conf.d/*.yaml\"]\n{}", host_yaml("only")),
    );
    let config = load_files(&[&main]).unwrap();
    assert_eq!(labels(&config), ["only"]);
    assert_eq!(config.sources, [main]);
    assert_eq!(config.include_globs, [dir.path().join("conf.d/*.yaml")]);
}

#[test]
fn missing_config_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let e = file_errors(&[&missing]);
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(&format!("{}: cannot read this file:", missing.display())),
        "{e:#?}"
    );
}

#[test]
fn label_duplicated_across_files_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.yaml",
        &format!("include: [extra.yaml]\n{}", host_yaml("api")),
    );
    let extra = write(dir.path(), "extra.yaml", &host_yaml("api"));
    assert_eq!(
        file_errors(&[&main]),
        [format!(
            "{}:2:14: hosts[0] (label \"api\").label: label \"api\" is already used by {}:3:14: hosts[0]; labels must be unique",
            extra.display(),
            main.display()
        )]
    );
}

#[test]
fn sections_set_in_two_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let one = write(
        dir.path(),
        "one.yaml",
        "server:\n  listen: 127.0.0.1:1\ndefaults:\n  interval: 10s\nnotifiers:\n  ops: { type: stdout }\n",
    );
    let two = write(
        dir.path(),
        "two.yaml",
        "server:\n  listen: 127.0.0.1:2\ndefaults:\n  interval: 20s\nnotifiers:\n  ops: { type: stdout }\n",
    );
    let (o, t) = (one.display(), two.display());
    assert_eq!(
        file_errors(&[&one, &two]),
        [
            format!("{t}:1:1: server: `server` is already set in {o}:1:1; keep it in one file"),
            format!("{t}:3:1: defaults: `defaults` is already set in {o}:3:1; keep it in one file"),
            format!(
                "{t}:6:3: notifiers.ops: notifier `ops` is already defined in {o}:6:3; rename one of them"
            ),
        ]
    );
}

#[test]
fn errors_in_several_files_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.yaml",
        "include: [\"*.d/*.yaml\"]\nhosts:\n  - { label: a, url: 'http://a/', intervall: 1s }\n",
    );
    let broken = write(dir.path(), "x.d/broken.yaml", "hosts: [\n");
    let bad = write(
        dir.path(),
        "y.d/bad.yaml",
        "hosts:\n  - { label: b, url: 'http://b/', status: 42 }\n",
    );
    let all = file_errors(&[&main]);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(
        all[0].starts_with(&format!("{}:3:35: ", main.display())),
        "{all:#?}"
    );
    assert!(
        all[1].starts_with(&format!("{}:", broken.display())),
        "{all:#?}"
    );
    assert_eq!(
        all[2],
        format!(
            "{}:2:43: hosts[0] (label \"b\").status: 42 is not an HTTP status code; use a number from 100 to 599",
            bad.display()
        )
    );
}

#[test]
fn relative_paths_in_a_file_are_taken_from_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "etc/main.yaml",
        "state:\n  path: state.db\nnotifiers:\n  audit: { type: file, path: log/alerts.jsonl }\n",
    );
    let config = load_files(&[&main]).unwrap();
    assert_eq!(config.state.path, Some(dir.path().join("etc/state.db")));
    match &config.notifier("audit").unwrap().kind {
        NotifierKind::File { path } => assert_eq!(path, &dir.path().join("etc/log/alerts.jsonl")),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets never reach Debug, describe() or error messages
// ---------------------------------------------------------------------------------------------

const SECRETS: &str = r#"server:
  token: literal-server-token
defaults:
  headers: { Authorization: "Bearer default-bearer" }
notifiers:
  slack:
    type: webhook
    url: https://hooks.slack.com/services/T000/B000/webhookpathtoken
    format: slack
    headers: { X-Hook-Trace: "${TRACE_ID}" }
  pd:
    type: webhook
    url: https://events.pagerduty.com/v2/enqueue
    format: pagerduty
    routing_key: pd-routing-key
hosts:
  - label: api
    url: https://bob:userinfo-password@api.example.com/health?api_key=query-secret&x=1
    headers:
      Authorization: "Bearer host-bearer"
      X-Trace: "${TRACE_ID}"
    alerts: [slack, pd]
"#;

const SECRET_VALUES: &[&str] = &[
    "literal-server-token",
    "default-bearer",
    "webhookpathtoken",
    "T000/B000",
    "env-trace-value",
    "pd-routing-key",
    "userinfo-password",
    "query-secret",
    "host-bearer",
];

fn assert_no_secret(text: &str, what: &str) {
    for secret in SECRET_VALUES {
        assert!(!text.contains(secret), "{what} shows `{secret}`:\n{text}");
    }
}

#[test]
fn config_debug_never_shows_secrets() {
    let config = load(SECRETS);
    assert_no_secret(&format!("{config:?}"), "Debug of Config");
    assert_no_secret(&format!("{config:#?}"), "pretty Debug of Config");
    for notifier in &config.notifiers {
        assert_no_secret(&format!("{notifier:?}"), "Debug of a notifier");
        assert_no_secret(&notifier.kind.target(), "a notifier's target");
    }
    let debug = format!("{config:?}");
    assert!(debug.contains("https://hooks.slack.com/***"), "{debug}");
    // The values are still there for the code that sends them.
    assert_eq!(
        config.server.token.as_ref().unwrap().expose(),
        "literal-server-token"
    );
}

#[test]
fn host_describe_never_shows_secrets() {
    let config = load(SECRETS);
    let host = config.host("api").unwrap();
    let described: Vec<String> = host
        .describe()
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let described = described.join("\n");
    assert_no_secret(&described, "describe()");
    assert_no_secret(&format!("{host:?}"), "Debug of a host");
    assert_no_secret(&host.check.target(), "a host's target");
    assert!(described.contains("api.example.com"), "{described}");
    assert!(described.contains("Authorization: ***"), "{described}");
    assert!(described.contains("X-Trace: ***"), "{described}");
    // settings() keeps the real values: reloads compare them.
    let raw: Vec<String> = host.settings().into_iter().map(|(_, v)| v).collect();
    assert!(raw.join("\n").contains("host-bearer"));
}

#[test]
fn error_messages_never_show_url_passwords() {
    let all = errors(
        "hosts:\n  - { label: a, url: 'ftp://bob:pw-in-ftp-url@files.example.com/' }\n  - { label: b, url: 'http://bob:pw-in-bad-url@' }\n",
    );
    assert_eq!(all.len(), 2, "{all:#?}");
    for e in &all {
        assert!(!e.contains("pw-in-"), "{e}");
    }
}

#[test]
fn error_messages_never_show_substituted_secrets() {
    let all = errors(
        "hosts:\n  - label: a\n    url: http://a/\n    failure_threshold: ${API_KEY}\n    status: ${API_KEY}\n",
    );
    assert_eq!(all.len(), 2, "{all:#?}");
    for e in &all {
        assert!(!e.contains("env-api-key-789"), "{e}");
    }
}

#[test]
fn a_glob_beside_the_including_file_skips_that_file_itself() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.yaml",
        "include: ['*.yaml']\nhosts:\n  - { label: a, url: 'http://x/' }\n",
    );
    write(
        dir.path(),
        "more.yaml",
        "hosts:\n  - { label: b, url: 'http://y/' }\n",
    );
    let config = load_files(&[&main]).unwrap();
    assert_eq!(labels(&config), ["a", "b"]);
}

#[test]
fn retry_settings_default_and_can_be_set_on_every_notifier_type() {
    let config = load(
        "notifiers:\n  plain: { type: stdout }\n  hook: { type: webhook, url: 'http://127.0.0.1:9/x', backoff: 250ms, max_backoff: 1m, max_age: 2h }\n  page: { type: command, command: [page], max_age: 10m }\n",
    );
    let plain = config.notifier("plain").unwrap();
    assert_eq!(plain.retry, flowstate_config::RetryPolicy::default());
    assert_eq!(plain.retry.backoff, secs(1));
    assert_eq!(plain.retry.max_backoff, secs(300));
    assert_eq!(plain.retry.max_age, secs(24 * 3600));
    let hook = config.notifier("hook").unwrap();
    assert_eq!(hook.retry.backoff, Duration::from_millis(250));
    assert_eq!(hook.retry.max_backoff, secs(60));
    assert_eq!(hook.retry.max_age, secs(7200));
    assert_eq!(config.notifier("page").unwrap().retry.max_age, secs(600));
}

#[test]
fn a_backoff_longer_than_max_backoff_is_an_error_naming_both() {
    let message =
        error("notifiers:\n  hook: { type: webhook, url: 'http://127.0.0.1:9/x', backoff: 10m }\n");
    assert!(
        message.contains("notifiers.hook.max_backoff")
            || message.contains("notifiers.hook.backoff"),
        "{message}"
    );
    assert!(
        message.contains("backoff (10m) is longer than max_backoff (5m)"),
        "{message}"
    );
}

#[test]
fn a_zero_backoff_is_an_error() {
    let message = error("notifiers:\n  hook: { type: stdout, backoff: 0s }\n");
    assert!(message.contains("notifiers.hook.backoff"), "{message}");
    assert!(message.contains("must be longer than 0"), "{message}");
}

#[test]
fn a_misspelt_retry_key_gets_a_suggestion() {
    let message = error("notifiers:\n  hook: { type: stdout, max_backof: 1m }\n");
    assert!(message.contains("max_backoff"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Check types beyond HTTP, and HTTP's auth / tls / version / keepalive
// ---------------------------------------------------------------------------------------------

#[test]
fn every_check_type_reads_its_own_keys() {
    use flowstate_config::{Check, DnsRecord, HttpAuth, HttpVersion};
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "certs/ca.pem", "-----BEGIN CERTIFICATE-----\n");
    let file = write(
        dir.path(),
        "flowstate.yaml",
        r#"hosts:
  - { label: web, url: 'https://web/', auth: { basic: { username: mon, password: pw } }, tls: { ca_file: certs/ca.pem, expiry_warning: 7d }, http_version: "2", keepalive: true }
  - { label: db, type: tcp, address: 'db:5432', send: "PING\r\n", expect: '^\+PONG' }
  - { label: dns, type: dns, name: example.com, record: mx, resolver: 127.0.0.1, expect: [mail.example.com] }
  - { label: gw, type: icmp, address: 10.0.0.1, count: 5, max_loss: 20% }
  - { label: disk, type: script, command: [./check_disk, -w, "20%"], env: { LC_ALL: C } }
  - { label: rpc, type: grpc, address: 'rpc:50051', service: orders.v1.Orders, tls: { insecure: true } }
"#,
    );
    let config = load_files(&[&file]).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<&str> = config.hosts().iter().map(|h| h.check.kind()).collect();
    assert_eq!(kinds, ["http", "tcp", "dns", "icmp", "script", "grpc"]);
    let Check::Http(web) = &config.host("web").unwrap().check else {
        panic!()
    };
    assert!(
        matches!(&web.auth, Some(HttpAuth::Basic { username, password }) if username == "mon" && password.expose() == "pw")
    );
    assert_eq!(
        web.tls.ca_file.as_deref(),
        Some(dir.path().join("certs/ca.pem").as_path())
    );
    assert_eq!(web.tls.expiry_warning, secs(7 * 86_400));
    assert_eq!((web.http_version, web.keepalive), (HttpVersion::Two, true));
    let Check::Tcp(db) = &config.host("db").unwrap().check else {
        panic!()
    };
    assert_eq!(
        (db.address.as_str(), db.send.as_deref()),
        ("db:5432", Some("PING\r\n"))
    );
    let Check::Dns(dns) = &config.host("dns").unwrap().check else {
        panic!()
    };
    assert_eq!(dns.record, DnsRecord::Mx);
    assert_eq!(
        dns.resolver.map(|r| r.to_string()).as_deref(),
        Some("127.0.0.1:53")
    );
    let Check::Icmp(gw) = &config.host("gw").unwrap().check else {
        panic!()
    };
    assert_eq!((gw.count, gw.max_loss), (5, 20.0));
    let Check::Script(disk) = &config.host("disk").unwrap().check else {
        panic!()
    };
    assert_eq!(
        disk.argv[0],
        dir.path().join("check_disk").display().to_string(),
        "relative to the file"
    );
    assert_eq!(disk.env, [("LC_ALL".to_string(), "C".to_string())]);
    let Check::Grpc(rpc) = &config.host("rpc").unwrap().check else {
        panic!()
    };
    assert!(rpc.tls.as_ref().is_some_and(|t| t.insecure));
}

#[test]
fn check_type_errors_name_the_place_and_the_fix() {
    let all = errors(
        r#"hosts:
  - { label: a, type: tcp, address: 'db' }
  - { label: b, type: dns, name: example.com, record: AAA }
  - { label: c, type: icmp, address: 10.0.0.1, max_loss: 120% }
  - { label: d, type: script, command: [] }
  - { label: e, url: 'https://e/', auth: { basic: { username: u, password: p }, bearer: t } }
  - { label: f, url: 'http://f/', http_version: "2" }
  - { label: g, url: 'https://g/', tls: { ca_file: missing.pem } }
  - { label: h, type: dns, name: example.com, resolver: 'not an ip' }
"#,
    );
    let expected = [
        r#"hosts[0] (label "a").address: `db` is not `host:port`"#,
        r#"hosts[1] (label "b").record: unknown record type `AAA`; did you mean `AAAA`?"#,
        r#"hosts[2] (label "c").max_loss: expected a percentage from 0% to 100%"#,
        r#"hosts[3] (label "d").command: the command is empty"#,
        r#"hosts[4] (label "e").auth: use either `basic` or `bearer`, not both"#,
        r#"hosts[5] (label "f").http_version: HTTP/2 is negotiated over TLS here"#,
        r#"hosts[6] (label "g").tls.ca_file: "#,
        r#"hosts[7] (label "h").resolver: `not an ip` is not `ip:port`"#,
    ];
    assert_eq!(all.len(), expected.len(), "got:\n{}", all.join("\n"));
    for (error, part) in all.iter().zip(expected) {
        assert!(
            error.contains(part),
            "expected {part:?} in {error:?}\nall:\n{}",
            all.join("\n")
        );
    }
}

#[test]
fn secrets_of_new_keys_never_show_in_descriptions() {
    let config = load(
        "hosts:\n  - { label: a, url: 'https://a/', auth: { bearer: tok-123 } }\n  - { label: b, type: script, command: [check, --token, tok-456], env: { API_KEY: key-789 } }\n",
    );
    for host in config.hosts() {
        let shown = format!("{:?} {:?}", host.describe(), host.check);
        for secret in ["tok-123", "key-789"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let described = format!("{:?}", host.describe());
        assert!(!described.contains("tok-456"), "{described}");
    }
}

#[test]
fn relative_programs_are_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "conf/flowstate.yaml",
        "notifiers:\n  page: { type: command, command: [./bin/page, --team, ops] }\n  bare: { type: command, command: [notify-send] }\nhosts:\n  - { label: s, type: script, command: [scripts/check.sh] }\n",
    );
    let config = load_files(&[&file]).unwrap_or_else(|e| panic!("{e}"));
    let conf = dir.path().join("conf");
    let argv0 = |name: &str| match &config.notifier(name).unwrap().kind {
        NotifierKind::Command(c) => c.argv[0].clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(argv0("page"), conf.join("bin/page").display().to_string());
    assert_eq!(
        argv0("bare"),
        "notify-send",
        "a bare name is looked up in PATH"
    );
    let flowstate_config::Check::Script(s) = &config.host("s").unwrap().check else {
        panic!()
    };
    assert_eq!(
        s.argv[0],
        conf.join("scripts/check.sh").display().to_string()
    );
}

#[test]
fn state_history_settings_default_to_a_week_raw_and_90_days_in_all() {
    let config = load("state: { path: s.db }\nhosts: []\n");
    assert_eq!(config.state.retention, secs(90 * 86_400));
    assert_eq!(config.state.raw_retention, secs(7 * 86_400));
    let config = load("state: { path: s.db, retention: 30d, raw_retention: 2d }\nhosts: []\n");
    assert_eq!(
        (config.state.retention, config.state.raw_retention),
        (secs(30 * 86_400), secs(2 * 86_400))
    );
}

#[test]
fn raw_retention_beyond_retention_or_under_an_hour_is_refused_with_the_fix() {
    let longer = error("state: { path: s.db, retention: 1d, raw_retention: 2d }\nhosts: []\n");
    assert!(
        longer.contains("state.raw_retention (2days) is longer than state.retention (1day)")
            && longer.contains("lower raw_retention or raise retention"),
        "{longer}"
    );
    let short = error("state: { path: s.db, raw_retention: 10m }\nhosts: []\n");
    assert!(
        short.contains("state.raw_retention must be at least 1h (it is 10m); raise it"),
        "{short}"
    );
}

#[test]
fn a_postgres_url_is_read_and_never_shown_with_its_password() {
    let config = load("state: { url: 'postgres://fs:s3cret-pw@db:5432/flowstate' }\nhosts: []\n");
    let url = config.state.url.as_ref().expect("url read");
    assert_eq!(url.expose(), "postgres://fs:s3cret-pw@db:5432/flowstate");
    assert!(!url.shown().contains("s3cret-pw"), "{}", url.shown());
    assert!(!format!("{config:?}").contains("s3cret-pw"));
}

#[test]
fn state_url_errors_name_the_fix_and_hide_the_password() {
    let not_pg = error("state: { url: 'mysql://fs:s3cret-pw@db/flowstate' }\nhosts: []\n");
    assert!(
        not_pg.contains("state.url") && not_pg.contains("write it as postgres://"),
        "{not_pg}"
    );
    assert!(!not_pg.contains("s3cret-pw"), "{not_pg}");
    let both = error("state: { path: s.db, url: 'postgres://db/flowstate' }\nhosts: []\n");
    assert!(
        both.contains("state.path and state.url are both set; keep one"),
        "{both}"
    );
}

#[test]
fn public_hosts_and_the_status_page_are_read() {
    let config = load(
        "status_page:\n  title: Acme status\n  show_reasons: true\n  groups:\n    - { name: API, hosts: [api] }\n\
         hosts:\n  - { label: api, url: 'http://a.example/', public: true }\n  - { label: db, url: 'http://b.example/' }\n",
    );
    assert!(config.host("api").unwrap().public);
    assert!(!config.host("db").unwrap().public, "private unless said");
    let page = &config.status_page;
    assert_eq!(page.title, "Acme status");
    assert!(page.show_reasons);
    assert_eq!(page.groups.len(), 1);
    assert_eq!(
        (
            page.groups[0].name.as_str(),
            page.groups[0].hosts.as_slice()
        ),
        ("API", &["api".to_string()][..])
    );
    assert_eq!(load("hosts: []\n").status_page.title, "Service status");
}

#[test]
fn a_status_page_group_never_publishes_a_private_or_unknown_host() {
    let private = error(
        "status_page:\n  groups:\n    - { name: API, hosts: [db] }\nhosts:\n  - { label: db, url: 'http://b.example/' }\n",
    );
    assert!(
        private.contains("status_page.groups[0].hosts[0]")
            && private.contains("host `db` is not public; add `public: true`"),
        "{private}"
    );
    assert!(private.contains(":3:"), "the line of the entry: {private}");
    let unknown = error(
        "status_page:\n  groups:\n    - { name: API, hosts: [apj] }\nhosts:\n  - { label: api, url: 'http://a.example/', public: true }\n",
    );
    assert!(
        unknown.contains("no host is labelled `apj`") && unknown.contains("api"),
        "{unknown}"
    );
}

#[test]
fn depends_on_reads_parents_and_redundancy_groups() {
    let config = load(
        "hosts:\n  - { label: isp-a, url: 'http://a/' }\n  - { label: isp-b, url: 'http://b/' }\n\
         \x20 - { label: router, url: 'http://r/', depends_on: [{ any: [isp-a, isp-b] }] }\n\
         \x20 - { label: api, url: 'http://api/', depends_on: router }\n",
    );
    use flowstate_config::dependencies::Dependency;
    assert_eq!(
        config.host("api").unwrap().depends_on,
        [Dependency::Host("router".into())]
    );
    assert_eq!(
        config.host("router").unwrap().depends_on,
        [Dependency::AnyOf(vec!["isp-a".into(), "isp-b".into()])]
    );
    assert!(config.host("isp-a").unwrap().depends_on.is_empty());
}

#[test]
fn unknown_parents_self_dependencies_and_cycles_are_named_where_written() {
    let unknown = error("hosts:\n  - { label: api, url: 'http://api/', depends_on: [routr] }\n  - { label: router, url: 'http://r/' }\n");
    assert!(
        unknown.starts_with("flowstate.yaml:2:")
            && unknown.contains("hosts[0] (label \"api\").depends_on[0]")
            && unknown.contains("no host is labelled `routr`")
            && unknown.contains("router"),
        "{unknown}"
    );
    let own = error("hosts:\n  - { label: api, url: 'http://api/', depends_on: [api] }\n");
    assert!(own.contains("`api` depends on itself"), "{own}");
    let cycle = error(
        "hosts:\n  - { label: a, url: 'http://a/', depends_on: [b] }\n  - { label: b, url: 'http://b/', depends_on: [{ any: [c, a] }] }\n  - { label: c, url: 'http://c/' }\n",
    );
    assert!(
        cycle.contains("dependencies form a cycle: a → b → a")
            && cycle.contains("remove one of these entries"),
        "{cycle}"
    );
    let lonely = error("hosts:\n  - { label: a, url: 'http://a/', depends_on: [{ any: [b] }] }\n  - { label: b, url: 'http://b/' }\n");
    assert!(
        lonely.contains("a redundancy group needs two or more hosts"),
        "{lonely}"
    );
}
