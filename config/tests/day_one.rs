//! Day-one defects of issue 12 in the config layer, through the public API: wording of type
//! errors, bounded durations and nesting, include walks, redaction, and where errors point.

use flowstate_config::host::Secrets;
use flowstate_config::{load_str, Config, ConfigError, FingerprintKey};

mod common;

use common::{error, errors, one_host, try_load, FILE};

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

// 8. every duration is bounded at load -----------------------------------------------------

/// A file setting every duration key flowstate has to `value` (none other is wrong).
fn every_duration(value: &str) -> String {
    format!(
        r#"server:
  ready_max_lag: {value}
self_check:
  url: https://ping.example.com/x
  every: {value}
  timeout: {value}
defaults:
  interval: {value}
  timeout: {value}
  max_response_time: {value}
notifiers:
  ops:
    type: webhook
    url: https://hooks.example.com/x
    timeout: {value}
    cooldown: {value}
    remind_every: {value}
    backoff: {value}
    max_backoff: {value}
    max_age: {value}
  page:
    type: command
    command: [/bin/true]
    timeout: {value}
hosts:
  - label: api
    url: https://api.example.com/
    interval: {value}
    timeout: {value}
    max_response_time: {value}
    tls: {{ expiry_warning: {value}, expiry_check_every: {value} }}
"#
    )
}

/// The places of every duration key in [`every_duration`], in file order.
const DURATION_PLACES: &[&str] = &[
    "server.ready_max_lag",
    "self_check.every",
    "self_check.timeout",
    "defaults.interval",
    "defaults.timeout",
    "defaults.max_response_time",
    "notifiers.ops.timeout",
    "notifiers.ops.cooldown",
    "notifiers.ops.remind_every",
    "notifiers.ops.backoff",
    "notifiers.ops.max_backoff",
    "notifiers.ops.max_age",
    "notifiers.page.timeout",
    "hosts[0] (label \"api\").interval",
    "hosts[0] (label \"api\").timeout",
    "hosts[0] (label \"api\").max_response_time",
    "hosts[0] (label \"api\").tls.expiry_warning",
    "hosts[0] (label \"api\").tls.expiry_check_every",
];

#[test]
fn the_longest_duration_is_accepted_everywhere() {
    try_load(&every_duration("365d")).unwrap_or_else(|e| panic!("365d refused:\n{e}"));
}

#[test]
fn extreme_durations_are_refused_at_every_key_with_the_range() {
    for value in ["584000000000y", "366d", "99999999999999999999999y"] {
        let all = errors(&every_duration(value));
        assert_eq!(all.len(), DURATION_PLACES.len(), "{value}: {all:#?}");
        let mut places = Vec::new();
        for error in &all {
            let (location, rest) = error.split_once(": ").unwrap_or_else(|| panic!("{error}"));
            let mut parts = location.split(':');
            assert_eq!(parts.next(), Some(FILE), "{error}");
            let line: usize = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
            let column: usize = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
            assert!(line > 0 && column > 0, "no line:column in {error}");
            let (place, message) = rest.split_once(": ").unwrap_or_else(|| panic!("{error}"));
            assert_eq!(
                message,
                format!("`{value}` is too long: a duration must be longer than 0 and at most 365d"),
                "{error}"
            );
            places.push(place.to_string());
        }
        places.sort();
        let mut expected: Vec<String> = DURATION_PLACES.iter().map(|p| p.to_string()).collect();
        expected.sort();
        assert_eq!(places, expected, "{value}");
    }
}

// 6. `${...}` defaults nest boundedly -------------------------------------------------------

/// `${NOPE:-` `depth` times around `x`: a default inside a default inside ...
fn nested_defaults(depth: usize) -> String {
    format!("{}x{}", "${NOPE:-".repeat(depth), "}".repeat(depth))
}

#[test]
fn defaults_nested_up_to_the_limit_are_substituted() {
    let config = try_load(&one_host(&format!("body: '{}'", nested_defaults(16))))
        .unwrap_or_else(|e| panic!("{e}"));
    match &config.hosts()[0].check {
        flowstate_config::Check::Http(http) => assert_eq!(http.body.as_deref(), Some("x")),
        other => panic!("not HTTP: {other:?}"),
    }
}

#[test]
fn defaults_nested_too_deep_are_an_error_at_the_value() {
    assert_eq!(
        error(&one_host(&format!("body: '{}'", nested_defaults(17)))),
        r#"flowstate.yaml:4:11: hosts[0] (label "api").body: `${...}` is nested 17 levels deep; at most 16 are allowed: nest fewer defaults (`${A:-${B:-fallback}}` is 2 levels)"#
    );
}

#[test]
fn very_deep_defaults_are_refused_without_deep_recursion() {
    // 200 000 levels (1.8 MB) on a thread with a small stack: a loader that recursed once per
    // level would overflow it and abort the whole test binary.
    let yaml = one_host(&format!("body: '{}'", nested_defaults(200_000)));
    let outcome = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || errors(&yaml))
        .expect("start a thread")
        .join()
        .expect("the loader did not panic");
    assert_eq!(outcome.len(), 1, "{outcome:#?}");
    assert!(
        outcome[0].starts_with(r#"flowstate.yaml:4:11: hosts[0] (label "api").body: `${...}` is nested 200000 levels deep; at most 16"#),
        "{}",
        outcome[0]
    );
}

// 9. deeply nested YAML is refused before it is parsed ---------------------------------------

/// Runs `load` on a thread and waits for it at most `within`: a stall fails the test instead
/// of hanging the suite.
fn load_within(yaml: String, within: std::time::Duration) -> Result<Config, ConfigError> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(try_load(&yaml));
    });
    receiver
        .recv_timeout(within)
        .unwrap_or_else(|_| panic!("loading took longer than {within:?}"))
}

#[test]
fn deeply_nested_flow_yaml_is_refused_at_once_with_its_position() {
    // 160 000 `[` (156 KiB) took libyaml 32 s.
    let yaml = format!("hosts:\n  - label: api\n    url: {}\n", "[".repeat(160_000));
    let error = load_within(yaml, std::time::Duration::from_secs(10)).unwrap_err();
    let shown: Vec<String> = error.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["flowstate.yaml:3:71: lists and mappings are nested more than 64 levels deep here; flowstate accepts at most 64: flatten this part of the file"]
    );
}

#[test]
fn nesting_within_the_limit_still_loads() {
    // Three block levels (top mapping, hosts list, host mapping) and 61 flow levels inside a
    // regex string: quoted, so not nesting at all.
    let yaml = one_host(&format!("regex: '{}'", "[".repeat(1000)));
    let error = load_within(yaml, std::time::Duration::from_secs(10)).unwrap_err();
    assert!(
        error.diagnostics[0]
            .message
            .contains("regex does not compile"),
        "{error}"
    );
    let yaml = one_host(&format!(
        "headers: {{ X-A: {}1{} }}",
        "[".repeat(58),
        "]".repeat(58)
    ));
    let error = load_within(yaml, std::time::Duration::from_secs(10)).unwrap_err();
    assert!(
        error.diagnostics[0]
            .message
            .contains("expected a string, found a list"),
        "{error}"
    );
}

// 11. include globs walk symlink loops once --------------------------------------------------

#[test]
fn an_include_glob_through_a_symlink_loop_ends_and_reads_each_file_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path();
    let write = |relative: &str, text: &str| {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create directories");
        std::fs::write(path, text).expect("write a file");
    };
    write("main.yaml", "include: [\"hosts.d/**/*.yaml\"]\n");
    write(
        "hosts.d/a.yaml",
        "hosts:\n  - { label: a, url: http://a.example.com/ }\n",
    );
    write(
        "hosts.d/sub/b.yaml",
        "hosts:\n  - { label: b, url: http://b.example.com/ }\n",
    );
    write(
        "hosts.d/other/c.yaml",
        "hosts:\n  - { label: c, url: http://c.example.com/ }\n",
    );
    // `up` leads back to hosts.d, `self` to its own directory, `main` to the top: followed
    // blindly, `**` walks hosts.d/sub/up/sub/up/... until the path is too long.
    std::os::unix::fs::symlink("..", root.join("hosts.d/sub/up")).expect("a symlink");
    std::os::unix::fs::symlink(".", root.join("hosts.d/other/self")).expect("a symlink");
    std::os::unix::fs::symlink("../..", root.join("hosts.d/other/top")).expect("a symlink");

    let main = root.join("main.yaml");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(flowstate_config::load(&[main]));
    });
    let config = receiver
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the include walk ended within 10 s")
        .unwrap_or_else(|e| panic!("{e}"));
    let labels: Vec<&str> = config.hosts().iter().map(|h| &*h.label).collect();
    assert_eq!(labels, ["a", "c", "b"]);
}

#[test]
fn include_files_match_like_globs_and_follow_a_directory_symlink_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path();
    for relative in [
        "x/a.yaml",
        "x/b.yml",
        "x/y/c.yaml",
        "x/y/z/d.yaml",
        "x/.e.yaml",
        "w/f.yaml",
    ] {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create directories");
        std::fs::write(path, "").expect("write a file");
    }
    std::os::unix::fs::symlink("../w", root.join("x/link")).expect("a symlink");
    std::os::unix::fs::symlink("..", root.join("x/y/loop")).expect("a symlink");
    let matches = |pattern: &str| -> Vec<String> {
        flowstate_config::load::include_files(&root.join(pattern))
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .iter()
            .map(|p| {
                p.strip_prefix(root)
                    .expect("under the root")
                    .display()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(matches("x/*.yaml"), ["x/.e.yaml", "x/a.yaml"]);
    assert_eq!(matches("x/*/*.yaml"), ["x/link/f.yaml", "x/y/c.yaml"]);
    assert_eq!(
        matches("x/**/*.yaml"),
        [
            "x/.e.yaml",
            "x/a.yaml",
            "x/link/f.yaml",
            "x/y/c.yaml",
            "x/y/z/d.yaml"
        ]
    );
    assert_eq!(matches("x/y/z/d.yaml"), ["x/y/z/d.yaml"]);
    assert!(matches("x/none/*.yaml").is_empty());
    assert!(flowstate_config::load::include_files(&root.join("x/a**")).is_err());
}

// 14. every error has a line and column; errors are sorted by file and line -----------------

#[test]
fn semantic_errors_across_files_have_positions_and_come_in_file_and_line_order() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let main = dir.path().join("main.yaml");
    std::fs::write(
        &main,
        r#"include: ["hosts.d/*.yaml"]
defaults:
  interval: 0s
hosts:
  - label: api
    url: http://api.example.com/
  - label: db
    type: tcpp
  - label: ping
    type: icmp
    address: 10.0.0.1
    max_loss: 150%
"#,
    )
    .expect("write main.yaml");
    std::fs::create_dir(dir.path().join("hosts.d")).expect("create hosts.d");
    let extra = dir.path().join("hosts.d/extra.yaml");
    std::fs::write(
        &extra,
        r#"hosts:
  - label: cache
    type: tcp
    address: cache.internal
  - label: api
    url: http://other.example.com/
    alerts: [nobody]
"#,
    )
    .expect("write extra.yaml");
    let error = flowstate_config::load(std::slice::from_ref(&main)).unwrap_err();
    let shown: Vec<String> = error.diagnostics.iter().map(ToString::to_string).collect();
    let (main, extra) = (main.display(), extra.display());
    assert_eq!(
        shown,
        [
            format!("{main}:3:13: defaults.interval: must be longer than 0, found `0s`"),
            format!("{main}:8:11: hosts[1] (label \"db\").type: unknown check type `tcpp`; did you mean `tcp`?; supported: http, tcp, dns, icmp, script, grpc, or a plugin named `tcpp` defined under `plugins:`"),
            format!("{main}:12:15: hosts[2] (label \"ping\").max_loss: expected a percentage from 0% to 100%, e.g. `20%`"),
            format!("{extra}:4:14: hosts[0] (label \"cache\").address: `cache.internal` is not `host:port`; write e.g. `db.internal:5432` or `[::1]:443`"),
            format!("{extra}:5:12: hosts[1] (label \"api\").label: label \"api\" is already used by {main}:5:12: hosts[0]; labels must be unique"),
            format!("{extra}:7:14: hosts[1] (label \"api\").alerts[0]: no notifier named `nobody`; define it under `notifiers:`"),
        ]
    );
}

#[test]
fn errors_found_while_merging_point_at_their_values() {
    let yaml = r#"defaults:
  interval: 10s
  timeout: 20s
  alerts: [pager]
notifiers:
  ops: { type: stdout }
hosts:
  - label: api
    url: http://api.example.com/
    interval: 5s
  - label: web
    url: http://web.example.com/
    timeout: 30s
    alerts: opz
"#;
    assert_eq!(
        errors(yaml),
        [
            "flowstate.yaml:3:12: defaults.timeout: the timeout (20s) is longer than the interval (10s), so checks would pile up; set timeout to at most 10s",
            "flowstate.yaml:4:12: defaults.alerts[0]: no notifier named `pager`; defined notifiers: ops",
            r#"flowstate.yaml:10:15: hosts[0] (label "api").timeout: the timeout (20s) is longer than the interval (5s), so checks would pile up; set timeout to at most 5s"#,
            r#"flowstate.yaml:13:14: hosts[1] (label "web").timeout: the timeout (30s) is longer than the interval (10s), so checks would pile up; set timeout to at most 10s"#,
            r#"flowstate.yaml:14:13: hosts[1] (label "web").alerts[0]: no notifier named `opz`; did you mean `ops`?"#,
        ]
    );
}

#[test]
fn a_duplicate_in_a_large_file_names_both_lines() {
    let mut yaml = String::from("hosts:\n");
    for i in 0..20_001 {
        let label = if i == 20_000 { 7 } else { i };
        yaml.push_str(&format!(
            "  - {{ label: h{label}, type: tcp, address: 'h{i}:1', interval: 1h }}\n"
        ));
    }
    assert_eq!(
        error(&yaml),
        r#"flowstate.yaml:20002:14: hosts[20000] (label "h7").label: label "h7" is already used by flowstate.yaml:9:14: hosts[7]; labels must be unique"#
    );
}

// 12. values from `${VAR}` are redacted wherever they land in a URL --------------------------

/// The one host of `yaml`, loaded with `SECRET` (and `WHOLE_URL`) set to `secret`.
fn host_with_secret(
    yaml: &str,
    secret: &str,
) -> std::sync::Arc<flowstate_config::HostConfiguration> {
    let lookup = |name: &str| match name {
        "SECRET" => Some(secret.to_string()),
        "WHOLE_URL" => Some(format!("https://api.example.com/{secret}")),
        "PORT" => Some("8443".to_string()),
        _ => None,
    };
    let config = load_str(FILE, yaml, &lookup).unwrap_or_else(|e| panic!("{e}"));
    config.hosts()[0].clone()
}

const SECRET_URLS: &[&str] = &[
    "https://api.example.com/health?x=${SECRET}&region=eu",
    "https://api.example.com/${SECRET}/health",
    "https://bob:${SECRET}@api.example.com/health",
    "https://api.example.com/health#${SECRET}",
    "${WHOLE_URL}",
    "https://api.example.com:${PORT}/health",
];

#[test]
fn a_url_with_a_variable_is_shown_without_its_value() {
    let secret = "8080-hunter2-token";
    for url in SECRET_URLS {
        let host = host_with_secret(&one_host_at(url), secret);
        let shown = [
            host.check.target(),
            format!("{:?}", host.check),
            format!("{:?}", host.describe()),
        ];
        for text in shown {
            assert!(!text.contains("hunter2"), "{url}: {text}");
        }
    }
    let host = host_with_secret(&one_host_at(SECRET_URLS[0]), secret);
    assert_eq!(
        host.check.target(),
        "https://api.example.com/health?x=***&region=eu"
    );
    // When the masked text is no URL, none of it is shown.
    let host = host_with_secret(&one_host_at(SECRET_URLS[5]), secret);
    assert_eq!(host.check.target(), "***");
    let host = host_with_secret(&one_host_at(SECRET_URLS[1]), secret);
    assert_eq!(host.check.target(), "https://api.example.com/***/health");
    // The real URL is still what is requested.
    match &host.check {
        flowstate_config::Check::Http(http) => assert_eq!(
            http.url.as_str(),
            "https://api.example.com/8080-hunter2-token/health"
        ),
        other => panic!("not HTTP: {other:?}"),
    }
}

#[test]
fn a_url_error_does_not_repeat_a_variable() {
    let lookup = |name: &str| (name == "SECRET").then(|| "hunter2".to_string());
    let error = load_str(
        FILE,
        &one_host_at("ftp://files.example.com/?k=${SECRET}"),
        &lookup,
    )
    .unwrap_err()
    .to_string();
    assert!(!error.contains("hunter2"), "{error}");
    assert!(error.contains("ftp://files.example.com/?k=***"), "{error}");
}

/// A one-host file whose URL is `url`.
fn one_host_at(url: &str) -> String {
    format!("hosts:\n  - label: api\n    url: '{url}'\n")
}

// 10. fingerprints never hash a secret ------------------------------------------------------

/// A host with a secret in every place one can be: URL (from a variable), headers, basic
/// auth; and a script host with an environment.
fn secret_everywhere(secret: &str) -> Vec<std::sync::Arc<flowstate_config::HostConfiguration>> {
    let yaml = r#"hosts:
  - label: api
    url: 'https://api.example.com/health?x=${SECRET}'
    headers: { Authorization: "Bearer ${SECRET}", X-Trace: "${SECRET}", Accept: text/plain }
    auth: { basic: { username: bob, password: "${SECRET}" } }
  - label: token
    url: https://api.example.com/
    auth: { bearer: "${SECRET}" }
  - label: disk
    type: script
    command: [/usr/bin/check_disk, --token, "${SECRET}"]
    env: { TOKEN: "${SECRET}" }
"#;
    let lookup = |name: &str| (name == "SECRET").then(|| secret.to_string());
    let config = load_str(FILE, yaml, &lookup).unwrap_or_else(|e| panic!("{e}"));
    config.hosts().to_vec()
}

fn key() -> FingerprintKey {
    FingerprintKey::from_hex(&"5a".repeat(32)).unwrap()
}

#[test]
fn hidden_fingerprints_do_not_depend_on_secrets() {
    let one = secret_everywhere("first-secret-1");
    let two = secret_everywhere("second-secret-2");
    for (a, b) in one.iter().zip(&two) {
        assert_eq!(
            a.fingerprints(&key(), Secrets::Hidden),
            b.fingerprints(&key(), Secrets::Hidden),
            "{}",
            a.label
        );
        // And no fingerprint is that of a value holding the secret.
        let leaked: Vec<String> = a
            .settings()
            .into_iter()
            .filter(|(_, value)| value.contains("first-secret-1"))
            .map(|(_, value)| key().fingerprint(&value))
            .collect();
        for (name, fingerprint) in a.fingerprints(&key(), Secrets::Hidden) {
            assert!(!leaked.contains(&fingerprint), "{}: {name}", a.label);
        }
    }
}

#[test]
fn compared_fingerprints_tell_a_secret_change_and_every_key_gives_others() {
    let one = secret_everywhere("first-secret-1");
    let two = secret_everywhere("second-secret-2");
    for (a, b) in one.iter().zip(&two) {
        assert_ne!(
            a.fingerprints(&key(), Secrets::Compared),
            b.fingerprints(&key(), Secrets::Compared),
            "{}",
            a.label
        );
        let other = FingerprintKey::random().unwrap();
        for ((name, mine), (_, theirs)) in a
            .fingerprints(&key(), Secrets::Compared)
            .into_iter()
            .zip(a.fingerprints(&other, Secrets::Compared))
        {
            assert_ne!(mine, theirs, "{}: {name}", a.label);
        }
    }
}

#[test]
fn hidden_fingerprints_of_settings_without_secrets_still_tell_changes() {
    let hosts = secret_everywhere("first-secret-1");
    let api = &hosts[0];
    let hidden: std::collections::HashMap<&str, String> = api
        .fingerprints(&key(), Secrets::Hidden)
        .into_iter()
        .collect();
    for (name, value) in api.settings() {
        if !value.contains("first-secret-1") {
            assert_eq!(hidden[name], key().fingerprint(&value), "{name}");
        }
    }
    // A change to the visible part of a setting that holds a secret still shows.
    let a = host_with_secret(&one_host_at("https://a.example.com/?x=${SECRET}"), "s");
    let b = host_with_secret(&one_host_at("https://b.example.com/?x=${SECRET}"), "s");
    let url = |h: &flowstate_config::HostConfiguration| {
        h.fingerprints(&key(), Secrets::Hidden)
            .into_iter()
            .find(|(k, _)| *k == "url")
            .map(|(_, f)| f)
    };
    assert_ne!(url(&a), url(&b));
}
