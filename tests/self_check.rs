//! The dead man's switch: `self_check.url` is called while the daemon is healthy, and its
//! secret path never reaches the log.

use std::time::Duration;

use crate::common::server::{Response, TestServer};
use crate::common::start;
use crate::common::wait::wait_until;

const DEADLINE: Duration = Duration::from_secs(20);

fn config(ping_url: &str, target_url: &str) -> String {
    format!(
        "server: {{ listen: \"127.0.0.1:0\" }}\n\
         self_check: {{ url: '{ping_url}', every: 200ms }}\n\
         hosts:\n  - {{ label: api, url: '{target_url}', interval: 200ms }}\n"
    )
}

#[test]
fn self_check_pings_while_healthy() {
    let pings = TestServer::always(Response::ok("OK"));
    let target = TestServer::always(Response::ok("fine"));
    let (_sandbox, mut daemon) = start(&config(&pings.url("/ping/secret-uuid"), &target.url("/")));
    wait_until(DEADLINE, "three pings arrived", || {
        pings.requests().len() >= 3
    })
    .unwrap();
    assert!(pings
        .requests()
        .iter()
        .all(|r| r.method == "GET" && r.path() == "/ping/secret-uuid"));
    let exit = daemon.stop("TERM");
    assert_eq!(exit.code, Some(0), "{daemon}");
    assert!(
        !daemon.stderr().contains("secret-uuid"),
        "the ping URL's path is a credential and must not be logged:\n{daemon}"
    );
}

#[test]
fn a_failing_ping_is_logged_without_its_secret_path() {
    let pings = TestServer::always(Response::status(500));
    let target = TestServer::always(Response::ok("fine"));
    let (_sandbox, mut daemon) = start(&config(&pings.url("/ping/secret-uuid"), &target.url("/")));
    let line = daemon.wait_for_log("the failed ping is logged", |l| {
        l.contains("self check answered with an error status")
    });
    assert!(line.contains("status=500"), "{line}");
    assert!(!line.contains("secret-uuid"), "{line}");
}
