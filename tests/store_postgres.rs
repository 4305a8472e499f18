//! The daemon on a real PostgreSQL store (`state.url`): state survives a restart, and a
//! database that goes away for a while loses no result and holds up no alert.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::common::configs::{document_serving, host, ALERTS};
use crate::common::daemon::{start_at, CONFIG};
use crate::common::events::{kinds, wait_for_event};
use crate::common::hosts::checks;
use crate::common::postgres::Postgres;
use crate::common::switchable;
use crate::common::wait::wait_for;

/// Checks every 200 ms, one failure or success decides: a state change within a second.
const QUICK: &str = "interval: 200ms, timeout: 200ms, failure_threshold: 1, success_threshold: 1";

/// How long the writer waits before it tries a failed database again, plus room for the
/// batch after it.
const RECONNECT: Duration = Duration::from_secs(40);

fn config(url: &str, target: &str) -> String {
    document_serving(
        "listen: \"127.0.0.1:0\"",
        &format!("state: {{ url: '{url}' }}\n"),
        QUICK,
        &[host("api", target, "")],
    )
}

/// Rows of `table` for host `api`, counted in the database itself.
fn rows(server: &Postgres, table: &str) -> u64 {
    server
        .psql(
            "flowstate",
            &format!(
                "SELECT COUNT(*) FROM {table} t JOIN series_keys k ON k.id = t.host WHERE k.label = 'api'"
            ),
        )
        .parse()
        .unwrap_or(0)
}

#[test]
fn a_database_down_for_a_while_loses_no_result_and_delays_no_alert() {
    let server = Postgres::start();
    let url = server.database("flowstate");
    let (status, target) = switchable(200);
    let (sandbox, mut daemon) = start_at(CONFIG, &config(&url, &target.url("/")));
    daemon.wait_for_status("api", "up");
    wait_for(RECONNECT, "the first results are in the database", || {
        (rows(&server, "results") > 0).then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}\n{}", server.log()));

    server.pause();
    status.store(503, SeqCst);
    // Alerts do not wait for the database.
    let down = wait_for_event(&sandbox, &daemon, "down", "api");
    assert_eq!(down["status"], "down");
    // Ten seconds of checks (50 at 200 ms) while it is down.
    let during = checks(&daemon.host("api"));
    daemon.wait_for_checks("api", during + 50);
    status.store(200, SeqCst);
    daemon.wait_for_status("api", "up");
    server.resume();

    // Once back, every result and both transitions reach it: nothing was lost meanwhile.
    let ran = checks(&daemon.host("api"));
    wait_for(
        RECONNECT,
        "every result run so far is in the database",
        || (rows(&server, "results") >= ran).then_some(()),
    )
    .unwrap_or_else(|timed_out| {
        panic!(
            "{timed_out}: {} rows for {ran} checks\n{daemon}\n{}",
            rows(&server, "results"),
            server.log()
        )
    });
    let transitions = server.psql(
        "flowstate",
        "SELECT string_agg(status, ',' ORDER BY at_ms) FROM transitions",
    );
    assert_eq!(transitions, "up,down,up", "{daemon}");
    assert!(
        daemon
            .log_lines_with(&["state store write failed"])
            .iter()
            .any(|l| l.contains("postgres://postgres@127.0.0.1")),
        "the failure is logged with the database: {daemon}"
    );
    let events = sandbox.events(ALERTS);
    assert_eq!(kinds(&events), ["down", "up"], "{daemon}");
}

#[test]
fn state_and_history_survive_a_restart_on_postgres() {
    let server = Postgres::start();
    let url = server.database("flowstate");
    let (status, target) = switchable(503);
    let text = config(&url, &target.url("/"));
    let (sandbox, mut daemon) = start_at(CONFIG, &text);
    daemon.wait_for_status("api", "down");
    let before = checks(&daemon.wait_for_checks("api", 5));
    daemon.stop("TERM");
    assert!(rows(&server, "results") >= before, "saved at shutdown");

    // The restarted daemon knows the host is down: no second `down` alert, its history and
    // counters carry on, and the time it was stopped is a second run.
    let mut daemon = sandbox.daemon(CONFIG).start();
    let host = daemon.wait_for_checks("api", before + 3);
    assert_eq!(host["status"], "down");
    assert!(
        host["history"].as_array().is_some_and(|h| h.len() > 3),
        "{host}"
    );
    status.store(200, SeqCst);
    daemon.wait_for_status("api", "up");
    let runs: u64 = server
        .psql("flowstate", "SELECT COUNT(*) FROM runs")
        .parse()
        .unwrap_or(0);
    assert_eq!(runs, 2, "{daemon}");
    wait_for_event(&sandbox, &daemon, "up", "api");
    let events = sandbox.events(ALERTS);
    assert_eq!(
        kinds(&events),
        ["down", "up"],
        "one down alert over both runs"
    );
}
