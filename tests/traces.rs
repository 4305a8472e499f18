//! OpenTelemetry traces (SPEC §13) against a collector on loopback that speaks real OTLP
//! (OpenTelemetry's own protobuf types, over gRPC and HTTP/protobuf): check spans with their
//! attributes and phase children, the `traceparent` a target sees, the trace id an alert and
//! the API carry, delivery and reload spans, sampling, and a dead collector that costs the
//! checks nothing but counted drops.

use std::collections::BTreeSet;

use crate::common::collector::{Collector, ReceivedSpan};
use crate::common::daemon::post_edit;
use crate::common::scrape::scrape;
use crate::common::wait::wait_for;
use crate::common::{closed_port, start, Response, Sandbox, TestServer, DEADLINE};

/// An API on a port of its own: tests run side by side.
const LISTEN: &str = "server: { listen: \"127.0.0.1:0\" }\n";

/// A check span of `host`.
fn is_check_of(host: &str) -> impl Fn(&ReceivedSpan) -> bool + '_ {
    move |span| span.name == "flowstate.check" && span.attribute("flowstate.host") == Some(host)
}

/// `00-<trace>-<span>-<flags>` split into its three ids.
fn traceparent_parts(value: &str) -> (String, String, String) {
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "not a W3C traceparent: {value}");
    assert_eq!(parts[0], "00", "{value}");
    (parts[1].into(), parts[2].into(), parts[3].into())
}

fn config(collector: &Collector, extra: &str, hosts: &str) -> String {
    format!(
        "{LISTEN}telemetry:\n  otlp: {{ endpoint: \"{}\", headers: {{ x-api-key: sekrit-collector-key }} }}\n{extra}{hosts}",
        collector.endpoint()
    )
}

#[test]
fn checks_phases_alerts_and_reloads_are_traced_over_grpc() {
    let collector = Collector::grpc();
    let healthy = TestServer::always(Response::ok("ok"));
    let broken = TestServer::always(Response::status(503));
    let hosts = format!(
        "notifiers:\n  log: {{ type: file, path: events.jsonl }}\n\
         hosts:\n  - {{ label: api, url: \"{}\", interval: 200ms }}\n  \
         - {{ label: broken, url: \"{}\", interval: 200ms, failure_threshold: 1, alerts: [log] }}\n",
        healthy.url("/health"),
        broken.url("/")
    );
    let text = config(
        &collector,
        "  service_name: edge-monitor\n  resource: { deployment.environment: test }\n",
        &hosts,
    );
    let (sandbox, mut daemon) = start(&text);

    // A passing check: its span, its attributes, its resource, its phase children.
    let check = collector.wait_for_span("a check span of api", is_check_of("api"));
    assert_eq!(check.attribute("flowstate.check.type"), Some("http"));
    assert_eq!(check.attribute("flowstate.result"), Some("up"));
    assert_eq!(check.attribute("http.response.status_code"), Some("200"));
    assert_eq!(check.attribute("http.request.method"), Some("GET"));
    assert_eq!(check.attribute("server.address"), Some("127.0.0.1"));
    assert_eq!(
        check.attribute("url.full"),
        Some(healthy.url("/health").as_str())
    );
    assert_eq!(
        check.status_code, 0,
        "a passing check's status is unset: {check:?}"
    );
    assert!(
        check.parent_span_id.is_empty(),
        "a check is a root span: {check:?}"
    );
    assert_eq!(check.resource("service.name"), Some("edge-monitor"));
    assert_eq!(check.resource("deployment.environment"), Some("test"));
    assert_eq!(
        check.resource("service.version"),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let request = collector.wait_for_span("the request phase of an api check", |span| {
        span.name == "request" && span.parent_span_id == check.span_id
    });
    assert_eq!(request.trace_id, check.trace_id);
    assert!(
        request.start_unix_nano >= check.start_unix_nano
            && request.end_unix_nano <= check.end_unix_nano,
        "the phase lies inside its check: {request:?} {check:?}"
    );

    // The target saw the check span as its parent, sampled.
    let spans = collector.spans();
    let checks_of_api: BTreeSet<(String, String)> = spans
        .iter()
        .filter(|s| is_check_of("api")(s))
        .map(|s| (s.trace_id.clone(), s.span_id.clone()))
        .collect();
    let seen: Vec<(String, String, String)> = healthy
        .requests()
        .iter()
        .filter_map(|r| r.header("traceparent").map(traceparent_parts))
        .collect();
    assert!(!seen.is_empty(), "no request carried a traceparent");
    assert!(
        seen.iter().any(|(trace, span, flags)| flags == "01"
            && checks_of_api.contains(&(trace.clone(), span.clone()))),
        "no traceparent names a check span the collector got: {seen:?} vs {checks_of_api:?}"
    );

    // The collector got the configured header as gRPC metadata.
    assert!(
        collector
            .metadata()
            .iter()
            .any(|m| m.contains(&("x-api-key".into(), "sekrit-collector-key".into()))),
        "{:?}",
        collector.metadata()
    );

    // A failing check: ERROR with the reason; its alert carries its trace; the delivery is its
    // child.
    let failed = collector.wait_for_span("a check span of broken", is_check_of("broken"));
    assert_eq!(failed.status_code, 2, "{failed:?}");
    assert_eq!(failed.status_message, "status 503, expected 2xx");
    assert_eq!(failed.attribute("error.type"), Some("503"));
    assert_eq!(failed.attribute("flowstate.result"), Some("down"));
    let event: serde_json::Value = wait_for(DEADLINE, "the down event in events.jsonl", || {
        let text = std::fs::read_to_string(sandbox.path().join("events.jsonl")).ok()?;
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|e| e["event"] == "down" && e["host"] == "broken")
    })
    .expect("a down event");
    let trace_id = event["trace_id"].as_str().expect("the event's trace_id");
    let span_id = event["span_id"].as_str().expect("the event's span_id");
    let decided = collector.wait_for_span("the check span the event names", |span| {
        span.trace_id == trace_id && span.span_id == span_id
    });
    assert_eq!(decided.name, "flowstate.check");
    assert_eq!(decided.status_code, 2);
    let delivery = collector.wait_for_span("the delivery span of the down event", |span| {
        span.name == "flowstate.deliver" && span.trace_id == trace_id
    });
    assert_eq!(delivery.parent_span_id, span_id);
    assert_eq!(delivery.attribute("flowstate.notifier"), Some("log"));
    assert_eq!(delivery.attribute("flowstate.notifier.type"), Some("file"));
    assert_eq!(delivery.attribute("flowstate.event"), Some("down"));
    assert_eq!(delivery.status_code, 0, "{delivery:?}");

    // The log line of the change names the trace.
    let line = daemon.wait_for_log("the status change of broken", |line| {
        line.contains("host status changed") && line.contains("broken")
    });
    assert!(line.contains(&format!("trace_id={trace_id}")), "{line}");

    // The API's latest result carries its trace, status and phases.
    let detail = daemon.host("broken");
    let last = &detail["last_check"];
    assert_eq!(last["status_code"], 503, "{detail}");
    let api_trace = last["trace_id"].as_str().expect("last_check.trace_id");
    assert!(
        collector.spans().iter().any(|s| s.trace_id == api_trace) || {
            collector
                .wait_for_span("the latest check's span", |s| s.trace_id == api_trace)
                .name
                == "flowstate.check"
        }
    );
    let phases = last["phases"].as_array().expect("last_check.phases");
    assert!(
        phases
            .iter()
            .any(|p| p["phase"] == "request" && p["took_ms"].is_number()),
        "{detail}"
    );

    // A reload is a span of its own.
    let with_more = text.replace(
        "hosts:\n",
        &format!(
            "hosts:\n  - {{ label: extra, url: \"{}\", interval: 1s }}\n",
            healthy.url("/extra")
        ),
    );
    post_edit(&sandbox, &mut daemon, &text, &with_more);
    let reload = collector.wait_for_span("a reload span that added a host", |span| {
        span.name == "flowstate.reload" && span.attribute("flowstate.reload.added") == Some("1")
    });
    assert!(reload.parent_span_id.is_empty());
    assert!(
        matches!(
            reload.attribute("flowstate.reload.trigger"),
            Some("api" | "file")
        ),
        "{reload:?}"
    );

    // Counted, and the collector's key never printed.
    let exported = scrape(&mut daemon).value("flowstate_trace_spans_exported_total", &[]);
    assert!(exported > 0.0, "nothing counted as exported");
    let output = format!("{}{}", daemon.stdout(), daemon.stderr());
    assert!(!output.contains("sekrit-collector-key"), "{output}");
}

#[test]
fn with_sample_ratio_zero_only_failing_checks_are_kept_and_targets_are_told_so() {
    let collector = Collector::grpc();
    let healthy = TestServer::always(Response::ok("ok"));
    let broken = TestServer::always(Response::status(500));
    let hosts = format!(
        "hosts:\n  - {{ label: api, url: \"{}\", interval: 100ms }}\n  \
         - {{ label: broken, url: \"{}\", interval: 100ms }}\n",
        healthy.url("/"),
        broken.url("/")
    );
    let (_sandbox, mut daemon) = start(&config(&collector, "  sample_ratio: 0\n", &hosts));
    // Several failing checks exported: the passing ones ran as often meanwhile.
    wait_for(DEADLINE, "five failing check spans", || {
        (collector
            .spans()
            .iter()
            .filter(|s| is_check_of("broken")(s))
            .count()
            >= 5)
            .then_some(())
    })
    .expect("failing checks are always traced");
    daemon.wait_for_checks("api", 5);
    let spans = collector.spans();
    assert!(
        !spans
            .iter()
            .any(|s| s.attribute("flowstate.host") == Some("api")),
        "a passing check was exported at sample_ratio 0: {spans:?}"
    );
    let flags: BTreeSet<String> = healthy
        .requests()
        .iter()
        .filter_map(|r| r.header("traceparent").map(|v| traceparent_parts(v).2))
        .collect();
    assert_eq!(flags, BTreeSet::from(["00".to_string()]));
    let api = daemon.host("api");
    assert!(
        api["last_check"].get("trace_id").is_none(),
        "an unexported trace is not linked: {api}"
    );
}

#[test]
fn a_dead_collector_drops_counted_spans_and_checks_go_on() {
    let port = closed_port();
    let healthy = TestServer::always(Response::ok("ok"));
    let text = format!(
        "{LISTEN}telemetry:\n  otlp: {{ endpoint: \"http://127.0.0.1:{port}\", timeout: 1s }}\n\
         hosts:\n  - {{ label: api, url: \"{}\", interval: 100ms }}\n",
        healthy.url("/")
    );
    let (_sandbox, mut daemon) = start(&text);
    wait_for(DEADLINE, "two failed exports", || {
        let failures = scrape(&mut daemon).get("flowstate_trace_export_failures_total", &[])?;
        (failures >= 2.0).then_some(())
    })
    .expect("exports to a closed port fail and are counted");
    let metrics = scrape(&mut daemon);
    assert!(
        metrics.value(
            "flowstate_trace_spans_dropped_total",
            &[("reason", "export_failed")]
        ) > 0.0
    );
    // Checking went on at its pace meanwhile.
    let checked = daemon.wait_for_checks("api", 10);
    assert_eq!(checked["status"], "up", "{checked}");
    // Logged once, not at every failed export.
    let warnings = daemon.log_lines_with(&["cannot export traces"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&format!("127.0.0.1:{port}")),
        "{}",
        warnings[0]
    );
}

#[test]
fn spans_go_over_http_protobuf_with_the_configured_headers() {
    let collector = Collector::http();
    let healthy = TestServer::always(Response::ok("ok"));
    let text = format!(
        "{LISTEN}telemetry:\n  otlp: {{ endpoint: \"{}\", protocol: http/protobuf, headers: {{ Authorization: Bearer sekrit-token }} }}\n\
         hosts:\n  - {{ label: db, address: \"127.0.0.1:{}\", type: tcp, interval: 200ms }}\n",
        collector.endpoint(),
        healthy.port()
    );
    let (_sandbox, daemon) = start(&text);
    let check = collector.wait_for_span("a TCP check span", is_check_of("db"));
    assert_eq!(check.attribute("flowstate.check.type"), Some("tcp"));
    assert_eq!(
        check.attribute("server.port"),
        Some(healthy.port().to_string().as_str())
    );
    for phase in ["resolve", "connect"] {
        collector.wait_for_span(phase, |s| {
            s.name == phase && s.parent_span_id == check.span_id
        });
    }
    assert!(collector
        .metadata()
        .iter()
        .any(|headers| headers.contains(&("authorization".into(), "Bearer sekrit-token".into()))));
    let output = format!("{}{}", daemon.stdout(), daemon.stderr());
    assert!(!output.contains("sekrit-token"), "{output}");
}

#[test]
fn a_wrong_telemetry_section_is_refused_naming_the_place_and_the_fix() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "bad.yaml",
        "telemetry:\n  otlp: { endpoint: \"http://127.0.0.1:4317\", protocol: thrift }\n  sample_ratio: 2\n\
         hosts:\n  - { label: api, url: \"http://127.0.0.1:1/\" }\n",
    );
    let outcome = sandbox.run(&["check", "-c", "bad.yaml"]);
    outcome.expect_code(2);
    let output = outcome.all_output();
    assert!(output.contains("telemetry.sample_ratio"), "{output}");
    assert!(output.contains("ratio from 0 to 1"), "{output}");
    assert!(output.contains("telemetry.otlp.protocol"), "{output}");
    assert!(
        output.contains("use `grpc` (port 4317) or `http/protobuf`"),
        "{output}"
    );
    sandbox.write(
        "missing.yaml",
        "telemetry:\n  sample_ratio: 1%\nhosts:\n  - { label: api, url: \"http://127.0.0.1:1/\" }\n",
    );
    let outcome = sandbox.run(&["check", "-c", "missing.yaml"]);
    outcome.expect_code(2);
    assert!(outcome.all_output().contains("missing `otlp`"), "{outcome}");
}

#[test]
fn a_collector_that_cannot_be_set_up_is_logged_and_checks_run_untraced() {
    let healthy = TestServer::always(Response::ok("ok"));
    let text = format!(
        "{LISTEN}telemetry:\n  otlp: {{ endpoint: \"https://127.0.0.1:4317\", ca_file: missing-ca.pem }}\n\
         hosts:\n  - {{ label: api, url: \"{}\", interval: 100ms }}\n",
        healthy.url("/")
    );
    let (_sandbox, mut daemon) = start(&text);
    let line = daemon.wait_for_log("the tracing error", |line| {
        line.contains("cannot export traces; checks go on without tracing")
    });
    assert!(line.contains("missing-ca.pem"), "{line}");
    let checked = daemon.wait_for_checks("api", 3);
    assert_eq!(checked["status"], "up", "{checked}");
    assert!(
        healthy
            .requests()
            .iter()
            .all(|r| r.header("traceparent").is_none()),
        "untraced checks send no traceparent"
    );
}

/// HTTP/3 checks carry the check span too, and time the QUIC handshake as a phase of it.
#[cfg(feature = "http3")]
#[test]
fn an_http3_check_sends_traceparent_and_times_its_handshake() {
    use crate::common::certs::TestCa;
    use crate::common::h3_server::H3Server;

    let collector = Collector::grpc();
    let ca = TestCa::new();
    let server = H3Server::always(&ca.long_valid(), Response::ok("fine"));
    let hosts = format!(
        "hosts:\n  - {{ label: edge, url: \"{}\", http_version: 3, tls: {{ ca_file: ca.pem }}, interval: 200ms }}\n",
        server.url("/health")
    );
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &ca.pem);
    sandbox.write(
        crate::common::daemon::CONFIG,
        &config(&collector, "", &hosts),
    );
    let _daemon = sandbox.daemon(crate::common::daemon::CONFIG).start();
    let check = collector.wait_for_span("an HTTP/3 check span", is_check_of("edge"));
    assert_eq!(check.attribute("http.response.status_code"), Some("200"));
    for phase in ["resolve", "handshake", "request"] {
        collector.wait_for_span(phase, |s| {
            s.name == phase && s.parent_span_id == check.span_id
        });
    }
    let checks: BTreeSet<(String, String)> = collector
        .spans()
        .iter()
        .filter(|s| is_check_of("edge")(s))
        .map(|s| (s.trace_id.clone(), s.span_id.clone()))
        .collect();
    let seen: Vec<(String, String, String)> = server
        .requests()
        .iter()
        .filter_map(|r| r.header("traceparent").map(traceparent_parts))
        .collect();
    assert!(
        seen.iter()
            .any(|(trace, span, _)| checks.contains(&(trace.clone(), span.clone()))),
        "no traceparent over HTTP/3 names a check span: {seen:?} vs {checks:?}"
    );
}
