//! `flowstate once`: every check once against loopback servers, judged by status, body,
//! headers, redirects and time, printed as a table or JSON, with the exit code to match.
//!
//! Timing is never asserted with sleeps: a slow server is slow by far more than the timeout it
//! must trip (5 s against 1 s), and concurrency is proven by requests waiting for each other.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::common::configs::host;
use crate::common::once::once_on;
use crate::common::{closed_port, Outcome, Request, Response, Sandbox, TestServer};

/// Far longer than any timeout below: a check that waits for it has timed out.
const SLOW: Duration = Duration::from_secs(5);

/// Runs `flowstate once -c flowstate.yaml ARGS...` on `hosts:` followed by `hosts_yaml` (list
/// items, indented by two), in a new sandbox.
fn once_hosts(hosts_yaml: &str, args: &[&str]) -> Outcome {
    once_on(&Sandbox::new(), &format!("hosts:\n{hosts_yaml}"), args)
}

#[test]
fn up_host_exits_0_and_shows_up() {
    let server = TestServer::always(Response::ok("fine"));
    let outcome = once_hosts(&host("api", &server.url("/health"), ""), &[]);
    outcome.expect_code(0);
    let row = outcome.row("api");
    assert_eq!(row.status, "up", "{outcome}");
    assert_eq!(row.detail, "status 200", "{outcome}");
    assert!(row.latency.ends_with(" ms"), "{outcome}");
    let request = server.single_request();
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("GET", "/health")
    );
}

#[test]
fn unexpected_status_is_down_with_the_reason() {
    let server = TestServer::always(Response::status(503).body("maintenance"));
    let outcome = once_hosts(&host("api", &server.url("/"), "status: 200"), &[]);
    outcome.expect_code(1);
    let row = outcome.row("api");
    assert_eq!(row.status, "down", "{outcome}");
    assert_eq!(row.detail, "status 503, expected 200", "{outcome}");
}

#[test]
fn one_host_down_among_up_hosts_exits_1() {
    let server = TestServer::routes([
        ("/good", Response::ok("fine")),
        ("/bad", Response::status(500)),
    ]);
    let hosts = host("good", &server.url("/good"), "") + &host("bad", &server.url("/bad"), "");
    let outcome = once_hosts(&hosts, &[]);
    outcome.expect_code(1);
    assert_eq!(outcome.row("good").status, "up", "{outcome}");
    assert_eq!(outcome.row("bad").status, "down", "{outcome}");
    assert_eq!(
        outcome.row("bad").detail,
        "status 500, expected 2xx",
        "{outcome}"
    );
}

#[test]
fn status_list_accepts_only_the_listed_codes() {
    let server = TestServer::routes([
        ("/no-content", Response::status(204)),
        ("/created", Response::status(201)),
    ]);
    let hosts = host("listed", &server.url("/no-content"), "status: [200, 204]")
        + &host("unlisted", &server.url("/created"), "status: [200, 204]")
        + &host(
            "redirect-expected",
            &server.url("/created"),
            "status: [301, 302, 303]",
        );
    let outcome = once_hosts(&hosts, &["--json"]);
    outcome.expect_code(1);
    assert_eq!(outcome.result("listed")["status"], "up", "{outcome}");
    assert_eq!(
        outcome.result("unlisted")["detail"],
        "status 201, expected 200 or 204",
        "{outcome}"
    );
    assert_eq!(
        outcome.result("redirect-expected")["detail"],
        "status 201, expected 301, 302 or 303",
        "{outcome}"
    );
}

#[test]
fn absent_status_accepts_any_2xx() {
    let server = TestServer::start(|request, _| {
        let code = request
            .path()
            .trim_start_matches('/')
            .parse()
            .unwrap_or(500);
        Response::status(code)
    });
    let hosts: String = [200, 201, 204, 299]
        .iter()
        .map(|code| host(&format!("s{code}"), &server.url(&format!("/{code}")), ""))
        .collect();
    let outcome = once_hosts(&hosts, &["--json"]);
    outcome.expect_code(0);
    for code in [200, 201, 204, 299] {
        let result = outcome.result(&format!("s{code}"));
        assert_eq!(result["status"], "up", "{outcome}");
        assert_eq!(result["detail"], format!("status {code}"), "{outcome}");
    }
}

#[test]
fn absent_status_rejects_everything_but_2xx() {
    let server = TestServer::start(|request, _| {
        let code = request
            .path()
            .trim_start_matches('/')
            .parse()
            .unwrap_or(500);
        Response::status(code).header("Location", "/elsewhere")
    });
    let hosts: String = [304, 404, 500]
        .iter()
        .map(|code| {
            host(
                &format!("s{code}"),
                &server.url(&format!("/{code}")),
                "follow_redirects: false",
            )
        })
        .collect();
    let outcome = once_hosts(&hosts, &["--json"]);
    outcome.expect_code(1);
    for code in [404, 500] {
        assert_eq!(
            outcome.result(&format!("s{code}"))["detail"],
            format!("status {code}, expected 2xx"),
            "{outcome}"
        );
    }
    let not_modified = outcome.result("s304");
    assert_eq!(not_modified["status"], "down", "{outcome}");
    assert!(
        not_modified["detail"]
            .as_str()
            .unwrap()
            .starts_with("status 304, expected 2xx"),
        "{outcome}"
    );
}

#[test]
fn body_matching_the_regex_is_up() {
    let server = TestServer::always(Response::ok(r#"{"ok": true, "version": 3}"#));
    let outcome = once_hosts(
        &host("api", &server.url("/"), r#"regex: '"ok":\s*true'"#),
        &[],
    );
    outcome.expect_code(0);
    assert_eq!(
        outcome.row("api").detail,
        "status 200, body matches",
        "{outcome}"
    );
}

#[test]
fn body_not_matching_the_regex_is_down_naming_the_pattern() {
    let server = TestServer::always(Response::ok(r#"{"ok": false}"#));
    let outcome = once_hosts(
        &host("api", &server.url("/"), r#"regex: '"ok":\s*true'"#),
        &[],
    );
    outcome.expect_code(1);
    let row = outcome.row("api");
    assert_eq!(row.status, "down", "{outcome}");
    assert_eq!(
        row.detail, r#"body does not match /"ok":\s*true/"#,
        "{outcome}"
    );
}

#[test]
fn wrong_status_is_reported_before_the_body_is_judged() {
    let server = TestServer::always(Response::status(500).body(r#"{"ok": true}"#));
    let outcome = once_hosts(
        &host("api", &server.url("/"), r#"regex: '"ok":\s*true'"#),
        &[],
    );
    outcome.expect_code(1);
    assert_eq!(
        outcome.row("api").detail,
        "status 500, expected 2xx",
        "{outcome}"
    );
}

#[test]
fn method_headers_and_body_arrive_intact() {
    let server = TestServer::always(Response::status(201));
    let extra = r#"
        method: PUT
        body: '{"ping": 1, "text": "héllo wörld"}'
        headers: { Authorization: "Bearer host-token-123", X-Custom: "a value; with=chars", Content-Type: application/json }
    "#;
    let outcome = once_hosts(&host("api", &server.url("/submit?x=1&y=two"), extra), &[]);
    outcome.expect_code(0);
    let request = server.single_request();
    assert_eq!(request.method, "PUT");
    assert_eq!(request.target, "/submit?x=1&y=two");
    assert_eq!(request.body_text(), r#"{"ping": 1, "text": "héllo wörld"}"#);
    assert_eq!(
        request.header("Authorization"),
        Some("Bearer host-token-123")
    );
    assert_eq!(request.header("X-Custom"), Some("a value; with=chars"));
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    let agent = request.header("User-Agent").unwrap_or_default();
    assert!(agent.starts_with("flowstate/"), "User-Agent {agent:?}");
    assert!(
        !outcome.all_output().contains("host-token-123"),
        "{outcome}"
    );
}

#[test]
fn default_headers_are_sent_and_host_headers_override_them() {
    let server = TestServer::always(Response::ok("fine"));
    let config = format!(
        "defaults:\n  headers: {{ X-Team: platform, X-Env: prod }}\nhosts:\n{}",
        host(
            "api",
            &server.url("/"),
            "headers: { x-env: staging, User-Agent: custom-agent/2 }"
        )
    );
    once_on(&Sandbox::new(), &config, &[]).expect_code(0);
    let request = server.single_request();
    assert_eq!(request.header("X-Team"), Some("platform"));
    let envs: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-env"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(envs, ["staging"], "{:?}", request.headers);
    assert_eq!(request.header("User-Agent"), Some("custom-agent/2"));
}

#[test]
fn url_userinfo_is_sent_as_basic_auth_and_never_printed() {
    let server = TestServer::always(Response::ok("fine"));
    let url = server
        .url("/private")
        .replace("http://", "http://bob:hunter2@");
    let outcome = once_hosts(&host("api", &url, ""), &["--json"]);
    outcome.expect_code(0);
    let request = server.single_request();
    // base64("bob:hunter2")
    assert_eq!(
        request.header("Authorization"),
        Some("Basic Ym9iOmh1bnRlcjI=")
    );
    assert_eq!(request.target, "/private");
    assert!(!outcome.all_output().contains("hunter2"), "{outcome}");
}

#[test]
fn slow_response_headers_time_out() {
    let server = TestServer::always(Response::ok("late").delay_headers(SLOW));
    let outcome = once_hosts(&host("api", &server.url("/"), "timeout: 1s"), &[]);
    outcome.expect_code(1);
    let row = outcome.row("api");
    assert_eq!(row.status, "down", "{outcome}");
    assert_eq!(row.detail, "timed out after 1s", "{outcome}");
}

/// awc's own timeouts stop at the response headers; the check's timeout must cover the body.
#[test]
fn slow_body_times_out_when_the_regex_needs_it() {
    let server = TestServer::always(
        Response::ok("first half ... second half, done")
            .header("Content-Type", "text/plain")
            .stall_mid_body(SLOW),
    );
    let outcome = once_hosts(
        &host("api", &server.url("/"), "timeout: 1s\nregex: done"),
        &[],
    );
    outcome.expect_code(1);
    assert_eq!(outcome.row("api").detail, "timed out after 1s", "{outcome}");
}

#[test]
fn body_shorter_than_its_content_length_is_reported() {
    let server = TestServer::always(Response::ok("0123456789").declare_length(100));
    let outcome = once_hosts(&host("api", &server.url("/"), "regex: '\\d+'"), &[]);
    outcome.expect_code(1);
    let row = outcome.row("api");
    assert_eq!(row.status, "down", "{outcome}");
    assert_eq!(row.detail, "body ended after 10 of 100 bytes", "{outcome}");
}

#[test]
fn closed_port_is_connection_refused() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let outcome = once_hosts(&host("api", &url, ""), &[]);
    outcome.expect_code(1);
    let row = outcome.row("api");
    assert_eq!(row.status, "down", "{outcome}");
    assert_eq!(row.detail, "connection refused", "{outcome}");
}

#[test]
fn redirects_are_followed_to_the_final_status() {
    let server = TestServer::routes([
        ("/start", Response::redirect(302, "/middle")),
        ("/middle", Response::redirect(301, "final?from=middle")),
        ("/final", Response::ok("done")),
    ]);
    let outcome = once_hosts(&host("api", &server.url("/start"), "regex: done"), &[]);
    outcome.expect_code(0);
    assert_eq!(
        outcome.row("api").detail,
        "status 200, body matches",
        "{outcome}"
    );
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/start", "/middle", "/final?from=middle"]);
}

#[test]
fn redirect_to_a_failing_page_reports_the_final_status() {
    let server = TestServer::routes([
        ("/start", Response::redirect(307, "/broken")),
        ("/broken", Response::status(503)),
    ]);
    let outcome = once_hosts(&host("api", &server.url("/start"), ""), &[]);
    outcome.expect_code(1);
    assert_eq!(
        outcome.row("api").detail,
        "status 503, expected 2xx",
        "{outcome}"
    );
}

#[test]
fn without_follow_redirects_the_redirect_itself_is_judged() {
    let server = TestServer::routes([
        ("/start", Response::redirect(302, "/final")),
        ("/final", Response::ok("done")),
    ]);
    let hosts = host("strict", &server.url("/start"), "follow_redirects: false")
        + &host(
            "expects-redirect",
            &server.url("/start"),
            "follow_redirects: false\nstatus: 302",
        );
    let outcome = once_hosts(&hosts, &["--json"]);
    outcome.expect_code(1);
    assert_eq!(
        outcome.result("strict")["detail"],
        format!(
            "status 302, expected 2xx (redirect to {})",
            server.url("/final")
        ),
        "{outcome}"
    );
    assert_eq!(
        outcome.result("expects-redirect")["status"],
        "up",
        "{outcome}"
    );
    assert!(
        server.requests().iter().all(|r| r.path() == "/start"),
        "the redirect was not followed: {:?}",
        server.requests()
    );
}

#[test]
fn endless_redirects_stop_at_max_redirects() {
    let server = TestServer::always(Response::redirect(302, "/again"));
    let outcome = once_hosts(&host("api", &server.url("/start"), "max_redirects: 2"), &[]);
    outcome.expect_code(1);
    let row = outcome.row("api");
    assert_eq!(row.status, "down", "{outcome}");
    assert!(
        row.detail.starts_with("too many redirects (more than 2)"),
        "{outcome}"
    );
    assert_eq!(
        server.requests().len(),
        3,
        "the first request and two redirects"
    );
}

#[test]
fn see_other_after_post_becomes_a_get_without_body() {
    let server = TestServer::routes([
        ("/form", Response::redirect(303, "/result")),
        ("/result", Response::ok("thanks")),
    ]);
    let extra = "method: POST\nbody: 'name=flowstate'";
    once_hosts(&host("api", &server.url("/form"), extra), &[]).expect_code(0);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        (
            requests[0].method.as_str(),
            requests[0].body_text().as_str()
        ),
        ("POST", "name=flowstate")
    );
    assert_eq!(
        (
            requests[1].method.as_str(),
            requests[1].body_text().as_str()
        ),
        ("GET", "")
    );
}

#[test]
fn temporary_redirect_keeps_method_and_body() {
    let server = TestServer::routes([
        ("/old", Response::redirect(307, "/new")),
        ("/new", Response::status(204)),
    ]);
    let extra = "method: POST\nbody: 'payload'";
    once_hosts(&host("api", &server.url("/old"), extra), &[]).expect_code(0);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[1].path(), "/new");
    assert_eq!(
        (
            requests[1].method.as_str(),
            requests[1].body_text().as_str()
        ),
        ("POST", "payload")
    );
}

const CREDENTIAL_HEADERS: &str = r#"headers: { Authorization: "Bearer secret-bearer", X-Api-Key: key-123, Cookie: "session=abc", X-Trace: trace-1 }"#;

#[test]
fn redirect_to_another_origin_drops_credentials() {
    let other = TestServer::always(Response::ok("landed"));
    let first = TestServer::routes([
        (
            "/headers",
            Response::redirect(302, other.url("/from-headers")),
        ),
        (
            "/userinfo",
            Response::redirect(302, other.url("/from-userinfo")),
        ),
    ]);
    let userinfo_url = first
        .url("/userinfo")
        .replace("http://", "http://bob:hunter2@");
    let hosts = host("headers", &first.url("/headers"), CREDENTIAL_HEADERS)
        + &host("userinfo", &userinfo_url, "");
    let outcome = once_hosts(&hosts, &[]);
    outcome.expect_code(0);

    let sent = |path: &str, server: &TestServer| -> Request {
        let matching: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect();
        assert_eq!(matching.len(), 1, "one request to {path}: {matching:?}");
        matching.into_iter().next().unwrap()
    };
    let original = sent("/headers", &first);
    assert_eq!(
        original.header("Authorization"),
        Some("Bearer secret-bearer")
    );
    assert_eq!(original.header("X-Api-Key"), Some("key-123"));
    assert_eq!(original.header("Cookie"), Some("session=abc"));
    assert_eq!(
        sent("/userinfo", &first).header("Authorization"),
        Some("Basic Ym9iOmh1bnRlcjI=")
    );

    let forwarded = sent("/from-headers", &other);
    for credential in ["Authorization", "X-Api-Key", "Cookie"] {
        assert_eq!(
            forwarded.header(credential),
            None,
            "{credential} sent to another origin: {:?}",
            forwarded.headers
        );
    }
    assert_eq!(
        forwarded.header("X-Trace"),
        Some("trace-1"),
        "ordinary headers follow"
    );
    assert!(forwarded
        .header("User-Agent")
        .is_some_and(|a| a.starts_with("flowstate/")));
    let forwarded = sent("/from-userinfo", &other);
    assert_eq!(
        forwarded.header("Authorization"),
        None,
        "userinfo sent to another origin: {:?}",
        forwarded.headers
    );
}

#[test]
fn redirect_within_the_same_origin_keeps_credentials() {
    let server = TestServer::routes([
        ("/start", Response::redirect(302, "/final")),
        ("/final", Response::ok("done")),
    ]);
    let url = server
        .url("/start")
        .replace("http://", "http://bob:hunter2@");
    // Userinfo and an Authorization header would compete: each has a host of its own.
    let hosts =
        host("headers", &server.url("/start"), CREDENTIAL_HEADERS) + &host("userinfo", &url, "");
    once_hosts(&hosts, &[]).expect_code(0);
    let finals: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/final")
        .collect();
    assert_eq!(finals.len(), 2, "{finals:?}");
    let by_header = finals
        .iter()
        .find(|r| r.header("X-Trace").is_some())
        .expect("the headers host reached /final");
    assert_eq!(
        by_header.header("Authorization"),
        Some("Bearer secret-bearer")
    );
    assert_eq!(by_header.header("X-Api-Key"), Some("key-123"));
    let by_userinfo = finals
        .iter()
        .find(|r| r.header("X-Trace").is_none())
        .expect("the userinfo host reached /final");
    assert_eq!(
        by_userinfo.header("Authorization"),
        Some("Basic Ym9iOmh1bnRlcjI=")
    );
}

#[test]
fn slower_than_max_response_time_is_degraded() {
    let server = TestServer::always(Response::ok("fine").delay_headers(Duration::from_millis(500)));
    let outcome = once_hosts(
        &host(
            "api",
            &server.url("/"),
            "max_response_time: 100ms\ntimeout: 10s",
        ),
        &["--json"],
    );
    outcome.expect_code(1);
    let result = outcome.result("api");
    assert_eq!(result["status"], "degraded", "{outcome}");
    assert_eq!(result["ok"], true, "the check itself passed: {outcome}");
    assert_eq!(result["detail"], "status 200", "{outcome}");
    assert!(result["latency_ms"].as_f64().unwrap() >= 500.0, "{outcome}");
}

#[test]
fn max_response_time_from_defaults_applies_and_degraded_shows_in_the_table() {
    let server = TestServer::always(Response::ok("fine").delay_headers(Duration::from_millis(500)));
    let config = format!(
        "defaults:\n  max_response_time: 100ms\nhosts:\n{}",
        host("api", &server.url("/"), "")
    );
    let outcome = once_on(&Sandbox::new(), &config, &[]);
    outcome.expect_code(1);
    assert_eq!(outcome.row("api").status, "degraded", "{outcome}");
}

#[test]
fn json_output_has_the_documented_shape_and_types() {
    let server = TestServer::routes([("/up", Response::ok("fine"))]);
    let hosts = host("first-up", &server.url("/up"), "")
        + &host("second-down", &server.url("/missing"), "");
    let outcome = once_hosts(&hosts, &["--json"]);
    outcome.expect_code(1);
    let json = outcome.json();
    let results = json.as_array().expect("an array");
    assert_eq!(results.len(), 2, "{outcome}");
    let expected_keys: BTreeSet<&str> =
        ["label", "type", "status", "ok", "latency_ms", "detail"].into();
    for result in results {
        let object = result.as_object().expect("objects");
        let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys, expected_keys, "{outcome}");
        assert!(result["label"].is_string(), "{outcome}");
        assert_eq!(result["type"], "http", "{outcome}");
        assert!(result["status"].is_string(), "{outcome}");
        assert!(result["ok"].is_boolean(), "{outcome}");
        assert!(result["latency_ms"].is_number(), "{outcome}");
        assert!(result["latency_ms"].as_f64().unwrap() >= 0.0, "{outcome}");
        assert!(result["detail"].is_string(), "{outcome}");
    }
    assert_eq!(results[0]["label"], "first-up", "config order: {outcome}");
    assert_eq!(
        (
            &results[0]["status"],
            &results[0]["ok"],
            &results[0]["detail"]
        ),
        (
            &Value::from("up"),
            &Value::from(true),
            &Value::from("status 200")
        ),
    );
    assert_eq!(results[1]["label"], "second-down");
    assert_eq!(
        (
            &results[1]["status"],
            &results[1]["ok"],
            &results[1]["detail"]
        ),
        (
            &Value::from("down"),
            &Value::from(false),
            &Value::from("status 404, expected 2xx")
        ),
    );
    assert!(outcome.stderr.is_empty(), "{outcome}");
}

#[test]
fn host_flag_checks_only_the_named_hosts() {
    let server = TestServer::always(Response::ok("fine"));
    let hosts = host("alpha", &server.url("/alpha"), "")
        + &host("beta", &server.url("/beta"), "")
        + &host("gamma", &server.url("/gamma"), "");
    let outcome = once_hosts(&hosts, &["--json", "--host", "gamma", "--host", "alpha"]);
    outcome.expect_code(0);
    let json = outcome.json();
    let labels: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["alpha", "gamma"], "config order: {outcome}");
    let mut paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    paths.sort();
    assert_eq!(paths, ["/alpha", "/gamma"], "beta was not checked");
}

#[test]
fn unknown_host_flag_exits_2_with_a_suggestion_and_checks_nothing() {
    let server = TestServer::always(Response::ok("fine"));
    let hosts = host("api", &server.url("/"), "") + &host("web", &server.url("/"), "");
    let outcome = once_hosts(&hosts, &["--host", "apu", "--host", "web"]);
    outcome.expect_code(2);
    assert!(outcome.stdout.is_empty(), "{outcome}");
    let lines = outcome.stderr_lines();
    assert_eq!(lines.len(), 1, "{outcome}");
    assert!(
        lines[0].contains("apu") && lines[0].contains("did you mean `api`?"),
        "{outcome}"
    );
    assert!(server.requests().is_empty(), "no check ran");
}

#[test]
fn invalid_config_exits_2_and_checks_nothing() {
    let server = TestServer::always(Response::ok("fine"));
    let hosts = host("api", &server.url("/"), "") + &host("bad", &server.url("/"), "intervall: 5s");
    let outcome = once_hosts(&hosts, &[]);
    outcome.expect_code(2);
    assert!(
        outcome.stderr.contains("did you mean `interval`?"),
        "{outcome}"
    );
    assert!(server.requests().is_empty(), "no check ran");
}

#[test]
fn bad_once_flags_exit_2() {
    let sandbox = Sandbox::new();
    sandbox.write("flowstate.yaml", "hosts: []\n");
    let outcome = sandbox.run(&["once", "--jsn"]);
    outcome.expect_code(2);
    assert!(outcome.stderr.contains("--jsn"), "{outcome}");
    sandbox.run(&["once", "--host"]).expect_code(2);
}

#[test]
fn checks_run_concurrently() {
    const HOSTS: usize = 5;
    // Each request waits until all five are open at once. Run one after another, the first
    // would wait in vain, answer 500 and fail the test; no clock is asserted.
    let server = TestServer::start(|_, traffic| {
        if traffic.wait_for_in_flight(HOSTS, SLOW) {
            Response::ok("together")
        } else {
            Response::status(500).body(format!(
                "only {} requests were ever in flight at once",
                traffic.peak_in_flight()
            ))
        }
    });
    let hosts: String = (0..HOSTS)
        .map(|i| {
            host(
                &format!("h{i}"),
                &server.url(&format!("/{i}")),
                "timeout: 8s",
            )
        })
        .collect();
    let outcome = once_hosts(&hosts, &[]);
    assert_eq!(
        server.traffic().peak_in_flight(),
        HOSTS,
        "the checks did not all run at once: {outcome}"
    );
    outcome.expect_code(0);
    for i in 0..HOSTS {
        assert_eq!(outcome.row(&format!("h{i}")).status, "up", "{outcome}");
    }
}
