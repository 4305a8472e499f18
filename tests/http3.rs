//! HTTP checks over HTTP/3 (`http_version: 3`) and by `Alt-Svc` (`http_version: alt-svc`),
//! against real QUIC servers on loopback.
//!
//! The HTTP/3 target is [`H3Server`] (quinn + h3 on a thread of its own, recording every
//! request); a blocked UDP path is [`SilentUdp`], a bound port that never answers; the TCP side
//! of `alt-svc` is the common [`TestServer`] over TLS, advertising (or not) an `h3`
//! alternative. Certificates come from a private CA ([`TestCa`]). `flowstate once --json` gives
//! single outcomes, `flowstate run` the daemon's view; no assertion depends on a sleep.

use std::time::SystemTime;

use crate::common::certs::{server_tls, TestCa, DAY};
use crate::common::configs::{document_serving, host};
use crate::common::h3_server::{H3Server, SilentUdp};
use crate::common::once::{once_in, verdict};
use crate::common::{Outcome, Response, Sandbox, TestServer};

/// `flowstate once --json` on `hosts`, with the CA's certificate in `ca.pem` beside them.
fn once_trusting(ca: &TestCa, defaults: &str, hosts: &[String]) -> Outcome {
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &ca.pem);
    once_in(&sandbox, defaults, hosts)
}

const H3_TRUSTED: &str = "http_version: 3\ntls: { ca_file: ca.pem }";
const ALT_SVC_TRUSTED: &str = "http_version: alt-svc\ntls: { ca_file: ca.pem }";

// --- HTTP/3 ---------------------------------------------------------------------------------

#[test]
fn a_200_over_http3_is_up_with_its_handshake_and_first_byte() {
    let ca = TestCa::new();
    let server = H3Server::always(&ca.long_valid(), Response::ok("fine"));
    let outcome = once_trusting(&ca, "", &[host("edge", &server.url("/health"), H3_TRUSTED)]);
    outcome.expect_code(0);
    let (status, detail) = verdict(&outcome, "edge");
    assert_eq!(status, "up", "{outcome}");
    assert!(
        detail.starts_with("status 200 over HTTP/3 (handshake ")
            && detail.contains(" ms, first byte ")
            && detail.ends_with(" ms)"),
        "{outcome}"
    );
    let request = server.single_request();
    assert_eq!(
        (request.method.as_str(), request.path()),
        ("GET", "/health")
    );
}

#[test]
fn a_503_over_http3_is_down_naming_the_status() {
    let ca = TestCa::new();
    let server = H3Server::always(&ca.long_valid(), Response::status(503).body("busy"));
    let outcome = once_trusting(&ca, "", &[host("edge", &server.url("/"), H3_TRUSTED)]);
    outcome.expect_code(1);
    let (status, detail) = verdict(&outcome, "edge");
    assert_eq!(status, "down", "{outcome}");
    assert!(
        detail.starts_with("status 503 over HTTP/3, expected"),
        "{outcome}"
    );
}

#[test]
fn the_body_regex_is_judged_over_http3() {
    let ca = TestCa::new();
    let server = H3Server::always(&ca.long_valid(), Response::ok("{\"status\":\"ok\"}"));
    let outcome = once_trusting(
        &ca,
        "",
        &[
            host(
                "match",
                &server.url("/"),
                &format!("{H3_TRUSTED}\nregex: '\"ok\"'"),
            ),
            host(
                "miss",
                &server.url("/"),
                &format!("{H3_TRUSTED}\nregex: 'healthy'"),
            ),
        ],
    );
    let (status, detail) = verdict(&outcome, "match");
    assert_eq!(status, "up", "{outcome}");
    assert!(
        detail.starts_with("status 200 over HTTP/3, body matches (handshake "),
        "{outcome}"
    );
    assert_eq!(
        verdict(&outcome, "miss"),
        ("down".into(), "body does not match /healthy/".into()),
        "{outcome}"
    );
}

#[test]
fn headers_auth_and_user_agent_arrive_over_http3() {
    let ca = TestCa::new();
    let server = H3Server::always(&ca.long_valid(), Response::status(204));
    let bearer = format!(
        "{H3_TRUSTED}\nheaders: {{ X-Probe: from-flowstate }}\nauth: {{ bearer: T0ken-xyzzy }}"
    );
    let userinfo = server
        .url("/basic")
        .replace("https://", "https://monitor:pa55@");
    let outcome = once_trusting(
        &ca,
        "",
        &[
            host("bearer", &server.url("/bearer"), &bearer),
            host("userinfo", &userinfo, H3_TRUSTED),
        ],
    );
    outcome.expect_code(0);
    let requests = server.requests();
    let by_path = |path: &str| {
        requests
            .iter()
            .find(|r| r.path() == path)
            .unwrap_or_else(|| panic!("no request to {path}: {requests:#?}"))
    };
    let bearer = by_path("/bearer");
    assert_eq!(bearer.header("x-probe"), Some("from-flowstate"));
    assert_eq!(bearer.header("authorization"), Some("Bearer T0ken-xyzzy"));
    assert!(
        bearer
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("flowstate/")),
        "{bearer:?}"
    );
    // `printf %s monitor:pa55 | base64`
    assert_eq!(
        by_path("/basic").header("authorization"),
        Some("Basic bW9uaXRvcjpwYTU1")
    );
}

#[test]
fn an_untrusted_certificate_is_down_unless_trusted_or_insecure() {
    let ca = TestCa::new();
    let server = H3Server::always(&ca.long_valid(), Response::ok("fine"));
    let outcome = once_trusting(
        &ca,
        "",
        &[
            host("untrusted", &server.url("/"), "http_version: 3"),
            host("trusted", &server.url("/"), H3_TRUSTED),
            host(
                "lab",
                &server.url("/"),
                "http_version: 3\ntls: { insecure: true }",
            ),
        ],
    );
    let (status, detail) = verdict(&outcome, "untrusted");
    assert_eq!(status, "down", "{outcome}");
    assert_eq!(
        detail,
        "TLS certificate rejected: unknown issuer (not signed by a trusted CA; see tls.ca_file)",
        "{outcome}"
    );
    assert_eq!(verdict(&outcome, "trusted").0, "up", "{outcome}");
    assert_eq!(verdict(&outcome, "lab").0, "up", "{outcome}");
}

#[test]
fn a_certificate_near_expiry_over_http3_is_degraded() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1"], SystemTime::now() + 3 * DAY);
    let server = H3Server::always(&leaf, Response::ok("fine"));
    let outcome = once_trusting(&ca, "", &[host("edge", &server.url("/"), H3_TRUSTED)]);
    let (status, detail) = verdict(&outcome, "edge");
    assert_eq!(status, "degraded", "{outcome}");
    assert!(detail.contains("; certificate expires on "), "{outcome}");
}

#[test]
fn a_udp_port_that_never_answers_fails_the_handshake_before_the_timeout() {
    let silent = SilentUdp::bind();
    let url = format!("https://127.0.0.1:{}/", silent.port());
    let outcome = once_trusting(
        &TestCa::new(),
        "timeout: 4s",
        &[host("blocked", &url, H3_TRUSTED)],
    );
    outcome.expect_code(1);
    // The handshake's own deadline (half the timeout) named it, not the check's timeout.
    assert_eq!(
        verdict(&outcome, "blocked"),
        (
            "down".into(),
            format!(
                "QUIC handshake with 127.0.0.1:{} timed out after 2s (no UDP answer)",
                silent.port()
            )
        ),
        "{outcome}"
    );
}

#[test]
fn a_redirect_is_followed_over_http3() {
    let ca = TestCa::new();
    let server = H3Server::start(&ca.long_valid(), |request| match request.path() {
        "/old" => Response::redirect(301, "/new"),
        _ => Response::ok("moved here"),
    });
    let outcome = once_trusting(
        &ca,
        "",
        &[host(
            "moved",
            &server.url("/old"),
            &format!("{H3_TRUSTED}\nregex: 'moved here'"),
        )],
    );
    outcome.expect_code(0);
    assert_eq!(verdict(&outcome, "moved").0, "up", "{outcome}");
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(paths, ["/old", "/new"]);
}

// --- alt-svc --------------------------------------------------------------------------------

/// An HTTPS (HTTP/1.1) server answering `200 fine`, with `alt_svc` as its `Alt-Svc` header.
fn tcp_server(ca: &TestCa, alt_svc: Option<String>) -> TestServer {
    let tls = server_tls(&ca.long_valid(), &[b"http/1.1"]);
    TestServer::start_tls(tls, move |_, _| {
        let answer = Response::ok("fine");
        match &alt_svc {
            Some(value) => answer.header("Alt-Svc", value.clone()),
            None => answer,
        }
    })
}

#[test]
fn alt_svc_with_a_live_http3_endpoint_is_up_naming_both() {
    let ca = TestCa::new();
    let h3 = H3Server::always(&ca.long_valid(), Response::ok("fine"));
    let tcp = tcp_server(
        &ca,
        Some(format!("h3=\":{}\"; ma=86400, h3-29=\":1\"", h3.port())),
    );
    let outcome = once_trusting(&ca, "", &[host("edge", &tcp.url("/"), ALT_SVC_TRUSTED)]);
    outcome.expect_code(0);
    let (status, detail) = verdict(&outcome, "edge");
    assert_eq!(status, "up", "{outcome}");
    let prefix = format!(
        "status 200 over HTTP/1.1 and HTTP/3 (HTTP/3 at :{}: handshake ",
        h3.port()
    );
    assert!(
        detail.starts_with(&prefix),
        "{prefix:?} expected: {outcome}"
    );
    assert_eq!(tcp.requests().len(), 1);
    assert_eq!(h3.requests().len(), 1);
}

#[test]
fn alt_svc_advertising_a_port_without_udp_answer_is_degraded() {
    let ca = TestCa::new();
    let silent = SilentUdp::bind();
    let tcp = tcp_server(&ca, Some(format!("h3=\":{}\"", silent.port())));
    let outcome = once_trusting(
        &ca,
        "timeout: 4s",
        &[host("edge", &tcp.url("/"), ALT_SVC_TRUSTED)],
    );
    assert_eq!(
        verdict(&outcome, "edge"),
        (
            "degraded".into(),
            format!(
                "HTTP/3 advertised at :{} but no UDP answer within 2s; HTTP/1.1 answered status 200",
                silent.port()
            )
        ),
        "{outcome}"
    );
}

#[test]
fn alt_svc_without_an_advertisement_is_degraded() {
    let ca = TestCa::new();
    let tcp = tcp_server(&ca, None);
    let outcome = once_trusting(&ca, "", &[host("edge", &tcp.url("/"), ALT_SVC_TRUSTED)]);
    assert_eq!(
        verdict(&outcome, "edge"),
        (
            "degraded".into(),
            "no HTTP/3 advertised (the answer has no Alt-Svc header); HTTP/1.1 answered status 200"
                .into()
        ),
        "{outcome}"
    );
}

#[test]
fn alt_svc_with_a_failing_http3_answer_is_degraded_with_its_reason() {
    let ca = TestCa::new();
    let h3 = H3Server::always(&ca.long_valid(), Response::status(503));
    let tcp = tcp_server(&ca, Some(format!("h3=\":{}\"", h3.port())));
    let outcome = once_trusting(&ca, "", &[host("edge", &tcp.url("/"), ALT_SVC_TRUSTED)]);
    let (status, detail) = verdict(&outcome, "edge");
    assert_eq!(status, "degraded", "{outcome}");
    let prefix = format!("HTTP/3 at :{}: status 503 over HTTP/3, expected", h3.port());
    assert!(
        detail.starts_with(&prefix),
        "{prefix:?} expected: {outcome}"
    );
    assert!(
        detail.ends_with("; HTTP/1.1 answered status 200"),
        "{outcome}"
    );
}

// --- The daemon -----------------------------------------------------------------------------

#[test]
fn the_daemon_checks_over_http3_and_sees_a_stopped_server_down() {
    let ca = TestCa::new();
    let server = H3Server::always(&ca.long_valid(), Response::ok("fine"));
    let url = server.url("/");
    let config = document_serving(
        "listen: \"127.0.0.1:0\"",
        "",
        "interval: 400ms, timeout: 400ms, failure_threshold: 2",
        &[host("edge", &url, H3_TRUSTED)],
    );
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &ca.pem);
    sandbox.write("flowstate.yaml", &config);
    let mut daemon = sandbox.daemon("flowstate.yaml").start();
    let up = daemon.wait_for_status("edge", "up");
    let detail = up["last_check"]["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("status 200 over HTTP/3"), "{up}");

    drop(server);
    let down = daemon.wait_for_status("edge", "down");
    let detail = down["last_check"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("QUIC handshake with 127.0.0.1:"),
        "{down}"
    );
}
