//! Nagios plugins as `type: script` checks (issue 18): Debian's `monitoring-plugins-basic`
//! (`check_tcp`, `check_http`, `check_dummy`) against loopback servers, and a shell one-liner
//! with long output. Their performance data shows in the host API's `last_check` and as
//! `flowstate_check_perfdata`, normalised; the detail stays the plugin's status text.
//!
//! The plugins are required: `.ci/run` installs them (they land in `/usr/lib/nagios/plugins`).

use std::path::Path;

use serde_json::Value;

use crate::common::configs::{document_serving, item};
use crate::common::scrape::{metrics, wait_for_sample};
use crate::common::{start, Response, TestServer};

const PLUGINS: &str = "/usr/lib/nagios/plugins";

/// The full path of a plugin, which must be installed.
#[track_caller]
fn plugin(name: &str) -> String {
    let path = Path::new(PLUGINS).join(name);
    assert!(
        path.exists(),
        "{} is missing: these tests need Debian's monitoring-plugins-basic \
         (`apt-get install monitoring-plugins-basic`, as .ci/run does)",
        path.display()
    );
    path.display().to_string()
}

/// A `type: script` host list item running `argv` (each quoted for YAML).
fn script_host(label: &str, argv: &[&str]) -> String {
    let argv: Vec<String> = argv
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "''")))
        .collect();
    item(
        label,
        &format!("type: script\ncommand: [{}]", argv.join(", ")),
    )
}

/// The `last_check.perfdata` item labelled `label`.
#[track_caller]
fn perf<'a>(host: &'a Value, label: &str) -> &'a Value {
    host["last_check"]["perfdata"]
        .as_array()
        .and_then(|values| values.iter().find(|v| v["label"] == label))
        .unwrap_or_else(|| panic!("no perfdata {label:?} in {host:#}"))
}

#[test]
fn plugin_performance_data_reaches_the_api_and_metrics() {
    let target = TestServer::always(Response::ok("healthy"));
    let port = target.port().to_string();
    let one_liner =
        r#"printf '%s\n' "OK - fine | 'disk free'=2GB;;;0 bad=U" "more text | rt=250ms;500;1000""#;
    let config = document_serving(
        "listen: \"127.0.0.1:0\"",
        "",
        "interval: 1s, timeout: 900ms, failure_threshold: 1, success_threshold: 1",
        &[
            script_host(
                "tcp",
                &[&plugin("check_tcp"), "-H", "127.0.0.1", "-p", &port],
            ),
            script_host(
                "web",
                &[
                    &plugin("check_http"),
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-u",
                    "/health",
                ],
            ),
            script_host("dummy", &[&plugin("check_dummy"), "1", "disk nearly full"]),
            script_host("shell", &["/bin/sh", "-c", one_liner]),
        ],
    );
    let (_sandbox, mut daemon) = start(&config);

    // check_tcp: `TCP OK - 0.000 second response time on 127.0.0.1 port N|time=0.000123s;;;0.000000;10.000000`
    let tcp = daemon.wait_for_host("tcp", "has performance data", |h| {
        h["last_check"]["perfdata"].is_array()
    });
    let detail = tcp["last_check"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("TCP OK") && !detail.contains('|'),
        "the detail is the status text only: {tcp:#}"
    );
    let time = perf(&tcp, "time");
    assert_eq!(time["unit"], "s", "{time}");
    let seconds = time["value"].as_f64().expect("a number");
    assert!((0.0..0.9).contains(&seconds), "{time}");
    assert_eq!((&time["min"], &time["max"]), (&0.0.into(), &10.0.into()));
    assert_eq!((&time["warn"], &time["crit"]), (&Value::Null, &Value::Null));
    assert_eq!(tcp["status"], "up", "{tcp:#}");

    // check_http: `time=0.001s;;;0.000000;10.000000 size=123B;;;0`
    let web = daemon.wait_for_host("web", "has performance data", |h| {
        h["last_check"]["perfdata"].is_array()
    });
    assert_eq!(perf(&web, "time")["unit"], "s", "{web:#}");
    let size = perf(&web, "size");
    assert_eq!(size["unit"], "B", "{size}");
    assert!(size["value"].as_f64().is_some_and(|b| b > 0.0), "{size}");

    // Long output after a bar is data; units normalised; the unreadable item skipped.
    let shell = daemon.wait_for_host("shell", "has performance data", |h| {
        h["last_check"]["perfdata"].is_array()
    });
    assert_eq!(shell["last_check"]["detail"], "OK - fine", "{shell:#}");
    let values = &shell["last_check"]["perfdata"];
    assert_eq!(
        values,
        &serde_json::json!([
            {"label": "disk free", "value": 2147483648.0, "unit": "B", "warn": null,
             "crit": null, "min": 0.0, "max": null},
            {"label": "rt", "value": 0.25, "unit": "s", "warn": "0.5", "crit": "1",
             "min": null, "max": null},
        ]),
        "{shell:#}"
    );

    // A plugin without performance data: no `perfdata` at all, and its exit code still rules.
    let dummy = daemon.wait_for_checks("dummy", 1);
    assert_eq!(dummy["status"], "degraded", "{dummy:#}");
    assert_eq!(dummy["last_check"]["detail"], "WARNING: disk nearly full");
    assert!(dummy["last_check"].get("perfdata").is_none(), "{dummy:#}");

    // The same values as gauges, one series per host and label.
    let (seconds, _) = wait_for_sample(
        &mut daemon,
        r#"flowstate_check_perfdata{host="tcp",label="time"}"#,
        |v| (0.0..0.9).contains(&v),
    );
    assert!(seconds >= 0.0);
    wait_for_sample(
        &mut daemon,
        r#"flowstate_check_perfdata{host="web",label="size"}"#,
        |v| v > 0.0,
    );
    let (bytes, body) = wait_for_sample(
        &mut daemon,
        r#"flowstate_check_perfdata{host="shell",label="disk free"}"#,
        |_| true,
    );
    assert_eq!(bytes, 2147483648.0, "{body}");
    let body = metrics(&mut daemon);
    assert!(
        body.contains("# TYPE flowstate_check_perfdata gauge"),
        "{body}"
    );
    assert!(
        !body
            .lines()
            .any(|l| l.starts_with("flowstate_check_perfdata{host=\"dummy\"")),
        "{body}"
    );
    assert!(
        !body.contains(r#"label="bad""#),
        "an unreadable item has no series: {body}"
    );
}
